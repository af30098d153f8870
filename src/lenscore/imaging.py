"""Small pure array functions shared by every metric family (no I/O, no state).

Conventions: images are float32 in [0, 1]; RGB arrays are H x W x 3 in R, G, B order
(not OpenCV's BGR); "gray" is BT.709 luma of the sRGB-encoded values, "luminance" is
CIE Y of linear light.
"""

from __future__ import annotations

import cv2
import numpy as np

#: BT.709 / sRGB luminance weights (CIE Y of linear sRGB primaries).
REC709 = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)

#: linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375],
     [0.2126729, 0.7151522, 0.0721750],
     [0.0193339, 0.1191920, 0.9503041]], dtype=np.float32)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """sRGB EOTF (IEC 61966-2-1): encoded values in [0, 1] -> linear light in [0, 1]."""
    rgb = np.asarray(rgb, dtype=np.float32)
    base = (rgb + np.float32(0.055)) * np.float32(1 / 1.055)
    # cv2.pow on float32 is ~1.5x faster than numpy's ** (same values within 3e-7); it wants >= 2-D
    curve = cv2.pow(base, 2.4).reshape(rgb.shape) if rgb.ndim >= 2 else base ** np.float32(2.4)
    return np.where(rgb <= 0.04045, rgb * np.float32(1 / 12.92), curve).astype(np.float32, copy=False)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """Inverse sRGB EOTF: linear light in [0, 1] -> encoded values in [0, 1] (clipped)."""
    lin = np.clip(np.asarray(lin, dtype=np.float32), 0.0, 1.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055).astype(np.float32)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Weighted sum of the channels with BT.709 weights (works on encoded or linear RGB)."""
    return (np.asarray(rgb, dtype=np.float32) @ REC709).astype(np.float32)


def linear_to_xyz(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB (D65) -> CIE XYZ, any leading shape, last axis 3."""
    return (np.asarray(lin, dtype=np.float32) @ SRGB_TO_XYZ.T).astype(np.float32)


def resize_long_side(img: np.ndarray, long_side: int) -> np.ndarray:
    """Resize so the longer side is ``long_side`` px (area filter down, cubic up)."""
    h, w = img.shape[:2]
    scale = long_side / max(h, w)
    if abs(scale - 1.0) < 1e-9:
        return img
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    out = cv2.resize(img, size, interpolation=interp)
    return np.clip(out, 0.0, 1.0) if out.dtype.kind == "f" else out


#: Immerkaer's (1996) noise kernel: the difference of two Laplacians, blind to planes and ramps.
IMMERKAER_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float32)
#: E|I * M| = 6 sigma sqrt(2/pi) for white noise of std sigma: sigma = this x E|I * M|.
IMMERKAER_SCALE = float(np.sqrt(np.pi / 2.0) / 6.0)


def immerkaer_response(gray: np.ndarray) -> np.ndarray:
    """``|I * M|`` per pixel, M = :data:`IMMERKAER_KERNEL` (float32, reflected borders): its mean
    over flat areas times :data:`IMMERKAER_SCALE` is the noise std (Immerkaer 1996)."""
    g = np.asarray(gray, dtype=np.float32)
    return np.abs(cv2.filter2D(g, cv2.CV_32F, IMMERKAER_KERNEL, borderType=cv2.BORDER_REFLECT))


def immerkaer_noise_sigma(gray: np.ndarray) -> float:
    """Standard deviation of additive white noise, whole image.

    sigma = sqrt(pi/2) / (6 (W-2)(H-2)) * sum |I * M| over the interior,
    M = [[1,-2,1],[-2,4,-2],[1,-2,1]]. Returns NaN for images smaller than 3x3.

    References
    ----------
    .. [1] J. Immerkaer, "Fast noise variance estimation", Computer Vision and Image
       Understanding 64(2), 300-302, 1996. https://doi.org/10.1006/cviu.1996.0060

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(immerkaer_noise_sigma(0.5 + 0.02 * rng.standard_normal((256, 256))), 3)
    0.02
    """
    g = np.asarray(gray, dtype=np.float32)
    h, w = g.shape[:2]
    if h < 3 or w < 3:
        return float("nan")
    resp = immerkaer_response(g)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2.0) * resp.sum(dtype=np.float64) / (6.0 * (w - 2) * (h - 2)))


def tile_blocks(a: np.ndarray, t: int) -> np.ndarray:
    """The whole ``t`` x ``t`` tiles of a 2-D array as (rows, cols, t * t) (a copy; what is
    left at the right and bottom edges is not a tile). Empty tiles axis when smaller than t.

    Examples
    --------
    >>> tile_blocks(np.arange(20).reshape(4, 5), 2)[1, 0].tolist()
    [10, 11, 15, 16]
    """
    a = np.asarray(a)
    ny, nx = a.shape[0] // t, a.shape[1] // t
    return a[:ny * t, :nx * t].reshape(ny, t, nx, t).swapaxes(1, 2).reshape(ny, nx, t * t)


#: JPEG's 8 x 8 block grid shows when the differences across one column (and one row) phase
#: of 8 exceed the other phases' median by this share on both axes: renders with noise then JPEG
#: below q90 read 0.24-2.3 (23 of 23), q90-95 0.01-0.4; without JPEG most read 0.003-0.12, but a
#: noise-free render's periodic wall or 8-bit banded gradient up to 0.6 (4 of 40 above 0.15). A
#: false grid only makes the skin family try its band-noise estimate, which then finds no noise.
JPEG_GRID_MIN = 0.2


def jpeg_grid_strength(gray: np.ndarray) -> float:
    """How strongly ``gray`` shows JPEG's 8 x 8 block grid: per axis, the mean absolute
    difference between neighbouring pixels folded by position mod 8, the largest phase over the
    median of the other seven, minus 1; the smaller of the two axes (a grid is on both; a
    texture periodic along one axis is not). 0 for an image that never went through JPEG (or
    was resized after it), NaN below 32 x 32 px. Compare with :data:`JPEG_GRID_MIN`.

    Cf. Fan & de Queiroz, "Identification of bitmap compression history: JPEG detection and
    quantizer estimation", IEEE TIP 12(2), 2003 (https://doi.org/10.1109/TIP.2002.807361).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> g = rng.uniform(0.3, 0.7, (64, 64)).astype(np.float32)
    >>> round(jpeg_grid_strength(g), 1)
    0.0
    >>> blocks = np.kron(rng.uniform(0.3, 0.7, (8, 8)), np.ones((8, 8))) + 0.01 * g
    >>> jpeg_grid_strength(blocks) > JPEG_GRID_MIN
    True
    """
    g = np.asarray(gray, dtype=np.float32)
    if g.ndim != 2 or min(g.shape) < 32:
        return float("nan")
    out = []
    st = 2 if min(g.shape) >= 256 else 1        # every second line is enough for a large image
    for d in (np.abs(g[::st, 1:] - g[::st, :-1]).mean(axis=0, dtype=np.float64),
              np.abs(g[1:, ::st] - g[:-1, ::st]).mean(axis=1, dtype=np.float64)):
        n = (d.size // 8) * 8
        m = d[:n].reshape(-1, 8).mean(axis=0)
        p = int(np.argmax(m))
        rest = float(np.median(np.delete(m, p)))
        out.append(float(m[p] / rest - 1.0) if rest > 0 else (0.0 if m[p] == 0 else float("inf")))
    return float(min(out))


def skin_colour_map(rgb: np.ndarray, *, cr: tuple[int, int], cb: tuple[int, int],
                    min_y: int | None = None) -> np.ndarray:
    """The YCrCb skin-colour model (Chai & Ngan 1999): True where Cr and Cb (8-bit, BT.601 as
    OpenCV computes them) lie in the boxes ``cr`` and ``cb`` (inclusive), and Y >= ``min_y`` if
    given. ``rgb``: sRGB, R, G, B order, float in [0, 1] or uint8. Chai & Ngan's own box is
    Cr 133-173, Cb 77-127; callers state the box they use.

    References
    ----------
    .. [1] D. Chai and K. N. Ngan, "Face segmentation using skin-color map in videophone
       applications", IEEE TCSVT 9(4), 551-564, 1999. https://doi.org/10.1109/76.767122
    """
    a = np.asarray(rgb)
    u8 = a if a.dtype == np.uint8 else \
        np.clip(a.astype(np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ycc = cv2.cvtColor(u8, cv2.COLOR_RGB2YCrCb)  # channels Y, Cr, Cb
    c_r, c_b = ycc[..., 1], ycc[..., 2]
    out = (c_r >= cr[0]) & (c_r <= cr[1]) & (c_b >= cb[0]) & (c_b <= cb[1])
    if min_y is not None:
        out &= ycc[..., 0] >= min_y
    return out


def box_to_mask(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of ``shape`` (H, W) that is True inside ``box`` = (x, y, w, h), clipped."""
    x, y, bw, bh = (int(round(v)) for v in box)
    mask = np.zeros(shape[:2], dtype=bool)
    mask[max(0, y):max(0, y + bh), max(0, x):max(0, x + bw)] = True
    return mask


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of the True pixels of a 2-D mask; the whole mask when empty."""
    m = np.asarray(mask, dtype=bool)
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return (0, 0, int(m.shape[1]), int(m.shape[0]))
    return (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def scale_box(box: tuple[float, float, float, float], s: float) -> tuple[int, int, int, int]:
    """Scale an (x, y, w, h) box by ``s`` and round to whole pixels."""
    return tuple(int(round(v * s)) for v in box)  # type: ignore[return-value]
