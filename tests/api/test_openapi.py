"""The OpenAPI document and the app agree, route for route and method for method."""
import json

from app import app
from tests.statusfiles import status_yaml


def test_every_operator_route_is_documented_and_nothing_else(stack):
    c, client, *_ = stack
    resp = client.http.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = json.loads(resp.body)
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items()
                  for method in ops if method != "parameters"}
    served = {(path, method) for path, entry in app.routes.items()
              if path.startswith(("/api/v1/pages/", "/api/v1/heartbeat/")) for method in entry}
    assert documented == served
    assert doc["components"]["parameters"]["page_id"]["schema"]["enum"] == ["acme"]


def test_every_documented_operation_declares_the_auth_errors():
    from chalicelib import wiring
    from chalicelib.core.config import load_status_text
    from chalicelib.web.routes.operator import openapi_document
    wiring.container.override(config=load_status_text(
        status_yaml(page={"id": "x", "name": "X", "url": "https://x.example"}, checks=None)))
    try:
        doc = openapi_document()
    finally:
        wiring.container.reset()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method == "parameters" or op.get("security") == []:
                continue        # public (the heartbeat beat URL: its token is the credential)
            assert "401" in op["responses"] and "429" in op["responses"], (path, method)
            if method in ("post", "patch", "put", "delete"):
                assert "403" in op["responses"], (path, method)
