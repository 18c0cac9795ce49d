"""Analytic counts against built models (exact params) and FlopCounterMode (FLOPs)."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from fastvlm import analyze, preset
from fastvlm.analytic import encoder_cost, llm_params, prefill_flops
from fastvlm.build import build_encoder, build_vlm, qwen2_config
from fastvlm.presets import LLM_PRESETS


def n_params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_fastvithd_encoder_params_match_paper_and_timm():
    cfg = preset("fastvlm-0.5b")
    assert encoder_cost(cfg.encoder, 1024)[0] == 122_714_208
    with torch.device("meta"):
        assert n_params(build_encoder(cfg.encoder)) == 122_714_208


def test_reparameterised_train_form_has_same_count():
    from timm.utils.model import reparameterize_model

    enc = preset("tiny").encoder
    fused = reparameterize_model(build_encoder(enc, inference_mode=False))
    assert n_params(fused) == encoder_cost(enc, 128)[0]


@pytest.mark.parametrize("name, overrides", [
    ("fastvit-0.5b", {}), ("tiny", {}), ("tiny", {"attention_stages": 0}),
    ("tiny", {"attention_stages": 3, "widths": (32, 32, 64, 64, 192)}),
    ("tiny", {"depths": (1, 2, 1, 1), "widths": (16, 32, 64, 64), "mlp_ratios": (3, 3, 3, 3),
              "attention_stages": 1, "variant": "fastvit"}),
])
def test_encoder_params_exact(name, overrides):
    cfg = preset(name, **overrides)
    with torch.device("meta"):
        built = build_encoder(cfg.encoder)
    assert n_params(built) == encoder_cost(cfg.encoder, cfg.resolution)[0]


@pytest.mark.parametrize("name", ["qwen2-0.5b", "qwen2-1.5b", "qwen2-7b", "tiny-llm"])
def test_llm_params_exact(name):
    from transformers import Qwen2ForCausalLM

    llm = LLM_PRESETS[name]
    with torch.device("meta"):
        model = Qwen2ForCausalLM(qwen2_config(llm))
    assert n_params(model) == llm_params(llm)
    if name == "qwen2-0.5b":
        assert llm_params(llm) == 494_032_768  # the published 494M


def test_full_vlm_params_match_built_model(tiny):
    model = build_vlm(tiny)
    assert model.hf_model is not None
    assert n_params(model.hf_model) == analyze(tiny).params["total"]


def _flops(fn) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        fn()
    return counter.get_total_flops()


def test_encoder_flops_match_counter_with_unfused_attention(monkeypatch):
    # FlopCounterMode misses fused CPU attention; with timm's fused attention off, the
    # attention matmuls are plain bmm's and the counter sees everything we count.
    import timm.models.fastvit as fv

    cfg = preset("tiny", resolution=256)
    enc = build_encoder(cfg.encoder).eval()
    for m in enc.modules():
        if isinstance(m, fv.Attention):
            m.fused_attn = False
    x = torch.randn(1, 3, 256, 256)
    counted = _flops(lambda: enc.forward_features(x))
    ours = encoder_cost(cfg.encoder, 256)[1]
    se = sum(2 * m.weight.numel() for n, m in enc.named_modules()
             if isinstance(m, torch.nn.Conv2d) and ".se." in n)  # SE runs on a 1x1 pooled map
    assert abs(ours - counted) <= se + 1e-6 * counted


def test_prefill_flops_match_counter_with_eager_attention():
    from transformers import Qwen2ForCausalLM

    llm = LLM_PRESETS["tiny-llm"]
    cfg = qwen2_config(llm)
    cfg._attn_implementation = "eager"
    model = Qwen2ForCausalLM(cfg).eval()
    seq = 40
    ids = torch.randint(0, 100, (1, seq))
    counted = _flops(lambda: model(input_ids=ids, logits_to_keep=1))
    # transformers before ~5.20 computes the rotary angles as a matmul (inv_freq x positions),
    # which the counter sees; they are not prefill work worth a term, so either is exact
    rotary = 2 * (llm.hidden_size // llm.num_heads // 2) * seq
    assert counted in (pytest.approx(prefill_flops(llm, seq), rel=1e-6),
                       pytest.approx(prefill_flops(llm, seq) + rotary, rel=1e-6))


def test_memory_prediction_components():
    c = analyze(preset("fastvlm-0.5b"))
    assert c.weight_bytes == 4 * c.params["total"]
    # KV cache: 2 (K, V) x 24 layers x 288 tokens x 128 (2 kv heads x 64) x 4 bytes
    assert c.kv_cache_bytes == 2 * 24 * 288 * 128 * 4
    assert c.predicted_peak_bytes > c.weight_bytes + c.kv_cache_bytes
    half = analyze(preset("fastvlm-0.5b", dtype="bfloat16"))
    assert half.weight_bytes * 2 == c.weight_bytes
