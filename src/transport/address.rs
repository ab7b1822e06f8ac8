//! Broker addresses: `mqtt://host:port`, `tcp://host:port`, `host:port`, `host`,
//! `[v6]:port` and `unix:///path`.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use super::TransportError;

/// The IANA port for MQTT over TCP.
pub const DEFAULT_PORT: u16 = 1883;

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A host name or IP literal (IPv6 without brackets) and a port.
    Tcp { host: String, port: u16 },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl Address {
    /// Parses a broker address. Without a port, 1883 is used.
    pub fn parse(address: &str) -> Result<Self, TransportError> {
        let invalid = |reason| TransportError::InvalidAddress {
            address: address.to_owned(),
            reason,
        };
        let rest = match address.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "mqtt" | "tcp" => rest,
                "unix" => {
                    if rest.is_empty() {
                        return Err(invalid("empty socket path"));
                    }
                    return Ok(Self::Unix(PathBuf::from(rest)));
                }
                _ => return Err(TransportError::UnsupportedScheme(scheme.to_owned())),
            },
            None => address,
        };
        // A trailing slash (mqtt://host:1883/) is common in URLs; nothing may follow it.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            return Err(invalid("a path is not allowed"));
        }
        if rest.contains('@') {
            return Err(invalid(
                "credentials in the address are not supported; set them in the options",
            ));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| invalid("unclosed '['"))?;
            if host.parse::<Ipv6Addr>().is_err() {
                return Err(invalid("bad IPv6 literal"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| invalid("junk after ']'"))?,
                ),
            };
            (host, port)
        } else if rest.parse::<Ipv6Addr>().is_ok() {
            // A bare IPv6 literal has no port.
            (rest, None)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("empty host"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(invalid("port must be 1..=65535")),
                Ok(p) => p,
            },
        };
        Ok(Self::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "mqtt://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "mqtt://{host}:{port}"),
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Address {
        Address::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Address::parse("mqtt://broker:1884"),
            Ok(tcp("broker", 1884))
        );
        assert_eq!(Address::parse("MQTT://broker"), Ok(tcp("broker", 1883)));
        assert_eq!(
            Address::parse("tcp://10.0.0.1:8883/"),
            Ok(tcp("10.0.0.1", 8883))
        );
        assert_eq!(Address::parse("localhost:1"), Ok(tcp("localhost", 1)));
        assert_eq!(Address::parse("localhost"), Ok(tcp("localhost", 1883)));
        assert_eq!(Address::parse("[::1]:2000"), Ok(tcp("::1", 2000)));
        assert_eq!(Address::parse("mqtt://[fe80::1]"), Ok(tcp("fe80::1", 1883)));
        assert_eq!(Address::parse("::1"), Ok(tcp("::1", 1883)));
        assert_eq!(
            Address::parse("unix:///run/mosquitto.sock"),
            Ok(Address::Unix("/run/mosquitto.sock".into()))
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["mqtt://h:1", "mqtt://[::1]:5", "unix:///tmp/s"] {
            assert_eq!(Address::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_addresses() {
        for bad in [
            "",
            "mqtt://",
            ":1883",
            "host:0",
            "host:65536",
            "host:port",
            "[::1",
            "[::1]x",
            "[nothost]:1",
            "mqtt://h:1/path",
            "mqtt://u:p@h:1",
            "unix://",
        ] {
            assert!(
                matches!(
                    Address::parse(bad),
                    Err(TransportError::InvalidAddress { .. })
                ),
                "{bad:?} was accepted: {:?}",
                Address::parse(bad)
            );
        }
        assert_eq!(
            Address::parse("mqtts://h:8883"),
            Err(TransportError::UnsupportedScheme("mqtts".into()))
        );
        assert_eq!(
            Address::parse("ws://h"),
            Err(TransportError::UnsupportedScheme("ws".into()))
        );
    }
}
