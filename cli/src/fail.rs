//! Why the command failed, and the exit status that says so (the table is in `--help` and
//! the README).

use midge::Error;
use midge::protocol::{DisconnectCause, RequestError};

/// The exit statuses. Scripts may rely on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Bad command line (unknown option, missing or malformed value).
    Usage = 1,
    /// The server refused the connection (CONNACK reason code >= 0x80: credentials,
    /// authorisation, client identifier...).
    Refused = 2,
    /// The server cannot be reached: name resolution, TCP connect, no CONNACK in time.
    Unreachable = 3,
    /// Something answered, but it is not an MQTT server.
    NotMqtt = 4,
    /// The server refused a publish or a subscription (reason code >= 0x80).
    RequestRefused = 5,
    /// `-W` or a request's wait ran out.
    Timeout = 6,
    /// The connection was lost after it was established (server DISCONNECT, keep alive,
    /// protocol error, reset).
    ConnectionLost = 7,
    /// Asked for something midge does not do (MQTT 3.1, PSK, enhanced auth).
    Unsupported = 8,
    /// A local file or stdin could not be read.
    Io = 9,
    /// TLS: the server's certificate was not accepted (unknown issuer, expired, name or
    /// pin mismatch), the server refused ours, or the TLS options cannot be used.
    Tls = 10,
}

/// A failure: a message for a person and an exit status for a script.
#[derive(Debug)]
pub struct Failure {
    pub status: Status,
    pub message: String,
}

impl Failure {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Status::Usage, message)
    }

    /// A failure to connect to `server`.
    pub fn connect(server: &str, e: &Error) -> Self {
        match e {
            Error::ConnectionRefused(r) => {
                let hint = match r.reason_code.as_u8() {
                    0x86 => " (check -u/-P)",
                    0x87 => " (check -u/-P and the broker's ACL)",
                    0x85 => " (try another -i, or none)",
                    0x84 => " (the broker does not speak MQTT 5: try -V 311)",
                    _ => "",
                };
                Self::new(Status::Refused, format!("{server}: {e}{hint}"))
            }
            Error::Disconnected(cause) => match &**cause {
                DisconnectCause::Tls { .. } => Self::new(Status::Tls, format!("{server}: {cause}")),
                DisconnectCause::NotMqtt { .. } => Self::new(
                    Status::NotMqtt,
                    format!(
                        "{server}: {cause}\n(the port answered, but not as an MQTT server: check -h/-p)"
                    ),
                ),
                DisconnectCause::Transport { .. } | DisconnectCause::ConnectTimeout => {
                    Self::new(Status::Unreachable, format!("{server}: {cause}"))
                }
                DisconnectCause::ProtocolError { .. } => Self::new(
                    Status::NotMqtt,
                    format!("{server}: {cause}\n(is this an MQTT 5 server?)"),
                ),
                _ => Self::new(Status::ConnectionLost, format!("{server}: {cause}")),
            },
            Error::Timeout => Self::new(
                Status::Unreachable,
                format!("{server}: no answer to CONNECT in time"),
            ),
            Error::Transport(midge::transport::TransportError::TlsConfig(_)) => {
                Self::new(Status::Tls, format!("{server}: {e}"))
            }
            Error::Transport(_) | Error::InvalidArgument(_) => {
                Self::usage(format!("{server}: {e}"))
            }
            _ => Self::new(Status::Unreachable, format!("{server}: {e}")),
        }
    }

    /// A publish, subscribe or request that failed after the connection was up.
    pub fn request(what: &str, e: &Error) -> Self {
        let status = match e {
            Error::Request(RequestError::Refused(_)) => Status::RequestRefused,
            Error::Request(
                RequestError::InvalidTopic(_)
                | RequestError::InvalidTopicFilter(_)
                | RequestError::InvalidProperties(_),
            )
            | Error::InvalidArgument(_) => Status::Usage,
            Error::Request(
                RequestError::QosNotSupported { .. }
                | RequestError::RetainNotSupported
                | RequestError::PacketTooLarge { .. }
                | RequestError::NotSupported(_),
            ) => Status::RequestRefused,
            Error::Timeout => Status::Timeout,
            Error::Codec(_) => Status::NotMqtt,
            _ => Status::ConnectionLost,
        };
        Self::new(status, format!("{what}: {e}"))
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::new(Status::Io, e.to_string())
    }
}
