//! `midge sub`.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use midge::Client;
use midge::codec::topic::topic_matches;
use midge::codec::{ByteString, Bytes, Properties, QoS, Subscription, SubscriptionOptions};
use midge::protocol::Message;
use midge::runtime::ClientEvent;

use crate::args::Args;
use crate::connect::{self, ACK_TIMEOUT};
use crate::fail::{Failure, Status};
use crate::output::{self, Style};

pub fn style(a: &Args) -> Style {
    if a.json {
        Style::Json
    } else if let Some(f) = &a.format {
        Style::Format(f.clone())
    } else if a.verbose {
        Style::Verbose
    } else {
        Style::Payload
    }
}

/// Subscribes to every `filters` at the options' QoS; refused filters are reported, and
/// all of them refused is a failure.
pub fn subscribe(client: &Client, a: &Args, filters: &[String]) -> Result<(), Failure> {
    let subs = filters
        .iter()
        .map(|f| Subscription {
            filter: ByteString::from(f.clone()),
            options: SubscriptionOptions {
                qos: a.qos,
                retain_as_published: a.retain_as_published,
                ..SubscriptionOptions::default()
            },
        })
        .collect();
    let ack = client
        .subscribe(subs, a.props.subscribe.clone())
        .and_then(|c| c.wait(ACK_TIMEOUT))
        .map_err(|e| Failure::request("subscribe", &e))?;
    let mut refused = Vec::new();
    for (filter, code) in filters.iter().zip(&ack.reason_codes) {
        if !code.is_success() {
            refused.push(format!("{filter}: {code}"));
        }
    }
    if !refused.is_empty() {
        let text = format!("subscription refused: {}", refused.join(", "));
        if refused.len() == filters.len() {
            return Err(Failure::new(Status::RequestRefused, text));
        }
        if !a.quiet {
            eprintln!("midge: {text}");
        }
    }
    Ok(())
}

/// How often the receive loop looks at [`interrupted`] while no event comes.
const STOP_CHECK: Duration = Duration::from_millis(100);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Catches SIGINT and SIGTERM, so that the loop can disconnect cleanly.
fn catch_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the
        // function pointer has the type signal(2) expects.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

pub fn run(a: &Args) -> Result<(), Failure> {
    catch_signals();
    let client = connect::connect(a)?;
    let result = receive(&client, a);
    match &result {
        Ok(())
        | Err(Failure {
            status: Status::Timeout,
            ..
        }) => connect::disconnect(&client, a),
        Err(_) => {
            client.close();
        }
    }
    result
}

fn receive(client: &Client, a: &Args) -> Result<(), Failure> {
    subscribe(client, a, &a.topics)?;
    if !a.unsubscribe.is_empty() {
        let filters = a
            .unsubscribe
            .iter()
            .map(|f| ByteString::from(f.clone()))
            .collect();
        client
            .unsubscribe(filters, a.props.unsubscribe.clone())
            .and_then(|c| c.wait(ACK_TIMEOUT))
            .map_err(|e| Failure::request("unsubscribe", &e))?;
    }
    if a.exit_after_subscribe {
        return Ok(());
    }
    let style = style(a);
    let deadline = a.timeout.map(|s| Instant::now() + Duration::from_secs(s));
    let mut printed = 0u64;
    let mut last_cause = None;
    let stdout = std::io::stdout();
    let mut buf = Vec::new();
    loop {
        let wait = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Failure::new(
                        Status::Timeout,
                        format!(
                            "-W {}: timed out after {printed} message(s)",
                            a.timeout.unwrap_or(0)
                        ),
                    ));
                }
                left
            }
            None => STOP_CHECK,
        };
        if interrupted() {
            // Ctrl-C or SIGTERM: leave with a clean DISCONNECT (no Will), as mosquitto_sub.
            return Ok(());
        }
        let Some(event) = client.next_event(wait.min(STOP_CHECK)) else {
            continue;
        };
        match event {
            ClientEvent::Message(m) => {
                if a.filter_out.iter().any(|f| topic_matches(f, &m.topic)) {
                    continue;
                }
                if a.remove_retained && m.retain {
                    remove_retained(client, &m)?;
                }
                if a.retained_only && !m.retain {
                    return Ok(());
                }
                if a.no_retained && m.retain {
                    continue;
                }
                buf.clear();
                output::render(&style, &m, a.no_eol, &mut buf);
                let mut out = stdout.lock();
                // A closed stdout (`| head -1`) ends the command quietly.
                if out.write_all(&buf).and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
                printed += 1;
                if a.count.is_some_and(|c| printed >= c) {
                    return Ok(());
                }
            }
            // midge reconnects and resubscribes; say so, as mosquitto_sub does not.
            ClientEvent::ConnectionLost(cause) => {
                if !a.quiet {
                    eprintln!("midge: connection lost: {cause}; reconnecting");
                }
                last_cause = Some(cause);
            }
            ClientEvent::Connected(_) if last_cause.is_some() && !a.quiet => {
                eprintln!("midge: reconnected");
            }
            ClientEvent::Closed => {
                return Err(match last_cause {
                    Some(cause) => connect::lost(&cause),
                    None => Failure::new(Status::ConnectionLost, "the client closed"),
                });
            }
            ClientEvent::MessagesDropped { count } if !a.quiet => {
                eprintln!("midge: {count} QoS 0 message(s) dropped: output too slow");
            }
            e @ ClientEvent::Log { .. } => connect::log(&e),
            _ => {}
        }
    }
}

/// `--remove-retained`: an empty retained message clears the topic's retained message.
fn remove_retained(client: &Client, m: &Message) -> Result<(), Failure> {
    client
        .publish(
            &m.topic,
            Bytes::new(),
            QoS::AtMostOnce,
            true,
            Properties::new(),
        )
        .map(drop)
        .map_err(|e| Failure::request(&format!("--remove-retained {}", m.topic), &e))
}
