"""Peak memory of one TTFT call, measured in a fresh child process (design.md section 4, step 7).

CPU: the child's peak RSS (`ru_maxrss`, KiB on Linux, bytes on macOS) minus its RSS after
imports, so the figure is what the model needs, not the interpreter. CUDA:
`max_memory_allocated`. MPS has no peak counter: the driver's allocation after the call.
A separate process because RSS high-water marks cannot be reset in-process.
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
        with torch.inference_mode():
            model.first_token(pixels, model.prompt_ids(device))
        if device == "cuda":
            peak = torch.cuda.max_memory_allocated() / 2**20
            out = {"peak_mb": peak, "method": "measured (cuda max_memory_allocated)",
                   "weights_mb": base_alloc / 2**20}
        elif device == "mps":
            out = {"peak_mb": torch.mps.driver_allocated_memory() / 2**20,
                   "method": "measured (mps driver allocation after the call)"}
        else:
            peak = _rss_peak_mb()
            out = {"peak_mb": peak - baseline, "method": "measured (child peak RSS - baseline)",
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
