"""Real photos with hand-measured boxes, shared by the energy tests.

Boxes are ``(left, top, right, bottom)`` in pixels, measured by eye on the photos with a 50-px
grid drawn over them. ``SUBJECTS`` are the subjects; ``BACKGROUNDS`` name a smooth or a
textured background region of the same photo. ``CARVE_CORES`` are the subjects' central parts,
narrow enough that half the width can be carved away beside them.
"""
import functools

import numpy as np

SUBJECTS = {
    "astronaut": (175, 80, 270, 175),  # the face
    "chelsea": (110, 40, 350, 280),  # the cat's head
    "coffee": (180, 20, 400, 240),  # the cup
    "rocket": (300, 125, 340, 400),  # the rocket on its pad
    "china": (85, 40, 345, 380),  # the pagoda
    "flower": (180, 95, 440, 350),  # the dahlia
}

#: (photo, background name, box, kind)
BACKGROUNDS = [
    ("astronaut", "wall", (310, 10, 375, 140), "smooth"),
    ("astronaut", "flag", (0, 0, 55, 240), "textured"),
    ("chelsea", "sofa", (390, 60, 451, 300), "smooth"),
    ("coffee", "table grain", (500, 0, 600, 400), "textured"),
    ("rocket", "sky", (100, 10, 290, 110), "smooth"),
    ("rocket", "launch tower", (560, 0, 640, 400), "textured"),
    ("china", "sky", (370, 20, 620, 130), "smooth"),
    ("china", "trees", (370, 300, 640, 427), "textured"),
    ("flower", "blurred leaves", (0, 50, 150, 300), "smooth"),
]

#: Minimum subject / background ratio of mean energy the semantic energies must reach.
REQUIRED_RATIO = {"smooth": 2.0, "textured": 1.5}

CARVE_CORES = {
    "astronaut": (175, 80, 270, 175),
    "coffee": (200, 40, 380, 200),
    "rocket": (300, 125, 340, 400),
    "china": (110, 60, 320, 300),
    "flower": (200, 110, 420, 330),
}


@functools.lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """An RGB uint8 photo from scikit-image or scikit-learn's bundled samples (read-only)."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        arr = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        arr = getattr(skimage.data, name)()
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


def box_mean(energy: np.ndarray, box) -> float:
    left, top, right, bottom = box
    return float(np.asarray(energy, dtype=np.float64)[top:bottom, left:right].mean())


def contrast(energy: np.ndarray, photo_name: str, background_box) -> float:
    """Mean energy in the subject box over mean energy in the background box."""
    return box_mean(energy, SUBJECTS[photo_name]) / max(box_mean(energy, background_box), 1e-9)
