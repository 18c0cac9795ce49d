"""Re-measure a study's finalists in fresh processes: is the front real, or the host's mood?

    fastvlm-explore confirm --study quick                  # the feasible front, 3 processes each
    fastvlm-explore confirm --study quick --trials 4,7 --processes 5 --budget-s 60

A sweep measures each component once, in one process, at whatever speed the host had then,
and composes later trials from the cache. Part of the variance of a latency is per process
(memory layout, thread placement) and part is the host's (a shared VM drifts by tens of percent
within minutes), so winners are re-measured in >= 3 fresh processes before they are trusted
(Georges et al., "Statistically rigorous Java performance evaluation", OOPSLA 2007). Each
chosen trial is measured from scratch -- no component cache, end to end where the model fits --
once per fresh Python process, and the rounds are interleaved (round 1 measures every trial
once in a shuffled order, then round 2, ...) so that a slow spell of the host hits all trials
alike instead of one of them.

The result is stored in the study (user attribute `confirmations`, per trial number), where
`pareto`, `recommend` and the dashboard show it beside the sweep's number.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .pareto import pareto_mask, to_losses

CONFIRMATIONS_ATTR = "confirmations"
STAGES = ("encoder", "projector", "prefill")


@dataclass
class Confirmation:
    """One trial re-measured in fresh processes."""

    number: int
    summary: str
    sweep_ttft_ms: float
    runs: list[dict] = field(default_factory=list)  # one per process: ttft_ms, stages, flags

    @property
    def ttfts(self) -> list[float]:
        return [r["ttft_ms"] for r in self.runs if "ttft_ms" in r]

    @property
    def errors(self) -> list[str]:
        return [r["error"] for r in self.runs if "error" in r]

    @property
    def median_ms(self) -> float | None:
        return statistics.median(self.ttfts) if self.ttfts else None

    @property
    def spread(self) -> float | None:
        """(max - min) / median of the per-process medians: Georges et al.'s repeatability."""
        return _spread(self.ttfts)

    @property
    def canary_adjusted_spread(self) -> float | None:
        """The same spread of TTFT / canary median: what would be left if the canary matmul
        tracked the host's speed. In JSON only: on the shared EPYC host it narrowed the spread
        for 1 of 7 trials (benchmarks/results/confirm.md), so verdicts use the raw medians."""
        r = [x["ttft_ms"] / x["canary_ms"] for x in self.runs if x.get("canary_ms")]
        return _spread(r)

    @property
    def ratio(self) -> float | None:
        """Confirmed median / the sweep's TTFT."""
        return self.median_ms / self.sweep_ttft_ms if self.ttfts else None

    def to_dict(self) -> dict:
        stages = {s: statistics.median(r[f"{s}_ms"] for r in self.runs if "ttft_ms" in r)
                  for s in STAGES} if self.ttfts else {}
        return {"number": self.number, "summary": self.summary,
                "sweep_ttft_ms": self.sweep_ttft_ms, "ttft_ms": self.ttfts,
                "median_ms": self.median_ms, "spread": self.spread, "ratio": self.ratio,
                "canary_ms": [r.get("canary_ms") for r in self.runs if "ttft_ms" in r],
                "canary_adjusted_spread": self.canary_adjusted_spread, "stages_ms": stages,
                "unstable_runs": sum(bool(r.get("unstable")) for r in self.runs),
                "processes": len(self.ttfts), "errors": self.errors}


def _spread(values: list[float]) -> float | None:
    return (max(values) - min(values)) / statistics.median(values) if len(values) >= 2 else None


@dataclass
class ConfirmReport:
    study: str
    processes: int
    budget_s: float
    confirmations: list[Confirmation]
    proxies: dict[int, float]  # trial number -> proxy value (the accuracy objective)
    max_ttft_ms: float | None = None

    def order(self) -> list[dict]:
        """Each neighbour pair in the sweep's TTFT order, re-judged on the confirmed medians:
        `holds`, `swapped` (the per-process ranges do not overlap) or `tie` (they overlap)."""
        done = sorted((c for c in self.confirmations if c.ttfts),
                      key=lambda c: (c.sweep_ttft_ms, c.number))
        out = []
        for a, b in zip(done, done[1:]):
            if a.median_ms < b.median_ms and max(a.ttfts) < min(b.ttfts):
                verdict = "holds"
            elif max(b.ttfts) < min(a.ttfts):
                verdict = "swapped"
            else:
                verdict = "tie"
            out.append({"faster_in_sweep": a.number, "slower_in_sweep": b.number,
                        "verdict": verdict})
        return out

    def dominated(self) -> dict[int, int]:
        """Trials no longer Pareto-optimal among the confirmed ones once their confirmed TTFT
        is used: number -> a confirmed trial that dominates it."""
        done = [c for c in self.confirmations if c.ttfts and c.number in self.proxies]
        if len(done) < 2:
            return {}
        points = to_losses([[c.median_ms, self.proxies[c.number]] for c in done],
                           ["minimize", "maximize"])
        mask = pareto_mask(points)
        out = {}
        for i in np.flatnonzero(~mask):
            better = np.all(points <= points[i], axis=1) & np.any(points < points[i], axis=1)
            out[done[i].number] = done[int(np.flatnonzero(better)[0])].number
        return out

    def to_dict(self) -> dict:
        dominated = self.dominated()
        trials = []
        for c in self.confirmations:
            d = c.to_dict() | {"still_pareto_optimal": c.number not in dominated,
                               "dominated_by": dominated.get(c.number)}
            if self.max_ttft_ms is not None and c.median_ms is not None:
                d["within_ttft_budget"] = c.median_ms <= self.max_ttft_ms
            trials.append(d)
        return {"study": self.study, "processes": self.processes, "budget_s": self.budget_s,
                "max_ttft_ms": self.max_ttft_ms, "trials": trials, "order": self.order()}


def interleaved_plan(numbers: list[int], processes: int, seed: int = 0) -> list[int]:
    """Trial numbers in measuring order: `processes` rounds, each a shuffle of all of them."""
    rng = random.Random(seed)
    plan = []
    for _ in range(processes):
        round_ = list(numbers)
        rng.shuffle(round_)
        plan += round_
    return plan


def measure_in_fresh_process(config: dict, settings: dict, cache_dir: str,
                             timeout_s: float) -> dict:
    """TTFT of `config` measured by a new Python process (no component cache).

    Returns the measurement's compact form, or {"error": reason} when the process failed
    (out of memory, a crash, the timeout): the confirmation records it and goes on.
    """
    env = os.environ | {"FASTVLM_CACHE_DIR": cache_dir}
    job = json.dumps({"config": config, "settings": settings})
    try:
        done = subprocess.run([sys.executable, "-m", "explorer.confirm"], input=job, env=env,
                              capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        if done.returncode < 0:
            reason = f"killed by signal {-done.returncode} (out of memory?)"
        return {"error": reason}
    return json.loads(done.stdout)


def confirm(numbers: list[int], rows: dict[int, dict], settings: dict, processes: int,
            on_result: Callable[[Confirmation], None] | None = None,
            measure: Callable[[dict, dict, str, float], dict] = measure_in_fresh_process,
            seed: int = 0) -> list[Confirmation]:
    """Measure each trial in `numbers` once per round, `processes` rounds, interleaved.

    Args:
        rows: trial number -> the study frame's row (config, summary, ttft_ms).
        settings: `MeasureSettings` fields for the child processes.
        on_result: called after every measurement with the trial's updated confirmation (the
            CLI stores it at once, so an interrupted run keeps what it measured).
    """
    found = {n: Confirmation(n, rows[n]["summary"], rows[n]["ttft_ms"]) for n in numbers}
    # generous: the protocol stops at its budget per group, plus building and extrapolation
    timeout_s = 60 + 20 * float(settings.get("budget_s", 30))
    with tempfile.TemporaryDirectory(prefix="fastvlm-confirm-") as cache_dir:
        for number in interleaved_plan(numbers, processes, seed):
            run = measure(rows[number]["config"], settings, cache_dir, timeout_s)
            found[number].runs.append(run)
            if on_result is not None:
                on_result(found[number])
    return [found[n] for n in numbers]


def _child() -> int:
    """`python -m explorer.confirm`: read {config, settings} on stdin, measure with no cache
    reads, print the compact JSON result on stdout."""
    from fastvlm.cache import LatencyCache
    from fastvlm.measure import MeasureSettings, measure_ttft
    from fastvlm.presets import config_from_dict

    job = json.load(sys.stdin)
    t0 = time.perf_counter()
    try:
        cfg = config_from_dict(job["config"], source="trial config")
        settings = MeasureSettings(**(job["settings"] | {"use_cache": False,
                                                          "memory": "predicted"}))
        with LatencyCache() as cache:
            result = measure_ttft(cfg, settings, cache).to_dict()
    except Exception as e:  # the parent records the reason and goes on with the next run
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    keep = ("ttft_ms", "encoder_ms", "projector_ms", "prefill_ms", "ttft_method",
            "additivity_error", "n", "unstable", "extrapolated", "fingerprint")
    out = {k: result[k] for k in keep} | {
        "canary_drift": result["protocol"].get("canary_drift"),
        "canary_ms": result["protocol"].get("canary_ms"),
        "wall_s": time.perf_counter() - t0}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
