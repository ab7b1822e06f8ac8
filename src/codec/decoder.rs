//! The streaming decoder: bytes in, in chunks of any size; complete packets out.

use bytes::BytesMut;

use super::ProtocolVersion;
use super::error::CodecError;
use super::packet::{Packet, parse_first_byte};
use super::primitives::decode_var_int;

/// Splits a byte stream into packets.
///
/// Feed it whatever a read returned, one byte or many packets, then take packets with
/// [`Decoder::next_packet`] until it returns `Ok(None)`. The Maximum Packet Size is enforced
/// as soon as the fixed header is complete, before any of the body is buffered, so a peer
/// that announces a huge packet makes the decoder fail, not allocate. The first error is
/// final: the stream cannot be resynchronised, and every later call returns it again.
/// Packets are framed the same way in MQTT 5.0 and 3.1.1; the version
/// ([`Decoder::set_version`], 5.0 by default) picks the rules their bodies are read by.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    max_packet_size: u32,
    version: ProtocolVersion,
    failed: Option<CodecError>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder that accepts any packet size the protocol can express.
    pub fn new() -> Self {
        Self::with_max_packet_size(u32::MAX)
    }

    /// A decoder that refuses packets larger than `max` bytes (whole packet, fixed header
    /// included, as Maximum Packet Size counts it: 3.1.2.11.4).
    pub fn with_max_packet_size(max: u32) -> Self {
        Self {
            buf: BytesMut::new(),
            max_packet_size: max,
            version: ProtocolVersion::V5,
            failed: None,
        }
    }

    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Changes the limit for packets not yet started.
    pub fn set_max_packet_size(&mut self, max: u32) {
        self.max_packet_size = max;
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The protocol version packets not yet started are decoded by: a connection speaks
    /// one version, chosen by its CONNECT, so set it with [`Decoder::reset`].
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_none() {
            self.buf.extend_from_slice(data);
        }
    }

    /// The buffer to read into directly (append at its end), saving a copy; call
    /// [`Decoder::next_packet`] afterwards as with [`Decoder::feed`].
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// How many bytes wait for the rest of their packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forgets any partial packet and any error: for a new connection.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.failed = None;
    }

    /// The next complete packet, `Ok(None)` when more bytes are needed, or the rule the
    /// stream broke.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.next_inner() {
            Ok(p) => Ok(p),
            Err(e) => {
                self.buf.clear();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn next_inner(&mut self) -> Result<Option<Packet>, CodecError> {
        let Some(&first) = self.buf.first() else {
            return Ok(None);
        };
        // Reject a bad first byte before waiting for the length.
        match self.version {
            ProtocolVersion::V5 => parse_first_byte(first)?,
            ProtocolVersion::V311 => super::v311::parse_first_byte_v311(first)?,
        };
        let Some((remaining, len)) = decode_var_int(&self.buf[1..])? else {
            return Ok(None);
        };
        let total = 1 + len as u64 + u64::from(remaining);
        if total > u64::from(self.max_packet_size) {
            return Err(CodecError::PacketTooLarge {
                size: total,
                max: self.max_packet_size,
            });
        }
        let total = total as usize;
        if self.buf.len() < total {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(total).freeze();
        let body = frame.split_off(1 + len);
        match self.version {
            ProtocolVersion::V5 => Packet::decode_body(first, body),
            ProtocolVersion::V311 => Packet::decode_body_v311(first, body),
        }
        .map(Some)
    }
}
