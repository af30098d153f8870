"""subject: where the person is, which every other family depends on.

Method
------
The faces are :mod:`lenscore.faces` (BlazeFace full-range candidates on the 768 px working copy,
each verified by MediaPipe Face Mesh, which gives 468 landmarks; overlapping tiles when the whole
frame shows no face, so faces from about 4 % of the frame width are found). The subject mask is
:func:`lenscore.person.subject_mask`: a head, neck and torso prior around each face (turned by
its roll) seeds GrabCut, and the sharpness map keeps a defocused background out; without a face
the in-focus region is the subject (a product shot, a rose in grass). A manifest's
``subject_mask`` (a PNG) or ``subject_box`` wins over both. This family reports what was found;
the other families read the same ``ctx.faces`` and ``ctx.work_subject_mask``.

Measured (``scripts/measure_faces.py``, the 32 London Set faces composited into 1024 px frames
at widths 4-40 %, keys 2000-9000 K, roll 0 and +-20 degrees, textured, plain and bokeh-light
backgrounds, 672 frames): recall 100 % at widths >= 6 %, 99.0 % at 4 %, 100 % in every
ethnicity group of london_info.csv at >= 6 %; no false face on 145 frames without a person;
subject-mask IoU with the true person mask median 0.983, 10th percentile 0.929.

References
----------
.. [1] V. Bazarevsky et al., "BlazeFace: sub-millisecond neural face detection on mobile GPUs",
   2019. https://arxiv.org/abs/1907.05047
.. [2] Y. Kartynnik et al., "Real-time facial surface geometry from monocular video on mobile
   GPUs", 2019. https://arxiv.org/abs/1907.06724
.. [3] C. Rother, V. Kolmogorov, A. Blake, "GrabCut: interactive foreground extraction using
   iterated graph cuts", ACM TOG 23(3), 2004. https://doi.org/10.1145/1015706.1015720
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.context import ImageContext
    from lenscore.evaluator.validate import Check, Plan

F = "subject"


@dataclass(frozen=True)
class SubjectParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``). The detector's and the mask's own constants live in
    :mod:`lenscore.faces` and :mod:`lenscore.person`."""

    #: at most this many landmarks per face are kept for the overlay (an even subsample).
    max_drawn_landmarks: int = 160


PARAMS = SubjectParams()

OUTPUTS = (
    Output(f"{F}.face_count", "faces", "neither", (0, math.inf),
           "Faces found (0 is a value: no face; the subject is then the in-focus region)."),
    Output(f"{F}.face_width_frac", "fraction of the frame width", "neither", (0.0, 1.0),
           "Width of the main (largest) face over the image width: about 0.4 for a headshot, "
           "0.1 for a medium shot, 0.05 for a figure in a scene."),
    Output(f"{F}.mask_fraction", "fraction of the frame", "neither", (0.0, 1.0),
           "Share of the frame the subject mask covers (the rest is the background the focus, "
           "bokeh and colour families read)."),
    Output(f"{F}.roll_deg", "degrees", "neither", (-180.0, 180.0),
           "In-plane tilt of the main face (counter-clockwise positive as seen)."),
)


def compute(ctx: "ImageContext") -> MetricResult:
    """What the subject model found on this image."""
    faces = ctx.faces
    sm = ctx.subject
    values = {f"{F}.face_count": float(len(faces)),
              f"{F}.mask_fraction": float(np.mean(ctx.work_subject_mask)) if ctx.work_subject_mask.size
              else math.nan,
              f"{F}.face_width_frac": math.nan, f"{F}.roll_deg": math.nan}
    reasons: dict[str, str] = {}
    if faces:
        values[f"{F}.face_width_frac"] = float(faces[0].box[2]) / ctx.width
        values[f"{F}.roll_deg"] = float(faces[0].roll_deg)
    else:
        why = ("image too small to find a face" if min(ctx.height, ctx.width) < 16
               else "no face found")
        reasons[f"{F}.face_width_frac"] = why
        reasons[f"{F}.roll_deg"] = why
    if ctx.subject_source != "face":
        reasons[F] = f"subject: {sm.how}"
    s = 1.0 / ctx.work_scale
    k = PARAMS.max_drawn_landmarks
    artifacts = {
        "how": sm.how, "source": ctx.subject_source, "work_scale": float(ctx.work_scale),
        "mask": ctx.work_subject_mask,
        "faces": [{"box": [float(v) for v in f.box], "eyes": (f.eyes).tolist(),
                   "landmarks": f.landmarks[np.linspace(0, len(f.landmarks) - 1,
                                                        min(k, len(f.landmarks))).astype(int)
                                            ].astype(np.float32),
                   "score": float(f.score), "roll_deg": float(f.roll_deg)} for f in faces],
        "subject_box": [float(v) for v in ctx.subject_box], "scale_to_full": s,
    }
    return MetricResult(values, reasons, artifacts)


def explain(result: MetricResult) -> str:
    v = result.values
    n = v.get(f"{F}.face_count", math.nan)
    how = result.artifacts.get("how", "")
    mask = v.get(f"{F}.mask_fraction", math.nan)
    if not math.isfinite(n):
        return "not measured"
    cover = f"; the subject covers {100 * mask:.0f} % of the frame" if math.isfinite(mask) else ""
    if n == 0:
        return f"no face found: the subject is the {how.split(' (')[0] or 'centre'}{cover}"
    w = v.get(f"{F}.face_width_frac", math.nan)
    size = ("headshot" if w >= 0.25 else "head and shoulders" if w >= 0.12 else
            "medium shot" if w >= 0.06 else "figure in a scene") if math.isfinite(w) else ""
    return (f"{int(n)} face(s), the main one {100 * w:.0f} % of the frame wide ({size}){cover}")


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: the subject mask tinted and outlined, each face's box, eyes and landmarks."""
    import cv2

    from lenscore import drawing as dr

    img, s = dr.thumbnail(rgb, long_side)
    out = img.copy()
    art = result.artifacts or {}
    mask = art.get("mask")
    if mask is not None and np.size(mask):
        m = cv2.resize(np.asarray(mask).astype(np.uint8), (out.shape[1], out.shape[0]),
                       interpolation=cv2.INTER_NEAREST).astype(bool)
        tint = np.array(dr.CYAN, np.float32)
        out[~m] = (0.45 * out[~m].astype(np.float32)).astype(np.uint8)  # background darkened
        out[m] = np.clip(0.8 * out[m].astype(np.float32) + 0.2 * tint, 0, 255).astype(np.uint8)
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, dr.CYAN, 2, cv2.LINE_AA)
    for f in art.get("faces") or []:
        dr.box(out, f.get("box", ()), s, dr.YELLOW, "face", 2)
        for x, y in np.asarray(f.get("landmarks", np.zeros((0, 2))), float).reshape(-1, 2):
            if dr.finite(x, y):
                cv2.circle(out, (int(round(x * s)), int(round(y * s))), 1, dr.GREEN, -1, cv2.LINE_AA)
        for x, y in np.asarray(f.get("eyes", np.zeros((0, 2))), float).reshape(-1, 2):
            if dr.finite(x, y):
                cv2.circle(out, (int(round(x * s)), int(round(y * s))), 4, dr.MAGENTA, 2, cv2.LINE_AA)
    v = result.values
    line1 = (f"subject: {int(v.get(f'{F}.face_count', 0))} face(s), mask "
             f"{dr.fmt(100 * v.get(f'{F}.mask_fraction', math.nan), '.0f')} % of the frame")
    line2 = f"found as: {art.get('how', 'n/a')} (outline cyan; background darkened)"
    return dr.banner(out, [line1, line2])


# ---------------------------------------------------------------------------------------------
# Validation against ground truth
# ---------------------------------------------------------------------------------------------
def _iou(a: np.ndarray, b: np.ndarray) -> float:
    u = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / u) if u else math.nan


def _found(ctx_faces, truth_box) -> bool:
    """A true face is found when a detected face's centre lies inside its box."""
    if truth_box is None:
        return False
    x, y, w, h = truth_box
    return any(x <= f.center[0] <= x + w and y <= f.center[1] <= y + h for f in ctx_faces)


def _render_case(spec):
    """(recall hit or None, false faces, mask IoU or nan, face width frac) for one scene."""
    import cv2

    from lenscore.context import ImageContext
    from lenscore.datasets.synthetic import render

    r = render(spec)
    ctx = ImageContext(r.rgb)
    faces = ctx.faces
    t = r.truth
    tb = t.get("face_box")
    hit = _found(faces, tb) if tb is not None else None
    people = t.get("people") or []  # every person in the frame, the main subject first
    boxes = [b for b in [tb] + [p.get("face_box") for p in people] if b is not None]
    false = sum(1 for f in faces if not any(b[0] <= f.center[0] <= b[0] + b[2] and
                                             b[1] <= f.center[1] <= b[1] + b[3] for b in boxes))
    iou = math.nan
    if r.subject_mask is not None and r.subject_mask.any() and len(people) == 1:
        truth = cv2.resize(r.subject_mask.astype(np.uint8), ctx.work_subject_mask.shape[::-1],
                           interpolation=cv2.INTER_NEAREST).astype(bool)
        iou = _iou(ctx.work_subject_mask, truth)
    return hit, false, iou, t.get("face_width_frac")


def _london_case(args):
    """(group, width, found?, mask IoU) for one London composite."""
    import cv2

    from lenscore.context import ImageContext
    from lenscore.datasets import london

    face_id, width, key, roll, bg, seed = args
    rgb, truth = london.composite(face_id, face_width_frac=width, key_kelvin=key, roll_deg=roll,
                                  background=bg, seed=seed)
    ctx = ImageContext(rgb)
    found = _found(ctx.faces, truth["face_box"])
    m = cv2.resize(truth["person_mask"].astype(np.uint8), ctx.work_subject_mask.shape[::-1],
                   interpolation=cv2.INTER_NEAREST).astype(bool)
    return truth["group"], width, found, _iou(ctx.work_subject_mask, m)


def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Faces and subject masks on the randomised renderer and on real London Set faces
    composited into new frames (production path: nothing of the truth is passed in)."""
    from lenscore.datasets import london
    from lenscore.datasets.scenes import random_subject_scenes
    from lenscore.evaluator import validate as V
    from lenscore.evaluator.executors import parallel_map

    quick = plan.size <= 512
    checks: list[Check] = []
    specs = random_subject_scenes(24 if quick else 200, seed=7, size=plan.size)
    res = parallel_map(_render_case, specs, jobs=jobs)
    hits = [(h, w) for h, _, _, w in res if h is not None and w is not None]
    big = [h for h, w in hits if w >= 0.06]
    rec = float(np.mean(big)) if big else math.nan
    checks.append(V.Check(F, "renderer: faces found at widths >= 6 % (recall)", 100 * rec,
                          ">= 97 %", bool(rec >= 0.97) if big else None,
                          f"{sum(big)}/{len(big)} faces; {len(specs)} scenes", unit="%"))
    n_false = sum(f for _, f, _, _ in res)
    rate = n_false / len(res)
    checks.append(V.Check(F, "renderer: false faces per frame", 100 * rate, "<= 1 %",
                          bool(rate <= 0.01), f"{n_false} in {len(res)} frames", unit="%"))
    ious = [i for _, _, i, _ in res if math.isfinite(i)]
    med = float(np.median(ious)) if ious else math.nan
    checks.append(V.Check(F, "renderer: subject mask IoU with the truth (median)", med, ">= 0.9",
                          bool(med >= 0.9) if ious else None,
                          f"{len(ious)} one-person scenes; p10 "
                          f"{np.percentile(ious, 10) if ious else math.nan:.2f}"))
    if not london.available():
        checks.append(V.Check(F, "London faces (real skin tones)", math.nan, "recall >= 0.97",
                              None, "../shared/data/portraits-london not present"))
        return checks
    ids = london.face_ids()
    if quick:  # one face per ethnicity group, a few widths
        seen: dict[str, str] = {}
        for i in ids:
            g = london.load_face(i).group
            seen.setdefault(g, i)
        ids = list(seen.values())
    widths = (0.04, 0.06, 0.12, 0.25) if quick else (0.04, 0.06, 0.08, 0.12, 0.18, 0.25, 0.40)
    keys = (2700.0, 6500.0) if quick else (2000.0, 2700.0, 5000.0, 6500.0, 9000.0)
    cases = [(i, w, k, r, bg, n) for n, (i, w, k) in enumerate(
        (i, w, k) for i in ids for w in widths for k in keys)
        for r, bg in [((0.0, 20.0, -20.0)[n % 3], ("texture", "plain", "bokeh")[n % 3])]]
    lres = parallel_map(_london_case, cases, jobs=jobs)
    for lo, hi, target in ((0.06, 1.0, 0.97), (0.0, 0.05, 0.8)):
        sel = [f for _, w, f, _ in lres if lo <= w <= hi]
        r = float(np.mean(sel)) if sel else math.nan
        label = ">= 6 %" if lo else "4 %"
        checks.append(V.Check(F, f"London composites: faces found at widths {label} (recall)",
                              100 * r, f">= {100 * target:.0f} %", bool(r >= target) if sel else None,
                              f"{sum(sel)}/{len(sel)} frames, {len(ids)} faces", unit="%"))
    groups: dict[str, list[bool]] = {}
    for g, w, f, _ in lres:
        if w >= 0.06:
            groups.setdefault(g.split("/")[0], []).append(f)
    rates = {g: float(np.mean(v)) for g, v in groups.items() if v}
    gap = (max(rates.values()) - min(rates.values())) if rates else math.nan
    checks.append(V.Check(F, "London composites: recall gap between ethnicity groups", 100 * gap,
                          "<= 5 points", bool(gap <= 0.05) if rates else None,
                          ", ".join(f"{g} {100 * r:.0f} % (n={len(groups[g])})"
                                    for g, r in sorted(rates.items())), unit="points"))
    lious = [i for _, _, _, i in lres if math.isfinite(i)]
    lmed = float(np.median(lious)) if lious else math.nan
    checks.append(V.Check(F, "London composites: subject mask IoU (median)", lmed, ">= 0.9",
                          bool(lmed >= 0.9) if lious else None,
                          f"{len(lious)} frames; p10 {np.percentile(lious, 10) if lious else math.nan:.2f}"))
    return checks


FAMILY = register(MetricFamily(
    name=F, version="1",
    method=("faces: BlazeFace full-range candidates verified by MediaPipe Face Mesh (468 "
            "landmarks), tiles for small faces; subject: GrabCut seeded by a head-and-body prior "
            "around the faces and refined by sharpness, the in-focus region without a face"),
    outputs=OUTPUTS, compute=compute, params=PARAMS, title="Subject",
    headline=("subject.face_count", "subject.face_width_frac", "subject.mask_fraction"), order=5,
    explain=explain, draw=draw, validate=validate))
