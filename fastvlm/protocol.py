"""The timing protocol of design.md section 4 for a set of items measured together.

1. Every item's cold first call is timed and kept apart.
2. Adaptive warm-up in shuffled rounds: until each item's last 3 calls are within +-5% of their
   median (at least 3 calls; at most 10 calls or 20% of the budget).
3. Measurement in shuffled round-robin rounds, always including a canary matmul whose drift
   (second half of the rounds vs the first) tells how the machine changed meanwhile (None when
   fewer than 4 rounds were taken: two single calls cannot tell drift from noise). Stop when
   every primary item has n >= min_n and the 95% CI of its median is within +-target_ci, or
   the time budget is spent, or n == max_n.
   At least `min_rounds` rounds are always taken.
4. `unstable` = canary drift > 10%, or a primary item's IQR/median > 10% (ignoring items too
   small to move TTFT).
Each call is timed with `perf_counter_ns`, device-synchronised at both ends, with GC disabled.
"""

from __future__ import annotations

import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .runtime import synchronize
from .stats import Latency

UNSTABLE_IQR, UNSTABLE_DRIFT = 0.10, 0.10


@dataclass
class Item:
    name: str
    fn: Callable[[], object]
    primary: bool = True  # counts for the stopping rule and the unstable flag


@dataclass(frozen=True)
class ProtocolSettings:
    budget_s: float = 30.0
    min_n: int = 7
    max_n: int = 30
    target_ci: float = 0.025
    min_rounds: int = 3
    warmup_max_calls: int = 10
    seed: int = 0


@dataclass
class ProtocolResult:
    stats: dict[str, Latency]
    cold_ms: dict[str, float]
    warmup_calls: dict[str, int]
    canary_drift: float | None  # None: too few rounds to tell (not "no drift")
    drifted: bool  # the canary moved > 10%: the machine changed during the measurement
    noisy: list[str]  # items with IQR/median > 10% (that matter at the scale of the largest)
    rounds: int
    elapsed_s: float
    stop_reason: str
    warmup_last_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def unstable(self) -> bool:
        return self.drifted or bool(self.noisy)

    @property
    def canary_ms(self) -> float:
        """The canary's median in this measurement. Recorded so that runs in different
        processes can be set side by side; on the shared EPYC host it did not follow the
        TTFT's drift between processes (benchmarks/results/confirm.md)."""
        return self.stats["canary"].median_ms

    def item_unstable(self, name: str) -> bool:
        return self.drifted or name in self.noisy

    def to_dict(self) -> dict:
        return {"cold_ms": self.cold_ms, "warmup_calls": self.warmup_calls,
                "warmup_last_ms": self.warmup_last_ms,  # the calls that ended the warm-up
                "canary_drift": self.canary_drift, "canary_ms": self.canary_ms,
                "unstable": self.unstable,
                "noisy_items": self.noisy,
                "rounds": self.rounds, "elapsed_s": self.elapsed_s,
                "stop_reason": self.stop_reason}


def make_canary(device: str, size: int = 512) -> Callable[[], object]:
    """A fixed small matmul (~2 ms on a laptop CPU): the machine's pulse."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    return lambda: torch.mm(a, b)


def time_call(fn: Callable[[], object], device: str) -> float:
    """One call in ms, synchronised at both ends, GC paused."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        synchronize(device)
        t0 = time.perf_counter_ns()
        fn()
        synchronize(device)
        return (time.perf_counter_ns() - t0) / 1e6
    finally:
        if gc_was_enabled:
            gc.enable()


def _stable(last: list[float]) -> bool:
    if len(last) < 3:
        return False
    window = last[-3:]
    med = float(np.median(window))
    return all(abs(v - med) <= 0.05 * med for v in window)


# An item this small next to the largest one (TTFT scale) cannot move TTFT: its relative noise
# does not count for stopping or for the unstable flag.
NEGLIGIBLE_FRACTION = 0.005


def _converged(items: list[Item], samples: dict[str, list[float]], target_ci: float) -> bool:
    stats = {it.name: Latency.from_samples(samples[it.name]) for it in items if it.primary}
    scale = max(s.median_ms for s in stats.values())
    return all(s.ci_half_rel <= target_ci
               or s.ci_half_rel * s.median_ms <= NEGLIGIBLE_FRACTION * scale
               for s in stats.values())


def _canary_drift(canary_ms: list[float]) -> float | None:
    """Relative change of the canary between the first and second half of the rounds.

    Both halves are taken in the same interleaved setting (the warm-up is not: items drop out
    of it as they stabilise, so the canary there runs with hot caches).
    """
    half = len(canary_ms) // 2
    if half < 2:
        return None
    first, second = np.median(canary_ms[:half]), np.median(canary_ms[-half:])
    return float(abs(second / first - 1.0))


def _noisy(lat: Latency, scale: float) -> bool:
    return (lat.iqr_rel > UNSTABLE_IQR
            and lat.iqr_rel * lat.median_ms > 2 * NEGLIGIBLE_FRACTION * scale)


def run_protocol(items: list[Item], device: str, settings: ProtocolSettings = ProtocolSettings(),
                 progress: Callable[[str, float], None] | None = None,
                 on_warmup: Callable[[dict[str, list[float]]], list[Item]] | None = None,
                 ) -> ProtocolResult:
    """Measure `items` (plus a canary) interleaved; see the module docstring.

    Args:
        progress: called with (phase, fraction of the budget used).
        on_warmup: called once warm-up ends with each item's warm-up times; returns the items to
            measure (lets the caller pick e.g. the faster memory format from the warm-up).
    """
    rng = random.Random(settings.seed)
    items = list(items) + [Item("canary", make_canary(device), primary=False)]
    start = time.perf_counter()
    elapsed = lambda: time.perf_counter() - start  # noqa: E731
    report = progress or (lambda phase, frac: None)

    cold = {it.name: time_call(it.fn, device) for it in items}
    warm: dict[str, list[float]] = {it.name: [] for it in items}
    pending = list(items)
    while pending:  # at least one warm-up round, then until stable or 20% of the budget
        rng.shuffle(pending)
        for it in pending:
            warm[it.name].append(time_call(it.fn, device))
        pending = [it for it in pending if not _stable(warm[it.name])
                   and len(warm[it.name]) < settings.warmup_max_calls]
        report("warm-up", min(1.0, elapsed() / settings.budget_s))
        if elapsed() >= 0.2 * settings.budget_s:
            break
    if on_warmup is not None:
        canary = items[-1]
        items = on_warmup(warm) + [canary]

    samples: dict[str, list[float]] = {it.name: [] for it in items}
    rounds, reason = 0, "max_n"
    while rounds < settings.max_n:
        order = items[:]
        rng.shuffle(order)
        for it in order:
            samples[it.name].append(time_call(it.fn, device))
        rounds += 1
        report("measure", min(1.0, elapsed() / settings.budget_s))
        if rounds < settings.min_rounds:
            continue
        if rounds >= settings.min_n and _converged(items, samples, settings.target_ci):
            reason = "converged"
            break
        if elapsed() >= settings.budget_s:
            reason = "budget"
            break

    stats = {name: Latency.from_samples(v) for name, v in samples.items()}
    drift = _canary_drift(samples["canary"])
    scale = max(stats[it.name].median_ms for it in items if it.primary)
    noisy = [it.name for it in items if it.primary and _noisy(stats[it.name], scale)]
    return ProtocolResult(stats=stats, cold_ms=cold,
                          warmup_calls={k: len(v) for k, v in warm.items()},
                          canary_drift=drift,
                          drifted=drift is not None and drift > UNSTABLE_DRIFT, noisy=noisy,
                          rounds=rounds,
                          elapsed_s=elapsed(), stop_reason=reason,
                          warmup_last_ms={k: v[-3:] for k, v in warm.items()})
