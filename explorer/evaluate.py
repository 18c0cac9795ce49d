"""One configuration -> one `TrialRecord`: pre-filter, measure TTFT, score the proxy.

The composition step of the architecture (design.md section 2), free of Optuna so it can be
tested and replayed directly. Raises `Infeasible` when the analytic pre-filter rejects the
configuration before anything is built.
"""

from __future__ import annotations

import time

from fastvlm.analytic import analyze, llm_params
from fastvlm.cache import LatencyCache
from fastvlm.config import DTYPE_BYTES, VlmConfig
from fastvlm.measure import measure_ttft
from fastvlm.presets import resolve_llm
from fastvlm.runtime import RuntimeInfo

from .objectives import get_objective
from .records import TrialRecord, compact_ttft, record_to_row
from .spec import StudySpec


class Infeasible(ValueError):
    """Rejected by the analytic pre-filter (never built); the message says why."""


def prefilter(cfg: VlmConfig, spec: StudySpec) -> dict:
    """Analytic checks before building (impossible shapes already failed in `VlmConfig`);
    returns the analytic counts."""
    counts = analyze(cfg)
    mem = counts.predicted_peak_mb
    if spec.max_memory_mb is not None and mem > spec.max_memory_mb:
        raise Infeasible(f"predicted peak memory {mem:,.0f} MB > max_memory_mb "
                         f"{spec.max_memory_mb:,.0f} (pre-filter, not built)")
    return counts.to_dict()


def never_fitting_llms(spec: StudySpec) -> list[str]:
    """The space's LLM choices whose weights alone exceed max_memory_mb: the pre-filter rejects
    every sample that takes one, so they only spend trials. Said before a sweep starts."""
    if spec.max_memory_mb is None:
        return []
    notes = []
    for llm in spec.space.llm.grid():
        for dtype in spec.space.dtype.grid():
            mb = llm_params(resolve_llm(llm)) * DTYPE_BYTES[dtype] / 2**20
            if mb > spec.max_memory_mb:
                notes.append(f"llm {llm} in {dtype} can never meet max_memory_mb "
                             f"{spec.max_memory_mb:,.0f}: its weights alone are {mb:,.0f} MB, so "
                             "the pre-filter rejects every such sample (a trial spent, nothing "
                             "built)")
    return notes


def evaluate_config(cfg: VlmConfig, spec: StudySpec, cache: LatencyCache | None,
                    runtime: RuntimeInfo, reference: str | None = None,
                    proxy_report=None) -> tuple[TrialRecord, list[float]]:
    """Measure and score `cfg`; returns the record and the objective values in spec order."""
    from fastvlm.proxy import evaluate as evaluate_proxy

    counts = prefilter(cfg, spec)
    t0 = time.perf_counter()
    measured = measure_ttft(cfg, spec.measure_settings(), cache).to_dict()
    options = {"budget_s": spec.proxy_budget_s, "report": proxy_report} \
        if spec.proxy_tier == 2 else {}
    proxy = evaluate_proxy(cfg, tier=spec.proxy_tier, **options).to_dict()
    rec = TrialRecord(
        config=cfg.to_dict(), summary=cfg.summary(), counts=counts,
        ttft=compact_ttft(measured) | {"wall_s": time.perf_counter() - t0}, proxy=proxy,
        memory_mb=measured["peak_memory_mb"], memory_source=measured["peak_memory_source"],
        reference=reference, fingerprint=runtime.fingerprint)
    rec.constraints = constraint_values(spec, rec)
    row = record_to_row(rec)
    values = [get_objective(name).value(row) for name in spec.objectives]
    if any(v is None for v in values):
        missing = [n for n, v in zip(spec.objectives, values) if v is None]
        raise RuntimeError(f"objective(s) {missing} have no value for {cfg.summary()}")
    return rec, values


def constraint_values(spec: StudySpec, rec: TrialRecord) -> dict[str, float]:
    """Optuna convention: value <= 0 means satisfied."""
    out = {}
    if spec.max_ttft_ms is not None:
        out["max_ttft_ms"] = rec.ttft["ttft_ms"] - spec.max_ttft_ms
    if spec.max_memory_mb is not None:
        out["max_memory_mb"] = rec.memory_mb - spec.max_memory_mb
    return out
