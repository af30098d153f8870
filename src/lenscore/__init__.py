"""lenscore: score AI-generated portraits by the physics of light.

The optical metrics (bokeh, focus, color, skin) are pure functions on numpy arrays;
the CLI (``lenscore``) scores folders, compares prompt variants and gates prompt libraries.
"""

__version__ = "0.1.0"

# Public API, imported on first use so that `import lenscore` stays light.
_LAZY = {"lint": ("lenscore.reports.lint", "lint")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'lenscore' has no attribute {name!r}")
