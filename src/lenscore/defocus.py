"""Defocus map: the blur-disc diameter at each place of an image, from evidence only.

A thin lens images a point at depth d as a uniform disc of diameter
``c = f^2 / (N (s - f)) * |d - s| / d``; everything at that depth is convolved with that disc.
This module measures c where the image carries evidence of it, says how sure it is, and leaves
the rest empty: a region without detail (a plain wall, a clear sky, a smooth gradient) carries
no evidence and is never "blurred" nor "0 px". It is a pure module (arrays in, a
:class:`DefocusMap` out); :attr:`lenscore.context.ImageContext.defocus` computes it once per
image on the working copy, and the focus and bokeh families read it.

Evidence, on the working copy (``ctx.work_gray``, long side 768 px)
-----------------------------------------------------------------
1. **Spectra of textured regions** (blur discs of about 3.5 px up to 10 % of the frame and
   beyond). A region blurred by a disc has the texture's power spectrum multiplied by the
   disc's transfer function squared, ``(2 J1(pi c f) / (pi c f))^2``, whose zeros (the first at
   ``f = 1.22 / c``) and side lobes mark c independently of what the texture is (Cannon 1976;
   Pentland 1987). Square windows (32 px on the working copy; 64 px on its half- and
   quarter-resolution copies, i.e. 128 and 256 working px) are detrended (a quadratic surface),
   tapered (Hann) and their periodogram averaged in rings; the log ring spectrum is fitted, by
   weighted least squares, with ``log A - alpha log f + log E_c(f)`` for every candidate c of a
   log-spaced grid, where ``E_c`` is the expected ring power of a ``1/f^2`` texture (natural
   images, Field 1987) blurred by the disc, passed through the pyramid's filters and the taper's
   spectral leakage (computed once per window size on the exact DFT grid), and ``alpha`` is free.
   Noise is removed from every ring and weights each ring by its signal-to-noise ratio. Its
   model is white noise in the original (Immerkaer 1996 on the lowest 2 % of 32 px tiles, and
   the 8-bit quantisation floor) through what the working copy and the pyramid did to it: the
   area reduction from the original (:func:`resample_autocorrelation`; a 1024 -> 768 px
   reduction correlates neighbours, and a white model is 2-3x low on every ring), each
   pyrDown's filter and decimation, and the taper (:func:`noise_ring_shape`; within ~5 % of
   the measured noise on every level). A JPEG (its 8 x 8 grid seen) has lost the noise's finest
   scale, where Immerkaer reads it, but not the coarser ones: levels 1 and 2 then read their
   noise on the level itself (``compressed``). An 8-bit file's rounding is white only where the
   image is textured: on a smooth, heavily blurred background it is a staircase of false
   contours (35-170x the white floor on level 2's rings for a street at a 61 px disc) that
   reads as texture with no blur (that street read NaN; from the float render, 60.9 px). So
   each window's noise is, ring by ring, the larger of the white model and the ring power of
   the same window of :func:`quantisation_residual` (the image minus its smoothest version
   within half a step). A window **identifies** c
   when the fit at c is better than every fit with a diameter 1.5x larger and 1.5x smaller by
   ``PARAMS.identify_delta`` (in units of the residual variance), its signal is
   ``PARAMS.min_snr`` times the noise and ``PARAMS.min_band_rms`` in RMS, and c is a size its
   level resolves (``PARAMS.min_level_px`` px of the level, the first zero below 0.35 cycles/px,
   up to ``PARAMS.max_window_frac`` of the window, at least three rings before the first zero).
   A window that does not identify c alone is read again with its neighbours of the same level
   and region (:func:`pooled_margins`: their misfit profiles summed, overlap discounted), at
   half the confidence. A 32 px window whose best fit is finer than that and rejects every 1.5x
   larger disc is
   evidence of **sharpness** (an upper bound; its best diameter is reported, ~2 px: the in-focus
   blur of the imaging chain). On the finest level a flat spectrum (``alpha`` below
   ``PARAMS.min_alpha``) is noise, not texture, and counts for nothing.
2. **Edges** (blur discs up to ~5 px, where the spectrum cannot resolve them): the gradient ratio
   after re-blur (Zhuo & Sim 2011), calibrated on edges blurred by a uniform disc
   (:func:`disc_calibration`); an edge pixel counts when its two re-blur estimates and its
   contrast width agree and its ratio is one a step can have (neighbouring edges that cancel in
   the re-blur read "sharper than sharp" and are dropped). The detector's noise is measured on
   the gradients it uses (:func:`half_res_gradient_noise_sigma`), not only at the finest scale,
   which resampling and JPEG wipe.
3. **Highlights are not evidence here.** Lamps, speculars and bokeh discs (linear luminance
   ``PARAMS.highlight_ratio`` times the local median, or clipped: :func:`highlight_mask`) have
   hard rims that would read as sharp edges in a blurred background; their pixels are left out
   of the edges and filled (normalised convolution, Knutsson & Westin 1993) inside the larger
   windows. Their diameters are measured by the bokeh family, and the focus family uses them as
   blur evidence of their own.

The map
-------
Cells of ``PARAMS.cell_px`` working px. Each cell takes, among the levels whose identifying
windows cover it (their central half), the level with the most confident windows (mean
confidence), and their confidence-weighted geometric-mean diameter (level 1 reading under
``PARAMS.floor_trust`` times its least disc never replaces level 0's, and is dropped where a
level-0 window inside it read a smaller disc); without spectral evidence,
the median of its consistent edges when that is a small blur (at most ``PARAMS.edge_max_px``).
Windows never mix the subject and the background (``subject`` mask, with a margin), so each cell
is background, subject or mixed; the subject's edges are also pooled (a face has few per cell).
An enlarged working copy (an original smaller than 768 px) is measured at the original's size.
Confidence per cell: ``1 - exp(-margin / PARAMS.confidence_scale)`` for spectra, lower for edges.
Validation against the thin-lens renderer, on the production path, is in
:func:`lenscore.metrics.focus.validate`.

References
----------
.. [1] M. Cannon, "Blind deconvolution of spatially invariant image blurs with phase", IEEE
   Trans. ASSP 24(1), 58-63, 1976. https://doi.org/10.1109/TASSP.1976.1162770
.. [2] A. P. Pentland, "A new sense for depth of field", IEEE TPAMI 9(4), 523-531, 1987.
   https://doi.org/10.1109/TPAMI.1987.4767940
.. [3] D. J. Field, "Relations between the statistics of natural images and the response
   properties of cortical cells", JOSA A 4(12), 2379-2394, 1987.
   https://doi.org/10.1364/JOSAA.4.002379
.. [4] S. Zhuo, T. Sim, "Defocus map estimation from a single image", Pattern Recognition 44(9),
   1852-1858, 2011. https://doi.org/10.1016/j.patcog.2011.03.009
.. [5] J. Immerkaer, "Fast noise variance estimation", CVIU 64(2), 300-302, 1996.
   https://doi.org/10.1006/cviu.1996.0060
.. [6] H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.
   https://doi.org/10.1109/CVPR.1993.341081
.. [7] F. J. Harris, "On the use of windows for harmonic analysis with the discrete Fourier
   transform", Proc. IEEE 66(1), 51-83, 1978. https://doi.org/10.1109/PROC.1978.10837
.. [8] P. Burt, E. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
   Communications 31(4), 1983. https://doi.org/10.1109/TCOM.1983.1095851
.. [9] D. C. Youla, H. Webb, "Image restoration by the method of convex projections: part 1,
   theory", IEEE Trans. Medical Imaging 1(2), 81-94, 1982. https://doi.org/10.1109/TMI.1982.4307555
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from lenscore.imaging import immerkaer_response, tile_blocks


@dataclass(frozen=True)
class DefocusParams:
    """Every constant of the defocus map (the only place a default lives)."""

    #: map cell side, working px.
    cell_px: int = 32
    #: spectral windows per pyramid level: (level, window px of the level, stride, least share of
    #: the window that must be usable; the rest is filled by normalised convolution).
    windows: tuple[tuple[int, int, int, float], ...] = ((0, 32, 32, 0.9), (1, 64, 32, 0.85),
                                                        (2, 64, 16, 0.85))
    #: smallest diameter a level identifies, px of that level: its first zero at <= 0.35 cycles/px
    #: on the finest level; coarser levels alias near their Nyquist limit (cv2.pyrDown is no
    #: ideal low-pass) and read discs below about 4 px of the level high, so levels 1 and 2
    #: start at coarse_min_level_px (chosen on the randomised focus scenes and sweeps: 3.5 on
    #: level 1 read 6-7 px discs of 1024 px frames at 9-10 px; 4.5 left 8-11 px discs under
    #: noise to level 1's floor reading, 12-14 px).
    min_level_px: float = 3.5
    coarse_min_level_px: tuple[float, ...] = (4.0, 4.5)
    #: near its floor (under this times its least disc) level 1 reads small discs at that floor:
    #: there it does not replace level 0's cells, and its windows that contain a level-0 window
    #: with a smaller disc (or sharp detail) are dropped. (Level 2 is not held back so: level 1
    #: reads a Gaussian blur, which has no zeros, at half its equal-moment disc, and level 2
    #: reads it right.)
    floor_trust: float = 1.5
    #: the box smoothings (side, working px), coarse to fine, that estimate an 8-bit file's
    #: rounding error (:func:`quantisation_residual`)
    dequantise_schedule: tuple[int, ...] = (33, 17, 9, 5, 3)
    #: largest, as a fraction of the window: at least three rings before the first zero.
    max_window_frac: float = 0.375
    #: rings fitted: from this ring ...
    min_ring: int = 2
    #: ... up to this fraction of the window (0.42 cycles / px, below the pyramid's roll-off).
    max_ring_frac: float = 0.42
    #: a window identifies c when every 1.5x larger / smaller disc fits worse by this much
    #: (residual-variance units).
    identify_delta: float = 10.0
    identify_ratio: float = 1.5
    #: a window identified only with its neighbours (:func:`pooled_margins`) has its pooled
    #: margin counted at this share (its own evidence was not enough).
    pooled_weight: float = 0.5
    #: signal power over noise power in the fitted rings.
    min_snr: float = 10.0
    #: least RMS of the signal in the fitted rings (gray, [0, 1]): 1.5 8-bit levels.
    min_band_rms: float = 1.5 / 255.0
    #: least spectral exponent on the finest level (flat = noise, even after JPEG).
    min_alpha: float = 0.8
    #: ... unless its signal is this many times the noise (no error of the noise model reaches
    #: that): then it is fine detail in focus (sharp), never a blur.
    sure_snr: float = 100.0
    #: confidence = 1 - exp(-margin / this).
    confidence_scale: float = 20.0
    #: candidate diameters: this many, log-spaced from 1 px to this multiple of the window.
    n_diameters: int = 96
    max_diameter_frac: float = 3.0
    #: highlights: linear luminance above this times the local median ...
    highlight_ratio: float = 2.5
    #: ... (median over this fraction of the long side) or at least this level (clipped).
    highlight_size_frac: float = 0.25
    highlight_clip: float = 0.9
    highlight_floor: float = 0.02
    highlight_grow_px: int = 2
    #: windows and edges keep this far (working px) from the subject's outline.
    subject_margin_px: int = 4
    #: edges: re-blur scales (px), consistency of the three estimates, how many per cell, the
    #: largest blur they are trusted alone for (px), at most this many edge pixels.
    edge_reblur: tuple[float, float] = (1.5, 3.0)
    edge_tol: float = 0.25
    edge_slack_px: float = 1.0
    edge_ratio_slack: float = 1.1
    edge_min_points: int = 8
    edge_min_pooled: int = 20
    edge_max_px: float = 5.0
    edge_confidence: float = 0.3
    max_edge_samples: int = 12000
    #: edge detector: Canny high threshold in gradient-noise stds, and at least this per px.
    edge_noise_factor: float = 6.0
    min_edge_gradient: float = 0.004
    #: Gaussian before the edge gradient (px).
    edge_sigma: float = 1.0
    #: noise: quantile of per-tile Immerkaer estimates (tiles of this many px).
    noise_tile_px: int = 32
    noise_tile_quantile: float = 0.02


PARAMS = DefocusParams()

#: cv2.pyrDown's binomial taps.
_PYR_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
#: luma weights (BT.709) whose squares scale per-channel quantisation noise into gray.
_LUMA_W2 = float(0.2126 ** 2 + 0.7152 ** 2 + 0.0722 ** 2)

SOURCE_NONE, SOURCE_EDGES, SOURCE_SPECTRUM, SOURCE_SHARP = 0, 1, 2, 3
SOURCE_NAMES = {SOURCE_NONE: "no evidence", SOURCE_EDGES: "edges", SOURCE_SPECTRUM: "spectrum",
                SOURCE_SHARP: "sharp detail"}
REGION_BACKGROUND, REGION_SUBJECT, REGION_MIXED = 0, 1, 2


# ---------------------------------------------------------------------------------------------
# Noise
# ---------------------------------------------------------------------------------------------
def tile_edges(n: int, tile: int) -> np.ndarray:
    """Borders (float px) of ``round(n / tile)`` (at least 1) equal tiles along ``n`` px."""
    k = max(1, int(round(n / tile)))
    return np.linspace(0.0, float(n), k + 1)


def tile_means(a: np.ndarray, ny: int, nx: int) -> np.ndarray:
    """Mean of ``a`` over each of ny x nx equal tiles (exact area weights), float64."""
    a = np.asarray(a)
    if a.dtype != np.float32:
        a = a.astype(np.float32)
    out = cv2.resize(a, (int(nx), int(ny)), interpolation=cv2.INTER_AREA)
    return out.reshape(int(ny), int(nx)).astype(np.float64)


def robust_noise_sigma(gray: np.ndarray, *, tile: int = PARAMS.noise_tile_px,
                       quantile: float = PARAMS.noise_tile_quantile) -> float:
    """White-noise std of a gray image: a low quantile of per-tile Immerkaer (1996) estimates.

    Immerkaer's estimator ``sqrt(pi/2) / 6 * mean |I * M|`` is computed per tile; tiles whose
    mean is within 0.05..0.95 (not clipped, where noise hides) are kept and their ``quantile``
    taken, so texture in the sharp parts of a frame does not read as noise. NaN below 3x3 px.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = (0.5 + 0.01 * rng.standard_normal((256, 256))).astype(np.float32)
    >>> bool(0.008 < robust_noise_sigma(img) < 0.011)
    True
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


def half_res_gradient_noise_sigma(gray: np.ndarray, *, tile: int = PARAMS.noise_tile_px,
                                  quantile: float = PARAMS.noise_tile_quantile,
                                  half: np.ndarray | None = None) -> float:
    """The white-noise std that explains the noise of the half-resolution gradients the edge
    detector uses (:func:`edge_samples`), measured on those gradients.

    Immerkaer's estimator sees only the finest scale. Noise that was resampled (a working copy
    enlarged or reduced from the original) or JPEG-compressed has lost its finest scale but
    not the next ones: on such images it under-reads the gradient noise by 1.5x (an area
    reduction of 1024 to 768 px) to 2x (512 px enlarged and reduced back) and 5-10x (JPEG q80-70),
    and the edge detector then takes noise for edges. Here each tile (``tile`` px of ``gray``)
    gives the median absolute deviation of the two central-difference components of
    ``cv2.pyrDown(gray)`` (robust to a tile's shading ramp and to its few edges), tiles within
    0.05..0.95 in mean are kept (not clipped) and their ``quantile`` is taken (the flattest
    tiles: texture only adds), then divided by the gradient-noise gain of white noise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = (0.5 + 0.01 * rng.standard_normal((512, 512))).astype(np.float32)
    >>> bool(0.0085 < half_res_gradient_noise_sigma(img) < 0.0105)
    True
    """
    g = np.asarray(gray, dtype=np.float32)
    if min(g.shape[:2]) < 8:
        return float("nan")
    small = cv2.pyrDown(g) if half is None else half
    sx, sy = _central_gradients(small)
    t = max(2, tile // 2)
    ny, nx = small.shape[0] // t, small.shape[1] // t
    if ny < 1 or nx < 1:
        return float("nan")

    def _mad(a: np.ndarray) -> np.ndarray:
        b = tile_blocks(a, t)
        return np.median(np.abs(b - np.median(b, axis=2, keepdims=True)), axis=2)
    mad = 0.5 * (_mad(sx) + _mad(sy)) / 0.6744897501960817
    mean = small[:ny * t, :nx * t].reshape(ny, t, nx, t).mean(axis=(1, 3))
    ok = (mean > 0.05) & (mean < 0.95)
    vals = mad[ok] if ok.any() else mad.ravel()
    return float(np.quantile(vals, quantile)) / _HALF_RES_GRADIENT_NOISE_GAIN


def quantisation_step(rgb: np.ndarray, *, samples: int = 4096) -> float | None:
    """1/255 when an sRGB image in [0, 1] sits on the 8-bit grid (a PNG or JPEG), else None."""
    x = np.asarray(rgb, dtype=np.float32).reshape(-1)
    if x.size == 0:
        return None
    idx = np.linspace(0, x.size - 1, min(samples, x.size)).astype(np.int64)
    v = x[idx] * 255.0
    return 1.0 / 255.0 if float(np.mean(np.abs(v - np.round(v)) < 1e-3)) > 0.99 else None


def quantisation_residual(gray: np.ndarray, step: float,
                          schedule: tuple[int, ...] | None = None) -> np.ndarray:
    """The rounding error of an image quantised to ``step``, estimated: the image minus the
    smoothest image within half a step of every pixel (alternating projections, Youla & Webb
    1982: a box smoothing of each side of ``schedule`` (px), coarse to fine, each followed by
    the clip back to +-step/2).

    Rounding a smooth gradient leaves flat terraces whose risers are edges at every scale
    (false contours): in a heavily blurred background that staircase carries 35-170x the power
    of white rounding noise (step^2/12) at the coarse pyramid levels, and a window fit reads it
    as texture with no blur. Where the image is textured (3 x 3 px span more than 1.5 steps: a
    terrace and its riser span one, with room for three channels' steps mixed into luma) the
    rounding is white and the residual is 0 there (the projection would only pin the texture to
    +-step/2).

    Examples
    --------
    >>> ramp = np.tile(np.linspace(0.30, 0.34, 256, dtype=np.float32), (64, 1))  # 26 px terraces
    >>> q = np.round(ramp * 255) / 255
    >>> r = quantisation_residual(q, 1 / 255)
    >>> bool(np.abs(r).max() <= 0.5 / 255 + 1e-6)
    True
    >>> bool(np.corrcoef(r.ravel(), (q - ramp).ravel())[0, 1] > 0.9)
    True
    """
    sched = PARAMS.dequantise_schedule if schedule is None else schedule
    v = np.asarray(gray, np.float32)
    lo, hi = v - 0.5 * step, v + 0.5 * step
    x = v.copy()
    for k in sched:
        x = cv2.blur(x, (int(k), int(k)), borderType=cv2.BORDER_REFLECT)
        np.clip(x, lo, hi, out=x)
    # the staircase regime only: where 3 x 3 px span at most 1.5 steps (terraces and their
    # risers); elsewhere the rounding is white (the noise model has it) and the projection
    # would only pin the texture to +-step/2
    k3 = np.ones((3, 3), np.uint8)
    span = cv2.dilate(v, k3) - cv2.erode(v, k3)
    return np.where(span <= 1.5 * step, v - x, 0.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Spectra: the disc's transfer function in a window's ring spectrum
# ---------------------------------------------------------------------------------------------
def _binomial_response(f: np.ndarray) -> np.ndarray:
    """Amplitude response of cv2.pyrDown's 5-tap binomial at ``f`` cycles per input px."""
    return (6.0 + 8.0 * np.cos(2 * np.pi * f) + 2.0 * np.cos(4 * np.pi * f)) / 16.0


def disc_otf(c: float | np.ndarray, f: np.ndarray) -> np.ndarray:
    """Transfer function of a uniform disc of diameter ``c`` px at radial frequency ``f``
    (cycles / px): ``2 J1(pi c f) / (pi c f)``.

    Examples
    --------
    >>> abs(round(float(disc_otf(10.0, np.array(1.2197 / 10.0))), 4))  # its first zero
    0.0
    """
    from scipy.special import j1

    x = np.pi * np.asarray(c, dtype=np.float64) * np.asarray(f, dtype=np.float64)
    safe = np.where(np.abs(x) < 1e-9, 1.0, x)
    return np.where(np.abs(x) < 1e-9, 1.0, 2.0 * j1(safe) / safe)


def gaussian_otf(c: float | np.ndarray, f: np.ndarray) -> np.ndarray:
    """Transfer function of a Gaussian blur with the second moment of a disc of diameter ``c``
    (sigma = c / 4, the renderer's "gaussian" aperture): ``exp(-2 pi^2 sigma^2 f^2)``."""
    sig = np.asarray(c, dtype=np.float64) / 4.0
    return np.exp(-2.0 * np.pi ** 2 * sig ** 2 * np.asarray(f, dtype=np.float64) ** 2)


#: lags of the resampled noise's autocorrelation that are kept (an area reduction by 1/2 or more
#: makes neighbours share input px, never pixels two apart; beyond, the estimate is its own noise).
RESAMPLE_LAGS = 2


@functools.lru_cache(maxsize=32)
def resample_autocorrelation(scale: float) -> tuple[float, ...]:
    """Autocorrelation, lags 0..:data:`RESAMPLE_LAGS`, of unit white noise after the working
    copy's area reduction by ``scale`` (:func:`lenscore.imaging.resize_long_side`, 1-D: the
    reduction is separable), averaged over the output phase; ``(1, 0, ...)`` at ``scale >= 1``.

    An area reduction correlates neighbouring pixels (a 1024 -> 768 px one by +0.14): the noise
    of a working copy is no longer white, Immerkaer's finest-scale estimate under-reads it, and
    a white-noise model built on that estimate is 2-3x low in power on every ring of every
    pyramid level (measured). Simulated once per scale (0.13 M samples, a few ms).

    Examples
    --------
    >>> resample_autocorrelation(1.0)
    (1.0, 0.0, 0.0)
    >>> c = resample_autocorrelation(0.5)  # 2:1 box: variance 1/2 per axis, neighbours independent
    >>> round(c[0], 2), round(abs(c[1]), 2)
    (0.5, 0.0)
    """
    if scale >= 1.0 - 1e-6:
        return (1.0,) + (0.0,) * RESAMPLE_LAGS
    n_in = 1 << 15
    z = np.random.default_rng(0).standard_normal((4, n_in)).astype(np.float32)
    out = cv2.resize(z, (max(8, int(round(n_in * scale))), z.shape[0]),
                     interpolation=cv2.INTER_AREA).astype(np.float64)
    return tuple(float(np.mean(out[:, : out.shape[1] - k] * out[:, k:]))
                 for k in range(RESAMPLE_LAGS + 1))


def _noise_transfer(acf: tuple[float, ...], f: np.ndarray) -> np.ndarray:
    """Power spectrum, at ``f`` cycles / px, of noise with autocorrelation ``acf`` (lags 0..)."""
    out = np.full(np.shape(f), acf[0], np.float64)
    for k, c in enumerate(acf[1:], start=1):
        out += 2.0 * c * np.cos(2.0 * np.pi * k * f)
    return np.maximum(out, 0.0)


@functools.lru_cache(maxsize=64)
def immerkaer_gain(acf: tuple[float, ...], level: int = 0) -> float:
    """What Immerkaer's estimator reads (as a variance) on pyramid level ``level`` of noise with
    the separable autocorrelation ``acf`` (lags in working px), per unit variance of the white
    noise it came from: his kernel ``[1, -2, 1]`` along each axis has the power response
    ``(4 sin^2(pi f))^2`` per axis (36 in all for white noise), integrated against the noise's
    spectrum on that level (:func:`noise_ring_shape`'s model, which leaves out the pyramid's
    aliases: on levels 1 and 2 it reads ~10-15 % below a simulation). 1 for white noise on
    level 0.

    Examples
    --------
    >>> round(immerkaer_gain((1.0, 0.0, 0.0)), 3)
    1.0
    """
    m = 128
    FX, FY = _dft_grid(m)
    mk = (4.0 * np.sin(np.pi * FX) ** 2) * (4.0 * np.sin(np.pi * FY) ** 2)
    return float((_level_noise_power(m, level, acf) * mk * mk).mean() / 36.0)


@functools.lru_cache(maxsize=64)
def noise_ring_shape(n: int, level: int, acf: tuple[float, ...]) -> np.ndarray:
    """Expected ring power, in an n x n window of pyramid level ``level``, of noise with the
    separable autocorrelation ``acf`` (lags in working px) per unit variance of the white noise
    it came from: the noise spectrum through the pyramid's filters and the taper's leakage (the
    texture model's own path, :func:`spectral_model`). For white noise it is
    ``spectral_model(n, level).noise_shape``."""
    md = spectral_model(n, level)
    p = _leak(_level_noise_power(n, level, acf))
    return (p[:, : n // 2 + 1].ravel() @ md.radial.astype(np.float64)).astype(np.float64)


def _dft_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(FX, FY): the frequencies (cycles / px) of an n x n DFT."""
    fx = np.fft.fftfreq(n)
    return np.meshgrid(fx, fx)


def _level_noise_power(n: int, level: int, acf: tuple[float, ...]) -> np.ndarray:
    """Power spectrum, per sample of pyramid level ``level`` on its n x n DFT grid, of noise
    with the separable autocorrelation ``acf`` (working px) per unit variance of the white noise
    it came from: each pyrDown filters it (|H|^2) and keeps one sample in 4 (the power per sample
    drops 4x more; the aliases add little, measured)."""
    FX, FY = _dft_grid(n)
    k = 2 ** level
    return _pyramid_power(n, level) * _noise_transfer(acf, FX / k) * _noise_transfer(acf, FY / k) / 4.0 ** level


def _pyramid_power(n: int, level: int) -> np.ndarray:
    """|H|^2 of ``level`` cv2.pyrDown filters on the n x n DFT grid of that level."""
    FX, FY = _dft_grid(n)
    h2 = np.ones((n, n))
    for lv in range(level):
        k = 2 ** (level - lv)
        h2 *= (_binomial_response(FX / k) * _binomial_response(FY / k)) ** 2
    return h2


_LEAK1 = np.array([1.0, 4.0, 1.0]) / 6.0


def _leak(p: np.ndarray) -> np.ndarray:
    """The Hann taper's power leakage on the DFT grid (taps 1/6, 4/6, 1/6 per axis)."""
    p = np.roll(p, 1, 0) * _LEAK1[0] + p * _LEAK1[1] + np.roll(p, -1, 0) * _LEAK1[2]
    return np.roll(p, 1, 1) * _LEAK1[0] + p * _LEAK1[1] + np.roll(p, -1, 1) * _LEAK1[2]


@dataclass(frozen=True)
class SpectralModel:
    """Tables for fitting the windows of one size at one pyramid level."""

    n: int
    level: int
    diameters: np.ndarray      # (2C,) candidate diameters, px of the level: C discs, C Gaussians
    log_model: np.ndarray      # (2C, K) log expected ring power of a 1/f^2 texture blurred by each
    noise_shape: np.ndarray    # (K,) expected ring power of unit white noise of the working copy
    freqs: np.ndarray          # (K,) ring centres, cycles / px of the level
    counts: np.ndarray         # (K,) independent coefficients per ring
    radial: np.ndarray         # (n * (n//2+1), K) ring-mean operator on the rfft2 power
    taper: np.ndarray          # (n, n) Hann taper
    taper_power: float
    detrend_basis: np.ndarray  # (n*n, 6) quadratic surface
    detrend_pinv: np.ndarray   # (6, n*n)
    ring_order: np.ndarray     # indices of the rfft2 coefficients that fall in a ring, by ring
    ring_starts: np.ndarray    # where each ring starts in ring_order
    ring_weight: np.ndarray    # weight of each ordered coefficient (1 or 2, over the ring's count)


@functools.lru_cache(maxsize=16)
def spectral_model(n: int, level: int, n_diameters: int = PARAMS.n_diameters,
                   max_diameter_frac: float = PARAMS.max_diameter_frac) -> SpectralModel:
    """The expected ring spectra of disc-blurred ``1/f^2`` textures in an n x n window of pyramid
    level ``level`` (cv2.pyrDown applied ``level`` times to the working copy), with the Hann
    taper's leakage (power taps 1/6, 4/6, 1/6 per axis on the DFT grid; Harris 1978). Cached."""
    cs = np.exp(np.linspace(math.log(1.0), math.log(max_diameter_frac * n), n_diameters))
    FX, FY = _dft_grid(n)
    R = np.hypot(FX, FY)
    R[0, 0] = 1e-6
    h2 = _pyramid_power(n, level)

    kmax = n // 2
    rb = np.round(R * n).astype(np.int64)[:, : n // 2 + 1]
    sel = (rb >= 1) & (rb < kmax)
    colw = np.ones(n // 2 + 1)
    colw[1: n // 2] = 2.0
    wt = np.broadcast_to(colw, rb.shape) * sel
    B = np.zeros((rb.size, kmax - 1))
    idx = np.flatnonzero(sel.ravel())
    B[idx, rb.ravel()[idx] - 1] = wt.ravel()[idx]
    cnt = B.sum(0)
    B /= cnt

    def ring(p: np.ndarray) -> np.ndarray:
        return p[:, : n // 2 + 1].ravel() @ B

    logm = np.empty((2 * cs.size, kmax - 1))
    for i, c in enumerate(cs):
        for fam, otf in ((0, disc_otf(c, R)), (1, gaussian_otf(c, R))):
            p = R ** -2.0 * otf ** 2 * h2
            p[0, 0] = 0.0
            logm[fam * cs.size + i] = np.log(np.maximum(ring(_leak(p)), 1e-300))
    cs = np.concatenate([cs, cs])
    q = ring(_leak(_level_noise_power(n, level, resample_autocorrelation(1.0))))
    hann = np.hanning(n + 1)[:n]
    taper = np.outer(hann, hann)
    yy, xx = (np.mgrid[0:n, 0:n] - (n - 1) / 2.0) / n
    basis = np.stack([np.ones(n * n), xx.ravel(), yy.ravel(), (xx * xx).ravel(),
                      (xx * yy).ravel(), (yy * yy).ravel()], axis=1)
    flat_ring = rb.ravel()
    order = np.flatnonzero(sel.ravel())
    order = order[np.argsort(flat_ring[order], kind="stable")]
    rings = flat_ring[order]
    starts = np.flatnonzero(np.r_[True, rings[1:] != rings[:-1]])
    rweight = (wt.ravel()[order] / cnt[rings - 1]).astype(np.float32)
    return SpectralModel(n, level, cs, logm, q, np.arange(1, kmax) / n, cnt / 2.0,
                         B.astype(np.float32), taper.astype(np.float32), float((taper ** 2).sum()),
                         basis.astype(np.float32), np.linalg.pinv(basis).astype(np.float32),
                         order, starts, rweight)


@dataclass
class WindowFits:
    """Spectral fits of the windows of one level (centres and diameters in working px)."""

    level: int
    size: float
    x: np.ndarray
    y: np.ndarray
    diameter: np.ndarray      # best-fitting diameter
    margin_up: np.ndarray     # how much worse every diameter >= 1.5x the best fits
    margin_down: np.ndarray   # ... and every diameter <= best / 1.5
    snr: np.ndarray           # signal / noise power in the fitted rings
    band_rms: np.ndarray      # RMS of the signal in the fitted rings
    alpha: np.ndarray         # fitted spectral exponent at the best diameter
    gaussian: np.ndarray      # the best fit is a Gaussian blur (no zeros), not a lens's disc
    #: (windows, candidates): each candidate diameter's misfit over the best, in units of the
    #: residual variance (0 at the best; ``candidates`` are ``spectral_model(...).diameters``
    #: times 2 ** level, working px)
    profile: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32), repr=False)
    candidates: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    #: spectral exponent with no blur (the smallest candidate disc): the raw spectrum's slope
    alpha_unblurred: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @classmethod
    def empty(cls, level: int, size: float) -> "WindowFits":
        z = np.zeros(0)
        return cls(level, size, z, z, z, z, z, z, z, z, np.zeros(0, bool))


def window_fits(img: np.ndarray, ok: np.ndarray | None, *, level: int, noise_var: float,
                n: int = 32, stride: int = 16, min_ok: float = 1.0, detrend: bool = True,
                within: np.ndarray | None = None, noise_shape: np.ndarray | None = None,
                noise_img: np.ndarray | None = None,
                params: DefocusParams = PARAMS) -> WindowFits:
    """Fit every ``n`` x ``n`` window (``stride`` apart) of one pyramid level ``img``.

    ``ok`` marks the usable pixels; a window is fitted when at least ``min_ok`` of it is usable
    (below 1, the rest is filled by normalised convolution first) and all of it is ``within``.
    ``noise_var``: white-noise variance in working-copy units (the pyramid's filtering of it is
    in the model); with ``noise_shape`` (per ring, :func:`noise_ring_shape`), the variance of
    the white noise that ``noise_shape`` is per unit of (the original's, before a resize).
    ``noise_img`` (the level's :func:`quantisation_residual`, or any noise field): each window's
    noise is, ring by ring, the larger of that model and the same window of ``noise_img``'s
    ring power. ``detrend``: remove a least-squares quadratic surface (a smooth gradient is not
    texture), else the mean.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    md = spectral_model(n, level)
    s = 2 ** level
    H, W = img.shape
    if H < n or W < n:
        return WindowFits.empty(level, n * s)
    img = np.asarray(img, dtype=np.float32)
    if ok is not None and min_ok < 1.0 and not ok.all():
        # the fill is smooth: normalised convolution at a quarter of the resolution, enlarged
        okf = ok.astype(np.float32)
        f = 4 if min(H, W) >= 64 else 1
        hs, ws = max(1, H // f), max(1, W // f)
        sg = max(0.5, n / 8.0 / f)
        num = cv2.GaussianBlur(cv2.resize(img * okf, (ws, hs), interpolation=cv2.INTER_AREA), (0, 0), sg)
        den = cv2.GaussianBlur(cv2.resize(okf, (ws, hs), interpolation=cv2.INTER_AREA), (0, 0), sg)
        fill = cv2.resize(num / np.maximum(den, 1e-6), (W, H), interpolation=cv2.INTER_LINEAR)
        img = np.where(ok, img, fill).astype(np.float32)
    v = sliding_window_view(img, (n, n))[::stride, ::stride]
    if ok is not None:
        share = sliding_window_view(ok.astype(np.float32), (n, n))[::stride, ::stride].mean(axis=(2, 3))
        okv = share >= min_ok - 1e-6
    else:
        okv = np.ones(v.shape[:2], bool)
    if within is not None:
        okv &= sliding_window_view(np.asarray(within, bool), (n, n))[::stride, ::stride].all(axis=(2, 3))
    if not okv.any():
        return WindowFits.empty(level, n * s)
    iy, ix = np.nonzero(okv)
    from scipy import fft as sfft

    def ring_power(vv: np.ndarray) -> np.ndarray:
        X = vv[iy, ix].reshape(iy.size, n * n)
        # (einsum and reduceat, not BLAS: a multi-threaded BLAS spins on these small products)
        if detrend:
            X = X - np.einsum("wj,kj->wk", np.einsum("wk,jk->wj", X, md.detrend_pinv), md.detrend_basis)
        else:
            X = X - X.mean(axis=1, keepdims=True)
        X = X.reshape(-1, n, n) * md.taper
        F = sfft.rfft2(X, workers=1).reshape(iy.size, -1)
        P = (F.real ** 2 + F.imag ** 2)[:, md.ring_order] * md.ring_weight
        return np.add.reduceat(P, md.ring_starts, axis=1).astype(np.float64) / md.taper_power

    S = ring_power(v)
    k = np.arange(1, S.shape[1] + 1)
    use = (k >= params.min_ring) & (k <= params.max_ring_frac * n)
    S = S[:, use]
    T = md.log_model[:, use]
    x = np.log(md.freqs[use])
    m = md.counts[use]
    N = noise_var * (md.noise_shape if noise_shape is None else np.asarray(noise_shape))[use]
    if noise_img is not None:
        nq = ring_power(sliding_window_view(np.asarray(noise_img, np.float32), (n, n))[::stride, ::stride])
        N = np.maximum(N[None, :], nq[:, use])
    snr_k = np.clip((S - N) / np.maximum(S, 1e-300), 0.0, 1.0)
    w = m * snr_k ** 2
    L = np.log(np.maximum(S - N, 0.05 * N + 1e-300))
    # weighted least squares of L - T_c = a + b log f, for every window and candidate c
    sw = w.sum(1, keepdims=True)
    swx = (w * x).sum(1, keepdims=True)
    swxx = (w * x * x).sum(1, keepdims=True)
    wL = w * L
    sy = wL.sum(1, keepdims=True) - np.einsum("wk,ck->wc", w, T)
    sxy = (wL * x).sum(1, keepdims=True) - np.einsum("wk,ck->wc", w * x, T)
    syy = (wL * L).sum(1, keepdims=True) - 2.0 * np.einsum("wk,ck->wc", wL, T) \
        + np.einsum("wk,ck->wc", w, T * T)
    det = sw * swxx - swx ** 2
    good = det[:, 0] > 1e-9
    det = np.where(det > 1e-9, det, 1.0)
    b = (sw * sxy - swx * sy) / det
    a = (sy - b * swx) / np.maximum(sw, 1e-12)
    rss = np.maximum(syy - a * sy - b * sxy, 0.0)
    dof = np.maximum((w > 0.05 * m).sum(1) - 3, 1)
    best = rss.min(1)
    prof = rss / np.maximum(best / dof, 1e-12)[:, None]
    kb = prof.argmin(1)
    rows = np.arange(kb.size)
    cs = md.diameters
    ch = cs[kb]
    C = cs[None, :]
    r = params.identify_ratio
    pb = prof[rows, kb]
    up = np.where(C >= r * ch[:, None], prof, np.inf).min(1) - pb
    dn = np.where(C <= ch[:, None] / r, prof, np.inf).min(1) - pb
    up[~good] = 0.0
    dn[~good] = 0.0
    snr = (m * np.maximum(S - N, 0)).sum(1) / np.maximum((m * N).sum(-1), 1e-300)
    band_rms = np.sqrt((2.0 * m * np.maximum(S - N, 0)).sum(1) / float(n * n))
    xs = (ix * stride + (n - 1) / 2.0 + 0.5) * s - 0.5
    ys = (iy * stride + (n - 1) / 2.0 + 0.5) * s - 0.5
    prof_rel = np.where(good[:, None], prof - pb[:, None], 0.0).astype(np.float32)
    return WindowFits(level, float(n * s), xs, ys, ch * s, up, dn, snr, band_rms,
                      2.0 - b[rows, kb], kb >= cs.size // 2, prof_rel, cs * s, 2.0 - b[:, 0])


def pooled_margins(f: WindowFits, usable: np.ndarray, *, stride_px: float,
                   ratio: float = PARAMS.identify_ratio) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Identification from a window and its neighbours together: (diameter, margin up, margin
    down) per window of ``f``.

    One window of a smooth, heavily blurred or noisy texture often prefers the right diameter
    without rejecting its neighbours by ``identify_delta``; the windows around it, at the same
    depth, carry the same evidence. Their misfit profiles (each a sum of log-likelihood ratios
    over the window's pixels) are pooled over the ``usable`` windows whose centres lie within
    one window size of this one: overlapping windows see the same pixels, so the pool counts
    each pixel once, as the mean profile times the number of windows' worth of distinct pixels
    they cover (their union's area over one window's: one window alone is read as itself, and
    four windows a quarter-window apart as 25/16 of one, not as four, nor, as before, as a
    quarter of one; a 55 px disc that 13 level-2 windows read right was lost to that). The pool
    is read like one window's. Unusable windows get NaN and 0 margins.
    """
    k = f.x.size
    d = np.full(k, np.nan)
    up = np.zeros(k)
    dn = np.zeros(k)
    if k == 0 or not usable.any() or f.profile.size == 0:
        return d, up, dn
    P = f.profile.astype(np.float64)
    idx = np.flatnonzero(usable)
    cs = f.candidates
    # the windows lie on a grid of stride_px: window (gx, gy) covers the grid's m x m blocks
    # from (gx, gy), so a union's area is a count of distinct blocks
    m = max(1, int(round(f.size / stride_px)))
    gx = np.round((f.x - f.x.min()) / stride_px).astype(np.int64)
    gy = np.round((f.y - f.y.min()) / stride_px).astype(np.int64)
    ox, oy = np.meshgrid(np.arange(m), np.arange(m))
    ox, oy = ox.ravel(), oy.ravel()
    span = int(gx.max()) + m + 1
    for i in idx:
        near = usable & (np.abs(f.x - f.x[i]) <= f.size + 1e-6) & (np.abs(f.y - f.y[i]) <= f.size + 1e-6)
        blocks = np.unique(((gy[near][:, None] + oy[None, :]) * span + gx[near][:, None] + ox[None, :]).ravel())
        prof = P[near].mean(axis=0) * (blocks.size / float(m * m))
        kb = int(prof.argmin())
        pb = prof[kb]
        ch = cs[kb]
        hi = prof[cs >= ratio * ch]
        lo = prof[cs <= ch / ratio]
        d[i] = ch
        up[i] = (hi.min() - pb) if hi.size else np.inf
        dn[i] = (lo.min() - pb) if lo.size else np.inf
    return d, up, dn


# ---------------------------------------------------------------------------------------------
# Edges: gradient ratio after re-blur (Zhuo & Sim 2011), calibrated on uniform-disc blur
# ---------------------------------------------------------------------------------------------
EDGE_NOISE_FACTOR = PARAMS.edge_noise_factor
MIN_EDGE_GRADIENT = PARAMS.min_edge_gradient
EDGE_SIGMA = PARAMS.edge_sigma
REBLUR_SIGMAS = PARAMS.edge_reblur
MAX_EDGE_SAMPLES = PARAMS.max_edge_samples
#: largest diameter the edge calibration covers (px).
MAX_EDGE_DIAMETER = 48.0


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


def edge_samples(gray: np.ndarray, *, noise_sigma: float = 0.0, edge_sigma: float = EDGE_SIGMA,
                 reblur_sigmas: tuple[float, ...] = REBLUR_SIGMAS,
                 region: np.ndarray | None = None, max_pixels: int = MAX_EDGE_SAMPLES,
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
        White-noise std; Canny's thresholds sit ``EDGE_NOISE_FACTOR`` gradient-noise stds up
        (and at least ``MIN_EDGE_GRADIENT`` per px).
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
    hi = max(EDGE_NOISE_FACTOR * _half_res_gradient_noise_std(ns), 2.0 * MIN_EDGE_GRADIENT)
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


def disc_calibration(edge_sigma: float = EDGE_SIGMA,
                     reblur_sigmas: tuple[float, ...] = REBLUR_SIGMAS) -> DiscCalibration:
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
                         np.arange(48.0, MAX_EDGE_DIAMETER + 1.0, 4.0)])
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




@dataclass
class EdgeFits:
    """Edge pixels and their blur-disc diameters (px of the image measured)."""

    x: np.ndarray
    y: np.ndarray
    diameter: np.ndarray
    consistent: np.ndarray

    @classmethod
    def empty(cls) -> "EdgeFits":
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, bool))


def edge_fits(img: np.ndarray, ok: np.ndarray | None, *, noise_sigma: float,
              params: DefocusParams = PARAMS, half: np.ndarray | None = None) -> EdgeFits:
    """Gradient-ratio blur-disc diameter at the edges of ``img`` where ``ok`` (Zhuo & Sim 2011).

    An edge pixel is ``consistent`` when its two re-blur estimates and its contrast width agree
    (within ``params.edge_tol`` of the largest, plus ``params.edge_slack_px``) and both ratios are
    at most ``params.edge_ratio_slack`` times a sharp step's: a larger ratio means neighbouring
    edges cancelled in the re-blur (fine texture), which says nothing about blur.
    """
    g = np.asarray(img, dtype=np.float32)
    rb = tuple(params.edge_reblur)
    e = edge_samples(g, noise_sigma=noise_sigma, region=ok, max_pixels=params.max_edge_samples,
                     reblur_sigmas=rb, half=half)
    if e.ys.size == 0:
        return EdgeFits.empty()
    cal = disc_calibration(EDGE_SIGMA, rb)
    cs = cal.diameter_from_ratios(e.ratios)
    c = cs[-1]
    width = e.contrast_width(_half_span(c, EDGE_SIGMA))
    allc = np.vstack([cs, cal.diameter_from_widths(width)[None, :]])
    lo, hi = allc.min(axis=0), allc.max(axis=0)
    in_range = (e.ratios <= params.edge_ratio_slack * cal.ratios[:, :1]).all(axis=0)
    okc = ((hi - lo) <= params.edge_tol * hi + params.edge_slack_px) & (width > 0) & in_range
    return EdgeFits(e.xs.astype(np.float64), e.ys.astype(np.float64), c, okc)


# ---------------------------------------------------------------------------------------------
# Highlights
# ---------------------------------------------------------------------------------------------
def highlight_mask(luminance: np.ndarray, *, params: DefocusParams = PARAMS) -> np.ndarray:
    """Light sources (lamps, bokeh discs, speculars), by brightness alone, at half resolution.

    A pixel is a highlight when its linear luminance is above ``params.highlight_ratio`` times
    the median of a neighbourhood ``params.highlight_size_frac`` of the long side wide (and above
    ``params.highlight_floor``), or at least ``params.highlight_clip`` (clipped); dilated by
    ``params.highlight_grow_px`` px. A diffuse surface under one light is rarely 2.5x brighter
    than its surroundings in linear light; a light source usually is.

    Examples
    --------
    >>> y = np.full((128, 128), 0.1, np.float32)
    >>> y[60:68, 60:68] = 0.8
    >>> m = highlight_mask(y)
    >>> m.shape, bool(m[32, 32]), bool(m[0, 0])
    ((64, 64), True, False)
    """
    y = np.asarray(luminance, dtype=np.float32)
    h = cv2.pyrDown(y) if min(y.shape) >= 16 else y
    q = cv2.pyrDown(h) if min(h.shape) >= 16 else h
    k = max(3, int(params.highlight_size_frac * max(q.shape)) | 1)
    enc = np.clip(np.sqrt(np.maximum(q, 0.0)) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    med = (cv2.medianBlur(enc, min(k, 255)).astype(np.float32) / 255.0) ** 2
    if med.shape != h.shape:
        med = cv2.resize(med, (h.shape[1], h.shape[0]), interpolation=cv2.INTER_LINEAR)
    hm = (((h > params.highlight_ratio * med) & (h > params.highlight_floor))
          | (h >= params.highlight_clip)).astype(np.uint8)
    if params.highlight_grow_px > 0:
        g = 2 * params.highlight_grow_px + 1
        hm = cv2.dilate(hm, np.ones((g, g), np.uint8))
    return hm.astype(bool)


# ---------------------------------------------------------------------------------------------
# The map
# ---------------------------------------------------------------------------------------------
@dataclass
class DefocusMap:
    """Blur-disc diameter per cell of the working copy, with its confidence and source.

    Arrays are (ny, nx) over cells whose borders are ``cell_edges_x`` / ``cell_edges_y``
    (working px); ``diameter`` is in working px (NaN: no evidence), ``confidence`` in [0, 1]
    (0: no evidence), ``source`` one of :data:`SOURCE_NAMES` (edges, spectrum, sharp detail = an
    upper bound at the imaging chain's own blur), ``region`` 0 background, 1 subject, 2 mixed /
    unknown. ``work_scale`` is working px per full-resolution px: multiply a working-px diameter
    by ``1 / work_scale`` for full-resolution px. ``windows`` holds the spectral windows that
    identified a diameter (rows x, y, size, diameter, confidence, level; working px) and
    ``edges`` the consistent edge pixels (rows x, y, diameter, region; working px, subsampled);
    ``highlights`` the half-resolution highlight mask.

    The question the bokeh family asks, "is this disc at least the blur where it sits?", is
    :meth:`blur_near` (full-resolution px in, full-resolution px out).
    """

    shape: tuple[int, int]
    work_scale: float
    cell_edges_x: np.ndarray
    cell_edges_y: np.ndarray
    diameter: np.ndarray
    confidence: np.ndarray
    source: np.ndarray
    region: np.ndarray
    windows: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    edges: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    highlights: np.ndarray | None = field(default=None, repr=False)
    noise_sigma: float = 0.0
    #: per region, (median diameter, count) of all its consistent edges, when there are at least
    #: ``PARAMS.edge_min_pooled`` (a face has few edges per cell: eyes, brows, hair line).
    pooled_edges: dict = field(default_factory=dict)
    #: analysed px per px of this map (< 1 when an enlarged working copy was measured at the
    #: original's size); the in-focus limit is a few analysed px.
    analysis_scale: float = 1.0

    @property
    def has_evidence(self) -> np.ndarray:
        return np.isfinite(self.diameter) & (self.confidence > 0)

    def cell_of(self, x_work: float, y_work: float) -> tuple[int, int]:
        j = int(np.clip(np.searchsorted(self.cell_edges_x, x_work, side="right") - 1, 0,
                        self.diameter.shape[1] - 1))
        i = int(np.clip(np.searchsorted(self.cell_edges_y, y_work, side="right") - 1, 0,
                        self.diameter.shape[0] - 1))
        return i, j

    def blur_near(self, x: float, y: float, radius: float | None = None, *,
                  region: int | None = REGION_BACKGROUND) -> tuple[float, float]:
        """(diameter, confidence) of the blur near the full-resolution point (x, y).

        The confidence-weighted median of the cells with evidence within ``radius`` full-res px
        (default: 1.5 cells) of the point, among cells of ``region`` (default background; None:
        any). Diameter in full-resolution px; (NaN, 0.0) when no cell nearby has evidence.
        """
        s = self.work_scale
        xw, yw = (x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5
        cell = float(np.diff(self.cell_edges_x).mean()) if self.cell_edges_x.size > 1 else 32.0
        r = 1.5 * cell if radius is None else radius * s
        cx = 0.5 * (self.cell_edges_x[:-1] + self.cell_edges_x[1:])
        cy = 0.5 * (self.cell_edges_y[:-1] + self.cell_edges_y[1:])
        near = (np.abs(cy[:, None] - yw) <= r + 0.5 * cell) & (np.abs(cx[None, :] - xw) <= r + 0.5 * cell)
        sel = near & self.has_evidence
        if region is not None:
            sel &= self.region == region
        if not sel.any():
            return math.nan, 0.0
        d, w = self.diameter[sel], self.confidence[sel]
        return weighted_quantile(d, w, 0.5) / s, float(w.max())

    def summary(self, region: int = REGION_BACKGROUND) -> dict:
        """Blur over one region: ``diameter`` (working px; confidence-weighted median of its
        cells with evidence), ``coverage`` (share of its cells with evidence), ``cells``,
        ``evidence`` (cells with evidence), ``sources`` (cells per source name), ``spread``
        (p90 / p10 of the cell diameters), ``pooled_edges`` ((median, count) of all the
        region's consistent edges, or None)."""
        reg = self.region == region
        ev = reg & self.has_evidence
        n_reg, n_ev = int(reg.sum()), int(ev.sum())
        out = {"cells": n_reg, "evidence": n_ev, "coverage": n_ev / n_reg if n_reg else 0.0,
               "diameter": math.nan, "spread": math.nan,
               "sources": {SOURCE_NAMES[k]: int((self.source[ev] == k).sum())
                           for k in (SOURCE_EDGES, SOURCE_SPECTRUM, SOURCE_SHARP)}}
        if n_ev:
            d, w = self.diameter[ev], self.confidence[ev]
            out["diameter"] = weighted_quantile(d, w, 0.5)
            lo, hi = weighted_quantile(d, w, 0.1), weighted_quantile(d, w, 0.9)
            out["spread"] = hi / max(lo, 1e-6)
        out["pooled_edges"] = self.pooled_edges.get(region)
        return out


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Quantile ``q`` of ``values`` with non-negative ``weights`` (lower value at ties).

    Examples
    --------
    >>> weighted_quantile(np.array([1.0, 2.0, 10.0]), np.array([1.0, 1.0, 3.0]), 0.5)
    10.0
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    w = np.asarray(weights, dtype=np.float64).ravel()
    keep = np.isfinite(v) & (w > 0)
    if not keep.any():
        return math.nan
    v, w = v[keep], w[keep]
    o = np.argsort(v, kind="stable")
    cw = np.cumsum(w[o])
    return float(v[o][min(int(np.searchsorted(cw, q * cw[-1])), v.size - 1)])


def _lifted(m: DefocusMap, fx: float, fy: float, shape: tuple[int, int], work_scale: float) -> DefocusMap:
    """A map measured on a smaller copy, in the px of a copy ``fx`` x ``fy`` times larger."""
    f = 0.5 * (fx + fy)
    win = m.windows.copy()
    if win.size:
        win[:, 0] = (win[:, 0] + 0.5) * fx - 0.5
        win[:, 1] = (win[:, 1] + 0.5) * fy - 0.5
        win[:, 2:4] *= f
    ed = m.edges.copy()
    if ed.size:
        ed[:, 0] = (ed[:, 0] + 0.5) * fx - 0.5
        ed[:, 1] = (ed[:, 1] + 0.5) * fy - 0.5
        ed[:, 2] *= f
    return DefocusMap(shape, work_scale, m.cell_edges_x * fx, m.cell_edges_y * fy,
                      (m.diameter * f).astype(np.float32), m.confidence, m.source, m.region,
                      windows=win, edges=ed, highlights=m.highlights, noise_sigma=m.noise_sigma,
                      pooled_edges={k: (v[0] * f, v[1]) for k, v in m.pooled_edges.items()},
                      analysis_scale=1.0 / f)


def _level_min_px(level: int, params: DefocusParams = PARAMS) -> float:
    """The least diameter (px of the level) a level identifies."""
    if level <= 0:
        return params.min_level_px
    return params.coarse_min_level_px[min(level, len(params.coarse_min_level_px)) - 1]


def _region_masks(subject: np.ndarray | None, shape: tuple[int, int], margin: int):
    if subject is None or not np.asarray(subject).any():
        bg = np.ones(shape, bool)
        return bg, np.zeros(shape, bool), np.zeros(shape, bool)
    sm = np.asarray(subject, dtype=bool)
    k = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
    grown = cv2.dilate(sm.astype(np.uint8), k).astype(bool)
    shrunk = cv2.erode(sm.astype(np.uint8), k, borderType=cv2.BORDER_CONSTANT, borderValue=1).astype(bool)
    return ~grown, shrunk, grown & ~shrunk


def defocus_map(gray: np.ndarray, *, luminance: np.ndarray | None = None,
                subject: np.ndarray | None = None, noise_sigma: float | None = None,
                quant_step: float | None = None, work_scale: float = 1.0,
                native: tuple[np.ndarray, np.ndarray | None] | None = None,
                compressed: bool = False, params: DefocusParams = PARAMS) -> DefocusMap:
    """The defocus map of a working-copy gray image (see the module docstring).

    A working copy that was enlarged from a smaller original (``work_scale`` > 1) is measured at
    the original's size (an enlargement adds no detail, and its interpolation filter would read
    as blur); the map is then expressed in working px like any other.

    Parameters
    ----------
    gray : (H, W) float array in [0, 1]
        The sRGB-encoded luma of the working copy.
    luminance : (H, W) float array, optional
        Its linear luminance (for the highlight mask); default: the sRGB EOTF of ``gray``.
    subject : bool (H, W), optional
        Where the subject is (windows never mix subject and background).
    noise_sigma : float, optional
        White-noise std of ``gray``; the lower of it and :func:`robust_noise_sigma` is used.
    quant_step : float, optional
        The source's quantisation step (1/255 for 8-bit files): its noise floor is kept.
    work_scale : float
        Working px per full-resolution px (stored for full-resolution queries; below 1 it is
        the area reduction whose effect on the noise the spectral model includes).
    compressed : bool
        The file went through JPEG (:func:`lenscore.imaging.jpeg_grid_strength`): the coarse
        levels read their noise on themselves.
    native : (gray, luminance or None), optional
        The original image's gray and linear luminance, when the working copy was enlarged
        from it: the map is then measured on them (the original's noise is white; the
        enlarged copy reduced back to the original's size has it smoothed and correlated,
        which no white-noise model describes). Default: ``gray`` reduced to that size.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> flat = np.full((256, 256), 0.5, np.float32) + rng.normal(0, 0.002, (256, 256)).astype(np.float32)
    >>> m = defocus_map(flat)
    >>> int(m.has_evidence.sum())  # a featureless wall carries no evidence
    0
    """
    from lenscore.imaging import srgb_to_linear

    g = np.ascontiguousarray(gray, dtype=np.float32)
    H, W = g.shape
    if work_scale > 1.0 + 1e-6 and min(H, W) / work_scale >= 32:
        if native is not None:
            g_n = np.ascontiguousarray(native[0], dtype=np.float32)
            h_n, w_n = g_n.shape[:2]
            lum_n = None if native[1] is None else np.asarray(native[1], np.float32)
        else:
            w_n, h_n = max(1, int(round(W / work_scale))), max(1, int(round(H / work_scale)))
            g_n = cv2.resize(g, (w_n, h_n), interpolation=cv2.INTER_AREA)
            lum_n = None if luminance is None else cv2.resize(np.asarray(luminance, np.float32),
                                                                (w_n, h_n), interpolation=cv2.INTER_AREA)
        subj_n = None if subject is None else cv2.resize(
            np.asarray(subject, np.uint8), (w_n, h_n), interpolation=cv2.INTER_NEAREST).astype(bool)
        m = defocus_map(g_n, luminance=lum_n, subject=subj_n, noise_sigma=None,
                        quant_step=quant_step, work_scale=1.0, compressed=compressed, params=params)
        return _lifted(m, W / w_n, H / h_n, (H, W), float(work_scale))
    ye, xe = tile_edges(H, params.cell_px), tile_edges(W, params.cell_px)
    ny, nx = ye.size - 1, xe.size - 1
    diameter = np.full((ny, nx), np.nan, np.float32)
    conf = np.zeros((ny, nx), np.float32)
    source = np.zeros((ny, nx), np.int8)
    bg, subj_core, margin = _region_masks(subject, (H, W), params.subject_margin_px)
    if subject is not None and np.asarray(subject).any():
        sfrac = tile_means(np.asarray(subject, np.float32), ny, nx)
        region = np.where(sfrac <= 0.1, REGION_BACKGROUND,
                          np.where(sfrac >= 0.9, REGION_SUBJECT, REGION_MIXED)).astype(np.int8)
    else:
        region = np.zeros((ny, nx), np.int8)
    empty = DefocusMap((H, W), float(work_scale), xe, ye, diameter, conf, source, region,
                       noise_sigma=0.0)
    if min(H, W) < 32:
        return empty
    rob = robust_noise_sigma(g, tile=params.noise_tile_px, quantile=params.noise_tile_quantile)
    cands = [v for v in (noise_sigma, rob) if v is not None and np.isfinite(v)]
    sig = float(min(cands)) if cands else 0.0
    # the noise model of the spectral windows: white noise of the original (variance noise_var)
    # through the area reduction that made the working copy (its autocorrelation acf), the
    # pyramid and the taper; Immerkaer's estimate on the working copy is converted back
    acf = resample_autocorrelation(round(float(work_scale), 4))
    qvar = 0.0
    if quant_step:
        # per-channel rounding, mixed into luma (white in the original)
        qvar = _LUMA_W2 * quant_step ** 2 / 12.0
    noise_var = max(sig * sig / immerkaer_gain(acf), qvar)
    lum = srgb_to_linear(g) if luminance is None else np.asarray(luminance, np.float32)
    hl_half = highlight_mask(lum, params=params)
    hl = cv2.resize(hl_half.astype(np.uint8), (W, H), interpolation=cv2.INTER_NEAREST).astype(bool)
    ok_bg = bg & ~hl
    ok_subj = subj_core & ~hl
    # ---- spectral windows, per level -----------------------------------------------------
    pyr = [g]
    # an 8-bit file's rounding error, per window (a smooth background's false contours)
    pyr_q = None if not quant_step else [quantisation_residual(g, quant_step, params.dequantise_schedule)]
    okp = [ok_bg.astype(np.float32)]
    bgp = [bg.astype(np.float32)]
    for lv in range(1, max(w[0] for w in params.windows) + 1):
        pyr.append(cv2.pyrDown(pyr[-1]))
        if pyr_q is not None:
            pyr_q.append(cv2.pyrDown(pyr_q[-1]))
        p = pyr[-1]
        okp.append(cv2.resize(okp[-1], (p.shape[1], p.shape[0]), interpolation=cv2.INTER_AREA))
        bgp.append(cv2.resize(bgp[-1], (p.shape[1], p.shape[0]), interpolation=cv2.INTER_AREA))
    # where a window may lie: all of it in the region (its unusable share is then highlights,
    # filled); on coarse levels a little of the subject may be filled too (min_ok)
    bg_lv = [bgp[0] > 0.999] + [b > 0.5 for b in bgp[1:]]
    rows = []   # x, y, size, diameter, confidence, level, kind (2 spectrum / 3 sharp), region
    for level, n, stride, min_ok in params.windows:
        img = pyr[level]
        nv_level = noise_var
        if compressed and level > 0:
            # JPEG removed the noise's finest scale, which Immerkaer reads on level 0, but not the
            # coarser ones this level fits: its noise is read on the level itself
            rob_l = robust_noise_sigma(img, tile=max(8, params.noise_tile_px // 2 ** (level - 1)),
                                       quantile=params.noise_tile_quantile)
            if np.isfinite(rob_l):
                nv_level = max(noise_var, rob_l * rob_l / immerkaer_gain(acf, level))
        regions = [(REGION_BACKGROUND, okp[level] > 0.999)]
        if level == 0 and ok_subj.any():
            regions.append((REGION_SUBJECT, ok_subj))
        # (a window must lie in one region: what is not usable inside it is filled only when it
        # is a highlight, never the other region; hence the region test on the unfilled mask)
        for reg, ok in regions:
            f = window_fits(img, ok, level=level, noise_var=nv_level, n=n, stride=stride,
                            min_ok=min_ok, detrend=True, params=params,
                            noise_shape=noise_ring_shape(n, level, acf),
                            noise_img=None if pyr_q is None else pyr_q[level],
                            within=(bg_lv[level] if reg == REGION_BACKGROUND else subj_core))
            if f.x.size == 0:
                continue
            s = 2 ** level
            lo = _level_min_px(level, params) * s
            hi = params.max_window_frac * n * s
            sig_ok = (f.snr >= params.min_snr) & (f.band_rms >= params.min_band_rms)
            flat_sharp = np.zeros(f.x.size, bool)
            if level == 0:
                # a flat spectrum is noise the noise model missed, and no blur: unless it is far
                # above the noise, then it is detail at the finest scale, i.e. sharp
                flat_sharp = sig_ok & (f.alpha < params.min_alpha) & (f.snr >= params.sure_snr) & \
                    (f.alpha_unblurred < params.min_alpha)
                sig_ok &= f.alpha >= params.min_alpha
            ident = sig_ok & (f.margin_up >= params.identify_delta) & \
                (f.margin_down >= params.identify_delta) & (f.diameter >= lo) & (f.diameter <= hi)
            sharp = sig_ok & (level == 0) & (f.diameter < lo) & (f.margin_up >= params.identify_delta)
            diam = f.diameter.copy()
            m_id = np.minimum(f.margin_up, f.margin_down)
            m_sh = f.margin_up.copy()
            if flat_sharp.any():  # its fit means nothing: the in-focus blur, at the least margin
                diam[flat_sharp] = lo / params.identify_ratio
                m_sh[flat_sharp] = params.identify_delta
                sharp |= flat_sharp
            # the windows no window identifies alone: with their neighbours (same level, region)
            # (a window whose best fit is a Gaussian, not a lens's disc, is not pooled: summed,
            # such profiles settle between the two families on no diameter of either)
            rest = sig_ok & ~ident & ~sharp & ~f.gaussian
            if rest.any():
                pd, pu, pn = pooled_margins(f, sig_ok & ~f.gaussian, stride_px=stride * s)
                p_ident = rest & (pu >= params.identify_delta) & (pn >= params.identify_delta) & \
                    (pd >= lo) & (pd <= hi)
                p_sharp = rest & (level == 0) & (pd < lo) & (pu >= params.identify_delta)
                # pooled evidence is counted at the strength one window would have
                diam = np.where(p_ident | p_sharp, pd, diam)
                m_id = np.where(p_ident, params.pooled_weight * np.minimum(np.minimum(pu, pn), 1e6), m_id)
                m_sh = np.where(p_sharp, params.pooled_weight * np.minimum(pu, 1e6), m_sh)
                ident, sharp = ident | p_ident, sharp | p_sharp
            for mask, kind, margin_v in ((ident, SOURCE_SPECTRUM, m_id), (sharp, SOURCE_SHARP, m_sh)):
                if mask.any():
                    cf = 1.0 - np.exp(-np.minimum(margin_v[mask], 1e6) / params.confidence_scale)
                    rows.append(np.stack([f.x[mask], f.y[mask], np.full(mask.sum(), f.size),
                                          diam[mask], cf, np.full(mask.sum(), level),
                                          np.full(mask.sum(), kind), np.full(mask.sum(), reg)], 1))
    win = np.concatenate(rows) if rows else np.zeros((0, 8))
    # level 1 near its own floor (under floor1, working px) reads small discs at that floor
    floor1 = params.floor_trust * _level_min_px(1, params) * 2
    if win.shape[0]:
        # where level 0, inside the same window and region, found a smaller disc (or sharp
        # detail), a level-1 window under floor1 is dropped
        near = np.flatnonzero((win[:, 5] == 1) & (win[:, 3] < floor1))
        fine = win[win[:, 5] == 0]
        if near.size and fine.shape[0]:
            c = win[near]
            inside = (np.abs(fine[None, :, 0] - c[:, None, 0]) <= c[:, None, 2] / 2) & \
                (np.abs(fine[None, :, 1] - c[:, None, 1]) <= c[:, None, 2] / 2) & \
                (fine[None, :, 7] == c[:, None, 7])  # the same region (a sharp face is no evidence)
            smaller = fine[None, :, 3] < c[:, None, 3] / params.identify_ratio ** 0.5
            keep = np.ones(win.shape[0], bool)
            keep[near[(inside & smaller).any(axis=1)]] = False
            win = win[keep]
    # ---- cells from windows: per level, the windows covering a cell (their central half) give
    # it their mean confidence and their confidence-weighted geometric-mean diameter; the cell
    # takes the level whose windows are most confident, but level 1 near its floor never
    # replaces level 0's reading
    best_conf = np.zeros((ny, nx))
    if win.shape[0]:
        cxs = 0.5 * (xe[:-1] + xe[1:])
        cys = 0.5 * (ye[:-1] + ye[1:])
        for level in np.unique(win[:, 5]).astype(int):
            wl = win[win[:, 5] == level]
            half = np.maximum(wl[:, 2] / 4.0, 0.5 * params.cell_px)
            j0 = np.searchsorted(cxs, wl[:, 0] - half, side="right")
            j1 = np.searchsorted(cxs, wl[:, 0] + half, side="left")
            i0_ = np.searchsorted(cys, wl[:, 1] - half, side="right")
            i1_ = np.searchsorted(cys, wl[:, 1] + half, side="left")
            nj, ni = np.maximum(j1 - j0, 0), np.maximum(i1_ - i0_, 0)
            count = ni * nj
            if not count.any():
                continue
            widx = np.repeat(np.arange(wl.shape[0]), count)
            k = np.arange(widx.size) - np.repeat(np.cumsum(count) - count, count)
            ci = i0_[widx] + k // np.maximum(nj[widx], 1)
            cj = j0[widx] + k % np.maximum(nj[widx], 1)
            flat = ci * nx + cj
            cf = wl[widx, 4]
            nwin = np.bincount(flat, minlength=ny * nx)
            csum = np.bincount(flat, cf, minlength=ny * nx)
            lsum = np.bincount(flat, cf * np.log(np.maximum(wl[widx, 3], 1e-6)), minlength=ny * nx)
            sharp_n = np.bincount(flat, (wl[widx, 6] >= SOURCE_SHARP).astype(float), minlength=ny * nx)
            has = nwin > 0
            cmean = np.where(has, csum / np.maximum(nwin, 1), 0.0).reshape(ny, nx)
            dmean = np.exp(np.where(csum > 0, lsum / np.maximum(csum, 1e-12), 0.0)).reshape(ny, nx)
            all_sharp = (sharp_n == nwin).reshape(ny, nx)
            take = has.reshape(ny, nx) & (cmean > best_conf)
            if level == 1:
                take &= (best_conf == 0) | (dmean >= floor1)
            diameter[take] = dmean[take]
            conf[take] = cmean[take]
            source[take] = np.where(all_sharp[take], SOURCE_SHARP, SOURCE_SPECTRUM)
            best_conf = np.where(take, cmean, best_conf)
    # ---- edges where the spectra said nothing ---------------------------------------------
    ok_edges = (bg | subj_core) & ~hl
    # the edge detector's noise, measured on the gradients it uses: Immerkaer sees only the
    # finest scale, which noise that was resampled or JPEG-compressed has lost (not the next
    # ones), and noise then reads as edges
    # (both read the pyramid's half-resolution level, made once above)
    grad_sig = half_res_gradient_noise_sigma(g, tile=params.noise_tile_px,
                                             quantile=params.noise_tile_quantile, half=pyr[1])
    sig_edges = max(sig, float(grad_sig)) if np.isfinite(grad_sig) else sig
    ef = edge_fits(g, ok_edges, noise_sigma=sig_edges, params=params, half=pyr[1])
    edges_out = np.zeros((0, 4), np.float32)
    pooled: dict[int, tuple[float, int]] = {}
    if ef.x.size:
        k = ef.consistent
        ex, ey, ec = ef.x[k], ef.y[k], ef.diameter[k]
        if ex.size:
            ci = np.clip(np.searchsorted(ye, ey, side="right") - 1, 0, ny - 1)
            cj = np.clip(np.searchsorted(xe, ex, side="right") - 1, 0, nx - 1)
            flat = ci * nx + cj
            order = np.argsort(flat, kind="stable")
            fs, cs_ = flat[order], ec[order]
            starts = np.flatnonzero(np.r_[True, fs[1:] != fs[:-1]])
            ends = np.r_[starts[1:], fs.size]
            for a, b in zip(starts, ends):
                if b - a < params.edge_min_points:
                    continue
                i, j = divmod(int(fs[a]), nx)
                if source[i, j] != SOURCE_NONE:
                    continue
                med = float(np.median(cs_[a:b]))
                if med <= params.edge_max_px:
                    diameter[i, j] = med
                    conf[i, j] = params.edge_confidence * min(1.0, (b - a) / (4.0 * params.edge_min_points))
                    source[i, j] = SOURCE_EDGES
            xi = np.clip(np.round(ex).astype(np.int64), 0, W - 1)
            yi = np.clip(np.round(ey).astype(np.int64), 0, H - 1)
            ereg = np.where(subj_core[yi, xi], REGION_SUBJECT, REGION_BACKGROUND)
            for reg in (REGION_BACKGROUND, REGION_SUBJECT):
                k = ereg == reg
                if k.sum() >= params.edge_min_pooled:
                    pooled[reg] = (float(np.median(ec[k])), int(k.sum()))
            step = max(1, ex.size // 2000)
            edges_out = np.stack([ex[::step], ey[::step], ec[::step], ereg[::step]], 1).astype(np.float32)
    return DefocusMap((H, W), float(work_scale), xe, ye, diameter, conf, source, region,
                      windows=win[:, :6].astype(np.float32), edges=edges_out, highlights=hl_half,
                      noise_sigma=sig, pooled_edges=pooled)
