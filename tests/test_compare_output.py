"""What a person reads from `lenscore compare`, report.md and report.html: the one-line answer
first, the prompts in full, quality verdicts before descriptive outputs, a layout that fits the
terminal with every verdict visible, and the "too few images" hint once per pair."""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from lenscore.cli import run_cli
from lenscore.reports import stats
from lenscore.reports.compare import answer_line, compare_scores, comparison_renderables
from lenscore.reports.markdown import comparison_markdown

from test_compare import META, make_scores

LONG_PROMPT = ("85mm f/1.4 portrait at 2.5 meters from subject with crowd at 20 meters, dense "
               "crowd rendered as abstract bokeh orbs, 2700K sodium vapor highlights pushing "
               "toward amber, 6500K LED fill drifting toward cyan, visible pore structure, "
               "natural sebum reflection, anamorphic streaks, circular bokeh with edge falloff")


def _scores(n=12, shift=1.0):
    df = make_scores(n=n, shift=shift)
    df.loc[df.variant == "optical", "prompt"] = LONG_PROMPT
    df.loc[df.variant == "blurred", "prompt"] = "cinematic portrait, dense blurred crowd"
    return df


def _text(comparison, width, **kw) -> list[str]:
    console = Console(record=True, width=width, color_system=None)
    for item in comparison_renderables(comparison, width=width, **kw):
        console.print(item)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [60, 80, 120, 160])
def test_every_line_fits_and_every_quality_verdict_is_on_its_output_line(width):
    c = compare_scores(_scores(), baseline="blurred", meta=META)
    lines = _text(c, width)
    assert max(len(line.rstrip()) for line in lines) <= width
    for r in c.pairs[0].quality():
        first_words = " ".join(r.verdict.split()[:2 if r.verdict.startswith("no") else 1])
        assert any(r.output in line and first_words in line for line in lines), (r.output, lines)


def test_answer_comes_first_and_counts_only_quality_outputs():
    c = compare_scores(_scores(), baseline="blurred", meta=META)
    verdicts = {r.output: r.verdict for r in c.pairs[0].results}
    assert verdicts["t.sharp"] == verdicts["t.mud"] == stats.BETTER
    assert verdicts["t.noise"] == stats.NO_DIFFERENCE and verdicts["t.kelvin"] == stats.DIFFERS
    answer = answer_line(c.pairs[0])
    assert answer == "optical is better than blurred on 2 of 3 quality outputs, worse on none"
    lines = _text(c, 80)
    assert lines[0].strip() == answer
    # quality outputs come before the descriptive ones, which are folded into a short list
    quality_at = min(i for i, line in enumerate(lines) if "t.sharp" in line)
    descriptive_at = min(i for i, line in enumerate(lines) if "t.kelvin" in line)
    assert quality_at < descriptive_at
    assert any(line.strip().startswith("differs (1): t.kelvin") for line in lines)


def test_a_worse_variant_is_named_in_the_answer():
    c = compare_scores(_scores(), baseline="optical", meta=META)
    assert answer_line(c.pairs[0]).startswith(
        "blurred is better than optical on 0 of 3 quality outputs, worse on 2 (t.sharp, t.mud)")


def test_prompts_are_shown_in_full():
    c = compare_scores(_scores(), baseline="blurred", meta=META)
    assert c.pairs[0].prompts_variant == [LONG_PROMPT]
    joined = " ".join(" ".join(_text(c, 80)).split())
    assert LONG_PROMPT in joined
    md = "\n".join(comparison_markdown(c))
    assert LONG_PROMPT.replace("_", "\\_") in md


def test_too_few_images_hint_once_per_pair_and_only_for_quality_outputs():
    df = _scores(n=6, shift=0.0)
    c = compare_scores(df, baseline="blurred", meta=META, min_effect={"t.kelvin": 1.0})
    r = {x.output: x for x in c.pairs[0].results}
    assert r["t.kelvin"].underpowered and r["t.noise"].underpowered  # both lack images...
    text = "\n".join(_text(c, 100))
    assert text.count("too few images") == 1
    hint = next(line for line in text.splitlines() if "too few images" in line)
    hint_block = text[text.index(hint):]
    assert "t.noise" in hint_block and "t.kelvin" not in hint_block  # ...only one is quality
    md = "\n".join(comparison_markdown(c))
    assert md.count("Too few images") == 1 and "t.kelvin needs" not in md


def test_all_flag_shows_descriptive_outputs_as_rows():
    c = compare_scores(_scores(), baseline="blurred", meta=META)
    folded = _text(c, 160)
    full = _text(c, 160, show_all=True)
    kelvin_folded = [line for line in folded if "t.kelvin" in line]
    kelvin_full = [line for line in full if "t.kelvin" in line]
    assert "[" not in kelvin_folded[0]  # just the means, no CI
    assert "[" in kelvin_full[0] and "differs" in kelvin_full[0]


def _write_run(run):
    import json

    run.mkdir()
    _scores().to_csv(run / "scores.csv", index=False)
    outputs = {k: {"unit": m.unit, "direction": m.direction} for k, m in META.items()}
    (run / "summary.json").write_text(json.dumps({"metrics": {"t": {"outputs": outputs}}}))
    return run


def test_cli_compare_at_80_columns(tmp_path, capsys, monkeypatch):
    run = _write_run(tmp_path / "run")
    monkeypatch.setenv("COLUMNS", "80")
    assert run_cli(["compare", str(run), "--baseline", "blurred", "--no-report"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("optical is better than blurred on 2 of 3 quality outputs")
    assert max(len(line.rstrip()) for line in out if not line.startswith("wrote ")) <= 80
    assert any("better" in line and "t.sharp" in line for line in out)


def test_report_html_and_md_lead_with_the_answer_and_fold_descriptive_outputs(tmp_path):
    from lenscore.reports.html import write_report

    run = tmp_path / "run"
    run.mkdir()
    df = _scores()
    df.to_csv(run / "scores.csv", index=False)
    c = compare_scores(df, baseline="blurred", meta=META)
    paths = write_report(run, comparison=c, gallery=False)
    html = paths["html"].read_text(encoding="utf-8")
    answer = answer_line(c.pairs[0])
    assert html.index(answer) < html.index('class="cards"')
    assert LONG_PROMPT in html
    details = html.index('<details class="descriptive">')
    assert html.index("t.kelvin") > details  # descriptive outputs only inside the fold
    md = paths["md"].read_text(encoding="utf-8")
    assert md.index(answer) < md.index("| `t.sharp`")
    assert md.index("<details><summary>Descriptive") < md.index("| `t.kelvin`")
    assert np.isfinite(c.pairs[0].results[0].diff)
