"""Regression tests from the adversarial review of the notification path (issue 10)."""
import socket
import threading

import pytest

from chalicelib.webhooks import DeliveryFailed, post as post_hook
from tests.api.test_notifications import post, wired  # noqa: F401 - fixture


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
