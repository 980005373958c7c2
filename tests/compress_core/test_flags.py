"""The flags generated from the option table: messages said in the flags a person typed."""
import re

import pytest

from compress_core.flags import in_flags
from compress_core.request import CompressRequest


@pytest.mark.parametrize("message, cli, job", [
    ("give at least one target: scale, target_width, target_height, target_pixels, "
     "max_dimension or target_bytes (or method='jpeg' to re-encode only)",
     "give at least one target: --scale, --target-width, --target-height, --target-pixels, "
     "--max-dimension or --target-bytes (or --method jpeg to re-encode only)",
     "give at least one target: --scale, --target_width, --target_height, --target_pixels, "
     "--max_dimension or --target_bytes (or --method jpeg to re-encode only)"),
    ("max_seconds must be a positive finite number; got -1.0",
     "--max-seconds must be a positive finite number; got -1.0",
     "--max_seconds_per_image must be a positive finite number; got -1.0"),
    ("quality must be an integer in the output format's range (jpeg 1-100); got 101",
     "--quality must be an integer in the output format's range (jpeg 1-100); got 101",
     "--quality must be an integer in the output format's range (jpeg 1-100); got 101"),
    ("preserve_aspect=False keeps", "--no-preserve-aspect keeps", "--no_preserve_aspect keeps"),
    # a mask has no job flag: its name stays; words of the sentence stay words
    ("keep_mask protects pixels, and with allocation='semantic' from coarser coding",
     "--keep-mask protects pixels, and with --allocation semantic from coarser coding",
     "keep_mask protects pixels, and with --allocation semantic from coarser coding"),
    ("an unknown format in the energy map of photo_format.jpg", "an unknown format in the "
     "energy map of photo_format.jpg", "an unknown format in the energy map of photo_format.jpg"),
    # paths are the user's (diff review 21: -o runs/scale=0.5/x.png became runs/--scale 0.5/)
    ("-o runs/scale=0.5/x.png, method=hybrid/y.png, C:\\out\\max_dimension\\t.png",
     "-o runs/scale=0.5/x.png, method=hybrid/y.png, C:\\out\\max_dimension\\t.png",
     "-o runs/scale=0.5/x.png, method=hybrid/y.png, C:\\out\\max_dimension\\t.png"),
])
def test_messages_name_the_flags_of_each_interface(message, cli, job):
    """Review 21: the command line and the job printed the library's parameter names
    (`give at least one target: scale, target_width ...` where the flags are -s, --width;
    `max_seconds` where the job's flag is --max_seconds_per_image)."""
    assert in_flags(message, "cli") == cli
    assert in_flags(message, "job") == job


def test_every_request_error_reads_in_flags():
    """Each refusal of the request, said in flags, names no parameter by its library name
    where a flag exists for it."""
    cases = [dict(), dict(method="jpeg", scale=0.5), dict(scale=0.5, quality="auto",
                                                             target_bytes=5000),
             dict(scale=0.5, max_stretch=0.5), dict(scale=0.5, format="png", quality=90),
             dict(scale=0.5, target_quality=80, quality=85),
             dict(scale=0.5, method="smart_crop", max_stretch=1.2),
             dict(scale=0.5, photo_format="webp", format="jpeg")]
    names = ("target_width", "max_stretch", "target_quality", "target_bytes", "photo_format",
             "method=", "quality=", "format=")
    for kwargs in cases:
        with pytest.raises((ValueError, TypeError)) as info:
            CompressRequest(**kwargs)
        for style in ("cli", "job"):
            said = in_flags(str(info.value), style)
            assert not any(re.search(rf"(?<![-\w]){re.escape(name)}", said) for name in names), \
                (kwargs, style, said)
