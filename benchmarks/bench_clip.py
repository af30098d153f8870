"""Benchmark: clip family throughput, batched vs one image at a time.

ViT-B-32 with random weights (pretrained=None, nothing downloaded), saved to a temporary
checkpoint and loaded through ``load_clip`` like a user's local weights; CPU, ``--threads``
torch threads (default 2). Measures ``ClipScorer.score`` (image embedding + prompt + probes) on
prepared images, so the figure is the model's cost, not decoding. Each prompt is new (a real
run has one prompt per image at worst), so text encoding is included.

    .venv/bin/python benchmarks/bench_clip.py [--images 32] [--threads 2] [--batch 16]

Prints images/s for batch size ``--batch`` and for batch size 1, and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="ViT-B-32")
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import numpy as np

    from lenscore.context import ImageContext
    from lenscore.metrics import clip as C

    t0 = time.perf_counter()
    torch, open_clip, placeholders = C._import_open_clip()
    t_import = time.perf_counter() - t0
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as d:
        ckpt = Path(d) / f"{args.model}-random.pt"
        net = open_clip.create_model(args.model, pretrained=None)
        torch.save(net.state_dict(), ckpt)
        del net
        t0 = time.perf_counter()
        batched = C.load_clip(args.model, str(ckpt), batch_size=args.batch, device="cpu",
                              num_threads=args.threads)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        sha = batched.weights_sha256
        t_hash = time.perf_counter() - t0
        single = C.load_clip(args.model, str(ckpt), batch_size=1, device="cpu", num_threads=args.threads)

    rng = np.random.default_rng(0)
    ctxs = [ImageContext(rng.random((768, 512, 3), dtype=np.float32)) for _ in range(args.images)]
    t0 = time.perf_counter()
    images = [batched.prepare(c) for c in ctxs]
    t_prep = (time.perf_counter() - t0) / len(ctxs)

    cpu: dict[str, list[float]] = {}

    def rate(scorer, rep: int) -> float:
        prompts = [f"portrait {rep} {i}, 85mm f/1.4, circular bokeh orbs" for i in range(len(images))]
        t, c = time.perf_counter(), time.process_time()
        scorer.score(images, prompts)
        cpu.setdefault(f"score{scorer.batch_size}", []).append((time.process_time() - c) / len(images))
        return len(images) / (time.perf_counter() - t)

    def image_rate(scorer) -> float:
        t, c = time.perf_counter(), time.process_time()
        scorer.embed_images(images)
        cpu.setdefault(f"image{scorer.batch_size}", []).append((time.process_time() - c) / len(images))
        return len(images) / (time.perf_counter() - t)

    load_before = os.getloadavg()[0]
    rate(batched, -1)  # warm-up
    rate(single, -2)
    rb = [rate(batched, r) for r in range(args.repeats)]
    rs = [rate(single, 100 + r) for r in range(args.repeats)]
    ib = [image_rate(batched) for _ in range(args.repeats)]
    is_ = [image_rate(single) for _ in range(args.repeats)]
    mb, ms = statistics.median(rb), statistics.median(rs)
    mib, mis = statistics.median(ib), statistics.median(is_)
    print(f"model {args.model} (random weights), torch {torch.__version__}, open_clip "
          f"{open_clip.__version__}, threads {torch.get_num_threads()}, torchvision placeholders {placeholders}")
    print(f"import torch+open_clip {t_import:.2f} s; load_clip {t_load:.2f} s; sha256 of weights "
          f"{t_hash:.2f} s ({sha[:12]}...); prepare {1000 * t_prep:.2f} ms/image (768x512 work_rgb)")
    print(f"batch {args.batch:>2}: {mb:6.2f} images/s  ({1000 / mb:6.1f} ms/image)  runs {[round(x, 2) for x in rb]}")
    print(f"batch  1: {ms:6.2f} images/s  ({1000 / ms:6.1f} ms/image)  runs {[round(x, 2) for x in rs]}")
    print(f"speed-up of batching: {mb / ms:.2f}x over {args.images} images (score: image + new prompt + probes)")
    print(f"image embedding only: batch {args.batch}: {mib:.2f} images/s ({1000 / mib:.1f} ms/image); "
          f"batch 1: {mis:.2f} images/s ({1000 / mis:.1f} ms/image); speed-up {mib / mis:.2f}x")
    print("CPU seconds per image (all threads; less sensitive to other load): " + ", ".join(
        f"{k} {statistics.median(v[-args.repeats:]):.3f}" for k, v in cpu.items()))
    print(f"1-min load average before / after: {load_before:.2f} / {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores (other processes share the CPU: figures are lower bounds)")


if __name__ == "__main__":
    main()
