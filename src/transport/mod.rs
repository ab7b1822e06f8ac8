//! `transport`: byte pipes under the runtime. No MQTT here: addresses, non-blocking
//! connects, DNS off the I/O thread, and one [`Stream`] type the I/O thread polls.
//!
//! - TCP through socket2: IPv4 and IPv6, `TCP_NODELAY`, socket buffer sizes, a non-blocking
//!   connect whose completion the poller reports ([`connect_start`], [`connect_finished`]).
//!   The connect timeout is the runtime's deadline, since the connect never blocks.
//! - Unix domain sockets ([`connect_unix`]).
//! - TLS on rustls (feature `tls`) and WebSocket on tungstenite (feature `websocket`), as
//!   further [`Stream`] variants: [`Layers::wrap`] puts them on a connecting TCP socket and
//!   [`connect_progress`] moves their handshakes on when the poller reports the socket, on the
//!   one I/O thread, within the same connect timeout.
//! - An in-memory pipe ([`pipe`]) for tests and benchmarks: a connected socket pair with
//!   no network underneath.
//! - [`Resolver`]: DNS on a small fixed pool of threads, so neither the I/O thread nor a
//!   caller of a non-blocking call waits for a name server.

mod address;
mod resolver;
mod stream;
#[cfg(feature = "tls")]
mod tls;
mod tls_options;
#[cfg(feature = "websocket")]
mod ws;

use std::io;
#[cfg(any(feature = "tls", feature = "websocket"))]
use std::sync::Arc;

pub use address::{Address, DEFAULT_PORT, DEFAULT_TLS_PORT, SUPPORTED_SCHEMES};
pub use resolver::Resolver;
pub use stream::{
    Stream, TcpOptions, connect_finished, connect_progress, connect_start, connect_unix, pipe,
};
#[cfg(feature = "tls")]
pub use tls::{TlsConnector, TlsStream};
pub use tls_options::{HandshakeError, Pem, Pin, TlsConfigError, TlsOptions, TlsVersions};
#[cfg(feature = "websocket")]
pub use ws::{MESSAGE_MAX as WS_MESSAGE_MAX, WsRequest, WsStream};

/// A broker address midge cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The address does not parse.
    #[error("invalid broker address {address:?}: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },
    /// A scheme midge does not speak (or this build leaves out).
    #[error("unsupported scheme {0:?} (supported: {SUPPORTED_SCHEMES})")]
    UnsupportedScheme(String),
    /// TLS options that cannot be used.
    #[error(transparent)]
    TlsConfig(#[from] TlsConfigError),
}

/// WebSocket settings for `ws://` and `wss://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsOptions {
    /// Extra HTTP headers on the upgrade request (an `Authorization` token, a cookie).
    pub headers: Vec<(String, String)>,
}

/// What goes on top of a client's TCP connection: TLS, WebSocket, both or neither. Made once
/// per client from its address and options; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    #[cfg(feature = "tls")]
    tls: Option<Arc<TlsConnector>>,
    #[cfg(feature = "websocket")]
    ws: Option<Arc<WsRequest>>,
    /// The name TLS verifies (unless the options override it).
    #[cfg(feature = "tls")]
    host: String,
}

impl Layers {
    /// The layers `address` needs. TLS options are refused for a plain address (the user
    /// meant TLS; silently connecting in the clear would be worse than an error); a secure
    /// address without them gets the defaults (the system's roots).
    pub fn new(
        address: &Address,
        tls: Option<&TlsOptions>,
        ws: &WsOptions,
    ) -> Result<Self, TransportError> {
        if tls.is_some() && !address.is_tls() {
            return Err(TlsConfigError(format!(
                "TLS options were given for {address}, which is not a TLS address (use mqtts:// \
                 or wss://)"
            ))
            .into());
        }
        #[cfg(feature = "tls")]
        let connector = if address.is_tls() {
            let defaults = TlsOptions::default();
            Some(Arc::new(TlsConnector::new(tls.unwrap_or(&defaults))?))
        } else {
            None
        };
        Ok(Self::assemble(
            address,
            #[cfg(feature = "tls")]
            connector,
            ws,
        ))
    }

    /// The layers of another server of the same client: its own TLS name and WebSocket
    /// request, the same TLS connector (so [`Layers::reload_tls`] reaches every server), or
    /// one with the defaults (the system's roots) when this has none.
    pub fn retarget(&self, address: &Address, ws: &WsOptions) -> Result<Self, TransportError> {
        #[cfg(feature = "tls")]
        let connector = match (&self.tls, address.is_tls()) {
            // Shared, not built again: building one with the defaults reads the system's
            // roots (every file of /etc/ssl/certs), milliseconds per client made.
            (Some(tls), true) => Some(Arc::clone(tls)),
            (None, true) => Some(Arc::new(TlsConnector::new(&TlsOptions::default())?)),
            (_, false) => None,
        };
        Ok(Self::assemble(
            address,
            #[cfg(feature = "tls")]
            connector,
            ws,
        ))
    }

    /// The layers for `address` with this TLS connector (a TLS address only).
    fn assemble(
        address: &Address,
        #[cfg(feature = "tls")] connector: Option<Arc<TlsConnector>>,
        ws: &WsOptions,
    ) -> Self {
        let _ = ws;
        #[cfg_attr(not(any(feature = "tls", feature = "websocket")), allow(unused_mut))]
        let mut layers = Self::default();
        #[cfg(feature = "tls")]
        if let Some((host, _)) = address.endpoint() {
            host.clone_into(&mut layers.host);
        }
        #[cfg(feature = "tls")]
        {
            layers.tls = connector;
        }
        #[cfg(feature = "websocket")]
        if let Address::Ws {
            host, port, path, ..
        } = address
        {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            layers.ws = Some(Arc::new(WsRequest {
                url: format!("ws://{host}:{port}{path}"),
                headers: ws.headers.clone(),
            }));
        }
        #[cfg(not(any(feature = "tls", feature = "websocket")))]
        let _ = address;
        layers
    }

    /// Replaces the TLS configuration for the next connect (rotated certificates).
    pub fn reload_tls(&self, options: &TlsOptions) -> Result<(), TransportError> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return Ok(tls.reload(options)?);
        }
        let _ = options;
        Err(TlsConfigError("this client does not use TLS".into()).into())
    }

    /// Puts the layers on a TCP stream that [`connect_start`] began.
    pub fn wrap(&self, stream: Stream) -> io::Result<Stream> {
        let Stream::Tcp(tcp) = stream else {
            return Ok(stream);
        };
        #[cfg(feature = "websocket")]
        if let Some(ws) = &self.ws {
            #[cfg(feature = "tls")]
            let inner = match &self.tls {
                Some(tls) => ws::Inner::Tls(Box::new(tls.start(&self.host, tcp)?)),
                None => ws::Inner::Tcp(tcp),
            };
            #[cfg(not(feature = "tls"))]
            let inner = ws::Inner::Tcp(tcp);
            return Ok(Stream::Ws(Box::new(WsStream::new(inner, (**ws).clone()))));
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            return Ok(Stream::Tls(Box::new(tls.start(&self.host, tcp)?)));
        }
        Ok(Stream::Tcp(tcp))
    }
}
