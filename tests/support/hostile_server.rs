//! A scripted hostile server: raw TCP on an ephemeral port of 127.0.0.1, small socket
//! buffers on request, and writes that never block the test (a flood stops when the client
//! stops reading, and says how far it got). It plays what a broken or malicious broker
//! could send; the tests assert what midge does about it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use midge::codec::{Decoder, Packet};
use socket2::{Domain, Socket, Type};

/// The listening side.
#[derive(Debug)]
pub struct HostileServer {
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

impl HostileServer {
    /// Listens on 127.0.0.1:0. `buffers` sets `SO_RCVBUF` and `SO_SNDBUF` of the accepted
    /// connections (inherited from the listener), so that the kernel holds little: a server
    /// that does not read fills up soon, and a flood reaches the client, not a socket buffer.
    pub fn start(buffers: Option<usize>) -> Self {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        if let Some(size) = buffers {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
            socket.set_send_buffer_size(size).expect("SO_SNDBUF");
        }
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind the hostile server");
        socket.listen(16).expect("listen");
        socket.set_nonblocking(true).expect("non-blocking listener");
        let listener: std::net::TcpListener = socket.into();
        let addr = listener.local_addr().expect("address");
        Self { listener, addr }
    }

    /// `mqtt://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// The next connection, waiting at most `timeout`.
    pub fn accept(&self, timeout: Duration) -> Result<HostileConn, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                    let _ = stream.set_nodelay(true);
                    return Ok(HostileConn {
                        stream,
                        decoder: Decoder::new(),
                    });
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(format!("no connection within {timeout:?}"));
                    }
                    std::thread::sleep((deadline - now).min(Duration::from_millis(2)));
                }
                Err(e) => return Err(format!("accept: {e}")),
            }
        }
    }
}

/// How a flood ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodEnd {
    /// Everything asked for was written.
    Done,
    /// `stop` said so while the socket was full (the client stopped reading).
    Stopped,
    /// The client closed or reset the connection.
    Closed,
    /// The deadline passed with the socket full.
    TimedOut,
}

/// One accepted connection.
#[derive(Debug)]
pub struct HostileConn {
    stream: TcpStream,
    decoder: Decoder,
}

impl HostileConn {
    /// The next packet from the client within `timeout`.
    pub fn recv_packet(&mut self, timeout: Duration) -> Result<Packet, String> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 8192];
        loop {
            match self.decoder.next_packet() {
                Ok(Some(p)) => return Ok(p),
                Ok(None) => {}
                Err(e) => return Err(format!("undecodable packet from the client: {e}")),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no packet within {timeout:?}"));
            }
            self.stream
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))
                .map_err(|e| e.to_string())?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err("connection closed by the client".into()),
                Ok(n) => self.decoder.feed(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// The client's packets up to the first that `want` accepts, skipping the others
    /// (PUBCOMPs of a flood, a PINGREQ).
    pub fn recv_until(
        &mut self,
        timeout: Duration,
        want: impl Fn(&Packet) -> bool,
    ) -> Result<Packet, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let p = self.recv_packet(left)?;
            if want(&p) {
                return Ok(p);
            }
        }
    }

    /// Sends one packet (blocking, bounded by a write timeout).
    pub fn send(&mut self, packet: &Packet) {
        let mut buf = Vec::new();
        packet
            .encode(&mut buf)
            .expect("the server's packet encodes");
        self.send_raw(&buf);
    }

    /// Sends bytes as they are (blocking, bounded by a write timeout).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream
            .set_write_timeout(Some(super::TIMEOUT))
            .expect("write timeout");
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("send {} bytes: {e}", bytes.len()));
    }

    /// Writes `unit` over and over, up to `max_bytes` in all, without ever blocking: when the
    /// socket is full it asks `stop` (polling) until the socket takes more, `stop` holds,
    /// the connection closes, or `deadline` passes. Returns how it ended and the bytes
    /// written.
    pub fn flood(
        &mut self,
        unit: &[u8],
        max_bytes: usize,
        deadline: Instant,
        mut stop: impl FnMut() -> bool,
    ) -> (FloodEnd, usize) {
        self.stream.set_nonblocking(true).expect("non-blocking");
        let reps = (64 * 1024 / unit.len()).max(1);
        let chunk: Vec<u8> = unit.repeat(reps);
        let mut written = 0usize;
        let mut off = 0usize;
        let end = loop {
            if written >= max_bytes {
                break FloodEnd::Done;
            }
            match self.stream.write(&chunk[off..]) {
                Ok(0) => break FloodEnd::Closed,
                Ok(n) => {
                    written += n;
                    off = (off + n) % chunk.len();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if stop() {
                        break FloodEnd::Stopped;
                    }
                    if Instant::now() >= deadline {
                        break FloodEnd::TimedOut;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break FloodEnd::Closed,
            }
        };
        self.stream.set_nonblocking(false).expect("blocking");
        (end, written)
    }

    /// Closes from the server's side.
    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
