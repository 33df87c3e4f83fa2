//! The step list of the guided screen: where the activation stands, in the desk's
//! words.
//!
//! The flows announce progress as messages ([`Msg`]); this list maps them onto the
//! stages a desk worker recognises (insert, PIN, swap the cards, ...). It follows the
//! flow backwards as well as forwards: after a card is pulled, recovery asks for a
//! card again and the list shows that stage as current, so the screen never claims
//! more than the cards have.

use super::i18n::Lang;
use crate::activation::desk::{Msg, Step, Want};

/// A stage a desk worker recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum Stage {
    /// The operator types the citizen ID.
    TypeId,
    /// Pharmacy step 1: the new card is read and checked, the desk's key proven on
    /// it; nothing is written (issue 10: before anything is frozen).
    CheckNew,
    /// One reader, after the check: the new card out, the old card in.
    SwapToOld,
    /// Cancel: the transfer is voided on the new card (its floor written).
    Void,
    /// The old card goes in.
    InsertOld,
    /// The old card is read.
    ReadOld,
    /// The holder enters the PIN.
    Pin,
    /// The old card is frozen.
    Freeze,
    /// One reader: the old card out, the new card in.
    SwapCards,
    /// Two readers (or new card only): the new card goes in.
    InsertNew,
    /// The new card is read and checked.
    ReadNew,
    /// The medical account moves to the new card.
    Credit,
    /// The new card's medical function is switched on (window, first use).
    Activate,
    /// The new card takes the PIN.
    ReloadPin,
    /// The old card is marked migrated.
    FinishOld,
    /// The old card becomes active again (cancel).
    Unfreeze,
}

impl Stage {
    /// The stage's label.
    pub fn label(self, lang: Lang) -> &'static str {
        let (en, zh) = match self {
            Stage::TypeId => ("Type the holder's citizen ID", "录入持卡人身份证号"),
            Stage::CheckNew => (
                "Check the new card (nothing written yet)",
                "检查新卡（尚未写卡）",
            ),
            Stage::SwapToOld => (
                "Swap the cards: new card out, old card in",
                "换卡：取出新卡，插入旧卡",
            ),
            Stage::Void => ("Void the transfer on the new card", "在新卡上作废本次转移"),
            Stage::InsertOld => ("Insert the old medical card", "插入旧医保卡"),
            Stage::ReadOld => ("Read the old card", "读取旧卡"),
            Stage::Pin => ("Holder enters the PIN", "持卡人输入密码"),
            Stage::Freeze => ("Freeze the old card's account", "冻结旧卡账户"),
            Stage::SwapCards => (
                "Swap the cards: old card out, new card in",
                "换卡：取出旧卡，插入新卡",
            ),
            Stage::InsertNew => ("Insert the new social security card", "插入新社保卡"),
            Stage::ReadNew => ("Read and check the new card", "读取并检查新卡"),
            Stage::Credit => ("Move the medical account", "转移医保账户"),
            Stage::Activate => ("Activate the medical function", "激活医保功能"),
            Stage::ReloadPin => ("Give the new card the PIN", "设置新卡密码"),
            Stage::FinishOld => ("Mark the old card migrated", "旧卡标记为已迁移"),
            Stage::Unfreeze => ("Return the old card to active", "恢复旧卡为可用"),
        };
        lang.pick(en, zh)
    }

    /// Every stage, in declaration order (derived: a new stage is in it).
    pub const ALL: &'static [Stage] = <Stage as strum::VariantArray>::VARIANTS;
}

/// Which flow the list is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Pharmacy (or resume) with one reader.
    PharmacyOneReader,
    /// Pharmacy (or resume) with two readers.
    PharmacyTwoReaders,
    /// Window or first use.
    NewCardOnly {
        /// The operator types the citizen ID.
        type_id: bool,
        /// The holder verifies the PIN.
        verify_pin: bool,
    },
    /// Cancel a transfer.
    Cancel,
}

impl Plan {
    /// The stages of the plan, in order.
    pub fn stages(self) -> Vec<Stage> {
        use Stage::*;
        match self {
            // Issue 10: three insertions with one reader: the new card (checked), the
            // old card (frozen), the new card again (credited).
            Plan::PharmacyOneReader => vec![
                InsertNew, CheckNew, SwapToOld, ReadOld, Pin, Freeze, SwapCards, ReadNew, Credit,
                ReloadPin,
            ],
            Plan::PharmacyTwoReaders => vec![
                InsertNew, CheckNew, InsertOld, ReadOld, Pin, Freeze, Credit, ReloadPin, FinishOld,
            ],
            Plan::NewCardOnly {
                type_id,
                verify_pin,
            } => {
                let mut v = Vec::new();
                if type_id {
                    v.push(TypeId);
                }
                v.extend([InsertNew, ReadNew]);
                if verify_pin {
                    v.push(Pin);
                }
                v.push(Activate);
                v
            }
            Plan::Cancel => vec![InsertNew, CheckNew, Void, InsertOld, ReadOld, Unfreeze],
        }
    }
}

/// State of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Finished.
    Done,
    /// In progress.
    Now,
    /// To come.
    Todo,
    /// Stopped here.
    Failed,
}

/// The list and where the flow is.
#[derive(Debug, Clone)]
pub struct StepList {
    stages: Vec<Stage>,
    current: Option<usize>,
    done_upto: usize,
    failed: bool,
    /// The last message was a wrong card: the removal that follows is not the swap.
    after_wrong_card: bool,
    /// The old card was frozen in this run (the next new-card read is the credit's).
    frozen: bool,
}

impl StepList {
    /// A list for `plan`, nothing done.
    pub fn new(plan: Plan) -> StepList {
        StepList {
            stages: plan.stages(),
            current: None,
            done_upto: 0,
            failed: false,
            after_wrong_card: false,
            frozen: false,
        }
    }

    /// Makes `stage` current (stages before it done, after it to come); ignored when
    /// the plan has no such stage.
    pub fn enter(&mut self, stage: Stage) {
        if let Some(i) = self.stages.iter().position(|s| *s == stage) {
            self.current = Some(i);
            self.done_upto = i;
            self.failed = false;
        }
    }

    /// Marks `stage` and everything before it done.
    pub fn finish(&mut self, stage: Stage) {
        if let Some(i) = self.stages.iter().position(|s| *s == stage) {
            self.done_upto = i + 1;
            self.current = None;
        }
    }

    /// Whether `stage` is done (false when the plan has no such stage).
    pub fn is_done(&self, stage: Stage) -> bool {
        self.stages
            .iter()
            .position(|s| *s == stage)
            .is_some_and(|i| i < self.done_upto)
    }

    /// Everything done.
    pub fn complete(&mut self) {
        self.done_upto = self.stages.len();
        self.current = None;
        self.failed = false;
    }

    /// The current stage stopped. Before any stage started (keys, configuration,
    /// readers: the desk's setup) no stage failed, and none is marked: a failed
    /// "insert the old card" would send the clerk to the wrong slot.
    pub fn fail(&mut self) {
        if self.current.is_none() && self.done_upto > 0 && self.done_upto < self.stages.len() {
            self.current = Some(self.done_upto);
        }
        self.failed = self.current.is_some();
    }

    /// Whether every stage is done.
    pub fn all_done(&self) -> bool {
        self.done_upto == self.stages.len()
    }

    /// The current stage, if any.
    pub fn current(&self) -> Option<Stage> {
        self.current.map(|i| self.stages[i])
    }

    /// 1-based position of the current (or next) stage, and the count.
    pub fn position(&self) -> (usize, usize) {
        let n = self.stages.len();
        let at = self
            .current
            .unwrap_or(self.done_upto)
            .min(n.saturating_sub(1));
        (at + 1, n)
    }

    /// The stages with their marks.
    pub fn rows(&self) -> Vec<(Stage, Mark)> {
        self.stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let m = if Some(i) == self.current {
                    if self.failed {
                        Mark::Failed
                    } else {
                        Mark::Now
                    }
                } else if i < self.done_upto {
                    Mark::Done
                } else {
                    Mark::Todo
                };
                (*s, m)
            })
            .collect()
    }

    /// Follows a desk message.
    pub fn follow(&mut self, msg: &Msg) {
        let has = |s: Stage| self.stages.contains(&s);
        let after_wrong_card = std::mem::replace(
            &mut self.after_wrong_card,
            matches!(msg, Msg::WrongCard { .. }),
        );
        let frozen = self.frozen;
        match msg {
            Msg::Insert(Want::OldCard, _) => {
                if has(Stage::SwapToOld) && self.is_done(Stage::CheckNew) {
                    self.enter(Stage::SwapToOld)
                } else {
                    self.enter(Stage::InsertOld)
                }
            }
            Msg::Remove(Want::OldCard, _) => {
                if has(Stage::SwapCards) && frozen && !after_wrong_card {
                    self.enter(Stage::SwapCards)
                }
            }
            Msg::Insert(Want::NewCard, _) => {
                if has(Stage::SwapCards) && frozen {
                    self.enter(Stage::SwapCards)
                } else {
                    self.enter(Stage::InsertNew)
                }
            }
            Msg::Remove(Want::NewCard, _) => {
                if has(Stage::SwapToOld) && !frozen && !after_wrong_card {
                    self.enter(Stage::SwapToOld)
                }
            }
            Msg::WrongCard { .. } | Msg::Holder { .. } => {}
            Msg::PinWrong { .. } | Msg::Note(_) | Msg::Service(_) => {}
            Msg::Step(s) => match s {
                Step::ReadOld => self.enter(Stage::ReadOld),
                Step::PinVerified => self.finish(Stage::Pin),
                Step::Freeze => {
                    self.frozen = true;
                    self.enter(Stage::Freeze)
                }
                Step::ReadNew => {
                    if frozen && has(Stage::ReadNew) {
                        self.enter(Stage::ReadNew)
                    } else if has(Stage::CheckNew) {
                        self.enter(Stage::CheckNew)
                    } else {
                        self.enter(Stage::ReadNew)
                    }
                }
                Step::Void => self.enter(Stage::Void),
                // Proving the key is part of checking the new card; the freeze's end
                // is followed by the next step.
                Step::ProveKey | Step::Frozen => {}
                Step::Credit | Step::Activate => {
                    if has(Stage::Credit) {
                        self.enter(Stage::Credit)
                    } else {
                        self.enter(Stage::Activate)
                    }
                }
                Step::ReloadPin => self.enter(Stage::ReloadPin),
                Step::FinishOld => self.enter(Stage::FinishOld),
                Step::Unfreeze => self.enter(Stage::Unfreeze),
                Step::Done => self.complete(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_one_reader_pharmacy_and_goes_back_on_recovery() {
        // Issue 10: new card (checked), old card (frozen), new card (credited).
        let mut l = StepList::new(Plan::PharmacyOneReader);
        l.follow(&Msg::Insert(Want::NewCard, "r".into()));
        assert_eq!(l.current(), Some(Stage::InsertNew));
        l.follow(&Msg::Step(Step::ReadNew));
        assert_eq!(l.current(), Some(Stage::CheckNew));
        l.follow(&Msg::Remove(Want::NewCard, "r".into()));
        assert_eq!(l.current(), Some(Stage::SwapToOld));
        l.follow(&Msg::Insert(Want::OldCard, "r".into()));
        assert_eq!(l.current(), Some(Stage::SwapToOld));
        l.follow(&Msg::Step(Step::ReadOld));
        l.enter(Stage::Pin);
        l.follow(&Msg::Step(Step::PinVerified));
        assert_eq!(l.position(), (6, 10));
        l.follow(&Msg::Step(Step::Freeze));
        l.follow(&Msg::Remove(Want::OldCard, "r".into()));
        assert_eq!(l.current(), Some(Stage::SwapCards));
        l.follow(&Msg::Insert(Want::NewCard, "r".into()));
        assert_eq!(l.current(), Some(Stage::SwapCards));
        l.follow(&Msg::Step(Step::ReadNew));
        assert_eq!(l.current(), Some(Stage::ReadNew));
        // The card is pulled; recovery reads the old card again.
        l.follow(&Msg::Step(Step::ReadOld));
        assert_eq!(l.current(), Some(Stage::ReadOld));
        assert_eq!(l.rows()[4].1, Mark::Todo);
        l.follow(&Msg::Step(Step::Done));
        assert!(l.all_done());
        assert!(l.rows().iter().all(|(_, m)| *m == Mark::Done));
    }

    #[test]
    fn a_wrong_card_removal_before_the_freeze_is_not_the_swap() {
        let mut l = StepList::new(Plan::PharmacyOneReader);
        l.follow(&Msg::Insert(Want::NewCard, "r".into()));
        l.follow(&Msg::WrongCard {
            want: Want::NewCard,
            found: crate::card::CardKind::City,
        });
        l.follow(&Msg::Remove(Want::OldCard, "r".into()));
        assert_eq!(l.current(), Some(Stage::InsertNew));
    }

    #[test]
    fn window_plan_maps_credit_to_activation_and_failures_mark_the_stage() {
        let mut l = StepList::new(Plan::NewCardOnly {
            type_id: true,
            verify_pin: false,
        });
        l.enter(Stage::TypeId);
        l.follow(&Msg::Insert(Want::NewCard, "r".into()));
        l.follow(&Msg::Step(Step::Credit));
        assert_eq!(l.current(), Some(Stage::Activate));
        l.fail();
        assert_eq!(l.rows().last().map(|r| r.1), Some(Mark::Failed));
        for s in Stage::ALL {
            assert_ne!(s.label(Lang::En), s.label(Lang::Zh));
        }
    }

    #[test]
    fn a_failure_before_any_stage_marks_none() {
        // The desk's setup (keys, configuration) failing is not "insert the card".
        let mut l = StepList::new(Plan::PharmacyOneReader);
        l.fail();
        assert!(
            l.rows().iter().all(|(_, m)| *m == Mark::Todo),
            "{:?}",
            l.rows()
        );
        // Between stages, the next one is the one that stopped.
        l.follow(&Msg::Insert(Want::NewCard, "r".into()));
        l.follow(&Msg::Step(Step::ReadNew));
        l.follow(&Msg::Remove(Want::NewCard, "r".into()));
        l.fail();
        assert!(
            l.rows().iter().any(|(_, m)| *m == Mark::Failed),
            "{:?}",
            l.rows()
        );
    }
}
