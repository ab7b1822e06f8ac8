//! `midge::runtime::shutdown`: refused while a client exists, then every midge thread is
//! joined; the next client starts them again. Its own test binary: no other client lives
//! in this process.

use std::time::Duration;

use midge::{Client, ClientOptions, Error};

/// The names of this process's threads that start "midge-".
fn midge_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("reading /proc/self/task") {
        let path = task.expect("a task").path().join("comm");
        if let Ok(name) = std::fs::read_to_string(path)
            && name.starts_with("midge-")
        {
            names.push(name.trim().to_owned());
        }
    }
    names
}

/// The midge threads left once a short bounded poll has given the kernel time to drop
/// threads that were joined but are still listed for a moment (a thread left running,
/// blocked in the poller, stays far longer).
fn midge_threads_left() -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let left = midge_threads();
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// How many file descriptors this process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("reading /proc/self/fd")
        .count()
}

#[test]
fn shutdown_joins_every_thread_and_a_new_client_starts_them_again() {
    let fds = open_fds();
    for round in 0..2 {
        // A connect attempt to a closed port by name starts the I/O thread and the DNS
        // resolvers, and delivers events (the refusal) through a callback on a dispatcher
        // thread.
        let client = Client::new("mqtt://localhost:1", ClientOptions::default()).unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        client.set_callback(move |e| {
            let _ = tx.send(format!("{e:?}"));
        });
        let _ = client.connect();
        rx.recv_timeout(Duration::from_secs(10))
            .expect("an event through the callback");
        let running = midge_threads();
        for kind in ["midge-io", "midge-dispatch", "midge-dns"] {
            assert!(
                running.iter().any(|t| t.starts_with(kind)),
                "round {round}: no {kind} thread in {running:?}"
            );
        }
        assert!(matches!(
            midge::runtime::shutdown(),
            Err(Error::InvalidArgument(_))
        ));
        client.close_and_join();
        drop(client);
        midge::runtime::shutdown().unwrap();
        assert_eq!(midge_threads_left(), Vec::<String>::new(), "round {round}");
        // The poller, its waker and the sockets are closed too.
        assert_eq!(open_fds(), fds, "round {round}: file descriptors left open");
        midge::runtime::shutdown().unwrap();
    }
}
