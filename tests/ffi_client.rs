//! The C API driven from Rust against a real Mosquitto: callbacks that call back into the
//! API, freeing a client from its own callback, `drop_user_data` exactly once, the pull
//! interface and completion handles. The crate's `ffi` module is private (it is the C
//! API, not a Rust one), so these tests declare the C functions they call, as a C program
//! includes midge.h, and link to the same symbols.

mod support;

use std::ffi::{CStr, c_void};
use std::ptr::{null, null_mut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use c_api::*;
use support::mosquitto::Mosquitto;
use support::{TIMEOUT, wait_until};

/// The part of include/midge.h these tests use.
#[allow(non_camel_case_types, dead_code)]
mod c_api {
    use std::ffi::{c_char, c_int, c_void};

    macro_rules! opaque {
        ($($name:ident),*) => {$(
            #[repr(C)]
            pub struct $name {
                _private: [u8; 0],
            }
        )*};
    }
    opaque!(
        midge_client,
        midge_options,
        midge_properties,
        midge_message,
        midge_connack,
        midge_event,
        midge_completion,
        midge_ack,
        midge_disconnect
    );

    pub type midge_result = i32;
    pub const MIDGE_RESULT_OK: midge_result = 0;
    pub const MIDGE_RESULT_INVALID_ARGUMENT: midge_result = 1;
    pub const MIDGE_RESULT_TIMEOUT: midge_result = 9;
    pub const MIDGE_RESULT_PENDING: midge_result = 10;
    pub const MIDGE_RESULT_NOT_FOUND: midge_result = 21;
    pub const MIDGE_EVENT_CONNECTED: c_int = 1;
    pub const MIDGE_EVENT_MESSAGE: c_int = 5;
    pub const MIDGE_EVENT_PUBLISH_COMPLETE: c_int = 6;
    pub const MIDGE_EVENT_CONNECTION_LOST: c_int = 2;
    pub const MIDGE_DISCONNECT_REFUSED: c_int = 1;
    pub const MIDGE_DISCONNECT_SERVER: c_int = 2;

    pub type midge_drop_cb = Option<unsafe extern "C" fn(*mut c_void)>;
    pub type midge_message_cb = Option<unsafe extern "C" fn(*mut c_void, *const midge_message)>;
    pub type midge_connect_cb = Option<unsafe extern "C" fn(*mut c_void, *const midge_connack)>;
    pub type midge_ack_cb = Option<unsafe extern "C" fn(*mut c_void, *const midge_ack)>;

    // SAFETY: these are the signatures of include/midge.h, which cbindgen generates from
    // the same functions (tests/header.rs checks the header is current). They are declared
    // `safe` for these tests only: each checks its handles, and the tests pass valid
    // out-parameters.
    unsafe extern "C" {
        pub safe fn midge_options_new() -> *mut midge_options;
        pub safe fn midge_options_free(options: *mut *mut midge_options);
        pub safe fn midge_options_set_client_id(
            o: *mut midge_options,
            id: *const c_char,
        ) -> midge_result;
        pub safe fn midge_options_set_reconnect(
            o: *mut midge_options,
            on: bool,
            min: u32,
            max: u32,
        ) -> midge_result;
        pub safe fn midge_options_set_completion_events(
            o: *mut midge_options,
            on: bool,
        ) -> midge_result;
        pub safe fn midge_client_new(
            address: *const c_char,
            o: *const midge_options,
            client: *mut *mut midge_client,
        ) -> midge_result;
        pub safe fn midge_client_free(client: *mut *mut midge_client);
        pub safe fn midge_client_connect(
            c: *mut midge_client,
            completion: *mut *mut midge_completion,
        ) -> midge_result;
        pub safe fn midge_client_connect_wait(
            c: *mut midge_client,
            ms: u32,
            connack: *mut *mut midge_connack,
        ) -> midge_result;
        pub safe fn midge_client_publish(
            c: *mut midge_client,
            topic: *const c_char,
            payload: *const u8,
            len: usize,
            qos: c_int,
            retain: bool,
            p: *const midge_properties,
            completion: *mut *mut midge_completion,
        ) -> midge_result;
        pub safe fn midge_client_subscribe_wait(
            c: *mut midge_client,
            filters: *const *const c_char,
            options: *const u8,
            count: usize,
            p: *const midge_properties,
            ms: u32,
            codes: *mut u8,
        ) -> midge_result;
        pub safe fn midge_client_disconnect_wait(
            c: *mut midge_client,
            reason: c_int,
            p: *const midge_properties,
            ms: u32,
        ) -> midge_result;
        pub safe fn midge_client_next_event(
            c: *mut midge_client,
            ms: u32,
            event: *mut *mut midge_event,
        ) -> midge_result;
        pub safe fn midge_client_on_message(
            c: *mut midge_client,
            cb: midge_message_cb,
            user_data: *mut c_void,
            drop: midge_drop_cb,
        ) -> midge_result;
        pub safe fn midge_client_on_connect(
            c: *mut midge_client,
            cb: midge_connect_cb,
            user_data: *mut c_void,
            drop: midge_drop_cb,
        ) -> midge_result;
        pub safe fn midge_client_on_publish(
            c: *mut midge_client,
            cb: midge_ack_cb,
            user_data: *mut c_void,
            drop: midge_drop_cb,
        ) -> midge_result;
        pub safe fn midge_properties_new() -> *mut midge_properties;
        pub safe fn midge_properties_free(p: *mut *mut midge_properties);
        pub safe fn midge_properties_add_string(
            p: *mut midge_properties,
            id: c_int,
            v: *const c_char,
        ) -> midge_result;
        pub safe fn midge_properties_add_user_property(
            p: *mut midge_properties,
            k: *const c_char,
            v: *const c_char,
        ) -> midge_result;
        pub safe fn midge_message_topic(m: *const midge_message) -> *const c_char;
        pub safe fn midge_message_payload(m: *const midge_message, len: *mut usize) -> *const u8;
        pub safe fn midge_message_qos(m: *const midge_message) -> c_int;
        pub safe fn midge_message_content_type(
            m: *const midge_message,
            out: *mut *const c_char,
        ) -> bool;
        pub safe fn midge_message_user_property(
            m: *const midge_message,
            i: usize,
            k: *mut *const c_char,
            v: *mut *const c_char,
        ) -> midge_result;
        pub safe fn midge_message_clone(m: *const midge_message) -> *mut midge_message;
        pub safe fn midge_message_free(m: *mut *mut midge_message);
        pub safe fn midge_connack_session_present(c: *const midge_connack) -> bool;
        pub safe fn midge_connack_receive_maximum(c: *const midge_connack) -> u16;
        pub safe fn midge_event_kind_of(e: *const midge_event) -> c_int;
        pub safe fn midge_event_connack(e: *const midge_event) -> *const midge_connack;
        pub safe fn midge_event_message(e: *const midge_event) -> *const midge_message;
        pub safe fn midge_event_ack(e: *const midge_event) -> *const midge_ack;
        pub safe fn midge_event_free(e: *mut *mut midge_event);
        pub safe fn midge_completion_id(c: *const midge_completion) -> u64;
        pub safe fn midge_completion_wait(c: *const midge_completion, ms: u32) -> midge_result;
        pub safe fn midge_completion_poll(c: *const midge_completion) -> midge_result;
        pub safe fn midge_completion_ack(c: *const midge_completion) -> *const midge_ack;
        pub safe fn midge_completion_connack(c: *const midge_completion) -> *const midge_connack;
        pub safe fn midge_completion_free(c: *mut *mut midge_completion);
        pub safe fn midge_ack_id(a: *const midge_ack) -> u64;
        pub safe fn midge_ack_result(a: *const midge_ack) -> midge_result;
        pub safe fn midge_ack_packet_id(a: *const midge_ack, out: *mut u16) -> bool;
        pub safe fn midge_ack_reason_code(a: *const midge_ack, out: *mut u8) -> bool;
        pub safe fn midge_ack_reason_string(a: *const midge_ack, out: *mut *const c_char) -> bool;
        pub safe fn midge_ack_user_property_count(a: *const midge_ack) -> usize;
        pub safe fn midge_ack_user_property(
            a: *const midge_ack,
            i: usize,
            k: *mut *const c_char,
            v: *mut *const c_char,
        ) -> midge_result;
        pub safe fn midge_ack_property_count(a: *const midge_ack) -> usize;
        pub safe fn midge_event_disconnect(e: *const midge_event) -> *const midge_disconnect;
        pub safe fn midge_disconnect_kind_of(d: *const midge_disconnect) -> c_int;
        pub safe fn midge_disconnect_reason_code(d: *const midge_disconnect, out: *mut u8) -> bool;
        pub safe fn midge_disconnect_reason_string(
            d: *const midge_disconnect,
            out: *mut *const c_char,
        ) -> bool;
        pub safe fn midge_disconnect_user_property_count(d: *const midge_disconnect) -> usize;
        pub safe fn midge_disconnect_user_property(
            d: *const midge_disconnect,
            i: usize,
            k: *mut *const c_char,
            v: *mut *const c_char,
        ) -> midge_result;
        pub safe fn midge_disconnect_property_count(d: *const midge_disconnect) -> usize;
        pub safe fn midge_disconnect_property_at(
            d: *const midge_disconnect,
            i: usize,
            p: *mut midge_property,
        ) -> midge_result;
    }

    /// `midge_property`.
    #[repr(C)]
    pub struct midge_property {
        pub id: u8,
        pub integer: u32,
        pub string: *const c_char,
        pub value: *const c_char,
        pub data: *const u8,
        pub len: usize,
    }
}

const OK: midge_result = MIDGE_RESULT_OK;

fn new_client(broker: &Mosquitto, id: &CStr) -> *mut midge_client {
    let options = midge_options_new();
    assert_eq!(midge_options_set_completion_events(options, true), OK);
    assert_eq!(midge_options_set_client_id(options, id.as_ptr()), OK);
    assert_eq!(midge_options_set_reconnect(options, false, 0, 0), OK);
    let url = std::ffi::CString::new(broker.url()).unwrap();
    let mut client = null_mut();
    assert_eq!(midge_client_new(url.as_ptr(), options, &raw mut client), OK);
    let mut options = options;
    midge_options_free(&raw mut options);
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
    let mut client = client;
    midge_client_free(&raw mut client);
    // Freeing waits for the callbacks, then drops the user data: exactly once each.
    assert_eq!(DROPS.load(Ordering::SeqCst), before + 2);
    drop(echo);
}

static FREED_IN_CALLBACK: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn free_on_connect(user_data: *mut c_void, connack: *const midge_connack) {
    assert!(!connack.is_null());
    // Freeing the client from its own callback is allowed.
    let mut client = user_data.cast::<midge_client>();
    midge_client_free(&raw mut client);
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
        MIDGE_RESULT_INVALID_ARGUMENT
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
    midge_completion_free(&raw mut connecting);

    let mut event = null_mut();
    assert_eq!(midge_client_next_event(client, 5000, &raw mut event), OK);
    assert_eq!(midge_event_kind_of(event), MIDGE_EVENT_CONNECTED);
    assert!(!midge_event_connack(event).is_null());
    midge_event_free(&raw mut event);

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
    let mut props = props;
    midge_properties_free(&raw mut props);
    assert_eq!(midge_completion_wait(publishing, 5000), OK);
    let ack = midge_completion_ack(publishing);
    let mut code = 0xFF;
    assert!(midge_ack_reason_code(ack, &raw mut code));
    assert_eq!(code, 0, "PUBCOMP Success");
    let mut packet_id = 0;
    assert!(midge_ack_packet_id(ack, &raw mut packet_id));
    assert_ne!(packet_id, 0);
    let publish_id = midge_completion_id(publishing);
    assert_eq!(midge_ack_id(ack), publish_id);
    midge_completion_free(&raw mut publishing);
    assert_eq!(
        midge_ack_result(ack),
        MIDGE_RESULT_INVALID_ARGUMENT,
        "gone with it"
    );

    // The subscribe and publish completions come as events too, then the message.
    let mut seen_publish = false;
    let mut message: *mut midge_message = null_mut();
    // The broker may deliver the message before it sends PUBCOMP.
    while message.is_null() || !seen_publish {
        let mut e = null_mut();
        assert_eq!(midge_client_next_event(client, 5000, &raw mut e), OK);
        match midge_event_kind_of(e) {
            k if k == MIDGE_EVENT_PUBLISH_COMPLETE => {
                assert_eq!(midge_ack_id(midge_event_ack(e)), publish_id);
                seen_publish = true;
            }
            k if k == MIDGE_EVENT_MESSAGE => {
                message = midge_message_clone(midge_event_message(e));
            }
            _ => {}
        }
        midge_event_free(&raw mut e);
    }
    assert!(seen_publish);
    // The clone outlives its event.
    assert_eq!(midge_message_qos(message), 2);
    // SAFETY: NUL-terminated strings from midge.
    unsafe {
        let mut content_type = null();
        assert!(midge_message_content_type(message, &raw mut content_type));
        assert_eq!(CStr::from_ptr(content_type).to_bytes(), b"text/plain");
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
        MIDGE_RESULT_NOT_FOUND
    );
    let stale = message;
    midge_message_free(&raw mut message);
    assert!(message.is_null());
    midge_message_free(&raw mut message);
    let mut stale = stale;
    midge_message_free(&raw mut stale);

    let mut idle = null_mut();
    assert_eq!(
        midge_client_next_event(client, 50, &raw mut idle),
        MIDGE_RESULT_TIMEOUT
    );
    assert!(idle.is_null(), "no out-parameter on failure");
    assert_eq!(midge_client_disconnect_wait(client, 0, null(), 5000), OK);
    let mut client = client;
    midge_client_free(&raw mut client);
}

/// What the publish callback saw of its acknowledgement, read inside the callback.
#[derive(Default)]
struct Seen {
    calls: usize,
    id: u64,
    packet_id: u16,
    code: u8,
    reason: Vec<u8>,
    user: Vec<(Vec<u8>, Vec<u8>)>,
}

static SEEN: Mutex<Option<Seen>> = Mutex::new(None);

/// Reads everything from the lent `midge_ack` during the call.
unsafe extern "C" fn on_publish(_user_data: *mut c_void, ack: *const midge_ack) {
    let mut seen = Seen {
        calls: 1,
        id: midge_ack_id(ack),
        ..Seen::default()
    };
    assert!(midge_ack_packet_id(ack, &raw mut seen.packet_id));
    assert!(midge_ack_reason_code(ack, &raw mut seen.code));
    let mut reason = null();
    if midge_ack_reason_string(ack, &raw mut reason) {
        // SAFETY: a NUL-terminated string lent with the ack.
        seen.reason = unsafe { CStr::from_ptr(reason) }.to_bytes().to_vec();
    }
    for i in 0..midge_ack_user_property_count(ack) {
        let (mut k, mut v) = (null(), null());
        assert_eq!(midge_ack_user_property(ack, i, &raw mut k, &raw mut v), OK);
        // SAFETY: as above.
        let pair = unsafe { (CStr::from_ptr(k), CStr::from_ptr(v)) };
        seen.user
            .push((pair.0.to_bytes().to_vec(), pair.1.to_bytes().to_vec()));
    }
    let mut slot = SEEN.lock().unwrap();
    if let Some(old) = slot.as_ref() {
        seen.calls += old.calls;
    }
    *slot = Some(seen);
}

#[test]
fn the_acknowledgement_s_reason_string_and_user_properties_reach_completions_and_callbacks() {
    use midge::codec::{ByteString, Packet, Properties, Property, PubAck, PubAckReasonCode};
    use support::fake_broker::FakeBroker;

    let broker = FakeBroker::start();
    let url = std::ffi::CString::new(broker.url()).unwrap();
    let mut options = midge_options_new();
    assert_eq!(midge_options_set_reconnect(options, false, 0, 0), OK);
    let mut client = null_mut();
    assert_eq!(midge_client_new(url.as_ptr(), options, &raw mut client), OK);
    midge_options_free(&raw mut options);
    assert_eq!(
        midge_client_on_publish(client, Some(on_publish), null_mut(), None),
        OK
    );
    let mut connecting = null_mut();
    assert_eq!(midge_client_connect(client, &raw mut connecting), OK);
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.accept_session(TIMEOUT);
    assert_eq!(midge_completion_wait(connecting, 5000), OK);
    midge_completion_free(&raw mut connecting);

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
    assert_eq!(midge_completion_poll(publishing), MIDGE_RESULT_PENDING);
    assert!(
        midge_completion_ack(publishing).is_null(),
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
    let ack = midge_completion_ack(publishing);
    let mut code = 0;
    assert!(midge_ack_reason_code(ack, &raw mut code));
    assert_eq!(code, 0x10);
    let mut reason = null();
    assert!(midge_ack_reason_string(ack, &raw mut reason));
    // SAFETY: NUL-terminated strings lent by the completion.
    unsafe {
        assert_eq!(CStr::from_ptr(reason).to_bytes(), b"nobody listens");
        assert_eq!(midge_ack_user_property_count(ack), 1);
        let (mut k, mut v) = (null(), null());
        assert_eq!(midge_ack_user_property(ack, 0, &raw mut k, &raw mut v), OK);
        assert_eq!(
            (CStr::from_ptr(k).to_bytes(), CStr::from_ptr(v).to_bytes()),
            (&b"k"[..], &b"v"[..])
        );
    }
    assert_eq!(
        midge_ack_user_property(ack, 1, &mut null(), &mut null()),
        MIDGE_RESULT_NOT_FOUND
    );
    // The callback saw the same, with the packet id, in one object.
    let id = midge_completion_id(publishing);
    wait_for("the publish callback", || SEEN.lock().unwrap().is_some());
    {
        let seen = SEEN.lock().unwrap();
        let seen = seen.as_ref().unwrap();
        assert_eq!((seen.calls, seen.id, seen.code), (1, id, 0x10));
        assert_eq!(seen.packet_id, p.packet_id);
        assert_eq!(seen.reason, b"nobody listens");
        assert_eq!(seen.user, vec![(b"k".to_vec(), b"v".to_vec())]);
    }
    midge_completion_free(&raw mut publishing);
    midge_client_free(&raw mut client);
}

fn c_text(p: *const std::ffi::c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: a NUL-terminated string lent by midge.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

/// The next event that is not a log line.
fn next_event(client: *mut midge_client) -> *mut midge_event {
    let mut e = null_mut();
    assert_eq!(midge_client_next_event(client, 5000, &raw mut e), OK);
    e
}

/// A cause's User Properties, through the dedicated calls and the generic walk.
fn cause_user_properties(d: *const midge_disconnect) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for i in 0..midge_disconnect_user_property_count(d) {
        let (mut k, mut v) = (null(), null());
        assert_eq!(
            midge_disconnect_user_property(d, i, &raw mut k, &raw mut v),
            OK
        );
        out.push((c_text(k), c_text(v)));
    }
    let mut walked = Vec::new();
    for i in 0..midge_disconnect_property_count(d) {
        let mut p = std::mem::MaybeUninit::<midge_property>::zeroed();
        assert_eq!(midge_disconnect_property_at(d, i, p.as_mut_ptr()), OK);
        // SAFETY: written by midge on success.
        let p = unsafe { p.assume_init() };
        if p.id == 0x26 {
            walked.push((c_text(p.string), c_text(p.value)));
        }
    }
    assert_eq!(out, walked, "the walk shows the same User Properties");
    out
}

#[test]
fn a_refusing_connack_s_and_a_disconnect_s_properties_are_reachable_from_c() {
    use midge::codec::{
        ByteString, ConnAck, ConnectReasonCode, Disconnect, DisconnectReasonCode, Packet,
        Properties, Property,
    };
    use support::fake_broker::{FakeBroker, connack};

    let with_user = |reason: &'static str| {
        Properties::new()
            .with(Property::ReasonString(ByteString::from_static(reason)))
            .with(Property::UserProperty(
                ByteString::from_static("k"),
                ByteString::from_static(reason),
            ))
    };
    let broker = FakeBroker::start();
    let url = std::ffi::CString::new(broker.url()).unwrap();
    let mut options = midge_options_new();
    assert_eq!(midge_options_set_reconnect(options, false, 0, 0), OK);
    let mut client = null_mut();
    assert_eq!(midge_client_new(url.as_ptr(), options, &raw mut client), OK);
    midge_options_free(&raw mut options);

    // 1. A CONNACK refusing with 0x87 and properties: on the completion's ack and on the
    // CONNECTION_LOST event's cause.
    let mut connecting = null_mut();
    assert_eq!(midge_client_connect(client, &raw mut connecting), OK);
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ConnectReasonCode::NotAuthorized,
        properties: with_user("not you"),
    }));
    assert_ne!(midge_completion_wait(connecting, 5000), OK);
    let refusal = midge_completion_ack(connecting);
    let mut code = 0;
    assert!(midge_ack_reason_code(refusal, &raw mut code));
    assert_eq!(code, 0x87);
    let mut reason = null();
    assert!(midge_ack_reason_string(refusal, &raw mut reason));
    assert_eq!(c_text(reason), "not you");
    assert_eq!(midge_ack_property_count(refusal), 2);
    midge_completion_free(&raw mut connecting);
    let mut e = next_event(client);
    assert_eq!(midge_event_kind_of(e), MIDGE_EVENT_CONNECTION_LOST);
    let cause = midge_event_disconnect(e);
    assert_eq!(midge_disconnect_kind_of(cause), MIDGE_DISCONNECT_REFUSED);
    assert_eq!(
        cause_user_properties(cause),
        vec![("k".to_owned(), "not you".to_owned())]
    );
    midge_event_free(&raw mut e);
    drop(conn);

    // 2. A server's DISCONNECT 0x8B with a reason string and a User Property.
    assert_eq!(midge_client_connect(client, null_mut()), OK);
    let mut conn = broker.accept(TIMEOUT).unwrap();
    conn.expect_connect(TIMEOUT);
    conn.send(&connack(Properties::new()));
    let mut e = next_event(client);
    assert_eq!(midge_event_kind_of(e), MIDGE_EVENT_CONNECTED);
    midge_event_free(&raw mut e);
    conn.send(&Packet::Disconnect(Disconnect {
        reason_code: DisconnectReasonCode::from_u8(0x8B).unwrap(),
        properties: with_user("going down"),
    }));
    let mut e = next_event(client);
    assert_eq!(midge_event_kind_of(e), MIDGE_EVENT_CONNECTION_LOST);
    let cause = midge_event_disconnect(e);
    assert_eq!(midge_disconnect_kind_of(cause), MIDGE_DISCONNECT_SERVER);
    let mut code = 0;
    assert!(midge_disconnect_reason_code(cause, &raw mut code));
    assert_eq!(code, 0x8B);
    let mut reason = null();
    assert!(midge_disconnect_reason_string(cause, &raw mut reason));
    assert_eq!(c_text(reason), "going down");
    assert_eq!(
        cause_user_properties(cause),
        vec![("k".to_owned(), "going down".to_owned())]
    );
    midge_event_free(&raw mut e);
    assert_eq!(
        midge_disconnect_kind_of(cause),
        0,
        "lent by the event: gone with it"
    );
    midge_client_free(&raw mut client);
}
