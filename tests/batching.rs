//! Adaptive batching on midge's defaults: a burst goes out in few writes, sparse round
//! trips one by one. The I/O thread is shared by every client of a process, so these run
//! one at a time, in a test binary of their own: another client's traffic would batch the
//! writes counted here. The pause decision itself (never for sparse traffic, nor for a
//! client with `linger` zero) is checked on a virtual clock by the unit tests of
//! `runtime::reactor::batching`.

mod support;

use std::sync::Mutex;

use midge::codec::{Packet, Properties, PubAck, PubAckReasonCode, QoS};
use midge::runtime::{Client, ClientOptions};
use support::fake_broker::{FakeBroker, FakeConn};
use support::{TIMEOUT, numbered, publish_numbered_qos0};

static SERIAL: Mutex<()> = Mutex::new(());

fn connected(broker: &FakeBroker, opts: ClientOptions) -> (Client, FakeConn) {
    let client = Client::new(&broker.url(), opts).unwrap();
    let waiter = client.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.accept_session(TIMEOUT);
    waiter.wait(TIMEOUT).unwrap();
    (client, conn)
}

#[test]
fn on_defaults_a_burst_of_publishes_goes_out_in_few_writes() {
    let _serial = SERIAL.lock();
    // No option set: batching is midge's default. The server sends nothing back (QoS 0),
    // so only the callers' own pace shows the traffic is dense.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, support::client_options("batch-default"));
    let before = client.io_stats();
    let count: u32 = 500;
    publish_numbered_qos0(&client, "out", count);
    for n in 0..count {
        match conn.recv_packet(TIMEOUT).unwrap() {
            Packet::Publish(p) => assert_eq!(p.payload, numbered(n), "out of order"),
            other => panic!("{other:?}"),
        }
    }
    let writes = client.io_stats().writes - before.writes;
    assert!(
        writes <= u64::from(count / 4),
        "{writes} writes for {count} publishes"
    );
}

#[test]
fn on_defaults_sparse_round_trips_go_out_and_come_in_one_by_one() {
    let _serial = SERIAL.lock();
    // One QoS 1 publish at a time, each waiting for its PUBACK: traffic never dense, so no
    // publish waits for another and no acknowledgement waits to be read with the next.
    let broker = FakeBroker::start();
    let (client, mut conn) = connected(&broker, support::client_options("batch-sparse"));
    let before = client.io_stats();
    let count = 50;
    for n in 0..count {
        let done = client
            .publish(
                "rt",
                numbered(n),
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
            .unwrap();
        let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
            panic!("expected PUBLISH");
        };
        assert_eq!(p.payload, numbered(n));
        conn.send(&Packet::PubAck(PubAck {
            packet_id: p.packet_id,
            reason_code: PubAckReasonCode::Success,
            properties: Properties::new(),
        }));
        done.wait(TIMEOUT).unwrap();
    }
    let after = client.io_stats();
    assert_eq!(after.writes - before.writes, u64::from(count));
    assert_eq!(after.reads - before.reads, u64::from(count));
}
