"""A faithful local imitation of lifegate.it, lifegate.com and a republisher, served on loopback.

Used by tests, benchmarks and the demo command; see FixtureSite and ArticleFixture.
"""

from __future__ import annotations

from fixture_site.content import ArticleFixture
from fixture_site.server import RequestLogEntry, RunningSite
from fixture_site.site import FixtureSite

__all__ = ["ArticleFixture", "FixtureSite", "RequestLogEntry", "RunningSite"]
