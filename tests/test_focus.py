"""Tests of the focus family (lenscore.metrics.focus) and its defocus map (lenscore.defocus).

Ground truth is generated here: a dead-leaves texture (discs of power-law radii, the texture
chart of Cao et al. 2010 / IEEE 1858) drawn at sub-pixel precision, so one scene renders alike
at any resolution, blurred by an anti-aliased uniform disc of known diameter (a lens's blur
disc) or a Gaussian. Everything is measured through ImageContext, as for a user's file; a
subject box given by the user (the override path) stands in for the subject model where a test
needs a known subject.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.stats import spearmanr

from lenscore import defocus as D
from lenscore.context import ImageContext
from lenscore.metrics import focus
from lenscore.metrics.base import MetricResult, families

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = [o.name for o in focus.OUTPUTS]


# ---------------------------------------------------------------------------------------------
# Generated scenes
# ---------------------------------------------------------------------------------------------
def dead_leaves(size: int, *, seed: int = 0, rmin: float = 0.004, rmax: float = 0.12,
                n: int = 6000) -> np.ndarray:
    """Gray dead-leaves texture, size x size, float32 in [0.15, 0.85]. Radii (fractions of the
    width) follow p(r) ~ r^-3 between ``rmin`` and ``rmax``; drawn in unit coordinates, so the
    same seed gives the same scene at every size."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    a, b = rmin ** -2, rmax ** -2
    radii = (a - u * (a - b)) ** -0.5
    xy = rng.uniform(-rmax, 1 + rmax, (n, 2))
    vals = rng.uniform(0.15, 0.85, n)
    img = np.full((size, size), 0.5, np.float32)
    s = 16  # cv2 sub-pixel shift of 4 bits
    for (x, y), r, v in zip(xy, radii, vals):
        cv2.circle(img, (int(round((x * size - 0.5) * s)), int(round((y * size - 0.5) * s))),
                   max(1, int(round(r * size * s))), float(v), -1, lineType=cv2.LINE_AA, shift=4)
    return img


def disc_kernel(diameter: float, ss: int = 8) -> np.ndarray:
    """Anti-aliased uniform disc of ``diameter`` px, summing to 1."""
    r = diameter / 2.0
    n = 2 * int(math.ceil(r)) + 1
    ax = (np.arange(n * ss) + 0.5) / ss - n / 2.0
    xx, yy = np.meshgrid(ax, ax)
    k = ((xx ** 2 + yy ** 2) <= r * r).astype(np.float64).reshape(n, ss, n, ss).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


def blur(img: np.ndarray, diameter: float, *, gaussian: bool = False) -> np.ndarray:
    if diameter <= 0:
        return img.copy()
    if gaussian:  # the renderer's "gaussian" aperture: sigma = c / 4
        return cv2.GaussianBlur(img, (0, 0), diameter / 4.0, borderType=cv2.BORDER_REFLECT)
    return cv2.filter2D(img, cv2.CV_32F, disc_kernel(diameter), borderType=cv2.BORDER_REFLECT)


BOX = (0.36, 0.25, 0.28, 0.75)  # subject box as fractions of the frame (x, y, w, h)


def scene(size: int, c: float, *, seed: int = 0, noise: float = 0.0, gaussian: bool = False,
          subject: bool = True, background: np.ndarray | None = None):
    """(rgb, subject_box): a sharp subject box on a background blurred by a disc of ``c`` px
    (8-bit quantised, as a file would be). ``background`` replaces the texture (e.g. a wall)."""
    tex = dead_leaves(size, seed=seed)
    bg = blur(tex if background is None else background, c, gaussian=gaussian)
    x, y, w, h = (int(round(f * size)) for f in BOX)
    img = bg.copy()
    if subject:
        img[y:y + h, x:x + w] = dead_leaves(size, seed=seed + 99)[y:y + h, x:x + w]
    if noise > 0:
        img = img + np.random.default_rng(seed + 1000).normal(0.0, noise, img.shape).astype(np.float32)
    img = np.round(np.clip(img, 0.0, 1.0) * 255.0) / 255.0
    return np.repeat(img[..., None], 3, axis=2).astype(np.float32), (x, y, w, h)


def measure(rgb, box=None, *, orbs=None) -> MetricResult:
    ctx = ImageContext(rgb, subject_box=box)
    ctx.provide("bokeh", MetricResult({}, {}, {"orbs": orbs or []}))
    res = focus.compute(ctx)
    assert set(OUT) <= set(res.values)
    return res


# ---------------------------------------------------------------------------------------------
# Registry, wording
# ---------------------------------------------------------------------------------------------
def test_family_is_registered_with_documented_outputs():
    fam = families()["focus"]
    assert fam is focus.FAMILY and fam.requires == ("bokeh",) and fam.explain is not None
    names = {o.name for o in fam.outputs}
    assert {"focus.background_blur_px", "focus.background_blur_frac", "focus.subject_blur_px",
            "focus.separation", "focus.depth_consistency", "focus.sharpness",
            "focus.subject_sharpness", "focus.background_sharpness"} <= names
    for o in fam.outputs:
        assert o.unit and o.description and o.direction in ("higher", "lower", "neither")
        assert "%^2" not in o.unit and len(o.unit) <= 40
    assert fam.output("separation").direction == "higher"
    assert fam.output("background_blur_px").direction == "higher"
    assert fam.output("subject_blur_px").direction == "lower"


# ---------------------------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("c", [6.0, 12.0, 24.0, 48.0])
def test_defocus_map_reads_the_disc_of_a_blurred_texture(c):
    """Dead leaves blurred by a disc of c px (768 px frame, up to 6 % of it): the background's
    blur within 15 %."""
    g = np.round(blur(dead_leaves(768, seed=3), c) * 255) / 255
    m = D.defocus_map(g.astype(np.float32), quant_step=1 / 255)
    s = m.summary(D.REGION_BACKGROUND)
    assert s["coverage"] > 0.1
    assert abs(s["diameter"] - c) <= 0.15 * c, (c, s)


def test_background_blur_and_separation_known_answer():
    """A sharp subject on a background blurred by a 24 px disc (3.1 % of the frame)."""
    rgb, box = scene(768, 24.0, seed=4)
    res = measure(rgb, box)
    v = res.values
    assert v["focus.background_blur_px"] == pytest.approx(24.0, rel=0.15)
    assert v["focus.background_blur_frac"] == pytest.approx(v["focus.background_blur_px"] / 768)
    assert v["focus.subject_blur_px"] < 5.0
    assert v["focus.separation"] > 0.6
    assert "texture" in res.reasons["focus.background_blur_px"]  # the note says the source


def test_gaussian_blur_reads_its_equal_moment_disc():
    """A Gaussian "blur" (no lens disc, the article's failure mode) of sigma = c / 4."""
    g = np.round(blur(dead_leaves(768, seed=5), 20.0, gaussian=True) * 255) / 255
    s = D.defocus_map(g.astype(np.float32), quant_step=1 / 255).summary()
    assert s["diameter"] == pytest.approx(20.0, rel=0.25)


def test_bokeh_discs_are_blur_evidence_on_a_plain_backdrop():
    """A plain wall carries no evidence; the bokeh family's discs on it do (their diameter is the
    blur disc at their depth)."""
    wall = np.full((768, 768), 0.55, np.float32)
    rgb, box = scene(768, 0.0, background=wall)
    none = measure(rgb, box)
    assert math.isnan(none.values["focus.background_blur_px"])
    orbs = [{"x": 100.0, "y": 150.0 + 40 * i, "r": 20.0} for i in range(5)]
    res = measure(rgb, box, orbs=orbs)
    assert res.values["focus.background_blur_px"] == pytest.approx(40.0, rel=0.01)
    assert "bokeh discs" in res.reasons["focus.background_blur_px"]
    assert res.values["focus.separation"] > 0.8


def test_straight_edge_gradient_ratio_known_answer():
    """The edge estimator (small blur discs) within 5 % (or 0.5 px) on an oblique straight edge."""
    yy, xx = np.mgrid[0:256, 0:256]
    edge = np.where(xx * math.cos(0.35) + yy * math.sin(0.35) > 130.0, 0.75, 0.25).astype(np.float32)
    for c in (0.0, 2.0, 4.0, 8.0):
        f = D.edge_fits(blur(edge, c), None, noise_sigma=0.0)
        got = float(np.median(f.diameter[f.consistent]))
        assert abs(got - c) <= max(0.05 * c, 0.5), (c, got)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
def test_background_blur_grows_with_the_disc():
    cs = [3.0, 6.0, 10.0, 16.0, 24.0, 36.0, 54.0]
    got = []
    for c in cs:
        g = np.round(blur(dead_leaves(768, seed=7), c) * 255) / 255
        got.append(D.defocus_map(g.astype(np.float32), quant_step=1 / 255).summary()["diameter"])
    assert all(b > a for a, b in zip(got, got[1:])), got


def test_separation_rises_with_the_background_disc():
    seps = [measure(*scene(512, c, seed=8)).values["focus.separation"] for c in (0.0, 4.0, 10.0, 24.0)]
    assert spearmanr(range(4), seps)[0] == pytest.approx(1.0), seps
    assert seps[0] < 0.2 < 0.6 < seps[-1]  # all in focus: no focus plane


def test_same_scene_at_768_and_1536_px_agrees():
    """One scene at two resolutions (disc scaled with it): the same share of the frame."""
    a = measure(*scene(768, 16.0, seed=9)).values
    b = measure(*scene(1536, 32.0, seed=9)).values
    assert b["focus.background_blur_frac"] == pytest.approx(a["focus.background_blur_frac"], rel=0.10)
    assert b["focus.separation"] == pytest.approx(a["focus.separation"], abs=0.1)


def test_noise_does_not_move_the_disc():
    clean = measure(*scene(768, 16.0, seed=10)).values["focus.background_blur_px"]
    noisy = measure(*scene(768, 16.0, seed=10, noise=0.015)).values["focus.background_blur_px"]
    assert noisy == pytest.approx(clean, rel=0.15)


@pytest.mark.parametrize("chain", ["native", "area 1024->768", "cubic 512->768->512", "jpeg q75"])
def test_edge_noise_is_measured_where_the_edges_are_read(chain):
    """White noise of std 0.01, then what a user's file and the working copy do to it: the
    gradient-domain estimate explains the half-resolution gradient noise the edge detector sees
    within 25 % (Immerkaer's finest-scale estimate under-reads it 1.5-10x after resampling or
    JPEG, and noise then reads as sharp edges in a blurred background)."""
    rng = np.random.default_rng(4)
    size = 512 if "512" in chain else 1024
    img = (0.5 + 0.01 * rng.standard_normal((size, size))).astype(np.float32)
    if chain == "area 1024->768":
        img = cv2.resize(img, (768, 768), interpolation=cv2.INTER_AREA)
    elif chain.startswith("cubic"):
        up = cv2.resize(img, (768, 768), interpolation=cv2.INTER_CUBIC)
        img = cv2.resize(up, (512, 512), interpolation=cv2.INTER_AREA)
    elif chain.startswith("jpeg"):
        ok, buf = cv2.imencode(".jpg", np.round(img * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 75])
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    actual = float(np.std(D._central_gradients(cv2.pyrDown(img))[0]))
    predicted = D._half_res_gradient_noise_std(D.half_res_gradient_noise_sigma(img))
    assert predicted == pytest.approx(actual, rel=0.25)


@pytest.mark.parametrize("scale", [1.0, 0.75, 0.5])
@pytest.mark.parametrize("level", [0, 1, 2])
def test_spectral_noise_model_is_the_noise_each_level_sees(scale, level):
    """White noise of std 0.01 in the original, reduced to the working copy by ``scale`` as
    ImageContext does, then ``level`` pyrDowns: the ring power of its windows (the fit's own
    detrend and taper) is the model's within 12 % on every fitted ring. (The model once lacked
    the pyramid's decimation and read the noise of levels 1 and 2 4x and 16x too high, and a
    white model reads a 1024 -> 768 reduction's noise 0.5x-3x off.)"""
    from numpy.lib.stride_tricks import sliding_window_view
    from lenscore.imaging import resize_long_side

    rng = np.random.default_rng(7)
    work = 1024 * 2 ** max(0, level - 1)  # enough windows on the coarse levels
    native = int(round(work / scale))
    img = resize_long_side((0.5 + 0.01 * rng.standard_normal((native, native))).astype(np.float32),
                           work) - 0.5
    for _ in range(level):
        img = cv2.pyrDown(img)
    n = {0: 32, 1: 64, 2: 64}[level]
    md = D.spectral_model(n, level)
    v = sliding_window_view(img, (n, n))[:: n // 2, :: n // 2].reshape(-1, n * n).astype(np.float64)
    v = v - (v @ md.detrend_pinv.T.astype(np.float64)) @ md.detrend_basis.T.astype(np.float64)
    f = np.fft.rfft2(v.reshape(-1, n, n) * md.taper)
    measured = ((np.abs(f) ** 2).reshape(len(v), -1) @ md.radial / md.taper_power).mean(axis=0)
    model = 1e-4 * D.noise_ring_shape(n, level, D.resample_autocorrelation(scale))
    rings = slice(D.PARAMS.min_ring - 1, int(D.PARAMS.max_ring_frac * n))
    assert measured[rings] / model[rings] == pytest.approx(1.0, abs=0.12)


def test_resampled_noise_known_answers_and_immerkaer_reading():
    """A 2:1 box keeps half the variance per axis and leaves neighbours independent; no resize is
    white; Immerkaer reads white noise as itself and a 1024 -> 768 reduction's as simulated."""
    from lenscore.imaging import immerkaer_noise_sigma, resize_long_side

    assert D.resample_autocorrelation(1.0) == (1.0, 0.0, 0.0)
    c = D.resample_autocorrelation(0.5)
    assert c[0] == pytest.approx(0.5, abs=0.01) and abs(c[1]) < 0.01
    assert D.immerkaer_gain(D.resample_autocorrelation(1.0)) == pytest.approx(1.0)
    z = 0.5 + 0.01 * np.random.default_rng(3).standard_normal((1024, 1024)).astype(np.float32)
    read = (immerkaer_noise_sigma(resize_long_side(z, 768)) / 0.01) ** 2
    assert D.immerkaer_gain(D.resample_autocorrelation(0.75)) == pytest.approx(read, rel=0.05)
    # correlated noise reads lower on Immerkaer than its variance: the model undoes that
    assert D.immerkaer_gain(D.resample_autocorrelation(0.75)) < D.resample_autocorrelation(0.75)[0] ** 2


def test_jpeg_noise_does_not_move_the_disc():
    """A low-contrast texture blurred by a 40 px disc, noise 1 %, then JPEG q75 (which removes
    the noise's finest scale, where Immerkaer reads it, and keeps the coarser ones the coarse
    windows fit), on a 1024 px frame: the disc is the noise-free one's within 15 %, not "too
    little evidence" (it was NaN before the coarse levels read their own noise)."""
    rgb, box = scene(1024, 40.0, seed=12)
    rgb = (0.5 + 0.3 * (rgb - 0.5)).astype(np.float32)
    clean = measure(rgb, box).values["focus.background_blur_px"]
    noisy = np.clip(rgb + np.random.default_rng(5).normal(0, 0.01, rgb.shape[:2])[..., None], 0, 1)
    ok, buf = cv2.imencode(".jpg", np.round(noisy * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 75])
    jpeg = cv2.imdecode(buf, cv2.IMREAD_COLOR).astype(np.float32) / 255.0
    got = measure(jpeg, box).values["focus.background_blur_px"]
    assert clean == pytest.approx(40.0, rel=0.1)
    assert got == pytest.approx(clean, rel=0.15)


@pytest.mark.parametrize("c", [11.0, 12.0])
@pytest.mark.parametrize("noise", [0.0, 0.02])
def test_a_disc_between_two_pyramid_levels_is_read(c, noise):
    """An 11-12 px disc on a 1024 px frame (8-9 working px: the top of the finest level's reach
    and the floor of the next) on a low-contrast texture, clean and with 2 % noise: read within
    10 % (it was NaN, or level 1's floor reading, before level 1 started at 4 of its px and
    gave way to level 0 near that floor)."""
    rgb, box = scene(1024, c, seed=21, noise=noise)
    rgb = (0.5 + 0.3 * (rgb - 0.5)).astype(np.float32)
    assert measure(rgb, box).values["focus.background_blur_px"] == pytest.approx(c, rel=0.10)


@pytest.mark.parametrize("level,contrast", [(0.08, 0.1), (0.12, 0.15)])
def test_a_dark_smooth_background_in_an_8_bit_file_is_read(level, contrast):
    """A dark, low-contrast background blurred by a 60 px disc on a 1024 px frame, saved in 8
    bits: its rounding is a staircase of false contours, not white noise, and the coarse
    windows read it as texture with no blur (NaN "no evidence" before each window's noise took
    in the rounding's own ring power). Read within 10 %."""
    rgb, box = scene(1024, 60.0, seed=12)
    rgb = (np.round(np.clip(level + contrast * (rgb - 0.5), 0, 1) * 255) / 255).astype(np.float32)
    assert measure(rgb, box).values["focus.background_blur_px"] == pytest.approx(60.0, rel=0.10)


def test_the_quantisation_residual_is_the_rounding_of_a_smooth_image():
    """Known answer: a shallow ramp rounded to 8 bits (terraces 26 px wide): the residual is
    the rounding error (correlation > 0.9, within half a step everywhere). A fine texture far
    above the step (its rounding is white, which the noise model has): 0 on nearly every pixel.
    Edge: a flat image (nothing to round) gives 0."""
    ramp = np.tile(np.linspace(0.30, 0.34, 256, dtype=np.float32), (64, 1))
    q = np.round(ramp * 255) / 255
    r = D.quantisation_residual(q, 1 / 255)
    assert np.abs(r).max() <= 0.5 / 255 + 1e-6
    assert np.corrcoef(r.ravel(), (q - ramp).ravel())[0, 1] > 0.9
    tex = np.round(np.clip(0.5 + np.random.default_rng(3).normal(0, 0.05, (256, 256)), 0, 1) * 255) / 255
    rt = D.quantisation_residual(tex.astype(np.float32), 1 / 255)
    assert np.abs(rt).max() <= 0.5 / 255 + 1e-6
    assert np.mean(rt != 0) < 0.1
    flat = np.full((64, 64), 100 / 255, np.float32)
    assert np.abs(D.quantisation_residual(flat, 1 / 255)).max() < 1e-6


def test_gradient_noise_of_a_flat_or_tiny_image():
    assert D.half_res_gradient_noise_sigma(np.full((64, 64), 0.5, np.float32)) == 0.0
    assert math.isnan(D.half_res_gradient_noise_sigma(np.zeros((4, 4), np.float32)))


def test_pooled_windows_identify_what_no_window_does_alone():
    """Windows that each prefer 12 px but reject neither 8 nor 18 px by the identification
    margin: summed over their neighbours they do; a window whose neighbours disagree (best at
    4 px and at 40 px) identifies neither; unusable windows get nothing."""
    cands = np.geomspace(1.0, 96.0, 96)

    def prof(best: float, depth: float) -> np.ndarray:
        return (depth * np.log(cands / best) ** 2 / math.log(1.5) ** 2).astype(np.float32)

    xs = np.array([16.0, 48.0, 80.0, 16.0, 48.0, 80.0, 400.0, 432.0])
    ys = np.array([16.0, 16.0, 16.0, 48.0, 48.0, 48.0, 400.0, 400.0])
    P = np.stack([prof(12.0, 4.0)] * 6 + [prof(4.0, 4.0), prof(40.0, 4.0)])
    z = np.zeros(xs.size)
    f = D.WindowFits(0, 32.0, xs, ys, z, z, z, z, z, z, np.zeros(xs.size, bool), P, cands)
    usable = np.ones(xs.size, bool)
    d, up, dn = D.pooled_margins(f, usable, stride_px=32.0)
    assert prof(12.0, 4.0)[np.abs(cands - 18.0).argmin()] < D.PARAMS.identify_delta  # alone: no
    assert np.all(np.abs(d[:6] / 12.0 - 1.0) < 0.05)
    assert np.all(np.minimum(up[:6], dn[:6]) >= D.PARAMS.identify_delta)
    assert np.all(np.minimum(up[6:], dn[6:]) < D.PARAMS.identify_delta)  # 4 and 40 px disagree
    d, up, dn = D.pooled_margins(f, np.zeros(xs.size, bool), stride_px=32.0)
    assert np.isnan(d).all() and not up.any() and not dn.any()


def test_pooled_windows_count_each_pixel_once():
    """Overlapping windows (64 px, 16 apart) see the same pixels: a lone window is read as
    itself, and a 2 x 2 cluster as its union's area (25 / 16 of one window), not as four
    windows nor as a quarter of one."""
    cands = np.geomspace(1.0, 96.0, 96)
    prof = (12.0 * np.log(cands / 20.0) ** 2 / math.log(1.5) ** 2).astype(np.float32)
    z1 = np.zeros(1)
    one = D.WindowFits(2, 64.0, np.array([100.0]), np.array([100.0]), z1, z1, z1, z1, z1, z1,
                       np.zeros(1, bool), prof[None], cands)
    d, up, dn = D.pooled_margins(one, np.ones(1, bool), stride_px=16.0)
    single = min(up[0], dn[0])
    assert d[0] == pytest.approx(20.0, rel=0.05) and single >= D.PARAMS.identify_delta
    xs, ys = np.array([100.0, 116.0, 100.0, 116.0]), np.array([100.0, 100.0, 116.0, 116.0])
    z4 = np.zeros(4)
    four = D.WindowFits(2, 64.0, xs, ys, z4, z4, z4, z4, z4, z4, np.zeros(4, bool),
                        np.stack([prof] * 4), cands)
    d, up, dn = D.pooled_margins(four, np.ones(4, bool), stride_px=16.0)
    assert np.minimum(up, dn) == pytest.approx(single * 25.0 / 16.0, rel=1e-6)


def test_a_small_original_is_measured_at_its_own_size():
    """A 384 px original (enlarged to the 768 px working copy): measured on its own pixels,
    with their white noise, its blur reads within 15 % of the truth and the noise reads as
    the original's, not the enlargement's smoothed copy."""
    rgb, box = scene(384, 8.0, seed=12, noise=0.01)
    ctx = ImageContext(rgb, subject_box=box)
    assert ctx.work_scale == 2.0
    dm = ctx.defocus
    assert dm.noise_sigma == pytest.approx(0.01, rel=0.25)
    ctx.provide("bokeh", MetricResult({}, {}, {"orbs": []}))
    v = focus.compute(ctx).values["focus.background_blur_px"]
    assert v == pytest.approx(8.0, rel=0.15)


def test_highlight_rims_are_not_sharpness():
    """Bright discs with hard rims (bokeh) on a blurred background: their rims must not read as
    sharp background (they are left out by brightness)."""
    g = blur(dead_leaves(768, seed=11), 20.0) * 0.5
    lin = g.copy()
    rng = np.random.default_rng(0)
    for _ in range(25):
        x, y = rng.uniform(40, 728, 2)
        cv2.circle(lin, (int(x), int(y)), 18, 1.0, -1, lineType=cv2.LINE_AA)
    img = np.round(np.clip(lin, 0, 1) * 255) / 255
    s = D.defocus_map(img.astype(np.float32), quant_step=1 / 255).summary()
    assert s["diameter"] == pytest.approx(20.0, rel=0.2)


def test_blur_near_answers_in_full_resolution_pixels():
    rgb, box = scene(1024, 32.0, seed=12)
    ctx = ImageContext(rgb, subject_box=box)
    d, conf = ctx.defocus.blur_near(120.0, 500.0)
    assert d == pytest.approx(32.0, rel=0.2) and 0 < conf <= 1
    d2, c2 = ctx.defocus.blur_near(-5000.0, -5000.0, radius=10.0)
    assert math.isnan(d2) and c2 == 0.0


def test_depth_consistency_follows_a_receding_ground():
    """Blur growing toward the top of the frame (a ground plane receding) reads positive; one
    depth reads NaN."""
    tex = dead_leaves(768, seed=13)
    rows = [blur(tex, c) for c in (48.0, 30.0, 18.0, 10.0, 6.0, 4.0)]
    band = 768 // len(rows)
    g = np.concatenate([r[i * band:(i + 1) * band] for i, r in enumerate(rows)], axis=0)
    rgb = np.repeat((np.round(g * 255) / 255)[..., None], 3, axis=2).astype(np.float32)
    v = measure(rgb, (330, 600, 100, 168)).values
    assert v["focus.depth_consistency"] > 0.7
    flat = measure(*scene(768, 16.0, seed=13))
    assert math.isnan(flat.values["focus.depth_consistency"])
    assert "one depth" in flat.reasons["focus.depth_consistency"]


# ---------------------------------------------------------------------------------------------
# Edge cases
# ---------------------------------------------------------------------------------------------
def test_plain_backdrop_is_no_focus_plane():
    """A sharp subject on a featureless wall: background blur and separation NaN, with the
    reason, never 0 px and never a confident number."""
    wall = np.full((768, 768), 0.8, np.float32)
    res = measure(*scene(768, 0.0, background=wall, noise=0.004))
    for n in ("focus.background_blur_px", "focus.separation"):
        assert math.isnan(res.values[n]) and "no evidence" in res.reasons[n]
    assert res.values["focus.background_evidence"] == pytest.approx(0.0, abs=0.02)
    assert "unknown" in focus.explain(res)


def test_uniform_image_is_nan_with_reason():
    res = measure(np.full((256, 256, 3), 0.4, np.float32))
    assert all(math.isnan(res.values[n]) for n in OUT)
    assert "uniform" in res.reasons["focus"]


def test_tiny_image_is_nan_with_reason():
    rgb = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    res = measure(rgb)
    assert all(math.isnan(res.values[n]) for n in OUT)
    assert "too small" in res.reasons["focus"]


def test_no_face_still_measures_the_frame():
    rgb, _ = scene(384, 8.0, seed=2)
    ctx = ImageContext(rgb)
    res = ctx.result("focus")
    assert ctx.subject_source != "user" and ctx.result_ok("focus")
    assert math.isfinite(res.values["focus.sharpness"])


def test_no_background_is_nan_with_reason():
    rgb, _ = scene(256, 8.0, seed=2)
    res = measure(rgb, (0, 0, 256, 256))
    assert math.isfinite(res.values["focus.subject_sharpness"])
    for n in ("focus.background_sharpness", "focus.background_blur_px", "focus.separation"):
        assert math.isnan(res.values[n]) and "background" in res.reasons[n]


def test_non_finite_pixels_are_nan_with_reason():
    rgb, _ = scene(128, 0, seed=1)
    rgb = rgb.copy()
    rgb[5, 5] = np.nan
    res = measure(rgb)
    assert all(math.isnan(res.values[n]) for n in OUT) and "non-finite" in res.reasons["focus"]


def test_overlay_and_explain_on_a_measured_image():
    rgb, box = scene(512, 20.0, seed=3)
    res = measure(rgb, box)
    img = focus.draw(rgb, res, 900)
    assert img.dtype == np.uint8 and img.shape[1] == 512 and img.shape[0] > 512  # banner above
    sentence = focus.explain(res)
    assert "px wide" in sentence and "%" in sentence
    # a result without artifacts draws a plain thumbnail with a banner
    assert focus.draw(rgb, MetricResult({}, {}), 300).dtype == np.uint8


# ---------------------------------------------------------------------------------------------
# Real photographs (when ../shared/data is present)
# ---------------------------------------------------------------------------------------------
def _decode(path: Path) -> np.ndarray:
    from lenscore.datasets.decode import decode_image

    return decode_image(path).rgb


@pytest.mark.realdata
def test_defocus_pairs_sharp_beats_defocused():
    folder = SHARED_DATA / "defocus-pairs"
    if not folder.is_dir():
        pytest.skip(f"real data not present at {folder}")
    sharp = sorted(p for p in folder.iterdir() if p.stem.endswith("_S"))
    assert sharp, f"no *_S images in {folder}"
    for s in sharp:
        f = next(folder.glob(s.stem[:-2] + "_F.*"))
        vs = ImageContext(_decode(s)).result("focus").values
        vf = ImageContext(_decode(f)).result("focus").values
        assert vs["focus.sharpness"] > vf["focus.sharpness"], s.name


@pytest.mark.realdata
def test_real_plain_backdrops_and_clear_skies_are_no_focus_plane():
    """ID portraits on a white backdrop and an all-in-focus street under a clear sky: no focus
    plane (separation NaN for want of evidence, or within the all-in-focus band)."""
    paths = sorted((SHARED_DATA / "ai-portraits").glob("*.jpg"))
    sky = SHARED_DATA / "defocus-pairs" / "106_NIKON-D3400-35MM_S.JPG"
    if not paths or not sky.is_file():
        pytest.skip("real data not present")
    for p in paths + [sky]:
        v = ImageContext(_decode(p)).result("focus").values["focus.separation"]
        assert math.isnan(v) or v < 0.3, (p.name, v)
