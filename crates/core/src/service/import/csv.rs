//! Reading a spreadsheet's CSV: a UTF-8 byte order mark is dropped, the separator is
//! `;` (as pt-BR Excel saves) or `,`, whichever the header line has more of; fields may
//! be quoted with `"` (a doubled `""` inside is one quote, and may span lines).

/// One record of the file: the line it starts on (1 for the header) and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Line number where the record starts (1-based).
    pub line: usize,
    /// Fields, as written (quotes removed).
    pub fields: Vec<String>,
    /// Byte offset in the file just after the record.
    pub end: usize,
}

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    /// Line where it starts.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The file's text without its byte order mark, or the line of the first byte that is
/// not UTF-8.
pub fn text(bytes: &[u8]) -> Result<&str, usize> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    })
}

/// The separator the header line uses most: `;` or `,`.
pub fn separator(text: &str) -> char {
    let header = text.lines().next().unwrap_or_default();
    let semis = header.matches(';').count();
    let commas = header.matches(',').count();
    if semis > commas { ';' } else { ',' }
}

/// Splits `text` into records; blank lines are skipped. A record with an unterminated
/// quote ends the file as a [`BadRecord`].
pub fn records(text: &str, sep: char) -> (Vec<Record>, Option<BadRecord>) {
    let mut out = Vec::new();
    let mut line = 1;
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut start_line = 1;
    let mut any = false;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek().map(|(_, n)| *n) == Some('"') {
                    field.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                any = true;
            }
            c if c == sep => {
                fields.push(std::mem::take(&mut field));
                any = true;
            }
            '\r' if chars.peek().map(|(_, n)| *n) == Some('\n') => {}
            '\n' => {
                if any || !field.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    out.push(Record {
                        line: start_line,
                        fields: std::mem::take(&mut fields),
                        end: i + 1,
                    });
                }
                any = false;
                line += 1;
                start_line = line;
            }
            c => {
                field.push(c);
                any = true;
            }
        }
    }
    if in_quotes {
        return (
            out,
            Some(BadRecord {
                line: start_line,
                message: "a quoted field is never closed; add the closing \"".into(),
            }),
        );
    }
    if any || !field.is_empty() {
        fields.push(field);
        out.push(Record {
            line: start_line,
            fields,
            end: text.len(),
        });
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quotes_separators_and_the_bom() {
        let bytes =
            "\u{feff}nome;e-mail\r\n\"Silva; Ana\";ana@x.com\r\n\r\n\"Bo \"\"B\"\"\nSmith\";\n"
                .as_bytes();
        let t = text(bytes).expect("utf-8");
        assert_eq!(separator(t), ';');
        let (recs, bad) = records(t, ';');
        assert_eq!(bad, None);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].fields, vec!["Silva; Ana", "ana@x.com"]);
        assert_eq!(recs[1].line, 2);
        assert_eq!(recs[2].fields, vec!["Bo \"B\"\nSmith", ""]);
        assert_eq!(recs[2].line, 4);
    }

    #[test]
    fn an_open_quote_is_reported_with_its_line() {
        let (recs, bad) = records("a,b\n1,2\n\"3,4\n", ',');
        assert_eq!(recs.len(), 2);
        assert_eq!(bad.map(|b| b.line), Some(3));
    }
}
