//! From the command line to a connected [`Client`].

use std::time::Duration;

use midge::codec::{ByteString, Bytes, DisconnectReasonCode, Properties, Property, Will};
use midge::protocol::{Options, VersionChoice};
use midge::runtime::{ClientEvent, LogLevel};
use midge::{Client, ClientOptions, ReconnectPolicy};

use crate::args::{Args, Mode};
use crate::fail::{Failure, Status};

/// The bound on TCP connect and on the wait for CONNACK.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The bound on waits for acknowledgements and the DISCONNECT.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The client identifier the options ask for (empty: the broker assigns one).
fn client_id(a: &Args) -> String {
    match (&a.client_id, &a.id_prefix) {
        (Some(id), _) => id.clone(),
        (None, Some(prefix)) => format!("{prefix}{}", std::process::id()),
        (None, None) => String::new(),
    }
}

/// The session options: CONNECT contents, `-D connect` properties and the Will. `sub`
/// reconnects after a lost connection (resubscribing), as mosquitto_sub does; the other
/// commands report it.
pub fn options(a: &Args, id: &str) -> Result<ClientOptions, Failure> {
    let mut session = Options {
        client_id: ByteString::from(id.to_owned()),
        clean_start: a.clean,
        keep_alive: a.keepalive,
        session_expiry_interval: a.session_expiry.unwrap_or(0),
        username: a.username.clone().map(ByteString::from),
        password: a.password.clone().map(|p| Bytes::from(p.into_bytes())),
        connect_timeout: CONNECT_TIMEOUT,
        ..Options::default()
    };
    for p in &a.props.connect {
        match p {
            Property::SessionExpiryInterval(s) => session.session_expiry_interval = *s,
            Property::ReceiveMaximum(n) => session.receive_maximum = *n,
            Property::MaximumPacketSize(n) => session.maximum_packet_size = Some(*n),
            Property::TopicAliasMaximum(n) => session.topic_alias_maximum = *n,
            Property::RequestProblemInformation(b) => session.request_problem_information = *b,
            Property::RequestResponseInformation(b) => {
                session.request_response_information = *b;
            }
            Property::UserProperty(k, v) => session.user_properties.push((k.clone(), v.clone())),
            other => {
                return Err(Failure::usage(format!(
                    "-D connect: {:?} cannot be set",
                    other.id()
                )));
            }
        }
    }
    if a.v311 {
        // 3.1.1 has Clean Session instead of Clean Start and a Session Expiry Interval: a
        // kept session (-c) lasts until the next clean connection.
        session.protocol_version = VersionChoice::V311;
        session.session_expiry_interval = if a.clean { 0 } else { u32::MAX };
    }
    if let Some(topic) = &a.will_topic {
        session.will = Some(Will {
            topic: ByteString::from(topic.clone()),
            payload: Bytes::from(a.will_payload.clone().unwrap_or_default()),
            qos: a.will_qos,
            retain: a.will_retain,
            properties: a.props.will.clone(),
        });
    }
    Ok(ClientOptions {
        tls: a.tls.clone(),
        session,
        reconnect: if a.mode == Mode::Sub {
            ReconnectPolicy::default()
        } else {
            ReconnectPolicy::disabled()
        },
        connect_timeout: CONNECT_TIMEOUT,
        log_level: if a.debug {
            LogLevel::Debug
        } else {
            LogLevel::Off
        },
        ..ClientOptions::default()
    })
}

/// A client connected as the options say, or the failure, named for a person.
pub fn connect(a: &Args) -> Result<Client, Failure> {
    connect_as(a, &client_id(a))
}

/// [`connect`] with this client identifier.
pub fn connect_as(a: &Args, id: &str) -> Result<Client, Failure> {
    let address = a.address();
    if a.tls.as_ref().is_some_and(|t| t.dangerous_no_verify) {
        eprintln!(
            "midge: --insecure: the server's certificate is not verified at all (not only its \
             name, as with mosquitto): anyone can impersonate the server"
        );
    }
    let options = options(a, id)?;
    let client = Client::new(&address, options).map_err(|e| match e {
        midge::Error::InvalidArgument(_) | midge::Error::Request(_) | midge::Error::Codec(_) => {
            Failure::usage(format!("{e}"))
        }
        e => Failure::connect(&address, &e),
    })?;
    match client.connect_and_wait(CONNECT_TIMEOUT + Duration::from_secs(1)) {
        Ok(connack) => {
            if a.debug {
                eprintln!(
                    "midge: connected to {address} (client id {:?}, session present {})",
                    connack.assigned_client_id.as_deref().unwrap_or(id),
                    connack.session_present
                );
            }
            Ok(client)
        }
        Err(e) => {
            client.close();
            Err(Failure::connect(&address, &e))
        }
    }
}

/// Prints a log event to stderr (with `-d`).
pub fn log(e: &ClientEvent) {
    if let ClientEvent::Log { level, message } = e {
        eprintln!("midge: [{level:?}] {message}");
    }
}

/// Sends DISCONNECT with the `-D disconnect` properties and closes the client.
pub fn disconnect(client: &Client, a: &Args) {
    let _ = client
        .disconnect(
            DisconnectReasonCode::NormalDisconnection,
            a.props.disconnect.clone(),
        )
        .wait(ACK_TIMEOUT);
    client.close();
}

/// Why the connection ended, as a failure.
pub fn lost(cause: &midge::protocol::DisconnectCause) -> Failure {
    Failure::new(Status::ConnectionLost, format!("connection lost: {cause}"))
}

/// `-D publish` properties, as sent.
pub fn publish_properties(a: &Args) -> Properties {
    a.props.publish.clone()
}
