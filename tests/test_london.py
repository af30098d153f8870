"""The London Set loader, person matte and compositing (lenscore.datasets.london)."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from lenscore.datasets import london as L
from lenscore.errors import InputError


def synthetic_person(size: int = 400) -> L.LondonFace:
    """A made-up studio portrait with FRL-like landmarks: grey backdrop, a skin-coloured head
    (ellipse) on a white torso that runs out of the bottom of the frame."""
    rgb = np.full((size, size, 3), 0.8, np.float32)
    cx, cy, rx, ry = size // 2, int(0.4 * size), int(0.15 * size), int(0.2 * size)
    cv2.ellipse(rgb, (cx, cy), (rx, ry), 0, 0, 360, (0.75, 0.55, 0.45), -1)
    cv2.rectangle(rgb, (cx - int(0.35 * size), cy + ry), (cx + int(0.35 * size), size), (0.97, 0.97, 0.97), -1)
    alpha = np.zeros((size, size), np.float32)
    cv2.ellipse(alpha, (cx, cy), (rx, ry), 0, 0, 360, 1.0, -1)
    cv2.rectangle(alpha, (cx - int(0.35 * size), cy + ry), (cx + int(0.35 * size), size), 1.0, -1)
    pts = np.zeros((189, 2))
    t = np.linspace(0, 2 * np.pi, len(L.OUTLINE), endpoint=False)
    pts[L.OUTLINE] = np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)
    pts[L.HAIR] = np.stack([cx + rx * np.cos(np.linspace(np.pi, 2 * np.pi, 12)),
                            cy - 1.1 * ry + 0 * t[:12]], 1)
    pts[0], pts[1] = (cx - 0.4 * rx, cy - 0.1 * ry), (cx + 0.4 * rx, cy - 0.1 * ry)
    pts[L.NOSE_TIP] = (cx, cy + 0.2 * ry)
    pts[list(L.MOUTH_CORNERS)] = [(cx - 0.3 * rx, cy + 0.5 * ry), (cx + 0.3 * rx, cy + 0.5 * ry)]
    pts[list(L.NECK)] = [(cx - 0.3 * rx, cy + 1.2 * ry), (cx + 0.3 * rx, cy + 1.2 * ry)]
    return L.LondonFace("synthetic", rgb, pts, "test", "na", "NA", L.Matte(alpha))


def test_parse_tem_reads_the_points_and_ignores_the_line_definitions():
    text = "3\n1.5 2\n3 4\n5 6\n2\n0\n2\n0 1\n"
    assert L.parse_tem(text).tolist() == [[1.5, 2.0], [3.0, 4.0], [5.0, 6.0]]
    with pytest.raises(InputError):
        L.parse_tem("x y z")
    with pytest.raises(InputError):
        L.parse_tem("4\n1 2\n")


def test_london_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(L.ENV_VAR, raising=False)
    assert L.london_dir() == L.DEFAULT_DIR
    assert L.DEFAULT_DIR.parts[-3:] == ("shared", "data", "portraits-london")
    monkeypatch.setenv(L.ENV_VAR, str(tmp_path))
    assert L.london_dir() == (tmp_path / "portraits-london").resolve()
    assert L.london_dir(tmp_path / "x") == (tmp_path / "x").resolve()
    assert not L.available()
    with pytest.raises(InputError, match=L.ENV_VAR):
        L.face_ids()


@pytest.mark.parametrize("frac", [0.04, 0.12, 0.40])
def test_face_width_is_the_requested_fraction(frac):
    img, truth = L.compose(synthetic_person(), frame=(512, 640), face_width_frac=frac, seed=1)
    assert img.shape == (512, 640, 3) and img.dtype == np.float32
    assert truth["face_box"][2] == pytest.approx(frac * 640, rel=0.02)
    assert 0.0 <= img.min() and img.max() <= 1.0


@pytest.mark.parametrize("roll", [-20, 0, 20])
def test_landmarks_follow_the_roll(roll):
    _, truth = L.compose(synthetic_person(), face_width_frac=0.2, roll_deg=roll, seed=2)
    (x0, y0), (x1, y1) = truth["eyes"]
    assert math.degrees(math.atan2(-(y1 - y0), x1 - x0)) == pytest.approx(roll, abs=0.01)


def test_person_mask_matches_where_the_person_is_drawn():
    p = synthetic_person()
    img, truth = L.compose(p, face_width_frac=0.2, background="plain", seed=3, noise_sigma=0.0)
    m = truth["person_mask"]
    assert 0.02 < m.mean() < 0.6
    x, y, w, h = (int(v) for v in truth["face_box"])
    assert m[y + h // 2, x + w // 2]                    # face centre is person
    assert m[-1].any()                                  # the body runs out of the frame's bottom
    assert not m[0].any()


def test_key_light_is_a_blackbody_cast_in_linear_light():
    p = synthetic_person()
    kw = dict(face_width_frac=0.25, background="plain", seed=4, noise_sigma=0.0, exposure=0.8)
    warm, tw = L.compose(p, key_kelvin=2000, **kw)
    cool, tc = L.compose(p, key_kelvin=9000, **kw)
    m = tw["person_mask"] & tc["person_mask"]
    rb = lambda img: img[m][:, 0].mean() / img[m][:, 2].mean()
    assert rb(warm) > 1.5 * rb(cool)
    g = L.key_gain(5000)
    assert float(g @ np.array([0.2126, 0.7152, 0.0722])) == pytest.approx(1.0, abs=1e-5)


def test_grayscale_output_and_backgrounds():
    p = synthetic_person()
    for bg in L.BACKGROUNDS:
        img, truth = L.compose(p, frame=(256, 256), face_width_frac=0.2, background=bg, gray=True, seed=5)
        assert img.shape == (256, 256) and np.isfinite(img).all()
        assert truth["background"]["kind"] == bg and truth["gray"]
    arr = np.full((100, 100, 3), 0.2, np.float32)
    img, truth = L.compose(p, frame=(128, 128), face_width_frac=0.2, background=arr, seed=6)
    assert truth["background"]["kind"] == "array"
    with pytest.raises(InputError):
        L.compose(p, background="moon")
    with pytest.raises(InputError):
        L.compose(p, face_width_frac=0.0)
    with pytest.raises(InputError):
        L.compose(p, frame=(8, 8))


def test_same_seed_same_frame():
    p = synthetic_person()
    a, _ = L.compose(p, frame=(200, 200), seed=9)
    b, _ = L.compose(p, frame=(200, 200), seed=9)
    c, _ = L.compose(p, frame=(200, 200), seed=10)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_disc_kernel_is_normalised_and_round():
    k = L.disc_kernel(5.0)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert k.shape == (11, 11) and k[5, 5] > 0 and k[0, 0] == 0
    assert np.allclose(k, k.T) and np.allclose(k, k[::-1])


def test_face_free_scenes_have_no_person():
    scenes = list(L.face_free_scenes((128, 128), n=8, seed=1))
    assert len(scenes) == 8
    assert {info["kind"] for _, info in scenes} == {"bokeh", "texture", "plain"}
    assert all(np.isfinite(img).all() and img.shape == (128, 128, 3) for img, _ in scenes)


@pytest.fixture(scope="module")
def london():
    if not L.available():
        pytest.skip(f"London Set not present at {L.london_dir()} (set {L.ENV_VAR})")
    return L.london_dir()


def test_real_matte_keeps_the_face_and_drops_the_backdrop(london):
    face = L.load_face("096", london)
    q = face.matte.quality
    assert q["outline_inside"] > 0.999
    assert q["border_outside"] > 0.97
    assert q["grabcut_vs_threshold_iou"] > 0.9
    assert face.ethnicity == "black" and face.landmarks.shape == (189, 2)
    a = face.matte.alpha
    assert a[5, 5] == 0 and a[-1, face.rgb.shape[1] // 2] == 1     # corner backdrop, shirt


def test_real_composite_truth(london):
    img, truth = L.composite("001", face_width_frac=0.18, roll_deg=20, key_kelvin=2700,
                             background="bokeh", seed=1, data_dir=london)
    assert img.shape == (1024, 1024, 3)
    assert truth["face_width_px"] == pytest.approx(0.18 * 1024, rel=0.01)
    assert truth["face_box"][2] > truth["face_width_px"]          # rolled: the upright box is wider
    assert truth["landmarks"].shape == (189, 2) and truth["group"] == "white"
    m = truth["person_mask"]
    ex, ey = truth["eyes"].mean(0)
    assert m[int(ey), int(ex)]


def test_unknown_face_id(london):
    with pytest.raises(InputError, match="known ids"):
        L.load_face("999", london)


def test_ids_and_groups(london):
    ids = L.face_ids(london)
    assert len(ids) >= 30 and ids == sorted(ids)
    assert Path(london, f"{ids[0]}_03.tem").is_file()
