"""Layer extrapolation vs full measurement of LLM prefill, in one interleaved run (issue 2, 2).

    python -m benchmarks.bench_extrapolation [--budget-s 90]

For Qwen2-0.5B and Qwen2-1.5B at two sequence lengths the full-depth decoder and its 1/2/4/8
layer prefixes (same weights) are timed in the same shuffled rounds; t(L) = a + b*L fitted on
the prefixes predicts the full depth. Target: |error| <= 5%.
"""

from __future__ import annotations

import argparse

import torch

from fastvlm.build import build_vlm
from fastvlm.extrapolate import VARIANT_LAYERS, fit_layers
from fastvlm.presets import preset
from fastvlm.protocol import Item, ProtocolSettings, run_protocol
from fastvlm.runtime import setup_runtime

from .common import md_table, save

CASES = [("fastvlm-0.5b", 512), ("fastvlm-0.5b", 1024), ("fastvlm-1.5b", 512),
         ("fastvlm-1.5b", 1024)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=90.0)
    args = ap.parse_args()
    setup_runtime("cpu")
    rows, data = [], []
    for name, res in CASES:
        cfg = preset(name, resolution=res)
        pf = build_vlm(cfg, parts=("prefill",)).prefill
        L = cfg.llm.num_layers
        visual = torch.randn(1, cfg.visual_tokens, cfg.llm.hidden_size)
        ids = torch.randint(0, 1000, (1, cfg.prompt_tokens))

        def run(layers, pf=pf):  # this case's model (the loop rebinds `pf`)
            pf.num_layers = layers
            return pf(visual, ids)

        items = [Item(f"L{n}", lambda n=n: run(n)) for n in (*VARIANT_LAYERS, L)]
        with torch.inference_mode():
            res_ = run_protocol(items, "cpu", ProtocolSettings(budget_s=args.budget_s))
        fit = fit_layers({n: res_.stats[f"L{n}"] for n in VARIANT_LAYERS}, L)
        # the 1/2/4 subset is what a tight memory budget allows (e.g. Qwen2-7B on 24 GB)
        fit4 = fit_layers({n: res_.stats[f"L{n}"] for n in (1, 2, 4)}, L)
        full = res_.stats[f"L{L}"].median_ms
        err, err4 = fit["median_ms"] / full - 1, fit4["median_ms"] / full - 1
        data.append({"preset": name, "seq_len": cfg.seq_len, "full_ms": full,
                     "predicted_ms": fit["median_ms"], "error": err, "fit": fit,
                     "predicted_ms_124": fit4["median_ms"], "error_124": err4,
                     "rounds": res_.rounds, "canary_drift": res_.canary_drift,
                     "unstable": res_.unstable})
        rows.append([cfg.llm.name, cfg.seq_len, full, fit["median_ms"], f"{err:+.1%}",
                     f"{err4:+.1%}", f"{fit['r2']:.4f}", res_.rounds,
                     "n/a" if res_.canary_drift is None else f"{res_.canary_drift:.1%}"])
        del pf
    md = ("### Layer extrapolation vs full prefill\n\nLayers 1, 2, 4, 8 fitted with "
          "t(L) = a + b*L, full depth measured in the same interleaved rounds (fp32, CPU).\n\n"
          + md_table(rows, ["LLM", "tokens", "full ms (measured)", "extrapolated ms",
                            "error (1,2,4,8)", "error (1,2,4 only)", "fit R2", "rounds",
                            "canary drift"]))
    save("extrapolation", {"cases": data}, md)


if __name__ == "__main__":
    main()
