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
        if k == "MaazaSmall":  # the paper's recipe model: its trainable parameters
            out.append(Number("PaperMaazaSmallTrainable", f"{m['trainable_m']}M",
                              f"{SOURCE}: {m['id']} (Section 4.2.1)"))  # fmt: skip
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
    """Can a percentage printed with `digits` decimals be k/n for some whole k? (The checks of
    the original's own numbers that use it are in maaza.report.original.)"""
    return any(round(100 * k / n, digits) == round(pct, digits) for k in range(n + 1))
