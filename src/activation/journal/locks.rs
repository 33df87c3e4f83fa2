//! The journal's guards before every announce: one process per transfer (`flock`)
//! and the file still the one opened.

use super::{Journal, JournalError};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

impl Journal {
    /// Checks that the path still names the file opened at [`Journal::open`].
    ///
    /// # Errors
    /// [`JournalError::Removed`] or [`JournalError::Replaced`].
    pub fn check_file(&self) -> Result<(), JournalError> {
        let path = self.path.display().to_string();
        let held = self.file.metadata().map_err(|source| JournalError::Io {
            path: path.clone(),
            source,
        })?;
        let now = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(JournalError::Removed { path })
            }
            Err(source) => return Err(JournalError::Io { path, source }),
        };
        if (now.dev(), now.ino()) != (held.dev(), held.ino()) {
            return Err(JournalError::Replaced { path });
        }
        if held.nlink() == 0 {
            return Err(JournalError::Removed { path });
        }
        Ok(())
    }

    /// The lock file of transfer `id`.
    fn lock_path(&self, id: &str) -> PathBuf {
        let mut dir = self.path.clone().into_os_string();
        dir.push(".locks");
        PathBuf::from(dir).join(id)
    }

    /// Claims transfer `id` for this process (an exclusive `flock` on its lock file,
    /// released when the journal is dropped or the process ends). Claiming a transfer
    /// this journal already holds does nothing.
    ///
    /// # Errors
    /// [`JournalError::InUse`] when another process holds it; [`JournalError::Io`]
    /// when the lock file cannot be made.
    pub fn claim(&mut self, id: &str) -> Result<(), JournalError> {
        let id = id.to_ascii_uppercase();
        if self.claims.contains_key(&id) {
            return Ok(());
        }
        let lock = self.lock_path(&id);
        let io = |source| JournalError::Io {
            path: lock.display().to_string(),
            source,
        };
        if let Some(dir) = lock.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        // flock(2) (through rustix; `File::try_lock` needs Rust 1.89, the MSRV is 1.85):
        // exclusive, non-blocking, released by the kernel when the process ends.
        use rustix::fs::{flock, FlockOperation};
        match flock(&f, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let holder = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                return Err(JournalError::InUse { id, holder });
            }
            Err(e) => return Err(io(e.into())),
        }
        use std::io::{Seek, Write};
        f.set_len(0).map_err(io)?;
        f.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        write!(f, "{}", std::process::id()).map_err(io)?;
        self.claims.insert(id, f);
        Ok(())
    }

    /// Releases transfer `id` (another process may then work on it).
    pub fn release(&mut self, id: &str) {
        self.claims.remove(&id.to_ascii_uppercase());
    }

    /// Whether this journal holds transfer `id`.
    pub fn holds(&self, id: &str) -> bool {
        self.claims.contains_key(&id.to_ascii_uppercase())
    }
}
