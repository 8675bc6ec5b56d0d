"""Page bytes to a parsed tree: binary sniffing, charset decoding without mojibake, parsing.

Plain library (lxml and charset_normalizer); flags for what was repaired are appended to the list
the caller passes.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer
from lxml import etree, html
from trafilatura.utils import repair_faulty_html

__all__ = ["decode", "is_binary", "parse"]

_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"\x1f\x8b",
    b"PK\x03\x04",
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"Rar!",
    b"OggS",
    b"ID3",
    b"fLaC",
    b"\x7fELF",
    b"wOFF",
    b"wOF2",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"\xd0\xcf\x11\xe0",
)
_BINARY_TYPES = re.compile(r"^(?:image|audio|video|font)/|^application/(?:pdf|zip|(?:x-)?gzip)")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)


def _utf16_without_bom(sample: bytes) -> str | None:
    """The UTF-16 flavour of BOM-less UTF-16 text (NUL at every other byte), else None."""
    half = len(sample) // 2
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if half >= 32 and odd > 0.6 * half and even < 0.05 * half:
        return "utf-16-le"
    if half >= 32 and even > 0.6 * half and odd < 0.05 * half:
        return "utf-16-be"
    return None


def is_binary(body: bytes, content_type: str | None) -> bool:
    if content_type and _BINARY_TYPES.match(content_type.strip().lower()):
        return body.lstrip()[:1] != b"<"  # mislabelled HTML still gets a chance
    if body.startswith(_MAGIC) or body[4:8] == b"ftyp":
        return True
    sample = body[:4096]
    if body.startswith(tuple(bom for bom, _ in _BOMS)) or _utf16_without_bom(sample):
        return False
    # Text has no control bytes; random or compressed data has ~10 % of them.
    return len(sample.translate(None, _CONTROL)) < 0.95 * len(sample)


def _codec(name: str | bytes | None) -> str | None:
    if isinstance(name, bytes):
        name = name.decode("ascii", "ignore")
    try:
        codec = codecs.lookup(name).name if name else None
    except LookupError:
        return None
    # WHATWG: latin-1 and ascii labels mean windows-1252.
    return "cp1252" if codec in ("iso8859-1", "ascii", "latin-1") else codec


def decode(body: bytes, content_type: str | None, flags: list[str]) -> str:
    """Decode without mojibake: BOM, then valid UTF-8, then the declared charset, then detection.

    Valid UTF-8 wins over a declared legacy charset: multi-byte UTF-8 sequences practically never
    occur by chance in cp1252/latin-1 text, while servers often mislabel (trusting the header, as
    w3lib does, turns `è` into `Ã¨`).
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace")
    utf16 = _utf16_without_bom(body[:4096])
    if utf16:
        return body.decode(utf16, errors="replace")
    header = _HEADER_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:8192])
    declared = _codec(header and header.group(1)) or _codec(meta and meta.group(1))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        if declared not in (None, "utf-8") and not body.isascii():
            flags.append("charset-mismatch")
        return text
    if declared and declared != "utf-8":
        try:
            return body.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass
    flags.append("charset-fallback")
    guess = charset_normalizer.from_bytes(body[:500_000]).best()
    return body.decode(guess.encoding if guess else "cp1252", errors="replace")


# str -> tree

_PARSER = etree.HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    huge_tree=True,
)
# lxml.html's own parser picks each element's class in Python (form, input, label… subclasses),
# one call for every element object lxml hands out: ~480,000 calls on 181 news pages. Nothing
# here or in trafilatura uses those subclasses, so every element is a plain HtmlElement, looked up
# in C (~4 % of the extraction time).
_PARSER.set_element_class_lookup(
    etree.ElementDefaultClassLookup(
        element=html.HtmlElement,
        comment=html.HtmlComment,
        pi=html.HtmlProcessingInstruction,
        entity=html.HtmlEntity,
    )
)
# libxml2's HTML parser silently drops everything below depth 255 unless huge_tree is set, and
# even then stops at 2048; trafilatura also loses the text of very deep subtrees. Depth 250 is the
# tripwire for flattening.
_DEEP = etree.XPath("/" + "/".join(["*"] * 250))
_WRAPPER_RUN = re.compile(
    r"(?:<(?:div|span|section|font|center|b|i|u|em|strong|small)\b[^>]*>\s*){8,}", re.IGNORECASE
)
_CLOSING_RUN = re.compile(
    r"(?:</(?:div|span|section|font|center|b|i|u|em|strong|small)\s*>\s*){8,}", re.IGNORECASE
)


# trafilatura's repairs for libxml2 (a doctype it misreads, a self-closing <html/>) look at the
# first lines only; its removal of XML-invalid characters scans the whole page with a regular
# expression (~0.4 ms on a 170 KB page), done here on the encoded bytes instead at a tenth of the
# cost: in UTF-8 these control bytes only ever stand for themselves.
_REPAIR_SPAN = 4096
_XML_INVALID_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13))


def _xml_safe_utf8(text: str) -> bytes:
    # The first lines, or the first _REPAIR_SPAN characters of a page with no line break there:
    # all trafilatura's repairs look at (its character removal runs on the bytes below).
    cut = text.rfind("\n", 0, _REPAIR_SPAN) + 1
    head = text[: cut or _REPAIR_SPAN]
    repaired = repair_faulty_html(head, text[:50].lower())
    if not cut:
        # Its doctype repair splits off the first line and joins it back with a line break,
        # which a head cut inside that line would not have.
        repaired = repaired.removesuffix("\n")
    text = repaired + text[len(head) :]
    if "\ufffe" in text or "\uffff" in text:  # noncharacters, invalid in XML
        text = text.replace("\ufffe", "").replace("\uffff", "")
    return text.encode("utf-8", "surrogatepass").translate(None, _XML_INVALID_BYTES)


def parse(text: str, flags: list[str]) -> html.HtmlElement:
    data = _xml_safe_utf8(text)
    tree = etree.fromstring(data, parser=_PARSER)
    if tree is not None and _DEEP(tree):
        flags.append("deep-nesting")
        # Collapse runs of bare wrapper tags (the usual shape of pathological nesting) and re-parse.
        flat = _CLOSING_RUN.sub("</div>", _WRAPPER_RUN.sub("<div>", text))
        tree = etree.fromstring(_xml_safe_utf8(flat), parser=_PARSER)
    if tree is None:
        raise etree.ParserError("empty tree")
    return tree
