"""Frozen, validated configuration of a FastVLM-style model: encoder + projector + LLM.

    python -c "from fastvlm import preset; print(preset('fastvlm-0.5b').summary())"

Every axis the explorer sweeps is a typed field here; every derived number (stride, visual tokens,
sequence length) is a property. Nothing in this module imports torch, so the explorer's
pre-filter and the dashboard can use it cheaply. Invalid values raise `ConfigError` (a
`ValueError`) at construction, naming the value and the valid options.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

DTYPES = ("float32", "bfloat16", "float16")
# Where a configuration is measured (`fastvlm.runtime.resolve_device`); defined here, torch-free,
# so that the CLI's parsers can offer the choices without importing torch.
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
# Encoder families, each a timm FastViT variant that supplies the norm / stem / SE defaults.
ENCODER_VARIANTS = {"fastvithd": "fastvit_mci3", "fastvit": "fastvit_mci2"}
PROJECTOR_KINDS = ("mlp2x_gelu", "linear")
ATTENTION_HEAD_DIM = 32  # timm FastViT Attention's fixed head size
OUTPUT_POOLS = (1, 2, 4)  # extra average pooling of the encoder's output grid
MIN_STAGES, MAX_STAGES = 3, 6


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the value and the valid options."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _as_tuple(values, kind, name: str) -> tuple:
    try:
        return tuple(kind(v) for v in values)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a list of {kind.__name__}s, got {values!r}") from None


@dataclass(frozen=True)
class EncoderConfig:
    """A FastViT-family hybrid encoder (RepMixer stages, then attention stages).

    Defaults are FastViTHD (timm `fastvit_mci3`): 5 stages, total stride 64, 3072-d output.
    """

    variant: str = "fastvithd"
    depths: tuple[int, ...] = (2, 12, 24, 4, 2)
    widths: tuple[int, ...] = (96, 192, 384, 768, 1536)
    mlp_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0, 4.0)
    attention_stages: int = 2  # the last N stages use self-attention, the rest RepMixer
    output_pool: int = 1  # average-pool the output grid by this factor (fewer visual tokens)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", _as_tuple(self.depths, int, "depths"))
        object.__setattr__(self, "widths", _as_tuple(self.widths, int, "widths"))
        object.__setattr__(self, "mlp_ratios", _as_tuple(self.mlp_ratios, float, "mlp_ratios"))
        _check(self.variant in ENCODER_VARIANTS,
               f"unknown encoder variant {self.variant!r}; valid: {', '.join(ENCODER_VARIANTS)}")
        n = len(self.depths)
        _check(MIN_STAGES <= n <= MAX_STAGES,
               f"encoder has {n} stages (depths {self.depths}); valid: {MIN_STAGES}..{MAX_STAGES}")
        _check(len(self.widths) == n and len(self.mlp_ratios) == n,
               f"depths {self.depths}, widths {self.widths} and mlp_ratios {self.mlp_ratios} "
               f"must have one entry per stage ({n})")
        for i, d in enumerate(self.depths):
            _check(d >= 1, f"depth {d} of stage {i} is invalid; each stage needs >= 1 block")
        for i, w in enumerate(self.widths):
            _check(w >= 8 and w % 8 == 0,
                   f"width {w} of stage {i} is invalid; widths must be positive multiples of 8")
        for i in range(1, n):
            prev, w = self.widths[i - 1], self.widths[i]
            # the downsampling 7x7 conv is grouped by its input channels
            _check(w % prev == 0,
                   f"width {w} of stage {i} is not a multiple of the previous width {prev} "
                   f"(FastViT downsamples with a conv grouped by input channels); valid: "
                   f"{prev}, {2 * prev}, {3 * prev}, ...")
        for i, r in enumerate(self.mlp_ratios):
            _check(0 < r <= 16, f"mlp ratio {r} of stage {i} is invalid; valid: (0, 16]")
        _check(0 <= self.attention_stages <= n,
               f"attention_stages {self.attention_stages} is invalid; valid: 0..{n}")
        for i in self.attention_stage_indices:
            w = self.widths[i]
            _check(w % ATTENTION_HEAD_DIM == 0,
                   f"width {w} of attention stage {i} is not divisible by the head size "
                   f"{ATTENTION_HEAD_DIM}; nearest valid: {_nearest_multiples(w, 32)}")
        _check(self.output_pool in OUTPUT_POOLS,
               f"output_pool {self.output_pool} is invalid; valid: {OUTPUT_POOLS}")

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    @property
    def attention_stage_indices(self) -> tuple[int, ...]:
        return tuple(range(self.num_stages - self.attention_stages, self.num_stages))

    @property
    def token_mixers(self) -> tuple[str, ...]:
        attn = set(self.attention_stage_indices)
        return tuple("attention" if i in attn else "repmixer" for i in range(self.num_stages))

    @property
    def se_downsamples(self) -> tuple[bool, ...]:
        # MobileCLIP FastViT (mci2) puts squeeze-excite in the last two downsamples; FastViTHD none.
        n = self.num_stages
        return tuple(self.variant == "fastvit" and i >= n - 2 for i in range(n))

    @property
    def backbone_stride(self) -> int:
        return 4 * 2 ** (self.num_stages - 1)  # stem /4, then /2 per later stage

    @property
    def total_stride(self) -> int:
        return self.backbone_stride * self.output_pool

    @property
    def out_channels(self) -> int:
        return 2 * self.widths[-1]  # final conv doubles the last width

    @property
    def timm_architecture(self) -> str:
        return ENCODER_VARIANTS[self.variant]


@dataclass(frozen=True)
class ProjectorConfig:
    """Maps encoder tokens (C) to LLM embeddings (d). `mlp2x_gelu` is FastVLM's / LLaVA's."""

    kind: str = "mlp2x_gelu"

    def __post_init__(self) -> None:
        _check(self.kind in PROJECTOR_KINDS,
               f"unknown projector {self.kind!r}; valid: {', '.join(PROJECTOR_KINDS)}")


@dataclass(frozen=True)
class LLMConfig:
    """Qwen2-architecture decoder hyperparameters (defaults: Qwen2-0.5B)."""

    name: str = "qwen2-0.5b"
    hidden_size: int = 896
    num_layers: int = 24
    num_heads: int = 14
    num_kv_heads: int = 2
    intermediate_size: int = 4864
    vocab_size: int = 151936
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        for f in ("hidden_size", "num_layers", "num_heads", "num_kv_heads",
                  "intermediate_size", "vocab_size"):
            value = getattr(self, f)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1,
                   f"llm {f} {value!r} is invalid; must be a positive integer")
        _check(self.hidden_size % self.num_heads == 0,
               f"llm hidden_size {self.hidden_size} is not divisible by num_heads "
               f"{self.num_heads}")
        _check(self.num_heads % self.num_kv_heads == 0,
               f"llm num_heads {self.num_heads} is not divisible by num_kv_heads "
               f"{self.num_kv_heads}")
        _check((self.hidden_size // self.num_heads) % 2 == 0,
               f"llm head size {self.hidden_size // self.num_heads} must be even (rotary)")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim


@dataclass(frozen=True)
class VlmConfig:
    """One point of the design space: encoder + projector + LLM at a resolution and dtype."""

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    projector: ProjectorConfig = field(default_factory=ProjectorConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    resolution: int = 1024  # square input, pixels per side
    prompt_tokens: int = 32  # text tokens after the visual tokens
    dtype: str = "float32"
    name: str = ""  # label only (e.g. the preset it came from); not part of the identity

    def __post_init__(self) -> None:
        _check(self.dtype in DTYPES, f"unknown dtype {self.dtype!r}; valid: {', '.join(DTYPES)}")
        s = self.encoder.total_stride
        _check(isinstance(self.resolution, int) and 64 <= self.resolution <= 4096,
               f"resolution {self.resolution!r} is invalid; valid: integers 64..4096")
        _check(self.resolution % s == 0,
               f"resolution {self.resolution} is not divisible by the encoder's total stride {s}; "
               f"nearest valid: {_nearest_multiples(self.resolution, s)}")
        _check(isinstance(self.prompt_tokens, int) and 0 <= self.prompt_tokens <= 32768,
               f"prompt_tokens {self.prompt_tokens!r} is invalid; valid: 0..32768")

    @property
    def grid(self) -> int:
        return self.resolution // self.encoder.total_stride

    @property
    def visual_tokens(self) -> int:
        return self.grid**2

    @property
    def seq_len(self) -> int:
        return self.visual_tokens + self.prompt_tokens

    def to_dict(self) -> dict:
        """A plain, JSON-ready dict that `config_from_dict` turns back into an equal config."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """A short stable hash of everything that defines the model (not the label)."""
        d = self.to_dict()
        d.pop("name")
        d["llm"].pop("name")
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    def summary(self) -> str:
        e = self.encoder
        pool = f" pool{e.output_pool}" if e.output_pool > 1 else ""
        return (f"{e.variant} d{'-'.join(map(str, e.depths))} w{e.widths[0]}..{e.widths[-1]}"
                f"{pool} @{self.resolution} ({self.visual_tokens} tok) + {self.llm.name} "
                f"[{self.dtype}]")


def _nearest_multiples(value: int, step: int) -> str:
    lo = value // step * step
    return " or ".join(str(c) for c in (lo, lo + step) if c >= step)
