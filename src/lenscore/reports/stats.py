"""Statistics for lenscore's aggregates and A/B comparisons: pure functions on numpy arrays.

Methods and sources
-------------------
- Confidence intervals: the bias-corrected and accelerated (BCa) bootstrap of the mean
  (Efron 1987, "Better bootstrap confidence intervals", JASA 82:171; Efron & Tibshirani 1993,
  *An Introduction to the Bootstrap*, ch. 14), with the acceleration from the jackknife.
  Two-sample (unpaired) differences resample each sample on its own and take the acceleration
  from both samples' jackknives, as scipy.stats.bootstrap does. When the bootstrap distribution
  is degenerate (every resample on one side of the estimate) the interval falls back to the
  plain percentile interval. ``method="percentile"`` asks for the percentile interval directly.
- Clustered data (several seeds of one prompt): ``clusters=`` resamples whole clusters
  (Davison & Hinkley 1997, sec. 3.8; Field & Welsh 2007), with the leave-one-cluster-out
  jackknife for the acceleration, so that images sharing a prompt are not counted as
  independent evidence.
- p-values: permutation tests of the difference of means (Good 2005, *Permutation, Parametric
  and Bootstrap Tests of Hypotheses*). Paired: random sign flips of the per-pair differences
  (whole clusters flip together when ``clusters=`` is given), exact enumeration for at most
  ``2**12`` patterns. Unpaired: random re-labelling. Monte Carlo p-values use
  ``(1 + #{|T*| >= |T|}) / (1 + R)`` (Phipson & Smyth 2010), so they are never 0 and stay valid.
- Multiple outputs: Holm's step-down correction (Holm 1979, Scand. J. Statist. 6:65).
- Effect size: Cliff's delta (Cliff 1993, Psychol. Bull. 114:494); win rate = the probability
  that B beats A (paired: share of pairs; unpaired: the common-language effect size,
  McGraw & Wong 1992), ties counted half.
- Power: the number of images per variant (or pairs) needed to detect a change ``effect`` with a
  two-sided t test at level ``alpha`` and the given power (Cohen 1988, ch. 2), solved with
  t quantiles by fixed-point iteration from the normal approximation.

Every function takes a ``seed`` (or none is needed) and is deterministic for a given seed.
NaN and inf values are dropped by the callers in :mod:`lenscore.reports.compare`; the functions
here drop non-finite values themselves where noted.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np

Direction = Literal["higher", "lower", "neither"]

#: verdict labels
BETTER, WORSE, DIFFERS = "better", "worse", "differs"
NO_DIFFERENCE = "no detectable difference"
NOT_ENOUGH = "not enough data"

#: at most this many numbers are held in one resampling block (memory bound).
_BLOCK = 2_000_000
#: exact sign-flip enumeration up to this many pairs/clusters.
_EXACT_SIGNFLIP_MAX = 12


# --------------------------------------------------------------------------------------------
# helpers
def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _norm_ppf(p: np.ndarray | float) -> np.ndarray | float:
    from scipy.special import ndtri

    return ndtri(p)


def _norm_cdf(z: np.ndarray | float) -> np.ndarray | float:
    from scipy.special import ndtr

    return ndtr(z)


def _cluster_sums(values: np.ndarray, clusters: Sequence | np.ndarray | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster sums and counts (each value its own cluster when ``clusters`` is None)."""
    if clusters is None:
        return values.astype(float), np.ones(values.size)
    labels = np.asarray(clusters, dtype=object).ravel()
    if labels.size != values.size:
        raise ValueError(f"clusters has {labels.size} labels for {values.size} values")
    _, inv = np.unique(labels.astype(str), return_inverse=True)
    sums = np.bincount(inv, weights=values).astype(float)
    counts = np.bincount(inv).astype(float)
    return sums, counts


def _boot_means(sums: np.ndarray, counts: np.ndarray, n_resamples: int,
                rng: np.random.Generator) -> np.ndarray:
    """Means of ``n_resamples`` cluster bootstrap resamples (vectorised, in blocks)."""
    g = sums.size
    out = np.empty(n_resamples)
    rows = max(1, _BLOCK // max(g, 1))
    equal = bool(np.all(counts == counts[0]))
    for start in range(0, n_resamples, rows):
        stop = min(n_resamples, start + rows)
        idx = rng.integers(0, g, size=(stop - start, g))
        if equal:
            out[start:stop] = sums[idx].sum(axis=1) / (counts[0] * g)
        else:
            out[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return out


def _jackknife_means(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Leave-one-cluster-out means."""
    return (sums.sum() - sums) / (counts.sum() - counts)


def _acceleration(*jackknives: np.ndarray) -> float:
    """BCa acceleration from one or several samples' jackknife estimates (Efron 1987, eq. 6.6)."""
    num = 0.0
    den = 0.0
    for jk in jackknives:
        if jk.size == 0:
            continue
        d = jk.mean() - jk
        num += float(np.sum(d ** 3))
        den += float(np.sum(d ** 2))
    if den <= 0 or not math.isfinite(den):
        return 0.0
    return num / (6.0 * den ** 1.5)


def _interval(theta: float, boot: np.ndarray, jackknives: Sequence[np.ndarray],
              confidence: float, method: str) -> tuple[float, float]:
    lo_q, hi_q = (1 - confidence) / 2, 1 - (1 - confidence) / 2
    spread = np.ptp(boot)
    if spread <= 1e-12 * max(1.0, abs(theta)):
        return float(theta), float(theta)
    if method == "bca":
        below = np.mean(boot < theta) + 0.5 * np.mean(boot == theta)
        if 0.0 < below < 1.0:
            z0 = float(_norm_ppf(below))
            a = _acceleration(*jackknives)
            z = _norm_ppf(np.array([lo_q, hi_q]))
            adj = z0 + (z0 + z) / (1 - a * (z0 + z))
            qs = np.asarray(_norm_cdf(adj), dtype=float)
            if np.all(np.isfinite(qs)):
                lo, hi = np.quantile(boot, np.clip(qs, 0.0, 1.0))
                return float(lo), float(hi)
        # degenerate bias correction: fall back to the percentile interval
    elif method != "percentile":
        raise ValueError(f"method must be 'bca' or 'percentile', got {method!r}")
    lo, hi = np.quantile(boot, [lo_q, hi_q])
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# confidence intervals
def bootstrap_ci(values: Sequence[float] | np.ndarray, *, n_resamples: int = 2000,
                 confidence: float = 0.95, seed: int | np.random.Generator | None = 0,
                 method: str = "bca", clusters: Sequence | np.ndarray | None = None
                 ) -> tuple[float, float]:
    """Bootstrap confidence interval of the mean of ``values`` (BCa by default).

    Parameters
    ----------
    values : array-like
        The sample; NaN and inf are dropped.
    n_resamples : int
        Bootstrap resamples.
    confidence : float
        Coverage of the interval, e.g. 0.95.
    seed : int or Generator
        Makes the interval reproducible.
    method : {"bca", "percentile"}
        BCa (Efron 1987) or the percentile interval.
    clusters : array-like, optional
        One label per value (before NaN dropping); whole clusters are resampled.

    Returns
    -------
    (lo, hi) : tuple of float
        ``(nan, nan)`` with fewer than 2 finite values; ``(x, x)`` when all values equal ``x``.

    Examples
    --------
    >>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 5.0], seed=0)
    >>> lo < 3.0 < hi
    True
    """
    x = np.asarray(values, dtype=float).ravel()
    keep = np.isfinite(x)
    if clusters is not None:
        clusters = np.asarray(clusters, dtype=object).ravel()[keep]
    x = x[keep]
    if x.size < 2:
        return (math.nan, math.nan)
    sums, counts = _cluster_sums(x, clusters)
    if sums.size < 2:
        return (math.nan, math.nan)
    rng = _rng(seed)
    theta = float(x.mean())
    boot = _boot_means(sums, counts, n_resamples, rng)
    return _interval(theta, boot, [_jackknife_means(sums, counts)], confidence, method)


def bootstrap_diff_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                      paired: bool, n_resamples: int = 2000, confidence: float = 0.95,
                      seed: int | np.random.Generator | None = 0, method: str = "bca",
                      clusters: Sequence | np.ndarray | None = None) -> tuple[float, float]:
    """Bootstrap confidence interval of ``mean(b) - mean(a)``.

    Paired (``a[i]`` and ``b[i]`` share prompt and seed): the interval of the mean per-pair
    difference, resampling pairs (or whole ``clusters`` of pairs). Unpaired: each sample is
    resampled on its own (``clusters`` is ignored). Inputs must already be NaN-free (paired:
    drop a pair when either value is missing).

    Returns ``(nan, nan)`` when a side has fewer than 2 values.
    """
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    rng = _rng(seed)
    if paired:
        if a.size != b.size:
            raise ValueError(f"paired samples must have equal length, got {a.size} and {b.size}")
        return bootstrap_ci(b - a, n_resamples=n_resamples, confidence=confidence, seed=rng,
                            method=method, clusters=clusters)
    if a.size < 2 or b.size < 2:
        return (math.nan, math.nan)
    sa, ca = _cluster_sums(a, None)
    sb, cb = _cluster_sums(b, None)
    theta = float(b.mean() - a.mean())
    boot = _boot_means(sb, cb, n_resamples, rng) - _boot_means(sa, ca, n_resamples, rng)
    jk_a = b.mean() - _jackknife_means(sa, ca)
    jk_b = _jackknife_means(sb, cb) - a.mean()
    return _interval(theta, boot, [jk_a, jk_b], confidence, method)


# --------------------------------------------------------------------------------------------
# permutation tests
def _pvalue(observed: float, null: np.ndarray, exact: bool) -> float:
    tol = 1e-9 * max(1.0, abs(observed))
    hits = int(np.sum(np.abs(null) >= abs(observed) - tol))
    if exact:
        return min(1.0, hits / null.size)
    return min(1.0, (1 + hits) / (1 + null.size))


def signflip_pvalue(differences: Sequence[float] | np.ndarray, *, n_permutations: int = 5000,
                    seed: int | np.random.Generator | None = 0,
                    clusters: Sequence | np.ndarray | None = None) -> float:
    """Two-sided paired permutation p-value: random sign flips of the per-pair differences.

    Under "B is no different from A", each pair's difference is as likely positive as negative.
    With ``clusters``, whole clusters flip together (pairs of one prompt are not independent).
    Enumerates all ``2**g`` patterns exactly when there are at most 12 pairs/clusters.

    Returns NaN with fewer than 2 finite differences.
    """
    d = _finite(differences) if clusters is None else np.asarray(differences, dtype=float).ravel()
    if clusters is not None:
        keep = np.isfinite(d)
        clusters = np.asarray(clusters, dtype=object).ravel()[keep]
        d = d[keep]
    if d.size < 2:
        return math.nan
    sums, counts = _cluster_sums(d, clusters)
    g = sums.size
    total = counts.sum()
    observed = float(sums.sum() / total)
    if g <= _EXACT_SIGNFLIP_MAX:
        patterns = ((np.arange(2 ** g)[:, None] >> np.arange(g)[None, :]) & 1) * 2 - 1
        null = patterns @ sums / total
        return _pvalue(observed, null, exact=True)
    rng = _rng(seed)
    null = np.empty(n_permutations)
    rows = max(1, _BLOCK // g)
    for start in range(0, n_permutations, rows):
        stop = min(n_permutations, start + rows)
        signs = rng.integers(0, 2, size=(stop - start, g)) * 2 - 1
        null[start:stop] = signs @ sums / total
    return _pvalue(observed, null, exact=False)


def shuffle_pvalue(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                   n_permutations: int = 5000,
                   seed: int | np.random.Generator | None = 0) -> float:
    """Two-sided unpaired permutation p-value of ``mean(b) - mean(a)`` by random re-labelling.

    Returns NaN when a side has fewer than 2 finite values.
    """
    a, b = _finite(a), _finite(b)
    if a.size < 2 or b.size < 2:
        return math.nan
    pooled = np.concatenate([a, b])
    n, nb = pooled.size, b.size
    total = pooled.sum()
    observed = float(b.mean() - a.mean())
    rng = _rng(seed)
    null = np.empty(n_permutations)
    rows = max(1, _BLOCK // n)
    for start in range(0, n_permutations, rows):
        stop = min(n_permutations, start + rows)
        perm = rng.permuted(np.broadcast_to(pooled, (stop - start, n)), axis=1)
        sb = perm[:, :nb].sum(axis=1)
        null[start:stop] = sb / nb - (total - sb) / (n - nb)
    return _pvalue(observed, null, exact=False)


def permutation_pvalue(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                       paired: bool, n_permutations: int = 5000,
                       seed: int | np.random.Generator | None = 0,
                       clusters: Sequence | np.ndarray | None = None) -> float:
    """Two-sided permutation p-value for ``mean(b) - mean(a)``: sign flips when paired,
    re-labelling when not (see :func:`signflip_pvalue`, :func:`shuffle_pvalue`)."""
    if paired:
        a = np.asarray(a, dtype=float).ravel()
        b = np.asarray(b, dtype=float).ravel()
        if a.size != b.size:
            raise ValueError(f"paired samples must have equal length, got {a.size} and {b.size}")
        return signflip_pvalue(b - a, n_permutations=n_permutations, seed=seed,
                               clusters=clusters)
    return shuffle_pvalue(a, b, n_permutations=n_permutations, seed=seed)


# --------------------------------------------------------------------------------------------
# multiple testing, effect sizes
def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979). NaN entries stay NaN and do not count.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float).ravel()
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = ok.size
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def cliffs_delta(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cliff's delta of B against A: ``P(b > a) - P(b < a)`` over all (a, b) pairs, in [-1, 1].

    O(n log n) via sorting. NaN when a side is empty.
    """
    a, b = np.sort(_finite(a)), _finite(b)
    if a.size == 0 or b.size == 0:
        return math.nan
    less = np.searchsorted(a, b, side="left")  # number of a strictly below each b
    greater = a.size - np.searchsorted(a, b, side="right")  # number of a strictly above
    return float((less.sum() - greater.sum()) / (a.size * b.size))


def win_rate(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, paired: bool,
             direction: Direction = "higher") -> float:
    """Probability that B beats A, ties counted half.

    Paired: the share of pairs where ``b[i]`` beats ``a[i]``. Unpaired: the common-language
    effect size over all (a, b) pairs, ``(1 + cliffs_delta) / 2``. "Beats" means higher for
    direction "higher" and "neither" (then it reads P(B > A)), lower for "lower".
    """
    if paired:
        a = np.asarray(a, dtype=float).ravel()
        b = np.asarray(b, dtype=float).ravel()
        keep = np.isfinite(a) & np.isfinite(b)
        if not keep.any():
            return math.nan
        d = b[keep] - a[keep]
        wins = np.mean(d > 0) + 0.5 * np.mean(d == 0)
    else:
        delta = cliffs_delta(a, b)
        if math.isnan(delta):
            return math.nan
        wins = (1 + delta) / 2
    return float(1 - wins if direction == "lower" else wins)


# --------------------------------------------------------------------------------------------
# power
def required_n(sd: float, effect: float, *, paired: bool, alpha: float = 0.05,
               power: float = 0.8) -> int | None:
    """Images per variant (unpaired) or pairs (paired) needed to detect ``effect``.

    Two-sided t test at level ``alpha`` (Cohen 1988): unpaired, per group,
    ``n = 2 ((t_{1-alpha/2} + t_{power}) sd / effect)^2``; paired, ``sd`` is the SD of the
    per-pair differences and ``n = ((t_{1-alpha/2} + t_{power}) sd / effect)^2``.

    Returns None when ``effect`` or ``sd`` is not a positive finite number.
    """
    from scipy import stats as sps

    if not (math.isfinite(sd) and math.isfinite(effect)) or effect <= 0 or sd < 0:
        return None
    if sd == 0:
        return 2
    k = 1.0 if paired else 2.0
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    n = max(2.0, k * (z * sd / effect) ** 2)
    for _ in range(20):
        df = (n - 1) if paired else (2 * n - 2)
        df = max(df, 1.0)
        t = sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)
        n_new = max(2.0, k * (t * sd / effect) ** 2)
        if abs(n_new - n) < 1e-6:
            break
        n = n_new
    return int(math.ceil(n - 1e-9))


def min_detectable_effect(sd: float, n_a: int, n_b: int | None = None, *, paired: bool,
                          alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest change detectable at this sample size (same test as :func:`required_n`).

    Paired: ``n_a`` is the number of pairs and ``sd`` the SD of the differences.
    """
    from scipy import stats as sps

    if not math.isfinite(sd) or sd < 0:
        return math.nan
    if paired:
        if n_a < 2:
            return math.nan
        df = n_a - 1
        se = sd / math.sqrt(n_a)
    else:
        n_b = n_a if n_b is None else n_b
        if n_a < 2 or n_b < 2:
            return math.nan
        df = n_a + n_b - 2
        se = sd * math.sqrt(1 / n_a + 1 / n_b)
    t = sps.t.ppf(1 - alpha / 2, df) + sps.t.ppf(power, df)
    return float(t * se)


def pooled_sd(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Pooled standard deviation of two samples (ddof=1 within each)."""
    a, b = _finite(a), _finite(b)
    dof = a.size + b.size - 2
    if dof <= 0:
        return math.nan
    ss = (np.sum((a - a.mean()) ** 2) if a.size else 0.0) + \
        (np.sum((b - b.mean()) ** 2) if b.size else 0.0)
    return float(math.sqrt(ss / dof))


# --------------------------------------------------------------------------------------------
# verdict
def verdict(diff: float, ci: tuple[float, float], p_adjusted: float, *,
            direction: Direction, alpha: float = 0.05) -> str:
    """Direction-aware verdict for ``B - A``.

    A difference counts only when the Holm-adjusted p-value is below ``alpha`` AND the
    confidence interval excludes 0. Then: direction "higher" -> "better" if B is higher,
    "worse" if lower; "lower" -> the reverse; "neither" -> "differs". Otherwise
    "no detectable difference"; "not enough data" when the p-value or interval is missing.
    """
    lo, hi = ci
    if not all(math.isfinite(v) for v in (diff, lo, hi, p_adjusted)):
        return NOT_ENOUGH
    if p_adjusted >= alpha or (lo <= 0.0 <= hi):
        return NO_DIFFERENCE
    if direction == "neither":
        return DIFFERS
    up = diff > 0
    return BETTER if up == (direction == "higher") else WORSE
