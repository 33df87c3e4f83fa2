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
//! its deadline is dropped unrun, and so is one whose caller went away (an HTTP client
//! that disconnected), so a stuck reader or a client that sends and hangs up cannot
//! build up a backlog of card operations run for nobody.

use crate::national::{National, Settings};
use crate::profile::Profiles;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long a card operation may wait and run, when the configuration says nothing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many readers named by a request get a worker (a page cannot make the
/// service start a thread per name it invents). When they are all taken, an idle one
/// (nothing queued or running) makes room for a new name; the desk's own reader (`""`)
/// is never counted nor evicted, so invented names cannot lock the national functions
/// out.
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

/// A reader's queue and how many of its jobs are queued or running.
struct Worker {
    tx: mpsc::Sender<Job>,
    pending: Arc<AtomicUsize>,
}

/// Why a job got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The deadline passed (the reader is busy or the card does not answer).
    TimedOut(Duration),
    /// Too many readers already have a busy worker.
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
            NoAnswer::TooManyReaders => {
                write!(f, "more than {MAX_WORKERS} readers busy at once")
            }
            NoAnswer::NoWorker => write!(f, "the card worker could not start"),
        }
    }
}

/// The workers, by reader (`""`: the desk's configured card reader).
pub struct Workers {
    base: Settings,
    timeout: Duration,
    queues: Mutex<HashMap<String, Worker>>,
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

    /// The desk's activation journal (first use writes it; the same file as
    /// `sscard activate`).
    pub fn journal(&self) -> &std::path::Path {
        &self.base.journal
    }

    /// The timeout of every card operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn spawn(&self, reader: &str) -> Result<Worker, NoAnswer> {
        let mut settings = self.base.clone();
        if !reader.is_empty() {
            settings.reader = Some(reader.to_string());
        }
        let national = National::with_settings(settings.clone()).map_err(|_| NoAnswer::NoWorker)?;
        let profiles = Profiles::builtin().map_err(|_| NoAnswer::NoWorker)?;
        let (tx, rx) = mpsc::channel::<Job>();
        let pending = Arc::new(AtomicUsize::new(0));
        let done = pending.clone();
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
                    done.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .map_err(|_| NoAnswer::NoWorker)?;
        Ok(Worker { tx, pending })
    }

    /// Makes room for one more named reader: `Ok` when there is room, or after an idle
    /// named worker was dropped (its thread ends with its empty queue).
    fn make_room(queues: &mut HashMap<String, Worker>) -> Result<(), NoAnswer> {
        if queues.keys().filter(|k| !k.is_empty()).count() < MAX_WORKERS {
            return Ok(());
        }
        let idle = queues
            .iter()
            .find(|(k, w)| !k.is_empty() && w.pending.load(Ordering::SeqCst) == 0)
            .map(|(k, _)| k.clone())
            .ok_or(NoAnswer::TooManyReaders)?;
        queues.remove(&idle);
        Ok(())
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
            if Instant::now() >= deadline || tx.is_closed() {
                // The caller gave up (deadline) or went away (its client closed the
                // connection): do not touch the card for nobody.
                return;
            }
            let _ = tx.send(f(slot));
        });
        {
            let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
            if !queues.contains_key(reader) {
                if !reader.is_empty() {
                    Self::make_room(&mut queues)?;
                }
                let w = self.spawn(reader)?;
                queues.insert(reader.to_string(), w);
            }
            let Some(w) = queues.get(reader) else {
                return Err(NoAnswer::NoWorker);
            };
            w.pending.fetch_add(1, Ordering::SeqCst);
            if let Err(mpsc::SendError(job)) = w.tx.send(job) {
                // The thread died (a panic in a job): start a new one.
                let w = self.spawn(reader)?;
                w.pending.fetch_add(1, Ordering::SeqCst);
                w.tx.send(job).map_err(|_| NoAnswer::NoWorker)?;
                queues.insert(reader.to_string(), w);
            }
        }
        match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) | Err(_) => Err(NoAnswer::TimedOut(self.timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(timeout: Duration) -> Workers {
        Workers::new(Settings::from_config(None, |_| None).unwrap(), timeout)
    }

    #[test]
    fn jobs_on_one_reader_run_one_at_a_time_and_time_out() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let w = Arc::new(workers(Duration::from_millis(300)));
        let busy = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        rt.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..4 {
                let (w, busy, most) = (w.clone(), busy.clone(), most.clone());
                tasks.push(tokio::spawn(async move {
                    w.run("", move |_| {
                        let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        busy.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                }));
            }
            for t in tasks {
                assert_eq!(t.await.unwrap(), Ok(()));
            }
            assert_eq!(most.load(Ordering::SeqCst), 1, "serialised per reader");
            // A job that outlives the timeout: the caller is answered TimedOut, and a
            // job queued behind it past its deadline never runs.
            let ran = Arc::new(AtomicUsize::new(0));
            let slow = w.run("", |_| std::thread::sleep(Duration::from_millis(700)));
            let r2 = ran.clone();
            let behind = w.run("", move |_| {
                r2.fetch_add(1, Ordering::SeqCst);
            });
            let (a, b) = tokio::join!(slow, behind);
            assert!(matches!(a, Err(NoAnswer::TimedOut(_))), "{a:?}");
            assert!(matches!(b, Err(NoAnswer::TimedOut(_))), "{b:?}");
            tokio::time::sleep(Duration::from_millis(600)).await;
            assert_eq!(
                ran.load(Ordering::SeqCst),
                0,
                "a stale job touched the card"
            );
            // A job whose caller went away before it started (an HTTP client that
            // hung up drops the handler's future) never touches the card.
            let gone = Arc::new(AtomicUsize::new(0));
            let slow = w.run("", |_| std::thread::sleep(Duration::from_millis(150)));
            let g2 = gone.clone();
            let abandoned = tokio::time::timeout(
                Duration::from_millis(30),
                w.run("", move |_| {
                    g2.fetch_add(1, Ordering::SeqCst);
                }),
            );
            let (a, b) = tokio::join!(slow, abandoned);
            assert_eq!(a, Ok(()));
            assert!(b.is_err(), "the caller stopped waiting");
            assert_eq!(w.run("", |_| ()).await, Ok(()), "the queue moved on");
            assert_eq!(gone.load(Ordering::SeqCst), 0, "ran for a caller gone");
            // Another reader is not held up by a busy one.
            let t0 = Instant::now();
            let busy_one = w.run("a", |_| std::thread::sleep(Duration::from_millis(200)));
            let other = w.run("b", |_| Instant::now());
            let (_, at) = tokio::join!(busy_one, other);
            assert!(at.unwrap() - t0 < Duration::from_millis(150));
        });
        // At most MAX_WORKERS named readers busy at once; invented names never lock
        // out the desk's reader, and idle workers make room for new names.
        let w = Arc::new(workers(Duration::from_secs(6)));
        rt.block_on(async {
            for i in 0..MAX_WORKERS {
                assert_eq!(w.run(&format!("r{i}"), |_| ()).await, Ok(()));
            }
            assert_eq!(w.run("r0", |_| ()).await, Ok(()));
            assert_eq!(w.run("", |_| ()).await, Ok(()), "the desk's reader");
            assert_eq!(
                w.run("a new name", |_| ()).await,
                Ok(()),
                "an idle one made room"
            );
            // All named workers busy: a new name is refused, the desk's reader is not.
            let mut busy = Vec::new();
            for i in 0..MAX_WORKERS {
                let w = w.clone();
                busy.push(tokio::spawn(async move {
                    w.run(&format!("b{i}"), |_| {
                        std::thread::sleep(Duration::from_millis(1500))
                    })
                    .await
                }));
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert_eq!(
                w.run("one too many", |_| ()).await,
                Err(NoAnswer::TooManyReaders)
            );
            assert_eq!(w.run("", |_| ()).await, Ok(()));
            for b in busy {
                assert_eq!(b.await.unwrap(), Ok(()));
            }
            assert_eq!(w.run("one too many", |_| ()).await, Ok(()), "room again");
        });
    }
}
