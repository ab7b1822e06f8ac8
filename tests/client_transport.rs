//! The runtime over each transport and address form: host names resolved off the I/O
//! thread, IP literals (v4 and v6), Unix domain sockets, and connect failures reported with
//! their cause within the connect timeout.

mod support;

use std::time::{Duration, Instant};

use midge::codec::{Properties, QoS};
use midge::protocol::DisconnectCause;
use midge::runtime::{Client, ClientEvent};
use support::TIMEOUT;
use support::client_options as options;
use support::mosquitto::Mosquitto;

/// Connects to `url`, publishes a QoS 1 message to itself, and receives it.
fn round_trip(url: &str, id: &str) {
    let client = Client::new(url, options(id)).unwrap();
    client.connect_and_wait(TIMEOUT).unwrap();
    client
        .subscribe_and_wait("transport/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    client
        .publish_and_wait(
            "transport/t",
            id.to_owned(),
            QoS::AtLeastOnce,
            false,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();
    loop {
        if let ClientEvent::Message(m) = client.next_event(TIMEOUT).expect("the message came back")
        {
            assert_eq!(&m.payload[..], id.as_bytes());
            break;
        }
    }
    client.disconnect_and_wait(TIMEOUT).unwrap();
}

#[test]
fn host_name_and_every_tcp_address_form() {
    let broker = Mosquitto::builder().start();
    let port = broker.port();
    round_trip(&format!("mqtt://localhost:{port}"), "by-name");
    round_trip(&format!("tcp://127.0.0.1:{port}"), "by-tcp-url");
    round_trip(&format!("127.0.0.1:{port}"), "bare");
}

#[test]
fn ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback on this machine; skipped");
        return;
    }
    // A second listener on ::1 beside the IPv4 one.
    let port = std::net::TcpListener::bind("[::1]:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = Mosquitto::builder()
        .extra_config(format!("listener {port} ::1"))
        .extra_config("allow_anonymous true")
        .start();
    round_trip(&format!("mqtt://[::1]:{port}"), "v6");
    drop(broker);
}

#[test]
fn unix_domain_socket() {
    let path = std::env::temp_dir().join(format!("midge-{}-unix.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let broker = Mosquitto::builder()
        .extra_config(format!("listener 0 {}", path.display()))
        .extra_config("allow_anonymous true")
        .start();
    round_trip(&format!("unix://{}", path.display()), "unix");
    drop(broker);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn refused_tcp_connect_reports_the_errno() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(&format!("mqtt://127.0.0.1:{port}"), options("refused")).unwrap();
    let err = client.connect_and_wait(TIMEOUT).unwrap_err();
    let midge::Error::Disconnected(cause) = err else {
        panic!("expected a transport failure, got {err:?}")
    };
    assert!(
        matches!(
            *cause,
            DisconnectCause::Transport {
                errno: Some(libc::ECONNREFUSED),
                ..
            }
        ),
        "{cause:?}"
    );
}

#[test]
fn unknown_host_fails_without_blocking_the_caller() {
    let client = Client::new("mqtt://no-such-host.invalid:1883", options("nohost")).unwrap();
    // `connect` returns at once; resolution happens on the resolver pool.
    let waiter = client.connect();
    let err = waiter.wait(Duration::from_secs(30)).unwrap_err();
    assert!(matches!(err, midge::Error::Disconnected(_)), "{err:?}");
}

#[test]
fn tcp_connect_timeout_is_enforced() {
    // A listener whose accept queue is full: Linux drops further SYNs, so a connect to it
    // neither succeeds nor fails until the client gives up.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the queue (backlog 0 holds one connection; a second one makes sure).
    let _fill: Vec<_> = (0..2)
        .filter_map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
            s.set_nonblocking(true).ok()?;
            let _ = s.connect(&addr.into());
            Some(s)
        })
        .collect();

    let mut opts = options("timeout");
    opts.connect_timeout = Duration::from_millis(300);
    let client = Client::new(&format!("mqtt://{addr}"), opts).unwrap();
    let started = Instant::now();
    let err = client.connect_and_wait(TIMEOUT).unwrap_err();
    let midge::Error::Disconnected(cause) = err else {
        panic!("expected a connect timeout, got {err:?}")
    };
    let DisconnectCause::Transport { detail, .. } = *cause else {
        panic!("expected a transport cause, got {cause:?}")
    };
    assert!(detail.contains("timed out"), "{detail}");
    // Well before the wait's own 5 s bound: the connect timeout ended it.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
