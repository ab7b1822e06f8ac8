"""Test setup: the package from this tree, libmidge from <repo>/target/release (built with
cargo when absent or older than the Rust sources), and per-test Mosquitto brokers on free
loopback ports (never the system one on 1883)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

HERE = Path(__file__).resolve().parent
PKG_ROOT = HERE.parent  # bindings/python
REPO = PKG_ROOT.parent.parent
HEADER = REPO / "include" / "midge.h"
MOSQUITTO = "/usr/sbin/mosquitto"


def _newest_source_mtime() -> float:
    newest = 0.0
    for p in [REPO / "Cargo.toml", REPO / "Cargo.lock", REPO / "build.rs"]:
        if p.exists():
            newest = max(newest, p.stat().st_mtime)
    for p in (REPO / "src").rglob("*.rs"):
        newest = max(newest, p.stat().st_mtime)
    return newest


def _ensure_library() -> None:
    if os.environ.get("MIDGE_LIBRARY"):
        return
    if (PKG_ROOT / "midge" / "libmidge.so").exists():
        return  # a bundled copy (built by setup.py) wins, as for an installed package
    lib = REPO / "target" / "release" / "libmidge.so"
    if not lib.exists() or lib.stat().st_mtime < _newest_source_mtime():
        subprocess.run(
            ["cargo", "build", "--release", "--manifest-path", str(REPO / "Cargo.toml")],
            check=True,
        )
    os.environ["MIDGE_LIBRARY"] = str(lib)


_ensure_library()
sys.path.insert(0, str(PKG_ROOT))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    port: int
    proc: subprocess.Popen
    directory: Path

    @property
    def url(self) -> str:
        return "mqtt://127.0.0.1:%d" % self.port

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # by PID: this process only
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        p = self.directory / "mosquitto.log"
        return p.read_text(errors="replace") if p.exists() else ""


def start_broker(directory: Path, *, users: Optional[dict] = None, extra: str = "") -> Broker:
    if not os.access(MOSQUITTO, os.X_OK):
        pytest.skip("mosquitto is not installed at %s" % MOSQUITTO)
    directory.mkdir(parents=True, exist_ok=True)
    lines = []
    if users:
        pwfile = directory / "passwd"
        first = True
        for user, password in users.items():
            args = ["mosquitto_passwd", "-b"] + (["-c"] if first else []) + [str(pwfile), user, password]
            subprocess.run(args, check=True, capture_output=True)
            first = False
        lines += ["allow_anonymous false", "password_file %s" % pwfile]
    else:
        lines += ["allow_anonymous true"]
    last_error = ""
    for _attempt in range(5):
        port = free_port()
        conf = directory / "mosquitto.conf"
        conf.write_text(
            "\n".join(
                [
                    "per_listener_settings false",
                    "listener %d 127.0.0.1" % port,
                    "persistence false",
                    "log_dest file %s" % (directory / "mosquitto.log"),
                    "log_type error",
                    "log_type warning",
                    "log_type notice",
                    "max_keepalive 65535",
                ]
                # As root, mosquitto would switch to the "mosquitto" user, who cannot read
                # the private test directory: stay this user.
                + (["user root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])
                + lines
                + [extra]
            )
            + "\n"
        )
        proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        broker = Broker(port, proc, directory)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return broker
            except OSError:
                time.sleep(0.01)
        last_error = (proc.stderr.read().decode(errors="replace") if proc.poll() is not None and proc.stderr else "") + broker.log()
        broker.stop()
    raise RuntimeError("mosquitto did not start: %s" % last_error)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = start_broker(tmp_path / "broker")
    yield b
    b.stop()


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    started = []

    def make(**kwargs) -> Broker:
        b = start_broker(tmp_path / ("broker%d" % len(started)), **kwargs)
        started.append(b)
        return b

    yield make
    for b in started:
        b.stop()


@pytest.fixture(scope="session")
def header() -> Path:
    return HEADER
