"""Build a FastVLM-style model with random weights from maintained code (timm + transformers).

    python -c "from fastvlm import preset; from fastvlm.build import build_vlm; \
print(build_vlm(preset('tiny')))"

Where the configuration is representable in transformers (a stock FastViT shape, no extra output
pooling, the mlp2x_gelu projector), the model *is* a `FastVlmForConditionalGeneration` and the
stages below are its own submodules; otherwise the same timm encoder, projector and Qwen2 decoder
are composed directly. Either way the model is exposed as three stages that the TTFT protocol
times separately and end to end:

    encoder:   pixels (1, 3, R, R)  -> tokens (1, T, C)      timm FastViT forward_features (+pool)
    projector: tokens (1, T, C)     -> embeds (1, T, d)
    prefill:   embeds (1, T, d)     -> first token id (int)  Qwen2 over [visual ++ prompt],
                                                             logits for the last position only
Random weights: the LLM is constructed on the meta device and filled from a small tiled random
buffer (seconds instead of the ~30 s of default init for 1.5B); the encoder uses timm's own init,
in its inference (re-parameterised) form.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import partial

import timm
import torch
from timm.models.fastvit import RepConditionalPosEnc
from torch import nn
from transformers import FastVlmConfig, FastVlmForConditionalGeneration, Qwen2Config
from transformers import Qwen2ForCausalLM

from .config import EncoderConfig, LLMConfig, VlmConfig
from .hfconfig import fastvlm_config_dict, hf_representable, image_token_id, qwen2_config_dict

TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PROJECTORS = {
    "mlp2x_gelu": lambda c, d: nn.Sequential(nn.Linear(c, d), nn.GELU(), nn.Linear(d, d)),
    "linear": lambda c, d: nn.Linear(c, d),
}


class EncoderStage(nn.Module):
    """FastViT `forward_features`, optional average pooling, flattened to tokens (B, T, C)."""

    def __init__(self, backbone: nn.Module, output_pool: int = 1):
        super().__init__()
        self.backbone = backbone
        self.output_pool = output_pool

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.backbone.forward_features(pixels)  # (B, C, h, w)
        if self.output_pool > 1:
            features = nn.functional.avg_pool2d(features, self.output_pool)
        return features.flatten(2).transpose(1, 2)  # (B, T, C)


class PrefillStage(nn.Module):
    """Qwen2 prefill over [visual embeds ++ prompt] -> greedy first token (logits_to_keep=1)."""

    def __init__(self, decoder: nn.Module, lm_head: nn.Module):
        super().__init__()
        self.decoder = decoder  # Qwen2Model
        self.lm_head = lm_head

    def logits(self, visual: torch.Tensor, prompt_ids: torch.Tensor) -> torch.Tensor:
        text = self.decoder.embed_tokens(prompt_ids)  # (B, P, d)
        embeds = torch.cat([visual.to(text.dtype), text], dim=1)  # (B, T + P, d)
        hidden = self.decoder(inputs_embeds=embeds, use_cache=True).last_hidden_state
        return self.lm_head(hidden[:, -1:])  # (B, 1, V)

    def forward(self, visual: torch.Tensor, prompt_ids: torch.Tensor) -> int:
        return int(self.logits(visual, prompt_ids).argmax(-1).item())  # host sync point

    @property
    def num_layers(self) -> int:
        return self.decoder.config.num_hidden_layers

    @num_layers.setter
    def num_layers(self, layers: int) -> None:
        # Qwen2Model runs layers[:config.num_hidden_layers]; fewer layers share the same weights.
        if not 1 <= layers <= len(self.decoder.layers):
            raise ValueError(f"num_layers {layers} outside 1..{len(self.decoder.layers)}")
        self.decoder.config.num_hidden_layers = layers


@dataclass
class VlmModel:
    """The three timed stages (any may be None when not built) and the HF model if any."""

    cfg: VlmConfig
    encoder: EncoderStage | None
    projector: nn.Module | None
    prefill: PrefillStage | None
    hf_model: FastVlmForConditionalGeneration | None = None

    def prompt_ids(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """A fixed text prompt of `cfg.prompt_tokens` ids (values don't affect latency)."""
        gen = torch.Generator().manual_seed(0)
        high = image_token_id(self.cfg.llm)  # never the image placeholder
        ids = torch.randint(0, high, (1, self.cfg.prompt_tokens), generator=gen)
        return ids.to(device)

    def first_token(self, pixels: torch.Tensor, prompt_ids: torch.Tensor) -> int:
        """TTFT's work: encoder -> projector -> prefill -> token id on the host."""
        return self.prefill(self.projector(self.encoder(pixels)), prompt_ids)


def timm_model_args(enc: EncoderConfig) -> dict:
    """timm FastVit kwargs for `enc` on top of its variant's defaults."""
    n = enc.num_stages
    cpe = partial(RepConditionalPosEnc, spatial_shape=(7, 7))
    attention = set(enc.attention_stage_indices)
    return dict(
        layers=enc.depths, embed_dims=enc.widths, mlp_ratios=enc.mlp_ratios,
        token_mixers=enc.token_mixers, se_downsamples=enc.se_downsamples,
        downsamples=tuple(i > 0 for i in range(n)),
        pos_embs=tuple(cpe if i in attention else None for i in range(n)),
    )


def hf_config(cfg: VlmConfig, llm_layers: int | None = None) -> FastVlmConfig:
    """The transformers `FastVlmConfig` of `cfg` (ValueError when not representable)."""
    return FastVlmConfig(**fastvlm_config_dict(cfg, llm_layers))


def qwen2_config(llm: LLMConfig, layers: int | None = None) -> Qwen2Config:
    return Qwen2Config(**{k: v for k, v in qwen2_config_dict(llm, layers).items()
                          if k != "model_type"})


def build_encoder(enc: EncoderConfig, inference_mode: bool = True) -> nn.Module:
    """The timm FastViT backbone; `inference_mode=False` gives the train-time multi-branch form."""
    return timm.create_model(enc.timm_architecture, pretrained=False, num_classes=0,
                             inference_mode=inference_mode, **timm_model_args(enc))


def build_vlm(cfg: VlmConfig, parts: tuple[str, ...] = ("encoder", "projector", "prefill"),
              llm_layers: int | None = None, device: str | torch.device = "cpu",
              seed: int = 0) -> VlmModel:
    """Build the requested stages with random weights, eval mode, on `device` in `cfg.dtype`.

    Args:
        parts: which stages to build (the others are None), e.g. only what the cache lacks.
        llm_layers: build the decoder with this many layers (layer extrapolation).
    """
    torch.manual_seed(seed)
    dtype = TORCH_DTYPES[cfg.dtype]
    use_hf = hf_representable(cfg) and set(parts) == {"encoder", "projector", "prefill"}
    if use_hf:
        with torch.device("meta"):
            # in the target dtype before any weight exists: a float32 copy first would double
            # a bfloat16 model's build peak (2.4 instead of 1.2 GB for FastVLM-0.5B)
            hf = FastVlmForConditionalGeneration(hf_config(cfg, llm_layers)).to(dtype)
        inner = hf.model
        inner.vision_tower = inner.vision_tower.__class__(inner.vision_tower.config)  # real init
        _materialize(inner.multi_modal_projector, seed)
        _materialize_decoder(inner.language_model, seed + 1)
        if cfg.llm.tie_embeddings:
            hf.lm_head.weight = inner.language_model.embed_tokens.weight
        else:
            _materialize(hf.lm_head, seed + 2)
        hf = hf.eval().to(device=device, dtype=dtype)
        encoder = EncoderStage(inner.vision_tower.timm_model)
        return VlmModel(cfg, encoder, inner.multi_modal_projector,
                        PrefillStage(inner.language_model, hf.lm_head), hf)
    encoder = projector = prefill = None
    if "encoder" in parts:
        encoder = EncoderStage(build_encoder(cfg.encoder), cfg.encoder.output_pool)
        encoder = encoder.eval().to(device=device, dtype=dtype)
    if "projector" in parts:
        projector = PROJECTORS[cfg.projector.kind](cfg.encoder.out_channels, cfg.llm.hidden_size)
        projector = projector.eval().to(device=device, dtype=dtype)
    if "prefill" in parts:
        prefill = build_prefill(cfg.llm, llm_layers, device, dtype, seed + 1)
    return VlmModel(cfg, encoder, projector, prefill)


def build_prefill(llm: LLMConfig, layers: int | None, device, dtype, seed: int) -> PrefillStage:
    with torch.device("meta"):
        lm = Qwen2ForCausalLM(qwen2_config(llm, layers)).to(dtype)
    _materialize_decoder(lm.model, seed, device)
    if llm.tie_embeddings:
        lm.lm_head.weight = lm.model.embed_tokens.weight
    else:
        _materialize(lm.lm_head, seed + 1, device)
    return PrefillStage(lm.model, lm.lm_head).eval()


def _materialize_decoder(decoder: nn.Module, seed: int, device="cpu") -> None:
    _materialize(decoder, seed, device)
    # Non-persistent buffers (rotary frequencies) are not weights: recompute them.
    decoder.rotary_emb = type(decoder.rotary_emb)(config=decoder.config).to(device)


@torch.no_grad()
def _materialize(module: nn.Module, seed: int, device="cpu") -> None:
    """Allocate a meta-device module and fill it fast: N(0, 0.02) matrices, unit norms, zero
    bias."""
    module.to_empty(device=device)
    gen = torch.Generator().manual_seed(seed)
    pool = (torch.randn(1 << 20, generator=gen) * 0.02).to(device)  # tiled: memory-bound fill
    for name, p in module.named_parameters():
        if p.dim() == 1:
            p.fill_(1.0 if "norm" in name else 0.0)
            continue
        flat = p.view(-1)
        tile = pool.roll(zlib.crc32(name.encode()) % pool.numel())  # differ between tensors
        for start in range(0, flat.numel(), tile.numel()):
            chunk = flat[start:start + tile.numel()]
            chunk.copy_(tile[: chunk.numel()])
