"""Regression tests from the adversarial review of the notification path (issue 10)."""
import socket
import threading

import pytest

from chalicelib.adapters.webhooks import DeliveryFailed
from chalicelib.adapters.webhooks import post as post_hook
from tests.api.calls import incident, post
from tests.api.hooks import active_webhook


@pytest.mark.parametrize("url", ["https://a\u0000b.example.com/hook",
                                 "https://hooks.example.com/a\u0000b",
                                 "https://hooks.example.com/a\nb"])
def test_a_webhook_url_with_a_control_character_is_a_422_not_a_500(wired, url):
    c, client, *_ = wired
    resp, body = post(client, "/api/v1/subscribe", {"webhook": url})
    assert resp.status_code == 422, body
    assert body["field"] == "webhook"


def _answering(status_line: bytes):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.sendall(status_line + b"\r\nContent-Length: 0\r\n\r\n")
            conn.close()
    threading.Thread(target=serve, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.getsockname()[1]}/hook"


@pytest.mark.parametrize("line", ["HTTP/1.1 \u00b200 OK", "HTTP/1.1 2\u00b3 OK",
                                  "HTTP/1.1 +200 OK"])
def test_a_status_line_with_odd_digits_is_a_failed_delivery_not_a_crash(line):
    """A receiver's answer is its business: the worker must count it as a failure (retry,
    breaker), never raise an error of its own (which SQS would redeliver without backoff and
    park in the dead-letter queue without a reason)."""
    srv, url = _answering(line.encode("latin-1"))
    try:
        with pytest.raises(DeliveryFailed, match="not an HTTP response"):
            post_hook(url, b"{}", {}, True, 3.0)
    finally:
        srv.close()


def test_the_stream_consumer_costs_the_same_for_250_webhooks_as_for_a_few(wired):
    """A year of verified webhook sign-ups (the cap lets 100 an hour through) must not make the
    stream consumer's work per event grow with them: past a page, the worker fans out. Every
    webhook still gets the event exactly once."""
    import json as _json

    c, client, clock, key, pump, drain, receiver, hooks = wired
    n = 250
    for i in range(n):
        active_webhook(c, receiver.url, f"w{i:03d}")
    claims, batches = [], []
    real_claim, real_batch = c.store.claim_idempotency, c.deliveries.client.send_message_batch
    c.store.claim_idempotency = lambda *a, **kw: claims.append(a[0]) or real_claim(*a, **kw)
    c.deliveries.client.send_message_batch = \
        lambda **kw: batches.append(len(kw["Entries"])) or real_batch(**kw)
    incident(client, key)
    claims.clear()
    hooks.reader.poll(lambda ev: client.lambda_.invoke("on_state_change", ev).payload)
    assert len(claims) <= 5, claims
    assert len(batches) <= 12, batches
    for _ in range(20):                                  # the worker fans out, then posts
        if not hooks.deliver():
            break
    got = [_json.loads(body)["meta"]["unsubscribe"] for _, body in receiver.deliveries]
    assert len(got) == n and len(set(got)) == n
    assert hooks.queued() == []
