"""`fastvlm-explore compare`: two or more studies side by side, e.g. one search space swept on
two devices: the same configurations' TTFT in each, how much faster each device is and whether
it orders the configurations the same way, and the configurations on every feasible front."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from ._options import add_storage_arg, print_json, table
from .pareto import add_budget_args

SHOWN = 20  # shared configurations listed in the text output (the fastest first)

EXAMPLES = """examples:
  fastvlm-explore compare --study quick-laptop --study quick-server
  fastvlm-explore compare --study paper-cpu --study paper-cuda --max-ttft-ms 500 --json
  fastvlm-explore compare --study paper-cpu --study paper-cuda --html devices.html  # to share
  fastvlm-explore compare --study paper-cpu --study paper-cuda --csv > same-configs.csv
  # `make sweep` on two machines, their results files side by side (each file's only study)
  fastvlm-explore compare --storage laptop.db --storage jetson.db
  fastvlm-explore compare --study quick --storage laptop.db --study quick --storage jetson.db
  fastvlm-explore compare                       # every study in the storage, oldest first

Each study's front uses its own [constraints] unless budgets are given here (then they apply to
every study). The ratios compare each study with the first one given. "One configuration for
all": the best configuration within every study's budgets on its own device (one model for
several devices), by `recommend`'s rule on the first study's trials. A study measured on
another device needs its own name: `sweep` refuses to mix devices in one study."""


def register(sub) -> None:
    p = sub.add_parser("compare", help="two or more studies side by side (e.g. two devices)",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", action="append", metavar="NAME",
                   help="a study to compare; give it two or more times (the first is the base). "
                        "Default: every study in the storage, oldest first, or with --storage "
                        "given per results file, each file's only study")
    add_storage_arg(p, several="once for every study, or once per --study in the same order, "
                               "for studies in different storages (each machine's own SQLite "
                               "file)")
    add_budget_args(p)
    p.add_argument("--most-accurate", action="store_true",
                   help="for the one configuration for all studies, the highest proxy wins "
                        "outright (default: proxy ties within the uncertainty go to the "
                        "fastest, as in `recommend`)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON object")
    fmt.add_argument("--csv", action="store_true",
                     help="the configurations completed in every study as CSV: TTFT in each, "
                          "ratio to the first, trial numbers")
    p.add_argument("--html", metavar="FILE", type=Path,
                   help="also write the dashboard's Compare page (the fronts overlaid, hover, "
                        "zoom; the tables) as one self-contained HTML page (~5 MB, plotly.js "
                        "inside: it opens offline)")
    p.set_defaults(func=run)


def run(args) -> int:
    from explorer.compare import (common_configs, on_every_front, one_for_all, shared_csv,
                                  speed_line, speed_summary, study_labels)
    from explorer.errors import UsageError
    from explorer.results import load_frame

    from .pareto import budgets_from_args, check_writable

    if args.html is not None:
        check_writable(args.html)  # before any study is read: a typo costs nothing
    storages = args.storage or [None]
    studies = args.study or default_studies(storages)
    if len(storages) == 1:
        storages = storages * len(studies)
    elif len(storages) != len(studies):
        raise UsageError(f"give --storage once (for every study) or once per --study; got "
                         f"{len(storages)} --storage for {len(studies)} --study")
    pairs = list(zip(studies, storages))
    if len(set(pairs)) < 2 or len(set(pairs)) < len(pairs):
        raise UsageError(f"compare needs two or more different studies, got "
                         f"{', '.join(studies) or 'none'}; give --study NAME once per study "
                         "(and --storage once per study for studies in different storages)")
    names = study_labels(pairs)
    # a study is known by its label: its name, or with its storage where names repeat
    frames = [dataclasses.replace(load_frame(name, url), study_name=label)
              for (name, url), label in zip(pairs, names)]
    budgets = [budgets_from_args(f, args) for f in frames]
    fronts = {f.study_name: f.front(b) for f, b in zip(frames, budgets)}
    if args.html is not None:
        write_html(args.html, frames, budgets, [url for _, url in pairs],
                   ties=not args.most_accurate)
    shared = common_configs(frames)
    if args.csv:
        print(shared_csv(shared, names), end="")
        return 0
    speeds = speed_summary(shared, names)
    everywhere = on_every_front(fronts)
    one = one_for_all(frames, budgets, ties=not args.most_accurate)
    if args.json:
        print_json({"studies": [{"study": f.study_name, "device": f.device,
                                 "complete": len(f.complete()),
                                 "front": [r["number"] for r in fronts[f.study_name]]}
                                for f in frames],
                    "speed": speeds, "same_configurations": shared,
                    "on_every_front": everywhere, "one_for_all": one})
        return 0
    print(table([[f.study_name, f.device, len(f.complete()), len(fronts[f.study_name])]
                 for f in frames], ["study", "device", "complete", "front"], align="llrr"))
    print(f"\nthe same configuration in each study: {len(shared)} completed in all of them "
          "(budgets not applied)")
    if shared:
        ms = [f"{n} TTFT ms" for n in names]
        ratios = [f"ratio {n} / {names[0]}" for n in names[1:]]
        print(table([[r["configuration"]] + [r[k] for k in ms] + [f"{r[k]:.2f}x" for k in ratios]
                     for r in shared[:SHOWN]], ["configuration"] + ms + ratios))
        if len(shared) > SHOWN:
            print(f"... and {len(shared) - SHOWN} slower ones (--json lists them all)")
        for s in speeds:
            print(speed_line(s))
    print(f"\non every feasible front: {len(everywhere)} configuration(s)")
    if everywhere:
        print(table([[r["configuration"]] + [f"{r[f'{n} TTFT ms']:,.0f} (#{r[f'{n} trial']})"
                                             for n in names] for r in everywhere],
                    ["configuration"] + [f"{n} ms (#trial)" for n in names]))
    if one["choice"] is None:
        print(f"\nno one configuration for all of them: {one['reason']}")
    else:
        print(f"\none configuration for all of them: {one['choice']['configuration']}\n"
              f"  {one['reason']}")
    return 0



def default_studies(storages: list) -> list[str]:
    """No --study: every study of the one storage (creation order, so the first swept is the
    base), or the only study of each of several storages (an error where one holds more)."""
    from explorer.errors import UsageError
    from explorer.storage import load_study, open_storage, redact, study_names

    if len(storages) == 1:
        return study_names(open_storage(storages[0], create=False))
    names = []
    for url in storages:
        try:
            names.append(load_study(None, open_storage(url, create=False)).study_name)
        except UsageError as e:  # which of the storages holds several
            raise UsageError(f"{redact(url)}: {e}") from None
    return names


def write_html(path: Path, frames: list, budgets: list, storages: list[str | None],
               ties: bool = True) -> None:
    """The Compare page of `frames` (each under its budgets), ranked by the first study's
    accuracy family, written whole or not at all."""
    from dashboard.data import StudyData, columns, compare_studies, front_view
    from dashboard.static_page import compare_page
    from explorer.errors import StudyError
    from explorer.storage import default_storage_url

    from .pareto import write_page

    family = frames[0].proxy_key.removeprefix("proxy_")
    studies = []
    for frame, b in zip(frames, budgets):
        data = StudyData(frame, columns(frame.rows))
        view = front_view(data, family, b, ties=ties)
        if not view.shown.any():
            raise StudyError(f"--html: study {frame.study_name!r} has no complete trial with a "
                             f"TTFT and a {family.replace('_', '-')} proxy "
                             f"({len(frame.complete())} complete); no page written")
        studies.append((data, view))
    page = compare_page(compare_studies(studies), [s or default_storage_url() for s in storages])
    write_page(path, page, "the fronts of " + ", ".join(f.study_name for f in frames)
               + " overlaid")
