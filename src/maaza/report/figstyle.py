"""The figures' shared style: colour = model (our recipe's run: its own colour, + and x markers,
dotted bars), fill = fine-tuned (solid) or zero-shot (hollow, hatched), marker = decoding mode;
the original paper's numbers are grey diamonds. Drawn headless (Agg): DVC needs no display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display under dvc/papermill; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from maaza.report.frames import OURS_LABEL, Frames, short_model  # noqa: E402

PALETTE = sns.color_palette("colorblind")
PAPER_GREY = "0.45"
TIME_COLOR = "0.15"  # training time: near-black dashed, so no model colour is reused
MARKERS = {"constrained": "o", "free": "s"}
OURS_MARKERS = {"constrained": "P", "free": "X"}  # our recipe: same model, so its own shapes
OURS_HATCH = "...."  # our recipe's fine-tuned bars (zero-shot bars are hatched "////")
OURS_DODGE = 1.08  # our recipe's points sit at the main run's x: shift them right (log axis)
WIDTH = 6.3  # inches: the text width of the paper's one-column layout
STYLE = Path(__file__).with_name("figures.mplstyle")  # text sizes and fonts
RC = {
    **sns.axes_style("whitegrid"),
    **sns.plotting_context("paper"),
    **matplotlib.rc_params_from_file(STYLE, use_default_template=False),
}
PAPER_LABEL = "reported by the original paper"
MAIN_ROLES = ("paper_recipe", "ours", "scale")  # drawn in their model's colour, thick
EXACT_CI = ("json_exact", "json_exact_lo", "json_exact_hi")
SLANT = {"ha": "right", "rotation_mode": "anchor"}  # slanted tick labels, ending at their tick


def figure(height: float, ncols: int = 1, **kw: Any) -> tuple[Figure, Any]:
    """A figure as wide as the paper's text, in one row of `ncols` axes."""
    return plt.subplots(1, ncols, layout="constrained", figsize=(WIDTH, height), **kw)


def is_ours(row: pd.Series) -> bool:
    return row.get("role") == "ours"


def series(row: pd.Series) -> str:
    """Colour key of an eval or run row: its model, or the model trained with our recipe."""
    return f"{row['model']}|ours" if is_ours(row) else row["model"]


def model_colors(frames: Frames) -> dict[str, Any]:
    """One colour per `series`, models by size then our recipe's: the same in every figure."""
    rows = [r for f in (frames.evals, frames.runs) for _, r in f.iterrows()]
    models = dict.fromkeys(r["model"] for r in rows)
    ours = dict.fromkeys(series(r) for r in rows if is_ours(r))
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate([*models, *ours])}


def run_colors(frames: Frames) -> dict[str, Any]:
    """Main, ours and larger-model runs take their series' colour; ablations the next colours."""
    colors, out = model_colors(frames), {}
    spare = len(colors)
    for run in dict.fromkeys(frames.losses.get("run", [])):
        role = frames.design.role_of(run)
        key = series(pd.Series({"model": frames.design.run_model(run), "role": role}))
        if role in MAIN_ROLES and key in colors:
            out[run] = colors[key]
        else:
            out[run], spare = PALETTE[spare % len(PALETTE)], spare + 1
    return out


def placeholder(title: str, message: str) -> Figure:
    fig, ax = figure(2.0)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=9, style="italic")
    return fig


def point_style(row: pd.Series, colors: dict[str, Any]) -> dict[str, Any]:
    """An eval's point with its error bar (ax.errorbar's keywords)."""
    color = colors.get(series(row), PAPER_GREY)
    marker = (OURS_MARKERS if is_ours(row) else MARKERS).get(row["mode"], "^")
    face = color if row["kind"] != "zero-shot" else "white"  # zero-shot points are hollow
    return dict(
        marker=marker, color=color, mfc=face, mec=color, ms=6, ls="none", elinewidth=0.8, capsize=2
    )


def bar_style(row: pd.Series, colors: dict[str, Any]) -> dict[str, Any]:
    color = colors.get(series(row), PAPER_GREY)
    zero = row["kind"] == "zero-shot"
    return {
        "facecolor": "white" if zero else color,
        "edgecolor": color,
        "hatch": "////" if zero else OURS_HATCH if is_ours(row) else None,
        "hatchcolor": color if zero else "white",  # white dots on our recipe's filled bars
        "alpha": 1.0 if row["mode"] == "constrained" else 0.6,
        "linewidth": 0.8,
    }


def _marker(label: str, marker: str = "o", color: Any = "0.3", **kw: Any) -> Line2D:
    return Line2D([], [], marker=marker, color=color, linestyle="none", label=label, **kw)


def style_legend(fig: Figure, colors: dict[str, Any]) -> None:
    """A legend under the axes with a titled column per channel: colour, fill, marker shape."""
    shapes = [_marker("constrained", mfc="0.3"), _marker("free", "s", mfc="0.3")]
    if any("|" in key for key in colors):
        shapes += [_marker(f"{OURS_LABEL}, {m}", OURS_MARKERS[m]) for m in ("constrained", "free")]
    labels = {
        key: short_model(key.partition("|")[0]) + (f", {OURS_LABEL}" if "|" in key else "")
        for key in colors
    }
    columns = {
        "colour: model": [Patch(color=c, label=labels[m]) for m, c in colors.items()],
        "fill: setting": [
            _marker("fine-tuned", color="k"),
            _marker("zero-shot", color="k", mfc="white"),
            _marker(PAPER_LABEL, "D", PAPER_GREY, mfc="white"),
        ],
        "shape: decoding": shapes,
    }
    rows = max(map(len, columns.values()))
    handles = []  # legends fill column by column: a title, its entries, blanks to the same height
    for title, entries in columns.items():
        handles += [
            _marker(title, "none"),
            *entries,
            *[_marker("", "none")] * (rows - len(entries)),
        ]
    legend = fig.legend(
        handles=handles, loc="outside lower center", ncol=len(columns), frameon=True
    )
    for text in legend.get_texts():
        text.set_fontweight("bold" if text.get_text() in columns else "normal")


def model_ticks(ax: plt.Axes, values: Any) -> None:
    """Log x axis with a tick per cluster of values within 15% (135, 270, 360, ...), and room on
    the right for the point labels."""
    ax.set_xscale("log")
    ticks: list[float] = []
    for v in sorted(values):
        if not ticks or v > ticks[-1] * 1.15:
            ticks.append(v)
    ax.set_xticks(ticks, [str(int(v + 0.5)) for v in ticks])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi * 1.5)


def pct(values: Any) -> Any:
    return np.asarray(values, dtype=float) * 100


def paper_models(reference: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in reference.get("models", []) if m.get("overall")]
