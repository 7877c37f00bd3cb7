"""Real HTTP servers on 127.0.0.1 that tests and bench break and mend while Outpost talks to them.

`FakeServer` is the one server underneath: threaded HTTP/1.1 on an ephemeral port, a backlog
deep enough for a whole check round, quiet logs, every request recorded, and one `answer`
callable deciding each reply. The roles tests need are built on it:

  Target    a monitored endpoint: ok, fail (503), hang or slow, per region if asked
  Receiver  a webhook endpoint: answers its url_verification challenge, records events, can
            fail, be held, or go dark (blackhole: takes the request, never answers; tarpit:
            a byte a second)
  Tarpit, Blackhole  raw sockets below HTTP: a response trickled a byte at a time, or silence
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional


@dataclass
class Request:
    method: str
    path: str
    headers: dict
    body: bytes
    at: float                                   # time.monotonic() when it arrived
    handler: BaseHTTPRequestHandler = field(repr=False)

    def __getitem__(self, name: str):
        """r["ua"], r["at"], r["path"]...: the record shape tests have always read."""
        return self.headers.get("User-Agent") if name == "ua" else getattr(self, name)

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | list = b""
    headers: dict = field(default_factory=dict)


class _Server(ThreadingHTTPServer):
    # Checks arrive all at once; socketserver's default backlog of 5 drops SYNs, which the
    # client only retries after 1 s: a test's 1 s timeout then fails a healthy target.
    request_queue_size = 1024
    daemon_threads = True
    block_on_close = False


class FakeServer:
    """One HTTP server; `answer(request)` returns a Reply, or None when it already wrote (or
    chose never to write) the response itself."""

    def __init__(self, answer: Callable[[Request], Optional[Reply]], path: str = "",
                 protocol: str = "HTTP/1.1", host: str = "127.0.0.1", record: bool = True):
        self.requests: list[Request] = []
        self.release = threading.Event()        # set on close: ends every hold and hang
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def log_message(self, *a):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(self.command, self.path, dict(self.headers),
                              self.rfile.read(length) if length else b"", time.monotonic(), self)
                if record:
                    server.requests.append(req)
                reply = answer(req)
                if reply is None:
                    return
                raw = reply.body if isinstance(reply.body, bytes) else \
                    json.dumps(reply.body).encode()
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(raw)

            do_GET = do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = _Server((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}{path}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def region_of(req: Request) -> str:
    """The region a probe came from, as the contract's User-Agent says it."""
    return (req.headers.get("User-Agent") or "").rsplit("region=", 1)[-1].rstrip(")")


class Target(FakeServer):
    """A monitored endpoint; `behaviour` decides each answer: "ok", "fail" (503), "hang" (until
    close) or "slow" (`slow_seconds`, then ok). Regions in `failing` ("*" for all) get a 503.
    `requests` keeps path, User-Agent ("ua") and arrival time ("at") of each probe."""

    def __init__(self):
        self.behaviour = "ok"
        self.slow_seconds = 0.0
        self.failing: set = set()
        super().__init__(self._answer)

    def _answer(self, req: Request) -> Optional[Reply]:
        mode = self.behaviour
        if mode == "hang":
            self.release.wait(30)
            return None
        if mode == "slow":
            time.sleep(self.slow_seconds)
        failing = mode == "fail" or "*" in self.failing or region_of(req) in self.failing
        return Reply(503, {"status": "down"}) if failing else Reply(200, {"status": "ok"})


class Receiver(FakeServer):
    """A webhook endpoint at /hook. Answers url_verification challenges (`echo`: "right",
    "wrong" or "none"), and events with `status` (or 500 while `fail_next` > 0). Records each
    challenge in `verifications`, each event try in `hits` (headers, body, status), each event
    it accepted in `deliveries` (headers, body) and `events` (headers, body, wall-clock time).
    Set `hold` to an Event to keep events waiting; set `mode` to "blackhole" or "tarpit" to go
    dark after the challenge."""

    def __init__(self, status=200, echo="right"):
        self.deliveries, self.verifications, self.hits, self.events = [], [], [], []
        self.status, self.echo, self.fail_next = status, echo, 0
        self.hold, self.waiting = None, 0
        self.mode, self.dark_hits = "ok", 0
        self.on_event: Optional[Callable[[dict], None]] = None
        self.verified = threading.Event()
        super().__init__(self._answer, path="/hook")

    @property
    def challenges(self) -> int:
        return len(self.verifications)

    @property
    def bodies(self) -> list:
        return [json.loads(body) for _, body in self.deliveries]

    def _answer(self, req: Request) -> Optional[Reply]:
        doc = req.json()
        if isinstance(doc, dict) and doc.get("type") == "url_verification":
            self.verifications.append((req.headers, req.body))
            self.verified.set()
            out = {"right": {"challenge": doc["challenge"]}, "wrong": {"challenge": "not-it"}}
            return Reply(200, out.get(self.echo, b""))
        if self.mode == "blackhole":
            self.dark_hits += 1
            self.release.wait(60)
            return None
        if self.mode == "tarpit":
            self.dark_hits += 1
            for ch in b"HTTP/1.1 200 OK\r\n" * 10:
                if self.release.wait(1.0):
                    return None
                req.handler.wfile.write(bytes([ch]))
                req.handler.wfile.flush()
            return None
        if self.hold is not None:
            self.waiting += 1
            self.hold.wait(10)
        if self.fail_next > 0:
            self.fail_next -= 1
            status = 500
        else:
            status = self.status
        if 200 <= status < 300:
            self.deliveries.append((req.headers, req.body))
            self.events.append((req.headers, req.body, time.time()))
            if self.on_event is not None and isinstance(doc, dict):
                self.on_event(doc)
        self.hits.append((req.headers, req.body, status))
        return Reply(status)


class Tarpit:
    """Accepts, then trickles a response one byte every `every` seconds, for ever."""

    def __init__(self, every=1.0):
        self.every, self.accepted, self._stop = every, 0, threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        line = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100_000
        try:
            for i in range(len(line)):
                if self._stop.wait(self.every):
                    break
                conn.sendall(line[i:i + 1])
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self._stop.set()
        self.sock.close()


class Blackhole:
    """Accepts connections and never says a word (nor reads one)."""

    def __init__(self):
        self.accepted, self.conns = 0, []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()
