"""The result cache and --resume: a re-run costs little, a killed run completes without duplicates.

The tests register a tiny family ('probe9', not a default family) so they do not depend on which
metric families exist; the kill tests run `lenscore score` in a subprocess that registers it too.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lenscore.cli import run_cli
from lenscore.evaluator.run import run, scan_scores, select_families

from conftest import write_png

#: the probe family, as source: exec'd here and in the subprocesses of the kill tests.
PROBE_SRC = r'''
import math, os, time
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

PROBE_CALLS = []

def _probe_compute(ctx):
    PROBE_CALLS.append(ctx.rgb.shape)
    delay = float(os.environ.get("LENSCORE_TEST_DELAY", "0"))
    if delay:
        time.sleep(delay)
    return MetricResult({"probe9.mean": float(ctx.rgb.mean()),
                         "probe9.red": float(ctx.rgb[..., 0].mean()),
                         "probe9.never": math.nan},
                        {"probe9.never": "never measurable (test family)"})

PROBE = register(MetricFamily(
    name="probe9", version="1", method="test", compute=_probe_compute, default=False,
    params={"k": 1},
    outputs=(Output("probe9.mean", "1", "neither", (0.0, 1.0), "mean"),
             Output("probe9.red", "1", "neither", (0.0, 1.0), "red"),
             Output("probe9.never", "1", "neither", (0.0, 1.0), "always NaN"))))
'''
_ns: dict = {}
exec(compile(PROBE_SRC, "probe9", "exec"), _ns)
PROBE = _ns["PROBE"]
CALLS: list = _ns["PROBE_CALLS"]


def _img(seed: int, size: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _folder(root: Path, n: int, size: int = 32) -> Path:
    for i in range(n):
        write_png(root / ("a" if i % 2 else "b") / f"img_{i:03d}.png", _img(i, size))
    return root


def _rows(out: Path) -> list[dict]:
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _score(*args: str) -> int:
    return run_cli(["score", *args, "--families", "probe9", "--jobs", "1"])


def test_cached_rerun_reads_back_identical_rows_without_computing(tmp_path):
    src = _folder(tmp_path / "in", 6)
    assert _score(str(src), "-o", str(tmp_path / "o1")) == 0
    assert (tmp_path / ".lenscore-cache").is_dir()
    CALLS.clear()
    assert _score(str(src), "-o", str(tmp_path / "o2")) == 0
    assert CALLS == []                                       # nothing recomputed
    assert _rows(tmp_path / "o1") == _rows(tmp_path / "o2")  # and nothing changed


def test_a_changed_file_is_recomputed_alone(tmp_path):
    src = _folder(tmp_path / "in", 4)
    out = tmp_path / "o"
    assert _score(str(src), "-o", str(out)) == 0
    before = {r["path"]: r for r in _rows(out)}
    write_png(src / "b" / "img_000.png", np.full((32, 32, 3), 200, np.uint8))
    CALLS.clear()
    assert _score(str(src), "-o", str(out)) == 0
    assert len(CALLS) == 1
    after = {r["path"]: r for r in _rows(out)}
    assert float(after["b/img_000.png"]["probe9.mean"]) == pytest.approx(200 / 255, abs=1e-6)
    assert {k: v for k, v in after.items() if k != "b/img_000.png"} == \
        {k: v for k, v in before.items() if k != "b/img_000.png"}


def test_cache_is_content_addressed_renamed_copies_hit(tmp_path):
    src = _folder(tmp_path / "in", 3)
    assert _score(str(src), "-o", str(tmp_path / "o1")) == 0
    moved = tmp_path / "moved"
    moved.mkdir()
    for p in sorted(src.rglob("*.png")):
        (moved / ("copy of " + p.name)).write_bytes(p.read_bytes())
    CALLS.clear()
    assert _score(str(moved), "-o", str(tmp_path / "o2")) == 0
    assert CALLS == []
    means1 = sorted(r["probe9.mean"] for r in _rows(tmp_path / "o1"))
    means2 = sorted(r["probe9.mean"] for r in _rows(tmp_path / "o2"))
    assert means1 == means2


def test_key_covers_family_version_params_subject_box_and_max_pixels(tmp_path):
    from lenscore.metrics.base import MetricFamily, register

    src = _folder(tmp_path / "in", 2)
    out = str(tmp_path / "o")
    assert _score(str(src), "-o", out) == 0
    CALLS.clear()
    assert _score(str(src), "-o", out, "--max-pixels", "5000") == 0
    assert len(CALLS) == 2
    try:
        register(MetricFamily(**{**PROBE.__dict__, "version": "2"}))
        CALLS.clear()
        assert _score(str(src), "-o", out) == 0
        assert len(CALLS) == 2
        register(MetricFamily(**{**PROBE.__dict__, "params": {"k": 2}}))
        CALLS.clear()
        assert _score(str(src), "-o", out) == 0
        assert len(CALLS) == 2
    finally:
        register(PROBE)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "in/a/img_001.png", "subject_box": "1,1,10,10"}) + "\n")
    CALLS.clear()
    assert run_cli(["score", "--manifest", str(m), "-o", out, "--families", "probe9", "-j", "1"]) == 0
    assert len(CALLS) == 1


def test_no_cache_and_custom_cache_dir(tmp_path):
    src = _folder(tmp_path / "in", 2)
    assert _score(str(src), "-o", str(tmp_path / "o"), "--no-cache") == 0
    assert not (tmp_path / ".lenscore-cache").exists()
    assert _score(str(src), "-o", str(tmp_path / "o"), "--cache", str(tmp_path / "c")) == 0
    assert (tmp_path / "c" / "scores.sqlite").is_file()
    CALLS.clear()
    assert _score(str(src), "-o", str(tmp_path / "o2"), "--cache", str(tmp_path / "c")) == 0
    assert CALLS == []


def test_bad_files_error_rows_are_cached_but_unreadable_ones_are_not(tmp_path):
    src = tmp_path / "in"
    write_png(src / "good.png", _img(0))
    (src / "cut.png").write_bytes((src / "good.png").read_bytes()[:100])
    (src / "gone.png").symlink_to(src / "nowhere.png")
    out = tmp_path / "o"
    assert _score(str(src), "-o", str(out)) == 3
    rows = {r["path"]: r for r in _rows(out)}
    assert "truncated" in rows["cut.png"]["error"] and "not found" in rows["gone.png"]["error"]
    write_png(src / "nowhere.png", _img(5))      # the broken link now resolves
    assert _score(str(src), "-o", str(out)) == 3  # cut.png still bad (from the cache)
    rows = {r["path"]: r for r in _rows(out)}
    assert rows["gone.png"]["status"] == "ok" and rows["cut.png"]["status"] == "error"


def test_a_damaged_cache_never_breaks_a_run(tmp_path):
    src = _folder(tmp_path / "in", 2)
    cache = tmp_path / ".lenscore-cache"
    cache.mkdir()
    (cache / "scores.sqlite").write_bytes(b"this is not a database" * 100)
    assert _score(str(src), "-o", str(tmp_path / "o")) == 0
    assert len(_rows(tmp_path / "o")) == 2


def test_resume_keeps_finished_rows_drops_a_torn_line_and_adds_no_duplicates(tmp_path):
    src = _folder(tmp_path / "in", 8)
    full = tmp_path / "full"
    assert _score(str(src), "-o", str(full), "--no-cache") == 0
    text = (full / "scores.csv").read_bytes()
    lines = text.split(b"\r\n")
    part = tmp_path / "part"
    part.mkdir()
    # header + 3 rows + half of the 4th, as a SIGKILL in the middle of a write would leave
    (part / "scores.csv").write_bytes(b"\r\n".join(lines[:4]) + b"\r\n" + lines[4][:25])
    CALLS.clear()
    assert _score(str(src), "-o", str(part), "--resume", "--no-cache") == 0
    assert len(CALLS) == 5
    assert _rows(part) == _rows(full)
    # resuming a finished run does nothing
    CALLS.clear()
    assert _score(str(src), "-o", str(part), "--resume", "--no-cache") == 0
    assert CALLS == [] and _rows(part) == _rows(full)


def test_resume_refuses_a_table_with_other_columns(tmp_path, capsys):
    src = _folder(tmp_path / "in", 2)
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "scores.csv").write_text("path,variant,something.else\r\nx.png,a,1\r\n")
    assert _score(str(src), "-o", str(tmp_path / "o"), "--resume") == 2
    assert "other columns" in capsys.readouterr().err


def test_resume_without_a_table_is_a_fresh_run(tmp_path):
    src = _folder(tmp_path / "in", 2)
    assert _score(str(src), "-o", str(tmp_path / "o"), "--resume") == 0
    assert len(_rows(tmp_path / "o")) == 2


def test_scan_tolerates_prompts_with_newlines_and_quotes(tmp_path):
    from lenscore.evaluator.run import ScoresWriter

    p = tmp_path / "scores.csv"
    cols = ["path", "status", "prompt"]
    with ScoresWriter(p, cols) as w:
        w.write({"path": "a.png", "status": "ok", "prompt": 'line one\nline "two", three'})
        w.write({"path": "b.png", "status": "error", "prompt": "x\x00y"})
    full = p.read_bytes()
    s = scan_scores(p)
    assert s.header == cols and s.paths == {"a.png", "b.png"} and s.n_failed == 1
    assert s.good_end == len(full)
    p.write_bytes(full[:-3])                       # torn inside the last row
    s = scan_scores(p)
    assert s.paths == {"a.png"} and s.good_end < len(full)


# ---- killing a real run ------------------------------------------------------------------------
def _spawn(src: Path, out: Path, delay: float, jobs: int = 1) -> subprocess.Popen:
    code = PROBE_SRC + "\nimport sys\nfrom lenscore.cli import run_cli\nsys.exit(run_cli(sys.argv[1:]))\n"
    env = {**os.environ, "LENSCORE_TEST_DELAY": str(delay), "CI": "1"}
    return subprocess.Popen([sys.executable, "-c", code, "score", str(src), "-o", str(out),
                             "--families", "probe9", "--jobs", str(jobs)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_rows(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        p = out / "scores.csv"
        if p.is_file() and p.read_bytes().count(b"\n") > n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.communicate()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("no rows appeared")


def _descendants(pid: int) -> list:
    psutil = pytest.importorskip("psutil")
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


@pytest.mark.parametrize("how,jobs", [("SIGTERM", 1), ("SIGKILL", 1), ("SIGTERM", 2),
                                      ("SIGKILL", 2)])
def test_killed_run_leaves_a_valid_csv_and_resume_completes_it(tmp_path, how, jobs):
    src = _folder(tmp_path / "in", 30)
    out = tmp_path / "o"
    proc = _spawn(src, out, delay=0.08, jobs=jobs)
    _wait_rows(out, 4, proc)
    workers = _descendants(proc.pid) if jobs > 1 else []
    proc.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    for w in workers:                     # no worker outlives the run
        try:
            w.wait(timeout=10)
        except Exception:
            w.kill()
            pytest.fail(f"worker {w.pid} outlived the killed run")
    if how == "SIGTERM":
        assert proc.returncode == 128 + signal.SIGTERM
        assert "--resume" in err and "interrupted" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    scan = scan_scores(out / "scores.csv")
    assert scan.good_end == scan.size            # every row in the file is complete
    killed_rows = _rows(out)
    assert 4 <= len(killed_rows) < 30
    assert all(r["status"] == "ok" and r["probe9.mean"] for r in killed_rows)

    assert _score(str(src), "-o", str(out), "--resume") == 0
    full = tmp_path / "full"
    assert _score(str(src), "-o", str(full), "--no-cache") == 0
    resumed = _rows(out)
    assert len({r["path"] for r in resumed}) == len(resumed) == 30
    assert resumed == _rows(full)
    assert resumed[: len(killed_rows)] == killed_rows
