"""maaza.plan: runs by declared role, evaluation names built once, dvc.yaml's stages in step."""

from __future__ import annotations

import copy

import yaml

from maaza.config import DEFAULT_PARAMS, resolve
from maaza.plan import EVALS_BY_KIND, eval_name, plan_from_params

RAW = yaml.safe_load(DEFAULT_PARAMS.read_text())


def test_eval_names():
    assert eval_name("m", None, "free", "test") == "zs-m-free"
    assert eval_name("m", "r", "constrained", "holdout") == "ft-r-constrained-holdout"
    assert eval_name("m", "r", "constrained", "test", role="ablation") == "ab-r-constrained"


def test_plan_follows_declared_roles_not_order():
    raw = copy.deepcopy(RAW)
    runs = raw["train"]["runs"]
    raw["train"]["runs"] = dict(reversed(list(runs.items())))  # scale run first
    plan = plan_from_params(resolve(raw))
    assert plan.runs_with("paper_recipe") == ("smollm2-135m-r16",)
    assert plan.runs_with("scale") == ("gemma3-270m-r16",)
    assert plan.runs_with("ours") == ("smollm2-135m-maaza",)
    names = [e.name for e in plan.evals_of("smollm2-135m-r16")]
    assert len(names) == len(EVALS_BY_KIND["paper_recipe"])
    assert "ft-smollm2-135m-r16-constrained-train" in names
    assert [e.name for e in plan.evals_of("smollm2-135m-r8")] == ["ab-smollm2-135m-r8-constrained"]
    assert [e.kind for e in plan.evals_of("gemma3-270m")] == ["zero-shot", "zero-shot"]


def test_val_evaluations_are_their_own_kind():
    from maaza.plan import Eval

    val = Eval("ft-r-constrained-val", "r", "r", "m", "trial", "val", "constrained")
    assert val.kind == "val"
    assert val.data_file().name == "val.jsonl"
    assert EVALS_BY_KIND["trial"] == (("val", "constrained"), ("train", "constrained"))
    assert eval_name("m", "r", "constrained", "val", role="trial") == "ft-r-constrained-val"
