//! The exported functions called directly: NULLs, stale and wrongly typed handles, double
//! frees, bad strings, and a panic turned into an error at the boundary.

use std::ffi::{CStr, c_char, c_int};
use std::ptr::{null, null_mut};

use super::result::{FfiError, guard, guard_value};
use super::*;

fn last_error() -> String {
    // SAFETY: midge returns a NUL-terminated string valid until the next failing call.
    unsafe { CStr::from_ptr(midge_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

const INVALID: midge_result = midge_result::MIDGE_RESULT_INVALID_ARGUMENT;
const OK: midge_result = midge_result::MIDGE_RESULT_OK;

#[test]
fn a_panic_becomes_an_error_at_the_boundary() {
    let r = guard(|| -> Result<(), FfiError> { panic!("boom {}", 7) });
    assert_eq!(r, midge_result::MIDGE_RESULT_PANIC);
    assert!(last_error().contains("boom 7"), "{}", last_error());
    let v = guard_value(42, || -> i32 { panic!("again") });
    assert_eq!(v, 42);
    assert!(last_error().contains("again"));
}

#[test]
fn failures_set_the_thread_s_last_error_and_successes_do_not_write_out_params() {
    let mut client = 0x1234 as *mut midge_client;
    let r = midge_client_new(c"mqtts://h".as_ptr(), null(), &raw mut client);
    assert_eq!(r, midge_result::MIDGE_RESULT_INVALID_ADDRESS);
    assert_eq!(
        client as usize, 0x1234,
        "out-parameter untouched on failure"
    );
    assert!(last_error().contains("mqtts"), "{}", last_error());
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
    assert_eq!(midge_connack_server_keep_alive(null()), -1);
    assert_eq!(midge_disconnect_kind_of(null()), 0);
    assert_eq!(midge_event_kind_of(null()), 0);
    assert!(midge_event_reason_codes(null(), null_mut()).is_null());
    assert_eq!(midge_completion_id(null()), 0);
    assert_eq!(midge_properties_count(null()), 0);
    // Frees of NULL do nothing.
    midge_client_free(null_mut());
    midge_options_free(null_mut());
    midge_properties_free(null_mut());
    midge_message_free(null_mut());
    midge_connack_free(null_mut());
    midge_event_free(null_mut());
    midge_completion_free(null_mut());
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
    midge_options_free(options);
    midge_options_free(options);
    assert_eq!(midge_options_set_keep_alive(options, 5), INVALID, "freed");
    midge_properties_free(properties);
    midge_properties_free(properties);
    assert_eq!(midge_properties_add_int(properties, 2, 1), INVALID);
    // An options handle is not a client.
    assert_eq!(midge_client_connect(options.cast(), null_mut()), INVALID);
    midge_client_free(client);
    midge_client_free(client);
    assert_eq!(midge_client_connect(client, null_mut()), INVALID);
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
    assert_eq!(r, midge_result::MIDGE_RESULT_INVALID_UTF8);
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
    assert_eq!(r, midge_result::MIDGE_RESULT_INVALID_TOPIC);
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
    assert_eq!(r, midge_result::MIDGE_RESULT_INVALID_TOPIC, "no filters");
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
    assert_eq!(r, midge_result::MIDGE_RESULT_INVALID_PROPERTY);
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
    midge_properties_free(props);
    midge_client_free(client);
}

#[test]
fn every_result_has_a_text() {
    for r in 0..=23 {
        // SAFETY: static NUL-terminated strings.
        let text = unsafe { CStr::from_ptr(midge_result_str(r as c_int)) };
        assert_ne!(text.to_str().unwrap(), "unknown result", "{r}");
    }
    // SAFETY: as above.
    let text = unsafe { CStr::from_ptr(midge_result_str(999)) };
    assert_eq!(text.to_str().unwrap(), "unknown result");
}
