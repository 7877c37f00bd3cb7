"""Load and validate the status file (DESIGN.md, "Contract: the status file").

The file is composed into PyYAML *nodes* rather than loaded into dicts, so every value keeps
the line it came from and every problem can be reported as ``file:line: dotted.key: message``.
The schema is a table per section (allowed keys, converter, required, default); the few rules
that span keys (quorum vs regions, unique ids) run after the tables. All problems are collected
and raised together, so one run of ``outpost`` shows everything that needs fixing.
"""
from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, NamedTuple, Optional
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .conditions import APPLIES_TO, ConditionError
from .conditions import parse as parse_condition
from .conditions import parse_duration
from .endpoints import split_server
from .errors import OutpostError
from .locales import LOCALES
from .model import (AutoReply, BlueskyAccount, Channel, CheckPolicy, Component, Embed,
                    MaintenanceWindow, MastodonAccount, Monitor, Operations, Page, Place,
                    ReportPolicy, SocialPolicy, StatusConfig, SubscriberPolicy, XAccount)

DOCUMENT = "<document>"   # the key named in problems about the file as a whole


class Problem(NamedTuple):
    file: str
    line: Optional[int]
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}"


class ConfigError(OutpostError, ValueError):
    """The status file is unusable. The attributes describe the first problem; ``errors`` has them all."""

    def __init__(self, file: str, line: Optional[int], key: str, message: str,
                 errors: Optional[list[Problem]] = None):
        # Exception's own init, with every argument: keeps the exception picklable
        ValueError.__init__(self, file, line, key, message, errors)
        self.file, self.line, self.key, self.message = file, line, key, message
        self.field, self.headers = key, {}
        self.errors = list(errors) if errors else [Problem(file, line, key, message)]

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.errors)


def load_status_file(path: str, environ: Optional[Mapping[str, str]] = None) -> StatusConfig:
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, None, DOCUMENT, f"cannot read the status file: {e}") from e
    return load_status_text(text, source=path, environ=environ)


def load_status_text(text: str, source: str = "<string>",
                     environ: Optional[Mapping[str, str]] = None) -> StatusConfig:
    # The environment is read here, per call, never at import (chalice.test.Client patches it late).
    reader = _Reader(source, os.environ if environ is None else environ)
    root = reader.compose(text)
    config = None
    if root is not None:
        top = _section(TOP)(reader, root, "")
        if top is not _BAD:
            config = _build(reader, top)
    if reader.problems:
        problems = sorted(reader.problems, key=lambda p: p.line or 0)
        raise ConfigError(*problems[0], errors=problems)
    return config


# --- reading nodes ----------------------------------------------------------------------------

_BAD = object()            # a converter's result when it has already recorded a problem
_TAG = "tag:yaml.org,2002:"
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = {"int": "an integer", "float": "a number", "bool": "a boolean", "null": "nothing (null)",
            "str": "a string"}.get(node.tag.removeprefix(_TAG), f"a {node.tag} value")
    return kind if node.tag == _TAG + "null" else f"{kind} ({node.value!r})"


@dataclass
class _Reader:
    file: str
    environ: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)

    def fail_at(self, line: Optional[int], key: str, message: str) -> Any:
        self.problems.append(Problem(self.file, line, key or DOCUMENT, message))
        return None

    def fail(self, node: Node, key: str, message: str) -> Any:
        self.fail_at(_line(node), key, message)
        return _BAD

    def wrong_type(self, node: Node, key: str, expected: str) -> Any:
        return self.fail(node, key, f"expected {expected}, got {_describe(node)}")

    def compose(self, text: str) -> Optional[Node]:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            parts = [e.context, e.problem]     # e.g. "while parsing a flow sequence", "expected ','"
            if e.context and e.context_mark and e.problem_mark and e.context_mark.line != mark.line:
                parts[0] += f" (started on line {e.context_mark.line + 1})"
            message = ", ".join(p for p in parts if p)
            return self.fail_at(mark.line + 1 if mark else None, "<syntax>", f"invalid YAML: {message}")
        except yaml.reader.ReaderError as e:   # a control character: PyYAML gives an offset only
            line = text.count("\n", 0, e.position) + 1
            return self.fail_at(line, "<syntax>", f"invalid YAML: character #x{e.character:04X} "
                                                  "is not allowed")
        if root is None:
            self.fail_at(1, DOCUMENT, "the file is empty; expected page, checks and components")
        return root

    def string(self, node: Node, key: str, expected: str = "a string") -> Any:
        """A string scalar with ${VAR} / ${VAR:-default} substituted; only strings are substituted."""
        if not (isinstance(node, ScalarNode) and node.tag == _TAG + "str"):
            return self.wrong_type(node, key, expected)
        unset: list[str] = []

        def substitute(m: re.Match) -> str:
            name, default = m.group(1), m.group(2)
            if m.group(0) == "$${":        # escape for a literal "${"
                return "${"
            if name is None:
                unset.append("")
                return ""
            value = self.environ.get(name)
            if default is not None and not value:   # shell semantics: unset or empty
                return default
            if value is None:
                unset.append(name)
                return ""
            return value

        value = _VAR.sub(substitute, node.value)
        if "" in unset:
            return self.fail(node, key, f"bad variable reference in {node.value!r}; "
                                        "write ${NAME} or ${NAME:-default} (or $${ for a literal ${)")
        if unset:
            return self.fail(node, key, f"environment variable {', '.join(unset)} is not set "
                                        f"(use ${{{unset[0]}:-default}} to give a default)")
        bad = _BAD_CHARACTER.search(value)
        if bad:
            # YAML's "\ud800" escapes and a variable's value can carry what no page, header,
            # calendar or SMS can: refused here, by name, instead of a 503 on every render.
            what = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else \
                "a control character"
            return self.fail(node, key, f"has {what} (U+{ord(bad.group()):04X}) at position "
                                        f"{bad.start()}")
        return value


# --- converters: (reader, node, dotted key) -> value or _BAD ------------------------------------

Converter = Callable[[_Reader, Node, str], Any]
# Controls other than tab and line breaks (C0, DEL, C1), and lone surrogates.
_BAD_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _text(r: _Reader, node: Node, key: str) -> Any:
    value = r.string(node, key)
    if value is not _BAD and not value.strip():
        return r.fail(node, key, "must not be empty")
    return value


def _text_where(check: Callable[[str], Optional[str]]) -> Converter:
    """A non-empty string that `check` accepts (it returns None, or what is wrong with the value)."""
    def convert(r: _Reader, node: Node, key: str) -> Any:
        value = _text(r, node, key)
        problem = None if value is _BAD else check(value)
        return value if problem is None else r.fail(node, key, problem)
    return convert


def _matching(pattern: str, rule: str) -> Converter:
    regex = re.compile(pattern)
    return _text_where(lambda value: None if regex.fullmatch(value) else
                       f"{value!r} is not allowed here: use {rule}")


def _url_problem(value: str) -> Optional[str]:
    try:
        parts = urlsplit(value)
        parts.port                     # raises ValueError on a non-numeric port
    except ValueError as e:
        return f"bad URL {value!r}: {e}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"unsupported URL scheme {parts.scheme or '(none)'!r} in {value!r}; allowed: http, https"
    if not parts.hostname or any(c.isspace() for c in value):
        return f"bad URL {value!r}: expected http(s)://host[:port]/path"
    return None


TARGET_SCHEMES = ("http", "https", "tcp", "tls", "dns")
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT")


def _target_problem(value: str) -> Optional[str]:
    """A monitor's target: http(s)://host/path, tcp://host:port, tls://host:port,
    dns://name?type=A|AAAA|CNAME|MX|TXT."""
    try:
        parts = urlsplit(value)
        port = parts.port                  # raises ValueError on a non-numeric port
    except ValueError as e:
        return f"bad URL {value!r}: {e}"
    scheme = parts.scheme.lower()
    if scheme not in TARGET_SCHEMES:
        return (f"unsupported URL scheme {parts.scheme or '(none)'!r} in {value!r}; "
                f"allowed: {', '.join(TARGET_SCHEMES)}")
    if not parts.hostname or any(c.isspace() for c in value):
        return f"bad URL {value!r}: no host"
    if parts.username is not None or parts.password is not None:
        return f"credentials in {value!r} are not allowed (send them with headers:)"
    if scheme in ("tcp", "tls"):
        if port is None or parts.path not in ("", "/") or parts.query:
            return f"bad URL {value!r}: expected {scheme}://host:port"
    if scheme == "dns":
        query = parse_qs(parts.query, keep_blank_values=True)
        types = query.pop("type", ["A"])
        if port is not None or parts.path not in ("", "/") or query or len(types) != 1:
            return f"bad URL {value!r}: expected dns://name?type=A (or AAAA, CNAME, MX, TXT)"
        if types[0].upper() not in DNS_TYPES:
            return f"unsupported DNS record type {types[0]!r}; allowed: {', '.join(DNS_TYPES)}"
    return None


def _nameserver_problem(value: str) -> Optional[str]:
    try:
        host, port = split_server(value)
        ipaddress.ip_address(host)
        if not 0 < port < 65536:
            raise ValueError
    except ValueError:
        return f"bad nameserver {value!r}: use an IP address, optionally with :port"
    return None


def _network_problem(value: str) -> Optional[str]:
    try:
        ipaddress.ip_network(value)
    except ValueError as e:
        return f"bad network {value!r}: {e} (use CIDR, e.g. 10.0.4.0/24)"
    return None


# Headers a check must not set: the contract's User-Agent, what HTTP framing owns, and what
# cloud metadata services use to tell a real client from a forged request.
_FORBIDDEN_HEADERS = ("host", "user-agent", "content-length", "transfer-encoding", "connection")
_FORBIDDEN_HEADER_PREFIXES = ("metadata", "x-aws-ec2-metadata-token", "x-google-metadata")
_TOKEN = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _headers(r: "_Reader", node: Node, key: str) -> Any:
    if not isinstance(node, MappingNode):
        return r.wrong_type(node, key, "a mapping of header names to values")
    out, before = [], len(r.problems)
    for key_node, value_node in node.value:
        name = r.string(key_node, key, expected="a header name")
        value = r.string(value_node, f"{key}.{getattr(key_node, 'value', '?')}")
        if name is _BAD or value is _BAD:
            continue
        where, lower = f"{key}.{name}", name.lower()
        if not _TOKEN.fullmatch(name):
            r.fail(key_node, where, f"bad header name {name!r}")
        elif lower in _FORBIDDEN_HEADERS or lower.startswith(_FORBIDDEN_HEADER_PREFIXES):
            r.fail(key_node, where, f"header {name!r} cannot be set by a check")
        elif any(c in value for c in "\r\n\0"):
            r.fail(value_node, where, "header values cannot contain line breaks")
        elif lower in (n.lower() for n, _ in out):
            r.fail(key_node, where, "duplicate header")
        else:
            out.append((name, value))
    return tuple(out) if len(r.problems) == before else _BAD


def _timestamp(r: "_Reader", node: Node, key: str) -> Any:
    """An ISO 8601 time, quoted or not (YAML reads unquoted ones as timestamps). A time without
    an offset is in the page's time zone, applied when the window is built."""
    if not (isinstance(node, ScalarNode) and node.tag in (_TAG + "str", _TAG + "timestamp")):
        return r.wrong_type(node, key, "a time such as 2026-12-01T02:00:00Z")
    text = node.value.strip()
    try:
        return datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        return r.fail(node, key, f"bad time {text!r}: use ISO 8601, e.g. 2026-12-01T02:00:00Z")


_ORIGIN_HOST = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


def _frame_ancestor_problem(value: str) -> Optional[str]:
    """A CSP frame-ancestors source Outpost can put in a header as is: `self`, or an http(s)
    origin (`https://example.com`, `https://*.example.com`, `http://127.0.0.1:8080`), nothing
    that could end the directive or add another (no spaces, `;`, `,` or quotes)."""
    if value == "self":
        return None
    problem = (f"{value!r} is not an origin; use self or scheme://host[:port], "
               "e.g. https://www.example.com or https://*.example.com")
    # Controls too: urlsplit silently drops CR, LF, tab and edge C0 bytes, so they'd pass the
    # parse below and reach the header as they are.
    if (any(ch in value for ch in " \t;,'\"") or len(value) > 200
            or not (value.isascii() and value.isprintable())):
        return problem
    try:
        parts = urlsplit(value)
        parts.port
    except ValueError:
        return problem
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    if (parts.scheme not in ("http", "https") or parts.path not in ("", "/") or parts.query
            or parts.fragment or "@" in parts.netloc or not _ORIGIN_HOST.fullmatch(host)):
        return problem
    return None


def _zone_problem(value: str) -> Optional[str]:
    try:
        ZoneInfo(value)                # tzdata is a runtime dependency, so Lambda has the names
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}; use an IANA name such as Europe/London"
    return None


def _locale_problem(value: str) -> Optional[str]:
    if value not in LOCALES:
        return f"unknown locale {value!r}; shipped locales: {', '.join(LOCALES)}"
    return None


def _scalar(tag: str, expected: str) -> Converter:
    """A typed YAML scalar, constructed by PyYAML itself (so 0x10, 1_000, yes/no behave as YAML says)."""
    def convert(r: _Reader, node: Node, key: str) -> Any:
        if not (isinstance(node, ScalarNode) and node.tag == _TAG + tag):
            return r.wrong_type(node, key, expected)
        return SafeConstructor().construct_object(node)
    return convert


_boolean = _scalar("bool", "true or false")


def _integer(minimum: int) -> Converter:
    def convert(r: _Reader, node: Node, key: str) -> Any:
        value = _scalar("int", "an integer")(r, node, key)
        if value is not _BAD and value < minimum:
            return r.fail(node, key, f"must be at least {minimum}, got {value}")
        return value
    return convert


def _duration(minimum: float = 0.0, maximum: float = float("inf")) -> Converter:
    def convert(r: _Reader, node: Node, key: str) -> Any:
        text = r.string(node, key, expected="a duration with a unit, such as '5s' or '2m'")
        if text is _BAD:
            return text
        try:
            seconds = parse_duration(text)
        except ConditionError as e:   # conditions.py may already name the text; say it once
            reason = str(e).removeprefix(f"bad duration {text!r}: ")
            return r.fail(node, key, f"bad duration {text!r}: {reason}")
        if seconds <= 0 or seconds < minimum:
            floor = f"at least {minimum:g}s" if minimum else "more than 0s"
            return r.fail(node, key, f"{text!r} is too short: must be {floor}")
        if seconds > maximum:
            return r.fail(node, key, f"{text!r} is too long: must be at most {maximum:g}s")
        return seconds
    return convert


def _number(minimum: float) -> Converter:
    """An integer or decimal number, at least `minimum` (e.g. a factor such as 3 or 2.5)."""
    def convert(r: _Reader, node: Node, key: str) -> Any:
        if not (isinstance(node, ScalarNode) and node.tag in (_TAG + "int", _TAG + "float")):
            return r.wrong_type(node, key, "a number")
        value = float(SafeConstructor().construct_object(node))
        if not math.isfinite(value) or value < minimum:
            return r.fail(node, key, f"must be a number of at least {minimum:g}, got {node.value}")
        return value
    return convert


def _report_window(r: _Reader, node: Node, key: str) -> Any:
    """Reports are counted in 5-minute buckets, so the window is a whole number of them; at
    most 2 h keeps the baseline's reads (7 days of the same window) to two small batches."""
    seconds = _duration(minimum=300.0, maximum=7200.0)(r, node, key)
    if seconds is not _BAD and seconds % 300:
        return r.fail(node, key, f"{node.value!r} is not a multiple of 5m (reports are counted "
                                 "in 5-minute buckets): try 15m, 30m or 1h")
    return seconds


def _condition(r: _Reader, node: Node, key: str) -> Any:
    text = _text(r, node, key)
    if text is _BAD:
        return text
    try:
        parse_condition(text)
    except ConditionError as e:
        reason = str(e).removesuffix(f" in condition {text!r}")
        return r.fail(node, key, f"bad condition {text!r}: {reason}")
    return text                        # stored as written; probes parse it again (cheap, pure)


def _list(item: Converter, non_empty: bool = False, unique: bool = False) -> Converter:
    def convert(r: _Reader, node: Node, key: str) -> Any:
        if not isinstance(node, SequenceNode):
            return r.wrong_type(node, key, "a list")
        if non_empty and not node.value:
            return r.fail(node, key, "must not be empty")
        values, first_seen = [], {}
        for i, child in enumerate(node.value):
            value = item(r, child, f"{key}[{i}]")
            if unique and value is not _BAD:
                if value in first_seen:
                    r.fail(child, f"{key}[{i}]", f"duplicate value {value!r} (first at line {first_seen[value]})")
                first_seen.setdefault(value, _line(child))
            values.append(value)
        return _BAD if _BAD in values else tuple(values)
    return convert


class Field(NamedTuple):
    convert: Converter
    required: bool = False
    default: Any = None                # used when the key is absent or explicitly null


@dataclass
class _Section:
    """A mapping that passed its table: the good values, and the nodes to point at later."""
    node: MappingNode
    key: str
    values: dict[str, Any]
    nodes: dict[str, Node]
    complete: bool                     # every key present and valid, so it can become a dataclass


def _section(schema: dict[str, Field], build: Optional[Callable[..., Any]] = None) -> Converter:
    """A mapping checked against `schema`; `build(**values)` turns a clean one into a dataclass."""
    def convert(r: _Reader, node: Node, key: str) -> Any:
        if not isinstance(node, MappingNode):
            return r.wrong_type(node, key, "a mapping")
        before = len(r.problems)
        values: dict[str, Any] = {}
        nodes: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                r.fail(key_node, key, "YAML merge keys (<<) are not supported; write the keys out")
                continue
            if not (isinstance(key_node, ScalarNode) and key_node.tag == _TAG + "str"):
                r.wrong_type(key_node, key, "a key name")
                continue
            name = key_node.value
            where = f"{key}.{name}" if key else name
            if name in nodes:
                r.fail(key_node, where, f"duplicate key (first at line {_line(nodes[name])})")
            elif name not in schema:
                r.fail(key_node, where, f"unknown key {name!r}; allowed keys: {', '.join(schema)}")
            else:
                nodes[name] = value_node
                # "group:" with nothing after it means "use the default", like leaving it out
                if value_node.tag != _TAG + "null" or schema[name].required:
                    values[name] = schema[name].convert(r, value_node, where)
        for name, spec in schema.items():
            if name not in nodes and spec.required:
                r.fail(node, f"{key}.{name}" if key else name, "required key is missing")
            elif name not in values and not spec.required:
                values[name] = spec.default
        values = {k: v for k, v in values.items() if v is not _BAD}
        complete = len(r.problems) == before
        if build is None:
            return _Section(node, key, values, nodes, complete)
        return build(**values) if complete else _BAD
    return convert


# --- the schema (DESIGN.md "Contract: the status file") ---------------------------------------

PLACE = {"provider": Field(_text, required=True), "region": Field(_text, required=True)}

PAGE = {
    "id": Field(_matching(r"[a-z0-9][a-z0-9-]*", "lowercase letters, digits and '-'"), required=True),
    "name": Field(_text, required=True),
    "url": Field(_text_where(_url_problem), required=True),
    "time_zone": Field(_text_where(_zone_problem), default="Etc/UTC"),
    "locale": Field(_text_where(_locale_problem), default="en"),
    "hosted_on": Field(_section(PLACE, Place)),
    "service_hosted_on": Field(_section(PLACE, Place)),
    "embed": Field(_section({"frame_ancestors": Field(_list(_text_where(_frame_ancestor_problem),
                                                            unique=True), default=())}, Embed),
                   default=Embed()),
}

CHECKS = {
    "regions": Field(_list(_text, non_empty=True, unique=True)),   # required once there are monitors
    "quorum": Field(_integer(1)),                                  # default: a majority of regions
    "failure_threshold": Field(_integer(1), default=2),
    "success_threshold": Field(_integer(1), default=2),
    "allow_private_targets": Field(_boolean, default=False),
    "interval": Field(_duration(minimum=1.0), default=60.0),
    "allowed_networks": Field(_list(_text_where(_network_problem)), default=()),
}

HEARTBEAT = {
    "every": Field(_duration(minimum=1.0), required=True),
    "grace": Field(_duration(), default=0.0),
}

MONITOR = {
    "id": Field(_matching(r"[a-z0-9_.-]+", "lowercase letters, digits, '_', '-' and '.'")),
    # Exactly one of url, heartbeat and statuspage (checked in _monitor_rules).
    "url": Field(_text_where(_target_problem)),
    "heartbeat": Field(_section(HEARTBEAT, lambda every, grace: (every, grace))),
    "statuspage": Field(_text_where(_url_problem)),
    "component": Field(_text),                                     # statuspage: vendor's component
    "timeout": Field(_duration(maximum=60.0), default=5.0),        # a check must finish in a round
    "conditions": Field(_list(_condition, non_empty=True)),        # default: by kind, see below
    "degraded_when": Field(_list(_condition), default=()),
    "method": Field(_matching("GET|HEAD|POST", "one of GET, HEAD, POST"), default="GET"),
    "headers": Field(_headers, default=()),
    "body": Field(_text),
    "max_redirects": Field(_integer(0), default=5),
    "interval": Field(_duration(minimum=5.0)),                    # default: checks.interval
    "nameserver": Field(_text_where(_nameserver_problem)),
}

MAINTENANCE = {
    "id": Field(_matching(r"[a-z0-9_-]+", "lowercase letters, digits, '_' and '-'")),
    "name": Field(_text),
    "components": Field(_list(_text, non_empty=True, unique=True), required=True),
    "start": Field(_timestamp, required=True),
    "end": Field(_timestamp),
    "duration": Field(_duration()),
    "recurrence": Field(_matching("daily|weekly", "daily or weekly")),
    "until": Field(_timestamp),
}

COMPONENT = {
    "id": Field(_matching(r"[a-z0-9_-]+", "lowercase letters, digits, '_' and '-'"), required=True),
    "name": Field(_text, required=True),
    "group": Field(_text),
    "description": Field(_text),
    "monitors": Field(_list(_section(MONITOR)), default=()),
}

SUBSCRIBERS = {
    "email": Field(_boolean, default=True),
    "webhooks": Field(_boolean, default=True),
    "sms_countries": Field(_list(_matching("[A-Z]{2}", "two-letter ISO country codes, e.g. US"),
                                 unique=True), default=()),
    "sms_per_number_per_day": Field(_integer(1), default=3),
    "sms_per_ip_per_hour": Field(_integer(1), default=10),
    "sms_global_per_hour": Field(_integer(1), default=100),
    "email_per_ip_per_hour": Field(_integer(1), default=10),
    "email_global_per_hour": Field(_integer(1), default=1000),
    "webhook_per_ip_per_hour": Field(_integer(1), default=10),
    "webhook_global_per_hour": Field(_integer(1), default=100),
    "debounce": Field(_duration(), default=300.0),
}

OPERATIONS = {
    "update_reminder": Field(_duration(minimum=60.0), default=1800.0),
    "api_rate_limit": Field(_integer(1), default=20),
    "auto_incidents": Field(_boolean, default=True),
    "social_url": Field(_text_where(_url_problem)),
    "auto_incident_title": Field(_text, default=Operations.auto_incident_title),
    "auto_incident_body": Field(_text, default=Operations.auto_incident_body),
}

REPORTS = {
    "enabled": Field(_boolean, default=ReportPolicy.enabled),
    "threshold": Field(_integer(1), default=ReportPolicy.threshold),
    "factor": Field(_number(1.0), default=ReportPolicy.factor),
    "window": Field(_report_window, default=ReportPolicy.window),
    "public": Field(_boolean, default=ReportPolicy.public),
    "per_ip_per_hour": Field(_integer(1), default=ReportPolicy.per_ip_per_hour),
    "global_per_hour": Field(_integer(1), default=ReportPolicy.global_per_hour),
}

# --- social: the official accounts (README, "Official accounts") ------------------------------
# Secrets never sit in the status file: a key names the environment variable that holds one
# (`token_env: OUTPOST_MASTODON_TOKEN`), or, as DESIGN.md writes it, is exactly `${VARIABLE}`.
# Either way only the variable's *name* is kept; the delivery worker reads the value when it
# posts, so the page, the checker and `outpost doctor` load the file without the secret.

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_env_name = _matching(_ENV_NAME.pattern, "an environment variable name such as OUTPOST_TOKEN")


def _secret_reference(r: _Reader, node: Node, key: str) -> Any:
    """`${NAME}` as written (not substituted): the name of the variable holding a secret."""
    if not (isinstance(node, ScalarNode) and node.tag == _TAG + "str"):
        return r.wrong_type(node, key, "${VARIABLE}")
    m = re.fullmatch(r"\$\{(" + _ENV_NAME.pattern + r")\}", node.value.strip())
    if m is None:
        return r.fail(node, key, "secrets are not written in the status file: write "
                                 "${VARIABLE} (or use the *_env key) and set the variable")
    return m.group(1)


def _with_secret(schema: dict, build, secret: str, env_key: str) -> Converter:
    """A section with one secret given as `secret: ${VAR}` or `env_key: VAR` (not both)."""
    def convert(r: _Reader, node: Node, key: str) -> Any:
        section = _section(schema)(r, node, key)
        if section is _BAD or not section.complete:
            return _BAD
        values = dict(section.values)
        ref = values.pop(secret, None)
        if ref is not None and env_key in section.nodes:
            return r.fail(section.nodes[secret], f"{key}.{secret}",
                          f"give {secret} or {env_key}, not both")
        if ref is not None:
            values[env_key] = ref
        elif values.get(env_key) is None:
            values.pop(env_key, None)          # the dataclass's default variable name
        return build(**values)
    return convert


def _keyword(r: _Reader, node: Node, key: str) -> Any:
    value = _text(r, node, key)
    if value is not _BAD and len(value) > 40:
        return r.fail(node, key, "a keyword is at most 40 characters")
    return value if value is _BAD else " ".join(value.lower().split())


MASTODON = {
    "instance": Field(_text_where(_url_problem), required=True),
    "account": Field(_matching(r"[A-Za-z0-9_]{1,30}", "the username, without @ or the host"),
                     required=True),
    "token": Field(_secret_reference),
    "token_env": Field(_env_name),
    "max_characters": Field(_integer(200), default=MastodonAccount.max_characters),
}

BLUESKY = {
    "handle": Field(_matching(r"[A-Za-z0-9][A-Za-z0-9.-]{0,252}\.[A-Za-z0-9-]+",
                              "a handle such as acme.bsky.social (without @)"), required=True),
    "app_password": Field(_secret_reference),
    "app_password_env": Field(_env_name),
    "service": Field(_text_where(_url_problem), default=BlueskyAccount.service),
}

X_ACCOUNT = {
    "handle": Field(_matching(r"[A-Za-z0-9_]{1,15}", "the handle without @"), required=True),
}

AUTO_REPLY = {
    "enabled": Field(_boolean, default=AutoReply.enabled),
    "keywords": Field(_list(_keyword, non_empty=True), default=AutoReply.keywords),
    "per_hour": Field(_integer(1), default=AutoReply.per_hour),
    "page_size": Field(_integer(1), default=AutoReply.page_size),
}


def _auto_reply(r: _Reader, node: Node, key: str) -> Any:
    """`auto_reply: true|false` (DESIGN.md's short form), or a mapping with the details."""
    if isinstance(node, ScalarNode) and node.tag == _TAG + "bool":
        return AutoReply(enabled=_boolean(r, node, key))
    value = _section(AUTO_REPLY, AutoReply)(r, node, key)
    if value is not _BAD and value.page_size > 80:
        return r.fail(node, f"{key}.page_size", "at most 80 (one request's page)")
    return value


SOCIAL = {
    "mastodon": Field(_with_secret(MASTODON, MastodonAccount, "token", "token_env")),
    "bluesky": Field(_with_secret(BLUESKY, BlueskyAccount, "app_password", "app_password_env")),
    "x": Field(_section(X_ACCOUNT, XAccount)),
    "auto_reply": Field(_auto_reply, default=AutoReply()),
}


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
CHANNEL_EVENTS = ("alerts", "incidents")


def _env_reference(r: _Reader, node: Node, key: str) -> Any:
    """The NAME of `${NAME}`, not its value: a channel's URL carries the service's token, so the
    file only names the variable, and only the delivery worker reads it (the checker and the API
    load this file too, without the secret in their environment)."""
    if not (isinstance(node, ScalarNode) and node.tag == _TAG + "str"):
        return r.wrong_type(node, key, "${NAME}, the environment variable with the channel's URL")
    m = _ENV_REFERENCE.fullmatch(node.value.strip())
    if m is None:
        return r.fail(node, key, "write ${NAME}: the environment variable that holds the "
                                 "channel's Apprise URL (the URL carries the service's secret "
                                 "token, so it never sits in the status file)")
    return m.group(1)


CHANNEL = {
    "name": Field(_matching(r"[a-z0-9][a-z0-9_-]*", "lowercase letters, digits, '_' and '-'")),
    "url": Field(_env_reference, required=True),
    "events": Field(_list(_matching("|".join(CHANNEL_EVENTS), "alerts or incidents"),
                          non_empty=True, unique=True)),
    "public": Field(_boolean),
}

TOP = {
    "page": Field(_section(PAGE, Page), required=True),
    "checks": Field(_section(CHECKS)),
    "components": Field(_list(_section(COMPONENT)), required=True),
    "maintenance": Field(_list(_section(MAINTENANCE)), default=()),
    "subscribers": Field(_section(SUBSCRIBERS, SubscriberPolicy), default=SubscriberPolicy()),
    "operations": Field(_section(OPERATIONS, Operations), default=Operations()),
    "reports": Field(_section(REPORTS, ReportPolicy), default=ReportPolicy()),
    "social": Field(_section(SOCIAL, SocialPolicy), default=SocialPolicy()),
    "channels": Field(_list(_section(CHANNEL)), default=()),
}


# --- rules that span keys ---------------------------------------------------------------------

def _build(r: _Reader, top: _Section) -> Optional[StatusConfig]:
    components: tuple[_Section, ...] = top.values.get("components") or ()
    checks = _build_checks(r, top, any(c.values.get("monitors") for c in components))

    component_lines: dict[str, int] = {}
    monitor_lines: dict[str, int] = {}
    for c in components:
        cid = c.values.get("id")
        if cid in component_lines:
            r.fail(c.nodes["id"], f"{c.key}.id",
                   f"duplicate component id {cid!r} (first at line {component_lines[cid]})")
        elif cid is not None:
            component_lines[cid] = _line(c.nodes["id"])
        for index, m in enumerate(c.values.get("monitors") or ()):
            if "id" not in m.values or (m.values["id"] is None and cid is None):
                continue                       # a bad id (its own or its component's), reported
            if m.values["id"] is None:         # unnamed: named after its place, so it stays stable
                m.values["id"], node, key = f"{cid}.{index}", m.node, m.key
            else:
                node, key = m.nodes["id"], f"{m.key}.id"
            mid = m.values["id"]
            if mid in monitor_lines:
                r.fail(node, key, f"duplicate monitor id {mid!r} (first at line {monitor_lines[mid]})")
            monitor_lines.setdefault(mid, _line(node))
            _monitor_rules(r, m, checks)

    page = top.values.get("page")
    windows = _maintenance(r, top.values.get("maintenance") or (), set(component_lines),
                           page.time_zone if page else "Etc/UTC")
    channels = _channels(r, top.values.get("channels") or ())
    if r.problems:
        return None
    built = tuple(
        Component(**{**c.values, "monitors": tuple(
            _monitor(m.values) for m in c.values["monitors"])},
            position=position)
        for position, c in enumerate(components))
    return StatusConfig(page=top.values["page"], checks=checks, components=built, source=r.file,
                        maintenance=windows, subscribers=top.values["subscribers"],
                        operations=top.values["operations"], reports=top.values["reports"],
                        social=top.values["social"], channels=channels)


def _monitor(values: dict) -> Monitor:
    """The Monitor for a clean section: heartbeat and statuspage keys become its fields."""
    values = dict(values)
    heartbeat, page = values.pop("heartbeat", None), values.pop("statuspage", None)
    vendor_component = values.pop("component", None)
    if heartbeat is not None:
        values.update(url="", every=heartbeat[0], grace=heartbeat[1])
    if page is not None:
        values.update(url=page.rstrip("/"), statuspage=True, vendor_component=vendor_component)
    return Monitor(**values)


def _channels(r: _Reader, sections) -> tuple:
    """`events: [alerts, incidents]` (the contract's spelling) or `public: true` (alerts plus
    the public updates); a channel is named after its variable unless it says otherwise."""
    out, seen = [], {}
    for ch in sections:
        if not ch.complete:
            continue
        v = ch.values
        if v.get("events") is not None and v.get("public") is not None:
            r.fail(ch.nodes["public"], f"{ch.key}.public",
                   "give either events or public, not both (public: true is events: "
                   "[alerts, incidents])")
            continue
        if v.get("events") is not None:
            events = set(v["events"])
        else:
            events = {"alerts", "incidents"} if v.get("public") else {"alerts"}
        name = v.get("name") or v["url"].lower().replace("_", "-")
        where = ch.nodes.get("name") or ch.nodes["url"]
        if name in seen:
            r.fail(where, f"{ch.key}.name", f"duplicate channel name {name!r} (first at line "
                                            f"{seen[name]}); give each channel its own name")
            continue
        seen[name] = _line(where)
        out.append(Channel(name=name, env=v["url"], alerts="alerts" in events,
                           public="incidents" in events))
    return tuple(out)


# What each check kind is judged on when the monitor does not say.
_DEFAULT_CONDITIONS = {
    "http": ("[STATUS] == 200",), "tcp": ("[CONNECTED] == true",),
    "dns": ("[DNS_RCODE] == NOERROR",),
    "tls": ("[CONNECTED] == true", "[CERTIFICATE_EXPIRATION] > 48h"),
    "heartbeat": (), "statuspage": (),      # judged by their beats / the vendor, not conditions
}
# Keys each kind without a url of its own accepts (besides id); the rest are refused.
_KIND_KEYS = {"heartbeat": {"heartbeat"},
              "statuspage": {"statuspage", "component", "timeout", "interval"}}
_ONLY_FOR = {"method": "http", "headers": "http", "body": "http", "max_redirects": "http",
             "nameserver": "dns"}
MAX_REDIRECTS = 5
MIN_INTERVAL_MARGIN = 2.0    # a check's timeout + this must fit in its interval


def _monitor_rules(r: _Reader, m: _Section, checks: Optional[CheckPolicy]) -> None:
    """Rules between a monitor's keys: what its kind accepts, and whether its cadence fits."""
    given = [k for k in ("url", "heartbeat", "statuspage") if k in m.nodes]
    if not given:
        r.fail(m.node, f"{m.key}.url", "required key is missing (or give heartbeat: or "
                                       "statuspage: instead)")
        return
    if len(given) > 1:
        r.fail(m.node, m.key, f"give exactly one of url, heartbeat and statuspage "
                              f"(got {', '.join(given)})")
        return
    if given[0] != "url":
        kind = given[0]
        for name, node in m.nodes.items():
            if name != "id" and name not in _KIND_KEYS[kind]:
                r.fail(node, f"{m.key}.{name}", f"does not apply to {kind} monitors "
                                                f"(they take {', '.join(sorted(_KIND_KEYS[kind]))})")
        if m.values.get("conditions") is None and "conditions" in m.values:
            m.values["conditions"] = ()
        _cadence_rules(r, m, checks)
        return
    if "component" in m.nodes:
        r.fail(m.nodes["component"], f"{m.key}.component", "only applies to statuspage monitors")
    url = m.values.get("url")
    if url is None:
        return
    kind = Monitor(id="", url=url).kind
    scheme = url.split(":", 1)[0].lower()
    for name, only in _ONLY_FOR.items():
        if name in m.nodes and kind != only:
            r.fail(m.nodes[name], f"{m.key}.{name}", f"only applies to {only} checks, not {scheme}://")
    if m.values.get("conditions") is None and "conditions" in m.values:
        m.values["conditions"] = _DEFAULT_CONDITIONS[kind]
    for name in ("conditions", "degraded_when"):
        node = m.nodes.get(name)
        for i, text in enumerate(m.values.get(name) or () if node is not None else ()):
            placeholder = parse_condition(text).placeholder
            if placeholder not in APPLIES_TO[kind]:
                seen = " ".join(f"[{p}]" for p in sorted(APPLIES_TO[kind]))
                r.fail(node.value[i], f"{m.key}.{name}[{i}]",
                       f"[{placeholder}] does not apply to {scheme}:// checks (they have {seen})")
    if (m.values.get("max_redirects") or 0) > MAX_REDIRECTS:
        r.fail(m.nodes["max_redirects"], f"{m.key}.max_redirects",
               f"at most {MAX_REDIRECTS} redirects are followed")
    if m.values.get("body") is not None and m.values.get("method") in ("GET", "HEAD"):
        r.fail(m.nodes["body"], f"{m.key}.body", "a request body needs method: POST")
    _cadence_rules(r, m, checks)


def _cadence_rules(r: _Reader, m: _Section, checks: Optional[CheckPolicy]) -> None:
    """Whether a monitor's interval fits the round (and its timeout fits the interval)."""
    interval, timeout = m.values.get("interval"), m.values.get("timeout")
    if interval is None or checks is None:
        return
    round_s = checks.interval
    where, node = f"{m.key}.interval", m.nodes["interval"]
    if interval >= round_s:
        return           # the schedule fires once per round: such a monitor runs every round
    if not math.isclose(round_s / interval, round(round_s / interval)):
        r.fail(node, where, f"{interval:g}s does not divide checks.interval ({round_s:g}s) evenly, "
                            "so rounds could not be spaced equally (try 10s, 15s, 20s or 30s)")
    elif timeout is not None and timeout + MIN_INTERVAL_MARGIN > interval:
        r.fail(node, where, f"{interval:g}s leaves no room for the {timeout:g}s timeout; "
                            f"use an interval of at least {timeout + MIN_INTERVAL_MARGIN:g}s")


_PERIOD = {"daily": 86400.0, "weekly": 7 * 86400.0}


def _maintenance(r: _Reader, sections, components: set, tz_name: str) -> tuple:
    """Maintenance windows: times without an offset are in the page's time zone."""
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    out = []
    for index, w in enumerate(sections):
        v, key = w.values, w.key
        if not w.complete:
            continue
        for i, cid in enumerate(v["components"]):
            if cid not in components:
                r.fail(w.nodes["components"].value[i], f"{key}.components[{i}]",
                       f"unknown component {cid!r}")
        epoch = {k: (v[k] if v[k].tzinfo else v[k].replace(tzinfo=tz)).timestamp()
                 for k in ("start", "end", "until") if v.get(k) is not None}
        if (v.get("end") is None) == (v.get("duration") is None):
            r.fail(w.node, key, "give exactly one of end or duration")
            continue
        end = epoch.get("end", epoch["start"] + (v.get("duration") or 0))
        if end <= epoch["start"]:
            r.fail(w.nodes.get("end", w.node), f"{key}.end", "must be after start")
            continue
        recurrence = v.get("recurrence")
        if recurrence and end - epoch["start"] >= _PERIOD[recurrence]:
            r.fail(w.nodes["recurrence"], f"{key}.recurrence",
                   f"a {recurrence} window must be shorter than its period")
        if "until" in epoch and not recurrence:
            r.fail(w.nodes["until"], f"{key}.until", "only applies with recurrence")
        out.append(MaintenanceWindow(
            id=v.get("id") or f"maintenance-{index}", components=tuple(v["components"]),
            start=epoch["start"], end=end, name=v.get("name"), recurrence=recurrence,
            until=epoch.get("until")))
    return tuple(out)


def _build_checks(r: _Reader, top: _Section, has_monitors: bool) -> Optional[CheckPolicy]:
    checks: Optional[_Section] = top.values.get("checks")
    values = dict(checks.values) if checks else {k: f.default for k, f in CHECKS.items()}
    nodes = checks.nodes if checks else {}
    if values.get("regions", ()) is None:       # left out (or null), as opposed to invalid
        if has_monitors:
            r.fail(top.nodes.get("checks", top.node), "checks.regions",
                   "required when any component has monitors (list the vantage points, "
                   "e.g. [us-west-2, eu-west-1])")
            return None
        values["regions"] = ("local",)          # nothing is probed, so the vantage point is moot
    if checks and not checks.complete:
        return None
    regions, quorum = values["regions"], values["quorum"]
    if quorum is None:
        values["quorum"] = len(regions) // 2 + 1   # a majority: one odd region cannot flip a status
    elif quorum > len(regions):
        r.fail(nodes["quorum"], "checks.quorum",
               f"quorum {quorum} is more than the {len(regions)} region(s) in checks.regions")
        return None
    return CheckPolicy(**values)
