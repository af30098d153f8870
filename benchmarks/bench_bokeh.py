"""Benchmark of the bokeh family (lenscore.metrics.bokeh) beyond the shared decode.

Run: .venv/bin/python benchmarks/bench_bokeh.py [--size 1024] [--repeats 7] [--threads 1]

For each scene the shared derivations every family uses (working copy, linear luminance, face
detection and subject masks) are computed first and NOT timed; then ``bokeh.compute`` is timed
alone. Prints the median wall time and the fastest and median CPU time of this process (on a
shared, loaded machine the fastest CPU time is the steadier figure), and a reference operation
whose quiet-machine time is known, to scale the figures by. Scenes: the
renderer's demo variants and aperture shapes at ``--size``, ``--random`` scenes of
:func:`lenscore.datasets.scenes.random_bokeh_scenes` (the validation spread; their median is
printed last), and the real generated images in ../shared/data/comfyui-png when that folder
exists. The target (issue 15): 10 ms CPU per 1024 x 1024 image on one core.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np
from _timing import reference, runs

from lenscore.context import ImageContext
from lenscore.datasets.synthetic import demo_specs, render
from lenscore.metrics import bokeh

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def bench(name: str, rgb: np.ndarray, repeats: int) -> float:
    ctx = ImageContext(rgb)
    ctx.work_background_mask                # shared derivations: not timed
    ctx.work_luminance
    bokeh.compute(ctx)
    wall, cpu, res = runs(lambda: bokeh.compute(ctx), repeats)
    h, w = rgb.shape[:2]
    n = res.values["bokeh.orb_count"]
    print(f"{name:34s} {w}x{h}  wall median {statistics.median(wall):6.1f} ms  "
          f"cpu min {min(cpu):6.1f} / median {statistics.median(cpu):6.1f} ms  "
          f"orbs {'nan' if n != n else int(n):>3}  "
          f"soft {len(res.artifacts.get('soft_highlights', [])):2d}  "
          f"blobs measured {res.artifacts.get('n_candidates', 0)}")
    return min(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads (0 = its default)")
    ap.add_argument("--random", type=int, default=12, help="random_bokeh_scenes to time")
    args = ap.parse_args()
    if args.threads:
        import cv2

        cv2.setNumThreads(args.threads)
    reference()
    opt = demo_specs("optical", 1, size=args.size)[0]
    scenes = {
        "optical demo (12 lights)": opt,
        "blurred demo (gaussian)": demo_specs("blurred", 1, size=args.size)[0],
        "blades6": replace(opt, aperture="blades6"),
        "cats_eye": replace(opt, aperture="cats_eye"),
        "40 overlapping lights": replace(opt, n_lights=40, allow_overlap=True),
        "clipped highlights": replace(opt, clip_highlights=True, exposure=2.0),
    }
    for name, spec in scenes.items():
        bench(name, render(spec).rgb, args.repeats)
    from lenscore.datasets.scenes import random_bokeh_scenes

    spread = [bench(f"random {i} ({sp.aperture}, {sp.n_lights} lights)", render(sp).rgb, args.repeats)
              for i, sp in enumerate(random_bokeh_scenes(args.random, 3, size=args.size))]
    if spread:
        print(f"random spread: median of the fastest CPU times {statistics.median(spread):.1f} ms "
              f"over {len(spread)} scenes")
    folder = DATA / "comfyui-png"
    if folder.is_dir():
        from PIL import Image

        for f in sorted(folder.glob("*.png")):
            rgb = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0
            bench(f.name[:34], rgb, args.repeats)


if __name__ == "__main__":
    main()
