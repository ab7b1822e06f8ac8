//! `ffi`: the C ABI, and the only place with `unsafe` and raw pointers (their reads and
//! writes live in `ptr.rs`). `include/midge.h` is generated from these items by cbindgen.
//!
//! The contract, stated once:
//! - Ownership: a function named `_new` (or giving an object through an out-parameter, as
//!   `midge_client_new`, `midge_client_next_event`, `midge_client_request`) gives the
//!   caller an object to free with the matching `_free`. Objects passed to callbacks, and
//!   objects obtained from another object (`midge_event_message`,
//!   `midge_completion_connack`, ...), are borrowed: valid for the callback, or as long as
//!   their owner. `_free(NULL)` does nothing; freeing twice does nothing.
//! - Every function may be called from any thread at any time. Owned handles are checked:
//!   NULL, a freed handle or a handle of another type gives `MIDGE_RESULT_INVALID_ARGUMENT`.
//! - Strings in are NUL-terminated UTF-8 (checked: `MIDGE_RESULT_INVALID_UTF8`); strings
//!   out are NUL-terminated UTF-8. Payloads, passwords and correlation data are pointer +
//!   length, copied on the way in.
//! - Errors: `midge_result` (0 = OK); out-parameters are written only on success;
//!   `midge_last_error_message()` has the detail of the calling thread's last failure.
//!   MQTT reason codes are data: in completions, events and callbacks.
//! - No Rust panic crosses into C: each function runs inside one boundary that turns a
//!   panic into `MIDGE_RESULT_PANIC` (or NULL / 0).
//! - Callbacks run on midge's dispatcher threads, never concurrently for one client, never
//!   with a midge lock held; the authenticator runs on the I/O thread (see
//!   `midge_auth_cb`), and so do a client's callbacks when it asks for inline callbacks
//!   (`midge_options_set_inline_callbacks`).

#![allow(non_camel_case_types)]

mod callback;
mod client;
mod connect;
mod event;
mod handle;
mod message;
mod options;
mod properties;
mod ptr;
mod result;

#[cfg(test)]
mod tests;

use std::ffi::{c_char, c_int};

pub use callback::midge_drop_cb;
pub use client::*;
pub use connect::*;
pub use event::*;
pub use message::*;
pub use options::*;
pub use properties::*;
pub use result::midge_result;

/// The major version of this header.
pub const MIDGE_VERSION_MAJOR: u32 = 0;
/// The minor version of this header.
pub const MIDGE_VERSION_MINOR: u32 = 1;
/// The patch version of this header.
pub const MIDGE_VERSION_PATCH: u32 = 0;
/// The version of this header as one number: `MAJOR << 16 | MINOR << 8 | PATCH`; compare
/// with `midge_version()` to check the library matches.
pub const MIDGE_VERSION_NUMBER: u32 = 0x00_01_00;

/// The library's version as `MAJOR << 16 | MINOR << 8 | PATCH`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_version() -> u32 {
    MIDGE_VERSION_NUMBER
}

/// The library's version as text, e.g. "0.1.0" (static).
#[unsafe(no_mangle)]
pub extern "C" fn midge_version_string() -> *const c_char {
    c"0.1.0".as_ptr()
}

/// A static text for a result (never NULL; "unknown result" for values not listed).
#[unsafe(no_mangle)]
pub extern "C" fn midge_result_str(result: c_int) -> *const c_char {
    let all = [
        midge_result::MIDGE_RESULT_OK,
        midge_result::MIDGE_RESULT_INVALID_ARGUMENT,
        midge_result::MIDGE_RESULT_INVALID_UTF8,
        midge_result::MIDGE_RESULT_INVALID_TOPIC,
        midge_result::MIDGE_RESULT_INVALID_PROPERTY,
        midge_result::MIDGE_RESULT_INVALID_ADDRESS,
        midge_result::MIDGE_RESULT_TOO_LARGE,
        midge_result::MIDGE_RESULT_NOT_SUPPORTED,
        midge_result::MIDGE_RESULT_QUEUE_FULL,
        midge_result::MIDGE_RESULT_TIMEOUT,
        midge_result::MIDGE_RESULT_PENDING,
        midge_result::MIDGE_RESULT_NOT_CONNECTED,
        midge_result::MIDGE_RESULT_CONNECTION_REFUSED,
        midge_result::MIDGE_RESULT_DISCONNECTED,
        midge_result::MIDGE_RESULT_REFUSED,
        midge_result::MIDGE_RESULT_SESSION_LOST,
        midge_result::MIDGE_RESULT_EXPIRED,
        midge_result::MIDGE_RESULT_CLOSED,
        midge_result::MIDGE_RESULT_PROTOCOL_ERROR,
        midge_result::MIDGE_RESULT_IO,
        midge_result::MIDGE_RESULT_NO_PACKET_ID,
        midge_result::MIDGE_RESULT_NOT_FOUND,
        midge_result::MIDGE_RESULT_WOULD_DEADLOCK,
        midge_result::MIDGE_RESULT_PANIC,
    ];
    all.iter()
        .find(|r| **r as c_int == result)
        .map_or(c"unknown result".as_ptr(), |r| r.text().as_ptr())
}

/// The detail of the calling thread's last failed midge call ("" if none): valid until
/// the next failing midge call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn midge_last_error_message() -> *const c_char {
    result::last_error_message()
}

/// The MQTT reason code that came with the calling thread's last failure (a CONNACK,
/// PUBACK/PUBREC/PUBCOMP or DISCONNECT code), or -1.
#[unsafe(no_mangle)]
pub extern "C" fn midge_last_error_reason_code() -> c_int {
    result::last_error_reason_code()
}
