"""Pareto / hypervolume math on 100,000 points (issue 4, target 3: under 1 s).

    python -m benchmarks.bench_pareto

Random 2-objective clouds (uniform, and a correlated one with a large front), timed with
perf_counter: front mask, non-dominated ranks of the first fronts, 2-D hypervolume, knee, and
the hypervolume history a dashboard draws. Best of 5 runs per operation.
"""

from __future__ import annotations

import time

import numpy as np

from explorer.pareto import hypervolume_2d, hypervolume_history, knee_index, pareto_mask

from .common import md_table, save

N = 100_000


def best_of(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.random((N, 2))
    t = rng.random(N)  # a trade-off cloud: many points near one curve
    curve = np.column_stack([t, 1 - np.sqrt(t)]) + rng.random((N, 2)) * 0.02
    rows, data = [], {}
    for name, x in (("uniform", uniform), ("trade-off", curve)):
        ref = x.max(axis=0) * 1.1
        timings = {
            "pareto_mask": best_of(lambda: pareto_mask(x)),
            "hypervolume_2d": best_of(lambda: hypervolume_2d(x, ref)),
            "knee_index": best_of(lambda: knee_index(x)),
            "hypervolume_history": best_of(lambda: hypervolume_history(x, ref), repeats=1),
        }
        front = int(pareto_mask(x).sum())
        data[name] = {"n": N, "front_size": front, "seconds": timings}
        for op, s in timings.items():
            rows.append([name, front, op, s * 1e3, "yes" if s < 1 else "no"])
    md = (f"### Pareto math on {N:,} points (numpy, 1 process)\n\n"
          + md_table(rows, ["cloud", "front size", "operation", "ms", "< 1 s"]))
    save("pareto", data, md)


if __name__ == "__main__":
    main()
