"""`fastvlm-explore presets`: the named configurations and their key numbers (analytic)."""

from __future__ import annotations

from ._options import print_json, table


def register(sub) -> None:
    p = sub.add_parser("presets", help="list named configurations with their key numbers",
                       description="List presets: encoder, resolution, visual tokens, LLM, params, "
                       "GFLOPs and predicted memory (analytic, no model is built).")
    p.add_argument("--json", action="store_true", help="one JSON object keyed by preset name")
    p.set_defaults(func=run)


def run(args) -> int:
    from fastvlm import analyze, preset
    from fastvlm.presets import PRESET_NOTES, PRESETS

    rows, out = [], {}
    for name in PRESETS:
        cfg = preset(name)
        c = analyze(cfg)
        out[name] = {"config": cfg.to_dict(), "summary": cfg.summary(), "note": PRESET_NOTES[name],
                     **c.to_dict()}
        rows.append([name, cfg.encoder.variant, cfg.resolution, c.visual_tokens, cfg.llm.name,
                     c.params["encoder"] / 1e6, c.params["total"] / 1e9, c.gflops["encoder"],
                     c.gflops["prefill"], c.predicted_peak_mb / 1024, PRESET_NOTES[name]])
    if args.json:
        print_json(out)
        return 0
    print(table(rows, ["preset", "encoder", "res", "tokens", "llm", "enc Mparams",
                       "total Bparams", "enc GFLOP", "prefill GFLOP", "pred. GB", "note"],
                align="llrrlrrrrrl"))
    print("\nGFLOPs are analytic (matmuls and convolutions, attention included); memory is "
          "predicted (weights + KV cache + peak activations, fp32).")
    return 0
