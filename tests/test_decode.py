"""Decoding: what real files bring, and what must become a clear error."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from lenscore.datasets.decode import decode_image
from lenscore.errors import InputError

from conftest import write_png


def _rgb8(h=32, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_rgb_png_round_trips_exactly(tmp_path):
    arr = _rgb8()
    d = decode_image(write_png(tmp_path / "a.png", arr))
    assert d.rgb.dtype == np.float32 and d.rgb.shape == (32, 48, 3)
    np.testing.assert_allclose(d.rgb, arr / 255.0, atol=1e-6)
    assert (d.width, d.height) == (48, 32)


def test_16bit_grayscale_keeps_its_precision(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    d = decode_image(write_png(tmp_path / "g16.png", ramp))
    assert d.bit_depth == 16
    np.testing.assert_allclose(d.rgb[..., 0], ramp / 65535.0, atol=1e-6)
    assert np.array_equal(d.rgb[..., 0], d.rgb[..., 2])


def test_palette_with_transparency_is_composited_and_said(tmp_path):
    im = Image.new("P", (16, 16), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.paste(1, (0, 0, 8, 16))
    im.info["transparency"] = 0
    p = tmp_path / "pal.png"
    im.save(p, transparency=0)
    d = decode_image(p)
    np.testing.assert_allclose(d.rgb[0, 0], [0, 0, 1], atol=1e-6)        # opaque blue
    np.testing.assert_allclose(d.rgb[0, 15], [1, 1, 1], atol=1e-6)       # transparent -> white
    assert any("transparent" in n for n in d.notes)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    p = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(p)   # pure red in CMYK
    d = decode_image(p)
    assert d.rgb.shape == (10, 20, 3)
    r, g, b = d.rgb[5, 10]
    assert r > 0.9 and g < 0.1 and b < 0.1


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 30, 3), np.uint8)
    arr[:, :5] = 255                                   # bright stripe on the left
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6                                   # rotate 90 CW on display
    p = tmp_path / "rot.jpg"
    im.save(p, exif=exif, quality=95)
    d = decode_image(p)
    assert d.rgb.shape[:2] == (30, 10)
    assert d.rgb[:5].mean() > 0.8 and d.rgb[-5:].mean() < 0.2   # stripe now on top
    assert any("orientation" in n for n in d.notes)


def test_icc_profile_is_converted_to_srgb(tmp_path):
    from PIL import ImageCms

    # An embedded sRGB profile must leave the pixels exactly as they are.
    arr = _rgb8(8, 8)
    p = tmp_path / "srgb.png"
    prof = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    Image.fromarray(arr).save(p, icc_profile=prof.tobytes())
    d = decode_image(p)
    np.testing.assert_allclose(d.rgb, arr / 255.0, atol=1e-6)


def test_animated_gif_uses_first_frame_and_says_so(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 255, 0))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    d = decode_image(p)
    assert d.rgb[0, 0, 0] > 0.9 and d.rgb[0, 0, 1] < 0.1
    assert any("first frame" in n for n in d.notes)


@pytest.mark.parametrize("make,fragment", [
    (lambda p: p.write_bytes(b""), "empty file"),
    (lambda p: p.write_text("this is not an image\n"), "not an image"),
    (lambda p: p.write_bytes(_png_bytes()[:300]), "truncated"),
])
def test_bad_files_raise_a_clear_input_error(tmp_path, make, fragment):
    p = tmp_path / "bad.png"
    make(p)
    with pytest.raises(InputError, match=fragment):
        decode_image(p)


def test_truncated_jpeg_is_an_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_rgb8(64, 64)).save(buf, "JPEG", quality=90)
    p = tmp_path / "cut.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(InputError, match="truncated"):
        decode_image(p)


def _png_bytes(h=64, w=64):
    buf = io.BytesIO()
    Image.fromarray(_rgb8(h, w)).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(w: int, h: int) -> bytes:
    """A tiny PNG whose header claims w x h pixels (gray, 1 bit): a decompression bomb."""
    def chunk(t: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + t + data + struct.pack(">I", zlib.crc32(t + data))
    raw = zlib.compress(b"\x00" * (1 + (w + 7) // 8) * 1, 9)  # only the first row: cheap
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    p = tmp_path / "bomb.png"
    p.write_bytes(_bomb_png(20000, 20000))  # 400 megapixels claimed
    with pytest.raises(InputError, match="megapixels.*--max-pixels"):
        decode_image(p)


def test_max_pixels_is_configurable(tmp_path):
    p = write_png(tmp_path / "a.png", _rgb8(20, 20))
    with pytest.raises(InputError, match="over the limit"):
        decode_image(p, max_pixels=100)
    assert decode_image(p, max_pixels=400).rgb.shape == (20, 20, 3)


def test_png_text_chunks_are_returned(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a portrait\nSteps: 20, Seed: 42")
    p = tmp_path / "t.png"
    Image.fromarray(_rgb8(8, 8)).save(p, pnginfo=info)
    assert decode_image(p).text["parameters"].startswith("a portrait")


def _linear_srgb_icc() -> bytes:
    """A minimal ICC v2 matrix/TRC profile: sRGB primaries with a linear (gamma 1) curve."""
    def s15(v: float) -> bytes:
        return struct.pack(">i", int(round(v * 65536)))

    def xyz(x, y, z):
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    desc_text = b"Linear RGB test\0"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_text)) + desc_text
            + b"\0" * 4 + b"\0" * 4 + b"\0" * 2 + b"\0" + b"\0" * 67)
    curv = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", 256) + b"\0\0"
    # D50-adapted sRGB primaries (as in the standard sRGB ICC profile)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)), (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
            (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"rTRC", curv), (b"gTRC", curv), (b"bTRC", curv)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        while (offset + len(data)) % 4:
            data += b"\0"
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    body = struct.pack(">I", len(tags)) + table + data
    size = 128 + len(body)
    header = (struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x02100000) + b"mntr"
              + b"RGB " + b"XYZ " + b"\0" * 12 + b"acsp" + b"\0" * 4 + b"\0" * 4
              + b"\0" * 8 + b"\0" * 8 + b"\0" * 4 + s15(0.9642) + s15(1.0) + s15(0.8249)
              + b"\0" * 4 + b"\0" * 16 + b"\0" * 28)
    assert len(header) == 128
    return header + body


def test_non_srgb_icc_profile_is_converted_and_said(tmp_path):
    arr = np.full((8, 8, 3), 128, np.uint8)      # 0.502 in *linear* light under this profile
    p = tmp_path / "linear.png"
    Image.fromarray(arr).save(p, icc_profile=_linear_srgb_icc())
    d = decode_image(p)
    assert any("converted to sRGB" in n for n in d.notes)
    # linear 0.502 is sRGB-encoded 0.735: the pixels were really transformed
    np.testing.assert_allclose(d.rgb[0, 0], [0.735] * 3, atol=0.02)
