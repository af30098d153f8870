"""Benchmark of the whole scoring pipeline: throughput, peak memory, cache, decode floor.

Run::

    .venv/bin/python benchmarks/bench_suite.py                 # 200 renders, --jobs 2
    .venv/bin/python benchmarks/bench_suite.py --big 2000      # + peak memory over 2,000 images
    .venv/bin/python benchmarks/bench_suite.py --profile       # + where the time goes per family

Renders: ``--n`` (200) portraits of ``--size`` (1024) px from the ground-truth renderer
(``lenscore.datasets.synthetic``, the demo's 'optical' and 'blurred' scenes, half each), written
once as 8-bit PNG to ``--renders`` (default: $LENSCORE_BENCH_DIR or /tmp/lenscore-bench) and
reused by later runs.

Every measurement runs in a fresh subprocess (``run()`` of :mod:`lenscore.evaluator.run` on the
folder, no cache unless said), while this process samples the memory of the subprocess and all
its workers every 50 ms: peak PSS (proportional set size: shared pages counted once, the real
footprint) and peak RSS summed over processes (an upper bound). Reported per measurement: wall
time of ``run()`` (interpreter start-up excluded, shown apart), images per second, CPU seconds
per image summed over all processes (on a shared, loaded machine the CPU figure is the steadier
one), and the 1-minute load average when it ran.

Measurements: a decode-only pass (``run()`` with no family: read, decode, ImageContext, CSV
row), each optical family alone, the suite together (every default family; CLIP is not a
default family), the ratio suite / decode-only, a first cached run and a fully cached re-run
(in-process ``run()`` and the whole ``lenscore score`` command), and with ``--big N`` the suite
over N images (hard links of the renders under N names, so nothing is cached) for peak memory.

Targets (issue 9, the 2-core machine, optical families, no CLIP): >= 25 images/s with --jobs 2;
the whole run <= 4x the decode-only pass; peak memory < 1 GiB for 2,000 images; a fully cached
re-run >= 10x faster than the first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()
OPTICAL = ("focus", "bokeh", "color", "skin")


# ---- inside the measured subprocess -------------------------------------------------------------
def _load_families(names: list[str] | None):
    """The families to run; the optical modules are imported so the benchmark works even before
    they are registered in lenscore.metrics."""
    import importlib

    for m in OPTICAL:
        try:
            importlib.import_module(f"lenscore.metrics.{m}")
        except Exception as e:  # not landed yet
            print(f"# family module {m} not importable: {e}", file=sys.stderr)
    from lenscore.evaluator.run import select_families
    from lenscore.metrics.base import families

    if names is None:
        return select_families() or [f for n, f in families().items() if n in OPTICAL]
    return [f for n, f in families().items() if n in names]


def _measure(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    from lenscore.datasets.discover import find_images
    from lenscore.evaluator.run import run

    names = None if args.families == "suite" else [n for n in args.families.split(",") if n]
    fams = _load_families(names)
    records = find_images(args.renders)
    t_import = time.perf_counter() - t_start
    out = Path(args.out)
    t0 = time.perf_counter()
    res = run(records, out, families=fams, jobs=args.jobs,
              cache_dir=args.cache if args.cache else None)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "n": res.n, "n_failed": res.n_failed, "n_cached": res.n_cached,
                      "families": [f.name for f in fams], "startup": t_import}))


def _profile(args: argparse.Namespace) -> None:
    """Per family, serially, one OpenCV thread (as in a worker): 'alone' = on a fresh context
    (pays for the shared derivations it uses), 'in suite' = marginal cost in registry order
    after the families before it. CPU time of this process (steady on a loaded machine)."""
    import statistics

    import cv2

    cv2.setNumThreads(1)
    clock = time.process_time

    from lenscore.context import ImageContext
    from lenscore.datasets.decode import decode_image
    from lenscore.datasets.discover import find_images

    fams = _load_families(None)
    records = find_images(args.renders)[: args.profile_n]
    alone = {f.name: [] for f in fams}
    marginal = {f.name: [] for f in fams}
    shared: dict[str, list[float]] = {k: [] for k in ("read+decode", "work copy (rgb+gray)",
                                                      "face detection", "subject mask",
                                                      "working linear luminance")}
    for rec in records:
        t = clock()
        rgb = decode_image(rec.source).rgb
        shared["read+decode"].append(clock() - t)
        ctx = ImageContext(rgb)
        t = clock()
        ctx.work_gray
        shared["work copy (rgb+gray)"].append(clock() - t)
        t = clock()
        ctx.faces
        shared["face detection"].append(clock() - t)
        t = clock()
        ctx.work_subject_mask
        shared["subject mask"].append(clock() - t)
        t = clock()
        ctx.work_luminance
        shared["working linear luminance"].append(clock() - t)
        for f in fams:  # each family alone pays for every derivation (and family) it needs
            c = ImageContext(rgb)
            t = clock()
            c.result(f)
            alone[f.name].append(clock() - t)
        c = ImageContext(rgb)
        for f in fams:  # in suite order: what it adds after the families before it
            t = clock()
            c.result(f)
            marginal[f.name].append(clock() - t)
    med = lambda v: 1000 * statistics.median(v) if v else float("nan")  # noqa: E731
    print(json.dumps({"shared": {k: med(v) for k, v in shared.items()},
                      "alone": {k: med(v) for k, v in alone.items()},
                      "marginal": {k: med(v) for k, v in marginal.items()},
                      "n": len(records)}))
    if args.cprofile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        for rec in records[: min(10, len(records))]:
            c = ImageContext(decode_image(rec.source).rgb)
            for f in fams:
                c.result(f)
        pr.disable()
        st = pstats.Stats(pr, stream=sys.stderr)
        st.sort_stats("tottime").print_stats(25)


# ---- the orchestrator --------------------------------------------------------------------------
class MemorySampler:
    """Peak PSS and RSS summed over a process and its descendants, sampled every 50 ms."""

    def __init__(self, pid: int):
        import psutil

        self.proc = psutil.Process(pid)
        self.peak_pss = self.peak_rss = 0
        self.cpu = 0.0
        self._cpu_by_pid: dict[int, float] = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        import psutil

        while not self._stop.is_set():
            pss = rss = 0
            try:
                procs = [self.proc] + self.proc.children(recursive=True)
            except psutil.Error:
                break
            for p in procs:
                try:
                    mi = p.memory_full_info()
                    pss += getattr(mi, "pss", mi.rss)
                    rss += mi.rss
                    ct = p.cpu_times()
                    self._cpu_by_pid[p.pid] = ct.user + ct.system
                except psutil.Error:
                    continue
            self.peak_pss, self.peak_rss = max(self.peak_pss, pss), max(self.peak_rss, rss)
            self._stop.wait(0.05)

    def __enter__(self) -> "MemorySampler":
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.cpu = sum(self._cpu_by_pid.values())


def _sub(argv: list[str]) -> tuple[dict, MemorySampler, float]:
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, str(HERE), *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "CI": "1"})
    with MemorySampler(p.pid) as mem:
        out, err = p.communicate()
    total = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"measurement failed ({argv}):\n{err}")
    line = [ln for ln in out.splitlines() if ln.startswith("{")][-1]
    return json.loads(line), mem, total


def measure(label: str, renders: Path, families: str, jobs: int, *, cache: Path | None = None,
            big: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="lcbench-out-") as out:
        argv = ["_measure", "--renders", str(renders), "--families", families, "--jobs", str(jobs),
                "--out", out] + (["--cache", str(cache)] if cache else []) + (["--big"] if big else [])
        load = os.getloadavg()[0]
        res, mem, total = _sub(argv)
    res.update(label=label, ips=res["n"] / res["wall"], peak_pss_mib=mem.peak_pss / 2**20,
               peak_rss_mib=mem.peak_rss / 2**20, cpu_per_image_ms=1000 * mem.cpu / res["n"],
               load1=load, process_wall=total)
    print(f"{label:<34} {res['n']:>5} img  {res['wall']:7.2f} s  {res['ips']:6.1f} img/s  "
          f"CPU {res['cpu_per_image_ms']:6.1f} ms/img  peak PSS {res['peak_pss_mib']:6.0f} MiB "
          f"(RSS sum {res['peak_rss_mib']:5.0f})  load {load:4.1f}", flush=True)
    return res


def make_renders(folder: Path, n: int, size: int, jobs: int) -> Path:
    marker = folder / f".complete-{n}-{size}"
    if marker.exists():
        return folder
    from concurrent.futures import ProcessPoolExecutor

    from lenscore.datasets.synthetic import demo_specs

    half = n // 2
    specs = [("optical", s) for s in demo_specs("optical", n - half, size=size)] + \
            [("blurred", s) for s in demo_specs("blurred", half, size=size, seed0=10_000)]
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_render_one, [(str(folder), v, s) for v, s in specs], chunksize=4))
    marker.write_text("ok")
    print(f"# rendered {n} portraits of {size}x{size} px in {time.perf_counter() - t:.0f} s "
          f"-> {folder}", flush=True)
    return folder


def _render_one(a: tuple) -> None:
    import json as _json

    import cv2
    import numpy as np

    from lenscore.datasets.synthetic import render

    folder, variant, spec = a
    r = render(spec)
    arr = np.round(np.clip(r.rgb, 0, 1) * 255).astype(np.uint8)
    d = Path(folder) / variant
    d.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(d / f"{variant}_{spec.seed:05d}.png"), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR))
    (Path(folder) / ".truth").mkdir(exist_ok=True)
    (Path(folder) / ".truth" / f"{variant}_{spec.seed:05d}.json").write_text(_json.dumps(r.truth))


def make_big(renders: Path, n: int) -> Path:
    """n image names (hard links, falling back to copies) cycling over the renders."""
    big = renders.parent / f"{renders.name}-x{n}"
    marker = big / f".complete-{n}"
    if marker.exists():
        return big
    shutil.rmtree(big, ignore_errors=True)
    src = sorted(renders.rglob("*.png"))
    for i in range(n):
        s = src[i % len(src)]
        dst = big / s.parent.name / f"{i:05d}_{s.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(s, dst)
        except OSError:
            shutil.copyfile(s, dst)
    marker.write_text("ok")
    return big


_CLI = ("import importlib, sys\n"
        "for m in %r:\n"
        "    try: importlib.import_module('lenscore.metrics.' + m)\n"
        "    except Exception: pass\n"
        "from lenscore.cli import run_cli\n"
        "sys.exit(run_cli(sys.argv[1:]))\n" % (OPTICAL,))


def cli_wall(renders: Path, out: Path, jobs: int, cache: Path, families: list[str]) -> float:
    """Wall time of the whole `lenscore score` command (start-up, scoring, summary.json)."""
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _CLI, "score", str(renders), "-o", str(out),
                        "-j", str(jobs), "--cache", str(cache), "--families", ",".join(families)],
                       check=False, capture_output=True, text=True, env={**os.environ, "CI": "1"})
    if p.returncode not in (0, 3):
        raise SystemExit(f"lenscore score failed: {p.stderr}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    m = sub.add_parser("_measure")
    m.add_argument("--renders", required=True)
    m.add_argument("--families", required=True)
    m.add_argument("--jobs", type=int, required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--cache")
    m.add_argument("--big", action="store_true")
    p = sub.add_parser("_profile")
    p.add_argument("--renders", required=True)
    p.add_argument("--profile-n", type=int, default=20)
    p.add_argument("--cprofile", action="store_true")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--renders", type=Path,
                    default=Path(os.environ.get("LENSCORE_BENCH_DIR", "/tmp/lenscore-bench")))
    ap.add_argument("--big", type=int, default=0, help="also measure the suite over N images")
    ap.add_argument("--profile", action="store_true", help="also time each family serially")
    ap.add_argument("--cprofile", action="store_true", help="with --profile: cProfile top 25")
    ap.add_argument("--only", default="", help="comma list: decode,families,suite,cache,big")
    ap.add_argument("--json", type=Path, help="write all figures here")
    args = ap.parse_args()
    if args.cmd == "_measure":
        return _measure(args)
    if args.cmd == "_profile":
        return _profile(args)

    only = set(args.only.split(",")) - {""}
    want = lambda k: not only or k in only  # noqa: E731
    renders = make_renders(args.renders / f"renders-{args.size}-{args.n}", args.n, args.size,
                           args.jobs)
    print(f"# {args.n} renders {args.size}x{args.size} PNG, --jobs {args.jobs}, "
          f"{os.cpu_count()} cores, python {sys.version.split()[0]}", flush=True)
    figures: dict = {"n": args.n, "size": args.size, "jobs": args.jobs}
    if want("decode") or want("suite"):
        figures["decode_only"] = measure("decode-only pass", renders, "", args.jobs)
        figures["decode_only_serial"] = measure("decode-only pass, --jobs 1", renders, "", 1)
    if want("families"):
        figures["alone"] = {}
        for fam in OPTICAL:
            figures["alone"][fam] = measure(f"{fam} alone", renders, fam, args.jobs)
    if want("suite"):
        s = figures["suite"] = measure("suite (all default families)", renders, "suite", args.jobs)
        ratio = s["wall"] / figures["decode_only"]["wall"]
        figures["suite_over_decode"] = ratio
        print(f"{'suite / decode-only wall time':<34} {ratio:.2f}x   (target <= 4x)   "
              f"CPU ratio {s['cpu_per_image_ms'] / figures['decode_only']['cpu_per_image_ms']:.2f}x"
              f"   suite {s['ips']:.1f} img/s (target >= 25)", flush=True)
    if want("cache"):
        with tempfile.TemporaryDirectory(prefix="lcbench-cache-") as c:
            first = measure("suite, first run into a cache", renders, "suite", args.jobs,
                            cache=Path(c))
            again = measure("suite, fully cached re-run", renders, "suite", args.jobs,
                            cache=Path(c))
            with tempfile.TemporaryDirectory(prefix="lcbench-cli-") as o:
                cli_again = cli_wall(renders, Path(o), args.jobs, Path(c), first["families"])
        figures["cache"] = {"first": first, "again": again, "cli_again_wall": cli_again,
                            "speedup_run": first["wall"] / again["wall"],
                            "speedup_process": first["process_wall"] / again["process_wall"]}
        print(f"{'fully cached re-run speed-up':<34} {first['wall'] / again['wall']:.0f}x in run() "
              f"({first['wall']:.2f} s -> {again['wall']:.3f} s); whole process "
              f"{first['process_wall']:.2f} s -> {again['process_wall']:.2f} s = "
              f"{first['process_wall'] / again['process_wall']:.1f}x; `lenscore score` re-run "
              f"{cli_again:.2f} s (target >= 10x)", flush=True)
    if args.big and want("big"):
        big = make_big(renders, args.big)
        figures["big"] = measure(f"suite over {args.big} images", big, "suite", args.jobs, big=True)
        print(f"{'peak memory, ' + str(args.big) + ' images':<34} PSS "
              f"{figures['big']['peak_pss_mib']:.0f} MiB, RSS sum "
              f"{figures['big']['peak_rss_mib']:.0f} MiB (target < 1024 MiB)", flush=True)
    if args.profile:
        res, _, _ = _sub(["_profile", "--renders", str(renders)]
                         + (["--cprofile"] if args.cprofile else []))
        figures["profile"] = res
        print(f"# per image, serial, one thread, CPU ms (median of {res['n']} renders):")
        for k, v in res["shared"].items():
            print(f"  shared  {k:<24} {v:7.1f}")
        for k in res["alone"]:
            print(f"  family  {k:<24} alone {res['alone'][k]:7.1f}   in suite order "
                  f"{res['marginal'][k]:7.1f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
