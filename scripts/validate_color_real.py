#!/usr/bin/env python
"""Check the color family against real photographs and real generated images.

Usage: ``python scripts/validate_color_real.py [DATA_DIR] [--plot OUT_DIR]`` (DATA_DIR defaults
to ../shared/data beside the repository).

* London Set (portraits-london/: 32 studio portraits, one flash, grey backdrop): every image is
  read on the production path (``ImageContext``: face detector, bokeh family, colour). The grey
  backdrop (the top corners, a neutral surface lit by the flash) gives the reference light
  colour. Reported: how many read as one light (target: all that are read), the key light's and
  the scene illuminant's distance from the backdrop in mired, per ethnicity group
  (london_info.csv).
* The same faces relit (von Kries in linear light: the image times the ratio of a 2700, 4000
  and 9000 K light to 6500 K; pixels clipped in the original stay clipped): the readings must
  follow the cast (Spearman rank correlation of the key's and the scene's mired with the truth,
  and their error against the relit backdrop).
* Generated images (ai-portraits/, comfyui-png/): the readings and the overlays to look at.

Exit status 0 iff every London image that has light evidence reads as one light and the
relit readings follow the cast frame by frame (every face read at every Kelvin reads warmer
as the cast warms, key and scene illuminant).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np

from lenscore.context import ImageContext
from lenscore.datasets.decode import decode_image
from lenscore.datasets.synthetic import light_linear_rgb
from lenscore.imaging import linear_to_srgb, srgb_to_linear
from lenscore.metrics import color

KS = (2700.0, 4000.0, 6500.0, 9000.0)


def backdrop_uv(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    patches = [rgb[int(0.02 * h):int(0.15 * h), int(0.02 * w):int(0.15 * w)],
               rgb[int(0.02 * h):int(0.15 * h), int(0.85 * w):int(0.98 * w)]]
    lin = np.median(srgb_to_linear(np.concatenate([q.reshape(-1, 3) for q in patches])), axis=0)
    return color.xyz_to_uv(color._M @ lin.astype(np.float64))


def mired_of(uv: np.ndarray) -> float:
    return float(color.planckian_position(uv)[0][0])


def relight(rgb: np.ndarray, kelvin: float) -> tuple[np.ndarray, np.ndarray]:
    ratio = light_linear_rgb(kelvin) / light_linear_rgb(6500.0)
    ratio = ratio / ratio.max() * 0.95
    out = linear_to_srgb(np.clip(srgb_to_linear(rgb) * ratio, 0, 1))
    out = np.round(out * 255) / 255
    out[(rgb >= 250 / 255).any(axis=2)] = 1.0  # clipped in the original: clipped under any light
    return out.astype(np.float32), ratio


def read(rgb: np.ndarray):
    ctx = ImageContext(np.asarray(rgb, np.float32))
    return ctx.result("color"), ctx


def save_overlay(out_dir: Path | None, name: str, rgb: np.ndarray, res) -> None:
    if out_dir is None:
        return
    import cv2

    out_dir.mkdir(parents=True, exist_ok=True)
    img = color.draw(rgb, res, long_side=900)
    cv2.imwrite(str(out_dir / f"{name}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--plot", default=None, help="write overlays (PNG) here")
    a = ap.parse_args(argv)
    data = Path(a.data)
    out_dir = Path(a.plot) if a.plot else None
    london = data / "portraits-london"
    ok = True
    if london.is_dir():
        info = {r["face_id"]: r["face_eth"] for r in csv.DictReader(open(london / "london_info.csv"))}
        rows = []
        for f in sorted(london.glob("*.jpg")):
            fid = f.name[:3]
            rgb = decode_image(f).rgb
            res, ctx = read(rgb)
            v = res.values
            bd = backdrop_uv(rgb)
            rel = {}
            for k in KS:
                if k == 6500.0:
                    rel[k] = (v, bd)
                    continue
                rr, ratio = relight(rgb, k)
                lin_bd = srgb_to_linear(rgb)  # backdrop under the new light
                h, w = rgb.shape[:2]
                pb = np.median(np.concatenate([lin_bd[int(0.02 * h):int(0.15 * h), int(0.02 * w):int(0.15 * w)].reshape(-1, 3),
                                               lin_bd[int(0.02 * h):int(0.15 * h), int(0.85 * w):int(0.98 * w)].reshape(-1, 3)]), axis=0)
                rel[k] = (read(rr)[0].values, color.xyz_to_uv(color._M @ (pb * ratio).astype(np.float64)))
            rows.append((fid, info.get(fid, "?"), v, bd, rel, ctx.face_box is not None))
            if fid in ("001", "004", "129"):
                save_overlay(out_dir, f"london_{fid}", rgb, res)
        lc = [r[2]["color.light_count"] for r in rows]
        read_lc = [c for c in lc if math.isfinite(c)]
        n_one = sum(c == 1 for c in read_lc)
        print(f"London: {len(rows)} portraits, {len(read_lc)} with light evidence, {n_one} read as one light; "
              f"faces found {sum(r[5] for r in rows)}")
        ok &= n_one == len(read_lc)

        def dist(est_k, uv_true):
            return (1e6 / est_k - mired_of(uv_true)) if math.isfinite(est_k) else math.nan

        for what in ("subject_cct_k", "scene_cct_k"):
            d = np.array([dist(r[2][f"color.{what}"], r[3]) for r in rows])
            fin = d[np.isfinite(d)]
            print(f"  {what}: read on {fin.size}/{len(rows)}; minus the backdrop: median {np.median(fin):+.1f} mired, "
                  f"|.| median {np.median(np.abs(fin)):.1f}, p90 {np.percentile(np.abs(fin), 90):.1f}" if fin.size else f"  {what}: not read")
            for eth in sorted({r[1] for r in rows}):
                de = np.array([dist(r[2][f"color.{what}"], r[3]) for r in rows if r[1] == eth])
                de = de[np.isfinite(de)]
                if de.size:
                    print(f"    {eth:22s} n {de.size:2d}  median {np.median(de):+6.1f} mired, |.| median {np.median(np.abs(de)):5.1f}")
        from scipy.stats import spearmanr

        for what in ("subject_cct_k", "scene_cct_k"):
            est, tru = [], []
            for r in rows:
                for k in KS:
                    vv, uvt = r[4][k]
                    if math.isfinite(vv[f"color.{what}"]):
                        est.append(1e6 / vv[f"color.{what}"])
                        tru.append(mired_of(uvt))
            mono = n_seq = 0
            for r in rows:  # frame by frame: does each face's reading follow its cast?
                seq = [1e6 / r[4][k][0][f"color.{what}"] for k in KS]
                if all(math.isfinite(x) for x in seq):
                    n_seq += 1
                    mono += all(b < a for a, b in zip(seq, seq[1:]))
            if len(est) >= 3:
                rho = float(spearmanr(est, tru).statistic)
                err = np.abs(np.array(est) - np.array(tru))
                print(f"  relit 2700-9000 K, {what}: {len(est)} readings, Spearman {rho:.3f} (pooled over "
                      f"faces), |error| median {np.median(err):.1f} p90 {np.percentile(err, 90):.1f} mired; "
                      f"follows the cast frame by frame on {mono}/{n_seq} faces read at every Kelvin")
                ok &= mono == n_seq
    for folder in ("ai-portraits", "comfyui-png"):
        d = data / folder
        if not d.is_dir():
            continue
        print(folder + ":")
        for f in sorted(d.iterdir()):
            if f.suffix.lower() not in (".jpg", ".png"):
                continue
            rgb = decode_image(f).rgb
            res, ctx = read(rgb)
            v = res.values
            print(f"  {f.name:40s} lights {v['color.light_count']:.0f}  key {v['color.subject_cct_k']:6.0f} K "
                  f"(Duv {v['color.subject_duv']:+.3f})  background {v['color.background_cct_k']:6.0f} K  "
                  f"scene {v['color.scene_cct_k']:6.0f} K (Duv {v['color.scene_duv']:+.3f})  "
                  f"coherence {v['color.light_coherence']:5.1f}  face {'yes' if ctx.face_box else 'no'}")
            print(f"      {color.explain(res)}")
            save_overlay(out_dir, f"{folder}_{f.stem}", rgb, res)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
