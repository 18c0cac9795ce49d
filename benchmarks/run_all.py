"""Run every benchmark, one fresh process each, then refresh the README table.

    python -m benchmarks.run_all                 # all: about 2.5 hours on 2 CPU cores
    python -m benchmarks.run_all --only pareto,proxy_reading
    python -m benchmarks.run_all --skip cost7b

Each benchmark's wall time is printed as it ends; the search replays (skip, skip_search,
mobile_search) and the recorded sweeps (paper, mobile, confirm) take the longest.

Benchmarks measure this machine: run them on a quiet one (each result records the load).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from . import report

HERE = Path(__file__).resolve().parent
# Cheap and load-insensitive first; the 7B cost run last of the measurement group.
ORDER = ["pareto", "ttft", "extrapolation", "hygiene", "sweep", "search", "proxy_reading",
         "dashboard", "memory", "cost7b", "published", "paper", "mobile"]


def available() -> list[str]:
    found = {p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py")}
    return [n for n in ORDER if n in found] + sorted(found - set(ORDER))


def main() -> int:
    names = available()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(names)}")
    ap.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    args = ap.parse_args()
    chosen = args.only.split(",") if args.only else names
    unknown = [n for n in chosen + [s for s in args.skip.split(",") if s] if n not in names]
    if unknown:
        ap.error(f"unknown benchmark(s) {unknown}; valid: {', '.join(names)}")
    chosen = [n for n in chosen if n not in args.skip.split(",")]
    failed = []
    for n, name in enumerate(chosen, 1):
        print(f"\n=== [{n}/{len(chosen)}] bench_{name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{name}"])
        print(f"=== bench_{name}: {'ok' if rc == 0 else f'FAILED ({rc})'} in "
              f"{time.perf_counter() - t0:,.0f} s ===", flush=True)
        if rc:
            failed.append(name)
    report.main()
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
