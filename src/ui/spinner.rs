//! The spinner shown while the desk waits for a card (or for the card service).
//!
//! Waiting is where a desk worker wonders whether the terminal hangs: the spinner
//! moves, names the reader the card must go into, and counts down the time left
//! before the flow gives up. It runs on indicatif's own ticker thread, because the
//! flow's thread is blocked in pcscd (`SCardGetStatusChange`) while it waits. It
//! starts on an insert/remove instruction and stops at the next message.

use super::i18n::Lang;
use super::style::Paint;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::time::Duration;

/// A spinner line on stderr (or nothing).
#[derive(Default)]
pub struct Spinner {
    bar: Option<ProgressBar>,
}

/// "118 s left" / "剩余 118 秒".
pub fn time_left(lang: Lang, left: Duration) -> String {
    let s = left.as_secs();
    match lang {
        Lang::En => format!("{s} s left"),
        Lang::Zh => format!("剩余 {s} 秒"),
    }
}

impl Spinner {
    /// Starts spinning with `text`, counting down from `timeout` when given. A spinner
    /// already running is replaced.
    pub fn start(&mut self, paint: Paint, lang: Lang, text: String, timeout: Option<Duration>) {
        self.stop();
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        let template = match timeout {
            Some(_) => format!("{{spinner{}}} {{msg}} · {{left}}", paint.spinner_color()),
            None => format!("{{spinner{}}} {{msg}}", paint.spinner_color()),
        };
        let limit = timeout.unwrap_or_default();
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
            .with_key(
                "left",
                move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = w.write_str(&time_left(lang, limit.saturating_sub(state.elapsed())));
                },
            );
        bar.set_style(style);
        bar.set_message(text);
        bar.enable_steady_tick(Duration::from_millis(120));
        self.bar = Some(bar);
    }

    /// Whether a spinner is running.
    pub fn running(&self) -> bool {
        self.bar.is_some()
    }

    /// Stops and erases the spinner line.
    pub fn stop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_down_in_both_languages() {
        assert_eq!(time_left(Lang::En, Duration::from_secs(118)), "118 s left");
        assert_eq!(
            time_left(Lang::Zh, Duration::from_millis(5900)),
            "剩余 5 秒"
        );
    }
}
