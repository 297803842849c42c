"""An HTTP extractor: the model loads once, concurrent requests decode together as one batch.

    maaza serve --port 8000                      # best trained run under runs/, on 127.0.0.1
    curl -s localhost:8000/extract -H 'content-type: application/json' \\
         -d '{"schema": {"type": "object", ...}, "text": "Call Ana Ruiz on ..."}'

POST /extract {schema, text} -> {value, valid, errors, n_tokens, stop, latency_ms, batch}; 422 with
a one-line `detail` for a bad schema or text (the same checks as `maaza extract`), before any
decoding. GET /health -> what answers. Needs the `serve` extra (FastAPI + uvicorn).

Batching: a request waits up to `max_wait_ms` for others (at most decode.batch_size rows) and the
whole group goes through Extractor.extract_batch, the batched decoder `maaza extract` uses, on one
worker thread (the model and the tokenizer are not shared between threads).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from maaza.extract import ExtractError, Extractor, check_text


class ExtractRequest(BaseModel):
    """The body of POST /extract (FastAPI answers 422 for a missing or mistyped field)."""

    model_config = ConfigDict(extra="forbid")
    json_schema: dict[str, Any] = Field(alias="schema", description="draft-07 JSON Schema")
    text: str = Field(description="text to extract from")


@dataclass
class _Job:
    text: str
    schema: dict[str, Any]
    future: asyncio.Future = field(repr=False)


class Batcher:
    """Collects requests for up to `max_wait_ms` (or `max_batch` of them) and decodes them as one
    batch on a single worker thread; each caller gets its own Extraction (or its own error)."""

    def __init__(self, extractor: Extractor, max_batch: int, max_wait_ms: float) -> None:
        self.extractor, self.max_batch, self.max_wait = extractor, max_batch, max_wait_ms / 1000
        self.queue: asyncio.Queue[_Job] = asyncio.Queue()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maaza-decode")
        self.batches: list[int] = []  # size of every batch decoded (for /health and tests)
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.worker.shutdown(wait=True)

    async def submit(self, text: str, schema: dict[str, Any]) -> tuple[Any, int]:
        """(Extraction, size of the batch it was decoded in); ExtractError for this row alone."""
        job = _Job(text, schema, asyncio.get_running_loop().create_future())
        await self.queue.put(job)
        return await job.future

    async def _collect(self) -> list[_Job]:
        jobs = [await self.queue.get()]
        deadline = time.perf_counter() + self.max_wait
        while len(jobs) < self.max_batch:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            try:
                jobs.append(await asyncio.wait_for(self.queue.get(), left))
            except TimeoutError:
                break
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            try:
                results = await loop.run_in_executor(self.worker, self._decode, jobs)
            except Exception as err:  # noqa: BLE001 - every waiting caller must hear of it
                results = [err] * len(jobs)
            n = sum(not isinstance(r, Exception) for r in results)
            self.batches.append(n)
            for job, res in zip(jobs, results, strict=True):
                if job.future.done():  # the client went away
                    continue
                if isinstance(res, Exception):
                    job.future.set_exception(res)
                else:
                    job.future.set_result((res, n))

    def _decode(self, jobs: list[_Job]) -> list[Any]:
        """On the worker thread: prompt-length checks per row (a too-long text fails alone), then
        one batched decode of the rest."""
        out: list[Any] = [None] * len(jobs)
        ok = []
        for i, job in enumerate(jobs):
            try:
                self.extractor.check_lengths([job.text], [job.schema])
                ok.append(i)
            except ExtractError as err:
                out[i] = err
        if ok:
            found = self.extractor.extract_batch(
                [jobs[i].text for i in ok], [jobs[i].schema for i in ok]
            )
            for i, res in zip(ok, found, strict=True):
                out[i] = res
        return out


def check_request(extractor: Extractor, schema: Any, text: Any) -> None:
    """ExtractError (-> 422) unless the text is usable and the schema can be enforced."""
    check_text(text, "text")
    extractor.check_schema(schema)


def create_app(extractor: Extractor, max_wait_ms: float = 10.0) -> Any:
    """The FastAPI app around an already loaded Extractor."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, HTTPException
    from starlette.concurrency import run_in_threadpool

    batcher = Batcher(extractor, extractor.cfg.batch_size, max_wait_ms)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ARG001 - FastAPI's signature
        batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="maaza", summary="text -> JSON matching your JSON Schema", lifespan=lifespan
    )
    app.state.batcher = batcher

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "source": extractor.source.describe(),
            "mode": extractor.mode,
            "device": str(getattr(extractor.model, "device", "cpu")),
            "max_batch": batcher.max_batch,
            "max_wait_ms": max_wait_ms,
            "batches": len(batcher.batches),
            "requests": sum(batcher.batches),
        }

    @app.post("/extract")
    async def extract(req: ExtractRequest) -> dict[str, Any]:
        start = time.perf_counter()
        try:
            # grammar compilation can take a while: off the event loop
            await run_in_threadpool(check_request, extractor, req.json_schema, req.text)
            res, batch = await batcher.submit(req.text, req.json_schema)
        except ExtractError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return {
            "value": res.value,
            "valid": res.valid,
            "errors": res.errors,
            "n_tokens": res.n_tokens,
            "stop": res.stop,
            "decode_ms": round(res.latency_s * 1000, 1),
            "latency_ms": round((time.perf_counter() - start) * 1000, 1),
            "batch": batch,
        }

    return app
