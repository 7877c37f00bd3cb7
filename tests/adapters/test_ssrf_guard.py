"""The SSRF guard in the real prober: refused targets get no packet, on the first hop or any
redirect. Connection attempts are spied on at the socket layer, so "no packet" is proven, not
inferred from a server's silence."""
import socket

import pytest

from chalicelib.adapters.prober import Prober
from chalicelib.core.model import Level, Monitor
from tests.netfixtures import DnsServer, Listener, Web


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket tried to connect to during the test."""
    seen = []
    real = socket.socket.connect

    def spy(self, address):
        seen.append(address[0])
        return real(self, address)
    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


def guarded(resolver=None, allowed_networks=()):
    return Prober("https://status.acme.example", allow_private=False, resolver=resolver,
                  allowed_networks=allowed_networks)


@pytest.mark.parametrize("host", [
    "127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "2130706433",
    "0177.0.0.1", "0x7f.0.0.1", "127.1", "[fd00:ec2::254]", "100.100.100.200", "localhost",
])
@pytest.mark.parametrize("scheme", ["http", "https", "tcp", "tls"])
def test_private_literals_and_spellings_are_refused_without_connecting(connects, host, scheme):
    res = guarded().check(Monitor("m.0", f"{scheme}://{host}:8080/", conditions=("[CONNECTED] == true",)), "a")
    assert res.level == Level.FAIL and res.error.startswith("blocked: ")
    assert "allow_private_targets is off" in res.error
    assert connects == []


def test_a_name_resolving_to_a_private_address_is_refused(connects):
    res = guarded(resolver=lambda n: ["8.8.8.8", "192.168.0.10"]).check(
        Monitor("m.0", "https://sneaky.test/"), "a")
    assert res.error == ("blocked: sneaky.test resolves to 192.168.0.10, a private network address "
                         "(allow_private_targets is off)")
    assert connects == []


def test_the_validated_address_is_the_one_connected_to(connects):
    """No second lookup: a resolver that would answer differently next time is asked once."""
    web = Web(host="127.0.0.2")
    answers = iter([["127.0.0.2"], ["10.9.9.9"]])
    asked = []

    def rebinding(name):
        asked.append(name)
        return next(answers)
    try:
        res = guarded(rebinding, allowed_networks=["127.0.0.2/32"]).check(
            Monitor("m.0", f"http://rebind.test:{web.port}/ok"), "a")
    finally:
        web.close()
    assert res.level == Level.OK and asked == ["rebind.test"] and connects == ["127.0.0.2"]
    assert web.requests[0]["headers"]["Host"] == f"rebind.test:{web.port}"


@pytest.mark.parametrize("to", [
    "http://127.0.0.1:{port}/ok", "http://[::1]:{port}/ok", "http://2130706433:{port}/ok",
    "http://internal.test:{port}/ok", "http://169.254.169.254/latest/meta-data/",
])
def test_a_redirect_to_a_private_address_is_refused(connects, to):
    """public.test stands for a public site (its address is explicitly allowed); it redirects
    into the private network, and that hop must be refused before any packet leaves."""
    front = Web(host="127.0.0.2")
    inside = Web(host="127.0.0.1")
    names = {"public.test": ["127.0.0.2"], "internal.test": ["127.0.0.1"]}
    try:
        res = guarded(names.__getitem__, allowed_networks=["127.0.0.2/32"]).check(
            Monitor("m.0", f"http://public.test:{front.port}/redirect?to=" + to.format(port=inside.port)), "a")
    finally:
        front.close()
        inside.close()
    assert res.level == Level.FAIL
    assert res.error.startswith("blocked: redirect 1 to ") and "allow_private_targets is off" in res.error
    assert len(front.requests) == 1 and inside.requests == []
    assert connects == ["127.0.0.2"]


def test_a_redirect_to_another_scheme_is_refused(connects):
    front = Web(host="127.0.0.2")
    try:
        res = guarded({"public.test": ["127.0.0.2"]}.__getitem__, ["127.0.0.2/32"]).check(
            Monitor("m.0", f"http://public.test:{front.port}/redirect?to=file:///etc/passwd"), "a")
    finally:
        front.close()
    assert res.error == "blocked: redirect 1: scheme 'file' is not allowed"


def test_allow_private_targets_lets_local_checks_run():
    listener = Listener()
    try:
        res = Prober("https://s.example", allow_private=True).check(
            Monitor("m.0", f"tcp://localhost:{listener.port}", conditions=("[CONNECTED] == true",)), "a")
    finally:
        listener.close()
    assert res.level == Level.OK


def test_dns_checks_to_a_private_nameserver_are_refused(connects):
    server = DnsServer()
    try:
        res = guarded().check(Monitor("d.0", "dns://example.com?type=A",
                                      conditions=("[DNS_RCODE] == NOERROR",),
                                      nameserver=f"127.0.0.1:{server.port}"), "a")
    finally:
        server.close()
    assert res.error.startswith("blocked: nameserver 127.0.0.1 is a loopback address")
    assert server.queries == []
