"""``lenscore lint``: what a prompt's optics predict, and what the article would change.

For one prompt, :func:`lint` returns a :class:`LintResult`:

* **effect words** the article warns about, each with the rewrite it teaches ("dense, blurred
  crowd" -> "dense crowd 20 m behind, rendered as bokeh orbs"; "realistic skin" -> "visible pore
  structure, natural sebum reflection");
* the **parsed optics** and the thin-lens **predictions** (:mod:`lenscore.predictions`);
* **contradictions**: requests the stated optics cannot satisfy (f/16 with "creamy bokeh"; a 1:8
  ratio and a crowd at 5 m with the subject at 2.5 m; 24 mm with "compressed background"; a
  "warm" 6500 K key; a candle at 6500 K);
* **warnings** (several lenses, a ratio without a subject distance, unreadable numbers, lights
  tied to no role, ...);
* the **control surface** the article describes ("want tighter orbs? increase the distance or
  switch to a longer lens"): what one stop, twice the distance or a longer lens does to the
  disc, as numbers.

:func:`collect_prompts` reads prompts from text, a prompt library (TOML/YAML) or images' PNG
metadata; :func:`format_text` renders results for an 80-column terminal. The command line is in
:mod:`lenscore.cli`.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from lenscore import optics as O
from lenscore.datasets.optics import PromptOptics, parse_prompt_optics
from lenscore.predictions import LIGHT_SOURCES, DiscPrediction, Predictions, predict

#: Blur discs smaller than this fraction of the frame's long side (about 10 px at 1024 px) read
#: as points or texture, not as bokeh orbs.
MIN_BOKEH_FRAC = 0.01
#: A stated Kelvin this far (mired) outside its named source's range contradicts the name.
SOURCE_TOLERANCE_MIRED = 50.0
#: Two statements of one distance disagree when they differ by more than this fraction.
DISTANCE_TOLERANCE = 0.25
#: Full-frame equivalent focal lengths: at most WIDE_MAX_MM is a wide angle, at least
#: LONG_MIN_MM a long (compressing) lens.
WIDE_MAX_MM, LONG_MIN_MM = 35.0, 70.0
#: Warm words with a Kelvin at or above this, or cool words at or below COOL_MAX_K, contradict.
WARM_MIN_K, COOL_MAX_K = 5000.0, 4000.0
#: The article's example background distance, used in rewrites when the prompt gives none.
ARTICLE_BACKGROUND_M = 20.0
DEFAULT_WIDTH_PX = 1024


@dataclass(frozen=True)
class Finding:
    """One thing lint says: ``kind`` is ``effect``, ``warning`` or ``contradiction``; ``code``
    names the rule; ``phrase``/``span`` point at the prompt; ``rewrite`` is the article's fix."""

    kind: str
    code: str
    message: str
    phrase: str | None = None
    span: tuple[int, int] | None = None
    rewrite: str | None = None

    def to_dict(self) -> dict:
        return {"kind": self.kind, "code": self.code, "message": self.message,
                "phrase": self.phrase, "span": None if self.span is None else list(self.span),
                "rewrite": self.rewrite}


@dataclass(frozen=True)
class ControlStep:
    """One turn of a knob: the disc of ``target`` after ``change``, and ``factor`` against now."""

    change: str
    target: str
    frac: float
    factor: float
    px: float

    def to_dict(self) -> dict:
        return {"change": self.change, "target": self.target, "frac": self.frac,
                "factor": self.factor, "px": self.px}


@dataclass(frozen=True)
class LintResult:
    """Everything ``lenscore lint`` says about one prompt. :meth:`to_dict` is JSON-ready."""

    prompt: str
    optics: PromptOptics
    predictions: Predictions
    effects: tuple[Finding, ...] = ()
    warnings: tuple[Finding, ...] = ()
    contradictions: tuple[Finding, ...] = ()
    control_surface: tuple[ControlStep, ...] = ()
    width_px: int = DEFAULT_WIDTH_PX
    source: str | None = None
    images: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """No contradictions (effect words and warnings are advice)."""
        return not self.contradictions

    def to_dict(self) -> dict:
        return _jsonable({
            "source": self.source, "images": list(self.images), "prompt": self.prompt,
            "ok": self.ok, "width_px": self.width_px, "values": self.optics.values(),
            "optics": self.optics.to_dict(),
            "predictions": self.predictions.to_dict(self.width_px),
            "effects": [f.to_dict() for f in self.effects],
            "warnings": [f.to_dict() for f in self.warnings],
            "contradictions": [f.to_dict() for f in self.contradictions],
            "control_surface": [c.to_dict() for c in self.control_surface],
        })

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)


def _jsonable(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------
def _pct(frac: float) -> str:
    v = 100.0 * frac
    return f"{v:.2g} %" if v < 1 else f"{v:.1f} %"


def _m(x: float) -> str:
    return f"{x:.3g} m" if x < 100 else f"{x:.0f} m"


_FULL_STOPS = (0.7, 1.0, 1.4, 2.0, 2.8, 4.0, 5.6, 8.0, 11.0, 16.0, 22.0, 32.0, 45.0, 64.0)


def _fnum(n: float, *, nominal: bool = True) -> str:
    """f/1.4, f/0.99 -> f/1 (a computed stop is shown by its nominal name within 3 %)."""
    for stop in _FULL_STOPS if nominal else ():
        if abs(n - stop) <= 0.03 * stop:
            n = stop
            break
    if not nominal:
        return f"f/{n:.3g}"
    return f"f/{n:.2g}" if n < 10 else f"f/{n:.0f}"


def _same_clause(text: str, a: tuple[int, int], b: tuple[int, int]) -> bool:
    lo, hi = (a[1], b[0]) if a[0] <= b[0] else (b[1], a[0])
    return not re.search(r"[,;|\n]|\.\s", text[lo:hi]) if hi > lo else True


def _background_phrase(p: PromptOptics, pr: Predictions) -> str:
    """'20 m' from the prompt's own background distance, else the article's example."""
    for d in p.distances:
        if d.role == "background" and d.metres is not None:
            return _m(d.metres)
    if pr.background is not None and pr.background.depth_m is not None and pr.subject_m:
        return _m(pr.background.depth_m - pr.subject_m)
    return _m(ARTICLE_BACKGROUND_M)


#: effect words that always get the same finding: kind -> (code, message, the article's rewrite)
_WORD_RULES: dict[str, tuple[str, str, str]] = {
    "haze": ("haze-word",
             ("haze is atmosphere, not optics: fine for softer transitions (the article pairs it "
              "with a smaller Kelvin difference); say where it is"),
             "light atmospheric haze between subject and crowd"),
    "particles": ("particles-word", "name the particles and what lights them",
                  "dust motes backlit by a 3200K tungsten lamp"),
    "cinematic": ("cinematic-label",
                  ("a label, not a specification: say what makes it so: light sources that keep "
                   "their Kelvin separation, the lens"),
                  "2700K sodium vapor highlights against 6500K LED fill"),
    "realistic_skin": ("realistic-skin-category",
                       "a category, not a specification: the model averages it into smoothness",
                       "visible pore structure, natural sebum reflection"),
    "smooth_skin": ("smooth-skin",
                    ("asks for plastic skin; pores and sebum put the face under the same light as "
                     "the background"),
                    "visible pore structure, natural sebum reflection"),
    "photorealistic": ("quality-label",
                       "a quality label: lens, distance and light make an image photographic",
                       "85mm f/1.4 at 2.5 m, 2700K key"),
    "colour_words": ("colour-without-temperature",
                     "color without temperature is paint: give each source its Kelvin",
                     "2700K sodium vapor highlights, 6500K LED fill"),
}


def _effect_findings(p: PromptOptics, pr: Predictions) -> list[Finding]:
    out: list[Finding] = []
    t = p.text
    has_aperture = pr.f_number is not None
    has_bg = any(d.role == "background" for d in p.distances) or bool(p.ratios)
    has_lights = bool(p.lights)
    d_txt = _background_phrase(p, pr)
    seen_kinds: set[str] = set()
    for e in p.effects:
        if e.kind == "blur":
            noun = e.noun
            if noun:
                lead = f"{e.adjectives} {noun}".strip()
                extra = " (name what is there: a crowd, street lights)" if noun == "background" else ""
                out.append(Finding("effect", "blur-word",
                                   f"asks for a filter, not optics: '{e.text}' has no properties; "
                                   f"bokeh orbs have size, shape and colour{extra}",
                                   e.phrase, e.phrase_span,
                                   f"{lead} {d_txt} behind, rendered as bokeh orbs"))
            else:
                out.append(Finding("effect", "blur-word",
                                   "a quality label (motion, defocus or smear): say what is out "
                                   "of focus and where", e.text, e.span,
                                   f"crowd {d_txt} behind, rendered as bokeh orbs"))
        elif e.kind == "bokeh":
            if "bokeh" in seen_kinds:
                continue
            need = [n for n, ok in (("an aperture (f/1.4)", has_aperture),
                                    (f"the background's distance (crowd at {d_txt})", has_bg),
                                    ("the light sources (2200K sodium street lights)", has_lights))
                    if not ok]
            if need:
                out.append(Finding("effect", "bokeh-without-optics",
                                   "bokeh comes from aperture, distance and light sources, not "
                                   "from the word: add " + ", ".join(need), e.text, e.span,
                                   "85mm f/1.4 at 2.5 m, crowd at 20 m rendered as bokeh orbs"))
        elif e.kind == "shallow_dof":
            if not (has_aperture and pr.subject_m is not None and has_bg):
                out.append(Finding("effect", "shallow-dof-without-numbers",
                                   "shallow depth of field is a relationship, not a switch: give "
                                   "the f-number and the subject and background distances",
                                   e.text, e.span, "f/1.4, subject at 2 m, background at 20 m"))
        elif e.kind == "glow":
            if any(_same_clause(t, e.span, li.span) for li in p.lights):
                continue
            out.append(Finding("effect", "glow-word", "a glow is an effect: name the source that "
                               "makes it and its Kelvin", e.text, e.span,
                               "2700K tungsten practicals"))
        elif e.kind in _WORD_RULES:
            code, message, rewrite = _WORD_RULES[e.kind]
            out.append(Finding("effect", code, message, e.text, e.span, rewrite))
        seen_kinds.add(e.kind)
    return out


def _wants_defocus(p: PromptOptics) -> tuple[str, tuple[int, int]] | None:
    for w in p.wishes:
        if w.kind == "creamy_bokeh":
            return w.text, w.span
    for e in p.effects:
        if e.kind in ("bokeh", "shallow_dof") or (e.kind == "blur" and e.noun):
            return e.text, e.span
    return None


def _contradictions(p: PromptOptics, pr: Predictions, width_px: int) -> list[Finding]:
    out: list[Finding] = []
    wish = _wants_defocus(p)
    kinds = {w.kind for w in p.wishes}
    # -- aperture and distances against bokeh -----------------------------------------------
    if wish and pr.focal_mm is not None and pr.f_number is not None:
        disc = None
        if pr.subject_m is not None and pr.at_infinity is not None:
            disc = pr.background or pr.at_infinity
            where = f"for the {disc.label}" if disc is pr.background else \
                "even for a background at infinity"
            frac = disc.frac if disc.frac is not None else disc.frac_range[1]
            how = f"with {pr.focal_mm:g} mm focused at {_m(pr.subject_m)}"
        else:
            s = O.portrait_focus_m(pr.focal_mm, pr.sensor)
            frac = O.coc_fraction(pr.focal_mm, pr.f_number, s, math.inf, sensor=pr.sensor)
            where = "even for a background at infinity"
            how = (f"in a head-and-shoulders portrait ({pr.focal_mm:g} mm from {_m(s)}; no subject "
                   f"distance is stated)")
        if frac < MIN_BOKEH_FRAC:
            fixes = []
            n_need = pr.f_number * frac / MIN_BOKEH_FRAC
            if n_need >= 0.95:  # no lens is much faster than f/0.95
                fixes.append(f"open up to {_fnum(n_need, nominal=False)} or wider")
            if disc is not None and disc is pr.background and disc.depth_m is not None \
                    and pr.at_infinity.frac > MIN_BOKEH_FRAC and not disc.in_front:
                # k (d - s) / d = target  ->  d = s / (1 - target / k)
                d_need = pr.subject_m / (1.0 - MIN_BOKEH_FRAC / pr.at_infinity.frac)
                fixes.append(f"move the {disc.label.split(' at ')[0].split(' ')[0]} to "
                             f"{_m(d_need)} or farther")
            elif not fixes:
                fixes.append("use a longer lens or come closer")
            out.append(Finding("contradiction", "aperture-vs-bokeh",
                               f"{_fnum(pr.f_number)} with '{wish[0]}': discs of {_pct(frac)} of "
                               f"the frame width ({frac * width_px:.0f} px at {width_px} px) "
                               f"{where}, {how}; bokeh orbs need about "
                               f"{_pct(MIN_BOKEH_FRAC)} or more: " + " or ".join(fixes),
                               wish[0], wish[1]))
    elif wish and pr.f_number is not None and (pr.equivalent_f_number or 0) >= 11:
        out.append(Finding("warning", "small-aperture",
                           f"{_fnum(pr.f_number)} is a small aperture for '{wish[0]}'; with no "
                           f"focal length stated the discs cannot be predicted", wish[0], wish[1]))
    # -- deep focus against bokeh -----------------------------------------------------------
    if "deep_focus" in kinds:
        w = next(w for w in p.wishes if w.kind == "deep_focus")
        if wish:
            out.append(Finding("contradiction", "deep-vs-shallow",
                               f"'{w.text}' and '{wish[0]}' ask for opposite depths of field",
                               w.text, w.span))
        elif pr.background is not None and (pr.background.frac or 0) >= MIN_BOKEH_FRAC:
            out.append(Finding("contradiction", "deep-focus-vs-lens",
                               f"'{w.text}', but {_fnum(pr.f_number)} at {_m(pr.subject_m)} blurs "
                               f"the {pr.background.label} into {_pct(pr.background.frac)} discs "
                               f"(depth of field {_dof_txt(pr)})", w.text, w.span))
    # -- shallow depth of field against a deep one --------------------------------------------
    shallow = next((e for e in p.effects if e.kind == "shallow_dof"), None)
    if shallow and pr.depth_of_field is not None and pr.depth_of_field.far_is_infinite:
        out.append(Finding("contradiction", "shallow-vs-hyperfocal",
                           f"'{shallow.text}', but {_fnum(pr.f_number)} at {_m(pr.subject_m)} is "
                           f"beyond the hyperfocal distance: sharp from "
                           f"{_m(pr.depth_of_field.near_m)} to infinity", shallow.text, shallow.span))
    # -- distances: ratio against stated depths, subject stated twice --------------------------
    subjects = [d for d in p.distances if d.role == "subject" and d.metres]
    if len(subjects) > 1:
        a = subjects[0]
        for b in subjects[1:]:
            if abs(b.metres - a.metres) > DISTANCE_TOLERANCE * a.metres:
                out.append(Finding("contradiction", "subject-distance",
                                   f"the subject is at {a.text} and at {b.text}", b.text, b.span))
    if pr.subject_m:
        stated = []
        for d in p.distances:
            if d.role != "background":
                continue
            base = pr.subject_m if d.relative == "behind_subject" else 0.0
            stated.append((d, (d.range_m[0] + base, d.range_m[1] + base) if d.range_m
                           else (d.metres + base, d.metres + base)))
        for r in p.ratios:
            want = r.background_over_subject * pr.subject_m
            fits = [d for d, (lo, hi) in stated
                    if lo * (1 - DISTANCE_TOLERANCE) <= want <= hi * (1 + DISTANCE_TOLERANCE)]
            if stated and not fits:
                d, (lo, hi) = stated[0]
                what = d.noun or "background"
                actual = f"{lo / pr.subject_m:.2g}" if lo == hi else \
                    f"{lo / pr.subject_m:.2g}-{hi / pr.subject_m:.2g}"
                out.append(Finding("contradiction", "ratio-vs-distance",
                                   f"a 1:{r.background_over_subject:g} ratio puts the background at "
                                   f"{_m(want)} ({r.background_over_subject:g} x {_m(pr.subject_m)}), "
                                   f"but the {what} is at {_m(lo) if lo == hi else _m(lo)[:-2] + '-' + _m(hi)}"
                                   f" (1:{actual})", r.text, r.span))
    if pr.focal_mm is not None and pr.subject_m is not None and pr.subject_m * 1000 <= pr.focal_mm:
        s = next(d for d in p.distances if d.role == "subject" and d.metres)
        out.append(Finding("contradiction", "focus-inside-focal-length",
                           f"a {pr.focal_mm:g} mm lens cannot focus at {s.text}", s.text, s.span))
    # -- perspective ---------------------------------------------------------------------------
    if pr.equivalent_focal_mm is not None:
        eq = pr.equivalent_focal_mm
        eq_txt = f"{pr.focal_mm:g} mm" + ("" if pr.sensor.crop == 1 else f" ({eq:.0f} mm equivalent)")
        for w in p.wishes:
            if w.kind == "compression" and eq <= WIDE_MAX_MM:
                out.append(Finding("contradiction", "wide-lens-vs-compression",
                                   f"{eq_txt} with '{w.text}': compression comes from distance "
                                   f"and a long lens ({LONG_MIN_MM:.0f} mm and beyond), a wide "
                                   f"angle stretches depth", w.text, w.span))
            if w.kind == "wide_angle" and eq >= LONG_MIN_MM:
                out.append(Finding("contradiction", "long-lens-vs-wide-angle",
                                   f"{eq_txt} with '{w.text}': a wide angle is "
                                   f"{WIDE_MAX_MM:.0f} mm (full-frame equivalent) or shorter",
                                   w.text, w.span))
    # -- light sources ---------------------------------------------------------------------------
    for li in p.lights:
        k = li.kelvin
        if k is None:
            continue
        src = LIGHT_SOURCES.get(li.source) if li.source else None
        if src is not None and src.kelvin_range is not None:
            lo, hi = src.kelvin_range
            m = O.mired(k)
            gap = max(O.mired(hi) - m, m - O.mired(lo), 0.0)
            if gap > SOURCE_TOLERANCE_MIRED:
                rng = f"{lo:.0f} K" if lo == hi else f"{lo:.0f}-{hi:.0f} K"
                out.append(Finding("contradiction", "kelvin-vs-source",
                                   f"{src.name} is {rng}, not {k:.0f} K ({gap:.0f} mired off)",
                                   li.text, li.span))
        if li.hue == "warm" and k >= WARM_MIN_K:
            out.append(Finding("contradiction", "kelvin-vs-hue",
                               f"{k:.0f} K is neutral to cool daylight, not warm (warm light is "
                               f"below about 3500 K)", li.text, li.span))
        if li.hue == "cool" and k <= COOL_MAX_K:
            out.append(Finding("contradiction", "kelvin-vs-hue",
                               f"{k:.0f} K is warm light, not cool (cool light is above about "
                               f"5500 K)", li.text, li.span))
    return out


def _dof_txt(pr: Predictions) -> str:
    d = pr.depth_of_field
    if d is None:
        return "?"
    if d.far_is_infinite:
        return f"{_m(d.near_m)} to infinity"
    return f"{d.near_m:.2f}-{d.far_m:.2f} m"


def _warnings(p: PromptOptics, pr: Predictions) -> list[Finding]:
    out: list[Finding] = []
    singles = [f for f in p.focal_lengths if f.mm is not None and not f.equivalent]
    if len({f.mm for f in singles}) > 1:
        names = ", ".join(f.text for f in singles)
        out.append(Finding("warning", "several-lenses",
                           f"several focal lengths ({names}): one photograph has one; "
                           f"predictions use the first", singles[1].text, singles[1].span))
    aps = [a for a in p.apertures if a.value is not None]
    if len({a.value for a in aps}) > 1:
        out.append(Finding("warning", "several-apertures",
                           f"several apertures ({', '.join(a.text for a in aps)}): predictions "
                           f"use {_fnum(pr.f_number)}", aps[1].text, aps[1].span))
    if len({f.key for f in p.formats}) > 1:
        out.append(Finding("warning", "several-formats",
                           f"several formats ({', '.join(f.text for f in p.formats)}): "
                           f"predictions use the {pr.sensor.name}", p.formats[1].text,
                           p.formats[1].span))
    for note in pr.notes:
        out.append(Finding("warning", "cannot-predict", note))
    for u in p.unparsed:
        out.append(Finding("warning", "unreadable-value", f"cannot read '{u.text}': {u.reason}",
                           u.text, u.span))
    for d in pr.discs:
        if d.in_front:
            out.append(Finding("warning", "in-front-of-focus",
                               f"the {d.label} is nearer than the subject ({_m(pr.subject_m)}): "
                               f"foreground blur, not background bokeh", d.label, d.span))
    if p.lights and not any(li.role in ("key", "background") for li in p.lights) and \
            len(p.lights) >= 1 and any(li.kelvin or li.kelvin_range or li.source for li in p.lights):
        out.append(Finding("warning", "lights-without-roles",
                           "no light is tied to the key or the background: say which light is "
                           "which, so a render can be checked against it",
                           rewrite="2700K sodium vapor key, 6500K LED background"))
    kinds = {c.kind for c in p.character}
    if "anamorphic" in kinds and "circular" in kinds:
        c = next(c for c in p.character if c.kind == "circular")
        out.append(Finding("warning", "anamorphic-and-circular",
                           "a front anamorphic lens makes oval orbs (taller than wide by the "
                           "squeeze); circular orbs with horizontal streaks are a spherical lens "
                           "with a streak filter or a rear anamorphic: say which", c.text, c.span))
    return out


def _control_surface(p: PromptOptics, pr: Predictions, width_px: int) -> list[ControlStep]:
    if not (pr.focal_mm and pr.f_number and pr.subject_m and pr.at_infinity):
        return []
    disc: DiscPrediction = pr.background if (pr.background and pr.background.depth_m) \
        else pr.at_infinity
    f, n, s, d = pr.focal_mm, pr.f_number, pr.subject_m, disc.depth_m
    target = disc.label
    base = disc.frac
    if not base:
        return []
    W = pr.sensor.width_mm

    def step(change: str, ff: float, nn: float, ss: float, dd: float) -> ControlStep:
        frac = O.coc_diameter_mm(ff, nn, ss, dd) / W
        return ControlStep(change, target, frac, frac / base, frac * width_px)

    out = [step(f"one stop wider, {_fnum(O.stops_wider(n))}", f, O.stops_wider(n), s, d),
           step(f"one stop narrower, {_fnum(O.stops_wider(n, -1))}", f, O.stops_wider(n, -1), s, d)]
    if math.isfinite(d):
        out.append(step(f"background twice as far, {_m(2 * d)}", f, n, s, 2 * d))
    f2 = O.next_longer_focal_mm(f * pr.sensor.crop) / pr.sensor.crop
    if f2 * 1.0 < s * 1000:
        out.append(step(f"{f2:.3g} mm, same distances", f2, n, s, d))
        s2 = O.focus_for_magnification_m(f2, O.magnification(f, s))
        d2 = d + (s2 - s) if math.isfinite(d) else d
        out.append(step(f"{f2:.3g} mm from {_m(s2)}, same framing", f2, n, s2, d2))
    return out


_EXPECT_KINDS = {"focal": "focal length {} mm", "focal_eq": "{} mm equivalent", "f": "f/{}",
                 "T": "T{}", "K": "{} K", "subject": "subject at {} m", "bg": "background at {} m",
                 "behind": "background {} m behind", "ratio": "ratio 1:{}", "format": "format {}"}


def _expect_findings(p: PromptOptics, expect: dict[str, str]) -> list[Finding]:
    """Values a prompt library's ``expect`` table names that the prompt itself does not state."""
    stated = set(p.values())
    out = []
    for key, text in expect.items():
        want = [v for v in parse_prompt_optics(str(text)).values()
                if v.split("=")[0] in _EXPECT_KINDS]
        miss = [v for v in want if v not in stated]
        if miss:
            names = ", ".join(_EXPECT_KINDS[v.split("=")[0]].format(v.split("=", 1)[1])
                              for v in miss)
            out.append(Finding("warning", "expect-not-in-prompt",
                               f"the library expects {key} = '{text}', but the prompt does not "
                               f"state {names}: the model cannot honour what it is not told"))
    return out


def lint(prompt: str, *, width_px: int = DEFAULT_WIDTH_PX, source: str | None = None,
         images: tuple[str, ...] = (), expect: dict[str, str] | None = None) -> LintResult:
    """Lint one prompt against the article's optics.

    Parameters
    ----------
    prompt : str
        The prompt text.
    width_px : int, keyword-only
        Long side of the render, for disc sizes in pixels (default 1024).
    source, images : keyword-only
        Where the prompt came from (for reports).
    expect : dict, keyword-only
        A prompt library's ``expect`` table (``lens = "85mm f/1.4"``): values it names that the
        prompt does not state are warnings.

    Returns
    -------
    LintResult
        Parsed optics, predictions, effect words with rewrites, warnings, contradictions and the
        control surface; ``result.to_dict()`` is JSON-serialisable.

    Examples
    --------
    >>> r = lint("85mm f/16 portrait at 2.5 m, crowd at 20 m, creamy bokeh")
    >>> r.ok, r.contradictions[0].code
    (False, 'aperture-vs-bokeh')
    >>> round(100 * lint("85mm f/1.4 at 2.5 m, crowd at 20 m").predictions.background.frac, 1)
    5.2
    """
    if not isinstance(prompt, str):
        from lenscore.errors import InputError

        raise InputError(f"a prompt must be text, got {type(prompt).__name__}")
    if not (isinstance(width_px, int) and width_px > 0):
        from lenscore.errors import InputError

        raise InputError(f"width_px must be a positive number of pixels, got {width_px!r}")
    p = parse_prompt_optics(prompt)
    pr = predict(p)
    contra = _contradictions(p, pr, width_px)
    warnings = [c for c in contra if c.kind == "warning"] + _warnings(p, pr) + \
        _expect_findings(p, dict(expect or {}))
    contra = [c for c in contra if c.kind == "contradiction"]
    return LintResult(prompt, p, pr, tuple(_effect_findings(p, pr)), tuple(warnings),
                      tuple(contra), tuple(_control_surface(p, pr, width_px)), width_px, source,
                      tuple(images))


# ---------------------------------------------------------------------------------------------
# Inputs: text, prompt libraries, images
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PromptSource:
    """A prompt to lint and where it came from (``images``: the files that carry it)."""

    prompt: str
    source: str
    images: tuple[str, ...] = ()
    expect: dict = field(default_factory=dict)


_LIBRARY_SUFFIXES = (".toml", ".yaml", ".yml")


def collect_prompts(inputs: list[str]) -> tuple[list[PromptSource], list[str], list[str]]:
    """Prompts from each input: an existing prompt library (``.toml``/``.yaml``), a folder or
    image (prompts from PNG/EXIF metadata, one entry per distinct prompt), or else the text
    itself. Returns (prompts, unreadable images with reasons, images without a prompt).

    Raises
    ------
    UsageError
        for a library path that does not exist, or a folder with no images.
    ConfigError
        for a malformed prompt library.
    """
    from lenscore.errors import UsageError

    prompts: list[PromptSource] = []
    unreadable: list[str] = []
    no_prompt: list[str] = []
    for arg in inputs:
        path = Path(arg)
        looks_like_path = "\n" not in arg and len(arg) < 4096
        if looks_like_path and path.suffix.lower() in _LIBRARY_SUFFIXES and not path.is_file():
            raise UsageError(f"prompt library not found: {arg}")
        if looks_like_path and path.is_file() and path.suffix.lower() in _LIBRARY_SUFFIXES:
            from lenscore.datasets.library import load_library

            for item in load_library(path):
                for variant, text in item.variants.items():
                    prompts.append(PromptSource(text, f"{item.id}/{variant} ({arg})",
                                                expect=dict(item.expect)))
        elif looks_like_path and (path.is_dir() or (path.is_file() and _is_image(path))):
            found, bad, none = _prompts_from_images(path)
            prompts += found
            unreadable += bad
            no_prompt += none
        else:
            prompts.append(PromptSource(arg, "argument"))
    return prompts, unreadable, no_prompt


def _is_image(path: Path) -> bool:
    from lenscore.datasets.decode import SUPPORTED_SUFFIXES

    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _prompts_from_images(root: Path) -> tuple[list[PromptSource], list[str], list[str]]:
    from lenscore.datasets.decode import decode_image
    from lenscore.datasets.discover import find_images
    from lenscore.datasets.prompts import prompt_from_text
    from lenscore.errors import InputError

    by_prompt: dict[str, list[str]] = {}
    unreadable: list[str] = []
    no_prompt: list[str] = []
    for rec in find_images(root):
        try:
            text = decode_image(rec.source).text
        except InputError as e:
            unreadable.append(f"{rec.path}: {e}")
            continue
        info = prompt_from_text(text)
        if not info.prompt:
            no_prompt.append(rec.path)
            continue
        by_prompt.setdefault(info.prompt, []).append(
            rec.path if root.is_dir() else os.path.basename(rec.source))
    out = []
    for prompt, paths in by_prompt.items():
        more = f" (+{len(paths) - 1} more with this prompt)" if len(paths) > 1 else ""
        label = f"{(root / paths[0]).as_posix() if root.is_dir() else root.as_posix()}{more}"
        out.append(PromptSource(prompt, label, tuple(paths)))
    return out, unreadable, no_prompt


# ---------------------------------------------------------------------------------------------
# Text output (80 columns)
# ---------------------------------------------------------------------------------------------
_UNIT_GLUE = re.compile(r"(?<=\d) (?=(?:m|mm|cm|K|px|%|mired)\b)")


def _wrap(text: str, indent: str, width: int, first: str | None = None) -> list[str]:
    """textwrap that never breaks between a number and its unit ('20 m')."""
    glued = _UNIT_GLUE.sub("\u00a0", text)
    lines = textwrap.wrap(glued, width=width, initial_indent=first if first is not None else indent,
                          subsequent_indent=indent, break_long_words=True,
                          break_on_hyphens=False) or [first or indent]
    return [line.replace("\u00a0", " ") for line in lines]


def _optics_lines(r: LintResult, width: int) -> list[str]:
    p, pr = r.optics, r.predictions
    rows: list[tuple[str, str]] = []
    lens = []
    if pr.focal_mm is not None:
        lens.append(f"{pr.focal_mm:.3g} mm")
    elif any(f.zoom_mm for f in p.focal_lengths):
        z = next(f for f in p.focal_lengths if f.zoom_mm)
        lens.append(f"{z.zoom_mm[0]:g}-{z.zoom_mm[1]:g} mm zoom")
    if pr.f_number is not None:
        lens.append(f"T{pr.f_number:g}" if pr.f_kind == "T" else f"f/{pr.f_number:g}")
    fmt = pr.sensor.name + (" (no format stated)" if pr.sensor_basis == "default" else "")
    rows.append(("lens", (" ".join(lens) or "not stated") + ", " + fmt))
    if pr.equivalent_focal_mm is not None and pr.sensor.crop != 1.0:
        eqn = f", {_fnum(pr.equivalent_f_number)}" if pr.equivalent_f_number else ""
        rows.append(("equivalent", f"{pr.equivalent_focal_mm:.0f} mm{eqn} on full frame "
                                   f"(crop {pr.sensor.crop:.2f})"))
    rows.append(("subject", _m(pr.subject_m) if pr.subject_m else "not stated"))
    bg = []
    for d in p.distances:
        if d.role == "subject":
            continue
        what = d.noun or d.role
        rel = " behind" if d.relative == "behind_subject" else ""
        val = (f"{d.range_m[0]:.3g}-{d.range_m[1]:.3g} m" if d.range_m else _m(d.metres))
        bg.append(f"{what} {'' if rel else 'at '}{val}{rel}")
    bg += [f"ratio 1:{x.background_over_subject:g}" for x in p.ratios]
    rows.append(("background", "; ".join(bg) or "not stated"))
    lights = []
    for li in pr.lights:
        name = LIGHT_SOURCES[li.source].name if li.source in LIGHT_SOURCES else None
        k = ""
        if li.basis == "stated":
            k = f"{li.kelvin:.0f} K" if li.kelvin_range[0] == li.kelvin_range[1] else \
                f"{li.kelvin_range[0]:.0f}-{li.kelvin_range[1]:.0f} K"
        elif li.kelvin_range:
            k = f"~{li.kelvin:.0f} K from the table"
        bits = " ".join(x for x in (k, li.tint, name) if x)
        lights.append(f"{bits or li.text}" + (f" ({li.role})" if li.role else ""))
    rows.append(("lights", "; ".join(lights) or "not stated"))
    if p.character:
        rows.append(("character", ", ".join(dict.fromkeys(
            c.kind.replace("_", " ") + (f" {c.squeeze:g}x" if c.squeeze else "") +
            (f" {c.blades} blades" if c.blades else "") for c in p.character))))
    n_have = round(pr.coverage * 6)
    rows.append(("pinned down", f"{n_have} of 6" + (f" (not stated: {', '.join(pr.missing)})"
                                                   if pr.missing else "")))
    out = []
    for k, v in rows:
        out += _wrap(v, " " * 15, width, first=f"  {k:<12} ")
    return out


def _prediction_lines(r: LintResult, width: int) -> list[str]:
    pr, w = r.predictions, r.width_px
    lines: list[str] = []
    if not pr.can_predict_discs:
        need = [n for n in ("focal length", "aperture", "subject distance") if n in pr.missing]
        if need:
            lines.append("no blur-disc prediction: the prompt states no " +
                         (need[0] if len(need) == 1 else ", ".join(need[:-1]) + " or " + need[-1]))
    for d in pr.discs:
        if d.frac is not None:
            lines.append(f"{d.label}: discs about {_pct(d.frac)} of the frame width "
                         f"({d.frac * w:.0f} px at {w} px)")
        else:
            lo, hi = d.frac_range
            lines.append(f"{d.label}: discs {_pct(lo)} to {_pct(hi)} of the frame width "
                         f"({lo * w:.0f}-{hi * w:.0f} px at {w} px)")
    if pr.at_infinity is not None:
        lines.append(f"at most {_pct(pr.at_infinity.frac)} ({pr.at_infinity.frac * w:.0f} px) for a "
                     f"background at infinity")
    if pr.depth_of_field is not None:
        d = pr.depth_of_field
        span = "" if d.far_is_infinite else f" ({100 * d.total_m:.0f} cm)" if d.total_m < 1 \
            else f" ({d.total_m:.2g} m)"
        lines.append(f"depth of field {_dof_txt(pr)}{span}")
    if pr.delta_mired is not None:
        lines.append(f"lights {pr.delta_mired:.0f} mired apart: {pr.warm.kelvin:.0f} K"
                     f"{' (' + pr.warm.role + ')' if pr.warm.role else ''} warm against "
                     f"{pr.cool.kelvin:.0f} K{' (' + pr.cool.role + ')' if pr.cool.role else ''} "
                     f"cool")
    if pr.orb_shape is not None:
        o = pr.orb_shape
        asp = f", aspect {o.aspect:g}" if o.aspect else (
            f", aspect {o.aspect_range[0]:g}-{o.aspect_range[1]:g}" if o.aspect_range else "")
        lines.append(f"orbs: {o.kind.replace('_', ' ')}{asp}" + (f" ({o.note})" if o.note else ""))
    for a in pr.assumptions:
        lines.append(f"assumed: {a}")
    out = []
    for line in lines:
        out += _wrap(line, "    ", width, first="  - ")
    return out


def _finding_lines(findings, width: int) -> list[str]:
    out = []
    for f in findings:
        head = f'"{f.phrase}": ' if f.phrase else ""
        out += _wrap(head + f.message, "    ", width, first="  - ")
        if f.rewrite:
            out += _wrap(f'"{f.rewrite}"', "       ", width, first="    -> ")
    return out


def format_text(results: list[LintResult], *, width: int = 80) -> str:
    """The lint report for a terminal: every line at most ``width`` characters."""
    blocks = []
    for r in results:
        lines = _wrap(r.source or "prompt", "   ", width, first="== ")
        lines += _wrap(r.prompt.replace("\n", " "), "   ", width, first="   ")
        lines.append("optics")
        lines += _optics_lines(r, width)
        lines.append("predictions")
        lines += _prediction_lines(r, width)
        if r.control_surface:
            base = r.predictions.background if (r.predictions.background and
                                                r.predictions.background.depth_m) \
                else r.predictions.at_infinity
            lines += _wrap(f"control surface ({base.label}: {_pct(base.frac)}, "
                           f"{base.frac * r.width_px:.0f} px now)", "  ", width, first="")
            for c in r.control_surface:
                row = f"  {c.change:<40} {_pct(c.frac):>7} {c.px:>5.0f} px  x{c.factor:.2f}"
                lines += [row] if len(row) <= width else _wrap(row.strip(), "    ", width, "  ")
        if r.effects:
            lines.append("effect words (the article's rewrites)")
            lines += _finding_lines(r.effects, width)
        if r.warnings:
            lines.append("warnings")
            lines += _finding_lines(r.warnings, width)
        lines.append("contradictions" + ("" if r.contradictions else ": none"))
        lines += _finding_lines(r.contradictions, width)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def to_json(results: list[LintResult], **extra) -> str:
    """All results as one JSON document."""
    from lenscore import __version__

    doc = {"lenscore_version": __version__, **extra,
           "n_prompts": len(results), "n_with_contradictions": sum(not r.ok for r in results),
           "results": [r.to_dict() for r in results]}
    return json.dumps(doc, ensure_ascii=False, indent=2)


__all__ = ["ControlStep", "Finding", "LintResult", "PromptSource", "collect_prompts",
           "format_text", "lint", "to_json", "MIN_BOKEH_FRAC"]
