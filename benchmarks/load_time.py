"""Time `maaza.models.load`: a cold load fills $MAAZA_CACHE, a second load reads it (< 5 s target).

    .venv/bin/python benchmarks/load_time.py [smollm2-135m-instruct gemma3-270m ...]

Each load runs in a fresh process, so the timing is what a notebook or CLI call pays
(`import` = importing torch, transformers and maaza; `load` = the load() call itself).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

CHILD = """
import json, time
t0 = time.perf_counter()
from maaza.models import cache_state, load
import transformers.modeling_utils, transformers.models.auto.modeling_auto  # the heavy imports
t1 = time.perf_counter()
state = cache_state({name!r})
model, tok = load({name!r})
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1, "cache_before": state}}))
"""


def timed_load(name: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
    out = subprocess.run([sys.executable, "-c", CHILD.format(name=name)], env=env,
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(names: list[str]) -> None:
    for name in names:
        for attempt in ("first", "second"):
            t0 = time.perf_counter()
            r = timed_load(name)
            print(f"{name:24s} {attempt:6s} load {r['load_s']:6.2f} s  import {r['import_s']:5.2f} s  "
                  f"process {time.perf_counter() - t0:6.2f} s  (cache before: {r['cache_before']})")  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:] or ["smollm2-135m-instruct"])
