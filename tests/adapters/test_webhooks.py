"""The webhook client against real sockets on 127.0.0.1: one wall-clock deadline for the whole
request, whatever the receiver does (trickle, silence, a stalled TLS handshake, a full listen
backlog, an endless body), and the SSRF guard."""
import json
import socket
import ssl
import threading
import time

import pytest

from chalicelib.adapters.webhooks import DeliveryFailed, post
from tests.netfixtures import CA, Web, server_context
from tests.targets import Blackhole, Tarpit


def timed(fn, *a, **kw):
    started = time.monotonic()
    try:
        return fn(*a, **kw), time.monotonic() - started
    except DeliveryFailed as exc:
        return exc, time.monotonic() - started


class Raw:
    """A TCP server whose every connection runs `serve(conn)` in its own thread."""

    def __init__(self, serve):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.requests = []

        def loop():
            while True:
                try:
                    conn, _ = self.sock.accept()
                except OSError:
                    return
                threading.Thread(target=serve, args=(self, conn), daemon=True).start()
        threading.Thread(target=loop, daemon=True).start()

    def read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += conn.recv(4096)
        self.requests.append((head.decode(), body))

    def close(self):
        self.sock.close()


def test_a_tarpit_trickling_a_byte_a_second_is_cut_at_the_deadline():
    tarpit = Tarpit(every=1.0)
    try:
        err, took = timed(post, tarpit.url, b"{}", {}, True, 3.0)
        assert isinstance(err, DeliveryFailed) and "within 3s" in str(err)
        assert 3.0 <= took < 3.0 + 1.5, took              # the deadline, not per read
        assert tarpit.accepted == 1
    finally:
        tarpit.close()


def test_a_receiver_that_never_answers_is_cut_at_the_deadline():
    sink = Blackhole()
    try:
        err, took = timed(post, sink.url, b"{}", {}, True, 1.0)
        assert isinstance(err, DeliveryFailed) and 1.0 <= took < 2.5
    finally:
        sink.close()


def test_a_full_listen_backlog_is_cut_at_the_deadline_while_connecting():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)                                 # never accepts; the queue fills up
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.2)
        err, took = timed(post, f"http://127.0.0.1:{port}/", b"{}", {}, True, 1.0)
        assert isinstance(err, DeliveryFailed) and 1.0 <= took < 2.5
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_a_stalled_tls_handshake_is_cut_at_the_deadline():
    sink = Blackhole()                                  # takes the ClientHello, says nothing
    try:
        url = sink.url.replace("http://", "https://")
        err, took = timed(post, url, b"{}", {}, True, 1.0)
        assert isinstance(err, DeliveryFailed) and 1.0 <= took < 2.5
    finally:
        sink.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CA(str(tmp_path_factory.mktemp("pki")))


def test_https_verifies_the_certificate_and_returns_the_answer(ca):
    cert, key, _ = ca.leaf(["127.0.0.1"])
    web = Web(tls=server_context(cert, key))
    try:
        ctx = ssl.create_default_context(cafile=ca.file)
        reply = post(web.url("/echo"), b'{"a":1}', {"X-Outpost-Event": "e1"}, True, 5.0,
                     read_body=4096, ssl_context=ctx)
        assert reply.status == 200
        echoed = json.loads(reply.body)
        assert echoed["method"] == "POST" and echoed["body"] == '{"a":1}'
        assert echoed["headers"]["X-Outpost-Event"] == "e1"
        assert echoed["headers"]["Host"] == f"127.0.0.1:{web.port}"
        # an unknown CA is a failure, not a delivery
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            post(web.url("/echo"), b"{}", {}, True, 5.0)
    finally:
        web.close()


def test_redirects_are_not_followed():
    web = Web()
    other = Web()
    try:
        reply = post(web.url(f"/redirect?to={other.url('/ok')}"), b"{}", {}, True, 5.0)
        assert reply.status == 302 and other.requests == []
    finally:
        web.close()
        other.close()


def test_an_endless_body_is_read_only_as_far_as_asked():
    def serve(server, conn):
        server.read_request(conn)
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
            while True:
                conn.sendall(b"x" * 65536)
        except OSError:
            pass
    raw = Raw(serve)
    try:
        reply, took = timed(post, raw.url, b"{}", {}, True, 5.0, read_body=4096)
        assert reply.status == 200 and reply.body == b"x" * 4096 and took < 2.0
        assert post(raw.url, b"{}", {}, True, 5.0).body == b""     # events read no body
    finally:
        raw.close()


def test_a_chunked_answer_is_read_and_the_request_is_well_formed():
    def serve(server, conn):
        server.read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\n{\"cha\r\n" b"12;ext=1\r\nllenge\": \"abc123\"}\r\n" b"0\r\n\r\n")
        conn.close()
    raw = Raw(serve)
    try:
        reply = post(raw.url + "?x=1&y=a b", b'{"k":"v"}', {"X-A": "1"}, True, 5.0,
                     read_body=4096)
        assert reply.status == 200 and json.loads(reply.body) == {"challenge": "abc123"}
        ((head, body),) = raw.requests
        lines = head.split("\r\n")
        assert lines[0] == "POST /hook?x=1&y=a%20b HTTP/1.1"
        assert "Content-Length: 9" in lines and "X-A: 1" in lines and body == b'{"k":"v"}'
    finally:
        raw.close()


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://169.254.169.254/latest/",
                                 "http://[::1]/x", "http://2130706433/x"])
def test_private_addresses_are_refused_before_any_packet(url):
    with pytest.raises(DeliveryFailed, match="allow_private_targets is off"):
        post(url, b"{}", {}, False, 5.0)


def test_a_closed_port_fails_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    err, took = timed(post, f"http://127.0.0.1:{port}/", b"{}", {}, True, 5.0)
    assert isinstance(err, DeliveryFailed) and "ECONNREFUSED" in str(err) and took < 1.0


def test_a_name_whose_dns_never_answers_is_cut_at_the_deadline():
    """getaddrinfo waits out the resolver's own timeouts; the deadline covers the lookup too."""
    asked = threading.Event()

    def silent_dns(host):
        asked.set()
        time.sleep(5)
        return ["203.0.113.9"]
    started = time.monotonic()
    with pytest.raises(DeliveryFailed, match="name lookup"):
        post("https://hooks.example/x", b"{}", {}, False, 0.5, resolver=silent_dns)
    assert asked.is_set() and time.monotonic() - started < 2.0


def test_a_refused_name_is_still_refused_through_the_lookup_thread():
    with pytest.raises(DeliveryFailed, match="not public|private|loopback|refused"):
        post("https://hooks.example/x", b"{}", {}, False, 2.0, resolver=lambda host: ["127.0.0.1"])
