"""Shared colour and geometry helpers."""

from __future__ import annotations

import numpy as np
import pytest

from lenscore import imaging


def test_srgb_round_trip_and_known_values():
    x = np.linspace(0, 1, 1001, dtype=np.float32)
    lin = imaging.srgb_to_linear(x)
    assert lin[0] == 0 and lin[-1] == pytest.approx(1.0)
    assert imaging.srgb_to_linear(np.float32(0.5)) == pytest.approx(0.214041, abs=1e-5)
    np.testing.assert_allclose(imaging.linear_to_srgb(lin), x, atol=2e-6)
    assert np.all(np.diff(lin) >= 0)


def test_noise_sigma_recovers_white_noise():
    rng = np.random.default_rng(0)
    flat = np.full((256, 256), 0.5, np.float32)
    for sigma in (0.005, 0.02):
        est = imaging.immerkaer_noise_sigma(flat + rng.normal(0, sigma, flat.shape).astype(np.float32))
        assert est == pytest.approx(sigma, rel=0.05)
    assert np.isnan(imaging.immerkaer_noise_sigma(np.zeros((2, 2), np.float32)))


def test_resize_long_side_and_boxes():
    img = np.zeros((300, 600, 3), np.float32)
    assert imaging.resize_long_side(img, 768).shape == (384, 768, 3)
    m = imaging.box_to_mask((10, 20, 5, 7), (50, 50))
    assert m.sum() == 35 and m[20, 10] and not m[19, 10]
    assert imaging.scale_box((10, 20, 30, 40), 0.5) == (5, 10, 15, 20)
