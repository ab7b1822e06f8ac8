//! Durable sessions against a real Mosquitto: a client made with the store of an earlier
//! one (closed, or killed with SIGKILL at random points) sends everything the earlier one
//! accepted, once at QoS 2, and reports how each restored publish ended.
//!
//! The crash test runs its publisher as a child process: this test binary started again
//! with `MIDGE_CRASH_CHILD` set, running only `crash_child`, which the parent kills.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use midge::codec::QoS;
use midge::runtime::{Client, ClientEvent, ClientOptions, ReconnectPolicy};
use midge::store::{Durability, FileStore, SharedStore, StoreLimits};
use parking_lot::Mutex;
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, publish_request as request, wait_until};

fn store_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("midge-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open_store(dir: &Path, durability: Durability) -> SharedStore {
    let store = FileStore::open(dir.join("session.midge"), StoreLimits::default())
        .expect("the store opens");
    SharedStore::new(Box::new(store), durability)
}

fn persistent_options(id: &str, store: SharedStore) -> ClientOptions {
    let mut o = support::persistent_client_options(id);
    o.store = Some(store);
    o
}

/// Everything a subscriber received, by topic: payloads in order of arrival.
#[derive(Default, Clone)]
struct Received(Arc<Mutex<BTreeMap<String, Vec<String>>>>);

impl Received {
    fn subscriber(broker: &Mosquitto, id: &str, filter: &str) -> (Client, Self) {
        let mut o = support::client_options(id);
        o.session.session_expiry_interval = 600;
        o.reconnect = ReconnectPolicy {
            enabled: true,
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            ..ReconnectPolicy::default()
        };
        let client = broker.connected_client(o);
        let received = Self::default();
        let r = received.clone();
        client.set_callback(move |e| {
            if let ClientEvent::Message(m) = e {
                r.0.lock()
                    .entry(m.topic.to_string())
                    .or_default()
                    .push(String::from_utf8_lossy(&m.payload).into_owned());
            }
        });
        client
            .subscribe_and_wait(filter, QoS::ExactlyOnce, TIMEOUT)
            .unwrap();
        (client, received)
    }

    fn count(&self, topic: &str) -> usize {
        self.0.lock().get(topic).map_or(0, Vec::len)
    }
}

/// Waits for `n` restored publishes to end, each acknowledged, on one connection (a lost
/// connection fails the test); their completion ids.
fn wait_restored(client: &Client, n: usize) -> BTreeSet<u64> {
    let mut restored = BTreeSet::new();
    let deadline = Instant::now() + TIMEOUT;
    while restored.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event(left) {
            Some(ClientEvent::RestoredPublishComplete { id, result, .. }) => {
                assert!(result.is_ok(), "{result:?}");
                restored.insert(id);
            }
            Some(ClientEvent::ConnectionLost(cause)) => {
                panic!("the connection sending the restored publishes failed: {cause:?}")
            }
            Some(_) => {}
            None => panic!("restored {} of {n}", restored.len()),
        }
    }
    restored
}

/// Publishes accepted while offline survive the client's close: a client
/// made later with the store sends each of them (once: QoS 2 reaches the subscriber exactly
/// once), and reports each restored publish's end with the completion id it had.
#[test]
fn a_new_client_sends_what_a_closed_one_accepted() {
    let dir = store_dir("closed");
    let broker = Mosquitto::start();
    let (_subscriber, received) = Received::subscriber(&broker, "persist-sub", "persist/#");
    let url = broker.url();
    let mut ids = BTreeSet::new();
    {
        let store = open_store(&dir, Durability::Os);
        // Never connected: every publish waits in the offline queue.
        let client = Client::new(&url, persistent_options("persist-pub", store)).unwrap();
        for n in 0..5 {
            for (topic, qos) in [
                ("persist/q1", QoS::AtLeastOnce),
                ("persist/q2", QoS::ExactlyOnce),
            ] {
                let done = client
                    .publish_request(request(topic, qos, n.to_string()))
                    .expect("accepted offline");
                ids.insert(done.id());
            }
        }
        client.close_and_join();
    }
    // It never connected, yet the store is its own: a client with another identifier is
    // refused it (it would send another client's messages).
    let other = Client::new(
        &url,
        persistent_options("persist-other", open_store(&dir, Durability::Os)),
    );
    match other {
        Err(midge::Error::InvalidArgument(m)) => assert!(m.contains("persist-pub"), "{m}"),
        Err(e) => panic!("refused for the wrong reason: {e}"),
        Ok(_) => panic!("a store holding another client's messages was accepted"),
    }
    let store = open_store(&dir, Durability::Os);
    let client = Client::new(&url, persistent_options("persist-pub", store)).unwrap();
    client.connect_and_wait(TIMEOUT).unwrap();
    let restored = wait_restored(&client, ids.len());
    assert_eq!(
        restored, ids,
        "each restored publish ends with its completion id"
    );
    assert!(wait_until(TIMEOUT, || received.count("persist/q1") >= 5
        && received.count("persist/q2") >= 5));
    let got = received.0.lock().clone();
    let q2: Vec<&str> = got["persist/q2"].iter().map(String::as_str).collect();
    assert_eq!(q2, ["0", "1", "2", "3", "4"], "QoS 2: each once, in order");
    client.close_and_join();
}

/// A store filled to its bound by accepted publishes sends them all: the room their sent
/// states need was taken when they were accepted, so connecting asks the full store for no
/// more (before, every connection failed with "store full" and nothing was sent).
#[test]
fn a_store_filled_by_accepted_publishes_sends_them_all_within_its_bound() {
    let dir = store_dir("full");
    let broker = Mosquitto::start();
    let (_subscriber, received) = Received::subscriber(&broker, "full-sub", "full/#");
    let url = broker.url();
    let limits = StoreLimits {
        max_bytes: 3000,
        ..StoreLimits::default()
    };
    let open = || {
        let store = FileStore::open(dir.join("session.midge"), limits).expect("opens");
        SharedStore::new(Box::new(store), Durability::Os)
    };
    let mut ids = BTreeSet::new();
    {
        let client = Client::new(&url, persistent_options("full-pub", open())).unwrap();
        for n in 0.. {
            let qos = [QoS::AtLeastOnce, QoS::ExactlyOnce][n % 2];
            match client.publish_request(request("full/m", qos, format!("{n:040}"))) {
                Ok(done) => ids.insert(done.id()),
                Err(midge::Error::Store(e)) => {
                    assert!(matches!(*e, midge::store::StoreError::Full { .. }), "{e}");
                    break;
                }
                Err(e) => panic!("refused for the wrong reason: {e}"),
            };
        }
        assert!(ids.len() >= 10, "only {} publishes fit", ids.len());
        client.close_and_join();
    }
    let client = Client::new(&url, persistent_options("full-pub", open())).unwrap();
    client.connect_and_wait(TIMEOUT).unwrap();
    assert_eq!(wait_restored(&client, ids.len()), ids);
    assert!(wait_until(TIMEOUT, || received.count("full/m") >= ids.len()));
    client.close_and_join();
}

// ------------------------------------------------------------------------ kill -9

const STREAM: u64 = 1500;
const KILLS: usize = 10;

/// The publisher the crash test kills: publishes `crash/q1/<n>` and `crash/q2/<n>` for n up
/// to STREAM, QoS 1 and 2, through a file store; appends "intent n" before each publish
/// and "ok n" after the call returned OK to its journal, and carries on after the last
/// "ok" when started again. With everything published it waits for every completion
/// (restored ones included) and exits 0.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("MIDGE_CRASH_CHILD") else {
        return; // Only as the crash test's child.
    };
    let url = std::env::var("MIDGE_CRASH_URL").unwrap();
    let dir = PathBuf::from(dir);
    let journal = dir.join("journal");
    let done: u64 = std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("ok "))
        .filter_map(|n| n.parse().ok())
        .max()
        .map_or(0, |n: u64| n + 1);
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)
        .unwrap();
    let store = open_store(&dir, Durability::Os);
    let client = Client::new(&url, persistent_options("crash-pub", store)).unwrap();
    let _ = client.connect();
    for n in done..STREAM {
        journal
            .write_all(format!("intent {n}\n").as_bytes())
            .unwrap();
        for (topic, qos) in [
            ("crash/q1", QoS::AtLeastOnce),
            ("crash/q2", QoS::ExactlyOnce),
        ] {
            // A full offline queue or store is a refusal to retry, not a loss.
            while client
                .publish_detached(request(topic, qos, n.to_string()))
                .is_err()
            {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        journal.write_all(format!("ok {n}\n").as_bytes()).unwrap();
        // A paced stream (about 1,000 numbers a second), so that kills land mid-stream.
        std::thread::sleep(Duration::from_millis(1));
    }
    // Everything accepted: wait until every publish is acknowledged.
    assert!(wait_until(Duration::from_secs(60), || {
        let s = client.stats().session;
        s.inflight_out == 0 && s.queued == 0
    }));
    client.close_and_join();
}

fn spawn_child(dir: &Path, url: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("MIDGE_CRASH_CHILD", dir)
        .env("MIDGE_CRASH_URL", url)
        .spawn()
        .unwrap()
}

/// A publisher killed with SIGKILL at random points, at least 10 times, and restarted each
/// time with its store: the subscriber ends with every number of the QoS 1 and the QoS 2
/// stream (0 lost), and no QoS 2 number twice (0 duplicated) except where the publisher
/// itself published a number again because it was killed between its journal's "intent"
/// and "ok" (the application's retry, counted apart and reported).
#[test]
fn a_publisher_killed_at_random_loses_nothing_and_duplicates_nothing() {
    let dir = store_dir("crash");
    let broker = Mosquitto::start();
    let (_subscriber, received) = Received::subscriber(&broker, "crash-sub", "crash/#");
    let mut seed = u64::from(std::process::id()) ^ 0x9E37_79B9_7F4A_7C15;
    let mut random = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let journal_path = dir.join("journal");
    let oks = || {
        std::fs::read_to_string(&journal_path)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("ok "))
            .count()
    };
    for kill in 0..KILLS {
        let before = oks();
        let mut child = spawn_child(&dir, &broker.url());
        // Killed after a random number of further publishes returned OK: mid-stream, at a
        // random point of the publish loop, the store's writes and the acknowledgements.
        let target = before + random(20, 200) as usize;
        assert!(
            wait_until(Duration::from_secs(20), || oks() >= target),
            "run {kill}: the publisher did not get to {target} publishes"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert!(
            oks() < STREAM as usize,
            "kill {kill} came after the stream ended"
        );
    }
    let mut last = spawn_child(&dir, &broker.url());
    let status = last.wait().unwrap();
    assert!(status.success(), "the last publisher run failed: {status}");
    assert!(
        wait_until(Duration::from_secs(30), || received.count("crash/q1")
            >= STREAM as usize
            && received.count("crash/q2") >= STREAM as usize),
        "q1 {} q2 {} of {STREAM}",
        received.count("crash/q1"),
        received.count("crash/q2")
    );
    let journal = std::fs::read_to_string(dir.join("journal")).unwrap();
    let mut intents: BTreeMap<u64, usize> = BTreeMap::new();
    for n in journal.lines().filter_map(|l| l.strip_prefix("intent ")) {
        *intents.entry(n.parse().unwrap()).or_default() += 1;
    }
    let retried: BTreeSet<u64> = intents
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, _)| *n)
        .collect();
    let got = received.0.lock().clone();
    for topic in ["crash/q1", "crash/q2"] {
        let mut times: BTreeMap<u64, usize> = BTreeMap::new();
        for p in &got[topic] {
            *times.entry(p.parse().unwrap()).or_default() += 1;
        }
        let missing: Vec<u64> = (0..STREAM).filter(|n| !times.contains_key(n)).collect();
        assert!(missing.is_empty(), "{topic}: lost {missing:?}");
        if topic == "crash/q2" {
            let duplicated: Vec<u64> = times
                .iter()
                .filter(|(n, c)| **c > 1 && !retried.contains(n))
                .map(|(n, _)| *n)
                .collect();
            assert!(
                duplicated.is_empty(),
                "QoS 2 duplicated by midge: {duplicated:?}"
            );
        }
    }
    eprintln!(
        "{KILLS} kills; numbers the publisher itself published again after a kill between \
         intent and ok: {retried:?}"
    );
}

// ------------------------------------------------------- kill -9, the receiving side

/// The subscriber the receiving crash test kills: a persistent store and
/// application-controlled acknowledgements; for each message it appends "got <topic> <n>"
/// to its journal, then acknowledges it, then appends "acked <topic> <n>".
#[test]
fn crash_subscriber_child() {
    let Ok(dir) = std::env::var("MIDGE_CRASH_SUBSCRIBER") else {
        return; // Only as the crash test's child.
    };
    let url = std::env::var("MIDGE_CRASH_URL").unwrap();
    let dir = PathBuf::from(dir);
    let mut journal = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("journal"))
        .unwrap();
    let store = open_store(&dir, Durability::Os);
    let mut o = persistent_options("crash-sub2", store);
    o.manual_ack = true;
    let client = Client::new(&url, o).unwrap();
    client.connect_and_wait(TIMEOUT).unwrap();
    client
        .subscribe_and_wait("sub/#", QoS::ExactlyOnce, TIMEOUT)
        .unwrap();
    journal.write_all(b"ready\n").unwrap();
    loop {
        if let Some(ClientEvent::Message(m)) = client.next_event(Duration::from_secs(60)) {
            let line = format!("{} {}\n", m.topic, String::from_utf8_lossy(&m.payload));
            journal.write_all(format!("got {line}").as_bytes()).unwrap();
            client.ack(&m).unwrap();
            journal
                .write_all(format!("acked {line}").as_bytes())
                .unwrap();
        }
    }
}

/// A subscriber with a persistent store and application-controlled acknowledgements,
/// killed with SIGKILL at random points 10 times mid-stream and restarted: it receives
/// every number of the QoS 1 and the QoS 2 stream (0 lost), and never a QoS 2 message
/// again once it had acknowledged it (0 duplicated; a message delivered and killed before
/// its acknowledgement comes again, as it must).
#[test]
fn a_subscriber_killed_at_random_loses_nothing_and_gets_no_acknowledged_qos2_twice() {
    let dir = store_dir("crash-sub");
    let broker = Mosquitto::start();
    let url = broker.url();
    let journal_path = dir.join("journal");
    let journal = || std::fs::read_to_string(&journal_path).unwrap_or_default();
    let count = |prefix: &str| journal().lines().filter(|l| l.starts_with(prefix)).count();
    let spawn = || {
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_subscriber_child", "--nocapture"])
            .env("MIDGE_CRASH_SUBSCRIBER", &dir)
            .env("MIDGE_CRASH_URL", &url)
            .spawn()
            .unwrap()
    };
    let mut child = spawn();
    assert!(wait_until(Duration::from_secs(10), || count("ready") == 1));
    // The publisher: both streams, paced, from this process.
    let publisher = broker.connected_client(support::client_options("crash-pub2"));
    let feed = std::thread::spawn(move || {
        for n in 0..STREAM {
            for (topic, qos) in [("sub/q1", QoS::AtLeastOnce), ("sub/q2", QoS::ExactlyOnce)] {
                publisher
                    .publish_request(request(topic, qos, n.to_string()))
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        publisher
    });
    let mut seed = u64::from(std::process::id()) ^ 0xD1B5_4A32_D192_ED03;
    for kill in 0..KILLS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let target = count("got ") + 20 + (seed % 180) as usize;
        assert!(
            wait_until(Duration::from_secs(20), || count("got ") >= target),
            "run {kill}: the subscriber did not get to {target} messages"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        child = spawn();
    }
    let publisher = feed.join().unwrap();
    let all = |topic: &str| {
        let j = journal();
        (0..STREAM).all(|n| j.contains(&format!("got {topic} {n}\n")))
    };
    let done = wait_until(Duration::from_secs(30), || all("sub/q1") && all("sub/q2"));
    child.kill().unwrap();
    child.wait().unwrap();
    publisher.close_and_join();
    let j = journal();
    for topic in ["sub/q1", "sub/q2"] {
        let lost: Vec<u64> = (0..STREAM)
            .filter(|n| !j.contains(&format!("got {topic} {n}\n")))
            .collect();
        assert!(done && lost.is_empty(), "{topic}: lost {lost:?}");
    }
    // No QoS 2 message delivered again after its acknowledgement.
    let mut acked = BTreeSet::new();
    let mut again = Vec::new();
    let mut redelivered_unacked = 0;
    let mut got = BTreeSet::new();
    for line in j.lines() {
        if let Some(n) = line.strip_prefix("got sub/q2 ") {
            if acked.contains(n) {
                again.push(n.to_string());
            } else if !got.insert(n.to_string()) {
                redelivered_unacked += 1;
            }
        } else if let Some(n) = line.strip_prefix("acked sub/q2 ") {
            acked.insert(n.to_string());
        }
    }
    assert!(
        again.is_empty(),
        "QoS 2 delivered again after its ack: {again:?}"
    );
    eprintln!(
        "{KILLS} kills; QoS 2 messages delivered again because the kill came before their \
         acknowledgement: {redelivered_unacked}"
    );
}
