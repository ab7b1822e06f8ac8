//! The durability modes' promises, checked against a store that logs what midge asks of
//! it (puts and syncs, in order) and a fake broker that notes when each PUBLISH arrives:
//! at `FsyncBeforeSend` a publish returns once written, not synced, and no PUBLISH reaches
//! the server before a sync that covers its record; at `Fsync` every publish returns synced.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use midge::codec::{ConnAck, ConnectReasonCode, Packet, Properties, PubAck, PubComp, PubRec, QoS};
use midge::runtime::{Client, ClientOptions};
use midge::store::{Durability, MemoryStore, SharedStore, Store, StoreError, StoreUsage};
use parking_lot::Mutex;
use support::TIMEOUT;
use support::fake_broker::{FakeBroker, FakeConn, connack};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// A message record (key tag `m`) was written.
    PutMessage,
    Sync,
    /// The fake broker received the PUBLISH with this payload.
    Received(String),
}

/// A memory store that logs message puts and syncs into a log shared with the test.
#[derive(Debug)]
struct Logged {
    inner: MemoryStore,
    log: Arc<Mutex<Vec<Op>>>,
}

impl Store for Logged {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if key.first() == Some(&b'm') {
            self.log.lock().push(Op::PutMessage);
        }
        self.inner.put(key, value)
    }
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key)
    }
    fn remove(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.inner.remove(key)
    }
    fn keys(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.keys()
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        self.log.lock().push(Op::Sync);
        Ok(())
    }
    fn usage(&self) -> StoreUsage {
        self.inner.usage()
    }
}

fn logged_client(
    broker: &FakeBroker,
    id: &str,
    durability: Durability,
) -> (Client, Arc<Mutex<Vec<Op>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let store = Logged {
        inner: MemoryStore::new(),
        log: log.clone(),
    };
    let mut o: ClientOptions = support::client_options(id);
    o.session.session_expiry_interval = 600;
    o.store = Some(SharedStore::new(Box::new(store), durability));
    (Client::new(&broker.url(), o).unwrap(), log)
}

fn connect(broker: &FakeBroker, client: &Client) -> FakeConn {
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&connack(Properties::new()));
    waiter.wait(TIMEOUT).unwrap();
    conn
}

/// Receives `n` PUBLISHes, logging each arrival and acknowledging it.
fn receive(conn: &mut FakeConn, log: &Mutex<Vec<Op>>, n: usize) {
    let mut got = 0;
    while got < n {
        match conn.recv_packet(TIMEOUT).unwrap() {
            Packet::Publish(p) => {
                log.lock().push(Op::Received(
                    String::from_utf8_lossy(&p.payload).into_owned(),
                ));
                conn.send(&Packet::PubAck(PubAck::new(p.packet_id)));
                got += 1;
            }
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }
}

/// Every PUBLISH arrived after a sync that followed its record's put: counting the puts
/// before the last sync preceding each arrival, the k-th message (in publish order, one
/// thread) needs at least k of them.
fn assert_synced_before_sent(log: &[Op]) {
    let mut puts = 0;
    let mut synced_puts = 0;
    for op in log {
        match op {
            Op::PutMessage => puts += 1,
            Op::Sync => synced_puts = puts,
            Op::Received(payload) => {
                let k: usize = payload.parse().unwrap();
                assert!(
                    synced_puts >= k,
                    "message {k} reached the server with only {synced_puts} records synced: {log:?}"
                );
            }
        }
    }
}

#[test]
fn fsync_before_send_returns_before_the_sync_and_syncs_before_the_publish_leaves() {
    let broker = FakeBroker::start();
    let (client, log) = logged_client(&broker, "durability-fbs", Durability::FsyncBeforeSend);

    // Offline: every publish returns once its record is written, with no sync.
    for k in 1..=20 {
        client
            .publish(
                "d",
                k.to_string(),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
            .unwrap();
    }
    {
        let log = log.lock();
        let puts = log.iter().filter(|o| **o == Op::PutMessage).count();
        assert_eq!(
            puts, 20,
            "every record written before publish returned: {log:?}"
        );
        assert!(
            !log.contains(&Op::Sync),
            "no publish waited for a sync: {log:?}"
        );
    }

    // The connection sends them, once synced: all twenty share a few syncs.
    let mut conn = connect(&broker, &client);
    receive(&mut conn, &log, 20);
    {
        let log = log.lock();
        assert_synced_before_sent(&log);
        let syncs = log.iter().filter(|o| **o == Op::Sync).count();
        assert!(
            syncs <= 3,
            "twenty queued publishes share the syncs, {syncs} ran: {log:?}"
        );
    }

    // Connected: a stream from one thread still never leaves before its sync.
    for k in 21..=120 {
        client
            .publish(
                "d",
                k.to_string(),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
            .unwrap();
    }
    receive(&mut conn, &log, 100);
    assert_synced_before_sent(&log.lock());
    client.close();
}

#[test]
fn fsync_returns_from_publish_only_once_synced() {
    let broker = FakeBroker::start();
    let (client, log) = logged_client(&broker, "durability-fsync", Durability::Fsync);
    for k in 1..=5 {
        client
            .publish(
                "d",
                k.to_string(),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
            .unwrap();
        let log = log.lock();
        assert_eq!(
            log.last(),
            Some(&Op::Sync),
            "publish {k} returned before its record was synced: {log:?}"
        );
    }
    let mut conn = connect(&broker, &client);
    receive(&mut conn, &log, 5);
    assert_synced_before_sent(&log.lock());
    client.close();
}

/// A memory store the test can look into, whose next put of a sent state (a QoS 1/2
/// publish's Packet Identifier) fails once when asked: a C store's transient failure.
#[derive(Debug, Clone)]
struct Flaky {
    inner: Arc<Mutex<MemoryStore>>,
    fail_next_sent_state: Arc<AtomicBool>,
}

impl Store for Flaky {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let sent_state = key.first() == Some(&b's') && value.get(1..3) != Some(&[0, 0][..]);
        if sent_state && self.fail_next_sent_state.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Callback(-5));
        }
        self.inner.lock().put(key, value)
    }
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.lock().get(key)
    }
    fn remove(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.inner.lock().remove(key)
    }
    fn keys(&mut self) -> Result<Vec<Vec<u8>>, StoreError> {
        self.inner.lock().keys()
    }
    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    fn usage(&self) -> StoreUsage {
        self.inner.lock().usage()
    }
}

/// A store write that failed once is written again before anything that depends on it
/// leaves: the QoS 2 PUBLISH whose Packet Identifier the store refused is not sent on
/// that connection, and when the next connection resends it (DUP, the same identifier
/// [MQTT-4.4.0-1]) the store holds that identifier. Before, the refused state stayed
/// missing: a restart would have sent the message again as a new one under another
/// identifier, a second delivery at QoS 2.
#[test]
fn a_store_write_that_failed_is_written_before_what_depends_on_it_is_sent() {
    let broker = FakeBroker::start();
    let store = Flaky {
        inner: Arc::new(Mutex::new(MemoryStore::new())),
        fail_next_sent_state: Arc::new(AtomicBool::new(false)),
    };
    let mut o = support::persistent_client_options("durability-flaky");
    o.store = Some(SharedStore::new(Box::new(store.clone()), Durability::Os));
    let client = Client::new(&broker.url(), o).unwrap();
    let mut first = connect(&broker, &client);

    store.fail_next_sent_state.store(true, Ordering::SeqCst);
    let done = client
        .publish("d/q2", "once", QoS::ExactlyOnce, false, Properties::new())
        .unwrap();
    let seen = first.expect_closed(TIMEOUT);
    assert!(
        !seen.iter().any(|p| matches!(p, Packet::Publish(_))),
        "the PUBLISH left although its state was not stored: {seen:?}"
    );

    // The reconnection resumes the session and resends the PUBLISH.
    let mut second = broker.accept(TIMEOUT).unwrap();
    second.expect_connect(TIMEOUT);
    second.send(&Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ConnectReasonCode::Success,
        properties: Properties::new(),
    }));
    let Packet::Publish(p) = second.recv_packet(TIMEOUT).unwrap() else {
        panic!("expected the PUBLISH");
    };
    let states: Vec<Vec<u8>> = {
        let mut inner = store.inner.lock();
        let keys = inner.keys().unwrap();
        keys.iter()
            .filter(|k| k.first() == Some(&b's'))
            .map(|k| inner.get(k).unwrap().unwrap())
            .collect()
    };
    assert_eq!(states.len(), 1, "one stored state: {states:?}");
    assert_eq!(
        u16::from_be_bytes([states[0][1], states[0][2]]),
        p.packet_id,
        "the stored state holds the Packet Identifier the PUBLISH went out with"
    );

    // The exchange completes and its records go.
    second.send(&Packet::PubRec(PubRec::new(p.packet_id)));
    match second.recv_packet(TIMEOUT).unwrap() {
        Packet::PubRel(r) => assert_eq!(r.packet_id, p.packet_id),
        other => panic!("expected PUBREL, got {other:?}"),
    }
    second.send(&Packet::PubComp(PubComp::new(p.packet_id)));
    done.wait(TIMEOUT).unwrap();
    assert!(support::wait_until(TIMEOUT, || {
        store.inner.lock().keys().unwrap().iter().all(|k| k == b"c")
    }));
    client.close();
}

/// What an accepted publish takes in the store (the header's `midge_store_file_new`): its
/// message record and a state record of 22 bytes (a 9-byte key, a 13-byte value), two
/// records; sending it replaces the state with one of the same size.
#[test]
fn an_accepted_publish_takes_its_message_and_a_22_byte_state() {
    let broker = FakeBroker::start();
    let store = SharedStore::new(Box::new(MemoryStore::new()), Durability::Os);
    let mut o = support::persistent_client_options("durability-room");
    o.store = Some(store.clone());
    let client = Client::new(&broker.url(), o).unwrap();
    let before = store.usage();
    let done = client
        .publish(
            "d/room",
            "reading",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let accepted = store.usage();
    let message_bytes = store.read(|s| {
        let keys = s.keys().unwrap();
        let m = keys.iter().find(|k| k.first() == Some(&b'm')).unwrap();
        (m.len() + s.get(m).unwrap().unwrap().len()) as u64
    });
    assert_eq!(accepted.records, before.records + 2);
    assert_eq!(accepted.bytes, before.bytes + message_bytes + 22);

    let mut conn = connect(&broker, &client);
    let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("expected the PUBLISH");
    };
    assert_eq!(store.usage(), accepted, "sending took no more room");
    conn.send(&Packet::PubAck(PubAck::new(p.packet_id)));
    done.wait(TIMEOUT).unwrap();
    assert!(support::wait_until(TIMEOUT, || store.usage() == before));
    client.close();
}
