"""The built-in demo: the article's two prompts, written into each PNG as Automatic1111
``parameters`` text, so a plain folder scan pairs the variants by seed."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenscore.datasets.demo import DEMO_PROMPTS, write_demo
from lenscore.datasets.discover import find_images
from lenscore.datasets.prompts import format_a1111, parse_a1111, png_with_text, prompt_from_text

ARTICLE = Path(__file__).resolve().parents[2] / "shared" / "seed" / "cinematic-bokeh-portrait-tips.txt"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    manifest = write_demo(out, n=2, size=96, jobs=1)
    return out, manifest


def test_every_demo_png_carries_its_prompt_and_seed(demo):
    out, _ = demo
    pngs = sorted((out / "renders").rglob("*.png"))
    assert len(pngs) == 4
    for png in pngs:
        variant = png.parent.name
        with Image.open(png) as im:
            params = im.info.get("parameters")
        assert params, png
        prompt, seed = parse_a1111(params)
        assert prompt == DEMO_PROMPTS[variant]
        assert seed == str(int(png.stem.removeprefix("seed")))


def test_scoring_the_renders_folder_pairs_the_variants_by_seed(demo, tmp_path):
    from lenscore.evaluator.run import run, select_families
    from lenscore.reports.aggregate import read_scores
    from lenscore.reports.compare import compare_scores

    out, _ = demo
    records = find_images(out / "renders")
    assert {r.variant for r in records} == {"blurred", "optical"}
    assert all(r.prompt is None and r.seed is None for r in records)  # nothing from a manifest
    run(records, tmp_path / "res", families=select_families(["focus"]), jobs=1)
    df = read_scores(tmp_path / "res" / "scores.csv")
    assert set(df["seed"]) == {"0", "1"}
    assert {v: set(g["prompt"]) for v, g in df.groupby("variant")} == \
        {v: {p} for v, p in DEMO_PROMPTS.items()}
    c = compare_scores(df, baseline="blurred")
    assert c.pairs[0].pairing == "seed" and c.pairs[0].n_pairs == 2


def test_demo_prompts_are_the_articles():
    assert "dense, blurred crowd" in DEMO_PROMPTS["blurred"]
    for phrase in ("85mm f/1.4", "dense crowd rendered as abstract bokeh orbs", "2700K",
                   "6500K", "visible pore structure", "natural sebum reflection"):
        assert phrase in DEMO_PROMPTS["optical"]
    if not ARTICLE.is_file():
        pytest.skip(f"article not present at {ARTICLE}")
    text = ARTICLE.read_text(encoding="utf-8")
    for phrase in ("dense, blurred crowd", "intense chromatic bokeh", "realistic skin",
                   "85mm f/1.4 at 2.5 meters from subject with crowd at 20 meters",
                   "dense crowd rendered as abstract bokeh orbs",
                   "2700K sodium vapor highlights pushing toward amber",
                   "6500K LED fill drifting toward cyan", "Visible pore structure",
                   "Natural sebum reflection"):
        assert phrase in text
        assert phrase.lower() in (DEMO_PROMPTS["blurred"] + " " + DEMO_PROMPTS["optical"]).lower()


@pytest.mark.parametrize("prompt", ["portrait, 85mm f/1.4\nsecond line", "портрет, 85 мм 🌃"])
def test_png_parameters_round_trip_without_touching_pixels(prompt):
    rgb = np.random.default_rng(0).integers(0, 255, (9, 7, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    text = format_a1111(prompt, seed=42, negative="blurry", size=(7, 9), model="m")
    data = png_with_text(buf.getvalue(), "parameters", text)
    with Image.open(io.BytesIO(data)) as im:
        assert np.array_equal(np.asarray(im), rgb)
        info = prompt_from_text({"parameters": im.info["parameters"]})
    assert (info.prompt, info.seed, info.source) == (prompt, "42", "a1111")


def test_png_with_text_refuses_what_is_not_a_png():
    with pytest.raises(ValueError, match="not a PNG"):
        png_with_text(b"GIF89a....", "parameters", "x")
