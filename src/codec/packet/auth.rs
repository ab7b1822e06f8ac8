//! AUTH (3.15).

use super::{read_reason_tail, reason_tail_len, write_reason_tail};
use crate::codec::PacketType;
use crate::codec::error::CodecError;
use crate::codec::primitives::Reader;
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::reason::AuthReasonCode;

/// AUTH: a step of enhanced authentication (3.15, 4.12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    pub reason_code: AuthReasonCode,
    pub properties: Properties,
}

impl Auth {
    pub fn new(reason_code: AuthReasonCode) -> Self {
        Self {
            reason_code,
            properties: Properties::new(),
        }
    }

    pub(crate) fn body_len(&self) -> usize {
        reason_tail_len(
            self.reason_code.as_u8(),
            &self.properties,
            PropertyContext::Auth,
        )
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        write_reason_tail(
            buf,
            self.reason_code.as_u8(),
            &self.properties,
            PropertyContext::Auth,
        )
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        let (reason_code, properties) = read_reason_tail(
            r,
            PacketType::Auth,
            PropertyContext::Auth,
            AuthReasonCode::from_u8,
        )?;
        Ok(Self {
            reason_code,
            properties,
        })
    }
}
