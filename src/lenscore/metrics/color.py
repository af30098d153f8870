"""color: do the warm and cool light sources stay separate, or blend into mud?

Method
------
Colour pipeline: sRGB-encoded pixels -> linear light (sRGB EOTF) -> CIE XYZ (IEC 61966-2-1
matrix, :data:`lenscore.imaging.SRGB_TO_XYZ`) -> CIE 1960 UCS (u, v) -> correlated colour
temperature (CCT) and Duv by Ohno (2014), "Practical use and calculation of CCT and Duv",
LEUKOS 10(1) (the "Ohno 2013" method of colour-science, called as
``colour.uv_to_CCT(uv, method="Ohno 2013")``). A CCT is only reported when |Duv| <= 0.05: farther
from the Planckian locus a light is not blackbody-like (a green or magenta LED) and CCT is
undefined, so the output is NaN with the reason (``not a blackbody-like light (Duv=+0.071)``).
colour-science is imported lazily and called a handful of times per image, on aggregated
chromaticities only: per-pixel work (clustering, mud) is numpy in (u, v).

Which pixels carry the light
----------------------------
A surface's colour is illuminant x albedo, so the mean of all pixels measures the wardrobe, not
the lamp: an orange jacket is not a 2000 K light. The colour of a light is read where the light
itself reaches the camera:

* **specular highlights** (dichromatic reflection model: Shafer 1985; Tan, Nishino & Ikeuchi
  2004): on a glossy surface (skin sebum, eyes, satin) the specular component has the colour of
  the illuminant. It is separated from the body colour as the local *increment*
  ``I - open(close(I))`` per channel (flat square elements, :func:`light_floor`): the closing
  fills thin dark details (eyes, brows), the opening removes bright details narrower than the
  element, so the floor is the diffuse surface and the increment of a highlight is
  ``illuminant x specular``, free of the albedo underneath;
* **light sources and bokeh orbs** in the background (emissive: the pixel is the lamp seen
  through a defocused lens), as their increment over the ambient floor, on a copy of long side
  ``background_long_side`` with an element (``background_se`` of it) larger than an orb.

A pixel carries light when its increment is a large part of its own level
(``increment >= rel_increment * Y``; ``key_rel_increment`` on the face, where sebum highlights
are faint), among the strongest increments of its region (``>= peak_fraction`` of the 99th
percentile), above the noise (``noise_k`` x the Immerkaer noise, carried to linear light), not
dark (sRGB luma below ``dark_level``: 8-bit quantisation ruins chromaticity there) and not
clipped: a pixel with a channel at or above ``clip_level`` (sRGB-encoded), or next to one, has
lost its chromaticity.

**Key light** (``subject_cct_k``), read in this order, the first that works wins (the method is
recorded in ``artifacts["subject"]["method"]``):

1. ``face highlights``: on the ellipse inscribed in the detected face box (enlarged by
   ``face_margin``), read at a face width of ``key_face_px`` px with an element of
   ``key_se_face`` face widths. Faces are the portrait's natural light probe (Bianco &
   Schettini 2014) and keep the garment out. Of the candidates only the *specular* ones are
   kept: increments whose (u, v) lies at least ``distinct_uv`` from the body colour (the median
   chromaticity of the region's brighter half: skin) and within ``locus_duv`` of the Planckian
   locus (a light is near it; the increment of an albedo edge or of a tone-curve artefact is
   not), provided they are at least ``min_pixels`` pixels and ``distinct_share`` of the
   increments' weight. A shading bump or a cloth fold has the colour of its surface and is
   dropped; on a neutral surface both colours are the light's and nothing is lost.
2. ``subject highlights``: the same on the subject box (long side ``key_box_long_side``,
   element ``key_se_box`` of its width), e.g. when no face is found, except that a highlight is
   told from the surface right under it (a subject has several surfaces: skin, shirt, jacket):
   an orange jacket's folds have the jacket's colour and are dropped, the skin's speculars or a
   satin sheen are kept.
3. ``subject increments (...)``: no specular highlights anywhere (soft light): every increment
   of the subject box, biased toward the surfaces' own colour (skin reads warmer than its
   light), said so in the method.
4. ``grey-edge``: the general grey-edge hypothesis (van de Weijer, Gevers & Gijsenij 2007,
   "Edge-based color constancy", IEEE TIP 16(9)), Minkowski ``p = 6`` of Gaussian (sigma 1)
   derivatives on the face or subject box; also albedo-biased. Else NaN with the reason.

Tone-curve repair: a real photograph's (or a generator's) highlights pass a tone-curve
shoulder that compresses the largest channel, so near white an increment turns cyan (a
neutral highlight on skin measured 10 000-12 000 K, Duv +0.03, on AI ID photos). A selected
pixel whose largest channel is at least ``shoulder_level`` (sRGB-encoded), whose increment is
at least ``shoulder_share`` of its luminance *and* lies off the locus is taken at its value
instead (highlight-dominated). A linear render keeps its on-locus increments.

**Background** (``background_cct_k``): the bokeh family's orbs when it found any
(``ctx.result("bokeh")``: the family requires bokeh; full-resolution x, y, r; discs of 0.8 r, anywhere but on the
face: an orb inside a generous head-and-shoulders box is still an orb, and a reflective part of
the subject outside the box, a held helmet, is not one) -> ``bokeh orbs``; else the light
sources outside the subject box -> ``background sources``; else the bright-pixel estimate
(Joze, Drew, Finlayson & Rey 2012, "The role of bright pixels in illumination estimation"):
the top ``bright_top`` of the unclipped background (a lit studio backdrop) -> ``bright
pixels``; a uniform background has no light-carrying pixels: NaN with the reason.

A source's chromaticity is the summed XYZ of its pixels after a one-step trim: pixels whose
(u, v) lie farther than ``trim_radius_uv`` (about 45 mired) from the luminance-weighted median
are dropped (e.g. the white of an eye against skin makes a bright increment whose colour is
the albedo difference, not the light).

Warm and cool clusters
----------------------
The light-carrying pixels -- the key's after its trim (what it dropped is surface colour) and
the background's that were kept or are as bright as those (a second, differently coloured lamp
is bright; a crowd face lit by the ambience is not a lamp) -- at most ``max_points`` of them (a
fixed-seed subsample), are split into two clusters by weighted 2-means in (u, v) (Lloyd 1982),
started at the key and background estimates; the cluster whose summed XYZ has the lower CCT is
*warm*. Along the axis joining the two centres (distance ``d`` in uv), ``separation = d /
sqrt((s_w^2 + s_c^2) / 2)``, ``s`` each cluster's luminance-weighted spread along that axis,
floored at ``spread_floor_uv`` (0.005 uv, about 15 mired: the CCT tolerance), a Fisher /
Ashman-D style ratio. One light gives ~1-2 (measured 0.7-1.8 on the renderer with key =
background), two lights >= 150 mired apart 10-24 (median 16). ``mud_fraction`` is the weight
fraction of those pixels whose projection lies in the middle half between the centres (0.25 < t
< 0.75): light blended from the two sources instead of kept apart (a uniform smear between them
gives ~0.25, two tight clusters 0; background lamps spread over 2200-9500 K gave 0-0.21 on the
renderer).

Validation (tests/test_color.py; renderer figures from ``lenscore.datasets.synthetic`` at
512 px, 40 scenes per subject, key over 2200-9500 K x background over 2200-9500 K, the bokeh
family run first as in a real run): |CCT error| median / max in mired -- procedural head: key
6.9 / 13.5 (mean -6.0), background 0.6 / 3.0; astronaut: key 9.8 / 17.5 (mean +10.2: its albedo
is a photograph whose own highlights are warm), background 0.6 / 6.4. All 80 key and 80
background readings within +-10 % or 15 mired; delta_mired sign right on 60/60 pairs >= 50
mired apart; key = background gives |delta_mired| <= 12 (procedural) / <= 17 (astronaut).
Without the bokeh family's orbs the astronaut's held helmet, outside the head-and-shoulders box,
passes for a background light in 8/40 scenes.

Outputs
-------
``color.subject_cct_k``     K, CCT of the key light on the subject (face highlights).
``color.background_cct_k``  K, CCT of the background light sources (orbs, lamps, highlights).
``color.warm_cct_k``        K, CCT of the warmer of the two light clusters.
``color.cool_cct_k``        K, CCT of the cooler of the two light clusters.
``color.delta_mired``       mired, ``1e6/subject_cct_k - 1e6/background_cct_k``: SIGNED, positive
                            when the subject is lit warmer than the background (the article's
                            recipe, a 2700 K key against 6500 K background ambience, gives
                            +217); 0 = one light colour. Direction "neither": a neutral studio
                            portrait is not worse for being neutral; use ``separation`` for
                            "warm and cool stay apart".
``color.separation``        dimensionless, higher is better (see above).
``color.mud_fraction``      0..1, lower is better.

Artifacts (for reports: a CIE 1960 uv diagram with the Planckian locus, and the image)
--------------------------------------------------------------------------------------
``points_uv``  float32 (N, 2), N <= ``max_points``: (u, v) of light-carrying pixels (subsampled).
``points_xy``  float32 (N, 2): their positions, full-resolution pixels (x, y).
``points_label`` int8 (N,): 0 = warm cluster, 1 = cool cluster (-1 when no clusters).
``points_region`` int8 (N,): 0 = key light region (subject), 1 = background.
``points_mired`` float32 (N,): their approximate mired (:func:`planckian_position`).
``clusters``   {"warm": {"uv", "cct_k", "duv"}, "cool": {...}} or None.
``subject`` / ``background`` {"uv", "cct_k", "duv", "method", "n_pixels", "box"} (box: the region
               read, full-resolution (x, y, w, h); None for the background or when nothing
               was read).

References: Krystek (1985), "An algorithm to calculate correlated colour temperature", Color
Res. Appl. 10(1) (rational approximation of the Planckian locus in uv) and Robertson (1968),
"Computation of correlated color temperature and distribution temperature", JOSA 58(11)
(isotemperature lines), used for cheap per-pixel (mired, Duv); Ashman, Bird & Zepf (1994),
AJ 108 (bimodality D); Lloyd (1982), "Least squares quantization in PCM", IEEE TIT 28(2).

References
----------
.. [1] Y. Ohno, "Practical use and calculation of CCT and Duv", LEUKOS 10(1), 2014.
   https://doi.org/10.1080/15502724.2013.839020
.. [2] J. van de Weijer, T. Gevers, A. Gijsenij, "Edge-based color constancy", IEEE TIP
   16(9), 2007. https://doi.org/10.1109/TIP.2007.901808
.. [3] H. R. V. Joze, M. S. Drew, G. D. Finlayson, P. A. T. Rey, "The role of bright pixels
   in illumination estimation", Color and Imaging Conference 2012.
   https://library.imaging.org/cic/articles/20/1/art00008
.. [4] S. A. Shafer, "Using color to separate reflection components", Color Research &
   Application 10(4), 1985. https://doi.org/10.1002/col.5080100409
.. [5] S. Bianco, R. Schettini, "Adaptive color constancy using faces", IEEE TPAMI 36(8),
   2014. https://doi.org/10.1109/TPAMI.2013.2297710
.. [6] S. Lloyd, "Least squares quantization in PCM", IEEE Trans. Information Theory 28(2),
   1982. https://doi.org/10.1109/TIT.1982.1056489
.. [7] K. M. Ashman, C. M. Bird, S. E. Zepf, "Detecting bimodality in astronomical datasets",
   Astronomical Journal 108, 1994. https://doi.org/10.1086/117248
.. [8] A. R. Robertson, "Computation of correlated color temperature and distribution
   temperature", JOSA 58(11), 1968. https://doi.org/10.1364/JOSA.58.001528
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import cv2
import numpy as np

from lenscore.errors import InputError
from lenscore.imaging import REC709, SRGB_TO_XYZ, srgb_to_linear
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.context import ImageContext
    from lenscore.evaluator.validate import Check, Plan

FAMILY_NAME = "color"
VERSION = "1"
#: smallest image side (px) the family reads: below it there are no highlights to speak of.
MIN_SIDE = 32


@dataclass(frozen=True)
class ColorParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``)."""

    # -- which pixels are usable
    #: sRGB-encoded channel level treated as clipped
    clip_level: float = 0.98
    #: sRGB-encoded luma below which chromaticity is unreliable
    dark_level: float = 0.12
    # -- which pixels carry light (increments over the local floor)
    #: increment must be >= this fraction of the pixel's luminance
    rel_increment: float = 0.25
    #: ... on the key region (skin highlights are faint)
    key_rel_increment: float = 0.1
    #: ... and >= this fraction of the region's 99th-pct increment
    peak_fraction: float = 0.2
    #: ... and >= noise_k x noise (linear)
    noise_k: float = 4.0
    # -- key light: speculars, told from the surface
    #: highlights differ from the body colour by >= this (uv)
    distinct_uv: float = 0.015
    #: ... and lie within this Duv of the Planckian locus
    locus_duv: float = 0.02
    #: ... and carry >= this share of the increments' weight
    distinct_share: float = 0.05
    #: sRGB-encoded level above which a highlight's value is used
    shoulder_level: float = 0.92
    #: ... when its increment is >= this share of its luminance
    shoulder_share: float = 0.3
    #: face box enlarged by this fraction of its size, each side
    face_margin: float = 0.05
    #: the face is read at >= this width (px, integer reduction)
    key_face_px: int = 128
    #: key structuring element, fraction of the face width
    key_se_face: float = 0.15
    #: without a face, the subject box is read at >= this long side
    key_box_long_side: int = 256
    #: ... with this structuring element (fraction of the box width)
    key_se_box: float = 0.08
    #: grey-edge fallback: Minkowski norm
    gray_edge_p: float = 6.0
    #: grey-edge fallback: Gaussian scale (px, reading scale)
    gray_edge_sigma: float = 1.0
    # -- background
    #: background read on a copy of about this long side
    background_long_side: int = 256
    #: background structuring element, fraction of that long side
    background_se: float = 0.15
    #: bright-pixel fallback: top fraction of background pixels
    bright_top: float = 0.02
    # -- sources, CCT and clusters
    #: fewest light-carrying pixels for an estimate
    min_pixels: int = 6
    #: trimmed-mean radius in uv (~45 mired)
    trim_radius_uv: float = 0.015
    #: |Duv| above which CCT is undefined
    duv_limit: float = 0.05
    #: floor of a cluster spread: ~15 mired, the CCT tolerance
    spread_floor_uv: float = 0.005
    #: points kept for the clusters and the artifacts
    max_points: int = 2000


PARAMS = ColorParams()

OUTPUTS = (
    Output("color.subject_cct_k", "K", "neither", (1000.0, 100000.0),
           "Correlated colour temperature of the key light on the subject, read from specular "
           "highlights on the face (Ohno 2013); NaN when |Duv| > 0.05."),
    Output("color.background_cct_k", "K", "neither", (1000.0, 100000.0),
           "Correlated colour temperature of the background light sources (orbs, lamps, "
           "highlights), read as their increment over the ambient floor."),
    Output("color.warm_cct_k", "K", "neither", (1000.0, 100000.0),
           "CCT of the warmer of two clusters of light-carrying pixels (2-means in CIE 1960 uv)."),
    Output("color.cool_cct_k", "K", "neither", (1000.0, 100000.0),
           "CCT of the cooler of two clusters of light-carrying pixels (2-means in CIE 1960 uv)."),
    Output("color.delta_mired", "mired", "neither", (-1000.0, 1000.0),
           "Signed mired difference key minus background, 1e6/K_subject - 1e6/K_background: "
           "> 0 when the subject is lit warmer than the background (warm key, cool ambience)."),
    Output("color.separation", "ratio", "higher", (0.0, math.inf),
           "Distance between the warm and cool clusters in uv over their pooled spread along "
           "that axis (Fisher-like, spread floored at ~15 mired): ~1-2 for one light colour, "
           "10-24 for two lights >= 150 mired apart."),
    Output("color.mud_fraction", "fraction", "lower", (0.0, 1.0),
           "Share of light-carrying pixels lying in the middle half between the warm and cool "
           "clusters: light blended into mud instead of kept separate."),
)


# ---------------------------------------------------------------------------------------------
# Chromaticity
# ---------------------------------------------------------------------------------------------
def xyz_to_uv(xyz: np.ndarray) -> np.ndarray:
    """CIE XYZ (..., 3) -> CIE 1960 UCS (u, v) (..., 2); NaN where X + 15Y + 3Z <= 0.

    ``u = 4X / (X + 15Y + 3Z)``, ``v = 6Y / (X + 15Y + 3Z)`` (CIE 1960 / MacAdam 1937).
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    den = xyz[..., 0] + 15.0 * xyz[..., 1] + 3.0 * xyz[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(den > 0, 4.0 * xyz[..., 0] / den, np.nan)
        v = np.where(den > 0, 6.0 * xyz[..., 1] / den, np.nan)
    return np.stack([u, v], axis=-1)


def planckian_uv(kelvin: np.ndarray | float) -> np.ndarray:
    """CIE 1960 (u, v) of the Planckian locus, Krystek (1985) rational approximation.

    Valid 1000-15000 K (|error| ~1e-4 in uv, about 0.3 mired); used to place per-pixel points on
    the mired scale cheaply. Reported CCTs come from :func:`cct_duv` (Ohno 2013) instead.

    Examples
    --------
    >>> [round(float(v), 4) for v in planckian_uv(6500.0)]
    [0.2005, 0.3103]
    """
    t = np.asarray(kelvin, dtype=np.float64)
    u = (0.860117757 + 1.54118254e-4 * t + 1.28641212e-7 * t * t) / (
        1.0 + 8.42420235e-4 * t + 7.08145163e-7 * t * t)
    v = (0.317398726 + 4.22806245e-5 * t + 4.20481691e-8 * t * t) / (
        1.0 - 2.89741816e-5 * t + 1.61456053e-7 * t * t)
    return np.stack([u, v], axis=-1)


_LOCUS_MIRED = np.arange(66.0, 1001.0, 5.0)  # 15000..1000 K
_LOCUS_UV = planckian_uv(1e6 / _LOCUS_MIRED)
_LOCUS_TANGENT = np.gradient(_LOCUS_UV, axis=0)
_LOCUS_TANGENT /= np.hypot(_LOCUS_TANGENT[:, 0], _LOCUS_TANGENT[:, 1])[:, None]
_LOCUS_OFFSET = (_LOCUS_UV * _LOCUS_TANGENT).sum(axis=1)


def planckian_position(uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Approximate (mired, Duv) of CIE 1960 points by isotemperature lines (Robertson 1968).

    Isotemperature lines are the normals of the Planckian locus (Krystek 1985 approximation,
    every 5 mired, 1000-15000 K); a point's mired is interpolated between the two lines it lies
    between, and its Duv is its signed distance from the locus (> 0 above it, toward green).
    Cheap per-point placement (reported CCTs use :func:`cct_duv`); mired clamped to 66-1000;
    NaN for NaN input.

    Examples
    --------
    >>> m, d = planckian_position(planckian_uv(np.array([2700.0, 6500.0])))
    >>> np.round(m, 1).tolist(), bool(np.all(np.abs(d) < 1e-3))
    ([370.4, 153.8], True)
    """
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    mired = np.full(uv.shape[0], np.nan)
    duv = np.full(uv.shape[0], np.nan)
    ok = np.isfinite(uv).all(axis=1)
    if ok.any():
        q = uv[ok]

        def dist(k: np.ndarray) -> np.ndarray:
            # signed distance of each point from isotemperature line k, along the locus
            # tangent (which points toward rising mired): > 0 when the point is warmer
            t = _LOCUS_TANGENT[k]
            return q[:, 0] * t[:, 0] + q[:, 1] * t[:, 1] - _LOCUS_OFFSET[k]

        # start from the line whose locus point has the same u (u rises with mired), then
        # bisect inside a bracket that is widened to the whole table where it does not hold
        last = _LOCUS_MIRED.size - 1
        k0 = np.interp(q[:, 0], _LOCUS_UV[:, 0], np.arange(last + 1)).astype(np.intp)
        lo, hi = np.clip(k0 - 12, 0, last - 1), np.clip(k0 + 12, 1, last)
        bad = ~((dist(lo) > 0) | (lo == 0)) | ~((dist(hi) <= 0) | (hi == last))
        lo[bad], hi[bad] = 0, last
        while np.any(hi - lo > 1):
            mid = (lo + hi) // 2
            warmer = dist(mid) > 0
            lo = np.where(warmer, mid, lo)
            hi = np.where(warmer, hi, mid)
        d0, d1 = dist(lo), dist(hi)
        den = d0 - d1
        t = np.clip(np.divide(d0, den, out=np.zeros_like(d0), where=den != 0), 0.0, 1.0)
        mired[ok] = _LOCUS_MIRED[lo] + t * (_LOCUS_MIRED[hi] - _LOCUS_MIRED[lo])
        foot = _LOCUS_UV[lo] + t[:, None] * (_LOCUS_UV[hi] - _LOCUS_UV[lo])
        tan = _LOCUS_TANGENT[lo] + t[:, None] * (_LOCUS_TANGENT[hi] - _LOCUS_TANGENT[lo])
        # the tangent runs toward warm (+u); its left normal (-t_v, t_u) points up (+v)
        duv[ok] = (q[:, 1] - foot[:, 1]) * tan[:, 0] - (q[:, 0] - foot[:, 0]) * tan[:, 1]
    return mired, duv


def approximate_mired(uv: np.ndarray) -> np.ndarray:
    """Mired of CIE 1960 points, see :func:`planckian_position`."""
    return planckian_position(uv)[0]


def cct_duv(uv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CCT (K) and Duv of CIE 1960 chromaticities, Ohno (2014) via colour-science ("Ohno 2013").

    Parameters
    ----------
    uv : array (..., 2)
        CIE 1960 UCS chromaticities; NaN rows give NaN.

    Returns
    -------
    (cct, duv) arrays of the leading shape. colour is imported here (it costs ~1 s once), and
    the first call of a process builds its Planckian table (~0.2 s); later calls take ~0.5 ms.

    Examples
    --------
    >>> cct, duv = cct_duv(np.array([0.2004486, 0.3103617]))
    >>> round(float(cct)), abs(float(duv)) < 1e-4
    (6500, True)
    """
    import colour  # lazy: ~1 s to import

    uv = np.asarray(uv, dtype=np.float64)
    lead = uv.shape[:-1]
    flat = uv.reshape(-1, 2)
    cct = np.full(flat.shape[0], np.nan)
    duv = np.full(flat.shape[0], np.nan)
    ok = np.isfinite(flat).all(axis=1) & (flat[:, 1] > 0)
    if ok.any():
        import warnings

        with warnings.catch_warnings():
            # colour warns when the answer sits on its table's end (1000 K or 100000 K);
            # such a value is no Kelvin at all: NaN below, so the caller gives the reason
            warnings.simplefilter("ignore", colour.utilities.ColourRuntimeWarning)
            res = np.asarray(colour.uv_to_CCT(flat[ok], method="Ohno 2013"), dtype=np.float64)
        res = res.reshape(-1, 2)
        cct[ok], duv[ok] = res[:, 0], res[:, 1]
        off_table = ~((cct > 1001.0) & (cct < 99000.0))
        cct[off_table], duv[off_table] = np.nan, np.nan
    return cct.reshape(lead), duv.reshape(lead)


def _cct_with_reason(cct: float, duv: float, *, duv_limit: float,
                     what: str) -> tuple[float, str | None]:
    if not (math.isfinite(cct) and math.isfinite(duv)):
        return math.nan, f"{what}: chromaticity outside the CCT domain"
    if abs(duv) > duv_limit:
        return math.nan, f"{what}: not a blackbody-like light (Duv={duv:+.3f}, |Duv| > {duv_limit})"
    if not 1000.0 <= cct <= 100000.0:
        return math.nan, f"{what}: CCT {cct:.0f} K outside 1000-100000 K"
    return float(cct), None


# ---------------------------------------------------------------------------------------------
# Light-carrying pixels
# ---------------------------------------------------------------------------------------------
@dataclass
class LightPixels:
    """Light-carrying pixels of one region: their linear-RGB light and where they are.

    ``rgb`` (N, 3) float64 linear light attributed to the source (increment or value);
    ``weight`` (N,) its luminance times the pixel area (in reading-scale pixels, so regions read
    at different scales are comparable); ``xy`` (N, 2) positions in the caller's pixels;
    ``method`` how they were found.
    """

    rgb: np.ndarray
    weight: np.ndarray
    xy: np.ndarray
    method: str
    #: True when the pixels are highlights told apart from the surface's own colour (speculars)
    distinct: bool = False

    @property
    def n(self) -> int:
        return int(self.rgb.shape[0])

    @staticmethod
    def empty(method: str = "none") -> "LightPixels":
        return LightPixels(np.zeros((0, 3)), np.zeros(0), np.zeros((0, 2)), method)


def _odd(n: float) -> int:
    k = max(3, int(round(n)))
    return k if k % 2 else k + 1


def _linear_noise(y: np.ndarray, noise_sigma: float) -> np.ndarray:
    """Noise of encoded level ``noise_sigma`` carried to linear light at luminance ``y``.

    dL/dE of the sRGB EOTF is 2.4/1.055 * L^(1.4/2.4) on its power branch, 1/12.92 below.
    """
    if not (noise_sigma > 0 and math.isfinite(noise_sigma)):
        return np.zeros_like(y)
    slope = np.maximum(1.0 / 12.92, (2.4 / 1.055) * np.power(np.maximum(y, 0.0), 1.4 / 2.4))
    return noise_sigma * slope


def _luminance(lin: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB (H, W, 3) float32, in one pass (cv2.transform)."""
    return cv2.transform(lin, REC709.reshape(1, 3))


def light_floor(linear: np.ndarray, *, se_px: int) -> np.ndarray:
    """The local diffuse floor under highlights: ``open(close(I))`` per channel.

    Flat square elements. The closing (side ``se_px / 3``) fills thin dark gaps (between orbs,
    eyelids) so they cannot pull the floor down; the opening (side ``se_px``) removes bright
    details narrower than it (highlights, orbs). Surfaces wider than the element and linear
    shading ramps are their own floor; a curved (dome) shading loses a cap of about
    curvature x (se_px / 2)^2, which is why the element is kept small on faces.
    """
    lin = np.ascontiguousarray(linear, dtype=np.float32)
    fill = _odd(se_px / 3.0)
    kc = cv2.getStructuringElement(cv2.MORPH_RECT, (fill, fill))
    ko = cv2.getStructuringElement(cv2.MORPH_RECT, (_odd(se_px), _odd(se_px)))
    closed = cv2.morphologyEx(lin, cv2.MORPH_CLOSE, kc, borderType=cv2.BORDER_REPLICATE)
    return cv2.morphologyEx(closed, cv2.MORPH_OPEN, ko, borderType=cv2.BORDER_REPLICATE)


def select_highlights(linear: np.ndarray, usable: np.ndarray, *, se_px: int,
                      noise_sigma: float = 0.0, rel_increment: float = PARAMS.rel_increment,
                      peak_fraction: float = PARAMS.peak_fraction,
                      noise_k: float = PARAMS.noise_k, distinct_uv: float | None = None,
                      distinct_share: float = PARAMS.distinct_share,
                      locus_duv: float | None = None, distinct_from: str = "body",
                      shoulder: float | None = None,
                      shoulder_share: float = PARAMS.shoulder_share,
                      min_distinct: int = PARAMS.min_pixels) -> LightPixels:
    """Light-carrying pixels of one region, as their increment over the local floor.

    Parameters
    ----------
    linear : (H, W, 3) float
        Linear RGB of the region's crop.
    usable : (H, W) bool
        In the region, not clipped, not dark.
    se_px : int
        Structuring-element side (px): larger than the highlights / orbs to be read.
    noise_sigma : float
        Noise std of the sRGB-encoded luma (Immerkaer), carried to linear light per pixel.
    distinct_uv : float, optional
        Reflective surfaces (the key light): keep the increments whose chromaticity differs from
        the body colour by at least this much in uv (``distinct_from="body"``: the median of the
        region's brighter half, on a face the skin; ``"floor"``: the surface right under each
        pixel, for a subject of several surfaces), and lies within ``locus_duv`` of the
        Planckian locus. The increment of a shading bump or a cloth fold has the colour of the
        surface (albedo x light); a specular highlight has the colour of the light (dichromatic
        model), which is not a coloured surface's, and a light is near the locus (an increment
        far off it is an albedo edge or a tone-curve artefact). When fewer than ``min_distinct``
        pixels or ``distinct_share`` of the weight qualify (a neutral surface, where both
        colours are the light's, or no specular at all), every candidate is kept and
        ``distinct`` is False.
    shoulder, shoulder_share : float, optional
        Tone-curve repair: a selected pixel whose largest channel is at least ``shoulder``
        (linear) and whose increment is at least ``shoulder_share`` of its luminance but lies
        off the locus (by ``locus_duv``) has had its largest channel compressed by the tone
        curve (the increment turns cyan); its value, highlight-dominated, is taken instead.

    Returns
    -------
    LightPixels with the increments (method "highlights"), xy in the crop's pixels.
    """
    lin = np.ascontiguousarray(linear, dtype=np.float32)
    y = _luminance(lin)
    floor = light_floor(lin, se_px=se_px)
    inc = np.maximum(lin - floor, 0.0)
    ty = _luminance(inc)
    cand = usable & (ty > 0)
    if not cand.any():
        return LightPixels.empty("highlights")
    tyc = ty[cand]
    peak = float(np.partition(tyc, int(0.99 * (tyc.size - 1)))[int(0.99 * (tyc.size - 1))])
    sel = cand & (ty >= rel_increment * y) & (ty >= peak_fraction * peak)
    ii, jj = np.nonzero(sel)
    if noise_sigma > 0 and ii.size:
        above = ty[ii, jj] >= noise_k * _linear_noise(y[ii, jj], noise_sigma)
        ii, jj = ii[above], jj[above]
    rgb, wgt = inc[ii, jj].astype(np.float64), ty[ii, jj].astype(np.float64)
    m = SRGB_TO_XYZ.T.astype(np.float64)
    found = False
    if locus_duv is not None and ii.size:
        uv = xyz_to_uv(rgb @ m)
        if shoulder is not None:
            val = lin[ii, jj].astype(np.float64)
            fix = (val.max(axis=1) >= shoulder) & (wgt >= shoulder_share * y[ii, jj])
            if fix.any():  # repair only those whose increment is off the locus
                fix[fix] = np.abs(planckian_position(uv[fix])[1]) > locus_duv
                rgb[fix], wgt[fix] = val[fix], y[ii[fix], jj[fix]]
                uv[fix] = xyz_to_uv(rgb[fix] @ m)
        if distinct_uv is not None:
            if distinct_from == "body":
                # (on every 4th row and column: a median needs no more)
                k = 4 if usable[::4, ::4].any() else 1
                us, ys, ls = usable[::k, ::k], y[::k, ::k], lin[::k, ::k]
                ref = xyz_to_uv(ls[us & (ys >= np.median(ys[us]))].astype(np.float64) @ m)
                ref = np.median(ref[np.isfinite(ref).all(axis=1)], axis=0)[None, :]
            else:  # the surface right under each highlight
                ref = xyz_to_uv(floor[ii, jj].astype(np.float64) @ m)
            distinct = np.hypot(uv[:, 0] - ref[:, 0], uv[:, 1] - ref[:, 1]) >= distinct_uv
            if distinct.any():  # ... and near the Planckian locus
                distinct[distinct] = np.abs(planckian_position(uv[distinct])[1]) <= locus_duv
            found = bool(distinct.sum() >= min_distinct
                         and wgt[distinct].sum() >= distinct_share * wgt.sum())
            if found:
                ii, jj, rgb, wgt = ii[distinct], jj[distinct], rgb[distinct], wgt[distinct]
    return LightPixels(rgb, wgt, np.stack([jj, ii], axis=1).astype(np.float64), "highlights",
                       distinct=found)


def bright_pixels(linear: np.ndarray, usable: np.ndarray, *, top: float = PARAMS.bright_top
                  ) -> LightPixels:
    """The brightest ``top`` fraction of usable pixels, by value (Joze et al. 2012)."""
    y = np.asarray(linear, dtype=np.float32) @ REC709
    yu = y[usable]
    if yu.size == 0:
        return LightPixels.empty("bright pixels")
    thr = float(np.quantile(yu, 1.0 - top))
    ii, jj = np.nonzero(usable & (y >= thr))
    return LightPixels(np.asarray(linear, dtype=np.float64)[ii, jj], y[ii, jj].astype(np.float64),
                       np.stack([jj, ii], axis=1).astype(np.float64), "bright pixels")


def gray_edge(linear: np.ndarray, usable: np.ndarray, *, p: float = PARAMS.gray_edge_p,
              sigma: float = PARAMS.gray_edge_sigma, min_gradient: float = 1e-4
              ) -> np.ndarray | None:
    """Illuminant colour (linear RGB, unnormalised) by the general grey-edge hypothesis.

    ``e_c = (sum |grad G_sigma * f_c|^p)^(1/p)`` over usable pixels (van de Weijer, Gevers &
    Gijsenij 2007, first order). None when the region has no edges.
    """
    lin = np.ascontiguousarray(linear, dtype=np.float32)
    if sigma > 0:
        lin = cv2.GaussianBlur(lin, (0, 0), sigma)
    gx = cv2.Sobel(lin, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(lin, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    mag = np.sqrt(gx * gx + gy * gy)[usable].astype(np.float64)
    if mag.size == 0:
        return None
    scale = mag.max()
    if not scale > min_gradient:  # a flat region has no edges (only rounding noise)
        return None
    e = (np.mean((mag / scale) ** p, axis=0)) ** (1.0 / p) * scale
    return e if np.all(np.isfinite(e)) and e.sum() > 0 else None


def trimmed_source(light: LightPixels, *, radius_uv: float = PARAMS.trim_radius_uv
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Summed XYZ of a region's light after a one-step trim around its median chromaticity.

    The centre is the luminance-weighted median (u, v) of the pixels; pixels farther than
    ``radius_uv`` from it are dropped (e.g. an edge between a white and a skin-coloured surface
    makes a bright increment whose colour is the albedo difference, not the light).

    Returns (xyz (3,), kept mask (N,)).
    """
    xyz = light.rgb @ SRGB_TO_XYZ.T.astype(np.float64)
    uv = xyz_to_uv(xyz)
    ok = np.isfinite(uv).all(axis=1) & (light.weight > 0)
    if not ok.any():
        return np.full(3, np.nan), ok
    med = np.array([_weighted_median(uv[ok, 0], light.weight[ok]),
                    _weighted_median(uv[ok, 1], light.weight[ok])])
    keep = ok & (np.hypot(uv[:, 0] - med[0], uv[:, 1] - med[1]) <= radius_uv)
    if not keep.any():
        keep = ok
    return xyz[keep].sum(axis=0), keep


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cw, 0.5 * cw[-1])])


# ---------------------------------------------------------------------------------------------
# Clusters
# ---------------------------------------------------------------------------------------------
@dataclass
class Clusters:
    """Two light clusters in uv: labels (0 warm, 1 cool), centres (warm first), statistics."""

    labels: np.ndarray
    centres_uv: np.ndarray  # (2, 2) weighted mean uv of the points, warm then cool
    separation: float
    mud_fraction: float


def two_clusters(uv: np.ndarray, weight: np.ndarray, *, init: np.ndarray | None = None,
                 spread_floor: float = PARAMS.spread_floor_uv,
                 iterations: int = 30) -> Clusters | None:
    """Weighted 2-means in CIE 1960 uv (Lloyd 1982), then separation and mud along the axis.

    Parameters
    ----------
    uv : (N, 2), weight : (N,)
        Points and their weights (luminance).
    init : (2, 2), optional
        Starting centres (e.g. key and background estimates); default: weighted 10th and 90th
        percentiles of u (u falls monotonically along the Planckian locus from warm to cool).

    Returns
    -------
    :class:`Clusters`, warm first (larger u: the warmer side of the locus); None for fewer
    than two points. Points of a single colour give separation 0 and mud 0.

    Examples
    --------
    >>> pts = np.array([[0.26, 0.35]] * 5 + [[0.20, 0.31]] * 5)
    >>> cl = two_clusters(pts + 1e-4 * np.arange(10)[:, None], np.ones(10))
    >>> cl.labels.tolist(), round(cl.mud_fraction, 2), cl.separation > 10
    ([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], 0.0, True)
    """
    uv = np.asarray(uv, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    n = uv.shape[0]
    if n < 2 or not w.sum() > 0:
        return None
    if init is None or not np.all(np.isfinite(init)) or np.allclose(init[0], init[1]):
        order = np.argsort(uv[:, 0])
        cw = np.cumsum(w[order]) / w.sum()
        hi = uv[order][min(np.searchsorted(cw, 0.9), n - 1)]
        lo = uv[order][np.searchsorted(cw, 0.1)]
        init = np.stack([hi, lo])
    c = np.array(init, dtype=np.float64)
    labels = np.full(n, -1, dtype=np.int8)
    for _ in range(iterations):
        new = (((uv - c[1]) ** 2).sum(axis=1) < ((uv - c[0]) ** 2).sum(axis=1)).astype(np.int8)
        if np.array_equal(new, labels):
            break
        labels = new
        wk = np.bincount(labels, weights=w, minlength=2)
        if not (wk > 0).all():  # one colour: everything on one side
            break
        c = np.stack([np.bincount(labels, weights=w * uv[:, j], minlength=2) / wk
                      for j in (0, 1)], axis=1)
    wk = np.bincount(labels, weights=w, minlength=2)
    if not (wk > 0).all():
        centre = np.average(uv, axis=0, weights=w)
        return Clusters(np.zeros(n, np.int8), np.stack([centre, centre]), 0.0, 0.0)
    if c[1, 0] > c[0, 0]:  # warm (larger u) first
        c = c[::-1].copy()
        labels = (1 - labels).astype(np.int8)
        wk = wk[::-1]
    axis = c[1] - c[0]
    d = float(np.hypot(*axis))
    if d < 1e-9:
        return Clusters(labels, c, 0.0, 0.0)
    t = ((uv - c[0]) @ axis) / (d * d)
    x = t * d
    mu = np.bincount(labels, weights=w * x, minlength=2) / wk
    var = np.bincount(labels, weights=w * (x - mu[labels]) ** 2, minlength=2) / wk
    spreads = np.maximum(spread_floor, np.sqrt(var))
    sep = d / math.sqrt(0.5 * float((spreads ** 2).sum()))
    mud = float(w[(t > 0.25) & (t < 0.75)].sum() / w.sum())
    return Clusters(labels, c, float(sep), mud)


# ---------------------------------------------------------------------------------------------
# The whole measurement on arrays
# ---------------------------------------------------------------------------------------------
def _shrink(img: np.ndarray, k: int) -> np.ndarray:
    """Area-average ``img`` by the integer factor ``k`` (its sides must be multiples of k).

    Integer factors take OpenCV's fast INTER_AREA path; uint8 0/255 masks come out 255 only
    where all k x k source pixels were 255.
    """
    if k <= 1:
        return img
    h, w = img.shape[:2]
    return cv2.resize(img, (w // k, h // k), interpolation=cv2.INTER_AREA)


def _usable(lin: np.ndarray, clipped: np.ndarray, region: np.ndarray | None,
            dark_lin: float) -> np.ndarray:
    """Usable pixels of a (resized) crop: no clipped pixel under them, in the region, not dark.

    ``clipped`` and ``region`` are uint8 0/255 masks already resized to ``lin`` with area
    averaging, so a reading pixel touching a clipped (or off-region) pixel is excluded.
    """
    ok = (clipped == 0) & (_luminance(lin) >= dark_lin)
    if region is not None:
        ok &= region == 255
    return ok


def _read_key(linear: np.ndarray, clipped: np.ndarray, region: np.ndarray | None,
              box: Sequence[float], *, scale_ref: float, long_side: float, se_frac: float,
              ellipse: bool, noise_sigma: float, p: dict, distinct_from: str = "body"
              ) -> tuple[LightPixels, np.ndarray, np.ndarray]:
    """Highlights of the key region ``box`` (working px), read at ``long_side / scale_ref``.

    ``ellipse``: only the ellipse inscribed in the box (a face: the box's corners are hair or
    background, and an orb behind the head must not pass for the key light).
    Returns the light (xy in working px, weight in working-px area) and the reading-scale
    crop and usable mask (for the grey-edge fallback).
    """
    h, w = linear.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    k = max(1, int(scale_ref // long_side))  # integer reduction (fast, exact masks)
    x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
    x1, y1 = min(w, int(math.ceil(x + bw))), min(h, int(math.ceil(y + bh)))
    x1, y1 = x0 + (x1 - x0) // k * k, y0 + (y1 - y0) // k * k
    if x1 - x0 < 3 * k or y1 - y0 < 3 * k:
        return LightPixels.empty(), np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), bool)
    s = 1.0 / k
    lin_s = _shrink(linear[y0:y1, x0:x1], k)
    shape = lin_s.shape[:2]
    reg = None if region is None else _shrink(np.ascontiguousarray(region[y0:y1, x0:x1]), k)
    if ellipse:
        ell = np.zeros(shape, np.uint8)
        cx, cy = (x + bw / 2 - x0) * s, (y + bh / 2 - y0) * s
        cv2.ellipse(ell, (int(round(cx)), int(round(cy))),
                    (max(1, int(round(bw * s / 2))), max(1, int(round(bh * s / 2)))),
                    0, 0, 360, 255, -1)
        reg = ell if reg is None else np.minimum(reg, ell)
    use_s = _usable(lin_s, _shrink(np.ascontiguousarray(clipped[y0:y1, x0:x1]), k), reg,
                    float(srgb_to_linear(np.float32(p.dark_level))))
    light = select_highlights(lin_s, use_s, se_px=_odd(se_frac * scale_ref * s),
                              noise_sigma=noise_sigma, rel_increment=p.key_rel_increment,
                              peak_fraction=p.peak_fraction, noise_k=p.noise_k,
                              distinct_uv=p.distinct_uv, distinct_from=distinct_from,
                              shoulder=float(srgb_to_linear(np.float32(p.shoulder_level))),
                              shoulder_share=p.shoulder_share, locus_duv=p.locus_duv)
    light.xy = light.xy / s + np.array([x0, y0], dtype=np.float64)
    light.weight = light.weight / (s * s)
    return light, lin_s, use_s


def measure_color(linear: np.ndarray, encoded: np.ndarray, background: np.ndarray, *,
                  subject_box: Sequence[float] | None = None,
                  face_box: Sequence[float] | None = None,
                  orbs: Sequence[dict] | None = None, noise_sigma: float = 0.0,
                  **params: Any) -> MetricResult:
    """Light-source colours of a portrait: key light, background, warm/cool clusters, mud.

    Parameters
    ----------
    linear : (H, W, 3) float
        Linear RGB (working resolution).
    encoded : (H, W, 3) float
        The same pixels sRGB-encoded (for the clipping and darkness tests).
    background : (H, W) bool
        True outside the subject.
    subject_box, face_box : (x, y, w, h), optional, keyword-only
        In the same pixels. The key light is read on the face (enlarged by ``face_margin``)
        when its centre lies in the subject box, else on the subject box.
    orbs : list of dict, optional
        Bokeh orbs (keys x, y, r in the same pixels): background light carriers.
    noise_sigma : float
        Noise std of the encoded luma (Immerkaer 1996).
    **params
        Overrides of :data:`PARAMS`.

    Returns
    -------
    MetricResult
        ``values`` (output short name -> float), ``reasons`` (short name -> str) and
        ``artifacts`` (positions in the input's pixels; the caller rescales).
    """
    known = {f.name for f in dataclasses.fields(PARAMS)}
    unknown = set(params) - known
    if unknown:
        raise InputError(f"unknown color parameter(s) {sorted(unknown)}; known: {sorted(known)}")
    p = dataclasses.replace(PARAMS, **params)
    linear = np.asarray(linear, dtype=np.float32)
    encoded = np.asarray(encoded, dtype=np.float32)
    if linear.ndim != 3 or linear.shape[2] != 3 or encoded.shape != linear.shape:
        raise InputError(f"expected matching H x W x 3 linear and encoded images, got "
                         f"{linear.shape} and {encoded.shape}")
    h, w = linear.shape[:2]
    background = np.asarray(background, dtype=bool)
    if background.shape != (h, w):
        raise InputError(f"background mask must be {h} x {w}, got {background.shape}")

    values = {k: math.nan for k in ("subject_cct_k", "background_cct_k", "warm_cct_k",
                                     "cool_cct_k", "delta_mired", "separation", "mud_fraction")}
    reasons: dict[str, str] = {}
    artifacts: dict[str, Any] = {}

    # clipped pixels (and their neighbours) have lost their chromaticity; masks are uint8 0/255
    # so that area-resizing them marks every reading pixel that touches one
    below = float(np.nextafter(np.float32(p.clip_level), np.float32(0)))
    clipped = 255 - cv2.inRange(encoded, (-np.inf,) * 3, (below,) * 3)  # any channel >= level
    clipped = cv2.dilate(clipped, np.ones((3, 3), np.uint8))
    dark_lin = float(srgb_to_linear(np.float32(p.dark_level)))
    subject_u8 = (~background).astype(np.uint8) * 255

    # ---- key light --------------------------------------------------------------------------
    sbox = tuple(subject_box) if subject_box is not None else (0.0, 0.0, float(w), float(h))
    key_box, key_on_face = sbox, False
    if face_box is not None:
        fx, fy, fw, fh = (float(v) for v in face_box)
        cx, cy = fx + fw / 2, fy + fh / 2
        if sbox[0] <= cx <= sbox[0] + sbox[2] and sbox[1] <= cy <= sbox[1] + sbox[3] and fw > 0:
            m = p.face_margin
            key_box = (fx - m * fw, fy - m * fh, fw * (1 + 2 * m), fh * (1 + 2 * m))
            key_on_face = True
    # face speculars -> subject speculars -> subject increments (biased toward the surfaces'
    # own colour, said so in the method) -> grey-edge -> NaN
    face_read_box = key_box if key_on_face else None
    chosen = None
    if key_on_face:
        face_l, lin_f, use_f = _read_key(linear, clipped, None, key_box, scale_ref=key_box[2],
                                         long_side=p.key_face_px, se_frac=p.key_se_face,
                                         ellipse=True, noise_sigma=noise_sigma, p=p)
        if face_l.distinct and face_l.n >= p.min_pixels:
            chosen = (face_l, key_box, lin_f, use_f, "face highlights")
    if chosen is None:
        subj_l, lin_s, use_s = _read_key(
            linear, clipped, subject_u8, sbox, scale_ref=max(sbox[2], sbox[3]),
            long_side=p.key_box_long_side,
            se_frac=p.key_se_box * sbox[2] / max(1.0, max(sbox[2], sbox[3])),
            ellipse=False, noise_sigma=noise_sigma, p=p, distinct_from="floor")
        if subj_l.n >= p.min_pixels:
            chosen = (subj_l, sbox, lin_s, use_s, "subject highlights" if subj_l.distinct else
                      "subject increments (no specular highlights: biased toward the "
                      "surfaces' colour)")
        elif key_on_face:  # grey-edge on the face if there is one, else on the subject box
            chosen = (LightPixels.empty(), key_box, lin_f, use_f, "grey-edge")
        else:
            chosen = (LightPixels.empty(), sbox, lin_s, use_s, "grey-edge")
    key, key_box, lin_k, use_k = chosen[:4]
    key.method = chosen[4]
    key_xyz = np.full(3, np.nan)
    key_keep = np.zeros(key.n, bool)
    if key.n >= p.min_pixels:
        key_xyz, key_keep = trimmed_source(key, radius_uv=p.trim_radius_uv)
    elif lin_k.size and use_k.any():
        e = gray_edge(lin_k, use_k, p=p.gray_edge_p, sigma=p.gray_edge_sigma)
        key = LightPixels.empty("grey-edge")
        if e is not None:
            key_xyz = SRGB_TO_XYZ.astype(np.float64) @ e
    if not np.all(np.isfinite(key_xyz)):
        reasons["subject_cct_k"] = ("no light-carrying pixels on the subject "
                                    "(no highlights, no edges)")

    # ---- background ---------------------------------------------------------------------------
    kb = max(1, int(round(max(h, w) / p.background_long_side)))
    sb = 1.0 / kb
    hb, wb = h // kb * kb, w // kb * kb  # the last < kb rows/columns are not read
    lin_b = _shrink(linear[:hb, :wb], kb)
    shape_b = lin_b.shape[:2]
    clip_b = _shrink(np.ascontiguousarray(clipped[:hb, :wb]), kb)
    use_b = _usable(lin_b, clip_b, _shrink(np.ascontiguousarray(255 - subject_u8[:hb, :wb]), kb),
                    dark_lin)
    orb_mask = None
    if orbs:
        orb_mask = np.zeros(shape_b, np.uint8)
        for o in orbs:
            try:
                ox, oy, r = float(o["x"]) * sb, float(o["y"]) * sb, float(o["r"]) * sb
            except (KeyError, TypeError, ValueError):
                continue
            if all(map(math.isfinite, (ox, oy, r))) and r > 0:
                cv2.circle(orb_mask, (int(round(ox)), int(round(oy))),
                           max(1, int(round(0.8 * r))), 1, -1)
        if face_read_box is not None:  # the face is where the key light is read
            x, y, bw, bh = (v * sb for v in face_read_box)
            cv2.rectangle(orb_mask, (int(x), int(y)),
                          (int(math.ceil(x + bw)), int(math.ceil(y + bh))), 0, -1)
        orb_mask = orb_mask > 0
    bg = LightPixels.empty()
    if use_b.any() or orb_mask is not None:
        se_b = _odd(p.background_se * max(lin_b.shape[:2]))
        if orb_mask is not None:
            # the bokeh family found the orbs: they are the background's lights wherever the
            # subject box ends (a reflective part of the subject outside the box must not pass
            # for one; an orb inside a generous head-and-shoulders box is still an orb), except
            # on the face, where the key light is read
            use_o = orb_mask & _usable(lin_b, clip_b, None, dark_lin)
            if use_o.sum() >= p.min_pixels:
                bg = select_highlights(lin_b, use_o, se_px=se_b, noise_sigma=noise_sigma,
                                       rel_increment=0.0, peak_fraction=0.0, noise_k=p.noise_k)
                bg.method = "bokeh orbs"
        if bg.n < p.min_pixels and use_b.any():
            bg = select_highlights(lin_b, use_b, se_px=se_b, noise_sigma=noise_sigma,
                                   rel_increment=p.rel_increment,
                                   peak_fraction=p.peak_fraction, noise_k=p.noise_k)
            bg.method = "background sources"
        if bg.n < p.min_pixels and use_b.any():
            yb = (lin_b @ REC709)[use_b]
            span = float(np.quantile(yb, 0.99) - np.quantile(yb, 0.01)) if yb.size else 0.0
            floor_noise = float(_linear_noise(np.array([np.median(yb)]), noise_sigma)[0])
            if span > max(1e-3, 6 * floor_noise):
                bg = bright_pixels(lin_b, use_b, top=p.bright_top)
            else:
                bg = LightPixels.empty("uniform")
        bg.xy = bg.xy / sb
        bg.weight = bg.weight / (sb * sb)
    bg_xyz = np.full(3, np.nan)
    bg_keep = np.zeros(bg.n, bool)
    if bg.n >= p.min_pixels:
        bg_xyz, bg_keep = trimmed_source(bg, radius_uv=p.trim_radius_uv)
    else:
        bg_area = background[:hb, :wb]
        clipped_share = (float((clipped[:hb, :wb][bg_area] > 0).mean()) if bg_area.any() else 0.0)
        if not bg_area.any() and not orbs:
            reasons["background_cct_k"] = "no background: the subject box covers the whole frame"
        elif clipped_share >= 0.5:
            reasons["background_cct_k"] = (f"the background is clipped to white "
                                           f"({100 * clipped_share:.0f} % of it): its light's "
                                           "colour is lost")
        elif bg.method == "uniform":
            reasons["background_cct_k"] = "no light-carrying pixels in the background (uniform)"
        else:
            reasons["background_cct_k"] = ("no light-carrying pixels in the background "
                                           "(no unclipped highlights or bright areas)")

    # ---- clusters (on a subsample of at most max_points) -------------------------------------
    # the points: the key's trimmed pixels (what it rejected is surface colour, not light) and
    # the background's pixels that are either kept or as bright as the kept ones (a second,
    # differently coloured lamp is bright; a dim crowd face lit by the ambience is not a lamp)
    bg_use = bg_keep.copy()
    if bg_keep.any():
        bg_use |= bg.weight >= 0.5 * float(np.median(bg.weight[bg_keep]))
    key_use = key_keep if key_keep.size else np.zeros(0, bool)
    pts_w = np.concatenate([key.weight[key_use], bg.weight[bg_use]])
    pts_xy = np.concatenate([key.xy[key_use], bg.xy[bg_use]])
    pts_region = np.concatenate([np.zeros(int(key_use.sum()), np.int8),
                                 np.ones(int(bg_use.sum()), np.int8)])
    pts_xyz = np.concatenate([key.rgb[key_use], bg.rgb[bg_use]]) @ SRGB_TO_XYZ.T.astype(np.float64)
    pts_uv = xyz_to_uv(pts_xyz)
    okp = np.isfinite(pts_uv).all(axis=1) & (pts_w > 0)
    pts_w, pts_xy, pts_region, pts_xyz, pts_uv = (
        arr[okp] for arr in (pts_w, pts_xy, pts_region, pts_xyz, pts_uv))
    n_all = pts_uv.shape[0]
    idx = np.arange(n_all)
    if n_all > p.max_points:
        idx = np.sort(np.random.default_rng(0).choice(n_all, p.max_points, replace=False))
    key_uv, bg_uv = xyz_to_uv(key_xyz), xyz_to_uv(bg_xyz)
    clusters = None
    if n_all >= 2 * p.min_pixels:
        init = np.stack([key_uv, bg_uv]) if np.all(np.isfinite([key_uv, bg_uv])) else None
        clusters = two_clusters(pts_uv[idx], pts_w[idx], init=init,
                                spread_floor=p.spread_floor_uv)
    cl_uv = np.full((2, 2), np.nan)
    if clusters is None:
        for k in ("warm_cct_k", "cool_cct_k", "separation", "mud_fraction"):
            reasons[k] = "too few light-carrying pixels to form warm and cool clusters"
    else:
        # each cluster's colour: the summed XYZ of all its points (nearest centre)
        c = clusters.centres_uv
        lab_all = (((pts_uv - c[1]) ** 2).sum(axis=1) < ((pts_uv - c[0]) ** 2).sum(axis=1))
        for j in (0, 1):
            members = lab_all == bool(j)
            cl_uv[j] = xyz_to_uv(pts_xyz[members].sum(axis=0)) if members.any() else c[j]
        values["separation"] = clusters.separation
        values["mud_fraction"] = clusters.mud_fraction

    # ---- CCTs: one colour call ------------------------------------------------------------------
    all_uv = np.stack([key_uv, bg_uv, cl_uv[0], cl_uv[1]])
    ccts, duvs = cct_duv(all_uv) if np.isfinite(all_uv).any() else (np.full(4, np.nan),) * 2
    if clusters is not None and ccts[2] > ccts[3]:  # u ordering disagrees with CCT: trust CCT
        clusters.labels = (1 - clusters.labels).astype(np.int8)
        clusters.centres_uv = clusters.centres_uv[::-1].copy()
        cl_uv = cl_uv[::-1].copy()
        all_uv[2:] = cl_uv
        ccts[2:], duvs[2:] = ccts[2:][::-1].copy(), duvs[2:][::-1].copy()
    what = {"subject_cct_k": "key light", "background_cct_k": "background light",
            "warm_cct_k": "warm cluster", "cool_cct_k": "cool cluster"}
    for i, k in enumerate(what):
        if np.all(np.isfinite(all_uv[i])):
            values[k], why = _cct_with_reason(float(ccts[i]), float(duvs[i]),
                                              duv_limit=p.duv_limit, what=what[k])
            if why:
                reasons[k] = why
    if math.isfinite(values["subject_cct_k"]) and math.isfinite(values["background_cct_k"]):
        values["delta_mired"] = 1e6 / values["subject_cct_k"] - 1e6 / values["background_cct_k"]
    else:
        reasons["delta_mired"] = "needs both the key-light and the background CCT"

    # ---- artifacts ------------------------------------------------------------------------------
    def src(i: int, light: LightPixels, box) -> dict[str, Any]:
        return {"uv": [float(v) for v in all_uv[i]], "cct_k": float(ccts[i]),
                "duv": float(duvs[i]), "method": light.method, "n_pixels": light.n,
                "box": [float(v) for v in box] if box is not None else None}

    artifacts.update({
        "points_uv": pts_uv[idx].astype(np.float32),
        "points_xy": pts_xy[idx].astype(np.float32),
        "points_label": (clusters.labels if clusters is not None
                         else np.full(idx.size, -1)).astype(np.int8),
        "points_region": pts_region[idx].astype(np.int8),
        "points_mired": approximate_mired(pts_uv[idx]).astype(np.float32),
        "clusters": None if clusters is None else {
            name: {"uv": [float(v) for v in cl_uv[j]], "cct_k": float(ccts[2 + j]),
                   "duv": float(duvs[2 + j])} for j, name in enumerate(("warm", "cool"))},
        "subject": src(0, key, key_box if np.isfinite(key_xyz).all() else None),
        "background": src(1, bg, None),
    })
    return MetricResult(values, reasons, artifacts)


# ---------------------------------------------------------------------------------------------
# Family adapter
# ---------------------------------------------------------------------------------------------
def compute(ctx: "ImageContext") -> MetricResult:
    """The color family on one image (working resolution; positions returned in full-res px)."""
    if min(ctx.height, ctx.width) < MIN_SIDE:
        return FAMILY.nan_result(f"image too small for colour ({ctx.width}x{ctx.height} px; "
                                 f"needs at least {MIN_SIDE} px per side)")
    s = ctx.work_scale
    face = ctx.face_box
    orbs = ctx.result("bokeh").artifacts.get("orbs") or None
    if orbs:
        orbs = [{"x": float(o["x"]) * s, "y": float(o["y"]) * s, "r": float(o["r"]) * s}
                for o in orbs if all(k in o for k in ("x", "y", "r"))]
    out = measure_color(
        ctx.work_linear, ctx.work_rgb, ctx.work_background_mask,
        subject_box=ctx.work_subject_box,
        face_box=None if face is None else tuple(v * s for v in face),
        orbs=orbs, noise_sigma=float(ctx.noise_sigma) if math.isfinite(ctx.noise_sigma) else 0.0)
    art = out.artifacts
    art["points_xy"] = (art["points_xy"] / s).astype(np.float32)
    if art["subject"]["box"] is not None:
        art["subject"]["box"] = [v / s for v in art["subject"]["box"]]
    values = {f"{FAMILY_NAME}.{k}": float(v) for k, v in out.values.items()}
    if not any(math.isfinite(v) for v in values.values()):  # one line for the notes column
        r = out.reasons
        return MetricResult(values, {FAMILY_NAME: "; ".join(
            dict.fromkeys(r[k] for k in ("subject_cct_k", "background_cct_k") if k in r))
            or "no light-carrying pixels"}, art)
    reasons = {f"{FAMILY_NAME}.{k}": v for k, v in out.reasons.items()
               if not math.isfinite(out.values[k])}
    return MetricResult(values, reasons, art)


# ---------------------------------------------------------------------------------------------
# Validation against ground truth
# ---------------------------------------------------------------------------------------------
def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Checks against the renderer's ground truth (run by ``lenscore validate``)."""
    from lenscore.datasets.synthetic import SceneSpec
    from lenscore.evaluator import validate as V

    ks = list(plan.kelvins)
    # key sweep against a fixed background and background sweep against a fixed key
    specs = ([SceneSpec(width=plan.size, height=plan.size, key_kelvin=k, background_kelvin=6500,
                        seed=plan.seeds[0]) for k in ks]
             + [SceneSpec(width=plan.size, height=plan.size, key_kelvin=3200, background_kelvin=k,
                          seed=plan.seeds[-1]) for k in ks])
    res = V.score_specs(specs, jobs=jobs)
    if not res or not V.has_output(res[0][0], "color.subject_cct_k"):
        return [V.missing("color", "source CCT", "within 10 % or 15 mired", "color.subject_cct_k")]
    errs, ok, sign_ok, sign_n, zero_errs = [], 0, 0, 0, []
    rows = []
    for (v, t, _), which in zip(res, ["key"] * len(ks) + ["background"] * len(ks)):
        for out, true_k in (("color.subject_cct_k", t["kelvin"]["key"]),
                            ("color.background_cct_k", t["kelvin"]["background"])):
            est = v.get(out, math.nan)
            err_m = abs(V.mired(est) - V.mired(true_k)) if np.isfinite(est) and est > 0 else math.inf
            rel = abs(est - true_k) / true_k if np.isfinite(est) else math.inf
            errs.append(err_m)
            ok += bool(rel <= 0.10 or err_m <= 15)
            rows.append((which, out, true_k, est))
        dm_true = V.mired(t["kelvin"]["key"]) - V.mired(t["kelvin"]["background"])
        dm = v.get("color.delta_mired", math.nan)
        if abs(dm_true) >= 50:
            sign_n += 1
            sign_ok += bool(np.isfinite(dm) and np.sign(dm) == np.sign(dm_true))
        elif abs(dm_true) < 1e-9 and np.isfinite(dm):
            zero_errs.append(abs(dm))
    n = len(errs)
    finite = [e for e in errs if np.isfinite(e)]
    checks = [
        V.Check("color", "source CCT within 10 % or 15 mired (share of estimates, 2200-9500 K)",
              100 * ok / n, "100 %", ok == n,
              f"{ok}/{n}; median error {np.median(finite) if finite else math.nan:.1f} mired, "
              f"worst {max(errs):.1f} mired", unit="%"),
        V.Check("color", "delta_mired sign right when sources differ by >= 50 mired", 100 * sign_ok / max(sign_n, 1),
              "100 %", sign_ok == sign_n if sign_n else None, f"{sign_ok}/{sign_n} scenes", unit="%"),
    ]
    # equal sources: delta near zero
    eq = [SceneSpec(width=plan.size, height=plan.size, key_kelvin=k, background_kelvin=k, seed=s)
          for k in (2700, 5000, 8000) for s in plan.seeds[:2]]
    eres = V.score_specs(eq, jobs=jobs)
    d = [abs(v["color.delta_mired"]) for v, _, _ in eres if np.isfinite(v.get("color.delta_mired", math.nan))]
    worst = max(d) if d else math.nan
    checks.append(V.Check("color", "|delta_mired| when key and background are the same Kelvin (worst)",
                        worst, "< 15 mired", bool(worst < 15) if d else None, f"{len(d)} scenes", unit="mired"))
    return checks


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: light-carrying pixels coloured warm (orange) / cool (blue), with the
    key-light box."""
    import cv2

    from lenscore import drawing as dr

    img, s = dr.thumbnail(rgb, long_side)
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
            if not dr.finite(x, y):
                continue
            col = dr.WARM if lab == 0 else dr.COOL if lab == 1 else dr.WHITE
            cv2.circle(out, (int(round(x * s)), int(round(y * s))), 2, col, -1, cv2.LINE_AA)
    subj = art.get("subject") or {}
    if isinstance(subj, Mapping) and subj.get("box") is not None:
        dr.box(out, subj["box"], s, dr.WHITE, "key light", 1)
    warm, cool = vals.get("color.warm_cct_k"), vals.get("color.cool_cct_k")
    line1 = (f"color: warm {dr.fmt(warm, '.0f')} K / cool {dr.fmt(cool, '.0f')} K, "
             f"separation {dr.fmt(vals.get('color.separation'), '.1f')}")
    line2 = (f"key {dr.fmt(vals.get('color.subject_cct_k'), '.0f')} K, background "
             f"{dr.fmt(vals.get('color.background_cct_k'), '.0f')} K, "
             f"delta {dr.fmt(vals.get('color.delta_mired'), '+.0f')} mired")
    return dr.banner(out, [line1, line2])


def plot(ax: Any, result: MetricResult, *, compact: bool = False, title: str | None = None) -> bool:
    """The extra panel: light-carrying pixels and the warm / cool clusters on the CIE 1960 uv
    diagram with the Planckian locus (False when there is nothing to draw)."""
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
        return False
    pc = None
    labels = art.get("points_label")
    if pts is not None and labels is not None and np.size(labels) == len(pts):
        lab = np.asarray(labels).ravel()
        pc = np.where(lab[:, None] == 0, [[1.0, 0.55, 0.12]],
                      np.where(lab[:, None] == 1, [[0.24, 0.63, 1.0]], [[0.6, 0.6, 0.6]]))
    plots.draw_uv_diagram(ax, points=None if pts is None else np.asarray(pts, float),
                          point_colors=pc, clusters=clusters, compact=compact,
                          title="light sources on the CIE 1960 uv diagram" if title is None else title)
    return True


FAMILY = register(MetricFamily(
    name=FAMILY_NAME, version=VERSION,
    method=("Light-source colour from light-carrying pixels (specular highlight and orb "
            "increments, white top-hat; grey-edge / bright-pixel fallbacks), CIE 1960 uv, "
            "CCT and Duv by Ohno 2013 (colour-science), warm/cool 2-means clusters in uv"),
    outputs=OUTPUTS, compute=compute, params=PARAMS,
    title="Colour temperature", order=30, requires=("bokeh",),
    headline=("color.separation", "color.mud_fraction", "color.delta_mired"),
    draw=draw, validate=validate, plot=plot))
