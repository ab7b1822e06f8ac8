"""``midge.Tls``: TLS settings for ``mqtts://`` and ``wss://`` addresses."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, List, Optional, Sequence, Union

from ._lib import lib

#: A path (str or os.PathLike) or PEM bytes in memory.
Source = Union[str, "os.PathLike[str]", bytes]

_VERSIONS = {None: 0, "1.2": 1, "1.3": 2}
_PIN_CERTIFICATE = 1
_PIN_PUBLIC_KEY = 2


def _many(value: Union[None, Source, Sequence[Source]]) -> List[Source]:
    if value is None:
        return []
    if isinstance(value, (bytes, str, os.PathLike)):
        return [value]
    return list(value)


def _hash(value: Union[bytes, str]) -> bytes:
    if isinstance(value, str):
        value = bytes.fromhex(value.replace(":", ""))
    if len(value) != 32:
        raise ValueError("a SHA-256 pin has 32 bytes (64 hex digits)")
    return value


@dataclass
class Tls:
    """TLS settings; verification is on by default.

    >>> midge.Client("mqtts://broker:8883",
    ...              tls=midge.Tls(ca="ca.pem", cert="dev.pem", key="dev.key", alpn=["mqtt"]))

    ``ca``, ``cert`` and ``key`` take paths or PEM bytes. Without ``ca`` the system's roots
    are trusted. ``versions`` is ``None`` (1.2 and 1.3), ``"1.2"`` or ``"1.3"``. Pins are
    SHA-256 values (bytes or hex) of the server certificate or of its public key.
    """

    ca: Union[None, Source, Sequence[Source]] = None
    ca_dir: Optional[str] = None
    cert: Optional[Source] = None
    key: Optional[Source] = field(default=None, repr=False)
    alpn: Union[None, str, Iterable[str]] = None
    server_name: Optional[str] = None
    versions: Optional[str] = None
    system_roots: Optional[bool] = None
    mozilla_roots: bool = False
    pin_certificate: Iterable[Union[bytes, str]] = ()
    pin_public_key: Iterable[Union[bytes, str]] = ()
    dangerous_no_verify: bool = False

    def _build(self) -> int:
        """A new ``midge_tls_options`` handle (the caller frees it)."""
        from .client import _check, _cstr, _free

        if self.versions not in _VERSIONS:
            raise ValueError("versions must be None, '1.2' or '1.3'")
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")
        t = lib.midge_tls_options_new()
        if not t:
            raise MemoryError("midge_tls_options_new")
        try:
            for ca in _many(self.ca):
                if isinstance(ca, bytes):
                    _check(lib.midge_tls_options_add_ca_pem(t, ca, len(ca)))
                else:
                    _check(lib.midge_tls_options_add_ca_file(t, _cstr(os.fspath(ca), "ca")))
            if self.ca_dir is not None:
                _check(lib.midge_tls_options_add_ca_dir(t, _cstr(os.fspath(self.ca_dir), "ca_dir")))
            if self.system_roots is not None:
                _check(lib.midge_tls_options_set_system_roots(t, bool(self.system_roots)))
            _check(lib.midge_tls_options_set_mozilla_roots(t, bool(self.mozilla_roots)))
            if self.cert is not None and self.key is not None:
                if isinstance(self.cert, bytes) or isinstance(self.key, bytes):
                    cert = self.cert if isinstance(self.cert, bytes) else open(self.cert, "rb").read()
                    key = self.key if isinstance(self.key, bytes) else open(self.key, "rb").read()
                    _check(lib.midge_tls_options_set_client_cert_pem(t, cert, len(cert), key, len(key)))
                else:
                    _check(lib.midge_tls_options_set_client_cert_files(
                        t, _cstr(os.fspath(self.cert), "cert"), _cstr(os.fspath(self.key), "key")))
            alpn = [self.alpn] if isinstance(self.alpn, str) else list(self.alpn or [])
            for p in alpn:
                _check(lib.midge_tls_options_add_alpn(t, _cstr(p, "alpn")))
            if self.server_name is not None:
                _check(lib.midge_tls_options_set_server_name(t, _cstr(self.server_name, "server_name")))
            _check(lib.midge_tls_options_set_versions(t, _VERSIONS[self.versions]))
            for h in self.pin_certificate:
                b = _hash(h)
                _check(lib.midge_tls_options_add_pin(t, _PIN_CERTIFICATE, b, len(b)))
            for h in self.pin_public_key:
                b = _hash(h)
                _check(lib.midge_tls_options_add_pin(t, _PIN_PUBLIC_KEY, b, len(b)))
            _check(lib.midge_tls_options_dangerous_set_no_verify(t, bool(self.dangerous_no_verify)))
        except BaseException:
            _free(lib.midge_tls_options_free, t)
            raise
        return t
