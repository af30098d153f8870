"""report.html / report.md: content, escaping of user text, self-containedness, robustness."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenscore.metrics.base import MetricFamily, MetricResult, Output, register
from lenscore.reports import overlays
from lenscore.reports.html import build_report, family_notes, missing_reasons, write_report
from lenscore.reports.markdown import md_escape

EVIL_PROMPT = "<script>alert(1)</script> portrait, 85mm"
EVIL_NAME = '"><img src=x onerror=alert(1)>.png'

# a tiny family of our own, so these tests do not depend on which families exist
OUTPUTS = (
    Output("zzreport.sharp", "ratio", "higher", (0.0, 1.0), "made-up sharpness"),
    Output("zzreport.mud", "fraction", "lower", (0.0, 1.0), "made-up mud"),
    Output("zzreport.kelvin", "K", "neither", (1000.0, 20000.0), "made-up Kelvin"),
    Output("zzreport.never", "", "higher", (0.0, 1.0), "never measurable"),
)


def _compute(ctx) -> MetricResult:
    g = float(ctx.gray.mean())
    return MetricResult({"zzreport.sharp": g, "zzreport.mud": 1 - g, "zzreport.kelvin": 4000.0,
                         "zzreport.never": float("nan")},
                        {"zzreport.never": "never measurable"},
                        {"note": "no artifacts to draw"})


register(MetricFamily(name="zzreport", version="1", method="test family", outputs=OUTPUTS,
                      compute=_compute, default=False))


def make_run(tmp_path: Path, n: int = 8, *, evil: bool = True, variants=("blurred", "optical"),
             with_summary: bool = True) -> Path:
    """A scored run: images on disk, scores.csv, summary.json."""
    run = tmp_path / "run"
    img_dir = tmp_path / "renders"
    rng = np.random.default_rng(0)
    rows = []
    for vi, v in enumerate(variants):
        (img_dir / v).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            name = EVIL_NAME if (evil and vi == 1 and i == 0) else f"seed{i:03d}.png"
            level = 0.3 + 0.3 * vi + 0.05 * rng.normal() + (0.3 if name == EVIL_NAME else 0)
            arr = np.clip(rng.normal(level, 0.1, (48, 64, 3)), 0, 1)
            Image.fromarray((arr * 255).astype(np.uint8)).save(img_dir / v / name)
            rows.append({"path": f"{v}/{name}", "variant": v,
                         "prompt": EVIL_PROMPT if evil else f"prompt {v}", "seed": str(i),
                         "status": "ok", "error": "",
                         "notes": "zzreport.never: never measurable (3 tries)",
                         "width": 64, "height": 48,
                         "zzreport.sharp": level + 0.01 * rng.normal(),
                         "zzreport.mud": 1 - level,
                         "zzreport.kelvin": 4000 + 500 * vi + 50 * rng.normal(),
                         "zzreport.never": ""})
    rows.append({"path": f"{variants[0]}/broken.png", "variant": variants[0], "prompt": "",
                 "seed": "", "status": "error", "error": "cannot decode <b>broken</b>",
                 "notes": "", "width": "", "height": "", "zzreport.sharp": "",
                 "zzreport.mud": "", "zzreport.kelvin": "", "zzreport.never": ""})
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "scores.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    if with_summary:
        summary = {"lenscore_version": "0.1.0", "created": "2026-01-01T00:00:00+00:00",
                   "input": str(img_dir),
                   "metrics": {"zzreport": {"version": "1", "method": "test family",
                                            "outputs": {o.name: {"unit": o.unit,
                                                                 "direction": o.direction,
                                                                 "range": list(o.range),
                                                                 "description": o.description}
                                                        for o in OUTPUTS}}}}
        (run / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    run = make_run(tmp)
    paths = write_report(run, baseline="blurred")
    return run, paths, paths["html"].read_text(encoding="utf-8")


def test_writes_html_markdown_and_json(report):
    run, paths, html = report
    assert set(paths) == {"html", "md", "json"}
    assert all(p.is_file() and p.parent == run for p in paths.values())
    d = json.loads(paths["json"].read_text())
    verdicts = {r["output"]: r["verdict"] for r in d["pairs"][0]["results"]}
    assert verdicts["zzreport.sharp"] == "better"
    assert verdicts["zzreport.mud"] == "better"  # lower is better, and it went down
    assert verdicts["zzreport.kelvin"] == "differs"
    assert verdicts["zzreport.never"] == "not enough data"


def test_html_shows_verdicts_tables_plots_and_gallery(report):
    _, _, html = report
    assert "Verdicts" in html and "optical" in html and "blurred" in html
    assert "zzreport.sharp" in html and "better" in html
    assert html.count('src="data:image/svg+xml;base64,') >= 3  # a distribution plot per output
    assert html.count('src="data:image/jpeg;base64,') >= 2  # gallery thumbnails
    assert "Per-variant means" in html and "&#8593;" in html or "\u2191" in html
    assert "Not measurable on any image" in html and "zzreport.never" in html
    assert "Images that could not be scored" in html
    # grouped NaN reasons (count in parentheses stripped)
    assert "zzreport.never: never measurable</td>" in html


def test_user_text_is_escaped(report):
    _, paths, html = report
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>broken</b>" not in html and "&lt;b&gt;broken&lt;/b&gt;" in html
    # parsed as a browser would: no script element, no event-handler attribute, and every
    # image comes from a data: URI
    tags = _parse_tags(html)
    assert "script" not in {t for t, _ in tags} and "iframe" not in {t for t, _ in tags}
    assert not [(t, a) for t, attrs in tags for a, _ in attrs if a.lower().startswith("on")]
    assert all(dict(attrs).get("src", "").startswith("data:") for t, attrs in tags
               if t == "img")
    md = paths["md"].read_text(encoding="utf-8")
    assert "<script>" not in md and "<img" not in md


def _parse_tags(html: str) -> list[tuple[str, list[tuple[str, str]]]]:
    from html.parser import HTMLParser

    tags: list = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.append((tag, [(a, v or "") for a, v in attrs]))

    P().feed(html)
    return tags


def test_html_is_self_contained(report):
    _, _, html = report
    for attr in re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', html):
        assert attr.startswith("data:") or attr.startswith("#"), attr
    assert not re.search(r"https?://", html.split("</head>", 1)[1])
    assert "url(" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_markdown_summary(report):
    _, paths, _ = report
    md = paths["md"].read_text(encoding="utf-8")
    assert md.startswith("## lenscore: optical vs blurred")
    assert "| `zzreport.sharp` \u2191 |" in md
    assert "better" in md and "differs" in md and "not enough data" in md
    assert "1 image(s) could not be scored" in md
    assert "Per-variant means" in md


def test_report_robust_to_one_variant_no_summary_and_missing_images(tmp_path):
    run = make_run(tmp_path, n=3, evil=False, variants=("only",), with_summary=False)
    for p in (tmp_path / "renders").rglob("*.png"):
        p.unlink()  # images gone: the gallery says so, the report still renders
    paths = write_report(run)
    assert "json" not in paths  # one variant: nothing to compare
    html = paths["html"].read_text()
    assert "Verdicts" not in html and "Per-variant means" in html
    assert "image not found" in html or "image not available" in html
    md = paths["md"].read_text()
    assert "## lenscore report" in md


def test_report_with_no_metric_columns(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "scores.csv").write_text("path,variant,prompt,seed,status,error,notes,width,height\n"
                                    "a.png,x,,,error,unreadable,,,\n"
                                    "b.png,y,,,error,unreadable,,,\n")
    paths = write_report(run)
    assert "unreadable" in paths["html"].read_text()


def test_helpers():
    assert family_notes("bokeh.x: a; color: b; bokeh: c", "bokeh") == "bokeh.x: a; bokeh: c"
    assert md_escape("a|b <i>") == "a\\|b &lt;i&gt;"
    import pandas as pd

    ok = pd.DataFrame({"variant": ["a", "a", "b"],
                       "notes": ["f.x: smear (3 soft); f.y: none", "f.x: smear (1 soft)", ""]})
    rows = missing_reasons(ok, ["a", "b"])
    assert rows[0] == {"reason": "f.x: smear", "counts": [2, 0], "total": 2}


def test_build_report_gallery_ranks_by_direction(tmp_path):
    run = make_run(tmp_path, n=4, evil=False)
    data = build_report(run, baseline="blurred", n_gallery=2)
    g = data["galleries"][0]
    assert g["output"] == "zzreport.sharp"
    best, worst = g["sides"]
    assert [t["variant"] for t in best["tiles"]] == ["optical", "optical"]
    assert [t["variant"] for t in worst["tiles"]] == ["blurred", "blurred"]
    assert all(t["src"] and t["src"].startswith("data:image/jpeg;base64,") for t in best["tiles"])


# ---------------------------------------------------------------------------------------------
# overlays: drawn from whatever artifacts are present
class _R:
    def __init__(self, values=None, artifacts=None, reasons=None):
        self.values, self.artifacts, self.reasons = values or {}, artifacts or {}, reasons or {}


def test_overlays_draw_present_artifacts_and_skip_missing():
    rgb = np.full((200, 300, 3), 0.4, np.float32)
    bokeh = _R({"bokeh.circularity": 0.97},
               {"orbs": [{"x": 150, "y": 100, "r": 20, "circularity": 0.97},
                         {"x": float("nan"), "y": 1, "r": 2}],
                "soft_highlights": [{"x": 50, "y": 50, "r": 10}]})
    out = overlays.overlay("bokeh", rgb, bokeh, long_side=300)
    # the image keeps its pixels, with a caption strip above it
    assert out.shape[1:] == (300, 3) and out.shape[0] > 200 and out.dtype == np.uint8
    body = out[-200:]
    assert (np.abs(body.astype(int) - 102).sum(axis=2) > 60).sum() > 100  # circles drawn
    focus = _R({"focus.separation": 1.2},
               {"sharpness_map_log10": np.arange(6, dtype=np.float32).reshape(2, 3),
                "tile_edges_x": np.array([0, 100, 200, 300]), "tile_edges_y": np.array([0, 100, 200]),
                "subject_box": (100, 50, 80, 100), "subject_source": "face"})
    assert overlays.overlay("focus", rgb, focus).shape[1:] == (300, 3)
    color = _R({}, {"points_xy": np.array([[10.0, 10.0], [200.0, 150.0]]),
                    "points_label": np.array([0, 1]),
                    "points_uv": np.array([[0.25, 0.34], [0.20, 0.31]]),
                    "clusters": {"warm": {"uv": [0.25, 0.34], "cct_k": 2700.0},
                                 "cool": {"uv": [0.2, 0.31], "cct_k": 6500.0}},
                    "subject": {"box": [100, 50, 80, 100]}})
    assert overlays.overlay("color", rgb, color).shape[1:] == (300, 3)
    png = overlays.family_plot("color", color, fmt="png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    skin = _R({"skin.texture_energy": 0.5},
              {"crop_box": (100, 50, 80, 100), "mask": np.ones((40, 32), bool),
               "specular_mask": np.zeros((40, 32), bool), "face_box": (110, 60, 60, 80)})
    z = overlays.overlay("skin", rgb, skin, long_side=240)
    assert z.shape[1] <= 240 < z.shape[0]  # zoom on the face, long side 240, plus caption
    # nothing at all: a plain thumbnail with a banner, never an error
    for fam in ("bokeh", "focus", "color", "skin", "unknown"):
        assert overlays.overlay(fam, rgb, _R()).dtype == np.uint8


# ---------------------------------------------------------------------------------------------
# lenscore report / explain on the command line
def test_cli_report(tmp_path, capsys):
    from lenscore.cli import run_cli

    run = make_run(tmp_path, n=4, evil=False)
    out = tmp_path / "rep"
    assert run_cli(["report", str(run), "--out", str(out), "--no-gallery"]) == 0
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert (out / "comparison.json").is_file()
    assert run_cli(["report", str(tmp_path / "renders")]) == 2  # not a run folder


def _bokeh_scene(path: Path) -> Path:
    """A dark background with hard-rimmed warm and cool discs (no face)."""
    import cv2

    rng = np.random.default_rng(3)
    img = np.full((320, 320, 3), 0.12, np.float32) + rng.normal(0, 0.01, (320, 320, 3))
    for i, (x, y) in enumerate([(50, 60), (260, 70), (70, 250), (250, 240), (160, 40)]):
        color = (1.0, 0.7, 0.35) if i % 2 else (0.55, 0.75, 1.0)
        cv2.circle(img, (x, y), 14, color, -1, cv2.LINE_AA)
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


def test_explain_draws_real_family_artifacts(tmp_path, capsys):
    fams = []
    for name in ("bokeh", "color", "focus", "skin"):
        try:
            __import__(f"lenscore.metrics.{name}")
            fams.append(name)
        except ImportError:
            pass
    if not fams:
        pytest.skip("no optical family module present")
    from lenscore.cli import run_cli

    img = _bokeh_scene(tmp_path / "scene.png")
    out = tmp_path / "explain.png"
    assert run_cli(["explain", str(img), "--out", str(out), "-f", ",".join(fams)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed
    assert Image.open(out).size[0] > 800
    if "bokeh" in fams:
        assert "bokeh.orb_count" in printed
    assert run_cli(["explain", str(img), "-f", "bokehh"]) == 2  # did-you-mean, exit 2
    assert run_cli(["explain", str(img), "--subject-box", "1,2,3"]) == 2


@pytest.mark.parametrize("families", [None, ["focus"]])
def test_explain_text_never_overlaps_and_leaves_no_large_empty_band(tmp_path, monkeypatch, families):
    """Every family's sentence and output rows (long n/a reasons included) fit their text column,
    wide figure or narrow, and the page is not mostly blank rows."""
    from matplotlib.figure import Figure

    from lenscore.datasets.synthetic import SceneSpec, render, save_render

    img = tmp_path / "portrait.png"
    save_render(render(SceneSpec(width=512, height=512, seed=4)), img, tmp_path / "truth.json")
    figs = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figs.append(self), save(self, *a, **k))[1])
    overlays.explain_figure(img, tmp_path / "explain.png", families=families)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figs[0]
    renderer = FigureCanvasAgg(fig).get_renderer()  # the figure is closed: measure on a new canvas
    boxes = [t.get_window_extent(renderer) for ax in fig.axes for t in ax.texts if t.get_text()]
    assert len(boxes) >= 5  # a sentence and rows per family
    width = fig.bbox.width
    for i, a in enumerate(boxes):
        assert a.x0 >= -1 and a.x1 <= width + 1, "text runs off the page"
        for b in boxes[i + 1:]:
            overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
            overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            assert overlap_x <= 1 or overlap_y <= 1, "two lines of the explain text overlap"
    page = np.asarray(Image.open(tmp_path / "explain.png").convert("L"))
    assert (page >= 250).all(axis=1).mean() < 0.25
