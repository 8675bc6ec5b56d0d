"""The versions of the software that writes an archive, read from the installed distributions.

Recorded in warcinfo records, crawl and release manifests (and so dataset cards), WACZ packages,
benchmark reports, ``--version`` and the User-Agent; the project's own version is the one in
pyproject.toml, so it is written in one place only.
"""

from __future__ import annotations

import platform
from importlib import metadata

PROJECT = "lifegate-archive"
# What shapes a crawl's WARC and text files, and a dataset release's shards and deduplication.
CRAWL_COMPONENTS = ("scrapy", "warcio", "trafilatura")
RELEASE_COMPONENTS = ("pyarrow", "datasketch")
# How a distribution is named in a line for people ("Scrapy 2.13"); others keep their own name.
_DISPLAY_NAMES = {"scrapy": "Scrapy", "twisted": "Twisted"}


def installed_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``unknown`` when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        # Run from a source tree that was never installed (or from a zipped egg without metadata).
        return "unknown"


def project_version() -> str:
    return installed_version(PROJECT)


def software_versions(*components: str) -> dict[str, str]:
    """This project's version, each component's and Python's, by name."""
    return {
        PROJECT: project_version(),
        **{name: installed_version(name) for name in components},
        "python": platform.python_version(),
    }


def project_title() -> str:
    """``lifegate-archive 1.4.0``: what ``--version`` prints and a WACZ package names."""
    return f"{PROJECT} {project_version()}"


def product(*components: str) -> str:
    """``lifegate-archive/1.4.0 (Scrapy 2.13.3, warcio 1.7.5)``: an HTTP product token (RFC 9110
    §10.1.5) with ``components`` as its comment, for warcinfo records and the User-Agent."""
    versions = software_versions(*components)
    token = f"{PROJECT}/{versions[PROJECT]}"
    if not components:
        return token
    parts = ", ".join(f"{_DISPLAY_NAMES.get(name, name)} {versions[name]}" for name in components)
    return f"{token} ({parts})"
