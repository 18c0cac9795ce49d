"""The tier-1 reader oracle: model preprocessing at resolution r, then OCR, scored by 1 - CER.

    python -c "from fastvlm.proxy.reader import *; from fastvlm.proxy.pages import render_page; \
print(read_pages([render_page('text_rich', 0)], 512))"

Preprocessing follows FastVLM / LLaVA ("pad" aspect mode): pad to a square with the processor's
mean colour (black: FastViTHD's image mean is 0; the synthetic pages are square anyway), then
resize to r x r with an antialiased bicubic kernel (transformers' `LlavaImageProcessor.resample
= BICUBIC`, torchvision `antialias=True`, which PIL's BICUBIC matches). "area" (box filter)
is a robustness variant. The resized image is then upsampled to READ_SIZE (1536) with the same
kernel, so the reader is limited by the information that survives at r, not by its own
minimum text height; from 1536 up the model's view is read as is.
Tesseract runs one process per page (`--psm 6`, one thread each, Sauvola binarisation), up to
`os.cpu_count()` at a time. It is the reader tier 1 is calibrated with.

A second, unrelated reader checks that the legibility curve belongs to the pages and not to
Tesseract: RapidOCR (PaddleOCR's PP-OCRv4 detector and recogniser in ONNX Runtime, models
inside the `rapidocr_onnxruntime` wheel, so nothing is downloaded). It reads one page at a time
(ONNX Runtime uses every core itself); `proxy validate` and `benchmarks/bench_readers.py`
compare the two.
"""

from __future__ import annotations

import functools
import importlib.metadata
import io
import os
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from .pages import Page

KERNELS = {"bicubic": Image.Resampling.BICUBIC, "area": Image.Resampling.BOX}
PAD_GRAY = 0  # LLaVA pads with the image mean, which is 0 for FastViTHD (mean 0, std 1)
INSTALL_HINT = ("install it with `apt-get install tesseract-ocr tesseract-ocr-eng` "
                "(or run scripts/setup.sh)")
# One uniform block of text (psm 6); Sauvola local thresholding, because Tesseract's default
# global Otsu splits a textured scene background into garbage "text" at full resolution.
TESSERACT_ARGS = ("stdin", "stdout", "--psm", "6", "-l", "eng", "-c", "thresholding_method=2")
# Every view is read at READ_SIZE (or as is above it): Tesseract needs ~10 px x-heights, so
# reading the r x r view at its own size would measure the reader's limit, not what survives
# at r. 1536 lets small print on a 1024 page keep rising up to r = 1024, where the source ends.
READ_SIZE = 1536
READER_SETTINGS = f"psm 6, sauvola, read at {READ_SIZE}"  # part of every cache key
READERS = ("tesseract", "rapidocr")
RAPIDOCR_HINT = ("install it with `pip install rapidocr_onnxruntime` (Python < 3.13; "
                 "scripts/setup.sh does)")
# Upright synthetic text: the 0/180 degree angle classifier would only cost time.
RAPIDOCR_SETTINGS = f"PP-OCRv4 det+rec, no angle classifier, read at {READ_SIZE}"


class ReaderMissingError(RuntimeError):
    """The reader (Tesseract with its English data, or RapidOCR) is not installed."""


def check_reader(reader: str) -> None:
    if reader not in READERS:
        raise ValueError(f"unknown reader {reader!r}; valid: {', '.join(READERS)}")


def check_kernel(kernel: str) -> None:
    if kernel not in KERNELS:
        raise ValueError(f"unknown resize kernel {kernel!r}; valid: {', '.join(KERNELS)}")


def preprocess(image: Image.Image, resolution: int, kernel: str = "bicubic") -> Image.Image:
    """What the model sees: pad to square, resize to `resolution` x `resolution`."""
    check_kernel(kernel)
    w, h = image.size
    if w != h:
        side = max(w, h)
        square = Image.new(image.mode, (side, side), PAD_GRAY)
        square.paste(image, ((side - w) // 2, (side - h) // 2))
        image = square
    if image.size != (resolution, resolution):
        image = image.resize((resolution, resolution), KERNELS[kernel])
    return image


def degrade(image: Image.Image, resolution: int, kernel: str = "bicubic") -> Image.Image:
    """`preprocess` to r, then up to READ_SIZE: what survives at r, at a readable scale.

    Above READ_SIZE the model's own (upsampled) view is read as is: resizing it back down
    would add a loss the model never has (the box kernel is visibly hurt by the round trip).
    """
    small = preprocess(image, resolution, kernel)
    if resolution >= READ_SIZE:
        return small
    return small.resize((READ_SIZE, READ_SIZE), KERNELS[kernel])


@functools.lru_cache(maxsize=None)
def reader_version(reader: str = "tesseract") -> str:
    """E.g. "tesseract 5.3.0 (psm 6, ...)": name, version and settings (part of every cache
    key); raises `ReaderMissingError` with the install hint."""
    check_reader(reader)
    if reader == "rapidocr":
        try:
            version = importlib.metadata.version("rapidocr_onnxruntime")
        except importlib.metadata.PackageNotFoundError:
            raise ReaderMissingError(f"rapidocr_onnxruntime is not installed; "
                                     f"{RAPIDOCR_HINT}") from None
        return f"rapidocr_onnxruntime {version} ({RAPIDOCR_SETTINGS})"
    exe = shutil.which("tesseract")
    if exe is None:
        raise ReaderMissingError(f"tesseract not found on PATH; {INSTALL_HINT}")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    first = (out.stdout or out.stderr).splitlines()[0].strip()
    langs = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30)
    if "eng" not in langs.stdout.split():
        raise ReaderMissingError(f"tesseract has no English data ('eng'); {INSTALL_HINT}")
    return f"{first} ({READER_SETTINGS})"


def ocr(image: Image.Image, reader: str = "tesseract") -> str:
    """The reader's text for one image (Tesseract: a single-threaded process, page
    segmentation mode 6; RapidOCR: its text lines, top to bottom, one per line)."""
    if reader == "rapidocr":
        return _rapidocr_text(image)
    buf = io.BytesIO()
    image.save(buf, format="PPM")  # PGM for "L": uncompressed, fast to write and read
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        out = subprocess.run(["tesseract", *TESSERACT_ARGS], input=buf.getvalue(),
                             capture_output=True, env=env, timeout=300)
    except FileNotFoundError:
        raise ReaderMissingError(f"tesseract not found on PATH; {INSTALL_HINT}") from None
    if out.returncode != 0:
        raise RuntimeError(f"tesseract failed ({out.returncode}): "
                           f"{out.stderr.decode(errors='replace').strip()[-500:]}")
    return out.stdout.decode("utf-8", errors="replace")


_rapidocr_lock = threading.Lock()  # one page at a time: ONNX Runtime already uses every core


@functools.lru_cache(maxsize=1)
def _rapidocr_engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:  # not installed, or OpenCV without its system libraries
        raise ReaderMissingError(f"rapidocr_onnxruntime cannot be imported ({e}); "
                                 f"{RAPIDOCR_HINT}") from None
    return RapidOCR(use_cls=False)


def _rapidocr_text(image: Image.Image) -> str:
    engine = _rapidocr_engine()
    with _rapidocr_lock:
        lines, _ = engine(np.asarray(image.convert("L")))
    return "\n".join(line[1] for line in lines or ())


def normalize(text: str) -> str:
    """Collapse all whitespace (line breaks included) to single spaces."""
    return " ".join(text.split())


def levenshtein(a: str, b: str) -> int:
    """Edit distance, one numpy pass per character of `a` (O(len a * len b), vectorised)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    bv = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(len(b) + 1)
    prev = cols.copy()
    for i, ch in enumerate(a, start=1):
        cost = (bv != ord(ch)).astype(np.int64)
        # best of deletion / substitution, then insertions via a running min of (d[k] - k) + j
        cur = np.empty_like(prev)
        cur[0] = i
        cur[1:] = np.minimum(prev[1:] + 1, prev[:-1] + cost)
        prev = np.minimum.accumulate(cur - cols) + cols
    return int(prev[-1])


def char_accuracy(truth: str, text: str) -> float:
    """1 - CER of `text` against `truth` after whitespace normalisation, clipped to [0, 1]."""
    truth, text = normalize(truth), normalize(text)
    if not truth:
        return 1.0 if not text else 0.0
    return max(0.0, 1.0 - levenshtein(truth, text) / len(truth))


def read_page(page: Page, resolution: int, kernel: str = "bicubic",
              reader: str = "tesseract") -> float:
    """Character accuracy of `reader` on `page` as the model would see it at `resolution`."""
    return char_accuracy(page.text, ocr(degrade(page.image, resolution, kernel), reader))


def read_pages(pages: list[Page], resolution: int, kernel: str = "bicubic",
               workers: int | None = None, reader: str = "tesseract") -> list[float]:
    """Per-page character accuracy; Tesseract reads pages in parallel (one process each)."""
    check_kernel(kernel)
    reader_version(reader)  # fail once, clearly, before starting any work
    if reader == "rapidocr":
        _rapidocr_engine()
        workers = 1
    workers = max(1, min(workers or os.cpu_count() or 1, len(pages)))
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda p: read_page(p, resolution, kernel, reader), pages))
