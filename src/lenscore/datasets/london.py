"""The Face Research Lab London Set as ground truth: people cut out of their studio backdrop and
placed into new frames with known face box, landmarks, roll, key light and person mask.

Source
------
"Face Research Lab London Set" by Lisa DeBruine and Benedict Jones, CC BY 4.0,
doi:10.6084/m9.figshare.5047666.v5 (as in ``../shared/data/portraits-london``: 32 frontal,
unretouched studio portraits, 1350 x 1350 JPEG, a light-grey backdrop, white T-shirts;
``NNN_03.tem`` holds 189 hand-placed landmarks, ``london_info.csv`` age, gender and ethnicity).
The images are never copied into the repository: :func:`london_dir` points at the shared folder.

I/O and purity
--------------
:func:`load_face` / :func:`load_london` are the only functions here that read files (and they
cache the cut-outs in the process). :func:`parse_tem`, :func:`person_matte`, :func:`compose`
and the background generators are pure functions of arrays and a seed.

Person matte (:func:`person_matte`)
-----------------------------------
1. Backdrop model: a quadratic surface per sRGB channel fitted (least squares, two rounds of
   3-MAD outlier rejection) to the frame border above the shoulders, where the landmarks say
   there is no person (the studio backdrop is lit with a smooth fall-off, so one colour does not
   describe it).
2. Residual image ``rgb - backdrop(x, y) + 0.5``: the backdrop becomes flat grey everywhere, so
   GrabCut's colour models (Rother, Kolmogorov & Blake 2004) see it as one tight cluster.
3. GrabCut seeds: sure person inside the landmark face outline, neck and the shirt core below the
   chin; sure backdrop on the border and wherever the residual is within 2 sigma of the backdrop
   far from the face; probable person where the residual exceeds 6 sigma; the rest probable
   backdrop. GrabCut runs at half resolution (675 px), the mask is resized up and its edge
   feathered by one pixel (the alpha used for compositing; ``alpha >= 0.5`` is the truth mask).
4. Clean-up: keep the connected component that holds the face, fill holes.

Quality (``scripts/measure_faces.py`` prints it per face): the share of the landmark face
outline inside the matte (must be 1), the share of the border strip above the shoulders outside
it, the residual of the backdrop fit, and the agreement (IoU) of GrabCut's mask with the plain
6-sigma threshold. Fine hair strands that the backdrop shows through are lost (a binary matte,
feathered 1 px); see the contact sheet the script can write.

Compositing (:func:`compose`)
-----------------------------
In linear light (:func:`lenscore.imaging.srgb_to_linear`): the person (sRGB decoded to linear)
is multiplied by the key light's colour relative to the studio's daylight flash,
``blackbody_linear_rgb(key) / blackbody_linear_rgb(6500)`` renormalised to Rec.709 luminance 1,
scaled, rotated about the face centre by ``roll_deg`` and placed so the face is
``face_width_frac`` of the frame width with the body running out of the bottom of the frame (the
shirt is extended downward by repeating its last rows, so a rotated cut edge never shows).
Backgrounds are mixed under it with the alpha matte, then the sum is encoded with
:func:`lenscore.imaging.linear_to_srgb`. Face width is the width of the landmark face outline
(ear join to ear join); the truth face box is the bounding box of that outline (hairline to
chin) mapped through the same transform.
"""

from __future__ import annotations

import csv
import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lenscore.errors import InputError
from lenscore.imaging import REC709, linear_to_srgb, srgb_to_linear

#: environment variable naming the shared data folder (the one holding ``portraits-london/``).
ENV_VAR = "LENSCORE_SHARED_DATA"
#: ``../shared/data/portraits-london`` beside the repository.
DEFAULT_DIR = (Path(__file__).parents[3] / ".." / "shared" / "data" / "portraits-london").resolve()

# --- the FRL 189-point template (webmorph), indices found by plotting them on 001_03 ----------
#: face outline: temples, hairline (134-144), ear joins, jaw and chin (114-133-125).
OUTLINE = ([109] + list(range(134, 145)) + [112, 187, 113, 188, 114, 133]
           + list(range(132, 125, -1)) + [125, 111, 186, 110, 185])
#: outer outline of head and hair (forehead hair line 145-156 runs over the top of the hair).
HAIR = list(range(145, 157))
#: pupils (image left, image right): the eye centres.
PUPILS = (0, 1)
#: bottom of the nose (columella, between the nostrils) and the mouth corners (image left, right).
NOSE_TIP = 55
MOUTH_CORNERS = (87, 93)
#: base of the neck (image left, right).
NECK = (183, 184)
EYES = ([18, 19, 20, 21, 22, 30, 29, 28], [23, 24, 25, 26, 27, 33, 32, 31])
BROWS = ([71, 72, 73, 74, 75, 76, 84, 83], [77, 78, 79, 80, 81, 82, 86, 85])
LIPS = ([87, 88, 89, 90, 91, 92, 93, 108, 107, 106, 105, 104],)
NOSTRILS = ([61, 62, 63, 64, 65, 179, 180], [66, 67, 68, 69, 70, 182, 181])

#: ethnicity groups of london_info.csv the ladder reports on (mixed labels are kept as given).
GROUPS = ("white", "black", "east_asian", "west_asian")

#: colour temperature the studio flash is taken to have (the cut-outs are treated as lit by it).
STUDIO_KELVIN = 6500.0
BACKGROUNDS = ("texture", "plain", "bokeh")
#: scikit-image sample images without people used as background textures (bundled, offline).
TEXTURES = ("brick", "grass", "gravel", "rocket", "coffee", "hubble_deep_field",
            "immunohistochemistry", "coins", "moon")


def london_dir(path: str | os.PathLike | None = None) -> Path:
    """Where the London Set is: ``path`` if given, else ``$LENSCORE_SHARED_DATA/portraits-london``
    if that variable is set, else :data:`DEFAULT_DIR`. The folder need not exist (callers check)."""
    if path is not None:
        return Path(path).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return (Path(env).expanduser() / "portraits-london").resolve()
    return DEFAULT_DIR


def available(path: str | os.PathLike | None = None) -> bool:
    """True when the London folder holds at least one ``*.jpg`` with its ``.tem``."""
    d = london_dir(path)
    return d.is_dir() and any(p.with_suffix(".tem").is_file() for p in d.glob("*.jpg"))


def parse_tem(text: str) -> np.ndarray:
    """Landmarks of a webmorph ``.tem`` text: first token the count n, then n ``x y`` pairs
    (the line definitions after them are ignored). Returns an (n, 2) float64 array."""
    toks = text.split()
    try:
        n = int(toks[0])
        pts = np.array(toks[1:1 + 2 * n], dtype=np.float64).reshape(n, 2)
    except (IndexError, ValueError) as exc:
        raise InputError(f"a .tem file must start with a point count and that many 'x y' pairs; "
                         f"could not read it ({exc})") from exc
    return pts


def face_box_from_landmarks(pts: np.ndarray) -> tuple[float, float, float, float]:
    """Bounding box (x, y, w, h) of the FRL face outline (temples, hairline, jaw, chin)."""
    o = np.asarray(pts, dtype=np.float64)[OUTLINE]
    x0, y0 = o.min(axis=0)
    x1, y1 = o.max(axis=0)
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


# ---------------------------------------------------------------------------------------------
# Person matte
# ---------------------------------------------------------------------------------------------
def _poly_design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=-1)


def fit_backdrop(rgb: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, float]:
    """Quadratic surface per channel fitted to ``rgb`` where ``sample`` is True.

    Two rounds of least squares, each dropping samples more than 3 MADs from the fit.
    Returns (the surface over the whole frame, H x W x 3; the robust residual sigma).
    """
    h, w = rgb.shape[:2]
    yy, xx = np.nonzero(sample)
    if len(yy) < 12:
        raise InputError("the backdrop fit needs at least 12 backdrop pixels; the sample was empty")
    step = max(1, len(yy) // 20000)
    yy, xx = yy[::step], xx[::step]
    xs, ys = xx / w - 0.5, yy / h - 0.5
    a = _poly_design(xs, ys)
    vals = rgb[yy, xx].astype(np.float64)
    keep = np.ones(len(yy), bool)
    coef = np.zeros((6, 3))
    sigma = 0.0
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(a[keep], vals[keep], rcond=None)
        res = np.linalg.norm(vals - a @ coef, axis=1)
        mad = float(np.median(res[keep])) + 1e-6
        sigma = 1.4826 * mad
        keep = res < max(3 * sigma, 1e-3)
    gy, gx = np.mgrid[0:h, 0:w]
    surf = _poly_design(gx / w - 0.5, gy / h - 0.5).astype(np.float32) @ coef.astype(np.float32)
    return surf.astype(np.float32), float(sigma)


def _backdrop_z(rgb: np.ndarray, back: np.ndarray, sigma: float) -> np.ndarray:
    """Distance from the backdrop model in units of the fit's residual sigma, with the person's
    shadow on the backdrop discounted: a pixel darker than the backdrop by a common factor
    (same chromaticity) counts a third of its difference."""
    diff = rgb - back
    lum = diff.mean(axis=2, keepdims=True)
    chroma = np.linalg.norm(diff - lum, axis=2)
    l = lum[..., 0]
    light = np.where(l > 0, l, l / 3.0) * np.sqrt(3.0)
    return np.hypot(chroma, light) / max(sigma, 1e-3)


def _fill_holes(mask: np.ndarray, *, closed_bottom: bool = False) -> np.ndarray:
    """Fill holes; with ``closed_bottom`` the frame's bottom edge counts as person (the body
    continues below the frame), so backdrop pockets open only to the bottom edge are filled too."""
    m = mask.astype(np.uint8)
    flood = np.pad(m, 1).copy()
    if closed_bottom:
        flood[-1, :] = 1
    cv2.floodFill(flood, None, (0, 0), 2)
    return (flood[1:-1, 1:-1] != 2)


def _largest_component_at(mask: np.ndarray, seed_mask: np.ndarray) -> np.ndarray:
    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    hits = np.bincount(lab[seed_mask & mask], minlength=n)
    hits[0] = 0
    if hits.max() == 0:
        sizes = np.bincount(lab.ravel(), minlength=n)
        sizes[0] = 0
        return lab == int(np.argmax(sizes))
    return lab == int(np.argmax(hits))


@dataclass(frozen=True)
class Matte:
    """A person cut out of the backdrop: ``alpha`` (float32, H x W, feathered 1 px) and
    figures saying how good the cut is (see the module docstring)."""

    alpha: np.ndarray
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def mask(self) -> np.ndarray:
        return self.alpha >= 0.5


def person_matte(rgb: np.ndarray, landmarks: np.ndarray, *, work_long_side: int = 675,
                 iterations: int = 4) -> Matte:
    """Cut the person out of a plain studio backdrop, seeded by the FRL landmarks.

    Parameters
    ----------
    rgb : ndarray
        H x W x 3 float sRGB in [0, 1] (a London Set portrait).
    landmarks : ndarray
        (189, 2) FRL landmarks in the pixels of ``rgb``.
    work_long_side : int
        GrabCut runs at this long side (px); the mask is resized back up.
    iterations : int
        GrabCut iterations.

    Returns
    -------
    Matte
        Alpha and quality figures (``outline_inside``, ``border_outside``, ``backdrop_sigma``,
        ``grabcut_vs_threshold_iou``, ``area_frac``).

    References
    ----------
    Rother, Kolmogorov & Blake (2004), "GrabCut": interactive foreground extraction using
    iterated graph cuts, ACM TOG 23(3). doi:10.1145/1015706.1015720
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    h, w = rgb.shape[:2]
    pts = np.asarray(landmarks, dtype=np.float64)
    fx, fy, fw, fh = face_box_from_landmarks(pts)
    chin_y = fy + fh
    hair = pts[HAIR]
    # -- backdrop sample: the border strip above the shoulders, away from face and hair
    s = max(8, int(0.04 * min(h, w)))
    border = np.zeros((h, w), bool)
    border[:s, :] = True
    border[:, :s] = True
    border[:, -s:] = True
    border[int(chin_y):, :] = False          # shoulders and shirt reach the sides below the chin
    head = np.zeros((h, w), np.uint8)
    hull = cv2.convexHull(np.round(np.vstack([pts[OUTLINE], hair])).astype(np.int32))
    cv2.fillConvexPoly(head, hull, 1)
    head = cv2.dilate(head, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.3 * fw) | 1,) * 2))
    sample = border & ~head.astype(bool)
    back, sigma = fit_backdrop(rgb, sample)
    z = _backdrop_z(rgb, back, sigma)
    # second fit: every pixel that already looks like backdrop outside the head (this reaches the
    # backdrop beside the neck and between the shoulders, which the border strip does not)
    # (only above the base of the neck: below it the white shirt can be as grey as the backdrop)
    neck_y = float(pts[list(NECK), 1].max())
    above_neck = (np.arange(h) < neck_y)[:, None]
    sample2 = (z < 3) & ~head.astype(bool) & above_neck
    if sample2.sum() > sample.sum():
        back, sigma = fit_backdrop(rgb, sample2 | sample)
        z = _backdrop_z(rgb, back, sigma)

    # -- GrabCut on the flattened residual, at working resolution
    scale = min(1.0, work_long_side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    flat = np.clip(rgb - back + 0.5, 0, 1)
    flat8 = cv2.resize((flat * 255 + 0.5).astype(np.uint8), size, interpolation=cv2.INTER_AREA)
    zs = cv2.resize(z, size, interpolation=cv2.INTER_AREA)
    sh, sw = size[1], size[0]
    p = pts * scale
    gc = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    gc[zs > 6] = cv2.GC_PR_FGD
    face = np.zeros((sh, sw), np.uint8)
    cv2.fillPoly(face, [np.round(p[OUTLINE]).astype(np.int32)], 1)
    face = cv2.erode(face, np.ones((3, 3), np.uint8)).astype(bool)
    far = np.ones((sh, sw), np.uint8)
    cv2.fillConvexPoly(far, cv2.convexHull(np.round(np.vstack([p[OUTLINE], p[HAIR]])).astype(np.int32)), 0)
    far = cv2.erode(far, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(0.25 * fw * scale) | 1,) * 2))
    gc[(zs < 2) & far.astype(bool) & (np.arange(sh)[:, None] < neck_y * scale)] = cv2.GC_BGD
    bs = max(2, int(0.01 * min(sh, sw)))
    top_border = np.zeros((sh, sw), bool)
    top_border[:bs, :] = True
    top_border[: int(chin_y * scale), :bs] = True
    top_border[: int(chin_y * scale), -bs:] = True
    gc[top_border & far.astype(bool)] = cv2.GC_BGD
    gc[face] = cv2.GC_FGD
    # neck and shirt core: a column under the chin, as wide as the neck, down to the bottom
    nx0, nx1 = p[NECK[0], 0], p[NECK[1], 0]
    ncx, nhw = 0.5 * (nx0 + nx1), 0.35 * abs(nx1 - nx0)
    y_chin = int(chin_y * scale)
    gc[y_chin:, max(0, int(ncx - nhw)):int(ncx + nhw) + 1] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)                   # GrabCut seeds its colour models with OpenCV's global RNG
    cv2.grabCut(flat8, gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    small = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    small = _largest_component_at(small, face)
    small = _fill_holes(small, closed_bottom=True)
    thresh_small = _fill_holes(_largest_component_at(zs > 6, face))
    m = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    mask = m >= 0.5
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)
    # -- quality figures
    outline_full = np.zeros((h, w), np.uint8)
    cv2.fillPoly(outline_full, [np.round(pts[OUTLINE]).astype(np.int32)], 1)
    outline_full = outline_full.astype(bool)
    inter = float((small & thresh_small).sum())
    union = float((small | thresh_small).sum()) or 1.0
    q = {
        "outline_inside": float(mask[outline_full].mean()) if outline_full.any() else float("nan"),
        "border_outside": float((~mask[sample]).mean()) if sample.any() else float("nan"),
        "backdrop_sigma": sigma,
        "grabcut_vs_threshold_iou": inter / union,
        "area_frac": float(mask.mean()),
    }
    return Matte(alpha=alpha.astype(np.float32), quality=q)


# ---------------------------------------------------------------------------------------------
# Loading (the only I/O here)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LondonFace:
    """One London Set portrait with its landmarks, labels and person matte."""

    face_id: str
    rgb: np.ndarray            #: H x W x 3 float32 sRGB in [0, 1]
    landmarks: np.ndarray      #: (189, 2) FRL landmarks, px
    ethnicity: str
    gender: str
    age: str
    matte: Matte

    @property
    def group(self) -> str:
        """Ethnicity as in london_info.csv (``east_asian/white`` is kept as it is)."""
        return self.ethnicity


def _read_info(d: Path) -> dict[str, dict[str, str]]:
    p = d / "london_info.csv"
    if not p.is_file():
        return {}
    with p.open(encoding="utf-8", newline="") as fh:
        return {row["face_id"]: row for row in csv.DictReader(fh)}


def face_ids(path: str | os.PathLike | None = None) -> list[str]:
    """Ids (``"001"``) of the portraits in the London folder that have a ``.tem`` file."""
    d = london_dir(path)
    if not d.is_dir():
        raise InputError(f"the London Set folder {d} does not exist; set {ENV_VAR} to the folder "
                         "that holds portraits-london/ or pass its path")
    return sorted(p.name.split("_")[0] for p in d.glob("*_03.jpg") if p.with_suffix(".tem").is_file())


@functools.lru_cache(maxsize=64)
def _load_cached(d: str, face_id: str) -> LondonFace:
    base = Path(d) / f"{face_id}_03"
    bgr = cv2.imread(str(base.with_suffix(".jpg")), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"cannot read {base.with_suffix('.jpg')}; expected a London Set JPEG")
    rgb = (bgr[..., ::-1].astype(np.float32) / 255.0).copy()
    pts = parse_tem(base.with_suffix(".tem").read_text(encoding="utf-8"))
    info = _read_info(Path(d)).get(face_id, {})
    return LondonFace(face_id=face_id, rgb=rgb, landmarks=pts,
                      ethnicity=info.get("face_eth", "unknown"),
                      gender=info.get("face_gender", "unknown"), age=info.get("face_age", "NA"),
                      matte=person_matte(rgb, pts))


def load_face(face_id: str, path: str | os.PathLike | None = None) -> LondonFace:
    """Read one portrait (``face_id`` like ``"001"``), its landmarks and labels, and cut it out.
    Cached per process (the cut-out takes about a second)."""
    d = london_dir(path)
    if not (d / f"{face_id}_03.jpg").is_file():
        raise InputError(f"no London Set portrait {face_id}_03.jpg in {d}; "
                         f"known ids: {', '.join(face_ids(d)) if d.is_dir() else 'none'}")
    return _load_cached(str(d), face_id)


def load_london(path: str | os.PathLike | None = None, *, ids: list[str] | None = None) -> list[LondonFace]:
    """Every portrait in the London folder (or only ``ids``)."""
    return [load_face(i, path) for i in (ids if ids is not None else face_ids(path))]


# ---------------------------------------------------------------------------------------------
# Backgrounds (pure: arrays and a seed in, linear-light arrays out)
# ---------------------------------------------------------------------------------------------
def disc_kernel(radius: float) -> np.ndarray:
    """Uniform disc (pillbox) kernel of ``radius`` px, anti-aliased at its rim, sum 1."""
    r = max(0.5, float(radius))
    n = int(math.ceil(r))
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1].astype(np.float32)
    k = np.clip(r + 0.5 - np.hypot(xx, yy), 0.0, 1.0)
    return (k / k.sum()).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _texture(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    img = img.astype(np.float32) / (255.0 if img.dtype == np.uint8 else float(img.max() or 1))
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def texture_background(frame: tuple[int, int], rng: np.random.Generator, *,
                       name: str | None = None, blur_radius: float | None = None) -> tuple[np.ndarray, dict]:
    """A real texture (scikit-image sample image, no people) filling the frame, tinted when it
    is grey, defocused by a disc kernel of random radius (0.5-3 % of the frame width).
    Returns linear RGB and a description."""
    H, W = frame
    name = name or str(rng.choice(TEXTURES))
    tex = srgb_to_linear(_texture(name))
    th, tw = tex.shape[:2]
    s = max(H / th, W / tw) * float(rng.uniform(1.0, 1.6))
    tex = cv2.resize(tex, (max(W, round(tw * s)), max(H, round(th * s))), interpolation=cv2.INTER_LINEAR)
    y0 = int(rng.integers(0, tex.shape[0] - H + 1))
    x0 = int(rng.integers(0, tex.shape[1] - W + 1))
    tex = np.ascontiguousarray(tex[y0:y0 + H, x0:x0 + W])
    if rng.random() < 0.5:
        tex = tex[:, ::-1]
    if np.ptp(tex.reshape(-1, 3).mean(0)) < 1e-3:         # grey texture: give it a colour
        tint = rng.uniform(0.5, 1.0, 3).astype(np.float32)
        tex = tex * (tint / tint.max())
    tex = tex * float(rng.uniform(0.4, 1.2))
    r = float(blur_radius) if blur_radius is not None else float(rng.uniform(0.005, 0.03)) * W
    if r >= 0.75:
        tex = cv2.filter2D(tex, -1, disc_kernel(r), borderType=cv2.BORDER_REFLECT)
    return np.clip(tex, 0, None).astype(np.float32), {"kind": "texture", "texture": name, "blur_radius_px": r}


def plain_background(frame: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """A plain studio backdrop: one colour (dark to light) with a smooth vertical/radial fall-off."""
    H, W = frame
    col = rng.uniform(0.0, 1.0, 3).astype(np.float32)
    col = col / max(col.max(), 1e-3) * float(rng.uniform(0.02, 0.9))
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H
    fall = 1.0 - float(rng.uniform(0, 0.5)) * ((xx - cx) ** 2 + (yy - cy) ** 2) / (W * W + H * H)
    return (fall[..., None] * col).astype(np.float32), {"kind": "plain", "colour": col.tolist()}


def bokeh_background(frame: tuple[int, int], rng: np.random.Generator, *,
                     n_lights: int | None = None) -> tuple[np.ndarray, dict]:
    """A night scene of out-of-focus lights: a dark defocused base and bright discs (bokeh orbs)
    of random size (1-8 % of the frame width), blackbody colour (1800-10000 K) and brightness."""
    from lenscore.datasets.synthetic import blackbody_linear_rgb

    H, W = frame
    base, _ = texture_background(frame, rng, blur_radius=float(rng.uniform(0.02, 0.04)) * W)
    img = base * float(rng.uniform(0.02, 0.15))
    n = int(n_lights if n_lights is not None else rng.integers(8, 40))
    for _ in range(n):
        r = float(rng.uniform(0.01, 0.08)) * W
        k = float(rng.uniform(1800, 10000))
        col = blackbody_linear_rgb(k) * float(rng.uniform(0.3, 1.5))
        cx, cy = int(rng.integers(0, W)), int(rng.integers(0, H))
        ri = max(1, int(r))
        x0, y0, x1, y1 = max(0, cx - ri - 1), max(0, cy - ri - 1), min(W, cx + ri + 2), min(H, cy + ri + 2)
        disc = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.circle(disc, (cx - x0, cy - y0), ri, 1.0, -1, lineType=cv2.LINE_AA)
        img[y0:y1, x0:x1] += disc[..., None] * col
    return img.astype(np.float32), {"kind": "bokeh", "lights": n}


def make_background(kind: str, frame: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Dispatch on ``kind`` in :data:`BACKGROUNDS`."""
    if kind == "texture":
        return texture_background(frame, rng)
    if kind == "plain":
        return plain_background(frame, rng)
    if kind == "bokeh":
        return bokeh_background(frame, rng)
    raise InputError(f"background must be one of {', '.join(BACKGROUNDS)}, got {kind!r}")


# ---------------------------------------------------------------------------------------------
# Compositing
# ---------------------------------------------------------------------------------------------
def key_gain(key_kelvin: float) -> np.ndarray:
    """Per-channel linear gain that relights a daylight-flash portrait with a blackbody key of
    ``key_kelvin``: ``bb(K) / bb(STUDIO_KELVIN)``, Rec.709 luminance 1."""
    from lenscore.datasets.synthetic import blackbody_linear_rgb

    g = blackbody_linear_rgb(float(key_kelvin)) / blackbody_linear_rgb(STUDIO_KELVIN)
    return (g / float(g @ REC709)).astype(np.float32)


def compose(person: LondonFace, *, frame: tuple[int, int] = (1024, 1024), face_width_frac: float = 0.12,
            roll_deg: float = 0.0, key_kelvin: float = 5000.0, background: str | np.ndarray = "texture",
            gray: bool = False, seed: int = 0, center_x_frac: float | None = None,
            noise_sigma: float = 0.003, exposure: float | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Place a cut-out person into a new frame (pure: arrays in, arrays out).

    Parameters
    ----------
    person : LondonFace
        From :func:`load_face` (or built by hand from arrays).
    frame : (H, W)
        Output size in px.
    face_width_frac : float
        Face width (ear join to ear join) as a fraction of the frame width (0.04-0.40 tested).
    roll_deg : float
        In-plane rotation of the person about the face centre, degrees, counter-clockwise
        positive as seen (the image's y axis points down).
    key_kelvin : float
        Blackbody colour of the light on the person (see :func:`key_gain`).
    background : {"texture", "plain", "bokeh"} or ndarray
        Kind of background, or an H x W x 3 linear-light array.
    gray : bool
        Return an H x W gray image (Rec.709 luma of the sRGB result).
    seed : int
        Draws background, placement and noise.
    center_x_frac : float, optional
        Horizontal position of the face centre (fraction of W); random in 0.25-0.75 by default.
    noise_sigma : float
        Gaussian sensor noise added in sRGB units.
    exposure : float, optional
        Linear gain on the person; random in 0.7-1.2 by default.

    Returns
    -------
    rgb : ndarray
        float32 sRGB in [0, 1], H x W x 3 (H x W if ``gray``).
    truth : dict
        ``face_box`` (x, y, w, h), ``landmarks`` (189, 2), ``eyes`` (2, 2: image-left then
        image-right pupil), ``nose_tip``, ``mouth_corners``, ``person_mask`` (H x W bool),
        ``face_width_px``, ``roll_deg``, ``key_kelvin``, ``group``, ``face_id``, ``background``.
    """
    H, W = int(frame[0]), int(frame[1])
    if H < 16 or W < 16:
        raise InputError(f"frame must be at least 16 x 16 px, got {frame}")
    if not 0.005 <= face_width_frac <= 1.0:
        raise InputError(f"face_width_frac must be in [0.005, 1], got {face_width_frac}")
    rng = np.random.default_rng(seed)
    pts = np.asarray(person.landmarks, np.float64)
    fx, fy, fw, fh = face_box_from_landmarks(pts)
    gain = key_gain(key_kelvin) * float(exposure if exposure is not None else rng.uniform(0.7, 1.2))
    s = face_width_frac * W / fw                        # source px -> output px
    cxs, cys = fx + fw / 2, fy + fh / 2
    cx = (center_x_frac if center_x_frac is not None else float(rng.uniform(0.25, 0.75))) * W
    cy = H * float(rng.uniform(0.3, 0.45))
    cy = max(cy, 0.5 * fh * s + 2)                      # keep the whole face inside the frame
    # area-filter the source down first (no aliasing), to at most twice the output scale
    pre = min(1.0, 2.0 * s)
    src = srgb_to_linear(person.rgb)
    alpha = person.matte.alpha
    if pre < 1.0:
        src = cv2.resize(src, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
        alpha = cv2.resize(alpha, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA)
    # the body runs out of the bottom of the frame: repeat the shirt's last rows down far enough
    # that neither the cut edge nor a rotated corner shows
    reach = (H - cy + 0.5 * W * abs(math.sin(math.radians(roll_deg)))) / s / max(0.3, math.cos(math.radians(roll_deg)))
    ext = int(max(0.0, (cys + reach) - person.rgb.shape[0]) * pre) + 4
    src = cv2.copyMakeBorder(src, 0, ext, 0, 0, cv2.BORDER_REPLICATE) * gain
    alpha = cv2.copyMakeBorder(alpha, 0, ext, 0, 0, cv2.BORDER_REPLICATE)
    m = cv2.getRotationMatrix2D((cxs, cys), roll_deg, s)       # full-res source -> output
    m[0, 2] += cx - cxs
    m[1, 2] += cy - cys
    mp = cv2.getRotationMatrix2D((cxs * pre, cys * pre), roll_deg, s / pre)
    mp[0, 2] += cx - cxs * pre
    mp[1, 2] += cy - cys * pre
    fg = cv2.warpAffine(src, mp, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a = cv2.warpAffine(alpha, mp, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    a = np.clip(a, 0, 1)
    if isinstance(background, np.ndarray):
        bg = np.asarray(background, np.float32)
        if bg.shape[:2] != (H, W):
            bg = cv2.resize(bg, (W, H), interpolation=cv2.INTER_AREA)
        bg_info: dict[str, Any] = {"kind": "array"}
    else:
        bg, bg_info = make_background(background, (H, W), rng)
    lin = bg * (1 - a[..., None]) + fg * a[..., None]
    out = linear_to_srgb(lin)
    if noise_sigma > 0:
        out = np.clip(out + rng.normal(0, noise_sigma, out.shape).astype(np.float32), 0, 1)
    if gray:
        out = (out @ REC709).astype(np.float32)
    ptsn = np.hstack([pts, np.ones((len(pts), 1))]) @ m.T
    o = ptsn[OUTLINE]
    x0, y0 = o.min(0)
    x1, y1 = o.max(0)
    truth = {
        "face_id": person.face_id,
        "group": person.group,
        "face_box": (float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
        "face_width_px": float(fw * s),
        "landmarks": ptsn,
        "eyes": ptsn[list(PUPILS)],
        "nose_tip": ptsn[NOSE_TIP],
        "mouth_corners": ptsn[list(MOUTH_CORNERS)],
        "person_mask": a >= 0.5,
        "roll_deg": float(roll_deg),
        "key_kelvin": float(key_kelvin),
        "face_width_frac": float(face_width_frac),
        "background": bg_info,
        "gray": bool(gray),
    }
    return out.astype(np.float32), truth


def composite(face_id: str | LondonFace, *, frame: tuple[int, int] = (1024, 1024),
              face_width_frac: float = 0.12, roll_deg: float = 0.0, key_kelvin: float = 5000.0,
              background: str | np.ndarray = "texture", gray: bool = False, seed: int = 0,
              data_dir: str | os.PathLike | None = None, **kw: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """:func:`compose` for a London face given by id (read once and cached by :func:`load_face`)."""
    person = face_id if isinstance(face_id, LondonFace) else load_face(str(face_id), data_dir)
    return compose(person, frame=frame, face_width_frac=face_width_frac, roll_deg=roll_deg,
                   key_kelvin=key_kelvin, background=background, gray=gray, seed=seed, **kw)


def face_free_scenes(frame: tuple[int, int] = (1024, 1024), *, n: int = 60, seed: int = 0):
    """Frames without a person (for the false-face rate): orb fields, defocused and sharp
    textures, plain backdrops. Yields (rgb float32 sRGB, description)."""
    rng = np.random.default_rng(seed)
    kinds = ("bokeh", "texture", "texture_sharp", "plain")
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "texture_sharp":
            lin, info = texture_background(frame, rng, blur_radius=0.0)
        else:
            lin, info = make_background(kind, frame, rng)
        yield linear_to_srgb(lin), info
