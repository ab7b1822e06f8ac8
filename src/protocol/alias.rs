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

/// How to send a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundAlias {
    /// No alias: send the topic.
    None,
    /// A new alias: send the topic and the alias.
    New(u16),
    /// A known alias: send an empty topic and the alias.
    Known(u16),
}

impl OutboundAliases {
    pub fn reset(&mut self, maximum: u16) {
        self.maximum = maximum;
        self.aliases.clear();
    }

    pub fn lookup(&mut self, topic: &ByteString) -> OutboundAlias {
        if let Some(&alias) = self.aliases.get(topic) {
            return OutboundAlias::Known(alias);
        }
        let next = self.aliases.len();
        if next >= usize::from(self.maximum) {
            return OutboundAlias::None;
        }
        let alias = next as u16 + 1;
        self.aliases.insert(topic.clone(), alias);
        OutboundAlias::New(alias)
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
        let y = ByteString::from_static("y");
        assert_eq!(a.lookup(&x), OutboundAlias::New(1));
        assert_eq!(a.lookup(&x), OutboundAlias::Known(1));
        assert_eq!(a.lookup(&y), OutboundAlias::None);
        a.reset(0);
        assert_eq!(a.lookup(&x), OutboundAlias::None);
    }
}
