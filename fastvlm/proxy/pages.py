"""Fixed-seed synthetic text-rich pages with known ground truth (tier-1 and tier-2 proxy input).

    python -c "from fastvlm.proxy.pages import render_page as r; r('text_rich', 0).image.show()"

Every page is 1024 x 1024 grayscale ("L") and carries its ground truth line by line, in reading
order (top to bottom). Content is random alphanumerics and numbers, so no language prior helps a
reader. Font sizes (pixels at 1024, em size) are log-normal per family:

    text_rich  document / table / chart   median 14 px, clipped 7..40   (DocVQA / ChartQA-like)
    general    scene                      median 28 px, clipped 12..72  (TextVQA-like)

Null controls: kind "blank" (empty page) and "noise" (random noise) keep the ground truth of a
normal page of the family, so any reader scores chance on them. A page is a pure function of
(family, kind, seed, index, font, font_px, GENERATOR_VERSION); bump the version whenever the
output of this module changes, because caches key on it.
"""

from __future__ import annotations

import functools
import string
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

GENERATOR_VERSION = 1
PAGE_SIZE = 1024  # pixels per side; font sizes are quoted at this size
FAMILIES = ("text_rich", "general")
FAMILY_KINDS = {"text_rich": ("document", "table", "chart"), "general": ("scene",)}
NULL_KINDS = ("blank", "noise")
KINDS = ("document", "table", "chart", "scene") + NULL_KINDS
# (median px, log-normal sigma, min px, max px) of the em size at 1024
FONT_SIZES = {"text_rich": (14.0, 0.35, 7, 40), "general": (28.0, 0.35, 12, 72)}
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONTS = ("dejavu", "aileron")
# Random strings avoid glyphs no reader can tell apart without context (I/l/1, O/0).
LETTERS = "".join(c for c in string.ascii_letters if c not in "IlO")
DIGITS = "0123456789"
MARGIN = 48


@dataclass(frozen=True)
class Line:
    """One ground-truth text line and its bounding box (x0, y0, x1, y1) at 1024."""

    text: str
    box: tuple[int, int, int, int]


@dataclass
class Page:
    image: Image.Image  # "L", PAGE_SIZE x PAGE_SIZE
    lines: list[Line]
    font_px: list[int] = field(default_factory=list)  # em size of each line, px at 1024
    kind: str = ""
    # (char, x, y): centre of every non-space glyph in pixels at 1024 (tier-2 per-token targets)
    chars: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown page family {family!r}; valid: {', '.join(FAMILIES)}")


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown page kind {kind!r}; valid: {', '.join(KINDS)}")


def check_font(font: str) -> None:
    if font not in FONTS:
        raise ValueError(f"unknown font {font!r}; valid: {', '.join(FONTS)}")


def page_kind(family: str, index: int) -> str:
    """The kind of the `index`-th page of a family (kinds cycle, so any n is balanced)."""
    kinds = FAMILY_KINDS[family]
    return kinds[index % len(kinds)]


@functools.lru_cache(maxsize=256)
def render_page(family: str, index: int, *, seed: int = 0, font: str = "dejavu",
                kind: str | None = None, font_px: int | None = None,
                text_scale: float = 1.0) -> Page:
    """The `index`-th page of `family` (or of `kind`, e.g. a null control) for `seed`.

    Args:
        kind: override the family's page kind; "blank"/"noise" keep a normal page's ground truth.
        font_px: draw every line at this em size (px at 1024) instead of the family's distribution.
        text_scale: multiply the family's font-size distribution (median and clip range); the
            tier-1 calibration picks it so the pages' text sizes match the benchmarks' (the
            layout and the random content stay the same).
    """
    check_family(family)
    check_font(font)
    kind = kind or page_kind(family, index)
    check_kind(kind)
    if font_px is not None and not 4 <= font_px <= 200:
        raise ValueError(f"font_px {font_px} is invalid; valid: 4..200")
    if not 0.25 <= text_scale <= 4:
        raise ValueError(f"text_scale {text_scale} is invalid; valid: 0.25..4")
    content_kind = page_kind(family, index) if kind in NULL_KINDS else kind
    # seeded by the content kind, so a null page has exactly its normal page's ground truth
    rng = np.random.default_rng([GENERATOR_VERSION, seed, index,
                                 zlib.crc32(content_kind.encode()), zlib.crc32(family.encode())])
    sizes = _SizeSampler(family, rng, font_px, text_scale)
    page = _DRAW[content_kind](rng, sizes, font)
    page.kind = kind
    if kind == "blank":
        page.image = Image.new("L", (PAGE_SIZE, PAGE_SIZE), 255)
    elif kind == "noise":
        # white noise, slightly blurred: no content, and Tesseract does not spend seconds on it
        noise = rng.integers(0, 256, (PAGE_SIZE, PAGE_SIZE), np.uint8)
        page.image = Image.fromarray(noise, "L").filter(ImageFilter.GaussianBlur(2))
    return page


def render_pages(family: str, n: int, **kw) -> list[Page]:
    """Pages 0..n-1 of `family` (keyword arguments as in `render_page`)."""
    return [render_page(family, i, **kw) for i in range(n)]


class _SizeSampler:
    def __init__(self, family: str, rng: np.random.Generator, fixed: int | None,
                 scale: float = 1.0):
        self.params, self.rng, self.fixed, self.scale = FONT_SIZES[family], rng, fixed, scale

    def __call__(self) -> int:
        if self.fixed is not None:
            return self.fixed
        median, sigma, lo, hi = self.params
        px = median * self.scale * np.exp(sigma * self.rng.standard_normal())
        return int(np.clip(round(px), max(4, round(lo * self.scale)), round(hi * self.scale)))


@functools.lru_cache(maxsize=512)
def load_font(font: str, px: int) -> ImageFont.FreeTypeFont:
    """A scalable font at em size `px`: DejaVu Sans (Debian) or Pillow's embedded Aileron."""
    check_font(font)
    if font == "aileron":
        return ImageFont.load_default(size=px)
    if not DEJAVU.is_file():
        raise FileNotFoundError(f"{DEJAVU} is missing; install the Debian package "
                                "fonts-dejavu-core (apt-get install fonts-dejavu-core)")
    return ImageFont.truetype(str(DEJAVU), px)


# -- random content ---------------------------------------------------------------------------

def _word(rng, lo: int = 2, hi: int = 8, alphabet: str = LETTERS + DIGITS) -> str:
    return "".join(rng.choice(list(alphabet), int(rng.integers(lo, hi + 1))))


def _number(rng) -> str:
    style = rng.integers(3)
    if style == 0:
        return str(int(rng.integers(0, 100000)))
    if style == 1:
        return f"{rng.uniform(0, 1000):.{int(rng.integers(1, 3))}f}"
    return f"{int(rng.integers(1, 100))}%"


def _key(rng) -> str:
    return _word(rng, 2, 5, LETTERS.upper() + DIGITS)


# -- page kinds -------------------------------------------------------------------------------

def _blank_page(rng) -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    paper = int(rng.integers(235, 256))
    img = Image.new("L", (PAGE_SIZE, PAGE_SIZE), paper)
    return img, ImageDraw.Draw(img), int(rng.integers(0, 60))  # image, drawer, ink


def _draw_document(rng, sizes, font: str) -> Page:
    """Blocks of random-word lines and two-column key: value form lines."""
    img, draw, ink = _blank_page(rng)
    lines, pxs, chars, y = [], [], [], MARGIN
    for block in range(int(rng.integers(2, 5))):
        px = sizes()
        f, step = load_font(font, px), round(1.6 * px)
        for _ in range(int(rng.integers(3, 7))):
            if y + step > PAGE_SIZE - MARGIN:
                break
            if block % 2 == 0:
                words = [_word(rng) for _ in range(int(rng.integers(3, 9)))]
            else:
                words = [f"{_key(rng)}: {_number(rng)}" for _ in range(int(rng.integers(1, 3)))]
            text = _fit(words, f, PAGE_SIZE - 2 * MARGIN, sep="   " if block % 2 else " ")
            _text(draw, chars, (MARGIN, y), text, f, ink)
            lines.append(Line(" ".join(text.split()), _box(draw, (MARGIN, y), text, f)))
            pxs.append(px)
            y += step
        y += step  # gap between blocks
    return Page(img, lines, pxs, chars=chars)


def _draw_table(rng, sizes, font: str) -> Page:
    """A booktabs-style grid (horizontal rules, zebra rows): header keys, numeric/code cells."""
    img, draw, ink = _blank_page(rng)
    px = sizes()
    f, row_h, pad = load_font(font, px), round(1.8 * px), max(8, px)
    n_cols, n_rows = int(rng.integers(3, 7)), int(rng.integers(8, 17))
    cells = [[_key(rng) for _ in range(n_cols)]]
    cells += [[_number(rng) if rng.random() < 0.6 else _word(rng, 2, 6) for _ in range(n_cols)]
              for _ in range(n_rows)]
    widths = [max(f.getlength(row[c]) for row in cells) + 2 * pad for c in range(n_cols)]
    while sum(widths) > PAGE_SIZE - 2 * MARGIN and len(widths) > 1:  # drop columns that overflow
        widths.pop()
        cells = [row[:len(widths)] for row in cells]
    rows_fit = (PAGE_SIZE - 2 * MARGIN) // row_h
    cells = cells[:rows_fit]
    x0, y0 = MARGIN, MARGIN
    x1 = x0 + int(sum(widths))
    lines, chars, shade = [], [], int(rng.integers(225, 240))
    for r, row in enumerate(cells):
        y = y0 + r * row_h
        if r > 0 and r % 2 == 0:
            draw.rectangle((x0, y, x1, y + row_h - 1), fill=shade)
        x = x0
        for text, w in zip(row, widths):
            _text(draw, chars, (x + pad, y + (row_h - px) // 2), text, f, ink)
            x += w
        lines.append(Line(" ".join(row), (x0, y, x1, y + row_h)))
    rule = max(1, px // 10)
    for y in (y0, y0 + row_h, y0 + len(cells) * row_h):
        draw.rectangle((x0, y - rule // 2, x1, y - rule // 2 + rule - 1), fill=ink)
    return Page(img, lines, [px] * len(lines), chars=chars)


def _draw_chart(rng, sizes, font: str) -> Page:
    """A horizontal bar chart: title, category labels, value labels, numeric x ticks."""
    img, draw, ink = _blank_page(rng)
    px = sizes()
    f, row_h = load_font(font, px), round(2.2 * px)
    n_bars = int(min(rng.integers(4, 11), (PAGE_SIZE - 2 * MARGIN) // row_h - 4))
    top = int(rng.choice([10, 50, 100, 500, 1000]))
    decimals = int(rng.integers(0, 2))
    values = rng.uniform(0.05, 1.0, n_bars) * top
    cats = [_word(rng, 3, 7) for _ in range(n_bars)]
    labels = [f"{v:.{decimals}f}" for v in values]
    lines, chars, y = [], [], MARGIN
    title = _fit([_word(rng) for _ in range(int(rng.integers(2, 5)))], f, PAGE_SIZE - 2 * MARGIN)
    _text(draw, chars, (MARGIN, y), title, f, ink)
    lines.append(Line(title, _box(draw, (MARGIN, y), title, f)))
    y += 2 * row_h
    x_axis = MARGIN + int(max(f.getlength(c) for c in cats)) + px
    span = PAGE_SIZE - MARGIN - x_axis - int(max(f.getlength(v) for v in labels)) - 2 * px
    bar_ink = int(rng.integers(80, 170))
    for cat, value, label in zip(cats, values, labels):
        end = x_axis + max(2, int(value / top * span))
        _text(draw, chars, (MARGIN, y + (row_h - px) // 2), cat, f, ink)
        draw.rectangle((x_axis, y + row_h // 5, end, y + row_h - row_h // 5), fill=bar_ink)
        _text(draw, chars, (end + px // 2, y + (row_h - px) // 2), label, f, ink)
        lines.append(Line(f"{cat} {label}", (MARGIN, y, end + px // 2 + int(f.getlength(label)),
                                              y + row_h)))
        y += row_h
    draw.line((x_axis, MARGIN + 2 * row_h, x_axis, y), fill=ink, width=max(1, px // 10))
    draw.line((x_axis, y, x_axis + span, y), fill=ink, width=max(1, px // 10))
    ticks = [f"{top * k / 4:g}" for k in range(5)]
    for k, tick in enumerate(ticks):
        x = x_axis + k * span // 4
        draw.line((x, y, x, y + px // 3), fill=ink)
        _text(draw, chars, (x - f.getlength(tick) / 2, y + px // 2), tick, f, ink)
    lines.append(Line(" ".join(ticks), (x_axis, y, x_axis + span, y + 2 * px)))
    return Page(img, lines, [px] * len(lines), chars=chars)


def _draw_scene(rng, sizes, font: str) -> Page:
    """A few short words, rotated, on a cluttered low-frequency texture with pixel noise."""
    coarse = rng.uniform(0, 1, (12, 12)).astype(np.float32)
    bg = np.asarray(Image.fromarray(coarse, "F").resize((PAGE_SIZE, PAGE_SIZE),
                                                        Image.Resampling.BICUBIC))
    lo = rng.uniform(165, 200)  # background stays well above the ink, as on a legible sign
    bg = lo + (245 - lo) * np.clip(bg, 0, 1)
    img = Image.fromarray(bg.astype(np.uint8), "L")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(5, 15))):  # clutter: soft blobs
        x, y, r = (int(v) for v in rng.integers(0, PAGE_SIZE, 3) // (1, 1, 6))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=int(rng.integers(165, 235)))
    img = img.filter(ImageFilter.GaussianBlur(6))
    n = int(rng.integers(4, 9))
    band, lines, pxs, chars = PAGE_SIZE // n, [], [], []
    for i in range(n):
        px, word = sizes(), _word(rng, 3, 8)
        f = load_font(font, px)
        w, h = int(f.getlength(word)) + px, 2 * px
        mask, local = Image.new("L", (w, h), 0), []
        _text(ImageDraw.Draw(mask), local, (px // 2, px // 2), word, f, 255)
        angle = float(rng.uniform(-6, 6))
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        x = int(rng.integers(0, max(1, PAGE_SIZE - mask.width)))
        y = i * band + int(rng.integers(0, max(1, band - mask.height)))
        cos, sin = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        for ch, cx, cy in local:  # PIL turns counter-clockwise about the centre (y points down)
            dx, dy = cx - w / 2, cy - h / 2
            chars.append((ch, x + mask.width / 2 + dx * cos + dy * sin,
                          y + mask.height / 2 - dx * sin + dy * cos))
        img.paste(int(rng.integers(0, 60)), (x, y), mask)
        lines.append(Line(word, (x, y, x + mask.width, y + mask.height)))
        pxs.append(px)
    noisy = np.asarray(img, np.float32) + rng.normal(0, 4, (PAGE_SIZE, PAGE_SIZE))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "L")
    return Page(image, lines, pxs, chars=chars)


_DRAW = {"document": _draw_document, "table": _draw_table, "chart": _draw_chart,
         "scene": _draw_scene}


def _text(draw: ImageDraw.ImageDraw, chars: list, xy, text: str, font, fill: int) -> None:
    """Draw `text` and record the centre of each glyph (advance widths; kerning ignored)."""
    draw.text(xy, text, fill=fill, font=font)
    x, y = xy
    top, bottom = font.getbbox("Hg")[1::2]
    for k, ch in enumerate(text):
        if not ch.isspace():
            chars.append((ch, x + font.getlength(text[:k]) + font.getlength(ch) / 2,
                          y + (top + bottom) / 2))


def _fit(words: list[str], font, width: float, sep: str = " ") -> str:
    """Join words while the line fits in `width` pixels (at least one word)."""
    out = words[:1]
    for w in words[1:]:
        if font.getlength(sep.join(out + [w])) > width:
            break
        out.append(w)
    return sep.join(out)


def _box(draw: ImageDraw.ImageDraw, xy, text: str, font) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in draw.textbbox(xy, text, font=font))
