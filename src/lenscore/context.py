"""ImageContext: one decoded image and everything metrics share, derived lazily, once.

Every family receives the same context. What several families use (working copy, faces,
subject mask, noise level) is a declared, lazily computed property here: computed on first use,
then shared. What one family measures and another reads (bokeh's orbs, which colour uses as
light sources) goes through :meth:`ImageContext.result`, and only for families the reader
declares in ``requires``, so the cache key of a family covers all it read. Nothing here reads
files: :mod:`lenscore.datasets.decode` builds contexts from files.

Coordinates: ``rgb``/``gray``/``linear`` are full resolution; the ``work_*`` arrays are a copy
whose longer side is ``WORK_LONG_SIDE`` px (so a 768 px and a 1536 px render of one scene are
measured alike). Boxes are (x, y, w, h); ``subject_box`` is in full-resolution pixels and
``work_subject_box`` in working pixels.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import TYPE_CHECKING

import cv2

if TYPE_CHECKING:  # pragma: no cover
    from lenscore.defocus import DefocusMap
    from lenscore.faces import Face
    from lenscore.metrics.base import MetricFamily, MetricResult
    from lenscore.person import SubjectMask

import numpy as np

from lenscore import imaging
from lenscore.errors import InputError

#: longer side of the working copy, in pixels.
WORK_LONG_SIDE = 768


class ImageContext:
    """A decoded image (float32 sRGB in [0, 1], H x W x 3, RGB order) and its lazy derivations.

    Parameters
    ----------
    rgb : array
        H x W x 3 float in [0, 1], sRGB-encoded.
    subject_box : (x, y, w, h), optional
        The subject given by the user (full-resolution pixels); wins over the subject model.
    subject_mask : bool array, optional
        The subject given by the user as a mask of the image's size; wins over everything.
    skin_mask : bool array, optional
        A skin mask given by the user (full resolution); wins over the skin model.
    prompt : str, optional
        The prompt text (used by the clip family).
    """

    def __init__(self, rgb: np.ndarray, *, subject_box: tuple[int, int, int, int] | None = None,
                 subject_mask: np.ndarray | None = None,
                 skin_mask: np.ndarray | None = None, prompt: str | None = None,
                 work_long_side: int = WORK_LONG_SIDE):
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InputError(f"expected an H x W x 3 RGB image, got an array of shape {rgb.shape}")
        if rgb.dtype.kind != "f":
            raise InputError(f"expected float RGB in [0, 1], got dtype {rgb.dtype}; "
                             "divide integer images by their maximum first")
        self.rgb = np.ascontiguousarray(rgb, dtype=np.float32)
        self.height, self.width = self.rgb.shape[:2]
        self.user_subject_box = (tuple(int(v) for v in subject_box)
                                 if subject_box is not None else None)
        if subject_mask is not None:
            subject_mask = np.asarray(subject_mask).astype(bool)
            if subject_mask.shape != (self.height, self.width):
                raise InputError(f"the subject mask is {subject_mask.shape[1]}x"
                                 f"{subject_mask.shape[0]} px but the image is {self.width}x"
                                 f"{self.height}; give a mask of the image's size")
            if not subject_mask.any() or subject_mask.all():
                raise InputError("the subject mask is empty or covers the whole image; mark the "
                                 "subject white and the background black")
        self.user_subject_mask = subject_mask
        self.user_skin_mask = skin_mask
        self.prompt = prompt
        self.work_long_side = work_long_side
        self._results: dict[str, tuple[MetricResult, bool]] = {}
        self._computing: list[MetricFamily] = []

    # ---- full resolution -------------------------------------------------------------
    @cached_property
    def gray(self) -> np.ndarray:
        """BT.709 luma of the sRGB-encoded image, [0, 1]."""
        return imaging.luma(self.rgb)

    @cached_property
    def linear(self) -> np.ndarray:
        """Linear-light RGB (sRGB EOTF)."""
        return imaging.srgb_to_linear(self.rgb)

    @cached_property
    def luminance(self) -> np.ndarray:
        """CIE Y of linear light, [0, 1]."""
        return imaging.luma(self.linear)

    # ---- working resolution -----------------------------------------------------------
    @cached_property
    def work_scale(self) -> float:
        """Working pixels per full-resolution pixel."""
        return self.work_long_side / max(self.height, self.width)

    @cached_property
    def work_rgb(self) -> np.ndarray:
        return imaging.resize_long_side(self.rgb, self.work_long_side)

    @cached_property
    def work_gray(self) -> np.ndarray:
        return imaging.luma(self.work_rgb)

    @cached_property
    def work_linear(self) -> np.ndarray:
        return imaging.srgb_to_linear(self.work_rgb)

    @cached_property
    def work_luminance(self) -> np.ndarray:
        return imaging.luma(self.work_linear)

    @cached_property
    def noise_sigma(self) -> float:
        """Std of white noise in ``work_gray`` (Immerkaer 1996), in [0, 1] units."""
        return imaging.immerkaer_noise_sigma(self.work_gray)

    # ---- subject ---------------------------------------------------------------------------
    @cached_property
    def work_faces(self) -> list[Face]:
        """Faces on the working copy, largest first, working pixels (:mod:`lenscore.faces`:
        BlazeFace candidates verified by Face Mesh, with 468 landmarks each)."""
        from lenscore.faces import detect_faces

        return detect_faces(self.work_rgb)

    @cached_property
    def faces(self) -> list[Face]:
        """The same faces in full-resolution pixels (``box``, ``landmarks``, ``eyes``,
        ``inter_ocular``, ``roll_deg``; see :class:`lenscore.faces.Face`)."""
        s = 1.0 / self.work_scale
        return [f.scaled(s) for f in self.work_faces]

    @cached_property
    def face_box(self) -> tuple[int, int, int, int] | None:
        """The main face (largest detected), whole full-resolution pixels, or None."""
        return imaging.scale_box(self.faces[0].box, 1.0) if self.faces else None

    @cached_property
    def subject(self) -> SubjectMask:
        """The subject at working resolution and how it was found: the user's mask or box when
        given, else :func:`lenscore.person.subject_mask` (a person seeded by the faces and refined
        by colour and sharpness; without a face, the in-focus region)."""
        from lenscore.person import SubjectMask, subject_mask

        shape = self.work_gray.shape
        if self.user_subject_mask is not None:
            m = cv2.resize(self.user_subject_mask.astype(np.uint8), (shape[1], shape[0]),
                           interpolation=cv2.INTER_NEAREST).astype(bool)
            return SubjectMask(m, "user mask", len(self.faces), ["subject mask from the manifest"])
        if self.user_subject_box is not None:
            m = imaging.box_to_mask(imaging.scale_box(self.user_subject_box, self.work_scale), shape)
            return SubjectMask(m, "user box", len(self.faces), ["subject box from the manifest"])
        return subject_mask(self.work_rgb, self.work_faces)

    @cached_property
    def subject_source(self) -> str:
        """Where the subject came from: 'user_mask', 'user' (a box), 'face' (a person around the
        detected faces), 'in-focus' (no face: the in-focus region) or 'fallback' (no evidence:
        a centred region)."""
        how = self.subject.how
        if how == "user mask":
            return "user_mask"
        if how == "user box":
            return "user"
        if how.startswith("person") or how.startswith("prior"):
            return "face"
        return "in-focus" if how.startswith("in-focus") else "fallback"

    @cached_property
    def work_subject_mask(self) -> np.ndarray:
        """True on the subject, working resolution (:attr:`subject`)."""
        return self.subject.mask

    @cached_property
    def work_background_mask(self) -> np.ndarray:
        """True outside the subject, working resolution."""
        return ~self.work_subject_mask

    @cached_property
    def work_subject_box(self) -> tuple[int, int, int, int]:
        """Bounding box of the subject, working pixels (the whole frame when the mask is empty)."""
        if self.user_subject_box is not None and self.user_subject_mask is None:
            return imaging.scale_box(self.user_subject_box, self.work_scale)
        return imaging.mask_box(self.work_subject_mask)

    @cached_property
    def subject_box(self) -> tuple[int, int, int, int]:
        """Bounding box of the subject, full-resolution pixels."""
        if self.user_subject_box is not None and self.user_subject_mask is None:
            return self.user_subject_box
        x, y, w, h = self.work_subject_box
        s = 1.0 / self.work_scale
        x0, y0 = int(math.floor(x * s)), int(math.floor(y * s))
        x1, y1 = min(self.width, int(math.ceil((x + w) * s))), min(self.height, int(math.ceil((y + h) * s)))
        return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))

    # ---- family results ---------------------------------------------------------------------
    def result(self, family: "str | MetricFamily") -> "MetricResult":
        """The result of one metric family on this image, computed on first use, then kept.

        A family reads another family's result only through this method and only if it declares
        it in ``requires`` (reading an undeclared family raises ``RuntimeError``: its cache key
        would not cover what it read). ``family`` is a name (looked up in the registry) or a
        family object (e.g. a loaded CLIP family). A family that raises gives a NaN result with
        the reason; whether it raised is in :meth:`result_ok`.
        """
        from lenscore.metrics.base import compute_family, get_family

        fam = get_family(family) if isinstance(family, str) else family
        if self._computing:
            caller = self._computing[-1]
            if fam.name not in caller.requires:
                raise RuntimeError(
                    f"metric family '{caller.name}' reads the result of '{fam.name}' without "
                    f"declaring it: add '{fam.name}' to its MetricFamily(requires=...)")
            if any(f.name == fam.name for f in self._computing):
                raise RuntimeError(f"metric families require each other in a cycle: "
                                   f"{' -> '.join(f.name for f in self._computing)} -> {fam.name}")
        if fam.name not in self._results:
            self._computing.append(fam)
            try:
                self._results[fam.name] = compute_family(fam, self)
            finally:
                self._computing.pop()
        return self._results[fam.name][0]

    def provide(self, family: str, result: "MetricResult") -> None:
        """Use ``result`` as ``family``'s result on this image instead of computing it (e.g. a
        test that gives colour a bokeh result with no orbs)."""
        self._results[family] = (result, True)

    def result_ok(self, family: str) -> bool:
        """False when the family raised on this image (its result is NaN with the reason)."""
        return self._results[family][1] if family in self._results else True

    @cached_property
    def jpeg_grid(self) -> float:
        """How strongly the full-resolution gray shows JPEG's 8 x 8 block grid
        (:func:`lenscore.imaging.jpeg_grid_strength`; at or above ``imaging.JPEG_GRID_MIN`` the
        file went through JPEG, whatever its extension says)."""
        return imaging.jpeg_grid_strength(self.gray)

    # ---- blur evidence -------------------------------------------------------------------------
    @cached_property
    def defocus(self) -> "DefocusMap":
        """Blur-disc diameter per cell of the working copy, from evidence (textured spectra,
        edges; highlights left out), with a confidence per cell and NaN where there is none:
        :func:`lenscore.defocus.defocus_map`. Fields, units and the point query
        (:meth:`~lenscore.defocus.DefocusMap.blur_near`, full-resolution px) are documented on
        :class:`~lenscore.defocus.DefocusMap`."""
        from lenscore import defocus

        return defocus.defocus_map(self.work_gray, luminance=self.work_luminance,
                                   subject=self.work_subject_mask, noise_sigma=self.noise_sigma,
                                   quant_step=defocus.quantisation_step(self.rgb),
                                   work_scale=self.work_scale,
                                   native=(self.gray, self.luminance) if self.work_scale > 1 else None,
                                   compressed=bool(self.jpeg_grid >= imaging.JPEG_GRID_MIN))
