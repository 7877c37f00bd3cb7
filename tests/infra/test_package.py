"""`make package` output: the templates deploy what the README promises, and lint clean.

Packages into temporary directories (others may be using build/ at the same time).
"""
import os
import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT


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


def load(path):
    with open(path) as fh:
        return yaml.load(fh, Loader=CfnLoader)


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    out = tmp_path_factory.mktemp("home")
    proc = package(out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cfn-lint clean" in proc.stdout and "outpost doctor" in proc.stdout
    return {"sam": load(out / "sam.yaml"), "waf": load(out / "waf.yaml")}


@pytest.fixture(scope="module")
def template(doc):
    return doc["sam"]["Resources"]


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    """A checker stage as the README packages it: in its own region."""
    out = tmp_path_factory.mktemp("checker")
    proc = package(out, "checker-eu-west-1", region="eu-west-1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dropped OnStateChange" in proc.stdout
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


def test_the_subscribers_index_is_the_one_the_app_queries(template):
    from chalicelib.storage import Store
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
    assert set(fns) == {"APIHandler", "RunChecks", "OnStateChange"}
    for fn in fns.values():
        env = fn["Properties"]["Environment"]["Variables"]
        for var, table in (("RESULTS_TABLE", "ResultsTable"), ("STATE_TABLE", "StateTable"),
                           ("KEYS_TABLE", "KeysTable"), ("AUDIT_TABLE", "AuditTable"),
                           ("HISTORY_TABLE", "HistoryTable"),
                           ("SUBSCRIBERS_TABLE", "SubscribersTable")):
            assert env[var] == {"Ref": table}
    shared = doc["sam"]["Globals"]["Function"]["Environment"]["Variables"]
    assert shared["UPDATES_TOPIC_ARN"] == {"Ref": "UpdatesTopic"}
    assert shared["OPERATOR_TOPIC_ARN"] == {"Ref": "OperatorTopic"}
    assert shared["UPDATES_DLQ_ARN"] == {"Fn::GetAtt": ["UpdatesDeadLetterQueue", "Arn"]}
    assert shared["SMS_MONTHLY_SPEND_LIMIT"] == {"Ref": "SmsMonthlySpendLimit"}
    assert shared["STATIC_BUCKET"] == {"Fn::If": ["StaticFallbackOn", {"Ref": "StaticBucket"}, ""]}
    for fn in fns.values():                   # a function's own value would win over Globals
        assert not set(shared) & set(fn["Properties"]["Environment"]["Variables"])


def test_the_checker_never_retries_a_late_round(template):
    assert template["RunChecks"]["Properties"]["EventInvokeConfig"] == \
        {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
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
            "Type": "SQS", "Destination": {"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}}}}


def test_topics_and_dead_letter_queues(template):
    for topic in ("UpdatesTopic", "OperatorTopic"):
        assert template[topic]["Type"] == "AWS::SNS::Topic"
    for queue in ("UpdatesDeadLetterQueue", "OperatorDeadLetterQueue", "StreamFailureQueue"):
        props = template[queue]["Properties"]
        assert template[queue]["Type"] == "AWS::SQS::Queue"
        assert props["MessageRetentionPeriod"] == 14 * 86400 and props["SqsManagedSseEnabled"]
    policy = template["DeadLetterQueuePolicy"]["Properties"]
    grants = {st["Resource"]["Fn::GetAtt"][0]: st["Condition"]["ArnEquals"]["aws:SourceArn"]
              for st in policy["PolicyDocument"]["Statement"]}
    assert grants == {"UpdatesDeadLetterQueue": {"Ref": "UpdatesTopic"},
                      "OperatorDeadLetterQueue": {"Ref": "OperatorTopic"}}
    sub = template["OperatorEmailSubscription"]
    assert sub["Condition"] == "HasOperatorEmail"
    assert sub["Properties"]["RedrivePolicy"] == \
        {"deadLetterTargetArn": {"Fn::GetAtt": ["OperatorDeadLetterQueue", "Arn"]}}


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
    assert [a for a in by_action if a.startswith("sqs:")] == ["sqs:SendMessage"]
    assert by_action["sqs:SendMessage"] == [{"Fn::GetAtt": ["StreamFailureQueue", "Arn"]}]
    assert by_action["dynamodb:GetRecords"] == [{"Fn::GetAtt": ["StateTable", "StreamArn"]}]
    assert by_action["dynamodb:Scan"] == [{"Fn::GetAtt": ["SubscribersTable", "Arn"]}]
    # sign-up, unsubscribe, erase and fan-out query the subscribers' index, never scan
    assert {"Fn::Sub": "${SubscribersTable.Arn}/index/kind-address"} in by_action["dynamodb:Query"]
    assert "dynamodb:DeleteTable" not in by_action and "dynamodb:CreateTable" not in by_action
    (audit,) = [s for s in sts if s["Resource"] == {"Fn::GetAtt": ["AuditTable", "Arn"]}]
    assert set(audit["Action"]) == {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:DescribeTable"}
    s3 = [s for s in sts if any(a.startswith("s3:") for a in as_list(s["Action"]))]
    assert s3 and all(s["_condition"] == "StaticFallbackOn" for s in s3)
    assert {a for s in s3 for a in as_list(s["Action"])} == \
        {"s3:PutObject", "s3:DeleteObject", "s3:ListBucket"}


def alarm(template, name):
    res = template[name]
    assert res["Type"] == "AWS::CloudWatch::Alarm"
    props = res["Properties"]
    assert props["AlarmActions"] == [{"Ref": "OperatorTopic"}]
    return props


def test_alarms(doc, template):
    silent = alarm(template, "RunChecksSilentAlarm")
    assert silent["MetricName"] == "Invocations" and silent["TreatMissingData"] == "breaching"
    results = alarm(template, "ResultsSilentAlarm")
    assert (results["Namespace"], results["MetricName"]) == ("Outpost", "ResultsWritten")
    assert results["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "RunChecks"}}]
    assert (results["Period"] * results["EvaluationPeriods"], results["ComparisonOperator"],
            results["Threshold"], results["TreatMissingData"]) == \
        (180, "LessThanThreshold", 1, "breaching")
    for name, queue in (("UpdatesDeadLetterAlarm", "UpdatesDeadLetterQueue"),
                        ("OperatorDeadLetterAlarm", "OperatorDeadLetterQueue"),
                        ("StreamFailureAlarm", "StreamFailureQueue")):
        props = alarm(template, name)
        assert props["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert props["Dimensions"] == [{"Name": "QueueName",
                                        "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    api = alarm(template, "ApiServerErrorsAlarm")
    assert (api["Namespace"], api["MetricName"]) == ("AWS/ApiGateway", "5XXError")
    assert {"Name": "ApiName", "Value": {"Ref": "AWS::StackName"}} in api["Dimensions"]
    assert template["RestAPI"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}
    sms = alarm(template, "SmsSpendAlarm")
    assert (sms["Namespace"], sms["MetricName"]) == ("AWS/SNS", "SMSMonthToDateSpentUSD")
    assert sms["Threshold"] == {"Ref": "SmsSpendAlarmThreshold"}
    params = doc["sam"]["Parameters"]
    assert params["SmsMonthlySpendLimit"]["Type"] == "Number"
    lag = alarm(template, "OnStateChangeLagAlarm")
    assert lag["MetricName"] == "IteratorAge"


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


FALLBACK_TYPES = ("AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::CloudFront::Distribution",
                  "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::CachePolicy")


def test_static_fallback_exists_only_when_enabled(doc, template):
    sam = doc["sam"]
    fallback = {k for k, v in template.items() if v["Type"] in FALLBACK_TYPES}
    assert len(fallback) == 6
    assert sam["Parameters"]["StaticFallback"]["Default"] == "false"
    assert not fallback & present(sam)
    assert fallback <= present(sam, StaticFallback="true", WebAclArn="arn:aws:wafv2:x")
    for name in fallback:
        assert template[name]["Condition"] == "StaticFallbackOn"
    assert {k for k, v in sam["Outputs"].items() if v.get("Condition") == "StaticFallbackOn"} == \
        {"StaticBucketName", "DistributionDomainName"}
    (assertion,) = sam["Rules"]["StaticFallbackNeedsWaf"]["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "WebAclArn"}, ""]}]}
    assert "us-east-1" in assertion["AssertDescription"]


def test_cloudfront_fails_over_to_the_s3_copy_quickly(template):
    cfg = template["Distribution"]["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in cfg["Origins"]}
    api, static = origins["api"], origins["static"]
    assert 2 <= api["ConnectionTimeout"] <= 3 and 1 <= api["ConnectionAttempts"] <= 2
    assert api["CustomOriginConfig"]["OriginReadTimeout"] == 5
    assert static["OriginAccessControlId"] == \
        {"Fn::GetAtt": ["StaticOriginAccessControl", "Id"]}
    (group,) = cfg["OriginGroups"]["Items"]
    assert [m["OriginId"] for m in group["Members"]["Items"]] == ["api", "static"]
    assert group["FailoverCriteria"]["StatusCodes"]["Items"] == [500, 502, 503, 504]
    default = cfg["DefaultCacheBehavior"]
    assert default["TargetOriginId"] == group["Id"] and default["Compress"] is True
    assert cfg["DefaultRootObject"] == "index.html"
    policy = template[default["CachePolicyId"]["Ref"]]["Properties"]["CachePolicyConfig"]
    assert policy["MinTTL"] == 0 and policy["MaxTTL"] >= 86400       # origin Cache-Control rules
    (operator,) = cfg["CacheBehaviors"]
    assert operator["PathPattern"] == "/api/v1/*" and operator["TargetOriginId"] == "api"
    assert "POST" in operator["AllowedMethods"]
    assert cfg["WebACLId"] == {"Ref": "WebAclArn"}
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
    for name in ("RunChecksSilentAlarm", "ResultsSilentAlarm"):
        assert res[name]["Properties"]["TreatMissingData"] == "breaching"


SAME_PLACE = """
page:
  id: acme
  name: Acme Status
  url: https://status.acme-status.example
  hosted_on: {provider: aws, region: us-west-2}
  service_hosted_on: {provider: aws, region: us-west-2}
checks: {regions: [us-west-2, eu-west-1, ap-southeast-2], quorum: 2}
components:
  - id: api
    name: API
    monitors: [{url: "https://api.acme.example/health"}]
"""


def test_package_refuses_a_status_file_that_is_not_offsite(tmp_path):
    status = tmp_path / "status.yaml"
    status.write_text(SAME_PLACE)
    proc = package(tmp_path / "out", status_file=str(status))
    assert proc.returncode == 1
    assert "ERROR   offsite: Outpost would run on aws us-west-2" in proc.stderr
    assert "make package: refused by `outpost doctor`" in proc.stderr
    assert not (tmp_path / "out").exists()                    # chalice never ran
