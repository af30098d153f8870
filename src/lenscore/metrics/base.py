"""The metric registry: every output a user sees, with its unit, direction and range.

A *family* (focus, bokeh, color, skin, clip) is one pure function ``compute(ctx) -> MetricResult``
plus the table of outputs it declares. Families never read files, print, or keep global state.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.context import ImageContext

Direction = Literal["higher", "lower", "neither"]


@dataclass(frozen=True)
class Output:
    """One number a family produces. ``name`` is the full column name, ``family.output``."""

    name: str
    unit: str
    direction: Direction
    range: tuple[float, float]
    description: str

    @property
    def family(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def direction_text(self) -> str:
        return {"higher": "higher is better", "lower": "lower is better",
                "neither": "neither (descriptive)"}[self.direction]


@dataclass
class MetricResult:
    """What one family measured on one image.

    ``values`` maps every declared output name to a float (NaN = not measurable);
    ``reasons`` says, for each NaN output (or the family as a whole, key = family name), why;
    ``artifacts`` carries what reports draw (orb circles, masks, maps): never written to the CSV.
    """

    values: dict[str, float]
    reasons: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricFamily:
    """A registered family: its outputs, version, parameters and the function that computes them."""

    name: str
    version: str
    method: str
    outputs: tuple[Output, ...]
    compute: Callable[["ImageContext"], MetricResult]
    params: Mapping[str, Any] = field(default_factory=dict)
    #: optional extra the family needs (e.g. "clip"); None = always available.
    extra: str | None = None
    #: run by default in `lenscore score`.
    default: bool = True

    def output(self, short: str) -> Output:
        for o in self.outputs:
            if o.name == f"{self.name}.{short}" or o.name == short:
                return o
        raise KeyError(short)

    def nan_result(self, reason: str) -> MetricResult:
        """Every output NaN, with one reason for the whole family."""
        return MetricResult({o.name: math.nan for o in self.outputs}, {self.name: reason})


_REGISTRY: dict[str, MetricFamily] = {}


def register(family: MetricFamily) -> MetricFamily:
    """Add a family to the registry (idempotent for the same name and version)."""
    for o in family.outputs:
        if not o.name.startswith(family.name + "."):
            raise ValueError(f"output {o.name!r} must be named '{family.name}.<output>'")
        if o.direction not in ("higher", "lower", "neither"):
            raise ValueError(f"output {o.name!r}: direction must be higher, lower or neither")
    _REGISTRY[family.name] = family
    return family


def families() -> dict[str, MetricFamily]:
    """All registered families, in registration order."""
    from lenscore import metrics  # noqa: F401  (importing the package registers the built-ins)

    return dict(_REGISTRY)


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
