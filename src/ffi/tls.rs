//! `midge_tls_options`: TLS settings for `mqtts://` and `wss://`, built with setters and
//! copied by `midge_options_set_tls` and `midge_client_reload_tls`.
//!
//! The functions exist in every build; in a build without TLS (`-DMIDGE_TLS=OFF`, cargo
//! without the `tls` feature) a client with TLS options, or a `mqtts://` address, is refused
//! with `MIDGE_RESULT_INVALID_ADDRESS` / `MIDGE_RESULT_TLS_CONFIG`.

use std::ffi::{c_char, c_int};
use std::path::PathBuf;

use parking_lot::Mutex;

use super::handle;
use super::ptr::{bytes_arg, opt_str_arg, str_arg};
use super::result::{FfiError, guard, guard_value, midge_result};
use crate::transport::{Pem, Pin, TlsOptions, TlsVersions};

/// Offer TLS 1.2 and 1.3 (the default).
pub const MIDGE_TLS_VERSIONS_ALL: c_int = 0;
/// Offer TLS 1.2 only.
pub const MIDGE_TLS_VERSIONS_1_2: c_int = 1;
/// Offer TLS 1.3 only.
pub const MIDGE_TLS_VERSIONS_1_3: c_int = 2;

/// A pin on the SHA-256 of the server certificate (DER).
pub const MIDGE_TLS_PIN_CERTIFICATE: c_int = 1;
/// A pin on the SHA-256 of the server's public key (DER `SubjectPublicKeyInfo`, as
/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum` prints it).
pub const MIDGE_TLS_PIN_PUBLIC_KEY: c_int = 2;

/// TLS settings: whom to trust and who we are. Verification is on by default; without a CA
/// the system's roots are trusted. Owned by the application; `midge_options_set_tls` copies
/// it, so it may be freed right after. Private keys given here are never logged or shown
/// in error messages.
///
/// Methods: `midge_tls_options_new`, `midge_tls_options_free`,
/// `midge_tls_options_add_ca_file`, `midge_tls_options_add_ca_dir`,
/// `midge_tls_options_add_ca_pem`, `midge_tls_options_set_system_roots`,
/// `midge_tls_options_set_mozilla_roots`, `midge_tls_options_set_client_cert_files`,
/// `midge_tls_options_set_client_cert_pem`, `midge_tls_options_add_alpn`,
/// `midge_tls_options_set_server_name`, `midge_tls_options_set_versions`,
/// `midge_tls_options_add_pin`, `midge_tls_options_dangerous_set_no_verify`.
#[derive(Debug, Default)]
pub struct midge_tls_options {
    data: Mutex<TlsOptions>,
}

/// The Rust options behind a C handle (NULL: `None`).
pub(crate) fn tls_arg(tls: *const midge_tls_options) -> Result<Option<TlsOptions>, FfiError> {
    if tls.is_null() {
        return Ok(None);
    }
    handle::with(tls, |t| t.data.lock().clone())
        .map(Some)
        .ok_or_else(|| FfiError::stale("tls options"))
}

fn with_tls(
    tls: *mut midge_tls_options,
    f: impl FnOnce(&mut TlsOptions) -> Result<(), FfiError>,
) -> midge_result {
    guard(|| {
        if tls.is_null() {
            return Err(FfiError::null("tls options"));
        }
        let t = handle::get(tls.cast_const()).ok_or_else(|| FfiError::stale("tls options"))?;
        let mut d = t.data.lock();
        f(&mut d)
    })
}

fn path_arg(path: *const c_char, what: &str) -> Result<PathBuf, FfiError> {
    Ok(PathBuf::from(str_arg(path, what)?))
}

/// New TLS options: verification on, the system's roots, TLS 1.2 and 1.3, no client
/// certificate, no ALPN. NULL only when out of memory.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_new() -> *mut midge_tls_options {
    guard_value(std::ptr::null_mut(), || {
        handle::new(midge_tls_options::default())
    })
}

/// Frees the options in `*tls` and sets `*tls` to NULL. NULL and options freed before
/// (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_free(tls: *mut *mut midge_tls_options) {
    guard_value((), || drop(handle::free(tls)));
}

/// Trusts the CA certificates in a PEM file. With any CA given, the system's roots are no
/// longer trusted unless `midge_tls_options_set_system_roots` says so. The file is read
/// when a client is made (or reloaded).
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_add_ca_file(
    tls: *mut midge_tls_options,
    path: *const c_char,
) -> midge_result {
    with_tls(tls, |t| {
        t.ca.push(Pem::File(path_arg(path, "path")?));
        Ok(())
    })
}

/// Trusts the CA certificates in the `*.pem` and `*.crt` files of a directory.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_add_ca_dir(
    tls: *mut midge_tls_options,
    path: *const c_char,
) -> midge_result {
    with_tls(tls, |t| {
        t.ca_dirs.push(path_arg(path, "path")?);
        Ok(())
    })
}

/// Trusts the CA certificates in PEM bytes (copied): for devices without a file system.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_add_ca_pem(
    tls: *mut midge_tls_options,
    pem: *const u8,
    len: usize,
) -> midge_result {
    with_tls(tls, |t| {
        t.ca.push(Pem::Bytes(bytes_arg(pem, len, "pem")?.to_vec()));
        Ok(())
    })
}

/// Trusts the operating system's roots (`/etc/ssl/certs`) or not. Default: only when no CA
/// is given.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_set_system_roots(
    tls: *mut midge_tls_options,
    on: bool,
) -> midge_result {
    with_tls(tls, |t| {
        t.system_roots = Some(on);
        Ok(())
    })
}

/// Trusts the Mozilla root set bundled in midge (webpki-roots), default off.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_set_mozilla_roots(
    tls: *mut midge_tls_options,
    on: bool,
) -> midge_result {
    with_tls(tls, |t| {
        t.mozilla_roots = on;
        Ok(())
    })
}

/// The client certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8,
/// PKCS#1 or SEC1) from files, for mutual TLS. NULL for both removes them.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_set_client_cert_files(
    tls: *mut midge_tls_options,
    cert_path: *const c_char,
    key_path: *const c_char,
) -> midge_result {
    with_tls(tls, |t| {
        let cert = opt_str_arg(cert_path, "cert_path")?;
        let key = opt_str_arg(key_path, "key_path")?;
        match (cert, key) {
            (None, None) => (t.client_cert, t.client_key) = (None, None),
            (Some(c), Some(k)) => {
                t.client_cert = Some(Pem::File(c.into()));
                t.client_key = Some(Pem::File(k.into()));
            }
            _ => return Err(FfiError::Invalid("give both cert_path and key_path".into())),
        }
        Ok(())
    })
}

/// The client certificate chain and private key as PEM bytes (copied), for mutual TLS.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_set_client_cert_pem(
    tls: *mut midge_tls_options,
    cert: *const u8,
    cert_len: usize,
    key: *const u8,
    key_len: usize,
) -> midge_result {
    with_tls(tls, |t| {
        let c = bytes_arg(cert, cert_len, "cert")?.to_vec();
        let k = bytes_arg(key, key_len, "key")?.to_vec();
        t.client_cert = Some(Pem::Bytes(c));
        t.client_key = Some(Pem::Bytes(k));
        Ok(())
    })
}

/// Adds an ALPN protocol to offer (e.g. "x-amzn-mqtt-ca" for AWS `IoT` on port 443).
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_add_alpn(
    tls: *mut midge_tls_options,
    protocol: *const c_char,
) -> midge_result {
    with_tls(tls, |t| {
        let p = str_arg(protocol, "protocol")?;
        if p.is_empty() || p.len() > 255 {
            return Err(FfiError::Invalid(
                "an ALPN protocol has 1 to 255 bytes".into(),
            ));
        }
        t.alpn.push(p.as_bytes().to_vec());
        Ok(())
    })
}

/// The name sent as SNI and verified against the certificate, instead of the address's
/// host; NULL goes back to the host.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_set_server_name(
    tls: *mut midge_tls_options,
    name: *const c_char,
) -> midge_result {
    with_tls(tls, |t| {
        t.server_name = opt_str_arg(name, "name")?.map(str::to_owned);
        Ok(())
    })
}

/// Which TLS versions to offer: `MIDGE_TLS_VERSIONS_ALL`, `_1_2` or `_1_3`.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_set_versions(
    tls: *mut midge_tls_options,
    versions: c_int,
) -> midge_result {
    with_tls(tls, |t| {
        t.versions = match versions {
            MIDGE_TLS_VERSIONS_ALL => TlsVersions::Both,
            MIDGE_TLS_VERSIONS_1_2 => TlsVersions::Tls12Only,
            MIDGE_TLS_VERSIONS_1_3 => TlsVersions::Tls13Only,
            v => {
                return Err(FfiError::Invalid(format!(
                    "{v} is not a MIDGE_TLS_VERSIONS_*"
                )));
            }
        };
        Ok(())
    })
}

/// Pins the server: `kind` is `MIDGE_TLS_PIN_CERTIFICATE` or `MIDGE_TLS_PIN_PUBLIC_KEY`,
/// `sha256` its 32-byte SHA-256. With pins, a server matching none is refused
/// (`MIDGE_DISCONNECT_TLS`), on top of normal verification.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_add_pin(
    tls: *mut midge_tls_options,
    kind: c_int,
    sha256: *const u8,
    len: usize,
) -> midge_result {
    with_tls(tls, |t| {
        let hash: [u8; 32] = bytes_arg(sha256, len, "sha256")?
            .try_into()
            .map_err(|_| FfiError::Invalid("a SHA-256 has 32 bytes".into()))?;
        t.pins.push(match kind {
            MIDGE_TLS_PIN_CERTIFICATE => Pin::Certificate(hash),
            MIDGE_TLS_PIN_PUBLIC_KEY => Pin::PublicKey(hash),
            k => return Err(FfiError::Invalid(format!("{k} is not a MIDGE_TLS_PIN_*"))),
        });
        Ok(())
    })
}

/// DANGEROUS: turns certificate verification off, so anyone on the path can impersonate
/// the server and read everything. For tests against throwaway servers only.
#[unsafe(no_mangle)]
pub extern "C" fn midge_tls_options_dangerous_set_no_verify(
    tls: *mut midge_tls_options,
    no_verify: bool,
) -> midge_result {
    with_tls(tls, |t| {
        t.dangerous_no_verify = no_verify;
        Ok(())
    })
}
