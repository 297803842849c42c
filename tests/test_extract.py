"""maaza.extract and `maaza extract`: schema checks, error paths, adapter choice, valid answers, resume.

Decoding tests run `tiny-random` under constrained decoding with every value bounded, so even random
weights finish inside the budget; the grammar must then make every answer schema-valid.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import torch
import xgrammar as xgr
from typer.testing import CliRunner
from xgrammar.testing import _is_grammar_accept_string

import maaza.evaluate
from maaza.cli import app
from maaza.config import PROJECT_ROOT, DecodeConfig
from maaza.extract import (
    AUTO,
    ExtractError,
    Extractor,
    NoAdapterError,
    SchemaError,
    check_schema,
    check_text,
    choose_source,
    completed_lines,
    find_adapters,
    parse_input_line,
    read_input,
    regex_problems,
    schema_problems,
)
from maaza.models import FULL_DELTA
from maaza.prompts import JSON_SEPARATORS
from maaza.schemas import load_schemas

# A user's own schema (not one of the 24 the data was generated from), every value bounded.
BOOK = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Book",
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "year": {"type": "integer", "minimum": 1400, "maximum": 2100},
        "rating": {"type": "number", "minimum": 0, "maximum": 5},
        "isbn": {"type": "string", "pattern": "^[0-9]{3}-[0-9]{2}$"},
        "genres": {"type": "array", "items": {"type": "string", "enum": ["sf", "crime", "poetry"]}},
        "author": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "alive": {"type": "boolean"}},
            "required": ["name"],
        },
        "series": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "format": {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 9}, {"type": "null"}]},
    },
    "required": ["title", "year", "isbn", "author", "series"],
}
SMALL = {  # few tokens per answer: for the CLI tests, which decode many times
    "title": "Book",
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "year": {"type": "integer", "minimum": 1400, "maximum": 2100},
    },
    "required": ["title", "year"],
}
TIGHT = DecodeConfig(batch_size=2, max_new_tokens=200, max_string_length=6, max_items=2)
TEXTS = ["Dune (1965) by Frank Herbert, ISBN 978-01.", "Rated 4.5 stars, no series."]
FIXTURES = Path(__file__).parent / "fixtures" / "extract"  # car rental: a schema no data used
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture
def root(tmp_path, monkeypatch):
    """An empty project root (no runs, no params.yaml) that $MAAZA_ROOT points at."""
    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    return tmp_path


@pytest.fixture
def tiny_loads(tiny_model, monkeypatch):
    """load_model returns the session's tiny model: CLI tests skip the reload (a few seconds)."""
    monkeypatch.setattr(
        maaza.evaluate, "load_model", lambda model, adapter=None, dtype="float32": tiny_model
    )


def _write(path: Path, content: str | bytes | dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps(content)
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def _cli(*args: str, stdin: bytes | None = None):
    result = runner.invoke(app, ["extract", *args], input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


# ----------------------------------------------------------------------------- schema checks
def test_package_schemas_and_book_pass_the_checks():
    checked = []
    for sid, schema in {**load_schemas(), "book": BOOK}.items():
        assert schema_problems(schema) == [], sid  # no feature the grammar would not enforce
        check_schema(schema, sid)  # raises SchemaError on any problem (meta-schema, xgrammar)
        checked.append(sid)
    assert len(checked) == len(load_schemas()) + 1


@pytest.mark.parametrize(
    ("pattern", "found"),
    [
        (r"^[0-9]{3}-\d+$", []),
        (r"^(?:ab)+[^@]\w*$", []),
        (r"[\b]", []),  # a backspace inside a class, not a word boundary
        (r"\\b", []),  # an escaped backslash, then a literal b
        (r"^(?=.*\d).{8}$", ["lookahead (?=...)"]),
        (r"^(?!x)", ["negative lookahead (?!...)"]),
        (r"(?<=a)b", ["lookbehind (?<=...)"]),
        (r"(a)\1", ["backreference \\1"]),
        (r"(?P<x>a)(?P=x)", ["named backreference (?P=...)"]),
        (r"\bword\b", ["word boundary \\b"]),
        (r"[(?=]", []),  # inside a class: literal characters
    ],
)
def test_regex_problems(pattern, found):
    assert regex_problems(pattern) == found


def _obj(**props):
    return {"type": "object", "properties": props, "required": list(props)}


# (schema, words the error must contain, an instance the bare engine accepts though it is invalid
# or None). The instance documents why the feature is refused: xgrammar 0.2.8 ignores it.
UNCONSTRAINABLE_CASES = {
    "if/then/else": (
        {**_obj(a={"type": "integer"}), "if": {"properties": {"a": {"const": 1}}},
         "then": {"required": ["b"]}, "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}},
        "if/then/else", '{"a": 1}',
    ),
    "dependencies": (
        {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
         "dependencies": {"a": ["b"]}},
        "dependencies", '{"a": 1}',
    ),
    "not": (_obj(a={"not": {"type": "string"}}), "not is ignored", '{"a": "s"}'),
    "allOf": (_obj(a={"allOf": [{"type": "integer"}, {"minimum": 5}]}), "allOf", '{"a": 1}'),
    "oneOf overlap": (_obj(a={"oneOf": [{"type": "integer"}, {"type": "number"}]}), "oneOf", '{"a": 1}'),
    "uniqueItems": (_obj(a={"type": "array", "items": {"type": "integer"}, "uniqueItems": True}),
                    "uniqueItems", '{"a": [1, 1]}'),
    "contains": (_obj(a={"type": "array", "items": {"type": "integer"}, "contains": {"const": 3}}),
                 "contains", '{"a": [1]}'),
    "multipleOf number": (_obj(a={"type": "number", "multipleOf": 0.5}), "multipleOf", '{"a": 0.3}'),
    "lookahead": (_obj(a={"type": "string", "pattern": "^(?=.*[0-9])[a-z0-9]{3}$"}), "lookahead",
                  '{"a": "abc"}'),
    "required not in properties": ({"type": "object", "properties": {"a": {"type": "integer"}},
                                    "required": ["a", "b"]}, "'b'", '{"a": 1}'),
    "remote $ref": (_obj(a={"$ref": "http://example.com/s.json"}), "$ref", None),
    "patternProperties": ({"type": "object", "patternProperties": {"^x_": {"type": "integer"}}},
                          "patternProperties", None),
    "tuple items": (_obj(a={"type": "array", "items": [{"type": "integer"}]}), "tuple", None),
    "enum of objects": (_obj(a={"enum": [{"k": 1}, 2]}), "objects or arrays", None),
    "empty enum": (_obj(a={"enum": []}), "enum is empty", None),
    "backreference": (_obj(a={"type": "string", "pattern": "^(a)\\1$"}), "backreference", None),
    "word boundary": (_obj(a={"type": "string", "pattern": "^a\\b"}), "word boundary", None),
    "minimum > maximum": (_obj(a={"type": "integer", "minimum": 5, "maximum": 1}), "xgrammar", None),
    "root not an object": ({"type": "array", "items": {"type": "integer"}}, "root must be", None),
}  # fmt: skip


@pytest.mark.parametrize("case", UNCONSTRAINABLE_CASES)
def test_unconstrainable_features_are_named(case):
    schema, words, ignored_by_engine = UNCONSTRAINABLE_CASES[case]
    jsonschema.Draft7Validator.check_schema(schema)  # a valid schema: the engine is the problem
    with pytest.raises(SchemaError, match="cannot be enforced") as err:
        check_schema(schema, "s.json")
    assert words in str(err.value)
    if ignored_by_engine is not None:  # the engine really lets an invalid answer through
        grammar = xgr.Grammar.from_json_schema(
            json.dumps(schema), any_whitespace=False, separators=JSON_SEPARATORS
        )
        assert _is_grammar_accept_string(grammar, ignored_by_engine)
        assert not jsonschema.Draft7Validator(schema).is_valid(json.loads(ignored_by_engine))


# ----------------------------------------------------------------------------- error paths (CLI)
def test_schema_errors_one_by_one(tmp_path, root):
    cases = {
        "missing": (tmp_path / "nope.json", "cannot read schema"),
        "directory": (tmp_path, "cannot read schema"),
        "not json": (_write(tmp_path / "a.json", '{"type": "object",\n  "properties": {'), "a.json:2:"),
        "not utf-8": (_write(tmp_path / "b.json", b'{"title": "caf\xe9"}'), "not UTF-8"),
        "not a schema": (_write(tmp_path / "c.json", _obj(a={"type": "strin"})), "not a valid JSON Schema"),
        "bad regex": (_write(tmp_path / "d.json", _obj(a={"type": "string", "pattern": "(ab"})), "regex"),
        "not an object": (_write(tmp_path / "e.json", "[1, 2]"), "must be a JSON object"),
        "feature": (_write(tmp_path / "f.json", _obj(a={"not": {"type": "string"}})), "/properties/a: not"),
    }  # fmt: skip
    for name, (path, message) in cases.items():
        result = _cli("--schema", str(path), "some text")
        assert result.exit_code == 1, name
        assert "error:" in result.output and message in result.output, (name, result.output)


def test_text_errors_one_by_one(tmp_path, root):
    schema = str(_write(tmp_path / "book.json", BOOK))
    cases = [
        (["   "], None, "TEXT: text is empty"),
        (["-"], b"", "stdin: text is empty"),
        (["-"], b"Dune \xff\xfe 1965", "stdin: not UTF-8 text (byte 0xff at offset 5)"),
        ([], None, "give one of TEXT"),
        (["x", "--input", schema, "--output", "o.jsonl"], None, "give one of TEXT"),
        (["--input", schema], None, "--input and --output go together"),
    ]
    for args, stdin, message in cases:
        result = _cli("--schema", schema, *args, stdin=stdin)
        assert result.exit_code == 1 and message in result.output, (args, result.output)
    bad_mode = _cli("--schema", schema, "x", "--mode", "greedy")  # a usage error, choices listed
    assert bad_mode.exit_code == 2 and "'greedy' is not one of free, constrained" in bad_mode.output
    with pytest.raises(ExtractError, match="not UTF-8"):
        check_text("Dune \udcff 1965")  # how undecodable argv bytes reach Python


def test_input_line_errors_one_by_one(tmp_path, root):
    schema = str(_write(tmp_path / "book.json", BOOK))
    good = '{"text": "Dune"}\n'
    cases = {
        "bad json": (good + '{"text": "Dune"\n', "in.jsonl:2:16: invalid JSON"),
        "not utf-8": (good.encode() + b'"caf\xe9"\n', "in.jsonl:2: not UTF-8"),
        "no text key": (good + '{"body": "x"}\n', "in.jsonl:2: object has no 'text' or 'prompt'"),
        "empty text": (good + "\n" + '{"prompt": " "}\n', "in.jsonl:3: text is empty"),
        "not a string": (good + "42\n", "in.jsonl:2: text must be a string"),
        "empty file": ("\n\n", "no input lines"),
    }
    for name, (content, message) in cases.items():
        path = _write(tmp_path / "in.jsonl", content)
        result = _cli(
            "--schema", schema, "--input", str(path), "--output", str(tmp_path / "o.jsonl")
        )
        assert result.exit_code == 1 and message in result.output, (name, result.output)
        assert not (tmp_path / "o.jsonl").exists()  # nothing written for a bad input


def test_input_line_forms():
    assert parse_input_line(b'{"id": "x7", "text": "a"}', "f:1", 1).id == "x7"
    assert parse_input_line(b'{"prompt": "a"}', "f:2", 2).id == "2"
    assert parse_input_line(b'"just text"', "f:3", 3).text == "just text"
    assert parse_input_line(b"  ", "f:4", 4) is None


def test_no_adapter_says_how_to_train(tmp_path, root):
    schema = str(_write(tmp_path / "book.json", BOOK))
    result = _cli("--schema", schema, "Dune, 1965")
    assert result.exit_code == 1
    assert "no trained adapter" in result.output and "dvc repro train" in result.output
    assert "--zero-shot" in result.output
    result = _cli("--schema", schema, "--adapter", str(tmp_path / "nowhere"), "Dune")
    assert result.exit_code == 1 and "not an adapter folder (LoRA or full)" in result.output
    result = _cli("--schema", schema, "--zero-shot", "--adapter", "x", "Dune")
    assert result.exit_code == 1 and "drop --adapter" in result.output


# ----------------------------------------------------------------------------- adapter choice
def _fake_run(root: Path, run: str, model: str = "tiny-random", fmt: str = "compact") -> Path:
    _write(root / "runs" / run / "adapter" / "adapter_config.json", {"peft_type": "LORA"})
    _write(
        root / "runs" / run / "train_metrics.json",
        {"run": run, "model": model, "prompt_format": fmt},
    )
    return root / "runs" / run / "adapter"


def _fake_eval(
    root: Path, name: str, run: str | None, exact: float, mode="constrained", split="test"
):
    metrics = {
        "name": name,
        "run": run,
        "mode": mode,
        "split": split,
        "overall": {"json_exact": exact},
    }
    _write(root / "results" / "eval" / name / "metrics.json", metrics)


def test_best_adapter_is_the_best_evaluated_run(root):
    _fake_run(root, "a-r8")
    _fake_run(root, "b-r16")
    _fake_run(root, "c-r32", model="gemma3-270m", fmt="paper")
    _fake_run(root, "d-new")  # trained, not evaluated yet
    _write(root / "runs" / "e-broken" / "train_metrics.json", {"run": "e-broken"})  # no adapter
    _fake_eval(root, "ft-a-r8-constrained-val", "a-r8", 0.70, split="val")
    _fake_eval(root, "ft-b-r16-constrained-val", "b-r16", 0.80, split="val")
    _fake_eval(root, "ft-c-r32-constrained-val", "c-r32", 0.75, split="val")
    _fake_eval(root, "ft-a-r8-free-val", "a-r8", 0.99, mode="free", split="val")  # other mode
    _fake_eval(root, "ft-a-r8-constrained", "a-r8", 0.99)  # test: never used to choose
    _fake_eval(root, "ft-a-r8-constrained-holdout", "a-r8", 0.99, split="holdout")  # ignored
    _fake_eval(root, "zs-x-constrained", None, 0.99)  # zero-shot: ignored
    _write(root / "results" / "eval" / "torn" / "metrics.json", '{"run": "a-r8", ')  # half-written

    assert [s.run for s in find_adapters(root)] == ["b-r16", "c-r32", "a-r8", "d-new"]
    best = choose_source()  # root from $MAAZA_ROOT
    assert (best.run, best.model, best.prompt_format, best.json_exact) == (
        "b-r16", "tiny-random", "compact", 0.80)  # fmt: skip
    assert best.adapter == root / "runs" / "b-r16" / "adapter"
    assert choose_source(model="gemma3-270m").run == "c-r32"  # best run of that base model
    assert choose_source(adapter="a-r8").run == "a-r8"  # by run name
    assert choose_source(adapter=root / "runs" / "d-new").run == "d-new"  # by run folder
    with pytest.raises(ExtractError, match="trained on tiny-random, not gemma3-270m"):
        choose_source(model="gemma3-270m", adapter="a-r8")
    with pytest.raises(NoAdapterError, match="for base model smollm2-135m-instruct"):
        choose_source(model="smollm2-135m-instruct")
    zs = choose_source(zero_shot=True)
    assert (
        zs.adapter is None and zs.model == "smollm2-135m-instruct" and zs.prompt_format == "paper"
    )


def test_search_trials_are_not_default_adapters(root):
    """A search screen with the best val score is not a candidate: its recipe becomes a run."""
    from maaza.config import load_params

    params = load_params(PROJECT_ROOT / "params.yaml")
    trial = next(r for r in params.run_names() if params.run_role(r) == "trial")
    _fake_run(root, "b-r16")
    _fake_run(root, trial)
    _fake_eval(root, "ft-b-r16-constrained-val", "b-r16", 0.50, split="val")
    _fake_eval(root, f"ft-{trial}-constrained-val", trial, 0.90, split="val")
    assert [s.run for s in find_adapters(root)] == [trial, "b-r16"]  # without params: any run
    assert [s.run for s in find_adapters(root, params)] == ["b-r16"]


def test_a_full_fine_tuning_run_best_on_val_is_the_default(root):
    """Our recipe as full fine-tuning (a weight delta, no adapter_config.json) competes with LoRA
    runs on val like any run: the best on val is the default, whatever its method."""
    _fake_run(root, "b-r16")
    full = _write(root / "runs" / "ours-full" / "adapter" / FULL_DELTA, b"").parent
    _write(full / "full_config.json", {"base_model": "tiny-random"})
    _write(full.parent / "train_metrics.json",
           {"run": "ours-full", "model": "tiny-random", "prompt_format": "compact", "method": "full"})  # fmt: skip
    _fake_eval(root, "ft-b-r16-constrained-val", "b-r16", 0.50, split="val")
    _fake_eval(root, "ft-ours-full-constrained-val", "ours-full", 0.70, split="val")
    _fake_eval(root, "ft-b-r16-constrained", "b-r16", 0.99)  # test: never used to choose
    assert [s.run for s in find_adapters(root)] == ["ours-full", "b-r16"]
    best = choose_source()
    assert (best.run, best.adapter, best.json_exact) == ("ours-full", full, 0.70)
    assert choose_source(adapter="ours-full").adapter == full  # by name, too


def test_real_adapter_is_found_and_applied(tmp_path, tiny_model, monkeypatch):
    """A LoRA adapter saved by peft under runs/<run>/ is found, merged, and answers validly."""
    import copy

    from peft import LoraConfig, get_peft_model

    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    model, _ = tiny_model
    config = LoraConfig(r=2, target_modules=["q_proj", "v_proj"])
    peft_model = get_peft_model(copy.deepcopy(model), config)
    torch.manual_seed(0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:  # B starts at zero (a no-op adapter): make it change the model
            torch.nn.init.normal_(param, std=0.5)
    adapter = _fake_run(tmp_path, "tiny-r2")
    peft_model.save_pretrained(adapter)

    ex = Extractor(decode=TIGHT)  # loads tiny-random through maaza.evaluate.load_model + adapter
    assert (ex.source.run, ex.source.prompt_format) == ("tiny-r2", "compact")
    assert ex.source.adapter == adapter
    assert not any("lora" in n for n, _ in ex.model.named_parameters())  # merged, not wrapped
    q_base = model.model.layers[0].self_attn.q_proj.weight
    assert not torch.allclose(ex.model.model.layers[0].self_attn.q_proj.weight, q_base)
    jsonschema.validate(ex.extract(TEXTS[0], BOOK), BOOK)


def test_full_fine_tuning_run_is_found_and_applied(tmp_path, tiny_model, monkeypatch):
    """A `method: full` run leaves a weight delta, not a peft adapter: extract finds it, by name
    and by default, and decodes with the changed weights."""
    import copy

    from maaza.models import save_full_delta

    monkeypatch.setenv("MAAZA_ROOT", str(tmp_path))
    model, _ = tiny_model
    tuned = copy.deepcopy(model)
    with torch.no_grad():
        tuned.model.layers[0].self_attn.q_proj.weight.add_(0.5)
    folder = tmp_path / "runs" / "tiny-full" / "adapter"
    folder.mkdir(parents=True)
    save_full_delta(tuned, model, folder, "tiny-random")
    _write(folder.parent / "train_metrics.json",
           {"run": "tiny-full", "model": "tiny-random", "prompt_format": "compact"})  # fmt: skip

    assert [s.run for s in find_adapters(tmp_path)] == ["tiny-full"]
    assert choose_source(adapter="tiny-full").adapter == folder
    ex = Extractor(decode=TIGHT)
    assert ex.source.run == "tiny-full"
    q = ex.model.model.layers[0].self_attn.q_proj.weight
    assert torch.allclose(q, tuned.model.layers[0].self_attn.q_proj.weight, atol=1e-2)  # bf16 delta
    jsonschema.validate(ex.extract(TEXTS[0], BOOK), BOOK)


def test_damaged_adapter_is_a_clear_error(tmp_path, root):
    adapter = _write(tmp_path / "runs" / "bad" / "adapter" / "adapter_config.json", "{}").parent
    _write(
        tmp_path / "runs" / "bad" / "train_metrics.json",
        {"model": "tiny-random", "prompt_format": "compact"},
    )
    result = _cli("--schema", str(_write(tmp_path / "s.json", SMALL)), "--adapter", "bad", "Dune")
    assert result.exit_code == 1
    assert f"{adapter}: cannot apply this adapter to tiny-random" in result.output


# ----------------------------------------------------------------------------- valid answers
def test_api_constrained_answers_always_validate(tiny_model, root):
    ex = Extractor("tiny-random", zero_shot=True, decode=TIGHT, loaded=tiny_model)
    schemas = [BOOK, load_schemas()["support_ticket"]]
    for schema in schemas:
        results = ex.extract_batch(TEXTS, schema)
        for r in results:
            assert r.valid, r.errors
            jsonschema.validate(r.value, schema)
            assert r.latency_s > 0 and r.n_tokens > 0 and r.stop in ("json", "eos")
    mixed = ex.extract_batch(TEXTS, schemas)  # one schema per text, decoded in one batch
    for r, schema in zip(mixed, schemas, strict=True):
        jsonschema.validate(r.value, schema)
    assert isinstance(ex.extract(TEXTS[0], BOOK), dict)
    assert "Extractor(tiny-random zero-shot" in repr(ex)


def test_copy_spans_keep_free_text_to_spans_of_the_text(tiny_model, root, tmp_path, tiny_loads):
    cfg = TIGHT.model_copy(update={"copy_spans": True})
    ex = Extractor("tiny-random", zero_shot=True, decode=cfg, loaded=tiny_model)
    for text, r in zip(TEXTS, ex.extract_batch(TEXTS, SMALL), strict=True):
        assert r.valid and r.value["title"] in text, (r.value, text)
    schema = _write(tmp_path / "book.json", SMALL)
    result = _cli("--schema", str(schema), "--zero-shot", "--model", "tiny-random",
                  "--copy-spans", TEXTS[0])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["title"] in TEXTS[0]


def test_free_mode_invalid_answer_is_an_error_not_a_result(tiny_model, root):
    ex = Extractor("tiny-random", zero_shot=True, mode="free", decode=TIGHT, loaded=tiny_model)
    [r] = ex.extract_batch([TEXTS[0]], BOOK)
    assert not r.valid and r.errors  # random weights do not write a valid book
    with pytest.raises(ExtractError, match="does not match the schema"):
        ex.extract(TEXTS[0], BOOK)


def test_api_rejects_bad_input_before_decoding(tiny_model, root):
    ex = Extractor("tiny-random", zero_shot=True, decode=TIGHT, loaded=tiny_model)
    with pytest.raises(ExtractError, match="text 1: text is empty"):
        ex.extract_batch(["ok", ""], BOOK)
    with pytest.raises(SchemaError, match="uniqueItems"):
        ex.extract("x", _obj(a={"type": "array", "uniqueItems": True}))
    with pytest.raises(ExtractError, match="2 schemas for 1 texts"):
        ex.extract_batch(["x"], [BOOK, BOOK])


def test_cli_single_prints_valid_json(tmp_path, root, tiny_loads):
    schema = str(_write(tmp_path / "book.json", SMALL))
    for args, stdin in ((["Dune (1965)"], None), (["-"], b"Dune (1965)")):
        result = _cli(
            "--schema", schema, "--model", "tiny-random", "--zero-shot", *args, stdin=stdin
        )
        assert result.exit_code == 0, result.output
        answer = next(line for line in result.output.splitlines() if line.startswith("{"))
        jsonschema.validate(json.loads(answer), SMALL)
        assert "valid;" in result.output and "tokens/s" in result.output


# ----------------------------------------------------------------------------- batch + resume
def _batch(tmp_path: Path, n: int = 5, batch_size: int = 2) -> tuple[list[str], Path, Path]:
    lines = [json.dumps({"id": f"b{i}", "text": f"Book {i}, {1900 + i}"}) for i in range(n)]
    src = _write(tmp_path / "in.jsonl", "\n".join(lines) + "\n")
    args = ["--schema", str(_write(tmp_path / "book.json", SMALL)), "--model", "tiny-random",
            "--zero-shot", "--batch-size", str(batch_size), "--input", str(src)]  # fmt: skip
    return args, src, tmp_path / "out.jsonl"


def _timeless(rows: list[str]) -> list[dict]:
    return [{k: v for k, v in json.loads(r).items() if k != "latency_s"} for r in rows]


def test_cli_batch_resumes_after_a_torn_output(tmp_path, root, tiny_loads):
    args, src, out = _batch(tmp_path, batch_size=3)  # 3 + 2, then the last 3 in one batch
    full = _cli(*args, "--output", str(tmp_path / "full.jsonl"))
    assert full.exit_code == 0, full.output
    reference = (tmp_path / "full.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in reference] == [f"b{i}" for i in range(5)]
    for row in map(json.loads, reference):
        assert row["valid"] and not row["errors"]
        jsonschema.validate(row["value"], SMALL)

    # An interrupted run: two finished lines and half of the third.
    out.write_text("\n".join(reference[:2]) + "\n" + reference[2][:25])
    resumed = _cli(*args, "--output", str(out))
    assert resumed.exit_code == 0, resumed.output
    assert "wrote 3 results" in resumed.output and "2 were already done" in resumed.output
    assert _timeless(out.read_text().splitlines()) == _timeless(reference)

    again = _cli(*args, "--output", str(out))
    assert again.exit_code == 0 and "all 5 lines already done" in again.output


def test_cli_batch_interrupted_keeps_finished_lines(tmp_path, root, tiny_loads, monkeypatch):
    args, src, out = _batch(tmp_path, n=3)
    real = Extractor.extract_batch
    calls = []

    def interrupted(self, texts, schemas, **kw):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, texts, schemas, **kw)

    monkeypatch.setattr(Extractor, "extract_batch", interrupted)
    result = _cli(*args, "--output", str(out))
    assert result.exit_code == 130 and "rerun the same command" in result.output
    assert len(out.read_text().splitlines()) == 2  # the first batch, flushed line by line
    monkeypatch.setattr(Extractor, "extract_batch", real)
    assert _cli(*args, "--output", str(out)).exit_code == 0
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["b0", "b1", "b2"]


def test_output_of_another_input_is_refused(tmp_path):
    lines = read_input(_write(tmp_path / "in.jsonl", '{"id": "a", "text": "x"}\n'))
    out = _write(
        tmp_path / "out.jsonl", '{"line": 1, "id": "zzz", "value": 1, "valid": true, "job": {}}\n'
    )
    with pytest.raises(ExtractError, match="out.jsonl:1: not a result of this input"):
        completed_lines(out, lines)


# ----------------------------------------------------------------------------- packaging
def test_import_maaza_stays_cheap_and_exports_extractor():
    code = "import sys, maaza; assert 'torch' not in sys.modules; print(maaza.Extractor.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Extractor"
    assert AUTO == "auto"


@pytest.mark.slow
def test_zero_shot_smollm2_constrained_answer_validates(root):
    """A real model on a schema and text the training data never saw (tests/fixtures/extract/)."""
    ex = Extractor("smollm2-135m-instruct", zero_shot=True,
                   decode=DecodeConfig(batch_size=1, max_new_tokens=160))  # fmt: skip
    schema = json.loads((FIXTURES / "car_rental.json").read_text())
    value = ex.extract((FIXTURES / "car_rental.txt").read_text(), schema)
    jsonschema.validate(value, schema)
    assert value["renter"] == "Marta Oyelaran"  # zero-shot gets the easy fields right
