//! The completions a connection rarely holds, in one box that exists only while one waits.

use std::collections::HashMap;

use super::Conn;
use crate::codec::Bytes;
use crate::protocol::{
    ConnAckInfo, IdMap, Message, RequestId, RestoredPublish, SubscribeAck, UnsubscribeAck,
};
use crate::runtime::completion::Completion;

/// The completions that wait on the I/O thread besides publishes': rare next to an idle
/// client's life, so kept in one box that exists only while one of them waits (240 bytes
/// less per idle client, issue 14).
#[derive(Default)]
pub(super) struct Waiting {
    pub(super) subscribes: IdMap<RequestId, Completion<SubscribeAck>>,
    pub(super) unsubscribes: IdMap<RequestId, Completion<UnsubscribeAck>>,
    pub(super) connect_waiters: Vec<Completion<ConnAckInfo>>,
    pub(super) disconnect_waiters: Vec<Completion<()>>,
    /// Requests waiting for their reply, by Correlation Data.
    pub(super) replies: HashMap<Bytes, Completion<Message>>,
    /// Publishes restored from the store, by the session's request id.
    pub(super) restored: IdMap<RequestId, RestoredPublish>,
}

impl Waiting {
    fn is_empty(&self) -> bool {
        self.subscribes.is_empty()
            && self.unsubscribes.is_empty()
            && self.connect_waiters.is_empty()
            && self.disconnect_waiters.is_empty()
            && self.replies.is_empty()
            && self.restored.is_empty()
    }
}

impl Conn {
    /// The waiting completions, made on first use.
    pub(super) fn waiting(&mut self) -> &mut Waiting {
        self.waiting.get_or_insert_default()
    }

    /// Takes one waiting completion out (`take` on the box, if there is one), and gives
    /// the box back once nothing waits.
    pub(super) fn take_waiting<T>(
        &mut self,
        take: impl FnOnce(&mut Waiting) -> Option<T>,
    ) -> Option<T> {
        let w = self.waiting.as_mut()?;
        let taken = take(w);
        if w.is_empty() {
            self.waiting = None;
        }
        taken
    }

    pub(super) fn take_connect_waiters(&mut self) -> Vec<Completion<ConnAckInfo>> {
        self.take_waiting(|w| Some(std::mem::take(&mut w.connect_waiters)))
            .unwrap_or_default()
    }

    pub(super) fn take_disconnect_waiters(&mut self) -> Vec<Completion<()>> {
        self.take_waiting(|w| Some(std::mem::take(&mut w.disconnect_waiters)))
            .unwrap_or_default()
    }
}
