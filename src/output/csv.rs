//! CSV that a desk's spreadsheet opens correctly as it is (issue 14, issue 15 point 4).
//!
//! The readers are Excel and WPS on Windows in a Chinese locale, opened by a double
//! click, with no import dialog. What that needs, and why:
//!
//! - **UTF-8 with a byte-order mark.** Without a BOM, Excel reads a CSV in the
//!   locale's ANSI code page (CP936, i.e. GBK) and shows UTF-8 names as mojibake; with
//!   the BOM, Excel (2007 and later) and WPS read UTF-8. GBK was the other choice; it
//!   was refused because it cannot hold every name on a card: the card's name field
//!   has an extension part precisely for characters outside GB 2312/GBK (rare
//!   characters in names, spec/cards.md), and an export that silently replaces them
//!   is worse than none. UTF-8 holds every name; the BOM is the one byte sequence
//!   other CSV readers (Python's `utf-8-sig`, LibreOffice, pandas) also understand.
//! - **Identifiers kept as text** ([`Cell::Id`]): an 18-digit citizen ID, a 12-digit
//!   terminal number or a card number is a number to a spreadsheet, which shows
//!   `1.10101E+17` and keeps 15 significant digits (the last three are lost when the
//!   file is saved back). Quoting does not help; the field is written as the formula
//!   `="110101199003078515"`, which Excel and WPS show as the text itself. Every
//!   identifier column gets this, whatever its content, so a column is uniform.
//! - **Text that looks like a formula** ([`Cell::Text`]) beginning with `=`, `+`,
//!   `-` or `@` is prefixed with `'` (OWASP's guard against CSV injection): a holder
//!   name or note never runs as a formula.
//! - **Numbers** ([`Cell::Number`]) as plain digits (amounts in fen, and in yuan
//!   with two decimals, which a spreadsheet sums); **dates** as local
//!   `YYYY-MM-DD HH:MM:SS`, which Excel and WPS recognise as a date and time (the
//!   `T` and the offset of RFC 3339 make them text). The offset goes in a column of
//!   its own.
//! - Line ends `\r\n`, as spreadsheets on Windows write them. Quoting and escaping
//!   are the `csv` crate's.

use crate::error::Error;
use std::io::Write;

/// The UTF-8 byte-order mark that tells Excel and WPS the file is UTF-8.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One cell, by what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// An identifier made of digits or letters: kept as text (`="…"`).
    Id(String),
    /// Free text (names, notes): guarded against formulas.
    Text(String),
    /// A number or a date a spreadsheet should read as one.
    Number(String),
    /// Nothing.
    Empty,
}

impl Cell {
    /// An optional identifier.
    pub fn id(v: Option<&str>) -> Cell {
        match v {
            Some(s) if !s.is_empty() => Cell::Id(s.to_string()),
            _ => Cell::Empty,
        }
    }

    /// The field as written (before the CSV quoting).
    pub fn field(&self) -> String {
        match self {
            Cell::Id(s) => format!("=\"{}\"", s.replace('"', "")),
            // OWASP's formula-injection set: a tab or carriage return can lead a
            // formula too.
            Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
            Cell::Text(s) | Cell::Number(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }
}

/// Writes a spreadsheet CSV: BOM, header, rows.
///
/// # Errors
/// [`Error::Io`] when `out` fails (`what` names it in the message); a closed pipe
/// ends the process quietly ([`super::stdout_error`]).
pub fn write<W: Write>(
    mut out: W,
    what: &str,
    header: &[&str],
    rows: impl IntoIterator<Item = Vec<Cell>>,
) -> Result<(), Error> {
    let io = |source: std::io::Error| super::stdout_error(what, source);
    let from_csv = |e: ::csv::Error| match e.into_kind() {
        ::csv::ErrorKind::Io(source) => io(source),
        other => Error::InvalidData(format!("CSV: {other:?}")),
    };
    out.write_all(BOM).map_err(io)?;
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(out);
    w.write_record(header).map_err(from_csv)?;
    for row in rows {
        w.write_record(row.iter().map(Cell::field))
            .map_err(from_csv)?;
    }
    w.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_starts_with_the_bom_and_keeps_ids_as_text() {
        let mut buf = Vec::new();
        write(
            &mut buf,
            "test",
            &["citizen_id", "name", "fen", "note"],
            [vec![
                Cell::Id("110101199003078515".into()),
                Cell::Text("张三, \"小\"".into()),
                Cell::Number("123456".into()),
                Cell::Text("=HYPERLINK(\"x\")".into()),
            ]],
        )
        .unwrap();
        assert!(buf.starts_with(BOM));
        let text = String::from_utf8(buf[3..].to_vec()).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next(), Some("citizen_id,name,fen,note"));
        assert_eq!(
            lines.next(),
            Some("\"=\"\"110101199003078515\"\"\",\"张三, \"\"小\"\"\",123456,\"'=HYPERLINK(\"\"x\"\")\"")
        );
        // Read back with the csv crate: the values are what a spreadsheet evaluates.
        let mut r = ::csv::Reader::from_reader(&buf[3..]);
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[0], "=\"110101199003078515\"");
        assert_eq!(&rec[1], "张三, \"小\"");
    }

    #[test]
    fn empty_ids_stay_empty() {
        assert_eq!(Cell::id(None).field(), "");
        assert_eq!(Cell::id(Some("")).field(), "");
        assert_eq!(Cell::id(Some("0001")).field(), "=\"0001\"");
        assert_eq!(Cell::Text("-5".into()).field(), "'-5");
        assert_eq!(Cell::Text("\t=1+1".into()).field(), "'\t=1+1");
        assert_eq!(Cell::Text("\r=1+1".into()).field(), "'\r=1+1");
    }
}
