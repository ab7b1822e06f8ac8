//! Several servers and server redirection (MQTT 5.0 4.11) against scripted fake brokers:
//! the order of attempts, CONNACK / DISCONNECT 0x9C and 0x9D with a Server Reference
//! followed when allowed, refused by default, vetoed by the application, and bounded.

mod support;

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use midge::codec::{
    ByteString, ConnAck, ConnectReasonCode, Disconnect, DisconnectReasonCode, Packet, Properties,
    Property,
};
use midge::runtime::{Client, ClientEvent, ClientOptions, ReconnectPolicy, Redirect};
use support::TIMEOUT;
use support::fake_broker::{FakeBroker, connack};

/// How long a test watches for a connection that must not come.
const QUIET: Duration = Duration::from_millis(500);

fn options() -> ClientOptions {
    support::client_options("servers-test")
}

/// Reconnecting quickly: the tests wait for the attempts, not for the backoff.
fn quick_reconnect() -> ReconnectPolicy {
    ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        ..ReconnectPolicy::default()
    }
}

/// An address where nothing listens: a port the system gave us, closed again.
fn dead_url() -> String {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("mqtt://127.0.0.1:{port}")
}

fn redirect_ack(code: ConnectReasonCode, reference: &str) -> Packet {
    Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: code,
        properties: Properties::new().with(Property::ServerReference(ByteString::from(reference))),
    })
}

fn host_port(b: &FakeBroker) -> String {
    format!("127.0.0.1:{}", b.port())
}

#[test]
fn a_connect_tries_the_servers_in_order_and_reports_the_one_in_use() {
    let dead = dead_url();
    let second = FakeBroker::start();
    let client = Client::with_servers(&[&dead, &second.url()], options()).unwrap();
    assert_eq!(client.server(), None);
    let waiter = client.connect();
    let mut conn = second.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&connack(Properties::new()));
    let info = waiter.wait(TIMEOUT).unwrap();
    assert_eq!(client.server(), Some(second.url()));
    assert_eq!(info.server, Some(second.url()));
    // The dead server's failure was reported as an event, the connect went on.
    assert!(matches!(
        client.next_event(TIMEOUT),
        Some(ClientEvent::ConnectionLost(_))
    ));
}

#[test]
fn a_pass_that_fails_everywhere_fails_the_connect_once() {
    let client = Client::with_servers(&[&dead_url(), &dead_url()], options()).unwrap();
    let e = client.connect_and_wait(TIMEOUT).unwrap_err();
    assert!(matches!(e, midge::Error::Disconnected(_)), "{e}");
}

/// 4.11: CONNACK 0x9C with a Server Reference `host:port`, followed when allowed; it is for
/// this connection only: after a loss the client goes back to the first server.
#[test]
fn connack_use_another_server_is_followed_for_this_connection() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let mut opts = options();
    opts.follow_redirects = true;
    opts.reconnect = quick_reconnect();
    let client = Client::new(&first.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&redirect_ack(
        ConnectReasonCode::UseAnotherServer,
        &host_port(&second),
    ));
    let mut conn_b = second.accept(TIMEOUT).unwrap();
    conn_b.expect_connect(TIMEOUT);
    conn_b.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    assert_eq!(client.server(), Some(second.url()));
    conn_b.close();
    let mut again = first
        .accept(TIMEOUT)
        .expect("reconnected to the first server");
    again.expect_connect(TIMEOUT);
}

/// CONNACK 0x9D (Server moved) replaces the server: reconnections go to the new one. The
/// reference may be a full address.
#[test]
fn connack_server_moved_replaces_the_server_for_reconnections() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let mut opts = options();
    opts.follow_redirects = true;
    opts.reconnect = quick_reconnect();
    let client = Client::new(&first.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&redirect_ack(
        ConnectReasonCode::ServerMoved,
        &format!("{} mqtt://elsewhere:1", second.url()),
    ));
    let mut conn_b = second.accept(TIMEOUT).unwrap();
    conn_b.expect_connect(TIMEOUT);
    conn_b.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    conn_b.close();
    let mut again = second
        .accept(TIMEOUT)
        .expect("reconnected to the moved server");
    again.expect_connect(TIMEOUT);
    assert!(first.accept(QUIET).is_err(), "went back to the old server");
}

/// DISCONNECT 0x9D on an open connection: the client goes to the reference at once.
#[test]
fn disconnect_server_moved_is_followed_at_once() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let mut opts = options();
    opts.follow_redirects = true;
    // Reconnection off: following the redirection is not a reconnection's business.
    let client = Client::new(&first.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    conn_a.send(&Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::ServerMoved,
        properties: Properties::new().with(Property::ServerReference(ByteString::from(host_port(
            &second,
        )))),
    }));
    let mut conn_b = second.accept(TIMEOUT).unwrap();
    conn_b.expect_connect(TIMEOUT);
    conn_b.send(&connack(Properties::new()));
    assert!(support::wait_until(TIMEOUT, || client.server() == Some(second.url())));
}

/// Off by default: the refusal ends the connect, carries the reference in its text, and
/// the client does not reconnect (the server would refuse again).
#[test]
fn a_redirection_is_not_followed_by_default() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let mut opts = options();
    opts.reconnect = quick_reconnect();
    let client = Client::new(&first.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&redirect_ack(
        ConnectReasonCode::UseAnotherServer,
        &host_port(&second),
    ));
    let e = waiter.wait(TIMEOUT).unwrap_err();
    match &e {
        midge::Error::ConnectionRefused(r) => {
            assert_eq!(r.reason_code, ConnectReasonCode::UseAnotherServer);
            assert_eq!(
                r.server_reference.as_deref(),
                Some(host_port(&second).as_str())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(&host_port(&second)), "{e}");
    assert!(second.accept(QUIET).is_err(), "followed the redirection");
    assert!(
        first.accept(QUIET).is_err(),
        "reconnected after the refusal"
    );
}

/// The application's callback sees the redirection and may refuse it.
#[test]
fn the_redirect_callback_sees_and_may_veto() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let mut opts = options();
    opts.follow_redirects = true;
    let client = Client::new(&first.url(), opts).unwrap();
    let seen: Arc<Mutex<Vec<Redirect>>> = Arc::default();
    let log = Arc::clone(&seen);
    client.on_redirect(Some(move |r: &Redirect| {
        log.lock().push(r.clone());
        false
    }));
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&redirect_ack(
        ConnectReasonCode::ServerMoved,
        &host_port(&second),
    ));
    assert!(matches!(
        waiter.wait(TIMEOUT),
        Err(midge::Error::ConnectionRefused(_))
    ));
    assert!(
        second.accept(QUIET).is_err(),
        "followed a vetoed redirection"
    );
    let seen = seen.lock();
    assert_eq!(
        *seen,
        vec![Redirect {
            from: first.url(),
            to: second.url(),
            reference: host_port(&second),
            reason_code: 0x9D,
            refused: true,
        }]
    );
}

/// A server that redirects to itself forever: `max_redirects` hops, then the connect fails
/// with the refusal.
#[test]
fn redirect_hops_are_bounded() {
    let first = FakeBroker::start();
    let mut opts = options();
    opts.follow_redirects = true;
    opts.max_redirects = 2;
    let client = Client::new(&first.url(), opts).unwrap();
    let waiter = client.connect();
    for _ in 0..3 {
        let mut conn_a = first.accept(TIMEOUT).unwrap();
        conn_a.expect_connect(TIMEOUT);
        conn_a.send(&redirect_ack(
            ConnectReasonCode::UseAnotherServer,
            &host_port(&first),
        ));
    }
    assert!(matches!(
        waiter.wait(TIMEOUT),
        Err(midge::Error::ConnectionRefused(_))
    ));
    assert!(first.accept(QUIET).is_err(), "a fourth attempt");
}

/// A permanent refusal (not authorized) by the first server ends the connect: the list is
/// not tried further, and the connect's completion reports the refusal at once.
#[test]
fn a_permanent_refusal_stops_the_pass() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let client = Client::with_servers(&[&first.url(), &second.url()], options()).unwrap();
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::NotAuthorized,
        properties: Properties::new(),
    }));
    match waiter.wait(TIMEOUT) {
        Err(midge::Error::ConnectionRefused(r)) => {
            assert_eq!(r.reason_code, ConnectReasonCode::NotAuthorized);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        second.accept(QUIET).is_err(),
        "went on after a permanent refusal"
    );
}

/// A refusal that is not permanent (server busy) moves on to the next server at once.
#[test]
fn a_busy_server_moves_the_pass_on() {
    let first = FakeBroker::start();
    let second = FakeBroker::start();
    let client = Client::with_servers(&[&first.url(), &second.url()], options()).unwrap();
    let waiter = client.connect();
    let mut conn_a = first.accept(TIMEOUT).unwrap();
    conn_a.expect_connect(TIMEOUT);
    conn_a.send(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::ServerBusy,
        properties: Properties::new(),
    }));
    let mut conn_b = second.accept(TIMEOUT).unwrap();
    conn_b.expect_connect(TIMEOUT);
    conn_b.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    assert_eq!(client.server(), Some(second.url()));
}

/// The backoff applies once per full pass over the list: with two dead servers, two failed
/// attempts (one per server, the second at once) come between consecutive `Reconnecting`
/// notices, and the attempt numbers count passes.
#[test]
fn the_backoff_applies_per_pass() {
    let mut opts = options();
    opts.reconnect = quick_reconnect();
    let client = Client::with_servers(&[&dead_url(), &dead_url()], opts).unwrap();
    client.connect_detached().unwrap();
    let mut seen = Vec::new();
    while seen.iter().filter(|e| matches!(e, 'R')).count() < 3 {
        match client.next_event(TIMEOUT).expect("an event") {
            ClientEvent::ConnectionLost(_) => seen.push('L'),
            ClientEvent::Reconnecting { attempt, .. } => {
                let passes = seen.iter().filter(|e| matches!(e, 'R')).count();
                assert_eq!(attempt as usize, passes + 1);
                seen.push('R');
            }
            other => panic!("{other:?}"),
        }
    }
    let seen: String = seen.into_iter().collect();
    assert_eq!(seen, "LLRLLRLLR");
    client.close_and_join();
}
