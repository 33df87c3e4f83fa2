//! Text from files and other machines made safe to print on a terminal.
//!
//! Why: a journal is a file on the desk, and the centre's rows come from every desk;
//! either may have been tampered with. Printed raw, an `ESC` in a holder's name or a
//! note is a terminal escape sequence: it can clear the screen, rewrite earlier lines
//! (a FROZEN shown as COMPLETE), set the window title, or on some terminals answer
//! back into the shell's input. Bidirectional overrides (U+202E and kin) reorder what
//! is shown without any escape ("Trojan Source", CVE-2021-42574). So text output shows
//! such characters as visible escapes, the way Rust's `{:?}` does: `\u{1b}`, and a
//! backslash as `\\` so an escape shown can never be mistaken for text that merely
//! looks like one. JSON needs none of this (serde_json escapes control characters;
//! bidi characters arrive intact for a program, which is what it asked for), nor do
//! CSV cells, which a spreadsheet shows as text.

use std::borrow::Cow;

/// Whether `c` is shown as an escape: control characters (C0, DEL, C1: Unicode's
/// `Cc`), the bidirectional formatting characters (U+061C, U+200E/U+200F,
/// U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators
/// (U+2028/U+2029).
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `text` as it may be printed on a terminal: control characters (C0, DEL, C1), the
/// bidirectional formatting characters (U+061C, U+200E/U+200F, U+202A–U+202E,
/// U+2066–U+2069) and U+2028/U+2029 as `\u{..}` (hex, lower case, as Rust writes
/// them), a backslash as `\\`; everything else (Chinese names included) unchanged.
/// Borrowed when nothing needs escaping.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(|c| c == '\\' || hidden(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else if hidden(c) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_bidi_and_backslash_and_keeps_the_rest() {
        assert!(matches!(visible("张三 X00000019"), Cow::Borrowed(_)));
        assert_eq!(visible("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(
            visible("x\ny\rz\t\u{7f}\u{9b}"),
            "x\\u{a}y\\u{d}z\\u{9}\\u{7f}\\u{9b}"
        );
        assert_eq!(visible("\u{202e}evil"), "\\u{202e}evil");
        assert_eq!(visible("\u{2066}\u{2069}"), "\\u{2066}\\u{2069}");
        // A backslash is doubled, so the text "\u{1b}" is not shown as an escape.
        assert_eq!(visible("\\u{1b}"), "\\\\u{1b}");
        // Nothing printed contains a control character, whatever the input.
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let shown = visible(&all);
        assert!(!shown.chars().any(hidden), "{shown}");
    }
}
