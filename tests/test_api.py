"""The Python API: lenscore.score -> the scores table, lenscore.compare -> verdicts; exported
lazily so `import lenscore` stays light; the README's example runs as written."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lenscore
from lenscore.cli import run_cli
from lenscore.datasets.demo import write_demo

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("api-demo")
    write_demo(out, n=3, size=96, jobs=1)
    return out


def test_import_lenscore_stays_light():
    code = ("import sys, lenscore; heavy = ('pandas', 'numpy', 'cv2', 'torch', 'matplotlib', "
            "'lenscore.api', 'lenscore.cli'); print([m for m in heavy if m in sys.modules]); "
            "print(sorted(n for n in ('score', 'compare') if n in dir(lenscore)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[]", "['compare', 'score']"]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'scoring'"):
        lenscore.scoring  # noqa: B018


def test_score_returns_the_scores_csv_table(demo, tmp_path):
    df = lenscore.score(demo / "renders", families=["focus"], jobs=1)
    assert run_cli(["score", str(demo / "renders"), "-o", str(tmp_path / "cli"), "-f", "focus",
                    "-j", "1", "--no-cache"]) == 0
    with open(tmp_path / "cli" / "scores.csv", newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    assert list(df.columns) == header
    from lenscore.reports.aggregate import read_scores

    cli = read_scores(tmp_path / "cli" / "scores.csv")
    assert list(df["path"]) == list(cli["path"]) and list(df["seed"]) == list(cli["seed"])
    assert np.allclose(df["focus.separation"], cli["focus.separation"], equal_nan=True)
    assert df["focus.separation"].dtype.kind == "f"


def test_score_takes_a_mapping_or_a_list_and_never_raises_for_a_bad_image(demo, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    opt = sorted((demo / "renders" / "optical").glob("*.png"))
    df = lenscore.score({"optical": opt[:2], "other": [bad]}, families="focus", jobs=1)
    assert list(df["variant"]) == ["optical", "optical", "other"]
    assert list(df["status"]) == ["ok", "ok", "error"] and df["error"].iloc[2]
    kept = tmp_path / "kept"
    lenscore.score([opt[0]], families=["focus"], jobs=1, out=kept)
    assert (kept / "scores.csv").is_file() and (kept / "summary.json").is_file()


def test_compare_gives_verdicts_and_the_answer(demo):
    df = lenscore.score(demo / "renders", families=["focus", "color"], jobs=1)
    res = lenscore.compare(df, baseline="blurred")
    assert set(res["variant"]) == {"optical"} and set(res["baseline"]) == {"blurred"}
    assert set(res["output"]) == {c for c in df.columns if "." in c}
    quality = res["direction"].isin(["higher", "lower"]).to_numpy()
    assert quality[: quality.sum()].all()  # quality outputs first
    assert res.attrs["answer"]["optical"].startswith(("optical is better", "no detectable",
                                                      "optical vs blurred"))
    assert "paired by seed" in res.attrs["pairing"]["optical"]
    known = res[res["diff"].notna()]
    assert len(known) and (known["ci_low"] <= known["diff"]).all() and (known["diff"] <= known["ci_high"]).all()
    # 96 px renders hold no face and the blurred crowd no orbs: no evidence is said, never a number
    unknown = res[res["diff"].isna()]
    assert len(unknown) and (unknown["verdict"] == "not enough data").all()
    assert unknown["note"].astype(str).str.len().gt(0).all()


def test_readme_python_example_runs_as_written(demo, monkeypatch):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"### From Python.*?```python\n(.*?)```", readme, re.S)
    assert m, "the README's Python example is gone"
    code = m.group(1)
    assert len(code.strip().splitlines()) <= 5
    monkeypatch.chdir(demo)  # it scores renders/ (the demo's two prompt variants)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, "README.md", "exec"), {})
    printed = buf.getvalue()
    assert "blurred" in printed and "optical" in printed
    assert re.search(r"(optical is better than blurred|no detectable difference between optical)",
                     printed)
