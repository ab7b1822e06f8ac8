"""midge.aio: the asyncio API on the client's event descriptor, against a Mosquitto started
for each test. Every wait is bounded (asyncio.wait_for)."""

from __future__ import annotations

import asyncio
import select
import threading
import uuid

import pytest

import midge
import midge.aio

from conftest import free_port


def run(coro, timeout: float = 20.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def uid() -> str:
    return uuid.uuid4().hex[:12]


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip(broker, qos):
    async def main():
        topic = "aio/%s" % uid()
        async with midge.aio.Client(broker.url, client_id="aio-" + uid()) as c:
            assert c.connected and c.connack is not None
            codes = await c.subscribe(topic, qos=qos)
            assert codes == [midge.ReasonCode(qos)]
            result = await c.publish(
                topic, b"hello", qos=qos, properties={"content_type": "text/plain"}, user_properties={"k": "v"}
            )
            assert result.reason_code == midge.ReasonCode.SUCCESS
            assert (result.packet_id != 0) == (qos > 0)
            m = await c.next_message(timeout=5)
            assert m is not None and m.payload == b"hello" and m.qos == qos
            assert m.properties.content_type == "text/plain"
            assert m.properties.user_properties == (("k", "v"),)
            assert await c.unsubscribe(topic) == [midge.ReasonCode.SUCCESS]
        assert c.closed

    run(main())


def test_no_thread_per_call(broker):
    """The event loop waits on midge's event descriptor: awaiting makes no Python thread."""

    async def main():
        before = threading.active_count()
        async with midge.aio.Client(broker.url) as c:
            topic = "aio/%s" % uid()
            await c.subscribe(topic, qos=1)
            await asyncio.gather(*(c.publish(topic, b"%d" % i, qos=1) for i in range(50)))
            got = [await c.next_message(timeout=5) for _ in range(50)]
            assert sorted(int(m.payload) for m in got) == list(range(50))
            assert threading.active_count() == before

    run(main())


def test_messages_iterator_and_close_during_iteration(broker):
    async def main():
        topic = "aio/%s" % uid()
        c = midge.aio.Client(broker.url)
        await c.connect()
        await c.subscribe(topic, qos=1)
        seen = []
        first = asyncio.Event()

        async def consume():
            async for m in c.messages():  # no timeout: runs until the client is closed
                seen.append(m.payload)
                first.set()

        task = asyncio.create_task(consume())
        await c.publish(topic, b"one", qos=1)
        await asyncio.wait_for(first.wait(), 5)
        await c.close()
        await asyncio.wait_for(task, 5)  # the iteration ended by itself
        assert seen == [b"one"]
        with pytest.raises(midge.Closed):
            await c.publish(topic, b"after", qos=1)

    run(main())


def test_cancelled_publish_is_still_delivered(broker):
    """Cancelling the await does not withdraw the message: QoS 1 is delivered as promised."""

    async def main():
        topic = "aio/%s" % uid()
        async with midge.aio.Client(broker.url) as sub:
            await sub.subscribe(topic, qos=1)
            pub = midge.aio.Client(broker.url)  # not connected yet: the message waits offline
            task = asyncio.create_task(pub.publish(topic, b"kept", qos=1))
            await asyncio.sleep(0)  # let the publish be handed to midge (not a wait for I/O)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await pub.connect()
            m = await sub.next_message(timeout=5)
            assert m is not None and m.payload == b"kept"
            await pub.close()

    run(main())


def test_backpressure_loses_nothing(broker):
    """With max_buffered=5 and nobody reading, the client stops taking events; then all
    200 QoS 1 messages arrive, in order."""

    async def main():
        topic = "aio/%s" % uid()
        async with midge.aio.Client(broker.url, max_buffered=5) as sub:
            await sub.subscribe(topic, qos=1)
            async with midge.aio.Client(broker.url) as pub:
                await asyncio.gather(*(pub.publish(topic, b"%d" % i, qos=1) for i in range(200)))
            # Wait (bounded) for the reader to pause at the bound; without the pause it
            # would take all 200 (seen: 200 buffered).
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while sub._reading and loop.time() < deadline:
                await asyncio.sleep(0.01)
            assert not sub._reading
            assert len(sub._messages) == 5
            # The rest waits in midge's own queue: its descriptor is readable, nobody reads.
            readable, _, _ = select.select([sub._fd], [], [], 5)
            assert readable
            got = [await sub.next_message(timeout=5) for _ in range(200)]
            assert [int(m.payload) for m in got] == list(range(200))

    run(main())


def test_connect_failures():
    async def refused():
        c = midge.aio.Client("mqtt://127.0.0.1:%d" % free_port(), connect_timeout=5)
        with pytest.raises(midge.MidgeError) as info:
            await c.connect()
        assert isinstance(info.value, ConnectionError)
        assert c.last_disconnect is not None
        await c.close()

    run(refused())


def test_connect_refused_by_the_server(make_broker):
    b = make_broker(users={"alice": "secret"})

    async def main():
        c = midge.aio.Client(b.url, username="alice", password="wrong")
        with pytest.raises(midge.ConnectionRefused) as info:
            await c.connect()
        assert info.value.reason_code in (midge.ReasonCode.NOT_AUTHORIZED, midge.ReasonCode.BAD_USER_NAME_OR_PASSWORD)
        await c.close()

    run(main())


def test_arguments_are_checked_like_the_sync_client(broker):
    async def main():
        async with midge.aio.Client(broker.url) as c:
            with pytest.raises(midge.InvalidType):
                await c.publish("t", b"x", qos="1")
            with pytest.raises(midge.InvalidType):
                await c.subscribe(5)
            with pytest.raises(midge.InvalidTopic):
                await c.publish("a/#", b"x")
        with pytest.raises(midge.InvalidArgument):
            midge.aio.Client(broker.url, max_buffered=0)

    run(main())


def test_publish_timeout_leaves_the_request_running(broker):
    async def main():
        topic = "aio/%s" % uid()
        pub = midge.aio.Client(broker.url)  # offline: the publish cannot finish yet
        with pytest.raises(midge.Timeout):
            await pub.publish(topic, b"x", qos=1, timeout=0.05)
        await pub.close()

    run(main())
