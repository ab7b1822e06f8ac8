//! The persistence store's access pattern, midge's `FileStore` against redb: append a
//! message, delete it on acknowledgement, and replay what is left on start. Run with
//! `cargo bench --bench store` (figures and the decision: docs/persistence.md).
//!
//! - `ack/<store>/<durability>/<size>`: one message appended and then removed (two
//!   writes), the steady state of a QoS 1 publish. Durability `os`: the write reached the
//!   OS (`FileStore`: one write(2) each; redb has no such level: its closest is
//!   `Durability::None`, whose commits are lost by a crash of the process until a later
//!   durable commit, so it is weaker than `os`); `fsync`: each write is on disk before the
//!   next (`FileStore`: `sync` = fdatasync after each; redb: `Durability::Immediate`).
//! - `replay/<store>/<size>`: open a store holding 1,000 live messages (2,000 appended,
//!   every second one removed) and read every key and value.

use std::hint::black_box;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use midge::store::{FileStore, Store, StoreLimits};
use redb::{Database, ReadableTable, TableDefinition};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("messages");
const SIZES: [usize; 2] = [64, 1024];

/// The two stores behind one face, for the benchmark only.
trait Bench {
    fn put(&mut self, key: &[u8], value: &[u8]);
    fn remove(&mut self, key: &[u8]);
}

struct File {
    store: FileStore,
    fsync: bool,
}

impl Bench for File {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.store.put(key, value).unwrap();
        if self.fsync {
            self.store.sync().unwrap();
        }
    }
    fn remove(&mut self, key: &[u8]) {
        self.store.remove(key).unwrap();
        if self.fsync {
            self.store.sync().unwrap();
        }
    }
}

struct Redb {
    db: Database,
    durability: redb::Durability,
}

impl Redb {
    fn open(path: &Path, durability: redb::Durability) -> Self {
        let db = Database::create(path).unwrap();
        Self { db, durability }
    }

    fn commit(&mut self, f: impl FnOnce(&mut redb::Table<&[u8], &[u8]>)) {
        let mut txn = self.db.begin_write().unwrap();
        txn.set_durability(self.durability);
        {
            let mut table = txn.open_table(TABLE).unwrap();
            f(&mut table);
        }
        txn.commit().unwrap();
    }
}

impl Bench for Redb {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        self.commit(|t| {
            t.insert(key, value).unwrap();
        });
    }
    fn remove(&mut self, key: &[u8]) {
        self.commit(|t| {
            t.remove(key).unwrap();
        });
    }
}

fn make(kind: &str, durability: &str, dir: &Path) -> Box<dyn Bench> {
    let fsync = durability == "fsync";
    match kind {
        "file" => Box::new(File {
            store: FileStore::open(dir, StoreLimits::default()).unwrap(),
            fsync,
        }),
        _ => Box::new(Redb::open(
            &dir.join("redb"),
            if fsync {
                redb::Durability::Immediate
            } else {
                redb::Durability::None
            },
        )),
    }
}

fn ack(c: &mut Criterion) {
    let mut group = c.benchmark_group("ack");
    group.sample_size(20);
    for durability in ["os", "fsync"] {
        for kind in ["file", "redb"] {
            for size in SIZES {
                let dir = tempfile::tempdir().unwrap();
                let mut store = make(kind, durability, dir.path());
                let value = vec![0xA5; size];
                let mut seq = 0u64;
                group.throughput(Throughput::Elements(1));
                group.bench_function(
                    BenchmarkId::new(format!("{kind}/{durability}"), size),
                    |b| {
                        b.iter(|| {
                            seq += 1;
                            let key = seq.to_be_bytes();
                            store.put(&key, &value);
                            store.remove(black_box(&key));
                        });
                    },
                );
            }
        }
    }
    group.finish();
}

/// A file store of 2,000 messages appended, every second one acknowledged.
fn fill_file(dir: &Path, size: usize) {
    let mut store = make("file", "os", dir);
    let value = vec![0x5A; size];
    for i in 0..2000u64 {
        store.put(&i.to_be_bytes(), &value);
        if i % 2 == 1 {
            store.remove(&(i - 1).to_be_bytes());
        }
    }
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group.sample_size(20);
    for kind in ["file", "redb"] {
        for size in SIZES {
            let dir = tempfile::tempdir().unwrap();
            if kind == "redb" {
                // Written with durable commits: a None-only database replays nothing.
                let mut store = Redb::open(&dir.path().join("redb"), redb::Durability::Immediate);
                let value = vec![0x5A; size];
                store.commit(|t| {
                    for i in 0..2000u64 {
                        t.insert(&i.to_be_bytes()[..], &value[..]).unwrap();
                    }
                    for i in (0..2000u64).step_by(2) {
                        t.remove(&i.to_be_bytes()[..]).unwrap();
                    }
                });
            } else {
                fill_file(dir.path(), size);
            }
            group.throughput(Throughput::Elements(1000));
            group.bench_function(BenchmarkId::new(kind, size), |b| {
                b.iter(|| {
                    let mut bytes = 0;
                    if kind == "file" {
                        let mut s = FileStore::open(dir.path(), StoreLimits::default()).unwrap();
                        for k in s.keys().unwrap() {
                            bytes += s.get(&k).unwrap().unwrap().len();
                        }
                    } else {
                        let db = Database::create(dir.path().join("redb")).unwrap();
                        let txn = db.begin_read().unwrap();
                        let table = txn.open_table(TABLE).unwrap();
                        for entry in table.iter().unwrap() {
                            let (_, v) = entry.unwrap();
                            bytes += v.value().len();
                        }
                    }
                    assert_eq!(bytes, 1000 * size);
                    black_box(bytes)
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, ack, replay);
criterion_main!(benches);
