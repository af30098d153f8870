"""Randomised scene samplers for validation sweeps: one per concern, each drawing SceneSpecs that
vary what the first renderer held fixed (face size and pose, key colour, clipping, orbs behind the
subject and at borders, textured and plain backgrounds, noise, JPEG).

Every sampler is a pure function ``random_<concern>_scenes(n, seed, *, size=1024)`` returning
``n`` :class:`~lenscore.datasets.synthetic.SceneSpec`; the same ``(n, seed, size)`` gives the
same list, and scene ``i`` does not depend on ``n`` (a longer sweep extends a shorter one). Draws
come from ``numpy.random.default_rng([seed, concern, i])``; each scene's render seed is
``seed * 100_000 + i``. Ranges are module constants, documented where they are defined; the
truth of every render says what was drawn, so a validator reads the truth, not the sampler.

Shared draws (:func:`_camera`): sensor noise on half the scenes (sigma 0.2-3 % of white,
signal-dependent part 0-3 % at white on half of those), JPEG quality 70-95 on 40 %.
"""

from __future__ import annotations

import math

import numpy as np

from lenscore.datasets.synthetic import (APERTURES, LightSpec, PersonSpec, PropSpec, SceneSpec,  # noqa: F401
                                         coc_diameter_mm, light_linear_rgb, light_truth)
from lenscore.errors import InputError

#: sRGB albedo of skin from deep to light (procedural subjects).
SKIN_TONES = ((0.33, 0.21, 0.15), (0.47, 0.31, 0.22), (0.62, 0.44, 0.33), (0.76, 0.57, 0.45),
              (0.86, 0.66, 0.56), (0.94, 0.78, 0.68))
#: strong surface colours that are not lights (jackets, boxes, painted walls).
SURFACE_COLOURS = ((0.95, 0.45, 0.10), (0.10, 0.70, 0.25), (0.15, 0.35, 0.85), (0.85, 0.15, 0.20),
                   (0.95, 0.85, 0.15), (0.55, 0.20, 0.70), (0.10, 0.65, 0.70), (0.90, 0.90, 0.88))
KELVIN_RANGE = (1900.0, 10000.0)   # colour scenes: every light, uniform in mired
DUV_RANGE = 0.03                   # off-locus tints up to +-0.03
FACE_RANGE = (0.04, 0.40)          # face width / frame width, log-uniform
ROLL_RANGE = 30.0                  # degrees, +-
#: focus scenes: on a flat plane a texture photograph (512 px) is never shown larger than this
#: many frame px per photo px: enlarged, its own softness (and the interpolation's) is blur the
#: truth does not count (an in-focus brick plane read 4.0 / 4.9 / 5.9 px at 0.8 / 1.0 / 1.2
#: frame px per photo px, against a true 0.6 px; gravel at 7.1 px read 6.8 / 11.2 at 0.8 / 1.08).
#: Depth ramps are left as drawn: capping their nearest row shrinks the far rows' texture
#: 10-60x (their rows nearer than the far plane are still enlarged).
MAX_TEXTURE_ENLARGEMENT = 0.8
TEXTURE_TILE_PX = 512.0
#: concern ids (the second entry of every sampler's seed)
_CONCERN = {"bokeh": 1, "focus": 2, "color": 3, "subject": 4, "skin": 5}


def _rng(seed: int, concern: str, i: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), _CONCERN[concern], int(i)])


def _check(n: int, size: int) -> None:
    if n < 0:
        raise InputError(f"n must be >= 0, got {n}")
    if not 64 <= size <= 8192:
        raise InputError(f"size must be 64..8192 px, got {size}")


def _mired_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(1e6 / rng.uniform(1e6 / hi, 1e6 / lo))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _tinted(rng: np.random.Generator, kelvin: float, p_tint: float) -> float:
    """A Duv for a light of ``kelvin``: 0, or with probability p_tint a tint within +-DUV_RANGE
    that stays inside the sRGB gamut (so the truth's chromaticity is the one rendered)."""
    if rng.uniform() >= p_tint:
        return 0.0
    for _ in range(20):
        duv = float(rng.uniform(-DUV_RANGE, DUV_RANGE))
        if light_truth(kelvin, duv, light_linear_rgb(kelvin, duv))["in_gamut"]:
            return duv
    return 0.0


def _camera(rng: np.random.Generator) -> dict:
    """Noise on half the scenes (sigma 0.2-3 % of white; shot part 0-3 % on half of those),
    JPEG q70-95 on 40 %."""
    kw: dict = {}
    if rng.uniform() < 0.5:
        kw["noise_sigma"] = float(rng.uniform(0.002, 0.03))
        if rng.uniform() < 0.5:
            kw["noise_shot"] = float(rng.uniform(0.0, 0.03))
    if rng.uniform() < 0.4:
        kw["jpeg_quality"] = int(rng.integers(70, 96))
    return kw


def _subject(rng: np.random.Generator, *, face=FACE_RANGE, p_none: float = 0.1, p_roll: float = 0.5) -> dict:
    """Subject kind, face width (log-uniform in ``face``), centre, roll, skin tone and clothes.

    The astronaut (a 512 px photograph) is used for faces of 12-30 % only; the procedural person
    (any skin tone, full figure) for every width. Face centre x in 0.2-0.8 of the width, y in
    0.25-0.55 of the height (medium and long shots place it off centre).
    """
    if rng.uniform() < p_none:
        return {"subject": "none"}
    fw = _log_uniform(rng, *face)
    kind = "astronaut" if (0.12 <= fw <= 0.30 and rng.uniform() < 0.5) else "procedural"
    kw = dict(subject=kind, face_width_frac=fw,
              face_x_frac=float(rng.uniform(max(0.2, fw * 0.75), min(0.8, 1 - fw * 0.75))),
              face_y_frac=float(rng.uniform(0.25, 0.55) if fw < 0.3 else rng.uniform(0.4, 0.5)),
              roll_deg=float(rng.uniform(-ROLL_RANGE, ROLL_RANGE)) if rng.uniform() < p_roll else 0.0)
    if kind == "procedural":
        kw["skin_rgb"] = SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]
        kw["clothes_rgb"] = tuple(float(v) for v in rng.uniform(0.08, 0.6, 3))
    return kw


def _background(rng: np.random.Generator, *, p_street: float = 0.4, p_plain: float = 0.3) -> dict:
    """Street (p_street), plain or gradient wall (p_plain; any colour), else a scikit-image
    texture (brick, grass, gravel; tile 20-60 % of the width, natural or a random tint)."""
    u = rng.uniform()
    if u < p_street:
        return {"background": "street", "ambient": float(rng.uniform(0.12, 0.3))}
    if u < p_street + p_plain:
        kind = "wall" if rng.uniform() < 0.6 else "gradient"
        rgb = tuple(float(v) for v in rng.uniform(0.2, 0.9, 3))
        return {"background": kind, "background_rgb": rgb, "ambient": float(rng.uniform(0.25, 0.7))}
    kind = ("brick", "grass", "gravel")[int(rng.integers(3))]
    kw = {"background": kind, "background_texture_frac": float(rng.uniform(0.2, 0.6)),
          "ambient": float(rng.uniform(0.3, 0.8))}
    if rng.uniform() < 0.3:
        kw["background_rgb"] = tuple(float(v) for v in rng.uniform(0.3, 0.9, 3))
    return kw


def _k_frac(focal: float, n: float, focus_m: float, sensor: float = 36.0) -> float:
    """Blur disc of a light at infinity, as a fraction of the frame width."""
    return coc_diameter_mm(focal, n, focus_m, math.inf) / sensor


# ---------------------------------------------------------------------------------------------
def random_bokeh_scenes(n: int, seed: int = 0, *, size: int = 1024) -> list[SceneSpec]:
    """Orb fields for the bokeh family.

    Ranges: aperture uniform over :data:`APERTURES` (circle, 5/6/9 blades, cat's-eye strength
    0.4-0.9, Gaussian glow, anamorphic aspect 1.3-2 with the major axis within +-0.3 rad of
    vertical, soap bubble rim 1.5-3, onion rings 0.2-0.5); 3-60 lights; orb diameters 1-12 % of
    the frame width (a range drawn per scene; each light's depth solved from the thin lens, lens
    85-135 mm at 1.5-4 m, f/1.2-2.8 chosen so the widest orb fits); peaks: half the scenes
    0.4-0.9 (unclipped), half clipped with peaks 1-8x white and hard clipping; up to 40 % of the
    lights behind the subject's outline and up to 30 % across a frame border; overlap up to
    50 % of the smaller diameter (none on 30 % of scenes); subject as :func:`_subject` (none on
    20 %); background as :func:`_background`; light colours 2200-9500 K; noise and JPEG.
    """
    _check(n, size)
    out = []
    for i in range(n):
        rng = _rng(seed, "bokeh", i)
        aperture = APERTURES[int(rng.integers(len(APERTURES)))]
        lo = float(rng.uniform(0.01, 0.06))
        hi = float(rng.uniform(min(lo * 1.3, 0.12), 0.12))
        focal = float(rng.choice([85.0, 105.0, 135.0]))
        focus = float(rng.uniform(1.5, 4.0))
        k12 = _k_frac(focal, 1.2, focus)  # the widest disc this lens can make, at f/1.2
        if k12 < 1.1 * hi:
            hi = k12 / 1.1
            lo = min(lo, hi / 1.3)
        n_max = 1.2 * k12 / (1.1 * hi)  # c scales as 1/N
        fnum = float(rng.uniform(1.2, max(1.2, min(2.8, n_max))))
        clipped = rng.uniform() < 0.5
        if clipped:
            plo = float(rng.uniform(1.0, 3.0))
            inten = (plo, float(rng.uniform(plo, 8.0)))
        else:
            inten = (0.4, 0.9)
        kw = dict(width=size, height=size, aperture=aperture, focal_mm=focal, f_number=fnum, focus_m=focus,
                  background_m=float(rng.uniform(10.0, 100.0)), n_lights=int(rng.integers(3, 61)),
                  light_diameter_frac=(lo, hi), light_intensity=inten, clip_highlights=bool(clipped),
                  orbs_behind_subject=float(rng.uniform(0.0, 0.4)), orbs_at_border=float(rng.uniform(0.0, 0.3)),
                  max_overlap=None if rng.uniform() < 0.3 else float(rng.uniform(0.0, 0.5)),
                  key_kelvin=_mired_uniform(rng, 2200, 9500), background_kelvin=_mired_uniform(rng, 2200, 9500),
                  light_kelvin=(2200.0, 9500.0), blade_angle=float(rng.uniform(0, math.pi)),
                  cats_eye_strength=float(rng.uniform(0.4, 0.9)), anamorphic_aspect=float(rng.uniform(1.3, 2.0)),
                  anamorphic_angle=float(math.pi / 2 + rng.uniform(-0.3, 0.3)),
                  bubble_rim=float(rng.uniform(1.5, 3.0)), onion_amplitude=float(rng.uniform(0.2, 0.5)),
                  seed=seed * 100_000 + i)
        kw.update(_subject(rng, p_none=0.2))
        kw.update(_background(rng, p_street=0.5))
        kw.update(_camera(rng))
        out.append(SceneSpec(**kw))
    return out


def random_focus_scenes(n: int, seed: int = 0, *, size: int = 1024) -> list[SceneSpec]:
    """Focus-plane scenes for the focus family.

    Ranges: f/1.2-f/16 (log-uniform), 35-135 mm, subject at 1.5-5 m, background at 3-100 m
    (always beyond the subject by 10 % or more); face width from the optics (a 15.5 cm face at
    the focus distance: ``f * 0.155 / (s - f) / 36 mm``), clipped to 5-40 %; backgrounds:
    street 25 %, plain or gradient walls 35 % (which must read "no evidence", not shallow depth
    of field), textures 40 %; a receding ground (depth ramp from 1.1-1.6x the subject distance
    to the background distance) on 30 %; no lights on half, else 3-20 lights at the background
    depth or nearer (clipped on half); key and background 2700-6500 K; noise and JPEG. On a flat
    textured plane the tile is at most as large as keeps the photograph at
    :data:`MAX_TEXTURE_ENLARGEMENT` frame px per photo px (so its truth, the optical disc, is all
    the blur there is); depth ramps are not capped.
    """
    _check(n, size)
    out = []
    for i in range(n):
        rng = _rng(seed, "focus", i)
        fnum = _log_uniform(rng, 1.2, 16.0)
        focal = float(rng.uniform(35.0, 135.0))
        focus = float(rng.uniform(1.5, 5.0))
        bg = float(min(100.0, max(3.0, focus * 1.1, _log_uniform(rng, 3.0, 100.0))))
        if bg < focus * 1.1:
            bg = focus * 1.1
        face = float(np.clip(155.0 * focal / (focus * 1000.0 - focal) / 36.0, 0.05, 0.40))
        kw = dict(width=size, height=size, f_number=fnum, focal_mm=focal, focus_m=focus, background_m=bg,
                  key_kelvin=_mired_uniform(rng, 2700, 6500), background_kelvin=_mired_uniform(rng, 2700, 6500),
                  seed=seed * 100_000 + i)
        sub = _subject(rng, face=(face, face), p_none=0.0, p_roll=0.3)
        kw.update(sub)
        kw.update(_background(rng, p_street=0.25, p_plain=0.35))
        if rng.uniform() < 0.3 and bg > focus * 1.25:
            kw["background_near_m"] = float(min(bg / 1.05, focus * rng.uniform(1.1, 1.6)))
        if "background_texture_frac" in kw and "background_near_m" not in kw:
            cap = MAX_TEXTURE_ENLARGEMENT * TEXTURE_TILE_PX / size
            kw["background_texture_frac"] = float(min(kw["background_texture_frac"], cap))
        if rng.uniform() < 0.5:
            kw["n_lights"] = 0
        else:
            kw["n_lights"] = int(rng.integers(3, 21))
            kw["light_depth_m"] = (float(max(focus * 1.5, bg * 0.5)), bg)
            if rng.uniform() < 0.5:
                kw["light_intensity"] = (1.0, float(rng.uniform(1.5, 6.0)))
                kw["clip_highlights"] = True
        kw.update(_camera(rng))
        out.append(SceneSpec(**kw))
    return out


def random_color_scenes(n: int, seed: int = 0, *, size: int = 1024) -> list[SceneSpec]:
    """Light-colour scenes for the colour family.

    Ranges: 1, 2 or 3 distinct lights (a third each): key; background ambient (the key's colour
    in one-light scenes); a fill (tinted, 0.2-0.6 of the key) in three-light scenes; every
    Kelvin 1900-10000 (uniform in mired), a third of the lights tinted off the locus within
    +-0.03 Duv (kept inside the sRGB gamut); orbs (0-25) of the background's colour, or with
    the key's colour on half the scenes (``key_light_orbs`` 0.3-1: "the key appears in the
    scene") against none of the key's colour; coloured surfaces that are not lights: clothes,
    a coloured wall on 30 %, 0-3 props covering up to 60 % of the frame together; exposure
    solved to clip 0-30 % of the frame on half the scenes; noise and JPEG.
    """
    _check(n, size)
    out = []
    for i in range(n):
        rng = _rng(seed, "color", i)
        n_lights = int(rng.integers(1, 4))
        key_k = _mired_uniform(rng, *KELVIN_RANGE)
        key_duv = _tinted(rng, key_k, 1 / 3)
        if n_lights == 1:
            bg_k, bg_duv = key_k, key_duv
        else:
            bg_k = _mired_uniform(rng, *KELVIN_RANGE)
            bg_duv = _tinted(rng, bg_k, 1 / 3)
        kw = dict(width=size, height=size, key_kelvin=key_k, key_duv=key_duv, background_kelvin=bg_k,
                  background_duv=bg_duv, light_duv=bg_duv, seed=seed * 100_000 + i)
        if n_lights == 3:
            fk = _mired_uniform(rng, *KELVIN_RANGE)
            kw.update(fill_kelvin=fk, fill_duv=_tinted(rng, fk, 0.5), fill_intensity=float(rng.uniform(0.2, 0.6)),
                      key_from_left=bool(rng.uniform() < 0.5))
        kw.update(_subject(rng, face=(0.08, 0.35), p_none=0.05))
        kw.update(_background(rng, p_street=0.4, p_plain=0.3))
        kw["n_lights"] = int(rng.integers(0, 26))
        kw["light_depth_m"] = (8.0, 60.0)
        if n_lights > 1 and rng.uniform() < 0.5:
            kw["key_light_orbs"] = float(rng.uniform(0.3, 1.0))
        props = []
        budget = float(rng.uniform(0.0, 0.6))
        for _ in range(int(rng.integers(0, 4))):
            area = budget * float(rng.uniform(0.2, 0.6))
            budget -= area
            ww = float(np.clip(math.sqrt(area) * rng.uniform(0.6, 1.6), 0.03, 0.9))
            hh = float(np.clip(area / ww, 0.03, 0.9))
            props.append(PropSpec(shape="box" if rng.uniform() < 0.7 else "ellipse",
                                  x_frac=float(rng.uniform(0.1, 0.9)), y_frac=float(rng.uniform(0.15, 0.9)),
                                  w_frac=ww, h_frac=hh, angle_deg=float(rng.uniform(-20, 20)),
                                  rgb=SURFACE_COLOURS[int(rng.integers(len(SURFACE_COLOURS)))],
                                  depth_m=None if rng.uniform() < 0.5 else float(rng.uniform(2.0, 4.0))))
        kw["props"] = tuple(props)
        if rng.uniform() < 0.5:
            kw["clip_fraction"] = float(rng.uniform(0.0, 0.3))
            kw["clip_highlights"] = True
        kw.update(_camera(rng))
        out.append(SceneSpec(**kw))
    return out


def random_subject_scenes(n: int, seed: int = 0, *, size: int = 1024) -> list[SceneSpec]:
    """People for the subject model.

    Ranges: face width 4-40 % (log-uniform), roll +-30 degrees on 70 %, centre off the middle,
    skin tones deep to light (:data:`SKIN_TONES`), key 2000-10000 K; a second person on 30 %
    (procedural, 4-20 % face, sharp beside the subject or defocused at 1.5-4x its distance);
    no person on 10 %; every background kind; 0-20 lights; noise and JPEG.
    """
    _check(n, size)
    out = []
    for i in range(n):
        rng = _rng(seed, "subject", i)
        kw = dict(width=size, height=size, key_kelvin=_mired_uniform(rng, 2000, 10000),
                  background_kelvin=_mired_uniform(rng, 2700, 9500), n_lights=int(rng.integers(0, 21)),
                  light_depth_m=(8.0, 60.0), seed=seed * 100_000 + i)
        kw.update(_subject(rng, p_none=0.1, p_roll=0.7))
        if kw["subject"] != "none" and rng.uniform() < 0.3:
            fx = kw["face_x_frac"]
            x2 = float(rng.uniform(0.08, 0.3) if fx > 0.5 else rng.uniform(0.7, 0.92))
            depth = None if rng.uniform() < 0.5 else float(2.5 * rng.uniform(1.5, 4.0))
            kw["people"] = (PersonSpec(kind="procedural", face_width_frac=_log_uniform(rng, 0.04, 0.2), x_frac=x2,
                                       y_frac=float(rng.uniform(0.25, 0.5)),
                                       roll_deg=float(rng.uniform(-15, 15)), depth_m=depth,
                                       skin_rgb=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))]),)
        kw.update(_background(rng))
        kw.update(_camera(rng))
        out.append(SceneSpec(**kw))
    return out


def random_skin_scenes(n: int, seed: int = 0, *, size: int = 1024) -> list[SceneSpec]:
    """Faces for the skin family.

    Ranges: pore amplitude 0-0.2 (a parameter the skin owner calibrates against real skin),
    smoothing level 0-5, face width 8-40 %, roll +-30 on 30 %; key 2000-10000 K; a tinted fill
    (2700-9500 K, Duv +-0.02, 0.2-0.6 of the key) on 60 %; sebum 0-0.5; plain, textured and
    street backgrounds; noise and JPEG on their shared rates.
    """
    _check(n, size)
    out = []
    for i in range(n):
        rng = _rng(seed, "skin", i)
        kw = dict(width=size, height=size, key_kelvin=_mired_uniform(rng, 2000, 10000),
                  background_kelvin=_mired_uniform(rng, 2700, 9500), pore_amplitude=float(rng.uniform(0.0, 0.2)),
                  smoothing=int(rng.integers(0, 6)), sebum=float(rng.uniform(0.0, 0.5)),
                  n_lights=int(rng.integers(0, 10)), light_depth_m=(8.0, 60.0), seed=seed * 100_000 + i)
        if rng.uniform() < 0.6:
            fk = _mired_uniform(rng, 2700, 9500)
            kw.update(fill_kelvin=fk, fill_duv=float(rng.uniform(-0.02, 0.02)),
                      fill_intensity=float(rng.uniform(0.2, 0.6)), key_from_left=bool(rng.uniform() < 0.5))
        kw.update(_subject(rng, face=(0.08, 0.40), p_none=0.0, p_roll=0.3))
        kw.update(_background(rng))
        kw.update(_camera(rng))
        out.append(SceneSpec(**kw))
    return out


SAMPLERS = {"bokeh": random_bokeh_scenes, "focus": random_focus_scenes, "color": random_color_scenes,
            "subject": random_subject_scenes, "skin": random_skin_scenes}
