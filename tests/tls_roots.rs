//! A TLS client given its own CA never reads the operating system's roots: on a gateway
//! without `ca-certificates` it is made all the same, and on any machine making one costs
//! no walk through `/etc/ssl/certs` (hundreds of files; milliseconds of CPU per client).
//!
//! The system's roots are hidden by pointing `SSL_CERT_FILE` and `SSL_CERT_DIR` (which
//! rustls-native-certs honours) at nothing. Environment variables are process-wide, so the
//! test runs itself again as a child process with them set.

#![cfg(feature = "tls")]

mod support;

use std::process::Command;

use midge::runtime::{Client, ClientOptions};
use midge::transport::{Pem, TlsOptions};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

const CHILD: &str = "MIDGE_TLS_ROOTS_CHILD";

fn ca_pem() -> String {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "tls-roots test CA");
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

fn options(tls: Option<TlsOptions>) -> ClientOptions {
    ClientOptions {
        tls,
        ..support::client_options("tls-roots")
    }
}

#[test]
fn a_client_given_a_ca_is_made_without_the_system_roots() {
    if std::env::var_os(CHILD).is_none() {
        let status = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "a_client_given_a_ca_is_made_without_the_system_roots",
                "--nocapture",
            ])
            .env(CHILD, "1")
            .env("SSL_CERT_FILE", "/nonexistent/midge-test/ca.pem")
            .env("SSL_CERT_DIR", "/nonexistent/midge-test")
            .status()
            .unwrap();
        assert!(status.success(), "the child failed: {status}");
        return;
    }
    // The system's roots are out of reach here: a client that needs them is refused, which
    // shows the check below is not vacuous.
    let err = Client::new("mqtts://127.0.0.1:1", options(None)).unwrap_err();
    assert!(
        err.to_string().contains("no system root certificates"),
        "{err}"
    );
    // With its own CA, a client is made (also with several TLS servers, each of which
    // shares the first one's TLS configuration).
    let mut tls = TlsOptions::default();
    tls.ca.push(Pem::Bytes(ca_pem().into_bytes()));
    let mut opts = options(Some(tls));
    opts.servers = vec!["mqtts://127.0.0.1:2".into(), "mqtts://127.0.0.1:3".into()];
    if let Err(e) = Client::new("mqtts://127.0.0.1:1", opts) {
        panic!("a client with its own CA was refused without the system's roots: {e}");
    }
}
