"""Drawing on images: the small OpenCV primitives every family's overlay uses (pure array code).

A family draws what it saw (``MetricFamily.draw(rgb, result, long_side)``) with these: a uint8
thumbnail, anti-aliased circles and boxes, Hershey text with a dark outline, and a caption strip
above the image (:func:`banner`) so a caption never hides what was drawn. Colours are RGB tuples.
Everything is defensive: whatever a result lacks is skipped, never an error.
"""

from __future__ import annotations

import io
import math
from typing import Any, Sequence

import numpy as np

#: BGR-free colours (RGB tuples) used on images
GREEN = (60, 230, 110)
ORANGE = (255, 150, 40)
CYAN = (70, 220, 255)
WHITE = (255, 255, 255)
YELLOW = (255, 235, 60)
MAGENTA = (235, 80, 220)
WARM = (255, 140, 30)
COOL = (60, 160, 255)


def to_u8(rgb: np.ndarray) -> np.ndarray:
    x = np.asarray(rgb)
    if x.dtype == np.uint8:
        return x
    return np.clip(np.round(x.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def thumbnail(rgb: np.ndarray, long_side: int = 480) -> tuple[np.ndarray, float]:
    """uint8 copy whose longer side is at most ``long_side``; returns (image, scale)."""
    import cv2

    img = to_u8(rgb)
    h, w = img.shape[:2]
    s = min(1.0, long_side / max(h, w))
    if s < 1.0:
        img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))),
                         interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img), s


def encode_image(img: np.ndarray, fmt: str = "jpeg", quality: int = 85) -> bytes:
    """uint8 RGB -> JPEG/PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    im = Image.fromarray(to_u8(img))
    if fmt.lower() in ("jpg", "jpeg"):
        im.save(buf, format="JPEG", quality=quality, optimize=True)
    else:
        im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def finite(*vals: Any) -> bool:
    try:
        return all(v is not None and math.isfinite(float(v)) for v in vals)
    except (TypeError, ValueError):
        return False


def font_scale(img: np.ndarray, scale: float) -> float:
    """Font scale for an image: ``scale`` at 480 px wide, proportional above."""
    return scale * max(1.0, img.shape[1] / 600.0)


def text(img: np.ndarray, label: str, org: tuple[int, int], color=WHITE, scale: float = 0.45,
         thick: int = 1) -> None:
    """Draw ``label`` at ``org`` (x, y of the baseline start) with a dark outline, kept inside
    the image."""
    import cv2

    scale = font_scale(img, scale)
    thick = max(thick, int(round(thick * img.shape[1] / 600.0)))
    x, y = int(round(org[0])), int(round(org[1]))
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = max(2, min(x, img.shape[1] - tw - 2))
    y = max(th + 2, min(y, img.shape[0] - 3))
    cv2.putText(img, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2,
                cv2.LINE_AA)
    cv2.putText(img, label, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def banner(img: np.ndarray, lines: Sequence[str], scale: float = 0.45) -> np.ndarray:
    """The image with a dark caption strip ABOVE it (white text lines, wrapped to the width),
    so the caption never hides what was drawn."""
    import cv2

    scale = font_scale(img, scale)
    thick = 1 if img.shape[1] < 700 else 2
    wrapped: list[str] = []
    for ln in (x for x in lines if x):
        words, cur = ln.split(" "), ""
        for w in words:
            trial = (cur + " " + w).strip()
            if cur and cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)[0][0] > \
                    img.shape[1] - 12:
                wrapped.append(cur)
                cur = w
            else:
                cur = trial
        wrapped.append(cur)
    lines = wrapped[:4]
    if not lines:
        return img
    lh = int(round(22 * scale / 0.45))
    strip = np.full((lh * len(lines) + 8, img.shape[1], 3), 24, np.uint8)
    for i, ln in enumerate(lines):
        cv2.putText(strip, ln, (6, 4 + lh * (i + 1) - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, WHITE,
                    thick, cv2.LINE_AA)
    return np.ascontiguousarray(np.vstack([strip, img]))


def box(img: np.ndarray, rect: Any, s: float, color=CYAN, label: str = "",
        thick: int = 2) -> None:
    """Draw the (x, y, w, h) box ``rect`` (image px) scaled by ``s``, with an optional label."""
    import cv2

    try:
        x, y, w, h = (float(v) for v in list(rect)[:4])
    except (TypeError, ValueError):
        return
    if not finite(x, y, w, h):
        return
    p0 = (int(round(x * s)), int(round(y * s)))
    p1 = (int(round((x + w) * s)), int(round((y + h) * s)))
    cv2.rectangle(img, p0, p1, color, thick, cv2.LINE_AA)
    if label:
        text(img, label, (p0[0] + 3, p1[1] - 5), color, 0.4)


def dashed_circle(img: np.ndarray, c: tuple[int, int], r: int, color, thick: int = 1,
                  segments: int = 16) -> None:
    import cv2

    step = 360 / segments
    for i in range(segments):
        a0 = i * step
        cv2.ellipse(img, c, (r, r), 0, a0, a0 + step * 0.55, color, thick, cv2.LINE_AA)


def unit(name: str) -> str:
    """The registered unit of an output ('' when unknown), ASCII only (Hershey fonts)."""
    try:
        from lenscore.metrics import all_outputs

        u = all_outputs()[name].unit
    except Exception:  # noqa: BLE001
        return ""
    return u if u.isascii() else ""


def fmt(v: Any, spec: str = ".2f") -> str:
    """``v`` formatted, or "n/a" when it is not a finite number."""
    return format(float(v), spec) if finite(v) else "n/a"


def reason(result: Any, key: str) -> str:
    """The reason an output (or its family) was not measured, cut to fit a caption."""
    reasons = getattr(result, "reasons", {}) or {}
    r = reasons.get(key) or reasons.get(key.split(".")[0]) or ""
    return r[:70]


def colormap(x01: np.ndarray) -> np.ndarray:
    """Inferno-like colour map for values in [0, 1] -> uint8 RGB."""
    import cv2

    u8 = np.clip(np.round(x01 * 255), 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)
    return bgr[..., ::-1]


