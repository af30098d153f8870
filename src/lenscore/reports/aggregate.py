"""Per-variant aggregates of a scores table and the run's metadata: ``summary.json``."""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from importlib import metadata as _md
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lenscore import __version__
from lenscore.metrics.base import MetricFamily
from lenscore.reports.stats import bootstrap_ci

#: distinct prompts per variant kept (raw) in summary.json
MAX_PROMPTS = 50
#: how scores.csv keeps spreadsheets from running cells as formulas (see lenscore.evaluator.cells)
CSV_NOTE = ("text cells of scores.csv that start with = + - @ tab or CR (and are not numbers) "
            "are written with a leading apostrophe so spreadsheets do not run them as formulas; "
            "lenscore strips it when reading; the prompts here are raw")

PACKAGES = ("numpy", "opencv-python-headless", "scikit-image", "scipy", "pandas", "pillow",
            "colour-science", "matplotlib")


def package_versions(extra: Sequence[str] = ()) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in (*PACKAGES, *extra):
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            out[name] = None
    out["python"] = platform.python_version()
    return out


def metrics_metadata(families: Sequence[MetricFamily]) -> dict[str, Any]:
    from lenscore.evaluator.cache import jsonable

    return {f.name: {"version": f.version, "method": f.method,
                     "params": jsonable(f.params_dict()), "requires": list(f.requires),
                     "outputs": {o.name: {"unit": o.unit, "direction": o.direction,
                                          "range": [_json_num(o.range[0]), _json_num(o.range[1])],
                                          "description": o.description} for o in f.outputs}}
            for f in families}


def _json_num(v: float) -> float | str | None:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def describe(values: np.ndarray, *, seed: int = 0) -> dict[str, Any]:
    """n, mean, median, std (ddof=1) and a 95 % bootstrap CI of the mean; NaNs dropped."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0, "mean": None, "median": None, "std": None, "ci95": [None, None]}
    lo, hi = bootstrap_ci(x, seed=seed)
    return {"n": int(x.size), "mean": float(x.mean()), "median": float(np.median(x)),
            "std": float(x.std(ddof=1)) if x.size > 1 else None,
            "ci95": [None if math.isnan(lo) else lo, None if math.isnan(hi) else hi]}


def summarize(scores: "Any", families: Sequence[MetricFamily]) -> dict[str, dict[str, Any]]:
    """Per variant: n, n_failed and ``describe`` of every output (a pandas DataFrame in)."""
    out: dict[str, dict[str, Any]] = {}
    output_names = [o.name for f in families for o in f.outputs]
    for variant, g in scores.groupby("variant", sort=True, dropna=False):
        ok = g[g["status"] == "ok"]
        outs = {}
        for name in output_names:
            col = ok[name] if name in ok.columns else np.array([], dtype=float)
            outs[name] = describe(np.asarray(col, dtype=np.float64))
        prompts = [p for p in dict.fromkeys(g["prompt"].astype(str)) if p] \
            if "prompt" in g.columns else []
        out[str(variant)] = {"n": int(len(g)), "n_failed": int((g["status"] != "ok").sum()),
                             "n_prompts": len(prompts), "prompts": prompts[:MAX_PROMPTS],
                             "outputs": outs}
    return out


def read_scores(path: str | os.PathLike) -> "Any":
    """scores.csv as a DataFrame with text columns as str and metric columns as float."""
    import pandas as pd

    from lenscore.evaluator.cells import restore

    df = pd.read_csv(path, dtype={"path": str, "variant": str, "prompt": str, "seed": str,
                                  "status": str, "error": str, "notes": str},
                     keep_default_na=False)
    for c in df.columns:
        if "." in c:
            df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="coerce")
        elif not pd.api.types.is_numeric_dtype(df[c]):  # raw text of neutralised cells
            df[c] = df[c].map(restore)
    return df


def write_summary(out_dir: str | os.PathLike, families: Sequence[MetricFamily], *,
                  input_desc: str, extra: dict[str, Any] | None = None) -> Path:
    """Read ``out_dir/scores.csv`` and write ``out_dir/summary.json``."""
    out = Path(out_dir)
    df = read_scores(out / "scores.csv")
    summary: dict[str, Any] = {
        "lenscore_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "input": input_desc,
        "metrics": metrics_metadata(families),
        "packages": package_versions(),
        "scores_csv": CSV_NOTE,
        "variants": summarize(df, families),
    }
    if extra:
        summary.update(extra)
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, allow_nan=False), encoding="utf-8")
    return path
