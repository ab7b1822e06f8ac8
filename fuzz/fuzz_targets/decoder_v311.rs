//! Fuzzes the MQTT 3.1.1 decoder (`Packet::decode_v311`) with arbitrary bytes, with the
//! oracle decode -> encode -> decode:
//!
//! - decoding never panics;
//! - a packet that decodes encodes back (`encode_v311`) to exactly the input bytes: 3.1.1
//!   has one wire form per packet and the decoder accepts no other;
//! - the 5.0 decoder, given the same bytes, never panics either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use midge::codec::Packet;

fuzz_target!(|data: &[u8]| {
    let _ = Packet::decode(data.to_vec());
    if let Ok(packet) = Packet::decode_v311(data.to_vec()) {
        let mut out = Vec::new();
        match packet.encode_v311(&mut out) {
            Ok(n) => assert_eq!(n, out.len()),
            Err(e) => panic!("decoded 3.1.1 packet does not re-encode: {e:?}\n{packet:?}"),
        }
        assert_eq!(out, data, "encode_v311(decode_v311(b)) != b for {packet:?}");
        assert_eq!(Packet::decode_v311(out).as_ref(), Ok(&packet));
    }
});
