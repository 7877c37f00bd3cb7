"""The channel sender (Apprise) against fake services on 127.0.0.1 with each service's real URL
and payload format (tests/channelfakes.py): all eight services end to end over verified TLS,
the length limits with the link kept, the deadline, and the SSRF guard on every connection."""
import time

import pytest

from chalicelib.adapters import channel_send
from chalicelib.render.messages import CHANNEL_MAX, channel_fit, units
from tests.channelfakes import FIXED_HOSTS, MATRIX_HOST, TEAMS_HOST, URLS, FakeServices, the_text

HOST_OF = dict(zip(("slack", "discord", "gchat", "telegram", "pagerduty", "opsgenie"),
                   FIXED_HOSTS), teams=TEAMS_HOST, matrix=MATRIX_HOST)
LINK = "https://status.acme.example/incidents/01HZX3"


@pytest.fixture
def fakes(monkeypatch):
    f = FakeServices()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", f.ca_bundle)     # TLS verified against the fake
    yield f
    f.close()


def send(fakes, url, title, text, link=LINK, deadline=5.0, allow_private=True):
    plugin = channel_send.open_channel(url)
    t, body = channel_fit(title, text, link, *channel_send.limits(plugin))
    return channel_send.send(plugin, t, body, "warning", deadline, allow_private,
                             resolver=fakes.resolver, secrets=channel_send.secrets_in(url))


@pytest.mark.parametrize("name", sorted(URLS))
def test_each_service_gets_its_own_payload_over_verified_tls(fakes, name):
    out = send(fakes, URLS[name], "[Acme] Investigating: API errors", "We are looking into it.")
    assert out.ok, out.reason
    (doc,) = fakes.messages(HOST_OF[name])
    text = the_text(HOST_OF[name], doc)
    assert "Investigating: API errors" in text and "We are looking into it." in text
    assert text.rstrip().endswith(LINK)
    if name == "pagerduty":
        assert doc["routing_key"] == "R0UT1NGKEY0123456789abcdef012345"
        assert doc["event_action"] == "trigger" and doc["payload"]["severity"] == "warning"
    if name == "opsgenie":
        assert doc["message"] == "[Acme] Investigating: API errors"
    if name == "telegram":
        assert doc["chat_id"] == -1001234567890
    if name == "teams":
        assert doc["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


def test_service_paths_carry_the_tokens_from_the_url(fakes):
    for name in ("slack", "discord", "telegram"):
        assert send(fakes, URLS[name], "t", "x").ok
    paths = {h: p for h, _, p, _ in fakes.requests}
    assert paths["hooks.slack.com"] == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    assert paths["discord.com"].startswith("/api/webhooks/123456789012345678/")
    assert paths["api.telegram.org"] == \
        "/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"


@pytest.mark.parametrize("name,limit", [("discord", 2000), ("telegram", 4096),
                                        ("slack", CHANNEL_MAX), ("pagerduty", 1024),
                                        ("teams", 1000)])
def test_a_long_incident_is_cut_at_a_word_and_keeps_its_link(fakes, name, limit):
    long_text = ("The database primary failed over and replicas are catching up. " * 200
                 + "THE-END")
    out = send(fakes, URLS[name], "[Acme] Identified: Elevated error rates on the API",
               long_text)
    assert out.ok, out.reason
    (doc,) = fakes.messages(HOST_OF[name])
    text = the_text(HOST_OF[name], doc)
    assert units(text) <= limit
    assert text.rstrip().endswith("…\n" + LINK) or text.rstrip().endswith("…\r\n" + LINK)
    assert "THE-END" not in text and "Elevated error rates" in text
    assert "catching up" in text                      # most of it is there


def test_a_hanging_service_is_cut_at_the_deadline(fakes):
    fakes.hang = True
    started = time.monotonic()
    out = send(fakes, URLS["slack"], "t", "x", deadline=1.0)
    took = time.monotonic() - started
    assert not out.ok and out.reason == "no complete answer within 1s"
    assert took < 3.0                                 # one deadline, not Apprise's own retries


def test_the_ssrf_guard_applies_to_every_connection(fakes):
    """A name that resolves to a loopback address is refused unless private targets are
    allowed; nothing reaches the service."""
    out = send(fakes, URLS["matrix"], "t", "x", allow_private=False)
    assert not out.ok
    assert out.reason == (f"{MATRIX_HOST} resolves to {fakes.address}, a loopback address "
                          "(allow_private_targets is off)")
    assert fakes.requests == []


def test_a_failure_reason_has_no_token_in_it(fakes):
    fakes.fail_next = 1
    out = send(fakes, URLS["telegram"], "t", "x")
    assert not out.ok and "500" in out.reason
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in out.reason


@pytest.mark.parametrize("url", ["mailto://user:pass@example.com", "not a url",
                                 "syslog://127.0.0.1"])
def test_only_the_http_services_are_channels(url):
    with pytest.raises(channel_send.Unusable) as exc:
        channel_send.open_channel(url)
    assert "pass" not in str(exc.value)


@pytest.mark.parametrize("cut", [150, 180, 195])
def test_a_long_error_is_scrubbed_before_it_is_cut(cut):
    """An error that names the token near its cut-off point: cutting first would leave a
    start of the token that no longer matches it, and that start would reach the dead letter,
    the breaker's alert and the other channels."""
    url = URLS["telegram"]
    plugin = channel_send.open_channel(url)
    token = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    where = f"/bot123456789:{token}/sendMessage"

    def notify(**_):
        raise ConnectionError("x" * (cut - len("/bot123456789:")) + where)
    plugin.notify = notify
    out = channel_send.send(plugin, "t", "b", "warning", 2.0, True,
                            secrets=channel_send.secrets_in(url))
    assert not out.ok
    assert token[:12] not in out.reason and "123456789" not in out.reason
