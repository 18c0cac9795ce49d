"""`fastvlm-explore cache`: inspect or clear the component-latency cache."""

from __future__ import annotations

import argparse

from ._options import print_json


def register(sub) -> None:
    p = sub.add_parser("cache", help="list or clear cached component latencies",
                       description="The latency cache (FASTVLM_CACHE_DIR, default "
                       "~/.cache/fastvlm-explorer) keeps encoder / projector / prefill timings "
                       "per device and software fingerprint. A timing taken while the machine "
                       "was busy is kept but flagged unstable; `clear --unstable` drops those "
                       "so they are measured again on a quiet machine.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", nargs="?", choices=("list", "clear"), default="list",
                   help="list (the default) counts entries per device and component; clear "
                        "removes this machine's (or, with --all-devices, every machine's)")
    p.add_argument("--all-devices", action="store_true",
                   help="clear entries of every fingerprint, not only this machine's")
    p.add_argument("--unstable", action="store_true",
                   help="clear only timings flagged unstable (taken on a noisy machine), so "
                        "the next measure or sweep takes them again")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from fastvlm.cache import LatencyCache, default_cache_path
    from fastvlm.runtime import setup_runtime

    fp = setup_runtime().fingerprint
    if not default_cache_path().is_file():  # listing or clearing never creates one
        if args.json:
            print_json(_summary(str(default_cache_path()), fp, [], args))
        else:
            print(f"{default_cache_path()}: no cache yet (`measure` and `sweep` fill it)")
        return 0
    with LatencyCache() as cache:
        removed = (cache.clear(None if args.all_devices else fp, unstable_only=args.unstable)
                   if args.action == "clear" else None)
        summary = _summary(str(cache.path), fp, cache.entries(), args, removed)
    if args.json:
        print_json(summary)
    elif removed is not None:
        print(f"removed {removed} {'unstable ' if args.unstable else ''}entries from "
              f"{summary['path']}")
    else:
        _print(summary)
    return 0


def _summary(path: str, fp: str, entries, args, removed: int | None = None) -> dict:
    """Counts per (fingerprint, component kind); `removed` after a clear."""
    kinds: dict[tuple[str, str], list[int]] = {}
    for f, kind, _, unstable in entries:
        counts = kinds.setdefault((f, kind), [0, 0])  # entries, unstable entries
        counts[0] += 1
        counts[1] += unstable
    out = {"path": path, "fingerprint": fp, "entries": len(entries),
           "this_machine": sum(e[0] == fp for e in entries),
           "old_format": sum(_old_format(kind, key) for _, kind, key, _ in entries),
           "groups": [{"fingerprint": f, "this_machine": f == fp, "kind": kind, "entries": n,
                       "unstable": n_unstable}
                      for (f, kind), (n, n_unstable) in sorted(kinds.items())]}
    if args.action == "clear":
        out["removed"] = removed or 0
    return out


def _old_format(kind: str, key: str) -> bool:
    """A component timing stored under an older CACHE_FORMAT: never served, only kept."""
    import json

    from fastvlm.measure import CACHE_FORMAT, COMPONENTS

    if kind not in COMPONENTS:
        return False
    try:
        return json.loads(key).get("format") != CACHE_FORMAT
    except (ValueError, AttributeError):  # not a key this tool writes
        return True


def _print(summary: dict) -> None:
    print(f"{summary['path']}: {summary['entries']} entries ({summary['this_machine']} for this "
          f"machine, fingerprint {summary['fingerprint']})")
    for g in summary["groups"]:
        note = f" ({g['unstable']} unstable)" if g["unstable"] else ""
        here = " (this machine)" if g["this_machine"] else ""
        print(f"  {g['fingerprint']}{here}  {g['kind']:10s} {g['entries']}{note}")
    if summary["old_format"]:
        print(f"{summary['old_format']} of them were stored by an older version of this tool and "
              "are never served (a changed measurement is taken again); `cache clear` drops them")
