"""Skip samples that are clearly over the TTFT budget, predicted from the study's own timings.

A budgeted sweep spends much of its time measuring configurations that end far over
`max_ttft_ms` (the mobile study: 18 of 60 trials, the slowest encoders the most expensive to
time). Once the study has timed enough encoders on this device, a sample whose TTFT *lower
bound* is over the budget is recorded as PRUNED with the bound and why, not measured, and not
counted toward the trial target (the sweep still measures as many configurations as asked).

The bound is the sum of two parts, both from this study's complete trials (one device):
- encoder: a Theil-Sen line through log(measured encoder ms) vs log(analytic encoder GFLOPs)
  (robust to the slow spells of a busy host, which only ever make timings longer), lowered by
  `Z` robust standard deviations of its residuals (at least `SPREAD_FLOOR`);
- prefill: the measured prefill of the same LLM and dtype at the longest sequence not longer
  than this one (prefill grows with sequence length), less `PREFILL_SLACK` for timing noise.
The projector is left out (it only lowers the bound). Published reference points are always
measured. Replayed on the mobile study's recorded timings, the rule skips 9 of the 12
over-budget trials after the first 10 and no trial that was within budget
(benchmarks/bench_skip.py). `[run] skip_over_budget = false` measures every sample.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from optuna.trial import FrozenTrial, TrialState

from fastvlm.config import VlmConfig

MIN_TIMED = 10  # encoders timed (distinct FLOP counts) before any sample is skipped
Z = 3.0  # robust standard deviations below the encoder line
SPREAD_FLOOR = 0.10  # log-space spread never taken below this (about 10%)
PREFILL_SLACK = 0.10
MAX_FIT_POINTS = 400  # the most recent timings; Theil-Sen is quadratic in the points


@dataclass(frozen=True)
class Timed:
    """One complete trial's timings and the analytic numbers they are predicted from."""

    dtype: str
    llm: str
    seq_len: int
    encoder_gflops: float
    encoder_ms: float
    prefill_ms: float

    @classmethod
    def from_trial(cls, t: FrozenTrial) -> Timed | None:
        a = t.user_attrs
        ttft, counts, cfg = a.get("ttft") or {}, a.get("counts") or {}, a.get("config") or {}
        try:
            timed = cls(dtype=cfg["dtype"], llm=cfg["llm"]["name"], seq_len=counts["seq_len"],
                        encoder_gflops=counts["gflops"]["encoder"],
                        encoder_ms=ttft["encoder_ms"], prefill_ms=ttft["prefill_ms"])
        except (KeyError, TypeError):
            return None
        return timed if timed.encoder_gflops > 0 and timed.encoder_ms > 0 else None


@dataclass(frozen=True)
class OverBudget:
    """Why a sample was not measured: its TTFT lower bound is over the budget."""

    summary: str
    lower_ms: float
    encoder_ms: float  # the line's prediction (a median, not a bound)
    encoder_lower_ms: float
    prefill_lower_ms: float
    prefill_seq_len: int | None
    spread: float
    timed: int
    max_ttft_ms: float

    def reason(self) -> str:
        prefill = (f"prefill >= {self.prefill_lower_ms:,.0f} ms as measured at "
                   f"{self.prefill_seq_len} tokens" if self.prefill_seq_len else
                   "prefill not counted (none measured at this length or shorter)")
        return (f"predicted over budget: {self.summary}: TTFT >= {self.lower_ms:,.0f} ms > "
                f"max_ttft_ms {self.max_ttft_ms:,.0f} (encoder ~{self.encoder_ms:,.0f} ms on "
                f"this study's line through {self.timed} timed encoders, >= "
                f"{self.encoder_lower_ms:,.0f} ms at {Z:g} x its spread {self.spread:.2f}; "
                f"{prefill}); not measured, not counted")

    def to_dict(self) -> dict:
        return asdict(self)


class TtftBound:
    """A lower bound on a configuration's TTFT from timed trials of the same study."""

    def __init__(self, timed: list[Timed]):
        self.timed = timed
        self._lines: dict[str, tuple[float, float, float, int] | None] = {}

    @classmethod
    def from_trials(cls, trials: list[FrozenTrial]) -> TtftBound:
        done = [t for t in trials if t.state == TrialState.COMPLETE]
        return cls([x for x in map(Timed.from_trial, sorted(done, key=lambda t: t.number))
                    if x is not None])

    def encoder_line(self, dtype: str) -> tuple[float, float, float, int] | None:
        """(intercept, slope, spread, points) of log ms vs log GFLOPs, or None if too few."""
        if dtype not in self._lines:
            pts = [t for t in self.timed if t.dtype == dtype][-MAX_FIT_POINTS:]
            x = np.log([t.encoder_gflops for t in pts])
            y = np.log([t.encoder_ms for t in pts])
            self._lines[dtype] = _theil_sen(x, y) if len(set(x.tolist())) >= MIN_TIMED else None
        return self._lines[dtype]

    def prefill_floor(self, llm: str, dtype: str, seq_len: int) -> tuple[float, int | None]:
        """The measured prefill at the longest sequence <= seq_len (same LLM and dtype), less
        the slack; (0, None) when there is none."""
        same = [t for t in self.timed if t.llm == llm and t.dtype == dtype
                and t.seq_len <= seq_len]
        if not same:
            return 0.0, None
        longest = max(t.seq_len for t in same)
        ms = min(t.prefill_ms for t in same if t.seq_len == longest)
        return ms * (1 - PREFILL_SLACK), longest

    def over_budget(self, cfg: VlmConfig, counts: dict, max_ttft_ms: float) -> OverBudget | None:
        """The reason to skip `cfg` (`counts`: its `AnalyticCounts.to_dict()`), or None to
        measure it."""
        line = self.encoder_line(cfg.dtype)
        if line is None:
            return None
        a, b, spread, n = line
        if b <= 0:  # more FLOPs must cost more time, or the line says nothing
            return None
        encoder = float(np.exp(a + b * np.log(counts["gflops"]["encoder"])))
        encoder_lower = encoder * float(np.exp(-Z * spread))
        prefill_lower, seq = self.prefill_floor(cfg.llm.name, cfg.dtype, cfg.seq_len)
        lower = encoder_lower + prefill_lower
        if lower <= max_ttft_ms:
            return None
        return OverBudget(summary=cfg.summary(), lower_ms=lower, encoder_ms=encoder,
                          encoder_lower_ms=encoder_lower, prefill_lower_ms=prefill_lower,
                          prefill_seq_len=seq, spread=spread, timed=n, max_ttft_ms=max_ttft_ms)


def _theil_sen(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, int]:
    """Median pairwise slope, median intercept, and the residuals' robust standard deviation
    (1.4826 x MAD, corrected for the two fitted parameters, floored)."""
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    ok = np.abs(dx) > 1e-12  # pairs in either order; equal FLOPs say nothing of the slope
    slope = float(np.median((y[j] - y[i])[ok] / dx[ok]))
    intercept = float(np.median(y - slope * x))
    r = y - (intercept + slope * x)
    mad = float(np.median(np.abs(r - np.median(r))))
    spread = max(1.4826 * mad * np.sqrt(len(x) / (len(x) - 2)), SPREAD_FLOOR)
    return intercept, slope, spread, len(x)
