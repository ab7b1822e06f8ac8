//! UNSUBSCRIBE (3.10).

use bytestring::ByteString;

use super::{check_packet_id, read_packet_id};
use crate::codec::PacketType;
use crate::codec::error::CodecError;
use crate::codec::primitives::{Reader, put_str, put_u16};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::topic::validate_topic_filter;

/// UNSUBSCRIBE: removes one or more subscriptions (3.10).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Unsubscribe {
    pub packet_id: u16,
    pub properties: Properties,
    pub filters: Vec<ByteString>,
}

impl Unsubscribe {
    pub(crate) fn body_len(&self) -> usize {
        let filters: usize = self.filters.iter().map(|f| 2 + f.len()).sum();
        2 + self.properties.wire_len() + filters
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        check_packet_id(self.packet_id, PacketType::Unsubscribe)?;
        if self.filters.is_empty() {
            return Err(CodecError::NoUnsubscribeFilters);
        }
        put_u16(buf, self.packet_id);
        self.properties.encode(PropertyContext::Unsubscribe, buf)?;
        for f in &self.filters {
            validate_topic_filter(f).map_err(CodecError::InvalidTopicFilter)?;
            put_str(buf, "topic filter", f)?;
        }
        Ok(())
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        let packet_id = read_packet_id(r, PacketType::Unsubscribe)?;
        let properties = Properties::decode(r, PropertyContext::Unsubscribe)?;
        let mut filters = Vec::new();
        while !r.is_empty() {
            let f = r.string("topic filter")?;
            validate_topic_filter(&f).map_err(CodecError::InvalidTopicFilter)?;
            filters.push(f);
        }
        // [MQTT-3.10.3-2] at least one Topic Filter.
        if filters.is_empty() {
            return Err(CodecError::NoUnsubscribeFilters);
        }
        Ok(Self {
            packet_id,
            properties,
            filters,
        })
    }
}
