"""DNS checks (dns://name?type=A|AAAA|CNAME|MX|TXT): [DNS_RCODE], and [BODY] is the answer.

The query goes to the monitor's `nameserver` (checked by the SSRF guard like any target), or to
the checker's own resolvers from /etc/resolv.conf (infrastructure, so not guarded). NXDOMAIN and
SERVFAIL are observations for the conditions; a timeout is retried once on the next resolver, as
Upptime treats "could not resolve" as transient. There is no cache: every round asks afresh.
"""
from __future__ import annotations

from typing import Optional
from urllib.parse import parse_qs, urlsplit

from ...core.conditions import Observation
from ...core.endpoints import split_server
from ...core.model import Monitor
from ..ssrf import Refused
from . import Deadline, ProbeContext, short

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")


def query_of(url: str) -> tuple[str, str]:
    """(name, record type) of a dns:// URL; the loader has validated it."""
    parts = urlsplit(url)
    rdtype = (parse_qs(parts.query).get("type") or ["A"])[0].upper()
    return parts.hostname or "", rdtype


def _servers(monitor: Monitor, ctx: ProbeContext) -> list[tuple[str, int]]:
    if monitor.nameserver:
        host, port = split_server(monitor.nameserver)
        return [(str(ctx.resolve(host)[0]), port)]
    if ctx.nameservers:
        return list(ctx.nameservers)
    import dns.resolver  # cold start: dnspython loads only for DNS checks
    return [(ns, 53) for ns in dns.resolver.Resolver().nameservers[:2]]


def answer_text(response, rdtype_name: str) -> str:
    """Every record of the asked type, one per line, sorted: round-robin DNS rotates the order,
    and a condition must not flap with it. Names lose their trailing dot, TXT its quotes."""
    import dns.rdatatype  # cold start: dnspython loads only for DNS checks
    wanted = dns.rdatatype.from_text(rdtype_name)
    values = []
    for rrset in response.answer:
        if rrset.rdtype != wanted:
            continue
        for rd in rrset:
            if rdtype_name in ("A", "AAAA"):
                values.append(rd.address)
            elif rdtype_name == "CNAME":
                values.append(rd.target.to_text().rstrip("."))
            elif rdtype_name == "MX":
                values.append(f"{rd.preference} {rd.exchange.to_text().rstrip('.')}")
            else:
                values.append(b"".join(rd.strings).decode("utf-8", errors="replace"))
    return "\n".join(sorted(values))


def probe(monitor: Monitor, ctx: ProbeContext) -> tuple[Observation, Optional[str]]:
    import dns.exception  # cold start: dnspython loads only for DNS checks
    import dns.message  # cold start: dnspython loads only for DNS checks
    import dns.query  # cold start: dnspython loads only for DNS checks
    import dns.rcode  # cold start: dnspython loads only for DNS checks

    deadline = Deadline(monitor.timeout)
    name, rdtype = query_of(monitor.url)
    try:
        servers = _servers(monitor, ctx)
    except Refused as exc:
        return Observation(), f"blocked: nameserver {exc}"
    if not servers:
        return Observation(), "no DNS resolver configured"
    error = "no answer"
    for attempt, (address, port) in enumerate(servers[:2]):
        share = deadline.left() / (len(servers[:2]) - attempt)   # leave time for the retry
        query = dns.message.make_query(name, rdtype)
        try:
            response, _ = dns.query.udp_with_fallback(query, address, timeout=share, port=port)
        except dns.exception.Timeout:
            error = f"DNS timeout after {monitor.timeout:g}s"
            continue
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            error = f"DNS query failed: {short(exc)}"
            continue
        return Observation(connected=True, response_time_ms=deadline.elapsed_ms(),
                           dns_rcode=dns.rcode.to_text(response.rcode()),
                           body=answer_text(response, rdtype)), None
    return Observation(), error
