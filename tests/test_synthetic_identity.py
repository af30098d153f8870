"""Bit-identity of the renderer's defaults: every new SceneSpec field defaults to the old
behaviour, so the demo specs, the validation sweeps and the options the old tests used render
exactly what main rendered before the new scene kinds were added (rgb, masks and the old truth
keys; new truth keys are ignored). Renderer 2 (issue 17) changed the skin on purpose (pore gain,
the astronaut's own texture, the beauty filter) and the hashes were re-made then."""

from __future__ import annotations

import hashlib
import json

import pytest

from lenscore.datasets import synthetic as S

OLD_TRUTH_KEYS = ("renderer_version", "spec", "seed", "width", "height", "aperture", "gaussian_sigma_px",
                  "coc_px", "coc_mm", "kelvin", "lights", "orbs", "n_lights_requested", "n_lights_placed",
                  "subject", "subject_box", "face_box", "face_width_px", "skin_box", "pore_scale_px",
                  "pore_amplitude", "smoothing", "clipped_fraction", "highlight_mode")
OLD_SPEC_FIELDS = ("width", "height", "focal_mm", "f_number", "focus_m", "background_m", "sensor_mm",
                   "aperture", "key_kelvin", "background_kelvin", "n_lights", "light_depth_m", "subject",
                   "pore_amplitude", "smoothing", "exposure", "clip_highlights", "seed", "light_kelvin",
                   "light_intensity", "lights", "allow_overlap", "blade_angle", "cats_eye_strength",
                   "ambient", "key_intensity", "sebum")
OLD_LIGHT_KEYS = ("x", "y", "depth_m", "coc_px", "coc_mm", "diameter_px", "kelvin", "intensity", "shape",
                  "angle", "vignette", "major_px", "minor_px", "sigma_px", "in_background", "visible",
                  "fully_inside")


def old_truth(t):
    out = {k: t[k] for k in OLD_TRUTH_KEYS}
    out["spec"] = {k: t["spec"][k] for k in OLD_SPEC_FIELDS}
    if out["spec"]["lights"] is not None:  # LightSpec gained fields too
        out["spec"]["lights"] = [{k: L[k] for k in ("x_frac", "y_frac", "depth_m", "kelvin", "intensity")}
                                 for L in out["spec"]["lights"]]
    out["lights"] = [{k: L[k] for k in OLD_LIGHT_KEYS} for L in t["lights"]]
    out["orbs"] = [{k: L[k] for k in OLD_LIGHT_KEYS} for L in t["orbs"]]
    return out


def baseline_specs():
    """(name, SceneSpec): the demo, the validation sweeps (quick plan, a few seeds) and the
    options the old tests used."""
    out = []
    for v in ("optical", "blurred"):
        for s in S.demo_specs(v, 3, size=768, seed0=0 if v == "optical" else 100):
            out.append((f"demo-{v}-{s.seed}", s))
    z = 512
    for s in (0, 1):
        for n in (1.4, 5.6, 16.0):  # validate_focus
            out.append((f"focus-{s}-{n}", S.SceneSpec(width=z, height=z, f_number=n, n_lights=0, seed=s,
                                                      key_kelvin=5000, background_kelvin=5000)))
        for a in ("circle", "blades9", "blades6", "blades5", "gaussian"):  # validate_bokeh
            out.append((f"bokeh-{s}-{a}", S.SceneSpec(width=z, height=z, aperture=a, seed=s, n_lights=10,
                                                      light_depth_m=(8.0, 60.0), key_kelvin=5000,
                                                      background_kelvin=5000)))
        for lvl in (0, 2, 4):  # validate_skin ladder
            out.append((f"skin-{s}-{lvl}", S.SceneSpec(width=z, height=z, pore_amplitude=0.1, smoothing=lvl,
                                                       seed=s, key_kelvin=5000, background_kelvin=5000,
                                                       n_lights=6)))
    for k in (2200, 9500):  # validate_color
        out.append((f"color-key-{k}", S.SceneSpec(width=z, height=z, key_kelvin=k, background_kelvin=6500, seed=0)))
        out.append((f"color-bg-{k}", S.SceneSpec(width=z, height=z, key_kelvin=3200, background_kelvin=k, seed=1)))
    out.append(("color-eq-2700", S.SceneSpec(width=z, height=z, key_kelvin=2700, background_kelvin=2700, seed=1)))
    out.append(("focus-hires", S.SceneSpec(width=1024, height=1024, f_number=2.0, n_lights=0, seed=0,
                                           key_kelvin=5000, background_kelvin=5000)))
    sm = dict(width=320, height=320)
    out += [
        ("cats-eye", S.SceneSpec(aperture="cats_eye", cats_eye_strength=0.8, light_depth_m=(6.0, 60.0), seed=3, **sm)),
        ("procedural", S.SceneSpec(subject="procedural", pore_amplitude=0.1, smoothing=2, seed=5, **sm)),
        ("none", S.SceneSpec(subject="none", light_kelvin=(2200.0, 9500.0), allow_overlap=True, seed=6, **sm)),
        ("clip", S.SceneSpec(exposure=3.0, clip_highlights=True, seed=4, light_depth_m=(6.0, 60.0), **sm)),
        ("explicit", S.SceneSpec(n_lights=0, lights=(S.LightSpec(0.45, 0.3), S.LightSpec(0.08, 0.08, kelvin=3000.0)),
                                 blade_angle=0.3, aperture="blades6", **sm)),
        ("nonsquare", S.SceneSpec(width=400, height=256, subject="procedural", pore_amplitude=0.1, smoothing=1)),
    ]
    return out


#: SHA-256 (first 32 hex digits) of rgb, subject_mask, skin_mask bytes and of the old truth keys,
#: computed with renderer 2 (issue 17, the skin family's calibration: PORE_GAIN 0.42, the
#: astronaut's own skin low-passed at 6 px instead of 2, the beauty filter's Gaussian over skin
#: only; re-hashed deliberately). Before: main at 07103a5 (renderer 1).
MAIN_HASHES = {
    'demo-optical-0': (
        '6f7a70e0a2342fa885902ab5485ee918',
        '1947ccb32ce58326b3c18e78550dc27f',
        '1f61d53017ef84a32d779a105edc59d1',
        '1231dde0e77db6833db49eff56b4b395',
    ),
    'demo-optical-1': (
        '1657dcd39ac2405b2456f8890e73ab18',
        'cbf5496fa365487be09d7214fec18bfc',
        '9f9c66d3c292ff1ae81e44c63c14e0f5',
        '3a9ce9a9e9392dc0c7a2e147941a6e78',
    ),
    'demo-optical-2': (
        '90cb603ec2e778eda6a36ff66035ccc8',
        'fe61aca4975eb59fbbfd1e9fba51c9ae',
        '02d29ced30a98228ee93d336db0eec1e',
        '08c5e0ab6733744dd0c0b5932df01181',
    ),
    'demo-blurred-100': (
        '3e40877366c4ed6ef0f423d936e680f5',
        '0e77ba88e107ee12a3103c3ff7d20e80',
        '2e84692d178662b73c39a273a2f67e53',
        'e6f070d17a6c6b750228dc2056e28bb1',
    ),
    'demo-blurred-101': (
        '976f3a198429b4a905d1be348e68b38b',
        '20218dced8278f3244046ba98f1bcc09',
        '589d940603ff810148dcf5fc395c03a9',
        '02b88282795ae1e643239c881ee78388',
    ),
    'demo-blurred-102': (
        '4c671db05285d5ea786454301554bc85',
        'a8cd08166e4c843a9de2e9dc1d593b6f',
        '04b7afa42fda43911c0e208d72500dde',
        'd94d66f2e9465e49d88ea61083b2020f',
    ),
    'focus-0-1.4': (
        '80fdb54154b319ce0fabfc6cf26195c8',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '36c7e14f91c339921fa0ec9a2b5df748',
    ),
    'focus-0-5.6': (
        '4ccfcba8615d97ac767340eab0b58716',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '0a72623b555aed694fe8babb3f1487be',
    ),
    'focus-0-16.0': (
        'ea4c3e1b5ca1654f4843ee0d02c655cd',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '85236320e8265698e3ebaa2de9d0bd27',
    ),
    'bokeh-0-circle': (
        '26e66b3a3533724657914f820a37c5cf',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '9b99486225e752f18042003900fed35a',
    ),
    'bokeh-0-blades9': (
        '87aa596976c11a0a2b886cbdf8f30efc',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '10c5188b09d7de3a527463edf9063bc2',
    ),
    'bokeh-0-blades6': (
        'ab7f98e5528e7e6a93f8e612b73bc3ca',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '2cdce1dd65f65e335ce387b015d770e8',
    ),
    'bokeh-0-blades5': (
        'b8ecc76d6cff4c1ec0f19ad36bd2e53d',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '8c16c164adff3c97bfb185ab152e49da',
    ),
    'bokeh-0-gaussian': (
        '3f9be3153659875a04efc084db6b392d',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '61411caa3349db93dbb2fd90acce39eb',
    ),
    'skin-0-0': (
        'e78730798f928ba511c0ffe0f85cdb63',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '3ec37056d6405913e24373004364823a',
    ),
    'skin-0-2': (
        'aabd53630cccf8e426918adfccfc5a96',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '10ed839b8f218c3b93aca90ff8eb9d6c',
    ),
    'skin-0-4': (
        '9306784314d4228bbdf0cf89c9b56956',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'cd5f31344da618be171cd8071b67dd46',
    ),
    'focus-1-1.4': (
        'ff9e35425a177c92fc44074c667fdd7a',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'e577b5e35dea7526f81bb6c35512ba3f',
    ),
    'focus-1-5.6': (
        '0f5214d89e61f26ea92a7c0f12b69bb2',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'ea9ba7644796cbd20ce11874b582bfd2',
    ),
    'focus-1-16.0': (
        'b4b3776793c9c8305f36eb86fbc4c1b2',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '99cc581e326dba1d3d9eaea7ee695c0c',
    ),
    'bokeh-1-circle': (
        'a430e28ac1cfb4effccd2fa9f580a015',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '33043ffaf76fe141af5b729c321ac360',
    ),
    'bokeh-1-blades9': (
        'b7f4d43e20300dc5960f69b0a0ffdb05',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '1f60a3b2f66a975350ca9029e7c83643',
    ),
    'bokeh-1-blades6': (
        '7d48419ec0190311bcbd9b8b0bf2c41c',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '7a2f75f43049b94d596be744b891f3c3',
    ),
    'bokeh-1-blades5': (
        'ca3f0a610923868e9ecc98fcefe2f5c1',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '15e360d58ca3e5bb9a1a903ad16f4d90',
    ),
    'bokeh-1-gaussian': (
        '8dc9b9c60f1271a9405058749f1caf0c',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'ea5a4822f9902ad11baa73124357c02c',
    ),
    'skin-1-0': (
        'dbc3aadc0065882f734e9246845fa016',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'ae132d7a4261ceff19b95e98e75e017d',
    ),
    'skin-1-2': (
        'c03294561c8b106eee371a49d0335a2f',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '4ba414dc762a7028987bda0eddcbec17',
    ),
    'skin-1-4': (
        '7c937fc733ab0b5e1a49c9870877d5aa',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '481876e7e8f320ffb4c85b3ae2642f21',
    ),
    'color-key-2200': (
        '49833f40137c6cf1a0277e9710e05006',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'be17cd23f0f35c42e753d9dd1365006f',
    ),
    'color-bg-2200': (
        'ad31c313ba45941baf188805a2e244f6',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'dc09841a4b4da3028e11d714418c9ebb',
    ),
    'color-key-9500': (
        'c181a2cae4eddfdb29046b2b35540003',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'fb614af851e04c51c8490637de716442',
    ),
    'color-bg-9500': (
        '00455ed10c978f6dfe148d640dd980d6',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '3cfe20513ee6d9bad21dff1d8de560e2',
    ),
    'color-eq-2700': (
        'ad3e9613d2954e27cc3ba97d8ecde546',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'a422f24242bf3c2f28e55fd6e3a86e71',
    ),
    'focus-hires': (
        '6b8c0d22fb57f6562e406f47de10717a',
        'efdb534d555eca899a991e872c527634',
        '6411f89106b2752f66734f802e9ec413',
        '84977c82667424fdb8d65a3c0b072dc9',
    ),
    'cats-eye': (
        '7c0bb8e3717de02f07d67f026d4b3645',
        '5c5c3e9e20344e99cfcc24f369c01533',
        '2253819fbccc87714a8d789abab939df',
        'f8f82f587fdeaadf13f23fcc96ea1242',
    ),
    'procedural': (
        '4526a92bad0eb9db165939411de43202',
        'e4aed28420bee42db0315786cf9c007b',
        '9d33631b834f9594294f4c28814719b9',
        'f33cee4a902fe00510c59312e23205ad',
    ),
    'none': (
        'af53e6e4ca9adddc38d3b683a73546b4',
        'f627ca4c2c322f15db26152df306bd4f',
        'f627ca4c2c322f15db26152df306bd4f',
        '7bdcb9aba81df50255fa9d6de78cf1f5',
    ),
    'clip': (
        '25f79af3896a3794ede25ce7343bc4b4',
        'e79ffecfa466118f3f4fbee086130d86',
        '07097f1d634cbfc185c77383a0455f63',
        '3fc47d6ccff653f8182a78c638b797f3',
    ),
    'explicit': (
        '943635ec93f2ab61e795b30742492591',
        'da1d0294794fd722bd0af0c7c90cc003',
        '1b978edb799a3ee99385301c5a45d990',
        '8a166b6902449a1d3c64d04c7fc4f33e',
    ),
    'nonsquare': (
        '2b2cf08b6284a1337debbf434781d215',
        '78d78710609eff231615a96ddfa4b030',
        '410a64a489e968c13e5afb0aac4882e9',
        'c9a6b7796c8dcab836a8c1e156163703',
    ),
}

def _h(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:32]


@pytest.mark.parametrize("name,spec", baseline_specs(), ids=[n for n, _ in baseline_specs()])
def test_defaults_render_bit_identical_to_main(name, spec):
    r = S.render(spec)
    got = (_h(r.rgb.tobytes()), _h(r.subject_mask.tobytes()), _h(r.skin_mask.tobytes()),
           _h(json.dumps(old_truth(r.truth), sort_keys=True).encode()))
    assert got == MAIN_HASHES[name]


def test_every_baseline_spec_has_a_hash():
    assert sorted(n for n, _ in baseline_specs()) == sorted(MAIN_HASHES)
