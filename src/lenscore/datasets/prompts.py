"""Reading the prompt (and seed) that generated an image from the file's own metadata.

Sources, in order: Automatic1111's PNG ``parameters`` text; ComfyUI's PNG ``prompt`` graph
(API-format JSON: the text of the CLIPTextEncode-like nodes that feed a sampler's positive
conditioning, negatives left out); EXIF ImageDescription / UserComment; XMP dc:description.
Pure functions on the text dictionary that :func:`lenscore.datasets.decode.decode_image` returns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PromptInfo:
    prompt: str | None
    seed: str | None
    source: str | None  # 'a1111', 'comfyui', 'exif', 'xmp' or None


def prompt_from_text(text: dict[str, str]) -> PromptInfo:
    """The prompt and seed recorded in an image's metadata, or ``PromptInfo(None, None, None)``."""
    if text.get("parameters"):
        p, s = parse_a1111(text["parameters"])
        if p:
            return PromptInfo(p, s, "a1111")
    if text.get("prompt"):
        try:
            graph = json.loads(text["prompt"])
        except (ValueError, TypeError):
            graph = None
        if isinstance(graph, dict):
            p, s = parse_comfyui(graph)
            if p:
                return PromptInfo(p, s, "comfyui")
    for key, src in (("exif_description", "exif"), ("exif_user_comment", "exif"),
                     ("xmp_description", "xmp"), ("Description", "png"), ("Comment", "png")):
        v = (text.get(key) or "").strip()
        if v and _looks_like_prose(v):
            return PromptInfo(v, None, src)
    return PromptInfo(None, None, None)


def _looks_like_prose(s: str) -> bool:
    """Descriptions also carry machine data (a JSON edit history, landmark coordinates):
    a prompt is not JSON and is mostly letters."""
    if _is_json(s):
        return False
    visible = [c for c in s if not c.isspace()]
    return bool(visible) and sum(c.isalpha() for c in visible) >= 0.5 * len(visible)


def _is_json(s: str) -> bool:
    if s[:1] not in "[{":
        return False
    try:
        json.loads(s)
    except ValueError:
        return False
    return True


_A1111_SEED = re.compile(r"(?:^|,\s*)Seed:\s*(\d+)")


def parse_a1111(parameters: str) -> tuple[str | None, str | None]:
    """Split Automatic1111's ``parameters`` text into (prompt, seed)."""
    lines = parameters.strip().splitlines()
    settings = ""
    if lines and lines[-1].lstrip().startswith("Steps:"):
        settings = lines.pop()
    prompt_lines: list[str] = []
    for line in lines:
        if line.startswith("Negative prompt:"):
            break
        prompt_lines.append(line)
    prompt = "\n".join(prompt_lines).strip() or None
    m = _A1111_SEED.search(settings)
    return prompt, (m.group(1) if m else None)


_TEXT_KEYS = ("text", "text_g", "text_l", "prompt", "positive")
_SEED_KEYS = ("seed", "noise_seed")


def _is_link(v: object) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], (str, int))


def parse_comfyui(graph: dict) -> tuple[str | None, str | None]:
    """(prompt, seed) from a ComfyUI API-format graph.

    Walks back from every sampler node through all inputs except ``negative`` and collects the
    text of the text-encode nodes reached. With no sampler in the graph, every text-encode node
    not fed only into a ``negative`` input is used.
    """
    nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict)}

    def inputs(nid: str) -> dict:
        ins = nodes.get(nid, {}).get("inputs", {})
        return ins if isinstance(ins, dict) else {}

    def walk(starts: list[str]) -> list[str]:
        seen: list[str] = []
        stack = list(reversed(starts))
        while stack:
            nid = stack.pop()
            if nid in seen or nid not in nodes:
                continue
            seen.append(nid)
            for name, v in inputs(nid).items():
                if name != "negative" and _is_link(v):
                    stack.append(str(v[0]))
        return seen

    def is_text_node(nid: str) -> bool:
        ct = str(nodes[nid].get("class_type", ""))
        return "TextEncode" in ct or "PromptText" in ct

    def text_of(nid: str) -> str | None:
        for key in _TEXT_KEYS:
            v = inputs(nid).get(key)
            if isinstance(v, str):
                return v
            if _is_link(v):  # text from a primitive/string node
                for vv in inputs(str(v[0])).values():
                    if isinstance(vv, str):
                        return vv
        return None

    samplers = sorted((n for n in nodes if "Sampler" in str(nodes[n].get("class_type", ""))),
                      key=_node_order)
    reached = walk(samplers) if samplers else []
    text_nodes = [n for n in reached if is_text_node(n)]
    if not text_nodes:
        negatives = {str(v[0]) for n in nodes for k, v in inputs(n).items()
                     if k == "negative" and _is_link(v)}
        text_nodes = sorted((n for n in nodes if is_text_node(n) and n not in negatives),
                            key=_node_order)
    texts: list[str] = []
    for n in text_nodes:
        t = (text_of(n) or "").strip()
        if t and t not in texts:
            texts.append(t)
    seed = None
    for n in reached or sorted(nodes, key=_node_order):
        for key in _SEED_KEYS:
            v = inputs(n).get(key)
            if isinstance(v, int) and not isinstance(v, bool):
                seed = str(v)
                break
        if seed is not None:
            break
    return (" | ".join(texts) or None), seed


def _node_order(nid: str) -> tuple[int, str]:
    return (int(nid), nid) if nid.isdigit() else (1 << 60, nid)


# ---- writing ----------------------------------------------------------------------------------
def format_a1111(prompt: str, *, seed: int | str | None = None, negative: str | None = None,
                 size: tuple[int, int] | None = None, model: str | None = None,
                 steps: int = 1, sampler: str | None = None) -> str:
    """Automatic1111's ``parameters`` text: the prompt, an optional ``Negative prompt:`` line and
    the settings line (``Steps: ..., Seed: ..., Size: WxH, Model: ...``) that
    :func:`parse_a1111` and other A1111 readers expect (they key on the line starting
    ``Steps:``)."""
    lines = [prompt.strip()]
    if negative:
        lines.append(f"Negative prompt: {negative.strip()}")
    settings = [f"Steps: {int(steps)}"]
    if sampler:
        settings.append(f"Sampler: {sampler}")
    if seed is not None and str(seed).strip():
        settings.append(f"Seed: {seed}")
    if size is not None:
        settings.append(f"Size: {int(size[0])}x{int(size[1])}")
    if model:
        settings.append(f"Model: {model}")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def png_with_text(png: bytes, key: str, text: str) -> bytes:
    """``png`` with a text chunk ``key`` = ``text`` inserted right after IHDR (before the image
    data, where every reader looks): ``tEXt`` when the text is Latin-1, else ``iTXt`` (UTF-8),
    as Pillow and Automatic1111 write them. The pixels are not re-encoded."""
    import struct
    import zlib

    sig = b"\x89PNG\r\n\x1a\n"
    if png[:8] != sig or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file (no signature and IHDR chunk at the start)")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    try:
        ctype, body = b"tEXt", key.encode("latin-1") + b"\x00" + text.encode("latin-1")
    except UnicodeEncodeError:
        ctype = b"iTXt"
        body = key.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
    chunk = (struct.pack(">I", len(body)) + ctype + body
             + struct.pack(">I", zlib.crc32(ctype + body) & 0xFFFFFFFF))
    return png[:ihdr_end] + chunk + png[ihdr_end:]
