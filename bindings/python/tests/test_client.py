"""midge against a real Mosquitto (one per test, on a free loopback port)."""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
import weakref

import pytest

import midge
from midge import Properties, QoS, ReasonCode, RetainHandling, SubscriptionOptions

from conftest import PKG_ROOT, free_port



def wait_until(cond, timeout=5.0):
    """Polls cond (an event we cannot block on) until true or the bounded timeout."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True

def uid() -> str:
    return uuid.uuid4().hex[:10]


def collect(client: midge.Client, n: int, timeout: float = 5.0):
    """Up to n messages, waiting at most `timeout` in all."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        m = client.next_message(timeout=deadline - time.monotonic())
        if m is not None:
            out.append(m)
    return out


# ---------------------------------------------------------------------------- connect


def test_connect_and_connack(broker):
    with midge.Client(broker.url, client_id="c-" + uid(), keep_alive=30) as c:
        ack = c.connack
        assert ack is not None and not ack.session_present
        assert ack.keep_alive == 30 and ack.maximum_qos == 2 and ack.retain_available
        # What the broker did not send is None, not a -1 / 0 placeholder (Mosquitto sends
        # no Server Keep Alive, Maximum Packet Size or Session Expiry Interval here).
        assert ack.server_keep_alive is None
        assert ack.maximum_packet_size is None
        assert ack.session_expiry_interval is None
        assert c.publish("x/y", "hi").reason_code == ReasonCode.SUCCESS
    assert c.closed
    with pytest.raises(midge.Closed):
        c.publish("x/y", b"late")
    c.close()  # idempotent


def test_server_assigns_client_id(broker):
    with midge.Client(broker.url) as c:
        assert c.connack.assigned_client_id


def test_auth_refused_and_accepted(make_broker):
    b = make_broker(users={"alice": "s3cret"})
    with pytest.raises(midge.ConnectionRefused) as e:
        with midge.Client(b.url, username="alice", password=b"wrong"):
            pass
    assert e.value.result == midge.Result.CONNECTION_REFUSED
    assert e.value.reason_code in (ReasonCode.BAD_USER_NAME_OR_PASSWORD, ReasonCode.NOT_AUTHORIZED)
    assert isinstance(e.value, midge.MidgeError)

    with pytest.raises(midge.ConnectionRefused):  # anonymous is not allowed
        midge.Client(b.url, reconnect=False).__enter__()

    with midge.Client(b.url, username="alice", password="s3cret") as c:
        assert c.publish("a/b", b"1", qos=1).reason_code in (
            ReasonCode.SUCCESS, ReasonCode.NO_MATCHING_SUBSCRIBERS)


def test_connect_failures():
    port = free_port()  # nothing listens there
    c = midge.Client("mqtt://127.0.0.1:%d" % port, reconnect=False, connect_timeout=2.0)
    t0 = time.monotonic()
    with pytest.raises(midge.MidgeError) as e:
        c.connect()
    assert time.monotonic() - t0 < 2.5
    # midge reports a refused TCP connect as DISCONNECTED (the header suggests IO)
    assert e.value.result in (midge.Result.IO, midge.Result.DISCONNECTED)
    assert isinstance(e.value, ConnectionError) and "111" in str(e.value)
    c.close()
    with pytest.raises(midge.InvalidAddress):
        midge.Client("bogus://x:y:z")
    with pytest.raises(midge.InvalidArgument):
        midge.Client(receive_maximum=0)


# ---------------------------------------------------------------------------- will


CHILD = r"""
import os, sys
sys.path.insert(0, sys.argv[1])
import midge
c = midge.Client(sys.argv[2], client_id="dying",
                 will=midge.Will(sys.argv[3], b"gone", qos=1,
                                 properties=midge.Properties(content_type="text/plain",
                                                             user_properties=[("why", "crash")])))
c.connect()
print("connected", flush=True)
os._exit(3)
"""


def test_will_delivered_on_abnormal_exit(broker):
    topic = "wills/" + uid()
    with midge.Client(broker.url) as watcher:
        watcher.subscribe(topic, qos=1)
        r = subprocess.run(
            [sys.executable, "-c", CHILD, str(PKG_ROOT), broker.url, topic],
            capture_output=True, text=True, timeout=20, env=dict(os.environ),
        )
        assert r.returncode == 3, r.stderr
        assert "connected" in r.stdout
        m = watcher.next_message(timeout=5)
        assert m is not None, "no will"
        assert (m.topic, m.payload, m.qos) == (topic, b"gone", QoS.AT_LEAST_ONCE)
        assert m.properties.content_type == "text/plain"
        assert m.properties.user_properties == (("why", "crash"),)


def test_no_will_on_normal_disconnect(broker):
    topic = "wills/" + uid()
    with midge.Client(broker.url) as watcher:
        watcher.subscribe(topic, qos=1)
        with midge.Client(broker.url, will=midge.Will(topic, b"gone")):
            pass
        assert watcher.next_message(timeout=0.3) is None
        # ...but DISCONNECT_WITH_WILL_MESSAGE asks for it
        c = midge.Client(broker.url, will=midge.Will(topic, b"asked"))
        c.connect()
        c.disconnect(ReasonCode.DISCONNECT_WITH_WILL_MESSAGE)
        c.close()
        m = watcher.next_message(timeout=5)
        assert m is not None and m.payload == b"asked"


# ---------------------------------------------------------------------------- publish


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_round_trip_with_properties(broker, qos):
    topic = "rt/%s/%d" % (uid(), qos)
    props = Properties(
        payload_format_indicator=1,
        message_expiry_interval=60,
        content_type="application/json",
        response_topic="rt/replies",
        correlation_data=b"\x00\x01corr",
        user_properties=[("a", "1"), ("b", "2"), ("a", "3")],
    )
    with midge.Client(broker.url) as sub, midge.Client(broker.url) as pub:
        assert sub.subscribe(topic, qos=2) == [ReasonCode.GRANTED_QOS_2]
        payload = bytes(range(256)) * 4
        r = pub.publish(topic, payload, qos=qos, properties=props)
        assert r.reason_code in (ReasonCode.SUCCESS, ReasonCode.NO_MATCHING_SUBSCRIBERS)
        assert (r.packet_id == 0) == (qos == 0)
        m = sub.next_message(timeout=5)
        assert m is not None
        assert m.topic == topic and m.payload == payload and m.qos == qos
        assert not m.retain and not m.dup
        p = m.properties
        assert p.content_type == "application/json"
        assert 0 < p.message_expiry_interval <= 60
        assert p.response_topic == "rt/replies" and p.correlation_data == b"\x00\x01corr"
        assert p.user_properties == (("a", "1"), ("b", "2"), ("a", "3"))
        assert p.subscription_identifiers == ()
        with pytest.raises(Exception):
            m.payload = b"x"  # frozen
        copy = dataclasses.replace(m)  # an equal Message that is another object
        assert copy is not m and copy == m and hash(copy) == hash(m)
        assert dataclasses.replace(m, payload=b"other") != m


def test_payload_format_indicator_received(broker):
    with midge.Client(broker.url) as c:
        c.subscribe("pf/#", qos=1)
        c.publish("pf/x", b"text", qos=1, properties=Properties(payload_format_indicator=1))
        m = c.next_message(timeout=5)
        assert m is not None and m.properties.payload_format_indicator == 1


def test_publish_async_and_errors(broker):
    topic = "async/" + uid()
    with midge.Client(broker.url) as c:
        c.subscribe(topic, qos=1)
        handles = [c.publish_async(topic, b"%d" % i, qos=1) for i in range(20)]
        results = [h.wait(5) for h in handles]
        assert all(h.done() for h in handles)
        assert len({r.packet_id for r in results}) == 20
        # Mosquitto's PUBACK carries no Reason String or User Properties: read, and absent.
        assert all(r.reason_string is None and r.user_properties == () for r in results)
        assert handles[0].wait(0) is results[0]  # the outcome is kept
        assert [m.payload for m in collect(c, 20)] == [b"%d" % i for i in range(20)]

        with pytest.raises(midge.InvalidTopic):
            c.publish("bad/#", b"x")
        with pytest.raises(midge.InvalidArgument):
            c.publish(topic, b"x", qos=3)
        with pytest.raises(midge.InvalidProperty):
            c.publish(topic, b"x", properties=Properties(subscription_identifiers=(5,)))
        with pytest.raises(TypeError):
            c.publish(topic, 12)
        with pytest.raises(midge.InvalidTopic):
            c.subscribe("bad/#/x")
        for empty in (c.subscribe, c.unsubscribe):
            with pytest.raises(midge.InvalidTopic) as e:
                empty([])
            assert isinstance(e.value, midge.InvalidArgument)
            assert e.value.result == midge.Result.INVALID_TOPIC
        with pytest.raises(midge.InvalidArgument):
            c.publish("nul\0topic", b"x")


def test_retained(broker):
    topic = "ret/" + uid()
    with midge.Client(broker.url) as pub:
        pub.publish(topic, b"kept", qos=1, retain=True)
    with midge.Client(broker.url) as sub:
        sub.subscribe(topic, qos=1)
        m = sub.next_message(timeout=5)
        assert m is not None and m.retain and m.payload == b"kept"
        # clearing the retained message
        sub.publish(topic, b"", qos=1, retain=True)
        collect(sub, 1, 1.0)
    with midge.Client(broker.url) as sub2:
        sub2.subscribe(topic)
        assert sub2.next_message(timeout=0.3) is None


def test_subscription_options(broker):
    base = "opts/" + uid()
    with midge.Client(broker.url) as c, midge.Client(broker.url) as other:
        c.publish(base + "/ret", b"r", qos=1, retain=True)
        codes = c.subscribe(
            [
                (base + "/local", SubscriptionOptions(qos=1, no_local=True)),
                (base + "/ret", SubscriptionOptions(qos=1, retain_handling=RetainHandling.DO_NOT_SEND)),
            ]
        )
        assert codes == [ReasonCode.GRANTED_QOS_1, ReasonCode.GRANTED_QOS_1]
        c.publish(base + "/local", b"mine", qos=1)  # no_local: not back to us
        other.publish(base + "/local", b"theirs", qos=1)
        m = c.next_message(timeout=5)
        assert m is not None and m.payload == b"theirs"
        assert c.next_message(timeout=0.2) is None  # no retained message sent

        # retain-as-published, and subscription identifiers
        c.subscribe(base + "/rap", qos=1, retain_as_published=True, subscription_identifier=42)
        other.publish(base + "/rap", b"x", qos=1, retain=True)
        m = c.next_message(timeout=5)
        assert m is not None and m.retain and m.properties.subscription_identifiers == (42,)

        c.subscribe(base + "/+", qos=0, subscription_identifier=7,
                    retain_handling=RetainHandling.DO_NOT_SEND)
        other.publish(base + "/rap", b"y", qos=1)
        got = list(c.messages(timeout=0.5))  # one copy per subscription, or one with both ids
        assert {m.payload for m in got} == {b"y"}
        assert sorted(i for m in got for i in m.properties.subscription_identifiers) == [7, 42]

        assert c.unsubscribe([base + "/rap", base + "/nothing"]) == [
            ReasonCode.SUCCESS, ReasonCode.NO_SUBSCRIPTION_EXISTED]


# ---------------------------------------------------------------------------- request/response


def test_request_response(broker):
    svc = "svc/" + uid()
    replies = "replies/" + uid()
    with midge.Client(broker.url) as server, midge.Client(broker.url) as client:
        def answer(m: midge.Message) -> None:
            server.publish(
                m.properties.response_topic, m.payload.upper(), qos=1,
                properties=Properties(correlation_data=m.properties.correlation_data),
            )
        server.on_message = answer
        server.subscribe(svc, qos=1)
        client.subscribe(replies, qos=1)
        for word in (b"ping", b"pong", b"again"):
            reply = client.request(svc, word, replies, timeout=5)
            assert reply.payload == word.upper() and reply.topic == replies
        # replies are not delivered as messages
        assert client.next_message(timeout=0.2) is None
        with pytest.raises(midge.Timeout):
            client.request("nobody/" + uid(), b"?", replies, timeout=0.3)


# ---------------------------------------------------------------------------- callbacks


def test_callbacks_and_messages_kept_after_callback(broker):
    topic = "cb/" + uid()
    got, connacks, losses = [], [], []
    done = threading.Event()
    c = midge.Client(broker.url)
    c.on_connect = connacks.append
    c.on_disconnect = losses.append

    def on_message(m):
        got.append(m)
        if len(got) == 10:
            done.set()

    c.on_message = on_message
    c.connect()
    c.subscribe(topic, qos=1)
    for i in range(10):
        c.publish(topic, b"m%d" % i, qos=1)
    assert done.wait(5)
    assert [m.payload for m in got] == [b"m%d" % i for i in range(10)]
    assert len(connacks) == 1 and connacks[0].maximum_qos == 2
    # with on_message removed but on_connect kept, messages() gets them
    c.on_message = None
    c.publish(topic, b"pulled", qos=1)
    assert c.next_message(timeout=5).payload == b"pulled"
    # all callbacks removed: back to the pull interface
    c.on_connect = c.on_disconnect = None
    c.publish(topic, b"pulled2", qos=1)
    assert c.next_message(timeout=5).payload == b"pulled2"
    c.close()
    gc.collect()
    assert got[3].payload == b"m3" and got[3].topic == topic  # values outlive everything
    assert not [k for k, s in midge.client._registry.items() if s is c._state]
    assert wait_until(lambda: not _callback_threads()), "the callback thread ended"


class Boom(Exception):
    pass


def test_callback_exception_is_logged_and_reraised(broker, caplog):
    topic = "boom/" + uid()
    c = midge.Client(broker.url)
    c.connect()
    c.subscribe(topic, qos=1)
    calls = []

    def bad(m):
        calls.append(m)
        raise Boom("in callback: %r" % m.payload)

    def wait_pending(n_calls):
        # The callback ran n_calls times and its exception is recorded for the next call.
        st = c._state
        assert wait_until(lambda: len(calls) == n_calls and len(st.errors) == 1)

    with caplog.at_level(logging.ERROR, logger="midge"):
        c.on_message = bad
        c.publish(topic, b"1", qos=1)
        wait_pending(1)
        with pytest.raises(Boom, match="b'1'"):
            c.publish(topic, b"2", qos=0)  # the next call raises it (and does nothing else)
    assert any("on_message" in r.getMessage() for r in caplog.records)
    # the client still works; the next exception surfaces through messages()
    c.publish(topic, b"3", qos=1)
    wait_pending(2)
    with pytest.raises(Boom, match="b'3'"):
        for _ in c.messages(timeout=1.0):
            pass
    c.on_message = None
    c.publish(topic, b"4", qos=1)
    assert c.next_message(timeout=5).payload == b"4"
    c.close()
    # raised at close if pending
    c2 = midge.Client(broker.url)
    ev = threading.Event()

    def bad_connect(_):
        ev.set()
        raise Boom("connect")

    c2.on_connect = bad_connect
    c2.connect()
    assert ev.wait(5)
    assert wait_until(lambda: len(c2._state.errors) == 1)
    with pytest.raises(Boom, match="connect"):
        c2.close()
    assert c2.closed


def test_close_from_callback(broker):
    topic = "cl/" + uid()
    c = midge.Client(broker.url)
    c.connect()
    c.subscribe(topic, qos=1)
    closed = threading.Event()

    def on_message(m):
        c.close()
        closed.set()

    c.on_message = on_message
    c.publish_async(topic, b"x", qos=1)
    assert closed.wait(5)
    assert c.closed


def _callback_threads():
    return [t for t in threading.enumerate() if t.name == "midge-callbacks" and t.is_alive()]


def test_callbacks_run_on_one_thread_that_ends_with_them(broker):
    """The callbacks of a client run on one thread of the binding's, which takes midge's
    events in batches: a burst larger than a batch arrives whole and in order (one
    publisher, one topic [MQTT-4.6.0-5]); unsetting every callback ends that thread, and
    messages go to next_message again."""
    topic = "batch/" + uid()
    c = midge.Client(broker.url)
    got, names = [], set()
    done = threading.Event()
    n = 2000

    def on_message(m):
        names.add(threading.current_thread().name)
        got.append(int(m.payload))
        if len(got) == n:
            done.set()

    c.on_message = on_message
    c.connect()
    c.subscribe(topic, qos=1)
    p = midge.Client(broker.url)
    p.connect()
    for i in range(n):
        p.publish_nowait(topic, b"%d" % i, qos=1)
    assert done.wait(10), "%d of %d arrived" % (len(got), n)
    assert got == list(range(n))
    assert names == {"midge-callbacks"}
    c.on_message = None
    assert wait_until(lambda: not _callback_threads()), _callback_threads()
    p.publish(topic, b"-1", qos=1)
    assert c.next_message(timeout=5).payload == b"-1"
    p.close()
    c.close()


def test_publish_holds_the_gil_only_where_nothing_calls_back_under_midges_locks(broker, tmp_path):
    """midge_client_publish keeps the GIL (no hand-over to the callback thread per
    publish) except for a client whose redirect filter midge's I/O thread may call while
    holding its locks (follow_redirects) or whose store write may wait for the disk."""
    from midge._lib import lib

    plain = midge.Client(broker.url)
    redirecting = midge.Client(broker.url, follow_redirects=True)
    stored = midge.Client(broker.url, client_id="gil-" + uid(), store=tmp_path / "s")
    try:
        assert plain._state.publish is lib.midge_client_publish_held
        assert redirecting._state.publish is lib.midge_client_publish
        assert stored._state.publish is lib.midge_client_publish
    finally:
        for c in (plain, redirecting, stored):
            c.close()


# ---------------------------------------------------------------------------- iteration


def test_messages_timeout(broker):
    topic = "it/" + uid()
    with midge.Client(broker.url) as c:
        c.subscribe(topic)
        t0 = time.monotonic()
        assert list(c.messages(timeout=0.3)) == []
        assert 0.25 <= time.monotonic() - t0 < 1.0

        def later():
            time.sleep(0.2)
            with midge.Client(broker.url) as p:
                for i in range(5):
                    p.publish(topic, b"%d" % i, qos=1)
                    time.sleep(0.05)

        t = threading.Thread(target=later)
        t.start()
        t0 = time.monotonic()
        got = [m.payload for m in c.messages(timeout=0.5)]
        t.join()
        assert got == [b"0", b"1", b"2", b"3", b"4"]
        # ended 0.5 s after the last message, not 0.5 s after the start
        assert time.monotonic() - t0 >= 0.6
        c.close()
    with pytest.raises(midge.Closed):
        list(c.messages(timeout=0.1))


# ---------------------------------------------------------------------------- scale


def test_many_clients(broker):
    topic = "many/" + uid()
    clients = [midge.Client(broker.url, client_id="m%d-%s" % (i, uid())) for i in range(50)]
    try:
        for c in clients:
            c.connect()
            c.subscribe(topic, qos=1)
        with midge.Client(broker.url) as p:
            p.publish(topic, b"all", qos=1)
        for c in clients:
            m = c.next_message(timeout=5)
            assert m is not None and m.payload == b"all"
    finally:
        for c in clients:
            c.close()


def test_threads_publishing_concurrently(broker):
    topic = "conc/" + uid()
    threads_n, per = 4, 200
    with midge.Client(broker.url, receive_maximum=1000) as sub, midge.Client(broker.url) as pub:
        sub.subscribe(topic + "/#", qos=1)
        errors = []

        def worker(t):
            try:
                for i in range(per):
                    pub.publish("%s/%d" % (topic, t), b"%d:%d" % (t, i), qos=1, timeout=10)
            except BaseException as e:  # pragma: no cover
                errors.append(e)

        ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
        for t in ts:
            t.start()
        got = collect(sub, threads_n * per, timeout=20)
        for t in ts:
            t.join()
        assert not errors
        payloads = [m.payload for m in got]
        assert len(payloads) == threads_n * per
        assert len(set(payloads)) == threads_n * per  # exactly once
        assert sub.next_message(timeout=0.2) is None  # and nothing more
        for t in range(threads_n):  # per-publisher order kept
            mine = [p for p in payloads if p.startswith(b"%d:" % t)]
            assert mine == [b"%d:%d" % (t, i) for i in range(per)]


def test_a_lone_publisher_batches_its_writes_by_default(broker):
    # No linger= given: adaptive batching is the default. Alone (no traffic comes back at
    # QoS 0), only the publisher's own pace shows the traffic is dense; with linger=0 the
    # same burst took 1,001 writes.
    count = 1000
    with midge.Client(broker.url) as pub:
        before = pub.io_stats()
        for i in range(count):
            pub.publish("linger/" + uid(), b"%d" % i, qos=0)
        pub.publish("linger/end", b"end", qos=1)  # acknowledged: everything before was written
        writes = pub.io_stats().writes - before.writes
        assert writes <= count // 4, writes


def test_batching_by_default_loses_nothing(broker):
    # No linger= given: adaptive batching is the default.
    topic = "linger/" + uid()
    count = 1000
    with midge.Client(broker.url, receive_maximum=1000) as sub, midge.Client(broker.url) as pub:
        sub.subscribe(topic, qos=1)
        before = pub.io_stats()
        handles = [pub.publish_async(topic, b"%d" % i, qos=1) for i in range(count)]
        handles[-1].wait(10)
        writes = pub.io_stats().writes - before.writes
        got = collect(sub, count, timeout=20)
        assert [m.payload for m in got] == [b"%d" % i for i in range(count)]
        assert sub.next_message(timeout=0.2) is None
        # Batched: far fewer writes than publishes.
        assert writes <= count // 4, writes
        stats = pub.io_stats()
        # Each PUBLISH is at least 5 bytes (header, packet identifier, payload; the topic may
        # be an alias).
        assert stats.bytes_sent >= count * 5 and stats.reads > 0 and stats.bytes_received > 0


def test_linger_and_io_stats_arguments():
    with pytest.raises(ValueError):
        midge.Client("mqtt://127.0.0.1:1", linger=0.02)
    with pytest.raises(ValueError):
        midge.Client("mqtt://127.0.0.1:1", linger=-0.001)
    c = midge.Client("mqtt://127.0.0.1:1", reconnect=False, linger=0.01)  # never connected
    assert c.io_stats() == midge.IoStats(0, 0, 0, 0)
    c.close()


# ---------------------------------------------------------------------------- lifetime


def test_garbage_collection_frees_the_handle(broker, monkeypatch):
    freed = []
    real = midge.client._free_state

    def spy(state):
        freed.append(state.handle)
        real(state)

    monkeypatch.setattr(midge.client, "_free_state", spy)
    c = midge.Client(broker.url)
    c.connect()
    c.on_message = lambda m: None  # callbacks registered: still collectable
    st = c._state
    ref = weakref.ref(c)
    del c
    gc.collect()
    assert ref() is None
    assert len(freed) == 1 and st.handle is None
    assert wait_until(
        lambda: not [k for k, s in midge.client._registry.items() if s is st]
    ), "drop_user_data ran"
    # The callback thread holds only the state: it ends with the freed handle.
    assert wait_until(lambda: not _callback_threads()), _callback_threads()


def test_threads_waiting_on_one_publish_handle(broker):
    """Several threads wait on one QoS 1 handle while it is in flight: exactly one reads
    and frees the completion; all get the same PublishResult, none an exception."""
    n = 8
    for _ in range(5):
        c = midge.Client(broker.url)
        try:
            # Published while never connected, so it stays in flight until connect().
            h = c.publish_async("multi/" + uid(), b"x", qos=1)
            results, errors = [None] * n, []
            started = threading.Barrier(n + 1)

            def waiter(i):
                try:
                    started.wait(5)
                    results[i] = h.wait(10)
                except BaseException as e:
                    errors.append(e)

            threads = [threading.Thread(target=waiter, args=(i,), daemon=True) for i in range(n)]
            for t in threads:
                t.start()
            started.wait(5)
            assert not h.done()
            c.connect()
            for t in threads:
                t.join(timeout=15)
            assert not any(t.is_alive() for t in threads)
            assert errors == []
            first = results[0]
            assert isinstance(first, midge.PublishResult)
            assert first.packet_id != 0
            assert first.reason_code in (ReasonCode.SUCCESS, ReasonCode.NO_MATCHING_SUBSCRIBERS)
            assert all(r == first for r in results)
            assert h.done() and h.wait(0) == first
        finally:
            c.close()


def test_offline_queue_and_publish_timeout(broker):
    c = midge.Client(broker.url)  # never connected: the message waits offline
    h = c.publish_async("q/" + uid(), b"x", qos=1)
    assert not h.done()
    with pytest.raises(midge.Timeout):
        h.wait(0.2)
    with pytest.raises(TimeoutError):  # midge.Timeout is a TimeoutError too
        h.wait(0.1)
    with pytest.raises(ConnectionError):  # a blocking publish before connect(): NotConnected
        c.publish("q/x", b"y", qos=1, timeout=0.1)
    c.close()
    with pytest.raises(midge.Closed):  # closing failed it
        h.wait(2)


def test_close_from_another_thread_ends_iteration(broker):
    for with_callbacks in (False, True):
        c = midge.Client(broker.url)
        c.connect()
        if with_callbacks:
            c.on_connect = lambda ack: None
        st = c._state
        out = {}

        def iterate():
            try:
                out["messages"] = list(c.messages())  # no timeout: runs until closed
            except BaseException as e:  # reported by the test thread
                out["error"] = e

        worker = threading.Thread(target=iterate, daemon=True)
        worker.start()
        # Close only once the worker is provably blocked inside next_message: in pull mode
        # it holds pull_lock around midge_client_next_event; in callback mode it waits on
        # the state's condition (only next_message waits on it).
        if with_callbacks:
            waiting = lambda: len(st.cond._waiters) > 0
        else:
            waiting = st.pull_lock.locked
        assert wait_until(waiting), "the iteration never blocked"
        t0 = time.monotonic()
        c.close()
        worker.join(timeout=5)
        assert not worker.is_alive(), "close did not end the iteration"
        assert time.monotonic() - t0 < 2.0
        assert "error" not in out, out.get("error")
        assert out["messages"] == []
        with pytest.raises(midge.Closed):  # iterating a closed client raises
            list(c.messages())


def test_pull_mode_gets_messages_not_completion_events(broker):
    """A client that publishes many messages and reads only messages() gets exactly its
    messages: completion events are not queued in pull mode."""
    topic = "drain/" + uid()
    with midge.Client(broker.url) as c:
        c.subscribe(topic, qos=1)
        n = 2500
        for i in range(n):
            c.publish_async(topic, b"%d" % i, qos=0)
        c.publish(topic, b"last", qos=1)
        got = [m.payload for m in c.messages(timeout=0.5)]
        assert got == [b"%d" % i for i in range(n)] + [b"last"]


EXIT_SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
import midge
c = midge.Client(sys.argv[2])
c.connect()
c.on_message = lambda m: None
c.on_disconnect = lambda d: None
c.subscribe("exit/#")
c.publish("exit/x", b"x", qos=1)
print("ok", flush=True)
# no close(): the interpreter exits with the client open and callbacks registered
"""


def test_interpreter_exit_with_open_client(broker):
    r = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(PKG_ROOT), broker.url],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_library_override(tmp_path):
    script = "import sys; sys.path.insert(0, sys.argv[1]); import midge"
    env = dict(os.environ, MIDGE_LIBRARY=str(tmp_path / "nope.so"))
    r = subprocess.run([sys.executable, "-c", script, str(PKG_ROOT)], env=env,
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "MIDGE_LIBRARY" in r.stderr


def test_reason_code_and_errors():
    assert ReasonCode(0x87) is ReasonCode.NOT_AUTHORIZED and ReasonCode.NOT_AUTHORIZED.is_failure
    assert ReasonCode.GRANTED_QOS_0 is ReasonCode.SUCCESS
    e = midge.errors.error_for(14, "puback 0x87", 0x87)
    assert isinstance(e, midge.Refused) and e.reason_code is ReasonCode.NOT_AUTHORIZED
    assert "NOT_AUTHORIZED" in str(e)
    assert isinstance(midge.errors.error_for(9), TimeoutError)
    assert isinstance(midge.errors.error_for(3), ValueError)
    assert type(midge.errors.error_for(99)) is midge.MidgeError


def test_publish_refused_by_acl(make_broker, tmp_path):
    acl = tmp_path / "acl"
    acl.write_text("user alice\ntopic read #\ntopic readwrite open/#\n")
    b = make_broker(users={"alice": "pw"}, extra="acl_file %s" % acl)
    with midge.Client(b.url, username="alice", password="pw") as c:
        with pytest.raises(midge.Refused) as e:
            c.publish("closed/x", b"no", qos=1)
        assert e.value.reason_code == ReasonCode.NOT_AUTHORIZED
        h = c.publish_async("closed/y", b"no", qos=2)
        with pytest.raises(midge.Refused):
            h.wait(5)
        assert c.publish("open/x", b"yes", qos=1).reason_code in (
            ReasonCode.SUCCESS, ReasonCode.NO_MATCHING_SUBSCRIBERS)
        codes = c.subscribe(["open/#", "closed/#"], qos=1)
        assert codes[0] == ReasonCode.GRANTED_QOS_1


def test_stats_count_the_traffic(broker):
    """Client.stats: messages, in flight, queue, connections and the round-trip time."""
    c = midge.Client(broker.url, client_id="stats-" + uid())
    s = c.stats()
    assert (s.messages_sent, s.connects, s.rtt, s.connected_for) == (0, 0, None, 0.0)
    c.publish_async("st/" + uid(), b"queued", qos=1)  # offline: waits in the queue
    assert wait_until(lambda: c.stats().queued == 1)
    c.connect()
    topic = "st/" + uid()
    c.subscribe(topic, qos=1)
    c.publish(topic, b"x", qos=1)
    assert c.next_message(timeout=5) is not None
    assert wait_until(lambda: (c.stats().messages_sent, c.stats().queued, c.stats().inflight_out) == (2, 0, 0))
    s = c.stats()
    assert s.messages_received == 1 and s.inflight_out == 0
    assert s.connects == 1 and s.disconnects == 0 and s.connected_for >= 0.0
    assert s.rtt is not None and s.rtt > 0 and s.last_rtt is not None
    assert 0 < s.bytes_sent <= c.io_stats().bytes_sent
    c.disconnect()
    assert wait_until(lambda: c.stats().disconnects == 1)
    assert c.stats().connected_for == 0.0
    c.close()


def _drain(c) -> int:
    """Takes every waiting event without blocking; returns how many were messages."""
    n = 0
    while select.select([c], [], [], 0)[0]:
        if c.next_message(timeout=0) is not None:
            n += 1
    return n


def test_event_fd_in_a_select_loop(broker):
    """event_fd()/fileno(): readable exactly while events wait; a select() loop with no
    callbacks and no thread receives every message."""
    topic = "fd/" + uid()
    with midge.Client(broker.url) as c, midge.Client(broker.url) as p:
        fd = c.event_fd()
        assert fd >= 0 and c.fileno() == fd and c.event_fd() == fd
        c.subscribe(topic, qos=1)
        _drain(c)
        assert select.select([fd], [], [], 0)[0] == []  # nothing waits
        n = 30
        for i in range(n):
            p.publish(topic, b"%d" % i, qos=1)
        got = 0
        deadline = time.monotonic() + 10
        while got < n and time.monotonic() < deadline:
            if select.select([c], [], [], 1.0)[0]:
                got += _drain(c)
        assert got == n
        assert select.select([fd], [], [], 0)[0] == []


def test_event_fd_with_asyncio(broker):
    """asyncio waits on the event fd with add_reader: no thread, no polling."""
    import asyncio

    topic = "fd/aio/" + uid()

    async def main(c, p) -> list:
        loop = asyncio.get_running_loop()
        got: list = []
        done = loop.create_future()

        def ready() -> None:
            while True:
                m = c.next_message(timeout=0)
                if m is None:
                    if not select.select([c], [], [], 0)[0]:
                        break
                    continue
                got.append(m.payload)
                if len(got) == 5 and not done.done():
                    done.set_result(None)

        loop.add_reader(c.event_fd(), ready)
        try:
            for i in range(5):
                p.publish(topic, b"a%d" % i, qos=1)
            await asyncio.wait_for(done, 10)
        finally:
            loop.remove_reader(c.event_fd())
        return got

    with midge.Client(broker.url) as c, midge.Client(broker.url) as p:
        c.subscribe(topic, qos=1)
        got = asyncio.run(main(c, p))
        assert got == [b"a%d" % i for i in range(5)]


def test_event_queue_bounds_arguments(broker):
    with midge.Client(broker.url, event_queue_limit=10, event_queue_bytes=1 << 20) as c:
        assert c.event_fd() >= 0
    with pytest.raises(midge.MidgeError):
        midge.Client(broker.url, event_queue_bytes=0)
    with pytest.raises(ValueError):
        midge.Client(broker.url, event_queue_limit=-1)
