//! What the next connect carries, changed on a live client: the Last Will, the credentials
//! and Clean Start (libmosquitto and Paho C take them at every connect).

use std::ffi::{c_char, c_int};

use super::client::{client, midge_client};
use super::options::qos_from_c;
use super::properties::{midge_properties, properties_arg};
use super::ptr::{bytes_arg, opt_str_arg, str_arg};
use super::result::{guard, midge_result};
use crate::codec::{ByteString, Bytes, Will};

/// Replaces the client's Last Will for the next connect and every automatic reconnection
/// after it; a live connection keeps the Will it connected with. The arguments are those of
/// `midge_options_set_will` (copied; an invalid Will is refused here and the old one stays).
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_set_will(
    client: *mut midge_client,
    topic: *const c_char,
    payload: *const u8,
    len: usize,
    qos: c_int,
    retain: bool,
    properties: *const midge_properties,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let will = Will {
            topic: ByteString::from(str_arg(topic, "topic")?),
            payload: Bytes::copy_from_slice(bytes_arg(payload, len, "payload")?),
            qos: qos_from_c(qos)?,
            retain,
            properties: properties_arg(properties)?,
        };
        c.client.set_will(Some(will))?;
        Ok(())
    })
}

/// Removes the Last Will from the next connect on.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_clear_will(client: *mut midge_client) -> midge_result {
    guard(|| {
        self::client(client)?.client.set_will(None)?;
        Ok(())
    })
}

/// Replaces the User Name (NULL: none) and Password (binary, copied; NULL: none, a
/// non-NULL pointer with length 0: empty) for the next connect and every automatic
/// reconnection after it.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_set_credentials(
    client: *mut midge_client,
    username: *const c_char,
    password: *const u8,
    len: usize,
) -> midge_result {
    guard(|| {
        let c = self::client(client)?;
        let username = opt_str_arg(username, "username")?;
        let password = if password.is_null() {
            None
        } else {
            Some(bytes_arg(password, len, "password")?)
        };
        c.client.set_credentials(username, password)?;
        Ok(())
    })
}

/// Clean Start for the next connection only (the next `midge_client_connect` or automatic
/// reconnection): true starts a new session, false asks the server to resume the one it
/// kept. After that connection, reconnections resume the session again when the session
/// expiry interval is non-zero.
#[unsafe(no_mangle)]
pub extern "C" fn midge_client_set_clean_start(
    client: *mut midge_client,
    clean_start: bool,
) -> midge_result {
    guard(|| {
        self::client(client)?.client.set_clean_start(clean_start)?;
        Ok(())
    })
}
