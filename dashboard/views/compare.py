"""Page: several studies overlaid (e.g. one space on two devices), with the configurations
that stay on the front in all of them marked."""

from __future__ import annotations

import streamlit as st

from explorer.compare import (common_configs, common_front, on_every_front, speed_line,
                              speed_summary)
from explorer.results import config_key

from .. import cache
from ..charts import compare_figure
from ..data import DashboardError, front_rows, front_view
from ..sidebar import Context, study_label
from ..tables import table as show


def render(ctx: Context) -> None:
    st.title("Compare studies")
    others = [s for s in ctx.studies if s != ctx.data.name]
    chosen = st.multiselect("Studies", ctx.studies, default=[ctx.data.name] + others[:1],
                            key="compare_studies",
                            format_func=lambda n: study_label(n, ctx.devices))
    if len(chosen) < 2:
        st.info("Pick two or more studies (for example the same space swept on two devices).")
        return
    loaded = []
    for name in chosen:
        try:
            n = cache.trial_count(ctx.url, name)
            data = ctx.data if name == ctx.data.name else cache.study_data(ctx.url, name, n)
        except DashboardError as e:
            st.error(f"{name}: {e}")
            return
        if not data.complete.any():
            st.warning(f"Study {name} has no complete trials; left out.")
            continue
        loaded.append((data, front_view(data, ctx.family, ctx.budgets)))
    if len(loaded) < 2:
        return
    fronts = {d.name: front_rows(d, v) for d, v in loaded}
    keys = {name: {r["number"]: config_key(r) for r in rows} for name, rows in fronts.items()}
    common = common_front(fronts)
    st.caption("Budgets from the sidebar apply to every study. TTFT is each study's own "
               "measurement on its own device.")
    st.plotly_chart(compare_figure(loaded, common, keys), key="compare_chart",
                    config={"displaylogo": False})
    st.subheader(f"On every front: {len(common)} configuration(s)")
    if common:
        show(on_every_front(fronts))
    st.subheader("The same configuration in each study")
    frames = [d.frame for d, _ in loaded]
    both = common_configs(frames)
    if both:
        first = loaded[0][0].name
        st.caption(f"{len(both)} configuration(s) completed in every study (budgets not applied), "
                   f"by {first}'s TTFT; a ratio below 1 is faster than in {first}. "
                   + " ".join(speed_line(s) + "." for s in speed_summary(
                       both, [f.study_name for f in frames])))
        show(both)
    else:
        st.info("No configuration was completed in every study.")
