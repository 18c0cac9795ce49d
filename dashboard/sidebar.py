"""The sidebar: storage (one of several results files), study, page, accuracy family and
budget sliders -> a `Context`.

Every problem with the storage or the study (unreachable, empty, unknown name, nothing
completed) is reported here in the page, and the pages are then not drawn.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer.results import Budgets
from explorer.storage import redact, storage_labels

from . import cache
from .data import (FAMILIES, DashboardError, FrontView, StudyData, accuracy_label,
                   failure_summary, front_view)

SWEEP_HINT = "`fastvlm-explore sweep studies/quick.toml`"
NO_LIMIT = "no limit"
# Seconds between checks for new trials while a page is open (one SQL count each).
WATCH_EVERY = float(os.environ.get("FASTVLM_DASHBOARD_WATCH_S", "3"))


@dataclass
class Context:
    url: str  # the storage of `data`
    storages: list[str]  # every storage the dashboard was given (the Compare page's choice)
    studies: list[str]
    devices: dict[str, str]  # study -> what it was measured on ('' unknown)
    data: StudyData
    n_trials: int
    family: str
    budgets: Budgets
    view: FrontView
    page: str


def sidebar(urls: list[str], requested: str | None, pages: list[str]) -> Context | None:
    bar = st.sidebar
    bar.title("FastVLM explorer")
    url = _pick_storage(urls)
    label = redact(url)
    try:
        devices = cache.studies(url)
    except DashboardError as e:
        st.error(f"Cannot open the study storage {label}: {e}")
        st.info(f"Run {SWEEP_HINT} first, or start the dashboard with `--storage URL`.")
        return None
    studies = list(devices)
    if not studies:
        st.warning(f"No studies in {label} yet. Run {SWEEP_HINT} to create one.")
        return None
    name = _pick_study(studies, devices, requested or st.query_params.get("study"))
    page = bar.radio("Page", pages, key="page")
    bar.caption(f"storage: {label}")
    try:
        n = cache.trial_count(url, name)
        data = cache.study_data(url, name, n) if n else None
    except DashboardError as e:
        st.error(str(e))
        return None
    watch(url, name, n)
    if data is None:
        st.title(name)
        st.info(f"Study **{name}** has no trials yet; the sweep may still be starting.")
        return None
    if not data.complete.any():
        _no_complete(data)
        return None
    family = bar.radio("Accuracy family", list(FAMILIES), format_func=FAMILIES.get,
                       key="family", help="which calibrated proxy to rank by")
    budgets = _budgets(data, family)
    most_accurate = bar.toggle(
        "Most accurate within budget", key="most_accurate",
        help="off: proxy differences within their uncertainty are ties and the fastest tied "
             "trial is recommended (`recommend`); on: the highest proxy within the budgets "
             "wins outright (`recommend --most-accurate`)")
    if bar.button("Reload study", help="re-read the storage (new trials appear on their own)"):
        cache.study_data.clear()
        cache.trial.clear()
        st.rerun()
    return Context(url, urls, studies, devices, data, n, family, budgets,
                   front_view(data, family, budgets, ties=not most_accurate), page)


def study_label(name: str, devices: dict[str, str]) -> str:
    """'mobile · AMD EPYC (2 logical cpus)': the same study name on two devices tells apart."""
    return f"{name} · {devices[name]}" if devices.get(name) else name


def _pick_storage(urls: list[str]) -> str:
    """The one storage, or the results file picked in the sidebar (`--storage` given twice or
    more: e.g. each machine's own SQLite file)."""
    if len(urls) == 1:
        return urls[0]
    names = dict(zip(urls, storage_labels(urls)))
    if "storage" not in st.session_state:  # a shared link names its results file
        wanted = st.query_params.get("storage")
        st.session_state["storage"] = next((u for u in urls if names[u] == wanted), urls[0])
    url = st.sidebar.selectbox("Results", urls, key="storage", format_func=names.get,
                               help="the storages the dashboard was started with; the "
                                    "Compare page overlays studies from all of them")
    st.query_params["storage"] = names[url]
    return url


def _pick_study(studies: list[str], devices: dict[str, str], requested: str | None) -> str:
    if "study" not in st.session_state:
        if requested and requested not in studies:
            st.error(f"No study {requested!r} in this storage; available: {', '.join(studies)}. "
                     f"Showing {studies[0]!r}.")
        st.session_state["study"] = requested if requested in studies else studies[0]
    elif st.session_state["study"] not in studies:
        st.session_state["study"] = studies[0]
    name = st.sidebar.selectbox("Study", studies, key="study",
                                format_func=lambda n: study_label(n, devices))
    st.query_params["study"] = name
    return name


def _no_complete(data: StudyData) -> None:
    st.title(data.name)
    st.warning(f"None of the {data.n} trials of study **{data.name}** completed, so there is "
               "nothing to plot yet. Why they did not finish:")
    st.table([{"reason": r, "trials": k} for r, k in failure_summary(data)])


def ttft_options(lo: float, hi: float, keep: float | None = None) -> list[float]:
    """Log-spaced TTFT budgets from the fastest to the slowest trial (2 significant digits),
    plus the study's stored budget; the last option means no limit."""
    lo = max(lo, 1e-3)
    vals = [float(f"{v:.2g}") for v in np.geomspace(lo, max(hi, lo * 1.001), 60)]
    vals = [v for v in vals if v >= lo] + [_ceil_2g(lo), float(np.ceil(hi))]
    vals += [float(keep)] if keep is not None and keep < hi else []  # the study's own budget
    return sorted({v for v in vals if 0 < v <= np.ceil(hi)})


def _ceil_2g(v: float) -> float:
    """`v` rounded up to 2 significant digits (the strictest budget that admits it)."""
    unit = 10.0 ** (math.floor(math.log10(v)) - 1)
    return float(f"{math.ceil(v / unit - 1e-9) * unit:.6g}")


def limit_options(values: np.ndarray, upper: bool, step: float) -> list[float]:
    """Budgets on a grid of `step` for a limit over `values` (upper: a maximum, else a
    minimum). Every trial is reachable: the strict end is the grid value nearest the extreme
    trial that still admits it (a max-memory slider starts at or above the smallest memory,
    a min-proxy slider ends at or below the best proxy) and the permissive end admits every
    trial; that end (last for a maximum, first for a minimum) means no limit."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return []
    lo_k, hi_k = math.floor(v.min() / step + 1e-9), math.ceil(v.max() / step - 1e-9)
    if upper:
        lo_k = max(math.ceil(v.min() / step - 1e-9), lo_k)  # admits the smallest value
    else:
        hi_k = min(math.floor(v.max() / step + 1e-9), hi_k)  # admits the largest value
    opts = [round(k * step, 10) for k in range(lo_k, max(hi_k, lo_k) + 1)]
    # rounding could leave an end a hair past the extreme value: step it back in
    if upper and opts[0] < v.min():
        opts[0] = round(opts[0] + step, 10)
    if not upper and opts[-1] > v.max():
        opts[-1] = round(opts[-1] - step, 10)
    opts = sorted(set(opts))
    if len(opts) == 1:  # one value (or all equal): the limit itself and no limit
        opts = [opts[0], round(opts[0] + step, 10)] if upper else [round(opts[0] - step, 10),
                                                                   opts[0]]
    return opts


def memory_step(values: np.ndarray) -> float:
    """1 MB, or a coarser 1-2-5 step so that the slider has at most ~400 positions."""
    v = values[np.isfinite(values)]
    span = float(v.max() - v.min()) if v.size else 0.0
    step = 1.0
    while span / step > 400:
        step *= 2.5 if str(int(step)).startswith("2") else 2.0
    return step


@st.fragment(run_every=WATCH_EVERY)
def watch(url: str | None, name: str, n: int) -> None:
    """While a page is open: count the study's trials every few seconds (cached 2 s, one SQL
    count) and rerun the app when the count changed, so new trials appear on their own."""
    try:
        now = cache.trial_count(url, name)
    except DashboardError:
        return  # the next full run reports it
    if now != n:
        st.rerun(scope="app")


def _budgets(data: StudyData, family: str) -> Budgets:
    bar, c, ok = st.sidebar, data.cols, data.complete
    bar.subheader("Budgets")
    stored = data.frame.stored_budgets
    t = c["ttft_ms"][ok & np.isfinite(c["ttft_ms"])]
    opts = ttft_options(t.min(), t.max(), stored.max_ttft_ms)
    default = opts[-1] if stored.max_ttft_ms is None else min(
        (v for v in opts if v >= stored.max_ttft_ms), default=opts[-1])
    ttft = bar.select_slider("Max TTFT (ms)", opts, value=default, key=f"max_ttft:{data.name}",
                             format_func=lambda v: NO_LIMIT if v >= opts[-1] else f"{v:,.0f}",
                             help="the right end means no limit")
    mem_values = c["memory_mb"][ok]
    mem_label = "Max memory (MB" + (", predicted)" if _all_predicted(data) else ")")
    mem = _limit_slider(mem_label, mem_values, stored.max_memory_mb, f"max_memory:{data.name}",
                        upper=True, step=memory_step(mem_values), fmt="{:,.0f}")
    proxy = _limit_slider(f"Min {accuracy_label(data, family)}", data.proxy(family)[ok], None,
                          f"min_proxy:{data.name}:{family}", upper=False, step=0.005,
                          fmt="{:.3f}")
    return Budgets(None if ttft >= opts[-1] else ttft, mem, proxy)


def _all_predicted(data: StudyData) -> bool:
    """Every trial's memory is the analytic prediction. Once per study: the set over 10,000
    rows took 10 ms of each slider step."""
    return data.memoised("all_predicted", lambda: {
        r.get("memory_source") for r in data.frame.rows if r.get("memory_mb") is not None
    } == {"predicted"})


def _limit_slider(label: str, values: np.ndarray, stored: float | None, key: str, upper: bool,
                  step: float, fmt: str) -> float | None:
    """A slider over the data's range (`limit_options`); its permissive end reads "no limit"
    and returns None."""
    opts = limit_options(values, upper, step)
    if not opts:
        return None
    open_end = opts[-1] if upper else opts[0]
    if stored is None:
        start = open_end
    elif upper:
        start = min((o for o in opts if o >= stored), default=opts[-1])
    else:
        start = max((o for o in opts if o <= stored), default=opts[0])
    value = st.sidebar.select_slider(
        label, opts, value=start, key=key,
        format_func=lambda v: NO_LIMIT if v == open_end else fmt.format(v),
        help=f"the {'right' if upper else 'left'} end means no limit")
    return None if value == open_end else value
