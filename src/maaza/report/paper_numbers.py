"""The numbers the original paper reported (src/maaza/paper_reference.yaml), as numbers.tex
macros named `Paper...`, and the words that compare ours with them. Always labelled as theirs."""

from __future__ import annotations

from typing import Any

from maaza.report import fmt
from maaza.report.fmt import NOT_RUN, Number, tex_escape

SOURCE = "src/maaza/paper_reference.yaml"


def _pct(v: float | None) -> str:
    return fmt.paper_pct(v, absent=NOT_RUN)


def reference_numbers(reference: dict[str, Any]) -> list[Number]:
    split = reference["test_split"]
    out = [
        Number(name, str(split[key]), f"{SOURCE}: test_split.{key} (Section {split['section']})")
        for name, key in (("PaperTestN", "n"), ("PaperTrainN", "n_train"), ("PaperNSchemas", "n_schemas"))
    ]  # fmt: skip
    models = {m["macro"]: m for m in reference.get("models", [])}
    for k, m in models.items():
        out.append(Number(f"Paper{k}Exact", _pct(m["overall"]["json_exact"]),
                          f"{SOURCE}: {m['id']} (Section {m['overall']['section']})"))  # fmt: skip
        if m.get("alt_overall"):  # the same model in another table of the paper
            alt = m["alt_overall"]
            out.append(Number(f"Paper{k}AltExact", _pct(alt["json_exact"]),
                              f"{SOURCE}: {m['id']}.alt_overall ({alt['section']})"))  # fmt: skip
        if k == "MaazaSmall":  # the paper's recipe model: its trainable parameters
            out.append(Number("PaperMaazaSmallTrainable", f"{m['trainable_m']}M",
                              f"{SOURCE}: {m['id']} (Section 4.2.1)"))  # fmt: skip
    out += _ablation_numbers(reference)
    comp = reference.get("compute", {})
    out += [
        Number("PaperTrainTime", fmt.duration(comp.get("train_time_s")), f"{SOURCE}: compute"),
        Number("PaperHardware", tex_escape(comp.get("hardware", "")), f"{SOURCE}: compute"),
    ]
    return out + consistency_numbers(reference) + _paper_gain(models, split["n"])


def _ablation_numbers(reference: dict[str, Any]) -> list[Number]:
    """The ends of the paper's rank and data-size ablations (ranks also by value)."""
    out = []
    for factor, name, key in (("rank", "Rank", "r"), ("data", "Data", "fraction")):
        pts = sorted(
            reference.get("ablations", {}).get(factor, {}).get("points", []), key=lambda p: p[key]
        )
        for pos, p in (("Min", pts[0]), ("Max", pts[-1])) if pts else ():
            src = f"{SOURCE}: ablations.{factor}"
            if factor == "rank":
                out.append(Number(f"PaperAbl{name}{pos}Value", str(p[key]), src))
            out.append(Number(f"PaperAbl{name}{pos}Exact", _pct(p["json_exact"]), src))
    return out  # fmt: skip


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


def consistency_numbers(reference: dict[str, Any]) -> list[Number]:
    """Which tier-level JSONExact percentages of the paper cannot be k/n for its stated tier size n
    (a transcription check on the paper itself, e.g. 13.5% is not a multiple of 1/57)."""
    sizes = reference["test_split"]["by_tier"]
    checked, bad = 0, []
    for m in reference.get("models", []):
        bt = m.get("by_tier") or {}
        if bt.get("estimated"):
            continue
        for tier, n in sizes.items():
            v = (bt.get(tier) or {}).get("json_exact")
            if v is None:
                continue
            checked += 1
            if not achievable(v, n):
                bad.append(f"{tex_escape(m['label'])}, {tier}: {v:.1f}\\% of {n}")
    src = f"derived: {SOURCE} by_tier vs test_split.by_tier"
    return [
        Number("PaperTierPctChecked", str(checked), src),
        Number("PaperTierPctImpossible", str(len(bad)), src),
        Number("PaperTierPctImpossibleList", "; ".join(bad) or "none", f"derived: {SOURCE}"),
    ]


def comparison_numbers(
    reference: dict[str, Any], main_exact: float | None, ours_exact: float | None
) -> list[Number]:
    """Words, not numbers, that depend on results ('above'/'below'), so the text never asserts a
    direction the results do not show. Arguments: JSONExact of the main run and of our recipe."""
    paper = next(
        (m["overall"]["json_exact"] for m in reference.get("models", []) if m["macro"] == "MaazaSmall"),
        None,
    )  # fmt: skip
    out = []
    for name, exact in (("MainFt", main_exact), ("Ours", ours_exact)):
        word = NOT_RUN if exact is None or paper is None else _direction(100 * exact, paper)
        out.append(Number(f"{name}VsPaper", word, f"derived: {name}Exact vs PaperMaazaSmallExact"))
    return out


def _direction(a: float, b: float) -> str:
    return "above" if a > b + 0.05 else "below" if a < b - 0.05 else "equal to"
