"""Optuna storages by URL, the default embedded SQLite file, and friendly errors (no torch).

    sqlite:///results/fastvlm-explorer.db     default: one file, many studies, no server
    postgresql://user@host:5432/db            many machines / workers (heartbeat + retry)
    journal:///abs/path/study.log             Optuna's append-only journal file (also *.log)

SQLite is for one writer at a time: it locks the whole file on every write, so several worker
processes on it fail with "database is locked". For parallel workers use PostgreSQL (or MySQL).
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

from .errors import StudyError, UsageError

SQLITE_CONCURRENCY_NOTE = ("SQLite allows one writer at a time (the whole file is locked per "
                           "write), so parallel workers fail with 'database is locked'; use "
                           "a postgresql:// storage for several workers")


def results_dir() -> Path:
    return Path(os.environ.get("FASTVLM_RESULTS_DIR", "results"))


def default_storage_url() -> str:
    return f"sqlite:///{results_dir() / 'fastvlm-explorer.db'}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def is_journal(url: str) -> bool:
    return url.startswith("journal:") or url.endswith(".log")


SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def storage_url(text: str) -> str:
    """`text` as a storage URL: a URL as it is, a bare SQLite file path (*.db, *.sqlite,
    *.sqlite3) as sqlite:///PATH; journal files (*.log) are read by path already."""
    if "://" not in text and not is_journal(text) and text.endswith(SQLITE_SUFFIXES):
        return f"sqlite:///{text}"
    return text


def storage_file(url: str) -> Path | None:
    """The file of a SQLite or journal storage URL (None: a database server)."""
    if is_journal(url):
        return Path(url.removeprefix("journal://").removeprefix("journal:"))
    if is_sqlite(url):
        return Path(url.removeprefix("sqlite:///"))
    return None


def storage_labels(urls: list[str | None]) -> list[str]:
    """Each storage in a few characters: its file's name (with as many parent folders as it
    takes to tell two files apart: laptop/fastvlm-explorer.db, jetson/fastvlm-explorer.db), or
    its server's host (else the URL without its password)."""
    from collections import Counter
    from urllib.parse import urlsplit

    urls = [u or default_storage_url() for u in urls]

    def label(url: str, depth: int) -> str:
        path = storage_file(url)
        if path is None:
            return (urlsplit(url).hostname if depth == 1 else None) or redact(url)
        return str(Path(*path.parts[-depth:])) if depth < len(path.parts) else str(path)

    depth = dict.fromkeys(urls, 1)
    while True:
        found = {u: label(u, d) for u, d in depth.items()}
        count = Counter(found.values())
        clash = [u for u in found if count[found[u]] > 1]
        if not clash or all(found[u] == label(u, depth[u] + 1) for u in clash):
            return [found[u] for u in urls]  # unique, or as long as it gets
        for u in clash:
            depth[u] += 1


def open_storage(url: str | None = None, heartbeat_s: int | None = None, create: bool = True,
                 option: str = "--storage"):
    """An Optuna storage for `url` (default: the embedded SQLite file).

    Args:
        heartbeat_s: enable trial heartbeats (RDB storages only): a worker that dies mid-trial
            leaves a trial that others mark failed after 2 heartbeats and re-run once.
        create: for a SQLite or journal file, create its folder (False: the file must exist
            already; reading commands never create storage).
        option: the command-line option that gave `url`, named when the file is missing.
    """
    import optuna
    from optuna.storages import RDBStorage

    url = storage_url(url or default_storage_url())
    journal = is_journal(url)
    if not journal and not any(url.startswith(p) for p in ("sqlite:", "postgresql", "mysql")):
        raise UsageError(f"unsupported storage URL {url!r}; valid: sqlite:///FILE, "
                         "postgresql://..., mysql://..., journal:///FILE.log, or the path of "
                         "a .db or .log file")
    path = storage_file(url)
    if path is not None:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.is_file():
            hint = ("run `fastvlm-explore sweep` first or pass --storage" if option == "--storage"
                    else f"{option} must name an existing results file")
            raise StudyError(f"no study storage at {path}; {hint}")
    if journal:
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        _check_journal(path)
        return JournalStorage(JournalFileBackend(str(path)))
    kwargs = {}
    if heartbeat_s and not is_sqlite(url):
        kwargs = dict(heartbeat_interval=heartbeat_s, grace_period=2 * heartbeat_s,
                      **_stale_trial_retry(max_retry=2))
    engine = {"connect_args": {"timeout": 60}} if is_sqlite(url) else {"pool_pre_ping": True}
    try:
        for attempt in range(SCHEMA_RACE_RETRIES + 1):
            try:
                return RDBStorage(url, engine_kwargs=engine, **kwargs)
            except Exception as e:
                if attempt == SCHEMA_RACE_RETRIES or not _lost_schema_race(e):
                    raise
                time.sleep(0.1 * (attempt + 1))  # the other process is writing the schema
    except Exception as e:  # unreachable server, bad credentials, missing driver
        raise StudyError(f"cannot open storage {redact(url)}: {_first_line(e)}") from None
    finally:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


# Two processes opening one new storage at once (two terminals, `sweep` on several machines
# against a fresh database) both create its tables: the slower one fails with "table ...
# already exists" or a duplicate schema version. Opening again finds the schema complete.
SCHEMA_RACE_RETRIES = 5


def _lost_schema_race(error: Exception) -> bool:
    from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

    # opening writes nothing but the schema: any duplicate there is the other process's
    return isinstance(error, IntegrityError) or (
        isinstance(error, (OperationalError, ProgrammingError)) and "already exists" in str(error))


def _check_journal(path: Path) -> None:
    """Refuse a file that is not an Optuna journal (an application's log, say): Optuna reads
    one that has a single line as empty, and a sweep would then append to it."""
    import json

    try:
        with path.open("rb") as f:
            first = f.readline(1 << 20)
    except FileNotFoundError:
        return  # a new journal
    except OSError as e:
        raise StudyError(f"cannot read journal file {path}: {e.strerror or e}") from None
    if not first:
        return
    try:
        entry = json.loads(first)
    except ValueError:
        entry = None
    if not (isinstance(entry, dict) and "op_code" in entry):
        raise StudyError(f"{path} is not an Optuna journal file (its first line is not a journal "
                         "entry); name a new .log file or one that a sweep wrote")


def _stale_trial_retry(max_retry: int) -> dict:
    """Re-enqueue a trial whose worker died (no heartbeat), under either Optuna API."""
    import warnings

    import optuna
    import optuna.storages as st

    with warnings.catch_warnings():  # "experimental" since optuna 2.8; it is the supported way
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(st, "RetryHeartbeatStaleTrialCallback"):  # optuna >= 4.9
            return {"heartbeat_stale_trial_callback":
                    st.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)}
        return {"failed_trial_callback": st.RetryFailedTrialCallback(max_retry=max_retry)}


def study_names(storage) -> list[str]:
    import optuna

    return [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)]


def load_study(name: str | None, storage):
    """Load an existing study; an unknown name is an error listing the studies there. No name:
    the storage's only study (the usual case after one `sweep`), else an error listing them."""
    import optuna

    if name is None:
        names = study_names(storage)
        if len(names) != 1:
            raise UsageError("--study is needed: " + (
                f"this storage holds {len(names)} studies: {', '.join(sorted(names))}" if names
                else "this storage holds no study (run `fastvlm-explore sweep` first)"))
        name = names[0]
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        names = study_names(storage)
        raise UsageError(f"no study {name!r} in this storage; available: "
                         f"{', '.join(sorted(names)) if names else '(none)'}") from None


def trial_by_number(study, number: int):
    """One `FrozenTrial` of a loaded study, read by number (not the whole study: exporting one
    trial of 10,000 took 9.0 s through `get_trials`, now 1.2 s); a missing number is a
    `UsageError`."""
    storage, study_id = study._storage, study._study_id
    try:
        return storage.get_trial(storage.get_trial_id_from_study_id_trial_number(study_id, number))
    except KeyError:
        from .trial_reader import count_trials

        n = count_trials(storage, study_id)
        raise UsageError(f"no trial {number} in study {study.study_name!r}; valid: "
                         + (f"0..{n - 1}" if n else "none (the study has no trials)")) from None


def redact(url: str) -> str:
    """The URL without its password, for messages (a URL without one is left as it is)."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        if ":" in creds:
            return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return url


def study_flags(study: str, storage: str | None) -> str:
    """` --study NAME [--storage URL]` for a follow-up command that we suggest to the user: the
    storage is named unless it is the default one, so the command can be pasted as it is
    (its password redacted: suggestions end up in logs)."""
    flags = f" --study {shlex.quote(study)}"
    if storage and storage != default_storage_url():
        flags += f" --storage {shlex.quote(redact(storage))}"
    return flags


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]
