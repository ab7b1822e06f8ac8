use std::sync::{Arc, Barrier};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};
use parking_lot::Mutex;

use super::*;
use crate::store::{FileStore, MemoryStore, StoreLimits, Syncer};

/// What the counting store saw, in order.
#[derive(Debug, Default)]
struct Log {
    /// Keys in the order they were written.
    written: Vec<Vec<u8>>,
    /// For each sync, how many writes had been made when it started.
    started: Vec<usize>,
    /// The `started` value of each sync that completed.
    completed: Vec<usize>,
}

impl Log {
    /// Whether the write of `key` is covered by a completed sync that started after it.
    fn covered(&self, key: &[u8]) -> bool {
        let position = self.written.iter().position(|k| k == key).expect("written");
        self.completed.iter().any(|&prefix| prefix > position)
    }
}

/// A memory store that logs writes and syncs; with `detached`, it syncs through a
/// [`Syncer`] (without the store lock), and the first sync can wait at a gate.
#[derive(Debug)]
struct Counting {
    inner: MemoryStore,
    log: Arc<Mutex<Log>>,
    detached: bool,
    gate: Option<(Sender<()>, Receiver<()>)>,
}

impl Counting {
    fn new(detached: bool) -> (Self, Arc<Mutex<Log>>) {
        let log = Arc::new(Mutex::new(Log::default()));
        let s = Self {
            inner: MemoryStore::new(),
            log: log.clone(),
            detached,
            gate: None,
        };
        (s, log)
    }
}

impl Store for Counting {
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.inner.put(key, value)?;
        self.log.lock().written.push(key.to_vec());
        Ok(())
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
        let mut log = self.log.lock();
        let prefix = log.written.len();
        log.started.push(prefix);
        log.completed.push(prefix);
        Ok(())
    }
    fn usage(&self) -> StoreUsage {
        self.inner.usage()
    }
    fn syncer(&mut self) -> Result<Option<Syncer>, StoreError> {
        if !self.detached {
            return Ok(None);
        }
        let prefix = {
            let mut log = self.log.lock();
            let prefix = log.written.len();
            log.started.push(prefix);
            prefix
        };
        let log = self.log.clone();
        let gate = self.gate.take();
        Ok(Some(Box::new(move || {
            if let Some((started, release)) = gate {
                started.send(()).unwrap();
                release.recv().unwrap();
            }
            log.lock().completed.push(prefix);
            Ok(())
        })))
    }
}

fn key(thread: usize, i: usize) -> Vec<u8> {
    format!("t{thread}-{i}").into_bytes()
}

/// N threads write, all before any asks for durability: one sync serves them all.
#[test]
fn concurrent_writers_share_one_fsync() {
    for detached in [false, true] {
        let (store, log) = Counting::new(detached);
        let shared = SharedStore::new(Box::new(store), Durability::Fsync);
        let n = 8;
        let barrier = Arc::new(Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|t| {
                let (shared, barrier, log) = (shared.clone(), barrier.clone(), log.clone());
                std::thread::spawn(move || {
                    let ticket = shared.write(|s| s.put(&key(t, 0), b"m")).unwrap();
                    barrier.wait();
                    shared.durable(ticket).unwrap();
                    assert!(log.lock().covered(&key(t, 0)));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(shared.syncs(), 1, "one fsync for {n} writers");
        assert_eq!(log.lock().started.len(), 1);
    }
}

/// Writers that interleave freely: every `durable` returns only after a sync that started
/// after its write, and syncs are shared.
#[test]
fn every_ticket_waits_for_a_sync_that_started_after_its_write() {
    for detached in [false, true] {
        let (store, log) = Counting::new(detached);
        let shared = SharedStore::new(Box::new(store), Durability::Fsync);
        let (n, each) = (6, 300);
        let threads: Vec<_> = (0..n)
            .map(|t| {
                let (shared, log) = (shared.clone(), log.clone());
                std::thread::spawn(move || {
                    for i in 0..each {
                        let ticket = shared.write(|s| s.put(&key(t, i), b"m")).unwrap();
                        shared.durable(ticket).unwrap();
                        assert!(log.lock().covered(&key(t, i)), "t{t}-{i} returned early");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let log = log.lock();
        assert_eq!(log.written.len(), n * each);
        assert_eq!(log.completed.len() as u64, shared.syncs());
        assert!(shared.syncs() <= (n * each) as u64);
    }
}

/// The fsync runs without the store's lock: a write completes while it is in progress,
/// and is not counted as covered by it.
#[test]
fn writers_go_on_while_a_sync_runs() {
    let (mut store, log) = Counting::new(true);
    let (started_tx, started_rx) = bounded(1);
    let (release_tx, release_rx) = bounded(1);
    store.gate = Some((started_tx, release_rx));
    let shared = SharedStore::new(Box::new(store), Durability::Fsync);
    let first = shared.write(|s| s.put(b"first", b"m")).unwrap();
    let syncing = {
        let shared = shared.clone();
        std::thread::spawn(move || shared.durable(first))
    };
    started_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the sync started");
    let (wrote_tx, wrote_rx) = bounded(1);
    let writer = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let t = shared.write(|s| s.put(b"second", b"m")).unwrap();
            wrote_tx.send(()).unwrap();
            shared.durable(t).unwrap();
        })
    };
    wrote_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a write completes while the fsync runs (the store lock is not held)");
    assert!(!log.lock().covered(b"second"));
    release_tx.send(()).unwrap();
    syncing.join().unwrap().unwrap();
    writer.join().unwrap();
    assert!(log.lock().covered(b"second"));
    assert_eq!(
        shared.syncs(),
        2,
        "the second write needed a sync of its own"
    );
}

#[test]
fn os_and_none_return_at_once() {
    for durability in [Durability::Os, Durability::None] {
        let (store, log) = Counting::new(false);
        let shared = SharedStore::new(Box::new(store), durability);
        let t = shared.write(|s| s.put(b"k", b"v")).unwrap();
        shared.durable(t).unwrap();
        assert_eq!(shared.syncs(), 0);
        assert!(log.lock().started.is_empty());
        assert_eq!(shared.read(|s| s.get(b"k").unwrap()), Some(b"v".to_vec()));
    }
}

#[test]
fn a_failed_write_still_gives_an_error_and_later_tickets_work() {
    let shared = SharedStore::new(
        Box::new(MemoryStore::with_limits(StoreLimits {
            max_bytes: 10,
            max_records: 10,
        })),
        Durability::Fsync,
    );
    assert!(matches!(
        shared.write(|s| s.put(b"k", &[0; 20])),
        Err(StoreError::Full { .. })
    ));
    let t = shared.write(|s| s.put(b"k", b"v")).unwrap();
    shared.durable(t).unwrap();
    assert_eq!(shared.usage().records, 1);
}

/// The real thing: a file store at Fsync, threads appending and acknowledging.
#[test]
fn file_store_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path(), StoreLimits::default()).unwrap();
    let shared = SharedStore::new(Box::new(store), Durability::Fsync);
    let (n, each) = (4, 50);
    let threads: Vec<_> = (0..n)
        .map(|t| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for i in 0..each {
                    let k = key(t, i);
                    let ticket = shared.write(|s| s.put(&k, &[7; 64])).unwrap();
                    shared.durable(ticket).unwrap();
                    let ticket = shared.write(|s| s.remove(&k)).unwrap();
                    shared.durable(ticket).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let writes = 2 * n * each;
    eprintln!("{} fsyncs for {writes} durable writes", shared.syncs());
    assert!(shared.syncs() <= writes as u64);
    assert_eq!(shared.usage().records, 0);
}
