//! What comes from the server: reading, the CONNACK (resuming or discarding the
//! session), DISCONNECT and AUTH.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Session {
    /// The decoder's buffer, to read into directly; call [`Session::process_read`] after.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        self.decoder.buffer_mut()
    }

    /// Handles received bytes.
    pub fn handle_read(&mut self, data: &[u8], now: Instant) {
        self.decoder.feed(data);
        self.process_read(now);
    }

    /// After acknowledgements: decodes what waited while the application held the input
    /// ([`Session::input_held`]), if it no longer does. The time it was held says nothing
    /// of the server, so the keep alive counts from now.
    pub fn resume_input(&mut self, now: Instant) {
        if self.input_resumable() {
            self.input_was_held = false;
            self.last_received = self.last_received.max(now);
            self.process_read(now);
        }
    }

    /// Whether [`Session::resume_input`] has input to go on with: decoding stopped at
    /// [`Session::input_held`], which no longer holds.
    pub fn input_resumable(&self) -> bool {
        self.input_was_held && !self.input_held()
    }

    /// Decodes and handles every complete packet in the read buffer.
    pub fn process_read(&mut self, now: Instant) {
        if self.first_byte_pending && self.state == State::Connecting {
            let Some(&first) = self.decoder.buffer_mut().first() else {
                return;
            };
            self.first_byte_pending = false;
            if !self.may_answer_connect(first) {
                let buf = self.decoder.buffer_mut();
                let received = Bytes::copy_from_slice(&buf[..buf.len().min(32)]);
                buf.clear();
                // An MQTT server that sent another packet first broke [MQTT-3.2.0-1]: tell
                // it so. Bytes that begin no MQTT packet get no answer.
                if is_mqtt_header(first) && self.version == ProtocolVersion::V5 {
                    let code = DisconnectReasonCode::ProtocolError;
                    self.send(&Packet::Disconnect(Disconnect::new(code)), now);
                }
                self.end_connection(DisconnectCause::NotMqtt { received });
                return;
            }
        }
        if self.state == State::Connecting && self.version == ProtocolVersion::V5 {
            let buf = self.decoder.buffer_mut();
            // A 5.0 CONNACK has a Property Length, so Remaining Length 2 is a 3.1.1 server
            // answering in its own form (3.1.1 [MQTT-3.1.2-2]: return code 0x01).
            if buf.len() >= 2 && buf[..2] == [0x20, 0x02] {
                if buf.len() < 4 {
                    return;
                }
                let frame = buf.split_to(4).freeze();
                self.last_received = now;
                match Packet::decode_v311(frame) {
                    Ok(Packet::ConnAck(c)) if c.reason_code.is_failure() => {
                        self.handle_packet(Packet::ConnAck(c), now);
                    }
                    Ok(_) => self.protocol_error(
                        DisconnectReasonCode::ProtocolError,
                        "a 3.1.1 CONNACK accepting a 5.0 CONNECT".into(),
                        now,
                    ),
                    Err(e) => self.codec_error(&e, now),
                }
                if self.state != State::Connected {
                    return;
                }
            }
        }
        while matches!(self.state, State::Connecting | State::Connected) {
            if self.input_held() {
                self.input_was_held = true;
                return;
            }
            match self.decoder.next_packet() {
                Ok(Some(packet)) => {
                    self.last_received = now;
                    self.handle_packet(packet, now);
                }
                Ok(None) => return,
                Err(e) => {
                    self.codec_error(&e, now);
                    return;
                }
            }
        }
    }

    /// Whether `first` can begin the server's first packet: CONNACK [MQTT-3.2.0-1], AUTH
    /// during enhanced authentication (4.12), or a DISCONNECT (which some servers send
    /// instead of a refusing CONNACK). Anything else means the peer is not an MQTT server,
    /// which deserves a clearer word than the Malformed Packet its bytes would decode to.
    pub(super) fn may_answer_connect(&self, first: u8) -> bool {
        // CONNACK, DISCONNECT and AUTH have fixed-header flags 0 (Table 2-2).
        match first {
            0x20 | 0xE0 => true,
            0xF0 => self.opts.authenticator.is_some(),
            _ => false,
        }
    }

    pub(super) fn handle_packet(&mut self, packet: Packet, now: Instant) {
        self.counters.packet_received();
        if self.state == State::Connecting {
            match packet {
                Packet::ConnAck(c) => self.handle_connack(c, now),
                Packet::Auth(a) => self.handle_auth(&a, now),
                Packet::Disconnect(d) => self.handle_disconnect(d),
                other => self.protocol_error(
                    DisconnectReasonCode::ProtocolError,
                    format!("{:?} before CONNACK", other.packet_type()),
                    now,
                ),
            }
            return;
        }
        match packet {
            Packet::Publish(p) => self.handle_publish(p, now),
            Packet::PubAck(p) => {
                self.counters.publish_answered(p.packet_id, now);
                self.handle_puback(&p, now);
            }
            Packet::PubRec(p) => {
                self.counters.publish_answered(p.packet_id, now);
                self.handle_pubrec(&p, now);
            }
            Packet::PubRel(p) => self.handle_pubrel(&p, now),
            Packet::PubComp(p) => self.handle_pubcomp(&p, now),
            Packet::SubAck(p) => self.handle_suback(p, now),
            Packet::UnsubAck(p) => self.handle_unsuback(p, now),
            Packet::PingResp => {
                self.ping_outstanding = false;
                self.counters.ping_answered(now);
            }
            Packet::Disconnect(d) => self.handle_disconnect(d),
            Packet::Auth(a) => self.handle_auth(&a, now),
            other => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("unexpected {:?} from the server", other.packet_type()),
                now,
            ),
        }
    }

    pub(super) fn handle_connack(&mut self, c: ConnAck, now: Instant) {
        if c.reason_code == crate::codec::ConnectReasonCode::UnsupportedProtocolVersion
            && self.may_fall_back()
        {
            self.fall_back();
            return;
        }
        if c.reason_code.is_failure() {
            let refusal = ConnectRefusal {
                reason_code: c.reason_code,
                reason_string: c.properties.get_str(PropertyId::ReasonString).cloned(),
                server_reference: c.properties.get_str(PropertyId::ServerReference).cloned(),
                properties: c.properties,
            };
            self.end_connection(DisconnectCause::Refused(refusal));
            return;
        }
        // [MQTT-3.2.2-4] Session Present 1 when we asked for a clean start.
        if c.session_present && self.asked_clean_start {
            self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                "CONNACK Session Present 1 after Clean Start 1 [MQTT-3.2.2-4]".into(),
                now,
            );
            return;
        }
        if let Some(auth) = self.opts.authenticator.as_mut() {
            let data = c.properties.get_binary(PropertyId::AuthenticationData);
            if let Err(e) = auth.success(data.map(|d| &d[..])) {
                self.auth_failed(e, now);
                return;
            }
        }
        let mut info = ConnAckInfo::new(c, self.opts.keep_alive);
        info.protocol_version = self.version;
        if self.version == ProtocolVersion::V311 {
            info.subscription_identifiers_available = false;
        }
        if let Some(id) = &info.assigned_client_id {
            // Reconnections must present the identifier the server assigned.
            self.opts.client_id = id.clone();
        }
        if let Some(v) = info.session_expiry_interval {
            self.opts.session_expiry_interval = v;
        }
        self.limits = Limits {
            receive_maximum: info.receive_maximum,
            maximum_qos: info.maximum_qos,
            retain_available: info.retain_available,
            maximum_packet_size: info.maximum_packet_size,
            topic_alias_maximum: info.topic_alias_maximum,
            wildcard: info.wildcard_subscription_available,
            subscription_ids: info.subscription_identifiers_available,
            shared: info.shared_subscription_available,
        };
        // [MQTT-3.2.2-21] the server's keep alive replaces ours.
        self.keep_alive = Duration::from_secs(u64::from(info.keep_alive));
        self.in_aliases.reset(self.opts.topic_alias_maximum);
        self.out_aliases
            .reset(info.topic_alias_maximum, self.opts.auto_topic_alias);
        self.state = State::Connected;
        self.counters.connected(now);
        self.connect_deadline = None;
        let session_present = info.session_present;
        self.events.push_back(Event::Connected(Box::new(info)));
        self.connected_once = true;
        self.sent_clean_start = None;
        // The client identifier (perhaps assigned) and Session Expiry Interval are known.
        self.store_meta();
        if session_present {
            self.resume_session(now);
        } else {
            self.discard_session(now);
        }
        self.flush_acks(now);
        self.pump(now);
    }

    /// [MQTT-4.4.0-1] resend unacknowledged PUBLISH (DUP=1) and PUBREL, in their order
    /// [MQTT-4.6.0-1] [MQTT-4.6.0-4], within the new Receive Maximum [MQTT-3.3.4-7]: the
    /// rest follow as acknowledgements free the quota. Then SUBSCRIBE/UNSUBSCRIBE that were
    /// not answered.
    pub(super) fn resume_session(&mut self, now: Instant) {
        let mut order: Vec<(u64, u16)> = self
            .inflight
            .values()
            .map(|o| (o.order, o.publish.packet_id))
            .collect();
        order.sort_unstable();
        let quota = usize::from(self.limits.receive_maximum);
        self.deferred = 0;
        for (i, (_, pid)) in order.into_iter().enumerate() {
            let Some(o) = self.inflight.get_mut(&pid) else {
                continue;
            };
            o.deferred = i >= quota;
            if o.deferred {
                self.deferred += 1;
            } else {
                let packet = o.resend();
                self.send(&packet, now);
            }
        }
        self.resend_control(now);
    }

    /// [MQTT-3.2.2-5] the server has no session: drop ours. QoS 1 publishes go out again as
    /// new messages (at least once still holds); QoS 2 ones that may have reached the server
    /// fail with `SessionLost` rather than risk a duplicate; those the server already
    /// acknowledged with PUBREC complete with that PUBREC.
    pub(super) fn discard_session(&mut self, now: Instant) {
        // Acknowledged ones are in the store (their PUBREC sent or waiting its turn).
        let acknowledged: Vec<u16> = self.inbound_qos2.keys().copied().collect();
        for pid in acknowledged {
            self.forget_incoming(pid);
        }
        self.inbound_qos2.clear();
        self.pending_acks.clear();
        let had_state = !self.inflight.is_empty() || !self.subscriptions.is_empty();
        let mut inflight: Vec<_> = self.inflight.drain().map(|(_, o)| o).collect();
        inflight.sort_by_key(|o| o.order);
        self.deferred = 0;
        let mut requeue = Vec::new();
        for o in inflight {
            self.ids.release(o.publish.packet_id);
            match o.state {
                OutState::Qos1Sent => {
                    self.store_unsent(o.id);
                    requeue.push(o);
                }
                OutState::Qos2Sent => {
                    self.complete_publish(o.id, Err(RequestError::SessionLost));
                }
                OutState::Released(code) => self.complete_publish(
                    o.id,
                    Ok(PublishAck {
                        packet_id: o.publish.packet_id,
                        reason: AckReason::PubRec(code),
                        properties: o.pubrec_properties,
                    }),
                ),
            }
        }
        // Back to the head of the queue, oldest first, so order is kept.
        for o in requeue.into_iter().rev() {
            let request = PublishRequest {
                topic: o.publish.topic,
                payload: o.publish.payload,
                qos: o.publish.qos,
                retain: o.publish.retain,
                topic_alias: None,
                properties: o.publish.properties,
            };
            let bytes = request_bytes(&request);
            self.queued_bytes += bytes;
            self.queue.push_front(Queued {
                id: o.id,
                request,
                since: now,
                bytes,
            });
        }
        // SUBSCRIBE/UNSUBSCRIBE in flight are simply sent again on this connection.
        self.resend_control(now);
        if had_state {
            let mut resubscribed = 0;
            if self.opts.resubscribe && !self.subscriptions.is_empty() {
                resubscribed = self.resubscribe(now);
            }
            self.events.push_back(Event::SessionLost { resubscribed });
        }
    }

    pub(super) fn resubscribe(&mut self, now: Instant) -> usize {
        // One SUBSCRIBE per Subscription Identifier, since it is a per-packet property.
        let mut groups: BTreeMap<Option<u32>, Vec<Subscription>> = BTreeMap::new();
        for (filter, (options, sub_id)) in self.subscriptions.iter() {
            groups.entry(*sub_id).or_default().push(Subscription {
                filter: filter.clone(),
                options: *options,
            });
        }
        let mut count = 0;
        for (sub_id, subscriptions) in groups {
            let Some(packet_id) = self.ids.allocate() else {
                break;
            };
            count += subscriptions.len();
            let mut properties = Properties::new();
            if let Some(v) = sub_id {
                properties.push(Property::SubscriptionIdentifier(v));
            }
            let packet = Subscribe {
                packet_id,
                properties,
                subscriptions,
            };
            self.send(&Packet::Subscribe(packet.clone()), now);
            self.pending_subs
                .insert(packet_id, Box::new(PendingSub { id: None, packet }));
        }
        count
    }

    pub(super) fn resend_control(&mut self, now: Instant) {
        let mut ids: Vec<u16> = self
            .pending_subs
            .keys()
            .chain(self.pending_unsubs.keys())
            .copied()
            .collect();
        // Those queued while disconnected go in request order; the rest by packet id.
        ids.retain(|id| !self.control_queue.contains(id));
        ids.sort_unstable();
        ids.extend(self.control_queue.drain(..));
        for id in ids {
            let packet = if let Some(s) = self.pending_subs.get(&id) {
                Packet::Subscribe(s.packet.clone())
            } else if let Some(u) = self.pending_unsubs.get(&id) {
                Packet::Unsubscribe(u.packet.clone())
            } else {
                continue;
            };
            if self.version == ProtocolVersion::V311 && self.fail_if_not_in_v311(&packet) {
                continue;
            }
            self.send(&packet, now);
        }
    }

    /// A SUBSCRIBE or UNSUBSCRIBE asked for before the session fell back to 3.1.1 that 3.1.1
    /// cannot carry completes with `NotInV311` instead of going out without what it asked.
    pub(super) fn fail_if_not_in_v311(&mut self, packet: &Packet) -> bool {
        let (packet_id, error) = match packet {
            Packet::Subscribe(s) => (
                s.packet_id,
                check_subscribe_v311(&s.subscriptions, &s.properties).err(),
            ),
            Packet::Unsubscribe(u) => (u.packet_id, check_unsubscribe_v311(&u.properties).err()),
            _ => return false,
        };
        let Some(error) = error else {
            return false;
        };
        self.ids.release(packet_id);
        if let Some(s) = self.pending_subs.remove(&packet_id) {
            if let Some(id) = s.id {
                self.events.push_back(Event::SubscribeComplete {
                    id,
                    result: Err(error),
                });
            }
        } else if let Some(u) = self.pending_unsubs.remove(&packet_id) {
            self.events.push_back(Event::UnsubscribeComplete {
                id: u.id,
                result: Err(error),
            });
        }
        true
    }

    pub(super) fn handle_disconnect(&mut self, d: Disconnect) {
        let cause = DisconnectCause::Server {
            reason_code: d.reason_code,
            reason_string: d.properties.get_str(PropertyId::ReasonString).cloned(),
            server_reference: d.properties.get_str(PropertyId::ServerReference).cloned(),
            properties: d.properties,
        };
        self.end_connection(cause);
    }

    pub(super) fn handle_auth(&mut self, a: &Auth, now: Instant) {
        let Some(auth) = self.opts.authenticator.as_mut() else {
            self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                "AUTH without an authentication method".into(),
                now,
            );
            return;
        };
        let method_ok = matches!(
            a.properties.get(PropertyId::AuthenticationMethod),
            Some(Property::AuthenticationMethod(m)) if **m == *auth.method()
        );
        if !method_ok {
            // [MQTT-4.12.0-5]-style: AUTH must carry the same Authentication Method.
            self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                "AUTH with a different authentication method".into(),
                now,
            );
            return;
        }
        let data = a
            .properties
            .get_binary(PropertyId::AuthenticationData)
            .map(|d| &d[..]);
        let method = ByteString::from(auth.method());
        match a.reason_code {
            AuthReasonCode::ContinueAuthentication => match auth.challenge(data) {
                Ok(answer) => {
                    let mut properties =
                        Properties::new().with(Property::AuthenticationMethod(method));
                    if let Some(d) = answer {
                        properties.push(Property::AuthenticationData(d));
                    }
                    self.send(
                        &Packet::Auth(Auth {
                            reason_code: AuthReasonCode::ContinueAuthentication,
                            properties,
                        }),
                        now,
                    );
                }
                Err(e) => self.auth_failed(e, now),
            },
            AuthReasonCode::Success if self.state == State::Connected && self.reauthenticating => {
                match auth.success(data) {
                    Ok(()) => {
                        self.reauthenticating = false;
                        self.events.push_back(Event::Reauthenticated);
                    }
                    Err(e) => self.auth_failed(e, now),
                }
            }
            // Success outside a re-authentication, or Re-authenticate from the server.
            other => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("unexpected AUTH {other}"),
                now,
            ),
        }
    }

    pub(super) fn auth_failed(&mut self, e: String, now: Instant) {
        // 0x87 Not authorized is the server's to send (3.14.2.1); the client says 0x80.
        self.protocol_error(DisconnectReasonCode::UnspecifiedError, e.clone(), now);
        if let Some(Event::Disconnected(cause)) = self.events.back_mut() {
            *cause = DisconnectCause::Authentication(e);
        }
    }

    /// Starts re-authentication (4.12.1) with the authenticator's initial data.
    pub fn reauthenticate(&mut self, now: Instant) -> Result<(), RequestError> {
        if self.state != State::Connected {
            return Err(RequestError::NotConnected);
        }
        if self.version == ProtocolVersion::V311 {
            return Err(RequestError::NotInV311("enhanced authentication (AUTH)"));
        }
        let Some(auth) = self.opts.authenticator.as_mut() else {
            return Err(RequestError::NotSupported(
                "re-authentication without an authenticator",
            ));
        };
        let mut properties = Properties::new().with(Property::AuthenticationMethod(
            ByteString::from(auth.method()),
        ));
        if let Some(d) = auth.initial_data() {
            properties.push(Property::AuthenticationData(d));
        }
        self.reauthenticating = true;
        self.send(
            &Packet::Auth(Auth {
                reason_code: AuthReasonCode::ReAuthenticate,
                properties,
            }),
            now,
        );
        Ok(())
    }
}
