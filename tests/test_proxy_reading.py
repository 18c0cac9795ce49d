"""Tier-1 measured legibility: synthetic pages, the Tesseract reader, the cached curve, and
RapidOCR as a second reader.

Needs the `tesseract` binary with English data and `rapidocr_onnxruntime` (scripts/setup.sh
installs both); these tests fail, they never skip, when either is missing (RapidOCR's tests
skip only on Python 3.13+, which its wheel does not support). Small page counts keep the file
well under two minutes.
"""

from __future__ import annotations

import itertools
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fastvlm.proxy import pages as pages_mod
from fastvlm.proxy import reader as reader_mod
from fastvlm.proxy.legibility import Legibility, is_cached, legibility_curve, legibility_path
from fastvlm.proxy.legibility import measured_legibility
from fastvlm.proxy.pages import FAMILIES, FAMILY_KINDS, GENERATOR_VERSION, KINDS, render_page
from fastvlm.proxy.reader import char_accuracy, degrade, levenshtein, preprocess, reader_version

RESOLUTIONS = (256, 384, 512, 768, 1024, 1536)
TIE = 0.02  # accuracy differences below this count as ties (reader noise on few pages)


# -- pages ------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("font", pages_mod.FONTS)
def test_pages_are_deterministic_grayscale_1024_with_ground_truth(family, font):
    a = render_page(family, 1, seed=3, font=font)
    render_page.cache_clear()
    b = render_page(family, 1, seed=3, font=font)
    assert a.image.mode == "L" and a.image.size == (1024, 1024)
    assert a.image.tobytes() == b.image.tobytes() and a.lines == b.lines
    assert a.kind in FAMILY_KINDS[family]
    assert a.lines and all(line.text.strip() for line in a.lines)
    assert len(a.font_px) == len(a.lines)
    lo, hi = pages_mod.FONT_SIZES[family][2:]
    assert all(lo <= px <= hi for px in a.font_px)
    other = render_page(family, 1, seed=4, font=font)
    assert other.text != a.text


def test_every_kind_renders_and_text_rich_cycles_its_kinds():
    kinds = [render_page("text_rich", i).kind for i in range(6)]
    assert kinds == ["document", "table", "chart"] * 2
    for kind in KINDS:
        page = render_page("text_rich", 0, kind=kind)
        assert page.kind == kind and page.image.size == (1024, 1024) and page.text


def test_null_pages_keep_the_ground_truth_but_carry_no_text():
    normal = render_page("text_rich", 2)
    blank = render_page("text_rich", 2, kind="blank")
    noise = render_page("text_rich", 2, kind="noise")
    assert blank.text == normal.text == noise.text
    assert np.asarray(blank.image).std() == 0
    assert np.asarray(noise.image).std() > 5


def test_font_px_override_and_font_size_distributions():
    page = render_page("text_rich", 0, font_px=48)
    assert set(page.font_px) == {48}
    small = [px for i in range(30) for px in set(render_page("text_rich", i).font_px)]
    large = [px for i in range(30) for px in render_page("general", i).font_px]
    assert 10 <= np.median(small) <= 18 and 22 <= np.median(large) <= 34


@pytest.mark.parametrize("call, match", [
    (lambda: render_page("poster", 0), "unknown page family 'poster'; valid: text_rich"),
    (lambda: render_page("text_rich", 0, kind="memo"), "unknown page kind 'memo'; valid"),
    (lambda: render_page("text_rich", 0, font="comic"), "unknown font 'comic'; valid: dejavu"),
    (lambda: render_page("text_rich", 0, font_px=2), "font_px 2 is invalid"),
])
def test_page_arguments_are_validated(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_missing_dejavu_names_the_debian_package(monkeypatch, tmp_path):
    monkeypatch.setattr(pages_mod, "DEJAVU", tmp_path / "DejaVuSans.ttf")
    pages_mod.load_font.cache_clear()
    try:
        with pytest.raises(FileNotFoundError, match="fonts-dejavu-core"):
            pages_mod.load_font("dejavu", 12)
    finally:
        pages_mod.load_font.cache_clear()


# -- reader -----------------------------------------------------------------------------------

def _reference_levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_levenshtein_matches_the_textbook_recurrence():
    rng = np.random.default_rng(0)
    cases = [("", ""), ("", "abc"), ("kitten", "sitting"), ("flaw", "lawn"), ("ü€", "u€")]
    cases += [("".join(rng.choice(list("abc"), rng.integers(0, 15))),
               "".join(rng.choice(list("abcd"), rng.integers(0, 15)))) for _ in range(200)]
    for a, b in cases:
        assert levenshtein(a, b) == _reference_levenshtein(a, b), (a, b)


def test_char_accuracy_normalises_whitespace_and_clips_at_zero():
    assert char_accuracy("AB  cd\nEF", " AB cd EF \n") == 1.0
    assert char_accuracy("ABCD", "ABXD") == 0.75
    assert char_accuracy("AB", "garbage text that is long") == 0.0
    assert char_accuracy("AB", "") == 0.0


def test_preprocess_pads_to_square_then_resizes_with_the_kernel():
    page = render_page("text_rich", 0).image
    for kernel in reader_mod.KERNELS:
        assert preprocess(page, 384, kernel).size == (384, 384)
        assert degrade(page, 384, kernel).size == (1536, 1536)  # read at READ_SIZE
        assert degrade(page, 2048, kernel).size == (2048, 2048)  # the model's view, as is
    wide = Image.new("L", (200, 100), 255)
    square = preprocess(wide, 64)
    assert square.size == (64, 64)
    assert np.asarray(square)[2, 32] == reader_mod.PAD_GRAY == 0  # black band above the content
    assert np.asarray(square)[32, 32] == 255  # the content
    bicubic, area = preprocess(page, 256, "bicubic"), preprocess(page, 256, "area")
    assert bicubic.tobytes() != area.tobytes()
    with pytest.raises(ValueError, match="unknown resize kernel 'lanczos'; valid: bicubic, area"):
        preprocess(page, 256, "lanczos")


def test_reader_is_installed_and_versioned():
    version = reader_version()  # no skip: CI installs tesseract, a missing reader must fail
    assert version.startswith("tesseract 5") or version.startswith("tesseract 4")


def test_missing_tesseract_gives_one_line_install_hint(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    reader_version.cache_clear()
    try:
        with pytest.raises(reader_mod.ReaderMissingError) as info:
            reader_version()
    finally:
        reader_version.cache_clear()
    message = str(info.value)
    assert "apt-get install tesseract-ocr tesseract-ocr-eng" in message and "\n" not in message


def test_reader_reads_a_clean_page_at_full_resolution():
    page = render_page("text_rich", 2, font_px=24)
    assert reader_mod.read_page(page, 1024) > 0.9


NO_RAPIDOCR_WHEEL = pytest.mark.skipif(sys.version_info >= (3, 13),
                                       reason="rapidocr_onnxruntime supports Python < 3.13 only")


@NO_RAPIDOCR_WHEEL
def test_second_reader_sees_the_same_curve():
    """RapidOCR (no code shared with Tesseract) loses small text at 256 and reads it at 1024,
    reads blank pages as nothing, and gets its own cache keys."""
    assert reader_version("rapidocr").startswith("rapidocr_onnxruntime 1.")
    values = _values(legibility_curve((256, 512, 1024), "text_rich", pages=3, reader="rapidocr"))
    for lo, hi in itertools.pairwise(values):
        assert hi >= lo - TIE, values
    assert values[-1] > 0.8 and values[-1] - values[0] > 0.3, values  # 0.50, 0.90, 0.97 here
    blank = measured_legibility(1024, "text_rich", kind="blank", pages=2, reader="rapidocr")
    assert blank.value < 0.05 and blank.reader.startswith("rapidocr")
    assert blank.key != measured_legibility(1024, "text_rich", kind="blank", pages=2).key


def test_missing_rapidocr_gives_one_line_install_hint(monkeypatch):
    def not_installed(name):
        raise reader_mod.importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(reader_mod.importlib.metadata, "version", not_installed)
    reader_version.cache_clear()
    try:
        with pytest.raises(reader_mod.ReaderMissingError) as info:
            reader_version("rapidocr")
    finally:
        reader_version.cache_clear()
    assert "pip install rapidocr_onnxruntime" in str(info.value) and "\n" not in str(info.value)


# -- measured legibility ----------------------------------------------------------------------

def _values(curve: dict[int, Legibility]) -> list[float]:
    return [curve[r].value for r in sorted(curve)]


def test_small_fonts_never_lose_accuracy_as_resolution_rises():
    curve = legibility_curve(RESOLUTIONS, "text_rich", pages=6)
    values = _values(curve)
    for lo, hi in itertools.pairwise(values):
        assert hi >= lo - TIE, values
    assert values[-1] - values[0] > 0.3, values  # resolution matters for small text
    assert all(0.0 <= v <= 1.0 for v in values)


def test_large_fonts_saturate():
    curve = legibility_curve(RESOLUTIONS, "text_rich", kind="document", font_px=48, pages=3)
    values = _values(curve)
    assert max(values) - min(values) < TIE, values
    assert min(values) > 0.9, values


@pytest.mark.parametrize("kind", ["blank", "noise"])
def test_null_pages_score_chance_at_every_resolution(kind):
    values = _values(legibility_curve((256, 1024, 1536), "text_rich", kind=kind, pages=3))
    assert max(values) < 0.05, values


def test_repeated_call_is_cached_and_identical():
    assert not is_cached(512, "general", pages=2) and not legibility_path().exists()
    first = measured_legibility(512, "general", pages=2)
    assert is_cached(512, "general", pages=2) and not is_cached(512, "general", pages=2, seed=1)
    again = measured_legibility(512, "general", pages=2)
    assert not first.cached and again.cached
    assert again.value == first.value and again.key == first.key
    assert again.cost_ms < first.cost_ms and again.measure_ms == first.measure_ms
    assert legibility_path().is_file() and "proxy" in str(legibility_path())
    other = measured_legibility(512, "general", pages=2, kernel="area")
    assert not other.cached and other.key != first.key
    d = first.to_dict()
    assert d["n_pages"] == 2 and len(d["per_page"]) == 2 and d["reader"] == reader_version()
    assert 0 <= d["stderr"] < 1 and str(GENERATOR_VERSION)


def test_two_processes_share_the_cache():
    code = ("from fastvlm.proxy.legibility import measured_legibility as m; "
            "print(m(256, 'text_rich', kind='blank', pages=2).value)")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
    assert measured_legibility(256, "text_rich", kind="blank", pages=2).cached


@pytest.mark.parametrize("kwargs, match", [
    ({"resolution": 16}, "resolution 16 is invalid; valid: integers 32..4096"),
    ({"resolution": 512.0}, "resolution 512.0 is invalid"),
    ({"family": "poster"}, "unknown page family 'poster'; valid: text_rich, general"),
    ({"kind": "memo"}, "unknown page kind 'memo'; valid: document"),
    ({"font": "comic"}, "unknown font 'comic'; valid: dejavu, aileron"),
    ({"kernel": "nearest"}, "unknown resize kernel 'nearest'; valid: bicubic, area"),
    ({"pages": 0}, "pages 0 is invalid"),
    ({"reader": "easyocr"}, "unknown reader 'easyocr'; valid: tesseract, rapidocr"),
])
def test_legibility_arguments_are_validated(kwargs, match):
    args = {"resolution": 512, "family": "text_rich", **kwargs}
    with pytest.raises(ValueError, match=match) as info:
        measured_legibility(args.pop("resolution"), args.pop("family"), **args)
    assert "\n" not in str(info.value)
