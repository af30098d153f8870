"""Thin-lens optics: blur discs, depth of field, sensor formats, equivalence and mired.

Pure functions on numbers (no I/O, no state, no heavy imports): what a lens focused at ``s``
does to a point at depth ``d``, what a sensor format does to that, and the arithmetic of
colour temperature in mired. :mod:`lenscore.predictions` applies them to the optics a prompt
states; the synthetic renderer draws its ground truth with the same formula.

Method
------
Blur-disc (circle of confusion) diameter on the sensor of a point at distance ``d`` for a thin
lens of focal length ``f`` and f-number ``N`` focused at ``s`` (all distances from the lens)::

    c = f^2 / (N (s - f)) * |d - s| / d

It is zero on the focus plane, grows with the aperture (1/N) and with the distance behind the
focus plane, and tends to ``f^2 / (N (s - f))`` for a background at infinity. Depth of field
from the hyperfocal distance ``H = f^2 / (N c0) + f``::

    near = s (H - f) / (H + s - 2 f)        far = s (H - f) / (H - s)   (infinite if s >= H)

with the acceptable circle of confusion ``c0 = 0.03 mm`` on full frame (36 x 24 mm), scaled
by the crop factor on other formats (the same print seen from the same distance).

Crop factor is the ratio of the full-frame diagonal (43.27 mm) to the format's diagonal. On a
format of crop ``k``, a lens of focal length ``f`` at ``f/N`` frames like ``k f`` on full frame
and, at the same framing and distance, gives the depth of field and background blur of
``f/(k N)`` on full frame: the *equivalent* focal length and f-number (exact for the field of
view; for blur exact in the limit ``s >> f``).

Mired (micro reciprocal degree) is ``1e6 / K``; equal steps in mired are about equally visible
steps of colour, so light-source differences are given in mired, not Kelvin.

References
----------
.. [1] Depth of field, formulae from the hyperfocal distance ("DOF limits"),
       https://en.wikipedia.org/wiki/Depth_of_field
.. [2] Circle of confusion (thin-lens blur-disc diameter; the 0.03 mm full-frame criterion),
       https://en.wikipedia.org/wiki/Circle_of_confusion
.. [3] Hyperfocal distance, https://en.wikipedia.org/wiki/Hyperfocal_distance
.. [4] Crop factor and equivalence, https://en.wikipedia.org/wiki/Crop_factor
.. [5] S. F. Ray, *Applied Photographic Optics*, 3rd ed., Focal Press 2002, ch. 6 and 15.
.. [6] Mired, https://en.wikipedia.org/wiki/Mired
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lenscore.errors import InputError

#: Full-frame (35 mm still) diagonal, mm: sqrt(36^2 + 24^2).
FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)
#: Acceptable circle of confusion on full frame, mm (the usual d/1442-1500 criterion, [2]).
FULL_FRAME_COC_MM = 0.03


@dataclass(frozen=True)
class SensorFormat:
    """A capture format: its size in mm and where the numbers come from.

    ``crop`` is the full-frame diagonal over this format's diagonal. The renders' long side is
    taken to span the format's long side (``width_mm``).
    """

    key: str
    name: str
    width_mm: float
    height_mm: float
    note: str = ""

    @property
    def diagonal_mm(self) -> float:
        return math.hypot(self.width_mm, self.height_mm)

    @property
    def crop(self) -> float:
        """Crop factor: full-frame diagonal / this diagonal (1.0 for full frame)."""
        return FULL_FRAME_DIAGONAL_MM / self.diagonal_mm

    @property
    def coc_mm(self) -> float:
        """Acceptable circle of confusion on this format: 0.03 mm / crop."""
        return FULL_FRAME_COC_MM / self.crop

    def to_dict(self) -> dict:
        return {**asdict(self), "crop": round(self.crop, 4), "coc_mm": round(self.coc_mm, 5)}


def _fmt(key: str, name: str, w: float, h: float, note: str) -> SensorFormat:
    return SensorFormat(key, name, w, h, note)


#: Sensor and film formats by key. Sizes from the manufacturers' specifications as collected at
#: https://en.wikipedia.org/wiki/Image_sensor_format (digital) and the film-format pages cited.
SENSOR_FORMATS: dict[str, SensorFormat] = {f.key: f for f in (
    _fmt("full_frame", "full frame", 36.0, 24.0,
         "35 mm still format, 36 x 24 mm (also 35 mm film): crop 1.0, the default"),
    _fmt("aps_c", "APS-C", 24.0, 16.0,
         "Nikon DX / Sony / Fujifilm APS-C, nominal 1.5x crop (23.5-23.6 x 15.6 mm in practice)"),
    _fmt("aps_c_canon", "APS-C (Canon)", 22.3, 14.9, "Canon APS-C, 1.6x crop"),
    _fmt("micro_four_thirds", "Micro Four Thirds", 17.3, 13.0,
         "Four Thirds System sensor 17.3 x 13.0 mm: 2.0x crop"),
    _fmt("medium_format", "medium format", 44.0, 33.0,
         "digital medium format 44 x 33 mm (Fujifilm GFX, Hasselblad X, Pentax 645Z): 0.79x"),
    _fmt("medium_format_645", "medium format 645 (full size)", 53.4, 40.0,
         "full-size 645 digital back 53.4 x 40.0 mm (Phase One IQ4 150MP): 0.65x"),
    _fmt("phone", "phone main camera", 9.8, 7.35,
         "a typical flagship phone main camera (1/1.28-inch type, 9.8 x 7.35 mm, e.g. the iPhone "
         "15 Pro's 6.86 mm lens sold as 24 mm equivalent): 3.5x crop. Older and secondary phone "
         "cameras are smaller (crop 5-7): their discs are smaller still"),
    _fmt("super35", "Super 35", 24.89, 18.66,
         "Super 35 motion-picture frame (3-perf/4-perf area 24.89 x 18.66 mm; ARRI Alexa "
         "open gate is similar): 1.39x, https://en.wikipedia.org/wiki/Super_35"),
    _fmt("super16", "Super 16 film", 12.52, 7.41,
         "Super 16 frame 12.52 x 7.41 mm, https://en.wikipedia.org/wiki/16_mm_film: 3.0x"),
    _fmt("super8", "Super 8 film", 5.79, 4.01,
         "Super 8 frame 5.79 x 4.01 mm, https://en.wikipedia.org/wiki/Super_8_film: 6.1x"),
    _fmt("film65", "65 mm film (5-perf)", 52.48, 23.01,
         "65 mm camera negative, 5-perf frame 52.48 x 23.01 mm (70 mm prints; also ARRI Alexa 65 "
         "at 54.12 x 25.58): 0.76x, https://en.wikipedia.org/wiki/70_mm_film"),
)}
FULL_FRAME = SENSOR_FORMATS["full_frame"]


def get_format(key: str | SensorFormat | None) -> SensorFormat:
    """A :class:`SensorFormat` by key (``None`` is full frame)."""
    if key is None:
        return FULL_FRAME
    if isinstance(key, SensorFormat):
        return key
    try:
        return SENSOR_FORMATS[key]
    except KeyError:
        raise InputError(f"unknown sensor format {key!r}; expected one of "
                         f"{', '.join(SENSOR_FORMATS)}") from None


# ---------------------------------------------------------------------------------------------
# Blur discs
# ---------------------------------------------------------------------------------------------
def _check_lens(focal_mm: float, f_number: float, focus_m: float) -> tuple[float, float, float]:
    f, n, s = float(focal_mm), float(f_number), float(focus_m) * 1000.0
    if not (f > 0 and n > 0 and math.isfinite(f) and math.isfinite(n)):
        raise InputError(f"focal length and f-number must be positive, got f={focal_mm} mm, "
                         f"N={f_number}")
    if not (s > f and math.isfinite(s)):
        raise InputError(f"focus distance must be finite and beyond the focal length: got "
                         f"s={focus_m} m for f={focal_mm} mm; focus farther away")
    return f, n, s


def coc_diameter_mm(focal_mm: float, f_number: float, focus_m: float, depth_m: float) -> float:
    """Thin-lens blur-disc (circle of confusion) diameter on the sensor, in mm.

    Parameters
    ----------
    focal_mm : float
        Focal length (the lens's real one, not a full-frame equivalent), mm.
    f_number : float
        f-number N (focal length over entrance-pupil diameter).
    focus_m : float
        Focus distance s from the lens, m; must exceed the focal length.
    depth_m : float
        Distance d of the point from the lens, m; may be ``inf``.

    Returns
    -------
    float
        ``c = f^2 / (N (s - f)) * |d - s| / d`` in mm (``f^2 / (N (s - f))`` at infinity).

    Raises
    ------
    InputError
        for a non-positive or non-finite focal length or f-number, a focus distance inside the
        focal length, or a non-positive depth.

    References
    ----------
    .. [1] https://en.wikipedia.org/wiki/Circle_of_confusion ("Determining a circle of
           confusion diameter from the object field"); Ray, *Applied Photographic Optics*, ch. 6.

    Examples
    --------
    >>> round(coc_diameter_mm(85, 1.4, 2.5, 20.0), 4)
    1.8698
    >>> coc_diameter_mm(85, 1.4, 2.5, 2.5)
    0.0
    """
    f, n, s = _check_lens(focal_mm, f_number, focus_m)
    d = float(depth_m) * 1000.0
    if not d > 0:  # also NaN
        raise InputError(f"object distance must be positive, got {depth_m} m")
    k = f * f / (n * (s - f))
    if math.isinf(d):
        return k
    return k * abs(d - s) / d


def coc_fraction(focal_mm: float, f_number: float, focus_m: float, depth_m: float, *,
                 sensor: str | SensorFormat | None = None) -> float:
    """Blur-disc diameter as a fraction of the frame's long side (0.052 = 5.2 %).

    Examples
    --------
    >>> round(coc_fraction(85, 1.4, 2.5, 20.0), 4)
    0.0519
    >>> round(coc_fraction(85, 1.4, 2.5, 5.0), 4)
    0.0297
    """
    return coc_diameter_mm(focal_mm, f_number, focus_m, depth_m) / get_format(sensor).width_mm


def coc_diameter_px(focal_mm: float, f_number: float, focus_m: float, depth_m: float, *,
                    sensor_mm: float = 36.0, width_px: int = 1024) -> float:
    """Blur-disc diameter in pixels of a render whose long side (``width_px``) spans the
    sensor's long side (``sensor_mm``): ``c_mm / sensor_mm * width_px``.

    Same signature as :func:`lenscore.datasets.synthetic.coc_diameter_px`.

    Examples
    --------
    >>> round(coc_diameter_px(85, 1.4, 2.5, 20.0, width_px=1024))
    53
    """
    if not (sensor_mm > 0 and width_px > 0):
        raise InputError(f"sensor width and image width must be positive, got {sensor_mm} mm, "
                         f"{width_px} px")
    return coc_diameter_mm(focal_mm, f_number, focus_m, depth_m) / float(sensor_mm) * float(width_px)


def coc_at_infinity_mm(focal_mm: float, f_number: float, focus_m: float) -> float:
    """The largest disc any background can make: a point at infinity, ``f^2 / (N (s - f))``."""
    return coc_diameter_mm(focal_mm, f_number, focus_m, math.inf)


# ---------------------------------------------------------------------------------------------
# Depth of field
# ---------------------------------------------------------------------------------------------
def hyperfocal_mm(focal_mm: float, f_number: float, coc_mm: float = FULL_FRAME_COC_MM) -> float:
    """Hyperfocal distance ``H = f^2 / (N c0) + f`` in mm.

    References
    ----------
    .. [1] https://en.wikipedia.org/wiki/Hyperfocal_distance

    Examples
    --------
    >>> round(hyperfocal_mm(85, 1.4) / 1000, 1)  # metres
    172.1
    """
    f, n = float(focal_mm), float(f_number)
    c0 = float(coc_mm)
    if not (f > 0 and n > 0 and c0 > 0 and math.isfinite(f * n * c0)):
        raise InputError(f"focal length, f-number and circle of confusion must be positive, got "
                         f"f={focal_mm} mm, N={f_number}, c0={coc_mm} mm")
    return f * f / (n * c0) + f


@dataclass(frozen=True)
class DepthOfField:
    """Near and far limits of acceptable sharpness, m (``far_m`` is ``inf`` beyond the
    hyperfocal distance)."""

    near_m: float
    far_m: float
    focus_m: float
    hyperfocal_m: float
    coc_mm: float

    @property
    def total_m(self) -> float:
        return self.far_m - self.near_m

    @property
    def far_is_infinite(self) -> bool:
        return math.isinf(self.far_m)

    def to_dict(self) -> dict:
        return {"near_m": self.near_m, "far_m": None if self.far_is_infinite else self.far_m,
                "far_is_infinite": self.far_is_infinite, "focus_m": self.focus_m,
                "hyperfocal_m": self.hyperfocal_m, "coc_mm": self.coc_mm,
                "total_m": None if self.far_is_infinite else self.total_m}


def depth_of_field(focal_mm: float, f_number: float, focus_m: float, *,
                   sensor: str | SensorFormat | None = None,
                   coc_mm: float | None = None) -> DepthOfField:
    """Depth-of-field limits around the focus distance.

    ``near = s (H - f) / (H + s - 2f)``, ``far = s (H - f) / (H - s)`` (infinite when
    ``s >= H``), with ``H`` the hyperfocal distance for ``coc_mm`` (default: 0.03 mm on full
    frame divided by the format's crop factor).

    References
    ----------
    .. [1] https://en.wikipedia.org/wiki/Depth_of_field ("DOF limits")

    Examples
    --------
    >>> dof = depth_of_field(85, 1.4, 2.5)
    >>> round(dof.near_m, 2), round(dof.far_m, 2)
    (2.47, 2.54)
    """
    f, n, s = _check_lens(focal_mm, f_number, focus_m)
    c0 = get_format(sensor).coc_mm if coc_mm is None else float(coc_mm)
    h = hyperfocal_mm(f, n, c0)
    near = s * (h - f) / (h + s - 2 * f)
    far = math.inf if s >= h else s * (h - f) / (h - s)
    return DepthOfField(near / 1000.0, far / 1000.0, s / 1000.0, h / 1000.0, c0)


# ---------------------------------------------------------------------------------------------
# Formats and equivalence
# ---------------------------------------------------------------------------------------------
def equivalent_focal_mm(focal_mm: float, sensor: str | SensorFormat | None = None) -> float:
    """Full-frame equivalent focal length (same field of view): ``crop * f``."""
    return float(focal_mm) * get_format(sensor).crop


def equivalent_f_number(f_number: float, sensor: str | SensorFormat | None = None) -> float:
    """Full-frame equivalent f-number (same depth of field and background blur at the same
    framing): ``crop * N`` ([4]; Camera Settings as Tokens' ``FNumberIn35mmFilm``)."""
    return float(f_number) * get_format(sensor).crop


def field_of_view_deg(focal_mm: float, sensor: str | SensorFormat | None = None, *,
                      axis: str = "horizontal") -> float:
    """Angle of view, degrees, for a lens focused at infinity: ``2 atan(size / 2f)``.

    ``axis`` is ``horizontal`` (long side), ``vertical`` or ``diagonal``.

    Examples
    --------
    >>> round(field_of_view_deg(50), 1)
    39.6
    """
    fmt = get_format(sensor)
    size = {"horizontal": fmt.width_mm, "vertical": fmt.height_mm,
            "diagonal": fmt.diagonal_mm}.get(axis)
    if size is None:
        raise InputError(f"axis must be horizontal, vertical or diagonal, got {axis!r}")
    f = float(focal_mm)
    if not (f > 0 and math.isfinite(f)):
        raise InputError(f"focal length must be positive, got {focal_mm} mm")
    return math.degrees(2.0 * math.atan(size / (2.0 * f)))


def magnification(focal_mm: float, focus_m: float) -> float:
    """Thin-lens magnification of the focus plane: ``m = f / (s - f)``."""
    f, _, s = _check_lens(focal_mm, 1.0, focus_m)
    return f / (s - f)


def focus_for_magnification_m(focal_mm: float, m: float) -> float:
    """The focus distance (m) at which a lens of ``focal_mm`` has magnification ``m``:
    ``s = f (1 + 1/m)``: the distance that keeps the framing when the focal length changes."""
    if not m > 0:
        raise InputError(f"magnification must be positive, got {m}")
    return float(focal_mm) * (1.0 + 1.0 / float(m)) / 1000.0


#: Subject height that fills the frame's short side in a head-and-shoulders portrait, m.
HEAD_AND_SHOULDERS_M = 0.6


def portrait_focus_m(focal_mm: float, sensor: str | SensorFormat | None = None, *,
                     subject_height_m: float = HEAD_AND_SHOULDERS_M) -> float:
    """Distance at which ``subject_height_m`` fills the short side of the frame: the focus
    distance of a head-and-shoulders portrait (85 mm on full frame: 2.21 m)."""
    fmt = get_format(sensor)
    return focus_for_magnification_m(focal_mm, fmt.height_mm / (float(subject_height_m) * 1000.0))


# ---------------------------------------------------------------------------------------------
# Apertures
# ---------------------------------------------------------------------------------------------
def stops_wider(f_number: float, stops: float = 1.0) -> float:
    """The f-number ``stops`` stops wider (more light): ``N / sqrt(2)^stops`` (negative stops:
    narrower)."""
    return float(f_number) / math.sqrt(2.0) ** float(stops)


#: The usual prime focal lengths, mm (the next longer one is "a longer lens").
COMMON_FOCAL_LENGTHS_MM = (14, 16, 20, 24, 28, 35, 40, 50, 58, 75, 85, 105, 135, 200, 300, 400,
                           600, 800)


def next_longer_focal_mm(focal_mm: float) -> float:
    """The next common prime focal length above ``focal_mm`` (x1.5 above 800 mm)."""
    for f in COMMON_FOCAL_LENGTHS_MM:
        if f > float(focal_mm) * 1.05:
            return float(f)
    return round(float(focal_mm) * 1.5)


# ---------------------------------------------------------------------------------------------
# Colour temperature
# ---------------------------------------------------------------------------------------------
def mired(kelvin: float) -> float:
    """Mired (micro reciprocal degrees) of a colour temperature: ``1e6 / K``.

    Examples
    --------
    >>> round(mired(2700), 1), round(mired(6500), 1)
    (370.4, 153.8)
    """
    k = float(kelvin)
    if not k > 0:
        raise InputError(f"a colour temperature must be positive Kelvin, got {kelvin}")
    return 1e6 / k


def kelvin_from_mired(value: float) -> float:
    """Colour temperature of a mired value: ``1e6 / mired``."""
    return mired(value)  # the map is its own inverse


def mired_difference(warm_kelvin: float, cool_kelvin: float) -> float:
    """``mired(warm) - mired(cool)``: positive when the first source is the warmer one.

    Examples
    --------
    >>> round(mired_difference(2700, 6500), 1)
    216.5
    """
    return mired(warm_kelvin) - mired(cool_kelvin)


def kelvin_error_mired(measured_kelvin: float, expected_kelvin: float) -> float:
    """Signed error of a measured colour temperature, in mired: ``mired(measured) -
    mired(expected)`` (positive: the render is warmer than asked)."""
    return mired(measured_kelvin) - mired(expected_kelvin)
