"""Public subscription routes: sign up, verify an SMS code, unsubscribe (GET shows, POST acts)."""
from __future__ import annotations

import html
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from ... import wiring
from ...usecases import subscribers
from ...usecases.subscriber_links import mask
from ...usecases.subscribers import SubscribeError
from .. import httpkit

bp = Blueprint(__name__)
c = wiring.container
MAX_BODY = 4096
_FORM = ["application/json", "application/x-www-form-urlencoded"]


def _json(status: int, body: dict) -> Response:
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store",
                             "Access-Control-Allow-Origin": "*"})


def _error(err: SubscribeError) -> Response:
    body = {"error": err.message}
    if err.field:
        body["field"] = err.field
    resp = _json(err.status, body)
    if err.status in (429, 503) or err.retry_after:
        # when the cap's window starts over (its counters are fixed windows), else an hour
        resp.headers["Retry-After"] = str(err.retry_after or 3600)
    return resp


def _is_form() -> bool:
    ctype = (bp.current_request.headers or {}).get("content-type") or ""
    return ctype.startswith("application/x-www-form-urlencoded")


def _payload():
    raw = bp.current_request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise SubscribeError(413, f"request body is over {MAX_BODY} bytes")
    if _is_form():
        # The page's plain HTML form: the same fields, components as a comma list.
        fields = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if "components" in fields:
            fields["components"] = [p for p in fields["components"].split(",") if p]
        return fields
    try:
        return httpkit.parse_json(raw or b"null")
    except ValueError as exc:
        raise SubscribeError(400, str(exc)) from None


def _ip() -> str:
    # The visitor as CloudFront names it, not the edge server every visitor shares (that made
    # the per-IP caps one cap for everyone); a caller that skips CloudFront is its own source.
    # Without the origin secret (local stack) nothing proves the header: the source counts.
    req, secret = bp.current_request, c.settings.origin_secret
    return httpkit.network_of(httpkit.client_addresses(req, secret)[0] if secret
                           else httpkit.source_ip(req))


@bp.route("/api/v1/subscribe", methods=["POST"], cors=True, content_types=_FORM)
def subscribe():
    form = _is_form()
    try:
        status, body = subscribers.subscribe(c, _payload(), _ip())
    except SubscribeError as err:
        if form:
            return _page("Not subscribed", f"<p>{html.escape(err.message)}.</p>", err.status)
        return _error(err)
    if form:
        return _page("Almost there", f"<p>{html.escape(body['message'])}</p>", status)
    return _json(status, body)


@bp.route("/api/v1/subscribe/verify", methods=["POST"], cors=True)
def verify():
    try:
        status, body = subscribers.verify(c, _payload())
    except SubscribeError as err:
        return _error(err)
    return _json(status, body)


def _page(title: str, inner: str, status: int = 200) -> Response:
    name = html.escape(c.config.page.name)
    doc = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{html.escape(title)} - {name}</title>"
           "<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;"
           "padding:0 1rem}button{font:inherit;padding:.5rem 1rem}</style></head>"
           f"<body><main><h1>{html.escape(title)}</h1>{inner}"
           f'<p><a href="{html.escape(c.config.page.url)}">Back to {name}</a></p>'
           "</main></body></html>")
    return Response(body=doc, status_code=status,
                    headers={"Content-Type": "text/html; charset=utf-8",
                             "Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


@bp.route("/api/v1/unsubscribe/{token}", methods=["GET"])
def unsubscribe_form(token):
    # Link scanners follow every URL in a mail; a GET must never change anything.
    try:
        doc = subscribers.describe_token(c, token)
    except SubscribeError as err:
        return _page("Link not valid", f"<p>{html.escape(err.message)}.</p>", err.status)
    if doc["state"] == "unsubscribed":
        return _page("Already unsubscribed", "<p>You will not get further messages.</p>")
    who = html.escape(mask(doc))
    return _page("Unsubscribe?",
                 f"<p>Stop sending {html.escape(c.config.page.name)} updates to {who}?</p>"
                 f'<form method="post"><button type="submit">Unsubscribe</button></form>')


@bp.route("/api/v1/unsubscribe/{token}", methods=["POST"], content_types=_FORM)
def unsubscribe(token):
    wants_json = "json" in ((bp.current_request.headers or {}).get("accept") or "")
    try:
        doc = subscribers.unsubscribe(c, token)
    except SubscribeError as err:
        if wants_json:
            return _error(err)
        return _page("Link not valid", f"<p>{html.escape(err.message)}.</p>", err.status)
    if wants_json:
        return _json(200, {"subscriber": {"id": doc["id"], "state": doc["state"]}})
    return _page("Unsubscribed", f"<p>{html.escape(mask(doc))} will get no further "
                                 "messages.</p>")
