"""Drawing what the metrics saw on the image itself: "why did this one score low?".

The families return their evidence in ``MetricResult.artifacts`` (full-resolution pixel
coordinates, documented in each family's module) and draw it themselves
(``MetricFamily.draw``, with the primitives of :mod:`lenscore.drawing`; ``MetricFamily.plot`` for
an extra panel such as colour's CIE 1960 uv diagram). This module re-runs the families on one
image (:func:`measure_image`), asks the registry for each family's drawing (:func:`overlay`,
:func:`family_plot`) and composes them for ``lenscore explain`` (:func:`explain_figure`).
Drawing is defensive: an artifact a drawer cannot use gives the plain thumbnail, never an error.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lenscore.drawing import encode_image, thumbnail, to_u8  # noqa: F401  (re-exported)


# ----------------------------------------------------------------------------------------------
# measuring
def measure_image(path: str | os.PathLike, *, families: Sequence[str] | None = None,
                  subject_box: tuple[int, int, int, int] | None = None,
                  prompt: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode ``path`` and run the metric families on it.

    Returns ``(rgb, results)``: float32 sRGB H x W x 3 and {family: MetricResult}. ``families``
    limits the run (what those families require is computed too, as in a scoring run). Without
    ``prompt``, the prompt written in the file (A1111 / ComfyUI / EXIF) is used.
    """
    from lenscore.context import ImageContext
    from lenscore.datasets.decode import decode_image
    from lenscore.evaluator.run import compute_families, select_families

    from lenscore.datasets.prompts import prompt_from_text

    decoded = decode_image(path)
    if prompt is None:  # as `lenscore score` does: the prompt in the file's metadata
        prompt = prompt_from_text(decoded.text).prompt or None
    ctx = ImageContext(decoded.rgb, subject_box=subject_box, prompt=prompt)
    fams = select_families() if families is None else select_families(list(families))
    return decoded.rgb, compute_families(ctx, fams)


def drawable_families() -> list[str]:
    """Families that draw an overlay, in column order."""
    from lenscore.metrics.base import families

    return [n for n, f in families().items() if f.draw is not None]


def overlay(family: str, rgb: np.ndarray, result: Any, *, long_side: int = 480) -> np.ndarray:
    """The overlay of one family's result on one image, as uint8 RGB (the plain thumbnail when
    the family draws nothing or cannot draw this result)."""
    from lenscore.metrics.base import families

    fam = families().get(family)
    if fam is not None and fam.draw is not None:
        try:
            return fam.draw(rgb, result, long_side)
        except Exception:  # noqa: BLE001 - an artifact we cannot draw must not break a report
            pass
    return thumbnail(rgb, long_side)[0]


def family_plot(family: str, result: Any, *, fmt: str = "svg",
                size: tuple[float, float] = (4.2, 3.4), title: str | None = None,
                compact: bool = False,
                dpi: int = 110) -> bytes | None:
    """A family's extra panel (``MetricFamily.plot``) as SVG/PNG bytes, or None when the family
    has none or nothing to draw for this result. ``title=None`` is the family's own title, ``""``
    none."""
    from lenscore.metrics.base import families
    from lenscore.reports.plots import _plt, figure_bytes

    fam = families().get(family)
    if fam is None or fam.plot is None or result is None:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=size)
    try:
        drawn = fam.plot(ax, result, compact=compact, title=title)
    except Exception:  # noqa: BLE001
        drawn = False
    if not drawn:
        plt.close(fig)
        return None
    return figure_bytes(fig, fmt, dpi=dpi)


# ----------------------------------------------------------------------------------------------
# lenscore explain
@dataclass
class FamilyExplanation:
    """What ``explain`` says about one family: a sentence and a line per output."""

    family: str
    title: str
    sentence: str
    #: (output short name, value with its unit, direction words, "good" / "poor" / "")
    rows: list[tuple[str, str, str, str]]


def format_value(value: float, unit: str = "") -> str:
    """A number with about three significant digits and its unit ("n/a" when not finite)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(v):
        return "n/a"
    a = abs(v)
    if a == 0 or 0.01 <= a < 10000:
        txt = f"{v:.3g}" if a < 100 else f"{v:.0f}"
    else:
        txt = f"{v:.2e}"
    bare = ("1", "flag", "count", "ratio", "fraction", "cosine")
    return f"{txt} {unit}".strip() if unit and unit not in bare else txt


def explain_results(results: Mapping[str, Any]) -> list[FamilyExplanation]:
    """Per family that ran: its sentence (``MetricFamily.explain``; without one, the headline
    values or the reason nothing was measured) and its outputs with units and directions."""
    from lenscore.metrics.base import families as registry

    fams = registry()
    out: list[FamilyExplanation] = []
    for name, res in results.items():
        fam = fams.get(name)
        if fam is None:
            continue
        sentence = ""
        if fam.explain is not None:
            try:
                sentence = str(fam.explain(res) or "")
            except Exception:  # noqa: BLE001 - a sentence must never break explain
                sentence = ""
        if not sentence:
            heads = [o for o in fam.outputs if o.name in fam.headline] or list(fam.outputs[:2])
            shown = [f"{o.short.replace('_', ' ')} {format_value(res.values.get(o.name), o.unit)}"
                     for o in heads if math.isfinite(float(res.values.get(o.name, math.nan)))]
            sentence = ", ".join(shown) if shown else (
                res.reasons.get(name) or next(iter(res.reasons.values()), "") or "nothing measured")
        rows = []
        for o in fam.outputs:
            v = res.values.get(o.name, math.nan)
            shown = format_value(v, o.unit)
            if shown == "n/a":
                why = res.reasons.get(o.name) or res.reasons.get(name) or ""
                shown = f"n/a ({why})" if why else "n/a"
            rows.append((o.short, shown, o.direction_text, o.judge(v)))
        out.append(FamilyExplanation(name, fam.display_title, sentence, rows))
    return out


def _grid(n: int) -> tuple[int, int]:
    """(rows, cols) for n panels with the fewest empty cells, 3 columns when that ties."""
    best = min(range(2, 6), key=lambda c: ((-n) % c, abs(c - 3)))
    return math.ceil(n / best), best


def explain_figure(path: str | os.PathLike, out: str | os.PathLike, *,
                   families: Sequence[str] | None = None, dpi: int = 110,
                   subject_box: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
    """Every overlay of one image in one PNG (``lenscore explain IMAGE --out explain.png``): the
    image, each family's drawing and extra panel, then per family one sentence on why the image
    scored as it did and its outputs with units, direction and, where the family gives a
    reference, a good / poor mark.

    Returns {"path": out path, "values": {output: value}, "reasons": {key: reason},
    "explanations": [FamilyExplanation]}.
    """
    from lenscore.metrics.base import families as registry
    from lenscore.reports.plots import _plt

    plt = _plt()
    rgb, results = measure_image(path, families=families, subject_box=subject_box)
    fams = registry()
    panels: list[tuple[str, Any]] = [("image", thumbnail(rgb, 900)[0])]
    for name in drawable_families():
        if name in results:
            panels.append((name, overlay(name, rgb, results[name], long_side=900)))
    extra = [n for n in results if n in fams and fams[n].plot is not None]
    expl = explain_results(results)
    n_img = len(panels) + len(extra)
    rows, cols = _grid(n_img)
    n_lines = sum(2 + len(e.rows) for e in expl)
    text_h = 0.19 * n_lines / 2 + 0.6  # two columns of text
    fig = plt.figure(figsize=(cols * 5.0, rows * 4.6 + text_h))
    gs = fig.add_gridspec(rows + 1, cols, height_ratios=[4.6] * rows + [text_h])
    axes = [fig.add_subplot(gs[i // cols, i % cols]) for i in range(n_img)]
    for ax in axes:
        ax.axis("off")
    i = 0
    for name, img in panels:
        axes[i].imshow(img)
        title = "image" if name == "image" else (fams[name].display_title if name in fams else name)
        axes[i].set_title(title, loc="left", fontweight="bold")
        i += 1
    for name in extra:
        ax = axes[i]
        ax.axis("on")
        if not fams[name].plot(ax, results[name], title=None):
            ax.clear()
            ax.axis("off")
        i += 1
    # why: one sentence per family, then its outputs (two text columns)
    halves = [expl[: (len(expl) + 1) // 2], expl[(len(expl) + 1) // 2:]]
    for k, part in enumerate(halves):
        ax = fig.add_subplot(gs[rows, :]) if k == 0 else ax.inset_axes([0.5, 0.0, 0.5, 1.0])
        ax.axis("off")
        y = 1.0
        step = 1.0 / max(1, max(sum(2 + len(e.rows) for e in h) for h in halves))
        for e in part:
            ax.text(0.0 if k == 0 else 0.02, y, f"{e.title}: {e.sentence}"[:110],
                    fontsize=9.5, fontweight="bold", va="top", transform=ax.transAxes)
            y -= step * 1.25
            for short, shown, direction, mark in e.rows:
                sym = {"good": "  [good]", "poor": "  [poor]"}.get(mark, "")
                ax.text(0.02 if k == 0 else 0.04, y, f"{short:<22s} {shown[:44]:<44s} {direction}{sym}",
                        family="monospace", fontsize=7.5, va="top", transform=ax.transAxes,
                        color={"good": "#1a7f37", "poor": "#b3261e"}.get(mark, "#222"))
                y -= step
            y -= step * 0.75
    fig.suptitle(f"lenscore explain: {Path(path).name}", x=0.01, ha="left", fontsize=13,
                 fontweight="bold")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, metadata={"Software": "lenscore"})
    plt.close(fig)
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for res in results.values():
        values.update(res.values)
        reasons.update(res.reasons)
    return {"path": out, "values": values, "reasons": reasons, "explanations": expl}
