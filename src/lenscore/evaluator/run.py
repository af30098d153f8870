"""Running the metric families over image records and streaming the scores table to disk.

``score_record`` turns one record into one row and never raises for a bad image: unreadable
inputs become ``status=error`` rows with a reason, and a family that fails on one image is NaN
with the reason in ``notes``. ``run`` maps it over records and writes each row to ``scores.csv``
as soon as it is final, in input order, so an interrupted run keeps every finished row.

Scale
-----
* Work per image is done once: the file is read once (those bytes are hashed for the cache and
  decoded), one :class:`~lenscore.context.ImageContext` carries the decode, the working copy and
  the face detection to every family.
* ``jobs > 1`` runs images in worker processes, ``executor='dask'`` on a Dask cluster
  (:mod:`lenscore.evaluator.executors`); a bounded window of a few images per worker is in
  flight, so memory stays flat however large the folder.
* With ``cache_dir`` every image's decode facts and each family's values are stored under the
  file's SHA-256 (:mod:`lenscore.evaluator.cache`); a re-run of an unchanged folder reads them
  back without decoding.
* Each row is one ``write()`` of a complete line on an unbuffered file, so a run killed even by
  SIGKILL leaves a valid CSV of finished rows; ``resume=True`` keeps them (dropping a torn last
  line if there is one), skips their paths and appends the rest: no duplicates.
* A worker process that dies (a segfault in a decoder on a hostile file) costs only the image
  that killed it: the pool is restarted and the images in flight are re-run one at a time.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import signal
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from lenscore.datasets.decode import DEFAULT_MAX_PIXELS, decode_image
from lenscore.datasets.discover import ImageRecord
from lenscore.datasets.prompts import prompt_from_text
from lenscore.errors import InputError, UsageError
from lenscore.metrics.base import MetricFamily, MetricResult

BASE_COLUMNS = ("path", "variant", "prompt", "seed", "status", "error", "notes", "width", "height")


class Interrupted(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT inside :func:`graceful_signals`.

    A ``BaseException`` so no ``except Exception`` in a metric swallows it. After :func:`run`
    re-raises it, ``rows_written`` says how many rows ``scores.csv`` holds.
    """

    def __init__(self, signum: int):
        self.signum = int(signum)
        self.rows_written = 0
        self.scores_path: Path | None = None
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        self.signal_name = name
        super().__init__(f"interrupted by {name}")


@contextlib.contextmanager
def graceful_signals(signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[None]:
    """Turn the first SIGTERM/SIGINT into :class:`Interrupted` (a clean stop); a second one acts
    the default way (SIGTERM kills, Ctrl-C raises KeyboardInterrupt). No-op outside the main
    thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        for s, h in old.items():
            signal.signal(s, h)
        raise Interrupted(signum)

    try:
        for s in signals:
            old[s] = signal.signal(s, handler)
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def select_families(names: Iterable[str] | None = None) -> list[MetricFamily]:
    """The families to run: the named ones (in registry order), or every default family."""
    from lenscore.metrics.base import families, get_family

    if names is None:
        return [f for f in families().values() if f.default]
    wanted = [n.strip() for n in names if n.strip()]
    for n in wanted:
        get_family(n)  # raises UsageError with "did you mean"
    return [f for f in families().values() if f.name in wanted]


def columns_for(families: Sequence[MetricFamily], extra: Sequence[str] = ()) -> list[str]:
    """scores.csv's columns: the base columns, declared extra manifest columns, the outputs."""
    return list(BASE_COLUMNS) + list(extra) + [o.name for f in families for o in f.outputs]


def extra_columns_of(records: Sequence[ImageRecord]) -> list[str]:
    """The declared extra manifest columns the records carry, in order of appearance."""
    seen: dict[str, None] = {}
    for r in records:
        for k in r.extra or {}:
            seen.setdefault(str(k), None)
    return list(seen)


def compute_families(ctx: Any, families: Sequence[MetricFamily] | None = None) -> dict[str, MetricResult]:
    """Run each family on one :class:`ImageContext` (what a family requires is computed too, once,
    but not returned unless asked for); a family that raises is NaN with the reason."""
    fams = select_families() if families is None else families
    return {fam.name: ctx.result(fam) for fam in fams}


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


# ---- one image ---------------------------------------------------------------------------------
@dataclass
class DecodeInfo:
    """What decoding one file gave: its size, notes and metadata prompt, or why it failed.

    ``cacheable`` is False for errors that do not follow from the file's bytes (permission,
    missing file, out of memory, a crash), which must be tried again next run."""

    status: str = "ok"
    error: str = ""
    width: int | str = ""
    height: int | str = ""
    notes: list[str] = field(default_factory=list)
    prompt: str | None = None
    seed: str | None = None
    cacheable: bool = True

    @classmethod
    def failed(cls, error: str, *, cacheable: bool) -> "DecodeInfo":
        return cls(status="error", error=error, cacheable=cacheable)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "width": self.width,
                "height": self.height, "notes": list(self.notes), "prompt": self.prompt,
                "seed": self.seed}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "DecodeInfo":
        return cls(status=str(d.get("status", "ok")), error=str(d.get("error", "")),
                   width=d.get("width", ""), height=d.get("height", ""),
                   notes=[str(n) for n in d.get("notes", [])], prompt=d.get("prompt"),
                   seed=d.get("seed"))


@dataclass
class TaskResult:
    """What one image's task sends back to the main process (small: no pixels, no artifacts
    unless ``keep_results``)."""

    decode: DecodeInfo
    #: family name -> (values, reasons), for every family that ran or came from the cache.
    families: dict[str, tuple[dict[str, Any], dict[str, str]]] = field(default_factory=dict)
    #: families computed now whose results may be stored (not those that raised).
    fresh: list[str] = field(default_factory=list)
    decode_fresh: bool = False
    file_hash: str | None = None
    stat_key: tuple | None = None
    #: True when nothing was computed: every part came from the cache.
    cached: bool = False
    results: dict[str, MetricResult] = field(default_factory=dict)
    #: with a CLIP scorer: the image prepared for it in the worker (uint8, model input size).
    clip_image: Any = None
    #: SHA-256 of the manifest's subject mask file (part of every family's cache key).
    mask_hash: str | None = None


def _lookup(get_many: Callable[[list[str]], dict], h: str, record: ImageRecord,
            families: Sequence[MetricFamily], max_pixels: int | None, mask_hash: str | None = None
            ) -> tuple[DecodeInfo | None, dict[str, tuple[dict, dict]]]:
    from lenscore.evaluator.cache import decode_key, decode_values, family_key

    dk = decode_key(h, max_pixels=max_pixels)
    fkeys = {f.name: family_key(h, f, max_pixels=max_pixels, subject_box=record.subject_box,
                                subject_mask=mask_hash,
                                prompt=record.prompt) for f in families}
    got = get_many([dk, *fkeys.values()])
    decode = DecodeInfo.from_json(got[dk]) if isinstance(got.get(dk), dict) else None
    fams: dict[str, tuple[dict, dict]] = {}
    for f in families:
        entry = got.get(fkeys[f.name])
        if not isinstance(entry, dict) or not isinstance(entry.get("values"), dict):
            continue
        values = decode_values(entry["values"])
        if any(o.name not in values for o in f.outputs):  # outputs changed: a miss
            continue
        reasons = entry.get("reasons") if isinstance(entry.get("reasons"), dict) else {}
        fams[f.name] = (values, {str(k): str(v) for k, v in reasons.items()})
    return decode, fams


def _fully_cached(decode: DecodeInfo | None, fams: dict, families: Sequence[MetricFamily]) -> bool:
    return decode is not None and (decode.status != "ok" or all(f.name in fams for f in families))


def _score(record: ImageRecord, families: Sequence[MetricFamily], max_pixels: int | None,
           cache_db: str | None = None, keep_results: bool = False,
           clip_prep: Callable[[Any], Any] | None = None) -> TaskResult:
    """Read, (hash,) decode and measure one image. Never raises for bad input."""
    from lenscore.context import ImageContext
    from lenscore.evaluator.cache import file_hash, reader_for
    from lenscore.evaluator.sources import max_bytes_for, read_source

    try:
        data, stat_key = read_source(record.source, max_bytes=max_bytes_for(max_pixels))
    except InputError as e:
        return TaskResult(DecodeInfo.failed(str(e), cacheable=False))
    except MemoryError:
        return TaskResult(DecodeInfo.failed("out of memory while reading: lower --jobs",
                                            cacheable=False))
    mask_bytes = None
    if record.subject_mask:
        try:
            mask_bytes, _ = read_source(record.subject_mask, max_bytes=max_bytes_for(max_pixels))
        except InputError as e:
            return TaskResult(DecodeInfo.failed(f"subject mask {record.subject_mask}: {e}",
                                                cacheable=False))
    h = file_hash(data) if cache_db else None
    reader = reader_for(cache_db) if h else None
    mask_hash = file_hash(mask_bytes) if (h and mask_bytes is not None) else None
    cached_decode, cached = (_lookup(reader.get_many, h, record, families, max_pixels, mask_hash)
                             if reader is not None and h else (None, {}))
    if not keep_results and clip_prep is None and _fully_cached(cached_decode, cached, families):
        return TaskResult(cached_decode, cached, [], False, h, stat_key, cached=True)  # type: ignore[arg-type]

    try:
        decoded = decode_image(data, max_pixels=max_pixels)
    except InputError as e:
        return TaskResult(DecodeInfo.failed(str(e), cacheable=True), decode_fresh=True,
                          file_hash=h, stat_key=stat_key)
    except MemoryError:
        return TaskResult(DecodeInfo.failed("out of memory while decoding: lower --max-pixels or "
                                            "--jobs", cacheable=False), file_hash=h)
    except Exception as e:  # a decoder bug on a hostile file is still just this file's error
        return TaskResult(DecodeInfo.failed(f"cannot decode ({type(e).__name__}: {e})",
                                            cacheable=False), file_hash=h)
    del data
    info = prompt_from_text(decoded.text)
    decode = DecodeInfo(width=decoded.width, height=decoded.height, notes=list(decoded.notes),
                        prompt=info.prompt, seed=info.seed)
    try:
        user_mask = None
        if mask_bytes is not None:
            try:
                m = decode_image(mask_bytes, max_pixels=max_pixels).rgb
            except InputError as e:
                raise InputError(f"subject mask {record.subject_mask}: {e}") from None
            user_mask = m.mean(axis=2) > 0.5
        ctx = ImageContext(decoded.rgb, subject_box=record.subject_box, subject_mask=user_mask,
                           prompt=record.prompt or info.prompt or None)
    except InputError as e:
        return TaskResult(DecodeInfo.failed(str(e), cacheable=True), decode_fresh=True,
                          file_hash=h, stat_key=stat_key)
    del decoded
    out = TaskResult(decode, {}, [], True, h, stat_key, mask_hash=mask_hash)
    if clip_prep is not None:
        try:
            out.clip_image = clip_prep(ctx)
        except Exception:  # the clip step then reports this image as not measurable
            out.clip_image = None
    for fam in families:
        if fam.name in cached and not keep_results:
            out.families[fam.name] = cached[fam.name]
            continue
        res = ctx.result(fam)
        out.families[fam.name] = (dict(res.values), dict(res.reasons))
        if ctx.result_ok(fam.name):
            out.fresh.append(fam.name)
        if keep_results:
            out.results[fam.name] = res
    return out


#: default per-image time limit in seconds (``--image-timeout``): generous, a 100-megapixel image
#: with every family takes well under a minute; only a hung decoder or metric reaches it
DEFAULT_IMAGE_TIMEOUT = 300.0


def timeout_message(limit: float) -> str:
    return (f"took longer than the time limit of {limit:g} s per image (--image-timeout): a "
            "decoder or metric hung on this file; it was stopped and the rest of the run went on")


def score_task(record: ImageRecord, family_names: Sequence[str], max_pixels: int | None,
               cache_db: str | None = None, clip_prep: Any = None,
               time_limit: float | None = None) -> TaskResult:
    """The per-image task that executors run (picklable by reference; families by name;
    ``clip_prep`` a picklable :class:`lenscore.metrics.clip.ClipPreprocess`). With
    ``time_limit`` (seconds) an image that runs longer becomes an error row
    (:func:`lenscore.evaluator.executors.call_with_time_limit`)."""
    from lenscore.evaluator.executors import ImageTimeout, call_with_time_limit

    try:
        return call_with_time_limit(time_limit, _score, record, select_families(family_names),
                                    max_pixels, cache_db, False, clip_prep)
    except ImageTimeout:
        return _failed_task(timeout_message(float(time_limit or 0)))


def assemble_row(record: ImageRecord, tr: TaskResult, families: Sequence[MetricFamily]
                 ) -> dict[str, Any]:
    """The CSV row of one image, the same whether its parts were computed now or cached."""
    row: dict[str, Any] = {"path": record.path, "variant": record.variant,
                           "prompt": record.prompt or "", "seed": record.seed or "",
                           "status": "ok", "error": "", "notes": "", "width": "", "height": ""}
    for k, v in (record.extra or {}).items():  # declared extra manifest columns
        row.setdefault(str(k), v if isinstance(v, str) else json_cell(v))
    d = tr.decode
    if d.status != "ok":
        row.update(status="error", error=d.error)
        return row
    row["prompt"] = row["prompt"] or (d.prompt or "")
    row["seed"] = row["seed"] or (d.seed or "")
    row["width"], row["height"] = d.width, d.height
    results: dict[str, MetricResult] = {}
    for fam in families:
        values, reasons = tr.families.get(fam.name) or (
            {o.name: math.nan for o in fam.outputs}, {fam.name: "not computed"})
        results[fam.name] = MetricResult(dict(values), dict(reasons))
        row.update(values)
    row["notes"] = notes_text(results, d.notes)
    return row


def json_cell(v: Any) -> str:
    """A JSONL manifest value for a CSV cell (numbers as written, lists/objects as JSON)."""
    import json

    return "" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) \
        else str(v)


def score_record(record: ImageRecord, families: Sequence[MetricFamily], *,
                 max_pixels: int | None = DEFAULT_MAX_PIXELS, keep_results: bool = False) -> RowResult:
    """Decode one image, run the families, return its row. Never raises for bad input."""
    tr = _score(record, families, max_pixels=max_pixels, keep_results=keep_results)
    return RowResult(assemble_row(record, tr, families), tr.results if keep_results else {})


def _failed_task(message: str) -> TaskResult:
    return TaskResult(DecodeInfo.failed(message, cacheable=False))


# ---- the scores table --------------------------------------------------------------------------
@dataclass
class ScoresScan:
    """What an existing ``scores.csv`` holds: its header and its complete rows."""

    header: list[str] | None
    good_end: int          # byte offset just after the last complete row
    size: int
    paths: set[str]
    n: int
    n_failed: int


def scan_scores(path: str | os.PathLike) -> ScoresScan:
    """Read ``scores.csv`` as far as its rows are complete (a SIGKILL may leave a torn last line).

    A row is complete when its line ends with a newline and it has as many fields as the header;
    reading stops at the first row that is not.
    """
    from lenscore.evaluator.cells import restore

    data = Path(path).read_bytes()
    state = {"pos": 0, "complete": False}

    def lines() -> Iterator[str]:
        for raw in io.BytesIO(data):
            state["pos"] += len(raw)
            state["complete"] = raw.endswith(b"\n")
            yield raw.decode("utf-8", "replace")

    reader = csv.reader(lines())
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return ScoresScan(None, 0, len(data), set(), 0, 0)
    if not state["complete"]:
        return ScoresScan(None, 0, len(data), set(), 0, 0)
    good_end = state["pos"]
    paths: set[str] = set()
    n = n_failed = 0
    status_i = header.index("status") if "status" in header else None
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:  # NUL bytes or an unterminated quote: the torn end of the file
            break
        if not state["complete"] or len(row) != len(header):
            break
        good_end = state["pos"]
        paths.add(restore(row[0]))
        n += 1
        n_failed += status_i is not None and row[status_i] != "ok"
    return ScoresScan(header, good_end, len(data), paths, n, n_failed)


class ScoresWriter:
    """Writes ``scores.csv`` row by row, each row one ``write()`` of a complete line.

    With ``resume=True`` an existing file with the same header is kept (cut after its last
    complete row) and appended to; ``done`` holds the paths it already has.
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str], *, resume: bool = False):
        self.path = Path(path)
        self.columns = list(columns)
        self.done: set[str] = set()
        self.n_existing = self.n_failed_existing = self.dropped_bytes = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scan = None
        if resume and self.path.is_file() and self.path.stat().st_size > 0:
            scan = scan_scores(self.path)
            if scan.header is None:
                scan = None
            elif scan.header != self.columns:
                raise UsageError(
                    f"cannot resume into {self.path}: it was written with other columns (other "
                    f"families or metric versions: {len(scan.header)} columns, this run has "
                    f"{len(self.columns)}). Run without --resume to start it again, or choose "
                    f"another --out.")
        if scan is not None:
            if scan.good_end < scan.size:
                os.truncate(self.path, scan.good_end)
                self.dropped_bytes = scan.size - scan.good_end
            self.done = scan.paths
            self.n_existing, self.n_failed_existing = scan.n, scan.n_failed
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
        else:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                               | getattr(os, "O_CLOEXEC", 0), 0o644)
            self._write_cells(self.columns)

    def _write_cells(self, cells: Sequence[Any]) -> None:
        buf = io.StringIO()
        csv.writer(buf).writerow(cells)
        data = buf.getvalue().encode("utf-8")
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]

    def write(self, row: dict[str, Any]) -> None:
        self._write_cells([_cell(row.get(k, "")) for k in self.columns])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "ScoresWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(round(v, 6)) if abs(v) < 1e15 else repr(v)
    if isinstance(v, str):
        from lenscore.evaluator.cells import neutralise

        if "\x00" in v:
            v = v.replace("\x00", "")  # a NUL byte would make the CSV unreadable
        return neutralise(v)  # no spreadsheet formulas ('=...' is written "'=...")
    return v


# ---- many images -------------------------------------------------------------------------------
class _Item:
    __slots__ = ("record", "future", "result")

    def __init__(self, record: ImageRecord, future: Any = None, result: TaskResult | None = None):
        self.record, self.future, self.result = record, future, result

    def ready(self) -> bool:
        return self.result is not None or self.future.done()


def _main_side_hit(store: Any, record: ImageRecord, families: Sequence[MetricFamily],
                   max_pixels: int | None) -> TaskResult | None:
    """A fully cached image found from the stat memo alone (no reading, no hashing)."""
    from lenscore.evaluator.sources import is_url, local_stat_key

    if is_url(record.source) or record.subject_mask:  # a mask's bytes are part of the key
        return None
    src = os.path.abspath(record.source)
    h = store.memo_hash(src, local_stat_key(src))
    if h is None:
        return None
    decode, fams = _lookup(store.get_many, h, record, families, max_pixels)
    if not _fully_cached(decode, fams, families):
        return None
    return TaskResult(decode, fams, [], False, h, None, cached=True)  # type: ignore[arg-type]


def stream_results(records: Iterable[ImageRecord], families: Sequence[MetricFamily], executor: Any,
                   *, max_pixels: int | None = DEFAULT_MAX_PIXELS, store: Any = None,
                   window: int | None = None, clip_prep: Any = None,
                   image_timeout: float | None = None
                   ) -> Iterator[tuple[ImageRecord, TaskResult]]:
    """(record, result) in input order, at most ``window`` images in flight.

    A broken process pool (a worker killed by a crash, or ended because its image hung past
    ``image_timeout``) is restarted and the images in flight are re-run one at a time; the one
    that breaks it again becomes an error row.
    """
    import time
    from concurrent.futures import BrokenExecutor

    names = [f.name for f in families]
    db = str(store.db_path) if store is not None else None
    win = max(2, window or 4 * max(1, int(getattr(executor, "workers", 1))))
    pending: deque[_Item] = deque()
    limit = image_timeout if image_timeout and image_timeout > 0 else None

    def submit(rec: ImageRecord) -> Any:
        if clip_prep is not None or limit is not None:
            return executor.submit(score_task, rec, names, max_pixels, db, clip_prep, limit)
        return executor.submit(score_task, rec, names, max_pixels, db)

    def isolate(items: list[_Item]) -> None:
        executor.restart()
        for it in items:
            t0 = time.monotonic()
            try:
                it.result = submit(it.record).result()
            except BrokenExecutor:
                executor.restart()
                if limit is not None and time.monotonic() - t0 >= limit:
                    it.result = _failed_task(timeout_message(limit))
                    continue
                it.result = _failed_task(
                    "the worker process died while scoring this image (a crash in a decoder or a "
                    "metric on this file); please report it with the file")
            except Exception as e:
                it.result = _failed_task(f"internal error while scoring ({type(e).__name__}: {e}); "
                                         f"please report it")
            it.future = None

    def resolve(it: _Item) -> TaskResult:
        if it.result is None:
            try:
                it.result = it.future.result()
            except BrokenExecutor:
                suspects = [it] + [p for p in pending if p.result is None and not _succeeded(p.future)]
                for p in pending:
                    if p.result is None and _succeeded(p.future):
                        p.result = p.future.result()
                isolate(suspects)
            except Exception as e:  # a lost Dask worker, an unpicklable result...
                it.result = _failed_task(f"internal error while scoring ({type(e).__name__}: {e}); "
                                         f"please report it")
            it.future = None
        return it.result

    for rec in records:
        hit = (_main_side_hit(store, rec, families, max_pixels)
               if store is not None and clip_prep is None else None)
        pending.append(_Item(rec, None, hit) if hit is not None else _Item(rec, submit(rec)))
        while pending and (len(pending) >= win or pending[0].ready()):
            it = pending.popleft()
            yield it.record, resolve(it)
    while pending:
        it = pending.popleft()
        yield it.record, resolve(it)


def _succeeded(fut: Any) -> bool:
    try:
        return fut.done() and not fut.cancelled() and fut.exception(timeout=0) is None
    except Exception:
        return False


@dataclass
class RunResult:
    scores_path: Path
    #: rows in scores.csv now (kept from an earlier run with ``resume`` + written now).
    n: int
    n_failed: int
    n_new: int = 0
    #: of the new rows, how many came whole from the cache.
    n_cached: int = 0
    #: rows kept from the earlier run (``resume``).
    n_resumed: int = 0
    warnings: list[str] = field(default_factory=list)
    #: with ``clip``: (variant, prompt, image embedding, prompt embedding or None) per new ok row.
    clip_embeddings: list[tuple[str, str, Any, Any]] = field(default_factory=list)


def _store_result(store: Any, rec: ImageRecord, tr: TaskResult, by_name: dict[str, MetricFamily],
                  max_pixels: int | None) -> None:
    from lenscore.evaluator.cache import decode_key, encode_values, family_key
    from lenscore.evaluator.sources import is_url

    h = tr.file_hash
    if not h or tr.cached:
        if h and tr.stat_key and not is_url(rec.source):
            store.put_memo(os.path.abspath(rec.source), tr.stat_key, h)
        return
    if tr.decode_fresh and tr.decode.cacheable:
        store.put(decode_key(h, max_pixels=max_pixels), tr.decode.to_json())
    for name in tr.fresh:
        values, reasons = tr.families[name]
        store.put(family_key(h, by_name[name], max_pixels=max_pixels,
                             subject_box=rec.subject_box, prompt=rec.prompt,
                             subject_mask=tr.mask_hash),
                  {"values": encode_values(values), "reasons": dict(reasons)})
    if tr.stat_key and not is_url(rec.source) and tr.decode.cacheable:
        store.put_memo(os.path.abspath(rec.source), tr.stat_key, h)


def run(records: Sequence[ImageRecord], out_dir: str | os.PathLike, *,
        families: Sequence[MetricFamily], jobs: int = 1, max_pixels: int | None = DEFAULT_MAX_PIXELS,
        on_row: Callable[[dict[str, Any]], None] | None = None,
        cache_dir: str | os.PathLike | None = None, resume: bool = False,
        executor: Any = "process", scheduler: str | None = None, window: int | None = None,
        on_resume: Callable[[int], None] | None = None, clip: Any = None,
        image_timeout: float | None = DEFAULT_IMAGE_TIMEOUT) -> RunResult:
    """Score ``records`` into ``out_dir/scores.csv``; returns counts.

    Parameters
    ----------
    jobs : int
        Images at once (worker processes, or LocalCluster workers with ``executor='dask'``).
    cache_dir : path, optional
        Folder of the result cache (see :mod:`lenscore.evaluator.cache`); None = no cache.
    resume : bool
        Keep the finished rows of an existing ``scores.csv`` and score only the other records.
    executor : 'process' | 'dask' | executor object
        Where images run (see :mod:`lenscore.evaluator.executors`); an object passed in is
        used as is and not closed.
    scheduler : str, optional
        Dask scheduler address (``executor='dask'``); without it a LocalCluster is started.
    on_resume : callable, optional
        Called once with the number of rows kept from the earlier run.
    image_timeout : float, optional
        Seconds one image may take (read, decode, every family) before it is stopped and becomes
        an error row; None or 0: no limit. Applied in worker processes and with ``jobs=1``, not
        on Dask (see :func:`lenscore.evaluator.executors.call_with_time_limit`).
    clip : lenscore.metrics.clip.ClipScorer, optional
        Adds the clip family: workers prepare each image (``clip.preprocess``), the main process
        embeds them in batches of ``clip.batch_size``; rows wait for their batch, so an
        interruption loses at most one batch (re-scored with ``resume``). Not cached.

    Raises
    ------
    Interrupted
        re-raised after a clean stop (``rows_written`` set); every finished row is on disk.
    """
    from lenscore.evaluator.cache import CacheUnavailable, ScoreCache
    from lenscore.evaluator.executors import make_executor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "scores.csv"
    result = RunResult(path, 0, 0)
    store = None
    if cache_dir is not None:
        try:
            store = ScoreCache(cache_dir)
        except CacheUnavailable as e:
            result.warnings.append(f"{e}; running without a cache")
    by_name = {f.name: f for f in families}
    writer = None
    exe = None
    owns = False
    interrupted = False
    try:
        writer = ScoresWriter(path, columns_for([*families, clip.family] if clip is not None
                                                else families, extra_columns_of(records)),
                              resume=resume)
        result.n_resumed = writer.n_existing
        result.n, result.n_failed = writer.n_existing, writer.n_failed_existing
        if writer.dropped_bytes:
            result.warnings.append(f"dropped a torn last line ({writer.dropped_bytes} bytes) from "
                                   f"{path}; that image is scored again")
        if on_resume is not None and writer.n_existing:
            on_resume(writer.n_existing)
        todo = [r for r in records if r.path not in writer.done] if writer.done else list(records)
        if isinstance(executor, str):
            exe = make_executor(executor, jobs=min(jobs, max(1, len(todo))), scheduler=scheduler)
            owns = True
        else:
            exe = executor
        def emit(rec: ImageRecord, tr: TaskResult, row: dict[str, Any]) -> None:
            writer.write(row)
            result.n += 1
            result.n_new += 1
            result.n_cached += tr.cached
            result.n_failed += row["status"] != "ok"
            if store is not None:
                _store_result(store, rec, tr, by_name, max_pixels)
            if on_row is not None:
                on_row(row)

        batch: list[tuple[ImageRecord, TaskResult, dict[str, Any]]] = []
        for rec, tr in stream_results(todo, families, exe, max_pixels=max_pixels, store=store,
                                      window=window,
                                      clip_prep=clip.preprocess if clip is not None else None,
                                      image_timeout=image_timeout):
            row = assemble_row(rec, tr, families)
            if clip is None:
                emit(rec, tr, row)
                continue
            batch.append((rec, tr, row))
            if len(batch) >= clip.batch_size:
                _clip_batch(clip, batch, result)
                for item in batch:
                    emit(*item)
                batch = []
        if batch:
            _clip_batch(clip, batch, result)
            for item in batch:
                emit(*item)
    except BaseException as e:
        interrupted = True
        if isinstance(e, Interrupted):
            e.rows_written = result.n
            e.scores_path = path
        raise
    finally:
        if exe is not None and owns:
            try:
                exe.close(cancel=interrupted)
            except Exception:
                pass
        if writer is not None:
            writer.close()
        if store is not None:
            store.close()
            result.warnings.extend(store.warnings)
    return result


def _clip_batch(clip: Any, batch: list[tuple[ImageRecord, TaskResult, dict[str, Any]]],
                result: RunResult) -> None:
    """Score one batch of rows with the CLIP scorer (main process) and merge values and notes."""
    idx = [i for i, (_, tr, row) in enumerate(batch)
           if row["status"] == "ok" and tr.clip_image is not None]
    outs: dict[int, MetricResult] = {}
    if idx:
        try:
            res = clip.score([batch[i][1].clip_image for i in idx],
                             [batch[i][2]["prompt"] or None for i in idx])
            outs = dict(zip(idx, res))
        except Exception as e:  # a failing batch must not lose the rows
            outs = {i: clip.family.nan_result(f"internal error ({type(e).__name__}: {e}); "
                                              f"please report it") for i in idx}
    for i, (rec, tr, row) in enumerate(batch):
        tr.clip_image = None
        if row["status"] != "ok":
            continue
        r = outs.get(i) or clip.family.nan_result("image could not be prepared for CLIP")
        row.update(r.values)
        extra = notes_text({clip.family.name: r})
        if extra:
            row["notes"] = f"{row['notes']}; {extra}" if row["notes"] else extra
        emb = r.artifacts.get("embedding")
        if emb is not None:
            result.clip_embeddings.append((row["variant"], row["prompt"], emb,
                                           r.artifacts.get("text_embedding")))
