"""Batched greedy decoding of JSON answers, free or JSON-Schema-constrained (xgrammar).

    grammars = GrammarCache(tokenizer, vocab_size(model), cfg)     # compiled once per schema
    gens = generate(model, tokenizer, prompts, cfg, schemas=schemas, mode="constrained",
                    grammars=grammars, budgets=[160, ...])

Prompts are sorted by token budget, then length, and decoded up to `cfg.batch_size` at a time
with left padding and a KV cache, by a small greedy loop that computes what `model.generate`
computes for a row (same positions, mask and logits) but batches continuously: a row leaves the
batch and its cache as soon as it stops, and the next prompts are prefilled and merged in, so the
batch stays full (a step re-reads every weight, however few rows it carries; batches that ran
until their longest answers ended carried 5.5 rows per step of 8 on the validation split, 7.2
continuously: benchmarks/decode_steps.py). The KV cache is written into room reserved ahead,
not concatenated at every step. A row stops as soon
as its top-level JSON value closes, at EOS, at its token budget, or (free mode) when its last
tokens repeat a short period; the last two are truncations and are counted. In constrained mode
every row carries its own compiled grammar, so rows with different schemas share a batch; a
looping row is not stopped but steered out of its loop (towards closing the string or container
it loops in), and a row that nears its budget is steered to close its value (keeping room for the
smallest valid answer), so it ends as valid JSON.
"""

from __future__ import annotations

import copy
import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import xgrammar as xgr
from tqdm.auto import tqdm
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer, DynamicSlidingWindowLayer

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
    latency_s: float  # its prefill started -> it finished (its own wait, queueing excluded)
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
    """Rows of the output layer (may exceed len(tokenizer): padded embeddings); `out_features`,
    not the weight's shape: a packed lm_head (maaza.models.pack_linears) hides its weight."""
    return int(model.get_output_embeddings().out_features)


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


# ----------------------------------------------------------------------------- per-row state
class RepeatTracker:
    """repeating_period(tokens, min_span) of a growing row, updated per token in a few vector
    operations instead of a Python scan of every period over the whole row at every step.

    run[p-1] counts how many of the latest positions i, in a row, have tokens[i] == tokens[i-p];
    period p loops when run covers its span (less the first copy) and the row is that long.
    """

    _periods = np.arange(1, MAX_PERIOD + 1)

    def __init__(self, min_span: int) -> None:
        repeats = np.where(self._periods < LONG_PERIOD, MIN_PERIOD_REPEATS, 2)
        self.span = np.maximum(min_span, repeats * self._periods)  # tokens a loop must cover
        self.run = np.zeros(MAX_PERIOD, dtype=np.int64)
        self.back = np.full(MAX_PERIOD, -1, dtype=np.int64)  # back[p-1]: the token p steps back
        self.n = 0

    def push(self, token: int) -> int | None:
        """Append token; the smallest looping period now, or None (as repeating_period)."""
        self.run = np.where(self.back == token, self.run + 1, 0)
        self.back = np.roll(self.back, 1)
        self.back[0] = token
        self.n += 1
        looping = (self.run >= self.span - self._periods) & (self.span <= self.n)
        hits = np.flatnonzero(looping)
        return int(hits[0]) + 1 if hits.size else None


@dataclass
class _Row:
    """One example being decoded: its tokens so far and what decides how it goes on and stops."""

    budget: int
    repeats: RepeatTracker
    start: float  # when it joined the batch, before its prefill (latency counts from there)
    tokens: list[int] = field(default_factory=list)
    closer: JsonCloser = field(default_factory=JsonCloser)
    states: list[tuple[bool, int]] = field(default_factory=list)  # (in_string, depth) per token
    period: int | None = None  # the loop its tail is in now, if any
    stop: StopReason | None = None
    latency: float = 0.0
    # constrained mode only
    matcher: xgr.GrammarMatcher | None = None
    span: SpanRow | None = None  # copy_spans
    reserve: int = 0  # tokens kept at the end of the budget to close the value
    loop: _Loop | None = None  # the loop it is being steered out of
    closing: bool = False  # near the budget: steered to close the value
    loop_breaks: int = 0

    def push(self, token: int, text: str, stop_ids: set[int], mode: DecodeMode) -> None:
        """Append the chosen token; set `stop` if the row ends with it."""
        closed = token not in stop_ids and self.closer.feed(text)
        self.tokens.append(token)
        self.states.append((self.closer.in_string, self.closer.depth))
        self.period = self.repeats.push(token)
        n = len(self.tokens)
        if token in stop_ids:
            self.stop = "eos"
        elif closed:
            self.stop = "json"
        elif n >= self.budget:
            self.stop = "budget"
        elif mode == "free" and self.period:
            self.stop = "repetition"
        if self.stop is not None:
            self.latency = time.perf_counter() - self.start
        elif self.matcher is not None:
            if not self.matcher.is_terminated() and not self.matcher.accept_token(token):
                raise RuntimeError(f"token {token} rejected by its grammar at step {n}")
            if self.span is not None:
                self.span.feed(text)

    def generation(self, tokenizer: Any) -> Generation:
        text = tokenizer.decode(self.tokens, skip_special_tokens=True)
        stop = self.stop or "budget"
        return Generation(
            text, len(self.tokens), self.latency, stop, self.loop_breaks, self.closing
        )


# ----------------------------------------------------------------------------- grammar steps
class _Grammar:
    """xgrammar masking of a batch's live rows, plus copy_spans and loop steering."""

    def __init__(self, cache: GrammarCache, batch_size: int, token_text: Callable[[int], str]):
        self.cache, self.token_text = cache, token_text
        self.bitmask = xgr.allocate_token_bitmask(batch_size, cache.vocab)

    def attach(self, row: _Row, schema: dict[str, Any], source: str | None) -> None:
        row.matcher = xgr.GrammarMatcher(self.cache.get(schema))
        row.reserve = self.cache.reserve(schema)
        row.span = SpanRow(schema, source) if source is not None else None

    def mask(self, scores: torch.Tensor, live: list[_Row], repeat_span: int) -> None:
        """In place on scores (live rows, vocab), float32 on the CPU."""
        active = [j for j, row in enumerate(live) if not row.matcher.is_terminated()]
        for j in active:
            live[j].matcher.fill_next_token_bitmask(self.bitmask, j)
        if not active:
            return
        xgr.apply_token_bitmask_inplace(scores, self.bitmask[: len(live)], indices=active)
        for j in active:
            row = live[j]
            if row.span is not None and row.span.copying:
                self._keep_span(scores[j], row.span)
            self._break_loop(scores[j], row, repeat_span)

    def _keep_span(self, row_scores: torch.Tensor, span: SpanRow, first: int = 32) -> None:
        """Greedy under the grammar and the span together: the best-scoring token the grammar
        allows that keeps the open value a span of the input; the others are masked. The top
        `first` tokens are tried before the rest (the model usually copies already). If no token
        does (the grammar's own limits), the grammar alone decides."""
        n_ok = int(torch.isfinite(row_scores).sum())
        for k in (min(first, n_ok), n_ok):
            for token in torch.topk(row_scores, k).indices.tolist():
                if span.allows(self.token_text(token)):
                    best = row_scores[token].clone()
                    row_scores.fill_(float("-inf"))
                    row_scores[token] = best
                    return

    def _break_loop(self, row_scores: torch.Tensor, row: _Row, repeat_span: int) -> None:
        """Steer a looping row out of its loop, within the grammar (see _Loop).

        A row within its reserve (GrammarCache.reserve) of its budget is steered to close the
        whole value (a container loop at depth 1): a runaway that loops without repeating exactly
        (counting "item 7", "item 8", ...) still ends as valid JSON instead of being cut off.
        """
        closer, tokens = row.closer, row.tokens
        if len(tokens) >= row.budget - row.reserve:
            row.closing = True
        loop = row.loop
        if loop is not None and loop.left(closer):
            loop = None
        if loop is None and row.closing and closer.depth >= 1:
            loop = _Loop("container", 1)
        if loop is None and row.period is not None:
            texts = [self.token_text(t) for t in tokens[-row.period :]]
            loop = _Loop.of(row.states[-row.period :], texts)
        row.loop = loop
        if loop is None:
            return
        keep = loop.steer(torch.isfinite(row_scores), closer, self.cache.token_table)
        if keep is None:  # nothing that ends the value is allowed yet: ban the loop's tokens
            keep = torch.isfinite(row_scores)
            keep[sorted(set(tokens[-repeat_span:]))] = False
        if keep.any():
            row_scores[~keep] = float("-inf")
            row.loop_breaks += 1


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


def batch_order(budgets: list[int], lengths: list[int]) -> list[int]:
    """Rows by token budget, then prompt length: a batch's rows tend to end at similar steps
    (the budget is per schema, and a schema's answers have similar lengths) and pad little."""
    return sorted(range(len(budgets)), key=lambda i: (budgets[i], lengths[i]))


REFILL_MIN = 2  # free slots; benchmarks/decode_steps.py counts the forward passes behind it


def refill_count(live: int, pending: int, batch_size: int, at_least: int = REFILL_MIN) -> int:
    """How many pending prompts to prefill and merge into the running batch now (0: decode a step).

    A decode step costs about as much with 1 row as with 8 (it re-reads every weight), so free
    slots are worth filling; but a refill is a forward pass of its own and copies the KV cache,
    so a running batch waits until `at_least` slots are free (an empty one refills at once).
    """
    free = batch_size - live
    if pending == 0 or (live and free < min(at_least, batch_size)):
        return 0
    return min(free, pending)


def _right_aligned(x: torch.Tensor, width: int, dim: int = -2) -> torch.Tensor:
    """The last `width` positions of x along dim, left-padded with zeros if it has fewer.
    Left padding is masked: zeros there change nothing (and are never NaN)."""
    n = min(width, x.shape[dim])
    x = x.narrow(dim, x.shape[dim] - n, n)
    return torch.nn.functional.pad(x, [0, 0] * (-dim - 1) + [width - n, 0])


class _ReservedLayer(DynamicLayer):
    """A full-attention KV cache layer that writes each step's keys and values into room reserved
    ahead. DynamicLayer concatenates instead, copying the layer's whole cache at every step: with
    long prompts and answers, as much memory traffic as the attention itself."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity  # tokens: the cached ones plus the rows' largest remaining budget
        self.length = 0

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
            b, h, _, d = key_states.shape  # (B, kv heads, T, head dim)
            self._k = key_states.new_empty((b, h, self.capacity, d))
            self._v = value_states.new_empty((b, h, self.capacity, d))
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise RuntimeError(f"KV cache reserved for {self.capacity} tokens, {end} needed")
        self._k[:, :, self.length : end] = key_states
        self._v[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self._k[:, :, :end], self._v[:, :, :end]
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            self._k, self._v = self._k[indices], self._v[indices]
            self.keys, self.values = self._k[:, :, : self.length], self._v[:, :, : self.length]


def _kv_cache(model: Any, capacity: int) -> DynamicCache:
    """model.generate's cache (full and sliding-window layers as the config says), its full
    layers swapped for ones with reserved room (sliding ones stay within their window anyway)."""
    cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    cache.layers = [
        _ReservedLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    return cache


def _mergeable(cache: DynamicCache) -> bool:
    """Whether _restack knows every layer. If not (e.g. linear-attention layers), each batch is
    decoded to its end before the next starts, as before continuous batching."""
    return all(type(layer) in (_ReservedLayer, DynamicSlidingWindowLayer) for layer in cache.layers)


def _restack(parts: list[tuple[Any, torch.Tensor | slice]], length: int, room: int) -> Any:
    """One cache layer holding parts' rows [(layer, rows), ...] in order, each right-aligned to
    `length` cached positions (rows end together; the left is padding) and room for `room` more.
    Only relative positions matter to attention (rotary embeddings come from each row's own
    position ids; the sliding window compares query and key indices), so realigning is exact."""
    first = parts[0][0]
    width = length
    if type(first) is DynamicSlidingWindowLayer:  # keeps its last window - 1 positions
        width = min(length, first.sliding_window - 1)
    keys = torch.cat([_right_aligned(layer.keys[rows], width) for layer, rows in parts])
    values = torch.cat([_right_aligned(layer.values[rows], width) for layer, rows in parts])
    if type(first) is DynamicSlidingWindowLayer:
        first.keys, first.values, first.cumulative_length = keys, values, length
        return first
    layer = _ReservedLayer(length + room)
    layer.update(keys, values)
    return layer


class _Forward:
    """The model's forward pass over a left-padded batch with a KV cache, as model.generate
    runs it (same position ids, mask and last-position logits: the same greedy tokens), except
    that rows can leave the batch (a finished row is not computed again) and join it (merge)."""

    def __init__(self, model: Any, enc: dict[str, torch.Tensor], new_tokens: int) -> None:
        self.model = model
        self.ids = enc["input_ids"]  # (B, T) for the prefill, then (B, 1): each row's last token
        self.mask = enc["attention_mask"]  # (B, cached + ids): 0 on the left padding
        # positions count real tokens only, so a padded row sees the positions it would alone;
        # (B, T) for the prefill, then (B, 1)
        self.positions = (self.mask.cumsum(-1) - 1).masked_fill(self.mask == 0, 0)
        self.cache = _kv_cache(model, self.mask.shape[1] + new_tokens)

    def logits(self) -> torch.Tensor:
        """(B, vocab) float32 next-token logits of the current rows, after self.ids."""
        out = self.model(
            input_ids=self.ids, attention_mask=self.mask, position_ids=self.positions,
            past_key_values=self.cache, use_cache=True, logits_to_keep=1,
        )  # fmt: skip
        return out.logits[:, -1].to(dtype=torch.float32, copy=True)

    def advance(self, keep: list[int], tokens: list[int], room: int) -> None:
        """Keep the rows at `keep` (cache included) and feed each its next token; `room`: the
        kept rows' largest remaining budget."""
        if len(keep) < self.mask.shape[0]:
            idx = torch.tensor(keep, device=self.mask.device)
            if _mergeable(self.cache):
                self._restack([(self, idx)], room)
            else:  # layers _restack does not know: transformers' own row selection
                self.cache.batch_select_indices(idx)
                self.mask, self.positions = self.mask[idx], self.positions[idx]
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(keep), 1))], dim=-1)
        self.positions = self.positions[:, -1:] + 1
        self.ids = torch.tensor([[t] for t in tokens], device=self.mask.device)

    def merge(self, other: _Forward, room: int) -> None:
        """Append other's rows (both batches just advanced) after this batch's rows."""
        everyone = slice(None)
        self._restack([(self, everyone), (other, everyone)], room)
        self.ids = torch.cat([self.ids, other.ids])

    def _restack(self, parts: list[tuple[_Forward, torch.Tensor | slice]], room: int) -> None:
        """Mask, positions and cache of parts' rows [(batch, rows), ...], right-aligned (rows end
        together); positions that are padding in every row are dropped (they would cost
        attention reads at every step). `room`: the rows' largest remaining budget."""
        first = parts[0][0]
        uncached = first.mask.shape[1] - first.cache.get_seq_length()  # merge: the fed tokens
        width = max(f.mask.shape[1] for f, _ in parts)
        mask = torch.cat([_right_aligned(f.mask[rows], width, dim=-1) for f, rows in parts])
        self.mask = mask[:, int(mask.any(0).int().argmax()) :]  # from the first position in use
        self.positions = torch.cat([f.positions[rows] for f, rows in parts])
        length = self.mask.shape[1] - uncached
        self.cache.layers = [
            _restack([(f.cache.layers[i], rows) for f, rows in parts], length, room)
            for i in range(len(self.cache.layers))
        ]


@dataclass
class DecodeStats:
    """What a generate call computed, counted rather than timed: forward passes over new prompts
    (prefills; merges: those joined to a running batch), one-token forward passes (steps) and the
    rows those carried (row_steps)."""

    prefills: int = 0
    merges: int = 0
    steps: int = 0
    row_steps: int = 0

    @property
    def rows_per_step(self) -> float:
        return self.row_steps / self.steps if self.steps else 0.0


def _room(rows: Iterable[Any]) -> int:
    """The rows' largest remaining token budget: how far the KV cache must still grow."""
    return max(row.budget - len(row.tokens) for row in rows)


@torch.inference_mode()
def _decode(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    order: list[int],
    new_row: Callable[[int], _Row],
    grammar: _Grammar | None,
    cfg: DecodeConfig,
    mode: DecodeMode,
    stats: DecodeStats,
) -> Iterator[tuple[int, _Row]]:
    """Greedy decoding of prompts[i] for i in order (new_row(i) sets row i up), continuously
    batched: rows leave the running batch as they stop, and pending prompts are prefilled as a
    batch of their own and merged in (refill_count says when). Yields (i, row) as rows stop."""
    tokenizer.padding_side = "left"  # new tokens go on the right: pads must be on the left
    stop_ids, token_text = _stop_ids(model, tokenizer), _token_text(tokenizer)
    pending = order[::-1]  # popped from the end
    batch: _Forward | None = None  # the running batch: live[j] is its row j
    live: list[tuple[int, _Row]] = []

    def step(forward: _Forward, rows: list[tuple[int, _Row]]) -> list[tuple[int, _Row]]:
        """One forward pass: every row takes its next token; the rows still going, advanced."""
        scores = forward.logits().cpu()  # masks, loop steering and argmax on the CPU
        if grammar is not None:
            grammar.mask(scores, [row for _, row in rows], cfg.repeat_span)
        for (_, row), token in zip(rows, scores.argmax(dim=-1).tolist(), strict=True):
            row.push(token, token_text(token), stop_ids, mode)
        keep = [j for j, (_, row) in enumerate(rows) if row.stop is None]
        if keep:
            going = [rows[j][1] for j in keep]
            forward.advance(keep, [row.tokens[-1] for row in going], _room(going))
        return [rows[j] for j in keep]

    while live or pending:
        n = refill_count(len(live), len(pending), cfg.batch_size)
        if n and live and not _mergeable(batch.cache):
            n = 0  # a cache layer _restack does not know: finish this batch first
        if n:
            joining = [(i, new_row(i)) for i in (pending.pop() for _ in range(n))]
            # The tokenizer's own special tokens (Gemma's <bos>), as training tokenizes prompts.
            enc = tokenizer([prompts[i] for i, _ in joining], return_tensors="pt", padding=True)
            fresh = _Forward(model, enc.to(model.device), max(row.budget for _, row in joining))
            going = step(fresh, joining)
            stats.prefills += 1
            if going and live:
                batch.merge(fresh, _room(row for _, row in live + going))
                stats.merges += 1
            elif going:
                batch = fresh
            live += going
            yield from ((i, row) for i, row in joining if row.stop is not None)
        else:
            going = step(batch, live)
            stats.steps += 1
            stats.row_steps += len(live)
            yield from ((i, row) for i, row in live if row.stop is not None)
            live = going


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
    stats: DecodeStats | None = None,
    on_row: Callable[[], None] | None = None,
) -> list[Generation]:
    """Greedy continuations of `prompts`, in input order.

    budgets[i] caps row i's new tokens (default cfg.max_new_tokens). Constrained mode needs one
    schema per prompt; pass a shared GrammarCache to reuse compiled grammars across calls.
    With cfg.copy_spans (constrained mode), `sources[i]` is row i's input text: its free-text
    string values must be spans of it (maaza.copyspan). `stats`, if given, is filled in.
    `on_row()` is called as each row finishes (maaza.parallel: a worker's rows, on its parent's bar).
    """
    constrained = mode == "constrained"
    if constrained and cfg.copy_spans and (sources is None or len(sources) != len(prompts)):
        raise ValueError("copy_spans needs one input text per prompt (sources)")
    if constrained:
        if schemas is None or len(schemas) != len(prompts):
            raise ValueError("constrained decoding needs one schema per prompt")
        grammars = grammars or GrammarCache(tokenizer, vocab_size(model), cfg)
    budgets = budgets or [cfg.max_new_tokens] * len(prompts)
    if len(budgets) != len(prompts):
        raise ValueError(f"{len(budgets)} budgets for {len(prompts)} prompts")
    budgets = [min(b, cfg.max_new_tokens) for b in budgets]
    lengths = [len(ids) for ids in tokenizer(prompts)["input_ids"]]
    grammar = _Grammar(grammars, cfg.batch_size, _token_text(tokenizer)) if constrained else None

    def new_row(i: int) -> _Row:
        row = _Row(budgets[i], RepeatTracker(cfg.repeat_span), time.perf_counter())
        if grammar is not None:
            grammar.attach(row, schemas[i], sources[i] if cfg.copy_spans else None)
        return row

    results: dict[int, Generation] = {}
    order = batch_order(budgets, lengths)
    bar = tqdm(total=len(prompts), desc=f"decode ({mode})", unit="ex", disable=not progress)
    stats = stats if stats is not None else DecodeStats()
    for i, row in _decode(model, tokenizer, prompts, order, new_row, grammar, cfg, mode, stats):
        results[i] = row.generation(tokenizer)
        bar.update(1)
        if on_row is not None:
            on_row()
    bar.close()
    return [results[i] for i in range(len(prompts))]
