//! Codec benchmarks: encode and decode of PUBLISH (64 B and 64 KiB payloads) and of a
//! CONNECT carrying every CONNECT and Will property. Run with `cargo bench --bench codec`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midge::codec::{
    ByteString, Bytes, Connect, Decoder, Packet, PayloadFormat, Properties, Property, Publish, QoS,
    Will,
};

fn publish(payload_len: usize) -> Packet {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: ByteString::from_static("sensors/gateway-17/temperature"),
        packet_id: 4242,
        properties: Properties::new(),
        payload: Bytes::from(vec![0xA5; payload_len]),
    })
}

fn connect_with_every_property() -> Packet {
    let s = ByteString::from_static;
    Packet::from(Connect {
        clean_start: true,
        keep_alive: 60,
        properties: Properties::from(vec![
            Property::SessionExpiryInterval(3600),
            Property::ReceiveMaximum(100),
            Property::MaximumPacketSize(1 << 20),
            Property::TopicAliasMaximum(16),
            Property::RequestResponseInformation(true),
            Property::RequestProblemInformation(true),
            Property::UserProperty(s("site"), s("plant-4")),
            Property::AuthenticationMethod(s("SCRAM-SHA-256")),
            Property::AuthenticationData(Bytes::from_static(b"client-first-message")),
        ]),
        client_id: s("gateway-17"),
        will: Some(Will {
            topic: s("gateways/gateway-17/status"),
            payload: Bytes::from_static(b"offline"),
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: Properties::from(vec![
                Property::WillDelayInterval(10),
                Property::PayloadFormatIndicator(PayloadFormat::Utf8),
                Property::MessageExpiryInterval(600),
                Property::ContentType(s("text/plain")),
                Property::ResponseTopic(s("gateways/gateway-17/ack")),
                Property::CorrelationData(Bytes::from_static(b"corr-1")),
                Property::UserProperty(s("reason"), s("lost")),
            ]),
        }),
        username: Some(s("gateway")),
        password: Some(Bytes::from_static(b"secret")),
    })
}

fn bench_packet(c: &mut Criterion, name: &str, packet: &Packet) {
    let mut wire = Vec::new();
    packet.encode(&mut wire).unwrap();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(wire.len() as u64));

    // One reusable buffer, cleared per packet, as the runtime does.
    let mut buf = Vec::with_capacity(wire.len());
    group.bench_function("encode", |b| {
        b.iter(|| {
            buf.clear();
            black_box(packet).encode(&mut buf).unwrap();
            black_box(buf.len())
        });
    });

    let frame = Bytes::from(wire.clone());
    group.bench_function("decode", |b| {
        b.iter(|| Packet::decode(black_box(frame.clone())).unwrap());
    });

    // The streaming path: many packets in one read, as a socket delivers them.
    let batch: Vec<u8> = wire.iter().copied().cycle().take(wire.len() * 16).collect();
    let mut decoder = Decoder::new();
    group.throughput(Throughput::Bytes(batch.len() as u64));
    group.bench_function("stream_decode_x16", |b| {
        b.iter(|| {
            decoder.feed(black_box(&batch));
            let mut n = 0;
            while let Some(p) = decoder.next_packet().unwrap() {
                black_box(p);
                n += 1;
            }
            assert_eq!(n, 16);
        });
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_packet(c, "publish_64B", &publish(64));
    bench_packet(c, "publish_64KiB", &publish(64 * 1024));
    bench_packet(c, "connect_all_properties", &connect_with_every_property());
}

criterion_group!(codec, benches);
criterion_main!(codec);
