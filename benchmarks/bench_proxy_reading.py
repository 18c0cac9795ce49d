"""Measured proxy tiers 1 and 2 on this machine: cost, legibility table, robustness, probe.

    python -m benchmarks.bench_proxy_reading

Tier 1 (`fastvlm.proxy.legibility`): cold and cached cost of `measured_legibility` per
resolution and family, on the pages tier 1 reads (default pages at the calibrated text scale
per family, a fresh cache directory so "cold" is cold); accuracy vs resolution per family, font
and resize kernel; Kendall tau of the resolution ranking across 3 render seeds x 2 fonts x 2
kernels (fewer pages per variant, text scale 1.0: the robustness of the reading itself).
Tier 2 (`fastvlm.proxy.probe`): cost and value of the encoder probe for fastvlm-0.5b at 256
and 1024, width x0.5, 60 s budget.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time

import numpy as np
from scipy.stats import kendalltau

from .common import md_table, save

RESOLUTIONS = (256, 512, 768, 1024, 1536)
VARIANT_PAGES = 9  # per (variant, family, resolution); 3 per text_rich kind


def tier1_costs(rows: list, data: dict) -> None:
    from fastvlm.proxy.calibrate import load
    from fastvlm.proxy.legibility import DEFAULT_PAGES, measured_legibility

    data["default_pages"] = DEFAULT_PAGES
    scales = {f: load()["tiers"]["1"][f]["text_scale"] for f in ("text_rich", "general")}
    data["text_scale"] = scales
    for family in ("text_rich", "general"):
        for r in RESOLUTIONS:
            cold = measured_legibility(r, family, text_scale=scales[family])
            t0 = time.perf_counter()
            hot = measured_legibility(r, family, text_scale=scales[family])
            hot_ms = (time.perf_counter() - t0) * 1e3
            data["costs"].append({"family": family, "resolution": r, "cold_ms": cold.cost_ms,
                                  "cached_ms": hot_ms, "value": cold.value,
                                  "stderr": cold.stderr, "cached_flag": hot.cached})
            rows.append([family, scales[family], r, cold.value, cold.stderr,
                         cold.cost_ms / 1e3, hot_ms])
            print(rows[-1], flush=True)


def tier1_variants(data: dict) -> tuple[str, str]:
    from fastvlm.proxy.legibility import legibility_curve

    curves = {}
    for family, seed, font, kernel in itertools.product(
            ("text_rich", "general"), (0, 1, 2), ("dejavu", "aileron"), ("bicubic", "area")):
        curve = legibility_curve(RESOLUTIONS, family, seed=seed, font=font, kernel=kernel,
                                 pages=VARIANT_PAGES)
        curves[(family, seed, font, kernel)] = [curve[r].value for r in RESOLUTIONS]
        print(family, seed, font, kernel, np.round(curves[(family, seed, font, kernel)], 3),
              flush=True)
    data["variants"] = [{"family": f, "seed": s, "font": fo, "kernel": k, "values": v}
                        for (f, s, fo, k), v in curves.items()]
    table_rows, tau_rows = [], []
    for family in ("text_rich", "general"):
        for font, kernel in itertools.product(("dejavu", "aileron"), ("bicubic", "area")):
            mean = np.mean([curves[(family, s, font, kernel)] for s in (0, 1, 2)], axis=0)
            table_rows.append([family, font, kernel, *[float(v) for v in mean]])
        vectors = [v for k, v in curves.items() if k[0] == family]
        pair = [kendalltau(a, b).statistic for a, b in itertools.combinations(vectors, 2)]
        vs_r = [kendalltau(RESOLUTIONS, v).statistic for v in vectors]
        tau_rows.append([family, len(vectors), float(np.mean(pair)), float(np.min(pair)),
                         float(np.mean(vs_r)), float(np.min(vs_r))])
        data.setdefault("kendall", {})[family] = {"pairwise_mean": float(np.mean(pair)),
                                                  "pairwise_min": float(np.min(pair)),
                                                  "vs_resolution_mean": float(np.mean(vs_r)),
                                                  "vs_resolution_min": float(np.min(vs_r))}
    table = md_table(table_rows, ["family", "font", "kernel", *[f"r={r}" for r in RESOLUTIONS]])
    taus = md_table(tau_rows, ["family", "variants", "tau pairwise mean", "tau pairwise min",
                               "tau vs r mean", "tau vs r min"])
    return table, taus


def tier2_probe(data: dict) -> str:
    from fastvlm import preset
    from fastvlm.proxy.probe import probe_encoder

    rows = []
    cases = [(r, False) for r in (256, 512, 768, 1024)] + [(1024, True)]
    for r, blank in cases:
        res = probe_encoder(preset("fastvlm-0.5b", resolution=r), budget_s=60, width_factor=0.5,
                            blank=blank)
        data["probe"].append(res.to_dict() | {"blank": blank})
        rows.append([f"{r}{' (blank pages)' if blank else ''}", res.value, res.f1, res.f1_prior,
                     res.steps, res.stopped, res.n_train, res.n_test, res.extract_ms / 1e3,
                     res.cost_ms / 1e3])
        print(rows[-1], flush=True)
    return md_table(rows, ["resolution", "value", "accuracy", "majority-class accuracy", "crops",
                           "stopped", "train tokens", "test tokens", "extract s", "total s"])


def main() -> None:
    from fastvlm.proxy.reader import reader_version

    os.environ["FASTVLM_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_proxy_")  # truly cold
    data: dict = {"reader": reader_version(), "resolutions": RESOLUTIONS, "costs": [],
                  "probe": [], "variant_pages": VARIANT_PAGES}
    cost_rows: list = []
    tier1_costs(cost_rows, data)
    table, taus = tier1_variants(data)
    probe = tier2_probe(data)
    md = (f"### Tier-1 measured legibility as tier 1 uses it ({data['reader']}, "
          f"{data['default_pages']} pages, seed 0, DejaVu, bicubic, calibrated text scale)\n\n"
          + md_table(cost_rows, ["family", "text scale", "r", "accuracy", "stderr", "cold s",
                                 "cached ms"])
          + f"\n\n### Accuracy vs resolution per font and kernel (text scale 1.0, mean of 3 "
          f"seeds, {VARIANT_PAGES} pages each)\n\n" + table
          + "\n\n### Kendall tau of the resolution ranking across 3 seeds x 2 fonts x 2 kernels"
          " (text scale 1.0)\n\n" + taus
          + "\n\n### Tier-2 encoder capacity (probe): fastvlm-0.5b encoder, width x0.5, "
          "60 s budget; one glyph centred per visual token, ridge readout; value = held-out "
          "accuracy gain over the majority class\n\n" + probe)
    save("proxy_reading", data, md)


if __name__ == "__main__":
    main()
