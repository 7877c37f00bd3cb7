"""Fake Mastodon and Bluesky servers on 127.0.0.1, implementing only the endpoints Outpost's
client libraries (Mastodon.py, atproto) call: enough to drive the real libraries end to end.

Mastodon: POST /api/v1/statuses (with Idempotency-Key, as the real server honours it),
GET /api/v1/notifications. Bluesky (XRPC): com.atproto.server.createSession,
com.atproto.repo.createRecord, app.bsky.notification.listNotifications.
`fail_next = n` answers the next n posts with HTTP 500. Both keep what was posted in `posts`.
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import regex


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Fake:
    def __init__(self):
        self.posts: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _reply(self, status, doc):
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "json" in (self.headers.get("Content-Type") or ""):
                    return json.loads(raw or b"{}")
                return {k: v[-1] for k, v in parse_qs(raw.decode()).items()}

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def _route(self, method):
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                body = self._body() if method == "POST" else {}
                with fake.lock:
                    fake.requests.append((method, url.path))
                    status, doc = fake.handle(method, url.path, query, body, self.headers)
                self._reply(status, doc)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _failing(self) -> bool:
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeMastodon(_Fake):
    TOKEN = "mastodon-token"

    def __init__(self):
        self.ids = itertools.count(110_000_000_000_000_001)
        self.by_key: dict[str, dict] = {}
        self.notifications: list[dict] = []     # newest last
        super().__init__()

    def _account(self, n: int, acct: str) -> dict:
        return {"id": str(n), "username": acct.split("@")[0], "acct": acct,
                "display_name": acct, "url": f"{self.url}/@{acct}", "created_at": _now_iso()}

    def handle(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return 401, {"error": "The access token is invalid"}
        if method == "POST" and path == "/api/v1/statuses":
            key = headers.get("Idempotency-Key")
            if key and key in self.by_key:
                return 200, self.by_key[key]
            if self._failing():
                return 500, {"error": "Internal server error"}
            text = body.get("status") or ""
            if len(text) > 500:
                return 422, {"error": "Validation failed: Text character limit of 500 exceeded"}
            status = {"id": str(next(self.ids)), "content": text, "text": text,
                      "in_reply_to_id": body.get("in_reply_to_id") or None,
                      "visibility": body.get("visibility") or "public",
                      "created_at": _now_iso(), "account": self._account(1, "acme"),
                      "uri": "", "url": "", "mentions": [], "tags": [], "emojis": [],
                      "media_attachments": []}
            self.posts.append(status)
            if key:
                self.by_key[key] = status
            return 200, status
        if method == "GET" and path == "/api/v1/notifications":
            since = int((query.get("since_id") or ["0"])[0])
            limit = int((query.get("limit") or ["40"])[0])
            types = query.get("types[]") or []
            found = [n for n in reversed(self.notifications)
                     if int(n["id"]) > since and (not types or n["type"] in types)]
            return 200, found[:limit]
        return 404, {"error": "Record not found"}

    def mention(self, who: str, text: str, when: str | None = None) -> dict:
        """Someone mentions the official account."""
        n = len(self.notifications) + 1
        acct_id = 1000 + int(hashlib.sha256(who.encode()).hexdigest()[:6], 16)
        status = {"id": str(next(self.ids)), "content": f"<p>{text}</p>",
                  "created_at": when or _now_iso(), "account": self._account(acct_id, who)}
        note = {"id": str(n), "type": "mention", "created_at": status["created_at"],
                "account": self._account(acct_id, who), "status": status}
        self.notifications.append(note)
        return note


def _jwt(claims: dict) -> str:
    def part(doc):
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class FakeBluesky(_Fake):
    HANDLE = "acme.bsky.example"
    PASSWORD = "app-pass-word-here"
    DID = "did:plc:acmeacmeacmeacmeacmeacme"

    def __init__(self):
        self.rkeys = itertools.count(1)
        self.notifications: list[dict] = []
        self.sessions = 0
        super().__init__()

    def handle(self, method, path, query, body, headers):
        if path == "/xrpc/com.atproto.server.createSession" and method == "POST":
            if body.get("identifier") != self.HANDLE or body.get("password") != self.PASSWORD:
                return 401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
            self.sessions += 1
            now = int(time.time())
            claims = {"scope": "com.atproto.appPass", "sub": self.DID, "iat": now,
                      "exp": now + 7200, "aud": "did:web:fake"}
            return 200, {"accessJwt": _jwt(claims), "refreshJwt": _jwt({**claims,
                         "scope": "com.atproto.refresh", "exp": now + 86400}),
                         "handle": self.HANDLE, "did": self.DID, "active": True}
        if not (headers.get("Authorization") or "").startswith("Bearer "):
            return 401, {"error": "AuthenticationRequired", "message": "no session"}
        if path == "/xrpc/com.atproto.repo.createRecord" and method == "POST":
            if self._failing():
                return 500, {"error": "InternalServerError", "message": "try again"}
            record = body.get("record") or {}
            text = record.get("text") or ""

            if len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
                return 400, {"error": "InvalidRequest", "message": "Record/text must not be longer than 300 graphemes"}
            rkey = f"3k{next(self.rkeys):011d}"
            uri = f"at://{self.DID}/{body.get('collection')}/{rkey}"
            cid = "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:52]
            self.posts.append({"uri": uri, "cid": cid, "repo": body.get("repo"), "record": record})
            return 200, {"uri": uri, "cid": cid}
        if path == "/xrpc/app.bsky.notification.listNotifications" and method == "GET":
            limit = int((query.get("limit") or ["50"])[0])
            return 200, {"notifications": list(reversed(self.notifications))[:limit]}
        return 404, {"error": "MethodNotImplemented", "message": path}

    def mention(self, who: str, text: str, when: str | None = None) -> dict:
        n = len(self.notifications) + 1
        did = "did:plc:" + hashlib.sha256(who.encode()).hexdigest()[:24]
        uri = f"at://{did}/app.bsky.feed.post/3m{n:011d}"
        at = when or _now_iso()
        note = {"uri": uri, "cid": "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:52],
                "author": {"did": did, "handle": who},
                "reason": "mention", "isRead": False, "indexedAt": at,
                "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": at}}
        self.notifications.append(note)
        return note
