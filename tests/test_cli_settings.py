"""The commands' Scrapy-free settings read every value as Scrapy's ``Settings`` does."""

from __future__ import annotations

import json
import sys

import pytest
from scrapy.settings import BaseSettings

from cli.settings import (
    SETTING_CHECKS,
    CommandSettings,
    SettingsError,
    command_settings,
    project_settings,
    validate_settings,
)
from cli.store import store_settings


def _plain(value):
    return value.copy_to_dict() if isinstance(value, BaseSettings) else value


def test_every_project_setting_reads_the_same_as_in_scrapy():
    ours, scrapy = command_settings(), project_settings()
    assert len(ours) > 50  # the defaults module was read
    for name in ours:
        assert ours.get(name) == _plain(scrapy.get(name)), name


GETTERS = [
    ("getbool", "True"), ("getbool", "true"), ("getbool", "False"), ("getbool", "false"),
    ("getbool", "1"), ("getbool", "0"), ("getbool", True), ("getbool", 0), ("getbool", "yes"),
    ("getbool", "1.0"), ("getint", "3"), ("getint", 7), ("getint", "x"), ("getfloat", "2.5"),
    ("getfloat", 1), ("getlist", "a,b"), ("getlist", ""), ("getlist", ["a"]),
    ("getdict", '{"gs": "x.Y"}'), ("getdict", {"a": 1}), ("getdict", "{not json"),
]  # fmt: skip


@pytest.mark.parametrize(("getter", "raw"), GETTERS)
def test_a_value_from_the_command_line_converts_as_in_scrapy(getter, raw):
    ours = command_settings({"SOME_SETTING": raw})
    scrapy = project_settings({"SOME_SETTING": raw})
    try:
        expected = getattr(scrapy, getter)("SOME_SETTING")
    except ValueError as exc:  # json.JSONDecodeError included
        with pytest.raises(type(exc)):
            getattr(ours, getter)("SOME_SETTING")
        return
    assert getattr(ours, getter)("SOME_SETTING") == expected


@pytest.mark.parametrize("getter", ["get", "getbool", "getint", "getfloat", "getlist", "getdict"])
def test_unset_settings_give_the_same_defaults_as_scrapy(getter):
    ours, scrapy = command_settings(), project_settings()
    assert getattr(ours, getter)("NOT_A_SETTING") == getattr(scrapy, getter)("NOT_A_SETTING")


def test_a_setting_set_to_none_gives_the_default_as_in_scrapy():
    ours, scrapy = command_settings({"UNSET": None}), project_settings({"UNSET": None})
    assert ours.get("UNSET", "default") == scrapy.get("UNSET", "default") == "default"
    assert ours.getint("UNSET", 5) == scrapy.getint("UNSET", 5) == 5


def test_settings_module_then_command_line_win_as_in_scrapy(tmp_path, monkeypatch):
    (tmp_path / "site_settings_cli.py").write_text("WARC_GZIP_LEVEL = 3\nWARC_PREFIX = 'SITE'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "site_settings_cli")
    try:
        ours = command_settings({"WARC_PREFIX": "CLI"})
        scrapy = ours.to_scrapy()
        assert (ours.getint("WARC_GZIP_LEVEL"), ours.get("WARC_PREFIX")) == (3, "CLI")
        assert (scrapy.getint("WARC_GZIP_LEVEL"), scrapy.get("WARC_PREFIX")) == (3, "CLI")
        assert scrapy.getpriority("WARC_PREFIX") > scrapy.getpriority("WARC_GZIP_LEVEL")
    finally:
        sys.modules.pop("site_settings_cli", None)
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "no_such_settings_module")
    with pytest.raises(SettingsError, match="SCRAPY_SETTINGS_MODULE=no_such_settings_module"):
        command_settings()


def test_worker_processes_get_the_same_store_settings_either_way():
    overrides = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "ARCHIVE_S3_CHECKSUM": "md5"}
    ours = store_settings(command_settings(overrides))
    assert ours == store_settings(project_settings(overrides))
    assert ("AWS_ENDPOINT_URL", "http://127.0.0.1:9") in ours
    json.dumps(ours)  # plain values, as sent to a worker


def test_command_settings_are_a_read_only_mapping():
    settings = CommandSettings(overrides={"A_SETTING": 1})
    assert dict(settings) == {"A_SETTING": 1}
    assert not hasattr(settings, "set")


@pytest.mark.parametrize("raw", ["true", "True", "false", "0", "1", "yes", "on", "TRUE", "2", ""])
def test_a_boolean_the_checks_accept_is_one_a_crawl_can_read(raw):
    # A value let through at the start must not stop a crawl half way (WARC_FSYNC=yes did).
    name = next(n for n, check in SETTING_CHECKS.items() if check.__name__ == "_boolean")
    try:
        validate_settings({name: raw})
    except SettingsError as exc:
        assert name in str(exc) and "true or false" in str(exc)
        with pytest.raises(ValueError):
            project_settings({name: raw}).getbool(name)
        return
    project_settings({name: raw}).getbool(name)  # raises if the check let through a bad value


@pytest.mark.parametrize("distributed", [[], ["--redis-url", "redis://127.0.0.1:9/0"]])
def test_no_throttle_removes_every_politeness_delay_distributed_or_not(distributed):
    from cli import build_parser
    from cli.commands.crawl import _crawl_overrides

    def crawl_settings(*argv: str):
        args = build_parser().parse_args(["crawl", *argv, *distributed])
        args.overrides = {}
        return project_settings(_crawl_overrides(args))

    settings = crawl_settings("--no-throttle")
    assert settings.getfloat("DOWNLOAD_DELAY") == 0
    assert not settings.getbool("AUTOTHROTTLE_ENABLED")
    assert settings.getfloat("ARCHIVE_SHARED_HOST_DELAY") == 0
    polite = crawl_settings()
    assert polite.getfloat("ARCHIVE_SHARED_HOST_DELAY") > 0 and polite.getfloat("DOWNLOAD_DELAY") > 0
