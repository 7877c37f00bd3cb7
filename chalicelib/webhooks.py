"""I/O: deliver one signed webhook. Outpost posts webhooks itself (not through SNS) so that each
subscriber gets Statuspage's payload as the whole body and its own HMAC signature header.

The SSRF guard applies as for checks: the host is resolved once, every address must be public
(unless private targets are allowed), and the connection goes to the validated address.
Redirects are not followed.
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional
from urllib.parse import urlsplit

import urllib3

from . import __version__, ssrf

TIMEOUT_SECONDS = 10.0


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def url_problem(url: str, allow_private: bool) -> Optional[str]:
    """Why this URL can't be a webhook, or None."""
    try:
        parts = urlsplit(url)
        parts.port                               # raises on a port that isn't one
    except ValueError as exc:
        return f"is not a valid URL: {exc}"
    allowed = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        return "must be an https:// URL" if not allow_private else "must be an http(s):// URL"
    if len(url) > 2000:
        return "is longer than 2000 characters"
    try:
        ssrf.resolve(parts.hostname, allow_private)
    except ssrf.Refused as exc:
        return str(exc)
    return None


class DeliveryFailed(Exception):
    pass


def post(url: str, body: bytes, secret: str, event_id: str, allow_private: bool,
         page_url: str) -> int:
    """POST the body; returns the status. Raises DeliveryFailed on anything but a 2xx."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise DeliveryFailed(f"bad URL: {exc}") from None
    host = parts.hostname or ""
    https = parts.scheme == "https"
    try:
        address = str(ssrf.resolve(host, allow_private)[0])
    except ssrf.Refused as exc:
        raise DeliveryFailed(str(exc)) from None
    timeout = urllib3.Timeout(connect=5.0, read=TIMEOUT_SECONDS)
    if https:
        pool = urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False,
                                           server_hostname=host, assert_hostname=host,
                                           cert_reqs="CERT_REQUIRED")
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": host if port in (80, 443) else f"{host}:{port}",
               "Content-Type": "application/json",
               "User-Agent": f"Outpost/{__version__} (+{page_url}; webhook)",
               "X-Outpost-Signature": signature(secret, body),
               "X-Outpost-Event-Id": event_id}
    try:
        # Don't read the receiver's body: a receiver trickling an endless one must not hold
        # the notifier; the status line is all we need.
        resp = pool.urlopen("POST", path, body=body, headers=headers, redirect=False,
                            retries=False, assert_same_host=False, preload_content=False)
        resp.release_conn()
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {str(exc)[:120]}") from None
    finally:
        pool.close()
    if not 200 <= resp.status < 300:
        raise DeliveryFailed(f"HTTP {resp.status}")
    return resp.status
