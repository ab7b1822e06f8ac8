//! MQTT over WebSocket (tungstenite), on TCP or TLS, without blocking.
//!
//! MQTT bytes travel in binary messages: what the runtime writes goes out in messages of at
//! most [`MESSAGE_MAX`] bytes, whatever the MQTT packet boundaries; what arrives is handed out
//! as a byte stream, whatever the message boundaries [MQTT-6.0.0-2]. The subprotocol `mqtt`
//! is asked for [MQTT-6.0.0-3]; pings are answered and a close is answered and reported as the
//! end of the stream.
//!
//! Like the TLS stream, a read returns less than the buffer only after the socket said
//! `WouldBlock` (or ended), which edge-triggered polling relies on.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Bytes, Message, WebSocket};

/// The largest binary message midge sends; a larger write is split.
pub const MESSAGE_MAX: usize = 64 * 1024;

/// What a WebSocket connection asks for in its upgrade request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsRequest {
    /// `ws://host:port/path` (also for `wss`: TLS is underneath, not tungstenite's).
    pub url: String,
    /// Extra HTTP headers on the upgrade (tokens, cookies).
    pub headers: Vec<(String, String)>,
}

/// The stream under the WebSocket: TCP, or TLS over TCP.
#[derive(Debug)]
pub enum Inner {
    Tcp(mio::net::TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
}

impl Inner {
    fn tcp(&self) -> &mio::net::TcpStream {
        match self {
            Self::Tcp(s) => s,
            #[cfg(feature = "tls")]
            Self::Tls(s) => &s.sock,
        }
    }

    fn progress(&mut self) -> io::Result<bool> {
        match self {
            Self::Tcp(s) => super::stream::tcp_connected(s),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.progress(),
        }
    }

    fn wants_write(&self) -> bool {
        match self {
            Self::Tcp(_) => false,
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.wants_write(),
        }
    }

    fn shutdown(&mut self) {
        match self {
            Self::Tcp(s) => {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.shutdown(),
        }
    }

    fn raw_fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }
}

impl Read for Inner {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Inner {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tcp(_) => Ok(()),
            #[cfg(feature = "tls")]
            Self::Tls(s) => s.flush(),
        }
    }
}

enum State {
    /// TCP (and TLS) still connecting.
    Below(Inner),
    Upgrading(MidHandshake<ClientHandshake<Inner>>),
    Open(WebSocket<Inner>),
    /// Between states, or after a failure.
    Gone,
}

/// A WebSocket client connection carrying MQTT.
pub struct WsStream {
    state: State,
    request: WsRequest,
    fd: RawFd,
    /// Received bytes not yet handed out, and how far they were.
    rbuf: Bytes,
    roff: usize,
    /// A close arrived (or the connection ended): reads give end of stream.
    closed: bool,
    /// Frames wait in tungstenite's buffer for the socket.
    pending: bool,
}

impl WsStream {
    /// The TCP socket under the WebSocket (and TLS), once connected.
    pub(super) fn tcp(&self) -> Option<&mio::net::TcpStream> {
        match &self.state {
            State::Below(inner) => Some(inner.tcp()),
            State::Open(ws) => Some(ws.get_ref().tcp()),
            State::Upgrading(_) | State::Gone => None,
        }
    }
}

impl fmt::Debug for WsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsStream")
            .field("url", &self.request.url)
            .finish_non_exhaustive()
    }
}

fn ws_error(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            io::Error::new(io::ErrorKind::ConnectionAborted, "WebSocket closed")
        }
        other => io::Error::new(io::ErrorKind::InvalidData, format!("WebSocket: {other}")),
    }
}

fn upgrade_error(e: tungstenite::Error) -> io::Error {
    use tungstenite::error::{Error as E, ProtocolError, SubProtocolError};
    match e {
        E::Io(e) => e,
        E::Http(response) => io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!(
                "the WebSocket upgrade was refused: HTTP {} (is the path right? are the \
                 headers the server needs there?)",
                response.status()
            ),
        ),
        E::Protocol(ProtocolError::SecWebSocketSubProtocolError(
            SubProtocolError::NoSubProtocol | SubProtocolError::InvalidSubProtocol,
        )) => io::Error::new(
            io::ErrorKind::InvalidData,
            "the WebSocket server did not accept the subprotocol \"mqtt\"",
        ),
        other => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WebSocket upgrade failed: {other}"),
        ),
    }
}

impl WsStream {
    pub fn new(inner: Inner, request: WsRequest) -> Self {
        Self {
            fd: inner.raw_fd(),
            state: State::Below(inner),
            request,
            rbuf: Bytes::new(),
            roff: 0,
            closed: false,
            pending: false,
        }
    }

    pub(super) fn raw_fd(&self) -> RawFd {
        self.fd
    }

    fn config() -> WebSocketConfig {
        // Incoming MQTT packets may be up to 256 MB; tungstenite's limits are per message
        // and the server chooses the message size, so only the frame limit stays.
        WebSocketConfig::default()
            .max_message_size(None)
            .max_frame_size(Some(256 << 20))
    }

    fn upgrade_request(&self) -> io::Result<tungstenite::handshake::client::Request> {
        let bad = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let mut request = self
            .request
            .url
            .as_str()
            .into_client_request()
            .map_err(|e| bad(format!("WebSocket URL {}: {e}", self.request.url)))?;
        let headers = request.headers_mut();
        headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        for (name, value) in &self.request.headers {
            let name = tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(format!("bad HTTP header name {name:?}")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| bad(format!("bad value for HTTP header {name}")))?;
            headers.append(name, value);
        }
        Ok(request)
    }

    /// Moves the connect on: `Ok(true)` once the upgrade is done.
    pub fn progress(&mut self) -> io::Result<bool> {
        loop {
            match std::mem::replace(&mut self.state, State::Gone) {
                State::Below(mut inner) => {
                    if !inner.progress()? {
                        self.state = State::Below(inner);
                        return Ok(false);
                    }
                    let request = self.upgrade_request()?;
                    self.state = Self::upgraded(tungstenite::client::client_with_config(
                        request,
                        inner,
                        Some(Self::config()),
                    ))?;
                }
                State::Upgrading(mid) => self.state = Self::upgraded(mid.handshake())?,
                open @ State::Open(_) => {
                    self.state = open;
                    return Ok(true);
                }
                State::Gone => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotConnected,
                        "WebSocket connection failed earlier",
                    ));
                }
            }
            if matches!(self.state, State::Upgrading(_)) {
                return Ok(false);
            }
        }
    }

    fn upgraded<R>(
        result: Result<(WebSocket<Inner>, R), HandshakeError<ClientHandshake<Inner>>>,
    ) -> io::Result<State> {
        match result {
            Ok((ws, _response)) => Ok(State::Open(ws)),
            Err(HandshakeError::Interrupted(mid)) => Ok(State::Upgrading(mid)),
            Err(HandshakeError::Failure(e)) => Err(upgrade_error(e)),
        }
    }

    /// The TLS stream under this WebSocket, if any.
    #[cfg(feature = "tls")]
    pub fn tls(&self) -> Option<&super::tls::TlsStream> {
        let inner = match &self.state {
            State::Open(ws) => ws.get_ref(),
            _ => return None,
        };
        match inner {
            Inner::Tls(t) => Some(t),
            Inner::Tcp(_) => None,
        }
    }

    pub fn wants_write(&self) -> bool {
        self.pending
            || match &self.state {
                State::Open(ws) => ws.get_ref().wants_write(),
                _ => false,
            }
    }

    fn open(&mut self) -> io::Result<&mut WebSocket<Inner>> {
        match &mut self.state {
            State::Open(ws) => Ok(ws),
            _ => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "WebSocket not open",
            )),
        }
    }

    /// Writes what tungstenite holds; `WouldBlock` while the socket is full.
    fn flush_frames(&mut self) -> io::Result<()> {
        let ws = self.open()?;
        match ws.flush() {
            Ok(()) => {
                self.pending = false;
                Ok(())
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                self.pending = true;
                Err(e)
            }
            Err(e) => Err(ws_error(e)),
        }
    }

    pub fn shutdown(&mut self) {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Open(mut ws) => {
                let _ = ws.close(None);
                let _ = ws.flush();
                ws.get_mut().shutdown();
            }
            State::Below(mut inner) => inner.shutdown(),
            State::Upgrading(mut mid) => mid.get_mut().get_mut().shutdown(),
            State::Gone => {}
        }
    }
}

impl Read for WsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            let left = &self.rbuf[self.roff..];
            if !left.is_empty() {
                let n = left.len().min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&left[..n]);
                filled += n;
                self.roff += n;
                if filled == buf.len() {
                    return Ok(filled);
                }
            }
            if self.closed {
                return Ok(filled);
            }
            let ws = self.open()?;
            match ws.read() {
                Ok(Message::Binary(data)) => {
                    self.rbuf = data;
                    self.roff = 0;
                }
                Ok(Message::Text(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the server sent a WebSocket text message; MQTT needs binary",
                    ));
                }
                // tungstenite queued the pong (or the close reply): send it.
                Ok(Message::Ping(_)) => match self.flush_frames() {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                    _ => {}
                },
                Ok(Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_))
                | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    let _ = self.flush_frames();
                    self.closed = true;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if filled > 0 { Ok(filled) } else { Err(e) };
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.closed = true;
                }
                Err(e) => return Err(ws_error(e)),
            }
        }
    }
}

impl Write for WsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pending {
            self.flush_frames()?;
        }
        let n = buf.len().min(MESSAGE_MAX);
        let ws = self.open()?;
        ws.write(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
            .map_err(ws_error)?;
        match self.flush_frames() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            // Taken: tungstenite holds the rest and `pending` brings the writable interest.
            _ => Ok(n),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.pending {
            self.flush_frames()?;
        }
        match &mut self.state {
            State::Open(ws) => ws.get_mut().flush(),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::{Duration, Instant};

    use mio::{Events, Interest, Poll, Token};
    use tungstenite::handshake::server::{Request, Response};

    use super::*;
    use crate::transport::Stream;

    /// Drives `f` until it stops saying `WouldBlock`, waiting on the poller in between.
    fn drive<T>(stream: &mut Stream, mut f: impl FnMut(&mut Stream) -> io::Result<Option<T>>) -> T {
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(stream, Token(0), Interest::READABLE | Interest::WRITABLE)
            .unwrap();
        let mut events = Events::with_capacity(4);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match f(stream) {
                Ok(Some(v)) => {
                    poll.registry().deregister(stream).unwrap();
                    return v;
                }
                Ok(None) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            assert!(Instant::now() < deadline, "no progress within 5 s");
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // tungstenite's callback signature
    fn upgrade_ping_frames_both_ways_and_close() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (sock, _) = listener.accept().unwrap();
            let mut ws = tungstenite::accept_hdr(sock, |req: &Request, mut resp: Response| {
                let h = req.headers();
                assert_eq!(h["Sec-WebSocket-Protocol"], "mqtt", "[MQTT-6.0.0-3]");
                assert_eq!(h["Authorization"], "Bearer t");
                resp.headers_mut()
                    .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
                Ok(resp)
            })
            .unwrap();
            ws.send(Message::Ping(Bytes::from_static(b"p"))).unwrap();
            // One MQTT packet (PINGRESP, then a PUBLISH head) split across messages.
            ws.send(Message::Binary(Bytes::from_static(&[0xD0])))
                .unwrap();
            ws.send(Message::Binary(Bytes::from_static(&[0x00, 0x30])))
                .unwrap();
            let mut got = Vec::new();
            let mut pong = false;
            while got.len() < 100_000 {
                match ws.read().unwrap() {
                    Message::Pong(p) => {
                        assert_eq!(&p[..], b"p");
                        pong = true;
                    }
                    Message::Binary(b) => {
                        assert!(b.len() <= MESSAGE_MAX);
                        got.extend_from_slice(&b);
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert!(pong, "the ping was answered");
            ws.close(None).unwrap();
            // Until the client's close reply.
            while ws.read().is_ok() {}
            got
        });
        let tcp = mio::net::TcpStream::connect(addr).unwrap();
        let request = WsRequest {
            url: format!("ws://{addr}/mqtt"),
            headers: vec![("Authorization".into(), "Bearer t".into())],
        };
        let mut stream = Stream::Ws(Box::new(WsStream::new(Inner::Tcp(tcp), request)));
        drive(&mut stream, |s| {
            crate::transport::connect_progress(s).map(|done| done.then_some(()))
        });
        let mut got = Vec::new();
        drive(&mut stream, |s| {
            let mut buf = [0u8; 8];
            let n = s.read(&mut buf)?;
            got.extend_from_slice(&buf[..n]);
            Ok((got.len() >= 3).then_some(()))
        });
        assert_eq!(got, [0xD0, 0x00, 0x30]);
        let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut off = 0;
        drive(&mut stream, |s| {
            while off < big.len() {
                off += s.write(&big[off..])?;
            }
            s.flush()?;
            Ok((!s.wants_write()).then_some(()))
        });
        // The server's close reads as the end of the stream.
        drive(&mut stream, |s| {
            let n = s.read(&mut [0u8; 16])?;
            Ok((n == 0).then_some(()))
        });
        stream.shutdown();
        assert_eq!(server.join().unwrap(), big);
    }
}
