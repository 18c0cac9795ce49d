"""Robust latency statistics: median (primary), p90, min, IQR/median, and the median's 95% CI.

The CI is distribution-free (order statistics of Binomial(n, 1/2)), so it needs no normality
assumption on heavy-tailed timing noise. Outliers are counted (Tukey fences), never removed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int, float]:
    """1-based ranks (lo, hi) of sorted samples bracketing the median, and their coverage.

    With n < 6 no pair of ranks reaches 95%; then (1, n) is returned with its lower coverage.
    """
    alpha = 1.0 - confidence
    cdf, lo = 0.0, 0
    for k in range(n // 2 + 1):
        cdf_next = cdf + math.comb(n, k) / 2**n  # P(X <= k)
        if cdf_next > alpha / 2:
            break
        cdf, lo = cdf_next, k + 1
    lo = max(lo, 1)
    coverage = 1.0 - 2 * sum(math.comb(n, k) for k in range(lo)) / 2**n
    return lo, n - lo + 1, coverage


@dataclass(frozen=True)
class Latency:
    """Statistics of one timed item; `samples_ms` are the raw per-call times, in call order."""

    samples_ms: tuple[float, ...]
    median_ms: float
    p90_ms: float
    min_ms: float
    iqr_rel: float  # IQR / median
    ci_low_ms: float
    ci_high_ms: float
    ci_coverage: float
    outliers: int

    @classmethod
    def from_samples(cls, samples_ms) -> Latency:
        x = np.asarray(list(samples_ms), dtype=float)
        if x.size == 0:
            raise ValueError("no samples")
        s = np.sort(x)
        q1, med, q3, p90 = np.percentile(s, [25, 50, 75, 90])
        lo, hi, coverage = median_ci_ranks(s.size)
        iqr = q3 - q1
        outliers = int(np.sum((s < q1 - 1.5 * iqr) | (s > q3 + 1.5 * iqr)))
        return cls(tuple(float(v) for v in x), float(med), float(p90), float(s[0]),
                   float(iqr / med) if med > 0 else 0.0, float(s[lo - 1]), float(s[hi - 1]),
                   coverage, outliers)

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    @property
    def ci_half_rel(self) -> float:
        """Half-width of the median's CI relative to the median."""
        return (self.ci_high_ms - self.ci_low_ms) / 2 / self.median_ms if self.median_ms else 0.0

    def to_dict(self, samples: bool = True) -> dict:
        d = {"median_ms": self.median_ms, "p90_ms": self.p90_ms, "min_ms": self.min_ms,
             "iqr_rel": self.iqr_rel, "ci_ms": [self.ci_low_ms, self.ci_high_ms],
             "ci_coverage": self.ci_coverage, "n": self.n, "outliers": self.outliers}
        if samples:
            d["samples_ms"] = list(self.samples_ms)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Latency:
        return cls.from_samples(d["samples_ms"])
