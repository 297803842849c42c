"""Latency of one extraction: llama.cpp on the exported GGUF (its JSON-Schema grammar) vs our
PyTorch path (Extractor, constrained decoding), the same prompts, one request at a time.

    flock /tmp/maaza-torch.lock .venv/bin/python benchmarks/gguf_latency.py \\
        --run smollm2-135m-maaza --n 20 --types f32 f16 q8_0 --threads 1 --free

Needs the gguf extra (`pip install 'maaza[gguf]'`). The run is exported once to --export-dir
(`maaza export RUN --gguf`; reused while its manifest names the same adapter). Each path decodes
the first N test examples greedily with max_new_tokens from params.yaml; grammars are compiled
before timing (both engines cache them per schema). Both are fed the same token ids (maaza's
prompt, our tokenizer). The paper promises sub-100 ms inference on edge devices: `under_100ms`
counts the examples that made it. --free adds llama.cpp without a grammar (the grammar's cost;
its answers need not be valid). Writes per-example ms, p50/p95, tokens/s, agreement with the
PyTorch answer and the machine to results/bench/gguf_latency.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from maaza import io
from maaza.export import MANIFEST, export_gguf, export_run
from maaza.extract import Extractor, _adapter_sha, choose_source, judge
from maaza.importer import import_edgejson
from maaza.metrics import json_exact
from maaza.prompts import build_prompt


def summary(ms: list[float], tokens: list[int]) -> dict:
    q = statistics.quantiles(ms, n=20, method="inclusive")  # q[9] = p50, q[18] = p95
    return {
        "p50_ms": round(q[9], 1),
        "p95_ms": round(q[18], 1),
        "mean_ms": round(statistics.fmean(ms), 1),
        "tokens_per_s": round(sum(tokens) / (sum(ms) / 1000), 1),
        "under_100ms": sum(m < 100 for m in ms),
    }


def exported(run: str, folder: Path, types: list[str]) -> dict:
    """The export manifest, exporting (or converting missing GGUF types) only when needed."""
    source = choose_source(adapter=run)
    info = io.read_json(folder / MANIFEST) if (folder / MANIFEST).is_file() else {}
    if info.get("adapter_sha") != _adapter_sha(source.adapter):
        info = export_run(run, folder, gguf_types=types)
    have = {g["type"] for g in info.get("gguf", [])}
    for t in types:
        if t not in have:
            path = export_gguf(folder, folder / f"{info['run']}-{t}.gguf", t)  # type: ignore[arg-type]
            info.setdefault("gguf", []).append(
                {"file": path.name, "type": t, "bytes": path.stat().st_size}
            )
    io.write_json(folder / MANIFEST, info)
    return info


def torch_path(ex: Extractor, records: list[dict], schemas: dict) -> list[dict]:
    for s in schemas.values():  # compile every grammar before timing
        ex.check_schema(s)
        ex._grammar_cache().get(s)
    rows = []
    for r in records:
        schema = schemas[r["schema_id"]]
        start = time.perf_counter()
        res = ex.extract_batch([r["prompt"]], schema)[0]
        rows.append({"id": r["id"], "ms": round((time.perf_counter() - start) * 1000, 1),
                     "n_tokens": res.n_tokens, "valid": res.valid, "value": res.value,
                     "exact": json_exact(res.value, r["expected_output"])})  # fmt: skip
    return rows


def llama_path(path: Path, records, schemas, prompt_ids, budget, threads, grammar=True):
    """Per-example rows and the load time; grammar=False: plain greedy decoding (no schema)."""
    from llama_cpp import Llama, LlamaGrammar

    start = time.perf_counter()
    llm = Llama(str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
    load_s = time.perf_counter() - start
    grammars = {k: LlamaGrammar.from_json_schema(json.dumps(s), verbose=False)
                for k, s in schemas.items()}  # fmt: skip
    rows = []
    for r, ids in zip(records, prompt_ids, strict=True):
        llm.reset()  # no prompt-prefix reuse from the previous example
        start = time.perf_counter()
        out = llm.create_completion(ids, max_tokens=budget, temperature=0.0,
                                    grammar=grammars[r["schema_id"]] if grammar else None)  # fmt: skip
        ms = (time.perf_counter() - start) * 1000
        text = out["choices"][0]["text"]
        value, valid, _ = judge(text, schemas[r["schema_id"]])
        rows.append({"id": r["id"], "ms": round(ms, 1),
                     "n_tokens": out["usage"]["completion_tokens"], "valid": valid, "value": value,
                     "exact": json_exact(value, r["expected_output"])})  # fmt: skip
    return rows, {"load_s": round(load_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", default="smollm2-135m-maaza")
    ap.add_argument("--n", type=int, default=20, help="first N test examples")
    ap.add_argument("--types", nargs="+", default=["f32", "f16", "q8_0"])
    ap.add_argument("--threads", type=int, default=1, help="torch and llama.cpp threads")
    ap.add_argument("--free", action="store_true", help="also llama.cpp without a grammar")
    ap.add_argument("--data", type=Path, default=Path("data/test.jsonl"))
    ap.add_argument("--export-dir", type=Path, default=None, help="default build/export/<run>")
    ap.add_argument("--out", type=Path, default=Path("results/bench/gguf_latency.json"))
    args = ap.parse_args()

    import llama_cpp
    import torch

    folder = args.export_dir or Path("build/export") / args.run
    start = time.perf_counter()
    info = exported(args.run, folder, args.types)
    export_s = time.perf_counter() - start
    records, schemas = import_edgejson(args.data, Path("src/maaza/schemas"))
    records = records[: args.n]
    schemas = {r["schema_id"]: schemas[r["schema_id"]] for r in records}

    ex = Extractor(adapter=args.run, mode="constrained", threads=args.threads)
    ex.cfg = ex.cfg.model_copy(update={"batch_size": 1})
    prompts = [build_prompt(r["prompt"], schemas[r["schema_id"]], ex.source.prompt_format)
               for r in records]  # fmt: skip
    prompt_ids = [ex.tokenizer(p)["input_ids"] for p in prompts]
    rows = {"pytorch": torch_path(ex, records, schemas)}
    engines = {"pytorch": {"engine": f"torch {torch.__version__} + xgrammar, float32",
                           "load_s": round(ex.load_s, 2)}}  # fmt: skip
    for t, grammar in [(t, g) for t in args.types for g in (True, False) if g or args.free]:
        gguf = next(g for g in info["gguf"] if g["type"] == t)
        found, meta = llama_path(folder / gguf["file"], records, schemas, prompt_ids,
                                 ex.cfg.max_new_tokens, args.threads, grammar)  # fmt: skip
        name = f"llama.cpp {t}" + ("" if grammar else " free")
        rows[name] = found
        engines[name] = {"engine": f"llama-cpp-python {llama_cpp.__version__}, "
                         + ("JSON-Schema grammar" if grammar else "no grammar") + f", GGUF {t}",
                         "file_mb": round(gguf["bytes"] / 1e6, 1), **meta}  # fmt: skip
    base = rows["pytorch"]
    results = {}
    for name, found in rows.items():
        results[name] = {
            **engines[name],
            **summary([r["ms"] for r in found], [r["n_tokens"] for r in found]),
            "valid": sum(r["valid"] for r in found),
            "exact": sum(r["exact"] for r in found),
            "same_answer_as_pytorch": sum(a["value"] == b["value"] for a, b in zip(found, base, strict=True)),
            "examples": [{k: r[k] for k in ("id", "ms", "n_tokens", "valid", "exact")} for r in found],
        }  # fmt: skip
        s = results[name]
        print(f"{name:>16}: p50 {s['p50_ms']:7.1f} ms  p95 {s['p95_ms']:7.1f} ms  "
              f"{s['tokens_per_s']:6.1f} tok/s  valid {s['valid']}/{len(found)}  exact {s['exact']}  "
              f"same as pytorch {s['same_answer_as_pytorch']}/{len(found)}  <100 ms: {s['under_100ms']}")  # fmt: skip
    io.write_json(args.out, {
        "run": args.run, "n": len(records), "data": str(args.data), "threads": args.threads,
        "max_new_tokens": ex.cfg.max_new_tokens, "batch_size": 1, "export_s": round(export_s, 1),
        "machine": {"cpu": io.cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()},
        "created": io.now(), "git_commit": io.git_commit(),
        "command": f"benchmarks/gguf_latency.py --run {args.run} --n {args.n} --types {' '.join(args.types)} --threads {args.threads}" + (" --free" if args.free else ""),
        "results": results,
    })  # fmt: skip


if __name__ == "__main__":
    main()
