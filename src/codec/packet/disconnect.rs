//! DISCONNECT (3.14).

use super::{read_reason_tail, reason_tail_len, write_reason_tail};
use crate::codec::PacketType;
use crate::codec::error::CodecError;
use crate::codec::primitives::Reader;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reason::DisconnectReasonCode;

/// DISCONNECT: the last packet either side sends, with the reason (3.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    pub reason_code: DisconnectReasonCode,
    pub properties: Properties,
}

impl Disconnect {
    pub fn new(reason_code: DisconnectReasonCode) -> Self {
        Self {
            reason_code,
            properties: Properties::new(),
        }
    }

    pub(crate) fn body_len(&self) -> usize {
        reason_tail_len(
            self.reason_code.as_u8(),
            &self.properties,
            PropertyContext::Disconnect,
        )
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        write_reason_tail(
            buf,
            self.reason_code.as_u8(),
            &self.properties,
            PropertyContext::Disconnect,
        )
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        let (reason_code, properties) = read_reason_tail(
            r,
            PacketType::Disconnect,
            PropertyContext::Disconnect,
            DisconnectReasonCode::from_u8,
        )?;
        Ok(Self {
            reason_code,
            properties,
        })
    }
}
