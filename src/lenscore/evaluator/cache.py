"""A content-addressed cache of per-image results, so a re-run costs little more than hashing.

Keys
----
* decode entry: SHA-256 of the file's bytes + lenscore version + cache schema + ``max_pixels``
  -> width, height, decode notes, the prompt/seed found in the file's metadata, or the error a
  bad file gave (only errors that follow from the bytes themselves are stored);
* family entry: the same + the family's name, version and parameters + the working resolution +
  the record's ``subject_box``, the SHA-256 of its ``subject_mask`` file and ``prompt`` -> that
  family's values and NaN reasons.

One entry per family, so adding a family to a run computes only the new family, and a family
whose version or parameters changed is recomputed alone. Keys never depend on the file's path:
a renamed or copied render is a hit.

Hashing never decodes. A memo of (path -> size, mtime_ns, ctime_ns, inode, device, hash) lets a
re-run of an unchanged folder skip even the hashing (as git's index does); any change to the
file changes its ctime, so a stale memo cannot serve an old result.

Storage: one SQLite database (``scores.sqlite``, WAL mode) of JSON text, no pickle. In each run
the main process is the only writer and its worker processes open it read-only; several runs
may share the cache at once: each buffers its writes and flushes them in short transactions
(:class:`ScoreCache`), waiting for the lock when another run holds it. A run killed mid-write
leaves a consistent database (SQLite's WAL).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from lenscore import __version__

#: bump when the stored layout or the meaning of an entry changes.
CACHE_SCHEMA = "2"  # 2: family keys cover the families they require
DB_NAME = "scores.sqlite"
DEFAULT_DIR_NAME = ".lenscore-cache"


def default_cache_dir(out_dir: str | os.PathLike) -> Path:
    """``.lenscore-cache/`` beside the output folder (shared by sibling outputs)."""
    out = Path(out_dir).absolute()
    return out.parent / DEFAULT_DIR_NAME


def file_hash(data: bytes) -> str:
    """SHA-256 of the file's bytes (hex); the file is never decoded for its key."""
    return hashlib.sha256(data).hexdigest()


def _digest(parts: Mapping[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decode_key(h: str, *, max_pixels: int | None) -> str:
    return _digest({"kind": "decode", "schema": CACHE_SCHEMA, "lenscore": __version__,
                    "file": h, "max_pixels": max_pixels})


def family_identity(family: Any) -> dict[str, Any]:
    """What a family's numbers depend on besides the image: its name, version and parameters, and
    the same for every family it requires (directly or not)."""
    from lenscore.metrics.base import dependency_closure

    def one(f: Any) -> dict[str, Any]:
        return {"family": f.name, "version": f.version, "params": jsonable(f.params_dict())}

    return {**one(family), "requires": [one(d) for d in dependency_closure(family)]}


def family_key(h: str, family: Any, *, max_pixels: int | None,
               subject_box: Sequence[int] | None, prompt: str | None,
               subject_mask: str | None = None) -> str:
    from lenscore.context import WORK_LONG_SIDE

    return _digest({"kind": "family", "schema": CACHE_SCHEMA, "lenscore": __version__,
                    "file": h, "max_pixels": max_pixels, "work_long_side": WORK_LONG_SIDE,
                    **family_identity(family),
                    "subject_box": list(subject_box) if subject_box is not None else None,
                    "subject_mask": subject_mask,
                    "prompt": prompt})


def jsonable(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, (str, int, bool)) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else repr(v)
    try:
        f = float(v)  # numpy scalars
        return f if math.isfinite(f) else repr(f)
    except (TypeError, ValueError):
        return repr(v)


def encode_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """Metric values as JSON: floats, NaN/inf as None/strings."""
    out: dict[str, Any] = {}
    for k, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            out[k] = str(v)
            continue
        out[k] = None if math.isnan(f) else (f if math.isfinite(f) else repr(f))
    return out


def decode_values(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in values.items():
        if v is None:
            out[k] = math.nan
        elif isinstance(v, str) and v in ("inf", "-inf"):
            out[k] = float(v)
        else:
            out[k] = v
    return out


_SCHEMA_SQL = (
    "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS files (source TEXT PRIMARY KEY, stat TEXT NOT NULL, "
    "hash TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID",
)


class CacheUnavailable(Exception):
    """The cache folder cannot be created or opened (the run goes on without a cache)."""


class ScoreCache:
    """The writer side (the run's main process). Use as a context manager or call ``close()``.

    Several runs may share one cache at once (a farm runs many ``lenscore score`` processes):
    writes are buffered in memory and flushed in one short ``BEGIN IMMEDIATE`` transaction every
    ``commit_every`` entries or ``commit_seconds`` (and at ``close()``), so the write lock is held
    for milliseconds, never across the scoring of an image; a writer that finds the lock taken
    waits for it (SQLite's busy timeout, ``busy_timeout`` seconds). Reads see the buffer first.
    A flush that still fails keeps its entries for the next one and adds a line to ``warnings``;
    a cache never fails a run. A process killed mid-flush loses only its unflushed entries
    (SQLite rolls the transaction back; the lock dies with the process).
    """

    #: entries kept in memory at most while flushes keep failing (then the oldest are dropped)
    MAX_BUFFERED = 20_000

    def __init__(self, directory: str | os.PathLike, *, commit_every: int = 64,
                 commit_seconds: float = 2.0, busy_timeout: float = 30.0):
        self.directory = Path(directory)
        self.db_path = self.directory / DB_NAME
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._con = sqlite3.connect(str(self.db_path), timeout=busy_timeout,
                                        isolation_level=None)
            _retry_busy(lambda: self._con.execute("PRAGMA journal_mode=WAL"), busy_timeout)
            self._con.execute("PRAGMA synchronous=NORMAL")
            _retry_busy(self._ensure_schema, busy_timeout)
        except (OSError, sqlite3.Error) as e:
            raise CacheUnavailable(f"cannot use the cache at {self.directory} ({e})") from None
        self._entries: dict[str, str] = {}
        self._memos: dict[str, tuple[str, str]] = {}
        self._last_commit = time.monotonic()
        self._every, self._seconds = commit_every, commit_seconds
        self.hits = self.writes = 0
        self.warnings: list[str] = []

    def _ensure_schema(self) -> None:
        """Create the tables once; a cache that has them is not written to here (no lock)."""
        have = {r[0] for r in self._con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if {"entries", "files", "meta"} <= have:
            return
        self._con.execute("BEGIN IMMEDIATE")
        try:
            for sql in _SCHEMA_SQL:
                self._con.execute(sql)
            self._con.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (CACHE_SCHEMA,))
            self._con.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    # ---- reads --------------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        keys = list(keys)
        out = {k: json.loads(self._entries[k]) for k in keys if k in self._entries}
        rest = [k for k in keys if k not in out]
        if rest:
            out.update(_get_many(self._con, rest))
        return out

    def memo_hash(self, source: str, stat_key: Sequence[int] | None) -> str | None:
        """The content hash remembered for ``source`` if the file is unchanged since, else None."""
        if stat_key is None:
            return None
        row: Any = self._memos.get(source)
        if row is None:
            try:
                row = self._con.execute("SELECT stat, hash FROM files WHERE source = ?",
                                        (source,)).fetchone()
            except sqlite3.Error:
                return None
        if row is None or row[0] != _stat_text(stat_key):
            return None
        return row[1]

    # ---- writes -------------------------------------------------------------------------------
    def put(self, key: str, value: Mapping[str, Any]) -> None:
        self._entries[key] = json.dumps(value, separators=(",", ":"), allow_nan=False)
        self.writes += 1
        self._tick()

    def put_memo(self, source: str, stat_key: Sequence[int], h: str) -> None:
        self._memos[source] = (_stat_text(stat_key), h)
        self._tick()

    def _tick(self) -> None:
        if len(self._entries) + len(self._memos) >= self._every or \
                time.monotonic() - self._last_commit > self._seconds:
            self.commit()

    def commit(self) -> None:
        """Write the buffered entries in one short transaction (kept for the next try when the
        cache is busy or the disk refuses)."""
        self._last_commit = time.monotonic()
        if not self._entries and not self._memos:
            return
        try:
            self._con.execute("BEGIN IMMEDIATE")
            self._con.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)",
                                  list(self._entries.items()))
            self._con.executemany("INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                                  [(src, st, h) for src, (st, h) in self._memos.items()])
            self._con.execute("COMMIT")
        except sqlite3.Error as e:
            self._rollback()
            if not self.warnings:
                self.warnings.append(f"the cache at {self.directory} could not be written ({e}); "
                                     "its entries are kept for the next try")
            n = len(self._entries) + len(self._memos)
            if n > self.MAX_BUFFERED:  # memory stays bounded; the cache is only a cache
                self._entries.clear()
                self._memos.clear()
                self.warnings.append(f"dropped {n} unwritten cache entries")
            return
        self._entries.clear()
        self._memos.clear()

    def _rollback(self) -> None:
        try:
            if self._con.in_transaction:
                self._con.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def close(self) -> None:
        try:
            self.commit()
            self._con.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "ScoreCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _retry_busy(fn: Any, timeout: float) -> Any:
    """Call ``fn`` until it does not fail with 'database is locked/busy' (SQLite does not apply
    its busy timeout to every statement, e.g. switching a new file to WAL)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as e:
            msg = str(e).lower()
            if ("locked" not in msg and "busy" not in msg) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(0.2, delay * 2)


def _stat_text(stat_key: Sequence[int]) -> str:
    return ",".join(str(int(v)) for v in stat_key)


def _get_many(con: sqlite3.Connection, keys: Iterable[str]) -> dict[str, dict]:
    keys = list(keys)
    if not keys:
        return {}
    out: dict[str, dict] = {}
    marks = ",".join("?" * len(keys))
    try:
        for k, v in con.execute(f"SELECT key, value FROM entries WHERE key IN ({marks})", keys):
            try:
                out[k] = json.loads(v)
            except ValueError:  # a damaged entry is a miss, never a crash
                continue
    except sqlite3.Error:
        return {}
    return out


class CacheReader:
    """Read-only access for worker processes (one connection per process)."""

    def __init__(self, db_path: str | os.PathLike):
        uri = Path(db_path).absolute().as_uri() + "?mode=ro"
        self._con = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)

    def get_many(self, keys: Iterable[str]) -> dict[str, dict]:
        return _get_many(self._con, keys)


_READERS: dict[tuple[int, int, str], CacheReader | None] = {}


def reader_for(db_path: str | None) -> CacheReader | None:
    """This process's reader of ``db_path`` (None when there is no cache or it cannot be opened).

    Keyed by process and thread: a connection must never cross a fork, and Dask runs tasks in
    threads.
    """
    if not db_path:
        return None
    k = (os.getpid(), threading.get_ident(), str(db_path))
    if k not in _READERS:
        try:
            _READERS[k] = CacheReader(db_path) if Path(db_path).exists() else None
        except sqlite3.Error:
            _READERS[k] = None
    return _READERS[k]
