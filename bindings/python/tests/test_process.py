"""midge.shutdown(): refused while a client exists, then joins every midge thread; a new
client starts them again. In a child interpreter, so no client of another test counts."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import PKG_ROOT

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    import midge

    def midge_threads():
        names = []
        for tid in os.listdir("/proc/self/task"):
            try:
                with open("/proc/self/task/%s/comm" % tid) as f:
                    name = f.read().strip()
            except OSError:
                continue
            if name.startswith("midge-"):
                names.append(name)
        return names

    def midge_threads_left():
        # A joined thread may stay listed by the kernel for a moment: a bounded poll.
        deadline = time.monotonic() + 2
        while midge_threads() and time.monotonic() < deadline:
            time.sleep(0.001)
        return midge_threads()

    url = sys.argv[1]
    c = midge.Client(url, client_id="py-shutdown")
    c.connect()
    assert midge_threads(), "no midge thread while a client runs"
    try:
        midge.shutdown()
        raise SystemExit("shutdown with a live client did not raise")
    except midge.InvalidArgument:
        pass
    c.publish("py/shutdown", b"x", qos=1)
    c.close()
    midge.shutdown()
    assert midge_threads_left() == [], midge_threads()
    midge.shutdown()
    with midge.Client(url, client_id="py-again") as again:  # connects
        again.publish("py/shutdown", b"y", qos=1)
    midge.shutdown()
    assert midge_threads_left() == [], midge_threads()
    print("ok")
    """
)


def test_shutdown_joins_threads_and_clients_start_them_again(broker):
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, broker.url],
        cwd=str(PKG_ROOT),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "ok"
