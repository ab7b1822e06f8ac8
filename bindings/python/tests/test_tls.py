"""TLS through the Python binding against a Mosquitto with a TLS listener, with
certificates made on the spot by the openssl tool."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

import midge
from conftest import make_broker  # noqa: F401  (fixture)


def _run(directory: Path, cmd: str) -> None:
    subprocess.run(cmd, shell=True, check=True, cwd=directory, capture_output=True)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    d = tmp_path / "pki"
    d.mkdir()
    ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    _run(d, "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=py-ca" % ec)
    _run(d, "openssl req -x509 %s -keyout other.key -out other.pem -days 2 -subj /CN=other" % ec)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    _run(d, "openssl req %s -keyout server.key -out server.csr -subj /CN=127.0.0.1" % ec)
    _run(d, "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
            "-out server.pem -days 2 -extfile server.ext")
    _run(d, "openssl req %s -keyout client.key -out client.csr -subj /CN=py-device" % ec)
    _run(d, "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
            "-out client.pem -days 2 -extfile client.ext")
    _run(d, "openssl x509 -in server.pem -outform der -out server.der")
    return d


def _tls_broker(make_broker, pki: Path, mutual: bool = False):  # noqa: F811
    extra = "certfile %s\nkeyfile %s\n" % (pki / "server.pem", pki / "server.key")
    if mutual:
        extra += "cafile %s\nrequire_certificate true\n" % (pki / "ca.pem")
    b = make_broker(extra=extra)
    return b, "mqtts://127.0.0.1:%d" % b.port


def test_verified_round_trip_with_paths_and_bytes(make_broker, pki):  # noqa: F811
    _, url = _tls_broker(make_broker, pki, mutual=True)
    tls = midge.Tls(ca=str(pki / "ca.pem"), cert=str(pki / "client.pem"), key=str(pki / "client.key"),
                    alpn=["mqtt"])
    with midge.Client(url, client_id="py-tls", tls=tls, reconnect=False) as c:
        c.subscribe("py/tls", qos=1)
        c.publish("py/tls", b"over tls", qos=1)
        m = next(iter(c.messages(timeout=5.0)))
        assert m.payload == b"over tls"
    # The same with PEM bytes in memory.
    tls = midge.Tls(ca=(pki / "ca.pem").read_bytes(), cert=(pki / "client.pem").read_bytes(),
                    key=(pki / "client.key").read_bytes())
    with midge.Client(url, client_id="py-tls-mem", tls=tls, reconnect=False) as c:
        assert c.broker == url


def test_unknown_ca_raises_tls_error_with_words(make_broker, pki):  # noqa: F811
    _, url = _tls_broker(make_broker, pki)
    c = midge.Client(url, tls=midge.Tls(ca=str(pki / "other.pem")), reconnect=False)
    with pytest.raises(midge.TlsError) as e:
        c.connect(timeout=5.0)
    c.close()
    assert "unknown CA" in str(e.value)
    assert isinstance(e.value, ConnectionError)


def test_missing_client_certificate_is_refused(make_broker, pki):  # noqa: F811
    _, url = _tls_broker(make_broker, pki, mutual=True)
    c = midge.Client(url, tls=midge.Tls(ca=str(pki / "ca.pem")), reconnect=False)
    with pytest.raises(midge.TlsError) as e:
        c.connect(timeout=5.0)
    c.close()
    assert "client certificate" in str(e.value)


def test_pins_and_reload(make_broker, pki):  # noqa: F811
    _, url = _tls_broker(make_broker, pki)
    good = hashlib.sha256((pki / "server.der").read_bytes()).hexdigest()
    with midge.Client(url, tls=midge.Tls(ca=str(pki / "ca.pem"), pin_certificate=[good]), reconnect=False):
        pass
    c = midge.Client(url, tls=midge.Tls(ca=str(pki / "ca.pem"), pin_certificate=["00" * 32]), reconnect=False)
    with pytest.raises(midge.TlsError) as e:
        c.connect(timeout=5.0)
    assert "pin" in str(e.value)
    c.reload_tls(midge.Tls(ca=str(pki / "ca.pem")))
    c.connect()
    with pytest.raises(midge.TlsConfigError):
        c.reload_tls(midge.Tls(ca=str(pki / "missing.pem")))
    c.close()


def test_configuration_errors(pki):
    with pytest.raises(midge.TlsConfigError) as e:
        midge.Client("mqtt://127.0.0.1:1", tls=midge.Tls(ca=str(pki / "ca.pem")))
    assert "mqtts://" in str(e.value)
    with pytest.raises(ValueError):
        midge.Tls(cert="only-cert.pem")._build()
    with pytest.raises(ValueError):
        midge.Tls(versions="1.1")._build()
    with pytest.raises(ValueError):
        midge.Tls(pin_public_key=[b"short"])._build()
    # dangerous_no_verify accepts a server nobody vouches for.
    midge.Client("mqtts://127.0.0.1:1", tls=midge.Tls(dangerous_no_verify=True, system_roots=False)).close()
