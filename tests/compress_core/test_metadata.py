"""compress_core.metadata: what an output carries of its input's EXIF block, colour profile,
XMP packet and IPTC record (option ``metadata``), on the photo files scikit-learn and
scikit-image ship."""
import io
import struct

import numpy as np
import pytest
from PIL import ExifTags, Image, IptcImagePlugin, TiffImagePlugin

from compress_core import compress_image, load_image
from compress_core.colour import rgb_to_srgb
from compress_core.metadata import (LARGEST_PROFILE, LARGEST_VALUE, MAKER_NOTE, carried,
                                    compact_exif, public_exif, true_exif)

from _core_data import GRADIENT, decode, exif_bytes, gamma_icc, photo, sample_file, wide_icc
from test_xmp import lightroom_packet
from test_xmp import properties as xmp_properties

GPS = ExifTags.IFD.GPSInfo
EXIF = ExifTags.IFD.Exif


def camera_exif(maker_note: int = 30_000) -> bytes:
    """An EXIF block as cameras write one: camera and date in the main directory, exposure, the
    capture time and ``maker_note`` bytes of private data in the Exif directory, a position in
    the GPS directory."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132] = "Canon", "EOS R6", "2026:07:14 09:30:00"
    exif[0x8298] = "(c) Ana"  # copyright
    sub = exif.get_ifd(EXIF)
    sub[0x9003] = "2026:07:14 09:30:00"  # DateTimeOriginal
    sub[0x829A] = 1 / 250  # exposure time
    sub[0xA434] = "RF24-105mm F4 L IS USM"  # lens model
    sub[MAKER_NOTE] = bytes(range(256)) * (maker_note // 256)
    gps = exif.get_ifd(GPS)
    gps[1], gps[2] = "N", (48.0, 51.0, 24.0)
    return exif.tobytes()


def camera_jpeg(icc=None, exif=None, pixels=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 384) if pixels is None else pixels).save(
        buf, "JPEG", quality=92, **{k: v for k, v in (("icc_profile", icc), ("exif", exif)) if v})
    return buf.getvalue()


def test_compact_exif_drops_maker_notes_and_large_values_and_keeps_what_people_use():
    block = camera_exif()
    padded = Image.Exif()
    padded.load(block)
    padded.get_ifd(EXIF)[0x9286] = b"ASCII\0\0\0" + b" " * 2000  # a padded UserComment
    compact = compact_exif(padded.tobytes())
    assert len(compact) < 400 < 30_000 < len(block)
    kept = Image.Exif()
    kept.load(compact)
    assert (kept[0x010F], kept[0x0110], kept[0x8298]) == ("Canon", "EOS R6", "(c) Ana")
    sub = kept.get_ifd(EXIF)
    assert sub[0x9003] == "2026:07:14 09:30:00" and sub[0xA434] == "RF24-105mm F4 L IS USM"
    assert MAKER_NOTE not in sub and 0x9286 not in sub
    assert kept.get_ifd(GPS)[1] == "N"
    small = Image.Exif()
    small[0x010F] = "Canon"
    assert compact_exif(small.tobytes()) == small.tobytes()  # nothing to drop: the same bytes
    assert compact_exif(None) is None and compact_exif(b"") is None
    assert compact_exif(b"Exif\0\0garbage") == b"Exif\0\0garbage"  # unreadable: as it came
    assert LARGEST_VALUE == 1024


def test_compact_drops_the_srgb_profile_cameras_embed_and_the_output_looks_the_same():
    """china.jpg carries the 3,144-byte sRGB IEC61966-2.1 profile: under ``keep`` it was about
    half of a 128-pixel thumbnail. Viewers show an untagged picture as sRGB: same pixels."""
    src = sample_file("china.jpg")
    kw = dict(target_width=128, target_height=128, energy_function=GRADIENT)
    keep = compress_image(src, metadata="keep", **kw)
    compact = compress_image(src, **kw)  # the default
    assert len(decode(keep.data).info["icc_profile"]) == 3144
    assert "icc_profile" not in decode(compact.data).info
    assert keep.compressed_bytes - compact.compressed_bytes >= 3144
    assert compact.compressed_bytes < 0.6 * keep.compressed_bytes
    assert np.array_equal(np.asarray(decode(keep.data)), np.asarray(decode(compact.data)))
    assert compact.params.get("metadata") is None and keep.params["metadata"] == "keep"


def test_compact_keeps_a_wide_gamut_profile_and_none_converts_the_pixels_to_srgb():
    """rocket.jpg is Adobe RGB (1998): dropping its profile would dull the colours, so compact
    keeps it; ``none`` converts the pixels to sRGB and writes no profile."""
    src = sample_file("rocket.jpg")
    adobe = decode(src).info["icc_profile"]
    kw = dict(scale=0.25, energy_function=GRADIENT)
    compact = compress_image(src, **kw)
    assert decode(compact.data).info["icc_profile"] == adobe
    bare = compress_image(src, metadata="none", **kw)
    assert "icc_profile" not in decode(bare.data).info and not decode(bare.data).getexif()
    loaded = load_image(src)
    expected = rgb_to_srgb(loaded.pixels, adobe)
    assert np.abs(expected.astype(int) - loaded.pixels).max() > 20  # the conversion matters
    # same geometry: the written pixels are the sRGB ones, within the encoding's loss
    small = np.asarray(Image.fromarray(expected).resize(bare.size, Image.LANCZOS), dtype=float)
    unconverted = np.asarray(Image.fromarray(loaded.pixels).resize(bare.size, Image.LANCZOS),
                             dtype=float)
    written = np.asarray(decode(bare.data).convert("RGB"), dtype=float)
    assert np.abs(written - small).mean() < 0.6 * np.abs(written - unconverted).mean()


def test_exif_under_each_mode_in_a_thumbnail():
    """A camera's 30 KB of maker notes made a 256-pixel thumbnail several times its pixels'
    size; compact keeps the date, camera, lens and position without them."""
    src = camera_jpeg(exif=camera_exif())
    kw = dict(target_width=256, target_height=256, energy_function=GRADIENT)
    results = {mode: compress_image(src, metadata=mode, **kw) for mode in ("keep", "compact", "none")}
    exifs = {mode: decode(r.data).getexif() for mode, r in results.items()}
    assert MAKER_NOTE in exifs["keep"].get_ifd(EXIF)
    assert MAKER_NOTE not in exifs["compact"].get_ifd(EXIF)
    assert exifs["compact"].get_ifd(EXIF)[0x9003] == "2026:07:14 09:30:00"
    assert exifs["compact"].get_ifd(GPS)[1] == "N" and exifs["compact"][0x010F] == "Canon"
    assert not exifs["none"]
    sizes = {mode: r.compressed_bytes for mode, r in results.items()}
    assert sizes["keep"] > 30_000 and sizes["compact"] < sizes["keep"] / 3
    assert sizes["none"] < sizes["compact"] < sizes["none"] + 600


def test_carried_leaves_keep_and_bare_inputs_alone():
    loaded = load_image(camera_jpeg(icc=wide_icc(1.8), exif=camera_exif(2000)))
    assert carried(loaded, "keep") is loaded
    bare = load_image(photo("coffee", 64))
    assert carried(bare, "none") is bare
    with pytest.raises(ValueError, match="metadata must be one of"):
        carried(loaded, "strip")


def iptc_record(**datasets) -> bytes:
    """An IPTC-IIM record (application record 2): ``keywords``, ``byline``, ``copyright``,
    ``caption``; a list gives a repeated dataset."""
    numbers = {"keywords": 25, "byline": 80, "copyright": 116, "caption": 120}
    out = b"\x1c\x02\x00\x00\x02\x00\x04"  # record version 4
    for name, values in datasets.items():
        for value in values if isinstance(values, list) else [values]:
            raw = value.encode("utf-8")
            out += b"\x1c\x02" + bytes([numbers[name]]) + struct.pack(">H", len(raw)) + raw
    return out


def with_photoshop_iptc(jpeg: bytes, record: bytes) -> bytes:
    """``jpeg`` with an APP13 segment holding ``record`` as Photoshop writes it (resource
    0x0404), after its first segment."""
    resource = (b"8BIM\x04\x04\x00\x00" + struct.pack(">I", len(record)) + record
                + b"\x00" * (len(record) % 2))
    body = b"Photoshop 3.0\x00" + resource
    at = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:at] + b"\xff\xed" + struct.pack(">H", len(body) + 2) + body + jpeg[at:]


def tagged_photo() -> bytes:
    """A camera JPEG turned by EXIF (orientation 6) that Lightroom tagged: an XMP packet with
    keywords, rights, its edit history and a motion photo's container, and an IPTC record."""
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 384, 256)).save(
        buf, "JPEG", quality=92, exif=exif_bytes(6), xmp=lightroom_packet(ancestors=400))
    return with_photoshop_iptc(buf.getvalue(), iptc_record(
        keywords=["market", "Lyon"], byline="Ana Lopes", copyright="(c) 2026 Ana Lopes"))


@pytest.mark.parametrize("fmt", ["jpeg", "webp", "png", "avif", "jxl"])
def test_captions_keywords_and_rights_reach_every_output_format(fmt):
    """XMP and IPTC were never carried: an archive of tagged photos lost its keywords,
    captions and copyright. Under compact every format carries the packet's descriptive and
    rights properties, JPEGs the IPTC record too; nothing says the picture is turned."""
    result = compress_image(tagged_photo(), target_width=128, target_height=192, format=fmt,
                            energy_function=GRADIENT)
    assert result.pixels.shape[:2] == (192, 128)  # upright: 256x384 after orientation 6
    written = written_metadata(result.data)
    props = xmp_properties(written["xmp"])
    assert props[("dc", "subject")] == "market|Lyon|people"
    assert props[("dc", "rights")] == "(c) 2026 Ana Lopes"
    assert ("tiff", "Orientation") not in props and ("GCamera", "MotionPhoto") not in props
    assert ("photoshop", "DocumentAncestors") not in props
    if fmt == "jpeg":
        iptc = IptcImagePlugin.getiptcinfo(decode(result.data))
        assert iptc[(2, 25)] == [b"market", b"Lyon"] and iptc[(2, 116)] == b"(c) 2026 Ana Lopes"
        assert decode(result.data).getexif().get(0x0112) == 1


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_public_drops_the_position_and_the_cameras_identity_and_keeps_the_rest(fmt):
    """A phone's position reached every thumbnail under compact (as archives want it); public,
    for pictures to publish, drops it from the EXIF block and the XMP packet, and the serial
    numbers and owner that identify the camera, and keeps dates, camera, rights, captions and
    the place names a person wrote (colour review 26)."""
    exif = Image.Exif()
    exif.load(camera_exif(maker_note=0))
    sub = exif.get_ifd(EXIF)
    sub[0xA430], sub[0xA431], sub[0xA435] = "Ana Lopes", "032021001234", "9200004321"
    # the same tags where some writers put them, in the main directory (edge review 39: kept)
    exif[0xA431], exif[0xA430], exif[0xC62F] = "032021005678", "A. Lopes", "DNG-7788"
    located = lightroom_packet(ancestors=10).replace(
        b"<Iptc4xmpCore:Location>", b'<Iptc4xmpExt:LocationCreated xmlns:Iptc4xmpExt='
        b'"http://iptc.org/std/Iptc4xmpExt/2008-02-29/"><rdf:Bag><rdf:li rdf:parseType='
        b'"Resource"><exif:GPSLatitude>45,45.9N</exif:GPSLatitude><exif:GPSLongitude>4,49.6E'
        b'</exif:GPSLongitude></rdf:li></rdf:Bag></Iptc4xmpExt:LocationCreated>'
        b"<Iptc4xmpCore:Location>")
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 384)).save(buf, "JPEG", quality=92,
                                                   exif=exif.tobytes(), xmp=located)
    kw = dict(target_width=128, target_height=128, format=fmt, energy_function=GRADIENT)
    data = {mode: compress_image(buf.getvalue(), metadata=mode, **kw).data
            for mode in ("compact", "public")}
    written = {mode: written_metadata(d) for mode, d in data.items()}
    exifs = {mode: decode(d).getexif() for mode, d in data.items()}
    location = ("http://iptc.org/std/Iptc4xmpExt/2008-02-29/", "LocationCreated")
    assert exifs["compact"].get_ifd(GPS)[1] == "N" and location in \
        xmp_properties(written["compact"]["xmp"])
    public, props = exifs["public"], xmp_properties(written["public"]["xmp"])
    assert not public.get_ifd(GPS) and 0x8825 not in public
    assert not {0xA430, 0xA431, 0xA435} & set(public.get_ifd(EXIF))
    assert not {0xA430, 0xA431, 0xC62F} & set(public)
    assert exifs["compact"][0xA431] == "032021005678"   # (compact keeps them, as archives do)
    assert (public[0x010F], public[0x8298]) == ("Canon", "(c) Ana")
    assert public.get_ifd(EXIF)[0x9003] == "2026:07:14 09:30:00"
    assert location not in props
    assert props[("dc", "rights")] == "(c) 2026 Ana Lopes"
    assert props[("photoshop", "City")] == "Lyon"
    assert props[("Iptc4xmpCore", "Location")] == "Quai Saint-Antoine"


def test_public_never_writes_the_input_file_as_it_is():
    """A file kept as it is (no smaller encoding reaches the target) carries its comment
    segments and text chunks, which no reader here looks at: a JPEG comment or a PNG text
    chunk naming the place went out under public (diff review 26)."""
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 256)).save(buf, "JPEG", quality=30,
                                                   comment=b"taken at 48.85N 2.29E")
    kw = dict(method="jpeg", format="jpeg", target_quality=90, energy_function=GRADIENT)
    kept = compress_image(buf.getvalue(), **kw)
    assert kept.operations.get("input_kept") and b"48.85N" in kept.data
    public = compress_image(buf.getvalue(), metadata="public", **kw)
    assert not public.operations.get("input_kept") and b"48.85N" not in public.data


def test_none_never_writes_the_input_file_with_its_iptc_record():
    """A JPEG whose only metadata is an IPTC record (by-line, caption), kept as it is where no
    smaller encoding reaches the target: under none the record must go, so the file is
    re-encoded (a mutation that compared the EXIF, XMP and profile but not the IPTC record
    wrote the file, record included, under none, and no test failed: review 51)."""
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 256)).save(buf, "JPEG", quality=30)
    src = with_photoshop_iptc(buf.getvalue(), iptc_record(byline="Ana Lopes",
                                                          caption="At home, 12 Rue Oberkampf"))
    kw = dict(method="jpeg", format="jpeg", target_quality=90, energy_function=GRADIENT)
    kept = compress_image(src, metadata="compact", **kw)
    assert kept.operations.get("input_kept") and kept.data == src
    none = compress_image(src, metadata="none", **kw)
    assert not none.operations.get("input_kept")
    assert IptcImagePlugin.getiptcinfo(decode(none.data)) is None
    assert b"Ana Lopes" not in none.data and b"Oberkampf" not in none.data


def test_none_with_a_byte_budget_of_jpeg_xl_strips_a_jpegs_metadata():
    """method='jpeg', format='jxl' and a byte budget encode the pixels (archive mode keeps a
    file bit-exact only without one): metadata='none' was refused as if archive mode applied."""
    src = camera_jpeg(icc=wide_icc(1.8), exif=camera_exif())
    kept = compress_image(src, method="jpeg", format="jxl", target_bytes=20_000)
    bare = compress_image(src, method="jpeg", format="jxl", target_bytes=20_000, metadata="none")
    assert kept.format == bare.format == "JXL" and bare.compressed_bytes <= 20_000
    assert "jpeg_reconstruction" not in bare.operations
    assert not decode(bare.data).getexif()  # (a JPEG XL always describes its colours)
    assert decode(kept.data).getexif()[0x010F] == "Canon"


def test_xmp_and_iptc_under_keep_and_none():
    src = tagged_photo()
    kw = dict(target_width=128, target_height=192, format="jpeg", energy_function=GRADIENT)
    results = {m: compress_image(src, metadata=m, **kw) for m in ("keep", "compact", "none")}
    keep = xmp_properties(written_metadata(results["keep"].data)["xmp"])
    assert keep[("tiff", "Orientation")] == "1"  # the packet said 6: the output is upright
    assert keep[("photoshop", "DocumentAncestors")].count("xmp.did:") == 400
    assert ("GCamera", "MotionPhoto") not in keep and ("Container", "Directory") not in keep
    assert IptcImagePlugin.getiptcinfo(decode(results["keep"].data))[(2, 80)] == b"Ana Lopes"
    none = decode(results["none"].data)
    assert written_metadata(results["none"].data)["xmp"] is None
    assert IptcImagePlugin.getiptcinfo(none) is None
    sizes = {m: r.compressed_bytes for m, r in results.items()}
    # the edit history weighs about 20 KB; what compact keeps, under 2 KB
    assert sizes["keep"] > sizes["compact"] + 15_000
    assert sizes["none"] < sizes["compact"] < sizes["none"] + 2_000
    assert all(np.array_equal(results["none"].pixels, r.pixels) for r in results.values())


def test_a_tiffs_xmp_and_iptc_tags_are_read():
    record = iptc_record(caption="Quay at dawn")
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[700], ifd.tagtype[700] = lightroom_packet(ancestors=3), 1
    ifd[33723], ifd.tagtype[33723] = record, 7
    buf = io.BytesIO()
    Image.fromarray(photo("coffee", 96)).save(buf, "TIFF", tiffinfo=ifd)
    loaded = load_image(buf.getvalue())
    assert loaded.iptc == record
    assert xmp_properties(loaded.xmp)[("dc", "subject")] == "market|Lyon|people"
    out = compress_image(buf.getvalue(), target_width=64, format="jpeg", energy_function=GRADIENT)
    assert IptcImagePlugin.getiptcinfo(decode(out.data))[(2, 120)] == b"Quay at dawn"


def test_a_tiff_tagged_with_thousands_of_keywords_becomes_a_jpeg_under_compact():
    """A TIFF's XMP and IPTC tags have no size limit; 3,000 keywords (a 100 KB packet, a 78 KB
    record) are all descriptive, so compact keeps them, and a JPEG segment holds 64 KiB: the
    JPEG output was an EncodingError that lost the picture. The packet goes as extended XMP,
    the record (its fields are in the packet too) is left out."""
    keywords = [f"keyword number {i}" for i in range(3000)]
    bag = "".join(f"<rdf:li>{k}</rdf:li>" for k in keywords)
    packet = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
              f'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/'
              f'elements/1.1/"><dc:subject><rdf:Bag>{bag}</rdf:Bag></dc:subject>'
              f'</rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[700], ifd.tagtype[700] = packet, 1
    ifd[33723], ifd.tagtype[33723] = iptc_record(keywords=keywords), 7
    buf = io.BytesIO()
    Image.fromarray(photo("coffee", 96)).save(buf, "TIFF", tiffinfo=ifd)
    out = compress_image(buf.getvalue(), target_width=64, format="jpeg", energy_function=GRADIENT)
    assert decode(out.data).size == (64, 43)
    assert b"HasExtendedXMP" in decode(out.data).info["xmp"]
    assert out.data.count(b"http://ns.adobe.com/xmp/extension/\0") == 2
    assert b"<rdf:li>keyword number 2999</rdf:li>" in out.data  # (in the last piece)


def written_metadata(data: bytes) -> dict:
    """What a written file carries, read back: its XMP packet (JPEG XL: from the file's
    ``xml `` box, which Pillow's plug-in does not read)."""
    if data[4:8] == b"JXL " or data[:2] == b"\xff\x0a":
        at = data.find(b"<x:xmpmeta")
        return {"xmp": data[at:data.find(b"</x:xmpmeta>", at) + 12] if at >= 0 else None}
    return {"xmp": decode(data).info.get("xmp")}


@pytest.mark.parametrize("mode", ["compact", "keep"])
def test_the_exif_block_does_not_state_the_inputs_size_or_subject_position(mode):
    """Cameras write the picture's size in the Exif directory (PixelXDimension,
    PixelYDimension), Android phones in the main one too (ImageWidth, ImageLength), and where
    the subject lies in its pixels (SubjectArea, SubjectLocation): a 96-pixel thumbnail said
    384 x 256, and pointed at a subject outside itself. The rest of the block stays."""
    exif = Image.Exif()
    exif.load(camera_exif(maker_note=256))
    exif[0x0100], exif[0x0101] = 384, 256
    sub = exif.get_ifd(EXIF)
    sub[0xA002], sub[0xA003], sub[0x9214], sub[0xA214] = 384, 256, (192, 128, 40, 30), (192, 128)
    src = camera_jpeg(exif=exif.tobytes(), pixels=photo("astronaut", 384, 256))
    out = compress_image(src, scale=0.25, metadata=mode, energy_function=GRADIENT)
    written = decode(out.data).getexif()
    assert out.size == (96, 64)
    assert 0x0100 not in written and 0x0101 not in written
    for tag in (0xA002, 0xA003, 0x9214, 0xA214):
        assert tag not in written.get_ifd(EXIF), hex(tag)
    assert written[0x010F] == "Canon" and written.get_ifd(EXIF)[0x9003] == "2026:07:14 09:30:00"
    assert written.get_ifd(GPS)[1] == "N"
    assert (MAKER_NOTE in written.get_ifd(EXIF)) == (mode == "keep")


def test_compact_applies_a_profile_of_srgbs_primaries_and_carries_a_wider_one():
    """Visual review 28: a profile with sRGB's primaries and another tone curve was carried, the
    pixels coded in its levels (a linear-light picture: 3x the bytes at the same score). It is
    applied under compact and public (the output looks the same: checked through the profile),
    carried under keep; a wide-gamut one of the same curve still travels."""
    pixels = photo("astronaut", 128)
    kw = dict(scale=1.0, format="png", energy_function=GRADIENT)
    src = camera_jpeg(icc=gamma_icc(1.8), pixels=pixels)
    seen = rgb_to_srgb(load_image(src).pixels, gamma_icc(1.8)).astype(int)
    for metadata in ("compact", "public"):
        out = compress_image(src, metadata=metadata, **kw)
        assert "icc_profile" not in decode(out.data).info, metadata
        assert np.abs(out.pixels.astype(int) - seen).max() <= 1, metadata
    assert decode(compress_image(src, metadata="keep", **kw).data).info["icc_profile"] == \
        gamma_icc(1.8)
    wide = compress_image(camera_jpeg(icc=wide_icc(1.8), pixels=pixels), **kw)
    assert decode(wide.data).info["icc_profile"] == wide_icc(1.8)


def test_compact_applies_a_profile_too_large_to_carry():
    """Review 14, O01: a valid 1 MB RGB profile (table-based profiles weigh that much) made a
    256-pixel output of 1 MB under compact. Over LARGEST_PROFILE it is applied to the pixels;
    a wide-gamut profile of the usual size still travels."""
    icc = wide_icc(1.8)
    padded = struct.pack(">I", len(icc) + 200_000) + icc[4:] + bytes(200_000)
    assert len(padded) > LARGEST_PROFILE
    pixels = photo("astronaut", 256)
    kw = dict(scale=1.0, format="png", energy_function=GRADIENT)
    large = compress_image(camera_jpeg(icc=padded, pixels=pixels), **kw)
    assert "icc_profile" not in decode(large.data).info and large.compressed_bytes < 200_000
    small = compress_image(camera_jpeg(icc=icc, pixels=pixels), **kw)
    assert decode(small.data).info["icc_profile"] == icc
    assert np.abs(large.pixels.astype(int) - rgb_to_srgb(small.pixels, icc)).max() <= 1


def test_keep_applies_a_profile_readers_refuse():
    """Under keep a 2 MB RGB profile was carried into a PNG that Pillow (the library's own
    load_image too) refuses to open (its iCCP decompresses past MAX_TEXT_CHUNK), and a 17 MB
    one failed every JPEG output (security review 48). Over LARGEST_KEPT_PROFILE it is
    applied to the pixels; one of the usual size is kept."""
    from compress_core.metadata import LARGEST_KEPT_PROFILE

    icc = wide_icc(1.8)
    padded = struct.pack(">I", len(icc) + 2_000_000) + icc[4:] + bytes(2_000_000)
    assert len(padded) > LARGEST_KEPT_PROFILE
    pixels = photo("astronaut", 128)
    kept = compress_image(camera_jpeg(icc=icc, pixels=pixels), scale=1.0, format="png",
                          energy_function=GRADIENT, metadata="keep")
    for fmt in ("png", "jpeg"):
        large = compress_image(camera_jpeg(icc=padded, pixels=pixels), scale=1.0, format=fmt,
                               energy_function=GRADIENT, metadata="keep")
        assert "icc_profile" not in decode(large.data).info, fmt
        assert load_image(large.data).pixels.shape == pixels.shape, fmt
        if fmt == "png":
            assert np.abs(large.pixels.astype(int)
                          - rgb_to_srgb(kept.pixels, icc)).max() <= 1

@pytest.mark.filterwarnings("ignore:Truncated File Read")   # (Pillow's, on the block made here)
def test_public_drops_an_exif_block_read_as_nothing():
    """An EXIF block whose entries Pillow cannot read (a Make pointing past the block) may
    still hold a GPS directory a tolerant reader finds: compact carries it as it came, public
    drops it (diff review 26)."""
    from compress_core.metadata import public_exif

    ifd0 = (struct.pack("<H", 2) + struct.pack("<HHII", 0x010F, 2, 40, 500)
            + struct.pack("<HHII", 0x8825, 4, 1, 38) + struct.pack("<I", 0))
    gps = struct.pack("<H", 1) + struct.pack("<HHI4s", 1, 2, 2, b"N\x00\x00\x00") + b"\0" * 4
    block = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd0 + gps
    assert compact_exif(block) == block and public_exif(block) is None


@pytest.mark.parametrize("mode", ["compact", "keep"])
def test_a_png_exif_block_over_a_jpeg_segment_is_written_without_its_largest_values(mode):
    """A PNG's EXIF block (no 64 KiB limit) of 80 values of 999 bytes each, every one under
    compact's 1 KiB: its JPEG output failed (EncodingError: 'does not fit a JPEG segment ...
    metadata=compact carries a smaller one') under compact and keep alike (security review 47).
    It is carried without its largest values; the camera, date and copyright stay."""
    exif = Image.Exif()
    exif.load(camera_exif(0))
    for i in range(80):
        exif[0xC100 + i] = f"x{i:03d}" * 250
    buf = io.BytesIO()
    Image.fromarray(photo("astronaut", 256)).save(buf, "PNG", exif=exif.tobytes())
    assert len(exif.tobytes()) > 65_533
    result = compress_image(buf.getvalue(), metadata=mode, format="jpeg", scale=0.5,
                            energy_function=GRADIENT)
    out = decode(result.data).getexif()
    assert out[0x010F] == "Canon" and out[0x8298] == "(c) Ana"
    assert out.get_ifd(EXIF)[0x9003] == "2026:07:14 09:30:00"
    assert 0xC100 not in out


def test_public_drops_an_xmp_packet_held_in_the_exif_block():
    """IFD0's XMLPacket tag (0x02BC) holds an XMP packet that ExifTool reads as XMP: its
    exif:GPSLatitude travelled into public outputs beside the dropped GPS directory (security
    review 48)."""
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/'
              b'02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:exif="http://ns.adobe'
              b'.com/exif/1.0/" exif:GPSLatitude="48,51.5N"/></rdf:RDF></x:xmpmeta>')
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x02BC] = packet
    out = public_exif(exif.tobytes())
    assert out is not None and b"Canon" in out and b"51.5N" not in out
    # the same tag in the Exif directory (ExifTool's one table reads it in any directory)
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8769)[0x9003] = "2026:07:14 09:30:00"
    exif.get_ifd(0x8769)[0x02BC] = packet
    out = public_exif(exif.tobytes())
    assert out is not None and b"Canon" in out and b"51.5N" not in out


def test_a_gps_pointer_in_the_exif_directory_is_dropped_in_every_mode():
    """A GPS directory's pointer in the Exif directory (the standard puts it in the main one;
    Pillow reads only that one as a pointer) was copied as a number, an offset into whatever
    the output holds there; public wrote it too (security review 48)."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8769)[0x9003] = "2026:07:14 09:30:00"
    exif.get_ifd(0x8769)[0x8825] = 44
    block = exif.tobytes()
    for rewritten in (compact_exif, public_exif, true_exif):
        out = Image.Exif()
        out.load(rewritten(block))
        assert out[0x010F] == "Canon", rewritten.__name__
        assert dict(out.get_ifd(0x8769)) == {0x9003: "2026:07:14 09:30:00"}, rewritten.__name__


def _pointers_outside(block: bytes):
    """(directory, tag, offset) of each IFD pointer of an EXIF block (``Exif\\0\\0`` prefix
    or not) that lies outside it, walked by hand (Pillow reads a pointer it does not follow as
    a number)."""
    t = block[6:] if block.startswith(b"Exif\0\0") else block
    e = "<" if t[:2] == b"II" else ">"
    bad, seen = [], set()

    def walk(off, name):
        if off in seen or off + 2 > len(t):
            bad.append((name, None, off))
            return
        seen.add(off)
        for k in range(struct.unpack(e + "H", t[off:off + 2])[0]):
            tag, typ, _ = struct.unpack(e + "HHI", t[off + 2 + 12 * k:off + 10 + 12 * k])
            if tag in (0x8769, 0x8825, 0xA005) and typ in (4, 13):
                target = struct.unpack(e + "I", t[off + 10 + 12 * k:off + 14 + 12 * k])[0]
                if target + 2 > len(t):
                    bad.append((name, hex(tag), target))
                else:
                    walk(target, hex(tag))

    walk(struct.unpack(e + "I", t[4:8])[0], "IFD0")
    return bad


@pytest.mark.parametrize("metadata", ["compact", "keep", "public"])
def test_a_turned_photo_keeps_its_interoperability_directory_and_no_dangling_pointer(metadata):
    """Cameras write an Interoperability directory (``R98``) under the Exif one; a photo
    turned upright had its EXIF serialised twice by Pillow, which wrote a second pointer to
    it in IFD0, copied by the next rewrite as a number past the block's end (conform review
    48: 1,108 in a block of 1,084 bytes, in every output format)."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "Canon", 6
    sub = exif.get_ifd(EXIF)
    sub[0x9003], sub[0xA002], sub[0xA003] = "2026:07:14 09:30:00", 384, 256
    sub[ExifTags.IFD.Interop] = {1: "R98"}
    block = exif.tobytes()
    assert not _pointers_outside(block)
    loaded = Image.Exif()
    loaded.load(block)
    assert loaded.get_ifd(ExifTags.IFD.Interop).get(1) == "R98"   # (as cameras write it)
    data = camera_jpeg(exif=block, pixels=photo("astronaut", 96))
    for fmt in ("jpeg", "webp", "png"):
        out = compress_image(data, energy_function=GRADIENT, method="jpeg", format=fmt,
                             metadata=metadata, show_progress=False,
                             **({} if fmt == "png" else {"quality": 80}))
        written = decode(out.data).getexif()
        assert written.get(0x0112) == 1
        assert 0xA005 not in written, fmt   # (in IFD0: not where the standard puts it)
        assert written.get_ifd(ExifTags.IFD.Interop).get(1) == "R98", fmt
        assert not _pointers_outside(written.tobytes()), fmt
        assert not _pointers_outside(decode(out.data).info["exif"]), fmt


def test_public_drops_what_compact_drops_too():
    """public is compact less the position and the camera's serials: a maker note (where
    makes keep the body's serial number) and values over 1 KiB go as under compact (a
    mutation that dropped only the GPS directory and the identifying tags survived every
    test: review 51)."""
    from compress_core.metadata import public_exif

    block = Image.Exif()
    block.load(camera_exif(maker_note=4096))
    block.get_ifd(EXIF)[0x9286] = b"ASCII\0\0\0" + b" " * 2000  # a padded UserComment
    out = Image.Exif()
    out.load(public_exif(block.tobytes()))
    sub = out.get_ifd(EXIF)
    assert MAKER_NOTE not in sub and 0x9286 not in sub
    assert sub[0x9003] == "2026:07:14 09:30:00" and out[0x010F] == "Canon"
    assert not out.get_ifd(GPS)


def test_compact_weighs_every_value_by_its_bytes():
    """Over LARGEST_VALUE bytes is dropped, at it kept; an array of numbers weighs what its
    numbers do (a 300-number array: 300 entries, 2,400 bytes as compact counts them), so a
    camera's table of numbers goes like a long text (review 51: counting entries, or numbers
    as nothing, kept such tables and no test failed)."""
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    sub = exif.get_ifd(EXIF)
    sub[0xC101] = b"a" * LARGEST_VALUE          # at the limit: kept
    sub[0xC102] = b"b" * (LARGEST_VALUE + 1)    # over it: dropped
    sub[0xC103] = tuple(range(300))             # 300 numbers: dropped
    sub[0xC104] = tuple(range(20))              # 20 numbers: kept
    kept = Image.Exif()
    kept.load(compact_exif(exif.tobytes()))
    sub = kept.get_ifd(EXIF)
    assert 0xC101 in sub and 0xC104 in sub
    assert 0xC102 not in sub and 0xC103 not in sub


def test_exif_within_drops_only_the_values_it_must():
    """A block over the room is cut at the largest values first, halving the bound (1 KiB,
    512, 256 ...) only while it still does not fit: values of 300 bytes stay where dropping
    those of 600 is enough (review 51: skipping the 512-byte step dropped both, and no test
    failed)."""
    from compress_core.metadata import exif_within

    exif = Image.Exif()
    exif[0x010F] = "Canon"
    for i in range(40):
        exif[0xC100 + i] = "m" * 600
    for i in range(40):
        exif[0xC200 + i] = "s" * 300
    block = exif.tobytes()
    fitted = exif_within(block, len(block) - 40 * 600 + 2_000)
    out = Image.Exif()
    out.load(fitted)
    assert out[0x010F] == "Canon"
    assert not any(0xC100 + i in out for i in range(40))
    assert all(out[0xC200 + i] == "s" * 300 for i in range(40))
    assert exif_within(block, len(block)) is block   # it fits: the same block
