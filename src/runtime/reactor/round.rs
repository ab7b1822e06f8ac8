//! The timers and one round of the I/O thread: the session's output, events and
//! closing.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Reactor {
    pub(super) fn on_timer(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        if c.phase_deadline.is_some_and(|d| d <= now) {
            c.phase_deadline = None;
            match c.phase {
                Phase::Backoff => return self.start_connect(client, now),
                Phase::Resolving | Phase::Connecting { .. } => {
                    let e = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                    return self.connect_failed(client, &e, now);
                }
                _ => {}
            }
        }
        if matches!(c.phase, Phase::Open { .. }) && c.mailbox.is_paused() {
            // Backpressure must not cost the connection: the keep-alive deadline needs the
            // server's packets (a PINGRESP among them) seen, so a paused client reads once
            // here, one chunk past its bound per keep-alive period.
            c.force_read = true;
            self.on_io(client, true, false, false, now);
        }
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        c.session.handle_timeout(now);
        self.mark(client);
    }

    pub(super) fn update_timer(&mut self, client: usize) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        let session = if matches!(c.phase, Phase::Open { .. }) {
            c.session.poll_timeout()
        } else {
            None
        };
        let deadline = match (session, c.phase_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if deadline != c.timer {
            if let Some(old) = c.timer.take() {
                self.timers.remove(&(old, client));
            }
            if let Some(new) = deadline {
                self.timers.insert((new, client));
            }
            c.timer = deadline;
        }
    }

    // ------------------------------------------------------------------ the round

    /// After anything happened to a client: move the session's output to the socket, its
    /// events to completions and the mailbox, and close when it asks.
    pub(super) fn process(&mut self, client: usize, now: Instant) {
        loop {
            let Some(c) = self.conns.get_mut(&client) else {
                return;
            };
            let open = matches!(c.phase, Phase::Open { .. });
            // The store first: what the bytes below depend on is in it before they leave.
            if let Err(e) = Self::write_store(c) {
                self.store_failed(client, &e, now);
                continue;
            }
            if !open {
                // Nothing can be written without a connection; the session re-sends what
                // matters when the next one opens.
                let mut discard = Vec::new();
                c.session.take_transmit(&mut discard);
            } else if c.wbuf.len() - c.woff < TRANSMIT_HIGH_WATER {
                // Only while the socket keeps up: otherwise the session keeps (and stops
                // encoding at) its own high-water mark, and the publishes behind wait
                // unencoded rather than as a second copy of every payload here.
                c.session.take_transmit(&mut c.wbuf);
            }
            let mut acks = Vec::new();
            while let Some(event) = c.session.poll_event() {
                Self::on_session_event(c, event, &mut acks, now);
            }
            for t in acks {
                c.session.acknowledge(t, now);
            }
            if c.session.input_resumable() && open {
                // Acknowledgements freed the input the application held: the I/O thread
                // decodes what waited and reads on (not here: this may be a caller's
                // thread, and what the server sent may reach the redirect callback).
                if !self.read_on.contains(&client) {
                    self.read_on.push(client);
                }
            }
            // While traffic is dense (the I/O thread pauses, or callers' commands come close
            // together), a caller leaves its packets for the round that follows, unless
            // they add up to a large write anyway.
            let hold = (self.lingering || self.batching.callers_dense())
                && !on_io_thread()
                && !c.settings.linger.is_zero()
                && c.wbuf.len() - c.woff < LINGER_LIMIT;
            if hold {
                if !self.held.contains(&client) {
                    self.held.push(client);
                }
            } else if let Err(e) = Self::flush(c, &self.registry, client) {
                self.lost(client, transport_cause(&e), now);
                continue;
            }
            if c.read_paused && open && !backlog_full(c.wbuf.len() - c.woff, &c.session) {
                // The server took our bytes: read on (the poller will not report the data
                // already waiting again).
                c.read_paused = false;
                c.session.set_output_blocked(false, now);
                if !self.read_on.contains(&client) {
                    self.read_on.push(client);
                }
            }
            if c.session.poll_close() {
                // The session ended the connection (DISCONNECT sent, or a protocol error):
                // one last write attempt, then close.
                if open && Self::write_store(c).is_ok() {
                    c.session.take_transmit(&mut c.wbuf);
                }
                let _ = Self::flush(c, &self.registry, client);
                self.drop_transport(client);
                self.after_close(client, now);
                continue;
            }
            if !open {
                if c.session.has_transmit() {
                    continue;
                }
                break;
            }
            if c.wbuf.len() - c.woff >= TRANSMIT_HIGH_WATER {
                // The socket is full: writable readiness brings us back.
                break;
            }
            if c.session.has_transmit() {
                continue;
            }
            // Room to write: publishes waiting for it are encoded now.
            c.session.transmit_drained(now);
            if c.session.has_transmit() {
                continue;
            }
            break;
        }
        self.finish_close(client);
        self.update_timer(client);
        if let Some(c) = self.conns.get_mut(&client) {
            c.undelivered = 0;
            let stats = c.session.stats(now);
            let packets = stats.packets_sent + stats.packets_received;
            self.batching
                .moved(packets.saturating_sub(c.packets_seen), c.settings.linger);
            if let Some(window) = c.session.full_window() {
                self.batching.window_full(window);
            }
            c.packets_seen = packets;
            c.settings.shared.io.store_session(stats, now);
            Self::deliver(&mut self.deferred, &c.mailbox, &mut c.out_events);
        }
    }

    /// Ends a request's completion and reports it as an event carrying the completion's id
    /// when completion events are on, and in any case for a failure nobody will read from
    /// the completion (the application let go of it): no failure goes unreported.
    pub(super) fn finish<T: Clone>(
        c: &mut Conn,
        done: Option<Completion<T>>,
        result: &Result<T, RequestError>,
        event: fn(u64, Result<T, RequestError>) -> ClientEvent,
    ) {
        let Some(done) = done else {
            return;
        };
        let unread = done.complete_unread(result.clone().map_err(Into::into));
        if c.settings.shared.completion_events.load(Ordering::Relaxed) || unread && result.is_err()
        {
            c.out_events.push(event(done.id(), result.clone()));
        }
    }

    pub(super) fn on_session_event(
        c: &mut Conn,
        event: Event,
        pending_acks: &mut Vec<AckToken>,
        now: Instant,
    ) {
        let mut event = event;
        if let Event::Connected(info) = &mut event {
            c.servers.connected();
            info.server = Some(c.servers.address().to_string());
            c.settings.shared.server.lock().clone_from(&info.server);
        }
        let forward = match &event {
            Event::Connected(info) => {
                // Not a reset of the backoff: only a connection that stays up is one.
                c.backoff.connected(now);
                c.attempt_up = true;
                c.settings
                    .shared
                    .protocol_level
                    .store(info.protocol_version.level(), Ordering::Relaxed);
                c.settings.shared.connected.store(true, Ordering::Release);
                for w in c.take_connect_waiters() {
                    w.complete(Ok((**info).clone()));
                }
                true
            }
            Event::Disconnected(cause) => {
                on_disconnected(c, cause);
                true
            }
            // Completion events carry the id of the application's completion handle.
            Event::PublishComplete { id, result } => {
                if let Some(r) = c.take_waiting(|w| w.restored.remove(id)) {
                    // Made before a restart: always reported, success or not.
                    c.out_events
                        .push(ClientEvent::restored_publish_complete(r, result.clone()));
                    return;
                }
                let done = c.publishes.remove(id);
                c.publishes.release_if_empty();
                Self::finish(c, done, result, |id, result| ClientEvent::PublishComplete {
                    id,
                    result,
                });
                false
            }
            Event::SubscribeComplete { id, result } => {
                let done = c.take_waiting(|w| {
                    let done = w.subscribes.remove(id);
                    w.subscribes.release_if_empty();
                    done
                });
                Self::finish(c, done, result, |id, result| {
                    ClientEvent::SubscribeComplete { id, result }
                });
                false
            }
            Event::UnsubscribeComplete { id, result } => {
                let done = c.take_waiting(|w| {
                    let done = w.unsubscribes.remove(id);
                    w.unsubscribes.release_if_empty();
                    done
                });
                Self::finish(c, done, result, |id, result| {
                    ClientEvent::UnsubscribeComplete { id, result }
                });
                false
            }
            Event::Message(m) => {
                // A reply to a pending request goes to its requester, not to the event
                // stream. It still needs its acknowledgement.
                let reply = if c.waiting.as_ref().is_some_and(|w| !w.replies.is_empty()) {
                    m.properties
                        .get_binary(PropertyId::CorrelationData)
                        .and_then(|d| c.take_waiting(|w| w.replies.remove(d)))
                } else {
                    None
                };
                if let Some(reply) = reply {
                    if let Some(t) = m.ack {
                        pending_acks.push(t);
                    }
                    reply.complete(Ok(m.clone()));
                    false
                } else {
                    true
                }
            }
            Event::SessionLost { .. } | Event::Reauthenticated => true,
        };
        if forward {
            if let Event::Disconnected(cause) = &event {
                let level = if matches!(cause, DisconnectCause::Client { .. }) {
                    LogLevel::Info
                } else {
                    LogLevel::Warn
                };
                // The text, not the Debug form: a server's Reason String is bounded there.
                log(c, level, |_| format!("connection ended: {cause}"));
            }
            if let Event::Connected(info) = &event {
                log(c, LogLevel::Info, |_| {
                    format!(
                        "connected (session present: {}, keep alive {} s)",
                        info.session_present, info.keep_alive
                    )
                });
            }
            c.out_events.extend(ClientEvent::from_session(event));
        }
    }

    /// The connection is gone (by the session's choice or the transport's): complete
    /// disconnect waiters and decide about reconnecting.
    pub(super) fn after_close(&mut self, client: usize, now: Instant) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        for w in c.take_disconnect_waiters() {
            w.complete(Ok(()));
        }
        // The events the close produced (a permanent refusal stops reconnecting) come before
        // the decision. Acknowledgements are moot without a connection.
        while let Some(event) = c.session.poll_event() {
            Self::on_session_event(c, event, &mut Vec::new(), now);
        }
        self.schedule_reconnect(client, now);
    }

    /// Completes a requested close once the connection is down.
    pub(super) fn finish_close(&mut self, client: usize) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        if c.close_waiter.is_none()
            || matches!(c.phase, Phase::Open { .. }) && c.session.state() == State::Connected
        {
            return;
        }
        self.drop_transport(client);
        let Some(mut c) = self.conns.remove(&client) else {
            return;
        };
        if c.settings.busy_poll == self.busy_poll {
            self.busy_poll = self
                .conns
                .values()
                .map(|c| c.settings.busy_poll)
                .max()
                .unwrap_or_default();
        }
        if let Some(t) = c.timer.take() {
            self.timers.remove(&(t, client));
        }
        // Waiters learn that the client closed, not the disconnect the close causes.
        for w in c.take_connect_waiters() {
            w.complete(Err(Error::Closed));
        }
        c.session.close();
        while let Some(event) = c.session.poll_event() {
            Self::on_session_event(&mut c, event, &mut Vec::new(), Instant::now());
        }
        for w in c.take_disconnect_waiters() {
            w.complete(Ok(()));
        }
        for (_, done) in c.publishes.drain() {
            done.complete(Err(Error::Closed));
        }
        if let Some(w) = c.waiting.take() {
            for (_, done) in w.subscribes {
                done.complete(Err(Error::Closed));
            }
            for (_, done) in w.unsubscribes {
                done.complete(Err(Error::Closed));
            }
            for (_, reply) in w.replies {
                reply.complete(Err(Error::Closed));
            }
        }
        c.out_events.push(ClientEvent::Closed);
        Self::deliver(&mut self.deferred, &c.mailbox, &mut c.out_events);
        // The connection's state goes before the close is reported: a store it holds is
        // released (its file lock with it) by the time the closer can open it again.
        let waiter = c.close_waiter.take();
        drop(c);
        if let Some(w) = waiter {
            w.complete(Ok(()));
        }
    }
}
