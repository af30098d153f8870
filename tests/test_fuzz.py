"""Fuzzing (hypothesis) the decoder, the per-image task, the manifest parser and the scores table.

Contract: hostile bytes never crash lenscore. The decoder returns pixels in [0, 1] or raises
InputError; scoring a file always gives a row; a manifest either parses into records that stay
inside its folder or raises ConfigError/UsageError; the scores-table reader never raises.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from lenscore.datasets.decode import decode_image
from lenscore.datasets.discover import ImageRecord, read_manifest
from lenscore.errors import ConfigError, InputError, UsageError
from lenscore.evaluator.cells import restore
from lenscore.evaluator.run import ScoresWriter, scan_scores, score_record
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

#: LENSCORE_FUZZ_EXAMPLES=5000 for a deep (random) session; the default is a fixed, quick set.
_DEEP = int(os.environ.get("LENSCORE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEP or 150, deadline=None, derandomize=not _DEEP,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _seeds() -> list[bytes]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    out = []
    for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 80}), ("WEBP", {"quality": 80}),
                    ("GIF", {}), ("JPEG", {"progressive": True})):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, fmt, **kw)
        out.append(buf.getvalue())
    buf = io.BytesIO()
    Image.fromarray((rng.integers(0, 65535, (9, 7))).astype(np.uint16)).save(buf, "PNG")
    out.append(buf.getvalue())
    buf = io.BytesIO()
    pal = Image.fromarray(rgb).convert("P")
    pal.save(buf, "PNG", transparency=0)
    out.append(buf.getvalue())
    buf = io.BytesIO()
    Image.new("CMYK", (6, 5), (10, 20, 30, 40)).save(buf, "JPEG")
    out.append(buf.getvalue())
    frames = [Image.fromarray(np.full((6, 6, 3), c, np.uint8)) for c in (10, 200)]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:])
    out.append(buf.getvalue())
    return out


SEEDS = _seeds()


@st.composite
def mutated_image_bytes(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "splice"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            data[i] = draw(st.sampled_from([0, 1, 0x7F, 0x80, 0xFF]))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        elif op == "truncate":
            del data[i:]
        else:
            other = draw(st.sampled_from(SEEDS))
            j = draw(st.integers(0, len(other) - 1))
            data[i:] = other[j:]
    return bytes(data)


def _check_decoded(d) -> None:
    assert d.rgb.dtype == np.float32 and d.rgb.ndim == 3 and d.rgb.shape[2] == 3
    assert d.rgb.shape[0] >= 1 and d.rgb.shape[1] >= 1
    assert np.isfinite(d.rgb).all() and d.rgb.min() >= 0.0 and d.rgb.max() <= 1.0
    assert all(isinstance(n, str) for n in d.notes)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in d.text.items())


@FUZZ
@given(mutated_image_bytes())
def test_decoder_on_mutated_images_returns_pixels_or_input_error(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            d = decode_image(data, max_pixels=1_000_000)
        except InputError as e:
            assert str(e).strip()
            return
    _check_decoded(d)


@FUZZ
@given(st.binary(max_size=600))
def test_decoder_on_random_bytes_returns_pixels_or_input_error(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            d = decode_image(data, max_pixels=1_000_000)
        except InputError:
            return
    _check_decoded(d)


def _fz(ctx):
    return MetricResult({"fuzz9.mean": float(ctx.rgb.mean())})


FUZZ_FAMILY = register(MetricFamily(
    name="fuzz9", version="1", method="test", compute=_fz, default=False,
    outputs=(Output("fuzz9.mean", "1", "neither", (0.0, 1.0), "mean"),)))


@FUZZ
@given(data=mutated_image_bytes(), name=st.sampled_from(["x.png", "x.jpg", "x.webp", "x.gif"]))
def test_scoring_any_file_gives_a_row_and_never_raises(tmp_path, data, name):
    p = tmp_path / name
    p.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = score_record(ImageRecord(path=name, source=str(p)), [FUZZ_FAMILY], max_pixels=1_000_000)
    row = res.row
    assert row["status"] in ("ok", "error")
    if row["status"] == "error":
        assert row["error"].strip() and not row["notes"]
    else:
        assert 0.0 <= row["fuzz9.mean"] <= 1.0 and int(row["width"]) >= 1
        assert "internal error" not in row["notes"]


# ---- manifests ---------------------------------------------------------------------------------
_path_parts = st.sampled_from(["a.png", "b.jpg", "..", ".", "sub", "/", "\\", "~", "%2e%2e",
                               "ü.png", " ", "", "\x00", "C:", "//x", "link", "../..", "*"])
_paths = st.lists(_path_parts, min_size=0, max_size=5).map("/".join)
_cells = st.one_of(_paths, st.text(max_size=20), st.sampled_from(["1,2,3,4", "0,0,-1,5", "x,y,w,h",
                                                                   "1e309,1,1,1", "nan,1,2,3"]))


@st.composite
def manifest_text(draw) -> tuple[str, str]:
    kind = draw(st.sampled_from(["csv", "jsonl", "raw"]))
    cols = ["path", "variant", "prompt", "seed", "subject_box"]
    if kind == "raw":
        return draw(st.sampled_from([".csv", ".jsonl"])), draw(st.text(max_size=300))
    rows = draw(st.lists(st.fixed_dictionaries({c: _cells for c in cols}), max_size=5))
    if kind == "jsonl":
        lines = []
        for r in rows:
            obj = {k: v for k, v in r.items() if draw(st.booleans()) or k == "path"}
            if draw(st.booleans()) and "subject_box" in obj:
                obj["subject_box"] = draw(st.lists(st.one_of(st.integers(-5, 50), st.floats()),
                                                   max_size=5))
            lines.append(json.dumps(obj) if draw(st.integers(0, 9)) else draw(st.text(max_size=30)))
        return ".jsonl", "\n".join(lines)
    header = draw(st.permutations(cols).map(lambda p: list(p)[: len(p) - draw(st.integers(0, 4))]))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow([r[c] for c in header] + ([] if draw(st.integers(0, 9)) else ["extra"]))
    return ".csv", buf.getvalue()


@FUZZ
@given(m=manifest_text())
def test_manifest_parser_gives_records_inside_its_folder_or_a_config_error(tmp_path_factory, m):
    suffix, text = m
    root = tmp_path_factory.mktemp("m")
    (root / "sub").mkdir()
    outside = root.parent / f"{root.name}-outside"
    outside.mkdir(exist_ok=True)
    link = root / "link"
    if not link.exists():
        link.symlink_to(outside)
    mpath = root / f"manifest{suffix}"
    mpath.write_bytes(text.encode("utf-8", "replace"))
    try:
        records = read_manifest(mpath)
    except (ConfigError, UsageError) as e:
        assert str(e).strip()
        return
    base = root.resolve()
    for r in records:
        assert isinstance(r, ImageRecord) and r.path and r.variant
        assert Path(r.source).resolve().is_relative_to(base), r.source
        if r.subject_box is not None:
            assert len(r.subject_box) == 4 and r.subject_box[2] > 0 and r.subject_box[3] > 0


@FUZZ
@given(st.binary(max_size=400))
def test_manifest_parser_on_random_bytes(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("mb")
    for suffix in (".csv", ".jsonl"):
        p = root / f"m{suffix}"
        p.write_bytes(data)
        try:
            for r in read_manifest(p):
                assert Path(r.source).resolve().is_relative_to(root.resolve())
        except (ConfigError, UsageError):
            pass


# ---- the scores table --------------------------------------------------------------------------
@FUZZ
@given(st.binary(max_size=500))
def test_scores_reader_never_raises_on_garbage(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("s") / "scores.csv"
    p.write_bytes(data)
    s = scan_scores(p)
    assert 0 <= s.good_end <= s.size == len(data)
    assert s.n == len(s.paths) or s.n >= len(s.paths)


_cell_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@FUZZ
@given(rows=st.lists(st.tuples(_cell_text, _cell_text, st.floats(allow_nan=True)), max_size=6),
       cut=st.integers(0, 10_000))
def test_written_rows_read_back_and_any_cut_keeps_a_prefix(tmp_path_factory, rows, cut):
    p = tmp_path_factory.mktemp("w") / "scores.csv"
    cols = ["path", "status", "x.value"]
    with ScoresWriter(p, cols) as w:
        for path, status, v in rows:
            w.write({"path": path, "status": status, "x.value": v})
    full = p.read_bytes()
    with open(p, newline="", encoding="utf-8") as fh:
        back = list(csv.reader(fh))
    assert back[0] == cols and len(back) == len(rows) + 1
    for (path, status, v), got in zip(rows, back[1:]):
        # text cells come back raw through restore() (formula starts carry an apostrophe)
        assert restore(got[0]) == path.replace("\x00", "")
        assert restore(got[1]) == status.replace("\x00", "")
        if math.isnan(v):
            assert got[2] == ""
    # a SIGKILL can cut the file anywhere: what is kept is always a prefix of the rows
    p.write_bytes(full[: cut % (len(full) + 1)])
    s = scan_scores(p)
    if s.header is not None:
        kept = list(csv.reader(io.StringIO(p.read_bytes()[: s.good_end].decode("utf-8"),
                                           newline="")))
        assert kept[0] == cols and kept[1:] == back[1: len(kept)]
