"""The paper's Figure 4 sweep on this device: FastViTHD at 256-1536 px x Qwen2 0.5B/1.5B/7B.

    python -m benchmarks.bench_paper                  # sweeps studies/paper.toml if not yet done
    python -m benchmarks.bench_paper --storage sqlite:///results/fastvlm-explorer.db

Runs `fastvlm-explore sweep studies/paper.toml` (15 minutes on a 2-core EPYC with an empty latency
cache; resumable) unless the storage already holds the finished study, then tabulates what an
architect reads from it:

1. TTFT per resolution and LLM, with the encoder's share, next to the proxy accuracy;
2. the feasible Pareto front (TTFT vs the text-rich proxy);
3. the recommendation under a ladder of TTFT budgets (default and `--most-accurate`): which LLM
   at which resolution.

The proxy's LLM-size effect is a calibrated prior, not a measurement (README, docs/proxy.md),
so the picks in 3 are as good as that prior; the TTFTs are measured here.
"""

from __future__ import annotations

import argparse

from .common import ensure_swept, md_table, save

STUDY = "paper"
BUDGETS_MS = (2_000, 5_000, 10_000, 20_000, 40_000)


def grid_rows(frame) -> tuple[list[list], list[str]]:
    """One row per resolution; per LLM its TTFT (encoder share, flags) and proxy values."""
    rows = []
    by_key = {(r["resolution"], r["llm"]): r for r in frame.complete()}
    llms = sorted({llm for _, llm in by_key}, key=lambda name: float(name.split("-")[1][:-1]))
    for res in sorted({res for res, _ in by_key}):
        row = [res, next(r["visual_tokens"] for (x, _), r in by_key.items() if x == res)]
        for llm in llms:
            r = by_key.get((res, llm))
            if r is None:
                row += ["-", "-"]
                continue
            flags = "".join(f for f, on in (("e", r.get("extrapolated")),
                                            ("u", r.get("unstable"))) if on)
            row += [f"{r['ttft_ms']:,.0f} ({r['encoder_ms'] / r['ttft_ms']:.0%})"
                    + (f" {flags}" if flags else ""),
                    f"{r['proxy_text_rich']:.3f} / {r['proxy_general']:.3f}"]
        rows.append(row)
    return rows, llms


def _named(r: dict | None) -> str:
    if r is None:
        return "-"
    return (f"{r['llm']} @ {r['resolution']}: {r['ttft_ms']:,.0f} ms, "
            f"{r['proxy_text_rich']:.3f}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--storage", help="Optuna storage URL (default: the embedded SQLite file)")
    args = p.parse_args(argv)
    ensure_swept("paper.toml", args.storage)

    from explorer.recommend import recommend
    from explorer.results import Budgets, load_frame

    frame = load_frame(STUDY, args.storage)
    rows, llms = grid_rows(frame)
    headers = ["resolution", "visual tokens"]
    for llm in llms:
        headers += [f"{llm} TTFT ms (encoder share)", f"{llm} proxy text-rich / general"]
    front = frame.front()
    front_rows = [[r["number"], r["resolution"], r["llm"], r["ttft_ms"], r["proxy_text_rich"]]
                  for r in front]
    picks, pick_rows = {}, []
    rows_by_number = {r["number"]: r for r in frame.rows}
    for budget in BUDGETS_MS:
        rec = recommend(frame, Budgets(max_ttft_ms=budget))
        picks[budget] = rec.choice["number"] if rec.choice else None
        best = recommend(frame, Budgets(max_ttft_ms=budget), ties=False).choice
        pick_rows.append([f"{budget:,}", _named(rows_by_number.get(picks[budget])),
                          _named(best and rows_by_number[best["number"]]), rec.feasible])
    unc = max(r["proxy_text_rich_unc"] for r in frame.complete())
    n_unstable = sum(bool(r.get("unstable")) for r in frame.complete())
    md = (f"### The paper's Figure 4 sweep measured here ({frame.device})\n\n"
          f"`studies/paper.toml`: FastViTHD x Qwen2, fp32, 32 prompt tokens, grid sampler; "
          f"{len(frame.complete())} complete trials. TTFT in ms with the encoder's share; "
          "e = LLM prefill layer-extrapolated (7B fp32 does not fit in memory), u = timed while "
          f"the host was noisy ({n_unstable} trials). Proxy accuracy is tier 1, a calibrated "
          "proxy (not a benchmark score; its LLM-size effect is a prior).\n\n"
          + md_table(rows, headers)
          + "\n\nFeasible Pareto front, TTFT vs proxy accuracy (text-rich, tier 1):\n\n"
          + md_table(front_rows, ["trial", "resolution", "LLM", "TTFT ms", "proxy text-rich"])
          + "\n\nWhat `fastvlm-explore recommend` picks under a TTFT budget, and with "
            "`--most-accurate`. By default the pick is the fastest trial whose proxy ties with "
            f"the best within their combined uncertainty (here ±{unc:.3f} each, so differences "
            f"under about {unc * 2 ** 0.5:.3f} are ties); `--most-accurate` takes the highest "
            "proxy outright:\n\n"
          + md_table(pick_rows, ["max TTFT ms", "recommend: TTFT ms, proxy",
                                 "recommend --most-accurate", "trials within budget"]))
    save("paper", {"study": STUDY, "grid": rows, "llms": llms,
                   "front": [r["number"] for r in front], "picks": picks,
                   "trials": [{k: r.get(k) for k in ("number", "resolution", "llm", "ttft_ms",
                                                     "encoder_ms", "prefill_ms", "unstable",
                                                     "extrapolated", "proxy_text_rich",
                                                     "proxy_general")}
                              for r in frame.complete()]}, md)


if __name__ == "__main__":
    main()
