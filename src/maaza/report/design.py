"""What params.yaml declares, as the report needs it: `maaza.plan`'s runs (with their declared
roles) and evaluations, plus the report's own readings: each ablation's changed knob, and the
recipe settings the text quotes with their params keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from maaza.config import ConfigError, Params, TrainRun, load_params
from maaza.io import InputError
from maaza.plan import Plan, plan_from_params

AblationFactor = Literal["rank", "data", "loss", "other"]
FACTORS: tuple[str, ...] = ("rank", "data", "loss", "other")


@dataclass(frozen=True)
class Ablation:
    run: str
    factor: AblationFactor
    value: float | str


@dataclass(frozen=True)
class Design:
    """What params.yaml says the pipeline produces; empty when there is no params file."""

    plan: Plan = Plan()
    ablations: tuple[Ablation, ...] = ()
    main_values: dict[str, float | str] = field(default_factory=dict)  # main run's ablated knobs
    recipe: dict[str, tuple[Any, str]] = field(default_factory=dict)  # name -> (value, params key)
    ours_recipe: dict[str, tuple[Any, str]] = field(default_factory=dict)  # ours_run's
    loss_of: dict[str, str] = field(default_factory=dict)  # run -> its loss: response | full
    # run -> its resolved settings (what the text says differs between two recipes)
    settings: dict[str, TrainRun] = field(default_factory=dict)

    def first(self, role: str) -> str | None:
        return next(iter(self.plan.runs_with(role)), None)

    @property
    def main_run(self) -> str | None:
        """The paper's recipe on the paper's model ("main" in the paper's macros)."""
        return self.first("paper_recipe")

    @property
    def ours_runs(self) -> tuple[str, ...]:
        return self.plan.runs_with("ours")

    @property
    def ours_run(self) -> str | None:
        """Our recipe's headline run ("Ours" in the paper's macros): the first `ours` run on the
        main run's base model (the comparison the paper is about), else the first `ours` run.
        Further `ours` runs (another base model) are reported beside it."""
        main_model = self.run_model(self.main_run)
        same = [r for r in self.ours_runs if self.run_model(r) == main_model]
        return next(iter(same or self.ours_runs), None)

    @property
    def trial_runs(self) -> tuple[str, ...]:
        """Recipe-search trials (search.runs), evaluated on the validation split only."""
        return self.plan.runs_with("trial")

    def run_model(self, run: str | None) -> str | None:
        return self.plan.run(run).model if run in self.plan.run_names else None

    def role_of(self, run: str | None) -> str:
        if run is None:
            return "zero-shot"
        return self.plan.run(run).role if run in self.plan.run_names else "other"


def _knobs(run: TrainRun) -> dict[str, float | str]:
    return {"rank": run.lora.r, "data": run.train_fraction, "loss": run.loss}


def _ablation(name: str, run: TrainRun, main: dict[str, float | str]) -> Ablation:
    """The one knob an ablation run changes against the paper-recipe run ("other": several)."""
    knobs = _knobs(run)
    changed = [k for k in ("rank", "data", "loss") if knobs[k] != main.get(k)]
    factor: AblationFactor = changed[0] if len(changed) == 1 else "other"  # type: ignore[assignment]
    return Ablation(name, factor, knobs[factor] if factor != "other" else name)


def design_from_params(params: Params) -> Design:
    plan = plan_from_params(params)
    main, ours = Design(plan).main_run, Design(plan).ours_run
    main_knobs = _knobs(params.train_run(main)) if main else {}
    return Design(
        plan=plan,
        ablations=tuple(
            _ablation(n, params.train_run(n), main_knobs) for n in plan.runs_with("ablation")
        ),
        main_values=main_knobs,
        recipe=recipe(params, params.train_run(main)) if main else {},
        ours_recipe=ours_recipe(params, ours) if ours else {},
        loss_of={n: params.train_run(n).loss for n in plan.run_names},
        settings={n: params.train_run(n) for n in plan.run_names},
    )


SPEC = yaml.safe_load(Path(__file__).with_name("numbers.yaml").read_text())  # its `recipe`
COMMON = "train.common."  # the paper-recipe run's settings


def _at(params: Params, run: TrainRun, key: str) -> Any:
    """The setting at a params.yaml key (train.common.*: as `run` resolves it); a list: its length."""
    node: Any = run if key.startswith(COMMON) else params
    for part in key.removeprefix(COMMON).split("."):
        node = getattr(node, part)
    return len(node) if isinstance(node, list | tuple) else node


def recipe(params: Params, main: TrainRun) -> dict[str, tuple[Any, str]]:
    """The settings the method section quotes (numbers.yaml `recipe`), each with its params key."""
    batch = main.micro_batch_size * main.grad_accum  # the one product
    keys = SPEC["recipe"].items()
    return {n: (batch if n == "Batch" else _at(params, main, k), k) for n, k in keys}


def ours_recipe(params: Params, name: str) -> dict[str, tuple[Any, str]]:
    """What our recipe changes, each with its params key (the run's own, else train.common)."""
    section, run, data = params.run_section(name), params.train_run(name), params.data
    overrides = params.sections()[section][name]

    def key(setting: str) -> str:
        return f"{section}.{name}.{setting}" if setting in overrides else f"{COMMON}{setting}"

    out = {n: (getattr(run, s), key(s)) for n, s in SPEC["ours_recipe"].items()}
    batch = f"{key('micro_batch_size')} * {key('grad_accum')}"
    out["Batch"] = (run.micro_batch_size * run.grad_accum, batch)
    # the extra examples' own generator settings (no locales: en_US only, one locale)
    drop = data.extra_optional_drop_rate
    drop = data.optional_drop_rate if drop is None else drop
    out["ExtraDropRate"] = (drop, "data.extra_optional_drop_rate")
    out["ExtraLocales"] = (max(1, len(data.extra_name_locales)), "data.extra_name_locales")
    return out


def load_design(params_file: Path | None) -> Design:
    if params_file is None or not Path(params_file).exists():
        return Design()
    try:
        return design_from_params(load_params(params_file))
    except ConfigError as err:
        raise InputError(f"{params_file}: {err}") from None
