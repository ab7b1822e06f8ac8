"""The asyncio API: the same client, awaited.

>>> async with midge.aio.Client("mqtt://127.0.0.1:1883") as c:
...     await c.subscribe("t/#", qos=1)
...     await c.publish("t/1", b"hi", qos=1)
...     async for m in c.messages():
...         print(m.topic, m.payload)

It is built on the client's event file descriptor (``midge_client_event_fd``) and the event
loop's reader: no thread per call and no polling. midge does the I/O on its own thread; the
event loop only wakes when events wait. Every event of the client comes through that
descriptor (no callbacks are registered), so nothing is lost between the two worlds:
connection changes, each request's completion, and messages.

Backpressure: the messages waiting for :meth:`Client.messages` are bounded by
``max_buffered`` (default 1,000); when the application does not take them, the client
stops taking events from midge, whose own bounded queue then stops reading the socket, and
the broker's flow control holds further messages. Nothing is dropped.

Cancellation: cancelling an awaited publish, subscribe or unsubscribe stops the wait, not
the request (it was handed to midge; a QoS 1/2 message stays in flight and is delivered
as promised). Cancelling :meth:`Client.connect` stops the connection attempt.

All methods must be called from the event loop's thread, with the loop the client was first
used with. Argument checks and errors are those of :class:`midge.Client`.
"""

from __future__ import annotations

import asyncio
import collections
from ctypes import byref, c_size_t, c_void_p, string_at
from typing import Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Tuple, Union

from . import _validate as _v
from ._enums import ReasonCode, Result, RetainHandling, _EventKind, _PropertyId
from ._enums import reason_code as _reason_code
from ._lib import lib
from ._types import ConnAck, DisconnectInfo, Message, Payload, Properties, PublishResult, RestoredPublish
from .client import (
    Client as _SyncClient,
    Subscriptions,
    _CProps,
    _failure,
    _publish_outcome,
    _read_connack,
    _read_disconnect,
    _read_message,
    _read_restored,
    _subscribe_args,
    _unsubscribe_args,
)
from .errors import Closed, MidgeError, Timeout

__all__ = ["Client"]

#: Reads (and frees) a finished request's completion: its result, or raises its failure.
_Outcome = Callable[[], Any]


class _Publish:
    """A publish's completion, held by the client until its completion event (no
    PublishHandle, whose finalizer and lock an awaited publish does not need): called,
    it reads the outcome and frees the completion; dropped unread (the client closed), it
    frees it."""

    __slots__ = ("ptr",)

    def __init__(self, ptr: int) -> None:
        self.ptr: Optional[int] = ptr

    def __call__(self) -> PublishResult:
        ptr, self.ptr = self.ptr, None
        if ptr is None:
            raise Closed("the client is closed", result=Result.CLOSED)
        try:
            return _publish_outcome(ptr, lib.midge_completion_poll(ptr))
        finally:
            lib.midge_completion_free(byref(c_void_p(ptr)))

    def __del__(self) -> None:
        ptr, self.ptr = self.ptr, None
        if ptr is not None and lib is not None:  # (None while the interpreter tears down)
            lib.midge_completion_free(byref(c_void_p(ptr)))


class Client:
    """An asyncio MQTT v5 client. Takes the same keyword arguments as
    :class:`midge.Client`, plus ``max_buffered`` (received messages held for
    :meth:`messages`, default 1,000; see the module's notes on backpressure).

    Use it as ``async with`` (connects on enter, disconnects and frees on exit), or call
    :meth:`connect`, :meth:`disconnect` and :meth:`close`."""

    def __init__(self, broker: str = "mqtt://127.0.0.1:1883", *, max_buffered: int = 1000, **options: Any) -> None:
        self._max = _v.integer(max_buffered, "max_buffered", 1 << 30, 1)
        self._sync = _SyncClient(broker, _completion_events=True, **options)
        st = self._sync._state
        assert st is not None
        self._handle: int = st.get()
        self._fd: int = lib.midge_client_event_fd(self._handle)
        if self._fd < 0:
            raise MidgeError("midge_client_event_fd gave no descriptor", result=Result.INVALID_ARGUMENT)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._reading = False
        self._closed = False
        #: Requests waiting for their completion event: completion id -> what to do with it.
        self._pending: Dict[int, Tuple[asyncio.Future, _Outcome]] = {}
        #: connect(): the future and the connect completion.
        self._connecting: Optional[Tuple[asyncio.Future, int]] = None
        self._messages: Deque[Message] = collections.deque()
        self._waiters: Deque[asyncio.Future] = collections.deque()
        #: Restored publishes that ended (a client made with a store), and their waiters.
        self._restored: Deque[RestoredPublish] = collections.deque()
        self._restored_waiters: Deque[asyncio.Future] = collections.deque()
        self.connack: Optional[ConnAck] = None
        self.last_disconnect: Optional[DisconnectInfo] = None
        self.connected = False
        self.broker = broker

    # -- the event loop side --

    def _attach(self) -> asyncio.AbstractEventLoop:
        if self._closed:
            raise Closed("the client is closed", result=Result.CLOSED)
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise MidgeError("a midge.aio.Client is used from one event loop only", result=Result.INVALID_ARGUMENT)
        self._resume()
        return loop

    def _resume(self) -> None:
        if not self._reading and not self._closed and self._loop is not None and len(self._messages) < self._max:
            self._loop.add_reader(self._fd, self._drain)
            self._reading = True

    def _pause(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _drain(self) -> None:
        """The descriptor is readable: take the waiting events (never blocks)."""
        ev = c_void_p()
        while not self._closed:
            if len(self._messages) >= self._max:
                self._pause()  # backpressure: midge's own bounded queue holds the rest
                return
            rc = lib.midge_client_next_event_nowait(self._handle, 0, byref(ev))
            if rc != 0:
                if rc == Result.CLOSED:
                    self._fail_all(Closed("the client is closed", result=Result.CLOSED))
                return
            try:
                self._on_event(ev.value)  # type: ignore[arg-type]
            finally:
                lib.midge_event_free(byref(ev))

    def _on_event(self, ev: int) -> None:
        kind = lib.midge_event_kind_of(ev)
        if kind == _EventKind.MESSAGE:
            m = lib.midge_event_message(ev)
            if m:
                msg = _read_message(m, self._sync._state.manual_ack)
                while self._waiters:
                    w = self._waiters.popleft()
                    if not w.done():
                        w.set_result(msg)
                        return
                self._messages.append(msg)
        elif kind in (_EventKind.PUBLISH_COMPLETE, _EventKind.SUBSCRIBE_COMPLETE, _EventKind.UNSUBSCRIBE_COMPLETE):
            ack = lib.midge_event_ack(ev)
            entry = self._pending.pop(lib.midge_ack_id(ack), None) if ack else None
            if entry is not None:
                fut, outcome = entry
                self._settle(fut, outcome)
        elif kind == _EventKind.RESTORED_PUBLISH_COMPLETE:
            r = _read_restored(ev)
            if r is not None:
                while self._restored_waiters:
                    w = self._restored_waiters.popleft()
                    if not w.done():
                        w.set_result(r)
                        return
                self._restored.append(r)
        elif kind == _EventKind.CONNECTED:
            c = lib.midge_event_connack(ev)
            self.connack = _read_connack(c) if c else self.connack
            self.connected = True
            self._connect_done()
        elif kind == _EventKind.CONNECTION_LOST:
            d = lib.midge_event_disconnect(ev)
            self.last_disconnect = _read_disconnect(d) if d else None
            self.connected = False
            self._connect_done()
        elif kind == _EventKind.CLOSED:
            self._fail_all(Closed("the client is closed", result=Result.CLOSED))

    @staticmethod
    def _settle(fut: asyncio.Future, outcome: _Outcome) -> None:
        """The request's completion event came: read its outcome (which frees it)."""
        if fut.done():  # cancelled by the application: the request went on without a waiter
            try:
                outcome()
            except MidgeError:
                pass
            return
        try:
            fut.set_result(outcome())
        except MidgeError as e:
            fut.set_exception(e)

    def _connect_done(self) -> None:
        """A CONNECTED or CONNECTION_LOST event: midge ends connect's completion before it
        queues either, so the completion is final here."""
        if self._connecting is None:
            return
        fut, comp = self._connecting
        rc = lib.midge_completion_poll(comp)
        if rc == Result.PENDING:
            return  # an earlier connection's event; this attempt goes on
        self._connecting = None
        try:
            if fut.done():
                return
            if rc == 0:
                c = lib.midge_completion_connack(comp)
                info = _read_connack(c) if c else self.connack
                self.connack = info
                self.connected = True
                fut.set_result(info)
            else:
                err = _failure(rc)
                # As midge.Client.connect: after a failure no reconnection is attempted.
                lib.midge_client_disconnect(self._handle, 0, None, None)
                fut.set_exception(err)
        finally:
            lib.midge_completion_free(byref(c_void_p(comp)))

    def _fail_all(self, exc: MidgeError) -> None:
        pending, self._pending = self._pending, {}
        for fut, _ in pending.values():
            if not fut.done():
                fut.set_exception(exc)
        for waiters in (self._waiters, self._restored_waiters):
            while waiters:
                w = waiters.popleft()
                if not w.done():
                    w.set_result(None)
        if self._connecting is not None:
            fut, comp = self._connecting
            self._connecting = None
            if not fut.done():
                fut.set_exception(exc)
            lib.midge_completion_free(byref(c_void_p(comp)))

    async def _await(self, fut: asyncio.Future, timeout: Optional[float], what: str) -> Any:
        if timeout is None:
            return await fut
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            raise Timeout("%s not finished within %.3g s (it goes on)" % (what, timeout), result=Result.TIMEOUT) from None

    # -- lifetime --

    async def connect(self, timeout: Optional[float] = None) -> ConnAck:
        """Connects and returns the CONNACK (``timeout`` in seconds defaults to the client's
        ``connect_timeout``). Raises as :meth:`midge.Client.connect`; cancelling it stops
        the attempt."""
        wait = _v.timeout(timeout)
        loop = self._attach()
        if self._connecting is not None:
            raise MidgeError("connect() is already in progress", result=Result.INVALID_ARGUMENT)
        comp = c_void_p()
        self._sync._st.connect_called = True
        rc = lib.midge_client_connect(self._handle, byref(comp))
        if rc != 0:
            raise _failure(rc)
        fut = loop.create_future()
        self._connecting = (fut, comp.value)  # type: ignore[assignment]
        self._drain()  # the attempt may already be over
        try:
            return await self._await(fut, self._sync.connect_timeout if wait is None else wait, "connect")
        except (asyncio.CancelledError, MidgeError):
            if self._connecting is not None and self._connecting[0] is fut:
                self._connecting = None
                lib.midge_client_disconnect(self._handle, 0, None, None)
                lib.midge_completion_free(byref(comp))
            raise

    async def disconnect(
        self,
        reason_code: int = ReasonCode.NORMAL_DISCONNECTION,
        *,
        session_expiry_interval: Optional[int] = None,
        reason_string: Optional[str] = None,
        user_properties: _v.UserPropertiesArg = None,
    ) -> None:
        """Sends DISCONNECT and closes the connection; no reconnection follows until
        :meth:`connect`. Returns once midge has handed DISCONNECT to the socket."""
        code = _v.integer(reason_code, "reason_code", 0xFF)
        extra = _v.user_properties(user_properties)
        self._attach()
        with _CProps() as props:
            props.int(_PropertyId.SESSION_EXPIRY_INTERVAL, session_expiry_interval)
            props.string(_PropertyId.REASON_STRING, reason_string)
            props.users(extra)
            rc = lib.midge_client_disconnect(self._handle, code, props.ptr, None)
        if rc != 0 and rc != Result.NOT_CONNECTED:
            raise _failure(rc)
        self.connected = False

    async def close(self) -> None:
        """Frees the client (disconnecting first if connected); waiting calls raise
        :class:`midge.Closed` and :meth:`messages` ends. Idempotent."""
        if self._closed:
            return
        self._pause()
        self._closed = True
        self._fail_all(Closed("the client is closed", result=Result.CLOSED))
        self._sync.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    async def __aenter__(self) -> "Client":
        try:
            await self.connect()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self.connected and not self._closed:
            try:
                await self.disconnect()
            except MidgeError:
                pass
        await self.close()

    # -- requests --

    def _track(self, comp_id: int, outcome: _Outcome) -> asyncio.Future:
        assert self._loop is not None
        fut = self._loop.create_future()
        # Its completion event, if it came already, waits in midge's queue: the reader
        # (level-triggered on the event descriptor) takes it at the loop's next turn.
        self._pending[comp_id] = (fut, outcome)
        return fut

    async def publish(
        self,
        topic: str,
        payload: Payload = b"",
        qos: int = 0,
        retain: bool = False,
        properties: Union[Properties, Dict[str, Any], None] = None,
        timeout: Optional[float] = None,
        *,
        topic_alias: Optional[int] = None,
        user_properties: _v.UserPropertiesArg = None,
    ) -> PublishResult:
        """Publishes and returns once the message is written (QoS 0) or acknowledged
        (QoS 1 PUBACK, QoS 2 PUBCOMP). While disconnected it waits in midge's offline
        queue. Arguments and errors as :meth:`midge.Client.publish_async`."""
        wait = _v.timeout(timeout)
        self._attach()
        comp = c_void_p()
        self._sync._start_publish(topic, payload, qos, retain, properties, topic_alias, user_properties, byref(comp))
        ptr: int = comp.value  # type: ignore[assignment]
        fut = self._track(lib.midge_completion_id(ptr), _Publish(ptr))
        return await self._await(fut, wait, "publish")

    async def subscribe(
        self,
        topic: Subscriptions,
        qos: int = 0,
        *,
        no_local: bool = False,
        retain_as_published: bool = False,
        retain_handling: RetainHandling = RetainHandling.SEND,
        subscription_identifier: Optional[int] = None,
        user_properties: _v.UserPropertiesArg = None,
        timeout: Optional[float] = None,
    ) -> List[Union[ReasonCode, int]]:
        """Subscribes and returns the SUBACK's reason codes, one per filter. Arguments as
        :meth:`midge.Client.subscribe`."""
        wait = _v.timeout(timeout)
        filters, options, n, ident, extra = _subscribe_args(
            topic, qos, no_local, retain_as_published, retain_handling, subscription_identifier, user_properties
        )
        self._attach()
        comp = c_void_p()
        with _CProps() as props:
            props.int(_PropertyId.SUBSCRIPTION_IDENTIFIER, ident)
            props.users(extra)
            rc = lib.midge_client_subscribe(self._handle, filters, options, n, props.ptr, byref(comp))
        if rc != 0:
            raise _failure(rc)
        fut = self._track(lib.midge_completion_id(comp), _codes_outcome(comp.value))  # type: ignore[arg-type]
        return await self._await(fut, wait, "subscribe")

    async def unsubscribe(
        self,
        topic: Union[str, List[str]],
        *,
        user_properties: _v.UserPropertiesArg = None,
        timeout: Optional[float] = None,
    ) -> List[Union[ReasonCode, int]]:
        """Unsubscribes and returns the UNSUBACK's reason codes."""
        wait = _v.timeout(timeout)
        extra = _v.user_properties(user_properties)
        filters, n = _unsubscribe_args(topic)
        self._attach()
        comp = c_void_p()
        with _CProps() as props:
            props.users(extra)
            rc = lib.midge_client_unsubscribe(self._handle, filters, n, props.ptr, byref(comp))
        if rc != 0:
            raise _failure(rc)
        fut = self._track(lib.midge_completion_id(comp), _codes_outcome(comp.value))  # type: ignore[arg-type]
        return await self._await(fut, wait, "unsubscribe")

    # -- receiving --

    async def next_message(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next received message, waiting up to ``timeout`` seconds (None: no limit);
        None when none came in time or the client was closed."""
        wait = _v.timeout(timeout)
        loop = self._attach()
        if self._messages:
            msg = self._messages.popleft()
            self._resume()
            return msg
        fut = loop.create_future()
        self._waiters.append(fut)
        try:
            if wait is None:
                return await fut
            return await asyncio.wait_for(fut, wait)
        except asyncio.TimeoutError:
            return None
        finally:
            if not fut.done():
                fut.cancel()

    def ack(self, message: Message) -> None:
        """Acknowledges a received message, for a client made with ``manual_ack=True``
        (never blocks): as :meth:`midge.Client.ack`."""
        self._sync.ack(message)

    async def messages(self, timeout: Optional[float] = None) -> AsyncIterator[Message]:
        """Iterates over received messages; ends after ``timeout`` seconds without one (None:
        runs until the client is closed)."""
        while not self._closed:
            msg = await self.next_message(timeout)
            if msg is None:
                return
            yield msg

    # -- restored publishes (a client made with a store) --

    def restored_publishes(self) -> List[RestoredPublish]:
        """The restored publishes that ended since the last call, without waiting (as
        :meth:`midge.Client.restored_publishes`). It takes the events waiting in midge
        unless ``max_buffered`` messages wait for :meth:`messages` (backpressure): then
        those behind come as the messages are taken."""
        if not self._closed:
            self._drain()
        out = list(self._restored)
        self._restored.clear()
        return out

    async def next_restored(self, timeout: Optional[float] = None) -> Optional[RestoredPublish]:
        """The next restored publish that ended, waiting up to ``timeout`` seconds (None: no
        limit); None when none came in time or the client was closed."""
        wait = _v.timeout(timeout)
        loop = self._attach()
        self._drain()
        if self._restored:
            return self._restored.popleft()
        fut = loop.create_future()
        self._restored_waiters.append(fut)
        try:
            if wait is None:
                return await fut
            return await asyncio.wait_for(fut, wait)
        except asyncio.TimeoutError:
            return None
        finally:
            if not fut.done():
                fut.cancel()

    def __repr__(self) -> str:
        return "<midge.aio.Client %s%s>" % (self.broker, " closed" if self._closed else "")


def _codes_outcome(comp: int) -> _Outcome:
    """Reads and frees a subscribe/unsubscribe completion once it has ended: its reason
    codes, or the failure."""

    def outcome() -> List[Union[ReasonCode, int]]:
        try:
            rc = lib.midge_completion_wait(comp, 0)  # sets this thread's error detail
            if rc != 0:
                raise _failure(rc)
            ack = lib.midge_completion_ack(comp)
            n = c_size_t()
            ptr = lib.midge_ack_reason_codes(ack, byref(n))
            return [_reason_code(b) for b in (string_at(ptr, n.value) if ptr else b"")]
        finally:
            lib.midge_completion_free(byref(c_void_p(comp)))

    return outcome

