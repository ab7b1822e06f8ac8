//! TLS options: plain data, compiled with or without the `tls` feature, so that the Rust
//! and C APIs are the same in both builds (without TLS, using them is an error).

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::protocol::TlsFailure;

/// Where PEM data comes from: a file, or bytes in memory (firmware often has no file
/// system for certificates).
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "File({})", p.display()),
            // Never the content: it may be a private key.
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
        }
    }
}

impl Pem {
    #[cfg(feature = "tls")]
    pub(crate) fn read(&self, what: &str) -> Result<Vec<u8>, TlsConfigError> {
        match self {
            Self::Bytes(b) => Ok(b.clone()),
            Self::File(p) => std::fs::read(p).map_err(|e| {
                TlsConfigError(format!("cannot read the {what} {}: {e}", p.display()))
            }),
        }
    }
}

/// A pinned server identity: the SHA-256 of the server certificate (DER), or of its
/// public key (the DER `SubjectPublicKeyInfo`, as `openssl x509 -pubkey | openssl pkey
/// -pubin -outform der | sha256sum` prints it). Checked on top of normal verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    Certificate([u8; 32]),
    PublicKey([u8; 32]),
}

/// The TLS protocol versions to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3 (default).
    #[default]
    Both,
    Tls12Only,
    Tls13Only,
}

/// TLS settings for `mqtts://` and `wss://`. Verification is on by default; without a CA
/// the system's roots are trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// CA certificates (PEM) to trust: files, or bytes. With any, the system's roots are
    /// not trusted unless `system_roots` says so.
    pub ca: Vec<Pem>,
    /// Directories whose `*.pem` / `*.crt` files are CA certificates.
    pub ca_dirs: Vec<PathBuf>,
    /// Trust the operating system's roots (`/etc/ssl/certs`): `None` means "when no CA is
    /// given".
    pub system_roots: Option<bool>,
    /// Trust the bundled Mozilla root set (webpki-roots).
    pub mozilla_roots: bool,
    /// Client certificate chain (PEM, leaf first) for mutual TLS.
    pub client_cert: Option<Pem>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1). Never logged.
    pub client_key: Option<Pem>,
    /// ALPN protocols to offer, e.g. `x-amzn-mqtt-ca` (AWS `IoT` on 443).
    pub alpn: Vec<Vec<u8>>,
    /// The name to send (SNI) and verify the certificate against, instead of the host of
    /// the address (which may be an IP or an internal name).
    pub server_name: Option<String>,
    pub versions: TlsVersions,
    /// Pinned server identities: the connection is refused unless one matches.
    pub pins: Vec<Pin>,
    /// Turns certificate verification off: anyone can impersonate the server. For tests.
    pub dangerous_no_verify: bool,
}

/// TLS options that cannot be used (a file missing, no certificate in a PEM, a key that
/// does not parse). The key's content never appears here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS configuration: {0}")]
pub struct TlsConfigError(pub String);

/// A failed TLS handshake: the kind (which decides whether reconnecting can help) and the
/// words for the user. Travels inside an `io::Error` to the runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct HandshakeError {
    pub kind: TlsFailure,
    pub detail: String,
}

impl HandshakeError {
    /// The handshake failure inside `e`, if that is what it is.
    pub fn from_io(e: &io::Error) -> Option<&Self> {
        e.get_ref().and_then(|inner| inner.downcast_ref::<Self>())
    }
}
