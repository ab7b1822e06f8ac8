use std::collections::BTreeMap;

use super::*;
use crate::store::contract;

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn content(s: &mut dyn Store) -> Content {
    let keys = s.keys().unwrap();
    keys.into_iter()
        .map(|k| {
            let v = s.get(&k).unwrap().expect("a listed key has a value");
            (k, v)
        })
        .collect()
}

/// xorshift64*: a seeded PRNG, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn crc32c_check_value() {
    // The standard check value of CRC-32C (RFC 3720, iSCSI).
    assert_eq!(crc32c(&[b"123456789"]), 0xE306_9283);
    assert_eq!(crc32c(&[b"1234", b"56789"]), 0xE306_9283);
    assert_eq!(crc32c(&[&[0u8; 32]]), 0x8A91_36AA);
    assert_eq!(crc32c(&[&[0xFFu8; 32]]), 0x62A8_AB43);
    // Slicing by eight agrees with the bitwise definition at every length and split.
    let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
    for len in 0..data.len() {
        let mut bitwise = !0u32;
        for &b in &data[..len] {
            bitwise ^= u32::from(b);
            for _ in 0..8 {
                bitwise = if bitwise & 1 == 0 {
                    bitwise >> 1
                } else {
                    (bitwise >> 1) ^ 0x82F6_3B78
                };
            }
        }
        let split = len / 3;
        assert_eq!(
            crc32c(&[&data[..split], &data[split..len]]),
            !bitwise,
            "length {len}"
        );
    }
}

#[test]
fn file_store_keeps_the_contract() {
    let mut dirs = Vec::new();
    contract::run(&mut |limits| {
        let d = dir();
        let s = FileStore::open(d.path(), limits).unwrap();
        dirs.push(d);
        Box::new(s)
    });
}

#[test]
fn reopen_replays_puts_replacements_and_removals() {
    let d = dir();
    let mut model = BTreeMap::new();
    {
        let mut s = FileStore::open(d.path(), StoreLimits::default()).unwrap();
        for i in 0..200u32 {
            let key = (i % 37).to_be_bytes().to_vec();
            if i % 5 == 0 {
                s.remove(&key).unwrap();
                model.remove(&key);
            } else {
                let value = vec![i as u8; (i * 13 % 700) as usize];
                s.put(&key, &value).unwrap();
                model.insert(key, value);
            }
        }
        assert_eq!(content(&mut s), model);
    }
    let mut s = FileStore::open(d.path().join("midge.store"), StoreLimits::default()).unwrap();
    assert_eq!(s.truncated_at_open(), 0);
    assert_eq!(content(&mut s), model);
    let bytes: u64 = model.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
    assert_eq!(
        s.usage(),
        StoreUsage {
            bytes,
            records: model.len()
        }
    );
}

type Content = BTreeMap<Vec<u8>, Vec<u8>>;

/// A log written op by op, with the model of its content after each record.
struct Written {
    log: Vec<u8>,
    /// (end offset of the record, content once it is replayed).
    states: Vec<(u64, Content)>,
}

fn write_log(rng: &mut Rng, ops: usize) -> Written {
    let d = dir();
    let mut s = FileStore::open(d.path(), StoreLimits::default()).unwrap();
    let mut model = BTreeMap::new();
    let mut states = vec![(HEADER_LEN, model.clone())];
    for i in 0..ops {
        let key = format!("k{}", rng.below(12)).into_bytes();
        if rng.below(4) == 0 && model.contains_key(&key) {
            s.remove(&key).unwrap();
            model.remove(&key);
        } else {
            let len = if rng.below(20) == 0 {
                20_000
            } else {
                rng.below(300) as usize
            };
            let value: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            s.put(&key, &value).unwrap();
            model.insert(key, value);
        }
        states.push((s.file_len(), model.clone()));
    }
    let log = std::fs::read(s.path()).unwrap();
    assert_eq!(log.len() as u64, s.file_len());
    Written { log, states }
}

/// What must survive damage at `offset`: every record wholly before it.
fn expected_at(w: &Written, offset: u64) -> &Content {
    &w.states
        .iter()
        .rev()
        .find(|(end, _)| *end <= offset)
        .unwrap()
        .1
}

fn reopen_damaged(bytes: &[u8]) -> Result<(FileStore, tempfile::TempDir), StoreError> {
    let d = dir();
    let path = d.path().join("damaged.store");
    std::fs::write(&path, bytes).unwrap();
    FileStore::open(&path, StoreLimits::default()).map(|s| (s, d))
}

#[test]
fn power_loss_torn_tail_keeps_every_whole_record() {
    let mut rng = Rng(0x5EED_0001);
    let w = write_log(&mut rng, 120);
    let len = w.log.len() as u64;
    // Every record boundary and its neighbours, and random offsets.
    let mut offsets: Vec<u64> = w
        .states
        .iter()
        .flat_map(|(end, _)| [end.saturating_sub(1), *end, end + 1])
        .chain((0..300).map(|_| rng.below(len)))
        .chain(0..=HEADER_LEN)
        .filter(|o| *o <= len)
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    for offset in offsets {
        let (mut s, _d) = reopen_damaged(&w.log[..offset as usize]).unwrap();
        let expected = expected_at(&w, offset.max(HEADER_LEN));
        assert_eq!(&content(&mut s), expected, "torn at {offset}");
        let kept = w
            .states
            .iter()
            .rev()
            .find(|(e, _)| *e <= offset.max(HEADER_LEN))
            .unwrap()
            .0;
        assert_eq!(
            s.file_len(),
            kept.max(HEADER_LEN),
            "cut at the last good record"
        );
        // The store goes on from there: a new write replays after the cut.
        s.put(b"after", b"the cut").unwrap();
        let path = s.path().to_owned();
        drop(s);
        let mut again = FileStore::open(&path, StoreLimits::default()).unwrap();
        assert_eq!(
            again.get(b"after").unwrap().as_deref(),
            Some(&b"the cut"[..])
        );
        assert_eq!(again.truncated_at_open(), 0);
    }
}

#[test]
fn power_loss_garbage_keeps_every_record_before_it() {
    let mut rng = Rng(0x5EED_0002);
    let w = write_log(&mut rng, 120);
    let len = w.log.len() as u64;
    for round in 0..400 {
        let offset = rng.below(len);
        let mut bytes = w.log.clone();
        let n = 1 + rng.below(if round % 2 == 0 { 4 } else { 64 }) as usize;
        for b in bytes.iter_mut().skip(offset as usize).take(n) {
            // Never the same byte again: the damage is real.
            *b ^= 1 + rng.below(255) as u8;
        }
        if round % 3 == 0 {
            // A power cut can also cut what follows the garbage.
            let cut = (offset + n as u64 + rng.below(64)).min(len);
            bytes.truncate(cut as usize);
        }
        match reopen_damaged(&bytes) {
            Ok((mut s, _d)) => {
                assert!(offset >= HEADER_LEN);
                assert_eq!(
                    &content(&mut s),
                    expected_at(&w, offset),
                    "garbage at {offset}"
                );
                assert!(s.truncated_at_open() > 0);
            }
            Err(StoreError::NotAStore(_)) => assert!(offset < HEADER_LEN, "at {offset}"),
            Err(e) => panic!("garbage at {offset}: {e}"),
        }
    }
    // Garbage appended after whole records: all kept.
    let mut bytes = w.log.clone();
    bytes.extend((0..100).map(|_| rng.next() as u8));
    let (mut s, _d) = reopen_damaged(&bytes).unwrap();
    assert_eq!(&content(&mut s), &w.states.last().unwrap().1);
    assert_eq!(s.truncated_at_open(), 100);
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_left_alone() {
    let d = dir();
    let path = d.path().join("config.txt");
    std::fs::write(&path, b"user=me\n").unwrap();
    let e = FileStore::open(&path, StoreLimits::default()).unwrap_err();
    assert!(matches!(e, StoreError::NotAStore(_)), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), b"user=me\n");
}

#[test]
fn a_second_open_of_the_same_store_fails_clearly() {
    let d = dir();
    let first = FileStore::open(d.path(), StoreLimits::default()).unwrap();
    for path in [d.path().to_owned(), d.path().join("midge.store")] {
        let e = FileStore::open(&path, StoreLimits::default()).unwrap_err();
        assert!(matches!(e, StoreError::Locked(_)), "{e}");
        assert!(e.to_string().contains("in use"), "{e}");
    }
    drop(first);
    FileStore::open(d.path(), StoreLimits::default()).expect("free again once closed");
}

#[test]
fn full_writes_nothing() {
    let d = dir();
    let limits = StoreLimits {
        max_bytes: 1000,
        max_records: 5,
    };
    let mut s = FileStore::open(d.path(), limits).unwrap();
    s.put(b"a", &[0; 900]).unwrap();
    let (len, usage) = (s.file_len(), s.usage());
    assert!(matches!(
        s.put(b"b", &[0; 100]),
        Err(StoreError::Full {
            bytes: 901,
            records: 1
        })
    ));
    assert_eq!((s.file_len(), s.usage()), (len, usage));
    assert_eq!(std::fs::metadata(s.path()).unwrap().len(), len);
}

#[test]
fn compaction_bounds_the_file_and_keeps_the_content() {
    let d = dir();
    let mut s = FileStore::open(d.path(), StoreLimits::default()).unwrap();
    s.set_compaction_min(16 << 10);
    let mut rng = Rng(0x5EED_0003);
    let mut model = BTreeMap::new();
    let mut max_len = 0;
    for i in 0..20_000u32 {
        // The session's pattern: append, acknowledge (remove) most, a few stay.
        let key = i.to_be_bytes().to_vec();
        let value = vec![i as u8; 50 + rng.below(200) as usize];
        s.put(&key, &value).unwrap();
        model.insert(key, value);
        if i >= 8 {
            let old = (i - 8).to_be_bytes().to_vec();
            if i % 100 != 0 {
                s.remove(&old).unwrap();
                model.remove(&old);
            }
        }
        max_len = max_len.max(s.file_len());
    }
    assert!(s.compactions() > 10, "{} compactions", s.compactions());
    let live: u64 = model
        .iter()
        .map(|(k, v)| record_len(k.len(), v.len()))
        .sum();
    // Dead bytes never pass max(live, minimum) by more than one record.
    assert!(
        max_len <= HEADER_LEN + 2 * live + (16 << 10) + 600,
        "{max_len} vs {live} live"
    );
    assert_eq!(content(&mut s), model);
    let path = s.path().to_owned();
    drop(s);
    let mut again = FileStore::open(&path, StoreLimits::default()).unwrap();
    assert_eq!(content(&mut again), model);
    assert_eq!(again.truncated_at_open(), 0);
}

#[test]
fn a_crash_during_compaction_loses_nothing() {
    let d = dir();
    let mut s = FileStore::open(d.path(), StoreLimits::default()).unwrap();
    s.set_compaction_min(4 << 10);
    s.crash_before_rename = true;
    let mut model = BTreeMap::new();
    for i in 0..400u32 {
        let key = (i % 10).to_be_bytes().to_vec();
        let value = vec![i as u8; 100];
        s.put(&key, &value).unwrap();
        model.insert(key, value);
    }
    let tmp = with_suffix(s.path(), ".compact");
    assert!(tmp.exists(), "the simulated crash left the temporary file");
    assert_eq!(s.compactions(), 0);
    assert_eq!(content(&mut s), model, "the store goes on with the old log");
    let path = s.path().to_owned();
    drop(s);
    // Also a temporary file of garbage, as a crash mid-write leaves it.
    std::fs::write(&tmp, b"MIDGELG1 half written").unwrap();
    let mut again = FileStore::open(&path, StoreLimits::default()).unwrap();
    assert!(!tmp.exists(), "removed on open");
    assert_eq!(content(&mut again), model);
    // And the compaction then happens for real.
    again.set_compaction_min(4 << 10);
    for i in 0..100u32 {
        again.put(&(i % 10).to_be_bytes(), &[7; 100]).unwrap();
    }
    assert!(again.compactions() > 0);
}
