"""bokeh: are the background highlights optical discs, or a Gaussian glow?

The seed article's central contrast is "bokeh orbs" against "blurred": a defocused point light
is imaged as a copy of the aperture, a disc (or a 5-9 blade polygon, a cat's-eye toward the
corners, an anamorphic oval, a soap bubble with a bright rim, an onion disc with rings) whose
rim is a step; a Gaussian "blur" of a lamp is a glow that fades out over a large part of its
radius, clipped centre or not. Only optical discs count here.

Method
------
1. **Where to look.** The whole frame but the subject: with no subject found nothing is
   hidden (a centre box is a guess, not evidence); with a detected face, everything but the
   eyes' band of each face (catchlights are small hard discs) is searched and the subject mask
   (``ctx.work_subject_mask``) is an *occluder*: rays that run into it before the rim are hidden,
   not missing (unless it covers 70 % of the orb: then the mask, a template, is wrong there);
   a subject box given by the user is respected as given. A better subject mask can only help.
2. **Candidates** (linear luminance ``ctx.work_luminance``, on a half-size copy): white top-hat
   against a coarse morphological opening, thresholded at a ladder of levels
   ``PARAMS.seed_levels`` (MSER-like) and at ``PARAMS.seed_min_ratio`` x the local background;
   outer contours; blobs below the highlight level (``PARAMS.highlight_over_median`` x the median
   background) are dropped. A blob that is one disc is one hypothesis; a blob of several
   (overlapping, touching, clipped into one white region) is split into the maxima of its
   distance transform (up to 16) and, when those do not explain it, the circles voted for by
   the arcs of its own outline (:func:`arc_proposals`: a Hough transform along the outline's
   inward normals, with the frame and the subject's edges left out, which ``cv2.HoughCircles``
   cannot be told to do); proposals are only proposals, the rim decides.
3. **Rim** (:func:`measure_discs`): ``PARAMS.n_rays`` rays from the centre sample linear luminance
   (full-resolution crops for small orbs); on each ray the rim is the first fall through half
   the level of the disc's dimmest interior (a bubble is dim inside its bright rim, an onion has
   dark rings); a robust harmonic 0..2 fit re-centres the orb and drops rays that run into a
   neighbour, the frame or the subject. From the rim: roundness 4 pi A / P^2 of the
   Fourier-smoothed outline, the blade harmonic, the Fitzgibbon ellipse (aspect, orientation),
   the equivalent-area diameter.
4. **The rim criterion, from optics** (:func:`glow_rim_width`). Each ray is resampled finely
   across its own rim and the rays are averaged, so the profile is the rim's, not the outline's.
   Its 10-90 % width t on the unclipped shoulder (between the background and the plateau, the
   clip level when clipped), over the radius, is what separates the two: an optical disc's rim
   is a step softened by the lens's in-focus blur, a few pixels, a small fraction of its radius
   (measured on the randomised renderer: median 0.08, 99.5th percentile 0.25); a Gaussian glow
   ``min(P exp(-rho^2/2 s^2), 1)`` has ``t / r = (sqrt(2 ln 10P) - sqrt(2 ln P/0.9)) /
   sqrt(2 ln 2P)`` whatever its size: 1.433 unclipped, 0.369 at 8x white, falling only as
   1 / ln P. The bound ``MAX_RIM_WIDTH`` is that of a glow one stop brighter than the brightest
   glow to reject (``PARAMS.glow_max_peak`` = 8x white, ``PARAMS.glow_margin_stops`` = 1: 0.299);
   glows at 1-8x white measure 0.41 and more. A closed, round highlight wider than the bound goes
   to ``soft_highlights`` ("a glow, not a disc") and counts in ``disc_fraction``'s denominator.
5. **Verification** (:func:`classify`): the rim closes on ``PARAMS.min_ray_coverage`` of the rays
   and the rest are hidden (frame, subject, a brighter neighbour); the interior is the image of
   a light: radially structured (flat, bubble, rings), what varies from ray to ray at one radius
   is texture; a partly hidden rim is an arc of a disc, ellipse or blade polygon
   (``PARAMS.max_partial_rim_rms``) hidden by the frame, the subject or overlapping orbs; the
   outline is an aperture's (round enough, not square or triangular); an elongated disc is a
   cat's-eye (whole, tangential, off-centre) or one of several anamorphic ovals sharing an
   orientation.
6. **A disc is a defocus disc** (issue 14's defocus map, when present): with edge evidence of
   the background's blur b near the orb (``ctx.defocus``, read guarded: see
   :func:`blur_lookup`), a disc must be at least ``PARAMS.min_disc_over_blur`` x b (smaller
   specks are texture), and a sharp background (b < ``PARAMS.sharp_background_px``) has none.
   Without evidence only the optical criteria above apply.

Outputs (image level): ``orb_count`` and ``disc_fraction`` are measurements whenever the image
is measurable (0 is a value: "no optical discs among N highlights"; ``disc_fraction`` is NaN
only when there is no highlight at all); the shape outputs (``circularity``, ``aspect`` as long
over short axis, ``oval_angle_deg``, ``polygon_order``, ``edge_sharpness``, ``orb_diameter_frac``,
``size_cv``, ``cats_eye_alignment``) are NaN "no optical discs" without discs.

Artifacts
---------
``artifacts["orbs"]``: one dict per optical disc, FULL-RESOLUTION pixels:
``{x, y, r, circularity, aspect, angle, edge_sharpness, brightness, polygon_order, coverage,
rim_width, clipped}`` (``r`` = equivalent-area radius; ``clipped`` = share of the central
pixels (inside 0.6 r) with a channel at white; ``aspect`` = long / short axis (>= 1); ``angle``
= direction of the long axis in degrees, image coordinates (x right, y down), 0..180;
``brightness`` = plateau linear luminance; ``coverage`` = share of rays on the rim;
``rim_width`` = 10-90 % rim width over the radius; ``circularity`` / ``polygon_order`` NaN for
partly hidden discs). ``artifacts["soft_highlights"]``: the same for glows.
``artifacts["n_candidates"]``, ``artifacts["rejected"]`` (hypotheses by reason) and
``artifacts["trace"]`` (every measured hypothesis with its verdict). The focus and colour
families read ``artifacts["orbs"]`` (``x``, ``y``, ``r``) through ``requires=("bokeh",)``; this
family requires none (reading ``ctx.defocus`` must not read this family's result).

Validation (:func:`validate`, ``lenscore validate``): production path (the image alone) on
:func:`lenscore.datasets.scenes.random_bokeh_scenes` and on real in-focus photographs; the sweep
harness is ``scripts/bokeh_sweep.py``. Cost: ``benchmarks/bench_bokeh.py``.

References
----------
.. [1] A. Fitzgibbon, M. Pilu, R. B. Fisher, "Direct least square fitting of ellipses",
   IEEE TPAMI 21(5), 1999. https://doi.org/10.1109/34.765658
.. [2] H. K. Yuen, J. Princen, J. Illingworth, J. Kittler, "Comparative study of Hough
   transform methods for circle finding", Image and Vision Computing 8(1), 1990 (OpenCV's
   HOUGH_GRADIENT family). https://doi.org/10.1016/0262-8856(90)90059-E
.. [3] J. Peng, Z. Cao, X. Luo, H. Lu, K. Xian, J. Zhang, "BokehMe: when neural rendering
   meets classical rendering", CVPR 2022 (the classical, scattering renderer whose discs the
   detector is validated on). https://arxiv.org/abs/2206.12614
.. [4] M. Potmesil, I. Chakravarty, "A lens and aperture camera model for synthetic image
   generation", SIGGRAPH 1981 (a defocused point is imaged as the scaled aperture: the disc
   and its rim). https://doi.org/10.1145/965161.806818
.. [5] J. Matas, O. Chum, M. Urban, T. Pajdla, "Robust wide baseline stereo from maximally
   stable extremal regions", BMVC 2002 (the threshold ladder of the candidate search).
   https://doi.org/10.5244/C.16.36
.. [6] S. Zhuo, T. Sim, "Defocus map estimation from a single image", Pattern Recognition
   44(9), 2011 (the edge-evidence blur the size criterion reads, issue 14).
   https://doi.org/10.1016/j.patcog.2011.03.009
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

import cv2
import numpy as np

from lenscore.imaging import luma, srgb_to_linear
from lenscore.metrics.base import MetricFamily, MetricResult, Output, params_dict, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.context import ImageContext
    from lenscore.evaluator.validate import Check, Plan


# ---- parameters (recorded in summary.json and the cache key through PARAMS) ------------------
@dataclass(frozen=True)
class BokehParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``)."""

    #: smallest orb diameter measured, as a fraction of the working copy's long side.
    min_diameter_frac: float = 0.01
    #: largest orb diameter, as a fraction of the working copy's short side.
    max_diameter_frac: float = 0.30
    #: candidate seeds: top-hat above one of these linear luminances and above ratio x background.
    seed_levels: tuple[float, ...] = (0.02, 0.08, 0.32)
    seed_min_ratio: float = 2.0
    #: an orb's plateau is at least this many times the median background luminance (capped).
    highlight_over_median: float = 2.5
    highlight_level_cap: float = 0.6
    #: blobs whose second-moment axis ratio is below this are strips, not orbs nor pairs of orbs.
    min_blob_axis_ratio: float = 0.3
    #: a blob is measured as one disc only when it overlaps the disc of its area at its centroid
    #: by this IoU (else, or when that disc fails, it is split into the circles of its outline's
    #: arcs and its distance-transform maxima).
    min_single_iou: float = 0.5
    #: at most this many blobs are measured (lowest seed level first, largest first).
    max_candidates: int = 80
    #: rays cast from each orb centre (the first, re-centring pass: n_rays_coarse), and samples
    #: per radius along each ray.
    n_rays: int = 64
    n_rays_coarse: int = 32
    samples_per_radius: int = 16
    #: orbs smaller than this radius (working px) are measured on full-resolution crops.
    fullres_below_radius: float = 8.0
    #: rays whose rim lies within this fraction of the model radius are inliers.
    inlier_tolerance: float = 0.15
    min_ray_coverage: float = 0.45
    #: a partly hidden orb needs this fraction of rays explained by its rim or by the union with
    #: the orbs overlapping it.
    min_union_fit: float = 0.85
    #: at most this fraction of rays may find a rim off the disc that no neighbour explains.
    max_rim_mismatch: float = 0.12
    min_shape_coverage: float = 0.85
    max_harmonic: int = 20
    polygon_min_amplitude: float = 0.012
    min_circularity: float = 0.84
    min_aspect: float = 0.4
    #: the 10-90 % spread of luminance inside 0.6 r, relative to the rim contrast, stays below
    #: this for the image of a light (flat, or a Gaussian's dome: 0.2); textured patches exceed it.
    max_plateau_spread: float = 0.3
    #: orbs with a smaller aspect (minor/major) are "elongated": kept only as cat's-eyes or
    #: anamorphic ovals (see :func:`optically_consistent`).
    round_aspect: float = 0.85
    #: with defocus evidence (the focus family's map): a disc is at least this share of the
    #: background's blur where it sits, and a background sharper than this (working px) has none.
    min_disc_over_blur: float = 0.8
    sharp_background_px: float = 1.5
    #: the subject mask may hide part of a disc whose area is in view by at least this share
    #: (a shape wholly inside the mask must close its rim by itself; see :func:`_rim_fit`)
    min_visible_share: float = 0.25
    #: ... or whose rim faces the background (off the mask just outside it) on this share of rays
    min_facing_rays: float = 0.35
    #: oval discs share one orientation (anamorphic) when the resultant length of their doubled
    #: long-axis angles reaches this (cat's-eyes turn with the image radius).
    min_oval_agreement: float = 0.8
    #: an orb whose rim is partly hidden must look round on what is visible, and its visible rim
    #: must fit a disc (or blade polygon) outline within this RMS fraction of the radius.
    min_partial_aspect: float = 0.5
    max_partial_rim_rms: float = 0.03
    #: outlines whose 3rd/4th harmonic (triangle, square) dominates and exceeds this are rejected.
    max_low_harmonic: float = 0.07
    #: rim profile window: the rim +- (this x radius + 2 px), sampled at 2 x rim_samples + 1 points.
    rim_window: float = 0.6
    rim_samples: int = 32
    #: brightest Gaussian glow (peak over white) the rim criterion must reject: the bound on an
    #: optical disc's rim width is the rim width of such a glow (:func:`glow_rim_width`).
    glow_max_peak: float = 8.0
    #: the bound is taken this many stops brighter still, for the measurement's spread (a glow
    #: right at glow_max_peak measures within about 10 % of its theoretical width)
    glow_margin_stops: float = 1.0
    #: the lens's in-focus blur, a Gaussian sigma as a fraction of the long side (1.5 px at
    #: 1024 px): a small disc's rim may be this soft whatever its radius, if it falls like a
    #: softened step (symmetric), not like a glow (see :func:`classify`)
    lens_blur_frac: float = 0.0015
    #: a soft highlight counts as a round Gaussian smear (lowering disc_fraction) only when whole
    #: and at least this round.
    min_soft_circularity: float = 0.9


PARAMS = BokehParams()


def glow_rim_width(peak: float) -> float:
    """10-90 % rim width over the half-level radius of a Gaussian glow whose peak is ``peak``
    times the clip level (values below 1: unclipped, the width of the whole dome).

    A point light blurred by a Gaussian of sigma s and clipped at white is
    ``min(P exp(-rho^2 / 2 s^2), 1)``; on its unclipped shoulder (below the clip level) it
    reaches 90 %, 50 % and 10 % of white at ``rho_q = s sqrt(2 ln(P / q))``, so the rim width
    over the radius is ``(rho_0.1 - rho_0.9) / rho_0.5``, independent of s: 1.433 unclipped,
    0.369 at 8x white, falling only as ``1 / ln P``. An optical disc's rim is a step softened
    by the lens's in-focus blur, a few pixels: a small fraction of its radius.

    Examples
    --------
    >>> round(glow_rim_width(1.0), 3), round(glow_rim_width(8.0), 3)
    (1.433, 0.369)
    """
    p = max(float(peak), 1.0)
    return (math.sqrt(2 * math.log(p / 0.1)) - math.sqrt(2 * math.log(p / 0.9))) / math.sqrt(
        2 * math.log(p / 0.5))


#: an optical disc's rim (10-90 % width on the unclipped shoulder, over the radius) is narrower
#: than that of the brightest glow to reject.
MAX_RIM_WIDTH = glow_rim_width(PARAMS.glow_max_peak * 2.0 ** PARAMS.glow_margin_stops)


def glow_rim_asymmetry(peak: float) -> float:
    """Asymmetry of a Gaussian glow's fall on its unclipped shoulder: the outer half
    (50 % -> 10 %) over the inner half (90 % -> 50 %), ``(rho_0.1 - rho_0.5) / (rho_0.5 -
    rho_0.9)`` with ``rho_q = s sqrt(2 ln(P / q))``: 1.35 unclipped, rising with the peak (2.29
    at 8x white). A step softened by a lens's point spread function (any symmetric blur) falls
    symmetrically about its half level: 1 (a blurred disc of radius r measures 1.00-1.07 for
    sigma up to 0.4 r).

    Examples
    --------
    >>> round(glow_rim_asymmetry(1.0), 2), round(glow_rim_asymmetry(8.0), 2)
    (1.35, 2.29)
    """
    p = max(float(peak), 1.0)
    r10, r50, r90 = (math.sqrt(2 * math.log(p / q)) for q in (0.1, 0.5, 0.9))
    return (r10 - r50) / (r50 - r90)


#: a softened step is symmetric (1), the least asymmetric Gaussian glow (unclipped) 1.35: the
#: bound is their geometric mean.
MAX_RIM_ASYMMETRY = math.sqrt(1.0 * glow_rim_asymmetry(1.0))
#: 10-90 % width of a step blurred by a Gaussian of sigma 1 px.
STEP_EDGE_WIDTH = 2.0 * 1.2815515655446004


def max_rim_px(long_side: float) -> float:
    """Widest rim (10-90 %, px of an image ``long_side`` px long) of a step softened by the
    lens's in-focus blur (``PARAMS.lens_blur_frac`` of the long side, as a Gaussian sigma)
    and by the pixel (a 1 px box, 10-90 % width 0.8 px), added in quadrature.

    Examples
    --------
    >>> round(max_rim_px(768), 2)
    3.06
    """
    sigma = PARAMS.lens_blur_frac * float(long_side)
    return math.hypot(STEP_EDGE_WIDTH * sigma, 0.8)


#: the lowest seed level is also the least contrast a candidate needs.
SEED_MIN_CONTRAST = PARAMS.seed_levels[0]
#: rim 10-90 % width / half-level radius of a Gaussian spot.
GAUSSIAN_EDGE_WIDTH = (math.sqrt(2 * math.log(10)) - math.sqrt(2 * math.log(10 / 9))) / math.sqrt(
    2 * math.log(2))


F = "bokeh"
OUTPUTS = (
    Output(f"{F}.orb_count", "optical discs per image", "higher", (0, math.inf),
           "Background highlights that are optical bokeh discs (a flat light with a hard rim, "
           "round, bladed, oval, bubble or onion outline). 0 is a measurement: no optical "
           "discs among the highlights (a Gaussian blur makes glows, not discs)."),
    Output(f"{F}.disc_fraction", "share of highlights (0-1)", "higher", (0, 1),
           "Optical discs among all background highlights (discs + soft glows): 1 = every "
           "light is a bokeh disc, 0 = every light is a blurred glow. NaN only when the "
           "background has no highlights at all."),
    Output(f"{F}.circularity", "roundness 0-1 (1 = circle)", "higher", (0, 1),
           "Median roundness of the discs' outlines, 4 pi area / perimeter^2: 1 = circle; "
           "regular 9 / 6 / 5 blades give 0.96 / 0.91 / 0.87. NaN when there are no optical "
           "discs."),
    Output(f"{F}.orb_diameter_frac", "fraction of image width", "neither", (0, 1),
           "Median disc diameter over the image width (0.05 = discs 5 % of the frame wide); "
           "the thin lens sets it from focal length, f-number and distances."),
    Output(f"{F}.size_cv", "std/mean of diameters", "higher", (0, math.inf),
           "Spread of disc sizes (standard deviation over mean diameter): 0 = all one size, "
           "0.3 = sizes vary by about a third (lights at different distances). Needs 3 discs."),
    Output(f"{F}.edge_sharpness", "rim hardness 0-1 (1 = hard)", "higher", (0, 1),
           "Median rim hardness, 1 - (rim width / radius) / 1.433: 1 = a step (optical disc), "
           "0 = a Gaussian's falloff; a glow clipped at 8x white reaches 0.74, optical discs "
           "score 0.79 or more."),
    Output(f"{F}.aspect", "long/short axis (1 = round)", "neither", (1, math.inf),
           "Median ratio of the discs' long to short axis: 1 = round, 1.3-2 = anamorphic ovals "
           "(or cat's-eyes near the corners)."),
    Output(f"{F}.oval_angle_deg", "degrees from horizontal (90 = vertical)", "neither",
           (0, 180),
           "Direction of the oval discs' long axis, degrees from the horizontal, clockwise on "
           "screen: 90 = upright ovals (the usual anamorphic look), 0 = lying ovals. NaN when "
           "the discs are round or their long axes disagree (cat's-eyes)."),
    Output(f"{F}.polygon_order", "aperture blades", "neither", (5, 12),
           "Most common aperture blade count seen in the disc outlines; NaN when they are "
           "round."),
    Output(f"{F}.cats_eye_alignment", "cosine -1..1 (1 = lens-like)", "higher", (-1, 1),
           "Do squeezed discs near the edges lie along circles about the centre, as a lens "
           "barrel makes them? 1 = cat's-eyes as a lens makes them, 0 = random, -1 = radial. "
           "Needs 2 elongated off-centre discs."),
)

REASON_SMEAR = "the highlights fade out like a Gaussian blur (glows), not discs with a rim"


# ---- data -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Orb:
    """One measured round highlight, full-resolution pixels (see the module's Artifacts)."""

    x: float
    y: float
    r: float
    circularity: float
    aspect: float
    angle: float
    edge_sharpness: float
    brightness: float
    polygon_order: float
    coverage: float
    rim_width: float = math.nan

    def as_dict(self) -> dict[str, float]:
        """Full-resolution px; ``aspect`` as long/short axis (>= 1, like ``bokeh.aspect``)."""
        d = {k: float(v) for k, v in asdict(self).items()}
        d["aspect"] = 1.0 / d["aspect"] if d["aspect"] > 0 else math.nan
        return d


@dataclass(frozen=True)
class DiscMeasure:
    """A measured disc hypothesis, in the pixel coordinates of the array it was measured on.

    ``coverage``: fraction of rays whose rim fits the disc; ``low_harmonic``: amplitude of the
    strongest 3rd/4th harmonic of r(theta) relative to the mean radius when it dominates the
    blade band (triangles, squares, windows), else 0. ``mismatch``: fraction of rays whose
    rim neither fits the disc nor is hidden by a brighter neighbour or the frame edge.
    ``rim_rms``: trimmed RMS distance of the inlier rim points from the fitted rim (see
    :func:`_rim_rms`), relative to the radius. ``plateau_spread``: 10-90 % spread of the
    luminance inside 0.6 r (visible rays only), relative to the rim contrast hi - lo: an image
    of a light is flat inside, a bright patch of texture is not.
    """

    cx: float
    cy: float
    r: float
    coverage: float
    circularity: float
    aspect: float
    angle: float
    edge_sharpness: float
    hi: float
    lo: float
    polygon_order: float
    low_harmonic: float
    mismatch: float
    rim_rms: float = math.nan
    plateau_spread: float = math.nan
    #: 10-90 % width of the rim on the unclipped shoulder, relative to the radius
    rim_width: float = math.nan
    #: trimmed RMS of the visible rim about the best circle, relative to the radius
    circle_rms: float = math.nan
    #: the same about the best round outline (circle, or blade polygon without ellipse terms)
    round_rms: float = math.nan
    #: 10-90 % rim width in px (of the array measured), and the rim's asymmetry: the outer
    #: half (50 -> 10 %) over the inner half (90 -> 50 %) of the fall, 1 for a softened step
    rim_px: float = math.nan
    rim_asym: float = math.nan
    #: the rim points of the inlier rays (K, 2), px of the measured array
    rim_xy: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class _Component:
    x: int
    y: int
    w: int
    h: int
    area: float
    cx: float
    cy: float
    solidity: float
    contour: np.ndarray
    level: int


# ---- step 1: candidates ---------------------------------------------------------------------
def local_background(lum: np.ndarray, *, max_diameter_px: float) -> np.ndarray:
    """Local background level: a morphological opening larger than the largest orb.

    Computed on a 4x area-reduced copy (the cheap form of a large-kernel opening) and brought
    back to ``lum``'s size with bilinear interpolation.

    Parameters
    ----------
    lum : 2-D float32 array (linear luminance).
    max_diameter_px : diameter, in ``lum`` pixels, of the largest structure treated as a highlight.
    """
    h, w = lum.shape
    f = 4 if min(h, w) >= 64 else 1
    small = (cv2.resize(lum, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
             if f > 1 else lum)
    k = max(3, int(max_diameter_px / f) | 1)
    k = min(k, 2 * (min(small.shape) // 2) + 1)
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN,
                              cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    opened = cv2.blur(opened, (3, 3))
    return cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR) if f > 1 else opened


def find_candidates(lum: np.ndarray, background_mask: np.ndarray, *, min_diameter_px: float,
                    max_diameter_px: float, levels: tuple[float, ...] = PARAMS.seed_levels,
                    min_ratio: float = PARAMS.seed_min_ratio, floor: float = 0.0) -> list[_Component]:
    """Blobs of locally bright background pixels: white top-hat, thresholds, outer contours.

    A pixel is a seed at level t when it exceeds the local background
    (:func:`local_background`) by t (linear luminance) and by the factor ``min_ratio``, and is
    brighter than ``floor`` (the caller passes half the level an orb's plateau must reach, so
    the dim half of the frame never becomes a candidate). Several
    levels are used (an MSER-like ladder) because one threshold cannot separate an orb from the
    bright blurred window or lamp post it sits on: the orb stands alone at a higher level.
    Blobs too small, too large, strip-like (second-moment axis ratio below
    ``PARAMS.min_blob_axis_ratio``: not even a chain of two touching orbs) or ragged (solidity < 0.6)
    are dropped. Returns the
    blobs of every level, lowest level first, largest first within a level.
    """
    lum = np.asarray(lum, dtype=np.float32)
    bg = local_background(lum, max_diameter_px=max_diameter_px)
    top = cv2.subtract(lum, bg)
    allowed = cv2.bitwise_and(cv2.compare(lum, bg * np.float32(min_ratio), cv2.CMP_GT),
                              background_mask.astype(np.uint8) * np.uint8(255))
    if floor > 0:
        allowed = cv2.bitwise_and(allowed, cv2.compare(lum, float(floor), cv2.CMP_GT))
    min_area = 0.6 * math.pi * (min_diameter_px / 2) ** 2
    max_side = 2.0 * max_diameter_px
    min_side = 0.75 * min_diameter_px
    comps: list[_Component] = []
    for level, t in enumerate(levels):
        seed = cv2.bitwise_and(cv2.compare(top, float(t), cv2.CMP_GT), allowed)
        seed = cv2.morphologyEx(seed, cv2.MORPH_OPEN, _CROSS3)   # drop specks and threads
        contours, _ = cv2.findContours(seed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            break
        found: list[_Component] = []
        for cnt in contours:
            x, y, w, h = cv2.boundingRect(cnt)
            if (max(w, h) < min_side or max(w, h) > max_side
                    or min(w, h) < 0.25 * max(w, h)):
                continue
            mom = cv2.moments(cnt)
            # pixel area ~ polygon area through the boundary pixels' centres + half the boundary
            area = mom["m00"] + 0.5 * cv2.arcLength(cnt, True) + 1.0
            if area < min_area:
                continue
            hull = cv2.contourArea(cv2.convexHull(cnt))
            solidity = mom["m00"] / hull if hull > 0 else 1.0
            if solidity < 0.6:
                continue
            if mom["m00"] > 0:                  # axis ratio from the second moments
                a, b, c2 = mom["mu20"], mom["mu02"], mom["mu11"]
                root = math.sqrt(max(0.0, (a - b) ** 2 + 4 * c2 * c2))
                if a + b - root < PARAMS.min_blob_axis_ratio ** 2 * (a + b + root):
                    continue
            if mom["m00"] > 0:
                cx, cy = mom["m10"] / mom["m00"], mom["m01"] / mom["m00"]
            else:
                cx, cy = x + (w - 1) / 2, y + (h - 1) / 2
            found.append(_Component(x, y, w, h, area, cx, cy, solidity, cnt, level))
        found.sort(key=lambda c: (-c.area, c.cy, c.cx))
        comps += found
    return comps


# ---- step 2: proposals inside merged blobs -----------------------------------------------------


def distance_proposals(mask: np.ndarray, *, min_r: float, max_n: int = 16
                       ) -> list[tuple[float, float, float]]:
    """Centres of the discs making up a merged blob: maxima of its distance transform."""
    m = np.pad(mask.astype(np.uint8), 1)
    dt = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    peaks = (dt >= cv2.dilate(dt, np.ones((5, 5), np.uint8))) & (dt >= max(min_r, 1.0))
    ys, xs = np.nonzero(peaks)
    order = np.lexsort((xs, ys, -dt[ys, xs]))
    out: list[tuple[float, float, float]] = []
    for i in order:
        x, y, r = float(xs[i] - 1), float(ys[i] - 1), float(dt[ys[i], xs[i]])
        if all((x - a) ** 2 + (y - b) ** 2 > (0.8 * max(r, c)) ** 2 for a, b, c in out):
            out.append((x, y, r))
        if len(out) >= max_n:
            break
    return out


def arc_proposals(contour: np.ndarray, inside: np.ndarray, *, keep: np.ndarray | None = None,
                  min_r: float, max_r: float, max_n: int = 16, min_arc: float = 0.25
                  ) -> list[tuple[float, float, float]]:
    """Circles whose arcs make up a blob's outline: a Hough transform of the outline's own
    points along their inward normals (Ballard 1981; the gradient form of Yuen et al. 1990),
    then each circle's supporting arc fitted (Kasa 1976) and removed, up to ``max_n`` circles.

    ``contour``: (N, 2) points of the blob's outer contour in order (x, y; px of ``inside``);
    ``inside``: the blob's mask (decides which normal points inward); ``keep``: (N,) bool, the
    points that may vote (False on the frame border or a region left out of the search: they
    are not the rim of a disc). A disc partly behind the subject or cut by the frame, and
    overlapping discs merged into one blob, each leave an arc of their own rim on the outline;
    a straight cut (frame, subject) votes for no centre. A circle is proposed when its arc
    covers ``min_arc`` of its circumference. Returns (cx, cy, r) in the contour's px.
    OpenCV's HoughCircles cannot be told which edge points to use, hence this form.
    """
    pts = np.asarray(contour, np.float64).reshape(-1, 2)
    n = len(pts)
    out: list[tuple[float, float, float]] = []
    if n < 12 or max_r < min_r:
        return out
    k = 3 if n >= 40 else 2
    tan = np.roll(pts, -k, axis=0) - np.roll(pts, k, axis=0)
    norm = np.hypot(tan[:, 0], tan[:, 1])
    nrm = np.stack([tan[:, 1], -tan[:, 0]], axis=1) / np.maximum(norm, 1e-9)[:, None]
    h, w = inside.shape
    probe = np.rint(pts + 2.0 * nrm).astype(np.int64)
    okp = (probe[:, 0] >= 0) & (probe[:, 0] < w) & (probe[:, 1] >= 0) & (probe[:, 1] < h)
    hits = np.zeros(n, bool)
    hits[okp] = inside[probe[okp, 1], probe[okp, 0]]
    if hits.mean() < 0.5:
        nrm = -nrm                                      # point the normals into the blob
    use = (norm > 0) if keep is None else (np.asarray(keep, bool) & (norm > 0))
    # the contour's own steps: arc length per point (8-connected steps of 1 or sqrt 2 px)
    step = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T)
    radii = np.arange(max(1.0, min_r), max_r + 1.0, 1.0)
    pad = int(math.ceil(max_r)) + 2
    gw, gh = w + 2 * pad, h + 2 * pad
    alive = use.copy()
    # every point's votes (one per radius along its inward normal), cast once; a point's votes
    # are taken back when it is explained or discarded
    cxs = np.rint(pts[:, 0, None] + nrm[:, 0, None] * radii[None, :] + pad).astype(np.int64)
    cys = np.rint(pts[:, 1, None] + nrm[:, 1, None] * radii[None, :] + pad).astype(np.int64)
    inb = (cxs >= 0) & (cxs < gw) & (cys >= 0) & (cys < gh)
    flat = np.where(inb, cys * gw + cxs, gw * gh)                       # gw * gh: no vote

    def votes(sel: np.ndarray) -> np.ndarray:
        return np.bincount(flat[sel].ravel(), minlength=gw * gh + 1)[:-1].astype(np.float32)

    acc = votes(alive)
    misses = 0
    for _ in range(2 * max_n):
        if alive.sum() < 8 or misses >= 3:
            break
        peak = int(np.argmax(cv2.blur(acc.reshape(gh, gw), (3, 3))))
        py, px = divmod(peak, gw)
        c = np.array([px - pad, py - pad], np.float64)
        d = pts - c
        dist = np.hypot(d[:, 0], d[:, 1])
        aligned = alive & ((-(d * nrm).sum(axis=1)) >= 0.9 * dist)     # normal toward c
        if aligned.sum() < 8:
            break
        da = dist[aligned]
        da = da[(da >= radii[0]) & (da <= radii[-1])]
        if da.size == 0:
            break
        r = float(np.argmax(np.bincount(np.rint(da).astype(np.int64))))
        # supporters: the arc within a blade polygon's spread (+-15 %) of that radius
        sup = aligned & (np.abs(dist - r) <= max(1.5, PARAMS.inlier_tolerance * r))
        if sup.sum() >= 8:                              # refine: algebraic circle fit
            a = np.column_stack([2 * pts[sup], np.ones(int(sup.sum()))])
            b = (pts[sup] ** 2).sum(axis=1)
            sol, *_ = np.linalg.lstsq(a, b, rcond=None)
            r2 = sol[2] + sol[0] ** 2 + sol[1] ** 2
            if r2 > 0 and math.hypot(*(sol[:2] - c)) <= PARAMS.inlier_tolerance * r:
                c, r = sol[:2], math.sqrt(r2)
            else:
                r = float(np.median(dist[sup]))
        arc = float(step[sup].sum()) / (2 * math.pi * r)
        if arc < min_arc or sup.sum() < 8:
            acc -= votes(aligned)      # the strongest peak is not a circle: drop its voters
            alive &= ~aligned
            misses += 1
            continue
        misses = 0
        acc -= votes(sup)
        alive &= ~sup
        out.append((float(c[0]), float(c[1]), r))
        if len(out) >= max_n:
            break
    return out


# ---- step 3: measurement --------------------------------------------------------------------


@lru_cache(maxsize=32)
def _design(nr: int, blades: int = 0, ellipse: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Design matrix of r(theta) at ``nr`` equal angles: harmonics 0..1 (a circle), plus 2
    (``ellipse``: the ellipse terms), plus ``blades`` and twice ``blades`` (cos, sin) when given;
    and its per-ray outer products (rays, k * k) for the normal equations."""
    theta = 2 * np.pi * np.arange(nr) / nr
    cols = [np.ones_like(theta), np.cos(theta), np.sin(theta)]
    if ellipse:
        cols += [np.cos(2 * theta), np.sin(2 * theta)]
    if blades:
        cols += [f(k * blades * theta) for k in (1, 2) for f in (np.cos, np.sin)]
    d = np.stack(cols, axis=1)
    return d, (d[:, :, None] * d[:, None, :]).reshape(nr, -1)


def _weighted_lstsq(mask: np.ndarray, y: np.ndarray, *, blades: int = 0, ellipse: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``y`` (N, rays) on the :func:`_design` of (``blades``, ``ellipse``),
    each row over its masked rays: normal equations with the outer products precomputed (one
    matrix product for all rows). Returns (coefficients (N, k), design (rays, k))."""
    nr = mask.shape[1]
    design, outer = _design(nr, blades, ellipse)
    k = design.shape[1]
    w = mask.astype(np.float64)
    a = (w @ outer).reshape(-1, k, k) + 1e-9 * np.eye(k)
    b = (w * np.where(mask, y, 0.0)) @ design
    return np.linalg.solve(a, b[:, :, None])[:, :, 0], design

_CROSS3 = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


@lru_cache(maxsize=4)
def _ray_basis(n_rays: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = 2 * np.pi * np.arange(n_rays) / n_rays
    design = np.stack([np.ones_like(theta), np.cos(theta), np.sin(theta),
                       np.cos(2 * theta), np.sin(2 * theta)], axis=1)
    return np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32), design


@lru_cache(maxsize=8)
def _fourier_basis(k: int, m: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, m, endpoint=False)
    nn = np.arange(k + 1)
    return np.cos(np.outer(t, nn)), np.sin(np.outer(t, nn)), nn


def outline_shapes(radii: np.ndarray, *, max_harmonic: int = PARAMS.max_harmonic
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shape of star-shaped outlines r(theta), one per row, sampled at equal angles.

    The Fourier series of r(theta) is truncated at ``max_harmonic`` (this removes the sub-pixel
    jitter that would inflate the perimeter of small blobs), then

    * circularity = 4 pi A / P^2 of the smoothed outline (isoperimetric quotient, 1 = circle);
    * equivalent radius sqrt(A / pi);
    * polygon order: the dominant harmonic n in 5..12 when its amplitude is at least
      ``PARAMS.polygon_min_amplitude`` of the mean radius, three times the median of the other
      harmonics and twice any lower one (a regular n-gon has harmonics n, 2n, ... only); NaN
      when round;
    * low harmonic: amplitude of the 3rd/4th harmonic when it dominates the 5..12 band
      (triangle, square; a cat's-eye has a stronger 2nd harmonic), else 0.

    Returns four arrays (circularity, equivalent radius, polygon order, low harmonic).
    """
    radii = np.atleast_2d(np.asarray(radii, dtype=np.float64))
    m, n = radii.shape
    k = min(max_harmonic, n // 2 - 1)
    c = np.fft.rfft(radii, axis=1)[:, :k + 1] / n
    c = c * np.where(np.arange(k + 1) == 0, 1.0, 2.0)
    cos_b, sin_b, nn = _fourier_basis(k)
    a, b = c.real, c.imag
    r = a @ cos_b.T - b @ sin_b.T
    dr = -((a * nn) @ sin_b.T) - (b * nn) @ cos_b.T
    area = np.pi * np.mean(r ** 2, axis=1)
    perim = 2 * np.pi * np.mean(np.sqrt(r ** 2 + dr ** 2), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        circ = np.where(perim > 0, np.minimum(1.0, 4 * np.pi * area / perim ** 2), np.nan)
    amp = np.abs(c) / np.maximum(a[:, :1], 1e-9)
    order = np.full(m, np.nan)
    low = np.zeros(m)
    if k >= 12:
        rows = np.arange(m)
        best = np.argmax(amp[:, 5:13], axis=1) + 5
        cols = np.arange(k + 1)[None, :]
        others = (cols >= 3) & (cols != best[:, None])
        med = _masked_median(amp, others)
        lower = np.where((cols >= 3) & (cols < best[:, None]), amp, 0.0).max(axis=1)
        ab = amp[rows, best]
        poly = (ab >= PARAMS.polygon_min_amplitude) & (ab >= 3 * med) & (ab >= 2 * lower)
        order = np.where(poly, best.astype(float), np.nan)
        low = np.where(amp[:, 3] > ab, amp[:, 3], 0.0)                    # triangle
        square = amp[:, 4] > np.maximum(ab, amp[:, 2])
        low = np.where(square, np.maximum(low, amp[:, 4]), low)
    return circ, np.sqrt(np.maximum(area, 0.0) / np.pi), order, low


class RaySampler:
    """Samples linear luminance along rays, for many disc hypotheses at once.

    Coordinates are working pixels. Hypotheses with a radius below ``PARAMS.fullres_below_radius``
    working px are sampled on full-resolution crops of ``full_rgb`` (converted to linear
    luminance crop by crop and packed side by side in one mosaic, so one ``cv2.remap`` serves
    them all); the others on the working copy. Full-resolution pixel x relates to working pixel
    x by ``x_full = (x_work + 0.5) / scale - 0.5`` (pixel centres, as ``cv2.resize`` maps them).
    """

    def __init__(self, work_lum: np.ndarray, *, full_rgb: np.ndarray | None = None,
                 work_scale: float = 1.0, n_rays: int = PARAMS.n_rays,
                 occluder: np.ndarray | None = None):
        self.lum = np.asarray(work_lum, dtype=np.float32)
        #: where the subject may hide an orb (working px): a ray that runs into it before its
        #: rim is hidden there (see :func:`_rim_fit`)
        self.occ = None if occluder is None or not np.any(occluder) else np.asarray(occluder, bool)
        self._occ_f = None if self.occ is None else self.occ.astype(np.float32)
        #: summed-area table of the occluder: which hypotheses can reach it at all
        self._occ_sum = None if self.occ is None else cv2.integral(self.occ.astype(np.uint8))
        self.full = full_rgb if (full_rgb is not None and work_scale < 0.999) else None
        self.s = float(work_scale)
        self.cos, self.sin, self.design = _ray_basis(n_rays)
        self.n_rays = n_rays
        #: sample positions along a ray, in units of the hypothesis radius
        self.u = (np.arange(int(2.6 * PARAMS.samples_per_radius) + 2, dtype=np.float32)
                  / np.float32(PARAMS.samples_per_radius))

    def with_rays(self, n_rays: int) -> "RaySampler":
        """The same sampler casting ``n_rays`` rays (a cheap first pass)."""
        other = object.__new__(RaySampler)
        other.__dict__.update(self.__dict__)
        other.cos, other.sin, other.design = _ray_basis(n_rays)
        other.n_rays = n_rays
        return other

    def _near_occluder(self, cx: np.ndarray, cy: np.ndarray, reach: np.ndarray) -> np.ndarray:
        """Which hypotheses have occluder pixels within ``reach`` (a square) of their centre."""
        h, w = self.occ.shape
        x0 = np.clip(np.floor(cx - reach), 0, w).astype(np.int64)
        x1 = np.clip(np.ceil(cx + reach) + 1, 0, w).astype(np.int64)
        y0 = np.clip(np.floor(cy - reach), 0, h).astype(np.int64)
        y1 = np.clip(np.ceil(cy + reach) + 1, 0, h).astype(np.int64)
        t = self._occ_sum
        return (t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0]) > 0

    def sample(self, cx: np.ndarray, cy: np.ndarray, r0: np.ndarray, *, full: bool = True,
               rho: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Profiles (N, rays, samples), whether each sample lies inside the image, and whether
        it lies on the occluder (the subject; all False without one). ``full=False``: everything on the working copy (a cheap first pass). ``rho``: explicit
        distances from the centre (N, rays, samples; working px) instead of ``u * r0``."""
        h, w = self.lum.shape
        n, nr = len(cx), self.n_rays
        if rho is None:
            rr = r0.astype(np.float32)[:, None] * self.u[None, :]               # (N, S)
            rho = np.broadcast_to(rr[:, None, :], (n, nr, rr.shape[1]))
        rho = rho.astype(np.float32)
        ns = rho.shape[2]
        mx = cx.astype(np.float32)[:, None, None] + self.cos[None, :, None] * rho
        my = cy.astype(np.float32)[:, None, None] + self.sin[None, :, None] * rho
        in_img = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        hit = np.zeros_like(in_img)
        if self.occ is not None:
            near = self._near_occluder(cx, cy, rho.reshape(n, -1).max(axis=1) + 1.0)
            if near.any():
                hit[near] = cv2.remap(self._occ_f, mx[near].reshape(-1, ns),
                                      my[near].reshape(-1, ns), cv2.INTER_NEAREST,
                                      borderMode=cv2.BORDER_CONSTANT,
                                      borderValue=0.0).reshape(-1, nr, ns) > 0.5
        prof = np.empty((n, nr, ns), np.float32)
        small = ((r0 < PARAMS.fullres_below_radius) if (full and self.full is not None)
                 else np.zeros(n, bool))
        big = ~small
        if big.any():
            prof[big] = cv2.remap(self.lum, mx[big].reshape(-1, ns), my[big].reshape(-1, ns),
                                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                                  ).reshape(-1, nr, ns)
        if small.any():
            fh, fw = self.full.shape[:2]
            fx = (mx[small] + 0.5) / self.s - 0.5
            fy = (my[small] + 0.5) / self.s - 0.5
            crops, boxes, width = [], [], 0
            for i in range(fx.shape[0]):
                x0 = max(0, int(math.floor(fx[i].min())) - 1)
                x1 = min(fw, int(math.ceil(fx[i].max())) + 2)
                y0 = max(0, int(math.floor(fy[i].min())) - 1)
                y1 = min(fh, int(math.ceil(fy[i].max())) + 2)
                x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
                crops.append(luma(srgb_to_linear(self.full[y0:y1, x0:x1])))
                boxes.append((x0, y0, x1, y1, width))
                width += x1 - x0 + 2
            mosaic = np.zeros((max(c.shape[0] for c in crops), width), np.float32)
            for c, (x0, y0, x1, y1, ox) in zip(crops, boxes):
                mosaic[:c.shape[0], ox:ox + c.shape[1]] = c
            for i, (x0, y0, x1, y1, ox) in enumerate(boxes):
                fx[i] = np.clip(fx[i], x0, x1 - 1) - x0 + ox       # clamp = replicate the edge
                fy[i] = np.clip(fy[i], y0, y1 - 1) - y0
            prof[small] = cv2.remap(mosaic, fx.reshape(-1, ns), fy.reshape(-1, ns),
                                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                                    ).reshape(-1, nr, ns)
        return prof, in_img, hit


def _rim_fit(prof: np.ndarray, in_img: np.ndarray, occ: np.ndarray, r0: np.ndarray,
             sampler: RaySampler) -> dict[str, np.ndarray]:
    """Plateau, background, rim radii and the robust harmonic 0..2 rim fit of sampled rays
    (arrays with one row per hypothesis, radii in working px; ``in_img``: samples in the frame,
    ``occ``: samples on the occluder).

    The occluder (the subject mask) is evidence, not truth: a ray whose rim falls on it where
    the visible rays put the rim is a rim point (the mask took in part of the disc, as a
    segmentation may take a bright disc touching the person); one that runs into it and finds
    no such rim is hidden, not missing."""
    n = prof.shape[0]
    nr, u, design = sampler.n_rays, sampler.u, sampler.design
    spr = float(PARAMS.samples_per_radius)
    rows = np.arange(nr)[None, :]
    idx = np.arange(n)[:, None]
    j0 = max(1, int(math.ceil(0.3 * spr)))
    # lower quartile over the visible rays at each radius (a brighter neighbour covers a few
    # rays; samples off the frame or on the subject say nothing about this disc)
    vis = in_img & ~occ
    part = ~vis.reshape(n, -1).all(axis=1)          # rows with hidden samples (the rest: fast)
    inner_s = u <= 0.9
    outer_s = u >= 1.0
    pq = np.partition(prof[:, :, inner_s], nr // 4, axis=1)[:, nr // 4, :]
    lo = np.partition(prof[:, :, outer_s].min(axis=2), nr // 2, axis=1)[:, nr // 2]
    if part.any():
        pp, vp, ip = prof[part], vis[part], in_img[part]
        q = _masked_quantile(pp[:, :, inner_s], vp[:, :, inner_s], 0.25)
        q = np.where(np.isfinite(q), q, _masked_quantile(pp[:, :, inner_s], ip[:, :, inner_s], 0.25))
        pq[part] = np.where(np.isfinite(q), q, pq[part])
        # background: each ray's darkest visible sample outside the radius, median over the
        # rays that have one
        lp = np.full(int(part.sum()), np.nan)
        for seen in (vp, ip):
            ray_min = np.where(seen[:, :, outer_s], pp[:, :, outer_s], np.inf).min(axis=2)
            lo2 = _masked_quantile(ray_min[:, :, None], np.isfinite(ray_min)[:, :, None], 0.5)[:, 0]
            lp = np.where(np.isfinite(lp), lp, lo2)
        lo[part] = lp
    hi = pq.max(axis=1)
    lo = np.where(np.isfinite(lo), lo, hi)
    # the rim is where the profile falls through half the level of the disc's dimmest interior
    # (a soap bubble is dim inside its bright rim, an onion disc has dark rings): the first
    # crossing outward is then the outer edge
    uq = u[u <= 0.9]
    inner = pq[:, (uq >= 0.3) & (uq <= 0.8)].min(axis=1)
    inner = np.clip(inner, lo + 0.3 * (hi - lo), hi)
    level = lo + 0.5 * (inner - lo)
    below = prof[:, :, j0:] < level[:, None, None]
    j = np.argmax(below, axis=2) + j0
    # a rim point is in the frame from where the ray comes into view up to the crossing; it is
    # seen when the ray does not run into the subject first (a centre may lie just under the
    # subject's outline: the ray counts from where it comes into view)
    crossed = below.any(axis=2) & (j > j0)
    ns = prof.shape[2]
    fh_img = np.full((n, nr), ns)
    fh_vis = np.full((n, nr), ns)
    if part.any():
        fh_img[part] = _first_hidden(in_img[part])
        fh_vis[part] = _first_hidden(vis[part])
    ok = crossed & (fh_img > j)
    seen = ok & (fh_vis > j)
    p0, p1 = prof[idx, rows, j - 1], prof[idx, rows, j]
    frac = np.clip((p0 - level[:, None]) / np.where(p0 > p1, p0 - p1, 1.0), 0.0, 1.0)
    radii = (u[j - 1] + frac / spr) * r0[:, None]
    # robust fit: the median circle first, then harmonics 0..2 on the inliers; on an arc (a
    # partly hidden rim) the ellipse terms trade off against the radius and the centre, so
    # there the outline is a circle (harmonics 0..1)
    start = np.where((seen.sum(axis=1) >= 8)[:, None], seen, ok)
    r_ref = _masked_median(radii, start)
    r_ref = np.where(np.isfinite(r_ref), r_ref, r0)
    model = np.repeat(r_ref[:, None], nr, axis=1)
    whole = ok.mean(axis=1) >= PARAMS.min_shape_coverage
    for k, tol in enumerate((0.45, 0.3, PARAMS.inlier_tolerance)):
        inl = (start if k == 0 else ok) & (np.abs(radii - model) <= tol * r_ref[:, None])
        coef, _ = _weighted_lstsq(inl, radii)
        if not whole.all():
            c3, _ = _weighted_lstsq(inl, radii, ellipse=False)
            coef = np.where(whole[:, None], coef, np.pad(c3, ((0, 0), (0, 2))))
        model = coef @ design.T
        r_ref = np.where(coef[:, 0] > 0.5, coef[:, 0], r_ref)
    alive = (hi > lo) & (ok.sum(axis=1) >= nr // 8) & (inl.sum(axis=1) >= nr // 8)
    # where each ray is first hidden: from its start when the disc is in view (part of its
    # area off the subject mask: the centre of a disc behind the subject's outline may lie
    # under it; or its rim faces the background on PARAMS.min_facing_rays of the rays: the mask
    # took in a disc touching the person), else only after coming into view (a bright shape
    # inside the subject, its rim facing the subject, is not a disc the subject hides)
    hidden_at = np.full((n, nr), ns)
    if part.any():
        inside = u <= 1.0
        vp = vis[part]
        jb = np.minimum(j[part] + int(round(0.25 * spr)), ns - 1)
        facing = inl[part] & vp[np.arange(vp.shape[0])[:, None], rows, jb]
        shown = ((vp[:, :, inside].mean(axis=(1, 2)) >= PARAMS.min_visible_share)
                 | (facing.mean(axis=1) >= PARAMS.min_facing_rays))
        from_start = np.where((~vp).any(axis=2), np.argmax(~vp, axis=2), ns)
        hidden_at[part] = np.where(shown[:, None], from_start, fh_vis[part])
    return {"hi": hi, "lo": lo, "level": level, "radii": radii, "inl": inl, "coef": coef,
            "model": model, "r": r_ref, "alive": alive, "hidden_at": hidden_at}


def measure_discs(sampler: RaySampler, hyps: np.ndarray, *, min_level: float = 0.0
                  ) -> list[DiscMeasure | None]:
    """Measure disc hypotheses (N x 3: centre x, y and radius in working px) by casting rays.

    The rim on each ray is the half-level crossing (sub-pixel, linear interpolation) between
    the plateau ``hi`` (brightest level, inside 0.8 r, of the lower-quartile radial profile
    over rays: an overlapping brighter neighbour covers the other rays of a partly hidden
    orb) and the local background ``lo`` (median over rays of each ray's minimum outside r).
    Centre and radius are refined by a robust least-squares fit of r(theta) to harmonics 0..2
    (circle and ellipse terms) on the working copy, then the rays are cast again from the
    refined centre (on full-resolution crops for small orbs) and fitted again; rays whose rim
    departs from the fit by more than ``PARAMS.inlier_tolerance`` of the radius are dropped (they
    ran into a neighbouring orb or out of the image). All hypotheses are processed together
    (one remap, vectorised fits). A hypothesis with fewer than 8 rim rays gives None. The
    measurements are staged in the order :func:`classify` reads them, and a hypothesis that
    fails a stage keeps NaN for the later ones (most non-orbs stop early).
    """
    hyps = np.asarray(hyps, dtype=np.float64).reshape(-1, 3)
    n = hyps.shape[0]
    if n == 0:
        return []
    out: list[DiscMeasure | None] = [None] * n
    cx, cy, r0 = hyps[:, 0].copy(), hyps[:, 1].copy(), np.maximum(hyps[:, 2], 0.8)
    good = np.isfinite(cx) & np.isfinite(cy) & np.isfinite(r0)
    # pass 1, working copy: refine centre and radius
    keep = np.nonzero(good)[0]
    if keep.size == 0:
        return out
    coarse = sampler.with_rays(PARAMS.n_rays_coarse)
    prof, in_img, occ = coarse.sample(cx[keep], cy[keep], r0[keep], full=False)
    f = _rim_fit(prof, in_img, occ, r0[keep], coarse)
    # hopeless after the first pass (lenient: its centre may still be off)? then stop here
    cov1 = f["inl"].mean(axis=1)
    mis1 = _mismatch(prof, f, r0[keep])
    go_on = f["alive"] & (cov1 >= 0.6 * PARAMS.min_ray_coverage) & (f["hi"] >= 0.8 * min_level) \
        & (mis1 <= 2.5 * PARAMS.max_rim_mismatch)
    for i in np.nonzero(f["alive"] & ~go_on)[0]:
        out[keep[i]] = DiscMeasure(float(cx[keep[i]] + f["coef"][i, 1]),
                                   float(cy[keep[i]] + f["coef"][i, 2]), float(f["r"][i]),
                                   float(cov1[i]), math.nan, math.nan, math.nan, math.nan,
                                   float(f["hi"][i]), float(f["lo"][i]), math.nan, 0.0,
                                   float(mis1[i]))
    move = go_on & (np.hypot(f["coef"][:, 1], f["coef"][:, 2]) < 2.0 * r0[keep])
    keep, move, coef1, r1 = keep[go_on], move[go_on], f["coef"][go_on], f["r"][go_on]
    if keep.size == 0:
        return out
    cx[keep] = np.where(move, cx[keep] + coef1[:, 1], cx[keep])
    cy[keep] = np.where(move, cy[keep] + coef1[:, 2], cy[keep])
    r0[keep] = np.where(move, np.clip(r1, 0.8, 4.0 * r0[keep]), r0[keep])
    # pass 2, from the refined centre (full resolution for small orbs)
    sx, sy, sr = cx[keep], cy[keep], r0[keep]
    prof, in_img, occ = sampler.sample(sx, sy, sr)
    f = _rim_fit(prof, in_img, occ, sr, sampler)
    m = prof.shape[0]
    hi, lo, inl, model, r_fit = f["hi"], f["lo"], f["inl"], f["model"], f["r"]
    coverage = inl.mean(axis=1)
    mismatch = _mismatch(prof, f, sr)
    x, y = sx + f["coef"][:, 1], sy + f["coef"][:, 2]                     # fitted centres
    spread = np.full(m, np.nan)
    rim_rms = np.full(m, np.nan)
    circle_rms = np.full(m, np.nan)
    round_rms = np.full(m, np.nan)
    stage1 = f["alive"] & (coverage >= PARAMS.min_ray_coverage) & (hi >= min_level) \
        & (mismatch <= PARAMS.max_rim_mismatch) & (hi >= PARAMS.seed_min_ratio * np.maximum(lo, 0.0)) \
        & (hi - lo >= SEED_MIN_CONTRAST)
    if stage1.any():                 # flat inside? (visible rays, inside 0.6 r)
        p = np.nonzero(stage1)[0]
        inner = prof[p][:, :, sampler.u <= 0.6]
        # a light's image is radially structured (flat, a bubble, onion rings): what varies
        # from ray to ray at one radius is texture
        vis = inl[p][:, :, None]
        ring = (np.where(vis, inner, 0.0).sum(axis=1, keepdims=True)
                / np.maximum(vis.sum(axis=1, keepdims=True), 1))
        spread[p] = _masked_spread(inner - ring, inl[p], lower=True) / np.maximum(hi[p] - lo[p], 1e-6)
    stage2 = stage1 & (spread <= PARAMS.max_plateau_spread)
    partial = stage2 & (coverage < PARAMS.min_shape_coverage)
    if partial.any():                # the visible arc of a partly hidden orb
        p = np.nonzero(partial)[0]
        rim_rms[p], circle_rms[p], round_rms[p] = _rim_rms(f["radii"][p], inl[p], sampler,
                                                           r_fit[p])
    stage3 = stage2 & ~(partial & ~(rim_rms <= PARAMS.max_partial_rim_rms))
    for i in np.nonzero(f["alive"] & ~stage3)[0]:
        out[keep[i]] = DiscMeasure(float(x[i]), float(y[i]), float(r_fit[i]),
                                   float(coverage[i]), math.nan, math.nan, math.nan, math.nan,
                                   float(hi[i]), float(lo[i]), math.nan, 0.0,
                                   float(mismatch[i]), float(rim_rms[i]), float(spread[i]))
    if stage3.any():
        p = np.nonzero(stage3)[0]
        for i, mm in zip(p, _shape_and_rim(prof[p], sr[p], sx[p], sy[p], x[p], y[p],
                                           f["radii"][p], inl[p], model[p], hi[p], lo[p],
                                           r_fit[p], coverage[p], mismatch[p], sampler)):
            out[keep[i]] = replace(mm, rim_rms=float(rim_rms[i]),
                                   plateau_spread=float(spread[i]),
                                   circle_rms=float(circle_rms[i]),
                                   round_rms=float(round_rms[i]))
    return out


def _mismatch(prof: np.ndarray, f: dict[str, np.ndarray], r0: np.ndarray) -> np.ndarray:
    """Fraction of rays without a fitting rim that are neither hidden by a brighter neighbour
    (still bright just outside the fitted rim) nor out of the image: the blob is not this disc
    there."""
    rows = np.arange(prof.shape[1])[None, :]
    idx = np.arange(prof.shape[0])[:, None]
    j1 = np.clip(np.round(1.15 * f["model"] / r0[:, None] * PARAMS.samples_per_radius).astype(np.int64),
                 0, prof.shape[2] - 1)
    hidden = prof[idx, rows, j1] >= f["level"][:, None]
    # out of the frame, or into the subject, before the expected rim (see _rim_fit's
    # "hidden_at": a shape inside the subject mask whose rim does not close is not a disc the
    # subject hides)
    left = f["hidden_at"] <= j1
    return (~f["inl"] & ~hidden & ~left).mean(axis=1)


def _masked_spread(values: np.ndarray, rays: np.ndarray, *, lower: bool = False) -> np.ndarray:
    """10-90 % spread of ``values`` (N, rays, k) over the selected rays of each row; with
    ``lower``, twice the 10-50 % spread (the lower half only: light added by an overlapping
    orb raises values, it never lowers them)."""
    n = values.shape[0]
    flat = np.where(rays[:, :, None], values, np.inf).reshape(n, -1)
    srt = np.sort(flat, axis=1)
    cnt = rays.sum(axis=1) * values.shape[2]
    r = np.arange(n)
    i10 = np.clip((0.1 * (cnt - 1)).astype(np.int64), 0, None)
    if lower:
        i50 = np.clip((0.5 * (cnt - 1)).astype(np.int64), 0, None)
        return np.where(cnt > 0, 2.0 * (srt[r, i50] - srt[r, i10]), np.nan)
    i90 = np.clip((0.9 * (cnt - 1)).astype(np.int64), 0, None)
    return np.where(cnt > 0, srt[r, i90] - srt[r, i10], np.nan)


def _rim_rms(radii: np.ndarray, inl: np.ndarray, sampler: RaySampler, r: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trimmed RMS distance (the best 80 % of the inlier rays: rays grazing a neighbour are
    the rest) of the rim points from fitted outlines, relative to the radius: (the best of
    every outline, the circle, the best round outline). The outlines: circle (harmonics 0..1),
    ellipse (0..2), and for each blade count n = 5..9 the blade polygon (harmonics n and 2n)
    with and without the ellipse terms; "round" outlines are the circle and the blade polygons
    without ellipse terms. A visible arc of a real (round or polygonal) orb fits within ~2 %;
    the outline of a window or a glossy reflection cut into pieces does not."""
    best = np.full(radii.shape[0], np.inf)
    circle = best
    round_ = best
    keep = np.maximum((0.8 * inl.sum(axis=1)).astype(np.int64), 1)   # trim the worst 20 %
    rows = np.arange(len(keep))
    for blades, ellipse in [(0, False), (0, True)] + [(n, e) for n in (5, 6, 7, 8, 9)
                                                      for e in (False, True)]:
        coef, d = _weighted_lstsq(inl, radii, blades=blades, ellipse=ellipse)
        sq = np.sort(np.where(inl, (radii - coef @ d.T) ** 2, np.inf), axis=1)
        csum = np.cumsum(np.where(np.isfinite(sq), sq, 0.0), axis=1)
        res = csum[rows, keep - 1] / keep
        if blades == 0 and not ellipse:
            circle = res
        if not ellipse:
            round_ = np.minimum(round_, res)
        best = np.minimum(best, res)
    rr = np.maximum(r, 1e-6)
    return np.sqrt(best) / rr, np.sqrt(circle) / rr, np.sqrt(round_) / rr


def _rim_crossing(prof: np.ndarray, off: np.ndarray, level: float, *, outward: bool) -> np.ndarray:
    """Where each row of ``prof`` (N, K; sampled at ``off`` (N, K), increasing, the rim at the
    middle sample) crosses ``level``, searched from the rim outward (first sample below it) or
    inward (first sample at or above it), linearly interpolated; NaN when it never does within
    the window (a highlight that never falls to its background, or never reaches its plateau).
    Searching from the rim keeps a neighbour beyond the rim, a soap bubble's bright rim and an
    onion disc's rings out of the measurement."""
    n, k = prof.shape
    mid = k // 2
    rows = np.arange(n)
    if outward:
        seg = prof[:, mid:] < level
        j = mid + np.argmax(seg, axis=1)
        ok = seg.any(axis=1) & (j > 0)
        a, b = prof[rows, np.maximum(j - 1, 0)], prof[rows, j]
        oa, ob = off[rows, np.maximum(j - 1, 0)], off[rows, j]
    else:
        seg = prof[:, :mid + 1][:, ::-1] >= level
        j = mid - np.argmax(seg, axis=1)
        ok = seg.any(axis=1) & (j < k - 1)
        a, b = prof[rows, j], prof[rows, np.minimum(j + 1, k - 1)]
        oa, ob = off[rows, j], off[rows, np.minimum(j + 1, k - 1)]
    frac = np.clip((a - level) / np.where(a > b, a - b, 1.0), 0.0, 1.0)
    pos = oa + frac * (ob - oa)
    return np.where(ok & np.isfinite(a) & np.isfinite(b), pos, np.nan)


def _shape_and_rim(prof: np.ndarray, r0: np.ndarray, sx: np.ndarray, sy: np.ndarray,
                   x: np.ndarray, y: np.ndarray, radii: np.ndarray, inl: np.ndarray,
                   model: np.ndarray, hi: np.ndarray, lo: np.ndarray, r_fit: np.ndarray,
                   coverage: np.ndarray, mismatch: np.ndarray, sampler: RaySampler
                   ) -> list[DiscMeasure]:
    """Outline shape, ellipse and rim profile of the hypotheses that passed the rim tests,
    all at once (arrays with one row per hypothesis; ``sx, sy``: the rays' origin, ``x, y``:
    the fitted centre, ``model``: the fitted harmonic 0..2 rim, used where a ray is hidden)."""
    m, nr, ns = prof.shape
    spr = float(PARAMS.samples_per_radius)
    idx = np.arange(m)[:, None]
    rows = np.arange(nr)[None, :]
    # outline shape: needs (nearly) the whole rim; the few hidden rays take the fitted rim
    whole = coverage >= PARAMS.min_shape_coverage
    circ = np.full(m, np.nan)
    r_eq = r_fit.copy()
    order = np.full(m, np.nan)
    low = np.zeros(m)
    if whole.any():
        rr = np.where(inl, radii, model)[whole]
        circ[whole], r_eq[whole], order[whole], low[whole] = outline_shapes(rr)
    # rim profile on the unclipped shoulder: each clear ray resampled finely across its own rim
    # (hidden rays and rays that run into a neighbour just outside the rim are left out),
    # averaged over rays, normalised between the background lo and the plateau hi; the 90 % and
    # 10 % points are searched from the rim inward and outward (:func:`_rim_crossing`),
    # t = rho10 - rho90 in px, relative to the radius
    q_rim = radii / r0[:, None] * spr                                   # rim, in sample units
    beyond = np.clip(np.round(q_rim + 0.5 * spr * r_fit[:, None] / r0[:, None]).astype(np.int64),
                     0, ns - 1)
    clear = inl & (prof[idx, rows, beyond] < (lo + 0.25 * (hi - lo))[:, None])
    use = np.where((clear.sum(axis=1) >= 8)[:, None], clear, inl)
    rim = np.where(inl, radii, model)
    half_w = PARAMS.rim_window * r_fit + 2.0                             # working px
    g = np.linspace(-1.0, 1.0, 2 * PARAMS.rim_samples + 1)
    off = half_w[:, None] * g[None, :]                                   # (M, K)
    rho = np.maximum(rim[:, :, None] + off[:, None, :], 0.0)
    fine, fine_in, _ = sampler.sample(sx, sy, r0, rho=rho)
    w_ = (use[:, :, None] & fine_in).astype(np.float64)
    cnt = w_.sum(axis=1)
    mean_prof = (fine * w_).sum(axis=1) / np.maximum(cnt, 1)
    mean_prof = (mean_prof - lo[:, None]) / np.maximum(hi - lo, 1e-9)[:, None]
    mean_prof = np.where(cnt > 0, mean_prof, np.nan)
    p90 = _rim_crossing(mean_prof, off, 0.9, outward=False)
    p10 = _rim_crossing(mean_prof, off, 0.1, outward=True)
    # the half-way point, searched outward from the 90 % point
    after = (off >= np.nan_to_num(p90, nan=np.inf)[:, None]) & (mean_prof < 0.5)
    k50 = np.argmax(after, axis=1)
    rows_m = np.arange(m)
    a50, b50 = mean_prof[rows_m, np.maximum(k50 - 1, 0)], mean_prof[rows_m, k50]
    o_a, o_b = off[rows_m, np.maximum(k50 - 1, 0)], off[rows_m, k50]
    frac50 = np.clip((a50 - 0.5) / np.where(a50 > b50, a50 - b50, 1.0), 0.0, 1.0)
    p50 = np.where(after.any(axis=1) & (k50 > 0), o_a + frac50 * (o_b - o_a), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        asym = (p10 - p50) / (p50 - p90)
    t_px = p10 - p90
    width = t_px / np.maximum(r_eq, 1e-6)
    sharp = np.clip(1.0 - width / GAUSSIAN_EDGE_WIDTH, 0.0, 1.0)
    sharp = np.where(np.isfinite(width), sharp, 0.0)
    out = []
    for i in range(m):
        # ellipse (Fitzgibbon et al. 1999) through the rim points
        sel = inl[i]
        pts = np.stack([sx[i] + radii[i, sel] * sampler.cos[sel],
                        sy[i] + radii[i, sel] * sampler.sin[sel]], axis=1).astype(np.float32)
        aspect, angle = math.nan, math.nan
        (_, _), (ea, eb), eang = cv2.fitEllipseDirect(pts)
        if max(ea, eb) > 0 and math.isfinite(ea) and math.isfinite(eb):
            aspect = float(min(ea, eb) / max(ea, eb))
            angle = float((eang if ea >= eb else eang + 90.0) % 180.0)
        out.append(DiscMeasure(float(x[i]), float(y[i]), float(r_eq[i]), float(coverage[i]),
                               float(circ[i]), aspect, angle, float(sharp[i]), float(hi[i]),
                               float(lo[i]), float(order[i]), float(low[i]),
                               float(mismatch[i]), rim_width=float(width[i]),
                               rim_px=float(t_px[i]), rim_asym=float(asym[i]),
                               rim_xy=pts.astype(np.float64)))
    return out


def classify(m: DiscMeasure, *, min_level: float = 0.0, max_px: float = math.inf) -> str:
    """'orb', 'soft' (a round Gaussian smear) or the reason the hypothesis is not an orb.

    ``min_level``: the plateau must reach this linear luminance (the caller passes
    ``PARAMS.highlight_over_median`` x the median background luminance, capped at
    ``PARAMS.highlight_level_cap``: an orb is the image of a light source). ``max_px``: the
    widest rim (px of the measured array) of a step softened by the lens's in-focus blur
    (:func:`max_rim_px`).

    The rim criterion: an optical disc's rim is a step softened by at most the lens's in-focus
    blur. Either its width is a small fraction of the radius (below ``MAX_RIM_WIDTH``, the width
    of a glow one stop above the brightest to reject), or it is no wider than that blur
    (``max_px``), falls symmetrically about its half level (``MAX_RIM_ASYMMETRY``: a Gaussian's
    fall is not symmetric at any peak) and is narrower than the radius (the disc is resolved).
    A small disc softened by the lens thus stays a disc; a small glow does not.
    """
    if m.coverage < PARAMS.min_ray_coverage:
        return "rim not closed"
    if m.hi < min_level:
        return "not a highlight"
    if m.mismatch > PARAMS.max_rim_mismatch:
        return "rim does not fit a disc"
    if not (m.hi >= PARAMS.seed_min_ratio * max(m.lo, 0.0) and m.hi - m.lo >= SEED_MIN_CONTRAST):
        return "too faint"
    if m.plateau_spread > PARAMS.max_plateau_spread:
        return "textured inside, not a light"
    partial = m.coverage < PARAMS.min_shape_coverage
    if partial and not m.rim_rms <= PARAMS.max_partial_rim_rms:
        return "visible rim is not an arc of a disc"
    if partial and m.round_rms <= PARAMS.max_partial_rim_rms:
        pass                 # the visible arc is an arc of a circle or a blade polygon: round
    elif math.isfinite(m.aspect) and m.aspect < (PARAMS.min_partial_aspect if partial else PARAMS.min_aspect):
        return "elongated"
    if math.isfinite(m.circularity) and m.circularity < PARAMS.min_circularity:
        return "not round"
    if m.low_harmonic >= PARAMS.max_low_harmonic:
        return "square or triangular"
    if m.rim_width <= MAX_RIM_WIDTH:
        return "orb"
    if m.rim_px <= max_px and m.rim_asym <= MAX_RIM_ASYMMETRY and m.rim_width <= 1.0:
        return "orb"
    # a Gaussian smear is only recognised as such when it is whole and round
    if partial or not m.circularity >= PARAMS.min_soft_circularity:
        return "soft and not round"
    return "soft"


# ---- steps 1-4 together -----------------------------------------------------------------------
def _first_hidden(vis: np.ndarray) -> np.ndarray:
    """Index of the first hidden sample after the first visible one along the last axis
    (the length of the axis when the ray stays visible once in view)."""
    n = vis.shape[-1]
    seen = np.maximum.accumulate(vis, axis=-1)
    hid = seen & ~vis
    return np.where(hid.any(axis=-1), np.argmax(hid, axis=-1), n)


def _masked_quantile(values: np.ndarray, mask: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` (lower order statistic) over axis 1 of ``values`` (N, K, ...) restricted to
    ``mask``; NaN where a column has no masked entry."""
    v = np.sort(np.where(mask, values, np.inf), axis=1)
    k = mask.sum(axis=1, keepdims=True)
    i = np.clip((q * (k - 1)).astype(np.int64), 0, None)
    out = np.take_along_axis(v, i, axis=1)[:, 0]
    return np.where(k[:, 0] > 0, out, np.nan)


def _masked_median(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Median of each row over its masked entries (NaN when a row has none)."""
    v = np.sort(np.where(mask, values, np.inf), axis=1)
    k = mask.sum(axis=1)
    lo_i = np.maximum((k - 1) // 2, 0)
    hi_i = np.maximum(k // 2, 0)
    rows = np.arange(v.shape[0])
    med = 0.5 * (v[rows, lo_i] + v[rows, hi_i])
    return np.where(k > 0, med, np.nan)


def detect_orbs(work_lum: np.ndarray, background_mask: np.ndarray, *,
                full_rgb: np.ndarray | None = None, work_scale: float = 1.0,
                min_diameter_frac: float = PARAMS.min_diameter_frac,
                max_diameter_frac: float = PARAMS.max_diameter_frac,
                max_candidates: int = PARAMS.max_candidates,
                occluder: np.ndarray | None = None,
                background_blur: "Callable[[float, float], float] | None" = None) -> dict[str, Any]:
    """Find the background highlights and keep those that are optical discs.

    Parameters
    ----------
    work_lum : 2-D float array
        Linear luminance of the working copy.
    background_mask : bool array, same shape
        True on the background (highlights are only looked for there).
    full_rgb : H x W x 3 float sRGB, optional
        The full-resolution image: orbs smaller than ``PARAMS.fullres_below_radius`` working px are
        measured on crops of it.
    work_scale : float
        Working pixels per full-resolution pixel.
    occluder : bool array, same shape, optional
        Where the subject may hide orbs (rays into it are hidden, not missing).
    background_blur : callable ``(x, y) -> float``, optional
        The background's blur-disc diameter near working pixel (x, y), in working px, NaN where
        there is no edge evidence (the focus family's defocus map; see :func:`blur_lookup`).
        With evidence, a disc must be at least ``PARAMS.min_disc_over_blur`` times that blur
        (smaller specks are texture) and the background must not be sharp
        (``PARAMS.sharp_background_px``): a sharp background has no defocus discs.

    Returns
    -------
    dict: ``orbs`` and ``soft`` (lists of :class:`Orb`, full-resolution px, sorted by y then
    x), ``n_candidates`` (blobs examined), ``rejected`` (hypotheses rejected, by reason).
    """
    lum = np.asarray(work_lum, dtype=np.float32)
    bgm = np.asarray(background_mask, dtype=bool)
    H, W = lum.shape
    out: dict[str, Any] = {"orbs": [], "soft": [], "n_candidates": 0, "rejected": {}}
    if min(H, W) < 8 or not bgm.any():
        return out
    s = float(work_scale)
    min_d = max(3.0, min_diameter_frac * max(H, W))
    rim_px_max = max_rim_px(max(H, W))
    max_d = max(min_d + 1.0, max_diameter_frac * min(H, W))
    k = max(1, int(math.sqrt(H * W / 20000)))          # ~20 000 samples are plenty
    bg_values = lum[::k, ::k][bgm[::k, ::k]]
    if bg_values.size == 0:
        bg_values = lum[bgm]
    min_level = min(PARAMS.highlight_over_median * float(np.median(bg_values)), PARAMS.highlight_level_cap)
    # candidates are searched on a half-size copy ("blob px": 1 blob px = f working px); the
    # smallest orb is still ~4 px across there, and the search costs a quarter
    f = 2 if min(H, W) >= 384 else 1
    if f > 1:
        hb, wb = H // f, W // f
        blum = cv2.resize(lum, (wb, hb), interpolation=cv2.INTER_AREA)
        bbgm = cv2.resize(bgm.astype(np.uint8), (wb, hb), interpolation=cv2.INTER_NEAREST) > 0
    else:
        hb, wb, blum, bbgm = H, W, lum, bgm
    comps = find_candidates(blum, bbgm, min_diameter_px=min_d / f, max_diameter_px=max_d / f,
                            floor=0.5 * min_level)
    if not comps:
        return out

    def to_work(v: float) -> float:
        return (v + 0.5) * f - 0.5

    def to_blob(v: float) -> float:
        return (v + 0.5) / f - 0.5
    occ = None
    if occluder is not None and np.any(occluder):
        occ = cv2.dilate(np.asarray(occluder, np.uint8), np.ones((7, 7), np.uint8)) > 0
    sampler = RaySampler(lum, full_rgb=full_rgb, work_scale=s, occluder=occ)
    rejected: dict[str, int] = out["rejected"]
    # accepted hypotheses: (orb (full-res px), is a disc, rim level, (x, y, r) working px,
    # quality, measure); duplicates of one disc are all kept and resolved at the end (the best
    # that survives the checks on the whole set wins)
    found: list[tuple[Orb, bool, float, tuple[float, float, float], float, DiscMeasure]] = []
    owner = np.zeros((hb, wb), np.uint16)    # 1 + index of the examined blob covering a pixel
    owner_area: list[float] = []

    def reject(why: str) -> None:
        rejected[why] = rejected.get(why, 0) + 1
    trace: list = out.setdefault("trace", [])

    ring = [(math.cos(a), math.sin(a)) for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)]

    def on_subject(x: float, y: float, r: float) -> bool:
        """The centre and the whole ring at half the radius are off the background (an orb
        hugging the subject's outline stays, whatever a few pixels of the face box do)."""
        pts = [(x, y)] + [(x + 0.5 * r * c, y + 0.5 * r * sn) for c, sn in ring]
        for px, py in pts:
            ix, iy = int(round(px)), int(round(py))
            if 0 <= ix < W and 0 <= iy < H and bgm[iy, ix]:
                return False
        return True

    def record(hyps: list[tuple[float, float, float]]) -> list[tuple[str, int]]:
        """Measure hypotheses (working px) together; keep the orbs and soft highlights.
        Returns (verdict, index into ``found`` or -1) per hypothesis."""
        verdicts = []
        for hyp, m in zip(hyps, measure_discs(sampler, np.array(hyps, dtype=np.float64).reshape(-1, 3),
                                              min_level=min_level)):
            verdict = "no rim" if m is None else classify(m, min_level=min_level, max_px=rim_px_max)
            hx, hy, hr = (hyp if m is None else (m.cx, m.cy, m.r))
            trace.append({"x": (hx + 0.5) / s - 0.5, "y": (hy + 0.5) / s - 0.5, "r": hr / s,
                          "verdict": verdict,
                          "rim_width": math.nan if m is None else m.rim_width,
                          "coverage": math.nan if m is None else m.coverage,
                          "mismatch": math.nan if m is None else m.mismatch,
                          "rim_rms": math.nan if m is None else m.rim_rms,
                          "round_rms": math.nan if m is None else m.round_rms,
                          "spread": math.nan if m is None else m.plateau_spread,
                          "rim_px": math.nan if m is None else m.rim_px,
                          "rim_asym": math.nan if m is None else m.rim_asym})
            if m is not None and verdict in ("orb", "soft"):
                wx, wy, wr = m.cx, m.cy, m.r
                if not (min_d / 2 <= wr <= max_d / 2):
                    verdict = "size out of range"
                elif on_subject(wx, wy, wr):
                    verdict = "centre on the subject"
                elif (b := _blur_at(background_blur, wx, wy)) == b and (
                        b < PARAMS.sharp_background_px or 2 * wr < PARAMS.min_disc_over_blur * b):
                    verdict = ("background is sharp here: not a defocus disc"
                               if b < PARAMS.sharp_background_px
                               else "smaller than the background's blur: texture, not a disc")
                else:
                    # a partly hidden disc whose visible arc is round (circle, blade polygon) has
                    # no measurable aspect: an ellipse through an arc is not determined
                    round_arc = (m.coverage < PARAMS.min_shape_coverage
                                 and m.round_rms <= PARAMS.max_partial_rim_rms)
                    aspect, angle = (math.nan, math.nan) if round_arc else (m.aspect, m.angle)
                    orb = Orb((wx + 0.5) / s - 0.5, (wy + 0.5) / s - 0.5, wr / s,
                              m.circularity, aspect, angle, m.edge_sharpness, m.hi,
                              m.polygon_order, m.coverage, m.rim_width)
                    quality = (float(m.coverage >= PARAMS.min_shape_coverage) + m.coverage
                               - 2.0 * m.mismatch)
                    found.append((orb, verdict == "orb", m.lo + 0.5 * (m.hi - m.lo),
                                  (wx, wy, wr), quality, m))
                    verdicts.append((verdict, len(found) - 1))
                    continue
            reject(verdict)
            verdicts.append((verdict, -1))
        return verdicts

    # outline points that are not a disc's rim: the frame's edge and the edge of the regions left
    # out of the search (the faces), in blob px
    cut_map = np.zeros((hb, wb), bool)
    cut_map[[0, -1], :] = True
    cut_map[:, [0, -1]] = True
    if not bbgm.all():
        cut_map |= cv2.dilate((~bbgm).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0

    examined = 0
    todo: list[tuple[_Component, np.ndarray, bool]] = []
    for c in comps:                          # lowest level first
        py, px = min(hb - 1, max(0, round(c.cy))), min(wb - 1, max(0, round(c.cx)))
        parent = int(owner[py, px])
        if parent and c.area > (0.6 if owner_area[parent - 1] >= 0 else 0.8) * abs(
                owner_area[parent - 1]):
            continue                    # nearly the same blob as one measured already
        peak_ok = float(lum[c.y * f:(c.y + c.h) * f, c.x * f:(c.x + c.w) * f].max()) \
            >= min_level
        if peak_ok and examined >= max_candidates:
            reject("over the candidate budget")
            continue
        mask = np.zeros((c.h, c.w), np.uint8)
        cv2.drawContours(mask, [c.contour - np.array([c.x, c.y])], -1, 1, thickness=-1)
        # one disc? (the blob against the disc of its area at its centroid)
        disc = np.zeros_like(mask)
        cv2.circle(disc, (round(c.cx - c.x), round(c.cy - c.y)),
                   max(1, round(math.sqrt(c.area / math.pi))), 1, -1)
        inter = np.count_nonzero(disc & mask)
        single = inter >= PARAMS.min_single_iou * np.count_nonzero(disc | mask)
        if len(owner_area) < 65535:
            # a blob inside this one, at a higher level, is worth a look unless this one is
            # one disc (its measurement does not depend on the level), or too dim to hold a
            # highlight
            owner_area.append(0.0 if not peak_ok else (c.area if single else -c.area))
            cv2.drawContours(owner, [c.contour], -1, len(owner_area), thickness=-1)
        if not peak_ok:
            reject("not a highlight")
            continue
        examined += 1
        todo.append((c, mask, single))
    # 1) blobs that look like one disc: measure them as such, all at once (every level)
    singles = [t for t in todo if t[2]]
    hyps = [(to_work(c.cx), to_work(c.cy), f * math.sqrt(c.area / math.pi)) for c, _, _ in singles]
    uniq = set(_distinct(hyps, []))
    got = dict(zip(uniq, record(sorted(uniq, key=hyps.index))))
    split: list[tuple[_Component, np.ndarray]] = []
    for h, (c, mask, _) in zip(hyps, singles):
        verdict, fi = got.get(h, ("duplicate", -1))
        if verdict in ("soft", "duplicate"):
            continue                    # a smear's skirt is not a neighbouring orb; one circle
            #                             measured once
        if verdict == "orb" and fi >= 0:
            o = found[fi][0]
            # does the orb leave part of the blob unexplained (a smaller orb on its rim)?
            disc = np.zeros_like(mask)
            cv2.circle(disc, (round(to_blob((o.x + 0.5) * s - 0.5) - c.x),
                              round(to_blob((o.y + 0.5) * s - 0.5) - c.y)),
                       max(1, round(o.r * s / f)), 1, -1)
            if np.count_nonzero(mask & (disc == 0)) < 0.15 * np.count_nonzero(mask):
                continue
        split.append((c, mask))
    split += [(c, mask) for c, mask, single in todo if not single]
    # blobs the whole discs found so far explain already need no proposals
    claimed = np.zeros((hb, wb), np.uint8)
    for t in found:
        if t[1] and t[0].coverage >= PARAMS.min_shape_coverage:
            wx, wy, wr = t[3]
            cv2.circle(claimed, (round(to_blob(wx)), round(to_blob(wy))), round(wr / f + 1), 1, -1)
    split = [(c, mask) for c, mask in split
             if np.count_nonzero(mask & ~claimed[c.y:c.y + c.h, c.x:c.x + c.w].astype(bool))
             >= 0.1 * np.count_nonzero(mask)]
    # 2) blobs made of several discs, or one disc cut by the frame or the face: the circles
    #    of the arcs of their outline and the distance transform's discs, all at once
    props: list[tuple[float, float, float]] = []
    for c, mask in split:
        pts = c.contour.reshape(-1, 2)
        keep = ~cut_map[pts[:, 1], pts[:, 0]]
        arcs = arc_proposals(pts - np.array([c.x, c.y]), mask > 0, keep=keep,
                             min_r=min_d / 2 / f, max_r=0.6 * max(c.w, c.h))
        dt = distance_proposals(mask, min_r=min_d / 2 / f)
        if not arcs and len(dt) < 2:
            reject("irregular blob")
            continue
        arcs += dt
        props += [(to_work(px + c.x), to_work(py + c.y), f * pr) for px, py, pr in arcs]
    if props:
        record(_distinct(props, [t[3] for t in found if t[0].coverage
                                 >= PARAMS.min_shape_coverage]))
    out["n_candidates"] = examined
    # resolve the set: among duplicates (centres within 0.6 of the larger radius) the best
    # alive one stands for the disc; a partly hidden rim must be hidden by the frame, the subject
    # or overlapping discs, not by any bright shape; an elongated disc must be optical. A
    # failure falls back to the next best duplicate.
    alive = [True] * len(found)
    why_dead: dict[int, str] = {}

    xyr = np.array([t[3] for t in found], np.float64).reshape(-1, 3)
    quality = np.array([t[4] for t in found], np.float64)
    dup = (np.hypot(xyr[:, None, 0] - xyr[None, :, 0], xyr[:, None, 1] - xyr[None, :, 1])
           < 0.6 * np.maximum(xyr[:, None, 2], xyr[None, :, 2]))

    def winners() -> list[int]:
        order = [i for i in np.argsort(-quality, kind="stable") if alive[i]]
        taken = np.zeros(len(found), bool)
        chosen: list[int] = []
        for i in order:
            if not taken[i]:
                chosen.append(int(i))
                taken |= dup[i]
        return chosen

    for _ in range(4):
        win = winners()
        bad: dict[int, str] = {}
        part = [i for i in win if found[i][0].coverage < PARAMS.min_shape_coverage]
        if part:
            wxyz = np.array([found[i][3] for i in win])
            pos = {i: q for q, i in enumerate(win)}
            nbrs = []
            for i in part:
                d = np.hypot(wxyz[:, 0] - found[i][3][0], wxyz[:, 1] - found[i][3][1])
                close = (d < 1.05 * (wxyz[:, 2] + found[i][3][2]))
                close[pos[i]] = False
                nbrs.append(wxyz[close])
            fit = union_explains(lum, np.array([found[i][3] for i in part]),
                                 np.array([found[i][2] for i in part]), nbrs, occluder=occ)
            for i, v in zip(part, fit):
                if v < PARAMS.min_union_fit:
                    bad[i] = "hidden rim not explained"
        keep = optically_consistent([found[i][0] for i in win], width=W / s, height=H / s)
        for i, ok in zip(win, keep):
            if not ok and i not in bad:
                bad[i] = "elongated, not optical"
        # a partly hidden disc's visible rim is an arc of a circle or blade polygon, or, when
        # the whole discs are anamorphic ovals, of an oval of their shape (one lens, one
        # squeeze): an ellipse through an arc is not determined by the arc alone
        oval = _oval_consensus([found[i][0] for i in win])
        for i in win:
            m_ = found[i][5]
            if i in bad or m_.coverage >= PARAMS.min_shape_coverage \
                    or m_.round_rms <= PARAMS.max_partial_rim_rms:
                continue
            fit = None if oval is None else _oval_arc(m_.rim_xy, *oval)
            if fit is None or fit[3] > PARAMS.max_partial_rim_rms:
                bad[i] = "visible rim is not an arc of a disc"
                continue
            o = found[i][0]
            ox, oy, r_eq = fit[:3]
            found[i] = (replace(o, x=(ox + 0.5) / s - 0.5, y=(oy + 0.5) / s - 0.5, r=r_eq / s,
                                aspect=1.0 / oval[0], angle=oval[1]),) + found[i][1:3] \
                + ((ox, oy, r_eq),) + found[i][4:]
        if not bad:
            break
        for i, why in bad.items():
            alive[i] = False
            why_dead[i] = why
    win = winners()
    won = set(win)
    for i in range(len(found)):
        if i in won:
            continue
        o = found[i][0]
        why = why_dead.get(i, "duplicate")
        reject({"hidden rim not explained": "hidden rim not explained by neighbours",
                "elongated, not optical": "elongated, neither cat's-eye nor anamorphic"}.get(why, why))
        trace.append({"x": o.x, "y": o.y, "r": o.r, "verdict": why, "rim_width": o.rim_width})
    found = [found[i] for i in win]
    found.sort(key=lambda t: (t[0].y, t[0].x))
    out["orbs"] = [t[0] for t in found if t[1]]
    out["soft"] = [t[0] for t in found if not t[1]]
    return out


def _oval_consensus(orbs: list[Orb]) -> tuple[float, float] | None:
    """(aspect long/short, angle degrees) shared by the whole elongated discs when there are at
    least 3 of them and their long axes agree (``PARAMS.min_oval_agreement``); else None."""
    ov = [o for o in orbs if o.coverage >= PARAMS.min_shape_coverage and math.isfinite(o.aspect)
          and o.aspect < PARAMS.round_aspect and math.isfinite(o.angle)]
    if len(ov) < 3:
        return None
    mean, res = _axial_mean_deg([o.angle for o in ov])
    if res < PARAMS.min_oval_agreement:
        return None
    return float(np.median([1.0 / o.aspect for o in ov])), mean


def _oval_arc(pts: np.ndarray | None, aspect: float, angle_deg: float
              ) -> tuple[float, float, float, float] | None:
    """Fit rim points (K, 2) with an oval of the given aspect (long/short) and long-axis angle:
    unsqueeze along the long axis, fit a circle (Kasa 1976), squeeze back. Returns (centre x,
    centre y, equivalent-area radius, trimmed RMS distance over that radius) or None."""
    if pts is None or len(pts) < 8:
        return None
    t = math.radians(angle_deg)
    u = np.array([math.cos(t), math.sin(t)])
    v = np.array([-u[1], u[0]])
    q = np.stack([pts @ u / aspect, pts @ v], axis=1)       # long axis shrunk to the short one
    a = np.column_stack([2 * q, np.ones(len(q))])
    sol, *_ = np.linalg.lstsq(a, (q ** 2).sum(axis=1), rcond=None)
    r2 = sol[2] + sol[0] ** 2 + sol[1] ** 2
    if not r2 > 0:
        return None
    rs = math.sqrt(r2)
    d = np.sort(np.abs(np.hypot(q[:, 0] - sol[0], q[:, 1] - sol[1]) - rs))
    rms = float(np.sqrt(np.mean(d[:max(1, int(0.8 * len(d)))] ** 2))) / rs
    c = sol[0] * aspect * u + sol[1] * v
    return float(c[0]), float(c[1]), rs * math.sqrt(aspect), rms


def _distinct(props: list[tuple[float, float, float]], known: list[tuple[float, float, float]]
              ) -> list[tuple[float, float, float]]:
    """The proposals (x, y, r) that are not the same circle as an earlier one or as a ``known``
    disc (centres within a quarter of the radius, radii within 25 %): one disc is measured
    once."""
    if not props:
        return []
    p = np.asarray(props, np.float64).reshape(-1, 3)
    ref = np.concatenate([np.asarray(known, np.float64).reshape(-1, 3), p])
    big = np.maximum(p[:, None, 2], ref[None, :, 2])
    same = ((np.hypot(p[:, None, 0] - ref[None, :, 0], p[:, None, 1] - ref[None, :, 1])
             <= 0.25 * big) & (np.abs(p[:, None, 2] - ref[None, :, 2]) <= 0.25 * big))
    nk = len(known)
    keep = np.zeros(len(p), bool)
    for i in range(len(p)):
        keep[i] = not (same[i, :nk].any() or (same[i, nk:nk + i] & keep[:i]).any())
    return [props[i] for i in np.nonzero(keep)[0]]


def _blur_at(blur: "Callable[[float, float], float] | None", x: float, y: float) -> float:
    if blur is None:
        return math.nan
    try:
        v = float(blur(x, y))
    except (TypeError, ValueError, IndexError):
        return math.nan
    return v if math.isfinite(v) and v >= 0 else math.nan


def blur_lookup(defocus: Any, shape: tuple[int, int]) -> "Callable[[float, float], float] | None":
    """``(x, y) -> blur-disc diameter (working px) or NaN`` from what the focus family offers as
    ``ctx.defocus``: a callable of that form, a float array over the frame on any grid holding
    diameters in working px (NaN = no evidence), or an object carrying such an array as ``blur_px`` / ``diameter_px`` or a method
    ``at(x, y)``. Anything else (or None) gives None: no size criterion.

    Examples
    --------
    >>> f = blur_lookup(np.full((4, 4), 3.0), (4, 4))
    >>> f(1.2, 2.7)
    3.0
    >>> blur_lookup(None, (4, 4)) is None
    True
    """
    if defocus is None:
        return None
    arr = None
    if isinstance(defocus, np.ndarray):
        arr = defocus
    else:
        for name in ("blur_px", "diameter_px"):
            a = getattr(defocus, name, None)
            if isinstance(a, np.ndarray):
                arr = a
                break
    if arr is not None:
        if arr.ndim != 2:
            return None
        sy, sx = arr.shape[0] / shape[0], arr.shape[1] / shape[1]   # any grid over the frame
        h, w = arr.shape

        def at(x: float, y: float) -> float:
            i = int(min(max(round((y + 0.5) * sy - 0.5), 0), h - 1))
            j = int(min(max(round((x + 0.5) * sx - 0.5), 0), w - 1))
            return float(arr[i, j])
        return at
    if callable(getattr(defocus, "at", None)):
        return defocus.at
    if callable(defocus):
        return defocus
    return None


def _tangential_cos2(o: Orb, width: float, height: float) -> tuple[float, float]:
    """(cos 2 delta, distance from the centre / half diagonal); delta = angle between the orb's
    major axis and the tangential direction about the image centre."""
    cx, cy = (width - 1) / 2, (height - 1) / 2
    tangential = math.degrees(math.atan2(o.y - cy, o.x - cx)) + 90.0
    rel = math.hypot(o.x - cx, o.y - cy) / (math.hypot(width, height) / 2)
    return math.cos(2 * math.radians(o.angle - tangential)), rel


def optically_consistent(orbs: list[Orb], *, width: float, height: float) -> list[bool]:
    """Which orbs an optical system explains. Round orbs (aspect >= ``PARAMS.round_aspect``) always;
    elongated ones when they are cat's-eyes (mechanical vignetting squeezes an orb along the
    image radius, so its major axis is tangential: cos 2 delta >= 0.5, and it lies off-centre)
    or anamorphic ovals (at least 3 elongated orbs whose major axes agree within 20 degrees).
    Any other elongated bright shape (a window, a lamp shade) is not the image of a point."""
    keep = []
    elongated = [o for o in orbs if math.isfinite(o.aspect) and o.aspect < PARAMS.round_aspect]
    for o in orbs:
        if not (math.isfinite(o.aspect) and o.aspect < PARAMS.round_aspect):
            keep.append(True)
            continue
        c2, rel = _tangential_cos2(o, width, height)
        if c2 >= 0.5 and rel >= 0.25 and o.coverage >= PARAMS.min_shape_coverage:
            keep.append(True)               # a cat's-eye (its outline must be whole to say so)
            continue
        same = sum(abs((p.angle - o.angle + 90.0) % 180.0 - 90.0) <= 20.0 for p in elongated)
        keep.append(same >= 3)
    return keep


def union_explains(lum: np.ndarray, orbs: np.ndarray, levels: np.ndarray,
                   others: list[np.ndarray], *, n_rays: int = PARAMS.n_rays,
                   occluder: np.ndarray | None = None, n_samples: int = 96) -> np.ndarray:
    """For each partly hidden orb, the fraction of its rays whose rim is where the orb and its
    overlapping neighbours predict it: at the orb's own rim, or where the ray leaves the union
    of the orb's disc and the neighbours' discs it runs into (overlapping orbs add up, or clip,
    into one bright region), or hidden (off the frame; into the subject, see :func:`_rim_fit`).
    A bright band or glossy reflection that merely continues past the rim is not explained.

    ``orbs``: (M, 3) centre and radius in ``lum`` pixels; ``levels``: (M,) each orb's half
    level (linear luminance); ``others``: per orb, a (K, 3) array of the neighbours it
    overlaps. All orbs are handled at once (one remap).
    """
    orbs = np.asarray(orbs, np.float64).reshape(-1, 3)
    m = orbs.shape[0]
    if m == 0:
        return np.zeros(0)
    h, w = lum.shape
    cos_t, sin_t, _ = _ray_basis(n_rays)
    cos_t, sin_t = cos_t.astype(np.float64), sin_t.astype(np.float64)
    cx, cy, r = orbs[:, 0:1], orbs[:, 1:2], orbs[:, 2:3]
    k = max([len(o) for o in others] + [1])
    nb = np.zeros((m, k, 3))
    for i, o in enumerate(others):
        if len(o):
            nb[i, :len(o)] = np.asarray(o, np.float64).reshape(-1, 3)
    exits = np.repeat(r, n_rays, axis=1)                               # (M, R)
    for _ in range(2):                       # chains of overlapping orbs
        for q in range(k):
            dx, dy, br = (nb[:, q, 0:1] - cx), (nb[:, q, 1:2] - cy), nb[:, q, 2:3]
            proj = cos_t[None, :] * dx + sin_t[None, :] * dy
            half2 = br * br - (dx * dx + dy * dy - proj * proj)
            half = np.sqrt(np.maximum(half2, 0.0))
            enter = (half2 > 0) & (br > 0) & (proj - half <= exits + 1.0) & (proj + half > exits)
            exits = np.where(enter, proj + half, exits)
    length = exits.max(axis=1, keepdims=True) * 1.25 + 3.0            # (M, 1)
    step = length / (n_samples - 1)
    rho = step * np.arange(n_samples)[None, :]                          # (M, S)
    mx = (cx[:, :, None] + cos_t[None, :, None] * rho[:, None, :]).astype(np.float32)
    my = (cy[:, :, None] + sin_t[None, :, None] * rho[:, None, :]).astype(np.float32)
    prof = cv2.remap(lum, mx.reshape(-1, n_samples), my.reshape(-1, n_samples), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).reshape(m, n_rays, n_samples)
    idx = np.arange(m)[:, None]
    rows = np.arange(n_rays)[None, :]
    j0 = np.maximum(1, np.ceil(0.3 * r / step)).astype(np.int64)        # (M, 1)
    below = (prof < levels[:, None, None]) & (np.arange(n_samples)[None, None, :] >= j0[:, :, None])
    j = np.argmax(below, axis=2)
    cross = np.where(below.any(axis=2), rho[idx, j], np.inf)
    vis = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    if occluder is not None:
        vis &= ~occluder[np.clip(np.rint(my), 0, h - 1).astype(np.intp),
                         np.clip(np.rint(mx), 0, w - 1).astype(np.intp)]
    # hidden: the ray leaves the frame or runs into the subject (after coming into view, when
    # the orb is not in view at all: a shape inside the subject mask is not hidden by it) before
    # the predicted exit or before its crossing
    to_idx = lambda v: np.clip(np.ceil(v / step - 1e-9), 0, n_samples - 1).astype(np.int64)  # noqa: E731
    jx = to_idx(exits)
    jc = to_idx(np.minimum(cross, length))
    own = np.abs(cross - r) <= 0.2 * r + step
    jb = to_idx(np.minimum(cross, length) + 0.25 * r)
    inside = rho[:, None, :] <= r[:, :, None]
    shown = (((vis & inside).sum(axis=(1, 2)) / np.maximum(inside.sum(axis=(1, 2)) * 1.0, 1.0)
              >= PARAMS.min_visible_share)
             | ((own & vis[idx, rows, jb]).mean(axis=1) >= PARAMS.min_facing_rays))
    from_start = np.where((~vis).any(axis=2), np.argmax(~vis, axis=2), n_samples)
    fh = np.where(shown[:, None], from_start, _first_hidden(vis))
    off_image = (fh <= jx) | (fh <= jc)
    union = np.abs(cross - exits) <= 0.2 * r + step + 1.0
    return (own | union | off_image).mean(axis=1)


# ---- image-level summary ----------------------------------------------------------------------
def _axial_mean_deg(angles: list[float]) -> tuple[float, float]:
    """Mean direction of axes (degrees, 0..180) and its resultant length 0..1."""
    a = np.radians(2.0 * np.asarray(angles, dtype=np.float64))
    c, s_ = float(np.mean(np.cos(a))), float(np.mean(np.sin(a)))
    return float((math.degrees(math.atan2(s_, c)) / 2.0) % 180.0), math.hypot(c, s_)


def summarize(orbs: list[Orb], soft: list[Orb], *, width: int, height: int) -> MetricResult:
    """Image-level outputs (and NaN reasons) from the verified orbs and the soft highlights.

    ``orb_count`` is always a measurement (0 = no optical discs); ``disc_fraction`` is one
    whenever the background has a highlight; the shape outputs are NaN "no optical discs" when
    there are none.

    Examples
    --------
    >>> r = summarize([], [], width=100, height=100)
    >>> r.values["bokeh.orb_count"], r.reasons["bokeh.disc_fraction"]
    (0.0, 'no background highlights found')
    """
    nan = math.nan
    vals = {o.name: nan for o in OUTPUTS}
    why: dict[str, str] = {}
    n, n_soft = len(orbs), len(soft)
    vals[f"{F}.orb_count"] = float(n)
    vals[f"{F}.disc_fraction"] = n / (n + n_soft) if (n + n_soft) else nan
    if not n + n_soft:
        why[f"{F}.disc_fraction"] = "no background highlights found"
    if n == 0:
        reason = (f"no optical discs: {REASON_SMEAR} ({n_soft} soft "
                  f"highlight{'s' if n_soft != 1 else ''})" if n_soft
                  else "no optical discs: no background highlights found")
        for name in vals:
            if name not in (f"{F}.orb_count", f"{F}.disc_fraction"):
                why[name] = reason
        return MetricResult(vals, why)
    d = np.array([2 * o.r for o in orbs])
    circ = np.array([o.circularity for o in orbs])
    circ = circ[np.isfinite(circ)]
    if circ.size:
        vals[f"{F}.circularity"] = float(np.median(circ))
    else:
        why[f"{F}.circularity"] = "every disc is partly hidden: no complete outline to measure"
    vals[f"{F}.orb_diameter_frac"] = float(np.median(d) / width)
    if n >= 3:
        vals[f"{F}.size_cv"] = float(np.std(d) / np.mean(d))
    else:
        why[f"{F}.size_cv"] = f"size variation needs at least 3 discs, found {n}"
    vals[f"{F}.edge_sharpness"] = float(np.median([o.edge_sharpness for o in orbs]))
    asp = np.array([o.aspect for o in orbs if o.coverage >= PARAMS.min_shape_coverage])
    asp = asp[np.isfinite(asp) & (asp > 0)]
    if asp.size:
        vals[f"{F}.aspect"] = float(np.median(1.0 / asp))
    else:
        why[f"{F}.aspect"] = "every disc is partly hidden: no complete outline to fit"
    ovals = [o.angle for o in orbs if o.coverage >= PARAMS.min_shape_coverage
             and np.isfinite(o.aspect) and o.aspect < PARAMS.round_aspect and np.isfinite(o.angle)]
    if len(ovals) * 2 > len(asp) and ovals:
        mean, res = _axial_mean_deg(ovals)
        if res >= PARAMS.min_oval_agreement:
            vals[f"{F}.oval_angle_deg"] = mean
        else:
            why[f"{F}.oval_angle_deg"] = ("the oval discs' long axes point different ways "
                                          "(cat's-eyes, not anamorphic ovals)")
    else:
        why[f"{F}.oval_angle_deg"] = "the discs are round"
    shaped = [o for o in orbs if np.isfinite(o.circularity)]
    orders = [int(o.polygon_order) for o in shaped if np.isfinite(o.polygon_order)]
    if shaped and len(orders) * 2 > len(shaped):
        vals_, counts = np.unique(orders, return_counts=True)
        vals[f"{F}.polygon_order"] = float(vals_[np.argmax(counts)])
    else:
        why[f"{F}.polygon_order"] = ("discs are round (no blade harmonic)" if shaped
                                     else "no complete disc outline")
    # cat's-eye orientation: elongated orbs away from the centre
    cosines = []
    for o in orbs:
        if np.isfinite(o.aspect) and o.aspect < 0.9:
            c2, rel = _tangential_cos2(o, width, height)
            if rel > 0.2:
                cosines.append(c2)
    if len(cosines) >= 2:
        vals[f"{F}.cats_eye_alignment"] = float(np.mean(cosines))
    else:
        why[f"{F}.cats_eye_alignment"] = "fewer than 2 elongated off-centre discs"
    return MetricResult(vals, why)


def explain(result: MetricResult) -> str:
    """One sentence on why an image scored as it did.

    Examples
    --------
    >>> explain(summarize([], [], width=100, height=100))
    'no optical discs: the background has no highlights (no point lights to make bokeh)'
    """
    v = result.values
    n = v.get(f"{F}.orb_count", math.nan)
    if not math.isfinite(n):
        return f"bokeh not measured: {result.reasons.get(F) or result.reasons.get(f'{F}.orb_count', 'no reason given')}"
    soft = result.artifacts.get("soft_highlights") if result.artifacts else None
    n_soft = len(soft) if soft is not None else None
    if n == 0:
        if n_soft == 1:
            return ("no optical discs among 1 background highlight: it fades out like a "
                    "Gaussian blur (a glow), not the hard-rimmed disc of a lens")
        if n_soft:
            return (f"no optical discs among {n_soft} background highlights: they fade out like "
                    "a Gaussian blur (glows), not the hard-rimmed discs of a lens")
        return "no optical discs: the background has no highlights (no point lights to make bokeh)"
    frac = v.get(f"{F}.orb_diameter_frac", math.nan)
    shape = "round"
    if math.isfinite(v.get(f"{F}.polygon_order", math.nan)):
        shape = f"{int(v[f'{F}.polygon_order'])}-bladed"
    asp = v.get(f"{F}.aspect", math.nan)
    if math.isfinite(asp) and asp >= 1.15:
        ang = v.get(f"{F}.oval_angle_deg", math.nan)
        shape = (f"oval ({asp:.1f}:1, " + ("upright" if math.isfinite(ang) and 60 <= ang <= 120
                                           else "lying" if math.isfinite(ang) and (ang < 30 or ang > 150)
                                           else "mixed directions") + ")")
    extra = f"; {n_soft} soft glow{'s' if n_soft != 1 else ''} beside them" if n_soft else ""
    size = (f" {100 * frac:.1f} % of the frame wide" if math.isfinite(frac) else "")
    depth = ""
    if math.isfinite(frac):
        depth = (": shallow focus" if frac >= 0.03 else ": moderate defocus" if frac >= 0.015
                 else ": small discs, lights near the focus plane or a slow aperture")
    return (f"{int(n)} optical bokeh disc{'s' if n != 1 else ''}, {shape},{size}{depth}{extra}")


#: the search leaves out each face's oval (Face Mesh, or the detector's oval) scaled by this
#: about its centre (ears, hairline): catchlights and skin speculars are small hard highlights.
FACE_EXCLUSION_SCALE = 1.15


def face_exclusion(faces: list, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask (working px) of the faces' ovals, scaled by ``FACE_EXCLUSION_SCALE`` about
    their centroids: where no background disc can be seen."""
    from lenscore.faces import face_region_polygons

    out = np.zeros(shape, np.uint8)
    for f in faces:
        try:
            oval = np.asarray(face_region_polygons(f)["oval"], np.float64)
        except (KeyError, ValueError, IndexError):       # pragma: no cover - malformed face
            x, y, w, h = f.box
            oval = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float64)
        c = oval.mean(axis=0)
        pts = np.round(c + FACE_EXCLUSION_SCALE * (oval - c)).astype(np.int32)
        cv2.fillPoly(out, [pts], 1)
    return out > 0


def _with_clip(d: dict[str, float], rgb: np.ndarray) -> dict[str, float]:
    """Add ``clipped``: the share of the disc's central pixels (inside 0.6 r, full resolution)
    with a channel at white (>= 254.5/255): its colour there is the clip's, not the light's."""
    h, w = rgb.shape[:2]
    r = max(1.0, 0.6 * d["r"])
    x0, x1 = int(max(0, math.floor(d["x"] - r))), int(min(w, math.ceil(d["x"] + r) + 1))
    y0, y1 = int(max(0, math.floor(d["y"] - r))), int(min(h, math.ceil(d["y"] + r) + 1))
    if x1 <= x0 or y1 <= y0:
        d["clipped"] = math.nan
        return d
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx - d["x"]) ** 2 + (yy - d["y"]) ** 2 <= r * r
    if not inside.any():
        d["clipped"] = math.nan
        return d
    white = rgb[y0:y1, x0:x1].max(axis=2) >= 254.5 / 255.0
    d["clipped"] = float(white[inside].mean())
    return d


def compute(ctx: "ImageContext") -> MetricResult:
    """Adapter: detect orbs on the context's working copy and summarise them."""
    if min(ctx.height, ctx.width) < 16:
        return FAMILY.nan_result(f"image too small for bokeh ({ctx.width}x{ctx.height} px)")
    bgm = ctx.work_background_mask
    source = getattr(ctx, "subject_source", None)
    if source in ("user", "user_mask"):
        if not bgm.any():
            return FAMILY.nan_result("no background: the subject covers the whole frame")
        occluder = ctx.work_subject_mask        # the user's subject hides what is behind it
    elif source == "face" and (~bgm).any():
        # a person found around the detected faces: the subject mask is where the person may
        # hide discs (a ray into it that finds no rim is hidden, not missing; one that finds the
        # rim where the disc's visible rays put it is a rim point: a segmentation may take in a
        # bright disc touching the person). The whole frame is searched but the faces: a disc
        # behind a head is hidden by it, and catchlights and skin speculars live there.
        occluder = ~bgm
        bgm = np.ones_like(bgm, dtype=bool)
        bgm &= ~face_exclusion(ctx.work_faces, bgm.shape)
    else:
        # no person ("in-focus": the in-focus region, which in a bokeh frame without a face is
        # the discs themselves; "fallback": no evidence): nothing is hidden, the whole frame is
        # searched
        bgm = np.ones_like(bgm, dtype=bool)
        occluder = None
    # the focus family's defocus map (issue 14), when it exists: read guarded, never required
    # (it must not read this family's result, or the two would wait on each other)
    try:
        defocus = getattr(ctx, "defocus", None)
    except Exception:                   # noqa: BLE001 - a map that fails is no evidence
        defocus = None
    det = detect_orbs(ctx.work_luminance, bgm, full_rgb=ctx.rgb, work_scale=ctx.work_scale,
                      occluder=occluder,
                      background_blur=blur_lookup(defocus, ctx.work_luminance.shape))
    if source == "face" and ctx.faces:
        # a glow on a face is a specular highlight of the skin, not a background light
        def on_face(o: Orb) -> bool:
            return any(x <= o.x <= x + w and y <= o.y <= y + h for x, y, w, h in
                       (f.box for f in ctx.faces))
        det["soft"] = [o for o in det["soft"] if not on_face(o)]
    res = summarize(det["orbs"], det["soft"], width=ctx.width, height=ctx.height)
    res.artifacts.update({"orbs": [_with_clip(o.as_dict(), ctx.rgb) for o in det["orbs"]],
                          "soft_highlights": [_with_clip(o.as_dict(), ctx.rgb) for o in det["soft"]],
                          "n_candidates": det["n_candidates"], "rejected": det["rejected"], "trace": det.get("trace", [])})
    return res


# ---------------------------------------------------------------------------------------------
# Validation against ground truth
# ---------------------------------------------------------------------------------------------
#: a true orb counts toward recall when at least this share of its light is visible (not hidden by
#: the subject or cut by the frame) and it is at least the smallest diameter measured.
FINDABLE_VISIBLE = 0.5


def _score_one(spec: Any) -> dict[str, Any]:
    """Render one scene and score it on the production path (the image alone, no truth mask):
    a JSON-able record with the truth lights, the orbs and soft highlights found and the values."""
    from lenscore.context import ImageContext
    from lenscore.datasets.synthetic import render

    r = render(spec)
    ctx = ImageContext(r.rgb)
    res = ctx.result(F)
    t = r.truth
    lights = [{k: L.get(k) for k in ("x", "y", "diameter_px", "major_px", "minor_px", "placement",
                                     "visible_fraction", "frame_fraction", "occluded_fraction",
                                     "clipped", "peak_level", "in_background", "visible", "angle",
                                     "shape")}
              | {"overlap": max([o["fraction"] for o in L.get("overlaps", [])], default=0.0)}
              for L in t["lights"]]
    return {"aperture": spec.aperture, "subject": spec.subject, "width": t["width"],
            "height": t["height"], "clip": bool(spec.clip_highlights),
            "jpeg": spec.jpeg_quality, "noise": spec.noise_sigma, "background": spec.background,
            "anamorphic_aspect": spec.anamorphic_aspect, "anamorphic_angle": spec.anamorphic_angle,
            "subject_source": ctx.subject_source, "faces": len(ctx.faces),
            "truth_subject": t["subject"],
            "lights": lights, "orbs": res.artifacts.get("orbs", []),
            "soft": res.artifacts.get("soft_highlights", []),
            "values": {k: (None if not math.isfinite(v) else v) for k, v in res.values.items()},
            "reasons": dict(res.reasons)}


def sweep(specs: list, *, jobs: int = 1) -> list[dict[str, Any]]:
    """Records of :func:`_score_one` for every spec (worker processes when ``jobs`` > 1)."""
    from lenscore.evaluator.executors import parallel_map

    return parallel_map(_score_one, list(specs), jobs=jobs)


def match_record(rec: dict[str, Any]) -> dict[str, Any]:
    """Match one record's orbs to its true lights (nearest centre within a quarter of the true
    diameter + 2 px, greedy by distance): per found orb the light it matched (or None), per light
    whether it is findable and found, and the diameter errors of matched discs."""
    lights = rec["lights"]
    found = rec["orbs"]
    pairs = []
    for i, o in enumerate(found):
        for j, L in enumerate(lights):
            d = math.hypot(o["x"] - L["x"], o["y"] - L["y"])
            size = max(L["diameter_px"], L.get("major_px") or 0.0)
            if d <= 0.25 * size + 2.0:
                pairs.append((d, i, j))
    pairs.sort()
    f2l: dict[int, int] = {}
    l2f: dict[int, int] = {}
    for d, i, j in pairs:
        if i in f2l or j in l2f:
            continue
        f2l[i], l2f[j] = j, i
    min_d = PARAMS.min_diameter_frac * max(rec["width"], rec["height"])
    findable = [bool(L["in_background"] and L["visible"] and L["diameter_px"] >= min_d
                     and (L["visible_fraction"] or 0.0) >= FINDABLE_VISIBLE) for L in lights]
    return {"f2l": f2l, "l2f": l2f, "findable": findable}


def summarize_sweep(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's figures over a sweep, with breakdowns (misses by cause, false orbs by scene)."""
    from collections import Counter

    tp = fp = fn = 0
    fp_glow = 0
    glow_total = glow_kept = 0
    clipped_glow_total = clipped_glow_kept = 0
    derr: list[float] = []
    found_by = Counter()
    tot_by = Counter()
    fp_by = Counter()
    for rec in recs:
        m = match_record(rec)
        glow = rec["aperture"] == "gaussian"
        for i, o in enumerate(rec["orbs"]):
            if glow:
                fp_glow += 1
                continue
            if i not in m["f2l"]:
                fp += 1
                fp_by[rec["aperture"]] += 1
        for j, L in enumerate(rec["lights"]):
            if glow:
                if L["in_background"] and L["visible"] and (L["visible_fraction"] or 0) >= 0.5:
                    glow_total += 1
                    glow_kept += j in m["l2f"]
                    if L["clipped"]:
                        clipped_glow_total += 1
                        clipped_glow_kept += j in m["l2f"]
                continue
            if not m["findable"][j]:
                continue
            keys = [f"ap={rec['aperture']}", f"place={L['placement']}",
                    f"clip={bool(L['clipped'])}", f"subj={rec['subject_source']}",
                    f"bg={rec['background']}",
                    f"d={'<2%' if L['diameter_px'] < 0.02 * rec['width'] else '<4%' if L['diameter_px'] < 0.04 * rec['width'] else '>=4%'}",
                    f"ovl={'y' if L['overlap'] > 0 else 'n'}", f"jpeg={'y' if rec['jpeg'] else 'n'}"]
            for k in keys:
                tot_by[k] += 1
            if j in m["l2f"]:
                tp += 1
                for k in keys:
                    found_by[k] += 1
                o = rec["orbs"][m["l2f"][j]]
                if rec["aperture"] not in ("cats_eye",):
                    derr.append(abs(2 * o["r"] - L["diameter_px"]) / L["diameter_px"])
            else:
                fn += 1
        # matched lights that are not findable are neither tp nor fp (a real disc, mostly hidden)
    out: dict[str, Any] = {}
    out["precision (disc scenes)"] = tp / max(1, tp + fp)
    out["recall (findable discs)"] = tp / max(1, tp + fn)
    out["tp fp fn"] = (tp, fp, fn)
    out["false orbs on glow scenes"] = fp_glow
    out["glows rejected"] = 1 - glow_kept / max(1, glow_total)
    out["glows n"] = glow_total
    out["clipped glows rejected"] = 1 - clipped_glow_kept / max(1, clipped_glow_total)
    out["clipped glows n"] = clipped_glow_total
    out["diameter error median"] = float(np.median(derr)) if derr else math.nan
    out["diameter error p90"] = float(np.percentile(derr, 90)) if derr else math.nan
    for k in sorted(tot_by):
        out[f"recall {k}"] = f"{found_by[k] / tot_by[k]:.3f} ({found_by[k]}/{tot_by[k]})"
    for k in sorted(fp_by):
        out[f"false orbs {k}"] = fp_by[k]
    return out


#: real photographs in ../shared/data that are in focus throughout (no defocus discs can exist):
#: the London studio portraits, the generated ID portraits and the sharp shots of the defocus pairs.
REAL_IN_FOCUS = (("portraits-london", "*.jpg"), ("ai-portraits", "*.jpg"), ("defocus-pairs", "*_S.*"))
#: sharp textures from scikit-image (photographs and scans, in focus): no defocus discs either.
SHARP_TEXTURES = ("astronaut", "brick", "camera", "cat", "chelsea", "coffee", "grass", "gravel",
                  "immunohistochemistry", "moon", "page", "retina", "rocket", "text")


def _shared_data() -> "Any":
    from pathlib import Path

    here = Path(__file__).resolve()
    for base in here.parents:
        cand = base.parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


def _real_in_focus(quick: bool) -> list[tuple[str, Any]]:
    """(name, loader) of the real in-focus photographs and the sharp textures."""
    from functools import partial

    out: list[tuple[str, Any]] = []
    data = _shared_data()
    if data is not None:
        for folder, pattern in REAL_IN_FOCUS:
            files = sorted((data / folder).glob(pattern))
            if quick:
                files = files[:6]
            out += [(f"{folder}/{f.name}", partial(_load_file, str(f))) for f in files]
    for name in (SHARP_TEXTURES[:6] if quick else SHARP_TEXTURES):
        out.append((f"skimage/{name}", partial(_load_texture, name)))
    return out


def _london_groups() -> dict[str, tuple[str, ...]]:
    """face id -> (ethnicity, gender) of the London set (``london_info.csv``), {} without it."""
    import csv

    data = _shared_data()
    path = None if data is None else data / "portraits-london" / "london_info.csv"
    if path is None or not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["face_id"]: (r["face_eth"], r["face_gender"]) for r in csv.DictReader(fh)}


def _load_file(path: str) -> np.ndarray:
    from lenscore.datasets.decode import decode_image

    return decode_image(path).rgb


def _load_texture(name: str) -> np.ndarray:
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float32)
    img = img / (255.0 if img.max() > 1.5 else 1.0)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = img[..., :3]
    return np.ascontiguousarray(img, dtype=np.float32)


def _count_real(item: tuple[str, Any]) -> tuple[str, int, int]:
    from lenscore.context import ImageContext

    name, load = item
    res = ImageContext(load()).result(F)
    n = res.values[f"{F}.orb_count"]
    return name, int(n) if math.isfinite(n) else 0, len(res.artifacts.get("soft_highlights", []))


def validation_sets(quick: bool) -> dict[str, list]:
    """The scene sets of :func:`validate` (production path; randomised renderer):

    * ``spread``: :func:`~lenscore.datasets.scenes.random_bokeh_scenes` as drawn (every
      aperture, clipped glows, orbs behind the subject and at borders, overlaps, noise, JPEG);
    * ``glow`` / ``disc``: the same scenes through a Gaussian "aperture" (glows, clipped on half
      the scenes at 1-8x white) and through a circle (the A/B pair for ``compare``);
    * ``shapes``: scenes through circle, 9, 6 and 5 blades (interleaved, 4 per scene);
    * ``anamorphic``: scenes through the anamorphic oval (aspect 1.3-2);
    * ``no_subject``: the spread's scenes with ``subject="none"``.
    """
    from dataclasses import replace as _r

    from lenscore.datasets.scenes import random_bokeh_scenes

    size = 768 if quick else 1024
    n = {"spread": 24, "pair": 8, "shapes": 6, "anamorphic": 6, "no_subject": 8} if quick else \
        {"spread": 200, "pair": 60, "shapes": 40, "anamorphic": 40, "no_subject": 60}
    base = random_bokeh_scenes(max(n.values()) + n["spread"], seed=15, size=size)
    spread = base[:n["spread"]]
    rest = base[n["spread"]:]
    return {
        "spread": spread,
        "glow": [_r(sp, aperture="gaussian") for sp in rest[:n["pair"]]],
        "disc": [_r(sp, aperture="circle") for sp in rest[:n["pair"]]],
        "shapes": [_r(sp, aperture=a) for sp in rest[:n["shapes"]]
                   for a in ("circle", "blades9", "blades6", "blades5")],
        "anamorphic": [_r(sp, aperture="anamorphic") for sp in rest[:n["anamorphic"]]],
        "no_subject": [_r(sp, subject="none") for sp in spread[:n["no_subject"]]],
    }


def _share(ok: int, n: int) -> float:
    return ok / n if n else math.nan


def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Checks against the randomised renderer and real photographs, on the production path
    (the image alone: face detection, subject mask, noise; never the renderer's true mask).
    Run by ``lenscore validate``; the quick plan runs smaller sets at 768 px.

    What the figures depend on: recall on orbs partly behind the subject depends on the subject
    mask (``ctx.work_subject_mask`` hides rays as an occluder): with no subject found nothing
    hides them, with the person template it hides the wrong pixels. A better subject model
    (issue 13) raises recall; nothing here can lower it (an orb the mask covers whole is
    searched as if the mask were not there).
    """
    import pandas as pd

    from lenscore.evaluator import validate as V
    from lenscore.evaluator.executors import parallel_map
    from lenscore.reports.compare import compare_scores

    quick = plan.size < 768
    sets = validation_sets(quick)
    order = list(sets)
    flat = [sp for k in order for sp in sets[k]]
    recs = sweep(flat, jobs=jobs)
    by: dict[str, list] = {}
    i = 0
    for k in order:
        by[k] = recs[i:i + len(sets[k])]
        i += len(sets[k])
    sz = "768 px" if quick else "1024 px"
    checks = []
    # detection on the spread (glow scenes count toward precision: any orb there is false)
    sp = summarize_sweep(by["spread"])
    tp, fp, fn = sp["tp fp fn"]
    fp_all = fp + sp["false orbs on glow scenes"]
    prec = tp / (tp + fp_all) if tp + fp_all else math.nan
    rec = sp["recall (findable discs)"]
    n_sc = len(by["spread"])
    checks.append(V.Check(F, "optical-disc precision (random spread)", prec, ">= 0.95",
                          bool(prec >= 0.95), f"tp={tp} fp={fp_all}; {n_sc} scenes at {sz}"))
    parts = "; ".join(f"{k.split('=')[1]} {sp[f'recall place={k.split(chr(61))[1]}'].split(' ')[0]}"
                      for k in ("place=free", "place=border", "place=behind")
                      if f"recall {k}" in sp)
    ovl = sp.get("recall ovl=y", "n/a").split(" ")[0]
    checks.append(V.Check(F, "optical-disc recall (random spread)", rec, ">= 0.9", bool(rec >= 0.9),
                          f"tp={tp} fn={fn}; discs >= {FINDABLE_VISIBLE:.0%} visible; by placement: "
                          f"{parts}; overlapping {ovl}"))
    # with and without a detected subject
    for label, recs_ in (("with a detected subject",
                          [r for r in by["spread"] if r["subject_source"] == "face"]),
                         ("subject='none' scenes", by["no_subject"])):
        s_ = summarize_sweep(recs_) if recs_ else None
        r_ = s_["recall (findable discs)"] if s_ else math.nan
        p_ = s_["precision (disc scenes)"] if s_ else math.nan
        checks.append(V.Check(F, f"recall {label}", r_, ">= 0.9",
                              bool(r_ >= 0.9) if recs_ else None,
                              f"{len(recs_)} scenes; precision {p_:.3f}"))
    d = sp["diameter error median"]
    checks.append(V.Check(F, "disc diameter error (median |rel err|)", 100 * d, "<= 5 %",
                          bool(d <= 0.05) if math.isfinite(d) else None,
                          f"90th pct {100 * sp['diameter error p90']:.1f} %", unit="%"))
    # clipped glows
    g = summarize_sweep(by["glow"])
    checks.append(V.Check(F, "clipped Gaussian glows rejected (1-8x white)",
                          100 * g["clipped glows rejected"], ">= 95 %",
                          bool(g["clipped glows rejected"] >= 0.95) if g["clipped glows n"] else None,
                          f"{g['clipped glows n']} clipped glows; all glows "
                          f"{100 * g['glows rejected']:.1f} % of {g['glows n']}", unit="%"))
    # compare: disc variant against the glow baseline
    rows = []
    for variant in ("glow", "disc"):
        for j, r in enumerate(by[variant]):
            rows.append({"variant": variant, "prompt": "p", "seed": j, "status": "ok",
                         **{k: (math.nan if v is None else v) for k, v in r["values"].items()}})
    cmp = compare_scores(pd.DataFrame(rows), baseline="glow",
                         outputs=[f"{F}.disc_fraction", f"{F}.orb_count", f"{F}.circularity"],
                         n_resamples=500, n_permutations=1000)
    verdicts = {r.output: r.verdict for r in cmp.pairs[0].results}
    ok_cmp = (verdicts.get(f"{F}.disc_fraction") == "better" and verdicts.get(f"{F}.orb_count") == "better"
              and verdicts.get(f"{F}.circularity") != "worse")
    checks.append(V.Check(F, "compare disc renders vs glow renders", float(ok_cmp),
                          "better on disc_fraction and orb_count, not worse on circularity",
                          bool(ok_cmp), "; ".join(f"{k.split('.')[1]}: {v}" for k, v in verdicts.items()
                                                  ), unit=""))
    # circularity order over the four shapes of one scene
    ok = n_s = 0
    for j in range(0, len(by["shapes"]), 4):
        c = [by["shapes"][j + q]["values"].get(f"{F}.circularity") for q in range(4)]
        n_s += 1
        ok += bool(all(v is not None for v in c) and c[0] > c[1] > c[2] > c[3])
    checks.append(V.Check(F, "circularity circle > 9 > 6 > 5 blades (share of scenes)",
                          100 * _share(ok, n_s), ">= 95 %", bool(ok >= 0.95 * n_s) if n_s else None,
                          f"{ok}/{n_s} scenes", unit="%"))
    # anamorphic aspect and orientation
    errs, angs = [], []
    for r in by["anamorphic"]:
        a = r["values"].get(f"{F}.aspect")
        if a is not None:
            errs.append(abs(a - r["anamorphic_aspect"]) / r["anamorphic_aspect"])
        ang = r["values"].get(f"{F}.oval_angle_deg")
        if ang is not None:
            t = math.degrees(r["anamorphic_angle"]) % 180.0
            angs.append(abs((ang - t + 90.0) % 180.0 - 90.0))
    within = sum(e <= 0.10 for e in errs)
    na = len(by["anamorphic"])
    checks.append(V.Check(F, "anamorphic aspect within 10 % (share of scenes)", 100 * _share(within, na),
                          ">= 95 %", bool(within >= 0.95 * na) if na else None,
                          f"{within}/{na}; median error {100 * float(np.median(errs)) if errs else math.nan:.1f} %, "
                          f"orientation median error {float(np.median(angs)) if angs else math.nan:.1f} deg",
                          unit="%"))
    # real photographs in focus and sharp textures: no optical discs
    items = _real_in_focus(quick)
    counts = parallel_map(_count_real, items, jobs=jobs) if items else []
    clean = sum(c[1] == 0 for c in counts)
    worst = ", ".join(f"{c[0]} ({c[1]})" for c in counts if c[1] > 0)[:200]
    worst = f"discs on {worst}" if worst else ""
    groups = _london_groups()
    per: dict[str, list[int]] = {}
    for name, n_orbs, _ in counts:
        g = groups.get(name.split("/")[-1][:3]) if name.startswith("portraits-london/") else None
        if g:
            for key in g:
                per.setdefault(key, [0, 0])
                per[key][0] += n_orbs == 0
                per[key][1] += 1
    if per:
        worst = (worst + "; " if worst else "") + "London clean by group: " + ", ".join(
            f"{k} {a}/{b}" for k, (a, b) in sorted(per.items()))
    checks.append(V.Check(F, "no discs on in-focus photographs and sharp textures",
                          100 * _share(clean, len(counts)), ">= 95 %",
                          bool(clean >= 0.95 * len(counts)) if counts else None,
                          f"{clean}/{len(counts)} clean" + (f"; {worst}" if worst else ""),
                          unit="%"))
    return checks


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: optical discs outlined in green (their fitted ellipse) with roundness and
    blade count on the largest, soft glows ringed dashed orange; a caption with
    :func:`explain` and the legend."""
    import cv2

    from lenscore import drawing as dr

    img, s = dr.thumbnail(rgb, long_side)
    out = img.copy()
    art = getattr(result, "artifacts", {}) or {}
    thick = 2 if out.shape[1] >= 300 else 1
    soft = [o for o in (art.get("soft_highlights") or []) if dr.finite(o.get("x"), o.get("y"), o.get("r"))]
    for o in soft:
        c = (int(round(o["x"] * s)), int(round(o["y"] * s)))
        # a soft highlight's rim is where its glow fades: ring it just outside
        dr.dashed_circle(out, c, max(6, int(round(o["r"] * s * 1.3)) + 2), dr.ORANGE, thick,
                         segments=12)
    orbs = [o for o in (art.get("orbs") or []) if dr.finite(o.get("x"), o.get("y"), o.get("r"))]
    for o in orbs:
        c = (int(round(o["x"] * s)), int(round(o["y"] * s)))
        r = max(2.0, o["r"] * s)
        asp = o.get("aspect") if dr.finite(o.get("aspect")) else 1.0
        ang = o.get("angle") if dr.finite(o.get("angle")) else 0.0
        q = math.sqrt(max(asp, 1.0))
        cv2.ellipse(out, c, (max(2, int(round(r * q)) + 1), max(2, int(round(r / q)) + 1)),
                    float(ang), 0, 360, dr.GREEN, thick if r > 6 else 1, cv2.LINE_AA)
    for o in sorted(orbs, key=lambda o: -o["r"])[:12]:
        if not dr.finite(o.get("circularity")):
            continue
        label = dr.fmt(o.get("circularity"))
        if dr.finite(o.get("polygon_order")):
            label += f" {int(o['polygon_order'])} blades"
        r = o["r"] * s
        dr.text(out, label, (o["x"] * s + r * 0.75 + 2, o["y"] * s - r * 0.75), dr.GREEN, 0.45)
    legend = "green: optical disc (hard rim); dashed orange: soft glow (blur, not bokeh)"
    return dr.banner(out, [f"bokeh: {explain(result)}", legend])


def _defocus_params() -> dict:
    from lenscore import defocus

    return params_dict(defocus.PARAMS)


FAMILY = register(MetricFamily(
    name=F, version="5",
    method=("whole background (subject as occluder) -> top-hat candidates on linear luminance, "
            "split by distance-transform maxima / Hough -> ray-cast rim, robust harmonic fit -> "
            "rim width on the unclipped shoulder against the width of a Gaussian glow one stop "
            "above 8x white (optical discs vs glows) -> 4piA/P^2, blades, Fitzgibbon ellipse; "
            "disc >= background blur when a defocus map is given"),
    # the defocus map it reads is part of what its numbers depend on (the cache key)
    outputs=OUTPUTS, compute=compute, params={**params_dict(PARAMS), "defocus": _defocus_params()},
    title="Bokeh", order=20, explain=explain,
    headline=("bokeh.disc_fraction", "bokeh.circularity", "bokeh.orb_count"),
    draw=draw, validate=validate))
