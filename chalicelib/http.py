"""Small HTTP helpers shared by routes: conditional GETs and cache headers."""
from __future__ import annotations

from chalice import Response

# Browsers and CDNs may reuse a response for 15 s, keep serving it for a minute while they fetch
# a fresh one, and for a day if we are failing: a stale page beats no page during an outage.
PUBLIC_CACHE_CONTROL = "public, max-age=15, stale-while-revalidate=60, stale-if-error=86400"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip() for t in if_none_match.split(",")]
    return etag in tags or f"W/{etag}" in tags


def cached(request, body: str, etag: str, content_type: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": PUBLIC_CACHE_CONTROL,
               "Access-Control-Allow-Origin": "*", "Vary": "Accept-Encoding"}
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
