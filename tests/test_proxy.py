"""Tier-0 proxy, registry, calibration and CLI: the validation properties that need no OCR."""

import json
import subprocess
import sys

import pytest

from explorer.cli import main
from fastvlm.config import ConfigError
from fastvlm.presets import preset
from fastvlm.proxy import REGISTRY, evaluate, get_proxy
from fastvlm.proxy import calibrate as C
from fastvlm.proxy.published import DATA_FILE, data_version, load_points

RESOLUTIONS = (256, 384, 512, 768, 1024, 1536)
LLMS = ("fastvlm-0.5b", "fastvlm-1.5b", "fastvlm-7b")


def value(name, family="text_rich", tier=0, **overrides):
    return evaluate(preset(name, **overrides), tier).families[family].value


def test_registry_names_tiers_and_costs():
    assert sorted(REGISTRY) == [0, 1, 2]
    for tier, spec in REGISTRY.items():
        assert spec.tier == tier and spec.expected_cost and spec.measures
        assert get_proxy(spec.name) is spec and get_proxy(str(tier)) is spec
    with pytest.raises(ConfigError, match=r"unknown proxy tier 3; valid: 0 \(surrogate\)"):
        get_proxy(3)
    with pytest.raises(ConfigError, match="takes no option"):
        evaluate(preset("fastvlm-0.5b"), 0, budget_s=3)


def test_result_shape_labels_and_error_bars():
    d = evaluate(preset("fastvlm-0.5b", resolution=512), 0).to_dict()
    assert d["tier"] == 0 and d["label"] == "proxy accuracy (tier 0)"
    assert set(d["families"]) == {"text_rich", "general"}
    for fam, v in d["families"].items():
        assert 0 < v["value"] < 1 and v["uncertainty"] > 0
        assert v["label"] == f"proxy accuracy ({fam.replace('_', '-')}, tier 0)"
        assert d["calibration_rmse"][fam] > 0
        assert v["uncertainty"] >= d["calibration_rmse"][fam] - 1e-6
    assert d["llm_prior"] is True and any("LLM-size" in n for n in d["notes"])
    assert "TextVQA" not in json.dumps({k: d[k] for k in ("label", "families", "notes")})


@pytest.mark.parametrize("name", LLMS)
def test_monotone_in_resolution_and_text_rich_more_sensitive(name):
    text = [value(name, resolution=r) for r in RESOLUTIONS]
    general = [value(name, "general", resolution=r) for r in RESOLUTIONS]
    assert text == sorted(text) and general == sorted(general)
    assert text[-2] - text[0] > 0.1, "FastViTHD@1024 must beat @256 on text-rich"
    assert text[-2] - text[0] > 2 * (general[-2] - general[0])


@pytest.mark.parametrize("resolution", (256, 512, 768, 1024))
def test_llm_size_ordering_at_equal_vision(resolution):
    for family in ("text_rich", "general"):
        v = [value(n, family, resolution=resolution) for n in LLMS]
        assert v[0] < v[1] < v[2]


def test_extrapolation_and_unfitted_priors_widen_the_band():
    inside = evaluate(preset("fastvlm-0.5b", resolution=1024), 0)
    outside = evaluate(preset("fastvlm-0.5b", resolution=1536), 0)
    assert outside.families["text_rich"].uncertainty > inside.families["text_rich"].uncertainty
    assert any("outside the calibrated range" in n for n in outside.notes)
    half = evaluate(preset("fastvlm-0.5b", widths=(48, 96, 192, 384, 768)), 0)
    assert half.families["text_rich"].value < inside.families["text_rich"].value
    assert half.families["text_rich"].uncertainty > inside.families["text_rich"].uncertainty


def test_measured_legibility_beyond_the_calibrated_resolutions_widens_the_band():
    """Tier 1 reads the same pages at 1536 as at 1024 (rendered at 1024): the value stays, but
    the band must not claim the calibration's precision there (it said 'widened' and was not)."""
    import time

    from fastvlm.proxy.tiers import _score

    measured = {"text_rich": 0.5, "general": 0.8}  # the same reading at both resolutions

    def tier1_like(resolution):
        cfg = preset("fastvlm-0.5b", resolution=resolution)
        return _score(cfg, 1, measured, None, "", "ocr-legibility", time.perf_counter())

    inside, outside = tier1_like(1024), tier1_like(1536)
    for fam in ("text_rich", "general"):
        assert outside.families[fam].value == pytest.approx(inside.families[fam].value, abs=0.01)
    # text-rich: tier 0 predicts +0.026 from 1024 to 1536 px; that is now in the band
    assert outside.families["text_rich"].uncertainty > \
        inside.families["text_rich"].uncertainty + 0.005
    assert tier1_like(768).families["text_rich"].uncertainty == pytest.approx(
        inside.families["text_rich"].uncertainty)


def test_pooling_tokens_costs_text_rich_accuracy():
    full = value("fastvlm-0.5b", resolution=1024)
    pooled = value("fastvlm-0.5b", resolution=1024, output_pool=4)  # 256 -> 16 tokens
    assert pooled < full - 0.05


def test_calibration_is_reproducible_and_beats_the_baseline():
    stored = C.load()
    assert stored["data"]["version"] == data_version(DATA_FILE)
    fresh = C.calibrate()
    for family in ("text_rich", "general"):
        a, b = stored["tiers"]["0"][family], fresh["tiers"]["0"][family]
        for key in ("beta", "loo_rmse", "median_xheight", "leave_one_llm_out_rmse"):
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), key
        assert a["loo_rmse"] < a["baseline_loo_rmse"]
        assert a["beta"] >= 0 and all(v >= 0 for v in a["lambda"].values())


def test_calibration_points_compare_like_with_like():
    points, notes = load_points()
    assert len(points) > 60
    assert all(p.resolution <= 1024 for p in points)  # no 2048 tiled rows
    groups = {(p.group, p.benchmark) for p in points}
    for g in groups:
        assert sum((p.group, p.benchmark) == g for p in points) >= 2
    assert any("dynamic" in n for n in notes)


def test_tier0_imports_no_torch():
    code = ("import sys; from fastvlm.presets import preset; from fastvlm.proxy import evaluate;"
            "evaluate(preset('fastvlm-0.5b'), 0); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cli_json_and_errors(capsys):
    assert main(["proxy", "--preset", "fastvlm-1.5b", "--resolution", "768", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("tier", "label", "families", "calibration_rmse", "cost_ms"):
        assert key in d
    assert {"value", "uncertainty"} <= set(d["families"]["general"])
    assert main(["proxy", "--tier", "7"]) == 2
    assert "valid: 0 (surrogate)" in capsys.readouterr().err
    assert main(["proxy", "--resolution", "500"]) == 2
    assert main(["proxy", "--preset", "fastvlm-0.5b"]) == 0
    out = capsys.readouterr().out
    assert "proxy accuracy (text-rich, tier 0)" in out and "LOO calibration RMSE" in out


def test_tier1_measures_legibility_at_the_configs_resolution():
    lo = evaluate(preset("fastvlm-0.5b", resolution=256), 1)
    hi = evaluate(preset("fastvlm-0.5b", resolution=1024), 1)
    assert lo.tier == 1 and lo.label == "proxy accuracy (tier 1)"
    assert lo.families["general"].label == "proxy accuracy (general, tier 1)"
    assert hi.families["text_rich"].value > lo.families["text_rich"].value + 0.1
    legible = [hi.factors["per_family"][f]["legibility"] for f in ("text_rich", "general")]
    assert all(0 < v <= 1 for v in legible)
    assert any("measured by tesseract" in n for n in hi.notes)
    again = evaluate(preset("fastvlm-1.5b", resolution=1024), 1)  # other LLM: same pages, cached
    assert any("(cached)" in n for n in again.notes)


def test_validation_report_passes_its_checks():
    from fastvlm.proxy.validate import render_report, validate

    report = validate(quick=True)
    failed = [c["name"] for c in report["checks"] if c["passed"] is False]
    assert not failed, render_report(report)
    names = " ".join(c["name"] for c in report["checks"])
    for topic in ("monotone", "saturation", "null control: blank", "null control: noise",
                  "0.5B < 1.5B < 7B", "beyond size", "robustness", "cost: tier 0"):
        assert topic in names
    variants = {"font aileron", "kernel area"}
    if sys.version_info < (3, 13):  # where the `ocr` extra installs RapidOCR (pyproject)
        variants.add("reader rapidocr")
    else:  # no wheel: the report says the reader was left out
        assert report["robustness"]["left_out"].startswith("reader rapidocr left out")
    assert set(report["robustness"]["kendall_tau"]) >= variants


def test_validation_without_the_optional_reader_says_so(monkeypatch):
    from fastvlm.proxy import validate as validate_mod
    from fastvlm.proxy.reader import ReaderMissingError

    def missing(reader="tesseract"):
        raise ReaderMissingError("rapidocr_onnxruntime is not installed; pip install ...")

    monkeypatch.setattr(validate_mod, "reader_version", missing)
    robust = validate_mod._robustness(1, (0, 1), lambda *_: None, 1.0)
    assert "reader rapidocr" not in robust["kendall_tau"]
    assert robust["left_out"].startswith("reader rapidocr left out: rapidocr_onnxruntime is not")


def test_tier2_probes_the_encoder_and_reports_progress():
    seen = []
    cfg = preset("tiny", resolution=256)
    r = evaluate(cfg, 2, budget_s=12, report=lambda step, v: seen.append((step, v)))
    assert r.tier == 2 and r.families["text_rich"].label == "proxy accuracy (text-rich, tier 2)"
    probe = r.factors["probe"]
    assert probe["resolution"] == 256 and probe["per_step"] and seen
    assert all(0 <= v <= 1 for _, v in seen)
    assert any("reference FastViTHD probe" in n for n in r.notes)


def test_tier2_shift_measures_width_and_keeps_the_prior_for_depth():
    import dataclasses

    from fastvlm.analytic import encoder_cost
    from fastvlm.proxy.surrogate import encoder_shift
    from fastvlm.proxy.tiers import PROBE_TIE, probe_shift

    ref = preset("fastvlm-0.5b", resolution=1024)
    narrow = dataclasses.replace(ref, encoder=dataclasses.replace(
        ref.encoder, widths=(48, 96, 192, 384, 768)))
    shallow = dataclasses.replace(ref, encoder=dataclasses.replace(ref.encoder,
                                                                   depths=(1, 3, 6, 1, 1)))
    assert probe_shift(narrow, ref, 0.01, 0.02)[0] is None  # both at chance: prior kept
    shift, why = probe_shift(narrow, ref, 0.15, 0.15 + PROBE_TIE / 2)
    assert shift == 0.0 and "a tie" in why  # same depths: no prior part either
    worse, why = probe_shift(narrow, ref, 0.08, 0.16)
    assert worse < 0 and "probe shift" in why and "depth" not in why
    assert probe_shift(narrow, ref, 0.24, 0.16)[0] > 0
    # equal probe values: a shallower encoder still pays the depth part of the prior
    tie, why = probe_shift(shallow, ref, 0.16, 0.16)
    expected = (encoder_shift(encoder_cost(shallow.encoder, 1024)[0])
                - encoder_shift(encoder_cost(ref.encoder, 1024)[0]))
    assert tie == pytest.approx(expected) and tie < 0 and "a tie" in why and "depth" in why
    assert probe_shift(preset("fastvit-0.5b", resolution=1024), ref, 0.2, 0.1)[0] is None
