"""Page: the Pareto scatter under the sidebar's budgets, the recommendation and the front."""

from __future__ import annotations

import streamlit as st

from explorer.recommend import ladder_note

from .. import cache
from ..charts import PARETO_CONFIG, hover_table, pareto_figure
from ..data import (DashboardError, accuracy_label, budget_ladder, front_csv, front_table,
                    ladder_table, state_counts, with_confirmations)
from ..live_chart import live_chart
from ..sidebar import Context
from ..static_page import pareto_page
from ..tables import table


def header(ctx: Context) -> None:
    d = ctx.data
    st.title(d.name)
    counts = ", ".join(f"{v:,} {k.lower()}" for k, v in sorted(state_counts(d).items()))
    st.caption(f"{d.description()} — TTFT measured on {d.device()}; {counts}. "
               f"Accuracy is a calibrated proxy, not a benchmark score.")


def render(ctx: Context) -> None:
    header(ctx)
    d, view = ctx.data, ctx.view
    if not view.shown.any():
        st.warning(f"No complete trial has a {accuracy_label(d, ctx.family, short=True)} value; "
                   "switch the accuracy family in the sidebar.")
        return
    rec = view.recommendation
    m = st.columns(4)
    m[0].metric("within budget", f"{int(view.feasible.sum()):,} of {int(view.shown.sum()):,}")
    m[1].metric("front size", len(view.front))
    hv = view.hypervolume
    m[2].metric("hypervolume", f"{hv:,.0f}" if hv >= 100 else f"{hv:.3g}",
                help=f"area dominated by the feasible trials in (TTFT ms, proxy) up to the "
                     f"reference point ({view.reference[0]:,.0f} ms, {-view.reference[1]:.3f})")
    m[3].metric("recommended", "none" if rec.choice is None else f"trial {rec.choice['number']}")
    picked = live_chart(pareto_figure(d, view, st.session_state.get("selected_trial")),
                        key="pareto_chart", config=PARETO_CONFIG,
                        table=hover_table(d, ctx.family))
    if picked is not None and picked != st.session_state.get("selected_trial"):
        st.session_state["selected_trial"] = picked
        st.rerun()
    _recommendation(ctx)
    _ladder(ctx)
    st.subheader("Feasible Pareto front")
    rows = [d.frame.rows[i] for i in view.front]
    try:  # confirmations add no trial: read them anew (cached 5 s), not from the cached study
        rows = with_confirmations(rows, cache.confirmations(ctx.url, d.name))
    except DashboardError as e:
        st.error(str(e))
    table(front_table(rows, ctx.family))
    if rows and not any(r.get("confirmed_ttft_ms") is not None for r in rows):
        st.caption(f"No TTFT on the front is confirmed yet: `fastvlm-explore confirm --study "
                   f"{d.name}` re-measures the finalists in fresh processes.")
    cols = st.columns(2)
    cols[0].download_button("Download the front as CSV", front_csv(rows), key="front_csv",
                            file_name=f"{d.name}-front-{ctx.family}.csv", mime="text/csv")
    # built on click only (~5 MB with plotly.js), not on every rerun
    cols[1].download_button(
        "Download this view as a page (HTML, opens offline)", key="front_html",
        data=lambda: pareto_page(d, view, ctx.url),
        file_name=f"{d.name}-pareto-{ctx.family}.html", mime="text/html", on_click="ignore",
        help="The chart (hover, zoom), the recommendation, the ladder and the front under these "
             "budgets, "
             "as `fastvlm-explore pareto --html` writes it: a file to share")


def _ladder(ctx: Context) -> None:
    view = ctx.view
    with st.expander("What a bigger TTFT budget buys"):
        steps = budget_ladder(ctx.data, ctx.family, view.budgets, ties=view.recommendation.ties)
        if not steps:
            st.caption("Nothing meets the other budgets (memory, minimum proxy) at any TTFT.")
            return
        st.caption("The recommendation at every TTFT budget where it changes, under the other "
                   "budgets, as `fastvlm-explore recommend --ladder` lists it. ◀ marks the step "
                   "in force under the Max TTFT slider. "
                   + ladder_note(view.recommendation.ties, ctx.data.frame.unmeasured_within(None)))
        table(ladder_table(steps, ctx.family, view.budgets.max_ttft_ms), key="ladder_table")


def open_trial(number: int) -> None:
    st.session_state["selected_trial"] = number
    st.session_state["page"] = "Trial"


def _recommendation(ctx: Context) -> None:
    rec, sel = ctx.view.recommendation, st.session_state.get("selected_trial")
    if rec.choice is None:
        st.warning(f"No recommendation: {rec.reason}")
    else:
        c = rec.choice
        st.success(f"**Recommended: trial {c['number']}** — {c['summary']}")
        st.caption("\n".join(f"- {point}" for point in rec.points))  # as `recommend` prints
        if c.get("unstable"):
            st.warning(f"Its TTFT was timed on a busy machine (unstable, n={c.get('n')}): "
                       "run `fastvlm-explore cache clear --unstable` and measure it again "
                       "before relying on it.")
        st.button("Open the recommended trial", on_click=open_trial, args=(c["number"],),
                  key="open_recommended")
    if sel is not None:
        st.button(f"Open selected trial {sel}", on_click=open_trial, args=(sel,),
                  key="open_selected")
