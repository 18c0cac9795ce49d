"""The latency cache: round trip, claims between processes, concurrent writers."""

import json
import multiprocessing as mp
import os

from fastvlm.cache import LatencyCache


def test_put_get_and_fingerprints_do_not_mix(tmp_path):
    c = LatencyCache(tmp_path / "c.sqlite")
    c.put("fp1", "encoder", "k", {"x": 1})
    assert c.get("fp1", "encoder", "k") == {"x": 1}
    assert c.get("fp2", "encoder", "k") is None
    assert c.clear("fp2") == 0 and c.clear("fp1") == 1


def test_clear_unstable_keeps_the_quiet_timings(tmp_path):
    c = LatencyCache(tmp_path / "c.sqlite")
    c.put("fp1", "encoder", "noisy", {"median_ms": 9.0, "unstable": True})
    c.put("fp1", "encoder", "quiet", {"median_ms": 5.0, "unstable": False})
    c.put("fp1", "peak", "old", {"gflops_s": 50.0})  # no flag: kept
    c.put("fp2", "prefill", "noisy", {"median_ms": 7.0, "unstable": True})
    assert sorted(e[2:] for e in c.entries("fp1")) == [("noisy", True), ("old", False),
                                                        ("quiet", False)]
    assert c.clear("fp1", unstable_only=True) == 1
    assert c.get("fp1", "encoder", "noisy") is None
    assert c.get("fp1", "encoder", "quiet") and c.get("fp1", "peak", "old")
    assert c.get("fp2", "prefill", "noisy")  # another machine's entries are left alone
    assert c.clear(None, unstable_only=True) == 1 and len(c.entries()) == 2


def test_cache_command_lists_and_clears_unstable(tmp_path, monkeypatch, run_cli):
    from fastvlm.runtime import setup_runtime

    monkeypatch.setenv("FASTVLM_CACHE_DIR", str(tmp_path))
    fp = setup_runtime().fingerprint
    c = LatencyCache(tmp_path / "latency.sqlite")
    c.put(fp, "encoder", "a", {"unstable": True})
    c.put(fp, "encoder", "b", {"unstable": False})
    c.close()
    run = lambda *a: run_cli("cache", *a)  # noqa: E731
    listed = run("list")
    assert listed.returncode == 0 and "encoder    2 (1 unstable)" in listed.stdout, listed
    listed = json.loads(run("list", "--json").stdout)
    assert listed["entries"] == listed["this_machine"] == 2 and listed["fingerprint"] == fp
    assert listed["groups"] == [{"fingerprint": fp, "this_machine": True, "kind": "encoder",
                                 "entries": 2, "unstable": 1}]
    cleared = run("clear", "--unstable")
    assert cleared.returncode == 0 and "removed 1 unstable entries" in cleared.stdout
    assert "encoder    1\n" in run("list").stdout
    assert run().stdout == run("list").stdout  # a bare `cache` lists
    assert json.loads(run("clear", "--unstable", "--json").stdout)["removed"] == 0
    monkeypatch.setenv("FASTVLM_CACHE_DIR", str(tmp_path / "none"))
    empty = run("list")
    assert empty.returncode == 0 and "no cache yet" in empty.stdout
    assert not (tmp_path / "none").exists()  # listing never creates a cache


def _hold_claim(path, ready, release):
    c = LatencyCache(path)
    assert c.claim("fp", "prefill", "k")
    ready.set()
    release.wait(30)
    c.put("fp", "prefill", "k", {"ms": 5})


def test_claim_blocks_others_until_result(tmp_path):
    path = tmp_path / "c.sqlite"
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_claim, args=(path, ready, release))
    p.start()
    assert ready.wait(60)
    c = LatencyCache(path)
    assert not c.claim("fp", "prefill", "k")  # a live process is measuring it
    release.set()
    assert c.wait_for("fp", "prefill", "k", timeout_s=60, poll_s=0.05) == {"ms": 5}
    p.join(30)


def _die_with_claim(path):
    LatencyCache(path).claim("fp", "encoder", "k")
    os._exit(0)


def test_claims_of_dead_processes_are_taken_over(tmp_path):
    path = tmp_path / "c.sqlite"
    p = mp.get_context("spawn").Process(target=_die_with_claim, args=(path,))
    p.start()
    p.join(60)
    assert LatencyCache(path).claim("fp", "encoder", "k")


def _writer(path, worker):
    c = LatencyCache(path)
    for i in range(50):
        c.put("fp", "encoder", f"{worker}-{i}", {"i": i})


def test_two_processes_write_at_once(tmp_path):
    path = tmp_path / "c.sqlite"
    LatencyCache(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert len(LatencyCache(path).entries("fp")) == 100


def test_claims_are_released_when_waiting_is_interrupted(tiny, fast_settings, monkeypatch):
    """Ctrl-C while waiting for another process's component must not leave this process's
    earlier claims behind (others would wait on them for up to 30 minutes)."""
    import pytest

    from fastvlm.measure import measure_ttft

    cache = LatencyCache()
    real_claim, calls = LatencyCache.claim, []

    def claim(self, fp, kind, key):  # the first component is ours, the second another's
        calls.append(kind)
        return real_claim(self, fp, kind, key) if len(calls) == 1 else False

    def interrupted(self, *args, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(LatencyCache, "claim", claim)
    monkeypatch.setattr(LatencyCache, "wait_for", interrupted)
    with pytest.raises(KeyboardInterrupt):
        measure_ttft(tiny, fast_settings, cache)
    assert len(calls) == 2
    assert cache._db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    cache.close()


def test_a_claim_expires_after_its_ttl_even_if_its_pid_lives(tmp_path):
    """A live pid may be a reused one: past CLAIM_TTL_S the claim is stale on any host."""
    import socket
    import time

    from fastvlm.cache import CLAIM_TTL_S

    c = LatencyCache(tmp_path / "c.sqlite")
    other = os.getppid()  # alive, and not this process
    for age, claimable in ((60.0, False), (CLAIM_TTL_S + 60.0, True)):
        for host in (socket.gethostname(), "elsewhere"):
            c._db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                          ("fp", "encoder", "k", host, other, time.time() - age))
            assert c.claim("fp", "encoder", "k") is claimable, (age, host)
            c.release("fp", "encoder", "k")
    c.close()
