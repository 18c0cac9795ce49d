"""Tier-2 encoder probe: per-step reports, pruning, budget, width scaling at full resolution."""

from __future__ import annotations

import time

import pytest

from fastvlm import preset
from fastvlm.proxy.probe import LABEL, ProbeResult, probe_encoder, scaled_encoder


def test_probe_reports_every_evaluation_and_stays_in_range(tiny):
    seen = []
    result = probe_encoder(tiny, budget_s=10, steps=40, eval_every=10, n_crops=48,
                           report=lambda step, value: seen.append((step, value)))
    assert isinstance(result, ProbeResult) and result.label == LABEL
    assert result.stopped in ("done", "budget")
    assert seen == result.per_step[:len(seen)] and len(seen) >= 1
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert all(0.0 <= v <= 1.0 for _, v in result.per_step)
    assert 0.0 <= result.value <= 1.0 and result.value == result.per_step[-1][1]
    assert result.n_train > 0 and result.n_test > 0
    assert result.resolution == tiny.resolution  # never reduced
    d = result.to_dict()
    assert d["label"] == "encoder capacity (probe)" and d["steps"] == result.steps


def test_report_returning_true_prunes_the_run(tiny):
    calls = []

    def prune_at_second(step: int, value: float) -> bool:
        calls.append(step)
        return len(calls) == 2

    result = probe_encoder(tiny, budget_s=10, steps=200, eval_every=5, n_crops=32,
                           report=prune_at_second)
    assert result.stopped == "pruned"
    assert calls == [5, 10] and result.steps == 10
    assert [s for s, _ in result.per_step] == [5, 10]


def test_budget_is_respected(tiny):
    cfg = preset("tiny", resolution=512)
    t0 = time.perf_counter()
    result = probe_encoder(cfg, budget_s=4, steps=100_000, eval_every=50)
    wall = time.perf_counter() - t0
    assert result.stopped == "budget"
    assert wall < 4 * 1.5 + 1  # generous slack for a loaded CI machine
    assert result.cost_ms / 1e3 <= wall
    assert 0.0 <= result.value <= 1.0


def test_width_factor_scales_widths_but_never_the_resolution():
    cfg = preset("fastvlm-0.5b")
    half = scaled_encoder(cfg.encoder, 0.5)
    assert half.widths == (48, 96, 192, 384, 768)
    assert half.depths == cfg.encoder.depths and half.total_stride == cfg.encoder.total_stride
    assert scaled_encoder(cfg.encoder, 1.0) is cfg.encoder
    odd = scaled_encoder(cfg.encoder, 0.3)  # rounded up until the config validates
    assert all(w % 8 == 0 for w in odd.widths) and odd.widths[-1] % 32 == 0
    tiny_half = scaled_encoder(preset("tiny").encoder, 0.5)
    assert tiny_half.widths == (8, 16, 16, 32, 32)
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match=f"width_factor {bad!r} is invalid; valid: \\(0, 1\\]"):
            scaled_encoder(cfg.encoder, bad)


def test_reduced_width_probe_runs_at_the_configured_resolution(tiny):
    cfg = preset("tiny", resolution=256)
    result = probe_encoder(cfg, budget_s=10, width_factor=0.5, steps=20, eval_every=10,
                           n_crops=16)
    assert result.resolution == 256 and result.crop == 256
    assert result.widths == (8, 16, 16, 32, 32) and result.width_factor == 0.5
    assert result.stopped == "done" and result.steps == 20


def test_invalid_settings_are_rejected(tiny):
    with pytest.raises(ValueError, match="invalid probe settings"):
        probe_encoder(tiny, budget_s=0)
