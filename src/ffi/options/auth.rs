//! Enhanced authentication (4.12) through the C API: the application's step callback as an
//! [`Authenticator`], set on the options with `midge_options_set_authenticator`.

use std::ffi::{c_char, c_void};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{midge_options, with_options};
use crate::codec::Bytes;
use crate::ffi::callback::{CCallback, midge_drop_cb};
use crate::ffi::handle::{self, Loan};
use crate::ffi::ptr::{bytes_arg, str_arg};
use crate::ffi::result::{FfiError, guard, midge_result};
use crate::protocol::Authenticator;

/// What an authenticator callback is asked.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_auth_step {
    /// The server sent AUTH 0x18 (Continue Authentication) with `data`: put the answer in
    /// `response`.
    MIDGE_AUTH_CHALLENGE = 1,
    /// The server accepted (CONNACK or AUTH 0x00) with final `data` to verify; `response`
    /// is unused. Returning an error aborts the connection.
    MIDGE_AUTH_SUCCESS = 2,
}

/// The answer an authenticator callback gives, lent for its call.
///
/// Methods: `midge_auth_response_set`.
#[derive(Debug, Default)]
pub struct midge_auth_response {
    data: Mutex<Option<Vec<u8>>>,
}

/// Enhanced authentication (4.12) step callback. Runs on midge's I/O thread: it must return
/// quickly and may not wait on midge (waiting fails with `MIDGE_RESULT_WOULD_DEADLOCK`).
/// Return `MIDGE_RESULT_OK` to go on; anything else aborts the connection (a value that is
/// not a `midge_result` too, reported as such in the cause's detail).
pub type midge_auth_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        step: midge_auth_step,
        data: *const u8,
        len: usize,
        response: *mut midge_auth_response,
    ) -> midge_result,
>;

#[derive(Debug)]
pub(super) struct AuthSetup {
    method: String,
    initial: Option<Bytes>,
    callback: CCallback<midge_auth_cb>,
}

pub(super) struct CAuthenticator(pub(super) Arc<AuthSetup>);

impl CAuthenticator {
    fn call(&self, step: midge_auth_step, data: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        let Some(f) = self.0.callback.f else {
            return Ok(None);
        };
        let data = data.unwrap_or(&[]);
        let response = Loan::new(Arc::new(midge_auth_response::default()));
        // SAFETY: the application registered `f` for this; the data is valid and the
        // response lent for the call.
        let r = unsafe {
            f(
                self.0.callback.user_data,
                step,
                data.as_ptr(),
                data.len(),
                response.ptr().cast_mut(),
            )
        };
        // Checked, never trusted: C may return any int here.
        crate::ffi::result::from_callback(r, "authenticator")?;
        Ok(response.object().data.lock().take().map(Bytes::from))
    }
}

impl Authenticator for CAuthenticator {
    fn method(&self) -> &str {
        &self.0.method
    }

    fn initial_data(&mut self) -> Option<Bytes> {
        self.0.initial.clone()
    }

    fn challenge(&mut self, data: Option<&[u8]>) -> Result<Option<Bytes>, String> {
        self.call(midge_auth_step::MIDGE_AUTH_CHALLENGE, data)
    }

    fn success(&mut self, data: Option<&[u8]>) -> Result<(), String> {
        self.call(midge_auth_step::MIDGE_AUTH_SUCCESS, data)
            .map(drop)
    }
}

/// Enhanced authentication: the Authentication Method, the initial Authentication Data
/// (may be NULL/0), and the callback that answers the server's challenges (may be NULL when
/// the method needs no challenge). `drop_user_data` (may be NULL) runs once when the last
/// client using it is freed. Re-authenticate later with `midge_client_reauthenticate`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_options_set_authenticator(
    options: *mut midge_options,
    method: *const c_char,
    initial_data: *const u8,
    initial_len: usize,
    callback: midge_auth_cb,
    user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
) -> midge_result {
    // Whatever happens, `user_data` is handed to `drop_user_data` exactly once.
    let setup = CCallback::new(callback, user_data, drop_user_data);
    with_options(options, move |d| {
        let method = str_arg(method, "method")?.to_owned();
        let initial = (!initial_data.is_null())
            .then(|| bytes_arg(initial_data, initial_len, "initial_data"))
            .transpose()?
            .map(Bytes::copy_from_slice);
        d.auth = Some(Arc::new(AuthSetup {
            method,
            initial,
            callback: setup,
        }));
        Ok(())
    })
}

/// Sets the answer to a challenge; the bytes are copied.
#[unsafe(no_mangle)]
pub extern "C" fn midge_auth_response_set(
    response: *mut midge_auth_response,
    data: *const u8,
    len: usize,
) -> midge_result {
    guard(|| {
        if response.is_null() {
            return Err(FfiError::null("response"));
        }
        let bytes = bytes_arg(data, len, "data")?.to_vec();
        handle::with(response.cast_const(), |r| *r.data.lock() = Some(bytes))
            .ok_or_else(|| FfiError::stale("response (valid only during its callback)"))
    })
}
