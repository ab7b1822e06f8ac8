//! `midge_ack`: how a request ended, with everything the server's acknowledgement carried.
//! One object for the three places that report an end: the `on_publish`, `on_subscribe` and
//! `on_unsubscribe` callbacks, completion events and completion handles.

use std::ffi::c_char;
use std::sync::Arc;

use super::handle::{self, read, read_opt};
use super::properties_view::{
    PropertyView, count_users, midge_property, property_at, user_property,
};
use super::ptr::write_opt;
use super::result::{MIDGE_RESULT_INVALID_ARGUMENT, MIDGE_RESULT_OK, midge_result, request_result};
use crate::codec::{Properties, PropertyId};
use crate::protocol::{PublishAck, RequestError, SubscribeAck, UnsubscribeAck};

/// How a request (publish, subscribe, unsubscribe, connect, disconnect) ended: its result,
/// the packet identifier, the reason codes and the properties of the acknowledgement
/// (PUBACK/PUBREC/PUBCOMP, SUBACK, UNSUBACK, or the refusing CONNACK). Lent: for the
/// callback's call, or as long as the event or completion that gives it.
///
/// Methods: `midge_ack_id`, `midge_ack_result`, `midge_ack_packet_id`,
/// `midge_ack_reason_code`, `midge_ack_reason_codes`, `midge_ack_reason_string`,
/// `midge_ack_user_property_count`, `midge_ack_user_property`, `midge_ack_property_count`,
/// `midge_ack_property_at`.
#[derive(Debug)]
pub struct midge_ack {
    id: u64,
    result: midge_result,
    packet_id: Option<u16>,
    reason_codes: Vec<u8>,
    view: PropertyView,
}

/// What the three acknowledgements (PUBACK/PUBREC/PUBCOMP, SUBACK, UNSUBACK) give C.
pub(crate) trait Acked {
    fn packet_id(&self) -> u16;
    fn reason_codes(&self) -> Vec<u8>;
    fn properties(&self) -> &Properties;
}

impl Acked for PublishAck {
    fn packet_id(&self) -> u16 {
        self.packet_id
    }
    fn reason_codes(&self) -> Vec<u8> {
        vec![self.reason.code()]
    }
    fn properties(&self) -> &Properties {
        &self.properties
    }
}

/// SUBACK and UNSUBACK: one reason code per filter.
macro_rules! acked_per_filter {
    ($($ack:ty),*) => {$(
        impl Acked for $ack {
            fn packet_id(&self) -> u16 {
                self.packet_id
            }
            fn reason_codes(&self) -> Vec<u8> {
                self.reason_codes.iter().map(|c| c.as_u8()).collect()
            }
            fn properties(&self) -> &Properties {
                &self.properties
            }
        }
    )*};
}
acked_per_filter!(SubscribeAck, UnsubscribeAck);

impl midge_ack {
    /// A request that ended with `result` (no acknowledgement, or one that carried only
    /// `reason_codes` and `properties`).
    pub(crate) fn new(
        id: u64,
        result: midge_result,
        reason_codes: Vec<u8>,
        properties: Properties,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            result,
            packet_id: None,
            reason_codes,
            view: PropertyView::new(properties),
        })
    }

    /// A request its acknowledgement ended.
    pub(crate) fn acked<A: Acked>(id: u64, ack: &A) -> Arc<Self> {
        Arc::new(Self {
            id,
            result: MIDGE_RESULT_OK,
            packet_id: Some(ack.packet_id()).filter(|&p| p != 0),
            reason_codes: ack.reason_codes(),
            view: PropertyView::new(ack.properties().clone()),
        })
    }

    /// The end of a publish, subscribe or unsubscribe; a refused publish keeps its code.
    pub(crate) fn outcome<A: Acked>(id: u64, r: &Result<A, RequestError>) -> Arc<Self> {
        match r {
            Ok(ack) => Self::acked(id, ack),
            Err(e) => {
                let codes = match e {
                    RequestError::Refused(a) => vec![a.code()],
                    _ => Vec::new(),
                };
                Self::new(id, request_result(e), codes, Properties::new())
            }
        }
    }
}

/// The request's id (as `midge_completion_id`), or 0 for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_id(ack: *const midge_ack) -> u64 {
    read(ack, 0, |a| a.id)
}

/// The request's result: `MIDGE_RESULT_OK`, or why it failed (e.g. `MIDGE_RESULT_REFUSED`
/// for a PUBACK with a failure code). `MIDGE_RESULT_INVALID_ARGUMENT` for a dead handle.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_result(ack: *const midge_ack) -> midge_result {
    read(ack, MIDGE_RESULT_INVALID_ARGUMENT, |a| a.result)
}

/// The packet identifier the request used to `packet_id`; false when it had none (QoS 0,
/// or it failed before it was sent).
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_packet_id(ack: *const midge_ack, packet_id: *mut u16) -> bool {
    read_opt(ack, packet_id, |a| a.packet_id)
}

/// The reason code when the server sent exactly one (a PUBACK/PUBREC/PUBCOMP, a refusing
/// CONNACK, a SUBACK or UNSUBACK for one filter; 0x00 for a QoS 0 publish) to
/// `reason_code`; false otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_reason_code(ack: *const midge_ack, reason_code: *mut u8) -> bool {
    read_opt(ack, reason_code, |a| match a.reason_codes.as_slice() {
        [code] => Some(*code),
        _ => None,
    })
}

/// The reason codes (one for a publish, one per filter for a subscribe or unsubscribe, in
/// order), their number to `count` (may be NULL). NULL with 0 when there are none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_reason_codes(ack: *const midge_ack, count: *mut usize) -> *const u8 {
    let (codes, n) = read(ack, (std::ptr::null(), 0), |a| {
        if a.reason_codes.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (a.reason_codes.as_ptr(), a.reason_codes.len())
        }
    });
    write_opt(count, n);
    codes
}

/// The acknowledgement's Reason String to `text`; false when none.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_reason_string(ack: *const midge_ack, text: *mut *const c_char) -> bool {
    read_opt(ack, text, |a| a.view.string(PropertyId::ReasonString))
}

/// How many User Properties the acknowledgement carried.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_user_property_count(ack: *const midge_ack) -> usize {
    count_users(ack, |a| &a.view)
}

/// The `index`-th User Property of the acknowledgement. O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_user_property(
    ack: *const midge_ack,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    user_property(
        handle::with_live(ack, "ack", |a| a.view.user_at(index)),
        index,
        name,
        value,
    )
}

/// How many properties the acknowledgement carried.
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_property_count(ack: *const midge_ack) -> usize {
    read(ack, 0, |a| a.view.len())
}

/// The `index`-th property of the acknowledgement, in the order received. O(1).
#[unsafe(no_mangle)]
pub extern "C" fn midge_ack_property_at(
    ack: *const midge_ack,
    index: usize,
    property: *mut midge_property,
) -> midge_result {
    property_at(
        handle::with_live(ack, "ack", |a| a.view.at(index)),
        index,
        property,
    )
}
