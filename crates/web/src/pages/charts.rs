//! Charts as server-rendered SVG (no script, no inline style: the CSP holds), scaled to
//! the width of the page so they read on a phone. Every chart goes with a table of its
//! numbers in the template, for screen readers and for anyone who wants the figures.

use super::i18n::Lang;
use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 8.0;

/// One series of a chart: its name (already translated), colour and values.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'static str,
    pub values: Vec<i64>,
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A short day label: `Dec 5` or `05/12`.
pub fn day_label(lang: Lang, d: time::Date) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = u8::from(d.month());
    match lang {
        Lang::En => format!(
            "{} {}",
            MONTHS.get(usize::from(m) - 1).copied().unwrap_or(""),
            d.day()
        ),
        Lang::PtBr => format!("{:02}/{m:02}", d.day()),
    }
}

/// Grouped bars, one group per label (day), one bar per series, with the largest value
/// on the axis and the first, middle and last labels under it.
pub fn bars(lang: Lang, id: &str, title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let n = labels.len().max(1) as f64;
    let plot_w = WIDTH - LEFT - 4.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n;
    let bar_w = (slot * 0.8 / series.len().max(1) as f64).max(0.5);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-title" preserveAspectRatio="xMidYMid meet"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    let base = TOP + plot_h;
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{base}" x2="{}" y2="{base}" stroke="#888" stroke-width="1"/><line x1="{LEFT}" y1="{TOP}" x2="{}" y2="{TOP}" stroke="#ddd" stroke-width="1"/>"##,
        WIDTH - 4.0,
        WIDTH - 4.0
    );
    let _ = write!(
        svg,
        r##"<text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text><text x="{}" y="{base}" font-size="11" text-anchor="end" fill="#555">0</text>"##,
        LEFT - 4.0,
        TOP + 10.0,
        esc(&lang.int(max)),
        LEFT - 4.0
    );
    for (i, s) in series.iter().enumerate() {
        for (j, v) in s.values.iter().enumerate() {
            if *v <= 0 {
                continue;
            }
            let h = (*v as f64 / max as f64) * plot_h;
            let x = LEFT + j as f64 * slot + slot * 0.1 + i as f64 * bar_w;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{}"><title>{} {}: {}</title></rect>"#,
                base - h,
                s.colour,
                esc(labels.get(j).map(String::as_str).unwrap_or("")),
                esc(s.name),
                esc(&lang.int(*v))
            );
        }
    }
    let picks = [0, labels.len() / 2, labels.len().saturating_sub(1)];
    for (k, j) in picks.iter().enumerate() {
        if let Some(l) = labels.get(*j) {
            let x = LEFT + *j as f64 * slot + slot / 2.0;
            let anchor = ["start", "middle", "end"][k];
            let _ = write!(
                svg,
                r##"<text x="{x:.1}" y="{}" font-size="11" text-anchor="{anchor}" fill="#555">{}</text>"##,
                HEIGHT - 6.0,
                esc(l)
            );
        }
    }
    // The legend.
    let mut lx = LEFT + 4.0;
    for s in series {
        let _ = write!(
            svg,
            r##"<rect x="{lx:.1}" y="{}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{}" font-size="11" fill="#333">{}</text>"##,
            TOP + 2.0,
            s.colour,
            lx + 14.0,
            TOP + 11.0,
            esc(s.name)
        );
        lx += 24.0 + 7.0 * s.name.chars().count() as f64;
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per (label, value), largest first as given.
pub fn hbars(lang: Lang, id: &str, title: &str, rows: &[(String, i64)], colour: &str) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let row_h = 22.0;
    let height = (rows.len().max(1) as f64) * row_h + 8.0;
    let label_w = 200.0;
    let plot_w = WIDTH - label_w - 60.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" id="{id}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{id}-title" preserveAspectRatio="xMidYMid meet"><title id="{id}-title">{}</title>"#,
        esc(title)
    );
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = (*v as f64 / max as f64) * plot_w;
        let short: String = label.chars().take(28).collect();
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="12" text-anchor="end" fill="#333">{}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="{}" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#333">{}</text>"##,
            label_w - 6.0,
            y + 14.0,
            esc(&short),
            row_h - 6.0,
            label_w + w + 4.0,
            y + 14.0,
            esc(&lang.int(*v))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_names_and_carry_no_script_or_style() {
        let labels = vec!["Jan 1".to_owned(), "Jan 2".to_owned()];
        let svg = bars(
            Lang::En,
            "c",
            "Points <per> day",
            &labels,
            &[Series {
                name: "issued",
                colour: "#2a6f97",
                values: vec![5, 10],
            }],
        );
        assert!(svg.contains("Points &lt;per&gt; day"));
        assert!(!svg.contains("<script") && !svg.contains("style="));
        let svg = hbars(
            Lang::PtBr,
            "r",
            "Rewards",
            &[("Café & pão".into(), 1234)],
            "#000",
        );
        assert!(
            svg.contains("Café &amp; pão") && svg.contains("1.234"),
            "{svg}"
        );
    }
}
