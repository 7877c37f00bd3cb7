"""pat() and the other conditions cost linear work on whatever a probed server sends back.

A body is up to 1 MiB (probes/http.py MAX_BODY_BYTES) and a stranger controls it. No wall-clock
assertions here: the adversarial cases run under a generous pytest timeout (the old `.*` regex
took 29 s on one of them, and far longer on the others), and the any() cases count how many
times the large value is converted. bench/conditions.py measures the milliseconds.
"""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.core import conditions
from chalicelib.core.conditions import Glob, Observation, parse

MIB = 1 << 20


def regex_glob(glob: str) -> re.Pattern:
    """The previous implementation, kept here as the reference semantics."""
    return re.compile(".*".join(map(re.escape, glob.split("*"))), re.S)


# --- same answers as the regex ---------------------------------------------------------------

@settings(max_examples=3000, deadline=None)
@given(glob=st.text(alphabet="ab*\n", max_size=10), text=st.text(alphabet="ab\n", max_size=12))
@example(glob="ab*ba", text="aba")          # prefix and suffix may not overlap
@example(glob="a*a", text="a")
@example(glob="*", text="")
@example(glob="**", text="")
@example(glob="", text="")
@example(glob="", text="a")
@example(glob="a**b", text="ab")
@example(glob="*a*a*", text="a")
@example(glob="*ab*ab*", text="abab")
@example(glob="*aa*a", text="aaa")
def test_glob_agrees_with_the_regex(glob, text):
    assert Glob.parse(glob).matches(text) == (regex_glob(glob).fullmatch(text) is not None)


@settings(max_examples=500, deadline=None)
@given(glob=st.text(alphabet="ab*", min_size=1, max_size=8),
       text=st.text(alphabet="ab", max_size=10), negate=st.booleans())
def test_pat_condition_agrees_with_the_regex(glob, text, negate):
    op = "!=" if negate else "=="
    expected = (regex_glob(glob).fullmatch(text) is not None) != negate
    assert parse(f"[BODY] {op} pat({glob})").evaluate(Observation(body=text)).success == expected


def test_only_star_is_special():
    assert Glob.parse("a?c").matches("a?c") and not Glob.parse("a?c").matches("abc")
    assert Glob.parse("[ab]*").matches("[ab] x") and not Glob.parse("[ab]*").matches("a")
    assert Glob.parse("a.c").matches("a.c") and not Glob.parse("a.c").matches("abc")
    assert Glob.parse(r"\*").matches("\\anything")        # no escapes: backslash is literal


# --- adversarial 1 MiB bodies ----------------------------------------------------------------

A = "a" * MIB
STATUS = '"status":"up",' * (MIB // 14)
SHAPES = [
    # (glob, body, expected)
    ("a" * 2000 + "b*", A, False),                          # prefix-only, near miss at the end
    ("*b" + "a" * 2000, A, False),                          # suffix-only, near miss
    ("*" + "a" * 50 + "b*", A, False),                      # one inner literal, nearly everywhere
    ("*" + "a" * 5000 + "b*", A, False),                    # a long near-miss literal
    ("*a*b*", A, False),
    ("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b*", A, False),   # many inner literals, last missing
    ('*"status":"up"*"region":"eu"*', STATUS, False),       # the reported case (29 s before)
    ('*"status":"up"*"status":"up"*', STATUS, True),
    ("*" + "*".join("a" * 30) + "*", A, True),              # 30 inner literals, all found
    ("a*" + "a" * 100 + "*a", A, True),
    ("*" * 500, A, True),                                   # a run of stars
    (A, A, True),                                           # no star: exact comparison
    (A[:-1] + "b", A, False),
    ("*\n*", A, False),
]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("glob,body,expected", SHAPES,
                         ids=[f"shape{i}" for i in range(len(SHAPES))])
def test_every_pat_shape_on_a_mib_finishes(glob, body, expected):
    assert Glob.parse(glob).matches(body) is expected
    # And through the whole condition, as a check round evaluates it.
    condition = parse(f"[BODY] == pat({glob})")
    assert condition.evaluate(Observation(body=body)).success is expected


# --- the other conditions --------------------------------------------------------------------

class _Counting:
    """Wraps conditions._NUMBER and counts how often it looks at a large text."""

    def __init__(self, real):
        self.real, self.large = real, 0

    def fullmatch(self, text, *args):
        if len(text) > 1000:
            self.large += 1
        return self.real.fullmatch(text, *args)


def test_any_reads_a_large_body_once_not_once_per_value(monkeypatch):
    counting = _Counting(conditions._NUMBER)
    monkeypatch.setattr(conditions, "_NUMBER", counting)
    dumps = []
    real_as_text = conditions._as_text
    monkeypatch.setattr(conditions, "_as_text",
                        lambda v: dumps.append(1) or real_as_text(v) if not isinstance(v, str)
                        else real_as_text(v))
    values = ", ".join(str(n) for n in range(50))
    # A 1 MiB numeral-looking body: longer than any number worth comparing, never matched.
    result = parse(f"[BODY] == any({values})").evaluate(Observation(body="1" * MIB + "x"))
    assert result.success is False
    assert counting.large == 0
    # A large JSON value on a path, compared as text with 50 values: serialised once; the
    # clipped text shown in the result stops after 40 characters.
    doc = json.dumps({"a": [{"x": i} for i in range(20000)]})
    result = parse(f"[BODY].a == any({values})").evaluate(Observation(body=doc))
    assert result.success is False and len(dumps) == 1
    assert result.resolved.startswith('[BODY].a ([{"x":0},{"x":1},{"x":2},{"x":3},{"x"...) ')


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (st.lists(inner, max_size=4)
                   | st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=json_values, limit=st.integers(0, 60))
def test_clipped_text_is_the_head_of_the_full_text(value, limit):
    assert conditions._text_head(value, limit) == conditions._as_text(value)[:limit]


@pytest.mark.timeout(20)
@pytest.mark.parametrize("text,body", [
    ("[BODY] == any(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)", "1" * MIB),
    ("[BODY] == any(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)", "1e" + "1" * MIB + "x"),
    ("[BODY] > 5", " " * MIB + "7"),
    ("[BODY][0] == 1", "[" * MIB),                              # nesting past the stack
    ("[BODY].a.b == 1", '{"a":' * 100000 + "1" + "}" * 100000),
    ("[BODY].a == any(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)",
     json.dumps({"a": [{"x": i} for i in range(60000)]})),
    ("len([BODY].a) > 5", json.dumps({"a": list(range(150000))})),
    ("len([BODY]) == 1", A),
    ("[BODY] == " + "9" * 5000, "9" * 5000),                     # a huge integer in JSON
    ("[BODY].n == 1", '{"n": ' + "9" * 100000 + "}"),
    ("[HEADER].X == pat(*a*b*)", ""),
])
def test_other_conditions_on_hostile_bodies_finish(text, body):
    obs = Observation(body=body, headers={"X": A})
    result = parse(text).evaluate(obs)
    assert isinstance(result.success, bool)
    assert len(result.resolved) < len(text) + 100               # the body is never echoed


def test_a_number_is_still_a_number_when_padded_or_precise():
    assert parse("[BODY] == 7").evaluate(Observation(body=" 7 \n")).success
    assert parse("[BODY] < 1").evaluate(Observation(body="0." + "0" * 300 + "1")).success
    # Past the cap the text is compared as text, never as a number.
    long_zero = "0." + "0" * 1200
    assert not parse("[BODY] == 0").evaluate(Observation(body=long_zero)).success
    assert parse(f"[BODY] == {long_zero}").evaluate(Observation(body=long_zero)).success
