"""``report.html`` (one self-contained file) and ``report.md`` for a scored run.

Entry point for other modules: :func:`write_report` (``lenscore score``/``demo``/``compare``
call it after scoring). It reads ``RUN_DIR/scores.csv`` (+ ``summary.json`` when present) and
works with any set of ``family.output`` columns.

The page has, top to bottom: verdict cards (variant vs baseline, direction-aware), the full
comparison table, per-variant means with 95 % CIs, units and direction arrows, a distribution
plot per output, a gallery of the best and worst images per metric family with the family's
overlay drawn on them (:mod:`lenscore.reports.overlays`), failed images, and the method.

Self-contained: images are JPEG thumbnails and plots SVG, both as base64 ``data:`` URIs; CSS is
inline; there is no script and no external resource. Every user-provided string (prompt, path,
variant, notes) goes through Jinja2's autoescape, so ``<script>`` in a prompt renders as text.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lenscore import __version__
from lenscore.reports import stats
from lenscore.reports.compare import (METHOD_TEXT, Comparison, OutputMeta, compare_scores,
                                      fmt_diff, fmt_num, fmt_p, metric_columns, output_meta,
                                      read_run, write_comparison_json)

def family_headline(family: str) -> tuple[str, ...]:
    """The outputs a family's report section leads with (``MetricFamily.headline``)."""
    from lenscore.metrics.base import families

    fam = families().get(family)
    return fam.headline if fam is not None else ()


def family_titles() -> dict[str, str]:
    """Section title per registered family (``MetricFamily.title``)."""
    from lenscore.metrics.base import families

    return {n: f.display_title for n, f in families().items()}


# ----------------------------------------------------------------------------------------------
# helpers
def data_uri(payload: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def _f(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return math.nan
    return x


def resolve_image(path: str, run_dir: Path, summary: Mapping[str, Any],
                  image_root: str | os.PathLike | None = None) -> Path | None:
    """Find an image of the scores table on disk (paths are stored relative to the input)."""
    p = Path(path)
    cands: list[Path] = []
    if image_root is not None:
        cands.append(Path(image_root) / p)
    if p.is_absolute():
        cands.append(p)
    for key in ("input_root", "input"):
        root = summary.get(key)
        if isinstance(root, str) and root:
            r = Path(root)
            for base in (r, r.parent):
                cands.append(base / p)
                if not base.is_absolute():
                    cands.append(run_dir.parent / base / p)
                    cands.append(run_dir / base / p)
    cands += [run_dir / p, run_dir.parent / p, Path.cwd() / p]
    for c in cands:
        try:
            if c.is_file():
                return c
        except OSError:
            continue
    return None


def _variant_stats(df: Any, cols: Sequence[str], summary: Mapping[str, Any],
                   variants: Sequence[str], seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per-variant n, n_failed, and per output n/mean/median/std/ci95: from summary.json when it
    covers the table, else computed (same function as the summary)."""
    recorded = summary.get("variants") if isinstance(summary, Mapping) else None
    if isinstance(recorded, Mapping) and all(v in recorded for v in variants) and all(
            c in (recorded[v].get("outputs") or {}) for v in variants for c in cols):
        return {v: dict(recorded[v]) for v in variants}
    from lenscore.reports.aggregate import describe

    out: dict[str, dict[str, Any]] = {}
    for v in variants:
        g = df[df["variant"].astype(str) == v]
        ok = g[g["status"].astype(str) == "ok"]
        out[v] = {"n": int(len(g)), "n_failed": int((g["status"].astype(str) != "ok").sum()),
                  "outputs": {c: describe(np.asarray(ok[c], dtype=float), seed=seed)
                              for c in cols}}
    return out


def _pick_headline(family: str, cols: Sequence[str], meta: Mapping[str, OutputMeta],
                   df: Any) -> str | None:
    fam_cols = [c for c in cols if c.split(".", 1)[0] == family]
    usable = [c for c in fam_cols if np.isfinite(np.asarray(df[c], float)).any()]
    for c in family_headline(family):
        if c in usable:
            return c
    for c in usable:
        if meta[c].direction != "neither":
            return c
    return usable[0] if usable else None


def _best_worst(df: Any, col: str, direction: str, k: int) -> tuple[list[int], list[int]]:
    x = np.asarray(df[col], dtype=float)
    idx = np.flatnonzero(np.isfinite(x))
    if idx.size == 0:
        return [], []
    order = idx[np.argsort(x[idx], kind="stable")]
    if direction != "lower":
        order = order[::-1]  # best first ("neither": highest first)
    k_best = min(k, math.ceil(order.size / 2))
    best = list(order[:k_best])
    rest = [i for i in order[::-1] if i not in best]
    worst = rest[:min(k, len(rest))]
    return [int(df.index[i]) for i in best], [int(df.index[i]) for i in worst]


def _short_diff(r: Any) -> str:
    """fmt_diff without a long unit (the unit is in the table)."""
    d = fmt_diff(r)
    if r.unit and len(r.unit) > 16 and d.endswith(" " + r.unit):
        d = d[: -len(r.unit) - 1]
    return d


def _remeasure_note(stored: float, now: float) -> str:
    """A warning when the overlay's re-measurement disagrees with scores.csv."""
    if math.isnan(stored) and math.isnan(now):
        return ""
    if math.isfinite(stored) and math.isfinite(now) and \
            abs(now - stored) <= 1e-3 * max(1.0, abs(stored)):
        return ""
    return (f"re-measured for this overlay: {fmt_num(now)} (scores.csv: {fmt_num(stored)}); "
            "the metric's code or the file changed since scoring: re-score to compare")


def _note_parts(notes: str) -> list[str]:
    """Split a row's ``notes`` ('; '-joined reasons) where the next reason starts with its
    'family:' or 'family.output:' label (a reason may itself contain '; ')."""
    import re

    parts = re.split(r";\s+(?=[A-Za-z_]\w*(?:\.\w+)?:\s)", str(notes or ""))
    return [p.strip() for p in parts if p.strip()]


def family_notes(notes: str, family: str) -> str:
    """The parts of a row's ``notes`` that concern one family ("bokeh.x: ..." or "bokeh: ...")."""
    keep = [p for p in _note_parts(notes)
            if p.startswith(family + ".") or p.startswith(family + ":")]
    return "; ".join(keep)


def _normalise_reason(text: str) -> str:
    """Group reasons that differ only by a count in parentheses ("(3 soft round highlights)")."""
    import re

    return re.sub(r"\s*\([^()]*\d[^()]*\)\s*$", "", text).strip()


def missing_reasons(ok: Any, variants: Sequence[str]) -> list[dict[str, Any]]:
    """NaN reasons from the ``notes`` column, counted per variant, most frequent first."""
    counts: dict[str, Counter] = {}
    if "notes" not in ok.columns:
        return []
    for v, notes in zip(ok["variant"].astype(str), ok["notes"]):
        for part in dict.fromkeys(_normalise_reason(p) for p in _note_parts(notes)):
            counts.setdefault(part, Counter())[v] += 1
    rows = [{"reason": k, "counts": [c.get(v, 0) for v in variants], "total": sum(c.values())}
            for k, c in counts.items()]
    rows.sort(key=lambda r: (-r["total"], r["reason"]))
    return rows


# ----------------------------------------------------------------------------------------------
# the report data
def build_report(run_dir: str | os.PathLike, *, comparison: Comparison | None = None,
                 baseline: str | None = None, gallery: bool = True, n_gallery: int = 3,
                 thumb_px: int = 440, seed: int = 0, min_effect_sd: float = 0.5,
                 min_effect: Mapping[str, float] | None = None,
                 image_root: str | os.PathLike | None = None,
                 compare: bool = True, scores: Any = None,
                 summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything the HTML and Markdown templates show (a plain dict; no HTML in it).

    ``scores``/``summary`` replace reading ``run_dir`` (e.g. two runs merged by
    ``lenscore compare``); a ``_source`` column, when present, gives each image's file.
    """
    from lenscore.reports import plots

    run_dir = Path(run_dir)
    if scores is None:
        df, summary = read_run(run_dir)
    else:
        df, summary = scores.copy(), dict(summary or {})
    df["variant"] = df["variant"].astype(str)
    cols = metric_columns(df)
    meta = output_meta(cols, summary)
    variants = list(dict.fromkeys(df["variant"]))
    vstats = _variant_stats(df, cols, summary, variants, seed=seed)
    ok = df[df["status"].astype(str) == "ok"]
    if comparison is None and compare and len(variants) >= 2 and cols:
        comparison = compare_scores(df, baseline=baseline, meta=meta, seed=seed,
                                    min_effect_sd=min_effect_sd, min_effect=min_effect)
    vcolor = {v: plots.variant_color(i) for i, v in enumerate(variants)}

    # --- verdict cards and comparison tables
    pairs = []
    if comparison is not None:
        for pc in comparison.pairs:
            rows = []
            for r in pc.results:
                m = comparison.outputs.get(r.output) or meta.get(r.output) or OutputMeta(r.output)
                rows.append({
                    "output": r.output, "arrow": m.arrow, "unit": r.unit,
                    "description": m.description, "direction": m.direction,
                    "mean_a": fmt_num(r.mean_baseline), "mean_b": fmt_num(r.mean_variant),
                    "diff": fmt_diff(r), "diff_short": _short_diff(r),
                    "p": fmt_p(r.p_value), "p_holm": fmt_p(r.p_holm),
                    "cliff": "n/a" if not math.isfinite(r.cliffs_delta)
                    else f"{r.cliffs_delta:+.2f}",
                    "win": "n/a" if not math.isfinite(r.win_rate) else f"{r.win_rate:.0%}",
                    "n": r.n_used, "verdict": r.verdict,
                    "vclass": r.verdict.split()[0] if r.verdict else "",
                    "power_line": r.power_line, "underpowered": r.underpowered, "note": r.note})
            pairs.append(_pair_view(pc, rows, vcolor, comparison))

    # --- per-variant summary table, grouped by family
    families: dict[str, list[dict[str, Any]]] = {}
    for c in cols:
        m = meta[c]
        cells = []
        for v in variants:
            d = (vstats.get(v, {}).get("outputs") or {}).get(c) or {}
            mean, ci = d.get("mean"), d.get("ci95") or [None, None]
            cells.append({"mean": fmt_num(_f(mean)) if mean is not None else "not measurable",
                          "ci": (f"{fmt_num(_f(ci[0]))} \u2013 {fmt_num(_f(ci[1]))}"
                                 if ci and ci[0] is not None and ci[1] is not None else ""),
                          "n": d.get("n", 0)})
        families.setdefault(c.split(".", 1)[0], []).append(
            {"output": c, "short": c.split(".", 1)[1], "unit": m.unit, "arrow": m.arrow,
             "direction": m.direction, "description": m.description, "cells": cells})

    # --- distribution plots
    dist = []
    for c in cols:
        values = {v: np.asarray(ok.loc[ok["variant"] == v, c], dtype=float) for v in variants}
        if not any(np.isfinite(x).any() for x in values.values()):
            continue
        mci = {}
        for v in variants:
            d = (vstats.get(v, {}).get("outputs") or {}).get(c) or {}
            ci = d.get("ci95") or [None, None]
            if d.get("mean") is not None and ci[0] is not None and ci[1] is not None:
                mci[v] = (_f(d["mean"]), _f(ci[0]), _f(ci[1]))
        svg = plots.distribution_plot(values, title=c, unit=meta[c].unit,
                                      direction=meta[c].direction, means_ci=mci, seed=seed)
        dist.append({"output": c, "src": data_uri(svg, "image/svg+xml"),
                     "description": meta[c].description})
    not_measured = [c for c in cols if not np.isfinite(np.asarray(ok[c], float)).any()]

    # --- gallery
    galleries = []
    gallery_errors: list[str] = []
    if gallery and len(ok):
        galleries, gallery_errors = _build_gallery(run_dir, summary, ok, cols, meta, vcolor,
                                                   n_gallery=n_gallery, thumb_px=thumb_px,
                                                   image_root=image_root)

    # --- "prompt against render" (physics): one panel per variant
    panels = prompt_panels(run_dir, summary, ok, variants, vcolor, draw=gallery,
                           image_root=image_root, thumb_px=max(thumb_px, 520))

    # --- failures and missing-value reasons
    failed = df[df["status"].astype(str) != "ok"]
    failures = [{"path": str(r["path"]), "variant": str(r["variant"]), "error": str(r["error"])}
                for _, r in failed.iterrows()]
    reasons = missing_reasons(ok, variants)
    fam_meta = {}
    for fam, d in (summary.get("metrics") or {}).items():
        fam_meta[fam] = {"version": d.get("version", ""), "method": d.get("method", "")}

    n_total = int(len(df))
    return {
        "title": "lenscore report",
        "run_dir": str(run_dir),
        "input": str(summary.get("input", "")),
        "created": str(summary.get("created", "")),
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "scored_with": summary.get("lenscore_version", ""),
        "n_total": n_total, "n_ok": int(len(ok)), "n_failed": int(len(failed)),
        "variants": [{"name": v, "color": vcolor[v], "n": vstats.get(v, {}).get("n", 0),
                      "n_failed": vstats.get(v, {}).get("n_failed", 0),
                      "is_baseline": comparison is not None and v == comparison.baseline}
                     for v in variants],
        "pairs": pairs,
        "families": families,
        "family_titles": family_titles(),
        "dist": dist, "not_measured": not_measured,
        "galleries": galleries, "gallery_errors": gallery_errors[:20],
        "prompt_panels": panels,
        "failures": failures[:200], "n_failures_hidden": max(0, len(failures) - 200),
        "reasons": reasons[:15],
        "family_meta": fam_meta,
        "method": METHOD_TEXT if comparison is not None else "",
        "settings": comparison.settings if comparison is not None else {},
        "alpha": comparison.alpha if comparison is not None else 0.05,
        "comparison": comparison,
        "variant_stats": vstats,
        "meta": meta,
    }


def _pair_view(pc: Any, rows: list[dict[str, Any]], vcolor: Mapping[str, str],
               comparison: Comparison) -> dict[str, Any]:
    """One variant pair for the templates: the one-line answer and the prompts first, quality
    outputs (a better direction) apart from descriptive ones, the power hint once."""
    from lenscore.reports.compare import answer_line, power_summary

    quality = [x for x in rows if x["direction"] in ("higher", "lower")]
    descriptive = [x for x in rows if x["direction"] not in ("higher", "lower")]
    cards = [x for x in quality if x["verdict"] in (stats.BETTER, stats.WORSE)]
    cards.sort(key=lambda x: {stats.BETTER: 0, stats.WORSE: 1}[x["verdict"]])
    power = float(comparison.settings.get("power", 0.8)) if comparison.settings else 0.8
    return {"baseline": pc.baseline, "variant": pc.variant,
            "color_a": vcolor.get(pc.baseline, "#888"), "color_b": vcolor.get(pc.variant, "#888"),
            "answer": answer_line(pc), "pairing_note": pc.pairing_note,
            "prompts": [{"variant": pc.variant, "color": vcolor.get(pc.variant, "#888"),
                         "prompts": list(pc.prompts_variant)},
                        {"variant": pc.baseline, "color": vcolor.get(pc.baseline, "#888"),
                         "prompts": list(pc.prompts_baseline)}],
            "rows": rows, "cards": cards,
            "quiet": [x for x in quality if x["verdict"] == stats.NO_DIFFERENCE],
            "missing": [x for x in quality if x["verdict"] == stats.NOT_ENOUGH],
            "descriptive": descriptive,
            "differs": [x for x in descriptive if x["verdict"] == stats.DIFFERS],
            "desc_quiet": [x for x in descriptive if x["verdict"] == stats.NO_DIFFERENCE],
            "desc_missing": [x for x in descriptive if x["verdict"] == stats.NOT_ENOUGH],
            "counts": Counter(x["verdict"] for x in quality),
            "power": power_summary(pc, power=power)}


def _build_gallery(run_dir: Path, summary: Mapping[str, Any], ok: Any, cols: Sequence[str],
                   meta: Mapping[str, OutputMeta], vcolor: Mapping[str, str], *, n_gallery: int,
                   thumb_px: int, image_root: Any) -> tuple[list[dict[str, Any]], list[str]]:
    from lenscore.reports import overlays

    fams = list(dict.fromkeys(c.split(".", 1)[0] for c in cols))
    plan = []  # (family, headline, best idx, worst idx)
    needed: dict[int, set[str]] = {}
    for fam in fams:
        head = _pick_headline(fam, cols, meta, ok)
        if head is None:
            continue
        best, worst = _best_worst(ok, head, meta[head].direction, n_gallery)
        plan.append((fam, head, best, worst))
        for i in best + worst:
            needed.setdefault(i, set()).add(fam)
    cache: dict[int, tuple[np.ndarray | None, dict[str, Any]]] = {}
    errors: list[str] = []
    for i, fams_i in needed.items():
        row = ok.loc[i]
        src = str(row.get("_source", "") or "")
        path = Path(src) if src and Path(src).is_file() else \
            resolve_image(str(row["path"]), run_dir, summary, image_root)
        if path is None:
            errors.append(f"{row['path']}: image not found (looked beside the run and the input)")
            cache[i] = (None, {})
            continue
        drawable = overlays.drawable_families()
        draw = [f for f in fams_i if f in drawable]
        try:
            if draw:
                rgb, results = overlays.measure_image(
                    path, families=draw, prompt=str(row.get("prompt", "") or "") or None)
            else:
                from lenscore.datasets.decode import decode_image

                rgb, results = decode_image(path).rgb, {}
        except Exception as e:  # noqa: BLE001 - one unreadable image must not lose the report
            errors.append(f"{row['path']}: {type(e).__name__}: {e}")
            cache[i] = (None, {})
            continue
        cache[i] = (rgb, results)
    out = []
    titles = family_titles()
    for fam, head, best, worst in plan:
        m = meta[head]
        sides = []
        for label, idxs in (("best", best), ("worst", worst)):
            tiles = []
            for i in idxs:
                row = ok.loc[i]
                rgb, results = cache.get(i, (None, {}))
                tile = {"path": str(row["path"]), "name": Path(str(row["path"])).name,
                        "variant": str(row["variant"]), "color": vcolor.get(str(row["variant"])),
                        "prompt": str(row.get("prompt", "") or ""),
                        "seed": str(row.get("seed", "") or ""),
                        "value": fmt_num(_f(row[head])), "unit": m.unit,
                        "notes": family_notes(str(row.get("notes", "") or ""), fam),
                        "src": None, "panel": None, "remeasured": ""}
                if rgb is not None:
                    res = results.get(fam)
                    if res is not None and head in res.values:
                        tile["remeasured"] = _remeasure_note(_f(row[head]), _f(res.values[head]))
                    img = overlays.overlay(fam, rgb, res, long_side=thumb_px) if res is not None \
                        else overlays.thumbnail(rgb, thumb_px)[0]
                    tile["src"] = data_uri(overlays.encode_image(img, "jpeg", 84), "image/jpeg")
                    png = overlays.family_plot(fam, res, size=(3.4, 2.5), title="", fmt="png",
                                               compact=True, dpi=130)
                    if png:
                        tile["panel"] = data_uri(png, "image/png")
                tiles.append(tile)
            sides.append({"label": label, "tiles": tiles})
        out.append({"family": fam, "title": titles.get(fam, fam), "output": head,
                    "arrow": m.arrow, "direction": m.direction, "sides": sides})
    return out, errors


# ----------------------------------------------------------------------------------------------
# "prompt against render" (issue 18): what each variant's prompt predicts beside what its renders
# show, drawn on one of them, with the lint reading of the prompt
_PANEL_READS = ("focus.background_blur_px", "physics.blur_ratio", "physics.blur_error",
                "color.subject_cct_k", "color.background_cct_k", "color.delta_mired",
                "physics.key_kelvin_error_mired", "physics.background_kelvin_error_mired",
                "physics.delta_mired_error", "bokeh.orb_diameter_frac", "bokeh.aspect",
                "physics.orb_aspect_error", "physics.spec_coverage")


def _median(g: Any, col: str) -> tuple[float, int]:
    if col not in g.columns:
        return math.nan, 0
    x = np.asarray(g[col], dtype=float)
    x = x[np.isfinite(x)]
    return (float(np.median(x)), int(x.size)) if x.size else (math.nan, 0)


def _k(v: float) -> str:
    return f"{v:.0f} K" if math.isfinite(v) else "not measured"


def prompt_panel(prompt: str, g: Any, *, long_side_px: int, width_px: int) -> dict[str, Any]:
    """One variant's panel data (no image): the prompt's predictions and lint reading against
    the medians of what its renders measured (``g``: the variant's ok rows of scores.csv)."""
    from lenscore.metrics.physics import PARAMS, blur_sentence, lens_words
    from lenscore.reports.lint import lint

    lr = lint(prompt, width_px=long_side_px)
    pr = lr.predictions
    med = {c: _median(g, c) for c in _PANEL_READS}
    n = int(len(g))
    rows: list[dict[str, str]] = []
    sentences: list[str] = []
    lens = lens_words(pr)
    bg = pr.background
    seen_px, n_seen = med["focus.background_blur_px"]
    ratio = med["physics.blur_ratio"][0]
    if bg is not None:
        pred = bg.px(long_side_px) if bg.frac is not None else bg.px_range(long_side_px)
        pred_txt = (f"{pred:.0f} px ({100 * bg.frac:.1f} % of the frame)" if bg.frac is not None
                    else f"{pred[0]:.0f}-{pred[1]:.0f} px")
        rows.append({"what": f"background disc ({bg.label})",
                     "asked": f"{pred_txt}, {lens}",
                     "seen": f"{seen_px:.0f} px" if math.isfinite(seen_px) else "not measured",
                     "off": (f"x{ratio:.2f} ({med['physics.blur_error'][0]:.1f} stops)"
                             if math.isfinite(ratio) else "n/a"),
                     "n": str(n_seen)})
        if math.isfinite(ratio) and math.isfinite(seen_px):
            sentences.append(blur_sentence(ratio, lens, bg.label, pred, seen_px))
        else:
            sentences.append(f"the prompt predicts {pred_txt} background discs for the {bg.label}; "
                             f"the renders show no measurable background blur")
    else:
        rows.append({"what": "background disc", "asked": "not predicted (no lens, aperture and "
                     "distances)", "seen": f"{seen_px:.0f} px" if math.isfinite(seen_px) else
                     "not measured", "off": "n/a", "n": str(n_seen)})
    for role, slot, col, err in (("key", "key", "color.subject_cct_k", "physics.key_kelvin_error_mired"),
                                 ("background", "background", "color.background_cct_k",
                                  "physics.background_kelvin_error_mired")):
        li = pr.light_for(role)
        how = "" if li is not None else " (best fit)"
        if li is None and pr.lights:  # the panel shows what the family matched, by Kelvin
            ks = [x for x in pr.lights if x.kelvin is not None]
            seen_k = med[col][0]
            if ks and math.isfinite(seen_k):
                li = min(ks, key=lambda x: abs(1e6 / x.kelvin - 1e6 / seen_k))
        e = med[err][0]
        rows.append({"what": f"{role} light",
                     "asked": (f"{li.kelvin:.0f} K ('{li.text}'){how}" if li is not None and
                               li.kelvin is not None else "not stated"),
                     "seen": _k(med[col][0]),
                     "off": f"{e:.0f} mired" if math.isfinite(e) else "n/a", "n": str(med[col][1])})
    if pr.delta_mired is not None:
        e = med["physics.delta_mired_error"][0]
        dm = med["color.delta_mired"][0]
        rows.append({"what": "warm-cool separation", "asked": f"{pr.delta_mired:.0f} mired",
                     "seen": f"{dm:.0f} mired" if math.isfinite(dm) else "not measured",
                     "off": f"{e:.0f} mired" if math.isfinite(e) else "n/a",
                     "n": str(med["color.delta_mired"][1])})
    if pr.orb_shape is not None:
        a = med["bokeh.aspect"][0]
        e = med["physics.orb_aspect_error"][0]
        asked = pr.orb_shape.kind.replace("_", " ")
        if pr.orb_shape.aspect is not None:
            asked += f", aspect {pr.orb_shape.aspect:g}"
        rows.append({"what": "orb shape", "asked": asked,
                     "seen": (f"aspect {max(a, 1 / a):.2f}" if math.isfinite(a) and a > 0
                              else "no orbs measured"),
                     "off": f"{100 * e:.0f} %" if math.isfinite(e) else "n/a",
                     "n": str(med["bokeh.aspect"][1])})
    ke = med["physics.key_kelvin_error_mired"][0]
    be = med["physics.background_kelvin_error_mired"][0]
    tol = PARAMS.obedient_mired
    kparts = [f"the {name} light is {e:.0f} mired from the prompt's Kelvin "
              f"({'obedient' if e <= tol else 'disobedient'}: the band is {tol:g} mired)"
              for name, e in (("key", ke), ("background", be)) if math.isfinite(e)]
    if kparts:
        sentences.append("; ".join(kparts))
    if pr.coverage == 0:
        sentences = ["the prompt states no lens, aperture, distances or light colours: nothing to "
                     "hold the renders against; the lint reading below says what to state"]
    return {
        "prompt": prompt, "n": n, "lens": lens or "not stated",
        "coverage": f"{round(6 * pr.coverage)} of 6",
        "missing": list(pr.missing), "rows": rows, "sentence": "; ".join(sentences),
        "effects": [{"phrase": f.phrase or "", "message": f.message, "rewrite": f.rewrite or ""}
                    for f in lr.effects],
        "warnings": [{"phrase": f.phrase or "", "message": f.message, "rewrite": f.rewrite or ""}
                     for f in lr.warnings],
        "contradictions": [{"phrase": f.phrase or "", "message": f.message,
                            "rewrite": f.rewrite or ""} for f in lr.contradictions],
        "predictions": [x for x in _prediction_words(lr)],
        "src": None, "image_name": "", "image_error": "", "image_pick": "",
    }


def _prediction_words(lr: Any) -> list[str]:
    """The lint's predictions in words (the lines ``lenscore lint`` prints)."""
    from lenscore.reports.lint import _prediction_lines

    out = []
    for ln in _prediction_lines(lr, 100):
        t = ln.strip()
        if t.startswith("- "):
            out.append(t[2:])
        elif out and t and not t.endswith(":"):
            out[-1] += " " + t
    return out


def prompt_panels(run_dir: Path, summary: Mapping[str, Any], ok: Any, variants: Sequence[str],
                  vcolor: Mapping[str, str], *, draw: bool = True, image_root: Any = None,
                  thumb_px: int = 520) -> list[dict[str, Any]]:
    """A "prompt against render" panel per variant that has a prompt (the most common prompt
    of its renders), with the physics overlay drawn on its median render by ``physics.blur_error``
    (re-measured with that prompt) when ``draw``."""
    from collections import Counter as _Counter

    if "prompt" not in ok.columns:
        return []
    out = []
    for v in variants:
        g = ok[ok["variant"].astype(str) == v]
        prompts = [str(p) for p in g["prompt"] if isinstance(p, str) and p.strip()]
        if not prompts:
            continue
        prompt, count = _Counter(prompts).most_common(1)[0]
        gp = g[g["prompt"].astype(str) == prompt]
        try:
            w = int(np.nanmedian(np.asarray(gp["width"], dtype=float)))
            h = int(np.nanmedian(np.asarray(gp["height"], dtype=float)))
        except (KeyError, TypeError, ValueError):
            w = h = 1024
        panel = prompt_panel(prompt, gp, long_side_px=max(w, h), width_px=w)
        panel.update(variant=v, color=vcolor.get(v, "#888"),
                     other_prompts=len(set(prompts)) - 1, n_prompt=count)
        if draw and len(gp):
            err = np.asarray(gp["physics.blur_error"], float) if "physics.blur_error" in gp.columns \
                else np.full(len(gp), np.nan)
            fin = np.flatnonzero(np.isfinite(err))
            pos = int(fin[np.argsort(err[fin])[len(fin) // 2]]) if fin.size else 0
            row = gp.iloc[pos]
            panel["image_pick"] = ("the variant's median by physics.blur_error" if fin.size
                                   else "its first image")
            src = str(row.get("_source", "") or "")
            path = Path(src) if src and Path(src).is_file() else \
                resolve_image(str(row["path"]), run_dir, summary, image_root)
            panel["image_name"] = Path(str(row["path"])).name
            if path is None:
                panel["image_error"] = "image not found beside the run or its input"
            else:
                try:
                    from lenscore.reports import overlays

                    rgb, results = overlays.measure_image(path, families=["physics"], prompt=prompt)
                    img = overlays.overlay("physics", rgb, results.get("physics"), long_side=thumb_px)
                    panel["src"] = data_uri(overlays.encode_image(img, "jpeg", 86), "image/jpeg")
                except Exception as e:  # noqa: BLE001 - one unreadable image must not lose the report
                    panel["image_error"] = f"{type(e).__name__}: {e}"
        out.append(panel)
    return out


# ----------------------------------------------------------------------------------------------
# rendering
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lenscore.reports", "templates"),
        autoescape=True, trim_blocks=True, lstrip_blocks=True,
        undefined=jinja2.StrictUndefined)
    return env


def render_html(data: Mapping[str, Any]) -> str:
    """The report page from :func:`build_report`'s data (autoescaped)."""
    return _env().get_template("report.html.j2").render(**data)


def render_report_markdown(data: Mapping[str, Any]) -> str:
    from lenscore.reports.markdown import render_markdown

    variants = [v["name"] for v in data["variants"]]
    run_line = (f"{data['n_ok']} of {data['n_total']} images scored in {len(variants)} "
                f"variant(s): {', '.join(variants)}")
    from lenscore.reports.markdown import prompt_panels_markdown

    md = render_markdown(title=("lenscore: " + " / ".join(
        f"{p['variant']} vs {p['baseline']}" for p in data["pairs"])) if data["pairs"]
        else "lenscore report", run_line=run_line, comparison=data["comparison"],
        variant_stats=data["variant_stats"], meta=data["meta"], failures=data["n_failed"])
    extra = prompt_panels_markdown(data.get("prompt_panels") or [])
    return md + ("\n" + "\n".join(extra) + "\n" if extra else "")


def write_report(run_dir: str | os.PathLike, *, out_dir: str | os.PathLike | None = None,
                 comparison: Comparison | None = None, baseline: str | None = None,
                 gallery: bool = True, n_gallery: int = 3, seed: int = 0,
                 min_effect_sd: float = 0.5, min_effect: Mapping[str, float] | None = None,
                 image_root: str | os.PathLike | None = None, scores: Any = None,
                 summary: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write ``report.html`` and ``report.md`` (and ``comparison.json`` when the run has two or
    more variants) for the scored run in ``run_dir``; returns {"html", "md"[, "json"]} paths.

    ``comparison`` reuses a comparison already computed (e.g. across two runs); otherwise the
    run's variants are compared against ``baseline`` (default: the first variant).
    """
    data = build_report(run_dir, comparison=comparison, baseline=baseline, gallery=gallery,
                        n_gallery=n_gallery, seed=seed, min_effect_sd=min_effect_sd,
                        min_effect=min_effect, image_root=image_root, scores=scores,
                        summary=summary)
    out = Path(out_dir) if out_dir is not None else Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "report.html", "md": out / "report.md"}
    paths["html"].write_text(render_html(data), encoding="utf-8")
    paths["md"].write_text(render_report_markdown(data), encoding="utf-8")
    if data["comparison"] is not None:
        paths["json"] = write_comparison_json(data["comparison"], out / "comparison.json")
    return paths
