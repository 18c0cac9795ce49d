"""Analytic counts for a `VlmConfig`: parameters, FLOPs, tokens, weight / KV-cache / peak memory.

    python -c "from fastvlm import preset, analyze; print(analyze(preset('fastvlm-0.5b')))"

The one place these numbers are computed. Pure Python (no torch), so the explorer can pre-filter
thousands of samples per second. Parameter counts are exact for the inference (re-parameterised)
form and are checked against built models in tests/test_analytic.py. FLOPs count every matmul
and convolution (2 per multiply-add), including attention's QK^T and AV, which
`torch.utils.flop_counter.FlopCounterMode` misses on CPU; elementwise ops, norms and softmax are
not counted. Memory figures are predictions and are labelled so.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import DTYPE_BYTES, EncoderConfig, LLMConfig, VlmConfig


@dataclass(frozen=True)
class _Cost:
    params: int = 0
    flops: float = 0.0

    def __add__(self, other: _Cost) -> _Cost:
        return _Cost(self.params + other.params, self.flops + other.flops)


def _conv(cin: int, cout: int, k: int, groups: int = 1, bias: bool = True,
          out_hw: int = 0) -> _Cost:
    weights = cout * (cin // groups) * k * k
    return _Cost(weights + (cout if bias else 0), 2.0 * weights * out_hw)


def _make_divisible(v: float, divisor: int) -> int:
    # timm.layers.make_divisible with round_limit=0 (what SqueezeExcite uses)
    return max(divisor, int(v + divisor / 2) // divisor * divisor)


def _squeeze_excite(channels: int, rd_ratio: float, rd_divisor: int) -> _Cost:
    rd = _make_divisible(channels * rd_ratio, rd_divisor)
    return _conv(channels, rd, 1, out_hw=1) + _conv(rd, channels, 1, out_hw=1)


def _conv_mlp(w: int, ratio: float, n: int) -> _Cost:
    hidden = int(w * ratio)
    depthwise = _conv(w, w, 7, groups=w, bias=False, out_hw=n) + _Cost(2 * w)  # + BatchNorm
    return depthwise + _conv(w, hidden, 1, out_hw=n) + _conv(hidden, w, 1, out_hw=n)


def _attention(w: int, n: int) -> _Cost:
    qkv = _conv(w, 3 * w, 1, bias=False, out_hw=n)
    proj = _conv(w, w, 1, out_hw=n)
    scores_and_mix = _Cost(0, 2.0 * 2 * n * n * w)  # QK^T and AV over all heads
    return qkv + proj + scores_and_mix


def encoder_cost(enc: EncoderConfig, resolution: int) -> tuple[int, float]:
    """(params, FLOPs) of the re-parameterised encoder's `forward_features` at `resolution`."""
    w0 = enc.widths[0]
    side = resolution // 2
    cost = _conv(3, w0, 3, out_hw=side * side)  # stem: 3x3 /2, depthwise 3x3 /2, 1x1
    side //= 2
    cost += _conv(w0, w0, 3, groups=w0, out_hw=side * side) + _conv(w0, w0, 1, out_hw=side * side)
    prev = w0
    attention = set(enc.attention_stage_indices)
    for i, (depth, w, ratio) in enumerate(zip(enc.depths, enc.widths, enc.mlp_ratios)):
        if i > 0:  # PatchEmbed: 7x7 grouped conv /2 (+SE), then 1x1
            side //= 2
            cost += _conv(prev, w, 7, groups=prev, out_hw=side * side)
            if enc.se_downsamples[i]:
                cost += _squeeze_excite(w, 0.25, 8)
            cost += _conv(w, w, 1, out_hw=side * side)
        n = side * side
        if i in attention:
            cost += _conv(w, w, 7, groups=w, out_hw=n)  # RepCPE before attention stages
            block = _Cost(2 * w) + _attention(w, n) + _Cost(w) + _conv_mlp(w, ratio, n) + _Cost(w)
        else:
            block = _conv(w, w, 3, groups=w, out_hw=n) + _conv_mlp(w, ratio, n) + _Cost(w)
        cost += _Cost(block.params * depth, block.flops * depth)
        prev = w
    n = side * side
    cost += _conv(prev, 2 * prev, 3, groups=prev, out_hw=n) + _squeeze_excite(2 * prev, 1 / 16, 1)
    return cost.params, cost.flops


def projector_cost(kind: str, c_in: int, d: int, tokens: int) -> tuple[int, float]:
    cost = _conv(c_in, d, 1, out_hw=tokens)
    if kind == "mlp2x_gelu":
        cost += _conv(d, d, 1, out_hw=tokens)
    return cost.params, cost.flops


def llm_params(llm: LLMConfig) -> int:
    d, kv = llm.hidden_size, llm.kv_dim
    attention = (d * d + d) + 2 * (d * kv + kv) + d * d  # q, k, v with bias; o without
    layer = attention + 3 * d * llm.intermediate_size + 2 * d  # SwiGLU MLP + 2 RMSNorms
    embeddings = llm.vocab_size * d * (1 if llm.tie_embeddings else 2)
    return llm.num_layers * layer + embeddings + d  # + final norm


def prefill_flops(llm: LLMConfig, seq_len: int, num_layers: int | None = None) -> float:
    """FLOPs of one prefill over `seq_len` tokens, logits for the last position only."""
    d, kv, s = llm.hidden_size, llm.kv_dim, seq_len
    projections = 2.0 * s * (2 * d * d + 2 * d * kv)
    attention = 2.0 * 2 * s * s * d  # full QK^T and AV (SDPA computes the causal square)
    mlp = 2.0 * s * 3 * d * llm.intermediate_size
    layers = llm.num_layers if num_layers is None else num_layers
    return layers * (projections + attention + mlp) + 2.0 * d * llm.vocab_size


@dataclass(frozen=True)
class AnalyticCounts:
    """Derived numbers for one configuration. Memory figures are predicted, not measured."""

    params: dict  # encoder / projector / llm / total
    gflops: dict  # encoder / projector / prefill / total
    visual_tokens: int
    seq_len: int
    weight_bytes: int
    kv_cache_bytes: int
    activation_bytes: int
    predicted_peak_bytes: int

    @property
    def predicted_peak_mb(self) -> float:
        return self.predicted_peak_bytes / 2**20

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["predicted_peak_mb"] = round(self.predicted_peak_mb, 1)
        return d


def analyze(cfg: VlmConfig) -> AnalyticCounts:
    """All analytic counts of `cfg` (microseconds; safe to call per Optuna sample)."""
    enc, llm = cfg.encoder, cfg.llm
    enc_params, enc_flops = encoder_cost(enc, cfg.resolution)
    proj_params, proj_flops = projector_cost(cfg.projector.kind, enc.out_channels,
                                             llm.hidden_size, cfg.visual_tokens)
    lm_params = llm_params(llm)
    pre_flops = prefill_flops(llm, cfg.seq_len)
    nbytes = DTYPE_BYTES[cfg.dtype]
    total_params = enc_params + proj_params + lm_params
    kv = 2 * llm.num_layers * cfg.seq_len * llm.kv_dim * nbytes
    activations = _activation_elements(cfg) * nbytes
    weights = total_params * nbytes
    return AnalyticCounts(
        params={"encoder": enc_params, "projector": proj_params, "llm": lm_params,
                "total": total_params},
        gflops={"encoder": enc_flops / 1e9, "projector": proj_flops / 1e9,
                "prefill": pre_flops / 1e9,
                "total": (enc_flops + proj_flops + pre_flops) / 1e9},
        visual_tokens=cfg.visual_tokens, seq_len=cfg.seq_len, weight_bytes=weights,
        kv_cache_bytes=kv, activation_bytes=activations,
        predicted_peak_bytes=weights + kv + activations,
    )


def _activation_elements(cfg: VlmConfig) -> int:
    """Largest set of simultaneously live activations (elements), encoder or LLM, batch 1."""
    enc, llm = cfg.encoder, cfg.llm
    side = cfg.resolution // 4
    peak = 3 * cfg.resolution**2 + enc.widths[0] * (cfg.resolution // 2) ** 2 * 2  # input + stem
    for i, (w, ratio) in enumerate(zip(enc.widths, enc.mlp_ratios)):
        n = (side >> i) ** 2
        # block input + residual + two MLP hidden maps (fc1 output and its GELU)
        peak = max(peak, n * (2 * w + 2 * int(w * ratio)) + (3 * n * w if i in
                                                             enc.attention_stage_indices else 0))
    s, d = cfg.seq_len, llm.hidden_size
    # residual + normed hidden + q/k/v + gate/up/act of the SwiGLU MLP + last-token logits
    llm_peak = s * (2 * d + d + 2 * llm.kv_dim + 3 * llm.intermediate_size) + llm.vocab_size
    return max(peak, llm_peak)
