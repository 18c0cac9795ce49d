"""Predicted peak memory against measured: how far the analytic prediction is off.

    python -m benchmarks.bench_memory [--threads 2]

Sweeps check `max_memory_mb` against the *predicted* peak by default (`[measure] memory =
"predicted"`: weights + KV cache + the largest set of live activations, fastvlm/analytic.py),
because measuring costs a fresh process per trial. Here each configuration is also measured as
`measure --memory measured` does (fastvlm/memory.py: a spawned child builds the model and runs
one TTFT call; its peak RSS during the call less its RSS after imports), so the prediction's
error is a measured figure, per configuration and in summary. The build's own peak is saved too
(JSON `build_peak_mb`). CPU only: on CUDA the measured figure is
`max_memory_allocated`, a different quantity.
"""

from __future__ import annotations

import argparse
import time

from fastvlm.analytic import analyze
from fastvlm.memory import measure_peak_memory
from fastvlm.presets import preset

from .common import md_table, save


def mb(nbytes: int) -> float:
    return nbytes / 2**20


# (label, preset, overrides): resolution and tokens, encoder width and pooling, LLM size, dtype
CONFIGS = [
    ("fastvlm-0.5b @256", "fastvlm-0.5b", {"resolution": 256}),
    ("fastvlm-0.5b @512", "fastvlm-0.5b", {"resolution": 512}),
    ("fastvlm-0.5b @768", "fastvlm-0.5b", {"resolution": 768}),
    ("fastvlm-0.5b @1024", "fastvlm-0.5b", {"resolution": 1024}),
    ("fastvlm-0.5b @1024, encoder x0.5, pool 2", "fastvlm-0.5b",
     {"resolution": 1024, "widths": (48, 96, 192, 384, 768), "output_pool": 2}),
    # bfloat16 at 256 px: this CPU has no native bfloat16, so a call at 1024 px took 19 min here
    ("fastvlm-0.5b @256 bfloat16", "fastvlm-0.5b", {"resolution": 256, "dtype": "bfloat16"}),
    ("fastvit-0.5b @768 (576 tokens)", "fastvit-0.5b", {"resolution": 768}),
    ("fastvlm-1.5b @512", "fastvlm-1.5b", {"resolution": 512}),
    ("fastvlm-1.5b @1024", "fastvlm-1.5b", {"resolution": 1024}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rows, out = [], []
    for label, name, overrides in CONFIGS:
        cfg = preset(name, prompt_tokens=32, **overrides)
        counts = analyze(cfg)
        t0 = time.perf_counter()
        measured = measure_peak_memory(cfg, "cpu", args.threads)
        seconds = time.perf_counter() - t0
        predicted = counts.predicted_peak_mb
        error = predicted / measured["peak_mb"] - 1
        out.append({"label": label, "config": cfg.summary(), "predicted_mb": predicted,
                    "weights_mb": mb(counts.weight_bytes), "kv_cache_mb": mb(counts.kv_cache_bytes),
                    "activations_mb": mb(counts.activation_bytes),
                    "measured_mb": measured["peak_mb"], "method": measured["method"],
                    "build_peak_mb": measured.get("build_peak_mb"),
                    "error": error, "seconds": seconds})
        rows.append([label, f"{mb(counts.weight_bytes):,.0f}",
                     f"{mb(counts.activation_bytes + counts.kv_cache_bytes):,.0f}",
                     f"{predicted:,.0f}", f"{measured['peak_mb']:,.0f}", f"{error:+.1%}"])
        print(f"{label}: predicted {predicted:,.0f} MB, measured {measured['peak_mb']:,.0f} MB "
              f"({error:+.1%}), {seconds:.0f} s", flush=True)
    errors = [r["error"] for r in out]
    worst = max(out, key=lambda r: abs(r["error"]))
    summary = {"mean_abs_error": sum(abs(e) for e in errors) / len(errors),
               "min_error": min(errors), "max_error": max(errors), "worst": worst["label"]}
    md = ("### Predicted peak memory vs measured (CPU)\n\n"
          f"{len(out)} configurations, each built in a fresh process that runs one TTFT call "
          "(`measure --memory measured`: peak RSS during the call less the RSS after imports) "
          "against the analytic prediction sweeps use by default (weights + KV cache + the "
          "largest set of live activations). Error = predicted / measured - 1: "
          f"mean |error| {summary['mean_abs_error']:.1%}, from {summary['min_error']:+.1%} to "
          f"{summary['max_error']:+.1%} (worst: {worst['label']}); negative means the "
          "prediction is low, so a memory budget set near it can be exceeded.\n\n"
          + md_table(rows, ["configuration", "weights MB", "KV + activations MB (predicted)",
                            "predicted MB", "measured MB", "error"]))
    save("memory", {"configs": out, "summary": summary, "threads": args.threads}, md)


if __name__ == "__main__":
    main()
