"""Subscriber records under races and abuse, on the real app over moto (issue 10, cases 4 and 6).

Races run the sign-up use-case from many threads against one moto backend. They call
`subscribers.verify` directly: Chalice keeps `current_request` on the app object and the test
client swaps `os.environ` per call, so neither is safe to share between threads; everything
about HTTP (status codes, headers, fields) goes through the real app one request at a time.
moto checks a condition and writes in two Python steps, while DynamoDB and SNS apply each call
atomically; `aws_calls` restores that by running each moto call under one lock, and counts them.
"""
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.usecases import subscriber_links, subscribers
from chalicelib.usecases.subscribers import MAX_CODE_ATTEMPTS, SubscribeError
from tests.api.calls import from_ip, post, sms_sent
from tests.api.harness import cap

US = dict(sms_countries=("US",), sms_per_number_per_day=50, sms_per_ip_per_hour=50,
          sms_global_per_hour=100)
PHONE = "+14155550123"


@pytest.fixture
def aws_calls(monkeypatch):
    """Every moto DynamoDB and SNS call atomic (as the services are) and counted by action."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.sns.responses import SNSResponse
    lock, calls = threading.RLock(), Counter()
    for cls in (DynamoHandler, SNSResponse):
        original = cls.call_action

        def call_action(self, _original=original, _service=cls.__name__):
            with lock:
                calls[self._get_action()] += 1
                return _original(self)
        monkeypatch.setattr(cls, "call_action", call_action)
    return calls


@pytest.fixture
def sms_page(wired, aws_calls):
    c = wired[0]
    c.override(config=replace(c.config, subscribers=replace(c.config.subscribers, **US)))
    return wired


def sign_up_phone(client, phone=PHONE, **extra):
    resp, body = post(client, "/api/v1/subscribe", {"phone": phone, **extra})
    assert resp.status_code == 202, body
    code = sms_sent()[-1][1].split("code: ")[1][:6]
    return body["subscriber"]["id"], code


def wrong(code, n):
    return f"{(int(code) + 1 + n) % 1_000_000:06d}"


def race(c, sub_id, codes):
    """Submit every code at once from its own thread; (status, field) per submission."""
    start = threading.Barrier(len(codes))

    def one(code):
        start.wait()
        try:
            return subscribers.verify(c, {"id": sub_id, "code": code})[0], None
        except SubscribeError as err:
            return err.status, err.field
    with ThreadPoolExecutor(len(codes)) as pool:
        return list(pool.map(one, codes))


def sns_subs(c, protocol):
    sns = boto3.client("sns", region_name="us-east-1")
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(
        TopicArn=c.notifier.updates_topic_arn)
    return [s for p in pages for s in p["Subscriptions"] if s["Protocol"] == protocol]


def test_forty_concurrent_guesses_check_at_most_five_codes(sms_page):
    c, client, *_ = sms_page
    sub_id, code = sign_up_phone(client)
    results = race(c, sub_id, [wrong(code, n) for n in range(40)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {422: MAX_CODE_ATTEMPTS, 410: 40 - MAX_CODE_ATTEMPTS}
    assert {field for _, field in results} == {"code"}
    assert c.store.get_subscriber(sub_id)["code_attempts"] == MAX_CODE_ATTEMPTS
    # the right code, now: no tries left, and nothing subscribed
    resp, err = post(client, "/api/v1/subscribe/verify", {"id": sub_id, "code": code})
    assert resp.status_code == 410 and err["field"] == "code"
    assert sns_subs(c, "sms") == []


def test_the_right_code_racing_wrong_ones_wins_and_stays_won(sms_page):
    c, client, *_ = sms_page
    for _ in range(5):                  # the right code among as many guesses as the cap allows
        sub_id, code = sign_up_phone(client)
        results = race(c, sub_id, [wrong(code, n) for n in range(4)] + [code])
        # a wrong guess checked before the win is wrong (422); one after it finds it done (409)
        statuses = Counter(s for s, _ in results)
        assert statuses[200] == 1 and set(statuses) <= {200, 422, 409}
        doc = c.store.get_subscriber(sub_id)
        assert doc["state"] == "active" and doc["code_attempts"] == 1 + statuses[422]
        subscribers.remove(c, sub_id)
    sub_id, code = sign_up_phone(client)
    resp, ok = post(client, "/api/v1/subscribe/verify", {"id": sub_id, "code": code})
    assert resp.status_code == 200 and ok["subscriber"]["state"] == "active"
    arn = c.store.get_subscriber(sub_id)["sns_arn"]
    # late guesses, wrong and right, all at once: none of them undoes the success
    results = race(c, sub_id, [wrong(code, n) for n in range(20)] + [code] * 5)
    assert Counter(results) == {(409, "code"): 20, (200, None): 5}
    resp, err = post(client, "/api/v1/subscribe/verify", {"id": sub_id, "code": wrong(code, 99)})
    assert resp.status_code == 409 and err["field"] == "code" and "already verified" in err["error"]
    doc = c.store.get_subscriber(sub_id)
    assert doc["state"] == "active" and doc["sns_arn"] == arn and doc["code_attempts"] == 1
    assert [s["SubscriptionArn"] for s in sns_subs(c, "sms")] == [arn]


def test_a_double_submitted_code_makes_one_sns_subscription(sms_page, aws_calls):
    c, client, *_ = sms_page
    sub_id, code = sign_up_phone(client)
    before = aws_calls["Subscribe"]
    results = race(c, sub_id, [code] * MAX_CODE_ATTEMPTS)
    # one request subscribed; the others saw it done (200) or under way (409), never an error
    assert {s for s, _ in results} <= {200, 409} and (200, None) in results
    # more copies than tries: those that find no try left are refused without a look at the
    # code (410), so the refusal tells a guesser nothing
    results = race(c, sub_id, [code] * 10)
    assert {s for s, _ in results} == {200}
    assert aws_calls["Subscribe"] - before == 1
    (sub,) = sns_subs(c, "sms")
    assert c.store.get_subscriber(sub_id)["sns_arn"] == sub["SubscriptionArn"]


def test_a_subscription_made_while_the_record_was_erased_is_taken_back(sms_page):
    c, client, *_ = sms_page
    sub_id, code = sign_up_phone(client)
    real = c.notifier.subscribe

    def subscribe_while_an_operator_erases(*args):
        # the erase lands after our claim and before SNS has the subscription, so it cannot
        # see it: taking it back is the verifier's job once its activation finds no record
        assert subscribers.remove(c, sub_id)
        return real(*args)
    c.notifier.subscribe = subscribe_while_an_operator_erases
    resp, err = post(client, "/api/v1/subscribe/verify", {"id": sub_id, "code": code})
    assert resp.status_code == 404 and err["field"] == "id"
    assert sns_subs(c, "sms") == [] and c.store.get_subscriber(sub_id) is None


def test_a_number_verified_again_with_other_choices_keeps_one_subscription(sms_page, monkeypatch):
    c, client, *_ = sms_page
    sns = c.notifier.client
    real = sns.subscribe

    def strict_subscribe(**kw):
        # real SNS refuses a second subscription of an endpoint with other attributes; moto
        # silently overwrites them
        for sub in sns_subs(c, kw["Protocol"]):
            if sub["Endpoint"] == kw["Endpoint"]:
                have = sns.get_subscription_attributes(
                    SubscriptionArn=sub["SubscriptionArn"])["Attributes"].get("FilterPolicy")
                if have != kw.get("Attributes", {}).get("FilterPolicy"):
                    raise ClientError({"Error": {"Code": "InvalidParameter", "Message":
                                       "Invalid parameter: Attributes Reason: Subscription "
                                       "already exists with different attributes"}}, "Subscribe")
        return real(**kw)
    monkeypatch.setattr(sns, "subscribe", strict_subscribe)
    first, code1 = sign_up_phone(client, components=["api"])
    assert post(client, "/api/v1/subscribe/verify", {"id": first, "code": code1})[0].status_code == 200
    second, code2 = sign_up_phone(client, all_updates=True)
    resp, ok = post(client, "/api/v1/subscribe/verify", {"id": second, "code": code2})
    assert resp.status_code == 200 and ok["subscriber"]["state"] == "active"
    (sub,) = sns_subs(c, "sms")
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert "FilterPolicy" not in attrs                    # the newer choice: every update
    assert c.store.get_subscriber(first)["state"] == "unsubscribed"
    assert c.store.get_subscriber(second)["sns_arn"] == sub["SubscriptionArn"]


def add_bystanders(c, n=150):
    """Other people's subscriptions, so the address's own sit on a later page of the listing."""
    sns = boto3.client("sns", region_name="us-east-1")
    for i in range(n):
        sns.subscribe(TopicArn=c.notifier.updates_topic_arn, Protocol="email",
                      Endpoint=f"bystander{i}@example.org")


def test_erase_removes_every_sns_subscription_of_a_number(sms_page):
    c, client, clock, key, *_ = sms_page
    add_bystanders(c)
    sub_id, code = sign_up_phone(client)
    assert post(client, "/api/v1/subscribe/verify", {"id": sub_id, "code": code})[0].status_code == 200
    # the same number subscribed a second time, written another way (SNS keeps both)
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=c.notifier.updates_topic_arn, Protocol="sms", Endpoint="+1415-555-0123")
    assert len(sns_subs(c, "sms")) == 2
    gone = client.http.delete(f"/api/v1/pages/acme/subscribers/{sub_id}",
                              headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 200
    assert sns_subs(c, "sms") == [] and c.store.get_subscriber(sub_id) is None
    assert len(sns_subs(c, "email")) == 150                 # nobody else's


def test_unsubscribe_and_erase_reach_every_subscription_of_an_email_address(wired, aws_calls):
    c, client, clock, key, *_ = wired
    add_bystanders(c)
    resp, body = post(client, "/api/v1/subscribe", {"email": "Ann@Example.com"})
    assert resp.status_code == 202
    sub_id = body["subscriber"]["id"]
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=c.notifier.updates_topic_arn, Protocol="email", Endpoint="ann@example.COM")
    ann = lambda: [s for s in sns_subs(c, "email") if "bystander" not in s["Endpoint"]]  # noqa: E731
    assert len(ann()) == 2
    token = subscriber_links.unsubscribe_token(c, sub_id)
    resp = client.http.post(f"/api/v1/unsubscribe/{token}", body="",
                            headers={"Content-Type": "application/x-www-form-urlencoded",
                                     "Accept": "application/json"})
    assert resp.status_code == 200 and json.loads(resp.body)["subscriber"]["state"] == "unsubscribed"
    assert ann() == []
    calls = aws_calls["ListSubscriptionsByTopic"]
    client.http.post(f"/api/v1/unsubscribe/{token}", body="",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert aws_calls["ListSubscriptionsByTopic"] == calls    # a second click costs no SNS call
    # the address comes back: the same record, active again, one subscription
    again = post(client, "/api/v1/subscribe", {"email": "ann@example.com"})[1]
    assert again["subscriber"]["id"] == sub_id
    assert c.store.get_subscriber(sub_id)["state"] == "active" and len(ann()) == 1
    boto3.client("sns", region_name="us-east-1").subscribe(
        TopicArn=c.notifier.updates_topic_arn, Protocol="email", Endpoint="ANN@example.com")
    gone = client.http.delete(f"/api/v1/pages/acme/subscribers/{sub_id}",
                              headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 200 and ann() == [] and len(sns_subs(c, "email")) == 150


def test_racing_sign_ups_of_one_email_address_make_one_record_and_subscription(wired, aws_calls):
    c, *_ = wired
    start = threading.Barrier(12)

    def one(n):
        start.wait()
        return subscribers.subscribe(c, {"email": "Bob@Example.com" if n % 2 else
                                         "bob@example.com"}, f"198.51.100.{n}")
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(one, range(12)))
    assert {status for status, _ in answers} == {202}
    assert len({body["subscriber"]["id"] for _, body in answers}) == 1
    assert aws_calls["Subscribe"] == 1
    assert len(sns_subs(c, "email")) == 1
    assert [d["state"] for d in c.store.subscribers(kind="email")] == ["active"]


def test_email_sign_up_and_fan_out_never_scan(wired, aws_calls):
    """The sign-up of an address costs the same few calls however many subscribers exist."""
    c, client, *_ = wired

    def calls_for(fn):
        before = Counter(aws_calls)
        fn()
        return Counter(aws_calls) - before

    def ddb(counter):
        return {k: v for k, v in counter.items() if k not in ("Subscribe", "Publish")}

    post(client, "/api/v1/subscribe", {"email": "warm@example.com"})   # makes the signing key
    empty_table = ddb(calls_for(lambda: post(client, "/api/v1/subscribe", {"email": "a0@example.com"})))
    for i in range(300):
        c.store.put_subscriber(subscribers._new_doc(c, "email", f"x{i}@example.net", [], "active"))
    for n in range(1, 4):
        first = calls_for(lambda: post(client, "/api/v1/subscribe", {"email": f"a{n}@example.com"}))
        repeat = calls_for(lambda: post(client, "/api/v1/subscribe", {"email": f"a{n}@example.com"}))
        assert first["Scan"] == repeat["Scan"] == 0
        assert ddb(first) == empty_table                  # independent of the table's size
        assert sum(ddb(repeat).values()) <= sum(ddb(first).values())
    fan_out = calls_for(lambda: c.store.subscribers(kind="webhook", state="active"))
    assert fan_out == {"Query": 1}


SIGNUPS = {
    "email": lambda n, receiver: {"email": f"person{n}@example.com"},
    "webhook": lambda n, receiver: {"webhook": f"{receiver.url}?n={n}"},
    "phone": lambda n, receiver: {"phone": f"+1415555{n:04d}"},
}
FIELD = {"email": "email", "webhook": "webhook", "phone": "phone"}


def assert_capped(resp, err, kind, clock):
    assert resp.status_code == 429 and err["field"] == FIELD[kind], err
    retry = int(resp.headers["Retry-After"])
    assert 0 < retry <= 3601 and (clock() + retry) // 3600 > clock() // 3600   # next window


@pytest.mark.parametrize("kind", ["email", "webhook", "phone"])
def test_sign_up_is_capped_per_ip(wired, aws_calls, monkeypatch, kind):
    c, client, clock, key, pump, drain, receiver, _ = wired
    prefix = "sms" if kind == "phone" else kind
    cap(c, sms_countries=("US",), sms_per_number_per_day=50, **{f"{prefix}_per_ip_per_hour": 3})
    from_ip(monkeypatch, "203.0.113.7")
    got = [post(client, "/api/v1/subscribe", SIGNUPS[kind](n, receiver)) for n in range(5)]
    assert all(r.status_code < 300 for r, _ in got[:3]), got[:3]
    for resp, err in got[3:]:
        assert_capped(resp, err, kind, clock)
        assert "from this address" in err["error"]
    from_ip(monkeypatch, "203.0.113.8")                   # someone else is not held back
    assert post(client, "/api/v1/subscribe", SIGNUPS[kind](9, receiver))[0].status_code != 429
    clock.tick(3600)                                      # nor is this address, an hour later
    from_ip(monkeypatch, "203.0.113.7")
    assert post(client, "/api/v1/subscribe", SIGNUPS[kind](10, receiver))[0].status_code != 429


@pytest.mark.parametrize("kind", ["email", "webhook", "phone"])
def test_sign_up_is_capped_globally_and_operators_hear_once(wired, aws_calls, monkeypatch, kind):
    c, client, clock, key, pump, drain, receiver, _ = wired
    prefix = "sms" if kind == "phone" else kind
    cap(c, sms_countries=("US",), **{f"{prefix}_per_ip_per_hour": 2,
                                     f"{prefix}_global_per_hour": 4})
    statuses = []
    for n in range(7):                                     # a botnet: every request a new IP
        from_ip(monkeypatch, f"198.51.100.{n}")
        resp, err = post(client, "/api/v1/subscribe", SIGNUPS[kind](n, receiver))
        statuses.append(resp.status_code)
        if n >= 4:
            assert_capped(resp, err, kind, clock)
            assert "paused" in err["error"]
    assert all(s < 300 for s in statuses[:4]), statuses
    alerts = drain("ops")
    assert sum("in the last hour" in a for a in alerts) == 1
