"""The builder: HF FastVLM composition where representable, stage pipeline equivalence."""

import pytest
import torch

from fastvlm import preset
from fastvlm.build import build_encoder, build_vlm
from fastvlm.hfconfig import hf_representable, image_token_id, why_not_representable


def test_stage_pipeline_equals_hf_forward(tiny):
    model = build_vlm(tiny)
    assert model.hf_model is not None  # a real FastVlmForConditionalGeneration
    px = torch.randn(1, 3, tiny.resolution, tiny.resolution)
    ids = model.prompt_ids()
    with torch.inference_mode():
        staged = model.prefill.logits(model.projector(model.encoder(px)), ids)
        image = torch.full((1, tiny.visual_tokens), image_token_id(tiny.llm))
        hf = model.hf_model(input_ids=torch.cat([image, ids], 1), pixel_values=px,
                            logits_to_keep=1).logits
        assert torch.allclose(staged, hf, atol=1e-5)
        assert model.first_token(px, ids) == int(hf.argmax(-1))


def test_non_representable_shapes_compose_directly(tiny):
    pooled = preset("tiny", output_pool=2, resolution=256)
    assert not hf_representable(pooled) and "output_pool 2" in why_not_representable(pooled)
    model = build_vlm(pooled)
    assert model.hf_model is None
    with torch.inference_mode():
        tokens = model.encoder(torch.randn(1, 3, 256, 256))
    assert tokens.shape == (1, pooled.visual_tokens, pooled.encoder.out_channels)


def test_partial_build_only_requested_parts(tiny):
    model = build_vlm(tiny, parts=("prefill",))
    assert model.encoder is None and model.projector is None and model.prefill is not None


def test_reparameterized_equals_train_form():
    from timm.utils.model import reparameterize_model

    enc = preset("tiny").encoder
    torch.manual_seed(0)
    train = build_encoder(enc, inference_mode=False).eval()
    fused = reparameterize_model(train)  # a folded copy
    x = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        a, b = train.forward_features(x), fused.forward_features(x)
    assert (a - b).norm() / a.norm() < 1e-5


def test_layer_variants_share_weights(tiny):
    model = build_vlm(tiny, parts=("prefill",), llm_layers=2)
    pf = model.prefill
    vis = torch.randn(1, 4, tiny.llm.hidden_size)
    ids = model.prompt_ids()
    with torch.inference_mode():
        pf.num_layers = 1
        one = pf.logits(vis, ids)
        pf.num_layers = 2
        two = pf.logits(vis, ids)
    assert not torch.allclose(one, two)
    with pytest.raises(ValueError, match="outside 1..2"):
        pf.num_layers = 3


def test_random_llm_weights_are_finite_and_deterministic(tiny):
    a = build_vlm(tiny, parts=("prefill",), seed=3).prefill
    b = build_vlm(tiny, parts=("prefill",), seed=3).prefill
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.isfinite(p).all() and torch.equal(p, q), n


def test_a_half_precision_model_is_materialized_in_its_dtype(tiny, monkeypatch):
    """No float32 copy first: the LLM and projector weights are allocated in bfloat16 (a
    float32 build then cast had a bfloat16 FastVLM-0.5B peak at 2.4 GB instead of 1.2 GB)."""
    from fastvlm import build

    seen, real = [], build._materialize
    monkeypatch.setattr(build, "_materialize", lambda module, *a, **kw: (
        seen.append({p.dtype for p in module.parameters()}), real(module, *a, **kw))[1])
    model = build_vlm(preset("tiny", dtype="bfloat16"))
    assert model.hf_model is not None and seen and all(d == {torch.bfloat16} for d in seen)
    assert {p.dtype for p in model.hf_model.parameters()} == {torch.bfloat16}

