//! Shared harness for the integration tests: a per-test Mosquitto, a scripted fake broker
//! and a recording proxy.
//!
//! Each test binary uses only part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod fake_broker;
pub mod hostile_server;
pub mod mosquitto;
pub mod wire_proxy;

use std::time::{Duration, Instant};

/// Options for a test client: client identifier `id`, no reconnection (a test that wants
/// it says so).
pub fn client_options(id: &str) -> midge::runtime::ClientOptions {
    midge::runtime::ClientOptions {
        session: midge::protocol::Options {
            client_id: midge::codec::ByteString::from(id),
            ..midge::protocol::Options::default()
        },
        reconnect: midge::runtime::ReconnectPolicy::disabled(),
        ..midge::runtime::ClientOptions::default()
    }
}

/// Options for a client with a persistent session: `id`, a Session Expiry Interval of 600 s
/// and fast reconnection (20 ms, at most 200 ms); the caller sets the store.
pub fn persistent_client_options(id: &str) -> midge::runtime::ClientOptions {
    let mut o = client_options(id);
    o.session.session_expiry_interval = 600;
    o.reconnect = midge::runtime::ReconnectPolicy {
        enabled: true,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..midge::runtime::ReconnectPolicy::default()
    };
    o
}

/// A publish request of `payload` to `topic` at `qos`: not retained, no alias, no
/// properties.
pub fn publish_request(
    topic: &str,
    qos: midge::codec::QoS,
    payload: String,
) -> midge::protocol::PublishRequest {
    midge::protocol::PublishRequest {
        topic: midge::codec::ByteString::from(topic),
        payload: midge::codec::Bytes::from(payload),
        qos,
        retain: false,
        topic_alias: None,
        properties: midge::codec::Properties::new(),
    }
}

/// A subscription to `filter` at `qos`, other options at their defaults.
pub fn sub(filter: &str, qos: midge::codec::QoS) -> midge::codec::Subscription {
    midge::codec::Subscription {
        filter: midge::codec::ByteString::from(filter),
        options: midge::codec::SubscriptionOptions {
            qos,
            ..midge::codec::SubscriptionOptions::default()
        },
    }
}

/// The bound on every wait that is expected to succeed.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Polls `cond` until it holds or `timeout` passes; `true` when it held.
///
/// Waits at most 10 ms between polls, and never beyond the deadline.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}

/// `n` as a 4-byte big-endian payload: a numbered message.
pub fn numbered(n: u32) -> midge::codec::Bytes {
    midge::codec::Bytes::copy_from_slice(&n.to_be_bytes())
}

/// Publishes 0..count at QoS 0 to `topic`, numbered.
pub fn publish_numbered_qos0(c: &midge::runtime::Client, topic: &str, count: u32) {
    for n in 0..count {
        c.publish(
            topic,
            numbered(n),
            midge::codec::QoS::AtMostOnce,
            false,
            midge::codec::Properties::new(),
        )
        .unwrap();
    }
}
