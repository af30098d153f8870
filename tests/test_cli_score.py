"""`lenscore score` end to end: tables, summaries, exit codes, error rows."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from lenscore.cli import run_cli

from conftest import write_png


def _rows(out):
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _portrait(seed=0, size=96):
    rng = np.random.default_rng(seed)
    return (rng.random((size, size, 3)) * 255).astype(np.uint8)


def test_mixed_folder_gives_exactly_the_expected_error_rows(tmp_path):
    src = tmp_path / "renders"
    write_png(src / "good" / "ok.png", _portrait())
    write_png(src / "good" / "gray16.png", (np.arange(96 * 96).reshape(96, 96) * 7).astype(np.uint16))
    buf = io.BytesIO()
    Image.fromarray(_portrait(1, 128)).save(buf, "PNG")
    (src / "bad").mkdir(parents=True)
    (src / "bad" / "truncated.png").write_bytes(buf.getvalue()[:200])
    (src / "bad" / "empty.png").write_bytes(b"")
    (src / "bad" / "text.png").write_text("hello, I am not a picture")
    out = tmp_path / "results"
    code = run_cli(["score", str(src), "--out", str(out), "--jobs", "1"])
    assert code == 3
    rows = {r["path"]: r for r in _rows(out)}
    assert set(rows) == {"bad/empty.png", "bad/text.png", "bad/truncated.png",
                         "good/gray16.png", "good/ok.png"}
    assert rows["good/ok.png"]["status"] == "ok" and rows["good/gray16.png"]["status"] == "ok"
    assert rows["good/gray16.png"]["width"] == "96"
    assert "empty file" in rows["bad/empty.png"]["error"]
    assert "not an image" in rows["bad/text.png"]["error"]
    assert "truncated" in rows["bad/truncated.png"]["error"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["variants"]["bad"] == {**summary["variants"]["bad"], "n": 3, "n_failed": 3}
    assert summary["variants"]["good"]["n_failed"] == 0
    assert summary["lenscore_version"] and "numpy" in summary["packages"]


def test_all_good_exits_zero_and_columns_follow_the_registry(tmp_path):
    from lenscore.evaluator.run import BASE_COLUMNS, columns_for, select_families

    write_png(tmp_path / "in" / "a.png", _portrait())
    out = tmp_path / "out"
    assert run_cli(["score", str(tmp_path / "in"), "--out", str(out)]) == 0
    with open(out / "scores.csv", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert header == columns_for(select_families())
    assert tuple(header[: len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert _rows(out)[0]["variant"] == "default"


def test_usage_errors_exit_2(tmp_path, capsys):
    assert run_cli(["score", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert run_cli(["score", str(tmp_path / "empty")]) == 2
    assert run_cli(["score", "--jobs", "0", str(tmp_path)]) == 2
    assert run_cli(["score", str(tmp_path), "--families", "bokehh"]) == 2


def test_bad_manifest_exits_2_with_line(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("path,variant\na.png\n")
    assert run_cli(["score", "--manifest", str(m), "--out", str(tmp_path / "o")]) == 2
    assert "line 2" in capsys.readouterr().err


def test_manifest_prompt_and_subject_box_reach_the_row(tmp_path):
    write_png(tmp_path / "x" / "a.png", _portrait())
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"path": "x/a.png", "variant": "v1", "prompt": "<b>85mm</b>",
                             "seed": 3, "subject_box": "10,10,40,40"}) + "\n")
    out = tmp_path / "o"
    assert run_cli(["score", "--manifest", str(m), "--out", str(out)]) == 0
    (row,) = _rows(out)
    assert (row["variant"], row["prompt"], row["seed"]) == ("v1", "<b>85mm</b>", "3")


def test_parallel_run_matches_serial(tmp_path):
    for i in range(4):
        write_png(tmp_path / "in" / f"{i}.png", _portrait(i))
    assert run_cli(["score", str(tmp_path / "in"), "--out", str(tmp_path / "s"), "-j", "1"]) == 0
    assert run_cli(["score", str(tmp_path / "in"), "--out", str(tmp_path / "p"), "-j", "2"]) == 0
    assert _rows(tmp_path / "s") == _rows(tmp_path / "p")


def test_help_is_fast_and_imports_nothing_heavy():
    code = ("import sys, lenscore.cli as c\n"
            "c.run_cli(['--help'])\n"
            "heavy = [m for m in ('torch', 'open_clip', 'colour', 'pandas', 'matplotlib', 'scipy') if m in sys.modules]\n"
            "print('HEAVY', heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "score" in out


@pytest.mark.parametrize("argv", [["metrics"], ["metrics", "--json"]])
def test_metrics_table(argv, capsys):
    assert run_cli(argv) == 0
    assert capsys.readouterr().out.strip()
