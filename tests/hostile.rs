//! A hostile broker: what a broken or malicious server could send, and proof that midge stays
//! bounded: its buffers (measured by `Client::memory_stats`, not RSS), its reconnection rate,
//! the reason code of the DISCONNECT it answers with, and the text it reports.
//!
//! Each test scripts a raw TCP server on an ephemeral port of 127.0.0.1; waits are bounded
//! (`TIMEOUT`), never sleeps used as synchronisation.

mod support;

use std::time::{Duration, Instant};

use midge::codec::{
    ByteString, Bytes, Disconnect, DisconnectReasonCode, Packet, Properties, Property, QoS,
};
use midge::protocol::DisconnectCause;
use midge::runtime::{Client, ClientEvent, ClientOptions, LogLevel, ReconnectPolicy};
use support::TIMEOUT;
use support::fake_broker::{connack, publish_packet};
use support::hostile_server::{FloodEnd, HostileConn, HostileServer};

/// The default budget's bounds (16 MiB: 4 MiB per incoming packet, 2 MiB of write backlog).
const DEFAULT_MAX_PACKET: u32 = 4 * 1024 * 1024;
const DEFAULT_WRITE_BUDGET: usize = 2 * 1024 * 1024;
/// One read (64 KiB) and a little: what a buffer may hold beyond its bound.
const SLACK: usize = 128 * 1024;

fn options(id: &str) -> ClientOptions {
    support::client_options(id)
}

/// A client connected to `server`, whose CONNECT is returned.
fn connected(server: &HostileServer, opts: ClientOptions) -> (Client, HostileConn, Packet) {
    let client = Client::new(&server.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = server.accept(TIMEOUT).unwrap();
    let connect = conn.recv_packet(TIMEOUT).unwrap();
    conn.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    (client, conn, connect)
}

fn expect_lost(client: &Client) -> DisconnectCause {
    loop {
        match client
            .next_event(TIMEOUT)
            .expect("an event within the timeout")
        {
            ClientEvent::ConnectionLost(cause) => return cause,
            ClientEvent::Connected(_) | ClientEvent::Log { .. } | ClientEvent::Message(_) => {}
            other => panic!("expected ConnectionLost, got {other:?}"),
        }
    }
}

/// The fixed header of a PUBLISH (QoS 0) announcing `remaining` bytes.
fn publish_header(remaining: u32) -> Vec<u8> {
    let mut out = vec![0x30];
    let mut x = remaining;
    loop {
        let mut b = (x % 128) as u8;
        x /= 128;
        if x > 0 {
            b |= 0x80;
        }
        out.push(b);
        if x == 0 {
            return out;
        }
    }
}

// ============================================================== 1. one huge packet

/// A 256 MB Remaining Length with the default options: the CONNECT told the server our
/// Maximum Packet Size ([MQTT-3.1.2-24]: the server must not send more), and a packet
/// beyond it gets DISCONNECT 0x95 Packet too large without being buffered.
#[test]
fn a_huge_packet_gets_0x95_and_is_never_buffered() {
    let server = HostileServer::start(None);
    let (client, mut conn, connect) = connected(&server, options("huge"));
    let Packet::Connect(connect) = connect else {
        panic!("expected CONNECT, got {connect:?}");
    };
    assert_eq!(
        connect
            .properties
            .get(midge::codec::PropertyId::MaximumPacketSize),
        Some(&Property::MaximumPacketSize(DEFAULT_MAX_PACKET)),
        "the default budget's Maximum Packet Size goes out in CONNECT [MQTT-3.1.2-24]"
    );
    // The header, then 8 MiB of the body, as fast as the client takes it.
    let header = publish_header(256 * 1024 * 1024 - 1);
    conn.send_raw(&header);
    let (end, written) = conn.flood(
        &[0u8; 4096],
        8 * 1024 * 1024,
        Instant::now() + TIMEOUT,
        || false,
    );
    let p = conn
        .recv_until(TIMEOUT, |p| matches!(p, Packet::Disconnect(_)))
        .unwrap_or_else(|e| {
            panic!(
                "flood {end:?} after {written} bytes, no DISCONNECT ({e}): {:?}",
                client.memory_stats()
            )
        });
    let stats = client.memory_stats();
    assert!(
        stats.peak_read_buffer <= DEFAULT_MAX_PACKET as usize + SLACK,
        "flood {end:?} after {written} bytes: the receive buffer reached {} bytes",
        stats.peak_read_buffer
    );
    assert_eq!(
        p,
        Packet::Disconnect(Disconnect::new(DisconnectReasonCode::PacketTooLarge))
    );
    let cause = expect_lost(&client);
    let DisconnectCause::ProtocolError {
        reason_code: DisconnectReasonCode::PacketTooLarge,
        detail,
    } = &cause
    else {
        panic!("expected 0x95, got {cause:?}");
    };
    assert!(
        detail.contains("268435"),
        "the detail names the size: {detail}"
    );
    assert!(
        detail.contains("memory budget"),
        "and what to change: {detail}"
    );
}

/// After a large packet the receive buffer gives its memory back: a reconnection (or the
/// next small packet) does not keep the peak.
#[test]
fn the_receive_buffer_shrinks_after_a_large_packet() {
    let server = HostileServer::start(None);
    let mut opts = options("shrink");
    opts.session.maximum_packet_size = Some(3 * 1024 * 1024);
    let (client, mut conn, _) = connected(&server, opts);
    let big = Bytes::from(vec![7u8; 3 * 1024 * 1024 - 100]);
    conn.send(&publish_packet(
        "t",
        QoS::AtMostOnce,
        0,
        big,
        Properties::new(),
    ));
    conn.send(&publish_packet(
        "t",
        QoS::AtMostOnce,
        0,
        Bytes::from_static(b"small"),
        Properties::new(),
    ));
    let mut sizes = Vec::new();
    while sizes.len() < 2 {
        if let ClientEvent::Message(m) = client.next_event(TIMEOUT).expect("the messages") {
            sizes.push(m.payload.len());
        }
    }
    assert_eq!(sizes, [3 * 1024 * 1024 - 100, 5]);
    let stats = client.memory_stats();
    assert!(stats.peak_read_buffer >= 3 * 1024 * 1024 - 100, "{stats:?}");
    assert!(
        stats.read_buffer <= SLACK,
        "the receive buffer keeps {} bytes after the large packet",
        stats.read_buffer
    );
}

// ============================================================== 4. a backoff that holds

/// A broker that accepts, answers CONNACK and drops the connection at once: the delay before
/// each reconnection still grows (it resets only after a connection stayed up for a while),
/// so the connection rate stays within the backoff's.
#[test]
fn connack_then_drop_does_not_reset_the_backoff() {
    let server = HostileServer::start(None);
    let mut opts = options("flap");
    opts.reconnect = ReconnectPolicy {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(2),
        ..ReconnectPolicy::default()
    };
    let client = Client::new(&server.url(), opts).unwrap();
    let _ = client.connect();
    let mut attempts = Vec::new();
    while attempts.len() < 5 {
        let mut conn = server.accept(TIMEOUT).unwrap();
        conn.recv_packet(TIMEOUT).unwrap();
        conn.send(&connack(Properties::new()));
        conn.close();
        loop {
            match client
                .next_event(TIMEOUT)
                .expect("an event within the timeout")
            {
                ClientEvent::Reconnecting { attempt, delay } => {
                    attempts.push((attempt, delay));
                    break;
                }
                ClientEvent::Connected(_) | ClientEvent::ConnectionLost(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    let numbers: Vec<u32> = attempts.iter().map(|a| a.0).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5], "{attempts:?}");
    for (n, (_, delay)) in attempts.iter().enumerate() {
        // initial * 2^n, jittered into [half, full).
        let full = Duration::from_millis(10) * 2u32.pow(n as u32);
        assert!(
            *delay >= full / 2 && *delay < full,
            "attempt {n}: {delay:?}"
        );
    }
}

// ============================================================== 2. a server that never reads

/// PUBREL for a packet identifier we never received: each is answered with PUBCOMP 0x92
/// (4.3.3), 5 bytes of reply for 4 bytes of input.
const PUBREL_UNKNOWN: [u8; 4] = [0x62, 0x02, 0x12, 0x34];

/// Floods PUBRELs without reading a byte of the replies; returns the cause the application
/// was told and the client's memory figures.
fn flood_pubrel_without_reading(
    keep_alive: u16,
    stall: Duration,
) -> (
    Option<DisconnectCause>,
    midge::runtime::MemoryStats,
    FloodEnd,
    usize,
) {
    let server = HostileServer::start(Some(16 * 1024));
    let mut opts = options("never-reads");
    opts.session.keep_alive = keep_alive;
    opts.session.write_stall_timeout = stall;
    opts.tcp.send_buffer_size = Some(16 * 1024);
    opts.tcp.recv_buffer_size = Some(16 * 1024);
    let (client, mut conn, _) = connected(&server, opts);
    let mut cause = None;
    let (end, written) = conn.flood(
        &PUBREL_UNKNOWN,
        4 * 1024 * 1024,
        Instant::now() + TIMEOUT,
        || {
            while let Some(e) = client.next_event(Duration::ZERO) {
                if let ClientEvent::ConnectionLost(c) = e {
                    cause = Some(c);
                }
            }
            cause.is_some()
        },
    );
    if end == FloodEnd::Done {
        // Everything went into the socket: let the client read it before measuring.
        support::wait_until(TIMEOUT, || {
            client.io_stats().bytes_received >= written as u64
                && client.memory_stats().write_backlog > 0
        });
    } else if cause.is_none() {
        cause = Some(expect_lost(&client));
    }
    (cause, client.memory_stats(), end, written)
}

/// [MQTT-4.13.1-1] aside, nothing in the standard lets a server make a client hold its
/// replies without bound: with keep alive off, midge stops reading once its write backlog
/// reaches the budget's write share (backpressure: TCP holds the server back), and after
/// `write_stall_timeout` without progress it disconnects with 0x97 Quota exceeded.
#[test]
fn a_server_that_floods_pubrel_and_never_reads_is_held_back_then_dropped() {
    let (cause, stats, end, written) = flood_pubrel_without_reading(0, Duration::from_millis(300));
    assert!(
        stats.peak_write_backlog <= DEFAULT_WRITE_BUDGET + SLACK,
        "flood {end:?} after {written} bytes: {} bytes of replies queued",
        stats.peak_write_backlog
    );
    assert_ne!(end, FloodEnd::Done, "the client read all {written} bytes");
    let cause = cause.expect("the application is told");
    let DisconnectCause::ProtocolError {
        reason_code: DisconnectReasonCode::QuotaExceeded,
        detail,
    } = &cause
    else {
        panic!("expected 0x97, got {cause:?}");
    };
    assert!(detail.contains("read none of ours"), "{detail}");
    assert!(detail.contains("memory budget"), "{detail}");
}

/// With keep alive on, the same server is dropped within 1.5 keep alives at most.
#[test]
fn with_keep_alive_a_server_that_never_reads_is_dropped_within_it() {
    let (cause, stats, end, written) = flood_pubrel_without_reading(1, Duration::from_secs(30));
    assert!(
        stats.peak_write_backlog <= DEFAULT_WRITE_BUDGET + SLACK,
        "flood {end:?} after {written} bytes: {} bytes of replies queued",
        stats.peak_write_backlog
    );
    let cause = cause.expect("the application is told");
    assert!(
        matches!(
            cause,
            DisconnectCause::ProtocolError {
                reason_code: DisconnectReasonCode::QuotaExceeded,
                ..
            }
        ),
        "{cause:?}"
    );
}

// ============================================================== 7. a 60 KB Reason String

/// A 60 KB Reason String (allowed: 3.14.2.2.3 bounds it only by the packet size) reaches the
/// application whole through the accessors, but the detail text and the log line carry at
/// most 256 bytes of it, cut at a character boundary with a marker.
#[test]
fn a_huge_reason_string_is_bounded_in_detail_and_logs_but_whole_in_properties() {
    let server = HostileServer::start(None);
    let mut opts = options("reason");
    opts.log_level = LogLevel::Warn;
    let (client, mut conn, _) = connected(&server, opts);
    // Multi-byte characters, so that a cut at a byte count would split one.
    let reason: String = "é".repeat(30_000);
    conn.send(&Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::ServerBusy,
        properties: Properties::new()
            .with(Property::ReasonString(ByteString::from(reason.as_str()))),
    }));
    let mut cause = None;
    let mut log = Vec::new();
    while cause.is_none() || log.is_empty() {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::ConnectionLost(c) => cause = Some(c),
            ClientEvent::Log { message, .. } => log.push(message),
            _ => {}
        }
    }
    let cause = cause.unwrap();
    let DisconnectCause::Server { reason_string, .. } = &cause else {
        panic!("{cause:?}");
    };
    assert_eq!(
        reason_string.as_deref(),
        Some(reason.as_str()),
        "the accessor has it all"
    );
    let detail = cause.to_string();
    assert!(detail.len() <= 400, "{} bytes of detail", detail.len());
    assert!(detail.contains("\u{2026}"), "{detail}");
    assert!(
        detail.contains("60000 bytes"),
        "the marker says how long it was: {detail}"
    );
    for line in &log {
        assert!(line.len() <= 400, "a log line of {} bytes", line.len());
    }
}
