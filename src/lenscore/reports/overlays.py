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
import textwrap
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
    """(rows, cols) for n panels with the fewest empty cells, then the nearest to 3 columns,
    then the wider (a wide figure leaves room for the text below it)."""
    best = min(range(2, 6), key=lambda c: ((-n) % c, abs(c - 3), -c))
    return math.ceil(n / best), best


#: explain figure: inches per image panel, points of the sentence and output rows, inches per line
PANEL_WIDTH_IN = 5.0
PANEL_HEIGHT_IN = 4.6
SENTENCE_PT = 9.5
ROW_PT = 7.5
LINE_IN = 0.16
#: the value column of an output row is at most this wide (characters): the direction stays near
VALUE_CHARS = 56


def _explain_row(row: tuple[str, str, str, str | None], chars: int) -> tuple[str, str | None]:
    """One output line of the explain text, at most ``chars`` characters: name, value (cut to
    what is left), direction and the good / poor mark."""
    short, shown, direction, mark = row
    sym = {"good": "  [good]", "poor": "  [poor]"}.get(mark, "")
    room = max(12, min(VALUE_CHARS, chars - 23 - len(direction) - len(sym) - 1))
    value = shown if len(shown) <= room else shown[: room - 3] + "..."
    return f"{short:<22s} {value:<{room}s} {direction}{sym}", mark


def _balanced_split(heights: Sequence[float]) -> int:
    """Where to cut a list of blocks into two columns of nearly equal height (in order)."""
    total, run, best, cut = sum(heights), 0.0, math.inf, len(heights)
    for i, h in enumerate(heights):
        if abs(total - 2 * run) < best:
            best, cut = abs(total - 2 * run), i
        run += h
    return cut


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
    # why: one sentence per family (wrapped to its column), then its outputs; two text columns
    # when the figure is wide enough for them, else one
    width_in = cols * PANEL_WIDTH_IN
    n_text = 2 if cols >= 3 else 1
    col_in = width_in / n_text
    sentence_chars = int(col_in * 72 / (0.62 * SENTENCE_PT))   # bold proportional, <= 0.62 em
    row_chars = int(col_in * 72 / (0.62 * ROW_PT)) - 4          # monospace, 0.6 em per char
    blocks = [(textwrap.wrap(f"{e.title}: {e.sentence}", sentence_chars) or [e.title],
               [_explain_row(r, row_chars) for r in e.rows]) for e in expl]
    heights = [len(sent) * 1.25 + len(rws) + 0.75 for sent, rws in blocks]
    split = _balanced_split(heights) if n_text == 2 else len(blocks)
    halves = [blocks[:split], blocks[split:]] if n_text == 2 else [blocks]
    n_lines = max(sum(heights[:split]), sum(heights[split:])) if n_text == 2 else sum(heights)
    text_h = LINE_IN * n_lines + 0.3
    fig = plt.figure(figsize=(width_in, rows * PANEL_HEIGHT_IN + text_h))
    gs = fig.add_gridspec(rows + 1, cols, height_ratios=[PANEL_HEIGHT_IN] * rows + [text_h])
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
    text_ax = fig.add_subplot(gs[rows, :])
    text_ax.axis("off")
    step = 1.0 / max(1.0, n_lines)
    for k, part in enumerate(halves):
        x0 = k / n_text
        y = 1.0
        for sentence, rws in part:
            for line in sentence:
                text_ax.text(x0, y, line, fontsize=SENTENCE_PT, fontweight="bold", va="top",
                             transform=text_ax.transAxes)
                y -= step * 1.25
            for line, mark in rws:
                text_ax.text(x0 + 0.01, y, line, family="monospace", fontsize=ROW_PT, va="top",
                             transform=text_ax.transAxes,
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
