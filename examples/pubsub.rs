//! Connect with a Last Will, subscribe, publish at QoS 0, 1 and 2, receive the three
//! messages back, and disconnect cleanly.
//!
//! Run against any MQTT 5 broker:
//!
//! ```sh
//! cargo run --example pubsub -- --broker mqtt://127.0.0.1:1883
//! ```

use std::time::Duration;

use midge::codec::{
    ByteString, Bytes, DisconnectReasonCode, PayloadFormat, Properties, Property, QoS, Will,
};
use midge::protocol::Options;
use midge::runtime::{Client, ClientEvent, ClientOptions};

const USAGE: &str = "\
usage: pubsub [--broker URL] [--topic TOPIC] [--client-id ID]

Connects to an MQTT 5 broker with a Last Will, subscribes to TOPIC, publishes one message at
each QoS to it, prints what comes back, and disconnects.

  --broker URL      broker address: mqtt://host:port, host:port or unix:///path
                    (default mqtt://127.0.0.1:1883)
  --topic TOPIC     topic to use (default midge/example)
  --client-id ID    client identifier (default: assigned by the broker)
  -h, --help        show this text";

const TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut broker = "mqtt://127.0.0.1:1883".to_owned();
    let mut topic = "midge/example".to_owned();
    let mut client_id = String::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--broker" => broker = value("--broker")?,
            "--topic" => topic = value("--topic")?,
            "--client-id" => client_id = value("--client-id")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n\n{USAGE}").into()),
        }
    }

    // The broker publishes this Will if we vanish without a clean DISCONNECT.
    let will = Will {
        topic: ByteString::from(format!("{topic}/status")),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Properties::new().with(Property::PayloadFormatIndicator(PayloadFormat::Utf8)),
    };
    let options = ClientOptions {
        session: Options {
            client_id: ByteString::from(client_id),
            will: Some(will),
            ..Options::default()
        },
        ..ClientOptions::default()
    };
    let client = Client::new(&broker, options)?;

    let connack = client.connect_and_wait(TIMEOUT)?;
    println!(
        "connected to {broker} (session present: {}, client id: {})",
        connack.session_present,
        connack.assigned_client_id.as_deref().unwrap_or("ours")
    );

    let suback = client.subscribe_and_wait(&topic, QoS::ExactlyOnce, TIMEOUT)?;
    println!("subscribed to {topic}: {:?}", suback.reason_codes);

    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let payload = format!("hello at {qos:?}");
        let ack =
            client.publish_and_wait(&topic, payload, qos, false, Properties::new(), TIMEOUT)?;
        println!("published at {qos:?}: {}", ack.reason);
    }

    let mut received = 0;
    while received < 3 {
        match client.next_event(TIMEOUT) {
            Some(ClientEvent::Message(m)) => {
                received += 1;
                println!(
                    "received on {} at {:?}: {}",
                    m.topic,
                    m.qos,
                    String::from_utf8_lossy(&m.payload)
                );
            }
            Some(other) => println!("event: {other:?}"),
            None => return Err("timed out waiting for our messages".into()),
        }
    }

    client
        .disconnect(DisconnectReasonCode::NormalDisconnection, Properties::new())
        .wait(TIMEOUT)?;
    println!("disconnected");
    Ok(())
}
