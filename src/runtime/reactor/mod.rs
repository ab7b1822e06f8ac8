//! The I/O thread: one `mio::Poll` multiplexing every client's socket, driving each
//! client's [`Session`] with the transport's bytes, the application's commands and timers.
//!
//! The application's threads send [`Command`]s. When the I/O thread is asleep in the poller,
//! the calling thread takes the reactor's lock and carries the command out itself (the
//! session encodes, the socket is written), which saves waking the I/O thread for each
//! publish; when the I/O thread is busy, the command goes over a channel and the thread is
//! woken (at most once per batch). Nobody ever waits for that lock but the I/O thread: a
//! caller that does not get it at once uses the channel. Whatever a caller's command
//! produces for the application (events, callbacks) is handed to the I/O thread, so
//! application code runs only there (inline callbacks) or on the dispatcher threads.
//!
//! The thread reads in large chunks, decodes every packet in a read, and writes everything
//! a round produced in one syscall per client. It never blocks on DNS or connect.
//!
//! Batching adapts to the traffic ([`batching`]): while it is sparse, a caller's publish is
//! written at once and a reply is read as soon as it arrives. Once it is dense, the I/O
//! thread pauses (without the lock) before it polls again, up to a client's `linger`.
//! Callers then leave what they write in the write buffer (`held`), and the next round
//! writes it together with the acknowledgements of everything that arrived meanwhile,
//! which it reads in one go.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use parking_lot::Mutex;

use super::backoff::{Backoff, Jitter, ReconnectPolicy};
use super::completion::Completion;
use super::dispatch::{IoSink, Mailbox, Room};
use super::event::{ClientEvent, LogLevel};
use super::servers::{FilterSlot, Next, Servers};
use super::shared::Shared;
use super::shutdown::Service;
use super::spin::AdaptiveSpin;
use crate::codec::{ByteString, Bytes, DisconnectReasonCode, Properties, PropertyId, Subscription};
use crate::error::Error;
use crate::protocol::{
    AckToken, ConnAckInfo, ConnectChange, DisconnectCause, Event, Message, Persisted, PublishAck,
    PublishRequest, RequestError, RequestId, RestoredPublish, Session, State, SubscribeAck,
    UnsubscribeAck,
};
use crate::protocol::{IdMap, Release, TRANSMIT_HIGH_WATER};
use crate::store::SharedStore;
use crate::transport::{self, Address, HandshakeError, Resolver, Stream, TcpOptions};
use batching::Batching;

mod batching;
mod commands;
mod connecting;
mod ending;
mod persistence;
pub(super) use persistence::write_ops;
mod round;
mod socket;
mod waiting;

use ending::{goes_on, on_disconnected};
use waiting::Waiting;

const WAKER: Token = Token(usize::MAX);
const READ_CHUNK: usize = 64 * 1024;
/// Reads per client and round: what was read is handed over (and acknowledged) before
/// more is read, so that a backlog in the socket is not all decoded into memory at once
/// (11 MB was, with 16 KiB messages), and one busy connection does not hold up the others.
const READS_PER_ROUND: usize = 4;
/// The write buffer capacity kept between bursts.
const WBUF_KEEP: usize = 256 * 1024;
/// What callers may leave in a write buffer during a linger: beyond it they write.
const LINGER_LIMIT: usize = 64 * 1024;

/// Per-connection settings that are the runtime's, not the protocol's.
#[derive(Debug, Clone)]
pub(crate) struct ConnSettings {
    pub reconnect: ReconnectPolicy,
    pub tcp: TcpOptions,
    /// Bound on DNS resolution plus TCP connect, TLS handshake and WebSocket upgrade.
    pub connect_timeout: Duration,
    /// Flags and counters shared with the `Client`.
    pub shared: Arc<Shared>,
    pub log_level: LogLevel,
    /// How long the I/O thread polls without sleeping before it sleeps (the longest any
    /// client asked for).
    pub busy_poll: Duration,
    /// The longest pause of the I/O thread between rounds while this client's traffic is
    /// dense, so that packets accumulate (zero: its callers never leave packets for the
    /// I/O thread).
    pub linger: Duration,
    /// Where a persistent session's records go (`ClientOptions::store`).
    pub store: Option<SharedStore>,
}

/// What the application's threads ask of the I/O thread.
pub(crate) enum Command {
    Register {
        client: usize,
        session: Box<Session>,
        servers: Box<Servers>,
        settings: ConnSettings,
        mailbox: Arc<Mailbox>,
        /// Publishes restored from the store, whose ends are reported as
        /// [`ClientEvent::RestoredPublishComplete`].
        restored: Vec<RestoredPublish>,
    },
    Connect {
        client: usize,
        waiter: Option<Completion<ConnAckInfo>>,
    },
    Publish {
        client: usize,
        request: PublishRequest,
        completion: Completion<PublishAck>,
        /// Its record, written by the caller (a persistent client's QoS 1/2 publish).
        persisted: Option<Persisted>,
    },
    Subscribe {
        client: usize,
        subscriptions: Vec<Subscription>,
        properties: Properties,
        completion: Completion<SubscribeAck>,
    },
    Unsubscribe {
        client: usize,
        filters: Vec<ByteString>,
        properties: Properties,
        completion: Completion<UnsubscribeAck>,
    },
    Disconnect {
        client: usize,
        reason_code: DisconnectReasonCode,
        properties: Properties,
        completion: Completion<()>,
    },
    Reauthenticate {
        client: usize,
        completion: Completion<()>,
    },
    /// Changes what the next CONNECT carries: (client, change, completion).
    ChangeConnect(usize, ConnectChange, Completion<()>),
    Ack {
        client: usize,
        tokens: Vec<AckToken>,
        /// Ends once the acknowledgements are in the store (`Client::ack` of a persistent
        /// client waits for it).
        stored: Option<Completion<()>>,
    },
    /// Awaits the reply whose Correlation Data is `correlation`, then publishes.
    Request {
        client: usize,
        request: PublishRequest,
        correlation: Bytes,
        reply: Completion<Message>,
    },
    /// Runs the events an inline callback was installed after (on the I/O thread only).
    RunInline { mailbox: Arc<Mailbox> },
    /// The client's mailbox has room again: read its socket.
    Resume { client: usize },
    /// The requester gave up waiting.
    ForgetRequest { client: usize, correlation: Bytes },
    Close {
        client: usize,
        completion: Completion<()>,
    },
    Resolved {
        client: usize,
        generation: u64,
        result: io::Result<Vec<SocketAddr>>,
    },
    /// `shutdown`: the I/O thread ends after this round.
    Shutdown,
}

/// The application threads' side of the I/O thread.
pub(crate) struct ReactorHandle {
    tx: Sender<Command>,
    waker: Waker,
    wake_pending: AtomicBool,
    /// The I/O thread is in (or on its way into) the poller, having seen an empty queue:
    /// a queued command must wake it. While it works, it looks at the queue before it
    /// sleeps, and a command queued meanwhile needs no wake-up.
    asleep: AtomicBool,
    /// Held by the I/O thread while it works, and by a caller carrying out its own command
    /// while the I/O thread sleeps.
    reactor: Mutex<Reactor>,
}

impl std::fmt::Debug for ReactorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReactorHandle").finish_non_exhaustive()
    }
}

impl ReactorHandle {
    /// Queues a command and wakes the I/O thread unless a wake-up is already pending, so a
    /// burst of publishes costs one wake-up. The I/O thread itself (an inline callback)
    /// needs no wake-up: it looks at the queue again before it next waits.
    pub(crate) fn send(&self, command: Command) {
        if on_io_thread() {
            let _ = self.tx.send(command);
            return;
        }
        // The authenticator and inline callbacks (application code) run on the I/O thread
        // only.
        // So does the redirect callback, which a read (`Resume`) may reach.
        let direct = !matches!(
            command,
            Command::Reauthenticate { .. }
                | Command::RunInline { .. }
                | Command::Resume { .. }
                | Command::Shutdown
        );
        if let Some(mut reactor) = direct.then(|| self.reactor.try_lock()).flatten() {
            // The I/O thread is asleep (or between rounds): do it here, unless commands
            // wait in the queue. This one then goes behind them, so that a client's commands
            // keep their order (and the I/O thread, already woken for those, takes it).
            if reactor.rx.is_empty() {
                let wake = reactor.run_direct(command, self.asleep.load(Ordering::SeqCst));
                drop(reactor);
                if wake {
                    self.wake();
                }
                return;
            }
        }
        if self.tx.send(command).is_ok() {
            // Pairs with the fence in `before_sleep`: either the I/O thread sees this
            // command in its last look at the queue, or this sees it asleep.
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.asleep.load(Ordering::SeqCst) {
                self.wake();
            }
        }
    }

    /// Wakes the I/O thread unless a wake-up is already pending.
    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::AcqRel) {
            // A failed wake leaves the work queued for the next poll round.
            let _ = self.waker.wake();
        }
    }
}

impl IoSink for ReactorHandle {
    fn acknowledge(&self, client: usize, tokens: Vec<AckToken>) {
        self.send(Command::Ack {
            client,
            tokens,
            stored: None,
        });
    }

    fn run_inline(&self, mailbox: Arc<Mailbox>) {
        self.send(Command::RunInline { mailbox });
    }

    fn resume(&self, client: usize) {
        self.send(Command::Resume { client });
    }
}

thread_local! {
    static ON_IO_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is midge's I/O thread (where waiting would deadlock).
pub(crate) fn on_io_thread() -> bool {
    ON_IO_THREAD.with(std::cell::Cell::get)
}

static REACTOR: Service<ReactorHandle> = Service::new();

/// The process-wide I/O thread, started on first use (again after `shutdown`).
pub(crate) fn handle() -> Arc<ReactorHandle> {
    REACTOR.get(|threads| {
        let poll = Poll::new().expect("creating the I/O poller");
        let waker = Waker::new(poll.registry(), WAKER).expect("creating the I/O waker");
        let registry = poll.registry().try_clone().expect("sharing the I/O poller");
        let (tx, rx) = unbounded();
        let handle = Arc::new_cyclic(|me| ReactorHandle {
            tx,
            waker,
            wake_pending: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            reactor: Mutex::new(Reactor::new(registry, rx, me.clone())),
        });
        let io = Arc::clone(&handle);
        threads
            .spawn("midge-io".into(), move || {
                ON_IO_THREAD.with(|f| f.set(true));
                io_thread(&io, poll);
            })
            .expect("spawning the I/O thread");
        handle
    })
}

enum Phase {
    Idle,
    Resolving,
    Connecting {
        stream: Stream,
        addrs: Vec<SocketAddr>,
        next: usize,
    },
    Open {
        stream: Stream,
    },
    Backoff,
}

struct Conn {
    session: Session,
    /// The server list, the one in use, redirections.
    servers: Box<Servers>,
    /// The current attempt got a CONNACK success (a loss is then not a failed attempt).
    attempt_up: bool,
    /// A redirection is followed: the next attempt goes at once.
    redirect_now: bool,
    settings: ConnSettings,
    mailbox: Arc<Mailbox>,
    phase: Phase,
    /// Connect timeout (resolve + TCP) or the end of a backoff.
    phase_deadline: Option<Instant>,
    /// The deadline now in the timer set.
    timer: Option<Instant>,
    wbuf: Vec<u8>,
    woff: usize,
    writable_interest: bool,
    /// Reading stopped: the bytes we owe the server reached the write budget (see
    /// `backlog_full`).
    read_paused: bool,
    backoff: Backoff,
    resolve_generation: u64,
    /// The application wants a connection (connect called, no disconnect since).
    wanted: bool,
    publishes: IdMap<RequestId, Completion<PublishAck>>,
    /// What else waits for the server; `None` while nothing does.
    waiting: Option<Box<Waiting>>,
    close_waiter: Option<Completion<()>>,
    out_events: Vec<ClientEvent>,
    /// Bytes read from the socket whose events have not reached the mailbox yet (the
    /// backpressure check counts them).
    undelivered: usize,
    /// Read once more despite backpressure (a keep-alive deadline while paused).
    force_read: bool,
    /// The session's packets (sent and received) counted so far, for [`Batching`].
    packets_seen: u64,
}

impl Conn {
    fn new(
        session: Session,
        servers: Box<Servers>,
        settings: ConnSettings,
        mailbox: Arc<Mailbox>,
    ) -> Self {
        Self {
            session,
            servers,
            attempt_up: false,
            redirect_now: false,
            settings,
            mailbox,
            phase: Phase::Idle,
            phase_deadline: None,
            timer: None,
            wbuf: Vec::new(),
            woff: 0,
            writable_interest: false,
            read_paused: false,
            backoff: Backoff::default(),
            resolve_generation: 0,
            wanted: false,
            publishes: IdMap::default(),
            waiting: None,
            close_waiter: None,
            out_events: Vec::new(),
            undelivered: 0,
            force_read: false,
            packets_seen: 0,
        }
    }
}

/// Polls without sleeping for up to `spin` (yielding the CPU to anyone who wants it), then
/// sleeps up to `timeout`. Spinning keeps a reply that comes within `spin` from paying for
/// a wake-up, which on virtual machines costs tens of microseconds per hop: the longer of
/// the clients' `busy_poll` and what [`AdaptiveSpin`] finds worth it.
fn busy_poll(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
    spin: Duration,
) -> io::Result<()> {
    if !spin.is_zero() && timeout != Some(Duration::ZERO) {
        let start = Instant::now();
        loop {
            poll.poll(events, Some(Duration::ZERO))?;
            if !events.is_empty() {
                return Ok(());
            }
            let elapsed = start.elapsed();
            if elapsed >= spin {
                let left = timeout.map(|t| t.saturating_sub(elapsed));
                return poll.poll(events, left);
            }
            std::thread::yield_now();
        }
    }
    poll.poll(events, timeout)
}

/// The I/O thread: sleeps in the poller without the reactor's lock, works with it.
fn io_thread(handle: &ReactorHandle, mut poll: Poll) {
    let mut events = Events::with_capacity(1024);
    let mut adaptive = AdaptiveSpin::default();
    loop {
        let (timeout, spin, linger) = handle.reactor.lock().before_sleep(&handle.asleep);
        if !linger.is_zero() {
            // Without the lock: callers carry out their commands meanwhile, leaving what
            // they write for the round that follows.
            std::thread::sleep(linger);
        }
        // A wait, not a look: its length tells whether spinning before the next pays.
        let waits = linger.is_zero() && timeout != Some(Duration::ZERO);
        let started = waits.then(Instant::now);
        let spin = if waits {
            spin.max(adaptive.spin())
        } else {
            spin
        };
        let polled = busy_poll(&mut poll, &mut events, timeout, spin);
        if let Some(started) = started {
            adaptive.waited((!events.is_empty()).then(|| started.elapsed()));
        }
        handle.asleep.store(false, Ordering::SeqCst);
        if let Err(e) = polled {
            if e.kind() != io::ErrorKind::Interrupted {
                // The poller itself failing leaves nothing to drive; keep trying calmly.
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        let mut reactor = handle.reactor.lock();
        handle.wake_pending.store(false, Ordering::Release);
        reactor.round(&events);
        if reactor.stopping {
            reactor.stop();
            return;
        }
    }
}

/// Ends the I/O thread (`shutdown`, with no client left) and joins it.
pub(crate) fn stop() {
    REACTOR.stop(|handle| handle.send(Command::Shutdown));
}

struct Reactor {
    registry: Registry,
    rx: Receiver<Command>,
    /// The deadline the I/O thread sleeps until, while `ReactorHandle::asleep` (`None`: no
    /// deadline): a caller whose command sets an earlier one wakes it.
    sleep_deadline: Option<Instant>,
    /// The longest busy poll any client asked for.
    busy_poll: Duration,
    /// Whether the I/O thread pauses before its next round, and how long.
    batching: Batching,
    /// The I/O thread pauses before its next round: callers leave what they write in the
    /// write buffer, for that round to write.
    lingering: bool,
    /// Clients whose callers left packets in the write buffer for the next round.
    held: Vec<usize>,
    /// Events produced by callers' commands, for the I/O thread to deliver.
    deferred: Vec<(Arc<Mailbox>, Vec<ClientEvent>)>,
    /// Connections whose socket may hold more than their last round read: the poller will
    /// not report them again (edge-triggered), so the next round reads on.
    read_on: Vec<usize>,
    /// Boxed: the table then holds a pointer per client, not a 2 KiB `Conn` per bucket
    /// (with the table's spare buckets, that was 2-4 KiB more per idle client).
    conns: IdMap<usize, Box<Conn>>,
    timers: BTreeSet<(Instant, usize)>,
    dirty: Vec<usize>,
    read_buf: Vec<u8>,
    resolver: Resolver,
    jitter: Jitter,
    /// The handle this reactor is in, for the resolver's answers (weak: no cycle).
    me: Weak<ReactorHandle>,
    /// `Command::Shutdown` came: the I/O thread ends after this round.
    stopping: bool,
}

impl Reactor {
    fn new(registry: Registry, rx: Receiver<Command>, me: Weak<ReactorHandle>) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        Self {
            registry,
            rx,
            sleep_deadline: None,
            busy_poll: Duration::ZERO,
            batching: Batching::default(),
            lingering: false,
            held: Vec::new(),
            deferred: Vec::new(),
            read_on: Vec::new(),
            conns: IdMap::default(),
            timers: BTreeSet::new(),
            dirty: Vec::new(),
            read_buf: vec![0; READ_CHUNK],
            resolver: Resolver::new(),
            jitter: Jitter::new(seed),
            me,
            stopping: false,
        }
    }

    /// The I/O thread's last act (`shutdown`): what is left of closed clients goes (their
    /// sockets close), and the resolver's threads are joined.
    fn stop(&mut self) {
        for (mailbox, events) in std::mem::take(&mut self.deferred) {
            mailbox.deliver(events);
        }
        self.conns.clear();
        self.timers.clear();
        self.dirty.clear();
        self.read_on.clear();
        self.resolver.stop();
    }

    /// The poller's timeout, recorded as what the I/O thread sleeps until, how long to
    /// poll without sleeping first, and how long to pause before polling at all.
    fn before_sleep(&mut self, asleep: &AtomicBool) -> (Option<Duration>, Duration, Duration) {
        asleep.store(true, Ordering::SeqCst);
        // Pairs with the fence in `ReactorHandle::send`.
        std::sync::atomic::fence(Ordering::SeqCst);
        // Commands queued meanwhile (by inline callbacks, or by callers that found the
        // thread awake and did not wake it), what callers' own commands produced, and
        // sockets with more to read, are taken without waiting.
        if !self.rx.is_empty() || !self.deferred.is_empty() || !self.read_on.is_empty() {
            asleep.store(false, Ordering::SeqCst);
            return (Some(Duration::ZERO), Duration::ZERO, Duration::ZERO);
        }
        let linger = self.batching.pause(Instant::now());
        if !linger.is_zero() {
            // Traffic is dense: pause, then take whatever came meanwhile in one round. A
            // caller's command needs no wake-up (its events and timers wait for that round,
            // no later than `linger`).
            self.lingering = true;
            self.sleep_deadline = None;
            return (Some(Duration::ZERO), Duration::ZERO, linger);
        }
        if !self.held.is_empty() {
            // Callers left packets while their traffic was dense: written now.
            asleep.store(false, Ordering::SeqCst);
            return (Some(Duration::ZERO), Duration::ZERO, Duration::ZERO);
        }
        self.sleep_deadline = self.timers.first().map(|&(t, _)| t);
        let timeout = self
            .sleep_deadline
            .map(|t| t.saturating_duration_since(Instant::now()));
        (timeout, self.busy_poll, Duration::ZERO)
    }

    /// One round of the I/O thread after the poller returned.
    fn round(&mut self, events: &Events) {
        self.lingering = false;
        for client in std::mem::take(&mut self.held) {
            self.mark(client);
        }
        // First what callers' commands produced, in the order it was produced.
        for (mailbox, events) in std::mem::take(&mut self.deferred) {
            mailbox.deliver(events);
        }
        let now = Instant::now();
        for client in std::mem::take(&mut self.read_on) {
            self.on_io(client, true, false, false, now);
        }
        for event in events {
            let token = event.token();
            if token == WAKER {
                continue;
            }
            let closed = event.is_read_closed() || event.is_error();
            self.on_io(
                token.0,
                event.is_readable(),
                event.is_writable(),
                closed,
                now,
            );
        }
        self.drain_commands(now);
        while let Some(&(at, client)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            if let Some(c) = self.conns.get_mut(&client) {
                c.timer = None;
            }
            self.on_timer(client, now);
        }
        self.process_dirty(now);
        // What inline callbacks just asked for (a reply, an acknowledgement) goes out now
        // rather than after another trip through the poller. Bounded, so that a steady
        // stream of commands cannot keep the sockets from being polled.
        for _ in 0..4 {
            if self.rx.is_empty() {
                break;
            }
            self.drain_commands(now);
            self.process_dirty(now);
        }
    }

    fn drain_commands(&mut self, now: Instant) {
        while let Ok(command) = self.rx.try_recv() {
            self.on_command(command, now);
        }
    }

    fn process_dirty(&mut self, now: Instant) {
        let dirty = std::mem::take(&mut self.dirty);
        for client in dirty {
            self.process(client, now);
        }
    }

    /// A caller's command, carried out on the caller's thread while the I/O thread does not
    /// hold the lock. Returns whether the I/O thread, `asleep` in the poller, must wake:
    /// events to deliver, or a deadline earlier than the one it sleeps until. Awake, it
    /// looks at both before it next sleeps.
    fn run_direct(&mut self, command: Command, asleep: bool) -> bool {
        let now = Instant::now();
        if !self.lingering {
            self.batching.caller_command(now);
        }
        self.on_command(command, now);
        self.process_dirty(now);
        let earlier = self
            .timers
            .first()
            .is_some_and(|&(t, _)| self.sleep_deadline.is_none_or(|d| t < d));
        asleep
            && !self.lingering
            && (earlier
                || !self.deferred.is_empty()
                || !self.read_on.is_empty()
                || !self.held.is_empty())
    }

    /// Hands events to a client's mailbox: at once on the I/O thread, else through it (into
    /// `deferred`).
    fn deliver(
        deferred: &mut Vec<(Arc<Mailbox>, Vec<ClientEvent>)>,
        mailbox: &Arc<Mailbox>,
        events: &mut Vec<ClientEvent>,
    ) {
        if events.is_empty() {
            return;
        }
        if on_io_thread() {
            // The Vec goes with its events: an idle client keeps no buffer of them.
            mailbox.deliver(std::mem::take(events));
        } else {
            deferred.push((Arc::clone(mailbox), std::mem::take(events)));
        }
    }

    fn mark(&mut self, client: usize) {
        if !self.dirty.contains(&client) {
            self.dirty.push(client);
        }
    }
}

/// Backpressure on the write side: what we read would add replies to a backlog the server
/// does not take. Pauses reading (it resumes when the backlog drains, in `process`; TCP
/// holds the server back meanwhile) and tells the session, which gives up on a server that
/// never reads. True when reading must stop.
fn pause_for_backlog(
    paused: &mut bool,
    session: &mut Session,
    backlog: usize,
    now: Instant,
) -> bool {
    if backlog_full(backlog, session) {
        *paused = true;
        session.set_output_blocked(true, now);
        return true;
    }
    false
}

/// Whether the bytes we owe the server (`unsent` in the write buffer, and the session's
/// transmit buffer) reached the memory budget's write share: then nothing more is read until
/// the server takes some, so that a server that never reads cannot make us queue replies
/// without bound.
fn backlog_full(unsent: usize, session: &Session) -> bool {
    unsent + session.transmit_len() >= session.options().memory_budget.write_buffer_bytes()
}

/// Queues a log line when the client's level admits it; `message` is not built otherwise.
fn log(c: &mut Conn, level: LogLevel, message: impl FnOnce(&Conn) -> String) {
    if level <= c.settings.log_level && level != LogLevel::Off {
        let message = message(c);
        c.out_events.push(ClientEvent::Log { level, message });
    }
}

/// Whether to read a client's socket now: its mailbox's room, unless a read is forced.
/// While the application has not taken its events the socket waits (and the server's flow
/// control with it); the mailbox sends `Resume` when there is room.
fn may_read(force: &mut bool, mailbox: &Mailbox, undelivered: usize, events: usize) -> Room {
    if std::mem::take(force) {
        Room::Yes
    } else {
        mailbox.room(undelivered, events)
    }
}

/// How a transport error ended a connection.
fn transport_cause(e: &io::Error) -> DisconnectCause {
    if let Some(h) = HandshakeError::from_io(e) {
        return DisconnectCause::Tls {
            kind: h.kind,
            detail: h.detail.clone(),
        };
    }
    DisconnectCause::Transport {
        detail: e.to_string(),
        errno: e.raw_os_error(),
    }
}
