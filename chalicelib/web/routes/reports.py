"""User reports: the public POST (JSON, or the page's plain HTML form) and the operators' list.

The POST is off the critical path: it shares nothing with the public GETs but the Lambda, and
any storage failure on it is a 503 for that POST alone.
"""
from __future__ import annotations

import html
import logging
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from ... import wiring
from ...core import reports as core
from ...core.reports import MAX_BODY, ReportError
from ...usecases import reporting
from .. import httpkit
from ..apierrors import ApiError
from .operator import PREFIX, operator
from .subscribe import _page as small_page

bp = Blueprint(__name__)
c = wiring.container
log = logging.getLogger("outpost.reports")
_TYPES = ["application/json", "application/x-www-form-urlencoded"]


def _json(status: int, body: dict, headers: dict | None = None) -> Response:
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store",
                             "Access-Control-Allow-Origin": "*", **(headers or {})})


def _is_form(req) -> bool:
    ctype = (req.headers or {}).get("content-type") or ""
    return ctype.startswith("application/x-www-form-urlencoded")


def _payload(req, form: bool):
    # Size first, before any parsing: a 2 MB body costs a length check, nothing more.
    raw = req.raw_body or b""
    if len(raw) > MAX_BODY:
        raise ReportError(413, f"request body is over {MAX_BODY} bytes (a note is at most "
                               "280 characters)", "body")
    if form:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ReportError(400, "form body is not UTF-8", "body") from None
        return {k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()}
    try:
        return httpkit.parse_json(raw or b"null")
    except ValueError as exc:
        raise ReportError(400, str(exc), "body") from None


def _client(req) -> reporting.Client:
    viewer, source = httpkit.client_addresses(req, c.settings.origin_secret)
    source = source or viewer      # through CloudFront (or direct): one address to count
    country = ((req.headers or {}).get("cloudfront-viewer-country"))
    return reporting.Client(httpkit.network_of(viewer), core.country(country),
                            httpkit.network_of(source) if source != viewer else None)


def _refused(err: ReportError, form: bool) -> Response:
    headers = {"Retry-After": str(err.retry_after)} if err.retry_after else {}
    if form:
        resp = small_page("Report not sent", f"<p>{html.escape(err.message)}.</p>", err.status)
        resp.headers.update(headers)
        return resp
    body = {"error": err.message}
    if err.field:
        body["field"] = err.field
    return _json(err.status, body, headers)


@bp.route("/api/v1/reports", methods=["POST"], cors=True, content_types=_TYPES)
def report():
    req = bp.current_request
    form = _is_form(req)
    try:
        payload = _payload(req, form)
        body = reporting.submit(c, payload, _client(req))
    except ReportError as err:
        return _refused(err, form)
    except Exception:                          # noqa: BLE001 - storage trouble: this POST only
        log.exception("a report could not be stored")
        return _refused(ReportError(503, "reports cannot be taken right now; the status page "
                                         "itself is unaffected", retry_after=30), form)
    if form:
        return small_page("Thanks for telling us", f"<p>{html.escape(body['message'])}</p>", 202)
    return _json(202, body)


@bp.route(PREFIX + "/reports", methods=["GET"])
@operator("subscribers:read")
def list_reports(actor):
    params = bp.current_request.query_params or {}
    try:
        limit = int(params.get("limit", 50))
    except ValueError:
        raise ApiError(400, "limit must be an integer", "limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be between 1 and 100", "limit")
    component = params.get("component")
    if component is not None and len(component) > 64:
        raise ApiError(422, "is longer than 64 characters", "component")
    try:
        items = reporting.listing(c, component, limit)
    except ReportError as err:
        raise ApiError(err.status, err.message, err.field) from None
    return Response(body=items, status_code=200,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store",
                             "X-Total-Count": str(len(items))})
