"""The local stack behind `make run`: one process, no AWS, no Docker.

  embedded moto server (DynamoDB, SNS) on a free 127.0.0.1 port
  the demo service (something to watch, with switches to break it)
  chalice local serving the real app (the origin) on a free 127.0.0.1 port, or $ORIGIN_PORT
  the local edge on 127.0.0.1:$PORT: nginx doing what CloudFront does in production (cache by
      the origin's Cache-Control, collapse, compress, fail over to the S3 static copy, pass
      /api/v1/* through with the origin secret and the viewer's address: local/edge_config.py)
  the static copy in the moto server's S3, written as production writes it
  a scheduler thread invoking the real scheduled handler every $CHECK_INTERVAL seconds
  a stream pump feeding the state table's stream to the real stream handler
  the delivery worker's kicks: each runs the real worker, which drains the delivery queue

chalice local serves HTTP routes only and moto never invokes Lambdas or fires schedules or event
sources, so the scheduler, the stream pump and the kicks are ours.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REGIONS = "us-west-2,eu-west-1,ap-southeast-2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fake_aws_env(moto_port: int) -> None:
    # Only the embedded moto server is ever reachable: fake credentials, explicit endpoint.
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    })
    for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(var, None)


class _PerThreadRequest:
    """chalice local serves on threads but keeps `current_request` in one attribute; a Lambda
    serves one request at a time. Per-thread storage gives local runs the Lambda's isolation."""
    _local = threading.local()

    @property
    def current_request(self):
        return getattr(self._local, "request", None)

    @current_request.setter
    def current_request(self, value):
        self._local.request = value


DRAIN_LIMIT = 1024 * 1024     # an unread body up to this size is read and dropped; past it, close


def _drain(handler) -> None:
    """Read and drop a request body the answer did not need: left in the stream, its bytes would
    be parsed as the next keep-alive request (an HTML 400 from http.server). A body too large or
    of unknown length (chunked) is not read; the connection is closed after the answer instead."""
    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError:
        length = -1
    if handler.headers.get("Transfer-Encoding") or not 0 <= length <= DRAIN_LIMIT:
        handler.close_connection = True
        return
    while length > 0:
        chunk = handler.rfile.read(min(length, 65536))
        if not chunk:
            break
        length -= len(chunk)


def _refuse_unknown_methods(app) -> None:
    """http.server answers methods it lacks (TRACE, CONNECT...) with 501; API Gateway refuses them
    as a client error. Match the deployed behaviour so no method yields a 5xx locally: a route's
    path answers 405 with `Allow` (its methods, as Chalice's own 405 says), any other path 403
    as API Gateway does, and the request's body is drained so the connection stays usable."""
    from chalice.local import ChaliceRequestHandler, RouteMatcher
    matcher = RouteMatcher(list(app.routes))

    def refuse(handler):
        _drain(handler)
        try:
            route = matcher.match_route(handler.path).route
        except ValueError:
            route = None
        if route is None:
            code, body, extra = 403, b'{"message": "Missing Authentication Token"}', {}
        else:
            code, body = 405, b'{"error": "method not allowed"}'
            extra = {"Allow": ", ".join(sorted(app.routes[route]))}
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in extra.items():
            handler.send_header(name, value)
        if handler.close_connection:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    def any_other_method(handler, name):
        # Only looked up when no do_<METHOD> exists: every method Chalice doesn't route.
        if name.startswith("do_"):
            return lambda: refuse(handler)
        raise AttributeError(name)
    ChaliceRequestHandler.__getattr__ = any_other_method


def _topics() -> str:
    """The updates and operator topics, plus a queue on each so the stack can print what would
    have been mailed, texted or posted (moto delivers nothing to real phones or inboxes)."""
    import boto3
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="local-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for env, name in (("UPDATES_TOPIC_ARN", "outpost-local-updates"),
                      ("OPERATOR_TOPIC_ARN", "outpost-local-operator")):
        topic = sns.create_topic(Name=name)["TopicArn"]
        os.environ[env] = topic
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


STATIC_BUCKET = "outpost-local-static"


def _static_bucket() -> None:
    """The S3 static copy the edge fails over to; the app writes it as it does when deployed."""
    import boto3

    from local.edge import edge_read_policy
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=STATIC_BUCKET)
    s3.put_bucket_policy(Bucket=STATIC_BUCKET, Policy=edge_read_policy(STATIC_BUCKET))
    os.environ["STATIC_BUCKET"] = STATIC_BUCKET


DELIVERY_POLLERS = 3          # kicked workers that may run at once, as in Lambda


def _delivery_queues() -> None:
    """The delivery worker's queue and the one dead-letter queue (after 5 receives, as deployed;
    the app's SNS subscriptions point at it too, as UPDATES_DLQ_ARN)."""
    import boto3
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="outpost-local-dead-letters")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="outpost-local-deliveries", Attributes={
        "VisibilityTimeout": "180",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})})[
        "QueueUrl"]
    os.environ["DELIVERY_QUEUE_URL"] = url
    os.environ["DELIVERY_DLQ_URL"] = dlq
    os.environ["UPDATES_DLQ_ARN"] = dlq_arn


def _pump_streams(app, c, inbox_url: str, stop: threading.Event) -> None:
    """Lambda's event source mapping, locally: feed the state table's stream to the handler, and
    print each notification that went out."""
    import boto3
    from chalice.local import LambdaContext

    from local.streams import StreamReader
    log = logging.getLogger("outpost.notifications")
    reader = StreamReader(boto3.client("dynamodb"), boto3.client("dynamodbstreams"),
                          c.settings.state_table)
    sqs = boto3.client("sqs")
    handler = app.handler_map["on_state_change"]
    while not stop.is_set():
        try:
            reader.poll(lambda ev: handler(ev, LambdaContext("on_state_change", 256)))
            got = sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            for msg in got.get("Messages", []):
                envelope = json.loads(msg["Body"])
                log.info("sent: %s", envelope.get("Subject") or envelope.get("Message", "")[:120])
                sqs.delete_message(QueueUrl=inbox_url, ReceiptHandle=msg["ReceiptHandle"])
        except Exception:              # keep pumping: the next poll retries what failed
            log.exception("stream pump failed")
        stop.wait(0.5)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        datefmt="%H:%M:%S")
    for noisy in ("werkzeug", "botocore", "urllib3", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    port = int(os.environ.get("PORT", "8000"))
    interval = float(os.environ.get("CHECK_INTERVAL", "10"))
    os.environ.setdefault("STATUS_FILE", os.path.join(ROOT, "local", "demo-status.yaml"))
    os.environ.setdefault("CHECK_REGIONS", DEFAULT_REGIONS)

    from local.edge import INSTALL_HINT, nginx_binary
    if nginx_binary() is None:         # the page is served through the edge: nothing without it
        print(f"Outpost local stack: {INSTALL_HINT}", file=sys.stderr, flush=True)
        return 2

    from moto.server import ThreadedMotoServer
    moto_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    _fake_aws_env(moto_port)
    inbox = _topics()
    _delivery_queues()
    _static_bucket()
    # CloudFront's proof on every request it forwards (infra: X-Outpost-Origin), per stack.
    os.environ["ORIGIN_VERIFY_SECRET"] = secrets.token_urlsafe(24)

    from local import demo_service
    demo_port = int(os.environ.get("DEMO_PORT", str(port + 1)))
    demo, _ = demo_service.start(port=demo_port)
    os.environ.setdefault("DEMO_URL", f"http://127.0.0.1:{demo_port}")

    sys.path.insert(0, ROOT)
    from chalice.cli.factory import CLIFactory
    from chalice.local import LambdaContext, create_local_server
    from chalice.test import TestEventsClient

    factory = CLIFactory(project_dir=ROOT, environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name="local")   # applies the stage's env
    app = config.chalice_app

    from chalicelib import wiring
    from chalicelib.usecases.manage import mint_key
    from chalicelib.usecases.publish import publish_snapshot
    c = wiring.container
    c.store.create_tables()
    publish_snapshot(c, {}, None)
    from chalicelib.core.auth import SCOPES
    key = mint_key(c, "local operator", SCOPES)
    local_dir = os.environ.get("OUTPOST_LOCAL_DIR") or os.path.join(ROOT, ".local")
    os.makedirs(local_dir, exist_ok=True)
    key_path = os.path.join(local_dir, "operator.key")
    with open(key_path, "w") as fh:
        fh.write(key + "\n")
    os.chmod(key_path, 0o600)
    # For `outpost keys --local`: where this stack's DynamoDB is and what its tables are called.
    with open(os.path.join(local_dir, "aws.env"), "w") as fh:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                     "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "RESULTS_TABLE",
                     "STATE_TABLE", "KEYS_TABLE", "AUDIT_TABLE", "HISTORY_TABLE",
                     "SUBSCRIBERS_TABLE", "REPORTS_TABLE", "UPDATES_TOPIC_ARN",
                     "OPERATOR_TOPIC_ARN", "DELIVERY_QUEUE_URL", "DELIVERY_DLQ_URL",
                     "STATUS_FILE", "DEMO_URL", "STATIC_BUCKET"):
            if name in os.environ:
                fh.write(f"{name}={os.environ[name]}\n")

    stop = threading.Event()
    event = TestEventsClient(app).generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[],
        region="us-east-1")

    def scheduler():
        log = logging.getLogger("outpost.scheduler")
        while not stop.is_set():
            started = time.monotonic()
            try:
                out = app.handler_map["run_checks"](
                    event, LambdaContext("run_checks", 512, max_runtime_ms=60_000))   # = lambda_timeout
                log.info("round: %d checks, %d failing%s", out["checks"], out["failing"],
                         f", changes {out['transitions']}" if out["transitions"] else "")
            except Exception:          # a broken round must not kill the stack
                log.exception("scheduled round failed")
            stop.wait(max(0.0, interval - (time.monotonic() - started)))

    _refuse_unknown_methods(app)
    origin_port = int(os.environ.get("ORIGIN_PORT") or _free_port())
    server = create_local_server(app, config, "127.0.0.1", origin_port)
    from local.edge import Edge
    from local.edge import settings as edge_settings
    edge = Edge(edge_settings(port=port, origin=f"127.0.0.1:{origin_port}",
                              static=f"127.0.0.1:{moto_port}", bucket=STATIC_BUCKET,
                              origin_secret=os.environ["ORIGIN_VERIFY_SECRET"],
                              workdir=os.path.join(local_dir, "edge")))
    app.__class__ = type("OutpostLocalChalice", (_PerThreadRequest, app.__class__), {})
    threading.Thread(target=scheduler, name="scheduler", daemon=True).start()
    threading.Thread(target=_pump_streams, args=(app, c, inbox, stop), name="streams",
                     daemon=True).start()
    from local.queues import LocalKicks
    kicks = LocalKicks(app, stop, DELIVERY_POLLERS)
    c.override(worker_kick=kicks)
    for n in range(DELIVERY_POLLERS):
        threading.Thread(target=kicks.run, name=f"deliveries-{n}", daemon=True).start()

    edge.start()
    url = edge.url
    origin_url = f"http://127.0.0.1:{origin_port}"
    # For tests and tools that must act as CloudFront (e.g. reports from several addresses).
    edge_path = os.path.join(local_dir, "edge.json")
    with open(edge_path, "w") as fh:
        json.dump({"edge": url, "origin": origin_url, "static_bucket": STATIC_BUCKET,
                   "origin_secret": os.environ["ORIGIN_VERIFY_SECRET"],
                   "access_log": edge.access_log}, fh)
    os.chmod(edge_path, 0o600)
    print(f"""
Outpost local stack is up.
  status page       {url}/
  status page JSON  {url}/api/v2/summary.json
                    (through the local edge, nginx, as CloudFront serves it: cached by the
                    API's Cache-Control, compressed, falling back to the S3 copy)
  origin (the API)  {origin_url}   (uncached; what CloudFront's cache misses reach)
  operator key      {key}
                    (also in {key_path}; the outpost CLI reads it from there)
  demo service      {os.environ['DEMO_URL']}   (break it: curl -X POST {os.environ['DEMO_URL']}/_demo/fail)
  checks            every {interval:g}s from {os.environ['CHECK_REGIONS']}
  try               .venv/bin/outpost status    .venv/bin/outpost incident open "Test" -m "Testing"
  report a problem  curl -X POST {url}/api/v1/reports -H 'Content-Type: application/json' \\
                      -d '{{"component": "api", "kind": "down"}}'
                    (the edge sends your address, as CloudFront does; 3 different addresses
                    make a spike: act as CloudFront on the origin, see README, "Try it")
Ctrl-C to stop.
""", flush=True)

    def shutdown(*_):
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        server.serve_forever()
    finally:
        stop.set()
        edge.stop()
        demo.shutdown()
        moto.stop()
        print("Outpost local stack stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
