"""The lean LoRA layers compute exactly peft's LoRA (values and gradients), dropout included."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from maaza.fastlora import keep_mask, patch_lora_layers


def lora_pair(p: float):
    """(peft LoRA model, patched deep copy) over a small 2-layer MLP, B made non-zero."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(12, 20), nn.SiLU(), nn.Linear(20, 8))
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=p, target_modules=["0", "2"])
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1)
    patched = copy.deepcopy(model)
    assert patch_lora_layers(patched) == 2
    return model, patched


def grads(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.grad for n, p in model.named_parameters() if p.requires_grad}


def test_same_values_and_gradients_as_peft_without_dropout():
    model, patched = lora_pair(p=0.0)
    x = torch.randn(3, 5, 12, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    model(x).square().sum().backward()
    patched(x2).square().sum().backward()
    assert torch.allclose(model(x), patched(x2), atol=1e-6)
    for name, g in grads(model).items():
        assert torch.allclose(g, grads(patched)[name], atol=1e-5), name
    assert torch.allclose(x.grad, x2.grad, atol=1e-5)


def test_dropout_matches_the_explicit_formula_for_the_same_mask(monkeypatch):
    model, patched = lora_pair(p=0.25)
    patched.train()
    masks: list[torch.Tensor] = []

    def recording_mask(shape, p, dtype=torch.bool):
        keep, p_eff = keep_mask(shape, p, dtype)
        masks.append(keep)
        return keep, p_eff

    monkeypatch.setattr("maaza.fastlora.keep_mask", recording_mask)
    x = torch.randn(4, 12, requires_grad=True)
    out = patched(x)
    out.sum().backward()

    # peft's formula with the recorded masks: base(x) + B(A(x * keep / (1 - p))) * scaling
    ref = copy.deepcopy(model)
    x_ref = x.detach().clone().requires_grad_()
    h = x_ref
    for i, layer in enumerate([ref.base_model.model[0], ref.base_model.model[2]]):
        a, b = layer.lora_A["default"], layer.lora_B["default"]
        dropped = h * masks[i] / (1 - 0.25)
        h = layer.base_layer(h) + b(a(dropped)) * layer.scaling["default"]
        if i == 0:
            h = ref.base_model.model[1](h)
    h.sum().backward()
    assert len(masks) == 2 and torch.allclose(out, h, atol=1e-6)
    for name, g in grads(ref).items():
        assert torch.allclose(g, grads(patched)[name], atol=1e-5), name
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)


def test_eval_mode_has_no_dropout():
    _, patched = lora_pair(p=0.5)
    patched.eval()
    x = torch.randn(6, 12)
    assert torch.equal(patched(x), patched(x))


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_keep_mask_rate_and_seed(p):
    torch.manual_seed(1)
    keep, p_eff = keep_mask(torch.Size([400, 500]), p)
    assert keep.dtype == torch.bool and keep.shape == (400, 500)
    assert abs(p_eff - p) < 1e-4
    assert abs(1 - keep.float().mean().item() - p) < 0.005  # 200k draws: sd ~ 0.001
    torch.manual_seed(1)
    assert torch.equal(keep, keep_mask(torch.Size([400, 500]), p)[0])


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
def test_float_keep_mask_is_the_bool_mask_as_zeros_and_ones(dtype):
    torch.manual_seed(3)
    keep, _ = keep_mask(torch.Size([64, 33]), 0.3)
    torch.manual_seed(3)
    mask, _ = keep_mask(torch.Size([64, 33]), 0.3, dtype)
    assert mask.dtype == dtype and torch.equal(mask, keep.to(dtype))


def test_bf16_base_matches_peft_under_autocast():
    """Over a bf16 base the LoRA product runs in bf16 with fp32 A, B: what autocast would do."""
    model, patched = lora_pair(p=0.0)
    for net in (model, patched):
        for name, param in net.named_parameters():
            if "lora_" not in name:
                param.data = param.data.to(torch.bfloat16)
    x = torch.randn(5, 12).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ref = model(x)
    out = patched(x)
    assert out.dtype == torch.bfloat16
    assert torch.allclose(out.float(), ref.float(), atol=2e-2, rtol=2e-2)
    out.float().square().sum().backward()
    for name, g in grads(patched).items():
        assert g is not None and g.dtype == torch.float32, name  # fp32 grads for AdamW
