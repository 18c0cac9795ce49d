"""The search space: declared as data, sampled in exactly one place (`SearchSpace.sample`).

`sample(trial)` is the only caller of `trial.suggest_*` in the project; everything downstream
takes the `VlmConfig` it returns, so it can be tested and replayed without Optuna. Parameter
names (resolution, llm, depth_2, width_multiplier, ...) are what Optuna stores and what the
dashboard's importance and parallel-coordinate views show.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from fastvlm.config import VlmConfig
from fastvlm.presets import preset, with_overrides

# Base encoders a space can start from (their widths are what width_multiplier scales).
ENCODER_BASES = {"fastvithd": "fastvlm-0.5b", "fastvit": "fastvit-0.5b"}


@dataclass(frozen=True)
class Choice:
    values: tuple

    def grid(self) -> list:
        return list(self.values)


@dataclass(frozen=True)
class IntRange:
    low: int
    high: int
    step: int = 1

    def grid(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


Dim = Choice | IntRange


@dataclass(frozen=True)
class SearchSpace:
    resolution: Dim
    llm: Choice = Choice(("qwen2-0.5b",))
    encoder_base: str = "fastvithd"
    depths: tuple[Dim, ...] | None = None  # one per stage; None keeps the base depths
    widths: tuple[Dim, ...] | None = None  # one per stage; exclusive with width_multiplier
    width_multiplier: Choice | None = None
    mlp_ratio: Choice | None = None  # applied to every stage
    attention_stages: Choice | None = None
    output_pool: Choice | None = None
    projector: Choice = Choice(("mlp2x_gelu",))
    prompt_tokens: Choice = Choice((32,))
    dtype: Choice = Choice(("float32",))
    fixed: dict = field(default_factory=dict)  # not searched, e.g. {"variant": ...}

    def dims(self) -> dict[str, Dim]:
        """Parameter name -> dimension, in sampling order."""
        d: dict[str, Dim] = {"resolution": self.resolution, "llm": self.llm}
        for i, dim in enumerate(self.depths or ()):
            d[f"depth_{i}"] = dim
        for i, dim in enumerate(self.widths or ()):
            d[f"width_{i}"] = dim
        optional = {"width_multiplier": self.width_multiplier, "mlp_ratio": self.mlp_ratio,
                    "attention_stages": self.attention_stages, "output_pool": self.output_pool}
        d.update({k: v for k, v in optional.items() if v is not None})
        d.update(projector=self.projector, prompt_tokens=self.prompt_tokens, dtype=self.dtype)
        return d

    def sample(self, trial) -> VlmConfig:
        """Suggest every parameter on `trial` and return the configuration (may be invalid:
        the caller records a `ConfigError` as a failed sample)."""
        params = {}
        for name, dim in self.dims().items():
            if isinstance(dim, IntRange):
                params[name] = trial.suggest_int(name, dim.low, dim.high, step=dim.step)
            else:
                params[name] = trial.suggest_categorical(name, list(dim.values))
        return self.config_from_params(params)

    def config_from_params(self, params: dict) -> VlmConfig:
        """The configuration a parameter dict stands for (shared by `sample` and replays)."""
        base = preset(ENCODER_BASES[self.encoder_base])
        enc = base.encoder
        n = enc.num_stages
        depths = tuple(params.get(f"depth_{i}", enc.depths[i]) for i in range(n))
        widths = tuple(params.get(f"width_{i}", enc.widths[i]) for i in range(n))
        if "width_multiplier" in params:
            widths = scale_widths(enc.widths, params["width_multiplier"])
        overrides = dict(resolution=params["resolution"], llm=params["llm"], depths=depths,
                         widths=widths, projector=params["projector"],
                         prompt_tokens=params["prompt_tokens"], dtype=params["dtype"])
        if "mlp_ratio" in params:
            overrides["mlp_ratios"] = (float(params["mlp_ratio"]),) * n
        for key in ("attention_stages", "output_pool"):
            if key in params:
                overrides[key] = params[key]
        overrides.update(self.fixed)
        return dataclasses.replace(with_overrides(base, **overrides), name="")

    def params_of(self, cfg: VlmConfig) -> dict | None:
        """Parameters that reproduce `cfg` in this space, or None if it lies outside."""
        enc = cfg.encoder
        if enc.variant != preset(ENCODER_BASES[self.encoder_base]).encoder.variant:
            return None
        params = {"resolution": cfg.resolution, "llm": cfg.llm.name,
                  "projector": cfg.projector.kind, "prompt_tokens": cfg.prompt_tokens,
                  "dtype": cfg.dtype}
        base = preset(ENCODER_BASES[self.encoder_base]).encoder
        for i in range(len(self.depths or ())):
            params[f"depth_{i}"] = enc.depths[i]
        for i in range(len(self.widths or ())):
            params[f"width_{i}"] = enc.widths[i]
        if self.width_multiplier is not None:
            params["width_multiplier"] = next(
                (m for m in self.width_multiplier.values
                 if scale_widths(base.widths, m) == enc.widths), None)
        if self.mlp_ratio is not None:
            params["mlp_ratio"] = enc.mlp_ratios[0]
        for key in ("attention_stages", "output_pool"):
            if getattr(self, key) is not None:
                params[key] = getattr(enc, key)
        dims = self.dims()
        if any(not _contains(dims[k], v) for k, v in params.items()):
            return None
        try:
            same = self.config_from_params(params).key() == cfg.key()
        except ValueError:
            return None
        return params if same else None

    def base_widths(self) -> tuple[int, ...]:
        """The base encoder's stage widths (what width_multiplier scales)."""
        return preset(ENCODER_BASES[self.encoder_base]).encoder.widths

    def multiplier_widths(self) -> dict[float, tuple[int, ...]]:
        """width_multiplier value -> the stage widths it builds (snapped: see `scale_widths`)."""
        return {m: scale_widths(self.base_widths(), m)
                for m in (self.width_multiplier or Choice(())).values}

    def grid(self) -> dict[str, list]:
        """The full discrete grid (for GridSampler and exhaustive replays)."""
        return {name: dim.grid() for name, dim in self.dims().items()}

    def size(self) -> int:
        n = 1
        for values in self.grid().values():
            n *= len(values)
        return n


def scale_widths(widths: tuple[int, ...], multiplier: float) -> tuple[int, ...]:
    """Scale the first width (to a multiple of 16) and keep the stage-to-stage ratios, so each
    width stays a multiple of the previous one (FastViT's grouped downsampling needs it)."""
    first = max(16, int(widths[0] * multiplier / 16 + 0.5) * 16)
    out = [first]
    for prev, w in zip(widths, widths[1:]):
        out.append(out[-1] * (w // prev))
    return tuple(out)


def _contains(dim: Dim, value) -> bool:
    if isinstance(dim, IntRange):
        return isinstance(value, int) and dim.low <= value <= dim.high and \
            (value - dim.low) % dim.step == 0
    return value in dim.values
