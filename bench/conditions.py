"""(f) Conditions on hostile 1 MiB bodies: pat() in every shape, and any()/JSON paths.

The value is one whole `Condition.evaluate` (what a check round runs per condition), best of a
few runs. The baseline is the previous pat(): a regex with `.*` between the literals, timed in
a child process that SIGALRM ends after REGEX_BUDGET seconds, because `re` holds the GIL and
cannot be interrupted from a thread. Its cost grows as about n^k for k middle literals, so on the
worst shapes it does not finish at all; ">2000 ms" means it was still running when killed.

`python -m bench.conditions` prints this table alone.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

from .table import Row, ms, render

MIB = 1 << 20
TARGET_S = 0.050                 # the bound per 1 MiB case
REGEX_BUDGET = 2.0               # seconds the baseline gets per case
REPEAT = 5

# Shapes: (label, glob, body recipe). Bodies are recipes so the child process can rebuild them.
BODIES = {
    "a": lambda: "a" * MIB,
    "status": lambda: '"status":"up",' * (MIB // 14),
}
SHAPES = [
    ("prefix only, near miss", "a" * 2000 + "b*", "a"),
    ("suffix only, near miss", "*b" + "a" * 2000, "a"),
    ("1 inner literal (51 chars), near miss", "*" + "a" * 50 + "b*", "a"),
    ("1 inner literal (5001 chars), near miss", "*" + "a" * 5000 + "b*", "a"),
    ("2 inner literals, the reported case", '*"status":"up"*"region":"eu"*', "status"),
    ("2 inner literals, both found", '*"status":"up"*"status":"up"*', "status"),
    ("3 inner literals, last missing", "*a*a*b*", "a"),
    ("21 inner literals, last missing", "*" + "a*" * 20 + "b*", "a"),
    ("30 inner literals, all found", "*" + "*".join("a" * 30) + "*", "a"),
    ("prefix, literal, suffix", "a*" + "a" * 100 + "*a", "a"),
    ("500 stars", "*" * 500, "a"),
    ("no star, 1 MiB exact", None, "a"),
]
OTHERS = [
    ("any() of 50 values, 1 MiB numeral", "[BODY] == any({})".format(
        ", ".join(map(str, range(50)))), lambda: "1" * MIB + "x"),
    ("JSON path, 60k objects, any() of 10", "[BODY].a == any(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)",
     lambda: json.dumps({"a": [{"x": i} for i in range(60000)]})),
    ("JSON path, nested past the stack", "[BODY].a.b == 1",
     lambda: '{"a":' * 100000 + "1" + "}" * 100000),
    ("len() of a 150k-item list", "len([BODY].a) > 5",
     lambda: json.dumps({"a": list(range(150000))})),
]

_CHILD = """
import re, signal, sys, time
sys.path.insert(0, {root!r})
from bench.conditions import SHAPES, BODIES, _glob
label, glob, body = SHAPES[{index}]
text = BODIES[body]()
glob = _glob(glob, text)
pattern = re.compile(".*".join(map(re.escape, glob.split("*"))), re.S)
signal.setitimer(signal.ITIMER_REAL, {budget})   # SIGALRM's default action ends the process
started = time.perf_counter()
pattern.fullmatch(text)
print(time.perf_counter() - started)
"""


def _glob(glob, body: str) -> str:
    return body if glob is None else glob


def _best(fn) -> float:
    from chalicelib.core.conditions import _load_json
    best = float("inf")
    for _ in range(REPEAT):
        _load_json.cache_clear()         # a round parses each new body once: count that too
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _regex_seconds(index: int):
    """The old pat() on shape `index`, in a child process; None when it overran the budget."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        out = subprocess.run([sys.executable, "-c", _CHILD.format(root=root, index=index,
                                                                   budget=REGEX_BUDGET)],
                             capture_output=True, text=True, timeout=REGEX_BUDGET + 5)
    except subprocess.TimeoutExpired:
        return None
    try:
        seconds = float(out.stdout.strip())
    except ValueError:
        return None
    return seconds if seconds <= REGEX_BUDGET else None


def run() -> tuple[list[Row], dict]:
    from chalicelib.core.conditions import Observation, parse

    rows: list[Row] = []
    facts: dict = {"worst_s": 0.0}
    for index, (label, glob, body_name) in enumerate(SHAPES):
        body = BODIES[body_name]()
        condition = parse(f"[BODY] == pat({_glob(glob, body)})")
        obs = Observation(body=body)
        seconds = _best(lambda: condition.evaluate(obs))
        base = _regex_seconds(index)
        facts["worst_s"] = max(facts["worst_s"], seconds)
        rows.append(Row(f"pat(): {label}", ms_fine(seconds),
                        baseline=(ms_fine(base) if base is not None
                                  else f">{REGEX_BUDGET * 1e3:.0f} ms"),
                        ratio=_ratio(seconds, base),
                        target=f"< {TARGET_S * 1e3:.0f} ms", ok=seconds < TARGET_S))
    # The other conditions cannot beat reading the body once, so that is their baseline: a
    # linear evaluation stays within a small multiple of one json.loads of the same body (one
    # parse, at most one serialisation of the value on the path, and slack for noise).
    for label, text, make in OTHERS:
        body = make()
        condition, obs = parse(text), Observation(body=body)
        seconds = _best(lambda: condition.evaluate(obs))
        base = _best(lambda: _parse_once(body))
        rows.append(Row(label, ms_fine(seconds), baseline=ms_fine(base) + " (1 parse)",
                        ratio=f"{seconds / base:.2f}x", target="<= 4x one parse",
                        ok=seconds <= 4 * base or seconds < 0.001))
    return rows, facts


def _parse_once(body: str) -> None:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        pass


def _ratio(value: float, base) -> str:
    if base is None:                     # the baseline never finished
        return f"<{value / REGEX_BUDGET:.1e}x"
    return f"{value / base:.2f}x" if base else "n/a"


def ms_fine(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} us"
    return f"{seconds * 1e3:.2f} ms" if seconds < 0.1 else ms(seconds)


TITLE = (f"(f) Conditions on a 1 MiB body: new pat() vs the old regex (baseline, killed after "
         f"{REGEX_BUDGET:g} s)")

if __name__ == "__main__":
    table, _ = run()
    print(render(TITLE, table))
