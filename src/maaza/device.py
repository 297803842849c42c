"""Where eval, extract and serve run: `--device auto|cpu|cuda` (auto: the GPU when torch sees one).

Kept out of maaza.config and maaza.models so that adding it changed no pipeline stage's inputs.
"""

from __future__ import annotations

from typing import Any, Literal

Device = Literal["auto", "cpu", "cuda"]
CUDA_HINT = "install a CUDA build of torch (README: Running on a GPU)"


def resolve_device(name: str) -> str:
    """auto | cpu | cuda -> cpu | cuda; auto picks cuda when torch sees a GPU. ModelError for
    cuda on a torch without CUDA or without a visible GPU."""
    import torch

    from maaza.models import ModelError

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        why = "no GPU visible" if torch.version.cuda else f"torch {torch.__version__} has no CUDA"
        raise ModelError(f"--device cuda: {why}; {CUDA_HINT}")
    if name not in ("cpu", "cuda"):
        raise ModelError(f"device {name!r} is not one of auto, cpu, cuda")
    return name


def to_device(model: Any, device: str) -> Any:
    """The model on `device` (auto | cpu | cuda); on the CPU it is returned untouched."""
    device = resolve_device(device)
    return model if device == "cpu" else model.to(device)
