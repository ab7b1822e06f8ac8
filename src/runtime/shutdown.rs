//! Process life: every thread midge starts can be stopped and joined ([`shutdown`]), so
//! that a process may unload the library (`dlclose`) or `fork()` with no midge thread
//! running.
//!
//! midge's threads belong to process-wide services started on first use: the I/O thread
//! (with its DNS resolver threads) and the dispatcher pool. Each lives in a [`Service`]:
//! `get` starts it if it is not running, `stop` takes it out, tells its threads to end and
//! joins them. After [`shutdown`], the next [`crate::Client::new`] starts them again.
//!
//! The rules, enforced here: no client may exist (their threads would be pulled from under
//! them), and the caller must not be one of midge's threads (it would wait for itself).
//!
//! Every thread midge starts must belong to a service (`Threads::spawn` at start, or
//! [`Service::spawn`] for a pool that grows later), or `shutdown` cannot join it and
//! `dlclose` is no longer safe; `tests/c/test_dlclose.c` and `tests/shutdown.rs` look for
//! any thread named `midge-*` left after it.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};

use super::{dispatch, reactor};
use crate::error::Error;

thread_local! {
    /// This thread was started by midge (I/O, dispatcher).
    static MIDGE_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is one of midge's own.
pub(crate) fn on_midge_thread() -> bool {
    MIDGE_THREAD.with(Cell::get)
}

/// The threads a service starts, joined when it stops.
#[derive(Debug, Default)]
pub(crate) struct Threads(Vec<JoinHandle<()>>);

impl Threads {
    /// Starts a named thread of the service.
    pub(crate) fn spawn(
        &mut self,
        name: String,
        f: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let thread = std::thread::Builder::new().name(name).spawn(move || {
            MIDGE_THREAD.with(|m| m.set(true));
            f();
        })?;
        // Threads that ended on their own (a pool that shrank) need no join.
        self.0.retain(|t| !t.is_finished());
        self.0.push(thread);
        Ok(())
    }
}

/// A process-wide service with threads: started on first use, stopped by [`shutdown`].
pub(crate) struct Service<T> {
    running: Mutex<Option<(Arc<T>, Threads)>>,
}

impl<T> Service<T> {
    pub(crate) const fn new() -> Self {
        Self {
            running: Mutex::new(None),
        }
    }

    /// The running service; `start` starts it (and its threads) if it is not running.
    pub(crate) fn get(&self, start: impl FnOnce(&mut Threads) -> Arc<T>) -> Arc<T> {
        let mut running = self.running.lock();
        if let Some((shared, _)) = &*running {
            return Arc::clone(shared);
        }
        let mut threads = Threads::default();
        let shared = start(&mut threads);
        *running = Some((Arc::clone(&shared), threads));
        shared
    }

    /// Starts one more thread of the running service (a pool that grows), joined with the
    /// others when it stops. `None` when the service does not run (it is stopping): then
    /// no thread is started.
    #[allow(dead_code)] // for a pool that grows on demand; the unit tests use it
    pub(crate) fn spawn(
        &self,
        name: String,
        f: impl FnOnce() + Send + 'static,
    ) -> Option<std::io::Result<()>> {
        let mut running = self.running.lock();
        let (_, threads) = running.as_mut()?;
        Some(threads.spawn(name, f))
    }

    /// The service if it runs (never starts it).
    pub(crate) fn running(&self) -> Option<Arc<T>> {
        self.running
            .lock()
            .as_ref()
            .map(|(shared, _)| Arc::clone(shared))
    }

    /// Stops the service if it runs: takes it out (a later `get` starts a new one), lets
    /// `stop` tell its threads to end, and joins them.
    pub(crate) fn stop(&self, stop: impl FnOnce(Arc<T>)) {
        let Some((shared, threads)) = self.running.lock().take() else {
            return;
        };
        stop(shared);
        for thread in threads.0 {
            // A thread that panicked has ended all the same.
            let _ = thread.join();
        }
    }
}

/// Clients alive, and the lock that keeps a client from being made while midge shuts down.
static CLIENTS: AtomicUsize = AtomicUsize::new(0);
static LIFE: RwLock<()> = RwLock::new(());

/// Held by every client: while one lives, [`shutdown`] refuses.
#[derive(Debug)]
pub(crate) struct Alive(());

impl Alive {
    /// Counts a new client, waiting for a shutdown in progress to end (the client then
    /// starts the threads again). On midge's own threads, whose shutdown would wait for them,
    /// that would deadlock: refused.
    pub(crate) fn new() -> Result<Self, Error> {
        let life = if on_midge_thread() {
            LIFE.try_read().ok_or(Error::WouldDeadlock)?
        } else {
            LIFE.read()
        };
        CLIENTS.fetch_add(1, Ordering::AcqRel);
        drop(life);
        Ok(Self(()))
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        CLIENTS.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Stops and joins every thread midge started: the I/O thread, its DNS resolvers and the
/// dispatcher pool. Afterwards no midge thread runs until the next [`crate::Client::new`].
///
/// Every client must have been closed and dropped first ([`Error::InvalidArgument`]
/// otherwise, and nothing is stopped); called from one of midge's threads (a callback), it
/// fails with [`Error::WouldDeadlock`]. Callbacks still queued for closed clients (their
/// last events, the release of their user data) run before it returns.
pub fn shutdown() -> Result<(), Error> {
    if on_midge_thread() {
        return Err(Error::WouldDeadlock);
    }
    let _life = LIFE.write();
    let clients = CLIENTS.load(Ordering::Acquire);
    if clients > 0 {
        return Err(Error::InvalidArgument(format!(
            "{clients} client(s) still exist: free every client before shutting midge down"
        )));
    }
    // The I/O thread first: it hands its last events (the clients' `Closed`) to the
    // dispatchers, which run them before they end.
    reactor::stop();
    dispatch::stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use crossbeam_channel::{Sender, unbounded};

    use super::*;

    /// A toy service: its threads wait on a channel and end when it closes.
    struct Pool {
        /// Dropped with the pool: the channel closes.
        _tx: Sender<()>,
    }

    #[test]
    fn a_service_starts_once_grows_stops_and_joins_every_thread_then_starts_again() {
        static POOL: Service<Pool> = Service::new();
        static ENDED: AtomicUsize = AtomicUsize::new(0);
        let (rx_keep, started) = (
            std::sync::Mutex::new(None),
            std::sync::atomic::AtomicUsize::new(0),
        );
        for round in 1..=2 {
            let start = |threads: &mut Threads| {
                started.fetch_add(1, Ordering::SeqCst);
                let (tx, rx) = unbounded::<()>();
                let worker = rx.clone();
                threads
                    .spawn("midge-test-0".into(), move || {
                        assert!(on_midge_thread());
                        for () in worker {}
                        ENDED.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                *rx_keep.lock().unwrap() = Some(rx);
                Arc::new(Pool { _tx: tx })
            };
            let a = POOL.get(start);
            let b = POOL.get(|_| unreachable!("started twice"));
            assert!(Arc::ptr_eq(&a, &b));
            drop((a, b));
            let rx = rx_keep.lock().unwrap().take().unwrap();
            POOL.spawn("midge-test-1".into(), move || {
                for () in rx {}
                ENDED.fetch_add(1, Ordering::SeqCst);
            })
            .expect("the service runs")
            .unwrap();
            let stopped = AtomicBool::new(false);
            POOL.stop(|pool| {
                stopped.store(true, Ordering::SeqCst);
                drop(pool); // closes the channel: both threads end
            });
            assert!(stopped.load(Ordering::SeqCst));
            // Both threads were joined before `stop` returned.
            assert_eq!(ENDED.load(Ordering::SeqCst), 2 * round);
            assert!(POOL.running().is_none());
            assert!(POOL.spawn("midge-test-2".into(), || {}).is_none());
            POOL.stop(|_| unreachable!("nothing runs"));
        }
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert!(!on_midge_thread());
    }
}
