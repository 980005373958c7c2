"""The library's version, and :func:`build_id`: that version with a fingerprint of this build."""
import functools
import hashlib
import os

__version__ = "0.1.0"

#: The packages whose versions decide what a picture decodes, resamples and encodes to
#: (decoders, encoders, the arrays' libraries), beside the library's own code.
_CODEC_PACKAGES = ("pillow", "pillow-heif", "rawpy", "tifffile", "imagecodecs",
                   "pillow-jxl-plugin", "pyjpegli", "jpeglib", "mozjpeg-lossless-optimization",
                   "numpy", "scipy")


@functools.lru_cache(maxsize=None)
def build_id() -> str:
    """``<version>+<12 hex digits>``: the version, with a digest of the library's modules (its
    ``.py`` files named as modules, in folders named as packages: an editor's ``.#x.py`` lock
    or a scratch copy does not count) and of the versions of the packages that decode,
    resample and encode (:data:`_CODEC_PACKAGES`; ``-`` where one is missing). Two builds that
    may decode or encode a picture differently have different ids, whatever the version says
    (it has not changed across releases that read more pictures); the job records it as each
    manifest row's ``library_version``, and tries again a failure recorded under another
    id."""
    from importlib import metadata

    digest = hashlib.sha256()
    _add_modules(digest, os.path.dirname(os.path.abspath(__file__)))
    for package in _CODEC_PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{package}={version};".encode())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def _add_modules(digest, root: str) -> None:
    """``digest`` updated with each module of the package folder ``root`` (its ``.py`` files
    named as modules, in folders named as packages), its path below ``root`` and its source."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d.isidentifier() and d != "__pycache__")
        for name in sorted(files):
            if not (name.endswith(".py") and name[:-3].isidentifier()):
                continue
            path = os.path.join(folder, name)
            try:
                with open(path, "rb") as fh:
                    source = fh.read()
            except OSError:  # (a dangling link, a file being replaced: not a module now)
                continue
            digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
            digest.update(source)


def code_id(*roots: str) -> str:
    """12 hex digits of a digest of the modules of the package folders ``roots``, their code
    alone (:func:`build_id` adds the codec packages' versions, which a launcher installed
    from version ranges may not share with a worker image built from the pins)."""
    digest = hashlib.sha256()
    for root in roots:
        digest.update(f"{os.path.basename(os.path.normpath(root))}/".encode())
        _add_modules(digest, root)
    return digest.hexdigest()[:12]
