"""TTFT repeatability across fresh processes, stage additivity and roofline (issue 2, 1/3/5).

    python -m benchmarks.bench_ttft [--budget-s 30] [--processes 3]

Each configuration is measured from scratch (--no-cache) in N fresh processes. Reported:
spread of the N TTFT medians relative to their median (target <= 5% on a quiet machine, with
the canary drift when not quiet), the same spread of TTFT / the process's canary median (which
divides out the part of a host's drift that the canary matmul sees), the stages-sum vs
end-to-end error (target within 5%), and achieved GFLOP/s of encoder and prefill against the
measured matmul roof.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from .common import cli, md_table, save

CONFIGS = [("fastvlm-0.5b", 512), ("fastvlm-0.5b", 1024), ("fastvit-0.5b", 768)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=30.0)
    ap.add_argument("--processes", type=int, default=3)
    args = ap.parse_args()
    rows, data = [], []
    for name, res in CONFIGS:
        runs = []
        for _ in range(args.processes):
            with tempfile.TemporaryDirectory() as cache:
                out, wall, _ = cli("measure", "--preset", name, "--resolution", str(res),
                                   "--budget-s", str(args.budget_s), "--memory", "predicted",
                                   "--json", env={"FASTVLM_CACHE_DIR": cache})
            runs.append(out)
        ttfts = [r["ttft_ms"] for r in runs]
        med = statistics.median(ttfts)
        spread = (max(ttfts) - min(ttfts)) / med
        canary = [r["protocol"].get("canary_ms") for r in runs]
        adjusted = [t / c for t, c in zip(ttfts, canary)]  # host speed as the canary saw it
        adjusted_spread = (max(adjusted) - min(adjusted)) / statistics.median(adjusted)
        add = [r["additivity_error"] for r in runs]
        roof = runs[0]["roofline"]
        entry = {"preset": name, "resolution": res, "ttft_ms": ttfts, "spread": spread,
                 "additivity_error": add, "unstable": [r["unstable"] for r in runs],
                 "canary_drift": [r["protocol"].get("canary_drift") for r in runs],
                 "canary_ms": canary, "canary_adjusted_spread": adjusted_spread,
                 "n": [r["n"] for r in runs], "roofline": roof,
                 "stages_ms": [{k: r[f"{k}_ms"] for k in ("encoder", "projector", "prefill")}
                               for r in runs]}
        data.append(entry)
        rows.append([f"{name} @{res}", med, f"{spread:.1%}", f"{adjusted_spread:.1%}",
                     f"{max(add, key=abs):+.1%}", _max_drift(entry["canary_drift"], entry["n"]),
                     f"{roof['encoder_gflops_s']:.0f} ({roof['encoder_fraction_of_peak']:.0%})",
                     f"{roof['prefill_gflops_s']:.0f} ({roof['prefill_fraction_of_peak']:.0%})",
                     f"{roof['peak_gflops_s']:.0f}", sum(entry["unstable"])])
    md = ("### TTFT repeatability, additivity, roofline\n\n"
          f"{args.processes} fresh processes per configuration, no cache, "
          f"{args.budget_s:.0f} s budget each, fp32, CPU.\n\n" + md_table(
              rows, ["configuration", "median TTFT ms", "spread of medians",
                     "spread of TTFT / canary",
                     "worst stages-sum error", "max canary drift", "encoder GFLOP/s (of roof)",
                     "prefill GFLOP/s (of roof)", "matmul roof GFLOP/s", "unstable runs"]))
    save("ttft", {"configs": data}, md)


def _max_drift(drifts: list[float | None], rounds: list[int]) -> str:
    """The largest canary drift of the runs; "n/a" where a run took too few rounds to tell
    (a run's drift compares the halves of its rounds), rather than a reassuring 0.0%."""
    seen = [d for d in drifts if d is not None]
    if not seen:
        return f"n/a ({max(rounds)} rounds)"
    return f"{max(seen):.1%}" + ("" if len(seen) == len(drifts) else
                                 f" ({len(seen)} of {len(drifts)} runs)")


if __name__ == "__main__":
    main()
