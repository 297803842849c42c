"""One decode call's rows shared among W worker processes (`evaluate.workers`).

    gens = generate_parallel(model, tokenizer, prompts, cfg, workers=2, mode="constrained",
                             schemas=schemas, grammars=grammars, budgets=budgets)

On 2 cores, two 1-thread processes decode ~1.3x the examples/s of one 2-thread process: a decode
step is small matmuls plus single-threaded Python (masks, stop checks), and one worker's Python
runs while the other multiplies. The workers are forked from the process that loaded the model,
so they share its weights (copy-on-write: no second load), and its compiled grammars (compiled
before the fork). Each worker decodes with 1 torch thread: torch's OpenMP (GNU libgomp) hangs in a
forked child that starts more threads once the parent has used its own (tested: torch 2.13).

Rows are sorted by (token budget, prompt length) and dealt round-robin, so each shard gets a
similar mix of short and long answers; each worker batches its shard as `generate` always does.
Greedy outputs do not depend on which rows share a batch (fp32, float16; not int8), so the merged
generations equal one process's. A worker that fails or dies fails the whole call (WorkerError).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from typing import Any, TypeVar

from tqdm.auto import tqdm

from maaza.config import DecodeConfig, DecodeMode
from maaza.decode import Generation, GrammarCache, generate, vocab_size

WORKER_THREADS = 1  # torch threads per forked worker (more hang: see above)

T = TypeVar("T")
R = TypeVar("R")


class WorkerError(RuntimeError):
    """A worker process failed or died: the call's results are incomplete, so none are returned."""


# ----------------------------------------------------------------------------- pure helpers
def deal(keys: Sequence[Any], workers: int) -> list[list[int]]:
    """Row indices in at most `workers` non-empty shards: rows sorted by key, dealt round-robin."""
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    return [order[k::workers] for k in range(min(workers, len(keys)))]


def gather(shards: list[list[int]], parts: list[list[T]]) -> list[T]:
    """The shards' results back in row order (parts[k][j] is row shards[k][j]'s)."""
    out: dict[int, T] = {}
    for rows, results in zip(shards, parts, strict=True):
        out.update(zip(rows, results, strict=True))
    return [out[i] for i in range(len(out))]


# ----------------------------------------------------------------------------- processes
def fork_map(
    fn: Callable[[T, Callable[[], None]], R],
    jobs: list[T],
    *,
    total: int,
    desc: str,
    progress: bool = True,
) -> list[R]:
    """[fn(job, tick) for job in jobs], each job in a forked child process, all at once; tick()
    (called in a child) advances the parent's one progress bar of `total` steps. Any child's
    failure or death raises WorkerError after every child is stopped."""
    ctx = mp.get_context("fork")  # the children share the parent's memory: nothing is pickled in
    procs, conns, readers = [], [], {}
    try:
        for k, job in enumerate(jobs):
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_child, args=(fn, job, send), daemon=True)
            proc.start()
            # Only the child holds the write end now (later children are forked after this close):
            # when it exits, however it exits, its pipe reads EOF once drained.
            send.close()
            procs.append(proc)
            conns.append(recv)
            readers[recv] = k
        results: dict[int, R] = {}
        with tqdm(total=total, desc=desc, unit="ex", disable=not progress) as bar:
            while readers:
                for recv in wait(list(readers)):
                    k = readers[recv]
                    try:
                        kind, value = recv.recv()
                    except EOFError:  # no result and no error sent: killed, or crashed in C
                        procs[k].join()
                        raise WorkerError(
                            f"worker {k + 1} of {len(jobs)} died (exit code {procs[k].exitcode}) "
                            "before sending its results"
                        ) from None
                    if kind == "tick":
                        bar.update(1)
                    elif kind == "error":
                        raise WorkerError(f"worker {k + 1} of {len(jobs)} failed: {value}")
                    else:
                        results[k] = value
                        del readers[recv]
        return [results[k] for k in range(len(jobs))]
    except BaseException:
        for proc in procs:
            proc.terminate()  # the others' work is lost anyway (an exited child: no-op)
        raise
    finally:
        for proc in procs:
            proc.join()
        for recv in conns:
            recv.close()


def _child(fn: Callable[[T, Callable[[], None]], R], job: T, send: Any) -> None:
    """A worker's body: its result, or its error on one line, sent to the parent."""
    try:
        send.send(("done", fn(job, lambda: send.send(("tick", None)))))
    except BaseException as err:
        first = (str(err).strip().splitlines() or [""])[0]
        send.send(("error", f"{type(err).__name__}: {first}"))
        raise  # its traceback on stderr, exit code 1


# ----------------------------------------------------------------------------- decoding
def generate_parallel(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    cfg: DecodeConfig,
    *,
    workers: int,
    mode: DecodeMode = "free",
    schemas: list[dict[str, Any]] | None = None,
    grammars: GrammarCache | None = None,
    budgets: list[int] | None = None,
    progress: bool = True,
    sources: list[str] | None = None,
) -> list[Generation]:
    """maaza.decode.generate's generations, decoded by `workers` forked processes of
    WORKER_THREADS torch threads each, one balanced shard of the rows each."""
    from maaza.models import weights_dtype

    if model.device.type != "cpu":
        raise ValueError(f"decode workers run on the CPU only (the model is on {model.device})")
    if weights_dtype(model) == "int8":  # its activation scales are per batch: other batches,
        raise ValueError(  # other outputs
            f"{workers} decode workers with int8 weights would change the outputs (int8 rows "
            "depend on their batch): decode int8 in 1 process"
        )
    if not prompts:
        return []
    budgets = budgets or [cfg.max_new_tokens] * len(prompts)
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    shards = deal(list(zip(budgets, lengths, strict=True)), workers)
    if mode == "constrained":  # every grammar compiled once, here: the workers inherit them
        grammars = grammars or GrammarCache(tokenizer, vocab_size(model), cfg)
        for schema in schemas or []:
            grammars.get(schema)
            grammars.reserve(schema)

    def rows_of(xs: list[Any] | None, rows: list[int]) -> list[Any] | None:
        return None if xs is None else [xs[i] for i in rows]

    def decode_shard(rows: list[int], tick: Callable[[], None]) -> list[Generation]:
        import torch

        torch.set_num_threads(WORKER_THREADS)
        os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one thread here too (no Rust pool)
        return generate(
            model, tokenizer, rows_of(prompts, rows), cfg, mode=mode,
            schemas=rows_of(schemas, rows), grammars=grammars, budgets=rows_of(budgets, rows),
            progress=False, sources=rows_of(sources, rows), on_row=tick,
        )  # fmt: skip

    desc = f"decode ({mode}, {len(shards)} workers)"
    parts = fork_map(decode_shard, shards, total=len(prompts), desc=desc, progress=progress)
    return gather(shards, parts)
