"""Warming a compressor up before its first image.

What the first image of a process would otherwise pay once is paid here, outside every image's
timings and time budget (``max_seconds``, the job's ``--max_seconds_per_image``): Numba
compiling its kernels (where its cache is empty, as on every fresh worker: about 5 s on
2 cores) or loading them, the CNN and face detector loading and running their first pass
(3.7 s on 2 cores). The job warms each engine up when it is built
(:mod:`transforms.compress`), the command line where ``--max-seconds`` is given (the first
photo of a run failed ``--max-seconds 2``, "stopped after the energy map", where the same photo
second took 0.2 s: CLI review 47).
"""

from __future__ import annotations

import logging
from typing import Any, Dict

import numpy as np

from .request import CompressRequest

__all__ = ["WARM_UP_SIZE", "warm_up_picture", "warm_up_kwargs", "warm_up"]

_LOG = logging.getLogger(__name__)

#: The warm-up picture's size (width, height): small, but photo-like and large enough for
#: every step (crop, seams, the quality search) to run.
WARM_UP_SIZE = (128, 96)


def warm_up_picture() -> np.ndarray:
    """A small photo-like RGB picture, ``(96, 128, 3)`` uint8 (smooth colours and grain:
    ``format auto`` takes it for a photo), the same on every worker."""
    w, h = WARM_UP_SIZE
    y, x = np.mgrid[0:h, 0:w]
    smooth = np.stack([x * 2.0, y * 2.5, (x + y) * 1.1], axis=-1)
    grain = np.random.default_rng(0).normal(0.0, 12.0, (h, w, 3))
    return np.clip(smooth + grain, 0, 255).astype(np.uint8)


def warm_up_kwargs(request: CompressRequest) -> Dict[str, Any]:
    """``compress()``'s arguments for the warm-up: ``request``'s, their size targets brought to
    the warm-up picture's scale (an aspect change stays one; a scale between a quarter and 2),
    no time budget, no progress bar."""
    kwargs = request.compress_kwargs()
    kwargs["max_seconds"] = None
    kwargs["show_progress"] = False
    w, h = WARM_UP_SIZE
    if request.scale is not None:
        # (at most 2x, at least a quarter: at --scale 1e-9 the warm-up made a 1 x 1 picture and
        # logged "<array>: 128x96 to 1x1 is stretched 1.33x", naming no input; edge review 37)
        kwargs["scale"] = min(max(request.scale, 0.25), 2.0)
    tw, th = request.target_width, request.target_height
    if tw is not None and th is not None:
        kwargs["target_width"], kwargs["target_height"] = \
            3 * w // 4, max(1, min(2 * h, round(3 * w / 4 * th / tw)))
    elif tw is not None:
        kwargs["target_width"] = 3 * w // 4
    elif th is not None:
        kwargs["target_height"] = 3 * h // 4
    if request.target_pixels is not None:
        kwargs["target_pixels"] = w * h // 2
    if request.max_dimension is not None:
        kwargs["max_dimension"] = 3 * w // 4
    return kwargs


def warm_up(compressor, request: CompressRequest) -> None:
    """Compress :func:`warm_up_picture` with ``request``'s settings once (and check a JPEG of
    it for damage, the kernel every JPEG input runs). One that fails (settings the small
    picture cannot meet) is logged and changes nothing else: the images report their own
    errors."""
    from .codec import encode
    from .codec.jpeg_scans import damage as jpeg_damage

    try:
        picture = warm_up_picture()
        compressor.compress(picture, **warm_up_kwargs(request))
        jpeg_damage(encode(picture, "jpeg", 90))
    except Exception as exc:  # noqa: BLE001 - the images report their own errors
        _LOG.info("compress engine warm-up did not finish (%s: %s); the first image compiles "
                  "what it needs", type(exc).__name__, exc)
