"""A/B comparison of prompt variants: "is prompt B better than prompt A, and how sure are we?".

For every output and every variant against the baseline:

- **Pairing.** When both variants hold the same (prompt, seed) keys — or, failing that, the same
  seeds, each seed once per variant — for at least ``pair_min_fraction`` of the smaller variant,
  the comparison is *paired* on those keys (the images share their starting noise, so the
  difference per pair removes what the seed contributes). Otherwise it is *unpaired*.
- **Difference** of means ``B - A`` with a BCa bootstrap CI (:func:`lenscore.reports.stats.
  bootstrap_diff_ci`). Paired by prompt and seed with several seeds per prompt and at least
  ``MIN_CLUSTERS`` prompts, whole prompts are resampled (and sign-flipped in the test), so that
  seeds of one prompt do not count as independent evidence.
- **p-value** from a permutation test (paired: sign flips; unpaired: label shuffle), then
  **Holm** across the outputs of this variant pair.
- **Effect sizes**: Cliff's delta (B against A, on raw values) and the win rate (how often B beats
  A in the output's direction; for "neither" outputs, how often B is higher).
- **Verdict**, direction-aware: "better" / "worse" ("differs" for outputs without a direction)
  only when the Holm-adjusted p < alpha AND the CI excludes 0; else "no detectable difference".
- **Power line**: the change the user cares about, ``min_effect`` (in the output's units, per
  output) or by default ``min_effect_sd`` = 0.5 pooled standard deviations of the two variants
  (Cohen's "medium" effect), and the images per variant (or seed-matched pairs) needed to detect
  it with 80 % power at level alpha/m (m = outputs compared: the threshold Holm applies to the
  smallest p-value), from the observed spread. Also the smallest change detectable at the
  present n.

Statistics live in :mod:`lenscore.reports.stats`; this module does the bookkeeping (reading
runs, matching rows, output metadata) and the JSON/table forms.
"""

from __future__ import annotations

import json
import math
import os
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from lenscore.errors import UsageError
from lenscore.reports import stats

#: base (non-metric) columns of scores.csv
BASE_COLUMNS = ("path", "variant", "prompt", "seed", "status", "error", "notes", "width", "height")
#: resample whole prompts only when there are at least this many of them
MIN_CLUSTERS = 8


@dataclass(frozen=True)
class OutputMeta:
    """What a report needs to know about one output column."""

    name: str
    unit: str = ""
    direction: str = "neither"
    range: tuple[float, float] = (-math.inf, math.inf)
    description: str = ""

    @property
    def arrow(self) -> str:
        return {"higher": "\u2191", "lower": "\u2193"}.get(self.direction, "\u2195")


@dataclass
class OutputComparison:
    """One output, one variant against the baseline."""

    output: str
    unit: str
    direction: str
    baseline: str
    variant: str
    paired: bool
    n_baseline: int
    n_variant: int
    n_pairs: int | None
    mean_baseline: float
    mean_variant: float
    diff: float
    ci: tuple[float, float]
    p_value: float
    p_holm: float
    cliffs_delta: float
    win_rate: float
    verdict: str
    min_effect: float
    min_effect_basis: str
    n_needed: int | None
    mde: float
    underpowered: bool
    power_line: str
    note: str = ""

    @property
    def n_used(self) -> int:
        return self.n_pairs if self.paired and self.n_pairs is not None else \
            min(self.n_baseline, self.n_variant)


@dataclass
class PairComparison:
    """Every output of one variant against the baseline."""

    baseline: str
    variant: str
    pairing: str  # "prompt+seed" | "seed" | "unpaired"
    pairing_note: str
    n_baseline: int
    n_variant: int
    n_pairs: int | None
    results: list[OutputComparison] = field(default_factory=list)
    #: the distinct prompts of each variant's images, in table order (raw text)
    prompts_baseline: list[str] = field(default_factory=list)
    prompts_variant: list[str] = field(default_factory=list)

    def by_verdict(self, *verdicts: str) -> list[OutputComparison]:
        return [r for r in self.results if r.verdict in verdicts]

    def quality(self) -> list[OutputComparison]:
        """Outputs with a better direction (the ones that can be better or worse)."""
        return [r for r in self.results if r.direction in ("higher", "lower")]

    def descriptive(self) -> list[OutputComparison]:
        """Outputs without a better direction (they can only differ)."""
        return [r for r in self.results if r.direction not in ("higher", "lower")]


@dataclass
class Comparison:
    """The whole comparison: settings and one :class:`PairComparison` per variant."""

    baseline: str
    variants: list[str]
    pairs: list[PairComparison]
    alpha: float
    confidence: float
    settings: dict[str, Any]
    outputs: dict[str, OutputMeta]

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return None if not math.isfinite(v) else v
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (np.floating, np.integer)):
                return clean(v.item())
            return v

        return clean({
            "baseline": self.baseline,
            "variants": self.variants,
            "alpha": self.alpha,
            "confidence": self.confidence,
            "settings": self.settings,
            "method": METHOD_TEXT,
            "outputs": {k: {"unit": m.unit, "direction": m.direction,
                            "description": m.description} for k, m in self.outputs.items()},
            "pairs": [{**{k: v for k, v in asdict(p).items() if k != "results"},
                       "results": [asdict(r) for r in p.results]} for p in self.pairs],
        })


METHOD_TEXT = (
    "Difference of means B - baseline with a BCa bootstrap CI (paired by prompt and seed, or by "
    "seed, when both variants share them; prompts resampled as clusters when there are enough); "
    "two-sided permutation p-value (paired: sign flips; unpaired: label shuffle), Holm-corrected "
    "across outputs; Cliff's delta; win rate = P(B beats baseline), ties half. Verdict: better/"
    "worse (or 'differs' without a direction) only when the Holm p < alpha and the CI excludes 0. "
    "Power: images per variant (or pairs) for 80 % power at alpha/m to detect the min effect.")


# ---------------------------------------------------------------------------------------------
# reading runs and output metadata
def read_run(run_dir: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """``(scores DataFrame, summary dict)`` of a scored run folder (summary may be ``{}``)."""
    from lenscore.reports.aggregate import read_scores

    d = Path(run_dir)
    scores_path = d / "scores.csv" if d.is_dir() else d
    if not scores_path.is_file():
        raise UsageError(f"no scores.csv in {run_dir}: score the images first "
                         f"('lenscore score {run_dir} --out RESULTS') or pass a run folder")
    df = read_scores(scores_path)
    missing = [c for c in ("path", "variant") if c not in df.columns]
    if missing:
        raise UsageError(f"{scores_path} is not a lenscore scores table: columns "
                         f"{', '.join(missing)} are missing")
    for c in BASE_COLUMNS:
        if c not in df.columns:
            df[c] = "ok" if c == "status" else ""
    summary: dict[str, Any] = {}
    sp = scores_path.parent / "summary.json"
    if sp.is_file():
        try:
            summary = json.loads(sp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
    return df, summary


def metric_columns(df: Any) -> list[str]:
    """Output columns (``family.output``) of a scores table, in table order."""
    return [c for c in df.columns if c not in BASE_COLUMNS and "." in str(c)]


def output_meta(columns: Sequence[str], summary: Mapping[str, Any] | None = None,
                directions: Mapping[str, str] | None = None) -> dict[str, OutputMeta]:
    """Unit/direction/range per column: explicit ``directions`` win, then the run's summary.json,
    then the metric registry; unknown columns get direction "neither"."""
    recorded: dict[str, dict[str, Any]] = {}
    for fam in (summary or {}).get("metrics", {}).values():
        recorded.update(fam.get("outputs", {}) or {})
    registry: dict[str, Any] = {}
    try:
        from lenscore.metrics import all_outputs

        registry = all_outputs()
    except Exception:  # a broken family module must not break a report
        registry = {}
    out: dict[str, OutputMeta] = {}
    for c in columns:
        unit, direction, rng, desc = "", "neither", (-math.inf, math.inf), ""
        if c in registry:
            o = registry[c]
            unit, direction, rng, desc = o.unit, o.direction, tuple(o.range), o.description
        if c in recorded:
            r = recorded[c]
            unit = r.get("unit", unit) or unit
            direction = r.get("direction", direction) or direction
            desc = r.get("description", desc) or desc
            if isinstance(r.get("range"), (list, tuple)) and len(r["range"]) == 2:
                rng = tuple(_num(v) for v in r["range"])
        if directions and c in directions:
            direction = directions[c]
        if direction not in ("higher", "lower", "neither"):
            direction = "neither"
        out[c] = OutputMeta(c, unit, direction, rng, desc)
    return out


def _num(v: Any) -> float:
    if v in ("inf", "+inf"):
        return math.inf
    if v == "-inf":
        return -math.inf
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def merge_runs(runs: Sequence[tuple[str, Any]]) -> tuple[Any, dict[str, str]]:
    """Concatenate several runs' scores; variants are renamed ``run`` (a run with one variant)
    or ``run:variant``. Returns the frame and {new variant: original variant}."""
    import pandas as pd

    frames, origin = [], {}
    names = [name for name, _ in runs]
    if len(set(names)) != len(names):
        names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
    for name, df in zip(names, (r[1] for r in runs)):
        df = df.copy()
        variants = list(dict.fromkeys(df["variant"].astype(str)))
        mapping = {v: (name if len(variants) == 1 else f"{name}:{v}") for v in variants}
        origin.update({new: old for old, new in mapping.items()})
        df["variant"] = df["variant"].astype(str).map(mapping)
        frames.append(df)
    return pd.concat(frames, ignore_index=True, sort=False), origin


# ---------------------------------------------------------------------------------------------
# pairing
def _key_series(df: Any, cols: Sequence[str]) -> Any:
    return df[list(cols)].astype(str).agg("\x1f".join, axis=1)


def find_pairing(a: Any, b: Any, *, min_fraction: float = 0.8
                 ) -> tuple[str, Any | None, Any | None, str]:
    """How rows of variants ``a`` and ``b`` (DataFrames) correspond.

    Returns ``(pairing, index_a, index_b, note)``: pairing is "prompt+seed", "seed" or
    "unpaired"; the indexes list matched rows in the same order (None when unpaired).
    """
    if len(a) == 0 or len(b) == 0:
        return "unpaired", None, None, "a variant has no scored images"
    seeds_ok = (a["seed"].astype(str).str.len() > 0).all() and \
        (b["seed"].astype(str).str.len() > 0).all()
    if not seeds_ok:
        return "unpaired", None, None, "unpaired: not every image has a seed"
    reasons = []
    for cols, label in ((("prompt", "seed"), "prompt+seed"), (("seed",), "seed")):
        ka, kb = _key_series(a, cols), _key_series(b, cols)
        if ka.duplicated().any() or kb.duplicated().any():
            reasons.append(f"{label} repeats within a variant")
            continue
        common = sorted(set(ka) & set(kb))
        need = max(2, math.ceil(min_fraction * min(len(a), len(b))))
        if len(common) >= need:
            pos_a = dict(zip(ka.to_numpy(), a.index))
            pos_b = dict(zip(kb.to_numpy(), b.index))
            ia = np.array([pos_a[k] for k in common])
            ib = np.array([pos_b[k] for k in common])
            dropped = len(a) + len(b) - 2 * len(common)
            note = f"paired by {label.replace('+', ' and ')}: {len(common)} pairs"
            if dropped:
                note += f" ({dropped} image(s) without a partner left out)"
            return label, ia, ib, note
        reasons.append(f"only {len(common)} shared {label} key(s)")
    return "unpaired", None, None, "unpaired: " + "; ".join(reasons)


# ---------------------------------------------------------------------------------------------
# the comparison
def _output_seed(seed: int, *parts: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed] + [zlib.crc32(p.encode("utf-8")) for p in parts])


def _order_variants(df: Any) -> list[str]:
    return list(dict.fromkeys(df["variant"].astype(str)))


def compare_scores(scores: Any, *, baseline: str | None = None,
                   variants: Sequence[str] | None = None,
                   meta: Mapping[str, OutputMeta] | None = None,
                   outputs: Sequence[str] | None = None,
                   min_effect_sd: float = 0.5, min_effect: Mapping[str, float] | None = None,
                   alpha: float = 0.05, confidence: float = 0.95, power: float = 0.8,
                   n_resamples: int = 2000, n_permutations: int = 5000, seed: int = 0,
                   pair_min_fraction: float = 0.8) -> Comparison:
    """Compare every variant of a scores table against ``baseline``.

    Parameters
    ----------
    scores : DataFrame
        A scores table (``variant``, ``prompt``, ``seed``, ``status`` and ``family.output``
        columns). Rows with ``status != "ok"`` are ignored; NaNs are dropped per output.
    baseline : str, optional
        The reference variant (default: the first variant in the table).
    variants : list of str, optional
        Variants to compare against the baseline (default: all others).
    meta : mapping, optional
        Output metadata (:func:`output_meta`); default: from the registry, direction "neither"
        for unknown columns.
    outputs : list of str, optional
        Output columns to compare (default: every ``family.output`` column).
    min_effect_sd, min_effect :
        The change worth detecting: ``min_effect[output]`` in the output's units when given,
        otherwise ``min_effect_sd`` pooled standard deviations.
    alpha, confidence, power :
        Test level (after Holm), CI coverage, power for the sample-size line.
    n_resamples, n_permutations, seed :
        Bootstrap and permutation sizes and the seed that makes the result reproducible.
    pair_min_fraction : float
        Pair only when the shared keys cover this share of the smaller variant.
    """
    if "variant" not in scores.columns:
        raise UsageError("the scores table has no 'variant' column")
    df = scores.copy()
    for c in ("prompt", "seed", "status"):
        if c not in df.columns:
            df[c] = "ok" if c == "status" else ""
        df[c] = df[c].fillna("").astype(str)
    df["variant"] = df["variant"].astype(str)
    all_variants = _order_variants(df)
    if len(all_variants) < 2:
        raise UsageError(
            f"need at least two variants to compare, found {len(all_variants)} "
            f"({', '.join(all_variants) or 'none'}); put each prompt variant's images in its own "
            "subfolder, or compare two runs: lenscore compare RUN_A RUN_B")
    if baseline is None:
        baseline = all_variants[0]
    if baseline not in all_variants:
        from lenscore.metrics.base import suggest

        raise UsageError(f"baseline variant '{baseline}' is not in the table."
                         f"{suggest(baseline, all_variants)} Variants: {', '.join(all_variants)}")
    others = list(variants) if variants is not None else [v for v in all_variants if v != baseline]
    for v in others:
        if v not in all_variants:
            raise UsageError(f"variant '{v}' is not in the table; variants: "
                             f"{', '.join(all_variants)}")
    cols = list(outputs) if outputs is not None else metric_columns(df)
    if not cols:
        raise UsageError("the scores table has no metric columns (family.output) to compare")
    meta = dict(meta) if meta is not None else output_meta(cols)
    for c in cols:
        meta.setdefault(c, OutputMeta(c))
    for c in cols:
        import pandas as pd

        df[c] = pd.to_numeric(df[c], errors="coerce")
    ok = df[df["status"] == "ok"]
    a_all = ok[ok["variant"] == baseline]
    pairs = []
    for v in others:
        b_all = ok[ok["variant"] == v]
        pc = _compare_pair(
            a_all, b_all, baseline, v, cols, meta, min_effect_sd=min_effect_sd,
            min_effect=min_effect or {}, alpha=alpha, confidence=confidence, power=power,
            n_resamples=n_resamples, n_permutations=n_permutations, seed=seed,
            pair_min_fraction=pair_min_fraction)
        pc.prompts_baseline = _prompts_of(df, baseline)
        pc.prompts_variant = _prompts_of(df, v)
        pairs.append(pc)
    settings = {"n_resamples": n_resamples, "n_permutations": n_permutations, "seed": seed,
                "min_effect_sd": min_effect_sd, "min_effect": dict(min_effect or {}),
                "power": power, "pair_min_fraction": pair_min_fraction,
                "ci_method": "BCa bootstrap", "min_clusters": MIN_CLUSTERS}
    return Comparison(baseline, [baseline] + others, pairs, alpha, confidence, settings,
                      {c: meta[c] for c in cols})


def _prompts_of(df: Any, variant: str) -> list[str]:
    """The distinct non-empty prompts of one variant's rows, in table order."""
    texts = df.loc[df["variant"] == variant, "prompt"].astype(str)
    return [t for t in dict.fromkeys(texts) if t.strip()]


def _compare_pair(a_all: Any, b_all: Any, baseline: str, variant: str, cols: Sequence[str],
                  meta: Mapping[str, OutputMeta], *, min_effect_sd: float,
                  min_effect: Mapping[str, float], alpha: float, confidence: float, power: float,
                  n_resamples: int, n_permutations: int, seed: int,
                  pair_min_fraction: float) -> PairComparison:
    pairing, ia, ib, note = find_pairing(a_all, b_all, min_fraction=pair_min_fraction)
    paired = pairing != "unpaired"
    clusters = None
    if pairing == "prompt+seed":
        prompts = a_all.loc[ia, "prompt"].to_numpy()
        n_prompts = len(set(prompts))
        if n_prompts < len(prompts):
            if n_prompts >= MIN_CLUSTERS:
                clusters = prompts
                note += f"; {n_prompts} prompts resampled as clusters"
            elif n_prompts > 1:
                note += (f"; only {n_prompts} prompts, too few to resample prompts as clusters: "
                         "the CI treats each seed as independent")
    pc = PairComparison(baseline, variant, pairing, note, len(a_all), len(b_all),
                        len(ia) if paired else None)
    raw = []
    for c in cols:
        m = meta[c]
        ss = _output_seed(seed, baseline, variant, c)
        rng_ci, rng_p = (np.random.default_rng(s) for s in ss.spawn(2))
        ua = a_all[c].to_numpy(dtype=float)
        ub = b_all[c].to_numpy(dtype=float)
        ua, ub = ua[np.isfinite(ua)], ub[np.isfinite(ub)]
        out_paired, out_note = False, ""
        if paired:
            xa = a_all.loc[ia, c].to_numpy(dtype=float)
            xb = b_all.loc[ib, c].to_numpy(dtype=float)
            keep = np.isfinite(xa) & np.isfinite(xb)
            need = max(2, math.ceil(pair_min_fraction * min(ua.size, ub.size)))
            if keep.sum() >= need:
                out_paired = True
                xa, xb = xa[keep], xb[keep]
                cl = clusters[keep] if clusters is not None else None
                n_a = n_b = n_pairs = int(keep.sum())
            elif min(ua.size, ub.size) >= 2:
                out_note = (f"unpaired for this output: only {int(keep.sum())} pairs have it "
                            "measured on both sides")
        if not out_paired:
            xa, xb = ua, ub
            cl, n_a, n_b, n_pairs = None, xa.size, xb.size, None
        enough = (n_a >= 2 and n_b >= 2)
        diff = float(xb.mean() - xa.mean()) if (n_a and n_b) else math.nan
        if enough:
            ci = stats.bootstrap_diff_ci(xa, xb, paired=out_paired, n_resamples=n_resamples,
                                         confidence=confidence, seed=rng_ci, clusters=cl)
            p = stats.permutation_pvalue(xa, xb, paired=out_paired,
                                         n_permutations=n_permutations, seed=rng_p, clusters=cl)
        else:
            ci, p = (math.nan, math.nan), math.nan
            out_note = (f"measurable on too few images ({baseline}: {ua.size} of {len(a_all)}, "
                        f"{variant}: {ub.size} of {len(b_all)}; at least 2 each needed)")
        psd = stats.pooled_sd(xa, xb)
        sd_test = float(np.std(xb - xa, ddof=1)) if (out_paired and n_a >= 2) else psd
        if c in min_effect:
            effect, basis = float(min_effect[c]), "given"
        else:
            effect, basis = (min_effect_sd * psd if math.isfinite(psd) else math.nan,
                             f"{min_effect_sd:g} SD")
        raw.append(dict(
            m=m, xa=xa, xb=xb, n_a=n_a, n_b=n_b, n_pairs=n_pairs, diff=diff, ci=ci, p=p,
            sd_test=sd_test, effect=effect, basis=basis, paired=out_paired, note=out_note))
    p_adj = stats.holm([r["p"] for r in raw])
    m_tests = int(np.sum(np.isfinite([r["p"] for r in raw]))) or 1
    alpha_m = alpha / m_tests
    if paired and pc.n_pairs:
        # the exact sign-flip test cannot give p below 2 / 2^g (g pairs or prompt clusters)
        g = len(set(clusters)) if clusters is not None else pc.n_pairs
        if g <= 60 and 2.0 / 2 ** g * m_tests >= alpha:
            need = math.floor(math.log2(2 * m_tests / alpha)) + 1
            pc.pairing_note += (f"; with {g} {'prompts' if clusters is not None else 'pairs'} the "
                                f"sign-flip test cannot reach p < {alpha:g} after Holm over "
                                f"{m_tests} outputs (smallest p = 2/2^{g}): at least {need} are "
                                "needed for any verdict")
    for r, pa in zip(raw, p_adj):
        m = r["m"]
        n_needed = stats.required_n(r["sd_test"], r["effect"], paired=r["paired"], alpha=alpha_m,
                                    power=power) if math.isfinite(r["effect"]) else None
        mde = stats.min_detectable_effect(r["sd_test"], r["n_a"], r["n_b"], paired=r["paired"],
                                          alpha=alpha_m, power=power)
        have = r["n_pairs"] if r["paired"] else min(r["n_a"], r["n_b"])
        underpowered = bool(n_needed is not None and have < n_needed)
        verdict = stats.verdict(r["diff"], r["ci"], float(pa), direction=m.direction, alpha=alpha)
        pc.results.append(OutputComparison(
            output=m.name, unit=m.unit, direction=m.direction, baseline=baseline, variant=variant,
            paired=r["paired"], n_baseline=r["n_a"], n_variant=r["n_b"], n_pairs=r["n_pairs"],
            mean_baseline=float(r["xa"].mean()) if r["n_a"] else math.nan,
            mean_variant=float(r["xb"].mean()) if r["n_b"] else math.nan,
            diff=r["diff"], ci=tuple(r["ci"]), p_value=r["p"], p_holm=float(pa),
            cliffs_delta=stats.cliffs_delta(r["xa"], r["xb"]),
            win_rate=stats.win_rate(r["xa"], r["xb"], paired=r["paired"], direction=m.direction),
            verdict=verdict, min_effect=r["effect"], min_effect_basis=r["basis"],
            n_needed=n_needed, mde=mde, underpowered=underpowered,
            power_line=_power_line(n_needed, have, r["effect"], r["basis"], m.unit, r["paired"], mde,
                                   power, verdict),
            note=r["note"]))
    return pc


def _power_line(n_needed: int | None, have: int, effect: float, basis: str, unit: str,
                paired: bool, mde: float, power: float, verdict: str) -> str:
    if n_needed is None or not math.isfinite(effect) or verdict != stats.NO_DIFFERENCE:
        return ""
    what = "seed-matched pairs" if paired else "images per variant"
    size = f"{fmt_num(effect)}{(' ' + unit) if unit and len(unit) <= 16 else ''}"
    if basis != "given":
        size += f" ({basis})"
    if have < n_needed:
        line = (f"need ~{n_needed} {what} to detect a change of {size} "
                f"with {power:.0%} power; have {have}")
        if math.isfinite(mde):
            line += f" (detectable now: ~{fmt_num(mde)})"
        return line
    return (f"{have} {what} would detect a change of {size} with {power:.0%} power: "
            f"any real difference is likely smaller")


# ---------------------------------------------------------------------------------------------
# formatting
def fmt_num(v: float, decimals: int | None = None) -> str:
    """A number for people: 3 significant digits, no exponent in the usual range."""
    if v is None or not math.isfinite(v):
        return "n/a"
    if decimals is not None:
        return f"{v:,.{max(0, decimals)}f}"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1e-3:
        d = max(0, 2 - int(math.floor(math.log10(a))))
        return f"{v:.{d}f}"
    return f"{v:.2e}"


def ci_decimals(ci: tuple[float, float], value: float = math.nan) -> int:
    """Decimals that show two significant digits of the CI width."""
    lo, hi = ci
    width = hi - lo if (math.isfinite(lo) and math.isfinite(hi)) else math.nan
    if not math.isfinite(width) or width <= 0:
        width = abs(value) if math.isfinite(value) and value != 0 else 1.0
    return int(min(6, max(0, 1 - math.floor(math.log10(width)))))


def fmt_diff(r: OutputComparison) -> str:
    """'+0.31 [0.22, 0.40]' (with the unit when there is one)."""
    if not math.isfinite(r.diff):
        return "n/a"
    d = ci_decimals(r.ci, r.diff)
    s = f"{r.diff:+,.{d}f}"
    if all(math.isfinite(x) for x in r.ci):
        s += f" [{r.ci[0]:,.{d}f}, {r.ci[1]:,.{d}f}]"
    return s + (f" {r.unit}" if r.unit else "")


def fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return "n/a"
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}"


def headline(r: OutputComparison) -> str:
    """'optical vs blurred: bokeh.circularity better, +0.31 [0.22, 0.40]'."""
    return f"{r.variant} vs {r.baseline}: {r.output} {r.verdict}, {fmt_diff(r)}"


def write_comparison_json(comparison: Comparison, path: str | os.PathLike) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(comparison.to_dict(), indent=2, allow_nan=False, ensure_ascii=False),
                 encoding="utf-8")
    return p


VERDICT_STYLE = {stats.BETTER: "bold green", stats.WORSE: "bold red", stats.DIFFERS: "bold yellow",
                 stats.NO_DIFFERENCE: "dim", stats.NOT_ENOUGH: "dim italic"}

#: below this many columns the terminal table switches to two lines per output
WIDE_COLUMNS = 120


_VERDICT_ORDER = {stats.BETTER: 0, stats.WORSE: 1, stats.DIFFERS: 2, stats.NO_DIFFERENCE: 3,
                  stats.NOT_ENOUGH: 4}


def sort_by_verdict(rows: Sequence[Any]) -> list[Any]:
    """Outputs with a verdict first (better, worse, differs), then the undecided; stable."""
    def key(r: Any) -> int:
        v = r["verdict"] if isinstance(r, Mapping) else r.verdict
        return _VERDICT_ORDER.get(v, 5)
    return sorted(rows, key=key)


def _names(rows: Sequence[OutputComparison], limit: int = 3) -> str:
    if len(rows) <= limit:
        return ", ".join(r.output for r in rows)
    return ", ".join(r.output for r in rows[:limit]) + f" and {len(rows) - limit} more"


def answer_line(pc: PairComparison) -> str:
    """The one-line answer for a variant pair, counted over the quality outputs (those with a
    better direction): 'optical is better than blurred on 5 of 5 quality outputs, worse on
    none'. Outputs that could not be compared are counted apart."""
    q = pc.quality()
    v, b = pc.variant, pc.baseline
    if not q:
        return (f"{v} vs {b}: no output with a better direction was compared; only descriptive "
                "outputs (see below)")
    better = [r for r in q if r.verdict == stats.BETTER]
    worse = [r for r in q if r.verdict == stats.WORSE]
    missing = [r for r in q if r.verdict == stats.NOT_ENOUGH]
    judged = len(q) - len(missing)
    if judged == 0:
        return (f"{v} vs {b}: none of the {len(q)} quality outputs could be compared "
                "(measurable on too few images)")
    if not better and not worse:
        line = (f"no detectable difference between {v} and {b} on "
                f"{'the' if judged > 1 else ''} {judged} quality output{'s' if judged > 1 else ''}"
                ).replace("  ", " ")
    else:
        line = (f"{v} is better than {b} on {len(better)} of {judged} quality output"
                f"{'s' if judged > 1 else ''}, worse on "
                + (f"{len(worse)} ({_names(worse)})" if worse else "none"))
    if missing:
        line += (f"; {len(missing)} more could not be compared (measurable on too few images)")
    return line


def power_summary(pc: PairComparison, *, power: float = 0.8) -> str:
    """One line per pair: the quality outputs that came out 'no detectable difference' with
    too few images to rule out the change of interest, and how many images each would need.
    Descriptive outputs are left out: there is no better or worse to miss."""
    rows = [r for r in pc.quality()
            if r.verdict == stats.NO_DIFFERENCE and r.underpowered and r.n_needed]
    if not rows:
        return ""
    paired = {r.paired for r in rows}
    what = ("seed-matched pairs" if paired == {True} else "images per variant" if paired == {False}
            else "pairs or images per variant")
    parts = []
    for r in rows:
        unit = f" {r.unit}" if r.unit and len(r.unit) <= 16 else ""
        basis = f" ({r.min_effect_basis})" if r.min_effect_basis != "given" else ""
        parts.append(f"{r.output} needs ~{r.n_needed} to detect "
                     f"{fmt_num(r.min_effect)}{unit}{basis}")
    have = min(r.n_used for r in rows)
    return (f"too few images to rule out a real change where no difference was detected: "
            f"{'; '.join(parts)} ({what}, {power:.0%} power); have {have}")


def power_notes(comparison: Comparison) -> list[str]:
    """The 'too few images' hint, once per variant pair and only for quality outputs."""
    power = float(comparison.settings.get("power", 0.8)) if comparison.settings else 0.8
    out = []
    for pc in comparison.pairs:
        line = power_summary(pc, power=power)
        if line:
            out.append(f"{pc.variant} vs {pc.baseline}: {line}")
    return out


def _terminal_diff(r: OutputComparison) -> str:
    diff = fmt_diff(r)
    if r.unit and diff.endswith(" " + r.unit) and len(r.unit) > 12:
        diff = diff[: -len(r.unit) - 1]  # long units live in the HTML and 'lenscore metrics'
    return diff


def _stat_cells(r: OutputComparison) -> tuple[str, str, str]:
    cliff = "n/a" if not math.isfinite(r.cliffs_delta) else f"{r.cliffs_delta:+.2f}"
    win = "n/a" if not math.isfinite(r.win_rate) else f"{r.win_rate:.0%}"
    return fmt_p(r.p_holm), cliff, win


def _verdict_text(r: OutputComparison) -> Any:
    from rich.text import Text

    return Text(r.verdict, style=VERDICT_STYLE.get(r.verdict, ""))


def _wide_table(pc: PairComparison, rows: Sequence[OutputComparison],
                outputs: Mapping[str, OutputMeta]) -> Any:
    from rich import box
    from rich.table import Table

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    t.add_column("verdict", min_width=15, max_width=15)
    t.add_column("output", no_wrap=True)
    for col in (pc.baseline, pc.variant):
        t.add_column(col, justify="right", no_wrap=True, overflow="ellipsis",
                     min_width=min(len(col), 9), max_width=max(9, min(len(col), 16)))
    t.add_column("difference [95 % CI]", justify="right", no_wrap=True)
    for col in ("p Holm", "win", "n"):
        t.add_column(col, justify="right", no_wrap=True, min_width=len(col))
    for r in rows:
        meta = outputs.get(r.output, OutputMeta(r.output))
        p, _, win = _stat_cells(r)
        t.add_row(_verdict_text(r), f"{r.output} {meta.arrow}", fmt_num(r.mean_baseline),
                  fmt_num(r.mean_variant), _terminal_diff(r), p, win, str(r.n_used))
    return t


def _wide_fits(pc: PairComparison, rows: Sequence[OutputComparison], width: int) -> bool:
    """Whether the one-line-per-output table fits ``width`` columns (else: two lines each)."""
    if width < WIDE_COLUMNS or not rows:
        return width >= WIDE_COLUMNS
    cols = [15, max(len(r.output) + 2 for r in rows),
            max(9, min(len(pc.baseline), 16)), max(9, min(len(pc.variant), 16)),
            max(len("difference [95 % CI]"), max(len(_terminal_diff(r)) for r in rows)),
            len("p Holm"), 4, max(1, max(len(str(r.n_used)) for r in rows))]
    return sum(cols) + 2 * len(cols) <= width


def _compact_table(pc: PairComparison, rows: Sequence[OutputComparison],
                   outputs: Mapping[str, OutputMeta]) -> Any:
    """Two lines per output, the verdict first: fits 80 columns (and less)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1))
    t.add_column("verdict", min_width=15, max_width=15)
    t.add_column(f"output  {pc.baseline} \u2192 {pc.variant}", ratio=1)
    for r in rows:
        meta = outputs.get(r.output, OutputMeta(r.output))
        p, _, win = _stat_cells(r)
        cell = Text(f"{r.output} {meta.arrow}  ", style="bold")
        cell.append(f"{fmt_num(r.mean_baseline)} \u2192 {fmt_num(r.mean_variant)}", style="")
        if r.verdict == stats.NOT_ENOUGH and r.note:
            cell.append(f"\n{r.note}", style="dim")
        else:
            cell.append(f"\n{_terminal_diff(r)} \u00b7 p {p} \u00b7 wins {win} \u00b7 "
                        f"n {r.n_used}", style="dim")
        t.add_row(_verdict_text(r), cell)
    return t


def _prompt_grid(pc: PairComparison, max_prompts: int = 3) -> Any:
    from rich.table import Table
    from rich.text import Text

    g = Table.grid(padding=(0, 2))
    g.add_column(no_wrap=True, style="bold")
    g.add_column(ratio=1)
    for name, prompts in ((pc.variant, pc.prompts_variant), (pc.baseline, pc.prompts_baseline)):
        if not prompts:
            g.add_row(name, Text("(no prompt recorded)", style="dim"))
            continue
        shown = prompts[:max_prompts]
        text = Text()
        if len(prompts) > 1:
            text.append(f"{len(prompts)} prompts:\n", style="dim")
        text.append("\n".join(" ".join(x.split()) for x in shown))
        if len(prompts) > len(shown):
            text.append(f"\n\u2026 and {len(prompts) - len(shown)} more (see report.html)",
                        style="dim")
        g.add_row(name, text)
    return g


def comparison_renderables(comparison: Comparison, *, width: int = 150,
                           show_all: bool = False) -> list[Any]:
    """What ``lenscore compare`` prints, per variant pair: the one-line answer, the prompts in
    full, the quality outputs' verdicts (a table that fits ``width``: two lines per output
    below :data:`WIDE_COLUMNS`), the descriptive outputs folded into a few lines (as full rows
    with ``show_all``), and the 'too few images' hint once."""
    from rich.text import Text

    power = float(comparison.settings.get("power", 0.8)) if comparison.settings else 0.8
    out: list[Any] = []
    def table(pc: PairComparison, rows: Sequence[OutputComparison]) -> Any:
        make = _wide_table if _wide_fits(pc, rows, width) else _compact_table
        return make(pc, rows, comparison.outputs)

    for i, pc in enumerate(comparison.pairs):
        if i:
            out.append(Text(""))
        out.append(Text(answer_line(pc), style="bold"))
        out.append(_prompt_grid(pc))
        out.append(Text(pc.pairing_note, style="dim"))
        q = sort_by_verdict(pc.quality())
        if q:
            out.append(Text("\nQuality outputs (\u2191 higher is better, \u2193 lower is better)",
                            style="bold"))
            out.append(table(pc, q))
        d = pc.descriptive()
        if d:
            out.append(Text("Descriptive outputs (no better direction: a change is reported, "
                            "not judged)", style="bold"))
            if show_all:
                out.append(table(pc, sort_by_verdict(d)))
            else:
                from rich.table import Table

                g = Table.grid()
                g.add_column(no_wrap=True, min_width=2)
                g.add_column(ratio=1)
                for verdict in (stats.DIFFERS, stats.NO_DIFFERENCE, stats.NOT_ENOUGH):
                    rows = [r for r in d if r.verdict == verdict]
                    if not rows:
                        continue
                    if verdict == stats.DIFFERS:  # no space around the arrow: never split
                        items = ", ".join(f"{r.output} {fmt_num(r.mean_baseline)}\u2192"
                                          f"{fmt_num(r.mean_variant)}" for r in rows)
                    else:
                        items = ", ".join(r.output for r in rows)
                    line = Text(f"{verdict} ({len(rows)}): ", style=VERDICT_STYLE.get(verdict, ""))
                    line.append(items, style="")
                    g.add_row("", line)
                out.append(g)
                out.append(Text("  (every output in full: --all, comparison.json, report.html)",
                                style="dim"))
        hint = power_summary(pc, power=power)
        if hint:
            t = Text("power: ", style="yellow")
            t.append(hint)
            out.append(t)
    return out


def comparison_tables(comparison: Comparison, *, width: int = 150) -> list[Any]:
    """rich Tables of every output, one per variant pair (verdict first)."""
    return [(_wide_table if _wide_fits(pc, pc.results, width) else _compact_table)(
        pc, pc.results, comparison.outputs) for pc in comparison.pairs]
