"""skin: does the skin carry fine texture as real skin does, or is it plastic? Is it skin at all?
And how much of it shines (sebum) on the key side?

Method
------
1. **Face and scale.** The face is the largest of ``ctx.faces`` (BlazeFace + Face Mesh,
   :mod:`lenscore.faces`); with a subject box from the manifest, the largest face inside it.
   The scale is the face's inter-ocular distance (IOD, eye centre to eye centre, full-resolution
   px): every length below is in *normalised* px, the face resampled so that its IOD is
   ``iod_px`` = 80 px (k = IOD / 80 source px per normalised px). The IOD is the scale the face
   literature normalises to (it does not change with hair, beard, jaw or a turned-away cheek,
   which move a face box). Faces with an IOD below ``min_iod_px`` (40 px, a face ~90 px wide)
   are not measured: the band below then lies beyond the image's resolution.
2. **Regions** from the landmarks (:func:`lenscore.faces.face_regions`): forehead, both cheeks
   and the nose bridge, clipped to the face oval, eyes, brows, lips and nostrils left out. They
   are drawn directly on the normalised grid (the face's landmarks mapped onto it). Without a
   detected face, a skin mask from the manifest is used as it is; a manifest's subject box gives
   a face *estimate* (:data:`HEAD_SHOULDERS`) whose regions come from the same polygons placed
   by typical proportions (``face_found`` stays 0, a note says so).
3. **Skin mask independent of the light's colour.** Inside the regions (on a copy blurred by
   ``mask_blur`` px, so a light smoothing moves no pixel across a bound), a pixel is skin when
   its log-chromaticity (log R/G, ``blue_weight`` x log B/G of linear light) lies within
   ``chroma_tol`` of the *local* skin colour and its luma is at least ``min_luma_frac`` of the
   local skin luma (both by normalised convolution of ``mask_sigma`` px over the pixels within
   ``chroma_loose`` of their own region's median: hair and glasses do not set the reference).
   A light's colour multiplies each channel by a constant, which adds the same vector to every
   pixel's log-chromaticity, and a key and a fill of different colours change it only slowly
   across the face: the mask does not move with the light (measured: 0.92-0.99 of the regions
   on London faces under 2000-10000 K and a tinted fill). The first version used a fixed YCrCb
   box (Chai & Ngan 1999), which rejected most skin under a 2700 K key. Opened by ``open_px``;
   bright speculars enclosed by skin count as skin.
4. **Texture in linear light, in the green channel.** A uniform light scales each channel by a
   constant, which a relative contrast divides out: the green channel's band contrast is the
   same under any key (exactly, short of clipping). Green rather than luminance: a
   luminance-like mix would weight the channels by the light (red light carries less skin
   texture, sub-surface scattering) and a face normalised to a canonical colour amplifies the
   dark channel's noise under a 2000 K key (measured: 7 % relative noise on a deep-skinned face).
5. **Band-limited contrast** (Peli 1990): the full-resolution green channel (linear) is
   low-passed by a Gaussian of ``prefilter_sigma`` normalised px (anti-aliasing; the chain then
   has the same transfer function at the band for any k >= 1), resampled bicubically to the
   grid, pixels outside the mask filled with the local skin level L (normalised convolution,
   Knutsson & Westin 1993), band-passed by a difference of Gaussians of sigma ``pore_band`` =
   (1, 2) normalised px (peak wavelength ~6.5 px = IOD / 12, about 5 mm on an adult face: the
   finest scale a face with an IOD of 40 px still resolves; pores themselves, 0.1-0.5 mm, are
   finer than most portraits resolve, so this is the fine skin relief in which they sit), and
   divided by L. Each region's power is estimated robustly over the mask eroded by
   ``erode_px``: Tukey's biweight midvariance about 0 (:func:`robust_power`; Beers, Flynn &
   Gebhardt 1990), near exact for a Gaussian texture and 83 % efficient, so edges inside
   the mask (a hair strand, a drawn contour, a specular's rim: a few per cent of the pixels) are
   outliers that do not count. The first version left out pixels above a contrast threshold; a
   smoothing step moved edges below it and the texture *rose* (016 and 069 of the London Set).
   The second used (1.4826 x the median absolute response)^2 (Hampel 1974; Rousseeuw & Croux
   1993): 37 % efficient, its sampling noise with 2-3 % sensor noise was larger than a face's
   first retouching step (London faces, 3 noise draws each: 85 % within that step, 91 % now).
6. **Noise floor.** White noise in the source (Immerkaer 1996 on the full-resolution crop,
   relative to L at the skin pixels: sigma_n) adds ``sigma_n^2 G(k)`` to the power; G(k) is the
   exact variance gain of the linear chain prefilter -> resample -> DoG (:func:`noise_band_gain`).
   It is subtracted, floored at 0 (cf. Liu, Tanaka & Okutomi 2013). Noise that went through
   JPEG is no longer white: the quantiser removes its fine scales, which Immerkaer reads, and
   keeps coarser ones at the pore band (5-50x the white prediction on the renderer's skin).
   So when the frame shows JPEG's 8 x 8 grid (:func:`lenscore.imaging.jpeg_grid_strength`,
   within ``noise_context_faces`` face widths of the face), the noise is also measured in the
   band itself (:func:`tiled_band_noise`): the encoded green channel through the same chain,
   the robust power of ``noise_tile_px`` tiles outside the face that look like noise (the octave
   below the band carries at most ``noise_max_octave_ratio`` of the band's power: scene texture
   carries as much or more), their ``noise_tile_quantile`` quantile, converted to relative
   contrast at each skin pixel's level; the larger of the two floors is subtracted. Without the
   grid the white floor stands: a textured backdrop (London faces on gravel) looks like noise
   to the tiles, and the white model is right for noise that did not go through JPEG.
7. **Score.** ``skin.texture_energy`` is the RMS of the noise-corrected band contrast in
   per cent, the *median* over the regions measured (one region with a fringe or stubble does
   not move it, and it falls whenever every region's texture falls).
8. **Against real skin.** :func:`reference` (package data ``skin_reference.json``, made by
   ``scripts/skin_reference.py``) holds ``texture_energy`` of the 32 unretouched London Set faces
   (DeBruine & Jones 2017, CC BY 4.0) on the production path, each downscaled to a ladder of
   IODs (41-203 px): the real band at the image's own face scale (interpolated in log IOD; it
   hardly moves: median 1.24-1.40 %). ``skin.texture_vs_real`` is the texture over the real
   median at that IOD (1 = a typical real face). The reading: below the real band's low edge
   (the smoothest real face / 1.15) "plastic", above its high edge (the roughest x 1.15)
   "over-sharpened or grain", else "natural" (in the notes, the sentence and the overlay). Deep
   skin reads more texture than light skin (London medians: black 2.1 %, white 1.2 %: a relative
   contrast, and the sheen on dark skin is a larger share of its light), so the band is the
   range of all groups and every real face reads "natural" by construction.
9. **Is it skin?** (``skin.is_skin``) Four signs, each skin (1), not skin (0) or silent:
   (a) the regions' median colour under the colour family's key light (von Kries by the key's
   linear RGB; ``ctx.result("color")``: its key's uv or xy, else ``color.subject_cct_k`` with
   ``color.subject_duv``): in CIE 1976 u'v', grey below ``skin_chroma_min`` from the white point
   (marble, plaster, metal, white paint), a colour skin never has when its hue leaves
   ``skin_hue_deg`` with ``paint_chroma_min`` (blue, green paint); silent for a chroma above
   ``max_surface_chroma`` (the key estimate is off); (b) the same under the frame's shades of grey
   (Finlayson & Trezzi 2004, p = 6); (c) the hemoglobin sign: under a blackbody light of any
   temperature, skin's own chromaticity lies *below* the Planckian locus (blood absorbs green;
   London faces under 2000-10000 K: Duv -0.003 to -0.014), a grey or cream surface on or above
   it (+0.0006 to +0.004; the ComfyUI bust +0.005): Duv relative to the key's own Duv below
   ``skin_duv_max`` is skin, above ``grey_duv_min`` not; (d) the sub-surface sign: the red
   channel's band contrast regressed on the green's is 0.52-0.82 on real skin (red light
   scatters further under skin) and ~1 on stone, plaster or paint; above ``subsurface_max`` is
   not skin (only with enough resolution and texture to see it; photoreal generated faces and
   lenscore's renderer read below it too, so it is never the only sign). Not skin needs a
   majority of at least two signs, so one wrong key estimate cannot turn real skin into marble;
   undecided (NaN) otherwise. Signs (a)-(c) are silent when a channel of the skin's median colour
   is below ``colour_min_encoded`` (6 of 255 levels): the blue of deep skin under a 2000 K key is
   1-2 levels, and its chromaticity is quantisation (a London face read "paint" there). Not
   skin: texture and its reading are NaN with the reason.
10. **Specular fraction on the key side.** The key side is the half of the face (split along
    the nose line, in the eye-aligned frame) whose skin is brighter. Specular pixels: luma above
    ``spec_gain`` x the local skin luma (normalised convolution, ``spec_sigma``) and whiter than
    the skin around them (the saturation of the face-normalised colour below ``spec_sat_frac``
    of its local mean; any skin tone, any light), or clipped. Share of the key side's skin,
    0..1. Checked against the colour family's key light (:func:`key_check`): under one light a
    highlight's chromaticity lies on the segment from the skin's colour to the light's
    (dichromatic model, Shafer 1985; Lee 1986); off that line it is noted (a painted or baked-in
    highlight, or a shine of another light).

Limits (measured, ``lenscore validate``): noise baked in by JPEG is still partly read as
texture: on a JPEG'd face the quantiser leaves more noise (and its own error) than on the flat
areas where it is measured, 1.0-2x as much on the renderer's scenes, and above q90 the grid is
too faint to find (the white floor then under-reads 2-4x): a render without pores with noise
then JPEG reads plastic on 55 % of the validation's 29 scenes (24 % with the white floor alone,
on 33 such scenes); the texture reading
needs IOD >= 40 px; the is-skin signs (a) and (b) need a light estimate, and a marble face
under a key that lights only the face can be undecided.

Outputs: ``skin.texture_energy`` (% contrast), ``skin.texture_vs_real`` (x the real median),
``skin.is_skin`` (flag), ``skin.face_found`` (flag), ``skin.specular_fraction`` (fraction),
``skin.mask_fraction`` (fraction of the regions accepted as skin), ``skin.face_width_px`` (px),
``skin.iod_px`` (px).

Artifacts (for reports): ``face_source`` ('face' | 'user_mask' | 'subject_box'); ``face_box``;
``crop_box`` (x, y, w, h) full-res px of the analysed region; ``scale`` (normalised px per
full-res px); ``mask``, ``specular_mask`` and ``key_side`` (bool, normalised grid: resize to
``crop_box``'s w x h to overlay); ``bands`` (contrast^2, unscaled: ``pore``,
``pore_noise_floor``, ``pore_corrected``, ``low``, ``band_ratio``, ``noise_sigma``,
``rms_contrast``, ``regions``); ``reading``; ``real`` (the band at this IOD); ``key`` (uv,
source); ``colour`` (the skin's chroma and hue under the key, the sub-surface ratio);
``specular`` (excess uv, its distance to the key).

References
----------
.. [1] E. Peli, "Contrast in complex images", JOSA A 7(10), 1990.
   https://doi.org/10.1364/JOSAA.7.002032
.. [2] H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.
   https://doi.org/10.1109/CVPR.1993.341081
.. [3] J. Immerkaer, "Fast noise variance estimation", CVIU 64(2), 1996.
   https://doi.org/10.1006/cviu.1996.0060
.. [4] X. Liu, M. Tanaka, M. Okutomi, "Single-image noise level estimation for blind
   denoising", IEEE TIP 22(12), 2013. https://doi.org/10.1109/TIP.2013.2283400
.. [5] S. A. Shafer, "Using color to separate reflection components", Color Research &
   Application 10(4), 1985. https://doi.org/10.1002/col.5080100409
.. [6] H.-C. Lee, "Method for computing the scene-illuminant chromaticity from specular
   highlights", JOSA A 3(10), 1986. https://doi.org/10.1364/JOSAA.3.001694
.. [7] G. D. Finlayson, M. S. Drew, B. V. Funt, "Color constancy: generalized diagonal
   transforms suffice", JOSA A 11(11), 1994. https://doi.org/10.1364/JOSAA.11.003011
.. [8] G. D. Finlayson, E. Trezzi, "Shades of gray and colour constancy", CIC 2004.
   https://doi.org/10.2352/CIC.2004.12.1.art00008
.. [9] M. Krystek, "An algorithm to calculate correlated colour temperature", Color Research &
   Application 10(1), 1985 (the rational fit of the Planckian locus in CIE 1960 uv).
   https://doi.org/10.1002/col.5080100109
.. [10] L. M. DeBruine, B. C. Jones, "Face Research Lab London Set", figshare, 2017, CC BY 4.0.
   https://doi.org/10.6084/m9.figshare.5047666.v5
.. [11] T. C. Beers, K. Flynn, K. Gebhardt, "Measures of location and scale for velocities in
   clusters of galaxies: a robust approach", AJ 100, 1990 (the biweight midvariance).
   https://doi.org/10.1086/115487 ; F. R. Hampel, "The influence curve and its role in robust
   estimation", JASA 69(346),
   1974. https://doi.org/10.1080/01621459.1974.10482962 ; P. J. Rousseeuw, C. Croux,
   "Alternatives to the median absolute deviation", JASA 88(424), 1993.
   https://doi.org/10.1080/01621459.1993.10476408
.. [12] N. Tsumura et al., "Image-based skin color and texture analysis/synthesis by
   extracting hemoglobin and melanin information in the skin", ACM TOG 22(3), 2003 (skin colour
   as melanin and hemoglobin absorption). https://doi.org/10.1145/882262.882344
.. [13] H. W. Jensen, S. R. Marschner, M. Levoy, P. Hanrahan, "A practical model for subsurface
   light transport", SIGGRAPH 2001 (red light travels furthest under skin).
   https://doi.org/10.1145/383259.383319
.. [14] D. Chai, K. N. Ngan, "Face segmentation using skin-color map in videophone
   applications", IEEE TCSVT 9(4), 1999 (the first version's mask, replaced).
   https://doi.org/10.1109/76.767122
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Mapping

import cv2
import numpy as np

from lenscore import imaging
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.evaluator.validate import Check, Plan
    from lenscore.faces import Face

F = "skin"


@dataclass(frozen=True)
class SkinParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``). Lengths in normalised px (IOD = ``iod_px``); see the
    module docstring for what each one does."""

    iod_px: float = 80.0
    min_iod_px: float = 40.0
    prefilter_sigma: float = 0.6
    pore_band: tuple[float, ...] = (1.0, 2.0)
    low_band: tuple[float, ...] = (4.0, 16.0)
    lum_sigma: float = 8.0
    erode_px: int = 2
    open_px: int = 3
    mask_blur: float = 1.5
    texture_channel: int = 1
    min_region_px: int = 60
    min_region_frac: float = 0.3
    min_luma_frac: float = 0.5
    chroma_tol: float = 0.12
    chroma_loose: float = 0.45
    blue_weight: float = 0.35
    mask_sigma: float = 16.0
    skin_chroma_min: float = 0.008
    skin_hue_deg: tuple[float, ...] = (-15.0, 75.0)
    paint_chroma_min: float = 0.015
    max_surface_chroma: float = 0.12
    skin_duv_max: float = -0.0018
    grey_duv_min: float = -0.0005
    subsurface_max: float = 0.88
    subsurface_min_k: float = 0.75
    subsurface_min_texture: float = 0.3
    spec_sigma: float = 16.0
    spec_gain: float = 1.12
    spec_sat_frac: float = 0.75
    spec_min_px: int = 6
    spec_top: float = 0.5
    key_match_duv: float = 0.008
    colour_min_encoded: float = 6.0 / 255.0
    noise_tile_px: int = 24
    noise_tile_quantile: float = 0.25
    noise_min_tiles: int = 20
    noise_max_octave_ratio: float = 0.8
    noise_context_faces: float = 2.0
    percent: float = 100.0


PARAMS = SkinParams()

#: median linear-light colour of the London faces' skin regions (luminance 1): the colour every
#: face is normalised to before its texture is measured (any fixed colour gives key invariance;
#: this one leaves a neutrally lit face nearly unchanged).
CANONICAL_SKIN = (1.38, 0.92, 0.71)

#: a head-and-shoulders box around a face (x, y, w, h), in face widths/heights: left, top,
#: right, bottom (how a manifest's subject box is read when no face is found inside it).
HEAD_SHOULDERS = (1.2, 0.6, 1.2, 2.2)
#: Face Mesh oval width / IOD and the eyes' height in its box (London Set, 32 faces: 2.27 and
#: 0.43): how a face estimated from a box is given eyes.
OVAL_PER_IOD = 2.27
EYE_LINE_V = 0.43

READINGS = ("plastic", "natural", "over-sharpened or grain")

OUTPUTS = (
    Output("skin.texture_energy", "% contrast", "higher", (0.0, math.inf),
           "Fine skin texture on the cheeks, forehead and nose: RMS contrast of detail about "
           "IOD/12 across (~5 mm on a face), in per cent of the local brightness, sensor noise "
           "removed, under a neutral light. Higher = more texture; compare with "
           "skin.texture_vs_real, which says where real skin lies at this face size."),
    Output("skin.texture_vs_real", "x real median", "neither", (0.0, math.inf),
           "Skin texture relative to real, unretouched skin at the same face size (1 = the "
           "median of 32 real studio faces; they span about 0.5-1.7). Below the real band the "
           "skin reads plastic (beauty filter, airbrushed), above it over-sharpened or grainy.",
           good=(0.5, 1.8)),
    Output("skin.is_skin", "flag", "higher", (0.0, 1.0),
           "1 when the face's colour under the estimated key light is skin's (any skin tone); "
           "0 when it is not (marble, plaster, metal, paint): a statue or mannequin."),
    Output("skin.face_found", "flag", "neither", (0.0, 1.0),
           "1 if a detected face placed the skin regions, 0 if no face was detected."),
    Output("skin.specular_fraction", "fraction", "neither", (0.0, 1.0),
           "Share of the skin on the key-light side that shines (sebum highlights, the key's "
           "colour). 0 matte or powdered; real studio faces 0-0.05; above ~0.1 oily or wet."),
    Output("skin.mask_fraction", "fraction", "neither", (0.0, 1.0),
           "Share of the cheek, forehead and nose regions accepted as skin (low: hair, beard, "
           "glasses or shadow over them)."),
    Output("skin.face_width_px", "px", "neither", (0.0, math.inf),
           "Width of the face used (cheek to cheek), full-resolution px."),
    Output("skin.iod_px", "px", "neither", (0.0, math.inf),
           "Distance between the eye centres, full-resolution px: the scale of the texture "
           "(needs >= 40 px)."),
)


# ---------------------------------------------------------------------------------------------
# Colour: the Planckian locus, chromaticities, the key light
# ---------------------------------------------------------------------------------------------
_XYZ_TO_SRGB = np.linalg.inv(imaging.SRGB_TO_XYZ.astype(np.float64))


def planck_uv(kelvin: float) -> tuple[float, float]:
    """CIE 1960 uv of a blackbody: Krystek's rational fit (1985; 1000-15000 K, within 1e-4 of
    Planck's law; clamped to that range).

    Examples
    --------
    >>> u, v = planck_uv(6500.0)
    >>> round(u, 4), round(v, 4)
    (0.2005, 0.3103)
    """
    t = min(max(float(kelvin), 1000.0), 15000.0)
    u = (0.860117757 + 1.54118254e-4 * t + 1.28641212e-7 * t * t) / (1 + 8.42420235e-4 * t + 7.08145163e-7 * t * t)
    v = (0.317398726 + 4.22806245e-5 * t + 4.20481691e-8 * t * t) / (1 - 2.89741816e-5 * t + 1.61456053e-7 * t * t)
    return float(u), float(v)


def xy_to_uv(x: float, y: float) -> tuple[float, float]:
    """CIE 1931 xy -> CIE 1960 UCS uv."""
    d = -2.0 * x + 12.0 * y + 3.0
    return 4.0 * x / d, 6.0 * y / d


def uv_to_xy(u: float, v: float) -> tuple[float, float]:
    """CIE 1960 UCS uv -> CIE 1931 xy."""
    d = 2.0 * u - 8.0 * v + 4.0
    return 3.0 * u / d, 2.0 * v / d


def cct_duv_uv(kelvin: float, duv: float = 0.0) -> tuple[float, float]:
    """CIE 1960 uv of a light of ``kelvin`` and ``duv`` (Duv: distance from the locus along its
    normal, positive above it, i.e. toward green)."""
    u0, v0 = planck_uv(kelvin)
    u1, v1 = planck_uv(kelvin * 1.01)
    tu, tv = u1 - u0, v1 - v0
    n = math.hypot(tu, tv) or 1.0
    return u0 + duv * tv / n, v0 - duv * tu / n


def uv_to_linear_rgb(u: float, v: float) -> np.ndarray:
    """Linear sRGB (Rec.709 luminance 1, negatives clipped) of a light of CIE 1960 uv."""
    x, y = uv_to_xy(u, v)
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    rgb = np.clip(_XYZ_TO_SRGB @ xyz, 1e-4, None)
    return (rgb / float(rgb @ imaging.REC709.astype(np.float64))).astype(np.float64)


def linear_rgb_to_uv(rgb: np.ndarray) -> tuple[float, float]:
    """CIE 1960 uv of one linear sRGB colour (NaN for black)."""
    X, Y, Z = (imaging.SRGB_TO_XYZ.astype(np.float64) @ np.asarray(rgb, np.float64)).tolist()
    d = X + 15.0 * Y + 3.0 * Z
    if not d > 0:
        return math.nan, math.nan
    return 4.0 * X / d, 6.0 * Y / d


@functools.lru_cache(maxsize=1)
def _locus_table() -> tuple[np.ndarray, np.ndarray]:
    mired = np.linspace(1e6 / 15000.0, 1000.0, 1871)
    uv = np.array([planck_uv(1e6 / m) for m in mired])
    return mired, uv


def uv_mired(u: float, v: float) -> tuple[float, float]:
    """(mired, Duv) of a CIE 1960 uv: the nearest point of the locus (1000-15000 K, 0.5 mired
    steps); Duv > 0 above the locus (toward green), < 0 below (toward magenta).

    Examples
    --------
    >>> m, d = uv_mired(*cct_duv_uv(3000.0, -0.01))
    >>> round(1e6 / m, -1), round(d, 4)
    (3000.0, -0.01)
    """
    mired, tab = _locus_table()
    d = np.hypot(tab[:, 0] - u, tab[:, 1] - v)
    i = int(np.argmin(d))
    j, i0 = (i, i - 1) if i > 0 else (i + 1, i)
    tu, tv = tab[i0] - tab[j]                  # toward higher temperature (lower mired)
    cross = tu * (v - tab[i, 1]) - tv * (u - tab[i, 0])
    return float(mired[i]), float(-math.copysign(d[i], cross) if cross else 0.0)


def upvp(lin: np.ndarray) -> np.ndarray:
    """CIE 1976 u'v' of linear sRGB colours (..., 3) -> (..., 2)."""
    xyz = np.asarray(lin, np.float64) @ imaging.SRGB_TO_XYZ.astype(np.float64).T
    d = np.maximum(xyz[..., 0] + 15.0 * xyz[..., 1] + 3.0 * xyz[..., 2], 1e-12)
    return np.stack([4.0 * xyz[..., 0] / d, 9.0 * xyz[..., 1] / d], axis=-1)


#: u'v' of the sRGB white (D65): where a neutral surface lies after normalising by the key.
WHITE_UPVP = upvp(np.ones(3))


def key_from_color(res: MetricResult | None) -> tuple[tuple[float, float] | None, str]:
    """The key light's CIE 1960 uv from the colour family's result, defensively.

    Looks for ``artifacts["key"]["uv"]`` (or ``["xy"]``), then ``color.subject_cct_k`` with
    ``color.subject_duv`` (0 when absent). Returns (uv or None, what was used or why not).
    A uv more than 0.05 off the locus, or a non-finite one, is not used.
    """
    if res is None:
        return None, "no colour result"
    art = getattr(res, "artifacts", None) or {}
    key = art.get("key") if isinstance(art, Mapping) else None
    uv = None
    if isinstance(key, Mapping):
        try:
            if key.get("uv") is not None:
                uv = tuple(float(v) for v in list(key["uv"])[:2])
            elif key.get("xy") is not None:
                uv = xy_to_uv(*(float(v) for v in list(key["xy"])[:2]))
        except (TypeError, ValueError):
            uv = None
    if uv is not None and all(math.isfinite(c) for c in uv):
        if abs(uv_mired(*uv)[1]) <= 0.05:
            return (float(uv[0]), float(uv[1])), "the colour family's key light"
    vals = getattr(res, "values", None) or {}
    cct = vals.get("color.subject_cct_k", math.nan)
    duv = vals.get("color.subject_duv", 0.0)
    try:
        cct = float(cct)
        duv = float(duv) if duv is not None and math.isfinite(float(duv)) else 0.0
    except (TypeError, ValueError):
        return None, "the colour family gave no key light"
    if math.isfinite(cct) and 1000.0 <= cct <= 40000.0:
        return cct_duv_uv(cct, duv), "the colour family's key light (its CCT)"
    return None, "the colour family gave no key light"


def scene_uv(linear: np.ndarray, p: float = 6.0, exclude=None) -> tuple[float, float] | None:
    """Shades-of-grey illuminant (Minkowski p-norm per channel, Finlayson & Trezzi 2004) of a
    linear image, CIE 1960 uv; None for a black or clipped image. ``exclude``: a box (x0, y0,
    x1, y1) in fractions of the frame left out (the face: in a headshot the frame's average is
    the skin's own colour)."""
    small = cv2.resize(np.asarray(linear, np.float32), (96, 96), interpolation=cv2.INTER_AREA) \
        if max(linear.shape[:2]) > 96 else np.asarray(linear, np.float32)
    keep = np.ones(small.shape[:2], bool)
    if exclude is not None:
        h, w = keep.shape
        x0, y0, x1, y1 = exclude
        keep[max(0, int(y0 * h)):max(0, int(math.ceil(y1 * h))),
             max(0, int(x0 * w)):max(0, int(math.ceil(x1 * w)))] = False
        if keep.mean() < 0.15:
            return None
    px = small[keep].reshape(-1, 3).astype(np.float64)
    px = px[(px.max(1) < 0.98) & (px.max(1) > 1e-3)]
    if len(px) < 50:
        return None
    e = np.mean(px ** p, axis=0) ** (1.0 / p)
    if not np.all(e > 0):
        return None
    uv = linear_rgb_to_uv(e)
    return uv if all(math.isfinite(c) for c in uv) else None


# ---------------------------------------------------------------------------------------------
# Resampling and the exact noise gain
# ---------------------------------------------------------------------------------------------
def resample_gray(gray: np.ndarray, k: float, size: tuple[int, int], *,
                  prefilter_sigma: float = PARAMS.prefilter_sigma) -> np.ndarray:
    """Gaussian low-pass of ``prefilter_sigma * k`` source px, then bicubic resize to ``size`` (w, h).

    The Gaussian does the anti-aliasing; bicubic sampling of the low-passed image then leaves a
    transfer function that depends on the normalised frequency only (within 2 % of the
    Gaussian's for k = 1..4 at 0.1-0.2 cycles/px), which makes a 1350 px and a 675 px face
    agree. :func:`noise_band_gain` runs the same operator.
    """
    g = cv2.GaussianBlur(gray, (0, 0), prefilter_sigma * k) if prefilter_sigma > 0 else gray
    return cv2.resize(g, size, interpolation=cv2.INTER_CUBIC)


def _gauss1d(x: np.ndarray, sigma: float) -> np.ndarray:
    """1-D Gaussian filter with the kernel cv2.GaussianBlur uses for float images."""
    if sigma <= 0:
        return x
    ksize = int(round(sigma * 4 * 2 + 1)) | 1
    kern = cv2.getGaussianKernel(ksize, sigma, cv2.CV_64F).ravel()
    return np.convolve(x, kern, mode="same")


def dog_norm2(a: float, b: float) -> float:
    """Squared L2 norm of a 2-D difference of Gaussians G_a - G_b (sigmas in px).

    ||G_s||^2 = 1 / (4 pi s^2) and <G_a, G_b> = 1 / (2 pi (a^2 + b^2)): white noise of unit
    variance has variance ||G_a - G_b||^2 after the filter.

    Examples
    --------
    >>> round(dog_norm2(1.0, 2.0), 4)
    0.0358
    """
    return (1.0 / (4 * math.pi * a * a) + 1.0 / (4 * math.pi * b * b)
            - 1.0 / (math.pi * (a * a + b * b)))


@functools.lru_cache(maxsize=1024)
def noise_band_gain(k: float, band: tuple[float, float], prefilter_sigma: float = PARAMS.prefilter_sigma) -> float:
    """Variance of the band response (per normalised px) to unit white noise in the source image.

    The chain (prefilter, resample by 1/k, DoG ``band``) is linear, so for white input of unit
    variance the mean output variance is k^2 * E_j ||A e_j||^2 over source impulses e_j
    (N_source / N_out = k^2). Every stage is separable: with u_s the 1-D response through
    prefilter, resampling and a Gaussian of sigma s, the 2-D DoG response to an impulse has
    squared norm ||u_a||^4 + ||u_b||^4 - 2 (u_a . u_b)^2, averaged over sub-pixel phases
    (independently in x and y). Computed on one line of 64 impulses (~0.2 ms). With k = 1 and
    no prefilter it equals :func:`dog_norm2`.
    """
    a, b = band
    n = 64
    spacing = 8.0 * b + 6.0 * prefilter_sigma + 4.0          # normalised px between impulses
    out_len = int(math.ceil((n + 2) * spacing))
    src_len = int(math.ceil(out_len * k))
    src = np.zeros(src_len, np.float64)
    for j in range(n):
        x = int(((j + 1.0) * spacing + (j * 0.6180339887) % 1.0) * k)
        src[min(x, src_len - 1)] = 1.0
    pre = _gauss1d(src, prefilter_sigma * k).astype(np.float32)[None, :]
    line = cv2.resize(pre, (out_len, 1), interpolation=cv2.INTER_CUBIC).astype(np.float64).ravel()
    ua, ub = _gauss1d(line, a), _gauss1d(line, b)
    saa, sbb, sab = float(ua @ ua) / n, float(ub @ ub) / n, float(ua @ ub) / n
    return float(k * k * (saa * saa + sbb * sbb - 2.0 * sab * sab))


def smooth(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; for sigma >= 4 computed on a copy shrunk by ~sigma/4 (same result within a
    few %, 3-5x faster), for the slowly varying fields (local luminance, low band)."""
    if sigma < 4:
        return cv2.GaussianBlur(img, (0, 0), sigma)
    f = int(sigma // 4) + 1
    h, w = img.shape[:2]
    small = cv2.resize(img, (max(1, -(-w // f)), max(1, -(-h // f))), interpolation=cv2.INTER_AREA)
    s = math.sqrt(max(sigma * sigma - f * f / 4.0, 0.25)) / f   # area down + linear up add ~f^2/4
    small = cv2.GaussianBlur(small, (0, 0), s)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def masked_mean(img: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution (Knutsson & Westin 1993): local Gaussian mean of ``img`` over ``mask``."""
    m = mask.astype(np.float32)
    num = smooth(img * m if img.ndim == 2 else img * m[..., None], sigma)
    den = smooth(m, sigma)
    if img.ndim == 3:
        den = den[..., None]
    fallback = img[mask].mean(axis=0) if mask.any() else img.reshape(-1, *img.shape[2:]).mean(axis=0)
    return np.where(den > 1e-3, num / np.maximum(den, 1e-6), fallback).astype(np.float32)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every region it encloses filled (flood fill of the outside from the border)."""
    h, w = mask.shape
    outside = np.ones((h + 2, w + 2), np.uint8)      # 1 = not mask, with a 1-px frame of it
    outside[1:-1, 1:-1] = (~mask).astype(np.uint8)
    cv2.floodFill(outside, np.zeros((h + 4, w + 4), np.uint8), (0, 0), 0)
    return mask | outside[1:-1, 1:-1].astype(bool)


def saturation(rgb: np.ndarray) -> np.ndarray:
    """HSV saturation (max - min) / max of an RGB image."""
    mx = rgb.max(axis=-1)
    mn = rgb.min(axis=-1)
    return ((mx - mn) / np.maximum(mx, 1e-6)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Faces on the normalised grid
# ---------------------------------------------------------------------------------------------
REGION_LABELS = ("forehead", "cheek_left", "cheek_right", "nose_bridge")


def face_on_grid(face: "Face", x0: float, y0: float, k: float) -> "Face":
    """The same face in the coordinates of a crop starting at (x0, y0) resampled by 1/k."""
    from lenscore.faces import Face

    off = np.array([x0, y0], np.float64)
    bx, by, bw, bh = face.box
    return Face(box=((bx - x0) / k, (by - y0) / k, bw / k, bh / k), score=face.score,
                landmarks=(np.asarray(face.landmarks, np.float64) - off) / k,
                keypoints=(np.asarray(face.keypoints, np.float64) - off) / k,
                presence=face.presence, mesh=face.mesh, detector=face.detector,
                found_by=face.found_by)


def face_from_box(box) -> "Face":
    """A face without landmarks placed in a face box (x, y, w, h) by typical proportions: eyes
    on the line ``EYE_LINE_V`` of the box, ``w / OVAL_PER_IOD`` apart (:mod:`lenscore.faces`
    then draws its regions from the six detector keypoints' geometry)."""
    from lenscore.faces import Face

    x, y, w, h = (float(v) for v in box)
    iod = w / OVAL_PER_IOD
    cx, ey = x + w / 2, y + EYE_LINE_V * h
    kp = np.array([[cx - iod / 2, ey], [cx + iod / 2, ey], [cx, ey + 0.55 * iod],
                   [cx, ey + 1.15 * iod], [x, ey + 0.3 * iod], [x + w, ey + 0.3 * iod]])
    return Face(box=(x, y, w, h), score=float("nan"), landmarks=kp.copy(), keypoints=kp,
                mesh=False, detector="estimate from a box")


def region_labels(face: "Face", shape: tuple[int, int]) -> np.ndarray:
    """uint8 label map of a face's skin regions (:func:`lenscore.faces.face_regions`): 1
    forehead, 2 and 3 cheeks (image left, right), 4 nose bridge; 0 elsewhere."""
    from lenscore.faces import face_regions

    r = face_regions(face, shape)
    out = np.zeros(shape[:2], np.uint8)
    for i, key in enumerate(REGION_LABELS, start=1):
        out[r[key] & (out == 0)] = i
    return out


def landmark_regions(face: "Face", shape: tuple[int, int]) -> np.ndarray:
    """:func:`region_labels` of a full-resolution face on an image of ``shape``."""
    return region_labels(face, shape)


def region_bbox(face: "Face") -> tuple[float, float, float, float]:
    """Bounding box (x0, y0, x1, y1) of the face's skin-region polygons, image px."""
    from lenscore.faces import face_region_polygons

    polys = face_region_polygons(face)
    pts = np.vstack([np.asarray(polys[k]) for k in REGION_LABELS])
    oval = np.asarray(polys["oval"])
    lo = np.maximum(pts.min(0), oval.min(0))
    hi = np.minimum(pts.max(0), oval.max(0))
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def key_side_mask(face: "Face", shape: tuple[int, int], left: bool) -> np.ndarray:
    """True on the image-left (``left``) or image-right half of the face, split by the line
    through the eyes' midpoint perpendicular to the eye line."""
    e = face.eyes
    mid = e.mean(0)
    ux = e[1] - e[0]
    ux = ux / (np.hypot(*ux) or 1.0)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    s = (xx + 0.5 - mid[0]) * ux[0] + (yy + 0.5 - mid[1]) * ux[1]
    return s < 0 if left else s >= 0


# ---------------------------------------------------------------------------------------------
# Band energies
# ---------------------------------------------------------------------------------------------
def band_energies(gray: np.ndarray, mask: np.ndarray, labels: np.ndarray | None = None, *,
                  noise_sigma: float = 0.0, noise_abs: np.ndarray | None = None, k: float = 1.0,
                  band_noise_encoded: float = math.nan, prefilter_sigma: float = PARAMS.prefilter_sigma,
                  pore_band=PARAMS.pore_band, low_band=PARAMS.low_band,
                  lum_sigma: float = PARAMS.lum_sigma, erode_px: int = PARAMS.erode_px,
                  min_region_px: int = PARAMS.min_region_px,
                  min_region_frac: float = PARAMS.min_region_frac) -> dict:
    """Band-limited contrast energies of ``gray`` on skin (Peli 1990), noise floor removed.

    Pixels outside ``mask`` are filled with the local skin luminance L (normalised
    convolution) before filtering, so non-skin edges add nothing; the band response is divided
    by L, and its power in each region ``labels == i`` (i = 1, 2, ...; default: the whole mask)
    of the mask eroded by ``erode_px`` is estimated robustly (:func:`robust_power`: edges inside
    the mask, a hair strand, a nostril rim, a specular's rim, are outliers it ignores, with no
    threshold that a smoothing step could move pixels across). A region left with fewer than
    ``min_region_px`` pixels or ``min_region_frac`` of its area is skipped.
    The regions are combined by their median (the mean of the middle two of four).

    Parameters
    ----------
    gray : normalised face crop (luminance, already low-passed by ``prefilter_sigma``).
    mask : bool skin mask on the same grid.
    noise_sigma : std of white noise in the SOURCE image relative to the local luminance
        (dimensionless); or ``noise_abs``: |Immerkaer kernel * source| sampled at the grid's
        pixels, from which it is estimated over the mask (Immerkaer 1996, divided by L).
    k : source px per crop px.
    band_noise_encoded : the noise's power in the pore band measured on the frame's flat areas
        in encoded units (:func:`tiled_band_noise`); converted to relative contrast at each
        pixel's level L (:func:`encoded_to_relative_gain`), it replaces the white-noise floor
        where it is larger (noise through JPEG or resampling is not white).

    Returns
    -------
    dict: ``pore`` (raw band power, contrast^2), ``pore_noise_floor``, ``pore_corrected``
    (max(0, pore - floor)), ``low`` (low band, floor removed), ``band_ratio``
    (pore_corrected / low), ``noise_sigma`` (relative), ``n`` (pixels used), ``regions`` (one
    dict per label, None if skipped). NaN when no region is measurable.
    """
    nan = float("nan")
    out = {"pore": nan, "pore_noise_floor": nan, "pore_corrected": nan, "low": nan,
           "band_ratio": nan, "noise_sigma": nan, "n": 0, "regions": []}
    if not mask.any():
        return out
    if labels is None:
        labels = mask.astype(np.uint8)
    L = masked_mean(gray, mask, lum_sigma)
    filled = np.where(mask, gray, L).astype(np.float32)
    if erode_px > 0:
        se = np.ones((2 * erode_px + 1, 2 * erode_px + 1), np.uint8)
        core = cv2.erode(mask.astype(np.uint8), se, borderType=cv2.BORDER_CONSTANT,
                         borderValue=0).astype(bool)
    else:
        core = mask
    linv = 1.0 / np.maximum(L, 1e-3)
    if noise_abs is not None:
        noise_sigma = (IMMERKAER_MEAN_ABS * float(np.mean((noise_abs * linv)[mask], dtype=np.float64))
                       if mask.any() else nan)
    out["noise_sigma"] = noise_sigma
    kk = round(float(k), 3)
    gain_p = noise_band_gain(kk, (float(pore_band[0]), float(pore_band[1])), float(prefilter_sigma))
    gain_l = noise_band_gain(kk, (float(low_band[0]), float(low_band[1])), float(prefilter_sigma))
    direct = (band_noise_encoded * encoded_to_relative_gain(L) ** 2
              if math.isfinite(band_noise_encoded) else None)
    pore = (cv2.GaussianBlur(filled, (0, 0), pore_band[0])
            - cv2.GaussianBlur(filled, (0, 0), pore_band[1])) * linv
    low = (smooth(filled, low_band[0]) - smooth(filled, low_band[1])) * linv
    per: list[dict | None] = []
    for lab in range(1, int(labels.max()) + 1):
        reg = labels == lab
        m = core & reg
        if not reg.any() or m.sum() < max(min_region_px, min_region_frac * reg.sum()):
            per.append(None)
            continue
        e_p = robust_power(pore[m])
        e_l = robust_power(low[m])
        f_p = noise_sigma ** 2 * gain_p
        f_jpeg = float(np.mean(direct[m], dtype=np.float64)) if direct is not None else 0.0
        f_p = max(f_p, f_jpeg)
        f_l = noise_sigma ** 2 * gain_l
        c_p, c_l = max(0.0, e_p - f_p), max(0.0, e_l - f_l)
        per.append({"pore": e_p, "pore_noise_floor": f_p, "pore_corrected": c_p, "low": c_l,
                    "band_ratio": c_p / c_l if c_l > 0 else nan, "n": int(m.sum()),
                    "floor_from_band": bool(f_jpeg >= f_p and f_jpeg > 0)})
    out["regions"] = per
    ok = [r for r in per if r is not None]
    if not ok:
        return out
    for key in ("pore", "pore_noise_floor", "pore_corrected", "low"):
        out[key] = float(np.median([r[key] for r in ok]))
    out["band_ratio"] = out["pore_corrected"] / out["low"] if out["low"] > 0 else nan
    out["n"] = int(sum(r["n"] for r in ok))
    out["floor_from_band"] = bool(sum(r["floor_from_band"] for r in ok) * 2 > len(ok))
    return out


def robust_power(r: np.ndarray, c: float = 9.0) -> float:
    """Variance of a zero-mean response, robustly: Tukey's biweight midvariance about 0
    (Mosteller & Tukey 1977; Beers, Flynn & Gebhardt 1990, https://doi.org/10.1086/115487), with
    u = r / (c median |r|) and c = 9 (samples beyond ~6 sigma count for nothing, those nearer
    are down-weighted smoothly):
    n sum_{|u|<1} r^2 (1-u^2)^4 / (sum_{|u|<1} (1-u^2)(1-5u^2))^2.

    Near exact for Gaussian data (83 % efficient, measured on samples of 1000) and blind to
    edge pixels: a hair strand, a nostril rim, a specular's rim. The first robust version, (1.4826 median |r|)^2 (Hampel
    1974), is only 37 % efficient: its sampling noise on a cheek was larger than the first
    Gaussian retouching step once 2-3 % sensor noise was added (London faces: the power's
    standard deviation 0.25e-4 against steps of 0.1-0.4e-4).

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(0, 0.01, 20000)
    >>> r[:500] = 0.5                      # 2.5 % edge pixels
    >>> round(robust_power(r) / 1e-4, 2), round(float(np.mean(r ** 2)) / 1e-4)   # vs mean square
    (1.03, 63)
    """
    x = np.asarray(r, np.float64).ravel()
    if x.size == 0:
        return float("nan")
    mad = float(np.median(np.abs(x)))
    if mad <= 0:
        return 0.0
    u2 = (x / (c * mad)) ** 2
    k = u2 < 1.0
    xk, uk = x[k], u2[k]
    w = 1.0 - uk
    den = float(np.sum(w * (1.0 - 5.0 * uk)))
    if den == 0:
        return float("nan")
    return float(x.size * np.sum(xk * xk * w ** 4) / (den * den))


#: sigma = this x mean |Immerkaer kernel * image| for white noise (Immerkaer 1996).
IMMERKAER_MEAN_ABS = math.sqrt(math.pi / 2.0) / 6.0

def tile_quantile_gain(tile: int = PARAMS.noise_tile_px, q: float = PARAMS.noise_tile_quantile,
                       band=PARAMS.pore_band, seed: int = 0) -> float:
    """The bias of :func:`tiled_band_noise` for white noise: the ``q`` quantile of noisy per-tile
    estimates over the true band power (0.91 for 24 px tiles and q = 0.25), measured on 400 tiles
    of unit white noise through the band. With it, white noise through the production chain
    reads within 2 % of its true band power at k = 1-2.5 (``tests/test_skin.py``)."""
    return _tile_quantile_gain(int(tile), float(q), (float(band[0]), float(band[1])), int(seed))


@functools.lru_cache(maxsize=8)
def _tile_quantile_gain(tile: int, q: float, band: tuple[float, float], seed: int) -> float:
    rng = np.random.default_rng(seed)
    n = 20 * tile + 16
    w = rng.standard_normal((n, n)).astype(np.float32)
    b = cv2.GaussianBlur(w, (0, 0), band[0]) - cv2.GaussianBlur(w, (0, 0), band[1])
    pw = _tile_powers(b[8:-8, 8:-8], np.ones((n - 16, n - 16), bool), tile)
    return float(np.quantile(pw, q) / dog_norm2(*band))


def _tile_powers(band: np.ndarray, usable: np.ndarray, tile: int) -> np.ndarray:
    """(1.4826 median |band|)^2 of every ``tile`` x ``tile`` tile that is all ``usable``."""
    if band.shape[0] < tile or band.shape[1] < tile:
        return np.zeros(0)
    t = imaging.tile_blocks(band, tile).reshape(-1, tile * tile)
    ok = imaging.tile_blocks(usable, tile).reshape(-1, tile * tile).all(1)
    if not ok.any():
        return np.zeros(0)
    return (1.482602218505602 * np.median(np.abs(t[ok]), axis=1).astype(np.float64)) ** 2


def tiled_band_noise(green: np.ndarray, k: float, exclude: tuple[float, float, float, float] | None,
                     p: SkinParams = PARAMS) -> tuple[float, int]:
    """The noise's power in the pore band, measured where the frame is flat (8-bit encoded units,
    on the normalised grid): the band response of the encoded channel through the texture's own
    chain (prefilter, resample by 1/k, DoG ``pore_band``), its robust power per tile of
    ``noise_tile_px``, the ``noise_tile_quantile`` quantile over the tiles outside ``exclude``
    (x0, y0, x1, y1 source px: the face), divided by :func:`tile_quantile_gain`.

    The skin family's Immerkaer floor assumes white noise. Noise that went through JPEG is not:
    the quantiser removes its fine scales (which Immerkaer reads) and keeps the coarser ones,
    at the pore band (measured on the renderer's noise + JPEG q73-94 skin: 5-50x the white-noise
    prediction). Measured in the band itself, it needs flat areas. Left out: tiles touching
    clipping or black, and dead tiles (JPEG zeroed every detail: band power below 8-bit
    rounding's); fewer than ``noise_min_tiles`` left gives NaN (no estimate; the white floor
    stands). NaN too when the tiles at or below the quantile are scene texture, told from noise
    by their spectrum: in noise the octave below the band (DoG of 2 and 4 px) carries at most
    ``noise_max_octave_ratio`` of the band's power (the median over those tiles; white noise 0.4
    through this chain, the renderer's JPEG'd noise 0.45-0.75), in a scene's texture about as
    much or more (natural images: equal power per octave, Field 1987,
    https://doi.org/10.1364/JOSAA.4.002379; a London face on gravel
    1.1). One tile is too small to tell (its coarse octave holds a few blobs), so the test is
    on the set.
    Returns (power, tiles used).
    """
    g = np.ascontiguousarray(green, np.float32)
    H, W = g.shape[:2]
    if min(H, W) < 8 or k <= 0:
        return math.nan, 0
    size = (max(1, int(round(W / k))), max(1, int(round(H / k))))
    gr = resample_gray(g, k, size, prefilter_sigma=p.prefilter_sigma)
    a, b = float(p.pore_band[0]), float(p.pore_band[1])
    band = cv2.GaussianBlur(gr, (0, 0), a) - cv2.GaussianBlur(gr, (0, 0), b)
    bad = ((gr > 0.97) | (gr < 0.03)).astype(np.uint8)
    r = int(math.ceil(3 * b))
    usable = ~cv2.dilate(bad, np.ones((2 * r + 1, 2 * r + 1), np.uint8)).astype(bool)
    m = r + 1                                     # the frame's border: reflected, not measured
    usable[:m, :] = usable[-m:, :] = False
    usable[:, :m] = usable[:, -m:] = False
    if exclude is not None:
        x0, y0, x1, y1 = (int(math.floor(exclude[0] / k)), int(math.floor(exclude[1] / k)),
                          int(math.ceil(exclude[2] / k)), int(math.ceil(exclude[3] / k)))
        usable[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = False
    coarse = cv2.GaussianBlur(gr, (0, 0), b) - cv2.GaussianBlur(gr, (0, 0), 2.0 * b)
    pw = _tile_powers(band, usable, int(p.noise_tile_px))
    pc = _tile_powers(coarse, usable, int(p.noise_tile_px))
    dead = (1.0 / 255.0) ** 2 / 12.0 * noise_band_gain(round(float(k), 3), (a, b), float(p.prefilter_sigma))
    live = pw > dead
    pw, pc = pw[live], pc[live]
    if pw.size < p.noise_min_tiles:
        return math.nan, int(pw.size)
    q = float(np.quantile(pw, p.noise_tile_quantile))
    low = pw <= q
    if float(np.median(pc[low] / pw[low])) > p.noise_max_octave_ratio:
        return math.nan, int(pw.size)            # the flattest tiles are scene texture, not noise
    return q / tile_quantile_gain(p.noise_tile_px, p.noise_tile_quantile, (a, b)), int(pw.size)


def encoded_to_relative_gain(L: np.ndarray) -> np.ndarray:
    """(d linear / d encoded) / linear at linear level ``L`` (sRGB): how an encoded-domain
    perturbation reads as relative contrast in linear light. 2.4 / (e + 0.055) above the toe."""
    e = imaging.linear_to_srgb(np.clip(L, 1e-4, 1.0))
    return np.where(e <= 0.04045, 1.0 / np.maximum(e, 1e-4),
                    2.4 / (e + 0.055)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The real-skin reference
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def reference() -> dict:
    """The real-skin reference (package data ``skin_reference.json``; see its ``source``)."""
    text = (resources.files("lenscore.metrics") / "skin_reference.json").read_text(encoding="utf-8")
    return json.loads(text)


def real_band(iod: float, ref: Mapping | None = None) -> dict | None:
    """The real band of ``texture_energy`` at an IOD (full-res px): ``median``, ``lo``, ``hi``
    (the reading's edges) and ``n``, interpolated in log IOD between the reference's scales
    (above the largest, the largest). None below the smallest scale or without a reference."""
    try:
        ref = ref if ref is not None else reference()
    except (OSError, ValueError):
        return None
    scales = ref.get("scales") or []
    if not scales or not math.isfinite(iod):
        return None
    scales = sorted(scales, key=lambda s: s["iod_px"])
    if iod < 0.9 * scales[0]["iod_px"]:
        return None
    if iod < scales[0]["iod_px"]:       # the band hardly moves with scale: the smallest's
        s = scales[0]
        return {k: s[k] for k in ("median", "lo", "hi", "n")} | {"iod_px": float(iod)}
    if iod >= scales[-1]["iod_px"]:
        s = scales[-1]
        return {k: s[k] for k in ("median", "lo", "hi", "n")} | {"iod_px": float(iod)}
    for a, b in zip(scales, scales[1:]):
        if a["iod_px"] <= iod <= b["iod_px"]:
            t = math.log(iod / a["iod_px"]) / math.log(b["iod_px"] / a["iod_px"])
            out = {k: math.exp((1 - t) * math.log(a[k]) + t * math.log(b[k]))
                   for k in ("median", "lo", "hi")}
            return out | {"n": min(a["n"], b["n"]), "iod_px": float(iod)}
    return None


def reading(vs_real: float, band: Mapping | None) -> str | None:
    """"plastic", "natural" or "over-sharpened or grain" for a texture relative to the real
    median, against the band's edges (relative to its median); None when not finite."""
    if band is None or not math.isfinite(vs_real):
        return None
    lo, hi = band["lo"] / band["median"], band["hi"] / band["median"]
    return READINGS[0] if vs_real < lo else READINGS[2] if vs_real > hi else READINGS[1]


# ---------------------------------------------------------------------------------------------
# One face, end to end
# ---------------------------------------------------------------------------------------------
def face_from_subject_box(box, shape) -> tuple[int, int, int, int]:
    """Face estimate inside a head-and-shoulders box: the inverse of :data:`HEAD_SHOULDERS`
    (face box = box width / 3.4 wide, centred, 0.6 face heights below the box top)."""
    x, y, w, h = (float(v) for v in box)
    left, top, right, bottom = HEAD_SHOULDERS
    side = min(w / (1 + left + right), h / (1 + top + bottom))
    fx, fy = x + w / 2 - side / 2, y + top * side
    H, W = shape[:2]
    fx, fy = min(max(0.0, fx), W - 1.0), min(max(0.0, fy), H - 1.0)
    side = max(1.0, min(side, W - fx, H - fy))
    return (int(round(fx)), int(round(fy)), int(round(side)), int(round(side)))


def _skin_colour_mask(lin: np.ndarray, luma: np.ndarray, regions: np.ndarray, p: SkinParams,
                      labels: np.ndarray | None = None):
    """Skin inside ``regions``, judged against the face's own colour *around* each pixel (so a
    key and a fill of different colours, or any light, change nothing): a pixel is skin when
    its log-chromaticity (log R/G, log B/G / 2) lies within ``chroma_tol`` of the local mean
    skin chromaticity and its luma is at least ``min_luma_frac`` of the local mean skin luma
    (both by normalised convolution of ``mask_sigma`` px over the pixels within
    ``chroma_loose`` of their region's median: hair and glasses do not set the reference), opened
    by ``open_px``. Returns (mask, median linear colour of the skin)."""
    inside = regions & (luma > 0)
    if inside.sum() < 20:
        return np.zeros_like(regions), None
    med_l = float(np.median(luma[inside]))
    lg = np.log(np.maximum(lin, 1e-4))
    c = np.stack([lg[..., 0] - lg[..., 1], p.blue_weight * (lg[..., 2] - lg[..., 1])],
                 axis=-1).astype(np.float32)
    bright = inside & (luma >= 0.25 * med_l)
    ref = bright & (luma <= 1.6 * med_l)
    if ref.sum() < 20:
        ref = bright
    if not ref.any():
        return np.zeros_like(regions), None
    # the reference: pixels near their own region's median colour (a key and a fill of
    # different colours light the two cheeks differently)
    loose = np.zeros_like(regions)
    labs = labels if labels is not None else regions.astype(np.uint8)
    for lab in range(1, int(labs.max()) + 1):
        rr = ref & (labs == lab)
        if rr.sum() < 20:
            continue
        m = np.median(c[rr], axis=0)
        loose |= bright & (labs == lab) & (np.hypot(*(c - m).transpose(2, 0, 1)) <= p.chroma_loose)
    if loose.sum() < 20:
        return np.zeros_like(regions), None
    cl = masked_mean(c, loose, p.mask_sigma)
    ll = masked_mean(luma, loose, p.mask_sigma)
    floor = p.min_luma_frac * np.maximum(ll, 0.5 * med_l)
    ok = inside & (luma >= floor) & (np.hypot(*(c - cl).transpose(2, 0, 1)) <= p.chroma_tol)
    if p.open_px > 1:
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (p.open_px, p.open_px))
        ok = cv2.morphologyEx(ok.astype(np.uint8), cv2.MORPH_OPEN, se).astype(bool)
    med = np.median(lin[ok if ok.sum() >= 20 else ref], axis=0).astype(np.float64)
    return ok, med


def _face_exclusion(face) -> tuple[float, float, float, float]:
    """The face's oval box grown 1.3x (x0, y0, x1, y1, full-res px): what the frame-wide light
    and noise estimates leave out (in a headshot the frame is mostly the face)."""
    fx, fy, fw, fh = face.box
    cx, cy = fx + fw / 2, fy + fh / 2
    return (cx - 0.65 * fw, cy - 0.65 * fh, cx + 0.65 * fw, cy + 0.65 * fh)


def _noise_context(rgb: np.ndarray, face, p: SkinParams):
    """The frame's green channel (encoded) within ``noise_context_faces`` face widths of the
    face, and :func:`_face_exclusion` in it (left out): where :func:`tiled_band_noise` looks."""
    H, W = rgb.shape[:2]
    fx, fy, fw, fh = face.box
    cx, cy = fx + fw / 2, fy + fh / 2
    r = p.noise_context_faces * max(fw, fh)
    x0, y0 = max(0, int(cx - r)), max(0, int(cy - r))
    x1, y1 = min(W, int(math.ceil(cx + r))), min(H, int(math.ceil(cy + r)))
    ex0, ey0, ex1, ey1 = _face_exclusion(face)
    return rgb[y0:y1, x0:x1, 1], (ex0 - x0, ey0 - y0, ex1 - x0, ey1 - y0)


def measure_skin(rgb: np.ndarray, face, *, key_uv: tuple[float, float] | None = None,
                 user_mask: np.ndarray | None = None, params: dict | None = None,
                 scene_linear: np.ndarray | None = None) -> dict:
    """Everything the skin family reports for one face (pure; no context needed).

    Parameters
    ----------
    rgb : full-resolution sRGB float image (H x W x 3, [0, 1]).
    face : :class:`lenscore.faces.Face` (full-res px), or a face box (x, y, w, h): then a face
        is estimated in it (:func:`face_from_box`).
    key_uv : CIE 1960 uv of the key light, optional (else estimated from the face's highlights,
        else from ``scene_linear``'s shades of grey).
    user_mask : bool H x W, optional; replaces the regions and the skin model.
    params : overrides of :data:`PARAMS`.
    scene_linear : the frame in linear light (any size), for the last key estimate.

    Returns
    -------
    dict: ``texture_energy`` (%), ``specular_fraction``, ``mask_fraction``, ``is_skin``
    (1, 0 or NaN), ``iod``, ``bands``, ``noise_sigma``, ``crop_box``, ``k``, ``mask``,
    ``specular_mask``, ``key_side``, ``labels``, ``key`` ({uv, source}), ``colour``,
    ``specular``, ``reason`` (None when the texture is measurable), ``skin_reason``.
    """
    from lenscore.faces import Face

    p = dataclasses.replace(PARAMS, **(params or {}))
    nan = float("nan")
    if not isinstance(face, Face):
        face = face_from_box(face)
    H, W = rgb.shape[:2]
    iod = float(face.inter_ocular)
    k = max(iod / p.iod_px, 1e-6)
    pad = (2.0 * p.lum_sigma + 4.0) * k
    if user_mask is not None:
        ys, xs = np.nonzero(user_mask)
        bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0
    else:
        bx0, by0, bx1, by1 = region_bbox(face)
    x0, y0 = max(0, int(math.floor(bx0 - pad))), max(0, int(math.floor(by0 - pad)))
    x1, y1 = min(W, int(math.ceil(bx1 + pad))), min(H, int(math.ceil(by1 + pad)))
    out: dict[str, Any] = {"texture_energy": nan, "specular_fraction": nan, "mask_fraction": nan,
                           "is_skin": nan, "iod": iod, "bands": {}, "noise_sigma": nan,
                           "crop_box": (x0, y0, max(0, x1 - x0), max(0, y1 - y0)), "k": k,
                           "mask": np.zeros((1, 1), bool), "specular_mask": np.zeros((1, 1), bool),
                           "key_side": np.zeros((1, 1), bool), "labels": np.zeros((1, 1), np.uint8),
                           "key": {"uv": None, "source": None}, "colour": {}, "specular": {},
                           "reason": None, "skin_reason": None}
    if x1 - x0 < 4 or y1 - y0 < 4:
        out["reason"] = "the face's skin regions lie outside the image"
        return out
    src = rgb[y0:y1, x0:x1]
    ch, cw = src.shape[:2]
    size = (max(1, int(round(cw / k))), max(1, int(round(ch / k))))
    # --- colour on the grid (linear light), regions and the skin mask
    lin_src = imaging.srgb_to_linear(np.clip(src, 0.0, 1.0))
    lin = np.clip(cv2.resize(lin_src, size, interpolation=cv2.INTER_AREA if k > 1 else cv2.INTER_LINEAR),
                  0.0, 1.0)
    luma_lin = lin @ imaging.REC709
    if user_mask is not None:
        um = np.ascontiguousarray(user_mask[y0:y1, x0:x1]).astype(np.uint8)
        labels = cv2.resize(um, size, interpolation=cv2.INTER_NEAREST)
    else:
        labels = region_labels(face_on_grid(face, x0, y0, k), (size[1], size[0]))
    out["labels"] = labels
    regions = labels > 0
    if user_mask is not None:
        skin = regions.copy()
        ref = skin & (luma_lin > 0)
        med = np.median(lin[ref], axis=0).astype(np.float64) if ref.sum() >= 20 else None
    else:
        # the colour test reads a copy blurred by mask_blur px: a fine texture or a light
        # smoothing then moves no pixel across its bounds
        lin_b = cv2.GaussianBlur(lin, (0, 0), p.mask_blur) if p.mask_blur > 0 else lin
        skin, med = _skin_colour_mask(lin_b, lin_b @ imaging.REC709, regions, p, labels)
    n_reg = int(regions.sum())
    if user_mask is None and n_reg:
        out["mask_fraction"] = float(skin.sum() / n_reg)
    if med is None or skin.sum() < p.min_region_px:
        out["mask"] = skin
        out["reason"] = ("too little skin on the cheeks, forehead and nose (hair, beard, shadow, "
                         "a turned face)")
        return out
    # --- speculars (on the grid) and the key side
    gray_g = luma_lin
    local = masked_mean(gray_g, skin, p.spec_sigma)
    diffuse = masked_mean(lin, skin, p.spec_sigma)
    # whiter than the skin around it: saturation of the face-normalised colour (the skin's own
    # colour divided out, so any light and any skin tone) against its local skin mean
    canon = np.asarray(CANONICAL_SKIN, np.float64)
    gain = canon / np.maximum(med, 1e-6) * float(med @ imaging.REC709) / float(canon @ imaging.REC709)
    sat = saturation(lin * gain.astype(np.float32))
    sat_local = masked_mean(sat, skin, p.spec_sigma)
    enclosed = fill_holes(skin) & regions if user_mask is None else regions
    clipped = lin.max(axis=-1) >= 0.985
    spec = enclosed & (((gray_g >= p.spec_gain * local) & (sat <= p.spec_sat_frac * sat_local))
                       | (clipped & (gray_g >= local)))
    skin_all = skin | spec
    out["mask"], out["specular_mask"] = skin_all, spec
    # --- the light: the key given (the colour family's) and the frame's shades of grey
    if scene_linear is not None:       # the frame without the face (x1.3 its oval box)
        ex0, ey0, ex1, ey1 = _face_exclusion(face)
        scene = scene_uv(scene_linear, exclude=(ex0 / W, ey0 / H, ex1 / W, ey1 / H))
    else:
        scene = None
    lights = [(uv, src_) for uv, src_ in ((key_uv, "given"),
                                          (scene, "the frame's average colour (shades of grey)"))
              if uv is not None]
    out["key"] = {"uv": None if key_uv is None else [float(key_uv[0]), float(key_uv[1])],
                  "source": "given" if key_uv is not None else None,
                  "scene_uv": None if scene is None else [float(scene[0]), float(scene[1])]}
    spec_uv = None
    if spec.sum() >= p.spec_min_px:
        spec_uv = highlight_uv(lin[spec & ~clipped], diffuse[spec & ~clipped], p.spec_top) \
            if (spec & ~clipped).sum() >= p.spec_min_px else None
        if spec_uv is not None and abs(uv_mired(*spec_uv)[1]) > 0.05:
            spec_uv = None
    # --- is it skin? Its colour under each light estimate: grey (marble, plaster, metal, white
    # or grey paint) or a colour skin never has (blue, green, violet paint). "Not skin" needs
    # every estimate to agree (a wrong key must not turn real skin into marble).
    verdicts = []
    for i, (uv, what) in enumerate(lights):
        v, why, chroma, hue = skin_colour_verdict(med, uv, p)
        verdicts.append((v, why))
        if i == 0:
            out["colour"] = {"chroma": chroma, "hue_deg": hue, "under": what}
        else:
            out["colour"].update(scene_chroma=chroma, scene_hue_deg=hue)
    # the hemoglobin sign: under a blackbody light of any temperature, skin's own colour lies
    # below the Planckian locus (blood absorbs green: Duv -0.003 to -0.014 on the London faces,
    # 2000-10000 K), a grey or cream surface on or above it. Relative to the key's own Duv
    # when the colour family gives one.
    fm, fd = uv_mired(*linear_rgb_to_uv(med))
    key_duv = uv_mired(*key_uv)[1] if key_uv is not None else 0.0
    rel = fd - key_duv
    out["colour"]["duv"] = rel
    if rel <= p.skin_duv_max:
        verdicts.append((1.0, None))
    elif rel >= p.grey_duv_min:
        verdicts.append((0.0, f"its colour lies on or above the blackbody locus (Duv {rel:+.4f}; "
                              f"skin {p.skin_duv_max:+.4f} or below, as blood absorbs green): a grey "
                              "or cream surface"))
    # a channel a few 8-bit levels above black (the blue of deep skin under a 2000 K key: 1-2
    # levels) has no chromaticity to read: the colour signs are silent, the texture sign decides
    dark = float(np.min(imaging.linear_to_srgb(np.asarray(med, np.float32))))
    if dark < p.colour_min_encoded:
        verdicts = []
        out["colour"]["silent"] = (f"a colour channel of the skin is {255 * dark:.0f} of 255 "
                                   "levels under this light: too dark to read its colour")
    out["_verdicts"] = verdicts
    if spec_uv is not None:  # reported, not decisive (see the module docstring)
        w = upvp(med) - upvp(uv_to_linear_rgb(*spec_uv))
        out["colour"].update(body_chroma=float(np.hypot(w[0], w[1])),
                             body_hue_deg=float(math.degrees(math.atan2(w[1], w[0]))))
    # --- key side and the specular fraction
    if user_mask is None:
        fg = face_on_grid(face, x0, y0, k)
        left = key_side_mask(fg, skin.shape, True)
        ml, mr = skin & left, skin & ~left
        y_l = float(np.median(gray_g[ml])) if ml.sum() >= 20 else -1.0
        y_r = float(np.median(gray_g[mr])) if mr.sum() >= 20 else -1.0
        side = left if y_l >= y_r else ~left
    else:
        side = np.ones_like(skin)
    out["key_side"] = side
    ks = skin_all & side
    out["specular_fraction"] = float((spec & side).sum() / ks.sum()) if ks.sum() else nan
    if spec_uv is not None:
        out["specular"] = {"uv": [float(spec_uv[0]), float(spec_uv[1])], "n_px": int(spec.sum())}
        if key_uv is not None:
            out["specular"].update(key_check(med, spec_uv, key_uv, p.key_match_duv))
    # --- texture: the green channel's relative contrast in linear light, at full resolution
    # (a light's colour scales the channel by a constant, which the contrast divides out)
    lum_src = np.ascontiguousarray(lin_src[..., p.texture_channel])
    noise_abs = imaging.immerkaer_response(lum_src)
    gray_c = resample_gray(lum_src, k, size, prefilter_sigma=p.prefilter_sigma)
    xs = np.clip(((np.arange(size[0]) + 0.5) * k).astype(np.int64), 0, cw - 1)
    ys = np.clip(((np.arange(size[1]) + 0.5) * k).astype(np.int64), 0, ch - 1)
    tex_labels = labels if user_mask is None else skin.astype(np.uint8)
    tex_mask = skin & ~cv2.dilate(clipped.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    # noise that went through JPEG is not white: measured in the band where the frame is flat
    ctx_green, ctx_face = _noise_context(rgb, face, p)
    grid = imaging.jpeg_grid_strength(ctx_green)
    bn, bn_tiles = tiled_band_noise(ctx_green, k, ctx_face, p) \
        if grid >= imaging.JPEG_GRID_MIN else (math.nan, 0)
    bands = band_energies(gray_c, tex_mask, tex_labels, noise_abs=noise_abs[np.ix_(ys, xs)], k=k,
                          band_noise_encoded=bn,
                          prefilter_sigma=p.prefilter_sigma, pore_band=p.pore_band,
                          low_band=p.low_band, lum_sigma=p.lum_sigma, erode_px=p.erode_px,
                          min_region_px=p.min_region_px, min_region_frac=p.min_region_frac)
    sigma_n = bands["noise_sigma"]
    bands["band_noise_encoded"], bands["band_noise_tiles"], bands["jpeg_grid"] = bn, bn_tiles, grid
    bands["rms_contrast"] = math.sqrt(bands["pore_corrected"]) if bands["pore_corrected"] >= 0 else nan
    out.update(bands=bands, noise_sigma=sigma_n)
    # the sub-surface signature: red's texture against green's (reported, not decisive)
    out["colour"]["red_green_texture"] = _red_green_ratio(lin, skin, p)
    beta = out["colour"]["red_green_texture"]
    tex = p.percent * math.sqrt(bands["pore_corrected"]) if math.isfinite(bands["pore_corrected"]) else nan
    verdicts = out.pop("_verdicts")
    if math.isfinite(beta) and k >= p.subsurface_min_k and tex >= p.subsurface_min_texture:
        if beta >= p.subsurface_max:
            verdicts.append((0.0, f"its texture is the same in red as in green (ratio {beta:.2f}; "
                                  f"real skin {p.subsurface_max - 0.06:.2f} or less: red light "
                                  "scatters under skin): no sub-surface scattering"))
        elif beta <= p.subsurface_max - 0.03:
            verdicts.append((1.0, None))
    out["is_skin"], out["skin_reason"] = skin_vote(verdicts)
    if not math.isfinite(bands["pore_corrected"]):
        out["reason"] = ("too little skin left in any cheek, forehead or nose region (hair, "
                         "beard, shadow or a turned face)")
        return out
    out["texture_energy"] = tex
    return out


def skin_vote(verdicts) -> tuple[float, str | None]:
    """Skin or not from the signs available (the face's colour under the colour family's key,
    under the frame's average light, the sub-surface signature): a sign is 1 (skin), 0 (not)
    or None. "Not skin" needs a majority of at least two signs (a single wrong key must not
    turn real skin into marble); "skin" a majority; else undecided (NaN)."""
    said = [(v, w) for v, w in verdicts if v is not None]
    no = [w for v, w in said if v == 0.0]
    yes = [v for v, _ in said if v == 1.0]
    if len(no) >= 2 and len(no) > len(yes):
        return 0.0, "not skin: " + "; and ".join(no)
    if len(yes) > len(no):
        return 1.0, None
    why = "; ".join(w for _, w in verdicts if w) or "no estimate of the light"
    return float("nan"), "could not tell skin from paint: " + why


def highlight_uv(px: np.ndarray, diffuse: np.ndarray, top: float = PARAMS.spec_top):
    """The light's CIE 1960 uv from specular pixels (dichromatic model, Shafer 1985; Lee 1986):
    the excess of each pixel over the diffuse skin colour under it, summed over the pixels whose
    excess luminance is at least ``top`` of the largest (the strongest highlights, where the
    skin's own colour variation matters least). None without a usable excess."""
    ex = np.clip(np.asarray(px, np.float64) - np.asarray(diffuse, np.float64), 0.0, None)
    lum = ex @ imaging.REC709.astype(np.float64)
    if lum.size == 0 or not lum.max() > 1e-4:
        return None
    sel = lum >= top * float(np.percentile(lum, 98))
    e = ex[sel].sum(axis=0)
    if not e.sum() > 1e-6:
        return None
    uv = linear_rgb_to_uv(e)
    return uv if all(math.isfinite(c) for c in uv) else None


def skin_colour_verdict(body_rgb, light_uv, p: SkinParams = PARAMS):
    """(1 skin, 0 not skin or None undecided; why; chroma; hue) of a body colour (linear RGB)
    seen under a light of CIE 1960 ``light_uv``: its CIE 1976 u'v' offset from the white point
    after dividing out the light (von Kries). Grey below ``skin_chroma_min``; not a skin hue
    outside ``skin_hue_deg`` with at least ``paint_chroma_min``; a chroma above
    ``max_surface_chroma`` says the light estimate is off (undecided).

    Examples
    --------
    >>> light = cct_duv_uv(2700.0)
    >>> grey = uv_to_linear_rgb(*light) * 0.4            # a grey surface lit by it
    >>> skin_colour_verdict(grey, light)[0]
    0.0
    >>> tan = np.array([0.42, 0.27, 0.20]) * uv_to_linear_rgb(*light)
    >>> skin_colour_verdict(tan, light)[0]
    1.0
    """
    c = upvp(np.asarray(body_rgb, np.float64) / uv_to_linear_rgb(*light_uv)) - WHITE_UPVP
    chroma, hue = float(np.hypot(c[0], c[1])), float(math.degrees(math.atan2(c[1], c[0])))
    lo, hi = p.skin_hue_deg
    if chroma < p.skin_chroma_min:
        return 0.0, (f"under the light the face is grey (chroma {chroma:.3f}; skin >= "
                     f"{p.skin_chroma_min}): marble, plaster, metal or paint"), chroma, hue
    if chroma > p.max_surface_chroma:
        return None, (f"under that light the face would have a chroma of {chroma:.2f}, more "
                      "than any skin or paint: the light estimate is off"), chroma, hue
    if lo <= hue <= hi:
        return 1.0, None, chroma, hue
    if chroma >= p.paint_chroma_min:
        return 0.0, (f"under the light the face's colour is not a skin colour (hue {hue:.0f} "
                     f"deg; skin {lo:.0f} to {hi:.0f}): paint"), chroma, hue
    return None, f"a pale colour of an unusual hue ({hue:.0f} deg) under the light", chroma, hue


def key_check(body_rgb, spec_uv, key_uv, tol: float = PARAMS.key_match_duv) -> dict:
    """Is the shine the key light's colour? Under one light a highlight mixes the light's colour
    with the body colour beneath it (dichromatic model), so its chromaticity lies on the segment
    from the body colour to the light's (CIE 1976 u'v'). Returns ``key_share`` (position along
    the segment: 0 body colour, 1 the key's), ``off_line`` (distance from its line) and
    ``agrees`` (off the line by at most ``tol``, on the key's side of the skin colour:
    key_share >= -0.1; a share above 1, a shine whiter than the key, is allowed: a key
    estimate a little too warm, or white added by a second light, look alike)."""
    b = upvp(np.asarray(body_rgb, np.float64))
    h = upvp(uv_to_linear_rgb(*spec_uv))
    kk = upvp(uv_to_linear_rgb(*key_uv))
    d = kk - b
    n2 = float(d @ d)
    if n2 < 1e-10:
        return {"key_share": math.nan, "off_line": math.nan, "agrees": None}
    t = float((h - b) @ d / n2)
    off = float(abs(d[0] * (h - b)[1] - d[1] * (h - b)[0]) / math.sqrt(n2))
    return {"key_share": t, "off_line": off, "agrees": bool(off <= tol and t >= -0.1)}


def _red_green_ratio(lin: np.ndarray, skin: np.ndarray, p: SkinParams) -> float:
    """Regression slope of the red channel's band contrast on the green's (log linear light,
    pore band, on the grid): ~0.6-0.85 on real skin (red light scatters further under it), 1 on
    an achromatic texture. NaN without texture."""
    if skin.sum() < p.min_region_px:
        return float("nan")
    lg = np.log(np.maximum(lin, 1e-3))
    a, b = p.pore_band
    r = cv2.GaussianBlur(lg[..., 0], (0, 0), a) - cv2.GaussianBlur(lg[..., 0], (0, 0), b)
    g = cv2.GaussianBlur(lg[..., 1], (0, 0), a) - cv2.GaussianBlur(lg[..., 1], (0, 0), b)
    core = cv2.erode(skin.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if core.sum() < p.min_region_px:
        return float("nan")
    gg = float(np.sum(g[core].astype(np.float64) ** 2))
    return float(np.sum(r[core].astype(np.float64) * g[core]) / gg) if gg > 0 else float("nan")


# ---------------------------------------------------------------------------------------------
# Family adapter
# ---------------------------------------------------------------------------------------------
def _pick_face(ctx):
    """(Face or None, detected?, face box) - the largest detected face, inside the manifest's
    subject box if one was given; else an estimate from that box; else (None, False, None)."""
    faces = ctx.faces if min(ctx.height, ctx.width) >= 24 else []
    box = ctx.user_subject_box
    if box is None:
        return (faces[0], True, faces[0].box) if faces else (None, False, None)
    bx, by, bw, bh = box
    for f in faces:  # largest first
        x, y, w, h = f.box
        if bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh:
            return f, True, f.box
    fb = face_from_subject_box(box, (ctx.height, ctx.width))
    return face_from_box(fb), False, fb


def _texture_values(values, reasons, artifacts, res, iod) -> None:
    """texture_vs_real and the reading from a measured texture."""
    e = res["texture_energy"]
    band = real_band(iod)
    artifacts["real"] = band
    if not math.isfinite(e):
        return
    if band is None:
        reasons["skin.texture_vs_real"] = (f"no real-skin reference at this face size (IOD "
                                           f"{iod:.0f} px)")
        return
    v = e / band["median"]
    values["skin.texture_vs_real"] = v
    r = reading(v, band)
    artifacts["reading"] = r
    lo, hi = band["lo"] / band["median"], band["hi"] / band["median"]
    grain = ("; grain that went through JPEG measured on the frame's flat areas and removed"
             if (res.get("bands") or {}).get("floor_from_band") else "")
    reasons["skin"] = (f"{r}: texture {v:.2f}x real skin at this face size (real faces "
                       f"{lo:.2f}-{hi:.2f}x){grain}") + (f"; {reasons['skin']}" if reasons.get("skin") else "")


def compute(ctx) -> MetricResult:
    """Skin family on an :class:`~lenscore.context.ImageContext` (thin adapter over measure_skin)."""
    p = PARAMS
    values = {o.name: float("nan") for o in OUTPUTS}
    reasons: dict[str, str] = {}
    H, W = ctx.height, ctx.width
    measured = ("skin.texture_energy", "skin.texture_vs_real", "skin.specular_fraction",
                "skin.mask_fraction", "skin.is_skin")

    user_mask = ctx.user_skin_mask
    if user_mask is not None:
        user_mask = np.asarray(user_mask)
        if user_mask.shape[:2] != (H, W):
            values["skin.face_found"] = 0.0
            reasons["skin"] = (f"the manifest's skin mask is {user_mask.shape[1]}x"
                               f"{user_mask.shape[0]} px but the image is {W}x{H}; "
                               "give a mask of the image's size")
            return MetricResult(values, reasons, {"face_source": None})
        user_mask = user_mask.astype(bool)
        if not user_mask.any():
            reasons["skin"] = "the manifest's skin mask is empty; ignored"
            user_mask = None

    face, detected, fbox = _pick_face(ctx)
    source = "face" if detected else ("subject_box" if face is not None else None)
    if not detected and user_mask is not None:
        ys, xs = np.nonzero(user_mask)
        side = float(xs.max() - xs.min() + 1)
        fbox = (float(xs.min()), float(ys.min()), side, side)
        face, source = face_from_box(fbox), "user_mask"
    values["skin.face_found"] = 1.0 if detected else 0.0
    if face is None:
        msg = "no face found" if min(H, W) >= 24 else f"no face found (image {W}x{H} is too small)"
        for n in measured + ("skin.face_width_px", "skin.iod_px"):
            reasons[n] = msg
        return MetricResult(values, reasons, {"face_source": None})
    iod = float(face.inter_ocular)
    values["skin.face_width_px"] = float(fbox[2])
    values["skin.iod_px"] = iod
    artifacts: dict[str, Any] = {"face_source": source,
                                 "face_box": tuple(int(round(v)) for v in fbox)}
    if iod < p.min_iod_px:
        msg = (f"face too small for skin texture (eyes {iod:.0f} px apart; needs >= "
               f"{p.min_iod_px:.0f} px, a face about {OVAL_PER_IOD * p.min_iod_px:.0f} px wide)")
        for n in measured:
            reasons[n] = msg
        return MetricResult(values, reasons, artifacts)
    if source == "subject_box":
        reasons["skin"] = "no face detected in the subject box; face estimated from the box"
    elif source == "user_mask":
        reasons["skin"] = "no face detected; skin mask from the manifest"

    key_uv, key_why = key_from_color(_color_result(ctx))
    res = measure_skin(ctx.rgb, face, key_uv=key_uv, user_mask=user_mask,
                       scene_linear=ctx.work_linear)
    values["skin.mask_fraction"] = res["mask_fraction"]
    if user_mask is not None:
        reasons["skin.mask_fraction"] = "skin mask given by the manifest"
    artifacts.update({"crop_box": res["crop_box"], "scale": 1.0 / res["k"], "mask": res["mask"],
                      "specular_mask": res["specular_mask"], "key_side": res["key_side"],
                      "bands": res["bands"], "key": res["key"], "colour": res["colour"],
                      "specular": res["specular"], "reading": None})
    res["key"]["source"] = key_why if key_uv is not None else None
    if res["reason"]:   # not enough skin: the specular share of it would not mean much either
        for n in ("skin.texture_energy", "skin.texture_vs_real", "skin.specular_fraction",
                  "skin.is_skin"):
            reasons[n] = res["reason"]
        return MetricResult(values, reasons, artifacts)
    values["skin.is_skin"] = res["is_skin"]
    if key_uv is None and math.isfinite(res["is_skin"]):
        reasons["skin.is_skin"] = (f"light estimated from the frame's average colour ({key_why})")
    if res["is_skin"] == 0.0:
        for n in ("skin.texture_energy", "skin.texture_vs_real", "skin.specular_fraction"):
            reasons[n] = res["skin_reason"]
        artifacts["reading"] = "not skin"
        values_tex = res["texture_energy"]
        artifacts["texture_if_skin"] = values_tex
        return MetricResult(values, reasons, artifacts)
    if not math.isfinite(res["is_skin"]):
        reasons["skin.is_skin"] = res["skin_reason"] or "not decided"
    values["skin.texture_energy"] = res["texture_energy"]
    values["skin.specular_fraction"] = res["specular_fraction"]
    _texture_values(values, reasons, artifacts, res, iod)
    sp = res["specular"]
    if sp.get("agrees") is False:
        reasons["skin.specular_fraction"] = (
            "the shine is not the key light's colour (it lies "
            f"{sp['off_line']:.3f} off the line from the skin's colour to the key's in u'v'): "
            "a painted or baked-in highlight?")
    return MetricResult(values, reasons, artifacts)


def _color_result(ctx) -> MetricResult | None:
    """The colour family's result, or None when it failed or is unavailable."""
    try:
        res = ctx.result("color")
    except Exception:  # noqa: BLE001  (a missing or broken colour family is a missing key)
        return None
    try:
        if not ctx.result_ok("color"):
            return None
    except Exception:  # noqa: BLE001
        pass
    return res


def explain(result: MetricResult) -> str:
    """One sentence on why this image's skin scored as it did."""
    v = result.values
    art = result.artifacts or {}
    e = v.get("skin.texture_energy", math.nan)
    rel = v.get("skin.texture_vs_real", math.nan)
    if v.get("skin.is_skin") == 0.0:
        why = (result.reasons.get("skin.texture_energy") or "not skin").replace("not skin: ", "")
        return f"not skin: {why}"
    if not math.isfinite(e):
        r = (result.reasons.get("skin.texture_energy") or result.reasons.get("skin")
             or "not measured")
        return f"skin not measured: {r}"
    rd = art.get("reading")
    sp = v.get("skin.specular_fraction", math.nan)
    shine = (f"; {100 * sp:.0f} % of the key side shines" if math.isfinite(sp) and sp >= 0.005
             else "; matte on the key side" if math.isfinite(sp) else "")
    if math.isfinite(rel) and rd:
        what = {"plastic": "plastic skin (smoother than real, unretouched skin)",
                "natural": "natural skin texture",
                "over-sharpened or grain": "more texture than real skin (over-sharpened or "
                                           "grain)"}[rd]
        return f"skin texture {e:.2f} % = {rel:.2f}x real skin at this face size: {what}{shine}"
    return f"skin texture {e:.2f} % contrast{shine}"


# ---------------------------------------------------------------------------------------------
# Validation against ground truth: London faces under any light, statues, the renderer
# ---------------------------------------------------------------------------------------------
#: keys the London faces are lit by (K); 6500 K is the studio's own light, the neutral reading.
VAL_KEYS = (2000.0, 2700.0, 3200.0, 4000.0, 5000.0, 8000.0, 10000.0)
VAL_KEYS_QUICK = (2000.0, 10000.0)
#: tinted fills: (key K, fill K, fill Duv, fill share) with the key from one side.
VAL_FILLS = ((3200.0, 9000.0, 0.02, 0.5), (5600.0, 2400.0, -0.015, 0.5))
#: Gaussian ladder (sigma, normalised px) and bilateral ladder (sigma_space normalised px,
#: sigma_colour), applied to the sRGB image around the face (a retouch after the photograph).
GAUSS_LADDER = (0.5, 1.0, 1.5, 2.0, 3.0)
BILATERAL_LADDER = ((1.0, 0.03), (1.5, 0.06), (2.5, 0.10), (4.0, 0.15))
NOISE_LEVELS = (0.01, 0.02, 0.03)


def _group(g: str) -> str:
    return str(g).split("/")[0]


def _retouch(rgb: np.ndarray, box, kind: str, step, k: float) -> np.ndarray:
    """The image with a Gaussian or bilateral filter applied inside ``box`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    out = rgb.copy()
    roi = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    if kind == "gauss":
        out[y0:y1, x0:x1] = cv2.GaussianBlur(roi, (0, 0), float(step) * k)
    else:
        ss, sc = step
        d = int(2 * round(2.0 * ss * k) + 1)
        out[y0:y1, x0:x1] = cv2.bilateralFilter(roi, d, float(sc), float(ss) * k)
    return out


def _score(rgb: np.ndarray, color: MetricResult | None = None) -> dict:
    """The skin family on the production path (faces, regions, mask, texture from ``rgb``); the
    colour family runs too unless its result on the same scene is given."""
    from lenscore.context import ImageContext

    ctx = ImageContext(np.clip(rgb, 0.0, 1.0).astype(np.float32))
    if color is not None:
        ctx.provide("color", color)
    res = compute(ctx)
    v = dict(res.values)
    v["reading"] = res.artifacts.get("reading")
    v["_jpeg_grid"] = (res.artifacts.get("bands") or {}).get("jpeg_grid", math.nan)
    v["_color"] = ctx.result("color") if color is None else color
    return v


def _fill_composite(person, kw: dict, key: float, fill: float, duv: float, share: float,
                    rng: np.random.Generator) -> np.ndarray:
    """A London composite lit by a key from one side and a tinted fill from the other (linear
    light: the person under the studio light times a per-pixel mix of the two lights' colours)."""
    from lenscore.datasets import london
    from lenscore.datasets.synthetic import light_linear_rgb

    base, truth = london.compose(person, key_kelvin=london.STUDIO_KELVIN,
                                 **{**kw, "noise_sigma": 0.0})
    lin = imaging.srgb_to_linear(base)
    g6 = light_linear_rgb(london.STUDIO_KELVIN)
    gk = london.key_gain(key)
    gf = light_linear_rgb(fill, duv) / g6
    gf = gf / float(gf @ imaging.REC709)
    fx, fy, fw, fh = truth["face_box"]
    x = (np.arange(lin.shape[1], dtype=np.float32) - (fx + fw / 2)) / (0.6 * fw)
    w = np.clip(0.5 - x, 0.0, 1.0)[None, :, None]           # key from the image left
    mix = w * gk + share * (1.0 - 0.5 * w) * gf
    mix = mix / float(np.max(mix @ imaging.REC709) or 1.0)
    out = imaging.linear_to_srgb(lin * mix * float(kw.get("exposure") or 1.0) / float(np.max(gk)) * 0.85)
    return np.clip(out + rng.normal(0, 0.003, out.shape).astype(np.float32), 0, 1)


def _london_case(args) -> dict:
    """Every London check for one face: keys, fills, ladders, noise, half resolution, marble."""
    import dataclasses as dc

    from lenscore.datasets import london

    face_id, quick, seed = args
    person = london.load_face(face_id)
    rng = np.random.default_rng([int(seed), int(face_id)])
    n = int(face_id)
    kw = dict(frame=(1024, 1024), face_width_frac=0.25 if quick else float(rng.uniform(0.16, 0.32)),
              roll_deg=float((0.0, 0.0, 15.0, -15.0)[n % 4]), background=("texture", "plain", "bokeh")[n % 3],
              seed=int(seed) * 1000 + n, center_x_frac=float(rng.uniform(0.4, 0.6)))
    scale = float(rng.uniform(0.75, 0.95))
    keys = VAL_KEYS_QUICK if quick else VAL_KEYS

    def lit(key: float, **extra) -> tuple[np.ndarray, dict]:
        ex = scale * min(1.0, 1.0 / float(np.max(london.key_gain(key))))   # no channel clips
        return london.compose(person, key_kelvin=key, exposure=ex, **{**kw, **extra})

    out: dict[str, Any] = {"face_id": face_id, "group": _group(person.group), "keys": {},
                           "fills": [], "ladders": {}, "noise": {}, "half": math.nan}
    neutral, truth = lit(london.STUDIO_KELVIN)
    fx, fy, fw, fh = truth["face_box"]
    iod = float(np.hypot(*(truth["eyes"][1] - truth["eyes"][0])))
    kk = iod / PARAMS.iod_px
    m = 0.25 * fw
    H, W = neutral.shape[:2]
    box = (max(0, int(fx - m)), max(0, int(fy - m)), min(W, int(fx + fw + m)), min(H, int(fy + fh + m)))
    v0 = _score(neutral)
    out["neutral"] = {"texture": v0["skin.texture_energy"], "vs_real": v0["skin.texture_vs_real"],
                      "is_skin": v0["skin.is_skin"], "reading": v0["reading"]}
    ladder_keys = (london.STUDIO_KELVIN,) + (keys[:1] if quick else keys)
    images = {london.STUDIO_KELVIN: (neutral, v0)}
    for key in keys:
        img, _ = lit(key)
        v = _score(img)
        images[key] = (img, v)
        out["keys"][key] = {"ratio": v["skin.texture_energy"] / v0["skin.texture_energy"],
                            "is_skin": v["skin.is_skin"]}
    for key, fill, duv, share in (VAL_FILLS[:1] if quick else VAL_FILLS):
        img = _fill_composite(person, {**kw, "exposure": scale}, key, fill, duv, share, rng)
        v = _score(img)
        out["fills"].append({"ratio": v["skin.texture_energy"] / v0["skin.texture_energy"],
                             "is_skin": v["skin.is_skin"]})
    gl = GAUSS_LADDER[::2] if quick else GAUSS_LADDER
    bl = BILATERAL_LADDER[::2] if quick else BILATERAL_LADDER
    for key in ladder_keys:
        img, v = images[key]
        col = v["_color"]
        for kind, steps in (("gauss", gl), ("bilateral", bl)):
            e = [v["skin.texture_energy"]] + [
                _score(_retouch(img, box, kind, st, kk), col)["skin.texture_energy"] for st in steps]
            out["ladders"][(kind, key)] = e
    # sensor noise on the natural face and on the smoothed one
    e0 = v0["skin.texture_energy"]
    e1 = out["ladders"][("gauss", london.STUDIO_KELVIN)][1]
    plastic = _retouch(neutral, box, "gauss", GAUSS_LADDER[-1], kk)
    for s in (NOISE_LEVELS[1:2] if quick else NOISE_LEVELS):
        noise = rng.normal(0, s, neutral.shape).astype(np.float32)
        en = _score(neutral + noise, v0["_color"])["skin.texture_energy"]
        ep = _score(plastic + noise, v0["_color"])["skin.texture_energy"]
        out["noise"][s] = {"rise": en - e0, "step": e0 - e1, "plastic": ep, "first_step": e1}
    half = cv2.resize(neutral, (W // 2, H // 2), interpolation=cv2.INTER_AREA)
    out["half"] = _score(half, v0["_color"])["skin.texture_energy"] / e0
    # a marble statue of the same face: grey, smoothed, a cream tint, under a warm and a neutral key
    g = cv2.bilateralFilter(np.ascontiguousarray(person.rgb @ imaging.REC709), -1, 0.08, 6)
    marble = dc.replace(person, rgb=np.clip(np.stack([g, g * 0.99, g * 0.96], -1), 0, 1).astype(np.float32))
    painted = dc.replace(person, rgb=np.ascontiguousarray(person.rgb[..., ::-1]))   # blue paint
    out["not_skin"] = []
    cases = [("marble", marble, 2700.0), ("marble", marble, 6500.0), ("blue paint", painted, 5000.0)]
    if quick:
        cases = [cases[0], cases[2 if n % 2 else 1]]
    for what, who, key in cases:
        img, _ = london.compose(who, key_kelvin=key, exposure=0.8, **kw)
        out["not_skin"].append((f"{what} {face_id} at {key:.0f} K", _score(img)["skin.is_skin"]))
    return out


def _ai_case(path: str) -> dict:
    from lenscore.datasets.decode import decode_image

    v = _score(decode_image(path).rgb)
    return {"path": path, "texture": v["skin.texture_energy"], "iod": v["skin.iod_px"],
            "vs_real": v["skin.texture_vs_real"], "reading": v["reading"]}


def _london_at_iod(args) -> float:
    """A London portrait downscaled so its IOD is ``iod``, scored (production path)."""
    from lenscore.context import ImageContext
    from lenscore.datasets import london

    face_id, iod = args
    rgb = london.load_face(face_id).rgb
    iod0 = ImageContext(rgb).faces[0].inter_ocular
    s = iod / iod0
    small = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    return _score(small)["skin.texture_energy"]


#: pore amplitudes and beauty-filter levels the renderer checks sweep
VAL_AMPS = (0.0, 0.05, 0.1, 0.15, 0.2)
VAL_LEVELS = (1, 2, 3, 5)
#: noise (std, fraction of white) and JPEG quality of each scene's "noise baked in by JPEG" copy
GRAIN_NOISE = (0.002, 0.03)
GRAIN_QUALITY = (70, 95)


def _render_case(spec) -> dict:
    """One random skin scene: the pore-amplitude sweep (smoothing 0) and the beauty-filter
    ladder (pores 0.1), each render scored; the colour family's result of the pores-0.1 render
    is reused for the others (the light does not change with the skin)."""
    from dataclasses import replace

    from lenscore.datasets.synthetic import render

    def one(sp, col=None):
        v = _score(render(sp).rgb, col)
        return {"texture": v["skin.texture_energy"], "vs_real": v["skin.texture_vs_real"],
                "reading": v["reading"], "iod": v["skin.iod_px"], "is_skin": v["skin.is_skin"],
                "jpeg_grid": v["_jpeg_grid"], "_color": v["_color"]}

    mid = one(replace(spec, pore_amplitude=0.1, smoothing=0))
    col = mid["_color"]
    amps = [mid if a == 0.1 else one(replace(spec, pore_amplitude=a, smoothing=0), col) for a in VAL_AMPS]
    lad = [mid] + [one(replace(spec, pore_amplitude=0.1, smoothing=lv), col) for lv in VAL_LEVELS]
    # the same scene with noise baked in by JPEG (noise 0.2-3 %, q70-95), without and with pores
    rng = np.random.default_rng([int(spec.seed), 5])
    cam = dict(noise_sigma=float(rng.uniform(*GRAIN_NOISE)), noise_shot=0.0,
               jpeg_quality=int(rng.integers(GRAIN_QUALITY[0], GRAIN_QUALITY[1] + 1)))
    grain = [one(replace(spec, pore_amplitude=a, smoothing=0, **cam), col) for a in (0.0, 0.1)]
    for r in amps + lad + grain:
        r.pop("_color", None)
    jpeg_noise = bool(spec.noise_sigma > 0 and spec.jpeg_quality is not None)
    return {"amps": amps, "ladder": lad, "grain_jpeg": jpeg_noise, "grain": grain, "iod": mid["iod"]}


def auc(pos, neg) -> float:
    """P(a positive scores above a negative) + 0.5 P(tie) (the Mann-Whitney AUC).

    Examples
    --------
    >>> auc([3, 4], [1, 2]), auc([1], [1])
    (1.0, 0.5)
    """
    pos = [x for x in pos if math.isfinite(x)]
    neg = [x for x in neg if math.isfinite(x)]
    if not pos or not neg:
        return math.nan
    return float(np.mean([(a > b) + 0.5 * (a == b) for a in pos for b in neg]))


def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """The skin checks (``lenscore validate``): real London faces composited under keys of
    2000-10000 K and tinted fills, smoothed by Gaussian and bilateral ladders, with sensor noise
    and at half resolution; statues and painted faces; real against generated portraits at the
    same face size; the renderer's pores and beauty-filter ladder against the real band. All on
    the production path (faces, regions and mask found by lenscore from the pixels)."""
    from dataclasses import replace

    from lenscore.datasets import london
    from lenscore.datasets.scenes import random_skin_scenes
    from lenscore.evaluator import validate as V
    from lenscore.evaluator.executors import parallel_map

    quick = plan.size <= 512
    checks: list[Check] = []
    C = V.Check

    def pct(ok: list[bool]) -> float:
        return 100.0 * float(np.mean(ok)) if ok else math.nan

    def per_group(rows, fn) -> str:
        g: dict[str, list[bool]] = {}
        for r in rows:
            g.setdefault(r["group"], []).extend(fn(r))
        return ", ".join(f"{k} {pct(v):.0f} % (n={len(v)})" for k, v in sorted(g.items()))

    # ---- the renderer: pores, the beauty-filter ladder and the real band ----------------------
    size = max(plan.size, 768)
    base = random_skin_scenes(8 if quick else 40, seed=11, size=size)
    rres = parallel_map(_render_case, base, jobs=jobs)
    ok = [r for r in rres if math.isfinite(r["iod"]) and all(math.isfinite(a["texture"]) for a in r["amps"])]
    clean = [r for r in ok if not r["grain_jpeg"]]
    grain = [r for r in ok if r["grain_jpeg"]]
    note = (f"{len(clean)} random skin scenes (keys 2000-10000 K, fills, white noise, JPEG; faces "
            f"with IOD >= {PARAMS.min_iod_px:.0f} px; {len(grain)} with noise baked in by JPEG "
            "counted apart)")
    mono_a = [all(a["texture"] < b["texture"] for a, b in zip(r["amps"], r["amps"][1:])) for r in clean]
    checks.append(C(F, "renderer: texture rises with pore amplitude 0-0.2 (share of scenes)", pct(mono_a),
                    ">= 95 %", bool(mono_a) and pct(mono_a) >= 95, note, unit="%"))
    mono_l = [bool(r["ladder"][0]["texture"] > r["ladder"][1]["texture"] > r["ladder"][2]["texture"]
                   and all(x["reading"] == "plastic" for x in r["ladder"][3:])) for r in clean]
    checks.append(C(F, "renderer: beauty levels 0-2 lower the texture, levels 3 and 5 read plastic",
                    pct(mono_l), ">= 90 %", bool(mono_l) and pct(mono_l) >= 90, note, unit="%"))
    nat = [r["amps"][2]["reading"] == "natural" for r in clean]
    checks.append(C(F, "renderer: pore amplitude 0.1 (the demo's optical skin) reads natural", pct(nat),
                    ">= 90 %", bool(nat) and pct(nat) >= 90,
                    "median " + (f"{np.median([r['amps'][2]['vs_real'] for r in clean]):.2f}x real; "
                                 if clean else "") + note, unit="%"))
    pla = [r["amps"][0]["reading"] == "plastic" for r in clean]
    checks.append(C(F, "renderer: no pores reads plastic", pct(pla), ">= 90 %",
                    bool(pla) and pct(pla) >= 90, note, unit="%"))
    # every scene again with noise baked in by JPEG (white noise then JPEG is not white noise)
    gr = [r["grain"] for r in rres if all(math.isfinite(g["texture"]) for g in r["grain"])]
    gnote = (f"{len(gr)} scenes, each again with noise {100 * GRAIN_NOISE[0]:.1f}-{100 * GRAIN_NOISE[1]:.0f} % "
             f"then JPEG q{GRAIN_QUALITY[0]}-{GRAIN_QUALITY[1]}; ")
    gp = [g[0]["reading"] == "plastic" for g in gr]
    checks.append(C(F, "renderer: noise baked in by JPEG, no pores, reads plastic", pct(gp),
                    ">= 90 %", bool(gp) and pct(gp) >= 90, gnote + "JPEG's grid found on "
                    f"{sum(g[0]['jpeg_grid'] >= imaging.JPEG_GRID_MIN for g in gr)} (its noise then "
                    "measured in the band on the frame's flat areas; else the white-noise floor)",
                    unit="%"))
    gn = [g[1]["reading"] == "natural" for g in gr]
    checks.append(C(F, "renderer: noise baked in by JPEG, pores 0.1, still reads natural", pct(gn),
                    ">= 90 %", bool(gn) and pct(gn) >= 90, gnote + "the noise floor must not "
                    "remove the pores", unit="%"))
    if not london.available():
        checks.append(C(F, "London faces under any light", math.nan, "present", None,
                        "../shared/data/portraits-london not present"))
        return checks

    # ---- London faces under any light --------------------------------------------------------
    ids = london.face_ids()
    if quick:   # one face per ethnicity group
        by_group: dict[str, str] = {}
        info = london._read_info(london.london_dir())
        for i in ids:
            by_group.setdefault(_group(info.get(i, {}).get("face_eth", "unknown")), i)
        ids = list(by_group.values())
    rows = parallel_map(_london_case, [(i, quick, 17) for i in ids], jobs=jobs)
    inv = [abs(r["keys"][k]["ratio"] - 1) <= 0.15 for r in rows for k in r["keys"]]
    inv += [abs(f["ratio"] - 1) <= 0.15 for r in rows for f in r["fills"]]
    checks.append(C(F, "London: texture within 15 % of the neutral reading under 2000-10000 K keys "
                       "and tinted fills", pct(inv), ">= 90 %", bool(inv) and pct(inv) >= 90,
                    f"{len(inv)} images, {len(rows)} faces; per group: " + per_group(
                        rows, lambda r: [abs(r['keys'][k]['ratio'] - 1) <= 0.15 for k in r['keys']]
                        + [abs(f['ratio'] - 1) <= 0.15 for f in r['fills']]), unit="%"))
    worst = max((abs(r["keys"][k]["ratio"] - 1) for r in rows for k in r["keys"]
                 if math.isfinite(r["keys"][k]["ratio"])), default=math.nan)
    for kind, label in (("gauss", "Gaussian"), ("bilateral", "bilateral")):
        by_key: dict[float, list[bool]] = {}
        for r in rows:
            for (kd, key), e in r["ladders"].items():
                if kd == kind:
                    by_key.setdefault(key, []).append(
                        bool(all(math.isfinite(x) for x in e) and all(a > b for a, b in zip(e, e[1:]))))
        worst_key = min((pct(v) for v in by_key.values()), default=math.nan)
        checks.append(C(F, f"London: {label} ladder lowers the texture at every step (worst key)",
                        worst_key, ">= 95 % under every key", bool(by_key) and worst_key >= 95,
                        ", ".join(f"{k:.0f} K {pct(v):.0f} %" for k, v in sorted(by_key.items()))
                        + f"; {len(rows)} faces; per group: " + per_group(rows, lambda r, kind=kind: [
                            bool(all(a > b for a, b in zip(e, e[1:])))
                            for (kd, _), e in r["ladders"].items() if kd == kind]), unit="%"))
    nz = [n["rise"] < n["step"] and n["plastic"] < n["first_step"] for r in rows for n in r["noise"].values()]
    checks.append(C(F, "London: sensor noise 1-3 % reads as less than one ladder step", pct(nz),
                    ">= 90 %", bool(nz) and pct(nz) >= 90,
                    f"{len(nz)} images (noise {', '.join(f'{100 * s:.0f} %' for s in (NOISE_LEVELS[1:2] if quick else NOISE_LEVELS))}; "
                    "rise on the natural face < its first Gaussian step, and the smoothed face with "
                    "noise stays below that step); per group: " + per_group(
                        rows, lambda r: [n["rise"] < n["step"] and n["plastic"] < n["first_step"]
                                         for n in r["noise"].values()]), unit="%"))
    hr = [abs(r["half"] - 1) for r in rows if math.isfinite(r["half"])]
    okh = [x <= 0.15 for x in hr]
    checks.append(C(F, "London: half resolution within 15 % (share of faces)", pct(okh), ">= 90 %",
                    bool(okh) and pct(okh) >= 90, f"{len(hr)} faces, median |diff| "
                    f"{100 * float(np.median(hr)) if hr else math.nan:.1f} %, worst "
                    f"{100 * max(hr) if hr else math.nan:.1f} %", unit="%"))
    real_nat = [r["neutral"]["reading"] == "natural" for r in rows]
    checks.append(C(F, "London: real faces read natural (every group)", min(
        (pct([r["neutral"]["reading"] == "natural" for r in rows if r["group"] == g])
         for g in {r["group"] for r in rows}), default=math.nan), ">= 90 % in every group",
        bool(real_nat) and all(pct([r["neutral"]["reading"] == "natural" for r in rows if r["group"] == g]) >= 90
                               for g in {r["group"] for r in rows}),
        "per group: " + per_group(rows, lambda r: [r["neutral"]["reading"] == "natural"]), unit="%"))
    false_ns = [r["keys"][k]["is_skin"] == 0.0 for r in rows for k in r["keys"]]
    false_ns += [r["neutral"]["is_skin"] == 0.0 for r in rows]
    checks.append(C(F, "London: real skin read as not skin (any key)", pct(false_ns), "<= 3 %",
                    bool(false_ns) and pct(false_ns) <= 3, f"{len(false_ns)} images; undecided "
                    f"{sum(not math.isfinite(r['keys'][k]['is_skin']) for r in rows for k in r['keys'])}",
                    unit="%"))
    # ---- not skin: statues, painted faces ----------------------------------------------------
    ns = [(name, v) for r in rows for name, v in r["not_skin"]]
    from lenscore.datasets.decode import decode_image

    bust = london.london_dir().parent / "comfyui-png" / "hypernetwork_example_output.png"
    if bust.is_file():
        ns.append(("ComfyUI marble bust", _score(decode_image(bust).rgb)["skin.is_skin"]))
    hit = [v == 0.0 for _, v in ns]
    checks.append(C(F, "statues and painted faces read not skin", pct(hit), ">= 90 %",
                    bool(hit) and pct(hit) >= 90,
                    "missed: " + (", ".join(n for n, v in ns if v != 0.0) or "none") + f"; {len(ns)} images",
                    unit="%"))
    # ---- real against AI at the same face size -----------------------------------------------
    ai_dir = london.london_dir().parent / "ai-portraits"
    ai = parallel_map(_ai_case, [str(p) for p in sorted(ai_dir.glob("*.jpg"))], jobs=jobs) \
        if ai_dir.is_dir() else []
    ai = [a for a in ai if math.isfinite(a["texture"])]
    if ai:
        if quick:   # the reference's real faces at each AI portrait's IOD
            ref = reference()
            pairs = []
            for a in ai:
                reals = _reference_faces_at(ref, a["iod"])
                pairs += [(x, a["texture"]) for x in reals]
        else:
            jobs_ = [(i, a["iod"]) for a in ai for i in london.face_ids()]
            vals = parallel_map(_london_at_iod, jobs_, jobs=jobs)
            nf = len(london.face_ids())
            pairs = [(vals[j * nf + i], a["texture"]) for j, a in enumerate(ai) for i in range(nf)]
        ok_pairs = [(x, y) for x, y in pairs if math.isfinite(x) and math.isfinite(y)]
        a_uc = float(np.mean([(x > y) + 0.5 * (x == y) for x, y in ok_pairs])) if ok_pairs else math.nan
        checks.append(C(F, "real London skin above generated portraits at the same face size (AUC)",
                        a_uc, ">= 0.8", bool(math.isfinite(a_uc) and a_uc >= 0.8),
                        f"{len(ai)} generated portraits x {len(ok_pairs) // max(1, len(ai))} real faces "
                        f"({'reference values' if quick else 'downscaled, production path'}); generated "
                        "read " + ", ".join(f"{Path_name(a['path'])} {a['vs_real']:.2f}x ({a['reading']})"
                                            for a in ai)))
    return checks


def Path_name(p: str) -> str:
    return str(p).replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _reference_faces_at(ref: Mapping, iod: float) -> list[float]:
    """Each reference face's texture at an IOD, interpolated in log IOD between its scales."""
    scales = sorted(ref.get("scales") or [], key=lambda s: s["iod_px"])
    out = []
    for f in ref.get("faces", []):
        pts = [(s["iod_px"], f["texture_energy"].get(s["key"])) for s in scales]
        pts = [(x, y) for x, y in pts if y is not None and math.isfinite(y) and y > 0]
        if not pts:
            continue
        xs = np.log([x for x, _ in pts])
        ys = np.log([y for _, y in pts])
        out.append(float(np.exp(np.interp(math.log(iod), xs, ys))))
    return out


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def _zoom(img_full: np.ndarray, result: MetricResult, long_side: int) -> np.ndarray | None:
    """Zoom on the analysed face cut from the full-resolution uint8 image: skin tinted (key
    side stronger), specular pixels yellow, the reading and a legend. None without a crop box."""
    from lenscore import drawing as dr

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
    pad = int(0.15 * max(cw, ch))
    x0, y0 = max(0, cx - pad), max(0, cy - pad)
    x1, y1 = min(W, cx + cw + pad), min(H, cy + ch + pad)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    zoom = dr.to_u8(img_full[y0:y1, x0:x1])
    s = long_side / max(zoom.shape[:2])
    zoom = cv2.resize(zoom, (max(1, round(zoom.shape[1] * s)), max(1, round(zoom.shape[0] * s))),
                      interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    out = zoom.copy()

    def place(mask: Any) -> np.ndarray | None:
        if mask is None or not np.size(mask) or np.asarray(mask).shape == (1, 1):
            return None
        m = np.asarray(mask).astype(np.uint8)
        w_, h_ = max(1, round(cw * s)), max(1, round(ch * s))
        m = cv2.resize(m, (w_, h_), interpolation=cv2.INTER_NEAREST).astype(bool)
        full = np.zeros(out.shape[:2], bool)
        ox, oy = round((cx - x0) * s), round((cy - y0) * s)
        ys_, xs_ = slice(max(0, oy), min(full.shape[0], oy + h_)), \
            slice(max(0, ox), min(full.shape[1], ox + w_))
        full[ys_, xs_] = m[ys_.start - oy: ys_.stop - oy, xs_.start - ox: xs_.stop - ox]
        return full

    mask = place(art.get("mask"))
    side = place(art.get("key_side"))
    spec = place(art.get("specular_mask"))
    if mask is not None:
        tint = np.array(dr.MAGENTA, np.float32)
        key = mask & side if side is not None else mask
        out[mask] = np.clip(0.75 * out[mask].astype(np.float32) + 0.25 * tint, 0, 255).astype(np.uint8)
        out[key] = np.clip(0.55 * out[key].astype(np.float32) + 0.45 * tint, 0, 255).astype(np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, dr.MAGENTA, max(1, round(out.shape[1] / 450)), cv2.LINE_AA)
    if spec is not None:
        out[spec] = dr.YELLOW
    rd = art.get("reading")
    e, rel = vals.get("skin.texture_energy"), vals.get("skin.texture_vs_real")
    if rd == "not skin":
        line1 = "skin: NOT SKIN (" + (dr.reason(result, "skin.texture_energy").replace("not skin: ", "")[:60]) + ")"
    elif dr.finite(e):
        line1 = (f"skin: {rd or 'texture'}: {dr.fmt(e)} % contrast"
                 + (f" = {dr.fmt(rel)}x real skin" if dr.finite(rel) else ""))
    else:
        line1 = "skin: " + (dr.reason(result, "skin.texture_energy") or "not measured")
    line2 = (f"magenta = skin measured (darker: key side), yellow = shine "
             f"{dr.fmt(vals.get('skin.specular_fraction'), '.3f')} of the key side")
    return dr.banner(out, [line1, line2])


def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: a zoom on the analysed face (:func:`_zoom`), or the thumbnail with the
    reason when no face was analysed."""
    from lenscore import drawing as dr

    z = _zoom(dr.to_u8(rgb), result, long_side)
    if z is not None:
        return z
    thumb, _ = dr.thumbnail(rgb, long_side)
    return dr.banner(thumb.copy(), ["skin: " + (dr.reason(result, "skin.texture_energy") or
                                                 "no face found")])


FAMILY = register(MetricFamily(
    name=F, version="4",
    method=("Cheeks, forehead and nose bridge from the Face Mesh landmarks, scaled to an "
            "inter-ocular distance of 80 px; skin = luma floor AND log-chromaticity near the "
            "face's own (the same under any light); texture = RMS band-limited contrast "
            "(Peli 1990; DoG at IOD/12) of the face normalised to a canonical skin colour "
            "(von Kries), minus the exact white-noise floor (Immerkaer 1996), median over the "
            "regions; against 32 real London Set faces at the same IOD; not skin = too grey "
            "or off-hue under the key light (colour family, else the face's highlights, "
            "Lee 1986); shine = bright, whiter-than-skin pixels on the key side."),
    outputs=OUTPUTS, compute=compute, params=PARAMS, requires=("color",),
    title="Skin texture", headline=("skin.texture_vs_real", "skin.texture_energy"), order=40,
    explain=explain, draw=draw, validate=validate))
