"""Tests of the bokeh family: known answers on stamped scenes and renderer scenes, invariances
(flip, JPEG, rescale) and edge cases. Small images (384-512 px) keep the file fast."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from lenscore.context import ImageContext
from lenscore.datasets import synthetic
from lenscore.imaging import linear_to_srgb
from lenscore.metrics import bokeh

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SUBJECT_FRAC = (0.36, 0.2, 0.28, 0.6)          # a centre box kept free of orbs


# ---- a tiny scene generator: point lights stamped with known aperture kernels ----------------
def _polygon_circumradius(n: int, r_eq: float) -> float:
    """Circumradius of the regular n-gon with the area of a disc of radius r_eq."""
    return r_eq * math.sqrt(2 * math.pi / (n * math.sin(2 * math.pi / n)))


def _inside(xx, yy, kind: str, d: float, rot: float, cat: tuple[float, float]):
    r = np.hypot(xx, yy)
    if kind == "circle":
        return r <= d / 2
    if kind.startswith("blades"):
        n = int(kind[6:])
        big_r = _polygon_circumradius(n, d / 2)
        p = np.mod(np.arctan2(yy, xx) - rot, 2 * np.pi / n) - np.pi / n
        return r <= big_r * math.cos(math.pi / n) / np.cos(p)
    if kind == "cats_eye":                     # two discs displaced along the image radius
        ox, oy = cat
        return (np.hypot(xx - ox, yy - oy) <= d / 2) & (np.hypot(xx + ox, yy + oy) <= d / 2)
    raise ValueError(kind)


def _stamp(img, cx, cy, kind, d, level, *, rot=0.0, cat=(0.0, 0.0), ss=4):
    """Add one orb (equal-area diameter d, or FWHM d for 'gaussian'); return its true
    (centroid x, centroid y, equal-area diameter)."""
    h, w = img.shape
    half = int(d) + 4
    x0, x1 = max(0, int(cx) - half), min(w, int(cx) + half + 1)
    y0, y1 = max(0, int(cy) - half), min(h, int(cy) + half + 1)
    if kind == "gaussian":
        yy, xx = np.mgrid[y0:y1, x0:x1]
        sig = d / 2.3548
        img[y0:y1, x0:x1] += level * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sig * sig))
        return cx, cy, d
    o = (np.arange(ss) + 0.5) / ss - 0.5
    ys = (np.arange(y0, y1)[:, None] + o).reshape(-1)
    xs = (np.arange(x0, x1)[:, None] + o).reshape(-1)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    m = _inside(xx - cx, yy - cy, kind, d, rot, cat).astype(np.float32)
    m = m.reshape(y1 - y0, ss, x1 - x0, ss).mean(axis=(1, 3))
    img[y0:y1, x0:x1] += level * m
    gy, gx = np.mgrid[y0:y1, x0:x1]
    return float((m * gx).sum() / m.sum()), float((m * gy).sum() / m.sum()), \
        2 * math.sqrt(m.sum() / math.pi)


def stamped_scene(seed: int, kind: str = "circle", *, n: int = 8, size: int = 512,
                  d_range=(16.0, 44.0), clip: bool = False, overlap: bool = False,
                  noise: float = 0.003, angle: float | None = None, squeeze: str = "radial"):
    """Dark background (with a gentle gradient and noise) and ``n`` orbs outside the centre
    box. Cat's-eyes are squeezed along the image radius (``squeeze="radial"``, as lens
    vignetting does) or across it (``"tangential"``, which no lens does). Returns (sRGB image,
    truth [(x, y, d)], subject box)."""
    rng = np.random.default_rng(seed)
    h = w = size
    img = np.full((h, w), 0.01, np.float32) + np.linspace(0, 0.01, w, dtype=np.float32)[None]
    sx, sy, sw, sh = (int(f * size) for f in SUBJECT_FRAC)
    centres: list[tuple[float, float, float]] = []

    def free(cx, cy, d, others):
        if not (d < cx < w - d and d < cy < h - d):
            return False
        if sx - d < cx < sx + sw + d and sy - d < cy < sy + sh + d:
            return False
        return all(math.hypot(cx - a, cy - b) > (d + c) / 2 + 0.6 * max(d, c) for a, b, c in others)

    tries = 0
    while len(centres) < n and tries < 5000:
        tries += 1
        d = rng.uniform(*d_range)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if not free(cx, cy, d, centres):
            continue
        centres.append((cx, cy, d))
        if overlap and len(centres) < n:       # a partner overlapping this orb
            d2 = rng.uniform(*d_range)
            a = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(0.7, 0.95) * (d + d2) / 2
            c2 = (cx + dist * math.cos(a), cy + dist * math.sin(a))
            if free(c2[0], c2[1], d2, centres[:-1]):
                centres.append((c2[0], c2[1], d2))
    truth = []
    for cx, cy, d in centres:
        level = rng.uniform(0.3, 0.9) * (5.0 if clip else 1.0)
        rot = rng.uniform(0, 2 * np.pi) if angle is None else angle
        cat = (0.0, 0.0)
        if kind == "cats_eye":                 # squeezed along the image radius, more so far out
            v = np.array([cx - w / 2, cy - h / 2])
            dist = np.linalg.norm(v)
            off = 0.6 * d / 2 * dist / math.hypot(w / 2, h / 2)
            u = v / max(dist, 1e-9)
            if squeeze != "radial":
                u = np.array([-u[1], u[0]])
            cat = tuple(u * off / 2)
        truth.append(_stamp(img, cx, cy, kind, d, level, rot=rot, cat=cat))
    img += rng.normal(0, noise, img.shape).astype(np.float32)
    rgb = np.repeat(linear_to_srgb(np.clip(img, 0, 1))[:, :, None], 3, axis=2)
    return rgb, truth, (sx, sy, sw, sh)


def score(rgb, subject_box=None):
    return bokeh.compute(ImageContext(rgb, subject_box=subject_box))


def match(orbs, truth):
    """Greedy match (centre within a quarter diameter): tp, fp, fn, relative diameter errors."""
    used, errs = set(), []
    for x, y, d in truth:
        best = None
        for i, o in enumerate(orbs):
            if i not in used and math.hypot(o["x"] - x, o["y"] - y) < 0.25 * d + 1:
                best = i
                break
        if best is not None:
            used.add(best)
            errs.append(abs(2 * orbs[best]["r"] - d) / d)
    tp = len(used)
    return tp, len(orbs) - tp, len(truth) - tp, errs


# ---- known answers ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["circle", "blades9", "blades6", "blades5", "cats_eye"])
def test_orbs_found_with_their_diameter(kind):
    tp = fp = fn = 0
    errs: list[float] = []
    for seed in range(3):
        rgb, truth, box = stamped_scene(seed, kind)
        res = score(rgb, box)
        a, b, c, e = match(res.artifacts["orbs"], truth)
        tp, fp, fn, errs = tp + a, fp + b, fn + c, errs + e
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9
    assert max(errs) <= 0.05


def test_circularity_order_circle_9_6_5_blades():
    ok = 0
    seeds = range(8)
    for seed in seeds:
        c = [score(*stamped_scene(seed, k)[::2]).values["bokeh.circularity"]
             for k in ("circle", "blades9", "blades6", "blades5")]
        ok += c[0] > c[1] > c[2] > c[3]
    assert ok >= 0.95 * len(seeds)


def test_circularity_close_to_the_isoperimetric_quotient():
    # ideal: circle 1, regular 9/6/5-gon 0.959 / 0.907 / 0.865 (anti-aliasing rounds corners)
    for kind, q in (("circle", 1.0), ("blades9", 0.959), ("blades6", 0.907), ("blades5", 0.865)):
        c = score(*stamped_scene(1, kind, d_range=(30, 44))[::2]).values["bokeh.circularity"]
        assert q - 0.01 <= c <= q + 0.035, (kind, c)


def test_blade_count_read_from_the_outline():
    for kind, n in (("blades5", 5), ("blades6", 6), ("blades9", 9)):
        res = score(*stamped_scene(2, kind, d_range=(30, 44))[::2])
        assert res.values["bokeh.polygon_order"] == n
    res = score(*stamped_scene(2, "circle")[::2])
    assert math.isnan(res.values["bokeh.polygon_order"])
    assert "round" in res.reasons["bokeh.polygon_order"]


def test_gaussian_smears_are_not_orbs():
    for seed in range(3):
        res = score(*stamped_scene(seed, "gaussian")[::2])
        assert res.values["bokeh.orb_count"] == 0
        assert res.values["bokeh.disc_fraction"] == 0
        assert len(res.artifacts["soft_highlights"]) >= 6
        assert res.reasons["bokeh.circularity"].startswith("no optical discs")
        assert "Gaussian blur" in res.reasons["bokeh.circularity"]
        assert not any(o["rim_width"] <= bokeh.MAX_RIM_WIDTH for o in res.artifacts["soft_highlights"])
    disc = score(*stamped_scene(0, "circle")[::2])
    assert disc.values["bokeh.disc_fraction"] == 1 and disc.values["bokeh.edge_sharpness"] > 0.8


def test_rim_bound_is_the_rim_of_the_brightest_glow():
    # derived from the optics: a clipped Gaussian's rim width over its radius depends only on
    # its peak over white, and falls slowly with it
    assert bokeh.glow_rim_width(1.0) == pytest.approx(1.433, abs=1e-3)
    widths = [bokeh.glow_rim_width(p) for p in (1, 1.5, 2, 4, 8, 16)]
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert bokeh.MAX_RIM_WIDTH == pytest.approx(bokeh.glow_rim_width(
        bokeh.PARAMS.glow_max_peak * 2 ** bokeh.PARAMS.glow_margin_stops))
    assert bokeh.MAX_RIM_WIDTH < bokeh.glow_rim_width(bokeh.PARAMS.glow_max_peak)
    # numerically: the profile of min(P exp(-r^2/2), 1) has that 10-90 % width over r50
    r = np.linspace(0, 6, 60001)
    for p in (2.0, 8.0):
        prof = np.minimum(p * np.exp(-r * r / 2), 1.0)
        r90, r50, r10 = (r[np.argmax(prof < q)] for q in (0.9, 0.5, 0.1))
        assert (r10 - r90) / r50 == pytest.approx(bokeh.glow_rim_width(p), abs=1e-3)


def _glow_scene(peak: float, aperture: str = "gaussian", seed: int = 0, size: int = 512):
    """Renderer scene, 8 lights of one peak over white on a dark wall, clipped hard (no subject)."""
    spec = synthetic.SceneSpec(width=size, height=size, aperture=aperture, seed=seed, n_lights=8,
                               light_diameter_frac=(0.05, 0.09), light_intensity=(peak, peak * 1.001),
                               clip_highlights=True, subject="none", background="wall",
                               background_rgb=(0.2, 0.2, 0.22), ambient=0.2)
    return synthetic.render(spec)


@pytest.mark.parametrize("peak", [0.7, 1.5, 3.0, 8.0])
def test_clipped_glows_are_rejected_and_discs_kept_at_every_peak(peak):
    glow = _glow_scene(peak)
    g = score(glow.rgb)
    assert g.values["bokeh.orb_count"] == 0                    # a measurement, not NaN
    assert g.values["bokeh.disc_fraction"] == 0
    assert len(g.artifacts["soft_highlights"]) >= 6
    assert math.isnan(g.values["bokeh.circularity"])
    disc = _glow_scene(peak, "circle")
    d = score(disc.rgb)
    # the colour family needs to know where a disc's colour is the clip's
    clipped = [o["clipped"] for o in d.artifacts["orbs"]]
    assert (min(clipped) > 0.9) if peak >= 1.5 else (max(clipped) == 0.0)
    tp, fp, fn, errs = _match_truth(d.artifacts["orbs"], disc.truth["orbs"])
    assert fp == 0 and tp >= len(disc.truth["orbs"]) - 1
    assert d.values["bokeh.disc_fraction"] == 1
    assert max(o["rim_width"] for o in d.artifacts["orbs"]) < 0.6 * bokeh.MAX_RIM_WIDTH


def test_rim_width_grows_with_edge_blur_until_discs_turn_into_glows():
    # property: softening the rims (a lens blur of the whole image) only ever widens them
    rgb, truth, box = stamped_scene(3, "circle", d_range=(30, 44))
    widths, counts = [], []
    for sigma in (0.0, 1.0, 2.5, 5.0, 12.0):
        img = rgb if sigma == 0 else cv2.GaussianBlur(rgb, (0, 0), sigma)
        res = score(np.ascontiguousarray(img), box)
        every = res.artifacts["orbs"] + res.artifacts["soft_highlights"]
        widths.append(np.median([o["rim_width"] for o in every]))
        counts.append(res.values["bokeh.orb_count"])
    assert all(a < b for a, b in zip(widths[:4], widths[1:4])), widths
    assert counts[0] >= len(truth) - 1 and counts[-1] == 0


def test_clipped_orbs():
    tp = fp = fn = 0
    errs: list[float] = []
    for seed in range(3):
        rgb, truth, box = stamped_scene(seed, "blades6", clip=True)
        res = score(rgb, box)
        a, b, c, e = match(res.artifacts["orbs"], truth)
        tp, fp, fn, errs = tp + a, fp + b, fn + c, errs + e
        assert res.values["bokeh.polygon_order"] == 6
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9 and max(errs) <= 0.05


def test_overlapping_orbs_are_split():
    tp = fp = fn = 0
    for seed in range(4):
        rgb, truth, box = stamped_scene(seed, "circle", overlap=True)
        a, b, c, _ = match(score(rgb, box).artifacts["orbs"], truth)
        tp, fp, fn = tp + a, fp + b, fn + c
    assert tp / (tp + fp) >= 0.95
    assert tp / (tp + fn) >= 0.85


def test_cats_eyes_are_elongated_and_tangential():
    res = score(*stamped_scene(3, "cats_eye", d_range=(30, 44))[::2])
    assert res.values["bokeh.aspect"] > 1.05                   # long / short axis
    assert math.isnan(res.values["bokeh.oval_angle_deg"])      # cat's-eyes turn with the radius
    assert res.values["bokeh.cats_eye_alignment"] > 0.7
    assert all(0 <= o["angle"] < 180 for o in res.artifacts["orbs"])
    # squeezed across the radius (no lens does that): the alignment turns negative
    wrong = score(*stamped_scene(3, "cats_eye", d_range=(30, 44), squeeze="tangential")[::2])
    assert wrong.values["bokeh.cats_eye_alignment"] < -0.7
    # round orbs: no elongated orbs to judge
    assert math.isnan(score(*stamped_scene(3, "circle")[::2]).values["bokeh.cats_eye_alignment"])


def test_size_variation_follows_the_diameters():
    rgb, truth, box = stamped_scene(4, "circle", d_range=(12, 50), n=10)
    res = score(rgb, box)
    d = np.array([t[2] for t in truth])
    assert res.values["bokeh.size_cv"] == pytest.approx(d.std() / d.mean(), abs=0.03)
    same, _, box2 = stamped_scene(4, "circle", d_range=(30, 30.01), n=10)
    assert score(same, box2).values["bokeh.size_cv"] < 0.03
    assert res.values["bokeh.orb_diameter_frac"] == pytest.approx(np.median(d) / 512, rel=0.05)


# ---- the ground-truth renderer ------------------------------------------------------------------


def _render(aperture, seed, size=384, **kw):
    spec = synthetic.SceneSpec(width=size, height=size, aperture=aperture, seed=seed,
                               n_lights=10, light_depth_m=(8.0, 60.0), key_kelvin=5000,
                               background_kelvin=5000, **kw)
    return synthetic.render(spec)


def _match_truth(orbs, truth_orbs):
    return match(orbs, [(t["x"], t["y"], t["diameter_px"]) for t in truth_orbs])


def test_renderer_scenes_precision_recall_and_order():
    tp = fp = fn = 0
    errs: list[float] = []
    for seed in (0, 1):
        circ = {}
        for ap in ("circle", "blades9", "blades6", "blades5"):
            r = _render(ap, seed)
            res = score(r.rgb)
            a, b, c, e = _match_truth(res.artifacts["orbs"], r.truth["orbs"])
            tp, fp, fn = tp + a, fp + b, fn + c
            errs += e if ap == "circle" else []
            circ[ap] = res.values["bokeh.circularity"]
        assert circ["circle"] > circ["blades9"] > circ["blades6"] > circ["blades5"]
        g = score(_render("gaussian", seed).rgb)
        assert g.values["bokeh.orb_count"] == 0 and g.values["bokeh.disc_fraction"] == 0
    assert tp / (tp + fp) >= 0.9 and tp / (tp + fn) >= 0.9
    assert np.median(errs) <= 0.05


def test_renderer_demo_optical_beats_blurred():
    opt = score(synthetic.render(synthetic.demo_specs("optical", 1, size=384)[0]).rgb).values
    blur = score(synthetic.render(synthetic.demo_specs("blurred", 1, size=384)[0]).rgb).values
    assert opt["bokeh.orb_count"] >= 5 and blur["bokeh.orb_count"] == 0
    assert opt["bokeh.disc_fraction"] == 1 and blur["bokeh.disc_fraction"] == 0


# ---- invariances --------------------------------------------------------------------------------
def _flip_box(box, w):
    x, y, bw, bh = box
    return (w - x - bw, y, bw, bh)


@pytest.mark.parametrize("kind", ["circle", "blades5"])
def test_horizontal_flip_mirrors_the_result(kind):
    rgb, truth, box = stamped_scene(5, kind)
    a = score(rgb, box)
    b = score(np.ascontiguousarray(rgb[:, ::-1]), _flip_box(box, rgb.shape[1]))
    assert a.values["bokeh.orb_count"] == b.values["bokeh.orb_count"]
    for k in ("bokeh.circularity", "bokeh.orb_diameter_frac", "bokeh.edge_sharpness"):
        assert b.values[k] == pytest.approx(a.values[k], rel=1e-3, abs=1e-3)
    w = rgb.shape[1]
    pa = sorted((round(o["x"], 1), round(o["y"], 1)) for o in a.artifacts["orbs"])
    pb = sorted((round(w - 1 - o["x"], 1), round(o["y"], 1)) for o in b.artifacts["orbs"])
    assert np.allclose(pa, pb, atol=0.15)


def _jpeg(rgb, quality=85):
    u8 = cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    out = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return out.astype(np.float32) / 255


@pytest.mark.parametrize("kind", ["circle", "blades6"])
def test_jpeg_q85_changes_little(kind):
    rgb, truth, box = stamped_scene(6, kind)
    a, b = score(rgb, box).values, score(_jpeg(rgb), box).values
    assert abs(a["bokeh.orb_count"] - b["bokeh.orb_count"]) <= 1
    assert b["bokeh.circularity"] == pytest.approx(a["bokeh.circularity"], abs=0.01)
    assert b["bokeh.orb_diameter_frac"] == pytest.approx(a["bokeh.orb_diameter_frac"], rel=0.02)


def test_rescaled_scene_keeps_its_shape_measures():
    small, _, box_s = stamped_scene(7, "blades6", size=384, d_range=(18, 33))
    big = cv2.resize(small, (768, 768), interpolation=cv2.INTER_CUBIC)
    a = score(small, box_s).values
    b = score(np.clip(big, 0, 1), tuple(2 * v for v in box_s)).values
    assert a["bokeh.orb_count"] == b["bokeh.orb_count"]
    assert b["bokeh.circularity"] == pytest.approx(a["bokeh.circularity"], abs=0.015)
    assert b["bokeh.orb_diameter_frac"] == pytest.approx(a["bokeh.orb_diameter_frac"], rel=0.03)


# ---- edge cases and the family contract -------------------------------------------------------
def test_outputs_and_artifacts_contract():
    rgb, truth, box = stamped_scene(0, "circle")
    ctx = ImageContext(rgb, subject_box=box)
    res = bokeh.compute(ctx)
    names = {o.name for o in bokeh.OUTPUTS}
    assert set(res.values) == names
    for name, v in res.values.items():
        assert not math.isnan(v) or name in res.reasons
    for o in res.artifacts["orbs"]:
        assert {"x", "y", "r", "circularity", "aspect", "angle", "edge_sharpness",
                "brightness"} <= set(o)
    fam = bokeh.FAMILY
    assert fam.name == "bokeh" and fam.version == "5"
    for o in fam.outputs:
        assert o.direction in ("higher", "lower", "neither") and o.unit and o.description


def test_full_resolution_coordinates():
    # a 1024 px image is measured on a 768 px working copy; artifacts come back in image px
    rgb, truth, box = stamped_scene(8, "circle", size=1024, d_range=(20, 60))
    res = score(rgb, box)
    tp, fp, fn, errs = match(res.artifacts["orbs"], truth)
    assert fp == 0 and fn <= 1 and max(errs) <= 0.05


@pytest.mark.parametrize("rgb", [
    np.zeros((300, 400, 3), np.float32),                       # black
    np.full((300, 400, 3), 0.5, np.float32),                   # uniform grey
    np.clip(np.random.default_rng(0).normal(0.1, 0.02, (256, 256, 3)), 0, 1).astype(np.float32),
], ids=["black", "uniform", "noise"])
def test_no_orbs_gives_zero_count_and_reasons(rgb):
    res = score(rgb, (100, 50, 50, 100))
    assert res.values["bokeh.orb_count"] == 0
    for name, v in res.values.items():
        if name != "bokeh.orb_count":
            assert math.isnan(v) and res.reasons[name]
    assert res.artifacts["orbs"] == [] and res.artifacts["soft_highlights"] == []


def test_tiny_image():
    res = score(np.full((8, 8, 3), 0.3, np.float32))
    assert all(math.isnan(v) for v in res.values.values())
    assert "too small" in res.reasons["bokeh"]


def test_subject_covering_the_frame():
    rgb, _, _ = stamped_scene(0, "circle", size=384)
    res = score(rgb, (0, 0, 384, 384))
    assert all(math.isnan(v) for v in res.values.values())
    assert "subject covers" in res.reasons["bokeh"]


def test_orbs_on_the_subject_are_ignored():
    rgb, truth, box = stamped_scene(9, "circle")
    everything = (0, 0, rgb.shape[1], rgb.shape[0] // 2)        # the top half is "subject"
    res = score(rgb, everything)
    assert all(o["y"] > rgb.shape[0] // 2 - 2 for o in res.artifacts["orbs"])


# ---- the scene spread: whole background, borders, behind the subject, shapes ------------------
def test_no_subject_found_means_nothing_is_hidden():
    # 14 discs spread over the frame, none in a "subject": every one is searched, the centre too
    spec = synthetic.SceneSpec(width=512, height=512, subject="none", n_lights=14,
                               light_diameter_frac=(0.05, 0.08), background="wall",
                               background_rgb=(0.25, 0.25, 0.3), seed=4)
    r = synthetic.render(spec)
    ctx = ImageContext(r.rgb)
    res = bokeh.compute(ctx)
    tp, fp, fn, _ = _match_truth(res.artifacts["orbs"], r.truth["orbs"])
    assert fp == 0 and fn <= 1, (tp, fp, fn)
    centre = [o for o in res.artifacts["orbs"] if 128 < o["x"] < 384 and 77 < o["y"] < 435]
    assert centre                                      # the old fallback box hid these


def test_orbs_cut_by_the_frame_border_keep_their_diameter():
    rng = np.random.default_rng(5)
    img = np.full((512, 512), 0.02, np.float32)
    truth = []
    for cx, cy in ((3.0, 150.0), (509.0, 300.0), (250.0, 2.0), (120.0, 508.0)):
        d = float(rng.uniform(36, 48))
        _stamp(img, cx, cy, "circle", d, 0.7)
        truth.append((cx, cy, d))
    img += rng.normal(0, 0.003, img.shape).astype(np.float32)
    rgb = np.repeat(linear_to_srgb(np.clip(img, 0, 1))[:, :, None], 3, axis=2)
    res = score(rgb)
    found = res.artifacts["orbs"]
    matched = 0
    for tx, ty, d in truth:
        near = [o for o in found if math.hypot(o["x"] - tx, o["y"] - ty) < 0.25 * d + 2]
        if near:
            matched += 1
            assert abs(2 * near[0]["r"] - d) / d < 0.08
    assert matched >= 3 and len(found) == matched


def test_orbs_partly_behind_a_given_subject_are_found():
    # a subject box given by the user hides the left part of three discs
    rng = np.random.default_rng(6)
    img = np.full((512, 512), 0.02, np.float32)
    box = (200, 100, 120, 300)
    truth = []
    for cy in (150.0, 250.0, 350.0):
        d = float(rng.uniform(40, 50))
        truth.append((box[0] + box[2] + 0.25 * d, cy, d))
        _stamp(img, truth[-1][0], cy, "circle", d, 0.8)
    img[box[1]:box[1] + box[3], box[0]:box[0] + box[2]] = 0.08            # the subject in front
    img += rng.normal(0, 0.003, img.shape).astype(np.float32)
    rgb = np.repeat(linear_to_srgb(np.clip(img, 0, 1))[:, :, None], 3, axis=2)
    res = score(rgb, box)
    tp, fp, fn, errs = match(res.artifacts["orbs"], truth)
    assert tp >= 2 and fp == 0
    assert max(errs) < 0.08


def test_anamorphic_ovals_give_aspect_and_orientation():
    spec = synthetic.SceneSpec(width=768, height=768, aperture="anamorphic", anamorphic_aspect=1.6,
                               anamorphic_angle=math.pi / 2, subject="none", n_lights=10,
                               light_diameter_frac=(0.05, 0.08), background="wall",
                               background_rgb=(0.2, 0.22, 0.25), seed=7)
    res = score(synthetic.render(spec).rgb)
    assert res.values["bokeh.orb_count"] >= 6
    assert res.values["bokeh.aspect"] == pytest.approx(1.6, rel=0.1)
    assert res.values["bokeh.oval_angle_deg"] == pytest.approx(90.0, abs=10.0)
    assert "oval" in bokeh.explain(res) and "upright" in bokeh.explain(res)
    # the same scene through a circle: round, no orientation
    rnd = score(synthetic.render(synthetic.SceneSpec(**{**spec.__dict__, "aperture": "circle"})).rgb)
    assert rnd.values["bokeh.aspect"] < 1.1 and math.isnan(rnd.values["bokeh.oval_angle_deg"])
    assert rnd.reasons["bokeh.oval_angle_deg"] == "the discs are round"


@pytest.mark.parametrize("aperture", ["soap_bubble", "onion"])
def test_soap_bubble_and_onion_discs_are_optical(aperture):
    spec = synthetic.SceneSpec(width=512, height=512, aperture=aperture, subject="none", n_lights=8,
                               light_diameter_frac=(0.06, 0.1), background="wall",
                               background_rgb=(0.2, 0.2, 0.2), bubble_rim=2.5, onion_amplitude=0.4,
                               seed=8)
    r = synthetic.render(spec)
    res = score(r.rgb)
    tp, fp, fn, errs = _match_truth(res.artifacts["orbs"], r.truth["orbs"])
    assert fp == 0 and tp >= len(r.truth["orbs"]) - 1
    assert np.median(errs) < 0.05


def test_a_true_subject_mask_as_occluder_finds_orbs_behind_the_subject():
    # the pure function's occluder input (what a better subject model gives compute): discs
    # partly behind the renderer's subject are found when the mask says where the subject is
    found = {}
    for use_mask in (False, True):
        tp = n = fp = 0
        for seed in (3, 11):
            spec = synthetic.SceneSpec(width=768, height=768, subject="procedural",
                                       face_width_frac=0.12, n_lights=24, seed=seed,
                                       light_diameter_frac=(0.05, 0.08), orbs_behind_subject=0.6,
                                       background="wall", background_rgb=(0.2, 0.2, 0.25))
            r = synthetic.render(spec)
            ctx = ImageContext(r.rgb)
            occ = cv2.resize(r.subject_mask.astype(np.uint8), ctx.work_luminance.shape[::-1],
                             interpolation=cv2.INTER_NEAREST) > 0
            det = bokeh.detect_orbs(ctx.work_luminance, np.ones_like(occ), full_rgb=ctx.rgb,
                                    work_scale=ctx.work_scale, occluder=occ if use_mask else None)
            rec = {"lights": r.truth["lights"], "orbs": [o.as_dict() for o in det["orbs"]],
                   "width": 768, "height": 768}
            m = bokeh.match_record(rec)
            behind = [j for j, L in enumerate(r.truth["lights"])
                      if m["findable"][j] and L["placement"] == "behind"]
            tp += sum(j in m["l2f"] for j in behind)
            n += len(behind)
            fp += sum(i not in m["f2l"] for i in range(len(rec["orbs"])))
        found[use_mask] = tp / max(n, 1)
        assert fp == 0
    assert n >= 8 and found[True] >= 0.5 and found[True] > found[False]


# ---- the size criterion from the background's blur (issue 14's defocus map, when given) -------
def test_background_blur_evidence_rejects_specks_and_sharp_backgrounds():
    rgb, truth, box = stamped_scene(0, "circle", d_range=(20, 30))
    ctx = ImageContext(rgb, subject_box=box)
    base = bokeh.detect_orbs(ctx.work_luminance, ctx.work_background_mask, full_rgb=ctx.rgb,
                             work_scale=ctx.work_scale)
    assert len(base["orbs"]) >= 6

    def run(blur):
        return bokeh.detect_orbs(ctx.work_luminance, ctx.work_background_mask, full_rgb=ctx.rgb,
                                 work_scale=ctx.work_scale, background_blur=blur)
    assert len(run(lambda x, y: math.nan)["orbs"]) == len(base["orbs"])   # no evidence
    assert len(run(lambda x, y: 8.0)["orbs"]) == len(base["orbs"])        # discs wider than that
    big = run(lambda x, y: 60.0)                                          # specks in a 60 px blur
    assert big["orbs"] == [] and "smaller than the background's blur" in " ".join(big["rejected"])
    sharp = run(lambda x, y: 0.5)
    assert sharp["orbs"] == [] and "background is sharp" in " ".join(sharp["rejected"])


def test_compute_reads_a_defocus_map_when_the_context_has_one():
    rgb, truth, box = stamped_scene(0, "circle", d_range=(20, 30))

    class WithDefocus(ImageContext):
        defocus = np.full((48, 48), 0.4)                                  # a sharp background
    assert score(rgb, box).values["bokeh.orb_count"] >= 6
    res = bokeh.compute(WithDefocus(rgb, subject_box=box))
    assert res.values["bokeh.orb_count"] == 0

    class Broken(ImageContext):
        @property
        def defocus(self):
            raise RuntimeError("not yet")
    assert bokeh.compute(Broken(rgb, subject_box=box)).values["bokeh.orb_count"] >= 6


# ---- report wording ---------------------------------------------------------------------------
def test_explain_says_why():
    disc = score(*stamped_scene(0, "circle")[::2])
    text = bokeh.explain(disc)
    assert text.startswith(f"{int(disc.values['bokeh.orb_count'])} optical bokeh discs")
    assert "% of the frame wide" in text
    glow = score(*stamped_scene(0, "gaussian")[::2])
    assert bokeh.explain(glow).startswith("no optical discs among")
    assert "no highlights" in bokeh.explain(score(np.full((64, 64, 3), 0.4, np.float32)))
    assert bokeh.FAMILY.explain is bokeh.explain


def test_overlay_draws_discs_and_legend():
    rgb, _, box = stamped_scene(0, "circle", size=1024, d_range=(30, 80))
    res = score(rgb, box)
    img = bokeh.draw(rgb, res, 900)
    assert img.dtype == np.uint8 and img.shape[1] == 900 and img.shape[0] > 900   # caption strip
    green = (img[..., 1] > 200) & (img[..., 0] < 120) & (img[..., 2] < 160)
    assert green.sum() > 500


def test_every_output_has_words_for_a_prompt_writer():
    for o in bokeh.OUTPUTS:
        assert o.unit and "^" not in o.unit and len(o.description) > 40
    assert {"bokeh.oval_angle_deg", "bokeh.aspect"} <= {o.name for o in bokeh.OUTPUTS}


@pytest.mark.parametrize("name", ["brick", "grass", "gravel", "coffee", "rocket", "text"])
def test_sharp_textures_have_no_discs(name):
    res = score(bokeh._load_texture(name))
    assert res.values["bokeh.orb_count"] == 0


# ---- real images (../shared/data) ----------------------------------------------------------------
@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "ai-portraits").is_dir(), reason="../shared/data not present")
def test_real_in_focus_photographs_have_no_discs():
    # studio portraits, generated ID portraits and the sharp shots of the defocus pairs: in focus
    # throughout, so whatever bright shapes they hold, none is a defocus disc
    from lenscore.datasets.decode import decode_image

    files = []
    for folder, pattern in bokeh.REAL_IN_FOCUS:
        files += sorted((DATA / folder).glob(pattern))
    assert len(files) >= 40
    dirty = [f.name for f in files if score(decode_image(f).rgb).values["bokeh.orb_count"] > 0]
    assert len(dirty) <= 0.05 * len(files), dirty
