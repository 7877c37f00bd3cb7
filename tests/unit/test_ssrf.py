"""The SSRF guard's address rules: pure, table-driven."""
import ipaddress

import pytest

from chalicelib.adapters.ssrf import Refused, classify, parse_literal, resolve


@pytest.mark.parametrize("addr, why", [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private network"), ("172.31.255.1", "private network"),
    ("192.168.1.1", "private network"), ("100.64.0.1", "carrier-grade NAT"),
    ("100.100.100.200", "carrier-grade NAT"),                  # Alibaba's metadata service
    ("169.254.169.254", "link-local (cloud metadata)"), ("169.254.170.2", "link-local (cloud metadata)"),
    ("0.0.0.0", "'this network'"), ("224.0.0.1", "multicast"), ("255.255.255.255", "reserved"),
    ("198.18.0.1", "benchmarking"), ("192.0.2.1", "documentation"),
    ("::1", "loopback"), ("::", "unspecified"), ("fe80::1", "link-local"),
    ("fd00:ec2::254", "unique local (private; AWS metadata fd00:ec2::254)"),
    ("ff02::1", "multicast"), ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:169.254.169.254", "IPv4-mapped link-local (cloud metadata)"),
    ("64:ff9b::a00:1", "NAT64"), ("2002:7f00:1::", "6to4"), ("::7f00:1", "IPv4-compatible (deprecated)"),
    ("8.8.8.8", None), ("93.184.216.34", None), ("2606:4700:4700::1111", None),
    ("::ffff:8.8.8.8", None),
])
def test_classify(addr, why):
    assert classify(ipaddress.ip_address(addr)) == why


@pytest.mark.parametrize("host, addr", [
    ("127.0.0.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"), ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"), ("[::1]", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"),
    ("fe80::1%eth0", "fe80::1"), ("example.com", None), ("1.2.3.example", None), ("", None),
])
def test_parse_literal_reads_every_spelling_a_resolver_would(host, addr):
    got = parse_literal(host)
    assert (str(got) if got else None) == addr


def test_every_resolved_address_must_be_public():
    def resolver(name):
        return {"mixed.test": ["8.8.8.8", "10.0.0.1"], "public.test": ["2606:4700::1", "8.8.4.4"]}[name]
    with pytest.raises(Refused, match=r"mixed.test resolves to 10.0.0.1, a private network address"):
        resolve("mixed.test", False, resolver)
    # IPv4 first: Lambda has no IPv6 egress by default
    assert [str(a) for a in resolve("public.test", False, resolver)] == ["8.8.4.4", "2606:4700::1"]


def test_allowed_networks_and_allow_private():
    def resolver(name):
        return ["10.0.0.7"]
    with pytest.raises(Refused):
        resolve("vpc.test", False, resolver)
    assert str(resolve("vpc.test", False, resolver, [ipaddress.ip_network("10.0.0.0/24")])[0]) == "10.0.0.7"
    assert str(resolve("vpc.test", True, resolver)[0]) == "10.0.0.7"


def test_resolution_failure_is_a_refusal_with_the_reason():
    def resolver(name):
        raise OSError(-2, "Name or service not known")
    with pytest.raises(Refused, match="cannot resolve nowhere.test: Name or service not known"):
        resolve("nowhere.test", False, resolver)
