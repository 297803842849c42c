"""Training: batching is pure and checked directly; the loop trains tiny-random on 12 fixture
examples (tests/fixtures/train/) in-process, through `python -m maaza.train` killed with SIGKILL and
rerun, and through `accelerate launch`."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from maaza.collate import (
    IGNORE_INDEX,
    Example,
    TrainDataError,
    collate,
    encode,
    encode_records,
    padding_stats,
    read_records,
    step_plan,
    stratified_subset,
)
from maaza.config import TrainRun, deep_merge, load_params
from maaza.schemas import load_schemas
from maaza.train import (
    LOSS_COLUMNS,
    LabelledLMLoss,
    TrainError,
    add_lora,
    base_dtype,
    latest_checkpoint,
    train,
    train_from_files,
)

FIXTURES = Path(__file__).parent / "fixtures" / "train"
PARAMS, DATA = FIXTURES / "params.yaml", FIXTURES / "train.jsonl"
# docs/DESIGN.md: keys the report stage reads from train_metrics.json
DOCUMENTED_KEYS = {
    "run", "model", "params_total", "params_trainable", "trainable_pct", "lora", "loss_type",
    "train_fraction", "n_train_examples", "n_truncated", "epochs", "steps", "wall_time_s",
    "real_tokens_per_s", "roof_fraction", "final_loss", "adapter_mb", "hardware",
}  # fmt: skip


def run_cfg(name: str = "tiny", **overrides):
    run = load_params(PARAMS).train_run(name)
    return TrainRun.model_validate(deep_merge(run.model_dump(), overrides))


def cli(run: str, out: Path) -> list[str]:
    return [sys.executable, "-m", "maaza.train", "--run", run, "--params", str(PARAMS),
            "--data", str(DATA), "--out", str(out)]  # fmt: skip


# ----------------------------------------------------------------------------- batching
def test_response_loss_masks_the_prompt_full_loss_does_not():
    resp = encode([5, 6, 7], [8, 9], max_length=10, loss="response")
    full = encode([5, 6, 7], [8, 9], max_length=10, loss="full")
    assert resp.input_ids == full.input_ids == [5, 6, 7, 8, 9]
    assert resp.labels == [IGNORE_INDEX] * 3 + [8, 9]
    assert full.labels == [5, 6, 7, 8, 9]
    assert (resp.n_labels, full.n_labels) == (2, 4)  # after the causal shift


def test_training_text_ends_with_eos_and_keeps_the_inference_boundary(tiny_model):
    _, tok = tiny_model
    records, schemas = read_records(DATA), load_schemas()
    [ex] = encode_records(records[:1], schemas, tok, "compact", 1024, "response")
    from maaza.prompts import build_prompt, render_target

    prompt = build_prompt(records[0]["prompt"], schemas[records[0]["schema_id"]], "compact")
    n_prompt = len(tok(prompt)["input_ids"])
    assert ex.input_ids[:n_prompt] == tok(prompt)["input_ids"]
    assert ex.input_ids[-1] == tok.eos_token_id
    assert tok.decode([t for t in ex.labels if t != IGNORE_INDEX]) == (
        render_target(records[0]["expected_output"]) + tok.eos_token
    )


def test_truncation_is_counted(tiny_model):
    _, tok = tiny_model
    records = read_records(DATA)
    long = encode_records(records, load_schemas(), tok, "compact", 64, "response")
    short = [
        len(e.input_ids)
        for e in encode_records(records, load_schemas(), tok, "compact", 4096, "response")
    ]
    assert sum(e.truncated for e in long) == sum(n > 64 for n in short) > 0
    assert max(len(e.input_ids) for e in long) == 64


def test_step_plan_covers_each_epoch_once_and_groups_lengths():
    lengths = [(i * 37) % 101 + 1 for i in range(50)]
    plan = step_plan(lengths, micro_batch=4, grad_accum=3, epochs=2, seed=1)
    assert len(plan) == 2 * 5  # ceil(50 / 12) steps per epoch
    for epoch in (plan[:5], plan[5:]):
        seen = [i for step in epoch for micro in step for i in micro]
        assert sorted(seen) == list(range(50))
    for step in plan:
        assert all(len(m) <= 4 for m in step) and len(step) <= 3
        flat = sorted((lengths[i] for micro in step for i in micro), reverse=True)
        cut = [flat[j : j + 4] for j in range(0, len(flat), 4)]  # sorted inside the step
        assert sorted(map(sorted, cut)) == sorted(sorted(lengths[i] for i in m) for m in step)
    assert plan != step_plan(lengths, 4, 3, 2, seed=2)  # seeded shuffle
    assert plan == step_plan(lengths, 4, 3, 2, seed=1)
    assert len(step_plan(lengths, 4, 3, 2, seed=1, max_steps=3)) == 3


def test_step_plan_windows_pad_less_and_keep_the_step_count():
    rng = random.Random(0)
    lengths = [rng.randint(100, 900) for _ in range(203)]
    examples = [Example([0] * n, [0] * n, False) for n in lengths]
    within = step_plan(lengths, 4, 2, epochs=2, seed=3)
    across = step_plan(lengths, 4, 2, epochs=2, seed=3, group_steps=16)
    assert len(across) == len(within) == 2 * 26  # ceil(203 / 8) steps per epoch
    for plan in (within, across):
        for epoch in (plan[:26], plan[26:]):
            seen = sorted(i for step in epoch for micro in step for i in micro)
            assert seen == list(range(203))
        assert all(len(step) <= 2 and all(len(m) <= 4 for m in step) for step in plan)
    assert across == step_plan(lengths, 4, 2, epochs=2, seed=3, group_steps=16)
    eff_within = padding_stats(examples, within)["padding_efficiency"]
    eff_across = padding_stats(examples, across)["padding_efficiency"]
    assert eff_across > 0.9 > eff_within
    # a step still mixes lengths: micro-batches are shuffled before being dealt into steps
    spread = [max(lengths[i] for i in s[0]) - max(lengths[i] for i in s[-1]) for s in across]
    assert len({d > 0 for d in spread}) == 2


def test_collate_pads_to_the_longest_in_the_batch_only():
    exs = [Example([1, 2, 3], [IGNORE_INDEX, 2, 3], False), Example([4, 5], [4, 5], False)]
    batch = collate(exs, pad_id=0)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [4, 5, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 2, 3], [4, 5, IGNORE_INDEX]]
    grouped = padding_stats(exs, [[[0], [1]]])
    mixed = padding_stats(exs, [[[0, 1]]])
    assert grouped["padding_efficiency"] == 1.0 and mixed["padding_efficiency"] == 5 / 6


def test_stratified_subset_keeps_every_schema_and_is_seeded():
    records = [{"schema_id": s, "i": i} for s in "abc" for i in range(8)]
    half = stratified_subset(records, 0.5, seed=3)
    assert len(half) == 12 and {r["schema_id"] for r in half} == set("abc")
    assert (
        half == stratified_subset(records, 0.5, seed=3) != stratified_subset(records, 0.5, seed=4)
    )
    assert len(stratified_subset(records, 0.01, seed=3)) == 3  # at least one per schema


def test_bad_data_line_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"schema_id": "a", "prompt": "x", "expected_output": {}}\n{"schema_id": "a"}\n')
    with pytest.raises(
        TrainDataError, match=r"bad.jsonl:2: missing keys 'prompt', 'expected_output'"
    ):
        read_records(bad)
    bad.write_text('{"schema_id": "a", "prompt": "x", "expected_output": {}}\n{"schema_id": "a",\n')
    with pytest.raises(TrainDataError, match=r"bad.jsonl:2:19: invalid JSON"):  # with a column
        read_records(bad)


# ----------------------------------------------------------------------------- model pieces
def test_labelled_loss_equals_the_full_logits_loss(fresh_tiny_model, tiny_model):
    model, tok = fresh_tiny_model
    exs = encode_records(read_records(DATA)[:4], load_schemas(), tok, "compact", 512, "response")
    batch = collate(exs, tok.pad_token_id)
    peft_model = add_lora(model, run_cfg(lora={"r": 4, "alpha": 8, "dropout": 0.0}))
    peft_model.eval()
    with torch.no_grad():
        ours = LabelledLMLoss(peft_model)(**batch) / sum(e.n_labels for e in exs)
        reference = peft_model(**batch).loss  # logits at every position, mean over labels
    assert torch.allclose(ours, reference, atol=1e-5)


def test_bf16_base_refused_without_native_bf16(monkeypatch):
    monkeypatch.setattr("maaza.train.native_bf16", lambda: False)
    with pytest.raises(TrainError, match="base_dtype: auto or float32"):
        base_dtype(run_cfg(base_dtype="bfloat16"))


# ----------------------------------------------------------------------------- training loop
def test_training_moves_lora_weights_only_and_writes_documented_outputs(fresh_tiny_model, tmp_path):
    model, tok = fresh_tiny_model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = tmp_path / "run"
    metrics = train("tiny", run_cfg(), DATA, out, progress_bar=False, loaded=(model, tok))

    changed_lora = 0
    for name, p in model.named_parameters():
        if "lora_" in name:
            changed_lora += "lora_B" in name and bool(p.abs().sum() > 0)  # B starts at zero
        else:
            original = name.replace("base_model.model.", "").replace(".base_layer", "")
            assert torch.equal(p, before[original]), f"frozen weight changed: {name}"
    assert changed_lora > 0

    assert set(metrics) >= DOCUMENTED_KEYS
    assert json.loads((out / "train_metrics.json").read_text()) == metrics
    assert (
        metrics["steps"] == 6 and metrics["n_train_examples"] == 12 and metrics["n_truncated"] == 0
    )
    rows = (out / "loss.csv").read_text().splitlines()
    assert rows[0] == ",".join(LOSS_COLUMNS) and len(rows) == 1 + 6
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {
        f.name for f in (out / "adapter").iterdir()
    }
    card = (out / "adapter" / "README.md").read_text()  # the model card, where a hub shows it
    assert (
        card.startswith("---\nlibrary_name: peft\nbase_model: tiny-random\n") and "# tiny:" in card
    )
    config = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "tiny-random"  # no local cache path
    assert not (out / "checkpoints").exists()  # resume state is removed after success

    # the documented route, in a fresh process: load_adapter finds the base through the registry
    probe = tok("Name: Ana Ruiz", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        expected = model.eval()(probe).logits[0, -1].topk(5).indices.tolist()
    code = (
        "import sys, torch; from maaza.models import load_adapter; "
        "m, t = load_adapter(sys.argv[1]); ids = t('Name: Ana Ruiz', return_tensors='pt')['input_ids']; "
        "print(m(ids).logits[0, -1].topk(5).indices.tolist())"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(out / "adapter")], capture_output=True, text=True
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert json.loads(fresh.stdout.strip().splitlines()[-1]) == expected


def test_full_loss_takes_more_labels_than_response_loss(tmp_path):
    resp = train_from_files("tiny", PARAMS, DATA, tmp_path / "r", progress_bar=False)
    full = train_from_files("tiny-full", PARAMS, DATA, tmp_path / "f", progress_bar=False)
    assert (resp["loss_type"], full["loss_type"]) == ("response", "full")
    # random weights: the loss over all positions differs from the loss over the answer only
    assert resp["final_loss"] != full["final_loss"]


def test_killed_run_resumes_from_its_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(cli("tiny-long", out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while proc.poll() is None and latest_checkpoint(out / "checkpoints") is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (out / "train_metrics.json").exists()

    done = subprocess.run(cli("tiny-long", out), capture_output=True, text=True, check=True)
    resumed_at = int(re.search(r"\(step (\d+)/48\)", done.stdout + done.stderr).group(1))
    assert 0 < resumed_at < 48
    metrics = json.loads((out / "train_metrics.json").read_text())
    steps = [int(r.split(",")[0]) for r in (out / "loss.csv").read_text().splitlines()[1:]]
    assert metrics["steps"] == 48 and steps == list(range(1, 49))

    # Bit-for-bit the run that was never interrupted (data order, optimizer, RNG all restored).
    train_from_files("tiny-long", PARAMS, DATA, tmp_path / "ref", progress_bar=False)
    resumed = load_file(out / "adapter" / "adapter_model.safetensors")
    reference = load_file(tmp_path / "ref" / "adapter" / "adapter_model.safetensors")
    assert resumed.keys() == reference.keys()
    for key in resumed:
        assert torch.allclose(resumed[key], reference[key], atol=1e-6), key


def test_accelerate_launch_one_process(tmp_path):
    accelerate = Path(sys.executable).parent / "accelerate"
    launch = [str(accelerate), "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
    out = tmp_path / "run"
    subprocess.run([*launch, *cli("tiny", out)[1:]], check=True, capture_output=True, text=True)
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert metrics["steps"] == 6 and (out / "adapter" / "adapter_model.safetensors").is_file()


def test_extra_training_examples_are_added_only_when_asked(tmp_path):
    from maaza.train import training_records

    base = read_records(DATA)
    extra = tmp_path / "train_extra.jsonl"
    assert training_records(run_cfg(), DATA, None) == base  # paper runs never read the file
    with pytest.raises(TrainError, match="data.extra_train"):
        training_records(run_cfg(extra_train=3), DATA, extra)  # no such file yet
    extra.write_text("".join(json.dumps({**r, "id": f"x-{r['id']}"}) + "\n" for r in base[:5]))
    got = training_records(run_cfg(extra_train=3), DATA, extra)
    assert got[: len(base)] == base and [r["id"] for r in got[len(base) :]] == [
        f"x-{r['id']}" for r in base[:3]
    ]
    with pytest.raises(TrainError, match="holds 5 examples"):
        training_records(run_cfg(extra_train=9), DATA, extra)


def test_full_fine_tuning_trains_every_weight_and_saves_a_delta_eval_can_load(
    fresh_tiny_model, tmp_path
):
    from maaza.evaluate import load_model
    from maaza.models import load_adapter

    model, tok = fresh_tiny_model
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = tmp_path / "run"
    run = run_cfg(method="full", learning_rate=1e-3)
    metrics = train("tiny", run, DATA, out, progress_bar=False, loaded=(model, tok))

    assert metrics["method"] == "full" and metrics["lora"]["r"] == 0
    assert metrics["params_trainable"] == metrics["params_total"]
    moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
    assert len(moved) == len(before)  # every weight, the embeddings included
    assert {f.name for f in (out / "adapter").iterdir()} == {
        "full_delta.safetensors", "full_config.json", "README.md",
    }  # fmt: skip
    config = json.loads((out / "adapter" / "full_config.json").read_text())
    assert config == {"method": "full", "base_model": "tiny-random", "maaza_model": "tiny-random"}
    card = (out / "adapter" / "README.md").read_text()  # the model card, as a LoRA run has
    assert card.startswith("---\nbase_model: tiny-random\n") and "# tiny: full fine-tuning" in card
    # base + saved delta = the trained weights (up to the delta's bf16 rounding), through
    # evaluation's loader and through the documented route (load_adapter: the base it names)
    loaded, _ = load_model("tiny-random", out / "adapter")
    documented, _ = load_adapter(out / "adapter")
    assert not hasattr(documented, "peft_config") and not documented.training
    trained_params = dict(model.named_parameters())
    for (name, p), (_, q) in zip(
        loaded.named_parameters(), documented.named_parameters(), strict=True
    ):
        trained, base = trained_params[name], before[name]
        scale = float((trained - base).detach().abs().max())
        assert torch.allclose(p, trained, atol=1e-2 * scale + 1e-7)
        assert torch.equal(p, q)


def test_full_fine_tuning_keeps_fp32_weights():
    assert base_dtype(run_cfg(method="full", base_dtype="auto")) == torch.float32


def test_step_fraction_screens_a_share_of_the_planned_steps():
    from maaza.train import capped_steps

    assert capped_steps(run_cfg(), 12) is None  # the whole run
    # 100 examples, batch 8, 3 epochs: 39 planned steps; a quarter of them, rounded up
    screen = run_cfg(micro_batch_size=4, grad_accum=2, epochs=3, step_fraction=0.25)
    assert capped_steps(screen, 100) == 10
    assert capped_steps(screen.model_copy(update={"max_steps": 4}), 100) == 4


@pytest.mark.parametrize("method", ["lora", "full"])
def test_train_notebook_runs_end_to_end(tmp_path: Path, method: str) -> None:
    """notebooks/02_train.ipynb as its dvc stage runs it, for a LoRA run and a full fine-tuning
    (which writes a weight delta, not a peft adapter: the notebook once failed on that, after
    training). Both write a model card, which the notebook shows."""
    import papermill
    import yaml

    params = yaml.safe_load(PARAMS.read_text())
    params["train"]["runs"]["nb"] = {"role": "ours", "method": method, "epochs": 1,
                                     "learning_rate": 1e-3}  # fmt: skip
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    root = Path(__file__).parents[1]
    papermill.execute_notebook(
        root / "notebooks" / "02_train.ipynb", tmp_path / "executed.ipynb", kernel_name="python3",
        parameters={"run": "nb", "params_path": str(tmp_path / "params.yaml"),
                    "data_path": str(DATA), "out_dir": str(tmp_path / "nb"),
                    "metrics_dir": str(tmp_path / "metrics"), "extra_data_path": ""},
        cwd=str(root), progress_bar=False,
    )  # fmt: skip
    metrics = json.loads((tmp_path / "nb" / "train_metrics.json").read_text())
    assert metrics["method"] == method
    card = (tmp_path / "nb" / "adapter" / "README.md").read_text()
    assert card.startswith("---\n") and "# nb: " in card
