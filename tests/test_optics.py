"""Thin-lens physics: known answers (the article's worked example) and properties."""

from __future__ import annotations

import math

import pytest

from lenscore import optics as O
from lenscore.errors import InputError


# --- the worked example of issue 18: 85 mm f/1.4, focus 2.5 m -------------------------------
def test_worked_example_crowd_at_20_m():
    c = O.coc_diameter_mm(85, 1.4, 2.5, 20.0)
    assert c == pytest.approx(85**2 / (1.4 * (2500 - 85)) * (20000 - 2500) / 20000, rel=1e-12)
    assert round(c, 2) == 1.87
    assert round(100 * O.coc_fraction(85, 1.4, 2.5, 20.0), 1) == 5.2
    assert round(O.coc_diameter_px(85, 1.4, 2.5, 20.0, width_px=1024)) == 53


def test_worked_example_crowd_at_5_m():
    assert round(100 * O.coc_fraction(85, 1.4, 2.5, 5.0), 2) == 2.97


def test_worked_example_depth_of_field():
    dof = O.depth_of_field(85, 1.4, 2.5)
    assert (round(dof.near_m, 2), round(dof.far_m, 2)) == (2.47, 2.54)
    assert dof.coc_mm == 0.03
    assert dof.hyperfocal_m == pytest.approx((85**2 / (1.4 * 0.03) + 85) / 1000)


def test_same_answers_as_the_renderer():
    """The renderer will import these functions instead of its own copy: same numbers."""
    from lenscore.datasets import synthetic as S

    for args in [(85, 1.4, 2.5, 20.0), (50, 2, 3.0, 1.0), (135, 2.8, 4, math.inf), (35, 8, 1, 1)]:
        assert O.coc_diameter_mm(*args) == S.coc_diameter_mm(*args)
        assert O.coc_diameter_px(*args, sensor_mm=36.0, width_px=768) == \
            S.coc_diameter_px(*args, sensor_mm=36.0, width_px=768)


# --- properties -------------------------------------------------------------------------------
def test_zero_on_the_focus_plane():
    for f, n, s in [(85, 1.4, 2.5), (24, 8, 0.5), (600, 4, 30)]:
        assert O.coc_diameter_mm(f, n, s, s) == 0.0


def test_grows_with_aperture():
    ns = [16, 11, 8, 5.6, 4, 2.8, 2, 1.4, 1.0]
    cs = [O.coc_diameter_mm(85, n, 2.5, 20) for n in ns]
    assert all(a < b for a, b in zip(cs, cs[1:]))
    # exactly 1/N: one stop wider is sqrt(2) larger
    assert O.coc_diameter_mm(85, O.stops_wider(2.8), 2.5, 20) == pytest.approx(
        math.sqrt(2) * O.coc_diameter_mm(85, 2.8, 2.5, 20))


def test_grows_with_distance_behind_the_focus_plane_towards_the_infinity_limit():
    ds = [3, 4, 6, 10, 20, 50, 200, 1e4]
    cs = [O.coc_diameter_mm(85, 1.4, 2.5, d) for d in ds]
    assert all(a < b for a, b in zip(cs, cs[1:]))
    assert cs[-1] < O.coc_at_infinity_mm(85, 1.4, 2.5) == O.coc_diameter_mm(85, 1.4, 2.5, math.inf)
    # in front of the focus plane the disc grows as the point comes closer
    front = [O.coc_diameter_mm(85, 1.4, 2.5, d) for d in (2.2, 1.8, 1.2, 0.8)]
    assert all(a < b for a, b in zip(front, front[1:]))


def test_grows_with_focal_length_at_the_same_distance():
    cs = [O.coc_diameter_mm(f, 2, 3.0, 30) for f in (24, 35, 50, 85, 135, 200)]
    assert all(a < b for a, b in zip(cs, cs[1:]))


def test_depth_of_field_shrinks_with_aperture_and_contains_the_focus():
    prev = math.inf
    for n in (16, 8, 4, 2, 1.4):
        d = O.depth_of_field(50, n, 3.0)
        assert d.near_m < 3.0 < d.far_m
        assert d.total_m < prev
        prev = d.total_m


def test_beyond_the_hyperfocal_distance_everything_to_infinity_is_sharp():
    h = O.hyperfocal_mm(24, 11) / 1000
    d = O.depth_of_field(24, 11, h * 1.01)
    assert d.far_is_infinite and d.to_dict()["far_m"] is None
    assert O.depth_of_field(24, 11, h).near_m == pytest.approx(h / 2, rel=1e-3)  # H/2 rule


# --- formats ------------------------------------------------------------------------------------
def test_crop_factors_of_the_named_formats():
    crops = {k: round(f.crop, 2) for k, f in O.SENSOR_FORMATS.items()}
    assert crops["full_frame"] == 1.0
    assert crops["aps_c"] == 1.5
    assert crops["aps_c_canon"] == 1.61
    assert crops["micro_four_thirds"] == 2.0
    assert crops["medium_format"] == 0.79
    assert 3.4 <= crops["phone"] <= 3.6
    assert O.get_format(None) is O.FULL_FRAME


def test_crop_makes_the_same_lens_a_bigger_disc_relative_to_the_frame():
    ff = O.coc_fraction(50, 1.8, 3, 30)
    for key in ("aps_c", "micro_four_thirds", "phone"):
        fmt = O.get_format(key)
        # same lens, same distances: same disc on the sensor, a smaller frame
        assert O.coc_fraction(50, 1.8, 3, 30, sensor=key) == pytest.approx(ff * 36 / fmt.width_mm)
    assert O.coc_fraction(50, 1.8, 3, 30, sensor="medium_format") < ff


def test_equivalent_settings_give_the_same_picture():
    """A crop-k lens of f/k at f/(N/k) frames and blurs like f at f/N on full frame."""
    for key in ("aps_c", "micro_four_thirds", "medium_format"):
        k = O.get_format(key).crop
        assert O.equivalent_focal_mm(50 / k, key) == pytest.approx(50)
        assert O.equivalent_f_number(2 / k, key) == pytest.approx(2)
        # the disc relative to the frame diagonal (equivalence is defined on the diagonal; a
        # 4:3 frame's long side is shorter than a 3:2 frame's of the same diagonal)
        ff = O.coc_diameter_mm(50, 2, 3, 30) / O.FULL_FRAME.diagonal_mm
        fmt = O.get_format(key)
        crop = O.coc_diameter_mm(50 / k, 2 / k, 3, 30) / fmt.diagonal_mm
        assert crop == pytest.approx(ff, rel=0.02)  # exact only for s >> f
        # depth of field too (c0 scales with the crop)
        a, b = O.depth_of_field(50, 2, 3), O.depth_of_field(50 / k, 2 / k, 3, sensor=key)
        assert b.near_m == pytest.approx(a.near_m, rel=0.01)
        assert b.far_m == pytest.approx(a.far_m, rel=0.01)


def test_field_of_view_is_exactly_equivalent_on_3_2_formats():
    k = O.get_format("aps_c").crop
    assert O.field_of_view_deg(85 / k, "aps_c") == pytest.approx(O.field_of_view_deg(85))
    assert O.field_of_view_deg(50, axis="diagonal") == pytest.approx(46.8, abs=0.05)
    assert O.field_of_view_deg(50, axis="vertical") == pytest.approx(27.0, abs=0.05)


def test_portrait_framing_distance_and_same_framing_with_a_longer_lens():
    s = O.portrait_focus_m(85)
    assert s == pytest.approx(0.085 * (1 + 600 / 24))
    m = O.magnification(85, 2.5)
    s2 = O.focus_for_magnification_m(135, m)
    assert O.magnification(135, s2) == pytest.approx(m)


def test_next_longer_focal_length():
    assert O.next_longer_focal_mm(85) == 105
    assert O.next_longer_focal_mm(50) == 58
    assert O.next_longer_focal_mm(800) == 1200


# --- mired --------------------------------------------------------------------------------------
def test_mired_known_values_and_round_trip():
    assert O.mired(2700) == pytest.approx(370.37, abs=0.01)
    assert O.kelvin_from_mired(O.mired(5600)) == pytest.approx(5600)
    assert O.mired_difference(2700, 6500) == pytest.approx(1e6 / 2700 - 1e6 / 6500)
    assert O.mired_difference(6500, 2700) == -O.mired_difference(2700, 6500)
    assert O.kelvin_error_mired(3000, 2700) < 0  # measured cooler than asked


# --- bad input raises the project's error -------------------------------------------------------
@pytest.mark.parametrize("args", [(0, 1.4, 2.5, 20), (85, 0, 2.5, 20), (85, 1.4, 0.05, 20),
                                  (85, 1.4, 2.5, 0), (math.nan, 1.4, 2.5, 20),
                                  (85, 1.4, 2.5, math.nan), (85, 1.4, math.inf, 20)])
def test_invalid_lens_input(args):
    with pytest.raises(InputError):
        O.coc_diameter_mm(*args)


def test_invalid_format_and_kelvin():
    with pytest.raises(InputError, match="unknown sensor format"):
        O.get_format("half_frame")
    with pytest.raises(InputError):
        O.mired(0)
    with pytest.raises(InputError):
        O.field_of_view_deg(50, axis="sideways")


def test_docstring_examples():
    import doctest

    assert doctest.testmod(O).failed == 0
