//! `sscard vcard`: plug a virtual card into vpcd until stopped.
//!
//! The card is loaded from an image file and, unless `--no-save`, every persistent
//! change is written back to that file before the card answers, so the card keeps
//! what the terminal wrote to it. The fault flags let tests pull the card or hang it
//! at an exact APDU (see `crate::vcard::fault`).

use std::path::PathBuf;
use std::time::Duration;

use crate::vcard::malice;
use crate::vcard::timing::Timing;
use crate::vcard::{self, Card, FaultPlan, VcardError, VpcdConfig, WireBehaviour};

/// Arguments of `sscard vcard`.
#[derive(clap::Args, Debug, Clone)]
pub struct VcardArgs {
    /// Card image (JSON, see cards/README.md), e.g. cards/ssc-2.00.json.
    #[arg(long, value_name = "FILE")]
    pub image: PathBuf,

    /// vpcd port of the reader slot (35963 = "Virtual PCD 00 00", 35964 = "... 00 01").
    #[arg(long, value_name = "P", default_value_t = vcard::vpcd::DEFAULT_PORT)]
    pub port: u16,

    /// Host where vpcd (pcscd) runs.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Keep changes in memory only; the image file is never written.
    #[arg(long)]
    pub no_save: bool,

    /// Exit (status 0, state saved) when the card is removed by a fault or vpcd closes
    /// the link, instead of re-inserting it.
    #[arg(long)]
    pub once: bool,

    /// Pause before re-inserting the card after a fault removal.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = super::bounds::millis)]
    pub reinsert_ms: u64,

    /// Give up when vpcd does not accept the connection within this time.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = super::bounds::whole_seconds)]
    pub connect_timeout: u64,

    /// Fault: remove the card instead of answering the Nth APDU (1-based; control
    /// messages such as get-ATR do not count). The command has no effect.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=u32::MAX as u64))]
    pub remove_before: Option<u64>,

    /// Fault: answer the Nth APDU, then remove the card.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=u32::MAX as u64))]
    pub remove_after: Option<u64>,

    /// Fault: stop answering after N APDUs, keeping the card inserted (a hung card).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=u32::MAX as u64))]
    pub mute_after: Option<u64>,

    /// Delay each answer by U microseconds.
    #[arg(long, value_name = "U", default_value_t = 0, value_parser = super::bounds::micros)]
    pub delay_apdu_us: u64,

    /// Delay each answer by U microseconds per byte of command and answer
    /// (9600 baud T=0 is about 1040).
    #[arg(long, value_name = "U", default_value_t = 0, value_parser = super::bounds::micros)]
    pub delay_byte_us: u64,

    /// Write the running APDU count to this file after each APDU.
    #[arg(long, value_name = "FILE")]
    pub count_file: Option<PathBuf>,

    /// Timing model: `none`, or `real-card` (T=0 at 9600 baud: 1040 us per byte each
    /// way, 2000 us per command, 8000 us per EEPROM write), optionally followed by
    /// overrides such as `,byte=1040,command=2000,write=8000` (see src/vcard/timing.rs).
    #[arg(long, value_name = "MODEL", default_value = "none")]
    pub timing: Timing,

    /// Misbehave on purpose, to test terminals (see src/vcard/malice.rs).
    #[arg(long, value_name = "MODE")]
    pub malice: Option<malice::Mode>,

    /// Accept every structured class byte (logical channels 0-19, secure messaging,
    /// proprietary), but answer 6E00 to a GET RESPONSE or 6Cxx resend whose class is
    /// not the command's (ISO/IEC 7816-4 §5.4.1; see src/vcard/front.rs).
    #[arg(long)]
    pub strict_class: bool,

    /// Answer the command CMD with RESP (hex, status word included) instead of the
    /// card, e.g. --answer C0A4000002EF05=6114. Repeatable.
    #[arg(long = "answer", value_name = "CMD=RESP")]
    pub answers: Vec<vcard::front::ScriptedAnswer>,

    /// Append every APDU received (`> ...`), its answer (`< ...`) and each warm reset
    /// (`reset`) to FILE, secrets as `..` as in sscard's trace. Created mode 0600.
    #[arg(long, value_name = "FILE")]
    pub apdu_log: Option<PathBuf>,
}

impl VcardArgs {
    /// The fault plan the flags describe.
    pub fn fault_plan(&self) -> FaultPlan {
        FaultPlan {
            remove_before: self.remove_before,
            remove_after: self.remove_after,
            mute_after: self.mute_after,
            delay_apdu: Duration::from_micros(self.delay_apdu_us),
            delay_byte: Duration::from_micros(self.delay_byte_us),
        }
    }

    /// The connector settings the flags describe.
    pub fn vpcd_config(&self) -> VpcdConfig {
        VpcdConfig {
            host: self.host.clone(),
            port: self.port,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            reinsert_delay: Duration::from_millis(self.reinsert_ms),
            once: self.once,
            save_to: (!self.no_save).then(|| self.image.clone()),
            count_file: self.count_file.clone(),
            apdu_log: self.apdu_log.clone(),
            answers: self.answers.clone(),
        }
    }
}

/// Runs `sscard vcard`: loads the image and serves vpcd until stopped (or, with
/// `--once`, until the first removal).
pub fn run(args: &VcardArgs) -> Result<(), VcardError> {
    let mut card = Card::load(&args.image)?;
    let plan = args.fault_plan();
    if !plan.is_empty() {
        log::info!("vcard: fault plan {plan:?}");
    }
    let behaviour = WireBehaviour {
        timing: args.timing,
        malice: args.malice,
        strict_class: args.strict_class,
    };
    if !behaviour.timing.is_none() {
        log::info!("vcard: timing model {}", behaviour.timing);
    }
    if let Some(m) = behaviour.malice {
        log::warn!("vcard: malicious mode {m}: this card misbehaves on purpose");
    }
    vcard::serve_with(&mut card, &args.vpcd_config(), plan, behaviour)
}
