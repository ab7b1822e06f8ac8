//! The connection's life: CONNECT, a change for the next connect, the end of a
//! connection (and the fallback to 3.1.1), DISCONNECT, close, and the timers.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Session {
    /// The transport is up: sends CONNECT.
    pub fn connection_opened(&mut self, now: Instant) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Connecting;
        self.close_requested = false;
        self.decoder.reset();
        self.decoder.set_version(self.version);
        self.fallback_pending = false;
        self.out.clear();
        self.ping_outstanding = false;
        self.reauthenticating = false;
        self.first_byte_pending = true;
        self.blocked_since = None;
        self.last_sent = now;
        self.last_received = now;
        self.connect_deadline = Some(now + self.opts.connect_timeout);
        self.sent_clean_start = self.next_clean_start.take();
        self.asked_clean_start = if let Some(clean) = self.sent_clean_start {
            clean
        } else if self.connected_once {
            self.opts.session_expiry_interval == 0
        } else {
            self.opts.clean_start
        };
        let connect = self.build_connect();
        self.send(&Packet::from(connect), now);
    }

    pub(super) fn build_connect(&mut self) -> Connect {
        self.connect_session_expiry = self.opts.session_expiry_interval;
        if self.version == ProtocolVersion::V311 {
            // No properties: `Options::check_version` refused those 3.1.1 cannot carry;
            // Clean Session is `asked_clean_start` [MQTT-3.1.2-4] [MQTT-3.1.2-6].
            let o = &self.opts;
            return Connect {
                clean_start: self.asked_clean_start,
                keep_alive: o.keep_alive,
                properties: Properties::new(),
                client_id: o.client_id.clone(),
                will: o.will.clone(),
                username: o.username.clone(),
                password: o.password.clone(),
            };
        }
        let o = &mut self.opts;
        let mut properties = Properties::new();
        if o.session_expiry_interval != 0 {
            properties.push(Property::SessionExpiryInterval(o.session_expiry_interval));
        }
        if o.receive_maximum != u16::MAX {
            properties.push(Property::ReceiveMaximum(o.receive_maximum.max(1)));
        }
        // Always sent: the memory budget bounds it even when the application set none, and a
        // server must not send a larger packet [MQTT-3.1.2-24].
        properties.push(Property::MaximumPacketSize(max_incoming_packet(o)));
        if o.topic_alias_maximum != 0 {
            properties.push(Property::TopicAliasMaximum(o.topic_alias_maximum));
        }
        if o.request_response_information {
            properties.push(Property::RequestResponseInformation(true));
        }
        if !o.request_problem_information {
            properties.push(Property::RequestProblemInformation(false));
        }
        for (k, v) in &o.user_properties {
            properties.push(Property::UserProperty(k.clone(), v.clone()));
        }
        if let Some(auth) = o.authenticator.as_mut() {
            properties.push(Property::AuthenticationMethod(ByteString::from(
                auth.method(),
            )));
            if let Some(data) = auth.initial_data() {
                properties.push(Property::AuthenticationData(data));
            }
        }
        Connect {
            clean_start: self.asked_clean_start,
            keep_alive: o.keep_alive,
            properties,
            client_id: o.client_id.clone(),
            will: o.will.clone(),
            username: o.username.clone(),
            password: o.password.clone(),
        }
    }

    /// Changes what the next CONNECT carries (the Will, the credentials, Clean Start); a
    /// connection already made keeps what its CONNECT had. An invalid Will is refused.
    pub fn change_connect(&mut self, change: ConnectChange) -> Result<(), RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        let v311 = self.opts.protocol_version.may_use_v311();
        match change {
            ConnectChange::Will(will) => {
                if let Some(w) = &will {
                    check_will(w)?;
                    if v311 {
                        check_will_v311(w)?;
                    }
                }
                self.opts.will = will;
            }
            ConnectChange::Credentials { username, password } => {
                if v311 {
                    check_credentials_v311(username.is_some(), password.is_some())?;
                }
                self.opts.username = username;
                self.opts.password = password;
            }
            ConnectChange::CleanStart(clean) => {
                if v311 && !clean && self.opts.client_id.is_empty() {
                    // [MQTT-3.1.3-7] (3.1.1) an empty Client Identifier needs Clean
                    // Session 1.
                    return Err(RequestError::NotInV311(
                        "an empty Client Identifier with Clean Session 0 [MQTT-3.1.3-7]",
                    ));
                }
                self.next_clean_start = Some(clean);
            }
        }
        Ok(())
    }

    /// The transport closed or failed. Session state is kept for the next connection.
    pub fn connection_closed(&mut self, cause: DisconnectCause) {
        if self.state == State::Connecting && self.first_byte_pending && self.may_fall_back() {
            // A server that does not speak 5.0 may close the connection on its CONNECT.
            self.fall_back();
        } else if matches!(self.state, State::Connecting | State::Connected) {
            self.end_connection(cause);
        }
        self.close_requested = false;
    }

    /// Whether a refusal of 5.0 now means trying 3.1.1: asked for, and no 5.0 connection
    /// succeeded yet (the version that worked is kept).
    pub(super) fn may_fall_back(&self) -> bool {
        self.opts.protocol_version == crate::protocol::VersionChoice::V5OrV311
            && self.version == ProtocolVersion::V5
            && !self.connected_once
    }

    /// Ends the 5.0 attempt without an event (the connect goes on in 3.1.1) and makes 3.1.1
    /// the version of every later CONNECT.
    pub(super) fn fall_back(&mut self) {
        self.version = ProtocolVersion::V311;
        self.fallback_pending = true;
        self.end_attempt();
    }

    pub(super) fn end_connection(&mut self, cause: DisconnectCause) {
        if self.state == State::Connecting
            && self.version == ProtocolVersion::V311
            && self.opts.protocol_version == crate::protocol::VersionChoice::V5OrV311
            && !self.connected_once
        {
            // The 3.1.1 attempt after a fallback failed too: the server may not have been
            // refusing 5.0 at all (one that closes every connection). 3.1.1 is kept once a
            // 3.1.1 connection succeeds; until then the next attempt is 5.0 again.
            self.version = ProtocolVersion::V5;
        }
        self.end_attempt();
        self.events.push_back(Event::Disconnected(cause));
    }

    pub(super) fn end_attempt(&mut self) {
        self.counters.connection_ended();
        if self.state == State::Connecting && self.next_clean_start.is_none() {
            // The attempt failed: the application's Clean Start is for the next one.
            self.next_clean_start = self.sent_clean_start.take();
        }
        self.state = State::Disconnected;
        self.connect_deadline = None;
        self.blocked_since = None;
        self.close_requested = true;
        // QoS 1 messages not yet acknowledged will be sent again by the server; their acks
        // must not go out on the next connection. QoS 2 state is session state and stays;
        // its PUBRECs wait for the server's resend on the next connection [MQTT-4.4.0-1].
        self.pending_acks
            .retain(|a| matches!(a.kind, AckKind::PubRec));
        for a in &mut self.pending_acks {
            a.awaiting_resend = true;
        }
        self.unacked_qos1 = 0;
        self.input_was_held = false;
    }

    /// Ends the connection because the server broke a rule: DISCONNECT with `reason_code`.
    pub(super) fn protocol_error(
        &mut self,
        reason_code: DisconnectReasonCode,
        detail: String,
        now: Instant,
    ) {
        if !matches!(self.state, State::Connecting | State::Connected) {
            return;
        }
        // 3.1.1 has no DISCONNECT from a client that found an error: it closes the
        // connection [MQTT-4.8.0-1].
        if self.version == ProtocolVersion::V5 {
            self.send(&Packet::Disconnect(Disconnect::new(reason_code)), now);
        }
        self.end_connection(DisconnectCause::ProtocolError {
            reason_code,
            detail,
        });
    }

    pub(super) fn codec_error(&mut self, e: &CodecError, now: Instant) {
        let mut detail = format!("{e} [{}]", e.spec_ref());
        if let CodecError::PacketTooLarge { .. } = e {
            // The server ignored the Maximum Packet Size our CONNECT gave [MQTT-3.1.2-24].
            detail.push_str(
                "; the CONNECT announced this maximum [MQTT-3.1.2-24]: to accept larger \
                 packets raise the memory budget (a quarter of it) or Maximum Packet Size",
            );
        }
        self.protocol_error(e.reason_code(), detail, now);
    }

    /// Sends DISCONNECT with `reason_code` and ends the connection. Session state is kept:
    /// connecting again resumes it (if the Session Expiry Interval allows).
    pub fn disconnect(
        &mut self,
        reason_code: DisconnectReasonCode,
        properties: Properties,
        now: Instant,
    ) -> Result<(), RequestError> {
        properties
            .validate(PropertyContext::Disconnect)
            .map_err(RequestError::InvalidProperties)?;
        if self.version == ProtocolVersion::V311 {
            check_disconnect_v311(reason_code, &properties)?;
        }
        // 3.14.2.2.2: no non-zero Session Expiry Interval in DISCONNECT when the CONNECT had
        // 0, whatever the CONNACK said.
        if self.connect_session_expiry == 0
            && let Some(Property::SessionExpiryInterval(v)) =
                properties.get(PropertyId::SessionExpiryInterval)
            && *v != 0
        {
            return Err(RequestError::InvalidProperties(
                CodecError::InvalidPropertyValue {
                    property: PropertyId::SessionExpiryInterval,
                    value: *v,
                },
            ));
        }
        match self.state {
            State::Closed => return Err(RequestError::Closed),
            State::Disconnected => return Err(RequestError::NotConnected),
            State::Connecting | State::Connected => {}
        }
        if let Some(Property::SessionExpiryInterval(v)) =
            properties.get(PropertyId::SessionExpiryInterval)
        {
            self.opts.session_expiry_interval = *v;
        }
        self.send(
            &Packet::Disconnect(Disconnect {
                reason_code,
                properties,
            }),
            now,
        );
        self.end_connection(DisconnectCause::Client { reason_code });
        Ok(())
    }

    /// Closes the session for good: every pending request completes with `Closed`.
    pub fn close(&mut self) {
        if self.state == State::Closed {
            return;
        }
        if matches!(self.state, State::Connecting | State::Connected) {
            self.end_connection(DisconnectCause::Client {
                reason_code: DisconnectReasonCode::NormalDisconnection,
            });
        }
        self.state = State::Closed;
        // A persistent session's messages stay in the store for the next client to send:
        // they end here with `Closed` for this one only.
        self.keep_stored();
        let mut inflight: Vec<_> = self.inflight.drain().map(|(_, o)| o).collect();
        inflight.sort_by_key(|o| o.order);
        for o in inflight {
            self.complete_publish(o.id, Err(RequestError::Closed));
        }
        while let Some(q) = self.queue.pop_front() {
            self.complete_publish(q.id, Err(RequestError::Closed));
        }
        self.queued_bytes = 0;
        self.fail_control(&RequestError::Closed);
        self.ids.clear();
    }

    pub(super) fn fail_control(&mut self, error: &RequestError) {
        let mut subs: Vec<_> = self.pending_subs.drain().map(|(_, s)| *s).collect();
        subs.sort_by_key(|s| s.id);
        for s in subs {
            if let Some(id) = s.id {
                self.events.push_back(Event::SubscribeComplete {
                    id,
                    result: Err(error.clone()),
                });
            }
        }
        let mut unsubs: Vec<_> = self.pending_unsubs.drain().map(|(_, u)| u).collect();
        unsubs.sort_by_key(|u| u.id);
        for u in unsubs {
            self.events.push_back(Event::UnsubscribeComplete {
                id: u.id,
                result: Err(error.clone()),
            });
        }
        self.control_queue.clear();
    }

    /// Keep alive and connect timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Connecting if self.connect_deadline.is_some_and(|d| now >= d) => {
                self.end_connection(DisconnectCause::ConnectTimeout);
            }
            // While we do not read, the keep alive cannot judge the server: the stall does.
            State::Connected if self.blocked_since.is_some() => {
                let due = self
                    .blocked_since
                    .is_some_and(|b| now >= b + self.stall_limit());
                if due {
                    self.write_stalled(now);
                }
            }
            // The application holds our input (`input_held`): the server's answers wait
            // unread, so it is not judged, but it still hears from us [MQTT-3.1.2-22].
            State::Connected if self.input_held() && !self.keep_alive.is_zero() => {
                let due = now >= self.last_sent + self.keep_alive;
                if due {
                    self.send(&Packet::PingReq, now);
                }
            }
            State::Connected if !self.keep_alive.is_zero() => {
                if now >= self.last_received + self.keep_alive * 3 / 2 {
                    self.end_connection(DisconnectCause::KeepAliveTimeout);
                } else if !self.ping_outstanding
                    && now >= self.last_sent.min(self.last_received) + self.keep_alive
                {
                    // [MQTT-3.1.2-20] a control packet within every keep alive period.
                    self.ping_outstanding = true;
                    self.send(&Packet::PingReq, now);
                }
            }
            _ => {}
        }
    }
}
