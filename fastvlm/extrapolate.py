"""Layer extrapolation of LLM prefill latency for models that do not fit in memory.

The decoder is built once with L_max layers; variants with fewer layers run the first L of them
(same weights), interleaved in the same rounds. Prefill time is linear in the layer count,
t(L) = a + b*L (a: embeddings, final norm, lm_head for the last token; b: one decoder layer), so
the fit predicts the full depth. benchmarks/bench_extrapolation.py checks it against full
measurements (design.md: |error| <= 5%).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from .analytic import analyze, llm_params
from .config import DTYPE_BYTES, VlmConfig
from .runtime import MeasureError
from .stats import Latency

VARIANT_LAYERS = (1, 2, 4, 8)
# Share of the free memory a measured model may plan for. The analytic prediction misses the
# runtime's own ~1 GB (libraries, allocator caches, oneDNN scratch), hence well under a half:
# FastVLM-7B then peaks under 12 GB on a 24 GB machine (benchmarks/bench_cost7b.py).
DEFAULT_BUDGET_FRACTION = 0.4


@dataclass(frozen=True)
class LayerPlan:
    extrapolate: bool
    layers: tuple[int, ...]  # layer counts timed (only the full depth when not extrapolating)
    full_layers: int
    full_mb: float  # predicted peak of the whole model
    budget_mb: float
    reason: str


def available_memory_mb(device: str) -> float:
    """Memory this process may use: free device memory, or MemAvailable on the host."""
    import torch

    if device == "cuda":
        free, _ = torch.cuda.mem_get_info()
        return free / 2**20
    if device == "mps":
        return torch.mps.recommended_max_memory() / 2**20
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) / 1024
    except (OSError, KeyError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20


def plan_layers(cfg: VlmConfig, mode: str = "auto", budget_mb: float | None = None,
                device: str = "cpu") -> LayerPlan:
    """Decide between a full measurement and layer extrapolation, and which depths to time."""
    budget = budget_mb if budget_mb is not None else DEFAULT_BUDGET_FRACTION * \
        available_memory_mb(device)
    full_mb = analyze(cfg).predicted_peak_bytes / 2**20
    L = cfg.llm.num_layers
    if mode == "never" or (mode == "auto" and full_mb <= budget):
        if full_mb > budget:
            raise MeasureError(f"{cfg.summary()} needs ~{full_mb:.0f} MB (predicted) but the "
                               f"memory budget is {budget:.0f} MB; use --extrapolate auto")
        return LayerPlan(False, (L,), L, full_mb, budget, "fits in memory")
    if L < 2:  # a line needs two depths
        raise MeasureError(f"{cfg.llm.name} has 1 layer: nothing to extrapolate from; measure "
                           "it in full (--extrapolate never)")
    per_layer_mb = _layer_params(cfg) * DTYPE_BYTES[cfg.dtype] / 2**20
    base_mb = full_mb - L * per_layer_mb
    fit_layers_max = int((budget - base_mb) // per_layer_mb) if per_layer_mb else L
    l_max = min(VARIANT_LAYERS[-1], L, fit_layers_max)
    if l_max < 2:
        raise MeasureError(f"even 2 layers of {cfg.llm.name} do not fit the memory budget of "
                           f"{budget:.0f} MB (one layer ~{per_layer_mb:.0f} MB, rest "
                           f"~{base_mb:.0f} MB); raise --memory-budget-mb")
    layers = tuple(sorted({v for v in VARIANT_LAYERS if v <= l_max} | {l_max}))
    reason = ("asked for" if mode == "always" else
              f"full model ~{full_mb:.0f} MB > budget {budget:.0f} MB")
    return LayerPlan(True, layers, L, full_mb, budget, reason)


def _layer_params(cfg: VlmConfig) -> int:
    one, two = (llm_params(dataclasses.replace(cfg.llm, num_layers=n)) for n in (1, 2))
    return two - one


def fit_layers(per_layer: dict[int, Latency], full_layers: int) -> dict:
    """Least-squares t(L) = a + b*L on medians (and on p90 / CI bounds), evaluated at full depth."""
    Ls = np.array(sorted(per_layer), dtype=float)

    def predict(values: list[float]) -> tuple[float, float, float]:
        b, a = np.polyfit(Ls, np.array(values), 1)
        return float(a + b * full_layers), float(a), float(b)

    lats = [per_layer[int(L)] for L in Ls]
    median, a, b = predict([x.median_ms for x in lats])
    fitted = a + b * Ls
    observed = np.array([x.median_ms for x in lats])
    ss_res = float(np.sum((observed - fitted) ** 2))
    ss_tot = float(np.sum((observed - observed.mean()) ** 2)) or 1e-12
    # The prediction is a weighted sum of the per-depth medians, w = x0 . pinv(X); some weights
    # are negative when extrapolating. Taking each depth's CI end that moves the sum the same
    # way gives an interval that always holds the prediction (fitting the lower and upper ends
    # separately does not: their slopes differ). Conservative: every end at once.
    w = np.array([1.0, full_layers]) @ np.linalg.pinv(np.column_stack([np.ones_like(Ls), Ls]))
    low = np.array([x.ci_low_ms for x in lats])
    high = np.array([x.ci_high_ms for x in lats])
    lo = float(np.sum(np.where(w > 0, w * low, w * high)))
    hi = float(np.sum(np.where(w > 0, w * high, w * low)))
    return {
        "median_ms": median, "p90_ms": max(median, predict([x.p90_ms for x in lats])[0]),
        "ci_ms": [lo, hi], "n": min(x.n for x in lats),
        "iqr_rel": max(x.iqr_rel for x in lats), "a_ms": a, "b_ms_per_layer": b,
        "layers": [int(L) for L in Ls], "full_layers": full_layers,
        "r2": 1.0 - ss_res / ss_tot,
        "max_rel_residual": float(np.max(np.abs(observed - fitted) / observed)),
    }
