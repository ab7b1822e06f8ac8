//! The one contract every [`Store`] keeps, as a test suite run against each store (memory,
//! file, C callbacks): `run(make)` where `make(limits)` gives a fresh, empty store.

use super::{Store, StoreError, StoreLimits, StoreUsage};

/// A fresh empty store with the given limits.
pub(crate) type Factory<'a> = dyn FnMut(StoreLimits) -> Box<dyn Store> + 'a;

fn sorted(mut keys: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    keys.sort();
    keys
}

fn usage(bytes: u64, records: usize) -> StoreUsage {
    StoreUsage { bytes, records }
}

/// Runs every case of the contract.
pub(crate) fn run(make: &mut Factory<'_>) {
    put_get_replace_remove(make(StoreLimits::default()).as_mut());
    empty_and_large_values(make(StoreLimits::default()).as_mut());
    many_keys(make(StoreLimits::default()).as_mut());
    full_by_bytes(make(StoreLimits {
        max_bytes: 100,
        max_records: 10,
    }));
    full_by_records(make(StoreLimits {
        max_bytes: 1 << 20,
        max_records: 3,
    }));
}

fn put_get_replace_remove(s: &mut dyn Store) {
    assert_eq!(s.usage(), StoreUsage::default());
    assert!(s.keys().unwrap().is_empty());
    assert_eq!(s.get(b"a").unwrap(), None);
    s.put(b"a", b"one").unwrap();
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"one"[..]));
    assert_eq!(s.usage(), usage(4, 1));
    s.put(b"a", b"three").unwrap();
    assert_eq!(
        s.get(b"a").unwrap().as_deref(),
        Some(&b"three"[..]),
        "put replaces"
    );
    assert_eq!(s.usage(), usage(6, 1));
    s.put(b"b", b"2").unwrap();
    assert_eq!(
        sorted(s.keys().unwrap()),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    s.remove(b"a").unwrap();
    assert_eq!(s.get(b"a").unwrap(), None);
    assert_eq!(s.usage(), usage(2, 1));
    s.remove(b"a").unwrap();
    s.remove(b"never").unwrap();
    assert_eq!(
        s.usage(),
        usage(2, 1),
        "removing an absent key is Ok and changes nothing"
    );
    assert_eq!(s.keys().unwrap(), vec![b"b".to_vec()]);
    s.sync().unwrap();
    s.put(b"a", b"back").unwrap();
    assert_eq!(s.get(b"a").unwrap().as_deref(), Some(&b"back"[..]));
}

fn empty_and_large_values(s: &mut dyn Store) {
    s.put(b"empty", b"").unwrap();
    assert_eq!(
        s.get(b"empty").unwrap(),
        Some(Vec::new()),
        "empty is not absent"
    );
    s.put(b"", b"empty key").unwrap();
    assert_eq!(s.get(b"").unwrap().as_deref(), Some(&b"empty key"[..]));
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    s.put(b"big", &big).unwrap();
    assert_eq!(s.get(b"big").unwrap().as_deref(), Some(&big[..]));
    let binary_key = [0u8, 255, 0, 1];
    s.put(&binary_key, &[0, 0, 0]).unwrap();
    assert_eq!(s.get(&binary_key).unwrap(), Some(vec![0, 0, 0]));
    assert_eq!(s.usage().records, 4);
    s.remove(b"big").unwrap();
    assert_eq!(s.usage(), usage(5 + 9 + 4 + 3, 3));
}

fn many_keys(s: &mut dyn Store) {
    for i in 0..500u32 {
        s.put(&i.to_be_bytes(), &i.to_le_bytes().repeat(i as usize % 7))
            .unwrap();
    }
    for i in (0..500u32).step_by(2) {
        s.remove(&i.to_be_bytes()).unwrap();
    }
    let keys = sorted(s.keys().unwrap());
    let expected: Vec<Vec<u8>> = (1..500u32)
        .step_by(2)
        .map(|i| i.to_be_bytes().to_vec())
        .collect();
    assert_eq!(keys, expected);
    for i in (1..500u32).step_by(2) {
        assert_eq!(
            s.get(&i.to_be_bytes()).unwrap(),
            Some(i.to_le_bytes().repeat(i as usize % 7))
        );
    }
}

fn assert_full(r: Result<(), StoreError>, before: StoreUsage) {
    match r {
        Err(StoreError::Full { bytes, records }) => {
            assert_eq!((bytes, records), (before.bytes, before.records));
        }
        other => panic!("expected Full, got {other:?}"),
    }
}

fn full_by_bytes(mut s: Box<dyn Store>) {
    s.put(b"k1", &[1; 48]).unwrap(); // 50 bytes
    s.put(b"k2", &[2; 48]).unwrap(); // 100: exactly the bound
    let before = s.usage();
    assert_eq!(before, usage(100, 2));
    assert_full(s.put(b"k3", b""), before);
    assert_full(s.put(b"k1", &[9; 49]), before);
    assert_eq!(s.usage(), before, "usage unchanged");
    assert_eq!(s.get(b"k3").unwrap(), None, "nothing written");
    assert_eq!(s.get(b"k1").unwrap(), Some(vec![1; 48]), "old value kept");
    s.put(b"k1", &[3; 40]).unwrap();
    assert_eq!(s.usage(), usage(92, 2), "a smaller replacement fits");
    s.remove(b"k2").unwrap();
    s.put(b"k3", &[3; 50]).unwrap();
    assert_eq!(s.usage(), usage(94, 2));
}

fn full_by_records(mut s: Box<dyn Store>) {
    for k in [b"a", b"b", b"c"] {
        s.put(k, b"v").unwrap();
    }
    let before = s.usage();
    assert_full(s.put(b"d", b"v"), before);
    assert_eq!(s.get(b"d").unwrap(), None);
    s.put(b"a", b"replacing is not a new record").unwrap();
    s.remove(b"b").unwrap();
    s.put(b"d", b"v").unwrap();
    assert_eq!(s.usage().records, 3);
}
