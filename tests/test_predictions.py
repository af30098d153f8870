"""Predictions from a prompt's optics: discs per stated depth, Kelvin per light, orb shape."""

from __future__ import annotations

import math

import pytest

from lenscore import optics as O
from lenscore.datasets.demo import DEMO_PROMPTS
from lenscore.datasets.optics import LIGHT_SOURCE_PATTERNS
from lenscore.predictions import COVERAGE_ITEMS, LIGHT_SOURCES, predict

GOOD = DEMO_PROMPTS["optical"]


def test_the_improved_prompt():
    pr = predict(GOOD)
    assert (pr.focal_mm, pr.f_number, pr.subject_m, pr.sensor.key) == (85, 1.4, 2.5, "full_frame")
    assert pr.sensor_basis == "default" and any("full frame" in a for a in pr.assumptions)
    assert pr.background.label == "crowd at 20 m" and pr.background.depth_m == 20
    assert pr.background.coc_mm == O.coc_diameter_mm(85, 1.4, 2.5, 20)
    assert round(pr.background_disc_px(1024)) == 53
    assert pr.at_infinity.frac == pytest.approx(O.coc_at_infinity_mm(85, 1.4, 2.5) / 36)
    assert (round(pr.depth_of_field.near_m, 2), round(pr.depth_of_field.far_m, 2)) == (2.47, 2.54)
    assert pr.coverage == 1.0 and pr.missing == ()


def test_behind_adds_the_subject_distance_and_ratio_multiplies_it():
    pr = predict("85mm f/1.4 at 2.5 m, city lights 50 m behind")
    assert pr.background.depth_m == 52.5 and "behind the subject" in pr.background.basis
    pr = predict("85mm f/1.4 at 2.5 m, subject-to-background ratio of 1:8")
    assert pr.background.depth_m == 20 and pr.background.basis.startswith("ratio 1:8")
    pr = predict("85mm f/1.8, subject-to-background ratio of 1:8")
    assert pr.background is None and "needs the subject distance" in pr.notes[0]


def test_a_stated_background_distance_comes_before_the_ratio():
    pr = predict("85mm f/1.4 at 2.5 m, subject-to-background ratio of 1:8, crowd at 5 m")
    assert pr.background.label == "crowd at 5 m"
    assert [d.depth_m for d in pr.discs] == [5, 20]


def test_depth_ranges_give_disc_ranges():
    pr = predict("85mm f/1.8 at 2.5 m, street lights 8-60 m away")
    d = pr.background
    assert d.frac is None and d.depth_range_m == (8, 60)
    lo, hi = d.frac_range
    assert lo == pytest.approx(O.coc_fraction(85, 1.8, 2.5, 8))
    assert hi == pytest.approx(O.coc_fraction(85, 1.8, 2.5, 60))
    assert d.px_range(1000) == pytest.approx((lo * 1000, hi * 1000))


def test_foreground_is_marked_in_front():
    pr = predict("50mm f/2 at 3 m, lanterns at 1.5 m")
    assert pr.discs[0].in_front


def test_formats_and_equivalents():
    pr = predict("Fujifilm X-T4, 56mm f/1.2 at 2 m, trees at 20 m")
    assert pr.sensor.key == "aps_c" and pr.sensor_basis == "camera"
    assert pr.equivalent_focal_mm == pytest.approx(84, abs=0.5)
    assert pr.equivalent_f_number == pytest.approx(1.8, abs=0.01)
    assert pr.background.frac == pytest.approx(O.coc_fraction(56, 1.2, 2, 20, sensor="aps_c"))
    pr = predict("iPhone 15 Pro, 24mm f/1.8 at 1 m, lights 10 m behind")
    assert pr.focal_mm == pytest.approx(24 / O.get_format("phone").crop)
    assert pr.focal_basis == "equivalent" and any("equivalent" in a for a in pr.assumptions)
    assert pr.background.frac < 0.01  # a phone's discs are small
    pr = predict("50mm equivalent, Micro Four Thirds, f/1.4")
    assert pr.focal_mm == pytest.approx(25, abs=0.1)


def test_t_stop_is_used_as_the_f_number_and_said():
    pr = predict("Cooke 32mm T2 at 3 m")
    assert (pr.f_number, pr.f_kind) == (2, "T") and any("T2" in a for a in pr.assumptions)


def test_first_lens_and_its_own_aperture():
    pr = predict("35mm f/1.4 for the wide, then 85mm f/1.8 for the close-up")
    assert (pr.focal_mm, pr.f_number) == (35, 1.4)
    pr = predict("f/2.8, shot on a 50mm")
    assert (pr.focal_mm, pr.f_number) == (50, 2.8)


def test_silent_prompt_predicts_nothing():
    pr = predict("a cat on a sofa")
    assert pr.focal_mm is None and pr.background is None and pr.depth_of_field is None
    assert pr.coverage == 0 and pr.missing == COVERAGE_ITEMS
    assert pr.background_disc_px(1024) is None and pr.kelvin_for("key") is None


def test_every_named_source_has_a_table_entry_with_a_reference():
    assert {k for k, _ in LIGHT_SOURCE_PATTERNS} | {"neon"} == set(LIGHT_SOURCES)
    for s in LIGHT_SOURCES.values():
        assert s.reference
        if s.kelvin_range is not None:
            lo, hi = s.kelvin_range
            assert 1000 <= lo <= hi <= 30000
            assert s.typical_kelvin is None or lo <= s.typical_kelvin <= hi
    assert LIGHT_SOURCES["neon"].kelvin_range is None  # a tint, not a Kelvin
    assert LIGHT_SOURCES["candle"].typical_kelvin == 1900
    assert LIGHT_SOURCES["tungsten"].typical_kelvin == 3200
    assert LIGHT_SOURCES["daylight"].typical_kelvin == 5600
    assert LIGHT_SOURCES["sodium_vapour"].kelvin_range == (2200, 2700)
    assert LIGHT_SOURCES["overcast"].kelvin_range == (6500, 7500)
    assert LIGHT_SOURCES["led_screen"].kelvin_range == (6500, 9500)


def test_neon_has_a_tint_and_no_kelvin():
    (li,) = predict("pink neon signs").lights
    assert (li.tint, li.kelvin, li.basis) == ("pink", None, "none")
    assert math.isnan(li.mired_error(3000))


def test_to_dict_has_no_infinities():
    import json

    d = predict("24mm f/11 at 10 m, mountains at 2 km").to_dict(width_px=1024)
    json.dumps(d, allow_nan=False)
    assert d["depth_of_field"]["far_is_infinite"] and d["depth_of_field"]["far_m"] is None
    assert d["at_infinity"]["at_infinity"] and d["at_infinity"]["depth_m"] is None


def test_kelvin_per_light_and_delta_mired():
    pr = predict(GOOD)
    assert pr.delta_mired == pytest.approx(1e6 / 2700 - 1e6 / 6500)
    assert (pr.warm.kelvin, pr.warm.role, pr.cool.kelvin, pr.cool.role) == \
        (2700, "highlights", 6500, "fill")
    pr = predict("2200K sodium vapor key against 5600K cool ambience, tungsten rim")
    assert pr.kelvin_for("key") == 2200 and pr.kelvin_for("background") == 5600
    rim = pr.light_for("rim")
    assert (rim.kelvin, rim.basis) == (3200, "table")
    assert rim.mired_error(3200) == 0
    sodium = predict("sodium vapour streetlights").lights[0]
    assert sodium.basis == "table range" and sodium.mired_error(2400) == 0.0
    assert sodium.mired_error(5000) < 0 < sodium.mired_error(1800)


def test_orb_aspect_predictions():
    assert predict("2x anamorphic").expected_orb_aspect == 2.0
    shape = predict("anamorphic lens").orb_shape
    assert shape.aspect is None and shape.aspect_range == (1.33, 2.0)
    assert predict("circular bokeh").expected_orb_aspect == 1.0
    assert predict("85mm f/1.4").orb_shape is None


