"""(e) Incident POST -> SNS publish, and -> signed webhook, on the real local stack (`make run`'s
process).

The stack runs as a subprocess with its embedded moto server; the bench subscribes an SQS queue
to the updates topic and a webhook receiver on 127.0.0.1 (which answers its challenge first),
posts incidents through the operator API, and times each until its message is in the queue and
until the webhook has it (stream -> delivery queue -> delivery worker -> receiver). The baseline
is the POST's own round trip in the same run. The stack pumps the stream every 0.5 s (Lambda's
event source polls about 4 times a second), so that poll interval is most of the latency.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from tests.targets import Receiver

from .env import ROOT
from .table import Row

SAMPLES = 10


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url, method="GET", body=None, headers=None):
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


class _Hook(Receiver):
    """The webhook receiver, noting when each incident arrived."""

    def __init__(self):
        super().__init__()
        self.arrived: dict = {}
        self.on_event = lambda doc: "incident" in doc and \
            self.arrived.setdefault(doc["incident"]["id"], time.perf_counter())


def run() -> tuple[list[Row], dict]:
    import boto3
    port, local = _port(), tempfile.mkdtemp(prefix="outpost-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(PORT=str(port), DEMO_PORT=str(_port()), CHECK_INTERVAL="30",
               OUTPOST_LOCAL_DIR=local, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "local.stack"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(base + "/api/v2/status.json")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        aws = dict(line.strip().split("=", 1) for line in open(os.path.join(local, "aws.env")))
        key = open(os.path.join(local, "operator.key")).read().strip()
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name="us-east-1")
        sqs = session.client("sqs", endpoint_url=aws["AWS_ENDPOINT_URL"])
        sns = session.client("sns", endpoint_url=aws["AWS_ENDPOINT_URL"])
        queue = sqs.create_queue(QueueName="bench-latency")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=aws["UPDATES_TOPIC_ARN"], Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        page = _request(base + "/api/v2/status.json")["page"]["id"]
        hook = _Hook()
        sub = _request(base + "/api/v1/subscribe", "POST", {"webhook": hook.url},
                       {"Content-Type": "application/json"})["subscriber"]
        auth = {"Authorization": f"Bearer {key}"}
        deadline = time.monotonic() + 30
        while not any(s["id"] == sub["id"] and s["state"] == "active"
                      for s in _request(f"{base}/api/v1/pages/{page}/subscribers", headers=auth)):
            if time.monotonic() > deadline:
                raise RuntimeError("the bench webhook never became active")
            time.sleep(0.1)
        posts, publishes, hooked = [], [], []
        for n in range(SAMPLES):
            t0 = time.perf_counter()
            inc = _request(f"{base}/api/v1/pages/{page}/incidents", "POST",
                           {"incident": {"name": f"bench {n}"}},
                           {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            posts.append(time.perf_counter() - t0)
            while True:
                got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0,
                                          MaxNumberOfMessages=1).get("Messages", [])
                if got and json.loads(got[0]["Body"])["incident"]["id"] == inc["id"]:
                    publishes.append(time.perf_counter() - t0)
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=got[0]["ReceiptHandle"])
                    break
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"incident {inc['id']} never reached the queue")
                time.sleep(0.02)
            while inc["id"] not in hook.arrived:
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"incident {inc['id']} never reached the webhook")
                time.sleep(0.02)
            hooked.append(hook.arrived[inc["id"]] - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    p50, post50 = statistics.median(publishes), statistics.median(posts)
    rows = [
        Row(f"POST -> message in SQS, median of {SAMPLES}", f"{p50 * 1000:.0f} ms",
            f"{post50 * 1000:.0f} ms", f"{p50 / post50:.1f}x", "< 2000 ms", p50 < 2.0),
        Row("POST -> message in SQS, max", f"{max(publishes) * 1000:.0f} ms",
            f"{max(posts) * 1000:.0f} ms", "-", "-"),
        Row(f"POST -> signed webhook received, median of {SAMPLES}",
            f"{statistics.median(hooked) * 1000:.0f} ms", f"{post50 * 1000:.0f} ms",
            f"{statistics.median(hooked) / post50:.1f}x", "< 3000 ms",
            statistics.median(hooked) < 3.0),
        Row("POST -> signed webhook received, max", f"{max(hooked) * 1000:.0f} ms",
            f"{max(posts) * 1000:.0f} ms", "-", "-"),
    ]
    return rows, {"publish_s": publishes, "post_s": posts, "webhook_s": hooked}
