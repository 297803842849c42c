"""The report stage, built from the made-up results in tests/fixtures/report/ (see make_fixtures.py).

The fixture is deliberately incomplete (gemma run and full-loss ablation still training, their
evals absent) so every test here also exercises the "not run" paths.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from maaza import report_figures, report_numbers, report_tables
from maaza.report import (
    ReportError,
    ReportPaths,
    build_report,
    load_design,
    load_eval,
    load_frames,
    load_reference,
    wilson,
)

FIXTURE = Path(__file__).parent / "fixtures" / "report"
PAPER = Path(__file__).resolve().parents[1] / "paper"


def paths_for(src: Path, out: Path) -> ReportPaths:
    return ReportPaths(
        runs_dir=src / "runs",
        eval_dir=src / "results" / "eval",
        data_report=src / "data" / "report.json",
        params_file=FIXTURE / "params.yaml",
        figures_dir=out / "figures",
        tables_dir=out / "paper" / "tables",
        generated_dir=out / "paper" / "generated",
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


# ----------------------------------------------------------------------------- outputs exist
def test_every_figure_and_table_is_written(built: Path) -> None:
    for name in report_figures.FIGURES:
        for ext in ("png", "pdf"):
            path = built / "figures" / f"{name}.{ext}"
            assert path.stat().st_size > 1000, path
    for name in report_tables.TABLES:
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
    ratio = ft["overall"]["json_exact"] / zs["overall"]["json_exact"]
    assert n["MainGain"] == f"{ratio:.1f}$\\times$"
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
    assert n["AblDataMinNTrain"] == str(train("smollm2-135m-data25")["n_train_examples"])


def test_missing_results_say_not_run(built: Path) -> None:
    n = numbers_of(built)
    for name in (
        "ScaleFtExact",
        "ScaleZsExact",
        "ScaleTrainWallTime",
        "AblFullLossExact",
        "ScaleGain",
    ):
        assert n[name] == r"\notrun{}", name
    assert n["ScaleZsFreeExact"] == pct(metrics("zs-gemma3-270m-free")["overall"]["json_exact"])
    assert "ft-gemma3-270m-r16-constrained" in n["ReportMissingList"]


def test_dataset_recipe_and_reference_numbers(built: Path) -> None:
    n = numbers_of(built)
    data = json.loads((FIXTURE / "data" / "report.json").read_text())
    assert n["DataNTrain"] == str(data["counts"]["train"]["n"])
    assert n["DataNSchemas"] == str(len(data["schemas"]))
    assert n["RecipeLearningRate"] == r"$2\times10^{-4}$"
    assert n["RecipeBatch"] == "32"
    assert n["PaperMaazaSmallExact"] == "24.7\\%"
    assert n["PaperGainSmall"] == "13.0$\\times$"


def test_every_macro_line_names_its_source(built: Path) -> None:
    lines = (built / "paper" / "generated" / "numbers.tex").read_text().splitlines()
    macros = [line for line in lines if line.startswith(r"\newcommand")]
    assert len(macros) == len(numbers_of(built)) > 200
    assert all(re.search(r"\}% \S", line) for line in macros)


# ----------------------------------------------------------------------------- paper sources
def test_paper_uses_only_generated_macros_tables_and_figures(built: Path) -> None:
    defined = set(numbers_of(built))
    text = "\n".join(p.read_text() for p in sorted((PAPER / "sections").glob("*.tex")))
    used = set(re.findall(r"\\([A-Z][A-Za-z]*)\b", text)) - {"Cref", "FloatBarrier"}
    assert used <= defined, f"undefined macros in paper/sections: {sorted(used - defined)}"
    assert set(re.findall(r"\\input\{tables/(\w+)\}", text)) <= set(report_tables.TABLES)
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
    latexmk = shutil.which("latexmk")
    if latexmk is None:
        pytest.skip(
            "latexmk not installed (TeX Live: `make paper-deps`), so the PDF build is not tested"
        )
    shutil.copytree(built / "figures", tmp_path / "figures")
    shutil.copytree(built / "paper", tmp_path / "paper")
    shutil.copy(PAPER / "main.tex", tmp_path / "paper")
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
    assert len(inv.missing) == len(load_design(FIXTURE / "params.yaml").expected_evals()) + 7
    n = numbers_of(tmp_path / "out")
    assert n["MainFtExact"] == n["DataNTrain"] == n["MainTrainWallTime"] == r"\notrun{}"
    for name in report_figures.FIGURES:
        assert (tmp_path / "out" / "figures" / f"{name}.png").exists()
    assert r"\notrun{}" in (tmp_path / "out" / "paper" / "tables" / "main_results.tex").read_text()


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
    with pytest.raises(ReportError, match=r"metrics\.json:2: invalid JSON"):
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
    assert report_numbers.achievable(44.7, 76)  # 34/76
    assert not report_numbers.achievable(13.5, 57)  # 7/57 = 12.3%, 8/57 = 14.0%
    assert report_numbers.achievable(13.5, 37)  # 5/37 -- the paper's medium tier fits n=37, not 57


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
    assert "e1/metrics.json:1: invalid JSON" in result.output.replace("\n", "")
    assert not (tmp_path / "g" / "numbers.tex").exists()
