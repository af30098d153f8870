"""lenscore: score AI-generated portraits by the physics of light.

The optical metrics (bokeh, focus, color, skin) are pure functions on numpy arrays;
the CLI (``lenscore``) scores folders, compares prompt variants and gates prompt libraries.
"""

__version__ = "0.1.0"

#: the Python API, imported on first use so that ``import lenscore`` stays light
#: (name -> module that defines it)
_LAZY = {"score": "lenscore.api", "compare": "lenscore.api"}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lenscore' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
