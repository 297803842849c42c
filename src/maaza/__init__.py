import os
import sys
from importlib.metadata import version

# Waiting OpenMP threads sleep instead of spinning (every entry point: train, evaluate, extract,
# serve). Spinning wins a little on an idle CPU and loses badly beside any other process, even
# one at idle priority. Measured 2026-11-30 on a 2-core AVX2 EPYC, one fp32 SmolLM2-135M decode
# step of 8 rows: alone, 2 threads spinning 207 ms, unset 231, passive 241, 1 thread 276; beside
# one SCHED_IDLE pytest, spinning 1,218 ms and passive 434 (1 thread 283). Read once, when torch
# loads its OpenMP runtime (no effect if torch was imported first); the environment's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# jsonschema imports rfc3987_syntax (present only as jupyter-events' extra) when it can, to check
# `format: iri`; that import builds a parser and costs ~3 s in every process that validates a
# schema (each pipeline stage, each `maaza` command). Our schemas use no iri format and `format`
# is an annotation by default, so jsonschema is told the package is absent (it then skips iri).
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__version__ = version("maaza")
__all__ = ["Extractor", "__version__"]


def __getattr__(name: str):  # PEP 562: `import maaza` stays cheap; torch loads only when used
    if name == "Extractor":
        from maaza.extract import Extractor

        return Extractor
    raise AttributeError(f"module 'maaza' has no attribute {name!r}")
