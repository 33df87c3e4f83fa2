//! Colors and symbols of the guided screen, and when to use them.
//!
//! Color is a help, never the only signal: every colored line also carries a symbol
//! or a word, so a monochrome terminal, a screen reader or `NO_COLOR` lose nothing.
//! `NO_COLOR` (any non-empty value, see no-color.org) turns all styling off; so does
//! `TERM=dumb`. Styling is written as plain ANSI SGR sequences: every terminal a desk
//! uses understands them, and a dependency for six codes is not worth it.

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

/// Whether the environment allows color on a terminal: `NO_COLOR` unset or empty and
/// `TERM` not `dumb`.
pub fn color_allowed(get: impl Fn(&str) -> Option<String>) -> bool {
    let no_color = get("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = get("TERM").is_some_and(|t| t == "dumb");
    !no_color && !dumb
}

impl Paint {
    /// Styling for stderr: only on a terminal, and only when the environment allows.
    pub fn for_stderr() -> Paint {
        use std::io::IsTerminal;
        Paint {
            color: std::io::stderr().is_terminal() && color_allowed(|k| std::env::var(k).ok()),
        }
    }

    /// `text` in `tone`.
    pub fn paint(self, tone: Tone, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let sgr = match tone {
            Tone::Good => "32",
            Tone::Action => "1;36",
            Tone::Warn => "33",
            Tone::Bad => "1;31",
            Tone::Dim => "2",
            Tone::Title => "1",
        };
        format!("\x1b[{sgr}m{text}\x1b[0m")
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
    fn no_color_and_dumb_terminals_turn_styling_off() {
        let env = |pairs: Vec<(&'static str, &'static str)>| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(color_allowed(env(vec![("TERM", "xterm")])));
        assert!(!color_allowed(env(vec![("NO_COLOR", "1")])));
        assert!(color_allowed(env(vec![("NO_COLOR", "")])));
        assert!(!color_allowed(env(vec![("TERM", "dumb")])));
        let plain = Paint { color: false };
        assert_eq!(plain.paint(Tone::Bad, "x"), "x");
        let c = Paint { color: true };
        assert_eq!(c.paint(Tone::Good, "x"), "\x1b[32mx\x1b[0m");
    }
}
