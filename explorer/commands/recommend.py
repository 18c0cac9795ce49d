"""`fastvlm-explore recommend`: the best configuration within budgets, and why."""

from __future__ import annotations

import argparse
import dataclasses
import textwrap

from explorer.recommend import proxy_label

from ._options import print_json, table
from .pareto import add_budget_args, add_study_args, budgets_from_args

EXAMPLES = """examples:
  fastvlm-explore recommend --study quick --max-ttft-ms 1500
  fastvlm-explore recommend --study mobile    # its study file's [constraints] as the budgets
  fastvlm-explore recommend --study mobile --max-ttft-ms 800 --max-memory-mb 2048 --json
  fastvlm-explore recommend --study paper --ladder   # the choice at every budget that changes it

Best = highest proxy accuracy within the budgets; proxy differences within the uncertainty
are ties, and among the trials tied with the best (and beaten by none on both TTFT and proxy)
the fastest wins. --most-accurate takes the highest proxy outright: the uncertainty is mostly
the calibration's, which similar configurations share, so a smaller difference may be real.
One configuration for several devices (a study per device): `fastvlm-explore compare --study A
--study B` picks the best within every study's budgets on its own device."""


def register(sub) -> None:
    p = sub.add_parser("recommend", help="pick the best trial within budgets and explain why",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(p)
    add_budget_args(p)
    p.add_argument("--most-accurate", action="store_true",
                   help="the highest proxy within budget, even when a faster trial ties with it "
                        "within the proxy's uncertainty")
    p.add_argument("--ladder", action="store_true",
                   help="the recommendation at every TTFT budget where it changes (what more "
                        "time buys); up to --max-ttft-ms if given, else across the whole front")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from explorer.errors import UsageError
    from explorer.recommend import recommend
    from explorer.results import load_frame
    from explorer.storage import study_flags

    frame = load_frame(args.study, args.storage)
    budgets = budgets_from_args(frame, args)
    if args.ladder:  # across budgets: the study's TTFT constraint only if asked for
        return _print_ladder(frame, dataclasses.replace(budgets, max_ttft_ms=args.max_ttft_ms),
                             ties=not args.most_accurate, as_json=args.json)
    if budgets.max_ttft_ms is None:
        raise UsageError(f"recommend needs a TTFT budget: study {frame.study_name!r} stores none; "
                         f"pass --max-ttft-ms ({_ttft_range(frame)})")
    rec = recommend(frame, budgets, ties=not args.most_accurate)
    if args.json:
        print_json(rec.to_dict())
        return 0 if rec.choice else 1
    if rec.choice is None:
        _say(f"no recommendation: {rec.reason}")
        return 1
    c = rec.choice
    where = study_flags(frame.study_name, args.storage)
    print(f"recommended: trial {c['number']}: {c['summary']}")
    print(f"  TTFT {c['ttft_ms']:,.0f} ms (encoder {c['encoder_ms']:,.0f}, prefill "
          f"{c['prefill_ms']:,.0f}); {proxy_label(rec.proxy_key, c)} "
          f"{c[rec.proxy_key]:.3f} +- {c.get(rec.proxy_key + '_unc') or 0:.3f}; memory "
          f"{c.get('memory_mb') or 0:,.0f} MB ({c.get('memory_source')})")
    if c.get("preprocess_ms") is not None:  # part of the user's wait, not of TTFT
        print(f"  plus image preprocessing {c['preprocess_ms']:,.0f} ms before the encoder (a "
              "1920x1080 JPEG; not in TTFT or its budget)")
    print("why:")
    for point in rec.points:
        _say(point, first="  - ", rest="    ")
    if c.get("unstable"):
        _say(f"caution: its TTFT was timed on a busy machine (unstable; median CI "
             f"{c.get('ttft_ci_low_ms') or 0:,.0f}-{c.get('ttft_ci_high_ms') or 0:,.0f} ms, "
             f"n={c.get('n')}): `fastvlm-explore cache clear --unstable` and `measure` it again "
             "before relying on it.")
    if c.get("confirmed_ttft_ms") is not None:
        over = budgets.max_ttft_ms is not None and c["confirmed_ttft_ms"] > budgets.max_ttft_ms
        ratio = c["confirmed_ttft_ms"] / c["ttft_ms"] - 1
        print(f"confirmed in {c.get('confirmed_processes')} fresh processes: "
              f"{c['confirmed_ttft_ms']:,.0f} ms ({ratio:+.0%} vs the sweep; spread "
              f"{c.get('confirmed_spread') or 0:.1%})"
              + (f", over the {budgets.max_ttft_ms:,.0f} ms budget there" if over else ""))
        if abs(ratio) > CONFIRM_GAP:
            _say(f"caution: the fresh processes and the sweep disagree by {ratio:+.0%}; the "
                 "recommendation ranks the sweep's timing. Confirm the neighbours too "
                 f"(`fastvlm-explore confirm{where}`) before choosing.")
    else:
        print(f"confirm: fastvlm-explore confirm{where} --trials "
              f"{c['number']} (re-measures it in fresh processes)")
    print(f"export: fastvlm-explore export{where} --trial {c['number']} "
          f"--out exported/{frame.study_name}-{c['number']}")
    return 0


def _say(text: str, first: str = "", rest: str = "  ") -> None:
    """`text` wrapped for a terminal (words and `commands` never split)."""
    print(textwrap.fill(text, width=100, initial_indent=first, subsequent_indent=rest,
                        break_on_hyphens=False, break_long_words=False))


def _print_ladder(frame, budgets, ties: bool, as_json: bool) -> int:
    from explorer.recommend import budget_text, ladder, ladder_note, trial_summary

    steps = ladder(frame, budgets, ties=ties)
    key = frame.proxy_key
    unmeasured = frame.unmeasured_within(budgets.max_ttft_ms)
    if as_json:
        print_json({"study": frame.study_name, "proxy": key, "ties": ties,
                    "budgets": budgets.__dict__,
                    "steps": [{"from_ttft_budget_ms": r.from_ms,
                               **trial_summary(r.choice, key)} for r in steps],
                    "unmeasured": unmeasured})
        return 0 if steps else 1
    if not steps:
        print(f"no recommendation at any TTFT budget: nothing in study {frame.study_name!r} "
              f"meets the budgets ({budget_text(budgets, key)}) with a proxy value")
        return 1
    rows, prev = [], None
    value = lambda r: f"{r[key]:.3f}+-{r.get(key + '_unc') or 0:.3f}"  # noqa: E731
    for r in steps:
        c, best = r.choice, r.most_accurate
        gain = "" if prev is None else (f"{c[key] - prev[key]:+.3f} for "
                                        f"{c['ttft_ms'] - prev['ttft_ms']:+,.0f} ms")
        tie = "" if best["number"] == c["number"] else f"trial {best['number']} ({best[key]:.3f})"
        rows.append([f"{r.from_ms:,.0f}", c["number"], f"{c['ttft_ms']:,.0f}",
                     value(c), gain, tie, c["summary"]])
        prev = c
    rule = ("the most accurate within each budget" if not ties else
            "ties within the proxy's uncertainty go to the faster trial")
    print(f"study {frame.study_name}: the recommendation at every TTFT budget where it changes "
          f"({rule}; budgets: {budget_text(budgets, key)})")
    print(table(rows, ["budget from ms", "trial", "TTFT ms", proxy_label(key, steps[0].choice),
                       "vs the step before", "ties with", "configuration"], align="rrrrrll"))
    note = (f"A budget under {steps[0].from_ms:,.0f} ms fits nothing. "
            + ladder_note(ties, unmeasured))
    print(textwrap.fill(note, width=100, break_on_hyphens=False))
    return 0


CONFIRM_GAP = 0.25  # beyond the spreads confirm measured on the shared EPYC host (5-27%)


def _ttft_range(frame) -> str:
    ttfts = [r["ttft_ms"] for r in frame.complete() if r.get("ttft_ms") is not None]
    if not ttfts:
        return "the study has no complete trial yet"
    return f"its trials take {min(ttfts):,.0f}-{max(ttfts):,.0f} ms"
