"""The metric registry: every family, every output a user sees, and what each family needs.

A *family* (focus, bokeh, color, skin, clip, ...) is one module of :mod:`lenscore.metrics` that
owns everything about itself, declared in one :class:`MetricFamily`:

- its outputs (:class:`Output`: unit, direction, range, description): its columns in
  ``scores.csv``, in ``lenscore metrics`` and in the reports;
- its parameters: one frozen dataclass instance, the only place a default lives; it goes into
  the cache key and into ``summary.json``;
- ``compute(ctx) -> MetricResult``: a pure function of an
  :class:`~lenscore.context.ImageContext` (never reads files, prints or keeps global state);
- ``requires``: the other families whose results ``compute`` reads, through
  :meth:`ImageContext.result <lenscore.context.ImageContext.result>` (reading an undeclared one is
  an error); the cache key of a family covers the versions and parameters of all it requires;
- its report wording (``title``, ``headline`` outputs, ``explain`` sentence), its overlay
  (``draw``, and an optional extra figure ``plot``) and its validation checks (``validate``).

Adding a family is one new module in this package (it is found by :func:`families`, which
imports every module here) plus its tests; reports, ``explain``, ``validate`` and the cache find
it through the registry. Column order in ``scores.csv`` is ``order`` (then registration order).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib
import math
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from lenscore.context import ImageContext
    from lenscore.evaluator.validate import Check, Plan

Direction = Literal["higher", "lower", "neither"]


@dataclass(frozen=True)
class Output:
    """One number a family produces. ``name`` is the full column name, ``family.output``."""

    name: str
    unit: str
    direction: Direction
    range: tuple[float, float]
    description: str
    #: the values a prompt writer should aim for (inclusive), when there is a reference for
    #: them (a real-photograph band, an optical bound); None = no reference, only a direction.
    good: tuple[float, float] | None = None

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def short(self) -> str:
        """The name without the family prefix."""
        return self.name.split(".", 1)[1]

    @property
    def direction_text(self) -> str:
        return {"higher": "higher is better", "lower": "lower is better",
                "neither": "neither (descriptive)"}[self.direction]

    def judge(self, value: float) -> str:
        """"good" or "poor" when ``good`` says where a value should lie, else "" (no reference;
        the direction alone says which way is better)."""
        if self.good is None or value is None or not math.isfinite(float(value)):
            return ""
        lo, hi = self.good
        return "good" if lo <= float(value) <= hi else "poor"


@dataclass
class MetricResult:
    """What one family measured on one image: the one result type of every family.

    ``values`` maps every declared output name to a float (NaN = not measurable);
    ``reasons`` says, for each NaN output (or the family as a whole, key = family name), why;
    ``artifacts`` carries what reports draw (orb circles, masks, maps): never written to the CSV.
    """

    values: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)

    def prefixed(self, family: str) -> "MetricResult":
        """The same result with short output names (``"separation"``) turned into column names
        (``"focus.separation"``); keys that are already prefixed or name the family are kept."""
        def full(k: str) -> str:
            return k if (k == family or k.startswith(family + ".")) else f"{family}.{k}"
        return MetricResult({full(k): v for k, v in self.values.items()},
                            {full(k): v for k, v in self.reasons.items()}, self.artifacts)


def params_dict(params: Any) -> dict[str, Any]:
    """A family's parameters as a plain dict (dataclass fields, or a mapping), for the cache key
    and ``summary.json``."""
    if params is None:
        return {}
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        return {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    return dict(params)


@dataclass(frozen=True)
class MetricFamily:
    """A registered family: its outputs, version, parameters and the function that computes them.

    Parameters
    ----------
    name, version, method
        Column prefix; version (bumped whenever its numbers move); one line on the method and
        its sources.
    outputs
        The outputs, each named ``name.<output>``.
    compute
        ``compute(ctx) -> MetricResult``.
    params
        A frozen dataclass instance (or a mapping) of every tunable constant.
    requires
        Names of the families whose results ``compute`` reads via ``ctx.result(name)``.
    title, headline, explain
        Report wording: section title; the outputs the report leads with (the first ranks the
        best/worst gallery); ``explain(result) -> str``, one sentence on why an image scored as it
        did.
    draw, plot
        ``draw(rgb, result, long_side) -> uint8 RGB``: what the family saw, drawn on the image
        (``rgb`` the full-resolution float sRGB image; the drawing's longer side is about
        ``long_side`` px; see :mod:`lenscore.drawing`); ``plot(ax, result) -> bool`` draws an
        extra matplotlib panel (False when there is nothing to draw).
    validate
        ``validate(plan, jobs) -> list[Check]``: the family's checks against ground truth, run by
        ``lenscore validate``.
    order
        Column position (lower first); ties keep registration order.
    extra, default
        The optional extra the family needs (e.g. "clip"); whether ``lenscore score`` runs it by
        default.
    """

    name: str
    version: str
    method: str
    outputs: tuple[Output, ...]
    compute: Callable[["ImageContext"], MetricResult]
    params: Any = None
    requires: tuple[str, ...] = ()
    title: str = ""
    headline: tuple[str, ...] = ()
    explain: Callable[[MetricResult], str] | None = None
    draw: Callable[["np.ndarray", MetricResult, int], "np.ndarray"] | None = None
    plot: Callable[[Any, MetricResult], bool] | None = None
    validate: Callable[["Plan", int], list["Check"]] | None = None
    order: int = 100
    extra: str | None = None
    default: bool = True

    def output(self, short: str) -> Output:
        for o in self.outputs:
            if o.name == f"{self.name}.{short}" or o.name == short:
                return o
        raise KeyError(short)

    @property
    def display_title(self) -> str:
        return self.title or self.name

    def params_dict(self) -> dict[str, Any]:
        return params_dict(self.params)

    def nan_result(self, reason: str) -> MetricResult:
        """Every output NaN, with one reason for the whole family."""
        return MetricResult({o.name: math.nan for o in self.outputs}, {self.name: reason})


_REGISTRY: dict[str, MetricFamily] = {}
_DISCOVERED = False


def register(family: MetricFamily) -> MetricFamily:
    """Add a family to the registry (a family of the same name is replaced)."""
    for o in family.outputs:
        if not o.name.startswith(family.name + "."):
            raise ValueError(f"output {o.name!r} must be named '{family.name}.<output>'")
        if o.direction not in ("higher", "lower", "neither"):
            raise ValueError(f"output {o.name!r}: direction must be higher, lower or neither")
    for h in family.headline:
        if h not in {o.name for o in family.outputs}:
            raise ValueError(f"family {family.name!r}: headline output {h!r} is not one of its outputs")
    if family.name in family.requires:
        raise ValueError(f"family {family.name!r} cannot require itself")
    _REGISTRY[family.name] = family
    return family


def unregister(name: str) -> None:
    """Remove a family (tests that register a toy family clean up with this)."""
    _REGISTRY.pop(name, None)


@contextlib.contextmanager
def registered(family: MetricFamily) -> Iterator[MetricFamily]:
    """``with registered(toy):`` registers ``toy`` for the block (tests)."""
    old = _REGISTRY.get(family.name)
    register(family)
    try:
        yield family
    finally:
        if old is None:
            unregister(family.name)
        else:
            _REGISTRY[family.name] = old


def _discover() -> None:
    """Import every module of :mod:`lenscore.metrics` once: each registers its family."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    import lenscore.metrics as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if mod.name.startswith("_") or mod.name == "base":
            continue
        importlib.import_module(f"{pkg.__name__}.{mod.name}")


def families() -> dict[str, MetricFamily]:
    """All registered families, in column order (``order``, then registration order)."""
    _discover()
    pos = {n: i for i, n in enumerate(_REGISTRY)}
    return {f.name: f for f in sorted(_REGISTRY.values(), key=lambda f: (f.order, pos[f.name]))}


def all_outputs() -> dict[str, Output]:
    return {o.name: o for fam in families().values() for o in fam.outputs}


def suggest(name: str, candidates: list[str]) -> str:
    """' Did you mean X?' for a misspelt name, or '' when nothing is close."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def get_family(name: str) -> MetricFamily:
    from lenscore.errors import UsageError

    fams = families()
    if name not in fams:
        raise UsageError(f"unknown metric family '{name}'.{suggest(name, list(fams))} "
                         f"Known families: {', '.join(fams)}.")
    return fams[name]


def get_output(name: str) -> Output:
    from lenscore.errors import ConfigError

    outs = all_outputs()
    if name not in outs:
        raise ConfigError(f"unknown metric output '{name}'.{suggest(name, list(outs))} "
                          f"Run 'lenscore metrics' to list them.")
    return outs[name]


def dependency_closure(family: MetricFamily, *, _seen: tuple[str, ...] = ()) -> list[MetricFamily]:
    """Every family ``family`` requires, directly or not, dependencies first (no duplicates)."""
    out: list[MetricFamily] = []
    for name in family.requires:
        if name in _seen:
            raise ValueError(f"families {' -> '.join((*_seen, name))} require each other in a cycle")
        dep = get_family(name)
        for d in (*dependency_closure(dep, _seen=(*_seen, family.name)), dep):
            if d.name not in {x.name for x in out}:
                out.append(d)
    return out


def compute_family(family: MetricFamily, ctx: "ImageContext") -> tuple[MetricResult, bool]:
    """Run one family on one context: ``(result, True)``, or ``(NaN result with the reason,
    False)`` when it raised (a metric bug must not lose the image). Every declared output is in
    the result (NaN when the family left it out)."""
    ok = True
    try:
        res = family.compute(ctx)
    except Exception as e:  # noqa: BLE001
        res = family.nan_result(f"internal error ({type(e).__name__}: {e}); please report it")
        ok = False
    for o in family.outputs:
        res.values.setdefault(o.name, math.nan)
    return res, ok


def results_values(results: Mapping[str, MetricResult] | Sequence[MetricResult]) -> dict[str, float]:
    """All values of several results in one dict."""
    out: dict[str, float] = {}
    for res in (results.values() if isinstance(results, Mapping) else results):
        out.update(res.values)
    return out
