"""Which sampler for studies/mobile.toml? A replay of its own 3,024-point space, on a surrogate.

    python -m benchmarks.bench_mobile_search [--seeds 10] [--samplers nsga2,tpe,gp,random]

bench_search.py and bench_skip_search.py replay an 84-point table measured in full. mobile.toml
searches 3,024 configurations over 8 axes, which cannot all be timed here (days on 2 cores),
so its table is a *surrogate*, predicted, not measured:
- encoder ms: the Theil-Sen line of log ms vs log analytic GFLOPs (explorer/predict.py), fitted
  on the 60 trials of a mobile sweep that measured every sample
  (benchmarks/data/mobile_measured_every_sample.json), times one of that fit's own residuals
  per configuration (drawn with a fixed seed): what the line cannot see of a shape, at the
  size it had that day;
- projector + prefill ms: the same sweep's median per visual-token count (log-interpolated for
  a count it did not measure);
- proxy: the real tier-1 proxy; memory: the analytic prediction (the sweep's default).
The real driver (`explorer.study.run_study`: references enqueued, repeats skipped, samples
predicted over the budget skipped, constraints told to the sampler) runs mobile.toml as it is,
with the measurement replaced by a look-up of the surrogate, for each sampler and seed.
Reported after N counted trials: the feasible front's hypervolume relative to the table's
(every configuration within mobile's budgets), mean and min over seeds, and the share of seeds
at >= 95%.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path
from unittest import mock

import numpy as np
import optuna

from dashboard.data import SAMPLER_NAMES
from explorer.evaluate import Infeasible, evaluate_config
from explorer.pareto import hypervolume_2d
from explorer.predict import Timed, TtftBound
from explorer.spec import SAMPLERS, load_spec
from fastvlm.analytic import analyze
from fastvlm.cache import LatencyCache
from fastvlm.runtime import setup_runtime

from .bench_skip import RECORDED, recorded_config
from .bench_skip_search import budget_points, replay_run, score, seed_cells
from .common import md_table, save

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = (20, 40, 60)
REPLAYABLE = tuple(s for s in SAMPLERS if s != "grid")  # grid would need all 3,024 trials


@dataclasses.dataclass(frozen=True)
class Surrogate:
    """Predicted TTFT stages of any configuration of the space, from one recorded sweep."""

    intercept: float
    slope: float
    residuals: np.ndarray  # log ms, of the fitted trials
    tokens: np.ndarray  # visual-token counts measured, ascending
    rest_ms: np.ndarray  # their median projector + prefill ms

    @classmethod
    def fit(cls, recorded: dict, prompt_tokens: int) -> Surrogate:
        trials = recorded["trials"]
        gflops = [analyze(recorded_config(t, prompt_tokens)).gflops["encoder"] for t in trials]
        timed = [Timed("float32", "qwen2-0.5b", 0, g, t["encoder_ms"], t["prefill_ms"])
                 for g, t in zip(gflops, trials)]
        a, b, _, _ = TtftBound(timed).encoder_line("float32")
        residuals = np.log([t["encoder_ms"] for t in trials]) - (a + b * np.log(gflops))
        by_tokens: dict[int, list[float]] = {}
        for t in trials:
            by_tokens.setdefault(t["visual_tokens"], []).append(t["ttft_ms"] - t["encoder_ms"])
        tokens = np.array(sorted(by_tokens))
        rest = np.array([np.median(by_tokens[k]) for k in tokens])
        return cls(a, b, residuals, tokens, rest)

    def stages(self, encoder_gflops: float, visual_tokens: int, residual: float) -> dict:
        encoder = float(np.exp(self.intercept + self.slope * np.log(encoder_gflops) + residual))
        rest = float(np.exp(np.interp(visual_tokens, self.tokens, np.log(self.rest_ms))))
        return {"encoder_ms": encoder, "projector_ms": 0.0, "prefill_ms": rest,
                "ttft_ms": encoder + rest}


class _Predicted:
    """What `measure_ttft` returns, from the surrogate (the driver reads `to_dict()`)."""

    def __init__(self, stages: dict, peak_mb: float):
        self._d = stages | {"n": 1, "unstable": False, "extrapolated": False, "cached": [],
                            "ttft_method": "predicted (surrogate)", "peak_memory_mb": peak_mb,
                            "peak_memory_source": "predicted", "stages": {}}

    def to_dict(self) -> dict:
        return dict(self._d)


def surrogate_table(spec, model: Surrogate, seed: int = 0) -> dict:
    """cfg.key() -> (TrialRecord, values) for every configuration of the space, through the
    real evaluation path (pre-filter, proxy, record) with the timing predicted."""
    grid = spec.space.grid()
    names = list(grid)
    rng = np.random.default_rng(seed)
    runtime = setup_runtime(spec.measure_settings().device)

    def predict(cfg, *_, **__) -> _Predicted:  # stands in for measure_ttft
        counts = analyze(cfg)
        return _Predicted(model.stages(counts.gflops["encoder"], counts.visual_tokens,
                                       float(rng.choice(model.residuals))),
                          counts.predicted_peak_mb)

    table, rejected = {}, 0
    with mock.patch("explorer.evaluate.measure_ttft", predict):
        for combo in itertools.product(*(grid[n] for n in names)):
            cfg = spec.space.config_from_params(dict(zip(names, combo)))
            try:
                table[cfg.key()] = evaluate_config(cfg, spec, None, runtime)
            except Infeasible:
                rejected += 1
    if rejected:  # replay_run looks every sample up; mobile's budgets reject none
        raise SystemExit(f"{rejected} configurations rejected by the pre-filter: the replay "
                         "cannot look them up")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--samplers", default=",".join(REPLAYABLE))
    args = ap.parse_args()
    unknown = set(args.samplers.split(",")) - set(REPLAYABLE)
    if unknown:
        ap.error(f"unknown sampler(s) {sorted(unknown)}; valid: {', '.join(REPLAYABLE)}")
    spec = load_spec(ROOT / "studies" / "mobile.toml")
    recorded = json.loads(RECORDED.read_text())
    model = Surrogate.fit(recorded, spec.space.prompt_tokens.grid()[0])
    t0 = time.perf_counter()
    table = surrogate_table(spec, model)
    table_s = time.perf_counter() - t0
    values = np.array([v for _, v in table.values()])
    budget = spec.max_ttft_ms
    hv_table = hypervolume_2d(budget_points(values, budget), (budget, 0.0))
    true_ttft = {k: v[0] for k, (_, v) in table.items()}
    feasible = int((values[:, 0] <= budget).sum())
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    rows, runs_out = [], {}
    cache = LatencyCache()  # the driver wants one; the look-up never reads it
    for sampler in args.samplers.split(","):
        runs, seconds = [], []
        for seed in range(args.seeds):
            s = dataclasses.replace(spec, sampler=sampler, seed=seed)
            t0 = time.perf_counter()
            trials = replay_run(s, table, cache, max(CHECKPOINTS))
            seconds.append(time.perf_counter() - t0)
            runs.append([score(s, trials, n, budget, hv_table, true_ttft) for n in CHECKPOINTS])
        runs_out[sampler] = runs
        row = [SAMPLER_NAMES.get(sampler, sampler)] + seed_cells(runs, share_of=0.95)
        rows.append(row + [float(np.mean(seconds))])
        print(" | ".join(map(str, rows[-1])), flush=True)
    cols = (["sampler"] + [f"hypervolume at {n} measured" for n in CHECKPOINTS]
            + [f"measured over budget (mean, at {CHECKPOINTS[-1]})", "skipped (mean)",
               "skipped but within budget (all seeds)", "replay s per run"])
    md = (f"### Which sampler for mobile.toml: its {len(values):,}-point space on a surrogate "
          "table (predicted, not measured)\n\n"
          f"studies/mobile.toml as it is ({spec.trials} counted trials, budgets TTFT <= "
          f"{budget:,.0f} ms and memory <= {spec.max_memory_mb:,.0f} MB, skipping on), "
          f"{args.seeds} seeds per sampler, the real driver; each configuration's TTFT "
          "predicted from the mobile sweep that measured every sample (encoder: log-log line "
          f"through its {len(model.residuals)} encoders, slope {model.slope:.2f}, times one of "
          f"its residuals, spread {np.std(model.residuals):.2f} in log ms; projector + prefill: "
          f"its median per visual-token count), proxy tier 1. {feasible:,} of {len(values):,} "
          "configurations are within the budget. Hypervolume of the feasible front relative "
          "to the table's, mean (min; share of seeds at >= 95%), after N measured trials; the "
          f"table took {table_s:.0f} s to build.\n\n" + md_table(rows, cols))
    save("mobile_search", {"n_points": len(values), "feasible": feasible, "budget_ms": budget,
                           "checkpoints": list(CHECKPOINTS), "surrogate": {
                               "slope": model.slope, "intercept": model.intercept,
                               "residual_sd": float(np.std(model.residuals)),
                               "tokens": model.tokens.tolist(),
                               "rest_ms": model.rest_ms.tolist()},
                           "source": str(RECORDED.relative_to(ROOT)), "runs": runs_out}, md)


if __name__ == "__main__":
    main()
