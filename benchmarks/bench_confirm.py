"""Does a sweep's front hold when re-measured in fresh processes? (`fastvlm-explore confirm`)

    python -m benchmarks.bench_confirm [--processes 3]

Sweeps studies/quick.toml into a throwaway storage (components from the user's cache when they
are there, as a user's sweep would), then confirms its whole feasible front: each trial measured
from scratch in N fresh processes, in shuffled interleaved rounds. Reported per front trial: the
sweep's TTFT, the confirmed median, the spread of per-process medians (raw and divided by each
process's canary), and the verdict on each neighbour pair of the sweep's TTFT order.
"""

from __future__ import annotations

import argparse
import json
import tempfile

from .common import RESULTS, cli, md_table, save


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--render-only", action="store_true",
                    help="rewrite the table from results/confirm.json (no measuring)")
    args = ap.parse_args()
    if args.render_only:
        saved = json.loads((RESULTS / "confirm.json").read_text())
        md = render(saved["report"], saved["wall_s"], saved["processes"])
        path = RESULTS / "confirm.md"
        header = path.read_text().splitlines()[0]  # when and where it was measured
        path.write_text(f"{header}\n{md}\n")
        print(md)
        return
    with tempfile.TemporaryDirectory() as tmp:
        storage = f"sqlite:///{tmp}/confirm.db"
        cli("sweep", "studies/quick.toml", "--storage", storage)
        report, wall, _ = cli("confirm", "--study", "quick", "--storage", storage,
                              "--processes", str(args.processes), "--json")
    md = render(report, wall, args.processes)
    save("confirm", {"processes": args.processes, "wall_s": wall, "report": report}, md)


def render(report: dict, wall: float, processes: int) -> str:
    pct = lambda v: "-" if v is None else f"{v:.1%}"  # noqa: E731
    trials = report["trials"]
    rows = [[t["number"], t["summary"], t["sweep_ttft_ms"], t["median_ms"],
             " / ".join(f"{v:,.0f}" for v in t["ttft_ms"]), pct(t["spread"]),
             pct(t["canary_adjusted_spread"]), f"{t['ratio'] - 1:+.1%}", t["unstable_runs"]]
            for t in trials]
    verdicts = [v["verdict"] for v in report["order"]]
    spreads = [t["spread"] for t in trials]
    ratios = [t["ratio"] - 1 for t in trials]
    narrower = sum(t["canary_adjusted_spread"] < t["spread"] for t in trials)
    summary = (f"{verdicts.count('holds')} of {len(verdicts)} neighbour pairs keep the sweep's "
               f"order with non-overlapping per-process ranges ({verdicts.count('tie')} ties, "
               f"{verdicts.count('swapped')} swapped); spread of per-process medians "
               f"{min(spreads):.1%} to {max(spreads):.1%}; confirmed medians "
               f"{min(ratios):+.1%} to {max(ratios):+.1%} against the sweep. Dividing by each "
               f"process's canary narrowed the spread for {narrower} of {len(trials)} trials: "
               "here the canary does not track the host's drift between processes, so only "
               f"raw figures are judged. {len(rows) * processes} fresh-process measurements "
               f"took {wall / 60:.1f} min.")
    return ("### Confirming the quick sweep's front in fresh processes\n\n"
            f"`fastvlm-explore confirm`: {processes} fresh processes per trial, no cache, "
            f"{report['budget_s']:g} s budget each, shuffled interleaved rounds; fp32, CPU.\n\n"
            + md_table(rows, ["#", "configuration", "sweep ms", "confirmed ms",
                              "per process ms", "spread", "spread of TTFT / canary",
                              "vs sweep", "unstable runs"])
            + f"\n\n{summary}")


if __name__ == "__main__":
    main()
