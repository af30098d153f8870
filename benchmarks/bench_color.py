"""Benchmark of the color family (lenscore.metrics.color) beyond the shared derivations.

Run: .venv/bin/python benchmarks/bench_color.py [--size 1024] [--n 12] [--repeats 5] [--threads 1]

For each image the shared derivations (working copy, linear light, noise, face detection,
subject mask) and the bokeh family it requires are computed first and NOT timed; then
``color.compute`` is timed alone. Prints per image the median wall and the fastest / median CPU
time of this process (on a shared, loaded machine the fastest CPU time is the steadier
figure), how many face spots and orbs it read, and the medians over all images; plus a
reference operation whose quiet-machine time is known, to scale the figures by. Images: the
randomised colour scenes (``random_color_scenes``) at ``--size``, and the real images in
../shared/data (London portraits, generated portraits, ComfyUI renders) when present. The
target (issue 16): 10 ms per 1024 x 1024 image on one core.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from _timing import reference, runs

from lenscore.context import ImageContext
from lenscore.metrics import color

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def bench(name: str, rgb: np.ndarray, repeats: int) -> float:
    ctx = ImageContext(rgb)
    ctx.faces, ctx.work_subject_mask, ctx.noise_sigma, ctx.work_rgb  # shared: not timed
    ctx.result("bokeh")
    color.compute(ctx)
    wall, cpu, res = runs(lambda: color.compute(ctx), repeats)
    h, w = rgb.shape[:2]
    src = res.artifacts.get("sources") or []
    print(f"{name:36s} {w}x{h}  wall median {statistics.median(wall):6.1f} ms  "
          f"cpu min {min(cpu):6.1f} / median {statistics.median(cpu):6.1f} ms  "
          f"face spots {sum(s['kind'] == 'face' for s in src):2d}  orbs {sum(s['kind'] == 'orb' for s in src):2d}  "
          f"face {'yes' if ctx.faces else 'no '}")
    return min(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--n", type=int, default=12, help="randomised colour scenes")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (0 = its default)")
    args = ap.parse_args()
    if args.threads:
        import cv2

        cv2.setNumThreads(args.threads)
    from lenscore.datasets.scenes import random_color_scenes
    from lenscore.datasets.synthetic import render

    color.cct_duv(np.array([0.2, 0.31]))  # colour-science's first call builds its table
    reference()
    mins = []
    for i, spec in enumerate(random_color_scenes(args.n, seed=0, size=args.size)):
        mins.append(bench(f"random colour scene {i}", render(spec).rgb, args.repeats))
    real = []
    if DATA.is_dir():
        from lenscore.datasets.decode import decode_image

        files = (sorted((DATA / "portraits-london").glob("*.jpg"))[:4]
                 + sorted((DATA / "ai-portraits").glob("*.jpg"))[:3]
                 + sorted((DATA / "comfyui-png").glob("*.png")))
        for f in files:
            real.append(bench(f.name[:36], decode_image(f).rgb, args.repeats))
    print(f"median of the fastest CPU times: renderer {statistics.median(mins):.1f} ms"
          + (f", real images {statistics.median(real):.1f} ms" if real else ""))


if __name__ == "__main__":
    main()
