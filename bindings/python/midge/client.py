"""The MQTT v5 client."""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
import weakref
import ctypes
from ctypes import (
    POINTER,
    byref,
    c_char_p,
    c_int,
    c_size_t,
    c_uint8,
    c_uint16,
    c_uint32,
    c_void_p,
    create_string_buffer,
    sizeof,
    string_at,
)
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _lib
from ._enums import DisconnectKind, ProtocolVersion, QoS, ReasonCode, Result, RetainHandling, _EventKind, _PropertyId
from ._enums import reason_code as _reason_code
from ._lib import DROP_CB, REDIRECT_CB, lib
from ._types import (
    ConnAck,
    DisconnectInfo,
    IoStats,
    Message,
    Payload,
    Properties,
    PublishResult,
    Reconnect,
    Redirect,
    RestoredPublish,
    Stats,
    SubscriptionOptions,
    Will,
    _user_props,
)
from . import _validate as _v
from .errors import Closed, InvalidArgument, InvalidType, MidgeError, NotConnected, Timeout, error_for

logger = logging.getLogger("midge")

_U32_MAX = 0xFFFFFFFF
#: Longest single blocking C call made by a generator or a handle wait, in seconds, so
#: that Ctrl-C and mode changes are noticed.
_SLICE = 0.25
#: Publish failures kept for Client.publish_failures (the oldest go beyond).
_MAX_FAILURES = 10_000

OnMessage = Callable[[Message], Any]
OnConnect = Callable[[ConnAck], Any]
OnDisconnect = Callable[[DisconnectInfo], Any]
#: ``Client(durability=...)``: ``'os'``, ``'fsync'`` or ``'fsync_before_send'``.
Durability = Literal["os", "fsync", "fsync_before_send"]
Subscriptions = Union[
    str,
    Sequence[Union[str, Tuple[str, Union[SubscriptionOptions, int]]]],
]


# --------------------------------------------------------------------------------------
# Conversions
# --------------------------------------------------------------------------------------


def _ms(timeout: Optional[float]) -> int:
    """Seconds (None: forever) to a C timeout in milliseconds."""
    if timeout is None:
        return _U32_MAX
    if timeout <= 0:
        return 0
    return min(int(timeout * 1000.0 + 0.999), _U32_MAX)


def _text(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8", "replace")


def _property_name(pid: int) -> str:
    """A property's name as the standard writes it (``Message Expiry Interval``)."""
    try:
        return _PropertyId(pid).name.replace("_", " ").title()
    except ValueError:
        return "property 0x%02X" % pid


def _cstr(s: str, what: str) -> bytes:
    _v.text(s, what)
    if "\0" in s:
        raise InvalidArgument("%s contains U+0000" % what, result=Result.INVALID_ARGUMENT)
    return s.encode("utf-8", "surrogatepass")


#: Topic names already checked and encoded: a publisher sends to a few topics again and
#: again. Cleared when full.
_TOPICS: Dict[str, bytes] = {}
_TOPICS_MAX = 1024


def _topic(s: str) -> bytes:
    """``_cstr(s, "topic")``, remembered."""
    b = _TOPICS.get(s) if type(s) is str else None
    if b is None:
        b = _cstr(s, "topic")
        if len(_TOPICS) >= _TOPICS_MAX:
            _TOPICS.clear()
        _TOPICS[s] = b
    return b


def _payload(p: Payload) -> bytes:
    if p is None:
        return b""
    if isinstance(p, bytes):
        return p
    if isinstance(p, str):
        return p.encode("utf-8")
    if isinstance(p, (bytearray, memoryview)):
        return bytes(p)
    raise InvalidType("payload must be bytes, bytearray, memoryview or str, not %s" % type(p).__name__)


def _failure(rc: int) -> MidgeError:
    """The exception for a failed call: reads the calling thread's last error at once."""
    detail = _text(lib.midge_last_error_message()) or ""
    code = c_uint8()
    has_code = lib.midge_last_error_reason_code(byref(code))
    return error_for(rc, detail, code.value if has_code else None)


def _free(free: Callable[..., None], handle: Optional[int]) -> None:
    """Calls a ``midge_*_free``, which takes the address of a variable holding the handle
    (and empties it)."""
    if handle:
        lib_handle = c_void_p(handle)
        free(byref(lib_handle))


def _opt_text(getter: Callable[..., bool], obj: int) -> Optional[str]:
    """An optional string (``bool f(obj, const char **out)``): None when absent."""
    out = c_char_p()
    return _text(out.value) if getter(obj, byref(out)) else None


def _opt_int(getter: Callable[..., bool], obj: int, ctype: Any) -> Optional[int]:
    """An optional integer (``bool f(obj, T *out)``): None when absent."""
    out = ctype()
    return out.value if getter(obj, byref(out)) else None


def _check(rc: int) -> None:
    if rc != 0:
        raise _failure(rc)


def _pairs(getter: Callable[..., int], obj: int, count: int) -> Tuple[Tuple[str, str], ...]:
    out = []
    for i in range(count):
        k, v = c_char_p(), c_char_p()
        if getter(obj, i, byref(k), byref(v)) == 0:
            out.append((_text(k.value) or "", _text(v.value) or ""))
    return tuple(out)


_NO_PROPERTIES = Properties()
_QOS = (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE, QoS.EXACTLY_ONCE)


class _MessageHandle:
    """An owned ``midge_message`` handle kept by a :class:`Message` for
    :meth:`Client.ack`; freed when the Message goes."""

    __slots__ = ("ptr", "_finalizer", "__weakref__")

    def __init__(self, lent: int) -> None:
        ptr = lib.midge_message_clone(lent)
        if not ptr:
            raise MemoryError("midge_message_clone")
        self.ptr: int = ptr
        self._finalizer = weakref.finalize(self, _free, lib.midge_message_free, ptr)

    def __copy__(self) -> "_MessageHandle":
        return self  # shared: copies of a Message acknowledge the same message

    def __deepcopy__(self, memo: Any) -> "_MessageHandle":
        return self


def _read_message(m: int, keep: bool = False) -> Message:
    """Copies a lent ``midge_message`` into a Python value: one C call, plus one per
    property (the generic walk), so a message without properties costs no more. With
    ``keep`` (manual acknowledgements), a QoS 1/2 message also keeps an owned handle."""
    f = _lib.MessageFieldsStruct()
    _check(_get_fields(m, byref(f)))
    qos = f.qos
    count = f.property_count
    # Message is a frozen dataclass: its fields set in one step rather than through
    # __init__ (one object.__setattr__ per field), a third of the cost on the receive path.
    msg = _new_object(Message)
    _set_attribute(
        msg,
        "__dict__",
        {
            "topic": _string_at(f.topic, f.topic_len).decode("utf-8", "replace") if f.topic_len else "",
            "payload": _string_at(f.payload, f.payload_len) if f.payload_len else b"",
            "qos": _QOS[qos] if 0 <= qos <= 2 else QoS.AT_MOST_ONCE,
            "retain": f.retain,
            "dup": f.dup,
            "properties": _read_message_properties(m, count) if count else _NO_PROPERTIES,
            "_handle": _MessageHandle(m) if keep and qos > 0 else None,
        },
    )
    return msg


_MESSAGE = int(_EventKind.MESSAGE)
_get_fields = lib.midge_message_get_fields
#: ctypes.string_at without its Python wrapper's frame.
_string_at = getattr(ctypes, "_string_at", string_at)
_new_object = object.__new__
_set_attribute = object.__setattr__


def _read_restored(ev: int) -> Optional[RestoredPublish]:
    """Reads a ``MIDGE_EVENT_RESTORED_PUBLISH_COMPLETE``: the id its completion had, what it
    published, and its outcome."""
    ack = lib.midge_event_ack(ev)
    m = lib.midge_event_message(ev)
    if not ack or not m:
        return None
    ident = int(lib.midge_ack_id(ack))
    message = _read_message(m)
    rc = lib.midge_ack_result(ack)
    code = _opt_int(lib.midge_ack_reason_code, ack, c_uint8)
    reason = _opt_text(lib.midge_ack_reason_string, ack)
    if rc == 0:
        return RestoredPublish(
            ident,
            message,
            result=PublishResult(
                reason_code=_reason_code(code or 0),
                packet_id=_opt_int(lib.midge_ack_packet_id, ack, c_uint16) or 0,
                reason_string=reason,
                user_properties=_pairs(lib.midge_ack_user_property, ack, lib.midge_ack_user_property_count(ack)),
            ),
        )
    detail = "restored publish %d to %r: %s" % (ident, message.topic, _text(lib.midge_result_str(rc)) or "failed")
    failure_code = code if code is not None and code >= 0x80 else None
    return RestoredPublish(ident, message, error=error_for(rc, detail, failure_code, reason))


def _read_message_properties(m: int, count: int) -> Properties:
    """A message's properties by the walk of ``midge_message_property_at``."""
    fields: Dict[str, Any] = {}
    users: List[Tuple[str, str]] = []
    ids: List[int] = []
    prop = _lib.PropertyStruct()
    for i in range(count):
        if lib.midge_message_property_at(m, i, byref(prop)) != 0:
            continue
        pid = prop.id
        if pid == _PropertyId.USER_PROPERTY:
            users.append((_text(prop.string) or "", _text(prop.value) or ""))
        elif pid == _PropertyId.SUBSCRIPTION_IDENTIFIER:
            ids.append(prop.integer)
        elif pid == _PropertyId.PAYLOAD_FORMAT_INDICATOR:
            fields["payload_format_indicator"] = prop.integer
        elif pid == _PropertyId.MESSAGE_EXPIRY_INTERVAL:
            fields["message_expiry_interval"] = prop.integer
        elif pid == _PropertyId.CONTENT_TYPE:
            fields["content_type"] = _text(prop.string)
        elif pid == _PropertyId.RESPONSE_TOPIC:
            fields["response_topic"] = _text(prop.string)
        elif pid == _PropertyId.CORRELATION_DATA:
            fields["correlation_data"] = string_at(prop.data, prop.len) if prop.data and prop.len else b""
        # Topic Alias: resolved by midge, not the application's concern.
    return Properties(user_properties=tuple(users), subscription_identifiers=tuple(ids), **fields)


def _read_connack(c: int) -> ConnAck:
    return ConnAck(
        session_present=bool(lib.midge_connack_session_present(c)),
        assigned_client_id=_opt_text(lib.midge_connack_assigned_client_id, c),
        keep_alive=lib.midge_connack_keep_alive(c),
        server_keep_alive=_opt_int(lib.midge_connack_server_keep_alive, c, c_uint16),
        session_expiry_interval=_opt_int(lib.midge_connack_session_expiry_interval, c, c_uint32),
        receive_maximum=lib.midge_connack_receive_maximum(c),
        maximum_qos=lib.midge_connack_maximum_qos(c),
        retain_available=bool(lib.midge_connack_retain_available(c)),
        maximum_packet_size=_opt_int(lib.midge_connack_maximum_packet_size, c, c_uint32),
        topic_alias_maximum=lib.midge_connack_topic_alias_maximum(c),
        wildcard_subscription_available=bool(lib.midge_connack_wildcard_subscription_available(c)),
        subscription_identifiers_available=bool(
            lib.midge_connack_subscription_identifiers_available(c)
        ),
        shared_subscription_available=bool(lib.midge_connack_shared_subscription_available(c)),
        reason_string=_opt_text(lib.midge_connack_reason_string, c),
        server_reference=_opt_text(lib.midge_connack_server_reference, c),
        response_information=_opt_text(lib.midge_connack_response_information, c),
        authentication_method=_opt_text(lib.midge_connack_authentication_method, c),
        user_properties=_pairs(
            lib.midge_connack_user_property, c, lib.midge_connack_user_property_count(c)
        ),
        protocol_version=ProtocolVersion(lib.midge_connack_protocol_version(c)),
        server=_opt_text(lib.midge_connack_server, c),
    )


def _read_disconnect(d: int) -> DisconnectInfo:
    kind = lib.midge_disconnect_kind_of(d)
    try:
        k: Union[DisconnectKind, int] = DisconnectKind(kind)
    except ValueError:
        k = kind
    rc = _opt_int(lib.midge_disconnect_reason_code, d, c_uint8)
    return DisconnectInfo(
        kind=k,
        reason_code=_reason_code(rc) if rc is not None else None,
        reason_string=_opt_text(lib.midge_disconnect_reason_string, d),
        server_reference=_opt_text(lib.midge_disconnect_server_reference, d),
        errno=_opt_int(lib.midge_disconnect_errno, d, c_int) or 0,
        detail=_text(lib.midge_disconnect_detail(d)) or "",
        user_properties=_pairs(
            lib.midge_disconnect_user_property, d, lib.midge_disconnect_user_property_count(d)
        ),
    )


class _CProps:
    """A ``midge_properties`` list built from Python values; freed on exit."""

    def __init__(self) -> None:
        self.ptr: Optional[int] = None

    def _list(self) -> int:
        if self.ptr is None:
            p = lib.midge_properties_new()
            if not p:
                raise MemoryError("midge_properties_new")
            self.ptr = p
        return self.ptr

    def int(self, pid: int, value: Optional[int]) -> "_CProps":
        if value is not None:
            v = _v.integer(value, _property_name(pid), _U32_MAX)
            _check(lib.midge_properties_add_int(self._list(), pid, v))
        return self

    def string(self, pid: int, value: Optional[str]) -> "_CProps":
        if value is not None:
            _check(lib.midge_properties_add_string(self._list(), pid, _cstr(value, _property_name(pid))))
        return self

    def binary(self, pid: int, value: Optional[bytes]) -> "_CProps":
        if value is not None:
            b = _v.binary(value, _property_name(pid))
            _check(lib.midge_properties_add_binary(self._list(), pid, b, len(b)))
        return self

    def users(self, pairs: Optional[Iterable[Tuple[str, str]]]) -> "_CProps":
        for k, v in _user_props(pairs):
            _check(
                lib.midge_properties_add_user_property(
                    self._list(), _cstr(k, "user property name"), _cstr(v, "user property value")
                )
            )
        return self

    def message(self, p: Optional[Properties]) -> "_CProps":
        if p is None:
            return self
        self.int(_PropertyId.PAYLOAD_FORMAT_INDICATOR, p.payload_format_indicator)
        self.int(_PropertyId.MESSAGE_EXPIRY_INTERVAL, p.message_expiry_interval)
        self.string(_PropertyId.CONTENT_TYPE, p.content_type)
        self.string(_PropertyId.RESPONSE_TOPIC, p.response_topic)
        self.binary(_PropertyId.CORRELATION_DATA, p.correlation_data)
        self.users(p.user_properties)
        for ident in p.subscription_identifiers:
            self.int(_PropertyId.SUBSCRIPTION_IDENTIFIER, ident)
        return self

    def __enter__(self) -> "_CProps":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.ptr is not None:
            _free(lib.midge_properties_free, self.ptr)
            self.ptr = None


# --------------------------------------------------------------------------------------
# The redirect callback: a module-level trampoline (alive forever); user_data is a key into
# _registry, removed by drop_user_data once midge has made its last call.
# --------------------------------------------------------------------------------------

_registry: Dict[int, "_State"] = {}
_keys = itertools.count(1)


def _register(state: "_State") -> int:
    key = next(_keys)
    _registry[key] = state
    return key


def _deliver(st: "_State", generation: int) -> None:
    """The callback thread of a client with ``on_message``, ``on_connect`` or
    ``on_disconnect`` set: takes midge's events in arrival order and hands each to its
    callback. It waits for the first event with the GIL released, then takes every event
    already waiting with the GIL held, so that the GIL changes hands once per batch of
    messages rather than once per message (a C callback per message took it per
    message). Ends when the callbacks are all unset (``generation`` moves on) or the
    client is closed."""
    while st.generation == generation:
        h = st.handle
        if h is None:
            return
        with st.pull_lock:
            if st.generation != generation:
                return
            try:
                rc = st.drain(h, _ms(_SLICE))
            except BaseException as e:  # a failure of midge itself: reported, then stop
                st.record(e, "event")
                return
        if rc == Result.CLOSED:
            return


@REDIRECT_CB
def _redirect_trampoline(
    user_data: Optional[int], from_: Optional[bytes], to: Optional[bytes], reference: Optional[bytes], code: int
) -> bool:
    state = _registry.get(user_data or 0)
    cb = state.on_redirect if state is not None else None
    if cb is None:
        return True
    try:
        r = Redirect(
            from_server=(from_ or b"").decode(),
            to=(to or b"").decode(),
            reference=(reference or b"").decode(),
            reason_code=int(code),
        )
        return bool(cb(r))
    except BaseException as e:  # never unwind into C; an exception refuses
        state.record(e, "on_redirect")  # type: ignore[union-attr]
        return False


@DROP_CB
def _drop_trampoline(user_data: Optional[int]) -> None:
    _registry.pop(user_data or 0, None)


class _State:
    """Everything a Client shares with its callback thread and midge's threads. It holds
    no reference to the Client, so that a Client can be garbage-collected while callbacks
    are set."""

    def __init__(self, handle: int) -> None:
        self.handle: Optional[int] = handle
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.inbox: Deque[Message] = collections.deque()
        self.errors: Deque[BaseException] = collections.deque()
        self.on_message: Optional[OnMessage] = None
        self.on_connect: Optional[OnConnect] = None
        self.on_disconnect: Optional[OnDisconnect] = None
        self.on_redirect: Optional[Callable[[Redirect], bool]] = None
        #: A callback is set: the callback thread takes every event (messages not taken
        #: by on_message go to the inbox).
        self.installed = False
        #: Moves on each time callbacks are set or all unset: a callback thread runs
        #: while it is the one it was started with.
        self.generation = 0
        self.pull_lock = threading.Lock()
        self.connack: Optional[ConnAck] = None
        self.disconnect_info: Optional[DisconnectInfo] = None
        self.connected = False
        #: connect() was called at least once: a blocking publish can then complete.
        self.connect_called = False
        #: Messages are acknowledged by Client.ack (they keep a handle for it).
        self.manual_ack = False
        #: Restored publishes that ended, met by any pull (they never go to a callback);
        #: bounded by what the store held when the client was made.
        self.restored: Deque[RestoredPublish] = collections.deque()
        #: Failures of publishes made without a handle (publish_nowait), oldest first,
        #: at most _MAX_FAILURES; beyond, the oldest go and are counted.
        self.publish_failures: Deque[MidgeError] = collections.deque()
        self.publish_failures_dropped = 0
        #: midge_client_publish as this client calls it (with the GIL held or not).
        self.publish: Any = lib.midge_client_publish

    # -- callbacks (the callback thread) --

    def record(self, exc: BaseException, where: str) -> None:
        logger.error("exception in midge %s callback", where, exc_info=exc)
        with self.lock:
            self.errors.append(exc)
            self.cond.notify_all()

    def dispatch_connect(self, ptr: Optional[int]) -> None:
        try:
            info = _read_connack(ptr) if ptr else None
            with self.lock:
                self.connected = True
                self.connack = info
            cb = self.on_connect
            if cb is not None and info is not None:
                cb(info)
        except BaseException as e:  # never unwind into C
            self.record(e, "on_connect")

    def dispatch_lost(self, ptr: Optional[int]) -> None:
        try:
            info = _read_disconnect(ptr) if ptr else None
            with self.lock:
                self.connected = False
                self.disconnect_info = info
            cb = self.on_disconnect
            if cb is not None and info is not None:
                cb(info)
        except BaseException as e:
            self.record(e, "on_disconnect")

    def dispatch_message(self, ptr: Optional[int]) -> None:
        try:
            if not ptr:
                return
            msg = _read_message(ptr, self.manual_ack)
            cb = self.on_message
            if cb is not None:
                cb(msg)
            else:
                with self.lock:
                    self.inbox.append(msg)
                    self.cond.notify_all()
        except BaseException as e:
            self.record(e, "on_message")

    def note_publish_failure(self, ack: Optional[int]) -> None:
        """A pulled MIDGE_EVENT_PUBLISH_COMPLETE: the failure of a publish nobody holds a
        handle for (publish_nowait), logged and kept for publish_failures()."""
        try:
            if not ack:
                return
            rc = lib.midge_ack_result(ack)
            if rc == 0:
                return
            code = _opt_int(lib.midge_ack_reason_code, ack, c_uint8)
            reason = _opt_text(lib.midge_ack_reason_string, ack)
            try:
                what = Result(rc).name
            except ValueError:
                what = "result %d" % rc
            detail = "a publish without a handle failed: %s" % what
            if reason:
                detail += ": %s" % reason
            err = error_for(rc, detail, code if code is not None and code >= 0x80 else None, reason)
            logger.warning("midge: %s", err)
            with self.lock:
                if len(self.publish_failures) >= _MAX_FAILURES:
                    self.publish_failures.popleft()
                    self.publish_failures_dropped += 1
                self.publish_failures.append(err)
        except BaseException as e:
            self.record(e, "publish")

    # -- application side --

    def raise_pending(self) -> None:
        if self.errors:
            with self.lock:
                exc = self.errors.popleft() if self.errors else None
            if exc is not None:
                raise exc

    def get(self) -> int:
        h = self.handle
        if h is None:
            raise Closed("the client is closed", result=Result.CLOSED)
        return h

    def failure(self, rc: int) -> MidgeError:
        e = _failure(rc)
        if self.handle is None and rc == Result.INVALID_ARGUMENT:
            return Closed("the client is closed", result=Result.CLOSED)
        return e

    def check(self, rc: int) -> None:
        if rc != 0:
            raise self.failure(rc)

    def handle_event(self, ev: int) -> Optional[Message]:
        """Reads one pulled event; returns its message, if it is one."""
        kind = lib.midge_event_kind_of(ev)
        if kind == _EventKind.MESSAGE:
            m = lib.midge_event_message(ev)
            return _read_message(m, self.manual_ack) if m else None
        if kind == _EventKind.CONNECTED:
            c = lib.midge_event_connack(ev)
            with self.lock:
                self.connected = True
                self.connack = _read_connack(c) if c else None
        elif kind == _EventKind.CONNECTION_LOST:
            d = lib.midge_event_disconnect(ev)
            with self.lock:
                self.connected = False
                self.disconnect_info = _read_disconnect(d) if d else None
        elif kind == _EventKind.RESTORED_PUBLISH_COMPLETE:
            r = _read_restored(ev)
            if r is not None:
                with self.lock:
                    self.restored.append(r)
                    self.cond.notify_all()
        elif kind == _EventKind.PUBLISH_COMPLETE:
            self.note_publish_failure(lib.midge_event_ack(ev))
        elif kind == _EventKind.MESSAGES_DROPPED:
            logger.warning("midge dropped %d QoS 0 messages (the application fell behind)",
                           lib.midge_event_count(ev))
        return None

    def keep(self, msg: Message) -> None:
        """A message pulled while looking for restored publishes: it waits in the inbox for
        next_message."""
        with self.lock:
            self.inbox.append(msg)
            self.cond.notify_all()

    def drain(self, handle: int, timeout_ms: int) -> int:
        """The callback thread's turn: waits up to ``timeout_ms`` for an event (the GIL
        released), then dispatches it and every event already waiting (the GIL held).
        Returns the result that ended it: TIMEOUT (nothing more waits) or CLOSED."""
        ev = c_void_p()
        ref = byref(ev)
        dispatch, free, take = self.dispatch, lib.midge_event_free, lib.midge_client_next_event_nowait
        kind_of, message_of, on_message = lib.midge_event_kind_of, lib.midge_event_message, self.dispatch_message
        rc = lib.midge_client_next_event(handle, timeout_ms, ref)
        while rc == 0:
            try:
                e = ev.value
                if kind_of(e) == _MESSAGE:
                    on_message(message_of(e))
                else:
                    dispatch(e)
            finally:
                free(ref)
            rc = take(handle, 0, ref)
        if rc == Result.INVALID_ARGUMENT and self.handle is None:
            return Result.CLOSED  # closed by another thread meanwhile
        if rc not in (Result.TIMEOUT, Result.CLOSED):
            raise self.failure(rc)
        return rc

    def dispatch(self, ev: int) -> None:
        """An event other than a message on the callback thread (drain hands messages to
        dispatch_message itself): to its callback, or as a pull would take it."""
        kind = lib.midge_event_kind_of(ev)
        if kind == _EventKind.CONNECTED:
            self.dispatch_connect(lib.midge_event_connack(ev))
        elif kind == _EventKind.CONNECTION_LOST:
            self.dispatch_lost(lib.midge_event_disconnect(ev))
        else:
            try:
                self.handle_event(ev)
            except BaseException as e:
                self.record(e, "event")

    def pull(self, handle: int, timeout_ms: int) -> Tuple[int, Optional[Message]]:
        """One midge_client_next_event (the GIL is released by ctypes during the wait)."""
        ev = c_void_p()
        rc = lib.midge_client_next_event(handle, timeout_ms, byref(ev))
        if rc != 0:
            if rc in (Result.TIMEOUT, Result.CLOSED):
                return rc, None
            if rc == Result.INVALID_ARGUMENT and self.handle is None:
                return Result.CLOSED, None  # closed by another thread meanwhile
            raise self.failure(rc)
        try:
            return 0, self.handle_event(ev.value)  # type: ignore[arg-type]
        finally:
            lib.midge_event_free(byref(ev))


def _free_state(state: _State) -> None:
    """Frees the client handle exactly once (close(), context exit, or GC/exit)."""
    with state.lock:
        h, state.handle = state.handle, None
        state.connected = False
        state.cond.notify_all()
    _free(lib.midge_client_free, h)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def _publish_outcome(ptr: int, rc: int) -> PublishResult:
    """A finished publish's completion (``rc`` its result): the result, or raises the
    failure. The completion is not freed."""
    ack = lib.midge_completion_ack(ptr)
    if rc != 0:
        err = _failure(rc)
        if err.reason_code is None:
            code = _opt_int(lib.midge_ack_reason_code, ack, c_uint8)
            if code is not None and code >= 0x80:
                err.reason_code = _reason_code(code)
        raise err
    rcode = _opt_int(lib.midge_ack_reason_code, ack, c_uint8) or 0
    users = lib.midge_ack_user_property_count(ack)
    return PublishResult(
        reason_code=_reason_code(rcode),
        packet_id=_opt_int(lib.midge_ack_packet_id, ack, c_uint16) or 0,
        reason_string=_opt_text(lib.midge_ack_reason_string, ack),
        user_properties=_pairs(lib.midge_ack_user_property, ack, users) if users else (),
    )


class PublishHandle:
    """A publish in flight (from :meth:`Client.publish_async`)."""

    def __init__(self, state: _State, completion: int, qos: int) -> None:
        self._state = state
        self._ptr: Optional[int] = completion
        self._qos = qos
        self._finalizer = weakref.finalize(self, _free, lib.midge_completion_free, completion)
        self._result: Optional[PublishResult] = None
        self._error: Optional[MidgeError] = None
        # Serialises _finish: several threads may wait on one handle, and once the
        # completion ends each of their waits returns; only the first reads and frees the
        # completion, the others return (or raise) the outcome it stored.
        self._lock = threading.Lock()

    @property
    def id(self) -> int:
        """The completion id, unique in the process."""
        return lib.midge_completion_id(self._ptr) if self._ptr else 0

    def done(self) -> bool:
        """True once the publish has ended (acknowledged, written for QoS 0, or failed)."""
        if self._result is not None or self._error is not None or self._ptr is None:
            return True
        return lib.midge_completion_poll(self._ptr) != Result.PENDING

    def _outcome(self) -> PublishResult:
        """The stored outcome of a finished publish: returns the result or raises the error."""
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def _finish(self, rc: int) -> PublishResult:
        with self._lock:
            ptr = self._ptr
            if ptr is not None:  # else finished by another thread: rc may be stale
                try:
                    self._result = _publish_outcome(ptr, rc)
                except MidgeError as err:
                    self._error = err
                # The outcome is stored before _ptr is cleared: a thread that sees
                # _ptr None without the lock finds it.
                self._ptr = None
                self._finalizer()
        return self._outcome()

    def wait(self, timeout: Optional[float] = None) -> PublishResult:
        """Waits up to ``timeout`` seconds (None: no limit) for the end of the publish.
        Raises :class:`Timeout` if it has not ended (it goes on; wait again), or the
        publish's failure (:class:`Refused` with the reason code, :class:`Closed`, ...).
        Several threads may wait on one handle; all get the same outcome."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            ptr = self._ptr
            if ptr is None:  # finished (maybe by another thread)
                return self._outcome()
            if deadline is None:
                step = _SLICE
            else:
                step = max(0.0, min(_SLICE, deadline - time.monotonic()))
            # Freeing the completion in another thread during this call is safe: midge
            # then returns INVALID_ARGUMENT, which _finish ignores as _ptr is cleared.
            rc = lib.midge_completion_wait(ptr, _ms(step))
            if rc != Result.TIMEOUT:
                return self._finish(rc)
            if deadline is not None and time.monotonic() >= deadline:
                raise Timeout(
                    "publish not acknowledged within %.3g s (it goes on)" % timeout,
                    result=Result.TIMEOUT,
                )

    def __repr__(self) -> str:
        return "<midge.PublishHandle id=%d done=%s>" % (self.id, self.done())


from .tls import Tls  # noqa: E402  (uses this module's helpers lazily)


class Client:
    """An MQTT v5 client.

    >>> with midge.Client("mqtt://127.0.0.1:1883") as c:
    ...     c.subscribe("t/#", qos=1)
    ...     c.publish("t/1", b"hi", qos=1)
    ...     for m in c.messages(timeout=1.0): print(m.topic, m.payload)

    Methods may be called from any thread. Received messages come either by iterating
    :meth:`messages` or through the ``on_message`` callback; ``on_connect`` and
    ``on_disconnect`` report connection changes. Callbacks run on one thread per client
    (named ``midge-callbacks``), started when the first is set and ended when the last is
    unset, in arrival order; it takes midge's events in batches. An exception they raise
    is logged (logger ``midge``) and raised again by the next call the application makes
    into the client.

    QoS 1/2 messages are acknowledged to the server once handed to the application; with
    ``manual_ack=True``, only when the application calls :meth:`ack`.

    Durable sessions: with ``store`` (a directory, where the file ``midge.store`` is kept,
    or the store file itself; a ``str`` or ``os.PathLike``), every QoS 1/2 publish is
    written to the store before :meth:`publish_async` returns (QoS 0 is not kept), and
    libmidge keeps the session's state there (packet identifiers, the client identifier,
    the subscriptions). A later client made with the same store and ``client_id`` (e.g.
    after the process restarted) restores the session: its first connect resumes it and
    sends what was unfinished, and :meth:`restored_publishes` / :meth:`next_restored`
    report how each of those ended. ``durability`` is ``'os'`` (the default: written to
    the operating system before the call returns, which survives the process being
    killed), ``'fsync'`` (on stable storage, ``fdatasync``, before the call returns) or
    ``'fsync_before_send'`` (written when the call returns, on stable storage before it is
    sent: one sync per write to the server, shared by the publishes made meanwhile).
    ``store_max_bytes`` and ``store_max_records`` bound the live data (0: the defaults of
    ``midge_store_file_new``); a publish beyond them raises :class:`StoreFull` and writes
    nothing. The store is opened here: one open at a time (:class:`StoreError` "in use"
    otherwise), and one client identifier per store (another raises
    :class:`InvalidArgument`, from the moment a client is made with the store).
    Set a ``session_expiry_interval`` longer than a restart takes, or the server forgets
    its half of the session.
    """

    def __init__(
        self,
        broker: Union[str, Sequence[str]] = "mqtt://127.0.0.1:1883",
        *,
        servers: Optional[Iterable[str]] = None,
        follow_redirects: bool = False,
        max_redirects: Optional[int] = None,
        client_id: str = "",
        clean_start: bool = True,
        session_expiry_interval: int = 0,
        keep_alive: int = 60,
        username: Optional[str] = None,
        password: Union[bytes, str, None] = None,
        will: Optional[Will] = None,
        receive_maximum: Optional[int] = None,
        maximum_packet_size: Optional[int] = None,
        memory_budget: Optional[int] = None,
        topic_alias_maximum: Optional[int] = None,
        reconnect: Union[bool, Reconnect] = True,
        user_properties: Optional[Iterable[Tuple[str, str]]] = None,
        connect_timeout: float = 10.0,
        request_response_information: bool = False,
        linger: Optional[float] = None,
        protocol_version: ProtocolVersion = ProtocolVersion.V5,
        event_queue_limit: Optional[int] = None,
        event_queue_bytes: Optional[int] = None,
        _completion_events: bool = False,
        tls: Optional["Tls"] = None,
        ws_headers: Optional[Iterable[Tuple[str, str]]] = None,
        manual_ack: bool = False,
        store: Union[str, "os.PathLike[str]", None] = None,
        durability: Optional[Durability] = None,
        store_max_bytes: int = 0,
        store_max_records: int = 0,
    ) -> None:
        self._state: Optional[_State] = None
        # Several servers: a list for `broker`, and/or `servers` after it.
        if isinstance(broker, (list, tuple)):
            if not broker:
                raise InvalidArgument("broker: an empty list of servers", result=Result.INVALID_ARGUMENT)
            more = [_v.text(b, "broker") for b in broker[1:]]
            broker = broker[0]
        else:
            more = []
        _v.text(broker, "broker")
        more += [_v.text(b, "servers") for b in (servers or ())]
        _v.flag(follow_redirects, "follow_redirects")
        version = _v.protocol_version(protocol_version)
        _v.flag(clean_start, "clean_start")
        _v.flag(request_response_information, "request_response_information")
        _v.flag(manual_ack, "manual_ack")
        store_path, store_durability = _store_args(store, durability, store_max_bytes, store_max_records)
        self.connect_timeout = _v.seconds(connect_timeout, "connect_timeout")
        opts = lib.midge_options_new()
        if not opts:
            raise MemoryError("midge_options_new")
        try:
            _check(lib.midge_options_set_protocol_version(opts, int(version)))
            _check(lib.midge_options_set_client_id(opts, _cstr(client_id, "client_id")))
            _check(lib.midge_options_set_clean_start(opts, clean_start))
            _check(lib.midge_options_set_keep_alive(opts, _u(keep_alive, 0xFFFF, "keep_alive")))
            _check(
                lib.midge_options_set_session_expiry(
                    opts, _u(session_expiry_interval, _U32_MAX, "session_expiry_interval")
                )
            )
            if username is not None:
                _check(lib.midge_options_set_username(opts, _cstr(username, "username")))
            if password is not None:
                pw = _payload(password)
                _check(lib.midge_options_set_password(opts, pw, len(pw)))
            if will is not None:
                _apply_will(lib.midge_options_set_will, opts, _will(will))
            if receive_maximum is not None:
                _check(lib.midge_options_set_receive_maximum(opts, _u(receive_maximum, 0xFFFF, "receive_maximum")))
            if maximum_packet_size is not None:
                _check(lib.midge_options_set_maximum_packet_size(opts, _u(maximum_packet_size, _U32_MAX, "maximum_packet_size")))
            if memory_budget is not None:
                _check(lib.midge_options_set_memory_budget(opts, _memory_budget(memory_budget)))
            if topic_alias_maximum is not None:
                _check(lib.midge_options_set_topic_alias_maximum(opts, _u(topic_alias_maximum, 0xFFFF, "topic_alias_maximum")))
            if reconnect is False:
                _check(lib.midge_options_set_reconnect(opts, False, 250, 30000))
            elif isinstance(reconnect, Reconnect):
                _check(lib.midge_options_set_reconnect(opts, True, _ms(reconnect.initial), _ms(reconnect.maximum)))
            elif reconnect is not True:
                raise InvalidType("reconnect must be True, False or a midge.Reconnect, not %s" % type(reconnect).__name__)
            for k, v in _user_props(user_properties):
                _check(lib.midge_options_add_user_property(opts, _cstr(k, "user property"), _cstr(v, "user property")))
            if request_response_information:
                _check(lib.midge_options_set_request_response_information(opts, True))
            if linger is not None:
                _v.seconds(linger, "linger", 0.01)
                _check(lib.midge_options_set_linger(opts, int(round(linger * 1e6))))
            if event_queue_limit is not None:
                _check(lib.midge_options_set_event_queue_limit(opts, _u(event_queue_limit, 2**63 - 1, "event_queue_limit")))
            if event_queue_bytes is not None:
                _check(lib.midge_options_set_event_queue_bytes(opts, _u(event_queue_bytes, 2**63 - 1, "event_queue_bytes")))
            if _completion_events:
                _check(lib.midge_options_set_completion_events(opts, True))
            if manual_ack:
                _check(lib.midge_options_set_manual_ack(opts, True))
            _check(lib.midge_options_set_connect_timeout(opts, _ms(connect_timeout)))
            _check(lib.midge_options_set_connack_timeout(opts, _ms(connect_timeout)))
            if tls is not None:
                t = tls._build()
                try:
                    _check(lib.midge_options_set_tls(opts, t))
                finally:
                    _free(lib.midge_tls_options_free, t)
            for s in more:
                _check(lib.midge_options_add_server(opts, _cstr(s, "servers")))
            if follow_redirects:
                _check(lib.midge_options_set_follow_redirects(opts, True))
            if max_redirects is not None:
                _check(lib.midge_options_set_max_redirects(opts, _u(max_redirects, _U32_MAX, "max_redirects")))
            for k, v in ws_headers or ():
                _check(lib.midge_options_add_ws_header(opts, _cstr(k, "ws header"), _cstr(v, "ws header")))
            if store_path is not None:
                _set_file_store(opts, store_path, store_durability, store_max_bytes, store_max_records)
            out = c_void_p()
            _check(lib.midge_client_new(_cstr(broker, "broker"), opts, byref(out)))
        finally:
            _free(lib.midge_options_free, opts)
        self.broker = broker
        self._state = _State(out.value)  # type: ignore[arg-type]
        self._state.manual_ack = manual_ack
        if not follow_redirects and store_path is None:
            # Publishing keeps the GIL: the call is short and never waits for Python
            # (the one C-to-Python call that runs under midge's locks is the redirect
            # filter, only with follow_redirects; a store write may wait for the disk).
            # Releasing it per publish handed it to the callback thread each time.
            self._state.publish = lib.midge_client_publish_held
        self._finalizer = weakref.finalize(self, _free_state, self._state)

    # -- lifetime --

    @property
    def _st(self) -> _State:
        st = self._state
        if st is None or st.handle is None:
            raise Closed("the client is closed", result=Result.CLOSED)
        st.raise_pending()
        return st

    @property
    def server(self) -> Optional[str]:
        """The server of the last connection made (``mqtt://host:port``): after a failover
        the one that took over, after a followed redirection its target; ``None`` before
        the first CONNACK."""
        st = self._state
        if st is None or st.handle is None:
            return None
        n = c_size_t(0)
        if not lib.midge_client_server(st.handle, None, 0, byref(n)):
            return None
        buf = create_string_buffer(n.value + 1)
        if not lib.midge_client_server(st.handle, buf, len(buf), None):
            return None
        return buf.value.decode()

    @property
    def protocol_version(self) -> Optional[ProtocolVersion]:
        """The MQTT version of the last connection (``ProtocolVersion.V5`` or ``V311``);
        ``None`` before the first CONNACK."""
        st = self._state
        info = st.connack if st is not None else None
        return info.protocol_version if info is not None else None

    def connect(self, timeout: Optional[float] = None) -> ConnAck:
        """Connects and waits for the CONNACK (``timeout`` defaults to ``connect_timeout``).
        Raises :class:`ConnectionRefused` (with ``reason_code``), :class:`Timeout`, or a
        transport error; after a failure no reconnection is attempted."""
        wait = _v.timeout(timeout)
        st = self._st
        h = st.get()
        st.connect_called = True
        out = c_void_p()
        rc = lib.midge_client_connect_wait(h, _ms(self.connect_timeout if wait is None else wait), byref(out))
        if rc != 0:
            err = st.failure(rc)
            # Stop the reconnection midge would otherwise go on with.
            lib.midge_client_disconnect(h, 0, None, None)
            raise err
        try:
            info = _read_connack(out.value)  # type: ignore[arg-type]
        finally:
            lib.midge_connack_free(byref(out))
        with st.lock:
            st.connected = True
            st.connack = info
        return info

    def reload_tls(self, tls: "Tls") -> None:
        """New TLS settings (a rotated certificate and key) for the next connect; files
        are read now, and a bad one raises :class:`TlsConfigError` keeping the old."""
        st = self._st
        t = tls._build()
        try:
            st.check(lib.midge_client_reload_tls(st.get(), t))
        finally:
            _free(lib.midge_tls_options_free, t)

    def disconnect(
        self,
        reason_code: int = ReasonCode.NORMAL_DISCONNECTION,
        *,
        session_expiry_interval: Optional[int] = None,
        reason_string: Optional[str] = None,
        user_properties: Optional[Iterable[Tuple[str, str]]] = None,
        timeout: float = 5.0,
    ) -> None:
        """Sends DISCONNECT (``DISCONNECT_WITH_WILL_MESSAGE`` asks the server to publish
        the will) and closes the connection; no reconnection follows until connect()."""
        code = _v.integer(reason_code, "reason_code", 0xFF)
        wait = _v.seconds(timeout, "timeout")
        st = self._st
        with _CProps() as props:
            props.int(_PropertyId.SESSION_EXPIRY_INTERVAL, session_expiry_interval)
            props.string(_PropertyId.REASON_STRING, reason_string)
            props.users(user_properties)
            st.check(lib.midge_client_disconnect_wait(st.get(), code, props.ptr, _ms(wait)))
        with st.lock:
            st.connected = False

    def close(self) -> None:
        """Disconnects if connected and frees the client; further calls raise
        :class:`Closed`. Idempotent. Raises an exception a callback left pending."""
        st = self._state
        if st is None:
            return
        self._finalizer()
        st.raise_pending()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (or the client was freed); every call then raises
        :class:`Closed`."""
        return self._state is None or self._state.handle is None

    def __enter__(self) -> "Client":
        try:
            self.connect()
        except BaseException:
            self._finalizer()
            raise
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        st = self._state
        if st is None:
            return
        h = st.handle
        if h is not None and st.connected:
            lib.midge_client_disconnect_wait(h, 0, None, 2000)
        self._finalizer()
        if exc_type is None:
            st.raise_pending()

    def __repr__(self) -> str:
        return "<midge.Client %s%s>" % (self.broker, " closed" if self.closed else "")

    # -- state --

    @property
    def connack(self) -> Optional[ConnAck]:
        """The CONNACK of the latest connection (as last observed)."""
        return self._state.connack if self._state else None

    @property
    def last_disconnect(self) -> Optional[DisconnectInfo]:
        """Why the latest connection ended (as last observed), or None."""
        return self._state.disconnect_info if self._state else None

    def stats(self) -> Stats:
        """The client's counters (see :class:`Stats`); a lock and a copy in libmidge."""
        st = self._st
        s = _lib.StatsStruct()
        st.check(lib.midge_client_stats(st.get(), byref(s)))
        return Stats(
            messages_sent=s.messages_sent,
            messages_received=s.messages_received,
            packets_sent=s.packets_sent,
            packets_received=s.packets_received,
            bytes_sent=s.bytes_sent,
            bytes_received=s.bytes_received,
            writes=s.writes,
            reads=s.reads,
            inflight_out=s.inflight_out,
            inflight_in=s.inflight_in,
            queued=s.queued,
            queued_bytes=s.queued_bytes,
            connects=s.connects,
            disconnects=s.disconnects,
            connected_for=s.connected_ms / 1000.0,
            rtt=s.rtt_us / 1e6 if s.has_rtt else None,
            last_rtt=s.last_rtt_us / 1e6 if s.has_rtt else None,
            refused_queue_full=s.refused_queue_full,
        )

    def io_stats(self) -> IoStats:
        """The client's socket I/O so far: writes and reads that moved data, and bytes."""
        st = self._st
        s = _lib.IoStatsStruct()
        st.check(lib.midge_client_io_stats(st.get(), byref(s)))
        return IoStats(s.writes, s.bytes_sent, s.reads, s.bytes_received)

    # -- connect-time settings for the next connect --

    def set_will(self, will: Optional[Will]) -> None:
        """Replaces the Last Will (``None`` removes it) for the next connect and every
        automatic reconnection after it; the live connection keeps the Will it connected
        with. An invalid Will raises here and the old one stays."""
        st = self._st
        if will is None:
            st.check(lib.midge_client_clear_will(st.get()))
        else:
            _apply_will(lib.midge_client_set_will, st.get(), _will(will), st.check)

    def set_credentials(self, username: Optional[str] = None, password: Union[bytes, str, None] = None) -> None:
        """Replaces the user name and password (``None``: none) for the next connect and
        every automatic reconnection after it."""
        st = self._st
        user = None if username is None else _cstr(username, "username")
        pw = None if password is None else _payload(password)
        st.check(lib.midge_client_set_credentials(st.get(), user, pw, 0 if pw is None else len(pw)))

    def set_clean_start(self, clean_start: bool) -> None:
        """Clean Start for the next connection only (the next connect or automatic
        reconnection); after it, reconnections resume the session again when
        ``session_expiry_interval`` is non-zero."""
        _v.flag(clean_start, "clean_start")
        st = self._st
        st.check(lib.midge_client_set_clean_start(st.get(), clean_start))

    # -- publish --

    def publish_async(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        properties: Union[Properties, Dict[str, Any], None] = None,
        *,
        topic_alias: Optional[int] = None,
        user_properties: _v.UserPropertiesArg = None,
    ) -> PublishHandle:
        """Starts a publish and returns at once; bad arguments raise here. While
        disconnected the message waits in midge's offline queue.

        ``topic_alias`` (1 up to the server's Topic Alias Maximum) binds that alias to
        ``topic``; with ``topic=""`` the message goes to the topic last bound to the alias.
        midge sends the topic again with the alias on each new connection.

        ``properties`` is a :class:`Properties` or a dict of its field names;
        ``user_properties`` ((name, value) pairs or a dict) are sent after those of
        ``properties``. Every argument is checked before anything is sent: a wrong type
        raises :class:`InvalidType`, a value out of range :class:`InvalidArgument`."""
        st = self._st
        comp = c_void_p()
        q = self._start_publish(topic, payload, qos, retain, properties, topic_alias, user_properties, byref(comp))
        return PublishHandle(st, comp.value, q)  # type: ignore[arg-type]

    def publish_nowait(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        properties: Union[Properties, Dict[str, Any], None] = None,
        *,
        topic_alias: Optional[int] = None,
        user_properties: _v.UserPropertiesArg = None,
    ) -> None:
        """Starts a publish with no handle to follow it (fire and forget): the cheapest
        publish, for streams of telemetry. Arguments and the offline queue: see
        :meth:`publish_async`; bad arguments raise here.

        A refusal midge knows by the time this returns raises here (:class:`QueueFull`,
        :class:`NotSupported` for the server's Maximum QoS, Retain Available or Topic
        Alias Maximum, :class:`TooLarge` for its Maximum Packet Size). A failure after that
        (the message expired, the session was lost, a PUBACK or PUBREC failure code) waits
        among midge's events: :meth:`publish_failures` takes it (and so do
        :meth:`next_message` and :meth:`messages`, keeping it for that method), logging it
        on the ``midge`` logger. With a callback set, the callback thread collects them as
        they come. A success costs nothing beyond the publish itself."""
        self._start_publish(topic, payload, qos, retain, properties, topic_alias, user_properties, None)

    def publish_failures(self) -> List[MidgeError]:
        """Takes the failures of publishes that had no handle (:meth:`publish_nowait`),
        oldest first: each an
        exception as :meth:`PublishHandle.wait` would raise (:class:`Refused` with the
        ``reason_code``, :class:`SessionLost`, ...). At most 10,000 are kept; beyond, the
        oldest go, and :attr:`publish_failures_dropped` counts them.

        Like :meth:`restored_publishes`, it takes the events waiting in midge up to the
        first received message, which then waits for :meth:`next_message` (with a
        callback set, the callback thread has taken them already)."""
        st = self._st
        self._take_events()
        with st.lock:
            out = list(st.publish_failures)
            st.publish_failures.clear()
        return out

    @property
    def publish_failures_dropped(self) -> int:
        """How many publish failures :meth:`publish_failures` no longer holds (over its
        bound of 10,000)."""
        return self._st.publish_failures_dropped

    def _start_publish(
        self,
        topic: str,
        payload: Payload,
        qos: int,
        retain: bool,
        properties: Union[Properties, Dict[str, Any], None],
        topic_alias: Optional[int],
        user_properties: _v.UserPropertiesArg,
        completion: Any,
    ) -> int:
        """Checks the arguments and calls midge_client_publish (``completion``: a
        reference to a completion pointer, or None for none); returns the QoS."""
        t = _topic(topic)
        data = payload if type(payload) is bytes else _payload(payload)
        q = qos if type(qos) is int and 0 <= qos <= 2 else _v.qos(qos)
        if retain is not False and retain is not True:
            _v.flag(retain, "retain")
        st = self._st
        if properties is None and user_properties is None and topic_alias is None:
            # The common case: no property list to build.
            st.check(st.publish(st.get(), t, data, len(data), q, retain, None, completion))
            return q
        props_in = Properties.of(properties)
        extra = _v.user_properties(user_properties)
        with _CProps() as props:
            props.message(props_in)
            props.users(extra)
            if topic_alias is not None:
                props.int(_PropertyId.TOPIC_ALIAS, _u(topic_alias, 0xFFFF, "topic_alias"))
            rc = st.publish(st.get(), t, data, len(data), q, retain, props.ptr, completion)
        st.check(rc)
        return q

    def publish(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        properties: Union[Properties, Dict[str, Any], None] = None,
        timeout: Optional[float] = 10.0,
        *,
        topic_alias: Optional[int] = None,
        user_properties: _v.UserPropertiesArg = None,
    ) -> PublishResult:
        """Publishes and waits until the message is written (QoS 0) or acknowledged
        (QoS 1: PUBACK, QoS 2: PUBCOMP, with the PUBREC's reason code). Raises
        :class:`Refused` (with ``reason_code``) when the server refuses it, :class:`Timeout`
        when the wait ends first (``timeout`` in seconds, None: no limit). Arguments: see
        :meth:`publish_async`.

        Before the first :meth:`connect` there is nothing to wait for, so this raises
        :class:`NotConnected` at once (use :meth:`publish_async` to queue a message until
        the client connects)."""
        wait = _v.timeout(timeout)
        st = self._st
        if not st.connect_called:
            # Check the arguments first: a bad one is the more useful error.
            _cstr(topic, "topic"), _payload(payload), _v.qos(qos), _v.flag(retain, "retain")
            Properties.of(properties), _v.user_properties(user_properties)
            raise NotConnected(
                "publish() before connect(): call connect() first, or publish_async() to queue "
                "the message until the client connects",
                result=Result.NOT_CONNECTED,
            )
        handle = self.publish_async(
            topic, payload, qos, retain, properties, topic_alias=topic_alias, user_properties=user_properties
        )
        return handle.wait(wait)

    # -- subscribe --

    def subscribe(
        self,
        topic: Subscriptions,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: RetainHandling = RetainHandling.SEND,
        subscription_identifier: Optional[int] = None,
        user_properties: Optional[Iterable[Tuple[str, str]]] = None,
        timeout: Optional[float] = 10.0,
    ) -> List[Union[ReasonCode, int]]:
        """Subscribes and waits for the SUBACK; returns its reason codes, one per filter
        (``GRANTED_QOS_n`` or a failure code, see ``ReasonCode.is_failure``).

        ``topic`` is a filter (with the options given as keywords) or a list of filters
        and ``(filter, SubscriptionOptions or qos)`` pairs."""
        wait = _v.timeout(timeout)
        filters, options, n, ident, extra = _subscribe_args(
            topic, qos, no_local, retain_as_published, retain_handling, subscription_identifier, user_properties
        )
        st = self._st
        codes = (c_uint8 * n)()
        with _CProps() as props:
            props.int(_PropertyId.SUBSCRIPTION_IDENTIFIER, ident)
            props.users(extra)
            rc = lib.midge_client_subscribe_wait(
                st.get(), filters, options, n, props.ptr, _ms(wait), codes
            )
        st.check(rc)
        return [_reason_code(c) for c in codes]

    def unsubscribe(
        self,
        topic: Union[str, Sequence[str]],
        *,
        user_properties: Optional[Iterable[Tuple[str, str]]] = None,
        timeout: Optional[float] = 10.0,
    ) -> List[Union[ReasonCode, int]]:
        """Unsubscribes and waits for the UNSUBACK; returns its reason codes."""
        wait = _v.timeout(timeout)
        extra = _v.user_properties(user_properties)
        filters, n = _unsubscribe_args(topic)
        st = self._st
        codes = (c_uint8 * n)()
        with _CProps() as props:
            props.users(extra)
            rc = lib.midge_client_unsubscribe_wait(st.get(), filters, n, props.ptr, _ms(wait), codes)
        st.check(rc)
        return [_reason_code(c) for c in codes]

    # -- request/response --

    def request(
        self,
        topic: str,
        payload: Payload,
        response_topic: str,
        qos: int = 1,
        timeout: Optional[float] = 10.0,
    ) -> Message:
        """Request/response (4.10): publishes to ``topic`` with ``response_topic`` and fresh
        Correlation Data, and returns the reply carrying the same Correlation Data. Subscribe
        to ``response_topic`` first. The reply is not delivered to messages()/on_message."""
        q = _v.qos(qos)
        wait = _v.timeout(timeout)
        st = self._st
        data = _payload(payload)
        reply = c_void_p()
        rc = lib.midge_client_request(
            st.get(), _cstr(topic, "topic"), data, len(data), q,
            _cstr(response_topic, "response_topic"), _ms(wait), byref(reply),
        )
        st.check(rc)
        try:
            return _read_message(reply.value)  # type: ignore[arg-type]
        finally:
            lib.midge_message_free(byref(reply))

    # -- receiving --

    def event_fd(self) -> int:
        """A file descriptor that is readable while events wait to be taken by
        :meth:`next_message` / :meth:`messages`, for ``select``/``selectors``/asyncio loops
        that wait without a thread (e.g. ``loop.add_reader(c.event_fd(), on_ready)``, then
        ``c.next_message(timeout=0)`` until it returns None). Owned by the client: do not
        read or close it. Only for a client with no callbacks: with ``on_message`` set,
        messages go to the callback and do not make it readable."""
        fd = lib.midge_client_event_fd(self._st.get())
        if fd < 0:
            raise Closed("the client is closed", result=Result.CLOSED)
        return int(fd)

    def fileno(self) -> int:
        """:meth:`event_fd`, so that the client itself can be passed to ``select``."""
        return self.event_fd()

    def ack(self, message: Message) -> None:
        """Acknowledges a received message to the server, for a client made with
        ``manual_ack=True``: midge then sends no PUBACK (QoS 1) or PUBREC (QoS 2) when the
        message is handed to ``on_message`` or :meth:`next_message`, only when the
        application calls this (e.g. once the message is in its own database). Any thread,
        any time after receipt (in the callback or later). Acknowledgements go out in the
        order the messages arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3]: one acknowledged before an
        earlier message waits for it. Messages not yet acknowledged are bounded by
        ``receive_maximum``: the server stops sending QoS 1/2 messages at that many
        (backpressure, no loss).

        A no-op for a QoS 0 message, a second acknowledgement, a client without
        ``manual_ack``, and a QoS 1 message of a connection that has ended since (the
        server sends it again, with ``dup`` set, to the resumed session [MQTT-4.4.0-1]:
        acknowledge that one). A QoS 2 message is never delivered twice while the session
        lasts; its acknowledgement stays valid across reconnections. Raises
        :class:`~midge.InvalidArgument` for a QoS 1/2 Message that midge did not deliver to
        this ``manual_ack`` client (one built by hand), :class:`~midge.Closed` when closed."""
        st = self._st
        if not isinstance(message, Message):
            raise InvalidType("ack takes a midge.Message, not %s" % type(message).__name__)
        if message.qos == QoS.AT_MOST_ONCE or not st.manual_ack:
            return
        h = message._handle
        if h is None:
            raise InvalidArgument(
                "this message was not received by a client with manual_ack=True",
                result=Result.INVALID_ARGUMENT,
            )
        st.check(lib.midge_message_ack(st.get(), h.ptr))

    def next_message(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next received message, waiting up to ``timeout`` seconds (None: no limit);
        None when none came or the client is closed."""
        timeout = _v.timeout(timeout)
        st = self._st
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st.raise_pending()
            with st.lock:
                if st.inbox:
                    return st.inbox.popleft()
            h = st.handle
            if h is None:
                return None
            if deadline is None:
                step = _SLICE
            else:
                step = min(_SLICE, max(0.0, deadline - time.monotonic()))
            if st.installed:
                # Callback mode: the message trampoline fills the inbox.
                with st.lock:
                    if not st.inbox and not st.errors and st.handle is not None:
                        st.cond.wait(step)
            elif st.pull_lock.acquire(timeout=step):
                try:
                    with st.lock:
                        if st.inbox:
                            return st.inbox.popleft()
                    rc, msg = st.pull(h, _ms(step))
                finally:
                    st.pull_lock.release()
                if msg is not None:
                    return msg
                if rc == Result.CLOSED:
                    return None
            if deadline is not None and time.monotonic() >= deadline:
                with st.lock:
                    return st.inbox.popleft() if st.inbox else None

    def messages(self, timeout: Optional[float] = None) -> Iterator[Message]:
        """Iterates over received messages; stops after ``timeout`` seconds without one
        (None: runs until the client is closed). Raises, between messages, an exception a
        callback left pending. Raises :class:`Closed` on a closed client; ends when the
        client is closed during the iteration."""
        self._st
        while True:
            try:
                m = self.next_message(timeout)
            except Closed:
                return
            if m is None:
                return
            yield m

    # -- restored publishes (a client made with a store) --

    def _take_events(self) -> None:
        """Takes the events waiting in midge, without waiting, up to the first received
        message, which then waits in the inbox for next_message (restored publishes and
        publish failures are kept for their methods). May wait up to 0.25 s while another
        thread is taking events."""
        st = self._st
        h = st.get()
        if st.installed:
            return  # the callback thread takes every event as it comes
        if st.pull_lock.acquire(timeout=_SLICE):
            try:
                while st.handle is not None:
                    rc, msg = st.pull(h, 0)
                    if msg is not None:
                        st.keep(msg)
                        break
                    if rc != 0:
                        break
            finally:
                st.pull_lock.release()

    def restored_publishes(self) -> List[RestoredPublish]:
        """The restored publishes that ended since the last call (see
        :class:`RestoredPublish`), without waiting for more; ``[]`` when none did.

        A client made with a ``store`` that holds an earlier client's session sends that
        client's unfinished QoS 1/2 publishes again at its first connect; this is how the
        application learns which of them were finally acknowledged (by the id its
        :class:`PublishHandle` had). Each is reported once, here or by
        :meth:`next_restored`, and never to a callback.

        It takes the events waiting in midge up to the first received message, which then
        waits for :meth:`next_message` / :meth:`messages` (those collect the restored
        publishes they meet on their way, for this method). May wait up to 0.25 s while
        another thread is taking events."""
        st = self._st
        self._take_events()
        with st.lock:
            out = list(st.restored)
            st.restored.clear()
        return out

    def next_restored(self, timeout: Optional[float] = None) -> Optional[RestoredPublish]:
        """The next restored publish that ended (see :meth:`restored_publishes`), waiting
        up to ``timeout`` seconds (None: no limit); None when none came in time or the
        client is closed. Messages received meanwhile wait for :meth:`next_message` (in
        memory: take them too)."""
        timeout = _v.timeout(timeout)
        st = self._st
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            st.raise_pending()
            with st.lock:
                if st.restored:
                    return st.restored.popleft()
            h = st.handle
            if h is None:
                return None
            if deadline is None:
                step = _SLICE
            else:
                step = min(_SLICE, max(0.0, deadline - time.monotonic()))
            if st.installed:
                # Callback mode: the callback thread fills st.restored.
                with st.lock:
                    if not st.restored and not st.errors and st.handle is not None:
                        st.cond.wait(step)
            # Short tries for the pull lock: a thread holding it (next_message) puts the
            # restored publishes it meets in st.restored, checked each round.
            elif st.pull_lock.acquire(timeout=min(step, 0.05)):
                try:
                    with st.lock:
                        if st.restored:
                            return st.restored.popleft()
                    rc, msg = st.pull(h, _ms(step))
                finally:
                    st.pull_lock.release()
                if msg is not None:
                    st.keep(msg)
                elif rc == Result.CLOSED:
                    with st.lock:
                        return st.restored.popleft() if st.restored else None
            if deadline is not None and time.monotonic() >= deadline:
                with st.lock:
                    return st.restored.popleft() if st.restored else None

    # -- callbacks --

    def _sync_callbacks(self) -> None:
        """Starts the callback thread when a first callback is set, ends it when the last
        is unset. The events are midge's pull events either way (the C callbacks are not
        used): the thread takes them in batches (see _deliver)."""
        st = self._st
        want = any(cb is not None for cb in (st.on_message, st.on_connect, st.on_disconnect))
        if want == st.installed:
            return
        st.get()
        with st.lock:
            st.generation += 1
            st.installed = want
            st.cond.notify_all()
        if want:
            threading.Thread(
                target=_deliver, args=(st, st.generation), name="midge-callbacks", daemon=True
            ).start()

    @property
    def on_redirect(self) -> Optional[Callable[[Redirect], bool]]:
        """Called with each redirection midge would follow (``follow_redirects=True``), a
        :class:`Redirect`; returning a false value (or raising) refuses it. Runs on midge's
        I/O thread: it must return quickly and must not wait on the client."""
        return self._state.on_redirect if self._state else None

    @on_redirect.setter
    def on_redirect(self, callback: Optional[Callable[[Redirect], bool]]) -> None:
        st = self._st
        st.on_redirect = callback
        h = st.get()
        if callback is None:
            st.check(lib.midge_client_on_redirect(h, REDIRECT_CB(), None, DROP_CB()))
        else:
            key = _register(st)
            st.check(lib.midge_client_on_redirect(h, _redirect_trampoline, key, _drop_trampoline))

    @property
    def on_message(self) -> Optional[OnMessage]:
        """Called with each received :class:`Message`, on the client's callback thread.
        While any callback is set, messages not taken by ``on_message`` go to
        :meth:`messages`."""
        return self._state.on_message if self._state else None

    @on_message.setter
    def on_message(self, callback: Optional[OnMessage]) -> None:
        self._st.on_message = callback
        self._sync_callbacks()

    @property
    def on_connect(self) -> Optional[OnConnect]:
        """Called with the :class:`ConnAck` of each successful connection."""
        return self._state.on_connect if self._state else None

    @on_connect.setter
    def on_connect(self, callback: Optional[OnConnect]) -> None:
        self._st.on_connect = callback
        self._sync_callbacks()

    @property
    def on_disconnect(self) -> Optional[OnDisconnect]:
        """Called with a :class:`DisconnectInfo` when a connection ends or an attempt fails."""
        return self._state.on_disconnect if self._state else None

    @on_disconnect.setter
    def on_disconnect(self, callback: Optional[OnDisconnect]) -> None:
        self._st.on_disconnect = callback
        self._sync_callbacks()


def _apply_will(setter: Callable[..., int], target: int, will: Will, check: Callable[[int], None] = _check) -> None:
    """Calls ``midge_options_set_will`` or ``midge_client_set_will`` with ``will``."""
    wp = _payload(will.payload)
    with _CProps() as props:
        props.message(will.properties)
        props.int(_PropertyId.WILL_DELAY_INTERVAL, will.will_delay_interval)
        check(setter(target, _cstr(will.topic, "will topic"), wp, len(wp), int(will.qos), bool(will.retain), props.ptr))


#: The default memory budget per client (16 MiB) and the smallest accepted (64 KiB).
MEMORY_BUDGET_DEFAULT = 16 * 1024 * 1024
MEMORY_BUDGET_MIN = 64 * 1024


def _memory_budget(value: int) -> int:
    """A memory budget in bytes: an int (not a bool) of at least MEMORY_BUDGET_MIN."""
    return _v.integer(value, "memory_budget", 0xFFFFFFFFFFFFFFFF, MEMORY_BUDGET_MIN)


def _u(value: int, maximum: int, what: str) -> int:
    return _v.integer(value, what, maximum)

_U64_MAX = 0xFFFFFFFFFFFFFFFF
_SIZE_MAX = (1 << (8 * sizeof(c_size_t))) - 1


def _store_args(store: Any, durability: Any, max_bytes: Any, max_records: Any) -> Tuple[Optional[str], int]:
    """Checks the persistence arguments; returns the store's path (None: no store) and the
    C durability."""
    _v.integer(max_bytes, "store_max_bytes", _U64_MAX)
    _v.integer(max_records, "store_max_records", _SIZE_MAX)
    level = _v.durability("os" if durability is None else durability)
    if store is None:
        if durability is not None or max_bytes or max_records:
            raise InvalidArgument(
                "durability, store_max_bytes and store_max_records need a store (store=<directory or file>)"
            )
        return None, level
    path = _v.path(store, "store")
    _cstr(path, "store")
    return path, level


def _set_file_store(opts: int, path: str, durability: int, max_bytes: int, max_records: int) -> None:
    """Opens the file store at ``path`` and hands it to the options (which own it then)."""
    handle = c_void_p()
    _check(lib.midge_store_file_new(_cstr(path, "store"), max_bytes, max_records, byref(handle)))
    try:
        _check(lib.midge_options_set_store(opts, byref(handle), durability))
    finally:
        lib.midge_store_free(byref(handle))  # NULL once the options took it: a no-op


def _subscribe_args(
    topic: Any,
    qos: Any,
    no_local: Any,
    retain_as_published: Any,
    retain_handling: Any,
    subscription_identifier: Any,
    user_properties: Any,
) -> Tuple[Any, Any, int, Optional[int], Tuple[Tuple[str, str], ...]]:
    """Checks subscribe's arguments; returns the C filter and option arrays, their length,
    the Subscription Identifier and the User Properties."""
    default = SubscriptionOptions(qos, no_local, retain_as_published, retain_handling)
    ident = _v.optional_integer(subscription_identifier, "subscription_identifier", 268435455, 1)
    extra = _v.user_properties(user_properties)
    subs: List[Tuple[str, SubscriptionOptions]] = []
    for item in _filters(topic, "(filter, SubscriptionOptions or qos) pairs"):
        if isinstance(item, str):
            subs.append((item, default))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            f, o = item
            _v.text(f, "topic filter")
            subs.append((f, o if isinstance(o, SubscriptionOptions) else SubscriptionOptions(_v.qos(o))))
        else:
            raise InvalidType("a subscription is a filter or a (filter, qos) pair, not %r" % (item,))
    if not subs:
        raise error_for(Result.INVALID_TOPIC, "no topic filters")
    n = len(subs)
    filters = (c_char_p * n)(*[_cstr(f, "topic filter") for f, _ in subs])
    options = (c_uint8 * n)(*[o.to_byte() for _, o in subs])
    return filters, options, n, ident, extra


def _unsubscribe_args(topic: Any) -> Tuple[Any, int]:
    """Checks unsubscribe's filters; returns the C array and its length."""
    topics = list(_filters(topic, "filters"))
    if not topics:
        raise error_for(Result.INVALID_TOPIC, "no topic filters")
    n = len(topics)
    return (c_char_p * n)(*[_cstr(f, "topic filter") for f in topics]), n


def _will(will: Any) -> Will:
    if not isinstance(will, Will):
        raise InvalidType("will must be a midge.Will, not %s" % type(will).__name__)
    return will


def _filters(topic: Any, pairs: str) -> List[Any]:
    """``topic`` as a list: one filter (a str) or an iterable of them (or of ``pairs``)."""
    if isinstance(topic, str):
        return [topic]
    if isinstance(topic, (bytes, bytearray)) or not hasattr(topic, "__iter__"):
        raise InvalidType(
            "topic must be a filter (str) or a list of filters or %s, not %s" % (pairs, type(topic).__name__)
        )
    return list(topic)


def version() -> str:
    """The version of the loaded libmidge."""
    return _text(lib.midge_version_string()) or ""


def shutdown() -> None:
    """Stops and joins every thread of libmidge (its I/O, DNS and callback threads).

    Every ``Client`` must be closed first (``InvalidArgument`` otherwise); from a callback
    it raises ``WouldDeadlock``. The next ``Client`` starts the threads again. Call it
    before ``os.fork()`` when the child is to use midge too.
    """
    _check(lib.midge_shutdown())
