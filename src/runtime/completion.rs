//! Completion handles: a request's result, to wait on with a timeout or to poll.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::Error;

/// Makes a request with `start` and waits up to `timeout` for its result: every `_and_wait`
/// call. Where waiting cannot end (midge's I/O thread: an inline callback or an
/// authenticator) it fails with [`Error::WouldDeadlock`] before `start` runs, so that a
/// caller who sees it knows the request was not made.
pub(crate) fn start_and_wait<T: Clone>(
    timeout: Duration,
    start: impl FnOnce() -> Result<Completion<T>, Error>,
) -> Result<T, Error> {
    if super::reactor::on_io_thread() {
        return Err(Error::WouldDeadlock);
    }
    start()?.wait(timeout)
}

/// The eventual result of a request. Cloning shares the same result.
#[derive(Debug)]
pub struct Completion<T> {
    inner: Arc<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    id: u64,
    result: Mutex<Option<Result<T, Error>>>,
    /// The application let go of the handle before the result came: a failure must then be
    /// reported another way (as an event). Set and read under `result`'s lock.
    abandoned: AtomicBool,
    done: Condvar,
}

impl<T> Clone for Completion<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Clone> Completion<T> {
    pub(crate) fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Self {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                result: Mutex::new(None),
                abandoned: AtomicBool::new(false),
                done: Condvar::new(),
            }),
        }
    }

    /// Sets the result once; later calls are ignored.
    pub(crate) fn complete(&self, result: Result<T, Error>) {
        let mut slot = self.inner.result.lock();
        if slot.is_none() {
            *slot = Some(result);
            self.inner.done.notify_all();
        }
    }

    /// Sets the result once, and says whether nobody will read it: the handle was
    /// [abandoned](Self::abandon) first.
    pub(crate) fn complete_unread(&self, result: Result<T, Error>) -> bool {
        let mut slot = self.inner.result.lock();
        if slot.is_none() {
            *slot = Some(result);
            self.inner.done.notify_all();
        }
        self.inner.abandoned.load(Ordering::Relaxed)
    }

    /// The application lets go of the handle: the result if it already came (for the caller
    /// to report), else `None`, and from then on [`Self::complete_unread`] says so, so that
    /// a failure is reported exactly once, by whoever sees it.
    pub(crate) fn abandon(&self) -> Option<Result<T, Error>> {
        let slot = self.inner.result.lock();
        if slot.is_none() {
            self.inner.abandoned.store(true, Ordering::Relaxed);
        }
        slot.clone()
    }

    /// This request's identifier, unique in the process and never 0. Completion events
    /// ([`crate::runtime::ClientEvent::PublishComplete`] and the like) carry it.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The result if the request has completed.
    pub fn try_result(&self) -> Option<Result<T, Error>> {
        self.inner.result.lock().clone()
    }

    pub fn is_done(&self) -> bool {
        self.inner.result.lock().is_some()
    }

    /// Waits up to `timeout` for the result; [`Error::Timeout`] if it has not come, in which
    /// case the request goes on and can be waited on again.
    ///
    /// On midge's I/O thread (in an authenticator or inline callback) waiting could never
    /// end, since that thread completes requests: it fails at once with
    /// [`Error::WouldDeadlock`] unless the result is there. A zero timeout (a poll) never
    /// waits, so it answers [`Error::Timeout`] there too.
    pub fn wait(&self, timeout: Duration) -> Result<T, Error> {
        if super::reactor::on_io_thread() {
            let not_yet = if timeout.is_zero() {
                Error::Timeout
            } else {
                Error::WouldDeadlock
            };
            return self.inner.result.lock().clone().unwrap_or(Err(not_yet));
        }
        let deadline = Instant::now().checked_add(timeout);
        let mut slot = self.inner.result.lock();
        loop {
            if let Some(r) = slot.as_ref() {
                return r.clone();
            }
            match deadline {
                Some(d) => {
                    if self.inner.done.wait_until(&mut slot, d).timed_out() {
                        return slot.clone().unwrap_or(Err(Error::Timeout));
                    }
                }
                None => self.inner.done.wait(&mut slot),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_returns_the_result_set_from_another_thread() {
        let c: Completion<u32> = Completion::new();
        let c2 = c.clone();
        let t = std::thread::spawn(move || c2.complete(Ok(7)));
        assert_eq!(c.wait(Duration::from_secs(5)).unwrap(), 7);
        t.join().unwrap();
        c.complete(Ok(8));
        assert_eq!(c.try_result().unwrap().unwrap(), 7, "first result wins");
    }

    #[test]
    fn wait_times_out_and_can_wait_again() {
        let c: Completion<u32> = Completion::new();
        assert!(matches!(
            c.wait(Duration::from_millis(10)),
            Err(Error::Timeout)
        ));
        assert!(!c.is_done());
        c.complete(Ok(1));
        assert_eq!(c.wait(Duration::ZERO).unwrap(), 1);
    }
}
