"""A trained run's adapter folder made portable: the base named by its hub id, a real model card.

    make_portable(Path("runs/r/adapter"), "r", run, train_metrics)

peft writes `base_model_name_or_path` as the local folder the base was loaded from (here a cache
of a dequantized GGUF) and an unfilled card template; both are replaced, so the folder loads with
`AutoPeftModelForCausalLM.from_pretrained(folder)` wherever the hub is reachable, and with
`maaza.models.load_adapter(folder)` here (the registry maps the hub id back to the packaged GGUF).
A full fine-tuning folder (`method: full`: a weight delta, not a peft adapter) gets a card of its
own; its full_config.json names the base already (maaza.models.save_full_delta).
The train stage calls this once the adapter is saved; nothing here needs torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maaza import headline, io
from maaza.config import TrainRun
from maaza.models import FULL_CONFIG, FULL_DELTA, ModelSpec, base_id, resolve

CARD_FILE = "README.md"  # the file name the Hugging Face hub shows as the model card


def _base_note(spec: ModelSpec, base_dtype: str, what: str = "adapter") -> str:
    if spec.gguf_quant is None:
        return f"`{base_id(spec.name)}`"
    return (
        f"`{spec.hub_id}`, but trained on a dequantized **{spec.gguf_quant} GGUF** of it (maaza "
        f"registry `{spec.name}`, pip package `{spec.dist}`), not on the original weights: every "
        f"quantized block was expanded to fp32 (held in {base_dtype} while training). On the "
        f"hub's original weights the {what} meets a slightly different base (not measured); for "
        "the evaluated numbers load it through maaza"
    )


def model_card(run_name: str, run: TrainRun, metrics: dict[str, Any]) -> str:
    """The adapter's README.md: what it is for, how it was trained and on what, how well it trained,
    how to load it, and what it cannot do."""
    if run.method == "full":
        return full_model_card(run_name, run, metrics)
    hub = base_id(run.model)
    settings = run.model_dump()
    settings["lora"] = ", ".join(f"{k}={v}" for k, v in run.lora.model_dump().items())
    return f"""---
library_name: peft
base_model: {hub}
pipeline_tag: text-generation
tags: [lora, peft, json-extraction, structured-output, maaza]
---
# {run_name}: LoRA adapter for schema-valid JSON extraction

A LoRA adapter that makes `{hub}` answer a prompt holding a text and a JSON Schema (draft-07) with
one line of JSON that fills the schema from the text. Trained by `maaza.train`, a reproducible
rebuild of the Maaza / EdgeJSON paper (Section 4.2 recipe, settings below).

{_card_body(run_name, run, metrics, settings, "adapter")}
## Load
```python
# with maaza, offline: the base's hub id maps to its packaged GGUF (dequantized, cached)
from maaza.models import load_adapter

model, tokenizer = load_adapter("path/to/adapter")
```
```python
# anywhere the Hugging Face hub is reachable (the base's original weights; see above)
from peft import AutoPeftModelForCausalLM

model = AutoPeftModelForCausalLM.from_pretrained("path/to/adapter")
```
{_prompt_note(run_name, run)}"""


def full_model_card(run_name: str, run: TrainRun, metrics: dict[str, Any]) -> str:
    """The README.md of a full fine-tuning run's folder (`method: full`): the facts the LoRA card
    gives, for a delta of every weight against the base instead of an adapter."""
    hub = base_id(run.model)
    settings = {k: v for k, v in run.model_dump().items() if k != "lora"}  # no LoRA trained
    return f"""---
base_model: {hub}
pipeline_tag: text-generation
tags: [full-fine-tuning, json-extraction, structured-output, maaza]
---
# {run_name}: full fine-tuning for schema-valid JSON extraction

Every weight of `{hub}` fine-tuned (fp32, AdamW) to answer a prompt holding a text and a JSON
Schema (draft-07) with one line of JSON that fills the schema from the text. Trained by
`maaza.train`, a reproducible rebuild of the Maaza / EdgeJSON paper (settings below).

This folder holds the change, not the model: `{FULL_DELTA}` is tuned minus base weights, one
bf16 tensor per parameter name (tied weights once), and `{FULL_CONFIG}` names the base by hub id
(`base_model`) and by maaza registry name (`maaza_model`). It is not a peft adapter: peft and
`transformers` alone do not read it.

{_card_body(run_name, run, metrics, settings, "delta")}
## Load
```python
# with maaza, offline: the registry loads the base (a packaged GGUF: dequantized, cached) and
# adds the delta; a plain transformers model comes back
from maaza.models import load_adapter

model, tokenizer = load_adapter("path/to/adapter")
```
For runtimes without maaza: `maaza export {run_name} --out DIR [--gguf]` (in the maaza
repository) writes base plus delta as a Hugging Face folder
(`AutoModelForCausalLM.from_pretrained(DIR)`) and a GGUF for llama.cpp. By hand: load the base above in float32 (a GGUF base through
`AutoModelForCausalLM.from_pretrained(folder, gguf_file=...)`, which dequantizes it as maaza did),
then add each tensor of `{FULL_DELTA}` to the parameter of the same name.
{_prompt_note(run_name, run)}"""


def _prompt_note(run_name: str, run: TrainRun) -> str:
    return f"""Prompts: `maaza.prompts.build_prompt(text, schema, "{run.prompt_format}")`; the answer is one JSON
line, then end-of-sequence. In the maaza repository: `maaza extract --adapter {run_name} --schema s.json "text"`.
"""


def _card_body(
    run_name: str, run: TrainRun, metrics: dict[str, Any], settings: dict[str, Any], what: str
) -> str:
    """The sections both cards share: intended use, data, training, evaluation."""
    spec = resolve(run.model)
    settings_rows = "\n".join(f"| {k} | {v} |" for k, v in settings.items())
    trained = headline.train_headline(metrics)
    facts = {**trained, **{k: metrics[k] for k in (
        "n_train_examples", "steps", "epochs", "params_trainable", "trainable_pct", "adapter_mb")}}  # fmt: skip
    fact_rows = "\n".join(f"| {k} | {v} |" for k, v in facts.items())
    extra = (
        f" plus the first {run.extra_train} examples of `data/train_extra.jsonl` (same generator, "
        "own seed stream, no prompt shared with any split)"
        if run.extra_train else ""
    )  # fmt: skip
    share = (
        f" ({run.train_fraction:.0%} of it, seeded per schema)" if run.train_fraction < 1 else ""
    )
    loss = "the answer tokens only" if run.loss == "response" else "the whole sequence"
    hw = metrics.get("hardware", {})
    eval_cols = "; ".join(f"`{k}` {v}" for k, v in headline.EVAL_KEYS.items())
    return f"""## Intended use and limitations
- Extraction of fields that are stated in a short text (contacts, orders, invoices, bookings,
  logs...) into a caller-supplied JSON Schema, on a CPU or an edge device. Decode with a
  JSON-Schema grammar (`maaza extract`, constrained by default) for answers that always validate.
- Values can be wrong or invented even when the JSON is valid: check what matters. Accuracy is
  much lower on schemas unlike the training ones and on long, nested schemas.
- Trained on synthetic English-centric data only; prompts must use the `{run.prompt_format}` prompt
  format (`maaza.prompts.build_prompt`). Not for decisions about people.
- Base model: {_base_note(spec, metrics.get("base_dtype", "float32"), what)}.

## Data
`data/train.jsonl`{share}{extra}: {metrics["n_train_examples"]} examples generated by `maaza.datagen`
(seeded Faker data for the JSON Schemas of `src/maaza/schemas/` in three tiers, written in seven
surface styles, every label value checked to appear in its text); the schemas named in
`data.holdout_schemas` are never trained on and are evaluated separately.

## Training
{run.epochs} epoch(s), {metrics["steps"]} optimizer steps, loss on {loss}, on
{hw.get("cpu", "?")} ({hw.get("cores", "?")} threads, torch {hw.get("torch", "?")}).

| setting | value |
|---|---|
{settings_rows}

| result | value |
|---|---|
{fact_rows}

## Evaluation
Written by the evaluation stage after training (not known when this card was written):
`metrics/ft-{run_name}-<mode>[-holdout].json` in the maaza repository: {eval_cols}.
Breakdowns by schema, tier and style: `results/eval/ft-{run_name}-*/metrics.json`.
"""


def make_portable(adapter_dir: Path, run_name: str, run: TrainRun, metrics: dict[str, Any]) -> None:
    """Name the base by hub id in adapter_config.json and write the model card (README.md); a full
    fine-tuning folder gets its card only (save_full_delta named the base already)."""
    if run.method == "lora":
        config_path = adapter_dir / "adapter_config.json"
        config = io.read_json(config_path)
        config["base_model_name_or_path"] = base_id(run.model)
        io.write_json(config_path, config)
    io.write_text(adapter_dir / CARD_FILE, model_card(run_name, run, metrics))
