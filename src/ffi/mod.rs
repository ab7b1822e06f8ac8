//! `ffi`: the C ABI, and the only place with `unsafe` and raw pointers (their reads and
//! writes live in `ptr.rs`). `include/midge.h` is generated from these items by cbindgen;
//! the module is private to the crate: its functions are the C API, not a Rust one.
//!
//! The contract, stated once (the header's opening comment says the same, in C terms):
//! - Ownership, one model for every type: every object is reached through a handle, a key
//!   that is never reused (`handle.rs`). A handle is *owned* when a function gives it to
//!   the caller (`_new`, an out-parameter such as `midge_client_new`'s `client`,
//!   `midge_client_next_event`'s `event`, a `completion`, `midge_client_connect_wait`'s
//!   `connack`, `midge_client_request`'s `reply`, and `_clone`): the caller frees it once
//!   with the type's `_free`, which takes the ADDRESS of the caller's variable and sets it
//!   to NULL. A handle is *lent* when it comes as a callback argument (valid until the
//!   callback returns) or from another object (`midge_event_message`,
//!   `midge_completion_ack`, ...: valid as long as that object); `_clone` gives an owned
//!   handle on a lent message or CONNACK. `_free` of NULL, of a NULL variable, of a lent
//!   handle, or of a stale copy of a freed handle does nothing; every other function given
//!   a dead handle (freed, stale copy, lent and expired, of another type) returns
//!   `MIDGE_RESULT_INVALID_ARGUMENT` (or NULL / 0 / false): a stale handle never reaches
//!   another object.
//! - Every function may be called from any thread at any time.
//! - Absent values: an optional value is read as `bool f(obj, T *out)`: true and `*out`
//!   written when present, false and `*out` untouched when absent. Every property a server
//!   sent can be walked with `_property_count` / `_property_at` (O(1) per index).
//! - Strings in are NUL-terminated UTF-8 (checked: `MIDGE_RESULT_INVALID_UTF8`); strings
//!   out are NUL-terminated UTF-8. Payloads, passwords and correlation data are pointer +
//!   length, copied on the way in.
//! - Errors: `midge_result` is an `int32_t` (0 = OK, `MIDGE_RESULT_*` constants);
//!   out-parameters are written only on success; `midge_last_error_message()` has the
//!   detail of the calling thread's last failure. MQTT reason codes are data: in
//!   `midge_ack`, causes and `midge_last_error_reason_code()`. A value a callback returns
//!   is checked, never trusted.
//! - No Rust panic crosses into C: each function runs inside one boundary that turns a
//!   panic into `MIDGE_RESULT_PANIC` (or NULL / 0). Built with `panic = "abort"` (cargo
//!   profile `size-abort`, docs/size.md) the boundary catches nothing: a panic aborts the
//!   process, which the header states as that build's exception.
//! - Callbacks run on midge's dispatcher threads, never concurrently for one client, never
//!   with a midge lock held; the authenticator runs on the I/O thread (see
//!   `midge_auth_cb`), and so do a client's callbacks when it asks for inline callbacks
//!   (`midge_options_set_inline_callbacks`).

#![allow(non_camel_case_types)]

mod ack;
mod callback;
mod client;
mod connect;
mod event;
mod handle;
mod message;
mod options;
mod properties;
mod properties_view;
mod ptr;
mod result;
mod shutdown;
mod stats;
mod store;
mod tls;
mod topic;

#[cfg(test)]
mod tests;

use std::ffi::{CStr, c_char};

// The whole C API in one namespace, for the unit tests that call it as C does.
#[cfg(test)]
use {
    ack::*, client::*, event::*, message::*, options::auth::*, options::*, properties::*,
    properties_view::midge_property, result::*,
};

/// The major version of this header. The shared library's SONAME is `libmidge.so.MAJOR`:
/// it changes only with an incompatible ABI change (the committed `abi/libmidge.abi`
/// baseline is checked on every build).
pub const MIDGE_VERSION_MAJOR: u32 = 1;
/// The minor version of this header: functions were added.
pub const MIDGE_VERSION_MINOR: u32 = 0;
/// The patch version of this header.
pub const MIDGE_VERSION_PATCH: u32 = 0;
/// The version of this header as one number: `MAJOR << 16 | MINOR << 8 | PATCH`; compare
/// with `midge_version()` to check the library matches.
pub const MIDGE_VERSION_NUMBER: u32 = 0x01_00_00;

/// The crate's version (Cargo.toml), NUL-terminated: the one source of the text.
const VERSION_TEXT: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(text) => text,
        Err(_) => panic!("the crate version is one line of text"),
    };

/// The library's version as `MAJOR << 16 | MINOR << 8 | PATCH`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_version() -> u32 {
    MIDGE_VERSION_NUMBER
}

/// The library's version as text, e.g. "1.0.0" (static).
#[unsafe(no_mangle)]
pub extern "C" fn midge_version_string() -> *const c_char {
    VERSION_TEXT.as_ptr()
}

/// A static text for a result (never NULL; "unknown result" for a value that is not one).
#[unsafe(no_mangle)]
pub extern "C" fn midge_result_str(result: result::midge_result) -> *const c_char {
    result::text(result).map_or(c"unknown result".as_ptr(), CStr::as_ptr)
}

/// The detail of the calling thread's last failed midge call ("" if none): valid until
/// the next failing midge call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn midge_last_error_message() -> *const c_char {
    result::last_error_message()
}

/// The MQTT reason code that came with the calling thread's last failure (a CONNACK,
/// PUBACK/PUBREC/PUBCOMP or DISCONNECT code) to `reason_code`; false when it had none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_last_error_reason_code(reason_code: *mut u8) -> bool {
    result::guard_value(false, || match result::last_error_reason_code() {
        Some(code) => {
            ptr::write_opt(reason_code, code);
            true
        }
        None => false,
    })
}

/// The name of an MQTT 5.0 property identifier as the standard's table 2-4 gives it
/// ("Receive Maximum" for 0x21; static text; "unknown" for a value the table does not
/// list): for printing what `_property_at` walks.
#[unsafe(no_mangle)]
pub extern "C" fn midge_property_name(id: u8) -> *const c_char {
    let name: &'static std::ffi::CStr = match id {
        0x01 => c"Payload Format Indicator",
        0x02 => c"Message Expiry Interval",
        0x03 => c"Content Type",
        0x08 => c"Response Topic",
        0x09 => c"Correlation Data",
        0x0B => c"Subscription Identifier",
        0x11 => c"Session Expiry Interval",
        0x12 => c"Assigned Client Identifier",
        0x13 => c"Server Keep Alive",
        0x15 => c"Authentication Method",
        0x16 => c"Authentication Data",
        0x17 => c"Request Problem Information",
        0x18 => c"Will Delay Interval",
        0x19 => c"Request Response Information",
        0x1A => c"Response Information",
        0x1C => c"Server Reference",
        0x1F => c"Reason String",
        0x21 => c"Receive Maximum",
        0x22 => c"Topic Alias Maximum",
        0x23 => c"Topic Alias",
        0x24 => c"Maximum QoS",
        0x25 => c"Retain Available",
        0x26 => c"User Property",
        0x27 => c"Maximum Packet Size",
        0x28 => c"Wildcard Subscription Available",
        0x29 => c"Subscription Identifier Available",
        0x2A => c"Shared Subscription Available",
        _ => c"unknown",
    };
    name.as_ptr()
}

/// The name of an MQTT 5.0 reason code as the standard's table 2-6 gives it (static text;
/// "unknown" for a value the table does not list). 0x00 is "Success" (also Normal
/// disconnection and Granted QoS 0 in other packets).
#[unsafe(no_mangle)]
pub extern "C" fn midge_reason_code_str(code: u8) -> *const c_char {
    result::reason_code_text(code).as_ptr()
}
