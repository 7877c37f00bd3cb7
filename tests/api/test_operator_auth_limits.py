"""Bogus keys cost bounded work: a negative cache, bounded LRUs, and a per-address limit on
failed authentications (429), on the real app over moto. DynamoDB calls are counted at
botocore's one choke point, which PynamoDB's client goes through too."""
from __future__ import annotations

import json
import secrets

import pytest
from botocore.client import BaseClient

from chalicelib.core import auth
from chalicelib.core.auth import FailureLimiter, KeyGuard, TtlLru
from chalicelib.usecases.manage import mint_key
from chalicelib.web.routes import operator

BASE = "/api/v1/pages/acme"
LIMIT = auth.FAILURES_PER_CLIENT


@pytest.fixture
def dynamo_calls(monkeypatch):
    calls: list[str] = []
    original = BaseClient._make_api_call

    def counting(client, operation, params):
        if client.meta.service_model.service_name == "dynamodb":
            calls.append((operation, params.get("TableName")))
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    return calls


def key_reads(calls, c) -> int:
    return calls.count(("GetItem", c.settings.keys_table))


def bogus() -> str:
    """A well-formed key that no one minted."""
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(10))
    return f"op_{key_id}_{secrets.token_urlsafe(32)}"


def get(client, key, viewer=None):
    headers = {"Authorization": f"Bearer {key}"}
    if viewer:
        headers["CloudFront-Viewer-Address"] = f"{viewer}:40000"
    resp = client.http.get(BASE + "/incidents", headers=headers)
    return resp, json.loads(resp.body) if resp.body else None


def test_failed_logins_from_one_address_get_429_without_touching_dynamodb(stack, dynamo_calls):
    c, client, clock, *_ = stack
    for _ in range(LIMIT):
        assert get(client, bogus(), "198.51.100.7")[0].status_code == 401
    assert key_reads(dynamo_calls, c) == LIMIT
    dynamo_calls.clear()
    for _ in range(50):
        resp, body = get(client, bogus(), "198.51.100.7")
        assert resp.status_code == 429
        assert "too many failed authentications" in body["error"]
        assert resp.headers["Content-Type"] == "application/json"
        assert 1 <= int(resp.headers["Retry-After"]) <= auth.FAILURE_WINDOW
    assert dynamo_calls == []                                   # no read, no write, nothing
    # Another address is not affected; this one may try again once the window has passed.
    assert get(client, bogus(), "198.51.100.8")[0].status_code == 401
    clock.tick(auth.FAILURE_WINDOW + 1)
    assert get(client, bogus(), "198.51.100.7")[0].status_code == 401


def test_missing_and_malformed_keys_cost_nothing_and_stay_401(stack, dynamo_calls):
    c, client, *_ = stack
    for i in range(3 * LIMIT):
        headers = {"CloudFront-Viewer-Address": "198.51.100.7:1"}
        if i % 2:
            headers["Authorization"] = "Bearer nonsense"
        resp = client.http.get(BASE + "/incidents", headers=headers)
        assert resp.status_code == 401 and "missing or malformed" in json.loads(resp.body)["error"]
    assert dynamo_calls == [] and len(c.key_guard.failures) == 0
    for _ in range(LIMIT):                            # a blocked address still learns why
        get(client, bogus(), "198.51.100.7")
    resp = client.http.get(BASE + "/incidents",
                           headers={"CloudFront-Viewer-Address": "198.51.100.7:1"})
    assert resp.status_code == 401
    assert get(client, bogus(), "198.51.100.7")[0].status_code == 429


def test_an_operator_behind_the_same_address_keeps_working_while_the_key_is_cached(stack):
    c, client, *_ = stack
    key = mint_key(c, "ops", ["incidents:write"])
    assert get(client, key, "198.51.100.7")[0].status_code == 200     # read and cached
    for _ in range(LIMIT):
        get(client, bogus(), "198.51.100.7")
    assert get(client, bogus(), "198.51.100.7")[0].status_code == 429
    assert get(client, key, "198.51.100.7")[0].status_code == 200     # cached: costs no read
    other = mint_key(c, "other", ["incidents:write"])
    assert get(client, other, "198.51.100.7")[0].status_code == 429   # would need a read


def test_the_limit_counts_an_ipv6_64_not_single_addresses(stack):
    c, client, *_ = stack
    for i in range(LIMIT):
        get(client, bogus(), f"[2001:db8:1:2::{i + 1:x}]")
    assert get(client, bogus(), "[2001:db8:1:2:ffff::1]")[0].status_code == 429
    assert get(client, bogus(), "[2001:db8:1:3::1]")[0].status_code == 401


def test_forged_viewer_addresses_still_hit_the_limit_on_the_source_address(stack):
    c, client, *_ = stack
    c.override(key_guard=KeyGuard(source_failures=FailureLimiter(20, auth.FAILURE_WINDOW)))
    # A caller that skips CloudFront can send a new CloudFront-Viewer-Address every time, but
    # API Gateway's sourceIp (127.0.0.1 under chalice's test client) stays its own.
    codes = [get(client, bogus(), f"198.51.100.{i}")[0].status_code for i in range(1, 30)]
    assert codes == [401] * 20 + [429] * 9


def test_the_limit_holds_across_warm_lambdas_through_the_shared_counter(stack, dynamo_calls):
    c, client, *_ = stack
    for _ in range(LIMIT):
        get(client, bogus(), "198.51.100.7")
    c.override(key_guard=KeyGuard())                 # a second Lambda, which saw none of it
    dynamo_calls.clear()
    assert get(client, bogus(), "198.51.100.7")[0].status_code == 401   # counted: 11 > 10
    assert get(client, bogus(), "198.51.100.7")[0].status_code == 429
    assert key_reads(dynamo_calls, c) == 1


def test_a_repeated_bogus_key_is_read_once(stack, dynamo_calls):
    c, client, *_ = stack
    key = bogus()
    for i in range(5):
        assert get(client, key, f"198.51.100.{i}")[0].status_code == 401
    assert key_reads(dynamo_calls, c) == 1


def test_100000_bogus_keys_cost_bounded_reads_and_memory(stack, dynamo_calls):
    """20 addresses x 5,000 fresh bogus keys each, straight through authenticate()."""
    c, client, clock, *_ = stack
    guard = KeyGuard(unknown=TtlLru(256, auth.KEY_CACHE_SECONDS))
    c.override(key_guard=guard)
    header = "Bearer " + bogus()
    prefix, secret = header[:10], header[20:]
    outcomes = {401: 0, 429: 0}
    for n in range(100_000):
        key_id = f"{n:010d}".translate(str.maketrans("0123456789", "abcdefghij"))
        try:
            viewer = f"198.51.{n % 20}.1"
            operator.authenticate(prefix + key_id + secret, viewer, viewer)
        except operator.ApiError as err:
            outcomes[err.status] += 1
    assert outcomes == {401: 20 * LIMIT, 429: 100_000 - 20 * LIMIT}
    assert key_reads(dynamo_calls, c) == 20 * LIMIT            # only until each limit tripped
    assert [op for op, _ in dynamo_calls].count("UpdateItem") == 20 * LIMIT   # shared counter
    assert len(dynamo_calls) == 40 * LIMIT
    assert len(guard.unknown) == 20 * LIMIT and len(guard.known) == 0
    assert len(guard.failures) == 20 and len(guard.source_failures) == 0
    # Past the LRU's size, rejected ids are evicted, not accumulated.
    for n in range(300):
        viewer = f"203.0.{n}.1"
        with pytest.raises(operator.ApiError):
            operator.authenticate(prefix + f"{n:010d}".translate(str.maketrans(
                "0123456789", "klmnopqrst")) + secret, viewer, viewer)
    assert len(guard.unknown) == 256


def test_revocation_takes_effect_within_the_cache_ttl(stack, dynamo_calls):
    c, client, clock, *_ = stack
    key = mint_key(c, "soon revoked", ["incidents:write"])
    for _ in range(5):
        assert get(client, key)[0].status_code == 200
    assert key_reads(dynamo_calls, c) == 1                      # one read per TTL, not per call
    c.store.revoke_key(key.split("_")[1], clock())
    clock.tick(auth.KEY_CACHE_SECONDS)
    resp, body = get(client, key)
    assert resp.status_code == 401 and body["error"] == "API key revoked"


def test_a_key_minted_after_its_id_was_guessed_works_within_the_ttl(stack):
    c, client, clock, *_ = stack
    key = mint_key(c, "fresh", ["incidents:write"])
    key_id = key.split("_")[1]
    c.key_guard.unknown.put(key_id, None, clock())              # as if someone had tried it
    assert get(client, key)[0].status_code == 401
    clock.tick(auth.KEY_CACHE_SECONDS)
    assert get(client, key)[0].status_code == 200


# -- who may speak for the viewer: CloudFront, proven by its origin header ----------------------

SECRET = "origin-secret-for-tests"


def _with_origin_secret(c):
    from dataclasses import replace
    c.override(settings=replace(c.settings, origin_secret=SECRET))


def via_cloudfront(client, key, viewer):
    headers = {"Authorization": f"Bearer {key}", "CloudFront-Viewer-Address": f"{viewer}:443",
               "X-Outpost-Origin": SECRET}
    return client.http.get(BASE + "/incidents", headers=headers).status_code


def test_a_caller_that_skips_cloudfront_cannot_lock_out_another_address(stack):
    c, client, *_ = stack
    _with_origin_secret(c)
    key = mint_key(c, "ops", ["incidents:write"])
    # Straight to the execute-api origin, naming the operator's address as the viewer: without
    # CloudFront's origin header the forged address is ignored and the caller's own is counted.
    codes = [get(client, bogus(), "198.51.100.7")[0].status_code for _ in range(LIMIT + 5)]
    assert codes == [401] * LIMIT + [429] * 5
    wrong = {"Authorization": f"Bearer {bogus()}", "X-Outpost-Origin": "guess",
             "CloudFront-Viewer-Address": "198.51.100.7:1"}
    assert client.http.get(BASE + "/incidents", headers=wrong).status_code == 429
    assert via_cloudfront(client, key, "198.51.100.7") == 200


def test_many_viewers_failing_through_cloudfront_do_not_lock_out_every_operator(stack):
    c, client, *_ = stack
    _with_origin_secret(c)
    # Behind CloudFront (and Origin Shield) every viewer arrives from a few shared addresses:
    # failures spread over many viewers must not use up a limit that all operators share.
    for n in range(auth.FAILURES_PER_SOURCE // LIMIT + 5):
        for _ in range(LIMIT):
            via_cloudfront(client, bogus(), f"203.0.{n // 250}.{n % 250 + 1}")
    key = mint_key(c, "ops", ["incidents:write"])
    assert via_cloudfront(client, key, "192.0.2.10") == 200
