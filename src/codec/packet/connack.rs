//! CONNACK (3.2).

use crate::codec::PacketType;
use crate::codec::error::CodecError;
use crate::codec::primitives::Reader;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reason::ConnectReasonCode;

/// CONNACK: the server's answer to CONNECT (3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    pub session_present: bool,
    pub reason_code: ConnectReasonCode,
    pub properties: Properties,
}

impl ConnAck {
    pub(crate) fn body_len(&self) -> usize {
        2 + self.properties.wire_len()
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        if self.session_present && self.reason_code.is_failure() {
            return Err(CodecError::SessionPresentOnFailure);
        }
        buf.push(u8::from(self.session_present));
        buf.push(self.reason_code.as_u8());
        self.properties.encode(PropertyContext::ConnAck, buf)
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        let flags = r.u8("connect acknowledge flags")?;
        // [MQTT-3.2.2-1] bits 7-1 are reserved and set to 0.
        if flags & 0xFE != 0 {
            return Err(CodecError::ConnAckReservedFlags { flags });
        }
        let code = r.u8("reason code")?;
        let reason_code =
            ConnectReasonCode::from_u8(code).ok_or(CodecError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code,
            })?;
        let session_present = flags == 1;
        // [MQTT-3.2.2-6] a failure CONNACK has Session Present 0.
        if session_present && reason_code.is_failure() {
            return Err(CodecError::SessionPresentOnFailure);
        }
        let properties = Properties::decode(r, PropertyContext::ConnAck)?;
        Ok(Self {
            session_present,
            reason_code,
            properties,
        })
    }
}
