//! libsscard.so: the national social security card reader interface for C programs.
//!
//! Desk software written against a vendor's driver (`iReadCardBas` and friends, the
//! national terminal interface, docs/spec/national-interface.md) links this library
//! instead and keeps its code. Each export has the documented signature, returns the
//! documented code (0 success, negative a failure; `sscard::national::NationalError`)
//! and writes GBK, NUL-terminated text to the caller's buffer.
//!
//! Why it is shaped as it is:
//! - **No flags**: reader, PSAM and keys come from the desk configuration, the same
//!   file the command line reads (`$SSCARD_CONFIG`, else /etc/sscard/sscard.toml),
//!   read at every call; `$SSCARD_DEVICE_ID` gives the device number and
//!   `$SSCARD_PIN_FILE` an automation PIN source (else the terminal asks).
//! - **Thread safe**: every call holds one global mutex around the desk's
//!   `National` (a desk has one card reader, so this is the per-reader lock); it also
//!   keeps an HSM Step1 → Step2 pair from being interleaved with another call.
//! - **No unwinding into C**: each export runs inside `catch_unwind`; a panic (a bug)
//!   returns −5 instead of aborting the caller's process.
//! - **Buffers**: `pOutInfo` is caller-allocated; at most [`SSCARD_OUT_LEN`] bytes (NUL
//!   included) are ever written, as the interface requires. On failure it holds a
//!   short message (Chinese / English).
//! - **First use** (`iActivateCard_FirstUse`, sscard's own name: the national
//!   interface has none): the desk's activation core and journal, as `sscard activate
//!   first-use`, so the desk's recovery sees what a HIS call did.
//! - **Linux C ABI**: `extern "C"` (the Windows `__stdcall` does not apply to a .so).
//!
//! `SSCARD_NATIONAL_TRACE=1` prints, for each call, the APDUs exchanged with the
//! card and each failure's detail (never a PIN or key) to standard error.
#![allow(non_snake_case)]

use sscard_core::national::{gbk, Failure, National, NationalError};
use std::ffi::{c_char, c_int, c_long};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use zeroize::Zeroizing;

/// The most bytes written to `pOutInfo`, the terminating NUL included.
pub const SSCARD_OUT_LEN: usize = 1024;

/// The longest `pKey` read (bytes before its NUL); a longer one is refused (−14).
pub const SSCARD_PKEY_MAX: usize = 1024;

/// The desk, built at the first call.
static DESK: Mutex<Option<National>> = Mutex::new(None);

/// Writes `text` as GBK + NUL into `out` (at most [`SSCARD_OUT_LEN`] bytes, never cutting a
/// character: text that does not fit is replaced by an error).
///
/// # Safety
/// `out` must be valid for [`SSCARD_OUT_LEN`] bytes of writes.
unsafe fn write_out(out: *mut c_char, text: &str) -> Result<(), Failure> {
    let bytes = gbk(text);
    if bytes.len() >= SSCARD_OUT_LEN {
        return Err(Failure::new(
            NationalError::InvalidData,
            format!(
                "the answer is {} bytes, the buffer {SSCARD_OUT_LEN}",
                bytes.len()
            ),
        ));
    }
    // SAFETY: the caller guarantees SSCARD_OUT_LEN writable bytes; bytes.len() + 1 <= SSCARD_OUT_LEN.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.cast::<u8>(), bytes.len());
        *out.add(bytes.len()) = 0;
    }
    Ok(())
}

/// One `SSCARD_NATIONAL_TRACE` line on standard error, when asked for. Write errors
/// are ignored: `eprintln!` panics when stderr is a closed pipe and the caller ignores
/// SIGPIPE (Python does), and a panic outside `catch_unwind` aborts the caller.
fn trace(line: std::fmt::Arguments<'_>) {
    if std::env::var_os("SSCARD_NATIONAL_TRACE").is_some() {
        use std::io::Write;
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Runs one national function under the desk lock, catching panics, and turns its
/// outcome into the return code and `pOutInfo`.
///
/// # Safety
/// `out` must be null or valid for [`SSCARD_OUT_LEN`] bytes of writes.
unsafe fn call(
    name: &str,
    out: *mut c_char,
    f: impl FnOnce(&mut National) -> Result<String, Failure>,
) -> c_long {
    if out.is_null() {
        return c_long::from(NationalError::BadParameter.code());
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut guard = DESK.lock().unwrap_or_else(|poisoned| {
            // A panic inside a call: start again from a fresh desk.
            let mut g = poisoned.into_inner();
            *g = None;
            g
        });
        if guard.is_none() {
            *guard = Some(National::from_environment()?);
        }
        match guard.as_mut() {
            Some(n) => {
                let r = f(n);
                trace(format_args!(
                    "libsscard: {name}: {} APDUs ({} bytes) with the card",
                    n.last_apdus, n.last_bytes
                ));
                r
            }
            None => Err(Failure::new(NationalError::LoadFailure, "no desk")),
        }
    }))
    .unwrap_or_else(|_| {
        Err(Failure::new(
            NationalError::LoadFailure,
            "internal error (a panic, caught)",
        ))
    });
    let outcome = match outcome {
        // SAFETY: forwarded from the caller.
        Ok(text) => unsafe { write_out(out, &text) }.map(|()| 0),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            trace(format_args!("libsscard: {name}: {e}"));
            let msg = e.out_info();
            // SAFETY: forwarded from the caller. The message is short; should it not
            // fit, the buffer is left an empty string.
            if unsafe { write_out(out, &msg) }.is_err() {
                unsafe { *out = 0 };
            }
            c_long::from(e.code())
        }
    }
}

/// Reads the basic line of the social security card in the desk's reader: 11 fields,
/// each followed by `|` (region, social security number, card number, card
/// identifier, name, ATR historical bytes, spec version, issue date, expiry date,
/// terminal number, device number), GBK.
///
/// `iType`: 1 contact, 3 or 4 automatic (served by the contact reader); 2
/// (contactless) returns −1; other values −14.
///
/// Returns 0, or: −1 wrong card, −2 no card, −4 the card does not answer, −5 bad
/// configuration, −11 reader, −14 bad parameter, −23 invalid card data, −2201 a 3.00
/// card and no PSAM (use the HSM steps), −2202/−2203 the PSAM lacks the algorithm/key,
/// any other card status word as minus its decimal value.
///
/// # Safety
/// `pOutInfo` must point to at least 1024 writable bytes (or be null: −14).
#[no_mangle]
pub unsafe extern "C" fn iReadCardBas(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract, forwarded.
    unsafe { call("iReadCardBas", pOutInfo, |n| n.read_card_bas(iType)) }
}

/// First half of an HSM-assisted read (3.00 cards without a local PSAM): writes
/// `region|ATR historical bytes|algorithm id|card identifier|internal auth factor|
/// internal auth random|external auth factor|external auth random|device number|` for
/// the back office's encryption machine. The card stays connected for
/// `iReadCardBas_HSM_Step2`; any other call in between ends the session.
///
/// Returns 0, −2204 for a card that needs no HSM (use `iReadCardBas`), −21 when the
/// card's internal authentication fails, or the codes of `iReadCardBas`.
///
/// # Safety
/// As `iReadCardBas`.
#[no_mangle]
pub unsafe extern "C" fn iReadCardBas_HSM_Step1(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract, forwarded.
    unsafe { call("iReadCardBas_HSM_Step1", pOutInfo, |n| n.hsm_step1(iType)) }
}

/// Second half of an HSM-assisted read: `pKey` is the back office's answer,
/// `<internal result hex>|<external cryptogram hex>|` (or the two run together);
/// writes the basic line as `iReadCardBas` does.
///
/// Returns 0, −14 without a Step1 session or for a malformed `pKey`, −25 when the
/// HSM's internal authentication result differs from the card's, the card's refusal
/// of the cryptogram as minus its status word (e.g. `63C4` → −25540), or the codes of
/// `iReadCardBas`.
///
/// # Safety
/// `pKey` must be null (−14) or a NUL-terminated string; at most 1024 bytes before the
/// NUL are read. `pOutInfo` as `iReadCardBas`.
#[no_mangle]
pub unsafe extern "C" fn iReadCardBas_HSM_Step2(
    pKey: *mut c_char,
    pOutInfo: *mut c_char,
) -> c_long {
    // SAFETY: the caller's contract, forwarded.
    let key = unsafe { read_pkey(pKey) };
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        call("iReadCardBas_HSM_Step2", pOutInfo, |n| {
            let key = key?;
            n.hsm_step2(&key)
        })
    }
}

/// Reads `pKey` (bounded, ASCII).
///
/// # Safety
/// `p` null or NUL-terminated within [`SSCARD_PKEY_MAX`] + 1 readable bytes.
unsafe fn read_pkey(p: *const c_char) -> Result<Zeroizing<String>, Failure> {
    let bad = |why: &str| Failure::new(NationalError::BadParameter, format!("pKey: {why}"));
    if p.is_null() {
        return Err(bad("null"));
    }
    let mut bytes = Vec::new();
    for i in 0..=SSCARD_PKEY_MAX {
        // SAFETY: reading up to the NUL, which the caller guarantees within the bound.
        let b = unsafe { *p.add(i) } as u8;
        if b == 0 {
            let s = String::from_utf8(bytes).map_err(|_| bad("not ASCII hex"))?;
            return Ok(Zeroizing::new(s));
        }
        bytes.push(b);
    }
    Err(bad(&format!("longer than {SSCARD_PKEY_MAX} bytes")))
}

/// The holder enters the PIN on the desk's PIN device (no PIN argument); VERIFY.
///
/// Returns 0, −51 wrong PIN (tries left in `pOutInfo`'s message), −52 blocked, −33 not
/// 6 digits, −31 entry cancelled, −13 no PIN device, −35 the card is still on its
/// initial PIN (it cannot transact until it is changed), or the codes of
/// `iReadCardBas`. On success `pOutInfo` is an empty string.
///
/// # Safety
/// As `iReadCardBas`.
#[no_mangle]
pub unsafe extern "C" fn iVerifyPIN(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        call("iVerifyPIN", pOutInfo, |n| {
            n.verify_pin(iType).map(|()| String::new())
        })
    }
}

/// The holder enters the current PIN, then the new PIN twice, on the PIN device;
/// CHANGE PIN.
///
/// Returns 0, −34 the two new entries differ, −36 the new PIN is the initial PIN,
/// −33 not 6 digits, −51/−52 the current PIN is wrong/blocked, −31, −13, or the codes
/// of `iReadCardBas`. On success `pOutInfo` is an empty string.
///
/// # Safety
/// As `iReadCardBas`.
#[no_mangle]
pub unsafe extern "C" fn iChangePIN(iType: c_int, pOutInfo: *mut c_char) -> c_long {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        call("iChangePIN", pOutInfo, |n| {
            n.change_pin(iType).map(|()| String::new())
        })
    }
}

/// First use driven by the HIS: activates the medical function of the new social
/// security card in the desk's reader while the hospital's system registers the
/// patient (spec/activation.md, "Window and first-use flows"). The national interface
/// names no such function; this one follows its style (an `int` return code, `iType`
/// first, GBK `pOutInfo` last) and is sscard's own.
///
/// The card must be in the reader and not yet active: it is refused like the
/// pharmacy's step 1 (expired, already active, an unfinished transfer on it), no
/// citizen ID is typed, then EXTERNAL AUTHENTICATE (key 0C in DF04), tags 24 and 25,
/// tag 22 = `01`, and a log record of type `02`, each write announced first in the
/// desk's activation journal: the same journal, keys (PSAM or key file) and terminal
/// number as `sscard activate first-use` (the desk configuration, `$SSCARD_CONFIG`;
/// the journal from `$SSCARD_JOURNAL`, else `journal` there, else the default path).
///
/// `iVerifyHolder`: 0, no PIN; 1, the holder first verifies the card's PIN on the desk's
/// PIN device (as `iVerifyPIN`; never an argument) and, when the card is still on the
/// initial PIN, chooses a new one (entered twice). Other values: −14.
///
/// On success `pOutInfo` is the card's basic line after activation (as
/// `iReadCardBas`). On failure it is the code's meaning (Chinese / English); for −46
/// it also names the journal's transfer id.
///
/// Returns 0, or the codes of `iReadCardBas` (−2 no card, −1 not a social security
/// card, −11 reader, −2201 no PSAM or key file, …), −5 no usable terminal number,
/// −21 the card is not genuine, the PIN codes of `iVerifyPIN`/`iChangePIN` (−51, −52,
/// −31, −33, −34, −36, −13), and sscard's own refusals, after which nothing was
/// written: −41 already active, −42 expired, −43 an unfinished transfer (or a
/// balance without one) on the card, −44 blocked or unknown status, −45 another
/// activation rule; −46 interrupted after the journal entry was written (card pulled,
/// reader lost: run `sscard activate first-use` at the desk, which finishes the card
/// or refuses it as already active); −47 the journal cannot be written. A card status
/// word is minus its decimal value (a wrong write key `63Cx` is −25536 − x).
///
/// # Safety
/// As `iReadCardBas`.
#[no_mangle]
pub unsafe extern "C" fn iActivateCard_FirstUse(
    iType: c_int,
    iVerifyHolder: c_int,
    pOutInfo: *mut c_char,
) -> c_long {
    // SAFETY: the caller's contract, forwarded.
    unsafe {
        call("iActivateCard_FirstUse", pOutInfo, |n| {
            let verify = match iVerifyHolder {
                0 => false,
                1 => true,
                v => {
                    return Err(Failure::new(
                        NationalError::BadParameter,
                        format!("iVerifyHolder {v}: 0 (no PIN) or 1 (the holder verifies the PIN)"),
                    ))
                }
            };
            n.first_use(iType, verify).map(|done| done.line)
        })
    }
}
