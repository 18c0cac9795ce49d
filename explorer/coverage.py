"""How much of a study's space this machine has already measured (`sweep --dry-run`).

    fastvlm-explore sweep studies/paper.toml --dry-run   # "... 9 of 15 configurations cached"

A sweep's time goes into timing stages that the latency cache does not hold yet (and, at proxy
tier 1 or 2, reading pages at resolutions the legibility cache does not hold). Before starting
one, this walks every configuration of the space as the sweep would (invalid shapes and those
the pre-filter rejects are counted apart: they are never measured), derives the cache keys of
its encoder, projector and prefill on this device, and counts what the caches hold. It only
reads: no cache file is created.
"""

from __future__ import annotations

import itertools

from fastvlm.cache import LatencyCache, default_cache_path
from fastvlm.config import ConfigError
from fastvlm.extrapolate import plan_layers
from fastvlm.measure import COMPONENTS, MeasureError, component_keys
from fastvlm.runtime import setup_runtime

from .evaluate import Infeasible, prefilter
from .spec import StudySpec

# Walking a configuration costs ~1 ms (validation and analytic counts); larger spaces are
# sampled by a sweep anyway, so their coverage is not counted.
MAX_POINTS = 20_000


def cache_coverage(spec: StudySpec, max_points: int = MAX_POINTS) -> dict:
    """Counts of the space's configurations and stage timings already cached on this machine.

    Returns `{"points", "configurations", "rejected", "cached_configurations", "timings":
    {component: {"needed", "cached"}}, "legibility": {"needed", "cached"} (proxy tier >= 1),
    "device", "fingerprint"}`, or `{"points", "skipped": reason}` for spaces above
    `max_points`."""
    points = spec.space.size()
    if points > max_points:
        return {"points": points, "skipped": f"more than {max_points:,} points: not walked"}
    settings = spec.measure_settings()
    runtime = setup_runtime(settings.device, settings.threads)
    needed: dict[str, set[str]] = {c: set() for c in COMPONENTS}
    per_config: list[dict[str, str]] = []
    resolutions: set[int] = set()
    rejected = 0
    grid = spec.space.grid()
    for values in itertools.product(*grid.values()):
        try:
            cfg = spec.space.config_from_params(dict(zip(grid, values)))
            prefilter(cfg, spec)
            plan = plan_layers(cfg, settings.extrapolate, settings.memory_budget_mb,
                               runtime.device)
        except (ConfigError, Infeasible, MeasureError, ValueError):
            rejected += 1  # recorded as a failed or infeasible trial, never measured
            continue
        keys = component_keys(cfg, settings, plan)
        per_config.append(keys)
        resolutions.add(cfg.resolution)
        for comp, key in keys.items():
            needed[comp].add(key)
    held = _held_timings(runtime.fingerprint, needed)
    out = {"points": points, "configurations": len(per_config), "rejected": rejected,
           "cached_configurations": sum(all(k in held[c] for c, k in keys.items())
                                        for keys in per_config),
           "timings": {c: {"needed": len(needed[c]), "cached": len(held[c])} for c in COMPONENTS},
           "device": runtime.device, "fingerprint": runtime.fingerprint}
    if spec.proxy_tier >= 1:  # tier 2 reads tier 1's legibility too
        from fastvlm.proxy.tiers import tier1_cached

        out["legibility"] = {"needed": len(resolutions),
                             "cached": sum(tier1_cached(r) for r in resolutions)}
    return out


def _held_timings(fingerprint: str, needed: dict[str, set[str]]) -> dict[str, set[str]]:
    """The subset of `needed` keys the latency cache holds (any timing, stable or not: a sweep
    serves both, retiming an unstable one once per process)."""
    if not default_cache_path().exists():
        return {c: set() for c in needed}
    with LatencyCache() as cache:
        return {c: {k for k in keys if cache.get(fingerprint, c, k) is not None}
                for c, keys in needed.items()}


def coverage_line(cov: dict, budget_s: float) -> str:
    """One line for people, e.g. "cached on this machine (cpu): 5 of 8 configurations ..."."""
    if "skipped" in cov:
        return f"cache coverage: {cov['skipped']}"
    n, done = cov["configurations"], cov["cached_configurations"]
    parts = ", ".join(f"{c} {t['cached']:,}/{t['needed']:,}" for c, t in cov["timings"].items())
    line = (f"cached on this machine ({cov['device']}): every stage timing of {done:,} of {n:,} "
            f"configurations ({parts})")
    if "legibility" in cov:
        leg = cov["legibility"]
        line += f"; tier-1 legibility at {leg['cached']} of {leg['needed']} resolutions"
    if done < n:
        line += (f". A configuration with a timing missing is timed for up to {budget_s:g} s "
                 "after its warm-up")
    if cov["rejected"]:
        line += f". {cov['rejected']:,} points are invalid or over budget (never measured)"
    return line
