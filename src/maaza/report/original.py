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
Derived = tuple[Cell, Cell, dict[str, str]]  # paper cell, elsewhere cell, values for `follows`
PCT_KEYS = ("json_exact", "compliance")
TIERS = ("simple", "medium", "complex")
BYTES_FP32 = 4


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
    for factor, name, key in (("rank", "Rank", "r"), ("data", "Data", "fraction")):
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


DERIVE: dict[str, Callable[[dict[str, Any]], Derived]] = {}


def derived(fn: Callable[[dict[str, Any]], Derived]) -> Callable[[dict[str, Any]], Derived]:
    DERIVE[fn.__name__] = fn
    return fn


@derived
def gain_360m(ref: dict[str, Any]) -> Derived:
    base, ft = model(ref, "smollm2-360m-base"), model(ref, "maaza-slm-360m")
    exact = ft["overall"]["json_exact"]
    est, alt = base["overall"]["json_exact"], base["alt_overall"]["json_exact"]
    claim, card = ref["claims"]["gain_360m"], ref["model_card"]["gain"]
    paper = (
        f"{claim['value']}$\\times$ ({exact:.1f} / $\\sim${est:.1f})",
        f"Sec. {claim['section']}",
    )
    other = f"{fmt.times(exact / alt)} ({exact:.1f} / {alt:.1f}); card {card}$\\times$"
    other = (other, "closing Table 1; model card")
    return paper, other, {"paper_gain": fmt.times(exact / est), "alt_gain": fmt.times(exact / alt)}


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
def tier_percentages(ref: dict[str, Any]) -> Derived:
    sizes, card = ref["test_split"]["by_tier"], ref["model_card"]["test_by_tier"]
    tiers = [(m, bt) for m, bt, _ in _tier_rows(ref) if bt is m["by_tier"]]
    checked = [(m, t, bt[t]["json_exact"]) for m, bt in tiers for t in TIERS]
    bad = [(m, t, v) for m, t, v in checked if not achievable(v, sizes[t])]
    nonzero = [(t, v) for _, t, v in checked if v > 0 and t != "complex"]
    paper = "; ".join(f"{tex_escape(m['label'])} {t} {v:.1f}\\% of {sizes[t]}" for m, t, v in bad)
    paper = (paper, "Table 3 (Sec. 5.3)")
    other = (" / ".join(str(sizes[t]) for t in TIERS) + " examples", "Sec. 3.3")
    values = {"n_bad": len(bad), "n_checked": len(checked), "n_nonzero": len(nonzero)}
    values["n_fit"] = sum(achievable(v, card[t]) for t, v in nonzero)
    values["n_fit_stated"] = sum(achievable(v, sizes[t]) for t, v in nonzero)
    values |= {"card_simple": card["simple"], "card_medium": card["medium"]}
    return paper, other, {k: str(v) for k, v in values.items()}


def correct_by_tiers(bt: dict[str, Any], sizes: dict[str, int]) -> float:
    """Examples answered exactly, implied by the tier percentages and tier sizes."""
    return sum(bt[t]["json_exact"] * sizes[t] / 100 for t in TIERS)


@derived
def tier_sums(ref: dict[str, Any]) -> Derived:
    sizes, card = ref["test_split"]["by_tier"], ref["model_card"]["test_by_tier"]
    n = ref["test_split"]["n"]
    off = [
        (m, bt, ov)
        for m, bt, ov in _tier_rows(ref)
        if abs(correct_by_tiers(bt, sizes) - ov["json_exact"] * n / 100) >= 1
    ]
    paper = "; ".join(
        f"{tex_escape(m['label'])} {correct_by_tiers(bt, sizes):.1f}" for m, bt, _ in off
    )
    other = "; ".join(
        f"{ov['json_exact']:.1f}\\% of {n} = {ov['json_exact'] * n / 100:.1f}" for _, _, ov in off
    )
    card_sums = " and ".join(f"{correct_by_tiers(bt, card):.1f}" for _, bt, _ in off)
    paper = (paper + " correct by tiers", "Table 3 on the sizes of Sec. 3.3")
    return paper, (other, "Table 2"), {"card_sums": card_sums}


@derived
def overall_percentages(ref: dict[str, Any]) -> Derived:
    n = ref["test_split"]["n"]
    bad = []
    for m in ref["models"]:
        for block in ("overall", "alt_overall"):
            ov = m.get(block) or {}
            if ov.get("estimated"):
                continue
            bad += [(m, ov, k) for k in PCT_KEYS if k in ov and not achievable(ov[k], n)]
    paper = "; ".join(
        f"{tex_escape(m['label'])} {k.replace('_', '')} {ov[k]:.1f}\\%" for m, ov, k in bad
    )
    paper = (paper or "none", "; ".join(sorted({ov["section"] for _, ov, _ in bad})))
    near = [
        f"{k}/{n} = {100 * k / n:.1f}\\%"
        for _, ov, key in bad
        for k in (math.floor(ov[key] * n / 100), math.ceil(ov[key] * n / 100))
    ]
    return paper, (f"{n} test examples", "Sec. 3.3"), {"neighbours": ", ".join(near)}


def lora_params(arch: dict[str, int], r: int) -> int:
    """What LoRA of rank r trains on q, k, v, o, gate, up, down of every layer: r * (in + out)
    per projection (k and v map to the grouped key/value width)."""
    h, i, kv = arch["hidden"], arch["intermediate"], arch["kv_dim"]
    per_layer = 2 * (h + h) + 2 * (h + kv) + 3 * (h + i)
    return r * per_layer * arch["layers"]


@derived
def trainable(ref: dict[str, Any]) -> Derived:
    ids = ("maaza-mlm-135m", "maaza-slm-360m")
    real = {i: lora_params(ref["architectures"][i], model(ref, i)["lora_r"]) / 1e6 for i in ids}
    stated = " / ".join(f"{model(ref, i)['trainable_m']}M" for i in ids)
    computed = " / ".join(f"{real[i]:.1f}M" for i in ids)
    mb = ref["claims"]["adapter_mb"]
    fit = "; ".join(
        f"{mb[i]} MB for {real[i]:.1f}M $\\times$ {BYTES_FP32} B = {real[i] * BYTES_FP32:.1f} MB"
        for i in ids
    )
    other = f"{ref['model_card']['trainable_m']}M for the 360M; the shapes give {computed}"
    other = (other, "model card; config.json shapes")
    return (stated, "Sec. 4.2.1, 4.5.1"), other, {"adapter_fit": fit}


@derived
def steps(ref: dict[str, Any]) -> Derived:
    c = ref["claims"]
    n, batch, epochs = ref["test_split"]["n_train"], c["batch"]["value"], c["epochs"]["value"]
    total = math.ceil(n / batch) * epochs
    conv = c["converges_steps"]
    paper = (
        f"converges after $\\sim${conv['maaza-mlm-135m']} / $\\sim${conv['maaza-slm-360m']} steps"
    )
    paper = (paper, f"Sec. {conv['section']}")
    other = (f"{n} examples, batch {batch}, {epochs} epochs: {total} steps", "Sec. 3.3, 4.2.2")
    return paper, other, {"steps": str(total), "warmup": str(c["warmup_steps"]["value"])}


@derived
def latency(ref: dict[str, Any]) -> Derived:
    c, ids = ref["claims"], ("maaza-mlm-135m", "maaza-slm-360m")
    table = " / ".join(f"{model(ref, i)['overall']['latency_ms']}" for i in ids) + " ms"

    def pair(device: str) -> str:  # latencies at their speeds
        ms, tps = c[f"latency_{device}_ms"], c[f"tokens_per_s_{device}"]
        times = " / ".join(f"$\\sim${ms[i]}" for i in ids)
        return f"{device.upper()} {times} ms at {' / '.join(str(tps[i]) for i in ids)} tokens/s"

    tokens = [
        c[f"latency_{d}_ms"][i] * c[f"tokens_per_s_{d}"][i] / 1000
        for d in ("cpu", "gpu")
        for i in ids
    ]
    card_tps = ref["model_card"]["tokens_per_s"]["maaza-mlm-135m"]
    low, high = c["output_tokens"]["low"], c["output_tokens"]["high"]
    values = {"tokens": f"{min(tokens):.2f}--{max(tokens):.2f}", "card_tps": str(card_tps)}
    values |= {"answer_s": f"{low / card_tps:.1f}", "answer_tokens": f"{low}--{high}"}
    return (table, "Table 2 (Sec. 5.2)"), (f"{pair('cpu')}; {pair('gpu')}", "Sec. 4.4.2"), values


@derived
def size_ratio(ref: dict[str, Any]) -> Derived:
    c, small, qwen = ref["claims"], model(ref, "maaza-mlm-135m"), model(ref, "qwen2.5-0.5b")
    paper = (f"{c['smaller_params']['value']}$\\times$ smaller", c["smaller_params"]["section"])
    other = (f"{c['smaller_size']['value']}$\\times$ smaller size", c["smaller_size"]["section"])
    keys = {"param_ratio": "params_m", "size_ratio": "size_mb"}
    return (
        paper,
        other,
        {n: f"{qwen[k]} / {small[k]} = {fmt.times(qwen[k] / small[k])}" for n, k in keys.items()},
    )


@derived
def model_size(ref: dict[str, Any]) -> Derived:
    c, ids = ref["claims"]["model_mb_fp32"], ("maaza-mlm-135m", "maaza-slm-360m")
    params = [model(ref, i)["params_m"] for i in ids]
    paper = (" / ".join(str(c[i]) for i in ids) + " MB (FP32)", f"Sec. {c['section']}")
    other = (f"$\\sim${c['maaza-slm-360m']} MB (FP16) for the 360M", "model card")
    sizes = {"fp32": BYTES_FP32, "fp16": 2}  # bytes per parameter
    return paper, other, {k: " / ".join(f"{p * b} MB" for p in params) for k, b in sizes.items()}


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
        paper, other, values = DERIVE[derive](ref)
        try:
            follows = row["follows"].format(**values)
        except KeyError as e:
            raise ReportError(f"{where}: follows names {e}, not computed by {derive}") from e
        out.append((row["what"], paper, other, follows))
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
