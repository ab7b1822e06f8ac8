"""Build step: compile libmidge with cargo and bundle it inside the ``midge`` package.

``pip install ./bindings/python`` runs ``cargo build --release`` on the repository's
Cargo.toml (override with ``MIDGE_CARGO_MANIFEST``) and copies the shared library next to
``midge/__init__.py``, where ``import midge`` finds it. cargo builds in ``$CARGO_TARGET_DIR``,
else in the repository's ``target/`` when it is writable, else (a read-only checkout) in
the system's temporary directory. ``MIDGE_PREBUILT_LIBRARY`` bundles
an existing build instead of running cargo.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py as _build_py

HERE = Path(__file__).resolve().parent

if sys.platform == "darwin":
    LIBRARY_NAME = "libmidge.dylib"
elif sys.platform == "win32":
    LIBRARY_NAME = "midge.dll"
else:
    LIBRARY_NAME = "libmidge.so"


def _cargo() -> str:
    cargo = shutil.which("cargo")
    if cargo:
        return cargo
    home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin" / "cargo"
    if home.exists():
        return str(home)
    raise RuntimeError("midge: cargo (the Rust toolchain) is needed to build libmidge")


def target_dir(
    default: Path, env: Mapping[str, str], temp: Path, can_write: Callable[[Path], bool] = lambda p: os.access(p, os.W_OK)
) -> Path:
    """Where cargo builds: ``$CARGO_TARGET_DIR`` if set; else the repository's own target
    directory when it can be written (an incremental build); else, for a read-only
    checkout, ``<temp>/midge-cargo-target``."""
    if env.get("CARGO_TARGET_DIR"):
        return Path(env["CARGO_TARGET_DIR"])
    probe = default if default.exists() else default.parent
    if can_write(probe):
        return default
    return temp / "midge-cargo-target"


def build_library() -> Path:
    prebuilt = os.environ.get("MIDGE_PREBUILT_LIBRARY")
    if prebuilt:
        return Path(prebuilt)
    manifest = Path(os.environ.get("MIDGE_CARGO_MANIFEST", HERE.parent.parent / "Cargo.toml"))
    if not manifest.is_file():
        raise RuntimeError(
            "midge: %s not found; build from the midge repository or set "
            "MIDGE_CARGO_MANIFEST / MIDGE_PREBUILT_LIBRARY" % manifest
        )
    cargo = _cargo()
    meta = subprocess.run(
        [cargo, "metadata", "--format-version", "1", "--no-deps", "--manifest-path", str(manifest)],
        check=True,
        capture_output=True,
        text=True,
    )
    target = target_dir(
        Path(json.loads(meta.stdout)["target_directory"]), os.environ, Path(tempfile.gettempdir())
    )
    subprocess.run(
        [cargo, "build", "--release", "--manifest-path", str(manifest), "--target-dir", str(target)],
        check=True,
    )
    lib = target / "release" / LIBRARY_NAME
    if not lib.is_file():
        raise RuntimeError("midge: cargo did not produce %s" % lib)
    return lib


class build_py(_build_py):
    """build_py that also builds libmidge and copies it into the package."""

    def run(self) -> None:
        super().run()
        lib = build_library()
        dest = Path(self.build_lib) / "midge" / LIBRARY_NAME
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)


cmdclass = {"build_py": build_py}

try:  # a platform wheel (the package carries a native library), for any Python 3
    try:
        from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel  # type: ignore

    class bdist_wheel(_bdist_wheel):  # type: ignore[misc, valid-type]
        def finalize_options(self) -> None:
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):  # type: ignore[no-untyped-def]
            _python, _abi, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = bdist_wheel
except ImportError:
    pass

class BinaryDistribution(Distribution):
    """The package carries a native library: its files go to platlib, at the wheel's root."""

    def has_ext_modules(self) -> bool:
        return True


if __name__ == "__main__":
    setup(cmdclass=cmdclass, distclass=BinaryDistribution)
