"""Bit-identity of the renderer's defaults: every new SceneSpec field defaults to the old
behaviour, so the demo specs, the validation sweeps and the options the old tests used render
exactly what main rendered before the new scene kinds were added (rgb, masks and the old truth
keys; new truth keys are ignored)."""

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
#: computed with the renderer of main at 07103a5 (before the scene-spread work).
MAIN_HASHES = {
    'demo-optical-0': (
        '6dd1a92b6695390406cffbab96e168d0',
        '1947ccb32ce58326b3c18e78550dc27f',
        '1f61d53017ef84a32d779a105edc59d1',
        'cc6e6370cc77635c955be0f7fd779070',
    ),
    'demo-optical-1': (
        '71199ded3336a7891de2c3ff0c6dea93',
        'cbf5496fa365487be09d7214fec18bfc',
        '9f9c66d3c292ff1ae81e44c63c14e0f5',
        '31e9cbcbbc74f85f6aa13b95784a3c70',
    ),
    'demo-optical-2': (
        'c007b7265d845955881b1c103fdcd5f7',
        'fe61aca4975eb59fbbfd1e9fba51c9ae',
        '02d29ced30a98228ee93d336db0eec1e',
        '1545e2231264729856377a8ee114e94f',
    ),
    'demo-blurred-100': (
        'ff959df4035dde5adc31a4c660dcdc9d',
        '0e77ba88e107ee12a3103c3ff7d20e80',
        '2e84692d178662b73c39a273a2f67e53',
        '2a84c3d44b34f59c6081d0d70a32d642',
    ),
    'demo-blurred-101': (
        '6f7f0035d46b7a28f8e0ae8834a61f5a',
        '20218dced8278f3244046ba98f1bcc09',
        '589d940603ff810148dcf5fc395c03a9',
        '9e5fc0725dac235c1109632e2ef6fb78',
    ),
    'demo-blurred-102': (
        'df50071900a404a80452e7141d502ae2',
        'a8cd08166e4c843a9de2e9dc1d593b6f',
        '04b7afa42fda43911c0e208d72500dde',
        'ee447cdad6d2b8193c0eb6777df02dd6',
    ),
    'focus-0-1.4': (
        '6398e176ec8e72d109773fe1bbcaa84a',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'a564b551d18586d06f0130759da0a92e',
    ),
    'focus-0-5.6': (
        '5830f2549b6501ce9dbeec861f15e585',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '60b6f4943796d5701986e6d55632ffd2',
    ),
    'focus-0-16.0': (
        'f62795b9f636709bee5148966dbe951c',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '233f63676187639be1ede150c77398e7',
    ),
    'bokeh-0-circle': (
        '205ee859b7605eb67032afc3fe9d8a1c',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '6109bee043409a626425d3ec25818fe0',
    ),
    'bokeh-0-blades9': (
        'bf5ebb8925b3b4551ed95e8f9742b485',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '969d5c16f977436868c0348aa51523d5',
    ),
    'bokeh-0-blades6': (
        'fb5e68e06088b737ade650582c09920e',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '760d58c0be7fdcd30db8574798025330',
    ),
    'bokeh-0-blades5': (
        'c63be4798a9e2e42fb73a65af6eb491e',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '036582dd5c56450dbbeea43a16d675ca',
    ),
    'bokeh-0-gaussian': (
        '2919c319a71963298728e1df888caed3',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '6e8fb2622bfdecb8d151802fe05bb2fd',
    ),
    'skin-0-0': (
        'e992168e4847369f79bd592f66985a2b',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'daa7273c1df88cae0a4a274af044613a',
    ),
    'skin-0-2': (
        '749420a6013913209c1896973ebcc960',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'acf13fe64b5cecd4b5a24a3b8fc347d7',
    ),
    'skin-0-4': (
        'efea89dc52562901d860ffbace4e7f7c',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'c06e013ea37f54b46a5e13caa9238c7f',
    ),
    'focus-1-1.4': (
        'cc3019b0ab8d6bfde99d6a2d3c0d1265',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '37ae643a0cc155a29d6a36aa3c79e3b2',
    ),
    'focus-1-5.6': (
        '235eadec83e28ced45deb890865cbd21',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '196feba14d26edff3b04711b497980c8',
    ),
    'focus-1-16.0': (
        '9ed196a3f6cc31c26499323047d5c318',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '4e765c6677a9511f47c090c5a5ca2714',
    ),
    'bokeh-1-circle': (
        'a5070b6dde5fc7cc857365aaa1e51d6f',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'c5420797f9de80dafa235db0f53d7780',
    ),
    'bokeh-1-blades9': (
        '14899f122d492714bce03b7653b84887',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '8a86b01514a826c3a5854e4788451bb0',
    ),
    'bokeh-1-blades6': (
        '65ae7e4f40f7d345806522a22fc3349d',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'bfcde4d3d45c2713c2d5399104259dca',
    ),
    'bokeh-1-blades5': (
        '8fbd9f742b2f721c6b3b8c92d307f77a',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '8f2cfb8552f40b953d2b004d38dc3bc7',
    ),
    'bokeh-1-gaussian': (
        '355c62daef69452bc6f07265a0c6ba68',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '331ccbd9e62e999344fdddc9e54a6529',
    ),
    'skin-1-0': (
        'd8baa80ab55369c307a05ae71b9388de',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '1a7643e0d03fd3c23b62a34e4a8eacbc',
    ),
    'skin-1-2': (
        '9570e8653e831795f0263aeeafbc21b4',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'f030216aed14c3787a75bcd70709df42',
    ),
    'skin-1-4': (
        '6636bcb220fc85e9773d9862f8206b03',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'fffe2c7bb9b342bcea3d461e6c624a81',
    ),
    'color-key-2200': (
        'a5a2c5b827334199e58e6ce26f6c7c1b',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        'a85c9e619e5ba61afc42996a540b2814',
    ),
    'color-bg-2200': (
        '203756d54500f470ad237f875c56bb2d',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '35e5f52b7339939f1f590774aa24e21f',
    ),
    'color-key-9500': (
        'c3abecf28b517e99f05e113bd1d801a7',
        '8db79a9cff70bc9192a92c34dfba81fc',
        'cb5c29207322c9f442c8fc5f38d5366c',
        '18700e80daaa7d43f62ea722553c677d',
    ),
    'color-bg-9500': (
        '12705dde6f1314c784256e3126e9237d',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        '0bace41e73e7159cca5cdbe2058308a9',
    ),
    'color-eq-2700': (
        '946cae1a2fdb58096dac7e8a2afc07da',
        'b665b3793d34fbfc4df2c2310b5f5893',
        '912282245df0c93ef36cf727512ade9a',
        'c64c14e0e89cfbee0989abdb33eeec84',
    ),
    'focus-hires': (
        '1155ae8e2b8a87600b32e58ed61d8fa3',
        'efdb534d555eca899a991e872c527634',
        '6411f89106b2752f66734f802e9ec413',
        '5598dcc0b335bea63d637eb50066bef9',
    ),
    'cats-eye': (
        'bbeb8d6c966d445bae1570a5e8a5df3c',
        '5c5c3e9e20344e99cfcc24f369c01533',
        '2253819fbccc87714a8d789abab939df',
        'c32cf60254bacda32275cb97460c3930',
    ),
    'procedural': (
        'acdcd79de440b0773d1f8f184c896136',
        'e4aed28420bee42db0315786cf9c007b',
        '9d33631b834f9594294f4c28814719b9',
        '092ba80c1bd50720e302a09fcfd92640',
    ),
    'none': (
        'af53e6e4ca9adddc38d3b683a73546b4',
        'f627ca4c2c322f15db26152df306bd4f',
        'f627ca4c2c322f15db26152df306bd4f',
        'd0443c73bf3526e66fcc00d1be45b0c0',
    ),
    'clip': (
        '9ae6962feedcada50b92a34687907d1d',
        'e79ffecfa466118f3f4fbee086130d86',
        '07097f1d634cbfc185c77383a0455f63',
        '6f59098f665c5419bd542f8228d29694',
    ),
    'explicit': (
        'ea1a3c02ee3dd19e13b19cdf946be7bb',
        'da1d0294794fd722bd0af0c7c90cc003',
        '1b978edb799a3ee99385301c5a45d990',
        '859e2b391930278eabae7581afdae4f2',
    ),
    'nonsquare': (
        '46fe1a210c75699a467b8b1275ca8ea2',
        '78d78710609eff231615a96ddfa4b030',
        '410a64a489e968c13e5afb0aac4882e9',
        '808bcb5cb28bff66acdc6bf11f83c097',
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
