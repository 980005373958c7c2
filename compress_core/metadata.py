"""What an output carries of its input's metadata (option ``metadata``): the EXIF block, the
colour profile, the XMP packet and the IPTC record.

A thumbnail's pixels can weigh less than the metadata it inherits (BENCHMARKS.md, "Metadata"):
the ``sRGB IEC61966-2.1`` profile cameras and editors embed is 3,144 bytes, about half of a
128-pixel JPEG of sklearn's ``china.jpg``; with a 16 KiB maker note a 256-pixel thumbnail was 3x
its picture's size. Yet an archive must not lose what a picture *is*: captions, keywords,
creator, copyright. :func:`carried` applies :class:`compress_core.options.Metadata`:

* ``compact`` (the default): the EXIF block without maker notes (tag ``0x927C``, the camera's
  private data; for some makes its internal offsets point into the original block, which a
  rewritten block does not keep) and
  without any other value over :data:`LARGEST_VALUE` bytes nor the tags the output makes
  false (:data:`UNTRUE_TAGS`, as under ``keep``); the colour profile dropped when it
  describes sRGB (:func:`compress_core.colour.describes_srgb`: viewers show an untagged picture
  as sRGB, so the output looks the same), applied to the pixels when it has sRGB's primaries
  and other tone curves (:func:`~compress_core.colour.has_srgb_primaries`: a linear-light
  PNG's, whose 8-bit levels lossy coders spend bits on as if they were sRGB's), kept otherwise
  (Display P3, Adobe RGB) up to :data:`LARGEST_PROFILE` bytes (a larger one is applied to the
  pixels, as under ``none``). Dates, camera,
  lens, exposure, GPS, artist and copyright stay. Of the XMP packet, the descriptive and rights
  properties (:func:`compress_core.xmp.compact_xmp`: Dublin Core, IPTC Core and Extension,
  XMP Rights, PLUS, keywords, rating); the IPTC-IIM record (captions, keywords, by-line,
  copyright) as it is.
* ``public``: as ``compact``, without the GPS position (the EXIF GPS directory; of the XMP
  packet, IPTC Extension's ``LocationCreated`` and ``LocationShown``, which hold coordinates)
  and what identifies the camera or its owner (:data:`PRIVATE_TAGS`: serial numbers, owner
  name): for pictures to publish. Place names written as captions (Photoshop's ``City``,
  ``Country``, IPTC Core's ``Location``, the IPTC record's) stay: a person wrote them there.
* ``keep``: the EXIF block and profile as the input had them (but a 16-bit picture's profile
  of sRGB's primaries that was applied on decoding, from its 16-bit samples:
  :mod:`compress_core.samples16`), but for the EXIF tags the output makes false
  (:data:`UNTRUE_TAGS`: the input's size, where its subject lay); the XMP packet but for what
  the output makes false (:func:`compress_core.xmp.upright_xmp`: orientation, dimensions,
  motion photos, gain maps, regions); the IPTC record.
* ``none``: nothing; the pixels are converted from the profile to sRGB first, so the output
  still looks as the input did (wide-gamut colours are clipped to sRGB). GPS positions go too.

Orientation is applied to the pixels on decoding (the EXIF block's reset to 1, the XMP's too),
and a CMYK or grey profile is applied to the pixels then
(:func:`compress_core.colour.device_to_srgb`), in every mode. Where the formats store them:
the EXIF block, profile and XMP packet in every output format (JPEG XL: not the profile, its
pixels are converted to sRGB); the IPTC record in JPEG outputs only (an APP13 segment: the other
formats have no place for it, and the tools that write IPTC write its fields to XMP as well).
A JPEG segment holds 64 KiB: a larger XMP packet (a TIFF's or PNG's, which have no such limit)
is written as extended XMP, as Photoshop writes it; a larger IPTC record is left out, with a
warning.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Optional

from PIL import ExifTags, Image

from .colour import describes_srgb, has_srgb_primaries, rgb_to_srgb
from .exif_edit import without_in_place
from .images import LoadedImage
from .options import Metadata, parse_option
from .xmp import compact_xmp, public_xmp, upright_xmp

__all__ = ["carried", "compact_exif", "compact_keeps", "exif_within", "public_exif", "true_exif",
           "LARGEST_VALUE", "LARGEST_PROFILE", "LARGEST_KEPT_PROFILE", "MAKER_NOTE", "UNTRUE_TAGS",
           "PRIVATE_TAGS"]

_LOG = logging.getLogger(__name__)

#: EXIF tag of the camera maker's private data.
MAKER_NOTE = 0x927C
#: Largest EXIF value ``compact`` keeps, in bytes (a comment or description of normal length
#: is far below it; embedded previews, print settings and padding blocks are above).
LARGEST_VALUE = 1024
#: Largest colour profile ``compact`` carries, in bytes. Cameras' and editors' wide-gamut
#: profiles (Display P3, Adobe RGB, ProPhoto) are 0.5-3 KB; a table-based profile can weigh a
#: megabyte, which made a 256-pixel output of 1 MB (review 14, O01). A larger one is applied to
#: the pixels (converted to sRGB, as ``none`` does) instead of carried.
LARGEST_PROFILE = 64 * 1024
#: Largest colour profile ``keep`` carries, in bytes: Pillow refuses to read a PNG whose
#: profile decompresses to more (``PngImagePlugin.MAX_TEXT_CHUNK``), the library's own outputs
#: included, and a JPEG holds no more than 255 segments of it (a 17 MB profile failed every
#: JPEG output; security review 48). A larger one is applied to the pixels.
LARGEST_KEPT_PROFILE = 1024 * 1024
#: EXIF tags every output makes false, by directory (0: the main one): the input's size
#: (``ImageWidth``/``ImageLength``, as Android phones write them; ``PixelXDimension``/
#: ``PixelYDimension``, as every camera does) and where its subject lies in its pixels
#: (``SubjectArea``, ``SubjectLocation``), which scaling, cropping and carving change. A
#: 128-pixel thumbnail said 6000 x 4000. A GPS directory's pointer in the Exif directory
#: (where the standard has none; Pillow reads only the main one's as a pointer) is copied as
#: a number: an offset into whatever the output holds there (security review 48); so is an
#: Interoperability pointer in the main directory, which Pillow writes there itself when it
#: serialises an Exif object a second time (every turned camera photo's, through
#: ``ImageOps.exif_transpose``: a pointer past the block's end in every output; conform review
#: 48). The Exif directory's own Interoperability pointer, where the standard puts it, stays.
UNTRUE_TAGS = {0: frozenset([0x0100, 0x0101, 0xA005]),
               ExifTags.IFD.Exif: frozenset([0xA002, 0xA003, 0x9214, 0xA214, 0x8825])}
#: What identifies the camera or its owner: ``CameraSerialNumber`` (DNG files'),
#: ``CameraOwnerName``, ``BodySerialNumber``, ``LensSerialNumber``; dropped in the main and
#: the Exif directory alike (a writer that put the serials in the main one had them carried
#: into "public" thumbnails: edge review 39).
_IDENTIFYING = frozenset([0xC62F, 0xA430, 0xA431, 0xA435])
#: Blocks of other metadata an EXIF directory may hold (``XMLPacket`` 0x02BC, an XMP packet
#: ExifTool and exiv2 read as XMP; ``IPTC-NAA`` 0x83BB; Photoshop's resources 0x8649, which
#: hold XMP and IPTC too): no filter here reads them, and a 253-byte packet's
#: ``exif:GPSLatitude`` travelled into public outputs beside the dropped GPS directory
#: (security review 48).
_EMBEDDED = frozenset([0x02BC, 0x83BB, 0x8649])
#: EXIF tags ``public`` drops besides ``compact``'s, by directory: the pointer to the GPS
#: directory (whose every tag goes too), :data:`_IDENTIFYING` and :data:`_EMBEDDED` (in the
#: Exif directory too: ExifTool reads an ``XMLPacket`` there as in the main one, and a
#: 253-byte packet's position stood in it after the main one's was dropped: diff review 48).
PRIVATE_TAGS = {0: frozenset([0x8825]) | _IDENTIFYING | _EMBEDDED,
                ExifTags.IFD.Exif: _IDENTIFYING | _EMBEDDED,
                ExifTags.IFD.GPSInfo: None}   # (None: the whole directory)


def _size(value) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, str):
        return len(value.encode("utf-8", "replace"))
    if isinstance(value, (tuple, list)):
        return sum(_size(v) for v in value)
    return 8


def compact_exif(exif: Optional[bytes]) -> Optional[bytes]:
    """``exif`` (an EXIF block as Pillow writes it) without maker notes and values over
    :data:`LARGEST_VALUE` bytes, in the main, Exif and GPS directories, nor the tags of
    :data:`UNTRUE_TAGS`; None when nothing is left. A block Pillow cannot read back is
    returned as it is."""
    return _without(exif, _dropped_by_compact)


def compact_keeps(exif: Optional[bytes]) -> bool:
    """Whether :func:`compact_exif` drops no tag of ``exif`` (its second directory, IFD1, aside:
    a thumbnail of the picture, which the input file kept as it is still shows). Such a block
    is the file's own for :func:`~compress_core.compressor._input_file`: a quality-30 JPEG
    with an IFD1 thumbnail was re-encoded 12% larger under compact, with a second loss,
    where before the IFD1 rewrite the file was written as it is (diff review 3, 48)."""
    return bool(exif) and _without(exif, _dropped_by_compact, keep_unread=True) is exif


def public_exif(exif: Optional[bytes]) -> Optional[bytes]:
    """:func:`compact_exif`'s block without :data:`PRIVATE_TAGS` (``metadata="public"``); None
    when nothing is left. A block Pillow cannot read back is dropped: it could hold the
    position."""
    def drop(number, tag, value):
        private = PRIVATE_TAGS.get(number, frozenset())
        return private is None or tag in private or _dropped_by_compact(number, tag, value)

    return _without(exif, drop, unreadable=None)


def exif_within(exif: Optional[bytes], most: int) -> Optional[bytes]:
    """``exif`` where it holds at most ``most`` bytes; else without its maker notes and its
    largest values (those over 1 KiB, then over 512 bytes, 256 ... 16), the first block of
    these that fits (dates, camera, exposure, GPS and rights are short values and stay); None
    where none does, or the block cannot be read back.

    A JPEG segment holds 64 KiB, a PNG's, TIFF's, WebP's or HEIF's EXIF block more: values of
    under 1 KiB each, which ``compact`` keeps, added up to 81 KB in a 376 KB PNG, and its JPEG
    output failed under every ``metadata`` value (security review 47)."""
    if not exif or len(exif) <= most:
        return exif
    largest = LARGEST_VALUE
    while largest >= 16:
        smaller = _without(exif, lambda number, tag, value, most_=largest:
                           tag == MAKER_NOTE or _size(value) > most_, unreadable=None)
        if smaller is None or len(smaller) <= most:
            return smaller
        largest //= 2
    return None


def _dropped_by_compact(number, tag, value) -> bool:
    return tag == MAKER_NOTE or _size(value) > LARGEST_VALUE


def true_exif(exif: Optional[bytes]) -> Optional[bytes]:
    """``exif`` without the tags of :data:`UNTRUE_TAGS` (``metadata="keep"``), removed where
    the block's bytes lie (:mod:`compress_core.exif_edit`: a camera's maker note keeps what
    its offsets point at), else through Pillow; None when nothing is left. A block Pillow
    cannot read back is returned as it is."""
    kept = without_in_place(exif, UNTRUE_TAGS)
    return kept if kept is not None else _without(exif, lambda number, tag, value: False,
                                                   keep_unread=True)


def _without(exif: Optional[bytes], drop, unreadable="as it came",
             keep_unread: bool = False) -> Optional[bytes]:
    """``exif`` without the tags of :data:`UNTRUE_TAGS` and those ``drop(directory, tag,
    value)`` says, in the main, Exif and GPS directories (the same bytes when there are
    none); a block Pillow cannot read back as it came, or None (``unreadable=None``)."""
    if not exif:
        return None
    parsed = Image.Exif()
    try:
        parsed.load(exif)
        # (only those the block points at: Pillow writes every directory it was asked for,
        # an empty Exif and GPS one in a block that had none)
        directories = {0: parsed, **{i: parsed.get_ifd(i) for i in (ExifTags.IFD.Exif,
                                                                      ExifTags.IFD.GPSInfo)
                                     if i in parsed}}
        dropped = 0
        for number, directory in directories.items():
            untrue = UNTRUE_TAGS.get(number, frozenset())
            for tag in [t for t, v in directory.items() if t in untrue or drop(number, t, v)]:
                del directory[tag]
                dropped += 1
        if not dropped and unreadable is not None and (keep_unread or not _second(exif)):
            return exif
        # (public writes anew what it read, and compact a block with a second directory:
        # the loader passes the file's own block on, edited in place, and a thumbnail of the
        # uncropped picture, or a GPS directory or XMP packet its IFD1 points at, travelled
        # unread into public outputs)
        if not any(len(d) for d in directories.values()):
            return None
        return parsed.tobytes()
    except Exception as exc:  # noqa: BLE001 -- a block we cannot rewrite travels as it came
        if unreadable is None:
            _LOG.debug("EXIF block of %d bytes dropped, it cannot be read: %s", len(exif), exc)
            return None
        _LOG.debug("EXIF block of %d bytes kept as it is: %s", len(exif), exc)
        return exif


def _second(exif: bytes) -> bool:
    """Whether ``exif`` has a second directory (IFD1: a thumbnail) with entries (read on its
    own Exif object: Pillow's ``tobytes`` fails on one that has read it)."""
    parsed = Image.Exif()
    parsed.load(exif)
    return bool(len(parsed.get_ifd(ExifTags.IFD.IFD1)))


def _applied(pixels, icc: bytes, source: str):
    """``pixels`` converted from ``icc`` to sRGB; as they are (with a warning) where Little
    CMS cannot apply it (viewers ignore such a profile too)."""
    converted = rgb_to_srgb(pixels, icc)
    if converted is None:
        _LOG.warning("%s: a colour profile of %d bytes cannot be applied; it is dropped and the "
                     "pixels written as they are (as viewers show them)", source, len(icc))
        return pixels
    return converted


def carried(loaded: LoadedImage, metadata="compact") -> LoadedImage:
    """``loaded`` with the pixels, colour profile, EXIF block, XMP packet and IPTC record its
    output gets under ``metadata`` (``"compact"``, ``"public"``, ``"keep"`` or ``"none"``: see
    the module's text)."""
    mode = parse_option(Metadata, metadata, "metadata")
    icc, exif, xmp, iptc, pixels = (loaded.icc_profile, loaded.exif, loaded.xmp, loaded.iptc,
                                    loaded.pixels)
    if icc is None and exif is None and xmp is None and iptc is None:
        return loaded
    if mode is Metadata.KEEP:
        exif = true_exif(exif)
        xmp = upright_xmp(xmp)
        if icc and len(icc) > LARGEST_KEPT_PROFILE:
            _LOG.warning("%s: a colour profile of %d bytes (over %d, more than readers take) is "
                         "applied to the pixels, not kept", loaded.source, len(icc),
                         LARGEST_KEPT_PROFILE)
            pixels, icc = _applied(pixels, icc, loaded.source), None
    elif mode in (Metadata.COMPACT, Metadata.PUBLIC):
        if icc and describes_srgb(icc):
            icc = None
        elif icc and has_srgb_primaries(icc):
            # no colour sRGB lacks, another curve: a linear-light PNG (gAMA 1.0) carried as
            # it came cost 2.5-3.2x the bytes of its sRGB pixels at the same score in JPEG,
            # WebP and AVIF, with colour blocks in the shadows (visual review 28)
            pixels, icc = _applied(pixels, icc, loaded.source), None
        elif icc and len(icc) > LARGEST_PROFILE:
            _LOG.info("%s: a colour profile of %d bytes (over %d) is applied to the pixels, "
                      "not carried", loaded.source, len(icc), LARGEST_PROFILE)
            pixels, icc = _applied(pixels, icc, loaded.source), None
        if mode is Metadata.PUBLIC:
            exif, xmp = public_exif(exif), public_xmp(xmp)
        else:
            exif, xmp = compact_exif(exif), compact_xmp(xmp)
    else:
        exif = xmp = iptc = None
        if icc and not describes_srgb(icc):
            pixels = _applied(pixels, icc, loaded.source)
        icc = None
    if all(new is old for new, old in ((pixels, loaded.pixels), (icc, loaded.icc_profile),
                                       (exif, loaded.exif), (xmp, loaded.xmp),
                                       (iptc, loaded.iptc))):
        return loaded  # nothing to change
    return dataclasses.replace(loaded, pixels=pixels, icc_profile=icc, exif=exif, xmp=xmp,
                               iptc=iptc)
