"""Face detection, landmarks, roll and skin regions (lenscore.faces)."""

from __future__ import annotations

import hashlib
import re
from importlib import resources

import cv2
import numpy as np
import pytest

from lenscore import faces as F
from lenscore.errors import InputError

#: the astronaut's face: x from cheek to cheek, y from the hair line to the chin (512 px image).
ASTRONAUT_FACE = (174.0, 62.0, 99.0, 108.0)
#: the astronaut's eye centres (image left, image right), measured by eye on the 512 px image.
ASTRONAUT_EYES = np.array([[202.0, 101.0], [244.0, 102.0]])


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / (aw * ah + bw * bh - ix * iy)


def rotate(img: np.ndarray, deg: float, centre=(223.0, 115.0)) -> np.ndarray:
    m = cv2.getRotationMatrix2D(centre, deg, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut().astype(np.float32) / 255.0


@pytest.fixture(scope="module")
def london_frame():
    from lenscore.datasets import london as L

    if not L.available():
        pytest.skip(f"London Set not present at {L.london_dir()} (set {L.ENV_VAR})")
    return L.composite("129", face_width_frac=0.08, roll_deg=0, key_kelvin=2700,
                       background="texture", seed=3)


def test_astronaut_face_box_and_eyes(astronaut):
    faces = F.detect_faces(astronaut)
    assert len(faces) == 1
    f = faces[0]
    assert iou(f.box, ASTRONAUT_FACE) > 0.5
    assert f.mesh and f.landmarks.shape == (468, 2)
    err = np.hypot(*(f.eyes - ASTRONAUT_EYES).T)
    assert err.max() < 0.06 * ASTRONAUT_FACE[2]
    assert abs(f.roll_deg) < 5
    assert 0.3 < f.inter_ocular / f.box[2] < 0.6
    assert 0 < f.score <= 1 and f.presence >= F.MIN_PRESENCE


def test_known_answer_on_a_london_composite(london_frame):
    img, truth = london_frame
    faces = F.detect_faces(img)
    assert len(faces) == 1
    f = faces[0]
    assert iou(f.box, truth["face_box"]) > 0.5
    fw = truth["face_box"][2]
    assert np.hypot(*(f.eyes - truth["eyes"]).T).max() < 0.05 * fw


def test_horizontal_flip_mirrors_the_face_and_flips_the_roll(astronaut):
    img = rotate(astronaut, 15)
    a = F.detect_faces(img)
    b = F.detect_faces(np.ascontiguousarray(img[:, ::-1]))
    assert len(a) == len(b) == 1
    x, y, w, h = b[0].box
    mirrored = (img.shape[1] - x - w, y, w, h)
    assert iou(a[0].box, mirrored) > 0.8
    assert a[0].roll_deg > 8 and b[0].roll_deg < -8
    assert abs(a[0].roll_deg + b[0].roll_deg) < 3


@pytest.mark.parametrize("deg", [-20, 20])
def test_roll_is_measured_with_its_sign(astronaut, deg):
    f = F.detect_faces(rotate(astronaut, deg))
    assert len(f) == 1 and abs(f[0].roll_deg - deg) < 5


def test_key_colour_does_not_change_detection():
    from lenscore.datasets import london as L

    if not L.available():
        pytest.skip(f"London Set not present at {L.london_dir()}")
    boxes = []
    for k in (2000, 5000, 9000):
        img, truth = L.composite("114", face_width_frac=0.12, key_kelvin=k, background="plain", seed=5)
        faces = F.detect_faces(img)
        assert len(faces) == 1 and iou(faces[0].box, truth["face_box"]) > 0.5
        boxes.append(faces[0].box)
    assert min(iou(boxes[0], b) for b in boxes[1:]) > 0.85


def test_grayscale_input(astronaut):
    gray = astronaut @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    faces = F.detect_faces(gray)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.5
    assert F.detect_faces(gray[..., None])[0].box == pytest.approx(faces[0].box)


def test_uint8_and_float_agree(astronaut):
    a = F.detect_faces(astronaut)[0].box
    b = F.detect_faces((astronaut * 255 + 0.5).astype(np.uint8))[0].box
    assert iou(a, b) > 0.95


@pytest.mark.parametrize("shape", [(1, 1, 3), (10, 10, 3), (10, 10), (15, 400, 3), (0, 0, 3)])
def test_tiny_images_have_no_face(shape):
    assert F.detect_faces(np.full(shape, 0.5, np.float32)) == []


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_uniform_image_has_no_face(value):
    assert F.detect_faces(np.full((300, 400, 3), value, np.float32)) == []


def test_textures_have_no_face():
    from skimage import data

    for name in ("brick", "grass", "gravel", "coffee"):
        img = getattr(data, name)().astype(np.float32) / 255.0
        assert F.detect_faces(img, small_faces=True) == [], name


def test_nan_and_inf_do_not_raise(astronaut):
    img = astronaut.copy()
    img[:50] = np.nan
    img[-20:, :20] = np.inf
    faces = F.detect_faces(img)
    assert len(faces) == 1


def test_bad_input_raises_input_error(astronaut):
    with pytest.raises(InputError, match="H x W"):
        F.detect_faces(np.zeros((4, 4, 4, 4), np.float32))
    with pytest.raises(InputError, match="small_faces"):
        F.detect_faces(astronaut, small_faces="sometimes")


def test_unverified_candidates_carry_six_keypoints(astronaut):
    faces = F.detect_faces(astronaut, verify=False)
    assert faces and faces[0].landmarks.shape == (6, 2) and not faces[0].mesh
    assert np.isnan(faces[0].presence) and faces[0].mouth_corners is None
    assert iou(faces[0].box, ASTRONAUT_FACE) > 0.4


def test_small_faces_option_finds_a_small_face(astronaut):
    """The astronaut at 200 px in a 1024 px frame: the face is 3.8 % of the width, below what
    one 192 px pass over the frame resolves; the tiles find it."""
    frame = np.full((1024, 1024, 3), 0.35, np.float32)
    frame[600:800, 700:900] = cv2.resize(astronaut, (200, 200), interpolation=cv2.INTER_AREA)
    faces = F.detect_faces(frame, small_faces=True)
    assert len(faces) == 1 and faces[0].found_by.startswith("tile")
    truth = (700 + ASTRONAUT_FACE[0] * 200 / 512, 600 + ASTRONAUT_FACE[1] * 200 / 512,
             ASTRONAUT_FACE[2] * 200 / 512, ASTRONAUT_FACE[3] * 200 / 512)
    assert iou(faces[0].box, truth) > 0.5
    assert len(F.detect_faces(frame)) == 1              # "auto" tiles when the frame pass finds none


def test_scaled_face_scales_everything(astronaut):
    f = F.detect_faces(astronaut)[0]
    g = f.scaled(0.5)
    assert g.box == pytest.approx(tuple(v * 0.5 for v in f.box))
    assert g.inter_ocular == pytest.approx(0.5 * f.inter_ocular)
    assert g.roll_deg == pytest.approx(f.roll_deg)


def test_tiles_cover_the_frame_with_overlap():
    for shape in [(1024, 1024), (768, 1024), (1024, 600), (300, 2000)]:
        t = F.tiles(shape)
        cover = np.zeros(shape, int)
        for x, y, s in t:
            cover[max(0, y):y + s, max(0, x):x + s] += 1
        assert cover.min() >= 1
        assert all(s == t[0][2] for _, _, s in t)


def test_face_regions_are_skin_inside_the_oval(astronaut):
    f = F.detect_faces(astronaut)[0]
    reg = F.face_regions(f, astronaut.shape[:2])
    oval = np.zeros(astronaut.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(f.landmarks[F.MESH_OVAL]).astype(np.int32)], 1)
    for k in ("forehead", "nose_bridge", "cheek_left", "cheek_right"):
        assert reg[k].sum() > 20, k
        assert not (reg[k] & reg["excluded"]).any()
        assert reg[k][oval.astype(bool) == 0].sum() == 0
    # the eyes are excluded and are not skin
    for e in f.eyes:
        assert reg["excluded"][int(e[1]), int(e[0])] and not reg["skin"][int(e[1]), int(e[0])]
    # cheeks lie either side of the nose, forehead above the eyes
    ys, xs = np.nonzero(reg["cheek_left"])
    assert xs.mean() < f.nose_tip[0] < np.nonzero(reg["cheek_right"])[1].mean()
    assert np.nonzero(reg["forehead"])[0].mean() < f.eyes[:, 1].min()


def test_face_regions_from_six_keypoints(astronaut):
    f = F.detect_faces(astronaut, verify=False)[0]
    reg = F.face_regions(f, astronaut.shape[:2])
    assert all(reg[k].sum() > 20 for k in ("forehead", "cheek_left", "cheek_right"))


def test_face_regions_at_working_scale(astronaut):
    f = F.detect_faces(astronaut)[0]
    full = F.face_regions(f, astronaut.shape[:2])["skin"].sum()
    half = F.face_regions(f, (256, 256), scale=0.5)["skin"].sum()
    assert 0.2 < half / full < 0.3


def test_shipped_models_match_their_recorded_hashes():
    readme = (resources.files("lenscore") / "models" / "README.md").read_text(encoding="utf-8")
    for name in ("face_detection_full_range.tflite", "face_landmark.tflite"):
        data = (resources.files("lenscore") / "models" / name).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert re.search(rf"`{re.escape(name)}`.*`{digest}`", readme), name


def test_faces_import_does_not_pull_torch():
    import subprocess
    import sys

    code = "import sys, lenscore.faces, lenscore.person; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
