"""The local edge (real nginx, local/edge.py) between real clients and a scripted origin on
127.0.0.1, with the static copy in a real moto S3 server: what CloudFront does for the deployed
page, counted at the origin."""
from __future__ import annotations

import gzip
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from local import edge as edge_mod
from tests.e2e.stack import free_port

pytestmark = pytest.mark.skipif(edge_mod.nginx_binary() is None, reason=edge_mod.INSTALL_HINT)

SECRET = "edge-test-secret"
BUCKET = "edge-test-static"
PAGE = b"<!doctype html><title>Status</title>" + b"<p>all systems operational</p>" * 200


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


class Origin:
    """The API as the edge sees it: every request recorded; answers scripted per test."""

    def __init__(self):
        self.requests: list[dict] = []
        self.cache_control = "public, max-age=15, stale-while-revalidate=60, stale-if-error=300"
        self.status = 200
        self.delay = 0.0
        self.drop = False           # close every connection without an answer
        self.version = 1
        self.lock = threading.Lock()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body_in = self.rfile.read(length) if length else b""
                with origin.lock:
                    origin.requests.append({"method": self.command, "path": self.path,
                                            "headers": dict(self.headers), "body": body_in})
                if origin.drop:
                    self.close_connection = True
                    return
                if origin.delay:
                    time.sleep(origin.delay)
                status = origin.status
                etag = f'"v{origin.version}"'
                if status == 200 and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Cache-Control", origin.cache_control)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = PAGE + f"<!-- v{origin.version} -->".encode() if status == 200 else \
                    b'{"error": "status temporarily unavailable"}'
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8" if status == 200
                                 else "application/json")
                self.send_header("Cache-Control", origin.cache_control if status == 200
                                 else "no-store")
                self.send_header("ETag", etag)
                self.send_header("Vary", "Accept-Encoding")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PATCH = do_OPTIONS = do_DELETE = _answer

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"

    def count(self, path: str, method: str = "GET") -> int:
        with self.lock:
            return sum(1 for r in self.requests if r["path"] == path and r["method"] == method)

    def close(self):
        if self.server.socket.fileno() != -1:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(scope="module")
def s3():
    from moto.server import ThreadedMotoServer
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_policy(Bucket=BUCKET, Policy=edge_mod.edge_read_policy(BUCKET))
    for key, body, ctype in (("index.html", b"<p>the static copy</p>" * 100, "text/html"),
                             ("api/v2/summary.json", b'{"from": "s3"}', "application/json"),
                             ("heartbeat.json", b'{"data_as_of_epoch": 1}', "application/json")):
        client.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType=ctype,
                          CacheControl="public, max-age=15")
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def stack(tmp_path, s3):
    origin = Origin()
    settings = edge_mod.settings(port=free_port(), origin=origin.addr, static=s3, bucket=BUCKET,
                                 origin_secret=SECRET, workdir=str(tmp_path / "edge"))
    edge = edge_mod.Edge(settings).start()
    yield origin, edge
    edge.stop()
    origin.close()              # idempotent: a test may have closed it already


def get(url, headers=None, method="GET", data=None):
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_a_public_get_is_fetched_once_per_max_age_and_counted_at_the_origin(stack):
    origin, edge = stack
    for _ in range(5):
        status, headers, body = get(edge.url + "/")
        assert status == 200 and body.startswith(b"<!doctype html>")
    assert origin.count("/") == 1
    # HEAD and a conditional GET are answered from the same cached copy
    assert get(edge.url + "/", method="HEAD")[0] == 200
    status, _, _ = get(edge.url + "/", headers={"If-None-Match": headers["ETag"]})
    assert status == 304
    assert origin.count("/") == 1
    # only ?page= is in the key and reaches the origin (PublicCachePolicy)
    get(edge.url + "/history?page=2&utm_source=x")
    get(edge.url + "/history?page=2&utm_source=y")
    get(edge.url + "/history?page=3")
    paths = [r["path"] for r in origin.requests if r["path"].startswith("/history")]
    assert paths == ["/history?page=2", "/history?page=3"]


def test_the_origin_gets_the_secret_and_no_viewer_headers_on_public_paths(stack):
    origin, edge = stack
    get(edge.url + "/api/v2/status.json", headers={"X-Outpost-Origin": "forged",
                                                   "CloudFront-Viewer-Address": "203.0.113.9:1",
                                                   "Cookie": "a=b", "Accept-Encoding": "gzip"})
    sent = origin.requests[-1]["headers"]
    assert sent["X-Outpost-Origin"] == SECRET
    assert "CloudFront-Viewer-Address" not in sent and "Cookie" not in sent
    assert "Accept-Encoding" not in sent              # the edge compresses, not the origin


def test_max_age_expiry_and_s_maxage(stack):
    origin, edge = stack
    origin.cache_control = "public, max-age=1"
    get(edge.url + "/a")
    time.sleep(2.2)                                     # nginx keeps time in whole seconds
    get(edge.url + "/a")
    assert origin.count("/a") == 2
    origin.cache_control = "public, max-age=0, s-maxage=30"     # shared caches keep it 30 s
    get(edge.url + "/b")
    time.sleep(2.2)
    get(edge.url + "/b")
    assert origin.count("/b") == 1
    origin.cache_control = "no-store"
    get(edge.url + "/c")
    get(edge.url + "/c")
    assert origin.count("/c") == 2


def test_concurrent_misses_for_one_object_make_one_origin_request(stack):
    origin, edge = stack
    origin.delay = 0.5                                  # a slow origin: everyone arrives first
    with ThreadPoolExecutor(100) as pool:
        results = list(pool.map(lambda _: get(edge.url + "/api/v2/summary.json"), range(200)))
    assert {status for status, _, _ in results} == {200}
    assert origin.count("/api/v2/summary.json") == 1


def test_stale_while_revalidate_answers_at_once_and_refreshes_once_in_the_background(stack):
    origin, edge = stack
    origin.cache_control = "public, max-age=1, stale-while-revalidate=60"
    get(edge.url + "/")
    time.sleep(2.2)
    origin.version, origin.delay = 2, 2.0               # the refresh is slow and changed
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: get(edge.url + "/"), range(20)))
    # nobody waited for the slow origin: had anyone, they would have got version 2
    assert all(b"<!-- v1 -->" in body for _, _, body in results)
    assert {h["X-Cache"] for _, h, _ in results} <= {"STALE", "UPDATING"}
    wait_for_body = time.monotonic() + 20
    while b"<!-- v2 -->" not in get(edge.url + "/")[2]:
        assert time.monotonic() < wait_for_body, "the background refresh never landed"
        time.sleep(0.5)
    assert origin.count("/") == 2                       # one refresh for all of them


def test_a_5xx_fails_over_to_the_static_copy_as_the_origin_group_does(stack):
    origin, edge = stack
    origin.cache_control = "public, max-age=1, stale-if-error=300"
    assert b"<!-- v1 -->" in get(edge.url + "/")[2]
    time.sleep(2.2)
    origin.status = 503
    status, headers, body = get(edge.url + "/")
    assert status == 200 and body.startswith(b"<p>the static copy</p>")
    assert "static copy" in headers["X-Cache"]
    assert origin.count("/") == 2                       # the API was asked, then S3
    # nothing cached at all, and the API down: the same path from S3
    status, _, body = get(edge.url + "/api/v2/summary.json")
    assert (status, body) == (200, b'{"from": "s3"}')
    # a path the copy lacks is S3's 404, not the API's 503
    assert get(edge.url + "/incidents/nope")[0] == 404


def test_stale_if_error_bounds_how_long_a_cached_copy_outlives_an_unreachable_origin(stack):
    origin, edge = stack
    origin.cache_control = "public, max-age=1, stale-if-error=5"
    assert b"<!-- v1 -->" in get(edge.url + "/")[2]
    origin.drop = True                                  # the API stops answering at all
    time.sleep(2.2)
    status, headers, body = get(edge.url + "/")         # within stale-if-error: the cached copy
    assert status == 200 and b"<!-- v1 -->" in body and headers["X-Cache"] == "STALE"
    time.sleep(5.5)                                     # past it: the S3 copy
    status, headers, body = get(edge.url + "/")
    assert status == 200 and body.startswith(b"<p>the static copy</p>")


def test_an_origin_that_does_not_answer_fails_over_to_the_static_copy(tmp_path, s3):
    dead = f"127.0.0.1:{free_port()}"                   # nothing listens there
    settings = edge_mod.settings(port=free_port(), origin=dead, static=s3, bucket=BUCKET,
                                 origin_secret=SECRET, workdir=str(tmp_path / "edge"))
    with edge_mod.Edge(settings) as edge:
        status, _, body = get(edge.url + "/")
        assert status == 200 and body.startswith(b"<p>the static copy</p>")
        status, _, body = get(edge.url + "/heartbeat.json")
        assert (status, body) == (200, b'{"data_as_of_epoch": 1}')


def test_operator_api_and_posts_pass_through_uncached_with_the_viewer_address(stack):
    origin, edge = stack
    for _ in range(3):
        get(edge.url + "/api/v1/pages/p/incidents", headers={"Authorization": "Bearer k",
                                                             "CloudFront-Viewer-Address": "1.2.3.4:5"})
        get(edge.url + "/api/v1/reports", method="POST", data=b'{"component": "api"}',
            headers={"Content-Type": "application/json"})
    assert origin.count("/api/v1/pages/p/incidents") == 3
    assert origin.count("/api/v1/reports", "POST") == 3
    sent = [r for r in origin.requests if r["path"] == "/api/v1/reports"][-1]
    assert sent["body"] == b'{"component": "api"}'
    assert sent["headers"]["X-Outpost-Origin"] == SECRET
    # CloudFront writes the real peer's address, whatever the viewer claimed
    for r in origin.requests:
        host, port = r["headers"]["CloudFront-Viewer-Address"].rsplit(":", 1)
        assert host == "127.0.0.1" and int(port) > 0
    incidents = [r for r in origin.requests if r["path"] == "/api/v1/pages/p/incidents"]
    assert incidents[0]["headers"]["Authorization"] == "Bearer k"
    # never compressed, even when asked
    _, headers, _ = get(edge.url + "/api/v1/pages/p/incidents", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers
    # a write to a public path is refused at the edge, as CloudFront's AllowedMethods do
    assert get(edge.url + "/", method="POST", data=b"x")[0] == 403
    assert origin.count("/", "POST") == 0


def test_the_edge_compresses_and_every_encoding_shares_one_cached_copy(stack):
    origin, edge = stack
    status, headers, body = get(edge.url + "/", headers={"Accept-Encoding": "gzip"})
    assert headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in headers["Vary"]
    plain = gzip.decompress(body)
    assert plain.startswith(b"<!doctype html>") and len(body) < len(plain) / 10
    status, headers, raw = get(edge.url + "/")
    assert "Content-Encoding" not in headers and raw == plain
    if edge.s.brotli_module:
        _, headers, br = get(edge.url + "/", headers={"Accept-Encoding": "br, gzip"})
        assert headers["Content-Encoding"] == "br" and len(br) < len(plain) / 10
    assert origin.count("/") == 1


def test_a_port_another_process_holds_is_an_error_not_an_edge_url(tmp_path, s3):
    """Regression: start() took any answer on the port for nginx's, so with the port taken it
    returned (and `make run` printed the edge URL) while nginx was failing to bind it."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(16)
        port = squatter.getsockname()[1]
        settings = edge_mod.settings(port=port, origin="127.0.0.1:9", static=s3, bucket=BUCKET,
                                     origin_secret=SECRET, workdir=str(tmp_path / "edge"))
        edge = edge_mod.Edge(settings)
        try:
            with pytest.raises(edge_mod.EdgeError, match=str(port)):
                edge.start(timeout=5)
        finally:
            edge.stop()
        assert edge.proc is None or edge.proc.poll() is not None
