"""`make package` output: the templates deploy what the README promises, and lint clean.

Packages into temporary directories (others may be using build/ at the same time).
"""
import fcntl
import fnmatch
import json
import os
import re
import subprocess
import sys
import zipfile

import pytest
import yaml

from tests.conftest import ROOT
from tests.statusfiles import ACME, component, http_monitor, status_yaml


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    value = (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
             else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
             else loader.construct_mapping(node))
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    return {name: value}


CfnLoader.add_multi_constructor("!", _tag)


def package(out, stage=None, region=None, status_file=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if region:
        env["AWS_DEFAULT_REGION"] = region
    if status_file:
        env["STATUS_FILE"] = status_file
    argv = [sys.executable, "-m", "infra.package", *([stage] if stage else []), "--out", str(out)]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def packaged(tmp_path_factory, name, *args, **kwargs):
    """`package(out, *args)` once per test run, whichever xdist worker asks first: the others
    wait on a lock and read the same output (a package with cfn-lint costs ~30 CPU-s; worksteal
    spreads this module's tests over workers, and each used to build its own)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                         # pytest-N/, shared by this run's workers
    out = root / f"package-{name}"
    with open(root / f"package-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = out / "proc.json"
        if not done.exists():
            proc = package(out, *args, **kwargs)
            out.mkdir(exist_ok=True)
            done.write_text(json.dumps([proc.returncode, proc.stdout, proc.stderr]))
    return subprocess.CompletedProcess("package", *json.loads(done.read_text())), out


def load(path):
    with open(path) as fh:
        return yaml.load(fh, Loader=CfnLoader)


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    proc, out = packaged(tmp_path_factory, "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cfn-lint clean" in proc.stdout and "outpost doctor" in proc.stdout
    return {"sam": load(out / "sam.yaml"), "waf": load(out / "waf.yaml")}


@pytest.fixture(scope="module")
def template(doc):
    return doc["sam"]["Resources"]


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    """A checker stage as the README packages it: in its own region."""
    proc, out = packaged(tmp_path_factory, "checker", "checker-eu-west-1", region="eu-west-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dropped OnStateChange" in proc.stdout and "dropped Deliver" in proc.stdout
    return load(out / "sam.yaml")


def functions(resources):
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}


def statements(resources):
    """IAM statements of the role, with Fn::If-wrapped ones unwrapped (and their condition)."""
    out = []
    for st in resources["DefaultRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        if "Fn::If" in st:
            cond, then, _ = st["Fn::If"]
            out.append({**then, "_condition": cond})
        else:
            out.append(st)
    return out


def as_list(value):
    return value if isinstance(value, list) else [value]


TABLES = ("ResultsTable", "StateTable", "KeysTable", "AuditTable", "HistoryTable",
          "SubscribersTable")


def test_tables_have_pitr_deletion_protection_encryption(template):
    for name in TABLES:
        props = template[name]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert template[name]["DeletionPolicy"] == "Retain"
    for name in ("ResultsTable", "StateTable"):
        assert template[name]["Properties"]["TimeToLiveSpecification"] == \
            {"AttributeName": "expires_at", "Enabled": True}
    assert template["StateTable"]["Properties"]["StreamSpecification"] == \
        {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    # Reports expire within 8 days and are not backed up; strangers' writes wake no stream.
    reports = template["ReportsTable"]["Properties"]
    assert reports["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert reports["SSESpecification"] == {"SSEEnabled": True}
    assert reports["BillingMode"] == "PAY_PER_REQUEST" and "StreamSpecification" not in reports


def test_the_subscribers_index_is_the_one_the_app_queries(template):
    from chalicelib.adapters.storage import Store
    index = Store("r", "s", "k", "us-east-1").SubscriberRow.by_address
    props = template["SubscribersTable"]["Properties"]
    (gsi,) = props["GlobalSecondaryIndexes"]          # CloudFormation adds one per update
    assert gsi["IndexName"] == index.Meta.index_name
    assert gsi["KeySchema"] == [{"AttributeName": "kind", "KeyType": "HASH"},
                                {"AttributeName": "address_hash", "KeyType": "RANGE"}]
    assert gsi["Projection"] == {"ProjectionType": "ALL"} and "ProvisionedThroughput" not in gsi
    assert {"AttributeName": "address_hash", "AttributeType": "S"} in props["AttributeDefinitions"]


def test_every_function_gets_table_names_by_reference_and_the_shared_environment(doc, template):
    fns = functions(template)
    assert set(fns) == {"APIHandler", "RunChecks", "OnStateChange", "Deliver"}
    for fn in fns.values():
        env = fn["Properties"]["Environment"]["Variables"]
        for var, table in (("RESULTS_TABLE", "ResultsTable"), ("STATE_TABLE", "StateTable"),
                           ("KEYS_TABLE", "KeysTable"), ("AUDIT_TABLE", "AuditTable"),
                           ("HISTORY_TABLE", "HistoryTable"),
                           ("SUBSCRIBERS_TABLE", "SubscribersTable"),
                           ("REPORTS_TABLE", "ReportsTable")):
            assert env[var] == {"Ref": table}
    shared = doc["sam"]["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["UPDATES_TOPIC_ARN"] == {"Ref": "UpdatesTopic"}
    assert shared["OPERATOR_TOPIC_ARN"] == {"Ref": "OperatorTopic"}
    assert shared["UPDATES_DLQ_ARN"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert shared["SMS_MONTHLY_SPEND_LIMIT"] == {"Ref": "SmsMonthlySpendLimit"}
    assert shared["DELIVERY_QUEUE_URL"] == {"Ref": "DeliveryQueue"}
    assert shared["DELIVERY_DLQ_URL"] == {"Ref": "DeadLetterQueue"}
    assert shared["STATIC_BUCKET"] == {"Ref": "StaticBucket"}         # the copy is always made
    for fn in fns.values():                   # a function's own value would win over Globals
        assert not set(shared) & set(fn["Properties"]["Environment"]["Variables"])


def test_the_checker_never_retries_a_late_round(template):
    # ... and a round that failed or never ran leaves a record in the alarmed dead-letter queue
    assert template["RunChecks"]["Properties"]["EventInvokeConfig"] == \
        {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60,
         "DestinationConfig": {"OnFailure": {
             "Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}}}
    assert template["RunChecks"]["Properties"]["Events"]["RunChecksEvent"]["Properties"] == \
        {"Schedule": "rate(1 minute)"}


def test_stream_event_source_settings(template):
    events = template["OnStateChange"]["Properties"]["Events"]
    source = events["OnStateChangeDynamodbEventSource"]
    assert source["Type"] == "DynamoDB"
    assert source["Properties"] == {
        "Stream": {"Fn::GetAtt": ["StateTable", "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON", "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 0,
        "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 5,
        "MaximumRecordAgeInSeconds": 3600,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {
            "Type": "SQS", "Destination": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}}}


def test_the_delivery_worker_is_kicked_not_fed_by_an_event_source(template):
    fn = template["Deliver"]["Properties"]
    # an idle SQS event source long-polls all month: the worker has none, producers kick it
    assert not fn.get("Events")
    assert not [k for k, v in template.items() if v["Type"] == "AWS::Lambda::EventSourceMapping"]
    # a stale kick is worth nothing: the next minute's housekeeping kicks again
    assert fn["EventInvokeConfig"] == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    for producer in ("RunChecks", "APIHandler", "OnStateChange"):
        env = template[producer]["Properties"]["Environment"]["Variables"]
        assert env["DELIVERY_WORKER_FUNCTION"] == {"Ref": "Deliver"}, producer
    kick = template["DeliveryWorkerKickPolicy"]
    assert kick["Type"] == "AWS::IAM::Policy"
    assert kick["Properties"]["Roles"] == [{"Ref": "DefaultRole"}]
    (st,) = kick["Properties"]["PolicyDocument"]["Statement"]
    assert st == {"Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                  "Resource": {"Fn::GetAtt": ["Deliver", "Arn"]}}
    queue = template["DeliveryQueue"]["Properties"]
    # a received message stays hidden longer than any worker can hold it
    assert queue["VisibilityTimeout"] >= 6 * fn["Timeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5}
    assert queue["SqsManagedSseEnabled"]
    dlq = template["DeadLetterQueue"]["Properties"]
    assert dlq["MessageRetentionPeriod"] == 14 * 86400 > queue["MessageRetentionPeriod"]
    # one batch is posted in parallel under a 10 s deadline each: well inside the timeout
    assert fn["Timeout"] >= 20


def test_topics_and_dead_letter_queues(template):
    for topic in ("UpdatesTopic", "OperatorTopic"):
        assert template[topic]["Type"] == "AWS::SNS::Topic"
    queues = {k for k, v in template.items() if v["Type"] == "AWS::SQS::Queue"}
    assert queues == {"DeadLetterQueue", "DeliveryQueue"}          # one queue for dead letters
    props = template["DeadLetterQueue"]["Properties"]
    assert props["MessageRetentionPeriod"] == 14 * 86400 and props["SqsManagedSseEnabled"]
    policy = template["DeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "DeadLetterQueue"}]
    (grant,) = policy["PolicyDocument"]["Statement"]
    assert grant["Principal"] == {"Service": "sns.amazonaws.com"}
    assert grant["Resource"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert grant["Condition"]["ArnEquals"]["aws:SourceArn"] == \
        [{"Ref": "UpdatesTopic"}, {"Ref": "OperatorTopic"}]
    sub = template["OperatorEmailSubscription"]
    assert sub["Condition"] == "HasOperatorEmail"
    assert sub["Properties"]["RedrivePolicy"] == \
        {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}


def dead_letter_targets(doc, template):
    """Every place the stack or the app sends what failed for good: (who, queue resource)."""
    env = doc["sam"]["Globals"]["Function"]["Environment"]["Variables"]
    out = [("app subscriptions (UPDATES_DLQ_ARN)", env["UPDATES_DLQ_ARN"]["Fn::GetAtt"][0]),
           ("delivery worker (DELIVERY_DLQ_URL)", env["DELIVERY_DLQ_URL"]["Ref"])]
    for name, res in template.items():
        props = res.get("Properties") or {}
        redrive = props.get("RedrivePolicy")
        if redrive:
            out.append((name, redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]))
        on_failure = [(props.get("EventInvokeConfig") or {}).get("DestinationConfig")]
        on_failure += [e["Properties"].get("DestinationConfig")
                       for e in (props.get("Events") or {}).values()]
        for dest in filter(None, on_failure):
            out.append((name, dest["OnFailure"]["Destination"]["Fn::GetAtt"][0]))
    return out


def test_every_dead_letter_source_points_at_the_alarmed_queue(doc, template):
    targets = dead_letter_targets(doc, template)
    sources = {who for who, _ in targets}
    assert sources >= {"app subscriptions (UPDATES_DLQ_ARN)", "delivery worker (DELIVERY_DLQ_URL)",
                       "OperatorEmailSubscription", "DeliveryQueue", "OnStateChange", "RunChecks"}
    watched = {dims["QueueName"]["Fn::GetAtt"][0]
               for ns, metric, dims, *_ in metric_stats(template["NotificationsAlarm"]["Properties"])
               if (ns, metric) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")}
    assert watched == {"DeadLetterQueue"}
    assert {queue for _, queue in targets} == watched, targets


def test_iam_is_least_privilege(template):
    sts = statements(template)
    sms = [st for st in sts if st.get("_condition") == "SmsSignupOn"]
    assert sms == [{"Effect": "Allow", "Action": ["sns:Publish"], "Resource": "*",
                    "_condition": "SmsSignupOn"}]          # direct SMS has no ARN; opt-in only
    sts = [st for st in sts if st not in sms]
    for st in sts:
        assert st["Effect"] == "Allow"
        assert all("*" not in a for a in as_list(st["Action"])), st
        assert st["Resource"] != "*"
    by_action: dict = {}
    for st in sts:
        for action in as_list(st["Action"]):
            by_action.setdefault(action, []).extend(as_list(st["Resource"]))
    assert sorted(by_action["sns:Publish"], key=str) == [{"Ref": "OperatorTopic"},
                                                          {"Ref": "UpdatesTopic"}]
    for action in ("sns:Subscribe", "sns:Unsubscribe"):
        assert by_action[action] == [{"Ref": "UpdatesTopic"}, {"Fn::Sub": "${UpdatesTopic}:*"}]
    assert {a for a in by_action if a.startswith("sns:")} == \
        {"sns:Publish", "sns:Subscribe", "sns:Unsubscribe", "sns:ListSubscriptionsByTopic"}
    assert by_action["sns:ListSubscriptionsByTopic"] == [{"Ref": "UpdatesTopic"}]
    assert sorted(a for a in by_action if a.startswith("sqs:")) == [
        "sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage", "sqs:SendMessage"]
    assert sorted(r["Fn::GetAtt"][0] for r in by_action["sqs:SendMessage"]) == \
        ["DeadLetterQueue", "DeliveryQueue"]
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"):
        assert by_action[action] == [{"Fn::GetAtt": ["DeliveryQueue", "Arn"]}]
    assert by_action["dynamodb:GetRecords"] == [{"Fn::GetAtt": ["StateTable", "StreamArn"]}]
    assert by_action["dynamodb:Scan"] == [{"Fn::GetAtt": ["SubscribersTable", "Arn"]}]
    # sign-up, unsubscribe, erase and fan-out query the subscribers' index, never scan
    assert {"Fn::Sub": "${SubscribersTable.Arn}/index/kind-address"} in by_action["dynamodb:Query"]
    assert "dynamodb:DeleteTable" not in by_action and "dynamodb:CreateTable" not in by_action
    (audit,) = [s for s in sts if s["Resource"] == {"Fn::GetAtt": ["AuditTable", "Arn"]}]
    assert set(audit["Action"]) == {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:DescribeTable"}
    s3 = [s for s in sts if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert s3 and all("_condition" not in s for s in s3)
    assert [s["Resource"] for s in s3] == [{"Fn::Sub": "${StaticBucket.Arn}/*"},
                                           {"Fn::GetAtt": ["StaticBucket", "Arn"]}]
    assert {a for s in s3 for a in as_list(s["Action"])} == \
        {"s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}


def present(sam, **overrides):
    """Resource names that exist for these parameter values (CloudFormation's Conditions)."""
    params = {k: v.get("Default") for k, v in sam["Parameters"].items()}
    params.update(overrides)
    conds: dict = {}

    def ev(x):
        if isinstance(x, dict):
            (fn, arg), = x.items()
            if fn == "Ref":
                return params.get(arg, arg)
            if fn == "Condition":
                return cond(arg)
            if fn == "Fn::Equals":
                return str(ev(arg[0])) == str(ev(arg[1]))
            if fn == "Fn::Not":
                return not ev(arg[0])
            if fn == "Fn::And":
                return all(ev(a) for a in arg)
            if fn == "Fn::Or":
                return any(ev(a) for a in arg)
            raise AssertionError(fn)
        return x

    def cond(name):
        if name not in conds:
            conds[name] = ev(sam["Conditions"][name])
        return conds[name]

    return {k for k, v in sam["Resources"].items() if "Condition" not in v or cond(v["Condition"])}


# -- alarms: the same failure modes as before, on built-in metrics, fewer alarms -------------

def alarms(resources):
    return {k: v for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def metric_stats(props):
    """[(namespace, metric, {dimension: value}, stat, period)] an alarm reads."""
    if "Metrics" not in props:
        return [(props["Namespace"], props["MetricName"],
                 {d["Name"]: d["Value"] for d in props.get("Dimensions", ())},
                 props.get("Statistic"), props["Period"])]
    out = []
    for q in props["Metrics"]:
        if "MetricStat" in q:
            m = q["MetricStat"]["Metric"]
            out.append((m["Namespace"], m["MetricName"],
                        {d["Name"]: d["Value"] for d in m.get("Dimensions", ())},
                        q["MetricStat"]["Stat"], q["MetricStat"]["Period"]))
    return out


def expression(props, params):
    """The alarm's metric math as a Python function of its metric ids (None: no datapoint)."""
    (out,) = [q for q in props["Metrics"] if q.get("ReturnData")]
    text = out["Expression"]
    if isinstance(text, dict):                       # Fn::Sub with parameters
        text = re.sub(r"\$\{(\w+)\}", lambda m: str(params[m.group(1)]), text["Fn::Sub"])
    ids = [q["Id"] for q in props["Metrics"] if "MetricStat" in q]
    scope = {"IF": lambda c, a, b: a if c else b,
             "FILL": lambda x, default: default if x is None else x}
    return lambda **values: eval(text, {"__builtins__": {}}, {**scope, **{i: values.get(i) for i in ids}})


def breaches(props, value) -> bool:
    op = props["ComparisonOperator"]
    return {"GreaterThanOrEqualToThreshold": value >= props["Threshold"],
            "GreaterThanThreshold": value > props["Threshold"],
            "LessThanThreshold": value < props["Threshold"]}[op]


def test_the_alarm_set_is_small_and_reads_only_built_in_metrics(doc, template):
    home = alarms(template)
    assert set(home) == {"ChecksAlarm", "NotificationsAlarm", "ApiServerErrorsAlarm",
                         "SmsSpendAlarm"}
    for props in (a["Properties"] for a in home.values()):
        assert props["AlarmActions"] == [{"Ref": "OperatorTopic"}]
        assert all(ns.startswith("AWS/") for ns, *_ in metric_stats(props))   # no custom metric
    # CloudWatch bills each metric an alarm reads ($0.10 a month): 4 at the defaults (SMS
    # sign-up off): the results written, the dead-letter queue, the stream lag and the API's
    # 5xx. Was 8 (4 dead-letter queues and the checker's Errors), and before that 9
    # single-metric alarms plus a custom metric.
    on = present(doc["sam"]) & set(home)
    assert {k: len(metric_stats(home[k]["Properties"])) for k in on} == \
        {"ChecksAlarm": 1, "NotificationsAlarm": 2, "ApiServerErrorsAlarm": 1}
    assert "SmsSpendAlarm" not in on and "SmsSpendAlarm" in present(doc["sam"], SmsSignup="true")


def test_checks_alarm_is_the_dead_mans_switch_for_every_region(doc, template):
    props = template["ChecksAlarm"]["Properties"]
    stats = metric_stats(props)
    assert ("AWS/DynamoDB", "SuccessfulRequestLatency",
            {"TableName": {"Ref": "ResultsTable"}, "Operation": "PutItem"}, "SampleCount", 60) in stats
    assert len(stats) == 1            # a checker failing after its write: the DLQ (below)
    (out,) = [q for q in props["Metrics"] if q.get("ReturnData")]
    assert out["Expression"] == {"Fn::Sub": "IF(FILL(written, 0) < ${CheckRegionCount}, 1, 0)"}
    assert (props["EvaluationPeriods"], props["DatapointsToAlarm"], props["TreatMissingData"]) == \
        (3, 3, "breaching")                           # 3 minutes; silence is breaching
    params = {k: v.get("Default") for k, v in doc["sam"]["Parameters"].items()}
    assert params["CheckRegionCount"] == 3
    minute = expression(props, params)
    assert not breaches(props, minute(written=3))                     # every region wrote
    assert not breaches(props, minute(written=6))                     # sub-minute rounds
    assert breaches(props, minute(written=2))                         # one region stopped
    assert breaches(props, minute(written=None))                      # nothing at all
    # Wrote, then failed (what the Errors metric used to add): Lambda's on-failure record goes
    # to the dead-letter queue, and one letter is enough for NotificationsAlarm.
    dest = template["RunChecks"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]
    assert dest["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    notifications = template["NotificationsAlarm"]["Properties"]
    assert breaches(notifications, expression(notifications, {})(letters=1, lag=None))


def test_notifications_alarm_watches_the_dead_letter_queue_and_the_stream_lag(template):
    props = template["NotificationsAlarm"]["Properties"]
    stats = metric_stats(props)
    assert len(stats) == 2
    dead_letter_queues = {k for k, v in template.items() if v["Type"] == "AWS::SQS::Queue"
                          and k.endswith(("DeadLetterQueue", "FailureQueue"))}
    assert dead_letter_queues == {"DeadLetterQueue"}
    (out,) = [q for q in props["Metrics"] if q.get("ReturnData")]
    assert out["Expression"] == "FILL(letters, 0) + IF(FILL(lag, 0) > 300000, 1, 0)"
    watched = {dims["QueueName"]["Fn::GetAtt"][0] for ns, metric, dims, *_ in stats
               if (ns, metric) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")}
    assert watched == dead_letter_queues
    assert ("AWS/Lambda", "IteratorAge", {"FunctionName": {"Ref": "OnStateChange"}}, "Minimum",
            300) in stats
    ids = {q["MetricStat"]["Metric"].get("Dimensions", [{}])[0].get("Value", {}).get(
        "Fn::GetAtt", [None])[0]: q["Id"] for q in props["Metrics"] if "MetricStat" in q}
    check = expression(props, {})
    quiet = {ids[q]: 0 for q in dead_letter_queues}
    assert not breaches(props, check(**quiet, lag=1000))
    assert not breaches(props, check(lag=None))                      # idle: no datapoints
    for queue in dead_letter_queues:
        assert breaches(props, check(**{**quiet, ids[queue]: 1}, lag=0))
    assert breaches(props, check(**quiet, lag=301_000))              # 5 minutes behind
    assert props["TreatMissingData"] == "notBreaching"


def test_api_errors_and_sms_spend_alarms(doc, template):
    api = template["ApiServerErrorsAlarm"]["Properties"]
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert {"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}} in api["Dimensions"]
    assert template["RestAPI"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}
    sms = template["SmsSpendAlarm"]
    assert sms["Condition"] == "SmsSignupOn"
    assert (sms["Properties"]["Namespace"], sms["Properties"]["MetricName"]) == \
        ("AWS/SNS", "SMSMonthToDateSpentUSD")
    assert sms["Properties"]["Threshold"] == {"Ref": "SmsSpendAlarmThreshold"}
    assert doc["sam"]["Parameters"]["SmsMonthlySpendLimit"]["Type"] == "Number"


def test_functions_are_arm64_with_retained_logs(template):
    fns = functions(template)
    for name, fn in fns.items():
        assert fn["Properties"]["Architectures"] == ["arm64"], name
        (group,) = [g for g in template.values() if g["Type"] == "AWS::Logs::LogGroup"
                    and g["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}]
        assert group["Properties"]["RetentionInDays"] == 14
    with open(os.path.join(ROOT, ".chalice", "config.json")) as fh:
        config = json.load(fh)
    assert fns["RunChecks"]["Properties"]["MemorySize"] == \
        config["lambda_functions"]["run_checks"]["lambda_memory_size"]


# -- CloudFront: in front of every public route, always ---------------------------------------

CLOUDFRONT_TYPES = ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::CloudFront::Distribution",
                    "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::CachePolicy",
                    "AWS::CloudFront::OriginRequestPolicy")


def test_cloudfront_and_the_static_copy_are_always_there_and_the_waf_optional(doc, template):
    sam = doc["sam"]
    edge = {k for k, v in template.items() if v["Type"] in CLOUDFRONT_TYPES}
    assert len(edge) == 7 and edge <= present(sam)
    assert not any("Condition" in template[k] for k in edge)
    assert "StaticFallback" not in sam["Parameters"]
    assert not any(v.get("Condition") for v in sam["Outputs"].values())
    assert {"StaticBucketName", "DistributionDomainName"} <= set(sam["Outputs"])
    cfg = template["Distribution"]["Properties"]["DistributionConfig"]
    assert sam["Parameters"]["WebAclArn"]["Default"] == ""
    assert cfg["WebACLId"] == {"Fn::If": ["HasWebAcl", {"Ref": "WebAclArn"}, {"Ref": "AWS::NoValue"}]}


def behaviour_for(cfg, path):
    """The cache behaviour CloudFront picks: the first path pattern that matches, else default."""
    for b in cfg["CacheBehaviors"]:
        if fnmatch.fnmatchcase(path, b["PathPattern"]):
            return b
    return cfg["DefaultCacheBehavior"]


def app_routes():
    """(sample path, method) for every route the app serves."""
    from app import app
    return [(re.sub(r"\{\w+\}", "x1", path), method)
            for path, methods in app.routes.items() for method in methods]


# Contract routes other work adds; the distribution must already treat them right.
CONTRACT_GETS = ["/", "/incidents/x1", "/history.atom", "/history.rss", "/badge/x1.svg",
                 "/api/v2/summary.json", "/api/v2/uptime.json", "/maintenance.ics", "/embed.js",
                 "/embed", "/history"]
CONTRACT_WRITES = [("/api/v1/reports", "POST"), ("/api/v1/heartbeat/x1", "POST"),
                   ("/api/v1/heartbeat/x1", "GET"), ("/api/v1/subscribe", "POST"),
                   ("/api/v1/pages/acme/incidents", "POST"), ("/api/v1/pages/acme/incidents", "GET")]


def test_every_public_get_is_cached_and_everything_else_passes_through(template):
    cfg = template["Distribution"]["Properties"]["DistributionConfig"]
    public = template["PublicCachePolicy"]["Properties"]["CachePolicyConfig"]
    private = template["OperatorCachePolicy"]["Properties"]["CachePolicyConfig"]
    routes = app_routes() + [(p, "GET") for p in CONTRACT_GETS] + CONTRACT_WRITES
    cached_paths = set()
    for path, method in routes:
        b = behaviour_for(cfg, path)
        assert method in b["AllowedMethods"], (path, method)
        policy = template[b["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
        read_only = method in ("GET", "HEAD") and (not path.startswith("/api/v1/")
                                                   or path == "/api/v1/openapi.json")
        if read_only:
            assert policy is public and b["Compress"] is True, path
            cached_paths.add(path)
        else:                   # operator API, sign-up, reports, heartbeats, every write
            assert policy is private, (path, method)
            assert b["OriginRequestPolicyId"] == {"Ref": "ApiOriginRequestPolicy"}
            assert b["TargetOriginId"] == "api"
    assert {"/", "/api/v2/summary.json", "/incidents/x1", "/badge/x1.svg"} <= cached_paths
    # pages come from the API, or from the S3 copy when it errs
    for path in ("/", "/api/v2/summary.json", "/history.atom", "/maintenance.ics", "/embed.js"):
        assert behaviour_for(cfg, path)["TargetOriginId"] == "api-then-static"
    assert (private["DefaultTTL"], private["MaxTTL"]) == (0, 1)        # nothing kept, nothing shared
    assert private["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"] == \
        {"HeaderBehavior": "whitelist", "Headers": ["Authorization"]}


def test_public_ttls_follow_the_origins_cache_control(template):
    from chalicelib.core.caching import PUBLIC_CACHE_CONTROL
    directives = dict(d.strip().partition("=")[::2] for d in PUBLIC_CACHE_CONTROL.split(","))
    max_age = int(directives["max-age"])
    assert "stale-while-revalidate" in directives
    policy = template["PublicCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert policy["MinTTL"] == 0 <= max_age <= policy["MaxTTL"]      # the origin's max-age rules
    assert policy["DefaultTTL"] <= max_age                           # no header: shorter still
    key = policy["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["EnableAcceptEncodingGzip"] and key["EnableAcceptEncodingBrotli"]
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}        # one copy per object
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["QueryStringsConfig"] == {"QueryStringBehavior": "whitelist", "QueryStrings": ["page"]}


def test_the_app_gets_the_visitors_address_from_cloudfront(template):
    cfg = template["ApiOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    headers = cfg["HeadersConfig"]["Headers"]
    assert cfg["HeadersConfig"]["HeaderBehavior"] == "whitelist"
    assert {"CloudFront-Viewer-Address", "CloudFront-Viewer-Country"} <= set(headers)
    assert "Host" not in headers and "Authorization" not in headers   # API GW's own; cache key
    assert len(headers) <= 10                                          # CloudFront's quota
    used = set()                                    # every request header the app reads
    for root, _, files in os.walk(os.path.join(ROOT, "chalicelib")):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(root, name)) as fh:
                    used |= set(re.findall(r'headers or \{\}\)\.get\("([a-z-]+)"\)', fh.read()))
    assert used - {"authorization"} <= {h.lower() for h in headers}


def test_cloudfront_proves_itself_to_the_api_so_viewer_addresses_can_be_believed(doc, template):
    # chalicelib/web/httpkit.py client_addresses: the app believes CloudFront-Viewer-Address only on a
    # request carrying the secret CloudFront adds; a caller straight to execute-api has not got it.
    cfg = template["Distribution"]["Properties"]["DistributionConfig"]
    api = next(o for o in cfg["Origins"] if o["Id"] == "api")
    (header,) = api["OriginCustomHeaders"]
    assert header["HeaderName"].lower() == "x-outpost-origin"
    shared = doc["sam"]["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["ORIGIN_VERIFY_SECRET"] == header["HeaderValue"]
    assert "AWS::StackId" in json.dumps(header["HeaderValue"])      # per stack, never in git


def test_cloudfront_fails_over_to_the_s3_copy_behind_origin_shield(doc, template):
    cfg = template["Distribution"]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in cfg["Origins"]}
    api, static = origins["api"], origins["static"]
    assert 2 <= api["ConnectionTimeout"] <= 3 and 1 <= api["ConnectionAttempts"] <= 2
    assert api["CustomOriginConfig"]["OriginReadTimeout"] == 5
    assert static["DomainName"] == {"Fn::GetAtt": ["StaticBucket", "RegionalDomainName"]}
    assert static["OriginAccessControlId"] == \
        {"Fn::GetAtt": ["StaticOriginAccessControl", "Id"]}
    (group,) = cfg["OriginGroups"]["Items"]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["api", "static"]
    assert group["FailoverCriteria"]["StatusCodes"]["Items"] == [500, 502, 503, 504]
    default = cfg["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == group["Id"] and default["Compress"] is True
    assert cfg["DefaultRootObject"] == "index.html"
    for origin in (api, static):
        cond, off, on = origin["OriginShield"]["Fn::If"]
        assert (cond, off, on["Enabled"]) == ("ShieldOff", {"Enabled": False}, True)
        assert on["OriginShieldRegion"] == {"Fn::If": ["ShieldInStackRegion", {"Ref": "AWS::Region"},
                                                       {"Ref": "OriginShieldRegion"}]}
    shield = doc["sam"]["Parameters"]["OriginShieldRegion"]
    assert shield["Default"] == "" and {"none", "us-west-2", "eu-west-1"} <= set(shield["AllowedValues"])
    reader = template["StaticBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert "AWS:SourceArn" in reader["Condition"]["StringEquals"]
    assert template["StaticBucket"]["Properties"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True}


def test_waf_rate_limits_the_subscribe_route_from_us_east_1(doc):
    waf = doc["waf"]
    acl = waf["Resources"]["WebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    (rule,) = acl["Rules"]
    rate = rule["Statement"]["RateBasedStatement"]
    assert rate["AggregateKeyType"] == "IP" and rule["Action"] == {"Block": {}}
    match = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["SearchString"], match["PositionalConstraint"]) == \
        ("/api/v1/subscribe", "STARTS_WITH")
    (assertion,) = waf["Rules"]["OnlyInUsEast1"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}


def readme_deploy():
    with open(os.path.join(ROOT, "README.md")) as fh:
        text = fh.read()
    return text[text.index("## Deploy"):text.index("## Tests")]


def test_readme_deploy_commands_match_the_templates(doc, checker):
    deploy = readme_deploy()
    home_params = set(doc["sam"]["Parameters"])
    home_outputs = set(doc["sam"]["Outputs"])
    checker_params = set(checker["Parameters"])
    blocks = re.findall(r"```bash\n(.*?)```", deploy, re.S)
    overrides = [cmd for b in blocks for cmd in b.replace("\\\n", " ").splitlines()
                 if "--parameter-overrides" in cmd]
    assert overrides
    for cmd in overrides:
        names = set(re.findall(r"(\w+)=", cmd.split("--parameter-overrides", 1)[1]))
        target = checker_params if "checker" in cmd else home_params
        assert names and names <= target, (names - target, cmd)
    for name in re.findall(r"\$\(out (\w+)\)", deploy):          # `$(out StateTableName)`
        assert name in home_outputs, name
    assert {"ResultsTableName", "StateTableName", "AuditTableName", "HistoryTableName"} <= \
        checker_params <= {"HomeRegion", "ResultsTableName", "StateTableName", "AuditTableName",
                           "HistoryTableName", "AlarmTopicArn"}


def test_checker_stage_adds_a_vantage_point_and_nothing_else(checker):
    res = checker["Resources"]
    assert set(functions(res)) == {"RunChecks", "APIHandler"}
    assert not [k for k, v in res.items() if v["Type"].startswith(("AWS::DynamoDB", "AWS::SNS"))]
    run = res["RunChecks"]["Properties"]
    assert run["EventInvokeConfig"] == {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    env = run["Environment"]["Variables"]
    assert env["HOME_REGION"] == {"Ref": "HomeRegion"} and env["CHECK_REGIONS"] == "eu-west-1"
    assert env["STATE_TABLE"] == {"Ref": "StateTableName"}
    (ddb,) = [s for s in statements(res) if as_list(s["Action"])[0].startswith("dynamodb:")]
    assert all("${HomeRegion}" in r["Fn::Sub"] for r in ddb["Resource"])
    assert "dynamodb:Scan" not in ddb["Action"]
    # its silence is the home stack's ChecksAlarm; its errors alarm only with a topic to tell
    assert [k for k, v in res.items() if v["Type"] == "AWS::CloudWatch::Alarm"] == \
        ["RunChecksErrorsAlarm"]
    assert res["RunChecksErrorsAlarm"]["Condition"] == "HasAlarmTopic"
    assert "OnStateChangeLogGroup" not in res and "RunChecksLogGroup" in res


HOME = {"provider": "aws", "region": "us-west-2"}
SAME_PLACE = status_yaml(
    [component("api", "API", http_monitor("https://api.acme.example/health", timeout=None))],
    page={**ACME, "url": "https://status.acme-status.example", "hosted_on": HOME,
          "service_hosted_on": HOME},
    checks={"regions": ["us-west-2", "eu-west-1", "ap-southeast-2"], "quorum": 2})


def test_package_refuses_a_status_file_that_is_not_offsite(tmp_path):
    status = tmp_path / "status.yaml"
    status.write_text(SAME_PLACE)
    proc = package(tmp_path / "out", status_file=str(status))
    assert proc.returncode == 1
    assert "ERROR   offsite: Outpost would run on aws us-west-2" in proc.stderr
    assert "make package: refused by `outpost doctor`" in proc.stderr
    assert not (tmp_path / "out").exists()                    # chalice never ran


def test_the_static_copys_heartbeat_comes_from_s3_and_is_never_served_stale(template):
    """The S3 copy of the page reads /heartbeat.json for its data's age; only S3 has that key
    (the API would answer 403, which is no failover code), and S3 stores it as no-cache."""
    from chalicelib.adapters.static_copy import HEARTBEAT_KEY
    cfg = template["Distribution"]["Properties"]["DistributionConfig"]
    b = behaviour_for(cfg, "/" + HEARTBEAT_KEY)
    assert b["TargetOriginId"] == "static" and b["CachePolicyId"] == {"Ref": "PublicCachePolicy"}
    assert template["PublicCachePolicy"]["Properties"]["CachePolicyConfig"]["MinTTL"] == 0
    from app import app
    assert "/" + HEARTBEAT_KEY not in app.routes
def test_channel_secrets_are_noecho_and_reach_the_delivery_worker_only(doc, template):
    """Each chat/on-call URL is a NoEcho parameter; only Deliver gets it in its environment
    (the checker and the API queue channel messages, they never send them)."""
    names = {"SlackUrl": "SLACK_URL", "DiscordUrl": "DISCORD_URL", "TeamsUrl": "TEAMS_URL",
             "GoogleChatUrl": "GCHAT_URL", "MatrixUrl": "MATRIX_URL",
             "TelegramUrl": "TELEGRAM_URL", "PagerDutyUrl": "PAGERDUTY_URL",
             "OpsgenieUrl": "OPSGENIE_URL"}
    params = doc["sam"]["Parameters"]
    for param, var in names.items():
        assert params[param]["NoEcho"] is True and params[param]["Default"] == ""
        assert template["Deliver"]["Properties"]["Environment"]["Variables"][var] == \
            {"Ref": param}
    for name, res in functions(template).items():
        if name != "Deliver":
            env = ((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
            assert not set(names.values()) & set(env), name
    globals_env = doc["sam"]["Globals"]["Function"]["Environment"]["Variables"]
    assert not set(names.values()) & set(globals_env)


def test_the_lambda_bundle_leaves_the_workstation_tools_out_and_still_imports(
        doc, tmp_path_factory, tmp_path):
    """chalicelib/tools (the CLI, doctor) is not in deployment.zip, and every module that is
    imports from the bundle alone: no Lambda code path needs the tools."""
    proc, out = packaged(tmp_path_factory, "home")         # the `doc` fixture's package run
    bundle = out / "deployment.zip"
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        z.extractall(tmp_path / "bundle",
                     [n for n in names if n.startswith(("chalicelib/", "app.py"))])
    assert "app.py" in names and "chalicelib/usecases/publish.py" in names
    assert not [n for n in names if n.startswith("chalicelib/tools/")]
    assert "workstation-only files out of the Lambda bundle" in proc.stdout
    script = ("import importlib, os, pkgutil, sys; sys.path.insert(0, os.getcwd()); "
              "import app, chalicelib; "
              "assert chalicelib.__file__.startswith(os.getcwd()), chalicelib.__file__; "
              "[importlib.import_module(m.name) for m in "
              "pkgutil.walk_packages(chalicelib.__path__, 'chalicelib.')]; print('ok')")
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path / "bundle",
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_a_regular_install_carries_the_whole_layout(tmp_path):
    """`pip install .` (not only the editable install the Makefile makes) ships every module
    and data file the app reads: all subpackages, templates, static files, catalogs."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--no-build-isolation", "-w", str(tmp_path), ROOT],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(["git", "ls-files", "chalicelib"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    needed = [f for f in tracked if not f.endswith((".po", ".pot"))]
    assert needed and not [f for f in needed if f not in shipped]
