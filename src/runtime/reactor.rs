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
//! A client's `linger` trades latency for fewer syscalls: after a round in which such a
//! client had traffic, the I/O thread pauses (without the lock) before it polls again.
//! Callers of lingering clients then leave what they write in the write buffer (`held`),
//! and the next round writes it together with the acknowledgements of everything that
//! arrived meanwhile, which it reads in one go.

use std::collections::{BTreeSet, HashMap};
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
use super::event::{ClientEvent, IoCounters, LogLevel};
use super::memory::MemoryGauge;
use super::servers::{FilterSlot, Next, Servers};
use super::shutdown::Service;
use crate::codec::{
    ByteString, Bytes, ConnectReasonCode, DisconnectReasonCode, Properties, PropertyId,
    Subscription,
};
use crate::error::Error;
use crate::protocol::TRANSMIT_HIGH_WATER;
use crate::protocol::{
    AckToken, ConnAckInfo, ConnectChange, DisconnectCause, Event, Message, PublishAck,
    PublishRequest, RequestError, RequestId, Session, State, SubscribeAck, UnsubscribeAck,
};
use crate::transport::{self, Address, HandshakeError, Resolver, Stream, TcpOptions};

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
    /// Deliver completion events to the mailbox (callbacks / `next_event`), besides handles.
    /// Shared with the `Client`, which may switch it at any time.
    pub completion_events: Arc<AtomicBool>,
    /// Whether the session is connected, for `Client::is_connected`.
    pub connected: Arc<AtomicBool>,
    pub log_level: LogLevel,
    /// How long the I/O thread polls without sleeping before it sleeps (the longest any
    /// client asked for).
    pub busy_poll: Duration,
    /// How long the I/O thread pauses between rounds while this client has traffic, so
    /// that packets accumulate (zero: no pause).
    pub linger: Duration,
    /// Counted here, read by `Client::io_stats`.
    pub io: Arc<IoCounters>,
    /// Buffer sizes recorded here, read by `Client::memory_stats`.
    pub memory: Arc<MemoryGauge>,
    /// The Protocol Level of the last connection made (0 before one), read by
    /// `Client::protocol_version`.
    pub protocol_level: Arc<std::sync::atomic::AtomicU8>,
    /// The application's veto over redirections (`Client::on_redirect`).
    pub redirect_filter: Arc<FilterSlot>,
}

/// What the application's threads ask of the I/O thread.
pub(crate) enum Command {
    Register {
        client: usize,
        session: Box<Session>,
        servers: Box<Servers>,
        settings: ConnSettings,
        mailbox: Arc<Mailbox>,
    },
    Connect {
        client: usize,
        waiter: Option<Completion<ConnAckInfo>>,
    },
    Publish {
        client: usize,
        request: PublishRequest,
        completion: Completion<PublishAck>,
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
        self.send(Command::Ack { client, tokens });
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
    publishes: HashMap<RequestId, Completion<PublishAck>>,
    subscribes: HashMap<RequestId, Completion<SubscribeAck>>,
    unsubscribes: HashMap<RequestId, Completion<UnsubscribeAck>>,
    connect_waiters: Vec<Completion<ConnAckInfo>>,
    disconnect_waiters: Vec<Completion<()>>,
    close_waiter: Option<Completion<()>>,
    /// Requests waiting for their reply, by Correlation Data.
    replies: HashMap<Bytes, Completion<Message>>,
    out_events: Vec<ClientEvent>,
    /// Bytes read from the socket whose events have not reached the mailbox yet (the
    /// backpressure check counts them).
    undelivered: usize,
    /// Read once more despite backpressure (a keep-alive deadline while paused).
    force_read: bool,
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
            publishes: HashMap::new(),
            subscribes: HashMap::new(),
            unsubscribes: HashMap::new(),
            connect_waiters: Vec::new(),
            disconnect_waiters: Vec::new(),
            close_waiter: None,
            replies: HashMap::new(),
            out_events: Vec::new(),
            undelivered: 0,
            force_read: false,
        }
    }
}

/// Polls without sleeping for up to `spin` (yielding the CPU to anyone who wants it), then
/// sleeps up to `timeout`. Spinning keeps a reply that comes within `spin` from paying for
/// a wake-up, which on virtual machines costs tens of microseconds per hop.
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
    loop {
        let (timeout, spin, linger) = handle.reactor.lock().before_sleep(&handle.asleep);
        if !linger.is_zero() {
            // Without the lock: callers carry out their commands meanwhile, leaving what
            // they write for the round that follows.
            std::thread::sleep(linger);
        }
        let polled = busy_poll(&mut poll, &mut events, timeout, spin);
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
    /// The pause before the next round: the longest linger of the clients that had traffic
    /// in this one.
    linger: Duration,
    /// The I/O thread pauses (`linger`) before its next round: callers of clients with a
    /// linger leave what they write in the write buffer, for that round to write.
    lingering: bool,
    /// Clients whose callers left packets in the write buffer during the pause.
    held: Vec<usize>,
    /// Events produced by callers' commands, for the I/O thread to deliver.
    deferred: Vec<(Arc<Mailbox>, Vec<ClientEvent>)>,
    /// Connections whose socket may hold more than their last round read: the poller will
    /// not report them again (edge-triggered), so the next round reads on.
    read_on: Vec<usize>,
    conns: HashMap<usize, Conn>,
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
            linger: Duration::ZERO,
            lingering: false,
            held: Vec::new(),
            deferred: Vec::new(),
            read_on: Vec::new(),
            conns: HashMap::new(),
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
        let linger = std::mem::take(&mut self.linger);
        if !linger.is_zero() {
            // Traffic flows: pause, then take whatever came meanwhile in one round. A
            // caller's command needs no wake-up (its events and timers wait for that round,
            // no later than `linger`).
            self.lingering = true;
            self.sleep_deadline = None;
            return (Some(Duration::ZERO), Duration::ZERO, linger);
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
        self.on_command(command, now);
        self.process_dirty(now);
        let earlier = self
            .timers
            .first()
            .is_some_and(|&(t, _)| self.sleep_deadline.is_none_or(|d| t < d));
        asleep
            && !self.lingering
            && (earlier || !self.deferred.is_empty() || !self.read_on.is_empty())
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
            mailbox.deliver(events.drain(..));
        } else {
            deferred.push((Arc::clone(mailbox), std::mem::take(events)));
        }
    }

    fn mark(&mut self, client: usize) {
        if !self.dirty.contains(&client) {
            self.dirty.push(client);
        }
    }

    // ------------------------------------------------------------------ commands

    fn on_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Register {
                client,
                session,
                servers,
                settings,
                mailbox,
            } => {
                self.busy_poll = self.busy_poll.max(settings.busy_poll);
                let conn = Conn::new(*session, servers, settings, mailbox);
                self.conns.insert(client, conn);
            }
            Command::Connect { client, waiter } => self.connect(client, waiter, now),
            Command::Publish {
                client,
                request,
                completion,
            } => self.request(
                client,
                completion,
                |s| s.publish_checked(request, now),
                |c| &mut c.publishes,
                |id, result| ClientEvent::PublishComplete { id, result },
            ),
            Command::Subscribe {
                client,
                subscriptions,
                properties,
                completion,
            } => self.request(
                client,
                completion,
                |s| s.subscribe(subscriptions, properties, now),
                |c| &mut c.subscribes,
                |id, result| ClientEvent::SubscribeComplete { id, result },
            ),
            Command::Unsubscribe {
                client,
                filters,
                properties,
                completion,
            } => self.request(
                client,
                completion,
                |s| s.unsubscribe(filters, properties, now),
                |c| &mut c.unsubscribes,
                |id, result| ClientEvent::UnsubscribeComplete { id, result },
            ),
            Command::Disconnect {
                client,
                reason_code,
                properties,
                completion,
            } => self.disconnect(client, reason_code, properties, completion, now),
            Command::Reauthenticate { client, completion } => {
                self.reauthenticate(client, &completion, now);
            }
            Command::ChangeConnect(id, change, done) => self.change_connect(id, change, &done),
            Command::Ack { client, tokens } => {
                if let Some(c) = self.conns.get_mut(&client) {
                    for t in tokens {
                        c.session.acknowledge(t, now);
                    }
                    self.mark(client);
                }
            }
            Command::Request {
                client,
                request,
                correlation,
                reply,
            } => self.start_request(client, request, correlation, reply, now),
            Command::RunInline { mailbox } => mailbox.run_queued(),
            // Read on to the end of what waits: the edges that came while reading was
            // paused were spent.
            Command::Resume { client } => self.on_io(client, true, false, true, now),
            Command::ForgetRequest {
                client,
                correlation,
            } => {
                if let Some(c) = self.conns.get_mut(&client) {
                    c.replies.remove(&correlation);
                }
            }
            Command::Close { client, completion } => self.close(client, completion, now),
            Command::Shutdown => self.stopping = true,
            Command::Resolved {
                client,
                generation,
                result,
            } => self.on_resolved(client, generation, result, now),
        }
    }

    fn connect(&mut self, client: usize, waiter: Option<Completion<ConnAckInfo>>, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            if let Some(w) = waiter {
                w.complete(Err(Error::Closed));
            }
            return;
        };
        if let Some(w) = waiter {
            if c.session.state() == State::Connected {
                w.complete(Err(Error::InvalidArgument("already connected".into())));
            } else {
                c.connect_waiters.push(w);
            }
        }
        c.wanted = true;
        if matches!(c.phase, Phase::Idle | Phase::Backoff) {
            c.backoff.reset();
            c.servers.restart();
            self.start_connect(client, now);
        }
    }

    fn reauthenticate(&mut self, client: usize, completion: &Completion<()>, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Err(Error::Closed));
        };
        if let Err(e) = c.session.reauthenticate(now) {
            let message = format!("re-authentication refused: {e}");
            if completion.complete_unread(Err(e.into())) {
                // Nobody holds the completion: the log is what is left.
                log(c, LogLevel::Warn, |_| message);
            }
        } else {
            completion.complete(Ok(()));
        }
        self.mark(client);
    }

    fn change_connect(&mut self, client: usize, change: ConnectChange, done: &Completion<()>) {
        let Some(c) = self.conns.get_mut(&client) else {
            return done.complete(Err(Error::Closed));
        };
        done.complete(c.session.change_connect(change).map_err(Into::into));
    }

    /// Request/response: publishes and keeps the reply's completion by Correlation Data.
    fn start_request(
        &mut self,
        client: usize,
        request: PublishRequest,
        correlation: Bytes,
        reply: Completion<Message>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return reply.complete(Err(Error::Closed));
        };
        match c.session.publish_checked(request, now) {
            Ok(_) => {
                c.replies.insert(correlation, reply);
            }
            Err(e) => reply.complete(Err(e.into())),
        }
        self.mark(client);
    }

    /// Hands a request to the session and keeps its completion until the session reports;
    /// a refusal ends it at once (reported like any outcome, see [`Self::finish`]).
    fn request<T: Clone>(
        &mut self,
        client: usize,
        completion: Completion<T>,
        start: impl FnOnce(&mut Session) -> Result<RequestId, RequestError>,
        pending: fn(&mut Conn) -> &mut HashMap<RequestId, Completion<T>>,
        event: fn(u64, Result<T, RequestError>) -> ClientEvent,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Err(Error::Closed));
        };
        match start(&mut c.session) {
            Ok(id) => {
                pending(c).insert(id, completion);
            }
            Err(e) => {
                log(c, LogLevel::Warn, |_| format!("request refused: {e}"));
                Self::finish(c, Some(completion), &Err(e), event);
            }
        }
        self.mark(client);
    }

    fn disconnect(
        &mut self,
        client: usize,
        reason_code: DisconnectReasonCode,
        properties: Properties,
        completion: Completion<()>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Err(Error::Closed));
        };
        if let Phase::Open { .. } = c.phase {
            match c.session.disconnect(reason_code, properties, now) {
                Ok(()) => {
                    c.wanted = false;
                    c.disconnect_waiters.push(completion);
                }
                // Refused (and nothing sent): the connection, and reconnecting, go on.
                Err(e) => {
                    let message = format!("disconnect refused: {e}");
                    if completion.complete_unread(Err(e.into())) {
                        // Nobody holds the completion: the log is what is left.
                        log(c, LogLevel::Warn, |_| message);
                    }
                }
            }
        } else {
            c.wanted = false;
            // Not connected: stop trying and report done.
            self.drop_transport(client);
            if let Some(c) = self.conns.get_mut(&client) {
                c.phase = Phase::Idle;
                c.phase_deadline = None;
                for w in c.connect_waiters.drain(..) {
                    w.complete(Err(Error::Request(RequestError::NotConnected)));
                }
            }
            completion.complete(Ok(()));
        }
        self.mark(client);
    }

    fn close(&mut self, client: usize, completion: Completion<()>, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Ok(()));
        };
        c.wanted = false;
        if matches!(c.phase, Phase::Open { .. }) && c.session.state() == State::Connected {
            let _ = c.session.disconnect(
                DisconnectReasonCode::NormalDisconnection,
                Properties::new(),
                now,
            );
        }
        c.close_waiter = Some(completion);
        self.mark(client);
    }

    // ------------------------------------------------------------------ connecting

    fn start_connect(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        c.phase_deadline = Some(now + c.settings.connect_timeout);
        c.attempt_up = false;
        // A redirection's "at once" is for the attempt that follows it, this one.
        c.redirect_now = false;
        log(c, LogLevel::Debug, |c| {
            format!("connecting to {}", c.servers.address())
        });
        match c.servers.address().clone() {
            Address::Unix(path) => match transport::connect_unix(&path) {
                Ok(stream) => self.begin_stream(client, stream, Vec::new(), 0, now),
                Err(e) => self.connect_failed(client, &e, now),
            },
            address => {
                let Some((host, port)) = address.endpoint() else {
                    return;
                };
                let host = host.to_owned();
                c.phase = Phase::Resolving;
                c.resolve_generation += 1;
                let generation = c.resolve_generation;
                let me = self.me.clone();
                self.resolver.resolve(
                    host,
                    port,
                    Box::new(move |result| {
                        if let Some(handle) = me.upgrade() {
                            handle.send(Command::Resolved {
                                client,
                                generation,
                                result,
                            });
                        }
                    }),
                );
            }
        }
        self.mark(client);
    }

    fn on_resolved(
        &mut self,
        client: usize,
        generation: u64,
        result: io::Result<Vec<SocketAddr>>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        if c.resolve_generation != generation || !matches!(c.phase, Phase::Resolving) {
            return;
        }
        match result {
            Ok(addrs) if !addrs.is_empty() => self.try_addr(client, addrs, 0, now),
            Ok(_) => self.connect_failed(
                client,
                &io::Error::new(io::ErrorKind::NotFound, "no address for host"),
                now,
            ),
            Err(e) => self.connect_failed(client, &e, now),
        }
    }

    /// Starts a non-blocking connect to `addrs[next]`, falling through the list on failure.
    fn try_addr(&mut self, client: usize, addrs: Vec<SocketAddr>, next: usize, now: Instant) {
        let Some(c) = self.conns.get(&client) else {
            return;
        };
        let mut last_err = io::Error::new(io::ErrorKind::NotFound, "no address for host");
        for i in next..addrs.len() {
            let started = transport::connect_start(&addrs[i], &c.settings.tcp)
                .and_then(|stream| c.servers.layers().wrap(stream));
            match started {
                Ok(stream) => return self.begin_stream(client, stream, addrs, i + 1, now),
                Err(e) => last_err = e,
            }
        }
        self.connect_failed(client, &last_err, now);
    }

    fn begin_stream(
        &mut self,
        client: usize,
        mut stream: Stream,
        addrs: Vec<SocketAddr>,
        next: usize,
        now: Instant,
    ) {
        if let Err(e) = self.registry.register(
            &mut stream,
            Token(client),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.connect_failed(client, &e, now);
        }
        if let Some(c) = self.conns.get_mut(&client) {
            log(c, LogLevel::Debug, |_| stream.describe());
            c.phase = Phase::Connecting {
                stream,
                addrs,
                next,
            };
            c.writable_interest = true;
        }
        self.mark(client);
    }

    /// Resolution or TCP connect failed: report, then back off.
    fn connect_failed(&mut self, client: usize, e: &io::Error, now: Instant) {
        self.drop_transport(client);
        let cause = transport_cause(e);
        if let Some(c) = self.conns.get_mut(&client) {
            log(c, LogLevel::Warn, |c| {
                format!("connect to {} failed: {e}", c.servers.address())
            });
            if let DisconnectCause::Tls { kind, .. } = &cause
                && kind.is_permanent()
                && c.wanted
            {
                // A certificate another attempt cannot fix: no reconnect storm.
                c.wanted = false;
                log(c, LogLevel::Error, |_| {
                    "the TLS handshake failed for a reason retrying cannot fix; not reconnecting"
                        .into()
                });
            }
            if !goes_on(c) {
                for w in c.connect_waiters.drain(..) {
                    w.complete(Err(cause.clone().into()));
                }
            }
            c.out_events.push(ClientEvent::ConnectionLost(cause));
        }
        self.schedule_reconnect(client, now);
        // With or without a reconnection, the failure is delivered by the next `process`.
        self.mark(client);
    }

    fn schedule_reconnect(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        c.phase = Phase::Idle;
        c.phase_deadline = None;
        if c.session.poll_fallback() && c.wanted && c.close_waiter.is_none() {
            // The server refused MQTT 5.0: the same connect goes on in 3.1.1, at once.
            log(c, LogLevel::Info, |c| {
                format!(
                    "{} refused MQTT 5.0; connecting with MQTT 3.1.1",
                    c.servers.address()
                )
            });
            c.phase = Phase::Backoff;
            c.phase_deadline = Some(now);
            self.mark(client);
            return;
        }
        if c.wanted && c.close_waiter.is_none() {
            // A followed redirection, or the next server of the pass: at once.
            let at_once = if std::mem::take(&mut c.redirect_now) {
                true
            } else if c.attempt_up {
                c.servers.lost();
                false
            } else {
                c.servers.failed() == Next::Now
            };
            if at_once {
                log(c, LogLevel::Info, |c| {
                    format!("connecting to {}", c.servers.address())
                });
                c.phase = Phase::Backoff;
                c.phase_deadline = Some(now);
                self.mark(client);
                return;
            }
        }
        if !c.wanted || !c.settings.reconnect.enabled || c.close_waiter.is_some() {
            return;
        }
        let (attempt, delay) = c.backoff.next(&c.settings.reconnect, now, &mut self.jitter);
        c.phase = Phase::Backoff;
        c.phase_deadline = Some(now + delay);
        log(c, LogLevel::Info, |_| {
            format!("reconnecting in {delay:?} (attempt {attempt})")
        });
        c.out_events
            .push(ClientEvent::Reconnecting { attempt, delay });
        self.mark(client);
    }

    fn drop_transport(&mut self, client: usize) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        let phase = std::mem::replace(&mut c.phase, Phase::Idle);
        if let Phase::Connecting { mut stream, .. } | Phase::Open { mut stream } = phase {
            let _ = self.registry.deregister(&mut stream);
            stream.shutdown();
        }
        c.wbuf.clear();
        c.woff = 0;
        c.writable_interest = false;
        c.read_paused = false;
    }

    // ------------------------------------------------------------------ I/O

    /// The socket of a connection in progress is ready: true once the transport is open
    /// (CONNECT is sent), false while it is still connecting or when it failed (the next
    /// address is tried, or the failure reported).
    fn connect_progress(&mut self, client: usize, now: Instant) -> bool {
        let Some(c) = self.conns.get_mut(&client) else {
            return false;
        };
        let Phase::Connecting { stream, .. } = &mut c.phase else {
            return false;
        };
        match transport::connect_progress(stream) {
            Ok(true) => {
                let Phase::Connecting { stream, .. } = std::mem::replace(&mut c.phase, Phase::Idle)
                else {
                    return false;
                };
                if let Some(summary) = stream.tls_summary() {
                    log(c, LogLevel::Debug, |_| summary);
                }
                c.phase = Phase::Open { stream };
                c.phase_deadline = None;
                log(c, LogLevel::Debug, |_| {
                    "transport open, sending CONNECT".into()
                });
                c.session.connection_opened(now);
            }
            Ok(false) => return false,
            Err(e) => {
                let Phase::Connecting {
                    mut stream,
                    addrs,
                    next,
                } = std::mem::replace(&mut c.phase, Phase::Idle)
                else {
                    return false;
                };
                let _ = self.registry.deregister(&mut stream);
                // Another address of the same host shows the same certificate.
                if next < addrs.len() && HandshakeError::from_io(&e).is_none() {
                    self.try_addr(client, addrs, next, now);
                } else {
                    self.connect_failed(client, &e, now);
                }
                return false;
            }
        }
        true
    }

    /// `closed`: the poller reported the end of the stream or an error, which a read must
    /// reach.
    fn on_io(&mut self, client: usize, readable: bool, writable: bool, closed: bool, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        match &mut c.phase {
            Phase::Connecting { .. } => {
                if !(writable || readable) || !self.connect_progress(client, now) {
                    return;
                }
            }
            Phase::Open { stream } => {
                if readable {
                    let mut reads = 0;
                    loop {
                        if reads == READS_PER_ROUND {
                            if !self.read_on.contains(&client) {
                                self.read_on.push(client);
                            }
                            break;
                        }
                        // Backpressure both ways: the server's and the application's.
                        let backlog = c.wbuf.len() - c.woff;
                        if pause_for_backlog(&mut c.read_paused, &mut c.session, backlog, now) {
                            break;
                        }
                        let events = c.session.pending_events();
                        match may_read(&mut c.force_read, &c.mailbox, c.undelivered, events) {
                            Room::Yes => {}
                            Room::Full => break,
                            Room::Later => {
                                if !self.read_on.contains(&client) {
                                    self.read_on.push(client);
                                }
                                break;
                            }
                        }
                        reads += 1;
                        match stream.read(&mut self.read_buf) {
                            Ok(0) => {
                                let cause = DisconnectCause::Transport {
                                    detail: "connection closed by the server".into(),
                                    errno: None,
                                };
                                self.lost(client, cause, now);
                                return;
                            }
                            Ok(n) => {
                                c.undelivered += n;
                                c.settings.io.read(n);
                                c.session.handle_read(&self.read_buf[..n], now);
                                c.settings
                                    .memory
                                    .read_buffer(c.session.read_buffer_capacity());
                                if c.session.state() != State::Connecting
                                    && c.session.state() != State::Connected
                                {
                                    break;
                                }
                                // A short read emptied the socket: data arriving later
                                // raises a new edge, so the read that would only say
                                // WouldBlock is saved. An end of stream or error already
                                // reported raises none and is read to its end.
                                if n < self.read_buf.len() && !closed {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                self.lost(client, transport_cause(&e), now);
                                return;
                            }
                        }
                    }
                }
            }
            _ => return,
        }
        self.mark(client);
    }

    /// The transport failed under an open connection.
    fn lost(&mut self, client: usize, cause: DisconnectCause, now: Instant) {
        self.drop_transport(client);
        if let Some(c) = self.conns.get_mut(&client) {
            c.session.connection_closed(cause);
            c.settings.io.store_session(c.session.stats(now), now);
        }
        self.after_close(client, now);
        // Whether or not a reconnection follows, the events of the loss are delivered by
        // the client's next `process`.
        self.mark(client);
    }

    /// Writes what is buffered; returns an error when the connection broke.
    fn flush(c: &mut Conn, registry: &mio::Registry, client: usize) -> io::Result<()> {
        let Phase::Open { stream } = &mut c.phase else {
            return Ok(());
        };
        while c.woff < c.wbuf.len() {
            match stream.write(&c.wbuf[c.woff..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    c.woff += n;
                    c.settings.io.wrote(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // TLS records and WebSocket frames the stream still holds.
        match stream.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        if c.woff == c.wbuf.len() {
            c.wbuf.clear();
            c.woff = 0;
            // A burst may have grown the buffer; give the memory back once it drained.
            if c.wbuf.capacity() > WBUF_KEEP {
                c.wbuf.shrink_to(WBUF_KEEP);
            }
        } else if c.woff >= WBUF_KEEP && c.woff * 2 >= c.wbuf.len() {
            // The socket took part: drop what was written, so that a connection that never
            // drains completely does not keep every byte it ever sent. Only once the written
            // part is large and at least half, so the move is amortised.
            c.wbuf.drain(..c.woff);
            c.woff = 0;
        }
        c.settings
            .memory
            .write_backlog(c.wbuf.len() - c.woff + c.session.transmit_len());
        let want_writable = !c.wbuf.is_empty() || stream.wants_write();
        if want_writable != c.writable_interest {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(stream, Token(client), interest)?;
            c.writable_interest = want_writable;
        }
        Ok(())
    }

    // ------------------------------------------------------------------ timers

    fn on_timer(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        if c.phase_deadline.is_some_and(|d| d <= now) {
            c.phase_deadline = None;
            match c.phase {
                Phase::Backoff => return self.start_connect(client, now),
                Phase::Resolving | Phase::Connecting { .. } => {
                    let e = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                    return self.connect_failed(client, &e, now);
                }
                _ => {}
            }
        }
        if matches!(c.phase, Phase::Open { .. }) && c.mailbox.is_paused() {
            // Backpressure must not cost the connection: the keep-alive deadline needs the
            // server's packets (a PINGRESP among them) seen, so a paused client reads once
            // here, one chunk past its bound per keep-alive period.
            c.force_read = true;
            self.on_io(client, true, false, false, now);
        }
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        c.session.handle_timeout(now);
        self.mark(client);
    }

    fn update_timer(&mut self, client: usize) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        let session = if matches!(c.phase, Phase::Open { .. }) {
            c.session.poll_timeout()
        } else {
            None
        };
        let deadline = match (session, c.phase_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if deadline != c.timer {
            if let Some(old) = c.timer.take() {
                self.timers.remove(&(old, client));
            }
            if let Some(new) = deadline {
                self.timers.insert((new, client));
            }
            c.timer = deadline;
        }
    }

    // ------------------------------------------------------------------ the round

    /// After anything happened to a client: move the session's output to the socket, its
    /// events to completions and the mailbox, and close when it asks.
    fn process(&mut self, client: usize, now: Instant) {
        loop {
            let Some(c) = self.conns.get_mut(&client) else {
                return;
            };
            let open = matches!(c.phase, Phase::Open { .. });
            if !open {
                // Nothing can be written without a connection; the session re-sends what
                // matters when the next one opens.
                let mut discard = Vec::new();
                c.session.take_transmit(&mut discard);
            } else if c.wbuf.len() - c.woff < TRANSMIT_HIGH_WATER {
                // Only while the socket keeps up: otherwise the session keeps (and stops
                // encoding at) its own high-water mark, and the publishes behind wait
                // unencoded rather than as a second copy of every payload here.
                c.session.take_transmit(&mut c.wbuf);
            }
            let mut acks = Vec::new();
            while let Some(event) = c.session.poll_event() {
                Self::on_session_event(c, event, &mut acks, now);
            }
            for t in acks {
                c.session.acknowledge(t, now);
            }
            let on_io_thread = on_io_thread();
            if on_io_thread && open {
                self.linger = self.linger.max(c.settings.linger);
            }
            // While the I/O thread lingers, a caller leaves its packets for the round that
            // follows, unless they add up to a large write anyway.
            let hold = self.lingering
                && !on_io_thread
                && !c.settings.linger.is_zero()
                && c.wbuf.len() - c.woff < LINGER_LIMIT;
            if hold {
                if !self.held.contains(&client) {
                    self.held.push(client);
                }
            } else if let Err(e) = Self::flush(c, &self.registry, client) {
                self.lost(client, transport_cause(&e), now);
                continue;
            }
            if c.read_paused && open && !backlog_full(c.wbuf.len() - c.woff, &c.session) {
                // The server took our bytes: read on (the poller will not report the data
                // already waiting again).
                c.read_paused = false;
                c.session.set_output_blocked(false, now);
                if !self.read_on.contains(&client) {
                    self.read_on.push(client);
                }
            }
            if c.session.poll_close() {
                // The session ended the connection (DISCONNECT sent, or a protocol error):
                // one last write attempt, then close.
                if open {
                    c.session.take_transmit(&mut c.wbuf);
                }
                let _ = Self::flush(c, &self.registry, client);
                self.drop_transport(client);
                self.after_close(client, now);
                continue;
            }
            if !open {
                if c.session.has_transmit() {
                    continue;
                }
                break;
            }
            if c.wbuf.len() - c.woff >= TRANSMIT_HIGH_WATER {
                // The socket is full: writable readiness brings us back.
                break;
            }
            if c.session.has_transmit() {
                continue;
            }
            // Room to write: publishes waiting for it are encoded now.
            c.session.transmit_drained(now);
            if c.session.has_transmit() {
                continue;
            }
            break;
        }
        self.finish_close(client);
        self.update_timer(client);
        if let Some(c) = self.conns.get_mut(&client) {
            c.undelivered = 0;
            c.settings.io.store_session(c.session.stats(now), now);
            Self::deliver(&mut self.deferred, &c.mailbox, &mut c.out_events);
        }
    }

    /// Ends a request's completion and reports it as an event carrying the completion's id
    /// when completion events are on, and in any case for a failure nobody will read from
    /// the completion (the application let go of it): no failure goes unreported.
    fn finish<T: Clone>(
        c: &mut Conn,
        done: Option<Completion<T>>,
        result: &Result<T, RequestError>,
        event: fn(u64, Result<T, RequestError>) -> ClientEvent,
    ) {
        let Some(done) = done else {
            return;
        };
        let unread = done.complete_unread(result.clone().map_err(Into::into));
        if c.settings.completion_events.load(Ordering::Relaxed) || unread && result.is_err() {
            c.out_events.push(event(done.id(), result.clone()));
        }
    }

    fn on_session_event(
        c: &mut Conn,
        event: Event,
        pending_acks: &mut Vec<AckToken>,
        now: Instant,
    ) {
        let mut event = event;
        if let Event::Connected(info) = &mut event {
            c.servers.connected();
            info.server = Some(c.servers.address().to_string());
        }
        let forward = match &event {
            Event::Connected(info) => {
                // Not a reset of the backoff: only a connection that stays up is one.
                c.backoff.connected(now);
                c.attempt_up = true;
                c.settings
                    .protocol_level
                    .store(info.protocol_version.level(), Ordering::Relaxed);
                c.settings.connected.store(true, Ordering::Release);
                for w in c.connect_waiters.drain(..) {
                    w.complete(Ok((**info).clone()));
                }
                true
            }
            Event::Disconnected(cause) => {
                on_disconnected(c, cause);
                true
            }
            // Completion events carry the id of the application's completion handle.
            Event::PublishComplete { id, result } => {
                let done = c.publishes.remove(id);
                Self::finish(c, done, result, |id, result| ClientEvent::PublishComplete {
                    id,
                    result,
                });
                false
            }
            Event::SubscribeComplete { id, result } => {
                let done = c.subscribes.remove(id);
                Self::finish(c, done, result, |id, result| {
                    ClientEvent::SubscribeComplete { id, result }
                });
                false
            }
            Event::UnsubscribeComplete { id, result } => {
                let done = c.unsubscribes.remove(id);
                Self::finish(c, done, result, |id, result| {
                    ClientEvent::UnsubscribeComplete { id, result }
                });
                false
            }
            Event::Message(m) => {
                // A reply to a pending request goes to its requester, not to the event
                // stream. It still needs its acknowledgement.
                let reply = if c.replies.is_empty() {
                    None
                } else {
                    m.properties
                        .get_binary(PropertyId::CorrelationData)
                        .and_then(|d| c.replies.remove(d))
                };
                if let Some(reply) = reply {
                    if let Some(t) = m.ack {
                        pending_acks.push(t);
                    }
                    reply.complete(Ok(m.clone()));
                    false
                } else {
                    true
                }
            }
            Event::SessionLost { .. } | Event::Reauthenticated => true,
        };
        if forward {
            if let Event::Disconnected(cause) = &event {
                let level = if matches!(cause, DisconnectCause::Client { .. }) {
                    LogLevel::Info
                } else {
                    LogLevel::Warn
                };
                // The text, not the Debug form: a server's Reason String is bounded there.
                log(c, level, |_| format!("connection ended: {cause}"));
            }
            if let Event::Connected(info) = &event {
                log(c, LogLevel::Info, |_| {
                    format!(
                        "connected (session present: {}, keep alive {} s)",
                        info.session_present, info.keep_alive
                    )
                });
            }
            c.out_events.extend(ClientEvent::from_session(event));
        }
    }

    /// The connection is gone (by the session's choice or the transport's): complete
    /// disconnect waiters and decide about reconnecting.
    fn after_close(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        for w in c.disconnect_waiters.drain(..) {
            w.complete(Ok(()));
        }
        // The events the close produced (a permanent refusal stops reconnecting) come before
        // the decision. Acknowledgements are moot without a connection.
        while let Some(event) = c.session.poll_event() {
            Self::on_session_event(c, event, &mut Vec::new(), now);
        }
        self.schedule_reconnect(client, now);
    }

    /// Completes a requested close once the connection is down.
    fn finish_close(&mut self, client: usize) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        if c.close_waiter.is_none()
            || matches!(c.phase, Phase::Open { .. }) && c.session.state() == State::Connected
        {
            return;
        }
        self.drop_transport(client);
        let Some(mut c) = self.conns.remove(&client) else {
            return;
        };
        if c.settings.busy_poll == self.busy_poll {
            self.busy_poll = self
                .conns
                .values()
                .map(|c| c.settings.busy_poll)
                .max()
                .unwrap_or_default();
        }
        if let Some(t) = c.timer.take() {
            self.timers.remove(&(t, client));
        }
        // Waiters learn that the client closed, not the disconnect the close causes.
        for w in c.connect_waiters.drain(..) {
            w.complete(Err(Error::Closed));
        }
        c.session.close();
        while let Some(event) = c.session.poll_event() {
            Self::on_session_event(&mut c, event, &mut Vec::new(), Instant::now());
        }
        for w in c.disconnect_waiters.drain(..) {
            w.complete(Ok(()));
        }
        for (_, done) in c.publishes.drain() {
            done.complete(Err(Error::Closed));
        }
        for (_, done) in c.subscribes.drain() {
            done.complete(Err(Error::Closed));
        }
        for (_, done) in c.unsubscribes.drain() {
            done.complete(Err(Error::Closed));
        }
        for (_, reply) in c.replies.drain() {
            reply.complete(Err(Error::Closed));
        }
        c.out_events.push(ClientEvent::Closed);
        Self::deliver(&mut self.deferred, &c.mailbox, &mut c.out_events);
        if let Some(w) = c.close_waiter.take() {
            w.complete(Ok(()));
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

/// Refusals that another attempt with the same settings cannot fix: stop reconnecting.
fn is_permanent_refusal(code: ConnectReasonCode) -> bool {
    use ConnectReasonCode as C;
    matches!(
        code,
        C::UnsupportedProtocolVersion
            | C::ClientIdentifierNotValid
            | C::BadUserNameOrPassword
            | C::NotAuthorized
            | C::Banned
            | C::BadAuthenticationMethod
    )
}

/// Whether the connect goes on after this attempt failed (a followed redirection, or more
/// servers in the pass): its waiters wait for the outcome of the pass.
fn goes_on(c: &Conn) -> bool {
    c.wanted
        && c.close_waiter.is_none()
        && (c.redirect_now || !c.attempt_up && c.servers.more_in_pass())
}

/// Carries out the protocol's decision about a connection's end (4.11): follow a
/// redirection (asking the application's filter first), or not, and then stop reconnecting
/// after a refusal.
fn redirect(c: &mut Conn, cause: &DisconnectCause) {
    use crate::protocol::{NotFollowed, RedirectDecision as D};
    let (why, reference, refused) = match c.servers.redirects.decide(cause) {
        D::NotRedirect => return,
        D::Refuse {
            why,
            reference,
            refused,
        } => (why.to_string(), reference, refused),
        D::Follow {
            target,
            moved,
            reference,
        } => {
            let refused = matches!(cause, DisconnectCause::Refused(_));
            let to = match c.servers.target_address(&target) {
                Ok(to) => to,
                Err(e) => {
                    c.servers.redirects.vetoed();
                    let why = format!("the Server Reference is not an address midge can use: {e}");
                    return not_followed(c, &why, Some(reference), refused);
                }
            };
            let code = match cause {
                DisconnectCause::Refused(r) => r.reason_code.as_u8(),
                DisconnectCause::Server { reason_code, .. } => reason_code.as_u8(),
                _ => 0,
            };
            let info = super::servers::Redirect {
                from: c.servers.address().to_string(),
                to: to.to_string(),
                reference: reference.clone(),
                reason_code: code,
                refused,
            };
            if !ask_filter(&c.settings.redirect_filter, &info) {
                c.servers.redirects.vetoed();
                let why = NotFollowed::Vetoed.to_string();
                return not_followed(c, &why, Some(reference), refused);
            }
            if let Err(e) = c.servers.redirect(to, moved) {
                c.servers.redirects.vetoed();
                let why = format!("no transport for the Server Reference: {e}");
                return not_followed(c, &why, Some(reference), refused);
            }
            c.redirect_now = true;
            log(c, LogLevel::Info, |_| {
                format!(
                    "redirected (0x{code:02X}{}) from {} to {}",
                    if moved {
                        ", for good"
                    } else {
                        ", this connection"
                    },
                    info.from,
                    info.to
                )
            });
            return;
        }
    };
    not_followed(c, &why, reference, refused);
}

/// A redirection not followed: after a refusal (CONNACK), the server would only refuse
/// again: no more reconnecting.
fn not_followed(c: &mut Conn, why: &str, reference: Option<String>, refused: bool) {
    let reference = reference.unwrap_or_else(|| "(none)".into());
    let stop = refused && c.wanted;
    if stop {
        c.wanted = false;
    }
    let level = if stop {
        LogLevel::Error
    } else {
        LogLevel::Warn
    };
    log(c, level, |_| {
        format!(
            "not following the redirection to {reference}: {why}{}",
            if stop { "; not reconnecting" } else { "" }
        )
    });
}

/// The application's filter (none: allowed), called with no lock held; a panic in it is a
/// veto.
fn ask_filter(slot: &FilterSlot, info: &super::servers::Redirect) -> bool {
    let Some(mut filter) = slot.0.lock().take() else {
        return true;
    };
    let allowed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| filter(info))).unwrap_or(false);
    let mut slot = slot.0.lock();
    if slot.is_none() {
        // Unless the application installed another meanwhile.
        *slot = Some(filter);
    }
    allowed
}

/// The connection ended: the decisions about what follows (a redirection, a refusal or TLS
/// failure that stops reconnecting), then the connect's waiters unless the connect goes on.
fn on_disconnected(c: &mut Conn, cause: &DisconnectCause) {
    c.settings.connected.store(false, Ordering::Release);
    redirect(c, cause);
    if let DisconnectCause::Refused(r) = cause
        && is_permanent_refusal(r.reason_code)
        && c.wanted
    {
        c.wanted = false;
        log(c, LogLevel::Error, |_| {
            "the server refused the connection for good; not reconnecting".into()
        });
    }
    // With TLS 1.3 the server judges our certificate after the handshake ended
    // on our side: its refusal arrives on the open connection.
    if let DisconnectCause::Tls { kind, .. } = cause
        && kind.is_permanent()
        && c.wanted
    {
        c.wanted = false;
        log(c, LogLevel::Error, |_| {
            "TLS failed for a reason retrying cannot fix; not reconnecting".into()
        });
    }
    // After the decisions above: whether the connect goes on depends on them.
    if !goes_on(c) {
        for w in c.connect_waiters.drain(..) {
            w.complete(Err(cause.clone().into()));
        }
    }
}
