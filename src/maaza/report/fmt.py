"""How the report writes TeX: a function per kind of number (`pct(0.9123)` -> '91.2\\%'), `\\notrun{}`
for a missing result (never a guess), and `table`, the booktabs layout every table shares. Pure."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from string import Template
from typing import Any

import yaml

from maaza.metrics import METRICS

NOT_RUN = r"\notrun{}"  # defined in numbers.tex; the paper's word for a missing result
DAGGER = r"$^\dagger$"  # the original paper's estimated values
MIN_BASE = 5  # a factor is given only over a baseline with at least this many examples right


@dataclass(frozen=True)
class Number:
    name: str  # TeX macro name: letters only
    value: str  # TeX text
    source: str  # "file: key" or "derived: how"


def missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float | None, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percentage."""
    return NOT_RUN if missing(x) else f"{100 * x:.{digits}f}\\%"


def f1(x: float | None) -> str:
    return NOT_RUN if missing(x) else f"{x:.3f}"


def num(x: float | None, digits: int = 1) -> str:
    return NOT_RUN if missing(x) else f"{x:,.{digits}f}".replace(",", "{,}")


def integer(x: float | None) -> str:
    return NOT_RUN if missing(x) else f"{int(round(x)):,}".replace(",", "{,}")


def params(x: float | None) -> str:
    """A parameter count in millions: '134.5M'."""
    return NOT_RUN if missing(x) else f"{x / 1e6:.1f}M"


def duration(s: float | None) -> str:
    """'48 s', '20.6 min' or '2.3 h': the unit a reader would use."""
    if missing(s):
        return NOT_RUN
    if s < 120:
        return f"{s:.0f}\\,s"
    return f"{s / 60:.1f}\\,min" if s < 7200 else f"{s / 3600:.1f}\\,h"


def seconds(s: float | None, digits: int = 2) -> str:
    """A latency, kept in seconds whatever its size."""
    return NOT_RUN if missing(s) else f"{s:.{digits}f}\\,s"


def metric(name: str, x: float | None) -> str:
    """A registry metric (maaza.metrics.METRICS) in its unit: rates as percentages, mean scores
    with three decimals."""
    unit = METRICS[name].unit
    if unit == "seconds":
        return seconds(x)
    if unit == "tokens/s":
        return num(x, 1)
    return pct(x) if METRICS[name].aggregate == "rate" else f1(x)


def interval(lo: float, hi: float) -> str:
    """Two fractions as an interval in percent: '[9.4, 20.2]'."""
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]"


def ci(row: Any) -> str:
    """An eval row's 95% Wilson interval of JSONExact."""
    return interval(row["json_exact_lo"], row["json_exact_hi"])


def times(x: float | Decimal | None) -> str:
    return NOT_RUN if missing(x) else f"{x:.1f}$\\times$"


def factor(a: float | Fraction, b: float | Fraction) -> Decimal:
    """a / b computed exactly (pass counts, or rates as Fraction(hits, n), never rounded rates)
    and rounded half up to one decimal: 38 of 158 over 8 of 158 is 4.8, not 4.7."""
    q = Fraction(a) / Fraction(b)
    return (Decimal(int(q.numerator)) / int(q.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def ratio(a: float | None, b: float | None) -> str:
    if missing(a) or missing(b):
        return NOT_RUN
    return r"$\infty$" if b == 0 else times(factor(a, b))


def hits(row: Any) -> int:
    """Examples an evaluation got right: its JSONExact times n (metrics files round the rate)."""
    return round(row["json_exact"] * row["n"])


def gain_factor(row: Any, base: Any) -> Decimal | None:
    """JSONExact of `row` over `base` (eval rows: json_exact, n) from counts; None when the base
    got fewer than MIN_BASE examples right (a factor over 1 of 158 says little)."""
    k = hits(base)
    if k < MIN_BASE:
        return None
    return factor(Fraction(hits(row), int(row["n"])), Fraction(k, int(base["n"])))


def gain(row: Any, base: Any) -> str:
    """gain_factor in words: 'a factor of 4.8x' or 'no factor (3 of 158 right at the baseline)'."""
    if any(r is None or missing(r.get("json_exact")) for r in (row, base)):
        return NOT_RUN
    x = gain_factor(row, base)
    if x is None:
        return f"no factor ({hits(base)} of {int(base['n'])} right at the baseline)"
    return f"a factor of {times(x)}"


def sig(x: float | None, digits: int = 3) -> str:
    """Significant digits, no exponent (rates spanning decades): '0.0333', '0.434', '13.0'."""
    if missing(x):
        return NOT_RUN
    return num(x, max(0, digits - 1 - math.floor(math.log10(abs(x))) if x else digits - 1))


def points(a: float | None, b: float | None) -> str:
    """a - b of two fractions, in signed percentage points."""
    return NOT_RUN if missing(a) or missing(b) else f"{100 * (a - b):+.1f}\\,pp"


def pp(x: float | None) -> str:
    """A difference of two fractions (a spread, a half width) in percentage points."""
    return NOT_RUN if missing(x) else f"{100 * x:.1f}\\,pp"


def paper_pct(x: float | None, estimated: bool = False, absent: str = "--") -> str:
    """A percentage as the original paper printed it (already 0-100), daggered if estimated."""
    return absent if x is None else f"{x:.1f}\\%" + (DAGGER if estimated else "")


def paper_f1(x: float | None, estimated: bool = False) -> str:
    return "--" if x is None else f"{x:.3f}" + (DAGGER if estimated else "")


def setting(name: str, value: Any) -> str:
    """A params.yaml setting the text quotes (\\Recipe..., \\Ours...), by its macro name."""
    if missing(value):
        return NOT_RUN
    if isinstance(value, str):
        return tt(value)
    if name == "TestFraction":
        return pct(value, 0)
    if name == "ExtraTrain":  # an example count, printed like NTrain (thousands separated)
        return integer(value)
    if isinstance(value, float) and 0 < abs(value) < 1e-2:
        mantissa, exp = f"{value:.0e}".split("e")
        return f"${mantissa}\\times10^{{{int(exp)}}}$"
    return f"{value:g}"


# TeX's special characters: most take a backslash, three are written as commands
_TEX_SPECIALS = str.maketrans(
    {c: "\\" + c for c in "&%$#_{}"}
    | {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
)


def tex_escape(text: Any) -> str:
    return str(text).translate(_TEX_SPECIALS)


def tt(name: Any) -> str:
    """A run/model/schema name in typewriter type."""
    return r"\texttt{" + tex_escape(name) + "}"


# Formats by name (numbers.yaml names them).
FORMATS: dict[str, Callable[[Any], str]] = {
    "integer": integer,
    "params": params,
    "duration": duration,
    "pct": pct,
    "sig": sig,
    "signed_pct": lambda x: NOT_RUN if missing(x) else f"{100 * x:+.1f}\\%",
    "tt": lambda x: NOT_RUN if missing(x) else tt(x),
    "pct0": lambda x: pct(x, 0),
    "num0": lambda x: num(x, 0),
    "num1": lambda x: num(x, 1),
    "num3": lambda x: num(x, 3),
    "seconds1": lambda x: seconds(x, 1),
    "gb1": lambda x: NOT_RUN if missing(x) else f"{x:.1f}\\,GB",  # a size already in GB
    "pct_value": lambda x: NOT_RUN if missing(x) else f"{x:.2f}\\%",  # already in percent
    "text": lambda x: NOT_RUN if missing(x) else tex_escape(x),
}


def column(key: str, x: Any) -> str:
    """A result column in its format (tables.yaml's `column_formats`), else its metric's unit."""
    return FORMATS[COLUMNS[key]](x) if key in COLUMNS else metric(key, x)


def load_spec(name: str) -> dict[str, Any]:
    """A data file of this package (numbers, tables, readme .yaml): what the report quotes."""
    return yaml.safe_load(Path(__file__).with_name(f"{name}.yaml").read_text())


LAYOUT = load_spec("tables")  # tables.yaml: caption, note and layout of each table
COLUMNS: dict[str, str] = LAYOUT["column_formats"]


class Prose(Template):
    delimiter = "@"  # TeX needs $ and braces


def row(cells: Iterable[str]) -> str:
    return " & ".join(cells) + r" \\"


def span(n: int, text: str, align: str = "c") -> str:
    return rf"\multicolumn{{{n}}}{{{align}}}{{{text}}}"


def block_title(text: str, ncols: int, before: str = r"\midrule") -> str:
    """A row in italics naming the block of rows below it, after a rule (or a little space)."""
    return before + span(ncols, rf"\textit{{{text}}}", "@{}l") + r" \\"


def head(metric: str) -> str:
    """A registry metric's column header (compliance abbreviated: tables are narrow)."""
    return "Compl." if metric == "compliance" else METRICS[metric].label


def table(
    name: str,
    header: list[str] | None,
    body: list[str],
    sources: Iterable[str],
    *,
    note_end: str = "",
    colspec: str | None = None,
    **fields: Any,
) -> str:
    """A booktabs `table` float with the caption, note and layout (header when None) tables.yaml
    gives `name`; `fields` fill its @words. Without body rows, one row says its `empty`."""
    spec = LAYOUT[name]
    header = header or [h if isinstance(h, str) else row(h) for h in spec["header"]]
    caption, note = (Prose(spec.get(k, "")).substitute(fields) for k in ("caption", "note"))
    note += note_end
    srcs = sorted({s for s in sources if s})
    body = body or [row([span(header[-1].count(" & ") + 1, spec.get("empty", NOT_RUN))])]
    lines = [
        f"% Generated by maaza.report.tables.{name} -- do not edit; rerun `dvc repro report`.",
        *(f"% source: {s}" for s in srcs or ["(no result files found)"]),
        r"\begin{table}[!tbp]",
        r"\centering",
        spec.get("size", r"\footnotesize"),
        rf"\setlength{{\tabcolsep}}{{{spec.get('colsep', '4pt')}}}",
        rf"\caption{{{caption}}}",
        rf"\label{{tab:{name.replace('_', '-')}}}",
        rf"\begin{{tabular}}{{{colspec or spec['colspec']}}}",
        r"\toprule",
        *header,
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
    ]
    if note:
        lines += [r"\par\smallskip", rf"\parbox{{\linewidth}}{{\footnotesize {note}}}"]
    return "\n".join([*lines, r"\end{table}", ""])
