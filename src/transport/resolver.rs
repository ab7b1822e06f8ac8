//! DNS resolution off the I/O thread.
//!
//! `getaddrinfo` blocks, possibly for seconds. Names are resolved on a small fixed pool of
//! threads (each `Resolver`'s own, started on first use, never more than [`THREADS`]), and
//! the answer is handed to a callback; IP literals are answered at once without a thread.
//! [`Resolver::stop`] ends and joins the pool (midge's shutdown).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, unbounded};

/// The resolver pool's size: enough that one slow name does not hold up every other.
pub const THREADS: usize = 2;

type Done = Box<dyn FnOnce(io::Result<Vec<SocketAddr>>) + Send>;

struct Job {
    host: String,
    port: u16,
    done: Done,
}

/// Resolves host names without blocking its caller. Dropping it lets its threads end once
/// their lookups are done; [`Resolver::stop`] also waits for them.
#[derive(Debug, Default)]
pub struct Resolver {
    pool: Option<(Sender<Job>, Vec<JoinHandle<()>>)>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves `host:port` and calls `done` with the addresses, in the order the system
    /// prefers them. `done` runs on the caller's thread for an IP literal, else on a
    /// resolver thread.
    pub fn resolve(&mut self, host: String, port: u16, done: Done) {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return done(Ok(vec![SocketAddr::new(ip, port)]));
        }
        let job = Job { host, port, done };
        let (tx, _) = self.pool.get_or_insert_with(start);
        if let Err(e) = tx.send(job) {
            // The pool's threads could not be started: resolve here rather than never.
            let job = e.into_inner();
            (job.done)(lookup(&job.host, job.port));
        }
    }
}

fn lookup(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no address for {host}"),
        ));
    }
    Ok(addrs)
}

impl Resolver {
    /// Ends the pool: its threads finish the lookups queued and are joined.
    pub fn stop(&mut self) {
        if let Some((tx, threads)) = self.pool.take() {
            drop(tx);
            for thread in threads {
                let _ = thread.join();
            }
        }
    }
}

fn start() -> (Sender<Job>, Vec<JoinHandle<()>>) {
    let (tx, rx) = unbounded::<Job>();
    let mut threads = Vec::new();
    for i in 0..THREADS {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("midge-dns-{i}"))
            .spawn(move || {
                for job in rx {
                    (job.done)(lookup(&job.host, job.port));
                }
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            // No thread at all: `send` fails once `rx` is dropped here, and the caller
            // resolves inline.
            Err(_) if i == 0 => break,
            Err(_) => {}
        }
    }
    (tx, threads)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        Resolver::new().resolve(
            host.into(),
            port,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        rx.recv_timeout(Duration::from_secs(10))
            .expect("resolver answered")
    }

    #[test]
    fn literals_resolve_without_a_lookup() {
        assert_eq!(
            resolve("127.0.0.1", 5).unwrap(),
            vec!["127.0.0.1:5".parse().unwrap()]
        );
        assert_eq!(resolve("::1", 6).unwrap(), vec!["[::1]:6".parse().unwrap()]);
    }

    #[test]
    fn names_resolve_on_the_pool() {
        let addrs = resolve("localhost", 1883).unwrap();
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 1883)
        );
    }

    #[test]
    fn unknown_names_fail() {
        assert!(resolve("no-such-host.invalid", 1).is_err());
    }
}
