"""What params.yaml declares, as the report needs it: a thin layer over `maaza.plan`.

    design = load_design(Path("params.yaml"))     # Design() when there is no params file
    design.main_run, design.role_of("smollm2-135m-r8"), design.expected_evals()

Runs have the roles params.yaml gives them (paper_recipe, ours, scale, ablation) and evaluations
the names the plan builds; the report builds neither. Only the report's own readings live here:
which knob each ablation run changes against the paper-recipe run, and the recipe settings the
method section quotes, each with the params key it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
    ours_recipe: dict[str, tuple[Any, str]] = field(default_factory=dict)  # first ours run's
    loss_of: dict[str, str] = field(default_factory=dict)  # run -> its loss: response | full

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
    def scale_runs(self) -> tuple[str, ...]:
        return self.plan.runs_with("scale")

    @property
    def trial_runs(self) -> tuple[str, ...]:
        """Recipe-search trials (search.runs), evaluated on the validation split only."""
        return self.plan.runs_with("trial")

    @property
    def train_runs(self) -> tuple[str, ...]:
        """The runs that are not ablations, in the order tables list them."""
        return tuple(r for r in (self.main_run, *self.ours_runs, *self.scale_runs) if r)

    def run_model(self, run: str | None) -> str | None:
        return self.plan.run(run).model if run in self.plan.run_names else None

    def role_of(self, run: str | None) -> str:
        if run is None:
            return "zero-shot"
        return self.plan.run(run).role if run in self.plan.run_names else "other"

    def expected_runs(self) -> list[str]:
        return list(self.plan.run_names)

    def expected_evals(self) -> list[str]:
        return [e.name for e in self.plan.evals]


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
    main, ours = Design(plan).main_run, Design(plan).ours_runs
    main_knobs = _knobs(params.train_run(main)) if main else {}
    return Design(
        plan=plan,
        ablations=tuple(
            _ablation(n, params.train_run(n), main_knobs) for n in plan.runs_with("ablation")
        ),
        main_values=main_knobs,
        recipe=recipe(params, params.train_run(main)) if main else {},
        ours_recipe=ours_recipe(params, ours[0]) if ours else {},
        loss_of={n: params.train_run(n).loss for n in plan.run_names},
    )


def recipe(params: Params, main: TrainRun) -> dict[str, tuple[Any, str]]:
    """The settings the paper's method section quotes, each with the params key it comes from."""
    t, d, e = "train.common", "data", "evaluate"
    data, decode = params.data, params.evaluate.decode
    return {
        "LearningRate": (main.learning_rate, f"{t}.learning_rate"),
        "Epochs": (main.epochs, f"{t}.epochs"),
        "MicroBatch": (main.micro_batch_size, f"{t}.micro_batch_size"),
        "GradAccum": (main.grad_accum, f"{t}.grad_accum"),
        "Batch": (main.micro_batch_size * main.grad_accum, f"{t}.micro_batch_size * grad_accum"),
        "WarmupRatio": (main.warmup_ratio, f"{t}.warmup_ratio"),
        "WeightDecay": (main.weight_decay, f"{t}.weight_decay"),
        "MaxGradNorm": (main.max_grad_norm, f"{t}.max_grad_norm"),
        "MaxLength": (main.max_length, f"{t}.max_length"),
        "LoraR": (main.lora.r, f"{t}.lora.r"),
        "LoraAlpha": (main.lora.alpha, f"{t}.lora.alpha"),
        "LoraDropout": (main.lora.dropout, f"{t}.lora.dropout"),
        "LoraModules": (len(main.lora.target_modules), f"{t}.lora.target_modules"),
        "PromptFormat": (main.prompt_format, f"{t}.prompt_format"),
        "Seed": (main.seed, f"{t}.seed"),
        "DataSeed": (data.seed, f"{d}.seed"),
        "TestFraction": (data.test_fraction, f"{d}.test_fraction"),
        "HoldoutSchemas": (len(data.holdout_schemas), f"{d}.holdout_schemas"),
        "OptionalDropRate": (data.optional_drop_rate, f"{d}.optional_drop_rate"),
        "MaxNewTokens": (decode.max_new_tokens, f"{e}.decode.max_new_tokens"),
        "BudgetFactor": (decode.token_budget_factor, f"{e}.decode.token_budget_factor"),
        "DecodeBatch": (decode.batch_size, f"{e}.decode.batch_size"),
        "ZsPromptFormat": (params.evaluate.zeroshot_prompt_format, f"{e}.zeroshot_prompt_format"),
    }


def ours_recipe(params: Params, name: str) -> dict[str, tuple[Any, str]]:
    """What our recipe changes, each with the params key its value comes from (the run's own
    override when it has one, else train.common)."""
    section, run = params.run_section(name), params.train_run(name)
    overrides = params.sections()[section][name]

    def key(setting: str) -> str:
        return f"{section}.{name}.{setting}" if setting in overrides else f"train.common.{setting}"

    data = params.data
    drop = data.extra_optional_drop_rate
    drop = data.optional_drop_rate if drop is None else drop
    return {
        "ExtraTrain": (run.extra_train, key("extra_train")),
        # the extra examples' own generator settings (empty locale list: en_US only, one locale)
        "ExtraDropRate": (drop, "data.extra_optional_drop_rate"),
        "ExtraLocales": (max(1, len(data.extra_name_locales)), "data.extra_name_locales"),
        "LearningRate": (run.learning_rate, key("learning_rate")),
        "Epochs": (run.epochs, key("epochs")),
        "MicroBatch": (run.micro_batch_size, key("micro_batch_size")),
        "GradAccum": (run.grad_accum, key("grad_accum")),
        "Batch": (
            run.micro_batch_size * run.grad_accum,
            f"{key('micro_batch_size')} * {key('grad_accum')}",
        ),
    }


def load_design(params_file: Path | None) -> Design:
    if params_file is None or not Path(params_file).exists():
        return Design()
    try:
        return design_from_params(load_params(params_file))
    except ConfigError as err:
        raise InputError(f"{params_file}: {err}") from None
