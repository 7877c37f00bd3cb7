"""Operator API (Statuspage manage API v1 shapes): parse, authenticate, call manage, render."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import uuid
from typing import Optional
from urllib.parse import urlencode

import yaml
from chalice import Blueprint, Response

from ... import wiring
from ...core import audit, auth
from ...core.errors import OutpostError
from ...core.snapshot import incident_v2, known_components, public_id
from ...usecases import manage, subscribers
from .. import httpkit
from ..apierrors import ApiError, response_for

bp = Blueprint(__name__)
c = wiring.container
log = logging.getLogger("outpost")
PREFIX = "/api/v1/pages/{page_id}"
MAX_REQUEST_BYTES = 64 * 1024
KEY_CACHE_SECONDS = auth.KEY_CACHE_SECONDS    # a revoked key stops working within this long
_UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="outpost"'}


def authenticate(header: Optional[str], viewer: str = "unknown",
                 source: Optional[str] = None) -> auth.ApiKey:
    """The key in `header`, or ApiError 401; 429 once this client has failed too often.

    `viewer` is the client's address (httpkit.client_ip) and `source` the address API Gateway saw
    (httpkit.source_ip). A missing or malformed key is refused at no cost (no read, no cache entry)
    and is always a 401. A well-formed key that fails counts against both addresses; a client
    over its limit is refused before any DynamoDB read, unless its key is one this Lambda read
    recently (no read either), so an operator sharing an address with an attacker keeps working
    while the key is cached.
    """
    token = auth.bearer_token(header)
    parts = auth.split(token) if token else None
    if not parts:
        raise ApiError(401, "missing or malformed API key: send Authorization: Bearer op_...",
                       headers=_UNAUTHORIZED)
    guard = c.key_guard
    now = c.clock()
    limits = [(guard.failures, httpkit.network_of(viewer))]
    if source and source != viewer:
        limits.append((guard.source_failures, httpkit.network_of(source)))
    found = guard.known.get(parts[0], now)
    if found is not auth.MISSING and _usable(found, parts[1], now):
        c.store.touch_key(parts[0], now)
        return found[0]
    wait = max(limiter.retry_after(client, now) for limiter, client in limits)
    if wait:
        raise ApiError(429, "too many failed authentications from this address; "
                            f"retry in {wait} s", headers={"Retry-After": str(wait)})
    try:
        return _verify(guard, parts, now)
    except ApiError:
        _count_failure(guard, limits, now)
        raise


def _usable(found, secret: str, now: float) -> bool:
    key, digest = found
    return auth.secret_matches(secret, digest) and key.usable(now)


def _verify(guard: auth.KeyGuard, parts, now: float) -> auth.ApiKey:
    key_id, secret = parts
    found = guard.known.get(key_id, now)
    if found is auth.MISSING:
        found = guard.unknown.get(key_id, now)
    if found is auth.MISSING:
        found = c.store.get_key(key_id)
        (guard.known if found else guard.unknown).put(key_id, found, now)
    if not found or not auth.secret_matches(secret, found[1]):
        raise ApiError(401, "invalid API key", headers=_UNAUTHORIZED)
    key = found[0]
    if not key.usable(now):
        reason = "revoked" if key.revoked_at is not None else "expired"
        raise ApiError(401, f"API key {reason}", headers=_UNAUTHORIZED)
    c.store.touch_key(key_id, now)
    return key


def _count_failure(guard: auth.KeyGuard, limits, now: float) -> None:
    for limiter, client in limits:
        limiter.fail(client, now)
    # Other warm Lambdas serve the same client: one shared counter (an item with a TTL) makes
    # the limit hold across them. Best effort: the local limit stands if it can't be counted.
    limiter, client = limits[0]
    try:
        shared = c.store.hit(f"auth-fail#{hashlib.sha256(client.encode()).hexdigest()[:32]}",
                             now, limiter.window)
    except Exception:                                    # noqa: BLE001 (storage trouble)
        log.warning("could not count a failed authentication in the shared counter",
                    exc_info=True)
        return
    if shared > limiter.limit:
        limiter.block(client, now, limiter.window - now % limiter.window)


def operator(scope: Optional[str] = None):
    """Authenticate, enforce scope, rate and size limits; turn domain errors into clear 4xx."""
    def wrap(view):
        @functools.wraps(view)
        def handler(page_id: str, *args, **kwargs):
            req = bp.current_request
            try:
                key = authenticate((req.headers or {}).get("authorization"),
                                   *httpkit.client_addresses(req, c.settings.origin_secret))
                if scope and scope not in key.scopes:
                    raise ApiError(403, f"this key lacks the {scope} scope")
                limit = c.config.operations.api_rate_limit
                if c.store.hit(f"key#{key.key_id}", c.clock()) > limit:
                    raise ApiError(429, f"rate limit is {limit} requests per second per key",
                                   headers={"Retry-After": "1"})
                if page_id != c.config.page.id:
                    raise ApiError(404, f"unknown page {page_id[:40]!r}")
                raw = req.raw_body or b""
                if len(raw) > MAX_REQUEST_BYTES:
                    raise ApiError(413, f"request body is over {MAX_REQUEST_BYTES} bytes")
                request_id = ((req.context or {}).get("requestId") or uuid.uuid4().hex)
                actor = manage.Actor(key.key_id, request_id)
                return view(*args, actor=actor, **kwargs)
            except OutpostError as err:     # every domain error knows its status (errors.py)
                return response_for(err)
        return handler
    return wrap


def _body() -> dict:
    raw = bp.current_request.raw_body or b""
    if not raw.strip():
        raise ApiError(400, "request body is empty; send a JSON object")
    try:
        return httpkit.parse_json(raw)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _etag(version: int) -> str:
    return f'"{version}"'


def _if_match() -> Optional[int]:
    value = (bp.current_request.headers or {}).get("if-match")
    if value is None:
        return None
    # The document's pattern exactly: int() alone would also take "+3", "1_0" or other digits.
    match = _IF_MATCH.fullmatch(value.strip())
    if not match:
        raise ApiError(400, "If-Match must be an ETag from a previous response, e.g. \"3\"",
                       "If-Match")
    return int(match.group(1))


_IF_MATCH = re.compile(r'(?:W/)?"?([0-9]{1,12})"?', re.ASCII)


def _render(doc: dict) -> dict:
    """The manage-API incident: the public v2 object plus the operator-only fields."""
    snap, _ = c.public_cache.snapshot()
    cfg = c.config
    by_id = {row["id"]: row for row in snap["components"]}      # one pass, not components^2
    rows = {comp.id: by_id[pid] for comp in cfg.components
            if (pid := public_id(cfg.page.id, "component", comp.id)) in by_id}
    out = incident_v2(doc, cfg.page.id, cfg.page.url, rows, cfg.page.time_zone)
    out.update({
        "impact_override": doc["impact_override"],
        "scheduled_for": out.get("scheduled_for"), "scheduled_until": out.get("scheduled_until"),
        "scheduled_auto_in_progress": doc["scheduled_auto_in_progress"],
        "scheduled_auto_completed": doc["scheduled_auto_completed"],
        "backfilled": doc["kind"] == "historical", "metadata": doc.get("metadata") or {},
    })
    return out


def _json(body, status: int = 200, headers: Optional[dict] = None) -> Response:
    return Response(body=body, status_code=status,
                    headers={"Content-Type": "application/json", "Cache-Control": "no-store",
                             **(headers or {})})


@bp.route(PREFIX + "/incidents", methods=["POST"])
@operator("incidents:write")
def create_incident(actor):
    payload = _body()
    idem = (bp.current_request.headers or {}).get("idempotency-key")
    if idem is not None and not (1 <= len(idem) <= 255):
        raise ApiError(400, "Idempotency-Key must be 1 to 255 characters", "Idempotency-Key")
    if isinstance(payload, dict) and isinstance(payload.get("incident"), dict) \
            and "scheduled_for" in payload["incident"]:
        _require("maintenance:write", actor)
    doc, version, replayed = manage.create_incident(c, payload, actor, idem)
    headers = {"ETag": _etag(version), "Location": f"{bp.current_request.path}/{doc['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(_render(doc), 201, headers)


def _require_for_kind(incident_id: str, actor) -> None:
    """Maintenance is also gated by maintenance:write, whichever way it is changed."""
    doc, _ = manage.get_incident(c, incident_id)
    if doc["kind"] == "scheduled":
        _require("maintenance:write", actor)


def _require(scope: str, actor) -> None:
    found = c.key_guard.known.get(actor.key_id, c.clock())     # read moments ago by authenticate
    key, _ = c.store.get_key(actor.key_id) if found is auth.MISSING else found
    if scope not in key.scopes:
        raise ApiError(403, f"this key lacks the {scope} scope")


def _listing(kind: Optional[str] = None, unresolved: bool = False, status: Optional[set] = None):
    docs = manage.list_incidents(c, kind, unresolved)
    if status:
        docs = [d for d in docs if d["status"] in status]
    params = bp.current_request.query_params or {}
    try:
        limit, page = int(params.get("limit", 50)), int(params.get("page", 1))
    except ValueError:
        raise ApiError(400, "limit and page must be integers", "limit") from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "limit must be between 1 and 100", "limit")
    if not 1 <= page <= 10_000:
        raise ApiError(400, "page must be between 1 and 10000", "page")
    query = (params.get("q") or "").lower()
    if len(query) > 200:
        raise ApiError(400, "q is longer than 200 characters", "q")
    if query:
        docs = [d for d in docs if query in d["name"].lower()
                or any(query in (u["body"] or "").lower() for u in d["updates"])]
    return _json([_render(d) for d in docs[(page - 1) * limit: page * limit]])


@bp.route(PREFIX + "/incidents", methods=["GET"])
@operator()
def list_incidents(actor):
    return _listing()


@bp.route(PREFIX + "/incidents/unresolved", methods=["GET"])
@operator()
def list_unresolved(actor):
    return _listing("incident", unresolved=True)


@bp.route(PREFIX + "/incidents/scheduled", methods=["GET"])
@operator()
def list_scheduled(actor):
    return _listing("scheduled")


@bp.route(PREFIX + "/incidents/upcoming", methods=["GET"])
@operator()
def list_upcoming(actor):
    return _listing("scheduled", status={"scheduled"})


@bp.route(PREFIX + "/incidents/active_maintenance", methods=["GET"])
@operator()
def list_active_maintenance(actor):
    return _listing("scheduled", status={"in_progress", "verifying"})


@bp.route(PREFIX + "/incidents/{incident_id}", methods=["GET"])
@operator()
def get_incident(incident_id, actor):
    doc, version = manage.get_incident(c, incident_id)
    return _json(_render(doc), headers={"ETag": _etag(version)})


@bp.route(PREFIX + "/incidents/{incident_id}", methods=["PATCH", "PUT"])
@operator("incidents:write")
def update_incident(incident_id, actor):
    payload = _body()
    _require_for_kind(incident_id, actor)
    doc, version = manage.update_incident(c, incident_id, payload, actor, _if_match())
    return _json(_render(doc), headers={"ETag": _etag(version)})


@bp.route(PREFIX + "/incidents/{incident_id}", methods=["DELETE"])
@operator("incidents:write")
def delete_incident(incident_id, actor):
    _require_for_kind(incident_id, actor)
    doc = manage.delete_incident(c, incident_id, actor, _if_match())
    return _json(_render(doc))


def _component_json(row: dict, extra: dict) -> dict:
    return {**row, "automatic_status": extra.get("automatic_status"),
            "overridden": extra.get("overridden", False), "key": extra.get("key")}


@bp.route(PREFIX + "/components", methods=["GET"])
@operator()
def list_components(actor):
    snap, _ = c.public_cache.snapshot()
    extras = (snap.get("outpost") or {}).get("components", {})
    return _json([_component_json(r, extras.get(r["id"], {})) for r in snap["components"]])


@bp.route(PREFIX + "/components/{component_id}", methods=["PATCH", "PUT"])
@operator("components:write")
def update_component(component_id, actor):
    payload = _body()
    if not isinstance(payload, dict) or not isinstance(payload.get("component"), dict):
        raise ApiError(422, 'body must be {"component": {"status": ...}}', "component")
    if set(payload) != {"component"}:
        raise ApiError(422, "unknown top-level field; wrap fields in \"component\"",
                       sorted(set(payload) - {"component"})[0][:60])
    fields = payload["component"]
    unknown = sorted(set(fields) - {"status"})
    if unknown:
        raise ApiError(422, "unknown field; only status can be changed (null clears an override)",
                       f"component.{unknown[0]}")
    if "status" not in fields:
        raise ApiError(422, "is required (null clears an override)", "component.status")
    key = manage.set_component(c, component_id, fields["status"], actor)
    c.public_cache.invalidate()
    snap, _ = c.public_cache.snapshot()
    pid = public_id(c.config.page.id, "component", key)
    row = next(r for r in snap["components"] if r["id"] == pid)
    extra = (snap.get("outpost") or {}).get("components", {}).get(pid, {})
    return _json(_component_json(row, extra))


@bp.route(PREFIX + "/subscribers", methods=["GET"])
@operator("subscribers:read")
def list_subscribers(actor):
    items = subscribers.listing(c)
    return _json(items, headers={"X-Total-Count": str(len(items))})


@bp.route(PREFIX + "/subscribers/{subscriber_id}", methods=["DELETE"])
@operator("subscribers:write")
def delete_subscriber(subscriber_id, actor):
    if not subscribers.remove(c, subscriber_id[:64], actor):
        raise ApiError(404, "no such subscriber")
    return _json({"id": subscriber_id, "deleted": True})


@bp.route(PREFIX + "/audit", methods=["GET"])
@operator("audit:read")
def list_audit(actor):
    """The audit log, newest first, filtered and paged by a cursor (chalicelib/core/audit.py)."""
    params = bp.current_request.query_params or {}
    try:
        query = audit.parse_query(params, c.clock())
    except audit.BadQuery as err:
        raise ApiError(400, err.message, err.field) from None
    items, cursor = audit.read(c.store.audit_rows, query)
    headers = {}
    if cursor:
        following = {k: v for k, v in params.items() if k != "cursor"}
        following["cursor"] = cursor
        headers["X-Next-Cursor"] = cursor
        headers["Link"] = (f'</api/v1/pages/{c.config.page.id}/audit?{urlencode(following)}>; '
                           'rel="next"')
    return _json(items, headers=headers)


_openapi_cache: dict = {}


def openapi_document() -> dict:
    """The static document, plus this deployment's page id and component ids: the API serves
    exactly one page, so saying which one makes the document more precise, not less true."""

    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "openapi.yaml")) as fh:
        doc = yaml.safe_load(fh)
    params = doc["components"]["parameters"]
    params["page_id"]["schema"] = {"type": "string", "enum": [c.config.page.id]}
    known = sorted(known_components(c.config))
    params["component_id"]["schema"]["examples"] = known
    # Any other id is a 422 (in a body or a filter), so the document names the ones there are.
    doc["components"]["schemas"]["ComponentRef"] = {"type": "string", "enum": known}
    return doc


@bp.route("/api/v1/openapi.json", methods=["GET"], cors=True)
def openapi():
    """The operator API's OpenAPI 3.1 document (kept true by tests/api/test_openapi.py)."""
    if "body" not in _openapi_cache:
        _openapi_cache["body"] = json.dumps(openapi_document())
    return Response(body=_openapi_cache["body"], status_code=200,
                    headers={"Content-Type": "application/json",
                             "Cache-Control": "public, max-age=300"})
