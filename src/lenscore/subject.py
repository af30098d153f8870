"""Where is the subject? Offline face detection and the head-and-shoulders subject box.

Face detector: OpenCV's Haar frontal-face cascade (Viola & Jones 2001, Lienhart & Maydt 2002),
shipped inside opencv-python-headless 4.x (``cv2.data.haarcascades``), so it works offline with
nothing downloaded. It runs on a small copy of the image (long side ``DETECT_LONG_SIDE`` px) and
only looks for faces at least ``MIN_FACE_FRAC`` of the short side: portraits have large faces,
and the restriction keeps it to a few milliseconds.

Subject mask (what metrics treat as the subject; the background is the rest): the person
silhouette :func:`person_mask` around a detected face, else the subject box.

Subject box, in order of precedence:
1. ``subject_box`` given by the user (manifest);
2. the largest detected face, expanded to head and shoulders
   (``HEAD_SHOULDERS``: 1.2 face widths each side, 0.6 above, 2.2 below, clipped to the frame);
3. fallback when no face is found: the centre box (middle 50 % of the width, 15-85 % of the
   height), the usual placement of a portrait subject. Reports say "no face found" when it is used.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from lenscore.imaging import resize_long_side, skin_colour_map

DETECT_LONG_SIDE = 256
SCALE_FACTOR = 1.15
MIN_FACE_FRAC = 0.12
#: a detection must have at least this fraction of skin-coloured pixels in its central part
#: in a colour image: bokeh orbs and patterns do not. Skin here is Chai & Ngan's (1999) YCrCb
#: box widened toward warm light (Cr up to 200, Cb down to 50): a face under a 2700 K key reads
#: Cr ~180, Cb ~78, outside the daylight box.
MIN_SKIN_FRAC = 0.2
SKIN_CR = (133, 200)
SKIN_CB = (50, 127)
#: expansion of a face box (x, y, w, h) to head and shoulders, in face widths/heights:
#: left, top, right, bottom.
HEAD_SHOULDERS = (1.2, 0.6, 1.2, 2.2)
FALLBACK_BOX_FRAC = (0.25, 0.15, 0.50, 0.70)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Face:
    """A detected face in original-image pixels; ``neighbors`` is the cascade's vote count."""

    box: Box
    neighbors: int


@functools.lru_cache(maxsize=1)
def _cascade() -> "cv2.CascadeClassifier":
    from lenscore.errors import MissingDependencyError

    if not hasattr(cv2, "CascadeClassifier") or not hasattr(cv2, "data"):
        raise MissingDependencyError(
            "opencv-python-headless<5", "dev",
            "Face detection (OpenCV 5 dropped the Haar cascades)")
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    clf = cv2.CascadeClassifier(path)
    if clf.empty():
        raise RuntimeError(f"OpenCV could not load its face cascade from {path}")
    return clf


def detect_faces(gray: np.ndarray, rgb: np.ndarray | None = None) -> list[Face]:
    """Faces in a float gray image in [0, 1] (any size), largest first, in its own pixel coords.

    With ``rgb`` (same size, sRGB in [0, 1]) detections in a colour image must contain skin
    colours (``MIN_SKIN_FRAC``): this drops the cascade's false positives on clusters of bokeh
    orbs and on patterns. Grayscale images skip that check.
    """
    h, w = gray.shape[:2]
    if min(h, w) < 24:
        return []
    small = resize_long_side(gray, DETECT_LONG_SIDE) if max(h, w) > DETECT_LONG_SIDE else gray
    s = small.shape[1] / w
    img8 = np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8)
    img8 = cv2.equalizeHist(img8)
    min_side = max(20, int(MIN_FACE_FRAC * min(img8.shape[:2])))
    rects, _, weights = _cascade().detectMultiScale3(
        img8, scaleFactor=SCALE_FACTOR, minNeighbors=5, minSize=(min_side, min_side),
        outputRejectLevels=True)
    rects = np.asarray(rects).reshape(-1, 4)
    weights = np.asarray(weights).reshape(-1)
    if rgb is not None and len(rects):
        skin = _skin_map(resize_long_side(rgb, img8.shape[1]) if max(h, w) > DETECT_LONG_SIDE else rgb)
        if skin is not None:
            keep = [i for i, (x, y, bw, bh) in enumerate(rects)
                    if skin[y + bh // 4:y + 3 * bh // 4, x + bw // 4:x + 3 * bw // 4].mean() >= MIN_SKIN_FRAC]
            rects, weights = rects[keep], weights[keep]
    faces = [Face(tuple(int(round(v / s)) for v in r), int(round(float(wt))))  # type: ignore[arg-type]
             for r, wt in zip(rects, weights)]
    faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return faces


def _skin_map(rgb: np.ndarray) -> np.ndarray | None:
    """Boolean skin-colour map (YCrCb within ``SKIN_CR`` and ``SKIN_CB``), or None for a
    grayscale image, where colour says nothing."""
    u8 = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ycc = cv2.cvtColor(u8, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycc[..., 1].astype(np.int16), ycc[..., 2].astype(np.int16)
    if np.abs(cr - 128).mean() < 2 and np.abs(cb - 128).mean() < 2:
        return None
    return skin_colour_map(u8, cr=SKIN_CR, cb=SKIN_CB)


def head_and_shoulders(face: Box, shape: tuple[int, int]) -> Box:
    """Expand a face box to a head-and-shoulders box, clipped to an image of ``shape`` (H, W)."""
    x, y, w, h = face
    left, top, right, bottom = HEAD_SHOULDERS
    x0, y0 = max(0, int(x - left * w)), max(0, int(y - top * h))
    x1, y1 = min(shape[1], int(x + w + right * w)), min(shape[0], int(y + h + bottom * h))
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def person_mask(face_box: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """Where a portrait's person probably is, from the face box (x, y, w, h) in the pixels of
    ``shape`` (H, W): head and hair (an ellipse 1.6 face widths wide, reaching half a face height
    above the box) and neck, shoulders and torso (widening to 2.9 face widths, about the width of
    human shoulders, down to the bottom of the frame).

    The head-and-shoulders *box* hides the background on both sides of the head (in a tight
    headshot, all of it); this silhouette keeps the person out and lets the background in.
    """
    h, w = shape[:2]
    fx, fy, fw, fh = (float(v) for v in face_box)
    cx = fx + fw / 2
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (round(cx), round(fy + 0.45 * fh)), (max(1, round(0.8 * fw)),
                max(1, round(0.95 * fh))), 0, 0, 360, 1, -1)
    body = np.array([[cx - 0.5 * fw, fy + 0.85 * fh], [cx + 0.5 * fw, fy + 0.85 * fh],
                     [cx + 1.45 * fw, fy + 2.0 * fh], [cx + 1.45 * fw, h + 1.0],
                     [cx - 1.45 * fw, h + 1.0], [cx - 1.45 * fw, fy + 2.0 * fh]])
    cv2.fillPoly(m, [np.round(body).astype(np.int32)], 1)
    return m.astype(bool)


def fallback_box(shape: tuple[int, int]) -> Box:
    """The centre box used when no face is found and none was given."""
    H, W = shape[:2]
    fx, fy, fw, fh = FALLBACK_BOX_FRAC
    return (int(fx * W), int(fy * H), max(1, int(fw * W)), max(1, int(fh * H)))
