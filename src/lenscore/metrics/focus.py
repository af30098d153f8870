"""Focus: is there a real focus plane, with the subject on it?

Two measurements on the fixed working copy (``ctx.work_gray``, long side 768 px, so a 768 px and
a 1536 px render of one scene are measured alike).

1. **Tile sharpness** (the baseline the design names): the variance of the Laplacian
   (4-neighbour kernel ``[[0,1,0],[1,-4,1],[0,1,0]]``; Pech-Pacheco et al. 2000, "Diatom
   autofocusing in brightfield microscopy: a comparative study"; Pertuz et al. 2013, "Analysis
   of focus measure operators for shape-from-focus") over square tiles of ``PARAMS.tile_px`` (32)
   working px, at each of ``PARAMS.pyramid_levels`` (4) levels of a Gaussian pyramid (768, 384, 192,
   96 px; Burt & Adelson 1983), combined per tile by the geometric mean over the levels. One
   scale is not enough: defocus removes the finest scale first, so a single-scale Laplacian
   stops falling once the blur disc passes ~6 px; with four levels the measure keeps falling up
   to discs of ~50 px (it is what keeps ``separation`` monotonic in the aperture).

   Noise: white noise of std sigma_n adds ``g_l * sigma_n^2`` to the variance at level l
   (``g_0 = sum(k^2) = 20``; :func:`laplacian_noise_gain` for the filtered levels); that share
   is removed and the result floored at ``SHARPNESS_FLOOR``, 1 gray level^2 (8-bit rounding
   alone gives 20/12, so less is "no detail"; a featureless backdrop reads 1). sigma_n is
   Immerkaer's (1996) estimator ("Fast noise variance estimation") made robust to texture: the
   whole-frame estimate (``ctx.noise_sigma``) reads fine detail as noise (on the sharp real
   photos in ../shared/data it comes out 3-7x the noise of their flat areas), so the lower of
   ``ctx.noise_sigma`` and the ``PARAMS.noise_tile_quantile`` (0.1) quantile of per-tile Immerkaer
   estimates is used (tiles with mean gray in 0.05..0.95, i.e. not clipped): flat tiles show
   the noise alone. (Images smaller than 768 px are upscaled into the working copy; their noise
   is then no longer white and is under-corrected.)

   Region statistics (chosen, not fitted): the **subject** is the ``PARAMS.subject_quantile`` (0.9)
   quantile of the tiles at least half inside the subject box: a loose head-and-shoulders box
   also holds background and smooth cheeks, and a sharp subject shows in its most detailed tiles
   (eyes, hair, fabric). The **background** is the median of the tiles at least half outside
   it, robust to the subject spilling out of the box and to bokeh orbs, whose rims are sharp.
   The asymmetry has a cost: an all-in-focus frame scores a positive separation too (log10 of
   the p90/p50 ratio of its tile sharpness: 0.6-0.7 on a dead-leaves texture, more where the
   background is a plain wall). The same upper quantile on both sides was tried and rejected:
   orb rims and spilled subject then make the background look sharper as the aperture opens.
   The whole-frame ``sharpness`` is the ``PARAMS.frame_quantile`` (0.9) quantile of all tiles.

   Unit: 8-bit gray levels squared (at level 0 alone this is the number of the classic
   ``cv2.Laplacian(gray_u8, cv2.CV_64F).var()`` blur check on the working copy).

2. **Background blur-disc diameter** (the stronger estimate): the gradient ratio after re-blur,
   Zhuo & Sim 2011 ("Defocus map estimation from a single image", Pattern Recognition 44(9)),
   reimplemented from the paper. At an edge blurred by a Gaussian of sigma, re-blurring with a
   Gaussian sigma0 lowers the gradient peak by ``R = sqrt(sigma^2 + sigma0^2) / sigma``, so
   ``sigma = sigma0 / sqrt(R^2 - 1)``. Generalised here:

   * the gradient is taken after a small Gaussian (``PARAMS.edge_sigma``, 1 px) and compared with the
     gradient after two re-blurs (``PARAMS.reblur_sigmas``, 3 and 6 px); the noise's share of each
     squared gradient is removed first;
   * the ratio is converted with a calibration table made by running this very pipeline on
     straight edges blurred by an ideal uniform disc of known diameter c (closed-form edge-spread
     function, pixel-integrated; :func:`disc_calibration`), so the answer is a lens's blur-disc
     diameter directly and the pipeline's discretisation cancels (a Gaussian blur of sigma reads
     as the disc with the same edge slope, c ~ 3.2 sigma; ``lenscore.datasets.synthetic``'s
     "gaussian" aperture uses c = 4 sigma, the equal-second-moment convention);
   * an edge pixel counts only when three estimates agree (within ``PARAMS.consistency_tol``): the two
     re-blurs and the contrast width (rise across the edge / gradient peak, cf. Marziliano et
     al. 2002); interfering edges (fine texture, thin lines) disagree and are dropped;
   * edges of highlights (:func:`highlight_mask`: linear luminance > 2.5x its local mean) are
     dropped: the image of a point light through a defocused lens is the aperture itself, and a
     bokeh orb's hard rim would read as a sharp edge (the bokeh family measures orbs);
   * the answer is the ``PARAMS.blur_quantile`` (0.75) quantile of the counted pixels, not the median:
     no edge is wider than the blur, and an object smaller than the blur disc leaves an edge only
     as wide as itself, so the true diameter sits in the upper part of the distribution;
   * coarse to fine (:func:`estimate_background_blur`): when the working scale reads 10 px or
     more (or nothing), the estimate is repeated on the half- and quarter-resolution copies,
     whose re-blurs match a large disc and whose gradients are not the one-gray-level steps a
     wide blur leaves in an 8-bit image; a coarse answer of 16 px or more replaces the fine one.

   Edges: Canny on a half-resolution copy with thresholds ``PARAMS.edge_noise_factor`` (6) gradient-noise
   stds up (and at least ``PARAMS.min_edge_gradient`` per px), each refined to the full-resolution pixel
   of largest gradient along its normal; only background pixels at least ``PARAMS.edge_margin_px`` (12)
   working px from the subject box and the frame count (at most ``PARAMS.max_edge_samples``, an evenly
   spread subsample). The diameter is converted from working px to original-image px.

   Validated (tests/test_focus.py, and scratch sweeps over renderer seeds 0-5 at 768 px, float
   and 8-bit): within 5 % on isolated straight edges (c = 0-45 px); within 20 % on a
   disc-blurred dead-leaves background for c = 6-24 px at 1024 px width; on the thin-lens
   renderer's night-city backgrounds within 17 % for blur discs up to 2.6 % of the width
   (f/16-f/2.8), but reading low beyond that when few background objects are larger than the
   disc (f/2, 3.6 %: 0.72-0.96 of the truth; f/1.4, 5.2 %: 0.60-1.04): then it is a lower bound.

Outputs (see ``OUTPUTS``): ``focus.sharpness``, ``focus.subject_sharpness``,
``focus.background_sharpness``, ``focus.separation`` (log10 subject / background),
``focus.background_blur_px`` (original px), ``focus.background_blur_frac`` (diameter / width).

Artifacts (``MetricResult.artifacts``), coordinates in full-resolution px:

* ``sharpness_map_log10``: float32 (ny, nx), log10 of tile sharpness (gray levels^2, floored);
* ``tile_edges_x``, ``tile_edges_y``: float arrays (nx+1,), (ny+1,): tile borders, full-res px;
* ``tile_px``: tile size in working px; ``work_scale``: working px per full-res px;
* ``subject_box``: (x, y, w, h) full-res px; ``subject_source``: 'user' | 'face' | 'fallback';
* ``subject_tiles``, ``background_tiles``: bool (ny, nx) masks of the tiles each region used;
* ``background_edge_points``: float32 (N, 3) rows (x, y, diameter_px) in full-res px of the edge
  pixels the blur estimate used, subsampled to at most ``PARAMS.max_edge_points``;
* ``blur_scale``: 1, 2 or 4: the working copy, or its half/quarter-resolution copy, the blur
  estimate came from;
* ``noise_sigma``: the noise std used for the correction ([0, 1] gray units, working copy).

References
----------
.. [1] J. L. Pech-Pacheco, G. Cristobal, J. Chamorro-Martinez, J. Fernandez-Valdivia,
   "Diatom autofocusing in brightfield microscopy: a comparative study", ICPR 2000.
   https://doi.org/10.1109/ICPR.2000.903548
.. [2] S. Pertuz, D. Puig, M. A. Garcia, "Analysis of focus measure operators for
   shape-from-focus", Pattern Recognition 46(5), 2013. https://doi.org/10.1016/j.patcog.2012.11.011
.. [3] S. Zhuo, T. Sim, "Defocus map estimation from a single image", Pattern Recognition
   44(9), 2011. https://doi.org/10.1016/j.patcog.2011.03.009
.. [4] J. Immerkaer, "Fast noise variance estimation", CVIU 64(2), 1996.
   https://doi.org/10.1006/cviu.1996.0060
.. [5] P. Burt, E. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
   Communications 31(4), 1983. https://doi.org/10.1109/TCOM.1983.1095851
.. [6] P. Marziliano, F. Dufaux, S. Winkler, T. Ebrahimi, "A no-reference perceptual blur
   metric", ICIP 2002. https://doi.org/10.1109/ICIP.2002.1038902
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np

from lenscore.imaging import immerkaer_response
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.evaluator.validate import Check, Plan


@dataclass(frozen=True)
class FocusParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``)."""

    #: tile side, working px (768 px long side -> 24 tiles).
    tile_px: int = 32
    #: quantile of subject tiles taken as the subject's sharpness (its most detailed tenth).
    subject_quantile: float = 0.9
    #: quantile of background tiles taken as the background's sharpness (median).
    background_quantile: float = 0.5
    #: quantile of all tiles taken as the whole frame's sharpness.
    frame_quantile: float = 0.9
    #: a tile belongs to a region when at least this fraction of it lies inside.
    tile_min_fraction: float = 0.5
    #: floor of the noise-corrected Laplacian variance, 8-bit gray levels^2. 8-bit rounding
    #: alone gives 20/12 = 1.7 gray levels^2, so less than that is "no detail".
    sharpness_floor_gray2: float = 1.0
    #: quantile of per-tile Immerkaer estimates taken as the noise level.
    noise_tile_quantile: float = 0.1
    #: Gaussian applied before the edge gradient, working px.
    edge_sigma: float = 1.0
    #: the two re-blur scales (total Gaussian sigma, working px).
    reblur_sigmas: tuple[float, ...] = (3.0, 6.0)
    #: an edge pixel's three diameter estimates (two re-blurs, contrast width) agree when
    #: max - min <= PARAMS.consistency_tol * max + PARAMS.consistency_slack_px.
    consistency_tol: float = 0.25
    #: Canny high threshold = max(PARAMS.edge_noise_factor * gradient noise std, PARAMS.min_edge_gradient).
    edge_noise_factor: float = 6.0
    min_edge_gradient: float = 0.004
    #: background edge pixels closer than this (working px) to the subject box or frame are ignored.
    edge_margin_px: int = 12
    #: fewer consistent background edge pixels than this -> no blur estimate.
    min_edge_pixels: int = 50
    #: quantile of the consistent edge pixels' diameters taken as the background blur.
    blur_quantile: float = 0.75
    #: highlight (bokeh orb, lamp): linear luminance above this times the local mean ...
    highlight_ratio: float = 2.5
    #: ... of this Gaussian scale (working px).
    highlight_sigma_px: float = 32.0
    #: a fine-scale blur estimate at least this large (working px), or none, triggers the coarse
    #: scale, whose answer is used when it is at least PARAMS.coarse_min_px.
    coarse_trigger_px: float = 10.0
    coarse_min_px: float = 16.0
    #: pyramid levels of the multi-scale Laplacian (768, 384, 192, 96 px).
    pyramid_levels: int = 4
    #: separation divides each region's sharpness by its mean gray level squared, floored here.
    brightness_floor: float = 0.05
    #: images smaller than this on either side are not measured.
    min_side_px: int = 32
    #: gray std below which the image is uniform (half an 8-bit gray level).
    uniform_std: float = 0.5 / 255.0
    #: ... (slack, working px).
    consistency_slack_px: float = 1.0
    #: largest diameter the calibration covers, working px (answers beyond are clipped to it).
    max_diameter_work_px: float = 96.0
    #: at most this many edge pixels are measured (an evenly spread subsample).
    max_edge_samples: int = 4000
    #: scales the blur estimate may use (1 = working copy only, 2 = and half resolution, ...).
    blur_levels: int = 3
    #: at most this many edge points in the artifacts.
    max_edge_points: int = 2000


PARAMS = FocusParams()

#: 8-bit gray levels squared per [0, 1]^2 unit.
GRAY_LEVELS2 = 255.0 ** 2
#: floor of the noise-corrected Laplacian variance, [0, 1]^2 units.
SHARPNESS_FLOOR = PARAMS.sharpness_floor_gray2 / GRAY_LEVELS2
#: binomial taps of cv2.pyrDown, and the std of white noise after it (per unit std before).
_PYR_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
_PYR_NOISE_GAIN = float((_PYR_TAPS ** 2).sum())


_SHARP_UNIT = ("Laplacian variance, 8-bit gray levels^2 (geometric mean over a 4-level pyramid "
               "of the 768 px working copy)")
OUTPUTS = (
    Output("focus.sharpness", _SHARP_UNIT, "neither", (1.0, math.inf),
           "Whole-frame sharpness: 90th percentile over 32 px tiles of the noise-corrected, "
           "multi-scale Laplacian variance (floor 1 = no detail). Depends on content as well as "
           "focus: compare versions of one scene."),
    Output("focus.subject_sharpness", _SHARP_UNIT, "neither", (1.0, math.inf),
           "Sharpness of the subject's most detailed tiles (90th percentile of the tiles inside "
           "the subject box: eyes, hair, fabric). Content-dependent, and over-sharpening also "
           "raises it, so it is descriptive."),
    Output("focus.background_sharpness", _SHARP_UNIT, "neither", (1.0, math.inf),
           "Median tile sharpness outside the subject box (same measure; 1 = no detail left)."),
    Output("focus.separation", "log10 ratio", "higher", (-4.0, 4.0),
           "log10(subject sharpness / background sharpness), noise-corrected and compared as "
           "contrast (each side divided by its mean gray level squared, so a dimmer or warmer "
           "key does not read as softer): > 0 means the "
           "subject is sharper than the background (1 = ten times). Content-dependent offset: "
           "an all-in-focus frame scores about 0.6 (subject's sharpest tiles vs the "
           "background's typical tile), so a real focus plane shows as clearly more than that."),
    Output("focus.background_blur_px", "px (original image)", "neither", (0.0, math.inf),
           "Blur-disc (circle of confusion) diameter of the background, in pixels of the "
           "original image: gradient ratio after re-blur at background edges (Zhuo & Sim 2011), "
           "calibrated on uniform-disc blur, upper quartile over the edges that measure "
           "consistently, coarse scales for large blur. Within 20 % up to ~2.6 % of the width; "
           "beyond, when the disc is wider than most background objects, it may read low (a "
           "lower bound). Larger = shallower depth of field; descriptive."),
    Output("focus.background_blur_frac", "fraction of image width", "neither", (0.0, 1.0),
           "background_blur_px / image width: the same blur, independent of resolution."),
)


# ---------------------------------------------------------------------------------------------
# Tiles and sharpness
# ---------------------------------------------------------------------------------------------
def tile_edges(n: int, tile: int) -> np.ndarray:
    """Borders (float px) of ``round(n / tile)`` (at least 1) equal tiles along ``n`` px."""
    k = max(1, int(round(n / tile)))
    return np.linspace(0.0, float(n), k + 1)


def tile_means(a: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """Mean of ``a`` (H, W) over each of ny x nx equal tiles (exact area weights at fractional
    borders: ``cv2.resize`` with ``INTER_AREA``), float64 (ny, nx)."""
    a = np.asarray(a)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    out = cv2.resize(a, (int(nx), int(ny)), interpolation=cv2.INTER_AREA)
    return out.reshape(int(ny), int(nx)).astype(np.float64)


def robust_noise_sigma(gray: np.ndarray, *, tile: int = PARAMS.tile_px,
                       quantile: float = PARAMS.noise_tile_quantile) -> float:
    """White-noise std of a gray image: a low quantile of per-tile Immerkaer (1996) estimates.

    Immerkaer's estimator ``sqrt(pi/2) / 6 * mean |I * M|``, ``M = [[1,-2,1],[-2,4,-2],[1,-2,1]]``
    is computed per tile; tiles whose mean is within 0.05..0.95 (not clipped, where noise is
    hidden) are kept and their ``quantile`` taken, so texture in the sharp parts of a frame does
    not read as noise. Returns NaN for images smaller than 3x3.
    """
    g = np.asarray(gray, dtype=np.float32)
    h, w = g.shape[:2]
    if h < 3 or w < 3:
        return float("nan")
    resp = immerkaer_response(g)
    ny, nx = tile_edges(h, tile).size - 1, tile_edges(w, tile).size - 1
    sig = tile_means(resp, ny, nx) * (math.sqrt(math.pi / 2.0) / 6.0)
    mean = tile_means(g, ny, nx)
    ok = (mean > 0.05) & (mean < 0.95)
    vals = sig[ok] if ok.any() else sig.ravel()
    return float(np.quantile(vals, quantile))


@functools.lru_cache(maxsize=8)
def laplacian_noise_gain(level: int) -> float:
    """Variance of the 4-neighbour Laplacian at pyramid level ``level`` per unit variance of
    white noise in the level-0 image: ``||K||^2`` with K the Laplacian (taps 2^level apart)
    convolved with the equivalent ``cv2.pyrDown`` filter (Burt & Adelson 1983). Level 0: 20."""
    b = np.array([1.0])
    for i in range(level):
        up = np.zeros(4 * 2 ** i + 1)
        up[:: 2 ** i] = _PYR_TAPS
        b = np.convolve(b, up)
    b2 = np.outer(b, b)
    s = 2 ** level
    k = np.pad(b2, s) * -4.0
    n = b2.shape[0]
    for dy, dx in ((0, s), (0, -s), (s, 0), (-s, 0)):
        k[s + dy:s + dy + n, s + dx:s + dx + n] += b2
    return float((k * k).sum())


def laplacian_variance_tiles(gray: np.ndarray, *, noise_sigma: float = 0.0, tile: int = PARAMS.tile_px,
                             levels: int = PARAMS.pyramid_levels, floor: float = SHARPNESS_FLOOR,
                             half: np.ndarray | None = None):
    """Noise-corrected variance of the Laplacian per tile, over a pyramid of scales, [0, 1]^2.

    At each level of a Gaussian pyramid (``cv2.pyrDown``, level 0 = ``gray``) the variance of
    the 4-neighbour Laplacian (Pech-Pacheco et al. 2000) over each tile, less the noise's share
    (:func:`laplacian_noise_gain` ``* noise_sigma^2``; 20 sigma^2 at level 0), floored at
    ``floor``; a tile's sharpness is the geometric mean over the levels. The tiles are the same
    ``tile``-px squares of ``gray`` at every level. Why several scales: defocus removes the finest
    scale first, so a single-scale Laplacian stops falling once the blur passes a few pixels;
    with levels 0..3 the measure keeps falling up to blur discs of ~50 px (of ``gray``).

    Returns
    -------
    (map, ye, xe): float64 (ny, nx) array and the tile borders along rows and columns.

    Examples
    --------
    >>> import numpy as np
    >>> m, ye, xe = laplacian_variance_tiles(np.full((64, 64), 0.5, np.float32))
    >>> m.shape, round(float(m.max()) * 255 ** 2, 6)
    ((2, 2), 1.0)
    """
    g = np.asarray(gray, dtype=np.float32)
    ye, xe = tile_edges(g.shape[0], tile), tile_edges(g.shape[1], tile)
    ny, nx = ye.size - 1, xe.size - 1
    ns2 = float(noise_sigma) ** 2 if np.isfinite(noise_sigma) else 0.0
    acc = np.zeros((ny, nx))
    used = 0
    img = g
    for level in range(max(1, int(levels))):
        if level > 0:
            if min(img.shape) < 6:
                break
            img = half if (level == 1 and half is not None) else cv2.pyrDown(img)
        lap = cv2.Laplacian(img, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
        mean = tile_means(lap, ny, nx)
        var = tile_means(cv2.multiply(lap, lap), ny, nx) - mean * mean
        acc += np.log10(np.maximum(var - laplacian_noise_gain(level) * ns2, floor))
        used += 1
    return 10.0 ** (acc / used), ye, xe


def region_quantile(tile_map: np.ndarray, fraction: np.ndarray, *, quantile: float,
                    min_fraction: float = PARAMS.tile_min_fraction,
                    allow_partial: bool = True) -> tuple[float, np.ndarray]:
    """Quantile of ``tile_map`` over the tiles at least ``min_fraction`` inside a region.

    ``fraction`` is each tile's share inside the region. When no tile reaches ``min_fraction``
    the tiles with any share are used if ``allow_partial`` (a subject smaller than a tile);
    otherwise, or with no share at all, returns NaN. Also returns the tiles used.
    """
    used = fraction >= min_fraction
    if not used.any() and allow_partial:
        used = fraction > 0
    if not used.any():
        return float("nan"), used
    return float(np.quantile(tile_map[used], quantile)), used


# ---------------------------------------------------------------------------------------------
# Background blur: gradient ratio after re-blur (Zhuo & Sim 2011), disc-calibrated
# ---------------------------------------------------------------------------------------------
def _gaussian_taps(sigma: float) -> np.ndarray:
    return cv2.getGaussianKernel(2 * int(math.ceil(4 * sigma)) + 1, sigma).ravel()


def _gradient_noise_std(noise_sigma: float, sigma: float) -> float:
    """Std of one gradient component (Gaussian ``sigma`` then central difference) under white
    noise of std ``noise_sigma``: ``noise_sigma * ||d (x) g||_2``."""
    return float(noise_sigma) * _gradient_noise_gain(float(sigma))


@functools.lru_cache(maxsize=16)
def _gradient_noise_gain(sigma: float) -> float:
    g = _gaussian_taps(sigma)
    d = np.convolve(g, [0.5, 0.0, -0.5])
    return math.sqrt(float((d * d).sum() * (g * g).sum()))


def _central_gradients(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=1, scale=0.5, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=1, scale=0.5, borderType=cv2.BORDER_REFLECT)
    return gx, gy


def _sample_bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``img`` at the (column u, row v) points, bilinear, edges replicated."""
    n = u.size
    cols = 1024  # cv2.remap wants maps narrower than 32767
    rows = max(1, -(-n // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n], my[:n] = u, v
    out = cv2.remap(img, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return out.ravel()[:n]


@dataclass
class EdgeSamples:
    """Edge pixels of an image and what the blur estimate needs at each (working px)."""

    ys: np.ndarray
    xs: np.ndarray
    #: noise-corrected gradient magnitude after the edge Gaussian.
    grad: np.ndarray
    #: unit gradient direction (toward the brighter side).
    nx: np.ndarray
    ny: np.ndarray
    #: (len(reblur_sigmas), N): gradient ratio after each re-blur.
    ratios: np.ndarray
    #: the image after the edge Gaussian (for the contrast samples).
    smoothed: np.ndarray = field(repr=False)

    def contrast_width(self, half_span: np.ndarray) -> np.ndarray:
        """Rise of the smoothed image across the edge, ``I(p + D n) - I(p - D n)``, over the
        gradient peak: the width of a ramp with the same rise and slope (Marziliano et al. 2002
        measure edge width; here it only checks the ratio estimate)."""
        ip = _sample_bilinear(self.smoothed, self.xs + half_span * self.nx,
                              self.ys + half_span * self.ny)
        im = _sample_bilinear(self.smoothed, self.xs - half_span * self.nx,
                              self.ys - half_span * self.ny)
        return (ip - im).astype(np.float64) / np.maximum(self.grad, 1e-12)


#: central difference of the pyrDown output, as a kernel on the input (taps 2 px apart).
_KX = 0.5 * (np.concatenate([_PYR_TAPS, np.zeros(4)]) - np.concatenate([np.zeros(4), _PYR_TAPS]))
_HALF_RES_GRADIENT_NOISE_GAIN = math.sqrt(float((_KX * _KX).sum() * (_PYR_TAPS ** 2).sum()))


def _half_res_gradient_noise_std(noise_sigma: float) -> float:
    """Std of one central-difference gradient component of ``cv2.pyrDown(I)`` (per half-res px)
    under white noise of std ``noise_sigma`` in I."""
    return float(noise_sigma) * _HALF_RES_GRADIENT_NOISE_GAIN


def edge_samples(gray: np.ndarray, *, noise_sigma: float = 0.0, edge_sigma: float = PARAMS.edge_sigma,
                 reblur_sigmas: tuple[float, ...] = PARAMS.reblur_sigmas,
                 region: np.ndarray | None = None, max_pixels: int = PARAMS.max_edge_samples,
                 half: np.ndarray | None = None,
                 region_half: np.ndarray | None = None) -> EdgeSamples:
    """Edge pixels and their gradient ratios after re-blur (Zhuo & Sim 2011, generalised).

    The gradient ``|grad G(edge_sigma) * I|`` at each edge pixel is divided by the gradient of
    ``G(s) * I`` for each ``s`` in ``reblur_sigmas``. The noise's share of each squared gradient
    (``2 sigma_g^2``, sigma_g the std of one gradient component under white noise of
    ``noise_sigma``) is removed first, so noise does not read as sharpness.

    For speed, edges are found by Canny on a half-resolution copy (``cv2.pyrDown``), and each is
    moved to the full-resolution pixel of largest gradient among the three along its gradient
    direction (a one-step non-maximum refinement); the re-blurs are computed at half resolution
    too (a re-blurred image is smooth, nothing is lost) and sampled bilinearly. The
    calibration (:func:`disc_calibration`) runs this same code, so these choices cancel.

    Parameters
    ----------
    gray : (H, W) float array in [0, 1]
    noise_sigma : float
        White-noise std; Canny's thresholds sit ``PARAMS.edge_noise_factor`` gradient-noise stds up
        (and at least ``PARAMS.min_edge_gradient`` per px).
    region : bool (H, W), optional
        Only edge pixels inside it are kept.
    max_pixels : int
        At most this many edge pixels (an evenly spread, deterministic subsample) are measured.
    half : array, optional
        ``cv2.pyrDown(gray)`` if the caller has it already.
    region_half : bool array, optional
        Where edges are looked for on the half-resolution copy (default ``region[::2, ::2]``).
    """
    g = np.ascontiguousarray(gray, dtype=np.float32)
    h, w = g.shape
    k = len(reblur_sigmas)
    ia = cv2.GaussianBlur(g, (0, 0), edge_sigma, borderType=cv2.BORDER_REFLECT)
    # binomial 5-tap (about a Gaussian of sigma 1 px), then every 2nd px
    small = cv2.pyrDown(g) if half is None else half
    ns = float(noise_sigma) if np.isfinite(noise_sigma) else 0.0
    sx, sy = _central_gradients(small)
    hi = max(PARAMS.edge_noise_factor * _half_res_gradient_noise_std(ns), 2.0 * PARAMS.min_edge_gradient)
    scale = 15000.0  # half-res gradients of [0, 1] images stay below 0.5 per px: fits int16

    def _i16(a: np.ndarray) -> np.ndarray:
        return np.clip(np.round(a * scale), -32767, 32767).astype(np.int16)

    edges = cv2.Canny(_i16(sx), _i16(sy), 0.5 * hi * scale, hi * scale, L2gradient=True)
    if region_half is None and region is not None:
        region_half = np.asarray(region, dtype=bool)[::2, ::2]
    if region_half is not None:
        edges[~region_half] = 0
    nz = cv2.findNonZero(edges)
    if nz is None:
        vh = uh = np.zeros(0, np.int64)
    else:
        uh, vh = nz[:, 0, 0].astype(np.int64), nz[:, 0, 1].astype(np.int64)
    if vh.size > max_pixels:
        keep = np.linspace(0, vh.size - 1, max_pixels).round().astype(np.int64)
        vh, uh = vh[keep], uh[keep]
    empty = EdgeSamples(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
                        np.zeros(0), np.zeros((k, 0)), ia)
    if vh.size == 0 or h < 3 or w < 3:
        return empty
    # refine to full resolution: the best of 3 pixels along the (8-neighbour) gradient direction
    dxh, dyh = sx[vh, uh], sy[vh, uh]
    nrm = np.hypot(dxh, dyh) + 1e-12
    stx, sty = np.rint(dxh / nrm).astype(np.int64), np.rint(dyh / nrm).astype(np.int64)
    best_x = best_y = None
    best = np.full(vh.size, -1.0)
    for step in (-1, 0, 1):
        x = np.clip(2 * uh + step * stx, 1, w - 2)
        y = np.clip(2 * vh + step * sty, 1, h - 2)
        gxc = 0.5 * (ia[y, x + 1].astype(np.float64) - ia[y, x - 1])
        gyc = 0.5 * (ia[y + 1, x].astype(np.float64) - ia[y - 1, x])
        m2 = gxc * gxc + gyc * gyc
        if best_x is None:
            best_x, best_y, best, bgx, bgy = x, y, m2, gxc, gyc
        else:
            take = m2 > best
            best_x, best_y = np.where(take, x, best_x), np.where(take, y, best_y)
            bgx, bgy = np.where(take, gxc, bgx), np.where(take, gyc, bgy)
            best = np.maximum(best, m2)
    xs, ys = best_x, best_y
    inside = best > 0
    if region is not None:
        inside &= np.asarray(region, dtype=bool)[ys, xs]
    if not inside.all():
        xs, ys, best, bgx, bgy = xs[inside], ys[inside], best[inside], bgx[inside], bgy[inside]
    if xs.size == 0:
        return empty
    na = _gradient_noise_std(ns, edge_sigma)
    ga = np.sqrt(np.maximum(best - 2.0 * na * na, 0.25 * best))
    norm = np.sqrt(best)
    u, v = xs * 0.5, ys * 0.5
    ratios = np.empty((k, xs.size))
    for i, s in enumerate(reblur_sigmas):
        sh = math.sqrt(max(s * s - 1.0, 0.25)) / 2.0
        b = cv2.GaussianBlur(small, (0, 0), sh, borderType=cv2.BORDER_REFLECT)
        bx, by = _central_gradients(b)
        gb2 = (_sample_bilinear(bx, u, v).astype(np.float64) ** 2
               + _sample_bilinear(by, u, v).astype(np.float64) ** 2) * 0.25
        nb = _gradient_noise_std(ns, s)
        gb = np.sqrt(np.maximum(gb2 - 2.0 * nb * nb, 0.25 * gb2))
        ratios[i] = ga / np.maximum(gb, 1e-12)
    return EdgeSamples(ys, xs, ga, bgx / norm, bgy / norm, ratios, ia)


def _half_span(diameter: np.ndarray, edge_sigma: float) -> np.ndarray:
    """Distance either side of an edge at which its rise is complete: c/2 + 2 sigma + 1."""
    return np.asarray(diameter, dtype=np.float64) / 2.0 + 2.0 * edge_sigma + 1.0


def disc_edge_spread(d: np.ndarray, diameter: float) -> np.ndarray:
    """Edge-spread function of a uniform disc of ``diameter`` at signed distance ``d``.

    The share of the disc's area beyond a line at distance d from its centre:
    ``1/2 + (t sqrt(1 - t^2) + asin t) / pi``, ``t = clip(2 d / diameter, -1, 1)``.
    """
    if diameter <= 0:
        return (np.asarray(d) > 0).astype(np.float64)
    t = np.clip(2.0 * np.asarray(d, dtype=np.float64) / diameter, -1.0, 1.0)
    return 0.5 + (t * np.sqrt(1.0 - t * t) + np.arcsin(t)) / np.pi


def _edge_row(diameter: float, offset: float, width: int, ss: int = 16) -> np.ndarray:
    """One row across a vertical edge (0.25 -> 0.75) ``offset`` px right of the centre,
    blurred by a uniform disc of ``diameter`` and integrated over each pixel (``ss`` samples)."""
    x = (np.arange(width * ss) + 0.5) / ss - 0.5 - (width - 1) / 2.0 - offset
    e = disc_edge_spread(x, diameter).reshape(width, ss).mean(axis=1)
    return (0.25 + 0.5 * e).astype(np.float32)


#: sub-pixel positions of the calibration edge (its answers are averaged over them).
_CALIBRATION_OFFSETS = (0.0, 0.25, 0.5, 0.75)


@dataclass(frozen=True)
class DiscCalibration:
    """What this pipeline measures at an edge blurred by a uniform disc of diameter c.

    ``diameters`` (M,) px; ``ratios`` (len(reblur_sigmas), M), non-increasing in c;
    ``widths`` (M,) contrast widths, non-decreasing in c.
    """

    diameters: np.ndarray
    ratios: np.ndarray
    widths: np.ndarray

    def diameter_from_ratios(self, ratios: np.ndarray) -> np.ndarray:
        """Blur-disc diameter for each row of gradient ratios (one row per re-blur)."""
        out = np.empty(np.shape(ratios), np.float64)
        for i in range(self.ratios.shape[0]):
            out[i] = np.interp(ratios[i], self.ratios[i, ::-1], self.diameters[::-1])
        return out

    def diameter_from_widths(self, widths: np.ndarray) -> np.ndarray:
        return np.interp(widths, self.widths, self.diameters)


def disc_calibration(edge_sigma: float = PARAMS.edge_sigma,
                     reblur_sigmas: tuple[float, ...] = PARAMS.reblur_sigmas) -> DiscCalibration:
    """Run this pipeline on straight edges blurred by uniform discs of known diameter.

    Each edge is rendered with the closed-form disc edge-spread function, integrated over each
    pixel, at four sub-pixel positions, and measured with :func:`edge_samples`; the medians
    make the tables that convert a measurement into a diameter. The pipeline is close to
    isotropic: an oblique edge reads within ~2 % of the same diameter. Cached (~0.1-0.2 s, once).
    """
    return _disc_calibration(float(edge_sigma), tuple(float(s) for s in reblur_sigmas))


@functools.lru_cache(maxsize=4)
def _disc_calibration(edge_sigma: float, reblur_sigmas: tuple[float, ...]) -> DiscCalibration:
    cs = np.concatenate([np.arange(0.0, 8.0, 0.5), np.arange(8.0, 24.0, 1.0),
                         np.arange(24.0, 48.0, 2.0),
                         np.arange(48.0, PARAMS.max_diameter_work_px + 1.0, 4.0)])
    ratios = np.empty((len(reblur_sigmas), cs.size))
    widths = np.empty(cs.size)
    rows = 8
    for j, c in enumerate(cs):
        half = int(math.ceil(c / 2.0 + 4.0 * max(reblur_sigmas))) + 8
        region = np.zeros((rows, 2 * half), bool)
        region[rows // 2 - 1:rows // 2 + 1, :] = True
        r_acc, w_acc = [], []
        for off in _CALIBRATION_OFFSETS:
            img = np.repeat(_edge_row(float(c), off, 2 * half)[None, :], rows, axis=0)
            e = edge_samples(img, noise_sigma=0.0, edge_sigma=edge_sigma,
                             reblur_sigmas=reblur_sigmas, region=region)
            r_acc.append(np.median(e.ratios, axis=1))
            w_acc.append(np.median(e.contrast_width(_half_span(np.full(e.ys.size, c), edge_sigma))))
        ratios[:, j] = np.mean(r_acc, axis=0)
        widths[j] = np.mean(w_acc)
    ratios = np.minimum.accumulate(ratios, axis=1)
    widths = np.maximum.accumulate(widths)
    return DiscCalibration(cs, ratios, widths)


def highlight_mask(gray: np.ndarray, *, ratio: float = PARAMS.highlight_ratio,
                   sigma_px: float = PARAMS.highlight_sigma_px, half: np.ndarray | None = None,
                   shape: tuple[int, int] | None = None) -> np.ndarray:
    """Bright compact sources: bokeh orbs, lamps, speculars (bool, ``shape`` or that of
    ``gray``).

    A pixel is a highlight when its linear luminance exceeds ``ratio`` times a Gaussian local
    mean of scale ``sigma_px`` (computed at quarter resolution), dilated by 8 px. The image of
    a point light through a defocused lens is the aperture itself, with a hard rim, so the rims
    of bokeh orbs would read as sharp edges in a blurred background; they are left to the bokeh
    family. ``half``: ``cv2.pyrDown(gray)`` if the caller has it already.
    """
    from lenscore.imaging import srgb_to_linear

    g = np.asarray(gray, dtype=np.float32)
    shape = g.shape if shape is None else shape
    if min(g.shape) < 16:
        return np.zeros(shape, bool)
    q = cv2.pyrDown(cv2.pyrDown(g) if half is None else half)
    y = srgb_to_linear(q)
    loc = cv2.GaussianBlur(y, (0, 0), sigma_px / 4.0, borderType=cv2.BORDER_REFLECT)
    hm = ((y > ratio * loc) & (y > 0.02)).astype(np.uint8)
    hm = cv2.dilate(hm, np.ones((5, 5), np.uint8))
    return cv2.resize(hm, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST).astype(bool)


@dataclass
class BlurEstimate:
    """Background blur-disc diameter in working px, with the edge pixels it rests on."""

    diameter_px: float
    n_edges: int
    n_consistent: int
    #: (N, 3) rows x, y, diameter of the consistent edge pixels, working px.
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    reason: str | None = None
    #: 1: measured at the working scale; 2: on the half-resolution copy; 4: quarter.
    scale: int = 1


def background_blur_diameter(gray: np.ndarray, background: np.ndarray, *,
                             noise_sigma: float = 0.0, edge_sigma: float = PARAMS.edge_sigma,
                             reblur_sigmas: tuple[float, ...] = PARAMS.reblur_sigmas,
                             quantile: float = PARAMS.blur_quantile, margin_px: int = PARAMS.edge_margin_px,
                             exclude_highlights: bool = True,
                             min_edges: int = PARAMS.min_edge_pixels,
                             half: np.ndarray | None = None,
                             highlight_sigma_px: float = PARAMS.highlight_sigma_px) -> BlurEstimate:
    """Blur-disc diameter of the background, px of ``gray``: gradient ratio after re-blur.

    Zhuo & Sim 2011 ("Defocus map estimation from a single image") at Canny edges of the
    background, converted to a uniform-disc diameter by :func:`disc_calibration`. An edge pixel
    counts when its two re-blur estimates and its contrast width agree (within
    ``PARAMS.consistency_tol``). The answer is the ``quantile`` (0.75) of the counted pixels: every
    edge is at most as wide as the blur (an object smaller than the blur disc leaves an edge as
    wide as the object, a bokeh orb or a thin line one narrower still), so the estimate sits in
    the upper part of the distribution; with few objects larger than the blur disc it is a lower
    bound.

    Parameters
    ----------
    gray : (H, W) float array in [0, 1]
    background : bool (H, W)
        Where the background is; it is eroded by ``margin_px`` and so is the frame.
    noise_sigma : float
        White-noise std of ``gray``.
    exclude_highlights : bool
        Drop edges of highlights (:func:`highlight_mask`: bokeh orbs have hard rims).
    half : array, optional
        ``cv2.pyrDown(gray)`` if the caller has it already.

    Returns
    -------
    BlurEstimate; ``diameter_px`` is NaN (with ``reason``) when fewer than ``min_edges``
    consistent edge pixels are found.
    """
    g = np.asarray(gray, dtype=np.float32)
    bg = np.asarray(background, dtype=bool)
    h, w = g.shape
    region = np.zeros((h, w), bool)
    m = int(margin_px)
    if h > 2 * m and w > 2 * m:
        region[m:h - m, m:w - m] = True
    if not bg.any():
        return BlurEstimate(math.nan, 0, 0, reason="no background outside the subject box")
    if m > 0:
        bg = cv2.erode(bg.astype(np.uint8), np.ones((2 * m + 1, 2 * m + 1), np.uint8),
                       borderType=cv2.BORDER_CONSTANT, borderValue=1).astype(bool)
    region &= bg
    if not region.any():
        return BlurEstimate(math.nan, 0, 0,
                            reason=f"the background is too thin to measure its blur (no part of "
                                   f"it is {m} working px clear of the subject box and the frame)")
    half = cv2.pyrDown(g) if half is None else half
    region_half = region[::2, ::2]
    if exclude_highlights:
        region_half = region_half & ~highlight_mask(g, half=half, shape=half.shape,
                                                    sigma_px=highlight_sigma_px)
    e = edge_samples(g, noise_sigma=noise_sigma, edge_sigma=edge_sigma,
                     reblur_sigmas=reblur_sigmas, region=region, half=half,
                     region_half=region_half)
    n = int(e.ys.size)
    if n < min_edges:
        return BlurEstimate(math.nan, n, 0, reason=f"no edges to measure the background blur on "
                                                  f"({n} edge pixels, need {min_edges})")
    cal = disc_calibration(edge_sigma, tuple(reblur_sigmas))
    cs = cal.diameter_from_ratios(e.ratios)
    c = cs[-1]
    width = e.contrast_width(_half_span(c, edge_sigma))
    allc = np.vstack([cs, cal.diameter_from_widths(width)[None, :]])
    lo, hi = allc.min(axis=0), allc.max(axis=0)
    ok = ((hi - lo) <= PARAMS.consistency_tol * hi + PARAMS.consistency_slack_px) & (width > 0)
    n_ok = int(ok.sum())
    if n_ok < min_edges:
        return BlurEstimate(math.nan, n, n_ok,
                            reason=f"background edges do not measure consistently ({n_ok} of "
                                   f"{n} edge pixels agree, need {min_edges})")
    pts = np.stack([e.xs[ok], e.ys[ok], c[ok]], axis=1).astype(np.float32)
    return BlurEstimate(float(np.quantile(c[ok], quantile)), n, n_ok, pts)


def estimate_background_blur(gray: np.ndarray, background: np.ndarray, *,
                             noise_sigma: float = 0.0, half: np.ndarray | None = None,
                             levels: int = PARAMS.blur_levels,
                             highlight_sigma_px: float = PARAMS.highlight_sigma_px) -> BlurEstimate:
    """Background blur-disc diameter (px of ``gray``), fine scale first, coarser when it is large.

    :func:`background_blur_diameter` on ``gray``; when that reads at least
    ``PARAMS.coarse_trigger_px`` or finds nothing, the estimate is repeated on the half-resolution copy
    (every length halves: re-blurs of 6 and 12 px, edge Gaussian of 2 px; recursively, up to
    ``levels`` scales), and the coarse answer (doubled) is taken when it is at least
    ``PARAMS.coarse_min_px`` (or the finer scale found nothing). At a fine scale a large blur is
    measured with re-blurs smaller than itself and, in 8-bit images, on gradients made of
    one-gray-level steps; the coarser scale fixes both, and cannot resolve small blur, hence
    the switch.
    """
    g = np.asarray(gray, dtype=np.float32)
    half = cv2.pyrDown(g) if half is None else half
    fine = background_blur_diameter(g, background, noise_sigma=noise_sigma, half=half,
                                    highlight_sigma_px=highlight_sigma_px)
    if levels <= 1 or min(half.shape) < 32:
        return fine
    if np.isfinite(fine.diameter_px) and fine.diameter_px < PARAMS.coarse_trigger_px:
        return fine
    coarse = estimate_background_blur(
        half, np.asarray(background, dtype=bool)[::2, ::2],
        noise_sigma=float(noise_sigma) * _PYR_NOISE_GAIN, levels=levels - 1,
        highlight_sigma_px=highlight_sigma_px / 2.0)
    c2 = 2.0 * coarse.diameter_px
    if np.isfinite(c2) and (c2 >= PARAMS.coarse_min_px or not np.isfinite(fine.diameter_px)):
        pts = coarse.points * np.float32(2.0)
        return BlurEstimate(c2, coarse.n_edges, coarse.n_consistent, pts, scale=2 * coarse.scale)
    return fine


# ---------------------------------------------------------------------------------------------
# The family
# ---------------------------------------------------------------------------------------------
def focus_measures(gray: np.ndarray, subject: np.ndarray, background: np.ndarray, *,
                   noise_sigma: float = 0.0) -> MetricResult:
    """Every focus number of one working-resolution gray image (pure; no context needed).

    Parameters
    ----------
    gray : (H, W) float array in [0, 1] (the working copy)
    subject, background : bool (H, W)
        Where the subject and the background are.
    noise_sigma : float
        White-noise std of ``gray`` (the lower of this and :func:`robust_noise_sigma` is used).

    Returns
    -------
    MetricResult
        values keyed by short output name (``sharpness``, ``subject_sharpness``,
        ``background_sharpness``, ``separation``, ``background_blur_work_px``); sharpness in
        8-bit gray levels^2; reasons for NaN values; artifacts with the tile map, tile borders,
        tiles used and the :class:`BlurEstimate`.
    """
    g = np.asarray(gray, dtype=np.float32)
    nan = math.nan
    robust = robust_noise_sigma(g)
    noise = min(v for v in (noise_sigma, robust, math.inf) if np.isfinite(v))
    noise = 0.0 if not np.isfinite(noise) else noise
    half = cv2.pyrDown(g)
    tiles, ye, xe = laplacian_variance_tiles(g, noise_sigma=noise, half=half)
    tiles = tiles * GRAY_LEVELS2
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    values["sharpness"] = float(np.quantile(tiles, PARAMS.frame_quantile))
    ny, nx = tiles.shape
    subj_frac = tile_means(np.asarray(subject, np.float32), ny, nx)
    bg_frac = tile_means(np.asarray(background, np.float32), ny, nx)
    s_val, s_used = region_quantile(tiles, subj_frac, quantile=PARAMS.subject_quantile)
    b_val, b_used = region_quantile(tiles, bg_frac, quantile=PARAMS.background_quantile,
                                    allow_partial=False)
    values["subject_sharpness"] = s_val
    values["background_sharpness"] = b_val
    if not np.isfinite(s_val):
        reasons["subject_sharpness"] = "the subject box is empty"
    if not np.isfinite(b_val):
        reasons["background_sharpness"] = (
            "no background outside the subject box" if not bg_frac.any() else
            f"the background outside the subject box fills no {PARAMS.tile_px} px tile even half")
    at_floor = SHARPNESS_FLOOR * GRAY_LEVELS2 * (1.0 + 1e-6)
    if np.isfinite(s_val) and np.isfinite(b_val) and max(s_val, b_val) <= at_floor:
        values["separation"] = nan
        reasons["separation"] = ("neither the subject nor the background has detail above 8-bit "
                                 "rounding: nothing to compare")
    elif np.isfinite(s_val) and np.isfinite(b_val):
        # compare contrast, not brightness: Laplacian variance scales with the light level
        # squared, and a subject under a dimmer or warmer key (or a darker background) must not
        # read as softer or sharper for it; hence divide each side by its mean level squared
        mu_s = max(float(g[np.asarray(subject, bool)].mean()), PARAMS.brightness_floor)
        mu_b = max(float(g[np.asarray(background, bool)].mean()), PARAMS.brightness_floor)
        values["separation"] = float(math.log10(s_val / b_val) - 2.0 * math.log10(mu_s / mu_b))
    else:
        values["separation"] = nan
        reasons["separation"] = reasons.get("background_sharpness") or reasons["subject_sharpness"]
    blur = estimate_background_blur(g, background, noise_sigma=noise, half=half)
    values["background_blur_work_px"] = blur.diameter_px
    if not np.isfinite(blur.diameter_px):
        reasons["background_blur_work_px"] = blur.reason or "background blur not measurable"
    extras = {"tiles": tiles, "ye": ye, "xe": xe, "subject_tiles": s_used,
              "background_tiles": b_used, "blur": blur, "noise_sigma": noise}
    return MetricResult(values, reasons, extras)


def compute(ctx) -> MetricResult:
    """The focus family on one :class:`~lenscore.context.ImageContext`."""
    if min(ctx.height, ctx.width) < PARAMS.min_side_px:
        return FAMILY.nan_result(f"image too small to measure focus ({ctx.width}x{ctx.height} px; "
                                 f"needs at least {PARAMS.min_side_px} px per side)")
    g = ctx.work_gray
    if not math.isfinite(float(g.sum(dtype=np.float64))):
        return FAMILY.nan_result("the image has non-finite (NaN or infinite) pixels")
    if float(cv2.meanStdDev(g)[1][0, 0]) < PARAMS.uniform_std:
        return FAMILY.nan_result("uniform image: no detail to measure focus on")
    m = focus_measures(g, ctx.work_subject_mask, ctx.work_background_mask,
                       noise_sigma=ctx.noise_sigma)
    vals, why, ex = m.values, m.reasons, m.artifacts
    c_work = vals["background_blur_work_px"]
    values = {
        "focus.sharpness": vals["sharpness"],
        "focus.subject_sharpness": vals["subject_sharpness"],
        "focus.background_sharpness": vals["background_sharpness"],
        "focus.separation": vals["separation"],
        "focus.background_blur_px": c_work / ctx.work_scale,
        "focus.background_blur_frac": c_work / g.shape[1],
    }
    reasons = {f"focus.{k}": v for k, v in why.items() if k != "background_blur_work_px"}
    if "background_blur_work_px" in why:
        reasons["focus.background_blur_px"] = why["background_blur_work_px"]
        reasons["focus.background_blur_frac"] = why["background_blur_work_px"]
    inv = 1.0 / ctx.work_scale
    pts = ex["blur"].points
    if pts.shape[0] > PARAMS.max_edge_points:
        pts = pts[np.linspace(0, pts.shape[0] - 1, PARAMS.max_edge_points).round().astype(np.int64)]
    artifacts = {
        "sharpness_map_log10": np.log10(ex["tiles"]).astype(np.float32),
        "tile_edges_x": ex["xe"] * inv,
        "tile_edges_y": ex["ye"] * inv,
        "tile_px": PARAMS.tile_px,
        "work_scale": float(ctx.work_scale),
        "subject_box": tuple(int(v) for v in ctx.subject_box),
        "subject_source": ctx.subject_source,
        "subject_tiles": ex["subject_tiles"],
        "background_tiles": ex["background_tiles"],
        "background_edge_points": (pts * np.float32(inv)).astype(np.float32),
        "blur_scale": int(ex["blur"].scale),
        "noise_sigma": float(ex["noise_sigma"]),
    }
    return MetricResult(values, reasons, artifacts)


# ---------------------------------------------------------------------------------------------
# Validation against ground truth
# ---------------------------------------------------------------------------------------------
def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Checks against the renderer's ground truth (run by ``lenscore validate``)."""
    from lenscore.datasets.synthetic import SceneSpec
    from lenscore.evaluator import validate as V

    checks: list[Check] = []
    specs = [SceneSpec(width=plan.size, height=plan.size, f_number=n, n_lights=0, seed=s,
                       key_kelvin=5000, background_kelvin=5000)
             for s in plan.seeds for n in plan.f_numbers]
    res = V.score_specs(specs, jobs=jobs)
    if not res or not V.has_output(res[0][0], "focus.separation"):
        return [V.missing("focus", "separation rises with aperture", ">= 0.95", "focus.separation")]
    rhos, errs = [], []
    k = len(plan.f_numbers)
    for i in range(len(plan.seeds)):
        chunk = res[i * k:(i + 1) * k]
        seps = [v["focus.separation"] for v, _, _ in chunk]
        rhos.append(V.spearman([1.0 / n for n in plan.f_numbers], seps))
        for v, t, _ in chunk:
            truth_c = t["coc_px"]["background"]
            est = v.get("focus.background_blur_px", math.nan)
            if truth_c >= 4 and np.isfinite(est):
                errs.append(abs(est - truth_c) / truth_c)
    rho = float(np.nanmin(rhos)) if rhos else math.nan
    checks.append(V.Check("focus", "separation rises with aperture (min Spearman over scenes)", rho,
                        ">= 0.95", bool(rho >= 0.95), f"{len(plan.seeds)} scenes x f/{plan.f_numbers[0]}"
                        f"..f/{plan.f_numbers[-1]}"))
    if errs:
        med = float(np.median(errs))
        checks.append(V.Check("focus", "background blur diameter error (median |rel err|)", 100 * med,
                            "<= 20 %", bool(med <= 0.20),
                            f"{len(errs)} scenes with truth CoC >= 4 px; worst {100 * max(errs):.0f} %",
                            unit="%"))
    # resolution invariance: the same scene at plan.size and plan.hi_res
    pair = [SceneSpec(width=w, height=w, f_number=2.0, n_lights=0, seed=s, key_kelvin=5000,
                      background_kelvin=5000) for s in plan.seeds[:2] for w in (plan.size, plan.hi_res)]
    pres = V.score_specs(pair, jobs=jobs)
    diffs = []
    for i in range(0, len(pres), 2):
        a, b = pres[i][0]["focus.separation"], pres[i + 1][0]["focus.separation"]
        if np.isfinite(a) and np.isfinite(b) and b != 0:
            diffs.append(abs(a - b) / abs(b))
    worst = max(diffs) if diffs else math.nan
    checks.append(V.Check("focus", f"separation at {plan.size} vs {plan.hi_res} px (worst rel diff)",
                        100 * worst, "<= 10 %", bool(worst <= 0.10) if diffs else None,
                        f"{len(diffs)} scenes", unit="%"))
    return checks


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: the tile sharpness heat map (bright = sharp) over a grey copy, with the
    subject box."""
    import cv2

    from lenscore import drawing as dr

    img, s = dr.thumbnail(rgb, long_side)
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
            colors = dr.colormap(norm)
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
        dr.box(out, sb, s, dr.CYAN, f"subject ({art.get('subject_source', '')})".replace(" ()", ""))
    sep = vals.get("focus.separation")
    blur = vals.get("focus.background_blur_px")
    line1 = f"focus: separation {dr.fmt(sep)} (log10 subject/background)"
    line2 = f"background blur disc {dr.fmt(blur, '.1f')} px" if dr.finite(blur) else \
        (dr.reason(result, "focus.background_blur_px") and
         "background blur: " + dr.reason(result, "focus.background_blur_px"))
    return dr.banner(out, [line1, line2 or ""])


FAMILY = register(MetricFamily(
    name="focus", version="1",
    method=("Noise-corrected variance of the Laplacian over 32 px tiles of the 768 px working "
            "copy, geometric mean over a 4-level pyramid (Pech-Pacheco et al. 2000; noise: "
            "Immerkaer 1996, per-tile low quantile); background blur-disc diameter from the "
            "gradient ratio after re-blur (Zhuo & Sim 2011), calibrated on uniform-disc blur, "
            "coarse to fine"),
    outputs=OUTPUTS, compute=compute, params=PARAMS,
    title="Focus", headline=("focus.separation", "focus.background_blur_px"), order=10,
    draw=draw, validate=validate))
