"""Persistent component-latency cache, keyed by device/software fingerprint, safe across processes.

    FASTVLM_CACHE_DIR=/tmp/c fastvlm-explore measure --preset tiny   # choose where it lives

A component is an encoder at a resolution, a projector at a token count, or an LLM prefill at
a sequence length; a sweep never measures one twice on the same machine and software. Storage
is one SQLite file in WAL mode (readers never block; writers wait on a busy timeout), so two
processes can share it. A process about to measure a component first *claims* it; others wait
for the result instead of measuring it again, and claims of dead processes are taken over.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
from pathlib import Path

# A claim counts as stale after this long (no component takes an hour to time); on this host
# also as soon as its process is gone. The age limit covers a reused pid here and a dead
# process on another host, whose liveness cannot be checked.
CLAIM_TTL_S = 3600.0


def default_cache_path() -> Path:
    root = os.environ.get("FASTVLM_CACHE_DIR") or Path.home() / ".cache" / "fastvlm-explorer"
    return Path(root) / "latency.sqlite"


def connect_wal(path: Path, timeout_s: float = 60.0) -> sqlite3.Connection:
    """An autocommit SQLite connection in WAL mode, safe to open from several processes at once.

    Switching a fresh file to WAL takes an exclusive lock, and SQLite reports "database is
    locked" for it without calling the busy handler, so that one step is retried here.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    db.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return db
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                db.close()
                raise
            time.sleep(0.05)


# payloads carry the protocol's `unstable` flag (canary drift or spread > 10%)
_UNSTABLE = "coalesce(json_extract(payload, '$.unstable'), 0)"


class LatencyCache:
    """`get` / `put` JSON payloads under (fingerprint, kind, key); `claim` before measuring.

    Claims belong to a (host, pid), so share the file between processes, not one object
    between threads (its SQLite connection is for the thread that made it). A context manager
    that closes its connection."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else default_cache_path()
        self._fresh: set[tuple[str, str, str]] = set()  # measured or retried here: first_retry
        self._db = connect_wal(self.path)
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS latency (
                fingerprint TEXT, kind TEXT, key TEXT, payload TEXT, created REAL,
                PRIMARY KEY (fingerprint, kind, key));
            CREATE TABLE IF NOT EXISTS claims (
                fingerprint TEXT, kind TEXT, key TEXT, host TEXT, pid INTEGER, claimed REAL,
                PRIMARY KEY (fingerprint, kind, key));
        """)

    def get(self, fingerprint: str, kind: str, key: str) -> dict | None:
        row = self._db.execute(
            "SELECT payload FROM latency WHERE fingerprint=? AND kind=? AND key=?",
            (fingerprint, kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def first_retry(self, fingerprint: str, kind: str, key: str) -> bool:
        """True if this object has neither stored nor been asked about this entry before: an
        unstable timing is measured again once per process, not on every trial that uses it
        (and not at all when this process measured it itself)."""
        entry = (fingerprint, kind, key)
        if entry in self._fresh:
            return False
        self._fresh.add(entry)
        return True

    def put(self, fingerprint: str, kind: str, key: str, payload: dict) -> None:
        self._fresh.add((fingerprint, kind, key))
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO latency VALUES (?, ?, ?, ?, ?)",
                             (fingerprint, kind, key, json.dumps(payload), time.time()))
            self._db.execute("DELETE FROM claims WHERE fingerprint=? AND kind=? AND key=?",
                             (fingerprint, kind, key))

    def claim(self, fingerprint: str, kind: str, key: str) -> bool:
        """Take the right to measure this component; False if a live process holds it."""
        with self._transaction():
            row = self._db.execute(
                "SELECT host, pid, claimed FROM claims WHERE fingerprint=? AND kind=? AND key=?",
                (fingerprint, kind, key)).fetchone()
            if row and _alive(*row) and (row[0], row[1]) != (socket.gethostname(), os.getpid()):
                return False
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                             (fingerprint, kind, key, socket.gethostname(), os.getpid(),
                              time.time()))
            return True

    def release(self, fingerprint: str, kind: str, key: str) -> None:
        """Drop this process's claim, if it holds one."""
        self._db.execute("DELETE FROM claims WHERE fingerprint=? AND kind=? AND key=? AND host=? "
                         "AND pid=?", (fingerprint, kind, key, socket.gethostname(), os.getpid()))

    def wait_for(self, fingerprint: str, kind: str, key: str, timeout_s: float = 1800.0,
                 poll_s: float = 1.0) -> dict | None:
        """Poll until another process stores this component, or its claim dies / times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            payload = self.get(fingerprint, kind, key)
            if payload is not None:
                return payload
            if self.claim(fingerprint, kind, key):
                # the other process is gone; it may have stored its result just before exiting
                payload = self.get(fingerprint, kind, key)
                if payload is not None:
                    self.release(fingerprint, kind, key)
                    return payload
                return None  # the caller measures it now
            time.sleep(poll_s)
        return None

    def entries(self, fingerprint: str | None = None) -> list[tuple[str, str, str, bool]]:
        """(fingerprint, kind, key, unstable): unstable = measured on a noisy machine."""
        sql = f"SELECT fingerprint, kind, key, {_UNSTABLE} FROM latency"
        args: tuple = ()
        if fingerprint:
            sql, args = sql + " WHERE fingerprint=?", (fingerprint,)
        return [(f, kind, key, bool(u)) for f, kind, key, u in self._db.execute(sql, args)]

    def clear(self, fingerprint: str | None = None, unstable_only: bool = False) -> int:
        """Delete entries (of one fingerprint, or all); `unstable_only`: only the timings taken
        on a noisy machine, so that the next sweep or `measure` takes them again."""
        by_fp = " WHERE fingerprint=?" if fingerprint else ""
        args: tuple = (fingerprint,) if fingerprint else ()
        latency = by_fp + ((" AND " if by_fp else " WHERE ") + _UNSTABLE if unstable_only else "")
        with self._transaction():
            n = self._db.execute(f"DELETE FROM latency{latency}", args).rowcount
            if not unstable_only:  # nothing is being measured again on purpose: drop claims too
                self._db.execute(f"DELETE FROM claims{by_fp}", args)
        return n

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LatencyCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self):
        self._db.execute("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlock
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _alive(host: str, pid: int, claimed: float) -> bool:
    if time.time() - claimed >= CLAIM_TTL_S:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
