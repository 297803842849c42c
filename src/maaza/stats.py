"""Tests behind the paper's comparisons (issue 21), pure functions on 0/1 outcomes per example.

    from maaza.stats import mcnemar, fisher, binomial_test, cluster_bootstrap, spread
    mcnemar(a, b).p                 # a, b: JSONExact (0/1) of two evaluations on the same examples
    fisher(k1, n1, k2, n2).p        # two evaluations on different examples (held-out vs test)
    binomial_test(k, n, 0.247).p    # a rate against a number someone reported (a different test set)
    cluster_bootstrap(correct, schema, seed=0)   # 95% interval that treats schemas as clusters
    spread([0.12, 0.14, 0.11])      # mean and range over runs that differ only by seed

Exact tests (no normal approximation): our evaluations have 60-160 examples and the discordant
pairs behind a McNemar test are often a handful. scipy is not a dependency: each exact p-value is
a few lines of `math.comb`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

ALPHA = 0.05  # a difference is called above/below only when its test gives p < ALPHA


@dataclass(frozen=True)
class Paired:
    """Exact McNemar test of two 0/1 outcome vectors on the same examples."""

    n: int  # paired examples
    a_only: int  # right under A, wrong under B
    b_only: int  # wrong under A, right under B
    p: float  # two-sided

    @property
    def diff(self) -> float:
        """A's rate minus B's, as a fraction."""
        return (self.a_only - self.b_only) / self.n if self.n else math.nan


@dataclass(frozen=True)
class Unpaired:
    """Two rates on different examples (k of n each), Fisher's exact test."""

    k1: int
    n1: int
    k2: int
    n2: int
    p: float

    @property
    def diff(self) -> float:
        return self.k1 / self.n1 - self.k2 / self.n2 if self.n1 and self.n2 else math.nan


@dataclass(frozen=True)
class Spread:
    """JSONExact over runs that differ only by seed."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def lo(self) -> float:
        return min(self.values, default=math.nan)

    @property
    def hi(self) -> float:
        return max(self.values, default=math.nan)

    @property
    def range(self) -> float:
        """max - min; NaN until two seeds are measured (one run has no spread to speak of)."""
        return self.hi - self.lo if self.n >= 2 else math.nan


def _binom_two_sided(k: int, n: int, p0: float) -> float:
    """Exact two-sided binomial p-value: the probability of every outcome no more likely than k
    (the convention of R's binom.test and scipy.stats.binomtest)."""
    if n == 0:
        return 1.0
    pmf = [math.comb(n, i) * p0**i * (1 - p0) ** (n - i) for i in range(n + 1)]
    return min(1.0, sum(x for x in pmf if x <= pmf[k] * (1 + 1e-7)))


def binomial_test(k: int, n: int, p0: float) -> float:
    """Exact two-sided p-value of k successes in n against rate p0."""
    if not 0 <= k <= n:
        raise ValueError(f"binomial_test: need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"binomial_test: rate must be in [0, 1], got {p0}")
    return _binom_two_sided(k, n, p0)


def mcnemar(a: Sequence[int | bool], b: Sequence[int | bool]) -> Paired:
    """Exact McNemar test: under no difference, the discordant pairs split 50/50."""
    if len(a) != len(b):
        raise ValueError(f"mcnemar: {len(a)} outcomes against {len(b)}: pair them by example first")
    a_only = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    b_only = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    return Paired(len(a), a_only, b_only, _binom_two_sided(a_only, a_only + b_only, 0.5))


def pair(a: dict[Hashable, int], b: dict[Hashable, int]) -> tuple[list[int], list[int]]:
    """Outcomes of two evaluations keyed by example id, in one order; both must score the same
    examples (a paired test of different examples would be meaningless)."""
    if a.keys() != b.keys():
        only_a, only_b = (
            sorted(map(str, a.keys() - b.keys())),
            sorted(map(str, b.keys() - a.keys())),
        )
        raise ValueError(
            f"pair: the two evaluations score different examples ({len(only_a)} only in the first, "
            f"e.g. {only_a[:2]}; {len(only_b)} only in the second, e.g. {only_b[:2]})"
        )
    keys = sorted(a, key=str)
    return [a[k] for k in keys], [b[k] for k in keys]


def fisher(k1: int, n1: int, k2: int, n2: int) -> Unpaired:
    """Fisher's exact test (two-sided) of k1/n1 against k2/n2: the hypergeometric probability of
    every table with the same margins that is no more likely than the observed one."""
    if not (0 <= k1 <= n1 and 0 <= k2 <= n2):
        raise ValueError(f"fisher: need 0 <= k <= n, got {k1}/{n1} and {k2}/{n2}")
    k, n = k1 + k2, n1 + n2
    lo, hi = max(0, k - n2), min(k, n1)

    def prob(x: int) -> float:
        return math.comb(n1, x) * math.comb(n2, k - x) / math.comb(n, k)

    observed = prob(k1)
    p = sum(q for x in range(lo, hi + 1) if (q := prob(x)) <= observed * (1 + 1e-7))
    return Unpaired(k1, n1, k2, n2, min(1.0, p))


def cluster_bootstrap(
    correct: Sequence[int | bool],
    clusters: Sequence[Hashable],
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of a rate whose examples come in clusters (schemas): each replicate
    draws clusters with replacement, then examples with replacement within each drawn cluster.
    Wider than a Wilson interval when a schema's examples succeed or fail together."""
    if len(correct) != len(clusters):
        raise ValueError(f"cluster_bootstrap: {len(correct)} outcomes, {len(clusters)} clusters")
    if not correct:
        return math.nan, math.nan
    groups: dict[Hashable, list[int]] = {}
    for x, c in zip(correct, clusters, strict=True):
        groups.setdefault(c, []).append(int(bool(x)))
    sizes = np.array([len(v) for v in groups.values()])
    rates = np.array([sum(v) / len(v) for v in groups.values()])
    rng = np.random.default_rng(seed)
    picked = rng.integers(len(sizes), size=(n_boot, len(sizes)))  # (B, C) clusters drawn
    # examples drawn with replacement within a cluster: their successes are Binomial(size, rate)
    hits = rng.binomial(sizes[picked], rates[picked]).sum(axis=1)
    stats = hits / sizes[picked].sum(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def spread(values: Sequence[float]) -> Spread:
    """JSONExact of runs that differ only by seed (NaN, a run not evaluated yet, left out)."""
    return Spread(tuple(float(v) for v in values if not math.isnan(float(v))))


def direction(diff: float, p: float, alpha: float = ALPHA) -> str:
    """above | below | same: the wording a comparison may use, from its test."""
    if math.isnan(p) or math.isnan(diff) or p >= alpha or diff == 0:
        return "same"
    return "above" if diff > 0 else "below"
