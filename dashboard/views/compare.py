"""Page: several studies overlaid (e.g. one space on two devices), with the configurations
that stay on the front in all of them marked."""

from __future__ import annotations

import dataclasses

import streamlit as st

from explorer.compare import shared_csv, study_labels
from explorer.storage import redact

from .. import cache
from ..charts import compare_figure
from ..data import DashboardError, StudyData, compare_studies, front_view
from ..sidebar import Context, study_label
from ..static_page import compare_page
from ..tables import table as show


def render(ctx: Context) -> None:
    st.title("Compare studies")
    found = studies_everywhere(ctx)
    here = next(label for label, (url, name, _) in found.items()
                if (url, name) == (ctx.url, ctx.data.name))
    devices = {label: device for label, (_, _, device) in found.items()}
    chosen = st.multiselect("Studies", list(found), default=[here] + _partner(found, here),
                            key="compare_studies",
                            format_func=lambda label: study_label(label, devices))
    if len(chosen) < 2:
        st.info("Pick two or more studies (for example the same space swept on two devices"
                + ("" if len(ctx.storages) > 1 else "; start the dashboard with one --storage "
                   "per results file to see another machine's") + ").")
        return
    loaded = []
    for label in chosen:
        url, name, _ = found[label]
        try:
            n = cache.trial_count(url, name)
            data = (ctx.data if (url, name) == (ctx.url, ctx.data.name)
                    else cache.study_data(url, name, n))
        except DashboardError as e:
            st.error(f"{label}: {e}")
            return
        if not data.complete.any():
            st.warning(f"Study {label} has no complete trials; left out.")
            continue
        data = _named(data, label)
        # the sidebar's tie rule too: it decides the one configuration for all
        loaded.append((data, front_view(data, ctx.family, ctx.budgets,
                                        ties=ctx.view.recommendation.ties)))
    if len(loaded) < 2:
        return
    cmp = compare_studies(loaded)
    st.caption("Budgets from the sidebar apply to every study. TTFT is each study's own "
               "measurement on its own device.")
    st.plotly_chart(compare_figure(cmp), key="compare_chart", config={"displaylogo": False})
    sources = [found[label][0] for label in chosen]
    # built on click only (~5 MB with plotly.js), not on every rerun
    st.download_button(
        "Download this comparison as a page (HTML, opens offline)", key="compare_html",
        data=lambda: compare_page(cmp, sources), file_name="compare.html",
        mime="text/html", on_click="ignore",
        help="The chart and the tables under these budgets, as `fastvlm-explore compare "
             "--html` writes them: a file to share")
    one_for_all_box(cmp.one)
    st.subheader(f"On every front: {len(cmp.common)} configuration(s)")
    if cmp.common:
        show(cmp.on_every_front())
    st.subheader("The same configuration in each study")
    if cmp.shared:
        st.caption(cmp.shared_note())
        show(cmp.shared)
        st.download_button("Download these configurations as CSV", key="compare_csv",
                           data=shared_csv(cmp.shared, cmp.names), file_name="compare.csv",
                           mime="text/csv", on_click="ignore",
                           help="as `fastvlm-explore compare --csv` writes them")
    else:
        st.info(cmp.shared_note())


def one_for_all_box(one: dict) -> None:
    """The one configuration within every study's budgets (one model for several devices)."""
    if one["choice"] is None:
        st.warning(f"No one configuration for all: {one['reason']}.")
    else:
        st.success(f"**One configuration for all: {one['choice']['configuration']}** "
                   "(the gold star in each study)")
        st.caption(one["reason"] + ".")


def studies_everywhere(ctx: Context) -> dict[str, tuple[str, str, str]]:
    """Label -> (storage, study, device) for every study in every storage the dashboard was
    given; a name found in two storages is labelled with its file ("quick (laptop.db)"). A
    storage that cannot be read is a warning, and its studies are left out."""
    pairs, devices = [], {}
    for url in ctx.storages:
        try:
            there = ctx.devices if url == ctx.url else cache.studies(url)
        except DashboardError as e:
            st.warning(f"{redact(url)} left out: {e}")
            continue
        pairs += [(name, url) for name in there]
        devices.update({(name, url): device for name, device in there.items()})
    return {label: (url, name, devices[name, url])
            for label, (name, url) in zip(study_labels(pairs), pairs)}


def _partner(found: dict[str, tuple[str, str, str]], here: str) -> list[str]:
    """The study to compare with first: the same name in another storage (the same space on
    another machine), else the next study."""
    name = found[here][1]
    others = [label for label in found if label != here]
    same = [label for label in others if found[label][1] == name]
    return (same or others)[:1]


def _named(data: StudyData, label: str) -> StudyData:
    """`data` known by `label` in the chart and tables (a copy: the cached one is shared)."""
    if data.name == label:
        return data
    return dataclasses.replace(data, frame=dataclasses.replace(data.frame, study_name=label),
                               memo={})
