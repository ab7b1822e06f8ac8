"""The READMEs' examples, run as written against a per-test Mosquitto: each ```python
block of bindings/python/README.md, and the C program and the Python example of the
repository's README.md. The only change is the broker's address: the examples name the
machine's own port 1883, which is not ours to use."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HEADER, PKG_ROOT, REPO

EXAMPLE_URL = "mqtt://127.0.0.1:1883"


def _blocks(readme: Path, language: str) -> list[str]:
    return re.findall(r"```%s\n(.*?)```" % language, readme.read_text(), re.S)


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PKG_ROOT))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )


def test_the_binding_readme_has_its_two_examples():
    examples = _blocks(PKG_ROOT / "README.md", "python")
    assert len(examples) == 2, examples
    assert all(EXAMPLE_URL in e for e in examples)


def test_the_blocking_example_runs_as_written(broker):
    code = _blocks(PKG_ROOT / "README.md", "python")[0].replace(EXAMPLE_URL, broker.url)
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["sensors/t b'21.5' ()"], out.stdout


def test_the_asyncio_example_runs_as_written(broker):
    code = _blocks(PKG_ROOT / "README.md", "python")[1].replace(EXAMPLE_URL, broker.url)
    out = _python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["sensors/t b'21.5'"], out.stdout


def test_the_repository_readme_python_example_runs_as_written(broker):
    (example,) = [b for b in _blocks(REPO / "README.md", "python") if EXAMPLE_URL in b]
    out = _python(example.replace(EXAMPLE_URL, broker.url))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["sensors/t b'21.5'"], out.stdout


def test_the_repository_readme_c_program_runs_as_written(broker, tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.fail("no C compiler (cc): scripts/prerequisites installs one")
    (program,) = [b for b in _blocks(REPO / "README.md", "c") if "int main" in b]
    source = tmp_path / "app.c"
    source.write_text(program.replace(EXAMPLE_URL, broker.url))
    # The library the binding loads: $MIDGE_LIBRARY (conftest sets it) or the bundled copy.
    library = Path(os.environ.get("MIDGE_LIBRARY", PKG_ROOT / "midge" / "libmidge.so")).parent
    subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(HEADER.parent), str(source),
         "-L", str(library), "-lmidge", "-Wl,-rpath," + str(library), "-o", str(tmp_path / "app")],
        check=True,
        timeout=60,
    )
    out = subprocess.run([str(tmp_path / "app")], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    # 0x10, No matching subscribers: nobody subscribes to sensors/t1 on the test's broker.
    assert out.stdout.splitlines() == ["publish: ok (reason code 0x10)"], out.stdout
