//! What a client tells the application, in order.

use std::time::Duration;

use crate::protocol::{
    ConnAckInfo, DisconnectCause, Event, Message, PublishAck, RequestError, RequestId,
    SubscribeAck, UnsubscribeAck,
};

/// An event of one client. Events of one client are delivered in order and never
/// concurrently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// CONNACK with success, with every CONNACK property.
    Connected(Box<ConnAckInfo>),
    /// The connection ended or could not be made, with the cause.
    ConnectionLost(DisconnectCause),
    /// A reconnection attempt is scheduled after `delay`.
    Reconnecting { attempt: u32, delay: Duration },
    /// The server did not keep the session (see [`crate::protocol::Event::SessionLost`]).
    SessionLost { resubscribed: usize },
    /// A received message. QoS 1 and 2 messages are acknowledged to the server after the
    /// callback returns, or when `next_event` hands them out.
    Message(Message),
    PublishComplete {
        id: RequestId,
        result: Result<PublishAck, RequestError>,
    },
    SubscribeComplete {
        id: RequestId,
        result: Result<SubscribeAck, RequestError>,
    },
    UnsubscribeComplete {
        id: RequestId,
        result: Result<UnsubscribeAck, RequestError>,
    },
    /// The server accepted a re-authentication.
    Reauthenticated,
    /// QoS 0 messages dropped because the application did not keep up (the event queue was
    /// at its bound); QoS 1 and 2 are never dropped: the server waits for their acks.
    MessagesDropped { count: u64 },
    /// The client is closed: the last event.
    Closed,
}

impl From<Event> for ClientEvent {
    fn from(e: Event) -> Self {
        match e {
            Event::Connected(info) => Self::Connected(info),
            Event::Disconnected(cause) => Self::ConnectionLost(cause),
            Event::SessionLost { resubscribed } => Self::SessionLost { resubscribed },
            Event::Message(m) => Self::Message(m),
            Event::PublishComplete { id, result } => Self::PublishComplete { id, result },
            Event::SubscribeComplete { id, result } => Self::SubscribeComplete { id, result },
            Event::UnsubscribeComplete { id, result } => Self::UnsubscribeComplete { id, result },
            Event::Reauthenticated => Self::Reauthenticated,
        }
    }
}
