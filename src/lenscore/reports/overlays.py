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
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lenscore.drawing import encode_image, fmt, thumbnail, to_u8  # noqa: F401  (re-exported)


# ----------------------------------------------------------------------------------------------
# measuring
def measure_image(path: str | os.PathLike, *, families: Sequence[str] | None = None,
                  subject_box: tuple[int, int, int, int] | None = None,
                  prompt: str | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode ``path`` and run the metric families on it.

    Returns ``(rgb, results)``: float32 sRGB H x W x 3 and {family: MetricResult}. ``families``
    limits the run (what those families require is computed too, as in a scoring run).
    """
    from lenscore.context import ImageContext
    from lenscore.datasets.decode import decode_image
    from lenscore.evaluator.run import compute_families, select_families

    decoded = decode_image(path)
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
def explain_figure(path: str | os.PathLike, out: str | os.PathLike, *,
                   families: Sequence[str] | None = None, dpi: int = 110,
                   subject_box: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
    """Every overlay of one image in one PNG (``lenscore explain IMAGE --out explain.png``).

    Returns {"path": out path, "values": {output: value}, "reasons": {key: reason}}.
    """
    from lenscore.metrics.base import families as registry
    from lenscore.reports.plots import _plt

    plt = _plt()
    rgb, results = measure_image(path, families=families, subject_box=subject_box)
    panels: list[tuple[str, Any]] = [("image", thumbnail(rgb, 900)[0])]
    fams = registry()
    for name in drawable_families():
        if name in results:
            panels.append((name, overlay(name, rgb, results[name], long_side=900)))
    extra = [n for n in results if n in fams and fams[n].plot is not None]
    n = len(panels) + len(extra) + 1
    cols = 3
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 5.0, rows * 4.6))
    axes = np.atleast_1d(axes).ravel()
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
        if fams[name].plot(ax, results[name], title=None):
            i += 1
        else:
            ax.clear()
            ax.axis("off")
    # values panel
    ax = axes[i]
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for res in results.values():
        values.update(res.values)
        reasons.update(res.reasons)
    lines = []
    for k, v in values.items():
        lines.append(f"{k:<28s} {fmt(v, '.4g'):>10s}")
    ax.text(0.0, 1.0, "\n".join(lines[:40]), family="monospace", fontsize=7.5, va="top",
            transform=ax.transAxes)
    ax.set_title("values", loc="left", fontweight="bold")
    fig.suptitle(f"lenscore explain: {Path(path).name}", x=0.01, ha="left", fontsize=13,
                 fontweight="bold")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi, metadata={"Software": "lenscore"})
    plt.close(fig)
    return {"path": out, "values": values, "reasons": reasons}
