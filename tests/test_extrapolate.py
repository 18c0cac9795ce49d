import dataclasses

import pytest

from fastvlm import preset
from fastvlm.extrapolate import fit_layers, plan_layers
from fastvlm.runtime import MeasureError
from fastvlm.stats import Latency


def lat(ms):
    return Latency.from_samples([ms * f for f in (0.99, 1.0, 1.01, 1.0, 1.0)])


def test_linear_fit_recovers_the_full_depth():
    per_layer = {L: lat(30 + 50 * L) for L in (1, 2, 4, 8)}
    fit = fit_layers(per_layer, 24)
    assert fit["median_ms"] == pytest.approx(30 + 50 * 24)
    assert fit["b_ms_per_layer"] == pytest.approx(50) and fit["r2"] == pytest.approx(1.0)
    assert fit["ci_ms"][0] <= fit["median_ms"] <= fit["ci_ms"][1] <= fit["p90_ms"] * 1.01


def test_extrapolated_interval_holds_the_prediction():
    """Intervals of different widths per depth: fitting each end on its own puts both ends
    above the prediction at 28 layers (1475 and 1503 ms around 1430 ms)."""
    import dataclasses

    def with_ci(ms, low, high):
        return dataclasses.replace(lat(ms), ci_low_ms=low, ci_high_ms=high)

    per_layer = {1: with_ci(80, 73.6, 80.2), 2: with_ci(130, 127.3, 138.1),
                 4: with_ci(230, 229.6, 239.1)}
    fit = fit_layers(per_layer, 28)
    assert fit["median_ms"] == pytest.approx(30 + 50 * 28)
    assert fit["ci_ms"][0] <= fit["median_ms"] <= fit["ci_ms"][1]


def test_plan_picks_variants_that_fit():
    cfg = preset("fastvlm-7b")
    full = plan_layers(cfg, "auto", budget_mb=1e9)
    assert not full.extrapolate and full.layers == (28,)
    tight = plan_layers(cfg, "auto", budget_mb=9000)
    assert tight.extrapolate and tight.layers[0] == 1 and tight.layers[-1] < 8
    assert plan_layers(cfg, "auto", budget_mb=20000).layers == (1, 2, 4, 8)
    assert plan_layers(preset("tiny"), "always", budget_mb=1e9).layers == (1, 2)
    tiny = preset("tiny")
    one = dataclasses.replace(tiny, llm=dataclasses.replace(tiny.llm, num_layers=1))
    with pytest.raises(MeasureError, match="has 1 layer: nothing to extrapolate from"):
        plan_layers(one, "always", budget_mb=1e9)
