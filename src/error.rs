//! The public error: one enum folding every layer's error, mapped to the C result enum in
//! exactly one place (the C API).

use std::sync::Arc;

use crate::codec::CodecError;
use crate::protocol::{ConnectRefusal, DisconnectCause, RequestError};
use crate::transport::TransportError;

/// Everything a midge call can fail with.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A packet broke a rule of the standard.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A request was refused before sending, or ended without its acknowledgement.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A bad broker address or an unsupported transport.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The server refused the connection (CONNACK with a failure reason code).
    #[error("{}", crate::protocol::DisconnectCause::Refused((**.0).clone()))]
    ConnectionRefused(Box<ConnectRefusal>),
    /// The connection ended before the request completed.
    #[error("{0}")]
    Disconnected(Box<DisconnectCause>),
    /// The wait ended before the request completed; the request itself goes on.
    #[error("timed out")]
    Timeout,
    /// The client was closed.
    #[error("client closed")]
    Closed,
    /// A wait on midge's own I/O thread (from an authenticator), which could never end.
    #[error("waiting on midge's I/O thread would deadlock")]
    WouldDeadlock,
    /// An argument the API cannot use.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An operating-system error.
    #[error("I/O error: {0}")]
    Io(Arc<std::io::Error>),
    /// The persistence store failed (full, I/O, locked, a C store's callback).
    #[error(transparent)]
    Store(Arc<crate::store::StoreError>),
}

impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Store(Arc::new(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Io(Arc::new(e))
    }
}

impl From<DisconnectCause> for Error {
    fn from(cause: DisconnectCause) -> Self {
        match cause {
            DisconnectCause::Refused(r) => Self::ConnectionRefused(Box::new(r)),
            other => Self::Disconnected(Box::new(other)),
        }
    }
}
