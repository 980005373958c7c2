"""The photos the benchmarks read: the Kodak set (``../shared/data/kodak``), skimage's and
scikit-learn's sample photos, each as ``(name, RGB uint8 array)``."""
from __future__ import annotations

import os
from typing import Iterable, Iterator, Optional, Tuple

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")


def kodak_photos(numbers: Optional[Iterable[str]] = None) -> Iterator[Tuple[str, np.ndarray]]:
    """``kodimNN`` for each two-digit ``NN`` of ``numbers`` (default: every one there)."""
    if numbers is None:
        numbers = sorted(f[5:7] for f in os.listdir(KODAK) if f.startswith("kodim"))
    for n in numbers:
        yield f"kodim{n}", np.asarray(Image.open(os.path.join(KODAK, f"kodim{n}.png"))
                                      .convert("RGB"))


def skimage_photos(names: Iterable[str]) -> Iterator[Tuple[str, np.ndarray]]:
    """skimage.data's pictures by name, gray ones as RGB."""
    import skimage.data

    for name in names:
        arr = np.asarray(getattr(skimage.data, name)())
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        yield name, np.ascontiguousarray(arr[..., :3])


def sklearn_photos() -> Iterator[Tuple[str, np.ndarray]]:
    """scikit-learn's two sample photos, ``china`` and ``flower``."""
    from sklearn.datasets import load_sample_images

    yield from zip(("china", "flower"), load_sample_images().images)
