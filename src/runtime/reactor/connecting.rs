//! Opening a connection: resolution, TCP (and TLS, WebSocket) connect, the next address
//! or server, failures and the reconnect backoff.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Reactor {
    pub(super) fn start_connect(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        c.phase_deadline = Some(now + c.settings.connect_timeout);
        c.attempt_up = false;
        // A redirection's "at once" is for the attempt that follows it, this one.
        c.redirect_now = false;
        log(c, LogLevel::Debug, |c| {
            format!("connecting to {}", c.servers.address())
        });
        match c.servers.address().clone() {
            Address::Unix(path) => match transport::connect_unix(&path) {
                Ok(stream) => self.begin_stream(client, stream, Vec::new(), 0, now),
                Err(e) => self.connect_failed(client, &e, now),
            },
            address => {
                let Some((host, port)) = address.endpoint() else {
                    return;
                };
                let host = host.to_owned();
                c.phase = Phase::Resolving;
                c.resolve_generation += 1;
                let generation = c.resolve_generation;
                let me = self.me.clone();
                self.resolver.resolve(
                    host,
                    port,
                    Box::new(move |result| {
                        if let Some(handle) = me.upgrade() {
                            handle.send(Command::Resolved {
                                client,
                                generation,
                                result,
                            });
                        }
                    }),
                );
            }
        }
        self.mark(client);
    }

    pub(super) fn on_resolved(
        &mut self,
        client: usize,
        generation: u64,
        result: io::Result<Vec<SocketAddr>>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        if c.resolve_generation != generation || !matches!(c.phase, Phase::Resolving) {
            return;
        }
        match result {
            Ok(addrs) if !addrs.is_empty() => self.try_addr(client, addrs, 0, now),
            Ok(_) => self.connect_failed(
                client,
                &io::Error::new(io::ErrorKind::NotFound, "no address for host"),
                now,
            ),
            Err(e) => self.connect_failed(client, &e, now),
        }
    }

    /// Starts a non-blocking connect to `addrs[next]`, falling through the list on failure.
    pub(super) fn try_addr(
        &mut self,
        client: usize,
        addrs: Vec<SocketAddr>,
        next: usize,
        now: Instant,
    ) {
        let Some(c) = self.conns.get(&client) else {
            return;
        };
        let mut last_err = io::Error::new(io::ErrorKind::NotFound, "no address for host");
        for i in next..addrs.len() {
            let started = transport::connect_start(&addrs[i], &c.settings.tcp)
                .and_then(|stream| c.servers.layers().wrap(stream));
            match started {
                Ok(stream) => return self.begin_stream(client, stream, addrs, i + 1, now),
                Err(e) => last_err = e,
            }
        }
        self.connect_failed(client, &last_err, now);
    }

    pub(super) fn begin_stream(
        &mut self,
        client: usize,
        mut stream: Stream,
        addrs: Vec<SocketAddr>,
        next: usize,
        now: Instant,
    ) {
        if let Err(e) = self.registry.register(
            &mut stream,
            Token(client),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            return self.connect_failed(client, &e, now);
        }
        if let Some(c) = self.conns.get_mut(&client) {
            log(c, LogLevel::Debug, |_| stream.describe());
            c.phase = Phase::Connecting {
                stream,
                addrs,
                next,
            };
            c.writable_interest = true;
        }
        self.mark(client);
    }

    /// Resolution or TCP connect failed: report, then back off.
    pub(super) fn connect_failed(&mut self, client: usize, e: &io::Error, now: Instant) {
        self.drop_transport(client);
        let cause = transport_cause(e);
        if let Some(c) = self.conns.get_mut(&client) {
            log(c, LogLevel::Warn, |c| {
                format!("connect to {} failed: {e}", c.servers.address())
            });
            if let DisconnectCause::Tls { kind, .. } = &cause
                && kind.is_permanent()
                && c.wanted
            {
                // A certificate another attempt cannot fix: no reconnect storm.
                c.wanted = false;
                log(c, LogLevel::Error, |_| {
                    "the TLS handshake failed for a reason retrying cannot fix; not reconnecting"
                        .into()
                });
            }
            if !goes_on(c) {
                for w in c.take_connect_waiters() {
                    w.complete(Err(cause.clone().into()));
                }
            }
            c.out_events.push(ClientEvent::ConnectionLost(cause));
        }
        self.schedule_reconnect(client, now);
        // With or without a reconnection, the failure is delivered by the next `process`.
        self.mark(client);
    }

    pub(super) fn schedule_reconnect(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        c.phase = Phase::Idle;
        c.phase_deadline = None;
        if c.session.poll_fallback() && c.wanted && c.close_waiter.is_none() {
            // The server refused MQTT 5.0: the same connect goes on in 3.1.1, at once.
            log(c, LogLevel::Info, |c| {
                format!(
                    "{} refused MQTT 5.0; connecting with MQTT 3.1.1",
                    c.servers.address()
                )
            });
            c.phase = Phase::Backoff;
            c.phase_deadline = Some(now);
            self.mark(client);
            return;
        }
        if c.wanted && c.close_waiter.is_none() {
            // A followed redirection, or the next server of the pass: at once.
            let at_once = if std::mem::take(&mut c.redirect_now) {
                true
            } else if c.attempt_up {
                c.servers.lost();
                false
            } else {
                c.servers.failed() == Next::Now
            };
            if at_once {
                log(c, LogLevel::Info, |c| {
                    format!("connecting to {}", c.servers.address())
                });
                c.phase = Phase::Backoff;
                c.phase_deadline = Some(now);
                self.mark(client);
                return;
            }
        }
        if !c.wanted || !c.settings.reconnect.enabled || c.close_waiter.is_some() {
            return;
        }
        let (attempt, delay) = c.backoff.next(&c.settings.reconnect, now, &mut self.jitter);
        c.phase = Phase::Backoff;
        c.phase_deadline = Some(now + delay);
        log(c, LogLevel::Info, |_| {
            format!("reconnecting in {delay:?} (attempt {attempt})")
        });
        c.out_events
            .push(ClientEvent::Reconnecting { attempt, delay });
        self.mark(client);
    }

    pub(super) fn drop_transport(&mut self, client: usize) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        let phase = std::mem::replace(&mut c.phase, Phase::Idle);
        if let Phase::Connecting { mut stream, .. } | Phase::Open { mut stream } = phase {
            let _ = self.registry.deregister(&mut stream);
            stream.shutdown();
        }
        c.wbuf.clear();
        c.woff = 0;
        c.writable_interest = false;
        c.read_paused = false;
    }
}
