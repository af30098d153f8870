"""The lenscore command line: the only module that parses arguments and prints.

Exit codes: 0 ok; 1 gate failed; 2 usage or config error; 3 finished but some inputs were
unreadable (each one an error row). Heavy packages (pandas, matplotlib, scipy, colour, torch)
are imported inside the commands, so ``lenscore --help`` stays fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from lenscore import __version__

EXIT_OK, EXIT_GATE_FAILED, EXIT_USAGE, EXIT_UNREADABLE = 0, 1, 2, 3


def _quiet() -> bool:
    """No progress bar in CI or when stderr is not a terminal."""
    return bool(os.environ.get("CI")) or not sys.stderr.isatty()


def _err(msg: str) -> None:
    click.echo(f"lenscore: {msg}", err=True)


def _report_console():
    """A rich Console as wide as the terminal (or $COLUMNS); 150 columns for logs and pipes."""
    from rich.console import Console

    probe = Console()
    width = probe.width if (probe.is_terminal or os.environ.get("COLUMNS", "").isdigit()) else 150
    return Console(width=max(40, min(170, width)))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="lenscore")
def main() -> None:
    """Score AI-generated portraits by the physics of light.

    Bokeh circularity, focus-plane separation, warm/cool colour temperature and skin texture,
    measured on the pixels; prompt alignment with CLIP (optional extra).
    """


def _parse_families(value: str | None) -> list[str] | None:
    return None if value is None else [v for v in value.split(",") if v.strip()]


def _score_to_dir(records, out: Path, *, families, jobs: int, max_pixels: int | None,
                  input_desc: str, label: str = "scoring", cache_dir: Path | None = None,
                  resume: bool = False, executor: str = "process",
                  scheduler: str | None = None, clip=None,
                  resume_hint: bool = False, image_timeout: float | None = None
                  ) -> tuple[int, int]:
    """Score records into out/ (scores.csv, summary.json) with a progress bar on a terminal.

    SIGTERM / Ctrl-C stop cleanly: every finished row stays in scores.csv, the message says how
    to resume, and the exit code is 128 + the signal number.
    """
    from lenscore.evaluator.run import Interrupted, graceful_signals, run
    from lenscore.reports.aggregate import write_summary

    opts = dict(families=families, jobs=jobs, max_pixels=max_pixels, cache_dir=cache_dir,
                resume=resume, executor=executor, scheduler=scheduler)
    if image_timeout is not None:
        opts["image_timeout"] = image_timeout or None  # 0: no limit
    if clip is not None:
        opts["clip"] = clip
    try:
        with graceful_signals():
            if _quiet():
                result = run(records, out, **opts)
            else:
                from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                           TimeRemainingColumn)

                with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                              TimeRemainingColumn(), transient=True) as progress:
                    task = progress.add_task(label, total=len(records))
                    result = run(records, out, **opts, on_row=lambda row: progress.advance(task),
                                 on_resume=lambda n: progress.advance(task, n))
    except Interrupted as e:
        hint = ("; run the same command with --resume to score the rest" if resume_hint
                else "; run the command again (unchanged images come back from the cache)"
                if cache_dir is not None else "")
        _err(f"interrupted by {e.signal_name}: {e.rows_written} finished row(s) are in "
             f"{out / 'scores.csv'}{hint}")
        sys.exit(128 + e.signum)
    for w in result.warnings:
        _err(f"warning: {w}")
    if result.n_resumed:
        click.echo(f"resumed: kept {result.n_resumed} finished row(s), scored {result.n_new} more",
                   err=True)
    if cache_dir is not None and result.n_new:
        click.echo(f"cache: {result.n_cached} of {result.n_new} image(s) read back from "
                   f"{cache_dir}", err=True)
    if clip is not None:
        from lenscore.metrics.clip import variant_summary

        write_summary(out, [*families, clip.family], input_desc=input_desc,
                      extra={"clip": {**clip.metadata(),
                                      "variants": variant_summary(result.clip_embeddings)}})
    else:
        write_summary(out, families, input_desc=input_desc)
    return result.n, result.n_failed


def _load_clip_or_skip(model: str, pretrained: str | None, batch_size: int,
                       probes_file: Path | None):
    """The CLIP scorer, or None (with one line saying why and how to fix it) when it cannot run:
    the optical families run either way."""
    from lenscore.errors import MissingDependencyError
    from lenscore.metrics.clip import ClipUnavailable, load_clip, parse_probes

    probes = None
    if probes_file is not None:
        import yaml

        try:
            data = yaml.safe_load(probes_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as e:
            raise click.UsageError(f"cannot read --clip-probes {probes_file}: {e}")
        if isinstance(data, dict) and isinstance(data.get("probes"), dict):
            data = data["probes"]
        probes = parse_probes(data, include_defaults=False, source=str(probes_file))
    try:
        return load_clip(model, pretrained, batch_size=batch_size, probes=probes)
    except (ClipUnavailable, MissingDependencyError) as e:
        _err(str(e))
        return None


@main.command()
@click.argument("path", required=False)
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("results"),
              show_default=True, help="Folder for scores.csv and summary.json.")
@click.option("--manifest", "-m", type=click.Path(path_type=Path),
              help="CSV or JSONL listing path, variant[, prompt, seed, subject_box, "
                   "subject_mask] per image.")
@click.option("--extra-columns", metavar="LIST",
              help="Comma-separated columns of your own in the --manifest (e.g. sampler,cfg), "
                   "copied into scores.csv; any other unknown column is an error.")
@click.option("--families", "-f", metavar="LIST",
              help="Comma-separated metric families to run (default: all optical families).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the machine's cores).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=100_000_000, show_default=True,
              help="Refuse larger images (decompression-bomb guard).")
@click.option("--image-timeout", type=click.FloatRange(min=0), default=300.0, show_default=True,
              metavar="SECONDS",
              help="Stop an image that takes longer (a hung decoder) and make it an error row; "
                   "0: no limit.")
@click.option("--cache", "cache_dir", type=click.Path(path_type=Path), default=None,
              help="Result cache folder (default: .lenscore-cache/ beside OUT). A re-run of "
                   "unchanged images reads their scores back instead of computing them.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache.")
@click.option("--resume", is_flag=True,
              help="Keep the finished rows of an interrupted run's OUT/scores.csv and score "
                   "only the rest.")
@click.option("--executor", type=click.Choice(["process", "dask"]), default="process",
              show_default=True,
              help="Run images in local worker processes, or on a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS",
              help="Dask scheduler address (tcp://host:8786) for --executor dask; without it a "
                   "local Dask cluster of --jobs workers is started.")
@click.option("--clip-model", metavar="NAME",
              help="Also run the clip family with this open_clip model (e.g. ViT-B-32); needs "
                   "the 'clip' extra and --clip-pretrained.")
@click.option("--clip-pretrained", metavar="PATH|TAG",
              help="CLIP weights: a local checkpoint file, or an open_clip tag already in the "
                   "Hugging Face cache (e.g. laion2b_s34b_b79k). Never downloaded.")
@click.option("--clip-batch-size", type=click.IntRange(min=1), default=16, show_default=True,
              help="Images per CLIP forward pass.")
@click.option("--clip-probes", type=click.Path(path_type=Path, dir_okay=False),
              help="YAML/JSON file of extra optics probes: name: [positive caption, negative "
                   "caption] (optionally under a 'probes:' key).")
def score(path: str | None, out: Path, manifest: Path | None, extra_columns: str | None,
          families: str | None, jobs: int | None, max_pixels: int, image_timeout: float,
          cache_dir: Path | None, no_cache: bool, resume: bool, executor: str, scheduler: str | None,
          clip_model: str | None = None, clip_pretrained: str | None = None,
          clip_batch_size: int = 16,
          clip_probes: Path | None = None) -> None:
    """Score a folder of renders (PATH) or the images a --manifest lists.

    First-level subfolders of PATH are prompt variants (renders/optical/*.png ->
    variant 'optical'); images directly in PATH are variant 'default'. Writes
    OUT/scores.csv (one row per image, written as each finishes) and OUT/summary.json.
    PATH may be an fsspec URL (s3://bucket/renders/ with s3fs installed).
    """
    from lenscore.datasets.discover import find_images, read_manifest
    from lenscore.evaluator.run import select_families

    from lenscore.evaluator.cache import default_cache_dir
    from lenscore.evaluator.executors import default_jobs
    from lenscore.evaluator.sources import find_images_url, is_url

    if path is None and manifest is None:
        raise click.UsageError("give a folder of images (PATH) or --manifest FILE")
    if scheduler and executor != "dask":
        raise click.UsageError("--scheduler needs --executor dask")
    if extra_columns and manifest is None:
        raise click.UsageError("--extra-columns names columns of a --manifest; give "
                               "--manifest FILE")
    if manifest is not None:
        records = read_manifest(manifest, extra_columns=_parse_families(extra_columns) or ())
    else:
        records = find_images_url(path) if is_url(path) else find_images(path)
    fams = select_families(_parse_families(families))
    clip = None
    if clip_model:
        clip = _load_clip_or_skip(clip_model, clip_pretrained, clip_batch_size, clip_probes)
        if clip is not None:
            fams = [f for f in fams if f.name != "clip"]
    elif clip_pretrained or clip_probes:
        raise click.UsageError("--clip-pretrained and --clip-probes need --clip-model")
    n_jobs = jobs or default_jobs()
    cache = None if no_cache else (cache_dir or default_cache_dir(out))
    n, n_failed = _score_to_dir(records, out, families=fams, jobs=n_jobs, max_pixels=max_pixels,
                                input_desc=str(manifest or path), cache_dir=cache, resume=resume,
                                executor=executor, scheduler=scheduler, clip=clip,
                                resume_hint=True, image_timeout=image_timeout)
    click.echo(f"scored {n - n_failed} of {n} images -> {out / 'scores.csv'}, "
               f"{out / 'summary.json'}")
    if n_failed:
        _err(f"{n_failed} image(s) could not be read; see the 'error' column of "
             f"{out / 'scores.csv'}")
        sys.exit(EXIT_UNREADABLE)


@main.command()
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the renders, scores and report.")
@click.option("-n", "n_images", type=click.IntRange(min=2), default=12, show_default=True,
              help="Images per variant.")
@click.option("--size", type=click.IntRange(min=64), default=768, show_default=True,
              help="Render size in pixels (square).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the machine's cores).")
def demo(out: Path, n_images: int, size: int, jobs: int | None) -> None:
    """Render the article's two prompts with the ground-truth renderer and score them.

    Variant 'blurred' (Gaussian background blur, one neutral light, smoothed skin) against
    'optical' (85 mm f/1.4 at 2.5 m, crowd at 20 m, 2700 K vs 6500 K, pore texture).
    Writes OUT/renders, OUT/truth (ground truth JSON), OUT/manifest.csv, OUT/scores.csv,
    OUT/summary.json and the reports.
    """
    from lenscore.datasets.demo import write_demo
    from lenscore.datasets.discover import read_manifest
    from lenscore.evaluator.run import select_families

    n_jobs = jobs or (os.cpu_count() or 1)
    click.echo(f"rendering {2 * n_images} demo portraits ({size}x{size}) -> {out / 'renders'}")
    manifest = write_demo(out, n=n_images, size=size, jobs=n_jobs)
    fams = select_families()
    n, n_failed = _score_to_dir(read_manifest(manifest), out, families=fams, jobs=n_jobs,
                                max_pixels=None, input_desc=f"lenscore demo ({manifest})")
    click.echo(f"scored {n - n_failed} of {n} images -> {out / 'scores.csv'}")
    from lenscore.reports.compare import (compare_scores, comparison_renderables,
                                          metric_columns, output_meta, read_run)
    from lenscore.reports.html import write_report

    df, summary = read_run(out)
    comparison = compare_scores(df, baseline="blurred",
                                meta=output_meta(metric_columns(df), summary))
    console = _report_console()
    console.print()
    for item in comparison_renderables(comparison, width=console.width):
        console.print(item, highlight=False)
    paths = write_report(out, comparison=comparison)
    click.echo("reports: " + ", ".join(str(p) for p in paths.values()))


@main.command()
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("validation"),
              show_default=True, help="Folder for validation.json.")
@click.option("--quick", is_flag=True, help="A reduced sweep (smaller images, fewer scenes).")
@click.option("--families", "-f", metavar="LIST", help="Only these families (comma-separated).")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of real images for --manifest (default: the manifest's folder).")
@click.option("--manifest", "-m", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of real pairs: higher, lower, output (instead of the synthetic sweeps).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the machine's cores).")
def validate(out: Path, quick: bool, families: str | None, data: Path | None,
             manifest: Path | None, jobs: int | None) -> None:
    """Check every metric against known truth and print PASS/FAIL per target.

    Without --manifest: renders sweeps with the ground-truth renderer (f-number, aperture shape,
    Kelvin pairs, smoothing ladder, pore amplitude, resolution), scores them, and compares with
    the truth and the design targets. With --manifest: real pairs where a person knows which
    image should score higher. Exit 0 when every check passes, 1 when any fails.
    """
    import json

    from rich.console import Console
    from rich.table import Table

    from lenscore.evaluator import validate as v

    n_jobs = jobs or (os.cpu_count() or 1)
    if manifest is not None:
        checks = v.validate_pairs(str(manifest), str(data) if data else None)
    else:
        checks = v.run_validation(quick=quick, jobs=n_jobs, families=_parse_families(families),
                                  on_family=lambda f: click.echo(f"validating {f} ...", err=True))
    out.mkdir(parents=True, exist_ok=True)
    (out / "validation.json").write_text(json.dumps([c.to_dict() for c in checks], indent=2))
    table = Table(title="lenscore validate: agreement with known truth")
    for col in ("family", "check", "measured", "target", "verdict", "detail"):
        table.add_column(col, overflow="fold")
    style = {"PASS": "green", "FAIL": "bold red", "N/A": "yellow"}
    for c in checks:
        meas = "n/a" if c.measured != c.measured else f"{c.measured:.3g}{(' ' + c.unit) if c.unit else ''}"
        table.add_row(c.family, c.name, meas, c.target, f"[{style[c.verdict]}]{c.verdict}[/]", c.detail)
    Console(width=160).print(table)
    n_fail = sum(c.passed is False for c in checks)
    click.echo(f"{sum(c.passed is True for c in checks)} passed, {n_fail} failed, "
               f"{sum(c.passed is None for c in checks)} not measurable -> {out / 'validation.json'}")
    if n_fail:
        sys.exit(EXIT_GATE_FAILED)


def _gate_inputs(config: Path | None, jobs: int | None, out: Path, before_scoring=None):
    """Load the gate config and library, score the renders into ``out``; returns what gate needs.
    ``before_scoring(cfg, library)`` runs first (checks that must not wait for the scoring)."""
    from lenscore.datasets.library import load_library
    from lenscore.evaluator.run import select_families
    from lenscore.reports import gate as g
    from lenscore.reports.aggregate import read_scores

    cfg = g.load_config(g.find_config(config))
    library = load_library(cfg.library)
    if before_scoring is not None:
        before_scoring(cfg, library)
    records, missing = g.gate_records(cfg, library)
    for m in missing:
        _err(f"no renders for {m} (expected images in {g.expected_location(cfg, m)})")
    fams = select_families(cfg.families)
    if records:
        _score_to_dir(records, out, families=fams, jobs=jobs or (os.cpu_count() or 1),
                      max_pixels=100_000_000, input_desc=f"lenscore gate ({cfg.source})")
        scores = read_scores(out / "scores.csv")
    else:
        import pandas as pd

        scores = pd.DataFrame(columns=["path", "variant", "status", "error", "notes", "seed"])
    return cfg, library, missing, scores


@main.command()
@click.option("--config", "-c", type=click.Path(path_type=Path),
              help="Gate config (default: ./lenscore.toml, else [tool.lenscore.gate] in ./pyproject.toml).")
@click.option("--baseline", "-b", type=click.Path(path_type=Path),
              help="Baseline summary.json written by 'lenscore baseline' (enables max_regression rules).")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("gate-results"),
              show_default=True, help="Folder for the scores of this run.")
@click.option("--junit", type=click.Path(path_type=Path), help="Write a JUnit XML report here.")
@click.option("--summary", "summary_md", type=click.Path(path_type=Path),
              help="Write a Markdown summary here (e.g. $GITHUB_STEP_SUMMARY).")
@click.option("--allow-missing-baseline", is_flag=True,
              help="Skip the max_regression rules the baseline has no scores for (new prompts, "
                   "new outputs) instead of refusing the baseline.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes.")
def gate(config: Path | None, baseline: Path | None, out: Path, junit: Path | None,
         summary_md: Path | None, jobs: int | None, allow_missing_baseline: bool = False) -> None:
    """Guard a prompt library in CI: exit 0 pass, 1 fail, 2 config or usage error.

    Scores renders/<prompt id>/<variant>/ for every prompt of the library and checks each rule
    of the config: absolute bounds on the mean, and regressions against a baseline decided with
    the confidence interval of the difference (so noise alone does not fail a build).
    """
    import json

    from lenscore.reports import gate as g
    from lenscore.reports.aggregate import read_scores

    from lenscore.errors import ConfigError

    loaded: dict = {}

    def load_baseline(cfg, library) -> None:
        """Read and check the baseline before anything is scored."""
        base_path = baseline or cfg.baseline
        if base_path is None:
            return
        if not Path(base_path).is_file():
            raise click.UsageError(f"baseline not found: {base_path} (write one with "
                                   "'lenscore baseline')")
        try:
            loaded["summary"] = json.loads(Path(base_path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise ConfigError(f"cannot read the baseline ({e}); expected the summary.json "
                              "'lenscore baseline' writes", source=str(base_path)) from None
        if allow_missing_baseline:
            groups, outputs = g.baseline_gaps(cfg, library, loaded["summary"])
            if groups or outputs:
                _err(f"warning: --allow-missing-baseline: regression rules are skipped where "
                     f"{base_path} has no scores ("
                     + ", ".join([*groups, *(f"{o} for {len(v)} variant(s)"
                                             for o, v in outputs.items())]) + ")")
        else:
            g.check_baseline(cfg, library, loaded["summary"], str(base_path))
        sibling = Path(base_path).parent / "scores.csv"
        loaded["scores"] = read_scores(sibling) if sibling.is_file() else None

    cfg, library, missing, scores = _gate_inputs(config, jobs, out, before_scoring=load_baseline)
    result = g.evaluate(cfg, scores, baseline_summary=loaded.get("summary"),
                        baseline_scores=loaded.get("scores"), missing=missing, library=library)
    for c in result.cases:
        if c.status != g.PASS:
            click.echo(f"{c.status.upper():>12}  {c.prompt_id}/{c.variant}  {c.rule}: {c.message}")
    n_pass = sum(c.status == g.PASS for c in result.cases)
    click.echo(f"lenscore gate: {'PASSED' if result.passed else 'FAILED'} - {n_pass} passed, "
               f"{len(result.failed)} failed, "
               f"{sum(c.status == g.INCONCLUSIVE for c in result.cases)} inconclusive, "
               f"{sum(c.status == g.SKIPPED for c in result.cases)} skipped")
    if junit:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(g.junit_xml(result), encoding="utf-8")
    if summary_md:
        summary_md.parent.mkdir(parents=True, exist_ok=True)
        # GitHub's step summary is shared by every command of a step: append to it; any other
        # file holds this gate's summary alone (a re-run replaces it, never piles up)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        append = bool(step_summary) and Path(step_summary).absolute() == summary_md.absolute()
        with open(summary_md, "a" if append else "w", encoding="utf-8") as fh:
            fh.write(g.markdown_summary(result))
    if not result.passed:
        sys.exit(EXIT_GATE_FAILED)


@main.command()
@click.option("--config", "-c", type=click.Path(path_type=Path), help="Gate config (as for 'gate').")
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("baseline"),
              show_default=True, help="Folder for the baseline's summary.json and scores.csv.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Worker processes.")
def baseline(config: Path | None, out: Path, jobs: int | None) -> None:
    """Score the library's renders now and write them as the baseline (deliberately).

    Commit OUT/summary.json and OUT/scores.csv; 'lenscore gate --baseline OUT/summary.json'
    then fails on regressions against it.
    """
    cfg, library, missing, scores = _gate_inputs(config, jobs, out)
    if missing:
        raise click.UsageError(f"cannot write a baseline while {len(missing)} prompt variant(s) "
                               f"have no renders: {', '.join(missing)}")
    click.echo(f"baseline of {len(scores)} renders written to {out / 'summary.json'} "
               f"and {out / 'scores.csv'}")


def _parse_min_effect(specs: tuple[str, ...]) -> tuple[float, dict[str, float]]:
    """--min-effect values: '0.5sd' (or a bare number: standard deviations) and OUTPUT=VALUE."""
    sd, per = 0.5, {}
    for spec in specs:
        s = spec.strip()
        try:
            if "=" in s:
                name, val = s.split("=", 1)
                per[name.strip()] = float(val)
                if per[name.strip()] <= 0:
                    raise ValueError
            else:
                sd = float(s[:-2] if s.lower().endswith("sd") else s)
                if sd <= 0:
                    raise ValueError
        except ValueError:
            raise click.UsageError(
                f"--min-effect {spec!r}: expected a positive size in standard deviations "
                "('0.5sd') or OUTPUT=VALUE in the output's units ('bokeh.circularity=0.05')")
    return sd, per


def _is_run(p: Path) -> bool:
    return (p.is_dir() and (p / "scores.csv").is_file()) or (p.is_file() and p.suffix == ".csv")


def _score_folders(folders: list[Path], out: Path, jobs: int | None) -> None:
    """Score image folders into out/: one folder -> its subfolders are the variants; several
    folders -> each folder is a variant named after it."""
    import dataclasses

    from lenscore.datasets.discover import find_images
    from lenscore.evaluator.executors import default_jobs
    from lenscore.evaluator.run import select_families

    if len(folders) == 1:
        records = find_images(folders[0])
        root = folders[0].resolve()
    else:
        resolved = [f.resolve() for f in folders]
        root = Path(os.path.commonpath([str(f) for f in resolved]))
        names = [f.name or str(f) for f in resolved]
        if len(set(names)) != len(names):
            names = [f"{n}#{i + 1}" for i, n in enumerate(names)]
        # paths relative to the folders' common parent, so reports find the images again
        records = [dataclasses.replace(r, variant=name,
                                       path=(folder.relative_to(root) / r.path).as_posix())
                   for name, folder in zip(names, resolved) for r in find_images(folder)]
    n, n_failed = _score_to_dir(records, out, families=select_families(),
                                jobs=jobs or default_jobs(), max_pixels=100_000_000,
                                input_desc=str(root), label="scoring before comparing")
    click.echo(f"scored {n - n_failed} of {n} images -> {out / 'scores.csv'}", err=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--baseline", "-b", metavar="VARIANT",
              help="The reference variant (default: the first variant; with several runs, the "
                   "first run).")
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Folder for comparison.json, report.html and report.md (default: the first "
                   "run folder; 'results' when comparing image folders, which are scored there).")
@click.option("--min-effect", multiple=True, metavar="SIZE",
              help="The change worth detecting, for the sample-size line: '0.5sd' (default: "
                   "half a pooled standard deviation) or OUTPUT=VALUE in the output's units "
                   "(bokeh.circularity=0.05). Repeatable.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Level of the Holm-corrected tests.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the bootstrap and permutations (results are reproducible).")
@click.option("--no-report", is_flag=True, help="Only comparison.json and the table.")
@click.option("--no-gallery", is_flag=True,
              help="No best/worst gallery in report.html (faster: no image is re-measured).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes when image folders must be scored first.")
@click.option("--all", "show_all", is_flag=True,
              help="Print the descriptive outputs (no better direction) as full rows too.")
def compare(inputs: tuple[Path, ...], baseline: str | None, out: Path | None,
            min_effect: tuple[str, ...], alpha: float, seed: int, no_report: bool,
            no_gallery: bool, jobs: int | None, show_all: bool = False) -> None:
    """Is variant B better than A? Difference, 95 % CI, p-value and verdict per output.

    INPUTS: one scored run with several variants (lenscore compare results/ --baseline
    blurred), two or more scored runs (lenscore compare runA/ runB/, each with scores.csv),
    or image folders, which are scored first (one folder: its subfolders are the variants;
    several folders: each is a variant).

    Per output: difference of means with a BCa bootstrap 95 % CI (paired by prompt and seed when
    both variants share them), permutation p-value, Holm correction across outputs, Cliff's
    delta, win rate, and a direction-aware verdict (better / worse / no detectable difference;
    'differs' for outputs without a better direction). Writes OUT/comparison.json,
    OUT/report.html and OUT/report.md.
    """
    from lenscore.errors import UsageError
    from lenscore.reports.compare import (compare_scores, comparison_renderables, merge_runs,
                                          metric_columns, output_meta, read_run,
                                          write_comparison_json)
    from lenscore.reports.html import resolve_image, write_report

    runs = [p for p in inputs if _is_run(p)]
    folders = [p for p in inputs if not _is_run(p)]
    if runs and folders:
        raise UsageError("give either scored run folders (with scores.csv) or image folders, "
                         f"not both: {', '.join(map(str, folders))} hold no scores.csv")
    sd, per_output = _parse_min_effect(min_effect)
    if folders:
        for f in folders:
            if not f.is_dir():
                raise UsageError(f"{f} is neither a run folder with scores.csv nor an image folder")
        out = out or Path("results")
        _score_folders(folders, out, jobs)
        runs = [out]
    summary: dict = {}
    if len(runs) == 1:
        df, summary = read_run(runs[0])
        run_dir = runs[0] if runs[0].is_dir() else runs[0].parent
    else:
        loaded = []
        for r in runs:
            d, s = read_run(r)
            rdir = r if r.is_dir() else r.parent
            d["_source"] = [str(p) if (p := resolve_image(str(x), rdir, s)) else ""
                            for x in d["path"]]
            loaded.append((rdir.resolve().name or str(rdir), d, s))
            for fam, m in (s.get("metrics") or {}).items():
                summary.setdefault("metrics", {}).setdefault(fam, m)
        df, _ = merge_runs([(name, d) for name, d, _ in loaded])
        summary["input"] = " ".join(str(r) for r in runs)
        run_dir = runs[0] if runs[0].is_dir() else runs[0].parent
        if baseline is None:
            baseline = str(df["variant"].iloc[0])
    out = out or run_dir
    cols = metric_columns(df)
    meta = output_meta(cols, summary)
    unknown = [k for k in per_output if k not in cols]
    if unknown:
        from lenscore.metrics.base import suggest

        raise UsageError(f"--min-effect names an output the scores do not have: {unknown[0]}."
                         f"{suggest(unknown[0], cols)}")
    comparison = compare_scores(df, baseline=baseline, meta=meta, min_effect_sd=sd,
                                min_effect=per_output, alpha=alpha, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    jpath = write_comparison_json(comparison, out / "comparison.json")
    console = _report_console()
    for item in comparison_renderables(comparison, width=console.width, show_all=show_all):
        console.print(item, highlight=False)
    written = [jpath]
    if not no_report:
        paths = write_report(run_dir, out_dir=out, comparison=comparison, gallery=not no_gallery,
                             seed=seed, scores=df, summary=summary)
        written += [paths["html"], paths["md"]]
    click.echo("wrote " + ", ".join(str(p) for p in written))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path),
              help="Folder for report.html and report.md (default: RUN_DIR).")
@click.option("--baseline", "-b", metavar="VARIANT",
              help="Reference variant for the verdicts (default: the first variant).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the bootstrap and permutations.")
@click.option("--no-gallery", is_flag=True,
              help="No best/worst gallery (faster: no image is re-measured).")
def report(run_dir: Path, out: Path | None, baseline: str | None, seed: int,
           no_gallery: bool) -> None:
    """Write report.html (self-contained: tables, plots, overlays) and report.md for a scored
    run; with two or more variants, also the comparison (comparison.json)."""
    from lenscore.reports.html import write_report

    paths = write_report(run_dir, out_dir=out, baseline=baseline, gallery=not no_gallery,
                         seed=seed)
    click.echo("wrote " + ", ".join(str(p) for p in paths.values()))


@main.command()
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=Path("explain.png"),
              show_default=True, help="PNG to write.")
@click.option("--families", "-f", metavar="LIST",
              help="Comma-separated families to run (default: all optical families).")
@click.option("--subject-box", metavar="X,Y,W,H",
              help="The subject in pixels (default: detected face, head and shoulders).")
def explain(image: Path, out: Path, families: str | None, subject_box: str | None) -> None:
    """Why did this image score as it did? Draws what each metric saw: bokeh orbs circled with
    their circularity, the sharpness map with the subject box, the light sources on a CIE
    uv diagram, the skin mask with its texture energy."""
    from lenscore.reports.overlays import explain_figure

    box = None
    if subject_box:
        try:
            box = tuple(int(float(v)) for v in subject_box.split(","))
            if len(box) != 4 or box[2] <= 0 or box[3] <= 0:
                raise ValueError
        except ValueError:
            raise click.UsageError(f"--subject-box {subject_box!r}: expected X,Y,W,H in pixels "
                                   "with W and H > 0, e.g. 120,40,300,380")
    fams = _parse_families(families)
    if fams is not None:
        from lenscore.metrics.base import get_family

        for f in fams:
            get_family(f)  # "did you mean" for a misspelt family
    res = explain_figure(image, out, families=fams, subject_box=box)
    for e in res["explanations"]:
        click.echo(f"{e.title}: {e.sentence}")
        for short, shown, direction, mark in e.rows:
            click.echo(f"  {e.family + '.' + short:<30} {shown:<36} {direction}"
                       + (f" [{mark}]" if mark else ""))
    click.echo(f"wrote {res['path']}")


@main.command("metrics")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
def metrics_cmd(as_json: bool) -> None:
    """List every metric output with its unit, direction and range."""
    from lenscore.metrics import families

    fams = families()
    if as_json:
        import json

        from lenscore.reports.aggregate import metrics_metadata

        click.echo(json.dumps(metrics_metadata(list(fams.values())), indent=2))
        return
    import textwrap

    arrows = {"higher": "↑", "lower": "↓", "neither": "·"}
    for fam in fams.values():
        extra = f", needs the [{fam.extra}] extra and --clip-model" if fam.extra else ""
        click.echo(click.style(f"{fam.name}", bold=True) + f"  v{fam.version}{extra}")
        click.echo(textwrap.fill(fam.method, 96, initial_indent="  method: ",
                                 subsequent_indent="          "))
        for o in fam.outputs:
            rng = f"{o.range[0]:g}..{o.range[1]:g}"
            click.echo(f"  {arrows[o.direction]} {o.name}  [{o.unit}]  {o.direction_text}, range {rng}")
            click.echo(textwrap.fill(o.description, 96, initial_indent="      ",
                                     subsequent_indent="      "))
        click.echo("")


@main.command("lint")
@click.argument("inputs", nargs=-1, required=True, metavar="PROMPT|LIBRARY|FOLDER...")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
@click.option("--strict", is_flag=True,
              help="Exit 1 when any prompt has a contradiction (for CI).")
@click.option("--width", "width_px", type=click.IntRange(min=1), default=1024, show_default=True,
              help="Render long side in pixels, for disc sizes in px.")
def lint_cmd(inputs: tuple[str, ...], fmt: str, strict: bool, width_px: int) -> None:
    """Check prompts against the optics they state, before anything is rendered.

    Each INPUT is prompt text, a prompt library (.toml/.yaml, as for 'gate'), or a folder or
    image whose PNG metadata carries the prompt. Per prompt: the effect words with the
    article's rewrites, the parsed optics, the thin-lens predictions (disc size, depth of
    field, Kelvin per light), contradictions, and what one stop, twice the distance or a
    longer lens does to the disc. Exit codes: 0 ok, 1 contradictions under --strict, 2 usage
    or config error, 3 some images unreadable.
    """
    from lenscore.reports.lint import collect_prompts, format_text, lint, to_json

    prompts, unreadable, no_prompt = collect_prompts(list(inputs))
    for u in unreadable:
        _err(f"warning: unreadable image {u}")
    if no_prompt:
        _err(f"warning: {len(no_prompt)} image(s) carry no prompt in their metadata "
             f"(e.g. {no_prompt[0]})")
    if not prompts:
        raise click.UsageError("no prompts to lint: the images carry no prompt metadata")
    results = [lint(p.prompt, width_px=width_px, source=p.source, images=p.images,
                    expect=p.expect) for p in prompts]
    if fmt == "json":
        click.echo(to_json(results, width_px=width_px))
    else:
        click.echo(format_text(results))
        n_bad = sum(not r.ok for r in results)
        click.echo(f"\n{len(results)} prompt(s), {n_bad} with contradictions")
    if strict and any(not r.ok for r in results):
        sys.exit(EXIT_GATE_FAILED)
    if unreadable:
        sys.exit(EXIT_UNREADABLE)


def run_cli(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (lenscore's own errors -> message + exit 2)."""
    from lenscore.errors import LenscoreError

    try:
        main.main(args=argv, prog_name="lenscore", standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code or 0)
    except click.ClickException as e:
        e.show()
        return int(e.exit_code)
    except click.exceptions.Abort:
        _err("aborted")
        return 130
    except LenscoreError as e:
        _err(f"error: {e}")
        return e.exit_code
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else (_err(e.code) or 1)
    return 0


#: BLAS thread pools sized to the machine spin on the families' small matrix products and, with
#: --jobs workers on top, oversubscribe the cores (measured 3-4x the CPU in a worker); lenscore
#: parallelises over images instead. Set before numpy is imported; a user's setting wins.
_SINGLE_THREAD_BLAS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def entry() -> None:  # console script
    for var in _SINGLE_THREAD_BLAS:
        os.environ.setdefault(var, "1")
    sys.exit(run_cli())
