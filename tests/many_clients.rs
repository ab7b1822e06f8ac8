//! A thousand clients in one process run on midge's fixed set of threads. Alone in its test
//! binary, so no other test's threads disturb the count.

mod support;

use std::time::Duration;

use midge::codec::{Properties, QoS};
use midge::runtime::{Client, ClientEvent};
use support::TIMEOUT;
use support::client_options;
use support::mosquitto::Mosquitto;

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_thousand_clients_share_a_fixed_set_of_threads() {
    const N: usize = 1000;
    let broker = Mosquitto::builder().start();
    // One client first, so that every midge thread that will ever exist has started.
    let subscriber = broker.connected_client(client_options("many-sub"));
    subscriber
        .subscribe_and_wait("many/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    subscriber.set_callback(|_| {});
    subscriber.clear_callback();
    let before = thread_count();

    let clients: Vec<Client> = (0..N)
        .map(|i| Client::new(&broker.url(), client_options(&format!("many-{i}"))).unwrap())
        .collect();
    let connecting: Vec<_> = clients.iter().map(Client::connect).collect();
    for (i, c) in connecting.into_iter().enumerate() {
        c.wait(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("client {i}: {e}\n{}", broker.log()));
    }
    assert_eq!(
        thread_count(),
        before,
        "threads grew with the number of clients"
    );

    // Every client publishes once; all arrive.
    let acks: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.publish(
                &format!("many/{i}"),
                "x",
                QoS::AtLeastOnce,
                false,
                Properties::new(),
            )
            .unwrap()
        })
        .collect();
    for a in acks {
        a.wait(Duration::from_secs(30)).unwrap();
    }
    let mut received = 0;
    while received < N {
        match subscriber.next_event(Duration::from_secs(10)) {
            Some(ClientEvent::Message(_)) => received += 1,
            Some(_) => {}
            None => panic!("{received} of {N} messages arrived"),
        }
    }
    assert_eq!(thread_count(), before);

    let closing: Vec<_> = clients.iter().map(Client::close).collect();
    for c in closing {
        c.wait(Duration::from_secs(30)).unwrap();
    }
}
