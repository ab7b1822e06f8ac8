//! `midge_store`: a persistence store for a client's in-flight messages, made from a file
//! (`midge_store_file_new`) or from the application's own callbacks
//! (`midge_store_callbacks_new`), and `midge_store_sink`, through which those callbacks hand
//! bytes to midge (so midge owns every allocation it keeps).

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;

use parking_lot::Mutex;

use super::callback::midge_drop_cb;
use super::handle::{self, Loan};
use super::ptr::{array_arg, bytes_arg, str_arg, write_out};
use super::result::{FfiError, MIDGE_RESULT_STORE_FULL, guard, midge_result};
use crate::error::Error;
use crate::store::{FileStore, Store, StoreError, StoreLimits, StoreUsage};

/// A persistence store (owned by the application until it is handed to a client).
///
/// Methods: `midge_store_file_new`, `midge_store_callbacks_new`, `midge_store_free`.
#[derive(Debug)]
pub struct midge_store {
    /// `None` once handed over.
    store: Mutex<Option<Box<dyn Store>>>,
}

impl From<StoreError> for FfiError {
    fn from(e: StoreError) -> Self {
        Self::Midge(Error::from(e))
    }
}

/// The Rust store behind an owned handle, taken: the handle is freed and `*store` set to
/// NULL (for the code that hands a store to a client). `None` for NULL, a dead handle or
/// a store already taken.
pub(crate) fn take_store(store: *mut *mut midge_store) -> Option<Box<dyn Store>> {
    handle::free(store).and_then(|s| s.store.lock().take())
}

/// Opens (or creates) a store in a file: `path` is a directory (the store is the file
/// `midge.store` in it) or the store file itself (its directory must exist). The file is
/// an append-only log of checksummed records: a write that reached the operating system
/// survives the process being killed, and a damaged tail (a power cut during a write) is
/// cut off when the file is opened, keeping every whole record before it. The file
/// `<file>.lock` beside it is locked while the store is open.
///
/// `max_bytes` bounds the live keys and values (0: 64 MiB), `max_records` the live records
/// (0: 100,000): a write beyond them fails with `MIDGE_RESULT_STORE_FULL`. A QoS 1/2 publish
/// takes, when it is accepted, all the room sending it will need (its message and its
/// state, 22 bytes more than the message, in two records), so a store filled by publishes
/// still sends them all. An incoming QoS 2 message awaiting PUBREL (4 bytes, one record)
/// and the session's record (client identifier and subscriptions) need room as well.
///
/// Returns `MIDGE_RESULT_STORE` when the file cannot be opened or created, when another
/// process (or another `midge_store` of this process) has it open (the message says "in
/// use"), or when the file is not a midge store (it is left untouched).
/// `*out` is an owned store: `midge_store_free` it unless it is handed to a client.
#[unsafe(no_mangle)]
pub extern "C" fn midge_store_file_new(
    path: *const c_char,
    max_bytes: u64,
    max_records: usize,
    out: *mut *mut midge_store,
) -> midge_result {
    guard(|| {
        let path = str_arg(path, "path")?;
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        let defaults = StoreLimits::default();
        let limits = StoreLimits {
            max_bytes: if max_bytes == 0 {
                defaults.max_bytes
            } else {
                max_bytes
            },
            max_records: if max_records == 0 {
                defaults.max_records
            } else {
                max_records
            },
        };
        let store = FileStore::open(path, limits)?;
        write_out(out, new_handle(Box::new(store)), "out")
    })
}

fn new_handle(store: Box<dyn Store>) -> *mut midge_store {
    handle::new(midge_store {
        store: Mutex::new(Some(store)),
    })
}

/// Frees a store never handed to a client, and sets `*store` to NULL (the file store's
/// file is closed and its lock released; the callback store's `close` runs). NULL and a
/// store freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_store_free(store: *mut *mut midge_store) {
    super::result::guard_value((), || drop(take_store(store)));
}

/// Stores (replaces) `value` under `key`: return 0 once the write is as durable as the
/// application wants it without a sync (midge calls `sync` for more),
/// `MIDGE_RESULT_STORE_FULL` when the store has no room (nothing written), any other value
/// for a failure (midge reports the value).
pub type midge_store_put_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        key: *const u8,
        key_len: usize,
        value: *const u8,
        value_len: usize,
    ) -> c_int,
>;
/// Looks `key` up: when present, hand the value to midge with `midge_store_sink_write`
/// (once, or in pieces that midge joins; once with length 0 for an empty value) and return
/// 0; when absent, return 0 without calling it. Any other value is a failure.
pub type midge_store_get_cb = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        key: *const u8,
        key_len: usize,
        sink: *mut midge_store_sink,
    ) -> c_int,
>;
/// Removes `key` (an absent key is success): return 0, or a failure value.
pub type midge_store_remove_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, key: *const u8, key_len: usize) -> c_int>;
/// Lists every key: call `midge_store_sink_write` once per key, then return 0 (or a failure
/// value).
pub type midge_store_keys_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, sink: *mut midge_store_sink) -> c_int>;
/// Makes every write so far survive power loss (fsync or the device's equivalent): return
/// 0, or a failure value.
pub type midge_store_sync_cb = Option<unsafe extern "C" fn(user_data: *mut c_void) -> c_int>;

/// A store implemented by the application: for devices without a file system, or to keep
/// midge's messages in the application's own database. Every callback but `close` is
/// required; each returns 0 for success, `MIDGE_RESULT_STORE_FULL` (put only) when full,
/// and any other value for a failure, which midge reports with that value
/// (`MIDGE_RESULT_STORE`, the value in `midge_last_error_message()`).
///
/// Keys and values are bytes (pointer + length, valid only during the call: copy them).
/// midge calls one store's callbacks one at a time, never concurrently, from any of its
/// threads, and holds no lock of a client while they run; they must not call
/// `midge_store_free` on their own store. The bounds on the data are the application's
/// (its `put` returns `MIDGE_RESULT_STORE_FULL`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct midge_store_callbacks {
    /// Passed to every callback.
    pub user_data: *mut c_void,
    /// Required.
    pub put: midge_store_put_cb,
    /// Required.
    pub get: midge_store_get_cb,
    /// Required.
    pub remove: midge_store_remove_cb,
    /// Required.
    pub keys: midge_store_keys_cb,
    /// Required.
    pub sync: midge_store_sync_cb,
    /// Optional: called exactly once, after the last call of the other callbacks, when
    /// midge is done with the store (`midge_store_free`, or the client it was given to is
    /// freed). Not called when `midge_store_callbacks_new` fails.
    pub close: midge_drop_cb,
}

/// Makes a store of the application's callbacks (the struct is copied). midge reads the
/// keys (`keys`) and the values' sizes (`get`) once, now, to know how much is stored.
///
/// Returns `MIDGE_RESULT_INVALID_ARGUMENT` when `callbacks` or `out` is NULL or a required
/// callback is NULL; the failure of `keys` or `get` as `MIDGE_RESULT_STORE` (or
/// `MIDGE_RESULT_STORE_FULL` if one returned that). On failure `close` is not called: the
/// `user_data` is still the application's. `*out` is an owned store: `midge_store_free` it
/// unless it is handed to a client.
#[unsafe(no_mangle)]
pub extern "C" fn midge_store_callbacks_new(
    callbacks: *const midge_store_callbacks,
    out: *mut *mut midge_store,
) -> midge_result {
    guard(|| {
        let cb = array_arg(callbacks, 1, "callbacks")?[0];
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        let fns = Fns {
            put: cb.put.ok_or_else(|| FfiError::null("callbacks->put"))?,
            get: cb.get.ok_or_else(|| FfiError::null("callbacks->get"))?,
            remove: cb
                .remove
                .ok_or_else(|| FfiError::null("callbacks->remove"))?,
            keys: cb.keys.ok_or_else(|| FfiError::null("callbacks->keys"))?,
            sync: cb.sync.ok_or_else(|| FfiError::null("callbacks->sync"))?,
        };
        let mut store = CallbackStore {
            fns,
            user_data: cb.user_data,
            close: None,
            sizes: HashMap::new(),
            usage: StoreUsage::default(),
        };
        store.load()?;
        // From here on the store owns `user_data`.
        store.close = cb.close;
        write_out(out, new_handle(Box::new(store)), "out")
    })
}

/// Where a store callback hands bytes to midge (a value for `get`, one key per call for
/// `keys`). Lent: valid only during the callback it was given to.
///
/// Methods: `midge_store_sink_write`.
#[derive(Debug)]
pub struct midge_store_sink {
    state: Mutex<Sink>,
}

#[derive(Debug)]
enum Sink {
    /// `get`: the value's pieces, `None` while none was written (absent).
    Value(Option<Vec<u8>>),
    /// `keys`: one key per write.
    Keys(Vec<Vec<u8>>),
}

/// Hands `len` bytes at `bytes` to midge (copied): in `get`, (a piece of) the value; in
/// `keys`, one key. `MIDGE_RESULT_INVALID_ARGUMENT` for a sink used after its callback
/// returned, or NULL bytes with a length.
#[unsafe(no_mangle)]
pub extern "C" fn midge_store_sink_write(
    sink: *mut midge_store_sink,
    bytes: *const u8,
    len: usize,
) -> midge_result {
    guard(|| {
        let bytes = bytes_arg(bytes, len, "bytes")?;
        handle::with_live(sink.cast_const(), "store sink", |s| {
            match &mut *s.state.lock() {
                Sink::Value(v) => v.get_or_insert_with(Vec::new).extend_from_slice(bytes),
                Sink::Keys(keys) => keys.push(bytes.to_vec()),
            }
        })
    })
}

/// The required callbacks, checked non-NULL.
#[derive(Clone, Copy)]
struct Fns {
    put: unsafe extern "C" fn(*mut c_void, *const u8, usize, *const u8, usize) -> c_int,
    get: unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut midge_store_sink) -> c_int,
    remove: unsafe extern "C" fn(*mut c_void, *const u8, usize) -> c_int,
    keys: unsafe extern "C" fn(*mut c_void, *mut midge_store_sink) -> c_int,
    sync: unsafe extern "C" fn(*mut c_void) -> c_int,
}

/// The store of `midge_store_callbacks_new`. midge tracks the size of each key's value
/// (for [`Store::usage`]); the data is the application's.
struct CallbackStore {
    fns: Fns,
    user_data: *mut c_void,
    close: midge_drop_cb,
    sizes: HashMap<Vec<u8>, u64>,
    usage: StoreUsage,
}

// SAFETY: by making the store the application promises that its callbacks and `user_data`
// may be used from any of midge's threads; midge calls them one at a time (`&mut self`).
unsafe impl Send for CallbackStore {}

impl std::fmt::Debug for CallbackStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackStore")
            .field("user_data", &self.user_data)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

impl Drop for CallbackStore {
    fn drop(&mut self) {
        if let Some(close) = self.close.take() {
            // SAFETY: the application gave `close` to release `user_data`; this is its one
            // call, after the last call of the other callbacks (the store is going).
            unsafe { close(self.user_data) };
        }
    }
}

impl CallbackStore {
    fn check(&self, code: c_int) -> Result<(), StoreError> {
        match code {
            0 => Ok(()),
            MIDGE_RESULT_STORE_FULL => Err(StoreError::Full {
                bytes: self.usage.bytes,
                records: self.usage.records,
            }),
            other => Err(StoreError::Callback(other)),
        }
    }

    /// Runs a callback with a sink lent for the call, and returns what it was given.
    fn with_sink(
        &self,
        sink: Sink,
        call: impl FnOnce(*mut midge_store_sink) -> c_int,
    ) -> Result<Sink, StoreError> {
        let loan = Loan::new(Arc::new(midge_store_sink {
            state: Mutex::new(sink),
        }));
        let code = call(loan.ptr().cast_mut());
        let sink = std::mem::replace(&mut *loan.object().state.lock(), Sink::Keys(Vec::new()));
        drop(loan);
        self.check(code).map(|()| sink)
    }

    fn get_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let sink = self.with_sink(Sink::Value(None), |sink| {
            // SAFETY: `get` is the application's callback, checked non-NULL; the key is
            // valid for the call and the sink lives until after it returns.
            unsafe { (self.fns.get)(self.user_data, key.as_ptr(), key.len(), sink) }
        })?;
        Ok(match sink {
            Sink::Value(v) => v,
            Sink::Keys(_) => None,
        })
    }

    fn list_keys(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        let sink = self.with_sink(Sink::Keys(Vec::new()), |sink| {
            // SAFETY: `keys` is the application's callback, checked non-NULL; the sink
            // lives until after it returns.
            unsafe { (self.fns.keys)(self.user_data, sink) }
        })?;
        Ok(match sink {
            Sink::Keys(keys) => keys,
            Sink::Value(_) => Vec::new(),
        })
    }

    /// Learns what the application's store holds now.
    fn load(&mut self) -> Result<(), StoreError> {
        for key in self.list_keys()? {
            if let Some(value) = self.get_value(&key)? {
                let size = (key.len() + value.len()) as u64;
                if let Some(old) = self.sizes.insert(key, size) {
                    self.usage.bytes -= old;
                    self.usage.records -= 1;
                }
                self.usage.bytes += size;
                self.usage.records += 1;
            }
        }
        Ok(())
    }
}

impl Store for CallbackStore {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        // SAFETY: `put` is the application's callback, checked non-NULL; key and value are
        // valid for the call.
        let code = unsafe {
            (self.fns.put)(
                self.user_data,
                key.as_ptr(),
                key.len(),
                value.as_ptr(),
                value.len(),
            )
        };
        self.check(code)?;
        let size = (key.len() + value.len()) as u64;
        match self.sizes.insert(key.to_vec(), size) {
            Some(old) => self.usage.bytes -= old,
            None => self.usage.records += 1,
        }
        self.usage.bytes += size;
        Ok(())
    }

    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_value(key)
    }

    fn remove(&mut self, key: &[u8]) -> Result<(), StoreError> {
        // SAFETY: `remove` is the application's callback, checked non-NULL; the key is
        // valid for the call.
        let code = unsafe { (self.fns.remove)(self.user_data, key.as_ptr(), key.len()) };
        self.check(code)?;
        if let Some(old) = self.sizes.remove(key) {
            self.usage.bytes -= old;
            self.usage.records -= 1;
        }
        Ok(())
    }

    fn keys(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.list_keys()
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        // SAFETY: `sync` is the application's callback, checked non-NULL.
        let code = unsafe { (self.fns.sync)(self.user_data) };
        self.check(code)
    }

    fn usage(&self) -> StoreUsage {
        self.usage
    }
}

#[cfg(test)]
mod tests;
