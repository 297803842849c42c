"""The data stage: generate, validate, split, write, report.

    .venv/bin/papermill -k python3 notebooks/01_data.ipynb out.ipynb      # what `dvc repro data` runs
    maaza data --out-dir data                                            # the same from the shell

`build_dataset(cfg)` is pure (records in memory); `run_stage(...)` does the file I/O: it refuses to
write anything if a single example fails a check, and writes each file atomically.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from maaza import io
from maaza.config import DataConfig, FormatPolicy
from maaza.datagen import BUILDERS, allocate, generate
from maaza.datagen import _largest_remainder as largest_remainder
from maaza.prompts import build_prompt, render_target
from maaza.schemas import TIERS, load_schemas, nesting_depth, tier_of
from maaza.validate import CHECKS, validate_records

SPLITS: tuple[str, ...] = ("train", "test", "holdout", "val", "train_extra")
DEFAULT_TOKENIZER = "smollm2-135m-instruct"


class DataError(RuntimeError):
    """The dataset failed a check; nothing was written."""


# ----------------------------------------------------------------------------- pure core
def split_records(
    records: Sequence[dict[str, Any]], test_fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stratified train/test split: ceil(n * test_fraction) test examples spread over schemas in
    proportion to their size; both splits come back shuffled (so any prefix is a fair sample)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(record["schema_id"], []).append(record)
    n_test = math.ceil(len(records) * test_fraction - 1e-9)
    quotas = largest_remainder(n_test, {sid: float(len(g)) for sid, g in sorted(groups.items())})
    rng = random.Random(f"maaza-split:{seed}")
    train, test = [], []
    for sid in sorted(groups):
        chosen = set(rng.sample(range(len(groups[sid])), quotas[sid]))
        for i, record in enumerate(groups[sid]):
            (test if i in chosen else train).append(record)
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def generator_rates(cfg: DataConfig) -> dict[str, Any]:
    """The generator's keyword settings, the same for every split (value variety included)."""
    return {
        "drop_rate": cfg.optional_drop_rate,
        "distractor_rate": cfg.distractor_rate,
        "variety": cfg.variety,
    }


def build_dataset(
    cfg: DataConfig, schemas: Mapping[str, dict] | None = None, progress: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """{"train", "test", "holdout"[, "val"][, "train_extra"]} record lists from a DataConfig (no I/O)."""
    schemas = schemas or load_schemas()
    unknown = [s for s in cfg.holdout_schemas if s not in schemas]
    if unknown:
        raise DataError(
            f"data.holdout_schemas: unknown schema(s) {unknown}; known: {', '.join(sorted(schemas))}"
        )
    trainable = {
        sid: tier_of(s)
        for sid, s in schemas.items()
        if sid in BUILDERS and sid not in cfg.holdout_schemas
    }
    counts = allocate(cfg.n_examples, trainable, cfg.tier_mix)
    rates = generator_rates(cfg)
    records = generate(counts, cfg.seed, schemas=schemas, progress=progress, **rates)
    held = dict.fromkeys(cfg.holdout_schemas, cfg.holdout_per_schema)
    holdout = generate(held, cfg.seed, schemas=schemas, **rates) if cfg.holdout_per_schema else []
    train, test = split_records(records, cfg.test_fraction, cfg.seed)
    splits = {"train": train, "test": test, "holdout": holdout}
    if cfg.val_factor:  # only when asked for, like train_extra
        n_val = round(cfg.val_factor * len(test))
        splits["val"] = val_records(cfg, trainable, n_val, records + holdout, schemas)
    if cfg.extra_train:  # only when asked for, so reports of paper-sized data stay as they were
        taken = records + holdout + splits.get("val", [])
        splits["train_extra"] = extra_records(cfg, trainable, taken, schemas)
    return splits


def val_records(
    cfg: DataConfig,
    trainable: Mapping[str, str],
    n: int,
    taken: Sequence[dict[str, Any]],
    schemas: Mapping[str, dict],
) -> list[dict[str, Any]]:
    """The validation split: `n` examples generated like the test split (same schemas, tier mix
    and generator settings) from a seed stream of its own, shuffled, without any prompt of `taken`
    (the other splits). Recipe choices are made on it, so the test split is looked at only once."""
    seen = {r["prompt"] for r in taken}
    stream = generate(
        allocate(n, trainable, cfg.tier_mix), f"{cfg.seed}:val", schemas=schemas,
        **generator_rates(cfg),
    )  # fmt: skip
    val = [{**r, "id": f"v-{r['id']}"} for r in stream if r["prompt"] not in seen]
    random.Random(f"maaza-val:{cfg.seed}").shuffle(val)
    return val


def extra_records(
    cfg: DataConfig,
    trainable: Mapping[str, str],
    taken: Sequence[dict[str, Any]],
    schemas: Mapping[str, dict],
) -> list[dict[str, Any]]:
    """cfg.extra_train more training examples from a seed stream of their own, shuffled (so the
    first N are a fair sample), without any prompt of `taken` (the other splits). Their optional
    fields and names may follow settings of their own (`extra_optional_drop_rate`,
    `extra_name_locales`), so the paper-sized splits stay byte-identical when those change."""
    counts = allocate(cfg.extra_train, trainable, cfg.tier_mix)
    rates = generator_rates(cfg)
    if cfg.extra_optional_drop_rate is not None:
        rates["drop_rate"] = cfg.extra_optional_drop_rate
    seen = {r["prompt"] for r in taken}
    stream = generate(
        counts, f"{cfg.seed}:extra", schemas=schemas, name_locales=cfg.extra_name_locales, **rates
    )
    extra = [{**r, "id": f"x-{r['id']}"} for r in stream if r["prompt"] not in seen]
    random.Random(f"maaza-extra:{cfg.seed}").shuffle(extra)
    return extra


def leakage(splits: Mapping[str, Sequence[dict[str, Any]]]) -> dict[str, int]:
    """Counts that must all be zero: shared prompts between splits, held-out schemas in training."""
    prompts = {name: {r["prompt"] for r in recs} for name, recs in splits.items()}
    held = {r["schema_id"] for r in splits.get("holdout", [])}
    trained = ("train", "train_extra")
    seen = {r["schema_id"] for name in (*trained, "test", "val") for r in splits.get(name, [])}
    train = set().union(*(prompts.get(name, set()) for name in trained))
    test, val = prompts.get("test", set()), prompts.get("val", set())
    counts = {
        "train_test_shared_prompts": len(train & test),
        "holdout_shared_prompts": len(prompts.get("holdout", set()) & (train | test | val)),
        "holdout_schemas_in_train_or_test": len(held & seen),
    }
    if "val" in splits:  # a key of its own, so reports of data without val stay as they were
        counts["val_shared_prompts"] = len(val & (train | test))
    return counts


def _stats(values: Sequence[int]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"n": len(values), "mean": round(statistics.fmean(values), 1), "p50": pick(0.5),
            "p90": pick(0.9), "p95": pick(0.95), "max": ordered[-1]}  # fmt: skip


def token_stats(
    records: Iterable[dict[str, Any]],
    schemas: Mapping[str, dict],
    tokenizer: Any,
    fmt: str = "compact",
) -> dict[str, Any]:
    """Token lengths of the raw text, the JSON target, and the whole training sequence in `fmt`."""
    rows: dict[str, dict[str, list[int]]] = {}
    for r in records:
        text, target = r["prompt"], render_target(r["expected_output"])
        full = build_prompt(text, schemas[r["schema_id"]], fmt) + target
        lengths = [
            len(tokenizer(x, add_special_tokens=False)["input_ids"]) for x in (text, target, full)
        ]
        for group in ("all", r["complexity"]):
            row = rows.setdefault(group, {"text": [], "target": [], "sequence": []})
            for key, n in zip(("text", "target", "sequence"), lengths, strict=True):
                row[key].append(n)
    return {group: {k: _stats(v) for k, v in row.items()} for group, row in rows.items()}


def dataset_report(
    splits: Mapping[str, Sequence[dict[str, Any]]],
    schemas: Mapping[str, dict],
    checks: Mapping[str, dict[str, Any]],
    tokenizer: Any = None,
    tokenizer_name: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything report.json holds: counts, schema table, token lengths, check pass rates, leakage."""
    counts = {
        name: {
            "n": len(recs),
            "by_tier": dict(
                sorted(
                    Counter(r["complexity"] for r in recs).items(),
                    key=lambda kv: TIERS.index(kv[0]),
                )
            ),
            "by_style": dict(sorted(Counter(r.get("style", "unknown") for r in recs).items())),
            "by_schema": dict(sorted(Counter(r["schema_id"] for r in recs).items())),
        }
        for name, recs in splits.items()
    }
    used = sorted({r["schema_id"] for recs in splits.values() for r in recs})
    schema_table = {
        sid: {"tier": tier_of(schemas[sid]), "fields": len(schemas[sid].get("properties", {})),
              "depth": nesting_depth(schemas[sid]), **{n: counts[n]["by_schema"].get(sid, 0) for n in splits}}
        for sid in used
    }  # fmt: skip
    report: dict[str, Any] = {
        "params": dict(params or {}),
        "counts": counts,
        "schemas": schema_table,
        "checks": {name: checks[name] for name in splits},
        "leakage": leakage(splits),
    }
    if tokenizer is not None:
        report["tokens"] = {
            "tokenizer": tokenizer_name,
            "prompt_format": "compact",
            **{
                name: token_stats(recs, schemas, tokenizer) for name, recs in splits.items() if recs
            },
        }
    return report


def report_markdown(report: Mapping[str, Any]) -> str:
    """report.json as Markdown tables."""
    splits = list(report["counts"])
    lines = [
        "# Data report",
        "",
        "## Examples",
        "",
        "| split | n | " + " | ".join(TIERS) + " |",
        "|---|---:|" + "---:|" * len(TIERS),
    ]
    for s in splits:
        c = report["counts"][s]
        lines.append(
            f"| {s} | {c['n']} | " + " | ".join(str(c["by_tier"].get(t, 0)) for t in TIERS) + " |"
        )
    styles = sorted({k for s in splits for k in report["counts"][s]["by_style"]})
    lines += [
        "",
        "## Surface styles",
        "",
        "| style | " + " | ".join(splits) + " |",
        "|---|" + "---:|" * len(splits),
    ]
    lines += [
        f"| {st} | "
        + " | ".join(str(report["counts"][s]["by_style"].get(st, 0)) for s in splits)
        + " |"
        for st in styles
    ]
    lines += [
        "",
        "## Schemas",
        "",
        "| schema | tier | fields | depth | " + " | ".join(splits) + " |",
        "|---|---|---:|---:|" + "---:|" * len(splits),
    ]
    for sid, row in report["schemas"].items():
        lines.append(
            f"| {sid} | {row['tier']} | {row['fields']} | {row['depth']} | "
            + " | ".join(str(row[s]) for s in splits)
            + " |"
        )
    lines += [
        "",
        "## Checks (pass rate)",
        "",
        "| check | " + " | ".join(splits) + " |",
        "|---|" + "---:|" * len(splits),
    ]
    for check in CHECKS:
        cells = [
            f"{report['checks'][s]['checks'][check]['pass_rate']:.1%} ({report['checks'][s]['checks'][check]['failed']} failed)"
            for s in splits
        ]
        lines.append(f"| {check} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Leakage (all must be 0): " + ", ".join(f"{k} = {v}" for k, v in report["leakage"].items()),
    ]
    if "tokens" in report:
        tok = report["tokens"]
        lines += ["", f"## Token lengths ({tok['tokenizer']}, training sequence in the `{tok['prompt_format']}` prompt format)", "",
                  "| split | group | text mean | text p95 | target mean | sequence mean | sequence p95 | sequence max |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for s in splits:
            for group in ("all", *TIERS):
                g = tok.get(s, {}).get(group)
                if g:
                    lines.append(f"| {s} | {group} | {g['text']['mean']} | {g['text']['p95']} | {g['target']['mean']} | "
                                 f"{g['sequence']['mean']} | {g['sequence']['p95']} | {g['sequence']['max']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- I/O edge
def run_stage(
    cfg: DataConfig,
    paths: Mapping[str, str | Path],
    tokenizer_name: str | None = DEFAULT_TOKENIZER,
    progress: bool = True,
    format_policy: FormatPolicy = "annotation",
) -> dict[str, Any]:
    """Generate + validate + write `paths` = {train, test, holdout, [train_extra,] [train_sample,]
    report_json, report_md}. train_sample: the first examples of the (shuffled) train split, as
    many as the test split has, so a fit check has an interval as wide as the test score's.
    `format_policy`: evaluate.decode.format_policy, so the data passes the checks it is scored by.

    Raises DataError (and writes nothing) if any example fails any check or a split leaks."""
    schemas = load_schemas()
    splits = build_dataset(cfg, schemas, progress=progress)
    teacher_stats = None
    if cfg.teacher.model and cfg.teacher.fraction > 0:
        from maaza.teacher import rewrite_splits

        splits, teacher_stats = rewrite_splits(splits, cfg.teacher, cfg.seed)
    checks = {name: validate_records(recs, schemas, format_policy) for name, recs in splits.items()}
    everything = [r for recs in splits.values() for r in recs]
    checks["all"] = validate_records(everything, schemas, format_policy)
    bad = {name: c["failed"][:3] for name, c in checks.items() if c["n_failed"]}
    leaks = {k: v for k, v in leakage(splits).items() if v}
    if bad or leaks:
        raise DataError(f"data checks failed; nothing written. failures: {bad} leakage: {leaks}")
    tokenizer = None
    if tokenizer_name:
        from maaza.models import load_tokenizer

        tokenizer = load_tokenizer(tokenizer_name)
    report = dataset_report(splits, schemas, checks, tokenizer, tokenizer_name, cfg.model_dump())
    if teacher_stats is not None:
        report["teacher"] = {"model": cfg.teacher.model, **teacher_stats}
    missing = [name for name in SPLITS if name not in paths and splits.get(name)]
    if missing:
        raise DataError(f"no output path for split(s) {missing}; nothing written")
    for name in SPLITS:
        if name in paths:  # an empty train_extra.jsonl when extra_train is 0
            io.write_jsonl(paths[name], splits.get(name, []))
    if "train_sample" in paths:
        io.write_jsonl(paths["train_sample"], splits["train"][: len(splits["test"])])
    io.write_json(paths["report_json"], report)
    io.write_text(paths["report_md"], report_markdown(report))
    return report
