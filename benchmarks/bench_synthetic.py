"""Benchmark of the ground-truth renderer (lenscore.datasets.synthetic).

Run: .venv/bin/python benchmarks/bench_synthetic.py [--size 1024] [--repeats 7]
Prints the median and the fastest wall time, and the median CPU time (all threads of this
process; on a shared, loaded machine it is the steadier figure) of ``render`` for a few scene
kinds. The first, untimed call pays the colour-science import and the astronaut cut-out (both
cached). ``--threads 1`` pins OpenCV to one thread (the time floor in ENVIRONMENT.md is single
threaded).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from lenscore.datasets.synthetic import SceneSpec, demo_specs, render


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=0, help="OpenCV threads (0 = its default)")
    args = ap.parse_args()
    if args.threads:
        import cv2

        cv2.setNumThreads(args.threads)
    t0 = time.perf_counter()
    render(SceneSpec(width=64, height=64))
    print(f"first call (imports, caches): {1000 * (time.perf_counter() - t0):.0f} ms")
    opt = demo_specs("optical", 1, size=args.size)[0]
    kinds = {
        "optical demo": opt,
        "blurred demo": demo_specs("blurred", 1, size=args.size)[0],
        "cats_eye": replace(opt, aperture="cats_eye"),
        "blades9": replace(opt, aperture="blades9"),
        "procedural subject": replace(opt, subject="procedural"),
        "smoothing 5": replace(opt, smoothing=5),
    }
    for name, spec in kinds.items():
        times, cpu = [], []
        for i in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            render(replace(spec, seed=i))
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        print(f"{args.size}x{args.size} {name:20s} wall median {1000 * statistics.median(times):5.0f} ms"
              f"  fastest {1000 * min(times):5.0f} ms  cpu median {1000 * statistics.median(cpu):5.0f} ms"
              f"  (n={args.repeats})")


if __name__ == "__main__":
    main()
