//! Publishes from the server: delivery (QoS 2 exactly once), the application's
//! acknowledgements and PUBREL.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Session {
    pub(super) fn handle_publish(&mut self, mut p: Publish, now: Instant) {
        if let Some(Property::TopicAlias(alias)) = p.properties.get(PropertyId::TopicAlias) {
            match self.in_aliases.resolve(*alias, &p.topic) {
                Ok(topic) => p.topic = topic,
                Err(AliasError::OutOfRange) => {
                    return self.protocol_error(
                        DisconnectReasonCode::TopicAliasInvalid,
                        format!("Topic Alias {alias} is above our maximum"),
                        now,
                    );
                }
                Err(AliasError::Unknown) => {
                    return self.protocol_error(
                        DisconnectReasonCode::ProtocolError,
                        format!("unknown Topic Alias {alias}"),
                        now,
                    );
                }
            }
            p.properties.remove(PropertyId::TopicAlias);
        }
        let ack = match p.qos {
            QoS::AtMostOnce => None,
            QoS::AtLeastOnce => {
                if !self.inbound_quota_left() {
                    return self.receive_maximum_exceeded(now);
                }
                self.unacked_qos1 += 1;
                Some(self.push_pending_ack(p.packet_id, AckKind::PubAck))
            }
            QoS::ExactlyOnce => {
                if let Some(state) = self.inbound_qos2.get(&p.packet_id) {
                    // Already delivered: never twice (4.3.3). Answer again if we had; if
                    // the application has not acknowledged it yet, its PUBREC may go out
                    // now that the server sent it on this connection.
                    match *state {
                        InQos2::PubRecSent => {
                            self.send(&Packet::PubRec(PubRec::new(p.packet_id)), now);
                        }
                        InQos2::AwaitAppAck => {
                            for a in &mut self.pending_acks {
                                if a.packet_id == p.packet_id {
                                    a.awaiting_resend = false;
                                }
                            }
                            self.flush_acks(now);
                        }
                    }
                    return;
                }
                if !self.inbound_quota_left() {
                    return self.receive_maximum_exceeded(now);
                }
                self.inbound_qos2.insert(p.packet_id, InQos2::AwaitAppAck);
                Some(self.push_pending_ack(p.packet_id, AckKind::PubRec))
            }
        };
        self.counters.message_received();
        self.events.push_back(Event::Message(Message {
            topic: p.topic,
            payload: p.payload,
            qos: p.qos,
            retain: p.retain,
            dup: p.dup,
            packet_id: p.packet_id,
            properties: p.properties,
            ack,
        }));
    }

    /// Room for one more unacknowledged QoS 1/2 PUBLISH from the server. [MQTT-3.3.4-9]
    /// binds the server to our Receive Maximum, but Mosquitto 2.0.11 (Debian 12's) overshoots
    /// it after the client stalls (seen: 1,317 unacknowledged against 1,000, with no PUBACK
    /// sent meanwhile). Ending the connection for that would lose the messages in flight
    /// with the most common broker, so a second Receive Maximum is tolerated before 0x93:
    /// what a server can make us hold stays bounded. Past it, decoding waits for the
    /// application's acknowledgements ([`Session::input_held`]); only a server exceeding it
    /// with nothing left for the application to acknowledge gets 0x93.
    pub(super) fn inbound_quota_left(&self) -> bool {
        if self.version == ProtocolVersion::V311 {
            // 3.1.1 has no Receive Maximum to hold the server to; packet identifiers bound
            // what it can leave unacknowledged.
            return true;
        }
        let limit = 2 * usize::from(self.opts.receive_maximum.max(1));
        self.unacked_qos1 + self.inbound_qos2.len() < limit
    }

    pub(super) fn receive_maximum_exceeded(&mut self, now: Instant) {
        // [MQTT-3.3.4-9] the server must not exceed our Receive Maximum.
        self.protocol_error(
            DisconnectReasonCode::ReceiveMaximumExceeded,
            format!(
                "more than {} unacknowledged QoS 1/2 PUBLISHes",
                self.opts.receive_maximum
            ),
            now,
        );
    }

    pub(super) fn push_pending_ack(&mut self, packet_id: u16, kind: AckKind) -> AckToken {
        let token = AckToken::fresh();
        self.pending_acks.push_back(PendingAck {
            token,
            packet_id,
            kind,
            done: false,
            awaiting_resend: false,
        });
        token
    }

    /// The application has the message: send its PUBACK or PUBREC. Acknowledgements go out
    /// in the order the PUBLISHes arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3], whatever order they
    /// are acknowledged in: one acknowledged before an earlier message waits for it.
    ///
    /// Unknown tokens are ignored: a second acknowledgement of the same message, another
    /// session's token, and a QoS 1 message of an earlier connection (the connection ended
    /// before its PUBACK went out, so the server sends it again, with DUP, and that new
    /// delivery carries its own token; a PUBACK on the new connection for a PUBLISH of the
    /// old one is never sent). A QoS 2 message of an earlier connection keeps its token
    /// while the session lasts (it is not delivered again [MQTT-4.3.3-10]), but its
    /// PUBREC waits until the server has resent the PUBLISH on the new connection
    /// [MQTT-4.4.0-1]; if the server kept no session, the token is forgotten.
    ///
    /// When this frees input the application held ([`Session::input_held`]), the runtime
    /// calls [`Session::resume_input`] next (on its I/O thread: decoding may end the
    /// connection or deliver messages).
    pub fn acknowledge(&mut self, token: AckToken, now: Instant) {
        let mut qos2 = None;
        if let Some(a) = self.pending_acks.iter_mut().find(|a| a.token == token) {
            if !a.done && matches!(a.kind, AckKind::PubRec) {
                qos2 = Some(a.packet_id);
            }
            a.done = true;
        }
        if let Some(packet_id) = qos2 {
            // In the store now, though its PUBREC may wait for earlier messages: after a
            // restart, the server's PUBLISH again is recognised and not delivered twice.
            self.store_incoming(packet_id);
        }
        self.flush_acks(now);
    }

    /// Whether decoding stops for now: the server has as many unacknowledged QoS 1/2
    /// PUBLISHes with us as we tolerate (`inbound_quota_left`), and some of them wait for
    /// the application's acknowledgement, which frees room. Rather than end the connection
    /// with 0x93 (on the next one the server would resend them all, past the bound again:
    /// a disconnection loop), what the server sent after them waits unread until the
    /// application acknowledges, and the runtime stops reading the socket: backpressure
    /// through TCP, with bounded memory. Meanwhile the keep alive still sends PINGREQ but
    /// does not judge the server, whose answers wait behind. A server keeping to our
    /// Receive Maximum [MQTT-3.3.4-9] never gets here; Mosquitto 2.0.11 does, sending up to
    /// a Receive Maximum more for each PUBACK while the application holds messages. The
    /// runtime must not feed more bytes meanwhile ([`Session::handle_read`] buffers them).
    pub fn input_held(&self) -> bool {
        self.state == State::Connected
            && !self.inbound_quota_left()
            && self.pending_acks.iter().any(|a| !a.done)
    }

    pub(super) fn flush_acks(&mut self, now: Instant) {
        if self.state != State::Connected {
            return;
        }
        // A PUBREC owed since an earlier connection answers no PUBLISH of this one until
        // the server resends it, and a server that lost the message (Mosquitto after a
        // SIGKILL) never does: it is passed over, not waited for, so that it cannot hold
        // back this connection's acknowledgements forever.
        let mut i = 0;
        while let Some(a) = self.pending_acks.get(i) {
            if a.awaiting_resend {
                i += 1;
                continue;
            }
            if !a.done {
                break;
            }
            let Some(a) = self.pending_acks.remove(i) else {
                break;
            };
            match a.kind {
                AckKind::PubAck => {
                    self.unacked_qos1 = self.unacked_qos1.saturating_sub(1);
                    self.send(&Packet::PubAck(PubAck::new(a.packet_id)), now);
                }
                AckKind::PubRec => {
                    // In the store since its acknowledgement (`acknowledge`).
                    self.inbound_qos2.insert(a.packet_id, InQos2::PubRecSent);
                    self.send(&Packet::PubRec(PubRec::new(a.packet_id)), now);
                }
            }
        }
    }

    pub(super) fn handle_pubrel(&mut self, p: &PubRel, now: Instant) {
        let reason_code = match self.inbound_qos2.get(&p.packet_id) {
            Some(InQos2::PubRecSent) => {
                self.inbound_qos2.remove(&p.packet_id);
                self.forget_incoming(p.packet_id);
                PubCompReasonCode::Success
            }
            Some(InQos2::AwaitAppAck) => {
                return self.protocol_error(
                    DisconnectReasonCode::ProtocolError,
                    format!("PUBREL {} before our PUBREC", p.packet_id),
                    now,
                );
            }
            // 3.1.1 has no reason code: PUBCOMP all the same [MQTT-4.3.3-2].
            None if self.version == ProtocolVersion::V311 => PubCompReasonCode::Success,
            None => PubCompReasonCode::PacketIdentifierNotFound,
        };
        self.send(
            &Packet::PubComp(PubComp {
                packet_id: p.packet_id,
                reason_code,
                properties: Properties::new(),
            }),
            now,
        );
    }
}
