"""A folder from the wild: every bad file is its own row with a reason, the rest are scored.

The corpus is generated here (nothing downloaded): truncated PNG and JPEG, zero bytes, wrong
extensions, 1x1 and 100000x1 images, 16-bit, CMYK, palette with transparency, animated GIF and
WebP, a decompression bomb, a symbolic-link loop (file and folder), a FIFO named like an image,
an unreadable file (skipped as root: root reads anything), unicode and spaces in names.
Also: manifests cannot reach outside their folder, and nothing unsafe parses config files.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenscore.cli import run_cli
from lenscore.evaluator.run import select_families
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

from conftest import write_png


def _compute(ctx):
    return MetricResult({"rob9.mean": float(ctx.rgb.mean()), "rob9.size": float(ctx.rgb.size)})


register(MetricFamily(name="rob9", version="1", method="test", compute=_compute, default=False,
                      outputs=(Output("rob9.mean", "1", "neither", (0.0, 1.0), "mean"),
                               Output("rob9.size", "px", "neither", (0.0, math.inf), "size"))))


def _rgb(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _bytes(arr, fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


def _bomb_png(w: int, h: int) -> bytes:
    def chunk(t: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data))
    raw = zlib.compress(b"\x00" * (1 + (w + 7) // 8), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


#: file name -> expected error fragment (None: must be scored)
EXPECTED: dict[str, str | None] = {
    "bad/truncated.png": "truncated",
    "bad/truncated.jpg": "truncated",
    "bad/zero bytes.png": "empty file",
    "bad/text named.jpg": "not an image",
    "bad/bomb.png": "megapixels",
    "bad/header only.png": "",            # any reason
    "bad/loop.png": "link loop",
    "bad/pipe.png": "not a regular file",
    "odd/png named.jpg": None,
    "odd/one pixel.png": None,
    "odd/wide 100000x1.png": None,
    "odd/gray16.png": None,
    "odd/rgb16.png": None,
    "odd/cmyk.jpg": None,
    "odd/palette alpha.png": None,
    "odd/animated.gif": None,
    "odd/animated.webp": None,
    "odd/ünïcødé 日本 portrait (1).png": None,
    "good/portrait.jpg": None,
    "good/portrait.png": None,
}


def make_corpus(root: Path) -> Path:
    import cv2

    for d in ("bad", "odd", "good"):
        (root / d).mkdir(parents=True, exist_ok=True)
    png = _bytes(_rgb(96, 96), "PNG")
    jpg = _bytes(_rgb(96, 96, 1), "JPEG", quality=90)
    (root / "good/portrait.png").write_bytes(png)
    (root / "good/portrait.jpg").write_bytes(jpg)
    (root / "bad/truncated.png").write_bytes(png[: len(png) // 2])
    (root / "bad/truncated.jpg").write_bytes(jpg[: len(jpg) // 2])
    (root / "bad/zero bytes.png").write_bytes(b"")
    (root / "bad/text named.jpg").write_text("name,score\nnot,an image\n")
    (root / "bad/bomb.png").write_bytes(_bomb_png(30000, 30000))
    (root / "bad/header only.png").write_bytes(png[:33])
    os.symlink("loop.png", root / "bad/loop.png")
    os.mkfifo(root / "bad/pipe.png")
    os.symlink("..", root / "bad/folder loop")            # a folder link back up: never followed
    (root / "odd/png named.jpg").write_bytes(png)
    Image.fromarray(_rgb(1, 1)).save(root / "odd/one pixel.png")
    Image.fromarray(_rgb(1, 100000)).save(root / "odd/wide 100000x1.png")
    write_png(root / "odd/gray16.png", (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    cv2.imwrite(str(root / "odd/rgb16.png"), (_rgb(48, 64).astype(np.uint16) * 257))
    Image.new("CMYK", (40, 30), (0, 255, 255, 0)).save(root / "odd/cmyk.jpg")
    pal = Image.new("P", (32, 32), 0)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.paste(1, (0, 0, 16, 32))
    pal.save(root / "odd/palette alpha.png", transparency=0)
    frames = [Image.fromarray(np.full((24, 24, 3), c, np.uint8)) for c in (30, 200, 90)]
    frames[0].save(root / "odd/animated.gif", save_all=True, append_images=frames[1:], duration=50)
    frames[0].save(root / "odd/animated.webp", save_all=True, append_images=frames[1:], duration=50)
    (root / "odd/ünïcødé 日本 portrait (1).png").write_bytes(png)
    return root


def _rows(out: Path) -> list[dict]:
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _families() -> str:
    return ",".join([f.name for f in select_families()] + ["rob9"])


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("wild") / "renders")
    out = root.parent / "out"
    code = run_cli(["score", str(root), "-o", str(out), "--families", _families(), "-j", "1",
                    "--no-cache"])
    return root, out, code, _rows(out)


def test_every_file_gets_exactly_one_row_and_exit_code_3(corpus_run):
    _, _, code, rows = corpus_run
    assert code == 3
    assert sorted(r["path"] for r in rows) == sorted(EXPECTED)


@pytest.mark.parametrize("name", [k for k, v in EXPECTED.items() if v is not None])
def test_bad_files_are_error_rows_with_a_reason(corpus_run, name):
    rows = {r["path"]: r for r in corpus_run[3]}
    row = rows[name]
    assert row["status"] == "error"
    assert row["error"].strip() and EXPECTED[name] in row["error"]
    assert row["rob9.mean"] == ""


@pytest.mark.parametrize("name", [k for k, v in EXPECTED.items() if v is None])
def test_odd_but_valid_files_are_scored_and_every_nan_has_a_reason(corpus_run, name):
    rows = {r["path"]: r for r in corpus_run[3]}
    row = rows[name]
    assert row["status"] == "ok", row["error"]
    assert 0.0 <= float(row["rob9.mean"]) <= 1.0
    metric_cols = [c for c in row if "." in c]
    if any(row[c] == "" for c in metric_cols):
        assert row["notes"].strip(), f"{name}: NaN without a reason"


def test_what_was_done_to_odd_files_is_said(corpus_run):
    rows = {r["path"]: r for r in corpus_run[3]}
    assert "first frame" in rows["odd/animated.gif"]["notes"]
    assert "first frame" in rows["odd/animated.webp"]["notes"]
    assert "CMYK" in rows["odd/cmyk.jpg"]["notes"]
    assert "transparent" in rows["odd/palette alpha.png"]["notes"]
    assert (rows["odd/wide 100000x1.png"]["width"], rows["odd/wide 100000x1.png"]["height"]) \
        == ("100000", "1")


def test_internal_errors_never_happen_on_the_corpus(corpus_run):
    """A family may say 'not measurable', but none may crash on a legal image."""
    for r in corpus_run[3]:
        assert "internal error" not in r["notes"], (r["path"], r["notes"])


def test_worker_processes_give_the_same_rows(corpus_run):
    root, out, _, rows = corpus_run
    outs = [out.parent / "out-j1", out.parent / "out-j2"]
    for o, j in zip(outs, ("1", "2")):
        assert run_cli(["score", str(root), "-o", str(o), "--families", "rob9", "-j", j,
                        "--no-cache"]) == 3
    assert _rows(outs[0]) == _rows(outs[1])
    assert [r["error"] for r in _rows(outs[1])] == [r["error"] for r in rows]


def test_unreadable_file_is_an_error_row(tmp_path):
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("running as root, which can read a chmod 000 file; the FIFO case in the "
                    "corpus covers a file that cannot be read")
    p = write_png(tmp_path / "in" / "locked.png", _rgb(8, 8))
    write_png(tmp_path / "in" / "fine.png", _rgb(8, 8))
    p.chmod(0)
    try:
        assert run_cli(["score", str(tmp_path / "in"), "-o", str(tmp_path / "o"),
                        "--families", "rob9", "-j", "1"]) == 3
    finally:
        p.chmod(0o644)
    rows = {r["path"]: r for r in _rows(tmp_path / "o")}
    assert "permission denied" in rows["locked.png"]["error"] and rows["fine.png"]["status"] == "ok"


def test_unreadable_file_simulated_is_an_error_row(tmp_path, monkeypatch):
    """Works as root too: the OS refusal (EACCES) is simulated at the open() call."""
    real_open = os.open

    def refusing_open(path, flags, *a, **kw):
        if str(path).endswith("locked.png"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a, **kw)

    write_png(tmp_path / "in" / "locked.png", _rgb(8, 8))
    write_png(tmp_path / "in" / "fine.png", _rgb(8, 8))
    monkeypatch.setattr(os, "open", refusing_open)
    assert run_cli(["score", str(tmp_path / "in"), "-o", str(tmp_path / "o"),
                    "--families", "rob9", "-j", "1"]) == 3
    monkeypatch.undo()
    rows = {r["path"]: r for r in _rows(tmp_path / "o")}
    assert "permission denied" in rows["locked.png"]["error"] and rows["fine.png"]["status"] == "ok"


def test_a_manifest_entry_that_is_a_folder_is_an_error_row(tmp_path):
    (tmp_path / "looks like.png").mkdir()
    write_png(tmp_path / "ok.png", _rgb(8, 8))
    m = tmp_path / "m.csv"
    m.write_text("path,variant\nlooks like.png,v\nok.png,v\n")
    assert run_cli(["score", "--manifest", str(m), "-o", str(tmp_path / "o"),
                    "--families", "rob9", "-j", "1"]) == 3
    rows = {r["path"]: r for r in _rows(tmp_path / "o")}
    assert "folder" in rows["looks like.png"]["error"] and rows["ok.png"]["status"] == "ok"


# ---- manifests stay inside their root --------------------------------------------------------
@pytest.mark.parametrize("entry", ["../../etc/passwd", "../outside.png", "/etc/passwd",
                                   "sub/../../outside.png", "link-out/x.png"])
def test_a_manifest_cannot_reach_outside_its_folder(tmp_path, entry, capsys):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    write_png(tmp_path / "outside.png", _rgb(8, 8))
    (tmp_path / "elsewhere").mkdir()
    write_png(tmp_path / "elsewhere" / "x.png", _rgb(8, 8))
    os.symlink(tmp_path / "elsewhere", root / "link-out")
    m = root / "m.jsonl"
    m.write_text(json.dumps({"path": entry, "variant": "v"}) + "\n")
    assert run_cli(["score", "--manifest", str(m), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "line 1" in err and ("outside" in err or "relative" in err)
    assert not (tmp_path / "o" / "scores.csv").exists()


# ---- nothing unsafe parses anything -----------------------------------------------------------
def test_no_unsafe_deserialisation_anywhere_in_the_package():
    """Config files and caches are parsed with safe parsers only: no pickle/marshal/eval,
    no yaml.load without SafeLoader (yaml.safe_load is the rule)."""
    src = Path(__file__).resolve().parents[1] / "src" / "lenscore"
    bad = re.compile(r"\bpickle\.loads?\(|\bmarshal\.loads?\(|(?<![\w.])eval\(|(?<![\w.])exec\(|"
                     r"yaml\.load\((?![^)]*SafeLoader)|yaml\.unsafe_load|yaml\.full_load|"
                     r"\bshell=True")
    hits = []
    for p in src.rglob("*.py"):
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            if bad.search(code):
                hits.append(f"{p.relative_to(src)}:{i}: {line.strip()}")
    assert hits == []


def test_the_cache_stores_json_not_pickle(tmp_path):
    import sqlite3

    write_png(tmp_path / "in" / "a.png", _rgb(8, 8))
    assert run_cli(["score", str(tmp_path / "in"), "-o", str(tmp_path / "o"),
                    "--families", "rob9", "-j", "1"]) == 0
    con = sqlite3.connect(tmp_path / ".lenscore-cache" / "scores.sqlite")
    values = [v for (v,) in con.execute("SELECT value FROM entries")]
    con.close()
    assert values and all(isinstance(json.loads(v), dict) for v in values)
