"""physics: does the render obey the optics its prompt asks for?

The seed article's principle is "specify optical conditions (focal length, aperture, distance
ratios) rather than visual effects". A prompt that says "85mm f/1.4 at 2.5 meters from subject
with crowd at 20 meters, 2700K sodium vapor highlights, 6500K LED fill" makes physical
predictions (:mod:`lenscore.predictions`, from the parser :mod:`lenscore.datasets.optics`); this
family holds the render against them, with what the focus, colour and bokeh families measured on
it. Where the prompt is silent, or the render shows no evidence, the output is NaN with the
reason: a prompt that asks for nothing cannot be disobeyed.

Method
------
**Blur** (``blur_ratio``, ``blur_error``). The thin lens predicts the blur-disc diameter of a
point at depth d for a lens of focal length f and f-number N focused at s,
``c = f^2 / (N (s - f)) * |d - s| / d`` on the sensor (:func:`lenscore.optics.coc_diameter_mm`),
for the prompt's background depth (a stated distance, a distance behind the subject, or a
subject-to-background ratio). On the render it is a fraction of the frame's long side (the
sensor's long side, 36 mm on full frame: the renders' convention and issue 18's worked example,
53 px at 1024 px for 85 mm f/1.4, 2.5 m, 20 m); a square render read as a crop of the 24 mm
side would have discs 1.5x larger in pixels, which the prompt cannot say. The measured disc is
``focus.background_blur_px``. ``blur_ratio`` = measured / predicted (1 = as the prompt asks;
inside a stated depth range, 1). Discs narrower than what the measurement resolves
(``resolvable_disc_work_px`` px of the working copy, in the image's pixels) cannot be told from
a sharp background, so both sides are floored there: a prompt for a sharp background obeyed by
a sharp render reads 1, not 0.4 / 1.1. ``blur_error`` = ``2 |log2 blur_ratio|``: the same
mismatch in f-stops of aperture (c is proportional to 1/N, and one stop is a factor sqrt 2 in
N), lower is better, so that ``compare`` and gate ``max_regression`` rules, which need a better
direction, can use it; a mean of ratios 0.5 and 2 would read a deceptive 1.25, a mean error does
not.

**Light colour** (``key_kelvin_error_mired``, ``background_kelvin_error_mired``). Two measured
lights: the *key* is ``color.subject_cct_k`` (the light on the subject's face, read from its
specular highlights), the *background* is ``color.background_cct_k`` (the background's light
sources: bokeh orbs, lamps). Each stated light is mapped to them by its role:

* role ``key`` -> the key; role ``background`` (also "ambience", a light in a clause that
  states the background's distance) -> the background (the first of each; others are noted);
* roles that do not name a measured light (``highlights``: skin speculars or bokeh orbs;
  ``fill``; ``rim``; no role) are matched to the measured lights the explicit roles left free by
  a minimum-cost assignment in mired (Kuhn 1955; ``scipy.optimize.linear_sum_assignment``),
  and the notes say so. The assignment gives every stated light its most favourable reading,
  so an error it reports is an error under any reading: a lie it catches is a lie.

For the article's improved prompt ("2700K sodium vapor highlights ..., 6500K LED fill") that
reads the 2700 K highlights as the key on the face and the 6500 K fill as the background, as
the renderer draws it. The error is the mired distance (Priest 1933; mired = 1e6 / K, the scale
on which equal steps look equal) to the stated Kelvin, or to the nearer end of a named source's
range (sodium vapour 2200-2700 K: 0 inside). The scene's overall illuminant (colour's
``scene_cct_k``, when that family has it) is a mixture of every light weighted by area, no single
stated light's colour, so it is not matched.

**Warm-cool separation** (``delta_mired_error``): when the stated lights are mapped to key and
background, |(mired key - mired background) measured by ``color.delta_mired`` - the same for the
prompt's lights|: a white-balance shift that moves both lights alike leaves it unchanged. Without
that mapping, the unsigned warm-cool difference of colour's two light clusters
(``color.warm_cct_k``, ``color.cool_cct_k``) against the prompt's warmest-coolest difference.

**Orbs** (``orb_aspect_error``): |measured long/short axis ratio / predicted - 1|, with the
measured ratio ``1 / bokeh.aspect`` (bokeh reports minor/major; a value above 1 is read as
long/short already) and the predicted one from the prompt's lens character (circular and
polygonal 1, an anamorphic's stated squeeze, 1.33-2 when not stated: 0 inside).

**Coverage** (``spec_coverage``): the share of the optical system the prompt pins down
(focal length, aperture, subject distance, background distance, light Kelvin, light roles).

Everything read from another family is read defensively: a missing output is NaN with the reason,
so new versions of those families plug in unchanged. The figures therefore rest on the subject
model (the face is the key light's probe; the background mask is where the blur is measured)
and on the focus and colour families' accuracy: see :func:`validate`.

References
----------
- Thin-lens blur disc and depth of field: S. F. Ray, *Applied Photographic Optics*, 3rd ed.,
  Focal Press 2002, ch. 6-7; https://en.wikipedia.org/wiki/Circle_of_confusion
- Mired scale: I. G. Priest, "A proposed scale for use in specifying the chromaticity of
  incandescent illuminants and various phases of daylight", JOSA 23(2):41-45 (1933),
  https://doi.org/10.1364/JOSA.23.000041
- Minimum-cost assignment: H. W. Kuhn, "The Hungarian method for the assignment problem", Naval
  Research Logistics Quarterly 2:83-97 (1955), https://doi.org/10.1002/nav.3800020109; as
  implemented in SciPy (D. F. Crouse, "On implementing 2D rectangular assignment algorithms",
  IEEE TAES 52(4) 2016, https://doi.org/10.1109/TAES.2016.7738348)
- Blackbody colour of the swatches drawn: B. Kang et al., "Design of advanced color temperature
  control system for HDTV applications", J. Korean Phys. Soc. 41(6):865-871 (2002), via
  colour-science ``CCT_to_xy_Kang2002`` (https://www.colour-science.org)
- The measurements this family reads: Zhuo & Sim 2011 (focus, https://doi.org/10.1016/j.patcog.2011.03.009);
  Ohno 2014 (colour, https://doi.org/10.1080/15502724.2014.839020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.evaluator.validate import Check, Plan
    from lenscore.predictions import LightPrediction, Predictions

F = "physics"


@dataclass(frozen=True)
class PhysicsParams:
    """Every constant of the physics family."""

    #: Narrowest blur disc the measurement resolves, in pixels of the working copy (the focus
    #: family measures there): two samples (Nyquist): a disc narrower than two pixels cannot be
    #: told from a sharp edge. Converted to the image's pixels; never below 1 image pixel.
    resolvable_disc_work_px: float = 2.0
    #: blur_ratio band that reads as obedient (issue 18's target band).
    obedient_ratio: tuple[float, float] = (0.8, 1.25)
    #: Kelvin error that reads as obedient, mired (issue 18's target).
    obedient_mired: float = 15.0
    #: orb aspect error that reads as obedient (issue 15: anamorphic aspect within 10 %).
    obedient_aspect: float = 0.10
    #: at most this many of bokeh's orbs are kept for the overlay.
    max_orbs_drawn: int = 3


PARAMS = PhysicsParams()

OUTPUTS = (
    Output(f"{F}.blur_ratio", "ratio (render / prompt)", "neither", (0.0, math.inf),
           "Background blur disc the render shows (focus.background_blur_px) over the one the "
           "prompt's lens, aperture and distances predict (thin lens): 1 = as asked, 0.8-1.25 "
           "reads as obedient, 0.5 = half the blur asked for, 2 = twice. NaN when the prompt "
           "states no lens, aperture, subject or background distance, or the background shows "
           "no blur evidence."),
    Output(f"{F}.blur_error", "f-stops", "lower", (0.0, math.inf),
           "How far the background blur is from the prompt's optics, as the aperture change "
           "that would explain it: 2 |log2 blur_ratio|. 0 = as asked; 0.8-1.25 is within 0.64 "
           "stops; f/1.4 asked and f/8 rendered is 5 stops."),
    Output(f"{F}.key_kelvin_error_mired", "mired", "lower", (0.0, 1000.0),
           "How far the key light on the subject's face (color.subject_cct_k) is from the "
           "Kelvin the prompt gives it: |1e6/K seen - 1e6/K asked| (0 inside a named source's "
           "range). 15 mired (about 100 K at 2700 K, 600 K at 6500 K) reads as obedient. A "
           "prompt that ties no light to the key: the stated light that fits best (notes)."),
    Output(f"{F}.background_kelvin_error_mired", "mired", "lower", (0.0, 1000.0),
           "The same for the background's lights (color.background_cct_k: orbs, lamps) against "
           "the prompt's background light."),
    Output(f"{F}.delta_mired_error", "mired", "lower", (0.0, 1000.0),
           "How far the render's warm-cool separation is from the prompt's: measured minus "
           "asked mired difference, key minus background (or warmest minus coolest when the "
           "prompt ties no light to them). An overall white-balance shift does not move it."),
    Output(f"{F}.orb_aspect_error", "fraction", "lower", (0.0, math.inf),
           "How far the orbs' shape is from the prompt's lens: |long/short axis ratio seen / "
           "predicted - 1| (circular 1; an anamorphic's squeeze, 1.33-2 when not stated). "
           "0.1 = 10 % off."),
    Output(f"{F}.spec_coverage", "fraction of 6", "higher", (0.0, 1.0),
           "How much of the optical system the prompt pins down: focal length, aperture, "
           "subject distance, background distance, light Kelvin, light roles (1/6 each). The "
           "article: specify optical conditions, not visual effects."),
)

#: The upstream outputs this family reads (the only names it relies on).
READS = ("focus.background_blur_px", "focus.background_blur_frac", "color.subject_cct_k",
         "color.background_cct_k", "color.warm_cct_k", "color.cool_cct_k", "color.delta_mired",
         "bokeh.orb_diameter_frac", "bokeh.aspect", "bokeh.orb_count")

#: The measured lights: slot -> (colour output, what it is, in words).
SLOTS = {"key": ("color.subject_cct_k", "the key light on the face"),
         "background": ("color.background_cct_k", "the background's lights")}
#: Roles that name a measured light directly; every other role (or none) is matched.
DIRECT_ROLES = {"key": "key", "background": "background"}


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------
def _fin(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _mired(k: float) -> float:
    return 1e6 / float(k)


def resolvable_disc_px(long_side_px: float, work_long_side: float = 768.0,
                       params: PhysicsParams = PARAMS) -> float:
    """Narrowest blur disc (image pixels) the measurement resolves on an image of ``long_side_px``
    measured on a working copy of ``work_long_side`` px.

    >>> round(resolvable_disc_px(1024), 2), round(resolvable_disc_px(512), 2)
    (2.67, 1.33)
    """
    return max(1.0, params.resolvable_disc_work_px * float(long_side_px) / float(work_long_side))


def blur_ratio(measured_px: float, predicted_px: float | tuple[float, float], *,
               floor_px: float = 0.0) -> float:
    """Measured over predicted blur-disc diameter, both floored at ``floor_px``; a predicted
    range ``(lo, hi)`` gives 1 inside it and the ratio to the nearer end outside.

    >>> blur_ratio(20.0, 40.0), blur_ratio(30.0, (20.0, 40.0)), blur_ratio(0.5, 0.3, floor_px=2.0)
    (0.5, 1.0, 1.0)
    """
    lo, hi = (predicted_px, predicted_px) if not isinstance(predicted_px, tuple) else predicted_px
    m = max(float(measured_px), floor_px)
    lo, hi = max(float(min(lo, hi)), floor_px), max(float(max(lo, hi)), floor_px)
    if lo <= 0:
        return math.nan
    if m > hi:
        return m / hi
    if m < lo:
        return m / lo
    return 1.0


def blur_error_stops(ratio: float) -> float:
    """``2 |log2 ratio|``: a disc-size mismatch as f-stops of aperture (c is proportional to
    1/N; one stop is a factor sqrt 2 in N).

    >>> round(blur_error_stops(1.4 / 8), 2), blur_error_stops(1.0)
    (5.03, 0.0)
    """
    if not _fin(ratio) or ratio <= 0:
        return math.nan
    return abs(2.0 * math.log2(ratio))


def lens_words(pr: "Predictions") -> str:
    """'85mm f/1.4' (what the prompt's lens is called in sentences), '' when unknown."""
    if pr.focal_mm is None:
        return ""
    n = "" if pr.f_number is None else f" {'T' if pr.f_kind == 'T' else 'f/'}{pr.f_number:g}"
    return f"{pr.focal_mm:g}mm{n}"


@dataclass
class LightMatch:
    """One measured light held against one stated light: ``slot`` (key | background), the
    stated light, the measured Kelvin, the signed error (mired; > 0: the render is warmer than
    asked), and ``how`` (``role`` or ``assignment``)."""

    slot: str
    light: "LightPrediction"
    measured_k: float
    error_mired: float
    how: str

    def to_dict(self) -> dict:
        return {"slot": self.slot, "stated": self.light.text, "role": self.light.role,
                "asked_k": self.light.kelvin, "asked_range_k": self.light.kelvin_range,
                "basis": self.light.basis, "measured_k": self.measured_k,
                "error_mired": self.error_mired, "how": self.how}


@dataclass
class LightMatching:
    """The result of :func:`match_lights`: matches per slot, and notes on what was done."""

    matches: dict[str, LightMatch] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    #: lights named by their source alone, with no Kelvin and no role ("candles on the cake",
    #: "lit by candlelight with a bright window"): which measured light they mean is ambiguous;
    #: never matched.
    weak: list[str] = field(default_factory=list)


def match_lights(lights: Sequence["LightPrediction"], measured_k: Mapping[str, float]) -> LightMatching:
    """Map the prompt's lights onto the measured ones (``measured_k``: slot -> Kelvin or NaN).

    Lights with role ``key`` / ``background`` go to that slot (the first of each); the others
    (highlights, fill, rim, no role) are matched to the slots left free that have a measurement,
    by a minimum-cost assignment of |mired error| (Kuhn 1955, via SciPy). Lights without a
    colour temperature (neon tints, a generic "LED") take no part, nor does a light named only
    by its source with no Kelvin and no role ("candles on a cake", "lit by candlelight with a
    bright window"): which measured light it means is ambiguous (on a real generated image such a
    light scored a confident 333 mired "error" against a face lit by the window).

    Examples
    --------
    >>> from lenscore.predictions import predict
    >>> pr = predict("2700K sodium vapor highlights, 6500K LED fill")
    >>> m = match_lights(pr.lights, {"key": 2650.0, "background": 6400.0})
    >>> {s: (x.light.kelvin, x.how) for s, x in m.matches.items()}
    {'key': (2700.0, 'assignment'), 'background': (6500.0, 'assignment')}
    """
    out = LightMatching()
    coloured = [li for li in lights if li.kelvin is not None or li.kelvin_range is not None]
    pool: list = []
    for li in coloured:
        slot = DIRECT_ROLES.get(li.role or "")
        if slot is None:
            if li.role is None and li.basis != "stated":
                out.weak.append(li.text)
            else:
                pool.append(li)
            continue
        if slot in out.matches or slot in out.notes:
            out.unmatched.append(f"'{li.text}' ({li.role}): a second {li.role} light; the first "
                                 f"one is held against the render")
            continue
        mk = measured_k.get(slot, math.nan)
        if _fin(mk) and mk > 0:
            out.matches[slot] = LightMatch(slot, li, float(mk), li.mired_error(float(mk)), "role")
        else:
            out.notes[slot] = f"'{li.text}' is the {li.role} light but {SLOTS[slot][1]} was not measured"
    free = [s for s in SLOTS if s not in out.matches and s not in out.notes
            and _fin(measured_k.get(s)) and measured_k[s] > 0]
    if pool and free:
        from scipy.optimize import linear_sum_assignment

        cost = np.array([[abs(li.mired_error(float(measured_k[s]))) for s in free] for li in pool])
        cost = np.where(np.isfinite(cost), cost, 1e9)
        rows, cols = linear_sum_assignment(cost)
        for r, c in zip(rows, cols):
            li, slot = pool[r], free[c]
            mk = float(measured_k[slot])
            out.matches[slot] = LightMatch(slot, li, mk, li.mired_error(mk), "assignment")
            role = li.role or "no role"
            out.notes[slot] = (f"no light is tied to the {slot}: '{li.text}' ({role}) matched to "
                               f"{SLOTS[slot][1]} by minimum-cost assignment in mired")
        taken = {id(pool[r]) for r in rows}
        for li in pool:
            if id(li) not in taken:
                out.unmatched.append(f"'{li.text}': no measured light left to hold it against")
    elif pool:
        out.unmatched.extend(f"'{li.text}' ({li.role or 'no role'}): no measured light to hold "
                             f"it against" for li in pool)
    return out


# ---------------------------------------------------------------------------------------------
# The comparison (pure: predictions + measured values -> result)
# ---------------------------------------------------------------------------------------------
def _blur_missing(pr: "Predictions") -> str:
    missing = [w for w, ok in (("focal length", pr.focal_mm is not None),
                               ("aperture (f-number)", pr.f_number is not None),
                               ("subject distance", pr.subject_m is not None)) if not ok]
    if not missing and pr.background is None:
        missing = ["background distance"]
    extra = "; ".join(pr.notes)
    what = ", ".join(missing) if missing else "a usable lens"
    txt = (f"the prompt states no {what}: no blur-disc prediction (say e.g. '85mm f/1.4 at 2.5 m, "
           f"crowd at 20 m')")
    return f"{txt}; {extra}" if extra else txt


def compare_prompt(pr: "Predictions", measured: Mapping[str, float], *, long_side_px: float,
                   width_px: float | None = None, floor_px: float = 0.0,
                   reasons: Mapping[str, str] | None = None, orbs: Sequence[Mapping] = (),
                   params: PhysicsParams = PARAMS) -> MetricResult:
    """Hold a prompt's predictions against what was measured on its render.

    Parameters
    ----------
    pr
        :func:`lenscore.predictions.predict` of the prompt.
    measured
        Upstream outputs by full name (:data:`READS`); missing or NaN means not measured.
    long_side_px, width_px
        The image's long side (the sensor's long side) and width (bokeh's fractions are of it;
        default the long side).
    floor_px
        :func:`resolvable_disc_px` for this image.
    reasons
        Upstream NaN reasons by output name (or family name), passed on when a value is missing.
    orbs
        Bokeh's verified orbs (``{x, y, r}``, image pixels), kept for the overlay.

    Returns
    -------
    MetricResult
        Every physics output; ``artifacts`` holds the predicted and measured discs and lights,
        the matching and the sentence the report prints.

    Examples
    --------
    >>> from lenscore.predictions import predict
    >>> pr = predict("85mm f/1.4 at 2.5 meters, crowd at 20 meters, 2700K key, 6500K background")
    >>> r = compare_prompt(pr, {"focus.background_blur_px": 26.6, "color.subject_cct_k": 2700.0,
    ...                         "color.background_cct_k": 6000.0}, long_side_px=1024)
    >>> round(r.values["physics.blur_ratio"], 2), round(r.values["physics.background_kelvin_error_mired"], 1)
    (0.5, 12.8)
    >>> r.artifacts["sentence"]
    "the render's background discs are 2.0x smaller than an 85mm f/1.4 lens would make them (crowd at 20 m: 53 px asked, 27 px seen)"
    """
    reasons = dict(reasons or {})
    width_px = float(width_px or long_side_px)
    vals = {o.name: math.nan for o in OUTPUTS}
    why: dict[str, str] = {}

    def m(name: str) -> float:
        v = measured.get(name, math.nan)
        return float(v) if _fin(v) else math.nan

    def upstream_reason(name: str) -> str:
        fam = name.split(".", 1)[0]
        r = reasons.get(name) or reasons.get(fam)
        if name not in measured:
            return r or f"{name} is not produced by the installed {fam} family"
        return f"{name} not measured: {r}" if r else f"{name} not measured on this image"

    lens = lens_words(pr)
    art: dict[str, Any] = {"lens": lens, "long_side_px": float(long_side_px),
                           "width_px": width_px, "floor_px": float(floor_px),
                           "coverage": pr.coverage, "missing": list(pr.missing)}
    sentences: list[str] = []

    # ---- blur -------------------------------------------------------------------------------
    bg = pr.background
    blur = m("focus.background_blur_px")
    orb_frac = m("bokeh.orb_diameter_frac")
    art["measured_disc_px"] = blur if _fin(blur) else None
    art["orb_px"] = orb_frac * width_px if _fin(orb_frac) else None
    art["orbs"] = [dict(o) for o in list(orbs)[: params.max_orbs_drawn]]
    if bg is None:
        why[f"{F}.blur_ratio"] = why[f"{F}.blur_error"] = _blur_missing(pr)
        art["predicted_disc_px"] = None
        if pr.at_infinity is not None:
            art["max_disc_px"] = pr.at_infinity.px(long_side_px)
    else:
        rng = bg.px_range(long_side_px)
        pred = bg.px(long_side_px) if bg.frac is not None else rng
        art["predicted_disc_px"] = pred
        art["predicted_label"] = bg.label
        if not _fin(blur):
            why[f"{F}.blur_ratio"] = why[f"{F}.blur_error"] = upstream_reason("focus.background_blur_px")
        else:
            ratio = blur_ratio(blur, pred, floor_px=floor_px)
            vals[f"{F}.blur_ratio"] = ratio
            vals[f"{F}.blur_error"] = blur_error_stops(ratio)
            plo = min(rng) if rng else pred
            if floor_px > 0 and max(rng or (pred,)) <= floor_px and blur <= floor_px:
                why[f"{F}.blur_ratio"] = (f"the {bg.label} disc asked for ({plo:.1f} px) and the "
                                          f"one seen ({blur:.1f} px) are both below the "
                                          f"{floor_px:.1f} px a render resolves: both sharp")
            sentences.append(blur_sentence(ratio, lens, bg.label, pred, blur, params))

    # ---- lights -----------------------------------------------------------------------------
    measured_k = {s: m(SLOTS[s][0]) for s in SLOTS}
    coloured = [li for li in pr.lights if li.kelvin is not None or li.kelvin_range is not None]
    matching = match_lights(pr.lights, measured_k)
    art["lights"] = [x.to_dict() for x in matching.matches.values()]
    art["measured_k"] = {s: (v if _fin(v) else None) for s, v in measured_k.items()}
    for slot, out in (("key", f"{F}.key_kelvin_error_mired"),
                      ("background", f"{F}.background_kelvin_error_mired")):
        x = matching.matches.get(slot)
        if x is not None and _fin(x.error_mired):
            vals[out] = abs(x.error_mired)
            if x.how == "assignment":
                why[out] = matching.notes[slot]
        elif not coloured:
            tints = [li.text for li in pr.lights if li.kelvin is None and li.kelvin_range is None]
            why[out] = ("the prompt states no light colour in Kelvin or a named source"
                        + (f" ({', '.join(tints)} has no colour temperature)" if tints else "")
                        + ": say e.g. '2700K sodium vapor key, 6500K LED background'")
        elif slot in matching.notes:
            why[out] = matching.notes[slot] + (f" ({upstream_reason(SLOTS[slot][0])})"
                                               if not _fin(measured_k[slot]) else "")
        elif not _fin(measured_k[slot]):
            why[out] = upstream_reason(SLOTS[slot][0])
        elif matching.weak:
            why[out] = (f"the prompt names {', '.join(repr(w) for w in matching.weak)} with no "
                        f"Kelvin and no role: which measured light it means is ambiguous, so it is not "
                        f"held against one (say e.g. '1900K candlelight key')")
        else:
            why[out] = (f"no stated light is left for {SLOTS[slot][1]} (the prompt's lights are "
                        f"held against the other measured light)")
    if matching.unmatched:
        art["unmatched"] = list(matching.unmatched)
    if matching.weak:
        art["weak_lights"] = list(matching.weak)
    art["kelvin_sentence"] = _kelvin_sentence(matching)

    # ---- warm-cool separation ---------------------------------------------------------------
    kx, bx = matching.matches.get("key"), matching.matches.get("background")
    dm = m("color.delta_mired")
    if kx is not None and bx is not None and kx.light is not bx.light and \
            kx.light.kelvin is not None and bx.light.kelvin is not None:
        asked = _mired(kx.light.kelvin) - _mired(bx.light.kelvin)
        seen = dm if _fin(dm) else _mired(kx.measured_k) - _mired(bx.measured_k)
        vals[f"{F}.delta_mired_error"] = abs(seen - asked)
        art["delta_mired"] = {"asked": asked, "seen": seen, "signed": True}
    elif pr.delta_mired is not None:
        w, c = m("color.warm_cct_k"), m("color.cool_cct_k")
        if _fin(w) and _fin(c) and w > 0 and c > 0:
            seen = abs(_mired(w) - _mired(c))
            vals[f"{F}.delta_mired_error"] = abs(seen - pr.delta_mired)
            art["delta_mired"] = {"asked": pr.delta_mired, "seen": seen, "signed": False}
            why[f"{F}.delta_mired_error"] = ("unsigned: the prompt's lights are not all tied to the "
                                             "key and the background; warmest minus coolest "
                                             "light cluster against the prompt's")
        else:
            why[f"{F}.delta_mired_error"] = upstream_reason(
                "color.warm_cct_k" if not _fin(w) else "color.cool_cct_k")
    else:
        why[f"{F}.delta_mired_error"] = ("the prompt states fewer than two light colours: no "
                                         "warm-cool separation to hold the render against")

    # ---- orbs -------------------------------------------------------------------------------
    shape = pr.orb_shape
    asp = m("bokeh.aspect")
    if shape is None:
        why[f"{F}.orb_aspect_error"] = ("the prompt says nothing about the orbs' shape (circular, "
                                        "anamorphic, cat's-eye)")
    elif shape.aspect is None and shape.aspect_range is None:
        why[f"{F}.orb_aspect_error"] = (f"{shape.kind.replace('_', ' ')} orbs have no single "
                                        f"aspect to check ({shape.note})" if shape.note else
                                        f"{shape.kind.replace('_', ' ')} orbs have no single aspect")
    elif not _fin(asp) or asp <= 0:
        why[f"{F}.orb_aspect_error"] = upstream_reason("bokeh.aspect")
    else:
        seen = 1.0 / asp if asp <= 1.0 else asp
        if shape.aspect is not None:
            err = abs(seen / shape.aspect - 1.0)
        else:
            lo, hi = shape.aspect_range
            err = 0.0 if lo <= seen <= hi else (seen / hi - 1.0 if seen > hi else 1.0 - seen / lo)
        vals[f"{F}.orb_aspect_error"] = abs(err)
        art["orb_aspect"] = {"asked": shape.aspect, "asked_range": shape.aspect_range,
                             "seen": seen, "kind": shape.kind}

    vals[f"{F}.spec_coverage"] = float(pr.coverage)
    art["sentence"] = "; ".join(s for s in sentences if s) or (
        "" if art["kelvin_sentence"] else _silent_sentence(pr, why))
    return MetricResult(vals, why, art)


def blur_sentence(ratio: float, lens: str, label: str, pred: Any, seen: float,
                  params: PhysicsParams = PARAMS) -> str:
    """'the render's background discs are 2.1x smaller than an 85mm f/1.4 lens would make them
    (crowd at 20 m: 53 px asked, 25 px seen)' (``pred``: px, or a (lo, hi) range)."""
    lo, hi = params.obedient_ratio
    asked = (f"{pred:.0f} px" if not isinstance(pred, tuple)
             else f"{min(pred):.0f}-{max(pred):.0f} px")
    detail = f"({label}: {asked} asked, {seen:.0f} px seen)"
    lens_txt = f"{_article(lens)} {lens} lens"
    if ratio < lo:
        return f"the render's background discs are {1 / ratio:.1f}x smaller than {lens_txt} would make them {detail}"
    if ratio > hi:
        return f"the render's background discs are {ratio:.1f}x larger than {lens_txt} would make them {detail}"
    return f"the render's background discs match {lens_txt} {detail}"


def _article(lens: str) -> str:
    """'an' before a focal length said with a vowel sound (8, 11, 18, 80-89, 800...), else 'a'."""
    digits = lens.split("mm")[0].split(".")[0]
    return "an" if digits.startswith("8") or digits in ("11", "18") else "a"


def _kelvin_sentence(matching: LightMatching) -> str:
    parts = []
    for slot in ("key", "background"):
        x = matching.matches.get(slot)
        if x is None or not _fin(x.error_mired):
            continue
        asked = (f"{x.light.kelvin:.0f} K" if x.light.basis == "stated" or x.light.kelvin_range is None
                 else f"{x.light.kelvin_range[0]:.0f}-{x.light.kelvin_range[1]:.0f} K")
        e = x.error_mired
        side = "warmer" if e > 0 else "cooler"
        diff = f"{abs(e):.0f} mired {side}" if abs(e) >= 0.5 else "as asked"
        parts.append(f"{slot} {x.measured_k:.0f} K against {asked} asked ({diff})")
    return "; ".join(parts)


def _silent_sentence(pr: "Predictions", why: Mapping[str, str]) -> str:
    if pr.coverage == 0:
        return ("the prompt states no lens, aperture, distances or light colours: nothing to hold "
                "the render against")
    return why.get(f"{F}.blur_ratio", "") or "nothing the render could be checked against was measured"


# ---------------------------------------------------------------------------------------------
# compute(ctx)
# ---------------------------------------------------------------------------------------------
def _read(ctx, family: str) -> MetricResult | None:
    try:
        return ctx.result(family)
    except Exception:  # noqa: BLE001 - a family that is not installed: its outputs are missing
        return None


def compute(ctx) -> MetricResult:
    """Physics family on an :class:`~lenscore.context.ImageContext` (its ``prompt``)."""
    from lenscore.predictions import predict

    text = (ctx.prompt or "").strip()
    if not text:
        return FAMILY.nan_result("no prompt for this image (give the manifest a 'prompt' column, "
                                 "or keep the generator's PNG metadata)")
    pr = predict(text)
    if pr.coverage == 0 and pr.orb_shape is None:
        res = FAMILY.nan_result(_silent_sentence(pr, {}) + " (say e.g. '85mm f/1.4 at 2.5 m, "
                                "crowd at 20 m, 2700K key, 6500K background')")
        res.values[f"{F}.spec_coverage"] = 0.0
        res.artifacts.update({"sentence": _silent_sentence(pr, {}), "coverage": 0.0,
                              "missing": list(pr.missing)})
        return res
    measured: dict[str, float] = {}
    reasons: dict[str, str] = {}
    orbs: list[dict] = []
    for fam in ("focus", "color", "bokeh"):
        res = _read(ctx, fam)
        if res is None:
            reasons[fam] = f"the {fam} family is not installed"
            continue
        for name in READS:
            if name.startswith(fam + ".") and name in res.values:
                measured[name] = res.values[name]
        reasons.update({k: v for k, v in res.reasons.items() if isinstance(v, str)})
        if fam == "bokeh":
            for o in res.artifacts.get("orbs") or []:
                try:
                    orbs.append({"x": float(o["x"]), "y": float(o["y"]), "r": float(o["r"])})
                except (KeyError, TypeError, ValueError):
                    continue
    orbs.sort(key=lambda o: -o["r"])
    long_side = max(ctx.width, ctx.height)
    floor = resolvable_disc_px(long_side, ctx.work_long_side)
    return compare_prompt(pr, measured, long_side_px=long_side, width_px=ctx.width,
                          floor_px=floor, reasons=reasons, orbs=orbs)


def explain(result: MetricResult) -> str:
    """One sentence on why this image scored as it did."""
    art = getattr(result, "artifacts", {}) or {}
    said = "; ".join(str(art[k]) for k in ("sentence", "kelvin_sentence") if art.get(k))
    if said:
        return said
    vals = getattr(result, "values", {}) or {}
    reasons = getattr(result, "reasons", {}) or {}
    r = vals.get(f"{F}.blur_ratio")
    if _fin(r):
        lo, hi = PARAMS.obedient_ratio
        word = ("smaller" if r < lo else "larger") if not lo <= r <= hi else "as large"
        return (f"background discs {r:.2f}x the prompt's prediction ({word} than asked)"
                if word != "as large" else f"background discs as the prompt predicts ({r:.2f}x)")
    return reasons.get(f"{F}.blur_ratio") or reasons.get(F) or "nothing to hold the render against"


# ---------------------------------------------------------------------------------------------
# Overlay
# ---------------------------------------------------------------------------------------------
def kelvin_srgb(kelvin: float) -> tuple[int, int, int]:
    """8-bit sRGB of a blackbody of ``kelvin`` at full brightness (Kang et al. 2002 via
    colour-science; the swatches of the overlay).

    >>> r, g, b = kelvin_srgb(2700); r > g > b
    True
    """
    import colour

    from lenscore.imaging import SRGB_TO_XYZ, linear_to_srgb

    k = float(np.clip(kelvin, 1667.0, 25000.0))
    x, y = colour.temperature.CCT_to_xy_Kang2002(k)
    xyz = np.array([x / y, 1.0, (1.0 - x - y) / y])
    lin = np.clip(np.linalg.solve(SRGB_TO_XYZ.astype(np.float64), xyz), 0.0, None)
    lin = lin / max(float(lin.max()), 1e-9)
    srgb = linear_to_srgb(lin.astype(np.float32))
    return tuple(int(round(float(c) * 255)) for c in srgb)  # type: ignore[return-value]


def draw(rgb: np.ndarray, result: MetricResult, long_side: int = 480) -> np.ndarray:
    """The overlay: the disc the prompt predicts (dashed, orange) beside the one measured
    (solid, cyan), at their real size, in a legend box; the predicted disc also drawn around
    bokeh's largest orbs; Kelvin swatches (asked | seen) per light; the sentence above."""
    import cv2

    from lenscore import drawing as dr

    img, s = dr.thumbnail(rgb, long_side)
    out = img.copy()
    art = getattr(result, "artifacts", {}) or {}
    h, w = out.shape[:2]
    pred = art.get("predicted_disc_px")
    seen = art.get("measured_disc_px")
    pred_px = (float(np.mean(pred)) if isinstance(pred, (tuple, list)) else pred)
    thick = max(1, int(round(w / 450)))
    # the predicted disc around bokeh's orbs, where the reader can compare it with a real one
    if dr.finite(pred_px):
        for o in art.get("orbs") or []:
            c = (int(round(o["x"] * s)), int(round(o["y"] * s)))
            cv2.circle(out, c, max(1, int(round(o["r"] * s))), dr.CYAN, thick, cv2.LINE_AA)
            dr.dashed_circle(out, c, max(2, int(round(pred_px * s / 2))), dr.ORANGE, thick)
    # legend box with both discs at their real size, bottom left; labels under the discs
    fs = dr.font_scale(out, 0.42)
    tthick = max(1, int(round(w / 600)))
    th = int(round(22 * fs))
    cap = 0.16 * w
    discs = [("prompt", pred_px, dr.ORANGE, True), ("render", seen, dr.CYAN, False)]
    discs = [d for d in discs if dr.finite(d[1])] if dr.finite(pred_px) else []
    if discs:
        rad = [min(cap, max(3.0, float(v) * s / 2)) for _, v, _, _ in discs]
        labels = [f"{lab} {float(v):.0f} px" + ("*" if r >= cap else "")
                  for (lab, v, _, _), r in zip(discs, rad)]
        tws = [cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, fs, tthick)[0][0] for t in labels]
        cols = [max(2 * r, tw) + th for r, tw in zip(rad, tws)]
        box_w, box_h = int(sum(cols) + th // 2), int(2 * max(rad) + th * 2.6)
        x0, y0 = 6, max(0, h - box_h - 6)
        sub = out[y0:h - 6, x0:min(w, x0 + box_w)]
        sub[:] = (0.3 * sub).astype(np.uint8)
        x = x0 + th // 2
        cy = int(y0 + th * 0.6 + max(rad))
        for (label, v, col, dashed), r, lab, tw, cw in zip(discs, rad, labels, tws, cols):
            cx = int(x + cw / 2)
            if dashed:
                dr.dashed_circle(out, (cx, cy), int(round(r)), col, thick + 1, segments=20)
            else:
                cv2.circle(out, (cx, cy), int(round(r)), col, thick + 1, cv2.LINE_AA)
            dr.text(out, lab, (cx - tw / 2, y0 + box_h - th * 0.5), col, 0.42)
            x += cw
    # Kelvin swatches, top right: asked | seen per light
    lights = art.get("lights") or []
    sw = int(round(th * 1.3))
    yy = 6
    for li in lights:
        asked = li.get("asked_k")
        seen_k = li.get("measured_k")
        if not (dr.finite(asked) and dr.finite(seen_k)):
            continue
        try:
            ca, cs = kelvin_srgb(asked), kelvin_srgb(seen_k)
        except Exception:  # noqa: BLE001 - no colour-science: no swatches
            break
        xr = w - 6 - 2 * sw
        cv2.rectangle(out, (xr, yy), (xr + sw, yy + sw), ca, -1)
        cv2.rectangle(out, (xr + sw, yy), (xr + 2 * sw, yy + sw), cs, -1)
        cv2.rectangle(out, (xr, yy), (xr + 2 * sw, yy + sw), dr.WHITE, 1)
        lab = f"{li['slot']}: asked {float(asked):.0f}K | seen {float(seen_k):.0f}K"
        (tw, _), _ = cv2.getTextSize(lab, cv2.FONT_HERSHEY_SIMPLEX, fs, max(1, int(round(w / 600))))
        dr.text(out, lab, (xr - tw - 8, yy + sw - 3), dr.WHITE, 0.42)
        yy += sw + 6
    return dr.banner(out, _caption(result))


def _caption(result: MetricResult) -> list[str]:
    """Two short caption lines for the overlay (the full sentence is :func:`explain`'s)."""
    art = getattr(result, "artifacts", {}) or {}
    vals = getattr(result, "values", {}) or {}
    ratio = vals.get(f"{F}.blur_ratio")
    pred, seen = art.get("predicted_disc_px"), art.get("measured_disc_px")
    lines = []
    if _fin(ratio) and pred is not None and _fin(seen):
        asked = (f"{pred:.0f}" if not isinstance(pred, (tuple, list))
                 else f"{min(pred):.0f}-{max(pred):.0f}")
        lo, hi = PARAMS.obedient_ratio
        how = (f"{1 / ratio:.1f}x smaller than" if ratio < lo else
               f"{ratio:.1f}x larger than" if ratio > hi else "as large as")
        lines.append(f"prompt vs render: discs {how} {art.get('lens') or 'the prompt'} predicts "
                     f"({asked} px asked, {seen:.0f} px seen)")
    elif pred is not None:
        asked = (f"{pred:.0f}" if not isinstance(pred, (tuple, list))
                 else f"{min(pred):.0f}-{max(pred):.0f}")
        lines.append(f"prompt vs render: {asked} px discs predicted; the background blur was not "
                     f"measured")
    elif art.get("sentence"):
        lines.append(f"prompt vs render: {art['sentence']}")
    elif not art.get("lights"):
        lines.append(f"prompt vs render: {explain(result)}")
    else:
        lines.append("prompt vs render: no blur-disc prediction (no lens, aperture or distances)")
    ks = []
    for li in art.get("lights") or []:
        if _fin(li.get("asked_k")) and _fin(li.get("measured_k")):
            e = li.get("error_mired")
            ks.append(f"{li['slot']} {li['measured_k']:.0f} K (asked {li['asked_k']:.0f} K"
                      + (f", {abs(e):.0f} mired {'warmer' if e > 0 else 'cooler'})" if _fin(e)
                         and abs(e) >= 0.5 else ")"))
    if ks:
        lines.append("; ".join(ks))
    return lines


# ---------------------------------------------------------------------------------------------
# Validation (production path: renders whose prompts tell the truth, and prompts that lie)
# ---------------------------------------------------------------------------------------------
_NOUNS = {"street": "city street", "wall": "painted wall", "gradient": "wall", "brick": "brick wall",
          "grass": "grass", "gravel": "gravel"}


def scene_prompt(spec: Any, *, f_number: float | None = None, key_kelvin: float | None = None,
                 background_kelvin: float | None = None, roles: bool = True) -> str:
    """A prompt describing a :class:`~lenscore.datasets.synthetic.SceneSpec` (truthfully, unless
    ``f_number`` / ``key_kelvin`` / ``background_kelvin`` replace what was rendered): lens,
    aperture, subject and background distances (a depth range for a receding ground), the key
    and background lights with their Kelvin and roles (``roles=False``: the Kelvin values only)
    and a fill light when the scene has one.

    >>> from lenscore.datasets.synthetic import SceneSpec
    >>> scene_prompt(SceneSpec())
    '85mm f/1.4 portrait at 2.5 meters, city street at 20 meters, 2700K key light, 6500K background lights'
    """
    n = spec.f_number if f_number is None else f_number
    key = spec.key_kelvin if key_kelvin is None else key_kelvin
    bgk = spec.background_kelvin if background_kelvin is None else background_kelvin
    noun = _NOUNS.get(spec.background, "background")
    if spec.background_near_m is not None:
        where = f"{noun} at {spec.background_near_m:.3g}-{spec.background_m:.3g} meters"
    else:
        where = f"{noun} at {spec.background_m:.3g} meters"
    parts = [f"{spec.focal_mm:.0f}mm f/{n:.3g} portrait at {spec.focus_m:.3g} meters", where]
    fill = spec.fill_intensity > 0
    fill_k = spec.fill_kelvin if spec.fill_kelvin is not None else spec.background_kelvin
    if roles:
        parts.append(f"{key:.0f}K key light")
        parts.append(f"{bgk:.0f}K background light" + ("s" if spec.n_lights else ""))
        if fill:
            parts.append(f"{fill_k:.0f}K fill light")
    else:
        ks = [f"{key:.0f}K", f"{bgk:.0f}K"]
        parts.append("lit by " + " and ".join(ks))
    return ", ".join(parts)


def _lie_aperture(n: float) -> float:
    """The issue's lie: f/1.4 for a render at f/4 or narrower, else f/8 (f/1.4 vs f/8 is 5 stops)."""
    return 1.4 if n >= 4.0 else 8.0


def _lie_kelvin(k: float) -> float:
    """170 mired away from ``k`` (2700 K vs 5000 K), warmer when that stays above 1900 K."""
    m = _mired(k)
    return 1e6 / (m + 170.0) if m + 170.0 <= 1e6 / 1900.0 else 1e6 / (m - 170.0)


def _validate_scene(job: tuple) -> dict:
    """Render one scene, measure it once (production path: no truth is given to the context),
    and hold it against each of its prompts. Returns plain numbers (picklable)."""
    from lenscore.context import ImageContext
    from lenscore.datasets.synthetic import render

    spec, prompts = job
    r = render(spec)
    base = ImageContext(r.rgb)
    ups = {fam: base.result(fam) for fam in ("focus", "color", "bokeh")}
    out: dict[str, Any] = {"prompts": {}, "upstream": {}}
    for res in ups.values():
        out["upstream"].update({k: float(v) for k, v in res.values.items() if k in READS})
    for kind, text in prompts.items():
        ctx = ImageContext(r.rgb, prompt=text)
        for fam, res in ups.items():
            ctx.provide(fam, res)
        res = ctx.result(F)
        out["prompts"][kind] = {"values": dict(res.values),
                                "lights": {d["slot"]: d["how"] for d in res.artifacts.get("lights", [])}}
    t = r.truth
    bg = t.get("background") or {}
    out["truth"] = {"coc_px": float(t["coc_px"]["background"]),
                    "coc_px_min": bg.get("coc_px_min"), "coc_px_max": bg.get("coc_px_max"),
                    "textured": bool(bg.get("textured", False)),
                    "n_orbs": len(t.get("visible_orbs") or t.get("orbs") or []),
                    "has_subject": t.get("subject_box") is not None,
                    "width": int(t["width"]), "height": int(t["height"])}
    return out


def _tone(spec: Any) -> str:
    """Skin-tone group of a scene's subject: 'tone 0' (deep) .. 'tone 5' (light), or the
    astronaut photograph."""
    from lenscore.datasets.scenes import SKIN_TONES

    if spec.subject == "astronaut" or spec.skin_rgb is None:
        return "astronaut"
    rgb = tuple(spec.skin_rgb)
    return f"tone {SKIN_TONES.index(rgb)}" if rgb in SKIN_TONES else "other"


def _pct(x: Sequence[bool]) -> float:
    return 100.0 * float(np.mean(x)) if len(x) else math.nan


def _gate(name: str, errors: Sequence[float], med_t: float, p90_t: float, unit: str, *,
          nan_is_miss: bool = True) -> tuple[bool, str]:
    """Does an upstream measurement meet its own family's target on these scenes, judged as that
    family judges it? Focus counts a scene without a reading as a miss (``nan_is_miss``); colour
    judges the lights it reads (it reads a key only where the face shows a reliable highlight,
    and says so), so its gate is the error over the readings, with their share given."""
    e = np.asarray([x if _fin(x) else np.inf for x in errors], float)
    if e.size == 0:
        return False, f"{name}: no scenes"
    fmt = (lambda v: "inf" if not math.isfinite(v) else f"{v:.0f}")
    read = e[np.isfinite(e)]
    if not nan_is_miss:
        if read.size == 0:
            return False, f"{name}: no scene read (of {e.size})"
        med, p90 = float(np.median(read)), float(np.quantile(read, 0.9))
        return bool(med <= med_t and p90 <= p90_t), (
            f"{name} median error {fmt(med)}{unit}, 90th percentile {fmt(p90)}{unit} on the "
            f"{read.size} of {e.size} scenes it read ({100 * read.size / e.size:.0f} %; its own "
            f"target {med_t:g}{unit} / {p90_t:g}{unit}, judged on its readings)")
    with np.errstate(invalid="ignore"):  # misses are inf: between two of them inf - inf
        med, p90 = (float(v) if not np.isnan(v) else math.inf
                    for v in (np.median(e), np.quantile(e, 0.9)))
    ok = med <= med_t and p90 <= p90_t
    among = (f"; the {read.size} read: median {fmt(float(np.median(read)))}{unit}, 90th percentile "
             f"{fmt(float(np.quantile(read, 0.9)))}{unit}") if read.size else ""
    return ok, (f"{name} median error {fmt(med)}{unit}, 90th percentile {fmt(p90)}{unit} on these "
                f"{e.size} scenes, a scene without a reading counted as a miss (its own target "
                f"{med_t:g}{unit} / {p90_t:g}{unit}){among}")


def validate(plan: "Plan", jobs: int) -> list["Check"]:
    """Checks on the production path (``lenscore validate``; a reduced sweep on the quick plan).

    Scenes from :func:`lenscore.datasets.scenes.random_focus_scenes` (f/1.2-16, 35-135 mm,
    subject 1.5-5 m, background 3-100 m, textured and plain backgrounds, depth ramps, lights,
    noise, JPEG) and :func:`~lenscore.datasets.scenes.random_color_scenes` (1-3 lights of
    1900-10000 K, tints, props, clipping). Each render is measured once, without its truth,
    and held against (a) a prompt that describes it truthfully (:func:`scene_prompt`, roles
    named), (b) the same without roles (Kelvin values only: the assignment), (c) a prompt that
    lies about the aperture (f/1.4 for a render at f/4 or narrower, else f/8) and (d) about the
    key light (170 mired: 2700 K against 5000 K). Targets (issue 18): truthful blur_ratio within
    0.8-1.25 on >= 90 % and Kelvin errors <= 15 mired on >= 90 %; liars outside on >= 90 %.

    Blur scenes: those whose background carries blur evidence (texture, a street, or lights);
    liars only where a perfect instrument would see the lie (the lie's disc and the truth's differ
    beyond the obedient band after the resolution floor). Key Kelvin: scenes with a subject;
    background Kelvin: scenes with visible orbs whose colour is the background's (colour scenes
    with key-coloured orbs have no single background light). A NaN counts as a miss.

    These figures are the focus and colour families' accuracy seen through the prompt: each check
    is judged only when the measurement it rests on meets its own family's target on the same
    scenes, as that family judges it (focus blur error median <= 15 %, 90th percentile <= 35 %,
    a scene without a reading a miss, issue 14; light CCT error median <= 10 mired, 90th
    percentile <= 25 mired over the lights colour reads, issue 16); otherwise it is N/A with the
    figure and the reason ("not judged: ..."), never passed. The checks themselves count a scene
    without a reading as a miss.
    """
    import dataclasses

    from lenscore.datasets.scenes import random_color_scenes, random_focus_scenes
    from lenscore.evaluator import validate as V
    from lenscore.evaluator.executors import parallel_map

    quick = plan.size <= 512
    n_focus, n_color = (24, 12) if quick else (200, 100)
    seed = 1800 + int(plan.seeds[0]) if plan.seeds else 1800
    jobs_list = []
    kinds = []
    for spec in random_focus_scenes(n_focus, seed, size=plan.size):
        jobs_list.append((spec, {"truth": scene_prompt(spec), "noroles": scene_prompt(spec, roles=False),
                                 "lie_f": scene_prompt(spec, f_number=_lie_aperture(spec.f_number)),
                                 "lie_k": scene_prompt(spec, key_kelvin=_lie_kelvin(spec.key_kelvin))}))
        kinds.append("focus")
    for i, spec in enumerate(random_color_scenes(n_color, seed, size=plan.size)):
        if i % 2:  # the literal lie on half of them: render 5000 K, prompt 2700 K
            spec = dataclasses.replace(spec, key_kelvin=5000.0, key_duv=0.0)
            lie = 2700.0
        else:
            lie = _lie_kelvin(spec.key_kelvin)
        jobs_list.append((spec, {"truth": scene_prompt(spec), "noroles": scene_prompt(spec, roles=False),
                                 "lie_k": scene_prompt(spec, key_kelvin=lie)}))
        kinds.append("color")
    res = parallel_map(_validate_scene, jobs_list, jobs=jobs)
    specs = [j[0] for j in jobs_list]
    lo, hi = PARAMS.obedient_ratio
    tol = PARAMS.obedient_mired
    where = f"{'quick' if quick else 'full'} plan, {plan.size} px"

    # ---- blur ----------------------------------------------------------------------------------
    truthful, liars, focus_err = [], [], []
    n_no_evidence, nan_no_evidence = 0, 0
    for spec, kind, r in zip(specs, kinds, res):
        if kind != "focus":
            continue
        t = r["truth"]
        plain = spec.background in ("wall", "gradient")
        floor = resolvable_disc_px(max(t["width"], t["height"]))
        if plain and spec.n_lights == 0:
            n_no_evidence += 1
            nan_no_evidence += not _fin(r["prompts"]["truth"]["values"][f"{F}.blur_ratio"])
            continue
        ratio = r["prompts"]["truth"]["values"][f"{F}.blur_ratio"]
        truthful.append(_fin(ratio) and lo <= ratio <= hi)
        cmin = t["coc_px_min"] if t["coc_px_min"] is not None else t["coc_px"]
        cmax = t["coc_px_max"] if t["coc_px_max"] is not None else t["coc_px"]
        meas = r["upstream"].get("focus.background_blur_px", math.nan)
        if cmax >= floor:  # focus's own error, where there is a blur to measure (no floor)
            tr = blur_ratio(meas, (cmin, cmax)) if _fin(meas) else math.nan
            focus_err.append(abs(tr - 1.0) if _fin(tr) else math.nan)
        c_lie = [x * spec.f_number / _lie_aperture(spec.f_number) for x in (cmin, cmax)]
        perfect = blur_ratio((cmin + cmax) / 2, tuple(c_lie), floor_px=floor)
        if not lo <= perfect <= hi:
            lr = r["prompts"]["lie_f"]["values"][f"{F}.blur_ratio"]
            liars.append(_fin(lr) and not lo <= lr <= hi)
    focus_ok, focus_txt = _gate("focus.background_blur_px", [100 * e if _fin(e) else e for e in focus_err],
                                15.0, 35.0, " %")
    checks: list = []

    def judged(name, measured, target, ok, detail, gate_ok, gate_txt, unit="%"):
        if not gate_ok:
            checks.append(V.Check(F, name, measured, target, None,
                                  f"not judged: {gate_txt}; {detail}", unit=unit))
        else:
            checks.append(V.Check(F, name, measured, target, bool(ok), f"{detail}; {gate_txt}",
                                  unit=unit))

    share = _pct(truthful)
    judged("truthful prompts: blur_ratio within 0.8-1.25", share, ">= 90 %", share >= 90.0,
           f"{len(truthful)} focus scenes with blur evidence ({where})", focus_ok, focus_txt)
    share = _pct(liars)
    judged("prompts that lie about the aperture (f/1.4 vs f/8): blur_ratio outside 0.8-1.25",
           share, ">= 90 %", share >= 90.0,
           f"{len(liars)} scenes where a perfect instrument would see the lie ({where})",
           focus_ok, focus_txt)

    # ---- Kelvin --------------------------------------------------------------------------------
    key_ok, key_roleless, key_lies, bg_ok, bg_roleless, cct_err = [], [], [], [], [], []
    by_tone: dict[str, list[bool]] = {}
    for spec, kind, r in zip(specs, kinds, res):
        t = r["truth"]
        up = r["upstream"]
        if t["has_subject"]:
            e = r["prompts"]["truth"]["values"][f"{F}.key_kelvin_error_mired"]
            key_ok.append(_fin(e) and e <= tol)
            by_tone.setdefault(_tone(spec), []).append(key_ok[-1])
            e2 = r["prompts"]["noroles"]["values"][f"{F}.key_kelvin_error_mired"]
            key_roleless.append(_fin(e2) and e2 <= tol)
            el = r["prompts"]["lie_k"]["values"][f"{F}.key_kelvin_error_mired"]
            key_lies.append(_fin(el) and el > tol)
            k = up.get("color.subject_cct_k", math.nan)
            cct_err.append(abs(_mired(k) - _mired(spec.key_kelvin)) if _fin(k) and k > 0 else math.nan)
        single_bg = spec.key_light_orbs == 0 and (spec.light_kelvin is None)
        if t["n_orbs"] > 0 and single_bg:
            e = r["prompts"]["truth"]["values"][f"{F}.background_kelvin_error_mired"]
            bg_ok.append(_fin(e) and e <= tol)
            e2 = r["prompts"]["noroles"]["values"][f"{F}.background_kelvin_error_mired"]
            bg_roleless.append(_fin(e2) and e2 <= tol)
            k = up.get("color.background_cct_k", math.nan)
            cct_err.append(abs(_mired(k) - _mired(spec.background_kelvin)) if _fin(k) and k > 0 else math.nan)
    color_ok, color_txt = _gate("color subject/background CCT", cct_err, 10.0, 25.0, " mired",
                                nan_is_miss=False)
    for name, xs in (("truthful prompts: key Kelvin error <= 15 mired", key_ok),
                     ("truthful prompts: background Kelvin error <= 15 mired", bg_ok),
                     ("truthful prompts without roles (assignment): key Kelvin error <= 15 mired",
                      key_roleless),
                     ("truthful prompts without roles (assignment): background Kelvin error <= 15 mired",
                      bg_roleless),
                     ("prompts that lie about the key (170 mired, 2700 K vs 5000 K): error > 15 mired",
                      key_lies)):
        share = _pct(xs)
        judged(name, share, ">= 90 %", share >= 90.0,
               f"{len(xs)} scenes ({n_focus} focus + {n_color} colour scenes, {where})",
               color_ok, color_txt)
    # fairness: the key light is read on the face, so its obedience must not depend on skin tone
    groups = {g: _pct(v) for g, v in sorted(by_tone.items()) if len(v) >= 3}
    if len(groups) >= 2:
        gap = max(groups.values()) - min(groups.values())
        judged("truthful prompts: key Kelvin obedience gap across skin tones", gap, "<= 15 points",
               gap <= 15.0, "share within 15 mired by skin tone (deep 0 .. light 5; astronaut = "
               "the photograph): " + ", ".join(f"{g} {v:.0f} % (n={len(by_tone[g])})"
                                               for g, v in groups.items()), color_ok, color_txt,
               unit="points")
    if n_no_evidence:
        share = 100.0 * nan_no_evidence / n_no_evidence
        judged("plain backgrounds without lights: blur_ratio NaN (no evidence)", share, ">= 95 %",
               share >= 95.0, f"{n_no_evidence} plain or gradient walls without lights ({where})",
               focus_ok, focus_txt)
    return checks


FAMILY = register(MetricFamily(
    name=F, version="1",
    method=("Thin-lens and light-source predictions of the prompt (lenscore.predictions) against "
            "focus.background_blur_px (blur-disc ratio, floored at the measurement's resolution), "
            "colour's key and background CCT (mired; lights mapped by role, else by minimum-cost "
            "assignment, Kuhn 1955) and bokeh's orb aspect"),
    outputs=OUTPUTS, compute=compute, params=PARAMS, requires=("focus", "color", "bokeh"),
    title="Prompt physics: does the render obey its prompt?",
    headline=(f"{F}.blur_error", f"{F}.key_kelvin_error_mired", f"{F}.spec_coverage"),
    explain=explain, draw=draw, validate=validate, order=50))
