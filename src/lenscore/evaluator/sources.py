"""Where image bytes come from: local files (read safely) and fsspec URLs (``s3://``, ``gs://``,
``memory://``, ``file://`` ...).

Reading is separate from decoding so a worker reads each file exactly once, hashes those bytes
for the cache, and decodes the same bytes: a file rewritten while a run is going can never be
cached under the hash of another version.

Local files are opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so a
FIFO, socket or device named like an image is refused instead of blocking the run forever, and a
symbolic-link loop is a clear error row. Remote URLs need :mod:`fsspec` (extra ``lenscore[dask]``)
and the protocol's own package (``s3fs`` for ``s3://``, ``gcsfs`` for ``gs://``).
"""

from __future__ import annotations

import errno
import os
import re
import stat as _stat
from pathlib import PurePosixPath
from typing import Any

from lenscore.errors import InputError, MissingDependencyError, UsageError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

#: the protocol packages fsspec needs, for the error message when one is missing.
_PROTOCOL_PACKAGES = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "az": "adlfs",
                      "abfs": "adlfs", "abfss": "adlfs", "http": "aiohttp", "https": "aiohttp",
                      "sftp": "paramiko", "ssh": "paramiko", "hf": "huggingface_hub"}

#: (size, mtime_ns, ctime_ns, inode, device) of a local file, as read from the open descriptor.
StatKey = tuple[int, int, int, int, int]


def is_url(source: str | os.PathLike) -> bool:
    """True for ``scheme://...`` strings (fsspec URLs), False for local paths."""
    return isinstance(source, str) and bool(_URL.match(source))


def max_bytes_for(max_pixels: int | None) -> int | None:
    """The largest file worth reading for images of at most ``max_pixels`` pixels.

    8 bytes per pixel (16-bit RGBA, uncompressed) plus 16 MiB of metadata: anything larger
    cannot be an image lenscore would accept, and is refused before it is read into memory.
    """
    return None if max_pixels is None else int(max_pixels) * 8 + (16 << 20)


def read_source(source: str, *, max_bytes: int | None = None) -> tuple[bytes, StatKey | None]:
    """The bytes of one image file and, for a local file, its stat key (for the cache's memo).

    Raises
    ------
    InputError
        when the file cannot be read, with a reason a person understands.
    """
    if is_url(source):
        return _read_url(source, max_bytes=max_bytes), None
    return _read_local(source, max_bytes=max_bytes)


def _read_local(path: str, *, max_bytes: int | None) -> tuple[bytes, StatKey | None]:
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise InputError(_os_reason(e)) from None
    try:
        st = os.fstat(fd)
        if _stat.S_ISDIR(st.st_mode):
            raise InputError("is a folder, not an image file")
        if not _stat.S_ISREG(st.st_mode):
            raise InputError("not a regular file (a pipe, socket or device named like an image): "
                             "lenscore reads image files only")
        if st.st_size == 0:
            raise InputError("empty file (0 bytes): re-export or re-download it")
        if max_bytes is not None and st.st_size > max_bytes:
            raise InputError(f"file is {st.st_size / 2**20:.0f} MiB, larger than any image under "
                             f"--max-pixels can be: not read (raise --max-pixels if it is trusted)")
        chunks = []
        remaining = st.st_size
        while remaining > 0:
            try:
                b = os.read(fd, min(remaining, 1 << 24))
            except OSError as e:
                raise InputError(_os_reason(e)) from None
            if not b:
                break
            chunks.append(b)
            remaining -= len(b)
        data = b"".join(chunks)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if not data:
        raise InputError("empty file (0 bytes): re-export or re-download it")
    key: StatKey = (after.st_size, after.st_mtime_ns, after.st_ctime_ns, after.st_ino, after.st_dev)
    changed = (len(data) != after.st_size or after.st_mtime_ns != st.st_mtime_ns
               or after.st_ctime_ns != st.st_ctime_ns)
    return data, (None if changed else key)


def _os_reason(e: OSError) -> str:
    if isinstance(e, PermissionError):
        return "permission denied: make the file readable (chmod +r)"
    if isinstance(e, FileNotFoundError):
        return "file not found (moved or deleted since the folder was listed, or a broken link)"
    if isinstance(e, IsADirectoryError):
        return "is a folder, not an image file"
    if e.errno == errno.ELOOP:
        return "symbolic link loop (the link points back at itself): fix or delete the link"
    return f"cannot read file: {e.strerror or e}"


def local_stat_key(path: str) -> StatKey | None:
    """The stat key of a local regular file (following links), or None."""
    if is_url(path):
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not _stat.S_ISREG(st.st_mode):
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


# ---- fsspec -----------------------------------------------------------------------------------
def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise MissingDependencyError("fsspec", "dask", "Reading images from URLs") from None
    return fsspec


def url_to_fs(url: str) -> tuple[Any, str]:
    """(filesystem, path) for an fsspec URL, with a clear error for a missing protocol package."""
    fsspec = _fsspec()
    proto = url.split("://", 1)[0].lower()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        pkg = _PROTOCOL_PACKAGES.get(proto, f"the fsspec driver for '{proto}://'")
        raise UsageError(f"reading {proto}:// URLs needs the '{pkg}' package, which is not "
                         f"installed: pip install {pkg} ({e})") from None
    except ValueError as e:
        raise UsageError(f"cannot use the URL {url}: {e}") from None


def _read_url(url: str, *, max_bytes: int | None) -> bytes:
    fs, path = url_to_fs(url)
    try:
        info = fs.info(path)
        size = info.get("size")
        if info.get("type") == "directory":
            raise InputError("is a folder, not an image file")
        if max_bytes is not None and size is not None and size > max_bytes:
            raise InputError(f"file is {size / 2**20:.0f} MiB, larger than any image under "
                             f"--max-pixels can be: not read")
        data = fs.cat_file(path)
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError("file not found (moved or deleted since the folder was listed)") from None
    except PermissionError:
        raise InputError("permission denied by the storage service") from None
    except Exception as e:  # network/storage errors are this file's error row, not a crash
        raise InputError(f"cannot read {url} ({type(e).__name__}: {e})") from None
    if not data:
        raise InputError("empty file (0 bytes): re-export or re-download it")
    return bytes(data)


def find_images_url(url: str) -> list:
    """Images under an fsspec URL (a folder or one file), sorted, variants as in a local folder.

    First-level sub-folders are variants, files directly in the root are variant ``default``;
    hidden files and folders (names starting with '.') are skipped.
    """
    from lenscore.datasets.decode import SUPPORTED_SUFFIXES
    from lenscore.datasets.discover import DEFAULT_VARIANT, ImageRecord

    fs, root = url_to_fs(url)
    try:
        if fs.isfile(root):
            return [ImageRecord(path=PurePosixPath(root).name, source=url)]
        if not fs.isdir(root):
            raise UsageError(f"no such file or folder: {url}")
        found = fs.find(root)
    except UsageError:
        raise
    except Exception as e:
        raise UsageError(f"cannot list {url} ({type(e).__name__}: {e})") from None
    base = root.rstrip("/")
    records = []
    for full in sorted(found):
        rel = full[len(base):].lstrip("/") if full.startswith(base) else PurePosixPath(full).name
        parts = PurePosixPath(rel).parts
        if not parts or any(p.startswith(".") for p in parts):
            continue
        if not parts[-1].lower().endswith(SUPPORTED_SUFFIXES):
            continue
        variant = parts[0] if len(parts) > 1 else DEFAULT_VARIANT
        records.append(ImageRecord(path=rel, source=fs.unstrip_protocol(full), variant=variant))
    if not records:
        raise UsageError(f"no images found in {url} (looked for {', '.join(SUPPORTED_SUFFIXES)}, "
                         f"recursively)")
    return records
