"""Streamlit caches around the slow reads; keys are storage URL + study + trial count, so a
study that gains trials is re-read and an unchanged one never is."""

from __future__ import annotations

import streamlit as st

from . import data, details


@st.cache_resource(max_entries=8, show_spinner="Loading trials...")
def study_data(url: str | None, name: str, n_trials: int) -> data.StudyData:
    """Shared and read-only: `st.cache_data` would unpickle a copy on every rerun (0.12 s for
    10,000 trials, a quarter of the slider budget); nothing mutates a StudyData but its memo."""
    return data.load_study_data(url, name)


@st.cache_data(max_entries=64, show_spinner=False)
def trial(url: str | None, name: str, number: int, n_trials: int) -> details.TrialDetail:
    return details.load_trial(url, name, number)


@st.cache_data(max_entries=8, show_spinner="Computing parameter importances...")
def importances(url: str | None, name: str, n_trials: int,
                family: str) -> list[dict | str] | str:
    """Importances (or why none) for TTFT and for the proxy of `family`, or why the study
    could not be read (cached too, so a failure is not retried)."""
    d = study_data(url, name, n_trials)
    proxy = dict(zip(d.cols["number"].astype(int).tolist(), d.proxy(family).tolist()))
    try:
        return details.importances(url, name, proxy)
    except data.DashboardError as e:
        return str(e)


@st.cache_data(ttl=10, show_spinner=False)
def studies(url: str | None) -> dict[str, str]:
    """Study name -> device it was measured on (`data.list_studies`)."""
    return data.list_studies(url)


@st.cache_data(ttl=2, show_spinner=False)
def trial_count(url: str | None, name: str) -> int:
    return data.trial_count(url, name)


@st.cache_data(ttl=5, show_spinner=False)
def confirmations(url: str | None, name: str) -> dict:
    return data.confirmations(url, name)


def confirmation(url: str | None, name: str, number: int) -> dict | None:
    return confirmations(url, name).get(str(number))
