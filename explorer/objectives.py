"""Objectives: name, direction, unit and how to read the value from a trial record.

The study's `directions` and `set_metric_names` come from here, in one order, so Optuna,
optuna-dashboard, the CLI and our dashboard all read the same names and units.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass



@dataclass(frozen=True)
class Objective:
    name: str  # metric name stored in Optuna
    direction: str  # minimize | maximize
    unit: str
    label: str  # axis label; proxies say "proxy" and which family, never a benchmark name
    value: Callable[[dict], float | None]  # reads a flat trial row (see records.FRAME_COLUMNS)


def _proxy(family: str) -> Objective:
    return Objective(
        name=f"proxy_{family}", direction="maximize", unit="",
        label=f"proxy accuracy ({family.replace('_', '-')})",
        value=lambda row, f=family: row.get(f"proxy_{f}"))


OBJECTIVES: dict[str, Objective] = {
    "ttft_ms": Objective("ttft_ms", "minimize", "ms", "TTFT (ms, measured)",
                         lambda row: row.get("ttft_ms")),
    "proxy_text_rich": _proxy("text_rich"),
    "proxy_general": _proxy("general"),
    "peak_memory_mb": Objective("peak_memory_mb", "minimize", "MB", "peak memory (MB)",
                                lambda row: row.get("memory_mb")),
    "params_b": Objective("params_b", "minimize", "B", "parameters (billions)",
                          lambda row: (row.get("params_total") or 0) / 1e9 or None),
}


def get_objective(name: str) -> Objective:
    if name not in OBJECTIVES:
        raise KeyError(f"unknown objective {name!r}; valid: {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]
