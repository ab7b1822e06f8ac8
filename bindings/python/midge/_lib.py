"""Loading libmidge with ctypes, and the ctypes declaration of every C function.

``SIGNATURES`` is the single table of declarations (restype, argtypes) applied to the
loaded library; ``tests/test_header.py`` checks it against ``include/midge.h`` so that a
changed C signature fails a test instead of crashing.
"""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    CFUNCTYPE,
    POINTER,
    c_bool,
    c_char_p,
    c_int,
    c_int32,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

#: The C API version this package was written for (``MIDGE_VERSION_MAJOR/MINOR``).
API_MAJOR = 1
API_MINOR = 0

if sys.platform == "darwin":
    LIBRARY_NAME = "libmidge.dylib"
elif sys.platform == "win32":
    LIBRARY_NAME = "midge.dll"
else:
    LIBRARY_NAME = "libmidge.so"

# Opaque handles are plain pointers (c_void_p); libmidge checks every handle it is given.
_p = c_void_p
_pp = POINTER(c_void_p)  # T ** out-parameters
_str = c_char_p  # const char * (in: bytes; out: bytes, copied by ctypes)
_bytes_in = c_char_p  # const uint8_t * in: a bytes object, passed without a copy
_bytes_out = c_void_p  # const uint8_t * out: read with ctypes.string_at
_result = c_int32  # midge_result: typedef int32_t, MIDGE_RESULT_* constants


class IoStatsStruct(ctypes.Structure):
    """``midge_io_stats``."""

    _fields_ = [
        ("writes", c_uint64),
        ("bytes_sent", c_uint64),
        ("reads", c_uint64),
        ("bytes_received", c_uint64),
    ]


class MessageFieldsStruct(ctypes.Structure):
    """``midge_message_fields``: a message's essentials, read in one call."""

    _fields_ = [
        ("topic", c_void_p),
        ("topic_len", c_size_t),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
        ("property_count", c_size_t),
        ("qos", c_int),
        ("retain", c_bool),
        ("dup", c_bool),
    ]


class PropertyStruct(ctypes.Structure):
    """``midge_property``: one property as received (the `_property_at` functions)."""

    _fields_ = [
        ("id", c_uint8),
        ("integer", c_uint32),
        ("string", c_char_p),
        ("value", c_char_p),
        ("data", c_void_p),
        ("len", c_size_t),
    ]


class StatsStruct(ctypes.Structure):
    """``midge_stats``."""

    _fields_ = [
        ("messages_sent", c_uint64),
        ("messages_received", c_uint64),
        ("packets_sent", c_uint64),
        ("packets_received", c_uint64),
        ("bytes_sent", c_uint64),
        ("bytes_received", c_uint64),
        ("writes", c_uint64),
        ("reads", c_uint64),
        ("inflight_out", c_uint64),
        ("inflight_in", c_uint64),
        ("queued", c_uint64),
        ("queued_bytes", c_uint64),
        ("connects", c_uint64),
        ("disconnects", c_uint64),
        ("connected_ms", c_uint64),
        ("has_rtt", c_bool),
        ("rtt_us", c_uint64),
        ("last_rtt_us", c_uint64),
        ("refused_queue_full", c_uint64),
    ]


# Store callback types (declared here: the struct below needs them).
STORE_PUT_CB = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t)
STORE_GET_CB = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t, c_void_p)
STORE_REMOVE_CB = CFUNCTYPE(c_int, c_void_p, c_void_p, c_size_t)
STORE_KEYS_CB = CFUNCTYPE(c_int, c_void_p, c_void_p)
STORE_SYNC_CB = CFUNCTYPE(c_int, c_void_p)
_DROP_CB = CFUNCTYPE(None, c_void_p)


class StoreCallbacksStruct(ctypes.Structure):
    """``midge_store_callbacks``."""

    _fields_ = [
        ("user_data", c_void_p),
        ("put", STORE_PUT_CB),
        ("get", STORE_GET_CB),
        ("remove", STORE_REMOVE_CB),
        ("keys", STORE_KEYS_CB),
        ("sync", STORE_SYNC_CB),
        ("close", _DROP_CB),
    ]


#: The plain structs of midge.h, by their C name (checked field by field against it).
STRUCTS: Dict[str, Any] = {
    "midge_io_stats": IoStatsStruct,
    "midge_message_fields": MessageFieldsStruct,
    "midge_property": PropertyStruct,
    "midge_stats": StatsStruct,
    "midge_store_callbacks": StoreCallbacksStruct,
}

# Callback types (the typedefs of midge.h).
CONNECT_CB = CFUNCTYPE(None, c_void_p, c_void_p)
DROP_CB = _DROP_CB
CONNECTION_LOST_CB = CFUNCTYPE(None, c_void_p, c_void_p)
MESSAGE_CB = CFUNCTYPE(None, c_void_p, c_void_p)
ACK_CB = CFUNCTYPE(None, c_void_p, c_void_p)
LOG_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
AUTH_CB = CFUNCTYPE(c_int32, c_void_p, c_int, c_void_p, c_size_t, c_void_p)
REDIRECT_CB = CFUNCTYPE(c_bool, c_void_p, c_char_p, c_char_p, c_char_p, c_uint8)

#: Which ctypes callback type stands for which midge.h typedef (checked by the tests).
CALLBACK_TYPEDEFS: Dict[str, Any] = {
    "midge_connect_cb": CONNECT_CB,
    "midge_drop_cb": DROP_CB,
    "midge_connection_lost_cb": CONNECTION_LOST_CB,
    "midge_message_cb": MESSAGE_CB,
    "midge_ack_cb": ACK_CB,
    "midge_log_cb": LOG_CB,
    "midge_auth_cb": AUTH_CB,
    "midge_redirect_cb": REDIRECT_CB,
    "midge_store_put_cb": STORE_PUT_CB,
    "midge_store_get_cb": STORE_GET_CB,
    "midge_store_remove_cb": STORE_REMOVE_CB,
    "midge_store_keys_cb": STORE_KEYS_CB,
    "midge_store_sync_cb": STORE_SYNC_CB,
}

Sig = Tuple[Any, List[Any]]

#: name -> (restype, argtypes), for every function of midge.h.
SIGNATURES: Dict[str, Sig] = {
    # library
    "midge_version": (c_uint32, []),
    "midge_version_string": (_str, []),
    "midge_result_str": (_str, [_result]),
    "midge_last_error_message": (_str, []),
    "midge_last_error_reason_code": (c_bool, [POINTER(c_uint8)]),
    "midge_reason_code_str": (_str, [c_uint8]),
    "midge_property_name": (_str, [c_uint8]),
    "midge_topic_name_check": (_result, [_str]),
    "midge_topic_filter_check": (_result, [_str]),
    "midge_shutdown": (_result, []),
    # client
    "midge_client_new": (_result, [_str, _p, _pp]),
    "midge_client_free": (None, [_pp]),
    "midge_client_connect": (_result, [_p, _pp]),
    "midge_client_connect_wait": (_result, [_p, c_uint32, _pp]),
    "midge_client_publish": (
        _result,
        [_p, _str, _bytes_in, c_size_t, c_int, c_bool, _p, _pp],
    ),
    "midge_client_set_will": (
        _result,
        [_p, _str, _bytes_in, c_size_t, c_int, c_bool, _p],
    ),
    "midge_client_clear_will": (_result, [_p]),
    "midge_client_set_credentials": (_result, [_p, _str, _bytes_in, c_size_t]),
    "midge_client_set_clean_start": (_result, [_p, c_bool]),
    "midge_client_publish_wait": (
        _result,
        [_p, _str, _bytes_in, c_size_t, c_int, c_bool, _p, c_uint32, POINTER(c_uint8)],
    ),
    "midge_client_subscribe": (
        _result,
        [_p, POINTER(c_char_p), POINTER(c_uint8), c_size_t, _p, _pp],
    ),
    "midge_client_subscribe_wait": (
        _result,
        [_p, POINTER(c_char_p), POINTER(c_uint8), c_size_t, _p, c_uint32, POINTER(c_uint8)],
    ),
    "midge_client_unsubscribe": (_result, [_p, POINTER(c_char_p), c_size_t, _p, _pp]),
    "midge_client_unsubscribe_wait": (
        _result,
        [_p, POINTER(c_char_p), c_size_t, _p, c_uint32, POINTER(c_uint8)],
    ),
    "midge_client_disconnect": (_result, [_p, c_int, _p, _pp]),
    "midge_client_event_fd": (c_int, [_p]),
    "midge_client_disconnect_wait": (_result, [_p, c_int, _p, c_uint32]),
    "midge_client_reauthenticate": (_result, [_p, _pp]),
    "midge_client_request": (
        _result,
        [_p, _str, _bytes_in, c_size_t, c_int, _str, c_uint32, _pp],
    ),
    "midge_client_next_event": (_result, [_p, c_uint32, _pp]),
    "midge_client_io_stats": (_result, [_p, POINTER(IoStatsStruct)]),
    "midge_client_server": (c_bool, [_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "midge_client_on_redirect": (_result, [_p, REDIRECT_CB, c_void_p, DROP_CB]),
    "midge_client_stats": (_result, [_p, POINTER(StatsStruct)]),
    "midge_client_reload_tls": (_result, [_p, _p]),
    "midge_client_on_connect": (_result, [_p, CONNECT_CB, c_void_p, DROP_CB]),
    "midge_client_on_connection_lost": (_result, [_p, CONNECTION_LOST_CB, c_void_p, DROP_CB]),
    "midge_client_on_message": (_result, [_p, MESSAGE_CB, c_void_p, DROP_CB]),
    "midge_client_on_publish": (_result, [_p, ACK_CB, c_void_p, DROP_CB]),
    "midge_client_on_subscribe": (_result, [_p, ACK_CB, c_void_p, DROP_CB]),
    "midge_client_on_unsubscribe": (_result, [_p, ACK_CB, c_void_p, DROP_CB]),
    "midge_client_on_log": (_result, [_p, LOG_CB, c_void_p, DROP_CB]),
    # events
    "midge_event_kind_of": (c_int, [_p]),
    "midge_event_connack": (_p, [_p]),
    "midge_event_disconnect": (_p, [_p]),
    "midge_event_message": (_p, [_p]),
    "midge_event_ack": (_p, [_p]),
    "midge_event_count": (c_uint64, [_p]),
    "midge_event_log": (_str, [_p, POINTER(c_int)]),
    "midge_event_free": (None, [_pp]),
    # completions
    "midge_completion_id": (c_uint64, [_p]),
    "midge_completion_wait": (_result, [_p, c_uint32]),
    "midge_completion_poll": (_result, [_p]),
    "midge_completion_ack": (_p, [_p]),
    "midge_completion_connack": (_p, [_p]),
    # acknowledgements (midge_ack)
    "midge_ack_id": (c_uint64, [_p]),
    "midge_ack_result": (_result, [_p]),
    "midge_ack_packet_id": (c_bool, [_p, POINTER(c_uint16)]),
    "midge_ack_reason_code": (c_bool, [_p, POINTER(c_uint8)]),
    "midge_ack_reason_codes": (_bytes_out, [_p, POINTER(c_size_t)]),
    "midge_ack_reason_string": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_ack_user_property_count": (c_size_t, [_p]),
    "midge_ack_user_property": (
        _result,
        [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p)],
    ),
    "midge_ack_property_count": (c_size_t, [_p]),
    "midge_ack_property_at": (_result, [_p, c_size_t, POINTER(PropertyStruct)]),
    "midge_completion_free": (None, [_pp]),
    # messages
    "midge_message_topic": (_str, [_p]),
    "midge_message_payload": (_bytes_out, [_p, POINTER(c_size_t)]),
    "midge_message_qos": (c_int, [_p]),
    "midge_message_get_fields": (_result, [_p, POINTER(MessageFieldsStruct)]),
    "midge_message_retain": (c_bool, [_p]),
    "midge_message_dup": (c_bool, [_p]),
    "midge_message_packet_id": (c_bool, [_p, POINTER(c_uint16)]),
    "midge_message_payload_format": (c_bool, [_p, POINTER(c_uint8)]),
    "midge_message_message_expiry": (c_bool, [_p, POINTER(c_uint32)]),
    "midge_message_content_type": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_message_response_topic": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_message_correlation_data": (c_bool, [_p, POINTER(c_void_p), POINTER(c_size_t)]),
    "midge_message_user_property_count": (c_size_t, [_p]),
    "midge_message_user_property": (
        _result,
        [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p)],
    ),
    "midge_message_property_count": (c_size_t, [_p]),
    "midge_message_property_at": (_result, [_p, c_size_t, POINTER(PropertyStruct)]),
    "midge_message_subscription_identifier_count": (c_size_t, [_p]),
    "midge_message_subscription_identifier": (_result, [_p, c_size_t, POINTER(c_uint32)]),
    "midge_message_clone": (_p, [_p]),
    "midge_message_free": (None, [_pp]),
    "midge_message_ack": (_result, [_p, _p]),
    # CONNACK
    "midge_connack_session_present": (c_bool, [_p]),
    "midge_connack_protocol_version": (c_int, [_p]),
    "midge_connack_assigned_client_id": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_connack_keep_alive": (c_uint16, [_p]),
    "midge_connack_server_keep_alive": (c_bool, [_p, POINTER(c_uint16)]),
    "midge_connack_session_expiry_interval": (c_bool, [_p, POINTER(c_uint32)]),
    "midge_connack_receive_maximum": (c_uint16, [_p]),
    "midge_connack_maximum_qos": (c_int, [_p]),
    "midge_connack_retain_available": (c_bool, [_p]),
    "midge_connack_maximum_packet_size": (c_bool, [_p, POINTER(c_uint32)]),
    "midge_connack_topic_alias_maximum": (c_uint16, [_p]),
    "midge_connack_wildcard_subscription_available": (c_bool, [_p]),
    "midge_connack_subscription_identifiers_available": (c_bool, [_p]),
    "midge_connack_shared_subscription_available": (c_bool, [_p]),
    "midge_connack_reason_string": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_connack_server_reference": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_connack_server": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_connack_response_information": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_connack_authentication_method": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_connack_authentication_data": (c_bool, [_p, POINTER(c_void_p), POINTER(c_size_t)]),
    "midge_connack_user_property_count": (c_size_t, [_p]),
    "midge_connack_user_property": (
        _result,
        [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p)],
    ),
    "midge_connack_property_count": (c_size_t, [_p]),
    "midge_connack_property_at": (_result, [_p, c_size_t, POINTER(PropertyStruct)]),
    "midge_connack_clone": (_p, [_p]),
    "midge_connack_free": (None, [_pp]),
    # disconnect causes
    "midge_disconnect_kind_of": (c_int, [_p]),
    "midge_disconnect_reason_code": (c_bool, [_p, POINTER(c_uint8)]),
    "midge_disconnect_reason_string": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_disconnect_server_reference": (c_bool, [_p, POINTER(c_char_p)]),
    "midge_disconnect_errno": (c_bool, [_p, POINTER(c_int)]),
    "midge_disconnect_detail": (_str, [_p]),
    "midge_disconnect_user_property_count": (c_size_t, [_p]),
    "midge_disconnect_user_property": (
        _result,
        [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p)],
    ),
    "midge_disconnect_property_count": (c_size_t, [_p]),
    "midge_disconnect_property_at": (_result, [_p, c_size_t, POINTER(PropertyStruct)]),
    # options
    "midge_options_new": (_p, []),
    "midge_options_free": (None, [_pp]),
    "midge_options_set_client_id": (_result, [_p, _str]),
    "midge_options_set_clean_start": (_result, [_p, c_bool]),
    "midge_options_set_keep_alive": (_result, [_p, c_uint16]),
    "midge_options_set_session_expiry": (_result, [_p, c_uint32]),
    "midge_options_set_username": (_result, [_p, _str]),
    "midge_options_set_password": (_result, [_p, _bytes_in, c_size_t]),
    "midge_options_set_will": (
        _result,
        [_p, _str, _bytes_in, c_size_t, c_int, c_bool, _p],
    ),
    "midge_options_clear_will": (_result, [_p]),
    "midge_options_set_receive_maximum": (_result, [_p, c_uint16]),
    "midge_options_set_maximum_packet_size": (_result, [_p, c_uint32]),
    "midge_options_set_memory_budget": (_result, [_p, c_uint64]),
    "midge_options_set_topic_alias_maximum": (_result, [_p, c_uint16]),
    "midge_options_set_request_response_information": (_result, [_p, c_bool]),
    "midge_options_set_request_problem_information": (_result, [_p, c_bool]),
    "midge_options_add_user_property": (_result, [_p, _str, _str]),
    "midge_options_set_auto_topic_alias": (_result, [_p, c_bool]),
    "midge_options_set_offline_queue": (_result, [_p, c_size_t, c_size_t]),
    "midge_options_set_resubscribe": (_result, [_p, c_bool]),
    "midge_options_set_connack_timeout": (_result, [_p, c_uint32]),
    "midge_options_set_connect_timeout": (_result, [_p, c_uint32]),
    "midge_options_set_reconnect": (_result, [_p, c_bool, c_uint32, c_uint32]),
    "midge_options_set_tcp_nodelay": (_result, [_p, c_bool]),
    "midge_options_set_tcp_buffers": (_result, [_p, c_size_t, c_size_t]),
    "midge_options_set_event_queue_limit": (_result, [_p, c_size_t]),
    "midge_options_set_event_queue_bytes": (_result, [_p, c_size_t]),
    "midge_options_set_log_level": (_result, [_p, c_int]),
    "midge_options_set_completion_events": (_result, [_p, c_bool]),
    "midge_options_set_inline_callbacks": (_result, [_p, c_bool]),
    "midge_options_set_busy_poll": (_result, [_p, c_uint32]),
    "midge_options_set_linger": (_result, [_p, c_uint32]),
    "midge_options_set_manual_ack": (_result, [_p, c_bool]),
    "midge_options_set_store": (_result, [_p, _pp, c_int]),
    "midge_options_set_protocol_version": (_result, [_p, c_int]),
    "midge_options_set_authenticator": (
        _result,
        [_p, _str, _bytes_in, c_size_t, AUTH_CB, c_void_p, DROP_CB],
    ),
    "midge_auth_response_set": (_result, [_p, _bytes_in, c_size_t]),
    "midge_options_set_tls": (_result, [_p, _p]),
    "midge_options_add_ws_header": (_result, [_p, _str, _str]),
    "midge_options_add_server": (_result, [_p, _str]),
    "midge_options_set_follow_redirects": (_result, [_p, c_bool]),
    "midge_options_set_max_redirects": (_result, [_p, c_uint32]),
    # TLS options
    "midge_tls_options_new": (_p, []),
    "midge_tls_options_free": (None, [_pp]),
    "midge_tls_options_add_ca_file": (_result, [_p, _str]),
    "midge_tls_options_add_ca_dir": (_result, [_p, _str]),
    "midge_tls_options_add_ca_pem": (_result, [_p, _bytes_in, c_size_t]),
    "midge_tls_options_set_system_roots": (_result, [_p, c_bool]),
    "midge_tls_options_set_mozilla_roots": (_result, [_p, c_bool]),
    "midge_tls_options_set_client_cert_files": (_result, [_p, _str, _str]),
    "midge_tls_options_set_client_cert_pem": (_result, [_p, _bytes_in, c_size_t, _bytes_in, c_size_t]),
    "midge_tls_options_add_alpn": (_result, [_p, _str]),
    "midge_tls_options_set_server_name": (_result, [_p, _str]),
    "midge_tls_options_set_versions": (_result, [_p, c_int]),
    "midge_tls_options_add_pin": (_result, [_p, c_int, _bytes_in, c_size_t]),
    "midge_tls_options_dangerous_set_no_verify": (_result, [_p, c_bool]),
    # persistence stores
    "midge_store_file_new": (_result, [_str, c_uint64, c_size_t, _pp]),
    "midge_store_free": (None, [_pp]),
    "midge_store_callbacks_new": (_result, [POINTER(StoreCallbacksStruct), _pp]),
    "midge_store_sink_write": (_result, [_p, _bytes_in, c_size_t]),
    # properties
    "midge_properties_new": (_p, []),
    "midge_properties_free": (None, [_pp]),
    "midge_properties_add_int": (_result, [_p, c_int, c_uint32]),
    "midge_properties_add_string": (_result, [_p, c_int, _str]),
    "midge_properties_add_binary": (_result, [_p, c_int, _bytes_in, c_size_t]),
    "midge_properties_add_user_property": (_result, [_p, _str, _str]),
    "midge_properties_count": (c_size_t, [_p]),
    "midge_properties_clear": (_result, [_p]),
}


def _candidates() -> List[Path]:
    """Where libmidge is looked for, in order."""
    found: List[Path] = []
    env = os.environ.get("MIDGE_LIBRARY")
    if env:
        return [Path(env)]
    here = Path(__file__).resolve().parent
    found.append(here / LIBRARY_NAME)  # bundled by `pip install`
    # A source checkout: bindings/python/midge -> <repo>/target/release.
    repo = here.parent.parent.parent
    if (repo / "Cargo.toml").is_file():
        found.append(repo / "target" / "release" / LIBRARY_NAME)
    return found


def library_path() -> Path:
    """The libmidge this process loads: ``$MIDGE_LIBRARY``, else the bundled copy."""
    candidates = _candidates()
    for c in candidates:
        if c.is_file():
            return c
    raise ImportError(
        "midge: libmidge not found (looked in: %s). Install the package with "
        "`pip install bindings/python` (builds it with cargo) or set MIDGE_LIBRARY to the "
        "path of a libmidge build." % ", ".join(str(c) for c in candidates)
    )


def declare(lib: Any) -> Any:
    """Applies ``SIGNATURES`` to a loaded library."""
    for name, (restype, argtypes) in SIGNATURES.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


#: Functions called with the GIL held (``ctypes.PyDLL``): they read, copy or free a
#: message, event, CONNACK, DISCONNECT, acknowledgement or completion, or build a
#: property list, in memory (at most taking a lock of midge's for an instant, whose
#: holders never wait for Python). None waits or calls back. ctypes otherwise releases
#: and retakes the GIL around every call: for a call of well under a microsecond that
#: costs more than the call, and while another thread waits for the GIL (the publisher,
#: while the callback thread reads a message) it hands the GIL over on each of them. Not
#: here: acknowledging a message (it goes to midge's I/O thread) and waiting for a
#: completion.
HOLD_GIL = frozenset(
    name
    for name in SIGNATURES
    if name.startswith(
        (
            "midge_message_",
            "midge_event_",
            "midge_connack_",
            "midge_disconnect_",
            "midge_properties_",
            "midge_ack_",
            "midge_completion_",
        )
    )
    and name not in ("midge_message_ack", "midge_completion_wait")
)


def load(path: Optional[Path] = None) -> Any:
    p = path if path is not None else library_path()
    lib = ctypes.CDLL(str(p))
    declare(lib)
    held = declare(ctypes.PyDLL(str(p)))
    for name in HOLD_GIL:
        setattr(lib, name, getattr(held, name))
    # midge_client_next_event with a zero timeout only takes what already waits: the
    # callback thread drains a batch of events with it without giving the GIL away.
    lib.midge_client_next_event_nowait = held.midge_client_next_event
    # midge_client_publish never waits for Python: the client uses this one when nothing
    # of it calls back into Python while holding midge's locks (no redirect filter) and
    # no store write can block it (see Client.__init__).
    lib.midge_client_publish_held = held.midge_client_publish
    version = lib.midge_version()
    major, minor = version >> 16, (version >> 8) & 0xFF
    if major != API_MAJOR or minor < API_MINOR:
        raise ImportError(
            "midge: %s is version %d.%d; this package needs %d.%d or a later minor"
            % (p, major, minor, API_MAJOR, API_MINOR)
        )
    return lib


lib = load()
PATH = library_path()
