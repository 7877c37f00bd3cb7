"""Status files for tests and benches, built from dicts instead of pasted YAML.

Most tests need a valid status file around the one thing they exercise (a heartbeat monitor, a
vendor page, a subscriber cap); `status_yaml` writes the boilerplate (the Acme page, the usual
check policy) so the test shows only what it is about. Where the YAML text itself is the subject
(config validation asserting an exact error on exact text), tests keep writing it by hand.

`${NAME}` placeholders are left as they are: load_status_text substitutes them from its environ.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

import yaml

ACME = {"id": "acme", "name": "Acme Status", "url": "https://status.acme.example"}
REGIONS = ["us-west-2", "eu-west-1", "ap-southeast-2"]
CHECKS = {"regions": REGIONS, "quorum": 2, "failure_threshold": 2, "success_threshold": 2,
          "interval": "60s"}


class _Dumper(yaml.SafeDumper):
    """Block sequences indented under their key, as people write status files by hand."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def check_policy(**changes: Any) -> dict:
    """CHECKS with some keys changed (a value of None removes the key: the loader's default)."""
    merged = {**CHECKS, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def status_yaml(components: Iterable[dict] = (), *, page: dict = ACME,
                checks: Optional[dict] = CHECKS, **sections: Any) -> str:
    """A whole status file: `page`, `checks` (None leaves the section out), `components`, then
    any other top-level section by name (subscribers=..., reports=..., channels=...)."""
    doc: dict[str, Any] = {"page": dict(page)}
    if checks is not None:
        doc["checks"] = dict(checks)
    doc["components"] = list(components)
    doc.update(sections)
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)


def component(id: str, name: str, *monitors: dict, **fields: Any) -> dict:
    """A component; without monitors it is set by hand only (as a vendor's own page is)."""
    out = {"id": id, "name": name, **fields}
    if monitors:
        out["monitors"] = list(monitors)
    return out


def http_monitor(url: str, timeout: Optional[str] = "1s", **fields: Any) -> dict:
    """An HTTP monitor; fields such as conditions=[...], interval="20s", id="health". The timeout
    is short for targets on 127.0.0.1; None leaves it to the loader's default."""
    out = {"url": url, "timeout": timeout, **fields}
    return {k: v for k, v in out.items() if v is not None}


def heartbeat_monitor(id: str, every: str, grace: str) -> dict:
    return {"id": id, "heartbeat": {"every": every, "grace": grace}}


def statuspage_monitor(url: str, component: str, timeout: str = "1s", **fields: Any) -> dict:
    """A component mirrored from a vendor's Statuspage (its summary.json at `url`)."""
    return {"statuspage": url, "component": component, "timeout": timeout, **fields}
