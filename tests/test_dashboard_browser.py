"""The dashboard in a real browser: served on localhost, driven by headless Chromium.

    .venv/bin/python -m pytest -q -m browser tests/test_dashboard_browser.py
    UPDATE_DOCS_IMG=1 ...   # also copy the screenshot to docs/img/dashboard_pareto.png

Needs Debian's chromium at /usr/bin/chromium (scripts/setup.sh installs it); a missing browser
is a failure, not a skip. The screenshot is saved under tests/output/ (gitignored).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from explorer.commands.dashboard import streamlit_command
from tests.dashboard_fixtures import build_study

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "output"

# Markers of plotted trials (every complete trial, in or over budget), read from the live chart.
COUNT_JS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const special = ['recommended', 'selected', 'published FastVLM'];
  let n = 0;
  for (const t of gd._fullData) {
    if ((t.mode || '').includes('markers') && !special.includes(t.name)) n += t.x.length;
  }
  return {trials: n, drawn: gd.querySelectorAll('.scatterlayer path.point').length};
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(url, storage, study) of the dashboard serving a 150-trial synthetic study."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'studies.db'}"
    build_study(url, "demo", n=150, seed=3)
    port = free_port()
    log = open(tmp_path_factory.mktemp("log") / "streamlit.log", "w")
    proc = subprocess.Popen(streamlit_command(url, "127.0.0.1", port, "demo"), stdout=log,
                            stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"streamlit did not start: {log.name}")
                time.sleep(0.3)
        yield base, url, "demo"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_pareto_chart_in_chromium(served):
    from playwright.sync_api import sync_playwright

    from dashboard import data as dd

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/setup.sh"
    base, storage, study = served
    expected = int(dd.plottable(dd.load_study_data(storage, study), "text_rich").sum())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox",
                                                                      "--headless"])
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.goto(base, wait_until="domcontentloaded")
        page.wait_for_selector(".js-plotly-plot .scatterlayer path.point", timeout=60_000)
        counts = page.evaluate(COUNT_JS)
        assert counts["trials"] == expected
        assert counts["drawn"] >= expected  # every trial is a drawn SVG marker
        metric = page.locator('[data-testid="stMetricValue"]').first
        before = metric.inner_text()
        slider = page.locator('[data-testid="stSidebar"] input[type="range"]').first
        slider.focus()
        for _ in range(6):
            slider.press("ArrowLeft")  # tighter TTFT budget
        page.wait_for_function(
            "b => document.querySelector('[data-testid=\"stMetricValue\"]').innerText !== b",
            arg=before, timeout=30_000)
        page.wait_for_selector(".js-plotly-plot .scatterlayer path.point", timeout=30_000)
        page.wait_for_timeout(1500)  # let the redraw settle before the screenshot
        after = page.evaluate(COUNT_JS)
        assert after["trials"] == expected  # over-budget trials are greyed, not hidden
        assert "TextVQA" not in page.content()
        OUTPUT.mkdir(parents=True, exist_ok=True)
        shot = OUTPUT / "dashboard_pareto.png"
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DOCS_IMG"):
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "img" / "dashboard_pareto.png")
