"""The dashboard in a real browser: served on localhost, driven by headless Chromium.

    .venv/bin/python -m pytest -q -m browser tests/test_dashboard_browser.py
    UPDATE_DOCS_IMG=1 ...   # also copy the screenshots to docs/img/ (dashboard_pareto.png,
                            # compare_page.png)

Needs Debian's chromium at /usr/bin/chromium (scripts/setup.sh installs it); a missing browser
is a failure, not a skip. The app is served twice: with SVG markers and with WebGL markers
(FASTVLM_DASHBOARD_GL_ABOVE=100, what studies above 2,000 trials get). The screenshots are saved
under tests/output/ (gitignored); the WebGL one is the docs image.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
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

# Plotted trials (every complete trial, in or over budget), read from the live chart's figure
# data, so the count works for SVG and WebGL traces alike; `drawn` is what reached the screen:
# SVG marker nodes plus the points plotly handed to its WebGL scene (regl), and `glPixels` the
# non-blank pixels of that scene's canvas.
COUNT_JS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  const special = ['recommended', 'selected'];
  let n = 0, gl = 0;
  for (const t of gd._fullData) {
    if ((t.mode || '').includes('markers') && !special.includes(t.name)
        && !t.name.startsWith('published FastVLM') && t.hoverinfo !== 'skip') {
      n += t.x.length;
      if (t.type === 'scattergl') gl += t.x.length;
    }
  }
  const svg = gd.querySelectorAll('.scatterlayer path.point').length;
  const scene = gd._fullLayout._plots.xy._scene;
  let glDrawn = 0;
  for (const m of (scene && scene.markerOptions) || []) {
    if (m && m.positions) glDrawn += m.positions.length / 2;
  }
  let glPixels = 0;
  const canvas = gd.querySelector('canvas.gl-canvas-context');
  const ctx = canvas && gl ? canvas.getContext('webgl') : null;
  if (ctx) {
    const px = new Uint8Array(ctx.drawingBufferWidth * ctx.drawingBufferHeight * 4);
    ctx.readPixels(0, 0, ctx.drawingBufferWidth, ctx.drawingBufferHeight, ctx.RGBA,
                   ctx.UNSIGNED_BYTE, px);
    for (let i = 3; i < px.length; i += 4) if (px[i]) glPixels++;
  }
  return {trials: n, webgl: gl, drawn: svg + glDrawn, glPixels: glPixels,
          types: [...new Set(gd._fullData.map(t => t.type))]};
}"""

# Resolves once the chart holds at least `n` trial markers (and the main thread is free).
READY_JS = """n => { const g = document.querySelector('.js-plotly-plot'); if (!g || !g._fullData)
  return false; let k = 0; for (const t of g._fullData) k += (t.x || []).length; return k >= n; }"""


# Tags the live chart's plot element, to tell an in-place update from a remount.
MARK_CHART_JS = """() => { const g = document.querySelector('.js-plotly-plot');
  if (!g || !g.closest('.fv-live-chart') && !g.classList.contains('fv-live-chart')) return false;
  g.dataset.testMark = 'kept'; return true; }"""
CHART_STATE_JS = """() => { const g = document.querySelector('.js-plotly-plot');
  return {marked: g.dataset.testMark === 'kept',
          xrange: g._fullLayout.xaxis.range.map(v => +v.toFixed(4))}; }"""


# Every plotted point has its hover data (filled in the browser from the study's hover table):
# a configuration text and a customdata row starting with its trial number.
HOVER_JS = """() => document.querySelector('.js-plotly-plot')._fullData
  .filter(t => (t.mode || '').includes('markers') && t.hoverinfo !== 'skip')
  .every(t => t.text.length === t.x.length && t.customdata.length === t.x.length
              && t.text.every(s => typeof s === 'string' && s.length > 10)
              && t.customdata.every(r => Number.isInteger(Number(r[0]))))"""

# The same for the Compare chart, whose customdata is the trial number itself.
COMPARE_HOVER_JS = """() => document.querySelector('.js-plotly-plot')._fullData
  .filter(t => (t.mode || '').includes('markers') && t.hoverinfo !== 'skip')
  .every(t => t.text.length === t.x.length && t.customdata.length === t.x.length
              && t.text.every(s => typeof s === 'string' && s.length > 10)
              && Array.from(t.customdata).every(Number.isInteger)
              && t.hovertemplate.includes('TTFT'))"""


def _drag_zoom(page) -> list[float]:
    """Zoom into the middle of the plot with the mouse, as a user would; the new x range."""
    box = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.2, y0 + box["height"] * 0.6, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)
    return page.evaluate(CHART_STATE_JS)["xrange"]


def _click_recommended(page) -> None:
    """Click the ringed recommended point: the page offers to open exactly that trial."""
    target = page.evaluate("""() => {
      const g = document.querySelector('.js-plotly-plot'), L = g._fullLayout;
      const t = g._fullData.find(t => t.name === 'recommended');
      const r = g.querySelector('.nsewdrag').getBoundingClientRect();
      const cd = t.customdata[0];
      return {x: r.left + L.xaxis.d2p(t.x[0]), y: r.top + L.yaxis.d2p(t.y[0]),
              trial: Math.round(Array.isArray(cd) || ArrayBuffer.isView(cd) ? cd[0] : cd)}; }""")
    page.mouse.click(target["x"], target["y"])
    page.get_by_role("button", name=f"Open selected trial {target['trial']}").wait_for(
        timeout=30_000)


def _settled(page, locator) -> str:
    """`locator`'s text once the app has finished its reruns: the script idle and the text
    unchanged for a second."""
    idle = "() => document.querySelector('[data-testid=\"stApp\"]').dataset.testScriptState" \
           " === 'notRunning'"
    last = None
    for _ in range(30):
        page.wait_for_function(idle, timeout=30_000)
        text = locator.inner_text()
        if text == last:
            return text
        last = text
        page.wait_for_timeout(1000)
    raise AssertionError(f"the app did not settle: {last!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """(storage, study): a 150-trial synthetic study."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'studies.db'}"
    build_study(url, "demo", n=150, seed=3)
    return url, "demo"


@contextlib.contextmanager
def serve(url: str, name: str, log_dir: Path, **env: str):
    """The dashboard (as `fastvlm-explore dashboard` starts it) on a free port: its base URL."""
    port = free_port()
    log = open(log_dir / "streamlit.log", "w")
    proc = subprocess.Popen(streamlit_command([url], "127.0.0.1", port, name), stdout=log,
                            stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **env})
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
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module", params=["svg", "webgl"])
def served(request, study, tmp_path_factory):
    """(url, storage, study, mode) of the dashboard serving the study; in "webgl" mode the
    server draws even 150 trials as WebGL markers (what studies above 2,000 trials get)."""
    url, name = study
    gl_above = "100" if request.param == "webgl" else "2000"
    with serve(url, name, tmp_path_factory.mktemp("log"),
               FASTVLM_DASHBOARD_GL_ABOVE=gl_above) as base:
        yield base, url, name, request.param


@contextlib.contextmanager
def chromium_page(served, color_scheme: str = "light"):
    """(page, expected): a headless Chromium page at 1500x1100 (in the system colour scheme
    given, which Streamlit's default theme follows) and the number of trials the Pareto chart
    of the served study must plot."""
    from playwright.sync_api import sync_playwright

    from dashboard import data as dd

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/setup.sh"
    _, storage, study, _ = served
    expected = int(dd.plottable(dd.load_study_data(storage, study), "text_rich").sum())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox",
                                                                      "--headless"])
        try:
            yield browser.new_page(viewport={"width": 1500, "height": 1100},
                                   color_scheme=color_scheme), expected
        finally:
            browser.close()


@contextlib.contextmanager
def offline_file(path: Path, expected: int):
    """(page, script errors): headless Chromium showing the file at `path` alone (every other
    request refused), once its chart holds `expected` trial markers."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox",
                                                                      "--headless"])
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
                "file://") else route.abort())
            page.goto(path.as_uri())
            page.wait_for_function(READY_JS, arg=expected, timeout=30_000)
            yield page, errors
        finally:
            browser.close()


def test_pareto_chart_in_chromium(served):
    base, _, _, mode = served
    with chromium_page(served) as (page, expected):
        page.goto(base, wait_until="domcontentloaded")
        page.wait_for_function(READY_JS, arg=expected, timeout=60_000)
        counts = page.evaluate(COUNT_JS)
        assert counts["trials"] == expected, counts
        assert page.evaluate(HOVER_JS), "a plotted point lacks its hover data"
        assert counts["drawn"] >= expected, counts  # every trial is a drawn marker
        if mode == "webgl":
            assert "scattergl" in counts["types"] and counts["webgl"] == expected, counts
            assert counts["glPixels"] > 1000, counts  # the WebGL canvas is not blank
        else:
            assert "scattergl" not in counts["types"], counts
        assert page.evaluate(MARK_CHART_JS), "the Pareto chart is not the live chart"
        # a viewer's toolbar: no "Deploy" (to Streamlit's cloud) or developer menu items
        assert page.get_by_role("button", name="Deploy").count() == 0
        zoomed = _drag_zoom(page)
        metric = page.locator('[data-testid="stMetricValue"]').first
        before = metric.inner_text()
        # a slider by its role: a native range input in recent Streamlit, a div in older ones
        slider = page.locator('[data-testid="stSidebar"]').get_by_role("slider").first
        slider.focus()
        for _ in range(6):
            slider.press("ArrowLeft")  # tighter TTFT budget
        page.wait_for_function(
            "b => document.querySelector('[data-testid=\"stMetricValue\"]').innerText !== b",
            arg=before, timeout=30_000)
        page.wait_for_function(READY_JS, arg=expected, timeout=30_000)
        page.wait_for_timeout(1500)  # let the redraw settle before the screenshot
        after = page.evaluate(COUNT_JS)
        assert after["trials"] == expected, after  # over-budget trials are greyed, not hidden
        assert after["drawn"] >= expected, after
        assert page.evaluate(HOVER_JS), "a plotted point lacks its hover data"
        # updated in place: the same plot element, and the user's zoom survived the new budget
        assert page.evaluate(CHART_STATE_JS) == {"marked": True, "xrange": zoomed}
        page.evaluate("() => Plotly.relayout(document.querySelector('.js-plotly-plot'),"
                      " {'xaxis.autorange': true, 'yaxis.autorange': true})")
        page.wait_for_timeout(500)
        _click_recommended(page)
        assert "TextVQA" not in page.content()
        # nothing faded by a plotly selection: the click only picked the trial
        assert page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData"
                             ".every(t => !t.selectedpoints)")
        page.evaluate("() => document.querySelectorAll('.plotly-notifier')"
                      ".forEach(n => n.remove())")  # the zoom's double-click hint
        OUTPUT.mkdir(parents=True, exist_ok=True)
        shot = OUTPUT / ("dashboard_pareto.png" if mode == "webgl" else
                         "dashboard_pareto_svg.png")
        page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_DOCS_IMG") and mode == "webgl":
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ROOT / "docs" / "img" / "dashboard_pareto.png")


def test_static_page_opens_offline_in_chromium(study, tmp_path, capsys):
    """`pareto --html`: the file alone, with every request but the file itself refused, draws
    every trial and shows a trial's hover label."""
    from dashboard import data as dd
    from explorer.cli import main

    url, name = study
    out = tmp_path / "front.html"
    assert main(["pareto", "--study", name, "--storage", url, "--html", str(out)]) == 0
    capsys.readouterr()
    expected = int(dd.plottable(dd.load_study_data(url, name), "text_rich").sum())
    with offline_file(out, expected) as (page, errors):
        assert page.evaluate(COUNT_JS)["trials"] == expected
        assert page.evaluate(HOVER_JS), "a plotted point lacks its hover data"
        ring = page.evaluate("""() => {
          const g = document.querySelector('.js-plotly-plot'), L = g._fullLayout;
          const t = g._fullData.find(t => t.name === 'recommended');
          const r = g.querySelector('.nsewdrag').getBoundingClientRect();
          return {x: r.left + L.xaxis.d2p(t.x[0]), y: r.top + L.yaxis.d2p(t.y[0]),
                  trial: Math.round(t.customdata[0][0])}; }""")
        page.mouse.move(ring["x"], ring["y"])
        label = page.locator(".hoverlayer .hovertext").first
        label.wait_for(timeout=10_000)
        text = label.text_content()  # an SVG node: no innerText
        assert f"trial {ring['trial']}" in text and "TTFT" in text and "prefill" in text, text
        assert errors == []
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "pareto_static_page.png"), full_page=True)


def test_the_view_downloads_as_a_page(served, tmp_path):
    """The Pareto page's HTML download, after a tighter TTFT budget: the file holds every
    trial and the budget the page showed (built on click, from the view on screen)."""
    from tests.test_static_page import figure, trial_points

    base = served[0]
    with chromium_page(served) as (page, expected):
        page.goto(base, wait_until="domcontentloaded")
        page.wait_for_function(READY_JS, arg=expected, timeout=60_000)
        metric = page.locator('[data-testid="stMetricValue"]').first
        before = metric.inner_text()
        slider = page.locator('[data-testid="stSidebar"]').get_by_role("slider").first
        slider.focus()
        for _ in range(6):
            slider.press("ArrowLeft")
        page.wait_for_function(
            "b => document.querySelector('[data-testid=\"stMetricValue\"]').innerText !== b",
            arg=before, timeout=30_000)
        within = _settled(page, metric)  # the six steps may rerun the script more than once
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Download this view as a page").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
    html = saved.read_text()
    assert saved.name == f"{served[2]}-pareto-text_rich.html"
    assert f"within budget: <b>{within}</b>" in html
    assert trial_points(figure(html)) == expected


def test_chart_falls_back_when_plotly_js_cannot_load(served):
    """A browser that cannot fetch plotly.js for the live chart (blocked, proxy) still gets
    the Pareto chart: the page reports the failure, redraws with st.plotly_chart and says why."""
    with chromium_page(served) as (page, expected):
        page.route("**/app/static/plotly.min.js*", lambda route: route.abort())
        page.goto(served[0], wait_until="domcontentloaded")
        page.get_by_text("the browser could not load plotly.js").wait_for(timeout=60_000)
        page.wait_for_function(READY_JS, arg=expected, timeout=60_000)
        assert page.evaluate(COUNT_JS)["trials"] == expected
        assert page.locator(".fv-live-chart").count() == 0


def test_hover_data_survives_a_visit_to_another_page(served):
    """The hover table goes to the browser once per session. Leaving the Pareto page unmounts
    the live chart; back on it, every point must still have its hover data (kept by the page,
    or sent again after the page reports it "missing")."""
    live = "n => { const g = document.querySelector('.fv-live-chart.js-plotly-plot');" \
           " if (!g || !g._fullData) return false; let k = 0;" \
           " for (const t of g._fullData) k += (t.x || []).length; return k >= n; }"
    with chromium_page(served) as (page, expected):
        page.goto(served[0], wait_until="domcontentloaded")
        page.wait_for_function(live, arg=expected, timeout=60_000)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Search", exact=True).click()
        page.wait_for_function("() => !document.querySelector('.fv-live-chart')",
                               timeout=30_000)
        sidebar.get_by_text("Pareto front", exact=True).click()
        page.wait_for_function(live, arg=expected, timeout=60_000)
        assert page.evaluate(HOVER_JS), "a plotted point lacks its hover data"


def test_live_chart_follows_the_dark_theme(served):
    """In a browser that prefers dark, Streamlit draws a dark page; the Pareto chart must take
    the theme's background and text colours rather than stay a white box (the live chart has
    no st.plotly_chart to theme it)."""
    colours = """() => {
      const g = document.querySelector('.fv-live-chart.js-plotly-plot');
      const css = getComputedStyle(g);
      const probe = document.createElement('div');  // any CSS colour -> rgb(r, g, b)
      probe.style.color = g._fullLayout.paper_bgcolor;
      document.body.appendChild(probe);
      const paper = getComputedStyle(probe).color;
      probe.remove();
      const ring = g._fullData.find(t => t.name === 'recommended');
      return {paper, font: g._fullLayout.font.color, ring: ring && ring.marker.color,
              bg: css.getPropertyValue('--st-background-color').trim(),
              text: css.getPropertyValue('--st-text-color').trim()};
    }"""
    with chromium_page(served, color_scheme="dark") as (page, expected):
        page.goto(served[0], wait_until="domcontentloaded")
        page.wait_for_function(READY_JS, arg=expected, timeout=60_000)
        c = page.evaluate(colours)
        rgb = [int(v) for v in c["paper"][c["paper"].index("(") + 1:-1].split(",")[:3]]
        assert sum(rgb) < 3 * 64, c  # a dark background, not plotly's white
        assert c["bg"] and c["text"] and c["font"] == c["text"], c
        assert c["ring"] == c["text"], c  # the recommended trial's ring is not black on dark
        page.evaluate("() => document.querySelectorAll('.plotly-notifier')"
                      ".forEach(n => n.remove())")
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"dashboard_pareto_dark_{served[3]}.png"))


def test_new_trials_appear_while_the_page_is_open(tmp_path):
    """A sweep still running adds trials; the open page shows them without a click (its
    watcher counts the trials every few seconds and reruns the app when the count changed)."""
    import numpy as np
    import optuna

    from tests.dashboard_fixtures import make_trial

    url = f"sqlite:///{tmp_path / 'grow.db'}"
    build_study(url, "grow", n=20, seed=7, max_ttft_ms=None)
    with serve(url, "grow", tmp_path, FASTVLM_DASHBOARD_WATCH_S="1") as base:
        with chromium_page((base, url, "grow", "svg")) as (page, expected):
            page.goto(base, wait_until="domcontentloaded")
            page.wait_for_function(READY_JS, arg=expected, timeout=60_000)
            assert page.evaluate(COUNT_JS)["trials"] == expected
            rng = np.random.default_rng(8)
            study = optuna.load_study(study_name="grow", storage=url)
            study.add_trials([make_trial(20 + i, rng) for i in range(10)])
            page.wait_for_function(f"n => ({COUNT_JS})().trials >= n", arg=expected + 10,
                                   timeout=30_000)
            assert page.evaluate(COUNT_JS)["trials"] == expected + 10
            n = expected + 10  # no budgets: every trial is within them
            page.get_by_text(f"{n} of {n}", exact=True).wait_for(timeout=10_000)


def test_comparison_page_opens_offline_in_chromium(tmp_path, capsys):
    """`compare --html`: the file alone draws both studies' trials within the budget and their
    fronts, hover included, with no script error and no request beyond the file."""
    from dashboard import data as dd
    from explorer.cli import main
    from explorer.results import Budgets

    url = f"sqlite:///{tmp_path / 'two.db'}"
    build_study(url, "laptop", n=50, seed=4)
    build_study(url, "board", n=50, seed=4, speed=2.0, device="synthetic-gpu")
    out = tmp_path / "devices.html"
    assert main(["compare", "--study", "laptop", "--study", "board", "--storage", url,
                 "--max-ttft-ms", "10000", "--html", str(out)]) == 0
    capsys.readouterr()
    expected = 0
    for name in ("laptop", "board"):  # every trial in budget, and again each front
        d = dd.load_study_data(url, name)
        view = dd.front_view(d, "text_rich", Budgets(max_ttft_ms=10000))
        expected += int(view.feasible.sum()) + len(view.front)
    with offline_file(out, expected) as (page, errors):
        assert page.evaluate(COUNT_JS)["trials"] == expected
        assert page.evaluate(COMPARE_HOVER_JS), "a plotted point lacks its hover data"
        assert errors == []
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / "compare_static_page.png"), full_page=True)
        if os.environ.get("UPDATE_DOCS_IMG"):  # the chart and the one configuration for all
            page.screenshot(path=str(ROOT / "docs" / "img" / "compare_page.png"))
