//! The 27 properties of MQTT 5.0 (2.2.2.2) as typed values, with the rules of which packet may
//! carry each, which may repeat, and which values are allowed. The same rules run on decode
//! and on encode, so midge neither accepts nor sends a packet the standard forbids.

use bytes::Bytes;
use bytestring::ByteString;

use super::QoS;
use super::error::CodecError;
use super::primitives::{
    Reader, VAR_INT_MAX, check_binary, check_str, put_binary, put_str, put_u16, put_u32,
    put_var_int, var_int_len,
};
use super::topic::validate_topic_name;

/// Where a property list sits: a packet, or the Will Properties inside CONNECT (3.1.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PropertyContext {
    Connect,
    Will,
    ConnAck,
    Publish,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

/// A property identifier (2.2.2.2, Table 2-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PropertyId {
    PayloadFormatIndicator = 0x01,
    MessageExpiryInterval = 0x02,
    ContentType = 0x03,
    ResponseTopic = 0x08,
    CorrelationData = 0x09,
    SubscriptionIdentifier = 0x0B,
    SessionExpiryInterval = 0x11,
    AssignedClientIdentifier = 0x12,
    ServerKeepAlive = 0x13,
    AuthenticationMethod = 0x15,
    AuthenticationData = 0x16,
    RequestProblemInformation = 0x17,
    WillDelayInterval = 0x18,
    RequestResponseInformation = 0x19,
    ResponseInformation = 0x1A,
    ServerReference = 0x1C,
    ReasonString = 0x1F,
    ReceiveMaximum = 0x21,
    TopicAliasMaximum = 0x22,
    TopicAlias = 0x23,
    MaximumQos = 0x24,
    RetainAvailable = 0x25,
    UserProperty = 0x26,
    MaximumPacketSize = 0x27,
    WildcardSubscriptionAvailable = 0x28,
    SubscriptionIdentifierAvailable = 0x29,
    SharedSubscriptionAvailable = 0x2A,
}

impl PropertyId {
    /// All 27 identifiers in ascending order.
    pub const ALL: [Self; 27] = [
        Self::PayloadFormatIndicator,
        Self::MessageExpiryInterval,
        Self::ContentType,
        Self::ResponseTopic,
        Self::CorrelationData,
        Self::SubscriptionIdentifier,
        Self::SessionExpiryInterval,
        Self::AssignedClientIdentifier,
        Self::ServerKeepAlive,
        Self::AuthenticationMethod,
        Self::AuthenticationData,
        Self::RequestProblemInformation,
        Self::WillDelayInterval,
        Self::RequestResponseInformation,
        Self::ResponseInformation,
        Self::ServerReference,
        Self::ReasonString,
        Self::ReceiveMaximum,
        Self::TopicAliasMaximum,
        Self::TopicAlias,
        Self::MaximumQos,
        Self::RetainAvailable,
        Self::UserProperty,
        Self::MaximumPacketSize,
        Self::WildcardSubscriptionAvailable,
        Self::SubscriptionIdentifierAvailable,
        Self::SharedSubscriptionAvailable,
    ];

    /// The identifier for a wire value, or `None` for one the standard does not define.
    pub fn from_u8(value: u8) -> Option<Self> {
        Self::ALL.iter().copied().find(|id| *id as u8 == value)
    }

    /// Whether a packet (or the Will Properties) may carry this property (Table 2-4).
    pub fn allowed_in(self, context: PropertyContext) -> bool {
        use PropertyContext as C;
        match self {
            Self::PayloadFormatIndicator
            | Self::MessageExpiryInterval
            | Self::ContentType
            | Self::ResponseTopic
            | Self::CorrelationData => matches!(context, C::Publish | C::Will),
            Self::SubscriptionIdentifier => matches!(context, C::Publish | C::Subscribe),
            Self::SessionExpiryInterval => {
                matches!(context, C::Connect | C::ConnAck | C::Disconnect)
            }
            Self::AssignedClientIdentifier
            | Self::ServerKeepAlive
            | Self::ResponseInformation
            | Self::MaximumQos
            | Self::RetainAvailable
            | Self::WildcardSubscriptionAvailable
            | Self::SubscriptionIdentifierAvailable
            | Self::SharedSubscriptionAvailable => context == C::ConnAck,
            Self::AuthenticationMethod | Self::AuthenticationData => {
                matches!(context, C::Connect | C::ConnAck | C::Auth)
            }
            Self::RequestProblemInformation | Self::RequestResponseInformation => {
                context == C::Connect
            }
            Self::WillDelayInterval => context == C::Will,
            Self::ServerReference => matches!(context, C::ConnAck | C::Disconnect),
            Self::ReasonString => !matches!(
                context,
                C::Connect | C::Will | C::Publish | C::Subscribe | C::Unsubscribe
            ),
            Self::ReceiveMaximum | Self::TopicAliasMaximum | Self::MaximumPacketSize => {
                matches!(context, C::Connect | C::ConnAck)
            }
            Self::TopicAlias => context == C::Publish,
            Self::UserProperty => true,
        }
    }

    /// Whether this property may appear more than once: User Property anywhere, Subscription
    /// Identifier only in PUBLISH (3.3.2.3.8; once in SUBSCRIBE, 3.8.2.1.2).
    pub fn may_repeat_in(self, context: PropertyContext) -> bool {
        match self {
            Self::UserProperty => true,
            Self::SubscriptionIdentifier => context == PropertyContext::Publish,
            _ => false,
        }
    }
}

/// Payload Format Indicator (3.3.2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum PayloadFormat {
    /// Unspecified bytes.
    #[default]
    Unspecified = 0,
    /// UTF-8 Encoded Character Data.
    Utf8 = 1,
}

/// One property with its typed value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Property {
    PayloadFormatIndicator(PayloadFormat),
    MessageExpiryInterval(u32),
    ContentType(ByteString),
    ResponseTopic(ByteString),
    CorrelationData(Bytes),
    /// 1..=268,435,455 (3.8.2.1.2).
    SubscriptionIdentifier(u32),
    SessionExpiryInterval(u32),
    AssignedClientIdentifier(ByteString),
    ServerKeepAlive(u16),
    AuthenticationMethod(ByteString),
    AuthenticationData(Bytes),
    RequestProblemInformation(bool),
    WillDelayInterval(u32),
    RequestResponseInformation(bool),
    ResponseInformation(ByteString),
    ServerReference(ByteString),
    ReasonString(ByteString),
    /// Non-zero (3.1.2.11.3).
    ReceiveMaximum(u16),
    TopicAliasMaximum(u16),
    /// Non-zero [MQTT-3.3.2-8].
    TopicAlias(u16),
    /// 0 or 1 only (3.2.2.3.4).
    MaximumQos(QoS),
    RetainAvailable(bool),
    UserProperty(ByteString, ByteString),
    /// Non-zero (3.1.2.11.4).
    MaximumPacketSize(u32),
    WildcardSubscriptionAvailable(bool),
    SubscriptionIdentifierAvailable(bool),
    SharedSubscriptionAvailable(bool),
}

impl Property {
    pub fn id(&self) -> PropertyId {
        use PropertyId as I;
        match self {
            Self::PayloadFormatIndicator(_) => I::PayloadFormatIndicator,
            Self::MessageExpiryInterval(_) => I::MessageExpiryInterval,
            Self::ContentType(_) => I::ContentType,
            Self::ResponseTopic(_) => I::ResponseTopic,
            Self::CorrelationData(_) => I::CorrelationData,
            Self::SubscriptionIdentifier(_) => I::SubscriptionIdentifier,
            Self::SessionExpiryInterval(_) => I::SessionExpiryInterval,
            Self::AssignedClientIdentifier(_) => I::AssignedClientIdentifier,
            Self::ServerKeepAlive(_) => I::ServerKeepAlive,
            Self::AuthenticationMethod(_) => I::AuthenticationMethod,
            Self::AuthenticationData(_) => I::AuthenticationData,
            Self::RequestProblemInformation(_) => I::RequestProblemInformation,
            Self::WillDelayInterval(_) => I::WillDelayInterval,
            Self::RequestResponseInformation(_) => I::RequestResponseInformation,
            Self::ResponseInformation(_) => I::ResponseInformation,
            Self::ServerReference(_) => I::ServerReference,
            Self::ReasonString(_) => I::ReasonString,
            Self::ReceiveMaximum(_) => I::ReceiveMaximum,
            Self::TopicAliasMaximum(_) => I::TopicAliasMaximum,
            Self::TopicAlias(_) => I::TopicAlias,
            Self::MaximumQos(_) => I::MaximumQos,
            Self::RetainAvailable(_) => I::RetainAvailable,
            Self::UserProperty(..) => I::UserProperty,
            Self::MaximumPacketSize(_) => I::MaximumPacketSize,
            Self::WildcardSubscriptionAvailable(_) => I::WildcardSubscriptionAvailable,
            Self::SubscriptionIdentifierAvailable(_) => I::SubscriptionIdentifierAvailable,
            Self::SharedSubscriptionAvailable(_) => I::SharedSubscriptionAvailable,
        }
    }

    /// The value's encoded size, without the identifier byte.
    fn value_len(&self) -> usize {
        match self {
            Self::PayloadFormatIndicator(_)
            | Self::RequestProblemInformation(_)
            | Self::RequestResponseInformation(_)
            | Self::MaximumQos(_)
            | Self::RetainAvailable(_)
            | Self::WildcardSubscriptionAvailable(_)
            | Self::SubscriptionIdentifierAvailable(_)
            | Self::SharedSubscriptionAvailable(_) => 1,
            Self::ServerKeepAlive(_)
            | Self::ReceiveMaximum(_)
            | Self::TopicAliasMaximum(_)
            | Self::TopicAlias(_) => 2,
            Self::MessageExpiryInterval(_)
            | Self::SessionExpiryInterval(_)
            | Self::WillDelayInterval(_)
            | Self::MaximumPacketSize(_) => 4,
            Self::SubscriptionIdentifier(v) => var_int_len(*v),
            Self::ContentType(s)
            | Self::ResponseTopic(s)
            | Self::AssignedClientIdentifier(s)
            | Self::AuthenticationMethod(s)
            | Self::ResponseInformation(s)
            | Self::ServerReference(s)
            | Self::ReasonString(s) => 2 + s.len(),
            Self::CorrelationData(b) | Self::AuthenticationData(b) => 2 + b.len(),
            Self::UserProperty(k, v) => 4 + k.len() + v.len(),
        }
    }

    /// The value rules beyond the wire type, shared by decode and encode.
    fn check_value(&self) -> Result<(), CodecError> {
        let invalid = |value: u32| {
            Err(CodecError::InvalidPropertyValue {
                property: self.id(),
                value,
            })
        };
        match self {
            Self::ReceiveMaximum(0) | Self::MaximumPacketSize(0) => invalid(0),
            Self::TopicAlias(0) => Err(CodecError::TopicAliasZero),
            Self::SubscriptionIdentifier(v) if *v == 0 || *v > VAR_INT_MAX => invalid(*v),
            Self::MaximumQos(QoS::ExactlyOnce) => invalid(2),
            // [MQTT-3.3.2-14] the Response Topic is a Topic Name: no wildcards.
            Self::ResponseTopic(topic) => {
                validate_topic_name(topic).map_err(CodecError::InvalidTopicName)
            }
            _ => Ok(()),
        }
    }

    fn write(&self, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        buf.push(self.id() as u8);
        match self {
            Self::PayloadFormatIndicator(v) => buf.push(*v as u8),
            Self::MaximumQos(v) => buf.push(*v as u8),
            Self::RequestProblemInformation(v)
            | Self::RequestResponseInformation(v)
            | Self::RetainAvailable(v)
            | Self::WildcardSubscriptionAvailable(v)
            | Self::SubscriptionIdentifierAvailable(v)
            | Self::SharedSubscriptionAvailable(v) => buf.push(u8::from(*v)),
            Self::ServerKeepAlive(v)
            | Self::ReceiveMaximum(v)
            | Self::TopicAliasMaximum(v)
            | Self::TopicAlias(v) => put_u16(buf, *v),
            Self::MessageExpiryInterval(v)
            | Self::SessionExpiryInterval(v)
            | Self::WillDelayInterval(v)
            | Self::MaximumPacketSize(v) => put_u32(buf, *v),
            Self::SubscriptionIdentifier(v) => put_var_int(buf, *v)?,
            Self::ContentType(s)
            | Self::ResponseTopic(s)
            | Self::AssignedClientIdentifier(s)
            | Self::AuthenticationMethod(s)
            | Self::ResponseInformation(s)
            | Self::ServerReference(s)
            | Self::ReasonString(s) => put_str(buf, property_field(self.id()), s)?,
            Self::CorrelationData(b) | Self::AuthenticationData(b) => {
                put_binary(buf, property_field(self.id()), b)?;
            }
            Self::UserProperty(k, v) => {
                put_str(buf, "user property name", k)?;
                put_str(buf, "user property value", v)?;
            }
        }
        Ok(())
    }

    fn read(reader: &mut Reader) -> Result<Self, CodecError> {
        use PropertyId as I;
        let raw = reader.var_int("property identifier")?;
        let id = u8::try_from(raw)
            .ok()
            .and_then(PropertyId::from_u8)
            .ok_or(CodecError::UnknownProperty { id: raw })?;
        let field = property_field(id);
        let flag = |reader: &mut Reader| -> Result<bool, CodecError> {
            match reader.u8(field)? {
                0 => Ok(false),
                1 => Ok(true),
                v => Err(CodecError::InvalidPropertyValue {
                    property: id,
                    value: u32::from(v),
                }),
            }
        };
        Ok(match id {
            I::PayloadFormatIndicator => match reader.u8(field)? {
                0 => Self::PayloadFormatIndicator(PayloadFormat::Unspecified),
                1 => Self::PayloadFormatIndicator(PayloadFormat::Utf8),
                v => {
                    return Err(CodecError::InvalidPropertyValue {
                        property: id,
                        value: u32::from(v),
                    });
                }
            },
            I::MessageExpiryInterval => Self::MessageExpiryInterval(reader.u32(field)?),
            I::ContentType => Self::ContentType(reader.string(field)?),
            I::ResponseTopic => Self::ResponseTopic(reader.string(field)?),
            I::CorrelationData => Self::CorrelationData(reader.binary(field)?),
            I::SubscriptionIdentifier => Self::SubscriptionIdentifier(reader.var_int(field)?),
            I::SessionExpiryInterval => Self::SessionExpiryInterval(reader.u32(field)?),
            I::AssignedClientIdentifier => Self::AssignedClientIdentifier(reader.string(field)?),
            I::ServerKeepAlive => Self::ServerKeepAlive(reader.u16(field)?),
            I::AuthenticationMethod => Self::AuthenticationMethod(reader.string(field)?),
            I::AuthenticationData => Self::AuthenticationData(reader.binary(field)?),
            I::RequestProblemInformation => Self::RequestProblemInformation(flag(reader)?),
            I::WillDelayInterval => Self::WillDelayInterval(reader.u32(field)?),
            I::RequestResponseInformation => Self::RequestResponseInformation(flag(reader)?),
            I::ResponseInformation => Self::ResponseInformation(reader.string(field)?),
            I::ServerReference => Self::ServerReference(reader.string(field)?),
            I::ReasonString => Self::ReasonString(reader.string(field)?),
            I::ReceiveMaximum => Self::ReceiveMaximum(reader.u16(field)?),
            I::TopicAliasMaximum => Self::TopicAliasMaximum(reader.u16(field)?),
            I::TopicAlias => Self::TopicAlias(reader.u16(field)?),
            I::MaximumQos => match reader.u8(field)? {
                0 => Self::MaximumQos(QoS::AtMostOnce),
                1 => Self::MaximumQos(QoS::AtLeastOnce),
                v => {
                    return Err(CodecError::InvalidPropertyValue {
                        property: id,
                        value: u32::from(v),
                    });
                }
            },
            I::RetainAvailable => Self::RetainAvailable(flag(reader)?),
            I::UserProperty => Self::UserProperty(
                reader.string("user property name")?,
                reader.string("user property value")?,
            ),
            I::MaximumPacketSize => Self::MaximumPacketSize(reader.u32(field)?),
            I::WildcardSubscriptionAvailable => Self::WildcardSubscriptionAvailable(flag(reader)?),
            I::SubscriptionIdentifierAvailable => {
                Self::SubscriptionIdentifierAvailable(flag(reader)?)
            }
            I::SharedSubscriptionAvailable => Self::SharedSubscriptionAvailable(flag(reader)?),
        })
    }
}

/// The field name errors use for a property's value.
fn property_field(id: PropertyId) -> &'static str {
    use PropertyId as I;
    match id {
        I::PayloadFormatIndicator => "Payload Format Indicator",
        I::MessageExpiryInterval => "Message Expiry Interval",
        I::ContentType => "Content Type",
        I::ResponseTopic => "Response Topic",
        I::CorrelationData => "Correlation Data",
        I::SubscriptionIdentifier => "Subscription Identifier",
        I::SessionExpiryInterval => "Session Expiry Interval",
        I::AssignedClientIdentifier => "Assigned Client Identifier",
        I::ServerKeepAlive => "Server Keep Alive",
        I::AuthenticationMethod => "Authentication Method",
        I::AuthenticationData => "Authentication Data",
        I::RequestProblemInformation => "Request Problem Information",
        I::WillDelayInterval => "Will Delay Interval",
        I::RequestResponseInformation => "Request Response Information",
        I::ResponseInformation => "Response Information",
        I::ServerReference => "Server Reference",
        I::ReasonString => "Reason String",
        I::ReceiveMaximum => "Receive Maximum",
        I::TopicAliasMaximum => "Topic Alias Maximum",
        I::TopicAlias => "Topic Alias",
        I::MaximumQos => "Maximum QoS",
        I::RetainAvailable => "Retain Available",
        I::UserProperty => "User Property",
        I::MaximumPacketSize => "Maximum Packet Size",
        I::WildcardSubscriptionAvailable => "Wildcard Subscription Available",
        I::SubscriptionIdentifierAvailable => "Subscription Identifier Available",
        I::SharedSubscriptionAvailable => "Shared Subscription Available",
    }
}

/// A packet's property list, in wire order. Empty lists do not allocate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Properties {
    items: Vec<Property>,
}

impl Properties {
    pub const fn new() -> Self {
        Self { items: Vec::new() }
    }

    /// Appends a property. Rules are checked when the packet is encoded.
    pub fn push(&mut self, property: Property) {
        self.items.push(property);
    }

    /// Builder form of [`Properties::push`].
    #[must_use]
    pub fn with(mut self, property: Property) -> Self {
        self.items.push(property);
        self
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Property> {
        self.items.iter()
    }

    /// Mutable access to the values; identifiers cannot change, so rules are kept.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Property> {
        self.items.iter_mut()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn as_slice(&self) -> &[Property] {
        &self.items
    }

    /// The first property with this identifier.
    pub fn get(&self, id: PropertyId) -> Option<&Property> {
        self.items.iter().find(|p| p.id() == id)
    }

    /// The first UTF-8 string property with this identifier (Content Type, Reason String, ...).
    pub fn get_str(&self, id: PropertyId) -> Option<&ByteString> {
        match self.get(id)? {
            Property::ContentType(s)
            | Property::ResponseTopic(s)
            | Property::AssignedClientIdentifier(s)
            | Property::AuthenticationMethod(s)
            | Property::ResponseInformation(s)
            | Property::ServerReference(s)
            | Property::ReasonString(s) => Some(s),
            _ => None,
        }
    }

    /// The first Binary Data property with this identifier (Correlation or Authentication Data).
    pub fn get_binary(&self, id: PropertyId) -> Option<&Bytes> {
        match self.get(id)? {
            Property::CorrelationData(b) | Property::AuthenticationData(b) => Some(b),
            _ => None,
        }
    }

    /// The first integer-valued property with this identifier, widened to `u32` (flags,
    /// QoS and the payload format as their wire values).
    pub fn get_int(&self, id: PropertyId) -> Option<u32> {
        match *self.get(id)? {
            Property::MessageExpiryInterval(v)
            | Property::SubscriptionIdentifier(v)
            | Property::SessionExpiryInterval(v)
            | Property::WillDelayInterval(v)
            | Property::MaximumPacketSize(v) => Some(v),
            Property::ServerKeepAlive(v)
            | Property::ReceiveMaximum(v)
            | Property::TopicAliasMaximum(v)
            | Property::TopicAlias(v) => Some(u32::from(v)),
            Property::PayloadFormatIndicator(f) => Some(f as u32),
            Property::MaximumQos(q) => Some(q as u32),
            Property::RequestProblemInformation(b)
            | Property::RequestResponseInformation(b)
            | Property::RetainAvailable(b)
            | Property::WildcardSubscriptionAvailable(b)
            | Property::SubscriptionIdentifierAvailable(b)
            | Property::SharedSubscriptionAvailable(b) => Some(u32::from(b)),
            _ => None,
        }
    }

    /// Removes every property with this identifier.
    pub fn remove(&mut self, id: PropertyId) {
        self.items.retain(|p| p.id() != id);
    }

    /// The User Properties as (name, value), in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((&**k, &**v)),
            _ => None,
        })
    }

    /// The Subscription Identifiers, in order.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.items.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(v) => Some(*v),
            _ => None,
        })
    }

    /// The Property Length: the encoded size of the list without its own length prefix.
    pub fn encoded_len(&self) -> usize {
        self.items.iter().map(|p| 1 + p.value_len()).sum()
    }

    /// The size on the wire including the Property Length prefix.
    pub fn wire_len(&self) -> usize {
        let len = self.encoded_len();
        var_int_len(len as u32) + len
    }

    /// Checks every rule of 2.2.2.2 for this context: allowed here, repeated only where
    /// allowed, values in range, strings and binaries within their limits.
    pub fn validate(&self, context: PropertyContext) -> Result<(), CodecError> {
        let mut seen: u64 = 0;
        for p in &self.items {
            check_placement(p.id(), context, &mut seen)?;
            p.check_value()?;
            match p {
                Property::ContentType(s)
                | Property::ResponseTopic(s)
                | Property::AssignedClientIdentifier(s)
                | Property::AuthenticationMethod(s)
                | Property::ResponseInformation(s)
                | Property::ServerReference(s)
                | Property::ReasonString(s) => check_str(property_field(p.id()), s)?,
                Property::CorrelationData(b) | Property::AuthenticationData(b) => {
                    check_binary(property_field(p.id()), b)?;
                }
                Property::UserProperty(k, v) => {
                    check_str("user property name", k)?;
                    check_str("user property value", v)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Appends the Property Length and the properties, after [`Properties::validate`].
    pub fn encode(&self, context: PropertyContext, buf: &mut Vec<u8>) -> Result<(), CodecError> {
        self.validate(context)?;
        put_var_int(buf, self.encoded_len() as u32)?;
        for p in &self.items {
            p.write(buf)?;
        }
        Ok(())
    }

    /// Reads a Property Length and that many bytes of properties, checking every rule.
    pub fn decode(reader: &mut Reader, context: PropertyContext) -> Result<Self, CodecError> {
        let len = reader.var_int("property length")? as usize;
        if len == 0 {
            return Ok(Self::new());
        }
        let mut inner = Reader::new(reader.take("properties", len)?);
        let mut items = Vec::new();
        let mut seen: u64 = 0;
        while !inner.is_empty() {
            let p = Property::read(&mut inner)?;
            check_placement(p.id(), context, &mut seen)?;
            p.check_value()?;
            items.push(p);
        }
        // The list lives as long as the message: no slack from growing it by doubling (up
        // to 72 bytes per unused slot). Small lists keep theirs rather than reallocate.
        if items.capacity() - items.len() > 16 {
            items.shrink_to_fit();
        }
        Ok(Self { items })
    }
}

fn check_placement(
    property: PropertyId,
    context: PropertyContext,
    seen: &mut u64,
) -> Result<(), CodecError> {
    if !property.allowed_in(context) {
        return Err(CodecError::PropertyNotAllowed { property, context });
    }
    let bit = 1u64 << (property as u8);
    if *seen & bit != 0 && !property.may_repeat_in(context) {
        return Err(CodecError::DuplicateProperty { property, context });
    }
    *seen |= bit;
    Ok(())
}

impl From<Vec<Property>> for Properties {
    fn from(items: Vec<Property>) -> Self {
        Self { items }
    }
}

impl FromIterator<Property> for Properties {
    fn from_iter<T: IntoIterator<Item = Property>>(iter: T) -> Self {
        Self {
            items: iter.into_iter().collect(),
        }
    }
}

impl<'a> IntoIterator for &'a mut Properties {
    type Item = &'a mut Property;
    type IntoIter = std::slice::IterMut<'a, Property>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = &'a Property;
    type IntoIter = std::slice::Iter<'a, Property>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: user properties cost about 10 times their wire size. Each decoded property
    /// is a 72-byte `Property` sharing the packet's bytes (no copy); the list itself was
    /// grown by doubling and kept its slack (131,072 slots for 100,000 properties). Now it
    /// holds exactly its properties.
    #[test]
    fn a_decoded_property_list_keeps_no_slack() {
        const N: usize = 100_000;
        let props: Properties = (0..N)
            .map(|_| Property::UserProperty("k".into(), "v".into()))
            .collect();
        let mut wire = Vec::new();
        props.encode(PropertyContext::Publish, &mut wire).unwrap();
        let mut reader = Reader::new(Bytes::from(wire));
        let decoded = Properties::decode(&mut reader, PropertyContext::Publish).unwrap();
        assert_eq!(decoded.len(), N);
        assert_eq!(decoded.items.capacity(), N, "slots for {N} properties");
    }

    #[test]
    fn there_are_27_distinct_identifiers() {
        for (i, id) in PropertyId::ALL.iter().enumerate() {
            assert_eq!(PropertyId::from_u8(*id as u8), Some(*id));
            assert!(PropertyId::ALL[..i].iter().all(|other| other != id));
        }
        assert_eq!(PropertyId::from_u8(0x00), None);
        assert_eq!(PropertyId::from_u8(0x04), None);
        assert_eq!(PropertyId::from_u8(0x2B), None);
    }

    #[test]
    fn table_2_4_counts_per_context() {
        use PropertyContext as C;
        // Counted from Table 2-4 of 2.2.2.2.
        let expected = [
            (C::Connect, 9),
            (C::Will, 7),
            (C::ConnAck, 17),
            (C::Publish, 8),
            (C::PubAck, 2),
            (C::PubRec, 2),
            (C::PubRel, 2),
            (C::PubComp, 2),
            (C::Subscribe, 2),
            (C::SubAck, 2),
            (C::Unsubscribe, 1),
            (C::UnsubAck, 2),
            (C::Disconnect, 4),
            (C::Auth, 4),
        ];
        for (context, count) in expected {
            let n = PropertyId::ALL
                .iter()
                .filter(|id| id.allowed_in(context))
                .count();
            assert_eq!(n, count, "{context:?}");
        }
    }
}
