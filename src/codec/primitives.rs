//! The data representations of section 1.5: two- and four-byte integers, Variable Byte
//! Integers, UTF-8 Encoded Strings, Binary Data and String Pairs.
//!
//! Reading is zero-copy: a [`Reader`] walks a [`Bytes`] and hands out views into it. Writing
//! appends to a caller's `Vec<u8>`, so one buffer serves every packet.

use bytes::{Buf, Bytes};
use bytestring::ByteString;

use super::error::CodecError;

/// The largest value a Variable Byte Integer holds (1.5.5).
pub const VAR_INT_MAX: u32 = 268_435_455;
/// The longest UTF-8 Encoded String or Binary Data (1.5.4, 1.5.6).
pub const MAX_STRING_LEN: usize = 65_535;

/// Decodes a Variable Byte Integer from the start of `bytes`.
///
/// `Ok(None)` means more bytes are needed; `Ok(Some((value, len)))` gives the value and how many
/// bytes it took. Rejects a fifth byte and non-minimal encodings [MQTT-1.5.5-1].
pub fn decode_var_int(bytes: &[u8]) -> Result<Option<(u32, usize)>, CodecError> {
    let mut value: u32 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        if i == 4 {
            return Err(CodecError::VarIntTooLong);
        }
        value |= u32::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            // A final 0x00 after continuation bytes adds nothing: a shorter form existed.
            if i > 0 && byte == 0 {
                return Err(CodecError::VarIntNotMinimal);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if bytes.len() >= 4 {
        return Err(CodecError::VarIntTooLong);
    }
    Ok(None)
}

/// How many bytes `value` takes as a Variable Byte Integer (1..=4).
pub const fn var_int_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends `value` as a Variable Byte Integer.
pub fn put_var_int(buf: &mut Vec<u8>, value: u32) -> Result<(), CodecError> {
    if value > VAR_INT_MAX {
        return Err(CodecError::VarIntOutOfRange {
            value: u64::from(value),
        });
    }
    let mut v = value;
    loop {
        let mut byte = (v & 0x7F) as u8;
        v >>= 7;
        if v > 0 {
            byte |= 0x80;
        }
        buf.push(byte);
        if v == 0 {
            return Ok(());
        }
    }
}

/// Checks the rules of a UTF-8 Encoded String that Rust's `str` does not already guarantee:
/// no U+0000 [MQTT-1.5.4-2] and at most 65,535 bytes (1.5.4).
pub fn check_str(field: &'static str, s: &str) -> Result<(), CodecError> {
    if s.len() > MAX_STRING_LEN {
        return Err(CodecError::TooLong {
            field,
            len: s.len(),
        });
    }
    if s.as_bytes().contains(&0) {
        return Err(CodecError::NullCharacter { field });
    }
    Ok(())
}

/// Checks that Binary Data fits its two-byte length (1.5.6).
pub fn check_binary(field: &'static str, b: &[u8]) -> Result<(), CodecError> {
    if b.len() > MAX_STRING_LEN {
        return Err(CodecError::TooLong {
            field,
            len: b.len(),
        });
    }
    Ok(())
}

/// Appends a UTF-8 Encoded String after checking it.
pub fn put_str(buf: &mut Vec<u8>, field: &'static str, s: &str) -> Result<(), CodecError> {
    check_str(field, s)?;
    buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
    buf.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends Binary Data after checking its length.
pub fn put_binary(buf: &mut Vec<u8>, field: &'static str, b: &[u8]) -> Result<(), CodecError> {
    check_binary(field, b)?;
    buf.extend_from_slice(&(b.len() as u16).to_be_bytes());
    buf.extend_from_slice(b);
    Ok(())
}

/// Appends a Two Byte Integer.
pub fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// Appends a Four Byte Integer.
pub fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// A cursor over one packet's bytes. Every read names the field it reads so that a short
/// packet reports which field ran out.
#[derive(Debug)]
pub struct Reader {
    buf: Bytes,
}

impl Reader {
    pub fn new(buf: Bytes) -> Self {
        Self { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn need(&self, field: &'static str, n: usize) -> Result<(), CodecError> {
        if self.buf.len() < n {
            Err(CodecError::Truncated { field })
        } else {
            Ok(())
        }
    }

    pub fn u8(&mut self, field: &'static str) -> Result<u8, CodecError> {
        self.need(field, 1)?;
        Ok(self.buf.get_u8())
    }

    pub fn u16(&mut self, field: &'static str) -> Result<u16, CodecError> {
        self.need(field, 2)?;
        Ok(self.buf.get_u16())
    }

    pub fn u32(&mut self, field: &'static str) -> Result<u32, CodecError> {
        self.need(field, 4)?;
        Ok(self.buf.get_u32())
    }

    pub fn var_int(&mut self, field: &'static str) -> Result<u32, CodecError> {
        match decode_var_int(&self.buf)? {
            Some((value, len)) => {
                self.buf.advance(len);
                Ok(value)
            }
            None => Err(CodecError::Truncated { field }),
        }
    }

    /// Takes the next `n` bytes as a view, without copying.
    pub fn take(&mut self, field: &'static str, n: usize) -> Result<Bytes, CodecError> {
        self.need(field, n)?;
        Ok(self.buf.split_to(n))
    }

    /// Takes everything that is left (a PUBLISH payload).
    pub fn rest(&mut self) -> Bytes {
        std::mem::take(&mut self.buf)
    }

    pub fn binary(&mut self, field: &'static str) -> Result<Bytes, CodecError> {
        let len = self.u16(field)?;
        self.take(field, usize::from(len))
    }

    /// Reads a UTF-8 Encoded String: well-formed UTF-8 [MQTT-1.5.4-1] (which excludes the
    /// surrogates U+D800..U+DFFF) without U+0000 [MQTT-1.5.4-2].
    pub fn string(&mut self, field: &'static str) -> Result<ByteString, CodecError> {
        let bytes = self.binary(field)?;
        if bytes.contains(&0) {
            return Err(CodecError::NullCharacter { field });
        }
        ByteString::try_from(bytes).map_err(|_| CodecError::InvalidUtf8 { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(v: u32) -> Vec<u8> {
        let mut b = Vec::new();
        put_var_int(&mut b, v).unwrap();
        b
    }

    #[test]
    fn var_int_boundaries_from_table_1_1() {
        // 1.5.5, Table 1-1: the smallest and largest value of each length.
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xFF, 0xFF, 0x7F]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
        ];
        for &(value, bytes) in cases {
            assert_eq!(encode(value), bytes, "encode {value}");
            assert_eq!(var_int_len(value), bytes.len());
            assert_eq!(decode_var_int(bytes), Ok(Some((value, bytes.len()))));
        }
    }

    #[test]
    fn var_int_above_maximum_is_refused_on_encode() {
        let mut b = Vec::new();
        assert_eq!(
            put_var_int(&mut b, VAR_INT_MAX + 1),
            Err(CodecError::VarIntOutOfRange {
                value: u64::from(VAR_INT_MAX + 1)
            })
        );
        assert!(b.is_empty());
    }

    #[test]
    fn var_int_fifth_byte_is_malformed() {
        // 1.5.5: at most four bytes.
        assert_eq!(
            decode_var_int(&[0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(CodecError::VarIntTooLong)
        );
        assert_eq!(
            decode_var_int(&[0xFF, 0xFF, 0xFF, 0xFF]),
            Err(CodecError::VarIntTooLong)
        );
    }

    #[test]
    fn var_int_non_minimal_is_malformed() {
        // [MQTT-1.5.5-1] the minimum number of bytes.
        assert_eq!(
            decode_var_int(&[0x80, 0x00]),
            Err(CodecError::VarIntNotMinimal)
        );
        assert_eq!(
            decode_var_int(&[0xFF, 0x80, 0x00]),
            Err(CodecError::VarIntNotMinimal)
        );
    }

    #[test]
    fn var_int_incomplete_asks_for_more() {
        assert_eq!(decode_var_int(&[]), Ok(None));
        assert_eq!(decode_var_int(&[0x80, 0x80, 0x80]), Ok(None));
    }

    #[test]
    fn string_rules() {
        // [MQTT-1.5.4-1] ill-formed UTF-8, including an encoded surrogate (ED A0 80 = U+D800).
        let mut r = Reader::new(Bytes::from_static(&[0, 3, 0xED, 0xA0, 0x80]));
        assert_eq!(r.string("s"), Err(CodecError::InvalidUtf8 { field: "s" }));
        let mut r = Reader::new(Bytes::from_static(&[0, 1, 0xFF]));
        assert_eq!(r.string("s"), Err(CodecError::InvalidUtf8 { field: "s" }));
        // [MQTT-1.5.4-2] U+0000.
        let mut r = Reader::new(Bytes::from_static(&[0, 3, b'a', 0, b'b']));
        assert_eq!(r.string("s"), Err(CodecError::NullCharacter { field: "s" }));
        // 1.5.4 Figure 1-1: "A\u{2A6D4}" is 00 05 41 F0 AA 9B 94.
        let mut r = Reader::new(Bytes::from_static(&[
            0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94,
        ]));
        assert_eq!(r.string("s").unwrap(), "A\u{2A6D4}");
        assert!(r.is_empty());
        // Length prefix longer than the data.
        let mut r = Reader::new(Bytes::from_static(&[0, 4, b'a']));
        assert_eq!(r.string("s"), Err(CodecError::Truncated { field: "s" }));
    }

    #[test]
    fn string_length_limit_on_encode() {
        let mut b = Vec::new();
        let max = "x".repeat(MAX_STRING_LEN);
        put_str(&mut b, "s", &max).unwrap();
        assert_eq!(b.len(), MAX_STRING_LEN + 2);
        assert_eq!(
            put_str(&mut b, "s", &format!("{max}x")),
            Err(CodecError::TooLong {
                field: "s",
                len: MAX_STRING_LEN + 1
            })
        );
        assert_eq!(
            put_str(&mut b, "s", "a\0"),
            Err(CodecError::NullCharacter { field: "s" })
        );
        assert_eq!(
            put_binary(&mut b, "b", &vec![0; MAX_STRING_LEN + 1]),
            Err(CodecError::TooLong {
                field: "b",
                len: MAX_STRING_LEN + 1
            })
        );
    }

    #[test]
    fn integers_are_big_endian() {
        // 1.5.2 and 1.5.3: big-endian.
        let mut b = Vec::new();
        put_u16(&mut b, 0x1234);
        put_u32(&mut b, 0x89AB_CDEF);
        assert_eq!(b, [0x12, 0x34, 0x89, 0xAB, 0xCD, 0xEF]);
        let mut r = Reader::new(Bytes::from(b));
        assert_eq!(r.u16("a"), Ok(0x1234));
        assert_eq!(r.u32("b"), Ok(0x89AB_CDEF));
        assert_eq!(r.u8("c"), Err(CodecError::Truncated { field: "c" }));
    }
}
