//! The application's handle on one MQTT client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::completion::{Completion, start_and_wait};
use super::dispatch::{self, Bounds, Handler, Mailbox, Router};
use super::event::{ClientEvent, ClientStats, IoStats};
use super::memory::MemoryStats;
use super::reactor::{self, Command, ConnSettings, ReactorHandle};
use super::servers::{Redirect, RedirectFilter, Servers};
use super::shared::Shared;
use super::shutdown;
use crate::codec::topic::validate_topic_name;
use crate::codec::{
    ByteString, Bytes, DisconnectReasonCode, Properties, Property, ProtocolVersion, QoS,
    Subscription, SubscriptionOptions, Will,
};
use crate::error::Error;
use crate::protocol::{
    ConnAckInfo, ConnectChange, Message, PublishAck, PublishRequest, RedirectPolicy, Redirects,
    RequestError, Session, SubscribeAck, UnsubscribeAck, VersionChoice, check_publish_v311,
    check_subscribe, check_subscribe_v311, check_unsubscribe, check_unsubscribe_v311, check_will,
    max_incoming_packet,
};
use crate::store::SharedStore;
use crate::transport::{Address, Layers, TlsOptions};

mod options;
mod persistence;

pub use options::{ClientOptions, DEFAULT_LINGER};
use persistence::restore;

/// An MQTT 5 client. Cheap to clone; every clone is the same client. The client is closed
/// when [`Client::close`] is called or the last clone is dropped.
///
/// Every method may be called from any thread, callbacks included. Methods that send return
/// at once with a [`Completion`]; the `_and_wait` forms wait for it with a timeout.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: usize,
    reactor: Arc<ReactorHandle>,
    mailbox: Arc<Mailbox>,
    /// Flags and counters shared with the I/O thread.
    shared: Arc<Shared>,
    /// Every connection speaks 3.1.1: what it cannot carry is refused by the call itself.
    v311_only: bool,
    /// Counts the client for `shutdown`; dropped after the `Close` below is sent.
    _alive: shutdown::Alive,
    layers: Layers,
    store: Option<SharedStore>,
    /// The next message key of the store: past every one restored.
    next_key: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reactor.send(Command::Close {
            client: self.id,
            completion: Completion::new(),
        });
    }
}

fn next_client_id() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Client {
    /// A client for the broker at `address` (`mqtt://host:port`, `host:port`,
    /// `unix:///path`), then `options.servers`. Nothing is sent until [`Client::connect`].
    /// An invalid Last Will (topic, properties) or address is refused here.
    pub fn new(address: &str, options: ClientOptions) -> Result<Self, Error> {
        Self::with_servers(&[address], options)
    }

    /// A client for an ordered list of servers (any mix of `mqtt://`, `mqtts://`, `ws://`,
    /// `wss://`, `unix://`), then `options.servers`. A connect tries them in order from the
    /// one that last worked (the first, at first), moving on to the next at once when an
    /// attempt fails (no connection, or a refusal that is not permanent); the reconnect
    /// backoff's delay applies once per full pass over the list, not per server. A connect's
    /// completion ends with the first CONNACK success, or with the failure of the pass's
    /// last attempt; each failed attempt is a [`ClientEvent::ConnectionLost`]. A lost
    /// connection is reconnected to the same server first. [`Client::server`] says which
    /// server is in use. TLS options apply to the TLS servers (refused if there is none).
    pub fn with_servers(addresses: &[&str], options: ClientOptions) -> Result<Self, Error> {
        let (layers, servers) = server_list(addresses, &options)?;
        if let Some(will) = &options.session.will {
            check_will(will)?;
        }
        options.session.check_version()?;
        let v311_only = options.session.protocol_version == VersionChoice::V311;
        let id = next_client_id();
        let alive = shutdown::Alive::new()?;
        let reactor = reactor::handle();
        // The memory budget bounds what waits for the application too.
        let queue_bytes = options
            .event_queue_bytes
            .min(options.session.memory_budget.event_queue_bytes());
        // One read may complete a packet of the largest size accepted: QoS 0 messages that
        // come with it are no reason to drop.
        let one_read = max_incoming_packet(&options.session) as usize + 64 * 1024;
        let mailbox = Mailbox::new(
            id,
            Arc::clone(&reactor) as Arc<_>,
            Bounds {
                count: options.event_queue_limit,
                bytes: queue_bytes,
                drop_bytes: queue_bytes.saturating_mul(2).max(queue_bytes + one_read),
            },
            options.inline_callbacks,
            options.manual_ack,
        );
        let shared = Arc::new(Shared::new(options.completion_events));
        let servers = Servers::new(
            servers,
            options.websocket.clone(),
            Redirects::new(RedirectPolicy {
                follow: options.follow_redirects,
                max_hops: options.max_redirects,
            }),
        );
        let settings = ConnSettings {
            reconnect: options.reconnect,
            tcp: options.tcp,
            connect_timeout: options.connect_timeout,
            shared: Arc::clone(&shared),
            log_level: options.log_level,
            busy_poll: options.busy_poll,
            linger: options.linger,
            store: options.store.clone(),
        };
        let mut session = Session::new(options.session, std::time::Instant::now());
        let (restored, next_key) = match &options.store {
            Some(store) => restore(store, &mut session)?,
            None => (Vec::new(), 1),
        };
        reactor.send(Command::Register {
            client: id,
            session: Box::new(session),
            servers: Box::new(servers),
            settings,
            mailbox: Arc::clone(&mailbox),
            restored,
        });
        Ok(Self {
            inner: Arc::new(Inner {
                id,
                reactor,
                mailbox,
                shared,
                v311_only,
                _alive: alive,
                layers,
                store: options.store,
                next_key: AtomicU64::new(next_key),
            }),
        })
    }

    /// Replaces the TLS options (a rotated client certificate and key, new CAs) for the next
    /// connect; the open connection goes on as it is. Files are read now: a missing file or
    /// a bad key is refused here and the old options stay.
    pub fn reload_tls(&self, tls: &TlsOptions) -> Result<(), Error> {
        Ok(self.inner.layers.reload_tls(tls)?)
    }

    fn send(&self, command: Command) {
        self.inner.reactor.send(command);
    }

    /// Sends the command `make` builds around a new completion, and returns the completion.
    fn start<T: Clone>(&self, make: impl FnOnce(usize, Completion<T>) -> Command) -> Completion<T> {
        let completion = Completion::new();
        self.send(make(self.inner.id, completion.clone()));
        completion
    }

    /// Starts connecting (resolution and connect happen on midge's threads). The completion
    /// gives the CONNACK, or why the attempt failed; reconnection then goes on per the
    /// reconnect policy. A failed attempt is also a [`ClientEvent::ConnectionLost`].
    pub fn connect(&self) -> Completion<ConnAckInfo> {
        self.start(|client, waiter| Command::Connect {
            client,
            waiter: Some(waiter),
        })
    }

    /// [`Client::connect`] for a caller that keeps no completion: refused at once with
    /// [`Error::InvalidArgument`] ("already connected") while connected; a failed attempt is reported as a
    /// [`ClientEvent::ConnectionLost`].
    pub fn connect_detached(&self) -> Result<(), Error> {
        if self.is_connected() {
            return Err(Error::InvalidArgument("already connected".into()));
        }
        match self.connect().abandon() {
            Some(Err(e @ Error::InvalidArgument(_))) => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether the client is connected (CONNACK received, connection not lost), as the I/O
    /// thread last reported.
    pub fn is_connected(&self) -> bool {
        self.inner.shared.connected.load(Ordering::Acquire)
    }

    /// Connects and waits up to `timeout` for CONNACK.
    pub fn connect_and_wait(&self, timeout: Duration) -> Result<ConnAckInfo, Error> {
        start_and_wait(timeout, || Ok(self.connect()))
    }

    /// Publishes `payload` to `topic`. Refused at once (and nothing sent) for an invalid
    /// topic or properties; the server's limits are checked by the I/O thread and reported
    /// through the completion. QoS 0 completes when written, QoS 1/2 with the server's
    /// acknowledgement.
    pub fn publish(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
        properties: Properties,
    ) -> Result<Completion<PublishAck>, Error> {
        let request = PublishRequest {
            topic: ByteString::from(topic),
            payload: payload.into(),
            qos,
            retain,
            topic_alias: None,
            properties,
        };
        self.publish_request(request)
    }

    /// [`Client::publish`] with a prepared request.
    pub fn publish_request(
        &self,
        request: PublishRequest,
    ) -> Result<Completion<PublishAck>, Error> {
        self.check_publish(&request)?;
        let completion = Completion::new();
        let persisted = self.persist(&request, completion.id())?;
        self.send(Command::Publish {
            client: self.inner.id,
            request,
            completion: completion.clone(),
            persisted,
        });
        Ok(completion)
    }

    /// [`Client::publish_request`] for a caller that keeps no [`Completion`]. Every
    /// failure still reaches the caller, exactly once: returned here when midge knows it
    /// by the time this returns (checks that need no connection always; the session's
    /// refusals, such as a full offline queue or a limit of the server, whenever the I/O
    /// thread was idle, so the command ran on the caller's thread), else delivered as a
    /// failed [`ClientEvent::PublishComplete`] (callback or [`Client::next_event`]),
    /// whether or not completion events are on.
    pub fn publish_detached(&self, request: PublishRequest) -> Result<(), Error> {
        let completion = self.publish_request(request)?;
        Self::detach(&completion)
    }

    /// Lets go of a completion: its failure, if already known, is the caller's to return;
    /// a later one becomes an event.
    pub(crate) fn detach<T: Clone>(completion: &Completion<T>) -> Result<(), Error> {
        match completion.abandon() {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Publishes and waits up to `timeout` for the acknowledgement.
    pub fn publish_and_wait(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        retain: bool,
        properties: Properties,
        timeout: Duration,
    ) -> Result<PublishAck, Error> {
        start_and_wait(timeout, || {
            self.publish(topic, payload, qos, retain, properties)
        })
    }

    /// Request/response (4.10): publishes `payload` to `topic` with `response_topic` and a
    /// fresh Correlation Data, and waits up to `timeout` for the reply carrying the same
    /// Correlation Data. Subscribe to `response_topic` first. The reply is not delivered as
    /// an event.
    pub fn request(
        &self,
        topic: &str,
        payload: impl Into<Bytes>,
        qos: QoS,
        response_topic: &str,
        timeout: Duration,
    ) -> Result<Message, Error> {
        validate_topic_name(response_topic).map_err(RequestError::InvalidTopic)?;
        let correlation = self.correlation_data();
        let request = PublishRequest {
            topic: ByteString::from(topic),
            payload: payload.into(),
            qos,
            retain: false,
            topic_alias: None,
            properties: Properties::new()
                .with(Property::ResponseTopic(ByteString::from(response_topic)))
                .with(Property::CorrelationData(correlation.clone())),
        };
        self.check_publish(&request)?;
        let result = start_and_wait(timeout, || {
            Ok(self.start(|client, reply| Command::Request {
                client,
                request,
                correlation: correlation.clone(),
                reply,
            }))
        });
        if matches!(result, Err(Error::Timeout)) {
            self.send(Command::ForgetRequest {
                client: self.inner.id,
                correlation,
            });
        }
        result
    }

    /// The checks that need no connection; with 3.1.1 only, also what 3.1.1 cannot carry.
    fn check_publish(&self, request: &PublishRequest) -> Result<(), Error> {
        request.check()?;
        if self.inner.v311_only {
            check_publish_v311(request)?;
        }
        Ok(())
    }

    /// Correlation Data unique within the process: client id, a counter, and the time.
    fn correlation_data(&self) -> Bytes {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) as u64;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut data = Vec::with_capacity(24);
        data.extend_from_slice(&(self.inner.id as u64).to_be_bytes());
        data.extend_from_slice(&n.to_be_bytes());
        data.extend_from_slice(&t.to_be_bytes());
        Bytes::from(data)
    }

    /// Subscribes to one or more filters with their options.
    pub fn subscribe(
        &self,
        subscriptions: Vec<Subscription>,
        properties: Properties,
    ) -> Result<Completion<SubscribeAck>, Error> {
        check_subscribe(&subscriptions, &properties)?;
        if self.inner.v311_only {
            check_subscribe_v311(&subscriptions, &properties)?;
        }
        Ok(self.start(|client, completion| Command::Subscribe {
            client,
            subscriptions,
            properties,
            completion,
        }))
    }

    /// Subscribes to one filter with a maximum QoS and default options, and waits.
    pub fn subscribe_and_wait(
        &self,
        filter: &str,
        qos: QoS,
        timeout: Duration,
    ) -> Result<SubscribeAck, Error> {
        let s = Subscription {
            filter: ByteString::from(filter),
            options: SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            },
        };
        start_and_wait(timeout, || self.subscribe(vec![s], Properties::new()))
    }

    /// Unsubscribes from one or more filters.
    pub fn unsubscribe(
        &self,
        filters: Vec<ByteString>,
        properties: Properties,
    ) -> Result<Completion<UnsubscribeAck>, Error> {
        check_unsubscribe(&filters, &properties)?;
        if self.inner.v311_only {
            check_unsubscribe_v311(&properties)?;
        }
        Ok(self.start(|client, completion| Command::Unsubscribe {
            client,
            filters,
            properties,
            completion,
        }))
    }

    pub fn unsubscribe_and_wait(
        &self,
        filter: &str,
        timeout: Duration,
    ) -> Result<UnsubscribeAck, Error> {
        start_and_wait(timeout, || {
            self.unsubscribe(vec![ByteString::from(filter)], Properties::new())
        })
    }

    /// Sends DISCONNECT with `reason_code` (0x04 asks the server to publish the Will) and
    /// closes the connection; no reconnection follows. The completion ends when the
    /// connection is closed.
    pub fn disconnect(
        &self,
        reason_code: DisconnectReasonCode,
        properties: Properties,
    ) -> Completion<()> {
        self.start(|client, completion| Command::Disconnect {
            client,
            reason_code,
            properties,
            completion,
        })
    }

    /// [`Client::disconnect`] for a caller that keeps no [`Completion`]: a refusal by the
    /// session (properties DISCONNECT cannot carry) is returned here when known by the time
    /// this returns (the I/O thread was idle), else delivered as a
    /// [`ClientEvent::DisconnectFailed`] whatever the log level.
    pub fn disconnect_detached(
        &self,
        reason_code: DisconnectReasonCode,
        properties: Properties,
    ) -> Result<(), Error> {
        Self::detach(&self.disconnect(reason_code, properties))
    }

    pub fn disconnect_and_wait(&self, timeout: Duration) -> Result<(), Error> {
        start_and_wait(timeout, || {
            Ok(self.disconnect(DisconnectReasonCode::NormalDisconnection, Properties::new()))
        })
    }

    /// Replaces the Last Will (`None` removes it) for the next connect and every automatic
    /// reconnection after it; the live connection keeps the Will it connected with. An
    /// invalid Will is refused here.
    pub fn set_will(&self, will: Option<Will>) -> Result<(), Error> {
        if let Some(w) = &will {
            check_will(w)?;
        }
        self.change_connect(ConnectChange::Will(will))
    }

    /// Replaces the User Name and Password (either may be absent) for the next connect and
    /// every automatic reconnection after it.
    pub fn set_credentials(
        &self,
        username: Option<&str>,
        password: Option<&[u8]>,
    ) -> Result<(), Error> {
        self.change_connect(ConnectChange::Credentials {
            username: username.map(ByteString::from),
            password: password.map(Bytes::copy_from_slice),
        })
    }

    /// Clean Start for the next connection only, the next connect or automatic
    /// reconnection: `true` starts a new session, `false` asks to resume the one the server
    /// kept. After that connection, reconnections resume the session again when it
    /// outlives the connection (Session Expiry Interval > 0).
    pub fn set_clean_start(&self, clean_start: bool) -> Result<(), Error> {
        self.change_connect(ConnectChange::CleanStart(clean_start))
    }

    /// Hands the change to the I/O thread, in order with the other commands: a connect
    /// started after this returns uses it.
    fn change_connect(&self, change: ConnectChange) -> Result<(), Error> {
        let done =
            self.start(|client, completion| Command::ChangeConnect(client, change, completion));
        if reactor::on_io_thread() {
            // Queued behind the running command; it is checked and applied in order.
            return Ok(());
        }
        done.wait(Duration::from_secs(5))
    }

    /// Starts re-authentication with the configured authenticator (4.12.1).
    pub fn reauthenticate(&self) -> Completion<()> {
        self.start(|client, completion| Command::Reauthenticate { client, completion })
    }

    /// [`Client::reauthenticate`] for a caller that keeps no [`Completion`]: a refusal (not
    /// connected, no authenticator, 3.1.1) is returned here when known by the time this
    /// returns, else delivered as a [`ClientEvent::ReauthenticateFailed`].
    pub fn reauthenticate_detached(&self) -> Result<(), Error> {
        Self::detach(&self.reauthenticate())
    }

    /// Installs the callback that receives every event of this client, on a midge
    /// dispatcher thread (or the I/O thread, with `ClientOptions::inline_callbacks`), in
    /// order, never concurrently, and with no midge lock held: it may call any method of
    /// this client. QoS 1/2 messages are acknowledged after it returns (with
    /// `ClientOptions::manual_ack`, by [`Client::ack`]).
    /// Replacing or removing the callback drops the old one after its last call returns.
    /// [`ClientEvent::Closed`] also reaches [`Client::next_event`]; to leave other events
    /// there, use [`Client::set_partial_callback`].
    pub fn set_callback(&self, handler: impl FnMut(&ClientEvent) + Send + 'static) {
        let mut handler: Handler = Box::new(handler);
        self.inner.mailbox.set_handler(Some(Box::new(move |e| {
            handler(e);
            true
        })));
    }

    /// [`Client::set_callback`] for a callback that takes only some events: it returns
    /// whether it took the event; the others (a QoS 1/2 message unacknowledged) go to
    /// [`Client::next_event`]. Events already waiting there are offered to it first.
    pub fn set_partial_callback(&self, handler: impl FnMut(&ClientEvent) -> bool + Send + 'static) {
        self.inner
            .mailbox
            .set_handler(Some(Box::new(handler) as Router));
    }

    /// Acknowledges a received message to the server, with `ClientOptions::manual_ack`:
    /// its PUBACK (QoS 1) or PUBREC (QoS 2) goes out once every message that arrived
    /// before it is acknowledged too [MQTT-4.6.0-2] [MQTT-4.6.0-3]. `message` may be the
    /// one a callback is given or any clone of it, used from any thread, during the
    /// callback or after it returned.
    ///
    /// Always `Ok`, and then a no-op, for: a QoS 0 message; a second acknowledgement of
    /// the same message (or clone); a message of another client; after [`Client::close`];
    /// without `manual_ack` (midge acknowledged it already); and a QoS 1 message received
    /// on a connection that has ended since. The server sends that one again after the
    /// reconnect (with `dup` set, as a new message to acknowledge) when the session is
    /// resumed [MQTT-4.4.0-1], since a PUBACK on the new connection for a PUBLISH of the
    /// old one is not sent blindly. A QoS 2 message is never delivered twice while the
    /// session lasts [MQTT-4.3.3-10] (with a store, [`ClientOptions::store`], across a
    /// restart too: the acknowledgement of a QoS 2 message is in the store when this
    /// returns, unless called from midge's I/O thread, an inline callback, where it follows
    /// with the round): its acknowledgement stays valid across the
    /// reconnect, and its PUBREC goes out once the server has sent the PUBLISH again on the
    /// new connection. When the server kept no session, it is forgotten.
    pub fn ack(&self, message: &Message) -> Result<(), Error> {
        let Some(token) = message.ack else {
            return Ok(());
        };
        // A persistent client's QoS 2 acknowledgement is in the store when this returns
        // (but from midge's I/O thread, where nothing may wait).
        let stored = (self.inner.store.is_some()
            && message.qos == QoS::ExactlyOnce
            && !reactor::on_io_thread())
        .then(Completion::new);
        self.inner.reactor.send(Command::Ack {
            client: self.inner.id,
            tokens: vec![token],
            stored: stored.clone(),
        });
        match stored {
            Some(done) => match done.wait(STORE_WAIT) {
                // Closed meanwhile: nothing is stored or owed any more.
                Err(Error::Closed) => Ok(()),
                other => other,
            },
            None => Ok(()),
        }
    }

    /// Removes the callback; events then wait for [`Client::next_event`].
    pub fn clear_callback(&self) {
        self.inner.mailbox.set_handler(None);
    }

    /// The next event, waiting up to `timeout` (pull interface): every event no callback
    /// took. QoS 1/2 messages returned here are acknowledged to the server (with
    /// `ClientOptions::manual_ack`, by [`Client::ack`]). `None` on
    /// timeout and after [`ClientEvent::Closed`].
    pub fn next_event(&self, timeout: Duration) -> Option<ClientEvent> {
        self.inner.mailbox.next_event(timeout)
    }

    /// A file descriptor that is readable exactly while events wait for
    /// [`Client::next_event`], for poll/epoll loops (owned by the client: do not close or
    /// read it). `None` if the system had no descriptor to give.
    pub fn event_fd(&self) -> Option<std::os::unix::io::RawFd> {
        self.inner.mailbox.event_fd()
    }

    /// How many messages wait for the application (for the callback, in its running batch,
    /// or in the pull queue), and their approximate bytes ([`ClientEvent::approx_size`]):
    /// what the event queue bounds count.
    pub fn queued_events(&self) -> (usize, usize) {
        self.inner.mailbox.queued()
    }

    /// [`Client::close`], then waits until no callback of this client runs or will run (its
    /// callback has seen [`ClientEvent::Closed`] and been dropped), so what the callback
    /// uses may be freed after. Called from this client's own callback it cannot wait for
    /// that callback to return: it only starts the close; the same from any inline
    /// callback, since the I/O thread must not wait on itself.
    pub fn close_and_join(&self) {
        self.inner.mailbox.start_closing();
        let closing = self.close();
        if dispatch::in_callback_of(self.inner.id) || reactor::on_io_thread() {
            return;
        }
        // The I/O thread completes a close at once; the bound guards a dead I/O thread.
        let _ = closing.wait(std::time::Duration::from_secs(5));
        self.inner.mailbox.wait_retired();
    }

    /// Turns completion events ([`ClientEvent::PublishComplete`] and the like) on or off
    /// for requests that end from now on (see `ClientOptions::completion_events`).
    pub fn set_completion_events(&self, on: bool) {
        self.inner
            .shared
            .completion_events
            .store(on, Ordering::Relaxed);
    }

    /// The MQTT version of the last connection made (`None` before the first CONNACK):
    /// 3.1.1 after a fallback from 5.0 ([`crate::protocol::VersionChoice::V5OrV311`]).
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        ProtocolVersion::from_level(self.inner.shared.protocol_level.load(Ordering::Relaxed))
    }

    /// The server of the last connection made (its address as midge writes it,
    /// `mqtt://host:port`), `None` before the first CONNACK success: after a failover, the
    /// server that took over; after a followed redirection, its target.
    pub fn server(&self) -> Option<String> {
        self.inner.shared.server.lock().clone()
    }

    /// Installs (or with `None` removes) the application's say over redirections, when
    /// `follow_redirects` is on: called with each redirection midge would follow (where
    /// from, where to, the reference and reason code); returning false refuses it (as if
    /// following were off: after a CONNACK refusal the client stops reconnecting). It runs
    /// on midge's I/O thread: it must return quickly and not wait on midge (waits fail
    /// with [`Error::WouldDeadlock`]); a panic in it is a refusal.
    pub fn on_redirect(&self, filter: Option<impl FnMut(&Redirect) -> bool + Send + 'static>) {
        *self.inner.shared.redirect_filter.0.lock() = filter.map(|f| Box::new(f) as RedirectFilter);
    }

    /// The client's socket I/O so far (all its connections).
    pub fn io_stats(&self) -> IoStats {
        self.inner.shared.io.snapshot()
    }

    /// What the client has done and holds now: messages and packets each way, in flight
    /// each way, the queue, connections and time connected, the smoothed round-trip time,
    /// refusals, and the socket I/O. Cheap (a lock and a copy; no call to the I/O thread):
    /// a watchdog may read it every second. The session's counters are those of the I/O
    /// thread's latest round for the client.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            session: self.inner.shared.io.session_snapshot(),
            io: self.inner.shared.io.snapshot(),
        }
    }

    /// What the client's receive and write buffers hold, now and at their peak: the bounds
    /// the memory budget ([`crate::protocol::MemoryBudget`]) sets, observed.
    pub fn memory_stats(&self) -> MemoryStats {
        self.inner.shared.memory.snapshot()
    }

    /// Whether the client is closed and its last event handed out.
    pub fn is_closed(&self) -> bool {
        self.inner.mailbox.is_closed()
    }

    /// Whether the calling thread is running one of this client's callbacks.
    pub fn in_callback(&self) -> bool {
        dispatch::in_callback_of(self.inner.id)
    }

    /// Closes the client for good: disconnects if connected, fails pending requests with
    /// [`Error::Closed`], and delivers [`ClientEvent::Closed`] last.
    pub fn close(&self) -> Completion<()> {
        self.start(|client, completion| Command::Close { client, completion })
    }
}

/// The addresses (then `options.servers`), parsed, each with its transport layers; the
/// layers of the first TLS server (or the first) for `Client::reload_tls`.
fn server_list(
    addresses: &[&str],
    options: &ClientOptions,
) -> Result<(Layers, Vec<(Address, Layers)>), Error> {
    let mut list = Vec::new();
    for a in addresses
        .iter()
        .copied()
        .chain(options.servers.iter().map(String::as_str))
    {
        list.push(Address::parse(a)?);
    }
    if list.is_empty() {
        return Err(Error::InvalidArgument("no server address".into()));
    }
    let tls_at = list.iter().position(Address::is_tls).unwrap_or(0);
    let layers = Layers::new(&list[tls_at], options.tls.as_ref(), &options.websocket)?;
    let mut servers = Vec::with_capacity(list.len());
    for address in list {
        let l = layers.retarget(&address, &options.websocket)?;
        servers.push((address, l));
    }
    Ok((layers, servers))
}

/// How long `Client::ack` waits for the store at most (a stuck C store callback).
const STORE_WAIT: Duration = Duration::from_secs(30);
