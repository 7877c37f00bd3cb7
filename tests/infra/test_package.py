"""`make package` output: the template deploys what the README promises, and lints clean."""
import os
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    value = (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
             else loader.construct_sequence(node))
    return {f"!{suffix}": value}


CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.run([sys.executable, "-m", "infra.package"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cfn-lint clean" in proc.stdout
    with open(os.path.join(ROOT, "build", "sam.yaml")) as fh:
        return yaml.load(fh, Loader=CfnLoader)["Resources"]


def test_tables_have_pitr_deletion_protection_encryption(template):
    for name in ("ResultsTable", "StateTable", "KeysTable", "AuditTable"):
        props = template[name]["Properties"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is True
        assert props["SSESpecification"] == {"SSEEnabled": True}
        assert template[name]["DeletionPolicy"] == "Retain"
    assert template["ResultsTable"]["Properties"]["TimeToLiveSpecification"] == \
        {"AttributeName": "expires_at", "Enabled": True}
    assert template["StateTable"]["Properties"]["StreamSpecification"] == \
        {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_functions_get_table_names_by_reference_and_the_checker_never_retries(template):
    for fn in ("RunChecks", "APIHandler"):
        env = template[fn]["Properties"]["Environment"]["Variables"]
        assert env["STATE_TABLE"] == {"Ref": "StateTable"}
        assert env["RESULTS_TABLE"] == {"Ref": "ResultsTable"}
    assert template["RunChecks"]["Properties"]["EventInvokeConfig"] == \
        {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}
    assert template["RunChecks"]["Properties"]["Events"]["RunChecksEvent"]["Properties"] == \
        {"Schedule": "rate(1 minute)"}


def test_iam_is_scoped_to_our_tables(template):
    statements = template["DefaultRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for st in statements:
        assert all(not a.endswith("*") for a in st["Action"])
        assert st["Resource"] != "*"
    ddb = [s for s in statements if s["Action"][0].startswith("dynamodb:")]
    for st in ddb:
        assert "dynamodb:Scan" not in st["Action"] and "dynamodb:DeleteTable" not in st["Action"]
    assert ddb[0]["Resource"] == [{"Fn::GetAtt": [t, "Arn"]}
                                  for t in ("ResultsTable", "StateTable", "KeysTable")]
    (audit,) = [s for s in ddb if s["Resource"] == {"Fn::GetAtt": ["AuditTable", "Arn"]}]
    assert set(audit["Action"]) == {"dynamodb:PutItem", "dynamodb:Query", "dynamodb:DescribeTable"}


def test_dead_mans_switch_alarm(template):
    alarm = template["RunChecksSilentAlarm"]["Properties"]
    assert alarm["MetricName"] == "Invocations" and alarm["TreatMissingData"] == "breaching"
