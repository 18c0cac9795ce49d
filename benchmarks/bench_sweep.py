"""Sweep throughput of studies/quick.toml with the component cache vs without (issue 4, 1).

    python -m benchmarks.bench_sweep [--trials 40]

Three sweeps run in this process, one after the other, on fresh SQLite storages, with the same
warm proxy readings (tier-1 OCR results are cached separately and are not what is compared).
The first two evaluate every trial the sampler proposes, repeats included (`repeats =
"evaluate"`), as plain Optuna would: "with cache" has a fresh component-latency cache that fills
as the sweep goes, "without" measures every trial's encoder, projector and prefill again. Their
ratio is the cache's speed-up. The third is the default (`repeats = "skip"`): a configuration
proposed again is not evaluated at all, and the sweep stops once the quick space's 8
configurations are done. Reported: trials per hour, distinct configurations, cache hit rate
(cached components / components needed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from explorer.spec import load_spec, spec_from_dict
from explorer.storage import open_storage
from explorer.study import run_study
from fastvlm.cache import LatencyCache

from .common import md_table, save

ROOT = Path(__file__).resolve().parents[1]


def sweep(spec, folder: Path, cache: LatencyCache) -> dict:
    url = f"sqlite:///{folder / 'study.db'}"
    t0 = time.perf_counter()
    summary = run_study(spec, open_storage(url), url, show_progress=False, cache=cache)
    wall = time.perf_counter() - t0
    import optuna

    study = optuna.load_study(study_name=spec.name, storage=url)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    hits = sum(len(t.user_attrs["ttft"]["cached"]) for t in done)
    distinct = len({json.dumps(t.params, sort_keys=True) for t in done})
    return {"wall_s": wall, "complete": len(done), "distinct": distinct,
            "trials": summary["trials"], "trials_per_hour": len(done) / wall * 3600,
            "cache_hit_rate": hits / (3 * len(done)), "pareto": summary["pareto"],
            "stopped_early": summary["stopped_early"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=40)
    args = ap.parse_args()
    default = dataclasses.replace(load_spec(ROOT / "studies" / "quick.toml"), trials=args.trials)
    base = dataclasses.replace(default, repeats="evaluate")
    raw_off = {**base.raw, "measure": {**base.raw.get("measure", {}), "use_cache": False}}
    uncached = dataclasses.replace(spec_from_dict(raw_off, "quick (no cache)"),
                                   trials=args.trials, repeats="evaluate")
    from fastvlm.proxy import evaluate

    for r in base.space.resolution.grid():  # warm the proxy readings for both runs alike
        evaluate(base.space.config_from_params(
            {k: v[0] for k, v in base.space.grid().items()} | {"resolution": r}),
            tier=base.proxy_tier)
    with (tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b,
          tempfile.TemporaryDirectory() as c):
        cached = sweep(base, Path(a), LatencyCache(Path(a) / "latency.sqlite"))
        plain = sweep(uncached, Path(b), LatencyCache(Path(b) / "latency.sqlite"))
        skipping = sweep(default, Path(c), LatencyCache(Path(c) / "latency.sqlite"))
    ratio = cached["trials_per_hour"] / plain["trials_per_hour"]
    rows = [[name, r["complete"], r["distinct"], r["wall_s"], r["trials_per_hour"],
             f"{r['cache_hit_rate']:.0%}"] for name, r in (
                ("repeats evaluated, with component cache", cached),
                ("repeats evaluated, without (re-measure every trial)", plain),
                ("default: repeats skipped, with cache", skipping))]
    md = (f"### Sweep throughput: studies/quick.toml, {args.trials} trials\n\n"
          + md_table(rows, ["mode", "complete trials", "distinct configurations", "wall s",
                            "trials / hour", "cache hit rate"])
          + f"\n\nSpeed-up from the cache, repeats evaluated: {ratio:.1f}x. By default a "
          f"repeated configuration is not evaluated at all: the default sweep evaluated the "
          f"{skipping['distinct']} distinct configurations in {skipping['wall_s']:,.0f} s "
          f"and stopped ({skipping['stopped_early'] or 'target reached'}).")
    save("sweep", {"with_cache": cached, "without_cache": plain, "default_skip": skipping,
                   "speedup": ratio, "trials": args.trials}, md)


if __name__ == "__main__":
    main()
