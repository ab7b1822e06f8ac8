//! PUBACK (3.4), PUBREC (3.5), PUBREL (3.6) and PUBCOMP (3.7): the QoS 1 and QoS 2
//! acknowledgements. They share one layout: Packet Identifier, then an optional Reason Code
//! and optional Properties.

use super::{
    check_packet_id, read_packet_id, read_reason_tail, reason_tail_len, write_reason_tail,
};
use crate::codec::PacketType;
use crate::codec::error::CodecError;
use crate::codec::primitives::{Reader, put_u16};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reason::{
    PubAckReasonCode, PubCompReasonCode, PubRecReasonCode, PubRelReasonCode,
};

macro_rules! ack_packet {
    ($(#[$meta:meta])* $name:ident, $code:ident, $context:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            pub packet_id: u16,
            pub reason_code: $code,
            pub properties: Properties,
        }

        impl $name {
            /// A successful acknowledgement without properties.
            pub fn new(packet_id: u16) -> Self {
                Self {
                    packet_id,
                    reason_code: $code::Success,
                    properties: Properties::new(),
                }
            }

            pub(crate) fn body_len(&self) -> usize {
                2 + reason_tail_len(self.reason_code.as_u8(), &self.properties, PropertyContext::$context)
            }

            pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
                check_packet_id(self.packet_id, PacketType::$name)?;
                put_u16(buf, self.packet_id);
                write_reason_tail(
                    buf,
                    self.reason_code.as_u8(),
                    &self.properties,
                    PropertyContext::$context,
                )
            }

            pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
                let packet_id = read_packet_id(r, PacketType::$name)?;
                let (reason_code, properties) = read_reason_tail(
                    r,
                    PacketType::$name,
                    PropertyContext::$context,
                    $code::from_u8,
                )?;
                Ok(Self {
                    packet_id,
                    reason_code,
                    properties,
                })
            }
        }
    };
}

ack_packet!(
    /// PUBACK: the answer to a QoS 1 PUBLISH (3.4).
    PubAck,
    PubAckReasonCode,
    PubAck
);
ack_packet!(
    /// PUBREC: the first answer to a QoS 2 PUBLISH (3.5).
    PubRec,
    PubRecReasonCode,
    PubRec
);
ack_packet!(
    /// PUBREL: the answer to PUBREC (3.6).
    PubRel,
    PubRelReasonCode,
    PubRel
);
ack_packet!(
    /// PUBCOMP: the answer to PUBREL, ending a QoS 2 exchange (3.7).
    PubComp,
    PubCompReasonCode,
    PubComp
);
