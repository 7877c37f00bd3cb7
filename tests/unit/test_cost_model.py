"""The cost model of `make bench` (bench/cost_model.py): its arithmetic on fixed inputs, and the
README's cost section, which must be exactly what the model makes of the last run's counts."""
import copy
import json
import os
import re

import pytest

from bench import cost_model as cm
from tests.conftest import ROOT


def recorded_counts() -> dict:
    with open(os.path.join(ROOT, "bench", "cost_counts.json")) as fh:
        return json.load(fh)


def test_the_readme_cost_section_is_the_models_output_for_the_recorded_counts():
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    assert cm.readme_section(readme) == cm.render_markdown(recorded_counts())


def test_the_bench_ends_with_exactly_the_two_contract_lines():
    fixed, views = cm.contract_lines({"fixed": 6.404, "views": 0.996})
    assert fixed == "cost fixed: $6.40/month"
    assert views == "cost per 1M views: $1.00"
    section = cm.render_markdown(recorded_counts())
    for line in cm.contract_lines(cm.model(recorded_counts())[1]):
        assert re.fullmatch(r"cost (fixed: \$\d+\.\d\d/month|per 1M views: \$\d+\.\d\d)", line)
        assert line in section


def by_service(lines):
    return {line.service: line for line in lines}


def test_totals_are_the_sum_of_their_lines_and_prices_are_applied_as_listed():
    counts = recorded_counts()
    lines, totals = cm.model(counts)
    assert totals["fixed"] == pytest.approx(sum(x.usd for x in lines if x.kind == "fixed"))
    assert totals["views"] == pytest.approx(sum(x.usd for x in lines if x.kind == "views"))
    lines = by_service(lines)
    assert lines["CloudFront requests"].usd == pytest.approx(1.00)    # 1 M x $0.0100 / 10k
    region_rounds = 3 * 43_200
    assert lines["Lambda requests, checker"].usd == pytest.approx(region_rounds * 0.20 / 1e6)
    alarms = counts["cloudwatch"]["alarm_metrics"]
    assert lines["CloudWatch alarms"].usd == pytest.approx(alarms * 0.10)


def test_each_measured_count_moves_its_own_line_by_count_times_price():
    counts = recorded_counts()
    base = by_service(cm.model(counts)[0])
    more = copy.deepcopy(counts)
    more["checker"]["home"]["write_units"] += 10        # 10 more WRU in every home round
    more["checker"]["remote"]["s3_put_requests"] += 1
    more["origin"]["compressed_bytes"] += 2 ** 30 / 1e6   # 1 GB more over a million views
    more["cloudwatch"]["custom_metrics"] += 1
    lines = by_service(cm.model(more)[0])
    assert lines["DynamoDB writes, rounds"].usd - base["DynamoDB writes, rounds"].usd == \
        pytest.approx(43_200 * 10 * 0.625 / 1e6)
    assert lines["S3 requests, static copy"].usd - base["S3 requests, static copy"].usd == \
        pytest.approx(2 * 43_200 * 0.005 / 1000)
    assert lines["CloudFront data transfer"].usd - base["CloudFront data transfer"].usd == \
        pytest.approx(0.085)
    assert lines["CloudWatch custom metrics"].usd - base["CloudWatch custom metrics"].usd == \
        pytest.approx(0.30)
    for name in ("Lambda compute, checker", "DynamoDB reads, rounds", "CloudFront requests"):
        assert lines[name].usd == base[name].usd


def test_lambda_is_billed_by_configured_memory_architecture_and_rounded_milliseconds():
    counts = recorded_counts()
    arm = by_service(cm.model(counts)[0])["Lambda compute, checker"].usd
    x86 = copy.deepcopy(counts)
    x86["config"]["architecture"] = "x86_64"
    assert by_service(cm.model(x86)[0])["Lambda compute, checker"].usd == \
        pytest.approx(arm * 0.0000166667 / 0.0000133334)
    assert cm.billed_s(0.0001) == 0.001 and cm.billed_s(0.002) == 0.002
    assert cm.duration_s(0.5, 1.0, 1769) == pytest.approx(1.5)         # a full vCPU
    assert cm.duration_s(0.5, 1.0, 1769 // 2) == pytest.approx(2.0, rel=1e-3)


def test_origin_requests_are_bounded_by_one_per_ttl_per_cache():
    month = 43_200 * 60
    assert cm.renewals_per_month(0, 15) == 0
    assert cm.renewals_per_month(10, 15) == pytest.approx(10, rel=1e-3)     # tiny audience: all miss
    assert cm.renewals_per_month(1e12, 15) == pytest.approx(month / 15, rel=1e-3)
    assert cm.renewals_per_month(1e12, 15, caches=4) == pytest.approx(4 * month / 15, rel=1e-3)
    one_m = cm.renewals_per_month(1e6, 15)
    assert one_m < month / 15 and one_m < 1e6


def test_memory_pick_is_the_smallest_that_fits():
    assert cm.choose_memory(100, 0.01) == 128
    assert cm.choose_memory(110, 0.01) == 192          # 110 MB is more than 80% of 128
    pick = cm.choose_memory(110, 0.45)
    assert cm.fits(110, 0.45, pick) and not cm.fits(110, 0.45, pick - 64)
    assert all(cm.fits(110, 0.45, mb) for mb in range(pick, 3009, 64))


def test_the_price_table_is_dated_and_complete():
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", cm.PRICES["as_of"])
    assert cm.PRICES["lambda_gb_second"]["arm64"] < cm.PRICES["lambda_gb_second"]["x86_64"]
    assert cm.PRICES["dynamodb_write_unit"] == pytest.approx(0.625e-6)
    assert cm.PRICES["cloudfront_https_request"] * 1e6 == pytest.approx(1.00)


def test_custom_metrics_are_counted_from_embedded_metric_format_log_lines():
    from bench.cost_setup import emf_metrics
    from chalicelib.core.metrics import results_line
    legacy = ('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"Outpost",'
              '"Dimensions":[["FunctionName"]],"Metrics":[{"Name":"ResultsWritten"}]}]},'
              '"FunctionName":"f","ResultsWritten":1}')
    assert emf_metrics(legacy + "\nnot json\n") == {("Outpost", "ResultsWritten", ("FunctionName",))}
    assert emf_metrics(results_line(1, 1, 100, 0, 1.0)) == set()       # today's line: none
