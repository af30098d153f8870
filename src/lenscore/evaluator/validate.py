"""Validation against known truth: render sweeps with the ground-truth renderer, score them, and
compare every metric with the truth and with its targets (each family states its own checks and
targets in ``MetricFamily.validate``; see docs/architecture.md).

Each check is a :class:`Check` with the measured figure, the target and PASS/FAIL; a check whose
metric is not installed is reported as such, never silently passed. ``quick=True`` runs a reduced
sweep (the same checks, fewer scenes, smaller images) for the test suite.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np


@dataclass
class Check:
    family: str
    name: str
    measured: float
    target: str
    passed: bool | None          # None = could not be measured
    detail: str = ""
    unit: str = ""

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "N/A"}[self.passed]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measured"] = None if not np.isfinite(self.measured) else float(self.measured)
        d["verdict"] = self.verdict
        return d


# ---- scoring scenes ---------------------------------------------------------------------------
def _score_spec(spec: Any) -> tuple[dict[str, float], dict[str, Any], dict[str, Any]]:
    """Render one scene, score it in memory: (values, truth, artifacts by family)."""
    from lenscore.context import ImageContext
    from lenscore.datasets.synthetic import render
    from lenscore.evaluator.run import compute_families

    r = render(spec)
    ctx = ImageContext(r.rgb)
    results = compute_families(ctx)
    values: dict[str, float] = {}
    arts: dict[str, Any] = {}
    for fam, res in results.items():
        values.update(res.values)
        arts[fam] = {k: v for k, v in res.artifacts.items() if k in ("orbs",)}
    return values, r.truth, arts


def score_rgb(rgb: np.ndarray) -> dict[str, float]:
    from lenscore.context import ImageContext
    from lenscore.evaluator.run import compute_families

    values: dict[str, float] = {}
    for res in compute_families(ImageContext(rgb)).values():
        values.update(res.values)
    return values


def score_specs(specs: Sequence[Any], *, jobs: int = 1) -> list[tuple[dict, dict, dict]]:
    from lenscore.evaluator.executors import parallel_map

    return parallel_map(_score_spec, list(specs), jobs=jobs)


def mired(kelvin: float) -> float:
    """Micro reciprocal degrees: 1e6 / K."""
    return 1e6 / kelvin


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation over the pairs where both are finite (NaN with < 3 pairs)."""
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.all(y[ok] == y[ok][0]):
        return math.nan
    return float(spearmanr(x[ok], y[ok]).statistic)


def has_output(values: dict, name: str) -> bool:
    return name in values


def missing(family: str, name: str, target: str, output: str) -> Check:
    return Check(family, name, math.nan, target, None, f"{output} is not produced by any installed family")


# ---- the sweeps ------------------------------------------------------------------------------
@dataclass
class Plan:
    size: int = 768
    seeds: tuple[int, ...] = (0, 1, 2)
    f_numbers: tuple[float, ...] = (1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0)
    kelvins: tuple[float, ...] = (2200, 2700, 3200, 4000, 5000, 6500, 8000, 9500)
    smoothing_levels: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    pore_amplitudes: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2)
    apertures: tuple[str, ...] = ("circle", "blades9", "blades6", "blades5", "gaussian")
    hi_res: int = 1536

    @classmethod
    def quick(cls) -> "Plan":
        return cls(size=512, seeds=(0, 1), f_numbers=(1.4, 2.8, 5.6, 11.0, 16.0),
                   kelvins=(2200, 3200, 5000, 9500), smoothing_levels=(0, 2, 4),
                   pore_amplitudes=(0.0, 0.1, 0.2), hi_res=1024)


def run_validation(*, quick: bool = False, jobs: int = 1, families: Sequence[str] | None = None,
                   on_family: Callable[[str], None] | None = None) -> list[Check]:
    """Every registered family's checks (``MetricFamily.validate``), in column order."""
    from lenscore.metrics.base import families as registry

    plan = Plan.quick() if quick else Plan()
    checks: list[Check] = []
    for name, fam in registry().items():
        if fam.validate is None or (families is not None and name not in families):
            continue
        if on_family:
            on_family(name)
        checks += fam.validate(plan, jobs)
    return checks


# ---- real pairs -------------------------------------------------------------------------------
def validate_pairs(manifest: str, data_dir: str | None = None) -> list[Check]:
    """Real pairs where a person knows which image should score higher.

    ``manifest``: CSV with columns ``higher, lower, output`` (paths relative to ``data_dir``,
    default the manifest's folder); one check per row: the ``higher`` image's ``output`` must
    exceed the ``lower`` image's (for an output where lower is better, the reverse).
    """
    import csv
    from pathlib import Path

    from lenscore.context import ImageContext
    from lenscore.datasets.decode import decode_image
    from lenscore.errors import ConfigError
    from lenscore.evaluator.run import compute_families
    from lenscore.metrics.base import get_output

    mpath = Path(manifest)
    base = Path(data_dir) if data_dir else mpath.parent
    with open(mpath, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    checks = []
    cache: dict[str, dict[str, float]] = {}

    def values(rel: str) -> dict[str, float]:
        if rel not in cache:
            ctx = ImageContext(decode_image(base / rel).rgb)
            vals: dict[str, float] = {}
            for res in compute_families(ctx).values():
                vals.update(res.values)
            cache[rel] = vals
        return cache[rel]

    for i, row in enumerate(rows, start=2):
        if not {"higher", "lower", "output"} <= set(row):
            raise ConfigError("expected columns higher, lower, output", source=str(mpath), line=1)
        out = get_output(row["output"])
        for col in ("higher", "lower"):
            if not (base / row[col]).is_file():
                raise ConfigError(
                    f"image not found: {base / row[col]} (paths are relative to "
                    f"{'--data' if data_dir else 'the manifest folder'} {base}); point --data at "
                    "the folder that holds the images", source=str(mpath), line=i, column=col)
        hi, lo = values(row["higher"])[out.name], values(row["lower"])[out.name]
        better = hi < lo if out.direction == "lower" else hi > lo
        checks.append(Check(out.family, f"{row['higher']} above {row['lower']} on {out.name}",
                            hi / lo if lo else math.nan, "> 1 (ratio)", bool(better),
                            f"{hi:.4g} vs {lo:.4g} {out.unit}"))
    return checks
