//! CONNECT (3.1).

use bytes::Bytes;
use bytestring::ByteString;

use crate::codec::QoS;
use crate::codec::error::CodecError;
use crate::codec::primitives::{Reader, put_binary, put_str, put_u16};
use crate::codec::properties::{Properties, PropertyContext};
use crate::codec::topic::validate_topic_name;

const PROTOCOL_NAME: &[u8] = b"MQTT";
const PROTOCOL_VERSION: u8 = 5;

const USER_NAME: u8 = 0b1000_0000;
const PASSWORD: u8 = 0b0100_0000;
const WILL_RETAIN: u8 = 0b0010_0000;
const WILL_QOS_SHIFT: u8 = 3;
const WILL_FLAG: u8 = 0b0000_0100;
const CLEAN_START: u8 = 0b0000_0010;
const RESERVED: u8 = 0b0000_0001;

/// CONNECT: the first packet a client sends (3.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connect {
    pub clean_start: bool,
    /// Seconds; 0 turns keep alive off (3.1.2.10).
    pub keep_alive: u16,
    pub properties: Properties,
    /// May be empty: the server then assigns one (3.1.3.1).
    pub client_id: ByteString,
    pub will: Option<Will>,
    pub username: Option<ByteString>,
    /// Binary Data; allowed without a user name in MQTT 5 (3.1.2.9).
    pub password: Option<Bytes>,
}

/// The Will Message a CONNECT carries (3.1.2.5, 3.1.3.2-3.1.3.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Will {
    pub topic: ByteString,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    pub properties: Properties,
}

impl Connect {
    pub(crate) fn body_len(&self) -> usize {
        let mut len = 2 + PROTOCOL_NAME.len() + 1 + 1 + 2;
        len += self.properties.wire_len();
        len += 2 + self.client_id.len();
        if let Some(will) = &self.will {
            len += will.properties.wire_len() + 2 + will.topic.len() + 2 + will.payload.len();
        }
        if let Some(u) = &self.username {
            len += 2 + u.len();
        }
        if let Some(p) = &self.password {
            len += 2 + p.len();
        }
        len
    }

    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.clean_start {
            flags |= CLEAN_START;
        }
        if let Some(will) = &self.will {
            flags |= WILL_FLAG | ((will.qos as u8) << WILL_QOS_SHIFT);
            if will.retain {
                flags |= WILL_RETAIN;
            }
        }
        if self.username.is_some() {
            flags |= USER_NAME;
        }
        if self.password.is_some() {
            flags |= PASSWORD;
        }
        flags
    }

    pub(crate) fn write_body(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        put_u16(buf, PROTOCOL_NAME.len() as u16);
        buf.extend_from_slice(PROTOCOL_NAME);
        buf.push(PROTOCOL_VERSION);
        buf.push(self.flags());
        put_u16(buf, self.keep_alive);
        self.properties.encode(PropertyContext::Connect, buf)?;
        put_str(buf, "client identifier", &self.client_id)?;
        if let Some(will) = &self.will {
            will.properties.encode(PropertyContext::Will, buf)?;
            validate_topic_name(&will.topic).map_err(CodecError::InvalidTopicName)?;
            put_str(buf, "will topic", &will.topic)?;
            put_binary(buf, "will payload", &will.payload)?;
        }
        if let Some(u) = &self.username {
            put_str(buf, "user name", u)?;
        }
        if let Some(p) = &self.password {
            put_binary(buf, "password", p)?;
        }
        Ok(())
    }

    pub(crate) fn read_body(r: &mut Reader) -> Result<Self, CodecError> {
        // [MQTT-3.1.2-1] the protocol name is the UTF-8 string "MQTT".
        if r.binary("protocol name")? != PROTOCOL_NAME {
            return Err(CodecError::InvalidProtocolName);
        }
        let version = r.u8("protocol version")?;
        if version != PROTOCOL_VERSION {
            return Err(CodecError::UnsupportedProtocolVersion { version });
        }
        let flags = r.u8("connect flags")?;
        if flags & RESERVED != 0 {
            return Err(CodecError::ConnectReservedFlag);
        }
        let will_flag = flags & WILL_FLAG != 0;
        let will_qos = (flags >> WILL_QOS_SHIFT) & 0b11;
        let will_retain = flags & WILL_RETAIN != 0;
        if !will_flag && will_qos != 0 {
            return Err(CodecError::WillQosWithoutWill);
        }
        let will_qos = QoS::from_u8(will_qos).ok_or(CodecError::InvalidWillQos)?;
        if !will_flag && will_retain {
            return Err(CodecError::WillRetainWithoutWill);
        }
        let keep_alive = r.u16("keep alive")?;
        let properties = Properties::decode(r, PropertyContext::Connect)?;
        let client_id = r.string("client identifier")?;
        let will = if will_flag {
            let properties = Properties::decode(r, PropertyContext::Will)?;
            let topic = r.string("will topic")?;
            validate_topic_name(&topic).map_err(CodecError::InvalidTopicName)?;
            let payload = r.binary("will payload")?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if flags & USER_NAME != 0 {
            Some(r.string("user name")?)
        } else {
            None
        };
        let password = if flags & PASSWORD != 0 {
            Some(r.binary("password")?)
        } else {
            None
        };
        Ok(Self {
            clean_start: flags & CLEAN_START != 0,
            keep_alive,
            properties,
            client_id,
            will,
            username,
            password,
        })
    }
}
