"""Check the focus family against real photographs: a sharp shot must out-score its defocused twin.

Run: .venv/bin/python scripts/validate_defocus_pairs.py [DATA_DIR]

DATA_DIR (default: ../shared/data/defocus-pairs beside the repository) holds scenes shot twice,
``<scene>_S.<ext>`` in focus and ``<scene>_F.<ext>`` with the whole frame defocused (Kwentar/
blur_dataset, CC0). For each pair the whole-frame detail (``focus.sharpness``) of both is
printed with their ratio; a pair passes when S > F. Also shown: the background blur disc of each
shot (``focus.background_blur_px``, original px; NaN when the frame shows no evidence) and the
reason when it is NaN. Exit code 0 when every pair passes, 1 when one fails, 2 when the folder
holds no pairs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from lenscore.context import ImageContext
from lenscore.metrics import focus

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "defocus-pairs"
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def load_rgb(path: Path) -> np.ndarray:
    """float32 sRGB in [0, 1], decoded by lenscore (EXIF orientation, ICC) or Pillow."""
    try:
        from lenscore.datasets.decode import decode_image
    except ImportError:  # pragma: no cover - decoder not available
        from PIL import Image

        return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0
    return decode_image(path).rgb


def find_pairs(folder: Path) -> list[tuple[str, Path, Path]]:
    files = {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in SUFFIXES}
    pairs = []
    for stem, path in files.items():
        if stem.endswith("_S") and stem[:-2] + "_F" in files:
            pairs.append((stem[:-2], path, files[stem[:-2] + "_F"]))
    return pairs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    args = ap.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"no such folder: {args.data_dir}", file=sys.stderr)
        return 2
    pairs = find_pairs(args.data_dir)
    if not pairs:
        print(f"no <scene>_S / <scene>_F pairs in {args.data_dir}", file=sys.stderr)
        return 2
    head = (f"{'scene':<24} {'sharpness S':>12} {'sharpness F':>12} {'ratio':>7}  "
            f"{'blur S px':>9} {'blur F px':>9}  verdict")
    print(f"focus.sharpness ({focus.FAMILY.output('sharpness').unit}), focus family "
          f"v{focus.FAMILY.version}")
    print(head)
    print("-" * len(head))
    failed = 0
    for scene, s_path, f_path in pairs:
        cs, cf = ImageContext(load_rgb(s_path)), ImageContext(load_rgb(f_path))
        rs, rf = cs.result("focus").values, cf.result("focus").values
        s, f = rs["focus.sharpness"], rf["focus.sharpness"]
        ok = bool(np.isfinite(s) and np.isfinite(f) and s > f)
        failed += not ok
        print(f"{scene:<24} {s:>12.1f} {f:>12.1f} {s / f:>7.1f}  "
              f"{rs['focus.background_blur_px']:>9.1f} {rf['focus.background_blur_px']:>9.1f}  "
              f"{'PASS' if ok else 'FAIL'}")
    print(f"{len(pairs) - failed}/{len(pairs)} pairs pass")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
