"""maaza.plan: runs by declared role, evaluation names built once, dvc.yaml's stages in step."""

from __future__ import annotations

import copy

import pytest
import yaml

from maaza.config import DEFAULT_PARAMS, ConfigError, resolve
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


def test_seed_replicates_expand_to_runs_of_the_same_role():
    plan = plan_from_params(resolve(copy.deepcopy(RAW)))
    reps = [r for r in plan.runs if r.replicates]
    assert {r.name: (r.replicates, r.role, r.section) for r in reps} == {
        "smollm2-135m-r16-s1": ("smollm2-135m-r16", "paper_recipe", "train.runs"),
        "smollm2-135m-r16-s2": ("smollm2-135m-r16", "paper_recipe", "train.runs"),
        "smollm2-135m-maaza-s1": ("smollm2-135m-maaza", "ours", "train.runs_extra"),
        "smollm2-135m-data25-s1": ("smollm2-135m-data25", "ablation", "ablate.runs"),
        "smollm2-135m-data25-s2": ("smollm2-135m-data25", "ablation", "ablate.runs"),
    }
    # declared runs of a role are what tables list; replicates are asked for by name
    assert plan.runs_with("paper_recipe") == ("smollm2-135m-r16",)
    assert plan.replicates_of("smollm2-135m-r16") == ("smollm2-135m-r16-s1", "smollm2-135m-r16-s2")
    assert plan.replicated("smollm2-135m-data25-s2") == "smollm2-135m-data25"
    assert plan.replicated("smollm2-135m-data25") is None
    # test split, constrained only, whatever the base run's kind; grouped apart as "seed"
    assert [(e.name, e.kind) for e in plan.evals_of("smollm2-135m-maaza-s1")] == [
        ("ft-smollm2-135m-maaza-s1-constrained", "seed")
    ]
    assert [e.name for e in plan.evals_of("smollm2-135m-data25-s1")] == [
        "ab-smollm2-135m-data25-s1-constrained"
    ]


def test_a_replicate_is_its_base_run_with_another_seed():
    params = resolve(copy.deepcopy(RAW))
    base, rep = params.train_run("smollm2-135m-maaza"), params.train_run("smollm2-135m-maaza-s1")
    assert rep.seed == 1 != base.seed
    assert rep.model_copy(update={"seed": base.seed}) == base
    assert params.run_role("smollm2-135m-data25-s2") == "ablation"
    # external data retrains declared runs only, never their replicates
    raw = copy.deepcopy(RAW)
    raw["external"] = {"x": {"train": "a", "test": "b", "schemas": "c"}}
    assert not [n for n in resolve(raw).external_runs() if "-s1" in n or "-s2" in n]


@pytest.mark.parametrize(
    ("seeds", "error"),
    [
        ({"train": {"runs": ["smollm2-135m-maaza"], "seeds": [1]}}, "not a run of train.runs"),
        ({"ablate": {"runs": ["smollm2-135m-r8"], "seeds": [42]}}, "42 is smollm2-135m-r8's own"),
        ({"ablate": {"runs": ["smollm2-135m-r8"], "seeds": [1, 1]}}, "listed twice"),
        ({"ablate": {"runs": ["smollm2-135m-r8"], "seed": [1]}}, "unknown key"),
    ],
)
def test_bad_seed_declarations_name_the_key(seeds, error):
    raw = copy.deepcopy(RAW)
    raw["seeds"] = seeds
    with pytest.raises(ConfigError, match=error):
        resolve(raw)
