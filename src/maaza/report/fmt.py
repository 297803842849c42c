"""How the report prints a number in TeX: one function per kind of number, `\\notrun{}` for a
result that does not exist (never a guess); `Number`, one macro of numbers.tex. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from maaza.metrics import METRICS

NOT_RUN = r"\notrun{}"  # defined in numbers.tex; the paper's word for a missing result
DAGGER = r"$^\dagger$"  # the original paper's estimated values


@dataclass(frozen=True)
class Number:
    """One macro of numbers.tex."""

    name: str  # TeX macro name: letters only
    value: str  # TeX text
    source: str  # "file: key" or "derived: how"


def missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A fraction in [0, 1] as a TeX percentage: 0.9123 -> '91.2\\%'."""
    return NOT_RUN if missing(x) else f"{100 * x:.{digits}f}\\%"


def fmt_f1(x: float | None) -> str:
    return NOT_RUN if missing(x) else f"{x:.3f}"


def fmt_num(x: float | None, digits: int = 1) -> str:
    return NOT_RUN if missing(x) else f"{x:,.{digits}f}".replace(",", "{,}")


def fmt_int(x: float | None) -> str:
    return NOT_RUN if missing(x) else f"{int(round(x)):,}".replace(",", "{,}")


def fmt_params(x: float | None) -> str:
    """Parameter count in millions: 134515008 -> '134.5M'."""
    return NOT_RUN if missing(x) else f"{x / 1e6:.1f}M"


def fmt_duration(seconds: float | None) -> str:
    """'48 s', '20.6 min' or '2.3 h': the unit a reader would use."""
    if missing(seconds):
        return NOT_RUN
    if seconds < 120:
        return f"{seconds:.0f}\\,s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}\\,min"
    return f"{seconds / 3600:.1f}\\,h"


def fmt_seconds(seconds: float | None, digits: int = 2) -> str:
    """A latency kept in seconds whatever its size: 4.634 -> '4.63\\,s'."""
    return NOT_RUN if missing(seconds) else f"{seconds:.{digits}f}\\,s"


def fmt_metric(name: str, x: float | None) -> str:
    """A registry metric (maaza.metrics.METRICS) in its unit: rates as percentages, mean scores
    with three decimals, seconds, tokens per second."""
    metric = METRICS[name]
    if metric.unit == "seconds":
        return fmt_seconds(x)
    if metric.unit == "tokens/s":
        return fmt_num(x, 1)
    return fmt_pct(x) if metric.aggregate == "rate" else fmt_f1(x)


def fmt_ci(row: Any) -> str:
    """An eval row's 95% Wilson interval of JSONExact, in percent: '[9.4, 20.2]'."""
    return f"[{100 * row['json_exact_lo']:.1f}, {100 * row['json_exact_hi']:.1f}]"


def fmt_times(x: float | None) -> str:
    """A ratio: 13.03 -> '13.0$\\times$'."""
    return NOT_RUN if missing(x) else f"{x:.1f}$\\times$"


def fmt_ratio(num: float | None, den: float | None) -> str:
    if missing(num) or missing(den):
        return NOT_RUN
    return r"$\infty$" if den == 0 else fmt_times(num / den)


def fmt_signed_pct(x: float | None, digits: int = 1) -> str:
    """A relative change as a signed percentage: 0.1118 -> '+11.2\\%'."""
    return NOT_RUN if missing(x) else f"{100 * x:+.{digits}f}\\%"


def fmt_sig(x: float | None, sig: int = 3) -> str:
    """`sig` significant digits, no exponent (rates spanning decades): 0.0333 -> '0.0333',
    0.434 -> '0.434', 13.03 -> '13.0'."""
    if missing(x):
        return NOT_RUN
    digits = sig - 1 - math.floor(math.log10(abs(x))) if x else sig - 1
    return fmt_num(x, max(0, digits))


def fmt_points(a: float | None, b: float | None) -> str:
    """Difference a - b of two fractions, in signed percentage points."""
    return NOT_RUN if missing(a) or missing(b) else f"{100 * (a - b):+.1f}\\,pp"


def fmt_gap(a: float | None, b: float | None) -> str:
    """'12.3\\,pp below' / 'above' / 'equal to': a compared with b, in words the text can use."""
    if missing(a) or missing(b):
        return NOT_RUN
    diff = 100 * (a - b)
    if abs(diff) < 0.05:
        return "equal to"
    return f"{abs(diff):.1f}\\,pp {'above' if diff > 0 else 'below'}"


def fmt_paper_pct(value: float | None, estimated: bool = False, absent: str = "--") -> str:
    """A percentage as the original paper printed it (already 0-100), daggered if estimated."""
    return absent if value is None else f"{value:.1f}\\%" + (DAGGER if estimated else "")


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip


def tex_escape(text: Any) -> str:
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in str(text))


def tt(name: Any) -> str:
    """A run/model/schema name in typewriter type."""
    return r"\texttt{" + tex_escape(name) + "}"


def tt_or_not_run(x: Any) -> str:
    return NOT_RUN if missing(x) else tt(x)
