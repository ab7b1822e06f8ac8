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
    result = Result.INVALID_ARGUMENT


class InvalidUtf8(InvalidArgument):
    result = Result.INVALID_UTF8


class InvalidTopic(InvalidArgument):
    result = Result.INVALID_TOPIC


class InvalidProperty(InvalidArgument):
    result = Result.INVALID_PROPERTY


class InvalidAddress(InvalidArgument):
    result = Result.INVALID_ADDRESS


class TooLarge(MidgeError):
    result = Result.TOO_LARGE


class NotSupported(MidgeError):
    result = Result.NOT_SUPPORTED


class QueueFull(MidgeError):
    result = Result.QUEUE_FULL


class Timeout(MidgeError, TimeoutError):
    """The wait ended first; the request itself goes on."""

    result = Result.TIMEOUT


class Pending(MidgeError):
    result = Result.PENDING


class NotConnected(MidgeError, ConnectionError):
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
    result = Result.SESSION_LOST


class Expired(MidgeError):
    result = Result.EXPIRED


class Closed(MidgeError):
    """The client was closed."""

    result = Result.CLOSED


class ProtocolError(MidgeError):
    result = Result.PROTOCOL_ERROR


class TransportError(MidgeError, ConnectionError):
    """An operating-system error (connect, DNS, socket): ``MIDGE_RESULT_IO``."""

    result = Result.IO


class NoPacketId(MidgeError):
    result = Result.NO_PACKET_ID


class NotFound(MidgeError):
    result = Result.NOT_FOUND


class WouldDeadlock(MidgeError):
    result = Result.WOULD_DEADLOCK


class Panic(MidgeError):
    """A bug in midge (a Rust panic caught at the C boundary)."""

    result = Result.PANIC


class TlsError(MidgeError, ConnectionError):
    """The TLS handshake failed: the message says why (unknown issuer, expired, name
    mismatch and the expected name, pin mismatch, client certificate refused). midge does
    not reconnect after it."""

    result = Result.TLS


class TlsConfigError(InvalidArgument):
    """TLS options that cannot be used: a missing file, a PEM without a certificate, a key
    that does not parse, TLS options on a plain ``mqtt://`` address."""

    result = Result.TLS_CONFIG


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
        TlsError,
        TlsConfigError,
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
