//! `ClientOptions::inline_callbacks` against a real Mosquitto, started per test on an
//! ephemeral port: the callback runs on the I/O thread ("midge-io") instead of a dispatcher
//! thread, in order and without loss; publishing from it works; waits in it fail at once
//! with `WouldDeadlock`; `close_and_join` from it returns; QoS 1 messages are acknowledged
//! after it returns.
//!
//! Every callback reports through a channel read with `recv_timeout`, so a hang or a lost
//! event fails the test within `TIMEOUT` instead of blocking it.

mod support;

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use midge::Error;
use midge::codec::{
    ByteString, Bytes, Packet, Properties, PubAck, QoS, Subscription, SubscriptionOptions,
};
use midge::protocol::{Message, PublishAck, SubscribeAck};
use midge::runtime::{Client, ClientEvent, ClientOptions, Completion};
use support::TIMEOUT;
use support::mosquitto::Mosquitto;

/// The name of midge's I/O thread.
const IO_THREAD: &str = "midge-io";
/// The prefix of midge's dispatcher threads.
const DISPATCH_THREAD: &str = "midge-dispatch-";
/// What "at once" allows for a call that must not wait (its timeout is `TIMEOUT`).
const PROMPTLY: Duration = Duration::from_secs(1);
/// The payload that ends a numbered sequence.
const END: &[u8] = b"end";

/// What `Client::publish` returns.
type PublishResult = Result<Completion<PublishAck>, Error>;

fn options(id: &str, inline: bool) -> ClientOptions {
    ClientOptions {
        inline_callbacks: inline,
        ..support::client_options(id)
    }
}

/// A client with the callback `make` builds (given a clone of the client), installed before
/// connecting so that every event, `Connected` included, goes through it.
fn with_callback<F>(
    broker: &Mosquitto,
    opts: ClientOptions,
    make: impl FnOnce(Client) -> F,
) -> Client
where
    F: FnMut(&ClientEvent) + Send + 'static,
{
    let c = Client::new(&broker.url(), opts).unwrap();
    c.set_callback(make(c.clone()));
    c.connect_and_wait(TIMEOUT)
        .unwrap_or_else(|e| panic!("connect: {e}\n{}", broker.log()));
    c
}

/// A client whose callback sends each event, with the name of the thread it ran on, to the
/// returned channel.
fn recording(broker: &Mosquitto, opts: ClientOptions) -> (Client, Receiver<(String, ClientEvent)>) {
    let (tx, rx) = mpsc::channel();
    let c = with_callback(broker, opts, |_| {
        move |e: &ClientEvent| {
            let _ = tx.send((thread_name(), e.clone()));
        }
    });
    (c, rx)
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

fn seq(i: u32) -> Vec<u8> {
    i.to_be_bytes().to_vec()
}

fn seq_of(m: &Message) -> u32 {
    let bytes: [u8; 4] = m.payload[..]
        .try_into()
        .unwrap_or_else(|_| panic!("not a sequence number: {:?}", m.payload));
    u32::from_be_bytes(bytes)
}

/// Publishes one QoS 1 message from a thread that may wait, and waits for its PUBACK.
fn publish_acked(c: &Client, topic: &str, payload: impl Into<Bytes>) {
    let ack = c
        .publish_and_wait(
            topic,
            payload,
            QoS::AtLeastOnce,
            false,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("publish to {topic}: {e}"));
    assert!(
        ack.reason.is_success(),
        "publish to {topic}: {:?}",
        ack.reason
    );
}

/// Publishes `n` QoS 1 messages numbered 0..n to `topic`, then [`END`], and waits for every
/// acknowledgement.
fn publish_sequence(c: &Client, topic: &str, n: u32) {
    let mut completions: Vec<Completion<PublishAck>> = (0..n)
        .map(|i| {
            c.publish(topic, seq(i), QoS::AtLeastOnce, false, Properties::new())
                .unwrap()
        })
        .collect();
    completions.push(
        c.publish(topic, END, QoS::AtLeastOnce, false, Properties::new())
            .unwrap(),
    );
    for (i, done) in completions.iter().enumerate() {
        let ack = done
            .wait(TIMEOUT)
            .unwrap_or_else(|e| panic!("publish {i}: {e}"));
        assert!(ack.reason.is_success(), "publish {i}: {:?}", ack.reason);
    }
}

/// What a recording callback saw up to the [`END`] message: the thread of every event, and
/// the sequence numbers of the messages (all QoS 1) in order of arrival.
struct Sequence {
    threads: Vec<String>,
    numbers: Vec<u32>,
    connected: bool,
}

fn collect_sequence(rx: &Receiver<(String, ClientEvent)>) -> Sequence {
    let mut s = Sequence {
        threads: Vec::new(),
        numbers: Vec::new(),
        connected: false,
    };
    loop {
        let (thread, e) = rx.recv_timeout(TIMEOUT).unwrap_or_else(|e| {
            panic!(
                "{e} after {} messages (last {:?})",
                s.numbers.len(),
                s.numbers.last()
            )
        });
        s.threads.push(thread);
        match e {
            ClientEvent::Connected(_) => s.connected = true,
            ClientEvent::Message(m) => {
                assert_eq!(m.qos, QoS::AtLeastOnce, "{m:?}");
                if m.payload[..] == *END {
                    return s;
                }
                s.numbers.push(seq_of(&m));
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Waits for `Closed` on a recording callback's channel (skipping other events), then for
/// the callback to be dropped (its sender goes with it); returns `Closed`'s thread and the
/// other events seen.
fn expect_closed_then_dropped(
    rx: &Receiver<(String, ClientEvent)>,
    who: &str,
) -> (String, Vec<ClientEvent>) {
    let deadline = Instant::now() + TIMEOUT;
    let mut before = Vec::new();
    let thread = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((thread, ClientEvent::Closed)) => break thread,
            Ok((_, e)) => before.push(e),
            Err(e) => panic!("{who}: no Closed event ({e}); saw {before:?}"),
        }
    };
    match rx.recv_timeout(TIMEOUT) {
        Err(RecvTimeoutError::Disconnected) => {}
        Ok(e) => panic!("{who}: an event after Closed: {e:?}"),
        Err(RecvTimeoutError::Timeout) => panic!("{who}: the callback was not dropped"),
    }
    (thread, before)
}

/// Runs `f` on a thread of its own; fails the test if it does not return within `TIMEOUT`.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(TIMEOUT) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not return within {TIMEOUT:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

fn close_and_join_within(c: &Client, what: &str) {
    let c = c.clone();
    within(what, move || c.close_and_join());
}

// ------------------------------------------------------------------ 1. thread and order

/// 200 numbered QoS 1 messages through a recording callback; returns what it saw.
fn two_hundred_in_order(inline: bool) -> Sequence {
    let broker = Mosquitto::start();
    let id = if inline { "seq-inline" } else { "seq-dispatch" };
    let (sub, rx) = recording(&broker, options(id, inline));
    sub.subscribe_and_wait("seq/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let publisher = broker.connected_client(options(&format!("{id}-pub"), false));
    publish_sequence(&publisher, "seq/t", 200);
    let s = collect_sequence(&rx);
    assert!(s.connected, "Connected went through the callback");
    assert_eq!(
        s.numbers,
        (0..200).collect::<Vec<_>>(),
        "every message, once, in order"
    );
    close_and_join_within(&sub, "close_and_join");
    close_and_join_within(&publisher, "close_and_join");
    s
}

#[test]
fn inline_callbacks_run_on_the_io_thread_in_order_without_loss() {
    let s = two_hundred_in_order(true);
    let elsewhere: Vec<_> = s.threads.iter().filter(|t| *t != IO_THREAD).collect();
    assert!(
        elsewhere.is_empty(),
        "{} of {} events off {IO_THREAD}: {elsewhere:?}",
        elsewhere.len(),
        s.threads.len()
    );
}

#[test]
fn callbacks_run_on_a_dispatcher_thread_by_default() {
    let s = two_hundred_in_order(false);
    let elsewhere: Vec<_> = s
        .threads
        .iter()
        .filter(|t| !t.starts_with(DISPATCH_THREAD))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "{} of {} events off the dispatcher threads: {elsewhere:?}",
        elsewhere.len(),
        s.threads.len()
    );
}

/// Events queued before the callback is installed (here: messages read while the client
/// had none) go through it on the I/O thread too.
///
/// Fails today: `Mailbox::set_handler` hands queued events to the dispatcher pool whatever
/// `inline` says, so they (and whatever arrives while that dispatcher thread runs them) are
/// handled on "midge-dispatch-N", where waits block instead of failing with `WouldDeadlock`.
#[test]
fn events_queued_before_set_callback_also_run_on_the_io_thread() {
    let broker = Mosquitto::start();
    let c = Client::new(&broker.url(), options("late", true)).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    c.subscribe_and_wait("late/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    // The broker forwards our own message to us before it acknowledges it, and the second
    // acknowledgement is read after the first message was queued: once the second wait
    // returns, message 0 waits in the client's queue.
    for i in 0..2 {
        publish_acked(&c, "late/t", seq(i));
    }
    let (tx, rx) = mpsc::channel();
    c.set_callback(move |e| {
        let _ = tx.send((thread_name(), e.clone()));
    });
    let mut threads = Vec::new();
    let mut numbers = Vec::new();
    while numbers.len() < 2 {
        let (thread, e) = rx.recv_timeout(TIMEOUT).expect("the queued messages");
        threads.push(thread);
        if let ClientEvent::Message(m) = e {
            numbers.push(seq_of(&m));
        }
    }
    assert_eq!(numbers, [0, 1]);
    assert!(threads.iter().all(|t| t == IO_THREAD), "{threads:?}");
    close_and_join_within(&c, "close_and_join");
}

// ------------------------------------------------------------------ 2. echo

#[test]
fn an_inline_callback_may_publish_every_echo_arrives_once() {
    const N: u32 = 200;
    let broker = Mosquitto::start();
    let (out, out_rx) = recording(&broker, options("echo-out", false));
    out.subscribe_and_wait("echo/out", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();

    // What the echo callback saw and did: its thread, and each publish's outcome.
    let echoed: Arc<Mutex<Vec<(String, PublishResult)>>> = Arc::default();
    let seen = Arc::clone(&echoed);
    let echo = with_callback(&broker, options("echo", true), move |me| {
        move |e: &ClientEvent| {
            if let ClientEvent::Message(m) = e {
                let r = me.publish(
                    "echo/out",
                    m.payload.clone(),
                    QoS::AtLeastOnce,
                    false,
                    Properties::new(),
                );
                seen.lock().unwrap().push((thread_name(), r));
            }
        }
    });
    echo.subscribe_and_wait("echo/in", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();

    let sender = broker.connected_client(options("echo-in", false));
    publish_sequence(&sender, "echo/in", N);
    let s = collect_sequence(&out_rx);
    assert_eq!(
        s.numbers,
        (0..N).collect::<Vec<_>>(),
        "every echo, once, in order"
    );

    let echoed = std::mem::take(&mut *echoed.lock().unwrap());
    assert_eq!(echoed.len(), N as usize + 1, "one echo per message and END");
    for (i, (thread, r)) in echoed.into_iter().enumerate() {
        assert_eq!(thread, IO_THREAD, "echo {i}");
        let done = r.unwrap_or_else(|e| panic!("echo {i} refused: {e}"));
        // Waited on from the test thread: the PUBACK of a publish made inline.
        let ack = done
            .wait(TIMEOUT)
            .unwrap_or_else(|e| panic!("echo {i}: {e}"));
        assert!(ack.reason.is_success(), "echo {i}: {:?}", ack.reason);
    }
    for c in [&echo, &out, &sender] {
        close_and_join_within(c, "close_and_join");
    }
}

// ------------------------------------------------------------------ 3. WouldDeadlock

/// What an inline callback got from midge's waits.
#[derive(Debug)]
struct Attempts {
    thread: String,
    in_callback: bool,
    publish_and_wait: (Result<PublishAck, Error>, Duration),
    subscribe_and_wait: (Result<SubscribeAck, Error>, Duration),
    /// `wait` on a completion that had completed before the callback ran.
    completed_wait: Result<SubscribeAck, Error>,
    /// A plain publish made after the failed waits.
    publish: PublishResult,
    /// A zero wait (a poll) on that publish, still pending: it cannot block, so it answers
    /// `Timeout` as on any thread.
    polled: Option<Result<PublishAck, Error>>,
}

/// Waits inside a callback of `me`; `done` has completed already.
fn attempt_waits(me: &Client, done: &Completion<SubscribeAck>) -> Attempts {
    let mut a = Attempts {
        thread: thread_name(),
        in_callback: me.in_callback(),
        publish_and_wait: timed(|| {
            me.publish_and_wait(
                "dl/out",
                "waited",
                QoS::AtLeastOnce,
                false,
                Properties::new(),
                TIMEOUT,
            )
        }),
        subscribe_and_wait: timed(|| me.subscribe_and_wait("dl/other", QoS::AtLeastOnce, TIMEOUT)),
        completed_wait: done.wait(TIMEOUT),
        publish: me.publish(
            "dl/out",
            "plain",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        ),
        polled: None,
    };
    a.polled = a.publish.as_ref().ok().map(|p| p.wait(Duration::ZERO));
    a
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

#[test]
fn waits_in_an_inline_callback_fail_at_once_with_would_deadlock() {
    let broker = Mosquitto::start();
    let observer = broker.connected_client(options("dl-observer", false));
    observer
        .subscribe_and_wait("dl/out", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();

    let (tx, rx) = mpsc::channel();
    let (later_tx, later_rx) = mpsc::channel();
    // Completed (from this thread) before the callback gets it.
    let completed: Arc<Mutex<Option<Completion<SubscribeAck>>>> = Arc::default();
    let slot = Arc::clone(&completed);
    let c = with_callback(&broker, options("dl", true), move |me| {
        move |e: &ClientEvent| {
            let ClientEvent::Message(m) = e else { return };
            if m.payload[..] != *b"first" {
                let _ = later_tx.send((thread_name(), m.payload.clone()));
                return;
            }
            let done = slot.lock().unwrap().clone().expect("the completion");
            let _ = tx.send(attempt_waits(&me, &done));
        }
    });
    let subscribed = c
        .subscribe(
            vec![Subscription {
                filter: ByteString::from_static("dl/in"),
                options: SubscriptionOptions {
                    qos: QoS::AtLeastOnce,
                    ..SubscriptionOptions::default()
                },
            }],
            Properties::new(),
        )
        .unwrap();
    let granted = subscribed.wait(TIMEOUT).unwrap();
    *completed.lock().unwrap() = Some(subscribed);

    let sender = broker.connected_client(options("dl-sender", false));
    publish_acked(&sender, "dl/in", "first");
    let a = rx
        .recv_timeout(TIMEOUT)
        .expect("the callback's first call returned");
    assert_eq!(a.thread, IO_THREAD);
    assert!(
        a.in_callback,
        "Client::in_callback inside an inline callback"
    );
    let (r, took) = &a.publish_and_wait;
    assert!(
        matches!(r, Err(Error::WouldDeadlock)),
        "publish_and_wait: {r:?}"
    );
    assert!(*took < PROMPTLY, "publish_and_wait took {took:?}");
    let (r, took) = &a.subscribe_and_wait;
    assert!(
        matches!(r, Err(Error::WouldDeadlock)),
        "subscribe_and_wait: {r:?}"
    );
    assert!(*took < PROMPTLY, "subscribe_and_wait took {took:?}");
    assert_eq!(
        a.completed_wait.as_ref().ok(),
        Some(&granted),
        "a completed completion's result, without waiting: {:?}",
        a.completed_wait
    );

    // The client still works: the publish made in the callback after the failed waits is
    // acknowledged and delivered, ...
    assert!(
        matches!(a.polled, Some(Err(Error::Timeout))),
        "poll of a pending publish: {:?}",
        a.polled
    );
    let plain_publish = a.publish.expect("publish after WouldDeadlock");
    assert!(plain_publish.wait(TIMEOUT).unwrap().reason.is_success());
    let mut out = Vec::new();
    while out.last().map(|p: &Bytes| &p[..]) != Some(&b"plain"[..]) {
        match observer.next_event(TIMEOUT) {
            Some(ClientEvent::Message(m)) => out.push(m.payload),
            Some(_) => {}
            None => panic!("the callback's publish never arrived; got {out:?}"),
        }
    }
    // The publish whose wait was refused was never sent: a caller who sees WouldDeadlock
    // can retry without duplicating it.
    let out: Vec<&[u8]> = out.iter().map(|p| &p[..]).collect();
    assert_eq!(out, [&b"plain"[..]]);
    // ... waits from other threads work, and the callback is called again.
    publish_acked(&c, "dl/in", "second");
    let (thread, payload) = later_rx
        .recv_timeout(TIMEOUT)
        .expect("a callback after WouldDeadlock");
    assert_eq!((thread.as_str(), &payload[..]), (IO_THREAD, &b"second"[..]));
    for client in [&c, &sender, &observer] {
        close_and_join_within(client, "close_and_join");
    }
}

// ------------------------------------------------------------------ 4. close_and_join

#[test]
fn close_and_join_from_its_own_inline_callback_returns_and_closed_follows() {
    let broker = Mosquitto::start();
    let (events_tx, events_rx) = mpsc::channel();
    let (returned_tx, returned_rx) = mpsc::channel();
    let c = with_callback(&broker, options("self-close", true), move |me| {
        let mut messages = 0;
        move |e: &ClientEvent| {
            if let ClientEvent::Message(_) = e {
                messages += 1;
                if messages == 1 {
                    let ((), took) = timed(|| me.close_and_join());
                    let _ = returned_tx.send(took);
                }
            }
            let _ = events_tx.send((thread_name(), e.clone()));
        }
    });
    c.subscribe_and_wait("close/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let sender = broker.connected_client(options("self-close-sender", false));
    for _ in 0..3 {
        publish_acked(&sender, "close/t", "bye");
    }
    let took = returned_rx
        .recv_timeout(TIMEOUT)
        .expect("close_and_join returned inside the callback");
    assert!(
        took < PROMPTLY,
        "close_and_join in the callback took {took:?}"
    );

    let (thread, before) = expect_closed_then_dropped(&events_rx, "self-close");
    assert_eq!(thread, IO_THREAD, "Closed delivered inline");
    let messages = before
        .iter()
        .filter(|e| matches!(e, ClientEvent::Message(_)))
        .count();
    assert_eq!(messages, 1, "no message after close_and_join: {before:?}");
    assert!(c.is_closed());
    // Joining again from an application thread returns at once: the callback is retired.
    close_and_join_within(&c, "a second close_and_join");
    close_and_join_within(&sender, "close_and_join");
}

/// Client A's inline callback calls `close_and_join` on client B (inline or not).
fn close_and_join_of_another_client_from_an_inline_callback(b_inline: bool) {
    let broker = Mosquitto::start();
    let (b, b_rx) = recording(&broker, options("other-b", b_inline));
    let (returned_tx, returned_rx) = mpsc::channel();
    let (a_tx, a_rx) = mpsc::channel();
    let mut target = Some(b.clone());
    let a = with_callback(&broker, options("other-a", true), move |_| {
        move |e: &ClientEvent| {
            let ClientEvent::Message(m) = e else { return };
            if m.payload[..] == *b"close b" {
                if let Some(b) = target.take() {
                    let ((), took) = timed(|| b.close_and_join());
                    let _ = returned_tx.send((thread_name(), took));
                }
            } else {
                let _ = a_tx.send((thread_name(), m.payload.clone()));
            }
        }
    });
    a.subscribe_and_wait("other/a", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let sender = broker.connected_client(options("other-sender", false));
    publish_acked(&sender, "other/a", "close b");
    let (thread, took) = returned_rx
        .recv_timeout(TIMEOUT)
        .expect("B's close_and_join returned inside A's callback");
    assert_eq!(thread, IO_THREAD);
    assert!(took < PROMPTLY, "close_and_join of B took {took:?}");

    let (closed_on, _) = expect_closed_then_dropped(&b_rx, "B");
    if b_inline {
        assert_eq!(closed_on, IO_THREAD, "B's Closed");
    } else {
        assert!(
            closed_on.starts_with(DISPATCH_THREAD),
            "B's Closed on {closed_on}"
        );
    }
    assert!(b.is_closed());
    close_and_join_within(&b, "B's close_and_join from the test thread");

    // The I/O thread goes on: A still receives.
    publish_acked(&sender, "other/a", "after");
    let (thread, payload) = a_rx.recv_timeout(TIMEOUT).expect("A's next message");
    assert_eq!((thread.as_str(), &payload[..]), (IO_THREAD, &b"after"[..]));
    close_and_join_within(&a, "A's close_and_join");
    close_and_join_within(&sender, "close_and_join");
}

#[test]
fn close_and_join_of_an_inline_client_from_another_inline_callback_returns() {
    close_and_join_of_another_client_from_an_inline_callback(true);
}

#[test]
fn close_and_join_of_a_dispatched_client_from_an_inline_callback_returns() {
    close_and_join_of_another_client_from_an_inline_callback(false);
}

// ------------------------------------------------------------------ 5. acknowledgements

/// The broker's window of unacknowledged QoS 1 messages to the subscriber is 5
/// (`max_inflight_messages 5`): 100 messages all arrive only if the inline callback's
/// messages are acknowledged.
///
/// The window is the broker's, not the client's Receive Maximum: Mosquitto 2.0.11 sends up
/// to a window's worth of queued messages per PUBACK, so with `receive_maximum = 5` it
/// overruns the client's limit (midge then reads on only as messages are acknowledged,
/// see `Session::input_held`). Either way the broker sends nothing beyond the first 5
/// without a PUBACK.
#[test]
fn inline_callbacks_acknowledge_qos1_messages_so_a_small_window_is_no_limit() {
    const N: u32 = 100;
    let broker = Mosquitto::builder()
        .extra_config("max_inflight_messages 5")
        .start();
    let (sub, rx) = recording(&broker, options("ack-sub", true));
    sub.subscribe_and_wait("ack/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let publisher = broker.connected_client(options("ack-pub", false));
    publish_sequence(&publisher, "ack/t", N);
    let s = collect_sequence(&rx);
    assert_eq!(s.numbers, (0..N).collect::<Vec<_>>());
    assert!(s.threads.iter().all(|t| t == IO_THREAD), "{:?}", s.threads);
    close_and_join_within(&sub, "close_and_join");
    close_and_join_within(&publisher, "close_and_join");
}

#[test]
fn the_puback_follows_what_the_inline_callback_sent() {
    use support::fake_broker::{FakeBroker, publish_packet};

    let broker = FakeBroker::start();
    let c = Client::new(&broker.url(), options("ack-order", true)).unwrap();
    let me = c.clone();
    let (tx, rx) = mpsc::channel();
    c.set_callback(move |e| {
        if let ClientEvent::Message(m) = e {
            me.publish(
                "echo",
                m.payload.clone(),
                QoS::AtMostOnce,
                false,
                Properties::new(),
            )
            .unwrap();
            let _ = tx.send(thread_name());
        }
    });
    let connecting = c.connect();
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.accept_session(TIMEOUT);
    connecting.wait(TIMEOUT).unwrap();
    conn.send(&publish_packet(
        "in",
        QoS::AtLeastOnce,
        7,
        Bytes::from_static(b"x"),
        Properties::new(),
    ));
    assert_eq!(rx.recv_timeout(TIMEOUT).unwrap(), IO_THREAD);
    // The echo was asked for inside the callback, the PUBACK only after it returned.
    match conn.recv_packet(TIMEOUT).unwrap() {
        Packet::Publish(p) => assert_eq!(p.topic, "echo"),
        other => panic!("expected the echo first, got {other:?}"),
    }
    assert_eq!(
        conn.recv_packet(TIMEOUT).unwrap(),
        Packet::PubAck(PubAck::new(7))
    );
    close_and_join_within(&c, "close_and_join");
}
