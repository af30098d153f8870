"""The example prompt library end to end: passing, regressing, and noisy-but-unchanged."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lenscore.cli import run_cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "prompt-library"


@pytest.fixture
def library(tmp_path, monkeypatch):
    dst = tmp_path / "lib"
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns("gate-results", "*.xml", "*.md"))
    monkeypatch.chdir(dst)
    return dst


def _render(dst: Path, pid: str, specs):
    from lenscore.datasets.synthetic import render, save_render

    folder = dst / "renders" / pid / "optical"
    shutil.rmtree(folder)
    for spec in specs:
        save_render(render(spec), folder / f"seed{spec.seed:03d}.png", dst / "truth" / f"{spec.seed}.json")


def _gate(tmp_path, *extra):
    junit, md = tmp_path / "gate.xml", tmp_path / "gate.md"
    code = run_cli(["gate", "--baseline", "baseline/summary.json", "--junit", str(junit),
                    "--summary", str(md), "-j", "2", *extra])
    return code, junit, md.read_text()


def test_example_library_passes(library, tmp_path):
    code, junit, md = _gate(tmp_path)
    assert code == 0, md
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) >= 10
    assert md.startswith("## ✅ lenscore gate passed")


def test_blurred_renders_in_place_of_optical_fail_with_rule_and_figure(library, tmp_path, capsys):
    from lenscore.datasets.synthetic import demo_specs

    specs = [s.__class__(**{**s.__dict__, "seed": 100 + i, "width": 512, "height": 512})
             for i, s in enumerate(demo_specs("blurred", 6))]
    _render(library, "night-crowd", specs)
    code, junit, md = _gate(tmp_path)
    out = capsys.readouterr().out
    assert code == 1
    assert "night-crowd/optical  skin.texture_energy regression <= 0.5" in out
    assert "REGRESSED beyond the allowed 0.5" in out
    assert "bokeh.circularity" in out
    failures = [tc for tc in ET.parse(junit).getroot().iter("testcase") if tc.find("failure") is not None]
    assert failures and all("night-crowd" in tc.get("classname") for tc in failures)
    assert "❌" in md and "sodium-street" in md


def test_new_seeds_of_the_same_prompt_stay_green(library, tmp_path):
    """Re-rendering with other seeds (new layouts, same optics) is noise, not a regression."""
    from lenscore.datasets.synthetic import SceneSpec

    specs = [SceneSpec(width=512, height=512, f_number=1.4, key_kelvin=2700.0, background_kelvin=6500.0,
                       light_depth_m=(8.0, 60.0), pore_amplitude=0.1, seed=300 + i) for i in range(6)]
    _render(library, "night-crowd", specs)
    code, _, md = _gate(tmp_path)
    assert code == 0, md


def test_missing_renders_are_named(library, tmp_path, capsys):
    shutil.rmtree(library / "renders" / "sodium-street")
    code, _, md = _gate(tmp_path)
    assert code == 1
    assert "no renders for sodium-street/optical" in capsys.readouterr().err
    assert "no renders for prompt 'sodium-street'" in md


def test_config_error_exits_2(library, tmp_path, capsys):
    cfg = library / "lenscore.toml"
    cfg.write_text(cfg.read_text().replace('output = "focus.separation"', 'output = "focus.seperation"'))
    assert run_cli(["gate"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric output 'focus.seperation'" in err and "Did you mean 'focus.separation'" in err
    assert "lenscore.toml, line" in err
