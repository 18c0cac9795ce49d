"""Two unrelated OCR engines on the same pages: is tier 1's legibility curve the pages' own?

    python -m benchmarks.bench_readers

Tier 1 is calibrated with Tesseract (LSTM recogniser, its own layout analysis). RapidOCR
(PaddleOCR PP-OCRv4 detector + recogniser in ONNX Runtime) shares no code with it. Both read the
pages tier 1 reads (default page count, the calibrated text scale per family, seed 0) at each
resolution, in a fresh cache folder. Reported per family: accuracy per reader and resolution,
the Kendall tau of the resolution ranking between the readers (what a sweep's order rests on),
the correlation of per-page accuracies, and each reader's cold cost per page.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from scipy.stats import kendalltau, pearsonr

from .common import md_table, save

RESOLUTIONS = (256, 384, 512, 768, 1024, 1536)
READERS = ("tesseract", "rapidocr")
FAMILIES = ("text_rich", "general")


def main() -> None:
    os.environ["FASTVLM_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_readers_")  # truly cold
    from fastvlm.proxy.calibrate import load
    from fastvlm.proxy.legibility import DEFAULT_PAGES, measured_legibility
    from fastvlm.proxy.reader import reader_version

    scales = {f: load()["tiers"]["1"][f]["text_scale"] for f in FAMILIES}
    data: dict = {"readers": {r: reader_version(r) for r in READERS}, "pages": DEFAULT_PAGES,
                  "text_scale": scales, "resolutions": RESOLUTIONS, "curves": [],
                  "families": {}}
    rows, summary = [], []
    for family in FAMILIES:
        per_reader = {}
        for reader in READERS:
            per_reader[reader] = {r: measured_legibility(r, family, text_scale=scales[family],
                                                         reader=reader) for r in RESOLUTIONS}
        for r in RESOLUTIONS:
            t, p = per_reader["tesseract"][r], per_reader["rapidocr"][r]
            rows.append([family, r, f"{t.value:.3f} +/- {t.stderr:.3f}",
                         f"{p.value:.3f} +/- {p.stderr:.3f}", p.value - t.value])
            data["curves"].append({"family": family, "resolution": r,
                                   **{reader: per_reader[reader][r].to_dict()
                                      for reader in READERS}})
            print(rows[-1], flush=True)
        curve = {reader: [per_reader[reader][r].value for r in RESOLUTIONS] for reader in READERS}
        pages = {reader: np.concatenate([per_reader[reader][r].per_page for r in RESOLUTIONS])
                 for reader in READERS}
        per_page_s = {reader: sum(per_reader[reader][r].measure_ms for r in RESOLUTIONS)
                      / 1e3 / (len(RESOLUTIONS) * DEFAULT_PAGES) for reader in READERS}
        stats = {"kendall_tau": float(kendalltau(*curve.values()).statistic),
                 "pearson_per_page": float(pearsonr(*pages.values()).statistic),
                 "max_abs_difference": float(np.max(np.abs(np.subtract(*curve.values())))),
                 "seconds_per_page": per_page_s}
        data["families"][family] = stats
        summary.append([family, stats["kendall_tau"], stats["pearson_per_page"],
                        stats["max_abs_difference"], per_page_s["tesseract"],
                        per_page_s["rapidocr"]])
    md = (f"### Two OCR readers on tier 1's pages ({DEFAULT_PAGES} pages per family and "
          f"resolution, seed 0, calibrated text scale: text-rich {scales['text_rich']:g}, "
          f"general {scales['general']:g})\n\n"
          f"Readers: {data['readers']['tesseract']}; {data['readers']['rapidocr']}. "
          "Tier 1 is calibrated with Tesseract; RapidOCR shares no code with it.\n\n"
          + md_table(rows, ["family", "r", "Tesseract accuracy", "RapidOCR accuracy",
                            "RapidOCR - Tesseract"])
          + "\n\n" + md_table(summary, ["family", "Kendall tau of the resolution ranking",
                                        "Pearson r of per-page accuracy",
                                        "largest difference",
                                        "Tesseract s per page (cold wall time, 2 at once)",
                                        "RapidOCR s per page (cold, one at a time)"]))
    save("readers", data, md)


if __name__ == "__main__":
    main()
