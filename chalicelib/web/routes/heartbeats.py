"""Heartbeat monitors over HTTP: the jobs' secret beat URL, and the operators' token rotation.

`POST|GET /api/v1/heartbeat/{token}` is public (the token is the credential), so each request
costs bounded work: a malformed token is refused with no read, an unknown one after one
GetItem and no write, a known one with at most one small conditional write, and beats closer
together than the monitor's spacing are coalesced (chalicelib.core.heartbeats.should_record).
"""
from __future__ import annotations

import logging
from typing import Optional

from chalice import Blueprint, Response

from ... import wiring
from ...core import heartbeats
from ...core.model import Monitor
from ...core.snapshot import iso_ms
from ..apierrors import ApiError
from .operator import PREFIX, operator

bp = Blueprint(__name__)
c = wiring.container
log = logging.getLogger("outpost.heartbeats")
BEAT_PATH = "/api/v1/heartbeat/{token}"
_NO_STORE = {"Content-Type": "application/json", "Cache-Control": "no-store"}


def _json(body, status: int = 200) -> Response:
    return Response(body=body, status_code=status, headers=dict(_NO_STORE))


def _heartbeat_monitors() -> dict[str, tuple[str, Monitor]]:
    return {m.id: (comp.id, m) for comp, m in c.config.monitors() if m.kind == "heartbeat"}


# Whatever a job's HTTP client sends (curl -d sends a form type): the body is never read, so
# no content type is refused (no 415).
@bp.route(BEAT_PATH, methods=["GET", "POST"], content_types=["*/*"])
def beat(token: str):
    req = bp.current_request
    params = req.query_params or {}
    try:
        state = params.get("status", "ok")
        if state not in heartbeats.STATES:
            raise ApiError(400, "status must be ok or fail", "status")
        msg = heartbeats.clean_message(params.get("msg"))
        if not heartbeats.well_formed(token):
            raise ApiError(404, "unknown heartbeat token")
        sha = heartbeats.token_hash(token)
        record = _stored(lambda: c.heartbeat_store.beat_by_token(sha))
        monitor = _heartbeat_monitors().get((record or {}).get("monitor"))
        if record is None or monitor is None:
            raise ApiError(404, "unknown heartbeat token")
        now = c.clock()
        gap = heartbeats.spacing(monitor[1])
        recorded = False
        if heartbeats.should_record(record, state, now, gap):
            recovery = state == "ok" and heartbeats.is_recovery(record, now, gap)
            recorded = _stored(lambda: c.heartbeat_store.record_beat(sha, state, msg, now, gap,
                                                                     recovery))
    except ApiError as err:
        return err.response()
    return _json({"status": state, "recorded": recorded})


def _stored(call):
    """A storage call; its failure is a 503 the job's retry can fix, never a 500."""
    try:
        return call()
    except Exception:                              # noqa: BLE001 - logged, answered 503
        log.exception("heartbeat storage call failed")
        raise ApiError(503, "could not record the beat; retry shortly",
                       headers={"Retry-After": "5"}) from None


@bp.route(PREFIX + "/heartbeats", methods=["GET"])
@operator("heartbeats:write")
def list_heartbeats(actor):
    monitors = _heartbeat_monitors()
    beats = c.heartbeat_store.beats(list(monitors))
    tz = c.config.page.time_zone
    return _json([_describe(mid, cid, m, beats.get(mid), tz)
                  for mid, (cid, m) in monitors.items()])


@bp.route(PREFIX + "/heartbeats/{monitor_id}/rotate", methods=["POST"])
@operator("heartbeats:write")
def rotate(monitor_id: str, actor):
    found = _heartbeat_monitors().get(monitor_id)
    if found is None:
        return ApiError(404, f"no heartbeat monitor {monitor_id[:60]!r}").response()
    token, sha = heartbeats.new_token()
    c.heartbeat_store.rotate(monitor_id, sha, c.clock())
    log.info("heartbeat token of %s rotated by key %s", monitor_id, actor.key_id)
    path = BEAT_PATH.format(token=token)
    body = _describe(monitor_id, found[0], found[1], None, c.config.page.time_zone)
    body.update(token=token, path=path, url=c.config.page.url.rstrip("/") + path)
    return _json(body, 201)


def _describe(mid: str, cid: str, m: Monitor, beat: Optional[dict], tz: str) -> dict:
    """An operator's view of one heartbeat monitor; `message` is the job's own ?msg= text,
    which only operators see."""
    beat = beat or {}
    return {"monitor_id": mid, "component_id": cid, "every": m.every, "grace": m.grace,
            "has_token": bool(beat), "last_beat_at": iso_ms(beat.get("beat_at"), tz),
            "state": beat.get("state"), "message": beat.get("msg")}
