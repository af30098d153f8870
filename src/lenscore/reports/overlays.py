"""Drawing what the metrics saw on the image itself: "why did this one score low?".

The families return their evidence in ``MetricResult.artifacts`` (full-resolution pixel
coordinates, documented in each family's module docstring). This module re-runs the families
on one image (:func:`measure_image`) and draws, defensively (whatever an artifact lacks is
skipped, never an error):

- **bokeh**: every verified orb circled and labelled with its circularity; round highlights
  rejected as Gaussian smears dashed in orange;
- **focus**: the tile sharpness map (log10 variance of the Laplacian) as a heat map over a
  grey copy, with the subject box;
- **color**: the light-carrying pixels coloured by their warm / cool cluster, the key-light
  region box, and (:func:`lenscore.reports.plots.uv_diagram`) the same points on a CIE 1960
  uv diagram with the Planckian locus;
- **skin**: a zoom on the analysed face, the skin mask tinted, specular (sebum) pixels in yellow,
  and the texture energy.

Drawing is OpenCV on a uint8 thumbnail (anti-aliased lines, Hershey text with a dark outline);
:func:`explain_figure` composes the panels with matplotlib for ``lenscore explain``.
"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

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


# ----------------------------------------------------------------------------------------------
# measuring
def measure_image(path: str | os.PathLike, *, families: Sequence[str] | None = None,
                  subject_box: tuple[int, int, int, int] | None = None,
                  prompt: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode ``path`` and run the metric families on it.

    Returns ``(rgb, results)``: float32 sRGB H x W x 3 and {family: MetricResult}. ``families``
    limits the run (bokeh is run before color whenever color is asked for, because color reads
    the bokeh orbs as light sources, as in a full scoring run).
    """
    from lenscore.context import ImageContext
    from lenscore.datasets.decode import decode_image
    from lenscore.evaluator.run import compute_families, select_families

    decoded = decode_image(path)
    ctx = ImageContext(decoded.rgb, subject_box=subject_box, prompt=prompt)
    if families is None:
        fams = select_families()
    else:
        wanted = set(families)
        if "color" in wanted:
            wanted.add("bokeh")
        fams = select_families(sorted(wanted))  # registry order; UsageError for unknown names
    return decoded.rgb, compute_families(ctx, fams)


# ----------------------------------------------------------------------------------------------
# primitives
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


def _finite(*vals: Any) -> bool:
    try:
        return all(v is not None and math.isfinite(float(v)) for v in vals)
    except (TypeError, ValueError):
        return False


def _fs(img: np.ndarray, scale: float) -> float:
    """Font scale for an image: ``scale`` at 480 px wide, proportional above."""
    return scale * max(1.0, img.shape[1] / 600.0)


def _text(img: np.ndarray, text: str, org: tuple[int, int], color=WHITE, scale: float = 0.45,
          thick: int = 1) -> None:
    import cv2

    scale = _fs(img, scale)
    thick = max(thick, int(round(thick * img.shape[1] / 600.0)))
    x, y = int(round(org[0])), int(round(org[1]))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = max(2, min(x, img.shape[1] - tw - 2))
    y = max(th + 2, min(y, img.shape[0] - 3))
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2,
                cv2.LINE_AA)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


def _banner(img: np.ndarray, lines: Sequence[str], scale: float = 0.45) -> np.ndarray:
    """The image with a dark caption strip ABOVE it (white text lines, wrapped to the width),
    so the caption never hides what was drawn."""
    import cv2

    scale = _fs(img, scale)
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


def _box(img: np.ndarray, box: Any, s: float, color=CYAN, label: str = "",
         thick: int = 2) -> None:
    import cv2

    try:
        x, y, w, h = (float(v) for v in list(box)[:4])
    except (TypeError, ValueError):
        return
    if not _finite(x, y, w, h):
        return
    p0 = (int(round(x * s)), int(round(y * s)))
    p1 = (int(round((x + w) * s)), int(round((y + h) * s)))
    cv2.rectangle(img, p0, p1, color, thick, cv2.LINE_AA)
    if label:
        _text(img, label, (p0[0] + 3, p1[1] - 5), color, 0.4)


def _dashed_circle(img: np.ndarray, c: tuple[int, int], r: int, color, thick: int = 1,
                   segments: int = 16) -> None:
    import cv2

    step = 360 / segments
    for i in range(segments):
        a0 = i * step
        cv2.ellipse(img, c, (r, r), 0, a0, a0 + step * 0.55, color, thick, cv2.LINE_AA)


def _unit(name: str) -> str:
    """The registered unit of an output ('' when unknown), ASCII only (Hershey fonts)."""
    try:
        from lenscore.metrics import all_outputs

        unit = all_outputs()[name].unit
    except Exception:  # noqa: BLE001
        return ""
    return unit if unit.isascii() else ""


def _fmt(v: Any, spec: str = ".2f") -> str:
    return format(float(v), spec) if _finite(v) else "n/a"


# ----------------------------------------------------------------------------------------------
# per-family overlays: (thumbnail uint8, scale, result) -> uint8
def draw_bokeh(img: np.ndarray, s: float, result: Any) -> np.ndarray:
    """Verified orbs circled in green with their circularity; soft highlights dashed orange."""
    import cv2

    out = img.copy()
    art = getattr(result, "artifacts", {}) or {}
    vals = getattr(result, "values", {}) or {}
    for o in art.get("soft_highlights") or []:
        if not _finite(o.get("x"), o.get("y"), o.get("r")):
            continue
        c = (int(round(o["x"] * s)), int(round(o["y"] * s)))
        # a soft highlight's rim is where its glow fades: ring it just outside
        _dashed_circle(out, c, max(6, int(round(o["r"] * s * 1.5)) + 2), ORANGE,
                       2 if out.shape[1] >= 300 else 1, segments=12)
    orbs = [o for o in (art.get("orbs") or []) if _finite(o.get("x"), o.get("y"), o.get("r"))]
    for o in orbs:
        c = (int(round(o["x"] * s)), int(round(o["y"] * s)))
        r = max(2, int(round(o["r"] * s)))
        cv2.circle(out, c, r + 1, GREEN, 2 if r > 6 else 1, cv2.LINE_AA)
    for o in orbs:
        c = (o["x"] * s, o["y"] * s)
        r = o["r"] * s
        label = _fmt(o.get("circularity"))
        if _finite(o.get("polygon_order")):
            label += f" {int(o['polygon_order'])}-gon"
        _text(out, label, (c[0] + r * 0.75 + 2, c[1] - r * 0.75), GREEN, 0.38)
    n_soft = len(art.get("soft_highlights") or [])
    line1 = f"bokeh: {len(orbs)} orb(s), circularity {_fmt(vals.get('bokeh.circularity'))}"
    line2 = (f"{n_soft} soft highlight(s) rejected as blur" if n_soft else
             (f"edge sharpness {_fmt(vals.get('bokeh.edge_sharpness'))}"
              if _finite(vals.get('bokeh.edge_sharpness')) else ""))
    if not orbs and not n_soft:
        line2 = _reason(result, "bokeh.orb_count") or "no background highlights found"
    return _banner(out, [line1, line2])


def _reason(result: Any, key: str) -> str:
    reasons = getattr(result, "reasons", {}) or {}
    r = reasons.get(key) or reasons.get(key.split(".")[0]) or ""
    return r[:70]


def _colormap(x01: np.ndarray) -> np.ndarray:
    """Inferno-like colour map for values in [0, 1] -> uint8 RGB."""
    import cv2

    u8 = np.clip(np.round(x01 * 255), 0, 255).astype(np.uint8)
    bgr = cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)
    return bgr[..., ::-1]


def draw_focus(img: np.ndarray, s: float, result: Any) -> np.ndarray:
    """Tile sharpness heat map (bright = sharp) over a grey copy, with the subject box."""
    import cv2

    art = getattr(result, "artifacts", {}) or {}
    vals = getattr(result, "values", {}) or {}
    out = img.copy()
    smap = art.get("sharpness_map_log10")
    ex, ey = art.get("tile_edges_x"), art.get("tile_edges_y")
    if smap is not None and np.size(smap):
        smap = np.asarray(smap, dtype=np.float32)
        finite = smap[np.isfinite(smap)]
        if finite.size:
            lo, hi = np.percentile(finite, [2, 98])
            norm = np.clip((smap - lo) / max(hi - lo, 1e-6), 0, 1)
            norm[~np.isfinite(norm)] = 0
            colors = _colormap(norm)
            h, w = out.shape[:2]
            heat = np.zeros_like(out)
            if ex is not None and ey is not None and len(ex) == smap.shape[1] + 1 and \
                    len(ey) == smap.shape[0] + 1:
                xs = np.clip(np.round(np.asarray(ex, float) * s).astype(int), 0, w)
                ys = np.clip(np.round(np.asarray(ey, float) * s).astype(int), 0, h)
                for i in range(smap.shape[0]):
                    for j in range(smap.shape[1]):
                        heat[ys[i]:ys[i + 1], xs[j]:xs[j + 1]] = colors[i, j]
            else:  # no tile geometry: stretch the map over the frame
                heat = cv2.resize(colors, (w, h), interpolation=cv2.INTER_NEAREST)
            gray = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
            gray3 = np.repeat(gray[..., None], 3, axis=2).astype(np.float32)
            out = np.clip(0.45 * gray3 + 0.55 * heat.astype(np.float32), 0, 255).astype(np.uint8)
    sb = art.get("subject_box")
    if sb is not None:
        _box(out, sb, s, CYAN, f"subject ({art.get('subject_source', '')})".replace(" ()", ""))
    sep = vals.get("focus.separation")
    blur = vals.get("focus.background_blur_px")
    line1 = f"focus: separation {_fmt(sep)} (log10 subject/background)"
    line2 = f"background blur disc {_fmt(blur, '.1f')} px" if _finite(blur) else \
        (_reason(result, "focus.background_blur_px") and
         "background blur: " + _reason(result, "focus.background_blur_px"))
    return _banner(out, [line1, line2 or ""])


def draw_color(img: np.ndarray, s: float, result: Any) -> np.ndarray:
    """Light-carrying pixels coloured warm (orange) / cool (blue), with the key-light box."""
    import cv2

    art = getattr(result, "artifacts", {}) or {}
    vals = getattr(result, "values", {}) or {}
    out = (img.astype(np.float32) * 0.6).astype(np.uint8)
    pts = art.get("points_xy")
    labels = art.get("points_label")
    if pts is not None and np.size(pts):
        pts = np.asarray(pts, float).reshape(-1, 2)
        labels = np.asarray(labels).ravel() if labels is not None and np.size(labels) == len(pts) \
            else np.full(len(pts), -1)
        for (x, y), lab in zip(pts, labels):
            if not _finite(x, y):
                continue
            col = WARM if lab == 0 else COOL if lab == 1 else WHITE
            cv2.circle(out, (int(round(x * s)), int(round(y * s))), 2, col, -1, cv2.LINE_AA)
    subj = art.get("subject") or {}
    if isinstance(subj, Mapping) and subj.get("box") is not None:
        _box(out, subj["box"], s, WHITE, "key light", 1)
    warm, cool = vals.get("color.warm_cct_k"), vals.get("color.cool_cct_k")
    line1 = (f"color: warm {_fmt(warm, '.0f')} K / cool {_fmt(cool, '.0f')} K, "
             f"separation {_fmt(vals.get('color.separation'), '.1f')}")
    line2 = (f"key {_fmt(vals.get('color.subject_cct_k'), '.0f')} K, background "
             f"{_fmt(vals.get('color.background_cct_k'), '.0f')} K, "
             f"delta {_fmt(vals.get('color.delta_mired'), '+.0f')} mired")
    return _banner(out, [line1, line2])


def color_uv_plot(result: Any, *, fmt: str = "svg", size: tuple[float, float] = (4.2, 3.4),
                  title: str = "light sources, CIE 1960 uv", compact: bool = False,
                  dpi: int = 110) -> bytes | None:
    """The color family's points and clusters on the uv diagram (None without points)."""
    from lenscore.reports import plots

    art = getattr(result, "artifacts", {}) or {}
    pts = art.get("points_uv")
    clusters = []
    cl = art.get("clusters") or {}
    if isinstance(cl, Mapping):
        for name, col in (("warm", "#d55e00"), ("cool", "#0072b2")):
            c = cl.get(name)
            if isinstance(c, Mapping) and c.get("uv") is not None:
                clusters.append({"uv": c["uv"], "label": name, "kelvin": c.get("cct_k"),
                                 "color": col})
    if (pts is None or not np.size(pts)) and not clusters:
        return None
    pc = None
    labels = art.get("points_label")
    if pts is not None and labels is not None and np.size(labels) == len(pts):
        lab = np.asarray(labels).ravel()
        pc = np.where(lab[:, None] == 0, [[1.0, 0.55, 0.12]],
                      np.where(lab[:, None] == 1, [[0.24, 0.63, 1.0]], [[0.6, 0.6, 0.6]]))
    return plots.uv_diagram(points=None if pts is None else np.asarray(pts, float),
                            point_colors=pc, clusters=clusters, title=title, fmt=fmt, size=size,
                            compact=compact, dpi=dpi)


def draw_skin(img_full: np.ndarray, result: Any, *, long_side: int = 480) -> np.ndarray | None:
    """Zoom on the analysed face: skin mask tinted, specular pixels yellow, texture energy.

    Takes the FULL-resolution uint8 image (the zoom is cut from it). None without a crop box.
    """
    import cv2

    art = getattr(result, "artifacts", {}) or {}
    vals = getattr(result, "values", {}) or {}
    crop = art.get("crop_box")
    if crop is None:
        return None
    try:
        cx, cy, cw, ch = (int(round(float(v))) for v in list(crop)[:4])
    except (TypeError, ValueError):
        return None
    H, W = img_full.shape[:2]
    pad = int(0.25 * max(cw, ch))
    x0, y0 = max(0, cx - pad), max(0, cy - pad)
    x1, y1 = min(W, cx + cw + pad), min(H, cy + ch + pad)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    zoom = to_u8(img_full[y0:y1, x0:x1])
    s = long_side / max(zoom.shape[:2])
    zoom = cv2.resize(zoom, (max(1, round(zoom.shape[1] * s)), max(1, round(zoom.shape[0] * s))),
                      interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    out = zoom.copy()

    def place(mask: Any) -> np.ndarray | None:
        if mask is None or not np.size(mask):
            return None
        m = np.asarray(mask).astype(np.uint8)
        w_, h_ = max(1, round(cw * s)), max(1, round(ch * s))
        m = cv2.resize(m, (w_, h_), interpolation=cv2.INTER_NEAREST).astype(bool)
        full = np.zeros(out.shape[:2], bool)
        ox, oy = round((cx - x0) * s), round((cy - y0) * s)
        ys, xs = slice(max(0, oy), min(full.shape[0], oy + h_)), \
            slice(max(0, ox), min(full.shape[1], ox + w_))
        full[ys, xs] = m[ys.start - oy: ys.stop - oy, xs.start - ox: xs.stop - ox]
        return full

    mask = place(art.get("mask"))
    if mask is not None:
        tint = np.array(MAGENTA, np.float32)
        out[mask] = np.clip(0.6 * out[mask].astype(np.float32) + 0.4 * tint, 0, 255).astype(
            np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, MAGENTA, 1, cv2.LINE_AA)
    spec = place(art.get("specular_mask"))
    if spec is not None:
        out[spec] = YELLOW
    fb = art.get("face_box")
    if fb is not None:
        try:
            fx, fy, fw, fh = (float(v) for v in list(fb)[:4])
            _box(out, (fx - x0, fy - y0, fw, fh), s, CYAN, "face", 1)
        except (TypeError, ValueError):
            pass
    bands = art.get("bands") or {}
    unit = _unit("skin.texture_energy")
    line1 = f"skin: texture energy {_fmt(vals.get('skin.texture_energy'))}" + \
        (f" {unit}" if unit else "")
    line2 = (f"pore RMS contrast {_fmt(bands.get('rms_contrast'), '.3f')}, "
             f"specular {_fmt(vals.get('skin.specular_fraction'), '.3f')}"
             if isinstance(bands, Mapping) else "")
    return _banner(out, [line1, line2])


def draw_plain(img: np.ndarray, s: float, result: Any) -> np.ndarray:
    return img.copy()


#: family -> drawer on the thumbnail (skin is special: it zooms on the full image)
DRAWERS: dict[str, Callable[[np.ndarray, float, Any], np.ndarray]] = {
    "bokeh": draw_bokeh, "focus": draw_focus, "color": draw_color,
}
OVERLAY_FAMILIES = ("bokeh", "focus", "color", "skin")


def overlay(family: str, rgb: np.ndarray, result: Any, *, long_side: int = 480) -> np.ndarray:
    """The overlay of one family's result on one image, as uint8 RGB (the plain thumbnail when
    the family draws nothing or its artifacts are missing)."""
    if family == "skin":
        z = None
        try:
            z = draw_skin(to_u8(rgb), result, long_side=long_side)
        except Exception:  # noqa: BLE001 - an artifact we cannot draw must not break a report
            z = None
        if z is not None:
            return z
        thumb, s = thumbnail(rgb, long_side)
        out = thumb.copy()
        return _banner(out, ["skin: " + (_reason(result, "skin.texture_energy") or
                                          "no face found")])
    thumb, s = thumbnail(rgb, long_side)
    drawer = DRAWERS.get(family, draw_plain)
    try:
        return drawer(thumb, s, result)
    except Exception:  # noqa: BLE001
        return thumb


# ----------------------------------------------------------------------------------------------
# lenscore explain
def explain_figure(path: str | os.PathLike, out: str | os.PathLike, *,
                   families: Sequence[str] | None = None, dpi: int = 110,
                   subject_box: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
    """Every overlay of one image in one PNG (``lenscore explain IMAGE --out explain.png``).

    Returns {"path": out path, "values": {output: value}, "reasons": {key: reason}}.
    """
    from lenscore.reports.plots import _plt, draw_uv_diagram

    plt = _plt()
    rgb, results = measure_image(path, families=families, subject_box=subject_box)
    panels: list[tuple[str, Any]] = [("image", thumbnail(rgb, 900)[0])]
    for fam in OVERLAY_FAMILIES:
        if fam in results:
            panels.append((fam, overlay(fam, rgb, results[fam], long_side=900)))
    color = results.get("color")
    has_uv = color is not None and (np.size(color.artifacts.get("points_uv", [])) or
                                    color.artifacts.get("clusters"))
    n = len(panels) + (1 if has_uv else 0) + 1
    cols = 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 5.0, rows * 4.6))
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    titles = {"image": "image", "bokeh": "bokeh orbs (circularity)",
              "focus": "focus: tile sharpness (bright = sharp)",
              "color": "light sources: warm / cool clusters", "skin": "skin mask and texture"}
    i = 0
    for name, img in panels:
        axes[i].imshow(img)
        axes[i].set_title(titles.get(name, name), loc="left", fontweight="bold")
        i += 1
    if has_uv:
        ax = axes[i]
        ax.axis("on")
        art = color.artifacts
        pts = art.get("points_uv")
        lab = art.get("points_label")
        pc = None
        if pts is not None and lab is not None and np.size(lab) == len(pts):
            lab = np.asarray(lab).ravel()
            pc = np.where(lab[:, None] == 0, [[1.0, 0.55, 0.12]],
                          np.where(lab[:, None] == 1, [[0.24, 0.63, 1.0]], [[0.6, 0.6, 0.6]]))
        clusters = []
        for nm, col in (("warm", "#d55e00"), ("cool", "#0072b2")):
            c = (art.get("clusters") or {}).get(nm) if isinstance(art.get("clusters"), Mapping) \
                else None
            if isinstance(c, Mapping):
                clusters.append({"uv": c.get("uv"), "label": nm, "kelvin": c.get("cct_k"),
                                 "color": col})
        draw_uv_diagram(ax, points=None if pts is None else np.asarray(pts, float),
                        point_colors=pc, clusters=clusters,
                        title="light sources on the CIE 1960 uv diagram")
        i += 1
    # values panel
    ax = axes[i]
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for res in results.values():
        values.update(res.values)
        reasons.update(res.reasons)
    lines = []
    for k, v in values.items():
        lines.append(f"{k:<28s} {_fmt(v, '.4g'):>10s}")
    ax.text(0.0, 1.0, "\n".join(lines[:40]), family="monospace", fontsize=7.5, va="top",
            transform=ax.transAxes)
    ax.set_title("values", loc="left", fontweight="bold")
    fig.suptitle(f"lenscore explain: {Path(path).name}", x=0.01, ha="left", fontsize=13,
                 fontweight="bold")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, metadata={"Software": "lenscore"})
    plt.close(fig)
    return {"path": out, "values": values, "reasons": reasons}
