"""Slider steps of this checkout's dashboard against another commit's, interleaved in one run.

    python -m benchmarks.ab_dashboard a6dfc9d          # 20 timed steps each (after 2 warm-ups)
    python -m benchmarks.ab_dashboard HEAD~3 --steps 40

On a shared host the time of the same step drifts by tens of percent from one minute to the
next (benchmarks/common.py's CPU probe), so two separate runs of bench_dashboard cannot tell a
10% change. Here both versions serve the same 10,000-trial study (bench_dashboard's) at once,
one headless Chromium drives both pages, and their steps alternate (ABBA order): the drift hits
both alike, and the ratio of medians is the result.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bench_dashboard import ROOT, STUDY, URL, WARM_STEPS, ensure_study, step_stats
from .common import md_table, save

CHANGED_JS = ("b => { const g = document.querySelector('.js-plotly-plot');"
              " return g && g._fullData && g._fullData.map(t => t.name).join('|') !== b; }")
NAMES_JS = ("() => { const g = document.querySelector('.js-plotly-plot');"
            " return g && g._fullData ? g._fullData.map(t => t.name).join('|') : ''; }")
FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def serve(root: Path, port: int) -> subprocess.Popen:
    """`fastvlm-explore dashboard`'s server for the checkout at `root` (its own packages first
    on the path, whatever is installed)."""
    cmd = [sys.executable, "-m", "streamlit", "run", str(root / "dashboard" / "app.py"),
           "--server.address", "127.0.0.1", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.enableStaticServing", "true", "--", "--storage", URL, "--study", STUDY]
    return subprocess.Popen(cmd, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def interleaved_steps(ports: dict[str, int], steps: int) -> dict[str, list[float]]:
    """Seconds from a TTFT-slider key press until the chart's traces changed and two frames
    were drawn, per version; the versions alternate A B B A ..."""
    from playwright.sync_api import TimeoutError, sync_playwright

    from tests.test_dashboard_browser import CHROMIUM, READY_JS

    times: dict[str, list[float]] = {k: [] for k in ports}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox",
                                                                      "--headless"])
        pages = {}
        for k, port in ports.items():
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(f"http://127.0.0.1:{port}", wait_until="domcontentloaded")
            page.wait_for_function(READY_JS, arg=9000, timeout=600_000)
            pages[k] = page
        a, b = list(ports)
        for i in range(WARM_STEPS + steps):
            for k in ((a, b) if i % 2 == 0 else (b, a)):
                page = pages[k]
                page.bring_to_front()
                before = page.evaluate(NAMES_JS)
                slider = page.locator('[data-testid="stSidebar"] input[type="range"]').first
                slider.focus()
                t0 = time.perf_counter()
                slider.press("ArrowLeft")
                try:
                    page.wait_for_function(CHANGED_JS, arg=before, timeout=60_000)
                except TimeoutError:
                    raise SystemExit(f"{k}: the chart did not change within 60 s of slider step "
                                     f"{i + 1}; the slider may be at its end (fewer --steps)")
                page.evaluate(FRAMES_JS)
                times[k].append(time.perf_counter() - t0)
        browser.close()
    return {k: v[WARM_STEPS:] for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ref", help="the git commit to compare this checkout with")
    p.add_argument("--steps", type=int, default=20,
                   help="timed slider steps per version (20 fit on the benchmark study's TTFT "
                        "slider; 30 ran past its end)")
    args = p.parse_args(argv)
    from tests.test_dashboard_browser import free_port

    ensure_study()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                          capture_output=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), args.ref],
                       cwd=ROOT, check=True)
        ref = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=other, text=True,
                             capture_output=True, check=True).stdout.strip()
        label = ref if ref.startswith(args.ref) else f"{ref} ({args.ref})"
        ports = {label: free_port(), f"{head} (this checkout)": free_port()}
        roots = dict(zip(ports, (other, ROOT)))
        procs = [serve(roots[k], port) for k, port in ports.items()]
        try:
            time.sleep(4)
            times = interleaved_steps(ports, args.steps)
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=30)
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT)
    stats = {k: step_stats(v) for k, v in times.items()}
    (old, o), (new, n) = stats.items()
    rows = [[k, s["slider_redraw_s"], s["slider_redraw_p90_s"], s["slider_redraw_max_s"]]
            for k, s in stats.items()]
    md = (f"### Dashboard slider step, {new} against {old}, interleaved\n\n"
          + md_table(rows, ["version", f"median of {args.steps} s", "p90 s", "slowest s"])
          + f"\n\nRatio of medians (this checkout / {args.ref}): "
            f"{n['slider_redraw_s'] / o['slider_redraw_s']:.2f}; of 90th percentiles: "
            f"{n['slider_redraw_p90_s'] / o['slider_redraw_p90_s']:.2f}. Both servers read "
            "the 10,000-trial study of bench_dashboard; one headless Chromium drove both "
            "pages, steps alternating (benchmarks/ab_dashboard.py).")
    save("dashboard_ab", {"ref": args.ref, "steps_s": times, "stats": stats}, md,
         script="benchmarks/ab_dashboard.py")


if __name__ == "__main__":
    main()
