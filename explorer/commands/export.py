"""`fastvlm-explore export`: a trial as a transformers config + model card."""

from __future__ import annotations

import argparse

from ._options import print_json
from .pareto import add_study_args

EXAMPLES = """examples:
  fastvlm-explore export --study quick --trial 3 --out exported/quick-3
  python -c "from transformers import AutoConfig as C; print(C.from_pretrained('exported/quick-3'))"

Writes config.json (a transformers FastVlmConfig, when the shape is expressible there),
fastvlm_explorer.json (always), measurements.json and MODEL_CARD.md; all or nothing.
--json prints one object: study, trial, out, files, config, transformers_config
("config.json", or null with the reason in transformers_unsupported)."""


def register(sub) -> None:
    p = sub.add_parser("export", help="write a trial's config (transformers) and model card",
                       description=__doc__, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_args(p)
    p.add_argument("--trial", type=int, required=True, metavar="N", help="trial number")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--force", action="store_true",
                   help="replace a previous export in the output folder (nothing else)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object: the folder, its files and whether transformers loads it")
    p.set_defaults(func=run)


def run(args) -> int:
    from explorer.errors import UsageError
    from explorer.export import export_files, write_export
    from explorer.records import TrialRecord
    from explorer.storage import load_study, open_storage, trial_by_number
    from fastvlm.hfconfig import why_not_representable
    from fastvlm.presets import config_from_dict

    study = load_study(args.study, open_storage(args.storage, create=False))
    trial = trial_by_number(study, args.trial)
    rec = TrialRecord.from_user_attrs(trial.user_attrs)
    if rec is None or trial.state.name != "COMPLETE":
        raise UsageError(f"trial {args.trial} is {trial.state.name.lower()} "
                         f"({trial.user_attrs.get('error', 'no record')}); export a complete one")
    files = export_files(rec, study.study_name, args.trial, dict(study.user_attrs))
    try:
        out = write_export(files, args.out, overwrite=args.force)
    except FileExistsError as e:
        raise UsageError(str(e)) from None
    except OSError as e:  # a path under a file, a read-only or virtual file system, ...
        raise UsageError(f"cannot write {args.out}: {e.strerror or e}") from None
    # why transformers cannot load it, when it cannot (what a user asks first)
    not_hf = None if "config.json" in files else why_not_representable(config_from_dict(rec.config))
    if args.json:
        print_json({"study": study.study_name, "trial": args.trial, "out": str(out),
                    "files": sorted(files), "config": rec.config,
                    "transformers_config": None if not_hf else "config.json",
                    "transformers_unsupported": not_hf})
        return 0
    print(f"wrote {', '.join(sorted(files))} to {out}")
    if not_hf:
        print(f"no config.json: transformers' FastVlmConfig cannot express {not_hf}; "
              "build it from fastvlm_explorer.json (see MODEL_CARD.md)")
    return 0
