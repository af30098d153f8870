"""Truth consistency of the renderer's scene spread (subject scale and pose, backgrounds, depth
ramps, orb placement and shapes, tinted lights, camera pipeline) and of the scene samplers."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from lenscore.datasets import scenes as SC
from lenscore.datasets import synthetic as S
from lenscore.errors import InputError
from lenscore.imaging import REC709, immerkaer_noise_sigma, linear_to_xyz, srgb_to_linear

DARK = dict(subject="none", n_lights=0, ambient=0.02)


def _lum(r):
    return srgb_to_linear(r.rgb) @ REC709


# ---- orbs --------------------------------------------------------------------------------------
@pytest.mark.parametrize("frac", [0.02, 0.05, 0.11])
def test_unclipped_orb_has_the_truth_diameter_within_a_pixel(frac):
    w = 512
    spec = S.SceneSpec(width=w, height=w, light_diameter_frac=(frac, frac), n_lights=1, light_intensity=(0.7, 0.7),
                       subject="none", ambient=0.02, focal_mm=135, f_number=1.4, focus_m=2.0, seed=4)
    r = S.render(spec)
    (o,) = r.truth["lights"]
    assert o["diameter_px"] == pytest.approx(frac * w, rel=1e-6)
    lum = _lum(r)
    bg = float(np.median(lum))
    m = lum > bg + 0.5 * (lum[int(o["y"]), int(o["x"])] - bg)
    n, lab = cv2.connectedComponents(m.astype(np.uint8))
    blob = lab == lab[int(o["y"]), int(o["x"])]
    assert 2 * math.sqrt(blob.sum() / math.pi) == pytest.approx(o["diameter_px"], abs=1.0)
    ys, xs = np.nonzero(blob)
    assert abs(xs.mean() - o["x"]) < 0.5 and abs(ys.mean() - o["y"]) < 0.5
    assert not o["clipped"] and o["visible_fraction"] == pytest.approx(1.0)


def test_anamorphic_orbs_have_the_truth_axes_and_orientation():
    spec = S.SceneSpec(width=400, height=400, aperture="anamorphic", anamorphic_aspect=1.8, anamorphic_angle=1.2,
                       lights=(S.LightSpec(0.5, 0.5, depth_m=30.0, intensity=0.7),), **DARK)
    r = S.render(spec)
    (o,) = r.truth["orbs"]
    assert o["major_px"] / o["minor_px"] == pytest.approx(1.8)
    assert o["major_px"] * o["minor_px"] == pytest.approx(o["diameter_px"] ** 2)  # the disc's area
    lum = _lum(r)
    m = (lum > 0.5 * lum.max()).astype(np.uint8)
    cnts, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (cx, cy), (a1, a2), ang = cv2.fitEllipse(max(cnts, key=cv2.contourArea))
    assert max(a1, a2) == pytest.approx(o["major_px"], abs=1.5)
    assert min(a1, a2) == pytest.approx(o["minor_px"], abs=1.5)
    mu = cv2.moments(m)
    theta = 0.5 * math.atan2(2 * mu["mu11"], mu["mu20"] - mu["mu02"])
    assert abs(math.remainder(theta - o["angle"], math.pi)) < 0.05


@pytest.mark.parametrize("peak", [1.5, 4.0, 8.0])
def test_clipped_glow_flat_top_is_where_the_truth_says(peak):
    spec = S.SceneSpec(width=400, height=400, aperture="gaussian", clip_highlights=True, subject="none", n_lights=0,
                       ambient=0.0, lights=(S.LightSpec(0.5, 0.5, depth_m=30.0, kelvin=6500.0, intensity=peak),))
    r = S.render(spec)
    (o,) = r.truth["lights"]
    assert o["clipped"] and o["peak_level"] == pytest.approx(peak)
    flat = srgb_to_linear(r.rgb).max(axis=2) >= 0.999
    ys, xs = np.nonzero(flat)
    assert abs(xs.mean() - o["x"]) < 0.5 and abs(ys.mean() - o["y"]) < 0.5
    radius = math.sqrt(flat.sum() / math.pi)
    assert radius == pytest.approx(o["clip_radius_px"], abs=0.01)
    # and the analytic flat top of a Gaussian of peak P (max channel): sigma sqrt(2 ln P)
    assert radius == pytest.approx(o["sigma_px"] * math.sqrt(2 * math.log(peak)), abs=1.0)


def test_unclipped_orbs_say_so():
    t = S.render(S.SceneSpec(width=320, height=320, light_depth_m=(8, 60), seed=2)).truth
    assert t["lights"] and not any(L["clipped"] for L in t["lights"])


def test_visible_fraction_of_occluded_orbs_matches_the_subject_mask():
    spec = S.SceneSpec(width=512, height=512, n_lights=12, orbs_behind_subject=1.0, light_depth_m=(8.0, 40.0), seed=5)
    r = S.render(spec)
    lights = r.truth["lights"]
    assert len(lights) >= 8 and all(L["placement"] == "behind" for L in lights)
    fr = []
    yy, xx = np.mgrid[:512, :512]
    for L in lights:
        disc = (xx - L["x"]) ** 2 + (yy - L["y"]) ** 2 <= (L["diameter_px"] / 2) ** 2
        mask_frac = float((disc & ~r.subject_mask).sum() / disc.sum())
        assert L["visible_fraction"] == pytest.approx(mask_frac, abs=0.04)
        fr.append(L["visible_fraction"])
    assert min(fr) < 0.6 and max(fr) > 0.3 and all(0.0 < f < 1.0 for f in fr)  # partly hidden


def test_border_orbs_are_cut_by_the_frame_and_say_so():
    spec = S.SceneSpec(width=400, height=400, n_lights=10, orbs_at_border=1.0, subject="none", light_depth_m=(8, 40))
    t = S.render(spec).truth
    assert len(t["lights"]) >= 8
    for L in t["lights"]:
        r = L["diameter_px"] / 2
        edge = min(L["x"], L["y"], 399 - L["x"], 399 - L["y"])
        assert L["at_border"] and edge < r
        assert L["frame_fraction"] < 1.0 and L["visible_fraction"] == pytest.approx(L["frame_fraction"])


def test_overlapping_orbs_stay_within_max_overlap():
    spec = S.SceneSpec(width=400, height=400, n_lights=40, max_overlap=0.5, subject="none",
                       light_diameter_frac=(0.06, 0.1), focal_mm=135, f_number=1.4, focus_m=2.0, seed=1)
    t = S.render(spec).truth
    fr = [o["fraction"] for L in t["lights"] for o in L["overlaps"]]
    assert fr and max(fr) <= 0.5 + 1e-6 and max(fr) > 0.2
    for L in t["lights"]:
        for o in L["overlaps"]:
            assert any(b["index"] == L["index"] for b in t["lights"][o["index"]]["overlaps"])


@pytest.mark.parametrize("aperture", ["soap_bubble", "onion"])
def test_bubble_rim_and_onion_rings(aperture):
    k = S.aperture_kernel(aperture, 80.0, rim=3.0, rings=0.4)
    row = k[k.shape[0] // 2] / k.max()
    c = k.shape[0] // 2
    if aperture == "soap_bubble":
        assert 0.3 < row[c] < 0.4 and row[c + 38] > 0.8  # bright rim: centre ~ 1/rim of the rim
    else:
        prof = row[c:c + 40]
        minima = np.sum((prof[1:-1] < prof[:-2]) & (prof[1:-1] < prof[2:]))
        assert minima >= S.ONION_RINGS - 1 and prof.min() < 0.7


# ---- subject -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,fw", [("procedural", 0.04), ("procedural", 0.4), ("astronaut", 0.12), ("astronaut", 0.4)])
def test_face_width_and_position_follow_the_spec(kind, fw):
    spec = S.SceneSpec(width=640, height=480, subject=kind, face_width_frac=fw, face_x_frac=0.4, face_y_frac=0.45,
                       n_lights=0, pore_amplitude=0.1)
    r = S.render(spec)
    t = r.truth
    assert t["face_width_px"] == pytest.approx(fw * 640) and t["face_width_frac"] == pytest.approx(fw)
    x, y, bw, bh = t["face_box"]
    assert x + bw / 2 == pytest.approx(0.4 * 640) and y + bh / 2 == pytest.approx(0.45 * 480)
    (le, re) = t["eye_centres"]
    assert x < le[0] < re[0] < x + bw and y < le[1] < y + bh / 2
    assert r.skin_mask.any() and not (r.skin_mask & ~r.subject_mask).any()
    assert r.subject_mask[int(le[1]), int(le[0])]


@pytest.mark.parametrize("roll", [-30.0, 20.0])
def test_roll_turns_the_eye_line(roll):
    for kind in ("astronaut", "procedural"):
        t = S.render(S.SceneSpec(width=400, height=400, subject=kind, face_width_frac=0.2, face_x_frac=0.5,
                                 face_y_frac=0.45, roll_deg=roll, n_lights=0)).truth
        (le, re) = t["eye_centres"]
        ang = math.degrees(math.atan2(re[1] - le[1], re[0] - le[0]))
        assert ang == pytest.approx(roll + (0.0 if kind == "procedural" else math.degrees(math.atan2(1, 42))), abs=0.5)
        quad = np.array(t["people"][0]["face_quad"])
        assert np.allclose(quad.mean(axis=0), [200, 180], atol=1e-6)
        x, y, bw, bh = t["face_box"]
        assert (quad[:, 0].min(), quad[:, 1].min()) == pytest.approx((x, y))


def test_astronaut_landmarks_sit_on_the_eyes():
    r = S.render(S.SceneSpec(width=512, height=512, n_lights=0, key_kelvin=5000, background_kelvin=5000))
    lum = _lum(r)
    for x, y in r.truth["eye_centres"]:
        patch = lum[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3]
        cheek = lum[int(y) + 12:int(y) + 17, int(x) - 2:int(x) + 3]
        assert patch.mean() < 0.6 * cheek.mean()  # the pupil is dark against the cheek


def test_a_second_person_sharp_or_defocused():
    base = S.SceneSpec(width=512, height=512, n_lights=0, face_width_frac=0.15, face_x_frac=0.65,
                       people=(S.PersonSpec(face_width_frac=0.08, x_frac=0.2, y_frac=0.35),))
    r = S.render(base)
    p0, p1 = r.truth["people"]
    assert p0["main"] and not p1["main"] and p1["sharp"] and p1["coc_px"] == 0
    assert (r.person_masks[1] & r.subject_mask).sum() == r.person_masks[1].sum()  # sharp people are subject
    far = S.render(replace(base, people=(replace(base.people[0], depth_m=8.0),)))
    q1 = far.truth["people"][1]
    assert not q1["sharp"] and q1["coc_px"] == pytest.approx(S.coc_diameter_px(85, 1.4, 2.5, 8.0, width_px=512))
    assert not (far.person_masks[1] & far.subject_mask).any()
    assert np.allclose(far.coc_map[far.person_masks[1]], q1["coc_px"])


def test_skin_mask_is_exact_under_every_key_colour():
    masks = []
    for k in (2000, 2700, 5000, 10000):
        for fill in (0.0, 0.5):
            r = S.render(S.SceneSpec(width=384, height=384, key_kelvin=k, fill_kelvin=9000, fill_duv=0.01,
                                     fill_intensity=fill, pore_amplitude=0.1, n_lights=0))
            masks.append(r.skin_mask)
    assert all(np.array_equal(masks[0], m) for m in masks[1:])


# ---- backgrounds and depth ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["brick", "grass", "gravel"])
def test_textures_ship_offline_and_are_textured(kind):
    from skimage import data

    assert getattr(data, kind)().shape == (512, 512)  # inside the package: no download
    sharp = S.render(S.SceneSpec(width=256, height=256, background=kind, subject="none", n_lights=0,
                                 ambient=0.5, f_number=16.0, background_m=3.0))
    plain = S.render(S.SceneSpec(width=256, height=256, background="wall", subject="none", n_lights=0, ambient=0.5))
    g = lambda r: float(np.abs(cv2.Laplacian(r.rgb.mean(axis=2), cv2.CV_32F)).mean())
    assert g(sharp) > 20 * max(g(plain), 1e-5)
    assert sharp.truth["background"]["textured"] and not plain.truth["background"]["textured"]


def test_plain_wall_is_flat_and_gradient_is_smooth():
    r = S.render(S.SceneSpec(width=256, height=256, background="wall", background_rgb=(0.2, 0.5, 0.8), **DARK))
    assert float(np.ptp(r.rgb.reshape(-1, 3), axis=0).max()) < 1e-6
    g = S.render(S.SceneSpec(width=256, height=256, background="gradient", ambient=0.5, subject="none", n_lights=0))
    lum = _lum(g)
    assert np.ptp(lum) > 0.05
    assert float(np.abs(cv2.Laplacian(lum, cv2.CV_32F)[2:-2, 2:-2]).max()) < 1e-3


def test_depth_ramp_coc_follows_the_thin_lens_and_blur_grows_with_depth():
    spec = S.SceneSpec(width=512, height=512, background="gravel", background_m=60.0, background_near_m=3.0,
                       focus_m=2.0, f_number=2.0, focal_mm=85, subject="none", n_lights=0, ambient=0.5)
    r = S.render(spec)
    h = 512
    for row in (0, 128, 300, 511):
        inv = 1 / 60 + (1 / 3 - 1 / 60) * row / (h - 1)
        assert r.coc_map[row, 10] == pytest.approx(S.coc_diameter_px(85, 2.0, 2.0, 1 / inv, width_px=512), rel=1e-5)
    assert r.truth["background"]["depth"] == "ramp"
    assert r.truth["background"]["coc_px_max"] == pytest.approx(r.truth["coc_px"]["background"], rel=1e-5)
    # measured: the detail left in each band falls as the band recedes (top = far)
    gray = r.rgb.mean(axis=2)
    lap = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    bands = [float(lap[y:y + 64].mean()) for y in range(448, -1, -64)]  # near -> far
    assert all(a > b for a, b in zip(bands, bands[1:])), bands
    tiles = r.truth["background"]["coc_tiles"]
    assert all(tiles[i][0] > tiles[i + 1][0] for i in range(7))


def test_flat_background_coc_map_and_subject_is_zero():
    r = S.render(S.SceneSpec(width=256, height=256, n_lights=0))
    assert np.all(r.coc_map[r.subject_mask] == 0)
    assert np.allclose(r.coc_map[~r.subject_mask], r.truth["coc_px"]["background"])


# ---- colour ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kelvin,duv", [(3000, -0.02), (4000, 0.02), (6500, -0.03), (8000, 0.03)])
def test_duv_of_a_tinted_key_measured_back_from_a_white_patch(kelvin, duv):
    import colour

    spec = S.SceneSpec(width=256, height=256, subject="none", n_lights=0, ambient=0.05, key_kelvin=kelvin, key_duv=duv,
                       props=(S.PropSpec(x_frac=0.5, y_frac=0.5, w_frac=0.4, h_frac=0.4, rgb=(0.8, 0.8, 0.8),
                                         depth_m=2.5),))
    r = S.render(spec)
    lin = srgb_to_linear(r.rgb[118:138, 118:138]).reshape(-1, 3).mean(axis=0)
    uv = colour.xy_to_UCS_uv(colour.XYZ_to_xy(linear_to_xyz(lin).astype(np.float64)))
    cct, d = colour.uv_to_CCT(uv, method="Ohno 2013")
    assert d == pytest.approx(duv, abs=0.002)
    assert cct == pytest.approx(kelvin, rel=0.02)
    key = r.truth["illuminants"][0]
    assert key["role"] == "key" and key["duv"] == duv and key["in_gamut"]
    assert r.truth["light_coverage"]["0"] == pytest.approx(0.16, abs=0.01)  # the patch is lit by the key


def test_illuminants_roles_and_light_map():
    spec = S.SceneSpec(width=384, height=384, key_kelvin=3000, fill_kelvin=7000, fill_intensity=0.5,
                       background_kelvin=5000, n_lights=6, light_depth_m=(10, 40), key_light_orbs=0.5, seed=3)
    r = S.render(spec)
    il = r.truth["illuminants"]
    assert [i["role"] for i in il[:3]] == ["key", "fill", "background"] and all(i["role"] == "orb" for i in il[3:])
    assert len(il) == 3 + len(r.truth["lights"])
    on = r.light_map[r.subject_mask]
    assert set(np.unique(on)) <= {0, 1} and (on == 0).any() and (on == 1).any()
    for L in r.truth["lights"]:
        if L["visible_fraction"] > 0.99:
            assert r.light_map[int(L["y"]), int(L["x"])] == 3 + L["index"]
    ks = [L for L in r.truth["lights"] if L["key_colour"]]
    assert ks and all(L["kelvin"] == 3000 for L in ks)
    none = S.render(replace(spec, key_light_orbs=0.0)).truth
    assert not none["key_in_scene"] and not any(L["key_colour"] for L in none["lights"])


@pytest.mark.parametrize("target", [0.0, 0.1, 0.3])
def test_clip_fraction_sets_the_exposure(target):
    t = S.render(S.SceneSpec(width=256, height=256, clip_fraction=target, clip_highlights=True)).truth
    assert t["clipped_fraction"] == pytest.approx(target, abs=0.01)


def test_props_cover_what_they_say():
    props = (S.PropSpec(x_frac=0.25, y_frac=0.5, w_frac=0.3, h_frac=0.5, rgb=(0.95, 0.45, 0.1)),
             S.PropSpec(shape="ellipse", x_frac=0.75, y_frac=0.5, w_frac=0.3, h_frac=0.3, rgb=(0.1, 0.7, 0.2),
                        depth_m=2.5))
    t = S.render(S.SceneSpec(width=400, height=400, props=props, **DARK)).truth
    a, b = t["props"]
    assert a["frame_fraction"] == pytest.approx(0.15, abs=0.01) and a["lit_by"] == "background"
    assert b["frame_fraction"] == pytest.approx(math.pi * 0.15 * 0.15, abs=0.01) and b["lit_by"] == "key"


# ---- camera pipeline ---------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [0.005, 0.015, 0.03])
def test_noise_sigma_measured_back_with_immerkaer(sigma):
    r = S.render(S.SceneSpec(width=384, height=384, background="wall", subject="none", n_lights=0, ambient=0.3,
                             noise_sigma=sigma))
    for ch in range(3):
        assert immerkaer_noise_sigma(r.rgb[..., ch]) == pytest.approx(sigma, rel=0.10)
    assert r.truth["noise"]["rms"] == pytest.approx(sigma)


def test_signal_dependent_noise():
    spec = S.SceneSpec(width=256, height=256, background="wall", subject="none", n_lights=0, ambient=0.3,
                       noise_sigma=0.005, noise_shot=0.03)
    r = S.render(spec)
    clean = S.render(replace(spec, noise_sigma=0.0, noise_shot=0.0)).rgb
    v = float(clean[..., 1].mean())
    assert immerkaer_noise_sigma(r.rgb[..., 1]) == pytest.approx(math.sqrt(0.005 ** 2 + 0.03 ** 2 * v), rel=0.1)


def test_jpeg_and_bits():
    spec = S.SceneSpec(width=256, height=256, jpeg_quality=80)
    r = S.render(spec)
    assert r.jpeg[:2] == b"\xff\xd8" and r.truth["jpeg_quality"] == 80
    dec = cv2.cvtColor(cv2.imdecode(np.frombuffer(r.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(np.round(r.rgb * 255).astype(np.uint8), dec)
    clean = S.render(replace(spec, jpeg_quality=None)).rgb
    assert 0 < float(np.abs(r.rgb - clean).mean()) < 0.02
    r16 = S.render(replace(spec, jpeg_quality=None, bits=16))
    assert np.allclose(r16.rgb * 65535, np.round(r16.rgb * 65535), atol=1e-2)
    assert float(np.abs(r16.rgb - clean).max()) <= 0.5 / 65535 + 1e-7


# ---- edge cases and validation -----------------------------------------------------------------
def test_edge_cases():
    # a face cut by the frame, rolled; a tiny frame with every option; no subject to hide orbs behind
    r = S.render(S.SceneSpec(width=256, height=256, subject="procedural", face_width_frac=0.4, face_x_frac=0.02,
                             face_y_frac=0.1, roll_deg=30, pore_amplitude=0.1, smoothing=2))
    assert r.subject_mask.any() and np.isfinite(r.rgb).all()
    tiny = S.render(S.SceneSpec(width=16, height=16, background="brick", background_near_m=5.0, noise_sigma=0.01,
                                jpeg_quality=90, orbs_behind_subject=0.5, max_overlap=0.5, face_width_frac=0.3,
                                people=(S.PersonSpec(depth_m=5.0),), props=(S.PropSpec(),)))
    assert tiny.rgb.shape == (16, 16, 3)
    json.dumps(tiny.truth)
    t = S.render(S.SceneSpec(width=256, height=256, subject="none", orbs_behind_subject=1.0, n_lights=5)).truth
    assert len(t["lights"]) == 5 and all(L["placement"] == "free" for L in t["lights"])
    crowded = S.render(S.SceneSpec(width=128, height=128, n_lights=60, light_diameter_frac=(0.2, 0.3),
                                   focal_mm=135, f_number=1.2, focus_m=1.5)).truth
    assert 0 < crowded["n_lights_placed"] < 60


@pytest.mark.parametrize("bad", [dict(background="marble"), dict(face_width_frac=0.0), dict(roll_deg=120),
                                 dict(clip_fraction=0.95), dict(noise_sigma=-1), dict(jpeg_quality=0),
                                 dict(bits=12), dict(background_near_m=50.0), dict(key_duv=0.2),
                                 dict(orbs_behind_subject=0.7, orbs_at_border=0.7),
                                 dict(people=(S.PersonSpec(kind="nobody"),)), dict(anamorphic_aspect=0.5)])
def test_bad_specs_are_refused(bad):
    with pytest.raises(InputError):
        S.render(S.SceneSpec(width=64, height=64, **bad))


def test_register_subject_hook():
    def flat(h, w, rng, placement):
        alpha = np.zeros((h, w), np.float32)
        alpha[h // 4:, w // 3:2 * w // 3] = 1
        return S.SubjectLayer(np.full((h, w, 3), 0.5, np.float32), alpha, np.zeros((h, w), np.float32), None, [])

    S.register_subject("test_flat", flat)
    try:
        r = S.render(S.SceneSpec(width=96, height=96, subject="test_flat", n_lights=3))
        assert r.subject_mask.sum() == 72 * 32 and r.truth["face_box"] is None
    finally:
        S.SUBJECT_LAYERS.pop("test_flat")
        S.SUBJECTS = tuple(s for s in S.SUBJECTS if s != "test_flat")


# ---- samplers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SC.SAMPLERS))
def test_samplers_are_deterministic_and_prefix_stable(name):
    fn = SC.SAMPLERS[name]
    a, b = fn(12, 7, size=256), fn(12, 7, size=256)
    assert a == b and fn(5, 7, size=256) == a[:5] and fn(12, 8, size=256) != a
    r1, r2 = S.render(a[3]), S.render(a[3])
    np.testing.assert_array_equal(r1.rgb, r2.rgb)


def test_bokeh_sampler_covers_the_ranges():
    specs = SC.random_bokeh_scenes(200, 0, size=256)
    assert {s.aperture for s in specs} == set(S.APERTURES)
    ns = [s.n_lights for s in specs]
    assert min(ns) <= 6 and max(ns) >= 55 and all(3 <= n <= 60 for n in ns)
    assert min(s.light_diameter_frac[0] for s in specs) < 0.015 and max(s.light_diameter_frac[1] for s in specs) > 0.11
    assert any(s.clip_highlights and s.light_intensity[1] > 6 for s in specs)
    assert any(s.aperture == "gaussian" and s.clip_highlights for s in specs)


def test_focus_sampler_covers_the_ranges():
    specs = SC.random_focus_scenes(200, 0, size=256)
    assert min(s.f_number for s in specs) < 1.5 and max(s.f_number for s in specs) > 13
    assert min(s.focal_mm for s in specs) < 40 and max(s.focal_mm for s in specs) > 130
    assert all(1.5 <= s.focus_m <= 5 and 3 <= s.background_m <= 100 and s.background_m > s.focus_m for s in specs)
    fw = [s.face_width_frac for s in specs]
    assert min(fw) == pytest.approx(0.05) and max(fw) == pytest.approx(0.40)
    assert {"wall", "gradient", "street", "brick", "grass", "gravel"} <= {s.background for s in specs}
    assert any(s.background_near_m for s in specs) and any(s.jpeg_quality for s in specs)


@pytest.mark.slow
def test_a_sweep_of_200_scenes_at_512_px_renders_with_consistent_truth():
    specs = [s for fn in SC.SAMPLERS.values() for s in fn(40, 1, size=512)]
    assert len(specs) == 200
    for spec in specs:
        r = S.render(spec)
        t = r.truth
        assert r.rgb.shape == (512, 512, 3) and np.isfinite(r.rgb).all()
        assert np.isfinite(r.coc_map).all() and r.coc_map.min() >= 0
        for L in t["lights"]:
            assert 0.0 <= L["visible_fraction"] <= L["frame_fraction"] + 1e-9 <= 1.0 + 1e-6
        assert not (r.skin_mask & ~r.subject_mask).any()
        assert sum(t["light_coverage"].values()) == pytest.approx(1.0)
