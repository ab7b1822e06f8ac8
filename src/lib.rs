//! midge: an MQTT v5 client library with a Rust core and a stable C ABI.
//!
//! Layers, each importing only those before it:
//! - [`codec`]: bytes <-> MQTT 5.0 packets, no state, no clock, no I/O.
//! - [`protocol`]: the client session as a state machine; time is passed in.
//! - [`store`]: durable key-value storage for persistence (a checksummed log file, memory,
//!   group commit); no MQTT in it.
//! - [`runtime`]: threads, channels, timers and reconnection; the [`Client`].
//! - [`transport`]: byte streams (TCP, Unix sockets, an in-memory pipe) and DNS.
//! - `ffi` (private): the C ABI (`include/midge.h`); C, C++ and Python reach it, Rust uses
//!   the safe API above.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod codec;
mod error;
// Constants and enums of the C header that Rust code never reads are not dead.
#[allow(dead_code)]
mod ffi;
pub mod protocol;
pub mod runtime;
pub mod store;
pub mod transport;

pub use error::Error;
pub use runtime::{Client, ClientEvent, ClientOptions, ClientStats, Completion, ReconnectPolicy};

// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
