"""Reading the optics a prompt states: lens, aperture, format, distances, lights, effect words.

:func:`parse_prompt_optics` turns free prompt text into a :class:`PromptOptics`: every focal
length, f-number, sensor format, subject and background distance, distance ratio, light source
(with its Kelvin and its role), lens character and effect word the text states, each with the
span of the original text it was read from. Pure (no I/O) and fast (regular expressions).

Rules
-----
* **Nothing is invented.** A value is reported only where the text states it; a named light
  source is reported by name (``sodium_vapour``), its table Kelvin is looked up later by
  :mod:`lenscore.predictions` and labelled as such. A number that cannot be read (``f/0.1``,
  ``f/1.4.5``, ``shot on 35mm`` without saying lens or film, ``a few meters``) is reported in
  :attr:`PromptOptics.unparsed` with the reason, never guessed.
* **Spans index the original text.** Unicode is folded one character to one character before
  matching (``ƒ`` -> ``f``, ``×`` -> ``x``, en/em dashes and minus -> ``-``, non-breaking and
  thin spaces -> space, full-width digits -> ASCII), so a span of the folded text is a span of
  the prompt as written.
* **Real prompts are messy.** ``35mm film`` is a format, not a lens; ``80mm miniature`` is a
  size; ``8k`` is a resolution, not a colour temperature; ``F-16 jet`` is not an f-number;
  ``24-70mm`` is a zoom's range, not the focal length used; ``low-key`` is a lighting style, not
  a key light; camera bodies name a format (``Sony A7 III`` -> full frame).

Distances
---------
A distance (``2.5 m``, ``8 feet``, ``8-60 m``, ``between 8 and 60 m``, ``two meters``) belongs to
the noun before it in its clause: a person or the camera/lens/shot (``portrait at 2.5 meters``,
``85mm f/1.4 at 2.5 m``, ``shot from 3 m away``) makes it the **subject** distance; a
background noun (crowd, lights, buildings, trees, background, ...) makes it a **background**
distance, measured from the camera, unless it is followed by ``behind`` (or ``from the
subject``): then it is measured from the subject (``city lights 50 m behind``). With no noun,
``away`` / ``from the subject`` / ``from the camera`` make it the subject distance; any other
noun gives an unclassified **object** distance. Ratios: ``subject-to-background ratio of 1:8``,
``1:8 distance ratio``, ``background 8x farther than the subject``, ``eight times farther than
the focus plane``.

Lights
------
Explicit Kelvin (``2700K``, ``6500 K``, ``5600 kelvin``, ``5,600K``, ``2200-2700K``, ``3.2K
tungsten``) and named sources (:data:`LIGHT_SOURCE_PATTERNS`, keys of
:data:`lenscore.predictions.LIGHT_SOURCES`); a Kelvin value and a source a few words apart in
one clause are one light (``2700K sodium vapor``, ``tungsten (3200K)``). Each light takes the
nearest role word of its clause (key, fill, rim, background, highlights; ``ambience`` is
background, ``backlight`` is rim), or ``background`` when its clause states a background
distance; and the nearest warm/cool hue word (``pushing toward amber``). Neon is a tint
(``pink neon``), never a Kelvin.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass

Span = tuple[int, int]

# ---------------------------------------------------------------------------------------------
# Result types
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FocalLength:
    """A stated focal length (``mm``), or a zoom's range (``zoom_mm``, with ``mm`` None).
    ``equivalent``: stated as a full-frame equivalent (``50mm equivalent``)."""

    mm: float | None
    text: str
    span: Span
    zoom_mm: tuple[float, float] | None = None
    equivalent: bool = False


@dataclass(frozen=True)
class Aperture:
    """A stated f-number (``kind='f'``) or T-stop (``kind='T'``); a variable-aperture zoom's
    ``f/3.5-5.6`` has ``value`` None and ``range``."""

    value: float | None
    text: str
    span: Span
    kind: str = "f"
    range: tuple[float, float] | None = None


@dataclass(frozen=True)
class FormatMention:
    """A sensor or film format, named directly (``via='format'``), by film (``'film'``) or by a
    camera body (``'camera'``). ``key`` is a key of :data:`lenscore.optics.SENSOR_FORMATS`."""

    key: str
    text: str
    span: Span
    via: str = "format"
    note: str = ""


@dataclass(frozen=True)
class Distance:
    """A stated distance.

    ``role``: ``subject`` (camera to subject), ``background`` or ``object`` (unclassified noun).
    ``metres`` (or ``range_m`` for ``8-60 m``) converted from ``value`` ``unit``;
    ``relative``: ``camera`` (from the camera) or ``behind_subject`` (``50 m behind``).
    ``noun``: the noun it belongs to (``crowd``, ``city lights``), if any.
    """

    role: str
    metres: float | None
    text: str
    span: Span
    value: float | None = None
    unit: str = "m"
    range_m: tuple[float, float] | None = None
    relative: str = "camera"
    noun: str | None = None


@dataclass(frozen=True)
class DistanceRatio:
    """``subject : background`` distance ratio; ``background_over_subject`` = 8 for ``1:8``."""

    background_over_subject: float
    text: str
    span: Span


@dataclass(frozen=True)
class LightMention:
    """A light: stated ``kelvin`` (or ``kelvin_range``), named ``source``, neon ``tint``,
    ``role`` (key, fill, rim, background, highlights) and ``hue`` word (warm/cool) as stated."""

    text: str
    span: Span
    kelvin: float | None = None
    kelvin_range: tuple[float, float] | None = None
    source: str | None = None
    tint: str | None = None
    role: str | None = None
    hue: str | None = None

    @property
    def ident(self) -> str:
        """How the light is named in :meth:`PromptOptics.values`: its Kelvin, else its source."""
        if self.kelvin is not None:
            return _num(self.kelvin)
        if self.kelvin_range is not None:
            return f"{_num(self.kelvin_range[0])}-{_num(self.kelvin_range[1])}"
        return self.source or "light"


@dataclass(frozen=True)
class LensCharacter:
    """Lens character: ``anamorphic`` (``squeeze`` if stated), ``oval``, ``streaks``,
    ``cats_eye``, ``swirly``, ``soap_bubble``, ``circular``, ``polygonal`` (``blades``),
    ``onion_ring``."""

    kind: str
    text: str
    span: Span
    squeeze: float | None = None
    blades: int | None = None


@dataclass(frozen=True)
class EffectWord:
    """A word the article warns about: ``blur``, ``glow``, ``haze``, ``particles``, ``bokeh``,
    ``shallow_dof``, ``cinematic``, ``realistic_skin``, ``smooth_skin``, ``photorealistic``,
    ``colour_words``. For ``blur``, ``noun`` is what is blurred (``crowd``) and ``adjectives``
    what describes it (``dense``); ``phrase``/``phrase_span`` is the whole phrase to rewrite."""

    kind: str
    text: str
    span: Span
    phrase: str = ""
    phrase_span: Span | None = None
    noun: str | None = None
    adjectives: str = ""


@dataclass(frozen=True)
class Wish:
    """A request the optics can contradict: ``creamy_bokeh``, ``deep_focus``, ``compression``,
    ``wide_angle``."""

    kind: str
    text: str
    span: Span


@dataclass(frozen=True)
class Unparsed:
    """Something that looks like an optical value but cannot be read; ``reason`` says why."""

    text: str
    span: Span
    reason: str


@dataclass(frozen=True)
class PromptOptics:
    """Everything :func:`parse_prompt_optics` read from one prompt, in text order."""

    text: str
    focal_lengths: tuple[FocalLength, ...] = ()
    apertures: tuple[Aperture, ...] = ()
    formats: tuple[FormatMention, ...] = ()
    distances: tuple[Distance, ...] = ()
    ratios: tuple[DistanceRatio, ...] = ()
    lights: tuple[LightMention, ...] = ()
    character: tuple[LensCharacter, ...] = ()
    effects: tuple[EffectWord, ...] = ()
    wishes: tuple[Wish, ...] = ()
    unparsed: tuple[Unparsed, ...] = ()

    def values(self) -> list[str]:
        """The stated values as sorted ``kind=value`` strings (the parser test corpus's
        vocabulary): ``focal=85``, ``focal_eq=50``, ``zoom=24-70``, ``f=1.4``, ``T=1.5``,
        ``format=aps_c``, ``subject=2.5``, ``bg=20``, ``bg=8-60``, ``behind=50``,
        ``object=10``, ``ratio=8``, ``K=2700``, ``light=sodium_vapour``, ``tint=pink``,
        ``role=2700:key``, ``hue=2700:warm``, ``char=anamorphic``, ``squeeze=2``,
        ``blades=9``, ``effect=blur``, ``unparsed=f/0.1``. Distances in metres (2 decimals).
        Wishes are not values and are not listed."""
        out: set[str] = set()
        for f in self.focal_lengths:
            if f.zoom_mm:
                out.add(f"zoom={_num(f.zoom_mm[0])}-{_num(f.zoom_mm[1])}")
            else:
                out.add(f"{'focal_eq' if f.equivalent else 'focal'}={_num(f.mm)}")
        for a in self.apertures:
            v = _num(a.value) if a.value is not None else f"{_num(a.range[0])}-{_num(a.range[1])}"
            out.add(f"{a.kind}={v}")
        out.update(f"format={m.key}" for m in self.formats)
        for d in self.distances:
            key = {"subject": "subject", "object": "object"}.get(
                d.role, "behind" if d.relative == "behind_subject" else "bg")
            if d.role == "subject" and d.relative == "behind_subject":
                key = "subject"
            v = (f"{_num(d.range_m[0])}-{_num(d.range_m[1])}" if d.range_m else _num(d.metres))
            out.add(f"{key}={v}")
        out.update(f"ratio={_num(r.background_over_subject)}" for r in self.ratios)
        for li in self.lights:
            if li.kelvin is not None:
                out.add(f"K={_num(li.kelvin)}")
            if li.kelvin_range is not None:
                out.add(f"K={_num(li.kelvin_range[0])}-{_num(li.kelvin_range[1])}")
            if li.source:
                out.add(f"light={li.source}")
            if li.tint:
                out.add(f"tint={li.tint}")
            if li.role:
                out.add(f"role={li.ident}:{li.role}")
            if li.hue:
                out.add(f"hue={li.ident}:{li.hue}")
        for c in self.character:
            out.add(f"char={c.kind}")
            if c.squeeze is not None:
                out.add(f"squeeze={_num(c.squeeze)}")
            if c.blades is not None:
                out.add(f"blades={c.blades}")
        out.update(f"effect={e.kind}" for e in self.effects)
        out.update(f"unparsed={u.text.strip().lower()}" for u in self.unparsed)
        return sorted(out)

    def to_dict(self) -> dict:
        """JSON-serialisable (tuples become lists)."""
        return asdict(self)


def _num(x: float | None) -> str:
    """A number as the corpus writes it: ``85``, ``1.4``, ``2.44`` (at most 2 decimals)."""
    if x is None:
        return "?"
    r = round(float(x), 2)
    if r == int(r):
        return str(int(r))
    return f"{r:.2f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------------------------
# Unicode folding (one character to one character, so spans stay valid)
# ---------------------------------------------------------------------------------------------
_FOLD = {
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2007": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u205f": " ", "\u3000": " ", "\t": " ", "\u200b": " ", "\ufeff": " ",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\ufe63": "-", "\uff0d": "-",
    "\u0192": "f", "\u0191": "F",
    "\u00d7": "x", "\u2715": "x", "\u2716": "x",
    "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u2033": '"',
    "\u2044": "/", "\u2215": "/", "\uff0f": "/",
    "\u2236": ":", "\uff1a": ":",
    "\u212a": "K",
}


def fold(text: str) -> str:
    """Fold unicode for matching, one character to one character (``len`` is unchanged)."""
    out = []
    for ch in text:
        rep = _FOLD.get(ch)
        if rep is None and ord(ch) > 127:
            n = unicodedata.normalize("NFKC", ch)
            rep = n if len(n) == 1 and n.isascii() else ch
        out.append(rep if rep is not None else ch)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------
_NUM = r"\d+(?:[.,]\d+)?"
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "hundred": 100, "a hundred": 100,
}
_NUMW = r"(?:" + _NUM + r"|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"

_UNITS = {  # canonical unit -> metres
    "m": 1.0, "cm": 0.01, "km": 1000.0, "ft": 0.3048, "yd": 0.9144, "in": 0.0254,
}
_UNIT_RE = (r"(?P<unit>m(?:et(?:er|re|ere)s?|trs?|ts)?|cm|centimet(?:er|re)s?|km|kilomet(?:er|re)s?|"
            r"ft|feet|foot|feets|yards?|yds?|inch(?:es)?)")


def _unit_key(u: str) -> str:
    u = u.lower()
    if u.startswith(("cm", "centi")):
        return "cm"
    if u.startswith(("km", "kilo")):
        return "km"
    if u.startswith(("ft", "fe", "foo")):
        return "ft"
    if u.startswith(("yard", "yd")):
        return "yd"
    if u.startswith("inch"):
        return "in"
    return "m"


def _to_float(s: str, *, thousands: bool = False) -> float:
    s = s.strip().lower()
    if s in _NUMBER_WORDS:
        return float(_NUMBER_WORDS[s])
    if "," in s:  # "2,5 m" is a decimal comma; "5,600K" (thousands=True) a thousands separator
        head, tail = s.split(",", 1)
        s = head + tail if thousands and len(tail) == 3 else head + "." + tail
    return float(s)


SUBJECT_NOUNS = frozenset("""
subject subjects model woman women man men girl boy person portrait portraits headshot face she
he her him bride groom couple child kid lady gentleman actor actress singer musician dancer
athlete worker chef mother father grandmother grandfather teenager toddler baby elder
businessman businesswoman soldier she's he's figure it them they me myself sitter
""".split())
CAMERA_WORDS = frozenset("""
camera cameras lens lenses shot shoot shooting photo photograph photographed photography taken
captured focus focused focussed focusing focal prime telephoto closeup close-up gm art usm asph
oss vr dg hsm stm wr lm macro
""".split())
BACKGROUND_NOUNS = frozenset("""
crowd crowds people pedestrians passersby passers-by commuters shoppers audience spectators
dancers onlookers tourists figures strangers traffic cars car buses taxis vehicles light lights
lamp lamps streetlight streetlights streetlamps streetlamp lantern lanterns bulb bulbs sign signs
signage billboard billboards window windows building buildings skyscraper skyscrapers skyline city
street streets road alley market stall stalls tree trees forest foliage leaves field garden wall
walls backdrop background bokeh orb orbs highlight highlights horizon mountain mountains hill
hills sea ocean lake river bridge station platform train trams fireworks decorations festival
concert stage bar cafe restaurant shop shops storefront storefronts neon headlights taillights
trail crowd's background's scenery backgrounds houses house cityscape downtown boulevard avenue
""".split())
_SKIP = frozenset("""
at is are was were be being been placed place standing stands stand stood sitting sits seated
located positioned set about around roughly approximately approx approx. ca ca. circa ~ some
exactly just only nearly almost a an the of distance distances further farther far up to in on
by its their from who which that with lit glowing blurred blurry dense busy distant bright
away sharp visible tiny small large huge and or & vs vs. versus against with while plus but
whereas w/
""".split())

#: Named light sources: (key, pattern). Order matters: longer names first (a match claims its
#: span). Kelvin, ranges and sources of each key are in :data:`lenscore.predictions.LIGHT_SOURCES`.
LIGHT_SOURCE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("low_pressure_sodium", r"low[- ]pressure[- ]sodium(?:[- ]vapou?r)?(?:[- ](?:lamps?|lights?))?|"
                            r"\b(?:LPS|SOX)\b[- ]?lamps?"),
    ("sodium_vapour", r"(?:high[- ]pressure[- ])?sodium(?:[- ]vapou?r)?(?:[- ](?:street[- ]?)?"
                      r"(?:lamps?|lights?|lamp[- ]?posts?|streetlights?|street ?lamps?|glow))?|"
                      r"\bHPS\b(?:[- ]lamps?)?"),
    ("warm_white_led", r"(?:warm|soft)[- ]white[- ]LEDs?(?:[- ](?:lights?|bulbs?|strips?))?"),
    ("daylight_led", r"daylight(?:[- ]balanced)?[- ]LEDs?(?:[- ](?:panels?|lights?))?|"
                     r"LEDs?[- ]daylight"),
    ("led_screen", r"(?:LED|LCD|OLED)[- ](?:screens?|walls?|billboards?|displays?|monitors?|TVs?)|"
                   r"(?:computer|laptop|phone|tv|television|smartphone|monitor)[- ]screens?|"
                   r"screen[- ]glow|monitor[- ]glow"),
    ("halogen", r"(?:tungsten[- ])?halogen(?:[- ](?:lamps?|lights?|bulbs?))?"),
    ("tungsten", r"tungst[ae]n(?:[- ](?:lamps?|lights?|bulbs?|practicals?|fresnels?|lighting))?"),
    ("incandescent", r"incandescent(?:[- ](?:lamps?|lights?|bulbs?|lighting))?|"
                     r"household (?:light )?bulbs?"),
    ("candle", r"candle(?:s|light|lit|-lit| light| flames?)?\b"),
    ("golden_hour", r"golden[- ]hour(?:[- ](?:light|sun|sunlight))?"),
    ("blue_hour", r"blue[- ]hour(?:[- ](?:light|sky))?"),
    ("overcast", r"overcast(?:[- ](?:sky|daylight|light|day))?|cloudy[- ](?:sky|day|daylight)"),
    ("flash", r"(?:electronic|on-camera|off-camera|camera)[- ]flash|\bflash(?![\w-])|"
              r"\bstrobes?\b|\bspeedlights?\b"),
    ("hmi", r"\bHMIs?\b(?:[- ](?:lamps?|lights?))?"),
    ("daylight", r"daylight|sunlight|midday[- ]sun|noon[- ]sun|direct[- ]sun(?:light)?"),
    ("led", r"\bLEDs?\b(?:[- ](?:lights?|strips?|panels?|bulbs?|tubes?|lighting))?"),
)
_NEON_COLOURS = ("hot pink", "pink", "magenta", "purple", "violet", "red", "blue", "cyan", "teal",
                 "green", "yellow", "orange", "white", "amber", "turquoise")
_NEON_COLOUR_RE = "|".join(_NEON_COLOURS)
_LIGHT_NOUNS = r"(?:lights?|signs?|signage|tubes?|glow|lighting|lit|reflections?|sign)"

_ROLE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("key", r"(?<!low-)(?<!low )(?<!high-)(?<!high )\bkey(?:[- ]?light(?:ing)?|[- ]lit)?\b"),
    ("fill", r"\bfill(?:[- ]?light(?:ing)?)?\b"),
    ("rim", r"\brim(?:[- ]?light(?:ing)?|[- ]lit)?\b|\bback[- ]?light(?:ing|s)?\b|\bbacklit\b|"
            r"\bhair[- ]?light\b|\bedge[- ]?light\b|\bkicker\b"),
    ("background", r"\bbackground\b|\bambien(?:ce|t)(?:[- ]light(?:ing)?)?\b|\bbackdrop\b|"
                   r"\benvironment(?:al)?(?:[- ]light(?:ing)?)?\b"),
    ("highlights", r"\bhighlights?\b|\bspeculars?\b|\bbokeh\b|\borbs\b"),
)
_HUE_WARM = r"\b(?:warm(?:er|ing)?|amber|orange|yellow(?:ish)?|golden)\b"
_HUE_COOL = r"\b(?:cool(?:er|ing)?|cold(?:er)?|blue|bluish|blueish|cyan|teal|icy)\b"

_FILM_STOCKS = re.compile(r"\b(?:portra|ektar|cinestill|kodachrome|ektachrome|tri-?x|hp5|velvia|"
                          r"provia|superia|fujicolor|ilford|kodak|agfa|lomography|film grain|"
                          r"analog(?:ue)?)\b", re.I)
_LENS_BRANDS = (r"sigma|zeiss|canon|nikon|nikkor|sony|leica|summilux|summicron|noctilux|"
                r"voigtl(?:a|ae|\u00e4)nder|samyang|rokinon|tamron|fujinon|viltrox|planar|sonnar|"
                r"otus|batis|milvus|helios|cooke|angenieux|meike|laowa|tokina|pentax|olympus|"
                r"panasonic|lumix|hasselblad|mamiya|contax|minolta|yashica|rollei")

# Camera bodies and format words -> format key.
_FORMAT_PATTERNS: tuple[tuple[str, str, str], ...] = (
    # (key, pattern, via)
    ("full_frame", r"full[- ]?frame(?:[- ](?:sensor|camera|dslr|mirrorless))?", "format"),
    ("aps_c", r"\bAPS[- ]?C\b(?:[- ]sensor)?|\bcrop[- ]sensor\b|\bDX[- ](?:format|sensor|body)\b",
     "format"),
    ("micro_four_thirds", r"micro[- ]?(?:four[- ]thirds|4/3)|\bm4/3\b|\bm43\b|\bMFT\b|"
                          r"\bfour[- ]thirds\b", "format"),
    ("medium_format", r"medium[- ]format(?:[- ](?:camera|sensor|digital|film))?", "format"),
    ("super35", r"\bsuper[- ]?35\b(?:[- ]?mm)?|\bS35\b", "format"),
    ("super16", r"\bsuper[- ]?16\b(?:[- ]?mm)?(?:[- ]film)?", "film"),
    ("super8", r"\bsuper[- ]?8\b(?:[- ]?mm)?(?:[- ]film)?", "film"),
    # phones (not "phone screen": that is a light source)
    ("phone", r"\b(?:smart)?phone(?:[- ]camera)?\b(?![- ]screens?)|\bmobile[- ]phone\b|"
              r"\bcell[- ]?phone\b|\biphone(?:[- ]?\d+)?(?:[- ]?pro)?(?:[- ]?max)?\b"
              r"(?![- ]screens?)|\bgoogle[- ]pixel(?:[- ]?\d+)?(?:[- ]?pro)?|\bpixel[- ]?\d+"
              r"(?:[- ]?pro)?\b|\bgalaxy[- ]s\d+(?:[- ]?ultra)?\b", "camera"),
    # cinema
    ("full_frame", r"\b(?:arri[- ])?alexa[- ]?(?:mini[- ])?lf\b", "camera"),
    ("film65", r"\b(?:arri[- ])?alexa[- ]?65\b", "camera"),
    ("super35", r"\barri[- ]alexa(?:[- ]mini)?\b(?![- ]?(?:mini[- ])?(?:lf|65))|"
                r"\balexa[- ]mini\b(?![- ]?lf)|\bred[- ](?:komodo|helium|gemini|dragon)\b",
     "camera"),
    # stills bodies
    ("full_frame", r"\bsony[- ](?:α|alpha[- ]?|a)?(?:7|9|1)(?:[- ]?[rsc])?(?:[- ]?(?:iv|iii|ii|v|[2-5]))?"
                   r"\b|(?<![\w-])(?:α|alpha[- ]?)(?:7|9|1)(?:[- ]?[rsc])?(?:[- ]?(?:iv|iii|ii|v|[2-5]))?"
                   r"\b|(?<![\w-])a7(?:[- ]?[rsc])?(?:[- ]?(?:iv|iii|ii|v|[2-5]))\b|(?<![\w-])a7[rsc]\b|"
                   r"\bsony[- ]fx[36]\b", "camera"),
    ("aps_c", r"\bsony[- ](?:α|a)?6\d{3}\b|(?<![\w-])a6[0-7]00\b", "camera"),
    ("full_frame", r"\b(?:canon[- ])?eos[- ]?(?:r[1358]|r6(?:[- ]?mark[- ]?ii)?|rp|r)\b|"
                   r"\bcanon[- ](?:r[1358]|r6|rp)\b|\bcanon[- ](?:eos[- ])?(?:5d|6d|1d[- ]?x?|1ds)"
                   r"(?:[- ]?(?:mark|mk)[- ]?(?:iv|iii|ii|[2-4]))?\b|\b5d[- ]?(?:mark|mk)[- ]?"
                   r"(?:iv|iii|ii|[2-4])\b", "camera"),
    ("aps_c_canon", r"\bcanon[- ](?:eos[- ])?(?:90d|80d|77d|70d|7d(?:[- ]?mark[- ]?ii)?|r7|r10|r50|"
                    r"r100|m50|m6|rebel|t\d+i|\d{3,4}d)\b", "camera"),
    ("full_frame", r"\bnikon[- ](?:z[- ]?[5-9](?:[- ]?ii)?|z[- ]?f|d(?:6\d0|7[0-8]0|8\d0|[3-6]s?|"
                   r"[3-6]x|f))\b", "camera"),
    ("aps_c", r"\bnikon[- ](?:z[- ]?50|z[- ]?fc|z[- ]?30|d500|d\d{4})\b", "camera"),
    ("full_frame", r"\bleica[- ](?:m\d{0,2}(?:[- ]?[a-z])?|sl\d?|q\d?)\b|\bpanasonic[- ](?:lumix[- ])?"
                   r"s\d\w*|\blumix[- ]s\d\w*", "camera"),
    ("medium_format", r"\bleica[- ]s\d?\b|\b(?:fuji(?:film)?[- ])?gfx(?:[- ]?\d+\w*)?\b|"
                      r"\bhasselblad(?:[- ](?:x1d|x2d|907x|h\dd?)(?:[- ]?\d+\w*)?)?\b|"
                      r"\bpentax[- ]645\w*", "camera"),
    ("medium_format_645", r"\bphase[- ]one\b(?:[- ](?:iq\d|xf)\w*)?", "camera"),
    ("aps_c", r"\bfuji(?:film)?[- ](?:x[- ]?(?:t\d+|h\d|s\d+|e\d|pro[- ]?\d|a\d+|100\w*)|x100\w*)\b|"
              r"\bx100[vf]\w*\b", "camera"),
    ("micro_four_thirds", r"\b(?:panasonic[- ])?lumix[- ](?:gh\d|g\d+|gx\d+)\w*|\bolympus\b|"
                          r"\bom[- ]system\b|\bom-1\b|\be-m\d+\w*|\b(?:panasonic[- ])?gh[4-7]\b",
     "camera"),
)

# ---------------------------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------------------------
_I = re.I
_RE_ZOOM = re.compile(r"(?<![\w./])(?P<a>\d{1,4})\s?(?:mm\s?)?(?:-|to)\s?(?P<b>\d{1,4})\s?"
                      r"(?:mm|millimet(?:er|re)s?)\b", _I)
_RE_FOCAL = re.compile(r"(?<![\w./])(?P<n>\d{1,4}(?:[.,]\d+)?)\s?-?\s?(?:mm|millimet(?:er|re)s?)"
                       r"(?![a-z])", _I)
_RE_NAMED_FOCAL = re.compile(r"\b(?:" + _LENS_BRANDS + r"|elmarit|distagon|apo)\b(?:[- ][a-z]+)?\s+"
                             r"(?P<f>\d{2,3})\s+(?=f\s?/?\s?\d|T\s?\d)", re.I)
_RE_BRAND_FOCAL = re.compile(r"(?<![\w./])(?P<f>\d{2,3})\s?/\s?(?P<n>\d{1,2}(?:\.\d)?)(?![\w./])",
                             _I)
_FILM_VALUES = {8, 16, 35, 65, 70}
_FILM_AFTER = re.compile(r"\s?(?:-\s?)?(?:film|films|filmstock|film stock|negative|slide|stock|"
                         r"format|photo(?:graph(?:y|s)?|s)?|analog(?:ue)?|still(?:s)?|camera|footage|"
                         r"movie|cine|motion picture|reel|print|grain|kodak|portra|look)\b", _I)
_SIZE_AFTER = re.compile(r"\s?(?:-\s?)?(?:miniatures?|minis?|figures?|figurines?|scale|model(?:s)?|"
                         r"tall|high|wide(?![- ]angle)|long(?![- ](?:lens|focal|telephoto))|thick|deep|diameter|across|wheels?|tyres?|tires?|"
                         r"rain(?:fall)?|precipitation|cannons?|guns?|howitzers?|shells?|rounds?|"
                         r"ammo|cartridges?|caliber|calibre|bore|pipes?|tubes?|bolts?|screws?|"
                         r"nuts?|threads?|holes?|beads?|pearls?|spheres?|balls?|cubes?|tiles?|"
                         r"plates?|grains?|steel|x\s?\d|by\s\d|thin|in size|size|sized|gauge)\b",
                         _I)
_SIZE_BEFORE = re.compile(r"(?:\d\s?x\s?|scale\s|caliber\s|calibre\s|\bx\s)$", _I)
_EQUIV_AFTER = re.compile(r"\s?(?:-\s?)?(?:\(?\s?)?(?:full[- ]frame[- ])?(?:equiv(?:alent)?\.?|eq\.|"
                          r"e\b|ff[- ]equiv\w*)", _I)
_LENS_AFTER = re.compile(r"\s?(?:-\s?)?(?:lens|lense|prime|objective|glass|telephoto|portrait lens|"
                         r"summicron|summilux|noctilux|elmarit|planar|sonnar|distagon|art\b|gm\b|"
                         r"f\s?/?\s?\d|at\s+f|,?\s*f\s?/)", _I)

_RE_FNUM = re.compile(r"(?<![\w/])f\s?/\s?(?P<n>\d+(?:[.,]\d+)?)(?:-(?:f\s?/\s?)?(?P<m>\d+(?:[.,]\d+)?)"
                      r"(?![\w.]|\s?m\b|\s?mm\b))?", _I)
_RE_FNUM_BARE = re.compile(r"(?<![\w/.-])f(?P<n>\d+(?:[.,]\d+)?)(?:gm|g|l|r|d|e|s|art|dg)?"
                           r"(?![\w./]|,\d)", _I)
_RE_FNUM_WORD = re.compile(r"\b(?:aperture|aperature|apperture|apeture|f[- ]?stop|f[- ]?number)"
                           r"(?:\s+(?:of|at|set to|is|value))?\s*[:=]?\s*(?:f\s?/?\s?)?"
                           r"(?P<n>\d+(?:[.,]\d+)?)(?![\w.]|\s?mm\b|\s?m\b)", _I)
_RE_TSTOP = re.compile(r"(?<![\w/.-])T\s?/?\s?(?P<n>\d+(?:\.\d+)?)(?![\w.])|\bT[- ]?stop\s+(?:of\s+)?"
                       r"(?:T\s?/?\s?)?(?P<n2>\d+(?:\.\d+)?)", _I)
_NOT_FNUM_AFTER = re.compile(r"\s?(?:-\s?)?(?:jets?|fighters?|falcons?|aircraft|planes?|raptors?|"
                             r"hornets?|cars?|race|racing|racer|drivers?|teams?|grand prix|keys?|"
                             r"button|tornado|tornadoes|storms?|engines?|series|class|seeds?|"
                             r"generations?|hybrids?|gen)\b", _I)
_RE_FNUM_BAD = re.compile(r"(?<![\w/])f\s?/\s?(?:\d+\.\d+\.\d+|\.\d+)|(?<![\w/])f\s?/(?!\s?[\d.])",
                          _I)

_RE_KELVIN = re.compile(r"(?<![\w.,])(?P<a>\d{1,2}[.,]\d{3}|\d{3,6}|\d{1,2}\.\d)\s?(?:°\s?)?"
                        r"(?:K|kelvins?)(?:\s?(?:-|to)\s?(?P<b>\d{1,2}[.,]\d{3}|\d{3,6})\s?(?:°\s?)?"
                        r"(?:K|kelvins?))?\b", _I)
_RE_KELVIN_RANGE = re.compile(r"(?<![\w.,])(?P<a>\d{1,2}[.,]\d{3}|\d{4,5})\s?(?:-|to)\s?"
                              r"(?P<b>\d{1,2}[.,]\d{3}|\d{4,5})\s?(?:°\s?)?(?:K|kelvins?)\b", _I)
_RE_KELVIN_BETWEEN = re.compile(r"\bbetween\s+(?P<a>\d{4,5})\s?(?:K\s)?\s*and\s+(?P<b>\d{4,5})\s?"
                                r"(?:K|kelvins?)\b", _I)
_LIGHT_CONTEXT = re.compile(r"\s?(?:-\s?)?(?:tungsten|daylight|led|hmi|light|lights|lamp|key|"
                            r"fill|rim|source|balanced|fresnel|panel|bulb|kelvin)", _I)

_RE_DIST = re.compile(r"(?<![\w./:])(?P<a>" + _NUMW + r")(?:\s?(?:-|to)\s?(?P<b>" + _NUMW + r"))?"
                      r"\s?(?P<hy>-\s?)?" + _UNIT_RE + r"(?![\w]|-\d)", _I)
_RE_DIST_BETWEEN = re.compile(r"\bbetween\s+(?P<a>" + _NUM + r")\s?(?:" + _UNIT_RE.replace(
    "(?P<unit>", "(?:") + r")?\s+and\s+(?P<b>" + _NUM + r")\s?" + _UNIT_RE + r"(?![\w])", _I)
_RE_DIST_VAGUE = re.compile(r"\b(?:a\s+few|several|many|some|a\s+couple(?:\s+of)?|dozens\s+of|"
                            r"tens\s+of|hundreds\s+of)\s+(?:met(?:er|re)s|feet|yards|kilomet(?:er|re)s)"
                            r"\b", _I)
_RE_DIST_BAD = re.compile(r"(?<![\w.])\d+\.\.+\d+\s?(?:m|met(?:er|re)s?|ft|feet)\b|"
                          r"(?<![\w.])\d+\.\d+\.\d+\s?(?:m|met(?:er|re)s?|ft|feet)\b", _I)

_RE_RATIO = (
    re.compile(r"\b(?:subject|foreground|focus|model)[\s-]*(?:to|/)[\s-]*background(?:[\s-]+distance)?"
               r"[\s-]+ratio\s*(?:of|is|=|:|at|about|around|~)?\s*(?P<a>" + _NUM + r")\s*[:/]\s*"
               r"(?P<b>" + _NUM + r")", _I),
    re.compile(r"(?<![\w.:])(?P<a>" + _NUM + r")\s*:\s*(?P<b>" + _NUM + r")\s+(?:subject[\s-]*(?:to|/)"
               r"[\s-]*background[\s-]+)?(?:distance[\s-]+)?ratio\b", _I),
    re.compile(r"\bbackground(?:\s+\w+){0,3}?\s+(?:is\s+|at\s+|sits\s+|placed\s+)?(?P<r>" + _NUMW
               + r")\s?(?:x|times)\s+(?:farther|further|more distant|as far)", _I),
    re.compile(r"(?<![\w.,])(?P<r>" + _NUMW + r")\s?(?:x|times)\s+(?:farther|further)(?:\s+away)?\s+than\s+"
               r"(?:the\s+)?(?:subject|focus plane|focal plane|model|focus distance)", _I),
)

_CHARACTER_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("anamorphic", re.compile(r"\banamorph(?:ic|ot)s?\b|\banamorfic\b|\banamorphic\b", _I)),
    ("oval", re.compile(r"\b(?:oval|ovoid|elliptical|elongated|egg[- ]shaped)[- ](?:shaped[- ])?"
                        r"(?:bokeh|orbs?|highlights|discs?|bokeh balls)\b", _I)),
    ("streaks", re.compile(r"\bhorizontal[- ](?:lens[- ])?(?:flares?|streaks?)\b|"
                           r"\bblue[- ]streaks?(?:[- ]flares?)?\b|\bstreak[- ]filters?\b", _I)),
    ("cats_eye", re.compile(r"\bcat'?s?[- ]?eyes?[- ](?:shaped[- ])?(?:bokeh|orbs?|highlights|"
                            r"vignetting|discs?)\b|\bbokeh[- ](?:\w+[- ]){0,2}cat'?s?[- ]?eyes?\b",
                            _I)),
    ("swirly", re.compile(r"\bswirl(?:y|ing)?[- ](?:bokeh|background|blur)\b|\bbokeh[- ]swirls?\b|"
                          r"\bhelios(?:[- ]?44(?:m?-\d)?)?\b|\bpetzval\b", _I)),
    ("soap_bubble", re.compile(r"\bsoap[- ]?bubble(?:[- ]bokeh)?\b|\btrioplan\b|"
                               r"\bbubble[- ]bokeh\b", _I)),
    ("circular", re.compile(r"\b(?:perfectly[- ])?(?:circular|round|perfectly round)[- ]"
                            r"(?:bokeh|orbs?|discs?|highlights|bokeh balls)\b", _I)),
    ("onion_ring", re.compile(r"\bonion[- ]rings?(?:[- ]bokeh)?\b", _I)),
)
_RE_SQUEEZE = re.compile(r"(?P<a>\d(?:\.\d+)?)\s?x\s?(?:anamorphic|squeeze)|anamorphic\s\(?"
                         r"(?P<b>\d(?:\.\d+)?)\s?x\b|squeeze(?:\s+factor)?(?:\s+of)?\s+"
                         r"(?P<c>\d(?:\.\d+)?)\s?x?", _I)
_RE_BLADES = re.compile(r"(?<![\w.])(?P<n>\d{1,2})[- ]?blade[ds]?(?:[- ](?:aperture|diaphragm|"
                        r"iris))?\b|\b(?P<w>pentagonal|hexagonal|heptagonal|octagonal)[- ]"
                        r"(?:bokeh|orbs?|highlights|discs?)\b", _I)
_POLYGON_BLADES = {"pentagonal": 5, "hexagonal": 6, "heptagonal": 7, "octagonal": 8}

_NOT_ADJECTIVES = frozenset("""
a an the of in on at and or with by to from for into onto behind before after against is are was
were be very so too lots lot full some any its their her his my our your this that these those
""".split())
_BLUR_WORD = (r"(?:blurr?(?:ed|y|ing)?|bluury|blury|bluri?ed|out[- ]of[- ]focus|defocus(?:ed|sed)?|"
              r"gaussian[- ]blur(?:red)?)")
_NEGATION = re.compile(r"(?:\bno|\bnot|\bwithout|\bnon|\bzero|\bavoid|\bnever)[- ](?:\w+[- ]){0,1}$",
                       _I)
_NOUN_PHRASE = r"(?P<noun>(?:[a-z][\w'-]*\s)?[a-z][\w'-]*)"
_RE_BLUR_BEFORE_NOUN = re.compile(r"(?:(?<![\w'-])(?P<adj>[a-z][\w'-]{0,30}),?\s)?(?P<word>" + _BLUR_WORD + r")"
                                  r"[- ](?:out[- ])?" + _NOUN_PHRASE, _I)
_RE_NOUN_BEFORE_BLUR = re.compile(r"(?<![\w'-])(?P<noun>[a-z][\w'-]{0,30})\s(?:is\s|are\s|fully\s|completely\s|"
                                  r"heavily\s|softly\s)?(?P<word>" + _BLUR_WORD + r")\b", _I)
_RE_BLUR_ANY = re.compile(r"(?<![\w-])(?P<word>" + _BLUR_WORD + r")(?![\w])", _I)
_MOTION = re.compile(r"(?:motion|radial|zoom|camera[- ]shake|shake|panning|speed)[- ]$", _I)

_EFFECT_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("glow", re.compile(r"\bglow(?:s|ing|y)?\b", _I)),
    ("haze", re.compile(r"\bhaz(?:e|y)\b", _I)),
    ("particles", re.compile(r"\bparticles?\b", _I)),
    ("bokeh", re.compile(r"\bbok(?:eh|he|ey|ah)\b", _I)),
    ("shallow_dof", re.compile(r"\b(?:shallow|narrow|thin|short)[- ](?:depth[- ]of[- ]field|dof|focus|"
                               r"focal depth)\b", _I)),
    ("cinematic", re.compile(r"\bcin(?:e|a)mati(?:c|k)\b|\bcinamatic\b|\bcinematographic\b", _I)),
    ("realistic_skin", re.compile(r"\b(?:(?:photo|hyper|ultra|super|very)[- ]?)?realistic[- ]skin"
                                  r"(?:[- ]texture)?\b|\bskin[- ]realism\b|\blifelike[- ]skin\b|"
                                  r"\breal(?:istic)?[- ]looking[- ]skin\b", _I)),
    ("smooth_skin", re.compile(r"\b(?:flawless|poreless|airbrushed|porcelain|perfect|glass|"
                               r"smooth|silky)[- ]skin\b|\bporeless\b|\bairbrushed\b", _I)),
    ("photorealistic", re.compile(r"\b(?:photo[- ]?realistic|hyper[- ]?realistic|ultra[- ]?realistic|"
                                  r"photorealism|hyperrealism)\b(?![- ]skin)", _I)),
)
_RE_COLOUR_WORDS = re.compile(
    r"\b(?:warm|cool|cold)\s?(?:and|&|/|vs\.?|versus|-)\s?(?:warm|cool|cold)(?:\s(?:colou?rs?|tones?|"
    r"light(?:ing)?|hues|palette|contrast))?\b|\borange\s?(?:and|&|/|-)\s?teal\b|\bteal\s?(?:and|&|/|-)"
    r"\s?orange\b|\b(?:(?:intense|vivid|vibrant|rich)[- ])?chromatic[- ]bokeh\b|\bcolou?rful[- ]"
    r"(?:bokeh|lights|orbs)\b|\brainbow[- ]bokeh\b|\bmulti-?colou?red[- ]bokeh\b|\b(?:warm|cool|cold)"
    r"[- ](?:colou?rs?|tones?|hues|palette|colou?r[- ]grad(?:e|ing)|grade|light(?:ing)?|key(?:[- ]light)?|"
    r"fill(?:[- ]light)?|rim(?:[- ]light)?|glow|ambien(?:ce|t)(?:[- ]light)?|backlight)\b", _I)

_WISH_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("creamy_bokeh", re.compile(r"\b(?:creamy|buttery|smooth|silky|dreamy|heavy|strong|extreme|"
                                r"intense|lush|beautiful)[- ]bok(?:eh|he)\b|\bbackground[- ]melt\w*|"
                                r"\bmelt(?:ing|ed)[- ]background\b|\bbokeh[- ]heavy\b", _I)),
    ("deep_focus", re.compile(r"\bdeep[- ]focus\b|\bdeep[- ]depth[- ]of[- ]field\b|\beverything[- ]"
                              r"(?:is[- ])?(?:in[- ]focus|sharp|in[- ]sharp[- ]focus)\b|\b(?:sharp|"
                              r"in-focus|crisp|tack[- ]sharp|detailed|pin[- ]sharp)[- ]background\b|"
                              r"\bbackground[- ](?:in[- ](?:sharp[- ])?focus|sharp|tack[- ]sharp|crisp)"
                              r"\b|\b(?:large|great|wide|extended)[- ]depth[- ]of[- ]field\b|"
                              r"\bhyperfocal\b|\bfront[- ]to[- ]back[- ]sharp\w*|\bpan[- ]?focus\b",
                              _I)),
    ("compression", re.compile(r"\b(?:telephoto[- ])?compress(?:ed|ion)[- ](?:background|perspective|"
                               r"look)\b|\bbackground[- ]compression\b|\btelephoto[- ]compression\b|"
                               r"\blens[- ]compression\b|\bflat(?:tened)?[- ]perspective\b", _I)),
    ("wide_angle", re.compile(r"\bwide[- ]angle\b|\bultra[- ]?wide\b|\bfish[- ]?eye\b|"
                              r"\bexaggerated[- ]perspective\b|\bwide[- ]lens\b", _I)),
)

_BOUNDARY = re.compile(r"[,;|\n\[\]{}]|\.(?=\s|$)|!|\?|\s-\s|\s(?:and|against|with|while|vs\.?|versus|"
                       r"plus|but|&|whereas)\s", _I)
_CLAUSE = re.compile(r"[,;|\n\[\]{}]|\.(?=\s|$)|!|\?|\s-\s", _I)
_WORD = re.compile(r"[\w'/.-]+|~", _I)


def _rx(p: str) -> re.Pattern:
    return re.compile(p, _I)


_SOURCE_RX = tuple((k, _rx(p)) for k, p in LIGHT_SOURCE_PATTERNS)
_ROLE_RX = tuple((k, _rx(p)) for k, p in _ROLE_PATTERNS)
_FORMAT_RX = tuple((k, _rx(p), via) for k, p, via in _FORMAT_PATTERNS)
_NEON_RX = re.compile(r"(?:\b(?P<c1>" + _NEON_COLOUR_RE + r")[- ])?\bneon\b(?:[- ](?P<c2>"
                      + _NEON_COLOUR_RE + r"))?(?:[- ](?P<noun>" + _LIGHT_NOUNS[3:-1] + r"|[a-z]+))?",
                      _I)
_NOT_LIGHT_AFTER_NEON = frozenset("""
hair dress jacket shirt coat clothes clothing outfit makeup nails lipstick eyeshadow colors colours
color colour palette paint paints sneakers shoes top bikini suit hoodie eyes font letters text
""".split())


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------
class _Parse:
    def __init__(self, text: str):
        self.raw = text
        self.t = fold(text)
        self.sub_bounds = [m.span() for m in _BOUNDARY.finditer(self.t)]
        self.clause_bounds = [m.span() for m in _CLAUSE.finditer(self.t)]
        self.claimed: list[Span] = []
        self.unparsed: list[Unparsed] = []
        self.brand_apertures: list[Aperture] = []  # "Sigma 85/1.4": read with the focal length
        self.film_from_stock: list[tuple[int, Span]] = []  # "Portra 400, 35mm": a film size
        self.light_spans: list[Span] = []

    # -- helpers ----------------------------------------------------------------------------
    def s(self, span: Span) -> str:
        return self.raw[span[0]:span[1]]

    def free(self, span: Span) -> bool:
        a, b = span
        return all(b <= x or a >= y for x, y in self.claimed)

    def claim(self, span: Span) -> None:
        self.claimed.append(span)

    def start_of(self, pos: int, *, sub: bool = True) -> int:
        start = 0
        for a, b in (self.sub_bounds if sub else self.clause_bounds):
            if b <= pos:
                start = b
            else:
                break
        return start

    def end_of(self, pos: int, *, sub: bool = True) -> int:
        for a, b in (self.sub_bounds if sub else self.clause_bounds):
            if a >= pos:
                return a
        return len(self.t)

    def report(self, span: Span, reason: str) -> None:
        if any(u.span == span for u in self.unparsed):
            return
        self.unparsed.append(Unparsed(self.s(span), span, reason))

    # -- lenses -----------------------------------------------------------------------------
    def focal_lengths(self) -> list[FocalLength]:
        out: list[FocalLength] = []
        t = self.t
        for m in _RE_ZOOM.finditer(t):
            a, b = float(m["a"]), float(m["b"])
            if not a < b:
                continue
            if _SIZE_AFTER.match(t, m.end()):
                continue
            self.claim(m.span())
            out.append(FocalLength(None, self.s(m.span()), m.span(), zoom_mm=(a, b)))
        has_stock = bool(_FILM_STOCKS.search(t))
        for m in _RE_FOCAL.finditer(t):
            if not self.free(m.span()):
                continue
            try:
                mm = _to_float(m["n"])
            except ValueError:
                continue
            after = m.end()
            if _SIZE_AFTER.match(t, after) or _SIZE_BEFORE.search(t[max(0, m.start() - 12):m.start()]):
                self.claim(m.span())
                continue
            if mm in _FILM_VALUES and mm == int(mm):
                if _FILM_AFTER.match(t, after):
                    self.claim(m.span())  # a film format; _formats() reads it
                    continue
                lensy = _LENS_AFTER.match(t, after)
                before = t[max(0, m.start() - 10):m.start()].lower()
                if not lensy and (before.rstrip().endswith("shot on") or has_stock):
                    self.claim(m.span())
                    if has_stock:
                        self.film_from_stock.append((int(mm), m.span()))
                    else:
                        self.report(m.span(), f"'{self.s(m.span())}' after 'shot on' is a "
                                              f"{int(mm)} mm lens or {int(mm)} mm film: write "
                                              f"'{int(mm)}mm lens' or '{int(mm)}mm film'")
                    continue
            if not (1.0 <= mm <= 2400.0):
                self.report(m.span(), f"a focal length of {m['n']} mm is outside any lens "
                                      f"(1-2400 mm)")
                self.claim(m.span())
                continue
            eq = bool(_EQUIV_AFTER.match(t, after))
            self.claim(m.span())
            out.append(FocalLength(mm, self.s(m.span()), m.span(), equivalent=eq))
        for m in _RE_BRAND_FOCAL.finditer(t):  # "Sigma 85/1.4"
            if not self.free(m.span()):
                continue
            before = t[max(0, m.start() - 24):m.start()]
            after = t[m.end():m.end() + 14]
            if not (re.search(r"\b(?:" + _LENS_BRANDS + r")\b[\w\s-]*$", before, _I)
                    or re.match(r"\s?(?:lens|prime|art|gm|dg|asph|summilux|summicron)\b", after, _I)):
                continue
            f, n = float(m["f"]), float(m["n"])
            self.claim(m.span())
            out.append(FocalLength(f, self.s((m.start("f"), m.end("f"))), (m.start("f"), m.end("f"))))
            self.brand_apertures.append(Aperture(n, self.s((m.start("n") - 1, m.end("n"))),
                                                 (m.start("n") - 1, m.end("n"))))
        for m in _RE_NAMED_FOCAL.finditer(t):  # "Summilux 35 f/1.4", "Nikkor 105 f/1.4"
            span = (m.start("f"), m.end("f"))
            if self.free(span):
                self.claim(span)
                out.append(FocalLength(float(m["f"]), self.s(span), span))
        return sorted(out, key=lambda x: x.span)

    def apertures(self) -> list[Aperture]:
        t = self.t
        out: list[Aperture] = list(self.brand_apertures)

        def add(m, n_group: str, kind: str = "f", m_group: str | None = None) -> None:
            span = m.span()
            if not self.free(span):
                return
            raw_n = m[n_group]
            try:
                n = _to_float(raw_n)
            except ValueError:
                return
            rng = None
            if m_group and m[m_group]:
                hi = _to_float(m[m_group])
                if hi > n:
                    rng = (n, hi)
            lo_ok = 0.5 <= n <= 128.0
            if not lo_ok:
                self.report(span, f"f-number {raw_n} is not a lens aperture (f/0.7 to f/128)")
                self.claim(span)
                return
            self.claim(span)
            if rng:
                out.append(Aperture(None, self.s(span), span, kind, range=rng))
            else:
                out.append(Aperture(n, self.s(span), span, kind))

        for m in _RE_FNUM_BAD.finditer(t):
            if self.free(m.span()):
                self.report(m.span(), f"cannot read an f-number in '{self.s(m.span())}'")
                self.claim(m.span())
        for m in _RE_FNUM.finditer(t):
            add(m, "n", "f", "m")
        for m in _RE_FNUM_WORD.finditer(t):
            add(m, "n")
        for m in _RE_FNUM_BARE.finditer(t):
            if _NOT_FNUM_AFTER.match(t, m.end()):
                continue
            if re.match(r"\d+$", m["n"]) and int(m["n"]) not in (1, 2, 4, 8, 11, 16, 22, 32, 45, 64):
                continue  # f5, f3 are not full stops: a code or model name more likely
            if int(float(m["n"].replace(",", "."))) == 1 and "." not in m["n"] and \
                    not _near_lens(t, m.start(), m.end()):
                continue  # "F1" alone is Formula 1 / a key, not f/1
            add(m, "n")
        for m in _RE_TSTOP.finditer(t):
            g = "n" if m["n"] else "n2"
            has_dec = "." in (m[g] or "")
            if not (m["n2"] or has_dec or _near_lens(t, m.start(), m.end())):
                continue
            add(m, g, "T")
        return sorted(out, key=lambda a: a.span)

    # -- formats ----------------------------------------------------------------------------
    def formats(self) -> list[FormatMention]:
        t = self.t
        out: list[FormatMention] = []
        for m in re.finditer(r"(?<![\w./])(?P<n>8|16|35|65|70)\s?-?\s?mm" + _FILM_AFTER.pattern,
                             t, _I):
            n = int(m["n"])
            key = {8: "super8", 16: "super16", 35: "full_frame", 65: "film65", 70: "film65"}[n]
            note = {8: "8 mm film read as Super 8", 16: "16 mm film read as Super 16",
                    70: "70 mm film is shot on 65 mm negative"}.get(n, "")
            full = (m.start(), m.end())
            self.claim(full)
            out.append(FormatMention(key, self.s(full), full, "film", note))
        for n, span in self.film_from_stock:
            key = {8: "super8", 16: "super16", 35: "full_frame", 65: "film65", 70: "film65"}[n]
            out.append(FormatMention(key, self.s(span), span, "film",
                                     "a film size beside a film stock"))
        for key, rx, via in _FORMAT_RX:
            for m in rx.finditer(t):
                if not self.free(m.span()):
                    continue
                self.claim(m.span())
                note = ""
                if key == "full_frame" and "lf" in m[0].lower():
                    note = "ALEXA LF 36.70 x 25.54 mm, read as full frame"
                if key == "medium_format" and m[0].lower().strip() == "hasselblad":
                    note = "Hasselblad without a model: read as digital medium format 44 x 33 mm"
                out.append(FormatMention(key, self.s(m.span()), m.span(), via, note))
        return sorted(out, key=lambda f: f.span)

    # -- distances --------------------------------------------------------------------------
    def _role_of(self, start: int, end: int) -> tuple[str, str, str | None]:
        """(role, relative, noun) of the distance at [start, end)."""
        t = self.t
        c0 = self.start_of(start)
        c1 = self.end_of(end)
        after = t[end:c1].lower()
        after = re.sub(r"^[\s)]+", "", after)
        behind = bool(re.match(r"(?:further\s|farther\s)?(?:behind|back\b|in the background|"
                               r"beyond|past)", after))
        from_subject = bool(re.match(r"(?:away\s)?from\s(?:the\s|my\s|our\s)?(?:subject|model|her|him|"
                                     r"them|person|woman|man|girl|boy|sitter|couple)\b", after))
        from_camera = bool(re.match(r"(?:away\s)?(?:from\s(?:the\s)?(?:camera|lens|photographer)|"
                                    r"away\b|camera[- ]to[- ]subject|subject distance|"
                                    r"in front of the (?:camera|lens))", after))
        in_front = bool(re.match(r"in front of\b", after))
        noun = None
        role = None
        words = _WORD.findall(t[c0:start])
        if not [w for w in words if w.lower().strip(".,:;!?'\"()") not in _SKIP]:
            # "street lamps at 25m and 60m": an empty sub-clause takes its clause's noun
            words = _WORD.findall(t[self.start_of(start, sub=False):start])
        # also look into the previous sub-clause of the same clause for "subject:" style
        for w in reversed(words):
            lw = w.lower().strip(".,:;!?'\"()")
            if not lw or lw in _SKIP:
                continue
            if lw in SUBJECT_NOUNS:
                role, noun = "subject", lw
                break
            if lw in CAMERA_WORDS or re.match(r"\d+(?:\.\d+)?mm$|f/?\d|t\d", lw):
                role, noun = "subject", None
                break
            if lw in BACKGROUND_NOUNS or lw.rstrip("s") in BACKGROUND_NOUNS:
                role, noun = "background", lw
                # two-word nouns: "city lights", "street lights"
                i = words.index(w)
                if i > 0:
                    prev = words[i - 1].lower().strip(".,:;!?'\"()")
                    if prev and prev not in _SKIP and re.match(r"[a-z]", prev) and \
                            not re.match(r"\d", prev):
                        noun = f"{prev} {lw}" if prev in ("city", "street", "fairy", "string",
                                                          "christmas", "neon", "bokeh",
                                                          "background", "traffic", "car",
                                                          "distant", "festival", "market") \
                            else lw
                break
            if re.match(r"[a-z]", lw):
                role, noun = "object", lw
                break
        if role is None:
            role = "subject"
        if role == "subject" and behind and noun is None:
            role = "background"  # "20 m behind" with no noun: the background
        if role == "background" and (behind or from_subject):
            return role, "behind_subject", noun
        if role == "object" and (behind or from_subject):
            return "background", "behind_subject", noun
        if role == "object" and (from_camera and not behind):
            return "object", "camera", noun
        if role == "subject" and in_front:
            return "subject", "camera", noun
        return role, "camera", noun

    def distances(self) -> list[Distance]:
        t = self.t
        out: list[Distance] = []
        for m in _RE_DIST_BAD.finditer(t):
            self.report(m.span(), f"cannot read the distance '{self.s(m.span())}'")
            self.claim(m.span())
        for m in _RE_DIST_VAGUE.finditer(t):
            self.report(m.span(), f"'{self.s(m.span())}' gives no number: state the distance "
                                  f"(e.g. 'crowd at 20 m')")
            self.claim(m.span())
        found: list[tuple[re.Match, float, float | None]] = []
        for m in _RE_DIST_BETWEEN.finditer(t):
            if self.free(m.span()):
                found.append((m, _to_float(m["a"], thousands=True), _to_float(m["b"], thousands=True)))
                self.claim(m.span())
        for m in _RE_DIST.finditer(t):
            if not self.free(m.span()):
                continue
            a_txt, b_txt = m["a"], m["b"]
            if m["hy"] and not re.match(r"\s?(?:distance|away)", t[m.end():], _I):
                continue  # "a 10-meter wall", "8-foot tall": a size
            if re.match(r"\s?(?:tall|high|wide|long|deep|across|thick|in (?:diameter|size|height|"
                        r"length)|diameter|radius|of (?:fabric|cable|rope|snow|water))\b",
                        t[m.end():], _I):
                continue
            if re.match(r"\d+\s?(?:m|meter|metre)", a_txt + m["unit"], _I) is None and \
                    a_txt.lower() in _NUMBER_WORDS and m["unit"].lower() == "m":
                continue  # "one m" is no way to write a distance
            if m["unit"].lower() in ("m",) and re.match(r"\s?(?:followers|views|users|dollars|"
                                                         r"budget|downloads|subscribers)", t[m.end():], _I):
                continue
            try:
                a = _to_float(a_txt, thousands=True)
                b = _to_float(b_txt, thousands=True) if b_txt else None
            except ValueError:
                continue
            found.append((m, a, b))
            self.claim(m.span())
        for m, a, b in found:
            unit = _unit_key(m["unit"])
            k = _UNITS[unit]
            span = m.span()
            role, rel, noun = self._role_of(*span)
            if b is not None and not b > a:
                self.report(span, f"the range '{self.s(span)}' runs backwards")
                continue
            if not a > 0:
                self.report(span, f"a distance of {self.s(span)} is not a distance from the camera")
                continue
            if b is not None:
                out.append(Distance(role if role != "subject" else "background", None, self.s(span),
                                    span, value=None, unit=unit, range_m=(a * k, b * k),
                                    relative=rel, noun=noun))
            else:
                out.append(Distance(role, a * k, self.s(span), span, value=a, unit=unit,
                                    relative=rel, noun=noun))
        return sorted(out, key=lambda d: d.span)

    def ratios(self) -> list[DistanceRatio]:
        out: list[DistanceRatio] = []
        for i, rx in enumerate(_RE_RATIO):
            for m in rx.finditer(self.t):
                if not self.free(m.span()):
                    continue
                if i < 2:
                    a, b = _to_float(m["a"]), _to_float(m["b"])
                    if i == 1 and not re.search(r"background|subject|distance",
                                                self.t[m.start():m.end() + 1], _I):
                        continue  # "16:9 aspect ratio", "3:2 ratio print"
                    if not (a > 0 and b > 0):
                        self.report(m.span(), f"cannot read the ratio in '{self.s(m.span())}'")
                        continue
                    if b <= a:
                        self.report(m.span(), f"'{self.s(m.span())}' puts the background no "
                                              f"farther than the subject; did you mean "
                                              f"{_num(b)}:{_num(a)}?")
                        self.claim(m.span())
                        continue
                    r = b / a
                else:
                    r = _to_float(m["r"])
                    if not r > 1:
                        continue
                self.claim(m.span())
                out.append(DistanceRatio(r, self.s(m.span()), m.span()))
        return sorted(out, key=lambda r: r.span)

    # -- lights -----------------------------------------------------------------------------
    def lights(self, distances: list[Distance]) -> list[LightMention]:
        t = self.t
        kelvins: list[tuple[Span, float | None, tuple[float, float] | None]] = []
        for rx in (_RE_KELVIN_BETWEEN, _RE_KELVIN_RANGE):
            for m in rx.finditer(t):
                if self.free(m.span()):
                    a, b = _to_float(m["a"], thousands=True), _to_float(m["b"], thousands=True)
                    if 1000 <= a < b <= 30000:
                        kelvins.append((m.span(), None, (a, b)))
                    else:
                        self.report(m.span(), f"'{self.s(m.span())}' is not a range of light-source "
                                              f"colour temperatures (1000-30000 K)")
                    self.claim(m.span())
        for m in _RE_KELVIN.finditer(t):
            if not self.free(m.span()):
                continue
            a_txt = m["a"]
            if re.fullmatch(r"\d{1,2}\.\d", a_txt):  # "5.6K": kilo-kelvin in lighting talk
                if _LIGHT_CONTEXT.match(t, m.end()):
                    k = float(a_txt) * 1000.0
                else:
                    self.report(m.span(), f"'{self.s(m.span())}' could be {float(a_txt) * 1000:.0f} K "
                                          f"or a resolution: write {float(a_txt) * 1000:.0f}K")
                    self.claim(m.span())
                    continue
            else:
                k = _to_float(a_txt, thousands=True)
            if m["b"]:
                kb = _to_float(m["b"], thousands=True)
                if 1000 <= k < kb <= 30000:
                    kelvins.append((m.span(), None, (k, kb)))
                    self.claim(m.span())
                    continue
            if k < 1000:
                continue  # 8K, 4k, 500k: resolutions and counts, not colour temperatures
            if k > 30000:
                self.report(m.span(), f"{self.s(m.span())} is beyond any light source "
                                      f"(clear blue sky is 15000-27000 K)")
                self.claim(m.span())
                continue
            kelvins.append((m.span(), k, None))
            self.claim(m.span())
        sources: list[tuple[Span, str, str | None]] = []
        for m in _NEON_RX.finditer(t):
            noun = (m["noun"] or "").lower()
            if noun in _NOT_LIGHT_AFTER_NEON or (m["c2"] and noun and
                                                 not re.fullmatch(_LIGHT_NOUNS, noun)):
                continue
            span = m.span() if noun and re.fullmatch(_LIGHT_NOUNS, noun) else \
                (m.start(), m.end("c2") if m["c2"] else m.end() - (len(m["noun"]) + 1
                                                                     if m["noun"] else 0))
            if not self.free(span):
                continue
            tint = (m["c1"] or m["c2"] or "").lower() or None
            self.claim(span)
            sources.append((span, "neon", tint))
        for key, rx in _SOURCE_RX:
            for m in rx.finditer(t):
                if not self.free(m.span()):
                    continue
                if key == "flash" and re.match(r"[- ]?(?:light|back|y|ing)", t[m.end():], _I):
                    continue
                self.claim(m.span())
                sources.append((m.span(), key, None))
        items = sorted([(sp, "k", (k, r)) for sp, k, r in kelvins] +
                       [(sp, "s", (key, tint)) for sp, key, tint in sources], key=lambda x: x[0])
        # merge a Kelvin value with a named source a few words away in the same sub-clause
        lights: list[dict] = []
        used: set[int] = set()
        for i, (sp, typ, val) in enumerate(items):
            if i in used:
                continue
            light = {"span": sp, "kelvin": None, "range": None, "source": None, "tint": None}
            if typ == "k":
                light["kelvin"], light["range"] = val
            else:
                light["source"], light["tint"] = val
            used.add(i)
            for j in range(i + 1, len(items)):
                if j in used:
                    continue
                sp2, typ2, val2 = items[j]
                if typ2 == typ:
                    break
                gap = t[light["span"][1]:sp2[0]]
                if len(gap) > 26 or _BOUNDARY.search(" " + gap + " ") and \
                        not re.fullmatch(r"[\s(:~@-]*", gap):
                    break
                if typ2 == "k":
                    light["kelvin"], light["range"] = val2
                else:
                    light["source"], light["tint"] = val2
                light["span"] = (light["span"][0], sp2[1])
                used.add(j)
                break
            lights.append(light)
        # roles and hue words: nearest in the sub-clause, between neighbouring lights
        spans = [li["span"] for li in lights]
        source_spans = [sp for sp, _, _ in sources]
        out: list[LightMention] = []
        for idx, li in enumerate(lights):
            a, b = li["span"]
            c0, c1 = self.start_of(a), self.end_of(b)
            lo = max([c0] + [s[1] for s in spans[:idx] if s[1] <= a])
            hi = min([c1] + [s[0] for s in spans[idx + 1:] if s[0] >= b])
            role = _nearest(t, _ROLE_RX, lo, a, b, hi, exclude=spans + source_spans)
            if role is None and any(d.role == "background" and c0 <= d.span[0] < c1
                                    for d in distances):
                role = "background"
            hue = _nearest(t, (("warm", _rx(_HUE_WARM)), ("cool", _rx(_HUE_COOL))), lo, a, b, hi,
                           exclude=spans + source_spans)
            out.append(LightMention(self.s(li["span"]), li["span"], li["kelvin"], li["range"],
                                    li["source"], li["tint"], role, hue))
        self.light_spans = spans
        return out

    # -- character, effects, wishes ---------------------------------------------------------
    def character(self) -> list[LensCharacter]:
        t = self.t
        out: list[LensCharacter] = []
        for kind, rx in _CHARACTER_PATTERNS:
            for m in rx.finditer(t):
                if not self.free(m.span()) and kind != "anamorphic":
                    continue
                out.append(LensCharacter(kind, self.s(m.span()), m.span()))
        for m in _RE_SQUEEZE.finditer(t):
            v = float(m["a"] or m["b"] or m["c"])
            if 1.0 < v <= 2.0:
                out.append(LensCharacter("anamorphic", self.s(m.span()), m.span(), squeeze=v))
            else:
                self.report(m.span(), f"an anamorphic squeeze of {v:g}x is not a lens's "
                                      f"(1.25x to 2x)")
        for m in _RE_BLADES.finditer(t):
            if m["n"]:
                n = int(m["n"])
                if not 3 <= n <= 20:
                    self.report(m.span(), f"a {n}-blade aperture is not a lens's (3-20 blades)")
                    continue
                out.append(LensCharacter("polygonal", self.s(m.span()), m.span(), blades=n))
            else:
                out.append(LensCharacter("polygonal", self.s(m.span()), m.span(),
                                         blades=_POLYGON_BLADES[m["w"].lower()]))
        # one anamorphic entry per place: drop a plain mention inside a squeeze mention
        out = [c for c in out if not (c.kind == "anamorphic" and c.squeeze is None and any(
            o.squeeze is not None and o.span[0] <= c.span[0] and c.span[1] <= o.span[1]
            for o in out))]
        return sorted(out, key=lambda c: c.span)

    def effects(self) -> list[EffectWord]:
        t = self.t
        out: list[EffectWord] = []
        blur_spans: list[Span] = []

        def negated(pos: int) -> bool:
            return bool(_NEGATION.search(t[max(0, pos - 16):pos]))

        for m in _RE_BLUR_BEFORE_NOUN.finditer(t):
            ws, we = m.span("word")
            if negated(ws) or _MOTION.search(t[max(0, ws - 14):ws]):
                continue
            noun = m["noun"].lower()
            words = noun.split()
            # keep the noun phrase to background nouns ("blurred crowd of people" -> crowd)
            if len(words) == 2 and words[1] not in BACKGROUND_NOUNS and \
                    words[1].rstrip("s") not in BACKGROUND_NOUNS:
                words = words[:1]
            if not (words[-1] in BACKGROUND_NOUNS or words[-1].rstrip("s") in BACKGROUND_NOUNS):
                continue
            nstart = m.start("noun")
            nend = nstart + len(" ".join(words))
            adj = (m["adj"] or "").lower()
            if adj:
                before = t[max(0, m.start("adj") - 12):m.start("adj")]
                comma = "," in t[m.end("adj"):ws]
                if re.search(r"\d\s?$", before) or adj in BACKGROUND_NOUNS or \
                        adj in SUBJECT_NOUNS or (comma and not re.search(
                            r"(?:^|\b(?:a|an|the|of|in)\s|[,;(]\s?)$", before, _I)):
                    adj = ""  # "40 m, blurred crowd", "city lights, blurred crowd": no adjective
            pstart = m.start("adj") if adj and adj not in _NOT_ADJECTIVES else ws
            if pstart != ws and not re.match(r"[a-z]", adj):
                pstart = ws
            adjs = adj if pstart != ws else ""
            blur_spans.append((ws, we))
            out.append(EffectWord("blur", self.s((ws, we)), (ws, we),
                                  phrase=self.s((pstart, nend)), phrase_span=(pstart, nend),
                                  noun=" ".join(words), adjectives=adjs))
        for m in _RE_NOUN_BEFORE_BLUR.finditer(t):
            ws, we = m.span("word")
            if any(ws < b and a < we for a, b in blur_spans) or negated(ws):
                continue
            noun = m["noun"].lower()
            if not (noun in BACKGROUND_NOUNS or noun.rstrip("s") in BACKGROUND_NOUNS):
                continue
            if _MOTION.search(t[max(0, ws - 14):ws]):
                continue
            blur_spans.append((ws, we))
            out.append(EffectWord("blur", self.s((ws, we)), (ws, we),
                                  phrase=self.s((m.start(), we)), phrase_span=(m.start(), we),
                                  noun=noun))
        for m in _RE_BLUR_ANY.finditer(t):
            ws, we = m.span("word")
            if any(ws < b and a < we for a, b in blur_spans):
                continue
            if negated(ws) or _MOTION.search(t[max(0, ws - 14):ws]):
                continue
            blur_spans.append((ws, we))
            out.append(EffectWord("blur", self.s((ws, we)), (ws, we), phrase=self.s((ws, we)),
                                  phrase_span=(ws, we)))
        for kind, rx in _EFFECT_PATTERNS:
            for m in rx.finditer(t):
                if kind in ("smooth_skin", "realistic_skin", "photorealistic") and \
                        negated(m.start()):
                    continue
                out.append(EffectWord(kind, self.s(m.span()), m.span(), phrase=self.s(m.span()),
                                      phrase_span=m.span()))
        for m in _RE_COLOUR_WORDS.finditer(t):
            c0, c1 = self.start_of(m.start()), self.end_of(m.end())
            if any(c0 <= a < c1 for a, _ in self.light_spans):
                continue  # "warm 2700K key": the Kelvin says it
            out.append(EffectWord("colour_words", self.s(m.span()), m.span(),
                                  phrase=self.s(m.span()), phrase_span=m.span()))
        return sorted(out, key=lambda e: e.span)

    def wishes(self) -> list[Wish]:
        out = []
        for kind, rx in _WISH_PATTERNS:
            for m in rx.finditer(self.t):
                if kind == "deep_focus" and _NEGATION.search(self.t[max(0, m.start() - 16):m.start()]):
                    continue
                out.append(Wish(kind, self.s(m.span()), m.span()))
        return sorted(out, key=lambda w: w.span)

    def run(self) -> PromptOptics:
        formats_first = self._film_formats_first()
        focal = self.focal_lengths()
        ap = self.apertures()
        fm = formats_first + self.formats()
        ratios = self.ratios()
        dist = self.distances()
        lights = self.lights(dist)
        char = self.character()
        eff = self.effects()
        wishes = self.wishes()
        return PromptOptics(self.raw, tuple(focal), tuple(ap), tuple(sorted(fm, key=lambda f: f.span)),
                            tuple(dist), tuple(ratios), tuple(lights), tuple(char), tuple(eff),
                            tuple(wishes), tuple(sorted(self.unparsed, key=lambda u: u.span)))

    def _film_formats_first(self) -> list[FormatMention]:
        """Format words that contain digits and 'mm' (super 16mm) are claimed before the focal
        lengths are read, so '16mm' in 'super 16mm' is not a lens."""
        out = []
        for key, rx, via in _FORMAT_RX:
            if key not in ("super16", "super8", "super35"):
                continue
            for m in rx.finditer(self.t):
                if self.free(m.span()):
                    self.claim(m.span())
                    out.append(FormatMention(key, self.s(m.span()), m.span(), via))
        return out


def _near_lens(t: str, start: int, end: int) -> bool:
    """A focal length or lens word within a few characters (for bare ``F1``, ``T2``)."""
    before = t[max(0, start - 16):start]
    after = t[end:end + 16]
    return bool(re.search(r"\d\s?mm\b[\s,]*$|\b(?:lens|prime|" + _LENS_BRANDS + r")\b[\w\s-]*$",
                          before, _I) or re.match(r"[\s,]*(?:lens|prime)\b", after, _I))


def _nearest(t: str, patterns, lo: int, a: int, b: int, hi: int, *,
             exclude: list[Span]) -> str | None:
    """The kind of the pattern match nearest to [a, b) within [lo, hi), outside ``exclude``
    (after the light first: 'LED fill'; then before it: 'key light 3200K')."""
    best: tuple[int, str] | None = None
    for kind, rx in patterns:
        for m in rx.finditer(t, lo, hi):
            ms, me = m.span()
            if any(ms < y and x < me for x, y in exclude):
                continue
            if ms >= b:
                d = ms - b
            elif me <= a:
                d = a - me + 1  # ties go to the word after the light
            else:
                continue
            if best is None or d < best[0]:
                best = (d, kind)
    return best[1] if best else None


def parse_prompt_optics(text: str) -> PromptOptics:
    """Read the optics a prompt states.

    Parameters
    ----------
    text : str
        A prompt as people write it.

    Returns
    -------
    PromptOptics
        Focal lengths, apertures, formats, distances, ratios, lights, lens character, effect
        words, wishes and the values that could not be read, each with its span in ``text``.

    Examples
    --------
    >>> p = parse_prompt_optics("85mm f/1.4 at 2.5 meters from subject with crowd at 20 meters")
    >>> p.values()
    ['bg=20', 'f=1.4', 'focal=85', 'subject=2.5']
    >>> p.distances[1].noun, p.distances[1].span
    ('crowd', (52, 61))
    """
    if not isinstance(text, str):
        from lenscore.errors import InputError

        raise InputError(f"a prompt must be text, got {type(text).__name__}")
    return _Parse(text).run()


__all__ = ["Aperture", "Distance", "DistanceRatio", "EffectWord", "FocalLength", "FormatMention",
           "LensCharacter", "LightMention", "PromptOptics", "Unparsed", "Wish", "fold",
           "parse_prompt_optics", "LIGHT_SOURCE_PATTERNS", "SUBJECT_NOUNS", "BACKGROUND_NOUNS"]
