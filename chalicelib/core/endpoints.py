"""Endpoint strings the status file and the probes both read."""
from __future__ import annotations


def split_server(text: str) -> tuple[str, int]:
    """"1.1.1.1", "1.1.1.1:5353", "[2606:4700::1111]:53" -> (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 53
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53
