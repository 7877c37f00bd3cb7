"""Third-party monitors against a vendor Statuspage on 127.0.0.1 (Outpost's own v2 summary as
the vendor's), through the SSRF guard, the deadline and the body cap of any HTTP check."""
import time

import pytest

from chalicelib.adapters.prober import Prober
from chalicelib.core.model import Level, Monitor
from tests.vendorpage import VendorPage


@pytest.fixture
def vendor():
    page = VendorPage()
    yield page
    page.close()


def check(url, component=None, allow_private=True, timeout=2.0):
    monitor = Monitor(id="pay.0", url=url, statuspage=True, vendor_component=component,
                      conditions=(), timeout=timeout)
    return Prober("https://status.acme.example", allow_private=allow_private).check(
        monitor, "eu-west-1")


@pytest.mark.parametrize("status, level", [
    ("operational", Level.OK), ("under_maintenance", Level.OK),
    ("degraded_performance", Level.DEGRADED), ("partial_outage", Level.FAIL),
    ("major_outage", Level.FAIL)])
def test_the_named_vendor_component_status_is_mirrored_as_it_is(vendor, status, level):
    vendor.statuses["payments"] = status
    res = check(vendor.url, "payments")          # names match case-insensitively
    assert (res.vendor_status, res.level) == (status, level)
    assert vendor.requests == ["/api/v2/summary.json"]
    if level != Level.OK:
        assert res.reasons == ["the vendor reports " + status.replace("_", " ")]


def test_without_a_component_the_worst_vendor_component_counts(vendor):
    vendor.statuses["api"] = "degraded_performance"
    assert check(vendor.url + "/").vendor_status == "degraded_performance"


def test_an_unknown_component_name_is_an_error_without_a_status(vendor):
    res = check(vendor.url, "Refunds")
    assert res.vendor_status is None and "no component named 'Refunds'" in res.error


@pytest.mark.parametrize("mode, words", [
    ("down", "answered HTTP 503"), ("garbage", "not JSON"), ("nested", "not JSON"),
    ("huge", "not JSON (or over 1 MiB)")])
def test_a_vendor_page_that_is_down_garbage_or_huge_gives_no_status(vendor, mode, words):
    vendor.mode = mode
    res = check(vendor.url, "Payments")
    assert res.vendor_status is None and words in res.error, res.error


def test_a_hanging_vendor_page_costs_the_monitor_timeout_only(vendor):
    vendor.mode = "hang"
    started = time.monotonic()
    res = check(vendor.url, "Payments", timeout=0.5)
    assert time.monotonic() - started < 2
    assert res.vendor_status is None and "timeout" in res.error


def test_the_ssrf_guard_refuses_a_private_vendor_address(vendor):
    res = check(vendor.url, "Payments", allow_private=False)
    assert res.vendor_status is None and res.error.startswith("vendor status page: blocked")
    assert vendor.requests == []
