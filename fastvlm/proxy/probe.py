"""Tier 2, opt-in: encoder capacity (probe) -- a ridge readout on frozen random features.

    python -c "from fastvlm import preset; from fastvlm.proxy.probe import probe_encoder; \
print(probe_encoder(preset('tiny'), budget_s=10).to_dict())"

What it measures: how much glyph identity survives in the configuration's own visual tokens at
its true input resolution. Not accuracy, and not validated against VLM benchmarks; label it
"encoder capacity (probe)" wherever it is shown.

Protocol (scale-preserving, research/proxy.md section 6 tier 2, "per-cell" variant):
1. The encoder is built from the config (widths optionally scaled by `width_factor`; the
   resolution is never reduced) with a fixed init seed, frozen, in eval mode. It is initialised
   in timm's train-time form and then re-parameterised exactly: timm's inference-form RepMixer
   replaces the residual with a freshly initialised conv, which at random init shrinks the signal
   below float precision over 24 blocks, so its features would not depend on the input.
2. Cell pages: a 1024 px page holds one random character (ALPHABET) per visual-token cell, drawn
   centred in the cell at the text_rich family's font sizes (em median 14 px at 1024, clipped
   7..40). The page is preprocessed to `cfg.resolution` as the model would and cut into
   token-aligned crops (256 px, a multiple of the total stride) at that scale, so pixels per
   glyph and per token match the full image. Every 4th crop is held out (every cell is drawn
   independently, so crops are independent samples).
3. Per-token target: the identity of the token's one glyph (single label). Why not the bag of
   characters of real text pages: there the readout learnt text *density* (a readout that sees
   only the character count per token beat it at 256 px) and was at chance at 768-1024 px.
   Glyphs are centred because the random tokens are very sensitive to sub-token position: with
   glyphs jittered by up to 5% of a token the value at 1024 px falls from 0.22 to 0.03, and at
   25% it is at chance (as is a linear readout of the raw pixels), so this measures identity at
   one phase, an upper bound.
4. Readout: ridge regression on the standardised tokens to one-hot targets, the penalty chosen
   by 3-fold cross-validation on the training tokens. After every `eval_every` crops the
   held-out accuracy is turned into a skill over the majority-class predictor,
   value = (acc - acc_prior) / (1 - acc_prior), clipped to [0, 1], and passed to
   `report(step, value)` with step = crops so far; a True return prunes the run.
   (For a single label per token, micro-F1 equals accuracy: `f1` / `f1_prior` hold them.)
5. Null control: `blank=True` draws no glyphs but keeps the targets; it scores at chance.
Blind to depth: timm initialises every residual branch with layer scale 1e-5, so at random init
the blocks are near identities and a shallower encoder of the same widths scores the same.
The budget covers everything (build, rendering, feature extraction, fits); each expensive step
first checks that its estimated cost still fits.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ..build import EncoderStage, build_encoder
from ..config import ConfigError, EncoderConfig, VlmConfig
from .pages import FONT_SIZES, LETTERS, PAGE_SIZE, load_font
from .reader import preprocess

LABEL = "encoder capacity (probe)"
ALPHABET = LETTERS + "0123456789" + "%.:-"
CLIP_MEAN, CLIP_STD = (0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758)
CROP = 256  # px at the model's input scale
LAMBDAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0)  # ridge penalties (standardised features)


@dataclass(frozen=True)
class ProbeResult:
    value: float  # skill of the readout over the majority class, in [0, 1]
    per_step: list[tuple[int, float]]  # (crops so far, value) at every evaluation
    steps: int  # crops used by the last evaluation
    stopped: str  # "done" (all crops), "budget" or "pruned" (report returned True)
    cost_ms: float  # wall time of the whole call
    width_factor: float
    n_train: int  # training tokens (one glyph each)
    n_test: int  # held-out tokens
    label: str = LABEL
    resolution: int = 0
    crop: int = 0
    widths: tuple[int, ...] = ()
    f1: float = 0.0  # held-out accuracy (= micro-F1 for one label per token)
    f1_prior: float = 0.0  # accuracy of the majority-class predictor
    extract_ms: float = 0.0
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def scaled_encoder(enc: EncoderConfig, width_factor: float) -> EncoderConfig:
    """`enc` with every stage width scaled by `width_factor`, keeping the config valid.

    The stage-to-stage width ratios are kept; the first width is rounded to a multiple of 8 and
    raised in steps of 8 until the config validates (attention widths divisible by 32 etc.).
    """
    if not 0 < width_factor <= 1:
        raise ValueError(f"width_factor {width_factor!r} is invalid; valid: (0, 1]")
    if width_factor == 1:
        return enc
    ratios = [b // a for a, b in zip(enc.widths, enc.widths[1:])]
    first = max(8, int(round(enc.widths[0] * width_factor / 8)) * 8)
    for w0 in range(first, enc.widths[0] + 8, 8):
        widths = [w0]
        for r in ratios:
            widths.append(widths[-1] * r)
        try:
            return dataclasses.replace(enc, widths=tuple(widths))
        except ConfigError:
            continue
    return enc


def probe_encoder(cfg: VlmConfig, *, budget_s: float = 60.0, width_factor: float = 1.0,
                  seed: int = 0, report: Callable[[int, float], bool | None] | None = None,
                  n_crops: int = 96, eval_every: int = 16, batch: int = 8,
                  blank: bool = False) -> ProbeResult:
    """Fit a ridge readout on frozen random features of `cfg`'s encoder within `budget_s`.

    Args:
        width_factor: scale the encoder's stage widths (0, 1]; the resolution is never reduced.
        report: called as report(step, value) after every evaluation (step = crops extracted so
            far); return True to prune.
        n_crops: crops to extract at most; fewer if the budget runs short.
        eval_every: evaluate (refit the readout) after every this many crops.
        blank: null control -- pages without glyphs, same targets; scores at chance.
    """
    t0 = time.perf_counter()
    deadline = t0 + budget_s
    if budget_s <= 0 or n_crops < 2 or eval_every < 1 or batch < 1:
        raise ValueError(f"invalid probe settings: budget_s={budget_s}, n_crops={n_crops}, "
                         f"eval_every={eval_every}, batch={batch}; all must be positive")
    enc = scaled_encoder(cfg.encoder, width_factor)
    torch.manual_seed(seed)
    backbone = build_encoder(enc, inference_mode=False)
    from timm.utils.model import reparameterize_model

    encoder = EncoderStage(reparameterize_model(backbone.eval()), enc.output_pool).eval()
    stride = enc.total_stride
    crop = min(cfg.resolution, max(stride, CROP // stride * stride))
    parts = {False: ([], []), True: ([], [])}  # held out? -> (features, labels)
    per_step: list[tuple[int, float]] = []
    stopped, made, last_eval, scores = "done", 0, 0, (0.0, 0.0)
    batch_s = eval_s = 0.0
    pending: list = []

    def evaluate() -> bool:
        """Refit and report; True if the run was pruned."""
        nonlocal last_eval, scores, eval_s
        ts = time.perf_counter()
        value, scores = _fit_and_score(parts)
        eval_s = max(eval_s, time.perf_counter() - ts)
        last_eval = made
        per_step.append((made, value))
        return report is not None and report(made, value) is True

    with torch.inference_mode():
        for item in _cell_crops(cfg.resolution, stride, crop, n_crops, seed, blank):
            pending.append(item)
            if len(pending) < batch and made + len(pending) < n_crops:
                continue
            if time.perf_counter() + batch_s + 2 * eval_s > deadline and _ready(parts):
                stopped = "budget"
                break
            ts = time.perf_counter()
            feats = encoder(torch.stack([x for _, x, _ in pending]))  # (B, T, C)
            for (test, _, y), f in zip(pending, feats):
                parts[test][0].append(f)
                parts[test][1].append(y)
            made += len(pending)
            pending.clear()
            batch_s = max(batch_s, time.perf_counter() - ts)
            if made - last_eval >= eval_every and _ready(parts):
                if time.perf_counter() + 2 * eval_s > deadline:
                    stopped = "budget"
                    break
                if evaluate():
                    stopped = "pruned"
                    break
    extract_ms = (time.perf_counter() - t0) * 1e3
    if stopped != "pruned" and _ready(parts) and last_eval != made:
        evaluate()
    common = dict(width_factor=width_factor, resolution=cfg.resolution, crop=crop,
                  widths=enc.widths, extract_ms=extract_ms)
    n_train, n_test = (sum(len(y) for y in parts[t][1]) for t in (False, True))
    if not per_step:  # not even one training and one held-out batch fit in the budget
        return ProbeResult(0.0, [], made, "budget", (time.perf_counter() - t0) * 1e3,
                           n_train=n_train, n_test=n_test, **common)
    return ProbeResult(per_step[-1][1], per_step, per_step[-1][0], stopped,
                       (time.perf_counter() - t0) * 1e3, n_train=n_train, n_test=n_test,
                       f1=scores[0], f1_prior=scores[1], **common)


def _ready(parts) -> bool:
    """At least two training crops (for the penalty's cross-validation) and one held out."""
    return len(parts[False][0]) >= 2 and len(parts[True][0]) >= 1


def cell_page(resolution: int, stride: int, index: int, seed: int = 0,
              blank: bool = False) -> tuple[Image.Image, np.ndarray]:
    """A 1024 px page with one glyph centred in each token cell of a `resolution` input.

    Returns the page and the class (index into ALPHABET) of every cell, row-major."""
    rng = np.random.default_rng([seed, index, resolution, stride])
    grid = resolution // stride
    cell = PAGE_SIZE / grid
    image = Image.new("L", (PAGE_SIZE, PAGE_SIZE), 255)
    draw = ImageDraw.Draw(image)
    median, sigma, lo, hi = FONT_SIZES["text_rich"]
    classes = rng.integers(len(ALPHABET), size=grid * grid)
    sizes = np.clip(np.round(median * np.exp(sigma * rng.standard_normal(grid * grid))), lo, hi)
    if not blank:
        for k, (c, px) in enumerate(zip(classes, sizes.astype(int))):
            i, j = divmod(k, grid)
            draw.text(((j + 0.5) * cell, (i + 0.5) * cell), ALPHABET[c], fill=0,
                      font=load_font("dejavu", int(px)), anchor="mm")
    return image, classes


def _cell_crops(resolution: int, stride: int, crop: int, n_crops: int, seed: int, blank: bool):
    """Yield (is_test, pixels (3, crop, crop), labels (T,)) for token-aligned crops."""
    grid, g = resolution // stride, crop // stride
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    made, page_no = 0, 0
    while True:
        page, classes = cell_page(resolution, stride, page_no, seed, blank)
        pixels = torch.from_numpy(np.asarray(preprocess(page, resolution), np.float32) / 255.0)
        classes = classes.reshape(grid, grid)
        for i in range(0, grid - g + 1, g):
            for j in range(0, grid - g + 1, g):
                if made >= n_crops:
                    return
                patch = pixels[i * stride:i * stride + crop, j * stride:j * stride + crop]
                x = (patch.expand(3, crop, crop) - mean) / std
                y = torch.from_numpy(classes[i:i + g, j:j + g].reshape(-1).copy())
                yield made % 4 == 3, x, y
                made += 1
        page_no += 1


def _fit_and_score(parts) -> tuple[float, tuple[float, float]]:
    """Ridge readout (penalty by 3-fold CV over training crops); held-out skill over the
    majority class, and (accuracy, majority-class accuracy)."""
    xtr = torch.cat(parts[False][0]).double()
    ytr = torch.cat(parts[False][1])
    groups = torch.cat([torch.full((len(y),), k) for k, y in enumerate(parts[False][1])])
    xte, yte = torch.cat(parts[True][0]).double(), torch.cat(parts[True][1])
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6  # standardise with training statistics
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    onehot = nn.functional.one_hot(ytr, len(ALPHABET)).double()
    folds = [groups % 3 == f for f in range(3)]
    folds = [va for va in folds if va.any() and not va.all()]
    cv = np.zeros(len(LAMBDAS))
    for va in folds:
        preds = _ridge(xtr[~va], onehot[~va], xtr[va], LAMBDAS)
        cv += [float((p.argmax(1) == ytr[va]).double().mean()) for p in preds]
    lam = LAMBDAS[int(np.argmax(cv))]
    pred = _ridge(xtr, onehot, xte, [lam])[0].argmax(1)
    acc = float((pred == yte).double().mean())
    majority = int(torch.bincount(ytr, minlength=len(ALPHABET)).argmax())
    acc0 = float((yte == majority).double().mean())
    value = (acc - acc0) / (1 - acc0) if acc0 < 1 else 0.0
    return float(np.clip(value, 0.0, 1.0)), (acc, acc0)


def _ridge(x: torch.Tensor, y: torch.Tensor, xq: torch.Tensor, lambdas) -> list[torch.Tensor]:
    """Predictions on `xq` of ridge fits (with intercept) for every penalty, via one
    eigendecomposition in the smaller of the sample and feature dimensions."""
    xm, ym = x.mean(0), y.mean(0)
    xc, yc, xqc = x - xm, y - ym, xq - xm
    if len(x) <= x.shape[1]:  # dual: W = Xc^T (K + lam I)^-1 Yc
        s, u = torch.linalg.eigh(xc @ xc.T)
        uy, kq = u.T @ yc, xqc @ xc.T @ u
        return [ym + kq @ (uy / (s.clamp_min(0) + lam)[:, None]) for lam in lambdas]
    s, u = torch.linalg.eigh(xc.T @ xc)  # primal: W = (Xc^T Xc + lam I)^-1 Xc^T Yc
    uy, q = u.T @ (xc.T @ yc), xqc @ u
    return [ym + q @ (uy / (s.clamp_min(0) + lam)[:, None]) for lam in lambdas]
