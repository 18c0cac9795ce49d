"""The transformers `FastVlmConfig` form of a `VlmConfig`, as a plain dict (no torch import).

A FastVLM whose encoder is a stock timm FastViT layout (5 stages with 2 attention stages like
`fastvit_mci3`, or 4 with 1 like `fastvit_mci2`), without extra output pooling and with the
mlp2x_gelu projector, is exactly a `FastVlmForConditionalGeneration`; its `config.json` loads in
plain transformers (`AutoConfig.from_pretrained(dir)`). Other shapes are exported in our own
format (`fastvlm_explorer.json`, see explorer/export.py). `config_from_fastvlm_dict` reads such
a `config.json` back (`measure --config DIR`).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .config import DTYPES, ConfigError, LLMConfig, VlmConfig

# Stock timm variants: (stage count, attention stages) their default RepCPE placement assumes.
STOCK_SHAPES = {"fastvit_mci3": (5, 2), "fastvit_mci2": (4, 1)}
BASE_PRESETS = {"fastvit_mci3": "fastvlm-0.5b", "fastvit_mci2": "fastvit-0.5b"}  # their encoders
FASTVLM_IMAGE_TOKEN = 151646


def image_token_id(llm: LLMConfig) -> int:
    """FastVLM's `<image>` placeholder id, or the last id of a smaller (toy) vocabulary."""
    return min(FASTVLM_IMAGE_TOKEN, llm.vocab_size - 1)


def hf_representable(cfg: VlmConfig) -> bool:
    enc = cfg.encoder
    return (cfg.projector.kind == "mlp2x_gelu" and enc.output_pool == 1
            and (enc.num_stages, enc.attention_stages) == STOCK_SHAPES[enc.timm_architecture])


def why_not_representable(cfg: VlmConfig) -> str:
    enc = cfg.encoder
    reasons = []
    if cfg.projector.kind != "mlp2x_gelu":
        reasons.append(f"projector {cfg.projector.kind!r} (FastVlmConfig has mlp2x_gelu only)")
    if enc.output_pool != 1:
        reasons.append(f"output_pool {enc.output_pool} (FastVLM flattens the full grid)")
    stock = STOCK_SHAPES[enc.timm_architecture]
    if (enc.num_stages, enc.attention_stages) != stock:
        reasons.append(f"{enc.num_stages} stages with {enc.attention_stages} attention stages "
                       f"(timm {enc.timm_architecture} places RepCPE for {stock[0]} stages / "
                       f"{stock[1]} attention; other layouts need non-JSON model_args)")
    return "; ".join(reasons)


def qwen2_config_dict(llm: LLMConfig, layers: int | None = None) -> dict:
    return {
        "model_type": "qwen2", "hidden_size": llm.hidden_size,
        "num_hidden_layers": layers or llm.num_layers, "num_attention_heads": llm.num_heads,
        "num_key_value_heads": llm.num_kv_heads, "intermediate_size": llm.intermediate_size,
        "vocab_size": llm.vocab_size, "tie_word_embeddings": llm.tie_embeddings,
        "max_position_embeddings": 32768, "hidden_act": "silu", "rms_norm_eps": 1e-6,
    }


def fastvlm_config_dict(cfg: VlmConfig, llm_layers: int | None = None) -> dict:
    """`FastVlmConfig(**d)` / a `config.json` for `cfg` (ValueError when not representable)."""
    if not hf_representable(cfg):
        raise ValueError(f"{cfg.summary()} is not expressible as a FastVlmConfig: "
                         f"{why_not_representable(cfg)}")
    enc = cfg.encoder
    model_args = {"inference_mode": True, "layers": list(enc.depths),
                  "embed_dims": list(enc.widths), "mlp_ratios": list(enc.mlp_ratios),
                  "token_mixers": list(enc.token_mixers),
                  "se_downsamples": list(enc.se_downsamples)}
    return {
        "model_type": "fast_vlm", "architectures": ["FastVlmForConditionalGeneration"],
        "vision_config": {"model_type": "timm_wrapper", "architecture": enc.timm_architecture,
                          "do_pooling": False, "hidden_size": enc.out_channels, "num_labels": 0,
                          "model_args": model_args},
        "text_config": qwen2_config_dict(cfg.llm, llm_layers),
        "image_token_index": image_token_id(cfg.llm), "image_seq_length": cfg.visual_tokens,
        "projector_hidden_act": "gelu", "multimodal_projector_bias": True,
        "tie_word_embeddings": cfg.llm.tie_embeddings, "dtype": cfg.dtype,
    }


def config_from_fastvlm_dict(raw: dict, source: str | None = None) -> VlmConfig:
    """The `VlmConfig` a transformers `FastVlmConfig` (`config.json`) describes: the inverse of
    `fastvlm_config_dict`. The encoder is the timm architecture's stock one unless `model_args`
    give its layers / widths / MLP ratios; the resolution follows from `image_seq_length` and
    the encoder's stride (without it, the base preset's); an LLM equal to a preset takes its
    name (otherwise it is named after `source`'s folder, the file it came from)."""
    from .presets import LLM_PRESETS, llm_from_hf_dict, preset, with_overrides

    folder = Path(source).resolve().parent.name if source else ""
    source = source or "FastVlmConfig"
    vision = raw.get("vision_config") or {}
    arch = vision.get("architecture", "fastvit_mci3")
    if arch not in STOCK_SHAPES:
        raise ConfigError(f"{source}: vision_config.architecture {arch!r} is not a FastViT this "
                          f"tool builds; valid: {', '.join(STOCK_SHAPES)}")
    base = preset(BASE_PRESETS[arch])
    args = vision.get("model_args") or {}
    enc = {k: tuple(args[a]) for k, a in (("depths", "layers"), ("widths", "embed_dims"),
                                          ("mlp_ratios", "mlp_ratios")) if a in args}
    llm = llm_from_hf_dict(raw, f"qwen2 ({folder})" if folder else "qwen2-custom", source)
    llm = next((p for p in LLM_PRESETS.values() if dataclasses.replace(p, name=llm.name) == llm),
               llm)
    resolution = base.resolution
    if "image_seq_length" in raw:
        side = math.isqrt(int(raw["image_seq_length"]))
        if side * side != raw["image_seq_length"]:
            raise ConfigError(f"{source}: image_seq_length {raw['image_seq_length']} is not a "
                              "square grid of visual tokens")
        resolution = side * with_overrides(base, **enc).encoder.total_stride
    dtype = raw.get("dtype") or raw.get("torch_dtype")
    return with_overrides(base, **enc, llm=llm, resolution=resolution, name="",
                          dtype=dtype if dtype in DTYPES else None)
