"""Tiny study files for driver tests: toy encoder + toy LLM, proxy tier 0, seconds per trial."""

from __future__ import annotations

from pathlib import Path

TINY_STUDY = """
name = "{name}"
description = "tiny test study"
objectives = ["ttft_ms", "proxy_text_rich"]
references = ["fastvlm-0.5b"]

[space]
resolution = {resolutions}
llm = ["tiny-llm"]
depths = [1, 1, 1, 1, 1]
widths = [16, 32, 32, 64, [64, 128]]
mlp_ratio = [2.0]
prompt_tokens = 8
{extra_space}

[proxy]
tier = 0

[constraints]
max_ttft_ms = {max_ttft_ms}

[sampler]
name = "{sampler}"
seed = 0
population_size = 4

[run]
trials = {trials}
repeats = "{repeats}"

[measure]
device = "cpu"
threads = 1
budget_s = {budget_s}
min_n = {min_n}
max_n = {max_n}
"""


def write_tiny_study(folder: Path, name: str = "tiny", trials: int = 3, sampler: str = "random",
                     resolutions: str = "[64, 128]", budget_s: float = 0.3, min_n: int = 3,
                     max_n: int = 5, max_ttft_ms: float = 1e6, extra_space: str = "",
                     repeats: str = "skip") -> Path:
    path = Path(folder) / f"{name}.toml"
    path.write_text(TINY_STUDY.format(name=name, trials=trials, sampler=sampler,
                                      resolutions=resolutions, budget_s=budget_s, min_n=min_n,
                                      max_n=max_n, max_ttft_ms=max_ttft_ms,
                                      extra_space=extra_space, repeats=repeats))
    return path
