"""A tiny service for the local demo to watch, with switches to break it.

    curl -X POST http://127.0.0.1:8001/_demo/fail              # every endpoint answers 503
    curl -X POST 'http://127.0.0.1:8001/_demo/fail?path=/health&region=eu-west-1'
    curl -X POST http://127.0.0.1:8001/_demo/slow?ms=1200       # answers, but slowly (degraded)
    curl -X POST http://127.0.0.1:8001/_demo/recover            # back to healthy
    curl http://127.0.0.1:8001/_demo                             # what is currently broken

The region filter matches the `region=` in Outpost's User-Agent, so one simulated vantage point
can see an outage the others don't ("failing from 1 of 3 regions").
"""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_REGION = re.compile(r"region=([\w-]+)")


class DemoState:
    def __init__(self):
        self.lock = threading.Lock()
        self.failures: list[dict] = []      # each {"path": str|None, "region": str|None}
        self.slow_ms = 0

    def snapshot(self) -> dict:
        with self.lock:
            return {"failures": list(self.failures), "slow_ms": self.slow_ms}

    def is_failing(self, path: str, region: str | None) -> bool:
        with self.lock:
            return any((f["path"] in (None, path)) and (f["region"] in (None, region))
                       for f in self.failures)


def make_handler(state: DemoState):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):      # the stack prints its own summary
            pass

        def _send(self, code: int, payload: dict):
            body = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/_demo":
                return self._send(200, state.snapshot())
            match = _REGION.search(self.headers.get("User-Agent", ""))
            region = match.group(1) if match else None
            if state.slow_ms:
                time.sleep(state.slow_ms / 1000)
            if state.is_failing(url.path, region):
                return self._send(503, {"status": "down"})
            return self._send(200, {"status": "ok", "path": url.path})

        do_HEAD = do_GET

        def do_POST(self):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            with state.lock:
                if url.path == "/_demo/fail":
                    state.failures.append({"path": query.get("path"), "region": query.get("region")})
                elif url.path == "/_demo/slow":
                    state.slow_ms = int(query.get("ms", "1200"))
                elif url.path == "/_demo/recover":
                    state.failures.clear()
                    state.slow_ms = 0
                else:
                    return self._send(404, {"error": f"unknown control {url.path}"})
            return self._send(200, state.snapshot())

    return Handler


def start(host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, DemoState]:
    state = DemoState()
    server = ThreadingHTTPServer((host, port), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="demo-service", daemon=True).start()
    return server, state
