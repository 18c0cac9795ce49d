"""Shared fixtures: isolated cache/results folders and tiny configurations (CPU, seconds)."""

from __future__ import annotations

from typing import NamedTuple

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


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys):
    """`fastvlm-explore ARGS...` run in this process: (exit code, stdout, stderr), also as
    attributes like `subprocess.run`'s result. In process because each fresh interpreter spends
    seconds importing torch; tests of the entry point itself, of signals and of concurrent
    processes start real ones."""
    from explorer.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()  # what the test printed before is not the command's
        try:
            rc = main([str(a) for a in args])
        except SystemExit as e:  # argparse: usage errors (2) and --help (0)
            rc = e.code if isinstance(e.code, int) else int(e.code is not None)
        out, err = capsys.readouterr()
        return CliResult(rc, out, err)
    return run
