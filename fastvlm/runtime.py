"""Per-process measurement setup (device, threads, denormals) and the device/software fingerprint.

Design.md section 4, step 1: fixed thread count (`set_num_threads`, `set_num_interop_threads(1)`),
`set_flush_denormal(True)` on CPU, explicit device sync at both ends of a timed region. All of
it is recorded, with versions, in `RuntimeInfo`; its `fingerprint` keys the latency cache, so
numbers from different machines or software are never mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass

import torch

from .config import DEVICES


class MeasureError(RuntimeError):
    """A measurement cannot be done as asked (e.g. the model does not fit); the message says why."""


@dataclass(frozen=True)
class RuntimeInfo:
    device: str  # cpu | cuda | mps
    device_name: str
    threads: int
    interop_threads: int
    flush_denormal: bool
    versions: dict

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes latency except the model itself."""
        d = asdict(self)
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {**asdict(self), "fingerprint": self.fingerprint}


def resolve_device(device: str = "auto") -> str:
    """`auto` picks cuda, then mps, then cpu; an unavailable explicit choice is an error."""
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; valid: {', '.join(DEVICES)}")
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": torch.backends.mps.is_available()}
    if device == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if available[d])
    if not available[device]:
        have = ", ".join(d for d, ok in available.items() if ok)
        raise ValueError(f"device {device!r} is not available here; available: {have}")
    return device


def physical_cores() -> int:
    """Usable cores (affinity mask); hyper-threads are not worth more threads for GEMMs."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        usable = os.cpu_count() or 1
    return max(1, usable)


def setup_runtime(device: str = "auto", threads: int | None = None) -> RuntimeInfo:
    """Fix the process-wide settings once, before any op, and describe them."""
    device = resolve_device(device)
    threads = threads or physical_cores()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process (it can only be set before use)
        pass
    flush = bool(torch.set_flush_denormal(True)) if device == "cpu" else False
    return RuntimeInfo(device=device, device_name=device_name(device), threads=threads,
                       interop_threads=torch.get_num_interop_threads(), flush_denormal=flush,
                       versions=software_versions())


def device_name(device: str) -> str:
    if device == "cuda":
        return torch.cuda.get_device_name(0)
    if device == "mps":
        return f"Apple MPS ({platform.machine()})"
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            name = next(line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name} ({os.cpu_count()} logical cpus)"


def software_versions() -> dict:
    import timm
    import transformers

    return {"torch": torch.__version__, "timm": timm.__version__,
            "transformers": transformers.__version__, "python": platform.python_version()}


def synchronize(device: str) -> None:
    """Wait for queued device work so host clocks bracket it (no-op on CPU)."""
    if device == "cuda":
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()
