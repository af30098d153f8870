"""The CI gate: config errors, decisions with noise, JUnit and Markdown outputs."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from lenscore.datasets.library import LibraryPrompt, load_library
from lenscore.errors import ConfigError
from lenscore.metrics.base import _REGISTRY, MetricFamily, MetricResult, Output, register
from lenscore.reports import gate as g


@pytest.fixture
def tfam():
    """A throwaway family with one 'higher', one 'lower' and one 'neither' output."""
    fam = register(MetricFamily(
        name="tst", version="1", method="test", default=False,
        outputs=(Output("tst.up", "u", "higher", (0, 1), "higher is better"),
                 Output("tst.down", "u", "lower", (0, 1), "lower is better"),
                 Output("tst.any", "u", "neither", (0, 1), "descriptive")),
        compute=lambda ctx: MetricResult({})))
    yield fam
    _REGISTRY.pop("tst", None)


def _write(tmp_path, config: str, library: str | None = None):
    (tmp_path / "prompts.toml").write_text(library or
        '[[prompt]]\nid = "p1"\n[prompt.variants]\nopt = "85mm"\n')
    (tmp_path / "lenscore.toml").write_text(config)
    return tmp_path / "lenscore.toml"


@pytest.mark.parametrize("config,match", [
    ('[gate]\nlibrary = "prompts.toml"\n[[gate.rule]]\noutput = "tst.upp"\nmin = 1\n',
     r"line 4: rule #1: unknown metric output 'tst.upp'\. Did you mean 'tst.up'\?"),
    ('[gate]\nlibrary = "prompts.toml"\n[[gate.rule]\noutput = "tst.up"\n', r"line 3, column \d+: invalid TOML"),
    ('[gate]\nlibrary = "prompts.toml"\n[[gate.rule]]\noutput = "tst.any"\nmax_regression = 0.1\n',
     r"no better direction"),
    ('[gate]\nlibrary = "prompts.toml"\n[[gate.rule]]\noutput = "tst.up"\nmn = 1\n',
     r"line 5: rule #1: unknown key 'mn'\. Did you mean 'min'\?"),
    ('[gate]\nlibrary = "prompts.toml"\n[[gate.rule]]\noutput = "tst.up"\n', r"sets no condition"),
    ('[gate]\nlibrary = "prompts.toml"\n[[gate.rule]]\noutput = "tst.up"\nmin = "high"\n',
     r"line 5: rule #1 \(tst.up\): 'min' must be a number"),
    ('[gate]\nrenders = "r"\n', r"needs 'library"),
])
def test_malformed_configs_say_line_and_reason(tmp_path, tfam, config, match):
    with pytest.raises(ConfigError, match=match):
        g.load_config(_write(tmp_path, config))


def test_yaml_library_and_errors(tmp_path):
    p = tmp_path / "lib.yaml"
    p.write_text("prompts:\n  - id: a\n    variants: {opt: '85mm'}\n    expect: {lens: 85mm}\n")
    (lp,) = load_library(p)
    assert lp.id == "a" and lp.variants == {"opt": "85mm"} and lp.expect == {"lens": "85mm"}
    p.write_text("prompts:\n  - id: a\n    variants: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: invalid YAML"):
        load_library(p)
    p.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError):   # safe_load refuses arbitrary objects
        load_library(p)


def _scores(values_by_group: dict[str, np.ndarray], col="tst.up"):
    rows = []
    for group, vals in values_by_group.items():
        for i, v in enumerate(vals):
            rows.append({"path": f"{group}/{i}.png", "variant": group, "status": "ok", "error": "",
                         "notes": "", "seed": str(i), col: v})
    return pd.DataFrame(rows)


def _summary(df, col="tst.up"):
    out = {}
    for group, gdf in df.groupby("variant"):
        v = gdf[col].to_numpy(float)
        out[group] = {"n": len(v), "n_failed": 0, "outputs": {col: {
            "n": len(v), "mean": float(v.mean()), "std": float(v.std(ddof=1)), "median": 0, "ci95": [0, 0]}}}
    return {"variants": out}


LIB = [LibraryPrompt("p1", {"opt": "85mm"})]


def _cfg(rules, **kw):
    from pathlib import Path
    return g.GateConfig(root=Path("."), library=Path("x"), renders=None, manifest=None,
                        rules=rules, **kw)


def test_bounds_pass_and_fail(tfam):
    df = _scores({"p1/opt": np.full(6, 0.9)})
    res = g.evaluate(_cfg([g.Rule("tst.up", min=0.8)]), df, library=LIB)
    assert res.passed
    res = g.evaluate(_cfg([g.Rule("tst.up", min=0.95)]), df, library=LIB)
    (fail,) = res.failed
    assert "mean 0.9" in fail.message and "min 0.95" in fail.message


def test_clear_regression_fails_with_figures(tfam):
    rng = np.random.default_rng(0)
    base = _scores({"p1/opt": 0.9 + 0.02 * rng.standard_normal(8)})
    new = _scores({"p1/opt": 0.5 + 0.02 * rng.standard_normal(8)})
    res = g.evaluate(_cfg([g.Rule("tst.up", max_regression=0.05)]), new,
                     baseline_summary=_summary(base), baseline_scores=base, library=LIB)
    (fail,) = res.failed
    assert "REGRESSED" in fail.message and "allowed regression 0.05" in fail.message
    assert fail.figures["change"] < -0.3


def test_lower_is_better_regression_is_an_increase(tfam):
    base = _scores({"p1/opt": np.linspace(0.1, 0.12, 8)}, col="tst.down")
    new = _scores({"p1/opt": np.linspace(0.5, 0.52, 8)}, col="tst.down")
    res = g.evaluate(_cfg([g.Rule("tst.down", max_regression=0.05)]), new,
                     baseline_summary=_summary(base, "tst.down"), baseline_scores=base, library=LIB)
    assert len(res.failed) == 1
    better = _scores({"p1/opt": np.linspace(0.01, 0.02, 8)}, col="tst.down")
    res = g.evaluate(_cfg([g.Rule("tst.down", max_regression=0.05)]), better,
                     baseline_summary=_summary(base, "tst.down"), baseline_scores=base, library=LIB)
    assert res.passed


def test_noise_alone_does_not_fail_a_build(tfam):
    """Unchanged but noisy renders (8 seeds, SD 0.15 against a margin of 0.05): over 200
    baseline/new draws the gate fails at most 5 % of the time (its one-sided level is 2.5 %)."""
    rng = np.random.default_rng(1)
    fails = 0
    for _ in range(200):
        base = _scores({"p1/opt": 0.7 + 0.15 * rng.standard_normal(8)})
        new = _scores({"p1/opt": 0.7 + 0.15 * rng.standard_normal(8)})
        res = g.evaluate(_cfg([g.Rule("tst.up", max_regression=0.05)]), new,
                         baseline_summary=_summary(base), baseline_scores=base, library=LIB)
        fails += not res.passed
    assert fails <= 10


def test_summary_only_baseline_uses_welch(tfam):
    base = _scores({"p1/opt": np.linspace(0.88, 0.92, 8)})
    new = _scores({"p1/opt": np.linspace(0.88, 0.92, 8) + 0.001})
    res = g.evaluate(_cfg([g.Rule("tst.up", max_regression=0.05)]), new,
                     baseline_summary=_summary(base), baseline_scores=None, library=LIB)
    (case,) = [c for c in res.cases if "regression" in c.rule]
    assert case.status == g.PASS and "Welch" in case.message


def test_welch_ci_matches_scipy():
    from scipy import stats

    a, b = np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 3, 5, 6, 9])
    lo, hi = g.welch_ci(a.mean(), a.std(ddof=1), 5, b.mean(), b.std(ddof=1), 5)
    ci = stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    assert lo == pytest.approx(ci.low) and hi == pytest.approx(ci.high)


def test_missing_renders_and_unreadable_images_fail(tfam):
    df = _scores({"p1/opt": np.full(4, 0.9)})
    df.loc[0, ["status", "error"]] = ["error", "truncated"]
    lib = LIB + [LibraryPrompt("p2", {"opt": "x"})]
    res = g.evaluate(_cfg([g.Rule("tst.up", min=0.5)], max_failed=0), df, missing=["p2/opt"], library=lib)
    msgs = " ".join(c.message for c in res.failed)
    assert "no renders for prompt 'p2'" in msgs and "1 of 4 images could not be read" in msgs


def test_junit_and_markdown(tfam):
    df = _scores({"p1/opt": np.full(4, 0.9)})
    res = g.evaluate(_cfg([g.Rule("tst.up", min=0.95), g.Rule("tst.up", max=1.0)]), df, library=LIB)
    root = ET.fromstring(g.junit_xml(res).split("\n", 1)[1])
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 3 and suite.get("failures") == "1"
    assert cases[0].find("failure") is not None and "min 0.95" in cases[0].find("failure").get("message")
    md = g.markdown_summary(res)
    assert md.startswith("## ❌ lenscore gate failed") and "| ❌ | `p1` | `opt` |" in md


def test_non_inferiority_decisions():
    assert g.non_inferiority(-0.5, (-0.6, -0.4), 0.1) == g.FAIL
    assert g.non_inferiority(0.0, (-0.05, 0.05), 0.1) == g.PASS
    assert g.non_inferiority(-0.05, (-0.3, 0.2), 0.1) == g.INCONCLUSIVE
    assert g.non_inferiority(math.nan, (math.nan, math.nan), 0.1) == g.INCONCLUSIVE


def test_an_output_that_vanished_since_the_baseline_is_a_regression(tfam):
    base = _scores({"p1/opt": np.full(6, 0.9)})
    new = _scores({"p1/opt": np.full(6, np.nan)})
    new["notes"] = "tst: no orbs (3 soft highlights)"
    res = g.evaluate(_cfg([g.Rule("tst.up", max_regression=0.05)]), new,
                     baseline_summary=_summary(base), baseline_scores=base, library=LIB)
    (fail,) = res.failed
    assert "measured on 6 baseline renders" in fail.message and fail.message.endswith("(no orbs)")


def test_pairs_by_the_seeds_both_runs_measured(tfam):
    base = _scores({"p1/opt": np.array([0.9, 0.8, np.nan, 0.7, 0.95, 0.85])})
    new = _scores({"p1/opt": np.array([0.9, np.nan, 0.6, 0.7, 0.95, 0.85]) - 0.3})
    res = g.evaluate(_cfg([g.Rule("tst.up", max_regression=0.05)]), new,
                     baseline_summary=_summary(base.dropna()), baseline_scores=base, library=LIB)
    (case,) = [c for c in res.cases if "regression" in c.rule]
    assert "paired t by seed" in case.message and case.status == g.FAIL
