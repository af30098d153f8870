"""lenscore: score AI-generated portraits by the physics of light.

The optical metrics (bokeh, focus, color, skin) are pure functions on numpy arrays;
the CLI (``lenscore``) scores folders, compares prompt variants and gates prompt libraries.
"""

__version__ = "0.1.0"
