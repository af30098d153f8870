"""Timing helpers the per-family benchmarks share (run as ``python benchmarks/bench_X.py``,
which puts this folder on ``sys.path``)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np


def runs(fn: Callable[[], object], repeats: int) -> tuple[list[float], list[float], object]:
    """(wall ms per run, CPU ms per run, the last result) of ``fn()`` over ``repeats`` runs."""
    wall, cpu, out = [], [], None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(1000 * (time.perf_counter() - t))
        cpu.append(1000 * (time.process_time() - c))
    return wall, cpu, out


def reference() -> None:
    """A fixed operation with a known quiet-machine time, to read the figures above against."""
    import cv2

    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    _, cpu, _ = runs(lambda: cv2.Laplacian(a, cv2.CV_32F).var(), 20)
    print(f"reference: Laplacian + variance at 1024 px, cpu min {min(cpu):.2f} ms "
          f"(ENVIRONMENT.md, quiet machine: 1.2 ms)")
