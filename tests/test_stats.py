"""maaza.stats: exact tests against hand-computed values and R's fisher.test, the clustered
bootstrap's behaviour, seed spread."""

from __future__ import annotations

import math

import pytest

from maaza import stats


def test_mcnemar_counts_discordant_pairs_and_gives_the_exact_p():
    a = [1, 1, 1, 0, 0, 1, 1, 0]
    b = [1, 0, 0, 0, 1, 0, 0, 0]
    t = stats.mcnemar(a, b)
    assert (t.n, t.a_only, t.b_only) == (8, 4, 1)
    # binom.test(4, 5, 0.5)$p.value = 0.375
    assert t.p == pytest.approx(0.375)
    assert t.diff == pytest.approx(3 / 8)


def test_mcnemar_of_identical_outcomes_is_no_evidence():
    t = stats.mcnemar([1, 0, 1], [1, 0, 1])
    assert (t.a_only, t.b_only, t.p) == (0, 0, 1.0)
    assert stats.direction(t.diff, t.p) == "same"


def test_mcnemar_many_one_sided_pairs_are_significant():
    t = stats.mcnemar([1] * 20 + [0] * 10, [0] * 20 + [0] * 10)
    assert t.p == pytest.approx(2 * 0.5**20)  # binom.test(20, 20) = 1.907e-06
    assert stats.direction(t.diff, t.p) == "above"
    assert stats.direction(-t.diff, t.p) == "below"


def test_binomial_test_by_hand():
    assert stats.binomial_test(3, 10, 0.5) == pytest.approx(352 / 1024)  # 2 * P(X <= 3)
    # asymmetric: outcomes no more likely than P(0) = 0.8^5 are 0, 2, 3, 4, 5 of 5
    assert stats.binomial_test(0, 5, 0.2) == pytest.approx(1 - 0.4096)
    assert stats.binomial_test(5, 10, 0.5) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="k <= n"):
        stats.binomial_test(11, 10, 0.5)


def test_fisher_matches_r():
    # fisher.test(matrix(c(3, 1, 1, 3), 2))$p.value = 0.4857; the tea-tasting table
    assert stats.fisher(3, 4, 1, 4).p == pytest.approx(0.4857, rel=1e-3)
    # fisher.test(matrix(c(10, 0, 0, 10), 2))$p.value = 1.083e-05
    assert stats.fisher(10, 10, 0, 10).p == pytest.approx(1.0825e-05, rel=1e-3)
    assert stats.fisher(5, 10, 10, 20).p == pytest.approx(1.0)


def test_pair_orders_by_id_and_refuses_different_examples():
    a, b = stats.pair({"x": 1, "y": 0}, {"y": 1, "x": 1})
    assert (a, b) == ([1, 0], [1, 1])
    with pytest.raises(ValueError, match="different examples"):
        stats.pair({"x": 1}, {"z": 1})


def test_cluster_bootstrap_is_seeded_and_wider_when_clusters_agree():
    # 10 schemas of 10 examples: all right or all wrong within a schema (strong clustering)
    correct = [1 if s < 4 else 0 for s in range(10) for _ in range(10)]
    schema = [s for s in range(10) for _ in range(10)]
    lo, hi = stats.cluster_bootstrap(correct, schema, seed=1)
    assert (lo, hi) == stats.cluster_bootstrap(correct, schema, seed=1)
    assert lo < 0.4 < hi
    # the same outcomes as 100 independent schemas give a narrower interval
    ilo, ihi = stats.cluster_bootstrap(correct, list(range(100)), seed=1)
    assert hi - lo > 1.5 * (ihi - ilo)
    assert stats.cluster_bootstrap([1, 1], ["a", "b"]) == (1.0, 1.0)
    assert all(math.isnan(x) for x in stats.cluster_bootstrap([], []))


def test_spread_over_seeds():
    s = stats.spread([0.12, 0.14, math.nan, 0.10])
    assert s.n == 3
    assert s.mean == pytest.approx(0.12)
    assert (s.lo, s.hi) == (0.10, 0.14)
    assert s.range == pytest.approx(0.04)
    assert math.isnan(stats.spread([0.2]).range)  # one seed: no spread measured
