"""Page: one trial: TTFT breakdown and statistics, proxy, analytic counts, roofline, export."""

from __future__ import annotations

import streamlit as st

from explorer.storage import study_flags

from .. import cache
from ..charts_detail import breakdown_figure, roofline_figure
from ..data import FAMILIES, DashboardError
from ..details import counts_table, export_zip, humanise_note, measurement_table
from ..sidebar import Context
from ..tables import table


def _default(ctx: Context) -> int:
    sel = st.session_state.get("selected_trial")
    if sel is not None and 0 <= sel < ctx.n_trials:
        return int(sel)
    rec = ctx.view.recommendation.choice
    return int(rec["number"]) if rec else int(ctx.data.cols["number"][ctx.data.complete][0])


def _sync() -> None:
    st.session_state["selected_trial"] = int(st.session_state["trial_input"])


def _open(number: int) -> None:
    st.session_state["selected_trial"] = number
    st.session_state["trial_input"] = number


def render(ctx: Context) -> None:
    d = ctx.data
    st.title(f"{d.name}: one trial")
    number = int(st.number_input("Trial number", 0, ctx.n_trials - 1, _default(ctx), step=1,
                                 key="trial_input", on_change=_sync))
    front = ", ".join(str(int(d.cols["number"][i])) for i in ctx.view.front[:30])
    st.caption(f"On the feasible front: {front or 'none'}")
    try:
        detail = cache.trial(ctx.url, d.name, number, ctx.n_trials)
    except DashboardError as e:
        st.error(str(e))
        return
    rec = detail.record
    if detail.state != "COMPLETE" or rec is None:
        st.warning(f"Trial {number} is {detail.state.lower()}: "
                   f"{detail.error or 'no reason recorded'}")
        if detail.repeat_of is not None:
            st.button(f"Open trial {detail.repeat_of}", on_click=_open, args=(detail.repeat_of,),
                      key="open_repeat_of",
                      help="the trial that evaluated this configuration")
        if detail.params:
            st.json(detail.params)
        return
    ref = f" — published reference point `{rec.reference}`" if rec.reference else ""
    st.subheader(f"Trial {number}: {rec.summary}{ref}")
    _measurement(rec)
    _confirmation(ctx, number)
    left, right = st.columns(2)
    with left:
        _proxy(rec)
        st.markdown("**Analytic counts** (computed from the configuration, not measured)")
        table(counts_table(rec), all_rows=True)
    with right:
        st.markdown("**Roofline position**")
        st.plotly_chart(roofline_figure(rec), key="roofline", config={"displaylogo": False})
    _export(ctx, detail)


def _measurement(rec) -> None:
    t = rec.ttft or {}
    st.markdown(f"**Time to first token**: {t.get('ttft_ms', 0):,.1f} ms median on "
                f"{t.get('device_name') or t.get('device')} ({t.get('threads')} threads, "
                f"{t.get('dtype')})")
    if rec.memory_mb is not None:
        st.markdown(f"**Peak memory**: {rec.memory_mb:,.0f} MB ({rec.memory_source})")
    st.plotly_chart(breakdown_figure(rec), key="breakdown", config={"displaylogo": False})
    if t.get("unstable"):
        st.warning("This measurement was flagged UNSTABLE: the machine was noisy while timing.")
    if t.get("extrapolated"):
        st.info("The LLM prefill was extrapolated from fewer layers (the full model did not "
                "fit the measurement's memory budget).")
    table(measurement_table(rec), all_rows=True)


def _confirmation(ctx: Context, number: int) -> None:
    try:
        c = cache.confirmation(ctx.url, ctx.data.name, number)
    except DashboardError as e:
        st.error(str(e))
        return
    if not c or c.get("median_ms") is None:
        flags = study_flags(ctx.data.name, ctx.url)
        st.caption(f"Not confirmed yet: `fastvlm-explore confirm{flags} --trials {number}` "
                   "re-measures it in fresh processes (no cache).")
        return
    per_process = " / ".join(f"{v:,.0f}" for v in c["ttft_ms"])
    spread = c.get("spread")
    st.markdown(
        f"**Confirmed in {c['processes']} fresh processes** (no cache, {c.get('date', '')}): "
        f"{c['median_ms']:,.0f} ms median, {c['ratio'] - 1:+.0%} vs the sweep's "
        f"{c['sweep_ttft_ms']:,.0f} ms; per process {per_process} ms"
        + (f", spread {spread:.1%}" if spread is not None else "") + ".")
    if c.get("errors"):
        st.warning(f"{len(c['errors'])} confirmation run(s) failed: {c['errors'][0]}")


def _proxy(rec) -> None:
    p = rec.proxy or {}
    st.markdown(f"**Proxy accuracy** (tier {p.get('tier', '?')}: a calibrated proxy, not a "
                "benchmark score)")
    rmse = p.get("calibration_rmse") or {}
    cols = st.columns(max(len(p.get("families") or {}), 1))
    for col, (fam, v) in zip(cols, (p.get("families") or {}).items()):
        col.metric(f"proxy {FAMILIES.get(fam, fam)}", f"{v.get('value', float('nan')):.3f}",
                   help=f"± {v.get('uncertainty') or 0:.3f} (1 sd); calibration RMSE "
                        f"{rmse.get(fam, float('nan')):.3f}")
        col.caption(f"± {v.get('uncertainty') or 0:.3f}, calibration RMSE "
                    f"{rmse.get(fam, float('nan')):.3f}")
    for note in p.get("notes") or []:
        st.caption(humanise_note(note))


def _export(ctx: Context, detail) -> None:
    try:
        name, payload = export_zip(detail, ctx.data.name, ctx.data.frame.attrs)
    except Exception as e:  # an export problem must not hide the rest of the page
        st.error(f"Cannot export trial {detail.number}: {e}")
        return
    st.download_button("Download config + model card (.zip)", payload, file_name=name,
                       mime="application/zip", key="export_zip",
                       help="fastvlm_explorer.json, config.json (transformers, when "
                            "expressible), measurements.json, MODEL_CARD.md")
