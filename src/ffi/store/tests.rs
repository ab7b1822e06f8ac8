//! The C store through its C functions, with callbacks written as `extern "C" fn` over a
//! map, run against the store contract; and the file store's handle.

use std::collections::HashMap;
use std::ffi::{CStr, c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::ffi::result::{
    MIDGE_RESULT_INVALID_ARGUMENT, MIDGE_RESULT_OK, MIDGE_RESULT_STORE, MIDGE_RESULT_STORE_FULL,
    last_error_message,
};
use crate::store::contract;

/// The application's store: a map, its own bounds, and what the test wants it to do.
struct MapStore {
    map: HashMap<Vec<u8>, Vec<u8>>,
    limits: StoreLimits,
    closed: Arc<AtomicUsize>,
    /// Returned by the next callback instead of doing its work.
    fail_with: Option<c_int>,
    /// The last sink `get` or `keys` was given (kept wrongly, to use it after).
    kept_sink: *mut midge_store_sink,
}

fn map_store<'a>(user_data: *mut c_void) -> &'a mut MapStore {
    // SAFETY: every test passes a `Box<MapStore>` leaked as `user_data`, alive until
    // `close`; midge calls one store's callbacks one at a time.
    unsafe { &mut *user_data.cast::<MapStore>() }
}

fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: midge passes `len` readable bytes at `ptr`, valid for the callback.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

unsafe extern "C" fn put(
    ud: *mut c_void,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> c_int {
    let s = map_store(ud);
    if let Some(code) = s.fail_with.take() {
        return code;
    }
    let (key, value) = (bytes(key, key_len), bytes(value, value_len));
    let old = s.map.get(key).map(|v| (key.len() + v.len()) as u64);
    let live: u64 = s.map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
    let usage = StoreUsage {
        bytes: live,
        records: s.map.len(),
    };
    if s.limits.check(usage, old, key.len(), value.len()).is_err() {
        return MIDGE_RESULT_STORE_FULL;
    }
    s.map.insert(key.to_vec(), value.to_vec());
    0
}

unsafe extern "C" fn get(
    ud: *mut c_void,
    key: *const u8,
    key_len: usize,
    sink: *mut midge_store_sink,
) -> c_int {
    let s = map_store(ud);
    s.kept_sink = sink;
    if let Some(code) = s.fail_with.take() {
        return code;
    }
    match s.map.get(bytes(key, key_len)) {
        // In two pieces, which midge joins.
        Some(v) => {
            let half = v.len() / 2;
            let a = midge_store_sink_write(sink, v.as_ptr(), half);
            let b = midge_store_sink_write(sink, v[half..].as_ptr(), v.len() - half);
            assert_eq!((a, b), (MIDGE_RESULT_OK, MIDGE_RESULT_OK));
            0
        }
        None => 0,
    }
}

unsafe extern "C" fn remove(ud: *mut c_void, key: *const u8, key_len: usize) -> c_int {
    let s = map_store(ud);
    if let Some(code) = s.fail_with.take() {
        return code;
    }
    s.map.remove(bytes(key, key_len));
    0
}

unsafe extern "C" fn keys(ud: *mut c_void, sink: *mut midge_store_sink) -> c_int {
    let s = map_store(ud);
    s.kept_sink = sink;
    if let Some(code) = s.fail_with.take() {
        return code;
    }
    for k in s.map.keys() {
        assert_eq!(
            midge_store_sink_write(sink, k.as_ptr(), k.len()),
            MIDGE_RESULT_OK
        );
    }
    0
}

unsafe extern "C" fn sync(ud: *mut c_void) -> c_int {
    map_store(ud).fail_with.take().unwrap_or(0)
}

unsafe extern "C" fn close(ud: *mut c_void) {
    // SAFETY: `user_data` is the leaked box; `close` is its one and last use.
    let s = unsafe { Box::from_raw(ud.cast::<MapStore>()) };
    s.closed.fetch_add(1, Ordering::SeqCst);
}

fn callbacks(store: MapStore) -> midge_store_callbacks {
    midge_store_callbacks {
        user_data: Box::into_raw(Box::new(store)).cast(),
        put: Some(put),
        get: Some(get),
        remove: Some(remove),
        keys: Some(keys),
        sync: Some(sync),
        close: Some(close),
    }
}

fn map(limits: StoreLimits, closed: &Arc<AtomicUsize>) -> MapStore {
    MapStore {
        map: HashMap::new(),
        limits,
        closed: closed.clone(),
        fail_with: None,
        kept_sink: std::ptr::null_mut(),
    }
}

fn last_error() -> String {
    // SAFETY: midge's last error message is a valid C string until the next failing call.
    unsafe { CStr::from_ptr(last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn callback_store_keeps_the_contract() {
    let closed = Arc::new(AtomicUsize::new(0));
    let mut made = 0;
    contract::run(&mut |limits| {
        let cb = callbacks(map(limits, &closed));
        let mut h = std::ptr::null_mut();
        assert_eq!(
            midge_store_callbacks_new(&raw const cb, &raw mut h),
            MIDGE_RESULT_OK
        );
        made += 1;
        take_store(&raw mut h).expect("an owned store")
    });
    assert_eq!(
        closed.load(Ordering::SeqCst),
        made,
        "close ran once per store"
    );
}

#[test]
fn callback_store_learns_what_is_stored_and_reports_failures() {
    let closed = Arc::new(AtomicUsize::new(0));
    let mut m = map(StoreLimits::default(), &closed);
    m.map.insert(b"a".to_vec(), b"12345".to_vec());
    m.map.insert(b"bb".to_vec(), Vec::new());
    let cb = callbacks(m);
    let mut h = std::ptr::null_mut();
    assert_eq!(
        midge_store_callbacks_new(&raw const cb, &raw mut h),
        MIDGE_RESULT_OK
    );
    let mut store = take_store(&raw mut h).unwrap();
    assert!(h.is_null());
    assert_eq!(
        store.usage(),
        StoreUsage {
            bytes: 8,
            records: 2
        }
    );
    assert_eq!(
        store.get(b"bb").unwrap(),
        Some(Vec::new()),
        "empty, not absent"
    );

    let ms = map_store(cb.user_data);
    ms.fail_with = Some(42);
    assert!(matches!(
        store.put(b"c", b"x"),
        Err(StoreError::Callback(42))
    ));
    assert_eq!(store.usage().records, 2, "a failed put changes nothing");
    map_store(cb.user_data).fail_with = Some(-5);
    assert!(matches!(store.sync(), Err(StoreError::Callback(-5))));
    map_store(cb.user_data).fail_with = Some(7);
    assert!(matches!(store.get(b"a"), Err(StoreError::Callback(7))));

    // A sink kept past its callback reaches nothing.
    store.get(b"a").unwrap();
    let stale = map_store(cb.user_data).kept_sink;
    assert_eq!(
        midge_store_sink_write(stale, b"x".as_ptr(), 1),
        MIDGE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(store.get(b"a").unwrap().as_deref(), Some(&b"12345"[..]));
    drop(store);
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

#[test]
fn callback_store_creation_is_checked() {
    let closed = Arc::new(AtomicUsize::new(0));
    let mut h = std::ptr::null_mut();
    assert_eq!(
        midge_store_callbacks_new(std::ptr::null(), &raw mut h),
        MIDGE_RESULT_INVALID_ARGUMENT
    );
    let full = callbacks(map(StoreLimits::default(), &closed));
    for missing in 0..5 {
        let mut cb = full;
        match missing {
            0 => cb.put = None,
            1 => cb.get = None,
            2 => cb.remove = None,
            3 => cb.keys = None,
            _ => cb.sync = None,
        }
        assert_eq!(
            midge_store_callbacks_new(&raw const cb, &raw mut h),
            MIDGE_RESULT_INVALID_ARGUMENT
        );
        assert!(last_error().contains("callbacks->"), "{}", last_error());
        assert!(h.is_null(), "out untouched");
    }
    assert_eq!(
        midge_store_callbacks_new(&raw const full, std::ptr::null_mut()),
        MIDGE_RESULT_INVALID_ARGUMENT
    );
    // keys failing at creation: the store is not made, close is not called.
    map_store(full.user_data).fail_with = Some(9);
    assert_eq!(
        midge_store_callbacks_new(&raw const full, &raw mut h),
        MIDGE_RESULT_STORE
    );
    assert!(last_error().contains('9'), "{}", last_error());
    map_store(full.user_data).fail_with = Some(MIDGE_RESULT_STORE_FULL);
    assert_eq!(
        midge_store_callbacks_new(&raw const full, &raw mut h),
        MIDGE_RESULT_STORE_FULL
    );
    assert!(h.is_null());
    assert_eq!(
        closed.load(Ordering::SeqCst),
        0,
        "close is not called on failure"
    );
    // The user data is still ours: made into a store, freed, closed once.
    assert_eq!(
        midge_store_callbacks_new(&raw const full, &raw mut h),
        MIDGE_RESULT_OK
    );
    let stale = h;
    midge_store_free(&raw mut h);
    assert!(h.is_null());
    let mut copy = stale;
    midge_store_free(&raw mut copy);
    midge_store_free(std::ptr::null_mut());
    assert_eq!(closed.load(Ordering::SeqCst), 1);
}

#[test]
fn file_store_handle() {
    let dir = tempfile::tempdir().unwrap();
    let path = crate::ffi::ptr::cstring(dir.path().to_str().unwrap());
    let mut a = std::ptr::null_mut();
    assert_eq!(
        midge_store_file_new(path.as_ptr(), 0, 0, &raw mut a),
        MIDGE_RESULT_OK
    );
    let mut b = std::ptr::null_mut();
    assert_eq!(
        midge_store_file_new(path.as_ptr(), 0, 0, &raw mut b),
        MIDGE_RESULT_STORE
    );
    assert!(last_error().contains("in use"), "{}", last_error());
    assert!(b.is_null());
    midge_store_free(&raw mut a);
    assert_eq!(
        midge_store_file_new(path.as_ptr(), 100, 1, &raw mut b),
        MIDGE_RESULT_OK
    );
    let mut store = take_store(&raw mut b).unwrap();
    store.put(b"k", b"v").unwrap();
    assert!(
        matches!(store.put(b"k2", b"v"), Err(StoreError::Full { .. })),
        "max_records 1"
    );
    assert_eq!(
        FfiError::from(store.put(b"k2", b"v").unwrap_err()).result(),
        MIDGE_RESULT_STORE_FULL
    );
    assert_eq!(
        midge_store_file_new(std::ptr::null(), 0, 0, &raw mut b),
        MIDGE_RESULT_INVALID_ARGUMENT
    );
    assert_eq!(
        midge_store_file_new(path.as_ptr(), 0, 0, std::ptr::null_mut()),
        MIDGE_RESULT_INVALID_ARGUMENT
    );
    let missing = crate::ffi::ptr::cstring("/nonexistent-midge-dir/x/store");
    assert_eq!(
        midge_store_file_new(missing.as_ptr(), 0, 0, &raw mut b),
        MIDGE_RESULT_STORE
    );
}
