"""An architect's budgeted encoder-shape search on this device: studies/mobile.toml.

    python -m benchmarks.bench_mobile                 # sweeps studies/mobile.toml if not yet done
    python -m benchmarks.bench_mobile --storage sqlite:///results/fastvlm-explorer.db

Runs `fastvlm-explore sweep studies/mobile.toml` (TPE over resolution, FastViTHD depths,
width multiplier, attention stages and output pooling, Qwen2-0.5B, TTFT <= 1.5 s and memory
<= 3 GB, samples predicted over the budget skipped; resumable) unless the storage already
holds the finished study, re-measures its front in fresh processes with `fastvlm-explore
confirm` unless already done, then tabulates:

1. how the search went: trials by outcome, wall time, how many met the budgets;
2. the feasible Pareto front with each member's encoder shape, TTFT breakdown and confirmed
   TTFT (median of 3 fresh processes; the sweep's own timings share the host's drift);
3. which knob pays: per value of each axis, the best feasible proxy and the fastest TTFT
   (a marginal view: what the best configuration with that value reached), and PED-ANOVA
   parameter importances per objective (the dashboard's);
4. `recommend` under a TTFT ladder, default and `--most-accurate`.

Proxy accuracy is tier 1, a calibrated proxy (not a benchmark score); TTFTs are measured here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from .common import ensure_swept, md_table, save

STUDY = "mobile"
BUDGETS_MS = (750, 1_000, 1_500)
AXES = ("resolution", "width multiplier", "depth 1", "depth 2", "depth 3", "depth 4",
        "attention_stages", "output_pool", "visual_tokens")


def confirm_front(storage: str | None) -> None:
    """`fastvlm-explore confirm` on the front, unless every front trial is confirmed already."""
    from explorer.results import load_frame

    if all(r.get("confirmed_ttft_ms") is not None for r in load_frame(STUDY, storage).front()):
        return
    cmd = [sys.executable, "-m", "explorer.cli", "confirm", "--study", STUDY, "--no-progress"]
    subprocess.run(cmd + (["--storage", storage] if storage else []), check=True)


def axis_values(row: dict, multipliers: dict[str, float]) -> dict:
    """The swept knobs of one trial, read back from its stored configuration."""
    depths = [int(d) for d in row["depths"].split("-")]
    return {"resolution": row["resolution"], "width multiplier": multipliers.get(row["widths"]),
            **{f"depth {i}": depths[i] for i in range(1, len(depths))},
            "attention_stages": row["attention_stages"], "output_pool": row["output_pool"],
            "visual_tokens": row["visual_tokens"]}


def knob_rows(frame, multipliers: dict[str, float]) -> list[list]:
    """Per axis, per value among the feasible trials: the best proxy reached / the fastest TTFT
    (ms) / how many trials."""
    feasible = [r for r in frame.complete() if r["feasible"]]
    out = []
    for axis in AXES:
        groups: dict = {}
        for r in feasible:
            groups.setdefault(axis_values(r, multipliers).get(axis), []).append(r)
        cells = [f"**{value:g}**: {max(r['proxy_text_rich'] for r in rs):.3f} / "
                 f"{min(r['ttft_ms'] for r in rs):,.0f} / {len(rs)}"
                 for value, rs in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0]))
                 if value is not None]
        out.append([axis.replace("_", " "), " · ".join(cells)])
    return out


def _shape(r: dict, multipliers: dict[str, float]) -> str:
    m = multipliers.get(r["widths"])
    return (f"d{r['depths']} x{m:g} att{r['attention_stages']}" if m is not None
            else f"d{r['depths']} w{r['widths']} att{r['attention_stages']}")


def _confirmed(r: dict) -> str:
    if r.get("confirmed_ttft_ms") is None:
        return "-"
    return f"{r['confirmed_ttft_ms']:,.0f} ({r['confirmed_spread']:.0%})"


def _named(r: dict | None) -> str:
    if r is None:
        return "-"
    return (f"#{r['number']} @ {r['resolution']} ({r['visual_tokens']} tok): "
            f"{r['ttft_ms']:,.0f} ms, {r['proxy_text_rich']:.3f}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--storage", help="Optuna storage URL (default: the embedded SQLite file)")
    p.add_argument("--no-sweep", action="store_true",
                   help="tabulate what the storage holds; do not sweep or confirm")
    args = p.parse_args(argv)
    if not args.no_sweep:
        ensure_swept("mobile.toml", args.storage)
        confirm_front(args.storage)

    from dashboard.data import SAMPLER_NAMES
    from dashboard.details import importances
    from explorer.recommend import recommend
    from explorer.repeats import OVER_BUDGET_ATTR, REPEAT_ATTR
    from explorer.results import Budgets, load_frame
    from explorer.spec import spec_from_dict
    from explorer.storage import load_study, open_storage

    frame = load_frame(STUDY, args.storage)
    spec = spec_from_dict(frame.attrs["spec_raw"], source=f"study {STUDY!r}")
    multipliers = {"-".join(map(str, w)): m
                   for m, w in spec.space.multiplier_widths().items()}
    trials = load_study(STUDY, open_storage(args.storage, create=False)).get_trials(
        deepcopy=False)
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    wall_min = (max(ends) - min(starts)).total_seconds() / 60
    served = sum(len((t.user_attrs.get("ttft") or {}).get("cached", [])) for t in trials)
    stages = sum(3 for t in trials if t.user_attrs.get("ttft"))
    states: dict[str, int] = {}
    for r in frame.rows:
        kind = ("repeat" if r.get(REPEAT_ATTR) is not None
                else "skipped as predicted over budget" if r.get(OVER_BUDGET_ATTR)
                else r["state"].lower())
        if kind == "fail" and str(r.get("error", "")).startswith("pre-filter"):
            kind = "pre-filter"
        states[kind] = states.get(kind, 0) + 1
    complete = frame.complete()
    feasible = [r for r in complete if r["feasible"]]

    front = frame.front()
    front_rows = [[r["number"], r["resolution"], r["visual_tokens"], _shape(r, multipliers),
                   f"{r['params_encoder'] / 1e6:.0f}", f"{r['encoder_ms']:,.0f}",
                   f"{r['prefill_ms']:,.0f}",
                   f"{r['ttft_ms']:,.0f}" + (" u" if r["unstable"] else ""), _confirmed(r),
                   f"{r['proxy_text_rich']:.3f} ± {r['proxy_text_rich_unc']:.3f}"]
                  for r in front]
    imp_ttft, imp_proxy = (i.values if not isinstance(i, str) else {}  # a str: why none
                           for i in importances(args.storage, STUDY))
    swept = {k for k, values in spec.space.grid().items() if len(values) > 1}
    imp_rows = [[k.replace("_", " "), f"{imp_ttft.get(k, 0):.2f}", f"{imp_proxy.get(k, 0):.2f}"]
                for k in sorted(swept & (set(imp_ttft) | set(imp_proxy)),
                                key=lambda k: -imp_proxy.get(k, 0))]
    by_number = {r["number"]: r for r in frame.rows}
    picks, pick_rows = {}, []
    for budget in BUDGETS_MS:
        budgets = Budgets(max_ttft_ms=budget, max_memory_mb=spec.max_memory_mb)
        rec = recommend(frame, budgets)
        best = recommend(frame, budgets, ties=False).choice
        picks[budget] = [rec.choice and rec.choice["number"], best and best["number"]]
        pick_rows.append([f"{budget:,}", _named(rec.choice and by_number[rec.choice["number"]]),
                          _named(best and by_number[best["number"]]), rec.feasible])
    n_unstable = sum(bool(r.get("unstable")) for r in complete)
    outcome = ", ".join(f"{n} {k}" for k, n in sorted(states.items(), key=lambda kv: -kv[1]))
    md = (f"### An architect's encoder-shape search measured here ({frame.device})\n\n"
          f"`studies/mobile.toml`: FastViTHD depths x width multiplier x attention stages x "
          f"output pooling x resolution 256-1024 ({spec.space.size():,} configurations) with "
          f"Qwen2-0.5B, fp32; budgets TTFT <= {spec.max_ttft_ms:,.0f} ms and memory <= "
          f"{spec.max_memory_mb:,.0f} MB; {SAMPLER_NAMES.get(spec.sampler, spec.sampler)}, seed "
          f"{spec.seed}. Trials: {outcome}, "
          f"{wall_min:.0f} min from the first start to the last finish; {len(feasible)} of "
          f"{len(complete)} complete trials within the "
          f"budgets ({n_unstable} timed while the host was noisy); {served} of {stages} stage "
          "timings came from the latency cache (shared with the other studies and earlier runs "
          "on this machine). Proxy accuracy is tier 1, "
          "text-rich, a calibrated proxy (not a benchmark score).\n\n"
          "Feasible Pareto front (shape: depths, width multiplier, attention stages):\n\n"
          + md_table(front_rows, ["trial", "resolution", "tokens", "encoder shape",
                                  "encoder M params", "encoder ms", "prefill ms", "TTFT ms",
                                  "confirmed ms (spread)", "proxy text-rich"])
          + "\n\nu = timed in the sweep while the host was noisy; confirmed = the median of "
            "`fastvlm-explore confirm`'s 3 fresh processes (no cache), with the spread of their "
            "medians."
          + "\n\nWhich knob pays, among the feasible trials: per value, the best proxy "
            "reached / the fastest TTFT in ms / how many trials:\n\n"
          + md_table(knob_rows(frame, multipliers), ["axis", "value: best proxy / fastest ms / "
                                                             "trials"])
          + "\n\nParameter importances (PED-ANOVA share, as on the dashboard's search page):\n\n"
          + md_table(imp_rows, ["parameter", "for TTFT", "for proxy text-rich"])
          + "\n\nWhat `fastvlm-explore recommend` picks under tighter TTFT budgets (memory "
            f"<= {spec.max_memory_mb:,.0f} MB), and with `--most-accurate`:\n\n"
          + md_table(pick_rows, ["max TTFT ms", "recommend: TTFT, proxy",
                                 "recommend --most-accurate", "trials within budget"]))
    save("mobile", {"study": STUDY, "outcomes": states, "wall_min": wall_min,
                    "cache_served": [served, stages],
                    "front": [r["number"] for r in front], "picks": picks,
                    "importances": {"ttft": imp_ttft, "proxy_text_rich": imp_proxy},
                    "trials": [{k: r.get(k) for k in ("number", "resolution", "visual_tokens",
                                                      "depths", "widths", "attention_stages",
                                                      "output_pool", "ttft_ms", "encoder_ms",
                                                      "prefill_ms", "unstable", "feasible",
                                                      "proxy_text_rich", "proxy_general")}
                               for r in complete]}, md)


if __name__ == "__main__":
    main()
