"""Several servers and redirection from Python: Client([...]) and servers=, the dead first
server skipped, Client.server; a CONNACK 0x9C with a Server Reference from a tiny scripted
server, refused by default (the reference in the error) and followed with
follow_redirects=True."""

from __future__ import annotations

import socket
import threading
import uuid

import pytest

import midge


def uid() -> str:
    return uuid.uuid4().hex[:10]


def dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "mqtt://127.0.0.1:%d" % port


class Redirector:
    """Answers one CONNECT with CONNACK `code` and a Server Reference, then waits for the
    client to close."""

    def __init__(self, code: int, reference: str) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.url = "mqtt://127.0.0.1:%d" % self.sock.getsockname()[1]
        ref = reference.encode()
        props = bytes([0x1C, 0, len(ref)]) + ref
        self.reply = bytes([0x20, 3 + len(props), 0, code, len(props)]) + props
        self.accepted = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.accepted += 1
        with conn:
            conn.settimeout(10)
            try:
                conn.recv(1024)
                conn.sendall(self.reply)
                while conn.recv(1024):
                    pass
            except OSError:
                pass

    def close(self) -> None:
        self.thread.join(10)
        self.sock.close()


def test_a_list_of_servers_skips_a_dead_first(broker):
    c = midge.Client([dead_url(), broker.url], client_id="py-srv-" + uid(), reconnect=False)
    try:
        assert c.server is None
        ack = c.connect()
        assert c.server == broker.url
        assert ack.server == broker.url
    finally:
        c.close()
    # The same with servers=; a context manager connects on enter.
    with midge.Client(dead_url(), servers=[broker.url], client_id="py-srv-" + uid(), reconnect=False) as c:
        assert c.server == broker.url
    assert c.server is None  # closed


def test_server_arguments_are_checked():
    with pytest.raises(midge.InvalidArgument):
        midge.Client([], reconnect=False)
    with pytest.raises(midge.InvalidType):
        midge.Client(["mqtt://127.0.0.1:9", 5], reconnect=False)
    with pytest.raises(midge.MidgeError):
        midge.Client("mqtt://127.0.0.1:9", servers=["http://x"], reconnect=False)


def test_a_redirect_is_refused_by_default_and_followed_when_allowed(broker):
    reference = broker.url.replace("mqtt://", "")
    r = Redirector(0x9C, reference)
    c = midge.Client(r.url, client_id="py-redir-" + uid(), reconnect=False)
    try:
        with pytest.raises(midge.ConnectionRefused) as e:
            c.connect()
        assert reference in str(e.value)
        assert c.server is None
    finally:
        c.close()
    r.close()

    r = Redirector(0x9D, reference)
    with midge.Client(r.url, client_id="py-redir-" + uid(), reconnect=False, follow_redirects=True) as c:
        assert c.server == broker.url
    r.close()
    assert r.accepted == 1


def test_on_redirect_sees_and_may_veto(broker):
    reference = broker.url.replace("mqtt://", "")
    for allow in (False, True):
        r = Redirector(0x9D, reference)
        seen = []
        c = midge.Client(r.url, client_id="py-veto-" + uid(), reconnect=False, follow_redirects=True)
        try:
            c.on_redirect = lambda red: seen.append(red) or allow
            if allow:
                c.connect()
                assert c.server == broker.url
            else:
                with pytest.raises(midge.ConnectionRefused):
                    c.connect()
                assert c.server is None
        finally:
            c.close()
        r.close()
        assert seen == [midge.Redirect(from_server=r.url, to=broker.url, reference=reference, reason_code=0x9D)]
