//! SUBSCRIBE and UNSUBSCRIBE, their acknowledgements and the size check of control
//! packets.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Session {
    /// Subscribes. Refused before sending when a filter is invalid or the server said it
    /// does not support what is asked (wildcards, subscription identifiers, shared
    /// subscriptions). While disconnected the request waits for the next connection.
    pub fn subscribe(
        &mut self,
        subscriptions: Vec<Subscription>,
        properties: Properties,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        check_subscribe(&subscriptions, &properties)?;
        if self.version == ProtocolVersion::V311 {
            check_subscribe_v311(&subscriptions, &properties)?;
        }
        for s in &subscriptions {
            if !self.limits.shared && parse_shared(&s.filter).is_some() {
                return Err(RequestError::NotSupported("shared subscriptions"));
            }
            if !self.limits.wildcard && s.filter.contains(['+', '#']) {
                return Err(RequestError::NotSupported("wildcard subscriptions"));
            }
        }
        if !self.limits.subscription_ids
            && properties.get(PropertyId::SubscriptionIdentifier).is_some()
        {
            return Err(RequestError::NotSupported("subscription identifiers"));
        }
        let packet = Subscribe {
            packet_id: 1,
            properties,
            subscriptions,
        };
        self.check_size(&Packet::Subscribe(packet.clone()))?;
        let packet_id = self
            .ids
            .allocate()
            .ok_or(RequestError::NoPacketIdentifier)?;
        let packet = Subscribe {
            packet_id,
            ..packet
        };
        let id = self.next_request;
        self.next_request += 1;
        self.send_control(&Packet::Subscribe(packet.clone()), packet_id, now);
        self.pending_subs.insert(
            packet_id,
            Box::new(PendingSub {
                id: Some(id),
                packet,
            }),
        );
        Ok(id)
    }

    /// Unsubscribes; while disconnected the request waits for the next connection.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<ByteString>,
        properties: Properties,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        check_unsubscribe(&filters, &properties)?;
        if self.version == ProtocolVersion::V311 {
            check_unsubscribe_v311(&properties)?;
        }
        let packet = Unsubscribe {
            packet_id: 1,
            properties,
            filters,
        };
        self.check_size(&Packet::Unsubscribe(packet.clone()))?;
        let packet_id = self
            .ids
            .allocate()
            .ok_or(RequestError::NoPacketIdentifier)?;
        let packet = Unsubscribe {
            packet_id,
            ..packet
        };
        let id = self.next_request;
        self.next_request += 1;
        self.send_control(&Packet::Unsubscribe(packet.clone()), packet_id, now);
        self.pending_unsubs
            .insert(packet_id, PendingUnsub { id, packet });
        Ok(id)
    }

    /// Refuses a packet larger than the server's Maximum Packet Size [MQTT-3.2.2-15].
    pub(super) fn check_size(&self, packet: &Packet) -> Result<(), RequestError> {
        match self.limits.maximum_packet_size {
            Some(max) if packet.encoded_len() > max as usize => Err(RequestError::PacketTooLarge {
                size: packet.encoded_len(),
                max,
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn send_control(&mut self, packet: &Packet, packet_id: u16, now: Instant) {
        if self.state == State::Connected {
            self.send(packet, now);
        } else {
            self.control_queue.push_back(packet_id);
        }
    }

    pub(super) fn handle_suback(&mut self, s: SubAck, now: Instant) {
        let Some(pending) = self.pending_subs.get(&s.packet_id) else {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("SUBACK for unknown packet identifier {}", s.packet_id),
                now,
            );
        };
        // A SUBACK that does not answer every filter is a protocol error; the request stays
        // pending and goes out again on the next connection.
        if s.reason_codes.len() != pending.packet.subscriptions.len() {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!(
                    "SUBACK has {} reason codes for {} filters",
                    s.reason_codes.len(),
                    pending.packet.subscriptions.len()
                ),
                now,
            );
        }
        let Some(pending) = self.pending_subs.remove(&s.packet_id) else {
            return;
        };
        self.pending_subs.release_if_empty();
        self.ids.release(s.packet_id);
        let sub_id = match pending
            .packet
            .properties
            .get(PropertyId::SubscriptionIdentifier)
        {
            Some(Property::SubscriptionIdentifier(v)) => Some(*v),
            _ => None,
        };
        for (sub, code) in pending.packet.subscriptions.iter().zip(&s.reason_codes) {
            if code.is_success() {
                // A copy of its own, not a clone sharing the request's buffer: the record
                // lives as long as the subscription, and a shared buffer would keep a
                // reference-count header allocated beside it.
                self.subscriptions
                    .insert(ByteString::from(&*sub.filter), (sub.options, sub_id));
            }
        }
        self.store_meta();
        if let Some(id) = pending.id {
            self.events.push_back(Event::SubscribeComplete {
                id,
                result: Ok(SubscribeAck {
                    packet_id: s.packet_id,
                    reason_codes: s.reason_codes,
                    properties: s.properties,
                }),
            });
        }
    }

    pub(super) fn handle_unsuback(&mut self, u: UnsubAck, now: Instant) {
        let Some(pending) = self.pending_unsubs.get(&u.packet_id) else {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("UNSUBACK for unknown packet identifier {}", u.packet_id),
                now,
            );
        };
        // A 3.1.1 UNSUBACK has no codes at all [MQTT-3.11.3]: the list stays empty.
        let v311 = self.version == ProtocolVersion::V311;
        if !v311 && u.reason_codes.len() != pending.packet.filters.len() {
            return self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!(
                    "UNSUBACK has {} reason codes for {} filters",
                    u.reason_codes.len(),
                    pending.packet.filters.len()
                ),
                now,
            );
        }
        let Some(pending) = self.pending_unsubs.remove(&u.packet_id) else {
            return;
        };
        self.pending_unsubs.release_if_empty();
        self.ids.release(u.packet_id);
        for f in &pending.packet.filters {
            self.subscriptions.remove(f);
        }
        self.store_meta();
        self.events.push_back(Event::UnsubscribeComplete {
            id: pending.id,
            result: Ok(UnsubscribeAck {
                packet_id: u.packet_id,
                reason_codes: u.reason_codes,
                properties: u.properties,
            }),
        });
    }
}
