"""Shared test fixtures. Tests make their own images; real data in ../shared/data is optional."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: a pytest plugin used by test_optional_extras in a subprocess: importing it here (doctest
#: collection imports every module) would block the extras for the whole run.
collect_ignore = ["_no_extras_plugin.py"]

#: ../shared/data beside the repository (real photographs and generated images; never copied).
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not present at {SHARED_DATA}")
    return SHARED_DATA


def requires_extra(module: str, extra: str):
    """``module`` imported, or the test skipped with the reason and the install command (the
    suite runs without the optional extras: clip, dask)."""
    return pytest.importorskip(
        module, reason=f"needs the '{extra}' extra ({module} is not installed): "
                       f"pip install 'lenscore[{extra}]' -c constraints.txt")


def write_png(path: Path, arr: np.ndarray) -> Path:
    """Write a uint8/uint16 array (H x W or H x W x 3, RGB) as PNG with Pillow."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if arr.dtype == np.uint16 and arr.ndim == 2:
        Image.fromarray(arr).save(path)  # Pillow maps uint16 gray to mode I;16
    else:
        Image.fromarray(arr).save(path)
    return path


@pytest.fixture
def portrait_rgb() -> np.ndarray:
    """scikit-image's astronaut portrait as float32 sRGB in [0, 1] (512 x 512)."""
    from skimage import data

    return data.astronaut().astype(np.float32) / 255.0
