"""Quick proxy accuracy: a registry of tiered proxies, each calibrated and labelled with its error.

    from fastvlm.proxy import evaluate
    evaluate(preset("fastvlm-0.5b", resolution=512), tier=1).to_dict()

No proxy here is a zero-cost NAS score (those rise with resolution even on noise; design.md
section 5). Every tier is the surrogate of `surrogate.py` calibrated on published FastVLM points;
higher tiers replace its analytic factors with measured ones. See docs/proxy.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import ConfigError, VlmConfig
from .published import FAMILIES
from .result import FamilyValue, ProxyResult, family_label


@dataclass(frozen=True)
class ProxySpec:
    name: str
    tier: int
    expected_cost: str
    measures: str
    run: Callable[..., ProxyResult]


def _tier(n: int):
    def run(cfg, **options):
        from . import tiers
        return getattr(tiers, f"tier{n}")(cfg, **options)
    return run


REGISTRY: dict[int, ProxySpec] = {
    0: ProxySpec("surrogate", 0, "< 10 ms",
                 "analytic legibility at the input resolution x visual-token capacity x "
                 "LLM-size prior x encoder-capacity prior, calibrated on published FastVLM points",
                 _tier(0)),
    1: ProxySpec("ocr-legibility", 1, "~10-30 s per new resolution, then cached",
                 "tier 0 with legibility measured: synthetic pages resized as the model would, "
                 "read by Tesseract, character accuracy", _tier(1)),
    2: ProxySpec("encoder-probe", 2, "minutes (budget_s), opt-in for finalists",
                 "tier 1 with the encoder prior replaced by a readout trained briefly on this "
                 "encoder's features of scale-preserving crops", _tier(2)),
}
TIERS = tuple(REGISTRY)
_OPTIONS = {0: set(), 1: {"seed"}, 2: {"seed", "budget_s", "report", "width_factor"}}


def get_proxy(tier) -> ProxySpec:
    """By tier number (0, 1, 2, also as a string) or by name."""
    for spec in REGISTRY.values():
        if str(tier) in (str(spec.tier), spec.name):
            return spec
    valid = ", ".join(f"{s.tier} ({s.name})" for s in REGISTRY.values())
    raise ConfigError(f"unknown proxy tier {tier!r}; valid: {valid}")


def evaluate(cfg: VlmConfig, tier=0, **options) -> ProxyResult:
    spec = get_proxy(tier)
    unknown = set(options) - _OPTIONS[spec.tier]
    if unknown:
        raise ConfigError(f"proxy tier {spec.tier} takes no option(s) {sorted(unknown)}; "
                          f"valid: {sorted(_OPTIONS[spec.tier]) or 'none'}")
    return spec.run(cfg, **options)


__all__ = ["FAMILIES", "REGISTRY", "TIERS", "FamilyValue", "ProxyResult", "ProxySpec",
           "evaluate", "family_label", "get_proxy"]
