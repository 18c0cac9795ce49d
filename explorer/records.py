"""What a trial stores, and how studies are read back as flat rows (CLI, dashboard, exports).

Storage layout (schema version 1), all in standard Optuna storage:

study.user_attrs
    schema_version   1
    spec             the study spec (studies/*.toml, resolved) as a dict
    spec_raw         the study file's merged TOML as read (to re-create the spec exactly)
    fingerprint      the device/software `RuntimeInfo` dict of the first worker
    objectives       [{name, direction, unit, label}] in the order of the study's values
    constraints      {"max_ttft_ms": float | None, "max_memory_mb": float | None}
    proxy            {tier, name, measures, calibration_version, calibration_rmse{family}}
    references_skipped  {preset: why} for published points outside the space
    requeued         numbers of Ctrl-C-interrupted trials already enqueued again
    confirmations    {str(number): `confirm` record}, see explorer/confirm.py
trial.user_attrs (each key one JSON value)
    config           VlmConfig.to_dict()
    summary          one-line description
    counts           fastvlm.AnalyticCounts.to_dict()
    ttft             compact TTFT result (measure_ttft(...).to_dict() without raw samples)
    proxy            ProxyResult.to_dict(): tier, label, families{text_rich, general}, ...
    proxy_curve      [[step, value], ...] reported by tier 2 while it trains
    memory_mb        the value the memory constraint used; memory_source says how it was got
    constraints      {name: value}; <= 0 means satisfied (Optuna's convention)
    reference        preset name when the trial is a published FastVLM reference point
    repeat_of        the earlier trial with the same configuration (a skipped repeat)
    predicted_over_budget  explorer.predict.OverBudget dict: skipped as predicted over max_ttft_ms
    error            why a failed / pruned trial did not finish; traceback for unexpected ones
    fingerprint      the worker's fingerprint hash (to detect mixed devices)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .repeats import OVER_BUDGET_ATTR, REPEAT_ATTR

SCHEMA_VERSION = 1
TTFT_KEYS = ("ttft_ms", "encoder_ms", "projector_ms", "prefill_ms", "ttft_p90_ms", "ttft_ci_ms",
             "ttft_method", "additivity_error", "cold_ttft_ms", "n", "unstable", "extrapolated",
             "cached", "retimed", "peak_memory_mb", "peak_memory_source", "device",
             "device_name", "dtype", "threads", "versions", "fingerprint", "roofline", "elapsed_s",
             "preprocess_ms", "preprocess")


def compact_ttft(measured: dict) -> dict:
    """The TTFT result without raw samples (kept small for the storage), stage stats included."""
    out = {k: measured[k] for k in TTFT_KEYS if k in measured}
    out["stages"] = {
        name: {k: v for k, v in stage.items() if k != "detail"} | {
            "detail": {k: v for k, v in stage.get("detail", {}).items()
                       if k in ("fit", "channels_last", "channels_last_speedup")}}
        for name, stage in measured.get("stages", {}).items()}
    return out


@dataclass
class TrialRecord:
    config: dict
    summary: str
    counts: dict
    ttft: dict | None = None
    proxy: dict | None = None
    memory_mb: float | None = None
    memory_source: str = "predicted"
    constraints: dict = field(default_factory=dict)
    reference: str | None = None
    error: str | None = None
    fingerprint: str | None = None

    def to_user_attrs(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_user_attrs(cls, attrs: dict) -> TrialRecord | None:
        """The record, or None while a running trial has not stored all of it yet."""
        if not {"config", "summary", "counts"} <= attrs.keys():
            return None
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in attrs.items() if k in names})


# Flat row columns (what `rows_from_trials` returns; the dashboard and CSV exports use these).
FRAME_COLUMNS = {
    "number": "trial number", "state": "COMPLETE / FAIL / PRUNED / RUNNING / WAITING",
    "values": "objective values in study order (None unless COMPLETE)",
    "feasible": "all constraints <= 0", "reference": "published preset name or None",
    "summary": "one-line config", "config": "VlmConfig.to_dict()", "resolution": "px",
    "llm": "LLM name",
    "visual_tokens": "count", "encoder_variant": "fastvithd | fastvit",
    "depths": "e.g. 2-12-24-4-2", "widths": "e.g. 96-192-384-768-1536",
    "attention_stages": "count", "output_pool": "1 | 2 | 4", "dtype": "float32 | ...",
    "ttft_ms": "measured TTFT median", "encoder_ms": "", "projector_ms": "", "prefill_ms": "",
    "ttft_p90_ms": "", "ttft_ci_low_ms": "", "ttft_ci_high_ms": "", "n": "samples",
    "preprocess_ms": "image decode + resize to the resolution, not in TTFT (None: not recorded)",
    "unstable": "bool", "extrapolated": "bool", "ttft_method": "end_to_end | sum_of_stages",
    "proxy_text_rich": "proxy value", "proxy_text_rich_unc": "its uncertainty (1 sd)",
    "proxy_general": "", "proxy_general_unc": "", "proxy_tier": "0 | 1 | 2",
    "proxy_label": "e.g. proxy accuracy (tier 1); per family: family_label",
    "calibration_rmse_text_rich": "", "calibration_rmse_general": "",
    "memory_mb": "peak memory used by the constraint", "memory_source": "predicted | measured",
    "params_total": "count", "params_encoder": "", "params_llm": "",
    "gflops_encoder": "", "gflops_prefill": "", "gflops_total": "",
    "encoder_gflops_s": "achieved", "prefill_gflops_s": "", "peak_gflops_s": "matmul roof",
    "error": "failure reason", "datetime_complete": "ISO time",
    "confirmed_ttft_ms": "median TTFT of `confirm`'s fresh processes (None: not confirmed)",
    "confirmed_spread": "(max - min) / median of those processes' medians",
    "confirmed_processes": "how many fresh processes measured it",
}


def record_to_row(rec: TrialRecord) -> dict:
    """Flatten one record to `FRAME_COLUMNS` (minus the Optuna-level number/state/values)."""
    cfg, counts = rec.config, rec.counts or {}
    enc = cfg.get("encoder", {})
    row = {
        "reference": rec.reference, "summary": rec.summary, "config": cfg,
        "resolution": cfg.get("resolution"),
        "llm": cfg.get("llm", {}).get("name"), "visual_tokens": counts.get("visual_tokens"),
        "encoder_variant": enc.get("variant"), "depths": "-".join(map(str, enc.get("depths", []))),
        "widths": "-".join(map(str, enc.get("widths", []))),
        "attention_stages": enc.get("attention_stages"), "output_pool": enc.get("output_pool"),
        "dtype": cfg.get("dtype"), "memory_mb": rec.memory_mb, "memory_source": rec.memory_source,
        "params_total": counts.get("params", {}).get("total"),
        "params_encoder": counts.get("params", {}).get("encoder"),
        "params_llm": counts.get("params", {}).get("llm"), "error": rec.error,
    }
    for k in ("encoder", "prefill", "total"):
        row[f"gflops_{k}"] = counts.get("gflops", {}).get(k)
    t = rec.ttft or {}
    for k in ("ttft_ms", "encoder_ms", "projector_ms", "prefill_ms", "ttft_p90_ms", "n",
              "unstable", "extrapolated", "ttft_method", "preprocess_ms"):
        row[k] = t.get(k)
    ci = t.get("ttft_ci_ms") or [None, None]
    row["ttft_ci_low_ms"], row["ttft_ci_high_ms"] = ci[0], ci[1]
    roof = t.get("roofline") or {}
    for k in ("encoder_gflops_s", "prefill_gflops_s", "peak_gflops_s"):
        row[k] = roof.get(k)
    p = rec.proxy or {}
    row["proxy_tier"], row["proxy_label"] = p.get("tier"), p.get("label")
    for fam in ("text_rich", "general"):
        f = p.get("families", {}).get(fam, {})
        row[f"proxy_{fam}"], row[f"proxy_{fam}_unc"] = f.get("value"), f.get("uncertainty")
        row[f"calibration_rmse_{fam}"] = (p.get("calibration_rmse") or {}).get(fam)
    return row


def rows_from_trials(trials) -> list[dict]:
    """Flat rows from Optuna `FrozenTrial`s (any state), in trial-number order."""
    rows = []
    for t in sorted(trials, key=lambda t: t.number):
        rec = TrialRecord.from_user_attrs(t.user_attrs)
        row = record_to_row(rec) if rec else {"error": t.user_attrs.get("error")}
        constraints = t.user_attrs.get("constraints") or {}
        row.update(
            number=t.number, state=t.state.name,
            values=list(t.values) if t.values is not None else None,
            feasible=all(v <= 0 for v in constraints.values()),
            datetime_complete=t.datetime_complete.isoformat() if t.datetime_complete else None)
        if REPEAT_ATTR in t.user_attrs:  # explorer/repeats.py: not evaluated again
            row[REPEAT_ATTR] = t.user_attrs[REPEAT_ATTR]
        if OVER_BUDGET_ATTR in t.user_attrs:  # explorer/predict.py: not measured
            row[OVER_BUDGET_ATTR] = t.user_attrs[OVER_BUDGET_ATTR]
        rows.append(row)
    return rows
