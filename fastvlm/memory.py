"""Peak memory of one TTFT call, measured in a fresh child process (design.md section 4, step 7).

CPU: the child's peak RSS during the call (Linux: the high-water mark `VmHWM`, reset after the
build through /proc/self/clear_refs) minus its RSS after imports, so the figure is what the
built model needs to answer, not the interpreter nor the build's transients; where the mark
cannot be reset (macOS), the process's peak (`ru_maxrss`) since the start, build included, and
the method says so. CUDA: `max_memory_allocated`, reset after the build. MPS has no peak
counter: the driver's allocation after the call. A separate process so that neither the
parent's allocations nor an earlier model count.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import sys
import time
from queue import Empty


def _rss_peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])

        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return _rss_peak_mb()


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (Linux >= 4.0); False where it cannot be."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise OSError("no VmHWM in /proc/self/status")


def _child(cfg_dict: dict, device: str, threads: int, queue) -> None:
    try:
        import torch

        from .build import TORCH_DTYPES, build_vlm
        from .presets import config_from_dict
        from .runtime import setup_runtime

        setup_runtime(device, threads)
        cfg = config_from_dict(cfg_dict)
        baseline = _current_rss_mb()
        model = build_vlm(cfg, device=device)
        pixels = torch.randn(1, 3, cfg.resolution, cfg.resolution).to(device,
                                                                      TORCH_DTYPES[cfg.dtype])
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base_alloc = torch.cuda.memory_allocated()
        import gc

        gc.collect()
        build_peak = _rss_peak_mb()
        reset = device == "cpu" and _reset_peak_rss()
        with torch.inference_mode():
            model.first_token(pixels, model.prompt_ids(device))
        if device == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
            out = {"peak_mb": peak, "method": "measured (cuda max_memory_allocated)",
                   "weights_mb": base_alloc / 2**20}
        elif device == "mps":
            out = {"peak_mb": torch.mps.driver_allocated_memory() / 2**20,
                   "method": "measured (mps driver allocation after the call)"}
        elif reset:
            peak = _hwm_mb()
            out = {"peak_mb": peak - baseline,
                   "method": "measured (child peak RSS during the call - baseline)",
                   "peak_rss_mb": peak, "baseline_rss_mb": baseline,
                   "build_peak_mb": build_peak - baseline}
        else:
            peak = _rss_peak_mb()
            out = {"peak_mb": peak - baseline,
                   "method": "measured (child peak RSS since start, build included - baseline)",
                   "peak_rss_mb": peak, "baseline_rss_mb": baseline}
        queue.put(out)
    except BaseException as e:  # report, never hang the parent
        queue.put({"error": f"{type(e).__name__}: {e}"})


def measure_peak_memory(cfg, device: str = "cpu", threads: int = 1,
                        timeout_s: float = 1800.0) -> dict:
    """Build `cfg` in a spawned child, run one TTFT call, return its peak memory in MB."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(cfg.to_dict(), device, threads, queue))
    proc.start()
    from .runtime import MeasureError

    deadline = time.monotonic() + timeout_s
    out = None
    try:
        # poll: a child killed by the OOM killer (or crashing) never puts anything
        while out is None:
            try:
                out = queue.get(timeout=1.0)
            except Empty:
                if not proc.is_alive():
                    try:  # it may have put its answer just before exiting
                        out = queue.get(timeout=1.0)
                    except Empty:
                        raise MeasureError(
                            f"memory measurement failed: the child process died (exit code "
                            f"{proc.exitcode}; a negative code is the signal, -9 = killed, e.g. "
                            "out of memory)") from None
                elif time.monotonic() > deadline:
                    raise MeasureError(f"memory measurement timed out after {timeout_s:g} s")
    finally:
        proc.join(timeout=60)
        if proc.is_alive():
            proc.kill()
    if "error" in out:
        raise MeasureError(f"memory measurement failed: {out['error']}")
    return out
