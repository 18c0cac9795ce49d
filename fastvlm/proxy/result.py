"""What every proxy returns: a value per benchmark family, with its uncertainty and its label."""

from __future__ import annotations

from dataclasses import dataclass, field

FAMILY_TITLES = {"text_rich": "text-rich", "general": "general"}


def family_label(family: str, tier: int) -> str:
    """The only way a proxy value is named in the UI: never after a real benchmark."""
    return f"proxy accuracy ({FAMILY_TITLES[family]}, tier {tier})"


@dataclass(frozen=True)
class FamilyValue:
    value: float         # predicted accuracy in [0, 1]
    uncertainty: float   # 1 sd: calibration error (+) extrapolation (+) unfitted priors
    label: str

    def to_dict(self) -> dict:
        return {"value": round(self.value, 5), "uncertainty": round(self.uncertainty, 5),
                "label": self.label}


@dataclass
class ProxyResult:
    name: str
    tier: int
    families: dict[str, FamilyValue]
    calibration_rmse: dict[str, float]   # leave-one-out, accuracy units, per family
    cost_ms: float
    notes: list[str] = field(default_factory=list)
    factors: dict = field(default_factory=dict)  # what went into the value (for the record)
    llm_prior: bool = True  # the LLM-size effect is a calibrated prior in every tier

    @property
    def label(self) -> str:
        """Names the result as a whole; each family's value carries its own `family_label`."""
        return f"proxy accuracy (tier {self.tier})"

    def to_dict(self) -> dict:
        return {"name": self.name, "tier": self.tier, "label": self.label,
                "families": {f: v.to_dict() for f, v in self.families.items()},
                "calibration_rmse": {f: round(v, 5) for f, v in self.calibration_rmse.items()},
                "cost_ms": round(self.cost_ms, 3), "llm_prior": self.llm_prior,
                "notes": list(self.notes), "factors": self.factors}
