"""The evidence-based subject mask (lenscore.person)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from lenscore import person as P
from lenscore.errors import InputError
from lenscore.faces import Face


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def fake_face(cx: float, cy: float, w: float, roll: float = 0.0) -> Face:
    """A Face built from six keypoints (no mesh) at a known place."""
    iod = 0.42 * w
    th = np.radians(-roll)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    local = np.array([[-iod / 2, -0.1 * w], [iod / 2, -0.1 * w], [0, 0.15 * w], [0, 0.35 * w],
                      [-0.5 * w, 0.0], [0.5 * w, 0.0]])
    kps = local @ rot.T + (cx, cy)
    h = 1.3 * w
    return Face(box=(cx - w / 2, cy - h / 2, w, h), score=0.9, landmarks=kps.copy(), keypoints=kps)


def textured(shape, seed, blur):
    rng = np.random.default_rng(seed)
    t = rng.random(shape + (3,)).astype(np.float32)
    t = cv2.resize(cv2.resize(t, (shape[1] // 8, shape[0] // 8)), (shape[1], shape[0]))
    t = 0.3 + 0.4 * t
    return cv2.GaussianBlur(t, (0, 0), blur) if blur else t


def person_scene(shape=(480, 384), seed=0, roll=0.0):
    """A sharp 'person' (skin head, striped shirt) on a defocused texture, and its true mask."""
    h, w = shape
    img = textured(shape, seed, blur=6)
    m = np.zeros(shape, np.uint8)
    cx, cy, fw = w / 2, 0.35 * h, 0.22 * w
    cv2.ellipse(m, (int(cx), int(cy)), (int(0.55 * fw), int(0.72 * fw)), -roll, 0, 360, 1, -1)
    body = np.array([[cx - 1.3 * fw, cy + 0.9 * fw], [cx + 1.3 * fw, cy + 0.9 * fw],
                     [cx + 1.5 * fw, h], [cx - 1.5 * fw, h]], np.int32)
    cv2.fillPoly(m, [body], 1)
    cv2.rectangle(m, (int(cx - 0.2 * fw), int(cy + 0.4 * fw)), (int(cx + 0.2 * fw), int(cy + fw)), 1, -1)
    mask = m.astype(bool)
    shirt = np.where((np.arange(w) // 6) % 2 == 0, 0.95, 0.15).astype(np.float32)
    img[mask] = np.stack([shirt] * 3, -1)[np.nonzero(mask)[1]] * np.array([0.9, 0.3, 0.3], np.float32)
    head = np.zeros(shape, np.uint8)
    cv2.ellipse(head, (int(cx), int(cy)), (int(0.55 * fw), int(0.72 * fw)), -roll, 0, 360, 1, -1)
    img[head.astype(bool)] = (0.8, 0.6, 0.5)
    rng = np.random.default_rng(seed + 1)
    img = np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, 1)
    return img, mask, fake_face(cx, cy, fw, roll)


def test_person_mask_known_answer():
    img, truth, face = person_scene()
    sm = P.subject_mask(img, [face])
    assert sm.how.startswith("person") and sm.face_count == 1
    assert iou(sm.mask, truth) > 0.85


@pytest.mark.parametrize("roll", [-20, 20])
def test_rolled_person(roll):
    img, truth, face = person_scene(seed=3, roll=roll)
    assert iou(P.subject_mask(img, [face]).mask, truth) > 0.8


def test_focus_refinement_and_colour_only_both_find_the_person():
    img, truth, face = person_scene(seed=5)
    for refine in ("focus", "none"):
        assert iou(P.subject_mask(img, [face], refine=refine).mask, truth) > 0.8
    with pytest.raises(InputError):
        P.subject_mask(img, [face], refine="magic")


def test_horizontal_flip_flips_the_mask():
    img, _, face = person_scene(seed=7)
    a = P.subject_mask(img, [face]).mask
    w = img.shape[1]
    kps = face.keypoints.copy()
    kps[:, 0] = w - 1 - kps[:, 0]
    kps[[0, 1]] = kps[[1, 0]]
    kps[[4, 5]] = kps[[5, 4]]
    x, y, fw, fh = face.box
    flipped = Face(box=(w - 1 - x - fw, y, fw, fh), score=0.9, landmarks=kps.copy(), keypoints=kps)
    b = P.subject_mask(np.ascontiguousarray(img[:, ::-1]), [flipped]).mask
    assert iou(a, b[:, ::-1]) > 0.9


def test_no_face_takes_the_in_focus_region():
    """A product shot: a sharp textured disc on a defocused background."""
    h, w = 400, 500
    img = textured((h, w), 11, blur=8)
    sharp = textured((h, w), 12, blur=0)
    disc = np.zeros((h, w), np.uint8)
    cv2.circle(disc, (260, 210), 90, 1, -1)
    disc = disc.astype(bool)
    img[disc] = sharp[disc]
    sm = P.subject_mask(img, [])
    assert sm.how == "in-focus region (no face)" and sm.face_count == 0
    assert iou(sm.mask, disc) > 0.7
    assert any("in-focus" in n for n in sm.notes)


@pytest.mark.parametrize("kind", ["sharp", "blurred"])
def test_never_the_whole_frame(kind):
    img = textured((300, 300), 2, blur=0 if kind == "sharp" else 10)
    sm = P.subject_mask(img, [])
    assert 0 < sm.fraction <= P.MAX_FRACTION


def test_a_face_filling_the_frame_still_leaves_background():
    img, _, _ = person_scene()
    huge = fake_face(192, 200, 380)
    sm = P.subject_mask(img, [huge])
    assert sm.fraction <= P.MAX_FRACTION


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 7, 3), (10, 10), (0, 0, 3)])
def test_tiny_images(shape):
    sm = P.subject_mask(np.full(shape, 0.5, np.float32), [])
    assert sm.mask.shape == shape[:2] and sm.mask.dtype == bool
    assert sm.fraction <= P.MAX_FRACTION


def test_uniform_and_nan_images():
    sm = P.subject_mask(np.full((200, 300, 3), 0.4, np.float32), [])
    assert sm.how.startswith("centre (uniform") and 0 < sm.fraction < 0.5
    img, truth, face = person_scene()
    img[:40] = np.nan
    img[-5:, :5] = np.inf
    sm = P.subject_mask(img, [face])
    assert iou(sm.mask, truth) > 0.8
    sm = P.subject_mask(np.full((64, 64, 3), np.nan, np.float32), [])
    assert sm.mask.shape == (64, 64)


def test_grayscale_input():
    img, truth, face = person_scene(seed=9)
    gray = img.mean(axis=2)
    assert iou(P.subject_mask(gray, [face]).mask, truth) > 0.75


def test_sharpness_map_is_lower_when_blurred():
    img = textured((200, 200), 4, blur=0)
    a = P.sharpness_map(img.mean(2))
    b = P.sharpness_map(cv2.GaussianBlur(img, (0, 0), 3).mean(2))
    assert np.median(a) > np.median(b) + 0.5
    assert np.isfinite(P.sharpness_map(np.full((50, 50), np.nan, np.float32))).all()


def test_small_background_face_is_not_a_subject():
    img, truth, face = person_scene()
    tiny = fake_face(40, 40, 0.2 * face.box[2])
    sm = P.subject_mask(img, [face, tiny])
    assert not sm.mask[40, 40]


def test_real_london_composite():
    from lenscore.datasets import london as L
    from lenscore.faces import detect_faces
    from lenscore.imaging import resize_long_side

    if not L.available():
        pytest.skip(f"London Set not present at {L.london_dir()} (set {L.ENV_VAR})")
    img, truth = L.composite("137", face_width_frac=0.12, roll_deg=-20, key_kelvin=9000,
                             background="texture", seed=2)
    work = resize_long_side(img, P.WORK_LONG_SIDE)
    k = work.shape[1] / img.shape[1]
    faces = [f.scaled(k) for f in detect_faces(img)]
    assert len(faces) == 1
    m = cv2.resize(truth["person_mask"].astype(np.uint8), work.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    assert iou(P.subject_mask(work, faces).mask, m.astype(bool)) > 0.85
