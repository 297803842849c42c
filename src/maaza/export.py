"""A trained run leaves the repository: a merged Hugging Face model folder, and GGUF for llama.cpp.

    maaza export smollm2-135m-maaza --out build/export/smollm2-135m-maaza --gguf

OUT/ holds config.json, model.safetensors (base + LoRA merged, or base + the delta of a full
fine-tuning run, float32), the tokenizer, generation_config.json and maaza-export.json (run, base
model, method, prompt format, adapter hash: the
prompt must be built with `maaza.prompts.build_prompt(text, schema, prompt_format)`, as the model
was trained on it). With --gguf, OUT/<run>-<type>.gguf for each --gguf-type, written by
llama.cpp's own converter (convert_hf_to_gguf.py, vendored in the `llama-cpp-python` source
package: `pip install 'maaza[gguf]'`). Loading either back: `maaza.models.load(OUT)`,
`transformers.AutoModelForCausalLM.from_pretrained(OUT)`, `llama_cpp.Llama(OUT/<file>.gguf)`.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Literal, get_args

from maaza import io

GgufType = Literal["f32", "f16", "bf16", "q8_0"]  # the converter's --outtype values we offer
GGUF_TYPES: tuple[str, ...] = get_args(GgufType)
CONVERTER = "convert_hf_to_gguf.py"
MANIFEST = "maaza-export.json"
LLAMA_CPP_ENV = "LLAMA_CPP_DIR"  # a llama.cpp checkout whose converter to use instead
GGUF_HINT = "pip install 'maaza[gguf]' (llama-cpp-python, which vendors llama.cpp's converter)"


class ExportError(ValueError):
    """A run that cannot be exported, or a converter that is missing or failed: one clear line."""


def _llama_cpp_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llama-cpp-python")
    except PackageNotFoundError:
        raise ExportError(f"GGUF export needs llama.cpp's converter: {GGUF_HINT}") from None


def _fetch_converter(ver: str, folder: Path) -> None:
    """Unpack the converter (script, its `conversion` package, the vendored gguf-py) from the
    llama-cpp-python source package of the installed version: its wheel ships no converter."""
    import tarfile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
               "--quiet", "-d", tmp, f"llama-cpp-python=={ver}"]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
        sdists = sorted(Path(tmp).glob("llama_cpp_python-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            why = (done.stderr.strip().splitlines() or ["no source package"])[-1]
            raise ExportError(f"cannot fetch the llama-cpp-python {ver} source package: {why}; "
                              f"or point LLAMA_CPP_DIR at a llama.cpp checkout")  # fmt: skip
        prefix = f"{sdists[0].name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
        wanted = (CONVERTER, "conversion/", "gguf-py/", "LICENSE")

        def build(out: Path) -> None:
            with tarfile.open(sdists[0]) as tar:
                members = [m for m in tar.getmembers() if m.name.startswith(prefix)
                           and m.name[len(prefix):].startswith(wanted)]  # fmt: skip
                for m in members:
                    m.name = m.name[len(prefix) :]
                tar.extractall(out, members=members, filter="data")

        io.write_dir(folder, build)


def converter_path() -> Path:
    """llama.cpp's convert_hf_to_gguf.py: $LLAMA_CPP_DIR's, else the one of the installed
    llama-cpp-python's version, unpacked once from its source package into the model cache."""
    import os

    from maaza.models import cache_root

    if os.environ.get(LLAMA_CPP_ENV):
        script = Path(os.environ[LLAMA_CPP_ENV]) / CONVERTER
        if not script.is_file():
            raise ExportError(f"{script}: not found (${LLAMA_CPP_ENV} is not a llama.cpp checkout)")
        return script
    folder = cache_root() / f"llama.cpp-converter-{_llama_cpp_version()}"
    if not (folder / CONVERTER).is_file():
        _fetch_converter(_llama_cpp_version(), folder)
    return folder / CONVERTER


def manifest(source: Any, adapter_sha: str | None, method: str) -> dict[str, Any]:
    """What the merged folder is, and how to prompt it (a pure function of the Source)."""
    return {
        "run": source.run,
        "base_model": source.model,
        "method": method,  # lora | full (the run's change: LoRA merged, or a full delta added)
        "adapter_sha": adapter_sha,
        "prompt_format": source.prompt_format,
        "prompt": "maaza.prompts.build_prompt(text, schema, prompt_format)",
        "dtype": "float32",
        "created": io.now(),
        "git_commit": io.git_commit(),
    }


def export_merged(run: str, out: str | Path, root: str | Path | None = None) -> dict[str, Any]:
    """Write OUT/ (merged model, tokenizer, generation config, manifest) atomically; the manifest."""
    from maaza.evaluate import load_model
    from maaza.extract import _adapter_sha, choose_source
    from maaza.models import is_full_delta

    source = choose_source(adapter=run, root=root)
    with warnings.catch_warnings():  # peft asks transformers a deprecated question (see extract)
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        model, tokenizer = load_model(source.model, source.adapter, "float32")
    method = "full" if source.adapter and is_full_delta(source.adapter) else "lora"
    info = manifest(source, _adapter_sha(source.adapter), method)

    def build(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)  # also writes generation_config.json
        tokenizer.save_pretrained(tmp)
        io.write_json(tmp / MANIFEST, info)

    io.write_dir(out, build)
    return info


def export_gguf(merged: str | Path, out_file: str | Path, outtype: GgufType = "f16") -> Path:
    """Convert a merged folder to GGUF with llama.cpp's converter, atomically; the file written."""
    if outtype not in GGUF_TYPES:
        raise ExportError(f"GGUF type {outtype!r} is not one of {', '.join(GGUF_TYPES)}")
    script, out_file = converter_path(), Path(out_file)
    with io.atomic_path(out_file, suffix=".gguf.tmp") as tmp:
        cmd = [
            sys.executable,
            str(script),
            str(merged),
            "--outfile",
            str(tmp),
            "--outtype",
            outtype,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ExportError(f"{merged}: {CONVERTER} failed ({outtype}): {tail[0]}")
    return out_file


def export_run(
    run: str,
    out: str | Path,
    *,
    gguf_types: list[GgufType] | None = None,
    root: str | Path | None = None,
) -> dict[str, Any]:
    """The merged folder, then a GGUF per type inside it; the manifest with the GGUF files added.

    The converter is looked up first, so a missing extra fails before any model loads."""
    out = Path(out)
    if gguf_types:
        converter_path()
    info = export_merged(run, out, root)
    files = []
    for outtype in gguf_types or []:
        path = export_gguf(out, out / f"{info['run']}-{outtype}.gguf", outtype)
        files.append({"file": path.name, "type": outtype, "bytes": path.stat().st_size})
    if files:
        info = {**info, "gguf": files}
        io.write_json(out / MANIFEST, info)
    return info
