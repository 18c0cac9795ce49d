"""Shared fixtures: isolated cache/results folders and tiny configurations (CPU, seconds)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own latency cache and results folder (never the user's)."""
    monkeypatch.setenv("FASTVLM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("FASTVLM_RESULTS_DIR", str(tmp_path / "results"))
    yield


@pytest.fixture
def tiny():
    from fastvlm import preset

    return preset("tiny")


@pytest.fixture
def fast_settings():
    """Measurement settings for unit tests: tiny budgets, CPU."""
    from fastvlm.measure import MeasureSettings

    return MeasureSettings(device="cpu", budget_s=0.5, min_n=3, max_n=5, threads=1)


@pytest.fixture
def run_cli(capsys):
    """`fastvlm-explore ARGS...` run in this process: (exit code, stdout, stderr)."""
    from explorer.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        rc = main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err
    return run
