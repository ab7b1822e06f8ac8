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

/// The default budget's largest incoming packet (16 MiB: 4 MiB per incoming packet).
const DEFAULT_MAX_PACKET: u32 = 4 * 1024 * 1024;
/// The budget of the flood tests: 1 MiB, so 128 KiB of write backlog.
const FLOOD_BUDGET: midge::protocol::MemoryBudget =
    match midge::protocol::MemoryBudget::new(1 << 20) {
        Some(b) => b,
        None => panic!("1 MiB is a valid budget"),
    };
/// The bound on a flood, which a native build ends within a second or two.
const SLOW: Duration = Duration::from_secs(60);
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

/// Closing returns promptly, whatever the server did (the C API's `midge_client_free` waits
/// for the same close).
fn closes_promptly(client: &Client) {
    client
        .close()
        .wait(TIMEOUT)
        .expect("the client closes within the timeout");
}

fn expect_lost(client: &Client) -> DisconnectCause {
    expect_lost_within(client, TIMEOUT)
}

fn expect_lost_within(client: &Client, timeout: Duration) -> DisconnectCause {
    loop {
        match client
            .next_event(timeout)
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

/// What a flood left: the cause the application was told, the client's memory figures, how
/// the flood ended and the bytes it wrote.
type FloodOutcome = (
    Option<DisconnectCause>,
    midge::runtime::MemoryStats,
    FloodEnd,
    usize,
);

/// Floods PUBRELs without reading a byte of the replies.
fn flood_pubrel_without_reading(keep_alive: u16, stall: Duration) -> FloodOutcome {
    flood_without_reading(&PUBREL_UNKNOWN, keep_alive, stall)
}

/// Floods `unit` (a packet that needs a reply) without reading a byte of the replies.
fn flood_without_reading(unit: &[u8], keep_alive: u16, stall: Duration) -> FloodOutcome {
    let server = HostileServer::start(Some(16 * 1024));
    let mut opts = options("never-reads");
    opts.session.keep_alive = keep_alive;
    opts.session.write_stall_timeout = stall;
    // A small budget (128 KiB of write share): the same bound, reached with less work, so the
    // test stays short under valgrind too.
    opts.session.memory_budget = FLOOD_BUDGET;
    opts.tcp.send_buffer_size = Some(16 * 1024);
    opts.tcp.recv_buffer_size = Some(16 * 1024);
    let (client, mut conn, _) = connected(&server, opts);
    let mut cause = None;
    // The flood goes on while the client reads, however slowly (an instrumented build under
    // ASan or valgrind reads many times slower): it ends when the client stops reading for
    // good and says why, or at a bound far above what it takes.
    let (end, written) = conn.flood(unit, 1024 * 1024, Instant::now() + SLOW, || {
        while let Some(e) = client.next_event(Duration::ZERO) {
            if let ClientEvent::ConnectionLost(c) = e {
                cause = Some(c);
            }
        }
        cause.is_some()
    });
    if end == FloodEnd::Done {
        // Everything went into the socket: let the client read it before measuring.
        support::wait_until(TIMEOUT, || {
            client.io_stats().bytes_received >= written as u64
                && client.memory_stats().write_backlog > 0
        });
    } else if cause.is_none() {
        cause = Some(expect_lost_within(&client, SLOW));
    }
    let stats = client.memory_stats();
    closes_promptly(&client);
    (cause, stats, end, written)
}

/// [MQTT-4.13.1-1] aside, nothing in the standard lets a server make a client hold its
/// replies without bound: with keep alive off, midge stops reading once its write backlog
/// reaches the budget's write share (backpressure: TCP holds the server back), and after
/// `write_stall_timeout` without progress it disconnects with 0x97 Quota exceeded.
#[test]
fn a_server_that_floods_pubrel_and_never_reads_is_held_back_then_dropped() {
    let (cause, stats, end, written) = flood_pubrel_without_reading(0, Duration::from_millis(300));
    assert!(
        stats.peak_write_backlog <= FLOOD_BUDGET.write_buffer_bytes() + SLACK,
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

/// PUBREC for a packet identifier we never used: each is answered with PUBREL 0x92.
#[test]
fn a_server_that_floods_pubrec_and_never_reads_is_held_back_then_dropped() {
    let (cause, stats, end, written) =
        flood_without_reading(&[0x50, 0x02, 0x43, 0x21], 0, Duration::from_millis(300));
    assert!(
        stats.peak_write_backlog <= FLOOD_BUDGET.write_buffer_bytes() + SLACK,
        "flood {end:?} after {written} bytes: {} bytes of replies queued",
        stats.peak_write_backlog
    );
    assert!(
        matches!(
            cause,
            Some(DisconnectCause::ProtocolError {
                reason_code: DisconnectReasonCode::QuotaExceeded,
                ..
            })
        ),
        "{cause:?}"
    );
}

/// With keep alive on, the same server is dropped within 1.5 keep alives at most.
#[test]
fn with_keep_alive_a_server_that_never_reads_is_dropped_within_it() {
    let (cause, stats, end, written) = flood_pubrel_without_reading(1, Duration::from_secs(30));
    assert!(
        stats.peak_write_backlog <= FLOOD_BUDGET.write_buffer_bytes() + SLACK,
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
    closes_promptly(&client);
}

// ============================================================== the session on a virtual clock

mod sans_io {
    use std::time::{Duration, Instant};

    use midge::codec::{
        ConnAck, ConnectReasonCode, Decoder, DisconnectReasonCode, Packet, Properties,
    };
    use midge::protocol::{DisconnectCause, Event, MemoryBudget, Options, Session, State};

    fn connected(opts: Options, now: Instant) -> Session {
        let mut s = Session::new(opts, now);
        s.connection_opened(now);
        let mut out = Vec::new();
        s.take_transmit(&mut out);
        let mut bytes = Vec::new();
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::Success,
            properties: Properties::new(),
        })
        .encode(&mut bytes)
        .unwrap();
        s.handle_read(&bytes, now);
        assert_eq!(s.state(), State::Connected);
        while s.poll_event().is_some() {}
        s
    }

    fn sent(s: &mut Session) -> Vec<Packet> {
        let mut out = Vec::new();
        s.take_transmit(&mut out);
        let mut d = Decoder::new();
        d.feed(&out);
        std::iter::from_fn(|| d.next_packet().unwrap()).collect()
    }

    /// The runtime stopped reading (write backlog at the budget): the keep alive cannot
    /// judge a server we do not read, so the stall limit decides: `write_stall_timeout`, or
    /// 1.5 keep alives when shorter; then DISCONNECT 0x97 Quota exceeded (3.14.2.1).
    #[test]
    fn a_stall_longer_than_the_limit_ends_with_0x97_and_progress_resets_it() {
        let t0 = Instant::now();
        let opts = Options {
            keep_alive: 10,
            write_stall_timeout: Duration::from_secs(30),
            ..Options::default()
        };
        let mut s = connected(opts, t0);
        s.set_output_blocked(true, t0);
        assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(15)));
        // The server took some bytes at t0 + 10 s, then stalled again.
        let t1 = t0 + Duration::from_secs(10);
        s.set_output_blocked(false, t1);
        s.set_output_blocked(true, t1);
        s.handle_timeout(t0 + Duration::from_secs(15));
        assert_eq!(s.poll_timeout(), Some(t1 + Duration::from_secs(15)));
        assert_eq!(s.state(), State::Connected, "progress reset the stall");
        // Nor does the keep alive count the time we did not read: unblocked at t1, nothing
        // received since t0, the server is not judged lost at t0 + 16 s (1.5 keep alives
        // after t0) but 1.5 keep alives after t1.
        s.set_output_blocked(false, t1);
        let t16 = t0 + Duration::from_secs(16);
        s.handle_timeout(t16);
        assert_eq!(s.state(), State::Connected, "the keep alive ran from t1");
        let _ = sent(&mut s); // a PINGREQ
        s.set_output_blocked(true, t16);
        let t2 = t16 + Duration::from_secs(15);
        assert_eq!(s.poll_timeout(), Some(t2));
        s.handle_timeout(t2);
        assert_eq!(s.state(), State::Disconnected);
        assert_eq!(
            sent(&mut s),
            [Packet::Disconnect(midge::codec::Disconnect::new(
                DisconnectReasonCode::QuotaExceeded
            ))]
        );
        let events: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
        assert!(
            matches!(
                events.as_slice(),
                [Event::Disconnected(DisconnectCause::ProtocolError {
                    reason_code: DisconnectReasonCode::QuotaExceeded,
                    ..
                })]
            ),
            "{events:?}"
        );
    }

    /// A fixed-seed stream of random bytes after CONNACK, thousands of cases: no panic, the
    /// receive buffer stays within the budget's packet share (plus the decoder's keep), and
    /// every case ends connected or with a DISCONNECT reason code.
    #[test]
    fn random_post_connack_streams_never_panic_and_stay_bounded() {
        // First bytes of every packet type a server may send, and a few it may not.
        const FIRST: [u8; 14] = [
            0x30, 0x32, 0x34, 0x3B, 0x40, 0x50, 0x62, 0x70, 0x90, 0xB0, 0xD0, 0xE0, 0xF0, 0x20,
        ];
        let budget = MemoryBudget::new(midge::protocol::MEMORY_BUDGET_MIN).unwrap();
        let bound = budget.max_incoming_packet() as usize + 64 * 1024 + 4096;
        let mut seed: u64 = 0x5EED_1616;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let t0 = Instant::now();
        for case in 0..4000 {
            let opts = Options {
                memory_budget: budget,
                receive_maximum: 4,
                ..Options::default()
            };
            let mut s = connected(opts, t0);
            let len = (next() % 3000) as usize;
            let mut bytes = Vec::with_capacity(len);
            while bytes.len() < len {
                let r = next();
                if r % 4 == 0 {
                    // A plausible header: a valid first byte and a small or huge length.
                    bytes.push(FIRST[(r >> 8) as usize % FIRST.len()]);
                    let rl = if r % 32 == 0 {
                        0x7F_u8
                    } else {
                        (r >> 16) as u8 % 40
                    };
                    bytes.push(rl);
                } else {
                    bytes.push((r >> 24) as u8);
                }
            }
            let mut now = t0;
            for chunk in bytes.chunks(1 + (next() % 700) as usize) {
                s.handle_read(chunk, now);
                assert!(
                    s.read_buffer_capacity() <= bound,
                    "case {case}: {} bytes buffered",
                    s.read_buffer_capacity()
                );
                while s.poll_event().is_some() {}
                now += Duration::from_millis(10);
                s.handle_timeout(now);
            }
            let mut out = Vec::new();
            s.take_transmit(&mut out);
            assert!(
                out.len() < 64 * 1024,
                "case {case}: {} bytes of replies",
                out.len()
            );
        }
    }
}

// ============================================================== 6. FIN without reconnect

/// With automatic reconnect off, a FIN from the server is reported at once (before the
/// reactor's fix nothing was reported within 5 s with keep alive off).
#[test]
fn a_fin_is_reported_with_reconnect_off() {
    let server = HostileServer::start(None);
    let mut opts = options("fin");
    opts.session.keep_alive = 0;
    let (client, conn, _) = connected(&server, opts);
    conn.close();
    let cause = expect_lost(&client);
    assert!(
        matches!(cause, DisconnectCause::Transport { .. }),
        "{cause:?}"
    );
    closes_promptly(&client);
}
