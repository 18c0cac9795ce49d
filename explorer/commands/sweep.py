"""`fastvlm-explore sweep`: run, or resume, the Pareto sweep a study file declares (and `worker`,
which joins one from another process or machine).

Several study files run one after the other (a batch, e.g. overnight); every file is validated,
and every study already in the storage checked for resuming (same spec, same device), before
the first trial, so a mistake in the last file costs nothing."""

from __future__ import annotations

import argparse
import sys
import textwrap

from fastvlm.config import DEVICES

from ._options import (add_progress_arg, add_storage_arg, positive_float, positive_int, print_json,
                       progress_enabled)

SWEEP_EXAMPLES = """examples:
  fastvlm-explore sweep studies/quick.toml                 # a few minutes on 2 CPU cores
  fastvlm-explore sweep studies/paper.toml --trials 60 --timeout 7200
  fastvlm-explore sweep studies/mobile.toml --storage postgresql://me@db/fvlm
  fastvlm-explore sweep studies/quick.toml --dry-run       # validate and describe only
  fastvlm-explore sweep studies/quick.toml --name quick-laptop   # the same space, its own study
  fastvlm-explore sweep studies/quick.toml --device cpu --name quick-cpu   # ...on the CPU too
  fastvlm-explore sweep studies/quick.toml studies/mobile.toml   # a batch, in this order

Results go to the embedded SQLite file results/fastvlm-explorer.db unless --storage is given
(env FASTVLM_RESULTS_DIR moves the folder). Ctrl-C stops after recording what is complete (a
batch starts no further study); running the same command again resumes. --trials and --timeout
apply to each study; with several files, --json prints {"studies": [one object per study]}.
Then: pareto, recommend, export, dashboard."""

WORKER_EXAMPLES = """examples:
  # on every machine that should help (same device type: latency is per device)
  fastvlm-explore worker --study paper --storage postgresql://me@db.example/fvlm

Workers share the study through Optuna's RDB storage: each trial has a heartbeat; a worker that
dies mid-trial leaves a trial the others mark failed after two missed beats and re-run. Use
PostgreSQL (or MySQL), not SQLite: SQLite locks the whole file per write."""


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run (or resume) a Pareto sweep from a study file",
                       description=__doc__, epilog=SWEEP_EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study_files", metavar="STUDY.toml", nargs="+",
                   help="study file(s); several run one after the other")
    _common(p)
    p.add_argument("--name", metavar="STUDY",
                   help="store the study under this name instead of the file's (one file only): "
                        "the same space measured on another device or software is a study of "
                        "its own")
    p.add_argument("--device", choices=DEVICES,
                   help="measure on this device instead of the file's `[measure] device` "
                        "(default there: auto = cuda, then mps, then cpu); a study keeps the "
                        "device it was first measured on, so a second device needs --name too")
    p.add_argument("--dry-run", action="store_true",
                   help="validate the study file(s), print the space and how much of it this "
                        "machine has already measured; touch no storage")
    p.set_defaults(func=run_sweep)

    w = sub.add_parser("worker", help="join an existing study from another process or machine",
                       description="Join a study created by `sweep` and run its trials here.",
                       epilog=WORKER_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("--study", required=True, help="study name")
    _common(w)
    w.set_defaults(func=run_worker)


def _common(p) -> None:
    add_storage_arg(p)
    p.add_argument("--trials", type=positive_int, metavar="N",
                   help="total finished trials wanted; a configuration proposed again is "
                        "recorded but not counted (default: the spec's)")
    p.add_argument("--timeout", type=positive_float, metavar="S",
                   help="stop starting trials after S s")
    p.add_argument("--heartbeat-s", type=positive_int, default=30, metavar="S",
                   help="trial heartbeat for RDB servers (PostgreSQL/MySQL), seconds")
    p.add_argument("--allow-other-device", action="store_true",
                   help="join a study measured on a different device/software (not advised)")
    add_progress_arg(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")


def run_sweep(args) -> int:
    from explorer.evaluate import never_fitting_llms
    from explorer.spec import SpecError, load_spec

    if args.name is not None and len(args.study_files) > 1:
        raise SpecError(f"--name names one study; got {len(args.study_files)} study files")
    # every file checked before any storage is touched
    specs = [load_spec(f, args.name, args.device) for f in args.study_files]
    _check_distinct(specs)
    for spec in specs:
        _check_runnable_here(spec)
    if args.dry_run:
        infos = []
        for k, spec in enumerate(specs):
            if k and not args.json:
                print()
            infos.append(_describe(spec, args, never_fitting_llms(spec)))
        if args.json:
            print_json(infos[0] if len(infos) == 1 else {"studies": infos})
        return 0
    if len(specs) > 1:
        _check_resumable(specs, args)
    summaries = []
    batch_json = args.json and len(specs) > 1  # one object at the end; text as each ends
    for k, spec in enumerate(specs):
        if len(specs) > 1:
            print(f"batch {k + 1}/{len(specs)}: study {spec.name} ({spec.source})",
                  file=sys.stderr)
        _print_notes(never_fitting_llms(spec) + [n for n in [sampler_note(spec)] if n])
        summaries.append(_run(spec, args, worker=False, report=not batch_json))
        if summaries[-1].get("interrupted"):
            left = [s.name for s in specs[k + 1:]]
            if left:
                print(f"not started: {', '.join(left)} (run the same command again to resume "
                      "the batch)", file=sys.stderr)
            break
    if batch_json:
        print_json({"studies": summaries})
    return 130 if summaries[-1].get("interrupted") else 0


def _check_distinct(specs) -> None:
    """Two files of one batch may not write the same study."""
    from explorer.spec import SpecError

    seen = {}
    for spec in specs:
        if spec.name in seen:
            raise SpecError(f"{seen[spec.name]} and {spec.source} both declare study "
                            f"{spec.name!r}; give each file its own `name`")
        seen[spec.name] = spec.source


def _check_resumable(specs, args) -> None:
    """Before a batch starts: each study already in the storage may be resumed by its file
    here (same spec, same device), so the batch does not stop hours in."""
    from explorer.storage import open_storage
    from explorer.study import existing_study
    from fastvlm.runtime import setup_runtime

    storage = open_storage(args.storage)
    for spec in specs:
        ms = spec.measure_settings()
        existing_study(spec, storage, setup_runtime(ms.device, ms.threads),
                       args.allow_other_device)


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"note: {note}", file=sys.stderr)


def _check_runnable_here(spec) -> None:
    """The study's [measure] settings on this machine (say, a device it lacks): an error
    before any storage is created."""
    from explorer.spec import SpecError
    from fastvlm.runtime import resolve_device

    try:
        resolve_device(spec.measure_settings().device)
    except ValueError as e:
        raise SpecError(f"{spec.source}: measure: {e}") from None


def run_worker(args) -> int:
    from explorer.storage import open_storage
    from explorer.study import worker_spec

    spec = worker_spec(args.study, open_storage(args.storage, create=False))
    summary = _run(spec, args, worker=True, report=True)
    return 130 if summary.get("interrupted") else 0


def _run(spec, args, worker: bool, report: bool) -> dict:
    """Run (or resume) one study; its summary, printed (`report`) as --json or text."""
    from explorer.storage import default_storage_url, is_sqlite, open_storage
    from explorer.study import run_study

    url = args.storage or default_storage_url()
    if worker and is_sqlite(url):
        print("warning: SQLite storage: run one process at a time on it (see --help)",
              file=sys.stderr)
    storage = open_storage(url, heartbeat_s=args.heartbeat_s)
    summary = run_study(spec, storage, url, trials=args.trials, timeout_s=args.timeout,
                        allow_other_device=args.allow_other_device,
                        show_progress=progress_enabled(args))
    if report:
        if args.json:
            print_json(summary)
        else:
            _print_summary(summary, args.storage)
    return summary


def _print_summary(summary: dict, storage: str | None) -> None:
    states = ", ".join(f"{n} {k.lower()}" for k, n in sorted(summary["trials"].items()))
    print(f"study {summary['study']} ({states}) in {summary['storage']}")
    print(f"feasible Pareto front: trials {summary['pareto']}; knee: {summary['knee']}")
    from explorer.storage import study_flags

    where = study_flags(summary["study"], storage)
    print(f"next: fastvlm-explore pareto{where}; before trusting small TTFT differences, "
          f"fastvlm-explore confirm{where} (the front again, in fresh processes)")


def _describe(spec, args, notes: list[str]) -> dict:
    """The dry run of one study: its space, size and cache coverage (printed unless --json)."""
    from explorer.coverage import cache_coverage, coverage_line

    grid = spec.space.grid()
    info = {"name": spec.name, "description": spec.description, "objectives": spec.objectives,
            "sampler": spec.sampler, "trials": spec.trials, "proxy_tier": spec.proxy_tier,
            "constraints": {"max_ttft_ms": spec.max_ttft_ms, "max_memory_mb": spec.max_memory_mb},
            "space": grid, "space_size": spec.space.size(), "references": spec.references,
            "skip_over_budget": spec.skip_over_budget and spec.max_ttft_ms is not None}
    info["notes"] = notes
    info["sampler_note"] = sampler_note(spec)
    info["cache"] = coverage = cache_coverage(spec)
    if spec.space.width_multiplier is not None:
        info["width_multiplier_widths"] = {f"{m:g}": list(w) for m, w in
                                           spec.space.multiplier_widths().items()}
    if args.json:
        return info
    print(f"study {spec.name}: {spec.description}")
    for name, values in grid.items():
        shown = values if len(values) <= 12 else values[:5] + ["..."] + values[-3:]
        print(f"  {name:18s} {shown}")
        if name == "width_multiplier":  # what each multiplier builds, after snapping
            base = spec.space.base_widths()
            for m, widths in spec.space.multiplier_widths().items():
                actual = widths[0] / base[0]
                snapped = f" (x{actual:.2f} after snapping)" if abs(actual - m) > 0.005 else ""
                print(f"  {'':18s}   {m:g} -> widths {'-'.join(map(str, widths))}{snapped}")
    size = spec.space.size()
    # a repeat is skipped, so a target beyond the space ends when every point is done
    trials = (f"every point once ({spec.trials} trials asked)"
              if spec.repeats == "skip" and spec.trials > size else f"{spec.trials} trials")
    print(f"  {size:,} points; {trials} with {spec.sampler}; "
          f"objectives {list(spec.objectives)} (proxy tier {spec.proxy_tier})")
    if info["sampler_note"]:
        print(textwrap.fill(info["sampler_note"], width=100, initial_indent="  ",
                            subsequent_indent="  "))
    if info["skip_over_budget"]:
        from explorer.predict import MIN_TIMED

        print(textwrap.fill(
            f"TTFT budget {spec.max_ttft_ms:,.0f} ms: once {MIN_TIMED} encoders are timed, a "
            "sample whose TTFT is predicted clearly over it is skipped, not measured "
            "(explorer/predict.py; `[run] skip_over_budget = false` measures every sample)",
            width=100, initial_indent="  ", subsequent_indent="  "))
    print(textwrap.fill(coverage_line(coverage, spec.measure_settings().budget_s), width=100,
                        initial_indent="  ", subsequent_indent="  "))
    _print_notes(notes)
    return info


def sampler_note(spec) -> str | None:
    """NSGA-II given too few trials to evolve in a space it cannot cover: say so, with what the
    replayed search benchmark measured (README, "Which sampler")."""
    generations = spec.trials / spec.population_size
    if spec.sampler != "nsga2" or generations >= 5 or spec.space.size() <= spec.trials:
        return None
    trials = f"{spec.trials} trials are" if spec.trials != 1 else "1 trial is"
    return (f"NSGA-II with population {spec.population_size}: {trials} "
            f"{generations:.1f} generations, the first one random. On the replayed search "
            "benchmark, TPE and GP found the front sooner at a few dozen trials "
            "(`[sampler] name = \"tpe\"`; README, 'Which sampler')")
