"""The physics family: a render held against the optics its prompt asks for.

Behaviour asserted:
- known answers: the issue's worked example (85 mm f/1.4, 2.5 m, crowd at 20 m: 53 px at
  1024 px) against a known measured disc; a render whose upstream measurements are its truth
  (given with ``ctx.provide``) reads obedient to a truthful prompt and disobedient to a lying
  one; the demo's optical prompt maps its "highlights" and "fill" to the key and the background;
- properties: blur_error grows with the aperture lie in f-stops (2 log2 N / N'), the ratio does
  not depend on the render's resolution, a common white-balance shift leaves the warm-cool
  error unchanged, role-less lights are matched by assignment and explicit wrong roles are not
  forgiven, bokeh's aspect is read in either convention;
- edge cases: no prompt, a prompt that states nothing, a missing upstream output, a uniform and
  a tiny image, both discs below the resolution floor;
- production path: a render measured by the real focus/colour/bokeh families (no truth given);
  gate rules and compare on the outputs; the demo carries the article's prompts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lenscore.context import ImageContext
from lenscore.metrics.base import MetricResult, families
from lenscore.metrics import physics as P
from lenscore.predictions import predict

OPTICAL = ("85mm f/1.4 at 2.5 meters from subject with crowd at 20 meters, dense crowd rendered "
           "as abstract bokeh orbs, 2700K sodium vapor highlights pushing toward amber, 6500K LED "
           "fill drifting toward cyan")


def _oracle(ctx: ImageContext, *, blur_px: float, key_k: float, bg_k: float,
            aspect: float = 1.0, orbs: int = 12) -> ImageContext:
    """Give the context upstream results equal to the truth (what a perfect focus, colour and
    bokeh family would measure)."""
    ctx.provide("focus", MetricResult({"focus.background_blur_px": blur_px,
                                       "focus.background_blur_frac": blur_px / ctx.width}))
    warm, cool = min(key_k, bg_k), max(key_k, bg_k)
    ctx.provide("color", MetricResult({"color.subject_cct_k": key_k, "color.background_cct_k": bg_k,
                                       "color.warm_cct_k": warm, "color.cool_cct_k": cool,
                                       "color.delta_mired": 1e6 / key_k - 1e6 / bg_k}))
    ctx.provide("bokeh", MetricResult({"bokeh.aspect": aspect, "bokeh.orb_count": float(orbs),
                                       "bokeh.orb_diameter_frac": blur_px / ctx.width}))
    return ctx


def _ctx(prompt: str | None, size: int = 64) -> ImageContext:
    return ImageContext(np.full((size, size, 3), 0.5, np.float32), prompt=prompt)


def _run(prompt, **oracle) -> MetricResult:
    size = oracle.pop("size", 1024)
    return _oracle(_ctx(prompt, size), **oracle).result("physics")


# ---- registry ---------------------------------------------------------------------------------
def test_family_declares_what_it_reads_and_plain_units():
    fam = families()["physics"]
    assert set(fam.requires) == {"focus", "color", "bokeh"}
    units = {o.name: (o.unit, o.direction) for o in fam.outputs}
    assert units["physics.blur_ratio"][1] == "neither"
    assert units["physics.blur_error"] == ("f-stops", "lower")
    assert units["physics.spec_coverage"][1] == "higher"
    for name in ("key_kelvin_error_mired", "background_kelvin_error_mired", "delta_mired_error"):
        assert units[f"physics.{name}"] == ("mired", "lower")
    assert "0.8-1.25" in fam.output("blur_ratio").description
    assert fam.explain is not None and fam.draw is not None and fam.validate is not None


# ---- known answers ----------------------------------------------------------------------------
def test_the_issues_worked_example():
    pr = predict("85mm f/1.4 at 2.5 meters, crowd at 20 meters")
    assert pr.background_disc_px(1024) == pytest.approx(53.2, abs=0.1)
    r = _run("85mm f/1.4 at 2.5 meters, crowd at 20 meters", blur_px=pr.background_disc_px(1024) / 2.1,
             key_k=5000, bg_k=5000)
    assert r.values["physics.blur_ratio"] == pytest.approx(1 / 2.1, rel=1e-3)
    assert "2.1x smaller than an 85mm f/1.4 lens would make them" in r.artifacts["sentence"]
    assert r.values["physics.blur_error"] == pytest.approx(2 * math.log2(2.1), rel=1e-6)
    assert P.explain(r).startswith("the render's background discs are 2.1x smaller")


def test_a_render_measured_as_its_truth_obeys_a_truthful_prompt_and_not_a_lie():
    from lenscore.datasets.synthetic import SceneSpec, render

    spec = SceneSpec(width=256, height=256, f_number=2.0, key_kelvin=3200, background_kelvin=5600,
                     n_lights=6, seed=3)
    r = render(spec)
    truth = dict(blur_px=r.truth["coc_px"]["background"], key_k=spec.key_kelvin,
                 bg_k=spec.background_kelvin)

    def held(prompt):
        return _oracle(ImageContext(r.rgb, prompt=prompt), **truth).result("physics").values

    ok = held(P.scene_prompt(spec))
    assert ok["physics.blur_ratio"] == pytest.approx(1.0, abs=0.01)
    assert ok["physics.key_kelvin_error_mired"] < 1 and ok["physics.background_kelvin_error_mired"] < 1
    assert ok["physics.delta_mired_error"] < 1 and ok["physics.spec_coverage"] == 1.0
    lie_f = held(P.scene_prompt(spec, f_number=8.0))
    assert lie_f["physics.blur_ratio"] == pytest.approx(8.0 / 2.0, rel=0.01)
    lie_k = held(P.scene_prompt(spec, key_kelvin=P._lie_kelvin(spec.key_kelvin)))
    assert lie_k["physics.key_kelvin_error_mired"] == pytest.approx(170.0, abs=1.0)
    assert lie_k["physics.background_kelvin_error_mired"] < 1


def test_the_articles_prompt_maps_highlights_to_key_and_fill_to_background():
    r = _run(OPTICAL, blur_px=53.2, key_k=2700, bg_k=6500)
    assert r.values["physics.key_kelvin_error_mired"] == pytest.approx(0.0, abs=0.01)
    assert r.values["physics.background_kelvin_error_mired"] == pytest.approx(0.0, abs=0.01)
    assert r.values["physics.delta_mired_error"] == pytest.approx(0.0, abs=0.01)
    assert "minimum-cost assignment" in r.reasons["physics.key_kelvin_error_mired"]
    assert "2700K sodium vapor" in r.reasons["physics.key_kelvin_error_mired"]
    assert {d["slot"]: d["asked_k"] for d in r.artifacts["lights"]} == {"key": 2700.0, "background": 6500.0}


# ---- properties ---------------------------------------------------------------------------------
def test_blur_error_is_the_aperture_lie_in_stops():
    """Renders at f/1.4 ... f/8 held against a prompt for f/1.4: the error is 2 log2(N / 1.4)."""
    from lenscore.optics import coc_diameter_px

    errs = []
    for n in (1.4, 2.0, 2.8, 4.0, 5.6, 8.0):
        c = coc_diameter_px(85, n, 2.5, 20, width_px=1024)
        r = _run("85mm f/1.4 at 2.5 m, crowd at 20 m", blur_px=c, key_k=4000, bg_k=4000)
        errs.append(r.values["physics.blur_error"])
        assert r.values["physics.blur_error"] == pytest.approx(2 * math.log2(n / 1.4), abs=1e-6)
    assert errs == sorted(errs) and errs[0] == pytest.approx(0.0, abs=1e-9)


def test_blur_ratio_does_not_depend_on_resolution():
    prompt = "135mm f/2 portrait at 3 m, brick wall at 12 m"
    got = []
    for size in (512, 1024, 2048):
        c = predict(prompt).background_disc_px(size) * 0.7
        got.append(_run(prompt, blur_px=c, key_k=4000, bg_k=4000, size=size).values["physics.blur_ratio"])
    assert got == pytest.approx([0.7] * 3, rel=1e-6)


def test_a_white_balance_shift_moves_both_lights_but_not_the_separation():
    prompt = "85mm f/1.4 at 2.5 m, crowd at 20 m, 2700K key light, 6500K background lights"
    base = _run(prompt, blur_px=53.2, key_k=2700, bg_k=6500).values
    shift = 30.0  # mired, both lights warmer
    shifted = _run(prompt, blur_px=53.2, key_k=1e6 / (1e6 / 2700 + shift),
                   bg_k=1e6 / (1e6 / 6500 + shift)).values
    assert shifted["physics.key_kelvin_error_mired"] == pytest.approx(shift, abs=0.01)
    assert shifted["physics.background_kelvin_error_mired"] == pytest.approx(shift, abs=0.01)
    assert shifted["physics.delta_mired_error"] == pytest.approx(base["physics.delta_mired_error"], abs=0.01)


def test_roleless_lights_are_matched_but_wrong_roles_are_not_forgiven():
    render_k = dict(key_k=2700, bg_k=6500)
    roleless = _run("lit by 6500K and 2700K", blur_px=10, **render_k)
    assert roleless.values["physics.key_kelvin_error_mired"] < 0.01
    assert roleless.values["physics.background_kelvin_error_mired"] < 0.01
    swapped = _run("6500K key light, 2700K background light", blur_px=10, **render_k)
    assert swapped.values["physics.key_kelvin_error_mired"] == pytest.approx(216.5, abs=0.5)
    assert swapped.values["physics.delta_mired_error"] == pytest.approx(433.0, abs=1.0)
    one = _run("a 2700K key light", blur_px=10, **render_k)
    assert one.values["physics.key_kelvin_error_mired"] < 0.01
    assert math.isnan(one.values["physics.background_kelvin_error_mired"])
    assert math.isnan(one.values["physics.delta_mired_error"])


def test_named_sources_count_their_range():
    r = _run("sodium vapor key light, overcast daylight background", blur_px=10, key_k=2400,
             bg_k=8000)
    assert r.values["physics.key_kelvin_error_mired"] == 0.0  # 2200-2700 K
    assert r.values["physics.background_kelvin_error_mired"] == pytest.approx(1e6 / 7500 - 1e6 / 8000, abs=0.1)


def test_orb_aspect_in_either_convention():
    for a in (0.5, 2.0):
        r = _run("anamorphic 2x squeeze, 50mm f/2", blur_px=10, key_k=4000, bg_k=4000, aspect=a)
        assert r.values["physics.orb_aspect_error"] == pytest.approx(0.0, abs=1e-9)
    r = _run("circular bokeh", blur_px=10, key_k=4000, bg_k=4000, aspect=0.625)
    assert r.values["physics.orb_aspect_error"] == pytest.approx(0.6, abs=1e-9)
    r = _run("anamorphic lens", blur_px=10, key_k=4000, bg_k=4000, aspect=1 / 1.5)
    assert r.values["physics.orb_aspect_error"] == 0.0  # inside the 1.33-2 squeeze range
    r = _run("swirly bokeh", blur_px=10, key_k=4000, bg_k=4000, aspect=0.7)
    assert math.isnan(r.values["physics.orb_aspect_error"])
    assert "no single aspect" in r.reasons["physics.orb_aspect_error"]


def test_a_depth_range_is_obeyed_anywhere_inside_it():
    prompt = "135mm f/1.4 portrait at 3 meters, gravel at 6-12 meters"
    lo, hi = predict(prompt).background.px_range(1024)
    for px, want in ((lo, 1.0), ((lo + hi) / 2, 1.0), (hi, 1.0), (2 * hi, 2.0), (lo / 2, 0.5)):
        got = _run(prompt, blur_px=px, key_k=4000, bg_k=4000).values["physics.blur_ratio"]
        assert got == pytest.approx(want, rel=1e-6)


# ---- edge cases ---------------------------------------------------------------------------------
def test_no_prompt_is_nan_with_the_reason():
    for prompt in (None, "", "   "):
        r = _ctx(prompt).result("physics")
        assert all(math.isnan(v) for v in r.values.values())
        assert "no prompt" in r.reasons["physics"]


def test_a_prompt_that_states_nothing_has_coverage_zero_and_one_reason():
    r = _run("cinematic portrait of a woman in front of a dense, blurred crowd, realistic skin",
             blur_px=10, key_k=4000, bg_k=4000)
    assert r.values["physics.spec_coverage"] == 0.0
    others = [v for k, v in r.values.items() if k != "physics.spec_coverage"]
    assert all(math.isnan(v) for v in others)
    assert list(r.reasons) == ["physics"] and "nothing to hold the render against" in r.reasons["physics"]


def test_a_missing_prediction_or_measurement_says_which():
    r = _run("85mm f/1.4, crowd at 20 m", blur_px=10, key_k=4000, bg_k=4000)
    assert math.isnan(r.values["physics.blur_ratio"])
    assert "subject distance" in r.reasons["physics.blur_ratio"]
    ctx = _ctx("85mm f/1.4 at 2.5 m, crowd at 20 m, 2700K key light", 256)
    _oracle(ctx, blur_px=10, key_k=2700, bg_k=6500)
    ctx.provide("focus", MetricResult({"focus.background_blur_px": math.nan},
                                      {"focus.background_blur_px": "no edges in the background"}))
    ctx.provide("color", MetricResult({}))  # an installed colour family that no longer has it
    r = ctx.result("physics")
    assert "no edges in the background" in r.reasons["physics.blur_ratio"]
    assert "not produced by the installed color family" in r.reasons["physics.key_kelvin_error_mired"]
    assert r.values["physics.spec_coverage"] == 1.0  # what the prompt states, measured or not


def test_discs_below_the_resolution_floor_are_both_sharp():
    prompt = "85mm f/16 portrait at 4 m, wall at 6 m"
    pred = predict(prompt).background_disc_px(1024)
    assert pred < P.resolvable_disc_px(1024)
    r = _run(prompt, blur_px=0.0, key_k=4000, bg_k=4000)
    assert r.values["physics.blur_ratio"] == 1.0
    assert "below the" in r.reasons["physics.blur_ratio"]
    lie = _run("85mm f/1.4 portrait at 4 m, wall at 6 m", blur_px=0.0, key_k=4000, bg_k=4000)
    assert lie.values["physics.blur_ratio"] < 0.8  # a prompt for visible blur on a sharp render


@pytest.mark.parametrize("size", [8, 64])
def test_uniform_and_tiny_images_never_raise(size):
    ctx = ImageContext(np.full((size, size, 3), 0.4, np.float32), prompt=OPTICAL)
    r = ctx.result("physics")
    assert ctx.result_ok("physics")
    assert r.values["physics.spec_coverage"] == 1.0
    for k, v in r.values.items():
        assert math.isnan(v) or v >= 0, k
        if math.isnan(v):
            assert r.reasons.get(k) or r.reasons.get("physics"), k


# ---- production path -----------------------------------------------------------------------------
def test_production_path_on_a_render():
    """The real focus, colour and bokeh families measure a render (no truth given): every output
    is a number or NaN with a reason, and an obvious lie reads worse than the truth on colour
    (a 170 mired lie is far outside any measurement error of the colour family's two lights)."""
    from lenscore.datasets.synthetic import SceneSpec, render

    spec = SceneSpec(width=384, height=384, seed=5, n_lights=10, key_kelvin=2700,
                     background_kelvin=6500, light_depth_m=(15, 30))
    r = render(spec)
    base = ImageContext(r.rgb, prompt=P.scene_prompt(spec))
    ok = base.result("physics")
    for k, v in ok.values.items():
        assert np.isfinite(v) or ok.reasons.get(k), k
    lie = ImageContext(r.rgb, prompt=P.scene_prompt(spec, background_kelvin=2700))
    for fam in ("focus", "color", "bokeh"):
        lie.provide(fam, base.result(fam))
    bad = lie.result("physics")
    e_ok, e_bad = ok.values["physics.background_kelvin_error_mired"], bad.values["physics.background_kelvin_error_mired"]
    if np.isfinite(e_ok) and np.isfinite(e_bad):
        assert e_bad > e_ok
    assert ok.values["physics.spec_coverage"] == 1.0


def test_draw_shows_both_discs_and_the_sentence():
    from lenscore.drawing import ORANGE

    rgb = np.full((300, 300, 3), 0.3, np.float32)
    ctx = _oracle(ImageContext(rgb, prompt="85mm f/1.4 at 2.5 m, crowd at 20 m, 2700K key light"),
                  blur_px=8.0, key_k=2650, bg_k=6500)
    res = ctx.result("physics")
    img = P.draw(rgb, res, 300)
    assert img.dtype == np.uint8 and img.shape[0] > 300 and img.shape[1] == 300  # caption strip
    orange = np.all(np.abs(img.astype(int) - ORANGE) < 40, axis=2)
    assert orange.any()
    blank = P.draw(rgb, MetricResult({}), 200)  # nothing to draw: still an image
    assert blank.shape[1] == 200


def test_gate_rules_work_on_physics_outputs(tmp_path):
    from lenscore.reports import gate as g

    cfg = tmp_path / "lenscore.toml"
    (tmp_path / "prompts.toml").write_text('[[prompt]]\nid = "p1"\n[prompt.variants]\nopt = "85mm"\n')
    cfg.write_text('[gate]\nlibrary = "prompts.toml"\n'
                   '[[gate.rule]]\noutput = "physics.blur_ratio"\nmin = 0.7\nmax = 1.4\n'
                   '[[gate.rule]]\noutput = "physics.blur_error"\nmax_regression = 0.5\n')
    rules = g.load_config(cfg).rules
    assert [(r.output, r.min, r.max, r.max_regression) for r in rules] == [
        ("physics.blur_ratio", 0.7, 1.4, None), ("physics.blur_error", None, None, 0.5)]
    cfg.write_text('[gate]\nlibrary = "prompts.toml"\n'
                   '[[gate.rule]]\noutput = "physics.blur_ratio"\nmax_regression = 0.5\n')
    from lenscore.errors import ConfigError

    with pytest.raises(ConfigError, match="no better direction"):
        g.load_config(cfg)


def test_gate_on_the_example_library_decides_physics_rules(tmp_path, monkeypatch, capsys):
    """The example library's prompts: night-crowd states all six parts of the optical system;
    sodium-street gives a ratio but no subject distance, so it pins down 5 of 6 and its discs
    cannot be predicted."""
    import shutil
    from pathlib import Path

    from lenscore.cli import run_cli

    src = Path(__file__).resolve().parents[1] / "examples" / "prompt-library"
    dst = tmp_path / "lib"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.xml", "*.md", "truth"))
    (dst / "lenscore.toml").write_text(
        '[gate]\nlibrary = "prompts.toml"\nrenders = "renders"\nmax_failed = 0\n'
        '[[gate.rule]]\noutput = "physics.spec_coverage"\nmin = 0.9\n'
        '[[gate.rule]]\noutput = "physics.blur_ratio"\nmin = 0.7\nmax = 1.4\n')
    monkeypatch.chdir(dst)
    code = run_cli(["gate", "-j", "2", "--summary", str(tmp_path / "gate.md")])
    out = capsys.readouterr().out
    assert code == 1, out  # sodium-street fails the coverage rule
    failed = [ln for ln in out.splitlines() if "FAIL " in ln]
    assert any("sodium-street" in ln and "physics.spec_coverage" in ln and "0.8333" in ln
               for ln in failed), out
    assert not any("night-crowd" in ln and "physics.spec_coverage" in ln for ln in failed), out
    assert any("sodium-street" in ln and "physics.blur_ratio" in ln and "subject distance" in ln
               for ln in out.splitlines()), out
    md = (tmp_path / "gate.md").read_text()
    assert "night-crowd" in md and "physics.blur_ratio" in md


def test_compare_answers_which_variant_obeys_its_prompt():
    import pandas as pd

    from lenscore.reports.compare import compare_scores

    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        rows.append({"path": f"a{i}.png", "variant": "loose", "status": "ok",
                     "physics.blur_error": float(abs(rng.normal(3.0, 0.5)))})
        rows.append({"path": f"b{i}.png", "variant": "obedient", "status": "ok",
                     "physics.blur_error": float(abs(rng.normal(0.3, 0.2)))})
    cmp = compare_scores(pd.DataFrame(rows), baseline="loose")
    (res,) = [r for r in cmp.pairs[0].results if r.output == "physics.blur_error"]
    assert res.verdict == "better"


def test_the_demo_carries_the_articles_prompts(tmp_path):
    import csv

    from lenscore.datasets.demo import DEMO_PROMPTS, write_demo

    manifest = write_demo(tmp_path, n=1, size=96)
    rows = list(csv.DictReader(open(manifest, encoding="utf-8")))
    got = {r["variant"]: r["prompt"] for r in rows}
    assert got == DEMO_PROMPTS
    assert "dense, blurred crowd" in got["blurred"]
    assert "85mm f/1.4 at 2.5 meters from subject with crowd at 20 meters" in got["optical"]
    assert "2700K sodium vapor highlights" in got["optical"]
    assert predict(got["optical"]).coverage == 1.0 and predict(got["blurred"]).coverage == 0.0


def test_real_generated_prompts_invent_no_blur(shared_data):
    """ComfyUI example PNGs carry their real prompts in metadata; none states a lens, aperture
    and distances, so no blur is predicted (NaN with the reason), whatever the render shows."""
    from lenscore.datasets.decode import decode_image
    from lenscore.datasets.prompts import prompt_from_text

    pngs = sorted((shared_data / "comfyui-png").glob("*.png"))
    assert pngs
    for p in pngs:
        d = decode_image(p)
        prompt = prompt_from_text(d.text).prompt
        ctx = ImageContext(d.rgb, prompt=prompt)
        r = ctx.result("physics")
        assert math.isnan(r.values["physics.blur_ratio"]), p.name
        assert r.reasons.get("physics.blur_ratio") or r.reasons.get("physics"), p.name
        assert r.values["physics.spec_coverage"] == pytest.approx(predict(prompt).coverage)


# ---- the report's "prompt against render" panel ---------------------------------------------------
@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """The demo's two variants, tiny, scored by every default family."""
    from lenscore.cli import run_cli
    from lenscore.datasets.demo import write_demo

    root = tmp_path_factory.mktemp("physdemo")
    manifest = write_demo(root, n=2, size=192)
    assert run_cli(["score", "-m", str(manifest), "-o", str(root / "run"), "-j", "1",
                    "--no-cache"]) == 0
    return root / "run"


def test_report_panel_per_variant_with_prediction_measurement_and_lint(demo_run):
    from lenscore.reports.html import build_report, render_html, render_report_markdown

    data = build_report(demo_run, baseline="blurred", gallery=True)
    panels = {p["variant"]: p for p in data["prompt_panels"]}
    assert set(panels) == {"blurred", "optical"}
    opt, blur = panels["optical"], panels["blurred"]
    disc = next(r for r in opt["rows"] if r["what"].startswith("background disc"))
    assert "5.2 % of the frame" in disc["asked"] and "85mm f/1.4" in disc["asked"]
    assert {r["what"] for r in opt["rows"]} >= {"key light", "background light", "warm-cool separation"}
    assert opt["coverage"] == "6 of 6" and opt["src"].startswith("data:image/jpeg;base64,")
    assert "85mm f/1.4 lens" in opt["sentence"] or "no measurable background blur" in opt["sentence"]
    # the "blurred crowd" prompt is linted with the article's advice
    rewrites = {f["phrase"]: f["rewrite"] for f in blur["effects"]}
    assert rewrites["dense, blurred crowd"] == "dense crowd 20 m behind, rendered as bokeh orbs"
    assert rewrites["realistic skin"] == "visible pore structure, natural sebum reflection"
    assert blur["coverage"] == "0 of 6" and "nothing to hold the renders against" in blur["sentence"]
    html = render_html(data)
    assert 'id="prompt-physics"' in html and "Prompt against render" in html
    assert "dense crowd 20 m behind, rendered as bokeh orbs" in html
    md = render_report_markdown(data)
    assert "### Prompt against render" in md and "dense, blurred crowd" in md


def test_report_panel_escapes_the_prompt(tmp_path):
    import pandas as pd

    from lenscore.reports.html import prompt_panels

    evil = "<script>alert(1)</script> 85mm f/1.4 at 2.5 m, crowd at 20 m"
    ok = pd.DataFrame([{"path": "x.png", "variant": "v", "prompt": evil, "status": "ok",
                        "width": 512, "height": 512, "focus.background_blur_px": 13.0,
                        "physics.blur_ratio": 0.49, "physics.blur_error": 2.06}])
    panels = prompt_panels(tmp_path, {}, ok, ["v"], {"v": "#123456"}, draw=False)
    (p,) = panels
    assert p["sentence"].startswith("the render's background discs are 2.0x smaller")
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("lenscore.reports", "templates"),
                             autoescape=True)
    html = env.get_template("prompt_panel.html.j2").render(prompt_panels=panels)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_a_light_named_only_by_its_source_is_not_held_against_a_measured_one():
    """'candles on the cake ... lit by candlelight with a bright window': no Kelvin, no role,
    so which light it means is ambiguous (a real ComfyUI prompt); a Kelvin or a role makes it
    a statement."""
    r = _run("a fancy cake with candles on top in a kitchen lit by candlelight", blur_px=10,
             key_k=5400, bg_k=4100)
    assert math.isnan(r.values["physics.key_kelvin_error_mired"])
    assert "no Kelvin and no role" in r.reasons["physics.key_kelvin_error_mired"]
    keyed = _run("a kitchen, candlelight key", blur_px=10, key_k=5400, bg_k=4100)
    assert keyed.values["physics.key_kelvin_error_mired"] > 300
