//! The desk's two touches of the centre, called from `sscard activate`: an advisory
//! look before a cancel or resume, and a background push after every flow.
//!
//! Why a guard: [`Desk::start`] runs before the flow (the advisory), and dropping the
//! guard, however the flow ended (done, refused, failed), starts the push. Neither can
//! delay or fail the flow: the look is bounded by [`ADVISORY_WAIT`] on a thread of its
//! own, its failures only printed; the push is a detached child process.

use super::{push, query, FleetConfig, Target};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the desk waits for the centre's answer before a cancel or resume.
pub const ADVISORY_WAIT: Duration = Duration::from_secs(3);

/// The fleet side of one flow; `None` inside when the desk has no `[fleet]`.
pub struct Desk {
    push: Option<(Option<PathBuf>, PathBuf)>,
}

impl Desk {
    /// Before a flow: when the desk has a `[fleet]` section and `transfer` is the
    /// transfer about to be cancelled or resumed, prints (stderr) what other desks
    /// saw of it. Never fails.
    pub fn start(
        fleet: Option<&FleetConfig>,
        config_path: Option<&Path>,
        journal: &Path,
        terminal: Option<&str>,
        transfer: Option<&str>,
    ) -> Desk {
        let Some(f) = fleet else {
            return Desk { push: None };
        };
        if let Some(id) = transfer {
            if let Some(text) = advisory(f, id, terminal) {
                eprintln!("{text}");
            }
        }
        Desk {
            push: Some((config_path.map(Path::to_path_buf), journal.to_path_buf())),
        }
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        if let Some((config, journal)) = &self.push {
            if journal.exists() {
                push::spawn_background(config.as_deref(), journal);
            }
        }
    }
}

/// What other desks saw of `id`, or a line saying the centre could not be asked;
/// `None` when no other desk saw it.
pub fn advisory(f: &FleetConfig, id: &str, own: Option<&str>) -> Option<String> {
    let mut target = Target::from_config(f);
    target.connect_timeout = ADVISORY_WAIT;
    let id = id.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = target
            .connect()
            .and_then(|mut c| query::lookup(&mut c, &id));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(ADVISORY_WAIT) {
        Ok(Ok(seen)) => query::advisory(&seen, own),
        Ok(Err(e)) => Some(format!("fleet centre not consulted: {e}")),
        Err(_) => Some(format!(
            "fleet centre not consulted: no answer within {} s",
            ADVISORY_WAIT.as_secs()
        )),
    }
}
