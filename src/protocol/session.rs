//! The client session state machine.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::codec::topic::{parse_shared, validate_topic_filter, validate_topic_name};
use crate::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, CodecError, ConnAck, Connect, Decoder, Disconnect,
    DisconnectReasonCode, Packet, PacketType, Properties, Property, PropertyContext, PropertyId,
    ProtocolVersion, PubAck, PubComp, PubCompReasonCode, PubRec, PubRecReasonCode, PubRel,
    PubRelReasonCode, Publish, QoS, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};

use super::alias::{AliasError, InboundAliases, OutboundAliases};
use super::config::{ConnectChange, Options};
use super::error::{AckReason, RequestError};
use super::event::{
    AckToken, ConnAckInfo, ConnectRefusal, DisconnectCause, Event, Message, PublishAck, RequestId,
    SubscribeAck, UnsubscribeAck,
};
use super::packet_id::PacketIds;
use super::stats::{Counters, SessionStats};
use super::version::{
    check_credentials_v311, check_disconnect_v311, check_publish_v311, check_subscribe_v311,
    check_unsubscribe_v311, check_will_v311,
};

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No connection; `connection_opened` starts one.
    Disconnected,
    /// CONNECT sent, waiting for CONNACK (and AUTH exchanges).
    Connecting,
    /// CONNACK received with success.
    Connected,
    /// Closed for good by [`Session::close`]; every request is refused.
    Closed,
}

/// A publish the application asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishRequest {
    /// The Topic Name; empty to publish by `topic_alias` alone.
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// A Topic Alias the application chooses (3.3.2.3.4): 1 up to the server's Topic Alias
    /// Maximum [MQTT-3.3.2-8] [MQTT-3.3.2-9]. With a topic, it binds the alias to the topic
    /// (for this client's life; the binding may be changed); with an empty topic, the
    /// message goes to the topic last bound to the alias. midge resolves the alias when
    /// the publish is accepted, and sends the topic again with the alias the first time on
    /// each connection, since aliases never carry over to a new connection [MQTT-3.3.2-7]:
    /// a publish by alias is therefore never lost to a reconnection.
    pub topic_alias: Option<u16>,
    /// PUBLISH properties; no Topic Alias (use `topic_alias`; automatic aliases are
    /// midge's to assign) and no Subscription Identifier [MQTT-3.3.4-6].
    pub properties: Properties,
}

impl PublishRequest {
    /// The rules that need no connection: a valid topic name (or an empty one with a Topic
    /// Alias), a non-zero alias, properties allowed in PUBLISH, and neither a Topic Alias
    /// property nor a Subscription Identifier [MQTT-3.3.4-6].
    pub fn check(&self) -> Result<(), RequestError> {
        if self.topic_alias == Some(0) {
            // [MQTT-3.3.2-8] a Topic Alias of 0 is not permitted.
            return Err(RequestError::InvalidProperties(
                CodecError::InvalidPropertyValue {
                    property: PropertyId::TopicAlias,
                    value: 0,
                },
            ));
        }
        if !(self.topic.is_empty() && self.topic_alias.is_some()) {
            validate_topic_name(&self.topic).map_err(RequestError::InvalidTopic)?;
        }
        self.properties
            .validate(PropertyContext::Publish)
            .map_err(RequestError::InvalidProperties)?;
        if let Some(p) = self.properties.iter().find(|p| {
            matches!(
                p,
                Property::TopicAlias(_) | Property::SubscriptionIdentifier(_)
            )
        }) {
            return Err(RequestError::InvalidProperties(
                CodecError::PropertyNotAllowed {
                    property: p.id(),
                    context: PropertyContext::Publish,
                },
            ));
        }
        Ok(())
    }
}

/// The rules of a Last Will: a valid topic name (4.7: no wildcards, not empty) and
/// properties allowed in a Will (3.1.3.2).
pub fn check_will(will: &Will) -> Result<(), RequestError> {
    validate_topic_name(&will.topic).map_err(RequestError::InvalidTopic)?;
    will.properties
        .validate(PropertyContext::Will)
        .map_err(RequestError::InvalidProperties)
}

/// The rules of a SUBSCRIBE that need no connection: at least one filter [MQTT-3.8.3-2],
/// each valid, and properties allowed in SUBSCRIBE.
pub fn check_subscribe(
    subscriptions: &[Subscription],
    properties: &Properties,
) -> Result<(), RequestError> {
    if subscriptions.is_empty() {
        return Err(RequestError::NoTopicFilters);
    }
    properties
        .validate(PropertyContext::Subscribe)
        .map_err(RequestError::InvalidProperties)?;
    for s in subscriptions {
        s.validate().map_err(|e| match e {
            CodecError::InvalidTopicFilter(t) => RequestError::InvalidTopicFilter(t),
            other => RequestError::InvalidProperties(other),
        })?;
    }
    Ok(())
}

/// The rules of an UNSUBSCRIBE that need no connection: at least one filter
/// [MQTT-3.10.3-2], each valid, and properties allowed in UNSUBSCRIBE.
pub fn check_unsubscribe(
    filters: &[ByteString],
    properties: &Properties,
) -> Result<(), RequestError> {
    if filters.is_empty() {
        return Err(RequestError::NoTopicFilters);
    }
    properties
        .validate(PropertyContext::Unsubscribe)
        .map_err(RequestError::InvalidProperties)?;
    for f in filters {
        validate_topic_filter(f).map_err(RequestError::InvalidTopicFilter)?;
    }
    Ok(())
}

#[derive(Debug)]
struct Queued {
    id: RequestId,
    request: PublishRequest,
    since: Instant,
    bytes: usize,
}

/// Which acknowledgement an outgoing QoS 1/2 publish waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    /// QoS 1 PUBLISH sent: waiting for PUBACK.
    Qos1Sent,
    /// QoS 2 PUBLISH sent: waiting for PUBREC.
    Qos2Sent,
    /// PUBREL sent after this PUBREC: waiting for PUBCOMP.
    Released(PubRecReasonCode),
}

#[derive(Debug)]
struct Outgoing {
    id: RequestId,
    /// Resend order: when the PUBLISH was sent, or for a released message when its PUBREC
    /// arrived, so PUBRELs follow their PUBRECs [MQTT-4.6.0-4].
    order: u64,
    publish: Publish,
    state: OutState,
    /// The PUBREC's properties (Reason String, User Properties), kept until the PUBCOMP so
    /// the completion reports them with the PUBREC's reason code.
    pubrec_properties: Properties,
    /// Waiting to be resent on this connection until the Receive Maximum allows.
    deferred: bool,
}

impl Outgoing {
    /// What goes out again on a resumed session [MQTT-4.4.0-1].
    fn resend(&mut self) -> Packet {
        match self.state {
            OutState::Qos1Sent | OutState::Qos2Sent => {
                self.publish.dup = true;
                Packet::Publish(self.publish.clone())
            }
            OutState::Released(_) => Packet::PubRel(PubRel::new(self.publish.packet_id)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InQos2 {
    /// Delivered; PUBREC goes out when the application acknowledges.
    AwaitAppAck,
    /// PUBREC sent; waiting for PUBREL.
    PubRecSent,
}

#[derive(Debug, Clone, Copy)]
enum AckKind {
    PubAck,
    PubRec,
}

#[derive(Debug)]
struct PendingAck {
    token: u64,
    packet_id: u16,
    kind: AckKind,
    done: bool,
}

#[derive(Debug)]
struct PendingSub {
    id: Option<RequestId>,
    packet: Subscribe,
}

#[derive(Debug)]
struct PendingUnsub {
    id: RequestId,
    packet: Unsubscribe,
}

/// The server's limits for the current connection (3.2.2.3).
#[derive(Debug, Clone, Copy)]
struct Limits {
    receive_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
    maximum_packet_size: Option<u32>,
    /// Unknown (so not checked) before the first CONNACK.
    topic_alias_maximum: u16,
    wildcard: bool,
    subscription_ids: bool,
    shared: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: None,
            topic_alias_maximum: u16::MAX,
            wildcard: true,
            subscription_ids: true,
            shared: true,
        }
    }
}

/// Publishes are encoded into the transmit buffer only while it holds less than this; the
/// rest wait in the queue (as the application gave them, not a second encoded copy) until
/// the runtime has written the buffer out (`Session::transmit_drained`). Bounds the memory
/// a fast publisher on a slow connection costs.
pub(crate) const TRANSMIT_HIGH_WATER: usize = 256 * 1024;

/// The MQTT 5 client session as a sans-IO state machine.
///
/// Inputs: [`Session::connection_opened`], received bytes ([`Session::handle_read`]),
/// [`Session::connection_closed`], [`Session::handle_timeout`] and the application's
/// requests, each with `now`. Outputs: bytes to send ([`Session::take_transmit`]), events
/// ([`Session::poll_event`]), the next deadline ([`Session::poll_timeout`]) and whether the
/// connection should be closed ([`Session::poll_close`]). It never reads a clock, never
/// blocks, and owns every piece of session state the standard gives the client (4.1).
#[derive(Debug)]
pub struct Session {
    opts: Options,
    state: State,
    decoder: Decoder,
    out: Vec<u8>,
    events: VecDeque<Event>,
    close_requested: bool,
    next_request: RequestId,
    ids: PacketIds,
    limits: Limits,
    // Outbound publishes: sent and unacknowledged, and not yet sent.
    inflight: HashMap<u16, Outgoing>,
    /// How many of `inflight` wait to be resent.
    deferred: usize,
    send_seq: u64,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    out_aliases: OutboundAliases,
    // Inbound.
    in_aliases: InboundAliases,
    inbound_qos2: HashMap<u16, InQos2>,
    pending_acks: VecDeque<PendingAck>,
    unacked_qos1: usize,
    next_token: u64,
    // Subscriptions.
    pending_subs: HashMap<u16, PendingSub>,
    pending_unsubs: HashMap<u16, PendingUnsub>,
    control_queue: VecDeque<u16>,
    subscriptions: BTreeMap<ByteString, (SubscriptionOptions, Option<u32>)>,
    // Connection bookkeeping.
    asked_clean_start: bool,
    /// The application's Clean Start for the next connection ([`ConnectChange::CleanStart`]).
    next_clean_start: Option<bool>,
    /// The one the CONNECT in flight carries: spent when a CONNACK accepts the connection,
    /// back to `next_clean_start` when the attempt fails.
    sent_clean_start: Option<bool>,
    /// The Session Expiry Interval our last CONNECT carried (3.14.2.2.2 refers to it).
    connect_session_expiry: u32,
    connected_once: bool,
    keep_alive: Duration,
    last_sent: Instant,
    last_received: Instant,
    ping_outstanding: bool,
    connect_deadline: Option<Instant>,
    reauthenticating: bool,
    /// Nothing received yet on this connection: the first byte shows whether the server
    /// speaks MQTT at all.
    first_byte_pending: bool,
    counters: Counters,
    /// Since when the runtime has stopped reading because the server does not take our
    /// bytes ([`Session::set_output_blocked`]).
    blocked_since: Option<Instant>,
    /// The version of the connection (or of the next CONNECT): the option's first, 3.1.1
    /// after a fallback, kept for every reconnection.
    version: ProtocolVersion,
    /// The server refused 5.0 and the next CONNECT is 3.1.1: the runtime connects again at
    /// once ([`Session::poll_fallback`]).
    fallback_pending: bool,
}

impl Session {
    /// A session with `opts`. Options a 3.1.1 CONNECT cannot carry must have been refused
    /// first with [`Options::check_version`] (as `Client::new` does): a 3.1.1 CONNECT is
    /// built from the fields 3.1.1 has.
    pub fn new(opts: Options, now: Instant) -> Self {
        let decoder = Decoder::with_max_packet_size(max_incoming_packet(&opts));
        Self {
            state: State::Disconnected,
            decoder,
            out: Vec::new(),
            events: VecDeque::new(),
            close_requested: false,
            next_request: 1,
            ids: PacketIds::default(),
            limits: Limits::default(),
            inflight: HashMap::new(),
            deferred: 0,
            send_seq: 0,
            queue: VecDeque::new(),
            queued_bytes: 0,
            out_aliases: OutboundAliases::default(),
            in_aliases: InboundAliases::default(),
            inbound_qos2: HashMap::new(),
            pending_acks: VecDeque::new(),
            unacked_qos1: 0,
            next_token: 1,
            pending_subs: HashMap::new(),
            pending_unsubs: HashMap::new(),
            control_queue: VecDeque::new(),
            subscriptions: BTreeMap::new(),
            asked_clean_start: true,
            next_clean_start: None,
            sent_clean_start: None,
            connect_session_expiry: 0,
            connected_once: false,
            keep_alive: Duration::ZERO,
            last_sent: now,
            last_received: now,
            ping_outstanding: false,
            connect_deadline: None,
            reauthenticating: false,
            first_byte_pending: false,
            counters: Counters::default(),
            blocked_since: None,
            version: opts.protocol_version.first(),
            fallback_pending: false,
            opts,
        }
    }

    /// What the session has done so far and holds now (see [`SessionStats`]).
    pub fn stats(&self, now: Instant) -> SessionStats {
        let mut s = self.counters.snapshot(now);
        s.inflight_out = self.inflight.len() as u64;
        s.inflight_in = self.inbound_qos2.len() as u64;
        s.queued = self.queue.len() as u64;
        s.queued_bytes = self.queued_bytes as u64;
        s
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// The MQTT version of the connection, or of the next CONNECT when there is none.
    pub fn protocol_version(&self) -> ProtocolVersion {
        self.version
    }

    /// True once after the server refused MQTT 5.0 and the session fell back to 3.1.1
    /// ([`super::VersionChoice::V5OrV311`]): the attempt ended with no event, and the
    /// runtime connects again at once, whatever its reconnect policy, since it is the same
    /// connect. Policy is here; the runtime only carries it out.
    pub fn poll_fallback(&mut self) -> bool {
        std::mem::take(&mut self.fallback_pending)
    }

    /// Publishes waiting to be sent (offline, or beyond the server's Receive Maximum).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// QoS 1 and 2 publishes sent and not yet fully acknowledged.
    pub fn inflight(&self) -> usize {
        self.inflight.len()
    }

    // ---------------------------------------------------------------- outputs

    /// Moves the bytes to send into `dst` (appending), leaving the internal buffer empty.
    pub fn take_transmit(&mut self, dst: &mut Vec<u8>) {
        if dst.is_empty() {
            std::mem::swap(dst, &mut self.out);
        } else {
            dst.extend_from_slice(&self.out);
            self.out.clear();
        }
    }

    /// The runtime has written what it took with [`Session::take_transmit`]: publishes that
    /// waited for room in the transmit buffer are encoded now.
    pub fn transmit_drained(&mut self, now: Instant) {
        self.pump(now);
    }

    /// True when bytes wait in the transmit buffer.
    pub fn has_transmit(&self) -> bool {
        !self.out.is_empty()
    }

    /// How many bytes wait in the transmit buffer.
    pub fn transmit_len(&self) -> usize {
        self.out.len()
    }

    /// The runtime reports whether it has stopped reading because the bytes we owe the
    /// server (replies, mostly) reached the memory budget's write share
    /// ([`crate::protocol::MemoryBudget::write_buffer_bytes`]) without the server taking
    /// them. While blocked, nothing is received, so the keep alive cannot judge the server;
    /// `write_stall_timeout` (or 1.5 keep alives, if shorter) without progress ends the
    /// connection with 0x97 Quota exceeded instead.
    pub fn set_output_blocked(&mut self, blocked: bool, now: Instant) {
        if !blocked {
            if self.blocked_since.take().is_some() {
                // The time we chose not to read says nothing of the server: the keep alive
                // counts from here (reading resumes now).
                self.last_received = self.last_received.max(now);
            }
        } else if self.blocked_since.is_none() {
            self.blocked_since = Some(now);
        }
    }

    /// How long the server may leave us blocked.
    fn stall_limit(&self) -> Duration {
        if self.keep_alive.is_zero() {
            self.opts.write_stall_timeout
        } else {
            self.opts.write_stall_timeout.min(self.keep_alive * 3 / 2)
        }
    }

    /// The server sent packets needing replies and read none of ours for the stall limit.
    fn write_stalled(&mut self, now: Instant) {
        let waiting = self.out.len();
        // Replies the server will never read: the DISCONNECT need not wait behind them.
        self.out.clear();
        let detail = format!(
            "the server sent packets that need replies but read none of ours for {:?}; midge \
             stopped reading from it with {waiting} bytes unsent in midge and more in the \
             socket (the write share of the memory budget is {} bytes)",
            self.stall_limit(),
            self.opts.memory_budget.write_buffer_bytes(),
        );
        self.protocol_error(DisconnectReasonCode::QuotaExceeded, detail, now);
    }

    /// The receive buffer's capacity: what the decoder holds on to between reads.
    pub fn read_buffer_capacity(&self) -> usize {
        self.decoder.capacity()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True once after the session decided to end the connection: the runtime sends what is
    /// in the transmit buffer (a DISCONNECT) and then closes the transport.
    pub fn poll_close(&mut self) -> bool {
        std::mem::take(&mut self.close_requested)
    }

    /// The next instant [`Session::handle_timeout`] must be called at, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Connecting => self.connect_deadline,
            State::Connected if self.blocked_since.is_some() => {
                self.blocked_since.map(|b| b + self.stall_limit())
            }
            State::Connected if !self.keep_alive.is_zero() => {
                let ping = if self.ping_outstanding {
                    None
                } else {
                    Some(self.last_sent.min(self.last_received) + self.keep_alive)
                };
                let lost = self.last_received + self.keep_alive * 3 / 2;
                Some(ping.map_or(lost, |p| p.min(lost)))
            }
            _ => None,
        }
    }

    // ---------------------------------------------------------------- connection

    /// The transport is up: sends CONNECT.
    pub fn connection_opened(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Connecting;
        self.close_requested = false;
        self.decoder.reset();
        self.decoder.set_version(self.version);
        self.fallback_pending = false;
        self.out.clear();
        self.ping_outstanding = false;
        self.reauthenticating = false;
        self.first_byte_pending = true;
        self.blocked_since = None;
        self.last_sent = now;
        self.last_received = now;
        self.connect_deadline = Some(now + self.opts.connect_timeout);
        self.sent_clean_start = self.next_clean_start.take();
        self.asked_clean_start = if let Some(clean) = self.sent_clean_start {
            clean
        } else if self.connected_once {
            self.opts.session_expiry_interval == 0
        } else {
            self.opts.clean_start
        };
        let connect = self.build_connect();
        self.send(&Packet::from(connect), now);
    }

    fn build_connect(&mut self) -> Connect {
        self.connect_session_expiry = self.opts.session_expiry_interval;
        if self.version == ProtocolVersion::V311 {
            // No properties: `Options::check_version` refused those 3.1.1 cannot carry;
            // Clean Session is `asked_clean_start` [MQTT-3.1.2-4] [MQTT-3.1.2-6].
            let o = &self.opts;
            return Connect {
                clean_start: self.asked_clean_start,
                keep_alive: o.keep_alive,
                properties: Properties::new(),
                client_id: o.client_id.clone(),
                will: o.will.clone(),
                username: o.username.clone(),
                password: o.password.clone(),
            };
        }
        let o = &mut self.opts;
        let mut properties = Properties::new();
        if o.session_expiry_interval != 0 {
            properties.push(Property::SessionExpiryInterval(o.session_expiry_interval));
        }
        if o.receive_maximum != u16::MAX {
            properties.push(Property::ReceiveMaximum(o.receive_maximum.max(1)));
        }
        // Always sent: the memory budget bounds it even when the application set none, and a
        // server must not send a larger packet [MQTT-3.1.2-24].
        properties.push(Property::MaximumPacketSize(max_incoming_packet(o)));
        if o.topic_alias_maximum != 0 {
            properties.push(Property::TopicAliasMaximum(o.topic_alias_maximum));
        }
        if o.request_response_information {
            properties.push(Property::RequestResponseInformation(true));
        }
        if !o.request_problem_information {
            properties.push(Property::RequestProblemInformation(false));
        }
        for (k, v) in &o.user_properties {
            properties.push(Property::UserProperty(k.clone(), v.clone()));
        }
        if let Some(auth) = o.authenticator.as_mut() {
            properties.push(Property::AuthenticationMethod(ByteString::from(
                auth.method(),
            )));
            if let Some(data) = auth.initial_data() {
                properties.push(Property::AuthenticationData(data));
            }
        }
        Connect {
            clean_start: self.asked_clean_start,
            keep_alive: o.keep_alive,
            properties,
            client_id: o.client_id.clone(),
            will: o.will.clone(),
            username: o.username.clone(),
            password: o.password.clone(),
        }
    }

    /// Changes what the next CONNECT carries (the Will, the credentials, Clean Start); a
    /// connection already made keeps what its CONNECT had. An invalid Will is refused.
    pub fn change_connect(&mut self, change: ConnectChange) -> Result<(), RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        let v311 = self.opts.protocol_version.may_use_v311();
        match change {
            ConnectChange::Will(will) => {
                if let Some(w) = &will {
                    check_will(w)?;
                    if v311 {
                        check_will_v311(w)?;
                    }
                }
                self.opts.will = will;
            }
            ConnectChange::Credentials { username, password } => {
                if v311 {
                    check_credentials_v311(username.is_some(), password.is_some())?;
                }
                self.opts.username = username;
                self.opts.password = password;
            }
            ConnectChange::CleanStart(clean) => {
                if v311 && !clean && self.opts.client_id.is_empty() {
                    // [MQTT-3.1.3-7] (3.1.1) an empty Client Identifier needs Clean
                    // Session 1.
                    return Err(RequestError::NotInV311(
                        "an empty Client Identifier with Clean Session 0 [MQTT-3.1.3-7]",
                    ));
                }
                self.next_clean_start = Some(clean);
            }
        }
        Ok(())
    }

    /// The transport closed or failed. Session state is kept for the next connection.
    pub fn connection_closed(&mut self, cause: DisconnectCause) {
        if self.state == State::Connecting && self.first_byte_pending && self.may_fall_back() {
            // A server that does not speak 5.0 may close the connection on its CONNECT.
            self.fall_back();
        } else if matches!(self.state, State::Connecting | State::Connected) {
            self.end_connection(cause);
        }
        self.close_requested = false;
    }

    /// Whether a refusal of 5.0 now means trying 3.1.1: asked for, and no 5.0 connection
    /// succeeded yet (the version that worked is kept).
    fn may_fall_back(&self) -> bool {
        self.opts.protocol_version == super::VersionChoice::V5OrV311
            && self.version == ProtocolVersion::V5
            && !self.connected_once
    }

    /// Ends the 5.0 attempt without an event (the connect goes on in 3.1.1) and makes 3.1.1
    /// the version of every later CONNECT.
    fn fall_back(&mut self) {
        self.version = ProtocolVersion::V311;
        self.fallback_pending = true;
        self.end_attempt();
    }

    fn end_connection(&mut self, cause: DisconnectCause) {
        if self.state == State::Connecting
            && self.version == ProtocolVersion::V311
            && self.opts.protocol_version == super::VersionChoice::V5OrV311
            && !self.connected_once
        {
            // The 3.1.1 attempt after a fallback failed too: the server may not have been
            // refusing 5.0 at all (one that closes every connection). 3.1.1 is kept once a
            // 3.1.1 connection succeeds; until then the next attempt is 5.0 again.
            self.version = ProtocolVersion::V5;
        }
        self.end_attempt();
        self.events.push_back(Event::Disconnected(cause));
    }

    fn end_attempt(&mut self) {
        self.counters.connection_ended();
        if self.state == State::Connecting && self.next_clean_start.is_none() {
            // The attempt failed: the application's Clean Start is for the next one.
            self.next_clean_start = self.sent_clean_start.take();
        }
        self.state = State::Disconnected;
        self.connect_deadline = None;
        self.blocked_since = None;
        self.close_requested = true;
        // QoS 1 messages not yet acknowledged will be sent again by the server; their acks
        // must not go out on the next connection. QoS 2 state is session state and stays.
        self.pending_acks
            .retain(|a| matches!(a.kind, AckKind::PubRec));
        self.unacked_qos1 = 0;
    }

    /// Ends the connection because the server broke a rule: DISCONNECT with `reason_code`.
    fn protocol_error(&mut self, reason_code: DisconnectReasonCode, detail: String, now: Instant) {
        if !matches!(self.state, State::Connecting | State::Connected) {
            return;
        }
        // 3.1.1 has no DISCONNECT from a client that found an error: it closes the
        // connection [MQTT-4.8.0-1].
        if self.version == ProtocolVersion::V5 {
            self.send(&Packet::Disconnect(Disconnect::new(reason_code)), now);
        }
        self.end_connection(DisconnectCause::ProtocolError {
            reason_code,
            detail,
        });
    }

    fn codec_error(&mut self, e: &CodecError, now: Instant) {
        let mut detail = format!("{e} [{}]", e.spec_ref());
        if let CodecError::PacketTooLarge { .. } = e {
            // The server ignored the Maximum Packet Size our CONNECT gave [MQTT-3.1.2-24].
            detail.push_str(
                "; the CONNECT announced this maximum [MQTT-3.1.2-24]: to accept larger \
                 packets raise the memory budget (a quarter of it) or Maximum Packet Size",
            );
        }
        self.protocol_error(e.reason_code(), detail, now);
    }

    /// Sends DISCONNECT with `reason_code` and ends the connection. Session state is kept:
    /// connecting again resumes it (if the Session Expiry Interval allows).
    pub fn disconnect(
        &mut self,
        reason_code: DisconnectReasonCode,
        properties: Properties,
        now: Instant,
    ) -> Result<(), RequestError> {
        properties
            .validate(PropertyContext::Disconnect)
            .map_err(RequestError::InvalidProperties)?;
        if self.version == ProtocolVersion::V311 {
            check_disconnect_v311(reason_code, &properties)?;
        }
        // 3.14.2.2.2: no non-zero Session Expiry Interval in DISCONNECT when the CONNECT had
        // 0, whatever the CONNACK said.
        if self.connect_session_expiry == 0 {
            if let Some(Property::SessionExpiryInterval(v)) =
                properties.get(PropertyId::SessionExpiryInterval)
            {
                if *v != 0 {
                    return Err(RequestError::InvalidProperties(
                        CodecError::InvalidPropertyValue {
                            property: PropertyId::SessionExpiryInterval,
                            value: *v,
                        },
                    ));
                }
            }
        }
        match self.state {
            State::Closed => return Err(RequestError::Closed),
            State::Disconnected => return Err(RequestError::NotConnected),
            State::Connecting | State::Connected => {}
        }
        if let Some(Property::SessionExpiryInterval(v)) =
            properties.get(PropertyId::SessionExpiryInterval)
        {
            self.opts.session_expiry_interval = *v;
        }
        self.send(
            &Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            }),
            now,
        );
        self.end_connection(DisconnectCause::Client { reason_code });
        Ok(())
    }

    /// Closes the session for good: every pending request completes with `Closed`.
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        if matches!(self.state, State::Connecting | State::Connected) {
            self.end_connection(DisconnectCause::Client {
                reason_code: DisconnectReasonCode::NormalDisconnection,
            });
        }
        self.state = State::Closed;
        let mut inflight: Vec<_> = self.inflight.drain().map(|(_, o)| o).collect();
        inflight.sort_by_key(|o| o.order);
        for o in inflight {
            self.complete_publish(o.id, Err(RequestError::Closed));
        }
        while let Some(q) = self.queue.pop_front() {
            self.complete_publish(q.id, Err(RequestError::Closed));
        }
        self.queued_bytes = 0;
        self.fail_control(&RequestError::Closed);
        self.ids.clear();
    }

    fn fail_control(&mut self, error: &RequestError) {
        let mut subs: Vec<_> = self.pending_subs.drain().map(|(_, s)| s).collect();
        subs.sort_by_key(|s| s.id);
        for s in subs {
            if let Some(id) = s.id {
                self.events.push_back(Event::SubscribeComplete {
                    id,
                    result: Err(error.clone()),
                });
            }
        }
        let mut unsubs: Vec<_> = self.pending_unsubs.drain().map(|(_, u)| u).collect();
        unsubs.sort_by_key(|u| u.id);
        for u in unsubs {
            self.events.push_back(Event::UnsubscribeComplete {
                id: u.id,
                result: Err(error.clone()),
            });
        }
        self.control_queue.clear();
    }

    /// Keep alive and connect timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Connecting if self.connect_deadline.is_some_and(|d| now >= d) => {
                self.end_connection(DisconnectCause::ConnectTimeout);
            }
            // While we do not read, the keep alive cannot judge the server: the stall does.
            State::Connected if self.blocked_since.is_some() => {
                let due = self
                    .blocked_since
                    .is_some_and(|b| now >= b + self.stall_limit());
                if due {
                    self.write_stalled(now);
                }
            }
            State::Connected if !self.keep_alive.is_zero() => {
                if now >= self.last_received + self.keep_alive * 3 / 2 {
                    self.end_connection(DisconnectCause::KeepAliveTimeout);
                } else if !self.ping_outstanding
                    && now >= self.last_sent.min(self.last_received) + self.keep_alive
                {
                    // [MQTT-3.1.2-20] a control packet within every keep alive period.
                    self.ping_outstanding = true;
                    self.send(&Packet::PingReq, now);
                }
            }
            _ => {}
        }
    }

    // ---------------------------------------------------------------- input

    /// The decoder's buffer, to read into directly; call [`Session::process_read`] after.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.decoder.buffer_mut()
    }

    /// Handles received bytes.
    pub fn handle_read(&mut self, data: &[u8], now: Instant) {
        self.decoder.feed(data);
        self.process_read(now);
    }

    /// Decodes and handles every complete packet in the read buffer.
    pub fn process_read(&mut self, now: Instant) {
        if self.first_byte_pending && self.state == State::Connecting {
            let Some(&first) = self.decoder.buffer_mut().first() else {
                return;
            };
            self.first_byte_pending = false;
            if !self.may_answer_connect(first) {
                let buf = self.decoder.buffer_mut();
                let received = Bytes::copy_from_slice(&buf[..buf.len().min(32)]);
                buf.clear();
                // An MQTT server that sent another packet first broke [MQTT-3.2.0-1]: tell
                // it so. Bytes that begin no MQTT packet get no answer.
                if is_mqtt_header(first) && self.version == ProtocolVersion::V5 {
                    let code = DisconnectReasonCode::ProtocolError;
                    self.send(&Packet::Disconnect(Disconnect::new(code)), now);
                }
                self.end_connection(DisconnectCause::NotMqtt { received });
                return;
            }
        }
        if self.state == State::Connecting && self.version == ProtocolVersion::V5 {
            let buf = self.decoder.buffer_mut();
            // A 5.0 CONNACK has a Property Length, so Remaining Length 2 is a 3.1.1 server
            // answering in its own form (3.1.1 [MQTT-3.1.2-2]: return code 0x01).
            if buf.len() >= 2 && buf[..2] == [0x20, 0x02] {
                if buf.len() < 4 {
                    return;
                }
                let frame = buf.split_to(4).freeze();
                self.last_received = now;
                match Packet::decode_v311(frame) {
                    Ok(Packet::ConnAck(c)) if c.reason_code.is_failure() => {
                        self.handle_packet(Packet::ConnAck(c), now);
                    }
                    Ok(_) => self.protocol_error(
                        DisconnectReasonCode::ProtocolError,
                        "a 3.1.1 CONNACK accepting a 5.0 CONNECT".into(),
                        now,
                    ),
                    Err(e) => self.codec_error(&e, now),
                }
                if self.state != State::Connected {
                    return;
                }
            }
        }
        while matches!(self.state, State::Connecting | State::Connected) {
            match self.decoder.next_packet() {
                Ok(Some(packet)) => {
                    self.last_received = now;
                    self.handle_packet(packet, now);
                }
                Ok(None) => return,
                Err(e) => {
                    self.codec_error(&e, now);
                    return;
                }
            }
        }
    }

    /// Whether `first` can begin the server's first packet: CONNACK [MQTT-3.2.0-1], AUTH
    /// during enhanced authentication (4.12), or a DISCONNECT (which some servers send
    /// instead of a refusing CONNACK). Anything else means the peer is not an MQTT server,
    /// which deserves a clearer word than the Malformed Packet its bytes would decode to.
    fn may_answer_connect(&self, first: u8) -> bool {
        // CONNACK, DISCONNECT and AUTH have fixed-header flags 0 (Table 2-2).
        match first {
            0x20 | 0xE0 => true,
            0xF0 => self.opts.authenticator.is_some(),
            _ => false,
        }
    }

    fn handle_packet(&mut self, packet: Packet, now: Instant) {
        self.counters.packet_received();
        if self.state == State::Connecting {
            match packet {
                Packet::ConnAck(c) => self.handle_connack(c, now),
                Packet::Auth(a) => self.handle_auth(&a, now),
                Packet::Disconnect(d) => self.handle_disconnect(d),
                other => self.protocol_error(
                    DisconnectReasonCode::ProtocolError,
                    format!("{:?} before CONNACK", other.packet_type()),
                    now,
                ),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.handle_publish(p, now),
            Packet::PubAck(p) => {
                self.counters.publish_answered(p.packet_id, now);
                self.handle_puback(&p, now);
            }
            Packet::PubRec(p) => {
                self.counters.publish_answered(p.packet_id, now);
                self.handle_pubrec(&p, now);
            }
            Packet::PubRel(p) => self.handle_pubrel(&p, now),
            Packet::PubComp(p) => self.handle_pubcomp(&p, now),
            Packet::SubAck(p) => self.handle_suback(p, now),
            Packet::UnsubAck(p) => self.handle_unsuback(p, now),
            Packet::PingResp => {
                self.ping_outstanding = false;
                self.counters.ping_answered(now);
            }
            Packet::Disconnect(d) => self.handle_disconnect(d),
            Packet::Auth(a) => self.handle_auth(&a, now),
            other => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("unexpected {:?} from the server", other.packet_type()),
                now,
            ),
        }
    }

    fn handle_connack(&mut self, c: ConnAck, now: Instant) {
        if c.reason_code == crate::codec::ConnectReasonCode::UnsupportedProtocolVersion
            && self.may_fall_back()
        {
            self.fall_back();
            return;
        }
        if c.reason_code.is_failure() {
            let refusal = ConnectRefusal {
                reason_code: c.reason_code,
                reason_string: c.properties.get_str(PropertyId::ReasonString).cloned(),
                server_reference: c.properties.get_str(PropertyId::ServerReference).cloned(),
                properties: c.properties,
            };
            self.end_connection(DisconnectCause::Refused(refusal));
            return;
        }
        // [MQTT-3.2.2-4] Session Present 1 when we asked for a clean start.
        if c.session_present && self.asked_clean_start {
            self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                "CONNACK Session Present 1 after Clean Start 1 [MQTT-3.2.2-4]".into(),
                now,
            );
            return;
        }
        if let Some(auth) = self.opts.authenticator.as_mut() {
            let data = c.properties.get_binary(PropertyId::AuthenticationData);
            if let Err(e) = auth.success(data.map(|d| &d[..])) {
                self.auth_failed(e, now);
                return;
            }
        }
        let mut info = ConnAckInfo::new(c, self.opts.keep_alive);
        info.protocol_version = self.version;
        if self.version == ProtocolVersion::V311 {
            info.subscription_identifiers_available = false;
        }
        if let Some(id) = &info.assigned_client_id {
            // Reconnections must present the identifier the server assigned.
            self.opts.client_id = id.clone();
        }
        if let Some(v) = info.session_expiry_interval {
            self.opts.session_expiry_interval = v;
        }
        self.limits = Limits {
            receive_maximum: info.receive_maximum,
            maximum_qos: info.maximum_qos,
            retain_available: info.retain_available,
            maximum_packet_size: info.maximum_packet_size,
            topic_alias_maximum: info.topic_alias_maximum,
            wildcard: info.wildcard_subscription_available,
            subscription_ids: info.subscription_identifiers_available,
            shared: info.shared_subscription_available,
        };
        // [MQTT-3.2.2-21] the server's keep alive replaces ours.
        self.keep_alive = Duration::from_secs(u64::from(info.keep_alive));
        self.in_aliases.reset(self.opts.topic_alias_maximum);
        self.out_aliases
            .reset(info.topic_alias_maximum, self.opts.auto_topic_alias);
        self.state = State::Connected;
        self.counters.connected(now);
        self.connect_deadline = None;
        let session_present = info.session_present;
        self.events.push_back(Event::Connected(Box::new(info)));
        self.connected_once = true;
        self.sent_clean_start = None;
        if session_present {
            self.resume_session(now);
        } else {
            self.discard_session(now);
        }
        self.flush_acks(now);
        self.pump(now);
    }

    /// [MQTT-4.4.0-1] resend unacknowledged PUBLISH (DUP=1) and PUBREL, in their order
    /// [MQTT-4.6.0-1] [MQTT-4.6.0-4], within the new Receive Maximum [MQTT-3.3.4-7]: the
    /// rest follow as acknowledgements free the quota. Then SUBSCRIBE/UNSUBSCRIBE that were
    /// not answered.
    fn resume_session(&mut self, now: Instant) {
        let mut order: Vec<(u64, u16)> = self
            .inflight
            .values()
            .map(|o| (o.order, o.publish.packet_id))
            .collect();
        order.sort_unstable();
        let quota = usize::from(self.limits.receive_maximum);
        self.deferred = 0;
        for (i, (_, pid)) in order.into_iter().enumerate() {
            let Some(o) = self.inflight.get_mut(&pid) else {
                continue;
            };
            o.deferred = i >= quota;
            if o.deferred {
                self.deferred += 1;
            } else {
                let packet = o.resend();
                self.send(&packet, now);
            }
        }
        self.resend_control(now);
    }

    /// [MQTT-3.2.2-5] the server has no session: drop ours. QoS 1 publishes go out again as
    /// new messages (at least once still holds); QoS 2 ones that may have reached the server
    /// fail with `SessionLost` rather than risk a duplicate; those the server already
    /// acknowledged with PUBREC complete with that PUBREC.
    fn discard_session(&mut self, now: Instant) {
        self.inbound_qos2.clear();
        self.pending_acks.clear();
        let had_state = !self.inflight.is_empty() || !self.subscriptions.is_empty();
        let mut inflight: Vec<_> = self.inflight.drain().map(|(_, o)| o).collect();
        inflight.sort_by_key(|o| o.order);
        self.deferred = 0;
        let mut requeue = Vec::new();
        for o in inflight {
            self.ids.release(o.publish.packet_id);
            match o.state {
                OutState::Qos1Sent => requeue.push(o),
                OutState::Qos2Sent => {
                    self.complete_publish(o.id, Err(RequestError::SessionLost));
                }
                OutState::Released(code) => self.complete_publish(
                    o.id,
                    Ok(PublishAck {
                        packet_id: o.publish.packet_id,
                        reason: AckReason::PubRec(code),
                        properties: o.pubrec_properties,
                    }),
                ),
            }
        }
        // Back to the head of the queue, oldest first, so order is kept.
        for o in requeue.into_iter().rev() {
            let request = PublishRequest {
                topic: o.publish.topic,
                payload: o.publish.payload,
                qos: o.publish.qos,
                retain: o.publish.retain,
                topic_alias: None,
                properties: o.publish.properties,
            };
            let bytes = request_bytes(&request);
            self.queued_bytes += bytes;
            self.queue.push_front(Queued {
                id: o.id,
                request,
                since: now,
                bytes,
            });
        }
        // SUBSCRIBE/UNSUBSCRIBE in flight are simply sent again on this connection.
        self.resend_control(now);
        if had_state {
            let mut resubscribed = 0;
            if self.opts.resubscribe && !self.subscriptions.is_empty() {
                resubscribed = self.resubscribe(now);
            }
            self.events.push_back(Event::SessionLost { resubscribed });
        }
    }

    fn resubscribe(&mut self, now: Instant) -> usize {
        // One SUBSCRIBE per Subscription Identifier, since it is a per-packet property.
        let mut groups: BTreeMap<Option<u32>, Vec<Subscription>> = BTreeMap::new();
        for (filter, (options, sub_id)) in &self.subscriptions {
            groups.entry(*sub_id).or_default().push(Subscription {
                filter: filter.clone(),
                options: *options,
            });
        }
        let mut count = 0;
        for (sub_id, subscriptions) in groups {
            let Some(packet_id) = self.ids.allocate() else {
                break;
            };
            count += subscriptions.len();
            let mut properties = Properties::new();
            if let Some(v) = sub_id {
                properties.push(Property::SubscriptionIdentifier(v));
            }
            let packet = Subscribe {
                packet_id,
                properties,
                subscriptions,
            };
            self.send(&Packet::Subscribe(packet.clone()), now);
            self.pending_subs
                .insert(packet_id, PendingSub { id: None, packet });
        }
        count
    }

    fn resend_control(&mut self, now: Instant) {
        let mut ids: Vec<u16> = self
            .pending_subs
            .keys()
            .chain(self.pending_unsubs.keys())
            .copied()
            .collect();
        // Those queued while disconnected go in request order; the rest by packet id.
        ids.retain(|id| !self.control_queue.contains(id));
        ids.sort_unstable();
        ids.extend(self.control_queue.drain(..));
        for id in ids {
            let packet = if let Some(s) = self.pending_subs.get(&id) {
                Packet::Subscribe(s.packet.clone())
            } else if let Some(u) = self.pending_unsubs.get(&id) {
                Packet::Unsubscribe(u.packet.clone())
            } else {
                continue;
            };
            if self.version == ProtocolVersion::V311 && self.fail_if_not_in_v311(&packet) {
                continue;
            }
            self.send(&packet, now);
        }
    }

    /// A SUBSCRIBE or UNSUBSCRIBE asked for before the session fell back to 3.1.1 that 3.1.1
    /// cannot carry completes with `NotInV311` instead of going out without what it asked.
    fn fail_if_not_in_v311(&mut self, packet: &Packet) -> bool {
        let (packet_id, error) = match packet {
            Packet::Subscribe(s) => (
                s.packet_id,
                check_subscribe_v311(&s.subscriptions, &s.properties).err(),
            ),
            Packet::Unsubscribe(u) => (u.packet_id, check_unsubscribe_v311(&u.properties).err()),
            _ => return false,
        };
        let Some(error) = error else {
            return false;
        };
        self.ids.release(packet_id);
        if let Some(s) = self.pending_subs.remove(&packet_id) {
            if let Some(id) = s.id {
                self.events.push_back(Event::SubscribeComplete {
                    id,
                    result: Err(error),
                });
            }
        } else if let Some(u) = self.pending_unsubs.remove(&packet_id) {
            self.events.push_back(Event::UnsubscribeComplete {
                id: u.id,
                result: Err(error),
            });
        }
        true
    }

    fn handle_disconnect(&mut self, d: Disconnect) {
        let cause = DisconnectCause::Server {
            reason_code: d.reason_code,
            reason_string: d.properties.get_str(PropertyId::ReasonString).cloned(),
            server_reference: d.properties.get_str(PropertyId::ServerReference).cloned(),
            properties: d.properties,
        };
        self.end_connection(cause);
    }

    fn handle_auth(&mut self, a: &Auth, now: Instant) {
        let Some(auth) = self.opts.authenticator.as_mut() else {
            self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                "AUTH without an authentication method".into(),
                now,
            );
            return;
        };
        let method_ok = matches!(
            a.properties.get(PropertyId::AuthenticationMethod),
            Some(Property::AuthenticationMethod(m)) if **m == *auth.method()
        );
        if !method_ok {
            // [MQTT-4.12.0-5]-style: AUTH must carry the same Authentication Method.
            self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                "AUTH with a different authentication method".into(),
                now,
            );
            return;
        }
        let data = a
            .properties
            .get_binary(PropertyId::AuthenticationData)
            .map(|d| &d[..]);
        let method = ByteString::from(auth.method());
        match a.reason_code {
            AuthReasonCode::ContinueAuthentication => match auth.challenge(data) {
                Ok(answer) => {
                    let mut properties =
                        Properties::new().with(Property::AuthenticationMethod(method));
                    if let Some(d) = answer {
                        properties.push(Property::AuthenticationData(d));
                    }
                    self.send(
                        &Packet::Auth(Auth {
                            reason_code: AuthReasonCode::ContinueAuthentication,
                            properties,
                        }),
                        now,
                    );
                }
                Err(e) => self.auth_failed(e, now),
            },
            AuthReasonCode::Success if self.state == State::Connected && self.reauthenticating => {
                match auth.success(data) {
                    Ok(()) => {
                        self.reauthenticating = false;
                        self.events.push_back(Event::Reauthenticated);
                    }
                    Err(e) => self.auth_failed(e, now),
                }
            }
            // Success outside a re-authentication, or Re-authenticate from the server.
            other => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("unexpected AUTH {other}"),
                now,
            ),
        }
    }

    fn auth_failed(&mut self, e: String, now: Instant) {
        // 0x87 Not authorized is the server's to send (3.14.2.1); the client says 0x80.
        self.protocol_error(DisconnectReasonCode::UnspecifiedError, e.clone(), now);
        if let Some(Event::Disconnected(cause)) = self.events.back_mut() {
            *cause = DisconnectCause::Authentication(e);
        }
    }

    /// Starts re-authentication (4.12.1) with the authenticator's initial data.
    pub fn reauthenticate(&mut self, now: Instant) -> Result<(), RequestError> {
        if self.state != State::Connected {
            return Err(RequestError::NotConnected);
        }
        if self.version == ProtocolVersion::V311 {
            return Err(RequestError::NotInV311("enhanced authentication (AUTH)"));
        }
        let Some(auth) = self.opts.authenticator.as_mut() else {
            return Err(RequestError::NotSupported(
                "re-authentication without an authenticator",
            ));
        };
        let mut properties = Properties::new().with(Property::AuthenticationMethod(
            ByteString::from(auth.method()),
        ));
        if let Some(d) = auth.initial_data() {
            properties.push(Property::AuthenticationData(d));
        }
        self.reauthenticating = true;
        self.send(
            &Packet::Auth(Auth {
                reason_code: AuthReasonCode::ReAuthenticate,
                properties,
            }),
            now,
        );
        Ok(())
    }

    // ---------------------------------------------------------------- inbound publish

    fn handle_publish(&mut self, mut p: Publish, now: Instant) {
        if let Some(Property::TopicAlias(alias)) = p.properties.get(PropertyId::TopicAlias) {
            match self.in_aliases.resolve(*alias, &p.topic) {
                Ok(topic) => p.topic = topic,
                Err(AliasError::OutOfRange) => {
                    return self.protocol_error(
                        DisconnectReasonCode::TopicAliasInvalid,
                        format!("Topic Alias {alias} is above our maximum"),
                        now,
                    );
                }
                Err(AliasError::Unknown) => {
                    return self.protocol_error(
                        DisconnectReasonCode::ProtocolError,
                        format!("unknown Topic Alias {alias}"),
                        now,
                    );
                }
            }
            p.properties.remove(PropertyId::TopicAlias);
        }
        let ack = match p.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => {
                if !self.inbound_quota_left() {
                    return self.receive_maximum_exceeded(now);
                }
                self.unacked_qos1 += 1;
                Some(self.push_pending_ack(p.packet_id, AckKind::PubAck))
            }
            QoS::ExactlyOnce => {
                if let Some(state) = self.inbound_qos2.get(&p.packet_id) {
                    // Already delivered: never twice (4.3.3). Answer again if we had.
                    if *state == InQos2::PubRecSent {
                        self.send(&Packet::PubRec(PubRec::new(p.packet_id)), now);
                    }
                    return;
                }
                if !self.inbound_quota_left() {
                    return self.receive_maximum_exceeded(now);
                }
                self.inbound_qos2.insert(p.packet_id, InQos2::AwaitAppAck);
                Some(self.push_pending_ack(p.packet_id, AckKind::PubRec))
            }
        };
        self.counters.message_received();
        self.events.push_back(Event::Message(Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            packet_id: p.packet_id,
            properties: p.properties,
            ack,
        }));
    }

    /// Room for one more unacknowledged QoS 1/2 PUBLISH from the server. [MQTT-3.3.4-9]
    /// binds the server to our Receive Maximum, but Mosquitto 2.0.11 (Debian 12's) overshoots
    /// it after the client stalls (seen: 1,317 unacknowledged against 1,000, with no PUBACK
    /// sent meanwhile). Ending the connection for that would lose the messages in flight
    /// with the most common broker, so a second Receive Maximum is tolerated before 0x93:
    /// what a server can make us hold stays bounded.
    fn inbound_quota_left(&self) -> bool {
        if self.version == ProtocolVersion::V311 {
            // 3.1.1 has no Receive Maximum to hold the server to; packet identifiers bound
            // what it can leave unacknowledged.
            return true;
        }
        let limit = 2 * usize::from(self.opts.receive_maximum.max(1));
        self.unacked_qos1 + self.inbound_qos2.len() < limit
    }

    fn receive_maximum_exceeded(&mut self, now: Instant) {
        // [MQTT-3.3.4-9] the server must not exceed our Receive Maximum.
        self.protocol_error(
            DisconnectReasonCode::ReceiveMaximumExceeded,
            format!(
                "more than {} unacknowledged QoS 1/2 PUBLISHes",
                self.opts.receive_maximum
            ),
            now,
        );
    }

    fn push_pending_ack(&mut self, packet_id: u16, kind: AckKind) -> AckToken {
        let token = self.next_token;
        self.next_token += 1;
        self.pending_acks.push_back(PendingAck {
            token,
            packet_id,
            kind,
            done: false,
        });
        AckToken(token)
    }

    /// The application has the message: send its PUBACK or PUBREC. Acknowledgements go out
    /// in the order the PUBLISHes arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3], whatever order they
    /// are acknowledged in. Unknown or stale tokens are ignored.
    pub fn acknowledge(&mut self, token: AckToken, now: Instant) {
        if let Some(a) = self.pending_acks.iter_mut().find(|a| a.token == token.0) {
            a.done = true;
        }
        self.flush_acks(now);
    }

    fn flush_acks(&mut self, now: Instant) {
        if self.state != State::Connected {
            return;
        }
        while self.pending_acks.front().is_some_and(|a| a.done) {
            let Some(a) = self.pending_acks.pop_front() else {
                break;
            };
            match a.kind {
                AckKind::PubAck => {
                    self.unacked_qos1 = self.unacked_qos1.saturating_sub(1);
                    self.send(&Packet::PubAck(PubAck::new(a.packet_id)), now);
                }
                AckKind::PubRec => {
                    self.inbound_qos2.insert(a.packet_id, InQos2::PubRecSent);
                    self.send(&Packet::PubRec(PubRec::new(a.packet_id)), now);
                }
            }
        }
    }

    fn handle_pubrel(&mut self, p: &PubRel, now: Instant) {
        let reason_code = match self.inbound_qos2.get(&p.packet_id) {
            Some(InQos2::PubRecSent) => {
                self.inbound_qos2.remove(&p.packet_id);
                PubCompReasonCode::Success
            }
            Some(InQos2::AwaitAppAck) => {
                return self.protocol_error(
                    DisconnectReasonCode::ProtocolError,
                    format!("PUBREL {} before our PUBREC", p.packet_id),
                    now,
                );
            }
            // 3.1.1 has no reason code: PUBCOMP all the same [MQTT-4.3.3-2].
            None if self.version == ProtocolVersion::V311 => PubCompReasonCode::Success,
            None => PubCompReasonCode::PacketIdentifierNotFound,
        };
        self.send(
            &Packet::PubComp(PubComp {
                packet_id: p.packet_id,
                reason_code,
                properties: Properties::new(),
            }),
            now,
        );
    }

    // ---------------------------------------------------------------- outbound publish

    /// Publishes a message. QoS 0 completes when written; QoS 1 and 2 with the server's
    /// acknowledgement. While disconnected, or when the server's Receive Maximum is used up,
    /// the message waits in the bounded offline queue. A request that breaks the server's
    /// known limits is refused and nothing is sent.
    pub fn publish(
        &mut self,
        request: PublishRequest,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        request.check()?;
        self.publish_checked(request, now)
    }

    /// [`Session::publish`] for a request that passed [`PublishRequest::check`] already (the
    /// runtime checks on the caller's thread, so that errors come back at once).
    pub(crate) fn publish_checked(
        &mut self,
        request: PublishRequest,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        let mut request = request;
        if let Some(alias) = request.topic_alias {
            if request.topic.is_empty() {
                request.topic = self
                    .out_aliases
                    .chosen(alias)
                    .ok_or(RequestError::UnknownTopicAlias(alias))?
                    .clone();
            }
        }
        self.check_limits(&request)?;
        let bytes = request_bytes(&request);
        let limits = self.opts.offline_queue;
        if self.queue.len() >= limits.max_messages || self.queued_bytes + bytes > limits.max_bytes {
            // Sending now without queueing is still possible when nothing waits ahead.
            if !(self.queue.is_empty() && self.can_send_now(request.qos)) {
                self.counters.refused_queue_full();
                return Err(RequestError::QueueFull);
            }
        }
        if let Some(alias) = request.topic_alias {
            self.out_aliases.choose(alias, &request.topic);
        }
        let id = self.next_request;
        self.next_request += 1;
        self.queued_bytes += bytes;
        self.queue.push_back(Queued {
            id,
            request,
            since: now,
            bytes,
        });
        self.pump(now);
        Ok(id)
    }

    fn can_send_now(&self, qos: QoS) -> bool {
        self.state == State::Connected
            && self.deferred == 0
            && self.out.len() < TRANSMIT_HIGH_WATER
            && (qos == QoS::AtMostOnce || self.quota_left())
    }

    /// Whether another QoS 1/2 PUBLISH fits the server's Receive Maximum (4.9).
    fn quota_left(&self) -> bool {
        self.inflight.len() - self.deferred < usize::from(self.limits.receive_maximum)
    }

    /// The server's limits, as known from the last CONNACK (3.2.2.3).
    fn check_limits(&self, r: &PublishRequest) -> Result<(), RequestError> {
        // Also for a publish queued before a fallback to 3.1.1: refused, not sent without.
        if self.version == ProtocolVersion::V311 {
            check_publish_v311(r)?;
        }
        if r.qos > self.limits.maximum_qos {
            return Err(RequestError::QosNotSupported {
                requested: r.qos,
                maximum: self.limits.maximum_qos,
            });
        }
        if r.retain && !self.limits.retain_available {
            return Err(RequestError::RetainNotSupported);
        }
        if let Some(alias) = r.topic_alias {
            if alias > self.limits.topic_alias_maximum {
                return Err(RequestError::TopicAliasInvalid {
                    alias,
                    maximum: self.limits.topic_alias_maximum,
                });
            }
        }
        if let Some(max) = self.limits.maximum_packet_size {
            // With a chosen alias, the largest form: the topic and the alias.
            let size = if let Some(alias) = r.topic_alias {
                let properties = r.properties.clone().with(Property::TopicAlias(alias));
                Publish::encoded_len_of(r.qos, &r.topic, &properties, r.payload.len())
            } else {
                Publish::encoded_len_of(r.qos, &r.topic, &r.properties, r.payload.len())
            };
            if size > max as usize {
                return Err(RequestError::PacketTooLarge { size, max });
            }
        }
        Ok(())
    }

    /// Sends queued publishes while connected and within the server's Receive Maximum,
    /// in order.
    fn pump(&mut self, now: Instant) {
        // Resends left over from resumption go first, in order.
        while self.state == State::Connected
            && self.deferred > 0
            && self.quota_left()
            && self.out.len() < TRANSMIT_HIGH_WATER
        {
            let Some(pid) = self
                .inflight
                .values()
                .filter(|o| o.deferred)
                .min_by_key(|o| o.order)
                .map(|o| o.publish.packet_id)
            else {
                break;
            };
            if let Some(o) = self.inflight.get_mut(&pid) {
                o.deferred = false;
                self.deferred -= 1;
                let packet = o.resend();
                self.send(&packet, now);
            }
        }
        while self.state == State::Connected {
            let Some(front) = self.queue.front() else {
                return;
            };
            if !self.can_send_now(front.request.qos) {
                return;
            }
            let Some(q) = self.queue.pop_front() else {
                return;
            };
            self.queued_bytes -= q.bytes;
            self.send_publish(q, now);
        }
    }

    fn send_publish(&mut self, q: Queued, now: Instant) {
        let mut request = q.request;
        // Message Expiry Interval: drop when expired, else send what is left (3.3.2.3.3).
        if let Some(Property::MessageExpiryInterval(interval)) =
            request.properties.get(PropertyId::MessageExpiryInterval)
        {
            let waited = now.saturating_duration_since(q.since).as_secs();
            let interval = u64::from(*interval);
            if waited >= interval && now > q.since {
                return self.complete_publish(q.id, Err(RequestError::Expired));
            }
            if waited > 0 {
                let left = (interval - waited) as u32;
                for p in &mut request.properties {
                    if let Property::MessageExpiryInterval(v) = p {
                        *v = left;
                    }
                }
            }
        }
        // Limits may have changed since the message was queued.
        if let Err(e) = self.check_limits(&request) {
            return self.complete_publish(q.id, Err(e));
        }
        let packet_id = if request.qos == QoS::AtMostOnce {
            0
        } else if let Some(id) = self.ids.allocate() {
            id
        } else {
            return self.complete_publish(q.id, Err(RequestError::NoPacketIdentifier));
        };
        let publish = Publish {
            dup: false,
            qos: request.qos,
            retain: request.retain,
            topic: request.topic,
            packet_id,
            properties: request.properties,
            payload: request.payload,
        };
        self.send_with_alias(&publish, request.topic_alias, now);
        if publish.qos == QoS::AtMostOnce {
            return self.complete_publish(
                q.id,
                Ok(PublishAck {
                    packet_id: 0,
                    reason: AckReason::Written,
                    properties: Properties::new(),
                }),
            );
        }
        let state = if publish.qos == QoS::AtLeastOnce {
            OutState::Qos1Sent
        } else {
            OutState::Qos2Sent
        };
        self.send_seq += 1;
        self.inflight.insert(
            packet_id,
            Outgoing {
                id: q.id,
                order: self.send_seq,
                publish,
                state,
                pubrec_properties: Properties::new(),
                deferred: false,
            },
        );
    }

    /// Sends a PUBLISH with a Topic Alias. With the application's `chosen` alias (within the
    /// server's maximum: checked by `check_limits`), the topic is sent only when the server
    /// does not map the alias to it on this connection yet. Otherwise an automatic alias
    /// when the server allows them, never pushing the PUBLISH over the server's Maximum
    /// Packet Size [MQTT-3.2.2-15]. The stored copy keeps the full topic, so a resend on a
    /// new connection needs no alias.
    fn send_with_alias(&mut self, publish: &Publish, chosen: Option<u16>, now: Instant) {
        let mut p = publish.clone();
        if let Some(alias) = chosen {
            if self.out_aliases.wire(alias) == Some(&p.topic) {
                p.topic = ByteString::new();
            } else {
                self.out_aliases.assign(&p.topic, alias);
            }
            p.properties.push(Property::TopicAlias(alias));
        } else if let Some(alias) = self.out_aliases.known(&p.topic) {
            p.properties.push(Property::TopicAlias(alias));
            p.topic = ByteString::new();
        } else if let Some(alias) = self.out_aliases.next_free() {
            p.properties.push(Property::TopicAlias(alias));
            let fits = self
                .limits
                .maximum_packet_size
                .is_none_or(|max| Packet::Publish(p.clone()).encoded_len() <= max as usize);
            if fits {
                self.out_aliases.assign(&p.topic, alias);
            } else {
                p.properties.remove(PropertyId::TopicAlias);
            }
        }
        self.send(&Packet::Publish(p), now);
    }

    fn complete_publish(&mut self, id: RequestId, result: Result<PublishAck, RequestError>) {
        self.events.push_back(Event::PublishComplete { id, result });
    }

    fn finish_outgoing(
        &mut self,
        packet_id: u16,
        reason: AckReason,
        properties: Properties,
        now: Instant,
    ) {
        let Some(o) = self.inflight.remove(&packet_id) else {
            return;
        };
        if o.deferred {
            self.deferred -= 1;
        }
        self.ids.release(packet_id);
        let result = if reason.is_success() {
            Ok(PublishAck {
                packet_id,
                reason,
                properties,
            })
        } else {
            Err(RequestError::Refused(reason))
        };
        self.complete_publish(o.id, result);
        self.pump(now);
    }

    fn handle_puback(&mut self, p: &PubAck, now: Instant) {
        match self.inflight.get(&p.packet_id).map(|o| o.state) {
            Some(OutState::Qos1Sent) => self.finish_outgoing(
                p.packet_id,
                AckReason::PubAck(p.reason_code),
                p.properties.clone(),
                now,
            ),
            Some(_) => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("PUBACK for QoS 2 message {}", p.packet_id),
                now,
            ),
            // Not ours (any more): nothing to do.
            None => {}
        }
    }

    fn handle_pubrec(&mut self, p: &PubRec, now: Instant) {
        let state = self.inflight.get(&p.packet_id).map(|o| o.state);
        match state {
            Some(OutState::Qos2Sent) if p.reason_code.is_failure() => {
                // 4.3.3: a failure PUBREC ends the exchange; no PUBREL.
                self.finish_outgoing(
                    p.packet_id,
                    AckReason::PubRec(p.reason_code),
                    p.properties.clone(),
                    now,
                );
            }
            Some(OutState::Qos2Sent | OutState::Released(_)) => {
                self.send_seq += 1;
                if let Some(o) = self.inflight.get_mut(&p.packet_id) {
                    if o.state == OutState::Qos2Sent {
                        o.order = self.send_seq;
                    }
                    o.state = OutState::Released(p.reason_code);
                    o.pubrec_properties = p.properties.clone();
                }
                self.send(&Packet::PubRel(PubRel::new(p.packet_id)), now);
            }
            Some(OutState::Qos1Sent) => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("PUBREC for QoS 1 message {}", p.packet_id),
                now,
            ),
            // 3.1.1 has no reason code: PUBREL all the same [MQTT-4.3.3-1].
            None if self.version == ProtocolVersion::V311 => {
                self.send(&Packet::PubRel(PubRel::new(p.packet_id)), now);
            }
            None => self.send(
                &Packet::PubRel(PubRel {
                    packet_id: p.packet_id,
                    reason_code: PubRelReasonCode::PacketIdentifierNotFound,
                    properties: Properties::new(),
                }),
                now,
            ),
        }
    }

    /// QoS 2 completes with the PUBREC's reason code, which says what the server did with
    /// the message (0x10 No matching subscribers), and its properties followed by the
    /// PUBCOMP's; a failed PUBCOMP (0x92 Packet Identifier not found) is reported instead.
    fn handle_pubcomp(&mut self, p: &PubComp, now: Instant) {
        let Some(o) = self.inflight.get_mut(&p.packet_id) else {
            return;
        };
        let OutState::Released(rec) = o.state else {
            return;
        };
        let mut properties = std::mem::take(&mut o.pubrec_properties);
        let reason = if p.reason_code == PubCompReasonCode::Success {
            for q in &p.properties {
                properties.push(q.clone());
            }
            AckReason::PubRec(rec)
        } else {
            properties = p.properties.clone();
            AckReason::PubComp(p.reason_code)
        };
        self.finish_outgoing(p.packet_id, reason, properties, now);
    }

    // ---------------------------------------------------------------- subscriptions

    /// Subscribes. Refused before sending when a filter is invalid or the server said it
    /// does not support what is asked (wildcards, subscription identifiers, shared
    /// subscriptions). While disconnected the request waits for the next connection.
    pub fn subscribe(
        &mut self,
        subscriptions: Vec<Subscription>,
        properties: Properties,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        check_subscribe(&subscriptions, &properties)?;
        if self.version == ProtocolVersion::V311 {
            check_subscribe_v311(&subscriptions, &properties)?;
        }
        for s in &subscriptions {
            if !self.limits.shared && parse_shared(&s.filter).is_some() {
                return Err(RequestError::NotSupported("shared subscriptions"));
            }
            if !self.limits.wildcard && s.filter.contains(['+', '#']) {
                return Err(RequestError::NotSupported("wildcard subscriptions"));
            }
        }
        if !self.limits.subscription_ids
            && properties.get(PropertyId::SubscriptionIdentifier).is_some()
        {
            return Err(RequestError::NotSupported("subscription identifiers"));
        }
        let packet = Subscribe {
            packet_id: 1,
            properties,
            subscriptions,
        };
        self.check_size(&Packet::Subscribe(packet.clone()))?;
        let packet_id = self
            .ids
            .allocate()
            .ok_or(RequestError::NoPacketIdentifier)?;
        let packet = Subscribe {
            packet_id,
            ..packet
        };
        let id = self.next_request;
        self.next_request += 1;
        self.send_control(&Packet::Subscribe(packet.clone()), packet_id, now);
        self.pending_subs.insert(
            packet_id,
            PendingSub {
                id: Some(id),
                packet,
            },
        );
        Ok(id)
    }

    /// Unsubscribes; while disconnected the request waits for the next connection.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<ByteString>,
        properties: Properties,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        check_unsubscribe(&filters, &properties)?;
        if self.version == ProtocolVersion::V311 {
            check_unsubscribe_v311(&properties)?;
        }
        let packet = Unsubscribe {
            packet_id: 1,
            properties,
            filters,
        };
        self.check_size(&Packet::Unsubscribe(packet.clone()))?;
        let packet_id = self
            .ids
            .allocate()
            .ok_or(RequestError::NoPacketIdentifier)?;
        let packet = Unsubscribe {
            packet_id,
            ..packet
        };
        let id = self.next_request;
        self.next_request += 1;
        self.send_control(&Packet::Unsubscribe(packet.clone()), packet_id, now);
        self.pending_unsubs
            .insert(packet_id, PendingUnsub { id, packet });
        Ok(id)
    }

    /// Refuses a packet larger than the server's Maximum Packet Size [MQTT-3.2.2-15].
    fn check_size(&self, packet: &Packet) -> Result<(), RequestError> {
        match self.limits.maximum_packet_size {
            Some(max) if packet.encoded_len() > max as usize => Err(RequestError::PacketTooLarge {
                size: packet.encoded_len(),
                max,
            }),
            _ => Ok(()),
        }
    }

    fn send_control(&mut self, packet: &Packet, packet_id: u16, now: Instant) {
        if self.state == State::Connected {
            self.send(packet, now);
        } else {
            self.control_queue.push_back(packet_id);
        }
    }

    fn handle_suback(&mut self, s: SubAck, now: Instant) {
        let Some(pending) = self.pending_subs.get(&s.packet_id) else {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("SUBACK for unknown packet identifier {}", s.packet_id),
                now,
            );
        };
        // A SUBACK that does not answer every filter is a protocol error; the request stays
        // pending and goes out again on the next connection.
        if s.reason_codes.len() != pending.packet.subscriptions.len() {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!(
                    "SUBACK has {} reason codes for {} filters",
                    s.reason_codes.len(),
                    pending.packet.subscriptions.len()
                ),
                now,
            );
        }
        let Some(pending) = self.pending_subs.remove(&s.packet_id) else {
            return;
        };
        self.ids.release(s.packet_id);
        let sub_id = match pending
            .packet
            .properties
            .get(PropertyId::SubscriptionIdentifier)
        {
            Some(Property::SubscriptionIdentifier(v)) => Some(*v),
            _ => None,
        };
        for (sub, code) in pending.packet.subscriptions.iter().zip(&s.reason_codes) {
            if code.is_success() {
                self.subscriptions
                    .insert(sub.filter.clone(), (sub.options, sub_id));
            }
        }
        if let Some(id) = pending.id {
            self.events.push_back(Event::SubscribeComplete {
                id,
                result: Ok(SubscribeAck {
                    packet_id: s.packet_id,
                    reason_codes: s.reason_codes,
                    properties: s.properties,
                }),
            });
        }
    }

    fn handle_unsuback(&mut self, u: UnsubAck, now: Instant) {
        let Some(pending) = self.pending_unsubs.get(&u.packet_id) else {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("UNSUBACK for unknown packet identifier {}", u.packet_id),
                now,
            );
        };
        // A 3.1.1 UNSUBACK has no codes at all [MQTT-3.11.3]: the list stays empty.
        let v311 = self.version == ProtocolVersion::V311;
        if !v311 && u.reason_codes.len() != pending.packet.filters.len() {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!(
                    "UNSUBACK has {} reason codes for {} filters",
                    u.reason_codes.len(),
                    pending.packet.filters.len()
                ),
                now,
            );
        }
        let Some(pending) = self.pending_unsubs.remove(&u.packet_id) else {
            return;
        };
        self.ids.release(u.packet_id);
        for f in &pending.packet.filters {
            self.subscriptions.remove(f);
        }
        self.events.push_back(Event::UnsubscribeComplete {
            id: pending.id,
            result: Ok(UnsubscribeAck {
                packet_id: u.packet_id,
                reason_codes: u.reason_codes,
                properties: u.properties,
            }),
        });
    }

    // ---------------------------------------------------------------- sending

    fn send(&mut self, packet: &Packet, now: Instant) {
        // Everything sent was validated when it was requested; a failure here is a midge bug,
        // reported as such rather than sending a broken packet.
        if let Err(e) = packet.encode_as(self.version, &mut self.out) {
            debug_assert!(false, "encoding {packet:?}: {e}");
            return;
        }
        self.counters.packet_sent();
        match packet {
            Packet::Publish(p) => self.counters.publish_sent(p.packet_id, p.dup, now),
            Packet::PingReq => self.counters.ping_sent(now),
            _ => {}
        }
        self.last_sent = now;
    }
}

/// The largest packet we accept: the application's Maximum Packet Size, bounded by the
/// memory budget's share (at least 1: 3.1.2.11.4 forbids 0).
fn max_incoming_packet(o: &Options) -> u32 {
    let budget = o.memory_budget.max_incoming_packet();
    o.maximum_packet_size
        .map_or(budget, |m| m.min(budget))
        .max(1)
}

/// Whether `first` is a valid first byte of an MQTT packet (2.1.2, Table 2-2).
fn is_mqtt_header(first: u8) -> bool {
    match PacketType::from_u8(first >> 4) {
        Some(PacketType::Publish) => first & 0b0110 != 0b0110,
        Some(t) => first & 0x0F == t.required_flags(),
        None => false,
    }
}

/// What a queued publish counts against the queue's byte bound.
fn request_bytes(r: &PublishRequest) -> usize {
    r.topic.len() + r.payload.len() + r.properties.encoded_len()
}
