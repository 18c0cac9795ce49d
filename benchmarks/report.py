"""Put the latest benchmark tables (benchmarks/results/*.md) into README.md.

    python -m benchmarks.report

Replaces the block between `<!-- benchmarks:start -->` and `<!-- benchmarks:end -->`.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["ttft", "ttft_shared_host", "extrapolation", "hygiene", "preprocess", "cost7b",
         "memory", "published", "paper", "mobile", "pareto", "sweep", "confirm", "search", "skip",
         "skip_search", "mobile_search", "proxy", "readers", "dashboard", "dashboard_ab"]
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def main() -> None:
    results = ROOT / "benchmarks" / "results"
    parts = []
    for name in ORDER + sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER):
        path = results / f"{name}.md"
        if path.is_file():
            parts.append(path.read_text().strip() + _machine_line(results / f"{name}.json"))
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + START + "\n" + "\n\n".join(parts) + "\n" + END + tail)
    print(f"README.md: {len(parts)} benchmark tables")


def _machine_line(json_path: Path) -> str:
    """A visible line naming the machine a table was measured on: tables in the README come
    from different runs, sometimes on different hosts, and their milliseconds differ."""
    try:
        m = json.loads(json_path.read_text())["machine"]
    except (OSError, KeyError, ValueError):
        return ""
    probe = m.get("cpu_probe")
    steadiness = f", CPU probe spread {probe['spread']:.0%}" if probe else ""
    return (f"\n\n*Measured on {m['device']}, {m['date']}, load {m['loadavg_1m']:.2f}"
            f"{steadiness} (torch {m['versions'].get('torch', '?')}).*")


if __name__ == "__main__":
    main()
