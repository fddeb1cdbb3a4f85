//! Command output: every line a command prints goes through [`write_stdout`] (the
//! `out!` and `outln!` macros), which stops the program quietly when the reader went away
//! (`loyalty org list | head`); plain-text tables for people; `--json` elsewhere is for
//! scripts.

use std::io::{ErrorKind, Write};

/// Like `print!`, through [`write_stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// Like `println!`, through [`write_stdout`].
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to standard output and flushes. When the reader has gone (a closed pipe, as
/// with `| head`), nobody wants the rest: the program ends at once with status 0 and
/// says nothing, instead of `println!`'s panic. Any other write failure (a full disk
/// behind a redirection) ends it with status 1 and a message on standard error. Command
/// output is printed after the command's work is done, so stopping here loses no change.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

/// Renders rows under headers with columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// A timestamp for people: `2025-01-23 14:05 UTC` (written where the doctor writes it too).
pub use loyalty_ops::when;

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let t = super::table(
            &["SLUG", "NAME"],
            &[
                vec!["nextdoor".into(), "NextDoor Market".into()],
                vec!["a1".into(), "A".into()],
            ],
        );
        assert_eq!(
            t,
            "SLUG      NAME\nnextdoor  NextDoor Market\na1        A\n"
        );
    }
}
