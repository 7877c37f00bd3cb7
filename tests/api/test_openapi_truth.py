"""The OpenAPI document tells the exact truth: what its schemas allow the app accepts, what they
refuse the app refuses, every status it can answer is declared, and every 405 says what is
allowed. Each test here pins one mismatch schemathesis found (tests/e2e/test_fuzz_operator_api.py
runs the whole search)."""
import json
import re
import socket
import threading

import pytest
from app import app
from chalice.config import Config
from chalice.local import create_local_server
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from chalicelib.usecases.manage import mint_key
from chalicelib.web.routes.operator import openapi_document
from local.stack import _refuse_unknown_methods
from tests.statusfiles import status_yaml

BASE = "/api/v1/pages/acme"
SCOPES = ["incidents:write", "maintenance:write", "components:write", "subscribers:read"]
ISO = "2026-05-01T10:00:00Z"


@pytest.fixture
def api(stack):
    c, client, clock, *_ = stack
    key = mint_key(c, "truth", SCOPES)
    doc = openapi_document()

    def call(method, path, body=None, **headers):
        resp = getattr(client.http, method.lower())(
            BASE + path, body=None if body is None else json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}",
                     **headers})
        return resp, (json.loads(resp.body) if resp.body else None)
    return call, doc, clock


def _validator(doc, name):
    registry = Registry().with_resource("urn:outpost", DRAFT202012.create_resource(doc))
    return Draft202012Validator({"$ref": f"urn:outpost#/components/schemas/{name}"},
                                registry=registry)


def _operations(doc):
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method != "parameters":
                yield path, method, op


def test_412_is_declared_wherever_if_match_applies():
    doc = _plain_document()
    with_if_match = [(path, method) for path, method, op in _operations(doc)
                     if {"$ref": "#/components/parameters/if_match"} in op.get("parameters", [])]
    assert with_if_match                                   # PATCH, PUT and DELETE of an incident
    for path, method in with_if_match:
        assert "412" in doc["paths"][path][method]["responses"], (path, method)


def _plain_document():
    from chalicelib import wiring
    from chalicelib.core.config import load_status_text
    wiring.container.override(config=load_status_text(
        status_yaml(page={"id": "x", "name": "X", "url": "https://x.example"}, checks=None)))
    try:
        return openapi_document()
    finally:
        wiring.container.reset()


# (method, path, body, schema, accepted, field the 422 names)
CASES = [
    ("POST", "/incidents", {"incident": {"name": "API errors"}}, "IncidentCreate", True, None),
    ("POST", "/incidents", {"incident": {"name": "Window", "scheduled_for": ISO,
                                         "scheduled_until": "2026-05-01T12:00:00Z"}},
     "IncidentCreate", True, None),
    ("POST", "/incidents", {"incident": {"name": "Past", "backfilled": True,
                                         "created_at": "2026-01-01T10:00:00Z"}},
     "IncidentCreate", True, None),
    # a maintenance needs both times: the schema says so now (it used to allow one)
    ("POST", "/incidents", {"incident": {"name": "Half", "scheduled_until": ISO}},
     "IncidentCreate", False, "incident.scheduled_for"),
    ("POST", "/incidents", {"incident": {"name": "Half", "scheduled_for": ISO}},
     "IncidentCreate", False, "incident.scheduled_until"),
    # explicit times belong to a backfill only
    ("POST", "/incidents", {"incident": {"name": "When", "created_at": ISO}},
     "IncidentCreate", False, "incident.created_at"),
    ("POST", "/incidents", {"incident": {"name": "Past", "backfilled": True,
                                         "created_at": "2026-01-01T10:00:00Z",
                                         "resolved_at": None}},
     "IncidentCreate", True, None),
    # a null schedule was taken as none; on PATCH it was always refused
    ("POST", "/incidents", {"incident": {"name": "Now", "scheduled_for": None}},
     "IncidentCreate", False, "incident.scheduled_for"),
    # a schedule can't be backfilled (the app took it when created_at came along)
    ("POST", "/incidents", {"incident": {"name": "Both", "backfilled": True,
                                         "created_at": "2026-01-01T10:00:00Z",
                                         "scheduled_for": ISO,
                                         "scheduled_until": "2026-05-01T12:00:00Z"}},
     "IncidentCreate", False, "incident.backfilled"),
    # null metadata was taken as {} on create only (and [] and 0 with it)
    ("POST", "/incidents", {"incident": {"name": "Meta", "metadata": None}},
     "IncidentCreate", False, "incident.metadata"),
    ("POST", "/incidents", {"incident": {"name": "Meta", "metadata": []}},
     "IncidentCreate", False, "incident.metadata"),
    # component ids are the page's own: the served document lists them
    ("POST", "/incidents", {"incident": {"name": "Who", "component_ids": ["nope"]}},
     "IncidentCreate", False, "incident.component_ids"),
    ("POST", "/incidents", {"incident": {"name": "Who", "component_ids": ["api"],
                                         "components": {"web": "degraded_performance"}}},
     "IncidentCreate", True, None),
    ("POST", "/incidents", {"incident": {"name": "Who", "component_ids": None,
                                         "components": None}},
     "IncidentCreate", True, None),
    ("PATCH", "/incidents/{id}", {"incident": {"body": None, "status": "identified"}},
     "IncidentPatch", True, None),
    # create-only fields are not part of a change (the shared schema allowed them)
    ("PATCH", "/incidents/{id}", {"incident": {"backfilled": False}}, "IncidentPatch", False,
     "incident.backfilled"),
    ("PATCH", "/incidents/{id}", {"incident": {"resolved_at": ISO}}, "IncidentPatch", False,
     "incident.resolved_at"),
    ("PATCH", "/incidents/{id}", {"incident": {"body": "Fixed.", "status": "resolved"}},
     "IncidentPatch", True, None),
    ("PUT", "/incidents/{id}", {"incident": {"metadata": {"ticket": 7}}}, "IncidentPatch", True,
     None),
]


@pytest.mark.parametrize("method, path, body, schema, accepted, field", CASES)
def test_the_schema_and_the_app_agree_on_incident_bodies(api, method, path, body, schema,
                                                         accepted, field):
    call, doc, clock = api
    clock.tick(3600)                                # backfilled times are in the past
    if "{id}" in path:
        resp, made = call("POST", "/incidents", {"incident": {"name": "Open"}})
        assert resp.status_code == 201, made
        path = path.replace("{id}", made["id"])
    errors = list(_validator(doc, schema).iter_errors(body))
    assert (not errors) == accepted, [e.message for e in errors]
    resp, out = call(method, path, body)
    if accepted:
        assert resp.status_code in (200, 201), out
    else:
        assert resp.status_code == 422 and out["field"] == field, out


def test_the_reports_filter_names_the_components_there_are(api):
    call, doc, _ = api
    param = next(p for p in doc["paths"]["/api/v1/pages/{page_id}/reports"]["get"]["parameters"]
                 if p.get("name") == "component")
    known = doc["components"]["schemas"]["ComponentRef"]["enum"]
    assert {"api", "web"} <= set(known)
    assert param["schema"] == {"$ref": "#/components/schemas/ComponentRef"}
    assert call("GET", "/reports?component=api")[0].status_code == 200
    resp, out = call("GET", "/reports?component=nope")
    assert resp.status_code == 422 and out["field"] == "component"


def _concrete(path):
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_answers_an_unrouted_method_with_405_and_allow(stack):
    _, client, *_ = stack
    for path, entry in app.routes.items():
        methods = set(entry)
        other = next(m for m in ("DELETE", "PATCH", "PUT", "POST", "GET") if m not in methods)
        resp = client.http.request(other, _concrete(path), headers={})
        assert resp.status_code == 405, (path, other)
        assert set(resp.headers["Allow"].split(", ")) == methods, path


def _raw(sock, request: bytes) -> bytes:
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\r\n\r\n" + rest


def test_local_stack_drains_a_body_it_refuses_so_keep_alive_stays_clean(stack):
    """The dev server answered TRACE (and any method it lacks) without reading the body; the
    body's bytes were then parsed as the next request on the connection: an HTML 400."""
    _refuse_unknown_methods(app)
    app_class = app.__class__                      # create_local_server swaps it; restored below
    server = create_local_server(app, Config.create(chalice_app=app, app_name="outpost"),
                                 "127.0.0.1", 0)
    port = server.server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        body = b'{"component": {"status": null}}'
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            first = _raw(sock, b"TRACE " + BASE.encode() + b"/incidents HTTP/1.1\r\n"
                         b"Host: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            assert first.startswith(b"HTTP/1.1 405")
            assert re.search(rb"(?i)\r\nallow: GET, POST\r\n", first), first
            second = _raw(sock, b"GET " + BASE.encode() + b"/incidents HTTP/1.1\r\nHost: x\r\n\r\n")
        assert second.startswith(b"HTTP/1.1 401"), second
        assert b"application/json" in second and b"<html" not in second.lower()
    finally:
        server.server.shutdown()
        server.server.server_close()
        app.__class__ = app_class


@pytest.mark.parametrize("if_match, status", [('"1"', 200), ("W/1", 200), ("+1", 400),
                                               ("1_0", 400), ("\u0661", 400), ('"2"', 412)])
def test_if_match_is_the_documented_pattern_and_nothing_looser(api, if_match, status):
    call, doc, _ = api
    pattern = doc["components"]["parameters"]["if_match"]["schema"]["pattern"]
    assert (re.search(pattern, if_match) is not None) == (status != 400)
    resp, made = call("POST", "/incidents", {"incident": {"name": "Open"}})
    resp, out = call("PATCH", f"/incidents/{made['id']}", {"incident": {"body": "More."}},
                     **{"If-Match": if_match})
    assert resp.status_code == status, out
