//! midge: an MQTT v5 client library with a Rust core and a stable C ABI.
//!
//! Layers, each importing only those before it:
//! - [`codec`]: bytes <-> MQTT 5.0 packets, no state, no clock, no I/O.
//! - [`protocol`]: the client session as a state machine; time is passed in.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod codec;
pub mod protocol;

// The README's Rust examples are compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
