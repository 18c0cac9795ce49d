"""Does skipping samples predicted over the TTFT budget cost search quality? A replayed answer.

    python -m benchmarks.bench_skip_search [--seeds 10] [--trials 21,42]

The two real mobile sweeps of bench_skip.py cannot say: the host's speed drifts between them
and one pair is one draw of the sampler. Here the question is asked of the search alone:
1. The 84-configuration table of bench_search.py (7 resolutions x 3 encoder widths x 2 LLMs x
   2 output poolings), every configuration measured once through the real evaluation path
   (component cache, so a warm cache makes this instant).
2. For two TTFT budgets (the table's 25th and 50th TTFT percentiles, two significant digits)
   and each seed and sampler, the real driver (`explorer.study.run_study`: references
   enqueued, repeats skipped, constraints told to the sampler, the skip rule of
   explorer/predict.py fitted as it goes) runs the study twice, skipping off and on, with the
   measurement replaced by a look-up of the table. Nothing else differs.
Reported per sampler and budget, after N counted trials: the feasible front's hypervolume
relative to the table's (every configuration within the budget), the measured trials that were
over the budget (a measurement spent on a configuration the budget rules out), the samples
skipped, and skipped samples that were in fact within the budget (known here: the table holds
every configuration's TTFT).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import io
import json
import time
from unittest import mock

import numpy as np
import optuna

from explorer.evaluate import constraint_values
from explorer.pareto import hypervolume_2d
from explorer.repeats import OVER_BUDGET_ATTR
from explorer.spec import spec_from_dict
from explorer.study import run_study
from fastvlm.cache import LatencyCache

from .bench_search import SPACE, measure_table
from .common import md_table, save

SAMPLERS = ("nsga2", "tpe")  # the default and the other model-based sampler


def budget_points(values: np.ndarray, budget: float) -> np.ndarray:
    """Losses (TTFT, -proxy) of the points within the budget."""
    ok = values[:, 0] <= budget
    return np.column_stack([values[ok, 0], -values[ok, 1]])


def replay_run(spec, by_config: dict, cache, trials: int) -> list[optuna.trial.FrozenTrial]:
    """The real driver on an in-memory storage, each measurement a look-up of the table."""

    def look_up(cfg, spec_, cache_, runtime, reference=None, proxy_report=None):
        rec, values = by_config[cfg.key()]
        rec = dataclasses.replace(rec, reference=reference)
        rec.constraints = constraint_values(spec_, rec)
        return rec, list(values)

    storage = optuna.storages.InMemoryStorage()
    # the driver's per-trial lines (stderr) would be thousands here
    with mock.patch("explorer.study.evaluate_config", look_up), \
            contextlib.redirect_stderr(io.StringIO()):
        run_study(dataclasses.replace(spec, trials=trials), storage, "in-memory",
                  cache=cache, show_progress=False)
    return optuna.load_study(study_name=spec.name, storage=storage).get_trials(deepcopy=False)


def score(spec, trials, n: int, budget: float, hv_table: float, true_ttft: dict) -> dict:
    """The run as it stood after `n` measured (complete) trials."""
    done = sorted((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.number)[:n]
    last = done[-1].number if done else -1
    values = np.array([t.values for t in done]).reshape(-1, 2)
    pts = budget_points(values, budget)
    skipped = [t for t in trials if t.number <= last and OVER_BUDGET_ATTR in t.user_attrs]
    wrong = [t for t in skipped
             if true_ttft[spec.space.config_from_params(t.params).key()] <= budget]
    return {"hv_ratio": hypervolume_2d(pts, (budget, 0.0)) / hv_table if len(pts) else 0.0,
            "measured_over_budget": int((values[:, 0] > budget).sum()),
            "skipped": len(skipped), "wrongly_skipped": len(wrong)}


def seed_cells(runs: list[list[dict]], share_of: float | None = None) -> list:
    """One table row's cells from its seeds' `score`s (a list per seed, one per checkpoint):
    the hypervolume ratio per checkpoint as mean (min[; share of seeds >= share_of]), then at
    the last checkpoint the mean measured over budget, mean skipped, and all wrongly skipped."""
    cells = []
    for j in range(len(runs[0])):
        hv = np.array([r[j]["hv_ratio"] for r in runs])
        share = f"; {np.mean(hv >= share_of):.0%} >= {share_of:.0%}" if share_of else ""
        cells.append(f"{hv.mean():.1%} (min {hv.min():.1%}{share})")
    last = [r[-1] for r in runs]
    return cells + [np.mean([r["measured_over_budget"] for r in last]),
                    np.mean([r["skipped"] for r in last]),
                    sum(r["wrongly_skipped"] for r in last)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", default="21,42", help="counted trials to report at")
    args = ap.parse_args()
    checkpoints = sorted(int(x) for x in args.trials.split(","))
    base = spec_from_dict(SPACE, "replay space")
    cache = LatencyCache()
    t0 = time.perf_counter()
    table = measure_table(base, cache)
    measure_s = time.perf_counter() - t0
    by_config = {base.space.config_from_params(json.loads(k)).key(): v
                 for k, v in table.items()}
    values = np.array([v for _, v in by_config.values()])
    true_ttft = {k: v[0] for k, (_, v) in by_config.items()}
    budgets = [float(f"{np.percentile(values[:, 0], q):.2g}") for q in (25, 50)]
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows, data = [], {"n_points": len(values), "measure_s": measure_s, "budgets_ms": budgets,
                      "checkpoints": checkpoints, "runs": {}}
    for budget in budgets:
        hv_table = hypervolume_2d(budget_points(values, budget), (budget, 0.0))
        feasible = int((values[:, 0] <= budget).sum())
        for sampler in SAMPLERS:
            for skip in (False, True):
                raw = copy.deepcopy(SPACE)
                raw |= {"name": "replay", "constraints": {"max_ttft_ms": budget},
                        "run": {"skip_over_budget": skip}}
                runs = []
                for seed in range(args.seeds):
                    raw["sampler"] = {"name": sampler, "seed": seed}
                    spec = spec_from_dict(raw, "replay space")
                    trials = replay_run(spec, by_config, cache, max(checkpoints))
                    runs.append([score(spec, trials, n, budget, hv_table, true_ttft)
                                 for n in checkpoints])
                label = f"{budget:,.0f} ms|{sampler}|{'skip' if skip else 'measure all'}"
                data["runs"][label] = runs
                row = [f"{budget:,.0f} ms ({feasible} of {len(values)} within)",
                       "NSGA-II" if sampler == "nsga2" else "TPE",
                       "skip (default)" if skip else "measure every sample"]
                rows.append(row + seed_cells(runs))
                print(" | ".join(map(str, rows[-1])), flush=True)
    cols = (["budget", "sampler", "mode"]
            + [f"hypervolume at {n} measured" for n in checkpoints]
            + [f"measured over budget (mean, at {checkpoints[-1]})",
               "skipped (mean)", "skipped but within budget (all seeds)"])
    md = (f"### Skipping over-budget samples: search quality on a replayed table\n\n"
          f"The real driver on the {len(values)}-configuration table of bench_search.py, "
          f"{args.seeds} seeds per row, the skip rule off and on, nothing else different. "
          "Hypervolume of the feasible front relative to the table's (every configuration "
          "within the budget), mean (min) over seeds, after N measured trials; "
          + (f"the table took {measure_s / 60:.1f} min to measure.\n\n" if measure_s > 60
             else "the table came from the component cache.\n\n")
          + md_table(rows, cols))
    save("skip_search", data, md)


if __name__ == "__main__":
    main()
