//! Property-based tests for `midge::codec`.
//!
//! The strategies below generate arbitrary *valid* packets of all 15 types, with arbitrary
//! valid properties for each (Table 2-4 placement, repetition and value rules), valid Topic
//! Names and Topic Filters, and the cross-field rules of chapter 3 (packet identifiers, DUP,
//! Session Present, non-empty lists). The properties checked:
//!
//! 1. `decode(encode(p)) == p`, and `encode` writes exactly `p.encoded_len()` bytes.
//! 2. Decoding arbitrary bytes never panics, and a `Decoder` fed them in any chunking gives
//!    the same results (packets, then at most one error) as one fed them whole. Every packet
//!    that decodes re-encodes to a packet that decodes equal.
//! 3. The same for concatenations of valid packets with random mutations (bit flips, byte
//!    changes, insertions, removals, truncation), which reach far deeper than random bytes.
//! 4. A concatenation of valid packets comes out of the `Decoder` as exactly those packets, in
//!    order, for any chunking.

use std::iter;

use midge::codec::topic::{parse_shared, validate_topic_filter, validate_topic_name};
use midge::codec::{
    Auth, AuthReasonCode, ByteString, Bytes, CodecError, ConnAck, Connect, ConnectReasonCode,
    Decoder, Disconnect, DisconnectReasonCode, Packet, PayloadFormat, Properties, Property,
    PropertyContext, PropertyId, PubAck, PubAckReasonCode, PubComp, PubCompReasonCode, PubRec,
    PubRecReasonCode, PubRel, PubRelReasonCode, Publish, QoS, RetainHandling, SubAck,
    SubAckReasonCode, Subscribe, Subscription, SubscriptionOptions, UnsubAck, UnsubAckReasonCode,
    Unsubscribe, VAR_INT_MAX, Will,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---------------------------------------------------------------------------------------------
// Strings, binaries, topics
// ---------------------------------------------------------------------------------------------

/// Any `char` but U+0000 [MQTT-1.5.4-2], mostly ASCII so that separators and `$` show up.
fn string_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        1 => any::<char>().prop_map(|c| if c == '\0' { '\u{FFFD}' } else { c }),
    ]
}

/// A UTF-8 Encoded String: any length up to `max` characters, no U+0000.
fn mqtt_string(max: usize) -> impl Strategy<Value = ByteString> {
    prop::collection::vec(string_char(), 0..=max)
        .prop_map(|chars| ByteString::from(chars.into_iter().collect::<String>()))
}

fn binary(max: usize) -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..=max).prop_map(Bytes::from)
}

/// A character of a topic level: no separator, no wildcard, no U+0000.
fn level_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'z'),
        1 => Just('$'),
        1 => Just(' '),
        2 => any::<char>().prop_map(|c| match c {
            '\0' | '/' | '+' | '#' => 'é',
            c => c,
        }),
    ]
}

/// One topic level, possibly empty (4.7.1.1 allows zero-length levels).
fn level(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(level_char(), 0..=max).prop_map(|c| c.into_iter().collect())
}

/// A Topic Name (4.7): one or more levels, empty ones included, unicode, `$` topics; never
/// empty and never a wildcard.
fn topic_name() -> impl Strategy<Value = ByteString> {
    (prop::collection::vec(level(6), 1..6), any::<bool>()).prop_map(|(levels, dollar)| {
        let mut name = levels.join("/");
        if dollar {
            name.insert(0, '$');
        }
        if name.is_empty() {
            name.push('/');
        }
        debug_assert_eq!(validate_topic_name(&name), Ok(()), "{name:?}");
        ByteString::from(name)
    })
}

/// A Topic Filter without the shared prefix: levels or `+`, optionally ending with `#`.
fn plain_filter() -> impl Strategy<Value = String> {
    let level_or_plus = prop_oneof![3 => level(5), 1 => Just("+".to_owned())];
    (
        prop::collection::vec(level_or_plus, 0..5),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash, dollar)| {
            if hash || levels.is_empty() {
                levels.push("#".to_owned());
            }
            let mut filter = levels.join("/");
            if dollar && !filter.starts_with(['+', '#']) {
                filter.insert(0, '$');
            }
            if filter.is_empty() {
                filter.push('/');
            }
            filter
        })
}

/// A Topic Filter (4.7), sometimes a Shared Subscription `$share/{name}/{filter}` (4.8.2).
fn topic_filter() -> impl Strategy<Value = ByteString> {
    let share_name =
        prop::collection::vec(level_char(), 1..6).prop_map(|c| c.into_iter().collect::<String>());
    prop_oneof![
        3 => plain_filter(),
        1 => (share_name, plain_filter()).prop_map(|(share, f)| format!("$share/{share}/{f}")),
    ]
    .prop_map(|filter| {
        debug_assert_eq!(validate_topic_filter(&filter), Ok(()), "{filter:?}");
        ByteString::from(filter)
    })
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn qos() -> impl Strategy<Value = QoS> {
    select(&[QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][..])
}

/// A valid value for property `id` (2.2.2.2 and the value rules of each packet's section).
fn property(id: PropertyId) -> BoxedStrategy<Property> {
    use Property as P;
    use PropertyId as I;
    let text = || mqtt_string(12);
    match id {
        I::PayloadFormatIndicator => select(&[PayloadFormat::Unspecified, PayloadFormat::Utf8][..])
            .prop_map(P::PayloadFormatIndicator)
            .boxed(),
        I::MessageExpiryInterval => any::<u32>().prop_map(P::MessageExpiryInterval).boxed(),
        I::ContentType => text().prop_map(P::ContentType).boxed(),
        // [MQTT-3.3.2-14] a Topic Name, no wildcards.
        I::ResponseTopic => topic_name().prop_map(P::ResponseTopic).boxed(),
        I::CorrelationData => binary(16).prop_map(P::CorrelationData).boxed(),
        I::SubscriptionIdentifier => prop_oneof![1u32..=200, 1u32..=VAR_INT_MAX]
            .prop_map(P::SubscriptionIdentifier)
            .boxed(),
        I::SessionExpiryInterval => any::<u32>().prop_map(P::SessionExpiryInterval).boxed(),
        I::AssignedClientIdentifier => text().prop_map(P::AssignedClientIdentifier).boxed(),
        I::ServerKeepAlive => any::<u16>().prop_map(P::ServerKeepAlive).boxed(),
        I::AuthenticationMethod => text().prop_map(P::AuthenticationMethod).boxed(),
        I::AuthenticationData => binary(16).prop_map(P::AuthenticationData).boxed(),
        I::RequestProblemInformation => {
            any::<bool>().prop_map(P::RequestProblemInformation).boxed()
        }
        I::WillDelayInterval => any::<u32>().prop_map(P::WillDelayInterval).boxed(),
        I::RequestResponseInformation => any::<bool>()
            .prop_map(P::RequestResponseInformation)
            .boxed(),
        I::ResponseInformation => text().prop_map(P::ResponseInformation).boxed(),
        I::ServerReference => text().prop_map(P::ServerReference).boxed(),
        I::ReasonString => text().prop_map(P::ReasonString).boxed(),
        I::ReceiveMaximum => (1..=u16::MAX).prop_map(P::ReceiveMaximum).boxed(),
        I::TopicAliasMaximum => any::<u16>().prop_map(P::TopicAliasMaximum).boxed(),
        I::TopicAlias => (1..=u16::MAX).prop_map(P::TopicAlias).boxed(),
        I::MaximumQos => select(&[QoS::AtMostOnce, QoS::AtLeastOnce][..])
            .prop_map(P::MaximumQos)
            .boxed(),
        I::RetainAvailable => any::<bool>().prop_map(P::RetainAvailable).boxed(),
        I::UserProperty => (mqtt_string(8), mqtt_string(8))
            .prop_map(|(k, v)| P::UserProperty(k, v))
            .boxed(),
        I::MaximumPacketSize => (1..=u32::MAX).prop_map(P::MaximumPacketSize).boxed(),
        I::WildcardSubscriptionAvailable => any::<bool>()
            .prop_map(P::WildcardSubscriptionAvailable)
            .boxed(),
        I::SubscriptionIdentifierAvailable => any::<bool>()
            .prop_map(P::SubscriptionIdentifierAvailable)
            .boxed(),
        I::SharedSubscriptionAvailable => any::<bool>()
            .prop_map(P::SharedSubscriptionAvailable)
            .boxed(),
    }
}

/// A valid property list for `context`: each allowed property at most once, or several times
/// where it may repeat (User Property; Subscription Identifier in PUBLISH), in any order.
fn properties(context: PropertyContext) -> BoxedStrategy<Properties> {
    let per_id: Vec<BoxedStrategy<Vec<Property>>> = PropertyId::ALL
        .iter()
        .copied()
        .filter(|id| id.allowed_in(context))
        .map(|id| {
            if id.may_repeat_in(context) {
                prop::collection::vec(property(id), 0..4).boxed()
            } else {
                prop::option::weighted(0.4, property(id))
                    .prop_map(|p| p.into_iter().collect())
                    .boxed()
            }
        })
        .collect();
    let full = per_id
        .prop_map(|lists| lists.into_iter().flatten().collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(Properties::from);
    prop_oneof![1 => Just(Properties::new()), 3 => full].boxed()
}

// ---------------------------------------------------------------------------------------------
// Packets
// ---------------------------------------------------------------------------------------------

fn packet_id() -> impl Strategy<Value = u16> {
    prop_oneof![1 => Just(1u16), 1 => Just(u16::MAX), 4 => 1..=u16::MAX]
}

/// A PUBLISH payload: binary, up to a few KiB, mostly small.
fn payload() -> impl Strategy<Value = Bytes> {
    prop_oneof![4 => binary(64), 1 => binary(4096)]
}

fn will() -> impl Strategy<Value = Will> {
    (
        topic_name(),
        payload(),
        qos(),
        any::<bool>(),
        properties(PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

fn connect() -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        any::<u16>(),
        properties(PropertyContext::Connect),
        mqtt_string(23),
        prop::option::of(will()),
        prop::option::of(mqtt_string(12)),
        prop::option::of(binary(16)),
    )
        .prop_map(
            |(clean_start, keep_alive, properties, client_id, will, username, password)| {
                Packet::from(Connect {
                    clean_start,
                    keep_alive,
                    properties,
                    client_id,
                    will,
                    username,
                    password,
                })
            },
        )
}

fn connack() -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        // Success is one code of 22, and the only one Session Present may go with.
        prop_oneof![1 => Just(ConnectReasonCode::Success), 2 => select(ConnectReasonCode::ALL)],
        properties(PropertyContext::ConnAck),
    )
        .prop_map(|(session_present, reason_code, properties)| {
            Packet::ConnAck(ConnAck {
                // [MQTT-3.2.2-6] Session Present only with a success code.
                session_present: session_present && reason_code.is_success(),
                reason_code,
                properties,
            })
        })
}

fn publish() -> impl Strategy<Value = Packet> {
    (
        (any::<bool>(), qos(), any::<bool>(), packet_id()),
        prop_oneof![4 => topic_name(), 1 => Just(ByteString::new())],
        properties(PropertyContext::Publish),
        1..=u16::MAX,
        payload(),
    )
        .prop_map(
            |((dup, qos, retain, id), topic, mut properties, alias, payload)| {
                // An empty Topic Name needs a Topic Alias (3.3.2.1).
                if topic.is_empty() && properties.get(PropertyId::TopicAlias).is_none() {
                    properties.push(Property::TopicAlias(alias));
                }
                let qos0 = qos == QoS::AtMostOnce;
                Packet::Publish(Publish {
                    // [MQTT-3.3.1-2] DUP only with QoS 1 or 2.
                    dup: dup && !qos0,
                    qos,
                    retain,
                    topic,
                    // No Packet Identifier in a QoS 0 PUBLISH (2.2.1).
                    packet_id: if qos0 { 0 } else { id },
                    properties,
                    payload,
                })
            },
        )
}

macro_rules! ack_strategy {
    ($fn:ident, $packet:ident, $code:ident) => {
        fn $fn() -> impl Strategy<Value = Packet> {
            (
                packet_id(),
                select($code::ALL),
                properties(PropertyContext::$packet),
            )
                .prop_map(|(packet_id, reason_code, properties)| {
                    Packet::$packet($packet {
                        packet_id,
                        reason_code,
                        properties,
                    })
                })
        }
    };
}

ack_strategy!(puback, PubAck, PubAckReasonCode);
ack_strategy!(pubrec, PubRec, PubRecReasonCode);
ack_strategy!(pubrel, PubRel, PubRelReasonCode);
ack_strategy!(pubcomp, PubComp, PubCompReasonCode);

fn subscription() -> impl Strategy<Value = Subscription> {
    (
        topic_filter(),
        qos(),
        any::<bool>(),
        any::<bool>(),
        select(
            &[
                RetainHandling::SendAtSubscribe,
                RetainHandling::SendAtSubscribeIfNew,
                RetainHandling::DoNotSend,
            ][..],
        ),
    )
        .prop_map(
            |(filter, qos, no_local, retain_as_published, retain_handling)| {
                // [MQTT-3.8.3-4] No Local is not allowed on a Shared Subscription.
                let no_local = no_local && parse_shared(&filter).is_none();
                Subscription {
                    filter,
                    options: SubscriptionOptions {
                        qos,
                        no_local,
                        retain_as_published,
                        retain_handling,
                    },
                }
            },
        )
}

fn subscribe() -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        properties(PropertyContext::Subscribe),
        prop::collection::vec(subscription(), 1..6),
    )
        .prop_map(|(packet_id, properties, subscriptions)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                subscriptions,
            })
        })
}

fn suback() -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        properties(PropertyContext::SubAck),
        prop::collection::vec(select(SubAckReasonCode::ALL), 1..8),
    )
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::SubAck(SubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
}

fn unsubscribe() -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        properties(PropertyContext::Unsubscribe),
        prop::collection::vec(topic_filter(), 1..6),
    )
        .prop_map(|(packet_id, properties, filters)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        })
}

fn unsuback() -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        properties(PropertyContext::UnsubAck),
        prop::collection::vec(select(UnsubAckReasonCode::ALL), 1..8),
    )
        .prop_map(|(packet_id, properties, reason_codes)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
}

fn disconnect() -> impl Strategy<Value = Packet> {
    (
        select(DisconnectReasonCode::ALL),
        properties(PropertyContext::Disconnect),
    )
        .prop_map(|(reason_code, properties)| {
            Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            })
        })
}

fn auth() -> impl Strategy<Value = Packet> {
    (
        select(AuthReasonCode::ALL),
        properties(PropertyContext::Auth),
    )
        .prop_map(|(reason_code, properties)| {
            Packet::Auth(Auth {
                reason_code,
                properties,
            })
        })
}

/// Any valid packet, all 15 types equally likely.
fn any_packet() -> BoxedStrategy<Packet> {
    prop_oneof![
        connect(),
        connack(),
        publish(),
        puback(),
        pubrec(),
        pubrel(),
        pubcomp(),
        subscribe(),
        suback(),
        unsubscribe(),
        unsuback(),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(),
        auth(),
    ]
    .boxed()
}

// ---------------------------------------------------------------------------------------------
// Chunkings, limits, mutations
// ---------------------------------------------------------------------------------------------

/// How a byte stream is cut into the pieces fed to a `Decoder`.
#[derive(Debug, Clone)]
enum Chunking {
    /// One byte per `feed`.
    OneByte,
    /// Cuts at these positions (scaled to the stream's length; duplicates give empty feeds).
    Splits(Vec<Index>),
}

impl Chunking {
    /// The cut positions in `0..=len`, ascending.
    fn cuts(&self, len: usize) -> Vec<usize> {
        match self {
            Self::OneByte => (1..len).collect(),
            Self::Splits(points) => {
                let mut cuts: Vec<usize> = points.iter().map(|i| i.index(len + 1)).collect();
                cuts.sort_unstable();
                cuts
            }
        }
    }
}

fn chunking() -> impl Strategy<Value = Chunking> {
    prop_oneof![
        1 => Just(Chunking::OneByte),
        4 => prop::collection::vec(any::<Index>(), 0..12).prop_map(Chunking::Splits),
    ]
}

/// A Maximum Packet Size for the decoder: mostly none, sometimes small enough to bite.
fn max_packet_size() -> impl Strategy<Value = u32> {
    prop_oneof![3 => Just(u32::MAX), 1 => 0u32..2048]
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 0u8..8).prop_map(|(i, bit)| Mutation::FlipBit(i, bit)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::SetByte(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => any::<Index>().prop_map(Mutation::Remove),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match *mutation {
        Mutation::Insert(ref i, b) => bytes.insert(i.index(len + 1), b),
        _ if len == 0 => {}
        Mutation::FlipBit(ref i, bit) => bytes[i.index(len)] ^= 1 << bit,
        Mutation::SetByte(ref i, b) => bytes[i.index(len)] = b,
        Mutation::Remove(ref i) => {
            bytes.remove(i.index(len));
        }
        Mutation::Truncate(ref i) => bytes.truncate(i.index(len)),
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn encode_all(packets: &[Packet]) -> Vec<u8> {
    let mut buf = Vec::new();
    for p in packets {
        p.encode(&mut buf).expect("a generated packet encodes");
    }
    buf
}

/// Feeds `data` to a fresh decoder, cut at `cuts`, taking every packet after each feed.
/// Returns the packets in order and, if the stream broke a rule, the error (which is final).
fn decode_stream(max: u32, data: &[u8], cuts: &[usize]) -> Vec<Result<Packet, CodecError>> {
    let mut decoder = Decoder::with_max_packet_size(max);
    let mut out = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(iter::once(&data.len())) {
        decoder.feed(&data[start..end]);
        start = end;
        loop {
            match decoder.next_packet() {
                Ok(Some(p)) => out.push(Ok(p)),
                Ok(None) => break,
                Err(e) => {
                    // The first error is final: every later call returns it again.
                    assert_eq!(decoder.next_packet(), Err(e.clone()));
                    out.push(Err(e));
                    return out;
                }
            }
        }
    }
    out
}

/// A decoded packet re-encodes, in `encoded_len()` bytes, to a packet that decodes equal and
/// encodes to the same bytes again.
fn check_reencodes(packet: &Packet) -> Result<(), TestCaseError> {
    let mut first = Vec::new();
    let n = packet
        .encode(&mut first)
        .map_err(|e| TestCaseError::fail(format!("decoded packet does not encode: {e}")))?;
    prop_assert_eq!(n, first.len());
    prop_assert_eq!(n, packet.encoded_len());
    let again = Packet::decode(first.clone());
    prop_assert_eq!(again.as_ref(), Ok(packet));
    let mut second = Vec::new();
    again.unwrap().encode(&mut second).unwrap();
    prop_assert_eq!(first, second);
    Ok(())
}

/// Property 2 and 3: no panic, chunking does not matter, whatever decodes re-encodes.
fn check_arbitrary_stream(data: &[u8], chunking: &Chunking, max: u32) -> Result<(), TestCaseError> {
    let one_shot = Packet::decode(data.to_vec());
    let whole = decode_stream(max, data, &[]);
    let chunked = decode_stream(max, data, &chunking.cuts(data.len()));
    prop_assert_eq!(&chunked, &whole);
    for packet in whole.iter().filter_map(|r| r.as_ref().ok()) {
        check_reencodes(packet)?;
    }
    // A whole packet the one-shot decoder accepts is what the stream decoder yields.
    if let Ok(p) = one_shot
        && max == u32::MAX
    {
        prop_assert_eq!(whole, vec![Ok(p)]);
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failing inputs are printed, shrunk; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(1024))]

    /// Property 1: encode -> decode is the identity, and `encode` writes `encoded_len()` bytes.
    #[test]
    fn encode_decode_round_trip(packet in any_packet()) {
        let mut buf = vec![0xA5]; // encode appends: existing bytes stay.
        let n = packet.encode(&mut buf);
        prop_assert_eq!(n, Ok(buf.len() - 1));
        prop_assert_eq!(buf.len() - 1, packet.encoded_len());
        prop_assert_eq!(buf[0], 0xA5);
        let decoded = Packet::decode(buf[1..].to_vec());
        prop_assert_eq!(decoded.as_ref(), Ok(&packet));
        // The streaming decoder agrees and keeps nothing back.
        let mut decoder = Decoder::with_max_packet_size(packet.encoded_len() as u32);
        decoder.feed(&buf[1..]);
        prop_assert_eq!(decoder.next_packet(), Ok(Some(packet)));
        prop_assert_eq!(decoder.next_packet(), Ok(None));
        prop_assert_eq!(decoder.buffered(), 0);
    }

    /// Property 2: arbitrary bytes never panic, and chunking never changes the results.
    #[test]
    fn arbitrary_bytes_decode_the_same_in_any_chunking(
        data in prop::collection::vec(any::<u8>(), 0..512),
        chunking in chunking(),
        max in max_packet_size(),
    ) {
        check_arbitrary_stream(&data, &chunking, max)?;
    }

    /// Property 3: as 2, on valid packet streams with random mutations.
    #[test]
    fn mutated_streams_decode_the_same_in_any_chunking(
        packets in prop::collection::vec(any_packet(), 1..5),
        mutations in prop::collection::vec(mutation(), 1..5),
        chunking in chunking(),
        max in max_packet_size(),
    ) {
        let mut data = encode_all(&packets);
        for m in &mutations {
            mutate(&mut data, m);
        }
        check_arbitrary_stream(&data, &chunking, max)?;
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Property 4: a stream of valid packets gives back exactly those packets, in order, for
    /// any chunking.
    #[test]
    fn valid_streams_decode_to_the_same_packets_in_any_chunking(
        packets in prop::collection::vec(any_packet(), 1..6),
        chunking in chunking(),
    ) {
        let data = encode_all(&packets);
        let expected: Vec<Result<Packet, CodecError>> = packets.into_iter().map(Ok).collect();
        let decoded = decode_stream(u32::MAX, &data, &chunking.cuts(data.len()));
        prop_assert_eq!(decoded, expected);
    }
}
