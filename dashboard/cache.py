"""Streamlit caches around the slow reads; keys are storage URL + study + trial count, so a
study that gains trials is re-read and an unchanged one never is."""

from __future__ import annotations

import gc

import streamlit as st

from . import data, details


@st.cache_resource(max_entries=8, show_spinner="Loading trials...")
def study_data(url: str | None, name: str, n_trials: int) -> data.StudyData:
    """Shared and read-only: `st.cache_data` would unpickle a copy on every rerun (0.12 s for
    10,000 trials, a quarter of the slider budget); nothing mutates a StudyData but its memo."""
    study = data.load_study_data(url, name)
    _out_of_the_collectors_sight()
    return study


def _out_of_the_collectors_sight() -> None:
    """10,000 trials are ~120,000 long-lived Python objects, which every full garbage
    collection walks again: 0.13 s, at arbitrary points of later reruns (slider-step scripts
    took 0.04 to 0.21 s). Frozen objects are skipped by the cycle collector; reference counting
    still frees them when the cache drops the study."""
    gc.collect()
    gc.freeze()


@st.cache_data(max_entries=64, show_spinner=False)
def trial(url: str | None, name: str, number: int, n_trials: int) -> details.TrialDetail:
    return details.load_trial(url, name, number)


@st.cache_data(max_entries=16, show_spinner="Computing parameter importances...")
def importances(url: str | None, name: str, objective: int, n_trials: int) -> dict | str:
    """Importances, or the reason there are none (cached too, so a failure is not retried)."""
    try:
        return details.importances(url, name, objective)
    except data.DashboardError as e:
        return str(e)


@st.cache_data(ttl=10, show_spinner=False)
def studies(url: str | None) -> list[str]:
    return data.list_studies(url)


@st.cache_data(ttl=2, show_spinner=False)
def trial_count(url: str | None, name: str) -> int:
    return data.trial_count(url, name)
