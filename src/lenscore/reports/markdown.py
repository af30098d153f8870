"""``report.md``: the summary and verdicts for a pull request or a CI step summary.

GitHub renders HTML inside Markdown, so every user-provided string (variant names, paths,
prompts) is HTML-escaped and its table pipes are escaped too (:func:`md_escape`).
"""

from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

from lenscore.reports import stats
from lenscore.reports.compare import (Comparison, OutputMeta, fmt_diff, fmt_num, fmt_p)

VERDICT_MARK = {stats.BETTER: "\U0001F7E2 better", stats.WORSE: "\U0001F534 worse",
                stats.DIFFERS: "\U0001F7E1 differs",
                stats.NO_DIFFERENCE: "\u26AA no detectable difference",
                stats.NOT_ENOUGH: "\u2014 not enough data"}


def md_escape(text: Any) -> str:
    """Text safe inside a Markdown table cell rendered by GitHub (HTML-escaped, pipes,
    backticks and brackets neutralised, newlines flattened)."""
    s = html.escape(str(text), quote=True)
    for ch in ("\\", "|", "`", "*", "_", "[", "]"):
        s = s.replace(ch, "\\" + ch)
    return " ".join(s.split())


def _diff(r: Any) -> str:
    """'+0.31 [0.22, 0.40] K', without a unit longer than 16 characters (it is in the summary)."""
    d = fmt_diff(r)
    if r.unit and len(r.unit) > 16 and d.endswith(" " + r.unit):
        d = d[: -len(r.unit) - 1]
    return d


def _arrow(meta: OutputMeta | None) -> str:
    return meta.arrow if meta is not None else ""


def _count_line(results: Sequence[Any]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    order = (stats.BETTER, stats.WORSE, stats.DIFFERS, stats.NO_DIFFERENCE, stats.NOT_ENOUGH)
    return ", ".join(f"{counts[v]} {v}" for v in order if counts.get(v))


def _result_rows(comparison: Comparison, results: Sequence[Any]) -> list[str]:
    lines = [f"| output | {md_escape(results[0].baseline)} | {md_escape(results[0].variant)} | "
             f"difference [{comparison.confidence:.0%} CI] | p (Holm) | Cliff's \u03b4 | "
             f"win rate | n | verdict |",
             "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in results:
        meta = comparison.outputs.get(r.output)
        cd = "n/a" if not math.isfinite(r.cliffs_delta) else f"{r.cliffs_delta:+.2f}"
        wr = "n/a" if not math.isfinite(r.win_rate) else f"{r.win_rate:.0%}"
        lines.append(
            f"| `{r.output}` {_arrow(meta)} | {fmt_num(r.mean_baseline)} | "
            f"{fmt_num(r.mean_variant)} | {md_escape(_diff(r))} | {fmt_p(r.p_holm)} | "
            f"{cd} | {wr} | {r.n_used} | {VERDICT_MARK.get(r.verdict, r.verdict)} |")
    return lines


def _prompt_lines(pc: Any) -> list[str]:
    lines = []
    for name, prompts in ((pc.variant, pc.prompts_variant), (pc.baseline, pc.prompts_baseline)):
        if not prompts:
            lines.append(f"- **{md_escape(name)}**: _no prompt recorded_")
        elif len(prompts) == 1:
            lines.append(f"- **{md_escape(name)}**: {md_escape(prompts[0])}")
        else:
            lines.append(f"- **{md_escape(name)}**: {len(prompts)} prompts")
            lines.extend(f"  {i}. {md_escape(t)}" for i, t in enumerate(prompts, start=1))
    return lines


def comparison_markdown(comparison: Comparison) -> list[str]:
    """Per variant pair: the one-line answer, the prompts in full, the quality outputs' table,
    the 'too few images' hint once, and the descriptive outputs folded in a <details>."""
    from lenscore.reports.compare import answer_line, power_summary, sort_by_verdict

    power = float(comparison.settings.get("power", 0.8)) if comparison.settings else 0.8
    lines: list[str] = []
    for pc in comparison.pairs:
        lines.append(f"### {md_escape(pc.variant)} vs {md_escape(pc.baseline)} (baseline)")
        lines.append("")
        lines.append(f"**{md_escape(answer_line(pc))}**")
        lines.append("")
        lines.extend(_prompt_lines(pc))
        lines.append("")
        quality, descriptive = sort_by_verdict(pc.quality()), sort_by_verdict(pc.descriptive())
        lines.append(f"{_count_line(quality) or 'no quality outputs'} \u00b7 "
                     f"{md_escape(pc.pairing_note)}")
        lines.append("")
        if quality:
            lines.extend(_result_rows(comparison, quality))
            lines.append("")
        hint = power_summary(pc, power=power)
        if hint:
            lines.append(f"**Too few images:** {md_escape(hint)}.")
            lines.append("")
        if descriptive:
            lines.append(f"<details><summary>Descriptive outputs (no better direction): "
                         f"{_count_line(descriptive)}</summary>")
            lines.append("")
            lines.extend(_result_rows(comparison, descriptive))
            lines.append("")
            lines.append("</details>")
            lines.append("")
    return lines


def summary_markdown(variant_stats: Mapping[str, Mapping[str, Any]],
                     meta: Mapping[str, OutputMeta]) -> list[str]:
    """Per-variant table: mean [95 % CI] (n) per output."""
    variants = list(variant_stats)
    if not variants:
        return []
    lines = ["| output | unit | " + " | ".join(md_escape(v) for v in variants) + " |",
             "|---|---|" + "--:|" * len(variants)]
    for name, m in meta.items():
        cells = []
        for v in variants:
            d = (variant_stats[v].get("outputs") or {}).get(name) or {}
            mean = d.get("mean")
            ci = d.get("ci95") or [None, None]
            if mean is None:
                cells.append("n/a")
                continue
            c = f"{fmt_num(mean)}"
            if ci[0] is not None and ci[1] is not None:
                c += f" [{fmt_num(ci[0])}, {fmt_num(ci[1])}]"
            cells.append(f"{c} (n={d.get('n', 0)})")
        lines.append(f"| `{name}` {m.arrow} | {md_escape(m.unit)} | " + " | ".join(cells) + " |")
    return lines


def render_markdown(*, title: str, run_line: str, comparison: Comparison | None,
                    variant_stats: Mapping[str, Mapping[str, Any]],
                    meta: Mapping[str, OutputMeta], failures: int = 0,
                    report_html: str | None = "report.html") -> str:
    """The whole ``report.md``."""
    out = [f"## {md_escape(title)}", "", md_escape(run_line), ""]
    if comparison is not None:
        out.extend(comparison_markdown(comparison))
        out.append("<sub>" + html.escape(
            "Difference = variant - baseline, BCa bootstrap CI; permutation p-value, Holm-"
            "corrected across outputs; win rate = share of (paired) comparisons the variant "
            "wins in the output's direction (\u2191 higher is better, \u2193 lower is better, "
            "\u2195 descriptive). A verdict needs Holm p < "
            f"{comparison.alpha:g} and a CI excluding 0.") + "</sub>")
        out.append("")
    if failures:
        out.append(f"\u26a0\ufe0f {failures} image(s) could not be scored (see scores.csv).")
        out.append("")
    table = summary_markdown(variant_stats, meta)
    if table:
        out.append("<details><summary>Per-variant means with 95 % CIs</summary>")
        out.append("")
        out.extend(table)
        out.append("")
        out.append("</details>")
        out.append("")
    if report_html:
        out.append(f"Full report with plots and overlays: `{md_escape(report_html)}`")
        out.append("")
    return "\n".join(out)


def prompt_panels_markdown(panels: Sequence[Mapping[str, Any]]) -> list[str]:
    """The report's "prompt against render" panels (issue 18) as a Markdown section: per
    variant, the prompt, the sentence, predicted against measured, and the lint's rewrites."""
    if not panels:
        return []
    out = ["### Prompt against render", ""]
    for p in panels:
        out.append(f"**{md_escape(p['variant'])}** ({p['n']} images, pins down "
                   f"{md_escape(p['coverage'])}): \u201c{md_escape(p['prompt'])}\u201d")
        out.append("")
        out.append(md_escape(p["sentence"]))
        out.append("")
        out.append("| what | the prompt asks | the renders show | off by |")
        out.append("|---|---|---|---|")
        for r in p["rows"]:
            out.append(f"| {md_escape(r['what'])} | {md_escape(r['asked'])} | "
                       f"{md_escape(r['seen'])} | {md_escape(r['off'])} |")
        out.append("")
        for f in list(p.get("contradictions") or []) + list(p.get("effects") or []):
            rw = f" \u2192 \u201c{md_escape(f['rewrite'])}\u201d" if f.get("rewrite") else ""
            ph = f"\u201c{md_escape(f['phrase'])}\u201d: " if f.get("phrase") else ""
            out.append(f"- {ph}{md_escape(f['message'])}{rw}")
        out.append("")
    return out
