"""Search efficiency on a replayed table: NSGA-II, TPE and GP vs random vs the exhaustive grid.

    python -m benchmarks.bench_search [--seeds 10] [--budget-s 4]

1. Measure once: every configuration of an 84-point discrete space (7 resolutions x 3 encoder
   widths x 2 LLMs x 2 output poolings) through the real evaluation path (component cache, so
   shared encoders / prefills are measured once), proxy tier 1.
2. Replay: Optuna studies whose objective looks the measured (TTFT, proxy) up by parameters.
   Hypervolume of the front found after N evaluations, relative to the grid's (all 84
   points), for each sampler as a study file configures it (explorer.study.make_sampler,
   default settings), as Optuna runs it (a re-proposed configuration is an evaluation
   again) and as the driver runs it by default (re-proposals skipped, not counted).
   Goal: >= 95% of the grid's hypervolume within 25% of its evaluations (21).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time

import numpy as np
import optuna

from explorer.pareto import hypervolume_2d, to_losses
from explorer.repeats import REPEAT_ATTR, StopRule, earlier_twin
from explorer.spec import spec_from_dict
from explorer.study import make_sampler
from fastvlm.cache import LatencyCache
from fastvlm.runtime import setup_runtime

from .common import md_table, save

SPACE = {"name": "replay", "description": "search-efficiency replay table",
         "space": {"resolution": {"min": 256, "max": 1024, "step": 128},
                   "width_multiplier": [0.5, 0.75, 1.0], "llm": ["qwen2-0.5b", "qwen2-1.5b"],
                   "output_pool": [1, 2]},
         "proxy": {"tier": 1}, "measure": {"budget_s": 4.0, "min_n": 5, "max_n": 15}}


def measure_table(spec, cache) -> dict[str, tuple]:
    """Every configuration of the space through the real evaluation path: params (JSON) ->
    (TrialRecord, objective values)."""
    from explorer.evaluate import evaluate_config

    rt = setup_runtime(spec.measure_settings().device)
    grid = spec.space.grid()
    names = list(grid)
    table = {}
    combos = np.array(np.meshgrid(*[range(len(grid[n])) for n in names])).T.reshape(-1, len(names))
    for i, idx in enumerate(combos):
        params = {n: grid[n][j] for n, j in zip(names, idx)}
        cfg = spec.space.config_from_params(params)
        rec, values = evaluate_config(cfg, spec, cache, rt)
        table[json.dumps(params, sort_keys=True)] = (rec, tuple(values))
        print(f"[{i + 1}/{len(combos)}] {cfg.summary()}: {values[0]:,.0f} ms, {values[1]:.3f}",
              flush=True)
    return table


def replay(spec, table, sampler, n_trials: int, skip_repeats: bool = False) -> np.ndarray:
    """Values of the first `n_trials` evaluations. `skip_repeats`: as the driver does by
    default, with its own rule (explorer/repeats.py): a configuration proposed again is pruned,
    not evaluated, and does not count."""
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)

    def objective(trial):
        spec.space.sample(trial)  # the driver's own suggest calls (an int range for resolution)
        twin = earlier_twin(study, trial) if skip_repeats else None
        if twin is not None:
            trial.set_user_attr(REPEAT_ATTR, twin)
            raise optuna.TrialPruned()
        return table[json.dumps(trial.params, sort_keys=True)][1]

    study.optimize(objective, callbacks=[StopRule(n_trials, spec.space.size())])
    return np.array([t.values for t in study.trials if t.values is not None])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget-s", type=float, default=4.0)
    args = ap.parse_args()
    raw = dict(SPACE, measure=dict(SPACE["measure"], budget_s=args.budget_s))
    spec = spec_from_dict(raw, "replay space")
    t0 = time.perf_counter()
    table = measure_table(spec, LatencyCache())
    measure_s = time.perf_counter() - t0
    values = np.array([v for _, v in table.values()])
    losses_all = to_losses(values, ["minimize", "maximize"])
    ref = losses_all.max(axis=0) + 0.05 * (losses_all.max(axis=0) - losses_all.min(axis=0))
    hv_grid = hypervolume_2d(losses_all, ref)
    n = len(table)
    budgets = [n // 8, n // 4, n // 2]
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # the samplers as a study file gets them (explorer.study.make_sampler, its defaults:
    # NSGA-II population 16, TPE and GP 8 startup trials), the seed varied
    samplers = {label: (lambda s, name=name: make_sampler(dataclasses.replace(
                    spec, sampler=name, seed=s)))
                for label, name in (("NSGA-II", "nsga2"), ("TPE", "tpe"), ("GP", "gp"),
                                    ("random", "random"))}
    rows, data = [], {"n_points": n, "hv_grid": hv_grid, "reference": ref.tolist(),
                      "measure_s": measure_s, "samplers": {}}
    for (name, make), skip in itertools.product(samplers.items(), (False, True)):
        label = f"{name}, repeats skipped (default)" if skip else name
        ratios = np.zeros((args.seeds, len(budgets)))
        t0, evaluations = time.perf_counter(), 0
        for s in range(args.seeds):
            vals = replay(spec, table, make(s), max(budgets), skip_repeats=skip)
            evaluations += len(vals)
            for j, b in enumerate(budgets):
                ratios[s, j] = hypervolume_2d(to_losses(vals[:b], ["minimize", "maximize"]),
                                              ref) / hv_grid
        # the sampler's own cost per evaluation (the objective is a table look-up)
        per_trial_s = (time.perf_counter() - t0) / evaluations
        data["samplers"][label] = {"budgets": budgets, "hv_ratio": ratios.tolist(),
                                   "sampler_s_per_trial": per_trial_s}
        rows.append([label] + [f"{ratios[:, j].mean():.1%} (min {ratios[:, j].min():.1%})"
                               for j in range(len(budgets))]
                    + [f"{(ratios[:, 1] >= 0.95).mean():.0%}", f"{per_trial_s:.3f}"])
    rows.append(["grid (exhaustive)"] + ["-"] * len(budgets) + [f"100% at {n}", "-"])
    md = (f"### Search efficiency on a replayed table ({n} measured configurations)\n\n"
          f"Mean (min) hypervolume relative to the exhaustive grid over {args.seeds} seeds; "
          + (f"the table took {measure_s / 60:.1f} min to measure once.\n\n" if measure_s > 60
             else f"the table came from the component cache in {measure_s:.0f} s (it was "
                  "measured by an earlier run).\n\n")
          + "Samplers as a study file gets them (explorer.study.make_sampler: NSGA-II "
            "population 16, TPE and GP after 8 random startup trials) and suggested by the "
            "driver's search-space module (resolution an int range); 'sampler s' is the "
            "sampler's own time per evaluation, against seconds to minutes for a measured "
            "trial.\n\n"
          + md_table(rows, ["sampler"] + [f"{b} evaluations ({b / n:.0%})" for b in budgets]
                     + [">= 95% at 25%", "sampler s"]))
    save("search", data, md)


if __name__ == "__main__":
    main()
