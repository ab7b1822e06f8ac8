//! UNSUBACK (3.11).

use super::{check_packet_id, read_packet_id};
use crate::codec::PacketType;
use crate::codec::error::CodecError;
use crate::codec::primitives::{Reader, put_u16};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reason::UnsubAckReasonCode;

/// UNSUBACK: one Reason Code per Topic Filter of the UNSUBSCRIBE, in order (3.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    pub packet_id: u16,
    pub properties: Properties,
    pub reason_codes: Vec<UnsubAckReasonCode>,
}

impl UnsubAck {
    pub(crate) fn body_len(&self) -> usize {
        2 + self.properties.wire_len() + self.reason_codes.len()
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        check_packet_id(self.packet_id, PacketType::UnsubAck)?;
        if self.reason_codes.is_empty() {
            return Err(CodecError::NoReasonCodes {
                packet: PacketType::UnsubAck,
            });
        }
        put_u16(buf, self.packet_id);
        self.properties.encode(PropertyContext::UnsubAck, buf)?;
        buf.extend(self.reason_codes.iter().map(|c| c.as_u8()));
        Ok(())
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        let packet_id = read_packet_id(r, PacketType::UnsubAck)?;
        let properties = Properties::decode(r, PropertyContext::UnsubAck)?;
        let codes = r.rest();
        if codes.is_empty() {
            return Err(CodecError::NoReasonCodes {
                packet: PacketType::UnsubAck,
            });
        }
        let reason_codes = codes
            .iter()
            .map(|&code| {
                UnsubAckReasonCode::from_u8(code).ok_or(CodecError::InvalidReasonCode {
                    packet: PacketType::UnsubAck,
                    code,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}
