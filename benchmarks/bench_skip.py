"""Skipping samples predicted over the TTFT budget (explorer/predict.py): is it right, does it pay?

    python -m benchmarks.bench_skip                 # replay only (seconds)
    python -m benchmarks.bench_skip --sweep 40      # + two real mobile sweeps (~30 min)

Replay: the mobile study's trials as recorded when every sample was measured
(benchmarks/data/mobile_measured_every_sample.json: NSGA-II, 2026-11-27) in trial order;
before each trial the bound is fitted on the earlier ones, as the sweep would, and asked
whether it would have skipped it. Reported: samples skipped, and of them
any that were in fact within the budget (a wrong skip loses a feasible configuration).

Sweeps (--sweep N): studies/mobile.toml run twice in this process, N counted trials each, each
with a fresh (empty) component-latency cache and storage, skipping off then on. Reported: wall
time, trials measured, measured over budget, skipped, feasible front size and its hypervolume.
The two runs sample differently once the first skip happens, so the comparison is of two
sweeps, not of the same trials.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from explorer.predict import MIN_TIMED, PREFILL_SLACK, SPREAD_FLOOR, Z, Timed, TtftBound
from explorer.spec import load_spec
from fastvlm.analytic import analyze
from fastvlm.presets import preset

from .common import md_table, save

ROOT = Path(__file__).resolve().parents[1]
# fixed input of the replay: a sweep that skips cannot say what its skipped samples would take
RECORDED = ROOT / "benchmarks" / "data" / "mobile_measured_every_sample.json"


def recorded_config(t: dict, prompt_tokens: int):
    return preset("fastvlm-0.5b", resolution=t["resolution"], prompt_tokens=prompt_tokens,
                  depths=tuple(map(int, t["depths"].split("-"))),
                  widths=tuple(map(int, t["widths"].split("-"))),
                  attention_stages=t["attention_stages"], output_pool=t["output_pool"])


def replay(recorded: dict, budget: float, prompt_tokens: int) -> dict:
    trials = sorted(recorded["trials"], key=lambda t: t["number"])
    timed, rows, skipped, wrong, over = [], [], 0, 0, 0
    for i, t in enumerate(trials):
        cfg = recorded_config(t, prompt_tokens)
        counts = analyze(cfg).to_dict()
        reference = i == 0  # trial 0 is the enqueued FastVLM-0.5B: always measured
        verdict = None if reference else TtftBound(timed).over_budget(cfg, counts, budget)
        over += t["ttft_ms"] > budget and len(timed) >= MIN_TIMED and not reference
        if verdict:
            skipped += 1
            wrong += t["ttft_ms"] <= budget
            rows.append([t["number"], cfg.summary(), verdict.lower_ms, t["ttft_ms"],
                         "yes" if t["ttft_ms"] <= budget else "no"])
        timed.append(Timed(cfg.dtype, cfg.llm.name, cfg.seq_len, counts["gflops"]["encoder"],
                           t["encoder_ms"], t["prefill_ms"]))
    return {"trials": len(trials), "over_budget_after_min": over, "skipped": skipped,
            "wrongly_skipped": wrong, "rows": rows}


def sweep(spec, folder: Path) -> dict:
    import optuna

    from explorer.pareto import hypervolume_2d
    from explorer.storage import open_storage
    from explorer.study import run_study
    from fastvlm.cache import LatencyCache

    url = f"sqlite:///{folder / 'study.db'}"
    t0 = time.perf_counter()
    summary = run_study(spec, open_storage(url), url, show_progress=False,
                        cache=LatencyCache(folder / "latency.sqlite"))
    wall = time.perf_counter() - t0
    all_trials = optuna.load_study(study_name=spec.name, storage=url).trials
    done = [t for t in all_trials if t.state.name == "COMPLETE"]
    feasible = [t for t in done if all(v <= 0 for v in t.user_attrs["constraints"].values())]
    points = [(t.values[0], -t.values[1]) for t in feasible]  # losses: TTFT, -proxy
    key = lambda t: json.dumps(t.params, sort_keys=True)  # noqa: E731
    return {"wall_s": wall, "measured": len(done), "measured_over_budget":
            len(done) - len(feasible), "trials": summary["trials"],
            "front": len(summary["pareto"]),
            "hypervolume": hypervolume_2d(points, ref=(spec.max_ttft_ms, 0.0)) if points else 0,
            "ttft_ms": {key(t): t.values[0] for t in done},
            "skipped": {key(t): t.user_attrs["predicted_over_budget"]["lower_ms"]
                        for t in all_trials if "predicted_over_budget" in t.user_attrs}}


def cross_check(off: dict, on: dict, budget: float) -> dict:
    """What one sweep says of the other: the TTFT ratio of configurations both measured (the
    host's drift between them), and the skipped configurations that the other measured."""
    both = [on["ttft_ms"][k] / off["ttft_ms"][k] for k in on["ttft_ms"] if k in off["ttft_ms"]]
    seen = [off["ttft_ms"][k] for k in on["skipped"] if k in off["ttft_ms"]]
    return {"measured_by_both": len(both),
            "ttft_ratio_median": float(np.median(both)) if both else None,
            "skipped_measured_by_other": len(seen),
            "skipped_but_within_budget": sum(ms <= budget for ms in seen)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sweep", type=int, metavar="N", help="also run two real mobile sweeps")
    args = ap.parse_args()
    spec = load_spec(ROOT / "studies" / "mobile.toml")
    recorded = json.loads(RECORDED.read_text())
    prompt_tokens = spec.space.prompt_tokens.grid()[0]
    r = replay(recorded, spec.max_ttft_ms, prompt_tokens)
    md = (f"### Skipping samples predicted over the TTFT budget\n\n"
          f"Replay of the mobile study's {r['trials']} recorded trials (every one measured; "
          f"budget {spec.max_ttft_ms:,.0f} ms): after the first {MIN_TIMED} timed encoders the "
          f"bound (encoder line lowered by {Z:g} x its spread, at least {SPREAD_FLOOR}; measured "
          f"prefill less {PREFILL_SLACK:.0%}) would have skipped **{r['skipped']} of the "
          f"{r['over_budget_after_min']}** trials that were over budget, and "
          f"**{r['wrongly_skipped']}** that were within it.\n\n"
          + md_table(r["rows"], ["trial", "configuration", "bound ms", "measured TTFT ms",
                                 "within budget"]))
    data = {"replay": {k: v for k, v in r.items()}, "budget_ms": spec.max_ttft_ms,
            "source": str(RECORDED.relative_to(ROOT))}
    if args.sweep:
        from fastvlm.proxy import evaluate

        for res in spec.space.resolution.grid():  # warm the tier-1 readings for both runs alike
            evaluate(spec.space.config_from_params(
                {k: v[0] for k, v in spec.space.grid().items()} | {"resolution": res}),
                tier=spec.proxy_tier)
        runs = {}
        for name, on in (("measure every sample", False), ("skip predicted over budget", True)):
            s = dataclasses.replace(spec, trials=args.sweep, skip_over_budget=on)
            with tempfile.TemporaryDirectory() as tmp:
                runs[name] = sweep(s, Path(tmp))
            print(name, {k: v for k, v in runs[name].items() if k not in ("ttft_ms", "skipped")},
                  flush=True)
        off, on = runs.values()
        cross = cross_check(off, on, spec.max_ttft_ms)
        md += (f"\n\nTwo real sweeps of studies/mobile.toml, {args.sweep} counted trials each, "
               "fresh latency cache each:\n\n" + md_table(
                   [[n, x["wall_s"] / 60, x["measured"], x["measured_over_budget"],
                     x["trials"].get("SKIPPED OVER BUDGET", 0), x["front"], x["hypervolume"]]
                    for n, x in runs.items()],
                   ["mode", "wall min", "measured", "measured over budget", "skipped",
                    "feasible front", "hypervolume (ms x proxy)"])
               + f"\n\nWall time ratio (skip / measure all): {on['wall_s'] / off['wall_s']:.2f}. "
               f"The host's speed between the two: the {cross['measured_by_both']} "
               "configurations both sweeps measured took "
               + (f"{cross['ttft_ratio_median']:.2f}x" if cross["ttft_ratio_median"] else "-")
               + " the time in the second (median), which weighs on its wall time and "
               f"hypervolume alike. Of its {len(on['skipped'])} skipped configurations the first "
               f"sweep measured {cross['skipped_measured_by_other']}, "
               f"{cross['skipped_but_within_budget']} of them within budget.")
        data["sweeps"], data["cross_check"] = runs, cross
    save("skip", data, md)
    print(md)


if __name__ == "__main__":
    main()
