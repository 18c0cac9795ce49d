"""Put the latest benchmark tables (benchmarks/results/*.md) into README.md.

    python -m benchmarks.report

Replaces the block between `<!-- benchmarks:start -->` and `<!-- benchmarks:end -->`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["ttft", "extrapolation", "hygiene", "cost7b", "published", "pareto", "sweep", "search",
         "proxy", "dashboard"]
START, END = "<!-- benchmarks:start -->", "<!-- benchmarks:end -->"


def main() -> None:
    results = ROOT / "benchmarks" / "results"
    parts = []
    for name in ORDER + sorted(p.stem for p in results.glob("*.md") if p.stem not in ORDER):
        path = results / f"{name}.md"
        if path.is_file():
            parts.append(path.read_text().strip())
    readme = ROOT / "README.md"
    text = readme.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md lacks the {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(head + START + "\n" + "\n\n".join(parts) + "\n" + END + tail)
    print(f"README.md: {len(parts)} benchmark tables")


if __name__ == "__main__":
    main()
