"""Measure time-to-first-token (TTFT) of a `VlmConfig` on this device.

    fastvlm-explore measure --preset fastvlm-0.5b --resolution 512 --json

TTFT is the time from a preprocessed pixel tensor on the device to the first token id on the
host: encoder -> projector -> Qwen2 forward over [visual tokens ++ text prompt] keeping the
logits of the last position only -> argmax -> `.item()`. Image decode and resize are not part
of it: they are timed in the encoder's rounds and reported beside it (`preprocess.py`). The
three stages are timed separately and, when all are built in this process, end to end in the
same interleaved rounds (`protocol.py`), so their sum can be checked against the whole.

Components (encoder at a resolution, projector at a token count, prefill at a sequence length)
are cached per device/software fingerprint (`cache.py`). An LLM that would not fit the memory
budget is timed with 1, 2, 4, 8 ... layers and its prefill extrapolated by t(L) = a + b*L; such
results say `extrapolated`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .analytic import AnalyticCounts, analyze
from .build import TORCH_DTYPES, build_vlm
from .preprocess import SOURCE_LABEL, STEPS, Preprocessor
from .cache import LatencyCache
from .config import VlmConfig
from .extrapolate import LayerPlan, fit_layers, plan_layers
from .protocol import Item, ProtocolResult, ProtocolSettings, run_protocol
from .runtime import MeasureError, RuntimeInfo, setup_runtime
from .stats import Latency

COMPONENTS = ("encoder", "projector", "prefill")
EXTRAPOLATE = ("auto", "always", "never")
CHANNELS_LAST = ("auto", "on", "off")
MEMORY_MODES = ("predicted", "measured", "auto")


@dataclass(frozen=True)
class MeasureSettings:
    device: str = "auto"
    threads: int | None = None
    budget_s: float = 30.0  # per group of components measured together
    min_n: int = 7
    max_n: int = 30
    target_ci: float = 0.025
    extrapolate: str = "auto"  # auto: only when the full LLM exceeds the memory budget
    memory_budget_mb: float | None = None  # default: 40% of the available memory
    channels_last: str = "auto"  # auto: pick the faster encoder memory format during warm-up
    memory: str = "predicted"  # peak memory: predicted, measured (fresh child process) or auto
    use_cache: bool = True
    # A cached timing flagged unstable is measured again, once per process (per cache object),
    # and the new timing replaces it: one noisy moment must not set every later trial that
    # shares the component (sweeps turn this on; `measure` serves the cache as it is).
    retry_unstable: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name, valid in (("extrapolate", EXTRAPOLATE), ("channels_last", CHANNELS_LAST),
                            ("memory", MEMORY_MODES)):
            if getattr(self, name) not in valid:
                raise ValueError(f"{name} {getattr(self, name)!r} is invalid; valid: "
                                 f"{', '.join(valid)}")
        if self.budget_s <= 0:
            raise ValueError(f"budget_s {self.budget_s} is invalid; must be > 0")

    def protocol(self) -> ProtocolSettings:
        return ProtocolSettings(budget_s=self.budget_s, min_n=self.min_n, max_n=self.max_n,
                                target_ci=self.target_ci, seed=self.seed)


@dataclass
class StageResult:
    """One stage's statistics and where they came from (measured / cached / extrapolated)."""

    median_ms: float
    p90_ms: float
    ci_ms: tuple[float, float]
    n: int
    iqr_rel: float
    unstable: bool
    source: str
    cold_ms: float | None = None
    detail: dict = field(default_factory=dict)
    min_ms: float | None = None  # None when extrapolated (a fit has no fastest call)
    outliers: int | None = None  # Tukey fences; counted, never removed

    @classmethod
    def from_latency(cls, lat: Latency, source: str, unstable: bool, cold_ms=None, **detail):
        return cls(lat.median_ms, lat.p90_ms, (lat.ci_low_ms, lat.ci_high_ms), lat.n,
                   lat.iqr_rel, unstable, source, cold_ms, detail, lat.min_ms, lat.outliers)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"ci_ms": list(self.ci_ms)}


@dataclass
class TTFTResult:
    cfg: VlmConfig
    runtime: RuntimeInfo
    counts: AnalyticCounts
    stages: dict[str, StageResult]
    ttft_ms: float
    ttft_p90_ms: float
    ttft_ci_ms: tuple[float, float]
    ttft_min_ms: float | None  # fastest end-to-end call, or the sum of the stages' fastest
    ttft_method: str  # end_to_end | sum_of_stages
    additivity_error: float | None
    cold_ttft_ms: float | None
    n: int
    unstable: bool
    extrapolated: bool
    cached: list[str]
    peak_memory_mb: float
    peak_memory_source: str
    roofline: dict
    elapsed_s: float
    protocol: dict
    retimed: list[str] = field(default_factory=list)  # cached but unstable: measured again

    @property
    def preprocess(self) -> dict | None:
        """Image decode + resize to this resolution (`preprocess.py`), timed in the encoder's
        rounds; not part of TTFT. None for an encoder timing cached before it was recorded."""
        pre = self.stages["encoder"].detail.get("preprocess")
        if pre is None:
            return None
        lat = pre["latency"]
        return {"median_ms": lat["median_ms"], "p90_ms": lat["p90_ms"], "n": lat["n"],
                "image": pre["image"], "steps": pre["steps"], "in_ttft": False}

    @property
    def stage_ms(self) -> dict[str, float]:
        return {k: v.median_ms for k, v in self.stages.items()}

    def to_dict(self) -> dict:
        """The JSON form printed by `measure --json` and stored with every trial."""
        c = self.counts
        return {
            "config": self.cfg.to_dict(), "summary": self.cfg.summary(),
            "ttft_ms": self.ttft_ms, "encoder_ms": self.stages["encoder"].median_ms,
            "projector_ms": self.stages["projector"].median_ms,
            "prefill_ms": self.stages["prefill"].median_ms, "ttft_p90_ms": self.ttft_p90_ms,
            "ttft_ci_ms": list(self.ttft_ci_ms), "ttft_min_ms": self.ttft_min_ms,
            "ttft_method": self.ttft_method,
            "additivity_error": self.additivity_error, "cold_ttft_ms": self.cold_ttft_ms,
            "n": self.n, "unstable": self.unstable, "extrapolated": self.extrapolated,
            "visual_tokens": c.visual_tokens, "seq_len": c.seq_len, "params": c.params,
            "gflops": c.gflops, "peak_memory_mb": self.peak_memory_mb,
            "peak_memory_source": self.peak_memory_source,
            "predicted_peak_memory_mb": round(c.predicted_peak_mb, 1),
            "weight_mb": c.weight_bytes / 2**20, "kv_cache_mb": c.kv_cache_bytes / 2**20,
            "device": self.runtime.device, "device_name": self.runtime.device_name,
            "dtype": self.cfg.dtype, "threads": self.runtime.threads,
            "flush_denormal": self.runtime.flush_denormal, "versions": self.runtime.versions,
            "fingerprint": self.runtime.fingerprint, "cached": self.cached,
            "retimed": self.retimed,
            "preprocess_ms": (self.preprocess or {}).get("median_ms"),
            "preprocess": self.preprocess,
            "stages": {k: v.to_dict() for k, v in self.stages.items()},
            "roofline": self.roofline, "elapsed_s": self.elapsed_s, "protocol": self.protocol,
        }


# Part of every component's cache key. Bump it when what a stored timing means changes, so that
# older entries are measured again instead of served (2: an extrapolated prefill's CI holds its
# median; format-1 entries could have the median outside the CI).
CACHE_FORMAT = 2


def component_keys(cfg: VlmConfig, settings: MeasureSettings, plan: LayerPlan) -> dict[str, str]:
    enc = dataclasses.asdict(cfg.encoder)
    llm = dataclasses.asdict(cfg.llm)
    llm.pop("name")
    parts = {
        "encoder": {"encoder": enc, "resolution": cfg.resolution, "dtype": cfg.dtype,
                    "channels_last": settings.channels_last},
        "projector": {"kind": cfg.projector.kind, "c_in": cfg.encoder.out_channels,
                      "d": cfg.llm.hidden_size, "tokens": cfg.visual_tokens, "dtype": cfg.dtype},
        "prefill": {"llm": llm, "visual_tokens": cfg.visual_tokens,
                    "prompt_tokens": cfg.prompt_tokens, "dtype": cfg.dtype,
                    "method": "extrapolated" if plan.extrapolate else "full"},
    }
    return {k: json.dumps(v | {"format": CACHE_FORMAT}, sort_keys=True) for k, v in parts.items()}


def measure_ttft(cfg: VlmConfig, settings: MeasureSettings = MeasureSettings(),
                 cache: LatencyCache | None = None,
                 progress: Callable[[str, float], None] | None = None) -> TTFTResult:
    """Measure (or recall from `cache`) each stage of `cfg` and compose TTFT; see module doc."""
    start = time.perf_counter()
    rt = setup_runtime(settings.device, settings.threads)
    counts = analyze(cfg)
    plan = plan_layers(cfg, settings.extrapolate, settings.memory_budget_mb, rt.device)
    keys = component_keys(cfg, settings, plan)
    fp = rt.fingerprint
    cached: dict[str, dict] = {}
    fresh: dict[str, dict] = {}
    retimed: list[str] = []
    protocol_info: dict = {}
    try:  # claims taken here are released however this ends (Ctrl-C while waiting included)
        if cache is not None and settings.use_cache:
            for comp in COMPONENTS:
                payload = cache.get(fp, comp, keys[comp])
                if (payload is not None and payload.get("unstable") and settings.retry_unstable
                        and cache.first_retry(fp, comp, keys[comp])
                        and cache.claim(fp, comp, keys[comp])):
                    payload = None  # measured again below; the new timing replaces it
                    retimed.append(comp)
                elif payload is None and not cache.claim(fp, comp, keys[comp]):
                    payload = cache.wait_for(fp, comp, keys[comp])  # another process measures
                if payload is not None:
                    cached[comp] = payload
        missing = [c for c in COMPONENTS if c not in cached]
        if missing:
            fresh, protocol_info = _measure_components(cfg, missing, plan, rt, settings, progress)
            _flag_if_not_additive(fresh, protocol_info)
            if cache is not None:
                for comp in missing:
                    cache.put(fp, comp, keys[comp], fresh[comp])
    finally:
        if cache is not None:
            for comp in COMPONENTS:  # only this process's own claims go
                cache.release(fp, comp, keys[comp])
    stages = {c: _stage(cached[c], "cached") if c in cached else _stage(fresh[c], None)
              for c in COMPONENTS}
    result = _compose(cfg, rt, counts, stages, fresh, plan, sorted(cached), protocol_info)
    result.retimed = retimed
    result.roofline = roofline(result, cache, settings)
    _attach_memory(result, settings)
    result.elapsed_s = time.perf_counter() - start
    return result


class _EncoderFormats:
    """The encoder as contiguous and channels_last; the warm-up decides which one is timed."""

    def __init__(self, encoder, pixels, mode: str, device: str):
        self.plain = (encoder, pixels)
        self.cl = None
        if mode != "off" and device != "mps":
            cl_encoder = encoder if mode == "on" else copy.deepcopy(encoder)
            self.cl = (cl_encoder.to(memory_format=torch.channels_last),
                       pixels.contiguous(memory_format=torch.channels_last))
        self.use_cl = mode == "on" and self.cl is not None
        self.speedup: float | None = None  # contiguous / channels_last warm-up time

    def __call__(self):
        encoder, pixels = self.cl if self.use_cl else self.plain
        return encoder(pixels)

    def call_cl(self):
        encoder, pixels = self.cl
        return encoder(pixels)

    def decide(self, warm: dict[str, list[float]]) -> None:
        if "encoder_cl" in warm:
            plain, cl = np.median(warm["encoder"][-3:]), np.median(warm["encoder_cl"][-3:])
            self.speedup = float(plain / cl)
            self.use_cl = bool(cl < plain)
            if not self.use_cl:
                self.cl = None  # free the copy


def _measure_components(cfg, missing, plan, rt, settings, progress):
    """Build the missing stages and time them together, interleaved, with a canary."""
    device, dtype = rt.device, TORCH_DTYPES[cfg.dtype]
    layers = plan.layers[-1] if plan.extrapolate else None
    model = build_vlm(cfg, parts=tuple(missing), llm_layers=layers, device=device,
                      seed=settings.seed)
    gen = torch.Generator().manual_seed(settings.seed)
    R, T = cfg.resolution, cfg.visual_tokens
    pixels = torch.randn(1, 3, R, R, generator=gen).to(device, dtype)
    tokens = torch.randn(1, T, cfg.encoder.out_channels, generator=gen).to(device, dtype)
    visual = torch.randn(1, T, cfg.llm.hidden_size, generator=gen).to(device, dtype)
    ids = model.prompt_ids(device)
    items: list[Item] = []
    encoder = None
    if model.encoder is not None:
        encoder = _EncoderFormats(model.encoder, pixels, settings.channels_last, device)
        items.append(Item("encoder", encoder))
        if settings.channels_last == "auto" and encoder.cl is not None:
            items.append(Item("encoder_cl", encoder.call_cl))
        # timed in the same rounds, stored with the encoder (both depend on the resolution
        # only), never added to TTFT
        items.append(Item("preprocess", Preprocessor(R, device, dtype), primary=False))
    if model.projector is not None:
        items.append(Item("projector", lambda: model.projector(tokens)))
    pf = model.prefill
    if pf is not None and plan.extrapolate:
        items += [Item(f"prefill@{L}", lambda L=L: _run_layers(pf, L, visual, ids))
                  for L in plan.layers]
    elif pf is not None:
        items.append(Item("prefill", lambda: pf(visual, ids)))
    if len(missing) == len(COMPONENTS) and not plan.extrapolate:
        items.append(Item("ttft", lambda: pf(model.projector(encoder()), ids)))

    def after_warmup(warm: dict[str, list[float]]) -> list[Item]:
        if encoder is not None:
            encoder.decide(warm)
        return [it for it in items if it.name != "encoder_cl"]

    with torch.inference_mode():
        res = run_protocol(items, device, settings.protocol(), progress, on_warmup=after_warmup)
    fresh = {}
    if encoder is not None:
        fresh["encoder"] = _payload(res, "encoder", channels_last=encoder.use_cl,
                                    channels_last_speedup=encoder.speedup,
                                    preprocess=_preprocess_payload(res))
    if model.projector is not None:
        fresh["projector"] = _payload(res, "projector")
    if pf is not None:
        fresh["prefill"] = (_extrapolated_payload(res, plan) if plan.extrapolate
                            else _payload(res, "prefill"))
    if "ttft" in res.stats:
        fresh["ttft"] = _payload(res, "ttft")
    return fresh, res.to_dict()


def _run_layers(prefill, layers: int, visual, ids) -> int:
    prefill.num_layers = layers
    return prefill(visual, ids)


def _payload(res: ProtocolResult, name: str, **extra) -> dict:
    return {"latency": res.stats[name].to_dict(), "cold_ms": res.cold_ms[name],
            "unstable": res.item_unstable(name), "canary_drift": res.canary_drift,
            "measured_at": time.time(), **extra}


def _preprocess_payload(res: ProtocolResult) -> dict:
    return {"latency": res.stats["preprocess"].to_dict(), "image": SOURCE_LABEL, "steps": STEPS}


def _extrapolated_payload(res: ProtocolResult, plan: LayerPlan) -> dict:
    names = [f"prefill@{L}" for L in plan.layers]
    fit = fit_layers({L: res.stats[n] for L, n in zip(plan.layers, names)}, plan.full_layers)
    return {"extrapolated": fit, "cold_ms": None, "canary_drift": res.canary_drift,
            "unstable": any(res.item_unstable(n) for n in names), "measured_at": time.time(),
            "plan_reason": plan.reason,
            "layer_latency": {n: res.stats[n].to_dict() for n in names}}


def _stage(payload: dict, source: str | None) -> StageResult:
    if "extrapolated" in payload:
        fit = payload["extrapolated"]
        return StageResult(fit["median_ms"], fit["p90_ms"], tuple(fit["ci_ms"]), fit["n"],
                           fit["iqr_rel"], payload["unstable"], source or "extrapolated",
                           None, {"fit": fit})
    lat = Latency.from_dict(payload["latency"])
    detail = {k: payload[k] for k in ("channels_last", "channels_last_speedup", "preprocess")
              if k in payload}
    return StageResult.from_latency(lat, source or "measured", payload["unstable"],
                                    payload.get("cold_ms"), **detail)


NOT_ADDITIVE = 0.10  # stages off their end-to-end sum by more: the timing is not trustworthy
# ... unless the gap is within the fixed cost of timing three calls instead of one (sync, Python
# dispatch): a tiny model's 1 ms stages sum to +20% of its 5 ms end to end on a quiet machine
CALL_OVERHEAD_MS = 2.0


def _flag_if_not_additive(fresh: dict, protocol_info: dict) -> None:
    """Stages that do not add up to the end-to-end time (within NOT_ADDITIVE) were timed under
    changing conditions: flag them unstable, in the result and in the cache (so `cache clear
    --unstable` finds them), whatever their own spread said."""
    if "ttft" not in fresh or not all(c in fresh for c in COMPONENTS):
        return
    total = sum(_stage(fresh[c], None).median_ms for c in COMPONENTS)
    e2e = _stage(fresh["ttft"], None).median_ms
    error = total / e2e - 1.0
    if abs(error) > NOT_ADDITIVE and abs(total - e2e) > CALL_OVERHEAD_MS:
        protocol_info["not_additive"] = error
        for payload in fresh.values():
            payload["unstable"] = True


def _compose(cfg, rt, counts, stages, fresh, plan, cached, protocol_info) -> TTFTResult:
    total = sum(s.median_ms for s in stages.values())
    if "ttft" in fresh:
        e2e = _stage(fresh["ttft"], None)
        ttft, p90, ci, cold = e2e.median_ms, e2e.p90_ms, e2e.ci_ms, e2e.cold_ms
        method, additivity = "end_to_end", total / e2e.median_ms - 1.0
        n, fastest = e2e.n, e2e.min_ms
    else:  # stages from the cache or extrapolation: TTFT is their sum (additivity: benchmarks/)
        ttft, p90, method, additivity = total, sum(s.p90_ms for s in stages.values()), \
            "sum_of_stages", None
        ci = (sum(s.ci_ms[0] for s in stages.values()), sum(s.ci_ms[1] for s in stages.values()))
        colds = [s.cold_ms for s in stages.values()]
        cold = sum(colds) if all(c is not None for c in colds) else None
        n = min(s.n for s in stages.values())
        mins = [s.min_ms for s in stages.values()]
        fastest = sum(mins) if all(m is not None for m in mins) else None
    return TTFTResult(
        cfg=cfg, runtime=rt, counts=counts, stages=stages, ttft_ms=ttft, ttft_p90_ms=p90,
        ttft_ci_ms=tuple(ci), ttft_min_ms=fastest, ttft_method=method, additivity_error=additivity,
        cold_ttft_ms=cold, n=n, unstable=any(s.unstable for s in stages.values()),
        extrapolated="fit" in stages["prefill"].detail, cached=cached,
        peak_memory_mb=counts.predicted_peak_mb, peak_memory_source="predicted",
        roofline={}, elapsed_s=0.0, protocol=protocol_info)


def roofline(result: TTFTResult, cache: LatencyCache | None, settings: MeasureSettings) -> dict:
    """Achieved GFLOP/s per stage vs the device's measured matmul peak (sanity: must be below)."""
    from .peak import matmul_peak_gflops

    peak = matmul_peak_gflops(result.runtime, result.cfg.dtype, cache)
    out = {"peak_gflops_s": peak}
    for stage in ("encoder", "prefill"):
        gflop = result.counts.gflops[stage]
        ms = result.stages[stage].median_ms
        out[f"{stage}_gflops_s"] = gflop / (ms / 1e3) if ms > 0 else None
        out[f"{stage}_fraction_of_peak"] = (out[f"{stage}_gflops_s"] or 0) / peak if peak else None
    out["above_peak"] = any((out[f"{s}_fraction_of_peak"] or 0) > 1.05
                            for s in ("encoder", "prefill"))
    return out


def _attach_memory(result: TTFTResult, settings: MeasureSettings) -> None:
    mode = settings.memory
    if mode == "auto":
        mode = "predicted" if result.extrapolated else "measured"
    if mode == "measured":
        if result.extrapolated:
            raise MeasureError("peak memory cannot be measured for an extrapolated LLM (the full "
                               "model does not fit); use --memory predicted")
        from .memory import measure_peak_memory

        mem = measure_peak_memory(result.cfg, result.runtime.device, result.runtime.threads)
        result.peak_memory_mb = mem["peak_mb"]
        result.peak_memory_source = mem["method"]
        result.protocol["memory"] = mem


__all__ = ["MeasureError", "MeasureSettings", "TTFTResult", "measure_ttft"]
