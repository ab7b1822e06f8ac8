//! TLS and WebSocket against real servers: a private Mosquitto with a TLS listener per test,
//! certificates made per test with rcgen, and websockify (a real WebSocket server) in front
//! of Mosquitto for `ws://` and `wss://` (Debian's Mosquitto is built without WebSocket).
#![cfg(all(feature = "tls", feature = "websocket"))]

mod support;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use midge::codec::{Properties, QoS};
use midge::protocol::{DisconnectCause, Message, TlsFailure};
use midge::runtime::{Client, ClientEvent, ClientOptions, LogLevel, ReconnectPolicy};
use midge::transport::{Pem, Pin, TlsOptions, TlsVersions};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, client_options};

// ------------------------------------------------------------------ certificates

/// A certificate and its key, as PEM, and the certificate's DER.
struct Leaf {
    cert: String,
    key: String,
    der: Vec<u8>,
    spki_der: Vec<u8>,
}

/// A CA that signs leaves.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names or IP literals).
    fn server(&self, names: &[&str], expired: bool) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        for name in names {
            params.subject_alt_names.push(match name.parse() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().unwrap()),
            });
        }
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2019, 1, 1);
            params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        }
        self.sign(&params)
    }

    fn client(&self, name: &str) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(&params)
    }

    fn sign(&self, params: &CertificateParams) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
            spki_der: rcgen::PublicKeyData::subject_public_key_info(&key),
        }
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    d.as_ref().try_into().unwrap()
}

/// A directory for one test's certificate files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("midge-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A Mosquitto whose listener speaks TLS with `server`'s certificate; with `ca_for_clients`,
/// it requires a client certificate from that CA.
fn tls_broker(dir: &Dir, server: &Leaf, client_ca: Option<&Ca>, extra: &[&str]) -> Mosquitto {
    let cert = dir.write("server.pem", &server.cert);
    let key = dir.write("server.key", &server.key);
    let mut b = Mosquitto::builder()
        .extra_config(format!("certfile {}", cert.display()))
        .extra_config(format!("keyfile {}", key.display()));
    if let Some(ca) = client_ca {
        let cafile = dir.write("clients-ca.pem", &ca.pem);
        b = b
            .extra_config(format!("cafile {}", cafile.display()))
            .extra_config("require_certificate true");
    }
    for line in extra {
        b = b.extra_config(*line);
    }
    b.start()
}

fn tls_url(broker: &Mosquitto) -> String {
    format!("mqtts://127.0.0.1:{}", broker.port())
}

fn trusting(ca: &Ca) -> TlsOptions {
    let mut tls = TlsOptions::default();
    tls.ca.push(Pem::Bytes(ca.pem.clone().into_bytes()));
    tls
}

fn options(id: &str, tls: TlsOptions) -> ClientOptions {
    ClientOptions {
        tls: Some(tls),
        log_level: LogLevel::Debug,
        ..client_options(id)
    }
}

/// The next message, skipping other events.
fn next_message(c: &Client) -> Message {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next_event(left) {
            Some(ClientEvent::Message(m)) => return m,
            Some(_) => {}
            None => panic!("no message within {TIMEOUT:?}"),
        }
    }
}

/// Log lines the client produced so far (draining its events).
fn logs(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(e) = c.next_event(Duration::ZERO) {
        if let ClientEvent::Log { message, .. } = e {
            out.push(message);
        }
    }
    out
}

fn round_trip(c: &Client, topic: &str, payload: &[u8], qos: QoS) {
    c.subscribe_and_wait(topic, qos, TIMEOUT).unwrap();
    let ack = c
        .publish_and_wait(
            topic,
            payload.to_vec(),
            qos,
            false,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();
    assert!(ack.reason.is_success());
    let m = next_message(c);
    assert_eq!(m.qos, qos);
    assert_eq!(&m.payload[..], payload);
}

/// Connects and expects a TLS failure of `kind`; returns its words.
fn expect_tls_failure(url: &str, opts: ClientOptions, kind: TlsFailure) -> String {
    let c = Client::new(url, opts).unwrap();
    match c.connect_and_wait(TIMEOUT) {
        Err(midge::Error::Disconnected(cause)) => match *cause {
            DisconnectCause::Tls { kind: k, detail } => {
                assert_eq!(k, kind, "{detail}");
                detail
            }
            other => panic!("expected a TLS failure, got {other:?}"),
        },
        other => panic!("expected a TLS failure, got {other:?}"),
    }
}

// ------------------------------------------------------------------ TLS

#[test]
fn verified_connect_round_trips_qos_0_1_2() {
    let dir = Dir::new("verified");
    let ca = Ca::new("midge test CA");
    let broker = tls_broker(
        &dir,
        &ca.server(&["localhost", "127.0.0.1"], false),
        None,
        &[],
    );
    let c = Client::new(&tls_url(&broker), options("tls-rt", trusting(&ca))).unwrap();
    c.connect_and_wait(TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
    let large: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
    round_trip(&c, "tls/0", b"zero", QoS::AtMostOnce);
    round_trip(&c, "tls/1", &large, QoS::AtLeastOnce);
    round_trip(&c, "tls/2", b"two", QoS::ExactlyOnce);
    // Also by host name, with the CA given as a file and as a directory.
    let mut tls = TlsOptions::default();
    tls.ca.push(Pem::File(dir.write("ca.pem", &ca.pem)));
    let c = Client::new(
        &format!("ssl://localhost:{}", broker.port()),
        options("tls-file", tls),
    )
    .unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    let cadir = dir.0.join("cas");
    std::fs::create_dir_all(&cadir).unwrap();
    std::fs::write(cadir.join("ca.crt"), &ca.pem).unwrap();
    let mut tls = TlsOptions::default();
    tls.ca_dirs.push(cadir);
    let c = Client::new(
        &format!("tls://127.0.0.1:{}", broker.port()),
        options("tls-dir", tls),
    )
    .unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
}

#[test]
fn unknown_ca_is_a_permanent_failure_with_words_and_no_reconnect_storm() {
    let dir = Dir::new("unknown-ca");
    let ca = Ca::new("trusted CA");
    let other = Ca::new("someone else's CA");
    let broker = tls_broker(&dir, &other.server(&["127.0.0.1"], false), None, &[]);
    let mut opts = options("tls-unknown", trusting(&ca));
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(5),
        ..ReconnectPolicy::default()
    };
    let c = Client::new(&tls_url(&broker), opts).unwrap();
    let _ = c.connect();
    // The failure, then nothing: no Reconnecting, no second attempt.
    let deadline = Instant::now() + TIMEOUT;
    let mut lost = None;
    let mut reconnecting = 0;
    let mut quiet_until = None;
    loop {
        let now = Instant::now();
        let until = quiet_until.unwrap_or(deadline);
        if now >= until {
            break;
        }
        match c.next_event(until - now) {
            Some(ClientEvent::ConnectionLost(cause)) => {
                assert!(lost.is_none(), "a second attempt: {cause:?}");
                lost = Some(cause);
                // A storm at a 5 ms backoff would show many attempts within this window.
                quiet_until = Some(Instant::now() + Duration::from_millis(300));
            }
            Some(ClientEvent::Reconnecting { .. }) => reconnecting += 1,
            Some(_) | None => {}
        }
    }
    assert_eq!(reconnecting, 0, "reconnected after a certificate failure");
    match lost.expect("the connection failed") {
        DisconnectCause::Tls { kind, detail } => {
            assert_eq!(kind, TlsFailure::UnknownIssuer);
            assert!(detail.contains("unknown CA"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn name_mismatch_names_the_expected_name() {
    let dir = Dir::new("name");
    let ca = Ca::new("CA");
    let broker = tls_broker(&dir, &ca.server(&["wrong.example"], false), None, &[]);
    let words = expect_tls_failure(
        &tls_url(&broker),
        options("tls-name", trusting(&ca)),
        TlsFailure::NameMismatch,
    );
    assert!(words.contains("\"127.0.0.1\""), "{words}");
    assert!(words.contains("wrong.example"), "{words}");
    // The SNI / verification name override makes the same server acceptable.
    let mut tls = trusting(&ca);
    tls.server_name = Some("wrong.example".into());
    let c = Client::new(&tls_url(&broker), options("tls-sni", tls)).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
}

#[test]
fn expired_certificate_is_refused() {
    let dir = Dir::new("expired");
    let ca = Ca::new("CA");
    let broker = tls_broker(&dir, &ca.server(&["127.0.0.1"], true), None, &[]);
    let words = expect_tls_failure(
        &tls_url(&broker),
        options("tls-expired", trusting(&ca)),
        TlsFailure::Expired,
    );
    assert!(words.contains("expired"), "{words}");
}

#[test]
fn mutual_tls_accepted_and_missing_client_certificate_refused() {
    let dir = Dir::new("mtls");
    let ca = Ca::new("CA");
    let client = ca.client("device-1");
    let broker = tls_broker(&dir, &ca.server(&["127.0.0.1"], false), Some(&ca), &[]);
    let mut tls = trusting(&ca);
    tls.client_cert = Some(Pem::File(dir.write("client.pem", &client.cert)));
    tls.client_key = Some(Pem::Bytes(client.key.clone().into_bytes()));
    let c = Client::new(&tls_url(&broker), options("mtls-ok", tls.clone())).unwrap();
    c.connect_and_wait(TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
    round_trip(&c, "mtls", b"hello", QoS::AtLeastOnce);

    // Without a certificate: refused, with words, and no reconnecting.
    let mut opts = options("mtls-none", trusting(&ca));
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(5),
        ..ReconnectPolicy::default()
    };
    let c = Client::new(&tls_url(&broker), opts).unwrap();
    match c.connect_and_wait(TIMEOUT) {
        Err(midge::Error::Disconnected(cause)) => match *cause {
            DisconnectCause::Tls { kind, detail } => {
                assert_eq!(kind, TlsFailure::RefusedByServer, "{detail}");
                assert!(detail.contains("client certificate"), "{detail}");
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let storm = support::wait_until(Duration::from_millis(300), || {
        matches!(
            c.next_event(Duration::ZERO),
            Some(ClientEvent::Reconnecting { .. })
        )
    });
    assert!(
        !storm,
        "reconnected after the server refused the client certificate"
    );

    // A key that is not a key is refused when the client is made, without showing it.
    let mut bad = trusting(&ca);
    bad.client_cert = Some(Pem::Bytes(client.cert.clone().into_bytes()));
    bad.client_key = Some(Pem::Bytes(
        b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n".to_vec(),
    ));
    let e = Client::new(&tls_url(&broker), options("mtls-bad", bad)).unwrap_err();
    assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
}

#[test]
fn reloaded_client_certificate_is_used_by_the_next_connect() {
    let dir = Dir::new("reload");
    let ca = Ca::new("CA");
    let broker = tls_broker(&dir, &ca.server(&["127.0.0.1"], false), Some(&ca), &[]);
    let c = Client::new(&tls_url(&broker), options("reload", trusting(&ca))).unwrap();
    assert!(c.connect_and_wait(TIMEOUT).is_err(), "no certificate yet");
    let client = ca.client("device-2");
    let mut tls = trusting(&ca);
    tls.client_cert = Some(Pem::Bytes(client.cert.into_bytes()));
    tls.client_key = Some(Pem::Bytes(client.key.into_bytes()));
    c.reload_tls(&tls).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    // A missing file is refused at once and the working options stay.
    let mut missing = trusting(&ca);
    missing.ca.push(Pem::File(dir.0.join("nope.pem")));
    assert!(c.reload_tls(&missing).is_err());
}

#[test]
fn pinning_accepts_the_pinned_key_and_refuses_others() {
    let dir = Dir::new("pin");
    let ca = Ca::new("CA");
    let server = ca.server(&["127.0.0.1"], false);
    let broker = tls_broker(&dir, &server, None, &[]);
    for pin in [
        Pin::Certificate(sha256(&server.der)),
        Pin::PublicKey(sha256(&server.spki_der)),
    ] {
        let mut tls = trusting(&ca);
        tls.pins.push(pin);
        let c = Client::new(&tls_url(&broker), options("pin-ok", tls)).unwrap();
        c.connect_and_wait(TIMEOUT)
            .unwrap_or_else(|e| panic!("{pin:?}: {e}"));
    }
    let mut tls = trusting(&ca);
    tls.pins.push(Pin::PublicKey([7; 32]));
    let words = expect_tls_failure(
        &tls_url(&broker),
        options("pin-bad", tls),
        TlsFailure::PinMismatch,
    );
    assert!(words.contains(&hex(&sha256(&server.spki_der))), "{words}");
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[test]
fn dangerous_no_verify_connects_to_an_unknown_server() {
    let dir = Dir::new("noverify");
    let stranger = Ca::new("stranger");
    let broker = tls_broker(&dir, &stranger.server(&["elsewhere"], true), None, &[]);
    let mut tls = TlsOptions::default();
    tls.dangerous_no_verify = true;
    tls.system_roots = Some(false);
    let c = Client::new(&tls_url(&broker), options("noverify", tls)).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
}

#[test]
fn tls_versions_and_session_resumption_on_reconnect() {
    let dir = Dir::new("versions");
    let ca = Ca::new("CA");
    let server = ca.server(&["127.0.0.1"], false);
    // Mosquitto's `tls_version` is the lowest version it accepts.
    for (listener, ours, expect) in [
        ("tlsv1.2", TlsVersions::Both, "TLSv1_3"),
        ("tlsv1.3", TlsVersions::Tls13Only, "TLSv1_3"),
        ("tlsv1.2", TlsVersions::Tls12Only, "TLSv1_2"),
    ] {
        let broker = tls_broker(&dir, &server, None, &[&format!("tls_version {listener}")]);
        let mut tls = trusting(&ca);
        tls.versions = ours;
        let c = Client::new(&tls_url(&broker), options("versions", tls)).unwrap();
        c.connect_and_wait(TIMEOUT).unwrap();
        c.disconnect_and_wait(TIMEOUT).unwrap();
        c.connect_and_wait(TIMEOUT).unwrap();
        let handshakes: Vec<String> = logs(&c)
            .into_iter()
            .filter(|l| l.starts_with("TLS handshake done"))
            .collect();
        assert_eq!(handshakes.len(), 2, "{handshakes:?}");
        assert!(
            handshakes[0].contains(expect) && handshakes[0].contains("full"),
            "{handshakes:?}"
        );
        assert!(handshakes[1].contains(expect), "{handshakes:?}");
        // X25519 first: ring's own order would make the TLS 1.3 key share P-384, +3 ms per
        // connect against Mosquitto (docs/tls.md).
        assert!(handshakes[0].contains("X25519"), "{handshakes:?}");
        assert!(
            handshakes[1].contains("resumed"),
            "the reconnect did not resume the TLS session: {handshakes:?}"
        );
    }
    // A 1.2-only client against a 1.3-only server: refused, permanently.
    let broker = tls_broker(&dir, &server, None, &["tls_version tlsv1.3"]);
    let mut tls = trusting(&ca);
    tls.versions = TlsVersions::Tls12Only;
    let words = expect_tls_failure(
        &tls_url(&broker),
        options("v12", tls),
        TlsFailure::RefusedByServer,
    );
    assert!(words.contains("version"), "{words}");
}

#[test]
fn alpn_is_offered_and_a_server_without_alpn_still_accepts() {
    // Mosquitto selects no ALPN protocol: offering one must not break the connection.
    let dir = Dir::new("alpn");
    let ca = Ca::new("CA");
    let broker = tls_broker(&dir, &ca.server(&["127.0.0.1"], false), None, &[]);
    let mut tls = trusting(&ca);
    tls.alpn = vec![b"x-amzn-mqtt-ca".to_vec(), b"mqtt".to_vec()];
    let c = Client::new(&tls_url(&broker), options("alpn", tls)).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    assert!(
        logs(&c).iter().any(|l| l.contains("ALPN none")),
        "the log says what ALPN agreed"
    );
}

#[test]
fn trust_sources_build_without_a_connection() {
    // The bundled Mozilla roots alone, and the system's roots (the default), make a usable
    // configuration; a CA PEM without a certificate does not.
    let mut mozilla = TlsOptions::default();
    mozilla.mozilla_roots = true;
    Client::new("mqtts://127.0.0.1:1", options("mozilla", mozilla)).unwrap();
    if std::path::Path::new("/etc/ssl/certs").exists() {
        Client::new(
            "mqtts://127.0.0.1:1",
            options("system", TlsOptions::default()),
        )
        .unwrap();
    }
    let mut empty = TlsOptions::default();
    empty.ca.push(Pem::Bytes(b"not a certificate".to_vec()));
    let e = Client::new("mqtts://127.0.0.1:1", options("empty", empty)).unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
}

#[test]
fn tls_options_on_a_plain_address_are_refused() {
    let e = Client::new(
        "mqtt://127.0.0.1:1",
        options("plain", TlsOptions::default()),
    )
    .unwrap_err();
    assert!(e.to_string().contains("mqtts://"), "{e}");
}

// ------------------------------------------------------------------ WebSocket

/// websockify (a real WebSocket server) in front of a Mosquitto, selecting the `mqtt`
/// subprotocol as MQTT brokers do. Killed by PID when dropped.
struct WsFront {
    child: Child,
    port: u16,
}

const WS_FRONT: &str = r#"
import sys
from websockify import websocketproxy, websockifyserver

class Socket(websockifyserver.CompatibleWebSocket):
    def select_subprotocol(self, protocols):
        protocols = [p.strip() for p in protocols]
        return "mqtt" if "mqtt" in protocols else ""

class Handler(websocketproxy.ProxyRequestHandler):
    SocketClass = Socket

args = dict(RequestHandlerClass=Handler, listen_host="127.0.0.1",
            listen_port=int(sys.argv[1]), target_host="127.0.0.1",
            target_port=int(sys.argv[2]), verbose=False)
if len(sys.argv) > 3:
    args.update(cert=sys.argv[3], key=sys.argv[4], ssl_only=True)
websocketproxy.WebSocketProxy(**args).start_server()
"#;

impl WsFront {
    fn start(dir: &Dir, target: u16, tls: Option<&Leaf>) -> Self {
        let script = dir.write("ws_front.py", WS_FRONT);
        let probe = Command::new("python3")
            .args(["-c", "import websockify"])
            .status();
        assert!(
            probe.is_ok_and(|s| s.success()),
            "websockify is needed for the WebSocket tests: pip install websockify"
        );
        for _ in 0..5 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut cmd = Command::new("python3");
            cmd.arg(&script)
                .arg(port.to_string())
                .arg(target.to_string());
            if let Some(leaf) = tls {
                cmd.arg(dir.write("ws.pem", &leaf.cert));
                cmd.arg(dir.write("ws.key", &leaf.key));
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.0.join("ws.log")).unwrap())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + TIMEOUT;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                    return Self { child, port };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "websockify did not start: {}",
            std::fs::read_to_string(dir.0.join("ws.log")).unwrap_or_default()
        );
    }
}

impl Drop for WsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ws_round_trips(c: &Client) {
    // Larger than one WebSocket message both ways: midge splits what it sends into
    // messages of at most 64 KiB, and websockify forwards what it reads in pieces.
    let big: Vec<u8> = (0..200 * 1024u32).map(|i| (i * 13 % 251) as u8).collect();
    assert!(big.len() > midge::transport::WS_MESSAGE_MAX);
    round_trip(c, "ws/1", &big, QoS::AtLeastOnce);
    round_trip(c, "ws/0", b"small", QoS::AtMostOnce);
}

#[test]
fn websocket_round_trip_with_a_packet_larger_than_a_frame() {
    let dir = Dir::new("ws");
    let broker = Mosquitto::builder().start();
    let front = WsFront::start(&dir, broker.port(), None);
    let mut opts = client_options("ws");
    opts.websocket
        .headers
        .push(("Authorization".into(), "Bearer token".into()));
    let c = Client::new(&format!("ws://127.0.0.1:{}/mqtt", front.port), opts).unwrap();
    c.connect_and_wait(TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
    ws_round_trips(&c);
    c.disconnect_and_wait(TIMEOUT).unwrap();
}

#[test]
fn secure_websocket_round_trip() {
    let dir = Dir::new("wss");
    let ca = Ca::new("CA");
    let broker = Mosquitto::builder().start();
    let front = WsFront::start(&dir, broker.port(), Some(&ca.server(&["127.0.0.1"], false)));
    let opts = options("wss", trusting(&ca));
    let c = Client::new(&format!("wss://127.0.0.1:{}/", front.port), opts).unwrap();
    c.connect_and_wait(TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", broker.log()));
    ws_round_trips(&c);
    // The same TLS verification applies: an unknown CA is refused.
    let other = Ca::new("other");
    expect_tls_failure(
        &format!("wss://127.0.0.1:{}/", front.port),
        options("wss-bad", trusting(&other)),
        TlsFailure::UnknownIssuer,
    );
}

#[test]
fn websocket_upgrade_refusal_says_so() {
    // A plain Mosquitto port does not speak HTTP: the upgrade fails with words, not a hang.
    let broker = Mosquitto::builder().start();
    let c = Client::new(
        &format!("ws://127.0.0.1:{}/mqtt", broker.port()),
        client_options("ws-refused"),
    )
    .unwrap();
    match c.connect_and_wait(TIMEOUT) {
        Err(midge::Error::Disconnected(cause)) => {
            assert!(
                matches!(*cause, DisconnectCause::Transport { .. }),
                "{cause:?}"
            );
        }
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------ measurement

/// Handshake cost, for docs/tls.md: the median time from `connect` to CONNACK over TLS
/// (full and resumed handshakes) and over plain TCP, against the same local Mosquitto.
/// `cargo test --release --test tls -- --ignored --nocapture handshake_time`
#[test]
#[ignore = "a measurement, not a check"]
fn handshake_time() {
    const N: usize = 40;
    let dir = Dir::new("measure");
    let ca = Ca::new("CA");
    let plain_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = tls_broker(
        &dir,
        &ca.server(&["127.0.0.1"], false),
        None,
        // Without it, Mosquitto's Nagle holds the CONNACK behind the TLS 1.3 session
        // tickets until our delayed ACK: +40 ms that are not the handshake's.
        &[
            "set_tcp_nodelay true",
            &format!("listener {plain_port} 127.0.0.1"),
        ],
    );
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let time_connects = |url: &str, tls: Option<TlsOptions>, fresh_each: bool| {
        let mut opts = client_options("measure");
        opts.tls.clone_from(&tls);
        let mut c = Client::new(url, opts).unwrap();
        let mut times = Vec::new();
        for _ in 0..N {
            if fresh_each {
                let mut opts = client_options("measure");
                opts.tls.clone_from(&tls);
                c = Client::new(url, opts).unwrap();
            }
            let start = Instant::now();
            c.connect_and_wait(TIMEOUT).unwrap();
            times.push(start.elapsed());
            c.disconnect_and_wait(TIMEOUT).unwrap();
        }
        median(times)
    };
    let full = time_connects(&tls_url(&broker), Some(trusting(&ca)), true);
    let resumed = time_connects(&tls_url(&broker), Some(trusting(&ca)), false);
    let mut tls12 = trusting(&ca);
    tls12.versions = TlsVersions::Tls12Only;
    let full12 = time_connects(&tls_url(&broker), Some(tls12), true);
    let plain = time_connects(&format!("mqtt://127.0.0.1:{plain_port}"), None, false);
    println!(
        "connect to CONNACK, median of {N}: TLS 1.3 full {full:?}, TLS 1.3 resumed {resumed:?}, \
         TLS 1.2 full {full12:?}, plain TCP {plain:?}"
    );
}

// ------------------------------------------------------------------ ALPN

/// A one-connection TLS server on rustls that selects ALPN from `protocols`, reads the
/// CONNECT and answers CONNACK (success): enough to see what the handshake agreed.
fn alpn_server(server: &Leaf, protocols: &[&str]) -> (u16, std::thread::JoinHandle<()>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read, Write};
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let chain = vec![CertificateDer::from_pem_slice(server.cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        #[allow(deprecated)]
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    config.alpn_protocols = protocols.iter().map(|p| p.as_bytes().to_vec()).collect();
    let config = std::sync::Arc::new(config);
    let thread = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        sock.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        // The CONNECT's fixed header and remaining length (one byte for a small CONNECT).
        let mut header = [0u8; 2];
        if tls.read_exact(&mut header).is_err() {
            return; // the handshake failed: the client saw why
        }
        let mut rest = vec![0u8; usize::from(header[1])];
        tls.read_exact(&mut rest).unwrap();
        assert_eq!(header[0], 0x10, "CONNECT");
        tls.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]).unwrap();
        tls.flush().unwrap();
        // Hold the connection until the client goes.
        let _ = tls.read(&mut [0u8; 64]);
    });
    (port, thread)
}

#[test]
fn alpn_is_negotiated_and_a_server_accepting_none_of_ours_refuses() {
    let ca = Ca::new("CA");
    let server = ca.server(&["127.0.0.1"], false);
    let (port, thread) = alpn_server(&server, &["x-amzn-mqtt-ca"]);
    let mut tls = trusting(&ca);
    tls.alpn = vec![b"mqtt".to_vec(), b"x-amzn-mqtt-ca".to_vec()];
    let c = Client::new(
        &format!("mqtts://127.0.0.1:{port}"),
        options("alpn-aws", tls),
    )
    .unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    assert!(
        logs(&c).iter().any(|l| l.contains("ALPN x-amzn-mqtt-ca")),
        "the agreed protocol is the server's choice"
    );
    c.close_and_join();
    thread.join().unwrap();

    let (port, thread) = alpn_server(&server, &["something-else"]);
    let mut tls = trusting(&ca);
    tls.alpn = vec![b"mqtt".to_vec()];
    let words = expect_tls_failure(
        &format!("mqtts://127.0.0.1:{port}"),
        options("alpn-none", tls),
        TlsFailure::RefusedByServer,
    );
    assert!(words.contains("ALPN"), "{words}");
    thread.join().unwrap();
}

#[test]
fn a_server_that_never_answers_the_handshake_times_out_within_the_connect_timeout() {
    // Accepts TCP, then says nothing: the TLS handshake (and a WebSocket upgrade) must end
    // with the connect timeout, not hang.
    let silent = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let ca = Ca::new("CA");
    for url in [
        format!("mqtts://127.0.0.1:{port}"),
        format!("ws://127.0.0.1:{port}/mqtt"),
    ] {
        let mut opts = if url.starts_with("mqtts") {
            options("silent", trusting(&ca))
        } else {
            client_options("silent")
        };
        opts.connect_timeout = Duration::from_millis(300);
        let c = Client::new(&url, opts).unwrap();
        let start = Instant::now();
        let e = c.connect_and_wait(TIMEOUT).unwrap_err();
        let took = start.elapsed();
        assert!(e.to_string().contains("timed out"), "{url}: {e}");
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(3),
            "{url}: {took:?}"
        );
    }
    drop(silent);
}

/// Throughput cost, for docs/tls.md: QoS 1 publishes (100-byte payloads, up to 1,000 in
/// flight) to a local Mosquitto over plain TCP and over TLS 1.3, and this process's CPU
/// time per message (the client's share; the broker runs in its own process).
/// `cargo test --release --test tls -- --ignored --nocapture qos1_throughput`
#[test]
#[ignore = "a measurement, not a check"]
#[allow(clippy::cast_precision_loss)] // message counts in the thousands
fn qos1_throughput() {
    const N: usize = 50_000;
    const WINDOW: usize = 1_000;
    fn cpu() -> Duration {
        // utime + stime of this process, in clock ticks (100 per second on Linux).
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }
    let dir = Dir::new("throughput");
    let ca = Ca::new("CA");
    let plain_port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = tls_broker(
        &dir,
        &ca.server(&["127.0.0.1"], false),
        None,
        &[
            "set_tcp_nodelay true",
            &format!("listener {plain_port} 127.0.0.1"),
        ],
    );
    let run = |url: &str, tls: Option<TlsOptions>| {
        let mut opts = client_options("throughput");
        opts.tls = tls;
        let c = Client::new(url, opts).unwrap();
        c.connect_and_wait(TIMEOUT).unwrap();
        let payload = vec![7u8; 100];
        let (start, cpu0) = (Instant::now(), cpu());
        let mut inflight = std::collections::VecDeque::new();
        for _ in 0..N {
            if inflight.len() == WINDOW {
                let done: midge::runtime::Completion<_> = inflight.pop_front().unwrap();
                done.wait(TIMEOUT).unwrap();
            }
            inflight.push_back(
                c.publish(
                    "t",
                    payload.clone(),
                    QoS::AtLeastOnce,
                    false,
                    Properties::new(),
                )
                .unwrap(),
            );
        }
        for done in inflight {
            done.wait(TIMEOUT).unwrap();
        }
        let (wall, cpu) = (start.elapsed(), cpu().saturating_sub(cpu0));
        c.disconnect_and_wait(TIMEOUT).unwrap();
        (
            N as f64 / wall.as_secs_f64(),
            cpu.as_secs_f64() * 1e6 / N as f64,
        )
    };
    // A warm-up, then each twice, alternating.
    run(&format!("mqtt://127.0.0.1:{plain_port}"), None);
    for _ in 0..2 {
        let plain = run(&format!("mqtt://127.0.0.1:{plain_port}"), None);
        let tls = run(&tls_url(&broker), Some(trusting(&ca)));
        println!(
            "QoS 1, 100-byte payloads, {N} messages: plain {:.0} msg/s, {:.1} us CPU/msg; \
             TLS 1.3 {:.0} msg/s, {:.1} us CPU/msg",
            plain.0, plain.1, tls.0, tls.1
        );
    }
}
