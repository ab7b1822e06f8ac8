//! Publishes to the server: the offline queue, the server's limits, topic aliases,
//! sending and the acknowledgements.

#[allow(clippy::wildcard_imports)]
use super::*;

impl Session {
    /// Publishes a message. QoS 0 completes when written; QoS 1 and 2 with the server's
    /// acknowledgement. While disconnected, or when the server's Receive Maximum is used up,
    /// the message waits in the bounded offline queue. A request that breaks the server's
    /// known limits is refused and nothing is sent.
    pub fn publish(
        &mut self,
        request: PublishRequest,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        request.check()?;
        self.publish_checked(request, now)
    }

    /// [`Session::publish`] for a request that passed [`PublishRequest::check`] already (the
    /// runtime checks on the caller's thread, so that errors come back at once).
    pub(crate) fn publish_checked(
        &mut self,
        request: PublishRequest,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        self.publish_stored(request, None, now)
    }

    /// [`Session::publish_checked`] for a message whose record is in the store already
    /// (`persisted`): a refusal removes the record, the end of the publish too.
    pub(super) fn publish_stored(
        &mut self,
        request: PublishRequest,
        persisted: Option<Persisted>,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        let result = self.publish_unstored(request, persisted, now);
        if let (Err(_), Some(p)) = (&result, persisted) {
            self.forget_message(p.key);
        }
        result
    }

    fn publish_unstored(
        &mut self,
        request: PublishRequest,
        persisted: Option<Persisted>,
        now: Instant,
    ) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::Closed);
        }
        let mut request = request;
        if let Some(alias) = request.topic_alias
            && request.topic.is_empty()
        {
            request.topic = self
                .out_aliases
                .chosen(alias)
                .ok_or(RequestError::UnknownTopicAlias(alias))?
                .clone();
            if let Some(p) = persisted {
                // The record must name the topic: aliases do not outlive the process.
                self.store_message(p, &request);
            }
        }
        self.check_limits(&request)?;
        let bytes = request_bytes(&request);
        let limits = self.opts.offline_queue;
        if self.queue.len() >= limits.max_messages || self.queued_bytes + bytes > limits.max_bytes {
            // Sending now without queueing is still possible when nothing waits ahead.
            if !(self.queue.is_empty() && self.can_send_now(request.qos)) {
                self.counters.refused_queue_full();
                return Err(RequestError::QueueFull);
            }
        }
        if let Some(alias) = request.topic_alias {
            self.out_aliases.choose(alias, &request.topic);
        }
        let id = self.next_request;
        self.next_request += 1;
        if let Some(p) = persisted {
            self.track_stored(id, p);
        }
        self.queued_bytes += bytes;
        self.queue.push_back(Queued {
            id,
            request,
            since: now,
            bytes,
        });
        self.pump(now);
        Ok(id)
    }

    pub(super) fn can_send_now(&self, qos: QoS) -> bool {
        self.state == State::Connected
            && self.deferred == 0
            && self.out.len() < TRANSMIT_HIGH_WATER
            && (qos == QoS::AtMostOnce || self.quota_left())
    }

    /// Whether another QoS 1/2 PUBLISH fits the server's Receive Maximum (4.9).
    pub(super) fn quota_left(&self) -> bool {
        self.inflight.len() - self.deferred < usize::from(self.limits.receive_maximum)
    }

    /// The server's limits, as known from the last CONNACK (3.2.2.3).
    pub(super) fn check_limits(&self, r: &PublishRequest) -> Result<(), RequestError> {
        // Also for a publish queued before a fallback to 3.1.1: refused, not sent without.
        if self.version == ProtocolVersion::V311 {
            check_publish_v311(r)?;
        }
        if r.qos > self.limits.maximum_qos {
            return Err(RequestError::QosNotSupported {
                requested: r.qos,
                maximum: self.limits.maximum_qos,
            });
        }
        if r.retain && !self.limits.retain_available {
            return Err(RequestError::RetainNotSupported);
        }
        if let Some(alias) = r.topic_alias
            && alias > self.limits.topic_alias_maximum
        {
            return Err(RequestError::TopicAliasInvalid {
                alias,
                maximum: self.limits.topic_alias_maximum,
            });
        }
        if let Some(max) = self.limits.maximum_packet_size {
            // With a chosen alias, the largest form: the topic and the alias.
            let size = if let Some(alias) = r.topic_alias {
                let properties = r.properties.clone().with(Property::TopicAlias(alias));
                Publish::encoded_len_of(r.qos, &r.topic, &properties, r.payload.len())
            } else {
                Publish::encoded_len_of(r.qos, &r.topic, &r.properties, r.payload.len())
            };
            if size > max as usize {
                return Err(RequestError::PacketTooLarge { size, max });
            }
        }
        Ok(())
    }

    /// Sends queued publishes while connected and within the server's Receive Maximum,
    /// in order.
    pub(super) fn pump(&mut self, now: Instant) {
        // Resends left over from resumption go first, in order.
        while self.state == State::Connected
            && self.deferred > 0
            && self.quota_left()
            && self.out.len() < TRANSMIT_HIGH_WATER
        {
            let Some(pid) = self
                .inflight
                .values()
                .filter(|o| o.deferred)
                .min_by_key(|o| o.order)
                .map(|o| o.publish.packet_id)
            else {
                break;
            };
            if let Some(o) = self.inflight.get_mut(&pid) {
                o.deferred = false;
                self.deferred -= 1;
                let packet = o.resend();
                self.send(&packet, now);
            }
        }
        while self.state == State::Connected {
            let Some(front) = self.queue.front() else {
                return;
            };
            if !self.can_send_now(front.request.qos) {
                return;
            }
            let Some(q) = self.queue.pop_front() else {
                return;
            };
            self.queued_bytes -= q.bytes;
            self.send_publish(q, now);
        }
    }

    pub(super) fn send_publish(&mut self, q: Queued, now: Instant) {
        let mut request = q.request;
        // Message Expiry Interval: drop when expired, else send what is left (3.3.2.3.3).
        if let Some(Property::MessageExpiryInterval(interval)) =
            request.properties.get(PropertyId::MessageExpiryInterval)
        {
            let waited = now.saturating_duration_since(q.since).as_secs();
            let interval = u64::from(*interval);
            if waited >= interval && now > q.since {
                return self.complete_publish(q.id, Err(RequestError::Expired));
            }
            if waited > 0 {
                let left = (interval - waited) as u32;
                for p in &mut request.properties {
                    if let Property::MessageExpiryInterval(v) = p {
                        *v = left;
                    }
                }
            }
        }
        // Limits may have changed since the message was queued.
        if let Err(e) = self.check_limits(&request) {
            return self.complete_publish(q.id, Err(e));
        }
        let packet_id = if request.qos == QoS::AtMostOnce {
            0
        } else if let Some(id) = self.ids.allocate() {
            id
        } else {
            return self.complete_publish(q.id, Err(RequestError::NoPacketIdentifier));
        };
        let publish = Publish {
            dup: false,
            qos: request.qos,
            retain: request.retain,
            topic: request.topic,
            packet_id,
            properties: request.properties,
            payload: request.payload,
        };
        self.send_with_alias(&publish, request.topic_alias, now);
        if publish.qos == QoS::AtMostOnce {
            return self.complete_publish(
                q.id,
                Ok(PublishAck {
                    packet_id: 0,
                    reason: AckReason::Written,
                    properties: Properties::new(),
                }),
            );
        }
        let state = if publish.qos == QoS::AtLeastOnce {
            OutState::Qos1Sent
        } else {
            OutState::Qos2Sent
        };
        self.send_seq += 1;
        self.store_sent(q.id, packet_id, publish.qos);
        self.inflight.insert(
            packet_id,
            Outgoing {
                id: q.id,
                order: self.send_seq,
                publish,
                state,
                pubrec_properties: Properties::new(),
                deferred: false,
            },
        );
    }

    /// Sends a PUBLISH with a Topic Alias. With the application's `chosen` alias (within the
    /// server's maximum: checked by `check_limits`), the topic is sent only when the server
    /// does not map the alias to it on this connection yet. Otherwise an automatic alias
    /// when the server allows them, never pushing the PUBLISH over the server's Maximum
    /// Packet Size [MQTT-3.2.2-15]. The stored copy keeps the full topic, so a resend on a
    /// new connection needs no alias.
    pub(super) fn send_with_alias(&mut self, publish: &Publish, chosen: Option<u16>, now: Instant) {
        let mut p = publish.clone();
        if let Some(alias) = chosen {
            if self.out_aliases.wire(alias) == Some(&p.topic) {
                p.topic = ByteString::new();
            } else {
                self.out_aliases.assign(&p.topic, alias);
            }
            p.properties.push(Property::TopicAlias(alias));
        } else if let Some(alias) = self.out_aliases.known(&p.topic) {
            p.properties.push(Property::TopicAlias(alias));
            p.topic = ByteString::new();
        } else if let Some(alias) = self.out_aliases.next_free() {
            p.properties.push(Property::TopicAlias(alias));
            let fits = self
                .limits
                .maximum_packet_size
                .is_none_or(|max| Packet::Publish(p.clone()).encoded_len() <= max as usize);
            if fits {
                self.out_aliases.assign(&p.topic, alias);
            } else {
                p.properties.remove(PropertyId::TopicAlias);
            }
        }
        self.send(&Packet::Publish(p), now);
    }

    pub(super) fn complete_publish(
        &mut self,
        id: RequestId,
        result: Result<PublishAck, RequestError>,
    ) {
        self.untrack_stored(id);
        self.events.push_back(Event::PublishComplete { id, result });
    }

    pub(super) fn finish_outgoing(
        &mut self,
        packet_id: u16,
        reason: AckReason,
        properties: Properties,
        now: Instant,
    ) {
        let Some(o) = self.inflight.remove(&packet_id) else {
            return;
        };
        self.inflight.release_if_empty();
        if o.deferred {
            self.deferred -= 1;
        }
        self.ids.release(packet_id);
        let result = if reason.is_success() {
            Ok(PublishAck {
                packet_id,
                reason,
                properties,
            })
        } else {
            Err(RequestError::Refused(reason))
        };
        self.complete_publish(o.id, result);
        self.pump(now);
    }

    pub(super) fn handle_puback(&mut self, p: &PubAck, now: Instant) {
        match self.inflight.get(&p.packet_id).map(|o| o.state) {
            Some(OutState::Qos1Sent) => self.finish_outgoing(
                p.packet_id,
                AckReason::PubAck(p.reason_code),
                p.properties.clone(),
                now,
            ),
            Some(_) => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("PUBACK for QoS 2 message {}", p.packet_id),
                now,
            ),
            // Not ours (any more): nothing to do.
            None => {}
        }
    }

    pub(super) fn handle_pubrec(&mut self, p: &PubRec, now: Instant) {
        let state = self.inflight.get(&p.packet_id).map(|o| o.state);
        match state {
            Some(OutState::Qos2Sent) if p.reason_code.is_failure() => {
                // 4.3.3: a failure PUBREC ends the exchange; no PUBREL.
                self.finish_outgoing(
                    p.packet_id,
                    AckReason::PubRec(p.reason_code),
                    p.properties.clone(),
                    now,
                );
            }
            Some(OutState::Qos2Sent | OutState::Released(_)) => {
                self.send_seq += 1;
                let mut released = None;
                if let Some(o) = self.inflight.get_mut(&p.packet_id) {
                    if o.state == OutState::Qos2Sent {
                        o.order = self.send_seq;
                        released = Some((o.id, o.order));
                    }
                    o.state = OutState::Released(p.reason_code);
                    o.pubrec_properties = p.properties.clone();
                }
                if let Some((id, order)) = released {
                    // In the store before the PUBREL leaves: after a restart, a PUBLISH
                    // sent again for a message the server released would be a new one.
                    self.store_released(id, p.packet_id, p.reason_code, order);
                }
                self.send(&Packet::PubRel(PubRel::new(p.packet_id)), now);
            }
            Some(OutState::Qos1Sent) => self.protocol_error(
                DisconnectReasonCode::ProtocolError,
                format!("PUBREC for QoS 1 message {}", p.packet_id),
                now,
            ),
            // 3.1.1 has no reason code: PUBREL all the same [MQTT-4.3.3-1].
            None if self.version == ProtocolVersion::V311 => {
                self.send(&Packet::PubRel(PubRel::new(p.packet_id)), now);
            }
            None => self.send(
                &Packet::PubRel(PubRel {
                    packet_id: p.packet_id,
                    reason_code: PubRelReasonCode::PacketIdentifierNotFound,
                    properties: Properties::new(),
                }),
                now,
            ),
        }
    }

    /// QoS 2 completes with the PUBREC's reason code, which says what the server did with
    /// the message (0x10 No matching subscribers), and its properties followed by the
    /// PUBCOMP's; a failed PUBCOMP (0x92 Packet Identifier not found) is reported instead.
    pub(super) fn handle_pubcomp(&mut self, p: &PubComp, now: Instant) {
        let Some(o) = self.inflight.get_mut(&p.packet_id) else {
            return;
        };
        let OutState::Released(rec) = o.state else {
            return;
        };
        let mut properties = std::mem::take(&mut o.pubrec_properties);
        let reason = if p.reason_code == PubCompReasonCode::Success {
            for q in &p.properties {
                properties.push(q.clone());
            }
            AckReason::PubRec(rec)
        } else {
            properties = p.properties.clone();
            AckReason::PubComp(p.reason_code)
        };
        self.finish_outgoing(p.packet_id, reason, properties, now);
    }
}
