//! The C API driven from Rust against a real Mosquitto: callbacks that call back into the
//! API, freeing a client from its own callback, `drop_user_data` exactly once, the pull
//! interface and completion handles.

mod support;

use std::ffi::{CStr, c_int, c_void};
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use midge::ffi::*;
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, wait_until};

const OK: midge_result = midge_result::MIDGE_RESULT_OK;

fn new_client(broker: &Mosquitto, id: &CStr) -> *mut midge_client {
    let options = midge_options_new();
    assert_eq!(midge_options_set_completion_events(options, true), OK);
    assert_eq!(midge_options_set_client_id(options, id.as_ptr()), OK);
    assert_eq!(midge_options_set_reconnect(options, false, 0, 0), OK);
    let url = std::ffi::CString::new(broker.url()).unwrap();
    let mut client = null_mut();
    assert_eq!(midge_client_new(url.as_ptr(), options, &raw mut client), OK);
    midge_options_free(options);
    client
}

fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    assert!(wait_until(TIMEOUT, cond), "timed out waiting for {what}");
}

/// What the echo callbacks share.
struct Echo {
    client: *mut midge_client,
    received: Mutex<Vec<Vec<u8>>>,
    in_callback: AtomicUsize,
    overlaps: AtomicUsize,
}

// SAFETY: `client` is a midge handle, usable from any thread.
unsafe impl Sync for Echo {}

static DROPS: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn count_drop(_user_data: *mut c_void) {
    DROPS.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn echo_on_message(user_data: *mut c_void, message: *const midge_message) {
    // SAFETY: `user_data` is the `Echo` the test keeps alive until the drops have run.
    let echo = unsafe { &*user_data.cast::<Echo>() };
    if echo.in_callback.fetch_add(1, Ordering::SeqCst) != 0 {
        echo.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    let mut len = 0;
    let payload = midge_message_payload(message, &raw mut len);
    let bytes = if payload.is_null() {
        Vec::new()
    } else {
        // SAFETY: midge gives `len` bytes at `payload`.
        unsafe { std::slice::from_raw_parts(payload, len) }.to_vec()
    };
    // SAFETY: a NUL-terminated topic.
    let topic = unsafe { CStr::from_ptr(midge_message_topic(message)) };
    if topic.to_bytes() == b"ffi/in" {
        // Publishing from inside the message callback.
        let r = midge_client_publish(
            echo.client,
            c"ffi/out".as_ptr(),
            bytes.as_ptr(),
            bytes.len(),
            1,
            false,
            null(),
            null_mut(),
        );
        assert_eq!(r, OK);
    } else {
        echo.received.lock().unwrap().push(bytes);
    }
    echo.in_callback.fetch_sub(1, Ordering::SeqCst);
}

#[test]
fn callbacks_publish_back_run_one_at_a_time_and_drop_their_user_data_once() {
    let broker = Mosquitto::builder().start();
    let client = new_client(&broker, c"ffi-echo");
    let echo = Box::new(Echo {
        client,
        received: Mutex::new(Vec::new()),
        in_callback: AtomicUsize::new(0),
        overlaps: AtomicUsize::new(0),
    });
    let user_data = std::ptr::from_ref(&*echo).cast_mut().cast::<c_void>();
    let before = DROPS.load(Ordering::SeqCst);
    assert_eq!(
        midge_client_on_message(client, Some(echo_on_message), user_data, Some(count_drop)),
        OK
    );
    assert_eq!(midge_client_connect_wait(client, 5000, null_mut()), OK);
    let filters = [c"ffi/in".as_ptr(), c"ffi/out".as_ptr()];
    let mut codes = [0xFFu8; 2];
    assert_eq!(
        midge_client_subscribe_wait(
            client,
            filters.as_ptr(),
            [1u8, 1].as_ptr(),
            2,
            null(),
            5000,
            codes.as_mut_ptr()
        ),
        OK
    );
    assert_eq!(codes, [1, 1], "granted QoS 1 for both filters");
    for i in 0..50u8 {
        let payload = [i, 0, i];
        let r = midge_client_publish(
            client,
            c"ffi/in".as_ptr(),
            payload.as_ptr(),
            3,
            1,
            false,
            null(),
            null_mut(),
        );
        assert_eq!(r, OK);
    }
    wait_for("50 echoes", || echo.received.lock().unwrap().len() == 50);
    let mut got = echo.received.lock().unwrap().clone();
    got.sort();
    assert_eq!(got, (0..50u8).map(|i| vec![i, 0, i]).collect::<Vec<_>>());
    assert_eq!(
        echo.overlaps.load(Ordering::SeqCst),
        0,
        "callbacks of one client overlapped"
    );
    // Replacing the callback drops the old user data once, after its last call.
    assert_eq!(
        midge_client_on_message(client, Some(echo_on_message), user_data, Some(count_drop)),
        OK
    );
    wait_for("the replaced callback's drop", || {
        DROPS.load(Ordering::SeqCst) == before + 1
    });
    midge_client_free(client);
    // Freeing waits for the callbacks, then drops the user data: exactly once each.
    assert_eq!(DROPS.load(Ordering::SeqCst), before + 2);
    drop(echo);
}

static FREED_IN_CALLBACK: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn free_on_connect(user_data: *mut c_void, connack: *const midge_connack) {
    assert!(!connack.is_null());
    // Freeing the client from its own callback is allowed.
    midge_client_free(user_data.cast());
    FREED_IN_CALLBACK.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn count_drop_free(_user_data: *mut c_void) {
    FREED_IN_CALLBACK.fetch_add(10, Ordering::SeqCst);
}

#[test]
fn a_client_may_be_freed_from_its_own_callback() {
    let broker = Mosquitto::builder().start();
    let client = new_client(&broker, c"ffi-free");
    assert_eq!(
        midge_client_on_connect(
            client,
            Some(free_on_connect),
            client.cast(),
            Some(count_drop_free)
        ),
        OK
    );
    assert_eq!(midge_client_connect(client, null_mut()), OK);
    // The callback ran, then the user data was dropped once the client closed.
    wait_for("free in callback", || {
        FREED_IN_CALLBACK.load(Ordering::SeqCst) == 11
    });
    assert_eq!(
        midge_client_connect(client, null_mut()),
        midge_result::MIDGE_RESULT_INVALID_ARGUMENT
    );
}

#[test]
#[allow(clippy::too_many_lines)] // one conversation, read top to bottom
fn pull_events_and_completion_handles() {
    let broker = Mosquitto::builder().start();
    let client = new_client(&broker, c"ffi-pull");
    let mut connecting = null_mut();
    assert_eq!(midge_client_connect(client, &raw mut connecting), OK);
    assert_eq!(midge_completion_wait(connecting, 5000), OK);
    let connack = midge_completion_connack(connecting);
    assert!(!connack.is_null());
    assert!(!midge_connack_session_present(connack));
    assert!(midge_connack_receive_maximum(connack) > 0);
    midge_completion_free(connecting);

    let mut event = null_mut();
    assert_eq!(midge_client_next_event(client, 5000, &raw mut event), OK);
    assert_eq!(
        midge_event_kind_of(event),
        midge_event_kind::MIDGE_EVENT_CONNECTED as c_int
    );
    assert!(!midge_event_connack(event).is_null());
    midge_event_free(event);

    let filter = [c"pull/t".as_ptr()];
    assert_eq!(
        midge_client_subscribe_wait(
            client,
            filter.as_ptr(),
            [2u8].as_ptr(),
            1,
            null(),
            5000,
            null_mut()
        ),
        OK
    );
    let props = midge_properties_new();
    assert_eq!(
        midge_properties_add_user_property(props, c"k".as_ptr(), c"v".as_ptr()),
        OK
    );
    assert_eq!(
        midge_properties_add_string(props, 0x03, c"text/plain".as_ptr()),
        OK
    );
    let mut publishing = null_mut();
    assert_eq!(
        midge_client_publish(
            client,
            c"pull/t".as_ptr(),
            b"hi".as_ptr(),
            2,
            2,
            false,
            props,
            &raw mut publishing
        ),
        OK
    );
    midge_properties_free(props);
    assert_eq!(midge_completion_wait(publishing, 5000), OK);
    let mut code = 0xFF;
    assert_eq!(midge_completion_reason_code(publishing, &raw mut code), OK);
    assert_eq!(code, 0, "PUBCOMP Success");
    assert_ne!(midge_completion_packet_id(publishing), 0);
    let publish_id = midge_completion_id(publishing);
    midge_completion_free(publishing);

    // The subscribe and publish completions come as events too, then the message.
    let mut seen_publish = false;
    let mut message: *mut midge_message = null_mut();
    // The broker may deliver the message before it sends PUBCOMP.
    while message.is_null() || !seen_publish {
        let mut e = null_mut();
        assert_eq!(midge_client_next_event(client, 5000, &raw mut e), OK);
        match midge_event_kind_of(e) {
            k if k == midge_event_kind::MIDGE_EVENT_PUBLISH_COMPLETE as c_int => {
                assert_eq!(midge_event_id(e), publish_id);
                seen_publish = true;
            }
            k if k == midge_event_kind::MIDGE_EVENT_MESSAGE as c_int => {
                message = midge_message_clone(midge_event_message(e));
            }
            _ => {}
        }
        midge_event_free(e);
    }
    assert!(seen_publish);
    // The clone outlives its event.
    assert_eq!(midge_message_qos(message), 2);
    // SAFETY: NUL-terminated strings from midge.
    unsafe {
        assert_eq!(
            CStr::from_ptr(midge_message_content_type(message)).to_bytes(),
            b"text/plain"
        );
        let (mut k, mut v) = (null(), null());
        assert_eq!(
            midge_message_user_property(message, 0, &raw mut k, &raw mut v),
            OK
        );
        assert_eq!(CStr::from_ptr(k).to_bytes(), b"k");
        assert_eq!(CStr::from_ptr(v).to_bytes(), b"v");
    }
    assert_eq!(
        midge_message_user_property(message, 1, &mut null(), &mut null()),
        midge_result::MIDGE_RESULT_NOT_FOUND
    );
    midge_message_free(message);
    midge_message_free(message);

    let mut idle = null_mut();
    assert_eq!(
        midge_client_next_event(client, 50, &raw mut idle),
        midge_result::MIDGE_RESULT_TIMEOUT
    );
    assert!(idle.is_null(), "no out-parameter on failure");
    assert_eq!(midge_client_disconnect_wait(client, 0, null(), 5000), OK);
    midge_client_free(client);
}

#[test]
fn completions_carry_the_acknowledgement_s_reason_string_and_user_properties() {
    use midge::codec::{ByteString, Packet, Properties, Property, PubAck, PubAckReasonCode};
    use support::fake_broker::FakeBroker;

    let broker = FakeBroker::start();
    let url = std::ffi::CString::new(broker.url()).unwrap();
    let options = midge_options_new();
    assert_eq!(midge_options_set_reconnect(options, false, 0, 0), OK);
    let mut client = null_mut();
    assert_eq!(midge_client_new(url.as_ptr(), options, &raw mut client), OK);
    midge_options_free(options);
    let mut connecting = null_mut();
    assert_eq!(midge_client_connect(client, &raw mut connecting), OK);
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.accept_session(TIMEOUT);
    assert_eq!(midge_completion_wait(connecting, 5000), OK);
    midge_completion_free(connecting);

    let mut publishing = null_mut();
    let r = midge_client_publish(
        client,
        c"t".as_ptr(),
        b"x".as_ptr(),
        1,
        1,
        false,
        null(),
        &raw mut publishing,
    );
    assert_eq!(r, OK);
    let Packet::Publish(p) = conn.recv_packet(TIMEOUT).unwrap() else {
        panic!("expected PUBLISH")
    };
    assert_eq!(
        midge_completion_poll(publishing),
        midge_result::MIDGE_RESULT_PENDING
    );
    assert!(
        midge_completion_reason_string(publishing).is_null(),
        "nothing while pending"
    );
    let mut ack = PubAck::new(p.packet_id);
    ack.reason_code = PubAckReasonCode::NoMatchingSubscribers;
    ack.properties = Properties::new()
        .with(Property::ReasonString(ByteString::from_static(
            "nobody listens",
        )))
        .with(Property::UserProperty(
            ByteString::from_static("k"),
            ByteString::from_static("v"),
        ));
    conn.send(&Packet::PubAck(ack));
    assert_eq!(midge_completion_wait(publishing, 5000), OK);
    let mut code = 0;
    assert_eq!(midge_completion_reason_code(publishing, &raw mut code), OK);
    assert_eq!(code, 0x10);
    // SAFETY: NUL-terminated strings owned by the completion.
    unsafe {
        assert_eq!(
            CStr::from_ptr(midge_completion_reason_string(publishing)).to_bytes(),
            b"nobody listens"
        );
        assert_eq!(midge_completion_user_property_count(publishing), 1);
        let (mut k, mut v) = (null(), null());
        assert_eq!(
            midge_completion_user_property(publishing, 0, &raw mut k, &raw mut v),
            OK
        );
        assert_eq!(
            (CStr::from_ptr(k).to_bytes(), CStr::from_ptr(v).to_bytes()),
            (&b"k"[..], &b"v"[..])
        );
    }
    assert_eq!(
        midge_completion_user_property(publishing, 1, &mut null(), &mut null()),
        midge_result::MIDGE_RESULT_NOT_FOUND
    );
    midge_completion_free(publishing);
    midge_client_free(client);
}
