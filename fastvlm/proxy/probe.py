"""Tier 2, opt-in: encoder capacity (probe) — a readout trained briefly on frozen random features.

    python -c "from fastvlm import preset; from fastvlm.proxy.probe import probe_encoder; \
print(probe_encoder(preset('tiny'), budget_s=10).to_dict())"

What it measures: how much character identity survives in the configuration's own visual tokens
at its true input resolution. Not accuracy, and not validated against VLM benchmarks; label it
"encoder capacity (probe)" wherever it is shown.

Protocol (scale-preserving, research/proxy.md §6 tier 2):
1. The encoder is built from the config (widths optionally scaled by `width_factor`; the
   resolution is never reduced) with a fixed init seed, frozen, in eval mode. It is initialised
   in timm's train-time form and then re-parameterised exactly: timm's inference-form RepMixer
   replaces the residual with a freshly initialised conv, which at random init shrinks the signal
   below float precision over 24 blocks, so its features would not depend on the input.
2. text_rich pages are rendered at 1024, preprocessed to `cfg.resolution` as the model would, and
   cut into token-aligned crops (256 px, a multiple of the total stride) at that scale, so pixels
   per glyph and per token match the full image. Every 4th page is held out.
3. Per-token targets: the multi-label bag of characters whose glyph centres fall in the token's
   stride x stride patch. Only tokens holding at least one character are used.
4. A one-hidden-layer MLP readout is trained with Adam on the tokens. Every `eval_every` steps the
   held-out micro-F1 (threshold chosen on the training tokens) is turned into a skill over the
   best constant predictor, value = (F1 - F1_prior) / (1 - F1_prior), clipped to [0, 1], and
   passed to `report(step, value)`; a True return prunes the run.
The budget covers everything (build, rendering, feature extraction, training); each expensive
step first checks that its estimated cost still fits.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..build import EncoderStage, build_encoder
from ..config import ConfigError, EncoderConfig, VlmConfig
from .pages import LETTERS, render_page
from .reader import preprocess

LABEL = "encoder capacity (probe)"
ALPHABET = LETTERS + "0123456789" + "%.:-"
CLIP_MEAN, CLIP_STD = (0.4815, 0.4578, 0.4082), (0.2686, 0.2613, 0.2758)
CROP = 256  # px at the model's input scale
THRESHOLDS = np.concatenate([[0.0], np.linspace(0.05, 0.95, 19)])  # 0: "all present"


@dataclass(frozen=True)
class ProbeResult:
    value: float  # skill of the readout over a constant predictor, in [0, 1]
    per_step: list[tuple[int, float]]  # (step, value) at every evaluation
    steps: int  # readout steps run
    stopped: str  # "done" (all steps), "budget" or "pruned" (report returned True)
    cost_ms: float  # wall time of the whole call
    width_factor: float
    n_train: int  # training tokens (with at least one character)
    n_test: int  # held-out tokens
    label: str = LABEL
    resolution: int = 0
    crop: int = 0
    widths: tuple[int, ...] = ()
    f1: float = 0.0
    f1_prior: float = 0.0
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
                  steps: int = 300, seed: int = 0,
                  report: Callable[[int, float], bool | None] | None = None,
                  n_crops: int = 192, eval_every: int = 25, batch: int = 8) -> ProbeResult:
    """Train a readout on frozen random features of `cfg`'s encoder for at most `budget_s`.

    Args:
        width_factor: scale the encoder's stage widths (0, 1]; the resolution is never reduced.
        steps: readout optimisation steps (Adam, minibatches of 512 tokens).
        report: called as report(step, value) after every evaluation; return True to prune.
        n_crops: crops to extract at most (4 per page); fewer if the budget runs short.
    """
    t0 = time.perf_counter()
    deadline = t0 + budget_s
    if budget_s <= 0 or steps < 1 or n_crops < 2 or eval_every < 1:
        raise ValueError(f"invalid probe settings: budget_s={budget_s}, steps={steps}, "
                         f"n_crops={n_crops}, eval_every={eval_every}; all must be positive")
    enc = scaled_encoder(cfg.encoder, width_factor)
    torch.manual_seed(seed)
    backbone = build_encoder(enc, inference_mode=False)
    from timm.utils.model import reparameterize_model

    encoder = EncoderStage(reparameterize_model(backbone.eval()), enc.output_pool).eval()
    stride = enc.total_stride
    crop = min(cfg.resolution, max(stride, CROP // stride * stride))
    data = _extract(encoder, cfg.resolution, stride, crop, n_crops, batch, seed,
                    t0 + 0.7 * budget_s)
    extract_ms = (time.perf_counter() - t0) * 1e3
    common = dict(width_factor=width_factor, resolution=cfg.resolution, crop=crop,
                  widths=enc.widths, extract_ms=extract_ms)
    if data is None:  # not even one training and one held-out batch fit in the budget
        return ProbeResult(0.0, [], 0, "budget", (time.perf_counter() - t0) * 1e3,
                           n_train=0, n_test=0, **common)
    (xtr, ytr), (xte, yte) = data
    per_step, f1s, stopped, step = [], (0.0, 0.0), "done", 0
    readout, opt = _readout(xtr.shape[1], len(ALPHABET), seed)
    gen = torch.Generator().manual_seed(seed)
    step_s = 0.0
    for step in range(1, steps + 1):
        if time.perf_counter() + 2 * step_s > deadline:
            stopped, step = "budget", step - 1
            break
        ts = time.perf_counter()
        idx = torch.randint(0, len(xtr), (min(512, len(xtr)),), generator=gen)
        loss = nn.functional.binary_cross_entropy_with_logits(readout(xtr[idx]), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step_s = max(step_s, time.perf_counter() - ts)
        if step % eval_every == 0 or step == steps:
            value, f1s = _evaluate(readout, xtr, ytr, xte, yte)
            per_step.append((step, value))
            if report is not None and report(step, value) is True:
                stopped = "pruned"
                break
    if not per_step or per_step[-1][0] != step:
        value, f1s = _evaluate(readout, xtr, ytr, xte, yte)
        per_step.append((step, value))
    return ProbeResult(per_step[-1][1], per_step, step, stopped,
                       (time.perf_counter() - t0) * 1e3, n_train=len(xtr), n_test=len(xte),
                       f1=f1s[0], f1_prior=f1s[1], **common)


def _readout(dim: int, classes: int, seed: int):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(dim, 256), nn.GELU(), nn.Linear(256, classes))
    return net, torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)


def _crops(resolution: int, stride: int, crop: int, n_crops: int, seed: int):
    """Yield (is_test, pixels (3, crop, crop), labels (T, A)) for token-aligned text crops."""
    rng = np.random.default_rng(seed)
    grid, g = resolution // stride, crop // stride
    mean = torch.tensor(CLIP_MEAN).view(3, 1, 1)
    std = torch.tensor(CLIP_STD).view(3, 1, 1)
    index = {c: k for k, c in enumerate(ALPHABET)}
    made, page_no = 0, 0
    while made < n_crops:
        page = render_page("text_rich", page_no, seed=seed)
        image = preprocess(page.image, resolution)  # the model's own view, (r, r)
        labels = np.zeros((grid, grid, len(ALPHABET)), np.float32)
        known = [(index[c], x, y) for c, x, y in page.chars if c in index]
        if known:
            cls, xy = np.array([k[0] for k in known]), np.array([k[1:] for k in known])
            ij = (xy * (resolution / page.image.width)).astype(int) // stride  # (n, 2): x, y
            inside = ((ij >= 0) & (ij < grid)).all(1)
            labels[ij[inside, 1], ij[inside, 0], cls[inside]] = 1.0
        has_text = labels.any(-1)
        positions = [(i, j) for i in range(grid - g + 1) for j in range(grid - g + 1)]
        weight = np.array([has_text[i:i + g, j:j + g].sum() for i, j in positions], float)
        if weight.sum() > 0:
            take = min(4, int((weight > 0).sum()), n_crops - made)
            pixels = torch.from_numpy(np.asarray(image, np.float32) / 255.0)
            for k in rng.choice(len(positions), take, replace=False, p=weight / weight.sum()):
                i, j = positions[k]
                patch = pixels[i * stride:i * stride + crop, j * stride:j * stride + crop]
                x = (patch.expand(3, crop, crop) - mean) / std
                y = torch.from_numpy(labels[i:i + g, j:j + g].reshape(g * g, -1))
                yield page_no % 4 == 3, x, y
                made += 1
        page_no += 1


@torch.inference_mode()
def _extract(encoder, resolution, stride, crop, n_crops, batch, seed, deadline):
    """Frozen features of text tokens, split by page into train / held-out; None if none fit."""
    parts = {False: ([], []), True: ([], [])}
    pending: list = []
    batch_s = 0.0

    def flush() -> None:
        nonlocal batch_s
        ts = time.perf_counter()
        feats = encoder(torch.stack([x for _, x, _ in pending]))  # (B, T, C)
        for (test, _, y), f in zip(pending, feats):
            keep = y.any(-1)
            parts[test][0].append(f[keep])
            parts[test][1].append(y[keep])
        batch_s = max(batch_s, time.perf_counter() - ts)
        pending.clear()

    for item in _crops(resolution, stride, crop, n_crops, seed):
        pending.append(item)
        if len(pending) == batch:
            if time.perf_counter() + batch_s > deadline and parts[True][0] and parts[False][0]:
                pending.clear()
                break
            flush()
    if pending and time.perf_counter() + batch_s <= deadline:
        flush()
    if not (parts[True][0] and parts[False][0]):
        return None
    (xtr, ytr), (xte, yte) = [(torch.cat(parts[t][0]), torch.cat(parts[t][1]))
                              for t in (False, True)]
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6  # standardise with training statistics
    return ((xtr - mu) / sd, ytr), ((xte - mu) / sd, yte)


def _micro_f1(pred: torch.Tensor, target: torch.Tensor) -> float:
    tp = float((pred & target).sum())
    denom = float(pred.sum() + target.sum())
    return 2 * tp / denom if denom else 0.0


@torch.no_grad()
def _evaluate(readout, xtr, ytr, xte, yte) -> tuple[float, tuple[float, float]]:
    """Skill over the best constant predictor; thresholds are chosen on the training tokens."""
    ytr_b, yte_b = ytr.bool(), yte.bool()
    ptr, pte = torch.sigmoid(readout(xtr)), torch.sigmoid(readout(xte))
    thr = max(THRESHOLDS, key=lambda t: _micro_f1(ptr > t, ytr_b))
    prior = ytr.mean(0, keepdim=True)  # class prevalence: the constant predictor's scores
    thr_p = max(THRESHOLDS, key=lambda t: _micro_f1((prior > t).expand_as(ytr_b), ytr_b))
    f1 = _micro_f1(pte > thr, yte_b)
    f1_prior = _micro_f1((prior > thr_p).expand_as(yte_b), yte_b)
    value = (f1 - f1_prior) / (1 - f1_prior) if f1_prior < 1 else 0.0
    return float(np.clip(value, 0.0, 1.0)), (f1, f1_prior)
