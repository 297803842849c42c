"""`maaza export`: the merged folder answers like base + adapter; the GGUF answers like the folder.

The GGUF test needs the gguf extra (llama-cpp-python, which compiles llama.cpp) and skips without
it; it exports the committed run smollm2-135m-maaza (a real model: marked slow) and compares
greedy decoding token by token on the first test examples.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from maaza.cli import app
from maaza.config import DecodeConfig
from maaza.decode import generate
from maaza.export import MANIFEST, export_run
from maaza.extract import Extractor
from maaza.models import load

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ["### Extract Book as JSON.\n### Schema: {title: string}\n### Text:\nDune\n### JSON:\n"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _tiny_run(root: Path, tiny_model) -> str:
    """runs/tiny-r2 under `root`: a peft LoRA adapter on tiny-random that changes its output."""
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(
        copy.deepcopy(tiny_model[0]), LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    )
    torch.manual_seed(0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero (a no-op adapter): make it change the model
            torch.nn.init.normal_(param, std=0.5)
    peft_model.save_pretrained(root / "runs" / "tiny-r2" / "adapter")
    meta = {"run": "tiny-r2", "model": "tiny-random", "prompt_format": "compact"}
    (root / "runs" / "tiny-r2" / "train_metrics.json").write_text(json.dumps(meta))
    return "tiny-r2"


def test_merged_folder_decodes_like_base_plus_adapter(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    run = _tiny_run(tmp_path, tiny_model)
    info = export_run(run, tmp_path / "out")
    assert (info["run"], info["base_model"], info["prompt_format"], info["method"]) == (
        run,
        "tiny-random",
        "compact",
        "lora",
    )
    assert (
        json.loads((tmp_path / "out" / MANIFEST).read_text())["adapter_sha"] == info["adapter_sha"]
    )
    assert "gguf" not in info

    cfg = DecodeConfig(max_new_tokens=12)
    ex = Extractor(adapter=run)  # base + adapter, merged in memory
    merged, tok = load(tmp_path / "out")  # the exported folder, as a plain HF model
    assert not any("lora" in n for n, _ in merged.named_parameters())
    want = generate(ex.model, ex.tokenizer, PROMPTS, cfg, progress=False)
    got = generate(merged, tok, PROMPTS, cfg, progress=False)
    assert [g.text for g in got] == [w.text for w in want] and want[0].n_tokens > 0


def test_a_full_fine_tuning_run_exports_as_base_plus_its_delta(tmp_path, tiny_model, monkeypatch):
    """`method: full` leaves a weight delta, not a LoRA: export adds it to the base and writes the
    same plain folder, which decodes like extract's model and holds the tuned weights."""
    from maaza.models import save_full_delta

    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    tuned = copy.deepcopy(tiny_model[0])
    torch.manual_seed(0)
    with torch.no_grad():
        for p in tuned.parameters():
            p.add_(0.05 * torch.randn_like(p))
    folder = tmp_path / "runs" / "tiny-full" / "adapter"
    folder.mkdir(parents=True)
    save_full_delta(tuned, tiny_model[0], folder, "tiny-random")
    meta = {"run": "tiny-full", "model": "tiny-random", "prompt_format": "compact"}
    (folder.parent / "train_metrics.json").write_text(json.dumps(meta))

    r = CliRunner().invoke(app, ["export", "tiny-full", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "tiny-full (tiny-random + full fine-tuning delta, prompt compact)" in r.output
    info = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert (info["run"], info["base_model"], info["method"]) == ("tiny-full", "tiny-random", "full")

    exported, tok = load(tmp_path / "out")
    want = dict(tuned.named_parameters())
    for name, p in exported.named_parameters():  # base + bf16 delta: the tuned weights, rounded
        assert torch.allclose(p, want[name], atol=2e-3), name
    cfg = DecodeConfig(max_new_tokens=12)
    ex = Extractor(adapter="tiny-full")
    want_text = [w.text for w in generate(ex.model, ex.tokenizer, PROMPTS, cfg, progress=False)]
    assert [g.text for g in generate(exported, tok, PROMPTS, cfg, progress=False)] == want_text


def test_cli_export_refuses_bad_gguf_type_and_unknown_run(tmp_path, monkeypatch):
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    r = CliRunner().invoke(app, ["export", "x", "--out", str(tmp_path / "o"), "--gguf-type", "q4"])
    assert r.exit_code == 2 and "f32, f16, bf16, q8_0" in r.output
    r = CliRunner().invoke(app, ["export", "nope", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "nope: not an adapter folder (LoRA or full)" in r.output
    assert not (tmp_path / "o").exists()


def _llama_greedy(llm, ids: list[int], n: int) -> list[int]:
    """llama.cpp's greedy continuation of exactly these token ids (no BOS added, no sampling)."""
    out = []
    for token in llm.generate(ids, top_k=1, temp=0.0, reset=True):
        if token == llm.token_eos() or len(out) == n:
            break
        out.append(token)
    return out


@pytest.mark.slow
def test_gguf_greedy_decodes_like_the_merged_model(tmp_path):
    pytest.importorskip("llama_cpp", reason="the gguf extra (llama-cpp-python) is not installed")
    from llama_cpp import Llama

    from maaza.importer import import_edgejson
    from maaza.prompts import build_prompt

    info = export_run("smollm2-135m-maaza", tmp_path / "out", gguf_types=["f32"], root=ROOT)
    merged, tok = load(tmp_path / "out")
    llm = Llama(str(tmp_path / "out" / info["gguf"][0]["file"]), n_ctx=2048, n_threads=1,
                verbose=False)  # fmt: skip
    records, schemas = import_edgejson(ROOT / "data" / "test.jsonl", ROOT / "src/maaza/schemas")
    for r in records[:3]:
        prompt = build_prompt(r["prompt"], schemas[r["schema_id"]], info["prompt_format"])
        ids = tok(prompt)["input_ids"]
        with torch.inference_mode():
            out = merged.generate(torch.tensor([ids]), max_new_tokens=96, do_sample=False,
                                  pad_token_id=tok.pad_token_id)  # fmt: skip
        want = out[0, len(ids) :].tolist()
        want = want[: want.index(tok.eos_token_id)] if tok.eos_token_id in want else want
        assert _llama_greedy(llm, ids, len(want)) == want, r["id"]


def test_missing_converter_fails_before_any_model_loads(tmp_path, monkeypatch):
    from maaza.export import ExportError

    monkeypatch.setenv("LLAMA_CPP_DIR", str(tmp_path / "no-llama.cpp"))
    with pytest.raises(ExportError, match=r"convert_hf_to_gguf.py: not found \(\$LLAMA_CPP_DIR"):
        export_run("smollm2-135m-maaza", tmp_path / "out", gguf_types=["f16"], root=ROOT)
    assert not (tmp_path / "out").exists()
