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

Scene spread (all off by default): subjects at 4-40 % face width, off centre, rolled, several
people (sharp or defocused behind); scikit-image textures, plain and gradient walls, a receding
ground plane whose blur grows row by row (blurred copies at geometric levels of c, blended per
row in log c); coloured props; tinted lights (Duv), a fill light, orbs of the key's colour; orbs
behind the subject, across the frame border, overlapping, peaks up to 8x white; anamorphic,
soap-bubble and onion-ring apertures; sensor noise, JPEG, 8/16-bit output. Randomised sweeps of
these are in :mod:`lenscore.datasets.scenes`. A new subject kind plugs in through
:func:`register_subject` (a function returning a :class:`SubjectLayer`).

Ground truth (``Render.truth``, JSON-serialisable) is documented in :func:`render`.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from lenscore import optics
from lenscore.errors import InputError, UsageError
from lenscore.imaging import REC709, SRGB_TO_XYZ, skin_colour_map, srgb_to_linear

RENDERER_VERSION = "2"
APERTURES = ("circle", "blades5", "blades6", "blades9", "cats_eye", "gaussian", "anamorphic",
             "soap_bubble", "onion")
SUBJECTS = ("astronaut", "procedural", "none")
#: background kinds: the procedural night street, scikit-image's textures (they ship inside the
#: package, no download), a plain uniform wall and a wall with a smooth brightness gradient.
BACKGROUNDS = ("street", "brick", "grass", "gravel", "wall", "gradient")
#: natural sRGB albedo of each textured / plain background (``background_rgb`` overrides it).
BACKGROUND_RGB = {"brick": (0.62, 0.36, 0.28), "grass": (0.33, 0.47, 0.20), "gravel": (0.56, 0.54, 0.51),
                  "wall": (0.78, 0.76, 0.72), "gradient": (0.78, 0.76, 0.72)}
#: concentric rings across an ``onion`` disc's radius (the lathe marks of aspherical elements).
ONION_RINGS = 5
#: exponent of the soap-bubble rim profile: level 1 + (rim - 1) (r / R)^p.
BUBBLE_RIM_POWER = 6.0
#: most blur levels of a receding background (depth ramp): one blurred copy per level.
RAMP_MAX_LEVELS = 8
#: blur ratio between consecutive levels of a ramp (the interpolated disc is within ~3 % of c).
RAMP_LEVEL_RATIO = 1.22
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
#: multiplicative albedo contrast per unit of ``pore_amplitude`` (renderer 2): calibrated so that
#: ``pore_amplitude`` 0.1 gives the fine skin texture of the median real, unretouched London Set
#: face (lenscore's skin family, ``skin.texture_vs_real`` ~1), and 0.05-0.15 the real range.
PORE_GAIN = 0.42
#: sigma (px of the 512 px astronaut photograph) of the low-pass that removes the photograph's
#: own skin texture, so that ``pore_amplitude`` 0 is plastic skin (renderer 2: 2.0 left blotches
#: a beauty filter could not remove).
ASTRONAUT_SKIN_BLUR = 6.0
#: widest bilateral window of the beauty filter (px); the Gaussian stage carries wider smoothing.
BILATERAL_MAX_DIAMETER = 11
#: a defocused person (PersonSpec with a depth) is lit by the background light at this share of
#: the key's intensity.
DEFOCUSED_PERSON_LIGHT = 0.5
_LEGACY_APERTURES = ("circle", "blades5", "blades6", "blades9", "cats_eye", "gaussian")

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
    duv: float = 0.0


@dataclass(frozen=True)
class PersonSpec:
    """A further person in the scene (the main subject is set by SceneSpec's own fields).

    ``kind``: a subject of :data:`SUBJECTS` (not ``none``); ``face_width_frac``: face width over the
    frame width; ``x_frac``, ``y_frac``: face centre as fractions of width / height; ``roll_deg``:
    in-plane rotation (positive = clockwise on screen); ``depth_m``: distance (None = on the focus
    plane, sharp; else blurred by its own circle of confusion and lit by the background light);
    ``skin_rgb`` / ``clothes_rgb``: sRGB albedo of the procedural person's skin / clothes.
    A person is composited behind the main subject (and behind nearer persons).
    """

    kind: str = "procedural"
    face_width_frac: float = 0.1
    x_frac: float = 0.25
    y_frac: float = 0.4
    roll_deg: float = 0.0
    depth_m: float | None = None
    skin_rgb: tuple[float, float, float] | None = None
    clothes_rgb: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class PropSpec:
    """A coloured surface that is not a light (a box, a sign, a ball, a jacket-coloured panel).

    ``shape``: ``box`` or ``ellipse``; centre ``x_frac``, ``y_frac`` and size ``w_frac``,
    ``h_frac`` as fractions of width / height; ``angle_deg`` rotates it; ``rgb``: sRGB albedo.
    ``depth_m``: None = painted on the background plane (blurred with it, lit by the background
    ambient); a distance = a layer of its own at that depth (sharp on the focus plane), lit by the
    key (and fill) and composited in front of the background and the lights.
    """

    shape: str = "box"
    x_frac: float = 0.5
    y_frac: float = 0.5
    w_frac: float = 0.2
    h_frac: float = 0.2
    rgb: tuple[float, float, float] = (0.9, 0.45, 0.1)
    angle_deg: float = 0.0
    depth_m: float | None = None


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

    Scene spread (every default is the first renderer's behaviour, bit for bit):

    - subject: ``face_width_frac`` (face width / frame width; None = the first framing, ~25 %),
      ``face_x_frac`` / ``face_y_frac`` (face centre; None = centred with the seed's jitter),
      ``roll_deg`` (in-plane, clockwise on screen, about the face centre), ``skin_rgb`` /
      ``clothes_rgb`` (procedural person's sRGB albedo), ``people`` (further :class:`PersonSpec`).
      Any non-default placement of the procedural subject draws its full figure.
    - background: ``background`` (:data:`BACKGROUNDS`), ``background_rgb`` (sRGB albedo of a
      wall / tint of a texture), ``background_texture_frac`` (one 512 px texture tile's width over
      the frame width, at ``background_m``), ``background_near_m`` (a receding ground plane: 1/depth
      linear from ``background_m`` at the top row to this at the bottom row; blur per row),
      ``props`` (:class:`PropSpec`: coloured surfaces that are not lights).
    - lights: ``light_diameter_frac`` (range of orb diameters over the width; each light's depth is
      solved from the thin lens), ``light_duv`` (tint of the random lights, value or range),
      ``orbs_behind_subject`` / ``orbs_at_border`` (shares of the lights placed across the
      subject's outline / a frame edge), ``max_overlap`` (orbs may overlap by this share of the
      smaller diameter), ``key_light_orbs`` (share of the lights with the key's colour);
      aperture shapes ``anamorphic_aspect`` / ``anamorphic_angle``, ``bubble_rim``,
      ``onion_amplitude``.
    - colour: ``key_duv``, ``background_duv`` (tints, CIE 1960 uv normal to the locus), a fill
      light ``fill_kelvin`` (None = the background's) / ``fill_duv`` / ``fill_intensity`` (0 =
      none) from the side opposite the key (``key_from_left``), ``clip_fraction`` (solve the
      exposure so that this share of the frame clips; overrides ``exposure``).
    - camera: ``noise_sigma`` (std, fraction of white) and ``noise_shot`` (signal-dependent:
      variance ``noise_sigma^2 + noise_shot^2 * v`` at encoded level v), added to the encoded
      image after the beauty filter; ``jpeg_quality`` (encode and decode; bytes in
      ``Render.jpeg``); ``bits`` (8 or 16: quantise the float output).
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
    # --- scene spread (all defaulted to the behaviour above: the defaults render bit-identically)
    # subject scale and pose
    face_width_frac: float | None = None
    face_x_frac: float | None = None
    face_y_frac: float | None = None
    roll_deg: float = 0.0
    skin_rgb: tuple[float, float, float] | None = None
    clothes_rgb: tuple[float, float, float] | None = None
    people: tuple[PersonSpec, ...] = ()
    # background
    background: str = "street"
    background_rgb: tuple[float, float, float] | None = None
    background_texture_frac: float = 0.35
    background_near_m: float | None = None
    props: tuple[PropSpec, ...] = ()
    # lights (bokeh)
    light_diameter_frac: tuple[float, float] | None = None
    light_duv: float | tuple[float, float] | None = None
    orbs_behind_subject: float = 0.0
    orbs_at_border: float = 0.0
    max_overlap: float | None = None
    key_light_orbs: float = 0.0
    anamorphic_aspect: float = 1.6
    anamorphic_angle: float = math.pi / 2
    bubble_rim: float = 2.5
    onion_amplitude: float = 0.3
    # colour
    key_duv: float = 0.0
    background_duv: float = 0.0
    fill_kelvin: float | None = None
    fill_duv: float = 0.0
    fill_intensity: float = 0.0
    key_from_left: bool = True
    clip_fraction: float | None = None
    # camera pipeline
    noise_sigma: float = 0.0
    noise_shot: float = 0.0
    jpeg_quality: int | None = None
    bits: int | None = None


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
    #: float32 H x W: blur-disc diameter (px) of the surface seen at each pixel (0 on the focus
    #: plane; the background's c, or its depth ramp; a defocused person's or prop's own c).
    coc_map: np.ndarray | None = field(default=None, repr=False)
    #: int16 H x W: index into ``truth["illuminants"]`` of the light that contributes most at
    #: each pixel (key / fill on the people and focus-plane props, background ambient or an orb).
    light_map: np.ndarray | None = field(default=None, repr=False)
    #: bool H x W per entry of ``truth["people"]``: where that person is visible (main first).
    person_masks: list | None = field(default=None, repr=False)
    #: the JPEG file's bytes when ``jpeg_quality`` is set (``rgb`` is its decoded image).
    jpeg: bytes | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------------------------
# Optics
# ---------------------------------------------------------------------------------------------
# the thin lens lives in lenscore.optics (one definition; the prompt-physics predictions use it
# too): coc_diameter_mm(f, N, s, d) and coc_diameter_px(..., sensor_mm=, width_px=) on the sensor.
coc_diameter_mm = optics.coc_diameter_mm
coc_diameter_px = optics.coc_diameter_px


def gaussian_sigma_px(diameter_px: float) -> float:
    """Sigma of the ``gaussian`` aperture for a blur disc of ``diameter_px``: c / 4."""
    return GAUSSIAN_SIGMA_PER_COC * float(diameter_px)


def _polygon_circumradius(n: int, radius: float) -> float:
    """Circumradius of the regular n-gon with the area of a disc of ``radius``."""
    return radius * math.sqrt(2.0 * math.pi / (n * math.sin(2.0 * math.pi / n)))


def _aperture_coverage(shape: str, diameter_px: float, angle: float, vignette: float, *,
                       aspect: float = 1.6, rim: float = 2.5, rings: float = 0.3) -> np.ndarray:
    """Unnormalised aperture image: anti-aliased coverage in [0, 1] (Gaussian: peak 1)."""
    d = float(diameter_px)
    r = d / 2.0
    if shape in ("anamorphic", "soap_bubble", "onion"):
        return _aperture_coverage_extra(shape, d, angle, aspect=aspect, rim=rim, rings=rings)
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


def _aperture_coverage_extra(shape: str, d: float, angle: float, *, aspect: float, rim: float,
                             rings: float) -> np.ndarray:
    """Anamorphic oval, soap-bubble disc and onion-ring disc (peak 1, anti-aliased rim).

    ``anamorphic``: an ellipse with the disc's area, axes ``d sqrt(aspect)`` x ``d / sqrt(aspect)``,
    major axis at ``angle`` (radians, image x toward y). ``soap_bubble``: a disc whose level rises
    from ``1 / rim`` at the centre to 1 at the rim (``1 + (rim - 1) (r/R)^BUBBLE_RIM_POWER``,
    spherical over-correction). ``onion``: a disc modulated by ``ONION_RINGS`` concentric rings of
    depth ``rings`` (``1 - rings (1 + cos(2 pi ONION_RINGS r / R)) / 2``).
    """
    r = d / 2.0
    if r < 0.5:
        return np.ones((1, 1), np.float32)
    if shape == "anamorphic":
        q = math.sqrt(max(float(aspect), 1.0))
        a, b = r * q, r / q
        half = int(math.ceil(a + 1.0))
        yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
        ca, sa = math.cos(angle), math.sin(angle)
        u, v = xx * ca + yy * sa, -xx * sa + yy * ca
        rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        grad = np.sqrt((u / (a * a)) ** 2 + (v / (b * b)) ** 2) / np.maximum(rho, 1e-6)
        sdf = (rho - 1.0) / np.maximum(grad, 1e-6)
        return np.clip(0.5 - sdf, 0.0, 1.0).astype(np.float32)
    half = int(math.ceil(r + 1.0))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    rr = np.sqrt(xx * xx + yy * yy)
    cov = np.clip(0.5 - (rr - r), 0.0, 1.0)
    t = np.clip(rr / r, 0.0, 1.0)
    if shape == "soap_bubble":
        rim = max(float(rim), 1.0)
        prof = (1.0 + (rim - 1.0) * t ** BUBBLE_RIM_POWER) / rim
    else:  # onion
        prof = 1.0 - float(np.clip(rings, 0.0, 1.0)) * 0.5 * (1.0 + np.cos(2.0 * math.pi * ONION_RINGS * t))
    k = (cov * prof).astype(np.float32)
    return k / max(float(k.max()), 1e-12)


def aperture_kernel(shape: str, diameter_px: float, *, angle: float = 0.0,
                    vignette: float = 0.0, aspect: float = 1.6, rim: float = 2.5,
                    rings: float = 0.3) -> np.ndarray:
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
    aspect, rim, rings : float, keyword-only
        ``anamorphic``: major / minor axis ratio (``angle`` orients the major axis);
        ``soap_bubble``: rim level over centre level; ``onion``: ring depth (0..1).

    Returns
    -------
    float32 array (2k+1) x (2k+1) summing to 1; a blur below half a pixel gives ``[[1.0]]``.
    """
    if shape not in APERTURES:
        raise InputError(f"aperture must be one of {', '.join(APERTURES)}; got {shape!r}")
    if not (diameter_px >= 0 and math.isfinite(diameter_px)):
        raise InputError(f"aperture diameter must be a finite number >= 0 px, got {diameter_px}")
    k = _aperture_coverage(shape, diameter_px, float(angle), float(vignette), aspect=aspect, rim=rim,
                           rings=rings)
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


def _xyz_to_uv(xyz: np.ndarray) -> tuple[float, float]:
    """CIE 1960 UCS (u, v) of an XYZ triple."""
    X, Y, Z = (float(v) for v in xyz)
    den = X + 15.0 * Y + 3.0 * Z
    return 4.0 * X / den, 6.0 * Y / den


@functools.lru_cache(maxsize=512)
def _tinted_xyz(kelvin_decikelvin: int, duv_micro: int) -> tuple[float, float, float]:
    import colour  # lazy

    t, duv = kelvin_decikelvin / 10.0, duv_micro / 1e6
    u0, v0 = _xyz_to_uv(np.array(_blackbody_xyz(kelvin_decikelvin)))
    # Ohno (2013)'s normal to the Planckian locus at t: the shift between (t, duv) and (t, 0)
    a = np.asarray(colour.temperature.CCT_to_uv_Ohno2013(np.array([t, duv])), np.float64)
    b = np.asarray(colour.temperature.CCT_to_uv_Ohno2013(np.array([t, 0.0])), np.float64)
    u, v = u0 + float(a[0] - b[0]), v0 + float(a[1] - b[1])
    den = 2.0 * u - 8.0 * v + 4.0
    x, y = 3.0 * u / den, 2.0 * v / den
    return x / y, 1.0, (1.0 - x - y) / y


def light_xyz(kelvin: float, duv: float = 0.0) -> np.ndarray:
    """CIE XYZ (Y = 1) of a light of correlated colour temperature ``kelvin`` and tint ``duv``.

    ``duv = 0`` is the blackbody (:func:`blackbody_xyz`). Otherwise the blackbody's chromaticity
    is moved by ``duv`` along the normal to the Planckian locus in CIE 1960 uv (Ohno 2013, "Practical
    use and calculation of CCT and Duv", LEUKOS 10(1); colour-science's
    ``CCT_to_uv_Ohno2013`` gives the direction): positive above the locus (green), negative below
    (magenta / pink). The CCT is unchanged (isotemperature lines are those normals).
    """
    if duv == 0.0:
        return blackbody_xyz(kelvin)
    if not (math.isfinite(duv) and abs(duv) <= 0.05):
        raise InputError(f"Duv must be within +-0.05 (a tint, not a different colour), got {duv}")
    blackbody_xyz(kelvin)  # validates the temperature
    return np.array(_tinted_xyz(int(round(float(kelvin) * 10)), int(round(float(duv) * 1e6))), np.float64)


def light_linear_rgb(kelvin: float, duv: float = 0.0) -> np.ndarray:
    """Linear sRGB (max channel 1) of a light of ``kelvin`` and ``duv``; :func:`blackbody_linear_rgb`
    when ``duv == 0``. Channels below 0 (outside the sRGB gamut) are clipped to 0."""
    if duv == 0.0:
        return blackbody_linear_rgb(kelvin)
    rgb = np.clip(_SRGB_FROM_XYZ @ light_xyz(kelvin, duv), 0.0, None)
    return (rgb / rgb.max()).astype(np.float32)


def light_truth(kelvin: float, duv: float, rgb: np.ndarray) -> dict:
    """Truth entry of one light: nominal Kelvin / Duv, and the xy / uv of the colour rendered
    (``rgb``: its linear sRGB; ``in_gamut`` False when clipping to sRGB moved it by > 1e-4 in uv)."""
    xyz = SRGB_TO_XYZ.astype(np.float64) @ np.asarray(rgb, np.float64)
    u, v = _xyz_to_uv(xyz)
    xn = light_xyz(kelvin, duv)
    un, vn = _xyz_to_uv(xn)
    sxyz = float(xyz.sum())
    return {"kelvin": float(kelvin), "duv": float(duv), "mired": 1e6 / float(kelvin),
            "xy": [float(xyz[0] / sxyz), float(xyz[1] / sxyz)], "uv": [u, v],
            "in_gamut": bool(math.hypot(u - un, v - vn) <= 1e-4),
            "rgb_linear": [float(c) for c in rgb]}


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
    smooth = cv2.GaussianBlur(lin, (0, 0), ASTRONAUT_SKIN_BLUR)
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


#: Hand-placed landmarks of the astronaut (astronaut pixels; "left" = image left).
_ASTRONAUT_LANDMARKS = {"left_eye": (202.0, 101.0), "right_eye": (244.0, 102.0), "nose_tip": (223.0, 125.0),
                        "mouth_left": (205.0, 142.0), "mouth_right": (244.0, 140.0),
                        "mouth_centre": (225.0, 146.0)}
#: astronaut sebum spots (fractions of the face box): forehead, nose bridge, nose tip, cheekbones, chin
_ASTRONAUT_SPOTS = [(0.50, 0.20), (0.53, 0.50), (0.52, 0.66), (0.27, 0.62), (0.77, 0.60), (0.50, 0.93)]
_PROCEDURAL_SPOTS = [(0.50, 0.18), (0.52, 0.55), (0.25, 0.62), (0.75, 0.62), (0.5, 0.95)]


@dataclass(frozen=True)
class Placement:
    """Where a subject goes: face width (px), face centre (px), roll (degrees, clockwise on
    screen), and for the procedural person its skin / clothes sRGB albedo. ``None`` = the first
    renderer's framing (the astronaut scaled to the frame height, the procedural head at 26 % of
    the short side), centred with the seed's jitter."""

    face_width_px: float | None = None
    cx: float | None = None
    cy: float | None = None
    roll_deg: float = 0.0
    skin_rgb: tuple[float, float, float] | None = None
    clothes_rgb: tuple[float, float, float] | None = None

    def is_default(self) -> bool:
        return (self.face_width_px is None and self.cx is None and self.cy is None and self.roll_deg == 0
                and self.skin_rgb is None and self.clothes_rgb is None)


class SubjectLayer(NamedTuple):
    """One person as the renderer composites it (the hook for further subject kinds).

    ``albedo`` H x W x 3 linear in [0, 1] (before any light), ``alpha`` H x W coverage, ``skin``
    H x W skin weight (where pores, sebum and the beauty filter act), ``face`` (x, y, w, h): the
    axis-aligned box of the (possibly rolled) face, ``spots``: sebum spots as fractions of the
    unrolled face box, ``landmarks``: name -> (x, y) px, ``face_frame``: (cx, cy, face_w, face_h,
    roll_deg) of the unrolled face box. A new kind (e.g. ``london``) is a function
    ``(h, w, rng, placement) -> SubjectLayer`` added with :func:`register_subject`.
    """

    albedo: np.ndarray
    alpha: np.ndarray
    skin: np.ndarray
    face: tuple[float, float, float, float] | None
    spots: list
    landmarks: dict | None = None
    face_frame: tuple[float, float, float, float, float] | None = None


def _similarity(scale: float, roll_deg: float, src_c: tuple[float, float], dst_c: tuple[float, float]) -> np.ndarray:
    """2 x 3 affine: scale and rotate (clockwise on screen by roll_deg) src_c onto dst_c."""
    th = math.radians(roll_deg)
    c, s_ = math.cos(th) * scale, math.sin(th) * scale
    a = np.array([[c, -s_], [s_, c]], np.float64)
    t = np.asarray(dst_c, np.float64) - a @ np.asarray(src_c, np.float64)
    return np.hstack([a, t[:, None]])


def _apply_affine(m: np.ndarray, x: float, y: float) -> tuple[float, float]:
    return (float(m[0, 0] * x + m[0, 1] * y + m[0, 2]), float(m[1, 0] * x + m[1, 1] * y + m[1, 2]))


def _face_from_frame(cx: float, cy: float, fw: float, fh: float, roll_deg: float):
    """Axis-aligned box and corner quad of a face box of size fw x fh centred at (cx, cy), rolled."""
    th = math.radians(roll_deg)
    c, s_ = math.cos(th), math.sin(th)
    quad = [(cx + c * dx - s_ * dy, cy + s_ * dx + c * dy)
            for dx, dy in ((-fw / 2, -fh / 2), (fw / 2, -fh / 2), (fw / 2, fh / 2), (-fw / 2, fh / 2))]
    xs, ys = [q[0] for q in quad], [q[1] for q in quad]
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)), quad


@functools.lru_cache(maxsize=1)
def _astronaut_padded() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The astronaut's layers with the suit continued 512 rows below the photograph's bottom edge
    (its last row repeated, so small-face placements show a body, not a cut)."""
    lin, subj, skin = _astronaut_layers()
    pad = 512
    lin_p = np.concatenate([lin, np.repeat(lin[-1:], pad, axis=0)], axis=0)
    subj_p = np.concatenate([subj, np.repeat(subj[-1:], pad, axis=0)], axis=0)
    skin_p = np.concatenate([skin, np.zeros((pad, skin.shape[1]), np.float32)], axis=0)
    return lin_p, subj_p, skin_p


def astronaut_layer(h: int, w: int, rng: np.random.Generator, placement: Placement | None = None) -> SubjectLayer:
    """The astronaut as a :class:`SubjectLayer`; the default placement is the first renderer's."""
    fx, fy, fw, fh = _ASTRONAUT_FACE
    src_c = (fx + fw / 2.0, fy + fh / 2.0)
    if placement is None or placement.is_default():
        lin_o, subj_o, skin_o, face, spots = _astronaut_subject(h, w, rng)
        scale = face[2] / fw
        m = np.array([[scale, 0, face[0] - fx * scale], [0, scale, face[1] - fy * scale]], np.float64)
        lms = {k: _apply_affine(m, *p) for k, p in _ASTRONAUT_LANDMARKS.items()}
        ff = (face[0] + face[2] / 2, face[1] + face[3] / 2, face[2], face[3], 0.0)
        return SubjectLayer(lin_o, subj_o, skin_o, face, spots, lms, ff)
    vx0, vy0, vx1, vy1 = _ASTRONAUT_VIEW
    scale0 = min(h / (vy1 - vy0), 1.15 * w / (vx1 - vx0))
    jitter = rng.uniform(-0.05, 0.05) * w  # the same draw as the default framing
    tx0 = w / 2.0 + jitter - scale0 * (vx0 + vx1) / 2.0
    ty0 = h - scale0 * vy1
    scale = placement.face_width_px / fw if placement.face_width_px else scale0
    cx = placement.cx if placement.cx is not None else src_c[0] * scale0 + tx0
    cy = placement.cy if placement.cy is not None else src_c[1] * scale0 + ty0
    m = _similarity(scale, placement.roll_deg, src_c, (cx, cy))
    lin, subj, skin = _astronaut_padded()
    m32 = m.astype(np.float32)
    lin_o = cv2.warpAffine(lin, m32, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    subj_o = cv2.warpAffine(subj, m32, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    skin_o = cv2.warpAffine(skin, m32, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    face, _ = _face_from_frame(cx, cy, fw * scale, fh * scale, placement.roll_deg)
    lms = {k: _apply_affine(m, *p) for k, p in _ASTRONAUT_LANDMARKS.items()}
    return SubjectLayer(lin_o, np.clip(subj_o, 0, 1), np.clip(skin_o, 0, 1), face, list(_ASTRONAUT_SPOTS), lms,
                        (cx, cy, fw * scale, fh * scale, float(placement.roll_deg)))


def procedural_layer(h: int, w: int, rng: np.random.Generator, placement: Placement | None = None) -> SubjectLayer:
    """The procedural person as a :class:`SubjectLayer`. The default placement is the first
    renderer's head-and-shoulders; any other placement draws the full figure (head, torso, legs)
    at the requested face width and centre, rolled about the face centre."""
    if placement is None or placement.is_default():
        alb, subj, skin, face, spots = _procedural_subject(h, w, rng)
        fx, fy, fw, fh = face
        a = fw / 2.0
        b = fh / 1.55
        cx, cy = fx + a, fy + 0.55 * b
        lms = _procedural_landmarks(cx, cy, a, b)
        return SubjectLayer(alb, subj, skin, face, spots, lms, (fx + fw / 2, fy + fh / 2, fw, fh, 0.0))
    s = min(h, w)
    cx = w / 2.0 + rng.uniform(-0.05, 0.05) * w
    cy = 0.36 * h
    a, b = 0.13 * s, 0.175 * s
    skin_lin = srgb_to_linear((np.array([0.86, 0.66, 0.56]) * rng.uniform(0.75, 1.05)).astype(np.float32))
    cloth = srgb_to_linear(rng.uniform(0.1, 0.5, 3).astype(np.float32))
    hair_col = srgb_to_linear((rng.uniform(0.08, 0.4) * np.array([1.0, 0.78, 0.55])).astype(np.float32))
    if placement.skin_rgb is not None:
        skin_lin = srgb_to_linear(np.asarray(placement.skin_rgb, np.float32))
    if placement.clothes_rgb is not None:
        cloth = srgb_to_linear(np.asarray(placement.clothes_rgb, np.float32))
    if placement.face_width_px:
        a = placement.face_width_px / 2.0
        b = a * 0.175 / 0.13
    # the face box is (cx - a, cy - 0.55 b, 2a, 1.55 b): its centre is (cx, cy + 0.225 b)
    fcx = placement.cx if placement.cx is not None else cx
    fcy = placement.cy if placement.cy is not None else cy + 0.225 * b
    roll = float(placement.roll_deg)
    if roll == 0.0:
        alb, subj, skin, _, spots = _procedural_draw(h, w, fcx, fcy - 0.225 * b, a, b, skin_lin, cloth, hair_col,
                                                     full_figure=True)
    else:
        # draw upright on a canvas holding the frame's footprint rotated back, then rotate
        inv = _similarity(1.0, -roll, (fcx, fcy), (fcx, fcy))
        corners = [_apply_affine(inv, x, y) for x, y in ((0, 0), (w, 0), (w, h), (0, h))]
        ox = math.floor(min(c[0] for c in corners)) - 2
        oy = math.floor(min(c[1] for c in corners)) - 2
        cw = math.ceil(max(c[0] for c in corners)) + 2 - ox
        ch = math.ceil(max(c[1] for c in corners)) + 2 - oy
        alb_c, subj_c, skin_c, _, spots = _procedural_draw(ch, cw, fcx - ox, fcy - 0.225 * b - oy, a, b, skin_lin,
                                                           cloth, hair_col, full_figure=True)
        m = _similarity(1.0, roll, (fcx - ox, fcy - oy), (fcx, fcy)).astype(np.float32)
        alb = cv2.warpAffine(alb_c, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
        subj = np.clip(cv2.warpAffine(subj_c, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0), 0, 1)
        skin = np.clip(cv2.warpAffine(skin_c, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0), 0, 1)
    face, _ = _face_from_frame(fcx, fcy, 2 * a, 1.55 * b, roll)
    rot = _similarity(1.0, roll, (fcx, fcy), (fcx, fcy))
    lms = {k: _apply_affine(rot, *p) for k, p in _procedural_landmarks(fcx, fcy - 0.225 * b, a, b).items()}
    return SubjectLayer(alb, subj, skin, face, spots, lms, (fcx, fcy, 2 * a, 1.55 * b, roll))


def _procedural_landmarks(cx: float, cy: float, a: float, b: float) -> dict:
    """Landmarks of the procedural head of semi-axes a, b centred at (cx, cy) (unrolled)."""
    return {"left_eye": (cx - 0.36 * a, cy - 0.05 * b), "right_eye": (cx + 0.36 * a, cy - 0.05 * b),
            "nose_tip": (cx + 0.06 * a, cy + 0.38 * b), "mouth_left": (cx - 0.28 * a, cy + 0.5 * b),
            "mouth_right": (cx + 0.28 * a, cy + 0.5 * b), "mouth_centre": (cx, cy + 0.5 * b)}


#: subject kind -> function (h, w, rng, placement) -> SubjectLayer
SUBJECT_LAYERS: dict = {"astronaut": astronaut_layer, "procedural": procedural_layer}


def register_subject(name: str, fn) -> None:
    """Add a subject kind (e.g. ``london`` from lenscore.datasets.london): ``fn(h, w, rng,
    placement) -> SubjectLayer``; ``SceneSpec(subject=name)`` then renders it."""
    global SUBJECTS
    SUBJECT_LAYERS[name] = fn
    if name not in SUBJECTS:
        SUBJECTS = SUBJECTS + (name,)


def _procedural_subject(h: int, w: int, rng: np.random.Generator):
    """A shaded head-and-shoulders: ellipsoid head and neck (Lambert), hair, features, clothes."""
    s = min(h, w)
    cx = w / 2.0 + rng.uniform(-0.05, 0.05) * w
    cy = 0.36 * h
    a, b = 0.13 * s, 0.175 * s  # head semi-axes
    skin_lin = srgb_to_linear((np.array([0.86, 0.66, 0.56]) * rng.uniform(0.75, 1.05)).astype(np.float32))
    cloth = srgb_to_linear(rng.uniform(0.1, 0.5, 3).astype(np.float32))
    hair_col = srgb_to_linear((rng.uniform(0.08, 0.4) * np.array([1.0, 0.78, 0.55])).astype(np.float32))
    return _procedural_draw(h, w, cx, cy, a, b, skin_lin, cloth, hair_col, full_figure=False)


def _procedural_draw(h: int, w: int, cx: float, cy: float, a: float, b: float, skin_lin, cloth, hair_col,
                     *, full_figure: bool):
    """Draw the procedural person on an h x w canvas: head semi-axes a, b centred at (cx, cy).

    ``full_figure=False`` is the head-and-shoulders of the first renderer (clothes down to the
    canvas's bottom); ``True`` adds a torso narrowing to the hips and legs down to the feet
    (about 7.5 head heights), for medium and long shots.
    """
    ldir = np.array([-0.45, -0.35, 0.82])
    ldir /= np.linalg.norm(ldir)
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
    if not full_figure:
        layer((cx - 3.1 * a, sy - 1.1 * b, cx + 3.1 * a, h),
              lambda m, x0, y0: (ell(cx, sy, 3.0 * a, 1.05 * b, 180, 360)(m, x0, y0),
                                 cv2.rectangle(m, ci(cx - 3.0 * a - x0, sy - y0), ci(cx + 3.0 * a - x0, h - y0), 1, -1, cv2.LINE_8, 4)),
              cloth, (cx, sy), (3.2 * a, 2.2 * b))
    else:
        hip, feet = cy + 7.6 * b, cy + 14.6 * b
        trousers = (cloth * 0.55).astype(np.float32)
        for sx in (-1, 1):  # legs first (the torso overlaps their tops)
            lx0, lx1 = cx + sx * 0.15 * a, cx + sx * 1.75 * a
            lx0, lx1 = min(lx0, lx1), max(lx0, lx1)
            layer((lx0 - 1, hip - b, lx1 + 1, feet + 1),
                  lambda m, x0, y0, lx0=lx0, lx1=lx1: cv2.rectangle(
                      m, ci(lx0 - x0, hip - b - y0), ci(lx1 - x0, feet - y0), 1, -1, cv2.LINE_AA, 4),
                  trousers, ((lx0 + lx1) / 2, (hip + feet) / 2), (1.2 * a, 8 * b))

        def torso(m, x0, y0):
            ell(cx, sy, 3.0 * a, 1.05 * b, 180, 360)(m, x0, y0)
            pts = np.array([ci(cx - 3.0 * a - x0, sy - y0), ci(cx + 3.0 * a - x0, sy - y0),
                            ci(cx + 2.0 * a - x0, hip - y0), ci(cx - 2.0 * a - x0, hip - y0)], np.int32)
            cv2.fillPoly(m, [pts], 1, cv2.LINE_AA, 4)

        layer((cx - 3.1 * a, sy - 1.1 * b, cx + 3.1 * a, hip + 1), torso, cloth, (cx, sy + 2 * b), (3.4 * a, 6.0 * b))
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
    if nb[0] >= 0 and nb[1] >= 0 and nb[2] <= w and nb[3] <= h:
        alb[nb[1]:nb[3], nb[0]:nb[2]] *= (1 - 0.35 * nose)[..., None]
    else:  # the face is cut by the canvas edge
        qx0, qy0, qx1, qy1 = max(0, nb[0]), max(0, nb[1]), min(w, nb[2]), min(h, nb[3])
        if qx1 > qx0 and qy1 > qy0:
            alb[qy0:qy1, qx0:qx1] *= (1 - 0.35 * nose[qy0 - nb[1]:qy1 - nb[1], qx0 - nb[0]:qx1 - nb[0]])[..., None]
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


@functools.lru_cache(maxsize=8)
def _texture(kind: str) -> np.ndarray:
    """scikit-image's ``brick`` / ``grass`` / ``gravel`` (512 x 512 photographs that ship inside the
    package) as linear reflectance normalised to mean 1."""
    from skimage import data

    u8 = getattr(data, kind)()
    lin = srgb_to_linear(u8.astype(np.float32) / 255.0)
    return (lin / float(lin.mean())).astype(np.float32)


def _rgb_lin(rgb) -> np.ndarray:
    return srgb_to_linear(np.clip(np.asarray(rgb, np.float32), 0.0, 1.0))


def _draw_prop(mask_shape: tuple[int, int], prop: "PropSpec", sx: float, sy: float) -> np.ndarray:
    """Anti-aliased coverage (h x w float32) of a prop; ``sx``, ``sy``: px per unit fraction."""
    hh, ww = mask_shape
    m = np.zeros((hh, ww), np.float32)
    F = 16.0
    cx, cy = prop.x_frac * sx, prop.y_frac * sy
    hw, hh_ = prop.w_frac * sx / 2.0, prop.h_frac * sy / 2.0
    if prop.shape == "ellipse":
        cv2.ellipse(m, (int(round(cx * F)), int(round(cy * F))),
                    (max(1, int(round(hw * F))), max(1, int(round(hh_ * F)))), float(prop.angle_deg), 0, 360,
                    1.0, -1, cv2.LINE_AA, 4)
    else:
        th = math.radians(prop.angle_deg)
        c, s_ = math.cos(th), math.sin(th)
        pts = [(cx + c * dx - s_ * dy, cy + s_ * dx + c * dy)
               for dx, dy in ((-hw, -hh_), (hw, -hh_), (hw, hh_), (-hw, hh_))]
        cv2.fillPoly(m, [np.round(np.array(pts) * F).astype(np.int32)], 1.0, cv2.LINE_AA, 4)
    return m


def _plane_albedo(spec: "SceneSpec", hb: int, wb: int, fct: float, rng: np.random.Generator,
                  ramp: tuple[float, float] | None, f_px: float) -> np.ndarray:
    """Albedo of a non-street background plane at hb x wb (fct full-resolution px per px).

    Textures are tiled by mirroring (``background_texture_frac`` of the frame width per 512 px
    tile at ``background_m``); on a depth ramp they lie on a receding ground plane (homography:
    texture scale and row spacing both follow 1/depth). Walls are uniform (``wall``) or a smooth
    linear brightness gradient from 45 % to 100 % in a random direction (``gradient``).
    """
    kind = spec.background
    tint = _rgb_lin(spec.background_rgb if spec.background_rgb is not None else BACKGROUND_RGB[kind])
    if kind in ("brick", "grass", "gravel"):
        tex = _texture(kind)
        w_full = wb * fct
        tile_px = max(4.0, float(spec.background_texture_frac) * w_full)
        ox, oy = rng.uniform(0, 1024), rng.uniform(0, 1024)
        if ramp is None:
            k = 512.0 / tile_px * fct
            m = np.array([[k, 0, ox], [0, k, oy]], np.float32)
            g = cv2.warpAffine(tex, m, (wb, hb), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT_101)
        else:
            near, far = ramp
            h_full = hb * fct
            a_ = 1.0 / far
            b_ = (1.0 / near - 1.0 / far) / max(h_full - 1.0, 1.0)
            tpm = 512.0 * f_px / (tile_px * far)  # texture px per metre on the ground
            cx = (w_full - 1) / 2.0
            # inverse map, (x, y, 1) -> texture: lateral u = tpm (x - cx) z / f, depth v = tpm z,
            # with z = 1 / (a + b y) (a level ground plane: 1/depth is linear in the row)
            hm = np.array([[tpm / f_px, ox * b_, -tpm * cx / f_px + ox * a_],
                           [0.0, oy * b_, tpm + oy * a_],
                           [0.0, b_, a_]], np.float64)
            hm = hm @ np.diag([fct, fct, 1.0])
            g = cv2.warpPerspective(tex, hm, (wb, hb), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REFLECT_101)
        alb = g[..., None] * tint[None, None, :]
    elif kind == "gradient":
        th = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:hb, 0:wb].astype(np.float32)
        t = (xx - wb / 2.0) * math.cos(th) + (yy - hb / 2.0) * math.sin(th)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        alb = (0.45 + 0.55 * t)[..., None] * tint[None, None, :]
    else:  # wall
        alb = np.empty((hb, wb, 3), np.float32)
        alb[:] = tint
    alb = np.ascontiguousarray(alb, dtype=np.float32)
    _paint_background_props(alb, spec)
    np.clip(alb, 0.0, 1.0, out=alb)
    return alb


def _paint_background_props(alb: np.ndarray, spec: "SceneSpec") -> None:
    """Props with ``depth_m=None`` painted on the background plane (in place)."""
    hb, wb = alb.shape[:2]
    for prop in spec.props:
        if prop.depth_m is None:
            m = _draw_prop((hb, wb), prop, wb, hb)
            alb += m[..., None] * (_rgb_lin(prop.rgb)[None, None, :] - alb)


def _blur_plane(lit: np.ndarray, c_full: float, shape: str, kw: dict, h: int, w: int) -> np.ndarray:
    """Blur a lit full-resolution plane by a disc of c_full px (at reduced resolution when wide)."""
    f = int(max(1, min(4, c_full // BACKGROUND_PX_PER_STEP)))
    if f > 1:
        hb, wb = max(8, -(-h // f)), max(8, -(-w // f))
        lo = cv2.resize(lit, (wb, hb), interpolation=cv2.INTER_AREA)
        lo = _convolve(lo, aperture_kernel(shape, c_full * hb / h, **kw))
        return cv2.resize(lo, (w, h), interpolation=cv2.INTER_LINEAR)
    return _convolve(lit, aperture_kernel(shape, c_full, **kw))


def _ramp_blur(lit: np.ndarray, coc_rows: np.ndarray, shape: str, kw: dict) -> np.ndarray:
    """Depth-varying blur of a receding plane: blurred copies at geometric levels of c, blended
    per row by linear interpolation in log c (coc_rows: c of every row, full resolution)."""
    h, w = lit.shape[:2]
    lo_c = max(0.5, float(coc_rows.min()))
    hi_c = max(lo_c, float(coc_rows.max()))
    n = 1 if hi_c <= lo_c * 1.01 else min(RAMP_MAX_LEVELS, int(math.ceil(math.log(hi_c / lo_c) / math.log(RAMP_LEVEL_RATIO))) + 1)
    n = max(n, 1)
    levels = [lo_c * (hi_c / lo_c) ** (k / max(n - 1, 1)) for k in range(n)]
    if n == 1:
        return _blur_plane(lit, levels[0], shape, kw, h, w)
    lc = np.log(np.clip(coc_rows, lo_c, hi_c)) - math.log(lo_c)
    pos = lc / (math.log(hi_c / lo_c) / (n - 1))
    k0 = np.clip(np.floor(pos).astype(int), 0, n - 2)
    t = (pos - k0).astype(np.float32)
    out = np.zeros_like(lit)
    for k in range(n):
        rows = np.flatnonzero((k0 == k) | (k0 + 1 == k))
        if rows.size == 0:
            continue
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        pad = int(math.ceil(levels[k])) + 2
        ya, yb = max(0, y0 - pad), min(h, y1 + pad)
        blurred = _blur_plane(np.ascontiguousarray(lit[ya:yb]), levels[k], shape, kw, yb - ya, w)[y0 - ya:y1 - ya]
        wk = np.where(k0[y0:y1] == k, 1.0 - t[y0:y1], np.where(k0[y0:y1] + 1 == k, t[y0:y1], 0.0)).astype(np.float32)
        out[y0:y1] += blurred * wk[:, None, None]
    return out


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
    roi *= (1.0 + PORE_GAIN * amplitude * band * skin[y:y + bh, x:x + bw])[..., None]
    np.clip(roi, 0.0, 1.0, out=roi)
    return alb


def beauty_filter(rgb: np.ndarray, skin: np.ndarray, level: int, *, scale_px: float) -> np.ndarray:
    """Beauty-filter ladder on the skin region of an sRGB image (level 0 returns the input).

    Level k applies a bilateral filter (Tomasi & Manduchi 1998; ``sigma_color = 0.04 k``,
    ``sigma_space = 0.8 k scale_px``, window at most ``BILATERAL_MAX_DIAMETER`` px) followed by a
    Gaussian (``sigma = 0.35 k scale_px``) over the skin only (normalised convolution by the skin
    weight), and
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
    wgt = skin[y0:y1, x0:x1, None]
    # the Gaussian stage averages skin with skin only (normalised convolution): eyes, brows and
    # hair do not bleed into the skin as halos (renderer 2; they made high levels rougher)
    sg = max(0.3, 0.35 * level * scale_px)
    num = cv2.GaussianBlur(np.ascontiguousarray(sm * wgt), (0, 0), sg)
    den = cv2.GaussianBlur(np.ascontiguousarray(wgt[..., 0]), (0, 0), sg)[..., None]
    sm = np.where(den > 1e-3, num / np.maximum(den, 1e-3), sm).astype(rgb.dtype)
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
    if spec.background not in BACKGROUNDS:
        raise InputError(f"background must be one of {', '.join(BACKGROUNDS)}; got {spec.background!r}")
    if spec.face_width_frac is not None and not 0.01 <= spec.face_width_frac <= 1.0:
        raise InputError(f"face_width_frac must be within 0.01..1 of the frame width, got {spec.face_width_frac}")
    if not abs(spec.roll_deg) <= 90:
        raise InputError(f"roll_deg must be within +-90 degrees, got {spec.roll_deg}")
    for p in spec.people:
        if p.kind not in SUBJECT_LAYERS:
            raise InputError(f"a person's kind must be one of {', '.join(SUBJECT_LAYERS)}; got {p.kind!r}")
        if p.depth_m is not None and not p.depth_m * 1000 > spec.focal_mm:
            raise InputError(f"a person's depth must be beyond the focal length, got {p.depth_m} m")
    for p in spec.props:
        if p.shape not in ("box", "ellipse"):
            raise InputError(f"a prop's shape must be 'box' or 'ellipse', got {p.shape!r}")
        if p.depth_m is not None and not p.depth_m * 1000 > spec.focal_mm:
            raise InputError(f"a prop's depth must be beyond the focal length, got {p.depth_m} m")
    if spec.background_near_m is not None and not (spec.focal_mm < spec.background_near_m * 1000
                                                   and spec.background_near_m < spec.background_m):
        raise InputError(f"background_near_m must lie between the focal length and background_m "
                         f"({spec.background_m} m), got {spec.background_near_m}")
    if spec.light_diameter_frac is not None and not all(0 < v <= 0.5 for v in spec.light_diameter_frac):
        raise InputError(f"light_diameter_frac must be within (0, 0.5] of the frame width, got {spec.light_diameter_frac}")
    for name in ("orbs_behind_subject", "orbs_at_border", "key_light_orbs"):
        if not 0.0 <= getattr(spec, name) <= 1.0:
            raise InputError(f"{name} is a share of the lights, 0..1; got {getattr(spec, name)}")
    if spec.orbs_behind_subject + spec.orbs_at_border > 1.0:
        raise InputError("orbs_behind_subject + orbs_at_border must not exceed 1")
    if spec.max_overlap is not None and not 0.0 <= spec.max_overlap <= 1.0:
        raise InputError(f"max_overlap is a share of the smaller diameter, 0..1; got {spec.max_overlap}")
    if spec.clip_fraction is not None and not 0.0 <= spec.clip_fraction <= 0.9:
        raise InputError(f"clip_fraction must be within 0..0.9, got {spec.clip_fraction}")
    if spec.noise_sigma < 0 or spec.noise_shot < 0:
        raise InputError(f"noise must be >= 0, got sigma={spec.noise_sigma}, shot={spec.noise_shot}")
    if spec.jpeg_quality is not None and not 1 <= int(spec.jpeg_quality) <= 100:
        raise InputError(f"jpeg_quality must be 1..100, got {spec.jpeg_quality}")
    if spec.bits not in (None, 8, 16):
        raise InputError(f"bits must be None (float), 8 or 16, got {spec.bits}")
    if spec.fill_intensity < 0:
        raise InputError(f"fill_intensity must be >= 0, got {spec.fill_intensity}")
    if spec.anamorphic_aspect < 1.0:
        raise InputError(f"anamorphic_aspect is major over minor axis, >= 1; got {spec.anamorphic_aspect}")


def _kernel_kw(spec: SceneSpec) -> dict:
    """Aperture-kernel options of a spec for layers (background, defocused people and props)."""
    angle = float(spec.anamorphic_angle) if spec.aperture == "anamorphic" else float(spec.blade_angle)
    return dict(angle=angle, aspect=float(spec.anamorphic_aspect), rim=float(spec.bubble_rim),
                rings=float(spec.onion_amplitude))


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
def _bright_glow(diameter_px: float, peak: float) -> np.ndarray:
    """Gaussian glow (sigma = c/4, peak 1) of a light brighter than white: the 3-sigma square
    support of :func:`aperture_kernel` would leave a visible square step at peak x exp(-4.5), so
    the support is a disc reaching the radius where the glow falls to 1e-3 of white."""
    sigma = gaussian_sigma_px(diameter_px)
    if sigma < 0.3:
        return np.ones((1, 1), np.float32)
    reach = sigma * math.sqrt(2.0 * math.log(max(float(peak), 1.0) / 1e-3))
    half = int(math.ceil(reach))
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1].astype(np.float32)
    rr2 = xx * xx + yy * yy
    g = np.exp(-rr2 / (2.0 * sigma * sigma))
    g[rr2 > reach * reach] = 0.0
    return g.astype(np.float32)


def _duv_draw(value, rng: np.random.Generator) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (tuple, list)):
        return float(rng.uniform(float(value[0]), float(value[1])))
    return float(value)


def _add_sebum(lin: np.ndarray, skin: np.ndarray, layer: SubjectLayer, rng: np.random.Generator, level0: float,
               colour: np.ndarray) -> None:
    """Specular "sebum" highlights: small Gaussian spots of the light's colour, on skin (in place)."""
    h, w = skin.shape
    fx, fy, fw, fh = layer.face
    roll = layer.face_frame[4] if layer.face_frame is not None else 0.0
    if roll != 0.0:
        fcx, fcy, fw, fh, _ = layer.face_frame
        th = math.radians(roll)
        ct, st = math.cos(th), math.sin(th)
    for ux, uy in layer.spots:
        if roll == 0.0:
            px = fx + (ux + rng.uniform(-0.03, 0.03)) * fw
            py = fy + (uy + rng.uniform(-0.03, 0.03)) * fh
        else:
            dx = (ux + rng.uniform(-0.03, 0.03) - 0.5) * fw
            dy = (uy + rng.uniform(-0.03, 0.03) - 0.5) * fh
            px, py = fcx + ct * dx - st * dy, fcy + st * dx + ct * dy
        sig = fw * rng.uniform(0.015, 0.03)
        level = rng.uniform(0.6, 1.0)
        half = int(3 * sig) + 1
        cxi, cyi = int(round(px)), int(round(py))
        y0, y1 = max(0, cyi - half), min(h, cyi + half + 1)
        x0, x1 = max(0, cxi - half), min(w, cxi + half + 1)
        if y1 <= y0 or x1 <= x0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        g = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sig * sig)) * np.float32(level0 * level)
        lin[y0:y1, x0:x1] += (g * skin[y0:y1, x0:x1])[..., None] * colour


def _key_fill_weights(h: int, w: int, frame, key_from_left: bool) -> tuple[np.ndarray, np.ndarray]:
    """Key and fill weights across a person (x relative to the face centre, in face widths): the
    key falls from 1 on its side to 0.35 on the far side, the fill rises from 0.15 to 1."""
    fcx, fw = frame[0], max(frame[2], 1.0)
    x = (np.arange(w, dtype=np.float32) - np.float32(fcx)) / np.float32(fw)
    if not key_from_left:
        x = -x
    sgm = 1.0 / (1.0 + np.exp(-3.0 * x))  # 0 on the key side, 1 on the fill side
    wk = (1.0 - 0.65 * sgm).astype(np.float32)
    wf = (0.15 + 0.85 * sgm).astype(np.float32)
    return np.broadcast_to(wk[None, :], (h, w)), np.broadcast_to(wf[None, :], (h, w))


def _depth_for_diameter(c_px: float, k_px: float, focus_m: float) -> float:
    """Depth behind the focus plane whose blur disc is c_px (c = K (1 - s/d)); clamped to 0.97 K."""
    c = min(float(c_px), 0.97 * k_px)
    return float(focus_m / (1.0 - c / k_px))


def _crop(kernel: np.ndarray, cx: int, cy: int, h: int, w: int):
    """(frame slice, kernel slice) of a centred odd kernel stamped at (cx, cy), or None."""
    k = kernel.shape[0] // 2
    y0, y1, x0, x1 = cy - k, cy + k + 1, cx - k, cx + k + 1
    ky0, kx0 = max(0, -y0), max(0, -x0)
    ky1 = kernel.shape[0] - max(0, y1 - h)
    kx1 = kernel.shape[1] - max(0, x1 - w)
    if ky1 <= ky0 or kx1 <= kx0:
        return None
    return (slice(max(0, y0), min(h, y1)), slice(max(0, x0), min(w, x1))), (slice(ky0, ky1), slice(kx0, kx1))


def _place_light(mode: str, r: float, h: int, w: int, dist: np.ndarray, occ_edge, placed, max_overlap,
                 allow_overlap: bool, rng: np.random.Generator):
    """Rejection sampling of one light centre for the spread modes (None when there is no room).

    ``free``: whole disc in the frame, off the occluders by more than r; ``behind``: centre within
    0.6 r of an occluder's outline (partly hidden); ``border``: centre within 0.6 r of a frame edge
    (the disc is cut), off the occluders. Overlap with placed discs: at most ``max_overlap`` of the
    smaller diameter (None: none, unless ``allow_overlap``).
    """
    if mode == "behind" and (occ_edge is None or occ_edge[0].size == 0):
        mode = "free"  # nothing to hide behind
    for _ in range(400):
        if mode == "behind":
            i = int(rng.integers(occ_edge[0].size))
            ang, rad = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, 0.6 * r)
            x, y = occ_edge[1][i] + rad * math.cos(ang), occ_edge[0][i] + rad * math.sin(ang)
            if not (r <= x <= w - 1 - r and r <= y <= h - 1 - r):
                continue
        elif mode == "border":
            side = int(rng.integers(4))
            off = rng.uniform(-0.6 * r, 0.6 * r)
            if side in (0, 1):  # left / right
                y = rng.uniform(r, h - 1 - r) if h - 1 > 2 * r else (h - 1) / 2.0
                x = off if side == 0 else (w - 1) - off
            else:
                x = rng.uniform(r, w - 1 - r) if w - 1 > 2 * r else (w - 1) / 2.0
                y = off if side == 2 else (h - 1) - off
            xc, yc = int(round(min(max(x, 0), w - 1))), int(round(min(max(y, 0), h - 1)))
            if dist[yc, xc] <= r + 2:
                continue
        else:
            x = rng.uniform(r, w - 1 - r)
            y = rng.uniform(r, h - 1 - r)
            if dist[int(round(y)), int(round(x))] <= r + 2:
                continue
        xi, yi = int(round(x)), int(round(y))
        ok = True
        for px, py, pr in placed:
            d = math.hypot(xi - px, yi - py)
            if max_overlap is None:
                if not allow_overlap and d < r + pr + 2:
                    ok = False
                    break
            elif d < r + pr - float(max_overlap) * 2.0 * min(r, pr) or d < 0.25 * max(r, pr):
                ok = False
                break
        if ok:
            return xi, yi, mode
    return None


def render(spec: SceneSpec) -> Render:
    """Render one portrait with its ground truth.

    ``truth`` keys (the first renderer's, unchanged in meaning):

    - ``renderer_version``, ``spec`` (every SceneSpec field), ``seed``, ``width``, ``height``,
      ``aperture``, ``gaussian_sigma_px`` (background's sigma for ``gaussian``, else null);
    - ``coc_px`` and ``coc_mm``: {``subject`` (0: on the focus plane), ``background`` (at
      ``background_m``; the top row of a depth ramp), ``lights``: [one per placed light]};
      ``kelvin``: {``key``, ``background``, ``lights``};
    - ``lights``: every placed light, a dict with ``x``, ``y`` (centre, px; may lie outside the
      frame for a border orb), ``depth_m``, ``coc_px``, ``coc_mm``, ``diameter_px``, ``kelvin``,
      ``intensity`` (peak linear level of the light alone, before exposure), ``shape``, ``angle``
      (rad), ``vignette``, ``major_px``, ``minor_px``, ``sigma_px`` (gaussian only),
      ``in_background`` (centre in the frame and outside the subject mask), ``visible`` (in the
      background and at least 1 px wide), ``fully_inside`` (whole disc in the frame);
    - ``orbs``: the lights with ``in_background`` and ``visible``;
    - ``n_lights_requested``, ``n_lights_placed`` (fewer when the background has no room);
    - ``subject``, ``subject_box`` [x, y, w, h] (bounding box of ``subject_mask``) or null,
      ``face_box`` [x, y, w, h] (floats; eyebrows-to-chin, cheek to cheek; axis-aligned box of the
      rolled face) or null, ``face_width_px`` (unrolled), ``skin_box``, ``pore_scale_px``,
      ``pore_amplitude``, ``smoothing``;
    - ``clipped_fraction`` (pixels with a channel >= 1 in linear light after exposure, before
      the shoulder / clip), ``highlight_mode`` ("shoulder" | "clip").

    Added keys (scene spread):

    - per light also: ``index``, ``duv``, ``xy``, ``uv`` (of its rendered colour), ``placement``
      (``free`` | ``behind`` | ``border`` | ``explicit``), ``key_colour`` (it has the key's
      Kelvin and Duv), ``peak_level`` (intensity x exposure: the level before clipping),
      ``visible_fraction`` (share of its kernel's energy that is inside the frame and not
      covered by a person or prop), ``frame_fraction``, ``occluded_fraction``, ``at_border``
      (frame_fraction < 0.999), ``clipped`` / ``clipped_px`` / ``clip_radius_px`` (pixels of
      its footprint whose max channel reached 1 before the clip, and their equal-area radius:
      the flat top of a clipped glow), ``overlaps`` ([{``index``, ``fraction``}]: overlap depth
      over the smaller equal-area diameter); ``visible_orbs``: lights >= 1 px with
      ``visible_fraction >= 0.5``;
    - ``people``: one dict per person (main subject first): ``kind``, ``main``, ``depth_m``,
      ``coc_px``, ``sharp``, ``face_box``, ``face_quad`` (4 corners), ``face_width_px``,
      ``face_width_frac``, ``roll_deg``, ``landmarks`` {name: [x, y]}, ``eye_centres``,
      ``mask_box``, ``mask_fraction`` (visible); ``landmarks``, ``eye_centres``, ``roll_deg``,
      ``face_width_frac`` of the main subject at the top level too;
    - ``background``: ``kind``, ``textured``, ``rgb`` (sRGB albedo) , ``depth`` ("flat" |
      "ramp"), ``near_m``, ``far_m``, ``coc_px_min`` / ``coc_px_max`` (over the visible
      background), ``coc_tiles`` (8 x 8 grid of the mean background c, null where no background);
    - ``props``: [{``shape``, ``rgb``, ``depth_m``, ``coc_px``, ``frame_fraction`` (visible),
      ``lit_by``}]; ``surface_colour_fraction``: share of the frame covered by coloured props;
    - ``illuminants``: [{``index``, ``role`` (key | fill | background | orb), ``kelvin``,
      ``duv``, ``mired``, ``xy``, ``uv``, ``in_gamut``, ``rgb_linear``, ``intensity``,
      ``light`` (orbs: index in ``lights``)}]; ``light_coverage``: {index: share of the frame
      where it is the dominant light (``Render.light_map``)}; ``key_in_scene``: a visible orb
      has the key's colour;
    - ``exposure`` (used; solved from ``clip_fraction`` when that is set), ``noise``
      {``sigma``, ``shot``, ``rms`` (RMS of the per-pixel sigma over the frame)}, ``jpeg_quality``,
      ``bits``.

    Orb ``diameter_px`` is the blur-disc diameter c (the equal-area diameter for polygons and
    anamorphic ovals; the undimmed disc for cats_eye, whose actual extent is ``major_px`` x
    ``minor_px``). ``Render.coc_map`` gives c per pixel, ``Render.light_map`` the light per pixel.
    """
    _validate(spec)
    h, w = int(spec.height), int(spec.width)
    seq = np.random.SeedSequence(int(spec.seed))
    streams = [np.random.default_rng(s) for s in seq.spawn(5)]
    rng_layout, rng_bg, rng_lights, rng_pores, rng_sebum = streams
    extra = [np.random.default_rng(s) for s in seq.spawn(4 + len(spec.people))]
    rng_noise, rng_tex, rng_place, rng_misc = extra[:4]
    rng_people = extra[4:]

    def cpx(d):
        return coc_diameter_px(spec.focal_mm, spec.f_number, spec.focus_m, d,
                               sensor_mm=spec.sensor_mm, width_px=w)

    def cmm(d):
        return coc_diameter_mm(spec.focal_mm, spec.f_number, spec.focus_m, d)

    c_bg = cpx(spec.background_m)
    f_px = spec.focal_mm / spec.sensor_mm * w
    key_rgb = light_linear_rgb(spec.key_kelvin, spec.key_duv) * np.float32(spec.key_intensity)
    has_fill = spec.fill_intensity > 0
    fill_k = float(spec.fill_kelvin if spec.fill_kelvin is not None else spec.background_kelvin)
    fill_rgb = light_linear_rgb(fill_k, spec.fill_duv) if has_fill else None
    amb_col = light_linear_rgb(spec.background_kelvin, spec.background_duv)

    # ---- people -----------------------------------------------------------------------------
    # (layer, depth, coc, rng for pores, rng for sebum, is main)
    persons = []
    if spec.subject != "none":
        pl = Placement(face_width_px=spec.face_width_frac * w if spec.face_width_frac is not None else None,
                       cx=spec.face_x_frac * w if spec.face_x_frac is not None else None,
                       cy=spec.face_y_frac * h if spec.face_y_frac is not None else None,
                       roll_deg=float(spec.roll_deg), skin_rgb=spec.skin_rgb, clothes_rgb=spec.clothes_rgb)
        persons.append(dict(layer=SUBJECT_LAYERS[spec.subject](h, w, rng_layout, pl), kind=spec.subject,
                            depth=float(spec.focus_m), coc=0.0, rp=rng_pores, rs=rng_sebum, main=True))
    for P, rg in zip(spec.people, rng_people):
        pl = Placement(face_width_px=P.face_width_frac * w, cx=P.x_frac * w, cy=P.y_frac * h,
                       roll_deg=float(P.roll_deg), skin_rgb=P.skin_rgb, clothes_rgb=P.clothes_rgb)
        d = float(spec.focus_m if P.depth_m is None else P.depth_m)
        c = 0.0 if P.depth_m is None else cpx(d)
        persons.append(dict(layer=SUBJECT_LAYERS[P.kind](h, w, rg, pl), kind=P.kind, depth=d, coc=c,
                            rp=rg, rs=rg, main=False))
    main = persons[0] if persons and persons[0]["main"] else None

    if main is not None:
        alb_s, alpha, skin, face, spots = main["layer"][:5]
    else:
        alb_s = np.zeros((h, w, 3), np.float32)
        alpha = np.zeros((h, w), np.float32)
        skin = np.zeros((h, w), np.float32)
        face, spots = None, []
    skin = skin * (alpha >= 0.98)  # skin (and the beauty filter) stays inside the subject
    face_w = float("nan")
    if face is not None:  # the unrolled face width (the box of a rolled face is wider)
        face_w = float(main["layer"].face_frame[2]) if main["layer"].face_frame is not None else float(face[2])
    pore_px = face_w / PORES_PER_FACE if face is not None else float("nan")

    if face is not None and spec.pore_amplitude > 0:
        box = _box_of(skin > 0)
        if box is not None:
            alb_s = _apply_pores(alb_s, skin, box, face_w, spec.pore_amplitude, rng_pores)
    subj_lin = alb_s
    if has_fill and face is not None:
        wk, wf = _key_fill_weights(h, w, main["layer"].face_frame, spec.key_from_left)
        subj_lin = alb_s * (wk[..., None] * key_rgb + wf[..., None] * (fill_rgb * np.float32(spec.fill_intensity)))
    else:
        subj_lin *= key_rgb
    if face is not None and spec.sebum > 0:
        _add_sebum(subj_lin, skin, main["layer"], rng_sebum, spec.sebum, key_rgb)
    if main is not None:
        main.update(lin=subj_lin, alpha=alpha, skin=skin, face_w=face_w, pore_px=pore_px)

    # further people: their own pores, lights and sebum; a defocused person is lit by the
    # background light and blurred by its own circle of confusion (premultiplied alpha)
    for P in persons:
        if P["main"]:
            continue
        L = P["layer"]
        a_p = L.alpha
        sk = L.skin * (a_p >= 0.98)
        fw_p = float(L.face_frame[2]) if L.face_frame is not None else float(L.face[2])
        alb_p = L.albedo
        if spec.pore_amplitude > 0 and L.face is not None:
            box = _box_of(sk > 0)
            if box is not None:
                alb_p = _apply_pores(alb_p, sk, box, fw_p, spec.pore_amplitude, P["rp"])
        if P["coc"] >= 0.5:
            col = amb_col * np.float32(DEFOCUSED_PERSON_LIGHT * spec.key_intensity)
            lin_p = alb_p * col
        elif has_fill:
            wk, wf = _key_fill_weights(h, w, L.face_frame, spec.key_from_left)
            col = key_rgb
            lin_p = alb_p * (wk[..., None] * key_rgb + wf[..., None] * (fill_rgb * np.float32(spec.fill_intensity)))
        else:
            col = key_rgb
            lin_p = alb_p * key_rgb
        if spec.sebum > 0 and L.face is not None:
            _add_sebum(lin_p, sk, L, P["rs"], spec.sebum, col)
        if P["coc"] >= 0.5:
            shp = "circle" if spec.aperture == "cats_eye" else spec.aperture
            ker = aperture_kernel(shp, P["coc"], **_kernel_kw(spec))
            a_b = np.clip(_convolve(a_p, ker), 0, 1)
            lin_p = _convolve(lin_p * a_p[..., None], ker)
            P.update(lin=lin_p, alpha=a_b, skin=np.zeros_like(sk), premultiplied=True)
        else:
            P.update(lin=lin_p, alpha=a_p, skin=sk, premultiplied=False)
        P.update(face_w=fw_p, pore_px=fw_p / PORES_PER_FACE)

    # props with a depth of their own: flat-coloured layers lit by the key (and fill)
    prop_layers = []
    for i, prop in enumerate(spec.props):
        if prop.depth_m is None:
            continue
        m = _draw_prop((h, w), prop, w, h)
        yy = np.linspace(1.0, 0.85, h, dtype=np.float32)[:, None, None]  # soft top light
        lin_q = np.broadcast_to(_rgb_lin(prop.rgb)[None, None, :] * yy, (h, w, 3)).astype(np.float32)
        if has_fill:
            wk, wf = _key_fill_weights(h, w, (prop.x_frac * w, 0, prop.w_frac * w, 0, 0), spec.key_from_left)
            lin_q = lin_q * (wk[..., None] * key_rgb + wf[..., None] * (fill_rgb * np.float32(spec.fill_intensity)))
        else:
            lin_q = lin_q * key_rgb
        c = cpx(float(prop.depth_m))
        if c >= 0.5:
            shp = "circle" if spec.aperture == "cats_eye" else spec.aperture
            ker = aperture_kernel(shp, c, **_kernel_kw(spec))
            a_b = np.clip(_convolve(m, ker), 0, 1)
            lin_q = _convolve(lin_q * m[..., None], ker)
            prop_layers.append(dict(prop=i, lin=lin_q, alpha=a_b, depth=float(prop.depth_m), coc=c, premultiplied=True))
        else:
            prop_layers.append(dict(prop=i, lin=lin_q, alpha=m, depth=float(prop.depth_m), coc=c, premultiplied=False))

    # compositing order, back to front: every layer by depth (far first), the main subject last
    # among layers at its depth
    layers = [dict(P, what="person") for P in persons if not P["main"]] + [dict(L, what="prop") for L in prop_layers]
    layers.sort(key=lambda L: -L["depth"])
    if main is not None:
        nearer = [L for L in layers if L["depth"] < main["depth"]]
        layers = [L for L in layers if L["depth"] >= main["depth"]] + [dict(main, what="person", premultiplied=False)] + nearer
    # visible coverage of each layer
    for i, L in enumerate(layers):
        vis = L["alpha"]
        for M in layers[i + 1:]:
            vis = vis * (1.0 - M["alpha"])
        L["vis"] = vis
    if len(layers) == 1:
        occ = alpha
    elif layers:
        occ = 1.0 - np.prod([1.0 - L["alpha"] for L in layers], axis=0)
    else:
        occ = alpha
    occ_mask = occ >= 0.5
    sharp_people = [L for L in layers if L["what"] == "person" and not L["premultiplied"]]
    if len(layers) == 1 and main is not None:
        subject_mask = alpha >= 0.5
    else:
        subject_mask = (np.sum([L["vis"] for L in sharp_people], axis=0) >= 0.5) if sharp_people \
            else np.zeros((h, w), bool)
    if len(sharp_people) == 1 and len(layers) == 1:
        skin_w = skin
    else:
        skin_w = np.zeros((h, w), np.float32)
        for L in sharp_people:
            np.maximum(skin_w, L["skin"] * (L["vis"] >= 0.98), out=skin_w)
    skin_mask = skin_w >= 0.5

    # ---- background layer -----------------------------------------------------------------
    kw = _kernel_kw(spec)
    bg_shape = "circle" if spec.aperture == "cats_eye" else spec.aperture
    ramp = (float(spec.background_near_m), float(spec.background_m)) if spec.background_near_m is not None else None
    legacy_bg = (spec.background == "street" and ramp is None and not any(p.depth_m is None for p in spec.props)
                 and spec.background_duv == 0.0 and spec.aperture in _LEGACY_APERTURES)
    if legacy_bg:
        # drawn, lit and blurred at 1/f of the resolution when the blur is wide (the blurred layer
        # is band-limited far below the coarse grid's Nyquist), then resized up
        shapes = _background_shapes(w / h, rng_bg)
        mottle = rng_bg.uniform(0.8, 1.2, (8, 8, 3)).astype(np.float32)
        f = int(max(1, min(4, c_bg // BACKGROUND_PX_PER_STEP)))
        hb, wb = max(8, -(-h // f)), max(8, -(-w // f))
        amb = blackbody_linear_rgb(spec.background_kelvin) * np.float32(spec.ambient)
        bg_lo = _background_albedo(hb, wb, shapes, mottle) * amb
        bg_lo = _convolve(bg_lo, aperture_kernel(bg_shape, c_bg * hb / h, angle=spec.blade_angle))
        bg = bg_lo if (hb, wb) == (h, w) else cv2.resize(bg_lo, (w, h), interpolation=cv2.INTER_LINEAR)
        coc_rows = None
    else:
        amb = amb_col * np.float32(spec.ambient)
        if ramp is None:
            f = int(max(1, min(4, c_bg // BACKGROUND_PX_PER_STEP)))
        else:
            f = 1
        hb, wb = max(8, -(-h // f)), max(8, -(-w // f))
        if spec.background == "street":
            shapes = _background_shapes(w / h, rng_bg)
            mottle = rng_bg.uniform(0.8, 1.2, (8, 8, 3)).astype(np.float32)
            alb_bg = _background_albedo(hb, wb, shapes, mottle)
            _paint_background_props(alb_bg, spec)
            np.clip(alb_bg, 0.0, 1.0, out=alb_bg)
        else:
            alb_bg = _plane_albedo(spec, hb, wb, h / hb, rng_tex, ramp, f_px)
        lit = alb_bg * amb
        if ramp is None:
            coc_rows = None
            bg_lo = _convolve(lit, aperture_kernel(bg_shape, c_bg * hb / h, **kw))
            bg = bg_lo if (hb, wb) == (h, w) else cv2.resize(bg_lo, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            near, far = ramp
            inv = 1.0 / far + (1.0 / near - 1.0 / far) * np.arange(h, dtype=np.float64) / max(h - 1, 1)
            coc_rows = np.array([cpx(1.0 / v) for v in inv], np.float64)
            bg = _ramp_blur(lit, coc_rows, bg_shape, kw)
    bg_lum = bg @ REC709  # the ambient's share per pixel, before the lights are added

    # ---- point lights ---------------------------------------------------------------------
    dist = cv2.distanceTransform((~occ_mask).astype(np.uint8), cv2.DIST_L2, 5) \
        if occ_mask.any() else np.full((h, w), np.inf, np.float32)
    r_corner = math.hypot(w / 2.0, h / 2.0)
    k_inf = cpx(math.inf)
    requests = []
    if spec.lights is not None:
        for L in spec.lights:
            requests.append((float(L.depth_m), float(L.kelvin), float(L.intensity),
                             (float(L.x_frac) * (w - 1), float(L.y_frac) * (h - 1)), float(L.duv), "explicit", False))
    else:
        spread = spec.orbs_behind_subject > 0 or spec.orbs_at_border > 0
        for _ in range(spec.n_lights):
            if spec.light_diameter_frac is not None:
                lo, hi = sorted(float(v) for v in spec.light_diameter_frac)
                d = _depth_for_diameter(rng_lights.uniform(lo, hi) * w, k_inf, spec.focus_m)
            elif spec.light_depth_m is None:
                d = float(spec.background_m)
            else:
                lo, hi = sorted(float(v) for v in spec.light_depth_m)
                d = float(1.0 / rng_lights.uniform(1.0 / hi, 1.0 / lo))  # uniform in 1/d (dioptres)
            kel = _kelvin_draw(spec, rng_lights)
            inten = float(rng_lights.uniform(*spec.light_intensity))
            duv = _duv_draw(spec.light_duv, rng_place)
            mode = "free"
            if spread:
                u = rng_place.uniform()
                if u < spec.orbs_behind_subject:
                    mode = "behind"
                elif u < spec.orbs_behind_subject + spec.orbs_at_border:
                    mode = "border"
            is_key = bool(spec.key_light_orbs > 0 and rng_misc.uniform() < spec.key_light_orbs)
            if is_key:
                kel, duv = float(spec.key_kelvin), float(spec.key_duv)
            requests.append((d, kel, inten, None, duv, mode, is_key))
    occ_edge = None
    if occ_mask.any() and any(r[5] == "behind" for r in requests):
        er = cv2.erode(occ_mask.astype(np.uint8), np.ones((3, 3), np.uint8))
        occ_edge = np.nonzero(occ_mask & (er == 0))
    light_layer = bg  # lights add to the background layer (the subject occludes both)
    orb_best = np.zeros((h, w), np.float32)
    orb_id = np.full((h, w), -1, np.int16)
    lights = []
    kernels = []
    placed: list[tuple[float, float, float]] = []
    for depth, kelvin, inten, pos, duv, mode, is_key in requests:
        c = cpx(depth)
        r = max(c / 2.0, 1.0)
        if pos is None:
            if mode == "free" and spec.max_overlap is None:
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
                got = _place_light(mode, r, h, w, dist, occ_edge, placed, spec.max_overlap, spec.allow_overlap,
                                   rng_lights)
                if got is None:
                    continue
                xi, yi, mode = got
        else:
            xi, yi = int(round(pos[0])), int(round(pos[1]))
        angle, vig = 0.0, 0.0
        if spec.aperture == "cats_eye":
            angle = math.atan2(yi - (h - 1) / 2.0, xi - (w - 1) / 2.0)
            vig = float(np.clip(spec.cats_eye_strength, 0, 1)) * math.hypot(
                xi - (w - 1) / 2.0, yi - (h - 1) / 2.0) / r_corner
        elif spec.aperture.startswith("blades"):
            angle = float(spec.blade_angle)
        elif spec.aperture == "anamorphic":
            angle = float(spec.anamorphic_angle)
        if spec.aperture == "gaussian" and inten > 1.0:
            cov = _bright_glow(c, inten)
        else:
            cov = _aperture_coverage(spec.aperture, c, angle, vig, aspect=spec.anamorphic_aspect,
                                     rim=spec.bubble_rim, rings=spec.onion_amplitude)
        lcol = light_linear_rgb(kelvin, duv)
        col = lcol * np.float32(inten)
        k1 = cov / cov.max()
        _stamp(light_layer, k1, xi, yi, col)
        cr = _crop(k1, xi, yi, h, w)
        if cr is not None:
            (fs, ks) = cr
            contrib = k1[ks] * np.float32(float(col @ REC709))
            better = contrib > orb_best[fs]
            orb_best[fs][better] = contrib[better]
            orb_id[fs][better] = len(lights)
        kernels.append(k1)
        placed.append((xi, yi, r))
        if spec.aperture == "cats_eye":
            off = vig * c / 2.0
            major, minor = 2.0 * math.sqrt(max(0.0, (c / 2.0) ** 2 - (off / 2.0) ** 2)), c - off
        elif spec.aperture == "anamorphic":
            q = math.sqrt(max(float(spec.anamorphic_aspect), 1.0))
            major, minor = c * q, c / q
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
            "index": len(lights), "duv": duv, "placement": "explicit" if pos is not None else mode,
            "key_colour": bool(is_key or (kelvin == float(spec.key_kelvin) and duv == float(spec.key_duv))),
            "_rgb": lcol,
        })

    # ---- composite ------------------------------------------------------------------------
    scene = bg
    for L in layers:
        if L["premultiplied"]:
            scene *= (1.0 - L["alpha"])[..., None]
            scene += L["lin"]
            continue
        a_l = L["alpha"]
        sbox = _box_of(a_l > 0)
        if sbox is not None:  # scene = B + alpha (S - B), on the layer's box only
            x0, y0, bw, bh = sbox
            roi = scene[y0:y0 + bh, x0:x0 + bw]
            d = L["lin"][y0:y0 + bh, x0:x0 + bw] - roi
            d *= a_l[y0:y0 + bh, x0:x0 + bw, None]
            roi += d
    exposure = float(spec.exposure)
    if spec.clip_fraction is not None:
        pk = _max3(scene)
        if spec.clip_fraction <= 0:
            exposure = 0.98 / max(float(pk.max()), 1e-6)
        else:
            exposure = 1.0 / max(float(np.quantile(pk, 1.0 - float(spec.clip_fraction))), 1e-6)
    if exposure != 1.0:
        scene *= np.float32(exposure)
    peak = _max3(scene)
    clipped = float((peak >= 1.0).mean())

    # per-light truth that needs the composite: visibility, clipping, overlaps
    free_vis = 1.0 - occ
    for L, k1 in zip(lights, kernels):
        xi, yi = int(L["x"]), int(L["y"])
        tot = float(k1.sum(dtype=np.float64))
        cr = _crop(k1, xi, yi, h, w)
        if cr is None:
            ff = vf = 0.0
            cpx_n = 0
        else:
            fs, ks = cr
            kk = k1[ks]
            ff = float(kk.sum(dtype=np.float64)) / tot
            vf = float((kk * free_vis[fs]).sum(dtype=np.float64)) / tot
            foot = kk >= 0.5 * float(k1.max()) if spec.aperture != "gaussian" else kk >= 0.011
            cpx_n = int(((peak[fs] >= 1.0) & foot & (free_vis[fs] > 0.5)).sum())
        L["frame_fraction"] = ff
        L["visible_fraction"] = vf
        L["occluded_fraction"] = max(0.0, ff - vf)
        L["at_border"] = bool(ff < 0.999)
        L["peak_level"] = L["intensity"] * exposure
        L["clipped_px"] = cpx_n
        L["clipped"] = bool(cpx_n > 0)
        L["clip_radius_px"] = math.sqrt(cpx_n / math.pi)
    for i, A in enumerate(lights):
        ov = []
        ra = max(A["diameter_px"] / 2.0, 1.0)
        for j, B in enumerate(lights):
            if i == j:
                continue
            rb = max(B["diameter_px"] / 2.0, 1.0)
            dd = math.hypot(A["x"] - B["x"], A["y"] - B["y"])
            if dd < ra + rb:
                ov.append({"index": j, "fraction": (ra + rb - dd) / (2.0 * min(ra, rb))})
        A["overlaps"] = ov

    if not spec.clip_highlights:
        _highlight_shoulder(scene, peak)
    np.clip(scene, 0.0, 1.0, out=scene)
    rgb = _encode_srgb(scene, in_range=True)
    if spec.smoothing > 0:
        if len(sharp_people) == 1 and len(layers) == 1:
            if face is not None:
                rgb = np.clip(beauty_filter(rgb, skin, spec.smoothing, scale_px=pore_px), 0, 1).astype(np.float32)
        else:
            for L in sharp_people:
                if L["layer"].face is not None:
                    sk = L["skin"] * (L["vis"] >= 0.98)
                    rgb = np.clip(beauty_filter(rgb, sk, spec.smoothing, scale_px=L["pore_px"]), 0, 1).astype(np.float32)

    # ---- camera pipeline: noise, quantisation, JPEG ---------------------------------------------
    noise_rms = 0.0
    if spec.noise_sigma > 0 or spec.noise_shot > 0:
        var = np.float32(spec.noise_sigma ** 2) + np.float32(spec.noise_shot ** 2) * rgb
        sig = np.sqrt(var)
        noise_rms = float(np.sqrt(var.mean(dtype=np.float64)))
        rgb = rgb + rng_noise.standard_normal(rgb.shape, dtype=np.float32) * sig
        np.clip(rgb, 0.0, 1.0, out=rgb)
    jpeg_bytes = None
    if spec.jpeg_quality is not None:
        u8 = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(u8, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, int(spec.jpeg_quality)])
        if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
            raise UsageError("JPEG encoding failed")
        jpeg_bytes = buf.tobytes()
        dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(dec, cv2.COLOR_BGR2RGB).astype(np.float32) / np.float32(255.0)
    elif spec.bits is not None:
        mx = np.float32(255.0 if spec.bits == 8 else 65535.0)
        rgb = np.round(np.clip(rgb, 0, 1) * mx) / mx

    # ---- maps ---------------------------------------------------------------------------------
    coc_map = np.empty((h, w), np.float32)
    if coc_rows is None:
        coc_map[:] = np.float32(c_bg)
    else:
        coc_map[:] = coc_rows.astype(np.float32)[:, None]
    bg_vis = 1.0 - occ
    illum = [dict(index=0, role="key", intensity=float(spec.key_intensity),
                  **light_truth(spec.key_kelvin, spec.key_duv, light_linear_rgb(spec.key_kelvin, spec.key_duv)))]
    if has_fill:
        illum.append(dict(index=1, role="fill", intensity=float(spec.fill_intensity),
                          **light_truth(fill_k, spec.fill_duv, fill_rgb)))
    i_bg = len(illum)
    illum.append(dict(index=i_bg, role="background", intensity=float(spec.ambient),
                      **light_truth(spec.background_kelvin, spec.background_duv, amb_col)))
    i_orb0 = len(illum)
    for L in lights:
        illum.append(dict(index=len(illum), role="orb", intensity=L["intensity"], light=L["index"],
                          **light_truth(L["kelvin"], L["duv"], L["_rgb"])))
    light_map = np.full((h, w), i_bg, np.int16)
    orb_wins = (orb_id >= 0) & (orb_best > bg_lum)
    light_map[orb_wins] = (orb_id[orb_wins] + i_orb0).astype(np.int16)
    key_lum = float(key_rgb @ REC709)
    fill_lum = float(fill_rgb @ REC709) * spec.fill_intensity if has_fill else 0.0
    for L in layers:
        on = L["vis"] >= 0.5
        if not on.any():
            continue
        coc_map[on] = np.float32(L["coc"])
        if L["what"] == "person" and L["premultiplied"]:
            light_map[on] = i_bg
        elif has_fill:
            if L["what"] == "person":
                wk, wf = _key_fill_weights(h, w, L["layer"].face_frame, spec.key_from_left)
            else:
                P = spec.props[L["prop"]]
                wk, wf = _key_fill_weights(h, w, (P.x_frac * w, 0, P.w_frac * w, 0, 0), spec.key_from_left)
            light_map[on] = np.where(wk[on] * key_lum >= wf[on] * fill_lum, 0, 1).astype(np.int16)
        else:
            light_map[on] = 0
    cover = np.bincount(light_map.ravel().astype(np.int64), minlength=len(illum)) / float(h * w)
    light_coverage = {str(i): float(v) for i, v in enumerate(cover) if v > 0}

    # background truth: depth, blur range over the visible background, tiles
    bg_px = bg_vis >= 0.5
    if bg_px.any():
        cvals = coc_map[bg_px & (coc_map == coc_map)] if coc_rows is not None else np.array([c_bg])
        if coc_rows is not None:
            cvals = np.broadcast_to(coc_rows.astype(np.float32)[:, None], (h, w))[bg_px]
        cmin, cmax = float(cvals.min()), float(cvals.max())
    else:
        cmin = cmax = None
    bg_c = np.broadcast_to(coc_rows.astype(np.float32)[:, None], (h, w)) if coc_rows is not None \
        else np.full((h, w), np.float32(c_bg))
    tiles = []
    for ty in range(8):
        row = []
        for tx in range(8):
            ys, ye = ty * h // 8, (ty + 1) * h // 8
            xs, xe = tx * w // 8, (tx + 1) * w // 8
            m = bg_px[ys:ye, xs:xe]
            row.append(float(bg_c[ys:ye, xs:xe][m].mean()) if m.any() else None)
        tiles.append(row)
    bg_rgb = spec.background_rgb if spec.background_rgb is not None else BACKGROUND_RGB.get(spec.background)
    background_truth = {
        "kind": spec.background, "textured": spec.background in ("street", "brick", "grass", "gravel"),
        "rgb": [float(v) for v in bg_rgb] if bg_rgb is not None and spec.background != "street" else None,
        "depth": "ramp" if ramp is not None else "flat",
        "near_m": float(ramp[0]) if ramp is not None else float(spec.background_m),
        "far_m": float(spec.background_m),
        "coc_px_min": cmin, "coc_px_max": cmax, "coc_tiles": tiles,
    }
    # people truth
    people_truth = []
    person_masks = []
    for P in persons:
        Lr = next((L for L in layers if L["what"] == "person" and L["layer"] is P["layer"]), None)
        vis = Lr["vis"] if Lr is not None else P.get("alpha", alpha)
        pm = vis >= 0.5
        person_masks.append(pm)
        lay = P["layer"]
        if lay.face is not None:
            ff = lay.face_frame
            _, quad = _face_from_frame(ff[0], ff[1], ff[2], ff[3], ff[4])
        else:
            quad = None
        lms = {k: [float(v[0]), float(v[1])] for k, v in (lay.landmarks or {}).items()}
        people_truth.append({
            "kind": P["kind"], "main": bool(P["main"]), "depth_m": float(P["depth"]), "coc_px": float(P["coc"]),
            "sharp": bool(P["coc"] < 0.5),
            "face_box": [float(v) for v in lay.face] if lay.face is not None else None,
            "face_quad": [[float(x), float(y)] for x, y in quad] if quad is not None else None,
            "face_width_px": float(lay.face_frame[2]) if lay.face_frame is not None else None,
            "face_width_frac": float(lay.face_frame[2]) / w if lay.face_frame is not None else None,
            "roll_deg": float(lay.face_frame[4]) if lay.face_frame is not None else 0.0,
            "landmarks": lms,
            "eye_centres": [lms["left_eye"], lms["right_eye"]] if "left_eye" in lms else None,
            "mask_box": _box_of(pm), "mask_fraction": float(pm.mean()),
            "lit_by": "background" if P["coc"] >= 0.5 else ("key+fill" if has_fill else "key"),
        })
    props_truth = []
    for i, prop in enumerate(spec.props):
        if prop.depth_m is None:
            m = _draw_prop((h, w), prop, w, h) * bg_vis
            c, lit_by = (coc_rows[min(h - 1, int(prop.y_frac * h))] if coc_rows is not None else c_bg), "background"
        else:
            Lr = next(L for L in layers if L["what"] == "prop" and L["prop"] == i)
            m, c, lit_by = Lr["vis"], Lr["coc"], ("key+fill" if has_fill else "key")
        props_truth.append({"shape": prop.shape, "rgb": [float(v) for v in prop.rgb],
                            "depth_m": None if prop.depth_m is None else float(prop.depth_m), "coc_px": float(c),
                            "frame_fraction": float((m >= 0.5).mean()), "lit_by": lit_by})
    key_in_scene = any(L["key_colour"] and L["visible_fraction"] >= 0.5 and L["coc_px"] >= 1.0 for L in lights)
    for L in lights:
        L.pop("_rgb")
        L["xy"] = illum[i_orb0 + L["index"]]["xy"]
        L["uv"] = illum[i_orb0 + L["index"]]["uv"]
    main_lms = people_truth[0]["landmarks"] if main is not None else None

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
        # --- scene spread
        "visible_orbs": [L for L in lights if L["coc_px"] >= 1.0 and L["visible_fraction"] >= 0.5],
        "face_width_frac": face_w / w if face is not None else None,
        "roll_deg": float(spec.roll_deg) if face is not None else None,
        "landmarks": main_lms,
        "eye_centres": people_truth[0]["eye_centres"] if main is not None else None,
        "people": people_truth,
        "background": background_truth,
        "props": props_truth,
        "surface_colour_fraction": float(sum(p["frame_fraction"] for p in props_truth)),
        "illuminants": illum,
        "light_coverage": light_coverage,
        "key_in_scene": bool(key_in_scene),
        "exposure": exposure,
        "noise": {"sigma": float(spec.noise_sigma), "shot": float(spec.noise_shot), "rms": noise_rms},
        "jpeg_quality": int(spec.jpeg_quality) if spec.jpeg_quality is not None else None,
        "bits": int(spec.bits) if spec.bits is not None else None,
    }))
    return Render(rgb=rgb, truth=truth, subject_mask=subject_mask, skin_mask=skin_mask, linear=scene,
                  coc_map=coc_map, light_map=light_map, person_masks=person_masks, jpeg=jpeg_bytes)


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

    A render with ``jpeg_quality`` saved to a ``.jpg`` / ``.jpeg`` path writes its JPEG bytes.

    Returns the two paths written.
    """
    png = Path(path_png)
    js = Path(path_json) if path_json is not None else png.with_suffix(".json")
    if bits not in (8, 16):
        raise UsageError(f"bits must be 8 or 16, got {bits}")
    png.parent.mkdir(parents=True, exist_ok=True)
    js.parent.mkdir(parents=True, exist_ok=True)
    mx = 255 if bits == 8 else 65535
    if render.jpeg is not None and png.suffix.lower() in (".jpg", ".jpeg"):
        png.write_bytes(render.jpeg)  # the encoded file itself, not a re-encoding
    else:
        arr = np.round(np.clip(render.rgb, 0, 1) * mx).astype(np.uint8 if bits == 8 else np.uint16)
        if not cv2.imwrite(str(png), cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)):
            raise UsageError(f"could not write {png}; check the folder exists and is writable")
    js.write_text(json.dumps(render.truth, indent=1))
    return png, js
