"""lenscore: score AI-generated portraits by the physics of light.

The optical metrics (bokeh, focus, color, skin) are pure functions on numpy arrays;
the CLI (``lenscore``) scores folders, compares prompt variants and gates prompt libraries.
The Python API: ``lenscore.score``, ``lenscore.compare``, ``lenscore.lint``.
"""

__version__ = "0.1.0"

#: the Python API, imported on first use so that ``import lenscore`` stays light
#: (name -> (module that defines it, attribute))
_LAZY = {"score": ("lenscore.api", "score"), "compare": ("lenscore.api", "compare"),
         "lint": ("lenscore.reports.lint", "lint")}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    spec = _LAZY.get(name)
    if spec is None:
        raise AttributeError(f"module 'lenscore' has no attribute {name!r}")
    import importlib

    module, attr = spec
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
