//! Status words (ISO/IEC 7816-4 §5.6) as an enum with a human meaning for each.
//!
//! Callers match on variants instead of comparing hex, and the variants that carry a
//! number (`61xx` bytes available, `6Cxx` exact length, `63Cx` tries left) hand it over
//! typed. `Status::from(sw).code() == sw` for every `u16`, so nothing is lost in the
//! conversion; that is tested over all 65536 values.

use std::fmt;

/// A status word SW1 SW2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `9000`: normal processing.
    Success,
    /// `61xx`: xx more bytes available by GET RESPONSE (`00` = 256).
    BytesAvailable(u8),
    /// `6Cxx`: wrong Le; resend with Le = xx.
    WrongLe(u8),
    /// `63Cx`: verification failed, x tries left.
    TriesLeft(u8),
    /// `6281`: part of returned data may be corrupted.
    DataMayBeCorrupted,
    /// `6282`: end of file or record reached before Le bytes.
    EndOfFile,
    /// `6300`: verification failed, no counter given.
    VerificationFailed,
    /// `6581`: memory failure.
    MemoryFailure,
    /// `6700`: wrong length.
    WrongLength,
    /// `6881`: logical channel not supported.
    ChannelNotSupported,
    /// `6882`: secure messaging not supported.
    SecureMessagingNotSupported,
    /// `6981`: command incompatible with file structure.
    IncompatibleFileStructure,
    /// `6982`: security status not satisfied.
    SecurityNotSatisfied,
    /// `6983`: authentication method blocked.
    AuthBlocked,
    /// `6984`: reference data not usable (e.g. no fresh challenge).
    ReferenceDataNotUsable,
    /// `6985`: conditions of use not satisfied.
    ConditionsNotSatisfied,
    /// `6986`: command not allowed (no current EF).
    NoCurrentEf,
    /// `6A80`: incorrect parameters in the data field.
    IncorrectData,
    /// `6A81`: function not supported.
    FunctionNotSupported,
    /// `6A82`: file or application not found.
    FileNotFound,
    /// `6A83`: record not found.
    RecordNotFound,
    /// `6A84`: not enough memory space in the file.
    NotEnoughMemory,
    /// `6A86`: incorrect P1 P2.
    IncorrectP1P2,
    /// `6A88`: referenced data (key) not found.
    ReferencedDataNotFound,
    /// `6B00`: wrong parameters P1 P2 (offset outside the EF).
    WrongP1P2,
    /// `6D00`: instruction not supported.
    InsNotSupported,
    /// `6E00`: class not supported.
    ClaNotSupported,
    /// `6F00`: no precise diagnosis.
    NoDiagnosis,
    /// Any other status word.
    Other(u16),
}

impl Status {
    /// The two status bytes as one number.
    pub fn code(self) -> u16 {
        use Status::*;
        match self {
            Success => 0x9000,
            BytesAvailable(n) => 0x6100 | n as u16,
            WrongLe(n) => 0x6C00 | n as u16,
            TriesLeft(n) => 0x63C0 | (n & 0x0F) as u16,
            DataMayBeCorrupted => 0x6281,
            EndOfFile => 0x6282,
            VerificationFailed => 0x6300,
            MemoryFailure => 0x6581,
            WrongLength => 0x6700,
            ChannelNotSupported => 0x6881,
            SecureMessagingNotSupported => 0x6882,
            IncompatibleFileStructure => 0x6981,
            SecurityNotSatisfied => 0x6982,
            AuthBlocked => 0x6983,
            ReferenceDataNotUsable => 0x6984,
            ConditionsNotSatisfied => 0x6985,
            NoCurrentEf => 0x6986,
            IncorrectData => 0x6A80,
            FunctionNotSupported => 0x6A81,
            FileNotFound => 0x6A82,
            RecordNotFound => 0x6A83,
            NotEnoughMemory => 0x6A84,
            IncorrectP1P2 => 0x6A86,
            ReferencedDataNotFound => 0x6A88,
            WrongP1P2 => 0x6B00,
            InsNotSupported => 0x6D00,
            ClaNotSupported => 0x6E00,
            NoDiagnosis => 0x6F00,
            Other(sw) => sw,
        }
    }

    /// From SW1 and SW2.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        Status::from(u16::from_be_bytes([sw1, sw2]))
    }

    /// Whether the command succeeded (`9000`).
    pub fn is_success(self) -> bool {
        self == Status::Success
    }

    /// What the status word means, in words a technician reads.
    pub fn meaning(self) -> String {
        use Status::*;
        match self {
            Success => "success".into(),
            BytesAvailable(n) => format!(
                "{} bytes available by GET RESPONSE",
                if n == 0 { 256 } else { n as usize }
            ),
            WrongLe(n) => format!("wrong length Le; the exact length is {n}"),
            TriesLeft(n) => format!("verification failed, {n} tries left"),
            DataMayBeCorrupted => "part of the returned data may be corrupted".into(),
            EndOfFile => "end of file or record reached before Le bytes".into(),
            VerificationFailed => "verification failed".into(),
            MemoryFailure => "memory failure".into(),
            WrongLength => "wrong length".into(),
            ChannelNotSupported => "logical channel not supported".into(),
            SecureMessagingNotSupported => "secure messaging not supported".into(),
            IncompatibleFileStructure => "command incompatible with the file structure".into(),
            SecurityNotSatisfied => "security status not satisfied".into(),
            AuthBlocked => "authentication method blocked".into(),
            ReferenceDataNotUsable => "reference data not usable (no fresh challenge?)".into(),
            ConditionsNotSatisfied => "conditions of use not satisfied".into(),
            NoCurrentEf => "command not allowed: no current EF".into(),
            IncorrectData => "incorrect parameters in the data field".into(),
            FunctionNotSupported => "function not supported".into(),
            FileNotFound => "file or application not found".into(),
            RecordNotFound => "record not found".into(),
            NotEnoughMemory => "not enough memory space in the file".into(),
            IncorrectP1P2 => "incorrect parameters P1-P2".into(),
            ReferencedDataNotFound => "referenced data (key) not found".into(),
            WrongP1P2 => "wrong parameters P1-P2".into(),
            InsNotSupported => "instruction not supported".into(),
            ClaNotSupported => "class not supported".into(),
            NoDiagnosis => "no precise diagnosis".into(),
            Other(sw) => match sw >> 8 {
                0x62 | 0x63 => "warning, non-volatile memory state".into(),
                0x64 | 0x65 => "execution error".into(),
                0x67..=0x6F => "checking error".into(),
                0x90 => "success with proprietary info".into(),
                _ => "unknown status".into(),
            },
        }
    }
}

impl From<u16> for Status {
    fn from(sw: u16) -> Self {
        use Status::*;
        let low = (sw & 0xFF) as u8;
        match sw {
            0x9000 => Success,
            0x6100..=0x61FF => BytesAvailable(low),
            0x6C00..=0x6CFF => WrongLe(low),
            0x63C0..=0x63CF => TriesLeft(low & 0x0F),
            0x6281 => DataMayBeCorrupted,
            0x6282 => EndOfFile,
            0x6300 => VerificationFailed,
            0x6581 => MemoryFailure,
            0x6700 => WrongLength,
            0x6881 => ChannelNotSupported,
            0x6882 => SecureMessagingNotSupported,
            0x6981 => IncompatibleFileStructure,
            0x6982 => SecurityNotSatisfied,
            0x6983 => AuthBlocked,
            0x6984 => ReferenceDataNotUsable,
            0x6985 => ConditionsNotSatisfied,
            0x6986 => NoCurrentEf,
            0x6A80 => IncorrectData,
            0x6A81 => FunctionNotSupported,
            0x6A82 => FileNotFound,
            0x6A83 => RecordNotFound,
            0x6A84 => NotEnoughMemory,
            0x6A86 => IncorrectP1P2,
            0x6A88 => ReferencedDataNotFound,
            0x6B00 => WrongP1P2,
            0x6D00 => InsNotSupported,
            0x6E00 => ClaNotSupported,
            0x6F00 => NoDiagnosis,
            other => Other(other),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.code(), self.meaning())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_word_round_trips() {
        for sw in 0..=u16::MAX {
            assert_eq!(Status::from(sw).code(), sw, "{sw:04X}");
        }
    }

    #[test]
    fn data_carrying_variants() {
        assert_eq!(Status::from(0x611E), Status::BytesAvailable(0x1E));
        assert_eq!(Status::from(0x6C10), Status::WrongLe(0x10));
        assert_eq!(Status::from(0x63C2), Status::TriesLeft(2));
        assert_eq!(Status::from_bytes(0x90, 0x00), Status::Success);
        assert_eq!(
            Status::TriesLeft(3).to_string(),
            "63C3 (verification failed, 3 tries left)"
        );
        assert_eq!(Status::Other(0x9F10).meaning(), "unknown status");
    }
}
