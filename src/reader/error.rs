//! Mapping of PC/SC errors to the transport errors users see.

use crate::apdu::TransportError;

/// Maps a pcsc error, naming the reader where that helps.
pub fn map(err: pcsc::Error, reader: &str) -> TransportError {
    use pcsc::Error as E;
    match err {
        E::NoService | E::ServiceStopped | E::NoDir | E::NoFile => {
            TransportError::NoService(err.to_string())
        }
        // What a call blocked in pcscd gets when pcscd stops under it
        // (SCARD_F_COMM_ERROR), and what a context from before a pcscd restart gets
        // afterwards (SCARD_E_INVALID_HANDLE): both mean "pcscd went away", which is
        // exit 3, not a card fault.
        E::CommError | E::InvalidHandle => {
            TransportError::NoService(format!("lost the connection to pcscd ({err})"))
        }
        // pcscd refusing a client (polkit, or a daemon shutting down under a pending
        // request) is a pcscd problem, exit 3, not a card one.
        E::SecurityViolation => {
            TransportError::NoService(format!("pcscd refused the request ({err})"))
        }
        E::NoReadersAvailable => TransportError::NoReaders,
        E::UnknownReader | E::ReaderUnavailable => TransportError::UnknownReader(reader.into()),
        E::NoSmartcard => TransportError::NoCard(reader.into()),
        // NotTransacted is what pcsc-lite answers on a handle whose card vanished.
        E::RemovedCard
        | E::UnpoweredCard
        | E::UnresponsiveCard
        | E::CommDataLost
        | E::NotTransacted => TransportError::CardRemoved,
        E::ResetCard => TransportError::CardReset,
        E::SharingViolation => TransportError::Busy,
        other => TransportError::Pcsc(other.to_string()),
    }
}
