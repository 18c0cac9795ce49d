"""The sidebar: storage, study, page, accuracy family and budget sliders -> a `Context`.

Every problem with the storage or the study (unreachable, empty, unknown name, nothing
completed) is reported here in the page, and the pages are then not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from explorer.results import Budgets
from explorer.storage import default_storage_url, redact

from . import cache
from .data import FAMILIES, DashboardError, FrontView, StudyData, failure_summary, front_view

SWEEP_HINT = "`fastvlm-explore sweep studies/quick.toml`"


@dataclass
class Context:
    url: str | None
    studies: list[str]
    data: StudyData
    n_trials: int
    family: str
    budgets: Budgets
    view: FrontView
    page: str


def sidebar(url: str | None, requested: str | None, pages: list[str]) -> Context | None:
    bar = st.sidebar
    bar.title("FastVLM explorer")
    label = redact(url or default_storage_url())
    try:
        studies = cache.studies(url)
    except DashboardError as e:
        st.error(f"Cannot open the study storage {label}: {e}")
        st.info(f"Run {SWEEP_HINT} first, or start the dashboard with `--storage URL`.")
        return None
    if not studies:
        st.warning(f"No studies in {label} yet. Run {SWEEP_HINT} to create one.")
        return None
    name = _pick_study(studies, requested or st.query_params.get("study"))
    page = bar.radio("Page", pages, key="page")
    bar.caption(f"storage: {label}")
    try:
        n = cache.trial_count(url, name)
        data = cache.study_data(url, name, n) if n else None
    except DashboardError as e:
        st.error(str(e))
        return None
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
    if bar.button("Reload study", help="re-read the storage (new trials appear on their own)"):
        cache.study_data.clear()
        cache.trial.clear()
        st.rerun()
    return Context(url, studies, data, n, family, budgets, front_view(data, family, budgets),
                   page)


def _pick_study(studies: list[str], requested: str | None) -> str:
    if "study" not in st.session_state:
        if requested and requested not in studies:
            st.error(f"No study {requested!r} in this storage; available: {', '.join(studies)}. "
                     f"Showing {studies[0]!r}.")
        st.session_state["study"] = requested if requested in studies else studies[0]
    elif st.session_state["study"] not in studies:
        st.session_state["study"] = studies[0]
    name = st.sidebar.selectbox("Study", studies, key="study")
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
    vals = np.geomspace(max(lo, 1e-3), max(hi, lo * 1.001, 1e-3), 60)
    vals = [float(f"{v:.2g}") for v in vals]
    vals += [float(np.ceil(hi))] + ([float(keep)] if keep is not None and keep < hi else [])
    return sorted({v for v in vals if v > 0})


def _budgets(data: StudyData, family: str) -> Budgets:
    bar, c, ok = st.sidebar, data.cols, data.complete
    bar.subheader("Budgets")
    stored = data.frame.stored_budgets
    t = c["ttft_ms"][ok & np.isfinite(c["ttft_ms"])]
    opts = ttft_options(t.min(), t.max(), stored.max_ttft_ms)
    default = opts[-1] if stored.max_ttft_ms is None else min(
        (v for v in opts if v >= stored.max_ttft_ms), default=opts[-1])
    ttft = bar.select_slider("Max TTFT (ms)", opts, value=default, key=f"max_ttft:{data.name}",
                             format_func=lambda v: f"{v:,.0f}")
    mem = _range_slider("Max memory (MB)", c["memory_mb"][ok], stored.max_memory_mb,
                        f"max_memory:{data.name}", upper=True, step=1.0, fmt="%.0f")
    proxy = _range_slider(f"Min proxy accuracy ({FAMILIES[family]})", data.proxy(family)[ok],
                          None, f"min_proxy:{data.name}:{family}", upper=False, step=0.005,
                          fmt="%.3f")
    return Budgets(None if ttft >= opts[-1] else ttft, mem, proxy)


def _range_slider(label: str, values: np.ndarray, stored: float | None, key: str, upper: bool,
                  step: float, fmt: str) -> float | None:
    """A slider over the data's range; at the permissive end it means no limit (None)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    lo, hi = float(np.floor(v.min() / step) * step), float(np.ceil(v.max() / step) * step)
    if hi <= lo:
        hi = lo + step
    open_end = hi if upper else lo
    start = open_end if stored is None else float(min(max(stored, lo), hi))
    value = st.sidebar.slider(label, lo, hi, start, step=step, key=key, format=fmt)
    return None if value == open_end else value
