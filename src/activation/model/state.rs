//! The model's world: the cards at the record level, the desks with their readers,
//! journals and running cores, the holder's hand, and the ghost state the invariants
//! read (what each freeze bound, what was credited, what was cancelled).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::super::core::{
    CityRole, CityStatus, Core, Date, FieldValue, Fields, Floor, Input, JournalEntry, LogHead,
    Next, Readers, Role, SscRole, SscStatus, TransferId, Which, WriteOp, LOG_TRANSFER_IN,
};
use super::{Config, Violation, BALANCE, CITIZEN, LOG_KEEP, NEW_NUMBERS, OLD_NUMBER};

/// Where a card is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Loc {
    Hand,
    Slot(u8, u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct OldCard {
    pub(super) status: CityStatus,
    pub(super) transfer: Option<TransferId>,
    pub(super) target: String,
    pub(super) counter: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct NewCard {
    pub(super) status: SscStatus,
    pub(super) balance: u32,
    pub(super) transfer: Option<TransferId>,
    pub(super) floor: Option<Floor>,
    pub(super) log: Vec<LogHead>,
}

/// A running flow: the core, shared between states until one of them steps it, with
/// its fingerprint cached (a core holds every input it received).
#[derive(Clone, Debug)]
pub(super) struct Proc {
    pub(super) core: Arc<Core>,
    pub(super) fp: u64,
}

impl Proc {
    pub(super) fn new(core: Core) -> Proc {
        let fp = hash_of(&core);
        Proc {
            core: Arc::new(core),
            fp,
        }
    }

    pub(super) fn peek(&self) -> Next {
        self.core.peek()
    }

    pub(super) fn step(&mut self, input: Option<Input>) -> Next {
        let c = Arc::make_mut(&mut self.core);
        let next = c.step(input);
        self.fp = hash_of(c);
        next
    }
}

impl PartialEq for Proc {
    fn eq(&self, other: &Proc) -> bool {
        self.fp == other.fp && (Arc::ptr_eq(&self.core, &other.core) || self.core == other.core)
    }
}

impl Eq for Proc {}

impl Hash for Proc {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.fp.hash(h);
    }
}

pub(super) fn hash_of<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Desk {
    pub(super) readers: Readers,
    pub(super) journal: Arc<Vec<JournalEntry>>,
    pub(super) core: Option<Proc>,
    /// The card each session (old, new) has open.
    pub(super) session: [Option<u8>; 2],
    pub(super) starts_left: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Ghost {
    /// X → the card index its freeze bound (from the freezing desk's journal).
    pub(super) bound: Vec<(TransferId, Option<u8>)>,
    /// (X, card) credited.
    pub(super) credits: Vec<(TransferId, u8)>,
    /// Transfers whose old card went back to active.
    pub(super) cancelled: Vec<TransferId>,
    /// A violation found during a transition.
    pub(super) seen: Option<Violation>,
}

/// One state of the world.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct World {
    pub(super) old: OldCard,
    pub(super) news: [NewCard; 2],
    /// Card 0 = old, 1 and 2 = the new cards.
    pub(super) loc: [Loc; 3],
    pub(super) desks: Vec<Desk>,
    pub(super) starts_left: u8,
    pub(super) tears_left: u8,
    pub(super) crashes_left: u8,
    pub(super) moves_left: u8,
    pub(super) ghost: Ghost,
}

pub(super) fn today() -> Date {
    Date::from_ymd_opt(2026, 6, 1).expect("valid date")
}

impl World {
    pub(super) fn initial(cfg: &Config) -> World {
        let fresh = NewCard {
            status: SscStatus::NotActivated,
            balance: 0,
            transfer: None,
            floor: None,
            log: Vec::new(),
        };
        World {
            old: OldCard {
                status: CityStatus::Active,
                transfer: None,
                target: String::new(),
                counter: 0,
            },
            news: [fresh.clone(), fresh],
            loc: [Loc::Hand; 3],
            desks: cfg
                .desks
                .iter()
                .map(|r| Desk {
                    readers: *r,
                    journal: Arc::new(Vec::new()),
                    core: None,
                    session: [None; 2],
                    starts_left: cfg.starts_per_desk,
                })
                .collect(),
            starts_left: cfg.starts_total,
            tears_left: cfg.tears,
            crashes_left: cfg.crashes,
            moves_left: cfg.moves,
            ghost: Ghost::default(),
        }
    }

    pub(super) fn slot_of(&self, desk: usize, which: Which) -> u8 {
        match (self.desks[desk].readers, which) {
            (Readers::One, _) => 0,
            (Readers::Two, Which::Old) => 0,
            (Readers::Two, Which::New) => 1,
        }
    }

    pub(super) fn card_in(&self, desk: usize, slot: u8) -> Option<u8> {
        (0..3u8).find(|c| self.loc[*c as usize] == Loc::Slot(desk as u8, slot))
    }

    /// Moving card `c` ends every session on it.
    pub(super) fn move_card(&mut self, c: u8, to: Loc) {
        self.loc[c as usize] = to;
        for d in &mut self.desks {
            for s in &mut d.session {
                if *s == Some(c) {
                    *s = None;
                }
            }
        }
    }

    pub(super) fn session_card(&self, desk: usize, which: Which) -> Option<u8> {
        let c = self.desks[desk].session[which as usize]?;
        (self.loc[c as usize] == Loc::Slot(desk as u8, self.slot_of(desk, which))).then_some(c)
    }

    pub(super) fn read(&self, card: u8, roles: &[Role]) -> Fields {
        let mut out = Vec::with_capacity(roles.len());
        for r in roles {
            let v = match (card, r) {
                (0, Role::City(cr)) => {
                    let o = &self.old;
                    match cr {
                        CityRole::CardNumber => FieldValue::Text(OLD_NUMBER.into()),
                        CityRole::CitizenId => FieldValue::Text(CITIZEN.into()),
                        CityRole::Name => FieldValue::Text("ZS".into()),
                        CityRole::Account => FieldValue::Text("6300001234".into()),
                        CityRole::Category => FieldValue::Code(1),
                        CityRole::Status => FieldValue::CityStatus(o.status),
                        CityRole::Balance => FieldValue::Number(BALANCE),
                        CityRole::TransferId => FieldValue::TransferId(o.transfer),
                        CityRole::TargetCard => FieldValue::Text(o.target.clone()),
                        CityRole::TransferCounter => FieldValue::Number(o.counter),
                    }
                }
                (c @ 1..=2, Role::Ssc(sr)) => {
                    let n = &self.news[c as usize - 1];
                    match sr {
                        SscRole::CardNumber => FieldValue::Text(NEW_NUMBERS[c as usize - 1].into()),
                        SscRole::ExpiryDate => {
                            FieldValue::Date(Some(Date::from_ymd_opt(2036, 6, 1).expect("date")))
                        }
                        SscRole::CitizenId => FieldValue::Text(CITIZEN.into()),
                        SscRole::Name => FieldValue::Text("ZS".into()),
                        SscRole::Account => FieldValue::Text(String::new()),
                        SscRole::Category => FieldValue::Code(0),
                        SscRole::Status => FieldValue::SscStatus(n.status),
                        SscRole::Balance => FieldValue::Number(n.balance),
                        SscRole::ActivationDate => FieldValue::Date(None),
                        SscRole::ActivationTerminal => FieldValue::Digits(String::new()),
                        SscRole::TransferId => FieldValue::TransferId(n.transfer),
                        SscRole::TransferFloor => FieldValue::Floor(n.floor.clone()),
                        SscRole::LastLog => FieldValue::LastLog(n.log.first().cloned()),
                    }
                }
                _ => continue,
            };
            out.push((*r, v));
        }
        Fields(out)
    }

    pub(super) fn kind_fits(card: u8, which: Which) -> bool {
        (card == 0) == (which == Which::Old)
    }

    /// Applies a card write to card `c` (desk `d` writing), updating the ghost.
    pub(super) fn apply(&mut self, d: usize, c: u8, op: &WriteOp) {
        let credited = |w: &World, i: usize| {
            let n = &w.news[i];
            (n.status == SscStatus::Active)
                .then_some(n.transfer)
                .flatten()
        };
        match (c, op) {
            (
                0,
                WriteOp::Field {
                    role: Role::City(r),
                    value,
                },
            ) => {
                let o = &mut self.old;
                match (r, value) {
                    (CityRole::Status, FieldValue::CityStatus(s)) => {
                        if *s == CityStatus::Active && o.status != CityStatus::Active {
                            if let Some(x) = o.transfer {
                                if !self.ghost.cancelled.contains(&x) {
                                    self.ghost.cancelled.push(x);
                                }
                            }
                        }
                        o.status = *s;
                    }
                    (CityRole::TransferId, FieldValue::TransferId(x)) => {
                        o.transfer = *x;
                        if let Some(x) = x {
                            let n = self.desks[d]
                                .journal
                                .iter()
                                .find(|e| e.id == *x)
                                .and_then(|e| e.data.new_card.clone());
                            let idx = n.and_then(|n| {
                                NEW_NUMBERS
                                    .iter()
                                    .position(|m| *m == n)
                                    .map(|i| i as u8 + 1)
                            });
                            self.ghost.bound.push((*x, idx));
                        }
                    }
                    (CityRole::TargetCard, FieldValue::Text(t)) => o.target = t.clone(),
                    (CityRole::TransferCounter, FieldValue::Number(n)) => o.counter = *n,
                    _ => {}
                }
            }
            (c @ 1..=2, op) => {
                let i = c as usize - 1;
                let before = credited(self, i);
                let n = &mut self.news[i];
                match op {
                    WriteOp::Field {
                        role: Role::Ssc(r),
                        value,
                    } => match (r, value) {
                        (SscRole::Status, FieldValue::SscStatus(s)) => n.status = *s,
                        (SscRole::Balance, FieldValue::Number(b)) => n.balance = *b,
                        (SscRole::TransferId, FieldValue::TransferId(x)) => n.transfer = *x,
                        (SscRole::TransferFloor, FieldValue::Floor(f)) => n.floor = f.clone(),
                        _ => {}
                    },
                    WriteOp::AppendLog(rec) => {
                        let head = LogHead {
                            kind: rec.kind,
                            prefix: rec.transfer.map(|t| t.prefix()).unwrap_or([0; 8]),
                        };
                        if rec.kind == LOG_TRANSFER_IN
                            && n.log.contains(&head)
                            && self.ghost.seen.is_none()
                        {
                            self.ghost.seen = Some(Violation::AppliedTwice);
                        }
                        n.log.insert(0, head);
                        n.log.truncate(LOG_KEEP);
                    }
                    _ => {}
                }
                let after = credited(self, i);
                if let (None, Some(x)) | (Some(_), Some(x)) = (before, after) {
                    if before != after {
                        self.credit_event(x, c);
                    }
                }
            }
            _ => {}
        }
    }
}
