"""Ratios from counts, the factor threshold, the resolved base dtype, and the figures that show
them (issue 21 item 3), on the report fixture (tests/fixtures/report/)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from test_report import FIXTURE, OURS, built, numbers_of, paths_for, train  # noqa: F401

from maaza.config import load_params
from maaza.report import figures as report_figures
from maaza.report import fmt, load_frames, load_reference


@pytest.fixture(scope="module")
def frames():
    return load_frames(paths_for(FIXTURE, Path("/nonexistent")))


def eval_row(hits: int, n: int = 158) -> dict:
    return {"json_exact": round(hits / n, 6), "n": n}  # rounded as metrics.json rounds it


# ----------------------------------------------------------------------------- ratios
def test_a_factor_comes_from_counts_and_rounds_half_up() -> None:
    # 38 of 158 over 8 of 158 is 4.75: the rounded rates (0.240506 / 0.050633) gave 4.7
    assert fmt.factor(Fraction(38, 158), Fraction(8, 158)) == Decimal("4.8")
    assert fmt.gain(eval_row(38), eval_row(8)) == "a factor of 4.8$\\times$"
    assert fmt.ratio(715_998, 465_060) == "1.5$\\times$"  # token counts: 1.54
    assert fmt.ratio(1, 0) == r"$\infty$" and fmt.ratio(None, 2) == fmt.NOT_RUN


def test_no_factor_over_a_baseline_of_few_examples() -> None:
    few = fmt.MIN_BASE - 1
    assert fmt.gain_factor(eval_row(37), eval_row(few)) is None
    assert (
        fmt.gain(eval_row(37), eval_row(few)) == f"no factor ({few} of 158 right at the baseline)"
    )
    assert fmt.gain_factor(eval_row(37), eval_row(fmt.MIN_BASE)) == Decimal("7.4")
    assert fmt.gain(None, eval_row(8)) == fmt.NOT_RUN


def test_base_dtype_is_the_one_training_resolved(built: Path) -> None:  # noqa: F811
    main = load_params(FIXTURE / "params.yaml").train_run("smollm2-135m-r16")
    assert main.base_dtype == "auto"  # what params.yaml says ...
    tex = (built / "paper" / "generated" / "numbers.tex").read_text()
    line = next(x for x in tex.splitlines() if x.startswith(r"\newcommand{\RecipeBaseDtype}"))
    # ... and what the PDF prints: the dtype the run recorded
    assert line.startswith(r"\newcommand{\RecipeBaseDtype}{\texttt{bfloat16}}")
    assert "runs/smollm2-135m-r16/train_metrics.json: base_dtype" in line


def test_the_compute_ratio_is_one_number_in_paper_and_readme(built: Path) -> None:  # noqa: F811
    ours, main = train(OURS), train("smollm2-135m-r16")
    flops = [m["real_tokens"] * m["flops_per_token"] for m in (ours, main)]
    expected = fmt.factor(*flops)
    assert numbers_of(built)["OursTrainComputeRatio"] == f"{expected}$\\times$"
    readme = (built / "paper" / "generated" / "results.md").read_text()
    assert f"training compute is {expected}x the paper recipe's" in readme


# ----------------------------------------------------------------------------- figures
def test_loss_is_plotted_against_steps_and_tokens_without_the_full_loss_run(frames) -> None:
    loss = frames.losses
    run = loss[loss["run"] == OURS]
    raw = json.loads((FIXTURE / "runs" / OURS / "train_metrics.json").read_text())
    assert run["tokens"].is_monotonic_increasing
    seconds = run["elapsed_s"].diff().fillna(run["elapsed_s"])
    assert run["tokens"].iloc[-1] == pytest.approx((run["tokens_per_s"] * seconds).sum())
    assert raw["steps"] == run["step"].max()
    fig = report_figures.loss_curves(frames, load_reference())
    assert [ax.get_xlabel() for ax in fig.axes] == list(report_figures.LOSS_AXES.values())
    drawn = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert not any("fullloss" in label for label in drawn)
    assert any(label.startswith(OURS) for label in drawn)
    title = fig.legends[0].get_title().get_text()
    assert "full sequence" in title and "smollm2-135m-fullloss" in title


def test_search_trials_stay_out_of_the_loss_figure(frames) -> None:
    """A trial's loss curve belongs to the search (its own table and figure), not Figure 1."""
    import dataclasses

    trial = frames.losses[frames.losses["run"] == OURS].assign(run="screen-x", role="trial")
    with_trial = dataclasses.replace(frames, losses=pd.concat([frames.losses, trial]))
    fig = report_figures.loss_curves(with_trial, load_reference())
    drawn = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert any(label.startswith(OURS) for label in drawn)
    assert not any(label.startswith("screen-x") for label in drawn)


def test_the_size_axis_labels_every_model_and_the_legend_has_titled_columns(frames) -> None:
    fig = report_figures.exact_vs_params(frames, load_reference())
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "135" in labels and "268" in labels  # the 135M cluster has its tick
    assert not list(ax.xaxis.get_minor_locator().tick_values(100, 1000))  # no minor clutter
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert {"colour: model", "fill: setting", "shape: decoding"} <= set(texts)


def test_the_gain_figure_prints_no_factor_over_few_examples(frames) -> None:
    fig = report_figures.finetune_gain(frames, load_reference())
    texts = [t.get_text() for t in fig.axes[0].texts]
    # the paper's 135M pair: 1.9% of 158 is 3 right zero-shot, so points, not its 13x
    assert "×13.0" not in texts and "+23 pp" in texts
    # fixture: smollm2 free zero-shot 1 of 42 right -> points; constrained 8 of 42 -> a factor
    assert "×3.9" in texts  # 31 of 42 over 8 of 42 = 3.875
    assert all(t.startswith("×") or t.endswith(" pp") for t in texts)
