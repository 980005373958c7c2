"""``semantic_compress``: the library's public name, a thin facade over :mod:`compress_core`.

``from semantic_compress import SemanticCompressor, DeepEnergyFunction`` and
``python -m semantic_compress photo.jpg --scale 0.5`` work as in the original README.
"""
from compress_core import *  # noqa: F401,F403
from compress_core import __all__, __version__  # noqa: F401
