"""Page: several studies overlaid (e.g. one space on two devices), with the configurations
that stay on the front in all of them marked."""

from __future__ import annotations

import dataclasses

import streamlit as st

from explorer.compare import (common_configs, common_front, on_every_front, one_for_all,
                              speed_line, speed_summary, study_labels)
from explorer.results import config_key
from explorer.storage import redact

from .. import cache
from ..charts import compare_figure
from ..data import DashboardError, StudyData, front_rows, front_view
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
        loaded.append((data, front_view(data, ctx.family, ctx.budgets)))
    if len(loaded) < 2:
        return
    fronts = {d.name: front_rows(d, v) for d, v in loaded}
    keys = {name: {r["number"]: config_key(r) for r in rows} for name, rows in fronts.items()}
    common = common_front(fronts)
    st.caption("Budgets from the sidebar apply to every study. TTFT is each study's own "
               "measurement on its own device.")
    one = one_for_all([d.frame for d, _ in loaded], [v.budgets for _, v in loaded],
                      ties=ctx.view.recommendation.ties)
    starred = one["choice"]["trials"] if one["choice"] else None
    st.plotly_chart(compare_figure(loaded, common, keys, starred), key="compare_chart",
                    config={"displaylogo": False})
    sources = [found[label][0] for label in chosen]
    # built on click only (~5 MB with plotly.js), not on every rerun
    st.download_button(
        "Download this comparison as a page (HTML, opens offline)", key="compare_html",
        data=lambda: compare_page(loaded, sources), file_name="compare.html",
        mime="text/html", on_click="ignore",
        help="The chart and the tables under these budgets, as `fastvlm-explore compare "
             "--html` writes them: a file to share")
    one_for_all_box(one)
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
