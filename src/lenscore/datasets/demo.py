"""The built-in demo set: the article's two prompts, rendered by the ground-truth renderer.

``blurred`` is the prompt that fails ("blurred crowd"): Gaussian background blur, one neutral
light, smoothed skin. ``optical`` is the article's improved prompt: 85 mm f/1.4 at 2.5 m, crowd at
20 m as bokeh orbs, 2700 K sodium vapour key against 6500 K LED fill, visible pores.

Each PNG carries its prompt and seed as Automatic1111 ``parameters`` text, as a real generator's
output would, so ``lenscore score demo/renders`` finds them without the manifest (and pairs the
variants by seed).
"""

from __future__ import annotations

import csv
from pathlib import Path

#: The prompt text each variant stands for, in the article's words
#: (../shared/seed/cinematic-bokeh-portrait-tips.txt): its original prompt ("dense, blurred
#: crowd", "intense chromatic bokeh", "realistic skin"), which fails, and the improved one that
#: "builds a complete optical system" (lens and distances, "dense crowd rendered as abstract
#: bokeh orbs", the 1:8 ratio, the two Kelvin values, pores and sebum, circular bokeh; not its
#: "anamorphic streaks", which the demo's round aperture does not render). It is each render's
#: prompt in the manifest and the PNG metadata, so the physics family holds every render to it.
DEMO_PROMPTS = {
    "blurred": "cinematic portrait of a woman in front of a dense, blurred crowd, intense "
               "chromatic bokeh, realistic skin",
    "optical": "portrait of a woman, 85mm f/1.4 at 2.5 meters from subject with crowd at 20 "
               "meters, dense crowd rendered as abstract bokeh orbs, subject-to-background ratio "
               "of 1:8, 2700K sodium vapor highlights pushing toward amber, 6500K LED fill "
               "drifting toward cyan, visible pore structure, natural sebum reflection, circular "
               "bokeh with edge falloff",
}
#: what the demo's PNG ``parameters`` name as the model (it is lenscore's renderer, not a network)
DEMO_MODEL = "lenscore thin-lens renderer (lenscore.datasets.synthetic)"


def write_demo(out_dir: str | Path, *, n: int = 12, size: int = 768, seed0: int = 0,
               jobs: int = 1) -> Path:
    """Render ``n`` images per variant into ``out_dir/renders/<variant>/`` with their ground
    truth in ``out_dir/truth/<variant>/`` and write ``out_dir/manifest.csv``; returns its path."""
    from lenscore.datasets.synthetic import demo_specs

    out = Path(out_dir)
    jobs_list = []
    rows = []
    for variant, prompt in DEMO_PROMPTS.items():
        for spec in demo_specs(variant, n, size=size, seed0=seed0):
            rel = f"renders/{variant}/seed{spec.seed:03d}.png"
            jobs_list.append((spec, str(out / rel),
                              str(out / "truth" / variant / f"seed{spec.seed:03d}.json"), prompt))
            rows.append({"path": rel, "variant": variant, "prompt": prompt, "seed": spec.seed})
    from lenscore.evaluator.executors import parallel_map

    parallel_map(_render_one, jobs_list, jobs=jobs)
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path", "variant", "prompt", "seed"])
        w.writeheader()
        w.writerows(rows)
    return manifest


def _render_one(job: tuple) -> None:
    from lenscore.datasets.prompts import format_a1111, png_with_text
    from lenscore.datasets.synthetic import render, save_render

    spec, png, js, prompt = job
    save_render(render(spec), png, js)
    text = format_a1111(prompt, seed=spec.seed, size=(spec.width, spec.height), model=DEMO_MODEL)
    path = Path(png)
    path.write_bytes(png_with_text(path.read_bytes(), "parameters", text))
