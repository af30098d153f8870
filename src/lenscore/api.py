"""lenscore from Python (notebooks, scripts): the same scoring and comparison as the CLI, returning
pandas DataFrames instead of writing files and printing.

    >>> import lenscore
    >>> df = lenscore.score("renders/", families=["bokeh", "focus"])  # doctest: +SKIP
    >>> lenscore.compare(df, baseline="blurred")  # doctest: +SKIP

Exported lazily by ``lenscore/__init__.py`` (``import lenscore`` imports neither pandas nor any
metric until one of these is used).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

PathLike = str | os.PathLike


def _records(source: Any) -> list:
    """Image records from a folder, one image, a list of images, or {variant: folder or list}."""
    from lenscore.datasets.discover import ImageRecord, find_images
    from lenscore.errors import UsageError
    from lenscore.evaluator.sources import find_images_url, is_url

    if isinstance(source, Mapping):
        out = []
        for variant, part in source.items():
            for r in _records(part):
                out.append(ImageRecord(path=f"{variant}/{r.path}", source=r.source,
                                       variant=str(variant), prompt=r.prompt, seed=r.seed,
                                       subject_box=r.subject_box))
        return out
    if isinstance(source, (str, os.PathLike)):
        s = os.fspath(source)
        return find_images_url(s) if is_url(s) else find_images(s)
    if isinstance(source, Iterable):
        items = [os.fspath(p) for p in source]
        if not items:
            raise UsageError("no images given: pass a folder, an image, or a list of images")
        out = []
        for p in items:
            if is_url(p):
                out.append(ImageRecord(path=p, source=p))
            elif not Path(p).exists():
                raise UsageError(f"no such file or folder: {p}")
            elif Path(p).is_dir():
                out.extend(find_images(p))
            else:
                out.append(ImageRecord(path=p, source=p))
        return out
    raise UsageError(f"expected a folder, an image path, a list of paths or a mapping of "
                     f"variant -> folder, got {type(source).__name__}")


def score(paths_or_folder: Any, *, families: Sequence[str] | str | None = None,
          manifest: PathLike | None = None, extra_columns: Sequence[str] = (),
          jobs: int | None = None, out: PathLike | None = None, cache: PathLike | None = None,
          max_pixels: int | None = 100_000_000, image_timeout: float | None = 300.0) -> Any:
    """Score images; returns the scores table as a pandas DataFrame.

    Parameters
    ----------
    paths_or_folder : path, list of paths, or mapping
        A folder (its first-level subfolders are the variants, as for ``lenscore score``), one
        image, a list of images (variant 'default'), an fsspec URL, or ``{variant: folder or
        list of images}``. ``None`` with ``manifest``.
    families : list of str or 'a,b', optional
        Metric families to run (default: every optical family).
    manifest : path, optional
        A CSV/JSONL manifest instead of ``paths_or_folder`` (``extra_columns`` as
        ``--extra-columns``).
    jobs : int, optional
        Worker processes (default: the usable cores).
    out : path, optional
        Keep ``scores.csv`` and ``summary.json`` in this folder (default: a temporary folder).
    cache : path, optional
        Result cache folder (default: none).
    max_pixels, image_timeout :
        As ``--max-pixels`` and ``--image-timeout`` (seconds per image; 0 or None: no limit).

    Returns
    -------
    DataFrame
        One row per image with the columns of ``scores.csv``: ``path, variant, prompt, seed,
        status, error, notes, width, height``, declared extra columns, then one float column per
        metric output ``family.output`` (NaN where not measurable, the reason in ``notes``).
        Unreadable images are rows with ``status == "error"``; nothing is raised for them.

    Examples
    --------
    >>> df = lenscore.score("renders/", families=["bokeh"])  # doctest: +SKIP
    >>> df.groupby("variant")["bokeh.circularity"].mean()  # doctest: +SKIP
    """
    from lenscore.datasets.discover import read_manifest
    from lenscore.errors import UsageError
    from lenscore.evaluator.executors import default_jobs
    from lenscore.evaluator.run import run, select_families
    from lenscore.reports.aggregate import read_scores, write_summary

    if manifest is not None:
        records = read_manifest(manifest, extra_columns=extra_columns)
    elif paths_or_folder is None:
        raise UsageError("give images (a folder, an image or a list) or manifest=FILE")
    else:
        records = _records(paths_or_folder)
    names = families.split(",") if isinstance(families, str) else families
    fams = select_families(names)
    limit = image_timeout or None

    def _run(folder: Path) -> Any:
        run(records, folder, families=fams, jobs=jobs or default_jobs(), max_pixels=max_pixels,
            cache_dir=cache, image_timeout=limit)
        write_summary(folder, fams, input_desc=f"lenscore.score({paths_or_folder!r})")
        return read_scores(folder / "scores.csv")

    if out is not None:
        return _run(Path(out))
    with tempfile.TemporaryDirectory(prefix="lenscore-") as tmp:
        return _run(Path(tmp))


def compare(scores: Any, *, baseline: str | None = None, min_effect: float | Mapping[str, float]
            = 0.5, alpha: float = 0.05, seed: int = 0) -> Any:
    """Compare prompt variants: is each variant better than ``baseline``, and how sure is that?

    The statistics of ``lenscore compare`` (BCa bootstrap CI of the difference of means, paired
    by prompt and seed when the variants share them; permutation p-value with Holm correction;
    Cliff's delta; win rate; direction-aware verdict).

    Parameters
    ----------
    scores : DataFrame or path
        A scores table (from :func:`score`, or ``scores.csv`` read with pandas), or a scored run
        folder / its ``scores.csv``.
    baseline : str, optional
        The reference variant (default: the first variant of the table).
    min_effect : float or mapping
        The change worth detecting, for the sample-size column: pooled standard deviations
        (default 0.5), or ``{output: change in the output's units}``.
    alpha, seed :
        Level of the Holm-corrected tests; seed of the resampling (results are reproducible).

    Returns
    -------
    DataFrame
        One row per variant and output: ``variant, baseline, output, direction, unit, verdict,
        diff, ci_low, ci_high, p_value, p_holm, cliffs_delta, win_rate, n, mean_baseline,
        mean_variant, paired, n_needed, note``; quality outputs (a better direction) first.
        ``.attrs["answer"]`` maps each variant to the one-line answer ("optical is better than
        blurred on 5 of 5 quality outputs, worse on none").
    """
    import pandas as pd

    from lenscore.reports.compare import (compare_scores, metric_columns, output_meta, read_run,
                                          sort_by_verdict)

    summary: dict = {}
    if isinstance(scores, (str, os.PathLike)):
        scores, summary = read_run(scores)
    df = scores.copy()
    for c in ("prompt", "seed"):
        if c not in df.columns:
            df[c] = ""
    if "status" not in df.columns:
        df["status"] = "ok"
    meta = output_meta(metric_columns(df), summary)
    if isinstance(min_effect, Mapping):
        comparison = compare_scores(df, baseline=baseline, meta=meta, min_effect=dict(min_effect),
                                    alpha=alpha, seed=seed)
    else:
        comparison = compare_scores(df, baseline=baseline, meta=meta,
                                    min_effect_sd=float(min_effect), alpha=alpha, seed=seed)
    from lenscore.reports.compare import answer_line

    rows = []
    for pc in comparison.pairs:
        for r in [*sort_by_verdict(pc.quality()), *sort_by_verdict(pc.descriptive())]:
            rows.append({"variant": r.variant, "baseline": r.baseline, "output": r.output,
                         "direction": r.direction, "unit": r.unit, "verdict": r.verdict,
                         "diff": r.diff, "ci_low": r.ci[0], "ci_high": r.ci[1],
                         "p_value": r.p_value, "p_holm": r.p_holm,
                         "cliffs_delta": r.cliffs_delta, "win_rate": r.win_rate, "n": r.n_used,
                         "mean_baseline": r.mean_baseline, "mean_variant": r.mean_variant,
                         "paired": r.paired, "n_needed": r.n_needed, "note": r.note})
    result = pd.DataFrame(rows)
    result.attrs["answer"] = {pc.variant: answer_line(pc) for pc in comparison.pairs}
    result.attrs["pairing"] = {pc.variant: pc.pairing_note for pc in comparison.pairs}
    return result
