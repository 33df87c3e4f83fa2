//! The transitions of the world: the holder moving cards, desks starting flows,
//! stepping their cores between durable steps (the reduction in the module docs),
//! torn writes and crashes; and the labels that make a trace readable.

use std::sync::Arc;

use super::super::core::{
    Action, AuthOutcome, CardFault, CardOp, CityStatus, Core, End, Env, FieldValue, Flow, Input,
    JournalEntry, PinEntry, PinOutcome, Readers, Rules, Session, Start, TransferId, Which, WriteOp,
};
use super::state::{today, Loc, Proc, World};
use super::{Config, Kind, CITIZEN};

/// A step of the search, for traces.
#[derive(Clone, Debug)]
pub(super) enum Label {
    Move { card: u8, to: Loc, then: String },
    Start { desk: u8, start: String },
    Step { desk: u8, what: String },
    Crash { desk: u8, journal_lost: bool },
}

fn card_name(c: u8) -> &'static str {
    match c {
        0 => "old",
        1 => "new A",
        _ => "new B",
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Move { card, to, then } => {
                match to {
                    Loc::Hand => write!(f, "holder takes the {} card out", card_name(*card))?,
                    Loc::Slot(d, s) => write!(
                        f,
                        "holder puts the {} card into desk {d} reader {s}",
                        card_name(*card)
                    )?,
                }
                if then.is_empty() {
                    Ok(())
                } else {
                    write!(f, " → {then}")
                }
            }
            Label::Start { desk, start } => write!(f, "desk {desk}: start {start}"),
            Label::Step { desk, what } => write!(f, "desk {desk}: {what}"),
            Label::Crash { desk, journal_lost } => write!(
                f,
                "desk {desk}: crash ({})",
                if *journal_lost {
                    "journal lost"
                } else {
                    "journal kept"
                }
            ),
        }
    }
}

fn env(desk: usize, readers: Readers, start_no: u8, rules: Rules) -> Env {
    let mut random = [0u8; 12];
    random[0] = desk as u8 + 1;
    random[1] = start_no;
    Env {
        terminal: format!("6399000000{:02}", desk + 1),
        today: today(),
        random,
        readers,
        interactive: true,
        force_last_try: false,
        rules,
    }
}

fn describe_start(s: &Start) -> String {
    match s {
        Start::Pharmacy => "pharmacy".into(),
        Start::Resume {
            entry,
            old_card_present,
        } => match entry {
            Some(e) => format!(
                "resume {:?} (journal {}){}",
                e.id,
                e.state.as_str(),
                if *old_card_present {
                    ", old card present"
                } else {
                    ""
                }
            ),
            None => "resume from the old card".into(),
        },
        Start::Cancel { id, entry } => format!(
            "cancel {id:?} ({})",
            entry
                .as_ref()
                .map_or("not in its journal", |e| e.state.as_str())
        ),
        Start::Window { .. } => "window".into(),
        Start::FirstUse { .. } => "first use".into(),
    }
}

/// Outcome of driving a desk one durable step.
enum Drive {
    /// Nothing can happen (waiting for a card).
    Blocked,
    /// These successor worlds, with what happened.
    Next(Vec<(World, String)>),
}

/// Answers the desk's non-durable actions inline until a durable one (or a block,
/// or the end). Returns the world and a description of the inline part.
fn settle(mut w: World, d: usize, log: &mut Vec<String>) -> World {
    loop {
        let Some(core) = w.desks[d].core.as_mut() else {
            return w;
        };
        let next = core.peek();
        let input = match next.action {
            Action::End(e) => {
                log.push(describe_end(&e));
                w.desks[d].core = None;
                w.desks[d].session = [None; 2];
                return w;
            }
            Action::LookupJournal(id) => {
                Input::Entry(w.desks[d].journal.iter().find(|e| e.id == id).cloned())
            }
            Action::AskPin(_) => Input::PinEntered(PinEntry::Entered {
                confirmed: true,
                initial: false,
            }),
            Action::AskLine(_) => Input::Line(Some(CITIZEN.into())),
            Action::Journal(_) => return w,
            Action::Card(CardOp::Write(_)) => return w,
            Action::Card(CardOp::Read {
                which,
                session,
                roles,
            }) => match session {
                Session::Fresh => {
                    let slot = w.slot_of(d, which);
                    match w.card_in(d, slot) {
                        Some(c) if World::kind_fits(c, which) => {
                            w.desks[d].session[which as usize] = Some(c);
                            log.push(format!("reads the {} card", card_name(c)));
                            Input::Read(w.read(c, roles))
                        }
                        _ => return w,
                    }
                }
                Session::Same => match w.session_card(d, which) {
                    Some(c) => Input::Read(w.read(c, roles)),
                    None => Input::Fault(CardFault::Removed),
                },
            },
            Action::Card(CardOp::CheckGenuine { which }) => match w.session_card(d, which) {
                Some(_) => Input::Genuine(true),
                None => Input::Fault(CardFault::Removed),
            },
            Action::Card(CardOp::Authenticate { which, .. }) => match w.session_card(d, which) {
                Some(_) => Input::Auth(AuthOutcome::Ok),
                None => Input::Fault(CardFault::Removed),
            },
            Action::Card(CardOp::VerifyPin { which, .. }) => match w.session_card(d, which) {
                Some(0) if w.old.status != CityStatus::Active => {
                    Input::Pin(PinOutcome::CardRefuses)
                }
                Some(_) => Input::Pin(PinOutcome::Ok { initial: false }),
                None => Input::Fault(CardFault::Removed),
            },
        };
        let core = w.desks[d].core.as_mut().expect("running");
        core.step(Some(input));
    }
}

fn describe_end(e: &End) -> String {
    match e {
        End::Done(r) => format!("done: {:?} {} fen to {}", r.id, r.amount_fen, r.new_card),
        End::Cancelled { id, .. } => format!("cancelled {id:?}"),
        End::Refused(r) => format!("refused: {r:?}"),
        End::Stopped(s) => format!("stopped: {s:?}"),
    }
}

/// The durable step a running desk is at: journal write, or a card write (done,
/// torn before, torn after).
fn drive(w: &World, d: usize) -> Drive {
    let next = w.desks[d].core.as_ref().expect("running").peek();
    match next.action {
        Action::Journal(jw) => {
            let mut w2 = w.clone();
            let desk = &mut w2.desks[d];
            let pos = desk.journal.iter().position(|e| e.id == jw.id());
            let ok = pos.is_none_or(|p| desk.journal[p].state.may_become(jw.state()));
            let what = format!("journal {:?} {}", jw.id(), jw.state().as_str());
            let input = if ok {
                let entry = JournalEntry {
                    id: jw.id(),
                    flow: jw.flow(),
                    state: jw.state(),
                    data: jw.data().clone(),
                };
                match pos {
                    Some(p) => Arc::make_mut(&mut desk.journal)[p] = entry,
                    None => {
                        let j = Arc::make_mut(&mut desk.journal);
                        j.push(entry);
                        j.sort_by_key(|e| e.id);
                    }
                }
                Input::Journaled(jw.announced())
            } else {
                Input::JournalFailed
            };
            w2.desks[d]
                .core
                .as_mut()
                .expect("running")
                .step(Some(input));
            let mut log = vec![what];
            let w2 = settle(w2, d, &mut log);
            Drive::Next(vec![(w2, log.join("; "))])
        }
        Action::Card(CardOp::Write(cw)) => {
            let which = cw.which();
            let Some(c) = w.session_card(d, which) else {
                let mut w2 = w.clone();
                w2.desks[d]
                    .core
                    .as_mut()
                    .expect("running")
                    .step(Some(Input::Fault(CardFault::Removed)));
                let mut log = vec!["write fails: card gone".to_string()];
                let w2 = settle(w2, d, &mut log);
                return Drive::Next(vec![(w2, log.join("; "))]);
            };
            let what = describe_write(c, cw.op());
            let mut out = Vec::new();
            // Done.
            let mut ok = w.clone();
            ok.apply(d, c, cw.op());
            ok.desks[d]
                .core
                .as_mut()
                .expect("running")
                .step(Some(Input::Written));
            let mut log = vec![what.clone()];
            let ok = settle(ok, d, &mut log);
            out.push((ok, log.join("; ")));
            if w.tears_left > 0 {
                for applied in [false, true] {
                    let mut t = w.clone();
                    t.tears_left -= 1;
                    if applied {
                        t.apply(d, c, cw.op());
                    }
                    // The card was pulled or lost power: every session on it ends.
                    let here = t.loc[c as usize];
                    t.move_card(c, here);
                    t.desks[d]
                        .core
                        .as_mut()
                        .expect("running")
                        .step(Some(Input::Fault(CardFault::Removed)));
                    let mut log = vec![format!(
                        "{what} TORN ({})",
                        if applied {
                            "record holds the new value"
                        } else {
                            "record keeps the old value"
                        }
                    )];
                    let t = settle(t, d, &mut log);
                    out.push((t, log.join("; ")));
                }
            }
            Drive::Next(out)
        }
        _ => {
            // A read waiting for a card: try settling (a card may have arrived).
            let mut log = Vec::new();
            let w2 = settle(w.clone(), d, &mut log);
            if w2 == *w {
                Drive::Blocked
            } else {
                Drive::Next(vec![(w2, log.join("; "))])
            }
        }
    }
}

fn describe_write(c: u8, op: &WriteOp) -> String {
    let what = match op {
        WriteOp::Field { role, value } => format!("{} = {}", role.name(), show_value(value)),
        WriteOp::AppendLog(r) => format!("append log {:02X} {:?}", r.kind, r.transfer),
        WriteOp::ReloadPin(_) => "RELOAD PIN".into(),
        WriteOp::ChangePin => "CHANGE PIN".into(),
    };
    format!("writes {} card: {what}", card_name(c))
}

fn show_value(v: &FieldValue) -> String {
    match v {
        FieldValue::TransferId(Some(x)) => format!("{x:?}"),
        FieldValue::TransferId(None) => "none".into(),
        FieldValue::Floor(Some(f)) => format!("floor({}, {})", f.old_card, f.counter),
        FieldValue::Floor(None) => "no floor".into(),
        FieldValue::CityStatus(s) => s.name().into(),
        FieldValue::SscStatus(s) => s.name().into(),
        FieldValue::Text(t) if t.is_empty() => "blank".into(),
        FieldValue::Text(t) | FieldValue::Digits(t) => t.clone(),
        FieldValue::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn starts(w: &World, d: usize) -> Vec<Start> {
    let desk = &w.desks[d];
    let mut out = vec![Start::Pharmacy];
    let old_here = w.card_in(d, w.slot_of(d, Which::Old)) == Some(0);
    out.push(Start::Resume {
        entry: None,
        old_card_present: true,
    });
    let mut ids: Vec<TransferId> = Vec::new();
    // Window entries a fault left unfinished are resumed with the new card only.
    for e in desk
        .journal
        .iter()
        .filter(|e| !e.state.is_final() && e.flow != Flow::Pharmacy)
    {
        out.push(Start::Resume {
            entry: Some(e.clone()),
            old_card_present: false,
        });
    }
    for e in desk
        .journal
        .iter()
        .filter(|e| !e.state.is_final() && e.flow == Flow::Pharmacy)
    {
        // With the old card in its reader (left there, or put in before the start),
        // or without.
        for present in [true, false] {
            if present || !old_here {
                out.push(Start::Resume {
                    entry: Some(e.clone()),
                    old_card_present: present,
                });
            }
        }
        ids.push(e.id);
    }
    // The operator may also cancel the id the old card shows (`sscard info`).
    if let Some(x) = w.old.transfer {
        if !ids.contains(&x) {
            ids.push(x);
        }
    }
    for id in ids {
        out.push(Start::Cancel {
            id,
            entry: desk.journal.iter().find(|e| e.id == id).cloned(),
        });
    }
    out.push(Start::Window {
        citizen_id: Some(CITIZEN.into()),
        verify_pin: false,
    });
    out
}

fn allowed(cfg: &Config, d: usize, s: &Start) -> bool {
    let kind = match s {
        Start::Pharmacy => Kind::Pharmacy,
        Start::Resume { .. } => Kind::Resume,
        Start::Cancel { .. } => Kind::Cancel,
        Start::Window { .. } | Start::FirstUse { .. } => Kind::Window,
    };
    cfg.flows
        .get(d)
        .is_none_or(|k| k.is_empty() || k.contains(&kind))
}

pub(super) fn successors(w: &World, cfg: &Config) -> Vec<(World, Label)> {
    let mut out = Vec::new();
    for d in 0..w.desks.len() {
        let desk = &w.desks[d];
        if desk.core.is_some() {
            match drive(w, d) {
                Drive::Next(v) => {
                    for (w2, what) in v {
                        out.push((
                            w2,
                            Label::Step {
                                desk: d as u8,
                                what,
                            },
                        ));
                    }
                }
                Drive::Blocked => {
                    // No card came in time: the flow stops where it is.
                    let mut w2 = w.clone();
                    w2.desks[d]
                        .core
                        .as_mut()
                        .expect("running")
                        .step(Some(Input::Fault(CardFault::Absent)));
                    let mut log = vec!["times out waiting for a card".to_string()];
                    let w2 = settle(w2, d, &mut log);
                    out.push((
                        w2,
                        Label::Step {
                            desk: d as u8,
                            what: log.join("; "),
                        },
                    ));
                }
            }
        } else if desk.starts_left > 0 && w.starts_left > 0 {
            for s in starts(w, d).into_iter().filter(|s| allowed(cfg, d, s)) {
                let mut w2 = w.clone();
                let desk = &mut w2.desks[d];
                let e = env(d, desk.readers, desk.starts_left, cfg.rules);
                desk.starts_left -= 1;
                w2.starts_left -= 1;
                let label = describe_start(&s);
                desk.core = Some(Proc::new(Core::new(e, s)));
                let mut log = Vec::new();
                let w2 = settle(w2, d, &mut log);
                let start = if log.is_empty() {
                    label
                } else {
                    format!("{label}: {}", log.join("; "))
                };
                out.push((
                    w2,
                    Label::Start {
                        desk: d as u8,
                        start,
                    },
                ));
            }
        }
        if w.crashes_left > 0 {
            let running = w.desks[d].core.is_some();
            for lose in [false, true] {
                if !running && !lose {
                    continue;
                }
                if lose && w.desks[d].journal.is_empty() {
                    continue;
                }
                let mut w2 = w.clone();
                w2.crashes_left -= 1;
                w2.desks[d].core = None;
                w2.desks[d].session = [None; 2];
                if lose {
                    w2.desks[d].journal = Arc::new(Vec::new());
                }
                out.push((
                    w2,
                    Label::Crash {
                        desk: d as u8,
                        journal_lost: lose,
                    },
                ));
            }
        }
    }
    if w.moves_left > 0 {
        // The holder takes a card out of a reader, or puts one from the hand into a
        // reader whose desk is waiting for a card. (A card put into a reader before a
        // desk asks is the same as one put in when it asks: nobody else can reach it
        // meanwhile; a flow that starts with the old card present is started that way.)
        let mut targets = Vec::new();
        for (d, desk) in w.desks.iter().enumerate() {
            let Some(core) = desk.core.as_ref() else {
                continue;
            };
            if let Action::Card(CardOp::Read {
                which,
                session: Session::Fresh,
                ..
            }) = core.peek().action
            {
                let slot = w.slot_of(d, which);
                if w.card_in(d, slot).is_none() {
                    targets.push((Loc::Slot(d as u8, slot), which));
                }
            }
        }
        for c in 0..3u8 {
            let here = w.loc[c as usize];
            let mut moves = Vec::new();
            if here != Loc::Hand {
                moves.push(Loc::Hand);
            } else {
                for (to, which) in &targets {
                    if World::kind_fits(c, *which) {
                        moves.push(*to);
                    }
                }
            }
            for to in moves {
                let mut w2 = w.clone();
                w2.move_card(c, to);
                if w2.moves_left != u8::MAX {
                    w2.moves_left -= 1;
                }
                // A desk waiting for a card takes it at once.
                let mut log = Vec::new();
                for d in 0..w2.desks.len() {
                    if w2.desks[d].core.is_some() {
                        let mut l = Vec::new();
                        w2 = settle(w2, d, &mut l);
                        if !l.is_empty() {
                            log.push(format!("desk {d}: {}", l.join("; ")));
                        }
                    }
                }
                let label = Label::Move {
                    card: c,
                    to,
                    then: log.join(" | "),
                };
                out.push((w2, label));
            }
        }
    }
    out
}
