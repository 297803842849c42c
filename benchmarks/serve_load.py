"""Load on `maaza serve` over loopback: requests/s and p50/p95 latency at 1, 4 and 16 clients.

    flock /tmp/maaza-torch.lock .venv/bin/python benchmarks/serve_load.py \\
        --run smollm2-135m-maaza --requests 32 --clients 1 4 16

Starts `maaza serve` (the run's adapter, constrained decoding, --threads, batches of up to 16,
--max-wait-ms) on a free 127.0.0.1 port, warms it up with one request per schema (compiling the
grammars), then for each client count sends the same --requests test examples (data/test.jsonl,
cycled) from that many concurrent clients, each waiting for its answer before sending the next.
Latency is the client's wall time per request (queueing + batching wait + decoding); the batch
sizes are what the server reports. Writes results/bench/serve_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from maaza import io
from maaza.importer import import_edgejson


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: argparse.Namespace, port: int) -> tuple[subprocess.Popen, float]:
    cmd = [sys.executable, "-m", "maaza.cli", "serve", "--adapter", args.run, "--port", str(port),
           "--threads", str(args.threads), "--batch-size", str(max(args.clients)),
           "--max-wait-ms", str(args.max_wait_ms), "--device", "cpu"]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"maaza serve exited with status {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc, time.perf_counter() - start
        except httpx.TransportError:
            time.sleep(0.5)


def level(url: str, bodies: list[dict], clients: int) -> dict:
    """`clients` concurrent clients share the request list; per-request wall times and batches."""
    todo = list(range(len(bodies)))
    rows: list[dict] = []

    def client() -> None:
        with httpx.Client(timeout=600) as http:
            while todo:
                i = todo.pop(0)
                start = time.perf_counter()
                r = http.post(url + "/extract", json=bodies[i])
                ms = (time.perf_counter() - start) * 1000
                r.raise_for_status()
                rows.append({"ms": ms, **{k: r.json()[k] for k in ("valid", "n_tokens", "batch")}})

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(client) for _ in range(clients)]:
            f.result()
    wall = time.perf_counter() - start
    ms = [r["ms"] for r in rows]
    q = statistics.quantiles(ms, n=20, method="inclusive")
    return {
        "clients": clients,
        "requests": len(rows),
        "wall_s": round(wall, 2),
        "requests_per_s": round(len(rows) / wall, 3),
        "p50_ms": round(q[9], 1),
        "p95_ms": round(q[18], 1),
        "mean_batch": round(statistics.fmean(r["batch"] for r in rows), 2),
        "tokens_per_s": round(sum(r["n_tokens"] for r in rows) / wall, 1),
        "valid": sum(r["valid"] for r in rows),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", default="smollm2-135m-maaza")
    ap.add_argument("--requests", type=int, default=32, help="requests per client count")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--threads", type=int, default=1, help="the server's torch threads")
    ap.add_argument("--max-wait-ms", type=float, default=10.0)
    ap.add_argument("--data", type=Path, default=Path("data/test.jsonl"))
    ap.add_argument("--out", type=Path, default=Path("results/bench/serve_load.json"))
    args = ap.parse_args()

    records, schemas = import_edgejson(args.data, Path("src/maaza/schemas"))
    bodies = [{"schema": schemas[r["schema_id"]], "text": r["prompt"]}
              for r in (records * args.requests)[: args.requests]]  # fmt: skip
    port = free_port()
    proc, ready_s = start_server(args, port)
    url = f"http://127.0.0.1:{port}"
    try:
        for schema in {
            json.dumps(b["schema"], sort_keys=True): b["schema"] for b in bodies
        }.values():
            httpx.post(url + "/extract", json={"schema": schema, "text": "warm-up"}, timeout=600)
        levels = []
        for clients in args.clients:
            levels.append(level(url, bodies, clients))
            s = levels[-1]
            print(f"{clients:>3} clients: {s['requests_per_s']:.2f} req/s  p50 {s['p50_ms']:.0f} ms  "
                  f"p95 {s['p95_ms']:.0f} ms  mean batch {s['mean_batch']}  valid {s['valid']}/{s['requests']}")  # fmt: skip
        health = httpx.get(url + "/health").json()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    io.write_json(args.out, {
        "run": args.run, "server": health, "ready_s": round(ready_s, 1),
        "threads": args.threads, "max_wait_ms": args.max_wait_ms, "loopback": url,
        "machine": {"cpu": io.cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()},
        "created": io.now(), "git_commit": io.git_commit(),
        "command": f"benchmarks/serve_load.py --run {args.run} --requests {args.requests} "
                   f"--clients {' '.join(map(str, args.clients))} --threads {args.threads}",
        "levels": levels,
    })  # fmt: skip


if __name__ == "__main__":
    main()
