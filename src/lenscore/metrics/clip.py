"""clip: does the picture say what the prompt asked for? (optional extra ``lenscore[clip]``)

Method
------
Image and text embeddings from an OpenCLIP model (Radford et al. 2021, "Learning Transferable
Visual Models From Natural Language Supervision"; Cherti et al. 2023, OpenCLIP), compared by cosine
similarity of the L2-normalised embeddings.

Outputs
-------
``clip.prompt_alignment``
    CLIPScore (Hessel et al. 2021, "CLIPScore: A Reference-free Evaluation Metric for Image
    Captioning"), on the **0..100 scale used by torchmetrics: 100 * max(cos, 0)**. Hessel et al.
    report CLIP-S = 2.5 * max(cos, 0); divide ours by 40 to get theirs. With trained ViT-B-32
    weights, a matching image-caption pair typically scores about 25-35 and an unrelated one
    about 10-20: the scale is compressed, so compare variants, never read it as a percentage.
    NaN (with a reason) when the image has no prompt.
``clip.probe_<name>``
    Zero-shot optics probes: a pair of captions (positive, negative) in the article's vocabulary;
    the value is the softmax probability of the positive caption against the negative one,
    ``sigmoid(s * (cos_pos - cos_neg))`` with ``s`` the model's own learned logit scale (100 for
    trained OpenAI/LAION CLIP), in 0..1; 0.5 = the model cannot tell. Users add probes with
    ``load_clip(probes={...})`` (``clip.probes`` in a config).

Summary (per variant, not per image): :func:`diversity`, the mean pairwise cosine distance of
the image embeddings (does a prompt collapse to one picture?), and :func:`alignment_margin`,
the CLIPScore margin over a shuffled-prompt null.

Long prompts
------------
CLIP's text encoder reads at most ``context_length`` tokens (77 with start and end markers).
A longer prompt is never cut silently: with ``long_prompts="split"`` (default) it is split at
phrase boundaries (commas, full stops; words if a phrase is itself too long) into chunks that
fit, each chunk is embedded, and the chunk embeddings are averaged weighted by their token
counts, then re-normalised; ``long_prompts="truncate"`` keeps the first 77 tokens. Either way
the row's notes say so ("prompt longer than 77 tokens (93): split into 2 chunks and averaged").

Artifacts (per image)
---------------------
``embedding``      float32 (D,) L2-normalised image embedding (for diversity and the margin).
``text_embedding`` float32 (D,) L2-normalised prompt embedding, or None without a prompt.
``cosine``         raw cosine image-prompt (NaN without a prompt).
``prompt_tokens``  token count of the prompt including start/end markers (0 without a prompt).
``prompt_chunks``  how many chunks the prompt was embedded as (1 when it fits).

Weights and offline use
-----------------------
Nothing here downloads. ``pretrained`` is a path to a local checkpoint (``torch.save`` of a
state dict, ``.bin``/``.pt``/``.safetensors``), or an open_clip tag whose file is already in the
Hugging Face cache (resolved with the hub in offline mode, so a miss fails fast). No weights ->
:class:`ClipUnavailable`, whose one-line message says how to provide them.

torch and open_clip are imported only inside :func:`load_clip` (never at module import).
:class:`ClipPreprocess` (what worker processes run, via :meth:`ClipScorer.prepare`) needs only
numpy and Pillow.

References
----------
.. [1] A. Radford et al., "Learning transferable visual models from natural language
   supervision", ICML 2021. https://arxiv.org/abs/2103.00020
.. [2] M. Cherti et al., "Reproducible scaling laws for contrastive language-image learning",
   CVPR 2023. https://arxiv.org/abs/2212.07143
.. [3] J. Hessel, A. Holtzman, M. Forbes, R. Le Bras, Y. Choi, "CLIPScore: a reference-free
   evaluation metric for image captioning", EMNLP 2021.
   https://doi.org/10.18653/v1/2021.emnlp-main.595
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from lenscore.errors import ConfigError, InputError, LenscoreError, MissingDependencyError, UsageError
from lenscore.metrics.base import MetricFamily, MetricResult, Output, register

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.context import ImageContext

FAMILY_NAME = "clip"
VERSION = "1"

#: name -> (positive caption, negative caption); each gives the output ``clip.probe_<name>``.
#: Captions are taken from the seed article's vocabulary (bokeh orbs vs blur, pores and sebum vs
#: plastic skin, Kelvin-specified mixed light vs flat light, 85 mm shallow depth of field).
DEFAULT_PROBES: dict[str, tuple[str, str]] = {
    "bokeh_orbs": ("circular bokeh orbs", "gaussian blurred background"),
    "skin_texture": ("visible skin pores, natural sebum reflection", "airbrushed plastic skin"),
    "mixed_light": ("warm sodium vapour and cool LED light", "neutral flat lighting"),
    "shallow_dof": ("85mm portrait with shallow depth of field",
                    "wide-angle photo, everything in focus"),
}

#: the score scale, stated once (docs, summary.json, metadata).
SCORE_SCALE = "CLIPScore = 100 * max(cos, 0) (Hessel et al. 2021 CLIP-S = 2.5 * max(cos, 0) = ours / 40)"

LONG_PROMPT_MODES = ("split", "truncate")

NO_WEIGHTS_HINT = ("pass --clip-pretrained PATH to a local checkpoint, or a tag already in your "
                   "open_clip/Hugging Face cache (HF_HOME/HF_HUB_CACHE); lenscore never downloads weights")

#: prompt embeddings kept per scorer (many images share a prompt: one per seed).
_TEXT_CACHE_MAX = 4096
_PROBE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_TV_MISSING_OP = "operator torchvision::nms does not exist"


class ClipUnavailable(LenscoreError):
    """The clip family cannot run (no usable weights). ``str(e)`` is one line saying how to fix it."""

    def __init__(self, reason: str):
        one_line = " ".join(str(reason).split())
        super().__init__(one_line)
        self.reason = one_line


# ----------------------------------------------------------------------------------------------
# Outputs and the registered family
# ----------------------------------------------------------------------------------------------

def _outputs(probes: Mapping[str, tuple[str, str]]) -> tuple[Output, ...]:
    outs = [Output(
        "clip.prompt_alignment", "CLIPScore (100*cos)", "higher", (0.0, 100.0),
        "CLIPScore of the image against its prompt: 100 * max(cosine, 0) of CLIP embeddings "
        "(Hessel et al. 2021; theirs = ours / 40). Trained ViT-B-32: ~25-35 for a matching "
        "caption. NaN without a prompt.")]
    for name, (pos, neg) in probes.items():
        outs.append(Output(
            f"clip.probe_{name}", "probability", "higher", (0.0, 1.0),
            f"Zero-shot probability that CLIP prefers '{pos}' over '{neg}' (0.5 = undecided)."))
    return tuple(outs)


def parse_probes(probes: Mapping[str, Any] | None, *, include_defaults: bool = True,
                 source: str | None = None) -> dict[str, tuple[str, str]]:
    """Validate user probes (``{name: [positive, negative]}`` or ``{name: {positive:, negative:}}``)
    and merge them over :data:`DEFAULT_PROBES` (a user probe with a default's name replaces it).

    Raises
    ------
    ConfigError
        A name that is not lower_snake_case or captions that are not two non-empty strings.
    """
    out: dict[str, tuple[str, str]] = dict(DEFAULT_PROBES) if include_defaults else {}
    if probes is None:
        return out
    if not isinstance(probes, Mapping):
        raise ConfigError(f"clip probes must be a mapping of name -> [positive, negative], "
                          f"got {type(probes).__name__}", source=source)
    for name, spec in probes.items():
        if not isinstance(name, str) or not _PROBE_NAME.match(name):
            raise ConfigError(f"clip probe name {name!r} must be lower_snake_case (a-z, 0-9, _; "
                              f"starting with a letter, at most 40 characters), e.g. 'rim_light'",
                              source=source)
        if isinstance(spec, Mapping):
            pair = (spec.get("positive"), spec.get("negative"))
        elif isinstance(spec, (list, tuple)) and len(spec) == 2:
            pair = (spec[0], spec[1])
        else:
            pair = (None, None)
        if not all(isinstance(c, str) and c.strip() for c in pair):
            raise ConfigError(f"clip probe '{name}' needs two non-empty captions, "
                              f"[positive, negative] or {{positive: ..., negative: ...}}; got {spec!r}",
                              source=source)
        if pair[0].strip() == pair[1].strip():
            raise ConfigError(f"clip probe '{name}': the positive and negative captions are the same "
                              f"({pair[0]!r}); a probe compares two different captions", source=source)
        out[name] = (pair[0].strip(), pair[1].strip())
    return out


def _unloaded_compute(ctx: "ImageContext") -> MetricResult:
    return FAMILY.nan_result("clip runs only with a model: pass --clip-model and --clip-pretrained "
                             "(lenscore.metrics.clip.load_clip)")


def _family(probes: Mapping[str, tuple[str, str]], compute: Callable[["ImageContext"], MetricResult],
            params: Mapping[str, Any]) -> MetricFamily:
    return MetricFamily(
        name=FAMILY_NAME, version=VERSION,
        method="OpenCLIP embeddings (Radford et al. 2021; Cherti et al. 2023): CLIPScore (Hessel et "
               "al. 2021) on the 100*max(cos,0) scale and zero-shot caption-pair probes",
        outputs=_outputs(probes), compute=compute, params=dict(params), extra="clip", default=False,
        title="Prompt alignment (CLIP)", headline=("clip.prompt_alignment",), order=90)


# ----------------------------------------------------------------------------------------------
# Pure functions (numpy only)
# ----------------------------------------------------------------------------------------------

def clip_score(cosine: np.ndarray | float) -> np.ndarray | float:
    """CLIPScore on the 0..100 scale: ``100 * max(cos, 0)`` (Hessel et al. 2021, times 40).

    NaN stays NaN.

    Examples
    --------
    >>> float(clip_score(0.3))
    30.0
    >>> float(clip_score(-0.2))
    0.0
    """
    c = np.asarray(cosine, dtype=np.float64)
    out = 100.0 * np.where(np.isnan(c), np.nan, np.maximum(c, 0.0))
    return float(out) if out.ndim == 0 else out


def probe_probability(cos_positive: np.ndarray | float, cos_negative: np.ndarray | float, *,
                      logit_scale: float) -> np.ndarray | float:
    """Zero-shot two-way softmax: P(positive) = sigmoid(s * (cos_pos - cos_neg)), in 0..1.

    Radford et al. 2021 (zero-shot classification with the learned temperature ``s``).
    """
    d = logit_scale * (np.asarray(cos_positive, dtype=np.float64) - np.asarray(cos_negative, dtype=np.float64))
    p = 0.5 * (1.0 + np.tanh(0.5 * d))  # numerically stable sigmoid
    return float(p) if np.ndim(p) == 0 else p


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x / n


def diversity(embeddings: np.ndarray) -> float:
    """Mean pairwise cosine distance (1 - cos) between image embeddings, in 0..2.

    0 means every image is the same picture to CLIP (the prompt collapsed to one image); random
    unrelated photographs sit around 0.4-0.6 with trained ViT-B-32. Rows with non-finite values or
    zero norm are ignored; fewer than two usable rows -> NaN.

    Parameters
    ----------
    embeddings : array (N, D)
        Image embeddings (normalised or not: rows are normalised here).

    Examples
    --------
    >>> diversity(np.array([[1.0, 0.0], [0.0, 1.0]]))
    1.0
    """
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2:
        raise InputError(f"diversity expects an (N, D) array of embeddings, got shape {e.shape}")
    e = _unit_rows(e)
    e = e[np.all(np.isfinite(e), axis=1)]
    n = len(e)
    if n < 2:
        return math.nan
    gram = np.clip(e @ e.T, -1.0, 1.0)
    iu = np.triu_indices(n, k=1)
    return float(np.mean(1.0 - gram[iu]))


def alignment_margin(image_embeddings: np.ndarray, text_embeddings: np.ndarray,
                     prompts: Sequence[str]) -> float:
    """CLIPScore margin over a shuffled-prompt null (PRIOR-ART item 9), in CLIPScore points.

    For each image: its CLIPScore with its own prompt minus its mean CLIPScore with the prompts of
    the images that were given a *different* prompt; averaged over images. A model that "sees" the
    prompt scores > 0; ~0 means the alignment numbers carry no prompt-specific signal. NaN when
    fewer than two distinct prompts are present.
    """
    img = _unit_rows(np.asarray(image_embeddings, dtype=np.float64))
    txt = _unit_rows(np.asarray(text_embeddings, dtype=np.float64))
    if img.ndim != 2 or txt.shape != img.shape or len(prompts) != len(img):
        raise InputError(f"alignment_margin expects matching (N, D) image and text embeddings and N "
                         f"prompts; got {img.shape}, {txt.shape} and {len(prompts)} prompts")
    prompts = np.asarray([p if p is not None else "" for p in prompts], dtype=object)
    ok = np.all(np.isfinite(img), axis=1) & np.all(np.isfinite(txt), axis=1) & (prompts != "")
    img, txt, prompts = img[ok], txt[ok], prompts[ok]
    if len(set(prompts.tolist())) < 2:
        return math.nan
    scores = 100.0 * np.maximum(img @ txt.T, 0.0)  # [i, j] = image i against prompt of image j
    margins = []
    for i in range(len(img)):
        other = prompts != prompts[i]
        if other.any():
            margins.append(scores[i, i] - scores[i, other].mean())
    return float(np.mean(margins))


def variant_summary(rows: Sequence[tuple[str, str | None, np.ndarray, np.ndarray | None]]
                    ) -> dict[str, dict[str, Any]]:
    """Per variant: ``n_embedded``, ``diversity`` (:func:`diversity`) and ``alignment_margin``
    (:func:`alignment_margin`, over the images that have a prompt), from
    (variant, prompt, image embedding, prompt embedding or None) rows. NaN -> None (JSON)."""
    by: dict[str, list[tuple[str | None, np.ndarray, np.ndarray | None]]] = {}
    for variant, prompt, emb, temb in rows:
        by.setdefault(str(variant), []).append((prompt, emb, temb))
    out: dict[str, dict[str, Any]] = {}
    for variant in sorted(by):
        items = by[variant]
        div = diversity(np.stack([np.asarray(e, np.float64) for _, e, _ in items]))
        with_p = [(p, e, t) for p, e, t in items if p and t is not None]
        margin = (alignment_margin(np.stack([e for _, e, _ in with_p]),
                                   np.stack([t for _, _, t in with_p]), [p for p, _, _ in with_p])
                  if with_p else math.nan)
        out[variant] = {"n_embedded": len(items),
                        "diversity": None if math.isnan(div) else round(div, 6),
                        "alignment_margin": None if math.isnan(margin) else round(margin, 4),
                        "n_prompts": len({p for p, _, _ in with_p})}
    return out


def split_prompt(text: str, count_tokens: Callable[[str], int], context_length: int) -> list[str]:
    """Split ``text`` into chunks whose token count (``count_tokens``, markers included) fits
    ``context_length``: greedily at phrase boundaries (, ; : . ! ?), then at words for a phrase that
    is itself too long. A single word longer than the context stays one (truncated) chunk.
    """
    text = " ".join(text.split())
    if not text or count_tokens(text) <= context_length:
        return [text]
    phrases = [p for p in re.split(r"(?<=[,;:.!?])\s+", text) if p]
    pieces: list[str] = []
    for ph in phrases:
        if count_tokens(ph) <= context_length:
            pieces.append(ph)
        else:
            pieces.extend(ph.split(" "))
    chunks: list[str] = []
    cur = ""
    for piece in pieces:
        cand = f"{cur} {piece}" if cur else piece
        if not cur or count_tokens(cand) <= context_length:
            cur = cand
        else:
            chunks.append(cur)
            cur = piece
    if cur:
        chunks.append(cur)
    return chunks


# ----------------------------------------------------------------------------------------------
# Image preprocessing (numpy + Pillow; what worker processes run)
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipPreprocess:
    """open_clip's evaluation preprocessing without torch: resize + crop/pad to the model's input
    size, returned as uint8 H x W x 3 (the normalisation to the model's mean/std happens in
    :meth:`ClipScorer.score`). Reproduces ``open_clip.image_transform(is_train=False)`` (torchvision
    Resize / CenterCrop / ResizeKeepRatio + CenterCropOrPad on a PIL image) for the three resize
    modes. Picklable, so worker processes can run it.
    """

    size: tuple[int, int] = (224, 224)  # (height, width)
    resize_mode: str = "shortest"  # 'shortest' (resize + center crop), 'longest' (fit + pad), 'squash'
    interpolation: str = "bicubic"
    fill_color: int = 0

    def __call__(self, image: "np.ndarray | ImageContext") -> np.ndarray:
        rgb = getattr(image, "work_rgb", image)
        return prepare_image(rgb, size=self.size, resize_mode=self.resize_mode,
                             interpolation=self.interpolation, fill_color=self.fill_color)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3:
        raise InputError(f"expected an H x W x 3 RGB image, got an array of shape {a.shape}")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype.kind != "f":
        raise InputError(f"expected float RGB in [0, 1] or uint8, got dtype {a.dtype}")
    a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    return np.ascontiguousarray(np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8))


def prepare_image(rgb: np.ndarray, *, size: tuple[int, int] = (224, 224), resize_mode: str = "shortest",
                  interpolation: str = "bicubic", fill_color: int = 0) -> np.ndarray:
    """Resize and crop (or pad) an RGB image to CLIP's input size, as open_clip's eval transform.

    Parameters
    ----------
    rgb : array H x W x 3
        float sRGB in [0, 1] (quantised to 8 bits first, as a decoded file would be) or uint8.
    size : (height, width)
    resize_mode : 'shortest' | 'longest' | 'squash'
    interpolation : 'bicubic' | 'bilinear' ('random' -> bicubic, as open_clip does at inference)

    Returns
    -------
    uint8 array (height, width, 3)
    """
    from PIL import Image

    if resize_mode not in ("shortest", "longest", "squash"):
        raise UsageError(f"resize_mode must be 'shortest', 'longest' or 'squash', got {resize_mode!r}")
    th, tw = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
    resample = Image.Resampling.BILINEAR if interpolation == "bilinear" else Image.Resampling.BICUBIC
    img = Image.fromarray(_to_uint8(rgb), mode="RGB")
    w, h = img.size
    if resize_mode == "squash":
        return np.asarray(img.resize((tw, th), resample), dtype=np.uint8)
    if resize_mode == "shortest" and th == tw:
        # torchvision Resize(int): short side -> size, long side truncated
        if w <= h:
            nw, nh = th, int(th * h / w)
        else:
            nh, nw = th, int(th * w / h)
    else:
        # ResizeKeepRatio: ratio = shortest (or longest) of h/th, w/tw; size = round(x / ratio)
        rh, rw = h / th, w / tw
        ratio = max(rh, rw) if resize_mode == "longest" else min(rh, rw)
        nh, nw = round(h / ratio), round(w / ratio)
    if (nw, nh) != (w, h):
        img = img.resize((max(1, nw), max(1, nh)), resample)
    a = np.asarray(img, dtype=np.uint8)
    # pad (CenterCropOrPad) when smaller than the target, then center crop (torchvision CenterCrop)
    h, w = a.shape[:2]
    if th > h or tw > w:
        pt, pl = max(0, (th - h) // 2), max(0, (tw - w) // 2)
        pb, pr = max(0, (th - h + 1) // 2), max(0, (tw - w + 1) // 2)
        a = np.pad(a, ((pt, pb), (pl, pr), (0, 0)), constant_values=fill_color)
        h, w = a.shape[:2]
    top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
    return np.ascontiguousarray(a[top:top + th, left:left + tw])


# ----------------------------------------------------------------------------------------------
# Lazy imports, with the torchvision fallback
# ----------------------------------------------------------------------------------------------

#: kept alive for the life of the process: a torch.library.Library deregisters when collected.
_TV_PLACEHOLDER_LIB: Any = None


def _is_missing_torchvision_op(exc: BaseException) -> bool:
    """True only for the exact failure of a CUDA torchvision on a CPU torch (see ENVIRONMENT.md)."""
    return isinstance(exc, RuntimeError) and _TV_MISSING_OP in str(exc)


def _register_torchvision_placeholders() -> None:
    """Define schemas for the torchvision ops whose fake kernels torchvision registers at import
    (nms, qnms) when its compiled extension could not load. Calling them raises a clear error;
    CLIP never calls them."""
    global _TV_PLACEHOLDER_LIB
    import torch

    if _TV_PLACEHOLDER_LIB is not None:
        return
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for op in ("nms", "qnms"):
        try:
            getattr(torch.ops.torchvision, op)
            continue  # already defined
        except (AttributeError, RuntimeError):
            pass
        lib.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

        def _unavailable(*args: Any, _op: str = op, **kwargs: Any) -> Any:
            raise RuntimeError(f"torchvision::{_op} is a placeholder registered by lenscore: this "
                               "torchvision's compiled ops do not match the installed torch")

        lib.impl(op, _unavailable, "CPU")
    _TV_PLACEHOLDER_LIB = lib


def _import_torchvision() -> tuple[Any, bool]:
    """Import torchvision; returns (module, placeholders_used). Registers placeholder ops only
    when the import fails with exactly "operator torchvision::nms does not exist"."""
    try:
        import torchvision
        return torchvision, _TV_PLACEHOLDER_LIB is not None
    except RuntimeError as e:
        if not _is_missing_torchvision_op(e):
            raise
    _register_torchvision_placeholders()
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]  # drop the half-imported package before retrying
    try:
        import torchvision
    except RuntimeError as e:
        raise MissingDependencyError("torchvision", "clip",
                                     f"The clip metric family (torchvision does not match torch: {e}; "
                                     "reinstall a torchvision built for this torch)") from e
    return torchvision, True


def _import_open_clip() -> tuple[Any, Any, bool]:
    """(torch, open_clip, torchvision_placeholders_used), or MissingDependencyError naming the extra."""
    try:
        import torch
    except ImportError as e:
        raise MissingDependencyError("torch", "clip", "The clip metric family") from e
    try:
        _, placeholders = _import_torchvision()
    except ImportError as e:
        raise MissingDependencyError("torchvision", "clip", "The clip metric family") from e
    try:
        import open_clip
    except ImportError as e:
        raise MissingDependencyError("open-clip-torch", "clip", "The clip metric family") from e
    return torch, open_clip, placeholders


@contextlib.contextmanager
def _hf_offline() -> Iterator[None]:
    """Hugging Face hub in offline mode for the duration (env var and the already-imported constant)."""
    old_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    consts, old_const = None, None
    try:
        from huggingface_hub import constants as consts  # type: ignore[no-redef]
        old_const = consts.HF_HUB_OFFLINE
        consts.HF_HUB_OFFLINE = True
    except Exception:  # hub missing or moved: the env var still applies to a fresh import
        consts = None
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env
        if consts is not None:
            consts.HF_HUB_OFFLINE = old_const


def file_sha256(path: str | os.PathLike, *, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:300]


def _looks_like_path(s: str) -> bool:
    return (os.sep in s or "/" in s or s.startswith(".") or s.startswith("~")
            or s.lower().endswith((".pt", ".pth", ".bin", ".safetensors", ".ckpt")))


def _resolve_weights(open_clip: Any, model: str, pretrained: str | None) -> tuple[str | None, str, str]:
    """-> (weights file path or None, the value to pass as ``pretrained``, source kind).

    kind: 'file' | 'cache' | 'hf-hub' | 'local-dir'. Raises ClipUnavailable / UsageError.
    """
    if model.startswith(("hf-hub:", "local-dir:")):
        return None, "", model.split(":", 1)[0]
    if model.replace("/", "-") not in open_clip.list_models():
        from lenscore.metrics.base import suggest
        raise UsageError(f"unknown CLIP model '{model}'.{suggest(model, open_clip.list_models())} "
                         f"Known: {', '.join(m for m in open_clip.list_models() if m.startswith('ViT-B'))}, ... "
                         "(python -c 'import open_clip; print(open_clip.list_models())')")
    if not pretrained:
        raise ClipUnavailable(f"clip skipped: no weights for {model}: {NO_WEIGHTS_HINT}")
    expanded = os.path.expanduser(pretrained)
    if os.path.isfile(expanded):
        return os.path.abspath(expanded), os.path.abspath(expanded), "file"
    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        if _looks_like_path(pretrained):
            raise ClipUnavailable(f"clip skipped: weights file not found: {pretrained}; {NO_WEIGHTS_HINT}")
        tags = open_clip.list_pretrained_tags_by_model(model)
        raise ClipUnavailable(f"clip skipped: '{pretrained}' is neither a file nor an open_clip tag for "
                              f"{model} (tags: {', '.join(tags) or 'none'}); {NO_WEIGHTS_HINT}")
    where = cfg.get("hf_hub") or cfg.get("url") or "?"
    try:
        with _hf_offline():
            path = open_clip.pretrained.download_pretrained(cfg) if cfg.get("hf_hub") else ""
    except Exception as e:  # cache miss in offline mode
        path = ""
        detail = f" ({type(e).__name__})"
    else:
        detail = ""
    if not path or not os.path.isfile(path):
        fetch = (f"python -c \"import open_clip; open_clip.create_model_and_transforms('{model}', "
                 f"pretrained='{pretrained}')\"")
        raise ClipUnavailable(
            f"clip skipped: weights {model}/{pretrained} ({where}) are not in the Hugging Face cache"
            f"{detail} and lenscore never downloads: fetch them once on a networked machine with {fetch}, "
            f"or pass --clip-pretrained PATH to a local checkpoint")
    return path, pretrained, "cache"


def _token_counter(tokenizer: Any) -> Callable[[str], int] | None:
    """A function text -> token count (start/end markers included), or None if unknown."""
    if hasattr(tokenizer, "encode") and hasattr(tokenizer, "sot_token_id"):
        return lambda t: len(tokenizer.encode(t)) + 2
    hf = getattr(tokenizer, "tokenizer", None)
    if hf is not None and callable(hf):
        return lambda t: len(hf(t)["input_ids"])
    return None


# ----------------------------------------------------------------------------------------------
# The scorer
# ----------------------------------------------------------------------------------------------

def load_clip(model: str = "ViT-B-32", pretrained: str | None = None, *, device: str | None = None,
              batch_size: int = 16, probes: Mapping[str, Any] | None = None,
              long_prompts: str = "split", num_threads: int | None = None) -> "ClipScorer":
    """Load an OpenCLIP model for scoring, offline.

    Parameters
    ----------
    model : str
        open_clip model name (``open_clip.list_models()``), or ``hf-hub:org/repo`` /
        ``local-dir:/path`` (weights come with the config; hub entries from the local cache only).
    pretrained : str, optional
        Path to a local checkpoint, or an open_clip tag already in the Hugging Face cache.
        None -> :class:`ClipUnavailable`.
    device : str, optional
        'cuda' when available, else 'cpu'.
    batch_size : int
        Images per forward pass (16 is ~1.6x faster than one at a time for ViT-B-32 on 2 CPU threads).
    probes : mapping, optional
        Extra (or replacing) optics probes, ``{name: [positive, negative]}``; see :func:`parse_probes`.
    long_prompts : 'split' | 'truncate'
        What to do with a prompt longer than the context (see the module docstring).
    num_threads : int, optional
        ``torch.set_num_threads`` for CPU inference (None: torch's default).

    Raises
    ------
    ClipUnavailable
        No weights, weights not in the cache, a missing file, or a checkpoint that does not fit.
    MissingDependencyError
        torch / open_clip not installed (extra ``clip``).
    UsageError
        Unknown model name, bad batch size or option.
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise UsageError(f"clip batch size must be a positive integer, got {batch_size!r}")
    if long_prompts not in LONG_PROMPT_MODES:
        raise UsageError(f"long_prompts must be one of {LONG_PROMPT_MODES}, got {long_prompts!r}")
    if num_threads is not None and (not isinstance(num_threads, int) or num_threads < 1):
        raise UsageError(f"clip threads must be a positive integer, got {num_threads!r}")
    probe_map = parse_probes(probes)
    if not pretrained and not model.startswith(("hf-hub:", "local-dir:")):
        # say so at once, without the seconds an import of torch + open_clip costs
        import importlib.util

        if importlib.util.find_spec("open_clip") is None:
            raise MissingDependencyError("open-clip-torch", "clip", "The clip metric family")
        raise ClipUnavailable(f"clip skipped: no weights for {model}: {NO_WEIGHTS_HINT}")
    torch, open_clip, tv_placeholders = _import_open_clip()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    weights_path, pretrained_arg, kind = _resolve_weights(open_clip, model, pretrained)
    try:
        with _hf_offline():
            net, _, _ = open_clip.create_model_and_transforms(
                model, pretrained=pretrained_arg or None, device=device)
            tokenizer = open_clip.get_tokenizer(model)
    except (RuntimeError, ValueError, OSError, KeyError, FileNotFoundError) as e:
        what = weights_path or pretrained or model
        raise ClipUnavailable(f"clip skipped: cannot load weights {what} into {model}: {_first_line(e)}; "
                              f"{NO_WEIGHTS_HINT}") from e
    net.eval()
    return ClipScorer(torch=torch, open_clip=open_clip, net=net, tokenizer=tokenizer, model_name=model,
                      pretrained=pretrained, weights_path=weights_path, weights_kind=kind, device=device,
                      batch_size=batch_size, probes=probe_map, long_prompts=long_prompts,
                      torchvision_placeholders=tv_placeholders)


class ClipScorer:
    """A loaded CLIP model, its probes and its preprocessing. Build it with :func:`load_clip`.

    ``prepare(ctx)`` (cheap, numpy + Pillow) turns an image into the model's input size;
    ``score(images, prompts)`` embeds them in batches and returns one :class:`MetricResult` each.
    ``family`` declares this scorer's outputs (prompt alignment + one per probe).
    """

    def __init__(self, *, torch: Any, open_clip: Any, net: Any, tokenizer: Any, model_name: str,
                 pretrained: str | None, weights_path: str | None, weights_kind: str, device: str,
                 batch_size: int, probes: Mapping[str, tuple[str, str]], long_prompts: str = "split",
                 torchvision_placeholders: bool = False):
        self._torch, self._open_clip, self._net, self._tokenizer = torch, open_clip, net, tokenizer
        self.model_name, self.pretrained = model_name, pretrained
        self.weights_path, self.weights_kind = weights_path, weights_kind
        self.device, self.batch_size = device, batch_size
        self.probes = dict(probes)
        self.long_prompts = long_prompts
        self.torchvision_placeholders = torchvision_placeholders
        pcfg = dict(open_clip.get_model_preprocess_cfg(net))
        size = pcfg.get("size", 224)
        size = (int(size), int(size)) if np.isscalar(size) else (int(size[0]), int(size[1]))
        interp = pcfg.get("interpolation", "bicubic")
        self.preprocess = ClipPreprocess(size=size, resize_mode=pcfg.get("resize_mode", "shortest"),
                                         interpolation=interp if interp == "bilinear" else "bicubic",
                                         fill_color=int(pcfg.get("fill_color", 0)))
        mean = pcfg.get("mean", (0.48145466, 0.4578275, 0.40821073))
        std = pcfg.get("std", (0.26862954, 0.26130258, 0.27577711))
        self._mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(std, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255.0
        self._preprocess_cfg = {"size": list(size), "resize_mode": self.preprocess.resize_mode,
                                "interpolation": self.preprocess.interpolation,
                                "mean": [float(m) for m in mean], "std": [float(s) for s in std]}
        self.context_length = int(getattr(tokenizer, "context_length", None)
                                  or getattr(net, "context_length", 77))
        self._count_tokens = _token_counter(tokenizer)
        with torch.inference_mode():
            self.logit_scale = float(min(net.logit_scale.exp().item(), 100.0)) \
                if hasattr(net, "logit_scale") else 100.0
        self._weights_sha256: str | None = None
        self._text_cache: dict[str, tuple[np.ndarray, int, int, str]] = {}
        texts = [c for pair in self.probes.values() for c in pair]
        emb = self._encode_texts(texts)
        self._probe_pos = emb[0::2]
        self._probe_neg = emb[1::2]
        self.family = _family(self.probes, self._compute_one, self._params())

    # -- per image, cheap: this is what worker processes run ---------------------------------
    def prepare(self, ctx: "ImageContext") -> np.ndarray:
        """uint8 (h, w, 3) model-size image from ``ctx.work_rgb`` (numpy + Pillow only)."""
        return self.preprocess(ctx.work_rgb)

    # -- batched ---------------------------------------------------------------------------------
    def embed_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) float32 normalised image embeddings of prepared images, in batches."""
        torch = self._torch
        h, w = self.preprocess.size
        for i, im in enumerate(images):
            a = np.asarray(im)
            if a.shape != (h, w, 3) or a.dtype != np.uint8:
                raise InputError(f"clip: image {i} must be a prepared uint8 array of shape ({h}, {w}, 3) "
                                 f"(use scorer.prepare(ctx)), got {a.dtype} {a.shape}")
        out = []
        with torch.inference_mode():
            for s in range(0, len(images), self.batch_size):
                batch = np.stack([np.asarray(im) for im in images[s:s + self.batch_size]])
                x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float()
                x = (x - self._mean) / self._std
                e = self._net.encode_image(x, normalize=True)
                out.append(e.float().cpu().numpy())
        dim = out[0].shape[1] if out else 0
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)

    def _encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for s in range(0, len(texts), max(self.batch_size, 16)):
                tok = self._tokenizer(list(texts[s:s + max(self.batch_size, 16)])).to(self.device)
                out.append(self._net.encode_text(tok, normalize=True).float().cpu().numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, 0))

    def embed_prompts(self, prompts: Sequence[str]) -> list[tuple[np.ndarray, int, int, str]]:
        """For each prompt: (normalised embedding, token count, chunks, note). Cached per prompt."""
        unique = list(dict.fromkeys(prompts))
        if len(self._text_cache) + len(unique) > _TEXT_CACHE_MAX:  # bounded for runs of unique prompts
            self._text_cache.clear()
        todo = [p for p in unique if p not in self._text_cache]
        plans: list[tuple[str, list[str], list[int], int, str]] = []
        for p in todo:
            n_tok = self._count_tokens(p) if self._count_tokens else 0
            note = ""
            if self._count_tokens is None:
                chunks, weights = [p], [1]
                note = "token count unknown for this tokenizer: long prompts may be truncated"
            elif n_tok <= self.context_length:
                chunks, weights = [p], [n_tok]
            elif self.long_prompts == "truncate":
                chunks, weights = [p], [self.context_length]
                note = (f"prompt longer than {self.context_length} tokens ({n_tok}): truncated to the "
                        f"first {self.context_length}")
            else:
                chunks = split_prompt(p, self._count_tokens, self.context_length)
                weights = [min(self._count_tokens(c), self.context_length) for c in chunks]
                note = (f"prompt longer than {self.context_length} tokens ({n_tok}): split into "
                        f"{len(chunks)} chunks and averaged")
                if any(self._count_tokens(c) > self.context_length for c in chunks):
                    note += " (a single word longer than the context was truncated)"
            plans.append((p, chunks, weights, n_tok, note))
        flat = [c for _, chunks, _, _, _ in plans for c in chunks]
        emb = self._encode_texts(flat) if flat else None
        k = 0
        for p, chunks, weights, n_tok, note in plans:
            e = emb[k:k + len(chunks)]
            k += len(chunks)
            v = (np.asarray(weights, dtype=np.float64)[:, None] * e).sum(axis=0)
            v = v / np.linalg.norm(v)
            self._text_cache[p] = (v, n_tok, len(chunks), note)
        return [self._text_cache[p] for p in prompts]

    def score(self, images: Sequence[np.ndarray], prompts: Sequence[str | None]) -> list[MetricResult]:
        """CLIPScore and probe probabilities for prepared images and their prompts (None = no prompt).

        Every result carries ``artifacts['embedding']`` (float32 normalised image embedding).
        """
        if len(images) != len(prompts):
            raise InputError(f"clip: got {len(images)} images but {len(prompts)} prompts; pass one "
                             "prompt (or None) per image")
        if not len(images):
            return []
        img = self.embed_images(images)
        cleaned = [" ".join(p.split()) if isinstance(p, str) and p.strip() else None for p in prompts]
        texts = self.embed_prompts([p for p in cleaned if p is not None])
        text_iter = iter(texts)
        img64 = img.astype(np.float64)
        p_pos = probe_probability(img64 @ self._probe_pos.T, img64 @ self._probe_neg.T,
                                  logit_scale=self.logit_scale) if self.probes else None
        results = []
        for i, prompt in enumerate(cleaned):
            values: dict[str, float] = {}
            reasons: dict[str, str] = {}
            art: dict[str, Any] = {"embedding": img[i]}
            if prompt is None:
                values["clip.prompt_alignment"] = math.nan
                reasons["clip.prompt_alignment"] = "no prompt for this image"
                art.update(text_embedding=None, cosine=math.nan, prompt_tokens=0, prompt_chunks=0)
            else:
                temb, n_tok, n_chunks, note = next(text_iter)
                cos = float(img64[i] @ temb)
                values["clip.prompt_alignment"] = float(clip_score(cos))
                if note:
                    reasons["clip.prompt_alignment"] = note
                art.update(text_embedding=temb.astype(np.float32), cosine=cos, prompt_tokens=n_tok,
                           prompt_chunks=n_chunks)
            for j, name in enumerate(self.probes):
                values[f"clip.probe_{name}"] = float(p_pos[i, j])
            results.append(MetricResult(values, reasons, art))
        return results

    def _compute_one(self, ctx: "ImageContext") -> MetricResult:
        return self.score([self.prepare(ctx)], [ctx.prompt])[0]

    # -- provenance -------------------------------------------------------------------------------
    @property
    def weights_sha256(self) -> str | None:
        """SHA-256 of the weights file (computed once, on first use)."""
        if self._weights_sha256 is None and self.weights_path and os.path.isfile(self.weights_path):
            self._weights_sha256 = file_sha256(self.weights_path)
        return self._weights_sha256

    def _params(self) -> dict[str, Any]:
        return {"model": self.model_name, "pretrained": self.pretrained,
                "probes": {k: list(v) for k, v in self.probes.items()},
                "long_prompts": self.long_prompts, "score_scale": SCORE_SCALE,
                "logit_scale": round(self.logit_scale, 4), "context_length": self.context_length}

    def metadata(self) -> dict[str, Any]:
        """Everything needed to reproduce the numbers (for summary.json)."""
        torch, open_clip = self._torch, self._open_clip
        return {
            "model": self.model_name,
            "pretrained": self.pretrained,
            "weights_source": self.weights_kind,
            "weights_file": self.weights_path,
            "weights_sha256": self.weights_sha256,
            "open_clip_version": getattr(open_clip, "__version__", None),
            "torch_version": torch.__version__,
            "torchvision_placeholder_ops": self.torchvision_placeholders,
            "device": self.device,
            "threads": torch.get_num_threads() if self.device == "cpu" else None,
            "batch_size": self.batch_size,
            "context_length": self.context_length,
            "long_prompts": self.long_prompts,
            "logit_scale": self.logit_scale,
            "preprocess": dict(self._preprocess_cfg, source="ImageContext.work_rgb"),
            "score_scale": SCORE_SCALE,
            "probes": {k: {"positive": v[0], "negative": v[1]} for k, v in self.probes.items()},
        }


#: registered at import with the default probes, so `lenscore metrics` lists the family; it only
#: computes through a loaded scorer (``load_clip(...).family``).
FAMILY = register(_family(DEFAULT_PROBES, _unloaded_compute,
                          {"model": None, "pretrained": None,
                           "probes": {k: list(v) for k, v in DEFAULT_PROBES.items()},
                           "long_prompts": "split", "score_scale": SCORE_SCALE}))
