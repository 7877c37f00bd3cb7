"""Requests the API tests make again and again, as a client would send them."""
import json


def post(client, path, body, key=None, **headers):
    hdrs = {"Content-Type": "application/json", **headers}
    if key:
        hdrs["Authorization"] = f"Bearer {key}"
    resp = client.http.post(path, body=json.dumps(body), headers=hdrs)
    return resp, json.loads(resp.body) if resp.body else None


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
