from importlib.metadata import version

__version__ = version("maaza")
__all__ = ["Extractor", "__version__"]


def __getattr__(name: str):  # PEP 562: `import maaza` stays cheap; torch loads only when used
    if name == "Extractor":
        from maaza.extract import Extractor

        return Extractor
    raise AttributeError(f"module 'maaza' has no attribute {name!r}")
