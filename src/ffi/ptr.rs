//! The raw-pointer helpers: every read of memory the C caller passes in, and every write to
//! its out-parameters, happens here.

use std::ffi::{CStr, CString, c_char};

use super::result::FfiError;

/// A NUL-terminated UTF-8 string argument; NULL and invalid UTF-8 are errors.
pub(crate) fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, FfiError> {
    if ptr.is_null() {
        return Err(FfiError::null(what));
    }
    // SAFETY: the caller promises a NUL-terminated string that stays valid for the call.
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map_err(|_| FfiError::Utf8(what.to_owned()))
}

/// Like [`str_arg`], with NULL meaning "none".
pub(crate) fn opt_str_arg<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, FfiError> {
    if ptr.is_null() {
        Ok(None)
    } else {
        str_arg(ptr, what).map(Some)
    }
}

/// A byte buffer argument: (NULL, 0) is empty; NULL with a length is an error.
pub(crate) fn bytes_arg<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::null(what));
    }
    if isize::try_from(len).is_err() {
        return Err(FfiError::Invalid(format!("{what}: length {len} too large")));
    }
    // SAFETY: the caller promises `len` readable bytes at `ptr` for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An array argument of `count` elements.
pub(crate) fn array_arg<'a, T>(
    ptr: *const T,
    count: usize,
    what: &str,
) -> Result<&'a [T], FfiError> {
    if count == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(FfiError::null(what));
    }
    if count
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|n| isize::try_from(n).is_err())
    {
        return Err(FfiError::Invalid(format!(
            "{what}: {count} elements too many"
        )));
    }
    // SAFETY: the caller promises `count` initialised elements at `ptr` for the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, count) })
}

/// Writes an out-parameter when it is not NULL.
pub(crate) fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller promises that a non-NULL out-parameter points to writable,
        // properly aligned memory for a `T`.
        unsafe { out.write(value) };
    }
}

/// Writes a required out-parameter.
pub(crate) fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<(), FfiError> {
    if out.is_null() {
        return Err(FfiError::null(what));
    }
    write_opt(out, value);
    Ok(())
}

/// Copies `values` into the caller's array of at least `values.len()` elements.
pub(crate) fn write_array<T: Copy>(out: *mut T, values: &[T]) {
    if out.is_null() || values.is_empty() {
        return;
    }
    // SAFETY: the caller promises room for as many elements as it passed filters; `values`
    // has one per filter.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, values.len()) };
}

/// The handle in the caller's variable `*handle`, which is set to NULL (the `_free` of every
/// type). `None` when `handle` or `*handle` is NULL.
pub(crate) fn take<T>(handle: *mut *mut T) -> Option<*mut T> {
    if handle.is_null() {
        return None;
    }
    // SAFETY: the caller promises that a non-NULL `handle` is the address of its
    // variable holding a midge handle (or NULL), readable and writable for the call.
    let ptr = unsafe { handle.replace(std::ptr::null_mut()) };
    (!ptr.is_null()).then_some(ptr)
}

/// `s` as a C string. MQTT strings cannot hold U+0000 [MQTT-1.5.4-2], and midge's own texts
/// do not; a NUL would be replaced by a space rather than cut the string.
pub(crate) fn cstring(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| CString::new(s.replace('\0', " ")).unwrap_or_default())
}

/// Copies `text` NUL-terminated into `buf` of `cap` bytes, cut to fit at a byte boundary
/// (nothing when `buf` is NULL or `cap` is 0).
pub(crate) fn write_text(buf: *mut c_char, cap: usize, text: &str) {
    if buf.is_null() || cap == 0 {
        return;
    }
    let n = text.len().min(cap - 1);
    // SAFETY: the caller promises `buf` holds `cap` bytes; `n + 1 <= cap` are written.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
        *buf.add(n) = 0;
    }
}
