"""Without the 'clip' and 'dask' extras the suite skips their tests with a reason instead of
failing (a plain `pip install lenscore` and `pytest` must be green)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


@pytest.mark.slow
def test_extra_dependent_tests_skip_with_a_reason_when_the_extras_are_missing(tmp_path):
    path = os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "_no_extras_plugin", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-rs", str(TESTS / "test_executors.py"), str(TESTS / "test_clip.py"),
         str(TESTS / "test_cli_score.py")],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "failed" not in out.splitlines()[-1]
    assert "needs the 'dask' extra" in out and "pip install 'lenscore[dask]'" in out
    assert "clip extra not installed" in out
