//! What the application's threads ask of the I/O thread: registering a client,
//! connect, publish, subscribe, disconnect, close.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Reactor {
    pub(super) fn on_command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Register {
                client,
                session,
                servers,
                settings,
                mailbox,
                restored,
            } => {
                self.busy_poll = self.busy_poll.max(settings.busy_poll);
                let mut conn = Conn::new(*session, servers, settings, mailbox);
                if !restored.is_empty() {
                    conn.waiting().restored = restored.into_iter().map(|r| (r.id, r)).collect();
                }
                self.conns.insert(client, Box::new(conn));
                // Restored publishes that ended at once (expired) are reported now.
                self.mark(client);
            }
            Command::Connect { client, waiter } => self.connect(client, waiter, now),
            Command::Publish {
                client,
                request,
                completion,
                persisted,
            } => self.request(
                client,
                completion,
                |s| match persisted {
                    Some(p) => s.publish_persisted(request, p, now),
                    None => s.publish_checked(request, now),
                },
                |c| &mut c.publishes,
                |id, result| ClientEvent::PublishComplete { id, result },
            ),
            Command::Subscribe {
                client,
                subscriptions,
                properties,
                completion,
            } => self.request(
                client,
                completion,
                |s| s.subscribe(subscriptions, properties, now),
                |c| &mut c.waiting().subscribes,
                |id, result| ClientEvent::SubscribeComplete { id, result },
            ),
            Command::Unsubscribe {
                client,
                filters,
                properties,
                completion,
            } => self.request(
                client,
                completion,
                |s| s.unsubscribe(filters, properties, now),
                |c| &mut c.waiting().unsubscribes,
                |id, result| ClientEvent::UnsubscribeComplete { id, result },
            ),
            Command::Disconnect {
                client,
                reason_code,
                properties,
                completion,
            } => self.disconnect(client, reason_code, properties, completion, now),
            Command::Reauthenticate { client, completion } => {
                self.reauthenticate(client, &completion, now);
            }
            Command::ChangeConnect(id, change, done) => self.change_connect(id, change, &done),
            Command::Ack {
                client,
                tokens,
                stored,
            } => self.ack(client, tokens, stored, now),
            Command::Request {
                client,
                request,
                correlation,
                reply,
            } => self.start_request(client, request, correlation, reply, now),
            Command::RunInline { mailbox } => mailbox.run_queued(),
            // Read on to the end of what waits: the edges that came while reading was
            // paused were spent.
            Command::Resume { client } => self.on_io(client, true, false, true, now),
            Command::ForgetRequest {
                client,
                correlation,
            } => {
                if let Some(c) = self.conns.get_mut(&client) {
                    c.take_waiting(|w| w.replies.remove(&correlation));
                }
            }
            Command::Close { client, completion } => self.close(client, completion, now),
            Command::Shutdown => self.stopping = true,
            Command::Resolved {
                client,
                generation,
                result,
            } => self.on_resolved(client, generation, result, now),
        }
    }

    /// The application's acknowledgements; with `stored`, written to the store before it
    /// ends (`Client::ack` of a persistent client).
    pub(super) fn ack(
        &mut self,
        client: usize,
        tokens: Vec<AckToken>,
        stored: Option<Completion<()>>,
        now: Instant,
    ) {
        if let Some(c) = self.conns.get_mut(&client) {
            for t in tokens {
                c.session.acknowledge(t, now);
            }
            // Before the caller hears back: in the store (the acknowledgement's bytes
            // wait for the round, which writes the store first anyway).
            let written = if stored.is_some() {
                Self::write_store(c)
            } else {
                Ok(())
            };
            if let Err(e) = written {
                let e = Arc::new(e);
                self.store_failed(client, &e, now);
                if let Some(stored) = stored {
                    stored.complete(Err(Error::Store(e)));
                }
                return;
            }
            if let Some(stored) = stored {
                stored.complete(Ok(()));
            }
            self.mark(client);
        } else if let Some(stored) = stored {
            stored.complete(Err(Error::Closed));
        }
    }

    pub(super) fn connect(
        &mut self,
        client: usize,
        waiter: Option<Completion<ConnAckInfo>>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            if let Some(w) = waiter {
                w.complete(Err(Error::Closed));
            }
            return;
        };
        if let Some(w) = waiter {
            if c.session.state() == State::Connected {
                w.complete(Err(Error::InvalidArgument("already connected".into())));
            } else {
                c.waiting().connect_waiters.push(w);
            }
        }
        c.wanted = true;
        if matches!(c.phase, Phase::Idle | Phase::Backoff) {
            c.backoff.reset();
            c.servers.restart();
            self.start_connect(client, now);
        }
    }

    pub(super) fn reauthenticate(
        &mut self,
        client: usize,
        completion: &Completion<()>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Err(Error::Closed));
        };
        if let Err(e) = c.session.reauthenticate(now) {
            if completion.complete_unread(Err(e.clone().into())) {
                // Nobody holds the completion: the refusal is an event, whatever the log level.
                c.out_events.push(ClientEvent::ReauthenticateFailed {
                    id: completion.id(),
                    error: e,
                });
            }
        } else {
            completion.complete(Ok(()));
        }
        self.mark(client);
    }

    pub(super) fn change_connect(
        &mut self,
        client: usize,
        change: ConnectChange,
        done: &Completion<()>,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return done.complete(Err(Error::Closed));
        };
        done.complete(c.session.change_connect(change).map_err(Into::into));
    }

    /// Request/response: publishes and keeps the reply's completion by Correlation Data.
    pub(super) fn start_request(
        &mut self,
        client: usize,
        request: PublishRequest,
        correlation: Bytes,
        reply: Completion<Message>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return reply.complete(Err(Error::Closed));
        };
        match c.session.publish_checked(request, now) {
            Ok(_) => {
                c.waiting().replies.insert(correlation, reply);
            }
            Err(e) => reply.complete(Err(e.into())),
        }
        self.mark(client);
    }

    /// Hands a request to the session and keeps its completion until the session reports;
    /// a refusal ends it at once (reported like any outcome, see [`Self::finish`]).
    pub(super) fn request<T: Clone>(
        &mut self,
        client: usize,
        completion: Completion<T>,
        start: impl FnOnce(&mut Session) -> Result<RequestId, RequestError>,
        pending: fn(&mut Conn) -> &mut IdMap<RequestId, Completion<T>>,
        event: fn(u64, Result<T, RequestError>) -> ClientEvent,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Err(Error::Closed));
        };
        match start(&mut c.session) {
            Ok(id) => {
                pending(c).insert(id, completion);
            }
            Err(e) => {
                log(c, LogLevel::Warn, |_| format!("request refused: {e}"));
                Self::finish(c, Some(completion), &Err(e), event);
            }
        }
        self.mark(client);
    }

    pub(super) fn disconnect(
        &mut self,
        client: usize,
        reason_code: DisconnectReasonCode,
        properties: Properties,
        completion: Completion<()>,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Err(Error::Closed));
        };
        if let Phase::Open { .. } = c.phase {
            match c.session.disconnect(reason_code, properties, now) {
                Ok(()) => {
                    c.wanted = false;
                    c.waiting().disconnect_waiters.push(completion);
                }
                // Refused (and nothing sent): the connection, and reconnecting, go on.
                Err(e) => {
                    if completion.complete_unread(Err(e.clone().into())) {
                        // Nobody holds the completion: the refusal is an event, whatever
                        // the log level.
                        c.out_events.push(ClientEvent::DisconnectFailed {
                            id: completion.id(),
                            error: e,
                        });
                    }
                }
            }
        } else {
            c.wanted = false;
            // Not connected: stop trying and report done.
            self.drop_transport(client);
            if let Some(c) = self.conns.get_mut(&client) {
                c.phase = Phase::Idle;
                c.phase_deadline = None;
                for w in c.take_connect_waiters() {
                    w.complete(Err(Error::Request(RequestError::NotConnected)));
                }
            }
            completion.complete(Ok(()));
        }
        self.mark(client);
    }

    pub(super) fn close(&mut self, client: usize, completion: Completion<()>, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return completion.complete(Ok(()));
        };
        c.wanted = false;
        if matches!(c.phase, Phase::Open { .. }) && c.session.state() == State::Connected {
            let _ = c.session.disconnect(
                DisconnectReasonCode::NormalDisconnection,
                Properties::new(),
                now,
            );
        }
        c.close_waiter = Some(completion);
        self.mark(client);
    }
}
