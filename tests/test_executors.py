"""Where images run: serially, in worker processes, on Dask; inputs from fsspec URLs.

Behaviour asserted: every executor gives the same rows in input order; a bounded number of
images is in flight; a worker that dies costs only its own image.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lenscore.cli import run_cli
from lenscore.datasets.discover import find_images
from lenscore.evaluator import executors as ex
from lenscore.evaluator.run import run, select_families
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

from conftest import requires_extra, write_png


def _compute(ctx):
    m = float(ctx.rgb.mean())
    # later images finish first: tests that rows still come out in input order
    time.sleep(0.03 * (1.0 - m))
    if m > 0.995 and ctx.rgb.min() > 0.995 and os.environ.get("LENSCORE_TEST_CRASH") == "1":
        import multiprocessing

        if multiprocessing.parent_process() is not None:  # only ever kill a worker process
            os.kill(os.getpid(), 9)
        raise RuntimeError("would have crashed the worker")
    return MetricResult({"exec9.mean": m, "exec9.nan": math.nan}, {"exec9.nan": "test reason"})


FAMILY = register(MetricFamily(
    name="exec9", version="1", method="test", compute=_compute, default=False,
    outputs=(Output("exec9.mean", "1", "neither", (0.0, 1.0), "mean"),
             Output("exec9.nan", "1", "neither", (0.0, 1.0), "NaN"))))


def _folder(root: Path, n: int) -> Path:
    for i in range(n):
        v = int(255 * i / max(1, n - 1))
        write_png(root / ("a" if i % 2 else "b") / f"{i:02d}.png", np.full((24, 24, 3), v, np.uint8))
    return root


def _rows(out: Path) -> list[dict]:
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_default_jobs_is_the_usable_cores():
    n = ex.default_jobs()
    assert 1 <= n <= (os.cpu_count() or 1)


def test_serial_and_process_give_the_same_rows_in_input_order(tmp_path):
    src = _folder(tmp_path / "in", 8)
    records = find_images(src)
    fams = select_families(["exec9"])
    run(records, tmp_path / "serial", families=fams, jobs=1)
    run(records, tmp_path / "proc", families=fams, jobs=2)
    serial = _rows(tmp_path / "serial")
    assert [r["path"] for r in serial] == [r.path for r in records]
    assert _rows(tmp_path / "proc") == serial


def test_dask_gives_the_same_rows_in_input_order(tmp_path):
    requires_extra("distributed", "dask")
    src = _folder(tmp_path / "in", 8)
    records = find_images(src)
    fams = select_families(["exec9"])
    run(records, tmp_path / "serial", families=fams, jobs=1)
    dask = ex.DaskExecutor(jobs=2, processes=False)
    try:
        run(records, tmp_path / "dask", families=fams, executor=dask)
    finally:
        dask.close()
    assert _rows(tmp_path / "dask") == _rows(tmp_path / "serial")


def test_without_the_dask_extra_the_dask_executor_names_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    src = _folder(tmp_path / "in", 1)
    assert run_cli(["score", str(src), "-o", str(tmp_path / "o"), "--executor", "dask"]) == 2
    assert "pip install 'lenscore[dask]'" in capsys.readouterr().err


def test_without_fsspec_a_url_input_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)
    assert run_cli(["score", "memory://renders", "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "fsspec" in err and "pip install 'lenscore[dask]'" in err


class _Counting:
    """Wraps an executor and records the most tasks ever outstanding."""

    def __init__(self, inner):
        self.inner, self.workers = inner, inner.workers
        self.live: list = []
        self.peak = 0

    def submit(self, fn, *args):
        self.live = [f for f in self.live if not f.done()]
        f = self.inner.submit(fn, *args)
        self.live.append(f)
        self.peak = max(self.peak, len(self.live))
        return f

    def restart(self):
        self.inner.restart()

    def close(self, cancel=False):
        self.inner.close(cancel=cancel)


def test_images_in_flight_are_bounded(tmp_path):
    src = _folder(tmp_path / "in", 24)
    exe = _Counting(ex.ProcessExecutor(2))
    try:
        res = run(find_images(src), tmp_path / "o", families=select_families(["exec9"]),
                  executor=exe, window=4)
    finally:
        exe.close()
    assert res.n == 24 and res.n_failed == 0
    assert exe.peak <= 4


def test_a_worker_crash_costs_only_its_own_image(tmp_path, monkeypatch):
    monkeypatch.setenv("LENSCORE_TEST_CRASH", "1")
    src = _folder(tmp_path / "in", 8)   # the last image is pure white: it kills its worker
    res = run(find_images(src), tmp_path / "o", families=select_families(["exec9"]), jobs=2)
    rows = {r["path"]: r for r in _rows(tmp_path / "o")}
    assert len(rows) == 8 and res.n_failed == 1
    assert "worker process died" in rows["a/07.png"]["error"]
    assert all(r["status"] == "ok" for p, r in rows.items() if p != "a/07.png")


def test_cli_dask_executor_with_a_scheduler_address(tmp_path):
    LocalCluster = requires_extra("distributed", "dask").LocalCluster

    src = _folder(tmp_path / "in", 4)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        code = run_cli(["score", str(src), "-o", str(tmp_path / "d"), "--families", "exec9",
                        "--executor", "dask", "--scheduler", cluster.scheduler_address,
                        "--no-cache"])
    assert code == 0
    assert run_cli(["score", str(src), "-o", str(tmp_path / "s"), "--families", "exec9",
                    "-j", "1", "--no-cache"]) == 0
    assert _rows(tmp_path / "d") == _rows(tmp_path / "s")


def test_scheduler_without_dask_is_a_usage_error(tmp_path, capsys):
    src = _folder(tmp_path / "in", 1)
    assert run_cli(["score", str(src), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    assert "--executor dask" in capsys.readouterr().err


def test_an_unreachable_scheduler_is_a_usage_error():
    from lenscore.errors import UsageError

    requires_extra("distributed", "dask")
    with pytest.raises(UsageError, match="cannot reach the Dask scheduler"):
        ex.DaskExecutor("tcp://127.0.0.1:9", timeout="1s")


def test_fsspec_memory_url_is_discovered_and_scored(tmp_path):
    fsspec = requires_extra("fsspec", "dask")

    from lenscore.evaluator.sources import find_images_url

    fs = fsspec.filesystem("memory")
    local = _folder(tmp_path / "in", 4)
    for p in sorted(local.rglob("*.png")):
        fs.pipe(f"/lc9renders/{p.relative_to(local).as_posix()}", p.read_bytes())
    fs.pipe("/lc9renders/b/notes.txt", b"not an image")
    try:
        records = find_images_url("memory://lc9renders")
        assert [r.path for r in records] == [r.path for r in find_images(local)]
        assert {r.variant for r in records} == {"a", "b"}
        out = tmp_path / "m"
        assert run_cli(["score", "memory://lc9renders", "-o", str(out), "--families", "exec9",
                        "-j", "1"]) == 0
        assert run_cli(["score", str(local), "-o", str(tmp_path / "l"), "--families", "exec9",
                        "-j", "1", "--no-cache"]) == 0
        assert _rows(out) == _rows(tmp_path / "l")
        # a re-run from the URL reads the cache (hash of the remote bytes)
        res = run(records, tmp_path / "m2", families=select_families(["exec9"]),
                  cache_dir=tmp_path / ".lenscore-cache")
        assert res.n_cached == 4
    finally:
        fs.rm("/lc9renders", recursive=True)


def test_file_url_runs_in_worker_processes(tmp_path):
    requires_extra("fsspec", "dask")
    src = _folder(tmp_path / "in", 4)
    out = tmp_path / "o"
    assert run_cli(["score", src.as_uri(), "-o", str(out), "--families", "exec9", "-j", "2",
                    "--no-cache"]) == 0
    assert [r["status"] for r in _rows(out)] == ["ok"] * 4


def test_a_missing_protocol_package_is_a_clear_usage_error(tmp_path, capsys):
    requires_extra("fsspec", "dask")
    try:
        import s3fs  # noqa: F401
        pytest.skip("s3fs is installed")
    except ImportError:
        pass
    assert run_cli(["score", "s3://some-bucket/renders/", "-o", str(tmp_path / "o")]) == 2
    assert "s3fs" in capsys.readouterr().err


def test_missing_url_is_a_usage_error(tmp_path, capsys):
    requires_extra("fsspec", "dask")
    assert run_cli(["score", "memory://lc9-nothing-here", "-o", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_each_image_is_read_decoded_and_face_detected_once(tmp_path, monkeypatch):
    """Do work once: one read, one decode, at most one face detection per image, shared by
    every family (the default families, whichever exist, and a test family)."""
    from collections import Counter

    from skimage import data

    import lenscore.evaluator.run as runmod
    import lenscore.evaluator.sources as sources
    import lenscore.faces as faces
    from lenscore.datasets.discover import ImageRecord
    from lenscore.evaluator.run import score_record

    counts: Counter = Counter()

    def counting(mod, name):
        real = getattr(mod, name)

        def wrapper(*a, **kw):
            counts[name] += 1
            return real(*a, **kw)
        monkeypatch.setattr(mod, name, wrapper)

    counting(sources, "read_source")
    counting(runmod, "decode_image")
    counting(faces, "detect_faces")
    p = write_png(tmp_path / "astronaut.png", data.astronaut())
    fams = select_families() + [FAMILY]
    row = score_record(ImageRecord(path="astronaut.png", source=str(p)), fams).row
    assert row["status"] == "ok"
    assert counts["read_source"] == 1 and counts["decode_image"] == 1
    assert counts["detect_faces"] <= 1
