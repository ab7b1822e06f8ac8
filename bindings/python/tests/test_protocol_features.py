"""Protocol features through the Python binding (and so the C ABI): QoS 2's PUBREC reason
code, application-chosen topic aliases, the Will / credentials / Clean Start changed on a
live client, and servers that do not speak MQTT."""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import Callable, List

import pytest

import midge
from midge import DisconnectKind, QoS, ReasonCode

# ------------------------------------------------------------------ a scripted server


class ScriptedServer:
    """A TCP server on 127.0.0.1 that runs ``script(conn)`` for its first connection."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(5.0)
        self.port = self.sock.getsockname()[1]
        self.url = "mqtt://127.0.0.1:%d" % self.port
        self.errors: List[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script: Callable[[socket.socket], None]) -> None:
        try:
            conn, _ = self.sock.accept()
            conn.settimeout(5.0)
            with conn:
                script(conn)
        except BaseException as e:  # reported by close()
            self.errors.append(e)

    def close(self) -> None:
        self.thread.join(10)
        self.sock.close()
        assert not self.thread.is_alive()
        if self.errors:
            raise self.errors[0]


def read_exact(conn: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = conn.recv(n - len(out))
        if not chunk:
            raise EOFError("the client closed the connection")
        out += chunk
    return out


def read_packet(conn: socket.socket) -> tuple:
    """One MQTT packet: (first byte, body)."""
    first = read_exact(conn, 1)[0]
    length, shift = 0, 0
    while True:
        b = read_exact(conn, 1)[0]
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            break
    return first, read_exact(conn, length)


def wait_closed(conn: socket.socket) -> None:
    """Reads until the client closes (it must, within the socket timeout)."""
    while conn.recv(4096):
        pass


CONNACK_OK = bytes([0x20, 0x03, 0x00, 0x00, 0x00])

# ------------------------------------------------------------------ not an MQTT server


def not_mqtt(greeting: bytes, greets_first: bool) -> midge.MidgeError:
    def script(conn: socket.socket) -> None:
        if not greets_first:
            first, _ = read_packet(conn)
            assert first == 0x10  # CONNECT
        conn.sendall(greeting)
        wait_closed(conn)

    server = ScriptedServer(script)
    c = midge.Client(server.url, reconnect=False, connect_timeout=5.0)
    lost = threading.Event()
    causes: list = []

    def on_disconnect(info: midge.DisconnectInfo) -> None:
        causes.append(info)
        lost.set()

    c.on_disconnect = on_disconnect
    try:
        with pytest.raises(midge.Disconnected) as e:
            c.connect()
        assert lost.wait(5.0)
    finally:
        c.close()
        server.close()
    text = str(e.value)
    assert "expected CONNACK, got 0x" in text and "is this an MQTT server?" in text, text
    assert "Malformed" not in text, text
    assert causes[0].kind == DisconnectKind.NOT_MQTT, causes
    assert causes[0].detail == text, (causes[0].detail, text)
    return e.value


def test_a_nats_server_is_named_as_not_mqtt():
    err = not_mqtt(b'INFO {"server_id":"NDJ2","version":"2.10.1","max_payload":1048576}\r\n', True)
    assert 'got 0x49 ("INFO {' in str(err)


def test_a_mysql_server_is_named_as_not_mqtt():
    err = not_mqtt(bytes([0x4A, 0, 0, 0, 0x0A]) + b"8.0.36\x00\x08\x00\x00\x00", True)
    assert "got 0x4A" in str(err)


def test_an_http_server_is_named_as_not_mqtt():
    err = not_mqtt(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", False)
    assert 'got 0x48 ("HTTP/1.1 400' in str(err)


# ------------------------------------------------------------------ QoS 2: PUBREC 0x10


def test_qos2_reports_the_pubrec_reason_code():
    """3.5.2.1: PUBREC 0x10 (No matching subscribers), then PUBCOMP 0x00: the publish
    reports 0x10 (it reported 0x00). Mosquitto 2.0.11 sends PUBREC 0x00 there, so a
    scripted server plays the broker."""

    def script(conn: socket.socket) -> None:
        first, _ = read_packet(conn)
        assert first == 0x10
        conn.sendall(CONNACK_OK)
        first, body = read_packet(conn)
        assert first & 0xF6 == 0x34, hex(first)  # PUBLISH QoS 2
        topic_len = int.from_bytes(body[:2], "big")
        pid = body[2 + topic_len : 4 + topic_len]
        reason = b"nobody"
        props = bytes([0x1F]) + len(reason).to_bytes(2, "big") + reason
        pubrec = pid + bytes([0x10, len(props)]) + props
        conn.sendall(bytes([0x50, len(pubrec)]) + pubrec)
        first, body = read_packet(conn)
        assert first == 0x62 and body[:2] == pid  # PUBREL
        conn.sendall(bytes([0x70, 0x02]) + pid)
        wait_closed(conn)

    server = ScriptedServer(script)
    try:
        with midge.Client(server.url, reconnect=False) as c:
            r = c.publish("nobody/listens", b"x", qos=2)
            assert r.reason_code == ReasonCode.NO_MATCHING_SUBSCRIBERS
    finally:
        server.close()


# ------------------------------------------------------------------ topic aliases


def next_message(c: midge.Client) -> midge.Message:
    m = c.next_message(timeout=5.0)
    assert m is not None, "no message within 5 s"
    return m


def test_application_topic_aliases(broker):
    """3.3.2.3.4 through Mosquitto (Topic Alias Maximum 10 by default): bind, publish by
    alias alone; beyond the maximum and unbound aliases are refused clearly."""
    with midge.Client(broker.url) as sub, midge.Client(broker.url) as pub:
        sub.subscribe("alias/#", qos=1)
        pub.publish("alias/a/long/topic", b"bind", qos=1, topic_alias=10)
        for qos in (0, 1, 2):
            pub.publish("", b"q%d" % qos, qos=qos, topic_alias=10)
        for expected in (b"bind", b"q0", b"q1", b"q2"):
            m = next_message(sub)
            assert (m.topic, m.payload) == ("alias/a/long/topic", expected)
        # [MQTT-3.3.2-9]: above the server's maximum.
        with pytest.raises(midge.NotSupported) as e:
            pub.publish("alias/x", b"no", qos=1, topic_alias=11)
        assert "Topic Alias Maximum 10" in str(e.value)
        # [MQTT-3.3.2-8]: never 0.
        with pytest.raises(midge.InvalidProperty):
            pub.publish("alias/x", b"no", qos=1, topic_alias=0)
        # An alias never bound.
        with pytest.raises(midge.InvalidTopic) as e2:
            pub.publish("", b"no", qos=1, topic_alias=3)
        assert "never bound" in str(e2.value)
        # The connection is still good.
        pub.publish("", b"after", qos=1, topic_alias=10)
        assert next_message(sub).payload == b"after"


# ------------------------------------------------------------------ connect-time settings


def test_credentials_changed_on_a_refused_client(make_broker):
    b = make_broker(users={"alice": "s3cret"})
    c = midge.Client(b.url, username="alice", password=b"wrong", reconnect=False)
    try:
        with pytest.raises(midge.ConnectionRefused):
            c.connect()
        c.set_credentials("alice", "s3cret")
        c.connect()
        c.set_credentials(None, None)
        c.disconnect()
        with pytest.raises(midge.ConnectionRefused):
            c.connect()
    finally:
        c.close()


def test_will_changed_on_a_live_client(broker):
    with midge.Client(broker.url) as watcher:
        watcher.subscribe("wills/#", qos=1)
        c = midge.Client(broker.url, will=midge.Will("wills/old", b"old", qos=1))
        try:
            c.connect()
            c.set_will(midge.Will("wills/new", b"new", qos=1))
            with pytest.raises(midge.InvalidTopic):
                c.set_will(midge.Will("wills/#", b"bad"))
            # The live connection keeps its Will ...
            c.disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)
            m = next_message(watcher)
            assert (m.topic, m.payload) == ("wills/old", b"old")
            # ... the next connect carries the new one.
            c.connect()
            c.disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)
            m = next_message(watcher)
            assert (m.topic, m.payload) == ("wills/new", b"new")
            c.set_will(None)
            c.set_clean_start(True)
            with pytest.raises(midge.InvalidArgument):
                c.set_clean_start("yes")  # type: ignore[arg-type]
        finally:
            c.close()


# ------------------------------------------------------------------ publish without a handle


def refusing_server(codes: List[int], together: bool = False) -> ScriptedServer:
    """Answers one QoS 1 PUBLISH per code with a PUBACK carrying it; ``together``: all of
    them in one write, once every PUBLISH came (the client then reads them in one go)."""

    def script(conn: socket.socket) -> None:
        first, _ = read_packet(conn)
        assert first == 0x10
        conn.sendall(CONNACK_OK)
        out = b""
        for code in codes:
            first, body = read_packet(conn)
            assert first & 0xF6 == 0x32, hex(first)  # PUBLISH QoS 1
            topic_len = int.from_bytes(body[:2], "big")
            pid = body[2 + topic_len : 4 + topic_len]
            puback = bytes([0x40, 0x03]) + pid + bytes([code])
            if together:
                out += puback
            else:
                conn.sendall(puback)
        conn.sendall(out)
        wait_closed(conn)

    return ScriptedServer(script)


def wait_failures(c: midge.Client, n: int) -> List[midge.MidgeError]:
    """Takes publish failures until n came (or 5 s passed), waiting on the client's event
    descriptor: a failure is an event, and the descriptor is readable while one waits."""
    deadline = time.monotonic() + 5
    failures: List[midge.MidgeError] = []
    fd = c.event_fd()
    while True:
        failures += c.publish_failures()
        left = deadline - time.monotonic()
        if len(failures) >= n or left <= 0:
            return failures
        select.select([fd], [], [], left)


def test_publish_failures_keep_the_newest_up_to_their_bound(monkeypatch):
    # The bound (10,000) made small: five refusals, the last two kept, three counted.
    # The five PUBACKs come in one write, so their failures wait in midge together and one
    # publish_failures() takes them all.
    monkeypatch.setattr(midge.client, "_MAX_FAILURES", 2)
    server = refusing_server([0x87] * 5, together=True)
    try:
        with midge.Client(server.url, reconnect=False) as c:
            for i in range(5):
                c.publish_nowait("t%d" % i, b"x", qos=1)
            kept = wait_failures(c, 1)
            assert len(kept) == 2 and all(isinstance(f, midge.Refused) for f in kept), kept
            assert c.publish_failures_dropped == 3
    finally:
        server.close()


def test_publish_nowait_delivers_and_keeps_a_later_failure():
    """A publish with no handle: a PUBACK failure code arriving after the call returned is
    not lost but kept (with its reason code) for publish_failures(). 3.4.2.1: PUBACK 0x87
    Not authorized; the scripted server accepts the first publish and refuses the second."""
    server = refusing_server([0x00, 0x87])
    try:
        with midge.Client(server.url, reconnect=False) as c:
            assert c.publish_nowait("mine", b"a", qos=1) is None
            assert c.publish_nowait("theirs", b"b", qos=1) is None
            failures = wait_failures(c, 1)
            assert len(failures) == 1, failures
            f = failures[0]
            assert isinstance(f, midge.Refused), f
            assert f.reason_code == ReasonCode.NOT_AUTHORIZED
            assert "NOT_AUTHORIZED" in str(f), str(f)
            assert c.publish_failures() == []  # taken
            assert c.publish_failures_dropped == 0
    finally:
        server.close()


def test_publish_nowait_checks_its_arguments_and_raises_a_refusal_known_at_once(broker):
    with midge.Client(broker.url) as c:
        with pytest.raises(midge.InvalidType):
            c.publish_nowait("t", b"x", qos="1")
        with pytest.raises(midge.InvalidArgument):
            c.publish_nowait("t", b"x", qos=3)
        with pytest.raises(midge.MidgeError) as e:
            c.publish_nowait("a/+", b"x")  # wildcards are not allowed in a topic name
        assert e.value.result == midge.Result.INVALID_TOPIC
        topic = "nowait/" + str(time.monotonic_ns())
        c.subscribe(topic, qos=1)
        for i in range(100):
            c.publish_nowait(topic, b"%d" % i, qos=i % 2)
        got = [c.next_message(timeout=5) for _ in range(100)]
        assert sorted(int(m.payload) for m in got if m is not None) == list(range(100))
        assert c.publish_failures() == []
