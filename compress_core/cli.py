"""Command line: ``python -m semantic_compress IMAGE [IMAGE ...] [options]``.

Compresses each image (default), or with ``--analyze`` prints its energy statistics, with
``--visualize-energy`` writes an energy heat map over the photo, with ``--visualize-seams N``
draws the first N seams that carving would remove. Exit status: 0 on success, 2 on bad
arguments or when any image could not be processed (one line on stderr per problem).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ._version import __version__
from .errors import SemanticCompressError

log = logging.getLogger("semantic_compress")

ENERGIES = ("gradient", "saliency", "deep", "hybrid")
METHODS = ("hybrid", "seam_carving", "smart_crop", "jpeg")
FORMATS = ("auto", "jpeg", "webp", "png", "avif")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2."""

    def error(self, message):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="semantic-compress",
        description="Shrink photos while keeping what matters in them (seam carving, smart crop "
                    "and CNN energy).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image paths or fsspec URIs")
    p.add_argument("-o", "--output", help="output file (one image) or folder (several); "
                   "default: IMAGE_compressed.EXT, IMAGE_energy.png or IMAGE_seams.png beside the input")
    size = p.add_argument_group("targets (several: the strictest wins)")
    size.add_argument("-s", "--scale", type=float, help="multiply each side, e.g. 0.5")
    size.add_argument("--width", type=int, help="exact output width")
    size.add_argument("--height", type=int, help="exact output height")
    size.add_argument("--target-pixels", type=int, help="largest width*height")
    size.add_argument("--max-dimension", type=int, help="largest side in pixels")
    size.add_argument("--target-bytes", type=int, help="largest encoded size in bytes")
    size.add_argument("--no-preserve-aspect", dest="preserve_aspect", action="store_false",
                      help="let the method choose the shape (area targets) or keep the other side")
    how = p.add_argument_group("method and energy")
    how.add_argument("-m", "--method", default="hybrid", choices=METHODS)
    how.add_argument("-e", "--energy", default=None, choices=ENERGIES,
                     help="importance map (default: the library default, deep CNN energy)")
    how.add_argument("--model", default=None,
                     help="CNN backbone for deep energy: efficientnet_lite0 (default, embedded), "
                          "vgg16, vgg19, resnet18, resnet50, efficientnet_b0")
    how.add_argument("--energy-mode", default="backward", choices=("backward", "forward"),
                     help="seam cost: backward (removed energy) or forward (inserted energy)")
    how.add_argument("--keep-mask", help="image file: non-black pixels are protected")
    how.add_argument("--remove-mask", help="image file: non-black pixels are removed first "
                     "(method seam_carving)")
    out = p.add_argument_group("output")
    out.add_argument("--format", default="auto", choices=FORMATS)
    out.add_argument("--quality", type=int, help="encoder quality (JPEG 1-95, WebP/AVIF 1-100)")
    out.add_argument("--json", action="store_true", help="print results as JSON")
    modes = p.add_argument_group("other modes")
    modes.add_argument("--analyze", action="store_true", help="print energy statistics")
    modes.add_argument("--visualize-energy", action="store_true",
                       help="write an energy heat map blended over the photo")
    modes.add_argument("--visualize-seams", type=int, metavar="N",
                       help="draw the first N vertical seams carving would remove")
    p.add_argument("--max-seconds", type=float, metavar="SECONDS",
                   help="time budget per image: past it that image stops with an error "
                        "(CompressionTimeoutError) and the next one starts")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _load_mask(path: Optional[str], name: str):
    if path is None:
        return None
    from .images import load_image

    pixels = load_image(path).pixels
    return pixels[..., :3].max(axis=2) > 0


def _output_path(args, src: str, suffix: str, ext: str, many: bool) -> str:
    stem = Path(src.rstrip("/").split("/")[-1]).stem or "image"
    if args.output and (many or args.output.endswith(("/", os.sep)) or os.path.isdir(args.output)):
        return os.path.join(args.output, f"{stem}{suffix}{ext}")
    if args.output:
        return args.output
    parent = src.rsplit("/", 1)[0] if "/" in src else "."
    return f"{parent}/{stem}{suffix}{ext}"


def _energy(args):
    from .energy.registry import make_energy

    if args.energy is None:
        if args.model is None:
            return None
        return make_energy("deep", model=args.model)
    return make_energy(args.energy, model=args.model)


def _result_record(src: str, dest: str, result) -> dict:
    return {
        "input": src, "output": dest, "status": "ok",
        "input_size": list(result.original_size), "output_size": list(result.size),
        "input_bytes": result.original_bytes, "output_bytes": result.compressed_bytes,
        "compression_ratio": round(result.compression_ratio, 4),
        "pixel_ratio": round(result.pixel_ratio, 4), "format": result.format,
        "quality": result.quality, "method": result.method, "energy": result.energy,
        "retained_energy_ratio": round(result.retained_energy_ratio, 4),
        "seams": result.seams, "crop_box": result.crop_box, "timings": result.timings,
    }


def _print_analysis(src: str, stats: dict) -> None:
    print(f"{src}  ({stats.get('width')}x{stats.get('height')}, energy {stats['energy'].get('name')})")
    for key, value in stats.items():
        if key in ("energy", "width", "height"):
            continue
        if isinstance(value, float):
            print(f"  {key:<26} {value:10.4f}")
        else:
            print(f"  {key:<26} {value}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``semantic-compress`` and ``python -m semantic_compress``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.visualize_seams is not None and args.visualize_seams < 1:
        parser.error("--visualize-seams must be a positive number of seams")
    if args.remove_mask and args.method != "seam_carving":
        parser.error("--remove-mask needs --method seam_carving")

    from .compressor import SemanticCompressor

    try:
        compressor = SemanticCompressor(energy_function=_energy(args),
                                         energy_mode=args.energy_mode)
    except (ValueError, TypeError, SemanticCompressError) as exc:
        print(f"semantic-compress: error: {exc}", file=sys.stderr)
        return 2

    many = len(args.images) > 1
    records: List[dict] = []
    failed = 0
    for src in args.images:
        try:
            records.append(_process(args, compressor, src, many))
        except (ValueError, TypeError, OSError, SemanticCompressError) as exc:
            failed += 1
            message = str(exc) if str(exc).startswith(src) else f"{src}: {exc}"
            print(f"semantic-compress: error: {message}", file=sys.stderr)
            records.append({"input": src, "status": "error", "error_type": type(exc).__name__,
                            "error_message": str(exc)})
    if args.json:
        print(json.dumps(records if many else records[0], indent=2, default=str))
    return 2 if failed else 0


def _process(args, compressor, src: str, many: bool) -> dict:
    from .images import load_image

    if args.analyze:
        stats = compressor.analyze_content(src)
        if not args.json:
            _print_analysis(src, stats)
        return {"input": src, "status": "ok", **stats}

    if args.visualize_energy or args.visualize_seams:
        from . import visualize
        from .codec import encode

        loaded = load_image(src)
        if args.visualize_energy:
            energy = compressor.energy_function(loaded.pixels[..., :3])
            picture = visualize.overlay_energy(loaded.pixels[..., :3], energy)
            suffix = "_energy"
        else:
            from .seams import SeamCarver

            carver = SeamCarver(energy_function=compressor.energy_function,
                                keep_mask=_load_mask(args.keep_mask, "keep_mask"),
                                energy_mode=args.energy_mode)
            n = min(args.visualize_seams, loaded.pixels.shape[1] - 1)
            seams = carver.find_seams(loaded.pixels, n)
            picture = visualize.draw_seams(loaded.pixels[..., :3], seams_vertical=seams)
            suffix = "_seams"
        dest = _output_path(args, src, suffix, ".png", many)
        from .storage import write_atomic

        write_atomic(dest, encode(np.ascontiguousarray(picture), "png"))
        if not args.json:
            print(f"{src} -> {dest}")
        return {"input": src, "output": dest, "status": "ok"}

    fmt = args.format
    if fmt == "auto" and args.output and not many:
        from .codec import format_from_suffix

        by_suffix = format_from_suffix(args.output)
        fmt = by_suffix.value if by_suffix is not None else fmt
    result = compressor.compress(
        src, target_bytes=args.target_bytes, target_pixels=args.target_pixels,
        max_dimension=args.max_dimension, scale=args.scale, method=args.method,
        preserve_aspect=args.preserve_aspect, show_progress=not args.quiet and not args.json,
        target_width=args.width, target_height=args.height, format=fmt,
        quality=args.quality, keep_mask=_load_mask(args.keep_mask, "keep_mask"),
        remove_mask=_load_mask(args.remove_mask, "remove_mask"), max_seconds=args.max_seconds)
    dest = _output_path(args, src, "_compressed", result.extension, many)
    result.save(dest)
    record = _result_record(src, dest, result)
    if not args.json:
        print(f"{src} -> {dest}: {result.original_size[0]}x{result.original_size[1]} -> "
              f"{result.size[0]}x{result.size[1]}, {result.original_bytes:,} -> "
              f"{result.compressed_bytes:,} bytes ({result.compression_ratio:.1%}), "
              f"{result.method}, {result.timings['total_ms']:.0f} ms")
    return record


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
