#!/usr/bin/env python
"""Build the skin family's real-skin reference (``src/lenscore/metrics/skin_reference.json``).

Usage: ``python scripts/skin_reference.py [--data DIR] [--out FILE] [--jobs N]``

For each of the 32 unretouched London Set portraits (``../shared/data/portraits-london``, Face
Research Lab London Set, DeBruine & Jones 2017, CC BY 4.0, doi:10.6084/m9.figshare.5047666.v5):
the portrait is measured as it is (1350 px, inter-ocular distance ~185-235 px) and downscaled
with an area filter so that its IOD is each of :data:`IODS`; every copy is scored on the
production path (``ImageContext`` -> faces -> the skin family, with the colour family it reads),
nothing of the truth passed in. The file stores every face's ``skin.texture_energy`` per scale,
its ethnicity group (``london_info.csv``) and, per scale, the median and the reading's band:
``lo`` = the lowest real face / ``BAND_MARGIN``, ``hi`` = the highest x ``BAND_MARGIN`` (a real
face reads "natural" by construction; the margin leaves room for a 33rd face).

Re-run it whenever a texture parameter of the skin family changes (``tests/test_skin.py``
checks that the stored parameters are the family's).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
IODS = (41.0, 48.0, 56.0, 64.0, 80.0, 100.0, 128.0, 160.0)
BAND_MARGIN = 1.15
#: the parameters the texture depends on (stored so a change is caught)
TEXTURE_PARAMS = ("iod_px", "prefilter_sigma", "pore_band", "lum_sigma", "erode_px", "open_px", "texture_channel",
                  "mask_blur", "mask_sigma", "blue_weight", "chroma_loose", "min_region_px", "min_region_frac",
                  "min_luma_frac", "chroma_tol", "noise_tile_px", "noise_tile_quantile",
                  "noise_min_tiles", "noise_max_octave_ratio", "noise_context_faces",
                  "percent")


def measure_face(args) -> dict:
    face_id, data = args
    import cv2

    from lenscore.context import ImageContext
    from lenscore.datasets import london
    from lenscore.datasets.decode import decode_image
    from lenscore.metrics import skin

    d = london.london_dir(data)
    rgb = decode_image(d / f"{face_id}_03.jpg").rgb
    info = london._read_info(d).get(face_id, {})
    ctx = ImageContext(rgb)
    iod0 = ctx.faces[0].inter_ocular
    out = {"face_id": face_id, "group": info.get("face_eth", "unknown"),
           "gender": info.get("face_gender", "unknown"), "native_iod_px": float(iod0),
           "values": {}}

    def score(img):
        c = ImageContext(img)
        res = skin.compute(c)
        return (res.values["skin.texture_energy"], res.values["skin.iod_px"],
                res.values["skin.is_skin"], res.reasons.get("skin.texture_energy", ""))

    e, iod, ok, why = score(rgb)
    out["values"]["native"] = {"texture_energy": e, "iod_px": iod, "is_skin": ok, "reason": why}
    for t in IODS:
        s = t / iod0
        small = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)),
                           interpolation=cv2.INTER_AREA)
        e, iod, ok, why = score(np.clip(small, 0, 1))
        out["values"][f"{t:g}"] = {"texture_energy": e, "iod_px": iod, "is_skin": ok,
                                   "reason": why}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=None, help="the portraits-london folder")
    ap.add_argument("--out", default=str(REPO / "src" / "lenscore" / "metrics" / "skin_reference.json"))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    from lenscore.datasets import london
    from lenscore.evaluator.executors import parallel_map
    from lenscore.metrics import skin

    ids = london.face_ids(a.data)
    rows = parallel_map(measure_face, [(i, a.data) for i in ids], jobs=a.jobs)
    scales = []
    keys = ["native"] + [f"{t:g}" for t in IODS]
    for key in keys:
        vals = [r["values"][key]["texture_energy"] for r in rows]
        iods = [r["values"][key]["iod_px"] for r in rows]
        ok = [v for v in vals if v is not None and math.isfinite(v)]
        if len(ok) < len(vals):
            bad = [(r["face_id"], r["values"][key]["reason"]) for r in rows
                   if not math.isfinite(r["values"][key]["texture_energy"])]
            print(f"scale {key}: {len(vals) - len(ok)} faces not measured: {bad}", file=sys.stderr)
        if len(ok) < 0.8 * len(vals):
            continue
        scales.append({"iod_px": float(np.median(iods)), "key": key, "n": len(ok),
                       "median": float(np.median(ok)), "lo": float(min(ok) / BAND_MARGIN),
                       "hi": float(max(ok) * BAND_MARGIN), "min": float(min(ok)),
                       "max": float(max(ok)), "p10": float(np.percentile(ok, 10)),
                       "p90": float(np.percentile(ok, 90))})
    params = {k: getattr(skin.PARAMS, k) for k in TEXTURE_PARAMS}
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    doc = {
        "what": ("skin.texture_energy (RMS fine-texture contrast, %) of real, unretouched "
                 "studio portraits, measured on lenscore's production path at a ladder of "
                 "inter-ocular distances (each portrait downscaled with an area filter)"),
        "source": {"name": "Face Research Lab London Set",
                   "authors": "Lisa DeBruine and Benedict Jones", "year": 2017,
                   "doi": "10.6084/m9.figshare.5047666.v5",
                   "url": "https://doi.org/10.6084/m9.figshare.5047666.v5",
                   "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
                   "attribution": ("\"Face Research Lab London Set\" by Lisa DeBruine and "
                                   "Benedict Jones, licensed CC BY 4.0. Only numbers measured "
                                   "on the images are stored here, not the images."),
                   "copy": "debruine/webmorphR.stim @ fa8b78f, 32 frontal portraits *_03.jpg"},
        "made_by": "scripts/skin_reference.py",
        "skin_family_version": skin.FAMILY.version,
        "params": params,
        "band_margin": BAND_MARGIN,
        "scales": sorted(scales, key=lambda s: s["iod_px"]),
        "faces": [{k: r[k] for k in ("face_id", "group", "gender", "native_iod_px")}
                  | {"texture_energy": {key: r["values"][key]["texture_energy"] for key in keys}}
                  for r in rows],
    }
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    for s in doc["scales"]:
        print(f"IOD {s['iod_px']:6.1f} px: n {s['n']}, median {s['median']:.3f} %, "
              f"range {s['min']:.3f}-{s['max']:.3f}, p10-p90 {s['p10']:.3f}-{s['p90']:.3f}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
