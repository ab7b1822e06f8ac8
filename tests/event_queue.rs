//! The event queue: one path for every event, backpressure instead of loss, bounded in
//! count and bytes, against a real Mosquitto.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use midge::codec::{Bytes, Properties, QoS};
use midge::runtime::{Client, ClientEvent};
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, client_options, sub};

const MESSAGE: usize = 16 * 1024;

/// Publishes `n` QoS 1 messages of `MESSAGE` bytes, numbered in their first 4 bytes, as fast
/// as the broker takes them (from another thread).
fn flood(broker: &Mosquitto, topic: &'static str, n: u32) -> std::thread::JoinHandle<()> {
    let publisher = broker.connected_client(client_options("eq-pub"));
    std::thread::spawn(move || {
        let mut pending = Vec::new();
        for i in 0..n {
            let mut payload = vec![0u8; MESSAGE];
            payload[..4].copy_from_slice(&i.to_be_bytes());
            pending.push(
                publisher
                    .publish(
                        topic,
                        Bytes::from(payload),
                        QoS::AtLeastOnce,
                        false,
                        Properties::new(),
                    )
                    .unwrap(),
            );
        }
        for p in pending {
            p.wait(Duration::from_secs(60)).unwrap();
        }
    })
}

fn number(e: &ClientEvent) -> Option<u32> {
    match e {
        ClientEvent::Message(m) => Some(u32::from_be_bytes(m.payload[..4].try_into().unwrap())),
        _ => None,
    }
}

/// A slow consumer under a flood of 16 KiB QoS 1 messages: the queued bytes stay within
/// the byte bound (plus what one read may bring), and every message arrives, in order:
/// midge stops reading instead of dropping or growing without bound.
#[test]
fn a_slow_consumer_holds_the_queue_to_its_byte_bound_and_loses_nothing() {
    let bound = 256 * 1024;
    let mut opts = client_options("eq-sub");
    opts.event_queue_bytes = bound;
    slow_consumer(opts, bound, "eq/flood");
}

/// With no event queue bound of its own, the memory budget bounds the queue: a sixteenth
/// of it.
#[test]
fn the_memory_budget_bounds_the_event_queue() {
    let mut opts = client_options("eq-budget");
    opts.session.memory_budget = midge::protocol::MemoryBudget::new(1024 * 1024).unwrap();
    assert!(
        opts.event_queue_bytes > 1024 * 1024,
        "the default alone would allow more"
    );
    slow_consumer(opts, 1024 * 1024 / 16, "eq/budget");
}

fn slow_consumer(opts: midge::runtime::ClientOptions, bound: usize, topic: &'static str) {
    let broker = Mosquitto::start();
    let sub_client = broker.connected_client(opts);
    sub_client
        .subscribe_and_wait(topic, QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let n = 400; // 6.4 MB in all, 25 times the bound
    let publisher = flood(&broker, topic, n);
    let mut next = 0;
    let mut max_bytes = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < n {
        assert!(Instant::now() < deadline, "only {next} of {n} messages");
        let (_, bytes) = sub_client.queued_events();
        max_bytes = max_bytes.max(bytes);
        let Some(e) = sub_client.next_event(TIMEOUT) else {
            panic!("no event; {next} of {n} received")
        };
        if let Some(i) = number(&e) {
            assert_eq!(i, next, "in order, none lost");
            next += 1;
            // The slow consumer: the messages back up in midge, then in the broker.
            if next % 8 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    publisher.join().unwrap();
    // One read (64 KiB) may pass the bound, plus the message it ends in (whose start was
    // read before).
    let slack = 64 * 1024 + MESSAGE + 1024;
    assert!(
        max_bytes <= bound + slack,
        "queued {max_bytes} bytes, bound {bound}"
    );
    assert!(
        max_bytes > bound / 2,
        "the flood did fill the queue: {max_bytes}"
    );
    eprintln!("{n} messages of {MESSAGE} bytes; at most {max_bytes} bytes queued (bound {bound})");
}

/// The count bound works the same way for a callback that blocks: it holds up reading,
/// not delivery; every message arrives once it returns.
#[test]
fn a_blocked_callback_holds_the_queue_to_its_count_bound() {
    let broker = Mosquitto::start();
    let mut opts = client_options("eq-cb");
    opts.event_queue_limit = 5;
    let c = broker.connected_client(opts);
    c.subscribe_and_wait("eq/cb", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let gate = Arc::new((parking_lot::Mutex::new(false), parking_lot::Condvar::new()));
    let seen = Arc::new(AtomicUsize::new(0));
    let (g, s) = (Arc::clone(&gate), Arc::clone(&seen));
    c.set_callback(move |e| {
        if number(e).is_some() {
            s.fetch_add(1, Ordering::SeqCst);
            let mut open = g.0.lock();
            while !*open {
                g.1.wait(&mut open);
            }
        }
    });
    let n = 200;
    let publisher = flood(&broker, "eq/cb", n);
    // The callback holds the first message; the queue fills to its bound and stays there.
    let deadline = Instant::now() + TIMEOUT;
    while c.queued_events().0 < 5 {
        assert!(
            Instant::now() < deadline,
            "queue at {:?}",
            c.queued_events()
        );
        std::thread::yield_now();
    }
    let mut max = 0;
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        max = max.max(c.queued_events().0);
        std::thread::yield_now();
    }
    // One read (64 KiB: four 16 KiB messages, and the one it ends in) may pass it.
    assert!(max <= 5 + 5, "queued {max} events, bound 5");
    *gate.0.lock() = true;
    gate.1.notify_all();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.load(Ordering::SeqCst) < n as usize {
        assert!(
            Instant::now() < deadline,
            "{} of {n}",
            seen.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    publisher.join().unwrap();
    c.close_and_join();
}

/// A partial callback takes what it wants; the rest waits for `next_event`.
#[test]
fn callbacks_and_the_pull_loop_mix() {
    let broker = Mosquitto::start();
    let c = broker.connected_client(client_options("eq-mix"));
    let messages = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&messages);
    c.set_partial_callback(move |e| {
        let message = matches!(e, ClientEvent::Message(_));
        if message {
            m.fetch_add(1, Ordering::SeqCst);
        }
        message
    });
    c.subscribe(vec![sub("eq/mix", QoS::AtLeastOnce)], Properties::new())
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    let p = broker.connected_client(client_options("eq-mix-pub"));
    p.publish_and_wait(
        "eq/mix",
        "x",
        QoS::AtLeastOnce,
        false,
        Properties::new(),
        TIMEOUT,
    )
    .unwrap();
    drop(p);
    // The CONNECTED event was queued before the callback: offered to it, declined, pulled.
    let mut connected = false;
    while let Some(e) = c.next_event(Duration::from_millis(500)) {
        assert!(
            !matches!(e, ClientEvent::Message(_)),
            "taken by the callback"
        );
        connected |= matches!(e, ClientEvent::Connected(_));
    }
    assert!(connected);
    assert_eq!(messages.load(Ordering::SeqCst), 1);
    let _: &Client = &c;
}

/// Callbacks blocked in a `_wait` call and then on the test's gate hold up only their own
/// clients: the dispatcher pool grows, and a fourth client's messages keep flowing.
#[test]
fn blocked_callbacks_do_not_stall_other_clients() {
    let broker = Mosquitto::start();
    let publisher = broker.connected_client(client_options("eq-bl-pub"));
    let gate = Arc::new((parking_lot::Mutex::new(false), parking_lot::Condvar::new()));
    let blocked = Arc::new(AtomicUsize::new(0));
    let mut blockers = Vec::new();
    for i in 0..3 {
        let c = broker.connected_client(client_options(&format!("eq-bl-{i}")));
        let topic = format!("eq/bl/{i}");
        c.subscribe_and_wait(&topic, QoS::AtLeastOnce, TIMEOUT)
            .unwrap();
        let (me, g, b) = (c.clone(), Arc::clone(&gate), Arc::clone(&blocked));
        c.set_callback(move |e| {
            if number_or_any(e) {
                // A wait inside a callback is allowed: it blocks this client only.
                me.publish_and_wait(
                    "eq/bl/echo",
                    "e",
                    QoS::AtLeastOnce,
                    false,
                    Properties::new(),
                    TIMEOUT,
                )
                .unwrap();
                b.fetch_add(1, Ordering::SeqCst);
                let mut open = g.0.lock();
                while !*open {
                    g.1.wait(&mut open);
                }
            }
        });
        publisher
            .publish_and_wait(
                &topic,
                "b",
                QoS::AtLeastOnce,
                false,
                Properties::new(),
                TIMEOUT,
            )
            .unwrap();
        blockers.push(c);
    }
    let deadline = Instant::now() + TIMEOUT;
    while blocked.load(Ordering::SeqCst) < 3 {
        assert!(
            Instant::now() < deadline,
            "{} blocked",
            blocked.load(Ordering::SeqCst)
        );
        std::thread::yield_now();
    }
    assert!(midge::runtime::dispatch_threads() >= 3);
    let free = broker.connected_client(client_options("eq-bl-free"));
    free.subscribe_and_wait("eq/bl/free", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let g = Arc::clone(&got);
    free.set_callback(move |e| {
        if number_or_any(e) {
            g.fetch_add(1, Ordering::SeqCst);
        }
    });
    for _ in 0..20 {
        publisher
            .publish_and_wait(
                "eq/bl/free",
                "f",
                QoS::AtLeastOnce,
                false,
                Properties::new(),
                TIMEOUT,
            )
            .unwrap();
    }
    let deadline = Instant::now() + TIMEOUT;
    while got.load(Ordering::SeqCst) < 20 {
        assert!(
            Instant::now() < deadline,
            "{} of 20",
            got.load(Ordering::SeqCst)
        );
        std::thread::yield_now();
    }
    *gate.0.lock() = true;
    gate.1.notify_all();
    for c in blockers {
        c.close_and_join();
    }
}

fn number_or_any(e: &ClientEvent) -> bool {
    matches!(e, ClientEvent::Message(_))
}
