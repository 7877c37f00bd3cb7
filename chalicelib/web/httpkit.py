"""Small HTTP helpers shared by routes: conditional GETs, cache headers, the client's address."""
from __future__ import annotations

import hmac
import ipaddress
import json
from typing import Optional

from chalice import Response

from ..core.caching import PUBLIC_CACHE_CONTROL


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip() for t in if_none_match.split(",")]
    return etag in tags or f"W/{etag}" in tags


# Outpost's own pages (the subscribe and report forms among them) are never framed by another
# site: no clickjacking. /embed, made to be framed, replaces this with its allow-list.
NO_FRAMING = {"Content-Security-Policy": "frame-ancestors 'none'", "X-Frame-Options": "DENY"}


def cached(request, body: str, etag: str, content_type: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE_CONTROL,
               "Access-Control-Allow-Origin": "*", "Vary": "Accept-Encoding"}
    if "html" in content_type:
        headers.update(NO_FRAMING)
    if _matches((request.headers or {}).get("if-none-match"), etag):
        return Response(body="", status_code=304, headers=headers)
    headers["Content-Type"] = content_type + ("; charset=utf-8" if "json" in content_type
                                              or "html" in content_type else "")
    return Response(body=body, status_code=200, headers=headers)


def unavailable(retry_after: int = 5) -> Response:
    """Storage is down and nothing is cached: say so, briefly, and let CDNs use stale-if-error."""
    return Response(body={"error": "status temporarily unavailable", "retry_after": retry_after},
                    status_code=503, headers={"Retry-After": str(retry_after),
                                              "Cache-Control": "no-store",
                                              "Access-Control-Allow-Origin": "*"})


def _no_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes):
    """Strict JSON from a request body; ValueError with a message fit for a 400.

    Refuses what Python's json would let through but later output can't carry: NaN/Infinity,
    lone surrogates (they can't be encoded as UTF-8 anywhere downstream), and nesting deep
    enough to exhaust the stack.
    """
    try:
        value = json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("request body is nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("request body is not UTF-8") from None
    except ValueError as exc:
        raise ValueError(f"request body is not valid JSON: {exc}") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("request body contains an invalid Unicode character "
                         "(a lone surrogate)") from None
    except RecursionError:
        raise ValueError("request body is nested too deeply") from None
    return value


# --- who is asking ----------------------------------------------------------------------------

VIEWER_ADDRESS = "cloudfront-viewer-address"     # chalice lower-cases header names
ORIGIN_HEADER = "x-outpost-origin"               # CloudFront's proof, set on the API origin


def source_ip(request) -> str:
    """The address API Gateway saw: behind CloudFront, an edge server's, shared by many."""
    identity = ((request.context or {}).get("identity") or {}) if request is not None else {}
    return _valid_ip(identity.get("sourceIp")) or "unknown"


def client_ip(request) -> str:
    """The visitor's address: CloudFront's `CloudFront-Viewer-Address` when present, else the
    source address API Gateway saw.

    CloudFront writes the header itself ("198.51.100.7:46532"; IPv6 as "2001:db8::7:46532",
    the bracketed "[2001:db8::7]:46532" is read too), so it can be trusted on requests that came
    through CloudFront. A caller that reaches the execute-api origin directly can send any value,
    so a limit that matters should also count `source_ip` (with a higher bound).
    """
    header = ((request.headers or {}).get(VIEWER_ADDRESS) if request is not None else None)
    return viewer_address(header) or source_ip(request)


def client_addresses(request, origin_secret: Optional[str]) -> tuple[str, Optional[str]]:
    """(the address a per-client limit counts, a second address to count with a higher bound
    or None).

    With `origin_secret` (production: CloudFront sends it in X-Outpost-Origin, and overwrites
    any value a viewer sends), a request that carries it came through CloudFront: its
    CloudFront-Viewer-Address is the visitor, and its source is an edge or Origin Shield server
    that every visitor shares, so the source is not counted (failures spread over many viewers
    would otherwise lock every operator out). A request without it reached the execute-api
    origin directly: its viewer header is the caller's to forge (to dodge the limit, or to
    spend another address's), so only the source API Gateway saw is counted. Without a secret
    (local stack, tests) the header is believed and the source counted as well."""
    if not origin_secret:
        return client_ip(request), source_ip(request)
    sent = ((request.headers or {}).get(ORIGIN_HEADER) if request is not None else None) or ""
    if hmac.compare_digest(sent.encode(), origin_secret.encode()):
        return client_ip(request), None
    return source_ip(request), None


def viewer_address(value: Optional[str]) -> Optional[str]:
    """The IP address in a CloudFront-Viewer-Address value, or None if it isn't one."""
    if not value or len(value) > 64:
        return None
    value = value.strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
    else:
        host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return _valid_ip(host)


def _valid_ip(text) -> Optional[str]:
    try:
        if isinstance(text, str) and len(text) <= 64:
            return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    return None


def network_of(ip: str) -> str:
    """What a per-client limit should count: an IPv4 address, or the /64 an IPv6 address is in
    (one subscriber's usual allocation, which hands its owner 2^64 addresses to rotate)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))
