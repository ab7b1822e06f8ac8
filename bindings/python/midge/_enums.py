"""Enumerations: QoS, MQTT reason codes, midge_result, and friends."""

from __future__ import annotations

import enum
from typing import Union


class QoS(enum.IntEnum):
    """Quality of service levels."""

    AT_MOST_ONCE = 0
    AT_LEAST_ONCE = 1
    EXACTLY_ONCE = 2


class RetainHandling(enum.IntEnum):
    """Subscription option: when the server sends retained messages (3.8.3.1)."""

    SEND = 0
    SEND_IF_NEW = 1
    DO_NOT_SEND = 2


class ProtocolVersion(enum.IntEnum):
    """The MQTT version a client speaks (``Client(protocol_version=...)``) or a connection
    speaks (``ConnAck.protocol_version``, ``Client.protocol_version``: ``V5`` or ``V311``).
    Values are the C ``MIDGE_PROTOCOL_*`` constants."""

    V311 = 4
    V5 = 5
    #: Options only: 5.0; when the server refuses 5.0 before the first successful
    #: connection, 3.1.1 at once, and for every reconnection once 3.1.1 succeeded.
    V5_OR_V311 = 54


class Result(enum.IntEnum):
    """Mirrors the C ``midge_result`` (values are fixed by the C API)."""

    OK = 0
    INVALID_ARGUMENT = 1
    INVALID_UTF8 = 2
    INVALID_TOPIC = 3
    INVALID_PROPERTY = 4
    INVALID_ADDRESS = 5
    TOO_LARGE = 6
    NOT_SUPPORTED = 7
    QUEUE_FULL = 8
    TIMEOUT = 9
    PENDING = 10
    NOT_CONNECTED = 11
    CONNECTION_REFUSED = 12
    DISCONNECTED = 13
    REFUSED = 14
    SESSION_LOST = 15
    EXPIRED = 16
    CLOSED = 17
    PROTOCOL_ERROR = 18
    IO = 19
    NO_PACKET_ID = 20
    NOT_FOUND = 21
    WOULD_DEADLOCK = 22
    PANIC = 23
    NOT_IN_V311 = 24
    TLS = 25
    TLS_CONFIG = 26
    STORE_FULL = 27
    STORE = 28


class ReasonCode(enum.IntEnum):
    """MQTT 5.0 reason codes (2.4). Aliases share a value (``SUCCESS`` is also
    ``NORMAL_DISCONNECTION`` and ``GRANTED_QOS_0``)."""

    SUCCESS = 0x00
    NORMAL_DISCONNECTION = 0x00
    GRANTED_QOS_0 = 0x00
    GRANTED_QOS_1 = 0x01
    GRANTED_QOS_2 = 0x02
    DISCONNECT_WITH_WILL_MESSAGE = 0x04
    NO_MATCHING_SUBSCRIBERS = 0x10
    NO_SUBSCRIPTION_EXISTED = 0x11
    CONTINUE_AUTHENTICATION = 0x18
    RE_AUTHENTICATE = 0x19
    UNSPECIFIED_ERROR = 0x80
    MALFORMED_PACKET = 0x81
    PROTOCOL_ERROR = 0x82
    IMPLEMENTATION_SPECIFIC_ERROR = 0x83
    UNSUPPORTED_PROTOCOL_VERSION = 0x84
    CLIENT_IDENTIFIER_NOT_VALID = 0x85
    BAD_USER_NAME_OR_PASSWORD = 0x86
    NOT_AUTHORIZED = 0x87
    SERVER_UNAVAILABLE = 0x88
    SERVER_BUSY = 0x89
    BANNED = 0x8A
    SERVER_SHUTTING_DOWN = 0x8B
    BAD_AUTHENTICATION_METHOD = 0x8C
    KEEP_ALIVE_TIMEOUT = 0x8D
    SESSION_TAKEN_OVER = 0x8E
    TOPIC_FILTER_INVALID = 0x8F
    TOPIC_NAME_INVALID = 0x90
    PACKET_IDENTIFIER_IN_USE = 0x91
    PACKET_IDENTIFIER_NOT_FOUND = 0x92
    RECEIVE_MAXIMUM_EXCEEDED = 0x93
    TOPIC_ALIAS_INVALID = 0x94
    PACKET_TOO_LARGE = 0x95
    MESSAGE_RATE_TOO_HIGH = 0x96
    QUOTA_EXCEEDED = 0x97
    ADMINISTRATIVE_ACTION = 0x98
    PAYLOAD_FORMAT_INVALID = 0x99
    RETAIN_NOT_SUPPORTED = 0x9A
    QOS_NOT_SUPPORTED = 0x9B
    USE_ANOTHER_SERVER = 0x9C
    SERVER_MOVED = 0x9D
    SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9E
    CONNECTION_RATE_EXCEEDED = 0x9F
    MAXIMUM_CONNECT_TIME = 0xA0
    SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED = 0xA1
    WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED = 0xA2

    @property
    def is_failure(self) -> bool:
        """True for codes 0x80 and above."""
        return self.value >= 0x80


def reason_code(value: int) -> Union[ReasonCode, int]:
    """The ``ReasonCode`` for ``value``, or the plain int for a code not in the standard."""
    try:
        return ReasonCode(value)
    except ValueError:
        return value


class DisconnectKind(enum.IntEnum):
    """What ended (or prevented) a connection (``midge_disconnect_kind``)."""

    REFUSED = 1
    SERVER = 2
    PROTOCOL_ERROR = 3
    KEEP_ALIVE_TIMEOUT = 4
    CONNECT_TIMEOUT = 5
    AUTHENTICATION = 6
    TRANSPORT = 7
    CLIENT = 8
    NOT_MQTT = 9
    TLS = 10


class _EventKind(enum.IntEnum):
    CONNECTED = 1
    CONNECTION_LOST = 2
    RECONNECTING = 3
    SESSION_LOST = 4
    MESSAGE = 5
    PUBLISH_COMPLETE = 6
    SUBSCRIBE_COMPLETE = 7
    UNSUBSCRIBE_COMPLETE = 8
    REAUTHENTICATED = 9
    MESSAGES_DROPPED = 10
    LOG = 11
    CLOSED = 12
    DISCONNECT_FAILED = 13
    REAUTHENTICATE_FAILED = 14
    RESTORED_PUBLISH_COMPLETE = 15


class _PropertyId(enum.IntEnum):
    PAYLOAD_FORMAT_INDICATOR = 1
    MESSAGE_EXPIRY_INTERVAL = 2
    CONTENT_TYPE = 3
    RESPONSE_TOPIC = 8
    CORRELATION_DATA = 9
    SUBSCRIPTION_IDENTIFIER = 11
    SESSION_EXPIRY_INTERVAL = 17
    REASON_STRING = 31
    WILL_DELAY_INTERVAL = 24
    TOPIC_ALIAS = 35
    USER_PROPERTY = 38


SUB_NO_LOCAL = 4
SUB_RETAIN_AS_PUBLISHED = 8
