"""Pages that are not what they claim to be (``ARCHIVE_SOFT_BLOCK_*`` settings): a CAPTCHA or bot wall
served with 200 in place of the article (a soft block), or binary data labelled as HTML.

Both are archived as received, flagged, and kept out of the dataset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scrapy.http import TextResponse

# Signatures of binary formats that servers mislabel as text/html (research: reliability.md C.7).
_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"\xff\xd8\xff",
    b"GIF8",
    b"\x1f\x8b",
    b"PK\x03\x04",
    b"\x7fELF",
    b"Rar!",
    b"7z\xbc\xaf",
)
# Bytes that never occur in text (tab, newlines, form feed and escape excepted).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13, 27))


# A pattern made only of literal characters and escaped punctuation, in alternatives split by "|".
_LITERAL = r"(?:[^\\\[\](){}*+?^$.|]|\\[^A-Za-z0-9])+"
_LITERAL_ALTERNATIVES = re.compile(rf"{_LITERAL}(?:\|{_LITERAL})*")
_ALTERNATIVE = re.compile(r"(?:[^\\|]|\\.)+")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class SoftBlockSignature:
    """One ``ARCHIVE_SOFT_BLOCK_PATTERNS`` entry, matched case-insensitively.

    Python's ``re`` cannot skip ahead to a literal under IGNORECASE, so a plain alternation such as
    ``px-captcha`` scanned the whole 64 KiB head position by position (2.2 ms a page for the five
    defaults, 14 % of a WARC-only crawl's CPU). Such patterns are searched as lowercase literals in
    the lowercased head, which finds exactly the same bytes; any other pattern keeps IGNORECASE.
    """

    pattern: re.Pattern[bytes] | None
    literals: tuple[bytes, ...] = ()

    @classmethod
    def compile(cls, source: str) -> SoftBlockSignature:
        if _LITERAL_ALTERNATIVES.fullmatch(source):
            return cls(
                None,
                tuple(
                    _ESCAPE.sub(r"\1", alt).encode().lower() for alt in _ALTERNATIVE.findall(source)
                ),
            )
        return cls(re.compile(source.encode(), re.IGNORECASE))

    def search(self, head: bytes, lowered: bytes) -> bytes | None:
        """The matched bytes of ``head`` (``lowered`` is ``head.lower()``), or None."""
        if self.pattern is not None:
            match = self.pattern.search(head)
            return match.group(0) if match else None
        found = [
            (at, len(literal)) for literal in self.literals if (at := lowered.find(literal)) >= 0
        ]
        if not found:
            return None
        at, length = min(found)
        return head[at : at + length]


@dataclass(frozen=True, slots=True)
class PageGuard:
    """Decides whether a decoded 200 HTML response is a soft block or binary data."""

    soft_block: tuple[SoftBlockSignature, ...] = ()
    scan_bytes: int = 65536

    @classmethod
    def from_settings(cls, settings) -> PageGuard:
        patterns = settings.getlist("ARCHIVE_SOFT_BLOCK_PATTERNS")
        return cls(
            tuple(SoftBlockSignature.compile(p) for p in patterns),
            settings.getint("ARCHIVE_SOFT_BLOCK_SCAN_BYTES"),
        )

    def inspect(self, response: TextResponse) -> tuple[str, str] | None:
        """(case, reason) when the page must not be read as a page, else None."""
        head = response.body[: self.scan_bytes]
        if head.startswith(_MAGIC):
            return (
                "binary-as-html",
                f"labelled {self._type(response)}, starts like a binary file ({head[:4]!r})",
            )
        sample = head[:4096]
        # Text has practically no control bytes; random or compressed data has about 10 %.
        # UTF-16 text (a NUL in every other byte) is text: the extractor decodes it.
        control = len(sample) - len(sample.translate(None, _CONTROL))
        if control > 0.05 * len(sample) and not _utf16(sample):
            return "binary-as-html", (
                f"labelled {self._type(response)}, but {control} of its first {len(sample)} bytes are control bytes"
            )
        lowered = head.lower() if self.soft_block else head
        for signature in self.soft_block:
            if (matched := signature.search(head, lowered)) is not None:
                found = matched.decode("utf-8", "replace")[:80]
                return (
                    "soft-block",
                    f"a CAPTCHA or bot wall instead of the page (matched {found!r})",
                )
        return None

    @staticmethod
    def _type(response: TextResponse) -> str:
        return (response.headers.get("Content-Type") or b"no Content-Type").decode("latin-1")


def _utf16(sample: bytes) -> bool:
    half = len(sample) // 2
    return half >= 32 and max(sample[0::2].count(0), sample[1::2].count(0)) > 0.6 * half
