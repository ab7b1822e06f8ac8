"""The README's Python examples (each ```python block of bindings/python/README.md), run as
written against a per-test Mosquitto: the only change is the broker's address, as the
examples name the machine's own port 1883, which is not ours to use."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import PKG_ROOT

README = PKG_ROOT / "README.md"
EXAMPLE_URL = "mqtt://127.0.0.1:1883"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _run(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_readme_has_its_two_examples():
    examples = _examples()
    assert len(examples) == 2, examples
    assert all(EXAMPLE_URL in e for e in examples)


def test_the_blocking_example_runs_as_written(broker):
    code = _examples()[0].replace(EXAMPLE_URL, broker.url)
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["sensors/t b'21.5' ()"], out.stdout


def test_the_asyncio_example_runs_as_written(broker):
    code = _examples()[1].replace(EXAMPLE_URL, broker.url)
    out = _run(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["sensors/t b'21.5'"], out.stdout
