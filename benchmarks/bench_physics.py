"""CPU cost of the physics family per 1024 px image (one thread), apart from what it reads.

Run::

    .venv/bin/python benchmarks/bench_physics.py            # 20 demo renders at 1024 px
    .venv/bin/python benchmarks/bench_physics.py --n 50 --size 768

The physics family parses the prompt, predicts with the thin lens and compares with the focus,
colour and bokeh results of the same context; those families are computed once per image first
(their cost is theirs: see bench_suite.py --profile), then physics is timed alone with
``time.process_time`` (CPU seconds of this process; OMP/BLAS threads pinned to 1): the figure
reported is the median CPU ms per image for (a) compute (parse + predict + compare), (b) the
same with a prompt that states nothing (the early exit), (c) the overlay at 900 px.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=1024)
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(1)
    from lenscore.context import ImageContext
    from lenscore.datasets.demo import DEMO_PROMPTS
    from lenscore.datasets.synthetic import demo_specs, render
    from lenscore.metrics import physics

    rows = {"compute": [], "silent prompt": [], "draw 900 px": [], "upstream (focus+color+bokeh)": []}
    for spec in demo_specs("optical", args.n, size=args.size):
        r = render(spec)
        base = ImageContext(r.rgb)
        t = time.process_time()
        ups = {f: base.result(f) for f in ("focus", "color", "bokeh")}
        rows["upstream (focus+color+bokeh)"].append(time.process_time() - t)
        for key, prompt in (("compute", DEMO_PROMPTS["optical"]), ("silent prompt", DEMO_PROMPTS["blurred"])):
            ctx = ImageContext(r.rgb, prompt=prompt)
            for f, res in ups.items():
                ctx.provide(f, res)
            t = time.process_time()
            res = physics.compute(ctx)
            rows[key].append(time.process_time() - t)
        t = time.process_time()
        physics.draw(r.rgb, res, 900)
        rows["draw 900 px"].append(time.process_time() - t)
    print(f"physics family, {args.n} demo 'optical' renders at {args.size} px, CPU ms per image "
          f"(median, one thread)")
    for k, v in rows.items():
        print(f"  {k:<32s} {1000 * statistics.median(v):8.2f} ms   (max {1000 * max(v):.2f})")


if __name__ == "__main__":
    main()
