//! SUBSCRIBE (3.8).

use bytestring::ByteString;

use super::{check_packet_id, read_packet_id};
use crate::codec::error::CodecError;
use crate::codec::primitives::{Reader, put_str, put_u16};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::topic::{parse_shared, validate_topic_filter};
use crate::codec::{PacketType, QoS};

/// Retain Handling (3.8.3.1): whether retained messages are sent when subscribing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// Send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// Send them only if the subscription does not already exist.
    SendAtSubscribeIfNew = 1,
    /// Do not send retained messages.
    DoNotSend = 2,
}

/// Subscription Options (3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with.
    pub qos: QoS,
    /// Do not receive one's own publications; not on shared subscriptions [MQTT-3.8.3-4].
    pub no_local: bool,
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// The Subscription Options byte (3.8.3.1).
    pub fn to_byte(self) -> u8 {
        (self.qos as u8)
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }

    /// Parses a Subscription Options byte, with the rules of 3.8.3.1.
    pub fn from_byte(options: u8) -> Result<Self, CodecError> {
        // [MQTT-3.8.3-5] bits 6 and 7 are reserved and must be 0.
        if options & 0b1100_0000 != 0 {
            return Err(CodecError::SubscriptionOptionsReserved { options });
        }
        let qos = QoS::from_u8(options & 0b11).ok_or(CodecError::InvalidSubscriptionQos)?;
        let retain_handling = match (options >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(CodecError::InvalidRetainHandling),
        };
        Ok(Self {
            qos,
            no_local: options & 0b0100 != 0,
            retain_as_published: options & 0b1000 != 0,
            retain_handling,
        })
    }
}

/// One Topic Filter with its options.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Subscription {
    pub filter: ByteString,
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// The filter's rules (4.7.1, 4.8.2) and No Local not on a shared subscription
    /// [MQTT-3.8.3-4].
    pub fn validate(&self) -> Result<(), CodecError> {
        validate_topic_filter(&self.filter).map_err(CodecError::InvalidTopicFilter)?;
        if self.options.no_local && parse_shared(&self.filter).is_some() {
            return Err(CodecError::NoLocalOnSharedSubscription);
        }
        Ok(())
    }
}

/// SUBSCRIBE: one or more subscriptions (3.8).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscribe {
    pub packet_id: u16,
    pub properties: Properties,
    pub subscriptions: Vec<Subscription>,
}

impl Subscribe {
    pub(crate) fn body_len(&self) -> usize {
        let filters: usize = self
            .subscriptions
            .iter()
            .map(|s| 2 + s.filter.len() + 1)
            .sum();
        2 + self.properties.wire_len() + filters
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        check_packet_id(self.packet_id, PacketType::Subscribe)?;
        if self.subscriptions.is_empty() {
            return Err(CodecError::NoTopicFilters);
        }
        put_u16(buf, self.packet_id);
        self.properties.encode(PropertyContext::Subscribe, buf)?;
        for s in &self.subscriptions {
            s.validate()?;
            put_str(buf, "topic filter", &s.filter)?;
            buf.push(s.options.to_byte());
        }
        Ok(())
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        let packet_id = read_packet_id(r, PacketType::Subscribe)?;
        let properties = Properties::decode(r, PropertyContext::Subscribe)?;
        let mut subscriptions = Vec::new();
        while !r.is_empty() {
            let filter = r.string("topic filter")?;
            let options = SubscriptionOptions::from_byte(r.u8("subscription options")?)?;
            let s = Subscription { filter, options };
            s.validate()?;
            subscriptions.push(s);
        }
        // [MQTT-3.8.3-2] at least one Topic Filter.
        if subscriptions.is_empty() {
            return Err(CodecError::NoTopicFilters);
        }
        Ok(Self {
            packet_id,
            properties,
            subscriptions,
        })
    }
}
