//! Handles: every object the application owns is kept in one registry, keyed by the value
//! handed to C: for objects midge never dereferences (clients, options, property lists,
//! events, completions) a fresh number that is never reused, so a stale handle cannot reach
//! a newer object; for messages and CONNACKs, which accessors read directly, their address. A call looks its handle up (and takes a reference) instead of dereferencing
//! the pointer, so a freed, doubly freed, foreign or wrongly typed pointer is an
//! `MIDGE_RESULT_INVALID_ARGUMENT`, never undefined behaviour, even when another thread frees
//! the object during the call.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

struct Entry {
    object: Arc<dyn Any + Send + Sync>,
    /// Handles given out for this object (a message can be cloned to the same address).
    refs: usize,
}

static HANDLES: LazyLock<Mutex<HashMap<usize, Entry>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Registers `object` (or takes one more handle on it) and returns its C handle.
pub(crate) fn retain<T: Any + Send + Sync>(object: &Arc<T>) -> *mut T {
    let ptr = Arc::as_ptr(object).cast_mut();
    HANDLES
        .lock()
        .entry(ptr as usize)
        .and_modify(|e| e.refs += 1)
        .or_insert_with(|| Entry {
            object: Arc::clone(object) as Arc<dyn Any + Send + Sync>,
            refs: 1,
        });
    ptr
}

/// Registers a new object under a fresh number and returns it as the C handle. The value is
/// only a key: it is never dereferenced. Keys are odd, so they never collide with an address
/// key (an `Arc`'s data is at least word-aligned), and grow, so they do not repeat; on any
/// pointer width.
pub(crate) fn new<T: Any + Send + Sync>(object: T) -> *mut T {
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    let key = NEXT.fetch_add(2, Ordering::Relaxed);
    HANDLES.lock().insert(
        key,
        Entry {
            object: Arc::new(object) as Arc<dyn Any + Send + Sync>,
            refs: 1,
        },
    );
    std::ptr::without_provenance_mut(key)
}

/// The object behind a live handle of type `T`.
pub(crate) fn get<T: Any + Send + Sync>(ptr: *const T) -> Option<Arc<T>> {
    if ptr.is_null() {
        return None;
    }
    let object = HANDLES.lock().get(&(ptr as usize))?.object.clone();
    object.downcast::<T>().ok()
}

/// Gives a handle back. Unknown handles (freed already, borrowed, NULL) are ignored. The
/// object is dropped after the registry's lock is released, since dropping a client waits
/// for its callbacks, which may call midge.
pub(crate) fn release<T: Any + Send + Sync>(ptr: *const T) {
    if ptr.is_null() {
        return;
    }
    let removed = {
        let mut handles = HANDLES.lock();
        let key = ptr as usize;
        match handles.get_mut(&key) {
            Some(e) if e.object.is::<T>() => {
                e.refs -= 1;
                if e.refs == 0 {
                    handles.remove(&key)
                } else {
                    None
                }
            }
            _ => None,
        }
    };
    drop(removed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked_for_life_and_type() {
        let h = new(5u32);
        assert_eq!(*get(h).unwrap(), 5);
        assert!(get(h.cast::<u16>()).is_none(), "wrong type");
        release(h.cast::<u16>());
        assert!(get(h).is_some(), "a wrongly typed release is ignored");
        release(h);
        assert!(get(h).is_none());
        release(h); // a second free is harmless
        assert!(get(std::ptr::null::<u32>()).is_none());
    }

    #[test]
    fn numbered_handles_are_never_reused() {
        let a = new(1u8);
        release(a);
        let b = new(2u8);
        assert_ne!(a, b);
        assert!(
            get(a).is_none(),
            "a stale handle does not reach the newer object"
        );
        release(b);
    }

    #[test]
    fn retained_objects_live_until_the_last_release() {
        let object = Arc::new(String::from("m"));
        let a = retain(&object);
        let b = retain(&object);
        assert_eq!(a, b);
        release(a);
        assert!(get(b).is_some());
        release(b);
        assert!(get(b).is_none());
    }
}
