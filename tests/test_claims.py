"""maaza.claims: each comparison gets the test its pairing allows, its wording follows the test,
and the paper states no comparison without its test beside it (issue 21)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from maaza import claims
from maaza.claims import COMPARATIVE, Claim, Side
from maaza.report import load_frames, load_reference, parse_numbers, render

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"


class Plan:
    def __init__(self, reps: dict[str, tuple[str, ...]] | None = None) -> None:
        self.reps = reps or {}

    def replicates_of(self, run):
        return self.reps.get(run, ())


def _eval(name, run, correct, split="test", mode="constrained", model="m"):
    n = len(correct)
    return {"name": name, "run": run, "model": model, "mode": mode, "split": split, "n": n,
            "json_exact": sum(correct) / n, "source": f"{name}/metrics.json"}  # fmt: skip


def _outcomes(name, correct, prefix="x"):
    return [{"name": name, "id": f"{prefix}{i}", "schema_id": f"s{i % 3}", "json_exact": c}
            for i, c in enumerate(correct)]  # fmt: skip


A = [1] * 12 + [0] * 8  # 12 of 20
B = [0] * 12 + [0] * 8  # 0 of 20: 12 discordant pairs, all for A


def _frames(*evals):
    """evals: (name, run, outcomes, split); outcomes share ids within a split."""
    rows = [_eval(n, r, c, s) for n, r, c, s in evals]
    outs = [o for n, _, c, s in evals for o in _outcomes(n, c, prefix=s)]
    return pd.DataFrame(rows), pd.DataFrame(outs)


def test_same_examples_get_mcnemar_and_a_direction():
    evals, outs = _frames(("ea", "a", A, "test"), ("eb", "b", B, "test"))
    t = claims.evaluate([Claim("AVsB", "a vs b", Side("a"), Side("b"))], evals, outs, Plan())
    r = t.iloc[0]
    assert (r["test"], r["detail"], r["direction"]) == ("McNemar", "12:0", "above")
    assert r["p"] == pytest.approx(2 * 0.5**12)
    assert claims.verdict_text(r) == "above"
    assert claims.p_text(r) == "McNemar $p < 0.001$"
    # reversed, it is below; with few discordant pairs, no direction may be stated
    r = claims.evaluate([Claim("BVsA", "", Side("b"), Side("a"))], evals, outs, Plan()).iloc[0]
    assert claims.verdict_text(r) == "below"
    evals, outs = _frames(("ea", "a", [1, 1, 0, 0], "test"), ("eb", "b", [1, 0, 0, 0], "test"))
    r = claims.evaluate([Claim("AVsB", "", Side("a"), Side("b"))], evals, outs, Plan()).iloc[0]
    assert (r["p"], claims.verdict_text(r)) == (1.0, "not significantly different from")


def test_different_examples_get_fisher_and_a_reported_rate_a_binomial_test():
    evals, outs = _frames(("ea", "a", A, "holdout"), ("eb", "a", B, "test"))
    specs = [Claim("H", "", Side("a", split="holdout"), Side("a")),
             Claim("P", "", Side("a"), 0.5), Claim("Q", "", Side("a"), 0.1)]  # fmt: skip
    t = claims.evaluate(specs, evals, outs, Plan()).set_index("stem")
    assert t.loc["H", "test"] == "Fisher" and t.loc["H", "detail"] == "12/20:0/20"
    assert t.loc["H", "direction"] == "above"
    # 0 of 20 on the test split against a reported 50%: below; against 10%: P(X = 0) = 0.12 plus
    # the outcomes no more likely, X >= 4 (P(X = 3) = 0.19 is more likely)
    assert t.loc["P", "test"] == "binomial" and t.loc["P", "b"] == "reported"
    assert t.loc["P", "direction"] == "below"
    tail = sum(math.comb(20, k) * 0.1**k * 0.9 ** (20 - k) for k in range(4, 21))
    assert t.loc["Q", "p"] == pytest.approx(0.9**20 + tail, rel=1e-6)
    assert t.loc["Q", "direction"] == "same"


def test_a_side_not_run_says_not_run_never_a_guess():
    evals, outs = _frames(("ea", "a", A, "test"))
    r = claims.evaluate([Claim("X", "", Side("a"), Side("gone"))], evals, outs, Plan()).iloc[0]
    assert r["b"] is None and claims.verdict_text(r) is None and claims.p_text(r) is None
    assert claims.seed_text(r) is None


def test_the_difference_is_set_against_the_seed_spread():
    """a's three seeds span 12/20 to 16/20; b's one run 0/20: a difference of 12/20 is beyond
    a range of 4/20; against a's own replicate, a difference of 2/20 is within it."""
    a1, a2 = [1] * 16 + [0] * 4, [1] * 14 + [0] * 6
    evals, outs = _frames(("ea", "a", A, "test"), ("ea1", "a-s1", a1, "test"),
                          ("ea2", "a-s2", a2, "test"), ("eb", "b", B, "test"))  # fmt: skip
    plan = Plan({"a": ("a-s1", "a-s2")})
    t = claims.evaluate([Claim("AVsB", "", Side("a"), Side("b")),
                         Claim("AVsA", "", Side("a-s2"), Side("a"))], evals, outs, plan)  # fmt: skip
    far, near = t.iloc[0], t.iloc[1]
    assert far["seed_range"] == pytest.approx(0.2) and not far["within_seed"]
    assert claims.seed_text(far) == r"larger than the spread over training seeds (20.0\,pp)"
    assert near["within_seed"]
    seeds = claims.seed_table(evals, plan, ["a", "b"])
    assert seeds["run"].tolist() == ["a"]
    assert seeds.iloc[0]["mean"] == pytest.approx((12 + 16 + 14) / 60)
    # replicates declared but not run: said so
    plan = Plan({"b": ("b-s1",)})
    r = claims.evaluate([Claim("AVsB", "", Side("a"), Side("b"))], evals, outs, plan).iloc[0]
    assert "seed replicates not run yet" in claims.seed_text(r)


def test_clustered_bootstrap_of_an_evaluation():
    _, outs = _frames(("ea", "a", A, "test"))
    lo, hi = claims.bootstrap_interval(outs, "ea")
    assert lo < 0.6 < hi and (lo, hi) == claims.bootstrap_interval(outs, "ea")
    assert all(x != x for x in claims.bootstrap_interval(outs, None))  # NaN: not run


# ----------------------------------------------------------------------------- the paper
def _numbers() -> dict[str, list]:
    from test_report import FIXTURE, paths_for

    rendered = render(load_frames(paths_for(FIXTURE, Path("/nonexistent"))), load_reference())
    committed = (PAPER / "generated" / "numbers.tex").read_text()
    return {"render()": parse_numbers(rendered), "numbers.tex": parse_numbers(committed)}


NUMBERS = _numbers()
TEST_OF = re.compile(r"test: \\([A-Za-z]+P)\b")


@pytest.mark.parametrize("where", sorted(NUMBERS))
def test_every_comparative_macro_has_its_test_beside_it(where):
    """A macro stating a comparison (a difference, a gain, a verdict, a reading) names its test
    in its source comment, and that test's p-value macro is defined too."""
    numbers = NUMBERS[where]
    defined = {n.name: n for n in numbers}
    comparative = [n for n in numbers if COMPARATIVE.match(n.name)]
    assert len(comparative) > 20  # the rule finds the comparisons at all
    for n in comparative:
        m = TEST_OF.search(n.source)
        assert m, f"{where}: \\{n.name} states a comparison with no test named beside it"
        assert m.group(1) in defined, f"{where}: \\{n.name}'s test \\{m.group(1)} is not defined"
        value = defined[m.group(1)].value
        assert "$p" in value or value in (r"\notrun{}", "no paired test (predictions missing)")


def test_every_comparative_sentence_quotes_its_test():
    """In the paper's text, a paragraph that uses a comparative macro also prints its p-value."""
    test_of = {n.name: TEST_OF.search(n.source) for n in NUMBERS["render()"]}
    for tex in sorted((PAPER / "sections").glob("*.tex")):
        for i, para in enumerate(re.split(r"\n\s*\n", tex.read_text())):
            for name in set(re.findall(r"\\([A-Za-z]+)\{\}", para)):
                if COMPARATIVE.match(name) and name in test_of:
                    p = test_of[name].group(1)
                    assert f"\\{p}" in para, f"{tex.name} paragraph {i}: \\{name} without \\{p}"


def test_verdict_words_follow_the_test():
    verdicts = [n for n in NUMBERS["render()"] if n.name.endswith("Verdict") and "Vs" in n.name]
    allowed = {*claims.WORDS.values(), r"\notrun{}"}
    assert verdicts and all(n.value in allowed for n in verdicts)


def test_the_report_handles_seed_replicates_missing_and_run(tmp_path):
    """Declared but not run: "not run" in the seed table and the compute table, and the seed
    clause says so. One replicate run: kept out of the headline tables, and the seed spread
    (its JSONExact and the base run's) is set against the difference."""
    import json
    import shutil

    import yaml
    from test_report import FIXTURE, metrics, paths_for

    from maaza.report.tables import compute, seed_spread

    params = yaml.safe_load((FIXTURE / "params.yaml").read_text())
    params["seeds"] = {"train": {"runs": ["smollm2-135m-r16"], "seeds": [1, 2]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    src = tmp_path / "src"
    shutil.copytree(FIXTURE, src)

    def build():
        frames = load_frames(paths_for(src, tmp_path / "out", tmp_path / "params.yaml"))
        numbers = {n.name: n.value for n in parse_numbers(render(frames, load_reference()))}
        return frames, numbers

    frames, n = build()
    assert n["MainSeedRuns"] == "1 of 3" and n["MainSeedSpread"] == r"\notrun{}"
    assert "seed replicates not run yet" in n["OursVsMainSeed"]
    assert r"\notrun{}, \notrun{}" in seed_spread(frames, load_reference())
    assert r"\texttt{smollm2-135m-r16-s1}" in compute(frames, load_reference())

    main = metrics("ft-smollm2-135m-r16-constrained")
    rep = src / "results" / "eval" / "ft-smollm2-135m-r16-s1-constrained"
    shutil.copytree(src / "results" / "eval" / "ft-smollm2-135m-r16-constrained", rep)
    m = main | {"name": rep.name, "run": "smollm2-135m-r16-s1"}
    m["overall"] = main["overall"] | {"json_exact": main["overall"]["json_exact"] - 0.05}
    (rep / "metrics.json").write_text(json.dumps(m))
    frames, n = build()
    assert rep.name not in set(frames.headline()["name"])
    assert frames.evals.set_index("name").loc[rep.name, "kind"] == "seed"
    assert n["MainSeedRuns"] == "2 of 3" and "range" in n["MainSeedSpread"]
    # our recipe vs the paper's: 14.3 points apart, the paper recipe's seeds 5 apart
    assert n["OursVsMainSeed"] == r"larger than the spread over training seeds (5.0\,pp)"
