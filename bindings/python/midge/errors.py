"""Exceptions: one class per ``midge_result``, all under ``MidgeError``."""

from __future__ import annotations

from typing import Dict, Optional, Type, Union

from ._enums import ReasonCode, Result, reason_code


class MidgeError(Exception):
    """A failed midge call.

    Attributes: ``result`` (a :class:`Result`), ``reason_code`` (the MQTT reason code that
    came with the failure, a :class:`ReasonCode`, or None), ``reason_string`` (the server's
    Reason String when known) and ``detail`` (midge's description of the failure).
    """

    result: Result = Result.OK

    def __init__(
        self,
        detail: str = "",
        *,
        result: Optional[Result] = None,
        reason_code: Union[ReasonCode, int, None] = None,
        reason_string: Optional[str] = None,
    ) -> None:
        if result is not None:
            self.result = result
        self.detail = detail
        self.reason_code = reason_code
        self.reason_string = reason_string
        text = detail or self.result.name.lower().replace("_", " ")
        if reason_code is not None:
            name = reason_code.name if isinstance(reason_code, ReasonCode) else "0x%02X" % reason_code
            text += " (reason code %s)" % name
        if reason_string:
            text += ": %s" % reason_string
        super().__init__(text)


class InvalidArgument(MidgeError, ValueError):
    """An argument out of range or malformed. Also a ``ValueError``."""

    result = Result.INVALID_ARGUMENT


class InvalidType(InvalidArgument, TypeError):
    """An argument of the wrong Python type (``qos='1'``, ``retain='yes'``): raised by the
    binding before anything reaches libmidge. Also a ``TypeError``."""


class InvalidUtf8(InvalidArgument):
    """A string that is not valid UTF-8 or holds a character MQTT forbids (1.5.4)."""

    result = Result.INVALID_UTF8


class InvalidTopic(InvalidArgument):
    """A topic name or filter that breaks the rules of 4.7 (wildcards in a topic name, an empty filter, ...)."""

    result = Result.INVALID_TOPIC


class InvalidProperty(InvalidArgument):
    """A property that is unknown, not allowed in this packet, or out of its range."""

    result = Result.INVALID_PROPERTY


class InvalidAddress(InvalidArgument):
    """A broker address that cannot be parsed or has an unsupported scheme."""

    result = Result.INVALID_ADDRESS


class TooLarge(MidgeError):
    """A packet larger than the server's Maximum Packet Size or the protocol's limit."""

    result = Result.TOO_LARGE


class NotSupported(MidgeError):
    """Something the server said it does not support (its CONNACK), or midge does not."""

    result = Result.NOT_SUPPORTED


class QueueFull(MidgeError):
    """The offline queue or the server's Receive Maximum leaves no room for the message."""

    result = Result.QUEUE_FULL


class Timeout(MidgeError, TimeoutError):
    """The wait ended first; the request itself goes on."""

    result = Result.TIMEOUT


class Pending(MidgeError):
    """The operation has not finished yet (a zero-timeout poll)."""

    result = Result.PENDING


class NotConnected(MidgeError, ConnectionError):
    """The client is not connected and the call cannot wait for a connection."""

    result = Result.NOT_CONNECTED


class ConnectionRefused(MidgeError, ConnectionError):
    """The server refused the connection (CONNACK reason code in ``reason_code``)."""

    result = Result.CONNECTION_REFUSED


class Disconnected(MidgeError, ConnectionError):
    """The connection ended before the request completed."""

    result = Result.DISCONNECTED


class Refused(MidgeError):
    """The server answered a publish (or other request) with a failure reason code."""

    result = Result.REFUSED


class SessionLost(MidgeError):
    """The server did not keep the session, so this operation cannot complete."""

    result = Result.SESSION_LOST


class Expired(MidgeError):
    """The message expired (Message Expiry Interval) before it could be sent."""

    result = Result.EXPIRED


class Closed(MidgeError):
    """The client was closed."""

    result = Result.CLOSED


class ProtocolError(MidgeError):
    """The server broke the protocol; the connection was closed with the reason code."""

    result = Result.PROTOCOL_ERROR


class TransportError(MidgeError, ConnectionError):
    """An operating-system error (connect, DNS, socket): ``MIDGE_RESULT_IO``."""

    result = Result.IO


class NoPacketId(MidgeError):
    """All 65,535 packet identifiers are in use."""

    result = Result.NO_PACKET_ID


class NotFound(MidgeError):
    """No such item (e.g. a property index past the end)."""

    result = Result.NOT_FOUND


class WouldDeadlock(MidgeError):
    """A blocking call made from one of midge's own threads (a callback) that would wait for that thread."""

    result = Result.WOULD_DEADLOCK


class Panic(MidgeError):
    """A bug in midge (a Rust panic caught at the C boundary)."""

    result = Result.PANIC


class NotInV311(MidgeError):
    """The connection speaks MQTT 3.1.1 (or may fall back to it), which cannot carry what
    was asked (properties, subscription options beyond the QoS, a reason code, ...); the
    message names it. Nothing was sent."""

    result = Result.NOT_IN_V311


class TlsError(MidgeError, ConnectionError):
    """The TLS handshake failed: the message says why (unknown issuer, expired, name
    mismatch and the expected name, pin mismatch, client certificate refused). midge does
    not reconnect after it."""

    result = Result.TLS


class TlsConfigError(InvalidArgument):
    """TLS options that cannot be used: a missing file, a PEM without a certificate, a key
    that does not parse, TLS options on a plain ``mqtt://`` address."""

    result = Result.TLS_CONFIG


class StoreFull(MidgeError):
    """The persistence store is full (its bound on live bytes or records); nothing was
    written."""

    result = Result.STORE_FULL


class StoreError(MidgeError, OSError):
    """The persistence store failed: an I/O error, a store in use by another process, a
    file that is not a midge store, or a store callback that returned a failure."""

    result = Result.STORE


ERRORS: Dict[Result, Type[MidgeError]] = {
    cls.result: cls
    for cls in (
        InvalidArgument,
        InvalidUtf8,
        InvalidTopic,
        InvalidProperty,
        InvalidAddress,
        TooLarge,
        NotSupported,
        QueueFull,
        Timeout,
        Pending,
        NotConnected,
        ConnectionRefused,
        Disconnected,
        Refused,
        SessionLost,
        Expired,
        Closed,
        ProtocolError,
        TransportError,
        NoPacketId,
        NotFound,
        WouldDeadlock,
        Panic,
        NotInV311,
        TlsError,
        TlsConfigError,
        StoreFull,
        StoreError,
    )
}


def error_for(
    result: int,
    detail: str = "",
    code: Optional[int] = None,
    reason_string: Optional[str] = None,
) -> MidgeError:
    """The exception for a ``midge_result`` value (a plain ``MidgeError`` for an unknown one)."""
    try:
        r = Result(result)
    except ValueError:
        return MidgeError(detail or "unknown midge result %d" % result, reason_code=None)
    cls = ERRORS.get(r, MidgeError)
    rc = reason_code(code) if code is not None and code >= 0 else None
    return cls(detail, result=r, reason_code=rc, reason_string=reason_string)
