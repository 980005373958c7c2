"""The library's version, and :func:`build_id`: that version with a fingerprint of this build."""
import functools
import hashlib
import os

__version__ = "0.1.0"

#: The packages whose versions decide what a picture decodes and encodes to (decoders and
#: encoders), beside the library's own code.
_CODEC_PACKAGES = ("pillow", "pillow-heif", "rawpy", "pillow-jxl-plugin", "pyjpegli", "jpeglib")


@functools.lru_cache(maxsize=None)
def build_id() -> str:
    """``<version>+<12 hex digits>``: the version, with a digest of the library's source files
    and of the versions of its codec packages (Pillow, pillow-heif, rawpy, pillow-jxl-plugin,
    pyjpegli, jpeglib; ``-`` where one is missing). Two builds that may decode or encode a
    picture differently have different ids, whatever the version says (the version has not
    changed across releases that read more pictures); the job records it as each manifest
    row's ``library_version``, and tries again a failure recorded under another id."""
    from importlib import metadata

    digest = hashlib.sha256()
    root = os.path.dirname(os.path.abspath(__file__))
    for folder, dirs, files in sorted(os.walk(root)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).replace(os.sep, "/").encode())
                with open(path, "rb") as fh:
                    digest.update(fh.read())
    for package in _CODEC_PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{package}={version};".encode())
    return f"{__version__}+{digest.hexdigest()[:12]}"
