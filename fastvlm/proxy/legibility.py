"""Tier-1 measured legibility: can text still be read at the model's input resolution r?

    python -c "from fastvlm.proxy.legibility import legibility_curve as c; \
print({r: round(v.value, 3) for r, v in c([256, 512, 1024], 'text_rich').items()})"

Renders fixed-seed synthetic pages of a family (`pages.py`), preprocesses them to r exactly as
the model would, reads them with Tesseract (or RapidOCR, the cross-check: `reader.py`) and
reports the mean character accuracy (1 - CER) over pages with its standard error. Independent
of the encoder and the LLM, so it is measured once per (resolution, family, ...) on a machine
and cached in SQLite (WAL; safe for concurrent processes) under
`$FASTVLM_CACHE_DIR/proxy/legibility.sqlite`. The cache key holds every input: resolution,
family, kind, seed, pages, font, font_px, kernel, the reader's name, version and settings, and
`GENERATOR_VERSION`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import connect_wal, default_cache_path
from .pages import GENERATOR_VERSION, check_family, check_font, check_kind, render_pages
from .reader import check_kernel, check_reader, read_pages, reader_version

# 24 pages (8 per text_rich kind) cost ~5-10 s cold at r=1024 on 2 cores; stderr ~0.02.
DEFAULT_PAGES = 24
MIN_RESOLUTION, MAX_RESOLUTION = 32, 4096


@dataclass(frozen=True)
class Legibility:
    """Mean character accuracy of the reader on one family's pages at one resolution."""

    value: float  # mean 1 - CER over pages, in [0, 1]
    stderr: float  # std over pages / sqrt(n)
    n_pages: int
    cost_ms: float  # wall time of the call that returned this (ms); tiny when cached
    cached: bool
    reader: str  # e.g. "tesseract 5.3.0 (psm 6, ...)": version and settings
    key: str  # cache key (hash of every input)
    per_page: tuple[float, ...] = ()
    measure_ms: float = 0.0  # wall time of the original (cold) measurement

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def legibility_path() -> Path:
    return default_cache_path().parent / "proxy" / "legibility.sqlite"


def measured_legibility(resolution: int, family: str, *, seed: int = 0,
                        pages: int = DEFAULT_PAGES, font: str = "dejavu", kernel: str = "bicubic",
                        kind: str | None = None, font_px: int | None = None,
                        text_scale: float = 1.0, reader: str = "tesseract") -> Legibility:
    """Reader accuracy on `pages` synthetic pages of `family` seen at `resolution` (cached).

    Args:
        kind: render this page kind instead of the family's kinds, e.g. the null controls
            "blank" / "noise" (which keep the family's ground truth, so they score ~0).
        font_px: draw all text at this em size (px at 1024) instead of the family distribution.
        text_scale: scale the family's font-size distribution (see `pages.render_page`).
        reader: "tesseract" (what tier 1 is calibrated with) or "rapidocr" (a cross-check).
    """
    t0 = time.perf_counter()
    params, key = _params_and_key(resolution, family, seed, pages, font, kernel, kind, font_px,
                                  text_scale, reader)
    with _Store(legibility_path()) as store:
        hit = store.get(key)
        if hit is None:
            docs = render_pages(family, pages, seed=seed, font=font, kind=kind, font_px=font_px,
                                text_scale=text_scale)
            scores = read_pages(docs, resolution, kernel, reader=reader)
            hit = {"params": params, "per_page": scores,
                   "measure_ms": (time.perf_counter() - t0) * 1e3}
            store.put(key, hit)
            cached = False
        else:
            cached = True
    scores = np.asarray(hit["per_page"], dtype=float)
    stderr = float(scores.std(ddof=1) / np.sqrt(len(scores))) if len(scores) > 1 else 0.0
    return Legibility(value=float(scores.mean()), stderr=stderr, n_pages=len(scores),
                      cost_ms=(time.perf_counter() - t0) * 1e3, cached=cached,
                      reader=params["reader"], key=key, per_page=tuple(hit["per_page"]),
                      measure_ms=float(hit["measure_ms"]))


def is_cached(resolution: int, family: str, *, seed: int = 0, pages: int = DEFAULT_PAGES,
              font: str = "dejavu", kernel: str = "bicubic", kind: str | None = None,
              font_px: int | None = None, text_scale: float = 1.0,
              reader: str = "tesseract") -> bool:
    """Would `measured_legibility` with these arguments be served from the cache? Reads only
    (no cache file is created)."""
    _, key = _params_and_key(resolution, family, seed, pages, font, kernel, kind, font_px,
                             text_scale, reader)
    if not legibility_path().exists():
        return False
    with _Store(legibility_path()) as store:
        return store.get(key) is not None


def legibility_curve(resolutions, family: str, **kw) -> dict[int, Legibility]:
    """`measured_legibility` at each resolution (same pages throughout; keywords as there)."""
    return {int(r): measured_legibility(int(r), family, **kw) for r in resolutions}


def _params_and_key(resolution, family, seed, pages, font, kernel, kind, font_px, text_scale,
                    reader) -> tuple[dict, str]:
    """Every input of a measurement, validated, and the cache key they hash to."""
    params = _validate(resolution, family, seed, pages, font, kernel, kind, font_px)
    if text_scale != 1.0:  # keys of unscaled pages stay as they were
        if not 0.25 <= text_scale <= 4:
            raise ValueError(f"text_scale {text_scale!r} is invalid; valid: 0.25..4")
        params["text_scale"] = float(text_scale)
    check_reader(reader)
    params["reader"] = reader_version(reader)  # Tesseract's keys are what they always were
    params["generator"] = GENERATOR_VERSION
    return params, hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]


def _validate(resolution, family, seed, pages, font, kernel, kind, font_px) -> dict:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) \
            or not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise ValueError(f"resolution {resolution!r} is invalid; valid: integers "
                         f"{MIN_RESOLUTION}..{MAX_RESOLUTION}")
    check_family(family)
    check_font(font)
    check_kernel(kernel)
    if kind is not None:
        check_kind(kind)
    if not isinstance(pages, (int, np.integer)) or pages < 1:
        raise ValueError(f"pages {pages!r} is invalid; valid: integers >= 1")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed {seed!r} is invalid; valid: integers >= 0")
    if font_px is not None and not 4 <= font_px <= 200:
        raise ValueError(f"font_px {font_px!r} is invalid; valid: 4..200 or None")
    return {"resolution": int(resolution), "family": family, "kind": kind, "seed": int(seed),
            "pages": int(pages), "font": font, "font_px": font_px, "kernel": kernel}


class _Store:
    """A tiny key -> JSON table in SQLite WAL mode (concurrent readers, serialised writers)."""

    def __init__(self, path: Path):
        self._db = connect_wal(path)
        self._db.execute("CREATE TABLE IF NOT EXISTS legibility "
                         "(key TEXT PRIMARY KEY, payload TEXT, created REAL)")

    def get(self, key: str) -> dict | None:
        row = self._db.execute("SELECT payload FROM legibility WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, payload: dict) -> None:
        self._db.execute("INSERT OR REPLACE INTO legibility VALUES (?, ?, ?)",
                         (key, json.dumps(payload), time.time()))

    def __enter__(self) -> _Store:
        return self

    def __exit__(self, *exc) -> None:
        self._db.close()
