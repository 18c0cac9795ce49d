"""`fastvlm-explore studies`: the studies in a storage, what they were measured on, how far;
`--delete NAME` removes one (e.g. to sweep a changed study file under its old name)."""

from __future__ import annotations

import argparse

from ._options import add_storage_arg, print_json, table

EXAMPLES = """examples:
  fastvlm-explore studies
  fastvlm-explore studies --storage postgresql://me@db.example/fvlm --json
  fastvlm-explore studies --delete quick          # asks first; --yes for scripts

Then: pareto / recommend / confirm --study NAME, or the dashboard. Trial counts come from one SQL
query per study, so a storage of large studies lists fast."""


def register(sub) -> None:
    p = sub.add_parser("studies", help="list the studies in a storage (device, trials, budgets)",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_storage_arg(p)
    p.add_argument("--delete", metavar="NAME",
                   help="delete study NAME and all its trials (asks first at a terminal; "
                        "other storages and studies are untouched)")
    p.add_argument("--yes", action="store_true", help="delete without asking")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from explorer.repeats import OVER_BUDGET_STATE, REPEATS_STATE
    from explorer.storage import default_storage_url, open_storage, redact

    url = args.storage or default_storage_url()
    storage = open_storage(url, create=False)
    if args.delete is not None:
        return delete(storage, args.delete, redact(url), args.yes, args.json)
    studies = [study_summary(storage, s) for s in storage.get_all_studies()]
    if args.json:
        print_json({"storage": redact(url), "studies": studies})
        return 0
    if not studies:
        print(f"no studies in {redact(url)} yet; `fastvlm-explore sweep STUDY.toml` makes one")
        return 0
    rows = []
    for s in studies:
        n, skips = s["trials"], s["skipped"]
        rows.append([s["name"], s["device"] or "-", n.get("COMPLETE", 0), n.get("FAIL", 0),
                     skips.get(REPEATS_STATE, 0), skips.get(OVER_BUDGET_STATE, 0),
                     n.get("PRUNED", 0) - sum(skips.values()),
                     n.get("RUNNING", 0) + n.get("WAITING", 0), _budgets(s["constraints"]),
                     "-" if s["proxy_tier"] is None else s["proxy_tier"], s["description"]])
    print(table(rows, ["study", "measured on", "complete", "failed", "repeats", "over budget",
                       "pruned", "running", "budgets", "proxy tier", "description"],
                align="llrrrrrrlrl"))
    print(f"storage: {redact(url)}; repeats: configurations proposed again, over budget: "
          "samples predicted over the TTFT budget (neither measured nor counted); pruned: the "
          "other PRUNED trials")
    return 0


def delete(storage, name: str, where: str, yes: bool, as_json: bool) -> int:
    """Delete study `name` after saying what goes (its trials per state); without --yes only
    when a person at a terminal agrees."""
    import sys

    import optuna

    from explorer.errors import UsageError
    from explorer.storage import load_study
    from explorer.trial_reader import count_by_state

    study = load_study(name, storage)  # unknown: one line listing the studies, exit 2
    counts = count_by_state(storage, study._study_id)
    what = (f"study {name!r} ({sum(counts.values())} trials: "
            + (", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items())) or "none")
            + f") from {where}")
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"not deleting {what} without --yes (no terminal to ask)")
        try:
            answer = input(f"delete {what}? [y/N] ")
        except EOFError:  # Ctrl-D: no
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("kept", file=sys.stderr)
            return 1
    optuna.delete_study(study_name=name, storage=storage)
    if as_json:
        print_json({"deleted": name, "trials": counts, "storage": where})
    else:
        print(f"deleted {what}")
    return 0


def study_summary(storage, study) -> dict:
    """Name, device, trial counts per state, budgets and proxy tier of an Optuna FrozenStudy
    (`created_by_fastvlm_explore` False: another tool's study, shown with what Optuna has)."""
    from explorer.results import device_of
    from explorer.trial_reader import count_by_state, count_skips

    attrs = study.user_attrs
    spec = attrs.get("spec") or {}
    return {"name": study.study_name, "created_by_fastvlm_explore": "spec" in attrs,
            "device": device_of(attrs),
            "trials": count_by_state(storage, study._study_id),
            "skipped": count_skips(storage, study._study_id),  # PRUNED trials among "trials"
            "metric_names": study.system_attrs.get("study:metric_names"),
            "directions": [d.name.lower() for d in study.directions],
            "constraints": {k: v for k, v in (attrs.get("constraints") or {}).items()
                            if v is not None},
            "proxy_tier": (attrs.get("proxy") or {}).get("tier"),
            "description": spec.get("description", "")}


def _budgets(constraints: dict) -> str:
    names = {"max_ttft_ms": ("TTFT", "ms"), "max_memory_mb": ("memory", "MB")}
    return ", ".join(f"{names[k][0]} <= {v:,.0f} {names[k][1]}"
                     for k, v in constraints.items() if k in names) or "-"
