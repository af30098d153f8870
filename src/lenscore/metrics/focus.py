"""Focus: is there a real focus plane, with the subject on it, and how wide are the background's
blur discs?

The seed article's optical claim: "85mm f/1.4 focused at 2.5 m with a crowd at 20 m" blurs the
crowd into discs of a known size, ``c = f^2 / (N (s - f)) * |d - s| / d`` (5.2 % of the frame's
long side in that example), while "blurred crowd" promises nothing. This family measures that
disc from evidence in the image, never from the absence of detail: a white wall carries no
evidence of shallow depth of field.

Blur evidence (``ctx.defocus``, :mod:`lenscore.defocus`, on the 768 px working copy)
----------------------------------------------------------------------------------
* the spectra of textured regions (the disc's transfer-function zeros and side lobes; Cannon
  1976, Pentland 1987), from about 3.5 px up to 10 % of the frame and beyond;
* the gradient ratio after re-blur at edges (Zhuo & Sim 2011) for small blur discs;
* **bokeh discs** found by the bokeh family (``ctx.result("bokeh").artifacts["orbs"]``): the image
  of a point light through a defocused lens is the blur disc at the light's depth, so each
  optical disc's diameter is blur evidence (with the weight of its area, up to
  ``PARAMS.orb_weight_cap`` map cells). Highlight rims never count as sharp edges.

Outputs
-------
``background_blur_px`` / ``_frac``: the background's blur-disc diameter (the thin lens's c, px
of the original image / fraction of its width): the confidence-weighted median of the
background's map cells with evidence and its bokeh discs; NaN "no evidence in the background"
when neither covers enough of it (``PARAMS.min_background_coverage``, at least
``PARAMS.min_background_cells`` cells, or one disc). ``subject_blur_px``: the same over the
subject's cells. ``separation``: ``log10(max(background blur, c0) / max(subject blur, c0))`` with
``c0`` the in-focus blur this measurement can resolve (``PARAMS.in_focus_frac`` of the long
side, 2.5 working px): 0 = no focus plane (all in focus, or all equally soft), 1 = background
discs ten times the subject's blur. ``depth_consistency``: where the background's blur varies
(p90/p10 of its cells above ``PARAMS.depth_min_spread``), the Spearman rank correlation of each
cell's blur with its height in the frame, a receding ground plane's distance cue (farther is
higher up, and blurrier); NaN "one depth" otherwise. ``background_evidence``: the share of the
background whose blur was measured.

The detail outputs (the card's baseline): the variance of the Laplacian (Pech-Pacheco et al.
2000; Pertuz et al. 2013) over 32 px tiles, noise-corrected and combined over a 4-level pyramid
(Burt & Adelson 1983): ``sharpness`` (frame), ``subject_sharpness``, ``background_sharpness``.
They measure fine detail, which depends on content as much as on focus (a smooth cheek or a plain
wall reads low in perfect focus); keep them for comparing versions of one scene.

References
----------
.. [1] S. Zhuo, T. Sim, "Defocus map estimation from a single image", Pattern Recognition
   44(9), 2011. https://doi.org/10.1016/j.patcog.2011.03.009
.. [2] M. Cannon, "Blind deconvolution of spatially invariant image blurs with phase", IEEE
   Trans. ASSP 24(1), 1976. https://doi.org/10.1109/TASSP.1976.1162770
.. [3] A. P. Pentland, "A new sense for depth of field", IEEE TPAMI 9(4), 1987.
   https://doi.org/10.1109/TPAMI.1987.4767940
.. [4] J. L. Pech-Pacheco, G. Cristobal, J. Chamorro-Martinez, J. Fernandez-Valdivia,
   "Diatom autofocusing in brightfield microscopy: a comparative study", ICPR 2000.
   https://doi.org/10.1109/ICPR.2000.903548
.. [5] S. Pertuz, D. Puig, M. A. Garcia, "Analysis of focus measure operators for
   shape-from-focus", Pattern Recognition 46(5), 2013. https://doi.org/10.1016/j.patcog.2012.11.011
.. [6] J. Immerkaer, "Fast noise variance estimation", CVIU 64(2), 1996.
   https://doi.org/10.1006/cviu.1996.0060
.. [7] P. Burt, E. Adelson, "The Laplacian pyramid as a compact image code", IEEE Trans.
   Communications 31(4), 1983. https://doi.org/10.1109/TCOM.1983.1095851
.. [8] C. Spearman, "The proof and measurement of association between two things", Am. J.
   Psychol. 15(1), 1904. https://doi.org/10.2307/1412159
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from lenscore import defocus as dfc
from lenscore.defocus import robust_noise_sigma, tile_edges, tile_means, weighted_quantile
from lenscore.metrics.base import MetricFamily, MetricResult, Output, params_dict, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.evaluator.validate import Check, Plan


@dataclass(frozen=True)
class FocusParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``). The defocus map's own are ``lenscore.defocus.PARAMS``."""

    #: detail tiles: side (working px), region quantiles, share of a tile inside a region.
    tile_px: int = 32
    subject_quantile: float = 0.9
    background_quantile: float = 0.5
    frame_quantile: float = 0.9
    tile_min_fraction: float = 0.5
    #: floor of the noise-corrected Laplacian variance, 8-bit gray levels^2 (8-bit rounding
    #: alone gives 20/12, so less is "no detail").
    sharpness_floor_gray2: float = 1.0
    #: pyramid levels of the multi-scale Laplacian (768, 384, 192, 96 px).
    pyramid_levels: int = 4
    #: images smaller than this on either side are not measured.
    min_side_px: int = 32
    #: gray std below which the image is uniform (half an 8-bit gray level).
    uniform_std: float = 0.5 / 255.0
    #: the in-focus blur the map resolves, as a fraction of the long side (2.5 working px: the
    #: blur of a sharp texture through the imaging chain); blur below it is "in focus".
    in_focus_frac: float = 3.0 / 768.0
    #: the background has evidence when its cells with evidence are at least this share of it
    #: and this many, or a bokeh disc was found.
    min_background_coverage: float = 0.03
    min_background_cells: int = 6
    #: background cells next to the subject (within one cell) weigh this much (the subject's own
    #: edges spill there when its mask is too small).
    near_subject_weight: float = 0.25
    #: a bokeh disc counts as (its area / a cell's) cells of confidence orb_confidence, at most
    #: orb_weight_cap.
    orb_weight_cap: float = 4.0
    orb_confidence: float = 0.9
    #: a bokeh disc wider than this times the confident texture blur around it contradicts it
    #: (a lit window or speck in a sharp background is no defocus disc) and is not used.
    orb_max_over_local: float = 2.0
    orb_local_confidence: float = 0.2
    #: several depths: at least this many background cells with evidence, spread (p90/p10) above.
    depth_min_cells: int = 8
    depth_min_spread: float = 1.6


PARAMS = FocusParams()

#: 8-bit gray levels squared per [0, 1]^2 unit.
GRAY_LEVELS2 = 255.0 ** 2
SHARPNESS_FLOOR = PARAMS.sharpness_floor_gray2 / GRAY_LEVELS2
_PYR_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0

_DETAIL_UNIT = "gray levels^2 (Laplacian variance)"
OUTPUTS = (
    Output("focus.separation", "log10 ratio", "higher", (0.0, 3.0),
           "Focus plane: log10 of the background's blur disc over the subject's (both at least "
           "the in-focus limit, 0.33 % of the frame). 0 = no focus plane (all sharp, or all "
           "equally soft); 1 = background discs 10x the subject's blur. A portrait with the "
           "article's shallow focus wants it high. NaN when the background has no evidence "
           "(a plain backdrop is not a focus plane)."),
    Output("focus.background_blur_px", "px", "higher", (0.0, math.inf),
           "Blur-disc diameter of the background (the thin lens's c), in pixels of the image: "
           "from its textures and its bokeh discs. 85mm f/1.4 at 2.5 m with the crowd at 20 m "
           "makes about 5 % of the frame. Want it large for shallow depth of field and bokeh; "
           "NaN when the background shows nothing to measure it on."),
    Output("focus.background_blur_frac", "fraction of width", "higher", (0.0, 1.0),
           "background_blur_px / image width: the same disc, independent of resolution "
           "(0.05 = 5 % of the frame)."),
    Output("focus.subject_blur_px", "px", "lower", (0.0, math.inf),
           "Blur-disc diameter on the subject, in pixels of the image (about 2-3 px when in "
           "focus: the imaging chain's own blur). Want it small: the subject sharp."),
    Output("focus.depth_consistency", "rank correlation", "higher", (-1.0, 1.0),
           "Where the background's blur varies, does it grow with distance? Rank correlation "
           "of each region's blur with its height in the frame (a receding ground: farther is "
           "higher up). 1 = optically consistent, 0 or less = blur painted at random. NaN when "
           "the background sits at one depth."),
    Output("focus.background_evidence", "fraction of background", "neither", (0.0, 1.0),
           "Share of the background whose blur could be measured (textured regions, edges, "
           "bokeh discs). Low on plain backdrops and clear skies: there the blur is unknown."),
    Output("focus.sharpness", _DETAIL_UNIT, "neither", (1.0, math.inf),
           "Fine detail of the whole frame (90th percentile over 32 px tiles of the "
           "noise-corrected Laplacian variance; 1 = no detail). Detail, not focus: it depends "
           "on content. Compare versions of one scene."),
    Output("focus.subject_sharpness", _DETAIL_UNIT, "neither", (1.0, math.inf),
           "Fine detail of the subject's most detailed tiles (eyes, hair, fabric). Over-"
           "sharpening also raises it; descriptive."),
    Output("focus.background_sharpness", _DETAIL_UNIT, "neither", (1.0, math.inf),
           "Typical fine detail of the background tiles (median; 1 = none). Low for a blurred "
           "background and for a plain wall alike: use background_blur_px for the blur."),
)


# ---------------------------------------------------------------------------------------------
# Detail: noise-corrected Laplacian variance per tile (the card's baseline)
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def laplacian_noise_gain(level: int) -> float:
    """Variance of the 4-neighbour Laplacian at pyramid level ``level`` per unit variance of
    white noise in the level-0 image: ``||K||^2`` with K the Laplacian (taps 2^level apart)
    convolved with the equivalent ``cv2.pyrDown`` filter (Burt & Adelson 1983). Level 0: 20.

    Examples
    --------
    >>> laplacian_noise_gain(0)
    20.0
    """
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
                             levels: int = PARAMS.pyramid_levels, floor: float = SHARPNESS_FLOOR):
    """Noise-corrected variance of the Laplacian per tile, over a pyramid of scales, [0, 1]^2.

    At each level of a Gaussian pyramid (``cv2.pyrDown``, level 0 = ``gray``) the variance of
    the 4-neighbour Laplacian (Pech-Pacheco et al. 2000) over each tile, less the noise's share
    (:func:`laplacian_noise_gain` ``* noise_sigma^2``), floored at ``floor``; a tile's value is
    the geometric mean over the levels (defocus removes the finest scale first; several scales
    keep the measure falling with blur up to discs of ~50 px).

    Returns
    -------
    (map, ye, xe): float64 (ny, nx) array and the tile borders along rows and columns.

    Examples
    --------
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
            img = cv2.pyrDown(img)
        lap = cv2.Laplacian(img, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)
        mean = tile_means(lap, ny, nx)
        var = tile_means(cv2.multiply(lap, lap), ny, nx) - mean * mean
        acc += np.log10(np.maximum(var - laplacian_noise_gain(level) * ns2, floor))
        used += 1
    return 10.0 ** (acc / used), ye, xe


def region_quantile(tile_map: np.ndarray, fraction: np.ndarray, *, quantile: float,
                    min_fraction: float = PARAMS.tile_min_fraction,
                    allow_partial: bool = True) -> tuple[float, np.ndarray]:
    """Quantile of ``tile_map`` over the tiles at least ``min_fraction`` inside a region (the
    tiles with any share when none is, if ``allow_partial``); NaN when none. Also the tiles used."""
    used = fraction >= min_fraction
    if not used.any() and allow_partial:
        used = fraction > 0
    if not used.any():
        return float("nan"), used
    return float(np.quantile(tile_map[used], quantile)), used


def detail_measures(gray: np.ndarray, subject: np.ndarray, background: np.ndarray, *,
                    noise_sigma: float) -> dict[str, Any]:
    """The Laplacian detail outputs (8-bit gray levels^2) and the tile map they come from."""
    tiles, ye, xe = laplacian_variance_tiles(gray, noise_sigma=noise_sigma)
    tiles = tiles * GRAY_LEVELS2
    ny, nx = tiles.shape
    s_val, s_used = region_quantile(tiles, tile_means(np.asarray(subject, np.float32), ny, nx),
                                    quantile=PARAMS.subject_quantile)
    b_frac = tile_means(np.asarray(background, np.float32), ny, nx)
    b_val, b_used = region_quantile(tiles, b_frac, quantile=PARAMS.background_quantile,
                                    allow_partial=False)
    return {"sharpness": float(np.quantile(tiles, PARAMS.frame_quantile)),
            "subject_sharpness": s_val, "background_sharpness": b_val, "tiles": tiles,
            "ye": ye, "xe": xe, "subject_tiles": s_used, "background_tiles": b_used,
            "background_any": bool(b_frac.any())}


# ---------------------------------------------------------------------------------------------
# Blur: the background, the subject, the focus plane
# ---------------------------------------------------------------------------------------------
def _orb_units(orbs: list[dict], dm: "dfc.DefocusMap") -> list[tuple[float, float, float, float]]:
    """Bokeh discs as blur evidence: (x, y, diameter, weight) in working px; weight = the
    disc's area in cells (at most PARAMS.orb_weight_cap) times PARAMS.orb_confidence. A disc
    more than ``PARAMS.orb_max_over_local`` times wider than the confident blur of the texture
    around it is left out: a defocused point light cannot be wider than the blur at its depth
    behind the subject, so it is a lit window or a speck, not a defocus disc."""
    out = []
    s = dm.work_scale
    cell = float(np.diff(dm.cell_edges_x).mean()) if dm.cell_edges_x.size > 1 else 32.0
    for o in orbs or []:
        try:
            x, y, r = float(o["x"]), float(o["y"]), float(o["r"])
        except (KeyError, TypeError, ValueError):
            continue
        if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(r) and r > 0):
            continue
        d = 2.0 * r * s
        local, conf = dm.blur_near(x, y, radius=max(r, cell / s))
        if conf >= PARAMS.orb_local_confidence and math.isfinite(local) and \
                2.0 * r > PARAMS.orb_max_over_local * max(local, PARAMS.in_focus_frac * max(dm.shape) / s):
            continue
        w = min(PARAMS.orb_weight_cap, math.pi * d * d / 4.0 / (cell * cell)) * PARAMS.orb_confidence
        out.append(((x + 0.5) * s - 0.5, (y + 0.5) * s - 0.5, d, max(w, 0.05)))
    return out


def blur_measures(dm: "dfc.DefocusMap", orbs: list[dict] | None = None) -> MetricResult:
    """Background and subject blur discs, separation and depth consistency from a defocus map
    and the bokeh family's discs (pure; short output names, blur in working px).

    Examples
    --------
    >>> import numpy as np
    >>> from lenscore.defocus import defocus_map
    >>> r = blur_measures(defocus_map(np.full((128, 128), 0.5, np.float32)))
    >>> r.reasons["background_blur_work_px"]
    'no evidence in the background: it has no texture, edges or bokeh discs to measure blur on'
    """
    nan = math.nan
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    # the in-focus limit: PARAMS.in_focus_frac of the long side (3 px of a 768 px copy), or 3 px
    # of the image that was analysed when that was smaller (an enlarged original)
    long_side = float(max(dm.shape))
    c0 = PARAMS.in_focus_frac * long_side / min(1.0, float(getattr(dm, "analysis_scale", 1.0)))
    bg = dm.region == dfc.REGION_BACKGROUND
    ev = bg & dm.has_evidence
    # cells next to the subject count less: where the subject mask is too small, the subject's
    # own (sharp) edges spill into them
    near = cv2.dilate((dm.region != dfc.REGION_BACKGROUND).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    cw = np.where(near, PARAMS.near_subject_weight, 1.0)
    n_bg, n_ev = float(cw[bg].sum()), float(cw[ev].sum())
    units = _orb_units(orbs or [], dm)
    coverage = n_ev / n_bg if n_bg else 0.0
    cell_area = float(np.diff(dm.cell_edges_x).mean() * np.diff(dm.cell_edges_y).mean()) \
        if dm.cell_edges_x.size > 1 and dm.cell_edges_y.size > 1 else 1024.0
    orb_area = sum(min(math.pi * d * d / 4.0, PARAMS.orb_weight_cap * cell_area) for _, _, d, _ in units)
    values["background_evidence"] = min(1.0, (n_ev + orb_area / cell_area) / n_bg) if n_bg else nan
    enough = bool(units) or (n_ev >= PARAMS.min_background_cells
                             and coverage >= PARAMS.min_background_coverage)
    used_sources: dict[str, int] = {}
    if n_bg == 0:
        values["background_blur_work_px"] = nan
        reasons["background_blur_work_px"] = "no background: the subject fills the frame"
        reasons["background_evidence"] = reasons["background_blur_work_px"]
    elif not enough:
        values["background_blur_work_px"] = nan
        reasons["background_blur_work_px"] = (
            "no evidence in the background: it has no texture, edges or bokeh discs to measure "
            "blur on" if n_ev == 0 else
            f"too little evidence in the background: only {100 * coverage:.0f} % of it "
            f"({int(ev.sum())} regions) shows texture or edges, and no bokeh discs")
    else:
        # sharp detail is an upper bound at the imaging chain's own blur: "in focus", c0
        src = dm.source[ev]
        d = list(np.where(src == dfc.SOURCE_SHARP, c0, dm.diameter[ev]).astype(float))
        w = list((dm.confidence[ev] * cw[ev]).astype(float))
        for k in (dfc.SOURCE_SPECTRUM, dfc.SOURCE_EDGES, dfc.SOURCE_SHARP):
            c = int((src == k).sum())
            if c:
                used_sources[dfc.SOURCE_NAMES[k]] = c
        if units:
            used_sources["bokeh discs"] = len(units)
            d += [u[2] for u in units]
            w += [u[3] for u in units]
        values["background_blur_work_px"] = weighted_quantile(np.array(d), np.array(w), 0.5)
    # subject
    sj = (dm.region == dfc.REGION_SUBJECT) & dm.has_evidence
    pooled = (getattr(dm, "pooled_edges", {}) or {}).get(dfc.REGION_SUBJECT)
    if sj.any():
        dsj = np.where(dm.source[sj] == dfc.SOURCE_SHARP, c0, dm.diameter[sj])
        values["subject_blur_work_px"] = weighted_quantile(dsj, dm.confidence[sj], 0.5)
    elif pooled is not None:
        values["subject_blur_work_px"] = float(pooled[0])  # its edges, pooled (faces are sparse)
    else:
        values["subject_blur_work_px"] = nan
        reasons["subject_blur_work_px"] = (
            "no subject found" if not (dm.region == dfc.REGION_SUBJECT).any() else
            "the subject shows no detail to measure its blur on")
    b, sb = values["background_blur_work_px"], values["subject_blur_work_px"]
    if math.isfinite(b) and math.isfinite(sb):
        values["separation"] = float(math.log10(max(b, c0) / max(sb, c0)))
    else:
        values["separation"] = nan
        reasons["separation"] = reasons.get("background_blur_work_px") or reasons["subject_blur_work_px"]
    # depth consistency over the background's cells with evidence
    # (texture cells only: a light's height in the frame says nothing about its distance)
    ys_a = 0.5 * (dm.cell_edges_y[:-1] + dm.cell_edges_y[1:])[np.nonzero(ev)[0]]
    ds_a = np.where(dm.source[ev] == dfc.SOURCE_SHARP, c0, np.maximum(dm.diameter[ev], c0)).astype(float)
    if not math.isfinite(b):
        values["depth_consistency"] = nan
        reasons["depth_consistency"] = reasons.get("background_blur_work_px", "no background blur")
    elif ds_a.size < PARAMS.depth_min_cells:
        values["depth_consistency"] = nan
        reasons["depth_consistency"] = (f"too few background regions with blur evidence "
                                        f"({ds_a.size}, need {PARAMS.depth_min_cells})")
    else:
        lo, hi = np.quantile(ds_a, [0.1, 0.9])
        if hi / lo < PARAMS.depth_min_spread or np.unique(ys_a).size < 3:
            values["depth_consistency"] = nan
            reasons["depth_consistency"] = (
                f"one depth: the background's blur does not vary beyond measurement error "
                f"(p90/p10 = {hi / lo:.2f})")
        else:
            from scipy.stats import spearmanr

            values["depth_consistency"] = float(spearmanr(-ys_a, ds_a).statistic)
    return MetricResult(values, reasons, {"sources": used_sources, "orb_units": units,
                                          "coverage": coverage, "in_focus_work_px": c0})


def _notes(sources: dict[str, int]) -> str:
    parts = []
    if sources.get("bokeh discs"):
        parts.append(f"{sources['bokeh discs']} bokeh discs")
    if sources.get("spectrum"):
        parts.append(f"the texture of {sources['spectrum']} regions")
    if sources.get("edges"):
        parts.append(f"edges in {sources['edges']} regions")
    if sources.get("sharp detail"):
        parts.append(f"sharp detail in {sources['sharp detail']} regions")
    return "measured from " + (", ".join(parts) if parts else "no evidence")


def compute(ctx) -> MetricResult:
    """The focus family on one :class:`~lenscore.context.ImageContext` (reads ``ctx.defocus``
    and the bokeh family's discs)."""
    if min(ctx.height, ctx.width) < PARAMS.min_side_px:
        return FAMILY.nan_result(f"image too small to measure focus ({ctx.width}x{ctx.height} px; "
                                 f"needs at least {PARAMS.min_side_px} px per side)")
    g = ctx.work_gray
    if not math.isfinite(float(g.sum(dtype=np.float64))):
        return FAMILY.nan_result("the image has non-finite (NaN or infinite) pixels")
    if float(cv2.meanStdDev(g)[1][0, 0]) < PARAMS.uniform_std:
        return FAMILY.nan_result("uniform image: no detail to measure focus on")
    dm = ctx.defocus
    bres = ctx.result("bokeh")
    orbs = list((bres.artifacts or {}).get("orbs", []) or [])
    blur = blur_measures(dm, orbs)
    noise = min(v for v in (ctx.noise_sigma, dm.noise_sigma, math.inf) if np.isfinite(v))
    noise = 0.0 if not np.isfinite(noise) else noise
    det = detail_measures(g, ctx.work_subject_mask, ctx.work_background_mask, noise_sigma=noise)
    inv = 1.0 / ctx.work_scale
    bv, why = blur.values, blur.reasons
    values = {
        "focus.separation": bv["separation"],
        "focus.background_blur_px": bv["background_blur_work_px"] * inv,
        "focus.background_blur_frac": bv["background_blur_work_px"] * inv / ctx.width,
        "focus.subject_blur_px": bv["subject_blur_work_px"] * inv,
        "focus.depth_consistency": bv["depth_consistency"],
        "focus.background_evidence": bv["background_evidence"],
        "focus.sharpness": det["sharpness"],
        "focus.subject_sharpness": det["subject_sharpness"],
        "focus.background_sharpness": det["background_sharpness"],
    }
    reasons = {}
    for k, v in why.items():
        name = k.replace("_work_px", "_px")
        reasons[f"focus.{name}"] = v
    if "focus.background_blur_px" in reasons:
        reasons["focus.background_blur_frac"] = reasons["focus.background_blur_px"]
    elif blur.artifacts["sources"]:
        reasons["focus.background_blur_px"] = _notes(blur.artifacts["sources"])
    if not math.isfinite(det["subject_sharpness"]):
        reasons["focus.subject_sharpness"] = "the subject region is empty"
    if not math.isfinite(det["background_sharpness"]):
        reasons["focus.background_sharpness"] = (
            "no background outside the subject" if not det["background_any"] else
            f"the background fills no {PARAMS.tile_px} px tile even half")
    artifacts = {
        "cell_edges_x": dm.cell_edges_x * inv, "cell_edges_y": dm.cell_edges_y * inv,
        "blur_map_px": (dm.diameter * inv).astype(np.float32),
        "blur_confidence": dm.confidence.astype(np.float32),
        "blur_source": dm.source.astype(np.int8), "blur_region": dm.region.astype(np.int8),
        "orbs": [{"x": (x + 0.5) * inv - 0.5, "y": (y + 0.5) * inv - 0.5, "d": d * inv}
                 for x, y, d, _ in blur.artifacts["orb_units"]],
        "sources": dict(blur.artifacts["sources"]),
        "in_focus_px": blur.artifacts["in_focus_work_px"] * inv,
        "sharpness_map_log10": np.log10(det["tiles"]).astype(np.float32),
        "tile_edges_x": det["xe"] * inv, "tile_edges_y": det["ye"] * inv,
        "tile_px": PARAMS.tile_px, "work_scale": float(ctx.work_scale),
        "subject_box": tuple(int(v) for v in ctx.subject_box),
        "subject_source": ctx.subject_source,
        "noise_sigma": float(noise),
        "image_width": int(ctx.width),
    }
    return MetricResult(values, reasons, artifacts)


def explain(result: MetricResult) -> str:
    """One sentence on why this image scored as it did."""
    v = getattr(result, "values", {}) or {}
    r = getattr(result, "reasons", {}) or {}
    a = getattr(result, "artifacts", {}) or {}
    b, frac = v.get("focus.background_blur_px"), v.get("focus.background_blur_frac")
    sep, sub = v.get("focus.separation"), v.get("focus.subject_blur_px")
    if "focus" in r:
        return f"focus not measured: {r['focus']}"
    if b is None or not math.isfinite(b):
        why = r.get("focus.background_blur_px", "no evidence in the background")
        return f"background blur unknown ({why}): no focus plane can be claimed"
    src = a.get("sources", {}) or {}
    how = "from bokeh discs" if src.get("bokeh discs") and not src.get("spectrum") else \
        ("from bokeh discs and texture" if src.get("bokeh discs") else "from the background's texture")
    if sep is not None and math.isfinite(sep):
        if sep >= 1.0:
            verdict = "shallow focus, the subject stands on its own plane"
        elif sep >= 0.5:
            verdict = "a moderate focus plane"
        elif sep >= 0.2:
            verdict = "a weak focus plane"
        else:
            verdict = "no focus plane: background about as sharp as the subject"
        subj = f", subject {sub:.1f} px" if sub is not None and math.isfinite(sub) else ""
        return f"background discs {b:.0f} px wide ({100 * frac:.1f} % of the frame, {how}){subj}: {verdict}"
    return f"background discs {b:.0f} px wide ({100 * frac:.1f} % of the frame, {how}); subject blur unknown"


# ---------------------------------------------------------------------------------------------
# Validation against ground truth (production path: everything through ImageContext)
# ---------------------------------------------------------------------------------------------
#: scene families of random_focus_scenes whose background carries texture.
TEXTURED = ("street", "brick", "grass", "gravel")
PLAIN = ("wall", "gradient")
#: render size of the quick validation plan (the test suite's): the in-focus limit is then 3 px,
#: 0.8 % of the frame, so discs below that read "in focus" (the full plan renders 1024 px).
VALIDATE_QUICK_SIZE = 512
#: images per demo variant in the validation's compare.
DEMO_N = 16
#: f-numbers of the aperture sweeps, one stop apart.
SWEEP_STOPS = (16.0, 11.0, 8.0, 5.6, 4.0, 2.8, 2.0, 1.4)


def _score_focus(spec, subject_box: bool = False) -> dict[str, Any]:
    """Render one scene and measure it as a user's file would be (8-bit PNG or its JPEG;
    ImageContext; the focus family and what it requires): values and the truth it needs.
    ``subject_box``: give the subject's bounding box as a user would in a manifest (the
    user-override path), instead of the subject model's."""
    from lenscore.context import ImageContext
    from lenscore.datasets.synthetic import render

    r = render(spec)
    rgb = r.rgb if r.jpeg is not None else np.round(np.clip(r.rgb, 0, 1) * 255.0) / 255.0
    box = tuple(r.truth["subject_box"]) if subject_box and r.truth.get("subject_box") else None
    ctx = ImageContext(np.asarray(rgb, np.float32), subject_box=box)
    res = ctx.result("focus")
    bres = ctx.result("bokeh")
    t = r.truth
    coc = r.coc_map
    bgm = ~r.subject_mask
    return {"values": dict(res.values), "reasons": dict(res.reasons),
            "kind": t["background"]["kind"], "depth": t["background"]["depth"],
            "c": float(t["coc_px"]["background"]), "width": int(t["width"]),
            "c_median": float(np.median(coc[bgm])) if bgm.any() else math.nan,
            "c_min": t["background"]["coc_px_min"], "c_max": t["background"]["coc_px_max"],
            "n_orbs": len((bres.artifacts or {}).get("orbs", []) or []),
            "n_lights": int(t["spec"]["n_lights"]), "f_number": float(t["spec"]["f_number"]),
            "seed": int(t["seed"]), "subject_source": ctx.subject_source}


def in_focus_px(long_side: int) -> float:
    """The in-focus limit of the measurement, px of an image with this long side: a share
    ``PARAMS.in_focus_frac`` of the working copy's long side, and 3 px of an image smaller than
    the working copy (it is measured at its own size).

    Examples
    --------
    >>> in_focus_px(1024), in_focus_px(512)
    (4.0, 3.0)
    """
    from lenscore.context import WORK_LONG_SIDE

    return PARAMS.in_focus_frac * max(float(WORK_LONG_SIDE), float(long_side))


def blur_error(est: float, truth: float, floor: float) -> float:
    """|est - truth| / max(truth, floor); 0 when both are at or below ``floor`` (both "in focus" at
    the resolution limit), NaN when ``est`` is NaN.

    Examples
    --------
    >>> blur_error(11.0, 10.0, 3.0), blur_error(2.0, 0.5, 3.0), blur_error(6.0, 1.0, 3.0)
    (0.1, 0.0, 1.6666666666666667)
    """
    if not math.isfinite(est):
        return math.nan
    if truth <= floor and est <= floor * (1.0 + 1e-6):
        return 0.0
    return abs(est - truth) / max(truth, floor)


def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Checks against the renderer's truth and the demo, on the production path (the quick plan:
    200 scenes at 512 px, 12 sweeps; the full plan: 300 scenes at 1024 px, measured twice, with
    the subject model and with the user's subject box, and 60 sweeps)."""
    import functools as ft

    from lenscore.datasets.scenes import random_focus_scenes
    from lenscore.evaluator.executors import parallel_map

    quick = plan.size < 768
    size = VALIDATE_QUICK_SIZE if quick else 1024
    n = 200 if quick else 300
    checks: list[Check] = []
    specs = random_focus_scenes(n, seed=1, size=size)
    checks += _scene_checks(parallel_map(_score_focus, specs, jobs=jobs), size, "")
    if not quick:  # what a better subject mask can reach: the user's subject box
        checks += _scene_checks(parallel_map(ft.partial(_score_focus, subject_box=True), specs,
                                             jobs=jobs), size, " [subject box given]")
    checks += _sweep_checks(quick, size, jobs)
    checks += _validate_demo(jobs, size=768)
    return checks


def _scene_checks(rows: list[dict], size: int, tag: str) -> list["Check"]:
    """The randomised scenes against their truth: error, rank correlation per scene family,
    plain walls."""
    from lenscore.evaluator import validate as V

    checks: list[Check] = []
    floor = in_focus_px(size)
    errs, fam_pairs, plain_nan, plain_n, lit_walls = [], {}, 0, 0, []
    for r in rows:
        est = r["values"].get("focus.background_blur_px", math.nan)
        truth = r["c_median"] if r["depth"] == "ramp" else r["c"]
        if r["kind"] in PLAIN:
            if r["n_orbs"] == 0 and r["n_lights"] == 0:
                plain_n += 1
                plain_nan += not math.isfinite(est)
            else:
                lit_walls.append(blur_error(est, truth, floor))
            continue
        if truth > 0.10 * r["width"]:
            continue  # beyond the range the issue sets (discs of up to 10 % of the frame)
        errs.append(blur_error(est, truth, floor))
        fam_pairs.setdefault(r["kind"], []).append((truth, est))
    e = np.array(errs, float)
    e_fail = np.where(np.isfinite(e), e, np.inf)
    n_nan = int((~np.isfinite(e)).sum())
    med = float(np.quantile(e_fail, 0.5, method="higher"))
    p90 = float(np.quantile(e_fail, 0.9, method="higher"))
    detail = (f"{e.size} textured scenes of random_focus_scenes(seed=1) at {size} px, disc <= 10 % "
              f"of the frame; error vs max(c, the in-focus limit {floor:.1f} px); "
              f"NaN counted as failures ({n_nan})")
    checks.append(V.Check("focus", "background blur disc error (median |rel err|)" + tag, 100 * med,
                          "<= 15 %", bool(med <= 0.15), detail, unit="%"))
    checks.append(V.Check("focus", "background blur disc error (90th percentile)" + tag,
                          100 * p90 if math.isfinite(p90) else math.nan, "<= 35 %",
                          bool(p90 <= 0.35), detail, unit="%"))
    for kind in TEXTURED:
        pts = fam_pairs.get(kind, [])
        rho = V.spearman([p[0] for p in pts], [p[1] for p in pts])
        nf = sum(1 for p in pts if not math.isfinite(p[1]))
        checks.append(V.Check("focus", f"blur disc rank correlation with the true c ({kind}){tag}",
                              rho, ">= 0.95", bool(rho >= 0.95) if math.isfinite(rho) else None,
                              f"{len(pts)} scenes ({nf} NaN left out)"))
    frac = plain_nan / plain_n if plain_n else math.nan
    lw = np.array(lit_walls, float)
    lit_med = float(np.median(np.where(np.isfinite(lw), lw, np.inf))) if lw.size else math.nan
    checks.append(V.Check("focus", "plain walls read NaN (no evidence)" + tag, 100 * frac, ">= 95 %",
                          bool(frac >= 0.95) if plain_n else None,
                          f"{plain_nan}/{plain_n} plain and gradient walls without lights; "
                          f"{len(lit_walls)} walls with point lights are measured from their "
                          f"bokeh discs (median error {100 * lit_med:.0f} %)", unit="%"))
    return checks


def _sweep_checks(quick: bool, size: int, jobs: int) -> list["Check"]:
    """Aperture sweeps: one textured scene, f/16 .. f/1.4 in whole stops."""
    import dataclasses

    from lenscore.datasets.scenes import random_focus_scenes
    from lenscore.evaluator import validate as V
    from lenscore.evaluator.executors import parallel_map

    floor = in_focus_px(size)
    bases = [s for s in random_focus_scenes(60 if quick else 160, seed=2, size=size)
             if s.background in TEXTURED][: (12 if quick else 60)]
    sweep_specs = [dataclasses.replace(s, f_number=nn) for s in bases for nn in SWEEP_STOPS]
    srows = parallel_map(_score_focus, sweep_specs, jobs=jobs)
    k = len(SWEEP_STOPS)
    ordered = used = 0
    for i in range(len(bases)):
        chunk = srows[i * k:(i + 1) * k]
        pts = [(r["c_median"] if r["depth"] == "ramp" else r["c"],
                r["values"].get("focus.background_blur_px", math.nan)) for r in chunk]
        pts = [(t, m) for t, m in pts if 2 * floor <= t <= 0.10 * size]
        if len(pts) < 3:
            continue
        used += 1
        ms = [m for _, m in sorted(pts)]
        ordered += bool(all(math.isfinite(m) for m in ms) and all(b > a for a, b in zip(ms, ms[1:])))
    frac = ordered / used if used else math.nan
    return [V.Check("focus", "background blur ordered with aperture (share of sweeps)",
                    100 * frac, ">= 95 %", bool(frac >= 0.95) if used else None,
                    f"{ordered}/{used} sweeps of f/16..f/1.4 in whole stops at {size} px (the stops "
                    f"whose true disc is 2x the in-focus limit .. 10 % of the frame, >= 3 of them)",
                    unit="%")]


def _validate_demo(jobs: int, *, size: int) -> list["Check"]:
    """The demo's two variants (the article's optical prompt against "blurred crowd"), compared
    as ``lenscore compare`` does."""
    import pandas as pd

    from lenscore.datasets.synthetic import demo_specs
    from lenscore.evaluator import validate as V
    from lenscore.evaluator.executors import parallel_map
    from lenscore.reports.compare import compare_scores

    # 16 per variant: with lenscore demo's default 12, the exact sign-flip test's smallest p
    # (2 / 2^12) times the outputs Holm corrects for cannot go below 0.01
    specs = [(v, s) for v in ("blurred", "optical") for s in demo_specs(v, DEMO_N, size=size)]
    rows = parallel_map(_score_focus, [s for _, s in specs], jobs=jobs)
    table = pd.DataFrame([{"variant": v, "prompt": "demo", "seed": str(s.seed), "status": "ok",
                           **r["values"]} for (v, s), r in zip(specs, rows)])
    outs = [o.name for o in OUTPUTS]
    cmp = compare_scores(table, baseline="blurred", outputs=outs)
    res = {r.output: r for r in cmp.pairs[0].results}
    checks = []
    for name in ("focus.background_blur_px", "focus.separation"):
        r = res.get(name)
        if r is None:
            checks.append(V.missing("focus", f"demo: optical better than blurred on {name}",
                                    "better, Holm p < 0.01", name))
            continue
        ok = r.verdict == "better" and r.p_holm < 0.01
        checks.append(V.Check("focus", f"demo: optical better than blurred on {name} (Holm p)",
                              r.p_holm, "better, < 0.01", bool(ok),
                              f"{r.verdict}; means {r.mean_baseline:.3g} -> {r.mean_variant:.3g} "
                              f"(n {r.n_baseline}+{r.n_variant}, {size} px)"))
    return checks


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: the background's blur-disc map (colour = disc diameter as a share of the
    frame, log scale; grey = no evidence), the bokeh discs used (green circles), the subject box,
    and a colour legend."""
    from lenscore import drawing as dr

    img, s = dr.thumbnail(rgb, long_side)
    art = getattr(result, "artifacts", {}) or {}
    vals = getattr(result, "values", {}) or {}
    h, w = img.shape[:2]
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    out = np.repeat(gray[..., None], 3, axis=2).astype(np.float32) * 0.75
    bmap = art.get("blur_map_px")
    ex, ey = art.get("cell_edges_x"), art.get("cell_edges_y")
    width_px = float(art.get("image_width") or (rgb.shape[1] if hasattr(rgb, "shape") else w))
    lo_f, hi_f = 0.002, 0.12  # colour scale: 0.2 % .. 12 % of the frame width, log

    def colour_of(frac: np.ndarray) -> np.ndarray:
        frac = np.asarray(frac, np.float64)
        f = np.where(np.isfinite(frac), frac, lo_f)
        t = (np.log(np.clip(f, lo_f, hi_f)) - math.log(lo_f)) / (math.log(hi_f) - math.log(lo_f))
        return dr.colormap(0.15 + 0.85 * t).reshape(frac.shape + (3,)).astype(np.float32)

    if bmap is not None and ex is not None and ey is not None and np.size(bmap) and \
            len(ex) == np.shape(bmap)[1] + 1 and len(ey) == np.shape(bmap)[0] + 1:
        bmap = np.asarray(bmap, np.float32)
        conf = np.asarray(art.get("blur_confidence", np.isfinite(bmap).astype(np.float32)), np.float32)
        xs = np.clip(np.round(np.asarray(ex, float) * s).astype(int), 0, w)
        ys = np.clip(np.round(np.asarray(ey, float) * s).astype(int), 0, h)
        cols = colour_of(bmap / width_px)
        for i in range(bmap.shape[0]):
            for j in range(bmap.shape[1]):
                if np.isfinite(bmap[i, j]) and conf[i, j] > 0:
                    a = 0.35 + 0.4 * float(min(1.0, conf[i, j]))
                    blk = out[ys[i]:ys[i + 1], xs[j]:xs[j + 1]]
                    blk[:] = (1 - a) * blk + a * cols[i, j]
    out = np.clip(out, 0, 255).astype(np.uint8)
    thick = max(2, int(round(w / 300)))
    for o in art.get("orbs", []) or []:
        try:
            cx, cy, d = float(o["x"]), float(o["y"]), float(o["d"])
        except (KeyError, TypeError, ValueError):
            continue
        if dr.finite(cx, cy, d):
            col = tuple(int(v) for v in colour_of(np.array([d / width_px]))[0])
            c, r = (int(round(cx * s)), int(round(cy * s))), max(2, int(round(d * s / 2)))
            cv2.circle(out, c, r, dr.WHITE, thick + 2, cv2.LINE_AA)
            cv2.circle(out, c, r, col, thick, cv2.LINE_AA)
    sb = art.get("subject_box")
    if sb is not None:
        dr.box(out, sb, s, dr.CYAN, f"subject ({art.get('subject_source', '')})".replace(" ()", ""))
    # legend: a colour bar along the bottom right with ticks in % of the frame
    bar_h = max(8, h // 40)
    x0, x1 = int(0.40 * w), int(0.96 * w)
    y1 = h - max(4, h // 60)
    y0 = y1 - bar_h
    ramp = np.exp(np.linspace(math.log(lo_f), math.log(hi_f), max(2, x1 - x0)))
    out[y0:y1, x0:x1] = colour_of(ramp)[None, :, :].astype(np.uint8)
    for f in (0.005, 0.01, 0.03, 0.1):
        tx = x0 + int((math.log(f) - math.log(lo_f)) / (math.log(hi_f) - math.log(lo_f)) * (x1 - x0))
        cv2.line(out, (tx, y0 - 3), (tx, y1), dr.WHITE, 1)
        dr.text(out, f"{100 * f:g}%", (tx - 8, y0 - 5), dr.WHITE, 0.45)
    sep, b, sub = vals.get("focus.separation"), vals.get("focus.background_blur_px"), \
        vals.get("focus.subject_blur_px")
    frac = vals.get("focus.background_blur_frac")
    line1 = f"focus: separation {dr.fmt(sep)} (log10 background / subject blur disc)"
    subj = f"; subject {sub:.1f} px" if dr.finite(sub) else ""
    if dr.finite(b):
        srcs = art.get("sources", {}) or {}
        short = {"bokeh discs": "discs", "spectrum": "texture", "sharp detail": "sharp"}
        how = ", ".join(f"{v} {short.get(k, k)}" for k, v in srcs.items())
        line2 = f"background {b:.1f} px = {100 * float(frac):.1f} % of width ({how}){subj}"
    else:
        line2 = "background blur: " + (dr.reason(result, "focus.background_blur_px") or "not measured")
    line3 = "colour: blur disc, % of width; grey: no evidence; circles: bokeh discs used"
    return dr.banner(out, [line1, line2, line3])


FAMILY = register(MetricFamily(
    name="focus", version="6",
    method=("Defocus map from evidence (lenscore.defocus): disc transfer-function zeros in the "
            "spectra of textured regions (Cannon 1976; Pentland 1987) at three scales, gradient "
            "ratio after re-blur at edges for small discs (Zhuo & Sim 2011), highlights left out "
            "by brightness; the bokeh family's optical discs as blur evidence; separation = "
            "log10 background / subject blur disc; noise-corrected multi-scale Laplacian "
            "variance as the detail baseline (Pech-Pacheco et al. 2000)"),
    # the defocus map's parameters are part of what its numbers depend on (the cache key)
    outputs=OUTPUTS, compute=compute, params={**params_dict(PARAMS), "defocus": params_dict(dfc.PARAMS)},
    requires=("bokeh",),
    title="Focus", headline=("focus.separation", "focus.background_blur_px"), order=10,
    explain=explain, draw=draw, validate=validate))
