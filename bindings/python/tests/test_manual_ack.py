"""Application-controlled acknowledgements: ``Client(manual_ack=True)`` and
``Client.ack(msg)``, against a real Mosquitto (one per test, on a free loopback port).

What reached the broker is observed through the session it keeps: after a disconnect, a
client with the same id and ``clean_start=False`` resumes the session, and the broker sends
again, with DUP, exactly the messages that got no PUBACK [MQTT-4.4.0-1]. Before each
disconnect a SUBSCRIBE round trip makes sure the broker handled the PUBACKs sent before it
(it answers in order), so the next connection cannot take the session over too early."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import uuid

import pytest

import midge
import midge.aio

QUIET = 0.5


def uid() -> str:
    return uuid.uuid4().hex[:10]


def collect(client: midge.Client, n: int, timeout: float = 5.0):
    out = []
    while len(out) < n:
        m = client.next_message(timeout=timeout)
        assert m is not None, "got %d of %d messages" % (len(out), n)
        out.append(m)
    return out


def session(broker, cid: str, clean_start: bool, **kw) -> midge.Client:
    return midge.Client(
        broker.url,
        client_id=cid,
        clean_start=clean_start,
        session_expiry_interval=300,
        reconnect=False,
        manual_ack=True,
        **kw,
    )


def publish(broker, topic: str, n: int, qos: int = 1) -> None:
    with midge.Client(broker.url, client_id="pub-" + uid()) as p:
        for i in range(n):
            p.publish(topic, "m%d" % i, qos=qos)


def barrier(c: midge.Client) -> None:
    c.subscribe("barrier/" + uid(), qos=0)


def test_pubacks_wait_for_ack_and_keep_arrival_order(broker):
    # [MQTT-4.6.0-2]: PUBACKs in the order the PUBLISHes arrived. Acknowledging only the
    # 2nd of 3 sends nothing (the 1st is not acknowledged): all 3 come back.
    cid, topic = "manual-" + uid(), "manual/" + uid()
    with session(broker, cid, True) as c:
        c.subscribe(topic, qos=1)
        publish(broker, topic, 3)
        first = collect(c, 3)
        assert [m.payload for m in first] == [b"m0", b"m1", b"m2"]
        c.ack(first[1])
        barrier(c)
    with session(broker, cid, False) as c:
        again = collect(c, 3)
        assert [m.payload for m in again] == [b"m0", b"m1", b"m2"]
        assert all(m.dup for m in again)
        # Copies acknowledge the same message (asdict deep-copies: the handle is shared).
        assert dataclasses.asdict(again[0])["payload"] == b"m0"
        again[0] = dataclasses.replace(again[0])
        # Out of order: the PUBACKs still go out 1, 2, 3; twice is a no-op.
        for i in (2, 0, 1, 0):
            c.ack(again[i])
        barrier(c)
    with session(broker, cid, False) as c:
        assert c.next_message(timeout=QUIET) is None


def test_qos2_acknowledged_from_another_thread_after_the_callback(broker):
    # The callback keeps the messages; another thread acknowledges them after it returned.
    # [MQTT-4.3.3-8] PUBREC only then; nothing is delivered twice.
    cid, topic = "manual2-" + uid(), "manual2/" + uid()
    got = []
    cond = threading.Condition()

    def on_message(m):
        with cond:
            got.append(m)
            cond.notify_all()

    with session(broker, cid, True) as c:
        c.on_message = on_message
        c.subscribe(topic, qos=2)
        publish(broker, topic, 3, qos=2)
        with cond:
            assert cond.wait_for(lambda: len(got) == 3, timeout=5)
        t = threading.Thread(target=lambda: [c.ack(m) for m in reversed(got)])
        t.start()
        t.join(5)
        assert not t.is_alive()
        barrier(c)
        with cond:
            assert not cond.wait_for(lambda: len(got) > 3, timeout=QUIET)
    assert [m.payload for m in got] == [b"m0", b"m1", b"m2"]
    assert all(m.qos == midge.QoS.EXACTLY_ONCE for m in got)
    with session(broker, cid, False) as c:
        assert c.next_message(timeout=QUIET) is None


def test_an_unacknowledging_application_holds_the_broker_at_receive_maximum(broker):
    # [MQTT-3.3.4-9]: the broker stops at our Receive Maximum; nothing is lost once the
    # application acknowledges.
    topic = "flow/" + uid()
    # No reconnection: a disconnection would show as missing messages.
    with midge.Client(
        broker.url, client_id="flow-" + uid(), manual_ack=True, receive_maximum=3, reconnect=False
    ) as c:
        c.subscribe(topic, qos=1)
        publish(broker, topic, 10)
        held = collect(c, 3)
        assert c.next_message(timeout=QUIET) is None
        payloads = [m.payload for m in held]
        for m in held:
            c.ack(m)
        while len(payloads) < 10:
            m = c.next_message(timeout=5)
            assert m is not None
            payloads.append(m.payload)
            c.ack(m)
        assert payloads == [b"m%d" % i for i in range(10)]


def test_ack_no_ops_and_errors(broker):
    topic = "noop/" + uid()
    with midge.Client(broker.url, client_id="noop-" + uid(), manual_ack=True) as c:
        c.subscribe(topic, qos=1)
        publish(broker, topic, 1, qos=0)
        m = c.next_message(timeout=5)
        assert m is not None and m.qos == midge.QoS.AT_MOST_ONCE
        c.ack(m)  # QoS 0: nothing to acknowledge
        with pytest.raises(midge.InvalidArgument):
            c.ack(midge.Message(topic="x", payload=b"", qos=midge.QoS.AT_LEAST_ONCE))
        with pytest.raises(midge.InvalidType):
            c.ack("not a message")
    with pytest.raises(midge.Closed):
        c.ack(m)
    # Without manual_ack midge acknowledged already: ack is a no-op.
    with midge.Client(broker.url, client_id="auto-" + uid()) as c:
        c.subscribe(topic, qos=1)
        publish(broker, topic, 1)
        m = c.next_message(timeout=5)
        assert m is not None
        c.ack(m)


def test_aio_manual_ack(broker):
    cid, topic = "aio-manual-" + uid(), "aio-manual/" + uid()

    async def main():
        async with midge.aio.Client(
            broker.url, client_id=cid, session_expiry_interval=300, reconnect=False, manual_ack=True
        ) as c:
            await c.subscribe(topic, qos=1)
            await c.publish(topic, b"a", qos=1)
            await c.publish(topic, b"b", qos=1)
            a = await c.next_message(timeout=5)
            b = await c.next_message(timeout=5)
            assert (a.payload, b.payload) == (b"a", b"b")
            c.ack(b)
            c.ack(a)
            await c.subscribe("barrier/" + uid(), qos=0)

    asyncio.run(asyncio.wait_for(main(), 20))
    with session(broker, cid, False) as c:
        assert c.next_message(timeout=QUIET) is None
