import sys
from importlib.metadata import version

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
