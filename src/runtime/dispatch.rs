//! Delivery of events to the application: callbacks on a small fixed pool of dispatcher
//! threads (never the I/O thread, never with a midge lock held), or a pull queue.
//!
//! Each client has a mailbox. A mailbox is run by at most one dispatcher thread at a time,
//! so one client's callbacks run in order and never concurrently, while a slow callback of
//! one client leaves the other dispatcher threads to the other clients, and the I/O thread
//! (keep alive included) to everyone.
//!
//! A client may instead ask for its callback to run inline, on the I/O thread, as soon as
//! the events are read (`ClientOptions::inline_callbacks`): no thread hand-off per message,
//! at the price that the callback must not block (waits fail with `WouldDeadlock`) and a
//! slow one delays every client.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use parking_lot::{Condvar, Mutex};

use super::event::ClientEvent;
use super::shutdown::Service;
use crate::codec::QoS;
use crate::protocol::AckToken;

/// A callback: receives every event of its client.
pub type Handler = Box<dyn FnMut(&ClientEvent) + Send>;

/// The I/O thread, as the mailbox sees it.
pub(crate) trait IoSink: Send + Sync {
    /// Acknowledgements of delivered messages.
    fn acknowledge(&self, client: usize, tokens: Vec<AckToken>);
    /// Runs an inline mailbox's queued events on the I/O thread
    /// ([`Mailbox::run_queued`]).
    fn run_inline(&self, mailbox: Arc<Mailbox>);
}

/// One client's queue of events and its callback.
pub(crate) struct Mailbox {
    client: usize,
    /// The application closed the client: only `Closed` is still delivered.
    closing: AtomicBool,
    io: Arc<dyn IoSink>,
    limit: usize,
    /// Run the callback on the delivering (I/O) thread rather than a dispatcher thread.
    inline: bool,
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Default)]
struct State {
    events: VecDeque<ClientEvent>,
    handler: Option<Handler>,
    /// A dispatcher thread has the handler out and is running it.
    running: bool,
    /// `set_handler` was called while running: the running handler is retired after.
    replaced: bool,
    scheduled: bool,
    closed: bool,
    /// `Closed` was handled and the callback dropped: no call will follow.
    retired: bool,
    dropped: u64,
}

thread_local! {
    /// The client whose callback this dispatcher thread is running, if any.
    static IN_CALLBACK: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Whether the calling thread is inside a callback of `client`.
pub(crate) fn in_callback_of(client: usize) -> bool {
    IN_CALLBACK.with(std::cell::Cell::get) == Some(client)
}

impl std::fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Mailbox {
    pub(crate) fn new(client: usize, io: Arc<dyn IoSink>, limit: usize, inline: bool) -> Arc<Self> {
        Arc::new(Self {
            client,
            closing: AtomicBool::new(false),
            io,
            limit,
            inline,
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
        })
    }

    /// Queues events (from the I/O thread) and wakes their consumer; an inline callback runs
    /// here, before this returns.
    pub(crate) fn deliver(self: &Arc<Self>, events: impl IntoIterator<Item = ClientEvent>) {
        let schedule = {
            let mut st = self.state.lock();
            if st.closed {
                return;
            }
            for e in events {
                // QoS 0 may be dropped (at most once); QoS 1/2 are bounded by our Receive
                // Maximum, since the server waits for their acknowledgements.
                if st.events.len() >= self.limit
                    && matches!(&e, ClientEvent::Message(m) if m.qos == QoS::AtMostOnce)
                {
                    st.dropped += 1;
                    continue;
                }
                if st.dropped > 0 && st.events.len() < self.limit {
                    let count = std::mem::take(&mut st.dropped);
                    st.events.push_back(ClientEvent::MessagesDropped { count });
                }
                st.events.push_back(e);
            }
            let schedule = st.handler.is_some() && !st.scheduled;
            if schedule {
                st.scheduled = true;
            }
            schedule
        };
        self.ready.notify_all();
        if schedule {
            if self.inline {
                // Nothing else delivers to this mailbox while we run (only the I/O thread
                // delivers, and this is it), so the loop ends with the queue.
                while self.run() {}
            } else {
                dispatcher().schedule(Arc::clone(self));
            }
        }
    }

    /// Installs (or with `None` removes) the callback. A replaced callback is dropped after
    /// its last call has returned.
    pub(crate) fn set_handler(self: &Arc<Self>, handler: Option<Handler>) {
        let (old, schedule) = {
            let mut st = self.state.lock();
            if st.running {
                st.replaced = true;
            }
            let old = std::mem::replace(&mut st.handler, handler);
            let schedule = st.handler.is_some() && !st.events.is_empty() && !st.scheduled;
            if schedule {
                st.scheduled = true;
            }
            (old, schedule)
        };
        drop(old);
        if schedule {
            if self.inline {
                // Events that came before the callback run where later ones will.
                self.io.run_inline(Arc::clone(self));
            } else {
                dispatcher().schedule(Arc::clone(self));
            }
        }
    }

    /// On the I/O thread: runs the events queued for an inline callback (scheduled by
    /// `set_handler`).
    pub(crate) fn run_queued(self: &Arc<Self>) {
        while self.run() {}
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Pull interface: the next event, waiting up to `timeout`. Messages handed out here are
    /// acknowledged to the server at once. `None` on timeout, and after `Closed`.
    pub(crate) fn next_event(&self, timeout: Duration) -> Option<ClientEvent> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.state.lock();
        loop {
            // Events belong to the callback while one is registered (or running).
            let callback = st.handler.is_some() || st.running || st.scheduled;
            if !callback {
                if let Some(e) = st.events.pop_front() {
                    if matches!(e, ClientEvent::Closed) {
                        st.closed = true;
                    }
                    drop(st);
                    if let ClientEvent::Message(m) = &e {
                        if let Some(t) = m.ack {
                            self.io.acknowledge(self.client, vec![t]);
                        }
                    }
                    return Some(e);
                }
                if st.closed {
                    return None;
                }
            }
            match deadline {
                Some(d) => {
                    if self.ready.wait_until(&mut st, d).timed_out() {
                        return None;
                    }
                }
                None => self.ready.wait(&mut st),
            }
        }
    }

    /// From now on only `Closed` reaches the callback (the application is closing the
    /// client, possibly from inside the callback).
    pub(crate) fn start_closing(&self) {
        self.closing.store(true, Ordering::Release);
    }

    /// Waits until no callback of this client can run any more: `Closed` was delivered and
    /// the callback dropped (or there is no callback). Call after closing.
    pub(crate) fn wait_retired(&self) {
        let mut st = self.state.lock();
        loop {
            if st.retired {
                return;
            }
            if !st.running && (st.closed || st.handler.is_none() && !st.scheduled) {
                // No call can come: drop a callback that will never see `Closed` (it was
                // taken by `next_event`) here, exactly once.
                st.retired = true;
                let handler = st.handler.take();
                drop(st);
                drop(handler);
                return;
            }
            self.ready.wait(&mut st);
        }
    }

    /// Runs a batch of events through the callback (on a dispatcher thread, or inline).
    /// Returns whether more events wait, the mailbox still being scheduled for them.
    fn run(self: &Arc<Self>) -> bool {
        let (batch, mut handler) = {
            let mut st = self.state.lock();
            let Some(handler) = st.handler.take() else {
                st.scheduled = false;
                drop(st);
                self.ready.notify_all();
                return false;
            };
            let n = st.events.len().min(256);
            if n == 0 {
                st.handler = Some(handler);
                st.scheduled = false;
                drop(st);
                self.ready.notify_all();
                return false;
            }
            st.running = true;
            (st.events.drain(..n).collect::<Vec<_>>(), handler)
        };
        let mut acks = Vec::new();
        let mut closed = false;
        IN_CALLBACK.with(|c| c.set(Some(self.client)));
        for e in &batch {
            let closed_event = matches!(e, ClientEvent::Closed);
            if closed_event || !self.closing.load(Ordering::Acquire) {
                // A panicking Rust callback must not take the dispatcher thread with it.
                let _ = catch_unwind(AssertUnwindSafe(|| handler(e)));
            }
            match e {
                ClientEvent::Message(m) => acks.extend(m.ack),
                ClientEvent::Closed => closed = true,
                _ => {}
            }
        }
        IN_CALLBACK.with(|c| c.set(None));
        if !acks.is_empty() {
            self.io.acknowledge(self.client, acks);
        }
        let (retired, again) = {
            let mut st = self.state.lock();
            st.running = false;
            let retired = if closed {
                st.closed = true;
                st.events.clear();
                // The callback's last call has returned: it goes now, exactly once.
                Some(handler).into_iter().chain(st.handler.take()).collect()
            } else if std::mem::take(&mut st.replaced) {
                // Replaced (or removed) while running: the old one is retired.
                vec![handler]
            } else {
                st.handler = Some(handler);
                Vec::new()
            };
            let again = !st.events.is_empty() && st.handler.is_some();
            st.scheduled = again;
            (retired, again)
        };
        drop(retired);
        if closed {
            self.state.lock().retired = true;
        }
        self.ready.notify_all();
        again
    }
}

/// The fixed pool of dispatcher threads shared by every client.
struct Dispatcher {
    tx: Sender<Arc<Mailbox>>,
}

impl Dispatcher {
    fn schedule(&self, mailbox: Arc<Mailbox>) {
        // The receivers live as long as the pool; a send cannot fail.
        let _ = self.tx.send(mailbox);
    }
}

/// How many dispatcher threads run callbacks.
pub const DISPATCH_THREADS: usize = 2;

static DISPATCHER: Service<Dispatcher> = Service::new();

fn dispatcher() -> Arc<Dispatcher> {
    DISPATCHER.get(|threads| {
        let (tx, rx): (Sender<Arc<Mailbox>>, Receiver<Arc<Mailbox>>) = unbounded();
        // The workers hold only the receiving end (and reach the pool through `DISPATCHER`
        // while it runs), so that `stop` dropping the pool closes the channel.
        let dispatcher = Arc::new(Dispatcher { tx });
        for i in 0..DISPATCH_THREADS {
            let rx = rx.clone();
            threads
                .spawn(format!("midge-dispatch-{i}"), move || {
                    for mailbox in rx {
                        if mailbox.run() {
                            // More events came meanwhile: back in line, behind the others
                            // (or, while the pool stops, run here to the end).
                            match DISPATCHER.running() {
                                Some(d) => d.schedule(mailbox),
                                None => while mailbox.run() {},
                            }
                        }
                    }
                })
                .expect("spawning a dispatcher thread");
        }
        dispatcher
    })
}

/// Stops the pool (`shutdown`): the channel closes, the workers run what is queued and end.
pub(crate) fn stop() {
    DISPATCHER.stop(drop);
}
