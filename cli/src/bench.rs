//! `midge bench`: a quick, honest throughput and latency run through a broker.
//!
//! Two clients of this process: a subscriber and a publisher. Every payload carries its
//! sequence number and its send time (nanoseconds since the run started), so the subscriber
//! times each round trip (publisher -> broker -> subscriber) on one clock.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use midge::codec::Bytes;
use midge::runtime::ClientEvent;

use crate::args::Args;
use crate::connect;
use crate::fail::{Failure, Status};
use crate::publish::Publisher;
use crate::subscribe;

const LATENCY_MESSAGES: u64 = 200;
const DEFAULT_COUNT: u64 = 10_000;
/// How long the subscriber may stay silent before the missing messages count as lost.
const IDLE: Duration = Duration::from_secs(5);
const HEADER: usize = 16;

fn payload(seq: u64, start: Instant, size: usize) -> Bytes {
    let mut p = vec![0u8; size.max(HEADER)];
    p[..8].copy_from_slice(&seq.to_be_bytes());
    let sent = start.elapsed().as_nanos() as u64;
    p[8..16].copy_from_slice(&sent.to_be_bytes());
    Bytes::from(p)
}

fn show(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

fn percentiles(mut v: Vec<Duration>) -> String {
    if v.is_empty() {
        return "no samples".to_owned();
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!(
        "p50 {}, p99 {}, max {}",
        show(at(0.50)),
        show(at(0.99)),
        show(v[v.len() - 1])
    )
}

/// Waits for `n` more round trips (or [`IDLE`] of silence); returns them.
fn collect(
    rx: &mpsc::Receiver<Result<Duration, Failure>>,
    n: u64,
) -> Result<Vec<Duration>, Failure> {
    let mut got = Vec::with_capacity(n as usize);
    while (got.len() as u64) < n {
        match rx.recv_timeout(IDLE) {
            Ok(Ok(d)) => got.push(d),
            Ok(Err(f)) => return Err(f),
            Err(_) => break,
        }
    }
    Ok(got)
}

pub fn run(a: &Args) -> Result<(), Failure> {
    let topic = a
        .topics
        .first()
        .cloned()
        .unwrap_or_else(|| format!("midge/bench/{}", std::process::id()));
    let count = a.count.unwrap_or(DEFAULT_COUNT);
    let base = a
        .client_id
        .clone()
        .unwrap_or_else(|| format!("midge-bench-{}", std::process::id()));
    let sub = connect::connect_as(a, &format!("{base}-sub"))?;
    subscribe::subscribe(&sub, a, std::slice::from_ref(&topic))?;
    let publisher_client = connect::connect_as(a, &format!("{base}-pub"))?;
    publisher_client.set_callback(|_| {});

    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    let receiver = {
        let sub = sub.clone();
        std::thread::spawn(move || {
            while let Some(e) = sub.next_event(Duration::from_secs(3600)) {
                let sent = match e {
                    ClientEvent::Message(m) if m.payload.len() >= HEADER => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&m.payload[8..16]);
                        Ok(Duration::from_nanos(u64::from_be_bytes(b)))
                    }
                    ClientEvent::ConnectionLost(cause) => Err(connect::lost(&cause)),
                    ClientEvent::Closed => break,
                    _ => continue,
                };
                let item = sent.map(|s| start.elapsed().saturating_sub(s));
                if tx.send(item).is_err() {
                    break;
                }
            }
        })
    };

    println!(
        "midge bench: {}, topic {topic}, QoS {}, {}-byte payloads",
        a.address(),
        a.qos as u8,
        a.size.max(HEADER)
    );
    let result = (|| {
        let mut p = Publisher::new(&publisher_client, a, &topic);
        // One warm-up round trip, not counted: the first message after a subscription can
        // wait ~40 ms in the broker (Mosquitto leaves Nagle on by default, and the SUBACK's
        // delayed TCP acknowledgement holds the next write back).
        p.publish(payload(u64::MAX, start, a.size))?;
        if collect(&rx, 1)?.is_empty() {
            return Err(Failure::new(
                Status::Timeout,
                format!("the warm-up message did not come back within {IDLE:?}"),
            ));
        }
        let mut single = Vec::new();
        for seq in 0..LATENCY_MESSAGES {
            p.publish(payload(seq, start, a.size))?;
            let got = collect(&rx, 1)?;
            if got.is_empty() {
                return Err(Failure::new(
                    Status::Timeout,
                    format!("message {seq} did not come back within {IDLE:?}"),
                ));
            }
            single.extend(got);
        }
        p.finish()?;
        println!(
            "latency, one message at a time ({LATENCY_MESSAGES}, after 1 warm-up): {}",
            percentiles(single)
        );

        let mut p = Publisher::new(&publisher_client, a, &topic);
        let t0 = Instant::now();
        for seq in 0..count {
            p.publish(payload(LATENCY_MESSAGES + seq, start, a.size))?;
        }
        let loaded = collect(&rx, count)?;
        let elapsed = t0.elapsed();
        p.finish()?;
        let received = loaded.len() as u64;
        let rate = received as f64 / elapsed.as_secs_f64();
        println!(
            "throughput: {received} of {count} messages in {:.3} s: {rate:.0} messages/s{}",
            elapsed.as_secs_f64(),
            if received < count {
                format!(" ({} lost)", count - received)
            } else {
                String::new()
            }
        );
        println!("round trip under that load: {}", percentiles(loaded));
        Ok(())
    })();
    connect::disconnect(&publisher_client, a);
    connect::disconnect(&sub, a);
    let _ = receiver.join();
    result
}
