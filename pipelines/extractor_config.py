"""ExtractorConfig: every knob of the extractor, its defaults, the hash records carry, and the
size of an extraction pool.

Nothing but the standard library (and ``archive.cores``) at import time: crawler/settings.py takes
its ``EXTRACT_MAX_BYTES`` and ``EXTRACT_TIMEOUT`` defaults from here, so the crawl, ``extract`` and
``reextract`` agree without loading the extractor itself.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol

from archive.cores import usable_cores

if TYPE_CHECKING:
    from pipelines.site_rules import BoilerplateRules

__all__ = [
    "EXTRACTOR_VERSION",
    "MAX_BYTES",
    "OPERATIONAL_FIELDS",
    "TIMEOUT_SECONDS",
    "ExtractorConfig",
    "extraction_workers",
]

# Bump whenever the text produced for the same input may change.
EXTRACTOR_VERSION = "1.5.0"

# Per-document limits (the EXTRACT_MAX_BYTES and EXTRACT_TIMEOUT defaults).
MAX_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 60.0
# Limits decide whether a page gets a record, never what its text is: they stay out of the hash,
# so a crawl and a later `reextract` with other limits write comparable records.
OPERATIONAL_FIELDS = ("max_bytes", "timeout_seconds")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:  # run from a source tree nobody installed
        return "unknown"


class SettingsLike(Protocol):
    """What from_settings reads: Scrapy's Settings, a plain dict, or any object with ``get``."""

    def get(self, name: str, default: Any = None) -> Any: ...


def _boilerplate() -> BoilerplateRules:
    # Imported when a config is built, not with this module (site_rules loads lxml).
    from pipelines.site_rules import BoilerplateRules

    return BoilerplateRules()


@dataclass(frozen=True, slots=True)
class ExtractorConfig:
    """Every knob of the extractor; build once and share (its hash goes into each record)."""

    max_bytes: int = MAX_BYTES
    timeout_seconds: float | None = TIMEOUT_SECONDS
    min_text_chars: int = 100
    detect_language: bool = True
    # trafilatura's fast mode skips its readability/jusText fallbacks: faster, and on the Zyte
    # benchmark it scores higher than the default (bench/extraction_quality.py).
    trafilatura_fast: bool = True
    # With fast mode on, trafilatura's fallbacks still run on a page whose fast text is empty or
    # skips a lead paragraph below the headline (pipelines/generic_text.py).
    lead_fallback: bool = True
    # Paragraphs of the body's later chunks (sibling containers of one class) follow the fast text.
    body_chunks: bool = True
    # With fast mode on, trafilatura's whole result with its fallbacks replaces a fast text that
    # is short, has no paragraphs, or is under half the page's largest block of paragraphs: the
    # cases where trafilatura's own comparison may pick readability or jusText.
    short_text_fallback: bool = True
    include_tables: bool = True
    boilerplate: BoilerplateRules = field(default_factory=_boilerplate)

    @classmethod
    def from_settings(cls, settings: SettingsLike) -> ExtractorConfig:
        """The configuration of ``EXTRACT_*`` settings (Scrapy's, or any object with ``get``).

        A setting that is absent or None keeps its default; ``EXTRACT_TIMEOUT = 0`` means no
        deadline.
        """
        max_bytes = settings.get("EXTRACT_MAX_BYTES")
        timeout = settings.get("EXTRACT_TIMEOUT")
        return cls(
            max_bytes=MAX_BYTES if max_bytes is None else int(max_bytes),
            timeout_seconds=TIMEOUT_SECONDS if timeout is None else (float(timeout) or None),
        )

    def config_hash(self) -> str:
        """Stable sha256 of what shapes the text: the fields, every site rule, the extractor's
        code version and trafilatura's version. A new release of either therefore names a new
        ``reextract`` output rather than being taken for one already written."""
        from pipelines import site_rules

        config = {k: v for k, v in asdict(self).items() if k not in OPERATIONAL_FIELDS}
        payload = {
            "config": config,
            "rules": site_rules.rules_fingerprint(),
            "extractor": EXTRACTOR_VERSION,
            "trafilatura": _version("trafilatura"),
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def extraction_workers(settings) -> int:
    """Processes in an extraction pool (crawl and ``reextract``): ``EXTRACT_WORKERS``, or one per
    core the process may run on."""
    return settings.getint("EXTRACT_WORKERS") or usable_cores()
