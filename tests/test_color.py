"""Tests of the color family: the lights of a picture (key light on the face, orbs in the
background), one light colour or two, tints off the Planckian locus, the scene illuminant and
light coherence.

Ground truth is generated here: a portrait-like scene in linear light, every surface lit by a
light of known Kelvin (and Duv): a skin-coloured face with specular (sebum) highlights in the
key light's colour, a garment with folds, a wall, and emissive bokeh orbs (hard discs) whose
positions are handed to the family as the bokeh family would.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

from lenscore.context import ImageContext
from lenscore.imaging import linear_to_srgb, srgb_to_linear
from lenscore.metrics import color
from lenscore.metrics.base import MetricResult

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OUTPUTS = [o.name for o in color.FAMILY.outputs]
#: a light reading is right within this (mired)
TOL_MIRED = 15.0


def mired(k: float) -> float:
    return 1e6 / k


@functools.lru_cache(maxsize=64)
def light_rgb(kelvin: float, duv: float = 0.0) -> np.ndarray:
    """Linear sRGB of a light (max channel 1), from the renderer's own light model."""
    from lenscore.datasets.synthetic import light_linear_rgb

    return np.asarray(light_linear_rgb(kelvin, duv), np.float32)


SKIN = np.array([0.62, 0.40, 0.31], np.float32)     # linear albedo of light skin
DEEP = np.array([0.10, 0.045, 0.025], np.float32)   # deep skin
ORANGE = np.array([0.80, 0.22, 0.04], np.float32)   # a saturated orange jacket
GREEN = np.array([0.05, 0.55, 0.08], np.float32)    # a green box
GREY = np.array([0.30, 0.30, 0.30], np.float32)


def scene(size: int = 384, *, key_k: float = 3200.0, bg_k: float = 6500.0, key_duv: float = 0.0,
          bg_duv: float = 0.0, exposure: float = 1.0, jacket: np.ndarray = GREY,
          wall: np.ndarray = GREY, skin: np.ndarray = SKIN, n_orbs: int = 9,
          orb_level: tuple[float, float] = (0.45, 0.75), key_orbs: int = 0, sebum: float = 0.35,
          blur: float = 0.0, seed: int = 0) -> tuple[np.ndarray, dict]:
    """(sRGB image, facts) of a generated portrait; facts: face box, subject mask, orbs."""
    rng = np.random.default_rng(seed)
    key, bgl = light_rgb(key_k, key_duv), light_rgb(bg_k, bg_duv)
    h = w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tex = 0.8 + 0.4 * rng.random((h // 8 + 1, w // 8 + 1)).astype(np.float32)
    tex = np.kron(tex, np.ones((8, 8), np.float32))[:h, :w]
    import cv2

    tex = cv2.GaussianBlur(tex, (0, 0), 3.0)  # the wall behind the orbs is out of focus too
    img = tex[..., None] * wall * bgl * 0.35
    sx, sy, sw, sh = int(0.30 * w), int(0.12 * h), int(0.40 * w), int(0.88 * h)
    orbs = []
    for _ in range(400):
        if len(orbs) >= n_orbs:
            break
        r = rng.uniform(0.03, 0.05) * w
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        if sx - r - 6 < cx < sx + sw + r + 6 or any(math.hypot(cx - o["x"], cy - o["y"]) < r + o["r"] + 4
                                                    for o in orbs):
            continue
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        disc = np.clip(r - d + 0.5, 0.0, 1.0)
        col = key if len(orbs) < key_orbs else bgl
        img = img + disc[..., None] * col * rng.uniform(*orb_level)
        orbs.append({"x": float(cx), "y": float(cy), "r": float(r)})
    body = (yy >= sy + 0.42 * sh) & (xx >= sx) & (xx < sx + sw)
    folds = 0.75 + 0.25 * np.sin(xx / (0.03 * w)) * np.cos(yy / (0.05 * h))
    img[body] = (jacket * folds[body][:, None]) * key
    fcx, fcy, fa, fb = sx + sw / 2, sy + 0.22 * sh, 0.30 * sw, 0.20 * sh
    u, v = (xx - fcx) / fa, (yy - fcy) / fb
    face = u * u + v * v <= 1.0
    shade = 0.55 + 0.45 * np.sqrt(np.clip(1 - u * u - v * v, 0, 1))
    spec = np.zeros((h, w), np.float32)
    for fx, fy in [(0.0, -0.55), (0.05, 0.1), (-0.45, 0.25), (0.45, 0.25), (0.0, 0.75),
                   (-0.3, -0.3), (0.3, -0.3)]:
        sig = 0.05 * fa
        d2 = (xx - (fcx + fx * fa)) ** 2 + (yy - (fcy + fy * fb)) ** 2
        spec += np.exp(-d2 / (2 * sig * sig))
    sk = (skin * shade[..., None] + sebum * spec[..., None]) * key
    img[face] = sk[face]
    if blur > 0:  # optical blur (a lens's glow) happens before the sensor clips
        img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), blur)
    img = np.clip(img * exposure, 0.0, 1.0)
    subject = body | face
    facts = {"face": (fcx - fa, fcy - fb, 2 * fa, 2 * fb), "subject": subject, "orbs": orbs}
    return linear_to_srgb(img), facts


def measure(rgb: np.ndarray, facts: dict, *, face: bool = True, orbs: bool = True, **kw) -> MetricResult:
    return color.measure_color(np.asarray(rgb, np.float32), face_box=facts["face"] if face else None,
                               orbs=facts["orbs"] if orbs else None, subject_mask=facts["subject"], **kw)


def close(est_k: float, true_k: float, tol: float = TOL_MIRED) -> bool:
    return math.isfinite(est_k) and abs(mired(est_k) - mired(true_k)) <= tol


# ---- colour science -------------------------------------------------------------------------
@pytest.mark.parametrize("kelvin", [2200.0, 2700.0, 4000.0, 6500.0, 9500.0])
def test_cct_duv_on_the_planckian_locus(kelvin):
    cct, duv = color.cct_duv(color.planckian_uv(kelvin))
    assert abs(mired(float(cct)) - mired(kelvin)) < 1.0
    assert abs(float(duv)) < 5e-4


def test_planckian_position_agrees_with_ohno():
    rng = np.random.default_rng(1)
    k = rng.uniform(1500, 12000, 200)
    uv = color.planckian_uv(k) + rng.uniform(-0.02, 0.02, (200, 2))
    m, d = color.planckian_position(uv)
    cct, duv = color.cct_duv(uv)
    inside = (cct > 1100) & (cct < 14000)
    assert inside.sum() > 150
    assert np.max(np.abs(m - 1e6 / cct)[inside]) < 3.0
    assert np.max(np.abs(d - duv)[inside]) < 1e-3
    fm, fd = color._fast_position(uv[inside])
    assert np.max(np.abs(fm - m[inside])) < 2.0 and np.max(np.abs(fd - d[inside])) < 2e-4


def test_cct_duv_nan_input_does_not_raise():
    cct, duv = color.cct_duv(np.array([[np.nan, np.nan], [0.2, 0.31]]))
    assert math.isnan(cct[0]) and math.isfinite(cct[1])


def test_mired_distance_folds_duv_into_mired():
    a, b = color.planckian_uv(3000.0), color.planckian_uv(3500.0)
    assert abs(color.mired_distance(a, b) - (mired(3000) - mired(3500))) < 2.0
    # a Duv step of 0.005 at 5000 K counts as the mired step of the same uv length
    c = color.planckian_uv(5000.0)
    off = c + np.array([0.0, 0.005])
    assert 10.0 < color.mired_distance(c, off) < 40.0
    assert math.isnan(color.mired_distance(c, np.array([np.nan, 0.3])))


def test_tint_hue_words():
    assert color.tint_hue(1e6 / 5000, +0.02) == "green"
    assert color.tint_hue(1e6 / 2700, +0.02) == "yellow-green"
    assert color.tint_hue(1e6 / 4000, -0.02) == "magenta"
    assert color.tint_hue(1e6 / 9000, -0.02) == "violet"


# ---- one light or two -----------------------------------------------------------------------
def test_fit_lights_one_colour_stays_one_however_many_sources():
    rng = np.random.default_rng(3)
    for n in (2, 5, 20, 60):
        uv = color.planckian_uv(np.full(n, 4000.0)) + 0.0015 * rng.standard_normal((n, 2))
        assert color.fit_lights(uv, np.full(n, 0.0015)).n_lights == 1


def test_fit_lights_two_colours_known_answer_and_order_invariance():
    rng = np.random.default_rng(4)
    uv = np.vstack([color.planckian_uv(np.full(6, 2700.0)), color.planckian_uv(np.full(9, 6500.0))])
    uv = uv + 0.001 * rng.standard_normal(uv.shape)
    fit = color.fit_lights(uv, np.full(15, 0.0015))
    assert fit.n_lights == 2 and fit.delta_bic > color.PARAMS.bic_margin
    assert len(set(fit.labels[:6])) == 1 and len(set(fit.labels[6:])) == 1 and fit.labels[0] != fit.labels[6]
    perm = rng.permutation(15)
    fit2 = color.fit_lights(uv[perm], np.full(15, 0.0015))
    assert fit2.n_lights == 2
    assert abs(sorted(fit2.centres[:, 0])[0] - sorted(fit.centres[:, 0])[0]) < 1e-9


def test_fit_lights_one_deviant_orb_is_an_outlier_not_a_lamp():
    uv = color.planckian_uv(np.full(12, 5000.0))
    uv[3] = color.planckian_uv(3000.0)
    assert color.fit_lights(uv, np.full(12, 0.0015)).n_lights == 1
    # ... unless that lone source is the key light's face highlights (133 mired away)
    key = np.zeros(12, bool)
    key[3] = True
    assert color.fit_lights(uv, np.full(12, 0.0015), lone=key).n_lights == 2


def _orb(r, sigma, clipped, uv=None):
    """An orb source of a 5000 K light (or ``uv``) for the light-fit tests."""
    uv = color.planckian_uv(5000.0) if uv is None else uv
    return color.Source("orb", 0.0, 0.0, r, np.ones(3), uv, sigma, 1.0, 50, clipped)


def _spot(kelvin, w, sigma, duv=0.0):
    """A face highlight of a ``kelvin`` light (tinted by ``duv``) carrying luminance ~``w`` (its
    weight)."""
    from lenscore.datasets.synthetic import light_xyz

    rgb = w * np.linalg.solve(color._M, np.asarray(light_xyz(kelvin, duv), np.float64))
    return color.Source("face", 0.0, 0.0, 3.0, rgb, color.xyz_to_uv(color._M @ rgb), sigma, w, 200)


def test_a_lone_orb_of_the_scene_s_size_and_clearly_another_colour_is_a_lamp():
    uv = color.planckian_uv(np.full(12, 2650.0))
    uv[3] = color.planckian_uv(5900.0)  # 208 mired away, read on its whole disc
    lone = np.zeros(12, bool)
    lone[3] = True
    assert color.fit_lights(uv, np.full(12, 0.0015), lone=lone).n_lights == 2
    # ... not when it is as close as one source's colour can be off (24 mired)
    uv[3] = color.planckian_uv(1e6 / (1e6 / 2650.0 - 24.0))
    assert color.fit_lights(uv, np.full(12, 0.0015), lone=lone).n_lights == 1


def test_orb_evidence_weak_rims_and_lone_discs():
    sys_rim = color.orb_floor_uv(True)
    orbs = [_orb(20, 0.0016, False), _orb(18, sys_rim * 1.01, True), _orb(19, 0.009, True), _orb(90, 0.002, False)]
    weak, lone = color.orb_evidence(orbs)
    # a broad rim read at its floor is evidence; a noisy sliver is not; a disc 4.5x the others is no lone lamp
    assert weak.tolist() == [False, False, True, False]
    assert lone.tolist() == [True, False, False, False]
    assert [a.size for a in color.orb_evidence([])] == [0, 0]
    # a single coloured disc off the locus (a sign, a lit surface) is no lamp on its own
    tinted = [_orb(20, 0.0016, False), _orb(20, 0.0016, False, uv=color.planckian_uv(5000.0) + [0.0, 0.03])]
    assert color.orb_evidence(tinted)[1].tolist() == [True, False]


def test_two_well_read_rims_back_a_light_two_slivers_do_not():
    uv = np.vstack([color.planckian_uv(np.full(12, 2877.0)), color.planckian_uv(np.full(2, 4289.0))])
    sig = np.r_[np.full(12, 0.0015), np.full(2, color.orb_floor_uv(True) * 1.01)]
    clipped = np.r_[np.zeros(12, bool), np.ones(2, bool)]
    orbs = [_orb(20.0, s, c, uv=u) for u, s, c in zip(uv, sig, clipped)]
    weak, lone = color.orb_evidence(orbs)
    assert color.fit_lights(uv, sig, weak=weak, lone=lone).n_lights == 2
    sig[12:] = 0.0095  # slivers: their noise is above the rim floor
    orbs = [_orb(20.0, s, c, uv=u) for u, s, c in zip(uv, sig, clipped)]
    weak, lone = color.orb_evidence(orbs)
    assert color.fit_lights(uv, sig, weak=weak, lone=lone).n_lights == 1


def test_one_highlight_is_a_less_certain_key_than_three_that_agree():
    p = color.PARAMS
    one, _ = color.combine_spots([_spot(3000.0, 2.0, 1e-4)])
    three, keep = color.combine_spots([_spot(3000.0, 2.0, 1e-4) for _ in range(3)])
    # each highlight carries its own systematic error (skin colour mixed in, JPEG chroma): one
    # spot is known to ~hypot(face floor, spot error); three that agree average the spot error
    assert abs(one.sigma_uv - math.hypot(p.sys_uv_face, p.sys_uv_spot)) < 1e-4
    assert keep.all() and three.sigma_uv < one.sigma_uv
    assert abs(color.planckian_position(three.uv)[0][0] - 1e6 / 3000.0) < 1.0


def test_one_broad_glow_does_not_outvote_a_single_small_highlight():
    # the renderer's astronaut before a grey wall: a chin glow 20x the weight of the one small
    # specular left, 34 mired warmer (skin colour mixed in). Each weight is capped at 3x the
    # others' median, so the glow no longer sets the reference alone
    glow, small = _spot(1e6 / 351.0, 80.0, 0.0027), _spot(1e6 / 320.0, 4.0, 0.0025)
    key, keep = color.combine_spots([glow, small])
    assert keep.tolist() == [False, True]
    assert abs(color.planckian_position(key.uv)[0][0] - 320.0) < 1.0
    # order does not matter
    key2, keep2 = color.combine_spots([small, glow])
    assert keep2.tolist() == [True, False] and np.allclose(key2.uv, key.uv)


def test_the_key_is_the_coolest_highlight_and_broad_mixed_sheen_does_not_pull_it_warm():
    # London face 096: one small specular near the flash's colour (160 mired) and three broad,
    # heavy sheen spots the skin has pulled 40-65 mired warmer. Every spot on skin is the light
    # mixed with some skin colour, never less, so the coolest one is the reference
    spec = _spot(1e6 / 160.0, 24.0, 0.0017)
    sheen = [_spot(1e6 / m, w, 0.0015) for m, w in ((200.0, 300.0), (214.0, 335.0), (225.0, 250.0))]
    key, keep = color.combine_spots([*sheen, spec])
    assert keep.tolist() == [False, False, False, True]
    assert abs(color.planckian_position(key.uv)[0][0] - 160.0) < 1.0
    # spots of one colour: all kept, whatever their order
    same = [_spot(3000.0, w, 1e-3) for w in (5.0, 20.0, 9.0)]
    assert color.combine_spots(same)[1].all()


def test_a_lone_tinted_blip_is_not_taken_for_the_coolest_highlight():
    # the astronaut at 2700 K (370 mired): four highlights at 369-384 mired and a small green
    # blip at 243 mired, Duv +0.02. The reference is the coolest spot of the lights' own tint
    spots = [_spot(1e6 / m, w, 8e-4) for m, w in ((373.0, 19.0), (383.5, 33.0), (371.0, 15.0), (369.0, 16.0))]
    blip = _spot(1e6 / 243.0, 2.6, 0.0018, duv=0.0195)
    key, keep = color.combine_spots([*spots, blip])
    assert keep.tolist() == [True, True, True, True, False]
    assert abs(color.planckian_position(key.uv)[0][0] - 375.0) < 6.0


def test_coherence_is_given_only_where_its_call_is_decisive():
    d = color.COHERENT_MIRED
    assert not color.coherence_decisive(d, 0.1)  # on the threshold: never decisive
    # monotone: more noise never turns an undecided call into a decided one
    for dist in (0.0, 10.0, 40.0, 150.0):
        calls = [color.coherence_decisive(dist, n) for n in np.linspace(0, 100, 201)]
        assert calls == sorted(calls, reverse=True)
    assert color.coherence_decisive(150.0, 60.0) and not color.coherence_decisive(10.0, 12.0)


def test_fit_lights_needs_a_visible_split():
    # two colours 10 mired apart, measured very precisely: decisive BIC, but no visible split
    uv = np.vstack([color.planckian_uv(np.full(10, 4000.0)), color.planckian_uv(np.full(10, 1e6 / 260.0))])
    fit = color.fit_lights(uv, np.full(20, 1e-4))
    assert fit.delta_bic > 100 and fit.n_lights == 1


# ---- known answer ---------------------------------------------------------------------------
@pytest.mark.parametrize("key_k,bg_k", [(2200, 6500), (2700, 9500), (3200, 5000), (4500, 2700),
                                        (6500, 2200), (9500, 3200)])
def test_known_answer_two_lights(key_k, bg_k):
    rgb, facts = scene(key_k=key_k, bg_k=bg_k, seed=key_k % 7)
    out = measure(rgb, facts)
    v = out.values
    assert close(v["subject_cct_k"], key_k), (v, out.reasons)
    assert close(v["background_cct_k"], bg_k), (v, out.reasons)
    assert v["light_count"] == 2
    assert np.sign(v["delta_mired"]) == np.sign(mired(key_k) - mired(bg_k))
    assert v["warm_cct_k"] < v["cool_cct_k"] and v["separation"] > 3
    assert out.artifacts["key"]["found_by"] == "face highlights"


@pytest.mark.parametrize("kelvin", [2200.0, 3000.0, 4500.0, 6500.0, 9500.0])
def test_one_light_everywhere_is_one_light(kelvin):
    rgb, facts = scene(key_k=kelvin, bg_k=kelvin, seed=int(kelvin) % 5)
    out = measure(rgb, facts)
    v = out.values
    assert v["light_count"] == 1, (v, out.artifacts["model"])
    assert abs(v["delta_mired"]) < 15
    assert math.isnan(v["separation"]) and "one light colour" in out.reasons["separation"]
    assert v["light_coherence"] < color.COHERENT_MIRED


@pytest.mark.parametrize("skin", [SKIN, DEEP], ids=["light skin", "deep skin"])
def test_key_light_reads_on_light_and_deep_skin(skin):
    for k in (2700.0, 5600.0):
        rgb, facts = scene(key_k=k, bg_k=k, skin=skin, seed=11)
        v = measure(rgb, facts).values
        assert close(v["subject_cct_k"], k), (k, v)


# ---- surfaces are not lights ----------------------------------------------------------------
@pytest.mark.parametrize("jacket,wall", [(ORANGE, GREY), (GREY, GREEN), (ORANGE, ORANGE)])
def test_coloured_jacket_and_wall_do_not_move_the_lights(jacket, wall):
    base = measure(*scene(key_k=5000, bg_k=6500, seed=3)).values
    coloured = measure(*scene(key_k=5000, bg_k=6500, jacket=jacket, wall=wall, seed=3)).values
    for k in ("subject_cct_k", "background_cct_k"):
        assert abs(mired(base[k]) - mired(coloured[k])) <= 10.0, (k, base[k], coloured[k])
    assert coloured["light_count"] == base["light_count"]


def test_a_wall_is_no_light_evidence():
    # no orbs: the background shows only a (green) wall: no background light, one light seen
    rgb, facts = scene(key_k=4000, bg_k=4000, wall=GREEN, n_orbs=0, seed=2)
    out = measure(rgb, facts)
    assert math.isnan(out.values["background_cct_k"])
    assert "surfaces, not light evidence" in out.reasons["background_cct_k"]
    assert out.values["light_count"] == 1
    assert close(out.values["subject_cct_k"], 4000)


# ---- tints ----------------------------------------------------------------------------------
@pytest.mark.parametrize("duv,hue", [(-0.035, "magenta"), (+0.035, "green")])
def test_a_tinted_key_is_a_tint_never_warm_or_cool(duv, hue):
    rgb, facts = scene(key_k=4500, bg_k=4500, key_duv=duv, bg_duv=duv, seed=5)
    out = measure(rgb, facts)
    v, r = out.values, out.reasons
    for k in ("subject_cct_k", "background_cct_k", "warm_cct_k", "cool_cct_k", "delta_mired"):
        assert math.isnan(v[k]), k
    assert "tint" in r["subject_cct_k"] and hue in r["subject_cct_k"]
    assert abs(v["subject_duv"] - duv) < 0.008 and abs(v["background_duv"] - duv) < 0.004


def test_a_tinted_background_beside_a_white_key():
    rgb, facts = scene(key_k=3000, bg_k=9000, bg_duv=-0.035, seed=6)
    out = measure(rgb, facts)
    v = out.values
    assert close(v["subject_cct_k"], 3000)
    assert math.isnan(v["background_cct_k"]) and "violet" in out.reasons["background_cct_k"]
    assert v["light_count"] == 2
    assert math.isnan(v["warm_cct_k"]) and "not a warm-cool pair" in out.reasons["warm_cct_k"]


# ---- clipping -------------------------------------------------------------------------------
def test_clipped_orbs_are_read_on_their_rims_or_not_at_all():
    # orbs far brighter than white: clipped plateaus with a 1 px antialiased rim, which is
    # within the clip margin: no colour evidence, said so; the key still reads
    rgb, facts = scene(key_k=5000, bg_k=2700, orb_level=(6.0, 8.0), seed=7)
    out = measure(rgb, facts)
    assert math.isnan(out.values["background_cct_k"])
    assert "unclipped" in out.reasons["background_cct_k"]
    assert close(out.values["subject_cct_k"], 5000)
    # soft clipped orbs (a lens's glow) keep an unclipped rim: their colour is read there
    soft, facts2 = scene(key_k=5000, bg_k=2700, orb_level=(1.5, 2.0), blur=2.5, seed=7)
    o2 = measure(soft, facts2, face=False)
    assert close(o2.values["background_cct_k"], 2700), (o2.values, o2.reasons)


def test_an_overexposed_face_gives_no_key():
    rgb, facts = scene(key_k=4000, bg_k=4000, exposure=3.0, orb_level=(0.1, 0.2), seed=8)
    out = measure(rgb, facts)
    assert math.isnan(out.values["subject_cct_k"])
    assert "overexposed" in out.reasons["subject_cct_k"] or "clipped" in out.reasons["subject_cct_k"]


# ---- properties -----------------------------------------------------------------------------
def test_invariant_to_exposure():
    a = measure(*scene(key_k=3000, bg_k=7000, exposure=1.0, seed=4)).values
    b = measure(*scene(key_k=3000, bg_k=7000, exposure=0.6, seed=4)).values
    for k in ("subject_cct_k", "background_cct_k"):
        assert abs(mired(a[k]) - mired(b[k])) <= 5.0, (k, a[k], b[k])


def test_invariant_to_horizontal_flip():
    rgb, facts = scene(key_k=2700, bg_k=6000, seed=5)
    a = measure(rgb, facts).values
    w = rgb.shape[1]
    fx, fy, fw, fh = facts["face"]
    flipped = {"face": (w - fx - fw, fy, fw, fh), "subject": facts["subject"][:, ::-1],
               "orbs": [{**o, "x": w - 1 - o["x"]} for o in facts["orbs"]]}
    b = measure(rgb[:, ::-1].copy(), flipped).values
    for k in ("subject_cct_k", "background_cct_k", "warm_cct_k", "cool_cct_k"):
        assert abs(mired(a[k]) - mired(b[k])) <= 5.0, (k, a[k], b[k])


def test_background_cct_rises_with_background_kelvin():
    got = [measure(*scene(key_k=3200, bg_k=k, seed=6)).values["background_cct_k"]
           for k in (2700, 4000, 5500, 7500, 9500)]
    assert all(b > a for a, b in zip(got, got[1:])), got


def test_separation_grows_with_the_kelvin_gap():
    seps = [measure(*scene(key_k=k, bg_k=6500, seed=9)).values["separation"] for k in (4000, 3000, 2200)]
    assert all(np.isfinite(seps)) and seps[0] < seps[1] < seps[2], seps


# ---- coherence ------------------------------------------------------------------------------
def test_light_coherence_key_in_the_scene_or_from_nowhere():
    inside = measure(*scene(key_k=2700, bg_k=6500, key_orbs=4, seed=10))
    outside = measure(*scene(key_k=2700, bg_k=6500, key_orbs=0, seed=10))
    assert inside.values["light_coherence"] < color.COHERENT_MIRED
    assert outside.values["light_coherence"] > 100
    c = inside.artifacts["coherence"]
    assert abs(c["delta_mired"]) < color.COHERENT_MIRED and abs(c["delta_duv"]) < 0.005
    no_orbs = measure(*scene(key_k=2700, bg_k=6500, n_orbs=0, seed=10))
    assert math.isnan(no_orbs.values["light_coherence"])
    assert "no orb" in no_orbs.reasons["light_coherence"]


# ---- the scene illuminant -------------------------------------------------------------------
@pytest.mark.parametrize("method", color.SCENE_METHODS)
def test_scene_illuminant_of_a_grey_world_under_a_known_light(method):
    rng = np.random.default_rng(0)
    alb = np.kron(rng.uniform(0.1, 0.9, (16, 16, 1)), np.ones((16, 16, 1))) * np.ones(3)
    for k in (2700.0, 6500.0):
        rgb = linear_to_srgb((alb * light_rgb(k) * 0.8).astype(np.float32))
        e, share = color.scene_illuminant(rgb, method=method)
        m = color.planckian_position(color.xyz_to_uv(color._M @ e))[0][0]
        assert abs(m - mired(k)) < 5, (method, k, m)
        assert share > 0.9


def test_scene_illuminant_ignores_clipped_pixels():
    rng = np.random.default_rng(1)
    alb = np.kron(rng.uniform(0.1, 0.6, (16, 16, 1)), np.ones((16, 16, 1))) * np.ones(3)
    lin = (alb * light_rgb(3000.0) * 0.8).astype(np.float32)
    lin[:100, :100] = np.array([1.0, 1.0, 0.2])  # a clipped yellow patch (R and G at white)
    v = color.measure_color(linear_to_srgb(lin)).values
    assert abs(mired(v["scene_cct_k"]) - mired(3000.0)) < 15


# ---- the family adapter and edge cases ------------------------------------------------------
def compute(rgb, **kw) -> MetricResult:
    res = color.compute(ImageContext(np.asarray(rgb, np.float32), **kw))
    assert set(res.values) == set(OUTPUTS)
    for name, v in res.values.items():
        if math.isnan(v):
            assert name in res.reasons or "color" in res.reasons, name
    return res


def test_compute_reads_orbs_from_the_bokeh_family_and_the_face_from_the_context():
    from lenscore.metrics.skin import face_from_box

    rgb, facts = scene(key_k=3000, bg_k=8000, seed=8)
    ctx = ImageContext(rgb)
    ctx.faces = [face_from_box(tuple(int(round(v)) for v in facts["face"]))]  # as the detector would
    ctx.provide("bokeh", MetricResult({}, {}, {"orbs": facts["orbs"]}))
    res = color.compute(ctx)
    v = res.values
    assert close(v["color.background_cct_k"], 8000) and close(v["color.subject_cct_k"], 3000)
    assert v["color.delta_mired"] > 50 and v["color.light_count"] == 2
    art = res.artifacts
    assert art["key"]["box"] == list(ctx.faces[0].box)
    n = len(art["sources"])
    assert art["points_uv"].shape == (n, 2) and art["points_xy"].shape == (n, 2)
    assert set(np.unique(art["points_label"])) <= {-1, 0, 1}
    assert art["clusters"]["warm"]["cct_k"] < art["clusters"]["cool"]["cct_k"]
    # what the skin family reads: the key light's chromaticity, CCT, Duv and how it was found
    for k in ("uv", "cct_k", "duv", "found_by", "sigma_uv"):
        assert k in art["key"]
    # without orbs from the bokeh family: no background light, said so
    ctx2 = ImageContext(rgb)
    ctx2.faces = ctx.faces
    ctx2.provide("bokeh", MetricResult({}, {}, {"orbs": []}))
    r2 = color.compute(ctx2)
    assert math.isnan(r2.values["color.background_cct_k"])
    assert "no bokeh orbs" in r2.reasons["color.background_cct_k"]


def test_no_face_says_so():
    rgb, facts = scene(key_k=4000, bg_k=6500, seed=10)
    ctx = ImageContext(rgb)
    ctx.faces = []
    ctx.provide("bokeh", MetricResult({}, {}, {"orbs": facts["orbs"]}))
    res = color.compute(ctx)
    assert math.isnan(res.values["color.subject_cct_k"])
    assert "no face found" in res.reasons["color.subject_cct_k"]
    assert close(res.values["color.background_cct_k"], 6500)


def test_uniform_gray_is_not_measurable():
    res = compute(np.full((128, 128, 3), 0.5))
    assert all(math.isnan(v) for v in res.values.values())
    assert "color" in res.reasons


def test_dark_image_is_not_measurable():
    rng = np.random.default_rng(0)
    res = compute(np.clip(0.02 + 0.005 * rng.standard_normal((128, 128, 3)), 0, 1))
    assert all(math.isnan(v) for v in res.values.values())


def test_tiny_image():
    res = compute(np.random.default_rng(0).random((8, 8, 3)))
    assert all(math.isnan(v) for v in res.values.values())
    assert "too small" in res.reasons["color"]


def test_bad_input_raises_input_error():
    from lenscore.errors import InputError

    with pytest.raises(InputError):
        color.measure_color(np.zeros((4, 4)))
    with pytest.raises(InputError):
        color.measure_color(np.zeros((16, 16, 3), np.float32), nonsense=1)
    with pytest.raises(InputError):
        color.scene_illuminant(np.zeros((16, 16, 3), np.float32), method="nonsense")


def test_outputs_have_units_and_words():
    for o in color.FAMILY.outputs:
        assert o.unit and len(o.description) > 40 and "%^2" not in o.unit
    assert color.FAMILY.version == "4"


def test_explain_draw_and_plot():
    rgb, facts = scene(key_k=2700, bg_k=6500, seed=1)
    res = MetricResult(*(lambda r: (r.prefixed("color").values, r.prefixed("color").reasons,
                                    r.artifacts))(measure(rgb, facts)))
    s = color.explain(res)
    assert "2700" in s or "27" in s and "two light colours" in s, s
    assert "mired warmer" in s
    img = color.draw(rgb, res, long_side=300)
    assert img.dtype == np.uint8 and img.shape[1] == 300 and img.shape[0] > 300  # caption strip
    one = MetricResult(*(lambda r: (r.prefixed("color").values, r.prefixed("color").reasons,
                                    r.artifacts))(measure(*scene(key_k=4000, bg_k=4000, seed=1))))
    assert "one light colour" in color.explain(one)
    assert "no light seen" in color.explain(MetricResult({}, {}, {}))
    assert color.draw(rgb, MetricResult({}, {}, {})).dtype == np.uint8
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert color.plot(ax, res) is True
    assert color.plot(ax, MetricResult({}, {}, {})) is False
    plt.close(fig)


def test_landmarks_place_the_excluded_eyes_and_mouth():
    face = (100.0, 100.0, 100.0, 120.0)
    jj, ii = np.meshgrid(np.arange(200.0), np.arange(200.0))
    fu, fv = (jj - 100) / 100, (ii - 100) / 120
    # a rolled face: the eyes and the mouth are not where the box fractions would put them
    lm = {"left_eye": (125.0, 150.0), "right_eye": (170.0, 138.0), "mouth_centre": (160.0, 192.0)}
    reg = color._face_regions(fu, fv, face, color.PARAMS, landmarks=lm)
    for x, y in lm.values():
        assert not reg[int(y), int(x)]
    assert reg[130, 150]  # the forehead between them is read
    plain = color._face_regions(fu, fv, face, color.PARAMS)
    assert not np.array_equal(reg, plain)


# ---- the project's renderer, production path ------------------------------------------------
def test_renderer_equal_kelvin_astronaut_and_two_lights():
    synthetic = pytest.importorskip("lenscore.datasets.synthetic")

    # (2700 K, seed 1, 1024 px: the chin glow, its fit on the white suit, once read 27 mired cool)
    for k, seed, size in ((2700.0, 0, 768), (8000.0, 0, 768), (2700.0, 1, 1024)):
        r = synthetic.render(synthetic.SceneSpec(width=size, height=size, key_kelvin=k, background_kelvin=k,
                                                 seed=seed))
        ctx = ImageContext(r.rgb)
        v = ctx.result("color").values
        assert abs(v["color.delta_mired"]) < color.EQUAL_KELVIN_MIRED, (k, v)
        assert v["color.light_count"] == 1
    r = synthetic.render(synthetic.SceneSpec(width=768, height=768, key_kelvin=2700, background_kelvin=6500, seed=1))
    v = ImageContext(r.rgb).result("color").values
    assert v["color.delta_mired"] > 150 and v["color.light_count"] == 2


def test_the_background_light_does_not_hang_on_whether_the_key_was_reported():
    synthetic = pytest.importorskip("lenscore.datasets.synthetic")
    # 2700 K key, 6500 K background; most orbs (and most orb light) show the key's colour
    r = synthetic.render(synthetic.SceneSpec(width=768, height=768, key_kelvin=2700,
                                             background_kelvin=6500, key_light_orbs=0.9, seed=0))
    ctx = ImageContext(r.rgb)
    lights = ctx.result("color").artifacts["scene_lights"]
    assert len(lights) == 2 and max(lights, key=lambda L: L["weight"])["cct_k"] < 3000
    face = ctx.faces[0]
    kw = dict(face_box=face.box, face=face, orbs=ctx.result("bokeh").artifacts.get("orbs"),
              subject_mask=ctx.work_subject_mask, encoded_small=ctx.work_rgb,
              linear_small=ctx.work_linear, small_scale=float(ctx.work_scale))
    read = color.measure_color(ctx.rgb, **kw)
    # the same image with the key set aside as too uncertain: the background is still the
    # light that is not the key's, not the heavier one
    unsure = color.measure_color(ctx.rgb, max_key_sigma_uv=0.0, **kw)
    assert math.isfinite(read.values["subject_cct_k"]) and not math.isfinite(unsure.values["subject_cct_k"])
    assert "too uncertain" in unsure.reasons["subject_cct_k"]
    assert abs(read.values["background_cct_k"] - 6500) < 150
    assert unsure.values["background_cct_k"] == read.values["background_cct_k"]


def test_small_highlights_in_a_jpeg_carry_its_chroma_error():
    p = color.PARAMS
    # flat at and above one chroma block's half width, 1 / r^2 below (monotone in the radius)
    assert color.jpeg_spot_sigma(40.0) == color.jpeg_spot_sigma(p.jpeg_chroma_px) == p.sys_uv_jpeg_spot
    radii = [1.0, 2.0, 3.0, 5.0, 8.0, 12.0]
    sig = [color.jpeg_spot_sigma(r) for r in radii]
    assert sig == sorted(sig, reverse=True)
    assert color.jpeg_spot_sigma(4.0) == pytest.approx(4 * p.sys_uv_jpeg_spot)


def test_a_jpeg_d_render_has_its_grid_seen_and_its_small_highlights_made_less_certain():
    synthetic = pytest.importorskip("lenscore.datasets.synthetic")
    from lenscore.imaging import JPEG_GRID_MIN

    # the renderer's own camera: noise, then JPEG q70 (or not). On a noise-free render the
    # 8 x 8 grid is faint (q80: 0.05, below JPEG_GRID_MIN) and the chroma floor is not
    # applied: a known gap
    spec = dict(width=768, height=768, key_kelvin=3200, background_kelvin=6500, noise_sigma=0.015,
                face_width_frac=0.12, seed=2)
    jpg_ctx = ImageContext(synthetic.render(synthetic.SceneSpec(jpeg_quality=70, **spec)).rgb)
    png_ctx = ImageContext(synthetic.render(synthetic.SceneSpec(**spec)).rgb)
    assert png_ctx.jpeg_grid < 0.5 * JPEG_GRID_MIN and jpg_ctx.jpeg_grid > 1.5 * JPEG_GRID_MIN
    sj = [q for q in jpg_ctx.result("color").artifacts["sources"] if q["kind"] == "face"]
    assert sj
    for q in sj:  # every JPEG'd spot carries at least the chroma floor of its size
        assert q["sigma_uv"] >= color.jpeg_spot_sigma(q["r"]) - 1e-9


def test_light_truth_summary_and_light_errors():
    synthetic = pytest.importorskip("lenscore.datasets.synthetic")

    r = synthetic.render(synthetic.SceneSpec(width=256, height=256, key_kelvin=3000, background_kelvin=6000,
                                             key_light_orbs=0.5, n_lights=10, seed=3))
    t = color.light_truth_summary(r.truth)
    assert t["n_lights"] == 2 and t["key_k"] == 3000
    assert {round(k) for k, _, _ in t["orb_lights"]} <= {3000, 6000}
    row = {"truth": t, "values": {"color.subject_cct_k": 3100.0, "color.subject_duv": 0.0},
           "scene_lights": [{"uv": list(color.planckian_uv(6000.0)), "cct_k": 6000.0, "duv": 0.0}]}
    le = color.light_errors([row])
    assert le["n_read"] == 2 and abs(le["errors"][0] - (mired(3000) - mired(3100))) < 1e-6


# ---- real photographs -----------------------------------------------------------------------
@pytest.mark.realdata
def test_studio_portraits_show_one_light_and_track_a_relit_cast():
    if not (SHARED_DATA / "portraits-london").is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    from lenscore.datasets.decode import decode_image

    files = sorted((SHARED_DATA / "portraits-london").glob("*.jpg"))[:4]
    for f in files:
        rgb = decode_image(f).rgb
        v = ImageContext(rgb).result("color").values
        assert v["color.light_count"] == 1 or math.isnan(v["color.light_count"]), (f.name, v)
        # studio flash, camera white balance: the frame reads near sRGB white
        assert 5500 <= v["color.scene_cct_k"] <= 8000, (f.name, v)
        # relit by a warm cast (von Kries, in linear light): the readings follow it
        lin = srgb_to_linear(rgb) * (light_rgb(3000.0) / light_rgb(6500.0))
        warm = ImageContext(linear_to_srgb(np.clip(lin, 0, 1))).result("color").values
        assert mired(warm["color.scene_cct_k"]) - mired(v["color.scene_cct_k"]) > 100
        if math.isfinite(v["color.subject_cct_k"]) and math.isfinite(warm["color.subject_cct_k"]):
            assert mired(warm["color.subject_cct_k"]) - mired(v["color.subject_cct_k"]) > 80
