"""Proxy accuracy: calibration error, the validation report and the cost per tier (issue 3).

    python -m benchmarks.bench_proxy [--quick]

Runs `fastvlm.proxy.validate.validate` (the same report as `fastvlm-explore proxy validate`)
with tier 2 timed, and tabulates the stored calibration. Tier-1 readings are cached: the cold
cost per family is the original measurement's wall time, recorded with the cache entry.
"""

from __future__ import annotations

import argparse

from fastvlm.proxy.calibrate import load
from fastvlm.proxy.validate import validate

from .common import md_table, save


def calibration_rows(cal: dict) -> list[list]:
    rows = []
    for tier, fams in sorted(cal["tiers"].items()):
        for fam, fit in fams.items():
            if fam == "measurement":
                continue
            pt = lambda v: "-" if v is None else f"{v * 100:.2f}"  # noqa: E731
            rows.append([tier, fam, fit["n_points"], pt(fit["loo_rmse"]),
                         pt(fit["baseline_loo_rmse"]), pt(fit["leave_one_llm_out_rmse"]),
                         pt(fit["leave_one_resolution_out_rmse"])])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    report = validate(quick=args.quick, with_tier2=True,
                      progress=lambda msg, frac: print(f"  .. {msg}", flush=True))
    cal = load()
    mark = {True: "pass", False: "**FAIL**", None: "info"}
    checks = md_table([[mark[c["passed"]], c["name"], c["detail"]] for c in report["checks"]],
                      ["", "check", "measured"])
    cal_md = md_table(calibration_rows(cal), ["tier", "family", "points", "LOO RMSE (pt)",
                                              "baseline (pt)", "leave-one-LLM-out",
                                              "leave-one-resolution-out"])
    c = report["costs"]
    cost_md = md_table([
        ["0 (surrogate)", f"{c['tier0_ms']:.2f} ms", "per call"],
        ["1 (OCR legibility), cold", f"{c['tier1_cold_ms_per_family'] / 1e3:.1f} s",
         "per family and resolution (24 pages, Tesseract)"],
        ["1, cached", f"{c['tier1_cached_ms']:.1f} ms", "same resolution again"],
        ["2 (encoder probe)", f"{c.get('tier2_s', float('nan')):.1f} s",
         f"budget {c.get('tier2_budget_s', 0):.0f} s, FastViTHD x0.5 width @256"],
    ], ["tier", "cost", "note"])
    rb = report["robustness"]
    rob_md = md_table([[name] + [f"{v:.3f}" for v in vals] for name, vals in rb["curves"].items()],
                      ["variant"] + [str(r) for r in rb["resolutions"]])
    md = (f"### Proxy accuracy: calibration and validation\n\n"
          f"Calibration on the published FastVLM points (accuracy points, leave-one-out):\n\n"
          f"{cal_md}\n\nValidation report ({report['pages']} pages per measurement):\n\n"
          f"{checks}\n\nMeasured text-rich legibility (Tesseract character accuracy) by render "
          f"variant:\n\n{rob_md}\n\nCost per tier on this machine:\n\n{cost_md}")
    save("proxy", {"report": report, "calibration": {t: {f: {k: v for k, v in fit.items()
                                                               if k != "alpha"}
                                                           for f, fit in fams.items()}
                                                       for t, fams in cal["tiers"].items()}}, md)


if __name__ == "__main__":
    main()
