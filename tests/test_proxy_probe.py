"""Tier-2 encoder probe: cell pages, ridge readout, reports, pruning, budget, null control."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from fastvlm import preset
from fastvlm.config import EncoderConfig
from fastvlm.proxy.probe import (
    ALPHABET,
    LABEL,
    ProbeResult,
    _ridge,
    cell_page,
    probe_encoder,
    scaled_encoder,
)

# FastViTHD widths with 1-block stages (fast); at width x0.25 its random tokens keep some glyph
# identity at 1024 px (the 64-d tiny preset keeps none).
SMALL = EncoderConfig(depths=(1, 1, 1, 1, 1))


def test_probe_reports_every_evaluation_and_stays_in_range(tiny):
    seen = []
    result = probe_encoder(tiny, budget_s=10, eval_every=8, n_crops=48,
                           report=lambda step, value: seen.append((step, value)))
    assert isinstance(result, ProbeResult) and result.label == LABEL
    assert result.stopped in ("done", "budget")
    assert seen == result.per_step[:len(seen)] and len(seen) >= 1
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)
    assert all(0.0 <= v <= 1.0 for _, v in result.per_step)
    assert 0.0 <= result.value <= 1.0 and result.value == result.per_step[-1][1]
    assert result.n_train > 0 and result.n_test > 0
    assert result.resolution == tiny.resolution  # never reduced
    assert result.stopped == "budget" or [s for s, _ in seen] == [8, 16, 24, 32, 40, 48]
    assert 0.0 <= result.f1_prior <= 1.0 and 0.0 <= result.f1 <= 1.0
    d = result.to_dict()
    assert d["label"] == "encoder capacity (probe)" and d["steps"] == result.steps


def test_report_returning_true_prunes_the_run(tiny):
    calls = []

    def prune_at_second(step: int, value: float) -> bool:
        calls.append(step)
        return len(calls) == 2

    result = probe_encoder(tiny, budget_s=10, eval_every=4, batch=4, n_crops=64,
                           report=prune_at_second)
    assert result.stopped == "pruned"
    assert calls == [4, 8] and result.steps == 8
    assert [s for s, _ in result.per_step] == [4, 8]


def test_budget_is_respected(tiny):
    cfg = preset("tiny", resolution=512)
    result = probe_encoder(cfg, budget_s=2, n_crops=1_000_000, eval_every=50)
    assert result.stopped == "budget" and result.steps < 1_000_000
    assert result.per_step and result.per_step[-1] == (result.steps, result.value)
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
    result = probe_encoder(cfg, budget_s=10, width_factor=0.5, eval_every=8, n_crops=16)
    assert result.resolution == 256 and result.crop == 256
    assert result.widths == (8, 16, 16, 32, 32) and result.width_factor == 0.5
    assert result.stopped == "done" and result.steps == 16
    assert (result.n_train, result.n_test) == (12 * 16, 4 * 16)  # every 4th crop held out


def test_invalid_settings_are_rejected(tiny):
    with pytest.raises(ValueError, match="invalid probe settings"):
        probe_encoder(tiny, budget_s=0)


def test_cell_page_centres_one_glyph_per_token_cell():
    page, classes = cell_page(512, 64, 0, seed=3)
    ink = 255 - np.asarray(page, np.float64)  # 1024 px page; cells of 128 px
    assert page.size == (1024, 1024) and classes.shape == (64,)
    assert classes.min() >= 0 and classes.max() < len(ALPHABET)
    for k in (0, 9, 63):
        i, j = divmod(k, 8)
        cell = ink[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128]
        assert cell.sum() > 0
        ys, xs = np.nonzero(cell)
        cy, cx = np.average(ys, weights=cell[ys, xs]), np.average(xs, weights=cell[ys, xs])
        assert abs(cy - 64) < 16 and abs(cx - 64) < 16  # centred, not jittered
    again, same = cell_page(512, 64, 0, seed=3)
    assert np.array_equal(same, classes) and again.tobytes() == page.tobytes()
    blank, blank_classes = cell_page(512, 64, 0, seed=3, blank=True)
    assert np.array_equal(blank_classes, classes)  # same targets, no glyphs
    assert np.asarray(blank).min() == 255


def test_ridge_matches_the_closed_form_in_both_dimensions():
    gen = torch.Generator().manual_seed(0)
    for n, d in ((30, 50), (80, 10)):  # dual and primal paths
        x, y = torch.randn(n, d, generator=gen).double(), torch.randn(n, 3, generator=gen).double()
        xq = torch.randn(5, d, generator=gen).double()
        xc, yc = x - x.mean(0), y - y.mean(0)
        w = torch.linalg.solve(xc.T @ xc + 0.1 * torch.eye(d, dtype=x.dtype), xc.T @ yc)
        expected = y.mean(0) + (xq - x.mean(0)) @ w
        assert torch.allclose(_ridge(x, y, xq, [0.1])[0], expected, atol=1e-8)


def test_glyph_identity_beats_the_blank_null_control():
    cfg = dataclasses.replace(preset("tiny", resolution=1024), encoder=SMALL)
    kw = {"budget_s": 60, "width_factor": 0.25, "n_crops": 64, "eval_every": 64}
    text = probe_encoder(cfg, **kw)
    blank = probe_encoder(cfg, blank=True, **kw)
    assert text.stopped == blank.stopped == "done"
    assert blank.value < 0.05  # no glyphs: chance
    assert text.value > blank.value + 0.05
    assert text.f1 > 3 * text.f1_prior
