//! Topic aliases (3.3.2.3.4) in both directions. Both maps live for one Network Connection
//! only: a new connection starts empty [MQTT-3.3.2-7].
//!
//! Most connections never use an alias, so the maps are allocated at the first one and
//! given back at the next connection: an idle client holds a pointer for them, not 200
//! bytes of empty maps (issue 14).

use std::collections::HashMap;

use crate::codec::ByteString;

/// Aliases the server assigned in PUBLISH packets it sent us.
#[derive(Debug, Default)]
pub struct InboundAliases {
    maximum: u16,
    /// Boxed: 8 bytes in every session instead of an empty map's 48.
    #[allow(clippy::box_collection)]
    topics: Option<Box<HashMap<u16, ByteString>>>,
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
        self.topics = None;
    }

    /// Resolves a PUBLISH's topic: a non-empty topic with an alias sets the mapping, an empty
    /// one uses it.
    pub fn resolve(&mut self, alias: u16, topic: &ByteString) -> Result<ByteString, AliasError> {
        if alias == 0 || alias > self.maximum {
            return Err(AliasError::OutOfRange);
        }
        if topic.is_empty() {
            self.topics
                .as_ref()
                .and_then(|t| t.get(&alias))
                .cloned()
                .ok_or(AliasError::Unknown)
        } else {
            self.topics
                .get_or_insert_default()
                .insert(alias, topic.clone());
            Ok(topic.clone())
        }
    }
}

/// Aliases for the topics we publish to (3.3.2.3.4), bounded by the server's Topic Alias
/// Maximum [MQTT-3.3.2-9].
///
/// Two sources share the alias space. The application may choose an alias for a topic
/// (`PublishRequest::topic_alias`): midge remembers that choice for the life of the client,
/// so that a later publish may name the alias alone. Automatic aliasing (when on) gives the
/// first distinct topics the lowest aliases the application has not chosen. What the server
/// knows, the wire mapping, lives for one Network Connection only [MQTT-3.3.2-7]: a new
/// connection starts empty, and the first PUBLISH with an alias on it carries the topic.
#[derive(Debug, Default)]
pub struct OutboundAliases {
    /// The server's Topic Alias Maximum on this connection.
    maximum: u16,
    automatic: bool,
    /// Where the search for a free automatic alias starts.
    next_auto: u16,
    /// None until an alias is first assigned or chosen.
    maps: Option<Box<OutMaps>>,
}

#[derive(Debug, Default)]
struct OutMaps {
    /// Wire mapping, both ways.
    by_topic: HashMap<ByteString, u16>,
    by_alias: HashMap<u16, ByteString>,
    /// The application's choices, kept across connections.
    chosen: HashMap<u16, ByteString>,
}

impl OutboundAliases {
    /// A new connection: no wire mapping, the server's maximum, automatic aliasing on or off.
    pub fn reset(&mut self, maximum: u16, automatic: bool) {
        self.maximum = maximum;
        self.automatic = automatic;
        self.next_auto = 1;
        if self.maps.as_ref().is_some_and(|m| m.chosen.is_empty()) {
            self.maps = None;
        } else if let Some(m) = &mut self.maps {
            m.by_topic = HashMap::new();
            m.by_alias = HashMap::new();
        }
    }

    fn maps(&mut self) -> &mut OutMaps {
        self.maps.get_or_insert_default()
    }

    /// The alias the server already knows for `topic` (automatic aliasing only): send an
    /// empty topic with it.
    pub fn known(&self, topic: &ByteString) -> Option<u16> {
        if self.automatic {
            self.maps.as_ref()?.by_topic.get(topic).copied()
        } else {
            None
        }
    }

    /// The topic the server maps `alias` to on this connection.
    pub fn wire(&self, alias: u16) -> Option<&ByteString> {
        self.maps.as_ref()?.by_alias.get(&alias)
    }

    /// The alias the next new topic would get automatically, if any are left. Nothing is
    /// recorded until [`OutboundAliases::assign`], so a PUBLISH sent without it leaves no
    /// stale mapping.
    pub fn next_free(&self) -> Option<u16> {
        if !self.automatic {
            return None;
        }
        let Some(m) = &self.maps else {
            return (self.next_auto <= self.maximum).then_some(self.next_auto);
        };
        (self.next_auto..=self.maximum)
            .find(|a| !m.by_alias.contains_key(a) && !m.chosen.contains_key(a))
    }

    /// Records that `topic` was sent with `alias`: the server now maps `alias` to `topic`,
    /// and forgets what `alias` meant before (3.3.2.3.4).
    pub fn assign(&mut self, topic: &ByteString, alias: u16) {
        let next_auto = self.next_auto;
        let m = self.maps();
        if let Some(old) = m.by_alias.insert(alias, topic.clone()) {
            m.by_topic.remove(&old);
        }
        if let Some(previous) = m.by_topic.insert(topic.clone(), alias)
            && previous != alias
        {
            m.by_alias.remove(&previous);
        }
        if !m.chosen.contains_key(&alias) && alias >= next_auto {
            self.next_auto = alias.saturating_add(1);
        }
    }

    /// The application binds `alias` to `topic` (for this and later connections).
    pub fn choose(&mut self, alias: u16, topic: &ByteString) {
        self.maps().chosen.insert(alias, topic.clone());
    }

    /// The topic the application bound to `alias`, for a publish that names the alias alone.
    pub fn chosen(&self, alias: u16) -> Option<&ByteString> {
        self.maps.as_ref()?.chosen.get(&alias)
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
        assert!(a.topics.is_none(), "a new connection keeps no empty map");
        assert_eq!(a.resolve(1, &empty), Err(AliasError::Unknown));
    }

    #[test]
    fn outbound_aliases_stop_at_the_maximum() {
        let mut a = OutboundAliases::default();
        a.reset(1, true);
        let x = ByteString::from_static("x");
        assert_eq!(a.known(&x), None);
        assert_eq!(a.next_free(), Some(1));
        a.assign(&x, 1);
        assert_eq!(a.known(&x), Some(1));
        assert_eq!(a.next_free(), None);
        a.reset(0, true);
        assert_eq!(a.known(&x), None);
        assert_eq!(a.next_free(), None);
        assert!(a.maps.is_none(), "a new connection keeps no empty maps");
    }

    #[test]
    fn automatic_aliases_skip_the_applications_and_yield_to_them() {
        let mut a = OutboundAliases::default();
        a.reset(3, true);
        let (x, y, z) = (
            ByteString::from_static("x"),
            ByteString::from_static("y"),
            ByteString::from_static("z"),
        );
        a.choose(1, &x);
        assert_eq!(a.next_free(), Some(2));
        a.assign(&y, 2);
        // The application takes alias 2 over: y loses it, and gets no other while 3 is free
        // for the next topic.
        a.choose(2, &z);
        a.assign(&z, 2);
        assert_eq!(a.wire(2), Some(&z));
        assert_eq!(a.known(&y), None);
        assert_eq!(a.next_free(), Some(3));
        // Choices outlive the connection; the wire mapping does not [MQTT-3.3.2-7].
        a.reset(3, false);
        assert_eq!(a.wire(2), None);
        assert_eq!(a.chosen(2), Some(&z));
        assert_eq!(a.next_free(), None);
        assert_eq!(a.known(&z), None);
        assert!(a.maps.is_some(), "the application's choices are kept");
    }
}
