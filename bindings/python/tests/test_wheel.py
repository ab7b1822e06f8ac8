"""The wheel: `pip wheel ./bindings/python` bundles libmidge, and the wheel installs into a
clean virtual environment and works there with no Rust toolchain and no MIDGE_LIBRARY."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path


from conftest import PKG_ROOT

sys.path.insert(0, str(PKG_ROOT))
import setup as midge_setup  # noqa: E402  (setup() runs only as __main__)


def test_cargo_builds_where_it_can_write(tmp_path):
    """A read-only checkout builds in the temporary directory, not in its own target/."""
    writable = tmp_path / "repo" / "target"
    writable.mkdir(parents=True)
    assert midge_setup.target_dir(writable, {}, tmp_path) == writable
    assert midge_setup.target_dir(writable, {"CARGO_TARGET_DIR": "/x"}, tmp_path) == Path("/x")
    # A checkout that cannot be written (read-only mount, another user's tree).
    assert midge_setup.target_dir(writable, {}, tmp_path, lambda p: False) == tmp_path / "midge-cargo-target"


def test_wheel_installs_into_a_clean_venv_and_runs(tmp_path, broker):
    lib = os.environ["MIDGE_LIBRARY"]
    env = dict(os.environ, MIDGE_PREBUILT_LIBRARY=lib)
    env.pop("MIDGE_LIBRARY")
    out = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(PKG_ROOT)],
        check=True, env=env, timeout=300,
    )
    (wheel,) = out.glob("midge-*.whl")
    assert "-py3-none-linux_" in wheel.name  # a platform wheel: it carries a native library
    with zipfile.ZipFile(wheel) as z:
        assert "midge/libmidge.so" in z.namelist()
        assert "midge/py.typed" in z.namelist()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=120)
    script = textwrap.dedent(
        """
        import sys, midge
        from midge import _lib
        assert "site-packages" in str(_lib.library_path()), _lib.library_path()
        with midge.Client(sys.argv[1], client_id="wheel") as c:
            c.subscribe("wheel/t", qos=1)
            c.publish("wheel/t", b"from the wheel", qos=1)
            m = c.next_message(timeout=5)
            print(m.payload.decode())
        """
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MIDGE_", "PYTHON"))}
    clean["PATH"] = "/usr/bin:/bin"  # no cargo
    run = subprocess.run(
        [str(py), "-c", script, broker.url], cwd=str(tmp_path), env=clean,
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "from the wheel"
