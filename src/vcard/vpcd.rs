//! The vpcd connector: plugs a [`Card`] into the vsmartcard `vpcd` reader driver.
//!
//! Protocol (vsmartcard 3.3, card side): the card connects over TCP to the port vpcd
//! listens on (35963 + slot); connecting is inserting the card, closing is removing
//! it. Every message is a 2-byte big-endian length and a payload. One-byte payloads
//! are control: `00` power off, `01` power on, `02` reset, `04` get ATR; only get ATR
//! is answered. Longer payloads are C-APDUs, each answered with the R-APDU.
//!
//! Why the socket handling looks fussy (all measured, see
//! `shared/notes/pcsc-vpcd.md`):
//! - vpcd writes length and body in two writes. With Nagle on its side and delayed
//!   ACK on ours each APDU costs ~44 ms. We re-arm `TCP_QUICKACK` after *every*
//!   read (Linux clears it after use) and set `TCP_NODELAY`; then a round trip
//!   through pcscd is well under a millisecond.
//! - Each reply is sent as one write (length and body in one buffer), for the same
//!   reason on vpcd's side.
//! - A zero-length reply hangs that reader's polling in pcscd, so none is ever sent.
//! - pcscd polls get ATR every 400 ms, even between the APDUs of a transaction:
//!   answering it must not touch card state ([`Card::atr`] has no side effects).
//!
//! Timing and malice ([`super::timing`], [`super::malice`], via [`serve_with`]): the
//! answer is held back until the modelled time since the command arrived has passed,
//! and a malicious mode may replace the answer or the ATR, or close the link in its
//! place.
//!
//! Persistence: after every APDU that changed persistent state the image is saved
//! (atomically) *before* the answer is sent, so once the terminal has seen `9000`
//! the change survives a kill of this process.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::fault::{Action, FaultPlan};
use super::front::{Front, ScriptedAnswer};
use super::malice::{self, Malice, Reply};
use super::timing::{self, Timing};
use super::{Card, VcardError};

/// The first vpcd port (slot 0 of the Debian configuration).
pub const DEFAULT_PORT: u16 = 35963;

/// How the card reaches vpcd and what it does between insertions.
#[derive(Debug, Clone)]
pub struct VpcdConfig {
    /// Host vpcd runs on.
    pub host: String,
    /// vpcd port of the slot.
    pub port: u16,
    /// How long to keep retrying to connect before giving up.
    pub connect_timeout: Duration,
    /// Pause between a fault removal and the re-insertion.
    pub reinsert_delay: Duration,
    /// Exit after the first removal (fault or vpcd closing) instead of re-inserting.
    pub once: bool,
    /// Save the image here after each persistent change (`None`: keep it in RAM).
    pub save_to: Option<PathBuf>,
    /// Write the running APDU count here after each APDU.
    pub count_file: Option<PathBuf>,
    /// Append every APDU received and answered here ([`super::front`]).
    pub apdu_log: Option<PathBuf>,
    /// Commands answered from a script instead of the card ([`super::front`]).
    pub answers: Vec<ScriptedAnswer>,
}

impl Default for VpcdConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            connect_timeout: Duration::from_secs(30),
            reinsert_delay: Duration::from_millis(1000),
            once: false,
            save_to: None,
            count_file: None,
            apdu_log: None,
            answers: Vec::new(),
        }
    }
}

/// How one insertion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// vpcd closed the link (pcscd stopped or restarted).
    Closed,
    /// A fault removed the card.
    Removed,
}

/// How the card behaves on the wire beyond its image: the timing model and a
/// malicious mode. The default is a fast, honest card.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireBehaviour {
    /// Modelled card and link time per APDU ([`super::timing`]).
    pub timing: Timing,
    /// A malicious mode ([`super::malice`]), if any.
    pub malice: Option<malice::Mode>,
    /// Refuse a GET RESPONSE or resend whose class is not the command's, and accept
    /// every structured class ([`super::front`]).
    pub strict_class: bool,
}

/// Runs the card: connects to vpcd (retrying up to the timeout), serves it, and
/// after a removal re-inserts it, until `once` or an error ends the run.
pub fn serve(card: &mut Card, cfg: &VpcdConfig, plan: FaultPlan) -> Result<(), VcardError> {
    serve_with(card, cfg, plan, WireBehaviour::default())
}

/// [`serve`] with a timing model and/or a malicious mode.
pub fn serve_with(
    card: &mut Card,
    cfg: &VpcdConfig,
    plan: FaultPlan,
    behaviour: WireBehaviour,
) -> Result<(), VcardError> {
    let addr_text = format!("{}:{}", cfg.host, cfg.port);
    let addrs: Vec<SocketAddr> = (cfg.host.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(|e| VcardError::Address {
            addr: addr_text.clone(),
            reason: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(VcardError::Address {
            addr: addr_text,
            reason: "resolves to no address".into(),
        });
    }
    let front = Front::new(
        behaviour.strict_class,
        cfg.answers.clone(),
        cfg.apdu_log.as_deref(),
    )
    .map_err(|source| VcardError::ApduLog {
        file: cfg.apdu_log.clone().unwrap_or_default(),
        source,
    })?;
    let mut link = Link {
        cfg,
        plan,
        count: 0,
        addr: addr_text,
        muted_logged: false,
        timing: behaviour.timing,
        malice: behaviour.malice.map(Malice::new),
        front,
    };
    loop {
        let stream = connect(&addrs, &link.addr, cfg.connect_timeout)?;
        card.power_off();
        link.front.reset(false);
        if let Some(m) = link.malice.as_mut() {
            m.reset();
        }
        log::info!("vcard: inserted (connected to vpcd at {})", link.addr);
        let end = link.session(card, stream)?;
        card.power_off();
        match end {
            End::Removed => log::info!("vcard: removed by fault at APDU #{}", link.count),
            End::Closed => log::info!("vcard: vpcd closed the link"),
        }
        if cfg.once {
            return Ok(());
        }
        sleep(match end {
            End::Removed => cfg.reinsert_delay,
            End::Closed => Duration::from_millis(100),
        });
    }
}

fn connect(addrs: &[SocketAddr], addr: &str, timeout: Duration) -> Result<TcpStream, VcardError> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for a in addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(1)) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        if Instant::now() >= deadline {
            return Err(VcardError::Connect {
                addr: addr.to_string(),
                secs: timeout.as_secs(),
                source: last,
            });
        }
        sleep(Duration::from_millis(100));
    }
}

/// Asks Linux to ACK at once. It forgets this after it is used, hence "after every
/// read". Failure only costs latency, so it is logged, not fatal.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(stream: &TcpStream) {
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_quickack(true) {
        log::debug!("vcard: TCP_QUICKACK failed: {e}");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_stream: &TcpStream) {}

/// Errors that mean the other side went away (a removal, not a failure).
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

/// State that lives across insertions: the plan and the APDU count.
struct Link<'a> {
    cfg: &'a VpcdConfig,
    plan: FaultPlan,
    count: u64,
    addr: String,
    muted_logged: bool,
    timing: Timing,
    malice: Option<Malice>,
    front: Front,
}

impl Link<'_> {
    fn fail(&self, source: io::Error) -> VcardError {
        VcardError::Link {
            addr: self.addr.clone(),
            source,
        }
    }

    /// Serves one insertion until vpcd closes or a fault removes the card.
    fn session(&mut self, card: &mut Card, mut stream: TcpStream) -> Result<End, VcardError> {
        stream.set_nodelay(true).map_err(|e| self.fail(e))?;
        quickack(&stream);
        loop {
            let frame = match read_frame(&mut stream) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(End::Closed),
                Err(e) if is_disconnect(&e) => return Ok(End::Closed),
                Err(e) => return Err(self.fail(e)),
            };
            let sent = match frame.as_slice() {
                [] => Ok(()),
                [control] => self.control(card, &mut stream, *control),
                apdu => match self.apdu(card, &mut stream, apdu)? {
                    Some(end) => return Ok(end),
                    None => Ok(()),
                },
            };
            match sent {
                Ok(()) => {}
                Err(e) if is_disconnect(&e) => return Ok(End::Closed),
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    fn control(&mut self, card: &mut Card, stream: &mut TcpStream, code: u8) -> io::Result<()> {
        if code != 0x04 {
            if let Some(m) = self.malice.as_mut() {
                m.reset();
            }
            self.front.reset(code == 0x02);
        }
        match code {
            0x00 => {
                log::debug!("vcard: power off");
                card.power_off();
            }
            0x01 => {
                log::debug!("vcard: power on");
                card.power_on();
            }
            0x02 => {
                log::debug!("vcard: reset");
                card.reset();
            }
            0x04 => {
                let atr = match &self.malice {
                    Some(m) => m.atr(card.atr()),
                    None => card.atr(),
                };
                return send(stream, atr);
            }
            other => log::debug!("vcard: unknown control {other:02X} ignored"),
        }
        Ok(())
    }

    /// Handles one C-APDU; `Some(end)` when the insertion ends here.
    fn apdu(
        &mut self,
        card: &mut Card,
        stream: &mut TcpStream,
        apdu: &[u8],
    ) -> Result<Option<End>, VcardError> {
        let received = Instant::now();
        self.count += 1;
        let n = self.count;
        self.write_count();
        let action = self.plan.action(n);
        match action {
            Action::RemoveNow => {
                log::info!("vcard: fault: removing before answering APDU #{n}");
                return Ok(Some(End::Removed));
            }
            Action::Ignore => {
                if !self.muted_logged {
                    log::info!("vcard: fault: mute from APDU #{n} on");
                    self.muted_logged = true;
                }
                return Ok(None);
            }
            Action::Answer | Action::AnswerThenRemove => {}
        }
        let answer = self.front.process(card, apdu);
        let wrote = card.take_changed();
        if wrote {
            if let Some(path) = &self.cfg.save_to {
                card.save(path)?;
            }
        }
        let answer = match self.malice.as_mut() {
            None => answer,
            Some(m) => match m.reply(apdu, answer) {
                Reply::Send(bytes) => bytes,
                Reply::Close => {
                    log::info!(
                        "vcard: malice: answering APDU #{n} with 0 bytes (closing the link)"
                    );
                    return Ok(Some(End::Removed));
                }
            },
        };
        timing::wait_until(received + self.timing.cost(apdu, &answer, wrote));
        let delay = self.plan.delay_for(apdu.len(), answer.len());
        if !delay.is_zero() {
            sleep(delay);
        }
        match send(stream, &answer) {
            Ok(()) => {}
            Err(e) if is_disconnect(&e) => return Ok(Some(End::Closed)),
            Err(e) => return Err(self.fail(e)),
        }
        if action == Action::AnswerThenRemove {
            log::info!("vcard: fault: removing after answering APDU #{n}");
            return Ok(Some(End::Removed));
        }
        Ok(None)
    }

    /// Best effort: the count is a test aid, never a reason to stop the card.
    fn write_count(&self) {
        let Some(path) = &self.cfg.count_file else {
            return;
        };
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result =
            fs::write(&tmp, format!("{}\n", self.count)).and_then(|()| fs::rename(&tmp, path));
        if let Err(e) = result {
            log::warn!("vcard: cannot write count file {}: {e}", path.display());
        }
    }
}

/// Reads one frame; `None` on a clean close before a frame starts.
fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    read_frame_from(stream, quickack)
}

/// Reads one vpcd frame (2-byte big-endian length, payload) from any byte stream,
/// calling `after_read` after each read (the TCP connector re-arms `TCP_QUICKACK`
/// there). `None` on a clean close before a frame starts. Public for the fuzz target
/// `vpcd` and its corpus test.
pub fn read_frame_from<R: Read>(
    stream: &mut R,
    mut after_read: impl FnMut(&R),
) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 2];
    let got = stream.read(&mut header)?;
    after_read(stream);
    match got {
        0 => return Ok(None),
        1 => {
            stream.read_exact(&mut header[1..])?;
            after_read(stream);
        }
        _ => {}
    }
    let len = usize::from(u16::from_be_bytes(header));
    let mut body = vec![0u8; len];
    if len > 0 {
        stream.read_exact(&mut body)?;
        after_read(stream);
    }
    Ok(Some(body))
}

/// Encodes one reply frame. Never an empty frame (it would hang vpcd's reader): an
/// empty body becomes `6F 00`. A body over 65535 bytes is an error.
pub fn encode_frame(body: &[u8]) -> io::Result<Vec<u8>> {
    let body = if body.is_empty() {
        &[0x6F, 0x00][..]
    } else {
        body
    };
    let len = u16::try_from(body.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "reply too long"))?;
    let mut buf = Vec::with_capacity(body.len() + 2);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(body);
    Ok(buf)
}

/// Sends one frame in a single write.
fn send(stream: &mut TcpStream, body: &[u8]) -> io::Result<()> {
    stream.write_all(&encode_frame(body)?)
}
