"""Page: how the search went: hypervolume over trials, importances, TTFT vs resolution, and a
parallel-coordinates view."""

from __future__ import annotations

import streamlit as st

from .. import cache
from ..charts_detail import history_figure, importance_figure, parallel_figure, resolution_figure
from ..data import hypervolume_over_trials
from ..sidebar import Context

CONFIG = {"displaylogo": False}


def render(ctx: Context) -> None:
    d = ctx.data
    st.title(f"{d.name}: how the search went")
    st.subheader("Hypervolume over trials")
    numbers, hv = hypervolume_over_trials(d, ctx.family, ctx.budgets)
    st.plotly_chart(history_figure(numbers, hv), key="history", config=CONFIG)
    ref = ctx.view.reference
    st.caption(f"Feasible hypervolume under the sidebar's budgets, reference point "
               f"({ref[0]:,.0f} ms, proxy {-ref[1]:.3f}).")
    st.subheader("Parameter importances (PED-ANOVA)")
    cols = st.columns(len(d.frame.metric_names))
    found = cache.importances(ctx.url, d.name, ctx.n_trials)
    if isinstance(found, str):  # the study could not be read: say so under each objective
        found = [found] * len(cols)
    for i, (col, name, imp) in enumerate(zip(cols, d.frame.metric_names, found)):
        with col:
            if isinstance(imp, str):
                st.info(f"{name}: {imp}")
            else:
                st.plotly_chart(importance_figure(imp, f"for {name}"), key=f"importance_{i}",
                                config=CONFIG)
    st.subheader("TTFT vs resolution per LLM")
    st.plotly_chart(resolution_figure(d), key="resolution", config=CONFIG)
    st.caption("Median encoder / projector / prefill time over the complete trials at each "
               "resolution (the FastVLM paper's Figure 5 breakdown, measured here).")
    st.subheader("Parallel coordinates")
    st.plotly_chart(parallel_figure(d, ctx.family, ctx.view.shown), key="parallel",
                    config=CONFIG)
