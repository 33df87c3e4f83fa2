//! What keeps a push from hanging or running twice (issue 13, review rev13 F2): the
//! journal's push lock and the watchdog of [`super::push_to`].
//!
//! Why a watchdog that ends the process rather than timeouts alone: a centre that
//! accepts the connection and never answers gives the client nothing to time out on
//! (the server's kernel answers TCP keepalives; the synchronous client has no read
//! timeout), and one such push was left behind by every flow. Ending a push at any
//! point loses nothing (the watermark moves only after the centre committed).

use super::FleetError;
use std::path::Path;
use std::time::Duration;

/// The longest a whole [`super::push_to`] may take before its watchdog ends the process
/// (exit 17): a backlog bigger than one deadline's worth goes in several pushes.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// The environment variable that overrides [`DEFAULT_DEADLINE`] (whole seconds, 1 or
/// more).
pub const DEADLINE_ENV: &str = "SSCARD_FLEET_PUSH_DEADLINE";

/// The lock file of `journal`'s pushes: `<journal>.push.lock`.
pub fn lock_path(journal: &Path) -> std::path::PathBuf {
    let mut p = journal.as_os_str().to_owned();
    p.push(".push.lock");
    p.into()
}

/// Takes the push lock of `journal` (an exclusive, non-blocking `flock` on
/// [`lock_path`], released by the kernel when the file is closed or the process
/// ends, however it ends): `None` when another push holds it.
///
/// # Errors
/// [`FleetError::JournalFile`] when the lock file cannot be made.
pub fn try_lock(journal: &Path) -> Result<Option<std::fs::File>, FleetError> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = lock_path(journal);
    let io =
        |e: std::io::Error| FleetError::JournalFile(format!("push lock {}: {e}", path.display()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    // flock(2) through rustix (`File::try_lock` needs Rust 1.89, the MSRV is 1.85).
    use rustix::fs::{flock, FlockOperation};
    match flock(&f, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(f)),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
        Err(e) => Err(io(e.into())),
    }
}

/// The deadline of one push: [`DEADLINE_ENV`] when set to whole seconds (1 or more),
/// else [`DEFAULT_DEADLINE`].
pub fn deadline() -> Duration {
    std::env::var(DEADLINE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map_or(DEFAULT_DEADLINE, Duration::from_secs)
}

/// A watchdog: ends the process (exit 17, the centre's code) when not disarmed
/// (dropped) within `limit`. A hung centre gives the client library nothing to time
/// out on (TCP keepalives are answered by the kernel of a server that never replies),
/// so only ending the process frees the connection and the journal.
pub(super) struct Watchdog(Option<std::sync::mpsc::Sender<()>>);

impl Watchdog {
    pub(super) fn arm(limit: Duration, journal: &Path, from: i64) -> Watchdog {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let journal = journal.display().to_string();
        std::thread::spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!(
                    "sscard: error: fleet centre: the push of {journal} did not finish within \
                     {} s (the centre does not answer); it is abandoned. Nothing is lost: \
                     the next push resends from where the centre last acknowledged (#{from} \
                     or later)",
                    limit.as_secs()
                );
                std::process::exit(i32::from(crate::error::ExitCode::Fleet as u8));
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread (Disconnected): it ends quietly.
        drop(self.0.take());
    }
}
