//! The streaming decoder: bytes in, in chunks of any size; complete packets out.

use bytes::BytesMut;

use super::ProtocolVersion;
use super::error::CodecError;
use super::packet::{Packet, parse_first_byte};
use super::primitives::decode_var_int;

/// Buffer capacity a decoder keeps between packets: beyond it, the buffer grows exactly to the
/// packet being assembled (not by doubling) and is given back once that packet is out.
const KEEP: usize = 64 * 1024;

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
    /// A packet larger than [`KEEP`] went out: give the buffer back once it is small.
    shrink_pending: bool,
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
            shrink_pending: false,
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
            self.make_room(data.len());
            self.buf.extend_from_slice(data);
        }
    }

    /// Beyond [`KEEP`], grows the buffer to exactly what is needed (the packet being
    /// assembled, when its fixed header is in) rather than doubling: a packet of the
    /// maximum size then costs its size, not twice it.
    fn make_room(&mut self, more: usize) {
        let need = self.buf.len() + more;
        if need <= self.buf.capacity() || need <= KEEP {
            return;
        }
        // Small packets: `BytesMut` reuses its space in place when it can.
        let Some(total) = self.announced().filter(|&t| t > KEEP) else {
            return;
        };
        let target = need.max(total);
        let mut grown = BytesMut::with_capacity(target);
        grown.extend_from_slice(&self.buf);
        self.buf = grown;
    }

    /// The size of the packet at the front of the buffer, once its fixed header is in and
    /// when it is within the maximum (a larger one is refused, never allocated for).
    fn announced(&self) -> Option<usize> {
        let (&first, rest) = self.buf.split_first()?;
        parse_first_byte(first).ok()?;
        let (remaining, len) = decode_var_int(rest).ok()??;
        let total = 1 + len as u64 + u64::from(remaining);
        (total <= u64::from(self.max_packet_size)).then_some(total as usize)
    }

    /// After a large packet, once the buffer holds little: a small fresh buffer, so that
    /// neither the decoder nor a payload handed out pins the large allocation's memory
    /// (the frames handed out share it).
    fn shrink(&mut self) {
        if self.shrink_pending && self.buf.len() <= KEEP {
            self.shrink_pending = false;
            self.buf = BytesMut::from(&self.buf[..]);
        }
    }

    /// The buffer to read into directly (append at its end), saving a copy; call
    /// [`Decoder::next_packet`] afterwards as with [`Decoder::feed`].
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// The buffer's capacity: the memory it holds on to.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// How many bytes wait for the rest of their packet.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Forgets any partial packet and any error: for a new connection.
    pub fn reset(&mut self) {
        if self.buf.capacity() > KEEP || self.shrink_pending {
            self.buf = BytesMut::new();
            self.shrink_pending = false;
        } else {
            self.buf.clear();
        }
        self.failed = None;
    }

    /// The next complete packet, `Ok(None)` when more bytes are needed, or the rule the
    /// stream broke.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, CodecError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.next_inner() {
            Ok(p) => {
                self.shrink();
                Ok(p)
            }
            Err(e) => {
                self.buf = BytesMut::new();
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
        if total > KEEP {
            self.shrink_pending = true;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A QoS 0 PUBLISH to "t" with `payload` bytes, encoded.
    fn publish(payload: usize) -> Vec<u8> {
        let p = Packet::Publish(crate::codec::Publish {
            dup: false,
            qos: crate::codec::QoS::AtMostOnce,
            retain: false,
            topic: "t".into(),
            packet_id: 0,
            properties: crate::codec::Properties::new(),
            payload: vec![1u8; payload].into(),
        });
        let mut out = Vec::new();
        p.encode(&mut out).unwrap();
        out
    }

    /// Feeds `bytes` in 64 KiB reads as the reactor does; returns the packets and the peak
    /// capacity.
    fn feed_in_reads(d: &mut Decoder, bytes: &[u8]) -> (Vec<Packet>, usize) {
        let mut packets = Vec::new();
        let mut peak = 0;
        for chunk in bytes.chunks(64 * 1024) {
            d.feed(chunk);
            peak = peak.max(d.capacity());
            while let Some(p) = d.next_packet().unwrap() {
                packets.push(p);
            }
        }
        (packets, peak)
    }

    #[test]
    fn a_large_packet_is_assembled_in_a_buffer_of_its_size_not_double() {
        let mut d = Decoder::new();
        let bytes = publish(3 * 1024 * 1024);
        let (packets, peak) = feed_in_reads(&mut d, &bytes);
        assert_eq!(packets.len(), 1);
        assert!(
            peak <= bytes.len() + 64 * 1024,
            "{peak} bytes of buffer for a {}-byte packet",
            bytes.len()
        );
    }

    #[test]
    fn the_buffer_shrinks_back_after_a_large_packet() {
        let mut d = Decoder::new();
        let mut bytes = publish(3 * 1024 * 1024);
        bytes.extend(publish(10));
        let (packets, _) = feed_in_reads(&mut d, &bytes);
        assert_eq!(packets.len(), 2);
        // The payload handed out does not pin the decoder's memory, nor the reverse.
        drop(packets);
        assert!(d.capacity() <= KEEP, "{} bytes kept", d.capacity());
        // Nor does a reset for a new connection keep a large buffer.
        d.feed(&publish(200 * 1024)[..150 * 1024]);
        d.reset();
        assert!(
            d.capacity() <= KEEP,
            "{} bytes kept after reset",
            d.capacity()
        );
    }

    #[test]
    fn a_packet_above_the_maximum_is_refused_before_its_body_is_buffered() {
        let mut d = Decoder::with_max_packet_size(1024);
        let bytes = publish(1 << 20);
        d.feed(&bytes[..64 * 1024]);
        assert!(matches!(
            d.next_packet(),
            Err(CodecError::PacketTooLarge { .. })
        ));
        assert_eq!(d.buffered(), 0);
    }
}
