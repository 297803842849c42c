"""What the pipeline produces, as data: every run with its declared role, every evaluation with its
name, subject, split and mode. The one place where evaluation names are built.

    from maaza.plan import load_plan
    plan = load_plan("params.yaml")
    [e.name for e in plan.evals_of("smollm2-135m-r16")]   # ft-smollm2-135m-r16-free, ...

The rule (EVALS_BY_KIND) says which evaluations each kind of subject gets; dvc.yaml has one eval
stage per subject (one process, one model load, for all of a subject's evaluations) whose outs
mirror this rule, since DVC cannot expand a list into outs (dvc issue 8171); tests/test_plan.py
fails if the two disagree. Adding a run to params.yaml adds its training and evaluation stages.

Seed replicates (params.yaml `seeds:`): `<run>-s<seed>` is a declared run trained again with
another seed; it keeps the run's role and section (so its data), says which run it replicates
(`Run.replicates`), and is evaluated on the test split with constrained decoding only
(EVALS_BY_KIND["seed"]): the split and mode on which every paired comparison in the paper is made,
so the seed spread is measured where the differences it is compared with are; each more
evaluation would cost as much CPU as the base run's (see dvc.yaml's eval_seeds stages).

External data (params.yaml `external:`, empty by default): each of its runs (`<dataset>-<run>`,
the declared run's settings on the external train file) is evaluated on the external test file in
both modes. They live apart, under runs/external/ and results/eval/external/ (one stage per
dataset: dvc.yaml cannot list runs it does not know), so the main report never mixes them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from maaza.config import DecodeMode, Params, Role, load_params

Split = Literal["test", "holdout", "train", "val"]
MODES: tuple[DecodeMode, ...] = ("free", "constrained")
SPLIT_ORDER: tuple[str, ...] = ("test", "holdout", "train", "val", "external")
FIT_SPLIT = "train"  # the train-sample evaluation: under- vs over-fitting
VAL_SPLIT = "val"  # the validation split: recipe choices (search trials) are made on it
EXTERNAL = "external"  # the external dataset's split, section, and sub-folder of data/runs/evals

# The data file each split is read from, under the data folder (dvc.yaml lists the same files).
SPLIT_FILES: dict[str, str] = {
    "test": "test.jsonl",
    "holdout": "holdout.jsonl",
    "train": "train_sample.jsonl",  # the first N (test split's size) of the shuffled train.jsonl
    "val": "val.jsonl",
    EXTERNAL: f"{EXTERNAL}/test.jsonl",  # written by the data_external stage
}

# Which evaluations each kind of subject gets: (split, mode), in report order.
_MAIN = (
    ("test", "free"), ("test", "constrained"),
    ("holdout", "free"), ("holdout", "constrained"),
    ("train", "constrained"),
)  # fmt: skip
EVALS_BY_KIND: dict[str, tuple[tuple[str, str], ...]] = {
    "zero-shot": (("test", "free"), ("test", "constrained")),
    # The paper quotes none of the reference runs' val numbers, and val is the largest split
    # (2x test): only our recipe's runs are evaluated there, where `maaza extract` picks its
    # default adapter (never on test).
    "paper_recipe": _MAIN,
    "ours": (*_MAIN, ("val", "constrained")),
    "scale": _MAIN,
    "ablation": (("test", "constrained"),),
    # search trials see the validation split and the train sample (fit vs generalisation), both
    # constrained: test is not looked at while choosing
    "trial": (("val", "constrained"), (FIT_SPLIT, "constrained")),
    EXTERNAL: ((EXTERNAL, "free"), (EXTERNAL, "constrained")),
    # a seed replicate, whatever its role: the test split, constrained (see the module docstring)
    "seed": (("test", "constrained"),),
}


def eval_name(model: str | None, run: str | None, mode: str, split: str, role: str = "") -> str:
    """zs-<model>-<mode> | ft-<run>-<mode> | ab-<run>-<mode> (ablation runs), then -<split>
    unless the split is test."""
    prefix = "zs" if run is None else "ab" if role == "ablation" else "ft"
    base = f"{prefix}-{Path(str(model)).name if run is None else run}-{mode}"
    return base if split == "test" else f"{base}-{split}"


@dataclass(frozen=True)
class Run:
    name: str
    role: Role
    section: str  # train.runs | train.runs_extra | ablate.runs | external: the data it reads
    model: str
    replicates: str | None = None  # a seed replicate: the declared run it trains again

    def dir(self, runs_dir: str | Path = "runs") -> Path:
        """runs/<run>, or runs/external/<run> for a run on external data."""
        return Path(runs_dir, *([EXTERNAL] if self.section == EXTERNAL else []), self.name)


@dataclass(frozen=True)
class Eval:
    name: str
    subject: str  # the run, or the zero-shot model
    run: str | None
    model: str
    role: str  # the run's role, or "zero-shot"
    split: str
    mode: str
    replicates: str | None = None  # the evaluation of a seed replicate: the run it replicates

    @property
    def kind(self) -> str:
        """zero-shot | fine-tuned | ablation | fit | val | seed: how the report groups an
        evaluation (seed: a seed replicate's, kept out of the tables of declared runs)."""
        if self.run is None:
            return "zero-shot"
        if self.replicates is not None:
            return "seed"
        if self.split == FIT_SPLIT:
            return "fit"
        if self.split == VAL_SPLIT:
            return "val"
        return "ablation" if self.role == "ablation" else "fine-tuned"

    def data_file(self, data_dir: str | Path = "data") -> Path:
        return Path(data_dir) / SPLIT_FILES[self.split]

    def out_dir(self, eval_dir: str | Path = "results/eval") -> Path:
        return Path(eval_dir, *([EXTERNAL] if self.split == EXTERNAL else []), self.name)


@dataclass(frozen=True)
class Plan:
    runs: tuple[Run, ...] = ()
    zeroshot_models: tuple[str, ...] = ()
    evals: tuple[Eval, ...] = ()
    # the external dataset's name, its runs and their evaluations (none when `external:` is empty)
    external_name: str | None = None
    external_runs: tuple[Run, ...] = ()
    external_evals: tuple[Eval, ...] = ()

    def run(self, name: str) -> Run:
        for r in (*self.runs, *self.external_runs):
            if r.name == name:
                return r
        raise KeyError(f"unknown run {name!r}; declared runs: {', '.join(self.run_names)}")

    def external_plan(self) -> Plan:
        """The external runs and evaluations as a plan of their own (the report's external table)."""
        return Plan(self.external_runs, (), self.external_evals, self.external_name)

    @property
    def run_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.runs)

    def runs_with(self, role: str) -> tuple[str, ...]:
        """The declared runs of a role (seed replicates are not: see replicates_of)."""
        return tuple(r.name for r in self.runs if r.role == role and r.replicates is None)

    def replicates_of(self, run: str | None) -> tuple[str, ...]:
        """The seed replicates of a declared run, in params order."""
        return tuple(r.name for r in self.runs if run is not None and r.replicates == run)

    def replicated(self, run: str | None) -> str | None:
        """The declared run that `run` replicates (None: not a seed replicate, or unknown)."""
        return next((r.replicates for r in self.runs if r.name == run), None)

    @property
    def subjects(self) -> tuple[str, ...]:
        return (*self.zeroshot_models, *self.run_names)

    def evals_of(self, subject: str) -> tuple[Eval, ...]:
        """A subject's evaluations: those of a run (an external one too), or a zero-shot model's."""
        if subject in self.run_names or subject in {r.name for r in self.external_runs}:
            return tuple(e for e in (*self.evals, *self.external_evals) if e.run == subject)
        return tuple(e for e in self.evals if e.run is None and e.model == subject)

    def eval(self, name: str) -> Eval:
        for e in self.evals:
            if e.name == name:
                return e
        raise KeyError(f"unknown evaluation {name!r}")


def plan_from_params(params: Params) -> Plan:
    runs = tuple(
        Run(n, params.run_role(n), params.run_section(n), params.train_run(n).model)
        for n in params.run_names()
    ) + tuple(
        Run(n, params.run_role(n), params.run_section(n), params.train_run(n).model, base)
        for n, (base, _) in params.replicates().items()
    )
    evals = [
        Eval(eval_name(m, None, mode, split), m, None, m, "zero-shot", split, mode)
        for m in params.evaluate.zeroshot_models
        for split, mode in EVALS_BY_KIND["zero-shot"]
    ]
    evals += [
        Eval(
            eval_name(r.model, r.name, mode, split, r.role),
            r.name,
            r.name,
            r.model,
            r.role,
            split,
            mode,
            r.replicates,
        )
        for r in runs
        for split, mode in EVALS_BY_KIND["seed" if r.replicates else r.role]
    ]
    ext_runs = tuple(
        Run(n, params.run_role(base), EXTERNAL, params.train_run(n).model)
        for n, base in params.external_runs().items()
    )
    ext_evals = tuple(
        Eval(eval_name(r.model, r.name, mode, split), r.name, r.name, r.model, r.role, split, mode)
        for r in ext_runs
        for split, mode in EVALS_BY_KIND[EXTERNAL]
    )
    return Plan(
        runs, tuple(params.evaluate.zeroshot_models), tuple(evals),
        params.external_name, ext_runs, ext_evals,
    )  # fmt: skip


def load_plan(params_file: str | Path) -> Plan:
    return plan_from_params(load_params(params_file))
