"""skin family: known answers on generated faces, invariances (light colour, exposure,
resolution), ladders, noise, not-skin signs, the real-skin reference, the context adapter, edges,
real London faces."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import lenscore.metrics.skin as skin
from lenscore import imaging
from lenscore.context import ImageContext

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SKIN_ALBEDO = (0.55, 0.33, 0.24)      # linear light, a mid skin tone


# ---- generated ground truth ------------------------------------------------------------------
def face_image(amplitude: float, *, fw: int = 300, size: int | None = None, seed: int = 0,
               band=(1.0, 2.0), light=(1.0, 1.0, 1.0), albedo=SKIN_ALBEDO):
    """A smooth skin-coloured head on grey with multiplicative texture of known contrast, made in
    LINEAR light (the skin's albedo times (1 + amplitude * n) times the light), then encoded.

    n is white noise through a DoG of sigma ``band`` normalised px (x the source px per
    normalised px of the face box the family derives: IOD = fw / OVAL_PER_IOD), unit std.
    Returns (rgb, face box)."""
    size = size or int(1.8 * fw)
    cx = cy = size / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    head = ((xx - cx) / (0.55 * fw)) ** 2 + ((yy - cy - 0.05 * fw) / (0.72 * fw)) ** 2 <= 1
    shade = (0.85 + 0.15 * np.cos((xx - cx) / fw * 2.0))[..., None]
    lin = np.where(head[..., None], np.array(albedo, np.float32) * shade,
                   np.array([0.2, 0.2, 0.21], np.float32))
    k = fw / skin.OVAL_PER_IOD / skin.PARAMS.iod_px
    n = np.random.default_rng(seed).standard_normal((size, size)).astype(np.float32)
    b = cv2.GaussianBlur(n, (0, 0), band[0] * k) - cv2.GaussianBlur(n, (0, 0), band[1] * k)
    b /= b.std()
    # red carries 0.7 of the green's texture, as on real skin (light scatters further under it)
    lin = lin * (1 + amplitude * (b * head)[..., None] * np.array([0.7, 1.0, 1.0], np.float32)) \
        * np.array(light, np.float32)
    box = (int(cx - fw / 2), int(cy - 0.45 * fw), fw, int(1.1 * fw))
    return imaging.linear_to_srgb(np.clip(lin, 0, 1)), box


def _gauss_mix_norm2(terms):
    return sum(a * b / (2 * math.pi * (s * s + t * t)) for a, s in terms for b, t in terms)


def expected_rms(amplitude: float) -> float:
    """RMS band contrast (%) of the generated texture seen through the family's chain: the band
    response of G_c * DoG(1,2) to a unit-std DoG(1,2) texture (Gaussians compose:
    G_a * G_b = G_sqrt(a^2+b^2))."""
    c = skin.PARAMS.prefilter_sigma
    h1 = [(1, 1.0), (-1, 2.0)]
    h2h1 = [(1, math.sqrt(c * c + 2)), (-2, math.sqrt(c * c + 5)), (1, math.sqrt(c * c + 8))]
    return 100 * amplitude * math.sqrt(_gauss_mix_norm2(h2h1) / _gauss_mix_norm2(h1))


def texture(img, face) -> float:
    return skin.measure_skin(img, face)["texture_energy"]


# ---- known answers ---------------------------------------------------------------------------
@pytest.mark.parametrize("fw", [200, 300, 450])
def test_known_contrast_is_recovered(fw):
    img, face = face_image(0.03, fw=fw)
    assert texture(img, face) == pytest.approx(expected_rms(0.03), rel=0.15)


def test_texture_rises_with_amplitude_linearly():
    e = [texture(*face_image(a)) for a in (0.0, 0.01, 0.02, 0.04)]
    assert all(x < y for x, y in zip(e, e[1:]))
    assert e[0] < 0.05 * e[-1]
    assert e[3] / e[2] == pytest.approx(2.0, rel=0.1)


def test_plastic_face_with_white_grain_reads_near_zero():
    img, face = face_image(0.0)
    noisy = np.clip(img + np.random.default_rng(3).normal(0, 0.01, img.shape), 0, 1).astype(np.float32)
    r = skin.measure_skin(noisy, face)
    assert r["bands"]["pore"] > 0                       # the grain is in the band...
    assert r["texture_energy"] < 0.3 * expected_rms(0.01)   # ...and the floor removes it


def test_drawn_edges_are_not_texture():
    img, face = face_image(0.01)
    x, y, w, h = face
    line = img.copy()
    cv2.line(line, (x + int(0.1 * w), y + int(0.5 * h)), (x + int(0.4 * w), y + int(0.8 * h)),
             (0.35, 0.2, 0.15), 2)              # a cartoon contour across a cheek
    assert texture(line, face) == pytest.approx(texture(img, face), rel=0.15)


def test_noise_gain_is_exact():
    assert skin.noise_band_gain(1.0, (1.0, 2.0), 0.0) == pytest.approx(skin.dog_norm2(1.0, 2.0), rel=1e-3)
    rng = np.random.default_rng(0)
    for k in (0.7, 1.6, 2.5):
        img = (0.5 + 0.01 * rng.standard_normal((400, 400))).astype(np.float32)
        g = skin.resample_gray(img, k, (int(400 / k), int(400 / k)))
        d = cv2.GaussianBlur(g, (0, 0), 1.0) - cv2.GaussianBlur(g, (0, 0), 2.0)
        var = float(np.var(d[20:-20, 20:-20]))
        assert var == pytest.approx(1e-4 * skin.noise_band_gain(round(k, 3), (1.0, 2.0)), rel=0.1)


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1],
                           [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def test_jpeg_grid_is_found_and_lost_with_resampling():
    img, _ = face_image(0.02, fw=300)
    noisy = np.clip(img + np.random.default_rng(1).normal(0, 0.01, img.shape), 0, 1).astype(np.float32)
    j = _jpeg(noisy, 80)
    assert imaging.jpeg_grid_strength(j[..., 1]) > imaging.JPEG_GRID_MIN
    assert imaging.jpeg_grid_strength(noisy[..., 1]) < 0.5 * imaging.JPEG_GRID_MIN
    resized = cv2.resize(j, None, fx=0.9, fy=0.9, interpolation=cv2.INTER_AREA)
    assert imaging.jpeg_grid_strength(resized[..., 1]) < imaging.JPEG_GRID_MIN
    # invariant to a brightness offset; NaN when too small to fold, 0 on a flat image
    assert imaging.jpeg_grid_strength(j[..., 1] * 0.8 + 0.1) == pytest.approx(
        imaging.jpeg_grid_strength(j[..., 1]), rel=0.05)
    assert math.isnan(imaging.jpeg_grid_strength(np.zeros((16, 16), np.float32)))
    assert imaging.jpeg_grid_strength(np.full((64, 64), 0.5, np.float32)) == 0.0


@pytest.mark.parametrize("k", [1.0, 1.6, 2.5])
def test_band_noise_of_white_noise_is_its_true_power(k):
    g = (0.5 + 0.01 * np.random.default_rng(2).standard_normal((900, 900))).astype(np.float32)
    power, tiles = skin.tiled_band_noise(g, k, None)
    assert tiles >= skin.PARAMS.noise_min_tiles
    assert power == pytest.approx(1e-4 * skin.noise_band_gain(round(k, 3), (1.0, 2.0)), rel=0.05)


def test_band_noise_skips_texture_the_face_and_dead_tiles():
    rng = np.random.default_rng(4)
    # scene texture with a natural spectrum (power ~ 1/f^2: equal power per octave) is not noise
    f = np.fft.fftfreq(512)
    r = np.hypot(*np.meshgrid(f, f)) + 1e-3
    tex = np.real(np.fft.ifft2(np.fft.fft2(rng.standard_normal((512, 512))) / r))
    tex = (0.5 + 0.05 * tex / tex.std()).astype(np.float32)
    assert math.isnan(skin.tiled_band_noise(tex, 1.0, None)[0])
    # a flat frame (or one JPEG flattened: no detail left) has no noise to measure
    assert math.isnan(skin.tiled_band_noise(np.full((512, 512), 0.5, np.float32), 1.0, None)[0])
    # noise only inside the excluded box is not measured
    g = np.full((512, 512), 0.5, np.float32)
    g[100:400, 100:400] += 0.02 * rng.standard_normal((300, 300)).astype(np.float32)
    assert skin.tiled_band_noise(g, 1.0, (90, 90, 410, 410))[1] == 0
    assert skin.tiled_band_noise(g, 1.0, None)[1] > 0


def test_noise_baked_in_by_jpeg_is_removed_and_pores_are_kept():
    """A plastic face and a textured one, 2 % noise, JPEG q80: the floor measured in the band on
    the frame's flat areas removes the noise (the white-noise floor alone leaves most of it) and
    leaves the texture."""
    rng = np.random.default_rng(5)
    out = {}
    for amp in (0.0, 0.03):
        img, face = face_image(amp, fw=300, size=900)
        j = _jpeg(np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1), 80)
        r = skin.measure_skin(j, face)
        white = 100 * math.sqrt(max(0.0, r["bands"]["pore"] - r["bands"]["noise_sigma"] ** 2
                                    * skin.noise_band_gain(round(r["k"], 3), (1.0, 2.0))))
        out[amp] = (r["texture_energy"], white, r["bands"]["jpeg_grid"])
    (plastic, plastic_white, grid), (tex, _, _) = out[0.0], out[0.03]
    assert grid > imaging.JPEG_GRID_MIN
    assert plastic < 0.5 * plastic_white
    assert plastic < 0.3 * expected_rms(0.03)
    assert tex == pytest.approx(expected_rms(0.03), rel=0.25)
    # the band floor is what removed it (the notes say so); white noise keeps the white floor
    img, face = face_image(0.0, fw=300, size=900)
    noisy = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1).astype(np.float32)
    assert skin.measure_skin(_jpeg(noisy, 80), face)["bands"]["floor_from_band"]
    assert not skin.measure_skin(noisy, face)["bands"]["floor_from_band"]
    values, reasons = {}, {}
    skin._texture_values(values, reasons, {}, skin.measure_skin(_jpeg(noisy, 80), face), 132.0)
    assert "through JPEG" in reasons["skin"]


def test_robust_power_ignores_a_few_edges():
    r = np.random.default_rng(1).normal(0, 0.01, 10000)
    assert skin.robust_power(r) == pytest.approx(1e-4, rel=0.05)
    r[:300] = 0.3
    assert skin.robust_power(r) == pytest.approx(1e-4, rel=0.1)


def test_planckian_locus_and_duv_match_colour_science():
    colour = pytest.importorskip("colour")
    for t, d in ((2000.0, 0.0), (2700.0, -0.01), (6500.0, 0.02), (10000.0, 0.003)):
        uv = skin.cct_duv_uv(t, d)
        ref = colour.temperature.CCT_to_uv_Ohno2013(np.array([t, d]))
        assert uv == pytest.approx(tuple(ref), abs=2e-4)
        m, dd = skin.uv_mired(*uv)
        assert 1e6 / m == pytest.approx(t, rel=0.01) and dd == pytest.approx(d, abs=2e-4)


@pytest.mark.parametrize("kelvin", [2000.0, 2700.0, 5000.0, 10000.0])
def test_grey_is_not_skin_and_tan_is_under_any_key(kelvin):
    light = skin.cct_duv_uv(kelvin)
    lrgb = skin.uv_to_linear_rgb(*light)
    assert skin.skin_colour_verdict(lrgb * 0.5, light)[0] == 0.0
    assert skin.skin_colour_verdict(np.array(SKIN_ALBEDO) * lrgb, light)[0] == 1.0
    blue = np.array([0.15, 0.25, 0.6]) * lrgb
    assert skin.skin_colour_verdict(blue, light)[0] == 0.0
    # the hemoglobin sign: skin below the locus, grey on it, whatever the key
    assert skin.uv_mired(*skin.linear_rgb_to_uv(np.array(SKIN_ALBEDO) * lrgb))[1] < skin.PARAMS.skin_duv_max
    assert abs(skin.uv_mired(*skin.linear_rgb_to_uv(lrgb))[1]) < 1e-3


def test_votes_need_two_signs_to_say_not_skin():
    no = (0.0, "grey")
    assert skin.skin_vote([no])[0] != 0.0                        # one sign alone: undecided
    assert math.isnan(skin.skin_vote([no, (1.0, None)])[0])      # a tie: undecided
    assert skin.skin_vote([no, no, (1.0, None)])[0] == 0.0
    assert skin.skin_vote([no, (1.0, None), (1.0, None)])[0] == 1.0
    assert math.isnan(skin.skin_vote([])[0])


def test_key_from_color_reads_what_the_colour_family_gives():
    from lenscore.metrics.base import MetricResult

    uv = skin.cct_duv_uv(2700.0)
    assert skin.key_from_color(MetricResult({}, {}, {"key": {"uv": list(uv)}}))[0] == pytest.approx(uv)
    x, y = skin.uv_to_xy(*uv)
    assert skin.key_from_color(MetricResult({}, {}, {"key": {"xy": [x, y]}}))[0] == pytest.approx(uv, abs=1e-6)
    got, why = skin.key_from_color(MetricResult({"color.subject_cct_k": 2700.0}, {}, {}))
    assert got == pytest.approx(uv, abs=1e-6) and "CCT" in why
    got = skin.key_from_color(MetricResult({"color.subject_cct_k": 3000.0, "color.subject_duv": 0.01}))[0]
    assert skin.uv_mired(*got)[1] == pytest.approx(0.01, abs=2e-4)
    for bad in (MetricResult({"color.subject_cct_k": math.nan}), None,
                MetricResult({}, {}, {"key": {"uv": [math.nan, 0.3]}}),
                MetricResult({}, {}, {"key": "not a dict"})):
        assert skin.key_from_color(bad)[0] is None


def test_key_check_follows_the_dichromatic_line():
    key = skin.cct_duv_uv(2700.0)
    body = np.array(SKIN_ALBEDO) * skin.uv_to_linear_rgb(*key)
    shine = 0.5 * body / body.max() + 0.5 * skin.uv_to_linear_rgb(*key)
    assert skin.key_check(body, skin.linear_rgb_to_uv(shine), key)["agrees"] is True
    blue_shine = skin.cct_duv_uv(9000.0)
    assert skin.key_check(body, blue_shine, key)["agrees"] is False


# ---- properties --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def textured():
    return face_image(0.03, fw=300, seed=1)


def test_gaussian_ladder_lowers_texture(textured):
    img, face = textured
    k = face[2] / skin.OVAL_PER_IOD / skin.PARAMS.iod_px
    e = [texture(img, face)] + [texture(cv2.GaussianBlur(img, (0, 0), s * k), face)
                                for s in (0.5, 1, 2, 3)]
    assert all(x > y for x, y in zip(e, e[1:])), e


def test_bilateral_ladder_lowers_texture(textured):
    img, face = textured
    e = [texture(img, face)] + [texture(cv2.bilateralFilter(img, -1, sc, ss), face)
                                for ss, sc in ((2, 0.03), (3, 0.06), (5, 0.1), (8, 0.15))]
    assert all(x > y for x, y in zip(e, e[1:])), e


def test_half_resolution_agrees(textured):
    img, face = textured
    half = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    assert texture(half, tuple(v / 2 for v in face)) == pytest.approx(texture(img, face), rel=0.15)


def test_grain_does_not_beat_the_first_smoothing_step(textured):
    img, face = textured
    k = face[2] / skin.OVAL_PER_IOD / skin.PARAMS.iod_px
    e0 = texture(img, face)
    e1 = texture(cv2.GaussianBlur(img, (0, 0), 0.5 * k), face)
    noisy = [texture(np.clip(img + np.random.default_rng(s).normal(0, 0.02, img.shape), 0, 1)
                     .astype(np.float32), face) for s in range(3)]
    assert abs(np.mean(noisy) - e0) < e0 - e1


def test_exposure_does_not_change_the_contrast():
    img, face = face_image(0.03, seed=2, light=(0.6, 0.6, 0.6))
    ref, _ = face_image(0.03, seed=2)
    assert texture(img, face) == pytest.approx(texture(ref, face), rel=0.03)


@pytest.mark.parametrize("kelvin", [2000.0, 2700.0, 10000.0])
def test_the_light_colour_does_not_change_texture_or_mask(kelvin):
    from lenscore.datasets.london import key_gain

    g = key_gain(kelvin)
    ref, face = face_image(0.03, seed=4)
    img, _ = face_image(0.03, seed=4, light=tuple(0.9 * g / g.max()))
    a, b = skin.measure_skin(ref, face), skin.measure_skin(img, face)
    assert b["texture_energy"] == pytest.approx(a["texture_energy"], rel=0.05)
    assert b["mask_fraction"] == pytest.approx(a["mask_fraction"], abs=0.03)


# ---- the real-skin reference ---------------------------------------------------------------------
def test_reference_is_package_data_with_provenance_and_current_parameters():
    ref = skin.reference()
    src = ref["source"]
    assert "CC BY 4.0" in src["licence"] and "DeBruine" in src["attribution"]
    assert "10.6084/m9.figshare.5047666" in src["doi"]
    assert len(ref["faces"]) == 32 and {f["group"].split("/")[0] for f in ref["faces"]} >= {"white", "black"}
    for k, v in ref["params"].items():
        cur = getattr(skin.PARAMS, k)
        assert (list(cur) if isinstance(cur, tuple) else cur) == v, f"re-run scripts/skin_reference.py ({k})"
    # a change of method the parameters do not show (the estimator, the noise floor) bumps the
    # family's version: the reference must be re-made with it
    assert ref["skin_family_version"] == skin.FAMILY.version, "re-run scripts/skin_reference.py (version)"
    scales = ref["scales"]
    assert scales[0]["iod_px"] <= 48 and all(s["lo"] < s["median"] < s["hi"] for s in scales)


def test_real_band_interpolates_and_reads_two_sided():
    band = skin.real_band(90.0)
    lo_b, hi_b = skin.real_band(80.0), skin.real_band(100.0)
    assert min(lo_b["median"], hi_b["median"]) <= band["median"] <= max(lo_b["median"], hi_b["median"])
    assert skin.real_band(1000.0)["median"] == skin.real_band(5000.0)["median"]
    assert skin.real_band(10.0) is None
    lo, hi = band["lo"] / band["median"], band["hi"] / band["median"]
    assert skin.reading(0.5 * lo, band) == "plastic"
    assert skin.reading(1.0, band) == "natural"
    assert skin.reading(2 * hi, band) == "over-sharpened or grain"
    assert skin.reading(math.nan, band) is None


# ---- the family on a context -------------------------------------------------------------------
@pytest.fixture(scope="module")
def astronaut_big():
    from skimage import data

    return np.clip(cv2.resize(data.astronaut().astype(np.float32) / 255.0, None, fx=2, fy=2,
                              interpolation=cv2.INTER_CUBIC), 0, 1)


def test_astronaut_face_is_found_and_measured(astronaut_big):
    res = skin.compute(ImageContext(astronaut_big))
    v = res.values
    assert set(v) == {o.name for o in skin.OUTPUTS}
    assert v["skin.face_found"] == 1.0 and v["skin.is_skin"] == 1.0
    assert np.isfinite(v["skin.texture_energy"]) and v["skin.texture_energy"] > 0
    assert np.isfinite(v["skin.texture_vs_real"]) and res.artifacts["reading"] in skin.READINGS
    assert 0 <= v["skin.specular_fraction"] <= 1 and 0.5 < v["skin.mask_fraction"] <= 1
    assert v["skin.iod_px"] > skin.PARAMS.min_iod_px
    x, y, w, h = res.artifacts["crop_box"]
    assert res.artifacts["mask"].any() and 0 <= x and x + w <= astronaut_big.shape[1]
    assert res.reasons["skin"].startswith(res.artifacts["reading"])     # the reading is in the notes
    assert "x real skin" in skin.explain(res)


def test_a_grey_statue_of_the_same_face_is_not_skin(astronaut_big):
    g = imaging.linear_to_srgb(imaging.srgb_to_linear(astronaut_big) @ imaging.REC709)
    statue = cv2.bilateralFilter(np.repeat(g[..., None], 3, axis=2), -1, 0.06, 5)
    res = skin.compute(ImageContext(statue))
    assert res.values["skin.face_found"] == 1.0
    assert res.values["skin.is_skin"] == 0.0
    assert math.isnan(res.values["skin.texture_energy"]) and "not skin" in res.reasons["skin.texture_energy"]
    assert skin.explain(res).startswith("not skin")


def test_smoothed_face_reads_plastic(astronaut_big):
    from lenscore.datasets.synthetic import SceneSpec, render

    r = render(SceneSpec(width=1024, height=1024, pore_amplitude=0.1, smoothing=5, seed=1,
                         key_kelvin=2700, background_kelvin=6500, n_lights=4))
    res = skin.compute(ImageContext(r.rgb))
    assert res.artifacts["reading"] == "plastic" and "plastic" in skin.explain(res)


def test_small_face_is_nan_with_reason(portrait_rgb):
    small = cv2.resize(portrait_rgb, (320, 320), interpolation=cv2.INTER_AREA)
    res = skin.compute(ImageContext(small))      # the astronaut's eyes are ~26 px apart here
    assert res.values["skin.face_found"] == 1.0
    assert math.isnan(res.values["skin.texture_energy"])
    assert "too small" in res.reasons["skin.texture_energy"]


@pytest.mark.parametrize("make", [
    lambda: np.full((256, 256, 3), 0.5, np.float32),
    lambda: np.dstack([np.tile(np.linspace(0.2, 0.9, 320, dtype=np.float32), (240, 1))] * 3),
])
def test_no_face_is_nan_with_reason(make):
    res = skin.compute(ImageContext(make()))
    assert res.values["skin.face_found"] == 0.0
    assert math.isnan(res.values["skin.texture_energy"])
    assert res.reasons["skin.texture_energy"] == "no face found"
    assert "no face found" in skin.explain(res)


def test_tiny_image():
    res = skin.compute(ImageContext(np.full((8, 8, 3), 0.6, np.float32)))
    assert res.values["skin.face_found"] == 0.0
    assert math.isnan(res.values["skin.texture_energy"])
    assert "no face found" in res.reasons["skin.texture_energy"]


def test_tiny_image_with_mask_is_too_small():
    res = skin.compute(ImageContext(np.full((8, 8, 3), 0.6, np.float32),
                                    skin_mask=np.ones((8, 8), bool)))
    assert math.isnan(res.values["skin.texture_energy"])
    assert "too small" in res.reasons["skin.texture_energy"]


def test_uniform_grey_with_subject_box_has_no_skin():
    ctx = ImageContext(np.full((600, 600, 3), 0.5, np.float32), subject_box=(50, 20, 500, 560))
    res = skin.compute(ctx)
    assert res.values["skin.face_found"] == 0.0
    assert math.isnan(res.values["skin.texture_energy"])
    assert "skin" in res.reasons["skin.texture_energy"]


def test_subject_box_gives_a_face_estimate():
    img, face = face_image(0.03, fw=300, size=1100)
    x, y, w, h = face
    box = (int(x - 1.2 * w), int(y - 0.6 * h), int(3.4 * w), int(3.8 * h))  # head and shoulders
    res = skin.compute(ImageContext(img, subject_box=box))
    assert res.values["skin.face_found"] == 0.0
    assert res.artifacts["face_source"] == "subject_box"
    assert "estimated" in res.reasons["skin"]
    assert res.values["skin.texture_energy"] == pytest.approx(expected_rms(0.03), rel=0.3)


def test_user_mask_wins():
    img, face = face_image(0.03, fw=300)
    mask = np.zeros(img.shape[:2], bool)
    x, y, w, h = face
    mask[y + int(0.5 * h): y + int(0.7 * h), x + int(0.15 * w): x + int(0.85 * w)] = True
    res = skin.compute(ImageContext(img, skin_mask=mask))
    assert res.artifacts["face_source"] == "user_mask"
    assert res.values["skin.texture_energy"] == pytest.approx(expected_rms(0.03), rel=0.2)
    assert math.isnan(res.values["skin.mask_fraction"])
    cx, cy, cw, ch = res.artifacts["crop_box"]
    used = cv2.resize(res.artifacts["mask"].astype(np.uint8), (cw, ch),
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    assert (used == mask[cy:cy + ch, cx:cx + cw]).mean() > 0.97


def test_user_mask_wins_over_detected_face(astronaut_big):
    mask = np.zeros(astronaut_big.shape[:2], bool)
    mask[300:340, 380:440] = True                       # a patch of the astronaut's cheek
    res = skin.compute(ImageContext(astronaut_big, skin_mask=mask))
    assert res.values["skin.face_found"] == 1.0
    cx, cy, cw, ch = res.artifacts["crop_box"]
    assert cx <= 380 and cx + cw >= 440 and cy <= 300 and cy + ch >= 340
    assert cw < 160 and ch < 140                        # the crop follows the mask, not the face


def test_mask_of_wrong_size_is_a_reason():
    img, _ = face_image(0.0, fw=300)
    res = skin.compute(ImageContext(img, skin_mask=np.ones((10, 10), bool)))
    assert math.isnan(res.values["skin.texture_energy"])
    assert "size" in res.reasons["skin"]


def test_missing_colour_family_falls_back_to_the_frame(astronaut_big):
    from lenscore.metrics.base import MetricResult

    ctx = ImageContext(astronaut_big)
    ctx.provide("color", MetricResult({"color.subject_cct_k": math.nan}, {"color.subject_cct_k": "no key"}))
    res = skin.compute(ctx)
    assert res.values["skin.is_skin"] == 1.0 and np.isfinite(res.values["skin.texture_energy"])
    assert "frame" in res.reasons["skin.is_skin"]


def test_registered_outputs_speak_plainly():
    from lenscore.metrics.base import get_family

    fam = get_family("skin")
    assert fam.name == "skin" and fam.version == "4" and fam.requires == ("color",)
    assert fam.output("texture_energy").direction == "higher"
    assert fam.output("texture_vs_real").good is not None
    for o in fam.outputs:
        assert "^" not in o.unit and o.description
    assert fam.explain is not None and fam.draw is not None


def test_overlay_is_legible(astronaut_big):
    res = skin.compute(ImageContext(astronaut_big))
    img = skin.draw(astronaut_big, res, 900)
    assert img.dtype == np.uint8 and img.ndim == 3 and max(img.shape[:2]) >= 900
    empty = skin.draw(np.full((200, 300, 3), 0.5, np.float32), skin.FAMILY.nan_result("no face found"), 480)
    assert empty.shape[1] == 300


# ---- the ground-truth renderer -----------------------------------------------------------------
def test_renderer_pores_and_beauty_ladder_span_plastic_to_natural():
    synthetic = pytest.importorskip("lenscore.datasets.synthetic")

    def read(**kw):
        spec = synthetic.SceneSpec(width=768, height=768, key_kelvin=2700, background_kelvin=6500,
                                   n_lights=0, seed=0, **kw)
        res = skin.compute(ImageContext(synthetic.render(spec).rgb))
        return res.values["skin.texture_energy"], res.artifacts.get("reading")

    amp = [read(pore_amplitude=a) for a in (0.0, 0.1, 0.2)]
    assert all(x[0] < y[0] for x, y in zip(amp, amp[1:])), amp
    assert amp[0][1] == "plastic" and amp[1][1] == "natural"
    sm = [amp[1]] + [read(pore_amplitude=0.1, smoothing=s) for s in (1, 2, 4)]
    assert all(x[0] > y[0] for x, y in zip(sm, sm[1:])), sm
    assert sm[-1][1] == "plastic"


# ---- real portraits ------------------------------------------------------------------------------
@pytest.mark.realdata
def test_london_ladder_and_resolution():
    """Every London face (32): a Gaussian ladder in face-relative steps lowers the texture at
    every step and half resolution agrees within 15 %, on the production path's face; the
    bilateral ladder on every eighth face (it costs ~1 s a step at 1350 px; ``lenscore
    validate`` runs it on all 32 under every key)."""
    folder = SHARED_DATA / "portraits-london"
    if not folder.is_dir():
        pytest.skip(f"real data not present at {folder}")
    from lenscore.datasets.decode import decode_image

    files = sorted(folder.glob("*_03.jpg"))
    assert len(files) >= 8
    bad = []
    for i, f in enumerate(files):
        rgb = decode_image(f).rgb
        face = ImageContext(rgb).faces[0]
        x, y, w, h = (int(v) for v in face.box)
        m = int(0.3 * w)                                  # filters only where the metric looks
        x0, y0 = max(0, x - m), max(0, y - m)
        img = np.ascontiguousarray(rgb[y0: y + h + m, x0: x + w + m])
        fc = skin.face_on_grid(face, x0, y0, 1.0)
        k = face.inter_ocular / skin.PARAMS.iod_px
        e = [texture(img, fc)] + [texture(cv2.GaussianBlur(img, (0, 0), s * k), fc) for s in (0.5, 1, 2, 3)]
        b = [e[0]] + [texture(cv2.bilateralFilter(img, int(4 * ss * k) | 1, sc, ss * k), fc)
                      for ss, sc in ((1.0, 0.03), (1.5, 0.06), (2.5, 0.10), (4.0, 0.15))] \
            if i % 8 == 0 else [1.0, 0.0]
        half = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        eh = texture(half, fc.scaled(0.5))
        if not (all(a > c for a, c in zip(e, e[1:])) and all(a > c for a, c in zip(b, b[1:]))
                and abs(eh / e[0] - 1) <= 0.15):
            bad.append((f.name, [round(v, 3) for v in e], [round(v, 3) for v in b], round(eh / e[0], 3)))
    assert not bad


@pytest.mark.realdata
def test_deep_skin_under_a_2000k_key_is_skin_with_its_texture():
    """London face 096 (deep skin) under a 2000 K key: its blue is under 1 of 255 levels, whose
    chromaticity is rounding; it read "paint" and lost its texture. The colour signs are silent
    there and the texture agrees with the 2700 K reading."""
    from lenscore.datasets import london

    if not london.available():
        pytest.skip("real data not present")
    person = london.load_face("096")
    rng = np.random.default_rng([17, 96])          # the validation's scene for this face
    kw = dict(frame=(1024, 1024), face_width_frac=float(rng.uniform(0.16, 0.32)), roll_deg=0.0,
              background="texture", seed=17096, center_x_frac=float(rng.uniform(0.4, 0.6)))
    scale = float(rng.uniform(0.75, 0.95))
    reads = {}
    for key in (2000.0, 2700.0):
        ex = scale * min(1.0, 1.0 / float(np.max(london.key_gain(key))))
        img, _ = london.compose(person, key_kelvin=key, exposure=ex, **kw)
        res = skin.compute(ImageContext(np.clip(img, 0, 1).astype(np.float32)))
        reads[key] = res
    r = reads[2000.0]
    assert r.values["skin.is_skin"] != 0.0, r.artifacts.get("colour")
    assert r.values["skin.texture_energy"] == pytest.approx(
        reads[2700.0].values["skin.texture_energy"], rel=0.15)


@pytest.mark.realdata
def test_statue_reads_not_skin_and_real_faces_natural():
    bust = SHARED_DATA / "comfyui-png" / "hypernetwork_example_output.png"
    if not bust.is_file():
        pytest.skip("ComfyUI examples not present")
    from lenscore.datasets.decode import decode_image

    res = skin.compute(ImageContext(decode_image(bust).rgb))
    assert res.values["skin.is_skin"] == 0.0, res.artifacts.get("colour")
    for f in sorted((SHARED_DATA / "portraits-london").glob("*_03.jpg"))[::8]:
        r = skin.compute(ImageContext(decode_image(f).rgb))
        assert r.values["skin.is_skin"] == 1.0 and r.artifacts["reading"] == "natural", f.name
