"""The report's figures, each `Frames, reference -> Figure` (a placeholder when its data is
missing); `save` writes PNG and PDF without timestamps, so the same results give the same bytes."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from maaza.io import atomic_path
from maaza.report import figstyle as style
from maaza.report import fmt
from maaza.report.frames import Frames, any_full, cell, error_categories, tier_order
from maaza.report.original import ABLATION_KEY

FigureFn = Callable[[Frames, dict[str, Any]], Figure]
FIGURES: dict[str, FigureFn] = {}  # in the paper's order
NO_TEST = "not run: no test-split evaluation found"


def figure(fn: FigureFn) -> FigureFn:
    """Register a figure in FIGURES, drawn in figstyle's rc context (no global state changed)."""
    FIGURES[fn.__name__] = plt.rc_context(style.RC)(fn)
    return FIGURES[fn.__name__]


@figure
def exact_vs_params(frames: Frames, reference: dict[str, Any]) -> Figure:
    """JSONExact vs parameter count, fine-tuned and zero-shot, beside the paper's models."""
    axis, ylabel = ("params_total", 1e-6, "params_m"), "JSONExact (%) on the test split"
    labels = ("JSONExact vs parameters", "parameters (millions, log scale)", ylabel)
    return _exact_against(frames, reference, axis, labels, 3.3)


def _exact_against(
    frames: Frames, reference: dict, axis: tuple[str, float, str], labels: tuple[str, ...], h: float
) -> Figure:
    """Test-split JSONExact (95% interval) on a log x axis, zero-shot joined to fine-tuned, beside
    the paper's models. axis: the column, its scale, the paper's key; labels: title, x and y."""
    (x, scale, paper_x), (title, xlabel, ylabel) = axis, labels
    rows = frames.headline("test")
    rows = rows[rows[x].notna()] if not rows.empty else rows
    if rows.empty:
        return style.placeholder(title, NO_TEST)
    colors = style.model_colors(frames)
    fig, ax = style.figure(h)
    dodge = {i: style.OURS_DODGE if style.is_ours(r) else 1.0 for i, r in rows.iterrows()}
    xs = {i: r[x] * scale * dodge[i] for i, r in rows.iterrows()}
    for i, r in rows.iterrows():
        y, lo, hi = style.pct([r["json_exact"], r["json_exact_lo"], r["json_exact_hi"]])
        ax.errorbar(xs[i], y, yerr=[[y - lo], [hi - y]], **style.point_style(r, colors))
    for z, f in _pairs(rows):
        ft = rows.loc[f]
        ls = "-" if ft["mode"] == "constrained" else ":"
        ys = style.pct([rows.loc[z, "json_exact"], ft["json_exact"]])
        ax.plot([xs[z], xs[f]], ys, color=colors[style.series(ft)], lw=0.7, alpha=0.5, ls=ls)
    paper = [m for m in style.paper_models(reference) if m.get(paper_x)]
    for m in paper:
        xy = (m[paper_x], m["overall"]["json_exact"])
        ax.plot(*xy, "D", color=style.PAPER_GREY, mfc="white", ms=5)
        if paper_x == "params_m":
            text = f"{m['label']} ({m['kind']})"
            ax.annotate(
                text, xy, (4, -8), textcoords="offset points", fontsize=6, color=style.PAPER_GREY
            )
    style.model_ticks(ax, [*(rows[x] * scale), *(m[paper_x] for m in paper)])
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=(-2, 102))
    style.style_legend(fig, colors)
    return fig


def _pairs(rows: pd.DataFrame) -> list[tuple[Any, Any]]:
    """(zero-shot index, fine-tuned index) per fine-tuned eval with a zero-shot eval of its model
    and mode (the paper's recipe and ours share it)."""
    zero, out = rows[rows["kind"] == "zero-shot"], []
    for i, ft in rows[rows["kind"] == "fine-tuned"].iterrows():
        zs = zero[(zero["model"] == ft["model"]) & (zero["mode"] == ft["mode"])]
        if len(zs):
            out.append((zs.index[0], i))
    return out


@figure
def by_tier(frames: Frames, reference: dict[str, Any]) -> Figure:
    """JSONExact per complexity tier for every headline eval (grouped bars)."""
    rows, tiers = frames.headline("test"), frames.tiers
    if rows.empty or tiers.empty:
        return style.placeholder("JSONExact by tier", NO_TEST)
    data = tiers[tiers["name"].isin(rows["name"])]
    order = tier_order(data["tier"])
    colors = style.model_colors(frames)
    fig, ax = style.figure(3.0)
    width = 0.8 / len(rows)
    for i, (_, r) in enumerate(rows.iterrows()):
        sub = data[data["name"] == r["name"]].set_index("tier").reindex(order)
        xs = np.arange(len(order)) + (i - (len(rows) - 1) / 2) * width
        bars = style.bar_style(r, colors)
        ax.bar(xs, style.pct(sub["json_exact"]), width, **bars, label=r["label"])
    n = data.groupby("tier")["n"].max().reindex(order)
    ax.set_xticks(range(len(order)), [f"{t}\n(n={int(k)})" for t, k in zip(order, n, strict=True)])
    ax.set(ylabel="JSONExact (%)", ylim=(0, 105))
    fig.legend(ncol=3, loc="outside lower center")
    return fig


@figure
def size_vs_accuracy(frames: Frames, reference: dict[str, Any]) -> Figure:
    """Disk size (bf16 weights + LoRA adapter, or a fully fine-tuned model's own weights) vs
    JSONExact, with the paper's reported sizes."""
    full = any_full(frames.headline("test"))
    adapter = " (+ LoRA adapter where LoRA-trained)" if full else " + LoRA adapter"
    xlabel = f"size on disk (MB, log scale): bf16 weights{adapter}"
    labels = ("Disk size vs JSONExact", xlabel, "JSONExact (%)")
    return _exact_against(frames, reference, ("disk_mb", 1.0, "size_mb"), labels, 3.0)


@figure
def finetune_gain(frames: Frames, reference: dict[str, Any]) -> Figure:
    """Zero-shot vs fine-tuned JSONExact per model and mode, topped by the factor from counts (or
    the difference in points below fmt.MIN_BASE right at zero-shot)."""
    colors = style.model_colors(frames)
    ours = _gain_bars(frames.headline("test"), colors)
    bars = ours + _paper_gain(reference)
    if not bars:
        msg = "not run: needs a zero-shot and a fine-tuned eval"
        return style.placeholder("Fine-tuning gain", msg)
    fig, ax = style.figure(2.8)
    for i, (_, zs, ft, zs_color, ft_color, hatch) in enumerate(bars):
        z, f = style.pct([zs["json_exact"], ft["json_exact"]])
        ax.bar(i - 0.2, z, 0.38, facecolor="white", edgecolor=zs_color, hatch="////")
        hatch = style.OURS_HATCH if hatch else None
        ax.bar(i + 0.2, f, 0.38, color=ft_color, hatch=hatch, hatchcolor="white")
        x = fmt.gain_factor(ft, zs)
        label = f"{f - z:+.0f} pp" if x is None else f"×{x}"
        ax.text(i, max(z, f) + 2, label, ha="center", fontsize=7.5)
    labels = [b[0] for b in bars]
    ax.set_xticks(range(len(labels)), labels, fontsize=6.5 if len(labels) > 5 else 7.5)
    ax.set(ylabel="JSONExact (%)", ylim=(0, 110))
    handles = [
        Patch(facecolor="white", edgecolor="k", hatch="////", label="zero-shot"),
        Patch(color="0.4", label="fine-tuned"),
    ]
    if any(b[-1] for b in ours):
        label = f"fine-tuned, {style.OURS_LABEL}"
        handles.append(
            Patch(facecolor="0.4", hatch=style.OURS_HATCH, hatchcolor="white", label=label)
        )
    ax.legend(handles=handles, loc="upper left")
    return fig


Bar = tuple[str, Any, Any, Any, Any, bool]  # label, zero-shot row, fine-tuned row, colours, ours


def _gain_bars(rows: pd.DataFrame, colors: dict[str, Any]) -> list[Bar]:
    out = []
    for z, f in _pairs(rows):
        zs, ft = rows.loc[z], rows.loc[f]
        ours = f"\n{style.OURS_LABEL}" if style.is_ours(ft) else ""
        label = f"{style.short_model(ft['model'])}{ours}\n{ft['mode']}"
        colour = colors[style.series(zs)], colors[style.series(ft)]
        out.append((label, zs, ft, *colour, style.is_ours(ft)))
    return out


def _paper_gain(reference: dict[str, Any]) -> list[Bar]:
    """The paper's zero-shot -> fine-tuned pairs of one size (measured values only)."""
    models, n, grey = style.paper_models(reference), reference["test_split"]["n"], style.PAPER_GREY
    zero = [m for m in models if m["kind"] == "zero-shot" and not m["overall"].get("estimated")]
    rows = {m["id"]: {"json_exact": m["overall"]["json_exact"] / 100, "n": n} for m in models}
    return [
        (f"paper {zs['params_m']}M\n(reported)", rows[zs["id"]], rows[ft["id"]], grey, grey, False)
        for zs in zero
        for ft in models
        if ft["kind"] == "fine-tuned" and ft["params_m"] == zs["params_m"]
    ]


@figure
def ablations(frames: Frames, reference: dict[str, Any]) -> Figure:
    """Rank and data-size curves (JSONExact left, training time right) + loss/decoding bars."""
    ab = frames.ablations
    if ab.empty or ab["json_exact"].notna().sum() == 0:
        return style.placeholder("Ablations", "not run: no ablation run has been evaluated yet")
    fig, axes = style.figure(2.5, 3, gridspec_kw={"width_ratios": [1, 1, 0.9]})
    ref = reference.get("ablations", {})
    _curve(axes[0], ab[ab["factor"] == "rank"], "LoRA rank r", ref.get("rank"), "rank", log2=True)
    _curve(axes[1], ab[ab["factor"] == "data"], "training data (fraction)", ref.get("data"), "data")
    _loss_decode_bars(axes[2], frames)
    axes[0].set_ylabel("JSONExact (%)")
    paper = f"JSONExact, {style.PAPER_LABEL}"
    handles = [
        Line2D([], [], marker="o", color=style.PALETTE[0], label="JSONExact (ours; band: 95% CI)"),
        Line2D([], [], marker="^", color=style.TIME_COLOR, ls="--", label="training time (ours)"),
        Line2D([], [], marker="D", color=style.PAPER_GREY, mfc="white", label=paper),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    return fig


def _curve(
    ax: plt.Axes, pts: pd.DataFrame, xlabel: str, ref: dict | None, factor: str, log2: bool = False
) -> None:
    """JSONExact (left axis) and training time (right axis) against one ablated knob."""
    key = ABLATION_KEY[factor]
    pts = pts[pts["json_exact"].notna()].sort_values("value")
    ax.set(xlabel=xlabel, ylim=(0, 105))
    if ref:
        ref_x, ref_y = [p[key] for p in ref["points"]], [p["json_exact"] for p in ref["points"]]
        ax.plot(ref_x, ref_y, "D-", color=style.PAPER_GREY, mfc="white", ms=4, lw=0.8)
    if pts.empty:
        ax.text(0.5, 0.5, "not run", transform=ax.transAxes, ha="center", style="italic")
        return
    xs = pts["value"].astype(float)
    y, lo, hi = (style.pct(pts[k]) for k in style.EXACT_CI)
    ax.plot(xs, y, "o-", color=style.PALETTE[0])
    # the 95% Wilson band: the curve's steps mean little where the bands overlap
    ax.fill_between(xs, lo, hi, color=style.PALETTE[0], alpha=0.15, lw=0)
    minutes = pts["wall_time_s"] / 60
    if minutes.notna().any():
        twin = ax.twinx()
        twin.plot(xs, minutes, "^--", color=style.TIME_COLOR, ms=4, lw=0.9)
        twin.set(ylabel="training time (min)", ylim=(0, max(1.0, float(minutes.max()) * 1.2)))
        twin.grid(False)
    if log2:
        ax.set_xscale("log", base=2)
    ticks = sorted(set(xs))
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])


def _loss_decode_bars(ax: plt.Axes, frames: Frames) -> None:
    """Prompt-masked vs full-sequence loss, and free vs constrained decoding of the main run."""
    loss = frames.ablations[frames.ablations["factor"] == "loss"]
    bars = [(f"{v}\nloss", x) for v, x in zip(loss["value"], loss["json_exact"], strict=True)]
    for mode, short in (("free", "free"), ("constrained", "constr.")):
        exact = cell(frames.find_eval(frames.design.main_run, mode), "json_exact")
        bars.append((f"{short}\ndecoding", math.nan if exact is None else exact))
    values = style.pct([b[1] for b in bars])
    colors = [style.PALETTE[2]] * 2 + [style.PALETTE[4]] * 2  # loss bars, decoding bars
    ax.bar(range(len(bars)), np.nan_to_num(values), color=colors)
    for i, v in enumerate(values):
        gone = np.isnan(v)
        text = "not run" if gone else f"{v:.0f}"
        y, rotation = (0 if gone else v) + 2, 90 if gone else 0
        ax.text(i, y, text, ha="center", fontsize=6.5, rotation=rotation)
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=6, rotation=45, **style.SLANT)
    ax.set_ylim(0, 105)
    ax.set_title("loss masking / decoding", fontsize=8)


@figure
def schema_heatmap(frames: Frames, reference: dict[str, Any]) -> Figure:
    """JSONExact per schema (rows, grouped by tier) x evaluation (columns)."""
    data = frames.schemas
    if frames.evals.empty or data.empty:
        return style.placeholder("Per-schema JSONExact", "not run: no evaluation found")
    cols = frames.headline()
    data = data[data["name"].isin(cols["name"])]
    tiers = data.groupby("schema")["tier"].first()
    rank = {t: i for i, t in enumerate(tier_order(tiers))}
    order = sorted(tiers.index, key=lambda s: (rank[tiers[s]], s))
    grid = data.pivot_table(index="schema", columns="label", values="json_exact").reindex(
        index=order, columns=[lbl for lbl in cols["label"] if lbl in set(data["label"])]
    )
    fig, ax = style.figure(0.8 + 0.2 * len(order))
    sns.heatmap(
        grid * 100,
        ax=ax,
        cmap="cividis",
        vmin=0,
        vmax=100,
        annot=True,
        fmt=".0f",
        annot_kws={"fontsize": 6},
        cbar_kws={"label": "JSONExact (%)", "shrink": 0.6},
        linewidths=0.3,
        linecolor="white",
        mask=grid.isna(),
    )
    ax.set_facecolor("0.9")  # NaN cells (schema not in that split) read as light grey
    ax.grid(False)
    names = [f"{s} ({tiers[s][0]})" for s in order]
    ax.set_yticks(np.arange(len(order)) + 0.5, names, fontsize=6.5)
    ax.set_xticks(
        np.arange(grid.shape[1]) + 0.5, grid.columns, rotation=35, ha="right", fontsize=6.5
    )
    ax.set(xlabel="", ylabel="schema (tier: s/m/c)")
    return fig


@figure
def errors(frames: Frames, reference: dict[str, Any]) -> Figure:
    """Share of each error category per eval; right: the main eval's categories by tier."""
    err = frames.errors
    if err.empty:
        return style.placeholder("Error categories", "not run: no evaluation found")
    cats = error_categories(err["category"])
    wrong = [c for c in cats if c != "correct"]
    colors = {c: style.PALETTE[(i + 1) % len(style.PALETTE)] for i, c in enumerate(wrong)}
    colors["correct"] = "0.82"
    labels = list(dict.fromkeys(err["label"]))
    share = err.pivot_table(index="label", columns="category", values="share")
    share = share.reindex(index=labels, columns=cats)
    by_tier = frames.error_tiers  # the main eval's categories by tier
    ratios = None if by_tier.empty else {"width_ratios": [2.2, 1]}
    height = 0.9 + 0.22 * len(labels)
    fig, axes = style.figure(height, 1 + bool(ratios), gridspec_kw=ratios, squeeze=False)
    ax, left = axes[0, 0], np.zeros(len(labels))
    for c in cats:
        vals = style.pct(share[c].fillna(0))
        ax.barh(range(len(labels)), vals, left=left, color=colors[c], label=c.replace("_", " "))
        left += vals
    ax.set_yticks(range(len(labels)), labels, fontsize=6.5)
    ax.invert_yaxis()
    ax.set(xlabel="share of examples (%)", xlim=(0, 100))
    fig.legend(ncol=6, loc="outside lower center", fontsize=6.5)
    if by_tier.empty:
        return fig
    ax, tiers = axes[0, 1], tier_order(by_tier.columns)
    bottom = np.zeros(len(tiers))
    for c in error_categories(by_tier.index):
        vals = by_tier.loc[c].reindex(tiers).fillna(0).to_numpy(dtype=float)
        ax.bar(range(len(tiers)), vals, bottom=bottom, color=colors.get(c, "k"))
        bottom += vals
    ax.set_xticks(range(len(tiers)), tiers, fontsize=6.5, rotation=30, **style.SLANT)
    ax.set_ylabel("examples")
    ax.set_title("main model by tier", fontsize=7)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return fig


# Loss against optimizer steps (what a schedule is set in) and real tokens seen (what the steps
# cost); epochs would hide that one epoch of one run is many times another's steps.
LOSS_AXES = {"step": "optimizer step", "tokens": "real tokens seen (millions)"}


@figure
def loss_curves(frames: Frames, reference: dict[str, Any]) -> Figure:
    """Training loss per run (dashed while running). Full-sequence-loss runs are left out, as the
    legend says: their loss also averages over prompt tokens."""
    loss = frames.losses
    if loss.empty:
        return style.placeholder("Training loss", "not run: no runs/*/loss.csv found")
    loss = loss[loss["role"] != "trial"]  # search trials: their own table and figure
    full = list(dict.fromkeys(loss.loc[loss["loss_type"] != "response", "run"]))
    loss = loss[loss["loss_type"] == "response"]
    colors = style.run_colors(frames)
    fig, axes = style.figure(2.8, 2, sharey=True)
    for ax, (x, xlabel) in zip(axes, LOSS_AXES.items(), strict=True):
        for run, g in loss.groupby("run", sort=False):
            role, done = g["role"].iloc[0], bool(g["finished"].iloc[0])
            tag = f" ({style.OURS_LABEL})" if role == "ours" else ""
            label = run + tag + ("" if done else " (running)")
            lw = 1.8 if role in style.MAIN_ROLES else 0.9  # ablations thin
            xs, ls = g[x] / (1e6 if x == "tokens" else 1), "-" if done else "--"
            ax.plot(xs, g["loss"], color=colors[run], lw=lw, ls=ls, label=label)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel("training loss, response tokens\n(log scale)")
    handles, labels = axes[0].get_legend_handles_labels()
    note = f"not shown (loss over the full sequence): {', '.join(full)}" if full else None
    legend = {"ncol": 3, "fontsize": 6.5, "title": note, "title_fontsize": 6.5}
    fig.legend(handles, labels, loc="outside lower center", **legend)
    return fig


@figure
def search(frames: Frames, reference: dict[str, Any]) -> Figure:
    """Val JSONExact of every search trial with its 95% interval (constrained decoding)."""
    done = frames.search.dropna(subset=["json_exact"]) if not frames.search.empty else frames.search
    if done.empty:
        msg = "not run: no search trial has a val evaluation yet"
        return style.placeholder("Recipe search", msg)
    fig, ax = style.figure(0.8 + 0.28 * len(done))
    y = np.arange(len(done))[::-1]
    x, lo, hi = (style.pct(done[k]) for k in style.EXACT_CI)
    ax.errorbar(x, y, xerr=[x - lo, hi - x], fmt="o", color=style.PALETTE[0], capsize=2, lw=1)
    ax.set_yticks(y, done["trial"])
    ax.set(xlabel="val JSONExact, constrained (%), 95% interval", xlim=(0, 100))
    return fig


# No timestamps or producer strings: a rerun on the same results writes the same bytes.
METADATA = {
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
}


def save(fig: Figure, base: Path) -> None:
    """Write base.png and base.pdf atomically, then close the figure."""
    try:
        for ext, metadata in METADATA.items():
            with atomic_path(base.with_suffix(f".{ext}"), suffix=f".{ext}") as tmp:
                fig.savefig(tmp, dpi=150, bbox_inches="tight", metadata=metadata, format=ext)
    finally:
        plt.close(fig)
