//! The exhaustive search: depth first over state fingerprints (the stack is the
//! trace) or breadth first (parent links, the shortest trace replayed forward).

use std::collections::HashSet;
use std::time::Instant;

use super::actions::{successors, Label};
use super::state::{hash_of, World};
use super::{Config, Report, BALANCE, NEW_NUMBERS, OLD_NUMBER};

pub(super) fn fingerprint(w: &World) -> u64 {
    hash_of(w)
}

pub(super) fn cards_summary(w: &World) -> String {
    let n = |i: usize| {
        let c = &w.news[i];
        format!(
            "{}: status {} balance {} tag26 {:?} floor {:?}",
            NEW_NUMBERS[i],
            c.status.name(),
            c.balance,
            c.transfer,
            c.floor.as_ref().map(|f| f.counter)
        )
    };
    format!(
        "old {}: status {} balance {} tag26 {:?} tag27 '{}' tag28 {}; {}; {}",
        OLD_NUMBER,
        w.old.status.name(),
        BALANCE,
        w.old.transfer,
        w.old.target,
        w.old.counter,
        n(0),
        n(1)
    )
}

pub(super) fn dfs(cfg: &Config) -> Report {
    let t0 = Instant::now();
    let init = World::initial(cfg);
    let mut seen: HashSet<u64> = HashSet::new();
    seen.insert(fingerprint(&init));
    // The stack: successors left to visit, and the label that led to the frame.
    type Frame = (std::vec::IntoIter<(World, Label)>, Option<Label>);
    let mut stack: Vec<Frame> = vec![(successors(&init, cfg).into_iter(), None)];
    let (mut states, mut transitions, mut max_depth) = (1u64, 0u64, 0usize);
    let mut truncated = false;
    let mut violation = None;
    while let Some(top) = stack.last_mut() {
        let Some((w, label)) = top.0.next() else {
            stack.pop();
            continue;
        };
        transitions += 1;
        if !seen.insert(fingerprint(&w)) {
            continue;
        }
        states += 1;
        if let Some(v) = w.check(&cfg.skip) {
            let mut trace: Vec<String> = stack
                .iter()
                .filter_map(|f| f.1.as_ref().map(|l| l.to_string()))
                .collect();
            trace.push(label.to_string());
            violation = Some((v, trace, cards_summary(&w)));
            break;
        }
        if states >= cfg.max_states {
            truncated = true;
            break;
        }
        stack.push((successors(&w, cfg).into_iter(), Some(label)));
        max_depth = max_depth.max(stack.len() - 1);
    }
    Report {
        states,
        transitions,
        max_depth,
        seconds: t0.elapsed().as_secs_f64(),
        truncated,
        violation,
    }
}

pub(super) fn bfs(cfg: &Config) -> Report {
    use std::collections::{HashMap, VecDeque};
    let t0 = Instant::now();
    let init = World::initial(cfg);
    let root = fingerprint(&init);
    // fingerprint → (parent, index of the successor that led here)
    let mut parent: HashMap<u64, (u64, u32)> = HashMap::new();
    parent.insert(root, (root, u32::MAX));
    let mut queue = VecDeque::from([(init, 0usize)]);
    let (mut states, mut transitions, mut max_depth) = (1u64, 0u64, 0usize);
    let mut truncated = false;
    let mut violation = None;
    'search: while let Some((w, depth)) = queue.pop_front() {
        let fp = fingerprint(&w);
        for (i, (w2, _)) in successors(&w, cfg).into_iter().enumerate() {
            transitions += 1;
            let fp2 = fingerprint(&w2);
            if parent.contains_key(&fp2) {
                continue;
            }
            parent.insert(fp2, (fp, i as u32));
            states += 1;
            max_depth = max_depth.max(depth + 1);
            if let Some(v) = w2.check(&cfg.skip) {
                // Walk back to the root, then replay forward for the labels.
                let mut path = Vec::new();
                let mut at = fp2;
                while at != root {
                    let (p, i) = parent[&at];
                    path.push(i);
                    at = p;
                }
                path.reverse();
                let mut cur = World::initial(cfg);
                let mut trace = Vec::new();
                for i in path {
                    let (next, label) = successors(&cur, cfg)
                        .into_iter()
                        .nth(i as usize)
                        .expect("successors are deterministic");
                    trace.push(label.to_string());
                    cur = next;
                }
                violation = Some((v, trace, cards_summary(&w2)));
                break 'search;
            }
            if states >= cfg.max_states {
                truncated = true;
                break 'search;
            }
            queue.push_back((w2, depth + 1));
        }
    }
    Report {
        states,
        transitions,
        max_depth,
        seconds: t0.elapsed().as_secs_f64(),
        truncated,
        violation,
    }
}
