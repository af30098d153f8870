"""Sweep the bokeh family over randomised renderer scenes on the production path and print the
figures of issue 15 with a breakdown of the misses and false detections.

Run: .venv/bin/python scripts/bokeh_sweep.py [--n 200] [--seed 0] [--size 1024] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter, defaultdict
from dataclasses import replace

import numpy as np

from lenscore.datasets.scenes import random_bokeh_scenes
from lenscore.metrics import bokeh


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--aperture", default=None)
    ap.add_argument("--subject", default=None)
    ap.add_argument("--dump", default=None, help="write per-scene records (JSON) here")
    ap.add_argument("--load", default=None, help="summarise records written by --dump")
    args = ap.parse_args()
    if args.load:
        with open(args.load) as fh:
            recs = json.load(fh)
        for k, v in bokeh.summarize_sweep(recs).items():
            print(f"{k:55s} {v}")
        return
    specs = random_bokeh_scenes(args.n, args.seed, size=args.size)
    if args.aperture:
        specs = [replace(s, aperture=args.aperture) for s in specs]
    if args.subject:
        specs = [replace(s, subject=args.subject) for s in specs]
    recs = bokeh.sweep(specs, jobs=args.jobs)
    summ = bokeh.summarize_sweep(recs)
    for k, v in summ.items():
        print(f"{k:55s} {v}")
    if args.dump:
        with open(args.dump, "w") as fh:
            json.dump(recs, fh)


if __name__ == "__main__":
    main()
