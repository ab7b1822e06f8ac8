//! The client's publish path without a broker, to profile the library alone. Run with
//! `cargo bench --bench client`.
//!
//! - `session/*`: the sans-I/O session (no thread, no socket, no clock read): a publish
//!   checked, queued and encoded; for QoS 1 also the PUBACK decoded and the completion
//!   reported.
//! - `client/*`: the whole runtime (the caller's thread, the I/O thread, the session, the
//!   write to the socket) over a Unix socket to a peer thread that answers CONNECT and
//!   acknowledges QoS 1, and does nothing else: messages per second of the library alone.

use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use midge::codec::{
    ByteString, Bytes, ConnAck, ConnectReasonCode, Decoder, Packet, Properties, PubAck, QoS,
};
use midge::protocol::{Event, Options, PublishRequest, Session};
use midge::runtime::{Client, ClientOptions, ReconnectPolicy};

const TOPIC: &str = "sensors/gateway-17/temperature";

fn encode(packet: &Packet) -> Vec<u8> {
    let mut out = Vec::new();
    packet.encode(&mut out).expect("encodes");
    out
}

fn connack() -> Packet {
    Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    })
}

fn request(qos: QoS, payload: &Bytes) -> PublishRequest {
    PublishRequest {
        topic: ByteString::from_static(TOPIC),
        payload: payload.clone(),
        qos,
        retain: false,
        properties: Properties::new(),
        ..PublishRequest::default()
    }
}

/// A session past CONNACK.
fn connected_session(now: Instant, auto_topic_alias: bool) -> Session {
    let options = Options {
        auto_topic_alias,
        ..Options::default()
    };
    let mut session = Session::new(options, now);
    session.connection_opened(now);
    let mut sink = Vec::new();
    session.take_transmit(&mut sink);
    session.handle_read(&encode(&connack()), now);
    while session.poll_event().is_some() {}
    session
}

fn bench_session(c: &mut Criterion) {
    let now = Instant::now();
    let payload = Bytes::from(vec![0xA5; 64]);
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));

    let mut session = connected_session(now, true);
    let mut out = Vec::with_capacity(64 * 1024);
    group.bench_function("publish_qos0_64B", |b| {
        b.iter(|| {
            let id = session.publish(request(QoS::AtMostOnce, &payload), now);
            session.take_transmit(&mut out);
            black_box(&out);
            out.clear();
            while let Some(e) = session.poll_event() {
                black_box(e);
            }
            id
        });
    });

    // No topic alias, so that the packet id sits at a fixed place in the PUBLISH.
    let mut session = connected_session(now, false);
    group.bench_function("publish_qos1_64B_acked", |b| {
        let mut ack = Vec::new();
        b.iter(|| {
            session
                .publish(request(QoS::AtLeastOnce, &payload), now)
                .expect("accepted");
            session.take_transmit(&mut out);
            // The packet id is in the PUBLISH just encoded: after the fixed header (2 bytes
            // under 128 bytes) and the topic.
            let at = 2 + 2 + TOPIC.len();
            let packet_id = u16::from_be_bytes([out[at], out[at + 1]]);
            out.clear();
            ack.clear();
            Packet::PubAck(PubAck::new(packet_id))
                .encode(&mut ack)
                .expect("encodes");
            session.handle_read(&ack, now);
            let mut done = false;
            while let Some(e) = session.poll_event() {
                done |= matches!(e, Event::PublishComplete { .. });
            }
            assert!(done, "the PUBACK completes the publish");
        });
    });
    group.finish();
}

/// A peer on a Unix socket: CONNACK for CONNECT, PUBACK for QoS 1 PUBLISH, and a count of
/// the PUBLISHes received.
struct Peer {
    path: std::path::PathBuf,
    received: Arc<AtomicU64>,
}

impl Peer {
    fn start(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("midge-bench-{}-{name}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("binding the peer's socket");
        let received = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&received);
        std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut decoder = Decoder::new();
            let mut buf = vec![0u8; 256 * 1024];
            let mut replies = Vec::new();
            loop {
                let n = match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                decoder.feed(&buf[..n]);
                let mut publishes = 0;
                while let Ok(Some(packet)) = decoder.next_packet() {
                    match packet {
                        Packet::Connect(_) => {
                            connack().encode(&mut replies).expect("encodes");
                        }
                        Packet::Publish(p) => {
                            publishes += 1;
                            if p.qos == QoS::AtLeastOnce {
                                Packet::PubAck(PubAck::new(p.packet_id))
                                    .encode(&mut replies)
                                    .expect("encodes");
                            }
                        }
                        Packet::PingReq => {
                            Packet::PingResp.encode(&mut replies).expect("encodes");
                        }
                        _ => {}
                    }
                }
                if !replies.is_empty() {
                    if stream.write_all(&replies).is_err() {
                        return;
                    }
                    replies.clear();
                }
                count.fetch_add(publishes, Ordering::Release);
            }
        });
        Self { path, received }
    }

    fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    fn wait_for(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.received.load(Ordering::Acquire) < n {
            assert!(Instant::now() < deadline, "the peer stopped receiving");
            std::thread::yield_now();
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Publishes outstanding at a time in the `client` benchmarks.
const WINDOW: u64 = 1000;

fn wait_acked(last: &midge::runtime::Completion<midge::protocol::PublishAck>) {
    last.wait(Duration::from_secs(30)).expect("acknowledged");
}

fn bench_client(c: &mut Criterion) {
    let payload = Bytes::from(vec![0xA5; 64]);
    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(1));
    // midge's default (each publish written at once), then with a 1 ms linger (publishes
    // made while traffic flows are written together).
    for (suffix, linger) in [
        ("", Duration::ZERO),
        ("_linger_1ms", Duration::from_millis(1)),
    ] {
        let peer = Peer::start(if linger.is_zero() {
            "default"
        } else {
            "linger"
        });
        let client = Client::new(
            &peer.url(),
            ClientOptions {
                reconnect: ReconnectPolicy::disabled(),
                linger,
                ..ClientOptions::default()
            },
        )
        .expect("client");
        client
            .connect_and_wait(Duration::from_secs(10))
            .expect("connected to the peer");
        let mut sent = 0u64;

        // QoS 0: from the call until the peer has read it, at most WINDOW unread (what the
        // offline queue holds is bounded).
        group.bench_function(format!("publish_qos0_64B{suffix}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    if i % WINDOW == 0 {
                        peer.wait_for(sent + i.saturating_sub(WINDOW));
                    }
                    client
                        .publish_detached(request(QoS::AtMostOnce, &payload))
                        .expect("accepted");
                }
                sent += iters;
                peer.wait_for(sent);
                start.elapsed()
            });
        });

        // QoS 1: from the call until the last PUBACK completed its publish, WINDOW at a
        // time.
        group.bench_function(format!("publish_qos1_64B_acked{suffix}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let mut last = None;
                for i in 0..iters {
                    if i % WINDOW == 0
                        && let Some(last) = last.take()
                    {
                        wait_acked(&last);
                    }
                    last = Some(
                        client
                            .publish_request(request(QoS::AtLeastOnce, &payload))
                            .expect("accepted"),
                    );
                }
                if let Some(last) = last {
                    wait_acked(&last);
                }
                sent += iters;
                start.elapsed()
            });
        });
        client.close_and_join();
    }
    group.finish();
}

criterion_group!(benches, bench_session, bench_client);
criterion_main!(benches);
