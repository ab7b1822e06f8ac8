"""Immutable values: properties, messages, CONNACK, options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional, Tuple, Union

from ._enums import DisconnectKind, QoS, ReasonCode, RetainHandling

UserProperties = Tuple[Tuple[str, str], ...]
Payload = Union[bytes, bytearray, memoryview, str, None]


def _user_props(pairs: Optional[Iterable[Tuple[str, str]]]) -> UserProperties:
    if pairs is None:
        return ()
    out = []
    for pair in pairs:
        k, v = pair
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError("user properties are (str, str) pairs, got %r" % (pair,))
        out.append((k, v))
    return tuple(out)


@dataclass(frozen=True)
class Properties:
    """MQTT 5 message properties (publish, will, received messages).

    ``user_properties`` is a sequence of (name, value) pairs, kept as a tuple (order and
    repeats preserved). ``subscription_identifiers`` is filled in received messages only.
    """

    payload_format: Optional[int] = None
    message_expiry: Optional[int] = None
    content_type: Optional[str] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    user_properties: UserProperties = ()
    subscription_identifiers: Tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_properties", _user_props(self.user_properties))
        object.__setattr__(
            self, "subscription_identifiers", tuple(int(i) for i in self.subscription_identifiers)
        )
        if self.correlation_data is not None and not isinstance(self.correlation_data, bytes):
            object.__setattr__(self, "correlation_data", bytes(self.correlation_data))


@dataclass(frozen=True)
class Message:
    """A received message: a value, valid for as long as it is kept."""

    topic: str
    payload: bytes
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    properties: Properties = field(default_factory=Properties)

    def text(self, encoding: str = "utf-8") -> str:
        """The payload decoded as text."""
        return self.payload.decode(encoding)


@dataclass(frozen=True)
class Will:
    """The Last Will, published by the server if the connection ends abnormally.

    ``delay`` is the Will Delay Interval in seconds (None: no delay)."""

    topic: str
    payload: Payload = b""
    qos: int = 0
    retain: bool = False
    properties: Optional[Properties] = None
    delay: Optional[int] = None


@dataclass(frozen=True)
class Reconnect:
    """Automatic reconnection: the delay doubles from ``initial`` to ``maximum`` seconds."""

    initial: float = 0.25
    maximum: float = 30.0


@dataclass(frozen=True)
class SubscriptionOptions:
    """The options of one subscription (3.8.3.1)."""

    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND

    def to_byte(self) -> int:
        q = int(self.qos)
        if q not in (0, 1, 2):
            raise ValueError("QoS %r is not 0, 1 or 2" % (self.qos,))
        rh = int(self.retain_handling)
        if rh not in (0, 1, 2):
            raise ValueError("retain handling %r is not 0, 1 or 2" % (self.retain_handling,))
        return q | (4 if self.no_local else 0) | (8 if self.retain_as_published else 0) | (rh << 4)


@dataclass(frozen=True)
class PublishResult:
    """The outcome of an acknowledged publish: the PUBACK/PUBREC/PUBCOMP reason code
    (``SUCCESS`` for QoS 0) and the packet identifier used (0 for QoS 0)."""

    reason_code: Union[ReasonCode, int]
    packet_id: int
    #: The acknowledgement's Reason String and User Properties, when it carried them.
    reason_string: Optional[str] = None
    user_properties: UserProperties = ()


@dataclass(frozen=True)
class IoStats:
    """A client's socket I/O since it was made (``Client.io_stats``): the writes and reads
    that moved data, and the bytes they moved."""

    writes: int
    bytes_sent: int
    reads: int
    bytes_received: int


@dataclass(frozen=True)
class ConnAck:
    """The server's CONNACK, with the standard's defaults for absent properties."""

    session_present: bool
    assigned_client_id: Optional[str]
    keep_alive: int
    server_keep_alive: Optional[int]
    session_expiry_interval: Optional[int]
    receive_maximum: int
    maximum_qos: int
    retain_available: bool
    maximum_packet_size: Optional[int]
    topic_alias_maximum: int
    wildcard_subscription_available: bool
    subscription_identifiers_available: bool
    shared_subscription_available: bool
    reason_string: Optional[str]
    server_reference: Optional[str]
    response_information: Optional[str]
    authentication_method: Optional[str]
    user_properties: UserProperties


@dataclass(frozen=True)
class DisconnectInfo:
    """Why a connection ended (or an attempt failed)."""

    kind: Union[DisconnectKind, int]
    reason_code: Union[ReasonCode, int, None]
    reason_string: Optional[str]
    server_reference: Optional[str]
    errno: int
    detail: str
    #: The User Properties of the refusing CONNACK or of the server's DISCONNECT.
    user_properties: UserProperties = ()
