"""Plots for reports: distributions by variant and the CIE 1960 uv diagram.

matplotlib (Agg backend) and colour-science are imported inside the functions, so importing this
module is cheap. Figures come back as SVG or PNG bytes (:func:`figure_bytes`) for embedding in
a self-contained HTML page as data URIs; SVG text is kept as text (``svg.fonttype = none``), so a
label is escaped XML text and never a script.

The Planckian locus is drawn in CIE 1960 UCS (u, v) with colour-science's Ohno (2013) CCT -> uv
conversion; isotemperature ticks are perpendicular to the locus (Robertson 1968's definition of
an isotherm in the 1960 diagram), and the band |Duv| <= 0.05 marks where a correlated colour
temperature is defined (CIE 015:2018; Ohno 2014, LEUKOS 10:47).
"""

from __future__ import annotations

import io
import math
from typing import Any, Mapping, Sequence

import numpy as np

#: one colour per variant (colour-blind-safe: Okabe & Ito 2008), then repeats.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: Kelvin ticks on the Planckian locus.
KELVIN_TICKS = (2000, 2500, 3000, 3500, 4000, 5000, 6500, 8000, 10000)
#: fewer ticks for small diagrams
COMPACT_TICKS = (2000, 3000, 4000, 6500, 10000)
#: CCT is undefined beyond this distance from the locus.
DUV_LIMIT = 0.05


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none", "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
        "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#9aa0a6",
        "axes.labelcolor": "#333", "xtick.color": "#555", "ytick.color": "#555",
        "font.family": ["DejaVu Sans", "sans-serif"], "svg.hashsalt": "lenscore",
    })
    return plt


def figure_bytes(fig: Any, fmt: str = "svg", *, dpi: int = 110) -> bytes:
    """Render a matplotlib figure to SVG or PNG bytes and close it."""
    plt = _plt()
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=_metadata(fmt))
    finally:
        plt.close(fig)
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, Any] | None:
    if fmt == "svg":
        return {"Date": None, "Creator": "lenscore"}
    if fmt == "png":
        return {"Software": "lenscore"}
    return None


def variant_color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def distribution_plot(values: Mapping[str, Sequence[float]], *, title: str = "", unit: str = "",
                      direction: str = "neither", seed: int = 0,
                      means_ci: Mapping[str, tuple[float, float, float]] | None = None,
                      fmt: str = "svg") -> bytes:
    """Box plot and jittered points per variant (one row each), with the mean and its CI.

    Parameters
    ----------
    values : {variant: values}
        NaNs are dropped; the count of measurable values is shown beside each row.
    means_ci : {variant: (mean, lo, hi)}, optional
        Drawn as a black diamond with a bar.
    """
    plt = _plt()
    names = list(values)
    k = len(names)
    fig, ax = plt.subplots(figsize=(4.6, 0.7 + 0.46 * max(k, 1)))
    rng = np.random.default_rng(seed)
    finite_all = []
    for i, name in enumerate(names):
        x = np.asarray(values[name], dtype=float)
        x = x[np.isfinite(x)]
        y = k - 1 - i
        color = variant_color(i)
        if x.size:
            finite_all.append(x)
            ax.boxplot([x], positions=[y], orientation="horizontal", widths=0.5,
                       showfliers=False,
                       patch_artist=True, manage_ticks=False,
                       boxprops=dict(facecolor=color + "33", edgecolor=color, linewidth=1.0),
                       medianprops=dict(color=color, linewidth=1.6),
                       whiskerprops=dict(color=color, linewidth=0.9),
                       capprops=dict(color=color, linewidth=0.9))
            jitter = rng.uniform(-0.17, 0.17, size=x.size)
            ax.scatter(x, y + jitter, s=9, color=color, alpha=0.55, linewidths=0, zorder=3)
        if means_ci and name in means_ci:
            m, lo, hi = means_ci[name]
            if all(v is not None and math.isfinite(v) for v in (m, lo, hi)):
                ax.errorbar([m], [y + 0.36], xerr=[[m - lo], [hi - m]], fmt="D", ms=4,
                            color="#111", elinewidth=1.2, capsize=2.5, zorder=4)
    labels = [f"{_short(n)}  (n={int(np.isfinite(np.asarray(values[n], float)).sum())})"
              for n in names]
    ax.set_yticks(range(k - 1, -1, -1), labels)
    ax.set_ylim(-0.6, k - 0.3)
    arrow = {"higher": "  \u2192 better", "lower": "  \u2190 better"}.get(direction, "")
    ax.set_xlabel(_short(unit or "value", 48) + arrow)
    if title:
        ax.set_title(title, loc="left", fontweight="bold")
    if not finite_all:
        ax.text(0.5, 0.5, "not measurable on any image", transform=ax.transAxes, ha="center",
                va="center", color="#888")
        ax.set_xticks([])
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.ticklabel_format(axis="x", useOffset=False, style="plain") if finite_all else None
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.7)
    ax.set_axisbelow(True)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    return figure_bytes(fig, fmt)


def _short(s: str, n: int = 22) -> str:
    s = str(s)
    return s if len(s) <= n else s[: n - 1] + "\u2026"


# ----------------------------------------------------------------------------------------------
# CIE 1960 uv diagram
def planckian_uv(kelvin: Sequence[float] | np.ndarray) -> np.ndarray:
    """(u, v) in CIE 1960 UCS of blackbodies at ``kelvin`` (Ohno 2013 via colour-science)."""
    from colour.temperature import CCT_to_uv_Ohno2013

    k = np.atleast_1d(np.asarray(kelvin, dtype=float))
    return np.asarray(CCT_to_uv_Ohno2013(np.stack([k, np.zeros_like(k)], axis=-1)))


def _locus_normals(uv: np.ndarray) -> np.ndarray:
    t = np.gradient(uv, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    return np.stack([-t[:, 1], t[:, 0]], axis=1)  # points to +Duv (above the locus)


def draw_uv_diagram(ax: Any, *, points: np.ndarray | None = None,
                    point_colors: np.ndarray | None = None,
                    clusters: Sequence[Mapping[str, Any]] = (), title: str = "",
                    compact: bool = False) -> None:
    """Draw the Planckian locus with Kelvin ticks and the |Duv| <= 0.05 band on ``ax``, then
    the light-source samples (``points``, N x 2 uv) and ``clusters`` (dicts with ``uv``
    and optional ``label``, ``kelvin``, ``color``)."""
    kel = np.geomspace(1700, 20000, 200)
    uv = planckian_uv(kel)
    nrm = _locus_normals(uv)
    band_hi, band_lo = uv + DUV_LIMIT * nrm, uv - DUV_LIMIT * nrm
    ax.fill(np.r_[band_hi[:, 0], band_lo[::-1, 0]], np.r_[band_hi[:, 1], band_lo[::-1, 1]],
            color="#f1f3f4", zorder=0, lw=0)
    ax.plot(uv[:, 0], uv[:, 1], color="#444", lw=1.3, zorder=2)
    ticks = np.array(COMPACT_TICKS if compact else KELVIN_TICKS, float)
    tick_uv = planckian_uv(ticks)
    # local normals at each tick from a small finite difference
    eps = ticks * 0.01
    d = planckian_uv(ticks + eps) - planckian_uv(ticks - eps)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    tick_n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    for (u0, v0), (nu, nv), k in zip(tick_uv, tick_n, ticks):
        ax.plot([u0 - 0.006 * nu, u0 + 0.006 * nu], [v0 - 0.006 * nv, v0 + 0.006 * nv],
                color="#444", lw=1.0, zorder=2)
        ax.text(u0 - 0.013 * nu, v0 - 0.013 * nv, f"{k:.0f} K", fontsize=6.5 if compact else 7,
                color="#555", ha="center", va="center", rotation=0, zorder=2)
    if points is not None and len(points):
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        ok = np.all(np.isfinite(pts), axis=1)
        cols = point_colors if point_colors is not None else "#777"
        if isinstance(cols, np.ndarray):
            cols = np.clip(np.asarray(cols, float).reshape(-1, 3)[ok], 0, 1)
        ax.scatter(pts[ok, 0], pts[ok, 1], s=5 if compact else 12, c=cols, alpha=0.6,
                   linewidths=0 if compact else 0.3, edgecolors="#333", zorder=3,
                   rasterized=True)
    for c in clusters:
        cu = np.asarray(c.get("uv", (np.nan, np.nan)), dtype=float).ravel()
        if cu.size < 2 or not np.all(np.isfinite(cu[:2])):
            continue
        ax.scatter([cu[0]], [cu[1]], s=150, marker="o", facecolors="none",
                   edgecolors=c.get("color", "#111"), linewidths=2.0, zorder=4)
        label = c.get("label", "")
        if c.get("kelvin") is not None and np.isfinite(c["kelvin"]):
            label = f"{label} {c['kelvin']:.0f} K".strip()
        if label:
            ax.annotate(label, (cu[0], cu[1]), xytext=(8, 8), textcoords="offset points",
                        fontsize=8, fontweight="bold", color=c.get("color", "#111"), zorder=5)
    ax.set_xlabel("u (CIE 1960)", fontsize=7.5 if compact else 9)
    ax.set_ylabel("v (CIE 1960)", fontsize=7.5 if compact else 9)
    if compact:
        ax.tick_params(labelsize=6.5)
    ax.set_aspect("equal")
    # frame: the locus 1900..12000 K plus the data, with a margin
    frame = [planckian_uv([1900, 12000])]
    if points is not None and len(points):
        p = np.asarray(points, float).reshape(-1, 2)
        frame.append(p[np.all(np.isfinite(p), axis=1)])
    for c in clusters:
        cu = np.asarray(c.get("uv", (np.nan, np.nan)), float).ravel()[:2]
        if np.all(np.isfinite(cu)):
            frame.append(cu[None, :])
    f = np.concatenate([x for x in frame if len(x)])
    lo, hi = f.min(axis=0) - 0.025, f.max(axis=0) + 0.025
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.grid(color="#eeeeee", lw=0.6)
    if title:
        ax.set_title(title, loc="left", fontweight="bold")


def uv_diagram(*, points: np.ndarray | None = None, point_colors: np.ndarray | None = None,
               clusters: Sequence[Mapping[str, Any]] = (), title: str = "",
               fmt: str = "svg", size: tuple[float, float] = (4.2, 3.4),
               compact: bool = False, dpi: int = 110) -> bytes:
    """A standalone uv diagram (see :func:`draw_uv_diagram`) as SVG/PNG bytes."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=size)
    draw_uv_diagram(ax, points=points, point_colors=point_colors, clusters=clusters, title=title,
                    compact=compact)
    return figure_bytes(fig, fmt, dpi=dpi)
