"""Metric families: one module per family, each registering one
:class:`~lenscore.metrics.base.MetricFamily` (see :mod:`lenscore.metrics.base`).

:func:`families` imports every module of this package on first use, so a new family is one new
module here; nothing else needs to list it. None of the built-in modules imports torch (clip loads
it lazily, and only runs when asked: ``--clip-model``).
"""

from lenscore.metrics.base import (MetricFamily, MetricResult, Output, all_outputs, families,
                                   get_family, get_output, register)

__all__ = ["MetricFamily", "MetricResult", "Output", "all_outputs", "families", "get_family",
           "get_output", "register"]
