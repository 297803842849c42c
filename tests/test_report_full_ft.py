"""The report when our recipe is full fine-tuning (`method: full`: every weight trained, a bf16
delta saved instead of a LoRA adapter) and a second `ours` run trains another base model: built
from a copy of tests/fixtures/report/ rewritten that way (no torch)."""

from __future__ import annotations

import json
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from test_report import FIXTURE, assert_pdf_builds, paths_for

from maaza.report import build_report, load_frames, load_reference, recipe_words
from maaza.report import numbers as report_numbers
from maaza.report import tables as report_tables
from maaza.report.fmt import tt

OURS, GEMMA, MAIN = "smollm2-135m-maaza", "gemma3-270m-maaza", "smollm2-135m-r16"
N = {"smollm2-135m-instruct": 134_515_008, "gemma3-270m": 268_098_176}
OURS_SETTINGS = "extra_train: 2400, epochs: 1, grad_accum: 2, learning_rate: 3.0e-4"
# gemma's ours run is declared first: the headline is still the one on the main run's model
RUNS_EXTRA = (
    f"  runs_extra:\n"
    f"    {GEMMA}: {{role: ours, model: gemma3-270m, method: full, {OURS_SETTINGS}}}\n"
    f"    {OURS}: {{role: ours, method: full, {OURS_SETTINGS}}}\n"
)


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def full_run(src: Path, run: str, model: str, tokens: int) -> dict:
    """train_metrics.json of a full fine-tuning run, as maaza.train writes one."""
    m = _read(FIXTURE / "runs" / OURS / "train_metrics.json")
    m |= {"run": run, "model": model, "params_total": N[model], "params_trainable": N[model]}
    m |= {"trainable_pct": 100.0, "method": "full", "lora": {"r": 0, "alpha": 0, "dropout": 0.0}}
    m |= {"real_tokens": tokens, "flops_per_token": 6 * N[model], "base_dtype": "float32"}
    m |= {"adapter_mb": round(N[model] * 2 / 1e6, 2)}  # the bf16 delta of every weight
    _write(src / "runs" / run / "train_metrics.json", m)
    return m


def copy_eval(src: Path, base: str, name: str, flip: int = 0, **fields: str) -> float:
    """A new eval from `base`'s files: `fields` changed, the first `flip` wrong examples right
    (so that a paired test has discordant pairs); returns its JSONExact."""
    rows = [json.loads(x) for x in (src / "results/eval" / base / "predictions.jsonl").open()]
    for r in [r for r in rows if not r["json_exact"]][:flip]:
        r |= {"json_exact": 1, "error": "correct"}
    exact = sum(r["json_exact"] for r in rows) / len(rows)
    m = _read(src / "results/eval" / base / "metrics.json") | {"name": name, **fields}
    m["overall"] = m["overall"] | {"json_exact": exact}
    _write(src / "results/eval" / name / "metrics.json", m)
    lines = "".join(json.dumps(r) + "\n" for r in rows)
    (src / "results/eval" / name / "predictions.jsonl").write_text(lines)
    return exact


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture with our recipe trained as full fine-tuning, on two base models."""
    root = tmp_path_factory.mktemp("full")
    src = root / "src"
    shutil.copytree(FIXTURE, src)
    params = (FIXTURE / "params.yaml").read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(params) if line.startswith("  runs_extra:"))
    # a search trial that trained every weight: the text says the search chose the method
    trial = (
        "search:\n  runs:\n    screen-full: {extra_train: 10, method: full, step_fraction: 0.25}\n"
    )
    text = [*params[:start], RUNS_EXTRA, *params[start + 1 :], trial]
    (src / "params.yaml").write_text("".join(text))
    main = _read(src / "runs" / MAIN / "train_metrics.json")
    _write(src / "runs" / MAIN / "train_metrics.json", main | {"flops_per_token": 4 * main["params_total"]})  # fmt: skip
    full_run(src, OURS, "smollm2-135m-instruct", 730_000)
    full_run(src, GEMMA, "gemma3-270m", 700_000)
    ours = f"ft-{OURS}-constrained"
    gemma = {"run": GEMMA, "model": "gemma3-270m"}
    copy_eval(src, ours, f"{ours}-val", split="val")
    copy_eval(src, ours, f"ft-{GEMMA}-constrained-val", flip=4, split="val", **gemma)
    copy_eval(src, ours, f"ft-{GEMMA}-constrained", flip=6, **gemma)
    copy_eval(src, f"{ours}-holdout", f"ft-{GEMMA}-constrained-holdout", flip=1, **gemma)
    build_report(paths_for(src, root / "out", src / "params.yaml"), progress=False)
    return root


def numbers(root: Path) -> dict[str, str]:
    return report_numbers.parse((root / "out/paper/generated/numbers.tex").read_text())


def test_the_headline_run_is_ours_on_the_main_model(full: Path) -> None:
    n = numbers(full)
    assert n["OursRun"] == tt(OURS)
    ours = _read(full / "src/results/eval" / f"ft-{OURS}-constrained/metrics.json")
    assert n["OursExact"] == f"{100 * ours['overall']['json_exact']:.1f}\\%"


def test_comparisons_say_every_weight_is_trained(full: Path) -> None:
    n = numbers(full)
    ours = _read(full / "src/runs" / OURS / "train_metrics.json")
    main = _read(full / "src/runs" / MAIN / "train_metrics.json")
    examples = [f"{m['n_train_examples']:,}".replace(",", "{,}") for m in (ours, main)]
    assert n["OursDiffers"] == (
        "every weight trained instead of a rank-16 LoRA adapter, "
        f"{examples[0]} examples instead of {examples[1]}, "
        f"{ours['steps']} optimiser steps instead of {main['steps']}, "
        r"learning rate $3\times10^{-4}$ instead of $2\times10^{-4}$"
    )
    assert n["OursKeeps"] == "the model, the prompt and the loss"  # not the LoRA configuration
    change = n["OursTrainsChange"]
    assert change.startswith("what is trained (chosen by the recipe search on the validation")
    assert "split: every weight instead of a rank-16 LoRA adapter, 134.5M" in change
    assert "134.5M trainable parameters instead of 4.9M" in change  # every weight: all of N
    assert (
        f"{ours['adapter_mb']:.1f}\\,MB in bfloat16" in change and "a 19.5\\,MB adapter" in change
    )
    assert change.endswith("), ")  # before "how much the model learns from and how"


def test_compute_ratio_counts_six_flops_per_parameter_for_full_fine_tuning(full: Path) -> None:
    ours = _read(full / "src/runs" / OURS / "train_metrics.json")
    main = _read(full / "src/runs" / MAIN / "train_metrics.json")
    # forward 2N + backward 2N + weight gradients 2N, against LoRA's frozen base: 4N
    flops = Decimal(ours["real_tokens"] * 6 * N["smollm2-135m-instruct"])
    flops /= Decimal(main["real_tokens"] * 4 * N["smollm2-135m-instruct"])
    ratio = flops.quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert numbers(full)["OursTrainComputeRatio"] == f"{ratio}$\\times$"
    assert ratio == Decimal("2.8")  # 730k / 390k tokens x 1.5: not the 1.9 of 4N
    readme = (full / "out/paper/generated/results.md").read_text()
    assert f"- Our recipe's training compute is {ratio}x the paper recipe's" in readme


def test_tables_and_sizes_of_a_full_fine_tuning_run(full: Path) -> None:
    compute = (full / "out/paper/tables/compute.tex").read_text()
    row = rf"\texttt{{{OURS}}} {{\scriptsize(our recipe)}} & full & 2{{,}}920 & 1 & "
    assert row in compute and "134.5M (100.00\\%) & 269.0 & " in compute
    assert "$r$ \\emph{full}: every weight trained" in compute and "$6N$" in compute
    assert "each base model trained with our recipe" in compute  # ours on two models
    # a fully fine-tuned model ships its own bf16 weights: its delta replaces them, adds nothing
    frames = load_frames(paths_for(full / "src", full / "x", full / "src/params.yaml"))
    disk = frames.evals.set_index("name")["disk_mb"]
    assert disk[f"ft-{OURS}-constrained"] == N["smollm2-135m-instruct"] * 2 / 1e6
    assert disk[f"ft-{MAIN}-constrained"] == N["smollm2-135m-instruct"] * 2 / 1e6 + 19.54
    assert numbers(full)["SizeOnDiskAdapter"].endswith("nothing when every weight is fine-tuned")


def test_ours_on_another_model_is_reported_beside_the_headline_run(full: Path) -> None:
    n, ev = numbers(full), full / "src/results/eval"
    exact = {s: _read(ev / f"ft-{GEMMA}-{s}/metrics.json")["overall"]["json_exact"]
             for s in ("constrained", "constrained-holdout", "constrained-val")}  # fmt: skip
    beside = n["OursBeside"]
    assert beside.startswith(r" Our recipe also trains \texttt{gemma3-270m} (run \texttt{gemma3-270m-maaza}, the best run of any model on the validation split; ")  # fmt: skip
    # both train every weight: what differs is the base model (and what it did)
    assert r"against \texttt{smollm2-135m-maaza}: \texttt{gemma3-270m} instead of \texttt{smollm2-135m}" in beside  # fmt: skip
    assert "every weight" not in beside
    for x in exact.values():
        assert f"{100 * x:.1f}\\%" in beside
    assert "McNemar $p = " in beside and ("above the" in beside or "significantly" in beside)
    assert n["OursBesideBrief"].startswith(
        r" With our recipe, \texttt{gemma3-270m}, the best run of any model on the validation split, reaches"
    )
    tests = report_tables.paired_tests(
        load_frames(paths_for(full / "src", full / "x", full / "src/params.yaml")), load_reference()
    )
    assert "our recipe, gemma3-270m vs smollm2-135m-instruct & " in tests
    readme = (full / "out/paper/generated/results.md").read_text()
    assert "| `gemma3-270m` | our recipe | constrained | " in readme
    # the committed (fixture) report has a single ours run: nothing beside it
    base = report_numbers.parse(
        report_numbers.render(load_frames(paths_for(FIXTURE, full)), load_reference())
    )
    assert base["OursBeside"] == base["OursBesideBrief"] == ""


def test_a_lora_recipe_of_another_shape_is_named_by_what_differs(
    full: Path, tmp_path: Path
) -> None:
    text = (full / "src/params.yaml").read_text().replace(
        f"{OURS}: {{role: ours, method: full, ", f"{OURS}: {{role: ours, lora: {{r: 64, alpha: 128}}, "
    )  # fmt: skip
    params = tmp_path / "params.yaml"
    params.write_text(text)
    frames = load_frames(paths_for(FIXTURE, tmp_path, params))
    items = recipe_words.differences(frames, OURS, MAIN)
    assert items[0] == "LoRA rank 64, alpha 128 instead of rank 16, alpha 32"
    wide = text.replace("alpha: 128}", "alpha: 128, target_modules: [all-linear]}")
    params.write_text(wide)
    wide_items = recipe_words.differences(
        load_frames(paths_for(FIXTURE, tmp_path, params)), OURS, MAIN
    )
    assert (
        wide_items[0]
        == r"LoRA rank 64, alpha 128, \texttt{all-linear} instead of rank 16, alpha 32, 7 modules"
    )
    assert recipe_words.keeps_text(frames, OURS, MAIN) == "the model, the prompt and the loss"
    # no search trial trained such an adapter: the text does not say the search chose it
    assert recipe_words.trains_text(frames, OURS, MAIN).startswith("the adapter (LoRA rank 64, ")
    # the paper's LoRA shape: nothing about the adapter, which the recipe keeps
    frames = load_frames(paths_for(FIXTURE, tmp_path))
    assert not recipe_words.differences(frames, OURS, MAIN)[0].startswith(("LoRA", "every"))
    assert recipe_words.trains_text(frames, OURS, MAIN) == ""
    assert "the LoRA configuration" in recipe_words.keeps_text(frames, OURS, MAIN)


def test_the_paper_builds_with_a_full_fine_tuning_run(full: Path, tmp_path: Path) -> None:
    assert_pdf_builds(full / "out", tmp_path)
