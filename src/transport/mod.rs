//! `transport`: byte pipes under the runtime. No MQTT here: addresses, non-blocking
//! connects, DNS off the I/O thread, and one [`Stream`] type the I/O thread polls.
//!
//! - TCP through socket2: IPv4 and IPv6, `TCP_NODELAY`, socket buffer sizes, a non-blocking
//!   connect whose completion the poller reports ([`connect_start`], [`connect_finished`]).
//!   The connect timeout is the runtime's deadline, since the connect never blocks.
//! - Unix domain sockets ([`connect_unix`]).
//! - An in-memory pipe ([`pipe`]) for tests and benchmarks: a connected socket pair with
//!   no network underneath.
//! - [`Resolver`]: DNS on a small fixed pool of threads, so neither the I/O thread nor a
//!   caller of a non-blocking call waits for a name server.
//!
//! [`Stream`] is an enum so that TLS and WebSocket slot in as further variants.

mod address;
mod resolver;
mod stream;

pub use address::{Address, DEFAULT_PORT};
pub use resolver::Resolver;
pub use stream::{Stream, TcpOptions, connect_finished, connect_start, connect_unix, pipe};

/// A broker address midge cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The address does not parse.
    #[error("invalid broker address {address:?}: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },
    /// A scheme midge does not (yet) speak, e.g. `mqtts://` or `ws://`.
    #[error("unsupported scheme {0:?} (supported: mqtt://, tcp://, unix://)")]
    UnsupportedScheme(String),
}
