"""The CI gate: rules per metric output over a prompt library's renders, decided with
confidence intervals so that noise alone does not fail a build.

Config (``lenscore.toml``, or ``[tool.lenscore.gate]`` in ``pyproject.toml``)::

    [gate]
    library = "prompts.toml"     # the prompt library
    renders = "renders"          # renders/<prompt id>/<variant>/*.png
    max_failed = 0               # unreadable images allowed
    on_inconclusive = "warn"     # or "fail"
    confidence = 0.95

    [[gate.rule]]
    output = "bokeh.circularity"
    min = 0.8                    # absolute bounds on the mean over a prompt's renders
    variants = ["optical"]       # optional selection (default: every variant)
    prompts = ["night-*"]        # optional glob selection (default: every prompt)

    [[gate.rule]]
    output = "focus.separation"
    max_regression = 0.15        # largest tolerated drop vs the baseline, in the output's unit

Decisions, per prompt x variant x rule:

- ``min``/``max``: the mean must lie within the bounds (the 95 % CI is shown beside it).
- ``max_regression`` (a non-inferiority test with margin m): with d = the change of the mean
  in the output's better direction and [lo, hi] its CI, **fail** when the drop is both real
  (hi < 0) and larger than the margin (d < -m); **pass** when lo >= -m (non-inferior);
  otherwise **inconclusive** (noise too large to tell: the message says how many images would
  decide it). The CI is a t interval of the difference (paired by seed when both runs have the
  same seeds, else Welch) from the baseline folder's scores.csv, or from the baseline's summary
  (mean, std, n) when only summary.json is there. (Not the bootstrap: with a handful of seeds
  per prompt its intervals are too narrow, and a gate must not fail on noise; see t_diff_ci.)
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lenscore.datasets.library import LibraryPrompt, line_of, load_structured
from lenscore.errors import ConfigError

PASS, FAIL, INCONCLUSIVE, SKIPPED = "pass", "fail", "inconclusive", "skipped"
_RULE_KEYS = {"output", "min", "max", "max_regression", "variants", "prompts", "name"}
_GATE_KEYS = {"library", "renders", "manifest", "max_failed", "on_inconclusive", "confidence",
              "families", "rule", "rules", "out", "baseline", "jobs"}


@dataclass(frozen=True)
class Rule:
    output: str
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None
    variants: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    name: str = ""

    def applies(self, prompt_id: str, variant: str) -> bool:
        ok_v = not self.variants or variant in self.variants
        ok_p = not self.prompts or any(fnmatch.fnmatchcase(prompt_id, g) for g in self.prompts)
        return ok_v and ok_p

    def label(self) -> str:
        if self.name:
            return self.name
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.max_regression is not None:
            parts.append(f"regression <= {self.max_regression:g}")
        return f"{self.output} {' and '.join(parts)}"


@dataclass
class GateConfig:
    root: Path
    library: Path
    renders: Path | None
    manifest: Path | None
    rules: list[Rule]
    max_failed: int = 0
    on_inconclusive: str = "warn"
    confidence: float = 0.95
    families: list[str] | None = None
    baseline: Path | None = None
    source: str = ""


def find_config(path: str | Path | None) -> Path:
    """The config file: the given path, else ./lenscore.toml, else ./pyproject.toml."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        return p
    for cand in (Path("lenscore.toml"), Path("pyproject.toml")):
        if cand.is_file():
            return cand
    raise ConfigError("no gate config: pass --config FILE, or create lenscore.toml "
                      "(or [tool.lenscore.gate] in pyproject.toml)")


def load_config(path: str | Path) -> GateConfig:
    from lenscore.metrics.base import all_outputs, suggest

    p = Path(path)
    data, text = load_structured(p)
    src = str(p)
    if p.name == "pyproject.toml":
        data = data.get("tool", {}).get("lenscore", {})
        if not data:
            raise ConfigError("pyproject.toml has no [tool.lenscore.gate] table", source=src)
    gate = data.get("gate")
    if not isinstance(gate, dict):
        raise ConfigError("expected a [gate] table", source=src, line=1)
    unknown = set(gate) - _GATE_KEYS
    if unknown:
        k = sorted(unknown)[0]
        raise ConfigError(f"unknown setting '{k}' in [gate].{suggest(k, sorted(_GATE_KEYS))}",
                          source=src, line=line_of(text, k))
    root = p.parent
    lib = gate.get("library")
    if not isinstance(lib, str):
        raise ConfigError("[gate] needs 'library = \"prompts.toml\"' (the prompt library file)",
                          source=src, line=line_of(text, "[gate]"))
    renders = gate.get("renders")
    manifest = gate.get("manifest")
    if renders is None and manifest is None:
        renders = "renders"
    outputs = all_outputs()
    raw_rules = gate.get("rule", gate.get("rules", []))
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError("no rules: add at least one [[gate.rule]] with an 'output'", source=src)
    rules: list[Rule] = []
    for i, r in enumerate(raw_rules, start=1):
        if not isinstance(r, dict):
            raise ConfigError(f"rule #{i} must be a table", source=src)
        bad = set(r) - _RULE_KEYS
        if bad:
            k = sorted(bad)[0]
            raise ConfigError(f"rule #{i}: unknown key '{k}'.{suggest(k, sorted(_RULE_KEYS))}",
                              source=src, line=line_of(text, k))
        out = r.get("output")
        if not isinstance(out, str):
            raise ConfigError(f"rule #{i} needs 'output = \"family.output\"'", source=src)
        if out not in outputs:
            raise ConfigError(f"rule #{i}: unknown metric output '{out}'.{suggest(out, list(outputs))}"
                              f" Run 'lenscore metrics' to list them.", source=src,
                              line=line_of(text, f'"{out}"') or line_of(text, out))
        nums = {}
        for key in ("min", "max", "max_regression"):
            v = r.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise ConfigError(f"rule #{i} ({out}): '{key}' must be a number, got {v!r}",
                                  source=src, line=line_of(text, key))
            nums[key] = float(v) if v is not None else None
        if all(v is None for v in nums.values()):
            raise ConfigError(f"rule #{i} ({out}) sets no condition: give min, max or max_regression",
                              source=src, line=line_of(text, f'"{out}"'))
        if nums["max_regression"] is not None:
            if nums["max_regression"] < 0:
                raise ConfigError(f"rule #{i} ({out}): max_regression must be >= 0", source=src,
                                  line=line_of(text, "max_regression"))
            if outputs[out].direction == "neither":
                raise ConfigError(f"rule #{i}: {out} has no better direction, so it cannot regress; "
                                  f"use min/max bounds instead", source=src, line=line_of(text, f'"{out}"'))
        sel = {}
        for key in ("variants", "prompts"):
            v = r.get(key, [])
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise ConfigError(f"rule #{i} ({out}): '{key}' must be a list of names", source=src,
                                  line=line_of(text, key))
            sel[key] = tuple(v)
        rules.append(Rule(out, nums["min"], nums["max"], nums["max_regression"], sel["variants"],
                          sel["prompts"], str(r.get("name", ""))))
    on_inc = gate.get("on_inconclusive", "warn")
    if on_inc not in ("warn", "fail"):
        raise ConfigError(f"on_inconclusive must be 'warn' or 'fail', got {on_inc!r}", source=src,
                          line=line_of(text, "on_inconclusive"))
    max_failed = gate.get("max_failed", 0)
    if isinstance(max_failed, bool) or not isinstance(max_failed, int) or max_failed < 0:
        raise ConfigError(f"max_failed must be a whole number >= 0, got {max_failed!r}", source=src,
                          line=line_of(text, "max_failed"))
    conf = gate.get("confidence", 0.95)
    if not isinstance(conf, (int, float)) or not 0.5 <= conf < 1:
        raise ConfigError(f"confidence must be in [0.5, 1), got {conf!r}", source=src,
                          line=line_of(text, "confidence"))
    fams = gate.get("families")
    baseline = gate.get("baseline")
    return GateConfig(root=root, library=root / lib, renders=(root / renders) if renders else None,
                      manifest=(root / manifest) if manifest else None, rules=rules,
                      max_failed=max_failed, on_inconclusive=on_inc, confidence=float(conf),
                      families=list(fams) if fams else None,
                      baseline=(root / baseline) if baseline else None, source=src)


# ---- renders --------------------------------------------------------------------------------
def _shown(path: Path) -> str:
    """A path as the user should see it: relative to the working folder when below it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return str(Path(path).resolve())


def expected_location(cfg: GateConfig, group: str) -> str:
    """Where the renders of '<prompt id>/<variant>' are looked for, as every message says it."""
    if cfg.manifest is not None:
        pid, variant = group.split("/", 1)
        return (f"rows of the manifest {_shown(cfg.manifest)} with prompt_id '{pid}' and "
                f"variant '{variant}'")
    return f"{_shown(cfg.renders / group)}/" if cfg.renders is not None else "the manifest"


def _check_renders_folder(cfg: GateConfig, library: Sequence[LibraryPrompt], *,
                          no_renders_at_all: bool = False) -> None:
    """A renders folder that does not exist, or holds renders for none of the library's prompts,
    is a wrong config (exit 2), not a failed gate."""
    if cfg.renders is None or cfg.manifest is not None:
        return
    try:
        text = Path(cfg.source).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        text = ""
    import re

    m = re.search(r"^[ \t]*renders[ \t]*[=:]", text, re.M)
    line = text.count("\n", 0, m.start()) + 1 if m else None
    layout = "renders/<prompt id>/<variant>/*.png"
    if not cfg.renders.is_dir():
        raise ConfigError(
            f"the renders folder '{_shown(cfg.renders)}' does not exist (expected {layout}); set "
            f"'renders' to the folder that holds one subfolder per prompt id", source=cfg.source,
            line=line)
    if no_renders_at_all:
        ids = [lp.id for lp in library]
        found = sorted(d.name for d in cfg.renders.iterdir() if d.is_dir())[:5]
        raise ConfigError(
            f"the renders folder '{_shown(cfg.renders)}' holds renders for none of the library's "
            f"{len(ids)} prompts ({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}; "
            f"folders found: {', '.join(found) or 'none'}); expected {layout}: is 'renders' "
            "right?", source=cfg.source, line=line)


def gate_records(cfg: GateConfig, library: Sequence[LibraryPrompt]) -> tuple[list, list[str]]:
    """Image records (variant column = '<prompt id>/<variant>', prompt = the library text) and
    the list of '<prompt id>/<variant>' that have no renders.

    Raises ConfigError when the renders folder does not exist or holds none of the library's
    prompts (a wrong 'renders' setting, not a failed gate)."""
    from lenscore.datasets.decode import SUPPORTED_SUFFIXES
    from lenscore.datasets.discover import ImageRecord, read_manifest

    _check_renders_folder(cfg, library)
    records = []
    missing = []
    by_group: dict[str, list] = {}
    if cfg.manifest is not None:
        for r in read_manifest(cfg.manifest, extra_columns=("prompt_id",)):
            pid = r.extra.get("prompt_id") if r.extra else None
            pid = pid or r.path.split("/")[0]
            by_group.setdefault(f"{pid}/{r.variant}", []).append(r)
    for lp in library:
        for variant, text in lp.variants.items():
            group = f"{lp.id}/{variant}"
            found = []
            if cfg.manifest is not None:
                found = by_group.get(group, [])
            elif cfg.renders is not None:
                folder = cfg.renders / lp.id / variant
                if folder.is_dir():
                    for f in sorted(folder.rglob("*")):
                        if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES and not f.name.startswith("."):
                            seed = _seed_from_name(f.stem)
                            found.append(ImageRecord(path=f.relative_to(cfg.renders).as_posix(),
                                                     source=str(f), variant=group, prompt=text,
                                                     seed=seed))
            if not found:
                missing.append(group)
            for r in found:
                records.append(ImageRecord(path=r.path, source=r.source, variant=group,
                                           prompt=r.prompt or text, seed=r.seed,
                                           subject_box=r.subject_box))
    if not records and library:
        _check_renders_folder(cfg, library, no_renders_at_all=True)
    return records, missing


def _seed_from_name(stem: str) -> str | None:
    import re

    m = re.search(r"seed[_-]?(\d+)", stem)
    return m.group(1) if m else None


# ---- the baseline -----------------------------------------------------------------------------
def baseline_gaps(cfg: GateConfig, library: Sequence[LibraryPrompt],
                  summary: Any) -> tuple[list[str], dict[str, list[str]]]:
    """What a baseline lacks for the regression rules: the prompt variants ('<id>/<variant>')
    a max_regression rule applies to that the baseline has no scores for, and per output the
    prompt variants whose baseline lacks it. Both empty: the baseline can guard every rule."""
    variants = summary.get("variants") if isinstance(summary, dict) else None
    variants = variants if isinstance(variants, dict) else {}
    groups = [f"{lp.id}/{v}" for lp in library for v in lp.variants]
    missing_groups: list[str] = []
    missing_outputs: dict[str, list[str]] = {}
    for rule in cfg.rules:
        if rule.max_regression is None:
            continue
        for group in groups:
            pid, variant = group.split("/", 1)
            if not rule.applies(pid, variant):
                continue
            base = variants.get(group)
            if not isinstance(base, dict):
                if group not in missing_groups:
                    missing_groups.append(group)
            elif rule.output not in (base.get("outputs") or {}):
                lst = missing_outputs.setdefault(rule.output, [])
                if group not in lst:
                    lst.append(group)
    return missing_groups, missing_outputs


def check_baseline(cfg: GateConfig, library: Sequence[LibraryPrompt], summary: Any,
                   source: str) -> None:
    """Refuse (ConfigError, exit 2) a baseline that cannot guard the config's regression rules:
    one without lenscore's per-variant scores, one made from another library (it lacks the
    library's prompt variants) or another config (it lacks the outputs the rules name). Without
    this, every such rule would be skipped and the gate would pass with nothing guarded."""
    if not (isinstance(summary, dict) and isinstance(summary.get("variants"), dict)):
        raise ConfigError("not a lenscore baseline: expected the summary.json that 'lenscore "
                          "baseline' writes (with per-variant scores)", source=source)
    groups, outputs = baseline_gaps(cfg, library, summary)
    if not groups and not outputs:
        return
    parts = []
    if groups:
        have = sorted(summary["variants"])
        parts.append(f"no scores for {len(groups)} prompt variant(s) of {_shown(cfg.library)}: "
                     f"{_listing(groups)} (it has: {_listing(have) or 'none'}; a baseline of "
                     "another library?)")
    if outputs:
        parts.append("no " + "; no ".join(f"{o} for {_listing(g)}" for o, g in outputs.items())
                     + " (a baseline scored with other families or an older config?)")
    raise ConfigError(
        "this baseline cannot guard the max_regression rules (their checks would be skipped and "
        "the gate would pass without them): "
        + "; ".join(parts) + ". Write a baseline for this config with 'lenscore baseline' "
        "(and commit it), or pass --allow-missing-baseline to skip those rules knowingly",
        source=source)


def _listing(items: Sequence[str], limit: int = 4) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# ---- decisions --------------------------------------------------------------------------------
@dataclass
class Case:
    prompt_id: str
    variant: str
    rule: str
    status: str
    message: str
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateResult:
    cases: list[Case]
    missing: list[str]
    n_images: int
    n_failed_images: int

    @property
    def failed(self) -> list[Case]:
        return [c for c in self.cases if c.status == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failed


def _fmt(v: float) -> str:
    return "nan" if v is None or not math.isfinite(v) else f"{v:.4g}"


def change_decimals(margin: float, ci: tuple[float, float]) -> int:
    """Decimals for a change and its CI: two significant digits of the allowed regression (the
    scale the decision is made on), else of the CI's width; at most 6."""
    scale = margin if margin and math.isfinite(margin) and margin > 0 else (
        ci[1] - ci[0] if all(math.isfinite(v) for v in ci) and ci[1] > ci[0] else 1.0)
    return int(min(6, max(0, 1 - math.floor(math.log10(scale)))))


def _signed(v: float, decimals: int) -> str:
    """'+0.012', '-1.50'; a value that rounds to zero is '0' with its decimals, unsigned."""
    if v is None or not math.isfinite(v):
        return "nan"
    if round(v, decimals) == 0:
        return f"{0:.{decimals}f}"
    return f"{v:+.{decimals}f}"


def welch_ci(mean_a: float, sd_a: float, n_a: int, mean_b: float, sd_b: float, n_b: int, *,
             confidence: float = 0.95) -> tuple[float, float]:
    """Welch t interval of mean_b - mean_a from summary statistics."""
    from scipy import stats as sps

    if n_a < 2 or n_b < 2 or not all(math.isfinite(x) for x in (sd_a, sd_b)):
        return (math.nan, math.nan)
    va, vb = sd_a ** 2 / n_a, sd_b ** 2 / n_b
    se = math.sqrt(va + vb)
    d = mean_b - mean_a
    if se == 0:
        return (d, d)
    df = (va + vb) ** 2 / ((va ** 2 / (n_a - 1)) + (vb ** 2 / (n_b - 1)))
    t = float(sps.t.ppf(0.5 + confidence / 2, df))
    return (d - t * se, d + t * se)


def t_diff_ci(a: np.ndarray, b: np.ndarray, *, paired: bool,
              confidence: float = 0.95) -> tuple[float, float]:
    """t interval of mean(b) - mean(a): paired t on per-seed differences, else Welch.

    The gate uses t intervals rather than the bootstrap: with the handful of seeds a prompt
    library renders (n ~ 4-12), bootstrap intervals are too narrow (measured: 7.3 % false
    alarms at n = 8 for a nominal 2.5 %), and a gate must not fail on noise.
    """
    from scipy import stats as sps

    a, b = np.asarray(a, float), np.asarray(b, float)
    if paired:
        d = b - a
        if d.size < 2:
            return (math.nan, math.nan)
        se = float(d.std(ddof=1)) / math.sqrt(d.size)
        t = float(sps.t.ppf(0.5 + confidence / 2, d.size - 1))
        return (float(d.mean()) - t * se, float(d.mean()) + t * se)
    return welch_ci(float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else math.nan, a.size,
                    float(b.mean()), float(b.std(ddof=1)) if b.size > 1 else math.nan, b.size,
                    confidence=confidence)


def non_inferiority(d: float, ci: tuple[float, float], margin: float) -> str:
    """pass / fail / inconclusive for a change ``d`` (positive = better) with CI ``ci``."""
    lo, hi = ci
    if not all(math.isfinite(v) for v in (d, lo, hi)):
        return INCONCLUSIVE
    if hi < 0 and d < -margin:
        return FAIL
    if lo >= -margin:
        return PASS
    return INCONCLUSIVE


def evaluate(cfg: GateConfig, scores: Any, *, baseline_summary: dict | None = None,
             baseline_scores: Any | None = None, missing: Sequence[str] = (),
             library: Sequence[LibraryPrompt] = ()) -> GateResult:
    """Decide every rule for every prompt x variant in ``scores`` (a DataFrame)."""
    from lenscore.metrics.base import all_outputs
    from lenscore.reports.stats import bootstrap_ci, required_n

    outputs = all_outputs()
    cases: list[Case] = []
    ok = scores[scores["status"] == "ok"]
    groups = [f"{lp.id}/{v}" for lp in library for v in lp.variants] or sorted(scores["variant"].unique())
    for group in groups:
        pid, variant = group.split("/", 1)
        if group in missing:
            cases.append(Case(pid, variant, "renders present", FAIL,
                              f"no renders for prompt '{pid}' variant '{variant}': expected images in "
                              f"{expected_location(cfg, group)}"))
            continue
        g = ok[ok["variant"] == group]
        for rule in cfg.rules:
            if not rule.applies(pid, variant):
                continue
            meta = outputs[rule.output]
            unit = meta.unit
            vals = np.asarray(g[rule.output], float) if rule.output in g.columns else np.array([])
            vals = vals[np.isfinite(vals)]
            if rule.min is not None or rule.max is not None:
                if vals.size == 0:
                    cases.append(Case(pid, variant, rule.label(), FAIL,
                                      f"{rule.output} could not be measured on any of {len(g)} renders"
                                      f"{_reasons(g, rule.output)}"))
                else:
                    mean = float(vals.mean())
                    lo, hi = bootstrap_ci(vals, confidence=cfg.confidence)
                    bad = (rule.min is not None and mean < rule.min) or (rule.max is not None and mean > rule.max)
                    bound = (f"min {rule.min:g}" if rule.min is not None and mean < rule.min
                             else f"max {rule.max:g}" if rule.max is not None and mean > rule.max else "bounds")
                    msg = (f"{rule.output} mean {_fmt(mean)} {unit} [{_fmt(lo)}, {_fmt(hi)}] over {vals.size} "
                           f"renders {'is outside ' + bound if bad else 'within bounds'}"
                           + (f" ({meta.direction_text})" if meta.direction != "neither" else ""))
                    cases.append(Case(pid, variant, rule.label() if rule.max_regression is None else
                                      f"{rule.output} bounds", FAIL if bad else PASS, msg,
                                      {"mean": mean, "ci": [lo, hi], "n": int(vals.size)}))
            if rule.max_regression is not None:
                cases.append(_regression_case(cfg, rule, meta, pid, variant, group, vals, g,
                                              baseline_summary, baseline_scores, required_n))
    n_failed = int((scores["status"] != "ok").sum())
    err_rows = scores[scores["status"] != "ok"]
    examples = "; ".join(f"{p}: {e}" for p, e in zip(err_rows["path"][:3], err_rows["error"][:3]))
    cases.append(Case("*", "*", f"unreadable images <= {cfg.max_failed}",
                      FAIL if n_failed > cfg.max_failed else PASS,
                      f"{n_failed} of {len(scores)} images could not be read"
                      + (f" ({examples})" if examples else "")))
    if cfg.on_inconclusive == "fail":
        for c in cases:
            if c.status == INCONCLUSIVE:
                c.status = FAIL
                c.message += " (on_inconclusive = 'fail')"
    return GateResult(cases, list(missing), int(len(scores)), n_failed)


def _reasons(g: Any, output: str) -> str:
    """' (why)' from the rows' notes about ``output`` (or its family), counts stripped, deduplicated."""
    import re

    family = output.split(".", 1)[0]
    seen: list[str] = []
    for notes in g["notes"]:
        for part in str(notes or "").split("; "):
            key, _, reason = part.partition(": ")
            if key in (output, family) and reason:
                reason = re.sub(r"\s*\([^)]*\d[^)]*\)", "", reason).strip()
                if reason not in seen:
                    seen.append(reason)
    return f" ({'; '.join(seen[:3])})" if seen else ""


def _regression_case(cfg, rule, meta, pid, variant, group, vals, g, baseline_summary,
                     baseline_scores, required_n) -> Case:
    label = f"{rule.output} regression <= {rule.max_regression:g}"
    if baseline_summary is None:
        return Case(pid, variant, label, SKIPPED, "no baseline given: run 'lenscore baseline' and "
                    "pass --baseline baseline/summary.json")
    base = baseline_summary.get("variants", {}).get(group)
    if base is None:
        return Case(pid, variant, label, SKIPPED, f"'{group}' is not in the baseline; refresh it with "
                    "'lenscore baseline'")
    if rule.output not in (base.get("outputs") or {}):
        return Case(pid, variant, label, SKIPPED, f"the baseline has no {rule.output}; refresh it "
                    "with 'lenscore baseline'")
    bstats = base.get("outputs", {}).get(rule.output) or {}
    if not bstats.get("n"):
        return Case(pid, variant, label, INCONCLUSIVE, f"{rule.output} was not measurable in the baseline")
    if vals.size == 0:
        return Case(pid, variant, label, FAIL,
                    f"REGRESSED: {rule.output} was measured on {bstats['n']} baseline renders "
                    f"(mean {_fmt(float(bstats['mean']))} {meta.unit}) and on none of these "
                    f"{len(g)}{_reasons(g, rule.output)}")
    sign = 1.0 if meta.direction == "higher" else -1.0
    mean_new, mean_base = float(vals.mean()), float(bstats["mean"])
    method = "Welch t from the baseline summary"
    ci = (math.nan, math.nan)
    if baseline_scores is not None:
        bs = baseline_scores[(baseline_scores["status"] == "ok") & (baseline_scores["variant"] == group)]
        if rule.output in bs.columns:
            a_df = bs[["seed", rule.output]].dropna()
            b_df = g[["seed", rule.output]].dropna()
            seeds_a, seeds_b = list(a_df["seed"]), list(b_df["seed"])
            common = sorted(set(seeds_a) & set(seeds_b) - {""})
            # pair by seed on the seeds both runs measured (a render where the output is NaN
            # drops out of both), when that is most of each run and seeds are unique
            paired = (len(common) >= 2 and len(common) >= 0.5 * max(len(seeds_a), len(seeds_b))
                      and len(set(seeds_a)) == len(seeds_a) and len(set(seeds_b)) == len(seeds_b))
            if paired:
                a = a_df.set_index("seed")[rule.output].loc[common].to_numpy(float)
                b = b_df.set_index("seed")[rule.output].loc[common].to_numpy(float)
            else:
                a, b = a_df[rule.output].to_numpy(float), b_df[rule.output].to_numpy(float)
            ci = t_diff_ci(a, b, paired=paired, confidence=cfg.confidence)
            method = "paired t by seed" if paired else "Welch t"
    if not math.isfinite(ci[0]):
        ci = welch_ci(mean_base, bstats.get("std") or math.nan, int(bstats["n"]), mean_new,
                      float(vals.std(ddof=1)) if vals.size > 1 else math.nan, int(vals.size),
                      confidence=cfg.confidence)
    raw = mean_new - mean_base
    d = sign * raw
    lo, hi = sorted((sign * ci[0], sign * ci[1]))
    status = non_inferiority(d, (lo, hi), rule.max_regression)
    pct = int(round(cfg.confidence * 100))
    dec = change_decimals(rule.max_regression, (lo, hi))
    msg = (f"{rule.output}: {_fmt(mean_new)} vs baseline {_fmt(mean_base)} {meta.unit}, change "
           f"{_signed(raw, dec)} [{_signed(sign * lo if sign > 0 else sign * hi, dec)}, "
           f"{_signed(sign * hi if sign > 0 else sign * lo, dec)}] ({pct} % CI, {method}; "
           f"{meta.direction_text}); allowed regression {rule.max_regression:g}")
    if status == FAIL:
        msg = f"REGRESSED beyond the allowed {rule.max_regression:g}: " + msg
    elif status == INCONCLUSIVE:
        sd = float(vals.std(ddof=1)) if vals.size > 1 else math.nan
        need = required_n(sd, max(rule.max_regression, 1e-12), paired=False) if math.isfinite(sd) else None
        msg = ("inconclusive, noise too large to rule out a regression beyond the margin: " + msg
               + (f"; ~{need} renders per variant would decide it" if need else ""))
    return Case(pid, variant, label, status, msg,
                {"mean": mean_new, "baseline_mean": mean_base, "change": raw, "ci": [lo, hi], "n": int(vals.size)})


# ---- outputs ----------------------------------------------------------------------------------
def junit_xml(result: GateResult, *, suite: str = "lenscore gate") -> str:
    """JUnit XML: one test case per prompt x variant x rule (plus presence and unreadable files)."""
    import xml.etree.ElementTree as ET

    ts = ET.Element("testsuite", name=suite, tests=str(len(result.cases)),
                    failures=str(sum(c.status == FAIL for c in result.cases)), errors="0",
                    skipped=str(sum(c.status == SKIPPED for c in result.cases)))
    for c in result.cases:
        tc = ET.SubElement(ts, "testcase", classname=f"lenscore.{c.prompt_id}",
                           name=f"{c.variant}: {c.rule}" if c.variant != "*" else c.rule)
        if c.status == FAIL:
            ET.SubElement(tc, "failure", message=c.message[:500], type="GateFailure").text = c.message
        elif c.status == SKIPPED:
            ET.SubElement(tc, "skipped", message=c.message)
        else:
            ET.SubElement(tc, "system-out").text = f"{c.status}: {c.message}"
    root = ET.Element("testsuites", name=suite)
    root.append(ts)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


_ICON = {PASS: "✅", FAIL: "❌", INCONCLUSIVE: "⚠️", SKIPPED: "⏭️"}


def markdown_summary(result: GateResult) -> str:
    n_fail = len(result.failed)
    n_inc = sum(c.status == INCONCLUSIVE for c in result.cases)
    head = "✅ lenscore gate passed" if result.passed else f"❌ lenscore gate failed ({n_fail} of {len(result.cases)} checks)"
    lines = [f"## {head}", "",
             f"{result.n_images} renders scored, {result.n_failed_images} unreadable"
             + (f", {n_inc} inconclusive" if n_inc else "") + ".", ""]
    if result.missing:
        lines += ["**Prompts with no renders:** " + ", ".join(f"`{m}`" for m in result.missing), ""]
    lines += ["| | prompt | variant | check | result |", "|---|---|---|---|---|"]
    order = {FAIL: 0, INCONCLUSIVE: 1, SKIPPED: 2, PASS: 3}
    for c in sorted(result.cases, key=lambda c: order[c.status]):
        msg = c.message.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {_ICON[c.status]} | `{c.prompt_id}` | `{c.variant}` | {c.rule} | {msg} |")
    return "\n".join(lines) + "\n"
