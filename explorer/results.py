"""A study read back for humans: flat rows, feasibility under budgets, the Pareto front.

Shared by the CLI (`pareto`, `recommend`, `export`) and the dashboard; imports no torch. The
Pareto math is `explorer.pareto`; budgets given here override the study's stored constraints
(that is how the dashboard's sliders and `recommend --max-ttft-ms` work).
"""

from __future__ import annotations

import contextlib
import gc
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .confirm import CONFIRMATIONS_ATTR
from .pareto import knee_index, pareto_mask, to_losses
from .records import FRAME_COLUMNS, rows_from_trials
from .repeats import OVER_BUDGET_ATTR
from .storage import load_study, open_storage
from .trial_reader import read_trials


@dataclass(frozen=True)
class Budgets:
    max_ttft_ms: float | None = None
    max_memory_mb: float | None = None
    min_proxy: float | None = None

    def limits(self, proxy_key: str) -> list[tuple[float, str, int]]:
        """(limit, row key, sign) of each budget that is set: a row fits when
        sign * (row[key] - limit) <= 0; a row without the value does not fit."""
        return [(limit, key, sign) for limit, key, sign in (
            (self.max_ttft_ms, "ttft_ms", 1), (self.max_memory_mb, "memory_mb", 1),
            (self.min_proxy, proxy_key, -1)) if limit is not None]


def device_of(study_attrs: dict) -> str | None:
    """The device a study's attributes say it was measured on (None: not a study of ours)."""
    fp = study_attrs.get("fingerprint") or {}
    return fp.get("device_name") or fp.get("device")


def config_key(row: dict) -> str:
    """The configuration's identity (`VlmConfig.key()`): the same shape sampled twice, or on
    two devices, has the same key."""
    return _key_of(json.dumps(row["config"], sort_keys=True))


@lru_cache(maxsize=65_536)
def _key_of(config_json: str) -> str:
    """Building a VlmConfig costs ~0.1 ms; the dashboard asks for the keys of every trial tied
    with the best (155 of 10,000 in the benchmark study) on each slider step."""
    from fastvlm.presets import config_from_dict

    return config_from_dict(json.loads(config_json)).key()


def first_per_config(rows: list[dict]) -> list[dict]:
    """`rows` without repeats of a configuration already listed. Samplers re-propose shapes
    they have tried (NSGA-II does in small spaces); a repeat measures the same from the
    component cache, so it would sit on the front next to its twin."""
    seen: set[str] = set()
    out = []
    for r in rows:
        key = config_key(r) if r.get("config") else f"trial {r['number']}"
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


@dataclass
class StudyFrame:
    study_name: str
    directions: list[str]
    metric_names: list[str]
    attrs: dict
    rows: list[dict]

    @property
    def proxy_key(self) -> str:
        return next((m for m in self.metric_names if m.startswith("proxy_")), "proxy_text_rich")

    @property
    def device(self) -> str:
        """What the study's TTFTs were measured on, e.g. 'AMD EPYC (2 logical cpus)'."""
        return device_of(self.attrs) or "unknown device"

    @property
    def stored_budgets(self) -> Budgets:
        c = self.attrs.get("constraints") or {}
        return Budgets(c.get("max_ttft_ms"), c.get("max_memory_mb"))

    def complete(self) -> list[dict]:
        """Complete trials with values (computed once: a frame's rows do not change)."""
        return self._complete

    @cached_property
    def _complete(self) -> list[dict]:
        return [r for r in self.rows if r["state"] == "COMPLETE" and r.get("values")]

    def feasible(self, budgets: Budgets | None = None) -> list[dict]:
        return [self._complete[i] for i in self.feasible_index(budgets)]

    def feasible_index(self, budgets: Budgets | None = None) -> np.ndarray:
        """Positions in `complete()` of the rows within `budgets` (default: the stored ones)."""
        b = budgets or self.stored_budgets
        ok = np.ones(len(self._complete), dtype=bool)
        with np.errstate(invalid="ignore"):
            for limit, key, sign in b.limits(self.proxy_key):
                ok &= sign * (self.column(key) - limit) <= 0  # NaN (missing) never fits
        return np.flatnonzero(ok)

    def column(self, key: str) -> np.ndarray:
        """`key` of every complete row as floats (NaN where missing), built once per key: the
        dashboard's sliders ask for the feasible set of 10,000 trials on every move."""
        columns = self.__dict__.setdefault("_columns", {})
        if key not in columns:
            columns[key] = np.array([np.nan if r.get(key) is None else float(r[key])
                                     for r in self._complete], dtype=float)
        return columns[key]

    def unmeasured_within(self, max_ttft_ms: float | None) -> list[dict]:
        """Samples the sweep skipped as predicted over its TTFT budget (explorer/predict.py)
        whose TTFT lower bound is within `max_ttft_ms` (None: no limit): never measured, they
        may fit a budget bigger than the study's. One per configuration, lowest bound first:
        {number, summary, lower_ms, max_ttft_ms (the sweep's budget)}."""
        return [s for s in self._skipped_over_budget
                if max_ttft_ms is None or s["lower_ms"] <= max_ttft_ms]

    @cached_property
    def _skipped_over_budget(self) -> list[dict]:
        lowest: dict[str, dict] = {}
        for r in self.rows:
            s = r.get(OVER_BUDGET_ATTR) or {}
            if s.get("lower_ms") is None:
                continue
            name = s.get("summary") or f"trial {r['number']}"
            if s["lower_ms"] < lowest.get(name, {}).get("lower_ms", np.inf):
                lowest[name] = {"number": r["number"], "summary": name,
                                "lower_ms": float(s["lower_ms"]),
                                "max_ttft_ms": s.get("max_ttft_ms")}
        return sorted(lowest.values(), key=lambda s: s["lower_ms"])

    def losses(self, rows: list[dict]) -> np.ndarray:
        if not rows:
            return np.zeros((0, len(self.directions)))
        return to_losses([r["values"] for r in rows], self.directions)

    def front(self, budgets: Budgets | None = None) -> list[dict]:
        """Feasible Pareto-optimal rows, fastest first, one per configuration."""
        rows = self.feasible(budgets)
        if not rows:
            return []
        mask = pareto_mask(self.losses(rows))
        return first_per_config(sorted((r for r, m in zip(rows, mask) if m),
                                       key=lambda r: (r["ttft_ms"], r["number"])))

    def pareto_numbers(self, budgets: Budgets | None = None) -> list[int]:
        return [r["number"] for r in self.front(budgets)]

    def knee_number(self, budgets: Budgets | None = None) -> int | None:
        rows = self.front(budgets)
        if not rows:
            return None
        return rows[knee_index(self.losses(rows))]["number"]

    def row(self, number: int) -> dict:
        for r in self.rows:
            if r["number"] == number:
                return r
        raise KeyError(number)


def rows_csv(rows: list[dict]) -> str:
    """Flat rows as CSV (`pareto --csv`, the dashboard's download): every column but `values`,
    nested values (config, cached stages) as JSON so that a script can parse them back."""
    import csv
    import io

    buf = io.StringIO()
    # No rows still gets the header, so that a script reading the CSV sees an empty table.
    columns = rows[0] if rows else FRAME_COLUMNS
    w = csv.DictWriter(buf, fieldnames=[k for k in columns if k != "values"],
                       extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                    for k, v in r.items()})
    return buf.getvalue()


def study_frame(study) -> StudyFrame:
    directions = [d.name.lower() for d in study.directions]
    names = study.metric_names or [f"objective_{i}" for i in range(len(directions))]
    with _collector_paused():
        rows = rows_from_trials(read_trials(study))
    attrs = dict(study.user_attrs)
    attach_confirmations(rows, attrs.get(CONFIRMATIONS_ATTR) or {})
    return StudyFrame(study.study_name, directions, list(names), attrs, rows)


def attach_confirmations(rows: list[dict], confirmations: dict) -> None:
    """Put `fastvlm-explore confirm`'s fresh-process medians (a study attribute, by trial
    number) on the rows; every row gets the columns, None where not confirmed."""
    for r in rows:
        c = confirmations.get(str(r["number"])) or {}
        r["confirmed_ttft_ms"] = c.get("median_ms")
        r["confirmed_spread"] = c.get("spread")
        r["confirmed_processes"] = c.get("processes")


@contextlib.contextmanager
def _collector_paused():
    """Reading a study allocates objects that all live on (~120,000 for 10,000 trials); the
    cycle collector would walk the growing heap again and again: a third of the dashboard's
    first load (benchmarks/bench_dashboard.py). Reference counting frees as usual meanwhile."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_frame(study_name: str | None, storage_url: str | None = None) -> StudyFrame:
    storage = open_storage(storage_url, create=False)
    return study_frame(load_study(study_name, storage))
