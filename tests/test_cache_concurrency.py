"""Several `lenscore score` processes share one cache (a farm runs many at once): both use it,
whether they write the same images or different ones, and a run killed with SIGKILL leaves a
cache the others keep using."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lenscore.evaluator.cache import DB_NAME, ScoreCache

from conftest import write_png

CHILD_WRITER = r"""
import sys, time
from lenscore.evaluator.cache import ScoreCache
# a run in the middle of its work: entries written but not yet flushed
c = ScoreCache(sys.argv[1], commit_every=10**9, commit_seconds=10**9)
for i in range(50):
    c.put(f"child-{i}", {"i": i})
print("ready", flush=True)
sys.stdin.readline()          # the parent writes while we hold our entries
c.close()
print("closed", flush=True)
"""

CHILD_LOCK_HOLDER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")   # holds the write lock, as a writer mid-flush does
con.execute("INSERT OR REPLACE INTO entries VALUES ('killed-mid-flush', '{}')")
print("locked", flush=True)
time.sleep(600)
"""


def _child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def test_a_second_writer_is_not_locked_out_by_a_run_in_progress(tmp_path):
    child = _child(CHILD_WRITER, str(tmp_path))
    try:
        assert child.stdout.readline().strip() == "ready"
        # with a write transaction held across images (the old design) this open or the
        # writes below would wait out the busy timeout and give up: "database is locked"
        with ScoreCache(tmp_path, busy_timeout=3.0, commit_every=5) as c:
            for i in range(20):
                c.put(f"parent-{i}", {"i": i})
            assert c.warnings == []
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "closed"
    finally:
        child.kill()
        child.wait()
    with ScoreCache(tmp_path) as c:
        got = c.get_many([f"child-{i}" for i in range(50)] + [f"parent-{i}" for i in range(20)])
    assert len(got) == 70


def test_a_writer_killed_while_holding_the_lock_does_not_block_the_others(tmp_path):
    ScoreCache(tmp_path).close()  # create the schema
    child = _child(CHILD_LOCK_HOLDER, str(tmp_path / DB_NAME))
    try:
        assert child.stdout.readline().strip() == "locked"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with ScoreCache(tmp_path, busy_timeout=5.0) as c:
        c.put("after", {"ok": True})
    con = sqlite3.connect(str(tmp_path / DB_NAME))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    keys = {k for (k,) in con.execute("SELECT key FROM entries")}
    assert "after" in keys and "killed-mid-flush" not in keys  # rolled back with its process
    con.close()


# ---- whole `lenscore score` processes --------------------------------------------------------
def _images(folder: Path, n: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(n):
        write_png(folder / ("a" if i % 2 else "b") / f"{seed}_{i:03d}.png",
                  rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    return folder


def _score(folder: Path, out: Path, cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from lenscore.cli import entry; entry()",
                             "score", str(folder), "-o",
                             str(out), "--cache", str(cache), "-f", "focus,color", "-j", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "CI": "1"})


def _cached_count(err: str) -> tuple[int, int]:
    import re

    m = re.search(r"cache: (\d+) of (\d+) image\(s\) read back", err)
    assert m, err
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("same_images", [True, False], ids=["same images", "different images"])
def test_two_concurrent_runs_both_use_the_cache(tmp_path, same_images):
    a = _images(tmp_path / "in_a", 24, seed=1)
    b = a if same_images else _images(tmp_path / "in_b", 24, seed=2)
    cache = tmp_path / "cache"
    runs = [_score(a, tmp_path / "out_a", cache), _score(b, tmp_path / "out_b", cache)]
    results = [p.communicate(timeout=600) for p in runs]
    for p, (out, err) in zip(runs, results):
        assert p.returncode == 0, err
        assert "without a cache" not in err and "warning" not in err, err
    # everything both runs computed is in the cache: a third run reads every image back
    for folder in {a, b}:
        again = _score(folder, tmp_path / "again", cache)
        _, err = again.communicate(timeout=600)
        assert again.returncode == 0, err
        hits, n = _cached_count(err)
        assert hits == n == 24


def test_a_run_killed_with_sigkill_leaves_a_cache_the_others_keep_using(tmp_path):
    victim_in = _images(tmp_path / "victim", 80, seed=3)
    other_in = _images(tmp_path / "other", 24, seed=4)
    cache = tmp_path / "cache"
    victim = _score(victim_in, tmp_path / "out_victim", cache)
    scores = tmp_path / "out_victim" / "scores.csv"
    deadline = time.monotonic() + 300
    while victim.poll() is None and time.monotonic() < deadline:  # wait until it is working
        if scores.is_file() and scores.read_text().count("\n") > 20:
            break
        time.sleep(0.05)
    other = _score(other_in, tmp_path / "out_other", cache)
    time.sleep(0.2)
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    _, err = other.communicate(timeout=600)
    assert other.returncode == 0, err
    assert "without a cache" not in err and "warning" not in err, err
    con = sqlite3.connect(str(cache / DB_NAME))
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # the killed run's folder scores fine with the same cache afterwards
    again = _score(victim_in, tmp_path / "out_victim2", cache)
    _, err = again.communicate(timeout=600)
    assert again.returncode == 0, err
    assert "warning" not in err, err
    hits, n = _cached_count(err)
    assert n == 80 and hits > 0  # what the killed run had flushed is served back
