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
import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PARAMS = PROJECT_ROOT / "params.yaml"

PromptFormat = Literal["paper", "model_card", "compact"]
DecodeMode = Literal["free", "constrained"]
# JSON Schema `format` (date-time, email, ...): an annotation (jsonschema's default, draft 2019+'s
# too) or an assertion. One policy for the data checks, the metrics and the decoder's grammar.
FormatPolicy = Literal["annotation", "assert"]
# Weights dtype; auto = bf16 where the hardware multiplies bf16 natively (maaza.models.resolve_dtype).
DType = Literal["auto", "float32", "bfloat16"]
# Decoding may also pack the Linear layers of an fp32 model: int8 or float16 weights (pack_linears).
PackedDType = Literal["int8", "float16"]
DecodeDType = Literal[DType, PackedDType]
# What an import does with records that fail a data check (maaza.importer).
OnInvalid = Literal["fail", "drop", "keep"]
DEFAULT_MODE: DecodeMode = (
    "constrained"  # `maaza eval`, `maaza extract`, Extractor: the product default
)
# What a run is for; the report describes each run by its declared role, never by its position.
# `trial`: a recipe-search trial, evaluated on the validation split only (issue 20).
Role = Literal["paper_recipe", "ours", "scale", "ablation", "trial"]
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


class VarietyConfig(Strict):
    """Value variety (issue 20): how often a value leaves the generator's habits. Each rate is a
    probability per document (or per value); 0 everywhere draws exactly what the generator drew
    before. The label always keeps the form the text gives, where the schema allows it."""

    wide_dates: float = Field(
        0.0, ge=0.0, le=1.0,
        description="P(a document's dates and timestamps lie anywhere in 1900-2100, not the two "
        "years before mid-2025)",
    )  # fmt: skip
    iso_timestamps: float = Field(
        0.0, ge=0.0, le=1.0,
        description="P(a timestamp is written as an ISO string with an offset (Z or +hh:mm), "
        "maybe with fractional seconds, copied verbatim into the label)",
    )  # fmt: skip
    long_text: float = Field(
        0.0, ge=0.0, le=1.0,
        description="P(a free-text value (message, comment, description, subject) grows to 2-5 "
        "sentences)",
    )  # fmt: skip
    casing: float = Field(
        0.0, ge=0.0, le=1.0, description="P(a person's name or an identifier is upper/lower case)"
    )
    long_arrays: float = Field(
        0.0, ge=0.0, le=1.0, description="P(a variable-length array gets 10-16 items)"
    )
    number_scale: float = Field(
        0.0, ge=0.0, le=1.0,
        description="P(a document's money amounts are scaled by 10^k, k in -2..4)",
    )  # fmt: skip
    naive_timestamps: float = Field(
        0.0, ge=0.0, le=1.0,
        description="P(an ISO timestamp of `iso_timestamps` has no offset, kept so in the label: "
        "valid only where `format` is an annotation (evaluate.decode.format_policy)",
    )  # fmt: skip


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
    val_factor: float = Field(
        0.0, ge=0.0, le=10.0,
        description="val.jsonl size as a multiple of the test split's (0: no validation split)",
    )  # fmt: skip
    variety: VarietyConfig = VarietyConfig()
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
    method: Literal["lora", "full"] = Field(
        "lora", description="lora: train LoRA matrices on a frozen base; full: train every weight "
        "(fp32, AdamW state for all of them; the run folder keeps a bf16 delta)",
    )  # fmt: skip
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
    base_dtype: DType = Field(
        "auto", description="frozen base weights; auto = bf16 only where matmuls are native bf16"
    )
    checkpoint_every: int = Field(10, gt=0, description="optimizer steps between checkpoints")
    max_steps: int | None = Field(None, gt=0, description="cap on optimizer steps (quick profile)")
    step_fraction: float = Field(
        1.0, gt=0.0, le=1.0,
        description="train this share of the planned optimizer steps (the schedule spans the "
        "shortened run): a cheap screen of a search trial",
    )  # fmt: skip
    merge: bool = Field(False, description="also save base+adapter merged")
    threads: int | None = Field(
        None,
        gt=0,
        description="torch threads per process; null = all cores (1 is faster on a busy CPU)",
    )
    seed: int = 42

    @field_validator("base_dtype", mode="before")
    @classmethod
    def _not_packed(cls, value: Any) -> Any:
        if value in get_args(PackedDType):  # clearer than the enumeration's word: it exists
            raise ValueError(
                f"{value} is decode-only (evaluate.dtype / evaluate.dtypes); training's frozen "
                "base is auto, float32 or bfloat16"
            )
        return value


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


class SearchConfig(Strict):
    runs: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="recipe-search trials (role: trial): overrides of train.common, trained on "
        "data/train.jsonl + the first `extra_train` of data/train_extra.jsonl, evaluated on val only",
    )  # fmt: skip


class SeedReplicates(Strict):
    """Runs of one section trained again with other seeds: every listed run with every seed."""

    runs: list[str] = Field(default_factory=list, description="declared runs of the section")
    seeds: list[int] = Field(
        default_factory=list, description="one replicate per seed, named <run>-s<seed>"
    )


class SeedsConfig(Strict):
    """Seed replicates (issue 21): run <run>-s<seed> is the declared run with `seed` changed (LoRA
    initialisation, dropout masks, example order, a train_fraction's subset) and the run's role.
    One entry per section, since the section says which data a training stage reads (dvc.yaml's
    train_seeds, train_extra_seeds and ablate_seeds stages are matrices over these lists)."""

    train: SeedReplicates = SeedReplicates()  # runs of train.runs
    train_extra: SeedReplicates = SeedReplicates()  # runs of train.runs_extra
    ablate: SeedReplicates = SeedReplicates()  # runs of ablate.runs


SEED_SECTIONS = {"train": "train.runs", "train_extra": "train.runs_extra", "ablate": "ablate.runs"}


def replicate_name(run: str, seed: int) -> str:
    return f"{run}-s{seed}"


# ----------------------------------------------------------------------------- evaluate
class DecodeConfig(Strict):
    max_new_tokens: int = Field(512, gt=0)
    batch_size: int = Field(8, gt=0)
    format_policy: FormatPolicy = Field(
        "annotation",
        description="JSON Schema `format`: an annotation (not checked) or asserted by the data "
        "checks, the metrics and the grammar alike",
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
    copy_spans: bool = Field(
        False, description="constrained mode: free-text string values (no enum, const, format, "
        "pattern) must be verbatim spans of the input text (maaza.copyspan)",
    )  # fmt: skip


class EvalConfig(Strict):
    decode: DecodeConfig = DecodeConfig()
    zeroshot_models: list[str] = Field(
        default_factory=lambda: ["smollm2-135m-instruct", "gemma3-270m"]
    )
    zeroshot_prompt_format: PromptFormat = "paper"
    limit: int | None = Field(None, gt=0, description="evaluate only the first N examples")
    dtype: DecodeDType = Field(
        "float32", description="model weights while decoding; auto = bf16 where the CPU multiplies "
        "bf16 natively (faster, but zero-shot SmolLM2 degrades in bf16), else fp32; float16 / "
        "int8 = fp16 / int8 Linear weights (int8: a row's result can depend on its batch: README)",
    )  # fmt: skip
    dtypes: dict[str, DecodeDType] = Field(
        default_factory=dict, description="per subject (a run or a zero-shot model): its decode "
        "weights, overriding `dtype`; a run gets auto, int8 or float16 only at equal JSONExact on "
        "data/val.jsonl (benchmarks/decode_dtype.py)",
    )  # fmt: skip
    zeroshot_dtype: DecodeDType = Field(
        "float32", description="decode weights of the zero-shot models (unless `dtypes` names "
        "them): a cheaper dtype only once compared on data/val.jsonl (they degraded in bf16)",
    )  # fmt: skip
    threads: int | None = Field(
        None,
        gt=0,
        description="torch threads while evaluating; null = torch's default (1 is faster on a busy CPU)",
    )
    pool: bool = Field(
        False,
        description="decode a subject's evaluations of one mode in shared batches (one generate "
        "call): fewer decode steps when evaluations are smaller than a batch (the quick profile)",
    )
    workers: int = Field(
        1, ge=1, description="processes decoding an evaluation's rows side by side, forked from "
        "the one that loaded the model (maaza.parallel), 1 torch thread each: on 2 cores, 2 "
        "workers decoded ~1.3x faster than 1 process of 2 threads; same outputs (not with int8)",
    )  # fmt: skip

    def dtype_of(self, subject: str) -> DecodeDType:
        """The decode dtype of a run or zero-shot model."""
        default = self.zeroshot_dtype if subject in self.zeroshot_models else self.dtype
        return self.dtypes.get(subject, default)


# ----------------------------------------------------------------------------- external data
class ExternalData(Strict):
    """A labelled dataset in the EdgeJSON form (maaza.importer), trained and tested on by the
    `data_external` and `external` stages; its key in `external:` is its name."""

    train: str = Field(description="training JSONL (EdgeJSON form)")
    test: str = Field(description="test JSONL (EdgeJSON form)")
    schemas: str = Field(description="folder of <schema_id>.json, tier sub-folders allowed")
    on_invalid: OnInvalid = Field(
        "keep", description="records failing a data check: stop (fail), leave out (drop), or "
        "keep them marked (keep: the paper's protocol uses every record)",
    )  # fmt: skip
    runs: list[str] | None = Field(
        None, description="declared runs retrained on this train file (their settings, its data); "
        "null: every paper_recipe and ours run",
    )  # fmt: skip
    extra: bool = Field(
        False, description="runs with extra_train also add our generated train_extra.jsonl examples"
    )


class Params(Strict):
    profile: str = "default"
    seed: int = 42
    data: DataConfig = DataConfig()
    train: TrainConfig
    ablate: AblateConfig = AblateConfig()
    search: SearchConfig = SearchConfig()
    seeds: SeedsConfig = SeedsConfig()
    evaluate: EvalConfig = EvalConfig()
    # At most one dataset (its files go to data/external/); empty: no external stage runs.
    external: dict[str, ExternalData] = Field(default_factory=dict)

    @property
    def external_name(self) -> str | None:
        return next(iter(self.external), None)

    def external_runs(self) -> dict[str, str]:
        """{external run name: the declared run it retrains}: `<dataset>-<run>`."""
        name = self.external_name
        if name is None:
            return {}
        ext = self.external[name]
        bases = ext.runs
        if bases is None:
            bases = [n for n in self.run_names() if self.run_role(n) in ("paper_recipe", "ours")]
        return {f"{name}-{base}": base for base in bases}

    def sections(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            "train.runs": self.train.runs,
            "train.runs_extra": self.train.runs_extra,
            "ablate.runs": self.ablate.runs,
            "search.runs": self.search.runs,
        }

    def run_names(self) -> list[str]:
        """Every declared run, in declaration order (train.runs, train.runs_extra, ablate.runs,
        search.runs)."""
        return [name for runs in self.sections().values() for name in runs]

    def replicates(self) -> dict[str, tuple[str, int]]:
        """{seed replicate: (the declared run it replicates, its seed)}, in params order."""
        return {
            replicate_name(run, seed): (run, seed)
            for entry in (self.seeds.train, self.seeds.train_extra, self.seeds.ablate)
            for run in entry.runs
            for seed in entry.seeds
        }

    def run_section(self, name: str) -> str:
        """The section a run is declared in (a seed replicate: its base run's)."""
        name = self.replicates().get(name, (name, 0))[0]
        for section, runs in self.sections().items():
            if name in runs:
                return section
        raise ConfigError(
            f"unknown run {name!r}; defined runs: {', '.join(sorted(self.run_names()))}"
        )

    def run_role(self, name: str) -> Role:
        """A run's declared role (a seed replicate keeps its base run's)."""
        name = self.replicates().get(name, (name, 0))[0]
        section = self.run_section(name)
        return _declared_role(section, self.sections()[section][name])  # type: ignore[return-value]

    def train_run(self, name: str) -> TrainRun:
        """Resolve a named run (any section, or an external run: its base run's settings, with
        extra examples only if external.<name>.extra), merged over train.common; `role` is not a
        setting."""
        base = self.external_runs().get(name)
        if base is not None:
            run = self.train_run(base)
            keep_extra = self.external[str(self.external_name)].extra
            return run if keep_extra else run.model_copy(update={"extra_train": 0})
        if name in (replicates := self.replicates()):
            base, seed = replicates[name]
            return self.train_run(base).model_copy(update={"seed": seed})
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
    _check_seeds(params)
    _check_external(params)
    _check_variety(params)
    check_params(params)  # models first: evaluate.dtypes may name a zero-shot model
    _check_dtypes(params)
    _check_workers(params)
    return params


def _declared_role(section: str, overrides: dict[str, Any]) -> str | None:
    """A run's `role`; ablate.runs and search.runs entries may leave it out (they can only be
    ablations and trials)."""
    implied = {"ablate.runs": "ablation", "search.runs": "trial"}.get(section)
    return overrides.get("role", implied)


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
            if (section == "search.runs") != (role == "trial"):
                raise ConfigError(f"{key}.role: search trials (and only they) go in search.runs")
            run = params.train_run(name)
            if section == "search.runs":
                continue  # trials read train_extra.jsonl's first extra_train examples, 0 or more
            if (section == "train.runs_extra") != (run.extra_train > 0):
                raise ConfigError(
                    f"{key}.extra_train: runs that add train_extra.jsonl examples (extra_train > 0)"
                    " go in train.runs_extra, and only they"
                )


def _check_seeds(params: Params) -> None:
    """A replicate's base run is declared in the section its entry names, its seed differs from
    the base run's, and its name is free."""
    for key, section in SEED_SECTIONS.items():
        entry = getattr(params.seeds, key)
        for i, run in enumerate(entry.runs):
            if run not in params.sections()[section]:
                raise ConfigError(
                    f"seeds.{key}.runs[{i}]: {run!r} is not a run of {section} "
                    f"(declared there: {', '.join(params.sections()[section]) or 'none'})"
                )
            base_seed = params.train_run(run).seed
            if base_seed in entry.seeds:
                raise ConfigError(f"seeds.{key}.seeds: {base_seed} is {run}'s own seed")
        if len(set(entry.seeds)) != len(entry.seeds):
            raise ConfigError(f"seeds.{key}.seeds: a seed is listed twice: {entry.seeds}")
    taken = set(params.replicates()) & set(params.run_names())
    if taken:
        raise ConfigError(f"seeds: replicate name(s) {', '.join(sorted(taken))} already declared")


def _check_external(params: Params) -> None:
    """One dataset at most, a name fit for stage and file names, runs that exist."""
    if len(params.external) > 1:
        raise ConfigError(
            f"external: one dataset at a time (its files go to data/external/); got "
            f"{', '.join(params.external)}"
        )
    for name, ext in params.external.items():
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
            raise ConfigError(
                f"external.{name}: the name must be lowercase letters, digits, - or _ "
                "(it names stages, runs and the report's table)"
            )
        for i, base in enumerate(ext.runs or []):
            if base not in params.run_names():
                raise ConfigError(
                    f"external.{name}.runs[{i}]: unknown run {base!r}; declared runs: "
                    f"{', '.join(params.run_names())}"
                )
        clash = set(params.external_runs()) & {*params.run_names(), *params.replicates()}
        if clash:
            raise ConfigError(f"external.{name}: run name(s) {', '.join(sorted(clash))} taken")


def _check_variety(params: Params) -> None:
    """An offset-less timestamp is a valid date-time only when `format` is an annotation: under
    `assert` the data checks would reject every such label."""
    if params.data.variety.naive_timestamps and params.evaluate.decode.format_policy == "assert":
        raise ConfigError(
            "data.variety.naive_timestamps: offset-less date-times fail `format` under "
            "evaluate.decode.format_policy: assert (set it to 0, or the policy to annotation)"
        )


def _check_dtypes(params: Params) -> None:
    """evaluate.dtypes names subjects that exist (a typo would silently decode in `dtype`)."""
    subjects = [*params.run_names(), *params.external_runs(), *params.evaluate.zeroshot_models]
    for name in params.evaluate.dtypes:
        if name not in subjects:
            raise ConfigError(
                f"evaluate.dtypes.{name}: neither a declared run nor a zero-shot model "
                f"(known: {', '.join(subjects)})"
            )


def _check_workers(params: Params) -> None:
    """Forked decode workers run 1 torch thread each (maaza.parallel: more hang after a fork)."""
    ev = params.evaluate
    if ev.workers > 1 and ev.threads not in (None, 1):
        raise ConfigError(
            f"evaluate.threads: {ev.threads} with evaluate.workers: {ev.workers}; each worker "
            "decodes with 1 torch thread (set threads to null or 1, or workers to 1)"
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
