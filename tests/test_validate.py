"""`lenscore validate` on a reduced sweep: every metric meets its target against the
ground-truth renderer (the same checks the full command prints), or, for the few targets not
yet reached, holds the level measured when they were recorded (``SHORTFALLS``)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from lenscore.cli import run_cli
from lenscore.evaluator.validate import run_validation

from conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def checks():
    return {f"{c.family}: {c.name}": c for c in run_validation(quick=True, jobs=2)}


def test_every_family_is_validated(checks):
    assert {c.family for c in checks.values()} == {"subject", "focus", "bokeh", "color", "skin",
                                                  "physics"}
    assert len(checks) >= 14


def _not_judged(c) -> bool:
    """A physics check rests on the focus or colour family's accuracy: it is judged only when
    that measurement meets its own family's target on the same scenes (else N/A, 'not judged')."""
    return c.family == "physics" and c.passed is None and c.detail.startswith("not judged: ")


#: Targets not yet met, with the level measured on the quick plan (2026-12-01) and the level this
#: suite holds them to (a regression past it fails). `lenscore validate` still prints them as
#: FAIL; the README's "Known shortfalls" gives the full plan's figures. A check that meets its target
#: must leave this list (test below): the list is what is still wrong, never a way to pass.
SHORTFALLS: dict[str, tuple[float, float, str]] = {
    # name: (measured, guard, issue)
    # focus: re-measured 2026-12-02 after focus v4 (spectral noise model, level 1's floor);
    # guards tightened. Grass has 22 scenes, 9 of them sharp and tied at the in-focus floor: one
    # wrong reading moving from 3.2 to 3.0 px (onto the tie) costs it 0.1 (0.817 -> 0.719).
    # Focus v5 (an 8-bit file's rounding; textures never enlarged) moved the full plan (1024 px:
    # p90 49 -> 38.5 %, brick 0.914 -> 0.937) and left the quick plan's 512 px figures as they were
    "focus: background blur disc error (90th percentile)": (67.0, 70.0, "14"),
    "focus: blur disc rank correlation with the true c (street)": (0.823, 0.80, "14"),
    "focus: blur disc rank correlation with the true c (brick)": (0.761, 0.74, "14"),
    "focus: blur disc rank correlation with the true c (grass)": (0.719, 0.70, "14"),
    "focus: blur disc rank correlation with the true c (gravel)": (0.904, 0.88, "14"),
    "focus: background blur ordered with aperture (share of sweeps)": (55.6, 55.0, "14"),
    "bokeh: recall with a detected subject": (0.875, 0.85, "15"),
    # physics: the Kelvin checks are judged since their colour gate judges colour as colour's own
    # target does (on the lights it reads); the quick plan's 512 px faces give colour a reading
    # on 16 of 45 scenes, and a scene without one is a miss here (guards one scene below)
    "physics: truthful prompts: key Kelvin error <= 15 mired": (27.8, 25.0, "18"),
    "physics: truthful prompts: background Kelvin error <= 15 mired": (55.6, 44.0, "18"),
    "physics: truthful prompts without roles (assignment): key Kelvin error <= 15 mired": (27.8, 25.0, "18"),
    "physics: truthful prompts without roles (assignment): background Kelvin error <= 15 mired":
        (55.6, 44.0, "18"),
    "physics: prompts that lie about the key (170 mired, 2700 K vs 5000 K): error > 15 mired": (27.8, 25.0, "18"),
    "physics: truthful prompts: key Kelvin obedience gap across skin tones": (100.0, 100.0, "18"),
    # quick plan: 5 renderer scenes and 4 London faces, one case each is 20 and 25 points; the
    # full plan passes the first two (95.2 % of 21 scenes, 91.7 % of 96 images)
    "skin: renderer: no pores reads plastic": (80.0, 80.0, "17"),
    "skin: London: sensor noise 1-3 % reads as less than one ladder step": (75.0, 75.0, "17"),
    "skin: renderer: noise baked in by JPEG, no pores, reads plastic": (42.9, 42.0, "17"),
}


def _worse_than(c, guard: float) -> bool:
    """Whether ``c`` measured worse than ``guard`` in its target's direction (NaN is worse)."""
    m = re.search(r"(<=|>=|<|>)", c.target)
    assert m, f"{c.family}: {c.name}: cannot read a direction from the target {c.target!r}"
    if not math.isfinite(c.measured):
        return True
    return c.measured > guard if m.group(1).startswith("<") else c.measured < guard


def test_every_check_meets_its_target_or_holds_its_recorded_shortfall(checks):
    failed = {}
    for k, c in checks.items():
        if c.passed is True or _not_judged(c):
            continue
        if c.passed is None and not SHARED_DATA.is_dir() and c.detail.endswith("not present"):
            continue  # the real faces are not beside this clone: those checks cannot run here
        if k in SHORTFALLS and not _worse_than(c, SHORTFALLS[k][1]):
            continue
        failed[k] = f"{c.measured:.3g} {c.unit} (target {c.target}; {c.detail})"
    assert not failed


def test_the_shortfall_list_is_current(checks):
    """Every listed shortfall is a check that exists and still misses its target."""
    absent = set(SHORTFALLS) - set(checks)
    if "skin: London faces under any light" in checks:  # the real faces are not beside this clone:
        absent = {k for k in absent if not k.startswith("skin: London: ")}  # one N/A row stands in
    assert not absent, absent
    met = [k for k in SHORTFALLS if k in checks and checks[k].passed is True]
    assert not met, f"these now meet their targets: remove them from SHORTFALLS and the README: {met}"


def test_real_defocus_pairs(shared_data, tmp_path, capsys):
    code = run_cli(["validate", "--data", str(shared_data / "defocus-pairs"), "--manifest",
                    str(REPO / "examples" / "validation" / "defocus-pairs.csv"), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("PASS") == 3 and "3 passed, 0 failed" in out
    assert (tmp_path / "validation.json").is_file()
