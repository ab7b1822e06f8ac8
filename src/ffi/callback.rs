//! A C callback: function, `user_data`, and the `drop_user_data` that runs exactly once,
//! after the last call has returned (when the last reference goes).

use std::ffi::c_void;

/// Frees a callback's `user_data`; runs exactly once, after the callback's last call.
pub type midge_drop_cb = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

pub(crate) struct CCallback<F: Copy> {
    pub(crate) f: F,
    pub(crate) user_data: *mut c_void,
    drop_user_data: midge_drop_cb,
}

// SAFETY: the C API documents that callbacks run on midge's threads: by registering one the
// application promises that `f` and `user_data` may be used from them. midge never calls one
// callback concurrently with itself for one client.
unsafe impl<F: Copy> Send for CCallback<F> {}
// SAFETY: as above; the struct is only read.
unsafe impl<F: Copy> Sync for CCallback<F> {}

impl<F: Copy> CCallback<F> {
    pub(crate) fn new(f: F, user_data: *mut c_void, drop_user_data: midge_drop_cb) -> Self {
        Self {
            f,
            user_data,
            drop_user_data,
        }
    }
}

impl<F: Copy> Drop for CCallback<F> {
    fn drop(&mut self) {
        if let Some(drop_user_data) = self.drop_user_data {
            // SAFETY: the application registered this function to free `user_data`; this is
            // its one call, after the last call of the callback.
            unsafe { drop_user_data(self.user_data) };
        }
    }
}

impl<F: Copy> std::fmt::Debug for CCallback<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CCallback")
            .field("user_data", &self.user_data)
            .finish_non_exhaustive()
    }
}
