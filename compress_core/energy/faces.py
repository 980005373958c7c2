"""Faces: the importance term ImageNet classifiers lack.

ImageNet has no person class, so a classifier's class activations (the deep energy) miss
faces; people notice a cut or stretched face before anything else. :class:`FaceDetector` finds
faces with MTCNN (Zhang et al. 2016) from ``facenet-pytorch``, whose three small networks ship
their weights inside the PyPI wheel (no download), and :func:`face_map` turns the boxes into an
importance map that the deep energy max-combines with its own (:class:`~compress_core.energy.
deep.DeepEnergyFunction`, ``faces=True`` by default).

The detector runs on a copy whose long side is at most :data:`DETECT_SIDE` pixels (a 24 MP
photo is not searched at full size); faces smaller than :data:`MIN_FACE_SHARE` of that side are
not looked for, and boxes below :data:`MIN_PROBABILITY` are dropped; a face small in that
copy stands only where a second look at it, at :data:`CONFIRM_SIDES` pixels across, finds it
again (MTCNN takes textures for small faces). The networks are loaded
once per process and device (thread-safe), like the CNN backbones.
"""
from __future__ import annotations

import copy
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .._fork_locks import ForkSafeLock

__all__ = ["Face", "FaceDetector", "face_map", "raise_to_faces", "faces_box", "face_core",
           "cores_box", "heads_box", "person_box", "face_boxes", "clipped_box", "union_box",
           "subject_faces", "EYES_IN_CORE", "SUBJECT_FACE_SHARE", "DETECT_SIDE", "MIN_PROBABILITY",
           "CONFIRM_SIDE", "CONFIRM_SIDES", "CONFIRM_MOST", "CONFIRM_OVERLAP", "CONFIRM_MIN_FACE",
           "needs_second_look"]

#: Long side (pixels) of the copy the detector searches. On the 24 Kodak photos 448 px finds
#: every face 640 px finds (kodim04, 12, 14, 15, 17, 18) in about half the time.
DETECT_SIDE = 448
#: Smallest face searched for, as a share of the detection copy's long side (448 px: 20 px,
#: a face of 4.5% of the photo's long side; smaller ones matter little in a thumbnail).
MIN_FACE_SHARE = 20 / 448
#: Detections below this MTCNN probability are ignored.
MIN_PROBABILITY = 0.9
#: A second look at the small ones: a face found under this many pixels across in the
#: detection copy is looked at again in a square of three times its size around it, cut from
#: the picture itself and scaled so that the face is :data:`CONFIRM_SIDES` pixels across, and
#: stands only where MTCNN finds it there again with ``min_probability`` (0.9) at one of those
#: sizes. On the Kodak photos (``bench/bench_faces.py``) the first look took kodim11's rusty
#: pier for a face at 0.99: 0.0 at the second look (so do a spoked wheel and driftwood that a
#: larger copy finds, at any size from 48 to 96 px), while the real small faces
#: (kodim10's, 12's, kodim14's paddlers at 10-16 px in the copy, 18's) score 0.98-1.0 and
#: kodim19's coin binoculars, a face to anyone, 0.85-0.98. One size alone let real faces go:
#: faces of skimage's LFW set pasted in a mosaic or on kodim02 and blurred faces scored
#: 0.89-0.97 at one size and 0.0 at another (diff review 33); the best of 64 and 80 px is
#: 0.90 or more for each (0.901 the hardest of about 200 LFW faces).
CONFIRM_SIDE = 64
#: The sizes (pixels across) of the second look's face, in turn.
CONFIRM_SIDES = (CONFIRM_SIDE, 80)
#: A picture with more small faces than this is a crowd: its faces stand on the first look
#: (each second look costs 25-30 ms of CPU: 1.2 s for 40 faces; a false face among many
#: people moves no window far).
CONFIRM_MOST = 4
#: A second look's box is the same face where it overlaps the first's by at least this share
#: (intersection over union; 0.58-0.95 on the Kodak faces).
CONFIRM_OVERLAP = 0.3
#: A face's importance region is its box grown by this factor (hair, chin, ears).
FACE_MARGIN = 1.4

_MODELS: Dict[Tuple[str, int], object] = {}
_MODELS_LOCK = ForkSafeLock()


class Face(NamedTuple):
    """A detected face: box ``(left, top, right, bottom)`` in image pixels, probability, and
    its core: the box from the brows to below the mouth, eye to eye and a little beyond, from
    MTCNN's landmarks (None: :func:`face_core` estimates it from the box). A crop that cannot
    hold the whole face holds its core (a banner of a close-up face kept the chin and cut the
    eyes)."""

    box: Tuple[int, int, int, int]
    probability: float
    core: Optional[Tuple[int, int, int, int]] = None


#: The smallest face the second look searches, as a share of the face's size there (64 or
#: 80 px: 28 or 35 px, where the first look searches from 20): its pyramid starts at 82
#: instead of 115 px, half the first network's work (the second look had taken 112 of 205 ms
#: of kodim11's face search: benchmark review 39). Half (32, 40 px) dropped one of 194 LFW
#: faces (0.965 -> 0.873); 7/16 keeps every verdict on 416 LFW faces at 45-150 px and the
#: Kodak photos' (bench/bench_faces.py).
CONFIRM_MIN_FACE = 7 / 16


#: The first look's smallest face, in the detection copy's pixels.
_FIRST_LOOK_MIN_FACE = int(DETECT_SIDE * MIN_FACE_SHARE)


def _mtcnn(device: str, min_face_size: int = _FIRST_LOOK_MIN_FACE):
    """The MTCNN detector on ``device`` that searches faces of ``min_face_size`` pixels and up
    (the first look: 20 in the 448-px copy; the second look: :data:`CONFIRM_MIN_FACE` of its
    face). One per size and device, all of a device sharing the first look's networks (a copy
    whose pyramid starts elsewhere: another load of the weights cost 0.1 s at start-up)."""
    key = (device, int(min_face_size))
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS.get((device, _FIRST_LOOK_MIN_FACE))
            if model is None:
                model = _MODELS[(device, _FIRST_LOOK_MIN_FACE)] = _load_mtcnn(device)
            if key[1] != _FIRST_LOOK_MIN_FACE:
                model = copy.copy(model)   # (the same networks; the attribute detect() reads)
                model.min_face_size = key[1]
                _MODELS[key] = model
        return model


def _load_mtcnn(device: str):
    """MTCNN on ``device`` at the first look's smallest face, its weights from the wheel."""
    try:
        from facenet_pytorch import MTCNN
    except ImportError as exc:  # pragma: no cover - the package is a requirement
        raise ImportError(
            "face detection needs the 'facenet-pytorch' package (MTCNN weights ship in "
            "its wheel): pip install --no-deps facenet-pytorch==2.6.0; or an energy "
            "without faces: DeepEnergyFunction(faces=False) in Python, energy "
            "'gradient' or 'saliency' on the command line and in the job") from exc
    model = MTCNN(keep_all=True, device=device, min_face_size=_FIRST_LOOK_MIN_FACE,
                  post_process=False, select_largest=False)
    model.eval()
    return model


class FaceDetector:
    """MTCNN face detection on a bounded-size copy of the image.

    Parameters
    ----------
    device : str
        Torch device (``"cpu"``, ``"cuda"`` ...), as resolved by the deep energy.
    min_probability : float
        Detections below this probability are dropped.
    """

    def __init__(self, device: str = "cpu", min_probability: float = MIN_PROBABILITY):
        if not 0.0 <= float(min_probability) <= 1.0:
            raise ValueError(f"min_probability must be in [0, 1]; got {min_probability!r}")
        self.device = str(device)
        self.min_probability = float(min_probability)

    def load(self) -> "FaceDetector":
        """Load the MTCNN networks now (once per process and device: the first look's and
        the second look's); returns ``self``."""
        _mtcnn(self.device)
        for side in CONFIRM_SIDES:
            _mtcnn(self.device, _confirm_min_face(side))
        return self

    def detect(self, rgb: np.ndarray) -> List[Face]:
        """Faces in an RGB uint8 (H, W, 3) array, most probable first: the first look's,
        less the small ones a second look does not find again (:data:`CONFIRM_SIDE`; none
        dropped in a crowd, :data:`CONFIRM_MOST`)."""
        faces = self.first_look(rgb)
        small = [needs_second_look(face, rgb.shape[:2]) for face in faces]
        if 0 < sum(small) <= CONFIRM_MOST:   # (each small face's second look, in order)
            again = iter(self.second_look(rgb, [f for f, s in zip(faces, small) if s]))
            faces = [f for f, s in zip(faces, small)
                     if not s or next(again) >= self.min_probability]
        return faces

    def first_look(self, rgb: np.ndarray) -> List[Face]:
        """MTCNN's faces in the picture's copy of at most :data:`DETECT_SIDE` pixels, at
        ``min_probability`` or more, in ``rgb``'s pixels, most probable first."""
        import torch
        from PIL import Image

        h, w = rgb.shape[:2]
        scale = _detection_scale((h, w))
        if min(h, w) * scale < DETECT_SIDE * MIN_FACE_SHARE:  # no face that small is searched
            return []
        img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
        if scale < 1.0:
            img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))),
                             Image.Resampling.BILINEAR)
        with torch.inference_mode():
            boxes, probs, landmarks = _mtcnn(self.device).detect(img, landmarks=True)
        if boxes is None:
            return []
        faces = []
        for box, p, marks in zip(boxes, probs, landmarks):
            if p is None or not np.isfinite(p) or p < self.min_probability:
                continue
            l, t, r, b = (float(v) / scale for v in box)
            l, t = max(0, int(np.floor(l))), max(0, int(np.floor(t)))
            r, b = min(w, int(np.ceil(r))), min(h, int(np.ceil(b)))
            if r > l and b > t:
                core = _core_of(np.asarray(marks, np.float64) / scale, (h, w))
                faces.append(Face((l, t, r, b), float(p), core))
        faces.sort(key=lambda f: -f.probability)
        return faces

    def second_look(self, rgb: np.ndarray, faces: Sequence[Face]) -> List[float]:
        """The probability MTCNN gives each of ``faces`` (boxes in ``rgb``'s pixels) at a
        second look: in a square three times its size around it, cut from ``rgb`` and scaled
        so that the face is each of :data:`CONFIRM_SIDES` pixels across in turn (the next
        size only for the faces the last left under ``min_probability``), the highest
        probability of a box overlapping it by :data:`CONFIRM_OVERLAP` (0.0: none)."""
        best = [0.0] * len(faces)
        for side in CONFIRM_SIDES:
            todo = [i for i, p in enumerate(best) if p < self.min_probability]
            if not todo:
                break
            for i, p in zip(todo, self._look_again(rgb, [faces[i] for i in todo], side)):
                best[i] = max(best[i], p)
        return best

    def _look_again(self, rgb: np.ndarray, faces: Sequence[Face], side: int) -> List[float]:
        """:meth:`second_look` at one size: each face ``side`` pixels across (one batch: the
        squares are all one size)."""
        import torch

        squares, frames = [], []
        for face in faces:
            l, t, r, b = face.box
            span = int(np.ceil(3.0 * max(r - l, b - t)))
            x0, y0 = int(np.floor((l + r - span) / 2.0)), int(np.floor((t + b - span) / 2.0))
            squares.append(_square(rgb, x0, y0, span, 3 * side))
            frames.append((x0, y0, 3 * side / span))
        with torch.inference_mode():
            boxes, probs = _mtcnn(self.device, _confirm_min_face(side)).detect(squares)
        found_again = []
        for face, (x0, y0, k), found, p in zip(faces, frames, boxes, probs):
            found_again.append(0.0 if found is None else max(
                (float(q) for (bl, bt, br, bb), q in zip(found, p)
                 if _overlap(face.box, (bl / k + x0, bt / k + y0, br / k + x0, bb / k + y0))
                 >= CONFIRM_OVERLAP), default=0.0))
        return found_again


def _confirm_min_face(side: int) -> int:
    """The smallest face (px) the second look searches where its face is ``side`` px."""
    return int(side * CONFIRM_MIN_FACE)


def _detection_scale(shape: Tuple[int, int]) -> float:
    """The factor from a picture of ``shape`` (H, W) to the copy the detector searches."""
    return min(1.0, DETECT_SIDE / float(max(shape)))


def needs_second_look(face: Face, shape: Tuple[int, int]) -> bool:
    """Whether ``face`` of a picture of ``shape`` (H, W) is under :data:`CONFIRM_SIDE` pixels
    across in the detection copy (a second look decides whether it stands)."""
    l, t, r, b = face.box
    return max(r - l, b - t) * _detection_scale(shape) < CONFIRM_SIDE


def _square(rgb: np.ndarray, x0: int, y0: int, span: int, side: int):
    """The ``span`` x ``span`` square of ``rgb`` at ``(x0, y0)`` (black beyond the picture)
    scaled to ``side`` x ``side``, a PIL image."""
    from PIL import Image

    h, w = rgb.shape[:2]
    square = np.zeros((span, span, 3), np.uint8)
    l, t, r, b = max(0, x0), max(0, y0), min(w, x0 + span), min(h, y0 + span)
    if r > l and b > t:
        square[t - y0:b - y0, l - x0:r - x0] = rgb[t:b, l:r, :3]
    return Image.fromarray(square).resize((side, side), Image.Resampling.BILINEAR)


def _overlap(a, b) -> float:
    """Intersection over union of two boxes ``(left, top, right, bottom)``."""
    l, t, r, bt = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, r - l) * max(0.0, bt - t)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _grown(box, shape, factor: float = FACE_MARGIN):
    h, w = shape
    l, t, r, b = box
    cx, cy = (l + r) / 2.0, (t + b) / 2.0
    hw, hh = (r - l) * factor / 2.0, (b - t) * factor / 2.0
    return (max(0, int(cx - hw)), max(0, int(cy - hh)), min(w, int(np.ceil(cx + hw))),
            min(h, int(np.ceil(cy + hh))))


#: The core around a face's landmarks (eyes, nose, mouth corners), in shares of their height
#: above the eyes (to the brows) and below the mouth, and of their width beyond the eyes and
#: the mouth's corners on each side.
CORE_ABOVE, CORE_BELOW, CORE_SIDES = 0.25, 0.2, 0.25
#: Where the eyes lie in a core, as a share of its height from its top.
EYES_IN_CORE = CORE_ABOVE / (1.0 + CORE_ABOVE + CORE_BELOW)
#: Without landmarks: the core as shares of an MTCNN box's width and height, with the same
#: margins about landmarks from 0.25 to 0.75 of the box's width and, down, from the eyes at 0.4
#: of its height to the mouth at 0.8 (as on the Kodak faces).
_CORE_IN_BOX = (0.125, 0.3, 0.875, 0.88)


def _core_of(marks: np.ndarray, shape: Tuple[int, int]) -> Optional[Tuple[int, int, int, int]]:
    """The core box around five landmarks (x, y) in image pixels; None where they are not
    finite."""
    if marks.shape != (5, 2) or not np.isfinite(marks).all():
        return None
    h, w = shape
    (l, t), (r, b) = marks.min(axis=0), marks.max(axis=0)
    across, down = max(r - l, 1.0), max(b - t, 1.0)
    l, r = l - CORE_SIDES * across, r + CORE_SIDES * across
    t, b = t - CORE_ABOVE * down, b + CORE_BELOW * down
    box = (max(0, int(np.floor(l))), max(0, int(np.floor(t))), min(w, int(np.ceil(r))),
           min(h, int(np.ceil(b))))
    return box if box[2] > box[0] and box[3] > box[1] else None


def face_core(face: Face, shape: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """``face.core``, or where the face has none an estimate from its box, within ``shape``
    ``(H, W)``."""
    h, w = shape
    if face.core is not None:
        l, t, r, b = face.core
    else:
        bl, bt, br, bb = face.box
        fl, ft, fr, fb = _CORE_IN_BOX
        l, r = bl + fl * (br - bl), bl + fr * (br - bl)
        t, b = bt + ft * (bb - bt), bt + fb * (bb - bt)
    l, t = min(max(0, int(np.floor(l))), w - 1), min(max(0, int(np.floor(t))), h - 1)
    return l, t, max(l + 1, min(w, int(np.ceil(r)))), max(t + 1, min(h, int(np.ceil(b))))


def cores_box(faces: Sequence[Face], shape: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """Bounding box of all the faces' cores (:func:`face_core`)."""
    return union_box([face_core(f, shape) for f in faces])


#: A face alone in a picture whose box's longer side is under this share of the picture's
#: shorter side is part of a scene, not its subject: crops hold it whole or leave it out, as
#: the importance says, never in part. Larger faces, and the faces of a group (two or more:
#: the people are the subject, however small), are held (or their cores). On the Kodak photos
#: the faces alone that are subjects measure 0.13-0.9 (kodim18's standing woman 0.13, the
#: astronaut 0.21), and the two false faces MTCNN's first look finds at 0.95-0.99 (kodim11's
#: rusty pier, which the second look drops since session 33, and kodim19's coin binocular),
#: each alone, 0.07: held, they took a 1:3 crop off the boat and a 4:1 banner off the
#: lighthouse. (The groups of kodim12 and kodim14 measure 0.03-0.07: taken
#: as a scene, a 4:1 banner of kodim14's raft kept its paddlers' bodies without their heads.)
SUBJECT_FACE_SHARE = 0.1


def subject_faces(faces: Sequence[Face], shape: Tuple[int, int]) -> Tuple[List[Face], List[Face]]:
    """``faces`` split into the subjects and a face of the scene (:data:`SUBJECT_FACE_SHARE`)
    in a picture of ``shape`` (H, W)."""
    faces = list(faces)
    if len(faces) != 1:
        return faces, []
    box = faces[0].box
    small = max(box[2] - box[0], box[3] - box[1]) < SUBJECT_FACE_SHARE * min(shape)
    return ([], faces) if small else (faces, [])


def face_map(shape: Tuple[int, int], faces: Sequence[Face]) -> np.ndarray:
    """Importance of faces, float32 (H, W) in [0, 1].

    Each face is an ellipse over its box grown by :data:`FACE_MARGIN` (hair, chin), 1.0 inside
    the box and falling smoothly to 0 at the ellipse's edge, weighted by its probability.
    """
    return raise_to_faces(np.zeros(shape, dtype=np.float32), faces)


def raise_to_faces(out: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """``np.maximum(out, face_map(out.shape, faces))``, in place (float32 (H, W)), touching
    only the faces' boxes (a 24-megapixel map: 0.4 s less than a second full-size map and a
    pass over both). Returns ``out``."""
    shape = out.shape
    for face in faces:
        l, t, r, b = _grown(face.box, shape)
        if r <= l or b <= t:
            continue
        bl, bt, br, bb = face.box
        cx, cy = (bl + br) / 2.0, (bt + bb) / 2.0
        rx, ry = max(1.0, (br - bl) * FACE_MARGIN / 2.0), max(1.0, (bb - bt) * FACE_MARGIN / 2.0)
        ys = (np.arange(t, b, dtype=np.float32) + 0.5 - cy) / ry
        xs = (np.arange(l, r, dtype=np.float32) + 0.5 - cx) / rx
        d = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)  # 1.0 at the grown ellipse's edge
        inner = 1.0 / FACE_MARGIN  # the detected box itself
        value = np.clip((1.0 - d) / (1.0 - inner), 0.0, 1.0) * np.float32(face.probability)
        np.maximum(out[t:b, l:r], value, out=out[t:b, l:r])
    return out


def faces_box(faces: Sequence[Face], shape: Tuple[int, int],
              margin: float = 1.15) -> Tuple[int, int, int, int]:
    """Bounding box of all faces (each grown by ``margin``), ``(left, top, right, bottom)``."""
    return union_box([_grown(f.box, shape, margin) for f in faces])


#: A head around a detected face, in shares of the face box's height: above it (the top of
#: the head and some room: MTCNN's box starts at the forehead) and below it (the chin and the
#: neck). Crops that can hold the heads hold them (a 16:9 of the astronaut cut the top of her
#: hair, a 4:1 of kodim18 put the chin on the frame's edge: visual review 25; the cameraman's
#: hair starts 0.6 of his profile's box above it, and a 320 x 180 banner cut it: review 30).
HEAD_ABOVE, HEAD_BELOW = 0.7, 0.25

#: A head's width in face boxes' widths: the hair and the ears on both sides (the
#: astronaut's hair reaches 0.29 of her box's width past each side; a square of her face at a
#: picture's left edge held 1.15 of it and cut 21 px of her hair: visual review 30).
HEAD_ACROSS = 1.6


def heads_box(faces: Sequence[Face], shape: Tuple[int, int],
              margin: float = HEAD_ACROSS) -> Tuple[int, int, int, int]:
    """Bounding box of the faces' heads: each face's box grown by ``margin`` across, and by
    :data:`HEAD_ABOVE` and :data:`HEAD_BELOW` of its height up and down, within the picture."""
    h, w = shape
    boxes = []
    for face in faces:
        left, _, right, _ = _grown(face.box, shape, margin)
        top, bottom = face.box[1], face.box[3]
        height = bottom - top
        boxes.append((left, max(0, int(top - HEAD_ABOVE * height)), right,
                      min(h, int(np.ceil(bottom + HEAD_BELOW * height)))))
    return union_box(boxes)


#: A person under a face, in face boxes: the shoulders' width across (about three heads' widths)
#: and the body's length below the face (a standing adult is about seven and a half heads
#: tall). A crop that leaves a face out stays clear of its person where it can: a window beside
#: a left-out face's head had kept a strip of its shoulders and arm at the frame's edge (rows
#: of people: 18 of 80 thumbnails, up to 4,160 px).
PERSON_ACROSS, PERSON_BELOW = 3.0, 6.5


def person_box(face: Face, shape: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """The person of ``face`` in a picture of ``shape`` (H, W): its head (:func:`heads_box`)
    and the body below it, :data:`PERSON_ACROSS` face widths across and down
    :data:`PERSON_BELOW` face heights below the face's box, within the picture."""
    (h, w), (l, t, r, b) = shape, face.box
    head = heads_box([face], shape)
    centre, half = (l + r) / 2.0, (r - l) * PERSON_ACROSS / 2.0
    body = (max(0, int(centre - half)), head[1], min(w, int(np.ceil(centre + half))),
            min(h, int(np.ceil(b + PERSON_BELOW * (b - t)))))
    return union_box([body, head])


def clipped_box(box, shape: Tuple[int, int]) -> Tuple[int, int, int, int]:
    """A detector's box (any numbers) as whole pixels inside a picture of ``shape`` (H, W)."""
    (h, w), (l, t, r, b) = shape, box
    return (min(max(0, int(np.floor(l))), w), min(max(0, int(np.floor(t))), h),
            min(max(0, int(np.ceil(r))), w), min(max(0, int(np.ceil(b))), h))


def face_boxes(face: Face, shape: Tuple[int, int]) -> Tuple[Tuple[int, int, int, int], ...]:
    """One face's boxes in a picture of ``shape`` (H, W), as the crops read them: its box
    grown for the crops (:func:`faces_box`), its core (:func:`face_core`), the detector's box
    in whole pixels (:func:`clipped_box`), its head (:func:`heads_box`) and its person
    (:func:`person_box`)."""
    return (faces_box([face], shape), cores_box([face], shape), clipped_box(face.box, shape),
            heads_box([face], shape), person_box(face, shape))


def union_box(boxes) -> Tuple[int, int, int, int]:
    """The bounding box of ``boxes`` (each ``(left, top, right, bottom)``)."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes))
