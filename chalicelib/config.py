"""Load and validate the status file (DESIGN.md, "Contract: the status file").

The file is composed into PyYAML *nodes* rather than loaded into dicts, so every value keeps
the line it came from and every problem can be reported as ``file:line: dotted.key: message``.
The schema is a table per section (allowed keys, converter, required, default); the few rules
that span keys (quorum vs regions, unique ids) run after the tables. All problems are collected
and raised together, so one run of ``outpost`` shows everything that needs fixing.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .conditions import ConditionError, parse as parse_condition, parse_duration
from .model import CheckPolicy, Component, Monitor, Page, Place, StatusConfig

DOCUMENT = "<document>"   # the key named in problems about the file as a whole


class Problem(NamedTuple):
    file: str
    line: Optional[int]
    key: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.key}: {self.message}"


class ConfigError(ValueError):
    """The status file is unusable. The attributes describe the first problem; ``errors`` has them all."""

    def __init__(self, file: str, line: Optional[int], key: str, message: str,
                 errors: Optional[list[Problem]] = None):
        super().__init__(file, line, key, message, errors)   # keeps the exception picklable
        self.file, self.line, self.key, self.message = file, line, key, message
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
        return value


# --- converters: (reader, node, dotted key) -> value or _BAD ------------------------------------

Converter = Callable[[_Reader, Node, str], Any]


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


def _zone_problem(value: str) -> Optional[str]:
    try:
        ZoneInfo(value)                # tzdata is a runtime dependency, so Lambda has the names
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}; use an IANA name such as Europe/London"
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
    "hosted_on": Field(_section(PLACE, Place)),
    "service_hosted_on": Field(_section(PLACE, Place)),
}

CHECKS = {
    "regions": Field(_list(_text, non_empty=True, unique=True)),   # required once there are monitors
    "quorum": Field(_integer(1)),                                  # default: a majority of regions
    "failure_threshold": Field(_integer(1), default=2),
    "success_threshold": Field(_integer(1), default=2),
    "allow_private_targets": Field(_boolean, default=False),
    "interval": Field(_duration(minimum=1.0), default=60.0),
}

MONITOR = {
    "id": Field(_matching(r"[a-z0-9_.-]+", "lowercase letters, digits, '_', '-' and '.'")),
    "url": Field(_text_where(_url_problem), required=True),
    "timeout": Field(_duration(maximum=60.0), default=5.0),        # a check must finish in a round
    "conditions": Field(_list(_condition, non_empty=True), default=("[STATUS] == 200",)),
    "degraded_when": Field(_list(_condition), default=()),
    "method": Field(_matching("GET|HEAD|POST", "one of GET, HEAD, POST"), default="GET"),
}

COMPONENT = {
    "id": Field(_matching(r"[a-z0-9_-]+", "lowercase letters, digits, '_' and '-'"), required=True),
    "name": Field(_text, required=True),
    "group": Field(_text),
    "description": Field(_text),
    "monitors": Field(_list(_section(MONITOR)), default=()),
}

TOP = {
    "page": Field(_section(PAGE, Page), required=True),
    "checks": Field(_section(CHECKS)),
    "components": Field(_list(_section(COMPONENT)), required=True),
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

    if r.problems:
        return None
    built = tuple(
        Component(**{**c.values, "monitors": tuple(
            Monitor(**m.values) for m in c.values["monitors"])},
            position=position)
        for position, c in enumerate(components))
    return StatusConfig(page=top.values["page"], checks=checks, components=built, source=r.file)


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
