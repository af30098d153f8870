"""A/B comparison: pairing, direction-aware verdicts, Holm, power lines, A/A splits, JSON."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from lenscore.errors import UsageError
from lenscore.reports import stats
from lenscore.reports.compare import (OutputMeta, compare_scores, comparison_tables,
                                      find_pairing, merge_runs, output_meta, power_notes,
                                      write_comparison_json)

META = {
    "t.sharp": OutputMeta("t.sharp", "ratio", "higher"),
    "t.mud": OutputMeta("t.mud", "fraction", "lower"),
    "t.kelvin": OutputMeta("t.kelvin", "K", "neither"),
    "t.noise": OutputMeta("t.noise", "", "higher"),
}


def make_scores(n: int = 30, *, shift: float = 1.0, seed: int = 0, paired: bool = True,
                prompts: int = 5, seed_effect: float = 1.0) -> pd.DataFrame:
    """Two variants; 'optical' is sharper (+shift), less muddy (-), hotter (+K), same noise."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, seed_effect, n)  # what the seed contributes to both variants
    rows = []
    for v, s in (("blurred", 0.0), ("optical", shift)):
        for i in range(n):
            rows.append({
                "path": f"{v}/{i:03d}.png", "variant": v, "prompt": f"subject {i % prompts}",
                "seed": str(i if paired else (i + (1000 if v == "optical" else 0))),
                "status": "ok", "error": "", "notes": "", "width": 64, "height": 64,
                "t.sharp": 0.5 + 0.1 * base[i] + 0.1 * s + rng.normal(0, 0.05),
                "t.mud": 0.3 + 0.05 * base[i] - 0.1 * s + rng.normal(0, 0.05),
                "t.kelvin": 4000 + 300 * base[i] + 800 * s + rng.normal(0, 100),
                "t.noise": rng.normal(0, 1),
            })
    return pd.DataFrame(rows)


def by_output(comparison, pair=0):
    return {r.output: r for r in comparison.pairs[pair].results}


def test_shifted_sample_is_better_worse_differs_by_direction():
    c = compare_scores(make_scores(), baseline="blurred", meta=META)
    r = by_output(c)
    assert c.pairs[0].pairing == "prompt+seed"
    assert r["t.sharp"].verdict == "better" and r["t.sharp"].diff > 0
    assert r["t.sharp"].ci[0] <= 0.1 <= r["t.sharp"].ci[1]  # CI covers the true shift
    assert r["t.mud"].verdict == "better" and r["t.mud"].diff < 0  # lower is better
    assert r["t.mud"].win_rate >= 0.8  # wins = lower
    assert r["t.kelvin"].verdict == "differs"
    assert r["t.noise"].verdict == "no detectable difference"
    assert r["t.sharp"].cliffs_delta > 0 and r["t.mud"].cliffs_delta < 0
    # reversed roles: the baseline is now the better one
    c2 = compare_scores(make_scores(), baseline="optical", meta=META)
    r2 = by_output(c2)
    assert r2["t.sharp"].verdict == "worse" and r2["t.mud"].verdict == "worse"


def test_holm_is_applied_across_outputs():
    c = compare_scores(make_scores(shift=0.3), baseline="blurred", meta=META)
    res = c.pairs[0].results
    expected = stats.holm([r.p_value for r in res])
    assert [r.p_holm for r in res] == pytest.approx(list(expected))


def test_pairing_choice():
    paired = make_scores()
    a, b = paired[paired.variant == "blurred"], paired[paired.variant == "optical"]
    assert find_pairing(a, b)[0] == "prompt+seed"
    # different prompt text per variant (the usual prompt A/B), same seeds: pair by seed
    df = paired.copy()
    df.loc[df.variant == "optical", "prompt"] = "85mm f/1.4 " + df["prompt"]
    a, b = df[df.variant == "blurred"], df[df.variant == "optical"]
    kind, ia, ib, note = find_pairing(a, b)
    assert kind == "seed" and len(ia) == 30
    assert list(a.loc[ia, "seed"]) == list(b.loc[ib, "seed"])
    # no shared seeds: unpaired
    un = make_scores(paired=False)
    a, b = un[un.variant == "blurred"], un[un.variant == "optical"]
    assert find_pairing(a, b)[0] == "unpaired"
    # missing seeds: unpaired
    df = paired.copy()
    df["seed"] = ""
    assert find_pairing(df[df.variant == "blurred"], df[df.variant == "optical"])[0] == "unpaired"


def test_pairing_gains_power_when_seeds_matter():
    # a strong seed effect hides a small shift unless the comparison is paired by seed
    df = make_scores(n=30, shift=1.0, seed_effect=3.0)
    r_paired = by_output(compare_scores(df, baseline="blurred", meta=META))["t.sharp"]
    df_un = df.copy()
    df_un.loc[df_un.variant == "optical", "seed"] = "x" + df_un["seed"]
    df_un.loc[df_un.variant == "optical", "prompt"] = "other"
    r_un = by_output(compare_scores(df_un, baseline="blurred", meta=META))["t.sharp"]
    assert r_paired.paired and not r_un.paired
    assert r_paired.verdict == "better" and r_un.verdict == "no detectable difference"
    assert (r_paired.ci[1] - r_paired.ci[0]) < 0.5 * (r_un.ci[1] - r_un.ci[0])


def test_prompt_clusters_are_resampled_when_there_are_enough():
    df = make_scores(n=40, prompts=10)
    c = compare_scores(df, baseline="blurred", meta=META)
    assert "10 prompts resampled as clusters" in c.pairs[0].pairing_note
    c5 = compare_scores(make_scores(n=40, prompts=5), baseline="blurred", meta=META)
    assert "too few to resample prompts" in c5.pairs[0].pairing_note


def test_nans_are_dropped_per_output_and_errors_ignored():
    df = make_scores(n=20)
    df.loc[df.index[:5], "t.sharp"] = np.nan  # 5 blurred rows lose t.sharp
    df.loc[df.index[25], "status"] = "error"  # one optical row failed
    c = compare_scores(df, baseline="blurred", meta=META)
    r = by_output(c)
    assert r["t.sharp"].n_used == 14  # pairs with both sides measured (20 - 5 - 1)
    assert r["t.noise"].n_used == 19
    # an output measured on one side only: not enough data, with the counts in the note
    df.loc[df.variant == "blurred", "t.kelvin"] = np.nan
    r = by_output(compare_scores(df, baseline="blurred", meta=META))
    assert r["t.kelvin"].verdict == stats.NOT_ENOUGH
    assert "blurred: 0 of 20" in r["t.kelvin"].note


def test_few_complete_pairs_fall_back_to_unpaired_for_that_output():
    df = make_scores(n=20)
    opt = df.index[df.variant == "optical"]
    bl = df.index[df.variant == "blurred"]
    df.loc[bl[:10], "t.sharp"] = np.nan
    df.loc[opt[10:], "t.sharp"] = np.nan  # no pair has both sides
    r = by_output(compare_scores(df, baseline="blurred", meta=META))
    assert not r["t.sharp"].paired and r["t.sharp"].n_baseline == 10
    assert "unpaired for this output" in r["t.sharp"].note
    assert r["t.noise"].paired


def test_power_line_for_small_samples():
    df = make_scores(n=6, shift=0.0)
    c = compare_scores(df, baseline="blurred", meta=META, min_effect={"t.kelvin": 50.0})
    r = by_output(c)
    assert r["t.noise"].verdict == "no detectable difference"
    assert r["t.noise"].underpowered and r["t.noise"].n_needed > 6
    assert r["t.noise"].power_line.startswith(f"need ~{r['t.noise'].n_needed} seed-matched pairs")
    assert r["t.kelvin"].min_effect == 50.0 and r["t.kelvin"].min_effect_basis == "given"
    assert "50.0 K" in r["t.kelvin"].power_line
    assert any("t.noise" in line for line in power_notes(c))
    # a detected difference gets no "need more images" line
    big = by_output(compare_scores(make_scores(n=30), baseline="blurred", meta=META))
    assert big["t.sharp"].power_line == ""


def test_usage_errors():
    df = make_scores()
    with pytest.raises(UsageError, match="Did you mean 'blurred'"):
        compare_scores(df, baseline="blured", meta=META)
    with pytest.raises(UsageError, match="at least two variants"):
        compare_scores(df[df.variant == "blurred"], meta=META)


def test_default_baseline_is_the_first_variant_and_meta_defaults():
    df = make_scores()
    c = compare_scores(df)  # no meta: unknown outputs are descriptive
    assert c.baseline == "blurred"
    assert by_output(c)["t.sharp"].verdict == "differs"
    meta = output_meta(["t.sharp"], {"metrics": {"t": {"outputs": {
        "t.sharp": {"unit": "ratio", "direction": "higher"}}}}})
    assert meta["t.sharp"].direction == "higher" and meta["t.sharp"].unit == "ratio"
    assert output_meta(["t.sharp"], None, {"t.sharp": "lower"})["t.sharp"].direction == "lower"


def test_json_and_table(tmp_path):
    c = compare_scores(make_scores(n=8), baseline="blurred", meta=META)
    p = write_comparison_json(c, tmp_path / "comparison.json")
    d = json.loads(p.read_text())  # strict JSON: NaN became null
    assert d["baseline"] == "blurred" and d["pairs"][0]["variant"] == "optical"
    assert {r["output"] for r in d["pairs"][0]["results"]} == set(META)
    assert d["pairs"][0]["results"][0]["verdict"] in (
        "better", "worse", "differs", "no detectable difference", "not enough data")
    from rich.console import Console

    console = Console(record=True, width=160)
    for t in comparison_tables(c):
        console.print(t)
    text = console.export_text()
    assert "t.sharp" in text and "better" in text


def test_merge_runs_names_variants_after_runs():
    a = make_scores(n=4)
    a1 = a[a.variant == "blurred"]
    b1 = a[a.variant == "optical"].assign(variant="default")
    merged, origin = merge_runs([("runA", a1), ("runB", b1)])
    assert list(dict.fromkeys(merged.variant)) == ["runA", "runB"]
    merged2, _ = merge_runs([("run", a), ("run", a)])
    assert set(merged2.variant) == {"run#1:blurred", "run#1:optical", "run#2:blurred",
                                    "run#2:optical"}


def test_aa_splits_come_out_no_detectable_difference():
    """One variant split in two at random, 200 times: the comparison must not invent a
    difference. Holm keeps the family-wise error at most 5 % by construction, so the share of
    splits where every output says "no detectable difference" is >= 95 % in expectation; the
    observed share over 200 splits is checked against the binomial bound (99 % one-sided:
    at most 18 of 200 splits for a 5 % rate), and per output the share must be >= 95 %."""
    rng = np.random.default_rng(2024)
    n = 60
    one = pd.DataFrame({
        "path": [f"{i}.png" for i in range(n)], "variant": "v", "prompt": "", "seed": "",
        "status": "ok",
        "t.sharp": rng.beta(5, 2, n),                      # bounded, skewed
        "t.mud": rng.lognormal(-1.5, 0.6, n),              # heavy right tail
        "t.kelvin": rng.poisson(3, n).astype(float),       # discrete, many ties
        "t.noise": rng.normal(0, 1, n),
    })
    splits = 200
    all_clear = 0
    per = {k: 0 for k in META}
    for s in range(splits):
        lab = np.where(np.random.default_rng([7, s]).permutation(n) < n // 2, "A", "B")
        c = compare_scores(one.assign(variant=lab), baseline="A", meta=META, seed=s,
                           n_resamples=500, n_permutations=1000)
        verdicts = {r.output: r.verdict for r in c.pairs[0].results}
        assert c.pairs[0].pairing == "unpaired"
        all_clear += all(v == stats.NO_DIFFERENCE for v in verdicts.values())
        for k, v in verdicts.items():
            per[k] += v == stats.NO_DIFFERENCE
    for k, count in per.items():
        assert count / splits >= 0.95, (k, count)
    assert splits - all_clear <= 18, f"{splits - all_clear} of {splits} A/A splits found a difference"


# ---------------------------------------------------------------------------------------------
# the command line
def _write_run(path, df):
    path.mkdir(parents=True, exist_ok=True)
    df.to_csv(path / "scores.csv", index=False)
    return path


def test_cli_compare_one_run(tmp_path, capsys):
    from lenscore.cli import run_cli

    run = _write_run(tmp_path / "run", make_scores(n=12))
    code = run_cli(["compare", str(run), "--baseline", "blurred", "--no-gallery",
                    "--min-effect", "0.3sd", "--min-effect", "t.kelvin=100"])
    assert code == 0
    out = capsys.readouterr().out
    assert "optical vs blurred" in out and "t.sharp" in out
    for name in ("comparison.json", "report.html", "report.md"):
        assert (run / name).is_file()
    d = json.loads((run / "comparison.json").read_text())
    assert d["settings"]["min_effect_sd"] == 0.3
    assert d["settings"]["min_effect"] == {"t.kelvin": 100.0}


def test_cli_compare_two_runs(tmp_path, capsys):
    from lenscore.cli import run_cli

    df = make_scores(n=10)
    a = _write_run(tmp_path / "runA", df[df.variant == "blurred"].assign(variant="default"))
    b = _write_run(tmp_path / "runB", df[df.variant == "optical"].assign(variant="default"))
    out_dir = tmp_path / "cmp"
    assert run_cli(["compare", str(a), str(b), "--out", str(out_dir), "--no-report"]) == 0
    d = json.loads((out_dir / "comparison.json").read_text())
    assert d["baseline"] == "runA" and d["pairs"][0]["variant"] == "runB"
    assert d["pairs"][0]["pairing"] == "prompt+seed"
    assert not (out_dir / "report.html").exists()


def test_cli_compare_usage_errors_exit_2(tmp_path, capsys):
    from lenscore.cli import run_cli

    run = _write_run(tmp_path / "run", make_scores(n=4))
    assert run_cli(["compare", str(run), "--baseline", "nope", "--no-report"]) == 2
    assert run_cli(["compare", str(run), "--min-effect", "-1", "--no-report"]) == 2
    assert run_cli(["compare", str(run), "--min-effect", "t.sharpp=1", "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "Did you mean 't.sharp'" in err
    one = _write_run(tmp_path / "one", make_scores(n=4).query("variant == 'blurred'"))
    assert run_cli(["compare", str(one), "--no-report"]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli(["compare", str(empty), "--out", str(tmp_path / "o")]) == 2  # no images


def test_too_few_pairs_for_any_verdict_is_said():
    c = compare_scores(make_scores(n=5, shift=5.0), baseline="blurred", meta=META)
    # 5 pairs: smallest sign-flip p = 2/32 = 0.0625 > 0.05 even before Holm
    assert "cannot reach p < 0.05" in c.pairs[0].pairing_note
    assert "at least 8 are needed" in c.pairs[0].pairing_note  # 2*4/0.05 = 160 -> 2^8 = 256
    assert all(r.verdict != "better" for r in c.pairs[0].results)
    assert "cannot reach" not in compare_scores(make_scores(n=12), baseline="blurred",
                                                meta=META).pairs[0].pairing_note
