"""Typed view of `params.yaml`, validated once at the edge.

    from maaza.config import load_params
    params = load_params("params.yaml")          # profile taken from the file's `profile:` key
    run = params.train_run("smollm2-135m-r16")   # train.common merged under train.runs[name]

A wrong key or value raises `ConfigError` whose message names the dotted key and, for
enumerations, the allowed values. Profiles (`profiles.<name>`) are partial overrides deep-merged
over the base file, so `dvc exp run -S profile=quick` switches the whole pipeline to tiny sizes.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"

PromptFormat = Literal["paper", "model_card", "compact"]
DecodeMode = Literal["free", "constrained"]
# What a run is for; the report describes each run by its declared role, never by its position.
Role = Literal["paper_recipe", "ours", "scale", "ablation"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]


class ConfigError(ValueError):
    """A bad params file: the message names the key and what is allowed."""


class Strict(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored setting;
    # allow_inf_nan=False: `epochs: .inf` or `.nan` is an error, not an overflow later.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- data
class TeacherConfig(Strict):
    model: str | None = Field(None, description="registry name of a paraphrasing model; null = off")
    fraction: float = Field(
        0.0, ge=0.0, le=1.0, description="share of prompts offered for rewriting"
    )
    max_new_tokens: int = Field(256, gt=0)


class DataConfig(Strict):
    seed: int = Field(42, description="one seed -> byte-identical dataset")
    n_examples: int = Field(787, ge=24, description="train+test examples (paper: 787)")
    test_fraction: float = Field(
        0.2, gt=0.0, lt=1.0, description="stratified by schema (paper: 0.2)"
    )
    holdout_schemas: list[str] = Field(
        default_factory=list, description="schemas kept out of train/test, written to holdout.jsonl"
    )
    holdout_per_schema: int = Field(20, ge=0, description="examples per held-out schema")
    extra_train: int = Field(
        0, ge=0,
        description="more training examples (own seed stream, prompts unlike any split's) in "
        "train_extra.jsonl, for runs beyond the paper's data size (a run's extra_train)",
    )  # fmt: skip
    optional_drop_rate: float = Field(0.3, ge=0.0, le=1.0, description="P(omit an optional field)")
    extra_optional_drop_rate: float | None = Field(
        None, ge=0.0, le=1.0,
        description="P(omit an optional field) in train_extra.jsonl only (null: optional_drop_rate)",
    )  # fmt: skip
    extra_name_locales: list[str] = Field(
        default_factory=list,
        description="Faker locales of people's names in train_extra.jsonl (empty: en_US, as elsewhere)",
    )
    distractor_rate: float = Field(0.3, ge=0.0, le=1.0, description="P(add irrelevant text)")
    tier_mix: dict[Literal["simple", "medium", "complex"], float] = Field(
        default_factory=lambda: {"simple": 0.48, "medium": 0.36, "complex": 0.16},
        description="share of train+test examples per tier (paper's test set: 76/57/25 of 158)",
    )
    teacher: TeacherConfig = TeacherConfig()

    @field_validator("extra_name_locales")
    @classmethod
    def _known_locales(cls, locales: list[str]) -> list[str]:
        from faker.config import AVAILABLE_LOCALES

        unknown = [loc for loc in locales if loc not in AVAILABLE_LOCALES]
        if unknown:
            raise ValueError(f"unknown Faker locale(s) {unknown}, e.g. en_GB, de_DE, pl_PL")
        return locales


# ----------------------------------------------------------------------------- train
class LoraConfig(Strict):
    r: int = Field(16, gt=0)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )


class TrainRun(Strict):
    """One fully resolved training run (train.common merged under train.runs.<name>)."""

    model: str = Field(description="registry name, local HF folder or hub id")
    prompt_format: PromptFormat = "compact"
    lora: LoraConfig = LoraConfig()
    learning_rate: float = Field(2e-4, gt=0)
    epochs: float = Field(3, gt=0)
    micro_batch_size: int = Field(4, gt=0)
    grad_accum: int = Field(8, gt=0, description="effective batch = micro_batch_size * grad_accum")
    group_steps: int = Field(
        16, gt=0, description="optimizer steps per length-grouping window (1 = within a step)"
    )
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.01, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)
    max_length: int = Field(
        1024, gt=0, description="token limit of prompt + answer (and the model's context)"
    )
    too_long: Literal["skip", "fail"] = Field(
        "skip", description="examples over max_length or the model's context: left out and "
        "counted (n_too_long in train_metrics.json), or an error naming the first one",
    )  # fmt: skip
    loss: Literal["response", "full"] = Field("response", description="mask the prompt or not")
    train_fraction: float = Field(1.0, gt=0.0, le=1.0, description="data-size ablation")
    extra_train: int = Field(
        0, ge=0, description="examples of train_extra.jsonl added (its first N); paper recipe: 0"
    )
    base_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="frozen base weights; auto = bf16 only where matmuls are native bf16"
    )
    checkpoint_every: int = Field(10, gt=0, description="optimizer steps between checkpoints")
    max_steps: int | None = Field(None, gt=0, description="cap on optimizer steps (quick profile)")
    merge: bool = Field(False, description="also save base+adapter merged")
    threads: int | None = Field(
        None,
        gt=0,
        description="torch threads per process; null = all cores (1 is faster on a busy CPU)",
    )
    seed: int = 42


class TrainConfig(Strict):
    common: dict[str, Any] = Field(default_factory=dict, description="defaults for every run")
    runs: dict[str, dict[str, Any]] = Field(
        description="runs on data/train.jsonl alone: `role` plus overrides of `common`"
    )
    runs_extra: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="runs that add the first `extra_train` examples of data/train_extra.jsonl",
    )


class AblateConfig(Strict):
    runs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="ablation runs (role: ablation): overrides of train.common",
    )


# ----------------------------------------------------------------------------- evaluate
class DecodeConfig(Strict):
    max_new_tokens: int = Field(512, gt=0)
    batch_size: int = Field(8, gt=0)
    format_policy: Literal["annotation", "enforce"] = Field(
        "annotation",
        description="JSON Schema `format`: ignored (annotation) or enforced by grammar",
    )
    token_budget_factor: float = Field(
        3.0, gt=0, description="per-example budget = factor * tokens of a reference-sized answer"
    )
    repeat_span: int = Field(
        24, ge=6, description="a repeating tail at least this long is a loop (see decode.py)"
    )
    max_items: int | None = Field(
        32, gt=0, description="grammar maxItems for arrays without one (constrained mode)"
    )
    max_string_length: int | None = Field(
        None,
        gt=0,
        description="grammar maxLength for free strings; costs ~10 ms/char/field to compile",
    )


class EvalConfig(Strict):
    decode: DecodeConfig = DecodeConfig()
    zeroshot_models: list[str] = Field(
        default_factory=lambda: ["smollm2-135m-instruct", "gemma3-270m"]
    )
    zeroshot_prompt_format: PromptFormat = "paper"
    limit: int | None = Field(None, gt=0, description="evaluate only the first N examples")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        "float32", description="model weights while decoding; auto = bf16 where the CPU multiplies "
        "bf16 natively (faster, but zero-shot SmolLM2 degrades in bf16), else fp32",
    )  # fmt: skip
    threads: int | None = Field(
        None,
        gt=0,
        description="torch threads while evaluating; null = torch's default (1 is faster on a busy CPU)",
    )


class Params(Strict):
    profile: str = "default"
    seed: int = 42
    data: DataConfig = DataConfig()
    train: TrainConfig
    ablate: AblateConfig = AblateConfig()
    evaluate: EvalConfig = EvalConfig()

    def sections(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            "train.runs": self.train.runs,
            "train.runs_extra": self.train.runs_extra,
            "ablate.runs": self.ablate.runs,
        }

    def run_names(self) -> list[str]:
        """Every declared run, in declaration order (train.runs, train.runs_extra, ablate.runs)."""
        return [name for runs in self.sections().values() for name in runs]

    def run_section(self, name: str) -> str:
        for section, runs in self.sections().items():
            if name in runs:
                return section
        raise ConfigError(
            f"unknown run {name!r}; defined runs: {', '.join(sorted(self.run_names()))}"
        )

    def run_role(self, name: str) -> Role:
        section = self.run_section(name)
        return _declared_role(section, self.sections()[section][name])  # type: ignore[return-value]

    def train_run(self, name: str) -> TrainRun:
        """Resolve a named run (any section), merged over train.common; `role` is not a setting."""
        section = self.run_section(name)
        overrides = {k: v for k, v in self.sections()[section][name].items() if k != "role"}
        return _validate(TrainRun, deep_merge(self.train.common, overrides), f"{section}.{name}")


# ----------------------------------------------------------------------------- loading
def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return base with override merged in, recursively for nested dicts (inputs unchanged)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _format_error(err: ValidationError, prefix: str) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in (prefix, *e["loc"]) if p != "")
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        ctx = e.get("ctx") or {}
        if "expected" in ctx:
            msg += f" (allowed: {ctx['expected']})"
        lines.append(f"{key}: {msg}; got {e.get('input')!r}")
    return "invalid params:\n  " + "\n  ".join(lines)


def _validate(model: type[BaseModel], raw: dict[str, Any], prefix: str = "") -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_format_error(err, prefix)) from None


def resolve(raw: dict[str, Any], profile: str | None = None) -> Params:
    """Apply a profile's overrides to a raw params dict and validate everything."""
    raw = dict(raw)
    profiles = raw.pop("profiles", {}) or {}
    profile = profile or raw.get("profile", "default")
    if profile != "default":
        if profile not in profiles:
            allowed = ", ".join(["default", *profiles])
            raise ConfigError(f"profile: unknown profile {profile!r} (allowed: {allowed})")
        raw = deep_merge(raw, profiles[profile])
    raw["profile"] = profile
    params: Params = _validate(Params, raw)
    _check_common(params)
    _check_runs(params)
    check_params(params)
    return params


def _declared_role(section: str, overrides: dict[str, Any]) -> str | None:
    """A run's `role`; ablate.runs entries may leave it out (they can only be ablations)."""
    return overrides.get("role", "ablation" if section == "ablate.runs" else None)


def _check_runs(params: Params) -> None:
    """Every run resolves now (not halfway through a pipeline), once, with the role and data its
    section implies."""
    seen: dict[str, str] = {}
    for section, runs in params.sections().items():
        for name, overrides in runs.items():
            key = f"{section}.{name}"
            if name in seen:
                raise ConfigError(f"{key}: run name already declared in {seen[name]}")
            seen[name] = section
            role = _declared_role(section, overrides)
            if role not in ROLES:
                raise ConfigError(f"{key}.role: got {role!r} (allowed: {', '.join(ROLES)})")
            if (section == "ablate.runs") != (role == "ablation"):
                raise ConfigError(f"{key}.role: ablation runs (and only they) go in ablate.runs")
            run = params.train_run(name)
            if (section == "train.runs_extra") != (run.extra_train > 0):
                raise ConfigError(
                    f"{key}.extra_train: runs that add train_extra.jsonl examples (extra_train > 0)"
                    " go in train.runs_extra, and only they"
                )


def _check_common(params: Params) -> None:
    """train.common on its own, so a bad shared value is reported under train.common (not under
    the first run that inherits it)."""
    common = params.train.common
    _validate(TrainRun, {"model": "-", **common} if "model" not in common else common,
              "train.common")  # fmt: skip


def _where(params: Params, run: str, *keys: str) -> str:
    """The dotted key where a run's setting was written: its own entry, else train.common."""
    section = params.run_section(run)
    node: Any = params.sections()[section][run]
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return ".".join(("train.common", *keys))
        node = node[key]
    return ".".join((section, run, *keys))


def _model_error(name: str) -> str | None:
    from maaza.models import ModelError, resolve

    try:
        resolve(name)
    except ModelError as err:
        return str(err)
    return None


def check_params(params: Params) -> None:
    """What pydantic cannot see alone: model names against the registry (maaza.models), LoRA
    target modules against the model's layer names (known architectures, no weights loaded),
    held-out schema names against the schema set. Errors name the dotted key where the value was
    written."""
    from maaza.models import ModelError, module_names

    # the package's schema ids (maaza.schemas would import jsonschema: seconds, for a file listing)
    known = sorted({p.stem for p in (Path(__file__).resolve().parent / "schemas").rglob("*.json")})
    for i, sid in enumerate(params.data.holdout_schemas):
        if sid not in known:
            raise ConfigError(
                f"data.holdout_schemas[{i}]: unknown schema {sid!r} (known: {', '.join(known)})"
            )
    models = [(f"evaluate.zeroshot_models[{i}]", m)
              for i, m in enumerate(params.evaluate.zeroshot_models)]  # fmt: skip
    if params.data.teacher.model is not None:
        models.append(("data.teacher.model", params.data.teacher.model))
    for key, name in models:
        if (err := _model_error(name)) is not None:
            raise ConfigError(f"{key}: {err}")
    for run_name in params.run_names():
        run = params.train_run(run_name)
        if (err := _model_error(run.model)) is not None:
            raise ConfigError(f"{_where(params, run_name, 'model')}: {err}")
        try:
            layers = module_names(run.model)
        except ModelError:
            layers = None
        if layers is None:
            continue  # architecture unknown without loading it: peft checks on load
        targets = run.lora.target_modules
        missing = [t for t in targets if t != "all-linear" and t not in layers]
        if missing:
            key = _where(params, run_name, "lora", "target_modules")
            raise ConfigError(
                f"{key}: {run.model} has no layer(s) {', '.join(map(repr, missing))} "
                f"(its layers: {', '.join(sorted(layers))})"
            )


def load_params(path: str | Path = DEFAULT_PARAMS, profile: str | None = None) -> Params:
    """The resolved params of `profile` (default: the file's); every other profile of the file
    is validated too, so a bad `quick` profile fails without `--profile quick`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read params: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    params = resolve(raw, profile)
    for other in ["default", *(raw.get("profiles") or {})]:
        if other != params.profile:
            try:
                resolve(raw, other)
            except ConfigError as err:
                raise ConfigError(f"profile {other}: {err}") from None
    return params
