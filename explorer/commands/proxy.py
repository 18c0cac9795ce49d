"""`fastvlm-explore proxy`: quick proxy accuracy of one configuration, its validation, its fit."""

from __future__ import annotations

import argparse
import sys

from ._options import (Progress, number_type, add_config_args, config_from_args, nonnegative_int,
                       positive_float, print_json, table)

EXAMPLES = """examples:
  fastvlm-explore proxy --preset fastvlm-0.5b --resolution 512            # tier 0, instant
  fastvlm-explore proxy --preset fastvlm-1.5b --resolution 768 --tier 1   # OCR-measured legibility
  fastvlm-explore proxy --preset fastvlm-0.5b --widths 48,96,192,384,768 --tier 2 --budget-s 120
  fastvlm-explore proxy validate            # monotonicity, null controls, orderings, errors, cost
  fastvlm-explore proxy calibrate           # refit tiers 0 and 1 on the published points
                                            # (rewrites fastvlm/data/proxy_calibration.json)

tiers: 0 analytic surrogate (<10 ms); 1 legibility measured with Tesseract on synthetic pages
(seconds per new resolution, cached); 2 this encoder probed on the synthetic reading task
(tens of seconds, bounded by --budget-s; sees resolution and width, depth stays a prior).
Every value is "proxy accuracy (family, tier k)" with its uncertainty and leave-one-out
calibration error; the LLM-size effect is a calibrated prior. It is not TextVQA or any other
benchmark score."""


def register(sub) -> None:
    p = sub.add_parser("proxy", help="proxy accuracy of a configuration (tiers 0-2); "
                       "`proxy validate`, `proxy calibrate`",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", default="score", choices=("score", "validate", "calibrate"),
                   help="score a configuration (default), run the validation report, or refit")
    add_config_args(p)
    g = p.add_argument_group("proxy")
    g.add_argument("--tier", default="0", metavar="T",
                   help="0 | 1 | 2 (or surrogate | ocr-legibility | "
                   "encoder-probe); default 0")
    g.add_argument("--budget-s", type=positive_float, default=120.0, metavar="S",
                   help="tier 2 time budget (s)")
    g.add_argument("--width-factor", type=number_type(float, lambda v: 0 < v <= 1, "in (0, 1]"),
                   metavar="F",
                   default=0.5,
                   help="tier 2: probe the encoder at this width (resolution is never reduced)")
    g.add_argument("--seed", type=nonnegative_int, default=0, metavar="N",
                   help="render seed for tiers 1-2")
    g.add_argument("--quick", action="store_true", help="validate: fewer pages and variants")
    g.add_argument("--with-tier2", action="store_true", help="validate: also time tier 2")
    g.add_argument("--tier0-only", action="store_true",
                   help="calibrate: skip tier 1 (no Tesseract needed)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


SCORING = ("tier 0", "tier 1", "tier 2")
# option -> (its default, where it has an effect): any other use is said, not silently ignored
_APPLIES = {"budget_s": (120.0, ("tier 2",)), "width_factor": (0.5, ("tier 2",)),
            "seed": (0, ("tier 1", "tier 2")), "quick": (False, ("validate",)),
            "with_tier2": (False, ("validate",)), "tier0_only": (False, ("calibrate",)),
            "preset": (None, SCORING), "config": (None, SCORING), "resolution": (None, SCORING)}


def _warn_unused(args, where: str) -> None:
    """A note on stderr for each option given that has no effect on `where`."""
    for name, (default, applies) in _APPLIES.items():
        if getattr(args, name, default) != default and where not in applies:
            print(f"note: --{name.replace('_', '-')} has no effect on {where} (it applies to "
                  f"{' and '.join(applies) if applies != SCORING else 'scoring'})",
                  file=sys.stderr)


def run(args) -> int:
    if args.action in ("calibrate", "validate"):
        _warn_unused(args, args.action)
        return _calibrate(args) if args.action == "calibrate" else _validate(args)
    from fastvlm.proxy import evaluate, get_proxy

    cfg = config_from_args(args)
    spec = get_proxy(args.tier)
    _warn_unused(args, f"tier {spec.tier}")
    options = {}
    if spec.tier >= 1:
        options["seed"] = args.seed
    if spec.tier == 2:
        options.update(budget_s=args.budget_s, width_factor=args.width_factor)
    progress = Progress(f"proxy tier {spec.tier} ({spec.name})") if spec.tier else None
    try:
        if spec.tier == 2:
            import time
            t0 = time.monotonic()
            options["report"] = lambda step, value: progress(  # returns None: never prunes
                f"probe, {step} crops: held-out {value:.3f}",
                min(1.0, (time.monotonic() - t0) / args.budget_s))
        result = evaluate(cfg, spec.tier, **options).to_dict()
    finally:
        if progress:
            progress.close()
    if args.json:
        print_json(result)
    else:
        print(render(result, cfg.summary()))
    return 0


def render(d: dict, summary: str) -> str:
    rows = [[v["label"], f"{v['value']:.3f}", f"±{v['uncertainty']:.3f}",
             f"{d['calibration_rmse'][fam]:.3f}"] for fam, v in d["families"].items()]
    lines = [summary, "",
             table(rows, ["proxy", "value", "uncertainty (1 sd)", "LOO calibration RMSE"],
                   align="lrrr"), "",
             f"tier {d['tier']} ({d['name']}), computed in {d['cost_ms']:,.1f} ms"]
    lines += [f"  - {n}" for n in d["notes"]]
    return "\n".join(lines)


def _calibrate(args) -> int:
    from fastvlm.proxy import calibrate

    progress = Progress("measuring tier-1 legibility") if not args.tier0_only else None
    try:
        doc = calibrate.run(tier1=not args.tier0_only, progress=progress)
    finally:
        if progress:
            progress.close()
    if args.json:
        print_json({t: {f: {k: v for k, v in fit.items() if k != "alpha"}
                        for f, fit in fam.items() if f != "measurement"}
                    for t, fam in doc["tiers"].items()})
        return 0
    rows = []
    for tier, fams in doc["tiers"].items():
        for fam, fit in fams.items():
            if fam == "measurement":
                continue
            rows.append([tier, fam, fit["n_points"], f"{fit['loo_rmse']:.4f}",
                         f"{fit['baseline_loo_rmse']:.4f}", _f(fit["leave_one_llm_out_rmse"]),
                         _f(fit["leave_one_resolution_out_rmse"]), f"{fit['beta']:.3f}",
                         fit["median_xheight"] if tier == "0" else f"x{fit.get('text_scale')}"])
    print(table(rows, ["tier", "family", "points", "LOO RMSE", "baseline", "leave-LLM-out",
                       "leave-res-out", "beta (ln N)", "text size"], align="llrrrrrrr"))
    print(f"\nwrote {calibrate.CALIBRATION_FILE} (data {doc['data']['version']})")
    return 0


def _validate(args) -> int:
    from fastvlm.proxy.validate import render_report, validate

    progress = Progress("validating the proxy")
    try:
        report = validate(quick=args.quick, with_tier2=args.with_tier2,
                          progress=progress)
    finally:
        progress.close()
    if args.json:
        print_json(report)
    else:
        print(render_report(report))
    failed = [c["name"] for c in report["checks"] if c["passed"] is False]
    if failed:
        print(f"\nFAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _f(v) -> str:
    return "-" if v is None else f"{v:.4f}"
