#!/usr/bin/env python3
"""midge's Python binding against paho-mqtt 2.x, on their defaults, in one run.

Starts its own Mosquitto on a free loopback port, then for each scenario runs the two
libraries interleaved for several rounds (midge, paho, midge, ...). Each round: one
subscriber and one publisher client in this process; the publisher sends COUNT messages
of 64 bytes at the given QoS as fast as the library lets it (midge's send queue is bounded:
its publisher keeps at most WINDOW publishes unfinished, publishing without a handle
(publish_nowait) but for every MARK-th); the round ends when the
subscriber has received them all (QoS 0: or 2 s after the last arrived, counting losses). Reports the median messages per second and the
process CPU time per message (every thread, the libraries' own included), and midge's
ratios to paho.

The asyncio API is measured the same way against aiomqtt 2.x (a wrapper over paho-mqtt),
both written as an asyncio user would: one event loop, a task iterating over the
subscriber's messages, the publisher awaiting its publishes AIO_WINDOW at a time
(asyncio.gather).

  python3 bindings/python/bench/run.py [--rounds 3] [--count 20000] [--qos 0,1] [--broker-inflight N]
                                       [--api sync,aio]

paho-mqtt and aiomqtt are installed from PyPI when missing (python3 -m pip install ...).
"""
from __future__ import annotations

import argparse
import collections
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

PAYLOAD = b"x" * 64
#: midge's send queue is bounded (a publish beyond it fails with QueueFull rather than
#: growing memory): the publisher keeps at most this many publishes unfinished.
WINDOW = 1000
#: midge follows one publish in MARK with a handle (the others have none).
MARK = 250
#: The asyncio publishers await this many publishes at a time.
AIO_WINDOW = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_broker(tmp: Path, inflight: Optional[int] = None):
    port = free_port()
    conf = tmp / "mosquitto.conf"
    extra = "" if inflight is None else "max_inflight_messages %d\n" % inflight
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n%s" % (port, extra))
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return port, proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("mosquitto exited")
            time.sleep(0.02)  # waiting for a process we just started to listen
    raise RuntimeError("mosquitto did not listen")


LOST = {}


def settle(done: threading.Event, got: list, start: float) -> float:
    """Waits for the last message; QoS 0 may lose some (a library or the broker dropping
    under load): the round then ends 2 s after the last one arrived, and the loss is
    counted."""
    seen = -1
    while not done.wait(2.0):
        if got[0] == seen:
            break
        seen = got[0]
    elapsed = time.monotonic() - start
    LOST["last"] = 0 if done.is_set() else -1
    return elapsed


def run_midge(port: int, qos: int, count: int) -> float:
    import midge

    url = "mqtt://127.0.0.1:%d" % port
    done = threading.Event()
    got = [0]

    def on_message(m):
        got[0] += 1
        if got[0] == count:
            done.set()

    sub = midge.Client(url, client_id="bench-sub-%d" % os.getpid())
    sub.connect()
    sub.on_message = on_message
    sub.subscribe("bench/py", qos=qos)
    pub = midge.Client(url, client_id="bench-pub-%d" % os.getpid())
    pub.connect()
    start = time.monotonic()
    # Fire and forget (publish_nowait, as paho's publish), with every MARK-th publish
    # followed by a handle: waiting for the one WINDOW publishes back keeps the window.
    marks = collections.deque()
    last = None
    for i in range(count):
        if i % MARK == MARK - 1 or i == count - 1:
            if len(marks) >= WINDOW // MARK:
                marks.popleft().wait(60)
            last = pub.publish_async("bench/py", PAYLOAD, qos=qos)
            marks.append(last)
        else:
            pub.publish_nowait("bench/py", PAYLOAD, qos=qos)
    if last is not None:
        last.wait(60)
    failures = pub.publish_failures()
    if failures:
        raise RuntimeError("midge: %d publishes failed: %s" % (len(failures), failures[0]))
    elapsed = settle(done, got, start)
    pub.close()
    sub.close()
    LOST["last"] = count - got[0]
    return elapsed


def run_paho(port: int, qos: int, count: int) -> float:
    import paho.mqtt.client as mqtt

    done = threading.Event()
    got = [0]

    def on_message(client, userdata, m):
        got[0] += 1
        if got[0] == count:
            done.set()

    connected = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-sub-%d" % os.getpid(), protocol=mqtt.MQTTv5)
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_connect = lambda *a: connected.set()
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    connected.wait(10)
    sub.subscribe("bench/py", qos=qos)
    subscribed.wait(10)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-pub-%d" % os.getpid(), protocol=mqtt.MQTTv5)
    pconnected = threading.Event()
    pub.on_connect = lambda *a: pconnected.set()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    pconnected.wait(10)
    start = time.monotonic()
    info = None
    for _ in range(count):
        info = pub.publish("bench/py", PAYLOAD, qos=qos)
    if info is not None:
        info.wait_for_publish(60)
    elapsed = settle(done, got, start)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    LOST["last"] = count - got[0]
    return elapsed


def _aio_round(client, messages, qos: int, count: int) -> float:
    """One asyncio round, the same code for both libraries (whose clients are async
    context managers with the same subscribe and publish): the subscriber's messages
    counted by a task, the publisher awaiting AIO_WINDOW publishes at a time.
    ``client(role)`` makes a client, ``messages(client)`` iterates over its messages."""
    import asyncio

    async def main() -> float:
        async with client("sub") as sub, client("pub") as pub:
            await sub.subscribe("bench/aio", qos=qos)
            got = 0
            done = asyncio.Event()

            async def consume():
                nonlocal got
                async for _ in messages(sub):
                    got += 1
                    if got == count:
                        done.set()
                        return

            task = asyncio.create_task(consume())
            start = time.monotonic()
            for base in range(0, count, AIO_WINDOW):
                n = min(AIO_WINDOW, count - base)
                await asyncio.gather(*(pub.publish("bench/aio", PAYLOAD, qos=qos) for _ in range(n)))
            try:
                await asyncio.wait_for(done.wait(), 30)
            except asyncio.TimeoutError:
                pass
            elapsed = time.monotonic() - start
            task.cancel()
            LOST["last"] = count - got
            return elapsed

    return asyncio.run(main())


def run_midge_aio(port: int, qos: int, count: int) -> float:
    import midge.aio

    def client(role: str):
        return midge.aio.Client("mqtt://127.0.0.1:%d" % port, client_id="aio-%s-%d" % (role, os.getpid()))

    return _aio_round(client, lambda sub: sub.messages(), qos, count)


def run_aiomqtt(port: int, qos: int, count: int) -> float:
    import logging

    import aiomqtt

    # aiomqtt warns for every publish awaited while others are ("There are N pending
    # publish calls"): a window of them is the point here.
    logging.getLogger("mqtt").setLevel(logging.ERROR)

    def client(role: str):
        return aiomqtt.Client("127.0.0.1", port, identifier="aiomqtt-%s-%d" % (role, os.getpid()),
                              protocol=aiomqtt.ProtocolVersion.V5)

    return _aio_round(client, lambda sub: sub.messages, qos, count)


def measure(fn, port, qos, count):
    cpu0 = time.process_time()
    elapsed = fn(port, qos, count)
    cpu = time.process_time() - cpu0
    received = count - LOST["last"]
    return received / elapsed, cpu / received * 1e6, LOST["last"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--qos", default="0,1")
    ap.add_argument("--broker-inflight", type=int, default=None,
                    help="the broker's max_inflight_messages (default: Mosquitto's, 20)")
    ap.add_argument("--api", default="sync,aio", help="sync (against paho-mqtt), aio (against aiomqtt)")
    args = ap.parse_args()
    for module, requirement in (("paho.mqtt", "paho-mqtt>=2,<3"), ("aiomqtt", "aiomqtt>=2,<3")):
        try:
            __import__(module)
        except ImportError:
            subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)
    import aiomqtt
    import midge

    print("midge %s (libmidge %s), paho-mqtt %s, aiomqtt %s" % (
        midge.__version__, midge.version(), __import__("paho.mqtt").mqtt.__version__, aiomqtt.__version__))
    pairs = {"sync": (("paho", run_paho), ("midge", run_midge)),
             "aio": (("aiomqtt", run_aiomqtt), ("midge.aio", run_midge_aio))}
    with tempfile.TemporaryDirectory() as tmp:
        port, broker = start_broker(Path(tmp), args.broker_inflight)
        try:
            for api in args.api.split(","):
                for qos in [int(q) for q in args.qos.split(",")]:
                    res = {name: [] for name, _ in pairs[api]}
                    for _ in range(args.rounds):
                        for name, fn in pairs[api]:
                            res[name].append(measure(fn, port, qos, args.count))
                    print("\n%s, QoS %d, %d x 64 B, %d rounds (median [min-max])" % (api, qos, args.count, args.rounds))
                    med = {}
                    for name, rows in res.items():
                        rate = [r for r, _, _ in rows]
                        cpu = [c for _, c, _ in rows]
                        lost = sum(x for _, _, x in rows)
                        med[name] = (statistics.median(rate), statistics.median(cpu))
                        print("  %-9s %9.0f msg/s [%.0f-%.0f]   %6.1f us CPU/msg [%.1f-%.1f]   lost %d"
                              % (name, med[name][0], min(rate), max(rate), med[name][1], min(cpu), max(cpu), lost))
                    (peer, _), (ours, _) = pairs[api]
                    print("  %s/%s: throughput %.2fx, CPU per message %.2fx"
                          % (ours, peer, med[ours][0] / med[peer][0], med[ours][1] / med[peer][1]))
        finally:
            broker.terminate()
            broker.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
