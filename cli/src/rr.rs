//! `midge rr`: request/response (MQTT 5, 4.10).

use std::io::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use midge::codec::{ByteString, Bytes, Property, PropertyId};
use midge::protocol::PublishRequest;
use midge::runtime::ClientEvent;

use crate::args::Args;
use crate::connect::{self, ACK_TIMEOUT};
use crate::fail::{Failure, Status};
use crate::output;
use crate::publish::read_payload;
use crate::subscribe::{self, style};

pub fn run(a: &Args) -> Result<(), Failure> {
    let payload = read_payload(a.source.as_ref().expect("checked by the parser"))?;
    let client = connect::connect(a)?;
    let result = exchange(&client, a, payload);
    if matches!(
        &result,
        Ok(())
            | Err(Failure {
                status: Status::Timeout,
                ..
            })
    ) {
        connect::disconnect(&client, a);
    } else {
        client.close();
    }
    result
}

fn exchange(client: &midge::Client, a: &Args, payload: Bytes) -> Result<(), Failure> {
    let response_topic = a.response_topic.clone().expect("checked by the parser");
    subscribe::subscribe(client, a, std::slice::from_ref(&response_topic))?;

    let mut properties = a.props.publish.clone();
    properties.remove(PropertyId::ResponseTopic);
    properties.push(Property::ResponseTopic(ByteString::from(
        response_topic.clone(),
    )));
    let correlation = match properties.get_binary(PropertyId::CorrelationData) {
        Some(c) => c.clone(),
        None => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let c = Bytes::from(format!("midge-rr-{}-{nanos}", std::process::id()));
            properties.push(Property::CorrelationData(c.clone()));
            c
        }
    };
    let request = PublishRequest {
        topic: ByteString::from(a.topics[0].clone()),
        payload,
        qos: a.qos,
        retain: a.retain,
        topic_alias: None,
        properties,
    };
    client
        .publish_request(request)
        .and_then(|c| c.wait(ACK_TIMEOUT))
        .map_err(|e| Failure::request(&format!("request to {}", a.topics[0]), &e))
        .and_then(|ack| {
            if ack.reason.is_success() {
                Ok(())
            } else {
                Err(Failure::new(
                    Status::RequestRefused,
                    format!("request to {}: refused: {}", a.topics[0], ack.reason),
                ))
            }
        })?;

    let deadline = a.timeout.map(|s| Instant::now() + Duration::from_secs(s));
    loop {
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        if wait.is_zero() {
            return Err(Failure::new(
                Status::Timeout,
                format!(
                    "no reply on {response_topic} within {} s",
                    a.timeout.unwrap_or(0)
                ),
            ));
        }
        match client.next_event(wait) {
            Some(ClientEvent::Message(m)) => {
                let theirs = m.properties.get_binary(PropertyId::CorrelationData);
                if theirs.is_some_and(|c| *c != correlation) {
                    continue; // someone else's reply
                }
                let mut buf = Vec::new();
                output::render(&style(a), &m, a.no_eol, &mut buf);
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf).and_then(|()| out.flush());
                return Ok(());
            }
            Some(ClientEvent::ConnectionLost(cause)) => return Err(connect::lost(&cause)),
            Some(ClientEvent::Closed) => {
                return Err(Failure::new(Status::ConnectionLost, "the client closed"));
            }
            Some(e @ ClientEvent::Log { .. }) => connect::log(&e),
            _ => {}
        }
    }
}
