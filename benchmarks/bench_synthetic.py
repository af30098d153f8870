"""Benchmark of the ground-truth renderer (lenscore.datasets.synthetic).

Run: .venv/bin/python benchmarks/bench_synthetic.py [--size 1024] [--repeats 7]
Prints the median and the fastest wall time of ``render`` for a few scene kinds (the first,
untimed call pays the colour-science import and the astronaut cut-out, both cached).
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
    args = ap.parse_args()
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
        times = []
        for i in range(args.repeats):
            t = time.perf_counter()
            render(replace(spec, seed=i))
            times.append(time.perf_counter() - t)
        print(f"{args.size}x{args.size} {name:20s} median {1000 * statistics.median(times):6.0f} ms"
              f"  fastest {1000 * min(times):6.0f} ms  (n={args.repeats})")


if __name__ == "__main__":
    main()
