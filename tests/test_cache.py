"""The latency cache: round trip, claims between processes, concurrent writers."""

import multiprocessing as mp
import os

from fastvlm.cache import LatencyCache


def test_put_get_and_fingerprints_do_not_mix(tmp_path):
    c = LatencyCache(tmp_path / "c.sqlite")
    c.put("fp1", "encoder", "k", {"x": 1})
    assert c.get("fp1", "encoder", "k") == {"x": 1}
    assert c.get("fp2", "encoder", "k") is None
    assert c.clear("fp2") == 0 and c.clear("fp1") == 1


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
