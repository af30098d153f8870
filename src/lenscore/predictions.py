"""What a prompt's optics predict: blur-disc sizes, depth of field, Kelvin per light, orb shape.

:func:`predict` applies the thin lens (:mod:`lenscore.optics`) to the values
:func:`lenscore.datasets.optics.parse_prompt_optics` read from a prompt, and returns a
:class:`Predictions` that a metric family can hold against what it measured on a render:

* :meth:`Predictions.background_disc_px` (``width_px``) against ``focus.background_blur_px`` or
  ``bokeh.orb_diameter_frac`` -> ``physics.blur_ratio``;
* :meth:`Predictions.light_for` (``'key'``, ``'background'``) and
  :meth:`LightPrediction.mired_error` against ``color.subject_cct_k`` /
  ``color.background_cct_k`` -> ``physics.key_kelvin_error_mired``, ...;
* :attr:`Predictions.delta_mired` against ``color.delta_mired``;
* :attr:`Predictions.expected_orb_aspect` against a measured orb aspect;
* :attr:`Predictions.coverage` -> ``physics.spec_coverage``.

Every prediction says what it rests on (``basis``): a stated value, the named-source table
(:data:`LIGHT_SOURCES`), or a documented default (full frame when no format is stated); those
defaults are listed in :attr:`Predictions.assumptions`. Where the prompt is silent the prediction
is ``None`` and :attr:`Predictions.missing` says what to add.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lenscore import optics as O
from lenscore.datasets.optics import PromptOptics, parse_prompt_optics

# ---------------------------------------------------------------------------------------------
# Named light sources
# ---------------------------------------------------------------------------------------------
_WIKI_CCT = "https://en.wikipedia.org/wiki/Color_temperature (table 'Categorizing different lighting')"
_ARTICLE = "the seed article (cinematic-bokeh-portrait-tips.txt)"


@dataclass(frozen=True)
class LightSource:
    """A kind of light source and its colour temperature: ``kelvin_range`` (``None``: no
    single colour, e.g. white LEDs are made from 2700 to 6500 K; neon is a coloured
    discharge), ``typical_kelvin`` where the sources give one, and where the numbers come from."""

    key: str
    name: str
    kelvin_range: tuple[float, float] | None
    typical_kelvin: float | None
    reference: str


#: The named-source table (the parser's :data:`~lenscore.datasets.optics.LIGHT_SOURCE_PATTERNS`
#: name them). Ranges are what the references give; a stated Kelvin always wins.
LIGHT_SOURCES: dict[str, LightSource] = {s.key: s for s in (
    LightSource("candle", "candle flame", (1850.0, 1930.0), 1900.0,
                f"candle flame 1850 K ({_WIKI_CCT}); 1930 K in broadcast lighting tables; ~1900 K "
                f"in issue 18"),
    LightSource("low_pressure_sodium", "low-pressure sodium", (1700.0, 1800.0), 1700.0,
                f"low-pressure sodium (LPS/SOX) 1700 K ({_WIKI_CCT})"),
    LightSource("sodium_vapour", "sodium vapour", (2200.0, 2700.0), None,
                f"sodium vapour streetlights 2200-2700 K ({_ARTICLE}); high-pressure sodium "
                f"lamps measure about 2000-2200 K (https://en.wikipedia.org/wiki/Sodium-vapor_lamp)"),
    LightSource("tungsten", "tungsten", (2700.0, 3400.0), 3200.0,
                f"studio tungsten lamps / photofloods 3200-3400 K, household tungsten bulbs "
                f"2700 K ({_WIKI_CCT}); 3200 K is the film industry's tungsten balance"),
    LightSource("incandescent", "incandescent bulb", (2700.0, 3300.0), 2700.0,
                f"incandescent lamps 2700-3300 K ({_WIKI_CCT})"),
    LightSource("halogen", "halogen", (2800.0, 3200.0), 3000.0,
                "tungsten-halogen lamps about 3000 K (lamp makers' data; between household "
                f"incandescent and 3200 K studio lamps in {_WIKI_CCT})"),
    LightSource("warm_white_led", "warm-white LED", (2700.0, 3000.0), 2700.0,
                f"soft/warm white CFL and LED lamps 2700-3000 K ({_WIKI_CCT})"),
    LightSource("daylight_led", "daylight LED", (5000.0, 6500.0), 5600.0,
                "daylight-balanced LED panels are sold at 5600 K; 'daylight' white LEDs 5000-6500 K "
                f"({_WIKI_CCT}: 5000 K cool white/daylight lamps)"),
    LightSource("led", "LED", None, None,
                "white LEDs are made from 2700 to 6500 K: no prediction without a stated Kelvin"),
    LightSource("led_screen", "LED/LCD screen", (6500.0, 9500.0), None,
                f"LED screens 6500-9500 K ({_ARTICLE}); LCD/CRT screens 6500-9500 K ({_WIKI_CCT})"),
    LightSource("daylight", "daylight", (5500.0, 6000.0), 5600.0,
                f"vertical daylight 5500-6000 K ({_WIKI_CCT}); 5600 K the film industry's daylight "
                f"balance; daylight 5600 K in issue 18"),
    LightSource("overcast", "overcast daylight", (6500.0, 7500.0), None,
                f"overcast daylight 6500-7500 K ({_ARTICLE}); 'daylight, overcast' 6500 K "
                f"({_WIKI_CCT})"),
    LightSource("golden_hour", "golden-hour sun", (3000.0, 3500.0), 3500.0,
                "around 3500 K during the golden hour, 2000 K with the sun at the horizon "
                "(https://en.wikipedia.org/wiki/Golden_hour_(photography)); photographic "
                "guides give 3000-3500 K"),
    LightSource("blue_hour", "blue-hour skylight", (8000.0, 12000.0), None,
                "the blue hour's skylight is quoted at about 8000-12000 K in photographic guides "
                "(no single value; clear blue sky 15000-27000 K in the Wikipedia table)"),
    LightSource("flash", "electronic flash", (5500.0, 6000.0), 5500.0,
                f"electronic flash 5500-6000 K ({_WIKI_CCT})"),
    LightSource("hmi", "HMI", (5600.0, 6000.0), 5600.0,
                "HMI (hydrargyrum medium-arc iodide) lamps are daylight balanced, 5600 K "
                "(https://en.wikipedia.org/wiki/Hydrargyrum_medium-arc_iodide_lamp)"),
    LightSource("neon", "neon", None, None,
                "neon and coloured gas-discharge tubes are a tint (a colour far from the Planckian "
                "locus), not a colour temperature"),
)}


def _mired_mid(lo: float, hi: float) -> float:
    """The middle of a Kelvin range on the mired scale (perceptually even)."""
    return 1e6 / ((1e6 / lo + 1e6 / hi) / 2.0)


# ---------------------------------------------------------------------------------------------
# Prediction objects
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DiscPrediction:
    """The blur disc of a point at one stated depth (or depth range).

    ``label``: what is there (``crowd at 20 m``); ``role``: ``background``, ``object`` or
    ``infinity`` (the largest disc any background can make); ``depth_m`` from the camera
    (``inf`` for the limit) or ``depth_range_m``; ``basis``: how the depth follows from the
    prompt. ``coc_mm`` on the sensor and ``frac`` of the frame's long side (ranges for a depth
    range); ``in_front``: nearer than the focus plane.
    """

    label: str
    role: str
    basis: str
    coc_mm: float | None
    frac: float | None
    depth_m: float | None = None
    depth_range_m: tuple[float, float] | None = None
    coc_mm_range: tuple[float, float] | None = None
    frac_range: tuple[float, float] | None = None
    in_front: bool = False
    span: tuple[int, int] | None = None

    def px(self, width_px: float) -> float | None:
        """Disc diameter in pixels of a render ``width_px`` wide (its long side)."""
        return None if self.frac is None else self.frac * float(width_px)

    def px_range(self, width_px: float) -> tuple[float, float] | None:
        fr = self.frac_range
        return None if fr is None else (fr[0] * float(width_px), fr[1] * float(width_px))

    def to_dict(self, width_px: float | None = None) -> dict:
        d = {"label": self.label, "role": self.role, "basis": self.basis,
             "depth_m": _finite(self.depth_m), "at_infinity": self.depth_m == math.inf,
             "depth_range_m": _lst(self.depth_range_m), "coc_mm": self.coc_mm,
             "coc_mm_range": _lst(self.coc_mm_range), "frac": self.frac,
             "frac_range": _lst(self.frac_range), "in_front": self.in_front,
             "span": _lst(self.span)}
        if width_px:
            d["width_px"] = width_px
            d["px"] = self.px(width_px)
            d["px_range"] = _lst(self.px_range(width_px))
        return d


@dataclass(frozen=True)
class LightPrediction:
    """The expected colour of one light: ``kelvin`` (stated, else the table's typical value,
    else the middle of its range in mired), ``kelvin_range`` (stated range, or the table's),
    ``basis`` (``stated``, ``table``, ``table range`` or ``none``), with its ``role``
    (key, fill, rim, background, highlights or None) and ``tint`` (neon)."""

    text: str
    span: tuple[int, int]
    role: str | None
    source: str | None
    kelvin: float | None
    kelvin_range: tuple[float, float] | None
    basis: str
    tint: str | None = None
    hue: str | None = None
    reference: str = ""

    @property
    def mired(self) -> float | None:
        return None if self.kelvin is None else O.mired(self.kelvin)

    def mired_error(self, measured_kelvin: float) -> float:
        """Signed error of a measured colour temperature, mired (positive: the render is warmer).

        Against a stated Kelvin: ``mired(measured) - mired(stated)``. Against a range (stated
        or from the table): the distance to the nearer end, 0 inside. ``nan`` when the light has
        no colour temperature (neon, a generic LED) or the measurement is not a positive number.
        """
        try:
            m = O.mired(measured_kelvin)
        except Exception:
            return math.nan
        if self.basis == "stated" and self.kelvin is not None:
            return m - O.mired(self.kelvin)
        if self.kelvin_range is not None:
            lo_m, hi_m = O.mired(self.kelvin_range[1]), O.mired(self.kelvin_range[0])
            return 0.0 if lo_m <= m <= hi_m else (m - hi_m if m > hi_m else m - lo_m)
        if self.kelvin is not None:
            return m - O.mired(self.kelvin)
        return math.nan

    def to_dict(self) -> dict:
        return {"text": self.text, "span": list(self.span), "role": self.role,
                "source": self.source, "kelvin": self.kelvin, "mired": self.mired,
                "kelvin_range": _lst(self.kelvin_range), "basis": self.basis, "tint": self.tint,
                "hue": self.hue, "reference": self.reference}


@dataclass(frozen=True)
class OrbShapePrediction:
    """Expected shape of the bokeh orbs: ``kind`` (circular, anamorphic, oval, cats_eye,
    swirly, soap_bubble, polygonal, onion_ring, streaks), ``aspect`` (long / short axis; 1.0
    for a circle; the squeeze for an anamorphic whose squeeze is stated) or ``aspect_range``,
    ``orientation`` of the long axis (``vertical`` for a front anamorphic; ``tangential`` for
    cat's-eye and swirly, growing toward the corners), ``blades``, ``streaks``."""

    kind: str
    basis: str
    aspect: float | None = None
    aspect_range: tuple[float, float] | None = None
    orientation: str | None = None
    blades: int | None = None
    streaks: str | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return {"kind": self.kind, "basis": self.basis, "aspect": self.aspect,
                "aspect_range": _lst(self.aspect_range), "orientation": self.orientation,
                "blades": self.blades, "streaks": self.streaks, "note": self.note}


#: What :attr:`Predictions.coverage` counts: the parts of the optical system a render can be
#: checked against.
COVERAGE_ITEMS = ("focal length", "aperture", "subject distance", "background distance",
                  "light colour (Kelvin)", "light roles")


@dataclass(frozen=True)
class Predictions:
    """The thin-lens and light-source predictions of one prompt (see the module docstring)."""

    focal_mm: float | None = None
    focal_basis: str = "none"
    f_number: float | None = None
    f_kind: str = "f"
    sensor: O.SensorFormat = O.FULL_FRAME
    sensor_basis: str = "default"
    subject_m: float | None = None
    equivalent_focal_mm: float | None = None
    equivalent_f_number: float | None = None
    field_of_view_deg: float | None = None
    depth_of_field: O.DepthOfField | None = None
    discs: tuple[DiscPrediction, ...] = ()
    background: DiscPrediction | None = None
    at_infinity: DiscPrediction | None = None
    lights: tuple[LightPrediction, ...] = ()
    warm: LightPrediction | None = None
    cool: LightPrediction | None = None
    delta_mired: float | None = None
    orb_shape: OrbShapePrediction | None = None
    assumptions: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    coverage: float = 0.0
    notes: tuple[str, ...] = field(default=())

    # -- what a metric family asks ----------------------------------------------------------
    def background_disc_px(self, width_px: float) -> float | None:
        """Predicted background blur-disc diameter in pixels of a render ``width_px`` wide
        (the first stated background depth; ``None`` if the prompt does not pin it down)."""
        return None if self.background is None else self.background.px(width_px)

    @property
    def background_disc_frac(self) -> float | None:
        return None if self.background is None else self.background.frac

    def light_for(self, role: str) -> LightPrediction | None:
        """The first light the prompt ties to ``role`` (key, fill, rim, background,
        highlights), or None."""
        return next((li for li in self.lights if li.role == role), None)

    def kelvin_for(self, role: str) -> float | None:
        li = self.light_for(role)
        return None if li is None else li.kelvin

    @property
    def expected_orb_aspect(self) -> float | None:
        return None if self.orb_shape is None else self.orb_shape.aspect

    @property
    def can_predict_discs(self) -> bool:
        return self.focal_mm is not None and self.f_number is not None and self.subject_m is not None

    def to_dict(self, width_px: float | None = None) -> dict:
        return {
            "focal_mm": self.focal_mm, "focal_basis": self.focal_basis,
            "f_number": self.f_number, "f_kind": self.f_kind,
            "sensor": self.sensor.to_dict(), "sensor_basis": self.sensor_basis,
            "subject_m": self.subject_m, "equivalent_focal_mm": self.equivalent_focal_mm,
            "equivalent_f_number": self.equivalent_f_number,
            "field_of_view_deg": self.field_of_view_deg,
            "depth_of_field": None if self.depth_of_field is None else self.depth_of_field.to_dict(),
            "discs": [d.to_dict(width_px) for d in self.discs],
            "background": None if self.background is None else self.background.to_dict(width_px),
            "at_infinity": None if self.at_infinity is None else self.at_infinity.to_dict(width_px),
            "lights": [li.to_dict() for li in self.lights],
            "warm": None if self.warm is None else self.warm.to_dict(),
            "cool": None if self.cool is None else self.cool.to_dict(),
            "delta_mired": self.delta_mired,
            "orb_shape": None if self.orb_shape is None else self.orb_shape.to_dict(),
            "expected_orb_aspect": self.expected_orb_aspect,
            "assumptions": list(self.assumptions), "missing": list(self.missing),
            "coverage": self.coverage, "notes": list(self.notes),
        }


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


def _lst(t) -> list | None:
    return None if t is None else [(_finite(v) if isinstance(v, float) else v) for v in t]


def _m(x: float) -> str:
    """Metres for labels: 2.5 m, 20 m, 1.22 m."""
    return f"{x:.3g} m" if x < 100 else f"{x:.0f} m"


# ---------------------------------------------------------------------------------------------
# Prediction
# ---------------------------------------------------------------------------------------------
#: A focal length above this on a phone format is read as a 35 mm equivalent (phone lenses are
#: 2-10 mm; makers and people quote the equivalent).
PHONE_MAX_REAL_FOCAL_MM = 12.0


def predict(optics: PromptOptics | str) -> Predictions:
    """Thin-lens and light-source predictions for a prompt (or its parsed optics).

    Choices, each recorded in ``assumptions`` when it is not a stated value:

    * the lens is the first stated focal length; its aperture the f-number written next to it
      (else the first one); a T-stop is used as the f-number (a T-stop is never smaller);
    * the format is the first stated (a format word, film size or camera body), else full frame;
      a focal length stated as an equivalent (or above 12 mm on a phone) is divided by the crop;
    * the subject distance is the first stated one; a background depth is a stated background
      distance (from the camera, or ``behind`` the subject: added to the subject distance), or
      the ratio times the subject distance; the *background* disc is the first of those;
    * each light's Kelvin is stated, else the named-source table's typical value, else the
      middle (in mired) of its range.
    """
    p = parse_prompt_optics(optics) if isinstance(optics, str) else optics
    assumptions: list[str] = []
    notes: list[str] = []

    # -- format ------------------------------------------------------------------------------
    if p.formats:
        fm = p.formats[0]
        sensor = O.get_format(fm.key)
        sensor_basis = {"camera": "camera", "film": "film"}.get(fm.via, "stated")
        if fm.note:
            assumptions.append(fm.note)
    else:
        sensor, sensor_basis = O.FULL_FRAME, "default"
        assumptions.append("full frame (36 x 24 mm): no format stated")

    # -- lens ----------------------------------------------------------------------------------
    focal_mm = None
    focal_basis = "none"
    lens = next((f for f in p.focal_lengths if f.mm is not None), None)
    if lens is not None:
        focal_mm = lens.mm
        focal_basis = "stated"
        if lens.equivalent and sensor.crop != 1.0:
            focal_mm = lens.mm / sensor.crop
            focal_basis = "equivalent"
            assumptions.append(f"{lens.text} is a full-frame equivalent: {focal_mm:.3g} mm on "
                               f"the {sensor.name} (crop {sensor.crop:.2f})")
        elif sensor.key == "phone" and lens.mm > PHONE_MAX_REAL_FOCAL_MM:
            focal_mm = lens.mm / sensor.crop
            focal_basis = "equivalent"
            assumptions.append(f"{lens.text} on a phone is read as a 35 mm equivalent: "
                               f"{focal_mm:.3g} mm real focal length (crop {sensor.crop:.2f})")
    elif any(f.zoom_mm for f in p.focal_lengths):
        notes.append("a zoom's range gives no focal length: say the focal length used")
    aperture = _paired_aperture(p, lens)
    f_number, f_kind = None, "f"
    if aperture is not None:
        f_number, f_kind = aperture.value, aperture.kind
        if f_kind == "T":
            assumptions.append(f"T{aperture.value:g} used as f/{aperture.value:g} (a T-stop counts "
                               f"transmission losses: the f-number is slightly smaller, the discs "
                               f"slightly larger)")

    # -- subject distance ----------------------------------------------------------------------
    subj = next((d for d in p.distances if d.role == "subject" and d.metres), None)
    subject_m = subj.metres if subj is not None else None
    if subject_m is not None and focal_mm is not None and subject_m * 1000.0 <= focal_mm:
        notes.append(f"the subject at {_m(subject_m)} is inside the focal length "
                     f"({focal_mm:g} mm): no lens focuses there")
        subject_m_ok = False
    else:
        subject_m_ok = subject_m is not None

    eq_focal = None if focal_mm is None else O.equivalent_focal_mm(focal_mm, sensor)
    eq_n = None if f_number is None else O.equivalent_f_number(f_number, sensor)
    fov = None if focal_mm is None else O.field_of_view_deg(focal_mm, sensor)

    # -- depths -------------------------------------------------------------------------------
    discs: list[DiscPrediction] = []
    depths: list[tuple[str, str, str, float | None, tuple[float, float] | None, tuple]] = []
    for d in p.distances:
        if d.role == "subject":
            continue
        what = d.noun or ("background" if d.role == "background" else "object")
        if d.relative == "behind_subject":
            if subject_m is None:
                notes.append(f"'{d.text} behind' needs the subject distance to become a depth")
                continue
            if d.range_m:
                rng = (subject_m + d.range_m[0], subject_m + d.range_m[1])
                depths.append((f"{what} {_m(d.range_m[0])[:-2]}-{_m(d.range_m[1])} behind",
                               d.role, f"stated {d.text} behind the subject at {_m(subject_m)}",
                               None, rng, d.span))
            else:
                depths.append((f"{what} {_m(d.metres)} behind", d.role,
                               f"stated {d.text} behind the subject at {_m(subject_m)} "
                               f"(= {_m(subject_m + d.metres)} from the camera)",
                               subject_m + d.metres, None, d.span))
        elif d.range_m:
            depths.append((f"{what} at {_m(d.range_m[0])[:-2]}-{_m(d.range_m[1])}", d.role,
                           f"stated {d.text}", None, d.range_m, d.span))
        else:
            depths.append((f"{what} at {_m(d.metres)}", d.role, f"stated {d.text}", d.metres,
                           None, d.span))
    for r in p.ratios:
        if subject_m is None:
            notes.append(f"'{r.text}' needs the subject distance to become a depth")
            continue
        depth = r.background_over_subject * subject_m
        depths.append((f"background at {_m(depth)} (1:{r.background_over_subject:g})",
                       "background", f"ratio 1:{r.background_over_subject:g} x subject "
                       f"{_m(subject_m)}", depth, None, r.span))

    lens_ok = focal_mm is not None and f_number is not None and subject_m_ok
    background = at_inf = None
    dof = None
    if lens_ok:
        for label, role, basis, depth, rng, span in depths:
            if depth is not None:
                c = O.coc_diameter_mm(focal_mm, f_number, subject_m, depth)
                discs.append(DiscPrediction(label, role, basis, c, c / sensor.width_mm,
                                            depth_m=depth, coc_mm_range=(c, c),
                                            frac_range=(c / sensor.width_mm,) * 2,
                                            in_front=depth < subject_m, span=span))
            else:
                c0 = O.coc_diameter_mm(focal_mm, f_number, subject_m, rng[0])
                c1 = O.coc_diameter_mm(focal_mm, f_number, subject_m, rng[1])
                lo, hi = min(c0, c1), max(c0, c1)
                discs.append(DiscPrediction(label, role, basis, None, None, depth_range_m=rng,
                                            coc_mm_range=(lo, hi),
                                            frac_range=(lo / sensor.width_mm, hi / sensor.width_mm),
                                            in_front=rng[1] < subject_m, span=span))
        cinf = O.coc_at_infinity_mm(focal_mm, f_number, subject_m)
        at_inf = DiscPrediction("background at infinity", "infinity",
                                "limit: the largest disc any background can make", cinf,
                                cinf / sensor.width_mm, depth_m=math.inf, coc_mm_range=(cinf, cinf),
                                frac_range=(cinf / sensor.width_mm,) * 2)
        stated_bg = [d for d in discs if d.role == "background" and not d.basis.startswith("ratio")]
        ratio_bg = [d for d in discs if d.basis.startswith("ratio")]
        objects_behind = [d for d in discs if d.role == "object" and not d.in_front]
        background = (stated_bg or ratio_bg or objects_behind or [None])[0]
        dof = O.depth_of_field(focal_mm, f_number, subject_m, sensor=sensor)

    # -- lights -------------------------------------------------------------------------------
    lights: list[LightPrediction] = []
    for li in p.lights:
        src = LIGHT_SOURCES.get(li.source) if li.source else None
        ref = src.reference if src else ""
        if li.kelvin is not None:
            k, rng, basis = li.kelvin, (li.kelvin, li.kelvin), "stated"
        elif li.kelvin_range is not None:
            k, rng, basis = _mired_mid(*li.kelvin_range), li.kelvin_range, "stated"
        elif src is not None and src.kelvin_range is not None:
            rng = src.kelvin_range
            if src.typical_kelvin is not None:
                k, basis = src.typical_kelvin, "table"
            else:
                k, basis = _mired_mid(*rng), "table range"
        else:
            k, rng, basis = None, None, "none"
        lights.append(LightPrediction(li.text, li.span, li.role, li.source, k, rng, basis,
                                      li.tint, li.hue, ref))
    coloured = [li for li in lights if li.kelvin is not None]
    warm = cool = None
    delta = None
    if len(coloured) >= 2:
        warm = min(coloured, key=lambda li: li.kelvin)
        cool = max(coloured, key=lambda li: li.kelvin)
        if cool.kelvin > warm.kelvin:
            delta = O.mired_difference(warm.kelvin, cool.kelvin)
        else:
            warm = cool = None

    # -- orb shape ------------------------------------------------------------------------------
    orb = _orb_shape(p)

    # -- coverage -----------------------------------------------------------------------------
    have = {
        "focal length": focal_mm is not None,
        "aperture": f_number is not None,
        "subject distance": subject_m is not None,
        "background distance": any(d.role == "background" for d in p.distances) or bool(p.ratios),
        "light colour (Kelvin)": bool(coloured),
        "light roles": any(li.role for li in p.lights),
    }
    missing = tuple(k for k in COVERAGE_ITEMS if not have[k])
    coverage = sum(have.values()) / len(have)
    return Predictions(focal_mm, focal_basis, f_number, f_kind, sensor, sensor_basis, subject_m,
                       eq_focal, eq_n, fov, dof, tuple(discs), background, at_inf, tuple(lights),
                       warm, cool, delta, orb, tuple(assumptions), missing, coverage,
                       tuple(dict.fromkeys(notes)))


def _paired_aperture(p: PromptOptics, lens):
    """The f-number written next to the lens (within 40 characters, after it first), else the
    first stated one."""
    aps = [a for a in p.apertures if a.value is not None]
    if not aps:
        return None
    if lens is not None:
        after = [a for a in aps if 0 <= a.span[0] - lens.span[1] <= 40]
        if after:
            return after[0]
        before = [a for a in aps if 0 <= lens.span[0] - a.span[1] <= 40]
        if before:
            return before[-1]
    return aps[0]


_ORB_WORDS = ("circular", "oval", "polygonal", "soap_bubble", "onion_ring")


def _orb_shape(p: PromptOptics) -> OrbShapePrediction | None:
    """Words about the orbs themselves (circular, oval, polygonal, soap-bubble) win over the
    lens character (anamorphic, cat's-eye, swirly), which predicts them."""
    if not p.character:
        return None
    by_kind = {}
    for c in p.character:
        by_kind.setdefault(c.kind, c)
        if c.kind == "anamorphic" and c.squeeze is not None:
            by_kind["anamorphic"] = c
    streaks = "horizontal" if ("anamorphic" in by_kind or "streaks" in by_kind) else None
    for kind in _ORB_WORDS:
        if kind in by_kind:
            c = by_kind[kind]
            if kind == "oval":
                return OrbShapePrediction("oval", "stated", None, None, None, None, streaks,
                                          "elongated orbs (aspect > 1), ratio not stated")
            if kind == "polygonal":
                return OrbShapePrediction("polygonal", "stated", 1.0, None, None, c.blades, streaks,
                                          f"{c.blades}-sided orbs" if c.blades else "")
            note = {"soap_bubble": "circular with a bright rim", "onion_ring":
                    "circular with concentric rings"}.get(kind, "")
            return OrbShapePrediction(kind, "stated", 1.0, None, None, None, streaks, note)
    if "anamorphic" in by_kind:
        c = by_kind["anamorphic"]
        if c.squeeze is not None:
            return OrbShapePrediction("anamorphic", "stated squeeze", c.squeeze, None, "vertical",
                                      None, "horizontal",
                                      f"a front anamorphic's orbs are ovals {c.squeeze:g}x taller "
                                      f"than wide (the squeeze)")
        return OrbShapePrediction("anamorphic", "typical squeeze", None, (1.33, 2.0), "vertical",
                                  None, "horizontal",
                                  "squeeze not stated: common anamorphics squeeze 1.33x-2x "
                                  "(https://en.wikipedia.org/wiki/Anamorphic_format)")
    for kind, note in (("cats_eye", "circular in the centre, squeezed along the radius toward "
                                    "the corners (mechanical vignetting)"),
                       ("swirly", "cat's-eye orbs around the centre (curvature of field)")):
        if kind in by_kind:
            return OrbShapePrediction(kind, "stated", None, None, "tangential", None, streaks, note)
    if "streaks" in by_kind:
        return OrbShapePrediction("streaks", "stated", None, None, None, None, "horizontal",
                                  "horizontal flare streaks; the orbs' shape is not stated")
    return None


__all__ = ["COVERAGE_ITEMS", "DiscPrediction", "LIGHT_SOURCES", "LightPrediction", "LightSource",
           "OrbShapePrediction", "Predictions", "predict"]
