"""``semantic_compress``: the library's public name, a thin facade over :mod:`compress_core`.

``from semantic_compress import SemanticCompressor, DeepEnergyFunction`` and
``python -m semantic_compress photo.jpg --scale 0.5`` work as in the original README.
"""
import compress_core as _core
from compress_core import __all__, __version__  # noqa: F401

# every public name but DeepEnergyFunction, which __getattr__ imports on first access (as
# compress_core does; torch comes only with its first map)
globals().update({_name: getattr(_core, _name) for _name in __all__
                  if _name != "DeepEnergyFunction"})


def __getattr__(name):
    if name in __all__:
        return getattr(_core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
