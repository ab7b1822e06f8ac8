//! The exported functions called directly: NULLs, stale and wrongly typed handles, double
//! frees, bad strings, and a panic turned into an error at the boundary.

use std::ffi::{CStr, c_char};
use std::ptr::{null, null_mut};
use std::sync::Arc;

use super::result::{FfiError, guard, guard_value};
use super::*;

fn last_error() -> String {
    // SAFETY: midge returns a NUL-terminated string valid until the next failing call.
    unsafe { CStr::from_ptr(midge_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

const INVALID: midge_result = MIDGE_RESULT_INVALID_ARGUMENT;
const OK: midge_result = MIDGE_RESULT_OK;

#[test]
fn a_panic_becomes_an_error_at_the_boundary() {
    let r = guard(|| -> Result<(), FfiError> { panic!("boom {}", 7) });
    assert_eq!(r, MIDGE_RESULT_PANIC);
    assert!(last_error().contains("boom 7"), "{}", last_error());
    let v = guard_value(42, || -> i32 { panic!("again") });
    assert_eq!(v, 42);
    assert!(last_error().contains("again"));
}

#[test]
fn failures_set_the_thread_s_last_error_and_successes_do_not_write_out_params() {
    let mut client = 0x1234 as *mut midge_client;
    let r = midge_client_new(c"http://h".as_ptr(), null(), &raw mut client);
    assert_eq!(r, MIDGE_RESULT_INVALID_ADDRESS);
    assert_eq!(
        client as usize, 0x1234,
        "out-parameter untouched on failure"
    );
    assert!(last_error().contains("http"), "{}", last_error());
    // Another thread has its own last error.
    std::thread::spawn(|| assert_eq!(last_error(), ""))
        .join()
        .unwrap();
}

#[test]
fn nulls_are_invalid_arguments_everywhere() {
    let mut out_client = null_mut();
    assert_eq!(
        midge_client_new(null(), null(), &raw mut out_client),
        INVALID
    );
    assert_eq!(midge_client_new(c"h".as_ptr(), null(), null_mut()), INVALID);
    assert_eq!(midge_client_connect(null_mut(), null_mut()), INVALID);
    assert_eq!(
        midge_client_connect_wait(null_mut(), 1, null_mut()),
        INVALID
    );
    let t = c"t".as_ptr();
    assert_eq!(
        midge_client_publish(null_mut(), t, null(), 0, 0, false, null(), null_mut()),
        INVALID
    );
    assert_eq!(
        midge_client_publish_wait(null_mut(), t, null(), 0, 0, false, null(), 1, null_mut()),
        INVALID
    );
    assert_eq!(
        midge_client_subscribe(null_mut(), null(), null(), 1, null(), null_mut()),
        INVALID
    );
    assert_eq!(
        midge_client_unsubscribe(null_mut(), null(), 1, null(), null_mut()),
        INVALID
    );
    assert_eq!(
        midge_client_disconnect(null_mut(), 0, null(), null_mut()),
        INVALID
    );
    assert_eq!(midge_client_next_event(null_mut(), 0, null_mut()), INVALID);
    assert_eq!(
        midge_client_on_message(null_mut(), None, null_mut(), None),
        INVALID
    );
    assert_eq!(midge_options_set_client_id(null_mut(), t), INVALID);
    assert_eq!(midge_properties_add_int(null_mut(), 1, 0), INVALID);
    assert_eq!(midge_completion_wait(null(), 0), INVALID);
    assert_eq!(midge_completion_poll(null()), INVALID);
    assert_eq!(midge_auth_response_set(null_mut(), null(), 0), INVALID);
    // Accessors give neutral values.
    assert!(midge_message_topic(null()).is_null());
    assert!(midge_message_payload(null(), null_mut()).is_null());
    assert_eq!(midge_message_qos(null()), -1);
    assert_eq!(midge_message_user_property_count(null()), 0);
    assert_eq!(
        midge_message_user_property(null(), 0, null_mut(), null_mut()),
        INVALID
    );
    assert!(!midge_connack_session_present(null()));
    let mut keep_alive = 7u16;
    assert!(!midge_connack_server_keep_alive(
        null(),
        &raw mut keep_alive
    ));
    assert_eq!(keep_alive, 7, "untouched");
    assert_eq!(midge_disconnect_kind_of(null()), 0);
    assert_eq!(midge_event_kind_of(null()), 0);
    assert!(midge_event_ack(null()).is_null());
    assert!(midge_ack_reason_codes(null(), null_mut()).is_null());
    assert_eq!(midge_ack_result(null()), INVALID);
    assert_eq!(midge_completion_id(null()), 0);
    assert_eq!(midge_properties_count(null()), 0);
    // Frees of NULL, and of a NULL variable, do nothing.
    midge_client_free(null_mut());
    midge_options_free(null_mut());
    midge_properties_free(null_mut());
    midge_message_free(null_mut());
    midge_connack_free(null_mut());
    midge_event_free(null_mut());
    midge_completion_free(null_mut());
    let mut none: *mut midge_message = null_mut();
    midge_message_free(&raw mut none);
}

#[test]
fn double_frees_and_stale_or_mistyped_handles_are_harmless() {
    let options = midge_options_new();
    let properties = midge_properties_new();
    assert_eq!(midge_options_set_keep_alive(options, 5), OK);
    // A properties handle is not an options handle.
    assert_eq!(midge_options_set_keep_alive(properties.cast(), 5), INVALID);
    assert!(last_error().contains("not a live midge handle"));
    let mut client = null_mut();
    assert_eq!(
        midge_client_new(c"127.0.0.1:1".as_ptr(), options, &raw mut client),
        OK
    );
    let (stale_options, stale_properties, stale_client) = (options, properties, client);
    let mut options = options;
    midge_options_free(&raw mut options);
    assert!(options.is_null(), "the variable is emptied");
    midge_options_free(&raw mut options);
    let mut copy = stale_options;
    midge_options_free(&raw mut copy);
    assert_eq!(
        midge_options_set_keep_alive(stale_options, 5),
        INVALID,
        "freed"
    );
    let mut properties = properties;
    midge_properties_free(&raw mut properties);
    let mut copy = stale_properties;
    midge_properties_free(&raw mut copy);
    assert_eq!(midge_properties_add_int(stale_properties, 2, 1), INVALID);
    // An options handle is not a client.
    assert_eq!(
        midge_client_connect(stale_options.cast(), null_mut()),
        INVALID
    );
    midge_client_free(&raw mut client);
    let mut copy = stale_client;
    midge_client_free(&raw mut copy);
    assert_eq!(midge_client_connect(stale_client, null_mut()), INVALID);
    // A pointer midge never made.
    let mut junk = [0u8; 64];
    assert_eq!(
        midge_client_connect(junk.as_mut_ptr().cast(), null_mut()),
        INVALID
    );
}

#[test]
fn bad_strings_and_values_are_refused_and_send_nothing() {
    let mut client = null_mut();
    assert_eq!(
        midge_client_new(c"127.0.0.1:1".as_ptr(), null(), &raw mut client),
        OK
    );
    let bad_utf8: &[u8] = b"a\xff\0";
    let r = midge_client_publish(
        client,
        bad_utf8.as_ptr().cast::<c_char>(),
        null(),
        0,
        0,
        false,
        null(),
        null_mut(),
    );
    assert_eq!(r, MIDGE_RESULT_INVALID_UTF8);
    let r = midge_client_publish(
        client,
        c"a/#".as_ptr(),
        null(),
        0,
        0,
        false,
        null(),
        null_mut(),
    );
    assert_eq!(r, MIDGE_RESULT_INVALID_TOPIC);
    let r = midge_client_publish(
        client,
        c"a".as_ptr(),
        null(),
        0,
        3,
        false,
        null(),
        null_mut(),
    );
    assert_eq!(r, INVALID, "QoS 3");
    let r = midge_client_publish(
        client,
        c"a".as_ptr(),
        null(),
        5,
        0,
        false,
        null(),
        null_mut(),
    );
    assert_eq!(r, INVALID, "NULL payload with a length");
    let filters = [c"a/+".as_ptr()];
    for bad in [0x03u8, 0x30, 0x40] {
        let r = midge_client_subscribe(
            client,
            filters.as_ptr(),
            &raw const bad,
            1,
            null(),
            null_mut(),
        );
        assert_eq!(r, INVALID, "options 0x{bad:02X}");
    }
    let r = midge_client_subscribe(
        client,
        filters.as_ptr(),
        [0u8].as_ptr(),
        0,
        null(),
        null_mut(),
    );
    assert_eq!(r, MIDGE_RESULT_INVALID_TOPIC, "no filters");
    let r = midge_client_disconnect(client, 0x05, null(), null_mut());
    assert_eq!(r, INVALID, "0x05 is no DISCONNECT reason code");
    // A property not allowed in PUBLISH.
    let props = midge_properties_new();
    assert_eq!(midge_properties_add_int(props, 0x21, 10), OK); // Receive Maximum
    let r = midge_client_publish(
        client,
        c"a".as_ptr(),
        null(),
        0,
        0,
        false,
        props,
        null_mut(),
    );
    assert_eq!(r, MIDGE_RESULT_INVALID_PROPERTY);
    // Wrong kinds and values for a property.
    assert_eq!(
        midge_properties_add_string(props, 0x02, c"x".as_ptr()),
        INVALID
    );
    assert_eq!(midge_properties_add_int(props, 0x03, 1), INVALID);
    assert_eq!(midge_properties_add_int(props, 0x01, 2), INVALID);
    assert_eq!(midge_properties_add_int(props, 0x13, 70_000), INVALID);
    assert_eq!(midge_properties_add_int(props, 0x7F, 1), INVALID);
    assert_eq!(midge_properties_count(props), 1);
    let mut props = props;
    midge_properties_free(&raw mut props);
    midge_client_free(&raw mut client);
}

#[test]
fn every_result_has_a_text() {
    for r in 0..=23 {
        // SAFETY: static NUL-terminated strings.
        let text = unsafe { CStr::from_ptr(midge_result_str(r)) };
        assert_ne!(text.to_str().unwrap(), "unknown result", "{r}");
    }
    // SAFETY: as above.
    let text = unsafe { CStr::from_ptr(midge_result_str(999)) };
    assert_eq!(text.to_str().unwrap(), "unknown result");
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: midge gives NUL-terminated strings valid as long as their object.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

fn message(props: crate::codec::Properties) -> Arc<midge_message> {
    let mut m = crate::protocol::Message {
        topic: "t/a".into(),
        payload: crate::codec::Bytes::from_static(b"hi"),
        qos: crate::codec::QoS::AtLeastOnce,
        retain: false,
        dup: false,
        packet_id: 7,
        properties: crate::codec::Properties::new(),
        ack: None,
    };
    m.properties = props;
    midge_message::new(m)
}

#[test]
fn a_stale_copy_of_a_freed_handle_never_reaches_a_newer_object() {
    // The sequence: clone a, free a, clone b, free the stale copy of a again,
    // clone d: b is still valid and distinct from d. With allocations in between, so an
    // allocator reusing a's memory would put b there.
    let lent = crate::ffi::handle::Loan::new(message(crate::codec::Properties::new()));
    let mut a = midge_message_clone(lent.ptr());
    let stale = a;
    midge_message_free(&raw mut a);
    assert!(a.is_null());
    let junk: Vec<Box<[u8; 256]>> = (0..8).map(|_| Box::new([0; 256])).collect();
    let b = midge_message_clone(lent.ptr());
    assert_ne!(b, stale, "a handle is never given twice");
    let mut stale_copy = stale;
    midge_message_free(&raw mut stale_copy);
    let d = midge_message_clone(lent.ptr());
    assert_ne!(b, d);
    assert_eq!(
        text(midge_message_topic(b)),
        "t/a",
        "b survived the stale free"
    );
    assert!(
        midge_message_topic(stale).is_null(),
        "the stale handle reads nothing"
    );
    for mut h in [b, d] {
        midge_message_free(&raw mut h);
    }
    drop(junk);
    // A lent handle is not the caller's to free; it dies with its lender.
    let mut lent_ptr = lent.ptr().cast_mut();
    midge_message_free(&raw mut lent_ptr);
    assert_eq!(
        midge_message_qos(lent.ptr()),
        1,
        "freeing a lent handle did nothing"
    );
    let p = lent.ptr();
    drop(lent);
    assert_eq!(midge_message_qos(p), -1, "expired with its lender");
}

#[test]
fn optional_values_are_bool_and_out_and_absent_ones_leave_out_alone() {
    use crate::codec::{Properties, Property};
    let m = message(Properties::new().with(Property::ContentType("text/plain".into())));
    let mut m = handle::share(m);
    let mut ct = null();
    assert!(midge_message_content_type(m, &raw mut ct));
    assert_eq!(text(ct), "text/plain");
    let mut topic = c"x".as_ptr();
    assert!(!midge_message_response_topic(m, &raw mut topic));
    assert_eq!(text(topic), "x", "untouched when absent");
    let mut format = 9u8;
    assert!(!midge_message_payload_format(m, &raw mut format));
    assert_eq!(format, 9);
    let mut expiry = 0u32;
    assert!(!midge_message_message_expiry(m, &raw mut expiry));
    let (mut data, mut len) = (null(), 0usize);
    assert!(!midge_message_correlation_data(
        m,
        &raw mut data,
        &raw mut len
    ));
    let mut packet_id = 0u16;
    assert!(midge_message_packet_id(m, &raw mut packet_id));
    assert_eq!(packet_id, 7);
    midge_message_free(&raw mut m);

    // A CONNACK with nothing optional in it says so, rather than -1 or 0.
    let info = crate::protocol::ConnAckInfo::new(
        crate::codec::ConnAck {
            session_present: false,
            reason_code: crate::codec::ConnectReasonCode::Success,
            properties: Properties::new(),
        },
        60,
    );
    let c = handle::Loan::new(midge_connack::new(info));
    let (mut ka, mut size, mut expiry) = (1u16, 1u32, 1u32);
    assert!(!midge_connack_server_keep_alive(c.ptr(), &raw mut ka));
    assert!(!midge_connack_maximum_packet_size(c.ptr(), &raw mut size));
    assert!(!midge_connack_session_expiry_interval(
        c.ptr(),
        &raw mut expiry
    ));
    assert_eq!((ka, size, expiry), (1, 1, 1));
    assert_eq!(midge_connack_keep_alive(c.ptr()), 60);
    assert_eq!(midge_connack_property_count(c.ptr()), 0);
}

/// Every kind of property, as a server could send it.
fn all_kinds() -> crate::codec::Properties {
    use crate::codec::{Bytes, Properties, Property};
    Properties::new()
        .with(Property::ReasonString("why".into()))
        .with(Property::ServerKeepAlive(30))
        .with(Property::UserProperty("k".into(), "v".into()))
        .with(Property::AuthenticationData(Bytes::from_static(
            b"\x01\x02",
        )))
}

fn check_walk(count: usize, at: impl Fn(usize, *mut midge_property) -> midge_result) {
    assert_eq!(count, 4);
    let mut p = std::mem::MaybeUninit::<midge_property>::zeroed();
    assert_eq!(at(0, p.as_mut_ptr()), OK);
    // SAFETY: written by midge on success (and zeroed before).
    let got = unsafe { p.assume_init() };
    assert_eq!((got.id, text(got.string)), (0x1F, "why".into()));
    assert_eq!(at(1, p.as_mut_ptr()), OK);
    // SAFETY: as above.
    let got = unsafe { p.assume_init() };
    assert_eq!((got.id, got.integer), (0x13, 30));
    assert_eq!(at(2, p.as_mut_ptr()), OK);
    // SAFETY: as above.
    let got = unsafe { p.assume_init() };
    assert_eq!(
        (got.id, text(got.string), text(got.value)),
        (0x26, "k".into(), "v".into())
    );
    assert_eq!(at(3, p.as_mut_ptr()), OK);
    // SAFETY: as above.
    let got = unsafe { p.assume_init() };
    assert_eq!(got.id, 0x16);
    // SAFETY: midge gives `len` bytes at `data`.
    let data = unsafe { std::slice::from_raw_parts(got.data, got.len) };
    assert_eq!(data, b"\x01\x02");
    assert_eq!(at(4, p.as_mut_ptr()), MIDGE_RESULT_NOT_FOUND);
}

#[test]
#[allow(clippy::many_single_char_names)]
fn every_property_a_server_sends_is_reachable() {
    use crate::codec::{ConnectReasonCode, DisconnectReasonCode};
    use crate::protocol::{ConnectRefusal, DisconnectCause};
    // A message.
    let m = handle::Loan::new(message(all_kinds()));
    check_walk(midge_message_property_count(m.ptr()), |i, out| {
        midge_message_property_at(m.ptr(), i, out)
    });
    // A CONNACK.
    let info = crate::protocol::ConnAckInfo::new(
        crate::codec::ConnAck {
            session_present: false,
            reason_code: ConnectReasonCode::Success,
            properties: all_kinds(),
        },
        60,
    );
    let c = handle::Loan::new(midge_connack::new(info));
    check_walk(midge_connack_property_count(c.ptr()), |i, out| {
        midge_connack_property_at(c.ptr(), i, out)
    });
    // A refusing CONNACK and a server's DISCONNECT, through the cause.
    let causes = [
        DisconnectCause::Refused(ConnectRefusal {
            reason_code: ConnectReasonCode::NotAuthorized,
            reason_string: Some("why".into()),
            server_reference: None,
            properties: all_kinds(),
        }),
        DisconnectCause::Server {
            reason_code: DisconnectReasonCode::from_u8(0x8B).unwrap(),
            reason_string: Some("why".into()),
            server_reference: None,
            properties: all_kinds(),
        },
    ];
    for cause in &causes {
        let d = handle::Loan::new(midge_disconnect::new(cause));
        check_walk(midge_disconnect_property_count(d.ptr()), |i, out| {
            midge_disconnect_property_at(d.ptr(), i, out)
        });
        assert_eq!(midge_disconnect_user_property_count(d.ptr()), 1);
        let (mut k, mut v) = (null(), null());
        assert_eq!(
            midge_disconnect_user_property(d.ptr(), 0, &raw mut k, &raw mut v),
            OK
        );
        assert_eq!((text(k), text(v)), ("k".into(), "v".into()));
        let mut code = 0u8;
        assert!(midge_disconnect_reason_code(d.ptr(), &raw mut code));
        assert!(code >= 0x80);
    }
    // An acknowledgement.
    let ack = crate::protocol::PublishAck {
        packet_id: 3,
        reason: crate::protocol::AckReason::Written,
        properties: all_kinds(),
    };
    let a = handle::Loan::new(midge_ack::acked(9, &ack));
    check_walk(midge_ack_property_count(a.ptr()), |i, out| {
        midge_ack_property_at(a.ptr(), i, out)
    });
    let mut reason = null();
    assert!(midge_ack_reason_string(a.ptr(), &raw mut reason));
    assert_eq!(text(reason), "why");
    let mut packet_id = 0;
    assert!(midge_ack_packet_id(a.ptr(), &raw mut packet_id));
    assert_eq!((packet_id, midge_ack_id(a.ptr())), (3, 9));
}

#[test]
fn user_properties_by_index_are_one_array_access() {
    // Issue 16 item 5: walking 100,000 user properties by index was quadratic (each index
    // scanned the list). Now the C view is built once, and an index is a lookup in it:
    // the walk builds it exactly once, whatever the number of properties.
    use crate::codec::{Properties, Property};
    const N: usize = 100_000;
    let props: Properties = (0..N)
        .map(|i| Property::UserProperty(format!("k{i}").into(), "v".into()))
        .collect();
    let m = message(props);
    let loan = handle::Loan::new(Arc::clone(&m));
    assert_eq!(midge_message_user_property_count(loan.ptr()), N);
    let (mut k, mut v) = (null(), null());
    for i in 0..N {
        assert_eq!(
            midge_message_user_property(loan.ptr(), i, &raw mut k, &raw mut v),
            OK
        );
    }
    assert_eq!(text(k), format!("k{}", N - 1));
    let mut p = std::mem::MaybeUninit::<midge_property>::zeroed();
    for i in 0..N {
        assert_eq!(midge_message_property_at(loan.ptr(), i, p.as_mut_ptr()), OK);
    }
    assert_eq!(
        midge_message_user_property(loan.ptr(), N, &raw mut k, &raw mut v),
        MIDGE_RESULT_NOT_FOUND
    );
    assert_eq!(
        m.view_builds(),
        1,
        "the index was built once for 200,000 lookups"
    );
}

#[test]
fn every_reason_code_of_table_2_6_has_its_name() {
    let table: &[(u8, &str)] = &[
        (0x00, "Success"),
        (0x01, "Granted QoS 1"),
        (0x02, "Granted QoS 2"),
        (0x04, "Disconnect with Will Message"),
        (0x10, "No matching subscribers"),
        (0x11, "No subscription existed"),
        (0x18, "Continue authentication"),
        (0x19, "Re-authenticate"),
        (0x80, "Unspecified error"),
        (0x81, "Malformed Packet"),
        (0x82, "Protocol Error"),
        (0x83, "Implementation specific error"),
        (0x84, "Unsupported Protocol Version"),
        (0x85, "Client Identifier not valid"),
        (0x86, "Bad User Name or Password"),
        (0x87, "Not authorized"),
        (0x88, "Server unavailable"),
        (0x89, "Server busy"),
        (0x8A, "Banned"),
        (0x8B, "Server shutting down"),
        (0x8C, "Bad authentication method"),
        (0x8D, "Keep Alive timeout"),
        (0x8E, "Session taken over"),
        (0x8F, "Topic Filter invalid"),
        (0x90, "Topic Name invalid"),
        (0x91, "Packet Identifier in use"),
        (0x92, "Packet Identifier not found"),
        (0x93, "Receive Maximum exceeded"),
        (0x94, "Topic Alias invalid"),
        (0x95, "Packet too large"),
        (0x96, "Message rate too high"),
        (0x97, "Quota exceeded"),
        (0x98, "Administrative action"),
        (0x99, "Payload format invalid"),
        (0x9A, "Retain not supported"),
        (0x9B, "QoS not supported"),
        (0x9C, "Use another server"),
        (0x9D, "Server moved"),
        (0x9E, "Shared Subscriptions not supported"),
        (0x9F, "Connection rate exceeded"),
        (0xA0, "Maximum connect time"),
        (0xA1, "Subscription Identifiers not supported"),
        (0xA2, "Wildcard Subscriptions not supported"),
    ];
    for code in 0..=255u8 {
        let want = table
            .iter()
            .find(|(c, _)| *c == code)
            .map_or("unknown", |(_, name)| name);
        assert_eq!(text(midge_reason_code_str(code)), want, "0x{code:02X}");
    }
}

#[test]
fn a_value_a_callback_returns_is_checked_not_trusted() {
    assert_eq!(result::from_callback(MIDGE_RESULT_OK, "cb"), Ok(()));
    let refused = result::from_callback(MIDGE_RESULT_REFUSED, "cb").unwrap_err();
    assert!(refused.contains("refused by the server"), "{refused}");
    let bogus = result::from_callback(12345, "authenticator").unwrap_err();
    assert!(
        bogus.contains("12345") && bogus.contains("not a midge_result"),
        "{bogus}"
    );
    assert!(result::from_callback(-1, "cb").is_err());
}

#[test]
fn the_header_s_version_is_the_crate_s() {
    // The constants are literals (cbindgen copies them into midge.h); Cargo.toml is the
    // source, so a version bump that forgets them fails here.
    let crate_version = env!("CARGO_PKG_VERSION");
    let header = format!("{MIDGE_VERSION_MAJOR}.{MIDGE_VERSION_MINOR}.{MIDGE_VERSION_PATCH}");
    assert_eq!(header, crate_version);
    assert_eq!(
        MIDGE_VERSION_NUMBER,
        MIDGE_VERSION_MAJOR << 16 | MIDGE_VERSION_MINOR << 8 | MIDGE_VERSION_PATCH
    );
    assert_eq!(midge_version(), MIDGE_VERSION_NUMBER);
    // SAFETY: a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(midge_version_string()) };
    assert_eq!(text.to_str().unwrap(), crate_version);
}

#[test]
fn every_property_identifier_has_its_name() {
    use crate::codec::PropertyId;
    let mut seen = std::collections::HashSet::new();
    for id in PropertyId::ALL {
        // SAFETY: midge_property_name returns a static NUL-terminated string.
        let name = unsafe { std::ffi::CStr::from_ptr(super::midge_property_name(id as u8)) };
        let name = name.to_str().unwrap();
        assert_ne!(name, "unknown", "{id:?}");
        assert!(seen.insert(name), "{name} twice");
    }
    // SAFETY: as above.
    let unknown = unsafe { std::ffi::CStr::from_ptr(super::midge_property_name(0x00)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown");
}
