//! Checks the test harness itself (tests/support): a private Mosquitto and the fake broker,
//! driven with raw packets from midge's codec only.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use midge::codec::{
    ByteString, Bytes, ConnAck, Connect, ConnectReasonCode, Decoder, Disconnect,
    DisconnectReasonCode, Packet, Properties,
};
use support::TIMEOUT;
use support::fake_broker::FakeBroker;
use support::mosquitto::Mosquitto;

/// A raw MQTT client: a socket and a decoder.
struct RawClient {
    stream: TcpStream,
    decoder: Decoder,
}

impl RawClient {
    fn connect(addr: std::net::SocketAddr) -> Self {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        Self {
            stream,
            decoder: Decoder::new(),
        }
    }

    fn send(&mut self, packet: &Packet) {
        let mut buf = Vec::new();
        packet.encode(&mut buf).unwrap();
        self.stream.write_all(&buf).unwrap();
    }

    /// The next packet, `None` on end of stream; panics on timeout.
    fn recv(&mut self) -> Option<Packet> {
        let deadline = Instant::now() + TIMEOUT;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(p) = self.decoder.next_packet().unwrap() {
                return Some(p);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no packet within {TIMEOUT:?}");
            self.stream.set_read_timeout(Some(left)).unwrap();
            match self.stream.read(&mut buf) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.feed(&buf[..n]),
            }
        }
    }
}

fn connect_packet(id: &str, credentials: Option<(&str, &str)>) -> Packet {
    Packet::Connect(Box::new(Connect {
        clean_start: true,
        keep_alive: 30,
        client_id: ByteString::from(id),
        username: credentials.map(|(u, _)| ByteString::from(u)),
        password: credentials.map(|(_, p)| Bytes::copy_from_slice(p.as_bytes())),
        ..Connect::default()
    }))
}

/// CONNECT then the CONNACK's reason code.
fn handshake(broker: &Mosquitto, id: &str, credentials: Option<(&str, &str)>) -> ConnectReasonCode {
    let mut c = RawClient::connect(broker.addr());
    c.send(&connect_packet(id, credentials));
    match c.recv() {
        Some(Packet::ConnAck(ack)) => ack.reason_code,
        other => panic!("expected CONNACK, got {other:?}\n{}", broker.log()),
    }
}

#[test]
fn mosquitto_accepts_an_mqtt5_connect() {
    let broker = Mosquitto::builder()
        .extra_config("max_keepalive 60")
        .start();
    assert_ne!(broker.port(), 1883);
    assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.port()));
    assert!(broker.pid().is_some());
    assert_eq!(
        handshake(&broker, "selftest", None),
        ConnectReasonCode::Success
    );
    assert!(
        support::wait_until(TIMEOUT, || broker.log().contains("selftest")),
        "{}",
        broker.log()
    );
}

#[test]
fn mosquitto_restarts_on_the_same_port() {
    let mut broker = Mosquitto::builder().persistence(true).start();
    let port = broker.port();
    let first = broker.pid();
    broker.restart();
    assert_eq!(broker.port(), port);
    assert_ne!(broker.pid(), first);
    // SIGTERM made it write its database.
    assert!(
        broker.dir().join("mosquitto.db").exists(),
        "{}",
        broker.log()
    );
    assert_eq!(
        handshake(&broker, "after-restart", None),
        ConnectReasonCode::Success
    );

    broker.kill();
    assert!(broker.pid().is_none());
    assert!(TcpStream::connect(broker.addr()).is_err());
    broker.restart();
    assert_eq!(broker.port(), port);
    assert_eq!(
        handshake(&broker, "after-kill", None),
        ConnectReasonCode::Success
    );
}

#[test]
fn mosquitto_with_a_password_refuses_anonymous_clients() {
    let broker = Mosquitto::builder().password("gateway", "s3cret").start();
    let anonymous = handshake(&broker, "anon", None);
    assert!(
        matches!(
            anonymous,
            ConnectReasonCode::NotAuthorized | ConnectReasonCode::BadUserNameOrPassword
        ),
        "{anonymous:?}"
    );
    let wrong = handshake(&broker, "wrong", Some(("gateway", "nope")));
    assert!(
        matches!(
            wrong,
            ConnectReasonCode::NotAuthorized | ConnectReasonCode::BadUserNameOrPassword
        ),
        "{wrong:?}"
    );
    assert_eq!(
        handshake(&broker, "right", Some(("gateway", "s3cret"))),
        ConnectReasonCode::Success
    );
}

#[test]
fn fake_broker_round_trip() {
    let broker = FakeBroker::start();
    assert_eq!(broker.url(), format!("mqtt://127.0.0.1:{}", broker.port()));
    let mut client = RawClient::connect(broker.addr());
    let mut conn = broker.accept(TIMEOUT).unwrap();

    client.send(&connect_packet("fake", None));
    let connect = conn.expect_connect(TIMEOUT);
    assert_eq!(connect.client_id, "fake");
    assert!(connect.clean_start);

    let ack = Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    });
    conn.send(&ack);
    assert_eq!(client.recv(), Some(ack));

    // A timeout is an error that leaves the connection usable, partial packets included.
    let start = Instant::now();
    assert!(conn.recv_packet(Duration::from_millis(50)).is_err());
    assert!(start.elapsed() < Duration::from_secs(1));
    client.stream.write_all(&[0xC0]).unwrap();
    assert!(conn.recv_packet(Duration::from_millis(50)).is_err());
    client.stream.write_all(&[0x00]).unwrap();
    assert_eq!(conn.recv_packet(TIMEOUT).unwrap(), Packet::PingReq);

    conn.send_raw(&[0xD0, 0x00]);
    assert_eq!(client.recv(), Some(Packet::PingResp));

    // The client says goodbye and hangs up: expect_closed skips the DISCONNECT.
    let bye = Packet::Disconnect(Disconnect::new(DisconnectReasonCode::NormalDisconnection));
    client.send(&bye);
    drop(client);
    assert_eq!(conn.expect_closed(TIMEOUT), vec![bye]);
    assert!(conn.recv_packet(TIMEOUT).is_err());

    // A broker-side close is seen by the client; the next connection is accepted.
    let mut client = RawClient::connect(broker.addr());
    let conn = broker.accept(TIMEOUT).unwrap();
    conn.close();
    assert_eq!(client.recv(), None);
    assert!(broker.accept(Duration::from_millis(20)).is_err());
}
