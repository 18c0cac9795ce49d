"""The device's achievable matmul throughput: the roof that achieved GFLOP/s must stay under.

Measured once per device/software fingerprint and dtype (square GEMMs, median of a few calls
after warm-up) and kept in the latency cache. Design.md section 4, step 8: analytic FLOPs divided
by a measured time above this roof would mean the timing missed work (e.g. no device sync).
"""

from __future__ import annotations

import torch

from .build import TORCH_DTYPES
from .cache import LatencyCache
from .protocol import time_call
from .runtime import RuntimeInfo
from .stats import Latency

GEMM_SIZE = 2048


def matmul_peak_gflops(rt: RuntimeInfo, dtype: str, cache: LatencyCache | None = None) -> float:
    """GFLOP/s of a (2048 x 2048) @ (2048 x 2048) GEMM on `rt.device` in `dtype` (cached)."""
    key = f"gemm{GEMM_SIZE}-{dtype}"
    if cache is not None:
        hit = cache.get(rt.fingerprint, "peak", key)
        if hit is not None:
            return hit["gflops_s"]
    n = GEMM_SIZE
    a = torch.randn(n, n, device=rt.device, dtype=TORCH_DTYPES[dtype])
    b = torch.randn(n, n, device=rt.device, dtype=TORCH_DTYPES[dtype])
    with torch.inference_mode():
        for _ in range(2):
            time_call(lambda: a @ b, rt.device)
        lat = Latency.from_samples([time_call(lambda: a @ b, rt.device) for _ in range(5)])
    # min, not median: the roof is the best the hardware did, not a typical call
    gflops_s = 2 * n**3 / (lat.min_ms / 1e3) / 1e9
    if cache is not None:
        cache.put(rt.fingerprint, "peak", key, {"gflops_s": gflops_s, "latency": lat.to_dict()})
    return gflops_s
