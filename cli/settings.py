"""The settings of every command, read without Scrapy, and the checks they pass before a command runs.

The sources, later ones winning: the defaults module ``crawler/settings.py``, the module named by
``SCRAPY_SETTINGS_MODULE`` (if another), then ``-s NAME=VALUE`` (and what a command sets from its
own options). ``CommandSettings`` reads them as Scrapy's ``Settings`` would (``get``, ``getint``,
``getfloat``, ``getbool``, ``getlist``, ``getdict``) without importing Scrapy, so the commands that
only read and write the archive start without it; ``CommandSettings.to_scrapy()`` gives the same
settings to a crawl.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.settings import Settings

DEFAULTS_MODULE = "crawler.settings"
# Scrapy logs every overridden setting when a crawl starts: secrets must come from the environment.
SECRET_SETTINGS = {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


class SettingsError(ValueError):
    """A setting the user gave cannot be used; the message names it and what it accepts."""


def add_setting_options(parser: argparse.ArgumentParser) -> None:
    """``-s NAME=VALUE`` and ``--debug``: one configuration for every command."""
    parser.add_argument(
        "-s", "--set", action="append", default=[], metavar="NAME=VALUE",
        help="override a setting (crawler/settings.py); repeatable",
    )  # fmt: skip
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")


def parse_setting_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``-s NAME=VALUE`` pairs as a dict; SettingsError for a malformed pair or a secret."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SettingsError(f"-s expects NAME=VALUE, got {pair!r}")
        if name in SECRET_SETTINGS:
            raise SettingsError(f"set {name} in the environment, not with -s (settings are logged)")
        out[name] = value
    return out


def settings_modules() -> list[ModuleType]:
    """``crawler.settings``, then the module ``SCRAPY_SETTINGS_MODULE`` names (if another)."""
    modules = [importlib.import_module(DEFAULTS_MODULE)]
    name = os.environ.get("SCRAPY_SETTINGS_MODULE")
    if name and name != DEFAULTS_MODULE:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise SettingsError(
                f"SCRAPY_SETTINGS_MODULE={name}: cannot import it ({exc})"
            ) from None
    return modules


def as_bool(value: Any) -> bool:
    """A setting's value as Scrapy's ``getbool`` reads it: 1, 0, True, False, "true", "false"."""
    try:
        return bool(int(value))
    except ValueError:
        if value in {"True", "true"}:
            return True
        if value in {"False", "false"}:
            return False
        raise ValueError(
            "Supported values for boolean settings are 0/1, True/False, '0'/'1', "
            "'True'/'False' and 'true'/'false'"
        ) from None


class CommandSettings(Mapping[str, Any]):
    """The project's settings as Scrapy's ``Settings`` reads them, without Scrapy.

    Values come from the uppercase names of ``modules`` (as ``Settings.setmodule``), then from
    ``overrides``; the typed getters convert as Scrapy's do, so a value given as text on the command
    line (``-s EXTRACT_WORKERS=2``, ``-s ARCHIVE_STORAGES='{"gs": "..."}'``) reads the same here and
    in a crawl. Scrapy's own defaults are not included: the commands read only project settings.
    """

    def __init__(
        self, modules: Sequence[ModuleType] = (), overrides: Mapping[str, Any] | None = None
    ) -> None:
        self.modules = list(modules)
        self.overrides = dict(overrides or {})
        self._values: dict[str, Any] = {}
        for module in self.modules:
            self._values.update((k, getattr(module, k)) for k in dir(module) if k.isupper())
        self._values.update(self.overrides)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str, default: Any = None) -> Any:
        value = self._values.get(name)
        return default if value is None else value

    def getbool(self, name: str, default: bool = False) -> bool:
        return as_bool(self.get(name, default))

    def getint(self, name: str, default: int = 0) -> int:
        return int(self.get(name, default))

    def getfloat(self, name: str, default: float = 0.0) -> float:
        return float(self.get(name, default))

    def getlist(self, name: str, default: list[Any] | None = None) -> list[Any]:
        value = self.get(name, default or [])
        if not value:
            return []
        if isinstance(value, str):
            value = value.split(",")
        return list(value)

    def getdict(self, name: str, default: dict[Any, Any] | None = None) -> dict[Any, Any]:
        value = self.get(name, default or {})
        if isinstance(value, str):
            value = json.loads(value)
        return dict(value)

    def to_scrapy(self) -> Settings:
        """The same settings as Scrapy's: the modules at project priority, overrides on top."""
        from scrapy.settings import Settings

        settings = Settings()
        for module in self.modules:
            settings.setmodule(module, priority="project")
        for name, value in self.overrides.items():
            settings.set(name, value, priority="cmdline")
        return settings


def command_settings(overrides: Mapping[str, Any] | None = None) -> CommandSettings:
    """The project's settings with ``overrides`` on top, wherever the command runs from."""
    return CommandSettings(settings_modules(), overrides)


def project_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The same settings as Scrapy's ``Settings``, for a crawl (no scrapy.cfg needed)."""
    return command_settings(overrides).to_scrapy()


def _whole(minimum: int, maximum: int | None = None) -> Callable[[Any], str | None]:
    accepts = (
        f"a whole number from {minimum} to {maximum}"
        if maximum is not None
        else (f"a whole number, {minimum} or more")
    )

    def check(value: Any) -> str | None:
        try:
            number = int(value)
        except (TypeError, ValueError):
            return accepts
        if number < minimum or (maximum is not None and number > maximum):
            return accepts
        return None

    return check


def _seconds(value: Any) -> str | None:
    try:
        ok = float(value) >= 0
    except (TypeError, ValueError):
        ok = False
    return None if ok else "a number of seconds, 0 or more"


def _boolean(value: Any) -> str | None:
    # Exactly what getbool reads (Scrapy's too): "yes" or "on" would pass here and fail mid-crawl.
    try:
        as_bool(value)
    except (TypeError, ValueError):
        return "true or false (True, False, 1 or 0)"
    return None


def _level(value: Any) -> str | None:
    names = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
    return None if str(value).upper() in names else "one of " + ", ".join(names)


# What each setting a user commonly overrides accepts; checked before anything runs or is written.
SETTING_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "WARC_GZIP_LEVEL": _whole(0, 9),
    "WARC_MAX_SIZE": _whole(1),
    "EXTRACT_WORKERS": _whole(0),
    "EXTRACT_MAX_BYTES": _whole(1),
    "EXTRACT_TIMEOUT": _seconds,
    "EXTRACT_WORKER_NICENESS": _whole(0, 19),
    "CONCURRENT_REQUESTS": _whole(1),
    "CONCURRENT_REQUESTS_PER_DOMAIN": _whole(1),
    "CONCURRENT_ITEMS": _whole(1),
    "DOWNLOAD_DELAY": _seconds,
    "DOWNLOAD_TIMEOUT": _seconds,
    "DOWNLOAD_MAXSIZE": _whole(0),
    "DOWNLOAD_WARNSIZE": _whole(0),
    "RETRY_TIMES": _whole(0),
    "CLOSESPIDER_ITEMCOUNT": _whole(0),
    "AUTOTHROTTLE_ENABLED": _boolean,
    "ROBOTSTXT_OBEY": _boolean,
    "WARC_ENABLED": _boolean,
    "WARC_FSYNC": _boolean,
    "EXTRACT_ENABLED": _boolean,
    "LOG_LEVEL": _level,
    "ARCHIVE_ARTICLE_LIMIT": _whole(0),
    "ARCHIVE_PROGRESS_INTERVAL": _seconds,
    "ARCHIVE_IDLE_WAIT_MAX": _seconds,
    "ARCHIVE_NO_PROGRESS_TIMEOUT": _seconds,
    "ARCHIVE_ROBOTS_RETRY_DELAY": _seconds,
    "ARCHIVE_ROBOTS_RETRIES": _whole(0),
    "ARCHIVE_ROBOTS_TIMEOUT": _seconds,
    "ARCHIVE_DASK_CONNECT_TIMEOUT": _seconds,
    "ARCHIVE_REDIS_RETRY_TIMEOUT": _seconds,
    "ARCHIVE_ROBOTS_MAX_BYTES": _whole(1),
    "ARCHIVE_RETRY_AFTER_MAX": _seconds,
    "ARCHIVE_PUBLISH_RETRIES": _whole(1),
    "ARCHIVE_PUBLISH_BACKOFF": _seconds,
    "ARCHIVE_PUBLISH_TIMEOUT": _seconds,
    "ARCHIVE_LOCK_STALE_AFTER": _seconds,
    "ARCHIVE_SCOPE_MAX_HOPS": _whole(1),
    "ARCHIVE_SCOPE_MAX_URL_LENGTH": _whole(1),
    "ARCHIVE_SITEMAP_MAX_BYTES": _whole(1),
    "ARCHIVE_SITEMAP_MAX_URLS": _whole(1),
    "ARCHIVE_S3_MULTIPART_THRESHOLD": _whole(5 * 1024 * 1024),
    "ARCHIVE_S3_MULTIPART_CHUNKSIZE": _whole(5 * 1024 * 1024),
    "ARCHIVE_SRCSET_MAX_CANDIDATES": _whole(0),
    "ARCHIVE_INDEX_AT_COMMIT": _boolean,
    "ARCHIVE_REVISIT_IDENTICAL_PAYLOADS": _boolean,
    "ARCHIVE_REPLAY_MAX_DECODED_BYTES": _whole(1),
    "ARCHIVE_REPLAY_DECODE_BUDGET_BYTES": _whole(1),
}


def validate_settings(settings: Mapping[str, Any]) -> None:
    """Raise SettingsError naming the first setting whose value cannot be used."""
    for name, check in SETTING_CHECKS.items():
        value = settings.get(name)
        if value is None:  # unset; an empty -s NAME= is checked (a crawl cannot read it either)
            continue
        if (accepts := check(value)) is not None:
            raise SettingsError(f"{name}={value!r}: expects {accepts}")
