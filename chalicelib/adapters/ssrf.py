"""SSRF guard: which addresses a probe may send packets to (research/reliability.md section 7).

Checks come from a status file and, later, a networked operator API: a leaked key must not turn
the checker into a scanner of the network it runs in. So a target's name is resolved once here,
*every* address it resolves to must be public, and the probe then connects to exactly the
address validated here (no second lookup a DNS-rebinding attacker could answer differently).

`classify` is pure. `resolve` is the one place that asks DNS, through an injectable resolver.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import Callable, Optional, Sequence, Union

from ..core.errors import OutpostError

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Resolver = Callable[[str], Sequence[str]]        # name -> address strings


class Refused(OutpostError):
    """The target must not be probed; str() is the reason, safe to show publicly."""


def _nets(*specs: tuple[str, str]) -> tuple:
    return tuple((ipaddress.ip_network(net), why) for net, why in specs)


# Python 3.11's is_global/is_private predate the CVE-2024-4032 fixes, so the ranges are listed
# here explicitly (IANA special-purpose registries), and is_global is only a second opinion.
_BLOCKED_V4 = _nets(
    ("0.0.0.0/8", "'this network'"), ("10.0.0.0/8", "private network"),
    ("100.64.0.0/10", "carrier-grade NAT"), ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"), ("172.16.0.0/12", "private network"),
    ("192.0.0.0/24", "IETF protocol assignments"), ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"), ("192.168.0.0/16", "private network"),
    ("198.18.0.0/15", "benchmarking"), ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_BLOCKED_V6 = _nets(
    ("::/128", "unspecified"), ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"), ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "NAT64 (local)"), ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"), ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"), ("fc00::/7", "unique local (private; AWS metadata fd00:ec2::254)"),
    ("fe80::/10", "link-local"), ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)


def classify(addr: IPAddress) -> Optional[str]:
    """Why `addr` is not a public unicast address, or None when it is."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:           # ::ffff:127.0.0.1 is 127.0.0.1 on the wire
            inner = classify(addr.ipv4_mapped)
            return f"IPv4-mapped {inner}" if inner else None
        table = _BLOCKED_V6
    else:
        table = _BLOCKED_V4
    for net, why in table:
        if addr in net:
            return why
    if not addr.is_global:
        return "not globally routable"
    return None


def parse_literal(host: str) -> Optional[IPAddress]:
    """An IP address written in any form a C resolver accepts, or None for a real name.

    inet_aton() takes "2130706433", "0177.0.0.1", "0x7f.1" and "127.1" as 127.0.0.1, and so
    does getaddrinfo() (and therefore every HTTP client), so the guard must read them the same
    way instead of passing them to a resolver that might not.
    """
    text = host.strip().strip("[]")
    if "%" in text:                                  # IPv6 zone id: fe80::1%eth0
        text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if ":" in text or not text:
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


def system_resolver(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def resolve(host: str, allow_private: bool, resolver: Optional[Resolver] = None,
            allowed_networks: Sequence = ()) -> list[IPAddress]:
    """The addresses to connect to, in preference order (IPv4 first: Lambda has no IPv6 egress
    outside a dual-stack VPC). Raises Refused when any of them is not public, unless it is in
    one of `allowed_networks` (an operator's explicit exception, e.g. a VPC subnet)."""
    literal = parse_literal(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            raw = (resolver or system_resolver)(host)
        except (OSError, UnicodeError) as exc:
            raise Refused(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None
        found = []
        for text in raw:
            addr = parse_literal(text)
            if addr is not None and addr not in found:
                found.append(addr)
        if not found:
            raise Refused(f"cannot resolve {host}: no addresses")
    if not allow_private:
        # Every address, not just the first: a name answering with one public and one private
        # address could otherwise be steered to the private one by a later round-robin.
        for addr in found:
            why = classify(addr)
            if why and not any(addr in net for net in allowed_networks
                               if net.version == addr.version):
                shown = host if literal is not None else f"{host} resolves to {addr}"
                raise Refused(f"{shown} is a {why} address (allow_private_targets is off)"
                              if literal is not None else
                              f"{shown}, a {why} address (allow_private_targets is off)")
    return sorted(found, key=lambda a: a.version)
