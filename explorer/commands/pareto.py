"""`fastvlm-explore pareto`: the feasible Pareto front of a study (table, JSON or CSV), and
with --html the dashboard's Pareto chart as one file that opens offline."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._options import add_storage_arg, fraction, positive_float, print_json, table

EXAMPLES = """examples:
  fastvlm-explore pareto --study quick
  fastvlm-explore pareto --study quick --json | jq '.trials[0]'
  fastvlm-explore pareto --study mobile --max-ttft-ms 800 --csv > front.csv
  fastvlm-explore pareto --study quick --html quick-front.html   # chart + table, to share

Feasible = complete and within the study's constraints (or the budgets given here)."""


def register(sub) -> None:
    p = sub.add_parser("pareto", help="print the feasible Pareto front of a study",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(p)
    add_budget_args(p)
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--csv", action="store_true", help="CSV rows (flat columns)")
    p.add_argument("--html", metavar="FILE", type=Path,
                   help="also write the dashboard's Pareto chart (hover, zoom), the "
                        "recommendation and the front as one self-contained HTML page "
                        "(~5 MB, plotly.js inside: it opens offline)")
    p.set_defaults(func=run)


def add_study_args(p) -> None:
    p.add_argument("--study", help="study name (default: the storage's only study; "
                                    "`fastvlm-explore studies` lists them)")
    add_storage_arg(p)


def add_budget_args(p) -> None:
    p.add_argument("--max-ttft-ms", type=positive_float, metavar="MS",
                   help="TTFT budget, ms (default: the study's constraint)")
    p.add_argument("--max-memory-mb", type=positive_float, metavar="MB",
                   help="peak memory budget, MB")
    p.add_argument("--min-proxy", type=fraction, metavar="P",
                   help="minimum proxy accuracy, 0..1 (the study's proxy family)")


def budgets_from_args(frame, args):
    from explorer.results import Budgets

    stored = frame.stored_budgets
    return Budgets(args.max_ttft_ms if args.max_ttft_ms is not None else stored.max_ttft_ms,
                   args.max_memory_mb if args.max_memory_mb is not None else stored.max_memory_mb,
                   args.min_proxy)


def run(args) -> int:
    from explorer.recommend import proxy_label
    from explorer.results import load_frame, rows_csv
    from explorer.storage import study_flags

    if args.html is not None:
        check_writable(args.html)  # before the study is read: a typo costs nothing
    frame = load_frame(args.study, args.storage)
    budgets = budgets_from_args(frame, args)
    front = frame.front(budgets)
    if args.html is not None:
        write_html(args.html, frame, budgets, args.storage)
    if args.json:
        print_json({"study": frame.study_name, "directions": frame.directions,
                    "metric_names": frame.metric_names, "trials": [_trial_json(r) for r in front]})
        return 0
    if not front:  # on stderr for --csv: stdout stays a (header-only) CSV
        done = len(frame.complete())
        print(f"study {frame.study_name}: no feasible complete trial ({done} complete)",
              file=sys.stderr if args.csv else sys.stdout)
    if args.csv:
        sys.stdout.write(rows_csv(front))
        return 0
    if not front:
        return 0
    key = frame.proxy_key
    confirmed = any(r.get("confirmed_ttft_ms") is not None for r in front)
    predicted = {r.get("memory_source") == "predicted" for r in front}
    rows = [[r["number"], r["summary"] + (f" [{r['reference']}]" if r.get("reference") else ""),
             r["ttft_ms"], r["encoder_ms"], r["prefill_ms"], f"{r[key]:.3f}+-{r[f'{key}_unc']:.3f}",
             _memory(r, mixed=len(predicted) > 1)] + ([_confirmed(r)] if confirmed else [])
            + [_flags(r)] for r in front]
    print(f"study {frame.study_name}: {len(front)} feasible Pareto-optimal of "
          f"{len(frame.complete())} complete trials")
    headers = ["#", "configuration", "TTFT ms", "encoder ms", "prefill ms",
               proxy_label(key, front[0]),
               "memory MB (predicted)" if predicted == {True} else "memory MB"]
    headers += ["confirmed ms (spread)"] if confirmed else []
    print(table(rows, headers + ["notes"], align="llrrrrr" + "r" * confirmed + "l"))
    rmse = front[0].get(f"calibration_rmse_{key[6:]}")
    if rmse is not None:
        print(f"proxy accuracy is a calibrated proxy, not a benchmark score; calibration RMSE "
              f"{rmse:.3f}. TTFT measured on {frame.device}.")
    if confirmed:
        print("confirmed: the median of `fastvlm-explore confirm`'s fresh processes (no cache); "
              "the spread of their medians in brackets.")
    elif len(front) > 1:
        print(f"before trusting small TTFT differences: fastvlm-explore confirm"
              f"{study_flags(frame.study_name, args.storage)} (re-measures the front in fresh "
              "processes)")
    if any(r.get("unstable") for r in front):
        print("unstable: timed while the machine was busy (canary drift, spread > 10% or stages "
              "not adding up); after "
              "`fastvlm-explore cache clear --unstable`, `measure` or a sweep into a new study "
              "times them again.")
    return 0


def check_writable(path: Path) -> None:
    from explorer.errors import UsageError

    if path.is_dir():
        raise UsageError(f"--html {path} is a folder; give a file name, e.g. {path}/front.html")
    if not path.parent.is_dir():
        raise UsageError(f"--html {path}: folder {path.parent} does not exist")


def write_html(path: Path, frame, budgets, storage: str | None) -> None:
    """The Pareto page of `frame` under `budgets`, written whole or not at all."""
    from dashboard.data import StudyData, columns, front_view
    from dashboard.static_page import pareto_page
    from explorer.errors import StudyError
    from explorer.storage import default_storage_url

    data = StudyData(frame, columns(frame.rows))
    family = frame.proxy_key.removeprefix("proxy_")
    view = front_view(data, family, budgets)
    if not view.shown.any():
        raise StudyError(f"--html: nothing to draw, study {frame.study_name!r} has no complete "
                         f"trial with a TTFT and a {family.replace('_', '-')} proxy "
                         f"({len(frame.complete())} complete); no page written")
    page = pareto_page(data, view, storage or default_storage_url())
    write_page(path, page, f"the Pareto chart and the front of {frame.study_name}")


def write_page(path: Path, page: str, what: str) -> None:
    """`page` written whole or not at all (a temporary file renamed into place)."""
    from explorer.errors import UsageError

    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write --html {path}: {e.strerror or e}") from None
    print(f"wrote {path} ({len(page) / 1e6:.1f} MB): {what}; open it in a browser",
          file=sys.stderr)


def _memory(r: dict, mixed: bool) -> str:
    if r.get("memory_mb") is None:
        return "-"
    note = " (pred.)" if mixed and r.get("memory_source") == "predicted" else ""
    return f"{r['memory_mb']:,.0f}{note}"


def _confirmed(r: dict) -> str:
    if r.get("confirmed_ttft_ms") is None:
        return "-"
    spread = r.get("confirmed_spread")
    return f"{r['confirmed_ttft_ms']:,.0f}" + (f" ({spread:.1%})" if spread is not None else "")


def _flags(r: dict) -> str:
    return ", ".join(f for f, on in (("extrap.", r.get("extrapolated")),
                                     ("unstable", r.get("unstable"))) if on)


def _trial_json(r: dict) -> dict:
    return {
        "number": r["number"], "values": r["values"], "summary": r["summary"],
        "reference": r.get("reference"), "config": r.get("config"),
        "ttft_breakdown": {k: r.get(k) for k in ("ttft_ms", "encoder_ms", "projector_ms",
                                                 "prefill_ms", "ttft_p90_ms")}
        | {"ttft_ci_ms": [r.get("ttft_ci_low_ms"), r.get("ttft_ci_high_ms")]}  # as `measure`
        | {k: r.get(k) for k in ("n", "unstable", "extrapolated", "ttft_method")},
        "proxy": {k: r.get(k) for k in ("proxy_label", "proxy_tier", "proxy_text_rich",
                                        "proxy_text_rich_unc", "proxy_general",
                                        "proxy_general_unc", "calibration_rmse_text_rich",
                                        "calibration_rmse_general")},
        "memory_mb": r.get("memory_mb"), "memory_source": r.get("memory_source"),
        "params_total": r.get("params_total"),
        "confirmed": {k.removeprefix("confirmed_"): r.get(k) for k in (
            "confirmed_ttft_ms", "confirmed_spread", "confirmed_processes")}
        if r.get("confirmed_ttft_ms") is not None else None,
    }
