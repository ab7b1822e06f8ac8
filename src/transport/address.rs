//! Broker addresses: `mqtt://host:port`, `tcp://host:port`, `host:port`, `host`,
//! `[v6]:port`, `unix:///path`; TLS as `mqtts://`, `ssl://` or `tls://` (port 8883); WebSocket
//! as `ws://host[:80]/path` and `wss://host[:443]/path`.

use std::net::Ipv6Addr;
use std::path::PathBuf;

use super::TransportError;

/// The IANA port for MQTT over TCP.
pub const DEFAULT_PORT: u16 = 1883;
/// The IANA port for MQTT over TLS.
pub const DEFAULT_TLS_PORT: u16 = 8883;

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A host name or IP literal (IPv6 without brackets) and a port.
    Tcp { host: String, port: u16 },
    /// A Unix domain socket path.
    Unix(PathBuf),
    /// TLS over TCP (`mqtts://`, `ssl://`, `tls://`).
    Tls { host: String, port: u16 },
    /// WebSocket (`ws://`), or WebSocket over TLS (`wss://`), with the HTTP path.
    Ws {
        host: String,
        port: u16,
        path: String,
        tls: bool,
    },
}

/// The schemes this build speaks.
pub const SUPPORTED_SCHEMES: &str = if cfg!(all(feature = "tls", feature = "websocket")) {
    "mqtt://, tcp://, unix://, mqtts://, ssl://, tls://, ws://, wss://"
} else if cfg!(feature = "tls") {
    "mqtt://, tcp://, unix://, mqtts://, ssl://, tls:// (built without WebSocket)"
} else if cfg!(feature = "websocket") {
    "mqtt://, tcp://, unix://, ws:// (built without TLS)"
} else {
    "mqtt://, tcp://, unix:// (built without TLS and WebSocket)"
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Tls,
    Ws { tls: bool },
}

impl Address {
    /// Parses a broker address. Without a port, 1883 is used.
    pub fn parse(address: &str) -> Result<Self, TransportError> {
        let invalid = |reason| TransportError::InvalidAddress {
            address: address.to_owned(),
            reason,
        };
        let unsupported = || {
            TransportError::UnsupportedScheme(
                address.split("://").next().unwrap_or_default().to_owned(),
            )
        };
        let (kind, rest) = match address.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "mqtt" | "tcp" => (Kind::Plain, rest),
                "mqtts" | "ssl" | "tls" if cfg!(feature = "tls") => (Kind::Tls, rest),
                "ws" if cfg!(feature = "websocket") => (Kind::Ws { tls: false }, rest),
                "wss" if cfg!(all(feature = "tls", feature = "websocket")) => {
                    (Kind::Ws { tls: true }, rest)
                }
                "unix" => {
                    if rest.is_empty() {
                        return Err(invalid("empty socket path"));
                    }
                    return Ok(Self::Unix(PathBuf::from(rest)));
                }
                _ => return Err(unsupported()),
            },
            None => (Kind::Plain, address),
        };
        let (rest, path) = if let Kind::Ws { .. } = kind {
            match rest.find('/') {
                Some(i) => (&rest[..i], rest[i..].to_owned()),
                None => (rest, "/".to_owned()),
            }
        } else {
            // A trailing slash (mqtt://host:1883/) is common in URLs; nothing may follow it.
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.contains('/') {
                return Err(invalid("a path is not allowed"));
            }
            (rest, String::new())
        };
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
            None => match kind {
                Kind::Plain => DEFAULT_PORT,
                Kind::Tls => DEFAULT_TLS_PORT,
                Kind::Ws { tls: false } => 80,
                Kind::Ws { tls: true } => 443,
            },
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(invalid("port must be 1..=65535")),
                Ok(p) => p,
            },
        };
        let host = host.to_owned();
        Ok(match kind {
            Kind::Plain => Self::Tcp { host, port },
            Kind::Tls => Self::Tls { host, port },
            Kind::Ws { tls } => Self::Ws {
                host,
                port,
                path,
                tls,
            },
        })
    }

    /// The host and port to resolve and connect to (`None` for a Unix socket).
    pub fn endpoint(&self) -> Option<(&str, u16)> {
        match self {
            Self::Tcp { host, port } | Self::Tls { host, port } | Self::Ws { host, port, .. } => {
                Some((host, *port))
            }
            Self::Unix(_) => None,
        }
    }

    /// The address of `authority` (`host:port` or `host`) with this address's scheme (and
    /// WebSocket path); a Unix socket's gives plain TCP.
    pub fn with_authority(&self, authority: &str) -> Result<Self, TransportError> {
        match self {
            Self::Tcp { .. } | Self::Unix(_) => Self::parse(&format!("mqtt://{authority}")),
            Self::Tls { .. } => Self::parse(&format!("mqtts://{authority}")),
            Self::Ws { path, tls, .. } => {
                let scheme = if *tls { "wss" } else { "ws" };
                Self::parse(&format!("{scheme}://{authority}{path}"))
            }
        }
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, Self::Tls { .. } | Self::Ws { tls: true, .. })
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "mqtt://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "mqtt://{host}:{port}"),
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tls { host, port } if host.contains(':') => write!(f, "mqtts://[{host}]:{port}"),
            Self::Tls { host, port } => write!(f, "mqtts://{host}:{port}"),
            Self::Ws {
                host,
                port,
                path,
                tls,
            } => {
                let scheme = if *tls { "wss" } else { "ws" };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}{path}")
                } else {
                    write!(f, "{scheme}://{host}:{port}{path}")
                }
            }
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
            Address::parse("http://h:80"),
            Err(TransportError::UnsupportedScheme("http".into()))
        );
    }

    #[test]
    fn an_authority_keeps_the_scheme() {
        let a = Address::parse("unix:///s").unwrap();
        assert_eq!(a.with_authority("h:2"), Ok(tcp("h", 2)));
        assert_eq!(a.with_authority("h"), Ok(tcp("h", 1883)));
        assert!(a.with_authority("h:0").is_err());
        #[cfg(all(feature = "tls", feature = "websocket"))]
        {
            let t = Address::parse("mqtts://a").unwrap();
            assert_eq!(t.with_authority("h").unwrap().to_string(), "mqtts://h:8883");
            let w = Address::parse("wss://a/mqtt").unwrap();
            assert_eq!(
                w.with_authority("[::1]:9").unwrap().to_string(),
                "wss://[::1]:9/mqtt"
            );
        }
    }

    #[cfg(all(feature = "tls", feature = "websocket"))]
    #[test]
    fn parses_secure_and_websocket_forms() {
        let tls = |host: &str, port| Address::Tls {
            host: host.into(),
            port,
        };
        assert_eq!(Address::parse("mqtts://b"), Ok(tls("b", 8883)));
        assert_eq!(Address::parse("ssl://b:1"), Ok(tls("b", 1)));
        assert_eq!(Address::parse("TLS://[::1]"), Ok(tls("::1", 8883)));
        let ws = |port, path: &str, tls| Address::Ws {
            host: "b".into(),
            port,
            path: path.into(),
            tls,
        };
        assert_eq!(Address::parse("ws://b"), Ok(ws(80, "/", false)));
        assert_eq!(
            Address::parse("ws://b:9001/mqtt"),
            Ok(ws(9001, "/mqtt", false))
        );
        assert_eq!(
            Address::parse("wss://b/a/b?x=1"),
            Ok(ws(443, "/a/b?x=1", true))
        );
        for s in ["mqtts://h:1", "wss://h:2/mqtt", "ws://[::1]:3/"] {
            assert_eq!(Address::parse(s).unwrap().to_string(), s);
        }
        // mqtt:// stays plain.
        assert!(!Address::parse("mqtt://b").unwrap().is_tls());
        assert!(Address::parse("wss://b").unwrap().is_tls());
    }
}
