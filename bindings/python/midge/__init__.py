"""midge: an MQTT v5 client (Python bindings for libmidge, loaded with ctypes).

Quick start::

    import midge

    with midge.Client("mqtt://127.0.0.1:1883") as client:
        client.subscribe("sensors/#", qos=1)
        client.publish("sensors/t", b"21.5", qos=1)
        for message in client.messages(timeout=1.0):
            print(message.topic, message.payload)

The library is the copy bundled by ``pip install`` or, if set, ``$MIDGE_LIBRARY``.
"""

from ._enums import DisconnectKind, ProtocolVersion, QoS, ReasonCode, Result, RetainHandling
from ._types import (
    ConnAck,
    DisconnectInfo,
    IoStats,
    Message,
    Properties,
    PublishResult,
    Reconnect,
    Redirect,
    RestoredPublish,
    Stats,
    SubscriptionOptions,
    Will,
)
from .client import Client, PublishHandle, shutdown, version
from . import aio  # noqa: E402  (midge.aio.Client: the asyncio API)
from .tls import Tls
from .errors import (
    Closed,
    ConnectionRefused,
    Disconnected,
    Expired,
    InvalidAddress,
    InvalidArgument,
    InvalidType,
    InvalidProperty,
    InvalidTopic,
    InvalidUtf8,
    MidgeError,
    NoPacketId,
    NotConnected,
    NotFound,
    NotInV311,
    NotSupported,
    Panic,
    Pending,
    ProtocolError,
    QueueFull,
    Refused,
    SessionLost,
    Timeout,
    TooLarge,
    TlsConfigError,
    StoreFull,
    StoreError,
    TlsError,
    TransportError,
    WouldDeadlock,
)

__version__ = "1.0.0"

__all__ = [
    "Client",
    "PublishHandle",
    "Tls",
    "TlsError",
    "TlsConfigError",
    "StoreFull",
    "StoreError",
    "Message",
    "Properties",
    "Will",
    "Reconnect",
    "Redirect",
    "Stats",
    "SubscriptionOptions",
    "PublishResult",
    "RestoredPublish",
    "ConnAck",
    "DisconnectInfo",
    "IoStats",
    "DisconnectKind",
    "ProtocolVersion",
    "QoS",
    "ReasonCode",
    "Result",
    "RetainHandling",
    "version",
    "shutdown",
    "MidgeError",
    "InvalidArgument",
    "aio",
    "InvalidType",
    "InvalidUtf8",
    "InvalidTopic",
    "InvalidProperty",
    "InvalidAddress",
    "TooLarge",
    "NotSupported",
    "QueueFull",
    "Timeout",
    "Pending",
    "NotConnected",
    "ConnectionRefused",
    "Disconnected",
    "Refused",
    "SessionLost",
    "Expired",
    "Closed",
    "ProtocolError",
    "TransportError",
    "NoPacketId",
    "NotFound",
    "WouldDeadlock",
    "Panic",
    "NotInV311",
]
