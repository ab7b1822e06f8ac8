//! What follows the end of a connection: whether its connect goes on, a redirection
//! followed or not (4.11, the application's filter asked first), a refusal or TLS failure
//! that stops reconnecting, and the connect's waiters.

use std::sync::atomic::Ordering;

use super::{Conn, FilterSlot, LogLevel, log};
use crate::protocol::DisconnectCause;

/// Whether the connect goes on after this attempt failed (a followed redirection, or more
/// servers in the pass): its waiters wait for the outcome of the pass.
pub(super) fn goes_on(c: &Conn) -> bool {
    c.wanted
        && c.close_waiter.is_none()
        && (c.redirect_now || !c.attempt_up && c.servers.more_in_pass())
}

/// Carries out the protocol's decision about a connection's end (4.11): follow a
/// redirection (asking the application's filter first), or not, and then stop reconnecting
/// after a refusal.
fn redirect(c: &mut Conn, cause: &DisconnectCause) {
    use crate::protocol::{NotFollowed, RedirectDecision as D};
    let (why, reference, refused) = match c.servers.redirects.decide(cause) {
        D::NotRedirect => return,
        D::Refuse {
            why,
            reference,
            refused,
        } => (why.to_string(), reference, refused),
        D::Follow {
            target,
            moved,
            reference,
        } => {
            let refused = matches!(cause, DisconnectCause::Refused(_));
            let to = match c.servers.target_address(&target) {
                Ok(to) => to,
                Err(e) => {
                    c.servers.redirects.vetoed();
                    let why = format!("the Server Reference is not an address midge can use: {e}");
                    return not_followed(c, &why, Some(reference), refused);
                }
            };
            let code = match cause {
                DisconnectCause::Refused(r) => r.reason_code.as_u8(),
                DisconnectCause::Server { reason_code, .. } => reason_code.as_u8(),
                _ => 0,
            };
            let info = crate::runtime::servers::Redirect {
                from: c.servers.address().to_string(),
                to: to.to_string(),
                reference: reference.clone(),
                reason_code: code,
                refused,
            };
            if !ask_filter(&c.settings.shared.redirect_filter, &info) {
                c.servers.redirects.vetoed();
                let why = NotFollowed::Vetoed.to_string();
                return not_followed(c, &why, Some(reference), refused);
            }
            if let Err(e) = c.servers.redirect(to, moved) {
                c.servers.redirects.vetoed();
                let why = format!("no transport for the Server Reference: {e}");
                return not_followed(c, &why, Some(reference), refused);
            }
            c.redirect_now = true;
            log(c, LogLevel::Info, |_| {
                format!(
                    "redirected (0x{code:02X}{}) from {} to {}",
                    if moved {
                        ", for good"
                    } else {
                        ", this connection"
                    },
                    info.from,
                    info.to
                )
            });
            return;
        }
    };
    not_followed(c, &why, reference, refused);
}

/// A redirection not followed: after a refusal (CONNACK), the server would only refuse
/// again: no more reconnecting.
fn not_followed(c: &mut Conn, why: &str, reference: Option<String>, refused: bool) {
    let reference = reference.unwrap_or_else(|| "(none)".into());
    let stop = refused && c.wanted;
    if stop {
        c.wanted = false;
    }
    let level = if stop {
        LogLevel::Error
    } else {
        LogLevel::Warn
    };
    log(c, level, |_| {
        format!(
            "not following the redirection to {reference}: {why}{}",
            if stop { "; not reconnecting" } else { "" }
        )
    });
}

/// The application's filter (none: allowed), called with no lock held; a panic in it is a
/// veto.
fn ask_filter(slot: &FilterSlot, info: &crate::runtime::servers::Redirect) -> bool {
    let Some(mut filter) = slot.0.lock().take() else {
        return true;
    };
    let allowed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| filter(info))).unwrap_or(false);
    let mut slot = slot.0.lock();
    if slot.is_none() {
        // Unless the application installed another meanwhile.
        *slot = Some(filter);
    }
    allowed
}

/// The connection ended: the decisions about what follows (a redirection, a refusal or TLS
/// failure that stops reconnecting), then the connect's waiters unless the connect goes on.
pub(super) fn on_disconnected(c: &mut Conn, cause: &DisconnectCause) {
    c.settings.shared.connected.store(false, Ordering::Release);
    redirect(c, cause);
    if let DisconnectCause::Refused(r) = cause
        && r.is_permanent()
        && c.wanted
    {
        c.wanted = false;
        log(c, LogLevel::Error, |_| {
            "the server refused the connection for good; not reconnecting".into()
        });
    }
    // With TLS 1.3 the server judges our certificate after the handshake ended
    // on our side: its refusal arrives on the open connection.
    if let DisconnectCause::Tls { kind, .. } = cause
        && kind.is_permanent()
        && c.wanted
    {
        c.wanted = false;
        log(c, LogLevel::Error, |_| {
            "TLS failed for a reason retrying cannot fix; not reconnecting".into()
        });
    }
    // After the decisions above: whether the connect goes on depends on them.
    if !goes_on(c) {
        for w in c.take_connect_waiters() {
            w.complete(Err(cause.clone().into()));
        }
    }
}
