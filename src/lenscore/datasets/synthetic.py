"""Physically based ground-truth portraits: a thin-lens, layered renderer with known answers.

Method
------
A scene is three depth layers seen through a thin lens (Potmesil & Chakravarty 1981, "A lens and
aperture camera model for synthetic image generation"; the layered "classical" renderer of
BokehMe, Peng et al. CVPR 2022, without its neural part):

* a sharp **subject** on the focus plane ``s`` (circle of confusion 0): the astronaut portrait
  that ships with scikit-image (``skimage.data.astronaut()``, NASA, public domain), cut out with a
  hand-drawn head-and-shoulders polygon (``_ASTRONAUT_POLYGON``, astronaut pixel coordinates;
  the held helmet is part of the subject), or a procedural head;
* a textured **background** (procedural night street: buildings with lit windows, a crowd of
  heads and bodies; NOT the astronaut photo's own backdrop) at ``background_m``, blurred by the
  aperture kernel of its blur-disc diameter (drawn and blurred at 1/2-1/4 resolution when that
  diameter is >= 24 px, then resized up: the blurred layer holds no detail finer than that);
* **point lights** at their own depths, stamped with the aperture kernel of their own blur
  disc, which is exact for a point source (the image of a point is the scaled aperture).
  ``intensity`` is the orb's peak linear level (max channel); lights are placed at random
  (rejection sampling) with their whole disc inside the frame and outside the subject by more
  than their radius, not overlapping unless ``allow_overlap``; depths drawn uniformly in 1/d
  within ``light_depth_m`` give the "size variation by distance".

Blur-disc (circle of confusion) diameter on the sensor, thin lens focused at ``s``::

    c = f^2 / (N (s - f)) * |d - s| / d          (all in mm)
    c_px = c / sensor_mm * width_px              (36 mm wide full-frame sensor)

Apertures: ``circle``; ``blades5|6|9`` (regular polygon with the SAME AREA as the circle of
diameter c, so an f-number means the same light throughput); ``cats_eye`` (mechanical
vignetting: intersection of the aperture disc with an equal disc displaced along the radial
direction, displacement = ``cats_eye_strength * r/r_corner * R``, so orbs are squeezed radially
and more so toward the corners); ``gaussian`` (the article's "blur, not bokeh" failure mode, a
Gaussian with ``sigma = c / 4``: the Gaussian with the same second moment as the uniform disc of
diameter c, since a disc of radius R has per-axis variance R^2/4).  The background layer of a
cat's-eye scene is blurred with the unvignetted circle (the vignetting is applied to the lights
only, where it is visible).

Light: every source is a blackbody (Planck's law integrated against the CIE 1931 2-degree
observer with colour-science), converted XYZ -> linear sRGB with the same matrix
:mod:`lenscore.imaging` uses (camera white balance = D65, so 6500 K is near neutral and 2700 K is
amber).  The subject's linear albedo is multiplied by the key light's colour (max channel 1, times
``key_intensity``), small specular "sebum" highlights of the key light's colour are added on the
skin, the background texture is lit by ``background_kelvin`` ambient light.  All layers are mixed
in linear light, then encoded with the sRGB OETF (the same curve as
:func:`lenscore.imaging.linear_to_srgb`, computed with ``cv2.pow``; equal within 2e-7).
With ``clip_highlights=False`` values above ``HIGHLIGHT_KNEE`` pass a hue-preserving shoulder
(every channel scaled by the same factor, so chromaticity and CCT survive); with ``True`` channels
clip hard at 1, as a sensor does.

Skin: pore-scale texture is band-pass (difference-of-Gaussians) white noise at a scale of
``face_width / PORES_PER_FACE`` px, drawn on a grid fixed to the face (``PORE_GRID_PER_FACE``
cells per face width) and resampled to the image, multiplicative on the skin albedo with
amplitude ``pore_amplitude`` (the astronaut's own skin texture is low-passed away first, so 0
means plastic skin).  The beauty-filter ladder (``smoothing`` = 0..``MAX_SMOOTHING``) applies, to
the sRGB-encoded skin region (a retouch happens after the photograph), a bilateral filter (Tomasi
& Manduchi 1998) then a Gaussian, both of strength rising with the level (see
:func:`beauty_filter`).  The skin mask of the astronaut is the Chai & Ngan (1999) YCrCb
skin-colour model inside a hand-drawn face outline plus the neck, minus eyes, brows and mouth.

Conventions: pixel (row i, column j) has its centre at (x, y) = (j, i); boxes are (x, y, w, h)
in pixels; every random draw comes from ``seed`` through independent streams (layout,
background, lights, pores, sebum), so changing e.g. ``pore_amplitude`` or ``smoothing`` leaves
the rest of the scene identical.  Everything is laid out in fractions of the frame (subject,
background shapes, pore grid), so one seed at 768 and at 1536 px is the same scene.

Ground truth (``Render.truth``, JSON-serialisable) is documented in :func:`render`.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lenscore.errors import InputError, UsageError
from lenscore.imaging import REC709, SRGB_TO_XYZ, skin_colour_map, srgb_to_linear

RENDERER_VERSION = "1"
APERTURES = ("circle", "blades5", "blades6", "blades9", "cats_eye", "gaussian")
SUBJECTS = ("astronaut", "procedural", "none")
#: Gaussian "blur" aperture: sigma = GAUSSIAN_SIGMA_PER_COC * c (same second moment as the disc).
GAUSSIAN_SIGMA_PER_COC = 0.25
#: pore scale = face width / PORES_PER_FACE (pixels).
PORES_PER_FACE = 120.0
#: highest level of the beauty-filter ladder.
MAX_SMOOTHING = 5
#: linear level above which the hue-preserving highlight shoulder starts (clip_highlights=False).
HIGHLIGHT_KNEE = 0.9
#: the background layer is rendered at 1/f resolution, f = clip(c_bg // this, 1, 4).
BACKGROUND_PX_PER_STEP = 12.0
#: the pore noise is drawn on a grid of this many cells per face width (resolution-free).
PORE_GRID_PER_FACE = 240
#: widest bilateral window of the beauty filter (px); the Gaussian stage carries wider smoothing.
BILATERAL_MAX_DIAMETER = 11

_SRGB_FROM_XYZ = np.linalg.inv(SRGB_TO_XYZ.astype(np.float64))


# ---------------------------------------------------------------------------------------------
# Specs and result
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LightSpec:
    """One explicit point light.

    ``x_frac``, ``y_frac``: centre as a fraction of width / height; ``depth_m``: distance from
    the lens; ``kelvin``: blackbody temperature; ``intensity``: peak linear level of its orb.
    """

    x_frac: float
    y_frac: float
    depth_m: float = 20.0
    kelvin: float = 6500.0
    intensity: float = 0.7


@dataclass(frozen=True)
class SceneSpec:
    """Everything that defines one synthetic portrait (all fields land in the truth as ``spec``).

    Optics: ``focal_mm``, ``f_number``, ``focus_m`` (subject distance), ``background_m``,
    ``sensor_mm`` (width). ``aperture`` is one of :data:`APERTURES`; ``blade_angle`` rotates
    polygonal apertures (radians); ``cats_eye_strength`` is the vignetting in the corners (0..1).
    Light: ``key_kelvin`` lights the subject, ``background_kelvin`` the background ambient and
    (unless ``light_kelvin`` is given) the point lights; ``light_kelvin`` may be a range (lo, hi)
    drawn per light. ``light_intensity`` is the range of the orbs' peak linear level;
    ``ambient`` the background's linear level; ``key_intensity`` scales the key light.
    ``light_depth_m``: range of light depths (None = all at ``background_m``); ``lights``:
    explicit lights (then ``n_lights`` is ignored). ``allow_overlap`` lets orbs overlap.
    Skin: ``pore_amplitude`` (0 = plastic, ~0.05-0.15 visible pores), ``smoothing`` (0..5),
    ``sebum`` (peak linear level of the specular skin highlights).
    """

    width: int = 1024
    height: int = 1024
    focal_mm: float = 85.0
    f_number: float = 1.4
    focus_m: float = 2.5
    background_m: float = 20.0
    sensor_mm: float = 36.0
    aperture: str = "circle"
    key_kelvin: float = 2700.0
    background_kelvin: float = 6500.0
    n_lights: int = 12
    light_depth_m: tuple[float, float] | None = None
    subject: str = "astronaut"
    pore_amplitude: float = 0.0
    smoothing: int = 0
    exposure: float = 1.0
    clip_highlights: bool = False
    seed: int = 0
    # --- additions beyond the interface (all defaulted) ---
    light_kelvin: float | tuple[float, float] | None = None
    light_intensity: tuple[float, float] = (0.45, 0.8)
    lights: tuple[LightSpec, ...] | None = None
    allow_overlap: bool = False
    blade_angle: float = 0.0
    cats_eye_strength: float = 0.6
    ambient: float = 0.2
    key_intensity: float = 1.0
    sebum: float = 0.3


@dataclass
class Render:
    """One rendered scene.

    ``rgb``: float32 H x W x 3 sRGB-encoded in [0, 1]; ``truth``: JSON-serialisable ground truth
    (see :func:`render`); ``subject_mask``: bool H x W (True on the subject);
    ``skin_mask``: bool H x W (True on the subject's skin, where pores and the beauty filter act);
    ``linear``: float32 H x W x 3 linear light before the OETF and before the beauty filter.
    """

    rgb: np.ndarray
    truth: dict
    subject_mask: np.ndarray
    skin_mask: np.ndarray | None = None
    linear: np.ndarray | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------
# Optics
# ---------------------------------------------------------------------------------------------
def coc_diameter_mm(focal_mm: float, f_number: float, focus_m: float, depth_m: float) -> float:
    """Thin-lens circle-of-confusion diameter on the sensor, in mm.

    ``c = f^2 / (N (s - f)) * |d - s| / d`` (e.g. Ray, *Applied Photographic Optics*, 3rd ed.,
    ch. 6), with f the focal length, N the f-number, s the focus distance and d the object
    distance. ``depth_m`` may be ``inf`` (then ``c = f^2 / (N (s - f))``).

    Examples
    --------
    >>> round(coc_diameter_mm(85, 1.4, 2.5, 20.0), 4)
    1.8698
    """
    f, n = float(focal_mm), float(f_number)
    s, d = float(focus_m) * 1000.0, float(depth_m) * 1000.0
    if not (f > 0 and n > 0 and math.isfinite(f) and math.isfinite(n)):
        raise InputError(f"focal length and f-number must be positive, got f={focal_mm} mm, N={f_number}")
    if not s > f:
        raise InputError(f"focus distance must be beyond the focal length: got s={focus_m} m for "
                         f"f={focal_mm} mm; focus farther away")
    if not d > 0:
        raise InputError(f"object distance must be positive, got {depth_m} m")
    k = f * f / (n * (s - f))
    if math.isinf(d):
        return k
    return k * abs(d - s) / d


def coc_diameter_px(focal_mm: float, f_number: float, focus_m: float, depth_m: float, *,
                    sensor_mm: float = 36.0, width_px: int = 1024) -> float:
    """Circle-of-confusion diameter in pixels: ``c_mm / sensor_mm * width_px``."""
    if not sensor_mm > 0 or not width_px > 0:
        raise InputError(f"sensor width and image width must be positive, got {sensor_mm} mm, {width_px} px")
    return coc_diameter_mm(focal_mm, f_number, focus_m, depth_m) / float(sensor_mm) * float(width_px)


def gaussian_sigma_px(diameter_px: float) -> float:
    """Sigma of the ``gaussian`` aperture for a blur disc of ``diameter_px``: c / 4."""
    return GAUSSIAN_SIGMA_PER_COC * float(diameter_px)


def _polygon_circumradius(n: int, radius: float) -> float:
    """Circumradius of the regular n-gon with the area of a disc of ``radius``."""
    return radius * math.sqrt(2.0 * math.pi / (n * math.sin(2.0 * math.pi / n)))


def _aperture_coverage(shape: str, diameter_px: float, angle: float, vignette: float) -> np.ndarray:
    """Unnormalised aperture image: anti-aliased coverage in [0, 1] (Gaussian: peak 1)."""
    d = float(diameter_px)
    r = d / 2.0
    if shape == "gaussian":
        sigma = gaussian_sigma_px(d)
        if sigma < 0.3:
            return np.ones((1, 1), np.float32)
        half = int(math.ceil(3.0 * sigma))
        yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
        return np.exp(-(xx * xx + yy * yy) / (2.0 * sigma * sigma)).astype(np.float32)
    if r < 0.5:
        return np.ones((1, 1), np.float32)
    if shape.startswith("blades"):
        n = int(shape[6:])
        reach = _polygon_circumradius(n, r)
    else:
        reach = r
    half = int(math.ceil(reach + 1.0))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    if shape == "circle":
        sdf = np.sqrt(xx * xx + yy * yy) - r
    elif shape.startswith("blades"):
        n = int(shape[6:])
        apothem = _polygon_circumradius(n, r) * math.cos(math.pi / n)
        sdf = np.full(xx.shape, -np.inf, np.float32)
        for i in range(n):
            th = angle + math.pi / n + 2.0 * math.pi * i / n
            sdf = np.maximum(sdf, xx * math.cos(th) + yy * math.sin(th) - apothem)
    elif shape == "cats_eye":
        off = float(np.clip(vignette, 0.0, 1.0)) * r
        ox, oy = 0.5 * off * math.cos(angle), 0.5 * off * math.sin(angle)
        d1 = np.sqrt((xx - ox) ** 2 + (yy - oy) ** 2) - r
        d2 = np.sqrt((xx + ox) ** 2 + (yy + oy) ** 2) - r
        sdf = np.maximum(d1, d2)
    else:  # pragma: no cover - validated by callers
        raise UsageError(f"unknown aperture {shape!r}")
    return np.clip(0.5 - sdf, 0.0, 1.0).astype(np.float32)


def aperture_kernel(shape: str, diameter_px: float, *, angle: float = 0.0,
                    vignette: float = 0.0) -> np.ndarray:
    """Image of a point through the aperture, normalised to sum 1 (odd square, centred).

    Parameters
    ----------
    shape : str
        ``circle``, ``blades5``, ``blades6``, ``blades9``, ``cats_eye`` or ``gaussian``.
    diameter_px : float
        Blur-disc diameter c in pixels. Polygons have the area of the disc of diameter c;
        ``gaussian`` has ``sigma = c / 4`` and is truncated at 3 sigma.
    angle : float, keyword-only
        Radians. Polygons: rotation of the blades. ``cats_eye``: direction of the image radius
        (from the image centre toward the orb); the orb is squeezed along it.
    vignette : float, keyword-only
        ``cats_eye`` only: 0 = full disc, 1 = the second disc displaced by a full radius.

    Returns
    -------
    float32 array (2k+1) x (2k+1) summing to 1; a blur below half a pixel gives ``[[1.0]]``.
    """
    if shape not in APERTURES:
        raise InputError(f"aperture must be one of {', '.join(APERTURES)}; got {shape!r}")
    if not (diameter_px >= 0 and math.isfinite(diameter_px)):
        raise InputError(f"aperture diameter must be a finite number >= 0 px, got {diameter_px}")
    k = _aperture_coverage(shape, diameter_px, float(angle), float(vignette))
    return (k / k.sum(dtype=np.float64)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Light
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _blackbody_xyz(kelvin_decikelvin: int) -> tuple[float, float, float]:
    import colour  # lazy: ~0.9 s

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]  # 360-830 nm, 1 nm
    sd = colour.sd_blackbody(kelvin_decikelvin / 10.0, cmfs.shape)
    # emissive source: plain integration against the CMFs (equal-energy "illuminant")
    xyz = np.asarray(colour.sd_to_XYZ(sd, cmfs, colour.sd_ones(cmfs.shape), method="Integration"),
                     dtype=np.float64)
    xyz = xyz / xyz[1]
    return float(xyz[0]), float(xyz[1]), float(xyz[2])


def blackbody_xyz(kelvin: float) -> np.ndarray:
    """CIE XYZ (Y = 1) of a Planckian radiator (CIE 1931 2-degree observer, 360-830 nm)."""
    if not (math.isfinite(kelvin) and 500.0 <= kelvin <= 100000.0):
        raise InputError(f"colour temperature must be within 500-100000 K, got {kelvin}")
    return np.array(_blackbody_xyz(int(round(float(kelvin) * 10))), dtype=np.float64)


def blackbody_linear_rgb(kelvin: float, *, normalize: str = "max") -> np.ndarray:
    """Linear sRGB (D65 white, no adaptation) of a blackbody of ``kelvin``.

    Planck's law integrated against the CIE 1931 observer (colour-science ``sd_blackbody`` and
    ``sd_to_XYZ``), then XYZ -> linear sRGB with the inverse of
    :data:`lenscore.imaging.SRGB_TO_XYZ`; negative channels (below ~1900 K, outside the sRGB
    gamut) are clipped to 0.

    Parameters
    ----------
    normalize : {"max", "luminance"}
        ``"max"``: the largest channel is 1 (default); ``"luminance"``: Rec.709 luminance is 1.
    """
    rgb = np.clip(_SRGB_FROM_XYZ @ blackbody_xyz(kelvin), 0.0, None)
    if normalize == "max":
        rgb = rgb / rgb.max()
    elif normalize == "luminance":
        rgb = rgb / float(rgb @ REC709.astype(np.float64))
    else:
        raise InputError(f"normalize must be 'max' or 'luminance', got {normalize!r}")
    return rgb.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Subject: the astronaut, cut out
# ---------------------------------------------------------------------------------------------
#: Head-and-shoulders outline of skimage.data.astronaut() (x, y in its 512x512 pixels), drawn by
#: hand along hair, collar ring, suit and the held helmet; the flag and shuttle are background.
_ASTRONAUT_POLYGON = np.array([
    (230, 15), (212, 18), (197, 26), (188, 35), (177, 42), (163, 52), (156, 62), (154, 75),
    (155, 90), (157, 102), (162, 112), (170, 122), (180, 130), (183, 140), (185, 152),
    (170, 150), (150, 152), (135, 160), (126, 170), (116, 185), (114, 195), (110, 205),
    (97, 215), (85, 225), (72, 237), (62, 250), (50, 270), (35, 300), (25, 340), (20, 400),
    (24, 450), (30, 512), (512, 512), (512, 470), (508, 450), (500, 410), (480, 377),
    (440, 352), (392, 343), (360, 340), (357, 330), (355, 305), (352, 285), (347, 270),
    (340, 255), (327, 245), (312, 240), (304, 235), (301, 220), (295, 205), (285, 192),
    (270, 179), (255, 174), (252, 165), (258, 152), (265, 142), (272, 135), (280, 130),
    (290, 120), (297, 105), (301, 90), (301, 75), (297, 57), (290, 45), (280, 32), (265, 22),
    (247, 16),
], dtype=np.float32)
#: Skin of the astronaut's face (hair fringe, ears excluded), astronaut pixels.
_ASTRONAUT_FACE_SKIN = np.array([
    (190, 92), (200, 84), (215, 80), (240, 79), (260, 82), (272, 90), (275, 105), (272, 120),
    (268, 135), (258, 152), (245, 162), (230, 167), (215, 166), (200, 160), (190, 148),
    (184, 135), (183, 115), (185, 100)], dtype=np.float32)
#: Eyes, brows and mouth (centre x, centre y, semi-axis x, semi-axis y), excluded from the skin.
_ASTRONAUT_FEATURES = ((202, 101, 10, 5), (244, 102, 10, 5), (201, 92, 12, 4), (245, 92, 12, 4),
                       (225, 146, 22, 9))
#: Face box of the astronaut (OpenCV Haar cascade answer (174, 64, 99, 99), extended to the chin).
_ASTRONAUT_FACE = (174.0, 62.0, 99.0, 108.0)
#: Part of the astronaut shown: x0, y0, x1, y1 (the frame is filled by scaling this to the height).
_ASTRONAUT_VIEW = (20.0, 4.0, 492.0, 400.0)


def _skin_ycrcb(rgb_u8: np.ndarray) -> np.ndarray:
    """Skin-colour model of Chai & Ngan (1999): Cr in [133, 173], Cb in [77, 127], Y > 60."""
    return skin_colour_map(rgb_u8, cr=(133, 173), cb=(77, 127), min_y=61)


@functools.lru_cache(maxsize=1)
def _astronaut_layers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(linear albedo with its own skin texture removed, subject coverage, skin coverage), 512 px."""
    from skimage import data

    u8 = data.astronaut()
    lin = srgb_to_linear(u8.astype(np.float32) / 255.0)
    h, w = u8.shape[:2]
    subj = np.zeros((h, w), np.uint8)
    cv2.fillPoly(subj, [np.round(_ASTRONAUT_POLYGON * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    subj = subj.astype(np.float32) / 255.0
    # hair against the light backdrop: drop backdrop-coloured (bright, unsaturated) pixels near
    # the outline of the head
    hsv = cv2.cvtColor(u8, cv2.COLOR_RGB2HSV)
    backdrop = (hsv[..., 1] < 45) & (hsv[..., 2] > 140)
    edge_band = (subj > 0) & (cv2.erode((subj > 0.99).astype(np.uint8), np.ones((9, 9), np.uint8)) == 0)
    edge_band[340:] = False
    edge_band[140:, 370:] = False  # the helmet's white stripe is not backdrop
    subj[edge_band & backdrop] = 0.0
    subj = cv2.GaussianBlur(subj, (0, 0), 0.7)
    # skin: skin-coloured pixels inside the face outline and the neck, minus eyes, brows, mouth
    region = np.zeros((h, w), np.uint8)
    cv2.fillPoly(region, [np.round(_ASTRONAUT_FACE_SKIN).astype(np.int32)], 1)
    cv2.rectangle(region, (188, 160), (255, 190), 1, -1)  # neck above the collar ring
    for cx, cy, ax, ay in _ASTRONAUT_FEATURES:
        cv2.ellipse(region, (cx, cy), (ax, ay), 0, 0, 360, 0, -1)
    skin = (_skin_ycrcb(u8) & (region > 0)).astype(np.uint8)
    skin = cv2.morphologyEx(skin, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    skin = cv2.erode(skin, np.ones((3, 3), np.uint8))
    skin &= cv2.erode((subj > 0.99).astype(np.uint8), np.ones((7, 7), np.uint8))
    skin = cv2.GaussianBlur(skin.astype(np.float32), (0, 0), 1.0)
    # remove the photograph's own fine skin texture so pore_amplitude alone controls it
    smooth = cv2.GaussianBlur(lin, (0, 0), 2.0)
    lin = lin + skin[..., None] * (smooth - lin)
    return lin.astype(np.float32), subj, skin.astype(np.float32)


def _astronaut_subject(h: int, w: int, rng: np.random.Generator):
    lin, subj, skin = _astronaut_layers()
    vx0, vy0, vx1, vy1 = _ASTRONAUT_VIEW
    scale = min(h / (vy1 - vy0), 1.15 * w / (vx1 - vx0))
    jitter = rng.uniform(-0.05, 0.05) * w
    tx = w / 2.0 + jitter - scale * (vx0 + vx1) / 2.0
    ty = h - scale * vy1
    m = np.array([[scale, 0, tx], [0, scale, ty]], np.float32)
    lin_o = cv2.warpAffine(lin, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    subj_o = cv2.warpAffine(subj, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    skin_o = cv2.warpAffine(skin, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    fx, fy, fw, fh = _ASTRONAUT_FACE
    face = (fx * scale + tx, fy * scale + ty, fw * scale, fh * scale)
    # sebum spots (fractions of the face box): forehead, nose bridge, nose tip, cheekbones, chin
    spots = [(0.50, 0.20), (0.53, 0.50), (0.52, 0.66), (0.27, 0.62), (0.77, 0.60), (0.50, 0.93)]
    np.clip(lin_o, 0, 1, out=lin_o)  # cubic overshoot; the masks (linear) stay within [0, 1]
    return lin_o, subj_o, skin_o, face, spots


def _procedural_subject(h: int, w: int, rng: np.random.Generator):
    """A shaded head-and-shoulders: ellipsoid head and neck (Lambert), hair, features, clothes."""
    s = min(h, w)
    cx = w / 2.0 + rng.uniform(-0.05, 0.05) * w
    cy = 0.36 * h
    a, b = 0.13 * s, 0.175 * s  # head semi-axes
    ldir = np.array([-0.45, -0.35, 0.82])
    ldir /= np.linalg.norm(ldir)
    skin_lin = srgb_to_linear((np.array([0.86, 0.66, 0.56]) * rng.uniform(0.75, 1.05)).astype(np.float32))
    cloth = srgb_to_linear(rng.uniform(0.1, 0.5, 3).astype(np.float32))
    hair_col = srgb_to_linear((rng.uniform(0.08, 0.4) * np.array([1.0, 0.78, 0.55])).astype(np.float32))
    alb = np.zeros((h, w, 3), np.float32)
    subj = np.zeros((h, w), np.float32)
    skin = np.zeros((h, w), np.float32)
    F = 16.0  # sub-pixel precision of the drawing (4 bits)

    def ci(x, y):
        return int(round(x * F)), int(round(y * F))

    def layer(box, draw, colour, centre, axes, *, flat=None, skin_part=False, erase_skin=False):
        """Paint one part inside box = (x0, y0, x1, y1): coverage from draw(m, offset)."""
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(w, int(math.ceil(box[2]))), min(h, int(math.ceil(box[3])))
        if x1 <= x0 or y1 <= y0:
            return
        m = np.zeros((y1 - y0, x1 - x0), np.float32)
        draw(m, x0, y0)
        if flat is None:  # Lambert shading of an ellipsoid with this centre and these axes
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            u, v = (xx - centre[0]) / axes[0], (yy - centre[1]) / axes[1]
            nz = np.sqrt(np.clip(1 - u * u - v * v, 0, 1))
            shade = 0.3 + 0.7 * np.clip(u * ldir[0] + v * ldir[1] + nz * ldir[2], 0, 1)
        else:
            shade = np.float32(flat)
        roi = alb[y0:y1, x0:x1]
        roi += m[..., None] * ((shade * np.ones_like(m))[..., None] * colour - roi)
        np.maximum(subj[y0:y1, x0:x1], m, out=subj[y0:y1, x0:x1])
        sk = skin[y0:y1, x0:x1]
        if skin_part:
            np.maximum(sk, m, out=sk)
        elif erase_skin:
            sk *= 1 - m

    def ell(ex, ey, ax, ay, a0=0, a1=360):
        return lambda m, x0, y0: cv2.ellipse(m, ci(ex - x0, ey - y0), ci(ax, ay), 0, a0, a1, 1, -1, cv2.LINE_AA, 4)

    # clothes (shoulders), neck, head, hair, then the features on the face
    sy = cy + 2.3 * b
    layer((cx - 3.1 * a, sy - 1.1 * b, cx + 3.1 * a, h),
          lambda m, x0, y0: (ell(cx, sy, 3.0 * a, 1.05 * b, 180, 360)(m, x0, y0),
                             cv2.rectangle(m, ci(cx - 3.0 * a - x0, sy - y0), ci(cx + 3.0 * a - x0, h - y0), 1, -1, cv2.LINE_8, 4)),
          cloth, (cx, sy), (3.2 * a, 2.2 * b))
    neck_top, neck_bot = cy + 0.5 * b, sy - 1.0 * b
    layer((cx - 0.55 * a, neck_top, cx + 0.55 * a, neck_bot),
          lambda m, x0, y0: cv2.rectangle(m, ci(cx - 0.5 * a - x0, neck_top - y0), ci(cx + 0.5 * a - x0, neck_bot - y0), 1, -1, cv2.LINE_8, 4),
          skin_lin * 0.8, (cx, neck_top), (0.6 * a, 1e6), skin_part=True)
    layer((cx - a - 1, cy - b - 1, cx + a + 2, cy + b + 2), ell(cx, cy, a, b), skin_lin, (cx, cy), (a, b), skin_part=True)
    hy = cy - 0.12 * b

    def hair_draw(m, x0, y0):
        ell(cx, hy, 1.1 * a, 1.02 * b, 180, 360)(m, x0, y0)
        for sx in (-0.93, 0.93):
            ell(cx + sx * a, cy + 0.05 * b, 0.22 * a, 0.45 * b)(m, x0, y0)
        cut = np.zeros_like(m)
        ell(cx, cy - 0.02 * b, 0.78 * a, 0.5 * b, 180, 360)(cut, x0, y0)
        rows = np.arange(m.shape[0])[:, None] + y0 > cy - 0.6 * b
        m -= cut * rows
        np.clip(m, 0, 1, out=m)

    layer((cx - 1.2 * a, hy - 1.1 * b, cx + 1.2 * a, cy + 0.55 * b), hair_draw, hair_col, (cx, cy), (1.1 * a, 1.05 * b),
          erase_skin=True)
    dark = np.float32(0.02)
    for e in (-0.36, 0.36):
        ex = cx + e * a
        layer((ex - 0.3 * a, cy - 0.3 * b, ex + 0.3 * a, cy + 0.05 * b),
              lambda m, x0, y0, ex=ex: (ell(ex, cy - 0.05 * b, 0.16 * a, 0.06 * b)(m, x0, y0),
                                        ell(ex, cy - 0.2 * b, 0.2 * a, 0.035 * b)(m, x0, y0)),
              np.ones(3, np.float32) * dark, None, None, flat=1.0, erase_skin=True)
    layer((cx - 0.35 * a, cy + 0.4 * b, cx + 0.35 * a, cy + 0.6 * b), ell(cx, cy + 0.5 * b, 0.28 * a, 0.055 * b),
          srgb_to_linear(np.array([0.62, 0.28, 0.28], np.float32)), None, None, flat=1.0, erase_skin=True)
    # nose: a soft shadow on the unlit side
    nb = (int(cx - 0.2 * a), int(cy), int(cx + 0.3 * a) + 1, int(cy + 0.45 * b) + 1)
    nose = np.zeros((nb[3] - nb[1], nb[2] - nb[0]), np.float32)
    ell(cx + 0.06 * a, cy + 0.2 * b, 0.07 * a, 0.2 * b)(nose, nb[0], nb[1])
    nose = cv2.GaussianBlur(nose, (0, 0), 0.03 * a + 0.5)
    alb[nb[1]:nb[3], nb[0]:nb[2]] *= (1 - 0.35 * nose)[..., None]
    # skin excludes a margin around eyes, brows and mouth
    skin = cv2.erode(skin, np.ones((5, 5), np.uint8))
    skin[skin < 0.999] = 0.0
    skin = cv2.GaussianBlur(skin, (0, 0), 0.7)
    face = (cx - a, cy - 0.55 * b, 2 * a, 1.55 * b)
    spots = [(0.50, 0.18), (0.52, 0.55), (0.25, 0.62), (0.75, 0.62), (0.5, 0.95)]
    return np.clip(alb, 0, 1), np.clip(subj, 0, 1), np.clip(skin, 0, 1), face, spots


# ---------------------------------------------------------------------------------------------
# Background texture
# ---------------------------------------------------------------------------------------------
def _background_shapes(aspect: float, rng: np.random.Generator) -> list[tuple]:
    """Draw the background's shapes in resolution-free units (x in [0, aspect], y in [0, 1]).

    A procedural night street: buildings with lit-window grids and a crowd of people (heads and
    bodies). Shapes are ``("rect", x0, y0, x1, y1, rgb)`` and ``("ellipse", cx, cy, ax, ay, rgb)``.
    """
    shapes: list[tuple] = []
    x = -rng.uniform(0, 0.1) * aspect
    while x < aspect:
        bw = rng.uniform(0.08, 0.22) * aspect
        top = rng.uniform(0.05, 0.45)
        col = rng.uniform(0.12, 0.45) * rng.uniform(0.8, 1.2, 3)
        shapes.append(("rect", x, top, x + bw, 1.01, col))
        step = rng.uniform(0.018, 0.03)
        ny = int((1.0 - top - step) / step) + 1
        nx = max(0, int((bw - step) / step))
        lit = rng.random((ny, nx)) < 0.45
        lev = rng.uniform(0.45, 0.85, (ny, nx))
        for iy in range(ny):
            for ix in range(nx):
                if lit[iy, ix]:
                    wx, wy, v = x + step * (0.5 + ix), top + step * (1 + iy), float(lev[iy, ix])
                    shapes.append(("rect", wx, wy, wx + 0.5 * step, wy + 0.6 * step,
                                   np.array([v, v * 0.97, v * 0.92])))
        x += bw + rng.uniform(0.0, 0.04) * aspect
    for _ in range(int(round(90 * aspect))):
        px, py = rng.uniform(0, aspect), rng.uniform(0.55, 1.05)
        hr = rng.uniform(0.018, 0.035)
        body = rng.uniform(0.05, 0.6, 3)
        sk = float(rng.uniform(0.35, 0.8))
        shapes.append(("ellipse", px, py + 2.6 * hr, 1.7 * hr, 2.2 * hr, body))
        shapes.append(("ellipse", px, py, hr, hr, np.array([sk, sk * 0.78, sk * 0.65])))
    return shapes


def _background_albedo(h: int, w: int, shapes: list[tuple], mottle: np.ndarray) -> np.ndarray:
    """Rasterise the background shapes at h x w (linear albedo); ``mottle`` is an 8x8x3 gain."""
    sc = float(h)  # one unit = the image height
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.linspace(0.18, 0.32, h, dtype=np.float32)[:, None, None] * np.array([0.9, 0.95, 1.0], np.float32)
    img *= cv2.resize(mottle, (w, h), interpolation=cv2.INTER_LINEAR)
    f = 16.0  # 4 bits of sub-pixel precision
    for kind, a, b, c, d, col in shapes:
        colour_t = tuple(float(v) for v in col)
        if kind == "rect":
            p0 = (int(round(a * sc * f)), int(round(b * sc * f)))
            p1 = (int(round(c * sc * f)), int(round(d * sc * f)))
            cv2.rectangle(img, p0, p1, colour_t, -1, cv2.LINE_8, 4)
        else:
            cv2.ellipse(img, (int(round(a * sc * f)), int(round(b * sc * f))),
                        (max(1, int(round(c * sc * f))), max(1, int(round(d * sc * f)))),
                        0, 0, 360, colour_t, -1, cv2.LINE_8, 4)
    np.clip(img, 0.0, 1.0, out=img)
    return img


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
def _convolve(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    if kernel.size == 1:
        return img.copy()
    # cv2.filter2D switches to a DFT for kernels larger than 11x11 (correlation; kernels are
    # point-symmetric except cats_eye, which is never used on layers)
    return cv2.filter2D(img, cv2.CV_32F, kernel, borderType=cv2.BORDER_REFLECT)


def _stamp(layer: np.ndarray, kernel_peak1: np.ndarray, cx: int, cy: int, color: np.ndarray) -> None:
    k = kernel_peak1.shape[0] // 2
    h, w = layer.shape[:2]
    y0, y1, x0, x1 = cy - k, cy + k + 1, cx - k, cx + k + 1
    ky0, kx0 = max(0, -y0), max(0, -x0)
    ky1 = kernel_peak1.shape[0] - max(0, y1 - h)
    kx1 = kernel_peak1.shape[1] - max(0, x1 - w)
    if ky1 <= ky0 or kx1 <= kx0:
        return
    layer[max(0, y0):min(h, y1), max(0, x0):min(w, x1)] += (
        kernel_peak1[ky0:ky1, kx0:kx1, None] * color[None, None, :])


def _encode_srgb(lin: np.ndarray, *, in_range: bool = False) -> np.ndarray:
    """sRGB OETF, equal to :func:`lenscore.imaging.linear_to_srgb` within 2e-7, ~3x faster.

    ``in_range=True`` skips the clip to [0, 1] when the caller has done it.
    """
    lin = np.asarray(lin, dtype=np.float32)
    if not in_range:
        lin = np.clip(lin, 0.0, 1.0)
    out = cv2.pow(lin, 1.0 / 2.4)
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    low = lin <= 0.0031308
    out[low] = lin[low] * np.float32(12.92)
    return out


def _max3(img: np.ndarray) -> np.ndarray:
    """Per-pixel maximum over the channels (much faster than ``max(axis=2)``)."""
    return np.maximum(np.maximum(img[..., 0], img[..., 1]), img[..., 2])


def _highlight_shoulder(lin: np.ndarray, m: np.ndarray, knee: float = HIGHLIGHT_KNEE) -> None:
    """In place: scale each pixel's three channels by one factor so that its max channel ``m``
    rolls off smoothly (C1 at the knee) toward 1 and never reaches it; hue and CCT are kept."""
    over = m > knee
    if not over.any():
        return
    mo = m[over]
    t = (mo - knee) / (1.0 - knee)
    target = knee + (1.0 - knee) * (1.0 - np.exp(-t))
    lin[over] *= (target / mo)[:, None]


def _box_of(mask: np.ndarray) -> list[int] | None:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return None
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def _apply_pores(alb: np.ndarray, skin: np.ndarray, box: list[int], face_w: float, amplitude: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Multiply the skin albedo (in place) by ``1 + amplitude * n``, n band-pass noise of unit std.

    n is white noise on a grid of ``PORE_GRID_PER_FACE`` cells per face width, band-passed by a
    difference of Gaussians (sigma 1 and 3 cells: the pore scale ``face_w / PORES_PER_FACE``),
    normalised to unit std, clipped at 3 std and resampled to the image (area-averaged when the
    image is coarser, as a camera would), so the texture is the same at every resolution.
    """
    x, y, bw, bh = box
    cells = PORE_GRID_PER_FACE / face_w  # grid cells per image pixel
    gw, gh = max(8, int(math.ceil(bw * cells))), max(8, int(math.ceil(bh * cells)))
    noise = rng.standard_normal((gh, gw), dtype=np.float32)
    band = cv2.GaussianBlur(noise, (0, 0), 1.0) - cv2.GaussianBlur(noise, (0, 0), 3.0)
    band /= float(band.std()) + 1e-12
    np.clip(band, -3.0, 3.0, out=band)
    interp = cv2.INTER_AREA if gw > bw else cv2.INTER_CUBIC
    band = cv2.resize(band, (bw, bh), interpolation=interp)
    roi = alb[y:y + bh, x:x + bw]
    roi *= (1.0 + amplitude * band * skin[y:y + bh, x:x + bw])[..., None]
    np.clip(roi, 0.0, 1.0, out=roi)
    return alb


def beauty_filter(rgb: np.ndarray, skin: np.ndarray, level: int, *, scale_px: float) -> np.ndarray:
    """Beauty-filter ladder on the skin region of an sRGB image (level 0 returns the input).

    Level k applies a bilateral filter (Tomasi & Manduchi 1998; ``sigma_color = 0.04 k``,
    ``sigma_space = 0.8 k scale_px``, window at most ``BILATERAL_MAX_DIAMETER`` px) followed by a Gaussian (``sigma = 0.35 k scale_px``), and
    blends the result in with the soft ``skin`` weight (H x W in [0, 1]). ``scale_px`` is the
    pore scale. Strength rises with k, so high-frequency skin energy falls monotonically.
    """
    if level <= 0:
        return rgb
    ys, xs = np.nonzero(skin > 0.01)
    if xs.size == 0:
        return rgb
    pad = int(math.ceil(3 * max(0.8, 0.35) * level * scale_px)) + 2
    h, w = skin.shape
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    roi = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    ss = max(0.5, 0.8 * level * scale_px)
    diam = int(min(2 * round(1.5 * ss) + 1, BILATERAL_MAX_DIAMETER))
    sm = cv2.bilateralFilter(roi, d=diam, sigmaColor=0.04 * level, sigmaSpace=ss)
    sm = cv2.GaussianBlur(sm, (0, 0), max(0.3, 0.35 * level * scale_px))
    wgt = skin[y0:y1, x0:x1, None]
    out = rgb.copy()
    out[y0:y1, x0:x1] = roi + wgt * (sm - roi)
    return out


def _validate(spec: SceneSpec) -> None:
    if spec.aperture not in APERTURES:
        raise InputError(f"aperture must be one of {', '.join(APERTURES)}; got {spec.aperture!r}")
    if spec.subject not in SUBJECTS:
        raise InputError(f"subject must be one of {', '.join(SUBJECTS)}; got {spec.subject!r}")
    if not (8 <= spec.width <= 16384 and 8 <= spec.height <= 16384):
        raise InputError(f"image size must be 8..16384 px per side, got {spec.width}x{spec.height}")
    if not 0 <= spec.smoothing <= MAX_SMOOTHING:
        raise InputError(f"smoothing must be a level 0..{MAX_SMOOTHING}, got {spec.smoothing}")
    if not 0 <= spec.pore_amplitude <= 1:
        raise InputError(f"pore_amplitude must be within 0..1 (0.05-0.15 looks natural), got {spec.pore_amplitude}")
    if spec.n_lights < 0:
        raise InputError(f"n_lights must be >= 0, got {spec.n_lights}")
    if spec.background_m * 1000 <= spec.focal_mm or spec.focus_m * 1000 <= spec.focal_mm:
        raise InputError("focus and background distances must be beyond the focal length")
    if not spec.exposure > 0:
        raise InputError(f"exposure must be > 0, got {spec.exposure}")


def _kelvin_draw(spec: SceneSpec, rng: np.random.Generator) -> float:
    lk = spec.light_kelvin
    if lk is None:
        return float(spec.background_kelvin)
    if isinstance(lk, (tuple, list)):
        lo, hi = float(lk[0]), float(lk[1])
        return float(1e6 / rng.uniform(1e6 / hi, 1e6 / lo))  # uniform in mired
    return float(lk)


# ---------------------------------------------------------------------------------------------
# Render
# ---------------------------------------------------------------------------------------------
def render(spec: SceneSpec) -> Render:
    """Render one portrait with its ground truth.

    ``truth`` keys:

    - ``renderer_version``, ``spec`` (every SceneSpec field), ``seed``, ``width``, ``height``,
      ``aperture``, ``gaussian_sigma_px`` (background's sigma for ``gaussian``, else null);
    - ``coc_px`` and ``coc_mm``: {``subject`` (0: on the focus plane), ``background``,
      ``lights``: [one per placed light]}; ``kelvin``: {``key``, ``background``, ``lights``};
    - ``lights``: every placed light, a dict with ``x``, ``y`` (centre, px), ``depth_m``,
      ``coc_px``, ``coc_mm``, ``diameter_px``, ``kelvin``, ``intensity`` (peak linear level),
      ``shape``, ``angle`` (rad), ``vignette``, ``major_px``, ``minor_px``, ``sigma_px``
      (gaussian only), ``in_background`` (centre outside the subject mask), ``visible``
      (in the background and at least 1 px wide), ``fully_inside`` (whole disc in the frame);
    - ``orbs``: the lights with ``in_background`` and ``visible`` (what a detector should find);
    - ``n_lights_requested``, ``n_lights_placed`` (fewer when the background has no room);
    - ``subject``, ``subject_box`` [x, y, w, h] (bounding box of ``subject_mask``) or null,
      ``face_box`` [x, y, w, h] (floats; eyebrows-to-chin, cheek to cheek) or null,
      ``face_width_px``, ``skin_box``, ``pore_scale_px``, ``pore_amplitude``, ``smoothing``;
    - ``clipped_fraction`` (pixels with a channel >= 1 in linear light after exposure, before
      the shoulder / clip), ``highlight_mode`` ("shoulder" | "clip").

    Orb ``diameter_px`` is the blur-disc diameter c (the equal-area diameter for polygons; the
    undimmed disc for cats_eye, whose actual extent is ``major_px`` x ``minor_px``).
    """
    _validate(spec)
    h, w = int(spec.height), int(spec.width)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(spec.seed)).spawn(5)]
    rng_layout, rng_bg, rng_lights, rng_pores, rng_sebum = streams

    def cpx(d):
        return coc_diameter_px(spec.focal_mm, spec.f_number, spec.focus_m, d,
                               sensor_mm=spec.sensor_mm, width_px=w)

    def cmm(d):
        return coc_diameter_mm(spec.focal_mm, spec.f_number, spec.focus_m, d)

    c_bg = cpx(spec.background_m)

    # ---- subject layer ------------------------------------------------------------------
    if spec.subject == "astronaut":
        alb_s, alpha, skin, face, spots = _astronaut_subject(h, w, rng_layout)
    elif spec.subject == "procedural":
        alb_s, alpha, skin, face, spots = _procedural_subject(h, w, rng_layout)
    else:
        alb_s = np.zeros((h, w, 3), np.float32)
        alpha = np.zeros((h, w), np.float32)
        skin = np.zeros((h, w), np.float32)
        face, spots = None, []
    skin = skin * (alpha >= 0.98)  # skin (and the beauty filter) stays inside the subject
    subject_mask = alpha >= 0.5
    skin_mask = skin >= 0.5
    face_w = float(face[2]) if face is not None else float("nan")
    pore_px = face_w / PORES_PER_FACE if face is not None else float("nan")

    if face is not None and spec.pore_amplitude > 0:
        box = _box_of(skin > 0)
        if box is not None:
            alb_s = _apply_pores(alb_s, skin, box, face_w, spec.pore_amplitude, rng_pores)
    key_rgb = blackbody_linear_rgb(spec.key_kelvin) * np.float32(spec.key_intensity)
    subj_lin = alb_s
    subj_lin *= key_rgb
    if face is not None and spec.sebum > 0:
        # specular "sebum" highlights: small Gaussian spots of the key light's colour, on skin
        fx, fy, fw, fh = face
        for ux, uy in spots:
            px = fx + (ux + rng_sebum.uniform(-0.03, 0.03)) * fw
            py = fy + (uy + rng_sebum.uniform(-0.03, 0.03)) * fh
            sig = fw * rng_sebum.uniform(0.015, 0.03)
            level = rng_sebum.uniform(0.6, 1.0)
            half = int(3 * sig) + 1
            cxi, cyi = int(round(px)), int(round(py))
            y0, y1 = max(0, cyi - half), min(h, cyi + half + 1)
            x0, x1 = max(0, cxi - half), min(w, cxi + half + 1)
            if y1 <= y0 or x1 <= x0:
                continue
            yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            g = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sig * sig)) * np.float32(spec.sebum * level)
            subj_lin[y0:y1, x0:x1] += (g * skin[y0:y1, x0:x1])[..., None] * key_rgb

    # ---- background layer -----------------------------------------------------------------
    # drawn, lit and blurred at 1/f of the resolution when the blur is wide (the blurred layer
    # is band-limited far below the coarse grid's Nyquist), then resized up
    shapes = _background_shapes(w / h, rng_bg)
    mottle = rng_bg.uniform(0.8, 1.2, (8, 8, 3)).astype(np.float32)
    f = int(max(1, min(4, c_bg // BACKGROUND_PX_PER_STEP)))
    hb, wb = max(8, -(-h // f)), max(8, -(-w // f))
    amb = blackbody_linear_rgb(spec.background_kelvin) * np.float32(spec.ambient)
    bg_lo = _background_albedo(hb, wb, shapes, mottle) * amb
    bg_shape = "circle" if spec.aperture == "cats_eye" else spec.aperture
    bg_lo = _convolve(bg_lo, aperture_kernel(bg_shape, c_bg * hb / h, angle=spec.blade_angle))
    bg = bg_lo if (hb, wb) == (h, w) else cv2.resize(bg_lo, (w, h), interpolation=cv2.INTER_LINEAR)

    # ---- point lights ---------------------------------------------------------------------
    dist = cv2.distanceTransform((~subject_mask).astype(np.uint8), cv2.DIST_L2, 5) \
        if subject_mask.any() else np.full((h, w), np.inf, np.float32)
    r_corner = math.hypot(w / 2.0, h / 2.0)
    requests = []
    if spec.lights is not None:
        for L in spec.lights:
            requests.append((float(L.depth_m), float(L.kelvin), float(L.intensity),
                             (float(L.x_frac) * (w - 1), float(L.y_frac) * (h - 1))))
    else:
        for _ in range(spec.n_lights):
            if spec.light_depth_m is None:
                d = float(spec.background_m)
            else:
                lo, hi = sorted(float(v) for v in spec.light_depth_m)
                d = float(1.0 / rng_lights.uniform(1.0 / hi, 1.0 / lo))  # uniform in 1/d (dioptres)
            requests.append((d, _kelvin_draw(spec, rng_lights),
                             float(rng_lights.uniform(*spec.light_intensity)), None))
    light_layer = bg  # lights add to the background layer (the subject occludes both)
    lights = []
    placed: list[tuple[float, float, float]] = []
    for depth, kelvin, inten, pos in requests:
        c = cpx(depth)
        r = max(c / 2.0, 1.0)
        if pos is None:
            ok = False
            for _ in range(400):
                x = rng_lights.uniform(r, w - 1 - r)
                y = rng_lights.uniform(r, h - 1 - r)
                xi, yi = int(round(x)), int(round(y))
                if dist[yi, xi] <= r + 2:
                    continue
                if not spec.allow_overlap and any(
                        math.hypot(xi - px, yi - py) < r + pr + 2 for px, py, pr in placed):
                    continue
                ok = True
                break
            if not ok:
                continue
        else:
            xi, yi = int(round(pos[0])), int(round(pos[1]))
        angle, vig = 0.0, 0.0
        if spec.aperture == "cats_eye":
            angle = math.atan2(yi - (h - 1) / 2.0, xi - (w - 1) / 2.0)
            vig = float(np.clip(spec.cats_eye_strength, 0, 1)) * math.hypot(
                xi - (w - 1) / 2.0, yi - (h - 1) / 2.0) / r_corner
        elif spec.aperture.startswith("blades"):
            angle = float(spec.blade_angle)
        cov = _aperture_coverage(spec.aperture, c, angle, vig)
        col = blackbody_linear_rgb(kelvin) * np.float32(inten)
        _stamp(light_layer, cov / cov.max(), xi, yi, col)
        placed.append((xi, yi, r))
        if spec.aperture == "cats_eye":
            off = vig * c / 2.0
            major, minor = 2.0 * math.sqrt(max(0.0, (c / 2.0) ** 2 - (off / 2.0) ** 2)), c - off
        else:
            major = minor = c
        in_bg = bool(0 <= xi < w and 0 <= yi < h and not subject_mask[yi, xi])
        inside = bool(xi - c / 2 >= 0 and yi - c / 2 >= 0 and xi + c / 2 <= w - 1 and yi + c / 2 <= h - 1)
        visible = bool(in_bg and c >= 1.0)
        lights.append({
            "x": float(xi), "y": float(yi), "depth_m": depth, "coc_px": c, "coc_mm": cmm(depth),
            "diameter_px": c, "kelvin": kelvin, "intensity": inten, "shape": spec.aperture,
            "angle": angle, "vignette": vig, "major_px": major, "minor_px": minor,
            "sigma_px": gaussian_sigma_px(c) if spec.aperture == "gaussian" else None,
            "in_background": in_bg, "visible": visible, "fully_inside": inside,
        })

    # ---- composite ------------------------------------------------------------------------
    scene = bg
    sbox = _box_of(alpha > 0)
    if sbox is not None:  # scene = B + alpha (S - B), on the subject's box only
        x0, y0, bw, bh = sbox
        roi = scene[y0:y0 + bh, x0:x0 + bw]
        d = subj_lin[y0:y0 + bh, x0:x0 + bw] - roi
        d *= alpha[y0:y0 + bh, x0:x0 + bw, None]
        roi += d
    if spec.exposure != 1.0:
        scene *= np.float32(spec.exposure)
    peak = _max3(scene)
    clipped = float((peak >= 1.0).mean())
    if not spec.clip_highlights:
        _highlight_shoulder(scene, peak)
    np.clip(scene, 0.0, 1.0, out=scene)
    rgb = _encode_srgb(scene, in_range=True)
    if spec.smoothing > 0 and face is not None:
        rgb = np.clip(beauty_filter(rgb, skin, spec.smoothing, scale_px=pore_px), 0, 1).astype(np.float32)

    spec_d = asdict(spec)
    truth = json.loads(json.dumps({
        "renderer_version": RENDERER_VERSION,
        "spec": spec_d,
        "seed": int(spec.seed),
        "width": w, "height": h,
        "aperture": spec.aperture,
        "gaussian_sigma_px": gaussian_sigma_px(c_bg) if spec.aperture == "gaussian" else None,
        "coc_px": {"subject": cpx(spec.focus_m), "background": c_bg,
                   "lights": [L["coc_px"] for L in lights]},
        "coc_mm": {"subject": cmm(spec.focus_m), "background": cmm(spec.background_m),
                   "lights": [L["coc_mm"] for L in lights]},
        "kelvin": {"key": float(spec.key_kelvin), "background": float(spec.background_kelvin),
                   "lights": [L["kelvin"] for L in lights]},
        "lights": lights,
        "orbs": [L for L in lights if L["in_background"] and L["visible"]],
        "n_lights_requested": len(requests), "n_lights_placed": len(lights),
        "subject": spec.subject,
        "subject_box": _box_of(subject_mask),
        "face_box": [float(v) for v in face] if face is not None else None,
        "face_width_px": face_w if face is not None else None,
        "skin_box": _box_of(skin_mask),
        "pore_scale_px": pore_px if face is not None else None,
        "pore_amplitude": float(spec.pore_amplitude),
        "smoothing": int(spec.smoothing),
        "clipped_fraction": clipped,
        "highlight_mode": "clip" if spec.clip_highlights else "shoulder",
    }))
    return Render(rgb=rgb, truth=truth, subject_mask=subject_mask, skin_mask=skin_mask, linear=scene)


# ---------------------------------------------------------------------------------------------
# Demo sets
# ---------------------------------------------------------------------------------------------
def demo_specs(variant: str, n: int, *, size: int = 768, seed0: int = 0) -> list[SceneSpec]:
    """Scene specs of the built-in demo.

    ``optical``: 85 mm f/1.4 focused at 2.5 m, background at 20 m, lights at 6-60 m (size
    variation by distance), circular aperture, key 2700 K against 6500 K background, pores
    (amplitude 0.1), no smoothing. ``blurred``: what the article says a "blurred crowd" prompt
    gets: the crowd at a moderate 5 m ("background figures remain partially readable", so less
    blur than at 20 m), a Gaussian "aperture" (sigma = c/4: blur, not bokeh), all lights at the
    background depth, one neutral 5000 K light for key and background, smoothed skin (level 3,
    no pores).
    Seeds are ``seed0 .. seed0 + n - 1`` (layouts vary with the seed).
    """
    if n < 0:
        raise InputError(f"n must be >= 0, got {n}")
    base = dict(width=int(size), height=int(size), focal_mm=85.0, f_number=1.4, focus_m=2.5,
                background_m=20.0, n_lights=12, subject="astronaut")
    if variant == "optical":
        kw = dict(aperture="circle", key_kelvin=2700.0, background_kelvin=6500.0,
                  light_depth_m=(6.0, 60.0), pore_amplitude=0.1, smoothing=0)
    elif variant == "blurred":
        kw = dict(aperture="gaussian", key_kelvin=5000.0, background_kelvin=5000.0,
                  background_m=5.0, light_depth_m=None, pore_amplitude=0.0, smoothing=3)
    else:
        raise UsageError(f"demo variant must be 'optical' or 'blurred', got {variant!r}")
    return [SceneSpec(**{**base, **kw}, seed=seed0 + i) for i in range(n)]


# ---------------------------------------------------------------------------------------------
# I/O (kept apart from the pure code above)
# ---------------------------------------------------------------------------------------------
def save_render(render: Render, path_png, path_json=None, *, bits: int = 8) -> tuple[Path, Path]:
    """Write ``render.rgb`` as an 8- or 16-bit PNG and the truth as JSON (default: same stem).

    Returns the two paths written.
    """
    png = Path(path_png)
    js = Path(path_json) if path_json is not None else png.with_suffix(".json")
    if bits not in (8, 16):
        raise UsageError(f"bits must be 8 or 16, got {bits}")
    png.parent.mkdir(parents=True, exist_ok=True)
    js.parent.mkdir(parents=True, exist_ok=True)
    mx = 255 if bits == 8 else 65535
    arr = np.round(np.clip(render.rgb, 0, 1) * mx).astype(np.uint8 if bits == 8 else np.uint16)
    if not cv2.imwrite(str(png), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)):
        raise UsageError(f"could not write {png}; check the folder exists and is writable")
    js.write_text(json.dumps(render.truth, indent=1))
    return png, js
