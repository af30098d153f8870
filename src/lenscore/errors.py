"""lenscore's own errors. Each message says what was expected, what came, and what to do."""

from __future__ import annotations


class LenscoreError(Exception):
    """Base class of every error lenscore raises on purpose."""

    exit_code = 2


class InputError(LenscoreError):
    """An input file (image, manifest) cannot be used. For an image this becomes an error row."""


class UsageError(LenscoreError):
    """A command was called with paths or options that cannot work (exit code 2)."""


class ConfigError(LenscoreError):
    """A manifest, gate config or prompt library is malformed (exit code 2).

    ``source``, ``line`` and ``column`` locate the fault when known.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 column: int | str | None = None):
        where = ""
        if source:
            where = str(source)
            if line is not None:
                where += f", line {line}"
            if column is not None:
                where += f", column {column}"
            where += ": "
        super().__init__(where + message)
        self.source, self.line, self.column = source, line, column


class MissingDependencyError(LenscoreError):
    """An optional package is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str):
        super().__init__(
            f"{purpose} needs the '{package}' package, which is not installed. "
            f"Install it with: pip install 'lenscore[{extra}]' -c constraints.txt"
        )
        self.package, self.extra = package, extra
