"""What an output carries of its input's XMP packet (the ``xmp`` part of option ``metadata``).

XMP is where photo tools keep what a picture *is*: captions, keywords, the creator, the
copyright and licence (Dublin Core, IPTC Core and Extension, XMP Rights, PLUS), ratings and
labels. Lightroom, Photo Mechanic and agencies' tools write them there (keywords often nowhere
else), so an archive that drops XMP drops them. The same packet also describes things the
output no longer has, which would make it lie:

* the orientation (``tiff:Orientation``): the pixels are turned upright on decoding, and a
  viewer that honours the packet's orientation would turn them again;
* the input's dimensions (``tiff:ImageWidth``, ``exif:PixelXDimension`` ...) and file format
  (``dc:format``, the MIME type Lightroom and Photoshop write: ``image/tiff`` on a JPEG output);
* data appended to the input file and not written to the output: motion photos' videos
  (``GCamera:MotionPhoto``, ``MicroVideo``), their container directories (``Container``,
  ``GContainer``), HDR gain maps (``hdrgm``), depth maps (``GDepth``), ``GImage``,
  ``GAudio``, and the pointer to an extended packet (``xmpNote:HasExtendedXMP``);
* regions in the input's coordinates (face and person regions of ``mwg-rs``, ``MP``, and IPTC
  Extension's ``ImageRegion``), which cropping and seam carving move.

:func:`upright_xmp` (``metadata="keep"``) keeps the packet but for those; :func:`compact_xmp`
(``metadata="compact"``, the default) keeps only the descriptive and rights properties listed
in :data:`COMPACT_NAMESPACES` and :data:`COMPACT_PROPERTIES`, and the GPS position
(``exif:GPS...``; :func:`public_xmp` drops it and IPTC's locations): camera-raw settings, edit
histories (Photoshop's ``DocumentAncestors`` can reach hundreds of KiB) and the rest go.

Packets are parsed with ``defusedxml`` (no DTDs, no entities: the packet comes from a bucket).
A packet that cannot be parsed is dropped, with a debug message: carrying it unread could
carry an orientation that turns the output a second time. So is one whose elements nest deeper
than Python's recursion limit lets ``minidom`` walk them (a 35 KB packet of 5,000 nested
elements, which fits one JPEG segment, raised ``RecursionError`` and lost the picture).
"""
from __future__ import annotations

import hashlib
import logging
import re
from typing import Callable, Optional, Tuple
from xml.dom import Node

__all__ = ["compact_xmp", "public_xmp", "upright_xmp", "extended_xmp", "same_properties",
           "COMPACT_NAMESPACES", "COMPACT_PROPERTIES", "POSITION_PROPERTIES", "XMP_PACKAGE",
           "LARGEST_PACKET"]

_LOG = logging.getLogger(__name__)

#: The package that parses packets (PyPI name).
XMP_PACKAGE = "defusedxml"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_XMLNS = "http://www.w3.org/2000/xmlns/"
_META = "adobe:ns:meta/"
_XML = "http://www.w3.org/XML/1998/namespace"
_TIFF = "http://ns.adobe.com/tiff/1.0/"
_EXIF = "http://ns.adobe.com/exif/1.0/"
_XMP = "http://ns.adobe.com/xap/1.0/"
_PHOTOSHOP = "http://ns.adobe.com/photoshop/1.0/"
_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
_DC = "http://purl.org/dc/elements/1.1/"

#: The largest XMP packet read, in bytes: 20 times one of 3,000 keywords. A 40 MB packet took
#: 53 s and 2.1 GB to parse, and its keywords went whole into a 32-pixel output (security
#: review 26); a larger one is dropped, with a warning, under every ``metadata``.
LARGEST_PACKET = 2 * 1024 * 1024

#: Namespaces ``compact`` keeps whole: Dublin Core (title, description, creator, rights,
#: keywords), XMP Rights, IPTC Core and Extension (but for its regions), PLUS (licences) and
#: Lightroom's keyword hierarchy.
COMPACT_NAMESPACES = frozenset([
    _DC,
    "http://ns.adobe.com/xap/1.0/rights/",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/",
    _IPTC_EXT,
    "http://ns.useplus.org/ldf/xmp/1.0/",
    "http://ns.adobe.com/lightroom/1.0/",
])
#: Single properties ``compact`` keeps from other namespaces: Photoshop's IPTC fields, the
#: rating, the label and the creation date (scans and edited exports often have no capture
#: date in their EXIF).
COMPACT_PROPERTIES = frozenset(
    [(_PHOTOSHOP, name) for name in (
        "Headline", "Credit", "Source", "City", "State", "Country", "DateCreated",
        "Instructions", "AuthorsPosition", "CaptionWriter", "TransmissionReference",
        "Category", "SupplementalCategories", "Urgency")]
    + [(_XMP, name) for name in ("Rating", "Label", "CreateDate")])

#: Properties ``public`` drops besides ``compact``'s: IPTC Extension's locations, whose
#: structures hold the GPS coordinates (``exif:GPSLatitude`` ...) of where the picture was
#: taken and of what it shows, and the XMP copy of the EXIF GPS directory (:func:`_gps`).
POSITION_PROPERTIES = frozenset([(_IPTC_EXT, "LocationCreated"), (_IPTC_EXT, "LocationShown")])

#: Namespaces describing data appended to the input file, which the output does not have.
_APPENDED_DATA = frozenset([
    "http://ns.google.com/photos/1.0/camera/",       # GCamera: motion photos
    "http://ns.google.com/photos/1.0/container/",    # Container: the appended items
    "http://ns.google.com/photos/1.0/container/item/",
    "http://ns.google.com/photos/dd/1.0/device/",
    "http://ns.google.com/photos/dd/1.0/profile/",
    "http://ns.adobe.com/hdr-gain-map/1.0/",         # hdrgm: HDR gain maps
    "http://ns.google.com/photos/1.0/depthmap/",     # GDepth
    "http://ns.google.com/photos/1.0/image/",        # GImage
    "http://ns.google.com/photos/1.0/audio/",        # GAudio
    "http://ns.google.com/photos/1.0/panorama/",     # GPano: the input's crop in a panorama
    "http://www.metadataworkinggroup.com/schemas/regions/",  # mwg-rs: regions
    "http://ns.microsoft.com/photo/1.2/",            # MP: face regions
    "http://ns.microsoft.com/photo/1.2/t/RegionInfo#",
    "http://ns.microsoft.com/photo/1.2/t/Region#",
])
#: Single properties the output makes false.
_UNTRUE = frozenset([
    (_TIFF, "ImageWidth"), (_TIFF, "ImageLength"), (_EXIF, "PixelXDimension"),
    (_EXIF, "PixelYDimension"), ("http://ns.adobe.com/xmp/note/", "HasExtendedXMP"),
    (_IPTC_EXT, "ImageRegion"), (_DC, "format"),
])
_ORIENTATION = (_TIFF, "Orientation")

_PACKET_START = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
_PACKET_END = '<?xpacket end="w"?>'


def _gps(name) -> bool:
    """Whether ``name`` is one of the EXIF GPS directory's tags written to XMP
    (``exif:GPSLatitude``, ``exif:GPSLongitude``, ``exif:GPSAltitude`` ...): ``compact`` keeps
    them, as it keeps the EXIF block's GPS directory (a position written to XMP alone, as
    digiKam and geotagging tools may, was dropped: docs review 34); ``public`` drops them."""
    return name[0] == _EXIF and name[1].startswith("GPS")


def _kept_by_compact(name) -> bool:
    return ((name[0] in COMPACT_NAMESPACES and name not in _UNTRUE)
            or name in COMPACT_PROPERTIES or _gps(name))


def _kept_by_keep(name) -> bool:
    return name[0] not in _APPENDED_DATA and name not in _UNTRUE


def compact_xmp(packet: Optional[bytes]) -> Optional[bytes]:
    """The descriptive and rights properties of ``packet`` (see the module's text), as a new
    packet; None when it holds none or cannot be parsed."""
    return _filtered(packet, _kept_by_compact, tidy=True)


def public_xmp(packet: Optional[bytes]) -> Optional[bytes]:
    """:func:`compact_xmp`'s properties without :data:`POSITION_PROPERTIES` (``metadata=
    "public"``); None when it holds none or cannot be parsed."""
    return _filtered(packet, lambda name: _kept_by_compact(name)
                     and name not in POSITION_PROPERTIES and not _gps(name), tidy=True,
                     drop=_gps)


def upright_xmp(packet: Optional[bytes]) -> Optional[bytes]:
    """``packet`` without what the output makes false (see the module's text), its
    orientation set to 1; None when nothing is left or it cannot be parsed."""
    return _filtered(packet, _kept_by_keep)


def same_properties(a: Optional[bytes], b: Optional[bytes]) -> bool:
    """Whether packets ``a`` and ``b`` say the same: the same properties with the same values,
    however written (attribute order, prefixes, indentation, the writing toolkit's name). A
    packet that cannot be parsed equals only its own bytes. (A packet with nothing to drop was
    rewritten with its attributes in another order, so the input file was never written as it
    is: an XMP-carrying WebP at quality 30 re-encoded 15% larger.)"""
    if a == b:
        return True
    if not a or not b:
        return False
    try:
        from defusedxml.minidom import parseString

        return _statements(parseString(_unpadded(bytes(a)))) == \
            _statements(parseString(_unpadded(bytes(b))))
    except Exception:  # noqa: BLE001 -- unreadable, or nested too deep: not the same
        return False


def _statements(document) -> list:
    """The properties of every description of ``document``'s outermost ``rdf:RDF`` elements
    (typed nodes with their type), and the elements outside them, each in a form that ignores
    how it was written, sorted: what the filters read (a typed node, or an element beside
    ``rdf:RDF``, that they removed had the packet called the same, and the input file written
    as it is with it)."""
    def canonical(node):
        if node.nodeType == Node.ATTRIBUTE_NODE:
            return (node.namespaceURI, node.localName, node.value)
        attributes = tuple(sorted((x.namespaceURI or "", x.localName, x.value)
                                  for x in node.attributes.values()
                                  if x.namespaceURI != _XMLNS and x.name != "xmlns"))
        children = [n for n in node.childNodes if n.nodeType == Node.ELEMENT_NODE]
        text = "" if children else "".join(
            n.data for n in node.childNodes
            if n.nodeType in (Node.TEXT_NODE, Node.CDATA_SECTION_NODE))
        return (node.namespaceURI, node.localName, attributes,
                tuple(canonical(n) for n in children), text)

    found = []
    rdfs = [rdf for rdf in document.getElementsByTagNameNS(RDF, "RDF") if not _within_rdf(rdf)]
    for rdf in rdfs:
        for description in [n for n in rdf.childNodes if n.nodeType == Node.ELEMENT_NODE]:
            if not _is(description, RDF, "Description"):
                found.append(repr(("typed node", description.namespaceURI,
                                   description.localName)))
            found.extend(repr(canonical(p)) for p in _properties(description))
    path = _rdf_path(rdfs)
    stack = [document.documentElement]
    while stack:
        node = stack.pop()
        if id(node) not in path:
            found.append(repr(canonical(node)))
            continue
        found.extend(repr(("attribute around rdf:RDF", a.namespaceURI, a.localName, a.value))
                     for a in _outside_attributes(node))
        if not _is(node, RDF, "RDF"):
            stack.extend(n for n in node.childNodes if n.nodeType == Node.ELEMENT_NODE)
    return sorted(found)


def extended_xmp(packet: bytes) -> Tuple[bytes, bytes, bytes]:
    """``packet`` as a JPEG file holds one over 64 KiB, the most a segment holds (XMP
    Specification Part 3, 1.1.3.1, as Photoshop writes it): ``(standard, guid, extended)``.
    ``extended`` is the packet without its ``xpacket`` wrapper, written in pieces after the
    standard one; ``guid`` is its MD5 in 32 upper-case hex digits; ``standard`` is a packet
    whose only property, ``xmpNote:HasExtendedXMP``, names that GUID (readers that know
    extended XMP, as ExifTool and Adobe's, read the whole; others find no property rather
    than part of them)."""
    text = bytes(packet).strip(b"\x00 \t\r\n")
    if text.startswith(b"<?xpacket"):
        text = text[text.find(b"?>") + 2:]
    end = text.rfind(b"<?xpacket")
    extended = (text[:end] if end >= 0 else text).strip()
    guid = hashlib.md5(extended).hexdigest().upper().encode("ascii")
    standard = (f'{_PACKET_START}<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
                f'<rdf:Description rdf:about="" xmlns:xmpNote="http://ns.adobe.com/xmp/note/" '
                f'xmpNote:HasExtendedXMP="{guid.decode()}"/></rdf:RDF></x:xmpmeta>'
                f'{_PACKET_END}').encode("utf-8")
    return standard, guid, extended


def _filtered(packet: Optional[bytes], keep: Callable[[tuple], bool],
              tidy: bool = False, drop: Optional[Callable[[tuple], bool]] = None
              ) -> Optional[bytes]:
    """The packet with the properties ``keep`` refuses removed (None when none is left);
    ``tidy``: without indentation and the writing toolkit's name (``x:xmptk``), which say
    nothing of the picture (a third of a small packet); ``drop``: the names also removed at
    any depth inside the properties kept (a GPS position inside a structure)."""
    if not packet:
        return None
    if len(packet) > LARGEST_PACKET:
        _LOG.warning("an XMP packet of %d bytes (over %d) is dropped unread", len(packet),
                     LARGEST_PACKET)
        return None
    try:
        from defusedxml.minidom import parseString
    except ImportError:
        _LOG.warning("an XMP packet of %d bytes is dropped: reading it needs the package %s "
                     "(pip install %s)", len(packet), XMP_PACKAGE, XMP_PACKAGE)
        return None
    try:
        document = parseString(_unpadded(bytes(packet)))
    except Exception as exc:  # noqa: BLE001 -- defusedxml's refusals, expat's errors
        _LOG.debug("an XMP packet of %d bytes is dropped, it cannot be parsed: %s",
                   len(packet), exc)
        return None
    try:
        return _kept_packet(document, keep, tidy, drop)
    except RecursionError:  # minidom walks and writes elements recursively
        _LOG.debug("an XMP packet of %d bytes is dropped: its elements nest deeper than it "
                   "can be read", len(packet))
        return None
    except Exception as exc:  # noqa: BLE001 -- a packet must never lose the picture
        _LOG.warning("an XMP packet of %d bytes is dropped, it could not be rewritten: %s: %s",
                     len(packet), type(exc).__name__, exc)
        return None


def _unpadded(packet: bytes) -> bytes:
    """``packet`` without the NULs and blanks writers pad it with. A packet in UTF-16 (the
    XMP standard allows it; a BOM or a NUL in its first two bytes says so) is read as text
    first: its last character's NUL byte, stripped, left it unreadable, and it was dropped
    (security review 48)."""
    utf16 = ("utf-16" if packet[:2] in (b"\xff\xfe", b"\xfe\xff") else
             "utf-16-be" if packet[:1] == b"\x00" else
             "utf-16-le" if packet[1:2] == b"\x00" else None)
    if utf16 is None:
        return packet.strip(b"\x00 \t\r\n")
    text = packet.decode(utf16, "replace").strip("\x00 \t\r\n\ufeff")
    # (expat takes the bytes as UTF-8 now, whatever the declaration says)
    return re.sub(r"^<\?xml[^>]*\?>", "", text).encode("utf-8")


def _kept_packet(document, keep: Callable[[tuple], bool], tidy: bool,
                 drop: Optional[Callable[[tuple], bool]] = None) -> Optional[bytes]:
    kept = 0
    rdfs = [rdf for rdf in document.getElementsByTagNameNS(RDF, "RDF")
            if not _within_rdf(rdf)]   # (one inside a property is that property's value)
    _prune_outside(rdfs)
    for rdf in rdfs:
        # (every node element: an rdf:Description, or a typed node, <exif:Position
        # rdf:about="">, which RDF reads as a description of that type and ExifTool as
        # properties: left unfiltered, its exif:GPSLatitude travelled into public outputs)
        empty = []
        for description in [n for n in rdf.childNodes if n.nodeType == Node.ELEMENT_NODE]:
            kept += _filter_description(description, keep)
            if drop is not None:
                _drop_nested(description, drop)
            if not _properties(description):
                empty.append(description)
            else:
                _drop_unused_declarations(description)
        _remove_children(rdf, empty)
    if not kept:
        return None
    if tidy:
        _tidy(document.documentElement)
    return (_PACKET_START + document.documentElement.toxml() + _PACKET_END).encode("utf-8")


def _remove_children(node, doomed) -> None:
    """Remove the nodes ``doomed`` (children of ``node``) in one pass: minidom's
    ``removeChild`` is a ``list.remove`` (a search and a shift), and removing the n blanks or
    properties of a 2 MB packet one by one took minutes (security review 48)."""
    if not doomed:
        return
    gone = {id(n) for n in doomed}
    kept = [n for n in node.childNodes if id(n) not in gone]
    for n in doomed:
        n.parentNode = n.previousSibling = n.nextSibling = None
    node.childNodes[:] = kept
    previous = None
    for n in kept:
        n.previousSibling = previous
        if previous is not None:
            previous.nextSibling = n
        previous = n
    if previous is not None:
        previous.nextSibling = None


def _within_rdf(node) -> bool:
    """Whether an ancestor of ``node`` is an ``rdf:RDF`` element."""
    node = node.parentNode
    while node is not None and node.nodeType == Node.ELEMENT_NODE:
        if _is(node, RDF, "RDF"):
            return True
        node = node.parentNode
    return False


def _rdf_path(rdfs) -> dict:
    """``{id(node): node}`` of the elements ``rdfs`` (the outermost ``rdf:RDF`` elements) and
    their ancestors, each once."""
    path = {}
    for rdf in rdfs:
        node = rdf
        while node is not None and node.nodeType == Node.ELEMENT_NODE and id(node) not in path:
            path[id(node)] = node
            node = node.parentNode
    return path


def _outside_attributes(node) -> list:
    """The attributes of ``node`` (an ``rdf:RDF`` or an ancestor of one) that may be read as
    properties: all but namespace declarations, ``x:xmpmeta``'s own (``x:xmptk``, or
    ``xmptk`` unprefixed, as some toolkits write it) and XML's own (``xml:lang``, as GIMP
    writes on ``rdf:RDF``). An unprefixed attribute of another name goes too: a tolerant
    reader may take ``GPSLatitude="..."`` for one."""
    return [a for a in node.attributes.values()
            if a.namespaceURI not in (_XMLNS, _META, _XML) and a.name not in ("xmlns", "xmptk")]


def _prune_outside(rdfs) -> None:
    """Remove what lies outside the ``rdf:RDF`` elements ``rdfs`` (elements, text, comments
    beside them or their ancestors, and the attributes of those ancestors and of ``rdf:RDF``
    but namespace declarations and ``x:``'s own): readers such as ExifTool read properties
    there, and no filter here looks at them (an ``exif:GPSLatitude`` beside ``rdf:RDF``
    travelled into ``public`` outputs: security review 48). Each parent is pruned once: a
    packet of many sibling ``rdf:RDF`` elements had its parent's children listed once per
    element (16,000 empty ones, 160 KB, took 28 s: diff review 48)."""
    path = _rdf_path(rdfs)
    parents = {}
    for node in path.values():
        parent = node.parentNode
        if parent is not None and parent.nodeType == Node.ELEMENT_NODE:
            parents[id(parent)] = parent
    for parent in parents.values():
        _remove_children(parent, [n for n in parent.childNodes if id(n) not in path and not (
            n.nodeType == Node.TEXT_NODE and not n.data.strip())])
    for node in path.values():
        for attr in _outside_attributes(node):
            node.removeAttributeNode(attr)


def _tidy(root) -> None:
    if root.hasAttributeNS(_META, "xmptk"):
        root.removeAttributeNS(_META, "xmptk")
    stack = [root]
    while stack:
        node = stack.pop()
        children = [n for n in node.childNodes if n.nodeType == Node.ELEMENT_NODE]
        if children or _is(node, RDF, "Description"):  # (a value's own text is never touched)
            _remove_children(node, [n for n in node.childNodes
                                    if n.nodeType == Node.TEXT_NODE and not n.data.strip()])
        # (comments and processing instructions say nothing a reader shows, and may say
        # anything: a position)
        _remove_children(node, [n for n in node.childNodes if n.nodeType in (
            Node.COMMENT_NODE, Node.PROCESSING_INSTRUCTION_NODE)])
        stack.extend(children)


def _is(node, namespace, name) -> bool:
    return (node.nodeType == Node.ELEMENT_NODE and node.namespaceURI == namespace
            and node.localName == name)


def _properties(description) -> list:
    """The properties of a top-level ``rdf:Description``: its attributes other than
    ``rdf:*`` and namespace declarations, and its child elements."""
    attributes = [a for a in description.attributes.values()
                  if a.namespaceURI not in (RDF, _XMLNS) and a.name != "xmlns"]
    elements = [n for n in description.childNodes if n.nodeType == Node.ELEMENT_NODE]
    return attributes + elements


def _drop_unused_declarations(description) -> None:
    """Remove the namespace declarations of ``description`` that nothing left in it uses (a
    Lightroom packet declares a dozen namespaces there, 900 bytes)."""
    used = set()
    stack = [description]
    while stack:
        node = stack.pop()
        used.add(node.namespaceURI)
        used.update(a.namespaceURI for a in node.attributes.values())
        stack.extend(n for n in node.childNodes if n.nodeType == Node.ELEMENT_NODE)
    for attr in list(description.attributes.values()):
        if attr.namespaceURI == _XMLNS and attr.value not in used:
            description.removeAttributeNode(attr)


def _drop_nested(description, drop: Callable[[tuple], bool]) -> None:
    """Remove the elements and attributes ``drop`` names at any depth inside the properties
    of ``description`` (walked without recursion: a packet's nesting has no limit here)."""
    stack = [n for n in description.childNodes if n.nodeType == Node.ELEMENT_NODE]
    while stack:
        node = stack.pop()
        for attr in list(node.attributes.values()):
            if drop((attr.namespaceURI, attr.localName)):
                node.removeAttributeNode(attr)
        elements = [n for n in node.childNodes if n.nodeType == Node.ELEMENT_NODE]
        doomed = [n for n in elements if drop((n.namespaceURI, n.localName))]
        _remove_children(node, doomed)
        gone = {id(n) for n in doomed}
        stack.extend(n for n in elements if id(n) not in gone)


def _filter_description(description, keep) -> int:
    """Remove the properties ``keep`` refuses; set the orientation kept to 1. How many
    properties are left."""
    left = 0
    doomed = []
    for prop in _properties(description):
        name = (prop.namespaceURI, prop.localName)
        if not keep(name):
            if prop.nodeType == Node.ATTRIBUTE_NODE:
                description.removeAttributeNode(prop)
            else:
                blank = prop.previousSibling  # the indentation before it
                if blank is not None and blank.nodeType == Node.TEXT_NODE and not blank.data.strip():
                    doomed.append(blank)
                doomed.append(prop)
            continue
        if name == _ORIENTATION:
            if prop.nodeType == Node.ATTRIBUTE_NODE:
                prop.value = "1"
            else:
                for child in list(prop.childNodes):
                    prop.removeChild(child)
                prop.appendChild(prop.ownerDocument.createTextNode("1"))
        left += 1
    _remove_children(description, doomed)
    return left
