"""Validation against known truth: render sweeps with the ground-truth renderer, score them, and
compare every metric with the truth and with the targets of the design card (METRICS.md).

Each check is a :class:`Check` with the measured figure, the target and PASS/FAIL; a check whose
metric is not installed is reported as such, never silently passed. ``quick=True`` runs a reduced
sweep (the same checks, fewer scenes, smaller images) for the test suite.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
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


def _score_rgb(rgb: np.ndarray) -> dict[str, float]:
    from lenscore.context import ImageContext
    from lenscore.evaluator.run import compute_families

    values: dict[str, float] = {}
    for res in compute_families(ImageContext(rgb)).values():
        values.update(res.values)
    return values


def score_specs(specs: Sequence[Any], *, jobs: int = 1) -> list[tuple[dict, dict, dict]]:
    from lenscore.evaluator.executors import parallel_map

    return parallel_map(_score_spec, list(specs), jobs=jobs)


def _spearman(x: Sequence[float], y: Sequence[float]) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.all(y[ok] == y[ok][0]):
        return math.nan
    return float(spearmanr(x[ok], y[ok]).statistic)


def _has(values: dict, name: str) -> bool:
    return name in values


def _missing(family: str, name: str, target: str, output: str) -> Check:
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


def validate_focus(plan: Plan, jobs: int) -> list[Check]:
    from lenscore.datasets.synthetic import SceneSpec

    checks: list[Check] = []
    specs = [SceneSpec(width=plan.size, height=plan.size, f_number=n, n_lights=0, seed=s,
                       key_kelvin=5000, background_kelvin=5000)
             for s in plan.seeds for n in plan.f_numbers]
    res = score_specs(specs, jobs=jobs)
    if not res or not _has(res[0][0], "focus.separation"):
        return [_missing("focus", "separation rises with aperture", ">= 0.95", "focus.separation")]
    rhos, errs = [], []
    k = len(plan.f_numbers)
    for i in range(len(plan.seeds)):
        chunk = res[i * k:(i + 1) * k]
        seps = [v["focus.separation"] for v, _, _ in chunk]
        rhos.append(_spearman([1.0 / n for n in plan.f_numbers], seps))
        for v, t, _ in chunk:
            truth_c = t["coc_px"]["background"]
            est = v.get("focus.background_blur_px", math.nan)
            if truth_c >= 4 and np.isfinite(est):
                errs.append(abs(est - truth_c) / truth_c)
    rho = float(np.nanmin(rhos)) if rhos else math.nan
    checks.append(Check("focus", "separation rises with aperture (min Spearman over scenes)", rho,
                        ">= 0.95", bool(rho >= 0.95), f"{len(plan.seeds)} scenes x f/{plan.f_numbers[0]}"
                        f"..f/{plan.f_numbers[-1]}"))
    if errs:
        med = float(np.median(errs))
        checks.append(Check("focus", "background blur diameter error (median |rel err|)", 100 * med,
                            "<= 20 %", bool(med <= 0.20),
                            f"{len(errs)} scenes with truth CoC >= 4 px; worst {100 * max(errs):.0f} %",
                            unit="%"))
    # resolution invariance: the same scene at plan.size and plan.hi_res
    pair = [SceneSpec(width=w, height=w, f_number=2.0, n_lights=0, seed=s, key_kelvin=5000,
                      background_kelvin=5000) for s in plan.seeds[:2] for w in (plan.size, plan.hi_res)]
    pres = score_specs(pair, jobs=jobs)
    diffs = []
    for i in range(0, len(pres), 2):
        a, b = pres[i][0]["focus.separation"], pres[i + 1][0]["focus.separation"]
        if np.isfinite(a) and np.isfinite(b) and b != 0:
            diffs.append(abs(a - b) / abs(b))
    worst = max(diffs) if diffs else math.nan
    checks.append(Check("focus", f"separation at {plan.size} vs {plan.hi_res} px (worst rel diff)",
                        100 * worst, "<= 10 %", bool(worst <= 0.10) if diffs else None,
                        f"{len(diffs)} scenes", unit="%"))
    return checks


def _match_orbs(found: list[dict], truth: list[dict]) -> tuple[int, int, int, list[float]]:
    """Greedy match by centre distance (< half the true radius + 2 px): tp, fp, fn, diameter errors."""
    used: set[int] = set()
    tp, derr = 0, []
    for t in truth:
        best, bi = math.inf, -1
        for i, f in enumerate(found):
            if i in used:
                continue
            d = math.hypot(f["x"] - t["x"], f["y"] - t["y"])
            if d < best:
                best, bi = d, i
        if bi >= 0 and best <= 0.5 * t["diameter_px"] / 2 + 2:
            used.add(bi)
            tp += 1
            derr.append(abs(2 * found[bi]["r"] - t["diameter_px"]) / t["diameter_px"])
    return tp, len(found) - len(used), len(truth) - tp, derr


def validate_bokeh(plan: Plan, jobs: int) -> list[Check]:
    from lenscore.datasets.synthetic import SceneSpec

    specs = [SceneSpec(width=plan.size, height=plan.size, aperture=a, seed=s, n_lights=10,
                       light_depth_m=(8.0, 60.0), key_kelvin=5000, background_kelvin=5000)
             for s in plan.seeds for a in plan.apertures]
    res = score_specs(specs, jobs=jobs)
    if not res or not _has(res[0][0], "bokeh.circularity"):
        return [_missing("bokeh", "orb detection", ">= 0.9", "bokeh.circularity")]
    tp = fp = fn = 0
    derrs: list[float] = []
    order_ok, gauss_ok, n_scenes = 0, 0, 0
    k = len(plan.apertures)
    for i in range(len(plan.seeds)):
        chunk = dict(zip(plan.apertures, res[i * k:(i + 1) * k]))
        for a in ("circle", "blades9", "blades6", "blades5"):
            if a not in chunk:
                continue
            v, t, arts = chunk[a]
            truth_orbs = [o for o in t["orbs"] if o.get("visible", True) and o.get("in_background", True)]
            found = arts.get("bokeh", {}).get("orbs", [])
            a_tp, a_fp, a_fn, a_err = _match_orbs(found, truth_orbs)
            tp, fp, fn = tp + a_tp, fp + a_fp, fn + a_fn
            if a == "circle":
                derrs += a_err
        circ = [chunk[a][0]["bokeh.circularity"] for a in ("circle", "blades9", "blades6", "blades5")
                if a in chunk]
        if len(circ) == 4:
            n_scenes += 1
            order_ok += bool(all(np.isfinite(circ)) and circ[0] > circ[1] > circ[2] > circ[3])
        if "gaussian" in chunk and "circle" in chunk:
            g = chunk["gaussian"][0]
            c = chunk["circle"][0]
            gauss_ok += bool(g["bokeh.orb_count"] == 0 or not np.isfinite(g["bokeh.circularity"])
                             or g["bokeh.circularity"] < c["bokeh.circularity"] - 0.1)
    prec = tp / (tp + fp) if tp + fp else math.nan
    rec = tp / (tp + fn) if tp + fn else math.nan
    med = float(np.median(derrs)) if derrs else math.nan
    n = len(plan.seeds)
    return [
        Check("bokeh", "orb detection precision (disc apertures)", prec, ">= 0.9", bool(prec >= 0.9),
              f"tp={tp} fp={fp}"),
        Check("bokeh", "orb detection recall (disc apertures)", rec, ">= 0.9", bool(rec >= 0.9),
              f"tp={tp} fn={fn}"),
        Check("bokeh", "orb diameter error, circle (median |rel err|)", 100 * med, "<= 5 %",
              bool(med <= 0.05) if derrs else None, f"{len(derrs)} orbs", unit="%"),
        Check("bokeh", "circularity circle > 9 > 6 > 5 blades (share of scenes)",
              100 * order_ok / max(n_scenes, 1), ">= 95 %", bool(order_ok >= 0.95 * n_scenes) if n_scenes else None,
              f"{order_ok}/{n_scenes} scenes", unit="%"),
        Check("bokeh", "Gaussian smears rejected or clearly below discs (share of scenes)",
              100 * gauss_ok / n, ">= 95 %", bool(gauss_ok >= 0.95 * n), f"{gauss_ok}/{n} scenes", unit="%"),
    ]


def _mired(k: float) -> float:
    return 1e6 / k


def validate_color(plan: Plan, jobs: int) -> list[Check]:
    from lenscore.datasets.synthetic import SceneSpec

    ks = list(plan.kelvins)
    # key sweep against a fixed background and background sweep against a fixed key
    specs = ([SceneSpec(width=plan.size, height=plan.size, key_kelvin=k, background_kelvin=6500,
                        seed=plan.seeds[0]) for k in ks]
             + [SceneSpec(width=plan.size, height=plan.size, key_kelvin=3200, background_kelvin=k,
                          seed=plan.seeds[-1]) for k in ks])
    res = score_specs(specs, jobs=jobs)
    if not res or not _has(res[0][0], "color.subject_cct_k"):
        return [_missing("color", "source CCT", "within 10 % or 15 mired", "color.subject_cct_k")]
    errs, ok, sign_ok, sign_n, zero_errs = [], 0, 0, 0, []
    rows = []
    for (v, t, _), which in zip(res, ["key"] * len(ks) + ["background"] * len(ks)):
        for out, true_k in (("color.subject_cct_k", t["kelvin"]["key"]),
                            ("color.background_cct_k", t["kelvin"]["background"])):
            est = v.get(out, math.nan)
            err_m = abs(_mired(est) - _mired(true_k)) if np.isfinite(est) and est > 0 else math.inf
            rel = abs(est - true_k) / true_k if np.isfinite(est) else math.inf
            errs.append(err_m)
            ok += bool(rel <= 0.10 or err_m <= 15)
            rows.append((which, out, true_k, est))
        dm_true = _mired(t["kelvin"]["key"]) - _mired(t["kelvin"]["background"])
        dm = v.get("color.delta_mired", math.nan)
        if abs(dm_true) >= 50:
            sign_n += 1
            sign_ok += bool(np.isfinite(dm) and np.sign(dm) == np.sign(dm_true))
        elif abs(dm_true) < 1e-9 and np.isfinite(dm):
            zero_errs.append(abs(dm))
    n = len(errs)
    finite = [e for e in errs if np.isfinite(e)]
    checks = [
        Check("color", "source CCT within 10 % or 15 mired (share of estimates, 2200-9500 K)",
              100 * ok / n, "100 %", ok == n,
              f"{ok}/{n}; median error {np.median(finite) if finite else math.nan:.1f} mired, "
              f"worst {max(errs):.1f} mired", unit="%"),
        Check("color", "delta_mired sign right when sources differ by >= 50 mired", 100 * sign_ok / max(sign_n, 1),
              "100 %", sign_ok == sign_n if sign_n else None, f"{sign_ok}/{sign_n} scenes", unit="%"),
    ]
    # equal sources: delta near zero
    eq = [SceneSpec(width=plan.size, height=plan.size, key_kelvin=k, background_kelvin=k, seed=s)
          for k in (2700, 5000, 8000) for s in plan.seeds[:2]]
    eres = score_specs(eq, jobs=jobs)
    d = [abs(v["color.delta_mired"]) for v, _, _ in eres if np.isfinite(v.get("color.delta_mired", math.nan))]
    worst = max(d) if d else math.nan
    checks.append(Check("color", "|delta_mired| when key and background are the same Kelvin (worst)",
                        worst, "< 15 mired", bool(worst < 15) if d else None, f"{len(d)} scenes", unit="mired"))
    return checks


def validate_skin(plan: Plan, jobs: int) -> list[Check]:
    from lenscore.datasets.synthetic import SceneSpec

    lv = list(plan.smoothing_levels)
    specs = [SceneSpec(width=plan.size, height=plan.size, pore_amplitude=0.1, smoothing=l, seed=s,
                       key_kelvin=5000, background_kelvin=5000, n_lights=6)
             for s in plan.seeds for l in lv]
    res = score_specs(specs, jobs=jobs)
    if not res or not _has(res[0][0], "skin.texture_energy"):
        return [_missing("skin", "smoothing ladder", "monotonic", "skin.texture_energy")]
    mono = 0
    for i in range(len(plan.seeds)):
        e = [v["skin.texture_energy"] for v, _, _ in res[i * len(lv):(i + 1) * len(lv)]]
        mono += bool(all(np.isfinite(e)) and all(a > b for a, b in zip(e, e[1:])))
    amp = [SceneSpec(width=plan.size, height=plan.size, pore_amplitude=a, seed=s, key_kelvin=5000,
                     background_kelvin=5000, n_lights=6) for s in plan.seeds for a in plan.pore_amplitudes]
    ares = score_specs(amp, jobs=jobs)
    k = len(plan.pore_amplitudes)
    rhos = [_spearman(plan.pore_amplitudes, [v["skin.texture_energy"] for v, _, _ in ares[i * k:(i + 1) * k]])
            for i in range(len(plan.seeds))]
    rho = float(np.nanmin(rhos)) if rhos else math.nan
    # the same face at two resolutions: one 1536 px render, and that render downscaled to half
    import cv2

    from lenscore.datasets.synthetic import render

    big = render(SceneSpec(width=1536, height=1536, pore_amplitude=0.1, seed=plan.seeds[0],
                           key_kelvin=5000, background_kelvin=5000, n_lights=6)).rgb
    half = cv2.resize(big, (768, 768), interpolation=cv2.INTER_AREA)
    a, b = (_score_rgb(x)["skin.texture_energy"] for x in (big, half))
    rel = abs(a - b) / abs(a) if np.isfinite(a) and np.isfinite(b) and a else math.nan
    n = len(plan.seeds)
    return [
        Check("skin", "texture energy falls along the smoothing ladder (share of faces)", 100 * mono / n,
              ">= 90 %", bool(mono >= 0.9 * n), f"{mono}/{n} faces, levels {lv}", unit="%"),
        Check("skin", "texture energy rises with pore amplitude (min Spearman)", rho, ">= 0.95",
              bool(rho >= 0.95), f"{n} faces, amplitudes {list(plan.pore_amplitudes)}"),
        Check("skin", "same face at 1536 px and downscaled to 768 px (rel diff)", 100 * rel,
              "<= 15 %", bool(rel <= 0.15) if np.isfinite(rel) else None, unit="%"),
    ]


VALIDATORS: dict[str, Callable[[Plan, int], list[Check]]] = {
    "focus": validate_focus, "bokeh": validate_bokeh, "color": validate_color, "skin": validate_skin,
}


def run_validation(*, quick: bool = False, jobs: int = 1, families: Sequence[str] | None = None,
                   on_family: Callable[[str], None] | None = None) -> list[Check]:
    plan = Plan.quick() if quick else Plan()
    checks: list[Check] = []
    for name, fn in VALIDATORS.items():
        if families is not None and name not in families:
            continue
        if on_family:
            on_family(name)
        checks += fn(plan, jobs)
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
