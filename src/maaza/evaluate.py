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

import functools
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from maaza import headline, io
from maaza.config import DecodeConfig, DecodeMode, FormatPolicy, Params, PromptFormat
from maaza.decode import Generation, GrammarCache, generate, vocab_size
from maaza.importer import import_edgejson
from maaza.metrics import (
    ERROR_CATEGORIES,
    METRICS,
    copy_checks,
    copy_fidelity,
    parse_output,
    schema_errors,
    score_example,
)
from maaza.plan import Eval, plan_from_params
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
    workers: int = 1  # decode processes, 1 torch thread each (maaza.parallel)
    dtype: str = "float32"  # decode weights: auto|float32|bfloat16|int8|float16 (load_model)


def spec_from_params(
    params: Params,
    *,
    name: str,
    mode: DecodeMode,
    split: str,
    model: str | None = None,
    run: str | None = None,
    adapter: str | None = None,
    prompt_format: PromptFormat | None = None,
) -> EvalSpec:
    """A zero-shot spec (model given) or a fine-tuned one (run given: its model and prompt format,
    from params.yaml unless both are given, e.g. as the run's train_metrics.json recorded them)."""
    if run is not None and model is not None and prompt_format is not None:
        fmt = prompt_format
    elif run is not None:
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
        workers=params.evaluate.workers,
        dtype=params.evaluate.dtype_of(run if run is not None else model),
    )


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
    record: dict[str, Any], schema: dict[str, Any], gen: Generation, format_policy: FormatPolicy
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
        # (kind, length bucket, exact) per value copied from the text: metrics' copy_fidelity
        "copies": [
            list(c) for c in copy_checks(record["prompt"], record["expected_output"], parsed.value)
        ],
    }


def _rates(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """n and every per-example metric of the registry (maaza.metrics.METRICS), averaged."""
    n = len(rows)
    averaged = [m for m in METRICS.values() if m.of_example is not None]
    return {"n": n, **{m.name: round(sum(map(m.of_example, rows)) / n, 6) for m in averaged}}


def _stderr(rows: list[dict[str, Any]], key: str) -> float:
    """Standard error of the mean of a per-example score (0 for n < 2)."""
    xs = [float(r[key]) for r in rows]
    n = len(xs)
    if n < 2:
        return 0.0
    mean = sum(xs) / n
    return round(math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1) / n), 6)


MAX_DTYPE_DROP = 0.01  # JSONExact points (as a fraction) a cheaper decode dtype may lose: equal


def dtype_verdict(
    fp32_exact: list[int],
    candidate_exact: list[int],
    setting: str = "auto",
    max_drop: float = MAX_DTYPE_DROP,
) -> dict[str, Any]:
    """Does decoding in a cheaper dtype (bf16, int8, float16) keep JSONExact? Paired over the
    same examples: the run gets `setting` (its evaluate.dtypes value: auto for bf16, i.e. bf16
    only where native; int8; float16) when the candidate loses at most `max_drop` and the 95%
    interval of the paired difference reaches 0 (not significantly worse); else float32. Only
    the examples where the two differ carry information (b: candidate alone right, c: fp32
    alone right)."""
    if len(fp32_exact) != len(candidate_exact) or not fp32_exact:
        raise ValueError("one JSONExact per example in each dtype, on the same examples")
    n = len(fp32_exact)
    pairs = list(zip(fp32_exact, candidate_exact, strict=True))
    b = sum(1 for f, h in pairs if h and not f)
    c = sum(1 for f, h in pairs if f and not h)
    diff = (b - c) / n
    half = 1.96 * math.sqrt(max(b + c - (b - c) ** 2 / n, 0.0)) / n  # paired (McNemar) s.e.
    equal = diff >= -max_drop and diff + half >= 0
    return {
        "n": n,
        "json_exact_fp32": sum(fp32_exact) / n,
        "json_exact_candidate": sum(candidate_exact) / n,
        "diff": round(diff, 6),
        "ci95": [round(diff - half, 6), round(diff + half, 6)],
        "candidate_only_right": b,
        "fp32_only_right": c,
        "dtype": setting if equal else "float32",
    }


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
    fidelity = copy_fidelity([c for r in rows for c in r.get("copies", [])])
    overall["copy_exact"] = fidelity["exact"]
    return {
        "n": len(rows),
        "overall": overall,
        "by_tier": _group(rows, "complexity"),
        "by_schema": by_schema,
        "by_style": _group(rows, "style"),
        "errors": errors,
        "copy_fidelity": fidelity,
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
def provenance(spec: EvalSpec, data: Path, n_threads: int, dtype: str) -> dict[str, Any]:
    """`dtype`: the weights as loaded (maaza.models.weights_dtype: spec.dtype resolved, or a
    model handed in)."""
    import torch

    from maaza.models import native_bf16

    return {
        "git": io.git_commit(),
        "date": io.now(),
        "versions": {pkg: version(pkg) for pkg in VERSIONED},
        # torch_threads: of each decode worker when workers > 1 (maaza.parallel)
        "hardware": {
            "cpu": io.cpu_name(),
            "cores": os.cpu_count(),
            "torch_threads": n_threads,
            "decode_workers": spec.workers,
        },
        "data": {"path": str(data), "sha256": io.sha256(data)},
        "adapter": spec.adapter,
        "limit": spec.limit,
        "dtype": dtype,
        "native_bf16": native_bf16(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "decode": spec.decode.model_dump(),
    }


# ----------------------------------------------------------------------------- pre-checks
class EvalInputError(ValueError):
    """An evaluation that cannot run as asked (found before the model loads): one line."""


def grammar_error(schema: dict[str, Any], cfg: DecodeConfig) -> str | None:
    """Compile the grammar constrained decoding will use (no tokenizer needed): the engine's own
    complaint, or None. maaza.extract.check_schema uses it too."""
    import json

    import xgrammar as xgr

    from maaza.decode import grammar_schema
    from maaza.prompts import JSON_SEPARATORS

    prepared = grammar_schema(schema, cfg.format_policy, cfg.max_items, cfg.max_string_length)
    try:
        xgr.Grammar.from_json_schema(
            json.dumps(prepared), any_whitespace=False, separators=JSON_SEPARATORS, strict_mode=True
        )
    except (RuntimeError, ValueError) as err:
        # "[22:48:29] /project/cpp/json_schema_converter.cc:4944: enum array must not be empty"
        return str(err).strip().rsplit(": ", 1)[-1] if ".cc:" in str(err) else str(err).strip()
    return None


def check_grammars(
    schemas: dict[str, dict[str, Any]], cfg: DecodeConfig, schemas_dir: str | Path
) -> None:
    """Constrained mode: every schema's grammar compiles, before any model loads."""
    from maaza.schemas import schema_files

    files = schema_files(Path(schemas_dir))
    for sid in sorted(schemas):
        reason = grammar_error(schemas[sid], cfg)
        if reason is not None:
            raise EvalInputError(
                f"{files.get(sid, sid)}: schema {sid!r} cannot be used for constrained decoding: "
                f"the grammar engine (xgrammar) cannot compile it: {reason}"
            )


def check_workers(spec: EvalSpec) -> None:
    """Decode workers split the rows into other batches, which changes int8 outputs (its
    activation scales are per batch): refused (maaza.parallel too), so workers never change an
    evaluation's outputs."""
    if spec.workers > 1 and spec.dtype == "int8":
        raise EvalInputError(
            f"evaluate.workers: {spec.workers} with int8 decode weights: int8 outputs depend on "
            "the batch, so workers would change them (set workers to 1, or use another dtype)"
        )


IDENTITY = ("name", "run", "mode", "split")  # what makes two evaluations the same job


def check_out(out: str | Path, spec: EvalSpec, force: bool = False) -> None:
    """Refuse to write into a folder holding another job's results (another evaluation's
    metrics.json, or a training run's files) unless `force`; rerunning the same evaluation
    (same name, run, mode and split) may replace its own results."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EvalInputError(f"{out}: exists and is not a folder")
    if force or not out.is_dir():
        return
    if (out / "train_metrics.json").exists() or (out / "adapter").exists():
        raise EvalInputError(
            f"{out}: holds a training run's results; pick another --out (or --force)"
        )
    if not (out / "metrics.json").exists():
        return
    try:
        old = io.read_json(out / "metrics.json")
    except io.InputError:
        old = None
    new = {"name": spec.name, "run": spec.run, "mode": spec.mode, "split": spec.split}
    if not isinstance(old, dict) or any(old.get(k) != new[k] for k in IDENTITY):
        was = ", ".join(f"{k} {old.get(k)!r}" for k in IDENTITY) if isinstance(old, dict) else "?"
        now = ", ".join(f"{k} {new[k]!r}" for k in IDENTITY)
        raise EvalInputError(
            f"{out}: holds another evaluation ({was}); this one is {now}: pick another --out, "
            "or --force to replace it"
        )


def check_lengths(
    model: Any, tokenizer: Any, records: list[dict[str, Any]], prompts: list[str],
    budgets: list[int],
) -> None:  # fmt: skip
    """Every prompt plus its answer budget fits the model's context, before any decoding
    (EvalInputError naming the example and the lengths)."""
    from maaza.models import model_context

    context = model_context(model, tokenizer)
    if not context:
        return
    for r, prompt, budget in zip(records, prompts, budgets, strict=True):
        n = len(tokenizer(prompt)["input_ids"])
        if n + budget > context:
            raise EvalInputError(
                f"example {r['id']!r}: prompt of {n} tokens + answer budget of {budget} = "
                f"{n + budget} tokens, over the model's context of {context} tokens"
            )


# ----------------------------------------------------------------------------- I/O edge
def load_model(
    model: str, adapter: str | Path | None = None, dtype: str = "float32"
) -> tuple[Any, Any]:
    """Base model from the registry, with a peft adapter merged in (merged weights decode faster).
    `dtype`: float32 | bfloat16 | auto (maaza.models.resolve_dtype: bf16 where native) | int8 |
    float16 (fp32 merged, then its Linear layers packed: maaza.models.pack_linears)."""
    from maaza.models import PACKED, load, pack_linears, resolve_dtype

    packed = dtype in PACKED
    base, tokenizer = load(model, dtype=resolve_dtype("float32" if packed else dtype))
    merged = base if adapter is None else _merge(base, Path(adapter))
    return (pack_linears(merged, dtype) if packed else merged), tokenizer


def _merge(base: Any, adapter: Path) -> Any:
    """`base` with a peft adapter (or a full fine-tuning delta) folded into its weights."""
    from peft import PeftModel

    from maaza.models import apply_full_delta, is_full_delta

    if is_full_delta(adapter):  # a `method: full` run: every weight changed
        return apply_full_delta(base, adapter).eval()
    if not (adapter / "adapter_config.json").is_file():
        raise FileNotFoundError(
            f"{adapter}: not a peft adapter folder (no adapter_config.json) nor a full "
            "fine-tuning delta"
        )
    return PeftModel.from_pretrained(base, str(adapter)).merge_and_unload().eval()


def write_results(out: Path, rows: Iterable[dict[str, Any]], metrics: dict[str, Any]) -> None:
    io.write_jsonl(out / "predictions.jsonl", rows)
    io.write_json(out / "metrics.json", metrics, indent=1)


def _decode_inputs(
    model: Any,
    tokenizer: Any,
    records: list[dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    spec: EvalSpec,
) -> tuple[list[str], list[dict[str, Any]], list[int]]:
    """Prompts, schemas and token budgets of one evaluation's rows (budgets from its own records)."""
    budgets = schema_budgets(
        records, lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"]), spec.decode
    )
    prompts = [
        build_prompt(r["prompt"], schemas[r["schema_id"]], spec.prompt_format) for r in records
    ]
    row_budgets = [budgets[r["schema_id"]] for r in records]
    check_lengths(model, tokenizer, records, prompts, row_budgets)
    return prompts, [schemas[r["schema_id"]] for r in records], row_budgets


def predict_pooled(
    model: Any,
    tokenizer: Any,
    groups: list[tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]],
    spec: EvalSpec,
    progress: bool = True,
    grammars: GrammarCache | None = None,
) -> list[tuple[list[dict[str, Any]], float]]:
    """Decode several evaluations' (records, schemas) in shared batches (one generate call) and
    score them; returns each group's prediction rows and its share of the decoding wall time
    (by rows). Each group keeps its own token budgets. `spec` gives mode, prompt and decoding;
    with spec.workers > 1 the rows are decoded by that many forked processes (maaza.parallel)."""
    cfg = spec.decode
    decode = generate
    if spec.workers > 1:
        from maaza.parallel import generate_parallel

        decode = functools.partial(generate_parallel, workers=spec.workers)
    inputs = [_decode_inputs(model, tokenizer, recs, schemas, spec) for recs, schemas in groups]
    prompts, row_schemas, budgets = ([x for i in inputs for x in i[k]] for k in range(3))
    if spec.mode == "constrained" and grammars is None:
        grammars = GrammarCache(tokenizer, vocab_size(model), cfg)
    start = time.perf_counter()
    gens = decode(
        model, tokenizer, prompts, cfg, mode=spec.mode, schemas=row_schemas,
        grammars=grammars, budgets=budgets, progress=progress,
        sources=[r["prompt"] for recs, _ in groups for r in recs],  # copy_spans: spans of the text
    )  # fmt: skip
    wall = time.perf_counter() - start
    out, at = [], 0
    for records, _ in groups:
        n = len(records)
        rows = [
            prediction_row(r, s, g, cfg.format_policy)
            for r, s, g in zip(records, row_schemas[at : at + n], gens[at : at + n], strict=True)
        ]
        out.append((rows, wall * n / max(len(prompts), 1)))
        at += n
    return out


def predict(
    model: Any,
    tokenizer: Any,
    records: list[dict[str, Any]],
    schemas: dict[str, dict[str, Any]],
    spec: EvalSpec,
    progress: bool = True,
    grammars: GrammarCache | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """Decode every record and score it; returns the prediction rows and the decoding wall time."""
    return predict_pooled(model, tokenizer, [(records, schemas)], spec, progress, grammars)[0]


def rescore(out: str | Path, data: str | Path, schemas_dir: str | Path) -> dict[str, Any]:
    """Score an evaluation's saved raw outputs again (after a metrics change), without decoding.

    Decoding facts (text, tokens, latency, stop) and provenance are kept; the metrics file
    records when it was rescored and by which commit.
    """
    out = Path(out)
    metrics = io.read_json(out / "metrics.json")
    old = io.read_jsonl(out / "predictions.jsonl")
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
    metrics["provenance"]["rescored"] = {"git": io.git_commit(), "date": io.now()}
    write_results(out, rows, metrics)
    return metrics


def eval_inputs(
    spec: EvalSpec, data: Path, schemas_dir: str | Path, out: str | Path, force: bool = False
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every check that needs no model: the out folder, the data and schemas, the grammars."""
    check_out(out, spec, force)
    records, schemas = import_edgejson(data, schemas_dir)
    records = records[: spec.limit] if spec.limit else records
    check_workers(spec)
    if spec.mode == "constrained":
        check_grammars(schemas, spec.decode, schemas_dir)
    return records, schemas


def run_eval(
    spec: EvalSpec,
    data: str | Path,
    schemas_dir: str | Path,
    out: str | Path,
    *,
    model_and_tokenizer: tuple[Any, Any] | None = None,
    progress: bool = True,
    force: bool = False,
    inputs: tuple[list[dict[str, Any]], dict[str, Any]] | None = None,
    grammars: GrammarCache | None = None,
) -> dict[str, Any]:
    """Evaluate spec on a dataset; writes out/predictions.jsonl and out/metrics.json, returns
    metrics. `out` must not hold another job's results unless `force` (check_out). `inputs`:
    eval_inputs' (records, schemas), when already checked."""
    data = Path(data)
    records, schemas = inputs or eval_inputs(spec, data, schemas_dir, out, force)
    model, tokenizer = model_and_tokenizer or load_model(spec.model, spec.adapter, spec.dtype)
    _torch_setup(spec)
    rows, wall = predict(model, tokenizer, records, schemas, spec, progress, grammars)
    return finish_eval(spec, data, out, rows, wall, model)


def _torch_setup(spec: EvalSpec) -> None:
    import torch

    torch.manual_seed(0)  # greedy decoding uses no randomness; this is for any model code that does
    if spec.threads:
        # On a shared CPU, torch's OpenMP workers wait on each other: 1 thread can be 10x faster.
        torch.set_num_threads(spec.threads)


def finish_eval(
    spec: EvalSpec,
    data: Path,
    out: str | Path,
    rows: list[dict[str, Any]],
    wall: float,
    model: Any,
    pooled_with: list[str] | None = None,
) -> dict[str, Any]:
    """Aggregate an evaluation's prediction rows and write its folder; returns the metrics."""
    import torch

    from maaza.models import weights_dtype
    from maaza.parallel import WORKER_THREADS

    threads = WORKER_THREADS if spec.workers > 1 else torch.get_num_threads()
    prov = provenance(spec, data, threads, weights_dtype(model))
    if pooled_with:  # decoded in shared batches with these evaluations; wall split by rows
        prov["pooled_with"] = pooled_with
    metrics = {
        "name": spec.name,
        "model": spec.model,
        "run": spec.run,
        "mode": spec.mode,
        "prompt_format": spec.prompt_format,
        "split": spec.split,
        **aggregate(rows, wall),
        "provenance": prov,
    }
    write_results(Path(out), rows, metrics)
    return metrics


def trained_settings(run_dir: str | Path) -> tuple[str, PromptFormat]:
    """(base model, prompt format) a run was trained with, as its train_metrics.json records."""
    metrics = io.read_json(Path(run_dir) / "train_metrics.json")
    return metrics["model"], metrics["prompt_format"]


def subject_specs(
    params: Params, subject: str, runs_dir: str | Path = "runs"
) -> list[tuple[EvalSpec, Eval]]:
    """Every evaluation params.yaml declares for one run or zero-shot model (maaza.plan)."""
    plan = plan_from_params(params)
    evals = plan.evals_of(subject)
    if not evals:
        raise ValueError(f"{subject!r}: neither a declared run nor a zero-shot model")
    out = []
    for e in evals:
        if e.run is None:
            spec = spec_from_params(params, name=e.name, mode=e.mode, split=e.split, model=e.model)
        else:
            run_dir = plan.run(e.run).dir(runs_dir)
            model, fmt = trained_settings(run_dir)
            spec = spec_from_params(
                params, name=e.name, mode=e.mode, split=e.split, run=e.run, model=model,
                prompt_format=fmt, adapter=str(run_dir / "adapter"),
            )  # fmt: skip
        out.append((spec, e))
    return out


def evaluate_subject(
    params: Params,
    subject: str,
    *,
    data_dir: str | Path = "data",
    schemas_dir: str | Path,
    eval_dir: str | Path = "results/eval",
    runs_dir: str | Path = "runs",
    metrics_dir: str | Path | None = None,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """All of a subject's evaluations in one process: the model (with its adapter merged) is
    loaded once; each evaluation still writes its own folder (dvc.yaml's eval stages), and with
    `metrics_dir` its headline numbers to <metrics_dir>/<name>.json (maaza.headline, for DVC)."""
    specs = subject_specs(params, subject, runs_dir)
    # every evaluation's inputs checked before the model loads (a bad file fails in seconds)
    inputs = [
        eval_inputs(spec, e.data_file(data_dir), schemas_dir, e.out_dir(eval_dir))
        for spec, e in specs
    ]
    first = specs[0][0]
    model_and_tokenizer = load_model(first.model, first.adapter, first.dtype)
    model, tokenizer = model_and_tokenizer
    _torch_setup(first)
    # one grammar cache for all of the subject's constrained evaluations (same tokenizer)
    grammars = (
        GrammarCache(tokenizer, vocab_size(model), first.decode)
        if any(spec.mode == "constrained" for spec, _ in specs)
        else None
    )
    jobs = [(spec, e, checked) for (spec, e), checked in zip(specs, inputs, strict=True)]
    results: dict[str, dict[str, Any]] = {}
    if params.evaluate.pool:  # one decode per mode, each evaluation keeps its own rows
        for mode in dict.fromkeys(spec.mode for spec, _, _ in jobs):
            group = [job for job in jobs if job[0].mode == mode]
            decoded = predict_pooled(
                model, tokenizer, [c for _, _, c in group], group[0][0], progress, grammars
            )
            names = [e.name for _, e, _ in group]
            for (spec, e, _), (rows, wall) in zip(group, decoded, strict=True):
                others = [n for n in names if n != e.name]
                results[e.name] = finish_eval(
                    spec, e.data_file(data_dir), e.out_dir(eval_dir), rows, wall, model, others
                )
    else:
        for spec, e, checked in jobs:
            results[e.name] = run_eval(
                spec, e.data_file(data_dir), schemas_dir, e.out_dir(eval_dir),
                model_and_tokenizer=model_and_tokenizer, progress=progress, inputs=checked,
                grammars=grammars,
            )  # fmt: skip
    results = {e.name: results[e.name] for _, e, _ in jobs}  # in plan order
    for metrics in results.values() if metrics_dir is not None else ():
        headline.write_eval(metrics, metrics_dir)
    return results
