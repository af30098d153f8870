"""A hung decoder or metric must not hold the whole run: past --image-timeout the image is an
error row and the rest is scored. Hangs are simulated by a test family on one marked image."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
import pytest

from lenscore.cli import run_cli
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

from conftest import write_png


def _compute(ctx):
    m = float(ctx.rgb.mean())
    if m > 0.99:  # the white image hangs, the way the environment says
        how = os.environ.get("LENSCORE_TEST_HANG", "")
        if how == "sleep":
            time.sleep(3600)
        elif how == "stubborn":  # ignores the soft stop, as code stuck in C would
            while True:
                try:
                    time.sleep(3600)
                except BaseException:
                    pass
    return MetricResult({"hang9.mean": m})


register(MetricFamily(name="hang9", version="1", method="test", compute=_compute, default=False,
                      outputs=(Output("hang9.mean", "1", "neither", (0.0, 1.0), "mean"),)))


def _folder(root: Path) -> Path:
    for i, v in enumerate((10, 90, 255, 170, 40)):
        write_png(root / f"{i:02d}.png", np.full((16, 16, 3), v, np.uint8))
    return root


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


@pytest.mark.parametrize("jobs,how", [("1", "sleep"), ("2", "sleep"), ("2", "stubborn")],
                         ids=["in-process", "worker", "worker ignoring the soft stop"])
def test_a_hung_image_becomes_an_error_row(tmp_path, monkeypatch, jobs, how):
    monkeypatch.setenv("LENSCORE_TEST_HANG", how)
    src = _folder(tmp_path / "in")
    out = tmp_path / "out"
    code = run_cli(["score", str(src), "-o", str(out), "-f", "hang9", "-j", jobs, "--no-cache",
                    "--image-timeout", "1"])
    assert code == 3
    rows = _rows(out)
    assert list(rows) == [f"{i:02d}.png" for i in range(5)]  # every image, in order
    hung = rows["02.png"]
    assert hung["status"] == "error" and "time limit of 1 s per image" in hung["error"]
    assert all(r["status"] == "ok" for p, r in rows.items() if p != "02.png")


def test_the_limit_is_per_image_and_zero_turns_it_off(tmp_path, monkeypatch):
    monkeypatch.delenv("LENSCORE_TEST_HANG", raising=False)
    src = _folder(tmp_path / "in")
    assert run_cli(["score", str(src), "-o", str(tmp_path / "o"), "-f", "hang9", "-j", "2",
                    "--no-cache", "--image-timeout", "0"]) == 0
    assert run_cli(["score", str(src), "-o", str(tmp_path / "o2"), "-f", "hang9", "-j", "1",
                    "--no-cache", "--image-timeout", "30"]) == 0
    assert all(r["status"] == "ok" for r in _rows(tmp_path / "o2").values())


def test_a_timed_out_image_is_not_cached(tmp_path, monkeypatch):
    src = _folder(tmp_path / "in")
    monkeypatch.setenv("LENSCORE_TEST_HANG", "sleep")
    assert run_cli(["score", str(src), "-o", str(tmp_path / "o"), "-f", "hang9", "-j", "1",
                    "--image-timeout", "1"]) == 3
    monkeypatch.delenv("LENSCORE_TEST_HANG")
    assert run_cli(["score", str(src), "-o", str(tmp_path / "o"), "-f", "hang9", "-j", "1",
                    "--image-timeout", "1"]) == 0  # the hang was not the file's fault
