//! The byte stream the I/O thread polls, and the non-blocking ways to open one.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::Path;

use mio::event::Source;
#[cfg(any(feature = "tls", feature = "websocket"))]
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use socket2::{Domain, Protocol, Socket, Type};
#[cfg(feature = "tls")]
use std::os::fd::AsRawFd;

/// Socket options for TCP connections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpOptions {
    /// `TCP_NODELAY`: send small packets at once (on by default: MQTT is request/response
    /// and midge coalesces its own writes, so Nagle only adds latency).
    pub nodelay: bool,
    /// `SO_SNDBUF`, when set.
    pub send_buffer_size: Option<usize>,
    /// `SO_RCVBUF`, when set.
    pub recv_buffer_size: Option<usize>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            send_buffer_size: None,
            recv_buffer_size: None,
        }
    }
}

/// A connected (or connecting) non-blocking byte stream.
#[derive(Debug)]
pub enum Stream {
    /// TCP over IPv4 or IPv6.
    Tcp(mio::net::TcpStream),
    /// A Unix domain socket, or one end of a [`pipe`].
    Unix(mio::net::UnixStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
    /// WebSocket over TCP or TLS.
    #[cfg(feature = "websocket")]
    Ws(Box<super::ws::WsStream>),
}

/// Starts a non-blocking TCP connect to `addr`. The stream becomes writable when the
/// connect ends; then [`connect_finished`] tells how.
pub fn connect_start(addr: &SocketAddr, options: &TcpOptions) -> io::Result<Stream> {
    let socket = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    socket.set_tcp_nodelay(options.nodelay)?;
    // Buffer sizes before connect, so the window scale is negotiated for them.
    if let Some(size) = options.send_buffer_size {
        socket.set_send_buffer_size(size)?;
    }
    if let Some(size) = options.recv_buffer_size {
        socket.set_recv_buffer_size(size)?;
    }
    match socket.connect(&(*addr).into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    let std: std::net::TcpStream = socket.into();
    Ok(Stream::Tcp(mio::net::TcpStream::from_std(std)))
}

/// Connects to a Unix domain socket (local connects finish at once or fail).
pub fn connect_unix(path: &Path) -> io::Result<Stream> {
    mio::net::UnixStream::connect(path).map(Stream::Unix)
}

/// Whether a connect started by [`connect_start`] or [`connect_unix`] has finished:
/// `Ok(true)` connected, `Ok(false)` still in progress (a spurious wake-up), `Err` failed.
/// For TLS and WebSocket streams, whether the TCP connect has; [`connect_progress`] moves
/// their handshakes on.
pub fn connect_finished(stream: &Stream) -> io::Result<bool> {
    let (error, peer) = match stream {
        Stream::Tcp(s) => (s.take_error()?, s.peer_addr().map(drop)),
        Stream::Unix(s) => (s.take_error()?, s.peer_addr().map(drop)),
        #[cfg(feature = "tls")]
        Stream::Tls(s) => return tcp_connected(&s.sock),
        #[cfg(feature = "websocket")]
        Stream::Ws(_) => {
            return Err(io::Error::other(
                "connect_finished cannot tell for WebSocket; use connect_progress",
            ));
        }
    };
    finished(error, peer)
}

/// Moves a connect on after the poller reported the stream: the TCP connect, then the TLS
/// handshake, then the WebSocket upgrade. `Ok(true)` once the stream carries MQTT bytes,
/// `Ok(false)` while a step waits for the network, `Err` when a step failed (a TLS failure
/// carries a [`super::HandshakeError`]). Never blocks.
pub fn connect_progress(stream: &mut Stream) -> io::Result<bool> {
    match stream {
        Stream::Tcp(_) | Stream::Unix(_) => connect_finished(stream),
        #[cfg(feature = "tls")]
        Stream::Tls(s) => s.progress(),
        #[cfg(feature = "websocket")]
        Stream::Ws(s) => s.progress(),
    }
}

/// Whether a non-blocking TCP connect has finished (see [`connect_finished`]).
#[cfg(any(feature = "tls", feature = "websocket"))]
pub(super) fn tcp_connected(s: &mio::net::TcpStream) -> io::Result<bool> {
    finished(s.take_error()?, s.peer_addr().map(drop))
}

fn finished(error: Option<io::Error>, peer: io::Result<()>) -> io::Result<bool> {
    if let Some(e) = error {
        return Err(e);
    }
    match peer {
        Ok(()) => Ok(true),
        Err(e)
            if e.kind() == io::ErrorKind::NotConnected
                || e.raw_os_error() == Some(libc::ENOTCONN) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// An in-memory pipe: two connected streams with no network underneath (a Unix socket
/// pair), for tests and for measuring the client without a broker.
pub fn pipe() -> io::Result<(Stream, Stream)> {
    let (a, b) = mio::net::UnixStream::pair()?;
    Ok((Stream::Unix(a), Stream::Unix(b)))
}

impl Stream {
    /// Shuts both directions down; the peer sees end of stream (after a TLS `close_notify` or
    /// a WebSocket close, when there is room for them). Errors (already closed) are of no
    /// interest.
    pub fn shutdown(&mut self) {
        let _ = match self {
            Self::Tcp(s) => s.shutdown(Shutdown::Both),
            Self::Unix(s) => s.shutdown(Shutdown::Both),
            #[cfg(feature = "tls")]
            Self::Tls(s) => {
                s.shutdown();
                Ok(())
            }
            #[cfg(feature = "websocket")]
            Self::Ws(s) => {
                s.shutdown();
                Ok(())
            }
        };
    }

    /// Bytes wait inside the stream (TLS records, WebSocket frames) for the socket to take
    /// them: the caller should wait for writability and then `flush`.
    pub fn wants_write(&self) -> bool {
        match self {
            Self::Tcp(_) | Self::Unix(_) => false,
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.wants_write(),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => s.wants_write(),
        }
    }

    /// What the connection is, for the log.
    pub fn describe(&self) -> String {
        match self {
            Self::Tcp(s) => match s.peer_addr() {
                Ok(a) => format!("TCP connect to {a} started"),
                Err(_) => "TCP connect started".into(),
            },
            Self::Unix(_) => "Unix socket connected".into(),
            #[cfg(feature = "tls")]
            Self::Tls(s) => match s.sock.peer_addr() {
                Ok(a) => format!("TLS connect to {a} started"),
                Err(_) => "TLS connect started".into(),
            },
            #[cfg(feature = "websocket")]
            Self::Ws(s) => format!("WebSocket connect started ({s:?})"),
        }
    }

    /// What the TLS handshake agreed (version, resumed, ALPN), once it is done.
    pub fn tls_summary(&self) -> Option<String> {
        match self {
            #[cfg(feature = "tls")]
            Self::Tls(s) => Some(s.summary()),
            #[cfg(all(feature = "tls", feature = "websocket"))]
            Self::Ws(s) => s.tls().map(super::tls::TlsStream::summary),
            _ => None,
        }
    }

    /// Has the kernel acknowledge what was just read at once instead of after its
    /// delayed-ACK timer (up to 40 ms on Linux). A server with Nagle's algorithm on (as
    /// Mosquitto by default) holds its next small packets until that acknowledgement: a
    /// window of QoS 1 PUBACKs then arrived 40 ms late (bench/README.md, `stock-qos1-64B`).
    /// Linux keeps quick-ack mode only for a while, so it is asked again after each read
    /// that needs it. Elsewhere a no-op.
    pub fn quick_ack(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(tcp) = self.tcp() {
            // Best effort: a socket that refuses only keeps the kernel's default.
            let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        }
    }

    /// The TCP socket under the stream (none for a Unix socket).
    fn tcp(&self) -> Option<&mio::net::TcpStream> {
        match self {
            Self::Tcp(s) => Some(s),
            Self::Unix(_) => None,
            #[cfg(feature = "tls")]
            Self::Tls(s) => Some(&s.sock),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => s.tcp(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.read(buf),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.write(buf),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write_vectored(bufs),
            Self::Unix(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.write_vectored(bufs),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => s.write_vectored(bufs),
        }
    }

    /// Writes what waits inside a TLS or WebSocket stream; `WouldBlock` (WebSocket) or `Ok`
    /// with [`Stream::wants_write`] still true (TLS) while the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(_) | Self::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.flush(),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => s.flush(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.register(registry, token, interests),
            Self::Unix(s) => s.register(registry, token, interests),
            #[cfg(feature = "tls")]
            Self::Tls(s) => SourceFd(&s.sock.as_raw_fd()).register(registry, token, interests),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => SourceFd(&s.raw_fd()).register(registry, token, interests),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.reregister(registry, token, interests),
            Self::Unix(s) => s.reregister(registry, token, interests),
            #[cfg(feature = "tls")]
            Self::Tls(s) => SourceFd(&s.sock.as_raw_fd()).reregister(registry, token, interests),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => SourceFd(&s.raw_fd()).reregister(registry, token, interests),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.deregister(registry),
            Self::Unix(s) => s.deregister(registry),
            #[cfg(feature = "tls")]
            Self::Tls(s) => SourceFd(&s.sock.as_raw_fd()).deregister(registry),
            #[cfg(feature = "websocket")]
            Self::Ws(s) => SourceFd(&s.raw_fd()).deregister(registry),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::Duration;

    use mio::{Events, Poll};

    use super::*;

    /// Waits (bounded) until `stream` reports `interest` on a fresh poller.
    fn wait_for(stream: &mut Stream, interest: Interest) {
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(stream, Token(0), interest)
            .unwrap();
        let mut events = Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert!(!events.is_empty(), "no readiness within 5 s");
        poll.registry().deregister(stream).unwrap();
    }

    fn read_exact_nb(stream: &mut Stream, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        let mut got = 0;
        while got < n {
            match stream.read(&mut out[got..]) {
                Ok(0) => panic!("end of stream"),
                Ok(k) => got += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => wait_for(stream, Interest::READABLE),
                Err(e) => panic!("{e}"),
            }
        }
        out
    }

    fn connect_and_echo(listen: &str) {
        let listener = std::net::TcpListener::bind(listen).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut stream = connect_start(&addr, &TcpOptions::default()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        wait_for(&mut stream, Interest::WRITABLE);
        assert!(connect_finished(&stream).unwrap());
        let Stream::Tcp(tcp) = &stream else {
            panic!("not TCP")
        };
        assert!(tcp.nodelay().unwrap(), "TCP_NODELAY is on by default");
        assert_eq!(stream.write(b"ping").unwrap(), 4);
        let mut buf = [0; 4];
        std::io::Read::read_exact(&mut server, &mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        std::io::Write::write_all(&mut server, b"pong").unwrap();
        assert_eq!(read_exact_nb(&mut stream, 4), b"pong");
        stream.shutdown();
        assert_eq!(std::io::Read::read(&mut server, &mut buf).unwrap(), 0);
    }

    #[test]
    fn tcp_ipv4() {
        connect_and_echo("127.0.0.1:0");
    }

    #[test]
    fn tcp_ipv6() {
        // Some CI containers have no IPv6 loopback: then there is nothing to test.
        if std::net::TcpListener::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback here; skipped");
            return;
        }
        connect_and_echo("[::1]:0");
    }

    #[test]
    fn refused_connect_is_an_error() {
        // A port that was free a moment ago: nothing listens on it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let mut stream = match connect_start(&addr, &TcpOptions::default()) {
            Ok(s) => s,
            Err(e) => return assert_eq!(e.kind(), ErrorKind::ConnectionRefused),
        };
        wait_for(&mut stream, Interest::WRITABLE);
        let e = connect_finished(&stream).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    }

    #[test]
    fn unix_socket() {
        let dir = std::env::temp_dir().join(format!("midge-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let mut stream = connect_unix(&path).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        assert!(connect_finished(&stream).unwrap());
        std::io::Write::write_all(&mut server, b"hi").unwrap();
        assert_eq!(read_exact_nb(&mut stream, 2), b"hi");
        assert!(connect_unix(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pipe_carries_bytes_both_ways() {
        let (mut a, mut b) = pipe().unwrap();
        assert!(connect_finished(&a).unwrap());
        a.write_all(b"abc").unwrap();
        assert_eq!(read_exact_nb(&mut b, 3), b"abc");
        b.write_all(b"de").unwrap();
        assert_eq!(read_exact_nb(&mut a, 2), b"de");
        a.shutdown();
        wait_for(&mut b, Interest::READABLE);
        assert_eq!(b.read(&mut [0; 4]).unwrap(), 0);
    }
}
