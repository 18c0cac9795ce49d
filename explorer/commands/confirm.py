"""`fastvlm-explore confirm`: re-measure a study's finalists in fresh processes before trusting
them. Part of a latency's variance is per process and part is the host's, so a front picked from
one process's timings each may not hold when measured again."""

from __future__ import annotations

import argparse
import sys
import time

from ._options import (add_progress_arg, nonnegative_int, positive_float, positive_int,
                       print_json, table)
from .pareto import add_budget_args, add_study_args, budgets_from_args

EXAMPLES = """examples:
  fastvlm-explore confirm --study quick                      # the feasible front, 3 processes
  fastvlm-explore confirm --study quick --trials 3,5 --processes 5
  fastvlm-explore confirm --study mobile --budget-s 60 --json > confirmed.json

Each trial is measured from scratch (no component cache) once in each of N fresh processes,
round by round in a shuffled order, so a slow spell of the host hits every trial alike. For
each neighbour pair in the sweep's TTFT order the verdict is `holds` (their ranges of
per-process medians do not overlap), `tie` (they overlap: this machine cannot tell them apart)
or `swapped`. Results are stored in the study; `pareto`, `recommend` and the dashboard show
them. Expect about N x trials x (budget + ~15 s to start and build) of wall time."""


def register(sub) -> None:
    p = sub.add_parser("confirm", help="re-measure the front in fresh processes (is it real?)",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(p)
    add_budget_args(p)
    p.add_argument("--trials", metavar="N,N,..", type=_numbers,
                   help="trial numbers to confirm (default: the feasible Pareto front)")
    p.add_argument("--max-trials", type=positive_int, default=8, metavar="K",
                   help="confirm at most K front trials, evenly spread along it (default 8)")
    p.add_argument("--processes", type=positive_int, default=3, metavar="N",
                   help="fresh processes per trial (default 3, at least 2)")
    p.add_argument("--budget-s", type=positive_float, metavar="S",
                   help="measurement budget per process (default: the study's)")
    p.add_argument("--allow-other-device", action="store_true",
                   help="confirm on a device other than the study's (results are not comparable)")
    p.add_argument("--seed", type=nonnegative_int, default=0, metavar="N",
                   help="order of the shuffled rounds")
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_progress_arg(p)
    p.set_defaults(func=run)


def _numbers(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated trial numbers, got {text!r}")


def run(args) -> int:
    from explorer.errors import UsageError

    if args.processes < 2:
        raise UsageError(f"--processes {args.processes} is too few; valid: 2 or more (a spread "
                         "needs two fresh processes, 3 is the usual minimum)")
    from explorer.confirm import CONFIRMATIONS_ATTR, ConfirmReport, confirm
    from explorer.results import study_frame
    from explorer.storage import load_study, open_storage
    from explorer.study import check_device, load_spec_from_study  # imports torch

    study = load_study(args.study, open_storage(args.storage, create=False))
    frame = study_frame(study)
    spec = load_spec_from_study(study)
    numbers = _choose(frame, args)
    settings = dict(spec.measure) | ({"budget_s": args.budget_s} if args.budget_s else {})
    runtime = _runtime(settings)
    check_device(study, runtime, args.allow_other_device)

    rows = {r["number"]: r for r in frame.rows}
    budget_s = float(settings.get("budget_s", 30.0))
    stored = dict(study.user_attrs.get(CONFIRMATIONS_ATTR) or {})
    measurements = len(numbers) * args.processes
    minutes = measurements * (1.2 * budget_s + 15) / 60  # + starting Python, building the model
    print(f"confirming {len(numbers)} trial(s) of study {frame.study_name!r} in "
          f"{args.processes} fresh processes each: {measurements} measurements with no cache, "
          f"{budget_s:g} s budget each (roughly {minutes:.0f} min)", file=sys.stderr)

    from tqdm import tqdm

    bar = tqdm(total=measurements, desc="confirm", unit="run", file=sys.stderr, leave=False,
               disable=True if args.no_progress else None)

    def store(c) -> None:  # after every run: an interrupted confirmation keeps what it measured
        stored[str(c.number)] = c.to_dict() | {
            "budget_s": budget_s, "fingerprint": runtime.fingerprint,
            "date": time.strftime("%Y-%m-%d %H:%M")}
        study.set_user_attr(CONFIRMATIONS_ATTR, stored)
        bar.set_postfix_str(f"#{c.number} {c.ttfts[-1]:,.0f} ms" if "ttft_ms" in c.runs[-1]
                            else f"#{c.number} failed")
        bar.update(1)

    try:
        found = confirm(numbers, rows, settings, args.processes, on_result=store, seed=args.seed)
    finally:
        bar.close()
    budgets = budgets_from_args(frame, args)
    report = ConfirmReport(frame.study_name, args.processes, budget_s, found,
                           {n: rows[n].get(frame.proxy_key) for n in numbers
                            if rows[n].get(frame.proxy_key) is not None},
                           budgets.max_ttft_ms)
    if args.json:
        print_json(report.to_dict())
    else:
        _print(report, args.storage)
    return 1 if any(c.errors for c in found) else 0


def _choose(frame, args) -> list[int]:
    from explorer.errors import UsageError

    complete = {r["number"] for r in frame.complete()}
    if args.trials:
        bad = [n for n in args.trials if n not in complete]
        if bad:
            raise UsageError(f"trial {bad[0]} is not a complete trial of study "
                             f"{frame.study_name!r}; complete: {_ranges(sorted(complete))}")
        return list(dict.fromkeys(args.trials))
    front = frame.front(budgets_from_args(frame, args))
    if not front:
        raise UsageError(f"study {frame.study_name!r} has no feasible complete trial to confirm "
                         f"({len(complete)} complete); relax the budgets or pass --trials")
    if len(front) > args.max_trials:  # evenly along the front, both ends included
        picks = sorted({round(i * (len(front) - 1) / max(args.max_trials - 1, 1))
                        for i in range(args.max_trials)})
        print(f"the front has {len(front)} trials; confirming {len(picks)} spread along it "
              "(--max-trials, or --trials to choose)", file=sys.stderr)
        front = [front[i] for i in picks]
    return [r["number"] for r in front]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> '0..2, 5, 7..8'."""
    groups: list[list[int]] = []
    for n in numbers:
        if groups and n == groups[-1][1] + 1:
            groups[-1][1] = n
        else:
            groups.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in groups) or "(none)"


def _runtime(settings: dict):
    from fastvlm.runtime import setup_runtime

    return setup_runtime(settings.get("device", "auto"), settings.get("threads"))


def _print(report, storage: str | None) -> None:
    from explorer.storage import study_flags

    data = report.to_dict()
    rows = []
    for t in data["trials"]:
        per_process = " / ".join(f"{v:,.0f}" for v in t["ttft_ms"]) or "-"
        note = []
        if not t["still_pareto_optimal"]:
            note.append(f"dominated by #{t['dominated_by']}")
        if t.get("within_ttft_budget") is False:
            note.append("over the TTFT budget")
        if t["unstable_runs"]:
            note.append(f"{t['unstable_runs']} unstable")
        if t["errors"]:
            note.append(f"{len(t['errors'])} failed: {t['errors'][0]}")
        rows.append([t["number"], t["summary"], t["sweep_ttft_ms"], t["median_ms"],
                     per_process, _pct(t["spread"]),
                     f"{t['ratio'] - 1:+.1%}" if t["ratio"] is not None else "-",
                     ", ".join(note)])
    print(f"study {report.study}: {len(rows)} trial(s) re-measured in {report.processes} fresh "
          f"processes each (no cache, {report.budget_s:g} s budget)")
    print(table(rows, ["#", "configuration", "sweep ms", "confirmed ms", "per process ms",
                       "spread", "vs sweep", ""], align="llrrrrrl"))
    verdicts = data["order"]
    if verdicts:
        text = "; ".join(f"#{v['faster_in_sweep']} < #{v['slower_in_sweep']} {v['verdict']}"
                         for v in verdicts)
        print(f"TTFT order of the sweep, re-judged: {text}")
        if any(v["verdict"] == "tie" for v in verdicts):
            print("tie: the per-process ranges overlap, so this machine cannot tell those two "
                  "apart; more --processes, a longer --budget-s or a quieter machine may.")
    spreads = [t["spread"] for t in data["trials"] if t["spread"] is not None]
    if spreads and max(spreads) > 0.05:
        print(f"spread above 5% (worst {max(spreads):.1%}): the host's speed changed between "
              "processes; compare trials within one confirmation run, and trust the verdicts "
              "above rather than single medians.")
    ratios = [t["ratio"] for t in data["trials"] if t["ratio"] is not None]
    if len(ratios) >= 2 and (min(ratios) > 1.1 or max(ratios) < 0.9):
        print(f"every trial measured {min(ratios) - 1:+.0%} to {max(ratios) - 1:+.0%} vs the "
              "sweep: the host runs at another speed now than when the sweep measured (or the "
              "sweep's components came from the cache of another time); the order is what "
              "carries over.")
    print(f"stored in study {report.study!r}; `fastvlm-explore pareto"
          f"{study_flags(report.study, storage)}` "
          "shows the confirmed medians.")
