"""Gatus-style health-check conditions: "[STATUS] == 200", "[BODY].status == ok".

Parsing happens once, when a status file is loaded, so a mistake surfaces early as a
ConditionError naming the problem. Evaluation only applies the parsed pieces to an Observation
and never raises: one odd response must not break a whole check round.

The resolved text ("[STATUS] (503) == 200") is shown on the public status page, so it never
contains the response body, and any other observed text is clipped.
"""
from __future__ import annotations

import functools
import json
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Optional

from chalicelib.core.model import ConditionResult

from .errors import OutpostError


class ConditionError(OutpostError, ValueError):
    """A condition that cannot be parsed; the message says what is wrong."""


@dataclass(frozen=True)
class Observation:
    """What one probe saw. None means the probe never got that far (e.g. connection refused)."""
    status_code: Optional[int] = None
    response_time_ms: Optional[int] = None
    body: Optional[str] = None
    headers: Mapping[str, str] = field(default_factory=dict)   # names are case-insensitive
    connected: bool = False
    certificate_expires_in: Optional[float] = None             # seconds; None without TLS
    dns_rcode: Optional[str] = None                            # "NOERROR", "NXDOMAIN", ...


# Two-character operators come first so that "<=" is never read as "<" followed by "=".
_OPS = {"==": operator.eq, "!=": operator.ne, "<=": operator.le, ">=": operator.ge,
        "<": operator.lt, ">": operator.gt}
_PLACEHOLDERS = ("STATUS", "RESPONSE_TIME", "BODY", "HEADER", "CONNECTED", "CERTIFICATE_EXPIRATION",
                 "DNS_RCODE")
# Which placeholders each check kind can observe; the status file loader rejects the rest.
APPLIES_TO = {
    "http": frozenset(_PLACEHOLDERS) - {"DNS_RCODE"},
    "tcp": frozenset({"CONNECTED", "RESPONSE_TIME"}),
    "dns": frozenset({"DNS_RCODE", "BODY", "RESPONSE_TIME", "CONNECTED"}),
    "tls": frozenset({"CONNECTED", "RESPONSE_TIME", "CERTIFICATE_EXPIRATION"}),
}
# RFC 1035/2136 response codes by their usual names (dnspython's, dig's).
DNS_RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
              "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([a-zA-Z]*)")
_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_FUNCTION = re.compile(r"(\w+)\((.*)\)", re.S)
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&*+.^_`|~-]+")
_CLIP = 40
_MAX_NUMBER_TEXT = 1000       # characters; longer text never reads as a number
_NA = object()   # "nothing observed"; distinct from a JSON null, which is a real value


def parse_duration(text: str) -> float:
    """Go-style duration, as Gatus configs write them ("300ms", "1h30m", "1.5s", "7d") -> seconds."""
    s = text.strip() if isinstance(text, str) else ""
    if not s:
        raise ConditionError("empty duration")
    if s.startswith("-"):
        raise ConditionError(f"negative duration {text!r}")
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            raise ConditionError(f"bad duration {text!r}: expected a number and a unit, like 5s or 168h")
        number, unit = m.groups()
        if unit not in _UNITS:
            problem = f"unknown unit {unit!r}" if unit else "missing unit"
            raise ConditionError(f"bad duration {text!r}: {problem} (use ms, s, m, h or d)")
        total += float(number) * _UNITS[unit]
        pos = m.end()
    return total


def format_duration(seconds: float) -> str:
    """Seconds -> "71h", "1h30m", "45s", "250ms": the two largest units are precise enough."""
    sign, s = ("-" if seconds < 0 else ""), abs(seconds)
    if s < 1:
        return f"{sign}{round(s * 1000)}ms" if s else "0s"
    h, rest = divmod(int(s), 3600)
    m, sec = divmod(rest, 60)
    parts = ((h, "h"), (m, "m")) if h else ((m, "m"), (sec, "s")) if m else ((sec, "s"),)
    return sign + "".join(f"{n}{unit}" for n, unit in parts if n)


@dataclass(frozen=True)
class _Left:
    text: str                     # as written, echoed in the resolved text
    name: str                     # placeholder without brackets: "BODY"
    path: tuple = ()              # JSON path into the body: ("items", 0, "state")
    header: str = ""
    length: bool = False          # wrapped in len()


@dataclass(frozen=True)
class Glob:
    """pat()'s glob: only `*` is special (any run of characters, newlines included) and the
    whole text must match. Bodies are full of [ ] ? that fnmatch would treat as syntax.

    Matched without regex backtracking: the first piece is a prefix, the last a suffix, and each
    piece between is found left to right with str.find from a moving cursor. Taking the leftmost
    occurrence of each middle piece is always safe (it leaves the most room for the rest), so
    one pass decides, with work linear in the text for a given pattern. A `.*`-joined regex was
    O(n^k) for k middle pieces and held the GIL, so the hung-check watchdog could not run.
    """
    pieces: tuple

    @classmethod
    def parse(cls, glob: str) -> "Glob":
        return cls(tuple(glob.split("*")))

    def matches(self, text: str) -> bool:
        pieces = self.pieces
        if len(pieces) == 1:                       # no star: the whole text, exactly
            return text == pieces[0]
        first, *middle, last = pieces
        # The suffix may not overlap the prefix: "ab*ba" does not match "aba".
        if len(text) < len(first) + len(last) or not text.startswith(first) \
                or not text.endswith(last):
            return False
        cursor, end = len(first), len(text) - len(last)
        for piece in middle:
            if not piece:                          # "**": an empty piece matches anywhere
                continue
            at = text.find(piece, cursor, end)
            if at < 0:
                return False
            cursor = at + len(piece)
        return True


@dataclass(frozen=True)
class _Right:
    text: str                               # as written
    values: tuple = ()                      # literal or any() values, in the left side's units
    pattern: Optional[Glob] = None          # pat()


@dataclass(frozen=True)
class Condition:
    """One parsed condition. Parsing lives in __post_init__ so that even Condition(text)
    built by hand is validated, and evaluate() only applies the parsed pieces."""
    text: str
    _left: _Left = field(init=False, repr=False, compare=False)
    _op: str = field(init=False, repr=False, compare=False)
    _right: _Right = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ConditionError(f"condition must be text, not {type(self.text).__name__}")
        if not self.text.strip():
            raise ConditionError("empty condition")
        try:
            parts = _parse(self.text)
        except ConditionError as e:
            raise ConditionError(f"{e} in condition {self.text!r}") from None
        for name, value in zip(("_left", "_op", "_right"), parts):
            object.__setattr__(self, name, value)

    @property
    def placeholder(self) -> str:
        """The placeholder on the left, without brackets: "STATUS", "HEADER", ..."""
        return self._left.name

    def evaluate(self, obs: Observation) -> ConditionResult:
        value = _observe(self._left, obs)
        success = value is not _NA and _matches(value, self._op, self._right)
        resolved = f"{self._left.text} ({_show(self._left, value)}) {self._op} {self._right.text}"
        return ConditionResult(condition=self.text, resolved=resolved, success=success)


def parse(text: str) -> Condition:
    return Condition(text)


# --- parsing -------------------------------------------------------------------------------

def _parse(text: str) -> tuple[_Left, str, _Right]:
    found = _operators(text)
    if not found:
        raise ConditionError("missing operator (one of == != < <= > >=)")
    if len(found) > 1:
        raise ConditionError("more than one operator (quote a value that contains one)")
    (at, op), = found
    left_text, right_text = text[:at].strip(), text[at + len(op):].strip()
    if not left_text:
        raise ConditionError("missing left side (a placeholder like [STATUS])")
    if not right_text:
        raise ConditionError("missing right side (the value to compare with)")
    left = _parse_left(left_text)
    if left.name == "DNS_RCODE" and op not in ("==", "!="):
        raise ConditionError("[DNS_RCODE] only compares with == or !=")
    return left, op, _parse_right(right_text, left, op)


def _operators(text: str) -> list[tuple[int, str]]:
    found, end = [], 0
    for i, _ in _outside(text):
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op and i >= end:
            found.append((i, op))
            end = i + len(op)
    return found


def _outside(text: str) -> Iterator[tuple[int, str]]:
    """Characters outside brackets, parentheses and quotes, so that pat(*a==b*) and
    any('a, b', c) keep their operators and commas to themselves."""
    stack: list[str] = []
    quote = ""
    for i, c in enumerate(text):
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c in "[(":
            stack.append(c)
        elif c in "])":
            if not stack or stack.pop() != "[("["])".index(c)]:
                raise ConditionError(f"unbalanced {c!r}")
        elif not stack:
            yield i, c
    if quote:
        raise ConditionError(f"unbalanced quote {quote}")
    if stack:
        raise ConditionError(f"unbalanced {stack[-1]!r}")


def _parse_left(text: str) -> _Left:
    wrapped = re.fullmatch(r"len\((.*)\)", text, re.S)
    m = re.fullmatch(r"\[([^\[\]]*)\](.*)", wrapped.group(1).strip() if wrapped else text, re.S)
    if not m:
        raise ConditionError(f"left side must be a placeholder like [STATUS], not {text!r}")
    name, rest = m.groups()
    if name not in _PLACEHOLDERS:
        known = " ".join(f"[{p}]" for p in _PLACEHOLDERS)
        raise ConditionError(f"unknown placeholder [{name}] (known: {known})")
    length = wrapped is not None
    if length and name not in ("BODY", "HEADER"):
        raise ConditionError(f"len() only works on [BODY] or [HEADER], not [{name}]")
    if name == "BODY":
        return _Left(text, name, path=_parse_path(rest), length=length)
    if name == "HEADER":
        if not rest.startswith(".") or not _HEADER_NAME.fullmatch(rest[1:]):
            raise ConditionError("[HEADER] needs a header name, like [HEADER].Content-Type")
        return _Left(text, name, header=rest[1:].lower(), length=length)
    if rest:
        raise ConditionError(f"unexpected {rest!r} after [{name}]")
    return _Left(text, name)


def _parse_path(rest: str) -> tuple:
    path, pos = [], 0
    while pos < len(rest):
        m = _PATH_PART.match(rest, pos)
        if not m:
            raise ConditionError(f"bad JSON path {rest!r}: expected .key or [index] at {rest[pos:]!r}")
        key, index = m.groups()
        path.append(key if key is not None else int(index))
        pos = m.end()
    return tuple(path)


def _parse_right(text: str, left: _Left, op: str) -> _Right:
    call = _FUNCTION.fullmatch(text)
    if not call:
        if re.match(r"\w+\(", text):
            raise ConditionError(f"unexpected text after the closing parenthesis in {text!r}")
        return _Right(text, values=(_literal(left, _unquote(text)),))
    name, arg = call.group(1), call.group(2).strip()
    if name not in ("pat", "any"):
        raise ConditionError(f"unknown function {name}() (use pat() or any())")
    if op not in ("==", "!="):
        raise ConditionError(f"{name}() only works with == or !=")
    if not arg:
        raise ConditionError(f"{name}() needs a value")
    if name == "pat":
        return _Right(text, pattern=Glob.parse(_unquote(arg)))
    items = _split_args(arg)
    if "" in items:
        raise ConditionError("empty value in any()")
    return _Right(text, values=tuple(_literal(left, _unquote(item)) for item in items))


def _split_args(arg: str) -> list[str]:
    commas = [i for i, c in _outside(arg) if c == ","]
    return [arg[a + 1:b].strip() for a, b in zip([-1] + commas, commas + [len(arg)])]


def _unquote(text: str) -> str:
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end != len(text) - 1:
            raise ConditionError(f"unexpected text after quoted value {text[:end + 1]}")
        return text[1:-1]
    return text


def _literal(left: _Left, value: str) -> Any:
    """A right-hand value in the left side's terms, so evaluation is a plain comparison."""
    kind = "LEN" if left.length else left.name
    if kind in ("STATUS", "LEN", "RESPONSE_TIME", "CERTIFICATE_EXPIRATION"):
        number = _as_number(value)
        if number is not None:
            return number
        if kind in ("STATUS", "LEN"):
            raise ConditionError(f"{left.text} compares with a number, not {value!r}")
        return parse_duration(value) * (1000 if kind == "RESPONSE_TIME" else 1)
    if kind == "CONNECTED":
        if value.lower() not in ("true", "false"):
            raise ConditionError(f"[CONNECTED] compares with true or false, not {value!r}")
        return value.lower()
    if kind == "DNS_RCODE":
        if value.upper() not in DNS_RCODES:
            raise ConditionError(f"[DNS_RCODE] compares with one of {', '.join(DNS_RCODES)}, "
                                 f"not {value!r}")
        return value.upper()
    return value


# --- evaluation ----------------------------------------------------------------------------

def _observe(left: _Left, obs: Observation) -> Any:
    if left.name == "BODY":
        value = _json_path(obs.body, left.path) if left.path else obs.body
    elif left.name == "HEADER":
        value = _header(obs.headers, left.header)
    else:
        value = {"STATUS": obs.status_code, "RESPONSE_TIME": obs.response_time_ms,
                 "CONNECTED": obs.connected, "DNS_RCODE": obs.dns_rcode,
                 "CERTIFICATE_EXPIRATION": obs.certificate_expires_in}[left.name]
    if (value is None and not left.path) or (isinstance(value, float) and not math.isfinite(value)):
        return _NA
    if left.length:
        return len(value) if isinstance(value, (str, list, dict)) else _NA
    return value


def _header(headers: Optional[Mapping[str, str]], wanted: str) -> Any:
    for name, value in (headers or {}).items():
        if str(name).lower() == wanted:
            return str(value)
    return _NA


@functools.lru_cache(maxsize=4)   # several conditions of one monitor read the same body
def _load_json(body: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NA


def _json_path(body: Optional[str], path: tuple) -> Any:
    value = _NA if body is None else _load_json(body)
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return _NA
    return value


def _matches(value: Any, op: str, right: _Right) -> bool:
    if right.pattern is not None:
        hit = right.pattern.matches(_as_text(value))
    elif op in ("==", "!="):
        observed = _Observed(value)
        hit = any(observed.compare("==", v) for v in right.values)
    else:
        return _Observed(value).compare(op, right.values[0])
    return hit if op == "==" else not hit


class _Observed:
    """The observed value read as a number and as text at most once each: it may be a 1 MiB
    body or a large JSON value, and any() compares it with every listed value."""

    def __init__(self, value: Any):
        self.value = value
        self.number = _as_number(value)
        self._text: Optional[str] = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _as_text(self.value)
        return self._text

    def compare(self, op: str, right: Any) -> bool:
        b = _as_number(right)
        if self.number is not None and b is not None:
            return _OPS[op](self.number, b)
        # Ordering text ("ok" < "zz") would pass or fail silently for the wrong reason.
        return op == "==" and self.text == _as_text(right)


def _as_number(value: Any) -> Optional[float]:
    if isinstance(value, bool):             # JSON true is not 1
        return None
    if isinstance(value, str):
        value = value.strip()
        # No number worth comparing is this long, and the pattern costs ~80 ms per MiB.
        if len(value) > _MAX_NUMBER_TEXT or not _NUMBER.fullmatch(value):
            return None
    if not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except OverflowError:                   # a 400-digit JSON integer
        return None
    return number if math.isfinite(number) else None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"))   # true/false/null, as JSON wrote them
    except (ValueError, RecursionError):
        return "(unprintable)"


def _show(left: _Left, value: Any) -> str:
    if value is _NA:
        return "n/a"
    if left.length:
        return str(value)
    if left.name == "BODY" and not left.path:
        return f"{len(value.encode('utf-8', 'surrogatepass'))} bytes"   # never the body itself
    if left.name == "CERTIFICATE_EXPIRATION":
        return format_duration(value)
    text = "".join(c if c.isprintable() else " " for c in _text_head(value, _CLIP + 1))
    return text if len(text) <= _CLIP else text[:_CLIP - 3] + "..."


def _text_head(value: Any, limit: int) -> str:
    """_as_text(value)[:limit] without serialising all of a large JSON value: the pure-Python
    encoder yields pieces lazily, so this stops after about `limit` characters."""
    if isinstance(value, str):
        return value[:limit]
    head, size = [], 0
    try:
        for piece in json.JSONEncoder(separators=(",", ":")).iterencode(value):
            head.append(piece)
            size += len(piece)
            if size >= limit:
                break
    except (ValueError, RecursionError):
        return "(unprintable)"[:limit]
    return "".join(head)[:limit]
