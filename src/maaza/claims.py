"""Every comparison the paper makes, each with its test (issue 21): which two evaluations, which
test, its p-value, the direction the text may state, and the seed spread it is measured against.

    specs = paper_claims(design, reported_exact=0.247)       # design: maaza.report.design.Design
    table = evaluate(specs, frames.evals, frames.outcomes, design.plan)   # one row per claim

A claim's two sides are evaluations (a run or a zero-shot model, a decoding mode, a split), or
one evaluation against a rate the original paper reports. The test follows the pairing:
- the same examples (same split): exact McNemar on the per-example JSONExact;
- different examples (held-out schemas or the training sample against the test split): Fisher's
  exact test;
- a reported rate (a different test set): an exact binomial test of our k of n against it.
The text may say "above"/"below" only when p < 0.05 (maaza.stats.ALPHA), else "not significantly
different from". Where seed replicates of a side were run (maaza.plan, `seeds:`), the difference
is also set against the seed spread: the larger max-min range of JSONExact over a side's seeds.
Pure: data frames in, a data frame out (the report turns it into macros and a table).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from maaza import stats

ALPHA = stats.ALPHA  # "above"/"below" only when p < ALPHA
BOOT_SEED = 0  # the clustered bootstrap's seed: the same result files give the same interval
WORDS = {"above": "above", "below": "below", "same": "not significantly different from"}
# Macros written elsewhere in the report that state a comparison, and the claim testing each;
# every macro a claim writes (\<stem>Verdict, \<stem>Seed) is tested by its own stem.
TESTED_BY = {
    "OursVsMain": "OursVsMain", "OursVsMainFree": "OursVsMainFree",
    "OursVsMainHoldout": "OursVsMainHoldout", "OursGain": "OursVsZs",
    "MainGain": "MainFtVsZs", "MainGainPoints": "MainFtVsZs", "MainGainPointsFree": "MainFtVsZsFree",
    "MainDecodeGain": "MainFtVsFree", "MainZsDecodeGain": "MainZsVsFree",
    "MainFitVerdict": "MainTestVsFit", "MainFitShort": "MainTestVsFit",
    "OursFitVerdict": "OursTestVsFit", "OursFitReading": "OursTestVsFit",
    "ScaleFitVerdict": "ScaleTestVsFit", "ScaleFitShort": "ScaleTestVsFit",
    "AblFullLossDelta": "AblFullLoss",
}  # fmt: skip
# A macro that states a comparison (tests/test_claims.py: each has a test beside it); the
# original paper's own numbers (Paper...) are theirs, quoted, not claims of ours.
# A claim's own test macro (\<stem>P, the only such names ending in P) is the test, not a claim.
COMPARATIVE = re.compile(
    r"^(?!Paper)(?![A-Za-z]*P$)[A-Za-z]*(Vs|Gain|Gap$|Delta$|Verdict$|Reading$|Short$)"
)


@dataclass(frozen=True)
class Side:
    """One evaluation: a run's (run given) or a zero-shot model's (run None, model given)."""

    run: str | None
    mode: str = "constrained"
    split: str = "test"
    model: str | None = None


@dataclass(frozen=True)
class Claim:
    stem: str  # macro stem: \<stem>Verdict, \<stem>P, \<stem>Seed
    what: str  # the comparison in words, for the table
    a: Side
    b: Side | float  # another evaluation, or a reported rate (a fraction)


class _Plan(Protocol):
    def replicates_of(self, run: str | None) -> tuple[str, ...]: ...


class _Design(Protocol):
    plan: Any
    ablations: Sequence[Any]  # .run, .factor, .value
    main_values: dict[str, Any]

    @property
    def main_run(self) -> str | None: ...

    @property
    def ours_run(self) -> str | None: ...

    @property
    def ours_runs(self) -> tuple[str, ...]: ...

    def first(self, role: str) -> str | None: ...

    def run_model(self, run: str | None) -> str | None: ...


def paper_claims(design: _Design, reported_exact: float | None = None) -> list[Claim]:
    """The comparisons the paper's text makes, by role (runs missing from params.yaml: None)."""
    main, ours, scale = design.main_run, design.ours_run, design.first("scale")
    zs = design.run_model(main)
    free = "free"
    out = [
        Claim("OursVsMain", "our recipe vs paper's recipe", Side(ours), Side(main)),
        Claim("OursVsMainFree", "our recipe vs paper's recipe, free", Side(ours, free), Side(main, free)),
        Claim("OursVsMainHoldout", "our recipe vs paper's recipe, held-out",
              Side(ours, split="holdout"), Side(main, split="holdout")),
        Claim("OursVsScale", "our recipe vs larger model", Side(ours), Side(scale)),
        Claim("ScaleVsMain", "larger vs smaller model, paper's recipe",
              Side(scale), Side(main)),
        Claim("MainFtVsZs", "paper's recipe vs zero-shot", Side(main), Side(None, model=zs)),
        Claim("OursVsZs", "our recipe vs zero-shot", Side(ours), Side(None, model=zs)),
        Claim("MainFtVsZsFree", "paper's recipe vs zero-shot, free",
              Side(main, free), Side(None, free, model=zs)),
        Claim("MainFtVsFree", "constrained vs free, paper's recipe", Side(main), Side(main, free)),
        Claim("MainZsVsFree", "constrained vs free, zero-shot",
              Side(None, model=zs), Side(None, free, model=zs)),
        Claim("MainHoldoutVsTest", "held-out vs test, paper's recipe", Side(main, split="holdout"), Side(main)),
        *(Claim(f"{role}TestVsFit", f"test vs training sample, {label}", Side(run), Side(run, split="train"))
          for role, label, run in (("Main", "paper's recipe", main), ("Ours", "our recipe", ours),
                                   ("Scale", "larger model", scale))),
    ]  # fmt: skip
    # our recipe on another base model (a further `ours` run) against the headline run
    out += [
        Claim(beside_stem(o), f"our recipe, {design.run_model(o)} vs {design.run_model(ours)}",
              Side(o), Side(ours))
        for o in design.ours_runs if o != ours
    ]  # fmt: skip
    if reported_exact is not None:
        out += [
            Claim("MainFtVsPaper", "paper's recipe vs original's report", Side(main), reported_exact),
            Claim("OursVsPaper", "our recipe vs original's report", Side(ours), reported_exact),
        ]  # fmt: skip
    return out + _ablation_claims(design)


def beside_stem(run: str) -> str:
    """The claim of a further `ours` run against the headline one (reported in a sentence of its
    own, numbers.yaml `beside`, and in the paired-tests table)."""
    return f"OursBeside:{run}"


def _ablation_claims(design: _Design) -> list[Claim]:
    """Each ablation factor's extreme points, and the full-sequence loss, against each other."""
    main, values = design.main_run, design.main_values
    points: dict[str, list[tuple[Any, str | None]]] = {}
    for a in design.ablations:
        points.setdefault(a.factor, []).append((a.value, a.run))
    out: list[Claim] = []
    if main is None:  # the main run is every factor's reference point
        return out
    for factor, name in (("rank", "Rank"), ("data", "Data")):
        pts = sorted([*points.get(factor, []), (values.get(factor), main)], key=lambda p: p[0])
        if len(pts) > 1:
            (lo, lo_run), (hi, hi_run) = pts[0], pts[-1]
            what = f"{factor} {lo} vs {hi} (ablation)"
            out.append(Claim(f"Abl{name}MinVsMax", what, Side(lo_run), Side(hi_run)))
    for _, run in points.get("loss", [])[:1]:
        out.append(
            Claim("AblFullLoss", "full-sequence vs response-only loss", Side(run), Side(main))
        )
    return out


# ----------------------------------------------------------------------------- evaluation
def find(evals: pd.DataFrame, side: Side) -> pd.Series | None:
    """The evaluation row of a side, or None (not run, or the run is not declared)."""
    if evals.empty or (side.run is None and side.model is None):
        return None
    hit = evals[(evals["mode"] == side.mode) & (evals["split"] == side.split)]
    if side.run is not None:
        hit = hit[hit["run"] == side.run]
    else:
        hit = hit[hit["run"].isna() & (hit["model"] == side.model)]
    return hit.iloc[0] if len(hit) else None


def _outcomes(outcomes: pd.DataFrame, name: str) -> dict[Any, int]:
    rows = outcomes[outcomes["name"] == name]
    return dict(zip(rows["id"], rows["json_exact"].astype(int), strict=True))


def seed_spread(evals: pd.DataFrame, plan: _Plan, side: Side) -> stats.Spread:
    """JSONExact of a side's run and its seed replicates (test split, constrained only: the one
    evaluation replicates get); empty when the side is anything else."""
    if side.run is None or (side.mode, side.split) != ("constrained", "test"):
        return stats.spread([])
    runs = (side.run, *plan.replicates_of(side.run))
    rows = [find(evals, Side(r)) for r in runs]
    return stats.spread([r["json_exact"] for r in rows if r is not None])


def _test(claim: Claim, a: pd.Series, b: pd.Series | None, outcomes: pd.DataFrame) -> dict:
    """Which test the pairing allows, and its result."""
    k_a, n_a = int(round(a["json_exact"] * a["n"])), int(a["n"])
    if b is None:  # a reported rate
        rate = float(claim.b)  # type: ignore[arg-type]
        p = stats.binomial_test(k_a, n_a, rate)
        return {"test": "binomial", "diff": k_a / n_a - rate, "p": p, "detail": f"{k_a}/{n_a}"}
    out_a, out_b = _outcomes(outcomes, a["name"]), _outcomes(outcomes, b["name"])
    if out_a and out_a.keys() == out_b.keys():
        t = stats.mcnemar(*stats.pair(out_a, out_b))
        return {"test": "McNemar", "diff": t.diff, "p": t.p, "detail": f"{t.a_only}:{t.b_only}"}
    k_b, n_b = int(round(b["json_exact"] * b["n"])), int(b["n"])
    if a["split"] == b["split"]:
        # same split, but the predictions do not pair (missing or different examples): no test
        return {"test": "none", "diff": k_a / n_a - k_b / n_b, "p": math.nan, "detail": ""}
    f = stats.fisher(k_a, n_a, k_b, n_b)
    return {"test": "Fisher", "diff": f.diff, "p": f.p, "detail": f"{k_a}/{n_a}:{k_b}/{n_b}"}


def evaluate(
    claims: Sequence[Claim], evals: pd.DataFrame, outcomes: pd.DataFrame, plan: _Plan
) -> pd.DataFrame:
    """One row per claim: the two sides' evaluations (b "reported": the original paper's rate)
    and JSONExact, the test, its p-value and direction, and the seed spread (NaN where a side is
    not run or has no replicates run)."""
    rows = []
    for c in claims:
        a = find(evals, c.a)
        b = find(evals, c.b) if isinstance(c.b, Side) else None
        reported = not isinstance(c.b, Side)
        done = a is not None and (reported or b is not None)
        result = _test(c, a, b, outcomes) if done else {"test": "", "diff": math.nan,
                                                         "p": math.nan, "detail": ""}  # fmt: skip
        spreads = [seed_spread(evals, plan, s) for s in (c.a, c.b) if isinstance(s, Side)]
        ranges = [s.range for s in spreads if not math.isnan(s.range)]
        seed = max(ranges, default=math.nan)
        declared = any(plan.replicates_of(x.run) for x in (c.a, c.b) if isinstance(x, Side))
        rows.append({
            "stem": c.stem, "what": c.what,
            "a": None if a is None else a["name"],
            "b": "reported" if reported else None if b is None else b["name"],
            "a_exact": math.nan if a is None else a["json_exact"],
            "b_exact": float(c.b) if reported else math.nan if b is None else b["json_exact"],
            **result,
            "direction": stats.direction(result["diff"], result["p"]) if done else None,
            "seed_range": seed,
            "within_seed": None if math.isnan(seed) or not done else abs(result["diff"]) < seed,
            "seeds_declared": declared,
            "sources": [x["source"] for x in (a, b) if x is not None],
        })  # fmt: skip
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


CLAIM_COLUMNS = ["stem", "what", "a", "b", "a_exact", "b_exact", "test", "diff", "p", "detail",
                 "direction", "seed_range", "within_seed", "seeds_declared", "sources"]  # fmt: skip


def bootstrap_interval(outcomes: pd.DataFrame, name: str | None) -> tuple[float, float]:
    """Schema-clustered bootstrap 95% interval of an evaluation's JSONExact (NaN: not run)."""
    rows = outcomes[outcomes["name"] == name] if name else outcomes.iloc[0:0]
    return stats.cluster_bootstrap(
        rows["json_exact"].astype(int).tolist(), rows["schema_id"].tolist(), seed=BOOT_SEED
    )


def seed_table(evals: pd.DataFrame, plan: _Plan, runs: Sequence[str]) -> pd.DataFrame:
    """Each run with seed replicates declared: JSONExact per seed (None: not run), mean, range."""
    rows = []
    for run in runs:
        reps = plan.replicates_of(run)
        if not reps:
            continue
        found = {r: find(evals, Side(r)) for r in (run, *reps)}
        spread = stats.spread([x["json_exact"] for x in found.values() if x is not None])
        rows.append({
            "run": run, "seeds": len(found), "n_run": spread.n,
            "values": {r: None if x is None else x["json_exact"] for r, x in found.items()},
            "mean": spread.mean, "lo": spread.lo, "hi": spread.hi, "range": spread.range,
            "sources": [x["source"] for x in found.values() if x is not None],
        })  # fmt: skip
    return pd.DataFrame(
        rows, columns=["run", "seeds", "n_run", "values", "mean", "lo", "hi", "range", "sources"]
    )


# ----------------------------------------------------------------------------- wording
def for_report(frames: Any, reference: dict[str, Any]) -> pd.DataFrame:
    """The paper's claims evaluated on a report's frames (maaza.report.frames.Frames: design, evals,
    outcomes) and the original's reported JSONExact (paper_reference.yaml, MaazaSmall)."""
    reported = next((m["overall"]["json_exact"] for m in reference.get("models", [])
                     if m.get("macro") == "MaazaSmall"), None)  # fmt: skip
    specs = paper_claims(frames.design, None if reported is None else reported / 100)
    return evaluate(specs, frames.evals, frames.outcomes, frames.design.plan)


def _absent(row: pd.Series | None, key: str) -> bool:
    """No row, or no value (pandas stores None as NaN in a column without any value)."""
    return row is None or row[key] is None or (isinstance(row[key], float) and math.isnan(row[key]))


def p_text(row: pd.Series | None) -> str | None:
    """'McNemar $p = 0.012$' (TeX); None: a side is not run."""
    if _absent(row, "test") or not row["test"]:
        return None
    if row["test"] == "none":
        return "no paired test (predictions missing)"
    return f"{row['test']} $p {p_number(row['p'])}$"


def p_number(p: float) -> str:
    """'< 0.001', '= 0.012', '= 0.31': three decimals near the threshold, two above."""
    return "< 0.001" if p < 0.001 else f"= {p:.3f}" if p < 0.1 else f"= {p:.2f}"


def verdict_text(row: pd.Series | None) -> str | None:
    """above | below | not significantly different from: what the test lets the text say."""
    return None if _absent(row, "direction") else WORDS[row["direction"]]


def seed_text(row: pd.Series | None) -> str | None:
    """How the difference compares with the spread over training seeds, as a clause after
    'the difference is'; None: a side is not run."""
    if _absent(row, "direction"):
        return None
    if _absent(row, "within_seed"):
        why = "seed replicates not run yet" if row["seeds_declared"] else "one seed per run"
        return f"not set against a spread over training seeds ({why})"
    where = "within" if row["within_seed"] else "larger than"
    return f"{where} the spread over training seeds ({100 * row['seed_range']:.1f}\\,pp)"
