//! A recording TCP proxy between a client and a broker: it forwards every byte unchanged
//! and decodes the MQTT packets flowing each way (with midge's codec), recording every
//! PUBLISH, PUBACK, PUBREC, PUBREL and PUBCOMP (and the CONNECT, CONNACK and DISCONNECT
//! around them) with one sequence number across all its connections. A test can then tell
//! what a client really sent from what a broker really sent.
//!
//! Threads inside the test process: one accepting, two per live connection (one each way).
//! A connection's threads end when either side closes (each closes both sockets on its way
//! out), the accepting thread joins them as they end, and dropping the proxy closes every
//! connection and joins every thread. The target may go away (a broker killed with
//! SIGKILL) and come back on the same address: a connection accepted while it is down is
//! closed at once, as a refused connection would be, and later ones are forwarded again.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use midge::codec::{ByteString, Bytes, Decoder, Packet, Property, PropertyId, QoS};
use parking_lot::Mutex;

/// How long the proxy tries to reach the target for each accepted connection.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// The accepting thread's poll interval (its listener is non-blocking so it can stop).
const ACCEPT_POLL: Duration = Duration::from_millis(2);

/// Which way a packet went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the client to the broker.
    ToBroker,
    /// From the broker to the client.
    ToClient,
}

/// What the proxy saw: the packets that matter to message delivery, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Connect {
        client_id: ByteString,
        clean_start: bool,
    },
    ConnAck {
        session_present: bool,
        reason: u8,
    },
    /// The topic with any Topic Alias resolved (per connection and direction, 3.3.2.3.4).
    Publish {
        packet_id: u16,
        qos: QoS,
        dup: bool,
        topic: ByteString,
        payload: Bytes,
    },
    PubAck {
        packet_id: u16,
        reason: u8,
    },
    PubRec {
        packet_id: u16,
        reason: u8,
    },
    PubRel {
        packet_id: u16,
        reason: u8,
    },
    PubComp {
        packet_id: u16,
        reason: u8,
    },
    Disconnect {
        reason: u8,
    },
    /// Bytes that did not decode; the rest of this direction is forwarded unread.
    Undecodable(String),
    /// This direction ended (end of stream, reset, or the other side closed).
    Closed,
}

/// One recorded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecord {
    /// Order of recording across every connection and direction of the proxy. A packet is
    /// recorded before it is forwarded, so an answer always has a higher number than what
    /// it answers.
    pub seq: u64,
    /// Since the proxy started.
    pub at: Duration,
    /// The connection, numbered from 1 in the order the proxy accepted them.
    pub conn: u64,
    pub dir: Dir,
    pub frame: Frame,
}

/// The records, shared by the proxy's threads.
#[derive(Debug)]
struct Log {
    start: Instant,
    records: Mutex<Vec<WireRecord>>,
}

impl Log {
    fn push(&self, conn: u64, dir: Dir, frame: Frame) {
        let at = self.start.elapsed();
        let mut records = self.records.lock();
        let seq = records.len() as u64;
        records.push(WireRecord {
            seq,
            at,
            conn,
            dir,
            frame,
        });
    }
}

/// The proxy; see the module documentation. Stops when dropped.
#[derive(Debug)]
pub struct WireProxy {
    addr: SocketAddr,
    target: SocketAddr,
    log: Arc<Log>,
    accepted: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl WireProxy {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards each connection to `target`.
    pub fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the proxy");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("proxy address");
        let log = Arc::new(Log {
            start: Instant::now(),
            records: Mutex::new(Vec::new()),
        });
        let accepted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (log, accepted, stop) = (log.clone(), accepted.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("wire-proxy-{}", addr.port()))
                .spawn(move || accept_loop(&listener, target, &log, &accepted, &stop))
                .expect("spawn the proxy's accepting thread")
        };
        Self {
            addr,
            target,
            log,
            accepted,
            stop,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// `mqtt://127.0.0.1:<port>`: where a client connects to go through the proxy.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }

    /// Connections accepted so far (forwarded or not).
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// A copy of everything recorded so far, in order.
    pub fn records(&self) -> Vec<WireRecord> {
        self.log.records.lock().clone()
    }

    /// How many records there are so far (the next record's `seq`).
    pub fn len(&self) -> u64 {
        self.log.records.lock().len() as u64
    }

    /// Whether some record from `from` on satisfies `pred` (without copying the records).
    pub fn any_since(&self, from: u64, mut pred: impl FnMut(&WireRecord) -> bool) -> bool {
        let records = self.log.records.lock();
        let start = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(records.len());
        records[start..].iter().any(&mut pred)
    }
}

impl Drop for WireProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// A forwarded connection: clones of both sockets (to close them from outside) and the
/// two threads pumping bytes.
struct Live {
    sockets: [TcpStream; 2],
    pumps: [JoinHandle<()>; 2],
}

impl Live {
    fn finished(&self) -> bool {
        self.pumps.iter().all(JoinHandle::is_finished)
    }

    fn close_and_join(self) {
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
        for p in self.pumps {
            let _ = p.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    target: SocketAddr,
    log: &Arc<Log>,
    accepted: &AtomicU64,
    stop: &AtomicBool,
) {
    let mut live: Vec<Live> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // Join the connections that ended, so threads never pile up.
        let (done, running): (Vec<Live>, Vec<Live>) = live.into_iter().partition(Live::finished);
        live = running;
        done.into_iter().for_each(Live::close_and_join);
        match listener.accept() {
            Ok((client, _)) => {
                let conn = accepted.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(l) = forward(client, target, conn, log) {
                    live.push(l);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                std::thread::sleep(ACCEPT_POLL);
            }
            // A transient accept failure (e.g. the client reset first): try again.
            Err(_) => std::thread::sleep(ACCEPT_POLL),
        }
    }
    live.into_iter().for_each(Live::close_and_join);
}

/// Connects to the target and starts both pumps; `None` (and `client` closed) when the
/// target is not there.
fn forward(client: TcpStream, target: SocketAddr, conn: u64, log: &Arc<Log>) -> Option<Live> {
    let Ok(()) = client.set_nonblocking(false) else {
        return None;
    };
    let Ok(broker) = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT) else {
        log.push(conn, Dir::ToClient, Frame::Closed);
        let _ = client.shutdown(Shutdown::Both);
        return None;
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let clones = (|| {
        Some((
            client.try_clone().ok()?,
            broker.try_clone().ok()?,
            client.try_clone().ok()?,
            broker.try_clone().ok()?,
        ))
    })();
    let Some((client_w, broker_w, client_keep, broker_keep)) = clones else {
        let _ = client.shutdown(Shutdown::Both);
        let _ = broker.shutdown(Shutdown::Both);
        return None;
    };
    let up = {
        let log = log.clone();
        std::thread::spawn(move || pump(&client, &broker_w, conn, Dir::ToBroker, &log))
    };
    let down = {
        let log = log.clone();
        std::thread::spawn(move || pump(&broker, &client_w, conn, Dir::ToClient, &log))
    };
    Some(Live {
        sockets: [client_keep, broker_keep],
        pumps: [up, down],
    })
}

/// Copies `from` to `to`, recording each complete packet before forwarding the bytes that
/// complete it. Ends when either side closes, closing both.
fn pump(mut from: &TcpStream, mut to: &TcpStream, conn: u64, dir: Dir, log: &Log) {
    let mut decoder = Decoder::new();
    let mut decoding = true;
    let mut aliases = std::collections::HashMap::<u16, ByteString>::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if decoding {
            decoder.feed(&buf[..n]);
            loop {
                match decoder.next_packet() {
                    Ok(Some(p)) => {
                        if let Some(frame) = frame_of(p, &mut aliases) {
                            log.push(conn, dir, frame);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        log.push(conn, dir, Frame::Undecodable(e.to_string()));
                        decoding = false;
                        break;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    log.push(conn, dir, Frame::Closed);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// The record of a packet, `None` for those not recorded (SUBSCRIBE, PINGREQ, ...).
fn frame_of(p: Packet, aliases: &mut std::collections::HashMap<u16, ByteString>) -> Option<Frame> {
    Some(match p {
        Packet::Connect(c) => Frame::Connect {
            client_id: c.client_id,
            clean_start: c.clean_start,
        },
        Packet::ConnAck(c) => Frame::ConnAck {
            session_present: c.session_present,
            reason: c.reason_code.as_u8(),
        },
        Packet::Publish(p) => {
            let mut topic = p.topic;
            if let Some(Property::TopicAlias(alias)) = p.properties.get(PropertyId::TopicAlias) {
                if topic.is_empty() {
                    topic = aliases.get(alias).cloned().unwrap_or_default();
                } else {
                    aliases.insert(*alias, topic.clone());
                }
            }
            Frame::Publish {
                packet_id: p.packet_id,
                qos: p.qos,
                dup: p.dup,
                topic,
                payload: p.payload,
            }
        }
        Packet::PubAck(a) => Frame::PubAck {
            packet_id: a.packet_id,
            reason: a.reason_code.as_u8(),
        },
        Packet::PubRec(a) => Frame::PubRec {
            packet_id: a.packet_id,
            reason: a.reason_code.as_u8(),
        },
        Packet::PubRel(a) => Frame::PubRel {
            packet_id: a.packet_id,
            reason: a.reason_code.as_u8(),
        },
        Packet::PubComp(a) => Frame::PubComp {
            packet_id: a.packet_id,
            reason: a.reason_code.as_u8(),
        },
        Packet::Disconnect(d) => Frame::Disconnect {
            reason: d.reason_code.as_u8(),
        },
        _ => return None,
    })
}
