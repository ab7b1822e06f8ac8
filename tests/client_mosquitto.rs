//! The whole client against a real Mosquitto, started per test on an ephemeral port.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use midge::codec::{
    ByteString, Bytes, DisconnectReasonCode, Properties, Property, PropertyId, QoS, RetainHandling,
    SubAckReasonCode, Subscription, SubscriptionOptions, UnsubAckReasonCode, Will,
};
use midge::protocol::{DisconnectCause, Message};
use midge::runtime::{Client, ClientEvent, ReconnectPolicy};
use support::client_options as options;
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, sub};

fn client(broker: &Mosquitto, id: &str) -> Client {
    broker.connected_client(options(id))
}

/// The next message, skipping other events.
fn next_message(c: &Client, timeout: Duration) -> Option<Message> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if let ClientEvent::Message(m) = c.next_event(left)? {
            return Some(m);
        }
    }
}

fn expect_message(c: &Client) -> Message {
    next_message(c, TIMEOUT).expect("a message within the timeout")
}

fn expect_no_message(c: &Client, wait: Duration) {
    if let Some(m) = next_message(c, wait) {
        panic!("unexpected message {m:?}");
    }
}

#[test]
fn authentication_accepted_and_refused() {
    let broker = Mosquitto::builder().password("gateway", "s3cret").start();
    let mut good = options("auth-good");
    good.session.username = Some(ByteString::from_static("gateway"));
    good.session.password = Some(Bytes::from_static(b"s3cret"));
    let c = broker.connected_client(good);
    c.disconnect_and_wait(TIMEOUT).unwrap();

    let mut bad = options("auth-bad");
    bad.session.username = Some(ByteString::from_static("gateway"));
    bad.session.password = Some(Bytes::from_static(b"wrong"));
    let c = Client::new(&broker.url(), bad).unwrap();
    match c.connect_and_wait(TIMEOUT) {
        Err(midge::Error::ConnectionRefused(r)) => {
            assert!(
                matches!(r.reason_code.as_u8(), 0x86 | 0x87),
                "{}",
                r.reason_code
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn qos_round_trips_with_binary_and_large_payloads() {
    let broker = Mosquitto::builder().start();
    let c = client(&broker, "rt");
    c.subscribe_and_wait("rt/#", QoS::ExactlyOnce, TIMEOUT)
        .unwrap();
    let binary: Vec<u8> = (0..=255).collect();
    let large: Vec<u8> = (0..256 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for payload in [&binary, &large] {
            let ack = c
                .publish_and_wait(
                    "rt/x",
                    payload.clone(),
                    qos,
                    false,
                    Properties::new(),
                    TIMEOUT,
                )
                .unwrap();
            assert!(ack.reason.is_success());
            let m = expect_message(&c);
            assert_eq!(m.qos, qos);
            assert_eq!(&m.payload[..], &payload[..], "{qos:?}");
        }
    }
}

#[test]
fn properties_and_user_properties_round_trip() {
    let broker = Mosquitto::builder().start();
    let c = client(&broker, "props");
    c.subscribe_and_wait("p/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let props = Properties::new()
        .with(Property::ContentType(ByteString::from_static(
            "application/json",
        )))
        .with(Property::UserProperty(
            ByteString::from_static("k1"),
            ByteString::from_static("v1"),
        ))
        .with(Property::UserProperty(
            ByteString::from_static("k1"),
            ByteString::from_static("v2"),
        ))
        .with(Property::MessageExpiryInterval(60));
    c.publish_and_wait("p/t", "{}", QoS::AtLeastOnce, false, props, TIMEOUT)
        .unwrap();
    let m = expect_message(&c);
    assert_eq!(
        m.properties
            .get_str(PropertyId::ContentType)
            .map(|s| &s[..]),
        Some("application/json")
    );
    let users: Vec<_> = m.properties.user_properties().collect();
    assert_eq!(users, vec![("k1", "v1"), ("k1", "v2")], "order kept");
    let expiry = m
        .properties
        .get_int(PropertyId::MessageExpiryInterval)
        .unwrap();
    assert!((58..=60).contains(&expiry), "{expiry}");
}

#[test]
fn request_response_round_trip() {
    let broker = Mosquitto::builder().start();
    let responder = client(&broker, "responder");
    responder
        .subscribe_and_wait("svc/echo", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let r = responder.clone();
    responder.set_callback(move |e| {
        if let ClientEvent::Message(m) = e {
            let topic = m.properties.get_str(PropertyId::ResponseTopic).cloned();
            let corr = m
                .properties
                .get_binary(PropertyId::CorrelationData)
                .cloned();
            if let (Some(topic), Some(corr)) = (topic, corr) {
                let mut reply = m.payload.to_vec();
                reply.extend_from_slice(b"!");
                r.publish(
                    &topic,
                    reply,
                    QoS::AtLeastOnce,
                    false,
                    Properties::new().with(Property::CorrelationData(corr)),
                )
                .unwrap();
            }
        }
    });
    let requester = client(&broker, "requester");
    requester
        .subscribe_and_wait("reply/requester", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    for i in 0..3 {
        let reply = requester
            .request(
                "svc/echo",
                format!("ping {i}"),
                QoS::AtLeastOnce,
                "reply/requester",
                TIMEOUT,
            )
            .unwrap();
        assert_eq!(&reply.payload[..], format!("ping {i}!").as_bytes());
    }
    // Nobody answers this one: a timeout, not a hang.
    let err = requester
        .request(
            "svc/nobody",
            "x",
            QoS::AtMostOnce,
            "reply/requester",
            Duration::from_millis(200),
        )
        .unwrap_err();
    assert!(matches!(err, midge::Error::Timeout));
    responder.close().wait(TIMEOUT).unwrap();
}

#[test]
fn publishes_from_many_threads_all_arrive_once_each_thread_in_order() {
    // Callers publish on their own thread while the I/O thread sleeps and through the
    // queue while it works; both paths at once, from four threads sharing one client,
    // must keep each thread's order and lose nothing (4.6: a client's messages of one QoS
    // to one topic arrive in the order sent). Not across QoS levels: a QoS 0 PUBLISH may
    // go out while QoS 1 ones wait for the server's Receive Maximum (4.9).
    // Mosquitto drops what queues beyond max_queued_messages (1,000 by default) for a
    // subscriber that falls behind: unbounded here.
    let broker = Mosquitto::builder()
        .extra_config("max_queued_messages 0")
        .start();
    let receiver = client(&broker, "mt-receiver");
    receiver
        .subscribe_and_wait("mt/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let sender = client(&broker, "mt-sender");
    let threads: u8 = 4;
    let per_thread: u16 = 500;
    let mut next = vec![0u16; usize::from(threads)];
    std::thread::scope(|scope| {
        for t in 0..threads {
            let sender = sender.clone();
            scope.spawn(move || {
                let mut last = None;
                for n in 0..per_thread {
                    let mut payload = vec![t];
                    payload.extend_from_slice(&n.to_be_bytes());
                    let topic = format!("mt/{t}");
                    last = Some(
                        sender
                            .publish(&topic, payload, QoS::AtLeastOnce, false, Properties::new())
                            .unwrap(),
                    );
                }
                last.unwrap().wait(TIMEOUT).unwrap();
            });
        }
        // Received meanwhile.
        let total = usize::from(threads) * usize::from(per_thread);
        for _ in 0..total {
            let m = expect_message(&receiver);
            let t = usize::from(m.payload[0]);
            let n = u16::from_be_bytes([m.payload[1], m.payload[2]]);
            assert_eq!(&m.topic[..], format!("mt/{t}"));
            assert_eq!(n, next[t], "thread {t}: message {n} out of order");
            next[t] = n + 1;
        }
    });
    assert!(next.iter().all(|&n| n == per_thread), "{next:?}");
    expect_no_message(&receiver, Duration::from_millis(200));
}

#[test]
fn retained_messages_and_retain_handling() {
    let broker = Mosquitto::builder().start();
    let publisher = client(&broker, "ret-pub");
    publisher
        .publish_and_wait(
            "ret/a",
            "kept",
            QoS::AtLeastOnce,
            true,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();

    let with = |handling, rap| Subscription {
        filter: ByteString::from_static("ret/a"),
        options: SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            retain_as_published: rap,
            retain_handling: handling,
            ..SubscriptionOptions::default()
        },
    };
    // Retain Handling 0: the retained message on every subscribe.
    let c = client(&broker, "ret-0");
    c.subscribe(
        vec![with(RetainHandling::SendAtSubscribe, false)],
        Properties::new(),
    )
    .unwrap()
    .wait(TIMEOUT)
    .unwrap();
    let m = expect_message(&c);
    assert!(m.retain && &m.payload[..] == b"kept");
    c.subscribe(
        vec![with(RetainHandling::SendAtSubscribe, false)],
        Properties::new(),
    )
    .unwrap()
    .wait(TIMEOUT)
    .unwrap();
    assert!(expect_message(&c).retain, "sent again on re-subscribe");

    // Retain Handling 1: only if the subscription is new.
    let c1 = client(&broker, "ret-1");
    for _ in 0..2 {
        c1.subscribe(
            vec![with(RetainHandling::SendAtSubscribeIfNew, false)],
            Properties::new(),
        )
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    }
    assert!(expect_message(&c1).retain);
    expect_no_message(&c1, Duration::from_millis(300));

    // Retain Handling 2: never.
    let c2 = client(&broker, "ret-2");
    c2.subscribe(
        vec![with(RetainHandling::DoNotSend, true)],
        Properties::new(),
    )
    .unwrap()
    .wait(TIMEOUT)
    .unwrap();
    expect_no_message(&c2, Duration::from_millis(300));

    // Retain As Published: a live retained publish keeps its flag only with RAP.
    publisher
        .publish_and_wait(
            "ret/a",
            "live",
            QoS::AtLeastOnce,
            true,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();
    let m2 = expect_message(&c2);
    assert!(m2.retain, "RAP keeps the retain flag");
    let m1 = expect_message(&c1);
    assert!(!m1.retain, "without RAP a forwarded message has retain 0");
}

#[test]
fn no_local_suppresses_own_messages() {
    let broker = Mosquitto::builder().start();
    let c = client(&broker, "nolocal");
    c.subscribe(
        vec![Subscription {
            filter: ByteString::from_static("nl/t"),
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                ..SubscriptionOptions::default()
            },
        }],
        Properties::new(),
    )
    .unwrap()
    .wait(TIMEOUT)
    .unwrap();
    c.publish_and_wait(
        "nl/t",
        "mine",
        QoS::AtLeastOnce,
        false,
        Properties::new(),
        TIMEOUT,
    )
    .unwrap();
    let other = client(&broker, "nolocal-other");
    other
        .publish_and_wait(
            "nl/t",
            "theirs",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();
    let m = expect_message(&c);
    assert_eq!(&m.payload[..], b"theirs");
}

#[test]
fn shared_subscription_splits_messages() {
    let broker = Mosquitto::builder().start();
    let a = client(&broker, "share-a");
    let b = client(&broker, "share-b");
    for c in [&a, &b] {
        c.subscribe_and_wait("$share/g/sh/t", QoS::AtLeastOnce, TIMEOUT)
            .unwrap();
    }
    let p = client(&broker, "share-pub");
    for i in 0..20 {
        p.publish_and_wait(
            "sh/t",
            format!("{i}"),
            QoS::AtLeastOnce,
            false,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut per = [0usize; 2];
    let deadline = std::time::Instant::now() + TIMEOUT;
    while seen.len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of 20 arrived: {seen:?}",
            seen.len()
        );
        for (i, c) in [&a, &b].iter().enumerate() {
            if let Some(m) = next_message(c, Duration::from_millis(50)) {
                per[i] += 1;
                seen.push(String::from_utf8(m.payload.to_vec()).unwrap());
            }
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 20, "each message once across the group");
    assert!(per[0] > 0 && per[1] > 0, "both members got some: {per:?}");
}

#[test]
fn subscription_identifiers_and_unsubscribe() {
    let broker = Mosquitto::builder().start();
    let c = client(&broker, "subid");
    c.subscribe(
        vec![sub("sid/+", QoS::AtLeastOnce)],
        Properties::new().with(Property::SubscriptionIdentifier(42)),
    )
    .unwrap()
    .wait(TIMEOUT)
    .unwrap();
    c.publish_and_wait(
        "sid/x",
        "1",
        QoS::AtLeastOnce,
        false,
        Properties::new(),
        TIMEOUT,
    )
    .unwrap();
    let m = expect_message(&c);
    assert_eq!(
        m.properties.subscription_identifiers().collect::<Vec<_>>(),
        vec![42]
    );

    let ack = c
        .unsubscribe(
            vec![
                ByteString::from_static("sid/+"),
                ByteString::from_static("none/x"),
            ],
            Properties::new(),
        )
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    assert_eq!(
        ack.reason_codes,
        vec![
            UnsubAckReasonCode::Success,
            UnsubAckReasonCode::NoSubscriptionExisted
        ]
    );
    c.publish_and_wait(
        "sid/x",
        "2",
        QoS::AtLeastOnce,
        false,
        Properties::new(),
        TIMEOUT,
    )
    .unwrap();
    expect_no_message(&c, Duration::from_millis(300));
}

#[test]
fn suback_reports_granted_qos_per_filter() {
    let broker = Mosquitto::builder().extra_config("max_qos 1").start();
    let c = client(&broker, "granted");
    let ack = c
        .subscribe(
            vec![sub("g/0", QoS::AtMostOnce), sub("g/2", QoS::ExactlyOnce)],
            Properties::new(),
        )
        .unwrap()
        .wait(TIMEOUT)
        .unwrap();
    assert_eq!(
        ack.reason_codes,
        vec![SubAckReasonCode::GrantedQos0, SubAckReasonCode::GrantedQos1]
    );
}

fn will(topic: &str, delay: Option<u32>) -> Will {
    let mut properties = Properties::new();
    if let Some(d) = delay {
        properties.push(Property::WillDelayInterval(d));
    }
    Will {
        topic: ByteString::from(topic),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties,
    }
}

#[test]
fn an_invalid_will_is_refused_when_the_client_is_made() {
    // A Will Topic is a topic name: no wildcards (4.7.1); its properties must be ones a
    // Will may carry (3.1.3.2). Refused before anything is sent.
    let mut opts = options("will-bad-topic");
    opts.session.will = Some(will("will/#", None));
    assert!(matches!(
        Client::new("mqtt://127.0.0.1:1", opts),
        Err(midge::Error::Request(
            midge::protocol::RequestError::InvalidTopic(_)
        ))
    ));
    let mut opts = options("will-bad-property");
    let mut w = will("will/ok", None);
    w.properties.push(Property::SubscriptionIdentifier(1));
    opts.session.will = Some(w);
    assert!(matches!(
        Client::new("mqtt://127.0.0.1:1", opts),
        Err(midge::Error::Request(
            midge::protocol::RequestError::InvalidProperties(_)
        ))
    ));
    let mut opts = options("will-good");
    opts.session.will = Some(will("will/ok", Some(5)));
    Client::new("mqtt://127.0.0.1:1", opts).unwrap().close();
}

#[test]
fn will_is_not_sent_after_normal_disconnect_but_is_with_0x04() {
    let broker = Mosquitto::builder().start();
    let watcher = client(&broker, "will-watch");
    watcher
        .subscribe_and_wait("will/#", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();

    let mut opts = options("will-normal");
    opts.session.will = Some(will("will/normal", None));
    let c = broker.connected_client(opts);
    c.disconnect_and_wait(TIMEOUT).unwrap();
    expect_no_message(&watcher, Duration::from_millis(500));

    let mut opts = options("will-04");
    opts.session.will = Some(will("will/04", None));
    let c = broker.connected_client(opts);
    c.disconnect(
        DisconnectReasonCode::DisconnectWithWillMessage,
        Properties::new(),
    )
    .wait(TIMEOUT)
    .unwrap();
    let m = expect_message(&watcher);
    assert_eq!(m.topic, "will/04");
    assert_eq!(&m.payload[..], b"gone");
}

/// Run in a child process: connect with a Will and wait to be killed.
/// Not a test: the process `spawn_will_child` runs (this binary, this function only).
#[test]
#[ignore = "the child process of spawn_will_child, run by it"]
fn will_child_process() {
    let url = std::env::var("MIDGE_WILL_CHILD_BROKER").expect("run by spawn_will_child");
    let topic = std::env::var("MIDGE_WILL_CHILD_TOPIC").unwrap();
    let delay = std::env::var("MIDGE_WILL_CHILD_DELAY")
        .ok()
        .map(|d| d.parse().unwrap());
    let mut opts = options(&format!("will-child-{}", std::process::id()));
    opts.session.will = Some(will(&topic, delay));
    opts.session.session_expiry_interval = delay.unwrap_or(0);
    let c = Client::new(&url, opts).unwrap();
    c.connect_and_wait(TIMEOUT).unwrap();
    println!("CONNECTED");
    // Stay connected until the parent kills us; if the parent goes away first, its end of
    // our stdin closes and we end (cleanly) instead of lingering.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

fn spawn_will_child(broker: &Mosquitto, topic: &str, delay: Option<u32>) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "will_child_process",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("MIDGE_WILL_CHILD_BROKER", broker.url())
    .env("MIDGE_WILL_CHILD_TOPIC", topic)
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped());
    if let Some(d) = delay {
        cmd.env("MIDGE_WILL_CHILD_DELAY", d.to_string());
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // Bounded: the child connects within its own TIMEOUT or exits with a failure.
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("CONNECTED") => break,
            Some(Ok(_)) => {}
            _ => panic!("will child did not connect"),
        }
    }
    child
}

#[test]
fn will_is_delivered_when_the_client_dies_abruptly() {
    let broker = Mosquitto::builder().start();
    let watcher = client(&broker, "will-watch-2");
    watcher
        .subscribe_and_wait("will/abrupt", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let mut child = spawn_will_child(&broker, "will/abrupt", None);
    child.kill().unwrap();
    child.wait().unwrap();
    let m = expect_message(&watcher);
    assert_eq!(m.topic, "will/abrupt");
}

#[test]
fn will_delay_interval_postpones_the_will() {
    let broker = Mosquitto::builder().start();
    let watcher = client(&broker, "will-watch-3");
    watcher
        .subscribe_and_wait("will/delayed", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    let mut child = spawn_will_child(&broker, "will/delayed", Some(2));
    let killed = std::time::Instant::now();
    child.kill().unwrap();
    child.wait().unwrap();
    let m = next_message(&watcher, Duration::from_secs(6)).expect("the will, after its delay");
    assert_eq!(m.topic, "will/delayed");
    assert!(
        killed.elapsed() >= Duration::from_millis(1500),
        "delivered after {:?}, before the 2 s delay",
        killed.elapsed()
    );
}

#[test]
fn message_expiry_drops_messages_that_waited_too_long() {
    let broker = Mosquitto::builder().start();
    let mut opts = options("expiry-sub");
    opts.session.clean_start = true;
    opts.session.session_expiry_interval = 60;
    let c = broker.connected_client(opts);
    c.subscribe_and_wait("exp/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    c.disconnect_and_wait(TIMEOUT).unwrap();

    let p = client(&broker, "expiry-pub");
    p.publish_and_wait(
        "exp/t",
        "short",
        QoS::AtLeastOnce,
        false,
        Properties::new().with(Property::MessageExpiryInterval(1)),
        TIMEOUT,
    )
    .unwrap();
    p.publish_and_wait(
        "exp/t",
        "long",
        QoS::AtLeastOnce,
        false,
        Properties::new().with(Property::MessageExpiryInterval(120)),
        TIMEOUT,
    )
    .unwrap();
    // Let the short one expire while the subscriber is away (the broker's clock, not ours:
    // there is no event to wait for).
    std::thread::sleep(Duration::from_millis(2100));
    let mut opts = options("expiry-sub");
    opts.session.clean_start = false;
    opts.session.session_expiry_interval = 60;
    let c = broker.connected_client(opts);
    let m = expect_message(&c);
    assert_eq!(&m.payload[..], b"long");
    expect_no_message(&c, Duration::from_millis(300));
}

#[test]
fn session_resumption_receives_messages_queued_while_offline() {
    let broker = Mosquitto::builder().start();
    let mut opts = options("resume");
    opts.session.session_expiry_interval = 300;
    let c = broker.connected_client(opts);
    c.subscribe_and_wait("resume/t", QoS::ExactlyOnce, TIMEOUT)
        .unwrap();
    c.disconnect_and_wait(TIMEOUT).unwrap();
    drop(c);

    let p = client(&broker, "resume-pub");
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        p.publish_and_wait(
            "resume/t",
            format!("{qos:?}"),
            qos,
            false,
            Properties::new(),
            TIMEOUT,
        )
        .unwrap();
    }
    let mut opts = options("resume");
    opts.session.clean_start = false;
    opts.session.session_expiry_interval = 300;
    let c = Client::new(&broker.url(), opts).unwrap();
    let info = c.connect_and_wait(TIMEOUT).unwrap();
    assert!(info.session_present);
    let a = expect_message(&c);
    let b = expect_message(&c);
    assert_eq!(
        (&a.payload[..], &b.payload[..]),
        (&b"AtLeastOnce"[..], &b"ExactlyOnce"[..])
    );
}

#[test]
fn qos2_exactly_once_across_a_broker_restart_with_persistence() {
    let mut broker = Mosquitto::builder().persistence(true).start();
    // Mosquitto 2.0.11 persists a session only for a client that connected with Clean
    // Start 0 (persist__client_save in its src/persist_write.c skips the rest), whatever its
    // Session Expiry Interval. The broker is fresh, so Clean Start 0 starts new sessions.
    // A resumable session that reconnects quickly.
    let persistent = |id: &str| {
        let mut opts = options(id);
        opts.session.clean_start = false;
        opts.session.session_expiry_interval = 300;
        opts.reconnect = ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            ..ReconnectPolicy::default()
        };
        opts
    };
    let subscriber = broker.connected_client(persistent("eo-sub"));
    subscriber
        .subscribe_and_wait("eo/t", QoS::ExactlyOnce, TIMEOUT)
        .unwrap();

    let publisher = broker.connected_client(persistent("eo-pub"));
    let n = 200;
    let pending: Vec<_> = (0..n)
        .map(|i| {
            publisher
                .publish(
                    "eo/t",
                    format!("{i}"),
                    QoS::ExactlyOnce,
                    false,
                    Properties::new(),
                )
                .unwrap()
        })
        .collect();
    // Restart the broker in the middle of the exchange.
    broker.restart();
    for done in pending {
        done.wait(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("publish: {e}\n{}", broker.log()));
    }
    let mut got = HashSet::new();
    while got.len() < n {
        let message = next_message(&subscriber, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("only {} of {n} arrived\n{}", got.len(), broker.log()));
        let i: usize = std::str::from_utf8(&message.payload)
            .unwrap()
            .parse()
            .unwrap();
        assert!(got.insert(i), "message {i} delivered twice");
    }
    expect_no_message(&subscriber, Duration::from_millis(500));
}

#[test]
fn automatic_reconnect_after_the_broker_is_killed_and_restarted() {
    let mut broker = Mosquitto::builder().start();
    let mut opts = options("reconnect");
    opts.reconnect = ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(300),
        ..ReconnectPolicy::default()
    };
    opts.session.session_expiry_interval = 0;
    let c = broker.connected_client(opts);
    c.subscribe_and_wait("rc/t", QoS::AtLeastOnce, TIMEOUT)
        .unwrap();
    broker.kill();
    // Publishing while the broker is down waits in the offline queue.
    let queued = c
        .publish(
            "rc/t",
            "while down",
            QoS::AtLeastOnce,
            false,
            Properties::new(),
        )
        .unwrap();
    let mut lost = false;
    let mut reconnecting = false;
    while !(lost && reconnecting) {
        match c.next_event(TIMEOUT).expect("connection-lost events") {
            ClientEvent::ConnectionLost(DisconnectCause::Transport { .. }) => lost = true,
            ClientEvent::Reconnecting { .. } => reconnecting = true,
            _ => {}
        }
    }
    broker.restart();
    let mut resubscribed = false;
    loop {
        match c.next_event(Duration::from_secs(10)).expect("reconnection") {
            ClientEvent::SessionLost { resubscribed: n } => {
                assert_eq!(n, 1);
                resubscribed = true;
            }
            ClientEvent::Message(m) => {
                assert!(resubscribed, "resubscribed before the message arrived");
                assert_eq!(&m.payload[..], b"while down");
                break;
            }
            _ => {}
        }
    }
    queued.wait(TIMEOUT).unwrap();
}

#[test]
fn keep_alive_pings_keep_an_idle_connection_up() {
    let broker = Mosquitto::builder().start();
    let mut opts = options("keepalive");
    opts.session.keep_alive = 1;
    let c = broker.connected_client(opts);
    assert!(matches!(
        c.next_event(TIMEOUT),
        Some(ClientEvent::Connected(_))
    ));
    // Idle for three keep-alive periods: only PINGREQ/PINGRESP flow. Without them the
    // broker would close the connection after 1.5 s [MQTT-3.1.2-22], a ConnectionLost here.
    if let Some(e) = c.next_event(Duration::from_millis(3200)) {
        panic!("{e:?}");
    }
    c.publish_and_wait(
        "ka/t",
        "alive",
        QoS::AtLeastOnce,
        false,
        Properties::new(),
        TIMEOUT,
    )
    .unwrap();
}

#[test]
fn assigned_client_identifier_is_surfaced() {
    let broker = Mosquitto::builder().start();
    let c = Client::new(&broker.url(), options("")).unwrap();
    let info = c.connect_and_wait(TIMEOUT).unwrap();
    let id = info.assigned_client_id.expect("the broker assigns one");
    assert!(!id.is_empty());
}

#[test]
fn api_misuse_returns_typed_errors_and_sends_nothing() {
    let broker = Mosquitto::builder().start();
    let c = client(&broker, "misuse");
    assert!(matches!(
        c.publish("a/+", "x", QoS::AtMostOnce, false, Properties::new()),
        Err(midge::Error::Request(
            midge::protocol::RequestError::InvalidTopic(_)
        ))
    ));
    assert!(matches!(
        c.subscribe(vec![], Properties::new()),
        Err(midge::Error::Request(
            midge::protocol::RequestError::NoTopicFilters
        ))
    ));
    assert!(matches!(
        c.subscribe(vec![sub("a/#/b", QoS::AtMostOnce)], Properties::new()),
        Err(midge::Error::Request(
            midge::protocol::RequestError::InvalidTopicFilter(_)
        ))
    ));
    c.close().wait(TIMEOUT).unwrap();
    let after = c
        .publish("a", "x", QoS::AtLeastOnce, false, Properties::new())
        .unwrap()
        .wait(TIMEOUT);
    assert!(matches!(after, Err(midge::Error::Closed)), "{after:?}");
}
