"""Running the metric families over image records and streaming the scores table to disk.

``score_record`` turns one record into one row and never raises for a bad image: unreadable
inputs become ``status=error`` rows with a reason, and a family that fails on one image is NaN
with the reason in ``notes``. ``run`` maps it over records (in worker processes with ``jobs > 1``)
and writes each row to ``scores.csv`` as soon as it is final, in input order, so an interrupted
run keeps every finished row.
"""

from __future__ import annotations

import csv
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from lenscore.datasets.decode import DEFAULT_MAX_PIXELS, decode_image
from lenscore.datasets.discover import ImageRecord
from lenscore.datasets.prompts import prompt_from_text
from lenscore.errors import InputError
from lenscore.metrics.base import MetricFamily, MetricResult

BASE_COLUMNS = ("path", "variant", "prompt", "seed", "status", "error", "notes", "width", "height")


def select_families(names: Iterable[str] | None = None) -> list[MetricFamily]:
    """The families to run: the named ones (in registry order), or every default family."""
    from lenscore.metrics.base import families, get_family

    if names is None:
        return [f for f in families().values() if f.default]
    wanted = [n.strip() for n in names if n.strip()]
    for n in wanted:
        get_family(n)  # raises UsageError with "did you mean"
    return [f for f in families().values() if f.name in wanted]


def columns_for(families: Sequence[MetricFamily]) -> list[str]:
    return list(BASE_COLUMNS) + [o.name for f in families for o in f.outputs]


def compute_families(ctx: Any, families: Sequence[MetricFamily] | None = None) -> dict[str, MetricResult]:
    """Run each family on one :class:`ImageContext`; a family that raises is NaN with the reason."""
    fams = select_families() if families is None else families
    out: dict[str, MetricResult] = {}
    for fam in fams:
        try:
            res = fam.compute(ctx)
        except Exception as e:  # a metric bug must not lose the image: NaN + reason, keep going
            res = fam.nan_result(f"internal error ({type(e).__name__}: {e}); please report it")
        for o in fam.outputs:
            res.values.setdefault(o.name, math.nan)
        out[fam.name] = res
    return out


@dataclass
class RowResult:
    """One finished row, plus what the main process may need beyond the CSV."""

    row: dict[str, Any]
    results: dict[str, MetricResult] = field(default_factory=dict)


def notes_text(results: dict[str, MetricResult], decode_notes: Sequence[str] = ()) -> str:
    parts = list(decode_notes)
    for fam, res in results.items():
        seen: set[str] = set()
        for key, reason in res.reasons.items():
            if reason in seen:
                continue
            seen.add(reason)
            label = key if key == fam or "." not in key else key
            parts.append(f"{label}: {reason}")
    return "; ".join(parts)


def score_record(record: ImageRecord, families: Sequence[MetricFamily], *,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, keep_results: bool = False) -> RowResult:
    """Decode one image, run the families, return its row. Never raises for bad input."""
    from lenscore.context import ImageContext

    row: dict[str, Any] = {"path": record.path, "variant": record.variant,
                           "prompt": record.prompt or "", "seed": record.seed or "",
                           "status": "ok", "error": "", "notes": "", "width": "", "height": ""}
    try:
        decoded = decode_image(record.source, max_pixels=max_pixels)
    except InputError as e:
        row.update(status="error", error=str(e))
        return RowResult(row)
    except MemoryError:
        row.update(status="error", error="out of memory while decoding: lower --max-pixels or --jobs")
        return RowResult(row)
    except Exception as e:  # a decoder bug on a hostile file is still just this file's error
        row.update(status="error", error=f"cannot decode ({type(e).__name__}: {e})")
        return RowResult(row)
    if not row["prompt"] or not row["seed"]:
        info = prompt_from_text(decoded.text)
        row["prompt"] = row["prompt"] or (info.prompt or "")
        row["seed"] = row["seed"] or (info.seed or "")
    row["width"], row["height"] = decoded.width, decoded.height
    try:
        ctx = ImageContext(decoded.rgb, subject_box=record.subject_box, prompt=row["prompt"] or None)
    except InputError as e:
        row.update(status="error", error=str(e))
        return RowResult(row)
    results = compute_families(ctx, families)
    for res in results.values():
        row.update(res.values)
    row["notes"] = notes_text(results, decoded.notes)
    return RowResult(row, results if keep_results else {})


class ScoresWriter:
    """Writes ``scores.csv`` row by row (flushed after each), with a fixed header."""

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]):
        self.path = Path(path)
        self.columns = list(columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._fh, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._fh.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow({k: _cell(row.get(k, "")) for k in self.columns})
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "ScoresWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(round(v, 6)) if abs(v) < 1e15 else repr(v)
    return v


def _score_star(args: tuple) -> RowResult:
    record, family_names, max_pixels = args
    return score_record(record, select_families(family_names), max_pixels=max_pixels)


def iter_rows(records: Sequence[ImageRecord], families: Sequence[MetricFamily], *, jobs: int = 1,
              max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Iterator[RowResult]:
    """Rows in input order; with ``jobs > 1`` computed in worker processes."""
    if jobs <= 1 or len(records) <= 1:
        for r in records:
            yield score_record(r, families, max_pixels=max_pixels)
        return
    import concurrent.futures as cf
    import multiprocessing as mp

    ctx = mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    names = [f.name for f in families]
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        yield from pool.map(_score_star, ((r, names, max_pixels) for r in records), chunksize=1)


@dataclass
class RunResult:
    scores_path: Path
    n: int
    n_failed: int


def run(records: Sequence[ImageRecord], out_dir: str | os.PathLike, *,
        families: Sequence[MetricFamily], jobs: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS,
        on_row: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
    """Score ``records`` into ``out_dir/scores.csv``; returns counts."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scores.csv"
    n = n_failed = 0
    with ScoresWriter(path, columns_for(families)) as writer:
        for res in iter_rows(records, families, jobs=jobs, max_pixels=max_pixels):
            writer.write(res.row)
            n += 1
            n_failed += res.row["status"] != "ok"
            if on_row is not None:
                on_row(res.row)
    return RunResult(path, n, n_failed)
