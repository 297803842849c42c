"""Text -> JSON that validates against the user's own JSON Schema, with a fine-tuned adapter.

    maaza extract --schema contact.json "Call Ana Ruiz on +34 600 123 456"     # one text
    maaza extract --schema contact.json --input in.jsonl --output out.jsonl    # many, resumable

    from maaza import Extractor
    ex = Extractor()                                   # best fine-tuned run found under runs/
    ex.extract("Call Ana Ruiz on ...", schema)         # -> dict (valid, or ExtractError)
    ex.extract_batch(texts, schema)                    # -> [Extraction] (value, valid, latency...)
    Extractor(model="smollm2-135m-instruct", zero_shot=True)   # the base model, no adapter

The default adapter is the fine-tuned run with the best JSONExact among the evaluations the report
stage reads (results/eval/*/metrics.json: fine-tuned, constrained, validation split: chosen on
val, never on test) whose runs/<run>/adapter/ exists; runs without a val evaluation come after,
and search trials (role trial in params.yaml) are not candidates: a chosen recipe becomes a run. Its base model and prompt
format are read from runs/<run>/train_metrics.json (params.yaml as a fallback). Paths are searched
under $MAAZA_ROOT / `--root` / `root=`, else under the project checkout maaza is imported from;
installed elsewhere (site-packages) with neither set, finding an adapter is a clear error.

Schemas are checked before any model loads: JSON, a valid draft-07 schema (jsonschema's
meta-schema), an object at the root, and no feature that xgrammar 0.2.8 rejects or silently
ignores (measured keyword by keyword; see UNCONSTRAINABLE). Every output is re-validated with
jsonschema, so an answer that is not schema-valid is reported, never returned as if it were.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maaza.config import (
    DEFAULT_MODE,
    PROJECT_ROOT,
    DecodeConfig,
    DecodeMode,
    FormatPolicy,
    Params,
    PromptFormat,
)
from maaza.models import FULL_DELTA, is_full_delta
from maaza.plan import VAL_SPLIT

ROOT_ENV = "MAAZA_ROOT"
AUTO = "auto"  # adapter="auto": the best fine-tuned run under <root>/runs
TEXT_KEYS = ("text", "prompt")  # a JSONL input line: {"text": ...}, {"prompt": ...} or "..."
TRAIN_HINT = (
    "train one with `dvc repro train` (or `python -m maaza.train --run smollm2-135m-r16`), "
    "name one with --adapter runs/<run>/adapter, or use the base model with --zero-shot"
)

# Keywords xgrammar 0.2.8 accepts but does not enforce (a grammar-valid answer could break the
# schema) or cannot produce at all. Found by compiling each one and testing accepted strings
# against jsonschema (see tests/test_extract.py::test_unconstrainable_features_are_named).
UNCONSTRAINABLE = {
    "if": "if/then/else (conditional subschemas) is ignored",
    "then": "if/then/else (conditional subschemas) is ignored",
    "else": "if/then/else (conditional subschemas) is ignored",
    "dependencies": "dependencies is ignored",
    "dependentRequired": "dependentRequired is ignored",
    "dependentSchemas": "dependentSchemas is ignored",
    "not": "not is ignored",
    "contains": "contains is ignored",
    "patternProperties": "patternProperties is not supported: keys matching it are never "
    "produced; list the keys under properties",
    "prefixItems": "tuple arrays (prefixItems) are not supported",
    "additionalItems": "tuple arrays (additionalItems) are not supported",
}
# Regex features: `pattern` is compiled into the grammar; these are rejected or ignored.
_REGEX_GROUPS = {"=": "lookahead (?=...)", "!": "negative lookahead (?!...)",
                 "<=": "lookbehind (?<=...)", "<!": "negative lookbehind (?<!...)",
                 "P=": "named backreference (?P=...)"}  # fmt: skip
_REGEX_ESCAPES = {"b": "word boundary \\b", "B": "non-word boundary \\B",
                  "p": "Unicode property \\p{...}", "P": "Unicode property \\P{...}",
                  "k": "named backreference \\k<...>"}  # fmt: skip
_NUMERIC_TYPES = {"integer": {"integer"}, "number": {"integer", "number"}}


class ExtractError(ValueError):
    """Bad input or an answer that is not valid: the message says what and where."""


class SchemaError(ExtractError):
    """The schema cannot be used (unreadable, invalid, or not constrainable)."""


class NoAdapterError(ExtractError):
    """No fine-tuned adapter was found, and zero-shot use was not asked for."""


# ----------------------------------------------------------------------------- schema checks
def _pointer(path: Sequence[str | int]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _subschemas(node: dict[str, Any], path: tuple) -> Iterator[tuple[Any, tuple]]:
    """(subschema, path) for every place a draft-07 (or 2019+) schema nests another schema."""
    for key in ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas"):
        if isinstance(node.get(key), dict):
            for name, sub in node[key].items():
                yield sub, (*path, key, name)
    for key in ("allOf", "anyOf", "oneOf", "prefixItems", "items"):
        if isinstance(node.get(key), list):
            for i, sub in enumerate(node[key]):
                yield sub, (*path, key, i)
    for key in ("items", "additionalProperties", "additionalItems", "contains", "propertyNames",
                "not", "if", "then", "else"):  # fmt: skip
        if isinstance(node.get(key), dict):
            yield node[key], (*path, key)
    if isinstance(node.get("dependencies"), dict):
        for name, sub in node["dependencies"].items():
            if isinstance(sub, dict):
                yield sub, (*path, "dependencies", name)


def regex_problems(pattern: str) -> list[str]:
    """Regex features the grammar engine rejects or ignores (backreferences, lookaround, ...)."""
    found, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt.isdigit() and nxt != "0" and not in_class:
                found.append(f"backreference \\{nxt}")
            elif nxt in _REGEX_ESCAPES and not (in_class and nxt == "b"):  # [\b] is a backspace
                found.append(_REGEX_ESCAPES[nxt])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            i += 2 if pattern[i + 1 : i + 2] == "]" else 1  # "[]...]": a leading ] is literal
            continue
        if ch == "]" and in_class:
            in_class = False
        elif ch == "(" and not in_class and pattern[i + 1 : i + 2] == "?":
            head = pattern[i + 2 : i + 4]
            for prefix, name in _REGEX_GROUPS.items():
                if head.startswith(prefix):
                    found.append(name)
                    break
        i += 1
    return list(dict.fromkeys(found))


def _oneof_overlaps(branches: list[Any]) -> bool:
    """True unless every branch has a `type` and no value can match two branches by type."""
    seen: set[str] = set()
    for branch in branches:
        kinds = branch.get("type") if isinstance(branch, dict) else None
        if kinds is None:
            return True
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        covers = set().union(*(_NUMERIC_TYPES.get(k, {k}) for k in kinds))
        if covers & seen:
            return True
        seen |= covers
    return False


def _node_problems(node: dict[str, Any]) -> list[str]:
    """What one schema node asks that the grammar engine cannot guarantee (no recursion)."""
    out = list(dict.fromkeys(msg for key, msg in UNCONSTRAINABLE.items() if key in node))
    ref = node.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        out.append(f"$ref {ref!r} points outside this schema (only local '#/...' refs work "
                   "offline and in the grammar); inline it under definitions")  # fmt: skip
    if isinstance(node.get("items"), list):
        out.append("tuple arrays (items as a list) are not supported")
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) > 1:
        out.append("allOf with more than one subschema is not enforced (only one is applied); "
                   "merge them into one schema")  # fmt: skip
    if isinstance(node.get("oneOf"), list) and _oneof_overlaps(node["oneOf"]):
        out.append("oneOf whose branches may overlap: the engine treats it as anyOf and cannot "
                   "enforce 'exactly one'; give each branch a distinct type, or use anyOf")  # fmt: skip
    if node.get("uniqueItems") is True:
        out.append("uniqueItems is ignored")
    if "multipleOf" in node and not (
        node.get("type") == "integer" and isinstance(node["multipleOf"], int)
    ):
        out.append("multipleOf is enforced only for integers with an integer step")
    enum = node.get("enum") if isinstance(node.get("enum"), list) else []
    if any(isinstance(v, dict | list) for v in [*enum, node.get("const")]):
        out.append("enum/const values that are objects or arrays cannot be produced")
    if node.get("enum") == []:
        out.append("enum is empty: no value can match")
    props = node.get("properties", {})
    is_object = "properties" in node or node.get("type") == "object"  # not e.g. a `then: required`
    if is_object and isinstance(node.get("required"), list) and isinstance(props, dict):
        missing = [k for k in node["required"] if k not in props]
        if missing:
            out.append(f"required lists {', '.join(map(repr, missing))} but properties does "
                       "not define it: the grammar would never produce it")  # fmt: skip
    if isinstance(node.get("pattern"), str):
        for feature in regex_problems(node["pattern"]):
            out.append(f"pattern {node['pattern']!r} uses a {feature}, which the engine "
                       "rejects or ignores")  # fmt: skip
    return out


def schema_problems(schema: Any) -> list[str]:
    """Every reason this (meta-schema-valid) schema cannot be constrained, as 'pointer: why'."""
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return ['/: the root must be {"type": "object", ...}: one JSON object is extracted']
    problems, stack = [], [(schema, ())]
    while stack:
        node, path = stack.pop()
        if not isinstance(node, dict):
            continue
        problems += [f"{_pointer(path)}: {msg}" for msg in _node_problems(node)]
        stack.extend(reversed(list(_subschemas(node, path))))
    return problems


def _grammar_error(schema: dict[str, Any], cfg: DecodeConfig) -> str | None:
    """Compile the grammar the decoder will use (no tokenizer needed); the engine's own complaint."""
    from maaza.evaluate import grammar_error

    return grammar_error(schema, cfg)


def check_schema(schema: Any, where: str = "schema", cfg: DecodeConfig | None = None) -> None:
    """Raise SchemaError unless `schema` is a valid draft-07 schema the grammar can enforce."""
    import jsonschema

    if not isinstance(schema, dict):
        raise SchemaError(
            f"{where}: a JSON Schema must be a JSON object, got {type(schema).__name__}"
        )
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as err:
        at = _pointer(err.absolute_path) if err.absolute_path else "/"
        draft = cls.META_SCHEMA.get("$schema", cls.__name__)
        raise SchemaError(
            f"{where}: not a valid JSON Schema ({draft}) at {at}: {err.message}"
        ) from None
    problems = schema_problems(schema)
    if not problems:
        engine = _grammar_error(schema, cfg or DecodeConfig())
        problems = (
            [f"/: the grammar engine (xgrammar) cannot compile it: {engine}"] if engine else []
        )
    if problems:
        lines = "\n  ".join(problems)
        raise SchemaError(f"{where}: schema cannot be enforced by constrained decoding:\n  {lines}")


def load_schema(path: str | Path, cfg: DecodeConfig | None = None) -> dict[str, Any]:
    """Read and check a JSON Schema file (SchemaError with file:line on any problem)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise SchemaError(f"{path}: cannot read schema: {err.strerror or err}") from None
    text = decode_utf8(raw, str(path))
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as err:
        raise SchemaError(f"{path}:{err.lineno}:{err.colno}: not JSON: {err.msg}") from None
    check_schema(schema, str(path), cfg)
    return schema


# ----------------------------------------------------------------------------- text checks
def read_text_arg(text: str) -> str:
    """The CLI's TEXT argument; '-' reads stdin as bytes (so non-UTF-8 input is named, not mangled)."""
    if text == "-":
        import sys

        return check_text(decode_utf8(sys.stdin.buffer.read(), "stdin"), "stdin")
    return check_text(text, "TEXT")


def decode_utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = data[err.start : err.start + 1].hex()
        raise ExtractError(
            f"{where}: not UTF-8 text (byte 0x{bad} at offset {err.start})"
        ) from None


def check_text(text: Any, where: str = "text") -> str:
    """The text to extract from: a non-empty str that is valid Unicode (no lone surrogates)."""
    if not isinstance(text, str):
        raise ExtractError(f"{where}: text must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")  # argv bytes that were not UTF-8 arrive as lone surrogates
    except UnicodeEncodeError as err:
        raise ExtractError(
            f"{where}: not UTF-8 text (undecodable byte at offset {err.start})"
        ) from None
    if not text.strip():
        raise ExtractError(f"{where}: text is empty")
    return text


@dataclass(frozen=True)
class InputLine:
    line: int  # 1-based line number in the input file
    id: str
    text: str


def parse_input_line(raw: bytes, where: str, line: int) -> InputLine | None:
    """One JSONL input line -> InputLine (None for a blank line); ExtractError names file:line."""
    text = decode_utf8(raw, where)
    if not text.strip():
        return None
    try:
        obj = json.loads(text.rstrip("\r\n"))
    except json.JSONDecodeError as err:
        raise ExtractError(f"{where}:{err.colno}: invalid JSON: {err.msg}") from None
    return input_line(obj, where, line)


def input_line(obj: Any, where: str, line: int) -> InputLine:
    """A parsed input line: {"text": ...}, {"prompt": ...} (optional "id") or a bare string."""
    if isinstance(obj, dict):
        key = next((k for k in TEXT_KEYS if k in obj), None)
        if key is None:
            raise ExtractError(f"{where}: object has no {' or '.join(map(repr, TEXT_KEYS))} key")
        text, ident = obj[key], obj.get("id", line)
        if not isinstance(ident, str | int) or isinstance(ident, bool):
            raise ExtractError(f"{where}: 'id' must be a string or an integer")
    else:
        text, ident = obj, line
    return InputLine(line, str(ident), check_text(text, where))


def read_input(path: str | Path) -> list[InputLine]:
    """Every line of a JSONL input, checked up front (so no model loads for a bad file): read
    through maaza.io.iter_jsonl (UTF-8, file:line:column errors), like every other input."""
    from maaza import io

    path = Path(path)
    if path.is_dir():
        raise ExtractError(f"{path}: is a folder, not a JSONL file")
    try:
        lines = [input_line(obj, f"{path}:{n}", n) for n, obj in io.iter_jsonl(path)]
    except io.InputError as err:
        raise ExtractError(str(err)) from None
    except OSError as err:
        raise ExtractError(f"{path}: cannot read input: {err.strerror or err}") from None
    if not lines:
        raise ExtractError(f"{path}: no input lines")
    return lines


# ----------------------------------------------------------------------------- model + adapter
@dataclass(frozen=True)
class Source:
    """What answers: a base model, optionally a fine-tuned adapter, and the prompt format."""

    model: str
    prompt_format: PromptFormat
    adapter: Path | None = None
    run: str | None = None
    json_exact: float | None = None  # the run's val JSONExact (constrained), if evaluated
    note: str = ""  # why this source was chosen

    def describe(self) -> str:
        if self.adapter is None:
            return f"{self.model} zero-shot (prompt {self.prompt_format})"
        return f"run {self.run} ({self.model} + {self.adapter}, prompt {self.prompt_format})"


def source_dtype(source: Source, params: Params | None) -> str:
    """The weights dtype a source decodes in, as evaluation decodes it (EvalConfig.dtype_of: its
    evaluate.dtypes entry, else zeroshot_dtype for a zero-shot model, else dtype)."""
    return params.evaluate.dtype_of(source.run or source.model) if params else "float32"


def project_root(root: str | Path | None = None) -> Path:
    return Path(root or os.environ.get(ROOT_ENV) or PROJECT_ROOT)


def in_checkout() -> bool:
    """Is maaza imported from a project checkout (editable install), not from site-packages?"""
    return (PROJECT_ROOT / "params.yaml").is_file()


def decode_config(root: str | Path | None = None, **overrides: Any) -> DecodeConfig:
    """evaluate.decode of <root>/params.yaml (defaults without one), with non-None overrides."""
    params = read_params(project_root(root))
    base = params.evaluate.decode.model_dump() if params else {}
    return DecodeConfig.model_validate(
        {**base, **{k: v for k, v in overrides.items() if v is not None}}
    )


def read_params(root: Path) -> Params | None:
    """<root>/params.yaml if there is one (ConfigError if it is invalid)."""
    from maaza.config import load_params

    path = root / "params.yaml"
    return load_params(path) if path.is_file() else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # a half-written or foreign file does not make a run unusable


def eval_scores(eval_dir: Path) -> dict[str, float]:
    """{run: val JSONExact under constrained decoding} from the report stage's inputs (the
    default adapter is chosen on the validation split, never on test)."""
    scores: dict[str, float] = {}
    for path in sorted(eval_dir.glob("*/metrics.json")):
        m = _read_json(path)
        if not isinstance(m, dict) or not m.get("run") or m.get("mode") != "constrained":
            continue
        exact = (m.get("overall") or {}).get("json_exact")
        if m.get("split") == VAL_SPLIT and isinstance(exact, int | float):
            scores[m["run"]] = max(exact, scores.get(m["run"], -1.0))
    return scores


def run_settings(run_dir: Path, params: Params | None) -> tuple[str, PromptFormat]:
    """(base model, prompt format) of a training run: train_metrics.json, else params.yaml."""
    metrics = _read_json(run_dir / "train_metrics.json") or {}
    run = metrics.get("run", run_dir.name)
    model, fmt = metrics.get("model"), metrics.get("prompt_format")
    if (model is None or fmt is None) and params is not None:
        try:
            resolved = params.train_run(run)
            model, fmt = model or resolved.model, fmt or resolved.prompt_format
        except ValueError:
            pass
    if model is None or fmt is None:
        raise ExtractError(
            f"{run_dir}: cannot tell the run's base model and prompt format (no train_metrics.json "
            "and no such run in params.yaml); pass --model and --prompt-format"
        )
    return model, fmt


def find_adapters(root: Path, params: Params | None = None) -> list[Source]:
    """Every trained adapter under <root>/runs, best first (evaluated by JSONExact, then the rest)."""
    scores = eval_scores(root / "results" / "eval")
    found = []
    for folder in sorted(f for f in (root / "runs").glob("*/adapter") if is_trained_folder(f)):
        run_dir = folder.parent
        run = (_read_json(run_dir / "train_metrics.json") or {}).get("run", run_dir.name)
        if params is not None and run in params.run_names() and params.run_role(run) == "trial":
            continue  # a search screen; the recipe it chose is a run of its own
        try:
            model, fmt = run_settings(run_dir, params)
        except ExtractError:
            continue
        exact = scores.get(run)
        note = f"val JSONExact {exact:.3f}" if exact is not None else "not evaluated on val yet"
        found.append(Source(model, fmt, folder, run, exact, note))
    return sorted(found, key=lambda s: (s.json_exact is None, -(s.json_exact or 0.0), s.run))


def is_trained_folder(folder: Path) -> bool:
    """A run's `adapter` folder: a peft LoRA adapter or a full fine-tuning delta (`method: full`)."""
    return (folder / "adapter_config.json").is_file() or is_full_delta(folder)


def _explicit_adapter(adapter: str | Path, root: Path) -> tuple[Path, str]:
    """(adapter folder, run name) for an adapter folder, a run folder or a run name."""
    for cand in (
        Path(adapter),
        Path(adapter) / "adapter",
        root / "runs" / str(adapter) / "adapter",
    ):
        if is_trained_folder(cand):
            run_dir = cand.parent
            return cand, (_read_json(run_dir / "train_metrics.json") or {}).get("run", run_dir.name)
    raise NoAdapterError(f"{adapter}: not an adapter folder (LoRA or full), run folder or run "
                         f"name under {root / 'runs'} (no adapter_config.json nor {FULL_DELTA})")  # fmt: skip


def choose_source(
    model: str | None = None,
    adapter: str | Path | None = AUTO,
    *,
    zero_shot: bool = False,
    prompt_format: PromptFormat | None = None,
    root: str | Path | None = None,
) -> Source:
    """Resolve what answers, without loading anything heavy (NoAdapterError says how to train)."""
    outside = root is None and not os.environ.get(ROOT_ENV) and not in_checkout()
    root = project_root(root)
    params = read_params(root)
    if zero_shot:
        if adapter not in (None, AUTO):
            raise ExtractError("--zero-shot uses the base model alone: drop --adapter")
        default_model = (
            params.train.common.get("model") if params else None
        ) or "smollm2-135m-instruct"
        fmt = prompt_format or (params.evaluate.zeroshot_prompt_format if params else "paper")
        return Source(model or default_model, fmt, note="zero-shot, asked for")
    if adapter in (None, AUTO):
        found = [s for s in find_adapters(root, params) if model is None or s.model == model]
        if not found and outside:
            raise NoAdapterError(
                f"no runs/ to choose an adapter from: maaza is installed outside a checkout "
                f"({PROJECT_ROOT}); set {ROOT_ENV} (or --root) to the folder holding runs/, "
                "name one with --adapter, or use the base model with --zero-shot"
            )
        if not found:
            which = f" for base model {model}" if model else ""
            raise NoAdapterError(f"no trained adapter{which} under {root / 'runs'}: {TRAIN_HINT}")
        best = found[0]
        fmt = prompt_format or best.prompt_format
        return Source(best.model, fmt, best.adapter, best.run, best.json_exact,
                      f"best of {len(found)} trained run(s): {best.note}")  # fmt: skip
    path, run = _explicit_adapter(adapter, root)
    try:
        run_model, run_fmt = run_settings(path.parent, params)
    except ExtractError:
        if model is None or prompt_format is None:
            raise
        run_model, run_fmt = model, prompt_format
    if model is not None and model != run_model:
        raise ExtractError(f"{path} was trained on {run_model}, not {model}: drop --model or "
                           "pick an adapter of that model")  # fmt: skip
    return Source(run_model, prompt_format or run_fmt, path, run, note="named by the user")


# ----------------------------------------------------------------------------- extraction
@dataclass(frozen=True)
class Extraction:
    """One answer: the parsed JSON (None if unparsable), whether it validates, and its cost."""

    value: Any
    valid: bool
    errors: list[str]  # jsonschema messages or the parse error; empty when valid
    raw: str  # the model's continuation
    latency_s: float  # from this answer's prefill to its last token (grammar compile excluded)
    n_tokens: int
    stop: str  # json | eos | budget | repetition (see maaza.decode)

    def row(self) -> dict[str, Any]:
        return asdict(self)


def judge(
    raw: str, schema: dict[str, Any], format_policy: FormatPolicy = "annotation"
) -> tuple[Any, bool, list[str]]:
    """Parse a continuation and validate it: (value or None, valid, error messages)."""
    from maaza.metrics import parse_output, schema_errors

    parsed = parse_output(raw)
    if not parsed.ok:
        return None, False, [f"no JSON in the output: {parsed.error}"]
    errors = schema_errors(parsed.value, schema, format_policy)
    return parsed.value, not errors, errors


class Extractor:
    """A loaded model (+ adapter) that answers with JSON for (text, schema) pairs."""

    def __init__(
        self,
        model: str | None = None,
        adapter: str | Path | None = AUTO,
        *,
        zero_shot: bool = False,
        mode: DecodeMode = DEFAULT_MODE,
        prompt_format: PromptFormat | None = None,
        decode: DecodeConfig | None = None,
        root: str | Path | None = None,
        threads: int | None = None,
        loaded: tuple[Any, Any] | None = None,
        device: str = "cpu",
    ) -> None:
        """`threads`: torch threads (default: params.yaml evaluate.threads, else torch's own);
        `loaded`: an already loaded (model, tokenizer) to use instead of loading `model`;
        `device`: auto | cpu | cuda (maaza.device.resolve_device)."""
        from maaza.device import resolve_device, to_device

        device = resolve_device(device)  # before any loading: a missing GPU is a quick error
        self.source = choose_source(model, adapter, zero_shot=zero_shot, prompt_format=prompt_format,
                                    root=root)  # fmt: skip
        params = read_params(project_root(root))
        self.mode = mode
        self.cfg = decode or (params.evaluate.decode if params else DecodeConfig())
        threads = threads or (params.evaluate.threads if params else None)
        self.dtype = source_dtype(self.source, params)
        if threads:
            import torch

            # On a shared CPU, torch's OpenMP workers wait on each other: 1 thread can be 10x faster.
            torch.set_num_threads(threads)
        start = time.perf_counter()
        model, self.tokenizer = loaded or self._load()
        self.model = to_device(model, device)
        self.load_s = time.perf_counter() - start
        self._grammars: Any = None  # maaza.decode.GrammarCache, built on first constrained call
        self._checked: set[str] = set()  # schemas (sorted JSON) that passed check_schema

    def __repr__(self) -> str:
        return f"Extractor({self.source.describe()}, mode={self.mode})"

    def _load(self) -> tuple[Any, Any]:
        from maaza.evaluate import load_model
        from maaza.models import ModelError

        try:
            with warnings.catch_warnings():
                # peft asks transformers 5 a deprecated question while loading an adapter; the
                # user can do nothing about it, so it stays off their terminal.
                warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
                return load_model(self.source.model, self.source.adapter, self.dtype)
        except ModelError:
            raise  # already one clear line about the base model
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            if self.source.adapter is None:
                raise
            # peft's own errors for a damaged adapter folder or a base model of another shape
            detail = f"missing key {err} in its config" if isinstance(err, KeyError) else err
            raise ExtractError(f"{self.source.adapter}: cannot apply this adapter to "
                               f"{self.source.model}: {detail}") from None  # fmt: skip

    def _grammar_cache(self) -> Any:
        from maaza.decode import GrammarCache, vocab_size

        if self._grammars is None:
            self._grammars = GrammarCache(self.tokenizer, vocab_size(self.model), self.cfg)
        return self._grammars

    def extract_batch(
        self,
        texts: Sequence[str],
        schemas: dict[str, Any] | Sequence[dict[str, Any]],
        *,
        progress: bool = False,
    ) -> list[Extraction]:
        """One Extraction per text, in order; schemas: one for all, or one per text."""
        from maaza.decode import generate

        row_schemas = [schemas] * len(texts) if isinstance(schemas, dict) else list(schemas)
        if len(row_schemas) != len(texts):
            raise ExtractError(f"{len(row_schemas)} schemas for {len(texts)} texts")
        for s in {json.dumps(s, sort_keys=True): s for s in row_schemas}.values():
            self.check_schema(s)
        texts = [check_text(t, f"text {i}") for i, t in enumerate(texts)]
        prompts = self.check_lengths(texts, row_schemas)
        gens = generate(
            self.model,
            self.tokenizer,
            prompts,
            self.cfg,
            mode=self.mode,
            schemas=row_schemas,
            grammars=self._grammar_cache() if self.mode == "constrained" else None,
            progress=progress,
            sources=texts,  # copy_spans: free-text values are spans of the text
        )
        out = []
        for gen, schema in zip(gens, row_schemas, strict=True):
            value, valid, errors = judge(gen.text, schema, self.cfg.format_policy)
            if gen.truncated and not valid:
                why = (
                    "the model repeated itself (repetition guard); more tokens would not help"
                    if gen.stop == "repetition"
                    else "raise max_new_tokens (--max-new-tokens)"
                )
                errors = [f"output cut at {gen.n_tokens} tokens ({gen.stop}); {why}", *errors]
            out.append(
                Extraction(
                    value, valid, errors, gen.text, round(gen.latency_s, 4), gen.n_tokens, gen.stop
                )
            )
        return out

    def check_schema(self, schema: Any) -> None:
        """check_schema, once per schema (checking compiles a grammar): SchemaError if unusable."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._checked:
            check_schema(schema, "schema", self.cfg)
            self._checked.add(key)

    def check_lengths(
        self, texts: Sequence[str], schemas: Sequence[dict[str, Any]],
        names: Sequence[str] | None = None,
    ) -> list[str]:  # fmt: skip
        """The prompts, once each prompt plus max_new_tokens is known to fit the model's context
        (ExtractError naming the text and the lengths otherwise)."""
        from maaza.models import model_context
        from maaza.prompts import build_prompt

        fmt, budget = self.source.prompt_format, self.cfg.max_new_tokens
        prompts = [build_prompt(t, s, fmt) for t, s in zip(texts, schemas, strict=True)]
        context = model_context(self.model, self.tokenizer)
        for i, prompt in enumerate(prompts if context else []):
            n = len(self.tokenizer(prompt)["input_ids"])
            if n + budget > context:
                name = names[i] if names else f"text {i}"
                raise ExtractError(
                    f"{name}: prompt of {n} tokens + max_new_tokens {budget} = {n + budget} "
                    f"tokens, over the model's context of {context} tokens; shorten the text "
                    "(or the schema), or lower --max-new-tokens"
                )
        return prompts

    def extract(self, text: str, schema: dict[str, Any]) -> dict[str, Any]:
        """The JSON object for `text`; ExtractError if the answer does not validate."""
        result = self.extract_batch([text], schema)[0]
        if not result.valid:
            raise ExtractError("answer does not match the schema: " + "; ".join(result.errors[:5]))
        return result.value


# ----------------------------------------------------------------------------- batch files
ROW_KEYS = ("line", "id", "value", "valid", "errors", "raw", "latency_s", "n_tokens", "stop",
            "job", "text_sha")  # fmt: skip


def _sha(data: bytes | str) -> str:
    import hashlib

    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()[:16]


def _adapter_sha(adapter: Path | None) -> str | None:
    if adapter is None:
        return None
    # a LoRA adapter's adapter_* files, or a full fine-tuning's delta and its config
    files = sorted(
        p
        for p in Path(adapter).glob("*")
        if p.is_file() and p.name.startswith(("adapter_", "full_"))
    )
    return _sha(b"".join(p.name.encode() + p.read_bytes() for p in files))


def job_key(
    source: Source, mode: str, cfg: DecodeConfig, schema: dict[str, Any], dtype: str = "float32"
) -> dict[str, Any]:
    """What produces a batch line besides its text: schema, base model, adapter (its files'
    hash), prompt format, decoding mode and settings (batch size and threads excluded: they
    change speed, not the request), weights dtype. Stored in every output line."""
    decode = cfg.model_dump(exclude={"batch_size"})
    return {
        "schema": _sha(json.dumps(schema, sort_keys=True)),
        "model": source.model,
        "adapter": _adapter_sha(source.adapter),
        "prompt_format": source.prompt_format,
        "mode": mode,
        "decode": _sha(json.dumps(decode, sort_keys=True)),
        "dtype": dtype,
    }


def completed_lines(
    output: Path, lines: list[InputLine], job: dict[str, Any] | None = None
) -> set[int]:
    """Input line numbers already answered in `output` by this very job (same text, schema,
    model, adapter, decoding settings: job_key); a torn last line is cut off the file.

    A file that is not extract output, or holds answers of another job or of other texts, is
    refused untouched (ExtractError with the reason). A run killed mid-write leaves at most one
    partial line (each line is flushed whole), so after every whole line checks out, cutting
    after the last newline keeps every finished result and nothing half-written.
    """
    output = Path(output)
    if output.is_dir():
        raise ExtractError(f"{output}: is a folder; --output must be a file")
    if not output.exists():
        return set()
    data = output.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    tail = data[len(keep) :]
    foreign = (f"{output}: not written by maaza extract (line {{n}}); refusing to touch it: use "
               "another --output")  # fmt: skip
    by_line = {x.line: x for x in lines}
    done = set()
    for n, raw in enumerate(keep.splitlines(), start=1):
        row = _read_row(raw)
        if row is None or not {"line", "id", "value", "valid"} <= set(row):
            raise ExtractError(foreign.format(n=n))
        if "job" not in row:
            raise ExtractError(f"{output}:{n}: written by an older maaza extract (no job "
                               "fingerprint): use another --output or delete this file")  # fmt: skip
        item = by_line.get(row["line"])
        if item is None or str(row.get("id")) != item.id:
            raise ExtractError(
                f"{output}:{n}: not a result of this input (line/id do not match); "
                "use another --output or delete this file"
            )
        if job is not None and row["job"] != job:
            old = row["job"] if isinstance(row["job"], dict) else {}
            changed = [k for k in job if old.get(k) != job[k]] or ["job"]
            raise ExtractError(
                f"{output}:{n}: answered by another job ({', '.join(changed)} changed since); "
                "its answers cannot be reused: use another --output or delete this file"
            )
        if row.get("text_sha") != _sha(item.text):
            raise ExtractError(
                f"{output}:{n}: the text of input line {item.line} changed since it was answered; "
                "use another --output or delete this file"
            )
        done.add(row["line"])
    if tail and not tail.startswith(b'{"line": '):
        raise ExtractError(foreign.format(n=len(keep.splitlines()) + 1))
    if tail:
        with output.open("r+b") as f:
            f.truncate(len(keep))
    return done


def _read_row(raw: bytes) -> dict[str, Any] | None:
    try:
        row = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return row if isinstance(row, dict) else None


def _chunks(items: list[InputLine], size: int) -> Iterator[list[InputLine]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def extract_file(
    extractor: Extractor,
    schema: dict[str, Any],
    lines: list[InputLine],
    output: str | Path,
    *,
    progress: bool = True,
) -> dict[str, int]:
    """Answer every input line not yet in `output`, appending one flushed JSON line per answer.

    Each output line: {"line", "id", "value", "valid", "errors", "raw", "latency_s", "n_tokens",
    "stop"}. Rerunning after an interruption continues where it stopped.
    """
    from tqdm.auto import tqdm

    output = Path(output)
    job = job_key(extractor.source, extractor.mode, extractor.cfg, schema, extractor.dtype)
    done = completed_lines(output, lines, job)
    todo = [x for x in lines if x.line not in done]
    extractor.check_lengths([x.text for x in todo], [schema] * len(todo),
                            [f"input line {x.line} (id {x.id})" for x in todo])  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    counts = {"total": len(lines), "skipped": len(done), "done": 0, "invalid": 0}
    bar = tqdm(
        total=len(lines), initial=len(done), desc="extract", unit="text", disable=not progress
    )
    with output.open("a", encoding="utf-8") as f:
        for chunk in _chunks(todo, extractor.cfg.batch_size):
            results = extractor.extract_batch([x.text for x in chunk], schema)
            for item, res in zip(chunk, results, strict=True):
                row = {"line": item.line, "id": item.id, **res.row(), "job": job,
                       "text_sha": _sha(item.text)}  # fmt: skip
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()  # a kill now loses at most the line being written
                counts["done"] += 1
                counts["invalid"] += not res.valid
            bar.update(len(chunk))
    bar.close()
    return counts
