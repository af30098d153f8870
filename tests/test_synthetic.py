"""Tests of the thin-lens ground-truth renderer (lenscore.datasets.synthetic)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from lenscore.datasets import synthetic as S
from lenscore.errors import InputError, UsageError
from lenscore.imaging import linear_to_xyz, srgb_to_linear

SMALL = dict(width=320, height=320)


# ---- optics ----------------------------------------------------------------------------------
def test_coc_known_answer_85mm_f14():
    # by hand: f^2/(N(s-f)) = 85^2/(1.4*(2500-85)) = 7225/3381 mm; times |20000-2500|/20000
    expected_mm = 7225.0 / 3381.0 * 17500.0 / 20000.0
    assert S.coc_diameter_mm(85, 1.4, 2.5, 20.0) == pytest.approx(expected_mm, rel=1e-12)
    assert expected_mm == pytest.approx(1.8698, abs=1e-4)
    assert S.coc_diameter_px(85, 1.4, 2.5, 20.0, sensor_mm=36.0, width_px=1024) == pytest.approx(
        expected_mm / 36.0 * 1024, rel=1e-12)  # ~53.2 px
    # infinity: the hyperfocal limit f^2/(N(s-f))
    assert S.coc_diameter_mm(85, 1.4, 2.5, math.inf) == pytest.approx(7225.0 / 3381.0)


def test_coc_zero_at_focus_and_monotonic():
    assert S.coc_diameter_mm(85, 1.4, 2.5, 2.5) == 0.0
    ns = [1.4, 2, 2.8, 4, 5.6, 8, 11, 16]
    cs = [S.coc_diameter_mm(85, n, 2.5, 20.0) for n in ns]
    assert all(a > b for a, b in zip(cs, cs[1:]))
    behind = [S.coc_diameter_mm(50, 2, 3.0, d) for d in (3.5, 5, 10, 40, 200)]
    assert all(a < b for a, b in zip(behind, behind[1:]))
    front = [S.coc_diameter_mm(50, 2, 3.0, d) for d in (2.5, 2.0, 1.5, 1.0)]
    assert all(a < b for a, b in zip(front, front[1:]))


def test_coc_rejects_impossible_geometry():
    with pytest.raises(InputError):
        S.coc_diameter_mm(85, 1.4, 0.05, 20.0)  # focused inside the focal length
    with pytest.raises(InputError):
        S.coc_diameter_mm(85, 0, 2.5, 20.0)
    with pytest.raises(InputError):
        S.coc_diameter_mm(85, 1.4, 2.5, 0.0)


# ---- apertures -------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", S.APERTURES)
@pytest.mark.parametrize("diameter", [0.2, 3.0, 17.5, 40.0])
def test_kernels_are_normalised(shape, diameter):
    k = S.aperture_kernel(shape, diameter, angle=0.3, vignette=0.5)
    assert k.dtype == np.float32 and k.ndim == 2 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
    assert float(k.sum(dtype=np.float64)) == pytest.approx(1.0, abs=1e-5)
    assert (k >= 0).all()


@pytest.mark.parametrize("diameter", [10.0, 25.0, 53.2])
def test_circle_kernel_diameter(diameter):
    k = S.aperture_kernel("circle", diameter)
    area = float((k / k.max()).sum())  # anti-aliased coverage area
    measured = math.sqrt(4 * area / math.pi)
    assert measured == pytest.approx(diameter, rel=0.05)
    # and by extent: the widest row of the half-maximum disc
    extent = int((k > 0.5 * k.max()).sum(axis=1).max())
    assert extent == pytest.approx(diameter, rel=0.05, abs=1)


@pytest.mark.parametrize("shape", ["blades5", "blades6", "blades9"])
def test_polygon_has_the_area_of_the_disc(shape):
    k = S.aperture_kernel(shape, 40.0)
    assert float((k / k.max()).sum()) == pytest.approx(math.pi * 20.0 ** 2, rel=0.03)


def test_polygon_is_less_round_than_circle():
    def circularity(k):
        m = (k > 0.5 * k.max()).astype(np.uint8)
        cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        c = max(cnts, key=cv2.contourArea)
        return 4 * math.pi * cv2.contourArea(c) / cv2.arcLength(c, True) ** 2

    circ = [circularity(S.aperture_kernel(s, 60.0)) for s in ("circle", "blades9", "blades6", "blades5")]
    assert circ[0] > circ[2] > circ[3]
    assert circ[0] > circ[1]


def test_cats_eye_is_squeezed_along_the_radius():
    k = S.aperture_kernel("cats_eye", 40.0, angle=0.0, vignette=0.8)  # radius along +x
    m = k > 0.5 * k.max()
    width_x = int(m.any(axis=0).sum())
    width_y = int(m.any(axis=1).sum())
    assert width_x < 0.75 * width_y
    k0 = S.aperture_kernel("cats_eye", 40.0, vignette=0.0)
    np.testing.assert_allclose(k0, S.aperture_kernel("circle", 40.0), atol=1e-6)


def _rim_width(profile):
    """10-90 % rise distance (px) of the outer half of a centred 1-D profile."""
    p = np.asarray(profile, np.float64)
    p = (p - p.min()) / (p.max() - p.min())
    half = p[len(p) // 2:]
    xs = np.arange(half.size, dtype=np.float64)
    # the profile falls with x: interpolate the crossing of a level
    def cross(level):
        i = int(np.nonzero(half < level)[0][0])
        return xs[i - 1] + (half[i - 1] - level) / (half[i - 1] - half[i])
    return cross(0.1) - cross(0.9)


def test_gaussian_aperture_has_no_hard_rim():
    c = 40.0
    kc = S.aperture_kernel("circle", c)
    rim_circle = _rim_width(kc[kc.shape[0] // 2])
    k = S.aperture_kernel("gaussian", c)
    rim_gauss = _rim_width(k[k.shape[0] // 2])
    assert rim_circle < 0.1 * c  # a hard rim: one anti-aliased pixel
    assert rim_gauss > 0.3 * c    # a soft shoulder: 1.69 sigma = 0.42 c
    # sigma = c / 4: the same second moment as the disc
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]] - k.shape[0] // 2
    assert math.sqrt(float((k * xx ** 2).sum())) == pytest.approx(c / 4, rel=0.03)
    kc = S.aperture_kernel("circle", c)
    yy, xx = np.mgrid[: kc.shape[0], : kc.shape[1]] - kc.shape[0] // 2
    assert math.sqrt(float((kc * xx ** 2).sum())) == pytest.approx(c / 4, rel=0.03)


def test_unknown_aperture_is_refused():
    with pytest.raises(InputError):
        S.aperture_kernel("hexagon", 10.0)
    with pytest.raises(InputError):
        S.render(S.SceneSpec(aperture="hexagon", **SMALL))


# ---- light -----------------------------------------------------------------------------------
def test_blackbody_colours():
    warm, cool = S.blackbody_linear_rgb(2700), S.blackbody_linear_rgb(6500)
    assert warm.max() == pytest.approx(1.0) and cool.max() == pytest.approx(1.0)
    assert warm[0] / warm[2] > 5 * cool[0] / cool[2]
    assert cool.max() / cool.min() < 1.1  # 6500 K is near neutral under a D65 white balance
    lum = S.blackbody_linear_rgb(4000, normalize="luminance")
    assert float(lum @ np.array([0.2126, 0.7152, 0.0722])) == pytest.approx(1.0, rel=1e-5)
    reds = [S.blackbody_linear_rgb(k)[2] for k in (2200, 3000, 4000, 5000, 6500)]
    assert all(a < b for a, b in zip(reds, reds[1:]))  # bluer as temperature rises


@pytest.mark.parametrize("kelvin", [2200, 2700, 4000, 6500, 9500])
def test_blackbody_round_trips_through_cct(kelvin):
    import colour

    xyz = linear_to_xyz(S.blackbody_linear_rgb(kelvin)).astype(np.float64)
    cct, duv = colour.uv_to_CCT(colour.xy_to_UCS_uv(colour.XYZ_to_xy(xyz)), method="Ohno 2013")
    assert cct == pytest.approx(kelvin, rel=0.01)
    assert abs(duv) < 0.002


# ---- render ----------------------------------------------------------------------------------
def test_render_is_deterministic_in_seed():
    spec = S.SceneSpec(seed=7, pore_amplitude=0.1, smoothing=1, **SMALL)
    a, b = S.render(spec), S.render(spec)
    np.testing.assert_array_equal(a.rgb, b.rgb)
    assert a.truth == b.truth
    c = S.render(replace(spec, seed=8))
    assert not np.array_equal(a.rgb, c.rgb)


def test_render_output_types_and_truth_is_json():
    r = S.render(S.SceneSpec(seed=1, pore_amplitude=0.1, **SMALL))
    assert r.rgb.dtype == np.float32 and r.rgb.shape == (320, 320, 3)
    assert 0.0 <= r.rgb.min() and r.rgb.max() <= 1.0
    assert r.subject_mask.dtype == bool and r.subject_mask.shape == (320, 320)
    assert r.subject_mask.any() and r.skin_mask.any()
    text = json.dumps(r.truth)
    t = json.loads(text)
    for key in ("coc_px", "kelvin", "orbs", "subject_box", "face_box", "smoothing", "pore_amplitude",
                "seed", "spec", "aperture"):
        assert key in t
    assert t["coc_px"]["subject"] == 0.0
    assert t["coc_px"]["background"] == pytest.approx(
        S.coc_diameter_px(85, 1.4, 2.5, 20.0, width_px=320))
    fx, fy, fw, fh = t["face_box"]
    assert 0 <= fx and fx + fw <= 320 and 0 <= fy and fy + fh <= 320
    # the face box holds most of the skin
    assert r.skin_mask[int(fy):int(fy + fh), int(fx):int(fx + fw)].sum() > 0.6 * r.skin_mask.sum()


@pytest.mark.parametrize("seed", [0, 3])
def test_orbs_lie_in_the_background_and_do_not_overlap(seed):
    r = S.render(S.SceneSpec(seed=seed, light_depth_m=(6.0, 60.0), **SMALL))
    orbs = r.truth["orbs"]
    assert len(orbs) >= 6
    dist = cv2.distanceTransform((~r.subject_mask).astype(np.uint8), cv2.DIST_L2, 5)
    for o in orbs:
        x, y, rad = int(o["x"]), int(o["y"]), o["diameter_px"] / 2
        assert not r.subject_mask[y, x]
        assert dist[y, x] > rad
        assert rad <= x <= 319 - rad and rad <= y <= 319 - rad
    for i, a in enumerate(orbs):
        for b in orbs[i + 1:]:
            assert math.hypot(a["x"] - b["x"], a["y"] - b["y"]) >= (a["diameter_px"] + b["diameter_px"]) / 2
    sizes = [o["diameter_px"] for o in orbs]
    assert max(sizes) > 1.1 * min(sizes)  # size variation by distance


def test_rendered_orb_has_the_true_diameter_and_colour():
    import colour

    spec = S.SceneSpec(subject="none", n_lights=0, ambient=0.02, width=400, height=400,
                       lights=(S.LightSpec(0.5, 0.5, depth_m=20.0, kelvin=3200.0, intensity=0.7),))
    r = S.render(spec)
    (orb,) = r.truth["orbs"]
    lin = srgb_to_linear(r.rgb)
    lum = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    m = lum > 0.5 * (lum.max() + np.median(lum))
    measured = 2 * math.sqrt(m.sum() / math.pi)
    assert measured == pytest.approx(orb["diameter_px"], rel=0.05)
    core = lin[int(orb["y"]) - 5:int(orb["y"]) + 6, int(orb["x"]) - 5:int(orb["x"]) + 6].reshape(-1, 3).mean(0)
    xyz = linear_to_xyz(core).astype(np.float64)
    cct, _ = colour.uv_to_CCT(colour.xy_to_UCS_uv(colour.XYZ_to_xy(xyz)), method="Ohno 2013")
    # orb = light + a little 6500 K ambient, so the orb reads slightly cooler than its 3200 K
    assert cct == pytest.approx(3200.0, rel=0.05)


def test_gaussian_scene_orbs_have_no_hard_rim():
    def rim(aperture):
        spec = S.SceneSpec(subject="none", n_lights=0, ambient=0.0, aperture=aperture, width=385,
                           height=385, lights=(S.LightSpec(0.5, 0.5, intensity=0.6),))
        r = S.render(spec)
        lum = srgb_to_linear(r.rgb).mean(axis=2)
        return _rim_width(lum[192, :]) / r.truth["orbs"][0]["diameter_px"]

    assert rim("circle") < 0.1  # one anti-aliased pixel of a 20 px disc
    assert rim("gaussian") > 0.3


def test_cats_eye_orbs_squeeze_toward_corners():
    spec = S.SceneSpec(subject="none", n_lights=0, aperture="cats_eye", cats_eye_strength=0.8,
                       width=400, height=400, lights=(S.LightSpec(0.5, 0.5), S.LightSpec(0.9, 0.9)))
    t = S.render(spec).truth
    centre, corner = t["orbs"]
    assert centre["minor_px"] == pytest.approx(centre["major_px"], rel=0.02)
    assert corner["minor_px"] < 0.75 * corner["major_px"]


def _hf_energy(rgb, mask):
    gray = rgb.mean(axis=2)
    lap = cv2.Laplacian(gray, cv2.CV_32F, ksize=3)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return float((lap[inner] ** 2).mean())


def test_smoothing_ladder_reduces_skin_texture_monotonically():
    base = S.SceneSpec(seed=2, pore_amplitude=0.12, width=384, height=384)
    renders = [S.render(replace(base, smoothing=k)) for k in range(S.MAX_SMOOTHING + 1)]
    mask = renders[0].skin_mask
    e = [_hf_energy(r.rgb, mask) for r in renders]
    assert all(a > b for a, b in zip(e, e[1:])), e
    # the background is untouched by the beauty filter
    bg = ~renders[0].subject_mask
    np.testing.assert_array_equal(renders[0].rgb[bg], renders[3].rgb[bg])


def test_pore_amplitude_raises_skin_texture():
    base = S.SceneSpec(seed=2, width=384, height=384)
    e = [_hf_energy(S.render(replace(base, pore_amplitude=a)).rgb, S.render(base).skin_mask)
         for a in (0.0, 0.05, 0.1, 0.2)]
    assert all(a < b for a, b in zip(e, e[1:])), e


def test_procedural_subject_and_no_subject():
    r = S.render(S.SceneSpec(subject="procedural", pore_amplitude=0.1, smoothing=2, **SMALL))
    assert r.subject_mask.any() and r.skin_mask.any() and r.truth["face_box"] is not None
    assert not (r.skin_mask & ~r.subject_mask).any()
    n = S.render(S.SceneSpec(subject="none", **SMALL))
    assert not n.subject_mask.any() and n.truth["face_box"] is None and n.truth["subject_box"] is None
    assert len(n.truth["orbs"]) == 12


def test_edge_cases_tiny_image_and_no_lights():
    tiny = S.render(S.SceneSpec(width=8, height=8))
    assert tiny.rgb.shape == (8, 8, 3) and np.isfinite(tiny.rgb).all()
    json.dumps(tiny.truth)
    none = S.render(S.SceneSpec(n_lights=0, **SMALL))
    assert none.truth["orbs"] == [] and none.truth["n_lights_placed"] == 0
    with pytest.raises(InputError):
        S.render(S.SceneSpec(smoothing=99, **SMALL))


def test_main_scenes_are_mostly_unclipped_and_clipping_is_controllable():
    spec = S.SceneSpec(seed=4, light_depth_m=(6.0, 60.0), **SMALL)
    r = S.render(spec)
    assert r.truth["clipped_fraction"] < 0.01
    assert (r.linear.max(axis=2) >= 0.999).mean() < 0.001
    hot = S.render(replace(spec, exposure=3.0, clip_highlights=True))
    assert (hot.linear.max(axis=2) >= 1.0).mean() > 0.01


def test_demo_specs():
    opt = S.demo_specs("optical", 12, size=256)
    blur = S.demo_specs("blurred", 12, size=256, seed0=100)
    assert len(opt) == len(blur) == 12
    assert len({s.seed for s in opt}) == 12 and blur[0].seed == 100
    o, b = opt[0], blur[0]
    assert (o.focal_mm, o.f_number, o.focus_m, o.background_m) == (85.0, 1.4, 2.5, 20.0)
    assert o.aperture == "circle" and o.key_kelvin == 2700 and o.background_kelvin == 6500
    assert o.pore_amplitude > 0 and o.smoothing == 0
    assert b.aperture == "gaussian" and b.key_kelvin == b.background_kelvin
    assert b.smoothing == 3 and b.pore_amplitude == 0
    assert b.background_m < o.background_m   # "moderate distances": less blur than the optical crowd
    with pytest.raises(UsageError):
        S.demo_specs("other", 1)


def test_save_render(tmp_path):
    r = S.render(S.SceneSpec(width=64, height=48, n_lights=2))
    png, js = S.save_render(r, tmp_path / "a.png")
    img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    assert json.loads(js.read_text()) == r.truth
    png16, _ = S.save_render(r, tmp_path / "b.png", tmp_path / "b_truth.json", bits=16)
    assert cv2.imread(str(png16), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_srgb_encoding_matches_imaging():
    from lenscore.imaging import linear_to_srgb

    x = np.linspace(-0.1, 1.1, 200_001, dtype=np.float32).reshape(-1, 1, 1).repeat(3, axis=2)
    np.testing.assert_allclose(S._encode_srgb(x), linear_to_srgb(x), atol=1e-6)


def test_same_scene_at_two_resolutions():
    spec = S.SceneSpec(seed=1, pore_amplitude=0.1, light_depth_m=(6.0, 60.0), width=256, height=256)
    lo, hi = S.render(spec), S.render(replace(spec, width=512, height=512))
    down = cv2.resize(hi.rgb, (256, 256), interpolation=cv2.INTER_AREA)
    assert float(np.abs(lo.rgb - down).mean()) < 0.02
    a = sorted((o["x"] / 256, o["y"] / 256) for o in lo.truth["orbs"])
    b = sorted((o["x"] / 512, o["y"] / 512) for o in hi.truth["orbs"])
    assert len(a) == len(b)
    assert max(abs(p - q) for u, v in zip(a, b) for p, q in zip(u, v)) < 0.01
    assert hi.truth["coc_px"]["background"] == pytest.approx(2 * lo.truth["coc_px"]["background"])


@pytest.mark.parametrize("size", [(400, 256), (256, 400)])
def test_non_square_frames(size):
    w, h = size
    r = S.render(S.SceneSpec(width=w, height=h, subject="procedural", pore_amplitude=0.1, smoothing=1))
    assert r.rgb.shape == (h, w, 3) and r.subject_mask.shape == (h, w)
    x, y, bw, bh = r.truth["face_box"]
    assert 0 <= x and x + bw <= w and 0 <= y and y + bh <= h


def test_explicit_light_behind_the_subject_is_not_an_orb():
    spec = S.SceneSpec(n_lights=0, lights=(S.LightSpec(0.45, 0.3), S.LightSpec(0.08, 0.08)), **SMALL)
    t = S.render(spec).truth
    assert t["n_lights_placed"] == 2
    assert [L["in_background"] for L in t["lights"]] == [False, True]
    assert len(t["orbs"]) == 1 and t["orbs"][0]["x"] == pytest.approx(0.08 * 319, abs=1)


def test_light_kelvin_range_is_respected():
    t = S.render(S.SceneSpec(light_kelvin=(2200.0, 9500.0), subject="none", **SMALL)).truth
    ks = t["kelvin"]["lights"]
    assert len(ks) == 12 and all(2200 <= k <= 9500 for k in ks) and max(ks) - min(ks) > 1000
