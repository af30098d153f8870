"""Prompt libraries and gate configs: reading TOML/YAML safely, with line-precise errors.

A prompt library (TOML or YAML) lists prompts, each with an ``id``, its ``variants``
(name -> prompt text) and optional ``expect`` (the optics the prompt asks for, e.g.
``lens = "85mm f/1.4"``, ``light = "2700K / 6500K"``)::

    [[prompt]]
    id = "night-market"
    expect = { lens = "85mm f/1.4", light = "2700K / 6500K" }
    [prompt.variants]
    optical = "85mm f/1.4 portrait at 2.5 m, crowd at 20 m as bokeh orbs, ..."

Renders live at ``<renders>/<prompt id>/<variant>/*.png`` (or are mapped by a manifest with a
``prompt_id`` column). TOML is read with the standard library's ``tomllib``, YAML with
``yaml.safe_load`` (no arbitrary objects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lenscore.errors import ConfigError

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class LibraryPrompt:
    id: str
    variants: dict[str, str]
    expect: dict[str, str] = field(default_factory=dict)
    title: str = ""


def read_utf8(path: Path) -> str:
    """A text file's content (a BOM is dropped); not UTF-8 is a ConfigError saying where."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text ({e.reason} at byte {e.start})", source=str(path)) from None


def load_structured(path: str | Path) -> tuple[dict[str, Any], str]:
    """Parse a TOML or YAML file into a dict; returns (data, raw text)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"file not found: {p}")
    text = read_utf8(p)
    if p.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            raise ConfigError(f"invalid YAML: {e.problem}", source=str(p),
                              line=(mark.line + 1) if mark else None,
                              column=(mark.column + 1) if mark else None) from None
        except yaml.YAMLError as e:
            raise ConfigError(f"invalid YAML: {e}", source=str(p)) from None
    else:
        import tomllib

        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
            msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(e))
            raise ConfigError(f"invalid TOML: {msg}", source=str(p),
                              line=int(m.group(1)) if m else None,
                              column=int(m.group(2)) if m else None) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a table/mapping at the top, got {type(data).__name__}",
                          source=str(p), line=1)
    return data, text


def line_of(text: str, needle: str) -> int | None:
    """1-based line of the first occurrence of ``needle`` in ``text`` (to point at a fault)."""
    idx = text.find(needle)
    return None if idx < 0 else text.count("\n", 0, idx) + 1


def load_library(path: str | Path) -> list[LibraryPrompt]:
    data, text = load_structured(path)
    src = str(path)
    items = data.get("prompt", data.get("prompts"))
    if not isinstance(items, list) or not items:
        raise ConfigError("expected a list of prompts ([[prompt]] tables in TOML, 'prompts:' in "
                          "YAML), each with an id and variants", source=src, line=1)
    out: list[LibraryPrompt] = []
    seen: set[str] = set()
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ConfigError(f"prompt #{i} must be a table/mapping", source=src)
        pid = item.get("id")
        if not isinstance(pid, str) or not _ID.match(pid):
            raise ConfigError(f"prompt #{i}: 'id' must be a name of letters, digits, '-', '_' or '.' "
                              f"(it names the renders folder), got {pid!r}", source=src,
                              line=line_of(text, str(pid)) if pid else None)
        if pid in seen:
            raise ConfigError(f"prompt id '{pid}' appears twice", source=src,
                              line=_nth_line(text, pid, 2))
        seen.add(pid)
        variants = item.get("variants")
        if not isinstance(variants, dict) or not variants or \
                not all(isinstance(k, str) and _ID.match(k) and isinstance(v, str) for k, v in variants.items()):
            raise ConfigError(f"prompt '{pid}': 'variants' must map variant names to prompt text",
                              source=src, line=line_of(text, pid))
        expect = item.get("expect") or {}
        if not isinstance(expect, dict):
            raise ConfigError(f"prompt '{pid}': 'expect' must be a table", source=src,
                              line=line_of(text, pid))
        out.append(LibraryPrompt(pid, dict(variants), {str(k): str(v) for k, v in expect.items()},
                                 str(item.get("title", ""))))
    return out


def _nth_line(text: str, needle: str, n: int) -> int | None:
    idx = -1
    for _ in range(n):
        idx = text.find(needle, idx + 1)
        if idx < 0:
            return None
    return text.count("\n", 0, idx) + 1
