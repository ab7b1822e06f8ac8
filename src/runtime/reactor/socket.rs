//! A client's socket: reading (with both backpressures), writing, a lost connection.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Reactor {
    /// The socket of a connection in progress is ready: true once the transport is open
    /// (CONNECT is sent), false while it is still connecting or when it failed (the next
    /// address is tried, or the failure reported).
    pub(super) fn connect_progress(&mut self, client: usize, now: Instant) -> bool {
        let Some(c) = self.conns.get_mut(&client) else {
            return false;
        };
        let Phase::Connecting { stream, .. } = &mut c.phase else {
            return false;
        };
        match transport::connect_progress(stream) {
            Ok(true) => {
                let Phase::Connecting { stream, .. } = std::mem::replace(&mut c.phase, Phase::Idle)
                else {
                    return false;
                };
                if let Some(summary) = stream.tls_summary() {
                    log(c, LogLevel::Debug, |_| summary);
                }
                c.phase = Phase::Open { stream };
                c.phase_deadline = None;
                log(c, LogLevel::Debug, |_| {
                    "transport open, sending CONNECT".into()
                });
                c.session.connection_opened(now);
            }
            Ok(false) => return false,
            Err(e) => {
                let Phase::Connecting {
                    mut stream,
                    addrs,
                    next,
                } = std::mem::replace(&mut c.phase, Phase::Idle)
                else {
                    return false;
                };
                let _ = self.registry.deregister(&mut stream);
                // Another address of the same host shows the same certificate.
                if next < addrs.len() && HandshakeError::from_io(&e).is_none() {
                    self.try_addr(client, addrs, next, now);
                } else {
                    self.connect_failed(client, &e, now);
                }
                return false;
            }
        }
        true
    }

    /// `closed`: the poller reported the end of the stream or an error, which a read must
    /// reach.
    pub(super) fn on_io(
        &mut self,
        client: usize,
        readable: bool,
        writable: bool,
        closed: bool,
        now: Instant,
    ) {
        let Some(c) = self.conns.get_mut(&client) else {
            return;
        };
        match &mut c.phase {
            Phase::Connecting { .. } => {
                if !(writable || readable) || !self.connect_progress(client, now) {
                    return;
                }
            }
            Phase::Open { stream } => {
                // What waited while the application held the input, first; reading on
                // only while the connection stands.
                c.session.resume_input(now);
                let standing = matches!(c.session.state(), State::Connecting | State::Connected);
                if readable && standing {
                    let mut reads = 0;
                    loop {
                        if reads == READS_PER_ROUND {
                            if !self.read_on.contains(&client) {
                                self.read_on.push(client);
                            }
                            break;
                        }
                        // Backpressure both ways: the server's and the application's.
                        let backlog = c.wbuf.len() - c.woff;
                        if pause_for_backlog(&mut c.read_paused, &mut c.session, backlog, now) {
                            break;
                        }
                        // The session decodes nothing until the application acknowledges
                        // (a server past our Receive Maximum): TCP holds the rest.
                        if c.session.input_held() {
                            break;
                        }
                        let events = c.session.pending_events();
                        match may_read(&mut c.force_read, &c.mailbox, c.undelivered, events) {
                            Room::Yes => {}
                            Room::Full => break,
                            Room::Later => {
                                if !self.read_on.contains(&client) {
                                    self.read_on.push(client);
                                }
                                break;
                            }
                        }
                        reads += 1;
                        match stream.read(&mut self.read_buf) {
                            Ok(0) => {
                                let cause = DisconnectCause::Transport {
                                    detail: "connection closed by the server".into(),
                                    errno: None,
                                };
                                self.lost(client, cause, now);
                                return;
                            }
                            Ok(n) => {
                                c.undelivered += n;
                                c.settings.shared.io.read(n);
                                c.session.handle_read(&self.read_buf[..n], now);
                                // Answers still awaited after what was read: the server
                                // may hold them until this read is acknowledged. Not
                                // otherwise: a socket once switched to quick
                                // acknowledgements keeps sending more of them, which the
                                // server pays for (a QoS 0 subscriber switched by its
                                // SUBACK received a third fewer messages a second).
                                if c.session.awaits_server() {
                                    stream.quick_ack();
                                }
                                c.settings
                                    .shared
                                    .memory
                                    .read_buffer(c.session.read_buffer_capacity());
                                if c.session.state() != State::Connecting
                                    && c.session.state() != State::Connected
                                {
                                    break;
                                }
                                // A short read emptied the socket: data arriving later
                                // raises a new edge, so the read that would only say
                                // WouldBlock is saved. An end of stream or error already
                                // reported raises none and is read to its end.
                                if n < self.read_buf.len() && !closed {
                                    break;
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                self.lost(client, transport_cause(&e), now);
                                return;
                            }
                        }
                    }
                }
            }
            _ => return,
        }
        self.mark(client);
    }

    /// The transport failed under an open connection.
    pub(super) fn lost(&mut self, client: usize, cause: DisconnectCause, now: Instant) {
        self.drop_transport(client);
        if let Some(c) = self.conns.get_mut(&client) {
            c.session.connection_closed(cause);
            c.settings
                .shared
                .io
                .store_session(c.session.stats(now), now);
        }
        self.after_close(client, now);
        // Whether or not a reconnection follows, the events of the loss are delivered by
        // the client's next `process`.
        self.mark(client);
    }

    /// Writes what is buffered; returns an error when the connection broke.
    pub(super) fn flush(c: &mut Conn, registry: &mio::Registry, client: usize) -> io::Result<()> {
        let Phase::Open { stream } = &mut c.phase else {
            return Ok(());
        };
        while c.woff < c.wbuf.len() {
            match stream.write(&c.wbuf[c.woff..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    c.woff += n;
                    c.settings.shared.io.wrote(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // TLS records and WebSocket frames the stream still holds.
        match stream.flush() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        if c.woff == c.wbuf.len() {
            c.wbuf.clear();
            c.woff = 0;
            // A burst may have grown the buffer; give the memory back once it drained.
            if c.wbuf.capacity() > WBUF_KEEP {
                c.wbuf.shrink_to(WBUF_KEEP);
            }
        } else if c.woff >= WBUF_KEEP && c.woff * 2 >= c.wbuf.len() {
            // The socket took part: drop what was written, so that a connection that never
            // drains completely does not keep every byte it ever sent. Only once the written
            // part is large and at least half, so the move is amortised.
            c.wbuf.drain(..c.woff);
            c.woff = 0;
        }
        c.settings
            .shared
            .memory
            .write_backlog(c.wbuf.len() - c.woff + c.session.transmit_len());
        let want_writable = !c.wbuf.is_empty() || stream.wants_write();
        if want_writable != c.writable_interest {
            let interest = if want_writable {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(stream, Token(client), interest)?;
            c.writable_interest = want_writable;
        }
        Ok(())
    }
}
