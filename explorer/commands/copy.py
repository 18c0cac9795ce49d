"""`fastvlm-explore copy`: a study from one storage into another, e.g. another machine's results
file into yours under a new name, so `compare` and the dashboard's Compare page see both."""

from __future__ import annotations

import argparse

from explorer.storage import storage_url

from ._options import add_progress_arg, print_json, progress_enabled

EXAMPLES = """examples:
  # `make sweep` ran on a board too; its results file is now board.db here
  fastvlm-explore copy --study quick --from board.db --as quick-board
  fastvlm-explore compare --study quick --study quick-board       # or the dashboard
  fastvlm-explore copy --study paper --from sqlite:///paper.db --storage postgresql://me@db/fvlm

Every trial (failed and pruned ones too) and the study's attributes (its spec, the device it was
measured on, confirmations) are copied as they are; the source is only read. A name already in
the destination is refused: give another with --as. A copy that fails leaves no half study."""


def register(sub) -> None:
    p = sub.add_parser("copy", help="copy a study between storages (another machine's results)",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--study", help="the study's name in the source storage (default: its only "
                   "study)")
    p.add_argument("--from", dest="source", required=True, metavar="URL", type=storage_url,
                   help="the source storage URL, or a .db file's path (e.g. board.db)")
    p.add_argument("--storage", metavar="URL", type=storage_url,
                   help="the destination storage URL (default: sqlite:///results/"
                        "fastvlm-explorer.db, as for every other command)")
    p.add_argument("--as", dest="name", metavar="NAME",
                   help="the study's name in the destination (default: the same)")
    add_progress_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import optuna

    from explorer.errors import UsageError
    from explorer.storage import (default_storage_url, load_study, open_storage, redact,
                                  study_names)
    from explorer.trial_reader import count_trials

    target_url = args.storage or default_storage_url()
    source = load_study(args.study, open_storage(args.source, create=False, option="--from"))
    name = args.name or source.study_name
    target = open_storage(target_url)
    if name in study_names(target):
        raise UsageError(f"study {name!r} is already in {redact(target_url)}; give another "
                         "name with --as (or replace it: `fastvlm-explore studies --delete "
                         f"{name}` first)")
    try:
        copy_study(source, target, name, progress_enabled(args))
    except BaseException:  # Ctrl-C included: no half-copied study stays behind
        if name in study_names(target):
            optuna.delete_study(study_name=name, storage=target)
        raise
    copied = optuna.load_study(study_name=name, storage=target)
    n = count_trials(target, copied._study_id)
    if args.json:
        print_json({"study": name, "source_study": source.study_name, "from": redact(args.source),
                    "storage": redact(target_url), "trials": n})
    else:
        print(f"copied study {source.study_name!r} ({n:,} trials) from {redact(args.source)} to "
              f"{redact(target_url)} as {name!r}")
    return 0


def copy_study(source, target, name: str, progress: bool | None) -> None:
    """`optuna.copy_study` with a progress bar: the study's directions and attributes, then
    every trial as it is (about 20 ms each into SQLite: 10,000 trials take minutes)."""
    import sys

    import optuna
    from tqdm import tqdm

    copied = optuna.create_study(study_name=name, storage=target, directions=source.directions)
    for key, value in source._storage.get_study_system_attrs(source._study_id).items():
        target.set_study_system_attr(copied._study_id, key, value)
    for key, value in source.user_attrs.items():
        copied.set_user_attr(key, value)
    trials = source.get_trials(deepcopy=False)
    with tqdm(trials, desc=f"copy {source.study_name}", unit="trial", file=sys.stderr,
              dynamic_ncols=True, disable=None if progress is None else not progress) as bar:
        for trial in bar:
            target.create_new_trial(copied._study_id, template_trial=trial)
