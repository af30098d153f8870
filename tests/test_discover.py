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


@pytest.mark.parametrize("content,suffix,match", [
    ("path,varient\na.png,x\n", ".csv", r"line 1, column varient: unknown column 'varient'\. "
                                       r"Did you mean 'variant'\?"),
    ("path,Variant\na.png,x\n", ".csv", r"line 1, column Variant: .*Did you mean 'variant'\?"),
    ("path,sampler\na.png,x\n", ".csv", r"unknown column 'sampler'\. Known columns: .*"
                                       r"--extra-columns sampler"),
    ('{"path": "a.png", "variant": "x"}\n{"path": "b.png", "Prompt": "y"}\n', ".jsonl",
     r"line 2, column Prompt: unknown column 'Prompt'\. Did you mean 'prompt'\?"),
])
def test_unknown_manifest_columns_are_config_errors(tmp_path, content, suffix, match):
    m = tmp_path / f"m{suffix}"
    m.write_text(content)
    with pytest.raises(ConfigError, match=match):
        read_manifest(m)


def test_declared_extra_columns_are_kept(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path,variant,sampler,cfg\na.png,opt,euler,7\nb.png,opt,,\n")
    a, b = read_manifest(m, extra_columns=["sampler", "cfg"])
    assert a.extra == {"sampler": "euler", "cfg": "7"} and b.extra == {}
    with pytest.raises(UsageError, match="may not contain '.'"):
        read_manifest(m, extra_columns=["cfg.scale"])
    with pytest.raises(UsageError, match="standard column"):
        read_manifest(m, extra_columns=["variant"])


def test_cli_score_a_misspelt_manifest_exits_2_and_extra_columns_reach_scores_csv(tmp_path,
                                                                                 capsys):
    import csv

    from lenscore.cli import run_cli

    write_png(tmp_path / "a.png", IMG + 90)
    write_png(tmp_path / "b.png", IMG + 160)
    m = tmp_path / "m.csv"
    m.write_text("path,varient,sampler\na.png,opt,euler\nb.png,base,ddim\n")
    out = tmp_path / "o"
    assert run_cli(["score", "--manifest", str(m), "-o", str(out), "-f", "focus", "-j", "1"]) == 2
    assert "Did you mean 'variant'" in capsys.readouterr().err
    assert not (out / "scores.csv").exists()
    m.write_text("path,variant,sampler\na.png,opt,euler\nb.png,base,ddim\n")
    assert run_cli(["score", "--manifest", str(m), "-o", str(out), "-f", "focus", "-j", "1",
                    "--extra-columns", "sampler"]) == 0
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["variant"], r["sampler"]) for r in rows] == [("opt", "euler"), ("base", "ddim")]
    assert run_cli(["score", str(tmp_path), "-o", str(out), "--extra-columns", "sampler"]) == 2
