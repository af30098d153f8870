"""The subject family and the subject model every family reads (ctx.faces, ctx.subject).

Behaviour asserted: a known face is found where it is and the mask covers the person (production
path: nothing of the truth is passed in); a mirrored image gives the mirrored answer; no face is
a value (0) with the subject taken from focus; a user's mask or box wins; a manifest's
subject_mask column reaches the metrics and a bad one is an error row with a reason.
"""

from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pytest

from lenscore.cli import run_cli
from lenscore.context import ImageContext
from lenscore.datasets.synthetic import SceneSpec, render
from lenscore.metrics import subject

from conftest import write_png


@pytest.fixture(scope="module")
def portrait():
    return render(SceneSpec(width=512, height=512, seed=3, n_lights=6, light_depth_m=(8.0, 40.0)))


def _iou(a, b):
    return np.logical_and(a, b).sum() / np.logical_or(a, b).sum()


def test_known_face_and_person_are_found(portrait):
    ctx = ImageContext(portrait.rgb)
    res = ctx.result("subject")
    t = portrait.truth
    assert res.values["subject.face_count"] == 1
    assert res.values["subject.face_width_frac"] == pytest.approx(t["face_width_frac"], rel=0.2)
    x, y, w, h = t["face_box"]
    cx, cy = ctx.faces[0].center
    assert x <= cx <= x + w and y <= cy <= y + h
    truth = cv2.resize(portrait.subject_mask.astype(np.uint8), ctx.work_subject_mask.shape[::-1],
                       interpolation=cv2.INTER_NEAREST).astype(bool)
    assert _iou(ctx.work_subject_mask, truth) > 0.85
    assert ctx.subject_source == "face"
    assert res.values["subject.mask_fraction"] == pytest.approx(truth.mean(), abs=0.08)


def test_a_mirrored_image_gives_the_mirrored_answer(portrait):
    a = ImageContext(portrait.rgb)
    b = ImageContext(np.ascontiguousarray(portrait.rgb[:, ::-1]))
    assert len(a.faces) == len(b.faces) == 1
    (xa, _, wa, _), (xb, _, wb, _) = a.faces[0].box, b.faces[0].box
    assert abs((xa + wa / 2) - (portrait.rgb.shape[1] - (xb + wb / 2))) < 0.03 * portrait.rgb.shape[1]
    assert a.faces[0].roll_deg == pytest.approx(-b.faces[0].roll_deg, abs=3.0)
    flipped = b.work_subject_mask[:, ::-1]
    assert _iou(a.work_subject_mask, flipped) > 0.9


def test_no_face_is_a_value_and_the_subject_comes_from_focus():
    r = render(SceneSpec(width=384, height=384, subject="none", n_lights=10, seed=1))
    ctx = ImageContext(r.rgb)
    res = ctx.result("subject")
    assert res.values["subject.face_count"] == 0                      # 0, not NaN
    assert math.isnan(res.values["subject.face_width_frac"])
    assert res.reasons["subject.face_width_frac"] == "no face found"
    assert ctx.subject_source in ("in-focus", "fallback")
    assert 0 < res.values["subject.mask_fraction"] < 0.9 and ctx.work_background_mask.any()
    assert "no face" in subject.explain(res)


@pytest.mark.parametrize("shape", [(1, 1), (10, 10), (64, 64)])
def test_tiny_and_uniform_images_do_not_raise(shape):
    ctx = ImageContext(np.full((*shape, 3), 0.5, np.float32))
    res = ctx.result("subject")
    assert ctx.result_ok("subject"), res.reasons
    assert res.values["subject.face_count"] == 0
    assert 0.0 <= res.values["subject.mask_fraction"] <= 0.9


def test_a_user_mask_wins_over_the_model(portrait):
    h, w = portrait.rgb.shape[:2]
    mine = np.zeros((h, w), bool)
    mine[h // 4: 3 * h // 4, : w // 3] = True
    ctx = ImageContext(portrait.rgb, subject_mask=mine)
    assert ctx.subject_source == "user_mask"
    want = cv2.resize(mine.astype(np.uint8), ctx.work_subject_mask.shape[::-1],
                      interpolation=cv2.INTER_NEAREST).astype(bool)
    assert (ctx.work_subject_mask == want).all()
    assert len(ctx.faces) == 1  # faces are still found (skin and colour read them)
    box = ImageContext(portrait.rgb, subject_box=(10, 20, 100, 200))
    assert box.subject_source == "user" and box.subject_box == (10, 20, 100, 200)


def test_a_mask_of_the_wrong_size_or_empty_is_refused_with_what_to_do(portrait):
    from lenscore.errors import InputError

    with pytest.raises(InputError, match="of the image's size"):
        ImageContext(portrait.rgb, subject_mask=np.ones((10, 10), bool))
    with pytest.raises(InputError, match="empty or covers the whole image"):
        ImageContext(portrait.rgb, subject_mask=np.zeros(portrait.rgb.shape[:2], bool))


def test_manifest_subject_mask_column_reaches_the_metrics(portrait, tmp_path):
    img = write_png(tmp_path / "a.png", np.round(portrait.rgb * 255).astype(np.uint8))
    h, w = portrait.rgb.shape[:2]
    m = np.zeros((h, w), np.uint8)
    m[:, w // 2:] = 255
    write_png(tmp_path / "masks" / "a.png", m)
    write_png(tmp_path / "masks" / "bad.png", np.zeros((5, 5), np.uint8) + 255)
    write_png(tmp_path / "b.png", np.round(portrait.rgb * 255).astype(np.uint8))
    (tmp_path / "m.csv").write_text("path,variant,subject_mask\na.png,x,masks/a.png\n"
                                    "b.png,x,masks/bad.png\n", encoding="utf-8")
    out = tmp_path / "out"
    code = run_cli(["score", "--manifest", str(tmp_path / "m.csv"), "-o", str(out), "-j", "1",
                    "-f", "subject"])
    rows = {r["path"]: r for r in csv.DictReader(open(out / "scores.csv", encoding="utf-8"))}
    assert code == 3  # one input could not be used
    assert float(rows["a.png"]["subject.mask_fraction"]) == pytest.approx(0.5, abs=0.01)
    assert "subject: user mask" in rows["a.png"]["notes"]
    assert rows["b.png"]["status"] == "error" and "of the image's size" in rows["b.png"]["error"]
    (tmp_path / "m2.csv").write_text("path,subject_mask\na.png,../outside.png\n", encoding="utf-8")
    assert run_cli(["score", "--manifest", str(tmp_path / "m2.csv"), "-o", str(out)]) == 2


def test_overlay_and_sentence(portrait):
    ctx = ImageContext(portrait.rgb)
    res = ctx.result("subject")
    img = subject.draw(portrait.rgb, res, 300)
    assert img.dtype == np.uint8 and img.shape[1] == 300 and img.shape[0] > 300
    assert "face(s)" in subject.explain(res) and "frame" in subject.explain(res)
