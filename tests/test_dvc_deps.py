"""dvc.yaml declares exactly what each stage reads: its notebook, the `src/maaza` modules that
notebook imports (transitively, function-level imports included), and its data files.

Over-broad deps cost hours (one edit re-runs every training); missing ones leave stale results.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from maaza import headline
from maaza.config import resolve
from maaza.plan import load_plan, plan_from_params

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "src" / "maaza"


def _module_path(name: str) -> Path | None:
    """src/maaza path of a dotted maaza module: a sub-package counts as its folder."""
    parts = name.split(".")
    if parts[0] != "maaza" or len(parts) == 1:
        return None  # maaza/__init__.py imports nothing eagerly (PEP 562 lazy Extractor)
    path = PKG.joinpath(*parts[1:2])  # maaza.datagen.simple -> the datagen package
    if path.is_dir():
        return path
    file = path.with_suffix(".py")
    return file if file.is_file() else None


def _imports(source: str, package: str = "maaza") -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside a package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            names.add(mod)
            names |= {f"{mod}.{a.name}" for a in node.names}  # `from maaza import io`
    return {n for n in names if n.split(".")[0] == "maaza"}


def _files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def module_deps(source: str) -> set[Path]:
    """src/maaza files and packages reachable from `source`'s imports."""
    todo, seen = list(_imports(source)), set()
    while todo:
        path = _module_path(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        for f in _files(path):
            pkg = ".".join(("maaza", *f.relative_to(PKG).with_suffix("").parts[:-1]))
            todo += _imports(f.read_text(), pkg)
    return seen


def notebook_source(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def _stages(cwd: Path = ROOT) -> dict:
    """dvc.yaml as DVC resolves it (foreach/matrix expanded, params interpolated)."""
    out = subprocess.run(
        [sys.executable, "-c", "import json,dvc.repo; r=dvc.repo.Repo('.'); print(json.dumps("
         "{s.addressing: {'deps': [d.def_path for d in s.deps], 'outs': [o.def_path for o in "
         "s.outs]} for s in r.index.stages}))"],
        cwd=cwd, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _module_deps(deps: list[str]) -> tuple[set[str], set[str]]:
    """(src modules a stage declares, src modules its notebook imports, transitively); a stage
    without a notebook imports nothing."""
    notebooks = [d for d in deps if d.startswith("notebooks/") and d.endswith(".ipynb")]
    # src/maaza data files a module reads (e.g. paper_reference.yaml) are data deps, not modules
    declared = {d for d in deps if d.startswith("src/maaza") and Path(d).suffix in ("", ".py")}
    if not notebooks:
        return declared, set()
    (notebook,) = notebooks
    return declared, {
        str(p.relative_to(ROOT)) for p in module_deps(notebook_source(ROOT / notebook))
    }


def _mismatch(stage: str, declared: set[str], expected: set[str]) -> str:
    return (
        f"{stage}: dvc.yaml lists {sorted(declared - expected)} it does not read, "
        f"misses {sorted(expected - declared)}"
    )


STAGES = _stages()


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_are_exact(stage):
    declared, expected = _module_deps(STAGES[stage]["deps"])
    assert declared == expected, _mismatch(stage, declared, expected)


PLAN = load_plan(ROOT / "params.yaml")
EXTERNAL_STAGES = ("data_external", "external")
EVAL_STAGES = {s: v for s, v in STAGES.items() if s.startswith("eval")}
TRAIN_KINDS = ("train", "train_extra", "ablate", "search")
TRAIN_STAGES = {
    s: v
    for s, v in STAGES.items()
    if s.split("@")[0] in (*TRAIN_KINDS, *(f"{k}_seeds" for k in TRAIN_KINDS))
}


def subject(stage: str) -> str:
    """The run or model a stage trains or evaluates: a seed matrix stage <stage>@<run>-<seed>
    stands for the replicate <run>-s<seed>."""
    kind, key = stage.split("@")
    if not kind.endswith("_seeds"):
        return key
    run, seed = key.rsplit("-", 1)
    return f"{run}-s{seed}"


def test_every_declared_subject_and_run_has_its_stage():
    assert sorted(map(subject, EVAL_STAGES)) == sorted(PLAN.subjects)
    assert sorted(map(subject, TRAIN_STAGES)) == sorted(PLAN.run_names)


@pytest.mark.parametrize("stage", sorted(EVAL_STAGES))
def test_eval_stage_mirrors_the_plan(stage):
    """Outs are exactly the plan's evaluation folders and their headline files (DVC metrics);
    data deps exactly their data files."""
    evals = PLAN.evals_of(subject(stage))
    all_outs = EVAL_STAGES[stage]["outs"]
    headlines = {o for o in all_outs if o.startswith(f"{headline.METRICS_DIR}/")}
    assert headlines == {str(headline.eval_path(e.name)) for e in evals}
    outs = {str(Path(o).parent) for o in set(all_outs) - headlines}
    assert outs == {str(e.out_dir()) for e in evals}
    data = {d for d in EVAL_STAGES[stage]["deps"] if d.startswith("data/")}
    assert data == {str(e.data_file()) for e in evals}


@pytest.mark.parametrize("stage", sorted(TRAIN_STAGES))
def test_only_extra_data_runs_and_trials_read_train_extra(stage):
    run = PLAN.run(subject(stage))
    reads_extra = "data/train_extra.jsonl" in TRAIN_STAGES[stage]["deps"]
    assert reads_extra == (run.section in ("train.runs_extra", "search.runs"))


def test_a_new_run_is_a_params_edit_only(tmp_path):
    """Declaring one more run in params.yaml gives its training and evaluation stages, and the
    report picks it up by its declared role."""
    from maaza.config import load_params
    from maaza.report import design_from_params

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["runs_extra"]["smollm2-135m-lr1e4"] = {
        "role": "ours", "extra_train": 100, "learning_rate": 1e-4,
    }  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    subprocess.run(
        [sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True
    )
    listed = subprocess.run(
        [sys.executable, "-m", "dvc", "stage", "list", "--name-only"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert {"train_extra@smollm2-135m-lr1e4", "eval_extra@smollm2-135m-lr1e4"} <= set(listed)
    design = design_from_params(load_params(tmp_path / "params.yaml"))
    assert "smollm2-135m-lr1e4" in design.ours_runs


def _project_copy(tmp_path: Path, params: dict) -> Path:
    """params.yaml and dvc.yaml in a DVC project of their own (stage listing only)."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    subprocess.run(
        [sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True
    )
    return tmp_path


def test_external_stages_exist_only_with_an_external_dataset(tmp_path):
    """Empty `external:` (the default): no external stage, nothing else changes. Set: one
    import stage and one train+evaluate stage, with exact deps and the plan's folders as outs."""
    assert not [s for s in STAGES if s.split("@")[0] in EXTERNAL_STAGES]
    fixture = "tests/fixtures/labelled"
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["external"] = {"fixture": {"train": f"{ROOT}/{fixture}/train.jsonl",
                                      "test": f"{ROOT}/{fixture}/test.jsonl",
                                      "schemas": f"{ROOT}/{fixture}/schemas"}}  # fmt: skip
    stages = _stages(_project_copy(tmp_path, params))
    added = sorted(set(stages) - set(STAGES))
    assert added == ["data_external@fixture", "external@fixture"]
    assert {s: stages[s] for s in STAGES} == STAGES  # the other stages are untouched
    for stage in added:
        # module deps outside this project resolve against ROOT's notebooks and sources
        declared, expected = _module_deps(stages[stage]["deps"])
        assert declared == expected, _mismatch(stage, declared, expected)
    assert f"{ROOT}/{fixture}/train.jsonl" in stages["data_external@fixture"]["deps"]
    plan = plan_from_params(resolve(params))
    outs = set(stages["external@fixture"]["outs"])
    assert {str(plan.run(r.name).dir().parent) for r in plan.external_runs} <= outs
    assert {str(e.out_dir().parent) for e in plan.external_evals} <= outs
    assert "data/external" in stages["data_external@fixture"]["outs"]
    assert "data/external" in stages["external@fixture"]["deps"]


def test_seed_replicates_are_a_params_edit(tmp_path):
    """One more seed in params.yaml `seeds:` gives its training and evaluation stages (named after
    the replicate, reading the base run's params key and data); no seeds, no seed stages; the other
    stages never change."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["seeds"]["ablate"]["seeds"].append(7)
    params["seeds"]["train"] = {"runs": [], "seeds": []}
    stages = _stages(_project_copy(tmp_path, params))
    seed_stages = {s for s in stages if s.split("@")[0].endswith("_seeds")}
    assert {s: stages[s] for s in stages if s not in seed_stages} == {
        s: v for s, v in STAGES.items() if not s.split("@")[0].endswith("_seeds")
    }
    assert "ablate_seeds@smollm2-135m-data25-7" in stages
    assert not [s for s in seed_stages if s.split("@")[0] in ("train_seeds", "eval_seeds")]
    outs = stages["eval_ablate_seeds@smollm2-135m-data25-7"]["outs"]
    assert "results/eval/ab-smollm2-135m-data25-s7-constrained/predictions.jsonl" in outs
    plan = plan_from_params(resolve(params))
    assert sorted(map(subject, seed_stages)) == sorted(
        [*(r.name for r in plan.runs if r.replicates)] * 2
    )


def test_seed_stages_read_their_base_runs_params():
    listed = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for kind, section in (("train", "train.runs"), ("train_extra", "train.runs_extra"),
                          ("ablate", "ablate.runs")):  # fmt: skip
        assert f"{section}.${{item.run}}" in listed[f"{kind}_seeds"]["params"]
