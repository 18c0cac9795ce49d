"""Page: how the search went: hypervolume over trials, importances, TTFT vs resolution, and a
parallel-coordinates view."""

from __future__ import annotations

import streamlit as st

from .. import cache
from ..charts_detail import history_figure, importance_figure, parallel_figure, resolution_figure
from ..data import accuracy_label, hypervolume_over_trials
from ..sidebar import Context

CONFIG = {"displaylogo": False}
METHOD_NOTES = {
    "PED-ANOVA": "PED-ANOVA: how much each parameter's value decides whether a trial is in the "
                 "best 10% (shares of 1).",
    "eta-squared": "Fewer than 10 complete trials: eta-squared, the share of the objective's "
                   "variance (of log TTFT, for TTFT) each parameter's value explains on its "
                   "own; exact for a fully evaluated space, and PED-ANOVA takes over from 10 "
                   "trials.",
}


def render(ctx: Context) -> None:
    d = ctx.data
    st.title(f"{d.name}: how the search went")
    st.subheader("Hypervolume over trials")
    numbers, hv = hypervolume_over_trials(d, ctx.family, ctx.budgets)
    st.plotly_chart(history_figure(numbers, hv), key="history", config=CONFIG)
    ref = ctx.view.reference
    setup = d.search_setup()
    st.caption(f"Feasible hypervolume under the sidebar's budgets, reference point "
               f"({ref[0]:,.0f} ms, proxy {-ref[1]:.3f})."
               + (f" Searched with {setup}." if setup else ""))
    st.subheader("Parameter importances")
    objectives = ["TTFT", accuracy_label(d, ctx.family, short=True)]
    cols = st.columns(2)
    found = cache.importances(ctx.url, d.name, ctx.n_trials, ctx.family)
    if isinstance(found, str):  # the study could not be read: say so under each objective
        found = [found] * len(cols)
    for i, (col, name, imp) in enumerate(zip(cols, objectives, found)):
        with col:
            if isinstance(imp, str):
                st.info(f"{name}: {imp}")
            else:
                st.plotly_chart(importance_figure(imp, f"for {name}"), key=f"importance_{i}",
                                config=CONFIG)
    methods = {imp.method for imp in found if not isinstance(imp, str)}
    st.caption("Which parameters decide each objective: TTFT, and the accuracy family picked "
               "in the sidebar (switch it there for the other one). "
               + " ".join(METHOD_NOTES[m] for m in sorted(methods)))
    st.subheader("TTFT vs resolution per LLM")
    st.plotly_chart(resolution_figure(d), key="resolution", config=CONFIG)
    st.caption("Each bar is one real configuration: the fastest complete trial at that "
               "resolution (hover for its trial number and configuration), split into encoder / "
               "projector / prefill time (the FastVLM paper's Figure 5 breakdown, measured here).")
    st.subheader(f"Parallel coordinates, coloured by {accuracy_label(d, ctx.family, short=True)}")
    st.plotly_chart(parallel_figure(d, ctx.family, ctx.view.shown), key="parallel",
                    config=CONFIG)
