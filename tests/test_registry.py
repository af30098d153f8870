"""The family registry: one module per family, declared dependencies, and results that never
depend on what the cache held.

Behaviour asserted:
- every subset of the optical families gives the same numbers with a cold cache, with a cache
  warmed by any other subset, and without a cache (colour reads bokeh's orbs: a colour-only run
  must not store a colour result made without them);
- a family registered from a test gets its column, its report section, its overlay, its
  ``lenscore validate`` line and its ``lenscore metrics`` entry, with no other file touched;
- a family that reads another family's result without declaring it is an error, not a silent
  dependency the cache does not know.
"""

from __future__ import annotations

import csv
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from lenscore.cli import run_cli
from lenscore.context import ImageContext
from lenscore.datasets.discover import find_images
from lenscore.evaluator.run import run, select_families
from lenscore.metrics.base import (MetricFamily, MetricResult, Output, dependency_closure,
                                   families, registered)

from conftest import write_png

OPTICAL = ("focus", "bokeh", "color", "skin")


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["path"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> Path:
    """Three small renders with orbs, a face and two light colours."""
    from lenscore.datasets.synthetic import SceneSpec, render

    root = tmp_path_factory.mktemp("reg") / "renders"
    for seed in range(3):
        r = render(SceneSpec(width=320, height=320, seed=seed, n_lights=8,
                             light_depth_m=(8.0, 40.0), pore_amplitude=0.1))
        write_png(root / f"s{seed}.png", np.round(r.rgb * 255).astype(np.uint8))
    return root


@pytest.fixture(scope="module")
def reference(renders, tmp_path_factory) -> dict[str, dict[str, str]]:
    out = tmp_path_factory.mktemp("ref")
    run(find_images(renders), out, families=select_families(list(OPTICAL)), jobs=1)
    return _rows(out / "scores.csv")


SUBSETS = [c for k in range(1, len(OPTICAL) + 1) for c in itertools.combinations(OPTICAL, k)]


@pytest.mark.parametrize("subset", SUBSETS, ids=lambda s: "+".join(s))
def test_rows_do_not_depend_on_what_the_cache_held(subset, renders, reference, tmp_path):
    cache = tmp_path / "cache"
    records = find_images(renders)
    # the subset alone, into a cold cache: its columns equal the full no-cache run's
    run(records, tmp_path / "a", families=select_families(list(subset)), jobs=1, cache_dir=cache)
    got = _rows(tmp_path / "a" / "scores.csv")
    cols = [o.name for f in select_families(list(subset)) for o in f.outputs]
    for p, row in got.items():
        assert {c: row[c] for c in cols} == {c: reference[p][c] for c in cols}, p
    # then every family with the cache that subset warmed: identical to no cache at all
    run(records, tmp_path / "b", families=select_families(list(OPTICAL)), jobs=1, cache_dir=cache)
    assert _rows(tmp_path / "b" / "scores.csv") == reference


def test_colour_declares_bokeh_and_its_cache_key_covers_it():
    from lenscore.evaluator.cache import family_key

    color = families()["color"]
    assert [f.name for f in dependency_closure(color)] == ["bokeh"]
    bokeh = families()["bokeh"]
    import dataclasses

    changed = dataclasses.replace(bokeh, version=bokeh.version + "x")
    with registered(changed):
        k2 = family_key("h", color, max_pixels=None, subject_box=None, prompt=None)
    k1 = family_key("h", color, max_pixels=None, subject_box=None, prompt=None)
    assert k1 != k2  # a new bokeh version is a new colour key


# ---- a family added as one module ---------------------------------------------------------------
@dataclass(frozen=True)
class _ToyParams:
    level: float = 0.5


def _toy_compute(ctx: ImageContext) -> MetricResult:
    m = float(ctx.work_gray.mean())
    return MetricResult({"toy.brightness": m, "toy.dark": math.nan},
                        {"toy.dark": "no dark pixels to speak of"}, {"level": _ToyParams().level})


def _toy_draw(rgb: np.ndarray, result: MetricResult, long_side: int) -> np.ndarray:
    from lenscore import drawing

    thumb, _ = drawing.thumbnail(rgb, long_side)
    out = thumb.copy()
    out[..., 0] = 255  # a red wash: the test can see the family drew
    return out


def _toy_validate(plan, jobs):
    from lenscore.evaluator.validate import Check

    return [Check("toy", "toy brightness is a fraction", 0.5, "in [0, 1]", True)]


TOY = MetricFamily(
    name="toy", version="1", method="mean luma of the working copy", compute=_toy_compute,
    params=_ToyParams(), title="Toy brightness", headline=("toy.brightness",), order=35,
    draw=_toy_draw, validate=_toy_validate, default=True,
    explain=lambda r: "brighter images score higher",
    outputs=(Output("toy.brightness", "fraction of white", "higher", (0.0, 1.0),
                    "Mean luma of the image."),
             Output("toy.dark", "fraction", "neither", (0.0, 1.0), "Never measured.")))


def test_a_new_family_gets_column_report_overlay_validation_and_metrics(renders, tmp_path, capsys):
    from lenscore.evaluator.validate import run_validation
    from lenscore.reports import overlays

    with registered(TOY):
        assert "toy" in [f.name for f in select_families()]      # a default family now
        out = tmp_path / "run"
        assert run_cli(["score", str(renders), "-o", str(out), "-j", "1", "--no-cache"]) == 0
        rows = list(_rows(out / "scores.csv").values())
        header = list(rows[0])
        last_color = max(i for i, c in enumerate(header) if c.startswith("color."))
        first_skin = min(i for i, c in enumerate(header) if c.startswith("skin."))
        assert last_color < header.index("toy.brightness") < first_skin  # order 35
        assert all(0 < float(r["toy.brightness"]) < 1 for r in rows)
        assert all("toy.dark: no dark pixels" in r["notes"] for r in rows)
        # report: its own section, titled by the family
        assert run_cli(["report", str(out)]) == 0
        html = (out / "report.html").read_text(encoding="utf-8")
        assert "Toy brightness" in html and "toy.brightness" in html
        # overlay and explain
        rgb = np.full((60, 80, 3), 0.3, np.float32)
        res = _toy_compute(ImageContext(rgb))
        ov = overlays.overlay("toy", rgb, res, long_side=80)
        assert ov[..., 0].min() == 255
        assert "toy" in overlays.drawable_families()
        png = tmp_path / "explain.png"
        assert run_cli(["explain", str(next(iter(renders.glob("*.png")))), "--out", str(png)]) == 0
        assert png.stat().st_size > 1000
        # validate: its line is there
        checks = run_validation(quick=True, families=["toy"])
        assert [(c.family, c.verdict) for c in checks] == [("toy", "PASS")]
        # lenscore metrics lists it
        capsys.readouterr()
        assert run_cli(["metrics"]) == 0
        assert "toy.brightness" in capsys.readouterr().out
    assert "toy" not in families()


def test_reading_an_undeclared_family_is_an_error():
    def sneaky(ctx: ImageContext) -> MetricResult:
        ctx.result("focus")  # not declared in requires
        return MetricResult({"sneaky.x": 1.0})

    fam = MetricFamily(name="sneaky", version="1", method="test", compute=sneaky, default=False,
                       outputs=(Output("sneaky.x", "1", "neither", (0, 1), "x"),))
    with registered(fam):
        ctx = ImageContext(np.full((64, 64, 3), 0.5, np.float32))
        res = ctx.result(fam)
        assert math.isnan(res.values["sneaky.x"])
        assert "without declaring it" in res.reasons["sneaky"]
        assert not ctx.result_ok("sneaky")


def test_required_family_is_computed_once_and_shared():
    calls = []

    def base(ctx):
        calls.append(1)
        return MetricResult({"base9.v": 2.0}, {}, {"thing": 7})

    def user(ctx):
        return MetricResult({"user9.v": ctx.result("base9").artifacts["thing"] * 1.0})

    b = MetricFamily(name="base9", version="1", method="t", compute=base, default=False,
                     outputs=(Output("base9.v", "1", "neither", (0, 9), "v"),))
    u = MetricFamily(name="user9", version="1", method="t", compute=user, default=False,
                     requires=("base9",), outputs=(Output("user9.v", "1", "neither", (0, 9), "v"),))
    with registered(b), registered(u):
        ctx = ImageContext(np.full((40, 40, 3), 0.5, np.float32))
        assert ctx.result("user9").values["user9.v"] == 7.0
        assert ctx.result("base9").values["base9.v"] == 2.0
        assert len(calls) == 1
