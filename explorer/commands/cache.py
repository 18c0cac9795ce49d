"""`fastvlm-explore cache`: inspect or clear the component-latency cache."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("cache", help="list or clear cached component latencies",
                       description="The latency cache (FASTVLM_CACHE_DIR, default "
                       "~/.cache/fastvlm-explorer) keeps encoder / projector / prefill timings "
                       "per device and software fingerprint. A timing taken while the machine "
                       "was busy is kept but flagged unstable; `clear --unstable` drops those "
                       "so they are measured again on a quiet machine.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=("list", "clear"))
    p.add_argument("--all-devices", action="store_true",
                   help="clear entries of every fingerprint, not only this machine's")
    p.add_argument("--unstable", action="store_true",
                   help="clear only timings flagged unstable (taken on a noisy machine), so "
                        "the next measure or sweep takes them again")
    p.set_defaults(func=run)


def run(args) -> int:
    from fastvlm.cache import LatencyCache, default_cache_path
    from fastvlm.runtime import setup_runtime

    if not default_cache_path().is_file():  # listing or clearing never creates one
        print(f"{default_cache_path()}: no cache yet (`measure` and `sweep` fill it)")
        return 0
    with LatencyCache() as cache:
        return _run(args, cache, setup_runtime().fingerprint)


def _run(args, cache, fp: str) -> int:
    if args.action == "clear":
        n = cache.clear(None if args.all_devices else fp, unstable_only=args.unstable)
        print(f"removed {n} {'unstable ' if args.unstable else ''}entries from {cache.path}")
        return 0
    entries = cache.entries()
    print(f"{cache.path}: {len(entries)} entries ({sum(e[0] == fp for e in entries)} for this "
          f"machine, fingerprint {fp})")
    kinds: dict[tuple[str, str], list[int]] = {}
    for f, kind, _, unstable in entries:
        counts = kinds.setdefault((f, kind), [0, 0])  # entries, unstable entries
        counts[0] += 1
        counts[1] += unstable
    for (f, kind), (n, n_unstable) in sorted(kinds.items()):
        note = f" ({n_unstable} unstable)" if n_unstable else ""
        print(f"  {f}{' (this machine)' if f == fp else ''}  {kind:10s} {n}{note}")
    return 0
