"""A vendor's Statuspage on 127.0.0.1 for third-party component tests.

It serves /api/v2/summary.json as Outpost's own v2 renderer writes it (Statuspage's shape) for a
small vendor status file, with component statuses the test sets; or misbehaves on demand:
"down" (503), "garbage" (not JSON), "nested" (JSON nested past any stack), "huge" (a 2 MiB body), "hang" (never answers).
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from chalicelib.core.config import load_status_text
from chalicelib.core.model import ComponentState, ComponentStatus, Scope
from chalicelib.core.snapshot import build_snapshot
from chalicelib.render import v2
from tests.statusfiles import component, status_yaml

VENDOR = status_yaml([component("payments", "Payments"), component("api", "Vendor API")],
                     page={"id": "vendor", "name": "Vendor Status",
                           "url": "https://status.vendor.example"},
                     checks=None)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass            # the checker hanging up on a huge body is the point, not an error


class VendorPage:
    def __init__(self):
        self.config = load_status_text(VENDOR, "vendor.yaml")
        self.statuses = {"payments": "operational", "api": "operational"}
        self.mode = "summary"
        self.requests: list[str] = []
        self.release = threading.Event()
        page = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                page.requests.append(self.path)
                if page.mode == "hang":
                    page.release.wait(30)
                    return
                code, body = page.answer(self.path)
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def summary(self) -> bytes:
        now = time.time()
        states = {cid: ComponentState(ComponentStatus(s), now, Scope(0, 0, 1, 1))
                  for cid, s in self.statuses.items()}
        return v2.render(build_snapshot(self.config, states, now, now), "summary")

    def answer(self, path: str) -> tuple[int, bytes]:
        if path != "/api/v2/summary.json":
            return 404, b'{"error":"not found"}'
        if self.mode == "down":
            return 503, b"<html>Service Unavailable</html>"
        if self.mode == "garbage":
            return 200, b"{\"components\": [oops"
        if self.mode == "nested":
            return 200, b"[" * 500_000
        if self.mode == "huge":
            return 200, b'{"components": [' + b" " * (2 << 20) + b"]}"
        return 200, self.summary()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
