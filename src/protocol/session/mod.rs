//! The client session state machine.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::codec::topic::{parse_shared, validate_topic_filter, validate_topic_name};
use crate::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, CodecError, ConnAck, Connect, Decoder, Disconnect,
    DisconnectReasonCode, Packet, PacketType, Properties, Property, PropertyContext, PropertyId,
    ProtocolVersion, PubAck, PubComp, PubCompReasonCode, PubRec, PubRecReasonCode, PubRel,
    PubRelReasonCode, Publish, QoS, SubAck, Subscribe, Subscription, UnsubAck, Unsubscribe, Will,
};

use super::alias::{AliasError, InboundAliases, OutboundAliases};
use super::config::{ConnectChange, Options};
use super::error::{AckReason, RequestError};
use super::event::{
    AckToken, ConnAckInfo, ConnectRefusal, DisconnectCause, Event, Message, PublishAck, RequestId,
    SubscribeAck, UnsubscribeAck,
};
use super::filters::SubscriptionMap;
use super::idle::Release;
use super::idmap::IdMap;
use super::packet_id::PacketIds;
use super::stats::{Counters, SessionStats};
mod connection;
mod inbound;
mod input;
mod outbound;
mod persistence;
mod subscriptions;

pub use persistence::{Persisted, RestoredPublish};

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
    token: AckToken,
    packet_id: u16,
    kind: AckKind,
    /// The application has acknowledged the message.
    done: bool,
    /// A PUBREC owed since an earlier connection: it waits until the server has sent the
    /// PUBLISH again on this one [MQTT-4.4.0-1], so that it answers a PUBLISH of this
    /// connection rather than going out blindly.
    awaiting_resend: bool,
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
/// a fast publisher on a slow connection costs. One read's worth (64 KiB): the runtime's
/// write buffer stops taking more at the same mark, and a larger one bought no throughput
/// in the bench but more peak memory with 16 KiB messages.
pub(crate) const TRANSMIT_HIGH_WATER: usize = 64 * 1024;

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
    inflight: IdMap<u16, Outgoing>,
    /// How many of `inflight` wait to be resent.
    deferred: usize,
    send_seq: u64,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    out_aliases: OutboundAliases,
    // Inbound.
    in_aliases: InboundAliases,
    inbound_qos2: IdMap<u16, InQos2>,
    pending_acks: VecDeque<PendingAck>,
    unacked_qos1: usize,
    /// Decoding stopped at `input_held`; `resume_input` goes on.
    input_was_held: bool,
    // Subscriptions.
    /// Boxed: a SUBSCRIBE in flight then costs its map slots 10 bytes each, not 80.
    pending_subs: IdMap<u16, Box<PendingSub>>,
    pending_unsubs: IdMap<u16, PendingUnsub>,
    control_queue: VecDeque<u16>,
    subscriptions: SubscriptionMap,
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
    /// With a store: what to write ([`Session::take_store_ops`]); `None` without.
    store: Option<Box<persistence::StoreLog>>,
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
            inflight: IdMap::default(),
            deferred: 0,
            send_seq: 0,
            queue: VecDeque::new(),
            queued_bytes: 0,
            out_aliases: OutboundAliases::default(),
            in_aliases: InboundAliases::default(),
            inbound_qos2: IdMap::default(),
            pending_acks: VecDeque::new(),
            unacked_qos1: 0,
            input_was_held: false,
            pending_subs: IdMap::default(),
            pending_unsubs: IdMap::default(),
            control_queue: VecDeque::new(),
            subscriptions: SubscriptionMap::new(),
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
            store: None,
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

    /// Something sent waits for the server's answer: a QoS 1/2 publish's acknowledgement,
    /// a PUBREL for a QoS 2 message received, a SUBACK, an UNSUBACK or a PINGRESP. (The
    /// runtime then has the kernel acknowledge reads at once, so that a server holding
    /// small packets back for that acknowledgement, Nagle's algorithm, does not hold the
    /// answer.)
    pub fn awaits_server(&self) -> bool {
        !self.inflight.is_empty()
            || !self.inbound_qos2.is_empty()
            || !self.pending_subs.is_empty()
            || !self.pending_unsubs.is_empty()
            || self.ping_outstanding
    }

    /// The server's Receive Maximum when publishes wait for it: the next ones go only as
    /// acknowledgements come in (the flow is held by that window, not by time). `None`
    /// while there is room, or nothing waits.
    pub fn full_window(&self) -> Option<u16> {
        let window = self.limits.receive_maximum;
        (!self.queue.is_empty() && self.inflight.len() >= usize::from(window)).then_some(window)
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

    /// How many events wait for [`Session::poll_event`] (the runtime bounds what it reads
    /// by what the application has not taken yet).
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() {
            self.events.release_if_empty();
        }
        event
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
            State::Connected if self.input_held() && !self.keep_alive.is_zero() => {
                Some(self.last_sent + self.keep_alive)
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
/// The largest packet a session with these options accepts (the Maximum Packet Size its
/// CONNECT sends): the option, within the memory budget's share.
pub(crate) fn max_incoming_packet(o: &Options) -> u32 {
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
