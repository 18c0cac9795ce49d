"""The published FastVLM accuracy points the tier-0/1 surrogates are calibrated on.

Source: `fastvlm/data/fastvlm_published.csv`, a copy of `../shared/data/fastvlm_published.csv`
(the FastVLM paper's Tables 4-6 and the model cards). Only like-with-like points are kept:

* the FastViTHD encoder at a single (non-tiled) resolution, so the vision side varies only in
  resolution and tokens -- the 2048 "dynamic 2x2" rows tile the image and are excluded;
* grouped by training recipe (pre-training + instruction-tuning data) and LLM family, because
  accuracy depends strongly on the data; each group gets its own intercept, so only the
  *differences* within a group (resolution, LLM size) inform the shared slopes;
* groups with a single point for a benchmark are dropped (they carry no within-group signal);
* Table 4/5 rows that repeat a Table 6 point are deduplicated.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..analytic import llm_params
from ..presets import LLM_PRESETS

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "fastvlm_published.csv"

# Benchmarks per proxy family (design.md section 5): text-rich = TextVQA/DocVQA-like,
# general = GQA/SeedBench-like. Proxy values are never labelled with these names.
FAMILY_BENCHMARKS = {"text_rich": ("TextVQA", "DocVQA"), "general": ("GQA", "SeedBench_I")}
FAMILIES = tuple(FAMILY_BENCHMARKS)

# LLM parameters in billions (with embeddings): Qwen2 from the analytic counts of the presets;
# Vicuna-7B is LLaMA-7B (6.74 B), which has no preset here.
LLM_PARAMS_B = {f"Qwen2-{size}": round(llm_params(LLM_PRESETS[f"qwen2-{size.lower()}"]) / 1e9, 3)
                for size in ("0.5B", "1.5B", "7B")} | {"Vicuna-7B": 6.738}

# The recipe the predictions are made for: the paper's main Stage-2 recipe (15M + 12.5M) with
# Qwen2, the group with every benchmark at every LLM size.
REFERENCE_GROUP = "15+12.5/qwen2"


@dataclass(frozen=True)
class Point:
    row: str            # source table + row id, for tracing a residual back to the paper
    benchmark: str
    family: str
    group: str          # training recipe / LLM family
    llm: str
    llm_b: float
    resolution: int
    tokens: int
    acc: float          # fraction in [0, 1]


def data_version(path: Path = DATA_FILE) -> str:
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _group(row: dict) -> str | None:
    llm = row["llm_resolved"]
    family = "qwen2" if llm.startswith("Qwen2") else "vicuna" if llm.startswith("Vicuna") else None
    if family is None:
        return None
    if row["source"].startswith("HF model"):
        return f"card/{family}"
    data = row["train_data_PT_plus_IT_M"] or ("0.5+0.6" if row["source"] == "Table 4" else "")
    return f"{data}/{family}" if data and data != "-" else None


def load_points(path: Path = DATA_FILE) -> tuple[list[Point], list[str]]:
    """Calibration points and a list of human-readable exclusion notes."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen, points, notes = set(), [], []
    for row in rows:
        rid = f"{row['source']}:{row['row_id']}"
        if row["vision_encoder"] != "FastViTHD" and not row["source"].startswith("HF model"):
            continue
        if row["dynamic_res_2x2"] or row["source"] in ("Table 5", "Table 10"):
            continue  # tiled 2048 rows; Table 5 repeats Table 4; Table 10 has no accuracy
        group = _group(row)
        if group is None or row["llm_resolved"] not in LLM_PARAMS_B:
            continue
        res = int(row["input_res"])
        for family, benches in FAMILY_BENCHMARKS.items():
            for bench in benches:
                value = row.get(bench, "")
                if value in ("", "-"):
                    continue
                key = (group, row["llm_resolved"], res, bench)
                if key in seen:
                    continue
                seen.add(key)
                points.append(Point(rid, bench, family, group, row["llm_resolved"],
                                    LLM_PARAMS_B[row["llm_resolved"]], res,
                                    int(row["visual_tokens"]), float(value) / 100.0))
    counts: dict[tuple[str, str], int] = {}
    for p in points:
        counts[p.group, p.benchmark] = counts.get((p.group, p.benchmark), 0) + 1
    kept = [p for p in points if counts[p.group, p.benchmark] >= 2]
    for (group, bench), n in sorted(counts.items()):
        if n < 2:
            notes.append(f"dropped {group} {bench}: a single point carries no within-group signal")
    notes.append("excluded: 2048 px dynamic 2x2 tiling rows (different input pipeline)")
    return kept, notes
