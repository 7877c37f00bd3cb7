"""The bounded pieces behind operator authentication, and how a client's address is read."""
from __future__ import annotations

import threading
import tracemalloc

import pytest
from chalice.app import Request

from chalicelib.core import auth
from chalicelib.core.auth import MISSING, FailureLimiter, TtlLru
from chalicelib.web.httpkit import client_ip, network_of, source_ip, viewer_address

# --- TtlLru ------------------------------------------------------------------------------------

def test_lru_drops_the_least_recently_used():
    lru = TtlLru(3, ttl=30)
    for k in "abc":
        lru.put(k, k.upper(), now=0)
    assert lru.get("a", 1) == "A"            # a is now the most recent
    lru.put("d", "D", now=2)
    assert lru.get("b", 3) is MISSING and [lru.get(k, 3) for k in "acd"] == ["A", "C", "D"]
    assert len(lru) == 3


def test_lru_entries_expire_and_a_clock_going_back_does_not_keep_them():
    lru = TtlLru(3, ttl=30)
    lru.put("a", None, now=100)              # None is a value (a negative cache entry)
    assert lru.get("a", 129.9) is None
    assert lru.get("a", 130) is MISSING and len(lru) == 0
    lru.put("b", 1, now=100)
    assert lru.get("b", 99) is MISSING       # stored "in the future": not trusted


def test_100000_bogus_keys_hold_no_more_than_the_lru_size():
    lru = TtlLru(1024, ttl=30)
    lru.put("warm", 1, now=0)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(100_000):
            lru.put(f"k{i:09d}", None, now=1)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    assert len(lru) == 1024
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 1024 * 400                # a few hundred bytes per entry at most


def test_lru_is_safe_under_threads():
    lru = TtlLru(50, ttl=30)

    def work(n):
        for i in range(2000):
            lru.put((n, i % 80), i, now=1)
            lru.get((n, (i * 7) % 80), now=1)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(lru) == 50


def test_lru_needs_a_size():
    with pytest.raises(ValueError):
        TtlLru(0, ttl=1)


# --- FailureLimiter ----------------------------------------------------------------------------

def test_sliding_window_limit_and_retry_after():
    lim = FailureLimiter(limit=3, window=60)
    for t in (0, 10, 20):
        assert lim.retry_after("ip", t) == 0
        lim.fail("ip", t)
    assert lim.retry_after("ip", 20) == 40       # the failure at 0 leaves the window at 60
    assert lim.retry_after("ip", 59.5) == 1
    assert lim.retry_after("ip", 60) == 0        # sliding, not a fixed window
    lim.fail("ip", 60)
    assert lim.retry_after("ip", 61) == 9        # now the failure at 10 is the oldest
    assert lim.retry_after("other", 61) == 0


def test_block_from_a_shared_count():
    lim = FailureLimiter(limit=3, window=60)
    lim.block("ip", now=100, seconds=20)
    assert lim.retry_after("ip", 100) == 20 and lim.retry_after("ip", 120) == 0


def test_limiter_remembers_a_bounded_number_of_clients_and_times():
    lim = FailureLimiter(limit=5, window=60, clients=100)
    for i in range(10_000):
        for _ in range(20):
            lim.fail(f"ip{i}", 1)
    assert len(lim) == 100
    assert max(len(lim._clients.get(f"ip{i}", 1)[0]) for i in range(9900, 10_000)) == 5


def test_key_guard_defaults_are_bounded():
    guard = auth.KeyGuard()
    assert guard.known.size == auth.KNOWN_KEYS and guard.unknown.size == auth.UNKNOWN_KEYS
    assert guard.known.ttl == guard.unknown.ttl == auth.KEY_CACHE_SECONDS
    assert guard.source_failures.limit > guard.failures.limit


# --- the client's address ----------------------------------------------------------------------

def _request(headers=None, source="203.0.113.9"):
    return Request({"multiValueQueryStringParameters": None, "headers": headers or {},
                    "pathParameters": None, "requestContext": {
                        "httpMethod": "POST", "resourcePath": "/x",
                        "identity": {"sourceIp": source}},
                    "body": None, "isBase64Encoded": False, "stageVariables": None})


@pytest.mark.parametrize("value, ip", [
    ("198.51.100.7:46532", "198.51.100.7"),
    ("2001:db8::7:46532", "2001:db8::7"),            # CloudFront's unbracketed IPv6 form
    ("[2001:db8::7]:46532", "2001:db8::7"),
    (" 198.51.100.7:1 ", "198.51.100.7"),
    ("198.51.100.7", None),                           # no port: not CloudFront's format
    ("evil:80", None),
    ("[2001:db8::7]", None),
    ("", None),
    (None, None),
    ("1" * 100 + ":1", None),
])
def test_viewer_address(value, ip):
    assert viewer_address(value) == ip


def test_client_ip_prefers_cloudfront_viewer_address():
    assert client_ip(_request({"cloudfront-viewer-address": "198.51.100.7:443"})) == "198.51.100.7"
    assert client_ip(_request({"cloudfront-viewer-address": "garbage"})) == "203.0.113.9"
    assert client_ip(_request()) == "203.0.113.9"
    assert source_ip(_request({"cloudfront-viewer-address": "198.51.100.7:443"})) == "203.0.113.9"
    assert client_ip(_request(source="not an ip")) == "unknown"
    assert client_ip(None) == "unknown"


def test_limits_count_ipv6_by_its_64():
    assert network_of("2001:db8:1:2:aaaa::1") == network_of("2001:db8:1:2:bbbb::9") \
        == "2001:db8:1:2::/64"
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("198.51.100.7") == "198.51.100.7"
    assert network_of("::ffff:198.51.100.7") == "198.51.100.7"
    assert network_of("unknown") == "unknown"
