"""The report stage, built from the made-up results in tests/fixtures/report/ (see make_fixtures.py).

The fixture is deliberately incomplete (gemma run and full-loss ablation still training, their
evals absent) so every test here also exercises the "not run" paths.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from maaza.config import resolve
from maaza.headline import wilson
from maaza.plan import EXTERNAL
from maaza.report import (
    ReportError,
    ReportPaths,
    build_report,
    design_from_params,
    figstyle,
    load_frames,
    load_reference,
)
from maaza.report import figures as report_figures
from maaza.report import numbers as report_numbers
from maaza.report import tables as report_tables
from maaza.report.design import load_design
from maaza.report.fmt import tex_escape
from maaza.report.original import ORIGINAL_TABLES, achievable
from maaza.report.setting_numbers import completeness
from maaza.results import load_bench, load_eval

FIXTURE = Path(__file__).parent / "fixtures" / "report"
PAPER = Path(__file__).resolve().parents[1] / "paper"


def paths_for(src: Path, out: Path, params: Path = FIXTURE / "params.yaml") -> ReportPaths:
    return ReportPaths(
        runs_dir=src / "runs",
        eval_dir=src / "results" / "eval",
        data_report=src / "data" / "report.json",
        params_file=params,
        figures_dir=out / "figures",
        tables_dir=out / "paper" / "tables",
        generated_dir=out / "paper" / "generated",
        bench_dir=src / "results" / "bench",
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One report build from the fixture, shared by the tests that only read its outputs."""
    out = tmp_path_factory.mktemp("report")
    build_report(paths_for(FIXTURE, out), progress=False)
    return out


def numbers_of(out: Path) -> dict[str, str]:
    return report_numbers.parse((out / "paper" / "generated" / "numbers.tex").read_text())


def metrics(name: str) -> dict:
    return json.loads((FIXTURE / "results" / "eval" / name / "metrics.json").read_text())


def train(name: str) -> dict:
    return json.loads((FIXTURE / "runs" / name / "train_metrics.json").read_text())


def bench(stem: str) -> dict:
    return json.loads((FIXTURE / "results" / "bench" / f"{stem}.json").read_text())


# ----------------------------------------------------------------------------- outputs exist
def test_every_figure_and_table_is_written(built: Path) -> None:
    for name in report_figures.FIGURES:
        for ext in ("png", "pdf"):
            path = built / "figures" / f"{name}.{ext}"
            assert path.stat().st_size > 1000, path
    for name in report_tables.TABLES | ORIGINAL_TABLES:
        tex = (built / "paper" / "tables" / f"{name}.tex").read_text()
        assert r"\toprule" in tex and r"\bottomrule" in tex and r"\caption{" in tex, name
        assert "% source: " in tex, f"{name}: tables must name their source files"
    inventory = json.loads((built / "paper" / "generated" / "inventory.json").read_text())
    assert "gemma3-270m-r16" in inventory["missing_runs"]
    assert inventory["in_progress"] == {"gemma3-270m-r16": 20, "smollm2-135m-fullloss": 20}


def test_paper_numbers_are_labelled_as_reported(built: Path) -> None:
    main = (built / "paper" / "tables" / "main_results.tex").read_text()
    assert "Reported by the original paper (Section 5.2" in main
    assert "Maaza-MLM-135M & 135M & fine-tuned & greedy & 24.7\\%" in main
    assert (
        "reported by the original paper"
        in (built / "paper" / "tables" / "ablations.tex").read_text()
    )


# ----------------------------------------------------------------------------- numbers.tex
def pct(x: float) -> str:
    return f"{100 * x:.1f}\\%"


def factor_of_counts(a: dict, b: dict) -> Decimal:
    """JSONExact of metrics file a over b from the counts of examples right, rounded half up."""
    hits = [round(m["overall"]["json_exact"] * m["n"]) for m in (a, b)]
    exact = Decimal(hits[0] * b["n"]) / Decimal(hits[1] * a["n"])
    return exact.quantize(Decimal("0.1"), ROUND_HALF_UP)


def test_numbers_match_the_metrics_files(built: Path) -> None:
    n = numbers_of(built)
    ft, ftf = metrics("ft-smollm2-135m-r16-constrained"), metrics("ft-smollm2-135m-r16-free")
    zs = metrics("zs-smollm2-135m-instruct-constrained")
    hold = metrics("ft-smollm2-135m-r16-constrained-holdout")
    assert n["MainFtExact"] == pct(ft["overall"]["json_exact"])
    assert n["MainFtFreeExact"] == pct(ftf["overall"]["json_exact"])
    assert n["MainZsExact"] == pct(zs["overall"]["json_exact"])
    assert n["MainFtFieldFOne"] == f"{ft['overall']['field_f1']:.3f}"
    assert n["MainFtCompliance"] == pct(ft["overall"]["compliance"])
    assert n["MainHoldoutExact"] == pct(hold["overall"]["json_exact"])
    assert n["NTest"] == str(ft["n"])
    assert n["NTestComplex"] == str(ft["by_tier"]["complex"]["n"])
    assert n["NSchemasHoldout"] == str(len(hold["by_schema"]))
    assert n["MainGain"] == f"a factor of {factor_of_counts(ft, zs)}$\\times$"
    wrong = sum(v for k, v in ft["errors"].items() if k != "correct")
    assert n["MainFtErrors"] == str(wrong)


def test_training_and_ablation_numbers(built: Path) -> None:
    n = numbers_of(built)
    main, r8 = train("smollm2-135m-r16"), train("smollm2-135m-r8")
    assert n["MainTrainWallTime"] == f"{main['wall_time_s'] / 60:.1f}\\,min"
    assert n["MainTrainTokensPerS"] == f"{main['real_tokens_per_s']:.0f}"
    assert n["MainTrainLoraR"] == str(main["lora"]["r"])
    assert n["AblRankMinValue"] == "8"
    assert n["AblRankMinExact"] == pct(
        metrics("ab-smollm2-135m-r8-constrained")["overall"]["json_exact"]
    )
    assert n["AblRankMinTime"] == f"{r8['wall_time_s'] / 60:.1f}\\,min"
    r8_f1 = metrics("ab-smollm2-135m-r8-constrained")["overall"]["field_f1"]
    assert n["AblRankMinFieldFOne"] == f"{r8_f1:.3f}"
    assert n["AblDataMinNTrain"] == str(train("smollm2-135m-data25")["n_train_examples"])
    half = max(
        (hi - lo) / 2
        for name in ("r8", "r32", "data25", "data50", "r16")
        for m in [metrics(f"{'ft' if name == 'r16' else 'ab'}-smollm2-135m-{name}-constrained")]
        for lo, hi in [wilson(m["overall"]["json_exact"], m["n"])]
    )
    assert n["AblCIHalfWidth"] == f"{100 * half:.1f}\\,pp"


def test_missing_results_say_not_run(built: Path) -> None:
    n = numbers_of(built)
    for name in ("ScaleFtExact", "ScaleZsExact", "AblFullLossExact", "ScaleVsMainVerdict",
                 "ScaleVsMainP", "AblFullLossP"):  # fmt: skip
        assert n[name] == r"\notrun{}", name
    assert n["ScaleZsFreeExact"] == pct(metrics("zs-gemma3-270m-free")["overall"]["json_exact"])
    assert "ft-gemma3-270m-r16-constrained" in n["ReportCompleteness"]
    # a run still training is listed as such, not as a finished run
    compute = (built / "paper" / "tables" / "compute.tex").read_text()
    assert r"\texttt{gemma3-270m-r16} & \multicolumn{10}{l}{running (20 steps logged)}" in compute


def test_dataset_recipe_and_reference_numbers(built: Path) -> None:
    n = numbers_of(built)
    data = json.loads((FIXTURE / "data" / "report.json").read_text())
    assert n["DataNHoldout"] == str(data["counts"]["holdout"]["n"])
    assert n["DataNSchemas"] == str(len(data["schemas"]))
    assert n["RecipeLearningRate"] == r"$2\times10^{-4}$"
    assert n["RecipeBatch"] == "32"
    assert n["PaperMaazaSmallExact"] == "24.7\\%"
    # the paper's 1.9% of its 158 test examples is 3 right: too few for its 13x to mean much
    assert n["PaperGainSmall"] == "no factor (3 of 158 right at the baseline)"
    assert n["FactorMinBase"] == "5"


def test_every_macro_line_names_its_source(built: Path) -> None:
    lines = (built / "paper" / "generated" / "numbers.tex").read_text().splitlines()
    macros = [line for line in lines if line.startswith(r"\newcommand")]
    assert len(macros) == len(numbers_of(built)) > 200
    assert all(re.search(r"\}% \S", line) for line in macros)


# ----------------------------------------------------------------------------- benchmarks
BENCH_MACROS = ("BenchEvalSpeedup", "BenchEvalRefExPerS", "BenchEvalFreeExPerS",
                "BenchEvalConstrainedExPerS", "BenchConstrainedOverhead", "BenchEvalN",
                "BenchEvalModel", "BenchEvalAdapter", "BenchEvalRefNewTokens", "BenchTrainSpeedup",
                "BenchTrainRefTokS", "BenchTrainOursTokS", "BenchTrainN", "BenchTrainSteps",
                "BenchTrainRefPadding", "BenchMethodSmolLoraStep", "BenchMethodGemmaFullMem",
                "BenchMethodRun")  # fmt: skip


def test_benchmark_numbers_match_the_bench_files(built: Path) -> None:
    n, ev, tr = numbers_of(built), bench("eval_throughput"), bench("train_throughput")
    # from the seconds, not the file's rounded speedup_free_vs_reference
    speedup = Decimal(str(ev["reference"]["seconds"])) / Decimal(str(ev["free"]["seconds"]))
    assert n["BenchEvalSpeedup"] == f"{speedup.quantize(Decimal('0.1'), ROUND_HALF_UP)}$\\times$"
    assert n["BenchEvalRefExPerS"] == f"{ev['reference']['examples_per_s']:.4f}"  # 3 significant
    assert n["BenchEvalFreeExPerS"] == f"{ev['free']['examples_per_s']:.3f}"
    assert n["BenchEvalConstrainedExPerS"] == f"{ev['constrained']['examples_per_s']:.3f}"
    assert n["BenchConstrainedOverhead"] == f"{100 * ev['constrained_overhead_wall']:+.1f}\\%"
    assert n["BenchConstrainedOverheadPerToken"] == (
        f"{100 * ev['constrained_overhead_per_token']:+.1f}\\%"
    )
    assert n["BenchEvalN"] == str(ev["n"])
    assert n["BenchEvalModel"] == rf"\texttt{{{tex_escape(ev['model'])}}}"
    assert n["BenchEvalAdapter"] == r"with the adapter of run \texttt{smollm2-135m-maaza}"
    assert n["BenchEvalRefNewTokens"] == str(ev["reference"]["tokens"] // ev["n"])
    speedup = ev["reference"]["seconds"] / ev["constrained"]["seconds"]
    assert n["BenchEvalConstrainedSpeedup"] == f"{speedup:.1f}$\\times$"
    assert (n["BenchEvalThreads"], n["BenchEvalDtype"]) == (str(ev["threads"]), r"\texttt{float32}")
    for name, secs in (("BenchTrainSpeedup", "wall_s"), ("BenchTrainSpeedupCPU", "cpu_s")):
        ours, ref = tr["ours"], tr["reference"]  # tokens per second from the counts
        speedup = Decimal(ours["real_tokens"] * ref[secs]) / Decimal(
            ref["real_tokens"] * ours[secs]
        )
        assert n[name] == f"{speedup.quantize(Decimal('0.1'), ROUND_HALF_UP)}$\\times$"
    assert n["BenchTrainRefTokS"] == f"{tr['reference']['tokens_per_s']:.0f}"
    assert n["BenchTrainOursTokS"] == f"{tr['ours']['tokens_per_s']:.0f}"
    assert n["BenchTrainN"] == str(tr["n_examples"])
    assert n["BenchTrainSteps"] == str(tr["steps"])
    assert n["BenchTrainRefRoof"] == pct(tr["reference"]["roof_fraction"])
    pad = 1 - tr["reference"]["real_tokens"] / tr["reference"]["padded_tokens"]
    assert n["BenchTrainRefPadding"] == f"{100 * pad:.1f}\\%"
    assert n["BenchTrainRefTruncated"] == str(tr["reference"]["n_truncated"])
    un = bench("extract_unseen")
    assert (n["BenchUnseenExact"], n["BenchUnseenN"]) == (str(un["n_exact"]), str(un["n"]))
    assert (n["BenchUnseenLeavesRight"], n["BenchUnseenLeaves"]) == ("39", "44")
    assert n["BenchUnseenRun"] == r"\texttt{smollm2-135m-maaza}"
    assert n["BenchUnseenLatency"] == "4.9\\,s"
    # ... each with the file and key it comes from
    tex = (built / "paper" / "generated" / "numbers.tex").read_text()
    assert "results/bench/eval_throughput.json: reference.seconds / free.seconds" in tex
    assert "results/bench/train_throughput.json: reference.tokens_per_s" in tex
    inventory = json.loads((built / "paper" / "generated" / "inventory.json").read_text())
    assert [Path(p).name for p in inventory["bench"]] == [
        "eval_throughput.json",
        "extract_unseen.json",
        "train_methods.json",
        "train_throughput.json",
    ]


def test_method_benchmark_gives_time_and_memory_per_model_and_method(built: Path) -> None:
    n, tm = numbers_of(built), bench("train_methods")
    for model, part in (("smollm2-135m-instruct", "Smol"), ("gemma3-270m", "Gemma")):
        for method in ("lora", "full"):
            case = tm["results"][model][method]
            name = f"BenchMethod{part}{method.capitalize()}"
            assert n[f"{name}Step"] == f"{case['s_per_step']:.1f}\\,s"
            assert n[f"{name}Mem"] == f"{case['peak_rss_train_gb']:.1f}\\,GB"
    assert (n["BenchMethodMicroBatch"], n["BenchMethodGradAccum"]) == ("4", "2")
    assert (n["BenchMethodSteps"], n["BenchMethodRun"]) == ("3", r"\texttt{screen-full-lr3e-4}")
    tex = (built / "paper" / "generated" / "numbers.tex").read_text()
    assert "train_methods.json: results.gemma3-270m.full.peak_rss_train_gb" in tex


def test_method_benchmark_without_a_case_reads_not_run(tmp_path: Path) -> None:
    """A run of the benchmark on one model only: the other model's numbers are not run."""
    src = tmp_path / "bench"
    shutil.copytree(FIXTURE / "results" / "bench", src)
    tm = bench("train_methods")
    del tm["results"]["gemma3-270m"]
    (src / "train_methods.json").write_text(json.dumps(tm))
    frames = load_frames(replace(paths_for(FIXTURE, tmp_path), bench_dir=src))
    n = report_numbers.parse(report_numbers.render(frames, load_reference()))
    assert n["BenchMethodGemmaLoraStep"] == n["BenchMethodGemmaFullMem"] == r"\notrun{}"
    full = tm["results"]["smollm2-135m-instruct"]["full"]
    assert n["BenchMethodSmolFullStep"] == f"{full['s_per_step']:.1f}\\,s"


def test_missing_benchmarks_say_not_run(tmp_path: Path) -> None:
    ref = load_reference()
    frames = load_frames(replace(paths_for(FIXTURE, tmp_path), bench_dir=None))
    n = report_numbers.parse(report_numbers.render(frames, ref))
    for name in BENCH_MACROS:
        assert n[name] == r"\notrun{}", name
    assert "eval_throughput.json (missing): reference.seconds / free.seconds" in (
        report_numbers.render(frames, ref)
    )
    # a train benchmark run with --variants has no reference/ours sides: those are not run
    src = tmp_path / "bench"
    src.mkdir()
    variants = {k: v for k, v in bench("train_throughput").items() if k not in ("reference", "ours",
                "ratio", "ratio_cpu")} | {"variants": []}  # fmt: skip
    (src / "train_throughput.json").write_text(json.dumps(variants))
    frames = load_frames(replace(paths_for(FIXTURE, tmp_path), bench_dir=src))
    n = report_numbers.parse(report_numbers.render(frames, ref))
    assert n["BenchTrainSpeedup"] == n["BenchTrainRefPadding"] == n["BenchEvalN"] == r"\notrun{}"
    assert n["BenchTrainN"] == str(variants["n_examples"])


def test_bad_bench_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "eval_throughput.json").write_text('{"n": 32,\n "model": }')
    with pytest.raises(ReportError, match=r"eval_throughput\.json:2:\d+: invalid JSON"):
        load_bench(tmp_path)
    (tmp_path / "eval_throughput.json").write_text(json.dumps({"model": "m", "n": 32}))
    with pytest.raises(ReportError, match=r"eval_throughput\.json: reference: Field required"):
        load_bench(tmp_path)
    assert load_bench(tmp_path / "absent") == {} and load_bench(None) == {}


# ----------------------------------------------------------------------------- our recipe
OURS = "smollm2-135m-maaza"


def design_of(runs: dict) -> object:
    common = {"model": "smollm2-135m-instruct"}
    return design_from_params(resolve({"train": {"common": common, "runs": runs}}))


def test_roles_are_the_declared_ones() -> None:
    d = load_design(FIXTURE / "params.yaml")
    assert (d.main_run, d.ours_runs, d.plan.runs_with("scale")) == (
        "smollm2-135m-r16",
        (OURS,),
        ("gemma3-270m-r16",),
    )
    roles = [d.role_of(r) for r in ("smollm2-135m-r16", OURS, "gemma3-270m-r16", "smollm2-135m-r8")]
    assert roles == ["paper_recipe", "ours", "scale", "ablation"]
    for name in (f"ft-{OURS}-free", f"ft-{OURS}-constrained", f"ft-{OURS}-constrained-holdout"):
        assert name in [e.name for e in d.plan.evals]
    assert OURS in d.plan.run_names
    # Roles are what params.yaml declares, not the order, the name or the base model.
    d = design_of({"big": {"role": "scale", "model": "gemma3-270m"}, "paper": {"role": "paper_recipe"},
                   "mine": {"role": "ours", "learning_rate": 1e-3},
                   "big2": {"role": "scale", "model": "gemma3-270m", "epochs": 1}})  # fmt: skip
    assert (d.main_run, d.ours_runs, d.plan.runs_with("scale")) == (
        "paper",
        ("mine",),
        ("big", "big2"),
    )
    assert d.ours_recipe["LearningRate"] == (1e-3, "train.runs.mine.learning_rate")
    assert d.ours_recipe["Epochs"] == (3, "train.common.epochs")
    runs = {"paper": {"role": "paper_recipe"}, "big": {"role": "scale", "model": "gemma3-270m"}}
    assert design_of(runs).ours_runs == ()


def test_our_recipe_numbers_match_the_metrics_files(built: Path) -> None:
    n = numbers_of(built)
    ours, free = metrics(f"ft-{OURS}-constrained"), metrics(f"ft-{OURS}-free")
    hold, main = (
        metrics(f"ft-{OURS}-constrained-holdout"),
        metrics("ft-smollm2-135m-r16-constrained"),
    )
    zs = metrics("zs-smollm2-135m-instruct-constrained")
    tr = train(OURS)
    exact = ours["overall"]["json_exact"]
    assert n["OursExact"] == pct(exact)
    lo, hi = wilson(exact, ours["n"])
    assert n["OursExactCI"] == f"[{100 * lo:.1f}, {100 * hi:.1f}]\\%"
    assert n["OursFreeExact"] == pct(free["overall"]["json_exact"])
    assert n["OursFieldFOne"] == f"{ours['overall']['field_f1']:.3f}"
    assert n["OursLeafFOne"] == f"{ours['overall']['leaf_f1']:.3f}"
    assert n["OursCompliance"] == pct(ours["overall"]["compliance"])
    assert n["OursHoldoutExact"] == pct(hold["overall"]["json_exact"])
    lo, hi = wilson(hold["overall"]["json_exact"], hold["n"])
    assert n["OursHoldoutExactCI"] == f"[{100 * lo:.1f}, {100 * hi:.1f}]\\%"
    assert n["OursGain"] == f"a factor of {factor_of_counts(ours, zs)}$\\times$"
    assert n["OursVsMain"] == f"{100 * (exact - main['overall']['json_exact']):+.1f}\\,pp"
    # the fixture is made so that the comparison is not trivially zero
    assert exact != main["overall"]["json_exact"]
    assert 120 <= tr["wall_time_s"] < 7200
    assert n["OursTrainWallTime"] == f"{tr['wall_time_s'] / 60:.1f}\\,min"
    assert n["OursTrainNTrain"] == f"{tr['n_train_examples']:,}".replace(",", "{,}")
    assert n["OursTrainSteps"] == str(tr["steps"])
    assert n["OursTrainTokensPerS"] == f"{tr['real_tokens_per_s']:.0f}"
    # recipe settings come from the fixture params.yaml, not from the results
    assert n["OursExtraTrain"] == "2{,}400"
    assert (n["RecipeOptionalDropRate"], n["OursExtraDropRate"], n["OursExtraLocales"]) == (
        "0.3",
        "0.5",
        "3",
    )
    assert n["OursLearningRate"] == r"$5\times10^{-4}$"
    assert n["OursBatch"] == "8"
    assert n["OursEpochs"] == "1"
    wrong = {k: v for k, v in ours["errors"].items() if k != "correct"}
    top = max(sorted(wrong), key=lambda k: wrong[k])
    assert n["OursErrors"] == str(sum(wrong.values()))
    assert n["OursErrTop"] == top.replace("_", " ")
    assert n["OursErrTopShare"] == f"{100 * wrong[top] / sum(wrong.values()):.0f}\\%"
    # ... each with its source
    tex = (built / "paper" / "generated" / "numbers.tex").read_text()
    assert f"\\newcommand{{\\OursExact}}{{{pct(exact)}}}% " in tex
    assert f"ft-{OURS}-constrained/metrics.json: json_exact" in tex
    assert f"runs/{OURS}/train_metrics.json: steps" in tex
    assert f"params.yaml: train.runs_extra.{OURS}.learning_rate" in tex


NOT_RUN_3 = r"\multicolumn{3}{c}{\notrun{}}"


def test_training_sample_evals_give_fit_numbers_and_their_own_table(built: Path) -> None:
    n = numbers_of(built)
    fit, test = metrics(f"ft-{OURS}-constrained-train"), metrics(f"ft-{OURS}-constrained")
    fit_x, test_x = fit["overall"]["json_exact"], test["overall"]["json_exact"]
    assert fit["split"] == "train" and n["OursFitExact"] == pct(fit_x)
    assert n["OursFitN"] == str(fit["n"])
    assert n["MainFitExact"] == pct(
        metrics("ft-smollm2-135m-r16-constrained-train")["overall"]["json_exact"]
    )
    assert n["OursTestVsFitP"].startswith("Fisher $p")  # different examples: not paired
    lo, hi = wilson(fit_x, fit["n"])
    assert n["OursFitVerdict"] == ("inside" if lo <= test_x <= hi else "outside")
    side = "inside" if lo <= test_x <= hi else ("below" if test_x < lo else "above")
    assert n["OursFitReading"] == report_numbers.SPEC["fit"]["reading"][side]
    main_fit = metrics("ft-smollm2-135m-r16-constrained-train")["overall"]["json_exact"]
    main_test = metrics("ft-smollm2-135m-r16-constrained")["overall"]["json_exact"]
    lo, hi = wilson(main_fit, metrics("ft-smollm2-135m-r16-constrained-train")["n"])
    main_side = "inside" if lo <= main_test <= hi else ("below" if main_test < lo else "above")
    assert n["MainFitShort"] == report_numbers.SPEC["fit"]["short"][main_side]
    assert set(report_numbers.SPEC["fit"]["short"]) == set(report_numbers.SPEC["fit"]["reading"])
    assert n["ScaleFitExact"] == n["ScaleFitVerdict"] == n["ScaleFitShort"] == r"\notrun{}"
    table = (built / "paper" / "tables" / "generalisation.tex").read_text()
    row = rf"\texttt{{{OURS}}} (our recipe) & {pct(fit_x)} & "
    assert row in table
    assert rf"\texttt{{gemma3-270m-r16}} & {NOT_RUN_3}" in table
    assert f"the first {fit['n']} examples" in table
    # headline tables and the heatmap stay about unseen examples
    for name in ("main_results", "tier_breakdown", "error_analysis"):
        assert "train sample" not in (built / "paper" / "tables" / f"{name}.tex").read_text()


def test_main_results_and_other_tables_have_our_recipe(built: Path) -> None:
    tables = built / "paper" / "tables"
    main = (tables / "main_results.tex").read_text()
    head = r"\texttt{smollm2-135m}, our recipe & 134.5M & "
    for name, setting, mode in (
        (f"ft-{OURS}-constrained", "fine-tuned", "constrained"),
        (f"ft-{OURS}-free", "fine-tuned", "free"),
        (f"ft-{OURS}-constrained-holdout", "fine-tuned, holdout", "constrained"),
    ):
        m = metrics(name)["overall"]
        assert f"{head}{setting} & {mode} & {pct(m['json_exact'])} & " in main, name
    # the paper-recipe rows stay unlabelled, and come first
    paper_row = r"\texttt{smollm2-135m} & 134.5M & fine-tuned & constrained & "
    assert main.index(paper_row) < main.index(head + "fine-tuned & constrained")
    tier = (tables / "tier_breakdown.tex").read_text()
    assert r"\texttt{smollm2-135m}, our recipe & fine-tuned & constrained & " in tier
    compute = (tables / "compute.tex").read_text()
    assert rf"\texttt{{{OURS}}} {{\scriptsize(our recipe)}} & 16 & 2{{,}}920 & 1 & " in compute


def test_missing_results_of_our_recipe_say_not_run(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)
    shutil.rmtree(src / "runs" / OURS)
    for split in ("free", "constrained", "constrained-holdout"):
        shutil.rmtree(src / "results" / "eval" / f"ft-{OURS}-{split}")
    frames, ref = load_frames(paths_for(src, tmp_path / "out")), load_reference()
    n = report_numbers.parse(report_numbers.render(frames, ref))
    for name in ("OursExact", "OursExactCI", "OursFreeExact", "OursHoldoutExact", "OursGain",
                 "OursVsMain", "OursTrainWallTime", "OursTrainNTrain", "OursErrors", "OursErrTop"):  # fmt: skip
        assert n[name] == r"\notrun{}", name
    assert n["OursLearningRate"] == r"$5\times10^{-4}$"  # a setting: params.yaml still says it
    main = report_tables.main_results(frames, ref)
    not_run = r"\multicolumn{6}{c}{\notrun{}}"
    # every headline eval the plan declares: test and held-out splits, both decoding modes
    assert main.count(r"\texttt{smollm2-135m}, our recipe & 134.5M & ") == 4
    assert main.count(f"our recipe & 134.5M & fine-tuned & constrained & {not_run}") == 1
    compute = report_tables.compute(frames, ref)
    missing_run = r"{\scriptsize(our recipe)} & \multicolumn{10}{l}{\notrun{}}"
    assert rf"\texttt{{{OURS}}} {missing_run}" in compute
    # params.yaml without a run of our recipe: its settings are not run either, nothing breaks
    params = tmp_path / "params.yaml"
    text = (FIXTURE / "params.yaml").read_text()
    params.write_text("\n".join(line for line in text.splitlines() if OURS not in line))
    frames = load_frames(paths_for(src, tmp_path / "out", params))
    n = report_numbers.parse(report_numbers.render(frames, ref))
    assert n["OursLearningRate"] == n["OursExtraTrain"] == n["OursExact"] == r"\notrun{}"
    assert "our recipe" not in report_tables.main_results(frames, ref)


def test_figures_draw_our_recipe_as_its_own_series(built: Path) -> None:
    frames = load_frames(paths_for(FIXTURE, built))
    colors = figstyle.model_colors(frames)
    key = "smollm2-135m-instruct|ours"
    assert colors[key] != colors["smollm2-135m-instruct"] and colors[key] in figstyle.PALETTE
    ours = frames.evals[frames.evals["run"] == OURS]
    assert len(ours) == 4 and set(ours["role"]) == {"ours"}
    assert sorted(ours["kind"]) == ["fine-tuned", "fine-tuned", "fine-tuned", "fit"]
    assert all("our recipe" in label for label in ours["label"])
    row = ours[ours["mode"] == "constrained"].iloc[0]
    main = frames.find_eval("smollm2-135m-r16", "constrained")
    assert figstyle.point_style(row, colors)["marker"] == figstyle.OURS_MARKERS["constrained"]
    assert figstyle.point_style(main, colors)["marker"] == figstyle.MARKERS["constrained"]
    assert figstyle.bar_style(row, colors)["hatch"] == figstyle.OURS_HATCH
    assert figstyle.bar_style(main, colors)["hatch"] is None
    runs = figstyle.run_colors(frames)
    assert runs[OURS] == colors[key] and runs["smollm2-135m-r16"] == colors["smollm2-135m-instruct"]
    assert len(set(map(tuple, runs.values()))) == len(runs)  # every loss curve its own colour


# ----------------------------------------------------------------------------- paper sources
def test_paper_uses_only_generated_macros_tables_and_figures(built: Path) -> None:
    defined = set(numbers_of(built))
    text = "\n".join(p.read_text() for p in sorted((PAPER / "sections").glob("*.tex")))
    used = set(re.findall(r"\\([A-Z][A-Za-z]*)\b", text)) - {"Cref", "FloatBarrier", "IfFileExists"}
    assert used <= defined, f"undefined macros in paper/sections: {sorted(used - defined)}"
    # tables/external.tex: written (and input) only with an external dataset (tests/test_external.py)
    tables = set(report_tables.TABLES) | set(ORIGINAL_TABLES) | {EXTERNAL}
    assert set(re.findall(r"\\input\{tables/(\w+)\}", text)) <= tables
    assert set(re.findall(r"\\includegraphics\[[^]]*\]\{(\w+)\}", text)) == set(
        report_figures.FIGURES
    )
    # No digits typed into running text outside macros, names and comments (a heuristic guard).
    prose = re.sub(r"%.*", "", text)
    prose = re.sub(
        r"\\[A-Za-z]+|\{[^{}]*(?:ref|label)[^{}]*\}|[\w.-]*[A-Za-z][\w.-]*\d[\w.-]*", "", prose
    )
    # Allowed: definitions (JSONExact is 1; 95% intervals) and the JSON-equality examples.
    digits = set(re.findall(r"\d+(?:\.\d+)?", prose))
    assert digits <= {"0", "1", "18", "18.0", "100", "95"}, f"hand-typed number? {digits}"


def test_latex_builds(built: Path, tmp_path: Path) -> None:
    assert_pdf_builds(built, tmp_path)


def assert_pdf_builds(built: Path, tmp_path: Path) -> None:
    """The paper compiles (latexmk) with the figures, tables and numbers of a report in `built`."""
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        pytest.skip(
            "latexmk not installed (TeX Live: `make paper-deps`), so the PDF build is not tested"
        )
    shutil.copytree(built / "figures", tmp_path / "figures")
    shutil.copytree(built / "paper", tmp_path / "paper")
    shutil.copy(PAPER / "main.tex", tmp_path / "paper")
    shutil.copy(PAPER / "references.bib", tmp_path / "paper")
    shutil.copytree(PAPER / "sections", tmp_path / "paper" / "sections")
    cmd = [latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]
    proc = subprocess.run(cmd, cwd=tmp_path / "paper", capture_output=True, text=True)
    log = (tmp_path / "paper" / "main.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-3000:]
    assert (tmp_path / "paper" / "main.pdf").stat().st_size > 50_000
    assert "undefined" not in log.lower().replace("undefined references", ""), "undefined ref/cite"


# ----------------------------------------------------------------------------- edge cases
def test_nothing_found_still_writes_everything(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    inv = build_report(paths_for(empty, tmp_path / "out"), progress=False)
    assert inv.found_runs == [] and inv.found_evals == []
    design = load_design(FIXTURE / "params.yaml")
    # 4 zero-shot, 6 fine-tuned, 6 held-out (both modes), 3 train-sample, 1 val (ours only),
    # 5 ablation evals; 8 runs
    assert len(inv.missing) == len(design.plan.evals) + len(design.plan.run_names) == 25 + 8
    n = numbers_of(tmp_path / "out")
    assert n["MainFtExact"] == n["DataNHoldout"] == n["MainTrainWallTime"] == r"\notrun{}"
    assert n["BenchEvalSpeedup"] == n["BenchTrainSpeedup"] == r"\notrun{}"  # no results/bench
    for name in report_figures.FIGURES:
        assert (tmp_path / "out" / "figures" / f"{name}.png").exists()
    assert r"\notrun{}" in (tmp_path / "out" / "paper" / "tables" / "main_results.tex").read_text()


def test_no_params_file_still_writes_everything(tmp_path: Path) -> None:
    """Without params.yaml no run has a role: no ablation points, and every role's number reads
    not run (the empty ablation frame used to raise KeyError 'is_main')."""
    paths = replace(paths_for(FIXTURE, tmp_path), params_file=None)
    inv = build_report(paths, progress=False)
    assert inv.missing == [] and inv.found_evals
    n = numbers_of(tmp_path)
    assert n["AblRankCount"] == "0"
    assert n["MainFtExact"] == n["AblFullLossDelta"] == n["OursExact"] == r"\notrun{}"
    assert r"\notrun{}" in (tmp_path / "paper" / "tables" / "ablations.tex").read_text()


def test_runs_and_evals_are_discovered_not_listed(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)
    extra = src / "results" / "eval" / "zs-other-model-free"
    shutil.copytree(src / "results" / "eval" / "zs-gemma3-270m-free", extra)
    m = json.loads((extra / "metrics.json").read_text())
    (extra / "metrics.json").write_text(
        json.dumps(m | {"name": extra.name, "model": "other-model"})
    )
    frames = load_frames(paths_for(src, tmp_path / "out"))
    assert "zs-other-model-free" in frames.inventory.extra
    assert r"\texttt{other-model}" in report_tables.main_results(frames, load_reference())


def test_bad_result_files_give_path_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "e"
    bad.mkdir()
    (bad / "metrics.json").write_text('{"name": "e",\n "n": }')
    with pytest.raises(ReportError, match=r"metrics\.json:2:\d+: invalid JSON"):
        load_eval(bad)
    (bad / "metrics.json").write_text(json.dumps({**metrics("zs-gemma3-270m-free"), "overall": {}}))
    with pytest.raises(ReportError, match=r"metrics\.json: overall\.json_exact"):
        load_eval(bad)


def test_rebuild_is_byte_identical(built: Path, tmp_path: Path) -> None:
    """Same results -> same bytes (no timestamps), so rerunning the stage changes nothing."""
    frames, ref = load_frames(paths_for(FIXTURE, tmp_path)), load_reference()
    assert report_numbers.render(frames, ref) == (built / "paper/generated/numbers.tex").read_text()
    assert (
        report_tables.ablations(frames, ref) == (built / "paper/tables/ablations.tex").read_text()
    )
    report_figures.save(report_figures.errors(frames, ref), tmp_path / "errors")
    for ext in ("png", "pdf"):
        assert (tmp_path / f"errors.{ext}").read_bytes() == (
            built / f"figures/errors.{ext}"
        ).read_bytes()


# ----------------------------------------------------------------------------- small pure parts
def test_wilson_interval() -> None:
    lo, hi = wilson(0.5, 100)
    assert (round(lo, 4), round(hi, 4)) == (0.4038, 0.5962)
    assert wilson(0.0, 10)[0] == 0.0 and 0.25 < wilson(0.0, 10)[1] < 0.3


def test_paper_percentage_check() -> None:
    assert achievable(44.7, 76)  # 34/76
    assert not achievable(13.5, 57)  # 7/57 = 12.3%, 8/57 = 14.0%
    assert achievable(13.5, 37)  # 5/37 -- the paper's medium tier fits n=37, not 57


def test_reference_file_is_complete() -> None:
    ref = load_reference()
    assert {m["macro"] for m in ref["models"]} == {
        "BaseSmall",
        "MaazaSmall",
        "BaseMid",
        "MaazaMid",
        "Qwen",
    }
    assert all("section" in m["overall"] for m in ref["models"])
    assert [p["r"] for p in ref["ablations"]["rank"]["points"]] == [8, 16, 32]


def test_cli_report_reports_bad_files_and_exits_1(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from maaza.cli import app

    (tmp_path / "eval" / "e1").mkdir(parents=True)
    (tmp_path / "eval" / "e1" / "metrics.json").write_text('{"name": 1')
    args = ["report", "--eval-dir", str(tmp_path / "eval"), "--runs-dir", str(tmp_path / "none"),
            "--figures-dir", str(tmp_path / "f"), "--tables-dir", str(tmp_path / "t"),
            "--generated-dir", str(tmp_path / "g")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert re.search(r"e1/metrics\.json:1:\d+: invalid JSON", result.output.replace("\n", ""))
    assert not (tmp_path / "g" / "numbers.tex").exists()


def test_scale_numbers_compare_the_larger_model_with_both_recipes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)
    n = report_numbers.parse(
        report_numbers.render(load_frames(paths_for(src, tmp_path)), load_reference())
    )
    assert n["ScaleVsMainVerdict"] == n["OursVsScaleVerdict"] == r"\notrun{}"  # no gemma eval yet
    # a fine-tuned gemma eval, 10 points above the main run and below our recipe
    main = metrics("ft-smollm2-135m-r16-constrained")
    exact = main["overall"]["json_exact"] + 0.1
    gemma = src / "results" / "eval" / "ft-gemma3-270m-r16-constrained"
    shutil.copytree(src / "results" / "eval" / "ft-smollm2-135m-r16-constrained", gemma)
    m = main | {"name": gemma.name, "model": "gemma3-270m", "run": "gemma3-270m-r16"}
    m["overall"] = main["overall"] | {"json_exact": exact}
    (gemma / "metrics.json").write_text(json.dumps(m))
    frames = load_frames(paths_for(src, tmp_path))
    n = report_numbers.parse(report_numbers.render(frames, load_reference()))
    assert n["ScaleFtExact"] == pct(exact)
    # its metrics say 10 points above, but its predictions are the main run's, example for
    # example: the paired test finds no discordant pair, and the wording follows the test
    assert n["ScaleVsMainVerdict"] == "not significantly different from"
    assert n["ScaleVsMainP"] == "McNemar $p = 1.00$"
    assert n["OursVsScaleP"] == n["OursVsMainP"]  # the same outcomes as the main run's
    ratio = frames.model_params["gemma3-270m"] / frames.model_params["smollm2-135m-instruct"]
    assert n["ScaleParamsRatio"] == f"{ratio:.1f}$\\times$"


def test_cli_numbers_traces_a_value_to_its_source(built: Path) -> None:
    from typer.testing import CliRunner

    from maaza.cli import app

    tex = built / "paper" / "generated" / "numbers.tex"
    exact = pct(metrics(f"ft-{OURS}-constrained")["overall"]["json_exact"])
    result = CliRunner().invoke(app, ["numbers", "OursExact", "--numbers-file", str(tex)])
    assert result.exit_code == 0
    out = result.output.replace("\n", "").replace("│", "").replace(" ", "")
    assert "\\OursExact" in out and exact in out
    assert f"results/eval/ft-{OURS}-constrained/metrics.json:json_exact" in out
    assert "\\MainFtExact" not in out  # only what matches
    result = CliRunner().invoke(app, ["numbers", "no-such", "--numbers-file", str(tex)])
    assert result.exit_code == 1 and "no macro" in result.output


def test_completeness_sentence_lists_what_is_missing_or_says_all(built: Path) -> None:
    sentence = numbers_of(built)["ReportCompleteness"]
    inventory = json.loads((built / "paper" / "generated" / "inventory.json").read_text())
    design = load_design(FIXTURE / "params.yaml")
    n_runs, n_evals = len(design.plan.run_names), len(design.plan.evals)
    assert sentence.startswith(f"{len(inventory['missing'])} of the {n_runs + n_evals} results")
    missing = ", ".join(rf"\texttt{{{tex_escape(m)}}}" for m in inventory["missing"])
    assert f": {missing}. Runs still training: " in sentence and r"\notrun{}" in sentence
    frames = load_frames(paths_for(FIXTURE, built))
    complete = replace(
        frames,
        inventory=replace(frames.inventory, missing_runs=[], missing_evals=[], in_progress={}),
    )
    assert completeness(complete) == (
        f"All {n_runs + n_evals} results the pipeline defines ({n_runs} "
        f"training runs and {n_evals} evaluations) were available when this "
        "document was built."
    )


def test_search_trials_get_their_table_and_figure_without_test(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)
    params = tmp_path / "params.yaml"
    params.write_text((FIXTURE / "params.yaml").read_text() + "search:\n  runs:\n"
                      "    screen-a: {extra_train: 10, step_fraction: 0.5}\n"
                      "    screen-b: {extra_train: 10, learning_rate: 1.0e-3}\n")  # fmt: skip
    run = json.loads((src / "runs" / OURS / "train_metrics.json").read_text())
    (src / "runs" / "screen-a").mkdir()
    (src / "runs" / "screen-a" / "train_metrics.json").write_text(
        json.dumps({**run, "run": "screen-a", "wall_time_s": 600.0})
    )
    val = src / "results" / "eval" / "ft-screen-a-constrained-val"
    shutil.copytree(src / "results" / "eval" / f"ft-{OURS}-constrained", val)
    m = json.loads((val / "metrics.json").read_text())
    (val / "metrics.json").write_text(json.dumps({**m, "run": "screen-a", "split": "val"}))
    frames, ref = load_frames(paths_for(src, tmp_path / "out", params)), load_reference()
    row = frames.evals[frames.evals["name"] == "ft-screen-a-constrained-val"].iloc[0]
    assert row["kind"] == "val" and row["name"] not in set(frames.headline()["name"])
    search = frames.search.set_index("trial")
    assert search.loc["screen-a", "json_exact"] == m["overall"]["json_exact"]
    assert search.loc["screen-a", "train_minutes"] == 10.0
    assert search.loc["screen-a", "step_s"] == pytest.approx(600.0 / run["steps"])
    assert search["json_exact"].isna()["screen-b"]
    table = report_tables.search(frames, ref)
    assert r"\texttt{screen-a}" in table and r"\texttt{screen-b}" in table
    assert "not looked at" in table and "Val JSONExact" in table and "Test" not in table
    assert "s/step" in table and f"& {600.0 / run['steps']:.1f} \\\\" in table
    assert "screen-a" not in report_tables.compute(frames, ref)
    report_figures.search(frames, ref)  # draws (placeholder only when nothing ran)


def test_an_empty_table_says_so_across_its_columns(built: Path) -> None:
    tex = (built / "paper" / "tables" / "search.tex").read_text()  # the fixture declares no trials
    assert r"\multicolumn{7}{c}{no search trials declared (params.yaml search.runs)} \\" in tex
