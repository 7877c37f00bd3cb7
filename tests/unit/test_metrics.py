"""The checker's dead man's switch metric: one embedded-metric-format line, only in Lambda."""
import json
from types import SimpleNamespace

from chalicelib import metrics


def report(regions=("us-west-2",), checks=10, failing=1):
    return SimpleNamespace(regions=regions, checks=checks, failing_checks=failing)


def test_the_line_is_embedded_metric_format_with_one_metric():
    line = json.loads(metrics.results_line("outpost-RunChecks", 3, 3, 30, 2, 1_780_000_000.5))
    (spec,) = line["_aws"]["CloudWatchMetrics"]
    assert line["_aws"]["Timestamp"] == 1_780_000_000_500
    assert spec == {"Namespace": "Outpost", "Dimensions": [["FunctionName"]],
                    "Metrics": [{"Name": "ResultsWritten", "Unit": "Count"}]}
    assert (line["FunctionName"], line["ResultsWritten"], line["checks"]) == \
        ("outpost-RunChecks", 3, 30)


def test_emitted_only_in_lambda_and_zero_when_no_round_finished(capsys):
    metrics.emit_results({}, [report()], 1.0)
    assert capsys.readouterr().out == ""
    env = {"AWS_LAMBDA_FUNCTION_NAME": "fn"}
    metrics.emit_results(env, [report(("a", "b")), report(("a", "b"))], 1.0)
    assert json.loads(capsys.readouterr().out)["ResultsWritten"] == 4
    metrics.emit_results(env, [], 1.0)
    assert json.loads(capsys.readouterr().out)["ResultsWritten"] == 0
