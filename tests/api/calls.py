"""Requests the API tests make again and again, as a client would send them."""
import json

from chalice.local import LambdaEventConverter

BASE = "/api/v1/pages/acme"                    # the operator API of the test page
ALL = ["incidents:write", "components:write", "maintenance:write", "subscribers:read", "keys:admin"]


def get(client, path, **headers):
    resp = client.http.get(path, headers=headers)
    return resp, (json.loads(resp.body) if resp.body else None)


def summary(client, clock):
    """summary.json as a visitor sees it once the public cache's 5 s copy has expired."""
    clock.tick(6)
    return get(client, "/api/v2/summary.json")[1]


def post(client, path, body, key=None, **headers):
    hdrs = {"Content-Type": "application/json", **headers}
    if key:
        hdrs["Authorization"] = f"Bearer {key}"
    resp = client.http.post(path, body=json.dumps(body), headers=hdrs)
    return resp, json.loads(resp.body) if resp.body else None


def incident(client, key, name="Outage", **extra):
    resp, body = post(client, f"{BASE}/incidents", {"incident": {"name": name, **extra}}, key)
    assert resp.status_code == 201, body
    return body


def from_ip(monkeypatch, ip):
    """The client address API Gateway reports as identity.sourceIp (what the app reads)."""
    monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)


def report(client, body, address="198.51.100.7:40000", country="US", raw=None):
    headers = {"Content-Type": "application/json"}
    if address:
        headers["CloudFront-Viewer-Address"] = address
    if country:
        headers["CloudFront-Viewer-Country"] = country
    resp = client.http.post("/api/v1/reports", body=raw if raw is not None else json.dumps(body),
                            headers=headers)
    return resp, json.loads(resp.body) if resp.body else None


def sms_sent():
    from moto.sns.models import sns_backends
    return list(sns_backends["123456789012"]["us-east-1"].sms_messages.values())
