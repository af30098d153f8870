"""The README says what the code does: its examples run, its lists match the code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from lenscore.cli import run_cli

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_lists_every_supported_image_suffix():
    from lenscore.datasets.decode import SUPPORTED_SUFFIXES

    m = re.search(r"variant `default` \(([a-z, ]+); recursive\)", README)
    assert m, "the README no longer says which files a folder scan reads"
    listed = {"." + s.strip() for s in m.group(1).split(",")}
    assert listed == set(SUPPORTED_SUFFIXES)


def test_readme_validate_manifest_example_runs(shared_data, tmp_path, monkeypatch, capsys):
    m = re.search(r"^lenscore validate --manifest .*$", README, re.M)
    assert m, "the README's validate --manifest example is gone"
    args = shlex.split(m.group(0))[1:]
    monkeypatch.chdir(REPO)  # the README's paths are relative to the repository
    assert run_cli([*args, "--out", str(tmp_path)]) == 0, capsys.readouterr()
    assert "3 passed, 0 failed" in capsys.readouterr().out


def test_validate_names_the_file_it_looked_for(tmp_path, capsys):
    manifest = tmp_path / "pairs.csv"
    manifest.write_text("higher,lower,output\nsharp.png,soft.png,focus.sharpness\n")
    assert run_cli(["validate", "--manifest", str(manifest), "--data", str(tmp_path),
                    "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"image not found: {tmp_path / 'sharp.png'}" in err and "line 2" in err
