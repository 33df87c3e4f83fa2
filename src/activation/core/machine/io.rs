//! The replay [`Io`]: each action either returns the input already received for it
//! or suspends the flow with that action (see the module docs of `machine`). Every
//! card write goes through [`Io::write`], which takes the latest journal proof.

use super::*;

pub(super) enum Exit {
    Suspend(Action),
    End(End),
}

pub(super) type R<T> = Result<T, Box<Exit>>;

pub(super) fn refuse<T>(r: Refusal) -> R<T> {
    Err(Box::new(Exit::End(End::Refused(r))))
}

pub(super) fn stop<T>(s: Stop) -> R<T> {
    Err(Box::new(Exit::End(End::Stopped(s))))
}

pub(super) struct Io<'a> {
    pub(super) env: &'a Env,
    pub(super) inputs: &'a [Input],
    pub(super) pos: usize,
    pub(super) show: Vec<Msg>,
    pub(super) jseq: u32,
    pub(super) last_proof: Option<Announced>,
    pub(super) journal: Option<(TransferId, JournalState)>,
}

impl<'a> Io<'a> {
    pub(super) fn live(&self) -> bool {
        self.pos == self.inputs.len()
    }

    pub(super) fn show(&mut self, m: Msg) {
        if self.live() {
            self.show.push(m);
        }
    }

    pub(super) fn note(&mut self, n: Note) {
        self.show(Msg::Note(n));
    }

    pub(super) fn step_msg(&mut self, s: Step) {
        self.show(Msg::Step(s));
    }

    pub(super) fn input(&mut self, make: impl FnOnce() -> Action) -> R<&'a Input> {
        match self.inputs.get(self.pos) {
            Some(i) => {
                self.pos += 1;
                Ok(i)
            }
            None => Err(Box::new(Exit::Suspend(make()))),
        }
    }

    pub(super) fn fault<T>(&self, which: Which, fault: CardFault) -> R<T> {
        stop(Stop::CardFault {
            which,
            fault,
            journal: self.journal,
        })
    }

    pub(super) fn read(
        &mut self,
        which: Which,
        session: Session,
        roles: &'static [Role],
    ) -> R<&'a Fields> {
        match self.input(|| {
            Action::Card(CardOp::Read {
                which,
                session,
                roles,
            })
        })? {
            Input::Read(f) => Ok(f),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    pub(super) fn genuine(&mut self, which: Which) -> R<bool> {
        match self.input(|| Action::Card(CardOp::CheckGenuine { which }))? {
            Input::Genuine(g) => Ok(*g),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    /// EXTERNAL AUTHENTICATE: a wrong key stops at once, never retried.
    pub(super) fn authenticate(&mut self, which: Which, key: KeyRole) -> R<()> {
        match self.input(|| Action::Card(CardOp::Authenticate { which, key }))? {
            Input::Auth(AuthOutcome::Ok) => Ok(()),
            Input::Auth(AuthOutcome::WrongKey { tries_left }) => stop(Stop::WrongKey {
                which,
                key,
                tries_left: *tries_left,
            }),
            Input::Auth(AuthOutcome::Blocked) => stop(Stop::KeyBlocked { which, key }),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    pub(super) fn journal(
        &mut self,
        id: TransferId,
        flow: Flow,
        state: JournalState,
        data: &TransferData,
    ) -> R<Announced> {
        let seq = self.jseq;
        self.jseq += 1;
        let data = data.clone();
        match self.input(|| Action::Journal(JournalWrite::new(id, flow, state, data, seq)))? {
            Input::Journaled(p) if p.seq() == seq && p.id() == id && p.state() == state => {
                self.journal = Some((id, state));
                self.last_proof = Some(p.clone());
                Ok(p.clone())
            }
            Input::JournalFailed => stop(Stop::JournalFailed),
            _ => stop(Stop::DriverMisuse),
        }
    }

    pub(super) fn lookup(&mut self, id: TransferId) -> R<Option<JournalEntry>> {
        match self.input(|| Action::LookupJournal(id))? {
            Input::Entry(e) if e.as_ref().is_none_or(|e| e.id == id) => Ok(e.clone()),
            _ => stop(Stop::DriverMisuse),
        }
    }

    /// A card write under `proof`, which must be the latest journal write's.
    pub(super) fn write(&mut self, proof: &Announced, which: Which, op: WriteOp) -> R<()> {
        if self.last_proof.as_ref() != Some(proof) {
            return stop(Stop::Inconsistent { id: proof.id() });
        }
        let Some(w) = CardWrite::new(proof, which, op) else {
            return stop(Stop::Inconsistent { id: proof.id() });
        };
        match self.input(|| Action::Card(CardOp::Write(w)))? {
            Input::Written => Ok(()),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    pub(super) fn set(&mut self, proof: &Announced, role: Role, value: FieldValue) -> R<()> {
        self.write(proof, role.card(), WriteOp::Field { role, value })
    }

    pub(super) fn ask_pin(&mut self, prompt: Prompt) -> R<PinEntry> {
        match self.input(|| Action::AskPin(prompt))? {
            Input::PinEntered(p) => Ok(*p),
            _ => stop(Stop::DriverMisuse),
        }
    }

    pub(super) fn ask_line(&mut self, prompt: Prompt) -> R<Option<String>> {
        match self.input(|| Action::AskLine(prompt))? {
            Input::Line(l) => Ok(l.clone()),
            _ => stop(Stop::DriverMisuse),
        }
    }

    pub(super) fn verify_pin(
        &mut self,
        which: Which,
        prompt: Prompt,
        spend_last_try: bool,
    ) -> R<PinOutcome> {
        match self.input(|| {
            Action::Card(CardOp::VerifyPin {
                which,
                prompt,
                spend_last_try,
            })
        })? {
            Input::Pin(p) => Ok(*p),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    /// Tells the desk which card to insert (both reader layouts) and opens it.
    pub(super) fn open(
        &mut self,
        which: Which,
        purpose: Purpose,
        roles: &'static [Role],
    ) -> R<&'a Fields> {
        self.note(Note::Insert { which, purpose });
        self.read(which, Session::Fresh, roles)
    }
}
