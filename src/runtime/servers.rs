//! A client's servers: the ordered list, the one in use, the rotation on failure, and where
//! a followed redirection (MQTT 5.0 4.11) sends the client. The decision to follow is the
//! protocol's ([`crate::protocol::Redirects`]); this file only keeps the state it changes.
//!
//! Rotation: an attempt starts at the server that last worked (the first, before any
//! did). A failed attempt (no connection, or no CONNACK success) moves on to the next
//! server at once; when the attempts have gone round the whole list (a pass), the reconnect
//! backoff applies before the next pass. A connection that was up and is lost is
//! reconnected to the same server first, after the backoff's delay.

use parking_lot::Mutex;

use crate::protocol::{RedirectTarget, Redirects};
use crate::transport::{Address, Layers, TransportError, WsOptions};

/// A redirection the server asked for, as the application's redirect callback sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// The server that sent it.
    pub from: String,
    /// Where midge would connect (the Server Reference made an address).
    pub to: String,
    /// The Server Reference as the server sent it.
    pub reference: String,
    /// 0x9C (Use another server) or 0x9D (Server moved).
    pub reason_code: u8,
    /// In a CONNACK (the connection was refused), else in a DISCONNECT.
    pub refused: bool,
}

/// The application's veto over a redirection: true lets midge follow it.
pub type RedirectFilter = Box<dyn FnMut(&Redirect) -> bool + Send>;

/// Where the client keeps its [`RedirectFilter`], shared with the I/O thread.
#[derive(Default)]
pub(crate) struct FilterSlot(pub(crate) Mutex<Option<RedirectFilter>>);

impl std::fmt::Debug for FilterSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterSlot").finish_non_exhaustive()
    }
}

/// Whether the next attempt goes at once or after the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Another server of this pass, or a redirection's target: at once.
    Now,
    /// The pass is over: the backoff's delay first.
    AfterBackoff,
}

struct Server {
    address: Address,
    layers: Layers,
}

pub(crate) struct Servers {
    list: Vec<Server>,
    /// The server of the current (or next) attempt.
    at: usize,
    /// Where the current pass started.
    pass_start: usize,
    /// A 0x9C target: the next attempt only.
    detour: Option<Server>,
    ws: WsOptions,
    pub(crate) redirects: Redirects,
}

impl Servers {
    /// `list` is not empty (the client's address comes first); `layers` match it.
    pub(crate) fn new(list: Vec<(Address, Layers)>, ws: WsOptions, redirects: Redirects) -> Self {
        assert!(!list.is_empty(), "a client has at least one server");
        Self {
            list: list
                .into_iter()
                .map(|(address, layers)| Server { address, layers })
                .collect(),
            at: 0,
            pass_start: 0,
            detour: None,
            ws,
            redirects,
        }
    }

    fn current_server(&self) -> &Server {
        self.detour.as_ref().unwrap_or(&self.list[self.at])
    }

    /// Where the next (or current) attempt goes.
    pub(crate) fn address(&self) -> &Address {
        &self.current_server().address
    }

    pub(crate) fn layers(&self) -> &Layers {
        &self.current_server().layers
    }

    /// The application asked to connect: a new pass, from the server that last worked.
    pub(crate) fn restart(&mut self) {
        self.pass_start = self.at;
    }

    /// A CONNACK success: this server is the one that works.
    pub(crate) fn connected(&mut self) {
        self.pass_start = self.at;
        self.redirects.connected();
    }

    /// An accepted connection was lost: a 0x9C target was for that connection only.
    pub(crate) fn lost(&mut self) {
        self.detour = None;
    }

    /// Whether a failed attempt now would leave servers of this pass to try.
    pub(crate) fn more_in_pass(&self) -> bool {
        self.detour.is_some() && self.list.len() > 1
            || (self.at + 1) % self.list.len() != self.pass_start
    }

    /// The attempt failed: on to the next server (a redirection's target failing counts as
    /// a failure of the server that redirected).
    pub(crate) fn failed(&mut self) -> Next {
        self.detour = None;
        self.at = (self.at + 1) % self.list.len();
        if self.at == self.pass_start {
            Next::AfterBackoff
        } else {
            Next::Now
        }
    }

    /// The address a redirection's target names: a reference without a scheme keeps the
    /// scheme (and WebSocket path) of the server that sent it.
    pub(crate) fn target_address(
        &self,
        target: &RedirectTarget,
    ) -> Result<Address, TransportError> {
        match target {
            RedirectTarget::Url(url) => Address::parse(url),
            RedirectTarget::HostPort(authority) => self.address().with_authority(authority),
        }
    }

    /// Follows a redirection to `to`: `moved` (0x9D) replaces the server for good, else
    /// (0x9C) the next attempt only goes there.
    pub(crate) fn redirect(&mut self, to: Address, moved: bool) -> Result<(), TransportError> {
        let layers = self.list[self.at].layers.retarget(&to, &self.ws)?;
        let server = Server {
            address: to,
            layers,
        };
        if moved {
            self.detour = None;
            self.list[self.at] = server;
        } else {
            self.detour = Some(server);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(n: usize) -> Servers {
        let list = (1..=n)
            .map(|i| {
                let a = Address::parse(&format!("mqtt://h{i}:1")).unwrap();
                let l = Layers::new(&a, None, &WsOptions::default()).unwrap();
                (a, l)
            })
            .collect();
        Servers::new(list, WsOptions::default(), Redirects::default())
    }

    #[test]
    fn a_pass_goes_round_once_from_the_server_that_worked() {
        let mut s = servers(3);
        assert_eq!(s.address().to_string(), "mqtt://h1:1");
        assert!(s.more_in_pass());
        assert_eq!(s.failed(), Next::Now);
        assert_eq!(s.failed(), Next::Now);
        assert!(!s.more_in_pass());
        assert_eq!(s.failed(), Next::AfterBackoff);
        assert_eq!(s.address().to_string(), "mqtt://h1:1");
        s.failed();
        s.connected();
        assert_eq!(s.address().to_string(), "mqtt://h2:1");
        // Lost: the next pass starts at h2 and ends after h1.
        assert_eq!(s.failed(), Next::Now);
        assert_eq!(s.address().to_string(), "mqtt://h3:1");
        assert_eq!(s.failed(), Next::Now);
        assert_eq!(s.failed(), Next::AfterBackoff);
        assert_eq!(s.address().to_string(), "mqtt://h2:1");
    }

    #[test]
    fn one_server_backs_off_after_each_failure() {
        let mut s = servers(1);
        assert!(!s.more_in_pass());
        assert_eq!(s.failed(), Next::AfterBackoff);
    }

    #[test]
    fn use_another_server_is_one_attempt_and_moved_is_for_good() {
        let mut s = servers(2);
        let t = s
            .target_address(&RedirectTarget::HostPort("x:5".into()))
            .unwrap();
        s.redirect(t, false).unwrap();
        assert_eq!(s.address().to_string(), "mqtt://x:5");
        s.connected();
        assert_eq!(s.address().to_string(), "mqtt://x:5");
        // The detour ends with its connection; the list is as it was.
        s.failed();
        assert_eq!(s.address().to_string(), "mqtt://h2:1");
        let t = s
            .target_address(&RedirectTarget::Url("mqtt://y:6".into()))
            .unwrap();
        s.redirect(t, true).unwrap();
        s.failed();
        s.failed();
        assert_eq!(s.address().to_string(), "mqtt://y:6");
    }
}
