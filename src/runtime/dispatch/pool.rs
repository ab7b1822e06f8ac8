//! The pool of dispatcher threads that runs the clients' callbacks (see the parent
//! module): it grows while every thread is busy and shrinks when threads stay idle.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::Mailbox;
use crate::runtime::shutdown::Service;
use crate::runtime::spin::AdaptiveSpin;

/// The pool of dispatcher threads shared by every client. It starts a thread whenever a
/// mailbox is scheduled while no thread is idle (all are running callbacks, some perhaps
/// blocked), and a thread idle for [`IDLE_EXIT`] ends, down to [`MIN_THREADS`]. Its
/// threads belong to the [`Service`] `DISPATCHER`, so that `shutdown` joins them all.
pub(super) struct Dispatcher {
    state: Mutex<Pool>,
    work: Condvar,
}

#[derive(Default)]
struct Pool {
    queue: VecDeque<Arc<Mailbox>>,
    threads: usize,
    idle: usize,
    next_name: usize,
    /// `shutdown`: the workers run what is queued and end.
    stopping: bool,
}

/// Dispatcher threads kept even when idle.
pub const MIN_THREADS: usize = 1;
/// How long a dispatcher thread beyond [`MIN_THREADS`] stays idle before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(10);

impl Dispatcher {
    pub(super) fn schedule(self: &Arc<Self>, mailbox: Arc<Mailbox>) {
        let mut pool = self.state.lock();
        pool.queue.push_back(mailbox);
        // Idle threads beyond the queued work take it; otherwise a new thread does.
        if pool.idle >= pool.queue.len() {
            drop(pool);
            self.work.notify_one();
            return;
        }
        let name = format!("midge-dispatch-{}", pool.next_name);
        pool.next_name += 1;
        pool.threads += 1;
        drop(pool);
        let me = Arc::clone(self);
        let spawned = DISPATCHER.spawn(name, move || me.worker());
        if !matches!(spawned, Some(Ok(()))) {
            // No thread to be had (or the pool is stopping): the existing ones take the work
            // when they can; with none at all, it runs here.
            let mut pool = self.state.lock();
            pool.threads -= 1;
            if pool.threads == 0 {
                let queued: Vec<_> = pool.queue.drain(..).collect();
                drop(pool);
                for mailbox in queued {
                    while mailbox.run() {}
                }
                return;
            }
            drop(pool);
            self.work.notify_one();
        }
    }

    fn worker(&self) {
        let mut adaptive = AdaptiveSpin::default();
        let mut pool = self.state.lock();
        loop {
            if let Some(mailbox) = pool.queue.pop_front() {
                drop(pool);
                if mailbox.run() {
                    // More events came meanwhile: back in line, behind the others.
                    let mut p = self.state.lock();
                    p.queue.push_back(mailbox);
                    pool = p;
                } else {
                    pool = self.state.lock();
                }
                continue;
            }
            if pool.stopping {
                pool.threads -= 1;
                return;
            }
            pool.idle += 1;
            // A spin first, while recent work came quickly (see `AdaptiveSpin`): idle
            // meanwhile, so that `schedule` leaves the work to this thread.
            let started = Instant::now();
            let spin = adaptive.spin();
            while !spin.is_zero() && pool.queue.is_empty() && !pool.stopping {
                if started.elapsed() >= spin {
                    break;
                }
                MutexGuard::unlocked(&mut pool, std::thread::yield_now);
            }
            let timed_out = pool.queue.is_empty()
                && !pool.stopping
                && self.work.wait_for(&mut pool, IDLE_EXIT).timed_out();
            adaptive.waited((!timed_out).then(|| started.elapsed()));
            pool.idle -= 1;
            if timed_out && pool.queue.is_empty() && pool.threads > MIN_THREADS {
                pool.threads -= 1;
                return;
            }
        }
    }

    /// Threads now in the pool (for tests and statistics).
    fn threads(&self) -> usize {
        self.state.lock().threads
    }
}

/// How many dispatcher threads exist now (the pool grows and shrinks with demand; 0 before
/// the first callback and after `shutdown`).
pub fn dispatch_threads() -> usize {
    DISPATCHER.running().map_or(0, |d| d.threads())
}

static DISPATCHER: Service<Dispatcher> = Service::new();

pub(super) fn dispatcher() -> Arc<Dispatcher> {
    // No thread at start: the first `schedule` starts one.
    DISPATCHER.get(|_| {
        Arc::new(Dispatcher {
            state: Mutex::new(Pool::default()),
            work: Condvar::new(),
        })
    })
}

/// Stops the pool (`shutdown`): the workers run what is queued and end; `Service::stop`
/// joins them.
pub(crate) fn stop() {
    DISPATCHER.stop(|d| {
        d.state.lock().stopping = true;
        d.work.notify_all();
    });
}
