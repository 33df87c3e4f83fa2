//! Colors and symbols of the guided screen, and when to use them.
//!
//! Color is a help, never the only signal: every colored line also carries a symbol
//! or a word, so a monochrome terminal, a screen reader or `NO_COLOR` lose nothing.
//! Whether to style is `anstream`'s decision, the one the Rust CLI ecosystem shares
//! (clap, cargo): `NO_COLOR` (any non-empty value, see no-color.org) turns all
//! styling off, as do `CLICOLOR=0`, `TERM=dumb` and a stderr that is not a terminal;
//! `CLICOLOR_FORCE=1` turns it on (for a recording), but never over `NO_COLOR`. The
//! styles are `anstyle` values, rendered as ANSI SGR sequences.

/// How text is styled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    /// Whether ANSI styling is written.
    pub color: bool,
}

/// What a piece of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Done, success.
    Good,
    /// What to do now.
    Action,
    /// Needs attention, but the flow goes on.
    Warn,
    /// Stopped.
    Bad,
    /// Secondary (pending steps, technical details).
    Dim,
    /// Titles.
    Title,
}

impl Paint {
    /// Styling for stderr: as [`anstream::AutoStream::choice`] decides for it (see
    /// the module doc).
    pub fn for_stderr() -> Paint {
        Paint::from_choice(anstream::AutoStream::choice(&std::io::stderr()))
    }

    /// Styling for an `anstream` decision: any but `Never` styles.
    pub fn from_choice(choice: anstream::ColorChoice) -> Paint {
        Paint {
            color: choice != anstream::ColorChoice::Never,
        }
    }

    /// The style of `tone`.
    pub fn style(tone: Tone) -> anstyle::Style {
        use anstyle::{AnsiColor, Style};
        match tone {
            Tone::Good => AnsiColor::Green.on_default(),
            Tone::Action => AnsiColor::Cyan.on_default().bold(),
            Tone::Warn => AnsiColor::Yellow.on_default(),
            Tone::Bad => AnsiColor::Red.on_default().bold(),
            Tone::Dim => Style::new().dimmed(),
            Tone::Title => Style::new().bold(),
        }
    }

    /// `text` in `tone`.
    pub fn paint(self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let style = Paint::style(tone);
        format!("{style}{text}{style:#}")
    }

    /// The indicatif style suffix for the spinner (`:.cyan` as in `{spinner:.cyan}`), empty without color.
    pub fn spinner_color(self) -> &'static str {
        if self.color {
            ":.cyan"
        } else {
            ""
        }
    }
}

/// Marks of the step list and the instruction line.
pub mod mark {
    /// A finished step.
    pub const DONE: &str = "✔";
    /// The step in progress.
    pub const NOW: &str = "▶";
    /// A step to come.
    pub const TODO: &str = "·";
    /// A step that stopped.
    pub const FAILED: &str = "✘";
    /// What the desk must do now.
    pub const DO: &str = "➜";
    /// A warning the flow survives.
    pub const WARN: &str = "⚠";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styles_are_ansi_only_when_chosen() {
        let plain = Paint::from_choice(anstream::ColorChoice::Never);
        assert_eq!(plain.paint(Tone::Bad, "x"), "x");
        let c = Paint::from_choice(anstream::ColorChoice::Always);
        assert_eq!(c.paint(Tone::Good, "x"), "\x1b[32mx\x1b[0m");
        assert_eq!(c.paint(Tone::Title, "x"), "\x1b[1mx\x1b[0m");
        let bad = c.paint(Tone::Bad, "x");
        assert!(bad.contains("31m") && bad.contains("1m"), "{bad:?}");
        // What is styled still reads the same once the escapes are stripped.
        assert_eq!(anstream::adapter::strip_str(&bad).to_string(), "x");
    }
}
