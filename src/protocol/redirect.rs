//! Server redirection (MQTT 5.0 section 4.11): whether a refusal or a DISCONNECT that names
//! another server is followed, and where to.
//!
//! A CONNACK or DISCONNECT with reason code 0x9C (Use another server) or 0x9D (Server
//! moved) may carry a Server Reference, a UTF-8 string whose format the standard leaves to
//! the implementation (3.2.2.3.16). midge accepts a full address (`mqtt://h:1`,
//! `mqtts://h`, `ws://h:9001/mqtt`, ...), `host:port` and `host`, and of a space-separated
//! list takes the first. A reference without a scheme keeps the scheme (and the WebSocket
//! path) of the server that sent it: the runtime builds the address.
//!
//! The decision is here, the runtime carries it out: follow (the application allowed it,
//! and the hop bound is not reached), or not (and why). 0x9D replaces the server for later
//! reconnections; 0x9C is for this connection only.

use crate::codec::{ConnectReasonCode, DisconnectReasonCode};

use super::event::DisconnectCause;

/// The default bound on consecutive redirections. (Private: cbindgen would put a public
/// constant into midge.h; `RedirectPolicy::default()` gives it.)
pub(crate) const DEFAULT_MAX_REDIRECTS: u32 = 3;

/// What the application allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// Follow a Server Reference at all (off by default: a server could otherwise send the
    /// client, its credentials included, anywhere).
    pub follow: bool,
    /// How many redirections in a row may be followed before midge gives up; the count
    /// starts again with each connection that is accepted.
    pub max_hops: u32,
}

impl Default for RedirectPolicy {
    fn default() -> Self {
        Self {
            follow: false,
            max_hops: DEFAULT_MAX_REDIRECTS,
        }
    }
}

/// Where a Server Reference points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A full address with a scheme (`mqtt://h:1`, `ws://h/mqtt`).
    Url(String),
    /// `host:port` or `host` (`[v6]:port` too): the scheme of the server that sent it.
    HostPort(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(s) | Self::HostPort(s) => f.write_str(s),
        }
    }
}

/// Parses a Server Reference: the first of a space-separated list, `None` when empty.
pub fn parse_reference(reference: &str) -> Option<Target> {
    let first = reference.split_whitespace().next()?;
    Some(if first.contains("://") {
        Target::Url(first.to_owned())
    } else {
        Target::HostPort(first.to_owned())
    })
}

/// Why a redirection is not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotFollowed {
    /// The application did not allow redirections.
    NotAllowed,
    /// The redirection came without a (usable) Server Reference.
    NoReference,
    /// `max_hops` redirections in a row were followed already.
    TooManyHops(u32),
    /// The application's redirect callback vetoed it.
    Vetoed,
}

impl std::fmt::Display for NotFollowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAllowed => f.write_str("following redirections is off (follow_redirects)"),
            Self::NoReference => f.write_str("no usable Server Reference"),
            Self::TooManyHops(n) => write!(f, "{n} redirections in a row already (the bound)"),
            Self::Vetoed => f.write_str("the application's redirect callback refused it"),
        }
    }
}

/// What to do when a connection ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Not a redirection (any other cause): the usual reconnect handling.
    NotRedirect,
    /// Connect to `target` at once. `moved` (0x9D): it replaces the server for later
    /// reconnections; else (0x9C) it is for this connection only.
    Follow {
        target: Target,
        moved: bool,
        reference: String,
    },
    /// A redirection that is not followed. After a CONNACK refusal the client stops
    /// reconnecting (the server would only refuse again); after a DISCONNECT the usual
    /// reconnect handling applies.
    Refuse {
        why: NotFollowed,
        reference: Option<String>,
        refused: bool,
    },
}

/// The redirection state of one client: the policy and the hops followed in a row.
#[derive(Debug, Clone, Default)]
pub struct Redirects {
    pub policy: RedirectPolicy,
    hops: u32,
}

impl Redirects {
    pub fn new(policy: RedirectPolicy) -> Self {
        Self { policy, hops: 0 }
    }

    /// A connection was accepted (CONNACK success): the hop count starts again.
    pub fn connected(&mut self) {
        self.hops = 0;
    }

    /// Redirections followed in a row.
    pub fn hops(&self) -> u32 {
        self.hops
    }

    /// Decides about the end of a connection. A `Follow` counts as a hop; the application
    /// may still veto it (then call [`Redirects::vetoed`]).
    pub fn decide(&mut self, cause: &DisconnectCause) -> Decision {
        let (moved, reference, refused) = match cause {
            DisconnectCause::Refused(r) => match r.reason_code {
                ConnectReasonCode::UseAnotherServer => (false, &r.server_reference, true),
                ConnectReasonCode::ServerMoved => (true, &r.server_reference, true),
                _ => return Decision::NotRedirect,
            },
            DisconnectCause::Server {
                reason_code,
                server_reference,
                ..
            } => match reason_code {
                DisconnectReasonCode::UseAnotherServer => (false, server_reference, false),
                DisconnectReasonCode::ServerMoved => (true, server_reference, false),
                _ => return Decision::NotRedirect,
            },
            _ => return Decision::NotRedirect,
        };
        let reference = reference.as_ref().map(ToString::to_string);
        let refuse = |why| Decision::Refuse {
            why,
            reference: reference.clone(),
            refused,
        };
        if !self.policy.follow {
            return refuse(NotFollowed::NotAllowed);
        }
        let Some(target) = reference.as_deref().and_then(parse_reference) else {
            return refuse(NotFollowed::NoReference);
        };
        if self.hops >= self.policy.max_hops {
            return refuse(NotFollowed::TooManyHops(self.hops));
        }
        self.hops += 1;
        Decision::Follow {
            target,
            moved,
            reference: reference.unwrap_or_default(),
        }
    }

    /// The application vetoed the `Follow` just decided: it does not count as a hop.
    pub fn vetoed(&mut self) {
        self.hops = self.hops.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{ByteString, Properties};
    use crate::protocol::ConnectRefusal;

    fn refused(code: ConnectReasonCode, reference: Option<&str>) -> DisconnectCause {
        DisconnectCause::Refused(ConnectRefusal {
            reason_code: code,
            reason_string: None,
            server_reference: reference.map(ByteString::from),
            properties: Properties::new(),
        })
    }

    fn server(code: DisconnectReasonCode, reference: Option<&str>) -> DisconnectCause {
        DisconnectCause::Server {
            reason_code: code,
            reason_string: None,
            server_reference: reference.map(ByteString::from),
            properties: Properties::new(),
        }
    }

    fn follow() -> Redirects {
        Redirects::new(RedirectPolicy {
            follow: true,
            max_hops: 3,
        })
    }

    #[test]
    fn references_in_every_accepted_form() {
        let url = |s: &str| Some(Target::Url(s.into()));
        let hp = |s: &str| Some(Target::HostPort(s.into()));
        assert_eq!(parse_reference("mqtt://b:1884"), url("mqtt://b:1884"));
        assert_eq!(parse_reference("ws://b:9001/mqtt"), url("ws://b:9001/mqtt"));
        assert_eq!(parse_reference("b:1884"), hp("b:1884"));
        assert_eq!(parse_reference("b"), hp("b"));
        assert_eq!(parse_reference("[::1]:5"), hp("[::1]:5"));
        // A space-separated list: the first.
        assert_eq!(parse_reference("  a:1 b:2 mqtt://c"), hp("a:1"));
        assert_eq!(parse_reference("mqtts://a b"), url("mqtts://a"));
        assert_eq!(parse_reference(""), None);
        assert_eq!(parse_reference("   "), None);
    }

    /// 4.11: 0x9C and 0x9D, in CONNACK and DISCONNECT, are followed when allowed; 0x9D is
    /// the permanent one.
    #[test]
    fn redirections_are_followed_when_allowed() {
        let mut r = follow();
        for (cause, moved, refused_) in [
            (
                refused(ConnectReasonCode::UseAnotherServer, Some("b:2")),
                false,
                true,
            ),
            (
                refused(ConnectReasonCode::ServerMoved, Some("b:2")),
                true,
                true,
            ),
            (
                server(DisconnectReasonCode::UseAnotherServer, Some("b:2")),
                false,
                false,
            ),
            (
                server(DisconnectReasonCode::ServerMoved, Some("b:2 c:3")),
                true,
                false,
            ),
        ] {
            r.connected();
            match r.decide(&cause) {
                Decision::Follow {
                    target, moved: m, ..
                } => {
                    assert_eq!(target, Target::HostPort("b:2".into()));
                    assert_eq!(m, moved, "{cause:?}");
                }
                other => panic!("{cause:?}: {other:?} (refused {refused_})"),
            }
        }
    }

    #[test]
    fn off_by_default_and_other_causes_are_not_redirects() {
        let mut r = Redirects::default();
        assert_eq!(
            r.decide(&refused(ConnectReasonCode::ServerMoved, Some("b:2"))),
            Decision::Refuse {
                why: NotFollowed::NotAllowed,
                reference: Some("b:2".into()),
                refused: true,
            }
        );
        let mut r = follow();
        assert_eq!(
            r.decide(&refused(ConnectReasonCode::NotAuthorized, Some("b:2"))),
            Decision::NotRedirect
        );
        assert_eq!(
            r.decide(&server(DisconnectReasonCode::ServerShuttingDown, Some("b"))),
            Decision::NotRedirect
        );
        assert_eq!(
            r.decide(&DisconnectCause::KeepAliveTimeout),
            Decision::NotRedirect
        );
        assert_eq!(
            r.decide(&refused(ConnectReasonCode::UseAnotherServer, None)),
            Decision::Refuse {
                why: NotFollowed::NoReference,
                reference: None,
                refused: true,
            }
        );
        assert_eq!(
            r.decide(&server(DisconnectReasonCode::UseAnotherServer, Some(" "))),
            Decision::Refuse {
                why: NotFollowed::NoReference,
                reference: Some(" ".into()),
                refused: false,
            }
        );
    }

    /// The bound: `max_hops` redirections in a row, then give up; an accepted connection
    /// starts the count again, and a veto does not count.
    #[test]
    fn the_hop_bound_holds_and_restarts_with_a_connection() {
        let mut r = follow();
        let moved = refused(ConnectReasonCode::ServerMoved, Some("mqtt://x:1"));
        for _ in 0..3 {
            assert!(matches!(r.decide(&moved), Decision::Follow { .. }));
        }
        assert_eq!(
            r.decide(&moved),
            Decision::Refuse {
                why: NotFollowed::TooManyHops(3),
                reference: Some("mqtt://x:1".into()),
                refused: true,
            }
        );
        r.connected();
        assert!(matches!(r.decide(&moved), Decision::Follow { .. }));
        r.vetoed();
        assert_eq!(r.hops(), 0);
    }
}
