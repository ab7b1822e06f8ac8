"""Durable sessions: ``Client(store=..., durability=...)``, restored publishes
(``Client.restored_publishes``, ``Client.next_restored``) and the store's errors, against a
real Mosquitto (one per test, on a free loopback port) and a file store in the test's own
temporary directory.

The scenario: a client accepts QoS 1/2 publishes while it cannot send them (never
connected, or its broker unreachable) and is closed, as a process would exit; a new client
made with the same store and client identifier sends them at its first connect and reports
how each ended, under the id its PublishHandle had."""

from __future__ import annotations

import asyncio
import queue
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Dict, List

import pytest

import midge
import midge.aio

from conftest import PKG_ROOT, free_port

#: A wait for something that must not come (bounded; not a synchronisation).
QUIET = 0.5


def uid() -> str:
    return uuid.uuid4().hex[:10]


def persistent(url: str, cid: str, store: Path, **kw) -> midge.Client:
    return midge.Client(url, client_id=cid, store=store, session_expiry_interval=600, reconnect=False, **kw)


def subscriber(url: str, topic: str) -> midge.Client:
    sub = midge.Client(url, client_id="sub-" + uid())
    sub.connect()
    sub.subscribe(topic + "/#", qos=2)
    return sub


def received(sub: midge.Client, n: int) -> List[midge.Message]:
    out = []
    while len(out) < n:
        m = sub.next_message(timeout=5.0)
        assert m is not None, "the subscriber got %d of %d messages" % (len(out), n)
        out.append(m)
    assert sub.next_message(timeout=QUIET) is None, "a message more than expected"
    return out


def restored(c: midge.Client, n: int) -> List[midge.RestoredPublish]:
    out = []
    while len(out) < n:
        r = c.next_restored(timeout=5.0)
        assert r is not None, "%d of %d restored publishes reported" % (len(out), n)
        out.append(r)
    return out


def publish_offline(c: midge.Client, topic: str) -> Dict[int, bytes]:
    """Three QoS 1/2 publishes and a QoS 0 one that cannot be sent now; the ids of the
    kept ones and their payloads."""
    ids = {}
    for i, qos in enumerate((1, 2, 1)):
        payload = b"p%d" % i
        ids[c.publish_async("%s/q%d" % (topic, qos), payload, qos=qos).id] = payload
    c.publish_async(topic + "/q0", b"lost", qos=0)  # QoS 0 is not kept
    return ids


@pytest.mark.parametrize("offline", ["never_connected", "broker_unreachable"])
def test_publishes_accepted_offline_are_sent_by_the_next_client_and_reported(broker, tmp_path, offline):
    cid, topic, store = "persist-" + uid(), "persist/" + uid(), tmp_path / "store"
    store.mkdir()
    sub = subscriber(broker.url, topic)
    if offline == "never_connected":
        first = persistent(broker.url, cid, store)
    else:
        first = persistent("mqtt://127.0.0.1:%d" % free_port(), cid, store, durability="fsync")
        with pytest.raises(midge.TransportError):
            first.connect(timeout=5.0)
    handles = []
    ids = {}
    for i, qos in enumerate((1, 2, 1)):
        payload = b"p%d" % i
        h = first.publish_async("%s/q%d" % (topic, qos), payload, qos=qos)
        handles.append(h)
        ids[h.id] = payload
    first.publish_async(topic + "/q0", b"lost", qos=0)  # QoS 0 is not kept
    first.close()  # as the process would exit: the publishes stay in the store
    for h in handles:
        with pytest.raises(midge.Closed):
            h.wait(0)

    second = persistent(broker.url, cid, store)
    try:
        second.connect()
        ends = restored(second, 3)
        assert sorted(r.id for r in ends) == sorted(ids)
        for r in ends:
            assert r.ok and r.error is None, r
            assert r.result is not None and r.result.reason_code == midge.ReasonCode.SUCCESS
            assert r.result.packet_id != 0
            assert r.message.payload == ids[r.id]
            assert r.message.topic == "%s/q%d" % (topic, r.message.qos)
        assert {r.message.qos for r in ends} == {midge.QoS.AT_LEAST_ONCE, midge.QoS.EXACTLY_ONCE}
        # Each is reported once.
        assert second.restored_publishes() == []
        assert second.next_restored(timeout=0) is None
    finally:
        second.close()
    got = received(sub, 3)
    assert sorted(m.payload for m in got) == sorted(ids.values())
    sub.close()


KILLED = textwrap.dedent(
    """
    import os, signal, sys
    import midge

    url, cid, store, durability, topic = sys.argv[1:]
    c = midge.Client(url, client_id=cid, store=store, durability=durability,
                     session_expiry_interval=600, reconnect=False)
    for qos in (1, 2):
        print(c.publish_async("%s/q%d" % (topic, qos), b"from the dead", qos=qos).id, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no exit handlers
    """
)


@pytest.mark.parametrize("durability", ["os", "fsync", "fsync_before_send"])
def test_publishes_survive_the_process_being_killed(broker, tmp_path, durability):
    cid, topic, store = "killed-" + uid(), "killed/" + uid(), tmp_path / "store"
    sub = subscriber(broker.url, topic)
    # Never connected (an unreachable port): the publishes exist only in the store.
    dead = "mqtt://127.0.0.1:%d" % free_port()
    out = subprocess.run(
        [sys.executable, "-c", KILLED, dead, cid, str(store), durability, topic],
        cwd=str(PKG_ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == -signal.SIGKILL, out.stdout + out.stderr
    ids = [int(line) for line in out.stdout.split()]
    assert len(ids) == 2
    c = persistent(broker.url, cid, store)
    try:
        c.connect()
        ends = restored(c, 2)
    finally:
        c.close()
    assert sorted(r.id for r in ends) == sorted(ids)
    assert all(r.ok and r.message.payload == b"from the dead" for r in ends)
    assert [m.payload for m in received(sub, 2)] == [b"from the dead"] * 2
    sub.close()


@pytest.mark.parametrize("mode", ["pull", "callback"])
def test_restored_publishes_are_kept_while_the_application_reads_messages(broker, tmp_path, mode):
    # Pull mode: next_message takes the events in order, the ends of the restored QoS 1
    # publishes before the message published after them; it must keep them for
    # restored_publishes. Callback mode: the ends never go to a callback;
    # restored_publishes takes them from midge.
    cid, topic, store = "persist-" + uid(), "persist/" + uid(), tmp_path / "store"
    first = persistent(broker.url, cid, store)
    ids = publish_offline(first, topic)
    first.close()

    second = persistent(broker.url, cid, store)
    inbox: "queue.Queue[midge.Message]" = queue.Queue()
    if mode == "callback":
        second.on_message = inbox.put
    try:
        second.connect()
        # The SUBACK comes after the PUBACKs of what the connect resent (the server
        # answers in order): the QoS 1 ends are queued before any message (the QoS 2
        # one's PUBCOMP may come later).
        second.subscribe("mine/" + cid, qos=1)
        with midge.Client(broker.url, client_id="pub-" + uid()) as pub:
            pub.publish("mine/" + cid, b"hello", qos=1)
        if mode == "pull":
            m = second.next_message(timeout=5.0)
            assert m is not None and m.payload == b"hello"
            ends = second.restored_publishes()
        else:
            assert inbox.get(timeout=5.0).payload == b"hello"
            ends = second.restored_publishes()
        assert len(ends) >= 2
        ends += restored(second, 3 - len(ends))
        assert sorted(r.id for r in ends) == sorted(ids)
        assert all(r.ok for r in ends)
    finally:
        second.close()


def test_a_store_open_in_another_client_is_refused(broker, tmp_path):
    store = tmp_path / "store"
    first = persistent(broker.url, "holder", store)
    with pytest.raises(midge.StoreError) as e:
        persistent(broker.url, "holder", store)
    assert "in use" in str(e.value)
    assert e.value.result == midge.Result.STORE
    first.close()  # releases the store
    persistent(broker.url, "holder", store).close()


def test_a_store_holding_another_client_ids_session_is_refused(broker, tmp_path):
    store, alice = tmp_path / "store", "alice-" + uid()
    first = persistent(broker.url, alice, store)
    first.connect()  # the client identifier is written to the store at the connection
    first.disconnect()
    first.publish_async("persist/x", b"kept", qos=1)
    first.close()
    with pytest.raises(midge.InvalidArgument) as e:
        persistent(broker.url, "bob-" + uid(), store)
    assert "alice" in str(e.value)
    assert type(e.value) is midge.InvalidArgument
    # The right identifier restores it.
    persistent(broker.url, alice, store).close()


def test_publishes_of_a_client_that_never_connected_are_not_taken_by_another_client_id(broker, tmp_path):
    # The store is marked as the client's when the client is created, not at its first
    # connection: another identifier would send alice's messages as its own.
    store, alice = tmp_path / "store", "alice-" + uid()
    first = persistent(broker.url, alice, store)
    first.publish_async("persist/x", b"kept", qos=1)
    first.close()
    with pytest.raises(midge.InvalidArgument) as e:
        persistent(broker.url, "bob-" + uid(), store)
    assert alice in str(e.value)
    # Its own identifier sends it.
    again = persistent(broker.url, alice, store)
    try:
        again.connect()
        r, = restored(again, 1)
        assert r.ok and r.message.payload == b"kept"
    finally:
        again.close()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(durability="x"), midge.InvalidArgument),
        (dict(durability=2), midge.InvalidType),
        (dict(durability=None, store=5), midge.InvalidType),
        (dict(store=b"/tmp/x"), midge.InvalidType),
        (dict(store=""), midge.InvalidArgument),
        (dict(store="a\0b"), midge.InvalidArgument),
        (dict(store_max_bytes=-1), midge.InvalidArgument),
        (dict(store_max_bytes=1.5), midge.InvalidType),
        (dict(store_max_records=-1), midge.InvalidArgument),
        (dict(store_max_records=True), midge.InvalidType),
    ],
)
def test_bad_persistence_arguments_raise_typed_errors(broker, tmp_path, kwargs, error):
    store = tmp_path / "store"
    args = dict(store=store)
    args.update(kwargs)
    with pytest.raises(error) as e:
        midge.Client(broker.url, client_id="bad", **args)
    assert type(e.value) is error
    # Nothing was left open: the store is free for the next client.
    midge.Client(broker.url, client_id="bad", store=store).close()


@pytest.mark.parametrize("kwargs", [dict(durability="os"), dict(store_max_bytes=1000), dict(store_max_records=5)])
def test_store_settings_without_a_store_are_refused(broker, kwargs):
    with pytest.raises(midge.InvalidArgument):
        midge.Client(broker.url, **kwargs)


def test_a_store_that_cannot_be_opened_raises_store_error(broker, tmp_path):
    with pytest.raises(midge.StoreError):
        midge.Client(broker.url, store=tmp_path / "missing" / "dir" / "file")
    not_a_store = tmp_path / "notes.txt"
    not_a_store.write_bytes(b"not a midge store\n")
    with pytest.raises(midge.StoreError):
        midge.Client(broker.url, store=not_a_store)
    assert not_a_store.read_bytes() == b"not a midge store\n"  # left untouched


def test_a_full_store_refuses_the_publish_and_keeps_what_it_accepted(broker, tmp_path):
    cid, topic, store = "full-" + uid(), "full/" + uid(), tmp_path / "store"
    sub = subscriber(broker.url, topic)
    first = persistent(broker.url, cid, store, store_max_bytes=1500)
    accepted: Dict[int, bytes] = {}
    with pytest.raises(midge.StoreFull) as e:
        for i in range(100):
            payload = b"%03d" % i + b"x" * 97
            accepted[first.publish_async(topic + "/m", payload, qos=1).id] = payload
    assert e.value.result == midge.Result.STORE_FULL
    assert 3 <= len(accepted) < 100
    # QoS 0 is not stored: the full store does not refuse it.
    first.publish_async(topic + "/m", b"qos0", qos=0)
    first.close()

    # A larger bound: sending needs room for the session's state (see the next test).
    second = persistent(broker.url, cid, store, store_max_bytes=3000)
    try:
        second.connect()
        ends = restored(second, len(accepted))
        assert sorted(r.id for r in ends) == sorted(accepted)
        assert all(r.ok for r in ends)
    finally:
        second.close()
    got = received(sub, len(accepted))
    assert sorted(m.payload for m in got) == sorted(accepted.values())
    sub.close()


def test_asyncio_client_reports_restored_publishes(broker, tmp_path):
    cid, topic, store = "persist-aio-" + uid(), "persist/" + uid(), tmp_path / "store"
    first = persistent(broker.url, cid, store)
    ids = publish_offline(first, topic)
    first.close()

    async def main() -> List[midge.RestoredPublish]:
        c = midge.aio.Client(
            broker.url, client_id=cid, store=store, session_expiry_interval=600, reconnect=False
        )
        try:
            await c.connect()
            ends = []
            while len(ends) < len(ids):
                r = await c.next_restored(timeout=5.0)
                assert r is not None, "%d of %d restored publishes reported" % (len(ends), len(ids))
                ends.append(r)
            assert c.restored_publishes() == []
            assert await c.next_restored(timeout=0.1) is None
            return ends
        finally:
            await c.close()

    ends = asyncio.run(main())
    assert sorted(r.id for r in ends) == sorted(ids)
    assert all(r.ok for r in ends)
    assert {r.id: r.message.payload for r in ends} == ids


def test_a_full_store_is_sent_with_the_same_bound(broker, tmp_path):
    cid, store = "full-" + uid(), tmp_path / "store"
    first = persistent(broker.url, cid, store, store_max_bytes=1500)
    accepted = 0
    with pytest.raises(midge.StoreFull):
        for _ in range(100):
            first.publish_async("full/m", b"x" * 100, qos=1)
            accepted += 1
    first.close()
    second = persistent(broker.url, cid, store, store_max_bytes=1500)
    try:
        second.connect()
        assert len(restored(second, accepted)) == accepted
    finally:
        second.close()
