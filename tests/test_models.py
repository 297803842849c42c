"""Model registry: names resolve, tiny-random builds, packaged SmolLM2 generates, clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from maaza import io, models
from maaza.cli import app
from maaza.models import REGISTRY, ModelUnavailable, UnknownModel, load, resolve


def _greedy_ids(model, tok, text: str, n: int) -> list[int]:
    ids = tok(text, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=n, do_sample=False)
    return out[0, ids["input_ids"].shape[1] :].tolist()


def test_tiny_random_matches_its_registry_facts(tiny_model):
    model, tok = tiny_model
    spec = REGISTRY["tiny-random"]
    assert model.num_parameters() == spec.params
    assert model.config.num_hidden_layers == 2
    assert len(tok.get_vocab()) == model.config.vocab_size == 49152  # the real SmolLM2 vocab
    assert not model.training


def test_tiny_random_generates_and_is_seeded(tiny_model):
    model, tok = tiny_model
    again, _ = load("tiny-random")
    first = _greedy_ids(model, tok, "Extract JSON:", 5)
    assert len(first) == 5
    assert first == _greedy_ids(again, tok, "Extract JSON:", 5)
    assert torch.equal(model.model.embed_tokens.weight, again.model.embed_tokens.weight)


def test_tokenizer_pads_left_with_a_token_other_than_eos(tiny_model):
    _, tok = tiny_model
    assert tok.eos_token == "<|im_end|>"
    assert tok.pad_token is not None and tok.pad_token_id != tok.eos_token_id
    assert tok.padding_side == "left"
    batch = tok(["a", "a longer text"], padding=True, return_tensors="pt")
    assert batch["attention_mask"][0, 0] == 0 and batch["attention_mask"][0, -1] == 1


def test_local_folder_round_trip(tiny_model, tmp_path):
    model, tok = tiny_model
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    spec = resolve(str(tmp_path))
    assert (spec.source, spec.family) == ("local", "llama")
    loaded, loaded_tok = load(tmp_path)
    assert _greedy_ids(loaded, loaded_tok, "hello", 4) == _greedy_ids(model, tok, "hello", 4)


def test_adapter_folder_gets_a_hint(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(UnknownModel, match="LoRA adapter"):
        resolve(tmp_path)


def test_full_delta_folder_gets_a_hint(tmp_path):
    (tmp_path / models.FULL_DELTA).write_bytes(b"")
    with pytest.raises(UnknownModel, match="full fine-tuning delta: maaza.models.load_adapter"):
        resolve(tmp_path)


@pytest.mark.parametrize(
    ("config", "base"),
    [
        # written now: the hub id for use elsewhere, the registry name for the exact weights here
        ({"method": "full", "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
          "maaza_model": "smollm2-135m-instruct"}, "smollm2-135m-instruct"),
        ({"method": "full", "base_model": "tiny-random", "maaza_model": "tiny-random"},
         "tiny-random"),
        # written before maaza_model existed: the registry name under base_model
        ({"method": "full", "base_model": "smollm2-135m-instruct"}, "smollm2-135m-instruct"),
        # a registry name this maaza does not know: the hub id
        ({"method": "full", "base_model": "org/model", "maaza_model": "gone-1b"}, "org/model"),
    ],
)  # fmt: skip
def test_a_full_delta_names_its_base_for_here_and_elsewhere(tmp_path, config, base):
    io.write_json(tmp_path / models.FULL_CONFIG, config)
    assert models.full_delta_base(tmp_path) == base


def test_full_config_names_the_base_by_hub_id_and_registry_name():
    assert models.full_config("smollm2-135m-instruct") == {
        "method": "full",
        "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "maaza_model": "smollm2-135m-instruct",
    }
    assert models.resolve(models.full_config("gemma3-270m")["base_model"]).name == "gemma3-270m"


def test_full_delta_without_its_config_is_a_clear_error(tmp_path):
    (tmp_path / models.FULL_DELTA).write_bytes(b"")
    with pytest.raises(UnknownModel, match="without its full_config.json"):
        models.load_adapter(tmp_path)
    with pytest.raises(UnknownModel, match="nor a full fine-tuning delta"):
        models.load_adapter(tmp_path / "missing")


def test_unknown_name_is_one_clear_line():
    with pytest.raises(UnknownModel) as err:
        load("smollm-135m")  # typo: not a name, folder, file or org/name id
    message = str(err.value)
    assert "\n" not in message
    assert "'smollm-135m'" in message and "smollm2-135m-instruct" in message


def _forbid_downloads(monkeypatch):
    import transformers

    def boom(*args, **kwargs):
        raise AssertionError("from_pretrained called although the hub is unavailable")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", boom)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", boom)


def test_hub_id_offline_fails_before_any_download(monkeypatch):
    _forbid_downloads(monkeypatch)
    with pytest.raises(ModelUnavailable) as err:
        load("HuggingFaceTB/SmolLM2-360M")
    message = str(err.value)
    assert "\n" not in message
    assert (
        message.startswith("smollm2-360m:") and "hf download HuggingFaceTB/SmolLM2-360M" in message
    )
    assert not models.is_available("someorg/some-model")


def test_unreachable_hub_is_probed_once_then_fails(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
    models._probe.cache_clear()
    _forbid_downloads(monkeypatch)
    try:
        with pytest.raises(ModelUnavailable, match="someorg/some-model: .*hub is unreachable"):
            load("someorg/some-model")
        assert models._probe.cache_info().misses == 1
    finally:
        models._probe.cache_clear()


def test_cache_stamp_mismatch_means_rebuild(tmp_path):
    spec = REGISTRY["smollm2-135m-instruct"]
    (tmp_path / "maaza-cache.json").write_text(json.dumps(models._stamp(spec)))
    assert models._is_ready(tmp_path, spec)
    (tmp_path / "maaza-cache.json").write_text(
        json.dumps({**models._stamp(spec), "transformers": "0"})
    )
    assert not models._is_ready(tmp_path, spec)


def test_failed_cache_build_leaves_nothing_behind(tmp_path):
    target = tmp_path / "models" / "x"

    def build(tmp):
        (tmp / "model.safetensors").write_bytes(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        io.write_dir(target, build)  # how the model cache is built
    assert list((tmp_path / "models").iterdir()) == []


def test_packaged_models_are_available_and_listed():
    assert models.is_available("smollm2-135m-instruct")
    assert models.is_available("gemma3-270m")
    assert models.cache_state("tiny-random") == "-"
    rows = {row["name"]: row for row in models.models_table()}
    assert list(rows) == list(REGISTRY)
    assert rows["smollm2-135m-instruct"]["fp32"] == "538 MB"  # 4 bytes x 134.5M
    assert rows["qwen2.5-0.5b"]["available"] == "no"  # HF_HUB_OFFLINE=1, not in the HF cache


def test_cli_models_lists_the_registry():
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    for name in REGISTRY:
        assert name in result.output


@pytest.mark.slow
def test_packaged_smollm2_loads_and_generates():
    # First run on a machine dequantizes the GGUF (~30 s) and fills $MAAZA_CACHE; later runs ~1 s.
    model, tok = load("smollm2-135m-instruct")
    assert model.num_parameters() == REGISTRY["smollm2-135m-instruct"].params
    assert models.cache_state("smollm2-135m-instruct") == "cached"
    assert model.dtype == torch.float32
    continuation = tok.decode(_greedy_ids(model, tok, "The capital of France is", 6))
    assert "Paris" in continuation
