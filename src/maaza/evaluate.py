"""Run one model on one dataset and score it: predictions.jsonl + metrics.json (docs/DESIGN.md).

    maaza eval --model smollm2-135m-instruct --data data/test.jsonl --schemas src/maaza/schemas \\
        --out results/eval/zs-smollm2-135m-instruct-free --mode free

    spec = spec_from_params(load_params(), name="ft-smollm2-135m-r16-constrained",
                            run="smollm2-135m-r16", adapter="runs/smollm2-135m-r16/adapter",
                            mode="constrained", split="test")
    metrics = run_eval(spec, "data/test.jsonl", "src/maaza/schemas", "results/eval/<name>")

Zero-shot models use `evaluate.zeroshot_prompt_format`; a fine-tuned run uses its own run's
prompt format and base model. Data is read through `maaza.importer` (our data and external
EdgeJSON-form data alike). Each example gets a token budget of
`token_budget_factor x` the longest reference answer of its schema (a per-schema bound, so no
example's own answer length leaks into its decoding), capped by `max_new_tokens`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from maaza.config import DecodeConfig, DecodeMode, Params, PromptFormat
from maaza.decode import Generation, GrammarCache, generate, vocab_size
from maaza.importer import import_edgejson
from maaza.metrics import ERROR_CATEGORIES, parse_output, schema_errors, score_example
from maaza.prompts import build_prompt, render_target

MIN_BUDGET = 32  # tokens: even a tiny answer may be preceded by a fence or a short preamble
VERSIONED = ("torch", "transformers", "peft", "xgrammar", "jsonschema", "maaza")


@dataclass(frozen=True)
class EvalSpec:
    """Everything that decides an evaluation's numbers (recorded in its provenance)."""

    name: str
    model: str  # registry name or path of the base model
    mode: DecodeMode
    prompt_format: PromptFormat
    decode: DecodeConfig
    split: str = "test"  # test | holdout | external
    run: str | None = None  # training run whose adapter is applied
    adapter: str | None = None  # peft adapter folder
    limit: int | None = None  # first N examples only
    threads: int | None = None  # torch threads (None: torch's default)
    dtype: str = "float32"  # model weights: auto | float32 | bfloat16 (see resolve_dtype)


def spec_from_params(
    params: Params,
    *,
    name: str,
    mode: DecodeMode,
    split: str,
    model: str | None = None,
    run: str | None = None,
    adapter: str | None = None,
) -> EvalSpec:
    """A zero-shot spec (model given) or a fine-tuned one (run given: its model and prompt format)."""
    if run is not None:
        train = params.train_run(run)
        model, fmt = train.model, train.prompt_format
    elif model is not None:
        fmt = params.evaluate.zeroshot_prompt_format
    else:
        raise ValueError("give a model (zero-shot) or a run (fine-tuned)")
    return EvalSpec(
        name=name,
        model=model,
        mode=mode,
        prompt_format=fmt,
        decode=params.evaluate.decode,
        split=split,
        run=run,
        adapter=adapter,
        limit=params.evaluate.limit,
        threads=params.evaluate.threads,
        dtype=params.evaluate.dtype,
    )


def eval_name(model: str | None, run: str | None, mode: str, split: str) -> str:
    """The docs/DESIGN.md name: zs-<model>-<mode> or ft-<run>-<mode>, + -<split> off the test split."""
    base = f"ft-{run}-{mode}" if run else f"zs-{Path(str(model)).name}-{mode}"
    return base if split == "test" else f"{base}-{split}"


# ----------------------------------------------------------------------------- pure parts
def schema_budgets(
    records: list[dict[str, Any]], count_tokens: Callable[[str], int], cfg: DecodeConfig
) -> dict[str, int]:
    """{schema_id: max new tokens}: factor x the longest reference answer of the schema, capped."""
    longest: dict[str, int] = {}
    for r in records:
        n = count_tokens(render_target(r["expected_output"])) + 1  # + the stop token
        longest[r["schema_id"]] = max(longest.get(r["schema_id"], 0), n)
    return {
        sid: min(cfg.max_new_tokens, max(MIN_BUDGET, math.ceil(cfg.token_budget_factor * n)))
        for sid, n in longest.items()
    }


def prediction_row(
    record: dict[str, Any], schema: dict[str, Any], gen: Generation, format_policy: str
) -> dict[str, Any]:
    """One predictions.jsonl line: the output, its parse, its scores, its error category."""
    parsed = parse_output(gen.text)
    score = score_example(parsed, record["expected_output"], schema, format_policy)
    return {
        "id": record["id"],
        "schema_id": record["schema_id"],
        "complexity": record["complexity"],
        "style": record.get("style"),
        "raw": gen.text,
        "parsed": parsed.value,
        "expected": record["expected_output"],
        "json_exact": score.json_exact,
        "field_f1": round(score.field_f1, 6),
        "leaf_f1": round(score.leaf_f1, 6),
        "compliant": score.compliant,
        "error": score.error,
        "parse_error": parsed.error,
        "schema_errors": schema_errors(parsed.value, schema, format_policy)[:3]
        if parsed.ok
        else [],
        "latency_s": round(gen.latency_s, 4),
        "n_tokens": gen.n_tokens,
        "truncated": gen.truncated,
        "stop": gen.stop,
        "loop_breaks": gen.loop_breaks,
        "budget_closed": gen.budget_closed,
    }


def _rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    values = {
        "json_exact": [r["json_exact"] for r in rows],
        "field_f1": [r["field_f1"] for r in rows],
        "leaf_f1": [r["leaf_f1"] for r in rows],
        "compliance": [float(r["compliant"]) for r in rows],
        "parse_rate": [float(r["error"] != "invalid_json") for r in rows],
        "truncated": [float(r["truncated"]) for r in rows],
    }
    return {"n": n, **{k: round(sum(v) / n, 6) for k, v in values.items()}}


def _stderr(rows: list[dict[str, Any]], key: str) -> float:
    """Standard error of the mean of a per-example score (0 for n < 2)."""
    xs = [float(r[key]) for r in rows]
    n = len(xs)
    if n < 2:
        return 0.0
    mean = sum(xs) / n
    return round(math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n), 6)


def _percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100])."""
    ordered = sorted(xs)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _group(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r[key] or "unknown", []).append(r)
    return {k: _rates(v) for k, v in sorted(groups.items())}


def aggregate(rows: list[dict[str, Any]], wall_time_s: float) -> dict[str, Any]:
    """The scores part of metrics.json: overall, by tier, by schema, by style, error counts."""
    if not rows:
        raise ValueError("no predictions to aggregate")
    latencies = [r["latency_s"] for r in rows]
    overall = {
        **_rates(rows),
        "loop_broken": round(sum(r["loop_breaks"] > 0 for r in rows) / len(rows), 6),
        "budget_closed": round(sum(r.get("budget_closed", False) for r in rows) / len(rows), 6),
        "latency_mean_s": round(sum(latencies) / len(latencies), 4),
        "latency_p95_s": round(_percentile(latencies, 95), 4),
        "tokens_per_s": round(sum(r["n_tokens"] for r in rows) / wall_time_s, 2),
        "examples_per_s": round(len(rows) / wall_time_s, 4),
        "wall_time_s": round(wall_time_s, 2),
        "stderr": {
            "json_exact": _stderr(rows, "json_exact"),
            "field_f1": _stderr(rows, "field_f1"),
            "leaf_f1": _stderr(rows, "leaf_f1"),
            "compliance": _stderr(rows, "compliant"),
        },
    }
    by_schema = _group(rows, "schema_id")
    for sid, stats in by_schema.items():
        stats["tier"] = next(r["complexity"] for r in rows if r["schema_id"] == sid)
    errors = dict.fromkeys(ERROR_CATEGORIES, 0)
    for r in rows:
        errors[r["error"]] += 1
    return {
        "n": len(rows),
        "overall": overall,
        "by_tier": _group(rows, "complexity"),
        "by_schema": by_schema,
        "by_style": _group(rows, "style"),
        "errors": errors,
    }


def failure_examples(rows: list[dict[str, Any]], k: int = 6) -> list[dict[str, Any]]:
    """Up to k wrong predictions, one per error category first (in ERROR_CATEGORIES order)."""
    wrong = [r for r in rows if r["error"] != "correct"]
    firsts = [
        next(r for r in wrong if r["error"] == c)
        for c in ERROR_CATEGORIES
        if any(r["error"] == c for r in wrong)
    ]
    rest = [r for r in wrong if r not in firsts]
    return (firsts + rest)[:k]


# ----------------------------------------------------------------------------- provenance
def _git_commit() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def provenance(spec: EvalSpec, data: Path, n_threads: int, dtype: Any) -> dict[str, Any]:
    """`dtype`: the weights' dtype as loaded (spec.dtype resolved, or a model handed in)."""
    import torch

    from maaza.models import native_bf16

    return {
        "git": _git_commit(),
        "date": _now(),
        "versions": {pkg: version(pkg) for pkg in VERSIONED},
        "hardware": {"cpu": _cpu_name(), "cores": os.cpu_count(), "torch_threads": n_threads},
        "data": {"path": str(data), "sha256": _sha256(data)},
        "adapter": spec.adapter,
        "limit": spec.limit,
        "dtype": str(dtype).removeprefix("torch."),
        "native_bf16": native_bf16(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "decode": spec.decode.model_dump(),
    }


# ----------------------------------------------------------------------------- I/O edge
def load_model(
    model: str, adapter: str | Path | None = None, dtype: str = "float32"
) -> tuple[Any, Any]:
    """Base model from the registry, with a peft adapter merged in (merged weights decode faster).
    `dtype`: float32 | bfloat16 | auto (maaza.models.resolve_dtype: bf16 where native)."""
    from maaza.models import load, resolve_dtype

    base, tokenizer = load(model, dtype=resolve_dtype(dtype))
    if adapter is None:
        return base, tokenizer
    from peft import PeftModel

    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter}: not a peft adapter folder (no adapter_config.json)")
    return PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval(), tokenizer


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_results(out: Path, rows: Iterable[dict[str, Any]], metrics: dict[str, Any]) -> None:
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    _write_atomic(out / "predictions.jsonl", lines)
    _write_atomic(out / "metrics.json", json.dumps(metrics, indent=1, ensure_ascii=False) + "\n")


def predict(
    model: Any,
    tokenizer: Any,
    records: list[dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    spec: EvalSpec,
    progress: bool = True,
) -> tuple[list[dict[str, Any]], float]:
    """Decode every record and score it; returns the prediction rows and the decoding wall time."""
    cfg = spec.decode
    budgets = schema_budgets(
        records, lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"]), cfg
    )
    prompts = [
        build_prompt(r["prompt"], schemas[r["schema_id"]], spec.prompt_format) for r in records
    ]
    row_schemas = [schemas[r["schema_id"]] for r in records]
    grammars = (
        GrammarCache(tokenizer, vocab_size(model), cfg) if spec.mode == "constrained" else None
    )
    start = time.perf_counter()
    gens = generate(
        model,
        tokenizer,
        prompts,
        cfg,
        mode=spec.mode,
        schemas=row_schemas,
        grammars=grammars,
        budgets=[budgets[r["schema_id"]] for r in records],
        progress=progress,
    )
    wall = time.perf_counter() - start
    rows = [
        prediction_row(r, s, g, cfg.format_policy)
        for r, s, g in zip(records, row_schemas, gens, strict=True)
    ]
    return rows, wall


def rescore(out: str | Path, data: str | Path, schemas_dir: str | Path) -> dict[str, Any]:
    """Score an evaluation's saved raw outputs again (after a metrics change), without decoding.

    Decoding facts (text, tokens, latency, stop) and provenance are kept; the metrics file
    records when it was rescored and by which commit.
    """
    out = Path(out)
    metrics = json.loads((out / "metrics.json").read_text())
    old = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    records, schemas = import_edgejson(data, schemas_dir)
    by_id = {r["id"]: r for r in records}
    policy = metrics["provenance"]["decode"]["format_policy"]
    rows = [
        prediction_row(
            by_id[p["id"]],
            schemas[p["schema_id"]],
            Generation(
                p["raw"],
                p["n_tokens"],
                p["latency_s"],
                p["stop"],
                p["loop_breaks"],
                p.get("budget_closed", False),
            ),  # fmt: skip
            policy,
        )
        for p in old
    ]
    wall = metrics["overall"]["wall_time_s"]
    metrics.update(aggregate(rows, wall))
    metrics["provenance"]["rescored"] = {"git": _git_commit(), "date": _now()}
    write_results(out, rows, metrics)
    return metrics


def run_eval(
    spec: EvalSpec,
    data: str | Path,
    schemas_dir: str | Path,
    out: str | Path,
    *,
    model_and_tokenizer: tuple[Any, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Evaluate spec on a dataset; writes out/predictions.jsonl and out/metrics.json, returns metrics."""
    import torch

    data = Path(data)
    records, schemas = import_edgejson(data, schemas_dir)
    records = records[: spec.limit] if spec.limit else records
    model, tokenizer = model_and_tokenizer or load_model(spec.model, spec.adapter, spec.dtype)
    torch.manual_seed(0)  # greedy decoding uses no randomness; this is for any model code that does
    if spec.threads:
        # On a shared CPU, torch's OpenMP workers wait on each other: 1 thread can be 10x faster.
        torch.set_num_threads(spec.threads)
    rows, wall = predict(model, tokenizer, records, schemas, spec, progress)
    metrics = {
        "name": spec.name,
        "model": spec.model,
        "run": spec.run,
        "mode": spec.mode,
        "prompt_format": spec.prompt_format,
        "split": spec.split,
        **aggregate(rows, wall),
        "provenance": provenance(
            spec, data, torch.get_num_threads(), next(model.parameters()).dtype
        ),
    }
    write_results(Path(out), rows, metrics)
    return metrics
