"""Subject detection: the face, head and shoulders, and the fallback."""

from __future__ import annotations

import numpy as np
import pytest

from lenscore.context import ImageContext
from lenscore import subject
from lenscore.subject import detect_faces, fallback_box, head_and_shoulders


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def test_astronaut_face_found_in_colour_and_in_gray(portrait_rgb):
    ctx = ImageContext(portrait_rgb)
    assert ctx.subject_source == "face" and _iou(ctx.face_box, (175, 64, 99, 99)) > 0.6
    gray = np.repeat(ctx.gray[..., None], 3, axis=2)
    assert ImageContext(gray).face_box is not None      # no colour: the skin check is skipped


@pytest.mark.parametrize("seed", [2, 8])
def test_bokeh_orbs_are_not_taken_for_the_face(seed):
    """Seeds where the cascade also fires on the blurred background or on a cluster of orbs."""
    from lenscore.datasets.synthetic import demo_specs, render

    r = render(demo_specs("optical", seed + 1, size=768)[seed])
    ctx = ImageContext(r.rgb)
    assert _iou(ctx.face_box, r.truth["face_box"]) > 0.5


def test_no_face_gives_the_documented_fallback():
    rng = np.random.default_rng(0)
    ctx = ImageContext(rng.random((300, 400, 3)).astype(np.float32) * 0.2)
    assert ctx.face_box is None and ctx.subject_source == "fallback"
    assert ctx.subject_box == fallback_box((300, 400)) == (100, 45, 200, 210)


def test_user_box_wins_and_scales_to_the_working_copy(portrait_rgb):
    ctx = ImageContext(portrait_rgb, subject_box=(10, 20, 100, 200))
    assert ctx.subject_source == "user" and ctx.subject_box == (10, 20, 100, 200)
    assert ctx.work_subject_box == (15, 30, 150, 300)   # 512 -> 768 px working copy


def test_head_and_shoulders_is_clipped_to_the_frame():
    assert head_and_shoulders((10, 10, 50, 50), (100, 100)) == (0, 0, 100, 100)
    x, y, w, h = head_and_shoulders((400, 300, 100, 100), (1000, 1000))
    assert (x, y, w, h) == (280, 240, 340, 380)


def test_tiny_and_uniform_images_have_no_face():
    assert detect_faces(np.zeros((8, 8), np.float32)) == []
    assert detect_faces(np.full((256, 256), 0.5, np.float32)) == []


def test_person_mask_keeps_the_sides_of_the_head_as_background():
    m = subject.person_mask((40, 40, 40, 40), (200, 200))
    assert m[60, 60] and m[150, 60]                # face, chest
    assert not m[20, 5] and not m[60, 190]         # beside the head
    assert not m[0, 0]
