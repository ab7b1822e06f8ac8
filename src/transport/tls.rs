//! TLS on rustls (ring provider), driven without blocking on the I/O thread.
//!
//! [`TlsOptions`] says whom to trust and who we are; [`TlsConnector`] turns them into a
//! rustls configuration once (and again on [`TlsConnector::reload`], for rotated device
//! certificates), and keeps one session store across reconnects so that a reconnect resumes
//! the TLS session. [`TlsStream`] is a TCP socket with a rustls client connection on top.
//!
//! The stream keeps the promise the reactor relies on for edge-triggered polling: a read
//! that returns less than the buffer's size has seen the socket say `WouldBlock` (or end),
//! so a new edge will come when more arrives. Plaintext rustls still holds is handed out
//! before the socket is read again.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientSessionMemoryCache, Resumption, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
};

use super::tls_options::{HandshakeError, Pem, Pin, TlsConfigError, TlsOptions, TlsVersions};
use crate::protocol::TlsFailure;

/// ring, chosen by measurement over aws-lc-rs (docs/tls.md): it builds with a C compiler
/// alone and adds less to libmidge. rustls marks it deprecated because it has no
/// post-quantum key exchange.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::kx_group;
    let mut provider = rustls::crypto::ring::default_provider();
    // ring's default order puts P-384 first, so the TLS 1.3 key share is P-384: about 3 ms
    // more per handshake against Mosquitto/OpenSSL than X25519 (docs/tls.md). X25519 first,
    // as browsers and OpenSSL do; the others stay for servers without it.
    provider.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1, kx_group::SECP384R1];
    Arc::new(provider)
}

/// Turns [`TlsOptions`] into connections; shared by the client (to reload) and the I/O
/// thread (to connect).
pub struct TlsConnector {
    config: Mutex<Arc<ClientConfig>>,
    /// The name verified and sent as SNI when the options override the address's host.
    server_name: Mutex<Option<String>>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl TlsConnector {
    pub fn new(options: &TlsOptions) -> Result<Self, TlsConfigError> {
        Ok(Self {
            config: Mutex::new(Arc::new(build_config(options)?)),
            server_name: Mutex::new(options.server_name.clone()),
        })
    }

    /// Replaces the configuration for the next connect (a rotated client certificate, new
    /// CAs). The connection that is open stays as it is. Sessions of the old configuration
    /// are not resumed.
    pub fn reload(&self, options: &TlsOptions) -> Result<(), TlsConfigError> {
        let config = Arc::new(build_config(options)?);
        *self.config.lock() = config;
        self.server_name.lock().clone_from(&options.server_name);
        Ok(())
    }

    /// A client connection for `host` over the connecting TCP socket.
    pub fn start(&self, host: &str, sock: mio::net::TcpStream) -> io::Result<TlsStream> {
        let name = self
            .server_name
            .lock()
            .clone()
            .unwrap_or_else(|| host.to_owned());
        let server_name = ServerName::try_from(name.clone()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name:?} is not a valid TLS server name"),
            )
        })?;
        let config = Arc::clone(&self.config.lock());
        let conn = ClientConnection::new(config, server_name)
            .map_err(|e| io::Error::other(format!("TLS: {e}")))?;
        Ok(TlsStream {
            sock,
            conn,
            tcp_connected: false,
            handshaken: false,
            name,
            gather: Vec::new(),
        })
    }
}

fn build_config(o: &TlsOptions) -> Result<ClientConfig, TlsConfigError> {
    let err = |m: String| TlsConfigError(m);
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match o.versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| err(e.to_string()))?;

    let roots = roots(o)?;
    let webpki = if roots.is_empty() {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| err(e.to_string()))?,
        )
    };
    if webpki.is_none() && !o.dangerous_no_verify {
        return Err(err(
            "no trusted certificate: give a CA, or trust the system's or Mozilla's roots".into(),
        ));
    }
    let verifier = Arc::new(Verifier {
        webpki,
        pins: o.pins.clone(),
        no_verify: o.dangerous_no_verify,
        schemes: provider
            .signature_verification_algorithms
            .supported_schemes(),
        algorithms: provider.signature_verification_algorithms,
    });
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);

    let mut config = match (&o.client_cert, &o.client_key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let pem = cert.read("client certificate")?;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| err(format!("client certificate: {e}")))?;
            if chain.is_empty() {
                return Err(err("the client certificate PEM holds no certificate".into()));
            }
            let pem = key.read("client key")?;
            // The parser's error names no content; say nothing about the key but that.
            let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|_| {
                err("the client key is not a PEM private key (PKCS#8, PKCS#1 or SEC1)".into())
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| err(format!("client certificate and key: {e}")))?
        }
        _ => {
            return Err(err(
                "a client certificate needs its key, and a key its certificate".into(),
            ));
        }
    };
    config.alpn_protocols.clone_from(&o.alpn);
    config.resumption = Resumption::store(Arc::new(ClientSessionMemoryCache::new(32)));
    Ok(config)
}

fn roots(o: &TlsOptions) -> Result<RootCertStore, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    let add_pem = |roots: &mut RootCertStore, pem: &[u8], from: &str| {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| TlsConfigError(format!("CA {from}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| TlsConfigError(format!("CA {from}: {e}")))?;
            n += 1;
        }
        Ok::<usize, TlsConfigError>(n)
    };
    for ca in &o.ca {
        let from = match ca {
            Pem::File(p) => p.display().to_string(),
            Pem::Bytes(_) => "in memory".into(),
        };
        if add_pem(&mut roots, &ca.read("CA file")?, &from)? == 0 {
            return Err(TlsConfigError(format!("CA {from}: no certificate in it")));
        }
    }
    for dir in &o.ca_dirs {
        let mut n = 0;
        for entry in read_dir(dir)? {
            let pem = std::fs::read(&entry)
                .map_err(|e| TlsConfigError(format!("cannot read CA {}: {e}", entry.display())))?;
            n += add_pem(&mut roots, &pem, &entry.display().to_string())?;
        }
        if n == 0 {
            return Err(TlsConfigError(format!(
                "CA directory {}: no certificate in it",
                dir.display()
            )));
        }
    }
    let system = o
        .system_roots
        .unwrap_or(o.ca.is_empty() && o.ca_dirs.is_empty() && !o.mozilla_roots);
    if system {
        let found = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 && !o.dangerous_no_verify {
            return Err(TlsConfigError(
                "no system root certificates found (install ca-certificates, or give a CA)".into(),
            ));
        }
    }
    if o.mozilla_roots {
        #[cfg(feature = "mozilla-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(not(feature = "mozilla-roots"))]
        return Err(TlsConfigError(
            "this midge was built without the bundled Mozilla roots (cargo feature \
             mozilla-roots)"
                .into(),
        ));
    }
    Ok(roots)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, TlsConfigError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| TlsConfigError(format!("cannot read CA directory {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "pem" || x == "crt"))
        .collect();
    files.sort();
    Ok(files)
}

/// Web PKI verification (unless turned off), then the pins.
#[derive(Debug)]
struct Verifier {
    webpki: Option<Arc<WebPkiServerVerifier>>,
    pins: Vec<Pin>,
    no_verify: bool,
    schemes: Vec<rustls::SignatureScheme>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if !self.no_verify {
            let Some(webpki) = &self.webpki else {
                return Err(rustls::Error::InvalidCertificate(
                    CertificateError::UnknownIssuer,
                ));
            };
            webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            )?;
        }
        if self.pins.is_empty() {
            return Ok(ServerCertVerified::assertion());
        }
        let cert_hash = sha256(end_entity.as_ref());
        let spki_hash = rustls::server::ParsedCertificate::try_from(end_entity)
            .map(|p| sha256(p.subject_public_key_info().as_ref()))
            .ok();
        let pinned = self.pins.iter().any(|pin| match pin {
            Pin::Certificate(h) => *h == cert_hash,
            Pin::PublicKey(h) => Some(*h) == spki_hash,
        });
        if pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinMismatch {
                    cert: hex(&cert_hash),
                    spki: spki_hash.map(|h| hex(&h)).unwrap_or_default(),
                })),
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.schemes.clone()
    }
}

#[derive(Debug)]
struct PinMismatch {
    cert: String,
    spki: String,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the server's certificate matches no pin (certificate SHA-256 {}, public key SHA-256 {})",
            self.cert, self.spki
        )
    }
}

impl std::error::Error for PinMismatch {}

/// A rustls error during the handshake, in words a user can act on.
fn describe(e: &rustls::Error, name: &str) -> HandshakeError {
    use CertificateError as C;
    let (kind, detail) = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => (
                TlsFailure::UnknownIssuer,
                "the server's certificate was issued by an unknown CA (not in the trusted roots; \
                 give its CA with the CA option)"
                    .to_owned(),
            ),
            C::Expired | C::ExpiredContext { .. } => (
                TlsFailure::Expired,
                match c {
                    C::ExpiredContext { time, not_after } => format!(
                        "the server's certificate has expired (valid until {} s after the epoch, \
                         now {} s)",
                        not_after.as_secs(),
                        time.as_secs()
                    ),
                    _ => "the server's certificate has expired".to_owned(),
                },
            ),
            C::NotValidYet | C::NotValidYetContext { .. } => (
                TlsFailure::NotYetValid,
                "the server's certificate is not valid yet (is the clock right?)".to_owned(),
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => (
                TlsFailure::NameMismatch,
                match c {
                    C::NotValidForNameContext { presented, .. } => format!(
                        "the server's certificate is not valid for the expected name {name:?} \
                         (it names {}); connect by a name it carries, or set the TLS server \
                         name",
                        presented.join(", ")
                    ),
                    _ => format!(
                        "the server's certificate is not valid for the expected name {name:?}"
                    ),
                },
            ),
            C::Revoked => (
                TlsFailure::BadCertificate,
                "the server's certificate is revoked".to_owned(),
            ),
            C::Other(o) if o.0.downcast_ref::<PinMismatch>().is_some() => {
                (TlsFailure::PinMismatch, o.0.to_string())
            }
            other => (
                TlsFailure::BadCertificate,
                format!("the server's certificate is not acceptable: {other:?}"),
            ),
        },
        rustls::Error::AlertReceived(alert) => {
            use rustls::AlertDescription as A;
            let words = match alert {
                A::CertificateRequired => {
                    "the server requires a client certificate; give one with its key".to_owned()
                }
                A::BadCertificate
                | A::UnknownCA
                | A::CertificateUnknown
                | A::CertificateExpired
                | A::UnsupportedCertificate
                | A::DecryptError
                | A::AccessDenied => {
                    format!("the server refused our client certificate (alert {alert:?})")
                }
                A::HandshakeFailure => format!(
                    "the server refused the handshake (alert {alert:?}): no common cipher or \
                     version, or it wants a client certificate"
                ),
                A::ProtocolVersion => {
                    "the server does not speak the TLS versions offered".to_owned()
                }
                A::NoApplicationProtocol => {
                    "the server accepts none of the ALPN protocols offered".to_owned()
                }
                other => format!("the server ended the handshake (alert {other:?})"),
            };
            (TlsFailure::RefusedByServer, words)
        }
        other => (TlsFailure::Other, format!("TLS handshake failed: {other}")),
    };
    HandshakeError { kind, detail }
}

/// A TCP socket carrying a TLS client connection.
pub struct TlsStream {
    pub(super) sock: mio::net::TcpStream,
    conn: ClientConnection,
    tcp_connected: bool,
    handshaken: bool,
    /// The name verified (for messages).
    name: String,
    /// Records gathered for one `send` (see [`NoSigPipe`]).
    gather: Vec<u8>,
}

/// The socket as rustls writes to it. rustls writes its records with `write_vectored`, which
/// std turns into `writev`: a write to a connection the peer closed then raises SIGPIPE, which
/// kills a C program that did not ignore it. `write` goes through `send(MSG_NOSIGNAL)`, so the
/// records are gathered into one buffer and sent with it (one system call, as with `writev`).
struct NoSigPipe<'a> {
    sock: &'a mut mio::net::TcpStream,
    gather: &'a mut Vec<u8>,
}

impl Write for NoSigPipe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sock.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let nonempty = bufs.iter().filter(|b| !b.is_empty()).count();
        if nonempty <= 1 {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &b[..]);
            return self.sock.write(first);
        }
        self.gather.clear();
        for b in bufs {
            if self.gather.len() + b.len() > GATHER_MAX && !self.gather.is_empty() {
                break;
            }
            self.gather.extend_from_slice(b);
        }
        let n = self.sock.write(self.gather);
        if self.gather.capacity() > GATHER_MAX * 2 {
            *self.gather = Vec::new();
        }
        n
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The most one gathered `send` carries.
const GATHER_MAX: usize = 128 * 1024;

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("name", &self.name)
            .field("handshaken", &self.handshaken)
            .finish_non_exhaustive()
    }
}

impl TlsStream {
    fn tls_error(&self, e: &rustls::Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, describe(e, &self.name))
    }

    /// Moves the connect on: `Ok(true)` once TCP is connected and the handshake done.
    pub fn progress(&mut self) -> io::Result<bool> {
        if !self.tcp_connected {
            if !super::stream::tcp_connected(&self.sock)? {
                return Ok(false);
            }
            self.tcp_connected = true;
        }
        if self.handshaken {
            return Ok(true);
        }
        loop {
            self.write_out()?;
            if !self.conn.is_handshaking() {
                break;
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    ));
                }
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        // Send the alert saying why, then fail.
                        let _ = self.write_out();
                        return Err(self.tls_error(&e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_out()?;
                    return Ok(false);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.handshaken = true;
        Ok(true)
    }

    /// What the handshake agreed, for the log: version, resumed or not, key exchange, ALPN.
    pub fn summary(&self) -> String {
        let resumed = matches!(
            self.conn.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed)
        );
        format!(
            "TLS handshake done: {}, {}, key exchange {}, ALPN {}",
            self.conn
                .protocol_version()
                .map_or("?".into(), |v| format!("{v:?}")),
            if resumed { "resumed" } else { "full" },
            self.conn
                .negotiated_key_exchange_group()
                .map_or("none".into(), |g| format!("{:?}", g.name())),
            self.conn
                .alpn_protocol()
                .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned()),
        )
    }

    /// The ALPN protocol the server chose.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// Writes the TLS records rustls holds; stops (Ok) when the socket is full.
    fn write_out(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            let mut sink = NoSigPipe {
                sock: &mut self.sock,
                gather: &mut self.gather,
            };
            match self.conn.write_tls(&mut sink) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// TLS records wait for the socket to take them.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    pub fn shutdown(&mut self) {
        if self.handshaken {
            self.conn.send_close_notify();
            let _ = self.write_out();
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        let mut eof = false;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) => eof = true, // close_notify received
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // An end without close_notify: the same as a TCP end to us.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => eof = true,
                Err(e) => return Err(e),
            }
            if eof {
                return Ok(filled);
            }
            match self.conn.read_tls(&mut self.sock) {
                Ok(0) => return Ok(filled),
                Ok(_) => {
                    let processed = self.conn.process_new_packets();
                    // Whatever the records asked us to send (alerts, key updates).
                    self.write_out()?;
                    if let Err(e) = processed {
                        return Err(self.tls_error(&e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return if filled > 0 { Ok(filled) } else { Err(e) };
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// How much plaintext one write hands rustls: the rest waits in the caller's buffer.
const WRITE_CHUNK: usize = 64 * 1024;

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Records still waiting: the socket is full, and more plaintext would only pile up.
        self.write_out()?;
        if self.conn.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self
            .conn
            .writer()
            .write(&buf[..buf.len().min(WRITE_CHUNK)])?;
        self.write_out()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_out()
    }
}
