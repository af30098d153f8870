#!/usr/bin/env python
"""Measure the face detector, landmarks and subject mask on real faces (the London Set ladder).

Usage: ``python scripts/measure_faces.py [--data DIR] [--faces N] [--alternatives] [--sheet DIR]``

DATA (default ``../shared/data`` beside the repository, or $LENSCORE_SHARED_DATA) must hold
``portraits-london/``; ``ai-portraits/``, ``comfyui-png/`` and ``defocus-pairs/`` are used when
present. Everything runs on one thread (``cv2.setNumThreads(1)``) on the production path: the
code under test sees only the image (never the true box or mask).

Ladder: every London face x widths 4, 6, 8, 12, 18, 25, 40 % of a 1024 px frame x roll 0, +-20
degrees; key light (2000/2700/5000/6500/9000 K), background (texture / plain / bokeh) and
grayscale (one frame in 7) rotate with the face and width indices so that each level meets every
width. A face counts as found when a detected box overlaps the truth box (bounding box of the
landmark face outline) with IoU >= 0.4; eye error is the distance of the detected eye centres
from the true pupils, in % of the true face width.

False faces: frames without a person (generated orb fields, textures sharp and defocused, plain
backdrops; scikit-image's sample scenes without people; the defocus pairs in DATA), any
detection counts.

Subject mask: IoU of :func:`lenscore.person.subject_mask` (at the 768 px working copy, seeded by
the detected faces) with the composite's true person mask; alternatives on every 4th frame
(alternative detectors count a hit when their box centre is inside the truth box and the widths
agree within a factor of 2, since their boxes follow other conventions):
the body prior alone (a template) and GrabCut without the focus refinement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

t_imp = time.perf_counter()
from lenscore import faces as F  # noqa: E402
t_imp = time.perf_counter() - t_imp
from lenscore import person as P  # noqa: E402
from lenscore.datasets import london as L  # noqa: E402
from lenscore.imaging import resize_long_side  # noqa: E402

WIDTHS = (0.04, 0.06, 0.08, 0.12, 0.18, 0.25, 0.40)
KEYS = (2000, 2700, 5000, 6500, 9000)
ROLLS = (0, 20, -20)
BGS = ("texture", "plain", "bokeh")
MODES = ("auto", False, True)


def iou_box(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0.0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0.0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    return inter / max(aw * ah + bw * bh - inter, 1e-9)


def iou_mask(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else float("nan")


def centre_inside(b, truth) -> bool:
    """Lenient hit for detectors with another box convention: the box centre lies inside the
    truth box and the widths agree within a factor of 2."""
    cx, cy = b[0] + b[2] / 2, b[1] + b[3] / 2
    x, y, w, h = truth
    return x <= cx <= x + w and y <= cy <= y + h and 0.5 <= b[2] / w <= 2.0


def match(faces, truth):
    best, bi = None, 0.0
    for f in faces:
        v = iou_box(f.box, truth["face_box"])
        if v > bi:
            best, bi = f, v
    return (best if bi >= 0.4 else None), bi


def pct(x):
    return f"{100 * x:5.1f} %"


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return (bgr[..., ::-1].astype(np.float32) / 255.0).copy()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--faces", type=int, default=0, help="only the first N London faces (0 = all)")
    ap.add_argument("--alternatives", action="store_true", help="also time/measure Haar and dlib (if installed)")
    ap.add_argument("--sheet", type=Path, default=None, help="write overlays of the real people here")
    ap.add_argument("--detect-long-side", type=int, default=0,
                    help="run the detector on a copy of this long side (e.g. 768, the working copy) "
                         "and scale the faces back; 0 = on the full 1024 px frame")
    ap.add_argument("--modes", default="auto,False,True", help="small_faces modes to measure")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    global MODES
    MODES = tuple({"auto": "auto", "False": False, "True": True}[m] for m in args.modes.split(","))
    detect = _detector(args.detect_long_side)
    if args.detect_long_side:
        print(f"detector runs on a {args.detect_long_side} px copy; faces scaled back to the frame")
    data = args.data or Path(os.environ.get(L.ENV_VAR, Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()
    ldir = data / "portraits-london"
    if not L.available(ldir):
        print(f"no London Set at {ldir}; nothing to measure")
        return 2
    ids = L.face_ids(ldir)
    if args.faces:
        ids = ids[: args.faces]
    print(f"lenscore.faces import: {1000 * t_imp:.0f} ms")
    t0 = time.perf_counter()
    F._detector_net(), F._mesh_net()
    print(f"model load (both nets): {1000 * (time.perf_counter() - t0):.0f} ms")

    # --- mattes ---------------------------------------------------------------------------
    print("\n== London person mattes (landmark-seeded GrabCut on the flattened backdrop) ==")
    q = defaultdict(list)
    t0 = time.perf_counter()
    people = {}
    for i in ids:
        p = L.load_face(i, ldir)
        people[i] = p
        for k, v in p.matte.quality.items():
            q[k].append(v)
    print(f"{len(ids)} faces, {1000 * (time.perf_counter() - t0) / len(ids):.0f} ms each")
    for k, v in q.items():
        print(f"  {k:26s} min {min(v):.3f}  median {statistics.median(v):.3f}  max {max(v):.3f}")

    # --- ladder ---------------------------------------------------------------------------
    print("\n== Face ladder (1024 x 1024) ==")
    rows = []
    ms = defaultdict(list)
    mask_ms = []
    alt = defaultdict(list)
    for fi, fid in enumerate(ids):
        for wi, wf in enumerate(WIDTHS):
            for ri, roll in enumerate(ROLLS):
                key = KEYS[(fi + wi + ri) % len(KEYS)]
                bg = BGS[(fi + 2 * wi + ri) % len(BGS)]
                gray = (fi + wi + 3 * ri) % 7 == 0
                seed = 1000 * fi + 10 * wi + ri
                img, tr = L.compose(people[fid], face_width_frac=wf, roll_deg=roll, key_kelvin=key,
                                    background=bg, gray=gray, seed=seed)
                row = dict(face=fid, group=tr["group"], width=wf, roll=roll, key=key, bg=bg, gray=gray)
                for mode in MODES:
                    t = time.perf_counter()
                    fs = detect(img, small_faces=mode)
                    ms[mode].append(1000 * (time.perf_counter() - t))
                    hit, v = match(fs, tr)
                    row[f"hit_{mode}"] = hit is not None
                    row[f"false_{mode}"] = len(fs) - (hit is not None)
                    if mode == "auto":
                        row["faces"] = fs
                        if hit is not None:
                            fw = tr["face_box"][2]
                            row["eye_err"] = float(np.max(np.hypot(*(hit.eyes - tr["eyes"]).T)) / fw)
                            row["roll_err"] = hit.roll_deg - roll
                            row["iod_ratio"] = hit.inter_ocular / float(np.hypot(*(tr["eyes"][1] - tr["eyes"][0])))
                            row["box_iou"] = v
                # subject mask at the working resolution, from the detected faces
                work = resize_long_side(img, P.WORK_LONG_SIDE)
                k = work.shape[1] / img.shape[1]
                wfaces = [f.scaled(k) for f in row["faces"]]
                truth_m = cv2.resize(tr["person_mask"].astype(np.uint8), (work.shape[1], work.shape[0]),
                                     interpolation=cv2.INTER_NEAREST).astype(bool)
                t = time.perf_counter()
                sm = P.subject_mask(work, wfaces)
                mask_ms.append(1000 * (time.perf_counter() - t))
                row["mask_iou"] = iou_mask(sm.mask, truth_m)
                row["mask_how"] = sm.how
                if len(rows) % 4 == 0 and wfaces:
                    prior, _, _ = P.body_prior(wfaces, work.shape[:2])
                    alt["template prior"].append(iou_mask(prior, truth_m))
                    alt["GrabCut, no focus refinement"].append(iou_mask(P.subject_mask(work, wfaces, refine="none").mask, truth_m))
                    alt["GrabCut + focus (default)"].append(row["mask_iou"])
                if args.alternatives and len(rows) % 4 == 0:
                    for name, fn in _alternatives().items():
                        t = time.perf_counter()
                        boxes = fn(img)
                        alt_ms = 1000 * (time.perf_counter() - t)
                        ok = any(centre_inside(b, tr["face_box"]) for b in boxes)
                        alt[f"det:{name}"].append((wf, ok, alt_ms, tr["group"]))
                rows.append(row)
        print(f"  face {fid} done ({len(rows)} frames)", file=sys.stderr)

    def report(by, label, mode="auto", filt=lambda r: True):
        groups = defaultdict(list)
        for r in rows:
            if filt(r):
                groups[r[by]].append(r[f"hit_{mode}"])
        print(f"  recall by {label}: " + "; ".join(f"{k}: {pct(np.mean(v))} (n={len(v)})" for k, v in sorted(groups.items(), key=lambda kv: str(kv[0]))))

    for mode in MODES:
        print(f"\n-- small_faces={mode!r} --")
        report("width", "face width", mode)
        big = lambda r: r["width"] >= 0.06
        allr = [r[f"hit_{mode}"] for r in rows]
        print(f"  recall overall {pct(np.mean(allr))} (n={len(allr)}); widths >= 6 %: "
              f"{pct(np.mean([r[f'hit_{mode}'] for r in rows if big(r)]))}; 4 %: "
              f"{pct(np.mean([r[f'hit_{mode}'] for r in rows if r['width'] == 0.04]))}")
        report("key", "key (K)", mode)
        report("roll", "roll (deg)", mode)
        report("bg", "background", mode)
        report("gray", "grayscale", mode)
        report("group", "ethnicity (all widths)", mode)
        report("group", "ethnicity (widths >= 6 %)", mode, big)
        fp = sum(r[f"false_{mode}"] for r in rows)
        print(f"  extra (false) faces on ladder frames: {fp} in {len(rows)} frames")
        v = ms[mode]
        print(f"  detect_faces ms per 1024 px image: median {statistics.median(v):.1f}, "
              f"p90 {np.percentile(v, 90):.1f}, max {max(v):.1f}")
        for wf in WIDTHS:
            vv = [m for m, r in zip(ms[mode], rows) if r["width"] == wf]
            print(f"    width {wf:.2f}: median {statistics.median(vv):.1f} ms")
    hits = [r for r in rows if "eye_err" in r]
    print("\n-- landmarks (auto mode, found faces) --")
    print(f"  eye-centre error, % of face width: median {100 * statistics.median(r['eye_err'] for r in hits):.2f}, "
          f"p90 {100 * np.percentile([r['eye_err'] for r in hits], 90):.2f}")
    for wf in WIDTHS:
        e = [r["eye_err"] for r in hits if r["width"] == wf]
        if e:
            print(f"    width {wf:.2f}: median {100 * statistics.median(e):.2f} %, p90 {100 * np.percentile(e, 90):.2f} %")
    re = [abs(r["roll_err"]) for r in hits]
    print(f"  |roll error| deg: median {statistics.median(re):.2f}, p90 {np.percentile(re, 90):.2f}")
    for roll in ROLLS:
        e = [r["roll_err"] for r in hits if r["roll"] == roll]
        print(f"    roll {roll:+d}: mean signed error {np.mean(e):+.2f}")
    print(f"  inter-ocular / true pupil distance: median {statistics.median(r['iod_ratio'] for r in hits):.3f}")
    print(f"  box IoU with the landmark face box: median {statistics.median(r['box_iou'] for r in hits):.3f}")

    print("\n-- subject mask (768 px working copy, seeded by detected faces) --")
    mi = np.array([r["mask_iou"] for r in rows])
    print(f"  IoU with the true person mask: median {np.nanmedian(mi):.3f}, p10 {np.nanpercentile(mi, 10):.3f}, "
          f"min {np.nanmin(mi):.3f} (n={len(mi)})")
    for by in ("width", "bg", "group"):
        d = defaultdict(list)
        for r in rows:
            d[r[by]].append(r["mask_iou"])
        print(f"  by {by}: " + "; ".join(f"{k}: {np.nanmedian(v):.3f}/{np.nanpercentile(v, 10):.3f}" for k, v in sorted(d.items(), key=lambda kv: str(kv[0]))) + "  (median/p10)")
    hows = defaultdict(int)
    for r in rows:
        hows[r["mask_how"]] += 1
    print("  how: " + "; ".join(f"{k}: {v}" for k, v in hows.items()))
    print(f"  subject_mask ms: median {statistics.median(mask_ms):.0f}, p90 {np.percentile(mask_ms, 90):.0f}")
    for name, v in alt.items():
        if not name.startswith("det:"):
            print(f"  alternative {name:32s}: median {np.nanmedian(v):.3f}, p10 {np.nanpercentile(v, 10):.3f} (n={len(v)})")

    if args.alternatives:
        print("\n-- alternative detectors (every 4th ladder frame) --")
        for name, v in alt.items():
            if name.startswith("det:"):
                d = defaultdict(list)
                for wf, ok, _, _ in v:
                    d[wf].append(ok)
                g = defaultdict(list)
                for wf, ok, _, grp in v:
                    if wf >= 0.06:
                        g[grp].append(ok)
                print(f"  {name[4:]}: " + "; ".join(f"{k:.2f}: {pct(np.mean(x))} (n={len(x)})" for k, x in sorted(d.items()))
                      + f"; median {statistics.median(m for _, _, m, _ in v):.0f} ms")
                print(f"      by group (>= 6 %): " + "; ".join(f"{k}: {pct(np.mean(x))} (n={len(x)})" for k, x in sorted(g.items())))

    # --- false faces ----------------------------------------------------------------------
    print("\n== False faces on frames without a person ==")
    scenes = []
    for img, info in L.face_free_scenes(n=120, seed=7):
        scenes.append((f"generated {info['kind']}", img))
    from skimage import data as skd
    for name in ("rocket", "coffee", "chelsea", "coins", "moon", "hubble_deep_field", "immunohistochemistry",
                 "brick", "grass", "gravel", "colorwheel", "horse", "page", "text", "clock", "cell", "retina"):
        a = getattr(skd, name)()
        a = a.astype(np.float32) / (255.0 if a.dtype == np.uint8 else max(1.0, float(a.max())))
        scenes.append((f"skimage {name}", a[..., :3] if a.ndim == 3 else a))
    left, right, _ = skd.stereo_motorcycle()
    scenes += [("skimage motorcycle_left", left.astype(np.float32) / 255), ("skimage motorcycle_right", right.astype(np.float32) / 255)]
    dp = data / "defocus-pairs"
    if dp.is_dir():
        for p in sorted(dp.iterdir()):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
                scenes.append((f"defocus-pairs {p.name}", read_rgb(p)))
    for mode in MODES:
        bad = defaultdict(list)
        for name, img in scenes:
            fs = detect(img, small_faces=mode)
            bad[name.split(" ")[0] + (" " + name.split(" ")[1] if name.startswith("generated") else "")].append(len(fs))
            if fs and mode == "auto":
                print(f"  false face(s) in {name}: {[(round(f.score, 2), round(f.presence, 2), [round(v) for v in f.box]) for f in fs]}")
        tot = sum(len(v) for v in bad.values())
        nbad = sum(sum(1 for x in v if x) for v in bad.values())
        print(f"  small_faces={mode!r}: frames with a false face {nbad}/{tot} = {pct(nbad / tot)}; "
              + "; ".join(f"{k}: {sum(1 for x in v if x)}/{len(v)}" for k, v in bad.items()))

    # --- real people ----------------------------------------------------------------------
    print("\n== Real and generated people in DATA ==")
    files = []
    ap_dir = data / "ai-portraits"
    if ap_dir.is_dir():
        files += sorted(ap_dir.glob("*.jpg"))
    cf = data / "comfyui-png"
    for n in ("girl_in_field.png", "inpain_model_woman.png", "hypernetwork_example_output.png",
              "flux_dev_example.png", "sdxl_simple_example.png", "cosmos_predict2_2b_t2i_example.png"):
        if (cf / n).is_file():
            files.append(cf / n)
    for p in files:
        img = read_rgb(p)
        t = time.perf_counter()
        fs = detect(img)
        dt = 1000 * (time.perf_counter() - t)
        work = resize_long_side(img, P.WORK_LONG_SIDE)
        k = work.shape[1] / img.shape[1]
        sm = P.subject_mask(work, [f.scaled(k) for f in fs])
        desc = [(round(f.score, 2), round(f.presence, 2), f"w={f.box[2] / img.shape[1]:.1%}", f"roll={f.roll_deg:+.1f}", f.found_by) for f in fs]
        print(f"  {p.parent.name}/{p.name} ({img.shape[1]}x{img.shape[0]}): {len(fs)} face(s) {desc}, {dt:.0f} ms; "
              f"mask {sm.fraction:.1%} of frame ({sm.how})")
        if args.sheet:
            args.sheet.mkdir(parents=True, exist_ok=True)
            u = (work * 255).astype(np.uint8)[..., ::-1].copy()
            u[sm.mask] = (0.6 * u[sm.mask] + 0.4 * np.array([0, 255, 0])).astype(np.uint8)
            for f in fs:
                x, y, w, h = (int(v * k) for v in f.box)
                cv2.rectangle(u, (x, y), (x + w, y + h), (0, 0, 255), 2)
            cv2.imwrite(str(args.sheet / f"real_{p.stem}.png"), u)
    return 0


def _detector(long_side: int):
    """detect_faces on the frame, or on a copy of ``long_side`` px (timed together)."""
    if not long_side:
        return F.detect_faces

    def run(img, **kw):
        small = resize_long_side(img, long_side) if max(img.shape[:2]) > long_side else img
        k = img.shape[1] / small.shape[1]
        return [f.scaled(k) for f in F.detect_faces(small, **kw)]
    return run


def _alternatives():
    out = {}
    import cv2

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def haar(img):  # lenscore 0.1's detector: Haar at 256 px, faces >= 12 % of the short side
        g = img if img.ndim == 2 else img @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        small = resize_long_side(g, 256) if max(g.shape[:2]) > 256 else g
        k = g.shape[1] / small.shape[1]
        u8 = cv2.equalizeHist(np.clip(small * 255 + 0.5, 0, 255).astype(np.uint8))
        side = max(20, int(0.12 * min(u8.shape)))
        rects = cascade.detectMultiScale(u8, scaleFactor=1.15, minNeighbors=5, minSize=(side, side))
        return [tuple(float(v) * k for v in r) for r in np.asarray(rects).reshape(-1, 4)]
    out["OpenCV Haar (lenscore 0.1)"] = haar
    try:
        import dlib  # noqa: F401
    except ImportError:
        return out
    det = dlib.get_frontal_face_detector()

    def hog(img, long_side=640, up=1):
        small = resize_long_side(img, long_side)
        k = img.shape[1] / small.shape[1]
        u8 = (np.clip(small, 0, 1) * 255).astype(np.uint8)
        rects = det(u8, up)
        return [(r.left() * k, r.top() * k, r.width() * k, r.height() * k) for r in rects]
    out["dlib HOG 640 px, 1 upsample"] = hog
    out["dlib HOG 1024 px, 1 upsample"] = lambda img: hog(img, 1024, 1)
    return out


if __name__ == "__main__":
    sys.exit(main())
