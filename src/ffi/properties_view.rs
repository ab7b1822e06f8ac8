//! Reading the properties a server sent: `midge_property`, and the property walk every
//! received object (message, CONNACK, DISCONNECT, acknowledgement) offers, in O(1) per
//! index.

use std::ffi::c_char;
use std::sync::OnceLock;

use super::ptr::write_out;
use super::result::{FfiError, guard, midge_result};
use crate::codec::{Properties, Property, PropertyId};

/// One property as received, from a `_property_at` function. The fields its kind does not
/// use are 0 / NULL. Pointers are valid as long as the object it was read from.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct midge_property {
    /// The property identifier (a `midge_property_id` value).
    pub id: u8,
    /// Integer properties (byte, two-byte, four-byte and variable byte integers; flags as
    /// 0 or 1; the payload format and maximum QoS as their wire values).
    pub integer: u32,
    /// UTF-8 string properties: the value, NUL-terminated. User Property: the name.
    pub string: *const c_char,
    /// User Property: the value, NUL-terminated.
    pub value: *const c_char,
    /// Binary properties (Correlation Data, Authentication Data): the bytes and their
    /// number in `len`.
    pub data: *const u8,
    /// The number of bytes at `data` (0 for the other kinds).
    pub len: usize,
}

/// The integer value of an integer property (`None` for strings, binaries, pairs).
fn integer(p: &Property) -> Option<u32> {
    Some(match *p {
        Property::MessageExpiryInterval(v)
        | Property::SubscriptionIdentifier(v)
        | Property::SessionExpiryInterval(v)
        | Property::WillDelayInterval(v)
        | Property::MaximumPacketSize(v) => v,
        Property::ServerKeepAlive(v)
        | Property::ReceiveMaximum(v)
        | Property::TopicAliasMaximum(v)
        | Property::TopicAlias(v) => u32::from(v),
        Property::PayloadFormatIndicator(f) => f as u32,
        Property::MaximumQos(q) => q as u32,
        Property::RequestProblemInformation(b)
        | Property::RequestResponseInformation(b)
        | Property::RetainAvailable(b)
        | Property::WildcardSubscriptionAvailable(b)
        | Property::SubscriptionIdentifierAvailable(b)
        | Property::SharedSubscriptionAvailable(b) => u32::from(b),
        _ => return None,
    })
}

/// The C side of a property list, made once on first use: every string NUL-terminated in
/// one arena, per property where its string (or name) and value start, and where the User
/// Properties are, so any index is one array access. One allocation for all the strings
/// (not two per property): the view costs about the properties' wire size.
#[derive(Debug, Default)]
struct Table {
    /// The strings, each followed by a NUL.
    arena: Vec<u8>,
    /// Per property: the offsets in `arena` of (string or name, value); [`NONE`] for none.
    strings: Vec<(u32, u32)>,
    /// The positions of the User Properties in the list.
    users: Vec<u32>,
}

/// No string at this place of a property.
const NONE: u32 = u32::MAX;

/// A property's strings as C reads them: (string or User Property name, User Property value).
fn texts(p: &Property) -> (Option<&str>, Option<&str>) {
    match p {
        Property::UserProperty(k, v) => (Some(k), Some(v)),
        Property::ContentType(s)
        | Property::ResponseTopic(s)
        | Property::AssignedClientIdentifier(s)
        | Property::AuthenticationMethod(s)
        | Property::ResponseInformation(s)
        | Property::ServerReference(s)
        | Property::ReasonString(s) => (Some(s), None),
        _ => (None, None),
    }
}

impl Table {
    /// The heap this view holds (malloc's own overhead aside).
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.strings.capacity() * std::mem::size_of::<(u32, u32)>()
            + self.users.capacity() * std::mem::size_of::<u32>()
    }

    fn new(props: &Properties) -> Self {
        let mut t = Self {
            arena: Vec::new(),
            strings: Vec::with_capacity(props.len()),
            users: Vec::new(),
        };
        // A property list fits one packet (at most 268,435,455 bytes): offsets fit a u32.
        let push = |arena: &mut Vec<u8>, s: &str| {
            let at = arena.len() as u32;
            // MQTT strings hold no U+0000 [MQTT-1.5.4-2]; the codec refuses it. Should one
            // come from elsewhere, C reads a space, as `cstring` gives.
            arena.extend(s.bytes().map(|b| if b == 0 { b' ' } else { b }));
            arena.push(0);
            at
        };
        let size = |s: Option<&str>| s.map_or(0, |s| s.len() + 1);
        let mut arena = Vec::with_capacity(
            props
                .iter()
                .map(|p| {
                    let (a, b) = texts(p);
                    size(a) + size(b)
                })
                .sum(),
        );
        for (i, p) in props.iter().enumerate() {
            if let Property::UserProperty(..) = p {
                t.users.push(i as u32);
            }
            let (a, b) = texts(p);
            let a = a.map_or(NONE, |a| push(&mut arena, a));
            let b = b.map_or(NONE, |b| push(&mut arena, b));
            t.strings.push((a, b));
        }
        t.users.shrink_to_fit();
        t.arena = arena;
        t
    }

    /// The NUL-terminated string at `at`, or NULL.
    fn ptr(&self, at: u32) -> *const c_char {
        if at == NONE {
            return std::ptr::null();
        }
        self.arena[at as usize..].as_ptr().cast()
    }
}

/// A read-only property list with its C view.
#[derive(Debug, Default)]
pub(crate) struct PropertyView {
    pub(crate) props: Properties,
    table: OnceLock<Table>,
    /// How often the table was built (once at most): what the O(1) walk rests on.
    #[cfg(test)]
    pub(crate) builds: std::sync::atomic::AtomicUsize,
}

impl PropertyView {
    pub(crate) fn new(props: Properties) -> Self {
        Self {
            props,
            ..Self::default()
        }
    }

    fn table(&self) -> &Table {
        self.table.get_or_init(|| {
            #[cfg(test)]
            self.builds
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Table::new(&self.props)
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.props.len()
    }

    /// The `index`-th property, as C sees it.
    pub(crate) fn at(&self, index: usize) -> Option<midge_property> {
        let p = self.props.as_slice().get(index)?;
        let table = self.table();
        let (string, value) = table.strings[index];
        let (data, len) = match p {
            Property::CorrelationData(b) | Property::AuthenticationData(b) => (b.as_ptr(), b.len()),
            _ => (std::ptr::null(), 0),
        };
        Some(midge_property {
            id: p.id() as u8,
            integer: integer(p).unwrap_or(0),
            string: table.ptr(string),
            value: table.ptr(value),
            data,
            len,
        })
    }

    /// The first string property `id`, NUL-terminated.
    pub(crate) fn string(&self, id: PropertyId) -> Option<*const c_char> {
        let i = self.props.iter().position(|p| p.id() == id)?;
        let table = self.table();
        let at = table.strings[i].0;
        (at != NONE).then(|| table.ptr(at))
    }

    /// The first binary property `id`.
    pub(crate) fn binary(&self, id: PropertyId) -> Option<(*const u8, usize)> {
        self.props.get_binary(id).map(|b| (b.as_ptr(), b.len()))
    }

    pub(crate) fn int(&self, id: PropertyId) -> Option<u32> {
        self.props.get(id).and_then(integer)
    }

    pub(crate) fn user_count(&self) -> usize {
        self.table().users.len()
    }

    /// The `index`-th User Property's name and value: O(1).
    pub(crate) fn user_at(&self, index: usize) -> Option<(*const c_char, *const c_char)> {
        let table = self.table();
        let (name, value) = table.strings[*table.users.get(index)? as usize];
        Some((table.ptr(name), table.ptr(value)))
    }
}

/// The body of every `_user_property_count`: the count needs the C view, whose first
/// build may be long, so it runs with no registry lock held.
pub(crate) fn count_users<T: std::any::Any + Send + Sync>(
    object: *const T,
    view: impl FnOnce(&T) -> &PropertyView,
) -> usize {
    super::result::guard_value(0, || {
        super::handle::get(object).map_or(0, |o| view(&o).user_count())
    })
}

/// The body of every `_property_at`: the `index`-th property of `view` to `out`;
/// `MIDGE_RESULT_NOT_FOUND` past the end, `MIDGE_RESULT_INVALID_ARGUMENT` for a dead handle
/// (`view` is an error) or a NULL `out`.
pub(crate) fn property_at(
    view: Result<Option<midge_property>, FfiError>,
    index: usize,
    out: *mut midge_property,
) -> midge_result {
    guard(|| {
        let p = view?.ok_or_else(|| FfiError::NotFound(format!("no property {index}")))?;
        write_out(out, p, "property")
    })
}

/// The body of every `_user_property`: the `index`-th User Property to `name` and `value`.
pub(crate) fn user_property(
    pair: Result<Option<(*const c_char, *const c_char)>, FfiError>,
    index: usize,
    name: *mut *const c_char,
    value: *mut *const c_char,
) -> midge_result {
    guard(|| {
        let (k, v) =
            pair?.ok_or_else(|| FfiError::NotFound(format!("no user property {index}")))?;
        if name.is_null() || value.is_null() {
            return Err(FfiError::null("name/value"));
        }
        write_out(name, k, "name")?;
        write_out(value, v, "value")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: a message with many User Properties cost about 10 times its wire size once
    /// read from C. The C view (NUL-terminated copies, built on first use) is bounded: its
    /// heap is at most the properties' wire size plus 16 bytes per property.
    #[test]
    fn the_c_view_of_user_properties_costs_about_their_wire_size() {
        const N: usize = 100_000;
        let props: Properties = (0..N)
            .map(|i| Property::UserProperty(format!("k{i}").into(), "v".into()))
            .collect();
        let wire = props.encoded_len();
        let view = PropertyView::new(props);
        assert_eq!(view.user_count(), N);
        let heap = view.table().heap_bytes();
        assert!(
            heap <= wire + 16 * N,
            "{heap} bytes of C view for {wire} bytes of properties ({} per property)",
            heap / N
        );
    }
}
