//! PUBLISH (3.3).

use bytes::Bytes;
use bytestring::ByteString;

use super::{check_packet_id, read_packet_id};
use crate::codec::error::CodecError;
use crate::codec::primitives::{Reader, put_str, put_u16, var_int_len};
use crate::codec::properties::{Properties, PropertyContext, PropertyId};
use crate::codec::topic::validate_topic_name;
use crate::codec::{PacketType, QoS};

/// PUBLISH: an application message, in either direction (3.3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// Redelivery of an earlier attempt; only with QoS 1 or 2 [MQTT-3.3.1-2].
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// May be empty when the properties carry a Topic Alias (3.3.2.1).
    pub topic: ByteString,
    /// Non-zero for QoS 1 and 2; ignored (not sent) for QoS 0.
    pub packet_id: u16,
    pub properties: Properties,
    pub payload: Bytes,
}

impl Publish {
    pub(crate) fn fixed_header_flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | ((self.qos as u8) << 1) | u8::from(self.retain)
    }

    pub(crate) fn body_len(&self) -> usize {
        Self::body_len_of(self.qos, &self.topic, &self.properties, self.payload.len())
    }

    fn body_len_of(qos: QoS, topic: &str, properties: &Properties, payload_len: usize) -> usize {
        let id = if qos == QoS::AtMostOnce { 0 } else { 2 };
        2 + topic.len() + id + properties.wire_len() + payload_len
    }

    /// The encoded size of a PUBLISH with these parts, without building one (for a
    /// Maximum Packet Size check before the packet exists).
    pub fn encoded_len_of(
        qos: QoS,
        topic: &str,
        properties: &Properties,
        payload_len: usize,
    ) -> usize {
        let body = Self::body_len_of(qos, topic, properties, payload_len);
        1 + var_int_len(body as u32) + body
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(CodecError::DupWithQos0);
        }
        self.check_topic()?;
        put_str(buf, "topic name", &self.topic)?;
        if self.qos != QoS::AtMostOnce {
            check_packet_id(self.packet_id, PacketType::Publish)?;
            put_u16(buf, self.packet_id);
        }
        self.properties.encode(PropertyContext::Publish, buf)?;
        buf.extend_from_slice(&self.payload);
        Ok(())
    }

    /// A Topic Name without wildcards [MQTT-3.3.2-2], or empty with a Topic Alias (3.3.2.1).
    fn check_topic(&self) -> Result<(), CodecError> {
        if self.topic.is_empty() {
            if self.properties.get(PropertyId::TopicAlias).is_none() {
                return Err(CodecError::EmptyTopicWithoutAlias);
            }
            return Ok(());
        }
        validate_topic_name(&self.topic).map_err(CodecError::InvalidTopicName)
    }

    /// `flags` were checked by the fixed-header parser (QoS 3, DUP on QoS 0).
    pub(crate) fn read_body(flags: u8, r: &mut Reader) -> Result<Self, CodecError> {
        let dup = flags & 0b1000 != 0;
        let qos = QoS::from_u8((flags >> 1) & 0b11).ok_or(CodecError::InvalidPublishQos)?;
        let retain = flags & 0b0001 != 0;
        let topic = r.string("topic name")?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            read_packet_id(r, PacketType::Publish)?
        };
        let properties = Properties::decode(r, PropertyContext::Publish)?;
        let publish = Self {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload: r.rest(),
        };
        publish.check_topic()?;
        Ok(publish)
    }
}
