//! Runs a test's independent cases on several workers at once, each worker with its
//! own state (its own private pcscd and vpcd ports, card images and journal).
//!
//! Why: an end-to-end case spends most of its time waiting, not computing: pcscd polls
//! the vpcd driver every 400 ms, so every insertion and removal costs up to that much
//! whatever the CPU. The tear-off matrix tries ~100 fault points; one after another
//! they took minutes of CI time on 2 cores that sat mostly idle. Run side by side on
//! separate test beds they assert exactly the same things, and nothing is shared
//! between workers but the list of cases.
//!
//! The number of workers is [`workers`]: `SSCARD_E2E_JOBS` when set, else a default
//! sized for the 2-core CI runner.

// The harness's unwrap/expect are the tests' assertions: a panic fails the test that
// called it, with the message (also for the test files that do not allow them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Workers per test: `SSCARD_E2E_JOBS` (a positive integer) when set, else 8.
///
/// The cases wait far more than they compute (the tear-off matrix: 277 s of wall
/// time for 18 s of CPU, one case after another), so eight workers per test (libtest
/// runs two tests at once on 2 cores: about sixteen private pcscd instances) still
/// leave the CPU mostly idle, and each case's own waits (8 to 20 s for a card) keep
/// a wide margin; measured in the cispeed report (tearoff_e2e 277 s -> 35 s).
///
/// # Panics
/// `SSCARD_E2E_JOBS` set to something other than a positive integer (said, not
/// ignored).
pub fn workers() -> usize {
    match std::env::var("SSCARD_E2E_JOBS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("SSCARD_E2E_JOBS={v:?}: want a positive number of workers"),
        },
        Err(_) => 8,
    }
}

/// Runs every case of `cases` once, on up to `workers` threads. Each thread builds
/// its own state with `setup(index)` (index 0, 1, ...) and then takes the next case
/// until none is left; `case` runs one case on that state (a panic is the case
/// failing). Returns how many cases ran.
///
/// After the first failing case no worker starts another one; the failure (its own
/// panic message) is then re-raised here, so the test fails with it.
pub fn run_cases<S, C, Setup, Case>(
    workers: usize,
    cases: Vec<C>,
    setup: Setup,
    case: Case,
) -> usize
where
    C: Send,
    Setup: Fn(usize) -> S + Sync,
    Case: Fn(&mut S, C) + Sync,
{
    let total = cases.len();
    let queue = Mutex::new(cases.into_iter().collect::<VecDeque<C>>());
    let failed = AtomicBool::new(false);
    let next = || {
        if failed.load(Ordering::SeqCst) {
            return None;
        }
        queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
    };
    let mut first_panic = None;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers.clamp(1, total.max(1)))
            .map(|i| {
                let (setup, case, next, failed) = (&setup, &case, &next, &failed);
                s.spawn(move || {
                    let work = std::panic::AssertUnwindSafe(|| {
                        let mut state = setup(i);
                        while let Some(c) = next() {
                            case(&mut state, c);
                        }
                    });
                    let r = std::panic::catch_unwind(work);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    r
                })
            })
            .collect();
        for h in handles {
            if let Err(p) | Ok(Err(p)) = h.join() {
                first_panic.get_or_insert(p);
            }
        }
    });
    if let Some(p) = first_panic {
        std::panic::resume_unwind(p);
    }
    let left = queue.into_inner().unwrap_or_else(|e| e.into_inner()).len();
    assert_eq!(left, 0, "{left} of {total} cases never ran");
    total
}
