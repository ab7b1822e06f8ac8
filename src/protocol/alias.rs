//! Topic aliases (3.3.2.3.4) in both directions. Both maps live for one Network Connection
//! only: a new connection starts empty [MQTT-3.3.2-7].

use std::collections::HashMap;

use crate::codec::ByteString;

/// Aliases the server assigned in PUBLISH packets it sent us.
#[derive(Debug, Default)]
pub struct InboundAliases {
    maximum: u16,
    topics: HashMap<u16, ByteString>,
}

/// Why an inbound alias cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AliasError {
    /// 0 or above the Topic Alias Maximum we sent (0x94).
    OutOfRange,
    /// An empty topic with an alias that has no mapping yet (0x82).
    Unknown,
}

impl InboundAliases {
    /// Forgets every mapping and sets the maximum we announced in CONNECT.
    pub fn reset(&mut self, maximum: u16) {
        self.maximum = maximum;
        self.topics.clear();
    }

    /// Resolves a PUBLISH's topic: a non-empty topic with an alias sets the mapping, an empty
    /// one uses it.
    pub fn resolve(&mut self, alias: u16, topic: &ByteString) -> Result<ByteString, AliasError> {
        if alias == 0 || alias > self.maximum {
            return Err(AliasError::OutOfRange);
        }
        if topic.is_empty() {
            self.topics.get(&alias).cloned().ok_or(AliasError::Unknown)
        } else {
            self.topics.insert(alias, topic.clone());
            Ok(topic.clone())
        }
    }
}

/// Aliases we assign to topics we publish to, bounded by the server's Topic Alias Maximum.
/// The first `maximum` distinct topics get an alias; later topics are sent in full.
#[derive(Debug, Default)]
pub struct OutboundAliases {
    maximum: u16,
    aliases: HashMap<ByteString, u16>,
}

impl OutboundAliases {
    pub fn reset(&mut self, maximum: u16) {
        self.maximum = maximum;
        self.aliases.clear();
    }

    /// The alias the server already knows for `topic`: send an empty topic with it.
    pub fn known(&self, topic: &ByteString) -> Option<u16> {
        self.aliases.get(topic).copied()
    }

    /// The alias the next new topic would get, if any are left. Nothing is recorded until
    /// [`OutboundAliases::assign`], so a PUBLISH sent without it leaves no stale mapping.
    pub fn next_free(&self) -> Option<u16> {
        let next = self.aliases.len();
        (next < usize::from(self.maximum)).then(|| next as u16 + 1)
    }

    /// Records that `topic` was sent with `alias` (from [`OutboundAliases::next_free`]).
    pub fn assign(&mut self, topic: &ByteString, alias: u16) {
        self.aliases.insert(topic.clone(), alias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_alias_set_then_used_and_bounded() {
        let mut a = InboundAliases::default();
        a.reset(2);
        let t = ByteString::from_static("a/b");
        let empty = ByteString::new();
        assert_eq!(a.resolve(1, &empty), Err(AliasError::Unknown));
        assert_eq!(a.resolve(1, &t), Ok(t.clone()));
        assert_eq!(a.resolve(1, &empty), Ok(t.clone()));
        assert_eq!(a.resolve(0, &t), Err(AliasError::OutOfRange));
        assert_eq!(a.resolve(3, &t), Err(AliasError::OutOfRange));
        a.reset(2);
        assert_eq!(a.resolve(1, &empty), Err(AliasError::Unknown));
    }

    #[test]
    fn outbound_aliases_stop_at_the_maximum() {
        let mut a = OutboundAliases::default();
        a.reset(1);
        let x = ByteString::from_static("x");
        assert_eq!(a.known(&x), None);
        assert_eq!(a.next_free(), Some(1));
        a.assign(&x, 1);
        assert_eq!(a.known(&x), Some(1));
        assert_eq!(a.next_free(), None);
        a.reset(0);
        assert_eq!(a.known(&x), None);
        assert_eq!(a.next_free(), None);
    }
}
