//! A scripted broker: a TCP listener on 127.0.0.1 whose connections the test drives packet by
//! packet (or byte by byte), to provoke what a real broker will not do on demand.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use midge::codec::{Connect, Decoder, Packet, ProtocolVersion};

/// A successful CONNACK (no session present) with `properties`.
pub fn connack(properties: midge::codec::Properties) -> Packet {
    Packet::ConnAck(midge::codec::ConnAck {
        session_present: false,
        reason_code: midge::codec::ConnectReasonCode::Success,
        properties,
    })
}

/// A PUBLISH as a broker sends it (no DUP, no RETAIN).
pub fn publish_packet(
    topic: &str,
    qos: midge::codec::QoS,
    packet_id: u16,
    payload: midge::codec::Bytes,
    properties: midge::codec::Properties,
) -> Packet {
    Packet::Publish(midge::codec::Publish {
        dup: false,
        qos,
        retain: false,
        topic: midge::codec::ByteString::from(topic),
        packet_id,
        properties,
        payload,
    })
}

/// The listening side. Connections are taken one at a time with [`FakeBroker::accept`].
#[derive(Debug)]
pub struct FakeBroker {
    listener: TcpListener,
    addr: SocketAddr,
}

impl FakeBroker {
    /// Listens on an ephemeral port of 127.0.0.1.
    pub fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the fake broker");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("fake broker address");
        Self { listener, addr }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The next incoming connection, waiting at most `timeout`.
    pub fn accept(&self, timeout: Duration) -> Result<FakeConn, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    stream
                        .set_nonblocking(false)
                        .map_err(|e| format!("blocking stream: {e}"))?;
                    let _ = stream.set_nodelay(true);
                    return Ok(FakeConn {
                        stream,
                        peer,
                        decoder: Decoder::new(),
                        version: ProtocolVersion::V5,
                    });
                }
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted =>
                {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(format!(
                            "fake broker {}: no connection within {timeout:?}",
                            self.addr
                        ));
                    }
                    std::thread::sleep((deadline - now).min(Duration::from_millis(5)));
                }
                Err(e) => return Err(format!("fake broker {}: accept: {e}", self.addr)),
            }
        }
    }
}

/// One accepted connection, seen from the broker's side.
#[derive(Debug)]
pub struct FakeConn {
    stream: TcpStream,
    peer: SocketAddr,
    decoder: Decoder,
    /// What it decodes and encodes (5.0 unless [`FakeConn::set_version`] says otherwise).
    version: ProtocolVersion,
}

/// What one bounded read produced.
enum ReadOutcome {
    Data,
    Eof,
    TimedOut,
}

impl FakeConn {
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Speaks `version` from now on: decodes the client's packets by its rules (a CONNECT
    /// of another Protocol Level is then an error) and encodes in its form.
    pub fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
        self.decoder.set_version(version);
    }

    /// Limits the size of packets accepted from the client (decode error beyond it).
    pub fn set_max_packet_size(&mut self, max: u32) {
        self.decoder.set_max_packet_size(max);
    }

    /// The next packet from the client. `Err` on timeout (the connection stays usable, any
    /// partial packet stays buffered), on end of stream, on a read error and on bytes that
    /// do not decode.
    pub fn recv_packet(&mut self, timeout: Duration) -> Result<Packet, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.decoder.next_packet() {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => {}
                Err(e) => return Err(format!("from {}: undecodable packet: {e}", self.peer)),
            }
            match self.read_some(deadline)? {
                ReadOutcome::Data => {}
                ReadOutcome::Eof => {
                    return Err(format!(
                        "from {}: connection closed by the client ({} bytes of a partial \
                         packet buffered)",
                        self.peer,
                        self.decoder.buffered()
                    ));
                }
                ReadOutcome::TimedOut => {
                    return Err(format!(
                        "from {}: no packet within {timeout:?} ({} bytes buffered)",
                        self.peer,
                        self.decoder.buffered()
                    ));
                }
            }
        }
    }

    /// Receives a packet and panics unless it is a CONNECT; returns it.
    pub fn expect_connect(&mut self, timeout: Duration) -> Connect {
        match self.recv_packet(timeout) {
            Ok(Packet::Connect(c)) => *c,
            Ok(other) => panic!("expected CONNECT, got {other:?}"),
            Err(e) => panic!("expected CONNECT: {e}"),
        }
    }

    /// Takes the CONNECT and answers it with a successful CONNACK; returns the CONNECT.
    pub fn accept_session(&mut self, timeout: Duration) -> Connect {
        let connect = self.expect_connect(timeout);
        self.send(&connack(midge::codec::Properties::new()));
        connect
    }

    /// Asserts that nothing arrives for `period` (and the connection stays open).
    pub fn expect_silence(&mut self, period: Duration) {
        match self.recv_packet(period) {
            Ok(p) => panic!("expected nothing for {period:?}, got {p:?}"),
            Err(e) if e.contains("no packet within") => {}
            Err(e) => panic!("expected silence for {period:?}: {e}"),
        }
    }

    /// Encodes and sends one packet; panics if it cannot be written.
    pub fn send(&mut self, packet: &Packet) {
        let mut buf = Vec::new();
        packet
            .encode_as(self.version, &mut buf)
            .unwrap_or_else(|e| panic!("encode {packet:?}: {e}"));
        self.send_raw(&buf);
    }

    /// Sends bytes as they are; panics if they cannot be written.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .unwrap_or_else(|e| panic!("send {} bytes to {}: {e}", bytes.len(), self.peer));
    }

    /// Asserts that the client closes the connection within `timeout`. Packets that arrive
    /// first (a DISCONNECT, a late PINGREQ) are skipped and returned; bytes that do not
    /// decode and a timeout make it panic. A reset counts as closed.
    pub fn expect_closed(&mut self, timeout: Duration) -> Vec<Packet> {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            match self.decoder.next_packet() {
                Ok(Some(p)) => {
                    skipped.push(p);
                    continue;
                }
                Ok(None) => {}
                Err(e) => panic!("expected close from {}: undecodable packet: {e}", self.peer),
            }
            match self.read_some(deadline) {
                Ok(ReadOutcome::Data) => {}
                Ok(ReadOutcome::Eof) | Err(_) => return skipped,
                Ok(ReadOutcome::TimedOut) => panic!(
                    "the client {} did not close the connection within {timeout:?} (after \
                     {skipped:?})",
                    self.peer
                ),
            }
        }
    }

    /// Closes the connection from the broker's side, as a dropped network would.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Reads whatever is available into the decoder, waiting until `deadline` at most.
    fn read_some(&mut self, deadline: Instant) -> Result<ReadOutcome, String> {
        let mut buf = [0u8; 8192];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(ReadOutcome::TimedOut);
            }
            // A zero read timeout is an error; at least a millisecond.
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(wait))
                .map_err(|e| format!("set read timeout: {e}"))?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(ReadOutcome::Eof),
                Ok(n) => {
                    self.decoder.feed(&buf[..n]);
                    return Ok(ReadOutcome::Data);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read from {}: {e}", self.peer)),
            }
        }
    }
}
