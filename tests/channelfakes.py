"""Fake chat and on-call services on 127.0.0.1, reached by Apprise with the services' real URLs.

Slack, Discord, Google Chat, Telegram, PagerDuty and Opsgenie have fixed host names in Apprise
(hooks.slack.com, discord.com...), so `FakeServices` listens on port 443 of a loopback address of
its own (127.x.y.z, one per instance, so parallel tests don't collide) with a certificate for
all of those names, and the tests hand the channel sender a resolver that answers that address
(the production sender connects to whatever address its resolver validated, so nothing else
is patched) and REQUESTS_CA_BUNDLE naming the certificate, so TLS is verified as in production.
Teams (Power Automate workflows) and Matrix take a host of their own. Binding port 443 needs
root, which this machine and CI have.

Each request is recorded as (host, method, path, json body); `fail_next` answers 500 that many
times, `hang` accepts and never answers.
"""
from __future__ import annotations

import datetime
import json
import os
import random
import re
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

FIXED_HOSTS = ("hooks.slack.com", "discord.com", "chat.googleapis.com", "api.telegram.org",
               "events.pagerduty.com", "api.opsgenie.com")
TEAMS_HOST = "prod-00.westeurope.logic.azure.com"
MATRIX_HOST = "matrix.acme.example"
ALL_HOSTS = FIXED_HOSTS + (TEAMS_HOST, MATRIX_HOST)

# The services' real URL forms (the README has them), with fake tokens.
URLS = {
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops",
    "discord": "discord://123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "gchat": "gchat://AAAAspace/AIzaSyKey123/tokenXYZ123",
    "telegram": "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-1001234567890",
    "pagerduty": "pagerduty://R0UT1NGKEY0123456789abcdef012345@APIKEY0123456789",
    "opsgenie": "opsgenie://0123abcd-4567-89ef-0123-456789abcdef/",
    "teams": f"workflow://{TEAMS_HOST}:443/a1b2c3d4e5f6/SiGnAtUrE-0123456789",
    "matrix": f"matrixs://outpost:hunter2secret@{MATRIX_HOST}/#ops",
}


def _certificate(directory: str) -> tuple[str, str]:
    """A self-signed certificate for every fake host name: (cert+key file, CA bundle file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "outpost test services")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in ALL_HOSTS]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    both = os.path.join(directory, "server.pem")
    with open(both, "wb") as fh:
        fh.write(pem + key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
    bundle = os.path.join(directory, "ca.pem")
    with open(bundle, "wb") as fh:
        fh.write(pem)
    return both, bundle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class FakeServices:
    def __init__(self):
        self.requests: list[tuple[str, str, str, object]] = []
        self.fail_next, self.hang = 0, False
        self._stop = threading.Event()
        self._dir = tempfile.TemporaryDirectory()
        server_pem, self.ca_bundle = _certificate(self._dir.name)
        fakes = self
        for _ in range(20):
            self.address = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}." \
                           f"{random.randint(1, 254)}"
            try:
                self.server = _Server((self.address, 443), self._handler())
                break
            except PermissionError:
                # Not root (and no CAP_NET_BIND_SERVICE): services with fixed host names can't
                # be faked on their real port here. Say so rather than fail.
                pytest.skip("faking fixed-host services needs port 443 (root)")
            except OSError:
                continue
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(server_pem)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.resolver = lambda host: [fakes.address] if host in ALL_HOSTS else []

    def _handler(self):
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self, status: int, body: object) -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    doc = json.loads(raw) if raw else None
                except ValueError:
                    doc = raw.decode("utf-8", "replace")
                host = (self.headers.get("Host") or "").split(":")[0]
                if fakes.hang:
                    fakes._stop.wait(60)
                    return
                if self.path.startswith("/.well-known/matrix/client"):
                    return self._answer(200, {"m.homeserver": {"base_url": f"https://{host}"}})
                if self.path.startswith("/_matrix/client/versions"):
                    return self._answer(200, {"versions": ["v1.11"]})
                if "/login" in self.path or "whoami" in self.path or "/join/" in self.path:
                    # Matrix's steps before the message: not messages themselves
                    return self._answer(200, {"access_token": "syt_fake", "room_id": "!r:acme",
                                              "user_id": "@outpost:acme",
                                              "home_server": MATRIX_HOST})
                fakes.requests.append((host, self.command, self.path, doc))
                if fakes.fail_next > 0:
                    fakes.fail_next -= 1
                    return self._answer(500, {"error": "try later"})
                if host == "hooks.slack.com":
                    return self._answer(200, b"ok")
                if host in ("events.pagerduty.com", "api.opsgenie.com", TEAMS_HOST):
                    return self._answer(202, {"status": "success", "requestId": "r1"})
                if host == "api.telegram.org":
                    return self._answer(200, {"ok": True, "result": {"message_id": 1}})
                return self._answer(200, {"event_id": "$e1", "name": "spaces/x/messages/y"})
            do_POST = do_PUT = do_GET = _serve
        return Handler

    def messages(self, host: str) -> list:
        """The message bodies a service received (Matrix: its room messages)."""
        return [doc for h, _, path, doc in self.requests if h == host]

    def close(self):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._dir.cleanup()


def wait_for(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not predicate():
        time.sleep(0.02)
    return predicate()


def the_text(host: str, doc) -> str:
    """The visible text of one message, per service's payload format."""
    if host == "hooks.slack.com":
        a = doc["attachments"][0]
        return f"{a.get('title', '')}\n{a['text']}"
    if host == "discord.com":
        return doc["content"]
    if host == "api.telegram.org":
        return doc["text"]
    if host == "chat.googleapis.com":
        return doc["text"]
    if host == "events.pagerduty.com":
        return doc["payload"]["summary"]
    if host == "api.opsgenie.com":
        return f"{doc['message']}\n{doc['description']}"
    if host == MATRIX_HOST:
        return doc["body"]
    if host == TEAMS_HOST:
        # Apprise escapes the text's markdown characters; Teams shows them unescaped
        card = doc["attachments"][0]["content"]["body"]
        return re.sub(r"\\(.)", r"\1", "\n".join(b.get("text", "") for b in card
                                                  if b.get("type") == "TextBlock"))
    raise AssertionError(host)


