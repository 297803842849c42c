"""Batched greedy decoding of JSON answers, free or JSON-Schema-constrained (xgrammar).

    grammars = GrammarCache(tokenizer, vocab_size(model), cfg)     # compiled once per schema
    gens = generate(model, tokenizer, prompts, cfg, schemas=schemas, mode="constrained",
                    grammars=grammars, budgets=[160, ...])

Prompts are sorted by length and decoded `cfg.batch_size` at a time with left padding and the KV
cache (`model.generate`). A row stops as soon as its top-level JSON value closes, at EOS, at its
token budget, or (free mode) when its last tokens repeat a short period; the last two are
truncations and are counted. In constrained mode every row carries its own compiled grammar, so
rows with different schemas share a batch; a looping row is not stopped but steered out of its
loop (towards closing the string or container it loops in), and a row that nears its budget is
steered to close its value (keeping room for the smallest valid answer), so it ends as valid JSON.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import xgrammar as xgr
from tqdm.auto import tqdm
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from maaza.config import DecodeConfig, DecodeMode, FormatPolicy
from maaza.copyspan import SpanRow
from maaza.prompts import JSON_SEPARATORS, render_target

StopReason = Literal["json", "eos", "budget", "repetition"]
# A tail is a loop when a period of p tokens occurs 3 times in a row (2 times when p >= 16: two
# identical copies of a long chunk, e.g. a whole nested department, are already a loop).
MIN_PERIOD_REPEATS = 3
LONG_PERIOD = 16
MAX_PERIOD = 160  # longest loop looked for, in tokens (a repeated item of a complex schema)


@dataclass(frozen=True)
class Generation:
    text: str  # the continuation, special tokens removed
    n_tokens: int  # generated tokens, the stop token included
    latency_s: float  # batch start -> this row finished (what a caller of this batch waits)
    stop: StopReason
    loop_breaks: int = 0  # constrained mode: steps steered off a loop (or to close at the budget)
    budget_closed: bool = False  # constrained mode: forced to close as its token budget ran out

    @property
    def truncated(self) -> bool:
        return self.stop in ("budget", "repetition")

    @property
    def tokens_per_s(self) -> float:
        return self.n_tokens / self.latency_s if self.latency_s > 0 else 0.0


# ----------------------------------------------------------------------------- pure helpers
class JsonCloser:
    """Watches text arrive and says when the first top-level JSON value has closed.

    Characters before the first '{' or '[' (prose, a markdown fence) are ignored.
    """

    def __init__(self) -> None:
        self.depth, self.in_string, self.escaped, self.closed = 0, False, False, False

    def feed(self, text: str) -> bool:
        for ch in text:
            if self.closed:
                break
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == "\\":
                    self.escaped = True
                elif ch == '"':
                    self.in_string = False
            elif ch == '"' and self.depth > 0:
                self.in_string = True
            elif ch in "{[":
                self.depth += 1
            elif ch in "}]" and self.depth > 0:
                self.depth -= 1
                self.closed = self.depth == 0
        return self.closed


def repeating_period(tokens: list[int], min_span: int) -> int | None:
    """Smallest p <= MAX_PERIOD such that the last max(min_span, k*p) tokens repeat with period p
    (k = MIN_PERIOD_REPEATS, or 2 for p >= LONG_PERIOD); None if there is none.

    Legitimate JSON rarely repeats itself exactly: array items differ in their values.
    """
    n = len(tokens)
    for p in range(1, MAX_PERIOD + 1):
        span = max(min_span, (MIN_PERIOD_REPEATS if p < LONG_PERIOD else 2) * p)
        if span > n:
            continue  # a longer period may still fit with fewer repeats
        if all(tokens[n - 1 - j] == tokens[n - 1 - j - p] for j in range(span - p)):
            return p
    return None


_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_ONE = ("additionalProperties", "items", "contains", "not", "if", "then", "else")


def grammar_schema(
    schema: dict[str, Any],
    format_policy: FormatPolicy,
    max_items: int | None,
    max_string_length: int | None,
) -> dict[str, Any]:
    """The schema handed to the grammar engine (input unchanged).

    With format_policy="annotation" (the policy of the metrics and data checks too), `format`
    keywords are dropped: xgrammar would otherwise force e.g. RFC 3339 date-times with a time-zone
    offset that jsonschema (and the reference data) do not require. Arrays/strings without their
    own bound get max_items/max_string_length, so a looping array or string must end.
    """

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = dict(node)
        if format_policy == "annotation":
            out.pop("format", None)
        for key in _SUBSCHEMA_MAPS:
            if isinstance(out.get(key), dict):
                out[key] = {name: walk(sub) for name, sub in out[key].items()}
        for key in _SUBSCHEMA_LISTS:
            if isinstance(out.get(key), list):
                out[key] = [walk(sub) for sub in out[key]]
        for key in _SUBSCHEMA_ONE:
            if key in out:
                out[key] = (
                    [walk(s) for s in out[key]] if isinstance(out[key], list) else walk(out[key])
                )
        types = out.get("type") if isinstance(out.get("type"), list) else [out.get("type")]
        if "array" in types and max_items is not None and "maxItems" not in out:
            out["maxItems"] = max_items
        free_string = not ({"enum", "const", "pattern", "format"} & out.keys())
        if "string" in types and free_string and max_string_length is not None:
            out.setdefault("maxLength", max_string_length)
        return out

    return walk(copy.deepcopy(schema))


def vocab_size(model: Any) -> int:
    """Rows of the output layer (may exceed len(tokenizer): padded embeddings)."""
    return int(model.get_output_embeddings().weight.shape[0])


def _batches(order: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(order), size):
        yield order[start : start + size]


# ----------------------------------------------------------------------------- grammar cache
class GrammarCache:
    """Compiled xgrammar grammars, one per distinct schema (compiling takes milliseconds, not zero)."""

    def __init__(self, tokenizer: Any, vocab: int, cfg: DecodeConfig) -> None:
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab)
        self.compiler = xgr.GrammarCompiler(info, max_threads=1)
        self.tokenizer, self.vocab, self.cfg = tokenizer, vocab, cfg
        self._cache: dict[str, xgr.CompiledGrammar] = {}
        self._reserves: dict[str, int] = {}

    @functools.cached_property
    def token_table(self) -> TokenTable:
        """Per-token facts for steering a looping row (built on the first loop only)."""
        n = min(len(self.tokenizer), self.vocab)
        texts = self.tokenizer.batch_decode([[i] for i in range(n)]) + [""] * (self.vocab - n)
        return TokenTable.from_texts(texts)

    def reserve(self, schema: dict[str, Any]) -> int:
        """Tokens to keep at the end of a row's budget to close its value: the smallest answer."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._reserves:
            smallest = render_target(minimal_instance(schema))
            self._reserves[key] = len(self.tokenizer(smallest)["input_ids"]) + CLOSING_SLACK
        return self._reserves[key]

    def get(self, schema: dict[str, Any]) -> xgr.CompiledGrammar:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._cache:
            prepared = grammar_schema(
                schema, self.cfg.format_policy, self.cfg.max_items, self.cfg.max_string_length
            )
            # No free whitespace and the training separators: the grammar admits exactly the
            # byte layout of render_target(), so a fine-tuned model is never pushed off its habit.
            self._cache[key] = self.compiler.compile_json_schema(
                json.dumps(prepared),
                any_whitespace=False,
                separators=JSON_SEPARATORS,
                strict_mode=True,
            )
        return self._cache[key]


# ----------------------------------------------------------------------------- loop steering
def minimal_instance(schema: dict[str, Any]) -> Any:
    """A smallest-looking valid value of schema (required fields only): sizes the closing reserve."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return min(schema["enum"], key=lambda v: len(json.dumps(v)))
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return minimal_instance(schema[key][0])
    kind = schema.get("type", "object")
    kind = "null" if isinstance(kind, list) and "null" in kind else kind
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal_instance(props.get(k, {})) for k in schema.get("required", [])}
    if kind == "array":
        return [minimal_instance(schema.get("items", {}))] * schema.get("minItems", 0)
    if kind == "string":  # a format or pattern: a typical length rather than a valid value
        sized = "format" in schema or "pattern" in schema
        return "2000-01-01T00:00:00Z" if sized else "x" * schema.get("minLength", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
    return {"boolean": False, "null": None}.get(kind)


CLOSING_SLACK = 16  # tokens: the open string/number and brackets of wherever the row is


@dataclass(frozen=True)
class TokenTable:
    """Vocabulary facts (vocab,): first visible character class and bracket balance of each token."""

    quote: torch.Tensor  # starts with '"'
    close: torch.Tensor  # starts with ']' or '}'
    comma: torch.Tensor  # starts with ','
    delta: torch.Tensor  # opening minus closing brackets in the token (int)
    has_comma: torch.Tensor  # contains ',' anywhere ('"},' closes an item, then opens the next)

    @classmethod
    def from_texts(cls, texts: list[str]) -> TokenTable:
        firsts = [t.lstrip()[:1] for t in texts]

        def starts(chars: str) -> torch.Tensor:
            return torch.tensor([bool(c) and c in chars for c in firsts], dtype=torch.bool)

        delta = [sum(t.count(c) for c in "[{") - sum(t.count(c) for c in "]}") for t in texts]
        has_comma = torch.tensor(["," in t for t in texts], dtype=torch.bool)
        return cls(
            starts('"'),
            starts("]}"),
            starts(","),
            torch.tensor(delta, dtype=torch.int32),
            has_comma,
        )


@dataclass(frozen=True)
class _Loop:
    """A repetition found in a constrained row, and how to leave it.

    string:    the period stays inside one string ("abcabcabc") -> close the string.
    value:     outside strings at one depth (digits of a number) -> a ',' or a closing bracket.
    container: the period spans items ('"x", "x", "x"' or '{...}, {...}') -> close the container
               the loop runs in: strings closed first, then the tokens that close the most brackets.
    """

    kind: Literal["string", "value", "container"]
    depth: int  # the shallowest depth inside the period: the container to leave

    @classmethod
    def of(cls, states: list[tuple[bool, int]], texts: list[str]) -> _Loop:
        """Classify a period from the JSON state after each of its tokens and their texts."""
        depth = min(d for _, d in states)
        if all(in_string for in_string, _ in states):
            return cls("string", depth)
        flat = all(not in_string and d == depth for in_string, d in states)
        if flat and not any("," in t for t in texts):
            return cls("value", depth)
        return cls("container", depth)  # e.g. "1, 1, 1": a flat loop of array items

    def left(self, closer: JsonCloser) -> bool:
        if self.kind == "container":
            return closer.depth < self.depth
        return self.kind == "value" or not closer.in_string  # a value loop is steered once

    def steer(
        self, allowed: torch.Tensor, closer: JsonCloser, table: TokenTable
    ) -> torch.Tensor | None:
        """Tokens to keep (a subset of allowed), or None if no token ending the loop is allowed."""
        if closer.in_string:
            keep = allowed & table.quote
        elif self.kind == "value":
            keep = allowed & table.comma
            keep = keep if keep.any() else allowed & table.close
        else:
            keep = allowed & (table.close | table.comma)
        if not keep.any():
            return None
        if self.kind == "container":  # prefer the tokens that close the most brackets
            keep = keep & (table.delta == table.delta[keep].min())
            # ... and of those, one that stops there: '"},' closes an item but, inside an array,
            # commits to another one (seen: a row closing at its budget looped on array items).
            if (keep & ~table.has_comma).any():
                keep = keep & ~table.has_comma
        return keep


# ----------------------------------------------------------------------------- per-batch state
@dataclass
class _Rows:
    """What the stopping criterion and the grammar processor both need to know about a batch."""

    prompt_len: int
    budgets: list[int]
    token_text: Callable[[int], str]
    stop_ids: set[int]
    repeat_span: int
    mode: DecodeMode
    start: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        n = len(self.budgets)
        self.closers = [JsonCloser() for _ in range(n)]
        self.n_tokens: list[int | None] = [None] * n  # set when a row stops
        self.stop: list[StopReason | None] = [None] * n
        self.latency: list[float] = [0.0] * n
        self.loop_breaks = [0] * n
        self.states: list[list[tuple[bool, int]]] = [[] for _ in range(n)]  # (in_string, depth)
        self.loops: list[_Loop | None] = [None] * n  # the loop a row is being steered out of
        self.closing = [False] * n  # constrained: near the budget, steered to close the value
        self.reserves = [0] * n  # constrained: tokens kept at the end of the budget to close

    def finish(self, i: int, n: int, reason: StopReason) -> None:
        self.n_tokens[i], self.stop[i] = n, reason
        self.latency[i] = time.perf_counter() - self.start


class _StopRows(StoppingCriteria):
    """Per-row stop: JSON closed, EOS, token budget, or (free mode) a repetition loop."""

    def __init__(self, rows: _Rows) -> None:
        self.rows = rows

    def __call__(
        self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any
    ) -> torch.BoolTensor:
        rows, n = self.rows, input_ids.shape[1] - self.rows.prompt_len
        for i in range(input_ids.shape[0]):
            if rows.stop[i] is not None:
                continue
            token, closer = int(input_ids[i, -1]), rows.closers[i]
            closed = token not in rows.stop_ids and closer.feed(rows.token_text(token))
            rows.states[i].append((closer.in_string, closer.depth))
            if token in rows.stop_ids:
                rows.finish(i, n, "eos")
            elif closed:
                rows.finish(i, n, "json")
            elif n >= rows.budgets[i]:
                rows.finish(i, n, "budget")
            elif rows.mode == "free" and repeating_period(
                input_ids[i, rows.prompt_len :].tolist(), rows.repeat_span
            ):
                rows.finish(i, n, "repetition")
        done = [s is not None for s in rows.stop]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _GrammarRows(LogitsProcessor):
    """xgrammar masking, one matcher per row, aware of rows that stopped early.

    xgr.contrib.hf.LogitsProcessor asserts that every row's last token is grammatical, which fails
    for the pad tokens generate() appends to rows our criterion stopped; this one skips them.
    """

    def __init__(
        self,
        rows: _Rows,
        cache: GrammarCache,
        schemas: list[dict[str, Any]],
        sources: list[str] | None = None,
    ) -> None:
        self.rows = rows
        # copy_spans: per row, the input text its free-text values must be spans of
        self.spans = (
            [SpanRow(s, t) for s, t in zip(schemas, sources, strict=True)] if sources else None
        )
        self.cache = cache  # its token_table is built on the first loop only
        self.matchers = [xgr.GrammarMatcher(cache.get(s)) for s in schemas]
        self.bitmask = xgr.allocate_token_bitmask(len(schemas), cache.vocab)
        rows.reserves = [cache.reserve(s) for s in schemas]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        rows, n = self.rows, input_ids.shape[1] - self.rows.prompt_len
        active = []
        for i, matcher in enumerate(self.matchers):
            stopped_at = rows.n_tokens[i]
            if n > 0 and (stopped_at is None or stopped_at >= n) and not matcher.is_terminated():
                token = int(input_ids[i, -1])
                if not matcher.accept_token(token):
                    raise RuntimeError(
                        f"row {i}: token {token} rejected by its grammar at step {n}"
                    )
                if self.spans:
                    self.spans[i].feed(rows.token_text(token))
            if stopped_at is None and not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self.bitmask, i)
                active.append(i)
        if active:
            idx = torch.tensor(active, device=scores.device)
            # masks and loop breaking run on the CPU (a no-op there; one small copy on a GPU)
            sub = scores[idx].float().cpu()
            xgr.apply_token_bitmask_inplace(sub, self.bitmask[idx.cpu()])
            for j, i in enumerate(active):
                if self.spans and self.spans[i].copying:
                    self._keep_span(sub[j], self.spans[i])
                self._break_loop(sub[j], input_ids[i, rows.prompt_len :].tolist(), i)
            scores[idx] = sub.to(scores.device, scores.dtype)
        return scores

    def _keep_span(self, row_scores: torch.Tensor, span: SpanRow, first: int = 32) -> None:
        """Greedy under the grammar and the span together: the best-scoring token the grammar
        allows that keeps the open value a span of the input; the others are masked. The top
        `first` tokens are tried before the rest (the model usually copies already). If no token
        does (the grammar's own limits), the grammar alone decides."""
        n_ok = int(torch.isfinite(row_scores).sum())
        for k in (min(first, n_ok), n_ok):
            for token in torch.topk(row_scores, k).indices.tolist():
                if span.allows(self.rows.token_text(token)):
                    best = row_scores[token].clone()
                    row_scores.fill_(float("-inf"))
                    row_scores[token] = best
                    return

    def _break_loop(self, row_scores: torch.Tensor, tokens: list[int], i: int) -> None:
        """Steer a looping row out of its loop, within the grammar (see _Loop).

        A row within its reserve (GrammarCache.reserve) of its budget is steered to close the whole value
        (a container loop at depth 1): a runaway that loops without repeating exactly (counting
        "item 7", "item 8", ...) still ends as valid JSON instead of being cut off.
        """
        rows, closer = self.rows, self.rows.closers[i]
        if len(tokens) >= rows.budgets[i] - rows.reserves[i]:
            rows.closing[i] = True
        loop = rows.loops[i]
        if loop is not None and loop.left(closer):
            loop = None
        if loop is None and rows.closing[i] and closer.depth >= 1:
            loop = _Loop("container", 1)
        if loop is None:
            period = repeating_period(tokens, rows.repeat_span)
            if period is not None:
                texts = [rows.token_text(t) for t in tokens[-period:]]
                loop = _Loop.of(rows.states[i][-period:], texts)
        rows.loops[i] = loop
        if loop is None:
            return
        keep = loop.steer(torch.isfinite(row_scores), closer, self.cache.token_table)
        if keep is None:  # nothing that ends the value is allowed yet: ban the loop's tokens
            keep = torch.isfinite(row_scores)
            keep[sorted(set(tokens[-rows.repeat_span :]))] = False
        if keep.any():
            row_scores[~keep] = float("-inf")
            rows.loop_breaks[i] += 1


# ----------------------------------------------------------------------------- generation
def _token_text(tokenizer: Any) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def text(token: int) -> str:
        if token not in cache:
            cache[token] = tokenizer.decode([token])
        return cache[token]

    return text


def _stop_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


@torch.inference_mode()
def _generate_batch(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    budgets: list[int],
    cfg: DecodeConfig,
    mode: DecodeMode,
    constrained: tuple[GrammarCache, list[dict[str, Any]]] | None,  # grammars + a schema per row
    token_text: Callable[[int], str],
    sources: list[str] | None = None,  # copy_spans: each row's input text
) -> list[Generation]:
    tokenizer.padding_side = "left"  # generation appends on the right: pads must be on the left
    # The tokenizer's own special tokens (Gemma's <bos>), exactly as training tokenizes prompts.
    enc = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    rows = _Rows(
        prompt_len=enc["input_ids"].shape[1],
        budgets=budgets,
        token_text=token_text,
        stop_ids=_stop_ids(model, tokenizer),
        repeat_span=cfg.repeat_span,
        mode=mode,
    )
    processors = LogitsProcessorList(
        [_GrammarRows(rows, *constrained, sources=sources)] if constrained else []
    )
    out = model.generate(
        **enc,
        max_new_tokens=max(budgets),
        do_sample=False,
        num_beams=1,
        temperature=None,
        top_p=None,
        top_k=None,
        use_cache=True,
        pad_token_id=tokenizer.pad_token_id,
        logits_processor=processors,
        stopping_criteria=StoppingCriteriaList([_StopRows(rows)]),
    )
    gens = []
    for i in range(len(prompts)):
        if rows.stop[i] is None:  # generate() ended without our criterion firing: the budget
            rows.finish(i, out.shape[1] - rows.prompt_len, "budget")
        n = rows.n_tokens[i]
        ids = out[i, rows.prompt_len : rows.prompt_len + n]
        text = tokenizer.decode(ids, skip_special_tokens=True)
        gens.append(
            Generation(text, n, rows.latency[i], rows.stop[i], rows.loop_breaks[i], rows.closing[i])
        )
    return gens


def generate(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    cfg: DecodeConfig,
    *,
    mode: DecodeMode = "free",
    schemas: list[dict[str, Any]] | None = None,
    grammars: GrammarCache | None = None,
    budgets: list[int] | None = None,
    progress: bool = True,
    sources: list[str] | None = None,
) -> list[Generation]:
    """Greedy continuations of `prompts`, in input order.

    budgets[i] caps row i's new tokens (default cfg.max_new_tokens). Constrained mode needs one
    schema per prompt; pass a shared GrammarCache to reuse compiled grammars across calls.
    With cfg.copy_spans (constrained mode), `sources[i]` is row i's input text: its free-text
    string values must be spans of it (maaza.copyspan).
    """
    if (
        mode == "constrained"
        and cfg.copy_spans
        and (sources is None or len(sources) != len(prompts))
    ):
        raise ValueError("copy_spans needs one input text per prompt (sources)")
    if mode == "constrained":
        if schemas is None or len(schemas) != len(prompts):
            raise ValueError("constrained decoding needs one schema per prompt")
        grammars = grammars or GrammarCache(tokenizer, vocab_size(model), cfg)
    budgets = budgets or [cfg.max_new_tokens] * len(prompts)
    if len(budgets) != len(prompts):
        raise ValueError(f"{len(budgets)} budgets for {len(prompts)} prompts")
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    order = sorted(range(len(prompts)), key=lambda i: lengths[i])  # similar lengths: little padding
    token_text = _token_text(tokenizer)
    results: dict[int, Generation] = {}
    bar = tqdm(total=len(prompts), desc=f"decode ({mode})", unit="ex", disable=not progress)
    for batch in _batches(order, cfg.batch_size):
        constrained = (grammars, [schemas[i] for i in batch]) if mode == "constrained" else None
        outs = _generate_batch(
            model,
            tokenizer,
            [prompts[i] for i in batch],
            [min(budgets[i], cfg.max_new_tokens) for i in batch],
            cfg,
            mode,
            constrained,
            token_text,
            [sources[i] for i in batch] if constrained and cfg.copy_spans and sources else None,
        )
        results.update(zip(batch, outs, strict=True))
        bar.update(len(batch))
    bar.close()
    return [results[i] for i in range(len(prompts))]
