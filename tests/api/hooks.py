"""Webhook receivers on 127.0.0.1 (well-behaved, flaky, tarpit, blackhole) and the harness that
runs the real delivery worker over moto's delivery queue, as Lambda's SQS event source would.

moto holds a delayed message for real seconds; the tests run on a fake clock. `advance` moves
both: the test clock, and every delay moto is holding (so "15 minutes later" takes no time).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3

from chalicelib import deliveries
from chalicelib.queues import DeliveryQueue
from local.queues import QueuePump

ACCOUNT, REGION = "123456789012", "us-east-1"


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


class Receiver:
    """A webhook endpoint. Answers url_verification challenges (`echo`: "right", "wrong" or
    "none"), and events with `status` (or 500 while `fail_next` > 0). Records each challenge in
    `verifications`, each event try in `hits` (headers, body, status) and each event it
    accepted in `deliveries` (headers, body)."""

    def __init__(self, status=200, echo="right"):
        self.deliveries, self.verifications, self.hits = [], [], []
        self.status, self.echo, self.fail_next = status, echo, 0
        self.hold, self.waiting = None, 0      # set `hold` to an Event to keep events waiting
        rec = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers)
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = None
                out = b""
                if isinstance(doc, dict) and doc.get("type") == "url_verification":
                    rec.verifications.append((headers, body))
                    status = 200
                    if rec.echo == "right":
                        out = json.dumps({"challenge": doc["challenge"]}).encode()
                    elif rec.echo == "wrong":
                        out = json.dumps({"challenge": "not-it"}).encode()
                else:
                    if rec.hold is not None:
                        rec.waiting += 1
                        rec.hold.wait(10)
                    if rec.fail_next > 0:
                        rec.fail_next -= 1
                        status = 500
                    else:
                        status = rec.status
                    if 200 <= status < 300:
                        rec.deliveries.append((headers, body))
                    rec.hits.append((headers, body, status))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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


def _moto_queue(url):
    from moto.sqs.models import sqs_backends
    name = url.rsplit("/", 1)[1]
    return sqs_backends[ACCOUNT][REGION].queues[name]


class Deliveries:
    """The delivery queue on moto and the real worker handler behind it."""

    def __init__(self, c, client, clock):
        self.c, self.client, self.clock = c, client, clock
        self.sqs = boto3.client("sqs", region_name=REGION)
        dlq = self.sqs.create_queue(QueueName="deliveries-dlq")["QueueUrl"]
        self.url = self.sqs.create_queue(QueueName="deliveries")["QueueUrl"]
        self.dlq = dlq
        c.override(deliveries=DeliveryQueue(REGION, self.url, dlq))
        self.pump = QueuePump(self.sqs, self.url)
        self.outcomes = []

    def deliver(self):
        """One pass of the worker over what is visible now; returns how many it took."""
        return self.pump.poll(lambda ev: self.client.lambda_.invoke("deliver", ev).payload)

    def queued(self):
        """The deliveries waiting in the queue (decoded), with the DelaySeconds each was sent
        with, without receiving them."""
        out = []
        for m in _moto_queue(self.url)._messages:
            delay = max(0.0, (m.delayed_until - m.sent_timestamp) / 1000) if m.delayed_until else 0
            out.append((deliveries.decode(m.body), delay))
        return out

    def advance(self, seconds):
        """Move the test clock and every delay moto holds by `seconds`."""
        self.clock.tick(seconds)
        for m in _moto_queue(self.url)._messages:
            if m.delayed_until:
                m.delayed_until -= seconds * 1000

    def advance_to_next(self):
        """Jump to the earliest `not_before` among queued deliveries; False if none is queued."""
        waiting = [d.not_before for d, _ in self.queued()]
        if not waiting:
            return False
        self.advance(max(0.0, min(waiting) - self.clock()))
        for m in _moto_queue(self.url)._messages:        # whole seconds in SQS: round up
            m.delayed_until = 0.0
        return True

    def dead_letters(self):
        got = self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]

    def subscribe(self, post, url, **extra):
        """Sign a webhook up and let the worker run its challenge; (response, body)."""
        resp, body = post(self.client, "/api/v1/subscribe", {"webhook": url, **extra})
        assert resp.status_code == 202, body
        self.deliver()
        return resp, body


def wait_until(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
