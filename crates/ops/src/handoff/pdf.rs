//! The guide as a PDF: A4 pages, text in the standard fonts Helvetica and
//! Helvetica-Bold with WinAnsiEncoding (every PDF reader has them, so nothing is
//! embedded and accented Portuguese letters such as ã, ç and é come out as themselves,
//! also when the text is copied or extracted). Lines are wrapped with the fonts' own
//! glyph widths.

use super::guide::{Block, Guide};
use super::metrics::{HELVETICA, HELVETICA_BOLD};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 56.0;
const TOP: f32 = PAGE_H - MARGIN;
const BOTTOM: f32 = MARGIN + 24.0;
const WIDTH: f32 = PAGE_W - 2.0 * MARGIN;
const LABEL_W: f32 = 150.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");
const ACCENT: (f32, f32, f32) = (0.10, 0.30, 0.55);
const GREY: (f32, f32, f32) = (0.35, 0.35, 0.35);

/// Encodes text in WinAnsiEncoding (Windows-1252); characters outside it become `?`.
pub fn winansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| {
            let u = u32::from(c);
            match c {
                ' '..='~' | '\u{a0}'..='\u{ff}' => u8::try_from(u).unwrap_or(b'?'),
                '€' => 128,
                '‚' => 130,
                'ƒ' => 131,
                '„' => 132,
                '…' => 133,
                '†' => 134,
                '‡' => 135,
                'ˆ' => 136,
                '‰' => 137,
                'Š' => 138,
                '‹' => 139,
                'Œ' => 140,
                'Ž' => 142,
                '‘' => 145,
                '’' => 146,
                '“' => 147,
                '”' => 148,
                '•' => 149,
                '–' => 150,
                '—' => 151,
                '˜' => 152,
                '™' => 153,
                'š' => 154,
                '›' => 155,
                'œ' => 156,
                'ž' => 158,
                'Ÿ' => 159,
                _ => b'?',
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Face {
    Regular,
    Bold,
}

impl Face {
    fn name(self) -> Name<'static> {
        match self {
            Face::Regular => REGULAR,
            Face::Bold => BOLD,
        }
    }

    fn width(self, text: &str, size: f32) -> f32 {
        let table = match self {
            Face::Regular => &HELVETICA,
            Face::Bold => &HELVETICA_BOLD,
        };
        let units: u32 = winansi(text)
            .iter()
            .map(|b| {
                usize::from(*b)
                    .checked_sub(32)
                    .and_then(|i| table.get(i))
                    .copied()
                    .map_or(0, u32::from)
            })
            .sum();
        // Widths are at most a few thousand units per glyph; f32 is exact enough.
        #[allow(clippy::cast_precision_loss)]
        let units = units as f32;
        units * size / 1000.0
    }
}

/// Breaks `text` into lines no wider than `width`; a word wider than a line (a long
/// address) is cut between characters.
fn wrap(text: &str, face: Face, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if face.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if face.width(word, size) <= width {
            line = word.to_owned();
        } else {
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if face.width(&next, size) > width && !line.is_empty() {
                    lines.push(std::mem::replace(&mut line, c.to_string()));
                } else {
                    line = next;
                }
            }
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Writer {
    pages: Vec<Content>,
    y: f32,
}

impl Writer {
    fn new() -> Self {
        Self {
            pages: vec![Content::new()],
            y: TOP,
        }
    }

    fn page(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.pages.push(Content::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// Starts a new page unless `needed` points still fit on this one.
    fn room(&mut self, needed: f32) {
        if self.y - needed < BOTTOM {
            self.pages.push(Content::new());
            self.y = TOP;
        }
    }

    fn text_at(&mut self, x: f32, y: f32, face: Face, size: f32, color: (f32, f32, f32), s: &str) {
        let bytes = winansi(s);
        let page = self.page();
        page.set_fill_rgb(color.0, color.1, color.2);
        page.begin_text();
        page.set_font(face.name(), size);
        page.next_line(x, y);
        page.show(Str(&bytes));
        page.end_text();
    }

    /// Writes wrapped text at indent `x` (from the margin) in a column `width` wide.
    fn lines(
        &mut self,
        x: f32,
        width: f32,
        face: Face,
        size: f32,
        color: (f32, f32, f32),
        s: &str,
    ) {
        let leading = size * 1.4;
        for line in wrap(s, face, size, width) {
            self.room(leading);
            self.y -= leading;
            self.text_at(MARGIN + x, self.y + size * 0.25, face, size, color, &line);
        }
    }

    fn rule(&mut self, color: (f32, f32, f32)) {
        let y = self.y;
        let page = self.page();
        page.set_stroke_rgb(color.0, color.1, color.2);
        page.set_line_width(0.8);
        page.move_to(MARGIN, y);
        page.line_to(PAGE_W - MARGIN, y);
        page.stroke();
    }

    fn list(&mut self, items: &[String], numbered: bool) {
        for (n, item) in items.iter().enumerate() {
            let marker = if numbered {
                format!("{}.", n + 1)
            } else {
                "•".to_owned()
            };
            let lines = wrap(item, Face::Regular, 10.0, WIDTH - 18.0);
            for (k, line) in lines.iter().enumerate() {
                self.room(14.0);
                self.y -= 14.0;
                if k == 0 {
                    self.text_at(
                        MARGIN + 2.0,
                        self.y + 2.5,
                        Face::Bold,
                        10.0,
                        ACCENT,
                        &marker,
                    );
                }
                self.text_at(
                    MARGIN + 18.0,
                    self.y + 2.5,
                    Face::Regular,
                    10.0,
                    (0.0, 0.0, 0.0),
                    line,
                );
            }
            self.y -= 3.0;
        }
    }

    fn facts(&mut self, rows: &[(String, String)]) {
        for (label, value) in rows {
            let left = wrap(label, Face::Bold, 9.5, LABEL_W - 10.0);
            let right = wrap(value, Face::Regular, 10.0, WIDTH - LABEL_W);
            let n = left.len().max(right.len()).max(1);
            #[allow(clippy::cast_precision_loss)]
            let height = n as f32 * 14.0 + 4.0;
            self.room(height);
            let top = self.y;
            for (k, line) in left.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let y = top - 14.0 * (k as f32 + 1.0) + 2.5;
                self.text_at(MARGIN, y, Face::Bold, 9.5, GREY, line);
            }
            for (k, line) in right.iter().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let y = top - 14.0 * (k as f32 + 1.0) + 2.5;
                self.text_at(
                    MARGIN + LABEL_W,
                    y,
                    Face::Regular,
                    10.0,
                    (0.0, 0.0, 0.0),
                    line,
                );
            }
            self.y = top - height;
            let y = self.y + 1.5;
            let page = self.page();
            page.set_stroke_rgb(0.85, 0.85, 0.85);
            page.set_line_width(0.5);
            page.move_to(MARGIN, y);
            page.line_to(PAGE_W - MARGIN, y);
            page.stroke();
        }
    }
}

/// Renders the guide as PDF bytes.
pub fn render(guide: &Guide) -> Vec<u8> {
    let mut w = Writer::new();
    w.lines(0.0, WIDTH, Face::Bold, 20.0, ACCENT, &guide.title);
    w.y -= 2.0;
    w.lines(0.0, WIDTH, Face::Regular, 10.5, GREY, &guide.subtitle);
    w.y -= 6.0;
    w.rule(ACCENT);
    for section in &guide.sections {
        w.room(60.0);
        w.y -= 12.0;
        w.lines(0.0, WIDTH, Face::Bold, 14.0, ACCENT, &section.title);
        w.y -= 4.0;
        for block in &section.blocks {
            match block {
                Block::Para(text) => {
                    w.lines(0.0, WIDTH, Face::Regular, 10.0, (0.0, 0.0, 0.0), text);
                    w.y -= 5.0;
                }
                Block::Sub(text) => {
                    w.room(40.0);
                    w.y -= 4.0;
                    w.lines(0.0, WIDTH, Face::Bold, 11.0, (0.0, 0.0, 0.0), text);
                }
                Block::Bullets(items) => w.list(items, false),
                Block::Steps(items) => w.list(items, true),
                Block::Facts(rows) => {
                    w.facts(rows);
                    w.y -= 6.0;
                }
                Block::Qa(q, a) => {
                    w.room(40.0);
                    w.lines(0.0, WIDTH, Face::Bold, 10.0, (0.0, 0.0, 0.0), q);
                    w.lines(0.0, WIDTH, Face::Regular, 10.0, (0.0, 0.0, 0.0), a);
                    w.y -= 7.0;
                }
            }
        }
    }

    let total = w.pages.len();
    let mut pdf = Pdf::new();
    let catalog_id = Ref::new(1);
    let tree_id = Ref::new(2);
    let regular_id = Ref::new(3);
    let bold_id = Ref::new(4);
    let info_id = Ref::new(5);
    let mut next = 6;
    let mut page_ids = Vec::with_capacity(total);
    let mut content_ids = Vec::with_capacity(total);
    for _ in 0..total {
        page_ids.push(Ref::new(next));
        content_ids.push(Ref::new(next + 1));
        next += 2;
    }
    pdf.catalog(catalog_id).pages(tree_id);
    pdf.pages(tree_id)
        .kids(page_ids.iter().copied())
        .count(i32::try_from(total).unwrap_or(i32::MAX));
    pdf.type1_font(regular_id)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.type1_font(bold_id)
        .base_font(Name(b"Helvetica-Bold"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.document_info(info_id)
        .title(TextStr(&guide.title))
        .producer(TextStr("loyalty"));

    for (n, mut content) in w.pages.into_iter().enumerate() {
        let footer = format!("{}   {}/{}", guide.footer, n + 1, total);
        let bytes = winansi(&footer);
        content.set_fill_rgb(GREY.0, GREY.1, GREY.2);
        content.begin_text();
        content.set_font(REGULAR, 8.0);
        content.next_line(MARGIN, MARGIN - 4.0);
        content.show(Str(&bytes));
        content.end_text();
        let mut page = pdf.page(page_ids[n]);
        page.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H));
        page.parent(tree_id);
        page.contents(content_ids[n]);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(REGULAR, regular_id)
            .pair(BOLD, bold_id);
        resources.finish();
        page.finish();
        pdf.stream(content_ids[n], &content.finish());
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portuguese_letters_are_single_winansi_bytes() {
        assert_eq!(winansi("ãçé•€"), vec![0xe3, 0xe7, 0xe9, 149, 128]);
        assert_eq!(winansi("→"), b"?".to_vec());
    }

    #[test]
    fn lines_fit_the_width_and_long_words_are_cut() {
        let lines = wrap("aaaa bbbb cccc", Face::Regular, 10.0, 50.0);
        assert_eq!(lines, ["aaaa bbbb", "cccc"]);
        let long = "x".repeat(100);
        let lines = wrap(&long, Face::Regular, 10.0, 100.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| Face::Regular.width(l, 10.0) <= 100.0));
        assert_eq!(lines.concat(), long);
    }
}
