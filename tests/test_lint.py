"""`lenscore lint` and `lenscore.lint()`: predictions, rewrites, contradictions, inputs, exits."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from lenscore.cli import run_cli
from lenscore.datasets.demo import DEMO_PROMPTS
from lenscore.reports.lint import format_text, lint

GOOD, BAD = DEMO_PROMPTS["optical"], DEMO_PROMPTS["blurred"]
ISSUE_BAD = "portrait, dense blurred crowd, cinematic, realistic skin"


def _run(capsys, *args):
    code = run_cli(["lint", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- predictions and advice ---------------------------------------------------------------------
def test_the_improved_prompt_predicts_the_worked_example(capsys):
    code, out, _ = _run(capsys, GOOD)
    assert code == 0
    assert "crowd at 20 m: discs about 5.2 % of the frame width (53 px at 1024 px)" in out
    assert "depth of field 2.47-2.54 m" in out
    assert "contradictions: none" in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_the_failing_prompt_gets_the_articles_rewrites(capsys):
    code, out, _ = _run(capsys, ISSUE_BAD)
    assert code == 0
    assert '"dense blurred crowd"' in out
    assert '-> "dense crowd 20 m behind, rendered as bokeh orbs"' in out
    assert '-> "visible pore structure, natural sebum reflection"' in out
    assert '"cinematic"' in out
    assert "no blur-disc prediction" in out
    r = lint(BAD)
    assert {f.code for f in r.effects} >= {"blur-word", "cinematic-label", "realistic-skin-category",
                                           "colour-without-temperature", "bokeh-without-optics"}
    blur = next(f for f in r.effects if f.code == "blur-word")
    assert (blur.phrase, blur.rewrite) == ("dense, blurred crowd",
                                           "dense crowd 20 m behind, rendered as bokeh orbs")
    assert BAD[blur.span[0]:blur.span[1]] == "dense, blurred crowd"


def test_rewrite_uses_the_prompts_own_distance():
    r = lint("85mm f/1.4 at 2 m, city lights at 40 m, blurred crowd")
    assert next(f for f in r.effects if f.code == "blur-word").rewrite == \
        "crowd 40 m behind, rendered as bokeh orbs"


def test_bokeh_with_its_optics_is_not_an_effect_word():
    assert not [f for f in lint(GOOD).effects if f.code == "bokeh-without-optics"]
    assert [f for f in lint("bokeh portrait").effects if f.code == "bokeh-without-optics"]


def test_control_surface_numbers():
    r = lint("85mm f/1.4 portrait at 2.5 m, crowd at 20 m")
    steps = {c.change.split(",")[0]: c for c in r.control_surface}
    assert steps["one stop wider"].factor == pytest.approx(math.sqrt(2))
    assert steps["one stop narrower"].factor == pytest.approx(1 / math.sqrt(2))
    far = next(c for c in r.control_surface if c.change.startswith("background twice"))
    assert far.factor == pytest.approx((37.5 / 40) / (17.5 / 20))  # |d - s| / d at 40 m and 20 m
    longer = next(c for c in r.control_surface if c.change.endswith("same distances"))
    assert longer.change.startswith("105 mm") and longer.factor > 1
    framing = next(c for c in r.control_surface if c.change.endswith("same framing"))
    assert 1 < framing.factor < longer.factor


def test_width_changes_pixels_not_fractions(capsys):
    code, out, _ = _run(capsys, "--width", "2048", "85mm f/1.4 at 2.5 m, crowd at 20 m")
    assert code == 0 and "(106 px at 2048 px)" in out and "5.2 %" in out


# --- contradictions --------------------------------------------------------------------------
@pytest.mark.parametrize("prompt,code", [
    ("85mm f/16 portrait, creamy bokeh", "aperture-vs-bokeh"),
    ("85mm f/16 at 2.5 m, crowd at 20 m, creamy bokeh", "aperture-vs-bokeh"),
    ("85mm f/1.4 at 2.5 m, subject-to-background ratio of 1:8, crowd at 5 m", "ratio-vs-distance"),
    ("24mm f/2.8 portrait, compressed background", "wide-lens-vs-compression"),
    ("85mm wide-angle portrait", "long-lens-vs-wide-angle"),
    ("deep focus, creamy bokeh", "deep-vs-shallow"),
    ("85mm f/1.4 at 2.5 m, crowd at 20 m, sharp background", "deep-focus-vs-lens"),
    ("24mm f/11 at 10 m, shallow depth of field", "shallow-vs-hyperfocal"),
    ("6500K candle light", "kelvin-vs-source"),
    ("warm 6500K key light", "kelvin-vs-hue"),
    ("cool 2700K rim light", "kelvin-vs-hue"),
    ("subject at 2 m, 3 meters away", "subject-distance"),
    ("85mm f/1.4 at 5 cm", "focus-inside-focal-length"),
])
def test_contradictions(prompt, code):
    r = lint(prompt)
    assert code in {c.code for c in r.contradictions}, r.contradictions
    assert not r.ok


def test_no_contradiction_in_the_articles_prompts_or_consistent_ones():
    for p in (GOOD, BAD, ISSUE_BAD, "85mm f/8 portrait, bokeh",
              "85mm f/1.4 at 2.5 m, subject-to-background ratio of 1:8, crowd at 20 m",
              "135mm, compressed background", "16mm, wide-angle", "3200K tungsten key",
              "2700K sodium vapor highlights pushing toward amber"):
        assert lint(p).contradictions == (), p


def test_strict_exit_codes(capsys):
    assert _run(capsys, "--strict", GOOD)[0] == 0
    assert _run(capsys, "--strict", "85mm f/16 portrait, creamy bokeh")[0] == 1
    assert _run(capsys, "85mm f/16 portrait, creamy bokeh")[0] == 0  # advice only
    assert _run(capsys, "--strict", GOOD, "85mm f/16, creamy bokeh")[0] == 1
    assert run_cli(["lint"]) == 2  # no input
    capsys.readouterr()
    assert run_cli(["lint", "--format", "xml", GOOD]) == 2
    capsys.readouterr()


# --- JSON -----------------------------------------------------------------------------------
def test_json_output(capsys):
    code, out, _ = _run(capsys, "--format", "json", GOOD, "85mm f/16, creamy bokeh")
    assert code == 0
    doc = json.loads(out)
    assert doc["n_prompts"] == 2 and doc["n_with_contradictions"] == 1
    good, bad = doc["results"]
    bg = good["predictions"]["background"]
    assert round(100 * bg["frac"], 1) == 5.2 and round(bg["px"]) == 53
    assert good["predictions"]["depth_of_field"]["near_m"] == pytest.approx(2.4654, abs=1e-3)
    assert "focal=85" in good["values"] and good["ok"] is True
    assert bad["contradictions"][0]["code"] == "aperture-vs-bokeh" and bad["ok"] is False


def test_lint_result_is_strict_json_for_every_corpus_prompt():
    from pathlib import Path

    rows = [json.loads(x) for x in (Path(__file__).parent / "data" / "prompt_optics_corpus.jsonl")
            .read_text(encoding="utf-8").splitlines() if x.strip()]
    results = [lint(r["p"]) for r in rows]
    for r in results:
        json.dumps(r.to_dict(), allow_nan=False)
    text = format_text(results)
    assert max(len(line) for line in text.splitlines()) <= 80


def test_api_is_lazy_and_light():
    code = ("import sys, lenscore; assert 'lenscore.reports' not in sys.modules; "
            "r = lenscore.lint('85mm f/1.4 at 2.5 m, crowd at 20 m'); "
            "assert type(r).__name__ == 'LintResult' and r.ok; "
            "assert 'numpy' not in sys.modules, 'lint needs no numpy'; "
            "import lenscore.cli; assert 'numpy' not in sys.modules; print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_bad_api_input():
    from lenscore.errors import InputError

    with pytest.raises(InputError):
        lint(None)  # type: ignore[arg-type]
    with pytest.raises(InputError):
        lint("85mm", width_px=0)


# --- inputs: library, images ---------------------------------------------------------------
LIBRARY = '''
[[prompt]]
id = "night-crowd"
[prompt.variants]
optical = "85mm f/1.4 portrait at 2.5 meters, dense crowd at 20 meters as bokeh orbs"
blurred = "portrait, dense blurred crowd, cinematic, realistic skin"

[[prompt]]
id = "stopped-down"
[prompt.variants]
f16 = "85mm f/16 portrait at 2.5 m, crowd at 20 m, creamy bokeh"
'''


def test_toml_library(tmp_path, capsys):
    lib = tmp_path / "prompts.toml"
    lib.write_text(LIBRARY, encoding="utf-8")
    code, out, _ = _run(capsys, str(lib))
    assert code == 0
    assert "== night-crowd/optical" in out and "== night-crowd/blurred" in out
    assert "== stopped-down/f16" in out and "3 prompt(s), 1 with contradictions" in out
    assert _run(capsys, "--strict", str(lib))[0] == 1


def test_example_library_lints(capsys):
    from pathlib import Path

    lib = Path(__file__).resolve().parents[1] / "examples" / "prompt-library" / "prompts.toml"
    code, out, _ = _run(capsys, "--strict", str(lib))
    assert code == 0 and "== sodium-street/optical" in out
    assert "needs the subject distance" in out  # the library's 1:8 ratio has no subject distance


def test_broken_or_missing_library_is_a_config_error(tmp_path, capsys):
    lib = tmp_path / "prompts.toml"
    lib.write_text('[[prompt]]\nid = "x"\n[prompt.variants\n', encoding="utf-8")
    code, _, err = _run(capsys, str(lib))
    assert code == 2 and "invalid TOML" in err and "line 3" in err
    code, _, err = _run(capsys, str(tmp_path / "missing.toml"))
    assert code == 2 and "not found" in err


def _png_with_parameters(path, prompt, seed):
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", f"{prompt}\nNegative prompt: blurry, lowres\n"
                                f"Steps: 30, Sampler: DPM++ 2M, CFG scale: 7, Seed: {seed}, "
                                f"Size: 64x64")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((64, 64, 3), 90, np.uint8)).save(path, pnginfo=info)


def test_folder_of_pngs_with_a1111_parameters(tmp_path, capsys):
    renders = tmp_path / "renders"
    for seed in range(3):
        _png_with_parameters(renders / "optical" / f"seed{seed}.png", GOOD, seed)
        _png_with_parameters(renders / "blurred" / f"seed{seed}.png", ISSUE_BAD, seed)
    code, out, err = _run(capsys, str(renders))
    assert code == 0
    assert out.count("\n== ") + out.startswith("== ") == 2  # one report per distinct prompt
    assert "(+2 more with this prompt)" in out
    assert "blurry, lowres" not in out  # the negative prompt is not linted
    assert "53 px at 1024 px" in out and "dense crowd 20 m behind" in out
    code, out, _ = _run(capsys, "--format", "json", str(renders / "optical" / "seed1.png"))
    doc = json.loads(out)
    assert doc["results"][0]["prompt"] == GOOD and doc["results"][0]["images"] == ["seed1.png"]


def test_folder_with_unreadable_and_prompt_less_images(tmp_path, capsys):
    from PIL import Image

    renders = tmp_path / "renders"
    _png_with_parameters(renders / "a" / "ok.png", GOOD, 1)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(renders / "a" / "plain.png")
    (renders / "a" / "broken.png").write_bytes(b"not a png at all")
    code, out, err = _run(capsys, str(renders))
    assert code == 3
    assert "unreadable image a/broken.png" in err and "carry no prompt" in err
    assert "53 px" in out
    empty = tmp_path / "none"
    empty.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(empty / "x.png")
    code, _, err = _run(capsys, str(empty))
    assert code == 2 and "no prompts to lint" in err


def test_help_lists_lint(capsys):
    assert run_cli(["lint", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--strict" in out and "--format" in out


def test_library_expect_values_missing_from_the_prompt_are_warnings(tmp_path, capsys):
    lib = tmp_path / "prompts.toml"
    lib.write_text('[[prompt]]\nid = "street"\nexpect = { lens = "85mm f/1.8", distance = '
                   '"subject 2.5 m, lights 8-60 m" }\n[prompt.variants]\noptical = "85mm f/1.8 '
                   'street portrait, subject-to-background ratio of 1:8"\n', encoding="utf-8")
    code, out, _ = _run(capsys, str(lib))
    assert code == 0
    assert "the library expects distance" in out and "subject at 2.5 m" in out
    assert "expects lens" not in out  # 85mm f/1.8 is in the prompt
    r = lint("85mm f/1.4", expect={"lens": "85mm f/1.4", "light": "2700K"})
    assert [w.code for w in r.warnings if w.code == "expect-not-in-prompt"] == \
        ["expect-not-in-prompt"] and "2700 K" in r.warnings[-1].message
