"""Immutable values: properties, messages, CONNACK, options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

from . import _validate as _v
from ._enums import DisconnectKind, ProtocolVersion, QoS, ReasonCode, RetainHandling
from .errors import InvalidProperty, InvalidType, MidgeError

UserProperties = Tuple[Tuple[str, str], ...]
Payload = Union[bytes, bytearray, memoryview, str, None]


def _user_props(pairs: Any) -> UserProperties:
    return _v.user_properties(pairs)


@dataclass(frozen=True)
class Properties:
    """MQTT 5 message properties (publish, will, received messages), named as in the
    standard (3.3.2.3).

    ``payload_format_indicator`` is 0 (bytes) or 1 (UTF-8 text); ``message_expiry_interval``
    is in seconds; ``user_properties`` is a sequence of (name, value) pairs or a dict, kept
    as a tuple (order and repeats preserved). ``subscription_identifiers`` is filled in
    received messages only. Every field is checked when the object is made: a wrong type
    raises :class:`~midge.InvalidType`, a value out of range :class:`~midge.InvalidArgument`.
    """

    payload_format_indicator: Optional[int] = None
    message_expiry_interval: Optional[int] = None
    content_type: Optional[str] = None
    response_topic: Optional[str] = None
    correlation_data: Optional[bytes] = None
    user_properties: UserProperties = ()
    subscription_identifiers: Tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _v.optional_integer(self.payload_format_indicator, "payload_format_indicator", 1)
        _v.optional_integer(self.message_expiry_interval, "message_expiry_interval", _v.U32_MAX)
        if self.content_type is not None:
            _v.text(self.content_type, "content_type")
        if self.response_topic is not None:
            _v.text(self.response_topic, "response_topic")
        if self.correlation_data is not None:
            object.__setattr__(self, "correlation_data", _v.binary(self.correlation_data, "correlation_data"))
        object.__setattr__(self, "user_properties", _user_props(self.user_properties))
        ids = self.subscription_identifiers
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise InvalidType("subscription_identifiers must be a sequence of int, not %s" % type(ids).__name__)
        object.__setattr__(
            self,
            "subscription_identifiers",
            tuple(_v.integer(i, "subscription identifier", 268435455, 1) for i in ids),
        )

    @classmethod
    def of(cls, value: Union["Properties", Dict[str, Any], None]) -> Optional["Properties"]:
        """``value`` as Properties: a Properties, a dict of its field names, or None. An
        unknown name raises :class:`~midge.InvalidProperty` listing the known ones."""
        if value is None or isinstance(value, Properties):
            return value
        if isinstance(value, dict):
            known = [f for f in cls.__dataclass_fields__]
            unknown = [k for k in value if k not in known]
            if unknown:
                raise InvalidProperty(
                    "unknown message property %r (known: %s)" % (unknown[0], ", ".join(known))
                )
            return cls(**value)
        raise InvalidType("properties must be a midge.Properties or a dict, not %s" % type(value).__name__)


@dataclass(frozen=True)
class Redirect:
    """A server's redirection (MQTT 5.0 4.11) that midge would follow, as
    ``Client.on_redirect`` sees it."""

    #: The server that sent it (``mqtt://host:port``).
    from_server: str
    #: Where midge would connect.
    to: str
    #: The Server Reference as the server sent it.
    reference: str
    #: 0x9C (Use another server) or 0x9D (Server moved).
    reason_code: int


@dataclass(frozen=True)
class Message:
    """A received message: a value, valid for as long as it is kept."""

    topic: str
    payload: bytes
    qos: QoS = QoS.AT_MOST_ONCE
    retain: bool = False
    dup: bool = False
    properties: Properties = field(default_factory=Properties)
    #: With ``manual_ack``: midge's handle on the received QoS 1/2 message, for
    #: :meth:`midge.Client.ack` (freed with the Message).
    _handle: Any = field(default=None, repr=False, compare=False)

    def text(self, encoding: str = "utf-8") -> str:
        """The payload decoded as text."""
        return self.payload.decode(encoding)


@dataclass(frozen=True)
class Will:
    """The Last Will, published by the server if the connection ends abnormally.

    ``will_delay_interval`` is the Will Delay Interval in seconds (None: no delay);
    ``properties`` a :class:`Properties` or a dict of its field names. Checked when made."""

    topic: str
    payload: Payload = b""
    qos: int = 0
    retain: bool = False
    properties: Optional[Properties] = None
    will_delay_interval: Optional[int] = None

    def __post_init__(self) -> None:
        _v.text(self.topic, "will topic")
        if self.payload is not None and not isinstance(self.payload, str):
            _v.binary(self.payload, "will payload")
        _v.qos(self.qos, "will qos")
        _v.flag(self.retain, "will retain")
        object.__setattr__(self, "properties", Properties.of(self.properties))
        _v.optional_integer(self.will_delay_interval, "will_delay_interval", _v.U32_MAX)


@dataclass(frozen=True)
class Reconnect:
    """Automatic reconnection: the delay doubles from ``initial`` to ``maximum`` seconds."""

    initial: float = 0.25
    maximum: float = 30.0

    def __post_init__(self) -> None:
        _v.seconds(self.initial, "Reconnect.initial")
        _v.seconds(self.maximum, "Reconnect.maximum")
        if self.maximum < self.initial:
            raise _v.InvalidArgument("Reconnect.maximum %r s is below initial %r s" % (self.maximum, self.initial))


@dataclass(frozen=True)
class SubscriptionOptions:
    """The options of one subscription (3.8.3.1), checked when made."""

    qos: int = 0
    no_local: bool = False
    retain_as_published: bool = False
    retain_handling: RetainHandling = RetainHandling.SEND

    def __post_init__(self) -> None:
        _v.qos(self.qos, "qos")
        _v.flag(self.no_local, "no_local")
        _v.flag(self.retain_as_published, "retain_as_published")
        _v.integer(self.retain_handling, "retain_handling", 2)

    def to_byte(self) -> int:
        """The Subscription Options byte of 3.8.3.1."""
        q = int(self.qos)
        rh = int(self.retain_handling)
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
class RestoredPublish:
    """The end of a publish made by an earlier client with the same store (before a
    restart), which this client restored from the store and sent again:
    :meth:`midge.Client.restored_publishes`, :meth:`midge.Client.next_restored`.

    ``id`` is the id its :class:`~midge.PublishHandle` had then (``PublishHandle.id``),
    ``message`` what was published (topic, payload, QoS, retain, properties). Exactly one
    of ``result`` (acknowledged: the PUBACK's or PUBCOMP's reason code and the packet
    identifier, as :meth:`~midge.PublishHandle.wait` returns) and ``error`` (how it failed:
    a :class:`~midge.MidgeError` such as :class:`~midge.Refused` with the reason code, or
    :class:`~midge.Expired`) is set."""

    id: int
    message: Message
    result: Optional[PublishResult] = None
    error: Optional[MidgeError] = None

    @property
    def ok(self) -> bool:
        """True when the server acknowledged the publish (``result`` is set)."""
        return self.error is None


@dataclass(frozen=True)
class IoStats:
    """A client's socket I/O since it was made (``Client.io_stats``): the writes and reads
    that moved data, and the bytes they moved."""

    writes: int
    bytes_sent: int
    reads: int
    bytes_received: int


@dataclass(frozen=True)
class Stats:
    """A client's counters (``Client.stats``), over all its connections: messages, packets
    and bytes each way, in flight each way, the queue, connections, and the round-trip
    time to the server (seconds; None until measured). Cheap enough to read every second."""

    messages_sent: int
    messages_received: int
    packets_sent: int
    packets_received: int
    bytes_sent: int
    bytes_received: int
    writes: int
    reads: int
    inflight_out: int
    inflight_in: int
    queued: int
    queued_bytes: int
    connects: int
    disconnects: int
    #: Seconds the current connection has been up (0.0 while not connected).
    connected_for: float
    #: Smoothed round-trip time (TCP's SRTT) and the latest sample, in seconds.
    rtt: Optional[float]
    last_rtt: Optional[float]
    refused_queue_full: int


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
    #: The MQTT version of this connection (3.1.1 after a fallback, or when asked for).
    #: A 3.1.1 CONNACK has no properties: the fields above are the standard's defaults.
    protocol_version: ProtocolVersion = ProtocolVersion.V5
    #: The server this connection was made to (``mqtt://host:port``): one of the client's
    #: servers, or a followed redirection's target.
    server: Optional[str] = None


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
