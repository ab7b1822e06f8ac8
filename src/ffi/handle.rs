//! Handles: the one ownership model of the C API, kept by construction.
//!
//! Every object C sees, of every type, is an entry in one registry, and the pointer C holds
//! is only its key: a number that is never reused (odd, so it is never a valid address of a
//! Rust object either, and a C program that dereferences it crashes at once). A call looks
//! its handle up instead of dereferencing it, so NULL, a freed handle, a stale copy of a
//! freed handle, a foreign pointer or a handle of another type is
//! `MIDGE_RESULT_INVALID_ARGUMENT` (or NULL / 0 / false), never another object: even when
//! the allocator has put a newer object at the address the freed one had.
//!
//! Entries are *owned* (the application frees them with the type's `_free`, which takes the
//! address of its variable and sets it to NULL) or *lent* (a message in an event or a
//! callback, a CONNACK in a completion): a [`Loan`] removes its entry when the object that
//! lends it (the event, the completion, the running callback) goes, and `_free` ignores
//! it. Cloning gives a new owned key on the same shared object.
//!
//! Lookups take a read lock of one of [`SHARDS`] maps, chosen by the key, so accessors on
//! different objects from different threads rarely meet on one lock.

use std::any::Any;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

struct Entry {
    object: Arc<dyn Any + Send + Sync>,
    /// Freed by the application (`_free`); lent entries go with their [`Loan`].
    owned: bool,
}

/// Keys are distinct sequential numbers: a multiplicative hash spreads them well and costs
/// one multiplication (`SipHash` would cost more than the rest of a lookup).
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, key: usize) {
        // The low 5 bits are the same for every key of a shard (odd, shard number): drop
        // them, and fold the well-mixed high half of the product into the low bits, which
        // pick the bucket.
        let h = (key as u64 >> 5).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

type Map = HashMap<usize, Entry, BuildHasherDefault<KeyHasher>>;

const SHARDS: usize = 16;

static REGISTRY: LazyLock<[RwLock<Map>; SHARDS]> =
    LazyLock::new(|| std::array::from_fn(|_| RwLock::new(Map::default())));

fn shard(key: usize) -> &'static RwLock<Map> {
    &REGISTRY[(key >> 1) % SHARDS]
}

/// A fresh key: odd (never an aligned address) and never given before in this process.
fn next_key() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    NEXT.fetch_add(2, Ordering::Relaxed)
}

fn insert(object: Arc<dyn Any + Send + Sync>, owned: bool) -> usize {
    let key = next_key();
    shard(key).write().insert(key, Entry { object, owned });
    key
}

/// Registers `object`, owned by the application, and returns its handle.
pub(crate) fn new<T: Any + Send + Sync>(object: T) -> *mut T {
    share(Arc::new(object))
}

/// A new owned handle on a shared object (a clone: freeing one handle leaves the others).
pub(crate) fn share<T: Any + Send + Sync>(object: Arc<T>) -> *mut T {
    std::ptr::without_provenance_mut(insert(object, true))
}

/// Runs `f` on the object behind a live handle of type `T` (owned or lent), under the
/// shard's read lock: for short accessors, which must not block or use the registry.
pub(crate) fn with<T: Any + Send + Sync, R>(ptr: *const T, f: impl FnOnce(&T) -> R) -> Option<R> {
    let key = ptr as usize;
    if key == 0 {
        return None;
    }
    let map = shard(key).read();
    let object = map.get(&key)?.object.downcast_ref::<T>()?;
    Some(f(object))
}

/// `f` on the object behind a live handle, for calls that may take long (building the C
/// view of 100,000 properties): no lock is held while `f` runs. A dead handle is an error
/// naming `what`.
pub(crate) fn with_live<T: Any + Send + Sync, R>(
    ptr: *const T,
    what: &str,
    f: impl FnOnce(&T) -> R,
) -> Result<R, super::result::FfiError> {
    let object = get(ptr).ok_or_else(|| super::result::FfiError::stale(what))?;
    Ok(f(&object))
}

/// An accessor's body: `f` on the object behind `ptr`, or `fallback` for NULL, a dead
/// handle or one of another type (or a panic).
pub(crate) fn read<T: Any + Send + Sync, R: Copy>(
    ptr: *const T,
    fallback: R,
    f: impl FnOnce(&T) -> R,
) -> R {
    super::result::guard_value(fallback, || with(ptr, f).unwrap_or(fallback))
}

/// An accessor of an optional value, the one convention for "absent": true with the value
/// written to `out` (when not NULL) if the object has it; false, `out` untouched, if it has
/// not (or for NULL, a dead handle or one of another type). `f` runs with no lock held (a
/// string property builds the C view of the whole list the first time).
pub(crate) fn read_opt<T: Any + Send + Sync, V>(
    ptr: *const T,
    out: *mut V,
    f: impl FnOnce(&T) -> Option<V>,
) -> bool {
    super::result::guard_value(false, || match get(ptr).and_then(|o| f(&o)) {
        Some(v) => {
            super::ptr::write_opt(out, v);
            true
        }
        None => false,
    })
}

/// The object behind a live handle of type `T` (owned or lent), for calls that may block.
pub(crate) fn get<T: Any + Send + Sync>(ptr: *const T) -> Option<Arc<T>> {
    let key = ptr as usize;
    if key == 0 {
        return None;
    }
    let object = shard(key).read().get(&key)?.object.clone();
    object.downcast::<T>().ok()
}

/// The `_free` of every type: takes the handle from the caller's variable, sets the
/// variable to NULL, and removes the handle if it is a live owned handle of type `T`
/// (anything else: NULL, freed, lent, of another type, is ignored). The object is dropped
/// after the lock is released, since dropping a client waits for its callbacks, which may
/// call midge: the removed object is returned for the caller to finish with and drop.
pub(crate) fn free<T: Any + Send + Sync>(handle: *mut *mut T) -> Option<Arc<T>> {
    let ptr = super::ptr::take(handle)?;
    let key = ptr as usize;
    let removed = {
        let mut map = shard(key).write();
        match map.get(&key) {
            Some(e) if e.owned && e.object.is::<T>() => map.remove(&key),
            _ => None,
        }
    };
    removed.and_then(|e| e.object.downcast::<T>().ok())
}

/// An object lent to C under its own key for as long as this value lives (the event,
/// completion or callback call that holds it). Dropping it removes the key, so a pointer
/// kept past the loan finds nothing.
pub(crate) struct Loan<T: Any + Send + Sync> {
    key: usize,
    object: Arc<T>,
}

impl<T: Any + Send + Sync> Loan<T> {
    pub(crate) fn new(object: Arc<T>) -> Self {
        let key = insert(object.clone(), false);
        Self { key, object }
    }

    /// The handle C is given.
    pub(crate) fn ptr(&self) -> *const T {
        std::ptr::without_provenance(self.key)
    }

    /// The object lent.
    pub(crate) fn object(&self) -> &Arc<T> {
        &self.object
    }
}

impl<T: Any + Send + Sync> Drop for Loan<T> {
    fn drop(&mut self) {
        let removed = shard(self.key).write().remove(&self.key);
        drop(removed);
    }
}

impl<T: Any + Send + Sync + std::fmt::Debug> std::fmt::Debug for Loan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loan")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn free_it<T: Any + Send + Sync>(mut h: *mut T) -> Option<Arc<T>> {
        free(&raw mut h)
    }

    #[test]
    fn handles_are_checked_for_life_and_type() {
        let h = new(5u32);
        assert_eq!(with(h, |v| *v), Some(5));
        assert!(get(h.cast::<u16>()).is_none(), "wrong type");
        assert!(free_it(h.cast::<u16>()).is_none());
        assert!(get(h).is_some(), "a wrongly typed free is ignored");
        let mut var = h;
        assert!(free(&raw mut var).is_some());
        assert!(var.is_null(), "the caller's variable is emptied");
        assert!(get(h).is_none());
        assert!(free(&raw mut var).is_none(), "a second free finds NULL");
        assert!(free_it(h).is_none(), "a stale copy finds nothing");
        assert!(get(std::ptr::null::<u32>()).is_none());
        assert!(free(std::ptr::null_mut::<*mut u32>()).is_none());
    }

    #[test]
    fn handles_are_never_reused_and_odd() {
        let a = new(1u8);
        assert_eq!(a as usize % 2, 1);
        assert!(free_it(a).is_some());
        let b = new(2u8);
        assert_ne!(a, b);
        assert!(
            get(a).is_none(),
            "a stale handle does not reach the newer object"
        );
        assert!(free_it(a).is_none());
        assert_eq!(with(b, |v| *v), Some(2), "nor frees it");
        free_it(b);
    }

    #[test]
    fn clones_share_the_object_and_are_freed_one_by_one() {
        let object = Arc::new(String::from("m"));
        let a = share(object.clone());
        let b = share(object);
        assert_ne!(a, b);
        free_it(a);
        assert_eq!(with(b, String::clone).as_deref(), Some("m"));
        free_it(b);
        assert!(get(b).is_none());
    }

    #[test]
    fn a_loan_lives_as_long_as_its_lender_and_cannot_be_freed() {
        let loan = Loan::new(Arc::new(7u64));
        let p = loan.ptr();
        assert!(
            free_it(p.cast_mut()).is_none(),
            "a lent handle is not the caller's"
        );
        assert_eq!(with(p, |v| *v), Some(7));
        drop(loan);
        assert!(get(p).is_none(), "gone with its lender");
    }
}
