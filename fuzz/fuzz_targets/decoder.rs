//! Fuzzes the streaming `Decoder` with arbitrary bytes in data-derived chunks and a
//! data-derived Maximum Packet Size, and checks every packet it yields against the oracle
//! decode -> encode -> decode:
//!
//! - the packet re-encodes without error, in exactly `encoded_len()` bytes;
//! - decoding that encoding gives an equal packet, which encodes to the same bytes again;
//! - `Packet::decode` of the frame the decoder consumed gives the same packet;
//! - the chunked decoder yields the same results as one fed the stream whole.
//!
//! Input layout: byte 0-1 pick the Maximum Packet Size, byte 2 the first split point,
//! byte 3 the chunk size after it; the rest is the byte stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use midge::codec::{CodecError, Decoder, Packet};

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let [m0, m1, split, chunk, ref stream @ ..] = *data else {
        return;
    };
    // High bit clear: no limit; set: a limit of 0..=32767 bytes, so PacketTooLarge is reached.
    let max = if m0 & 0x80 == 0 {
        u32::MAX
    } else {
        u32::from(u16::from_be_bytes([m0 & 0x7F, m1]))
    };
    let split = usize::from(split) * stream.len() / 255;
    let chunk = 1 + usize::from(chunk % 64);

    let mut decoder = Decoder::with_max_packet_size(max);
    let mut results: Vec<Result<Packet, CodecError>> = Vec::new();
    let mut fed = 0usize;
    let mut failed = false;
    let chunks = std::iter::once(&stream[..split]).chain(stream[split..].chunks(chunk));
    for part in chunks {
        decoder.feed(part);
        fed += part.len();
        loop {
            let start = fed - decoder.buffered();
            match decoder.next_packet() {
                Ok(Some(packet)) => {
                    let end = fed - decoder.buffered();
                    check_packet(&packet, &stream[start..end], max);
                    results.push(Ok(packet));
                }
                Ok(None) => break,
                Err(e) => {
                    // The first error is final: it is returned again.
                    assert_eq!(decoder.next_packet(), Err(e.clone()));
                    results.push(Err(e));
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            break;
        }
    }

    // The same stream fed in one piece gives the same results.
    let mut whole = Decoder::with_max_packet_size(max);
    whole.feed(stream);
    let mut expected = Vec::new();
    loop {
        match whole.next_packet() {
            Ok(Some(p)) => expected.push(Ok(p)),
            Ok(None) => break,
            Err(e) => {
                expected.push(Err(e));
                break;
            }
        }
    }
    assert_eq!(results, expected, "chunked and whole decoding differ");
}

fn check_packet(packet: &Packet, frame: &[u8], max: u32) {
    assert!(
        frame.len() as u64 <= u64::from(max),
        "packet over the limit"
    );
    // The decoder and the one-shot decoder agree on the frame.
    assert_eq!(Packet::decode(frame.to_vec()).as_ref(), Ok(packet));

    let mut first = Vec::new();
    let n = match packet.encode(&mut first) {
        Ok(n) => n,
        Err(e) => panic!("decoded packet does not re-encode: {e:?}\n{packet:?}"),
    };
    assert_eq!(n, first.len());
    assert_eq!(n, packet.encoded_len(), "encoded_len disagrees with encode");

    let again = match Packet::decode(first.clone()) {
        Ok(p) => p,
        Err(e) => panic!("re-encoded packet does not decode: {e:?}\n{packet:?}\n{first:02X?}"),
    };
    assert_eq!(&again, packet, "decode(encode(p)) != p");

    let mut second = Vec::new();
    again.encode(&mut second).expect("second encode");
    assert_eq!(first, second, "encoding is not stable");
}
