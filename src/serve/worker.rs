//! Card work off the async runtime: one blocking thread per reader.
//!
//! Why a dedicated thread per reader and not `tokio::task::spawn_blocking`: PC/SC
//! calls block (a transaction waits for pcscd, a PIN waits for the holder), and two
//! calls on one reader must never interleave (an HSM Step1 leaves the card connected
//! for Step2; a second read between two APDUs would select another file). A thread
//! that owns the reader's [`National`] and takes one job at a time from its queue
//! serialises the reader by construction, keeps the HSM session where Step2 finds it,
//! and leaves the runtime's threads free for other clients and other readers.
//!
//! Every job has a deadline (`[serve] timeout`, default [`DEFAULT_TIMEOUT`]): the
//! caller stops waiting when it passes and answers "timed out"; a job still queued at
//! its deadline is dropped unrun, so a stuck reader cannot build up a backlog of stale
//! card operations.

use crate::national::{National, Settings};
use crate::profile::Profiles;
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a card operation may wait and run, when the configuration says nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many readers get a worker (a page cannot make the service start a
/// thread per name it invents).
pub const MAX_WORKERS: usize = 16;

/// What a job finds on its reader's thread.
pub struct Slot {
    /// The national functions for this reader (holds the HSM session).
    pub national: National,
    /// The desk settings, with this reader as the card's reader.
    pub settings: Settings,
    /// The card profiles (built in).
    pub profiles: Profiles,
}

type Job = Box<dyn FnOnce(&mut Slot) + Send>;

/// Why a job got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The deadline passed (the reader is busy or the card does not answer).
    TimedOut(Duration),
    /// Too many readers already have a worker.
    TooManyReaders,
    /// The worker could not start (the card profiles do not load).
    NoWorker,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::TimedOut(d) => write!(
                f,
                "the card operation did not finish within {:.1} s (reader busy or card not answering)",
                d.as_secs_f64()
            ),
            NoAnswer::TooManyReaders => write!(f, "more than {MAX_WORKERS} readers asked for"),
            NoAnswer::NoWorker => write!(f, "the card worker could not start"),
        }
    }
}

/// The workers, by reader (`""`: the desk's configured card reader).
pub struct Workers {
    base: Settings,
    timeout: Duration,
    queues: Mutex<HashMap<String, mpsc::Sender<Job>>>,
}

impl Workers {
    /// Workers for a desk with these settings; card operations time out after `timeout`.
    pub fn new(base: Settings, timeout: Duration) -> Workers {
        Workers {
            base,
            timeout,
            queues: Mutex::new(HashMap::new()),
        }
    }

    /// The timeout of every card operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn spawn(&self, reader: &str) -> Result<mpsc::Sender<Job>, NoAnswer> {
        let mut settings = self.base.clone();
        if !reader.is_empty() {
            settings.reader = Some(reader.to_string());
        }
        let national = National::with_settings(settings.clone()).map_err(|_| NoAnswer::NoWorker)?;
        let profiles = Profiles::builtin().map_err(|_| NoAnswer::NoWorker)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let mut slot = Slot {
            national,
            settings,
            profiles,
        };
        std::thread::Builder::new()
            .name(format!("sscard-reader-{}", reader.len()))
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut slot);
                }
            })
            .map_err(|_| NoAnswer::NoWorker)?;
        Ok(tx)
    }

    /// Runs `f` on `reader`'s thread (`""`: the desk's card reader) after the jobs
    /// queued before it, and waits at most the timeout for its answer.
    ///
    /// # Errors
    /// [`NoAnswer`] when the deadline passes or no worker can serve the reader.
    pub async fn run<R, F>(&self, reader: &str, f: F) -> Result<R, NoAnswer>
    where
        R: Send + 'static,
        F: FnOnce(&mut Slot) -> R + Send + 'static,
    {
        let deadline = Instant::now() + self.timeout;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |slot: &mut Slot| {
            if Instant::now() >= deadline {
                return; // The caller gave up: do not touch the card for nobody.
            }
            let _ = tx.send(f(slot));
        });
        {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            let q = match queues.get(reader) {
                Some(q) => q.clone(),
                None => {
                    if queues.len() >= MAX_WORKERS {
                        return Err(NoAnswer::TooManyReaders);
                    }
                    let q = self.spawn(reader)?;
                    queues.insert(reader.to_string(), q.clone());
                    q
                }
            };
            if let Err(mpsc::SendError(job)) = q.send(job) {
                // The thread died (a panic in a job): start a new one.
                let q = self.spawn(reader)?;
                queues.insert(reader.to_string(), q.clone());
                q.send(job).map_err(|_| NoAnswer::NoWorker)?;
            }
        }
        match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) | Err(_) => Err(NoAnswer::TimedOut(self.timeout)),
        }
    }
}
