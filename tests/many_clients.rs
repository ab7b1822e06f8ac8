//! A thousand clients in one process run on midge's fixed set of threads and each idle
//! one holds at most 4 KiB of heap (issue 14). Alone in its test binary, so no other
//! test's threads disturb the counts.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use midge::codec::{Properties, QoS, Subscription, SubscriptionOptions};
use midge::runtime::{Client, ClientEvent};
use support::TIMEOUT;
use support::client_options;
use support::mosquitto::Mosquitto;

/// The system allocator, counting the bytes in use.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc`/`realloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            IN_USE.fetch_add(new_size - layout.size(), Ordering::Relaxed);
        } else {
            IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: as for `dealloc`; `new_size` is the caller's, checked by its contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Issue 14's bound on what an idle client costs (here the bytes asked of the allocator,
/// without its per-block overhead; `bench/idle_clients` reports that too, through glibc).
const IDLE_CLIENT_HEAP: usize = 4096;

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn a_thousand_clients_share_a_fixed_set_of_threads_and_each_idle_one_holds_at_most_4_kib() {
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
    let heap_before = IN_USE.load(Ordering::Relaxed);

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

    // Each subscribed to a topic of its own, then idle: what they hold.
    let subscribing: Vec<_> = clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.subscribe(
                vec![Subscription {
                    filter: format!("idle/{i}").into(),
                    options: SubscriptionOptions {
                        qos: QoS::AtLeastOnce,
                        ..SubscriptionOptions::default()
                    },
                }],
                Properties::new(),
            )
            .unwrap()
        })
        .collect();
    for s in subscribing {
        s.wait(Duration::from_secs(30)).unwrap();
    }
    let per_client = IN_USE.load(Ordering::Relaxed).saturating_sub(heap_before) / N;
    eprintln!("heap per idle, subscribed client: {per_client} B");
    assert!(
        per_client <= IDLE_CLIENT_HEAP,
        "an idle client holds {per_client} B of heap, more than {IDLE_CLIENT_HEAP} B"
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
