"""Metric families. Importing this package registers the built-in families.

Each module is one family: a pure function on an :class:`~lenscore.context.ImageContext`
and the table of outputs it declares (see :mod:`lenscore.metrics.base`).
"""

from lenscore.metrics.base import (MetricFamily, MetricResult, Output, all_outputs, families,
                                   get_family, get_output, register)

# Built-in families, in the order their columns appear in scores.csv.
# Each import registers the family; none of them imports torch (clip loads it lazily, and only
# runs when asked: --clip-model). bokeh runs before color, which reuses its orbs as light sources.
from lenscore.metrics import focus, bokeh, color, skin, clip  # noqa: E402,F401  isort: skip

__all__ = ["MetricFamily", "MetricResult", "Output", "all_outputs", "families", "get_family",
           "get_output", "register"]
