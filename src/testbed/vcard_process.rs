//! A virtual card as a separate `sscard vcard` process: start = insert, kill = pull.
//!
//! A separate process makes a pulled card exactly what it is on a desk: the card end
//! of the link vanishes at any moment, and whatever the card had committed (its image
//! is saved atomically after each write) is all that survives.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running virtual card, pulled (killed) on drop.
pub struct VirtualCardProcess {
    child: Option<Child>,
    image: PathBuf,
}

impl VirtualCardProcess {
    /// Inserts the card in `image` into the vpcd slot listening on `port`, running
    /// `exe vcard --image IMAGE --port PORT EXTRA...`.
    pub fn insert(exe: &Path, image: &Path, port: u16, extra: &[&str]) -> std::io::Result<Self> {
        let child = Command::new(exe)
            .arg("vcard")
            .arg("--image")
            .arg(image)
            .arg("--port")
            .arg(port.to_string())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        Ok(VirtualCardProcess {
            child: Some(child),
            image: image.to_path_buf(),
        })
    }

    /// The card's image file (its persistent state).
    pub fn image(&self) -> &Path {
        &self.image
    }

    /// Pulls the card: the process is killed at once, mid-command if need be.
    pub fn pull(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits for the card process to end by itself (e.g. after a fault with `--once`).
    pub fn wait_exit(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        match self.child.take() {
            Some(mut c) => c.wait().map(Some),
            None => Ok(None),
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

impl Drop for VirtualCardProcess {
    fn drop(&mut self) {
        self.pull();
    }
}
