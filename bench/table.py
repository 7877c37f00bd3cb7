"""Plain-text aligned tables and the formatting of numbers in them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

COLUMNS = ("metric", "value", "baseline", "ratio", "target", "result")


@dataclass
class Row:
    metric: str
    value: str
    baseline: str = "-"
    ratio: str = "-"
    target: str = "-"
    ok: Optional[bool] = None          # None: informational, not part of the verdict

    @property
    def result(self) -> str:
        return "info" if self.ok is None else ("PASS" if self.ok else "FAIL")


def render(title: str, rows: list[Row]) -> str:
    cells = [COLUMNS] + [(r.metric, r.value, r.baseline, r.ratio, r.target, r.result) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    right = {1, 2, 3}               # numbers right-aligned

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    sep = "  ".join("-" * w for w in widths)
    out = [title, "=" * len(title), line(cells[0]), sep]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.3f} s"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "n/a"
