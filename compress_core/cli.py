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
from typing import List, Optional, Sequence

import numpy as np

from .errors import SemanticCompressError
from .flags import (BuildVersion, OneLineParser, add_option_flags, flag_name, in_flags,
                    option_values)
from .request import option as request_option
from .storage import (cannot_write, for_terminal, is_bucket, local_path, not_a_file,
                      split_protocol)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser; the compression flags come from the option table
    (:data:`compress_core.request.OPTIONS`), one flag per ``compress()`` option."""
    p = OneLineParser(
        prog="semantic-compress",
        description="Shrink photos while keeping what matters in them (seam carving, smart crop "
                    "and CNN energy).",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image paths or fsspec URIs")
    own = [p.add_argument(
        "-o", "--output", help="output file (one image) or folder (several); "
        "with --format auto a file's suffix picks the format (-o thumb.webp); "
        "default: IMAGE_compressed.EXT, IMAGE_energy.png or IMAGE_seams.png beside the "
        "input, IMAGE being its whole file name (photo.png -> "
        "photo.png_compressed.jpg); inputs that would share an output are refused")]
    add_option_flags(p, "cli")
    own.append(p.add_argument("--json", action="store_true", help="print results as JSON"))
    modes = p.add_argument_group("other modes")
    own.append(modes.add_argument("--analyze", action="store_true",
                                  help="print energy statistics"))
    own.append(modes.add_argument("--visualize-energy", action="store_true",
                                  help="write an energy heat map blended over the photo"))
    own.append(modes.add_argument("--visualize-seams", type=int, metavar="N",
                                  help="draw the first N vertical seams carving would remove"))
    own.append(p.add_argument("-q", "--quiet", action="store_true", help="no progress bars"))
    own.append(p.add_argument("-v", "--verbose", action="store_true",
                              help="debug logging of semantic-compress's own steps, and other "
                                   "packages' tracebacks (a storage driver's retries)"))
    own.append(p.add_argument("--version", action=BuildVersion,
                              help="print the build and exit"))
    p.own_flags = frozenset(name for action in own for name in action.option_strings)
    return p


def _load_mask(path: Optional[str], name: str):
    if path is None:
        return None
    from .images import load_image

    pixels = load_image(path).pixels
    mask = pixels[..., :3].max(axis=2) > 0
    if pixels.shape[2] == 4:  # a mask painted on a transparent layer: what is transparent is
        mask &= pixels[..., 3] > 0  # not painted, whatever colour it keeps (often white)
    return mask


def _input_name(src: str, without_query: bool = False) -> str:
    """The file name of an input path or URI, extension included (``"image"`` if it has none);
    with ``without_query``, a web address's query and fragment left out."""
    path = local_path(src)
    if path is not None:
        name = os.path.basename(path.rstrip("/" + os.sep))
    else:
        protocol, rest = split_protocol(src)
        if without_query and protocol in _WEB_PROTOCOLS:   # (saved here, as wget names it)
            rest = rest.split("#", 1)[0].split("?", 1)[0]
        name = rest.rstrip("/").split("/")[-1]
    return name or "image"


def _output_path(args, src: str, suffix: str, ext: str, many: bool) -> str:
    """Where ``src``'s output goes: ``-o`` itself, or ``<input file name><suffix><ext>`` in the
    ``-o`` folder or beside the input. The input's extension stays in the name, so
    ``photo.png`` and ``photo.gif`` (both written as JPEG by format auto) never share one."""
    protocol = split_protocol(src)[0]
    # a web picture's query is left out where it is saved in the current folder only: in an -o
    # folder its name keeps it, as before, where pictures told apart by their query alone
    # (show.php?id=1, show.php?id=2) each had their output (diff review 5, 47)
    here = protocol in _WEB_PROTOCOLS and not args.output
    name = f"{_short_name(_input_name(src, without_query=here), suffix)}{suffix}{ext}"
    if args.output and _output_is_folder(args, many):
        return os.path.join(args.output, name)
    if args.output:
        return args.output
    if protocol is None:   # a path: its folder as the system spells it
        # (a Windows path's backslashes were not seen: outputs went to the current folder)
        return os.path.join(os.path.dirname(src) or ".", name)
    if protocol in _WEB_PROTOCOLS:   # a web page's picture: saved here, as wget and curl -O
        # save it (it was sent to the web server with an HTTP PUT: CLI review 47)
        return os.path.join(".", name)
    return f"{src.rsplit('/', 1)[0]}/{name}"


#: Protocols that read from web servers: no output is written "beside" such an input.
_WEB_PROTOCOLS = frozenset(("http", "https"))


#: The longest file name most file systems take (bytes), and the room kept for the extension.
_NAME_MAX, _EXT_ROOM = 255, 8


def _short_name(name: str, suffix: str) -> str:
    """``name``, cut with a digest of it (:func:`~compress_core.storage.distinct_relpath`) when
    ``name + suffix + extension`` would be longer than a file name may be: a 240-byte input
    name was an ``[Errno 36] File name too long`` after the compression."""
    if len(os.fsencode(name + suffix)) + _EXT_ROOM <= _NAME_MAX:
        return name
    from .storage import distinct_relpath

    # (sanitising reads a backslash as a folder separator: one file name stays one)
    return distinct_relpath(name, max_name_bytes=min(200, _NAME_MAX - _EXT_ROOM - len(suffix))
                            ).replace("/", "_")


def _shared_output(args, many: bool, request) -> Optional[str]:
    """Why two inputs would write one output (say ``a/photo.jpg`` and ``b/photo.jpg`` into one
    ``-o`` folder), or why one output would replace its own input (``x.jpg -o x.jpg``), or
    ``None``. Checked before any image is read, so nothing is written. ``request``: the
    :class:`~compress_core.request.CompressRequest`, which knows its outputs' suffixes."""
    if args.analyze:
        return None
    suffix = ("_energy" if args.visualize_energy else
              "_seams" if args.visualize_seams else "_compressed")
    if not many:
        src = args.images[0]
        if args.output and _same_file(_output_path(args, src, suffix, "", many), src):
            return (f"-o {args.output} is the input itself: writing it would replace the "
                    "original; give -o another name")
        return None
    if _is_local_file(args.output) or _is_store_file(args.output):
        return f"-o {args.output} is a file; with several images -o is a folder"
    # an output written over another input before it is read (a photo that happens to be
    # named x.jpg_compressed.jpg beside x.jpg was replaced by x.jpg's output, then compressed;
    # under a fixed format only its suffix: a WebP output of an earlier run beside x.jpg was
    # "replaced" by --format jpeg's x.jpg_compressed.jpg, diff review 1, 49)
    inputs = {_file_key(src): src for src in args.images
              if _is_local_file(src) or local_path(src) is None}
    endings = request.output_extensions() if suffix == "_compressed" else (".png",)
    first, folded = {}, {}
    for src in args.images:
        dest = _output_path(args, src, suffix, "", many)
        for ending in endings:
            other = inputs.get(_file_key(dest + ending))
            if other is not None and other != src:
                return (f"{other} is also an input, and {src}'s output {dest + ending} would "
                        "replace it before it is read; give -o a folder holding no input")
        if dest not in first:
            first[dest] = src
        elif first[dest] == src:
            return f"{src} is given twice"
        elif _same_file(first[dest], src):   # (x.jpg ./x.jpg: "both written", "separate -o")
            return f"{first[dest]} and {src} are one file, given twice"
        else:
            return (f"{first[dest]} and {src} would both be written to {dest}.*; "
                    "compress them with separate -o folders")
        other = folded.setdefault(dest.casefold(), dest)
        if other != dest and _ignores_case(dest):
            return (f"{first[other]} and {src} would both be written to {dest}.* (the folder "
                    "ignores case: it holds one file for both names); compress them with "
                    "separate -o folders")
    return None


def _same_file(dest: str, src: str) -> bool:
    """Whether ``dest`` (the output, or another input) is the input ``src``: on a local disk
    the same file under any spelling (a link, ``./``, another case where the disk ignores
    case), in a bucket the same URI."""
    if _is_local_file(src):
        path = local_path(dest)
        return path is not None and os.path.exists(path) and os.path.samefile(
            path, local_path(src))
    from .storage import normalize_uri

    return local_path(src) is None and normalize_uri(dest) == normalize_uri(src)


def _file_key(uri: str) -> str:
    """One spelling per file: a local path resolved, a bucket's object as its normalised URI
    (an input in a bucket was replaced by another input's output before it was read, where the
    same two files on a disk were refused: S3 review 49)."""
    path = local_path(uri)
    if path is not None:
        return os.path.realpath(path)
    from .storage import normalize_uri

    return "\0" + normalize_uri(uri)


def _is_store_file(uri: Optional[str]) -> bool:
    """Whether ``uri`` names an object of a store (not a local path) that exists as a file."""
    if uri is None or local_path(uri) is not None or uri.endswith("/"):
        return False
    from .storage import file_size

    try:
        return file_size(uri) is not None
    except Exception:  # noqa: BLE001 - a store that cannot be asked: the write will say why
        return False


def _is_local_file(uri: Optional[str]) -> bool:
    path = None if uri is None else local_path(uri)
    return path is not None and os.path.isfile(path)


def _ignores_case(dest: str) -> bool:
    """Whether the local folder of the output ``dest`` (or, not made yet, the nearest folder
    above it) is on a disk that ignores case, as macOS's and Windows' do: a probe file made
    there is found under its name in the other case. Object stores never do."""
    import tempfile

    path = local_path(dest)
    if path is None:
        return False
    folder = os.path.abspath(os.path.dirname(path) or ".")
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    try:
        fd, probe = tempfile.mkstemp(prefix=".CaseProbe-", dir=folder)
    except OSError:
        return False  # not writable: the write fails later, with its own error
    try:
        os.close(fd)
        head, name = os.path.split(probe)
        return os.path.exists(os.path.join(head, name.swapcase()))
    finally:
        os.unlink(probe)


def _suffix_mismatch(args, request) -> Optional[str]:
    """Why ``-o FILE``'s suffix contradicts an explicit ``--format`` (or names a format that
    cannot be written: ``-o thumb.gif`` held a JPEG), or ``None``.

    With ``--format auto`` the suffix picks the format (:func:`_request`); with another format, a
    file named for a different one would be re-encoded on save, so that the bytes written would
    be neither the format asked for nor the size printed (and could break ``--target-bytes``).
    """
    if args.analyze:
        return None
    if args.output and not _output_is_folder(args, len(args.images) > 1):
        from .codec import unwritable_suffix

        foreign = unwritable_suffix(args.output)
        if foreign is not None:
            return (f"-o {args.output} names {foreign}, a format semantic-compress does not "
                    "write; use .jpg, .png, .webp, .avif or .jxl")
    if args.visualize_energy or args.visualize_seams:
        return None
    by_suffix = _format_of_output_file(args)
    if by_suffix is None or by_suffix == request.format:
        return None
    return (f"-o {args.output} names {by_suffix} but --format is {request.format}; "
            "drop --format (the suffix then picks it) or change the suffix")


def _result_record(src: str, dest: str, result) -> dict:
    return {
        "input": src, "output": dest, "status": "ok",
        "input_size": list(result.original_size), "output_size": list(result.size),
        "input_bytes": result.original_bytes, "output_bytes": result.compressed_bytes,
        "compression_ratio": round(result.compression_ratio, 4),
        "pixel_ratio": round(result.pixel_ratio, 4), "format": result.format,
        "quality": result.quality, "quality_score": _score(result),
        "allocation": (result.operations or {}).get("allocation", "uniform"),
        "method": result.method, "energy": result.energy,
        "retained_energy_ratio": round(result.retained_energy_ratio, 4),
        "stretch": round(result.stretch, 4),
        "seams": result.seams, "crop_box": result.crop_box, "timings": result.timings,
    }


def _describe_written(record: dict, dest: str) -> None:
    """``record`` made to describe the file ``dest`` where ``save()`` wrote another format than
    the result's: a JPEG file kept as it is, saved as ``.jxl``, is its lossless recompression
    (the line had said 984 bytes of a 1,108-byte file)."""
    from .codec import format_from_suffix, pil_name
    from .storage import file_size

    wanted = format_from_suffix(dest)
    if wanted is None or pil_name(wanted) == record["format"]:
        return
    size = file_size(dest)
    if size is not None:
        record.update(format=pil_name(wanted), output_bytes=size,
                      compression_ratio=round(size / max(1, record["input_bytes"]), 4))


def _score(result) -> Optional[float]:
    """The SSIMULACRA2 score ``quality="auto"`` reached (None where no search ran)."""
    return (result.operations or {}).get("quality_score")


def say(text: str, prog: str = "semantic-compress",
        still: Optional[str] = "the images are still written") -> None:
    """Lines of results on standard output (also the report command's), control characters
    escaped but the text's own line breaks (a name's are the caller's to escape, with
    :func:`~compress_core.storage.for_terminal`: one holding a line break printed a forged
    result line, diff review 27). Where its reader has gone (``| head -1``), the lines after are dropped, not the images:
    the broken pipe of a result line had counted an image already written as failed, and the
    exit status said 2 (CLI review 25). Any other error is said once, by ``prog``, with what
    ``still`` holds, and kept in :data:`stdout_failed` for the caller's exit status."""
    try:   # (a name's escape sequences recoloured or erased the terminal: review 27)
        print(for_terminal(text, line_breaks=True), flush=True)
    except OSError as exc:
        if not isinstance(exc, BrokenPipeError) and not stdout_failed:
            # a log on a full disk (> /var/log/x.log, > /dev/full): each image written was
            # counted failed with "No space left on device", as if its output could not be
            # written, and --json ended in a traceback (CLI review 47). Said once; the images
            # go on, and the exit status says that their lines were lost.
            stdout_failed.append(exc)
            print(f"{prog}: error: cannot write the results to standard output "
                  f"({exc.strerror or exc}){f'; {still}' if still else ''}", file=sys.stderr)
        devnull = os.open(os.devnull, os.O_WRONLY)   # (the interpreter's last flush too)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


#: The error that standard output met (:func:`say`), if any: lines after it are dropped.
stdout_failed: List[OSError] = []


def _print_analysis(src: str, stats: dict) -> None:
    say(f"{for_terminal(src)}  ({stats.get('width')}x{stats.get('height')}, energy "
         f"{stats['energy'].get('name')})")
    for key, value in stats.items():
        if key in ("energy", "width", "height"):
            continue
        if isinstance(value, float):
            say(f"  {key:<26} {value:10.4f}")
        elif isinstance(value, tuple) and any(isinstance(v, float) for v in value):
            # (a centre of mass printed 16 digits a coordinate: new-user review 42)
            say(f"  {key:<26} ({', '.join(f'{v:.4g}' for v in value)})")
        else:
            say(f"  {key:<26} {value}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``semantic-compress`` and ``python -m semantic_compress``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    del stdout_failed[:]   # (main() run again in one process)
    if hasattr(sys.stdout, "reconfigure"):   # a name the console cannot encode is escaped: on a
        # cp1252 pipe (Windows) a Japanese file name, written, was counted failed, exit 2
        sys.stdout.reconfigure(errors="backslashreplace")
    had_handlers = bool(logging.getLogger().handlers)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not had_handlers:   # (the handler made here: a host's own are left as they are)
        for handler in logging.getLogger().handlers:
            handler.addFilter(_said_in_flags)
    if args.verbose:   # this tool's own steps only: Pillow's 49 debug lines for one image's
        logging.getLogger("compress_core").setLevel(logging.DEBUG)   # plugins drowned them
    if args.visualize_seams is not None and args.visualize_seams < 1:
        parser.error("--visualize-seams must be a positive number of seams")
    modes = [flag for flag, given in (("--analyze", args.analyze),
                                      ("--visualize-energy", args.visualize_energy),
                                      ("--visualize-seams", args.visualize_seams)) if given]
    if len(modes) > 1:   # (one ran, the other was ignored: CLI review 25)
        parser.error(f"{' and '.join(modes)}: give one mode at a time")
    if args.output == "-":   # it wrote a file named '-' in the working folder
        parser.error("-o -: standard output is not supported; give a file or a folder")
    if args.output is not None and not args.output.strip():   # (as no -o: beside the input)
        parser.error(f"-o {args.output!r}: empty (an unset shell variable?); leave -o out to "
                     "write beside each input")

    if "-" in args.images and not os.path.lexists("-"):
        parser.error("-: standard input is not supported; give the image's file")

    from .compressor import SemanticCompressor

    try:
        request = _request(args)
    except (ValueError, TypeError) as exc:  # (said in the flags typed, not in parameters)
        parser.error(str(exc) if isinstance(exc, _InFlags) else in_flags(str(exc), "cli"))
    missing = _missing_weights(args, request) or _missing_package(args, request)
    if missing:   # (each image whose map it computes had failed with it, one line each)
        parser.error(missing)
    many = len(args.images) > 1
    mismatch = _suffix_mismatch(args, request)
    if mismatch:
        parser.error(mismatch)
    clash = _shared_output(args, many, request)
    if clash:
        print(f"semantic-compress: error: {clash}; nothing was written", file=sys.stderr)
        return 2
    path = local_path(args.output) if args.output else None
    if path:   # a local -o this user cannot write: said once, before any image (it was found
        # after each image's compression, naming a hidden temporary file; review 30)
        folder = (path if _output_is_folder(args, many) or not os.path.lexists(path)
                  else os.path.dirname(path) or ".")
        problem = (None if _output_is_folder(args, many) else not_a_file(path)) or \
            cannot_write({"-o": folder})
        if problem:
            print(f"semantic-compress: error: {problem}; nothing was written", file=sys.stderr)
            return 2
    masks = {}
    for name, flag in (("keep_mask", "--keep-mask"), ("remove_mask", "--remove-mask")):
        try:   # read once, not per image (CLI review 25: a missing file was an error per image)
            masks[name] = _load_mask(getattr(args, name), name)
        except (ValueError, OSError, SemanticCompressError) as exc:
            print(f"semantic-compress: error: {flag} {exc}; nothing was read", file=sys.stderr)
            return 2
    from .images import let_pillow_open

    let_pillow_open(request.max_pixels)   # (--max-pixels above Pillow's own limit: the
    try:                                  # process is the command line's)
        compressor = SemanticCompressor.from_request(request)
    except (ValueError, TypeError, SemanticCompressError) as exc:
        print(f"semantic-compress: error: {exc}", file=sys.stderr)
        return 2
    # said after every refusal (an error stays one line), before the first image
    for unused in request.options_without_a_map():
        print(f"semantic-compress: warning: {in_flags(unused, 'cli')}", file=sys.stderr)

    if request.max_seconds is not None:   # (what the first image would pay once, outside
        from .warm_up import warm_up       # its budget: the CNN's loading, Numba's compiling)

        try:
            warm_up(compressor, request)
        except KeyboardInterrupt:
            print("semantic-compress: interrupted before the first image; nothing was written",
                  file=sys.stderr)
            return 130
    records: List[dict] = []
    failed = 0
    for done, src in enumerate(args.images):
        try:
            records.append(_process(args, compressor, request, src, many, masks))
        except KeyboardInterrupt:    # (a traceback of 20 lines had said it)
            print(f"semantic-compress: interrupted at {src}; {done - failed} of "
                  f"{len(args.images)} written before it", file=sys.stderr)
            if args.json and many:   # the records of the images written (and failed) before
                # it: a script read nothing, not the names of the files it had been given
                # (CLI review 47)
                say(json.dumps(records, indent=2, default=str))
            return 130
        except (ValueError, TypeError, OSError, ImportError, MemoryError,
                SemanticCompressError) as exc:
            # ImportError: an optional package the energy needs is missing (facenet-pytorch,
            # which `pip install .` does not bring); its message says what to install.
            # MemoryError: a picture too large for this machine (a --max-pixels raised past
            # it) is that image's error; a traceback had ended the batch (CLI review 37)
            failed += 1
            # said in the flags typed (--max-pixels, --target-bytes 10), the path as it is
            text = str(exc) or (f"{type(exc).__name__} (not enough memory for this picture)"
                                if isinstance(exc, MemoryError) else type(exc).__name__)
            text = text[len(src):] if text.startswith(src) else f": {text}"
            if (text == ": no such file" and any(c in src for c in "*?[")
                    and local_path(src) is not None):
                text += ("; the command line matches no patterns itself: the shell expands "
                         "an unquoted one where files match it (or run the batch job: "
                         "python -m pipeline --input)")
            print(for_terminal(f"semantic-compress: error: {src}{in_flags(text, 'cli')}"),
                  file=sys.stderr)
            records.append({"input": src, "status": "error", "error_type": type(exc).__name__,
                            "error_message": str(exc) or text.lstrip(": ")})
    if args.json:
        say(json.dumps(records if many else records[0], indent=2, default=str))
    if failed and many:   # (the last line had been an image's error alone, as if none was
        print(f"semantic-compress: {failed} of {len(args.images)} images failed; "  # written)
              f"{len(args.images) - failed} {'analysed' if args.analyze else 'written'}",
              file=sys.stderr)
    return 2 if failed or stdout_failed else 0


def _missing_weights(args, request) -> Optional[str]:
    """Why the CNN of ``--energy``/``--model`` cannot be loaded here (its weights neither on
    disk nor to be downloaded), where a run would compute importance maps; else ``None``.
    Each image whose map it computed failed with the same line (a batch of 12 photos: 11
    identical errors, the one square photo written), while the job refuses it at launch
    (CLI review 47)."""
    from .energy.weights import model_weights_problem

    if not (args.analyze or args.visualize_energy or args.visualize_seams
            or request.computes_maps):
        return None
    problem = model_weights_problem(request.energy, request.model)
    return None if problem is None else f"{problem}; nothing was read"


def _missing_package(args, request) -> Optional[str]:
    """Why the output format (``--format``, its ``-o`` suffix, or ``--photo-format`` under
    ``auto``) or ``--allocation semantic`` cannot be written here, naming the package
    (:meth:`CompressRequest.missing_package`): one line before any image is read, as the job
    says it at launch; else None."""
    if args.analyze or args.visualize_energy or args.visualize_seams:
        return None
    missing = request.missing_package()
    if missing is None:
        return None
    option, reason = missing
    if option == "format" and not args.format:   # (the format is the -o file's suffix)
        return f"-o {args.output}: {reason}"
    return f"{flag_name(request_option(option), 'cli')} {getattr(request, option)}: {reason}"


def _said_in_flags(record: logging.LogRecord) -> bool:
    """A log filter: the library's warnings in the flags typed (``over max_stretch 1.05`` ->
    ``over --max-stretch 1.05``; they named parameters: CLI review 37), and another package's
    records in one line each, without their traceback unless --verbose (a gs:// input offline
    printed 157 lines of gcsfs's retries above the image's own one-line error; CLI review 47).
    Keeps every record."""
    if record.name.startswith("compress_core"):
        record.msg, record.args = in_flags(record.getMessage(), "cli"), None
    elif record.exc_info and not logging.getLogger("compress_core").isEnabledFor(logging.DEBUG):
        record.exc_info = record.exc_text = None
    return True


def _typed_flag(opt, value) -> str:
    """The flag as typed for ``value``: ``--no-preserve-aspect`` for False (a refusal named
    ``--preserve-aspect``, the opposite of the flag typed; CLI review 37)."""
    name = flag_name(opt, "cli")
    if value is False and opt.default is True and name.startswith("--"):
        return "--no-" + name[2:]
    return name


class _InFlags(ValueError):
    """A refusal already said in the command line's flags (:func:`~.flags.in_flags`)."""


def _request(args):
    """The request the flags describe (checked once, before any image is read).

    Only the analysis and visualisation modes run without a size target.
    """
    from .request import CompressRequest, option

    values = option_values(args, "cli")
    if args.analyze or args.visualize_energy or args.visualize_seams:
        # these modes use the engine options only (energy, model; the seams' energy mode): any
        # other flag given would be ignored, so it is refused (as the library refuses ignored
        # options)
        mode = ("--analyze" if args.analyze else "--visualize-energy" if args.visualize_energy
                else "--visualize-seams")
        # (the pixel limit holds for the picture read: a 100-megapixel photo could not be
        # analysed, --max-pixels "would be ignored"; CLI review 37)
        used = lambda name: option(name).scope == "engine" or name == "max_pixels"  # noqa: E731
        unused = [_typed_flag(option(k), v) for k, v in values.items()
                  if not used(k) and v != option(k).default]
        unused += [flag for flag, given in (
            ("--keep-mask", args.keep_mask and not args.visualize_seams),  # seams avoid it
            ("--remove-mask", args.remove_mask), ("-o", args.analyze and args.output)) if given]
        if unused:
            raise ValueError(f"{mode} uses the energy options and --max-pixels only (--energy, "
                             f"--model"
                             f"{', --energy-mode' if args.visualize_seams else ''}); "
                             f"{', '.join(unused)} would be ignored (drop "
                             f"{'it' if len(unused) == 1 else 'them'})")
        values = {k: v for k, v in values.items() if used(k)}
        values["method"] = "jpeg"
        request = CompressRequest(**values)
        unused = request.unused_by_analysis(seams=bool(args.visualize_seams))
        if unused:
            raise ValueError(f"{mode} " + "; ".join(unused) + " (drop it)")
        return request
    else:
        if args.remove_mask:
            values["remove_mask"] = args.remove_mask  # a file name here; loaded per image
        if args.keep_mask:   # (a file name, loaded once: checked with the other options here,
            # not refused for each image after reading it; CLI review 37)
            values["keep_mask"] = args.keep_mask
        by_suffix = _format_of_output_file(args)
        picked = values.get("format", "auto") == "auto" and by_suffix is not None
        if picked:
            values["format"] = by_suffix  # -o thumb.webp: the suffix picks the format
        try:
            request = CompressRequest(**values)
        except (ValueError, TypeError) as exc:
            if not picked:
                raise
            try:  # the same without the suffix's format: then the suffix is not the cause
                CompressRequest(**{**values, "format": "auto"})
            except (ValueError, TypeError):
                raise exc from None
            # the format= the message names came from the suffix, not from a flag
            # (the library's text in flags here: the -o path is the user's, never rewritten)
            raise _InFlags(f"-o {args.output} makes the format {by_suffix}: "
                           f"{in_flags(str(exc), 'cli')}") from exc
        unused = request.unused_engine_options()
        if unused:
            raise ValueError("; ".join(unused) + " (drop it)")
        return request
    return CompressRequest(**values)


def _output_is_folder(args, many: bool) -> bool:
    """Whether ``-o`` names a folder: several inputs, a trailing slash, an existing folder, or
    a bucket (``-o s3://photos`` failed after the compression as a file without a name: S3
    review 49)."""
    return (many or args.output.endswith(("/", os.sep)) or os.path.isdir(args.output)
            or is_bucket(args.output))


def _format_of_output_file(args) -> Optional[str]:
    """The format ``-o``'s suffix names when ``-o`` is one output file, else ``None``."""
    if not args.output or _output_is_folder(args, len(args.images) > 1):
        return None
    from .codec import format_from_suffix

    fmt = format_from_suffix(args.output)
    return fmt.value if fmt is not None else None


#: Input formats (Pillow's names) whose photos ``--photo-format`` can keep in that format.
_PHOTO_FORMATS_WITH_ALPHA = ("WEBP", "AVIF", "JXL")


def _write(write, dest: str, chosen: bool = False) -> None:
    """``write()``, with what an object store's client raises besides ``OSError`` (s3fs:
    botocore's ``NoCredentialsError``, a traceback with exit status 1) as an ``OSError`` naming
    ``dest``: one error line, like any other write failure. A name the command ``chosen``
    (not ``-o`` naming the file) that is a symbolic link is refused, as the job refuses one
    below ``--output``: written through, it had replaced the file the link named, elsewhere
    (paths review 42: ``-o out/`` over a link at ``out/x.jpg_compressed.jpg``)."""
    path = local_path(dest) if chosen else None
    if path is not None and os.path.islink(path):
        raise OSError(f"{dest}: is a symbolic link (to {os.readlink(path)}); no output is written "
                      "through a link at a name the command chose (remove it, or name the file "
                      "with -o to write through it)")
    try:
        write()
    except (OSError, ValueError, TypeError, SemanticCompressError):
        raise
    except Exception as exc:  # noqa: BLE001 - fsspec back-ends raise many types
        raise OSError(f"cannot write {dest} ({type(exc).__name__}: {exc})") from exc


def _process(args, compressor, request, src: str, many: bool, masks: dict) -> dict:
    from .images import load_image

    if args.analyze:
        stats = compressor.analyze_content(src)
        if not args.json:
            _print_analysis(src, stats)
        return {"input": src, "status": "ok", **stats}

    if args.visualize_energy or args.visualize_seams:
        from . import visualize
        from .codec import encode
        from .codec.encoders import as_shown

        shown = as_shown(load_image(src, max_pixels=request.max_pixels).pixels)   # (not what
        # transparent pixels hide; the pixel limit as --analyze takes it: diff review 37)
        if args.visualize_energy:
            energy = compressor.energy_function(shown)
            picture = visualize.overlay_energy(shown, energy)
            suffix = "_energy"
        else:
            from .seams import SeamCarver

            carver = SeamCarver(energy_function=compressor.energy_function,
                                keep_mask=masks["keep_mask"],
                                energy_mode=request.energy_mode)
            n = min(args.visualize_seams, shown.shape[1] - 1)
            if n < 1:
                raise ValueError(f"--visualize-seams needs an image at least 2 pixels wide; "
                                 f"this one is {shown.shape[1]}x{shown.shape[0]}")
            if n < args.visualize_seams:   # (drawn silently; edge review 36)
                print(f"semantic-compress: warning: {for_terminal(src)}: --visualize-seams "
                      f"{args.visualize_seams}: a picture {shown.shape[1]} pixels wide has "
                      f"{n} seam{'' if n == 1 else 's'} to draw", file=sys.stderr)
            seams = carver.find_seams(shown, n)
            picture = visualize.draw_seams(shown, seams_vertical=seams)
            suffix = "_seams"
        dest = _output_path(args, src, suffix, ".png", many)
        from .codec import format_from_suffix
        from .storage import write_atomic

        # PNG unless -o names another format (-o energy.jpg gets a JPEG, not PNG bytes)
        fmt = format_from_suffix(dest) or "png"
        _write(lambda: write_atomic(dest, encode(np.ascontiguousarray(picture), fmt)), dest,
               chosen=dest != args.output)
        if not args.json:
            say(f"{for_terminal(src)} -> {for_terminal(dest)}")
        return {"input": src, "output": dest, "status": "ok"}

    kwargs = request.compress_kwargs()
    kwargs.update(masks)
    result = compressor.compress(src, show_progress=not args.quiet and not args.json, **kwargs)
    dest = _output_path(args, src, "_compressed", result.extension, many)
    _write(lambda: result.save(dest), dest, chosen=dest != args.output)
    record = _result_record(src, dest, result)
    _describe_written(record, dest)
    if not args.json:
        score = _score(result)
        say(f"{for_terminal(src)} -> {for_terminal(dest)}: "
            f"{result.original_size[0]}x{result.original_size[1]} -> "
            f"{result.size[0]}x{result.size[1]}, {result.original_bytes:,} -> "
            f"{record['output_bytes']:,} bytes ({record['compression_ratio']:.1%}"
            f"{'' if score is None else f', SSIMULACRA2 {score:.1f}'}), "
            f"{result.method}, {result.timings['total_ms']:.0f} ms")
    missed = result.missed_target()
    if missed:   # (in the flags typed: "--target-quality 100 was not reached")
        print(f"semantic-compress: warning: {src}: {in_flags(missed, 'cli')}", file=sys.stderr)
    if record["output_bytes"] > result.original_bytes:   # (written all the same, as the job
        # does; it warns too: a low-quality JPEG reproduced, a photo written losslessly)
        hint = ""
        source_format = (result.input_format or "").upper()
        if source_format in _PHOTO_FORMATS_WITH_ALPHA and result.format != source_format:
            # (a lossy WebP re-encoded as JPEG, 2.4 KB -> 4.1 KB: new-user review 42)
            hint = (f"; it was a {source_format}: --photo-format {source_format.lower()} "
                    "writes photos in that format")
        print(f"semantic-compress: warning: {src}: the output ({record['output_bytes']:,} "
              f"bytes) is larger than the input ({result.original_bytes:,} bytes){hint}",
              file=sys.stderr)
    return record


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
