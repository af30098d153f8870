"""Spreadsheet-safe text cells for ``scores.csv`` (CSV formula injection, CWE-1236).

Spreadsheet programs run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some,
a tab or carriage return) as a formula: a prompt such as ``=HYPERLINK("http://...")`` in
``scores.csv`` would act when a person opens the file. lenscore therefore writes such a text
cell with a leading apostrophe (``'=HYPERLINK(...)``), the usual neutralisation (OWASP), by
default. Numbers are left alone (``-1`` is a seed, not a formula), and so are metric columns.

The change is exactly reversible: a text cell that itself starts with an apostrophe followed by
one of those characters (or by another apostrophe) gets one more apostrophe, and lenscore's
readers (:func:`lenscore.reports.aggregate.read_scores`, ``--resume``, ``lenscore.score()``)
strip exactly one, so every command works on the raw text. ``summary.json`` keeps each
variant's prompts raw.
"""

from __future__ import annotations

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ESCAPE_NEXT = (*FORMULA_START, "'")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def neutralise(text: str) -> str:
    """``text`` as it is written to scores.csv (see the module docstring)."""
    if not text:
        return text
    if text[0] in FORMULA_START and not _is_number(text):
        return "'" + text
    if text[0] == "'" and text[1:2] in _ESCAPE_NEXT and len(text) > 1:
        return "'" + text
    return text


def restore(text: str) -> str:
    """The raw text of a scores.csv cell written by :func:`neutralise`."""
    if isinstance(text, str) and text[:1] == "'" and text[1:2] in _ESCAPE_NEXT and len(text) > 1:
        return text[1:]
    return text
