//! `sscard journal backup PATH`: a consistent copy of the journal while the desk
//! runs (the why is in the parent module's documentation: SQLite's online backup API
//! on a read-only connection, mode 600 from the first byte, checked, renamed over
//! PATH; `cp` is not safe on a journal in WAL mode).

use super::usage;
use crate::error::{Error, ExitCode};
use std::path::{Path, PathBuf};

/// What `journal backup` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupOutcome {
    /// The journal copied.
    pub source: String,
    /// The copy.
    pub backup: String,
    /// Entries in the copy.
    pub entries: u64,
    /// Events in the copy.
    pub events: u64,
    /// Size of the copy, bytes.
    pub bytes: u64,
}

/// Copies the journal at `src` to `dest` with SQLite's online backup API (see the
/// module docs): a consistent snapshot taken on a read-only connection while the desk
/// may be writing, checked, mode 600, renamed over `dest`.
///
/// # Errors
/// Exit 13 (journal) when the journal cannot be read or the copy fails its check;
/// exit 14 (I/O) when the copy cannot be written; exit 2 when `dest` is the journal.
pub fn backup(src: &Path, dest: &Path) -> Result<BackupOutcome, Error> {
    use rusqlite::{Connection, OpenFlags};
    use std::os::unix::fs::OpenOptionsExt;
    let io = |p: &Path, source: std::io::Error| Error::Io {
        path: p.display().to_string(),
        source,
    };
    let sql = |what: &str, e: rusqlite::Error| Error::Other {
        message: format!("journal backup: {what}: {e}"),
        code: ExitCode::Journal,
    };
    let src_real = std::fs::canonicalize(src).map_err(|e| io(src, e))?;
    if std::fs::canonicalize(dest).is_ok_and(|d| d == src_real) {
        return Err(usage(format!(
            "{} is the journal itself; give another path for the copy",
            dest.display()
        )));
    }
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| usage(format!("{} names no file", dest.display())))?;
    if !dir.is_dir() {
        // The likely case at a desk: a USB stick that is not mounted.
        return Err(Error::Other {
            message: format!(
                "the folder {} for the copy does not exist (is the USB stick or share \
                 mounted?); create it or give another path",
                dir.display()
            ),
            code: ExitCode::Io,
        });
    }
    // SQLite's files beside the journal (`-wal`, `-shm`, `-journal`): replacing the
    // write-ahead log loses every transaction not yet checkpointed into the journal
    // when the desk stops uncleanly.
    if let Ok(d) = std::fs::canonicalize(&dir) {
        let target = std::fs::canonicalize(dest).unwrap_or_else(|_| d.join(name));
        for side in ["-wal", "-shm", "-journal"] {
            let mut f = src_real.clone().into_os_string();
            f.push(side);
            if target.as_os_str() == f {
                return Err(usage(format!(
                    "{} is a file SQLite keeps beside the journal; give another path for the copy",
                    dest.display()
                )));
            }
        }
    }
    // Only a regular file is replaced: the rename would put the copy in place of a
    // device (`/dev/null`, `/dev/full` when run as root), a FIFO or a socket.
    if let Ok(m) = std::fs::metadata(dest) {
        if !m.is_file() {
            return Err(usage(format!(
                "{} exists and is not a regular file; give a file path for the copy",
                dest.display()
            )));
        }
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    // Owner-only from the first byte: the copy holds names and citizen IDs.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    let result = (|| {
        let source = Connection::open_with_flags(
            &src_real,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql("open the journal", e))?;
        source
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| sql("open the journal", e))?;
        let mut copy = Connection::open(&tmp).map_err(|e| sql("open the copy", e))?;
        {
            let b =
                rusqlite::backup::Backup::new(&source, &mut copy).map_err(|e| sql("start", e))?;
            // All pages in one step (-1): one read transaction, so one consistent
            // snapshot. Busy/locked is transient (in WAL mode a reader waits only for
            // a checkpoint): retry for up to 10 s.
            let mut waited = 0u32;
            loop {
                match b.step(-1).map_err(|e| sql("copy", e))? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::More => {}
                    _ if waited < 100 => {
                        waited += 1;
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    _ => {
                        return Err(Error::Other {
                            message: "journal backup: the journal stayed locked for 10 s; \
                                      try again"
                                .into(),
                            code: ExitCode::Journal,
                        })
                    }
                }
            }
        }
        // A self-contained file (no -wal beside it) that opens anywhere.
        copy.pragma_update(None, "journal_mode", "DELETE")
            .map_err(|e| sql("finish the copy", e))?;
        let check: String = copy
            .pragma_query_value(None, "integrity_check", |r| r.get(0))
            .map_err(|e| sql("check the copy", e))?;
        if check != "ok" {
            return Err(Error::Other {
                message: format!("journal backup: the copy fails SQLite's check: {check}"),
                code: ExitCode::Journal,
            });
        }
        let count = |table: &str| -> Result<u64, Error> {
            copy.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| sql("count the copy", e))
        };
        let entries = count("entries")?;
        let events = count("events")?;
        drop(copy);
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, dest).map_err(|e| io(dest, e))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        let bytes = std::fs::metadata(dest).map_err(|e| io(dest, e))?.len();
        Ok(BackupOutcome {
            source: src_real.display().to_string(),
            backup: dest.display().to_string(),
            entries,
            events,
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::journal::Journal;

    /// revbreak: `journal backup` onto the journal's write-ahead log replaced it (a
    /// desk stopping uncleanly then lost its uncheckpointed entries), and onto a
    /// device or FIFO replaced the node with a regular file (`/dev/full` as root).
    #[test]
    fn backup_refuses_sqlite_side_files_and_non_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("j.sqlite");
        let held = Journal::open(&j).unwrap();
        let wal = dir.path().join("j.sqlite-wal");
        assert!(wal.exists(), "the journal runs in WAL mode");
        let before = std::fs::read(&wal).unwrap();
        for side in ["j.sqlite-wal", "j.sqlite-shm", "j.sqlite-journal"] {
            let e = backup(&j, &dir.path().join(side)).unwrap_err();
            assert!(e.to_string().contains("beside the journal"), "{side}: {e}");
        }
        assert_eq!(std::fs::read(&wal).unwrap(), before, "the WAL is untouched");
        let fifo = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let e = backup(&j, &fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        // A regular file is still replaced.
        let copy = dir.path().join("copy.sqlite");
        std::fs::write(&copy, b"old").unwrap();
        backup(&j, &copy).unwrap();
        drop(held);
    }
}
