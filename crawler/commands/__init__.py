"""The ``lifegate-archive`` subcommands, one module each; this module holds what they share.

Each command module has ``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning the exit status.
"""

from __future__ import annotations

from typing import Any


def project_settings(overrides: dict[str, Any] | None = None):
    """The project's Scrapy settings, wherever the command runs from (no scrapy.cfg needed)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def configured_storage(settings, uri: str | None = None):
    """The store named by ``uri`` (or ``ARCHIVE_STORE``), with the configured storage classes.

    Raises ``archive.storage.StorageError`` with a one-line message when it cannot be opened.
    """
    from archive.storage import open_storage

    storages = {**settings.getdict("ARCHIVE_STORAGES_BASE"), **settings.getdict("ARCHIVE_STORAGES")}
    return open_storage(uri or settings.get("ARCHIVE_STORE"), storages, settings)
