"""The accuracy surrogate shared by every tier: a few named factors in logit space.

For benchmark j of family b, trained with recipe g, at LLM size N (billions of parameters),
input resolution r and T visual tokens:

    logit(acc) = alpha[g, j] + beta_b * ln N + lambda_j * ln Q_b(r, T) + encoder shift

    Q_b(r, T) = L_b(r) * C_b(T)
    L_b(r)    legibility: the share of the family's text that is readable at the model input.
              Tier 0: analytic -- text x-heights h (fraction of image height) are log-normal with
              fitted median m_b, and a glyph of x-height h*r pixels reads with probability
              sigmoid((ln(h*r) - ln X50_PX) / LEGIBILITY_WIDTH)  (Tesseract measurement in
              research/proxy.md 4.2: 50% at 2.9 px, >90% from ~5 px).
              Tier 1: measured by rendering pages and reading them with OCR (`legibility.py`).
    C_b(T)    visual-token capacity: text tokens per visual token against DeepSeek-OCR's
              compression anchors (~97% at <=10x, ~60% at 20x). A fixed prior, not fitted:
              in FastViTHD T = (r/64)^2 is tied to r, so the published points cannot separate it.

All slopes are sign-constrained (>= 0) so accuracy never falls with a larger LLM, resolution or
token count. Functions here are pure numpy: tier 0 costs microseconds.
"""

from __future__ import annotations

import math

import numpy as np

X50_PX = 2.92            # x-height (px at the model input) read 50% of the time
LEGIBILITY_WIDTH = 0.276  # logistic width in ln(px)
TEXT_LOG_SD = 0.6        # spread of x-heights within a family (ln units), an assumption

# DeepSeek-OCR anchors (text tokens / vision tokens -> precision): 10x -> 0.97, 20x -> 0.60.
_CAP_W = math.log(2) / (math.log(0.97 / 0.03) - math.log(0.60 / 0.40))
_CAP_X50 = 20.0 * math.exp(math.log(0.60 / 0.40) * _CAP_W)
# Text tokens an image of the family carries (assumption, documented in docs/proxy.md):
# document/chart pages are dense, natural images with a few words are not.
TEXT_TOKENS = {"text_rich": 400.0, "general": 40.0}

# Encoder-capacity prior (tier 0/1): logit shift per ln(encoder params / FastViTHD's). Not
# fitted -- every calibration point uses FastViTHD -- so its whole effect counts as uncertainty.
ENCODER_PRIOR_SLOPE = 0.15
REFERENCE_ENCODER_PARAMS = 122_714_208

_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(24)
_GH_W = _GH_W / _GH_W.sum()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def analytic_legibility(resolution, median_xheight: float) -> np.ndarray:
    """Expected readability of text whose x-height (fraction of image height) is log-normal."""
    r = np.atleast_1d(np.asarray(resolution, dtype=float))
    ln_h = math.log(median_xheight) + TEXT_LOG_SD * _GH_X          # quadrature nodes
    z = (ln_h[None, :] + np.log(r)[:, None] - math.log(X50_PX)) / LEGIBILITY_WIDTH
    return sigmoid(z) @ _GH_W


def capacity(tokens, family: str) -> np.ndarray:
    """Share of the family's text the visual tokens can carry (1 = no compression loss)."""
    x = TEXT_TOKENS[family] / np.maximum(np.atleast_1d(np.asarray(tokens, dtype=float)), 1e-9)
    top = sigmoid(math.log(_CAP_X50) / _CAP_W)
    return sigmoid((math.log(_CAP_X50) - np.log(x)) / _CAP_W) / top


def encoder_shift(encoder_params: int) -> float:
    return ENCODER_PRIOR_SLOPE * math.log(encoder_params / REFERENCE_ENCODER_PARAMS)


def predict(fit: dict, group: str, bench: str, llm_b, quality, shift=0.0) -> np.ndarray:
    """Accuracy in [0, 1] from a fitted family (`calibrate.FamilyFit.to_dict()` layout)."""
    z = (fit["alpha"][group][bench] + fit["beta"] * np.log(llm_b)
         + fit["lambda"][bench] * np.log(np.maximum(quality, 1e-4)) + shift)
    return sigmoid(z)
