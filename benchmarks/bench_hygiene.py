"""Inference hygiene pays: plain timm FastViTHD vs re-parameterised (+ channels_last), one run.

    python -m benchmarks.bench_hygiene [--budget-s 90]

The plain model is what `timm.create_model('fastvit_mci3')` gives (train-time multi-branch
form, contiguous). The tool's encoder is re-parameterised and, where faster, channels_last.
All variants are timed in the same shuffled rounds; outputs are compared (relative L2).
Target: >= 1.3x at 1024 on CPU, outputs equal to 1e-5.
"""

from __future__ import annotations

import argparse
import copy

import torch
from timm.utils.model import reparameterize_model

from fastvlm.build import build_encoder
from fastvlm.presets import preset
from fastvlm.protocol import Item, ProtocolSettings, run_protocol
from fastvlm.runtime import setup_runtime

from .common import md_table, save


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=90.0)
    ap.add_argument("--resolutions", default="512,1024")
    args = ap.parse_args()
    setup_runtime("cpu")
    enc = preset("fastvlm-0.5b").encoder
    torch.manual_seed(0)
    plain = build_encoder(enc, inference_mode=False).eval()
    fused = reparameterize_model(copy.deepcopy(plain))
    fused_cl = copy.deepcopy(fused).to(memory_format=torch.channels_last)
    rows, data = [], []
    for res in map(int, args.resolutions.split(",")):
        x = torch.randn(1, 3, res, res)
        x_cl = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            ref = plain.forward_features(x)
            diffs = {name: float((out - ref).norm() / ref.norm()) for name, out in (
                ("reparam", fused.forward_features(x)),
                ("reparam+cl", fused_cl.forward_features(x_cl)))}
            items = [Item("plain", lambda: plain.forward_features(x)),
                     Item("reparam", lambda: fused.forward_features(x)),
                     Item("reparam+cl", lambda: fused_cl.forward_features(x_cl))]
            r = run_protocol(items, "cpu", ProtocolSettings(budget_s=args.budget_s))
        med = {k: r.stats[k].median_ms for k in ("plain", "reparam", "reparam+cl")}
        data.append({"resolution": res, "median_ms": med, "rel_l2_vs_plain": diffs,
                     "rounds": r.rounds, "canary_drift": r.canary_drift})
        rows.append([res, med["plain"], med["reparam"], med["reparam+cl"],
                     f"{med['plain'] / med['reparam']:.2f}x",
                     f"{med['plain'] / med['reparam+cl']:.2f}x",
                     f"{max(diffs.values()):.1e}", r.rounds])
    md = ("### Inference hygiene: FastViTHD encoder\n\nSame weights; interleaved rounds; fp32 CPU."
          "\n\n" + md_table(rows, ["resolution", "plain timm ms", "reparam ms",
                                   "reparam + channels_last ms", "speed-up (reparam)",
                                   "speed-up (both)", "max rel. L2 diff", "rounds"]))
    save("hygiene", {"resolutions": data}, md)


if __name__ == "__main__":
    main()
