//! Delivery of events to the application: one path for every event.
//!
//! Each client has a mailbox with two queues. Events go first to the client's callback,
//! when one is installed: it runs on a dispatcher thread (never the I/O thread, never with a
//! midge lock held) and says, per event, whether it took it. An event it does not take (or
//! any event while no callback is installed) goes to the pull queue, where
//! [`Mailbox::next_event`] hands it out. Nothing is dropped between the two: a QoS 1/2
//! message is acknowledged to the server only after a callback took it or `next_event`
//! handed it out (with `ClientOptions::manual_ack`, only when the application says so).
//! [`ClientEvent::Closed`] reaches both: the callback, then the pull queue.
//!
//! Backpressure rather than loss: while the messages waiting in a mailbox (both queues) are
//! at the client's bounds (a count and approximate bytes; other events do not count), the I/O thread stops reading the
//! client's socket ([`Mailbox::room`]); the server's flow control then holds the
//! messages. The mailbox resumes reading once the application has taken events below the
//! bounds. What one read brought may pass them; QoS 0 messages are dropped and counted
//! ([`ClientEvent::MessagesDropped`]) only past twice the bounds (in bytes, past
//! [`Bounds::drop_bytes`], which leaves room for the largest packet one read may complete),
//! a safety net.
//!
//! Callbacks run on a pool of dispatcher threads that grows when every thread is busy (a
//! callback may block, in a `_wait` call for instance) and shrinks when threads stay idle.
//! A mailbox is run by at most one thread at a time, so each client is a serial executor:
//! its callbacks run in order and never concurrently, and a blocked callback holds up only
//! its own client.
//!
//! A client may instead ask for its callback to run inline, on the I/O thread, as soon as
//! the events are read (`ClientOptions::inline_callbacks`): no thread hand-off per message,
//! at the price that the callback must not block (waits fail with `WouldDeadlock`) and a
//! slow one delays every client.
//!
//! The pull queue can be waited on without a thread: [`Mailbox::event_fd`] is a file
//! descriptor that is readable exactly while the pull queue holds events.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::event::ClientEvent;
use pool::dispatcher;
pub(crate) use pool::stop;
pub use pool::{MIN_THREADS, dispatch_threads};

mod pool;
use crate::codec::QoS;
use crate::protocol::AckToken;
use crate::protocol::Release;

/// A callback: receives every event of its client.
pub type Handler = Box<dyn FnMut(&ClientEvent) + Send>;

/// A callback that may leave events to the pull queue: returns whether it took the event.
pub(crate) type Router = Box<dyn FnMut(&ClientEvent) -> bool + Send>;

/// The I/O thread, as the mailbox sees it.
pub(crate) trait IoSink: Send + Sync {
    /// Acknowledgements of delivered messages.
    fn acknowledge(&self, client: usize, tokens: Vec<AckToken>);
    /// Runs an inline mailbox's queued events on the I/O thread
    /// ([`Mailbox::run_queued`]).
    fn run_inline(&self, mailbox: Arc<Mailbox>);
    /// The mailbox has room again: read the client's socket.
    fn resume(&self, client: usize);
}

/// Whether the I/O thread may read a client's socket ([`Mailbox::room`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Room {
    Yes,
    /// Not before what was read is delivered.
    Later,
    /// Not before the application takes events (reading is paused).
    Full,
}

/// How many events, and how many bytes of them, may wait in a mailbox.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub count: usize,
    pub bytes: usize,
    /// Past this many bytes QoS 0 messages are dropped (a safety net): at least twice
    /// `bytes`, and more when one read may complete a packet larger than that (the bound
    /// plus the largest packet and a read chunk).
    pub drop_bytes: usize,
}

/// One client's queues of events and its callback.
pub(crate) struct Mailbox {
    client: usize,
    /// The application closed the client: only `Closed` is still delivered.
    closing: AtomicBool,
    io: Arc<dyn IoSink>,
    bounds: Bounds,
    /// Run the callback on the delivering (I/O) thread rather than a dispatcher thread.
    inline: bool,
    /// The application acknowledges messages itself (`ClientOptions::manual_ack`): none is
    /// acknowledged when the callback returns or `next_event` hands it out.
    manual_ack: bool,
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Default)]
struct State {
    /// Waiting for the callback.
    events: VecDeque<ClientEvent>,
    /// Waiting for `next_event`.
    pull: VecDeque<ClientEvent>,
    /// Approximate memory of the events in both queues and in the batch being run.
    bytes: usize,
    /// Messages in both queues and in the batch being run: what the count bound counts.
    /// Other events are few and small; they never stop reading, so that events nobody
    /// takes (a kind with no callback, in a program that never pulls) cannot stall the
    /// client.
    messages: usize,
    handler: Option<Router>,
    /// A dispatcher thread has the handler out and is running it.
    running: bool,
    /// `set_handler` was called while running: the running handler is retired after.
    replaced: bool,
    scheduled: bool,
    /// `Closed` was queued: nothing follows it.
    ended: bool,
    /// `Closed` went through the callback side (handled, or passed on to the pull queue).
    closed: bool,
    /// `Closed` was handed out by `next_event`.
    pulled_closed: bool,
    /// `Closed` was handed to the callback.
    called_closed: bool,
    /// `Closed` was handled and the callback dropped: no call will follow.
    retired: bool,
    dropped: u64,
    /// The I/O thread stopped reading the socket until there is room.
    paused: bool,
    /// The readiness pipe, once asked for, and whether it holds its byte.
    fd: Option<EventFd>,
}

/// A pipe whose read end is readable while the pull queue holds events.
struct EventFd {
    read: UnixStream,
    write: UnixStream,
    signaled: bool,
}

impl State {
    fn full(&self, b: Bounds) -> bool {
        self.messages >= b.count || self.bytes >= b.bytes
    }

    /// Past twice the bounds (in bytes, `drop_bytes`): only QoS 0 can still be refused
    /// (dropped).
    fn over(&self, b: Bounds) -> bool {
        self.messages >= b.count.saturating_mul(2) || self.bytes >= b.drop_bytes
    }

    /// Puts an event into the queues' accounting.
    fn add(&mut self, e: &ClientEvent) {
        if matches!(e, ClientEvent::Message(_)) {
            self.bytes += e.approx_size();
            self.messages += 1;
        }
    }

    fn push_pull(&mut self, e: ClientEvent) {
        self.pull.push_back(e);
        self.signal();
    }

    /// Keeps the fd's readiness equal to "the pull queue is not empty".
    fn signal(&mut self) {
        let want = !self.pull.is_empty();
        if let Some(fd) = &mut self.fd
            && fd.signaled != want
        {
            if want {
                // Non-blocking, one byte in an empty pipe: cannot fill it.
                let _ = fd.write.write(&[1]);
            } else {
                let mut buf = [0u8; 16];
                while matches!(fd.read.read(&mut buf), Ok(n) if n > 0) {}
            }
            fd.signaled = want;
        }
    }

    /// Takes an event out of the queues' accounting.
    fn took(&mut self, e: &ClientEvent) {
        if matches!(e, ClientEvent::Message(_)) {
            self.bytes = self.bytes.saturating_sub(e.approx_size());
            self.messages = self.messages.saturating_sub(1);
        }
    }
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
    pub(crate) fn new(
        client: usize,
        io: Arc<dyn IoSink>,
        bounds: Bounds,
        inline: bool,
        manual_ack: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            closing: AtomicBool::new(false),
            io,
            bounds: Bounds {
                count: bounds.count.max(1),
                bytes: bounds.bytes.max(1),
                drop_bytes: bounds.drop_bytes.max(bounds.bytes.max(1).saturating_mul(2)),
            },
            inline,
            manual_ack,
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
        })
    }

    /// Queues events (from the I/O thread) and wakes their consumer; an inline callback runs
    /// here, before this returns.
    pub(crate) fn deliver(self: &Arc<Self>, events: impl IntoIterator<Item = ClientEvent>) {
        let schedule = {
            let mut st = self.state.lock();
            if st.ended {
                return;
            }
            let callback = st.handler.is_some() || st.running;
            for e in events {
                // Reading stops at the bounds (`room`), so what arrives beyond them is at
                // most one read. QoS 0 (at most once) is dropped only past twice the bounds,
                // a safety net; QoS 1/2 never.
                if st.over(self.bounds)
                    && matches!(&e, ClientEvent::Message(m) if m.qos == QoS::AtMostOnce)
                {
                    st.dropped += 1;
                    continue;
                }
                if st.dropped > 0 && !st.over(self.bounds) {
                    let count = std::mem::take(&mut st.dropped);
                    let dropped = ClientEvent::MessagesDropped { count };
                    if callback {
                        st.events.push_back(dropped);
                    } else {
                        st.push_pull(dropped);
                    }
                }
                if matches!(e, ClientEvent::Closed) {
                    st.ended = true;
                }
                st.add(&e);
                if callback {
                    st.events.push_back(e);
                } else {
                    if matches!(e, ClientEvent::Closed) {
                        st.closed = true;
                    }
                    st.push_pull(e);
                }
            }
            let schedule = callback && !st.events.is_empty() && !st.scheduled;
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
    /// its last call has returned. Events waiting in the pull queue are offered to a new
    /// callback first (in order); those it does not take go back to the pull queue.
    pub(crate) fn set_handler(self: &Arc<Self>, handler: Option<Router>) {
        let (old, schedule) = {
            let mut st = self.state.lock();
            if st.running {
                st.replaced = true;
            }
            let old = std::mem::replace(&mut st.handler, handler);
            if st.handler.is_some() && !st.closed {
                // The pull queue holds the older events: they go first.
                let mut offered = std::mem::take(&mut st.pull);
                offered.append(&mut st.events);
                st.events = offered;
                st.signal();
            } else if st.handler.is_none() && !st.running {
                // No callback to take them: what waited for one goes to the pull queue.
                let waiting = std::mem::take(&mut st.events);
                for e in waiting {
                    if matches!(e, ClientEvent::Closed) {
                        st.closed = true;
                    }
                    st.push_pull(e);
                }
            }
            let schedule = st.handler.is_some() && !st.events.is_empty() && !st.scheduled;
            if schedule {
                st.scheduled = true;
            }
            (old, schedule)
        };
        drop(old);
        self.ready.notify_all();
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

    /// Whether `Closed` was handed to the application (callback or `next_event`).
    pub(crate) fn is_closed(&self) -> bool {
        let st = self.state.lock();
        st.pulled_closed || st.called_closed
    }

    /// How many messages wait (both queues, and a callback's batch) and their approximate
    /// bytes.
    pub(crate) fn queued(&self) -> (usize, usize) {
        let st = self.state.lock();
        (st.messages, st.bytes)
    }

    /// On the I/O thread, before reading the socket, with `pending` bytes already read in
    /// this round and not yet delivered, holding `pending_events` decoded events: whether
    /// to read now.
    pub(crate) fn room(&self, pending: usize, pending_events: usize) -> Room {
        let mut st = self.state.lock();
        if st.full(self.bounds) {
            // The mailbox asks the I/O thread to resume ([`IoSink::resume`]) once the
            // application has taken events below the bounds.
            st.paused = true;
            Room::Full
        } else if pending > 0
            && (st.bytes + pending >= self.bounds.bytes
                || st.messages + pending_events >= self.bounds.count)
        {
            // What was read will fill it: deliver that first, then look again.
            Room::Later
        } else {
            Room::Yes
        }
    }

    /// Whether reading is paused until the application takes messages.
    pub(crate) fn is_paused(&self) -> bool {
        self.state.lock().paused
    }

    /// After events left the queues: resumes reading when it was paused and there is room.
    fn resume_if_room(&self, st: &mut State) -> bool {
        if st.paused && !st.full(self.bounds) {
            st.paused = false;
            true
        } else {
            false
        }
    }

    /// The readiness file descriptor of the pull queue (made on first use; owned by the
    /// mailbox). `None` if the system refused a socket pair.
    pub(crate) fn event_fd(&self) -> Option<RawFd> {
        let mut st = self.state.lock();
        if st.fd.is_none() {
            let (read, write) = UnixStream::pair().ok()?;
            read.set_nonblocking(true).ok()?;
            write.set_nonblocking(true).ok()?;
            st.fd = Some(EventFd {
                read,
                write,
                signaled: false,
            });
            st.signal();
        }
        st.fd.as_ref().map(|fd| fd.read.as_raw_fd())
    }

    /// Pull interface: the next event, waiting up to `timeout`. Messages handed out here are
    /// acknowledged to the server at once. `None` on timeout, and after `Closed`.
    pub(crate) fn next_event(&self, timeout: Duration) -> Option<ClientEvent> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.state.lock();
        loop {
            if let Some(e) = st.pull.pop_front() {
                st.pull.release_if_empty();
                st.took(&e);
                if matches!(e, ClientEvent::Closed) {
                    st.pulled_closed = true;
                }
                st.signal();
                let resume = self.resume_if_room(&mut st);
                drop(st);
                if let ClientEvent::Message(m) = &e
                    && let Some(t) = m.ack
                    && !self.manual_ack
                {
                    self.io.acknowledge(self.client, vec![t]);
                }
                if resume {
                    self.io.resume(self.client);
                }
                return Some(e);
            }
            if st.pulled_closed {
                return None;
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
                // No call can come: drop a callback that will never see `Closed` here,
                // exactly once.
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
            let batch = st.events.drain(..n).collect::<Vec<_>>();
            // An idle client keeps no queue's worth of memory.
            st.events.release_if_empty();
            (batch, handler)
        };
        let mut acks = Vec::new();
        // What the callback took (or was skipped), for the accounting.
        let mut gone = State::default();
        let mut to_pull = Vec::new();
        let mut closed = false;
        IN_CALLBACK.with(|c| c.set(Some(self.client)));
        for e in batch {
            if matches!(e, ClientEvent::Closed) {
                let _ = catch_unwind(AssertUnwindSafe(|| handler(&e)));
                closed = true;
                to_pull.push(e);
                continue;
            }
            // Looked at per event: the callback itself may close the client.
            if self.closing.load(Ordering::Acquire) {
                // Not shown, and not acknowledged: the server keeps a QoS 1/2 message of a
                // kept session for the next connection.
                gone.add(&e);
                continue;
            }
            // A panicking Rust callback must not take the dispatcher thread with it; the
            // event counts as taken.
            let taken = catch_unwind(AssertUnwindSafe(|| handler(&e))).unwrap_or(true);
            if taken {
                if let ClientEvent::Message(m) = &e
                    && !self.manual_ack
                {
                    acks.extend(m.ack);
                }
                gone.add(&e);
            } else {
                to_pull.push(e);
            }
        }
        IN_CALLBACK.with(|c| c.set(None));
        if !acks.is_empty() {
            self.io.acknowledge(self.client, acks);
        }
        let (retired, again, resume) = {
            let mut st = self.state.lock();
            st.running = false;
            st.bytes = st.bytes.saturating_sub(gone.bytes);
            st.messages = st.messages.saturating_sub(gone.messages);
            for e in to_pull {
                if matches!(e, ClientEvent::Closed) {
                    st.closed = true;
                }
                st.push_pull(e);
            }
            let retired = if closed {
                st.called_closed = true;
                // The callback's last call has returned: it goes now, exactly once.
                Some(handler).into_iter().chain(st.handler.take()).collect()
            } else if std::mem::take(&mut st.replaced) {
                // Replaced (or removed) while running: the old one is retired.
                vec![handler]
            } else {
                st.handler = Some(handler);
                Vec::new()
            };
            if st.handler.is_none() && !closed {
                // The callback was removed: what waited for it goes to the pull queue.
                let waiting = std::mem::take(&mut st.events);
                for e in waiting {
                    if matches!(e, ClientEvent::Closed) {
                        st.closed = true;
                    }
                    st.push_pull(e);
                }
            }
            let again = !st.events.is_empty() && st.handler.is_some();
            st.scheduled = again;
            let resume = self.resume_if_room(&mut st);
            (retired, again, resume)
        };
        drop(retired);
        if closed {
            self.state.lock().retired = true;
        }
        self.ready.notify_all();
        if resume {
            self.io.resume(self.client);
        }
        again
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{ByteString, Bytes, Properties};
    use crate::protocol::Message;

    #[derive(Default)]
    struct Io {
        resumed: Mutex<Vec<usize>>,
    }

    impl IoSink for Io {
        fn acknowledge(&self, _: usize, _: Vec<AckToken>) {}
        fn run_inline(&self, _: Arc<Mailbox>) {}
        fn resume(&self, client: usize) {
            self.resumed.lock().push(client);
        }
    }

    fn message(qos: QoS, len: usize) -> ClientEvent {
        ClientEvent::Message(Message {
            topic: ByteString::from_static("t"),
            payload: Bytes::from(vec![0; len]),
            qos,
            retain: false,
            dup: false,
            packet_id: 0,
            properties: Properties::new(),
            ack: None,
        })
    }

    /// Bounds of `count` messages and `bytes`, QoS 0 dropped past twice them.
    fn bounds(count: usize, bytes: usize) -> Bounds {
        Bounds {
            count,
            bytes,
            drop_bytes: 0,
        }
    }

    /// Whether the readiness pipe holds its byte (the C test polls the descriptor itself).
    fn readable(mb: &Mailbox) -> bool {
        mb.state.lock().fd.as_ref().is_some_and(|fd| fd.signaled)
    }

    #[test]
    fn reading_pauses_at_the_bound_and_resumes_when_the_application_takes_messages() {
        let io = Arc::new(Io::default());
        let bounds = bounds(2, 1 << 20);
        let mb = Mailbox::new(7, Arc::clone(&io) as Arc<dyn IoSink>, bounds, false, false);
        assert!(mb.event_fd().is_some());
        assert!(!readable(&mb));
        assert_eq!(mb.room(0, 0), Room::Yes);
        mb.deliver([message(QoS::AtLeastOnce, 10)]);
        assert!(readable(&mb), "an event waits");
        assert_eq!(mb.room(0, 0), Room::Yes);
        // One read may bring more than the bound: nothing is dropped below twice it.
        mb.deliver([message(QoS::AtMostOnce, 10), message(QoS::AtMostOnce, 10)]);
        assert_eq!(mb.queued().0, 3);
        assert_eq!(mb.room(0, 0), Room::Full, "at the bound reading stops");
        // Past twice the bound, the safety net drops QoS 0 only.
        mb.deliver([message(QoS::AtMostOnce, 10), message(QoS::AtMostOnce, 10)]);
        mb.deliver([message(QoS::ExactlyOnce, 10)]);
        assert_eq!(mb.queued().0, 5);
        let mut kinds = Vec::new();
        while let Some(e) = mb.next_event(Duration::ZERO) {
            kinds.push(e);
            if mb.queued().0 == 1 {
                assert_eq!(*io.resumed.lock(), vec![7], "resumed below the bound, once");
            }
        }
        assert_eq!(kinds.len(), 5);
        assert!(!readable(&mb), "drained");
        assert_eq!(mb.queued(), (0, 0));
        assert_eq!(io.resumed.lock().len(), 1);
    }

    #[test]
    fn the_byte_bound_counts_what_was_read_but_not_delivered() {
        let io = Arc::new(Io::default());
        let bounds = bounds(100, 1000);
        let mb = Mailbox::new(1, io as Arc<dyn IoSink>, bounds, false, false);
        mb.deliver([message(QoS::AtLeastOnce, 500)]);
        assert_eq!(mb.room(0, 0), Room::Yes);
        assert_eq!(mb.room(600, 0), Room::Later, "deliver what was read first");
        mb.deliver([message(QoS::AtLeastOnce, 500)]);
        assert_eq!(mb.room(0, 0), Room::Full);
    }

    /// A message larger than twice the byte bound (one read may complete a packet of the
    /// largest size accepted) is no reason to drop the QoS 0 messages that came with it, up
    /// to `drop_bytes`; past it, the safety net drops them.
    #[test]
    fn qos0_beside_a_message_larger_than_the_bound_is_dropped_only_past_drop_bytes() {
        let deliver_big_then_small = |drop_bytes| {
            let io = Arc::new(Io::default());
            let bounds = Bounds {
                count: 100,
                bytes: 1000,
                drop_bytes,
            };
            let mb = Mailbox::new(1, io as Arc<dyn IoSink>, bounds, false, false);
            mb.deliver([message(QoS::AtMostOnce, 5000), message(QoS::AtMostOnce, 10)]);
            mb.queued().0
        };
        assert_eq!(deliver_big_then_small(10_000), 2, "both kept");
        assert_eq!(
            deliver_big_then_small(0),
            1,
            "twice the bound: the small one dropped"
        );
    }

    /// Several reads in one round could each bring many small messages past the count
    /// bound before any is delivered: the messages decoded but not delivered count too.
    #[test]
    fn the_count_bound_counts_what_was_decoded_but_not_delivered() {
        let io = Arc::new(Io::default());
        let bounds = bounds(5, 1 << 20);
        let mb = Mailbox::new(1, io as Arc<dyn IoSink>, bounds, false, false);
        mb.deliver([message(QoS::AtLeastOnce, 10)]);
        assert_eq!(mb.room(100, 3), Room::Yes, "1 queued + 3 decoded < 5");
        assert_eq!(mb.room(100, 4), Room::Later, "deliver the decoded first");
        assert_eq!(mb.room(0, 0), Room::Yes);
    }

    #[test]
    fn a_partial_callback_leaves_what_it_declines_to_the_pull_queue() {
        let io = Arc::new(Io::default());
        let bounds = bounds(100, 1 << 20);
        let mb = Mailbox::new(2, io as Arc<dyn IoSink>, bounds, true, false);
        let taken = Arc::new(Mutex::new(0));
        let t = Arc::clone(&taken);
        mb.set_handler(Some(Box::new(move |e| {
            let message = matches!(e, ClientEvent::Message(_));
            *t.lock() += usize::from(message);
            message
        })));
        mb.deliver([
            ClientEvent::Reauthenticated,
            message(QoS::AtLeastOnce, 1),
            ClientEvent::Closed,
        ]);
        assert_eq!(*taken.lock(), 1);
        assert_eq!(
            mb.next_event(Duration::ZERO),
            Some(ClientEvent::Reauthenticated)
        );
        assert_eq!(mb.next_event(Duration::ZERO), Some(ClientEvent::Closed));
        assert_eq!(mb.next_event(Duration::ZERO), None);
        assert!(mb.is_closed());
    }

    #[test]
    fn events_waiting_in_the_pull_queue_are_offered_to_a_new_callback_in_order() {
        let io = Arc::new(Io::default());
        let bounds = bounds(100, 1 << 20);
        let mb = Mailbox::new(3, io as Arc<dyn IoSink>, bounds, true, false);
        mb.deliver([ClientEvent::Reauthenticated, message(QoS::AtLeastOnce, 1)]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        // Declines everything, but sees it first, in order.
        mb.set_handler(Some(Box::new(move |e| {
            s.lock().push(e.clone());
            false
        })));
        // An inline mailbox runs what was queued on the I/O thread (`RunInline`).
        mb.run_queued();
        mb.deliver([ClientEvent::SessionLost { resubscribed: 0 }]);
        assert_eq!(seen.lock().len(), 3);
        assert_eq!(seen.lock()[0], ClientEvent::Reauthenticated);
        let pulled: Vec<_> = std::iter::from_fn(|| mb.next_event(Duration::ZERO)).collect();
        assert_eq!(pulled[0], ClientEvent::Reauthenticated);
        assert!(matches!(pulled[1], ClientEvent::Message(_)));
        assert_eq!(pulled[2], ClientEvent::SessionLost { resubscribed: 0 });
    }
}
