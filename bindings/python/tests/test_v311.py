"""MQTT 3.1.1 from Python: the protocol_version= option (checked), ConnAck.protocol_version
and Client.protocol_version, NotInV311 for what 3.1.1 cannot carry, round trips against a
per-test Mosquitto, and the fallback from 5.0 against a tiny scripted server that answers
a 5.0 CONNECT as a 3.1.1-only broker does (return code 0x01, [MQTT-3.1.2-2] of 3.1.1)."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest

import midge
from midge import ProtocolVersion, QoS


def uid() -> str:
    return uuid.uuid4().hex[:10]


def test_protocol_version_is_checked():
    with pytest.raises(midge.InvalidType) as e:
        midge.Client("mqtt://127.0.0.1:9", protocol_version="3.1.1", reconnect=False)
    assert isinstance(e.value, TypeError)
    assert "protocol_version" in str(e.value)
    with pytest.raises(midge.InvalidType):
        midge.Client("mqtt://127.0.0.1:9", protocol_version=True, reconnect=False)
    with pytest.raises(midge.InvalidArgument) as e:
        midge.Client("mqtt://127.0.0.1:9", protocol_version=3, reconnect=False)
    assert isinstance(e.value, ValueError)
    # The enum's values are accepted as plain ints too.
    midge.Client("mqtt://127.0.0.1:9", protocol_version=4, reconnect=False).close()


def test_options_3_1_1_cannot_carry_are_refused():
    with pytest.raises(midge.NotInV311) as e:
        midge.Client(
            "mqtt://127.0.0.1:9",
            protocol_version=ProtocolVersion.V311,
            user_properties=[("k", "v")],
            reconnect=False,
        )
    assert "User Properties" in str(e.value)
    assert e.value.result == midge.Result.NOT_IN_V311
    # A client that may fall back is held to the same.
    with pytest.raises(midge.NotInV311):
        midge.Client(
            "mqtt://127.0.0.1:9",
            protocol_version=ProtocolVersion.V5_OR_V311,
            client_id="x",
            clean_start=False,
            session_expiry_interval=3600,
            reconnect=False,
        )


def test_round_trips_in_3_1_1(broker):
    c = midge.Client(broker.url, client_id=uid(), protocol_version=ProtocolVersion.V311)
    assert c.protocol_version is None  # no CONNACK yet
    with c:  # connects
        ack = c.connack
        assert ack.protocol_version == ProtocolVersion.V311
        assert c.protocol_version == ProtocolVersion.V311
        assert not ack.subscription_identifiers_available
        assert c.subscribe("v311/#", qos=2) == [midge.ReasonCode.GRANTED_QOS_2]
        for qos in (QoS.AT_MOST_ONCE, QoS.AT_LEAST_ONCE, QoS.EXACTLY_ONCE):
            c.publish("v311/t", b"q%d" % qos, qos=qos)
            m = c.next_message(timeout=5.0)
            assert m is not None
            assert (m.topic, m.payload, m.qos) == ("v311/t", b"q%d" % qos, qos)
        with pytest.raises(midge.NotInV311):
            c.publish("v311/t", b"x", qos=1, user_properties=[("k", "v")])
        with pytest.raises(midge.NotInV311):
            c.subscribe("v311/x", qos=1, no_local=True)
        # The connection is unharmed.
        c.publish("v311/t", b"after", qos=1)
        assert c.next_message(timeout=5.0).payload == b"after"


def test_5_0_or_3_1_1_speaks_5_0_to_mosquitto(broker):
    with midge.Client(
        broker.url, client_id=uid(), protocol_version=ProtocolVersion.V5_OR_V311
    ) as c:
        assert c.connack.protocol_version == ProtocolVersion.V5


class OnlyV311Server:
    """Accepts connections one at a time: a level-5 CONNECT gets the 3.1.1 CONNACK with
    return code 0x01 and a close; a level-4 CONNECT gets CONNACK 0x00 and stays open."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10.0)
        self.levels = []
        self.open = []
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return "mqtt://127.0.0.1:%d" % self.sock.getsockname()[1]

    @staticmethod
    def read_packet(conn: socket.socket) -> bytes:
        def exact(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    raise EOFError
                data += chunk
            return data

        first = exact(1)
        length, shift = 0, 0
        while True:
            b = exact(1)[0]
            length |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        return first + exact(length)

    def run(self) -> None:
        try:
            for _ in range(2):
                conn, _ = self.sock.accept()
                conn.settimeout(10.0)
                packet = self.read_packet(conn)
                assert packet[0] == 0x10, packet
                # The first byte, the protocol name (6 bytes), then the level.
                level = packet[7]
                self.levels.append(level)
                if level == 5:
                    conn.sendall(bytes([0x20, 0x02, 0x00, 0x01]))
                    conn.close()
                else:
                    conn.sendall(bytes([0x20, 0x02, 0x00, 0x00]))
                    self.open.append(conn)
        except (OSError, EOFError):
            pass

    def close(self) -> None:
        for c in self.open:
            c.close()
        self.sock.close()
        self.thread.join(5.0)


def test_falls_back_to_3_1_1_when_the_server_refuses_5_0():
    server = OnlyV311Server()
    try:
        with midge.Client(
            server.url,
            client_id=uid(),
            protocol_version=ProtocolVersion.V5_OR_V311,
            reconnect=False,
        ) as c:
            ack = c.connack
            assert ack.protocol_version == ProtocolVersion.V311
            assert c.protocol_version == ProtocolVersion.V311
            assert server.levels == [5, 4]
    finally:
        server.close()
