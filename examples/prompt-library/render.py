"""Re-create this example's renders with lenscore's ground-truth renderer.

    python render.py              # writes renders/<prompt id>/optical/seedNNN.png
    python render.py --baseline   # ... then re-scores them into baseline/ (lenscore baseline)

Re-make the baseline whenever the renderer or a gated family's numbers change (it is what
``lenscore gate`` compares against); ``--baseline`` is that one command.

The scenes follow each prompt's `expect` optics: 85 mm at 2.5 m, crowd at 20 m, the prompt's
f-number and Kelvin pair, pore texture. Deterministic: the same seeds give the same files.
"""

from pathlib import Path

from lenscore.datasets.synthetic import SceneSpec, render, save_render

HERE = Path(__file__).resolve().parent
SCENES = {
    "night-crowd": dict(f_number=1.4, key_kelvin=2700.0, background_kelvin=6500.0),
    "sodium-street": dict(f_number=1.8, key_kelvin=2200.0, background_kelvin=5600.0),
}
SEEDS = range(6)


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description="Re-create the example renders (and the baseline).")
    ap.add_argument("--baseline", action="store_true", help="then run 'lenscore baseline -j 2'")
    args = ap.parse_args(argv)
    for pid, kw in SCENES.items():
        for seed in SEEDS:
            spec = SceneSpec(width=512, height=512, focal_mm=85.0, focus_m=2.5, background_m=20.0,
                             light_depth_m=(8.0, 60.0), aperture="circle", pore_amplitude=0.1,
                             seed=100 + seed, **kw)
            out = HERE / "renders" / pid / "optical" / f"seed{100 + seed:03d}.png"
            save_render(render(spec), out, HERE / "truth" / pid / f"seed{100 + seed:03d}.json")
            print(out.relative_to(HERE))
    if args.baseline:
        import os

        from lenscore.cli import run_cli

        os.chdir(HERE)
        return run_cli(["baseline", "-j", "2"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
