"""Where Numba keeps the compiled kernels (``@njit(cache=True)``), set before Numba is imported.

Numba caches beside the source (``__pycache__`` in the package) or, where that folder is read-
only, in the user's cache (``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``). Where neither can be
written (an installed package in a read-only image, run by a user whose home is read-only: a
non-root or read-only-root container), the first kernel's decoration raised "cannot cache
function '_hrow': no locator available", and ``import compress_core`` failed (deploy review 25).
There, and only there, the cache goes to the temporary folder (``NUMBA_CACHE_DIR``), in a
folder only this user may write; a ``NUMBA_CACHE_DIR`` the user set is kept.
"""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from typing import Mapping, Optional

__all__ = ["cache_folder", "use_a_writable_cache"]


def _writable(folder: str) -> bool:
    """Whether ``folder`` could be written: itself, or its nearest existing parent (Numba
    creates the folders it needs), where nothing on the way is a file (a home below a file,
    ``/x/afile/home``, had passed on the writable folder above the file, and Numba then
    failed every import: "no locator available"; Dataflow review 31)."""
    while folder and not os.path.isdir(folder):
        if os.path.lexists(folder):   # a file, or a link to nothing: no folder can be made
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent
    return bool(folder) and os.access(folder, os.W_OK)


def cache_folder(package: str, environ: Mapping[str, str]) -> Optional[str]:
    """The ``NUMBA_CACHE_DIR`` to set for the kernels of the package folder ``package``, or
    None where Numba's own choice works (or the user set one)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    pycache = os.path.join(package, "__pycache__")
    if _writable(pycache):
        return None
    user = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if _writable(os.path.join(user, "numba")):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"semantic-compress-numba-{uid}")


def _own_folder(folder: str) -> str:
    """``folder``, made private (0700) where it is new; a fresh private folder instead where
    it is not a folder of this user's that only they may write: Numba unpickles its cache
    index, and another user of a shared machine could have made the fixed name first."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.lstat(folder)
        uid = os.getuid() if hasattr(os, "getuid") else info.st_uid
        if stat.S_ISDIR(info.st_mode) and info.st_uid == uid \
                and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return folder
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="semantic-compress-numba-")


def use_a_writable_cache() -> None:
    """Set ``NUMBA_CACHE_DIR`` where Numba could cache nowhere (module docstring)."""
    folder = cache_folder(os.path.dirname(os.path.abspath(__file__)), os.environ)
    if folder is None:
        return
    folder = _own_folder(folder)
    os.environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:      # imported before this package: its configuration read
        sys.modules["numba"].config.CACHE_DIR = folder
