//! `midge pub`.

use std::collections::VecDeque;
use std::io::{BufRead as _, Read as _};
use std::time::{Duration, Instant};

use midge::codec::{ByteString, Bytes};
use midge::protocol::{PublishAck, PublishRequest, RequestError};
use midge::{Client, Completion};

use crate::args::{Args, Source};
use crate::connect::{self, ACK_TIMEOUT};
use crate::fail::{Failure, Status};

/// How many publishes may wait for their acknowledgement before the next waits.
const WINDOW: usize = 1000;

/// How often a wait for an acknowledgement looks whether the connection is still there.
const LOST_CHECK: Duration = Duration::from_millis(100);

/// Publishes, keeping at most [`WINDOW`] unacknowledged, at an optional rate.
pub struct Publisher<'a> {
    client: &'a Client,
    args: &'a Args,
    topic: ByteString,
    inflight: VecDeque<Completion<PublishAck>>,
    started: Instant,
    sent: u64,
}

impl<'a> Publisher<'a> {
    pub fn new(client: &'a Client, args: &'a Args, topic: &str) -> Self {
        Self {
            client,
            args,
            topic: ByteString::from(topic.to_owned()),
            inflight: VecDeque::new(),
            started: Instant::now(),
            sent: 0,
        }
    }

    pub fn publish(&mut self, payload: Bytes) -> Result<(), Failure> {
        if let Some(rate) = self.args.rate {
            // Pacing, not synchronisation: message n leaves at n / rate seconds.
            let due = self.started + Duration::from_secs_f64(self.sent as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let request = PublishRequest {
            topic: self.topic.clone(),
            payload,
            qos: self.args.qos,
            retain: self.args.retain,
            topic_alias: self.args.props.topic_alias,
            properties: connect::publish_properties(self.args),
        };
        let completion = self
            .client
            .publish_request(request)
            .map_err(|e| Failure::request("publish", &e))?;
        self.inflight.push_back(completion);
        self.sent += 1;
        while self.inflight.len() > WINDOW {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<(), Failure> {
        let Some(c) = self.inflight.pop_front() else {
            return Ok(());
        };
        // Without reconnection a publish waits for a connection that never comes: a lost
        // connection ends the wait at once (status 7), as mosquitto_pub does.
        let deadline = Instant::now() + ACK_TIMEOUT;
        let outcome = loop {
            match c.wait(LOST_CHECK.min(deadline.saturating_duration_since(Instant::now()))) {
                Err(midge::Error::Timeout) if Instant::now() < deadline => {
                    if !self.client.is_connected() {
                        return Err(Failure::new(
                            Status::ConnectionLost,
                            format!(
                                "publish to {}: the connection was lost before the server \
                                 acknowledged it (-d shows why)",
                                self.topic
                            ),
                        ));
                    }
                }
                other => break other,
            }
        };
        match outcome {
            Ok(ack) if ack.reason.is_success() => Ok(()),
            Ok(ack) => Err(refused(&self.topic, &RequestError::Refused(ack.reason))),
            Err(midge::Error::Request(e @ RequestError::Refused(_))) => {
                Err(refused(&self.topic, &e))
            }
            Err(e) => Err(Failure::request(&format!("publish to {}", self.topic), &e)),
        }
    }

    /// Waits for every acknowledgement.
    pub fn finish(&mut self) -> Result<(), Failure> {
        while !self.inflight.is_empty() {
            self.wait_oldest()?;
        }
        Ok(())
    }
}

fn refused(topic: &str, e: &RequestError) -> Failure {
    Failure::new(
        Status::RequestRefused,
        format!("publish to {topic}: {e} (is the client allowed to publish there?)"),
    )
}

/// Reads the payload of `-m`, `-f`, `-s` or `-n`.
pub fn read_payload(source: &Source) -> Result<Bytes, Failure> {
    Ok(match source {
        Source::Message(m) => Bytes::from(m.clone()),
        Source::Null | Source::Lines => Bytes::new(),
        Source::File(path) => Bytes::from(
            std::fs::read(path)
                .map_err(|e| Failure::new(Status::Io, format!("-f {path}: cannot read it: {e}")))?,
        ),
        Source::Stdin => {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::new(Status::Io, format!("-s: cannot read stdin: {e}")))?;
            Bytes::from(buf)
        }
    })
}

pub fn run(a: &Args) -> Result<(), Failure> {
    let source = a.source.as_ref().expect("checked by the parser");
    // Read the message before connecting, so a missing file costs no connection.
    let payload = match source {
        Source::Lines => None,
        s => Some(read_payload(s)?),
    };
    let client = connect::connect(a)?;
    if a.debug {
        client.set_callback(connect::log);
    } else {
        client.set_callback(|_| {});
    }
    let result = publish_all(&client, a, payload);
    if result.is_ok() {
        connect::disconnect(&client, a);
    } else {
        client.close();
    }
    result
}

fn publish_all(client: &Client, a: &Args, payload: Option<Bytes>) -> Result<(), Failure> {
    let mut publisher = Publisher::new(client, a, &a.topics[0]);
    if let Some(payload) = payload {
        for _ in 0..a.count.unwrap_or(1) {
            publisher.publish(payload.clone())?;
        }
    } else {
        // -l: one message per line, sent as it is read.
        let stdin = std::io::stdin();
        let mut lines = stdin.lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = lines
                .read_until(b'\n', &mut line)
                .map_err(|e| Failure::new(Status::Io, format!("-l: cannot read stdin: {e}")))?;
            if n == 0 {
                break;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            publisher.publish(Bytes::from(line.clone()))?;
        }
    }
    publisher.finish()
}
