"""`fastvlm-explore cache`: inspect or clear the component-latency cache."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("cache", help="list or clear cached component latencies",
                       description="The latency cache (FASTVLM_CACHE_DIR, default "
                       "~/.cache/fastvlm-explorer) keeps encoder / projector / prefill timings "
                       "per device and software fingerprint.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("list", "clear"))
    p.add_argument("--all-devices", action="store_true",
                   help="clear entries of every fingerprint, not only this machine's")
    p.set_defaults(func=run)


def run(args) -> int:
    from fastvlm.cache import LatencyCache
    from fastvlm.runtime import setup_runtime

    cache = LatencyCache()
    fp = setup_runtime().fingerprint
    if args.action == "clear":
        n = cache.clear(None if args.all_devices else fp)
        print(f"removed {n} entries from {cache.path}")
        return 0
    entries = cache.entries()
    print(f"{cache.path}: {len(entries)} entries ({sum(e[0] == fp for e in entries)} for this "
          f"machine, fingerprint {fp})")
    kinds = {}
    for f, kind, _ in entries:
        kinds[(f, kind)] = kinds.get((f, kind), 0) + 1
    for (f, kind), n in sorted(kinds.items()):
        print(f"  {f}{' (this machine)' if f == fp else ''}  {kind:10s} {n}")
    return 0
