"""Every check kind against real servers on 127.0.0.1, each condition passing and failing."""
import datetime as dt

import pytest

from chalicelib.adapters.prober import Prober
from chalicelib.core.model import Level, Monitor
from tests.netfixtures import CA, DnsServer, Listener, Web, closed_port, server_context

NAMES = {"good.test": ["127.0.0.1"], "wrong.test": ["127.0.0.1"]}


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return CA(str(tmp_path_factory.mktemp("pki")))


@pytest.fixture(scope="module")
def https(ca):
    cert, key, _ = ca.leaf(["good.test"])
    web = Web(tls=server_context(cert, key))
    yield web
    web.close()


@pytest.fixture
def web():
    w = Web()
    yield w
    w.close()


def prober(ca=None, **kw):
    return Prober("https://status.acme.example", allow_private=True,
                  resolver=lambda name: NAMES[name], ca_file=ca.file if ca else None, **kw)


def check(url, ca=None, prober_kw=None, **kw):
    return prober(ca, **(prober_kw or {})).check(Monitor(id="m.0", url=url, **kw), "eu-west-1")


# --- HTTP(S) --------------------------------------------------------------------------------

def test_https_reads_the_certificate_from_the_handshake(ca, https):
    res = check(https.url("/ok", host="good.test"), ca,
                conditions=("[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 720h"))
    assert res.level == Level.OK, res.reasons
    short = check(https.url("/ok", host="good.test"), ca,
                  conditions=("[CERTIFICATE_EXPIRATION] > 2400h",))
    assert short.level == Level.FAIL
    assert short.reasons[0].startswith("[CERTIFICATE_EXPIRATION] (21") and "> 2400h" in short.reasons[0]


def test_certificate_is_read_even_when_the_server_closes_the_connection(ca, https):
    res = check(https.url("/close", host="good.test"), ca,
                conditions=("[STATUS] == 200", "[CERTIFICATE_EXPIRATION] > 720h"))
    assert res.level == Level.OK, res.reasons


def test_https_with_the_wrong_hostname_or_an_unknown_ca_fails(ca, https):
    wrong = check(https.url("/ok", host="wrong.test"), ca)
    assert wrong.level == Level.FAIL and wrong.error.startswith("TLS error")
    assert "wrong.test" in wrong.error
    untrusted = check(https.url("/ok", host="good.test"))           # certifi's CAs, not ours
    assert untrusted.level == Level.FAIL
    assert untrusted.error == "TLS error: unable to get local issuer certificate"


def test_plain_http_has_no_certificate(web):
    res = check(web.url("/ok"), conditions=("[CERTIFICATE_EXPIRATION] > 1h",))
    assert res.reasons == ["[CERTIFICATE_EXPIRATION] (n/a) > 1h"]


def test_method_headers_and_body_are_sent(web):
    res = check(web.url("/echo"), method="POST", body='{"ping": 1}',
                headers=(("X-Token", "s3cret"), ("Content-Type", "application/json")),
                conditions=("[BODY].method == POST", "[BODY].body == pat(*ping*)",
                            "[BODY].headers.X-Token == s3cret", "[HEADER].Content-Type == application/json"))
    assert res.level == Level.OK, res.reasons
    sent = web.requests[-1]
    assert sent["headers"]["User-Agent"].startswith("Outpost/") and "region=eu-west-1" in \
        sent["headers"]["User-Agent"]
    assert sent["headers"]["Host"] == f"127.0.0.1:{web.port}"


def test_header_condition_fails_with_the_value_seen(web):
    res = check(web.url("/ok"), conditions=("[HEADER].Content-Type == text/html",
                                            "[HEADER].X-Missing == a"))
    assert res.reasons == ["[HEADER].Content-Type (application/json) == text/html",
                           "[HEADER].X-Missing (n/a) == a"]


def test_head_request_reads_no_body(web):
    res = check(web.url("/ok"), method="HEAD", conditions=("[STATUS] == 200", "len([BODY]) == 0"))
    assert web.requests[-1]["method"] == "HEAD"
    assert res.conditions[1].resolved == "len([BODY]) (n/a) == 0"


def test_redirects_are_followed_to_the_final_answer(web):
    target = web.url("/status/418")
    res = check(web.url(f"/redirect?to={target}"), conditions=("[STATUS] == 418",))
    assert res.level == Level.OK and [r["path"] for r in web.requests][-1] == "/status/418"


def test_post_becomes_get_after_a_303_and_stays_post_after_a_307(web):
    check(web.url(f"/redirect?code=303&to={web.url('/echo')}"), method="POST", body="x")
    assert web.requests[-1]["method"] == "GET" and web.requests[-1]["body"] == ""
    check(web.url(f"/redirect?code=307&to={web.url('/echo')}"), method="POST", body="x")
    assert web.requests[-1]["method"] == "POST" and web.requests[-1]["body"] == "x"


def test_operator_headers_are_not_sent_to_another_origin(web):
    other = Web()
    try:
        check(web.url(f"/redirect?to={other.url('/echo')}"), headers=(("X-Token", "s3cret"),))
        assert "X-Token" not in other.requests[-1]["headers"]
        check(web.url(f"/redirect?to={web.url('/echo')}"), headers=(("X-Token", "s3cret"),))
        assert web.requests[-1]["headers"]["X-Token"] == "s3cret"
    finally:
        other.close()


def test_redirect_limit_and_expected_redirects(web):
    loop = check(web.url("/loop"), max_redirects=3)
    assert loop.error == "too many redirects (more than 3)"
    assert len(web.requests) == 4                       # the first request and 3 hops
    expected = check(web.url(f"/redirect?code=301&to={web.url('/ok')}"), max_redirects=0,
                     conditions=("[STATUS] == 301", f"[HEADER].Location == {web.url('/ok')}"))
    assert expected.level == Level.OK, expected.reasons


def test_condition_text_never_contains_the_body(web):
    res = check(web.url("/ok"), conditions=("[BODY] == nope",))
    assert res.reasons == ["[BODY] (16 bytes) == nope"]


# --- TCP --------------------------------------------------------------------------------------

def test_tcp_connects_and_times_the_connect():
    listener = Listener()
    try:
        res = check(f"tcp://127.0.0.1:{listener.port}",
                    conditions=("[CONNECTED] == true", "[RESPONSE_TIME] < 5000"))
        assert res.level == Level.OK and res.response_time_ms is not None
        slow = check(f"tcp://good.test:{listener.port}", conditions=("[CONNECTED] == true",),
                     degraded_when=("[RESPONSE_TIME] >= 0",))
        assert slow.level == Level.DEGRADED
    finally:
        listener.close()


def test_tcp_refused_is_a_failed_check():
    res = check(f"tcp://127.0.0.1:{closed_port()}", conditions=("[CONNECTED] == true",))
    assert res.level == Level.FAIL and res.error == "connection failed: connection refused"
    assert res.reasons[1] == "[CONNECTED] (false) == true"


# --- TLS --------------------------------------------------------------------------------------

@pytest.mark.parametrize("valid_for, conditions, ok, reason", [
    (dt.timedelta(days=90), ("[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 168h"), True, None),
    (dt.timedelta(days=2), ("[CERTIFICATE_EXPIRATION] > 168h",), False, "[CERTIFICATE_EXPIRATION] (47h"),
    (dt.timedelta(days=-1), ("[CONNECTED] == true",), False, "TLS error: certificate has expired"),
])
def test_tls_certificate_expiry(ca, valid_for, conditions, ok, reason):
    cert, key, _ = ca.leaf(["good.test"], valid_for=valid_for)
    listener = Listener(tls=server_context(cert, key))
    try:
        res = check(f"tls://good.test:{listener.port}", ca, conditions=conditions)
    finally:
        listener.close()
    assert (res.level == Level.OK) is ok, res.reasons
    if reason:
        assert res.reasons[0].startswith(reason)


def test_tls_hostname_must_match(ca):
    cert, key, _ = ca.leaf(["good.test"])
    listener = Listener(tls=server_context(cert, key))
    try:
        res = check(f"tls://wrong.test:{listener.port}", ca, conditions=("[CONNECTED] == true",))
    finally:
        listener.close()
    assert res.level == Level.FAIL
    assert res.error.startswith("TLS error: Hostname mismatch") and "wrong.test" in res.error


def test_tls_to_a_plain_tcp_server_fails():
    listener = Listener()
    try:
        res = check(f"tls://127.0.0.1:{listener.port}", conditions=("[CONNECTED] == true",), timeout=2)
    finally:
        listener.close()
    assert res.level == Level.FAIL and res.error.startswith("TLS error")


# --- DNS --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dns_server():
    server = DnsServer()
    server.records = {
        ("www.acme.test", "A"): ["192.0.2.10", "192.0.2.2"],
        ("www.acme.test", "AAAA"): ["2001:db8::1"],
        ("alias.acme.test", "CNAME"): ["www.acme.test."],
        ("acme.test", "MX"): ["10 mail.acme.test.", "20 backup.acme.test."],
        ("acme.test", "TXT"): ['"v=spf1 -all"'],
    }
    server.rcodes = {"broken.acme.test": "SERVFAIL"}
    yield server
    server.close()


def dns_check(server, url, conditions, timeout=2.0):
    return prober(nameservers=[("127.0.0.1", server.port)]).check(
        Monitor(id="d.0", url=url, conditions=conditions, timeout=timeout), "a")


@pytest.mark.parametrize("url, conditions", [
    ("dns://www.acme.test?type=A", ("[DNS_RCODE] == NOERROR", "[BODY] == pat(*192.0.2.10*)")),
    ("dns://www.acme.test", ("[BODY] == pat(192.0.2.10*192.0.2.2)",)),        # sorted, A default
    ("dns://www.acme.test?type=AAAA", ("[BODY] == 2001:db8::1",)),
    ("dns://alias.acme.test?type=CNAME", ("[BODY] == www.acme.test",)),
    ("dns://acme.test?type=MX", ("[BODY] == pat(10 mail.acme.test*)",)),
    ("dns://acme.test?type=TXT", ("[BODY] == v=spf1 -all",)),
    ("dns://nope.acme.test?type=A", ("[DNS_RCODE] == NXDOMAIN", "len([BODY]) == 0")),
    ("dns://broken.acme.test?type=A", ("[DNS_RCODE] == SERVFAIL",)),
])
def test_dns_answers_and_rcodes_pass(dns_server, url, conditions):
    res = dns_check(dns_server, url, conditions)
    assert res.level == Level.OK, res.reasons


@pytest.mark.parametrize("url, conditions, reason", [
    ("dns://nope.acme.test?type=A", ("[DNS_RCODE] == NOERROR",), "[DNS_RCODE] (NXDOMAIN) == NOERROR"),
    ("dns://www.acme.test?type=A", ("[BODY] == 203.0.113.9",), "[BODY] (20 bytes) == 203.0.113.9"),
])
def test_dns_conditions_fail_with_resolved_text(dns_server, url, conditions, reason):
    res = dns_check(dns_server, url, conditions)
    assert res.level == Level.FAIL and res.reasons == [reason]


def test_dns_nameserver_from_the_monitor_goes_through_the_guard(dns_server):
    allowed = prober().check(Monitor(id="d.1", url="dns://www.acme.test?type=A",
                                     conditions=("[DNS_RCODE] == NOERROR",),
                                     nameserver=f"127.0.0.1:{dns_server.port}"), "a")
    assert allowed.level == Level.OK
    before = len(dns_server.queries)
    guarded = Prober("https://s.example", allow_private=False).check(
        Monitor(id="d.1", url="dns://www.acme.test?type=A", conditions=("[DNS_RCODE] == NOERROR",),
                nameserver=f"127.0.0.1:{dns_server.port}"), "a")
    assert guarded.level == Level.FAIL and guarded.error.startswith("blocked: nameserver 127.0.0.1")
    assert len(dns_server.queries) == before


def test_dns_timeout_is_a_failed_check():
    server = DnsServer()
    server.silent = True
    try:
        res = dns_check(server, "dns://www.acme.test?type=A", ("[DNS_RCODE] == NOERROR",), 0.5)
    finally:
        server.close()
    assert res.level == Level.FAIL and res.error == "DNS timeout after 0.5s"
    assert res.reasons[1] == "[DNS_RCODE] (n/a) == NOERROR"
