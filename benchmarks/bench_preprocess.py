"""Image preprocessing beside TTFT: decode + pad + resize + rescale + copy, per resolution.

    python -m benchmarks.bench_preprocess [--budget-s 30]

Two sources: the 1920x1080 JPEG that `measure` times with every encoder (a screen or video
frame) and a 4032x3024 JPEG (a 12 MP phone photo), both at quality 90, resized to each
resolution in the same interleaved rounds (`fastvlm/protocol.py`). The share of TTFT divides
by FastVLM-0.5B's TTFT at that resolution as `measure` reports it on this machine (from the
component cache when it holds it, else measured now): preprocessing is not part of TTFT, but it
is part of the time a user waits.
"""

from __future__ import annotations

import argparse

import torch

from fastvlm.cache import LatencyCache
from fastvlm.measure import MeasureSettings, measure_ttft
from fastvlm.preprocess import Preprocessor
from fastvlm.presets import preset
from fastvlm.protocol import Item, ProtocolSettings, run_protocol
from fastvlm.runtime import setup_runtime

from .common import md_table, save

SOURCES = {"1920x1080": (1920, 1080), "4032x3024": (4032, 3024)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget-s", type=float, default=30.0)
    ap.add_argument("--resolutions", default="256,512,768,1024,1536")
    args = ap.parse_args()
    rt = setup_runtime("cpu")
    resolutions = [int(r) for r in args.resolutions.split(",")]
    items = [Item(f"{name}@{r}", Preprocessor(r, rt.device, torch.float32, size))
             for name, size in SOURCES.items() for r in resolutions]
    res = run_protocol(items, rt.device, ProtocolSettings(budget_s=args.budget_s))
    cache = LatencyCache()
    rows, data = [], []
    for r in resolutions:
        ttft = measure_ttft(preset("fastvlm-0.5b", resolution=r),
                            MeasureSettings(budget_s=args.budget_s), cache)
        entry = {"resolution": r, "fastvlm_0_5b_ttft_ms": ttft.ttft_ms,
                 "ttft_cached": ttft.cached, "ttft_unstable": ttft.unstable}
        row = [r]
        for name in SOURCES:
            lat = res.stats[f"{name}@{r}"]
            entry[name] = lat.to_dict(samples=False)
            row += [lat.median_ms, f"{lat.median_ms / ttft.ttft_ms:.1%}"]
        rows.append(row + [ttft.ttft_ms])
        data.append(entry)
    headers = ["resolution"]
    for name in SOURCES:
        headers += [f"{name} JPEG ms", "share of TTFT"]
    md = ("### Image preprocessing beside TTFT\n\n"
          "Decode, pad to square, bicubic resize, rescale, copy to the device (fp32, CPU); "
          f"both sources in the same interleaved rounds ({res.rounds} rounds). Not part of TTFT; "
          "the share is of FastVLM-0.5B's TTFT at the same resolution on this machine.\n\n"
          + md_table(rows, headers + ["FastVLM-0.5B TTFT ms"]))
    save("preprocess", {"rows": data, "rounds": res.rounds, "canary_drift": res.canary_drift},
         md)


if __name__ == "__main__":
    main()
