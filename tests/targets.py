"""Real HTTP targets on 127.0.0.1 that tests can break and mend while a check runs against them."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # Checks arrive all at once; socketserver's default backlog of 5 drops SYNs, which the
    # client only retries after 1 s: a test's 1 s timeout then fails a healthy target.
    request_queue_size = 128


class Target:
    """One HTTP server; `behaviour` decides each answer: ("ok"|"fail"|"hang"|"slow", extra)."""

    def __init__(self):
        self.behaviour = "ok"
        self.slow_seconds = 0.0
        self.requests: list[dict] = []
        self.release = threading.Event()
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                target.requests.append({"path": self.path, "ua": self.headers.get("User-Agent"),
                                        "at": time.monotonic()})
                mode = target.behaviour
                if mode == "hang":
                    target.release.wait(30)
                    return
                if mode == "slow":
                    time.sleep(target.slow_seconds)
                code, body = (503, {"status": "down"}) if mode == "fail" else (200, {"status": "ok"})
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
