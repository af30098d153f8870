"""Finding the images to score: a folder (variants from first-level subfolders) or a manifest.

Folder layout: ``renders/optical/*.png`` -> variant ``optical``; images directly in the root ->
variant ``default``. Recursive, sorted by path, hidden folders skipped, symlinked folders not
followed (so a symlink loop cannot hang the walk).

Manifest (CSV with a header, or JSONL): per image ``path`` (relative to the manifest's folder),
``variant``, and optionally ``prompt``, ``seed``, ``subject_box`` (``x,y,w,h`` in pixels),
``subject_mask`` (a PNG of the image's size, white on the subject, relative to the manifest). A path
may not leave the manifest's folder. Faults are :class:`ConfigError` with the line and column.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from lenscore.datasets.decode import SUPPORTED_SUFFIXES
from lenscore.errors import ConfigError, UsageError

DEFAULT_VARIANT = "default"
MANIFEST_COLUMNS = ("path", "variant", "prompt", "seed", "subject_box", "subject_mask")


@dataclass(frozen=True)
class ImageRecord:
    """One image to score. ``path`` is as shown to the user (relative to the input root);
    ``source`` is what to open."""

    path: str
    source: str
    variant: str = DEFAULT_VARIANT
    prompt: str | None = None
    seed: str | None = None
    subject_box: tuple[int, int, int, int] | None = None
    #: a PNG of the image's size, white on the subject (what to open), from the manifest.
    subject_mask: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def find_images(root: str | os.PathLike) -> list[ImageRecord]:
    """Images under ``root`` (a folder, or a single image file), sorted by path."""
    rootp = Path(root)
    if not rootp.exists():
        raise UsageError(f"no such file or folder: {root}")
    if rootp.is_file():
        return [ImageRecord(path=rootp.name, source=str(rootp))]
    records: list[ImageRecord] = []
    for dirpath, dirnames, filenames in os.walk(rootp, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            if fn.startswith(".") or not fn.lower().endswith(SUPPORTED_SUFFIXES):
                continue
            full = Path(dirpath) / fn
            rel = full.relative_to(rootp)
            variant = rel.parts[0] if len(rel.parts) > 1 else DEFAULT_VARIANT
            records.append(ImageRecord(path=rel.as_posix(), source=str(full), variant=variant))
    records.sort(key=lambda r: r.path)
    if not records:
        raise UsageError(f"no images found in {root} (looked for {', '.join(SUPPORTED_SUFFIXES)}, "
                         f"recursively)")
    return records


def read_manifest(manifest: str | os.PathLike, *,
                  extra_columns: Sequence[str] = ()) -> list[ImageRecord]:
    """Records from a CSV or JSONL manifest; paths are relative to the manifest's folder.

    Columns (JSONL keys) other than :data:`MANIFEST_COLUMNS` and the declared
    ``extra_columns`` are a :class:`ConfigError` with "did you mean" (a header saying
    ``varient`` or ``Variant`` would otherwise put every image in variant 'default'). Declared
    extra columns are kept in each record's ``extra`` (and written to scores.csv).
    """
    mpath = Path(manifest)
    if not mpath.is_file():
        raise UsageError(f"manifest not found: {manifest}")
    from lenscore.datasets.library import read_utf8

    extras = check_extra_columns(extra_columns)
    text = read_utf8(mpath)
    jsonl = mpath.suffix.lower() in (".jsonl", ".ndjson")
    rows = _jsonl_rows(text, str(mpath)) if jsonl else _csv_rows(text, str(mpath))
    known = (*MANIFEST_COLUMNS, *extras)
    checked: set[str] = set()
    for line, row in rows:
        for key in row:
            if key not in checked:
                _check_column(key, known, str(mpath), line if jsonl else 1)
                checked.add(key)
    base = mpath.parent.resolve()
    records = [_record(row, line, base, str(mpath)) for line, row in rows]
    if not records:
        raise UsageError(f"manifest {manifest} lists no images")
    return records


def check_extra_columns(names: Sequence[str]) -> tuple[str, ...]:
    """Declared extra manifest columns, validated: not a standard column, no '.' (reserved for
    metric outputs, ``family.output``), not empty."""
    out: list[str] = []
    for raw in names:
        name = str(raw).strip()
        if not name:
            continue
        if name in MANIFEST_COLUMNS or name in ("status", "error", "notes", "width", "height"):
            raise UsageError(f"--extra-columns: '{name}' is a standard column; declare only "
                             "your own columns")
        if "." in name or "," in name:
            raise UsageError(f"--extra-columns: '{name}' may not contain '.' or ',' (a '.' marks "
                             "a metric output, family.output)")
        if name not in out:
            out.append(name)
    return tuple(out)


def _check_column(key: str, known: Sequence[str], src: str, line: int) -> None:
    if key in known:
        return
    from lenscore.metrics.base import suggest

    lower = {k.lower(): k for k in known}
    hint = (f" Did you mean '{lower[key.strip().lower()]}'?" if key.strip().lower() in lower
            else suggest(key, list(known)))
    raise ConfigError(
        f"unknown column '{key}'.{hint} Known columns: {', '.join(MANIFEST_COLUMNS)}; a column "
        f"of your own is kept in scores.csv when declared: --extra-columns {key or 'NAME'}",
        source=src, line=line, column=key)


def _csv_rows(text: str, src: str) -> list[tuple[int, dict]]:
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader)
    except StopIteration:
        raise ConfigError("empty manifest: expected a header line with at least 'path'",
                          source=src, line=1) from None
    header = [h.strip() for h in header]
    if "path" not in header:
        raise ConfigError(f"the header has no 'path' column (found: {', '.join(header) or 'nothing'}); "
                          f"expected columns {', '.join(MANIFEST_COLUMNS)}", source=src, line=1)
    rows = []
    for i, values in enumerate(reader, start=2):
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise ConfigError(f"{len(values)} fields where the header has {len(header)}",
                              source=src, line=i)
        rows.append((i, dict(zip(header, values))))
    return rows


def _jsonl_rows(text: str, src: str) -> list[tuple[int, dict]]:
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid JSON: {e.msg}", source=src, line=i, column=e.colno) from None
        if not isinstance(obj, dict):
            raise ConfigError(f"expected a JSON object per line, got {type(obj).__name__}",
                              source=src, line=i, column=1)
        rows.append((i, obj))
    return rows


def _record(row: dict, line: int, base: Path, src: str) -> ImageRecord:
    raw_path = row.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise ConfigError("missing 'path'", source=src, line=line, column="path")
    rel = _inside(raw_path.strip(), base, src, line, "path")
    variant = _opt_str(row.get("variant")) or DEFAULT_VARIANT
    box = _parse_box(row.get("subject_box"), src, line)
    mask = _opt_str(row.get("subject_mask"))
    mask_src = str(base / _inside(mask, base, src, line, "subject_mask")) if mask else None
    extra = {k: v for k, v in row.items() if k not in MANIFEST_COLUMNS and v not in (None, "")}
    return ImageRecord(path=Path(rel).as_posix(), source=str(base / rel), variant=variant,
                       prompt=_opt_str(row.get("prompt")), seed=_opt_str(row.get("seed")),
                       subject_box=box, subject_mask=mask_src, extra=extra)


def _inside(rel: str, base: Path, src: str, line: int, column: str) -> str:
    """``rel`` when it is a relative path that stays below ``base``, else a ConfigError."""
    if os.path.isabs(rel) or "\x00" in rel:
        raise ConfigError(f"{column} '{rel}' must be relative to the manifest's folder",
                          source=src, line=line, column=column)
    try:
        (base / rel).resolve().relative_to(base)
    except ValueError:
        raise ConfigError(f"{column} '{rel}' points outside the manifest's folder ({base}); "
                          f"manifests may only list files below themselves",
                          source=src, line=line, column=column) from None
    return rel


def _opt_str(v: object) -> str | None:
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def _parse_box(v: object, src: str, line: int) -> tuple[int, int, int, int] | None:
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    parts = v if isinstance(v, list) else str(v).replace(";", ",").split(",")
    try:
        nums = [float(p) for p in parts]
    except (TypeError, ValueError):
        nums = []
    if len(nums) != 4 or not all(abs(n) < 1e9 for n in nums) \
            or nums[2] <= 0 or nums[3] <= 0 or nums[0] < 0 or nums[1] < 0:  # NaN/inf fail abs() < 1e9
        raise ConfigError(f"subject_box must be 'x,y,w,h' in pixels with w, h > 0, got {v!r}",
                          source=src, line=line, column="subject_box")
    return tuple(int(round(n)) for n in nums)  # type: ignore[return-value]
