"""skin family: known answers on generated faces, smoothing/resolution/noise properties, edges."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

import lenscore.metrics.skin as skin
from lenscore.context import ImageContext

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# ---- generated ground truth ------------------------------------------------------------------
def face_image(amplitude: float, *, fw: int = 300, size: int | None = None, seed: int = 0,
               band=(1.0, 2.0)):
    """A smooth skin-coloured head on grey with multiplicative pore texture of known contrast.

    The texture is white noise through a DoG of sigma ``band`` normalised px (x fw / 256 source
    px), scaled to unit std: the gray image is base * (1 + amplitude * n). Returns (rgb, face box).
    """
    size = size or int(1.8 * fw)
    cx = cy = size / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    head = ((xx - cx) / (0.55 * fw)) ** 2 + ((yy - cy - 0.1 * fw) / (0.75 * fw)) ** 2 <= 1
    shade = (0.9 + 0.1 * np.cos((xx - cx) / fw * 2.0))[..., None]
    rgb = np.where(head[..., None], np.array([0.85, 0.64, 0.54], np.float32) * shade,
                   np.array([0.5, 0.5, 0.52], np.float32))
    k = fw / 256
    n = np.random.default_rng(seed).standard_normal((size, size)).astype(np.float32)
    b = cv2.GaussianBlur(n, (0, 0), band[0] * k) - cv2.GaussianBlur(n, (0, 0), band[1] * k)
    b /= b.std()
    rgb = rgb * (1 + amplitude * b * head)[..., None]
    return np.clip(rgb, 0, 1).astype(np.float32), (int(cx - fw / 2), int(cy - fw / 2), fw, fw)


def _gauss_mix_norm2(terms):
    return sum(a * b / (2 * math.pi * (s * s + t * t)) for a, s in terms for b, t in terms)


def expected_energy(amplitude: float) -> float:
    """E = a^2 ||G_c * DoG(1,2) * DoG(1,2)||^2 / ||DoG(1,2)||^2 (Gaussians compose: G_a*G_b =
    G_sqrt(a^2+b^2)), x energy_scale."""
    c = skin.PARAMS.prefilter_sigma
    h1 = [(1, 1.0), (-1, 2.0)]
    h2h1 = [(1, math.sqrt(c * c + 2)), (-2, math.sqrt(c * c + 5)), (1, math.sqrt(c * c + 8))]
    return skin.PARAMS.energy_scale * amplitude ** 2 * _gauss_mix_norm2(h2h1) / _gauss_mix_norm2(h1)


def energy(img, face) -> float:
    return skin.measure_skin(img, face)["texture_energy"]


# ---- known answers ---------------------------------------------------------------------------
@pytest.mark.parametrize("fw", [200, 300, 450])
def test_known_contrast_is_recovered(fw):
    img, face = face_image(0.02, fw=fw)
    e = energy(img, face)
    assert e == pytest.approx(expected_energy(0.02), rel=0.2)


def test_energy_rises_with_amplitude_and_scales_as_its_square():
    e = [energy(*face_image(a)) for a in (0.0, 0.005, 0.01, 0.02, 0.04)]
    assert all(x < y for x, y in zip(e, e[1:]))
    assert e[0] < 1e-3 * e[-1]
    assert e[4] / e[3] == pytest.approx(4.0, rel=0.1)


def test_plastic_face_with_grain_reads_near_zero():
    img, face = face_image(0.0)
    noisy = np.clip(img + np.random.default_rng(3).normal(0, 0.01, img.shape), 0, 1).astype(np.float32)
    r = skin.measure_skin(noisy, face)
    assert r["bands"]["pore"] > 0                        # the grain is in the band...
    assert r["texture_energy"] < 0.1 * expected_energy(0.01)   # ...and the floor removes it


def test_drawn_edges_are_not_pores():
    img, face = face_image(0.0)
    x, y, w, h = face
    line = img.copy()
    cv2.line(line, (x + int(0.1 * w), y + int(0.45 * h)), (x + int(0.4 * w), y + int(0.8 * h)),
             (0.35, 0.2, 0.15), 2)              # a cartoon contour across the left cheek
    assert energy(line, face) < 0.05 * expected_energy(0.01)


def _with_highlights(img, face, spots):
    """Add white Gaussian highlights (sigma 0.02 face widths) at face-box coordinates."""
    x, y, w, h = face
    yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]].astype(np.float32)
    area = 0
    for u, v in spots:
        g = np.exp(-((xx - x - u * w) ** 2 + (yy - y - v * h) ** 2) / (2 * (0.02 * w) ** 2))
        img = img + 0.35 * g[..., None]
        area += int((g > 0.5).sum())
    return np.clip(img, 0, 1).astype(np.float32), area


@pytest.mark.parametrize("spots", [[], [(0.25, 0.6)], [(0.25, 0.6), (0.75, 0.62), (0.5, 0.05)]])
def test_specular_fraction_counts_highlights(spots):
    img, face = face_image(0.01)
    img, area = _with_highlights(img, face, spots)
    r = skin.measure_skin(img, face)
    skin_px_full = r["mask"].sum() * r["crop"].k ** 2
    assert r["specular_fraction"] == pytest.approx(area / skin_px_full, abs=0.004)


def test_noise_gain_is_exact():
    assert skin.noise_band_gain(1.0, (1.0, 2.0), 0.0) == pytest.approx(skin.dog_norm2(1.0, 2.0), rel=1e-3)
    rng = np.random.default_rng(0)
    for fw in (200, 400, 640):     # k < 1, ~1.6, 2.5
        size = int(1.8 * fw)
        flat = np.full((size, size, 3), (0.8, 0.6, 0.5), np.float32)
        face = (int(0.4 * fw), int(0.4 * fw), fw, fw)
        raw, floor = [], []
        for _ in range(3):
            img = np.clip(flat + rng.normal(0, 0.01, (size, size, 1)).astype(np.float32), 0, 1)
            b = skin.measure_skin(img, face)["bands"]
            raw.append(b["pore"])
            floor.append(b["pore_noise_floor"])
        assert np.mean(raw) == pytest.approx(np.mean(floor), rel=0.1)


# ---- properties --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def textured():
    return face_image(0.03, fw=300, seed=1)


def test_gaussian_ladder_lowers_energy(textured):
    img, face = textured
    e = [energy(img, face)] + [energy(cv2.GaussianBlur(img, (0, 0), s), face) for s in (0.5, 1, 2, 3)]
    assert all(x > y for x, y in zip(e, e[1:])), e


def test_bilateral_ladder_lowers_energy(textured):
    img, face = textured
    e = [energy(img, face)] + [energy(cv2.bilateralFilter(img, -1, sc, ss), face)
                               for ss, sc in ((2, 0.03), (3, 0.06), (5, 0.1), (8, 0.15))]
    assert all(x > y for x, y in zip(e, e[1:])), e


def test_half_resolution_agrees(textured):
    img, face = textured
    half = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
    assert energy(half, tuple(v / 2 for v in face)) == pytest.approx(energy(img, face), rel=0.15)


def test_grain_does_not_beat_the_first_smoothing_step(textured):
    img, face = textured
    e0 = energy(img, face)
    e1 = energy(cv2.GaussianBlur(img, (0, 0), 0.5), face)
    noisy = [energy(np.clip(img + np.random.default_rng(s).normal(0, 0.01, img.shape), 0, 1)
                    .astype(np.float32), face) for s in range(3)]
    assert np.mean(noisy) - e0 < e0 - e1


def test_exposure_does_not_change_the_contrast(textured):
    img, face = textured
    assert energy(img * 0.7, face) == pytest.approx(energy(img, face), rel=0.05)


# ---- the family on a context -------------------------------------------------------------------
def test_astronaut_face_is_found_and_measured(portrait_rgb):
    big = np.clip(cv2.resize(portrait_rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), 0, 1)
    res = skin.compute(ImageContext(big))
    v = res.values
    assert v["skin.face_found"] == 1.0
    assert np.isfinite(v["skin.texture_energy"]) and v["skin.texture_energy"] > 0
    assert 0 <= v["skin.specular_fraction"] <= 1 and 0.5 < v["skin.mask_fraction"] <= 1
    x, y, w, h = res.artifacts["crop_box"]
    assert res.artifacts["mask"].any() and 0 <= x and x + w <= big.shape[1]
    assert set(res.values) == {o.name for o in skin.OUTPUTS}


def test_small_face_is_nan_with_reason(portrait_rgb):
    res = skin.compute(ImageContext(portrait_rgb))      # the astronaut's face is ~100 px at 512
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
    img, face = face_image(0.03, fw=300, size=900)
    x, y, w, h = face
    box = (int(x - 1.2 * w), int(y - 0.6 * h), int(3.4 * w), int(3.8 * h))  # head and shoulders
    res = skin.compute(ImageContext(img, subject_box=box))
    assert res.values["skin.face_found"] == 0.0
    assert res.artifacts["face_source"] == "subject_box"
    assert "estimated" in res.reasons["skin"]
    assert res.values["skin.texture_energy"] == pytest.approx(expected_energy(0.03), rel=0.3)


def test_user_mask_wins():
    img, face = face_image(0.03, fw=300)
    mask = np.zeros(img.shape[:2], bool)
    x, y, w, h = face
    mask[y + int(0.5 * h): y + int(0.7 * h), x + int(0.15 * w): x + int(0.85 * w)] = True
    res = skin.compute(ImageContext(img, skin_mask=mask))
    assert res.artifacts["face_source"] == "user_mask"
    assert np.isfinite(res.values["skin.texture_energy"])
    assert math.isnan(res.values["skin.mask_fraction"])
    # the mask used is the user's (mapped back to full resolution it covers it, nothing else)
    cx, cy, cw, ch = res.artifacts["crop_box"]
    used = cv2.resize(res.artifacts["mask"].astype(np.uint8), (cw, ch),
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    theirs = mask[cy:cy + ch, cx:cx + cw]
    assert (used == theirs).mean() > 0.97


def test_user_mask_wins_over_detected_face(portrait_rgb):
    big = np.clip(cv2.resize(portrait_rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), 0, 1)
    mask = np.zeros(big.shape[:2], bool)
    mask[300:340, 380:440] = True                       # a patch of the astronaut's cheek
    res = skin.compute(ImageContext(big, skin_mask=mask))
    assert res.values["skin.face_found"] == 1.0
    cx, cy, cw, ch = res.artifacts["crop_box"]
    assert cx <= 380 and cx + cw >= 440 and cy <= 300 and cy + ch >= 340
    assert cw < 120 and ch < 100                        # the crop follows the mask, not the face


def test_mask_of_wrong_size_is_a_reason():
    img, _ = face_image(0.0, fw=300)
    res = skin.compute(ImageContext(img, skin_mask=np.ones((10, 10), bool)))
    assert math.isnan(res.values["skin.texture_energy"])
    assert "size" in res.reasons["skin"]


def test_registered():
    from lenscore.metrics.base import get_family

    fam = get_family("skin")
    assert fam.name == "skin" and fam.version == "1"
    assert fam.output("texture_energy").direction == "higher"
    assert fam.output("face_found").unit == "flag"


# ---- the ground-truth renderer -----------------------------------------------------------------
def test_synthetic_scenes_follow_pores_and_smoothing():
    synthetic = pytest.importorskip("lenscore.datasets.synthetic")

    def tex(**kw):
        spec = synthetic.SceneSpec(width=640, height=640, key_kelvin=5000, background_kelvin=5000,
                                   n_lights=0, seed=0, **kw)
        return skin.compute(ImageContext(synthetic.render(spec).rgb)).values["skin.texture_energy"]

    amp = [tex(pore_amplitude=a) for a in (0.0, 0.1, 0.2)]
    assert all(x < y for x, y in zip(amp, amp[1:])), amp
    sm = [amp[1]] + [tex(pore_amplitude=0.1, smoothing=s) for s in (2, 4)]
    assert all(x > y for x, y in zip(sm, sm[1:])), sm


# ---- real portraits ------------------------------------------------------------------------------
@pytest.mark.realdata
def test_london_ladder_and_resolution():
    folder = SHARED_DATA / "portraits-london"
    if not folder.is_dir():
        pytest.skip(f"real data not present at {folder}")
    from lenscore.datasets.decode import decode_image

    files = sorted(folder.glob("*.jpg"))
    assert files
    for f in files:
        rgb = decode_image(f).rgb
        ctx = ImageContext(rgb)
        assert ctx.face_box is not None, f.name
        x, y, w, h = ctx.face_box
        m = int(0.3 * w)                                  # filters only where the metric looks
        img = np.ascontiguousarray(rgb[max(0, y - m): y + h + m, max(0, x - m): x + w + m])
        face = (x - max(0, x - m), y - max(0, y - m), w, h)
        e = [energy(img, face)] + [energy(cv2.GaussianBlur(img, (0, 0), s), face) for s in (0.5, 1, 2, 3)]
        assert all(a > b for a, b in zip(e, e[1:])), (f.name, e)
        half = cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2), interpolation=cv2.INTER_AREA)
        assert energy(half, tuple(v / 2 for v in face)) == pytest.approx(e[0], rel=0.15), f.name
