"""skin: does the skin carry pore-scale texture, or is it plastic? Plus its specular (sebum) shine.

Method
------
1. **Face and scale.** The face is ``ctx.face_box`` (OpenCV Haar cascade, full-resolution px;
   with a subject box from the manifest, the largest face inside that box). The cheeks and
   forehead are cut from the FULL-resolution image (pores need resolution; the 768 px working
   copy would lose them) and resampled so the face box is ``face_width_px`` = 256 px wide. Every
   length below is in these *normalised* px, i.e. a fixed fraction of the face width, so the
   same face at 1350 px and at 675 px is measured at the same physical scale. The gray crop is
   low-passed before resampling by a Gaussian of ``prefilter_sigma`` normalised px
   (``prefilter_sigma * k`` source px, k = source px per normalised px) and resampled bicubically:
   the Gaussian anti-aliases (JPEG block edges and sub-pore detail would otherwise fold into the
   band) and the whole chain then has the same transfer function at the band for every k
   (measured: within 2 % for k = 1..4; area averaging alone varied by 11 %). Faces narrower than
   ``min_face_px`` (128) are not measured: their pores are below the image's resolution (the
   London faces shrunk to 200-240 px read 0.86-0.96 of their full-resolution score, to
   125-150 px 0.64-0.92, to 100-120 px 0.29-0.73).
   Without a detected face, a skin mask from the manifest (``ctx.user_skin_mask``) is used as
   it is, its bounding-box width standing in for the face width; else a subject box from the
   manifest gives a face *estimate* (the inverse of :data:`HEAD_SHOULDERS`:
   the box is taken to be head and shoulders, as lenscore's own subject box is; the face is its
   upper-central part). ``face_found`` stays 0 then, and a note says so. Otherwise the texture is
   NaN, "no face found".
2. **Skin mask** (normalised crop): a geometric template in face-box coordinates, a forehead
   ellipse under the hairline and above the brows and one ellipse per cheek below the lower lids
   and beside the nose (eyes, brows, nose, nostrils and mouth lie outside it by construction;
   placed from the 189-point FRL landmarks of the London set), AND the YCrCb skin-colour model
   of Chai & Ngan (1999, IEEE TCSVT 9(4), "Face segmentation using skin-color map": Cr 133-173,
   Cb 77-127; computed from R, G, B in that order), AND a luma floor (``min_luma_frac`` of the
   cheeks' median: dark hair and brows pass the chroma test, they fail this one), opened with a
   ``open_px`` ellipse (skin seen between the strands of a fringe is hair edges, not pores).
   Bright, desaturated specular pixels enclosed by skin count as skin (a sebum highlight is
   skin, though its chroma leaves the YCrCb box). A mask from the manifest wins over all this.
3. **Pore-band energy** (band-limited contrast, Peli 1990, JOSA A 7(10), "Contrast in complex
   images"): pixels outside the mask are filled with the local skin luma L (normalised
   convolution, Knutsson & Westin 1993, Gaussian ``lum_sigma``), so hair, eyes and background
   add no edges; the band is a difference of Gaussians of sigma ``pore_band`` = (1, 2) normalised
   px (peak wavelength ~6.5 px = face width / 39: the finest scale a 256 px face still resolves;
   true pores, 0.1-0.3 mm, are finer than any face in the test data resolves, so this is the
   fine skin micro-relief in which they sit), divided by L; the energy is the mean of its square
   over each region (forehead, left cheek, right cheek) of the mask eroded by ``erode_px``,
   leaving out edges: band contrast above ``edge_contrast`` (5 %; skin texture here has an RMS
   of 0.4-0.8 %; or 6 robust sigmas of the face's own texture if that is higher) and
   ``edge_dilate_px`` around it (a drawn face contour, a hair strand).
4. **Noise floor.** White noise of std sigma_n in the source (Immerkaer 1996, "Fast noise
   variance estimation", measured on the full-resolution crop at the skin pixels) adds
   ``sigma_n^2 * G(k) * mean(1/L^2)`` to the energy, where G(k) is the exact variance gain of the
   linear chain prefilter -> resample -> DoG for unit white noise (:func:`noise_band_gain`,
   from its impulse response). It is subtracted and the result floored at 0 (cf. Liu, Tanaka &
   Okutomi 2013 on noise-aware texture measures), so generator grain does not read as pores.
5. **Score.** ``skin.texture_energy`` = ``energy_scale`` (1e4) x the noise-corrected energy,
   i.e. the squared RMS pore-band contrast in percent (unit "%^2"; sqrt gives the RMS contrast
   in %), averaged over the regions weighted by pixel count, leaving out a region above
   ``outlier_factor`` (2) x the median region (a fringe, forehead lines or stubble, not pores).
   The design card suggests a ratio to the low band (DoG ``low_band`` = (4, 16) px: shading and
   relief); it is computed and kept in the artifacts (``bands["band_ratio"]``). On the London
   ladder both were monotonic and resolution-stable alike; the absolute contrast was kept
   because it does not move with the lighting (a harder key light raises the low band) and it
   separates the real London faces from the generated ones a little more (3.05x vs 2.81x ratio
   of medians, scripts/validate_skin_london.py).
6. **Specular fraction.** Pixels of the template enclosed by skin whose luma exceeds the local
   skin luma (normalised convolution, ``spec_sigma``) by ``spec_gain`` and whose HSV
   saturation is below ``spec_sat_frac`` of the skin's median: bright and whiter than the skin
   around them, i.e. the key light reflected by sebum (dichromatic model, Shafer 1985). Share of
   the skin mask, 0..1, direction "neither": 0 is matte (or powdered), the London studio faces
   read 0.000-0.03; above ~0.1 reads oily or wet.

Outputs: ``skin.texture_energy`` (%^2, higher = more pore-scale texture),
``skin.face_found`` (flag), ``skin.specular_fraction`` (fraction), ``skin.mask_fraction``
(share of the template accepted as skin), ``skin.face_width_px`` (full-resolution px).

Artifacts (for reports): ``face_source`` ('face' |
'user_mask' | 'subject_box'); ``face_box`` (x, y, w, h) full-res px; ``crop_box`` (x, y, w, h)
full-res px of the analysed region; ``scale`` (normalised px per full-res px); ``mask`` and
``specular_mask`` (bool, normalised grid: resize to ``crop_box``'s w x h to overlay);
``bands`` {"pore", "pore_noise_floor", "pore_corrected", "low", "band_ratio", "noise_sigma",
"rms_contrast", "regions": [per-region dicts or None]} (contrast^2 units, unscaled).

References
----------
.. [1] D. Chai, K. N. Ngan, "Face segmentation using skin-color map in videophone
   applications", IEEE TCSVT 9(4), 1999. https://doi.org/10.1109/76.767122
.. [2] E. Peli, "Contrast in complex images", JOSA A 7(10), 1990.
   https://doi.org/10.1364/JOSAA.7.002032
.. [3] H. Knutsson, C.-F. Westin, "Normalized and differential convolution", CVPR 1993.
   https://doi.org/10.1109/CVPR.1993.341081
.. [4] J. Immerkaer, "Fast noise variance estimation", CVIU 64(2), 1996.
   https://doi.org/10.1006/cviu.1996.0060
.. [5] X. Liu, M. Tanaka, M. Okutomi, "Single-image noise level estimation for blind
   denoising", IEEE TIP 22(12), 2013. https://doi.org/10.1109/TIP.2013.2283400
.. [6] S. A. Shafer, "Using color to separate reflection components", Color Research &
   Application 10(4), 1985. https://doi.org/10.1002/col.5080100409
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

import cv2
import numpy as np

from lenscore import imaging
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.evaluator.validate import Check, Plan



@dataclass(frozen=True)
class SkinParams:
    """Every tunable constant of this family: the only place a default lives (it goes into
    the cache key and ``summary.json``). Lengths in normalised px (face box = face_width_px);
    see the module docstring for what each one does."""

    face_width_px: int = 256
    min_face_px: int = 128
    crop_u: tuple[float, ...] = (0.06, 0.94)
    crop_v: tuple[float, ...] = (-0.10, 0.80)
    prefilter_sigma: float = 0.6
    pore_band: tuple[float, ...] = (1.0, 2.0)
    low_band: tuple[float, ...] = (4.0, 16.0)
    lum_sigma: float = 8.0
    erode_px: int = 2
    open_px: int = 5
    min_region_px: int = 100
    min_region_frac: float = 0.3
    outlier_factor: float = 2.0
    edge_contrast: float = 0.05
    edge_k: float = 6.0
    edge_dilate_px: int = 4
    ycrcb_cr: tuple[int, ...] = (133, 173)
    ycrcb_cb: tuple[int, ...] = (77, 127)
    min_luma_frac: float = 0.5
    spec_sigma: float = 24.0
    spec_gain: float = 1.12
    spec_sat_frac: float = 0.75
    energy_scale: float = 1.0e4


PARAMS = SkinParams()

#: Geometric skin template: ellipses (centre u, centre v, radius u, radius v) in face-box units
#: (u = (x - box_x) / box_w, v = (y - box_y) / box_h) of OpenCV's Haar frontal-face box.
#: On the 8 London faces (FRL landmarks): brows start at v >= 0.21, lower lids end at
#: v <= 0.49, the nose wings lie at |u - 0.5| <= 0.13, the mouth starts at v >= 0.71.
TEMPLATE = (
    (0.50, 0.07, 0.20, 0.10),    # forehead
    (0.25, 0.615, 0.11, 0.115),  # cheek (image left)
    (0.75, 0.615, 0.11, 0.115),  # cheek (image right)
)

OUTPUTS = (
    Output("skin.texture_energy", "%^2", "higher", (0.0, math.inf),
           "Pore-scale texture on the cheeks and forehead: squared RMS band-limited contrast "
           "(DoG at face width/39, over the local luminance) in percent, white-noise floor "
           "removed. Real studio portraits at 1350 px: 0.15-0.61; generated ID portraits: "
           "0.03-0.24; 0 = plastic."),
    Output("skin.face_found", "flag", "neither", (0.0, 1.0),
           "1 if a detected face placed the skin mask, 0 if no face was detected."),
    Output("skin.specular_fraction", "fraction", "neither", (0.0, 1.0),
           "Share of the skin that is bright, desaturated specular (sebum) highlight. "
           "0 matte; studio portraits 0-0.03; above ~0.1 reads oily or wet."),
    Output("skin.mask_fraction", "fraction", "neither", (0.0, 1.0),
           "Share of the cheek/forehead template accepted as skin (low: hair, shadow, "
           "or a face the template misses)."),
    Output("skin.face_width_px", "px", "neither", (0.0, math.inf),
           "Width of the face used, full-resolution px (the texture needs >= 128, "
           "reads low below ~200)."),
)

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


# ---------------------------------------------------------------------------------------------
# The face crop and the skin mask
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceCrop:
    """Cheeks and forehead cut from the full-resolution image, resampled to a fixed face width.

    ``rgb`` (sRGB, for colour), ``gray`` (BT.709 luma of the sRGB values, low-passed by
    ``prefilter_sigma`` normalised px then resampled, for the bands), ``noise_abs``
    (|Immerkaer kernel * gray| at SOURCE resolution, sampled at the crop's pixel centres),
    ``face_box`` (x, y, w, h) in crop px, ``crop_box`` (x, y, w, h) in source px, ``k`` source
    px per crop px.
    """

    rgb: np.ndarray
    gray: np.ndarray
    noise_abs: np.ndarray
    face_box: tuple[float, float, float, float]
    crop_box: tuple[int, int, int, int]
    k: float


def face_crop(rgb: np.ndarray, face_box, *, face_width_px: int = PARAMS.face_width_px,
              crop_u=PARAMS.crop_u, crop_v=PARAMS.crop_v, prefilter_sigma: float = PARAMS.prefilter_sigma,
              region=None) -> FaceCrop:
    """Cut the skin region of a face and resample it so the face box is ``face_width_px`` wide.

    Parameters
    ----------
    rgb : H x W x 3 float sRGB in [0, 1] (full resolution).
    face_box : (x, y, w, h) source px; its width sets the scale k = w / face_width_px.
    crop_u, crop_v : the region cut, in face-box units (the template's extent plus a margin).
    region : (x, y, w, h) source px, optional; cut this instead (a manifest's mask).
    """
    H, W = rgb.shape[:2]
    fx, fy, fw, fh = (float(v) for v in face_box)
    if region is None:
        region = (fx + crop_u[0] * fw, fy + crop_v[0] * fh,
                  (crop_u[1] - crop_u[0]) * fw, (crop_v[1] - crop_v[0]) * fh)
    rx, ry, rw, rh = (float(v) for v in region)
    x0, y0 = min(W - 1, max(0, int(math.floor(rx)))), min(H - 1, max(0, int(math.floor(ry))))
    x1, y1 = max(x0 + 1, min(W, int(math.ceil(rx + rw)))), max(y0 + 1, min(H, int(math.ceil(ry + rh))))
    k = fw / float(face_width_px)
    src = rgb[y0:y1, x0:x1]
    ch, cw = src.shape[:2]
    size = (max(1, int(round(cw / k))), max(1, int(round(ch / k))))
    gray = imaging.luma(src)
    noise_abs = imaging.immerkaer_response(gray)
    gray_c = resample_gray(gray, k, size, prefilter_sigma=prefilter_sigma)
    rgb_c = np.clip(cv2.resize(src, size, interpolation=cv2.INTER_LINEAR), 0.0, 1.0)  # colour only
    xs = np.clip(((np.arange(size[0]) + 0.5) * k).astype(np.int64), 0, cw - 1)
    ys = np.clip(((np.arange(size[1]) + 0.5) * k).astype(np.int64), 0, ch - 1)
    noise_c = noise_abs[np.ix_(ys, xs)]
    box_c = ((fx - x0) / k, (fy - y0) / k, fw / k, fh / k)
    return FaceCrop(rgb_c.astype(np.float32), gray_c.astype(np.float32),
                    noise_c.astype(np.float32), box_c, (x0, y0, x1 - x0, y1 - y0), k)


def template_labels(shape: tuple[int, int], face_box, *, template=TEMPLATE) -> np.ndarray:
    """uint8 map: 0 outside the template, i + 1 inside ellipse i of ``template`` (later wins)."""
    h, w = shape[:2]
    x, y, bw, bh = (float(v) for v in face_box)
    u = ((np.arange(w, dtype=np.float32) + 0.5) - x) / bw
    v = ((np.arange(h, dtype=np.float32) + 0.5) - y) / bh
    out = np.zeros((h, w), dtype=np.uint8)
    for i, (cu, cv, ru, rv) in enumerate(template):
        out[(((u[None, :] - cu) / ru) ** 2 + ((v[:, None] - cv) / rv) ** 2) <= 1.0] = i + 1
    return out


def ycrcb_skin(rgb: np.ndarray, *, cr=PARAMS.ycrcb_cr, cb=PARAMS.ycrcb_cb) -> np.ndarray:
    """Chai & Ngan (1999) skin-colour map (:func:`lenscore.imaging.skin_colour_map`) on sRGB in
    [0, 1] (R, G, B order); bool H x W."""
    return imaging.skin_colour_map(rgb, cr=cr, cb=cb)


def masked_mean(img: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution (Knutsson & Westin 1993): local Gaussian mean of ``img`` over ``mask``."""
    m = mask.astype(np.float32)
    num = smooth(img * m, sigma)
    den = smooth(m, sigma)
    fallback = float(img[mask].mean()) if mask.any() else float(img.mean())
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
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    return ((mx - mn) / np.maximum(mx, 1e-6)).astype(np.float32)


def skin_masks(rgb: np.ndarray, gray: np.ndarray, labels: np.ndarray, *, user_region: bool = False,
               cr=PARAMS.ycrcb_cr, cb=PARAMS.ycrcb_cb, min_luma_frac: float = PARAMS.min_luma_frac, open_px: int = PARAMS.open_px,
               spec_sigma: float = PARAMS.spec_sigma, spec_gain: float = PARAMS.spec_gain, spec_sat_frac: float = PARAMS.spec_sat_frac):
    """Skin and specular masks on a (normalised) face crop.

    Parameters
    ----------
    rgb, gray : the crop (sRGB, luma).
    labels : template labels (:func:`template_labels`; 1 = forehead, 2 and 3 = cheeks), or a
        manifest's mask as 0/1 with ``user_region=True``: then it IS the skin mask, and
        speculars are looked for inside it.

    Returns
    -------
    skin : bool
        template AND YCrCb skin AND luma >= ``min_luma_frac`` x the cheeks' median, opened by
        an ``open_px`` ellipse; OR specular.
    specular : bool
        template pixels enclosed by skin, brighter than ``spec_gain`` x the local skin luma and
        less saturated than ``spec_sat_frac`` x the skin's median saturation.
    """
    tmpl = labels > 0
    empty = np.zeros_like(tmpl)
    colour = ycrcb_skin(rgb, cr=cr, cb=cb)
    ref_region = tmpl if user_region else labels >= 2
    ref_px = gray[ref_region & colour]
    if ref_px.size < 20:
        ref_px = gray[tmpl & colour]
    if ref_px.size == 0:
        return (tmpl.copy() if user_region else empty), empty
    colour &= gray >= min_luma_frac * float(np.median(ref_px))
    c8 = colour.astype(np.uint8)
    if open_px > 1:
        c8 = cv2.morphologyEx(c8, cv2.MORPH_OPEN,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (open_px, open_px)))
    colour = cv2.morphologyEx(c8, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)
    skin = tmpl.copy() if user_region else colour & tmpl
    if not skin.any():
        return skin, empty
    sat = saturation(rgb)
    local = masked_mean(gray, skin, spec_sigma)
    sat_ref = float(np.median(sat[skin]))
    inside = tmpl if user_region else fill_holes(colour)
    specular = tmpl & inside & (gray >= spec_gain * local) & (sat <= spec_sat_frac * sat_ref)
    return skin | specular, specular


# ---------------------------------------------------------------------------------------------
# Band energies
# ---------------------------------------------------------------------------------------------
def band_energies(gray: np.ndarray, mask: np.ndarray, labels: np.ndarray | None = None, *,
                  noise_sigma: float = 0.0, k: float = 1.0, prefilter_sigma: float = PARAMS.prefilter_sigma,
                  pore_band=PARAMS.pore_band, low_band=PARAMS.low_band, lum_sigma: float = PARAMS.lum_sigma,
                  erode_px: int = PARAMS.erode_px, min_region_px: int = PARAMS.min_region_px, min_region_frac: float = PARAMS.min_region_frac,
                  outlier_factor: float = PARAMS.outlier_factor, edge_contrast: float = PARAMS.edge_contrast,
                  edge_k: float = PARAMS.edge_k, edge_dilate_px: int = PARAMS.edge_dilate_px) -> dict:
    """Band-limited contrast energies of ``gray`` on skin (Peli 1990), noise floor removed.

    Pixels outside ``mask`` are filled with the local skin luminance L (normalised
    convolution) before filtering, so non-skin edges add nothing; the band response is divided
    by L, squared, and averaged over each region ``labels == i`` (i = 1, 2, ...; default: the
    whole mask) of the mask eroded by ``erode_px``, leaving out edges: pixels whose band
    contrast exceeds max(``edge_contrast``, ``edge_k`` x 1.4826 x median |response|), and
    ``edge_dilate_px`` around them (unless that would leave less than half the skin). A region
    left with fewer than
    ``min_region_px`` pixels or ``min_region_frac`` of its area is skipped. The regions are
    combined by their pixel-weighted mean, leaving out any region above ``outlier_factor`` x
    the median region.

    Parameters
    ----------
    gray : normalised face crop (luma, already low-passed by ``prefilter_sigma``).
    mask : bool skin mask on the same grid.
    noise_sigma : std of white noise in the SOURCE image (gray units); k : source px per crop px.

    Returns
    -------
    dict: ``pore`` (raw mean squared contrast), ``pore_noise_floor``, ``pore_corrected``
    (max(0, pore - floor)), ``low`` (low band, floor removed), ``band_ratio``
    (pore_corrected / low), ``n`` (pixels used), ``regions`` (one dict per label, None if
    skipped; ``used`` says whether it entered the mean). NaN when no region is measurable.
    """
    nan = float("nan")
    out = {"pore": nan, "pore_noise_floor": nan, "pore_corrected": nan, "low": nan,
           "band_ratio": nan, "n": 0, "regions": []}
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
    linv = 1.0 / np.maximum(L, 0.02)
    kk = round(float(k), 3)
    gain_p = noise_band_gain(kk, (float(pore_band[0]), float(pore_band[1])), float(prefilter_sigma))
    gain_l = noise_band_gain(kk, (float(low_band[0]), float(low_band[1])), float(prefilter_sigma))
    pore = (cv2.GaussianBlur(filled, (0, 0), pore_band[0])
            - cv2.GaussianBlur(filled, (0, 0), pore_band[1])) * linv
    low = (smooth(filled, low_band[0]) - smooth(filled, low_band[1])) * linv
    if edge_contrast > 0 and core.any():
        # edges inside the mask (a drawn face contour, a strand of hair, a nostril rim) reach
        # band contrasts that skin texture does not (London skin: RMS 0.4-0.8 %); leave them
        # and their filter's reach out. The threshold is a fixed contrast (added grain must not
        # move it) unless the face's own texture is strong: then edge_k robust sigmas. If it
        # would remove most of the skin, the skin is what it is and nothing is removed.
        a = np.abs(pore)
        thresh = max(edge_contrast, edge_k * 1.4826 * float(np.median(a[core])))
        out_px = (a > thresh) & core
        if out_px.any():
            d = 2 * edge_dilate_px + 1
            out_px = cv2.dilate(out_px.astype(np.uint8), cv2.getStructuringElement(
                cv2.MORPH_ELLIPSE, (d, d))).astype(bool)
            kept = core & ~out_px
            if kept.sum() >= 0.5 * core.sum():
                core = kept
    per: list[dict | None] = []
    for lab in range(1, int(labels.max()) + 1):
        reg = labels == lab
        m = core & reg
        if m.sum() < max(min_region_px, min_region_frac * reg.sum()):
            per.append(None)
            continue
        inv_l2 = float(np.mean(linv[m].astype(np.float64) ** 2))
        e_p = float(np.mean(pore[m].astype(np.float64) ** 2))
        e_l = float(np.mean(low[m].astype(np.float64) ** 2))
        f_p = noise_sigma ** 2 * gain_p * inv_l2
        f_l = noise_sigma ** 2 * gain_l * inv_l2
        c_p, c_l = max(0.0, e_p - f_p), max(0.0, e_l - f_l)
        per.append({"pore": e_p, "pore_noise_floor": f_p, "pore_corrected": c_p, "low": c_l,
                    "band_ratio": c_p / c_l if c_l > 0 else nan, "n": int(m.sum()), "used": True})
    out["regions"] = per
    ok = [r for r in per if r is not None]
    if not ok:
        return out
    med = float(np.median([r["pore_corrected"] for r in ok]))
    for r in ok:
        r["used"] = not (med > 0 and r["pore_corrected"] > outlier_factor * med)
    ok = [r for r in ok if r["used"]]
    wts = np.array([r["n"] for r in ok], dtype=np.float64)
    for key in ("pore", "pore_noise_floor", "pore_corrected", "low"):
        out[key] = float(np.sum(np.array([r[key] for r in ok]) * wts) / np.sum(wts))
    out["band_ratio"] = out["pore_corrected"] / out["low"] if out["low"] > 0 else nan
    out["n"] = int(wts.sum())
    return out


def masked_noise_sigma(noise_abs: np.ndarray, mask: np.ndarray) -> float:
    """Immerkaer (1996) noise std from |kernel * image| samples on the mask (mean-absolute form)."""
    if not mask.any():
        return float("nan")
    return float(math.sqrt(math.pi / 2.0) / 6.0 * float(np.mean(noise_abs[mask], dtype=np.float64)))


# ---------------------------------------------------------------------------------------------
# One face, end to end
# ---------------------------------------------------------------------------------------------
#: a head-and-shoulders box around a face (x, y, w, h), in face widths/heights: left, top,
#: right, bottom (how a manifest's subject box is read when no face is found inside it).
HEAD_SHOULDERS = (1.2, 0.6, 1.2, 2.2)


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


def measure_skin(rgb: np.ndarray, face_box, *, user_mask: np.ndarray | None = None,
                 regions: np.ndarray | None = None, params: dict | None = None) -> dict:
    """Everything the skin family reports for one face (pure; no context needed).

    Parameters
    ----------
    rgb : full-resolution sRGB float image (H x W x 3, [0, 1]).
    face_box : (x, y, w, h) full-res px; its width sets the scale.
    user_mask : bool H x W, optional; replaces the skin model (the crop covers its bounding box).
    regions : uint8 H x W, optional; the face's skin regions from its landmarks (1 forehead, 2
        and 3 cheeks, 4 nose bridge; :func:`landmark_regions`), used instead of the geometric
        template (the skin-colour model still applies inside them).
    params : overrides of :data:`PARAMS`.

    Returns
    -------
    dict: ``texture_energy`` (scaled by ``energy_scale``), ``specular_fraction``,
    ``mask_fraction``, ``bands`` (:func:`band_energies` plus ``noise_sigma``, ``rms_contrast``),
    ``noise_sigma``, ``crop`` (:class:`FaceCrop`), ``mask``, ``specular_mask``, ``labels``,
    ``reason`` (None when measurable).
    """
    p = dataclasses.replace(PARAMS, **(params or {}))
    region = None
    area = user_mask if user_mask is not None else (regions > 0 if regions is not None else None)
    if area is not None and area.any():
        ys, xs = np.nonzero(area)
        pad = 2.0 * p.lum_sigma * float(face_box[2]) / p.face_width_px
        region = (xs.min() - pad, ys.min() - pad, xs.max() - xs.min() + 1 + 2 * pad,
                  ys.max() - ys.min() + 1 + 2 * pad)
    crop = face_crop(rgb, face_box, face_width_px=p.face_width_px, crop_u=p.crop_u,
                     crop_v=p.crop_v, prefilter_sigma=p.prefilter_sigma, region=region)
    if user_mask is None and regions is not None:
        x0, y0, cw, chh = crop.crop_box
        labels = cv2.resize(np.ascontiguousarray(regions[y0:y0 + chh, x0:x0 + cw]),
                            crop.gray.shape[::-1], interpolation=cv2.INTER_NEAREST)
    elif user_mask is None:
        labels = template_labels(crop.gray.shape, crop.face_box)
    else:
        x0, y0, cw, chh = crop.crop_box
        um = np.ascontiguousarray(user_mask[y0:y0 + chh, x0:x0 + cw]).astype(np.uint8)
        labels = cv2.resize(um, crop.gray.shape[::-1], interpolation=cv2.INTER_NEAREST)
    skin, spec = skin_masks(crop.rgb, crop.gray, labels, user_region=user_mask is not None,
                            cr=p.ycrcb_cr, cb=p.ycrcb_cb, min_luma_frac=p.min_luma_frac,
                            open_px=p.open_px, spec_sigma=p.spec_sigma,
                            spec_gain=p.spec_gain, spec_sat_frac=p.spec_sat_frac)
    n_tmpl = int((labels > 0).sum())
    nan = float("nan")
    out = {"crop": crop, "mask": skin, "specular_mask": spec, "labels": labels,
           "mask_fraction": float(skin.sum() / n_tmpl) if n_tmpl and user_mask is None else nan,
           "texture_energy": nan, "specular_fraction": nan, "noise_sigma": nan, "bands": {},
           "reason": None}
    if skin.sum() < p.min_region_px:
        out["reason"] = ("too little skin on the cheeks and forehead (hair, shadow, "
                         "a turned face, or not skin-coloured)")
        return out
    sigma_n = masked_noise_sigma(crop.noise_abs, skin)
    bands = band_energies(crop.gray, skin, labels, noise_sigma=sigma_n, k=crop.k,
                          prefilter_sigma=p.prefilter_sigma, pore_band=p.pore_band,
                          low_band=p.low_band, lum_sigma=p.lum_sigma,
                          erode_px=p.erode_px, min_region_px=p.min_region_px,
                          min_region_frac=p.min_region_frac, outlier_factor=p.outlier_factor,
                          edge_contrast=p.edge_contrast, edge_k=p.edge_k,
                          edge_dilate_px=p.edge_dilate_px)
    bands["noise_sigma"] = sigma_n
    bands["rms_contrast"] = math.sqrt(bands["pore_corrected"])
    out.update(bands=bands, noise_sigma=sigma_n,
               specular_fraction=float((spec & skin).sum() / skin.sum()))
    if not math.isfinite(bands["pore_corrected"]):
        out["reason"] = ("too little skin left in any cheek or forehead region (hair, beard, "
                         "shadow or a turned face)")
        return out
    out["texture_energy"] = p.energy_scale * bands["pore_corrected"]
    return out


def landmark_regions(face, shape: tuple[int, int]) -> np.ndarray:
    """uint8 label map of a face's skin regions from its landmarks (:func:`lenscore.faces.face_regions`:
    eyes, brows, lips and nostrils left out): 1 forehead, 2 and 3 cheeks, 4 nose bridge."""
    from lenscore.faces import face_regions

    r = face_regions(face, shape)
    out = np.zeros(shape[:2], np.uint8)
    for i, k in enumerate(("forehead", "cheek_left", "cheek_right", "nose_bridge"), start=1):
        out[r[k] & (out == 0)] = i
    return out


# ---------------------------------------------------------------------------------------------
# Family adapter
# ---------------------------------------------------------------------------------------------
def _pick_face(ctx):
    """(face box, detected?, the Face) - the largest detected face, inside the manifest's subject
    box if one was given; else an estimate from that box (no Face); else (None, False, None)."""
    faces = ctx.faces if min(ctx.height, ctx.width) >= 24 else []
    box = ctx.user_subject_box

    def whole(b) -> tuple[int, int, int, int]:
        return tuple(int(round(v)) for v in b)  # type: ignore[return-value]

    if box is None:
        return (whole(faces[0].box), True, faces[0]) if faces else (None, False, None)
    bx, by, bw, bh = box
    for f in faces:  # largest first
        x, y, w, h = f.box
        if bx <= x + w / 2 <= bx + bw and by <= y + h / 2 <= by + bh:
            return whole(f.box), True, f
    return face_from_subject_box(box, (ctx.height, ctx.width)), False, None


def compute(ctx) -> MetricResult:
    """Skin family on an :class:`~lenscore.context.ImageContext` (thin adapter over measure_skin)."""
    p = PARAMS
    values = {o.name: float("nan") for o in OUTPUTS}
    reasons: dict[str, str] = {}
    H, W = ctx.height, ctx.width
    measured = ("skin.texture_energy", "skin.specular_fraction", "skin.mask_fraction")

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

    face, detected, face_obj = _pick_face(ctx)
    source = "face" if detected else ("subject_box" if face is not None else None)
    if not detected and user_mask is not None:
        ys, xs = np.nonzero(user_mask)
        side = int(xs.max() - xs.min() + 1)
        face, source = (int(xs.min()), int(ys.min()), side, side), "user_mask"
    values["skin.face_found"] = 1.0 if detected else 0.0
    if face is None:
        msg = "no face found" if min(H, W) >= 24 else f"no face found (image {W}x{H} is too small)"
        for n in measured + ("skin.face_width_px",):
            reasons[n] = msg
        return MetricResult(values, reasons, {"face_source": None})
    values["skin.face_width_px"] = float(face[2])
    if face[2] < p.min_face_px:
        msg = (f"face too small for pore-scale texture ({face[2]} px wide; "
               f"needs >= {p.min_face_px} px)")
        for n in measured:
            reasons[n] = msg
        return MetricResult(values, reasons, {"face_source": source, "face_box": tuple(face)})
    if source == "subject_box":
        reasons["skin"] = "no face detected in the subject box; face estimated from the box"
    elif source == "user_mask":
        reasons["skin"] = "no face detected; skin mask from the manifest"

    regions = (landmark_regions(face_obj, (H, W)) if face_obj is not None and user_mask is None
               else None)
    res = measure_skin(ctx.rgb, face, user_mask=user_mask, regions=regions)
    values["skin.mask_fraction"] = res["mask_fraction"]
    if user_mask is not None:
        reasons["skin.mask_fraction"] = "skin mask given by the manifest"
    if res["reason"]:   # not enough skin: the specular share of it would not mean much either
        reasons["skin.texture_energy"] = res["reason"]
        reasons["skin.specular_fraction"] = res["reason"]
    else:
        values["skin.texture_energy"] = res["texture_energy"]
        values["skin.specular_fraction"] = res["specular_fraction"]
    crop = res["crop"]
    artifacts = {"face_source": source, "face_box": tuple(int(v) for v in face),
                 "crop_box": crop.crop_box, "scale": 1.0 / crop.k, "mask": res["mask"],
                 "specular_mask": res["specular_mask"], "bands": res["bands"]}
    return MetricResult(values, reasons, artifacts)


# ---------------------------------------------------------------------------------------------
# Validation against ground truth
# ---------------------------------------------------------------------------------------------
def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Checks against the renderer's ground truth (run by ``lenscore validate``)."""
    from lenscore.datasets.synthetic import SceneSpec
    from lenscore.evaluator import validate as V

    lv = list(plan.smoothing_levels)
    # the renderer's face (cheek to cheek) is about a fifth of the frame: at 512 px it is
    # narrower than min_face_px
    size = max(plan.size, 5 * PARAMS.min_face_px)
    specs = [SceneSpec(width=size, height=size, pore_amplitude=0.1, smoothing=l, seed=s,
                       key_kelvin=5000, background_kelvin=5000, n_lights=6)
             for s in plan.seeds for l in lv]
    res = V.score_specs(specs, jobs=jobs)
    if not res or not V.has_output(res[0][0], "skin.texture_energy"):
        return [V.missing("skin", "smoothing ladder", "monotonic", "skin.texture_energy")]
    mono = 0
    for i in range(len(plan.seeds)):
        e = [v["skin.texture_energy"] for v, _, _ in res[i * len(lv):(i + 1) * len(lv)]]
        mono += bool(all(np.isfinite(e)) and all(a > b for a, b in zip(e, e[1:])))
    amp = [SceneSpec(width=size, height=size, pore_amplitude=a, seed=s, key_kelvin=5000,
                     background_kelvin=5000, n_lights=6) for s in plan.seeds for a in plan.pore_amplitudes]
    ares = V.score_specs(amp, jobs=jobs)
    k = len(plan.pore_amplitudes)
    rhos = [V.spearman(plan.pore_amplitudes, [v["skin.texture_energy"] for v, _, _ in ares[i * k:(i + 1) * k]])
            for i in range(len(plan.seeds))]
    rho = float(np.nanmin(rhos)) if rhos else math.nan
    # the same face at two resolutions: one 1536 px render, and that render downscaled to half
    import cv2

    from lenscore.datasets.synthetic import render

    big = render(SceneSpec(width=1536, height=1536, pore_amplitude=0.1, seed=plan.seeds[0],
                           key_kelvin=5000, background_kelvin=5000, n_lights=6)).rgb
    half = cv2.resize(big, (768, 768), interpolation=cv2.INTER_AREA)
    a, b = (V.score_rgb(x)["skin.texture_energy"] for x in (big, half))
    rel = abs(a - b) / abs(a) if np.isfinite(a) and np.isfinite(b) and a else math.nan
    n = len(plan.seeds)
    return [
        V.Check("skin", "texture energy falls along the smoothing ladder (share of faces)", 100 * mono / n,
              ">= 90 %", bool(mono >= 0.9 * n), f"{mono}/{n} faces, levels {lv}", unit="%"),
        V.Check("skin", "texture energy rises with pore amplitude (min Spearman)", rho, ">= 0.95",
              bool(rho >= 0.95), f"{n} faces, amplitudes {list(plan.pore_amplitudes)}"),
        V.Check("skin", "same face at 1536 px and downscaled to 768 px (rel diff)", 100 * rel,
              "<= 15 %", bool(rel <= 0.15) if np.isfinite(rel) else None, unit="%"),
    ]


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def _zoom(img_full: np.ndarray, result: MetricResult, long_side: int) -> np.ndarray | None:
    """Zoom on the analysed face cut from the full-resolution uint8 image: skin mask tinted,
    specular pixels yellow, texture energy. None without a crop box."""
    import cv2

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
    pad = int(0.25 * max(cw, ch))
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
        tint = np.array(dr.MAGENTA, np.float32)
        out[mask] = np.clip(0.6 * out[mask].astype(np.float32) + 0.4 * tint, 0, 255).astype(
            np.uint8)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, dr.MAGENTA, 1, cv2.LINE_AA)
    spec = place(art.get("specular_mask"))
    if spec is not None:
        out[spec] = dr.YELLOW
    fb = art.get("face_box")
    if fb is not None:
        try:
            fx, fy, fw, fh = (float(v) for v in list(fb)[:4])
            dr.box(out, (fx - x0, fy - y0, fw, fh), s, dr.CYAN, "face", 1)
        except (TypeError, ValueError):
            pass
    bands = art.get("bands") or {}
    unit = dr.unit("skin.texture_energy")
    line1 = f"skin: texture energy {dr.fmt(vals.get('skin.texture_energy'))}" + \
        (f" {unit}" if unit else "")
    line2 = (f"pore RMS contrast {dr.fmt(bands.get('rms_contrast'), '.3f')}, "
             f"specular {dr.fmt(vals.get('skin.specular_fraction'), '.3f')}"
             if isinstance(bands, Mapping) else "")
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
    name="skin", version="1",
    method=("Face (Haar) cheeks+forehead cut at full resolution, resampled to a 256 px face "
            "width; template AND YCrCb skin colour (Chai & Ngan 1999) AND luma floor; pore-band "
            "(DoG sigma 1-2 px = face width/39) band-limited contrast energy (Peli 1990) minus "
            "the exact white-noise floor (Immerkaer 1996 sigma x chain gain); specular = "
            "bright desaturated skin pixels enclosed by skin."),
    outputs=OUTPUTS, compute=compute, params=PARAMS,
    title="Skin texture", headline=("skin.texture_energy",), order=40,
    draw=draw, validate=validate))
