"""The original paper (src/maaza/paper_reference.yaml), always labelled as theirs: its numbers as
`Paper...` macros, and its inconsistencies as a table whose rows point at stored values (`refs`),
quote text (`text`), or are computed from the stored numbers (`derive`: DERIVE), never typed."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from maaza.report import fmt
from maaza.report.fmt import NOT_RUN, Number, Prose, tex_escape
from maaza.report.frames import Frames
from maaza.results import ReportError

SOURCE = "src/maaza/paper_reference.yaml"
Cell = tuple[str, str]  # (value as TeX, where in the original it is printed)
Values = dict[str, Any]  # what a derived row's templates name, by name
PCT_KEYS = ("json_exact", "compliance")
TIERS = ("simple", "medium", "complex")
BYTES_FP32 = 4
ABLATION_KEY = {"rank": "r", "data": "fraction"}  # an ablation point's knob in the file


def _pct(v: float | None) -> str:
    return fmt.paper_pct(v, absent=NOT_RUN)


def reference_numbers(reference: dict[str, Any]) -> list[Number]:
    split, out = reference["test_split"], []
    for name, key in (("TestN", "n"), ("TrainN", "n_train"), ("NSchemas", "n_schemas")):
        src = f"{SOURCE}: test_split.{key} (Section {split['section']})"
        out.append(Number(f"Paper{name}", str(split[key]), src))
    models = {m["macro"]: m for m in reference.get("models", [])}
    for k, m in models.items():
        src = f"{SOURCE}: {m['id']} (Section {m['overall']['section']})"
        out.append(Number(f"Paper{k}Exact", _pct(m["overall"]["json_exact"]), src))
        if k == "MaazaSmall":  # the paper's recipe model: its trainable parameters
            src = f"{SOURCE}: {m['id']} (Section 4.2.1)"
            out.append(Number("PaperMaazaSmallTrainable", f"{m['trainable_m']}M", src))
    out += _ablation_numbers(reference)
    comp = reference.get("compute", {})
    out += [
        Number("PaperTrainTime", fmt.duration(comp.get("train_time_s")), f"{SOURCE}: compute"),
        Number("PaperHardware", tex_escape(comp.get("hardware", "")), f"{SOURCE}: compute"),
    ]
    return out + _paper_gain(models, split["n"])


def _ablation_numbers(reference: dict[str, Any]) -> list[Number]:
    """The ends of the paper's rank and data-size ablations (ranks also by value)."""
    out = []
    for factor, key in ABLATION_KEY.items():
        name = factor.title()
        pts = reference.get("ablations", {}).get(factor, {}).get("points", [])
        pts, src = sorted(pts, key=lambda p: p[key]), f"{SOURCE}: ablations.{factor}"
        for pos, p in (("Min", pts[0]), ("Max", pts[-1])) if pts else ():
            if factor == "rank":
                out.append(Number(f"PaperAbl{name}{pos}Value", str(p[key]), src))
            out.append(Number(f"PaperAbl{name}{pos}Exact", _pct(p["json_exact"]), src))
    return out


def _paper_gain(models: dict[str, dict[str, Any]], n: int) -> list[Number]:
    base, ft = models.get("BaseSmall"), models.get("MaazaSmall")
    if not base or not ft:
        return []
    # the paper gives rates of its n test examples: as eval rows, so the gain has counts
    rows = [{"json_exact": m["overall"]["json_exact"] / 100, "n": n} for m in (ft, base)]
    src = f"derived: {SOURCE} MaazaSmall/BaseSmall JSONExact of test_split.n"
    return [Number("PaperGainSmall", fmt.gain(*rows), src)]


def achievable(pct: float, n: int, digits: int = 1) -> bool:
    """Can a percentage printed with `digits` decimals be k/n for some whole k?"""
    return any(round(100 * k / n, digits) == round(pct, digits) for k in range(n + 1))


def model(ref: dict[str, Any], model_id: str) -> dict[str, Any]:
    for m in ref["models"]:
        if m["id"] == model_id:
            return m
    raise ReportError(f"{SOURCE}: no model with id {model_id!r}")


def lookup(ref: dict[str, Any], path: str) -> tuple[Any, bool]:
    """The value at a dotted path (a list step names its entry by id), and whether a block on the
    way is marked `estimated: true`."""
    node, estimated = ref, False
    for step in path.split("."):
        if isinstance(node, list):
            node = next((x for x in node if x.get("id") == step), None)
        elif isinstance(node, dict):
            node = node.get(step)
        if node is None:
            raise ReportError(f"{SOURCE}: inconsistencies: no value at {path!r} (at {step!r})")
        estimated |= isinstance(node, dict) and bool(node.get("estimated"))
    return node, estimated


def show(path: str, value: Any, estimated: bool = False) -> str:
    """A stored value as the paper prints it: percentages with %, F1 with three decimals."""
    key = path.rsplit(".", 1)[-1]
    text = f"{value:.3f}" if key == "field_f1" else tex_escape(value)
    text = f"{value:.1f}\\%" if key in PCT_KEYS else text
    return f"$\\sim${text}" if estimated else text


def cell(ref: dict[str, Any], spec: dict[str, Any]) -> Cell:
    if "text" in spec:
        return spec["text"], spec["where"]
    return " / ".join(show(p, *lookup(ref, p)) for p in spec["refs"]), spec["where"]


DERIVE: dict[str, Callable[[dict[str, Any]], Values]] = {}


def derived(fn: Callable[[dict[str, Any]], Values]) -> Callable[[dict[str, Any]], Values]:
    DERIVE[fn.__name__] = fn
    return fn


# Each derive function computes the numbers its row's templates (paper_reference.yaml) name
# beyond the stored values, which the templates read themselves ({claims[batch][value]}).
@derived
def gain_360m(ref: dict[str, Any]) -> Values:
    exact = model(ref, "maaza-slm-360m")["overall"]["json_exact"]
    base = model(ref, "smollm2-360m-base")
    est, alt = base["overall"]["json_exact"], base["alt_overall"]["json_exact"]
    gains = {"paper_gain": fmt.times(exact / est), "alt_gain": fmt.times(exact / alt)}
    return gains | {"exact": exact, "est": est, "alt": alt}


def _tier_rows(ref: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(model, by-tier block, its overall block) for every measured (not estimated) pair."""
    out = []
    for m in ref["models"]:
        for tiers, overall in (("by_tier", "overall"), ("alt_by_tier", "alt_overall")):
            bt, ov = m.get(tiers), m.get(overall)
            if bt and ov and not bt.get("estimated") and not ov.get("estimated"):
                out.append((m, bt, ov))
    return out


@derived
def tier_percentages(ref: dict[str, Any]) -> Values:
    sizes, card = ref["test_split"]["by_tier"], ref["model_card"]["test_by_tier"]
    tiers = [(m, bt) for m, bt, _ in _tier_rows(ref) if bt is m["by_tier"]]
    checked = [(m, t, bt[t]["json_exact"]) for m, bt in tiers for t in TIERS]
    bad = [(m, t, v) for m, t, v in checked if not achievable(v, sizes[t])]
    nonzero = [(t, v) for _, t, v in checked if v > 0 and t != "complex"]
    return {
        "bad": "; ".join(
            f"{tex_escape(m['label'])} {t} {v:.1f}\\% of {sizes[t]}" for m, t, v in bad
        ),
        "n_bad": len(bad),
        "n_checked": len(checked),
        "n_nonzero": len(nonzero),
        "n_fit": sum(achievable(v, card[t]) for t, v in nonzero),
        "n_fit_stated": sum(achievable(v, sizes[t]) for t, v in nonzero),
    }


def correct_by_tiers(bt: dict[str, Any], sizes: dict[str, int]) -> float:
    """Examples answered exactly, implied by the tier percentages and tier sizes."""
    return sum(bt[t]["json_exact"] * sizes[t] / 100 for t in TIERS)


@derived
def tier_sums(ref: dict[str, Any]) -> Values:
    split, card = ref["test_split"], ref["model_card"]["test_by_tier"]
    sizes, n = split["by_tier"], split["n"]
    off = [
        (m, bt, ov)
        for m, bt, ov in _tier_rows(ref)
        if abs(correct_by_tiers(bt, sizes) - ov["json_exact"] * n / 100) >= 1
    ]
    return {
        "sums": "; ".join(
            f"{tex_escape(m['label'])} {correct_by_tiers(bt, sizes):.1f}" for m, bt, _ in off
        ),
        "overall": "; ".join(
            f"{ov['json_exact']:.1f}\\% of {n} = {ov['json_exact'] * n / 100:.1f}"
            for _, _, ov in off
        ),
        "card_sums": " and ".join(f"{correct_by_tiers(bt, card):.1f}" for _, bt, _ in off),
    }


@derived
def overall_percentages(ref: dict[str, Any]) -> Values:
    n, bad = ref["test_split"]["n"], []
    for m in ref["models"]:
        for ov in (m.get(block) or {} for block in ("overall", "alt_overall")):
            if not ov.get("estimated"):
                bad += [(m, ov, k) for k in PCT_KEYS if k in ov and not achievable(ov[k], n)]
    near = [
        f"{k}/{n} = {100 * k / n:.1f}\\%"
        for _, ov, key in bad
        for k in (math.floor(ov[key] * n / 100), math.ceil(ov[key] * n / 100))
    ]
    return {
        "bad": "; ".join(
            f"{tex_escape(m['label'])} {k.replace('_', '')} {ov[k]:.1f}\\%" for m, ov, k in bad
        )
        or "none",
        "sections": "; ".join(sorted({ov["section"] for _, ov, _ in bad})),
        "neighbours": ", ".join(near),
    }


def lora_params(arch: dict[str, int], r: int) -> int:
    """What LoRA of rank r trains on q, k, v, o, gate, up, down of every layer: r * (in + out)
    per projection (k and v map to the grouped key/value width)."""
    h, i, kv = arch["hidden"], arch["intermediate"], arch["kv_dim"]
    per_layer = 2 * (h + h) + 2 * (h + kv) + 3 * (h + i)
    return r * per_layer * arch["layers"]


@derived
def trainable(ref: dict[str, Any]) -> Values:
    ids = ("maaza-mlm-135m", "maaza-slm-360m")
    real = {i: lora_params(ref["architectures"][i], model(ref, i)["lora_r"]) / 1e6 for i in ids}
    mb = ref["claims"]["adapter_mb"]
    fit = (
        f"{mb[i]} MB for {real[i]:.1f}M $\\times$ {BYTES_FP32} B = {real[i] * BYTES_FP32:.1f} MB"
        for i in ids
    )
    return {
        "stated": " / ".join(f"{model(ref, i)['trainable_m']}M" for i in ids),
        "computed": " / ".join(f"{real[i]:.1f}M" for i in ids),
        "adapter_fit": "; ".join(fit),
    }


@derived
def steps(ref: dict[str, Any]) -> Values:
    c, n = ref["claims"], ref["test_split"]["n_train"]
    return {"steps": math.ceil(n / c["batch"]["value"]) * c["epochs"]["value"]}


@derived
def latency(ref: dict[str, Any]) -> Values:
    c, ids = ref["claims"], ("maaza-mlm-135m", "maaza-slm-360m")
    # milliseconds per example times tokens per second: the tokens one example's latency covers
    tokens = [
        c[f"latency_{d}_ms"][i] * c[f"tokens_per_s_{d}"][i] / 1000
        for d in ("cpu", "gpu")
        for i in ids
    ]
    card_tps = ref["model_card"]["tokens_per_s"]["maaza-mlm-135m"]
    return {
        "tokens": f"{min(tokens):.2f}--{max(tokens):.2f}",
        "answer_s": f"{c['output_tokens']['low'] / card_tps:.1f}",
    }


@derived
def size_ratio(ref: dict[str, Any]) -> Values:
    small, qwen = model(ref, "maaza-mlm-135m"), model(ref, "qwen2.5-0.5b")
    keys = {"param_ratio": "params_m", "size_ratio": "size_mb"}
    return {n: f"{qwen[k]} / {small[k]} = {fmt.times(qwen[k] / small[k])}" for n, k in keys.items()}


@derived
def model_size(ref: dict[str, Any]) -> Values:
    params = [model(ref, i)["params_m"] for i in ("maaza-mlm-135m", "maaza-slm-360m")]
    sizes = {"fp32": BYTES_FP32, "fp16": 2}  # bytes per parameter
    return {k: " / ".join(f"{p * b} MB" for p in params) for k, b in sizes.items()}


def inconsistency_rows(ref: dict[str, Any]) -> list[tuple[str, Cell, Cell, str]]:
    """(what, paper cell, elsewhere cell, what follows) for each row of the data file."""
    out = []
    for i, row in enumerate(ref.get("inconsistencies", [])):
        where, derive = f"{SOURCE}: inconsistencies[{i}]", row.get("derive")
        if derive is None:
            cells = cell(ref, row["paper"]), cell(ref, row["elsewhere"])
            out.append((row["what"], *cells, row["follows"]))
            continue
        if derive not in DERIVE:
            raise ReportError(f"{where}: unknown derive {derive!r} (one of {sorted(DERIVE)})")
        # the templates read the stored values by path (models by id) and the computed ones by name
        values = ref | {"models": {m["id"]: m for m in ref["models"]}} | DERIVE[derive](ref)
        texts = [row[c][k] for c in ("paper", "elsewhere") for k in ("text", "where")]
        try:
            p, p_where, o, o_where, follows = (
                t.format_map(values) for t in [*texts, row["follows"]]
            )
        except KeyError as e:
            raise ReportError(f"{where}: names {e}, neither stored nor computed by {derive}") from e
        out.append((row["what"], (p, p_where), (o, o_where), follows))
    return out


def _cell_tex(c: Cell) -> str:
    return rf"{c[0]} \newline{{\color{{black!60}}{c[1]}}}"


def inconsistency_table(frames: Frames, reference: dict[str, Any]) -> str:
    """A longtable (it may run over a page): one row per inconsistency of the original."""
    layout = fmt.LAYOUT["original_inconsistencies"]
    cols = "".join(rf">{{\raggedright\arraybackslash}}p{{{w}\linewidth}}" for w in layout["widths"])
    rows = inconsistency_rows(reference)
    body = [rf"{w} & {_cell_tex(p)} & {_cell_tex(o)} & {f} \\ \addlinespace" for w, p, o, f in rows]
    fields = {"source": SOURCE, "colspec": f"@{{}}{cols}@{{}}", "body": "\n".join(body)}
    return Prose(layout["template"]).substitute(fields)


ORIGINAL_TABLES = {"original_inconsistencies": inconsistency_table}
