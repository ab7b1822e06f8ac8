//! Adaptive batching on midge's defaults: a burst goes out in few writes. In a test binary
//! of its own: the I/O thread is shared by every client of a process, and another client's
//! traffic would batch the writes counted here. That sparse traffic never waits (no pause
//! for it, nor for a client with `linger` zero) is checked on a virtual clock by the unit
//! tests of `runtime::reactor::batching`: counted writes cannot tell a publish written at
//! once from one written a pause later.

mod support;

use midge::codec::Packet;
use midge::runtime::{Client, ClientOptions};
use support::fake_broker::{FakeBroker, FakeConn};
use support::{TIMEOUT, numbered, publish_numbered_qos0};

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
