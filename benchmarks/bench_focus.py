"""Benchmark of the focus family (lenscore.metrics.focus) beyond the shared working copy.

Run: .venv/bin/python benchmarks/bench_focus.py [--size 1024] [--repeats 7] [--threads 1]

For each scene the shared derivations every family uses (working copy, face detection, subject
masks, ``ctx.noise_sigma``) are computed first and NOT timed; then ``focus.compute`` is timed
alone. Prints the median wall time and the median CPU time of this process; on a shared,
loaded machine CPU time is the steadier figure, and a reference operation (Laplacian + variance
of a 1024 x 1024 float image: 1.2 ms on an idle core per ../shared/design/ENVIRONMENT.md) is
timed alongside so the figures can be scaled to an idle machine. Scenes: real images from
../shared/data (resized to ``--size`` square) and the thin-lens renderer's portraits. The
one-off calibration table (built once per process) is timed separately. Target (issue 14): < 15 ms per 1024 x 1024 image,
the defocus map (``ctx.defocus``) included; the bokeh result focus reads is computed beforehand
and not timed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
from _timing import runs

from lenscore.context import ImageContext
from lenscore.metrics import focus

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms) of ``fn()`` over ``repeats`` runs."""
    wall, cpu, _ = runs(fn, repeats)
    return statistics.median(wall), statistics.median(cpu)


def scenes(size: int):
    for sub in ("comfyui-png", "defocus-pairs", "portraits-london"):
        folder = DATA / sub
        if folder.is_dir():
            from PIL import Image

            for p in sorted(folder.iterdir())[:4]:
                if p.suffix.lower() in (".png", ".jpg", ".jpeg"):
                    im = Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)
                    yield f"{sub}/{p.name}", np.asarray(im, np.float32) / 255.0
    try:
        from lenscore.datasets.synthetic import SceneSpec, render
    except ImportError:
        return
    for n in (1.4, 4.0, 16.0):
        yield f"synthetic f/{n:g}", render(SceneSpec(width=size, height=size, f_number=n)).rgb


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="cv2.setNumThreads")
    args = ap.parse_args()
    cv2.setNumThreads(args.threads)
    from lenscore import defocus

    t = time.perf_counter()
    defocus.disc_calibration(defocus.EDGE_SIGMA, defocus.REBLUR_SIGMAS)
    for level, n, _, _ in defocus.PARAMS.windows:
        defocus.spectral_model(n, level)
    print(f"calibration and spectral tables (once per process): {(time.perf_counter() - t) * 1000:.0f} ms")
    ref = np.random.default_rng(0).random((1024, 1024)).astype(np.float32)
    rows = []
    for name, rgb in scenes(args.size):
        bokeh = ImageContext(rgb).result("bokeh")  # what focus reads from bokeh: not timed

        def fresh() -> ImageContext:
            ctx = ImageContext(rgb)
            ctx.work_gray, ctx.work_luminance, ctx.work_subject_mask, ctx.noise_sigma  # shared
            ctx.provide("bokeh", bokeh)
            return ctx

        ctxs = [fresh() for _ in range(args.repeats + 1)]
        focus.compute(ctxs.pop())
        it = iter(ctxs)
        wall, cpu = timed(lambda: focus.compute(next(it)), args.repeats)  # includes ctx.defocus
        _, ref_cpu = timed(lambda: cv2.Laplacian(ref, cv2.CV_32F).var(), 5)
        rows.append((name, wall, cpu, ref_cpu))
        print(f"{name:<48} wall {wall:6.2f} ms  cpu {cpu:6.2f} ms  "
              f"(reference op {ref_cpu:4.2f} ms vs 1.2 idle: idle-equivalent {cpu * 1.2 / ref_cpu:5.2f} ms)")
    if rows:
        cpu = statistics.median(r[2] for r in rows)
        eq = statistics.median(r[2] * 1.2 / r[3] for r in rows)
        print(f"median over {len(rows)} scenes at {args.size} px: cpu {cpu:.2f} ms, "
              f"idle-equivalent {eq:.2f} ms (target < 15 ms, issue 14)")


if __name__ == "__main__":
    main()
