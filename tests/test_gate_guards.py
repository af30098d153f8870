"""Gate mistakes that must not pass silently, and gate text a person can read: a baseline that
cannot guard the regression rules, a wrong renders folder, digits, where gate.md goes."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from lenscore.cli import run_cli
from lenscore.reports import gate as g

from test_gate_example import _gate, library  # noqa: F401  (the example library fixture)


def _baseline_without(lib, prefix: str, name: str):
    d = json.loads((lib / "baseline" / "summary.json").read_text())
    for v in d["variants"].values():
        v["outputs"] = {k: x for k, x in v["outputs"].items() if not k.startswith(prefix)}
    (lib / name).write_text(json.dumps(d))
    return name


def test_regression_text_has_sensible_digits(library, tmp_path, capsys):  # noqa: F811
    code, _, md = _gate(tmp_path)
    assert code == 0
    lines = [line for line in md.splitlines() if "regression <=" in line]
    assert lines
    for line in lines:
        change = re.search(r"change (\S+) \[(\S+), (\S+)\]", line)
        assert change, line
        for v in change.groups():
            assert "e" not in v.lower(), line  # no 2e-07
            assert len(v.lstrip("+-").split(".")[-1]) <= 3, line  # at most 3 decimals here


@pytest.mark.parametrize("margin,ci,decimals", [(0.05, (0.0, 0.0), 3), (0.5, (-1e-7, 1e-7), 2),
                                                (5.0, (-1, 1), 1), (0.0, (-0.02, 0.03), 3)])
def test_change_decimals_follow_the_margin(margin, ci, decimals):
    assert g.change_decimals(margin, ci) == decimals


def test_tiny_changes_print_as_zero():
    assert g._signed(-2e-07, 3) == "0.000"
    assert g._signed(-0.0123, 3) == "-0.012" and g._signed(0.5, 2) == "+0.50"


def test_summary_file_holds_one_gate_summary_and_none_is_written_unasked(library, tmp_path,  # noqa: F811
                                                                         monkeypatch):
    md = tmp_path / "gate.md"
    for _ in range(2):
        assert run_cli(["gate", "--baseline", "baseline/summary.json", "--summary", str(md),
                        "-j", "2"]) == 0
    assert md.read_text().count("## ") == 1  # replaced, not appended
    assert run_cli(["gate", "--baseline", "baseline/summary.json", "-j", "2"]) == 0
    assert not [p for p in library.rglob("*.md")]  # nothing written where nobody asked
    step = tmp_path / "step-summary.md"
    step.write_text("earlier step output\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    assert run_cli(["gate", "--baseline", "baseline/summary.json", "--summary", str(step),
                    "-j", "2"]) == 0
    text = step.read_text()
    assert text.startswith("earlier step output\n") and "lenscore gate passed" in text


def test_baseline_lacking_the_rules_outputs_is_refused_before_scoring(library, capsys):  # noqa: F811
    name = _baseline_without(library, "skin.", "base-noskin.json")
    assert run_cli(["gate", "--baseline", name, "-j", "2"]) == 2
    err = capsys.readouterr().err
    assert "skin.texture_energy" in err and "--allow-missing-baseline" in err
    assert "night-crowd/optical" in err and "sodium-street/optical" in err
    assert not (library / "gate-results" / "scores.csv").exists()


def test_allow_missing_baseline_skips_those_rules_and_says_so(library, capsys):  # noqa: F811
    name = _baseline_without(library, "skin.", "base-noskin.json")
    assert run_cli(["gate", "--baseline", name, "--allow-missing-baseline", "-j", "2"]) == 0
    cap = capsys.readouterr()
    assert "SKIPPED" in cap.out and "skin.texture_energy" in cap.out
    assert "warning: --allow-missing-baseline" in cap.err


def test_baseline_of_another_library_is_refused(library, tmp_path, capsys):  # noqa: F811
    d = json.loads((library / "baseline" / "summary.json").read_text())
    d["variants"] = {f"other-prompt-{i}/optical": v for i, v in enumerate(d["variants"].values())}
    (library / "other.json").write_text(json.dumps(d))
    assert run_cli(["gate", "--baseline", "other.json", "-j", "2"]) == 2
    err = capsys.readouterr().err
    assert "night-crowd/optical" in err and "other-prompt-0/optical" in err
    (library / "notes.json").write_text("[1, 2]")
    assert run_cli(["gate", "--baseline", "notes.json", "-j", "2"]) == 2
    assert "not a lenscore baseline" in capsys.readouterr().err
    (library / "broken.json").write_text("{")
    assert run_cli(["gate", "--baseline", "broken.json", "-j", "2"]) == 2


def test_wrong_renders_folder_is_a_config_error(library, capsys):  # noqa: F811
    cfg = library / "lenscore.toml"
    text = cfg.read_text()
    cfg.write_text(text.replace('renders = "renders"', 'renders = "render"'))
    assert run_cli(["gate", "--baseline", "baseline/summary.json", "-j", "2"]) == 2
    err = capsys.readouterr().err
    line = next(i for i, t in enumerate(cfg.read_text().splitlines(), 1) if t.startswith("renders"))
    assert f"lenscore.toml, line {line}" in err and "'render' does not exist" in err
    cfg.write_text(text.replace('renders = "renders"', 'renders = "truth"'))
    assert run_cli(["gate", "--baseline", "baseline/summary.json", "-j", "2"]) == 2
    assert "holds renders for none of the library's 2 prompts" in capsys.readouterr().err


def test_one_missing_prompt_fails_and_every_message_names_the_same_folder(library, tmp_path,  # noqa: F811
                                                                          capsys):
    shutil.rmtree(library / "renders" / "sodium-street")
    code, _, md = _gate(tmp_path)
    cap = capsys.readouterr()
    assert code == 1
    where = "renders/sodium-street/optical/"
    assert f"expected images in {where}" in cap.err
    fail = next(line for line in cap.out.splitlines() if "renders present" in line)
    assert f"expected images in {where}" in fail and where in md
