"""fastvlm: FastVLM-style model configurations, builders, analytic counts, TTFT and proxy accuracy.

Knows nothing of Optuna; `explorer` composes it into sweeps. Torch-dependent modules
(`build`, `measure`) are imported lazily so that configs and counts stay light.
"""

from .analytic import AnalyticCounts, analyze
from .config import (
    ConfigError,
    EncoderConfig,
    LLMConfig,
    ProjectorConfig,
    VlmConfig,
)
from .presets import LLM_PRESETS, PRESETS, build_config, config_from_dict, preset

__all__ = [
    "AnalyticCounts", "ConfigError", "EncoderConfig", "LLMConfig", "LLM_PRESETS", "PRESETS",
    "ProjectorConfig", "VlmConfig", "analyze", "build_config", "config_from_dict", "preset",
]
