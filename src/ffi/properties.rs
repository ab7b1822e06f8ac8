//! `midge_properties`: a builder of MQTT properties for PUBLISH, SUBSCRIBE, UNSUBSCRIBE,
//! DISCONNECT and the Will.

use std::ffi::{c_char, c_int};

use parking_lot::Mutex;

use super::handle;
use super::ptr::{bytes_arg, str_arg};
use super::result::{FfiError, guard, guard_value, midge_result};
use crate::codec::{ByteString, Bytes, PayloadFormat, Properties, Property, PropertyId, QoS};

/// The MQTT 5.0 property identifiers (2.2.2.2), for `midge_properties_add_*`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum midge_property_id {
    MIDGE_PROPERTY_PAYLOAD_FORMAT_INDICATOR = 0x01,
    MIDGE_PROPERTY_MESSAGE_EXPIRY_INTERVAL = 0x02,
    MIDGE_PROPERTY_CONTENT_TYPE = 0x03,
    MIDGE_PROPERTY_RESPONSE_TOPIC = 0x08,
    MIDGE_PROPERTY_CORRELATION_DATA = 0x09,
    MIDGE_PROPERTY_SUBSCRIPTION_IDENTIFIER = 0x0B,
    MIDGE_PROPERTY_SESSION_EXPIRY_INTERVAL = 0x11,
    MIDGE_PROPERTY_ASSIGNED_CLIENT_IDENTIFIER = 0x12,
    MIDGE_PROPERTY_SERVER_KEEP_ALIVE = 0x13,
    MIDGE_PROPERTY_AUTHENTICATION_METHOD = 0x15,
    MIDGE_PROPERTY_AUTHENTICATION_DATA = 0x16,
    MIDGE_PROPERTY_REQUEST_PROBLEM_INFORMATION = 0x17,
    MIDGE_PROPERTY_WILL_DELAY_INTERVAL = 0x18,
    MIDGE_PROPERTY_REQUEST_RESPONSE_INFORMATION = 0x19,
    MIDGE_PROPERTY_RESPONSE_INFORMATION = 0x1A,
    MIDGE_PROPERTY_SERVER_REFERENCE = 0x1C,
    MIDGE_PROPERTY_REASON_STRING = 0x1F,
    MIDGE_PROPERTY_RECEIVE_MAXIMUM = 0x21,
    MIDGE_PROPERTY_TOPIC_ALIAS_MAXIMUM = 0x22,
    MIDGE_PROPERTY_TOPIC_ALIAS = 0x23,
    MIDGE_PROPERTY_MAXIMUM_QOS = 0x24,
    MIDGE_PROPERTY_RETAIN_AVAILABLE = 0x25,
    MIDGE_PROPERTY_USER_PROPERTY = 0x26,
    MIDGE_PROPERTY_MAXIMUM_PACKET_SIZE = 0x27,
    MIDGE_PROPERTY_WILDCARD_SUBSCRIPTION_AVAILABLE = 0x28,
    MIDGE_PROPERTY_SUBSCRIPTION_IDENTIFIER_AVAILABLE = 0x29,
    MIDGE_PROPERTY_SHARED_SUBSCRIPTION_AVAILABLE = 0x2A,
}

/// A list of MQTT properties being built, passed to publish, subscribe, unsubscribe,
/// disconnect and `midge_options_set_will`. Which properties a packet may carry is checked
/// when it is used (`MIDGE_RESULT_INVALID_PROPERTY`).
///
/// Methods: `midge_properties_new`, `midge_properties_free`, `midge_properties_add_int`,
/// `midge_properties_add_string`, `midge_properties_add_binary`,
/// `midge_properties_add_user_property`, `midge_properties_count`, `midge_properties_clear`.
#[derive(Debug, Default)]
pub struct midge_properties {
    pub(crate) list: Mutex<Properties>,
}

/// The properties behind a handle; NULL means none.
pub(crate) fn properties_arg(p: *const midge_properties) -> Result<Properties, FfiError> {
    if p.is_null() {
        return Ok(Properties::new());
    }
    let p = handle::get(p).ok_or_else(|| FfiError::stale("properties"))?;
    Ok(p.list.lock().clone())
}

fn builder(p: *mut midge_properties) -> Result<std::sync::Arc<midge_properties>, FfiError> {
    if p.is_null() {
        return Err(FfiError::null("properties"));
    }
    handle::get(p.cast_const()).ok_or_else(|| FfiError::stale("properties"))
}

fn property_id(id: c_int) -> Result<PropertyId, FfiError> {
    u8::try_from(id)
        .ok()
        .and_then(PropertyId::from_u8)
        .ok_or_else(|| FfiError::Invalid(format!("unknown property identifier {id}")))
}

fn kind_error(id: PropertyId, kind: &str) -> FfiError {
    FfiError::Invalid(format!("{id:?} is not a{kind} property"))
}

fn int_property(id: PropertyId, v: u32) -> Result<Property, FfiError> {
    use PropertyId as I;
    let u16v = || u16::try_from(v).map_err(|_| FfiError::Invalid(format!("{id:?}: {v} > 65535")));
    let flag = || match v {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FfiError::Invalid(format!("{id:?} must be 0 or 1"))),
    };
    Ok(match id {
        I::PayloadFormatIndicator => Property::PayloadFormatIndicator(match v {
            0 => PayloadFormat::Unspecified,
            1 => PayloadFormat::Utf8,
            _ => return Err(FfiError::Invalid("payload format must be 0 or 1".into())),
        }),
        I::MessageExpiryInterval => Property::MessageExpiryInterval(v),
        I::SubscriptionIdentifier => Property::SubscriptionIdentifier(v),
        I::SessionExpiryInterval => Property::SessionExpiryInterval(v),
        I::ServerKeepAlive => Property::ServerKeepAlive(u16v()?),
        I::RequestProblemInformation => Property::RequestProblemInformation(flag()?),
        I::WillDelayInterval => Property::WillDelayInterval(v),
        I::RequestResponseInformation => Property::RequestResponseInformation(flag()?),
        I::ReceiveMaximum => Property::ReceiveMaximum(u16v()?),
        I::TopicAliasMaximum => Property::TopicAliasMaximum(u16v()?),
        I::TopicAlias => Property::TopicAlias(u16v()?),
        I::MaximumQos => Property::MaximumQos(match v {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => return Err(FfiError::Invalid("maximum QoS must be 0 or 1".into())),
        }),
        I::RetainAvailable => Property::RetainAvailable(flag()?),
        I::MaximumPacketSize => Property::MaximumPacketSize(v),
        I::WildcardSubscriptionAvailable => Property::WildcardSubscriptionAvailable(flag()?),
        I::SubscriptionIdentifierAvailable => Property::SubscriptionIdentifierAvailable(flag()?),
        I::SharedSubscriptionAvailable => Property::SharedSubscriptionAvailable(flag()?),
        _ => return Err(kind_error(id, "n integer")),
    })
}

fn string_property(id: PropertyId, v: &str) -> Result<Property, FfiError> {
    use PropertyId as I;
    let s = ByteString::from(v);
    Ok(match id {
        I::ContentType => Property::ContentType(s),
        I::ResponseTopic => Property::ResponseTopic(s),
        I::AssignedClientIdentifier => Property::AssignedClientIdentifier(s),
        I::AuthenticationMethod => Property::AuthenticationMethod(s),
        I::ResponseInformation => Property::ResponseInformation(s),
        I::ServerReference => Property::ServerReference(s),
        I::ReasonString => Property::ReasonString(s),
        _ => return Err(kind_error(id, " string")),
    })
}

fn binary_property(id: PropertyId, v: &[u8]) -> Result<Property, FfiError> {
    let b = Bytes::copy_from_slice(v);
    match id {
        PropertyId::CorrelationData => Ok(Property::CorrelationData(b)),
        PropertyId::AuthenticationData => Ok(Property::AuthenticationData(b)),
        _ => Err(kind_error(id, " binary")),
    }
}

/// A new, empty property list. Free it with `midge_properties_free`. NULL only when out of
/// memory.
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_new() -> *mut midge_properties {
    guard_value(std::ptr::null_mut(), || {
        handle::new(midge_properties::default())
    })
}

/// Frees the property list in `*properties` and sets `*properties` to NULL. NULL and a list
/// freed before (through any copy) are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_free(properties: *mut *mut midge_properties) {
    guard_value((), || drop(handle::free(properties)));
}

/// Adds an integer property (byte, two-byte, four-byte or variable byte integer; flags as 0
/// or 1). `MIDGE_RESULT_INVALID_ARGUMENT` for a non-integer property or a value out of its
/// range.
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_add_int(
    properties: *mut midge_properties,
    id: c_int,
    value: u32,
) -> midge_result {
    guard(|| {
        let p = builder(properties)?;
        let property = int_property(property_id(id)?, value)?;
        p.list.lock().push(property);
        Ok(())
    })
}

/// Adds a UTF-8 string property (content type, response topic, reason string, ...).
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_add_string(
    properties: *mut midge_properties,
    id: c_int,
    value: *const c_char,
) -> midge_result {
    guard(|| {
        let p = builder(properties)?;
        let property = string_property(property_id(id)?, str_arg(value, "value")?)?;
        p.list.lock().push(property);
        Ok(())
    })
}

/// Adds a binary property (correlation data, authentication data); the bytes are copied.
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_add_binary(
    properties: *mut midge_properties,
    id: c_int,
    data: *const u8,
    len: usize,
) -> midge_result {
    guard(|| {
        let p = builder(properties)?;
        let property = binary_property(property_id(id)?, bytes_arg(data, len, "data")?)?;
        p.list.lock().push(property);
        Ok(())
    })
}

/// Adds a User Property (a name/value pair; may repeat).
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_add_user_property(
    properties: *mut midge_properties,
    name: *const c_char,
    value: *const c_char,
) -> midge_result {
    guard(|| {
        let p = builder(properties)?;
        let name = ByteString::from(str_arg(name, "name")?);
        let value = ByteString::from(str_arg(value, "value")?);
        p.list.lock().push(Property::UserProperty(name, value));
        Ok(())
    })
}

/// How many properties the list holds (0 for NULL or a freed list).
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_count(properties: *const midge_properties) -> usize {
    guard_value(0, || {
        handle::get(properties).map_or(0, |p| p.list.lock().len())
    })
}

/// Empties the list, for reuse.
#[unsafe(no_mangle)]
pub extern "C" fn midge_properties_clear(properties: *mut midge_properties) -> midge_result {
    guard(|| {
        *builder(properties)?.list.lock() = Properties::new();
        Ok(())
    })
}
