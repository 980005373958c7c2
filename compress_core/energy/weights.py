"""Where the pretrained weights of a backbone come from: an explicit file, the package that
embeds them, or the torch hub cache (downloaded there where a network exists and downloads are
allowed).

Missing weights offline raise :class:`~compress_core.errors.WeightsNotFoundError` naming the
file, the folder it is looked for in and the URL to fetch it from; weights are never random.
Used by :mod:`compress_core.energy.backbones`, which re-exports the public names.
"""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple
from urllib.parse import urlparse

from ..errors import WeightsNotFoundError

if TYPE_CHECKING:
    from .backbones import BackboneSpec

__all__ = ["OFFLINE_ENV", "hub_checkpoint_dir", "model_weights_problem", "resolve_weights",
           "weights_problem"]

logger = logging.getLogger(__name__)

#: Environment variable that forbids downloads (``1``/``true``/``yes``).
OFFLINE_ENV = "SEMANTIC_COMPRESS_OFFLINE"


def hub_checkpoint_dir() -> Path:
    """The torch hub checkpoint folder (``$TORCH_HOME/hub/checkpoints`` by default)."""
    import torch  # (imported where a model is loaded: building an energy imports no torch)

    return Path(torch.hub.get_dir()) / "checkpoints"


def _downloads_allowed() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def _host_reachable(url: str, timeout: float = 3.0) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_weights(spec: BackboneSpec, weights_path=None, download: Optional[bool] = None) -> Path:
    """Find (or, where allowed and possible, download) the weights file of ``spec``.

    Parameters
    ----------
    spec : BackboneSpec
        The backbone.
    weights_path : str or os.PathLike, optional
        An explicit weights file (a saved ``state_dict``); it must exist.
    download : bool, optional
        Allow a download into the torch hub cache when the file is missing. Default: allowed
        unless ``SEMANTIC_COMPRESS_OFFLINE=1``.

    Returns
    -------
    pathlib.Path
        The weights file.

    Raises
    ------
    WeightsNotFoundError
        If the file is not on disk and cannot be downloaded; the message names the file and
        the folder it is looked for in.
    """
    if weights_path is not None:
        path = Path(os.fspath(weights_path)).expanduser()
        if not path.is_file():
            raise WeightsNotFoundError(f"{spec.name}: weights file {str(path)!r} does not exist")
        return path
    path, problem = _where(spec, download, weights_path_hint=True)
    if problem is not None:
        raise WeightsNotFoundError(problem)
    if path.is_file():
        return path
    folder = path.parent
    logger.info("downloading %s weights from %s to %s", spec.name, spec.weights_url, folder)
    folder.mkdir(parents=True, exist_ok=True)
    import torch

    try:
        torch.hub.download_url_to_file(
            spec.weights_url, str(path), hash_prefix=_hash_prefix(spec.weights_file_name)
        )
    except Exception as exc:  # network errors come in many types
        raise WeightsNotFoundError(
            f"{_not_found(spec, folder, True)}; download failed ({type(exc).__name__}: {exc})"
        ) from exc
    return path


def weights_problem(spec: BackboneSpec) -> Optional[str]:
    """Why the default weights of ``spec`` could not be had here now (what
    :func:`resolve_weights` would raise), without downloading them; None where they are on disk
    or a download is allowed and the host answers. For a launch that should stop before every
    image fails with it (job review 43)."""
    return _where(spec, None, weights_path_hint=False)[1]


def model_weights_problem(energy: str, model: Optional[str]) -> Optional[str]:
    """``"--model <model>: <why>"`` where ``energy`` uses a CNN (``model``'s) whose default
    weights cannot be had here now (:func:`weights_problem`); None where they can, or where
    ``energy`` uses none. The job's launch and the command line ask it once, before any image:
    each image had failed with it (job review 43, CLI review 47)."""
    from .backbones import get_backbone_spec
    from .registry import uses_model

    if model is None or not uses_model(energy):
        return None
    spec = get_backbone_spec(model)
    problem = weights_problem(spec)
    if problem is None:
        return None
    if problem.startswith(f"{spec.name}: "):
        problem = problem[len(spec.name) + 2:]
    return f"--model {model}: {problem}"


def _where(spec: BackboneSpec, download: Optional[bool],
           weights_path_hint: bool) -> Tuple[Path, Optional[str]]:
    """The weights file of ``spec`` (on disk, or where a download would put it) and why it
    cannot be had (None: on disk, or a download is allowed and its host answers)."""
    if spec.embedded_weights is not None:
        path = spec.embedded_weights()
        return path, None if path.is_file() else (
            f"{spec.name}: embedded weights {str(path)!r} are missing; reinstall the package "
            "that ships them" + (" or pass weights_path" if weights_path_hint else ""))
    folder = hub_checkpoint_dir()
    path = folder / spec.weights_file_name
    if path.is_file():
        return path, None
    allowed = _downloads_allowed() if download is None else bool(download)
    if not allowed:
        return path, _not_found(spec, folder, weights_path_hint) + "; downloads are disabled"
    if not _host_reachable(spec.weights_url):
        return path, _not_found(spec, folder, weights_path_hint) + "; no network to download it"
    return path, None


def _not_found(spec: BackboneSpec, folder: Path, weights_path_hint: bool) -> str:
    return (f"{spec.name}: pretrained weights {spec.weights_file_name!r} not found in "
            f"{str(folder)!r}. Download {spec.weights_url} and put it in that folder (or in "
            "hub/checkpoints of the folder TORCH_HOME names"
            + ("; the library also takes weights_path=)" if weights_path_hint else ")"))


def _hash_prefix(file_name: str) -> Optional[str]:
    """torchvision file names end in ``-<first hex digits of the SHA-256>.pth``."""
    stem = file_name.rsplit(".", 1)[0]
    tail = stem.rsplit("-", 1)[-1]
    return tail if len(tail) >= 6 and all(c in "0123456789abcdef" for c in tail) else None
