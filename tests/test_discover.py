"""Finding images: variants from folders, manifests with line-precise errors, no escapes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lenscore.datasets.discover import find_images, read_manifest
from lenscore.errors import ConfigError, UsageError

from conftest import write_png

IMG = np.zeros((4, 4, 3), np.uint8)


def test_first_level_subfolder_is_the_variant(tmp_path):
    write_png(tmp_path / "optical" / "a.png", IMG)
    write_png(tmp_path / "optical" / "deep" / "b.png", IMG)
    write_png(tmp_path / "blurred" / "c.PNG", IMG)
    write_png(tmp_path / "root.png", IMG)
    (tmp_path / "notes.txt").write_text("x")
    write_png(tmp_path / ".lenscore-cache" / "x.png", IMG)
    recs = find_images(tmp_path)
    assert [(r.path, r.variant) for r in recs] == [
        ("blurred/c.PNG", "blurred"), ("optical/a.png", "optical"),
        ("optical/deep/b.png", "optical"), ("root.png", "default")]


def test_symlink_loop_does_not_hang(tmp_path):
    write_png(tmp_path / "v" / "a.png", IMG)
    (tmp_path / "v" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [r.path for r in find_images(tmp_path)] == ["v/a.png"]


def test_no_images_and_missing_path_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no images found"):
        find_images(tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        find_images(tmp_path / "nope")


def test_csv_manifest(tmp_path):
    write_png(tmp_path / "imgs" / "a.png", IMG)
    m = tmp_path / "m.csv"
    m.write_text('path,variant,prompt,seed,subject_box\nimgs/a.png,optical,"85mm, f/1.4",7,"1,2,30,40"\n')
    (r,) = read_manifest(m)
    assert (r.path, r.variant, r.prompt, r.seed, r.subject_box) == \
        ("imgs/a.png", "optical", "85mm, f/1.4", "7", (1, 2, 30, 40))


def test_jsonl_manifest(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "a.png", "variant": "b", "subject_box": [0, 0, 5, 5]}) + "\n\n")
    (r,) = read_manifest(m)
    assert r.variant == "b" and r.subject_box == (0, 0, 5, 5) and r.prompt is None


@pytest.mark.parametrize("content,suffix,match", [
    ("variant\nx\n", ".csv", r"line 1: the header has no 'path' column"),
    ("path,variant\na.png,x\nb.png\n", ".csv", r"line 3: 1 fields where the header has 2"),
    ("path,subject_box\na.png,\"1,2,3\"\n", ".csv", r"line 2, column subject_box: subject_box must be"),
    ('{"path": "a.png"}\n{"path": \n', ".jsonl", r"line 2, column \d+: invalid JSON"),
    ('["a.png"]\n', ".jsonl", r"line 1, column 1: expected a JSON object"),
    ("path\n../../etc/passwd\n", ".csv", r"line 2, column path: path '../../etc/passwd' points outside"),
    ("path\n/etc/passwd\n", ".csv", r"must be relative"),
])
def test_bad_manifests_say_where_and_why(tmp_path, content, suffix, match):
    m = tmp_path / f"m{suffix}"
    m.write_text(content)
    with pytest.raises(ConfigError, match=match):
        read_manifest(m)
