"""The replay server's browsing routes: the article search, an article's captures, the captures
of any URL, WARC records as stored, and the published dataset releases."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from flask import Flask, Response, abort, render_template, request
from markupsafe import Markup

from archive.chart import stacked_bars
from archive.dataset import DatasetError, list_releases, read_release_manifest, release_prefix
from archive.index import CaptureEntry
from archive.reader import NotArchived, RecordDamaged
from archive.replay.target import MAX_URL_LENGTH, ascii_int, target_url

if TYPE_CHECKING:
    from archive.replay.app import ReplayApp


class BrowseViews:
    """The archive's own pages: ``/``, ``/article/…``, ``/captures``, ``/record/…``,
    ``/datasets``."""

    def __init__(self, app: ReplayApp) -> None:
        self.app = app

    def register(self, flask: Flask) -> None:
        flask.add_url_rule("/", "home", self.home)
        flask.add_url_rule("/article/<article_id>", "article", self.article)
        flask.add_url_rule("/captures", "captures", self.captures)
        flask.add_url_rule("/record/<record_id>", "record", self.record)
        flask.add_url_rule("/datasets", "datasets", self.datasets)
        flask.add_url_rule("/datasets/<name>/<path:file>", "dataset_file", self.dataset_file)

    def home(self):
        q = request.args.get("q", "")[:200]
        site = request.args.get("site", "")[:200]
        lang = request.args.get("lang", "")[:20]
        page = ascii_int(request.args.get("page", "1"), 6)
        if not page:
            abort(400, "page must be a positive number.")
        catalog = self.app.catalog
        results = catalog.search(q, site=site or None, language=lang or None, page=page)
        sites, languages = catalog.facets()
        return render_template(
            "home.html",
            q=q,
            site=site,
            lang=lang,
            results=results,
            sites=sites,
            languages=languages,
            charts=self.charts,
            problems=self.app.problems,
        )

    @cached_property
    def charts(self) -> list[Markup]:
        """The home page's pictures: articles per month by site and by language, captures per day."""
        catalog = self.app.catalog
        return [
            Markup(stacked_bars(catalog.per_month("site"), title="Articles per month, by site")),
            Markup(
                stacked_bars(catalog.per_month("language"), title="Articles per month, by language")
            ),
            Markup(
                stacked_bars(
                    catalog.captures_per_day(), title="Captures per day of the latest fetch"
                )
            ),
        ]

    def datasets(self):
        """Every published release: its card, counts, files with sizes and checksums, downloads."""
        releases = []
        for manifest in reversed(list_releases(self.app.storage)):
            by_month = {m: {"rows": n} for m, n in manifest.counts.get("by_month", {}).items()}
            by_site_language = manifest.counts.get("by_site_language", {})
            releases.append(
                {
                    "manifest": manifest,
                    "charts": [
                        Markup(
                            stacked_bars(
                                by_month, title=f"{manifest.name}: rows per month", height=160
                            )
                        ),
                        Markup(
                            stacked_bars(
                                by_site_language,
                                title=f"{manifest.name}: rows by site and language",
                                height=160,
                            )
                        ),
                    ],
                }
            )
        return render_template("datasets.html", releases=releases)

    def dataset_file(self, name: str, file: str):
        """A file of a release, streamed from the store; only files its manifest lists."""
        storage = self.app.storage
        try:
            manifest = read_release_manifest(storage, name)
        except DatasetError:
            abort(404, "No such release.")
        listed = {f.path: f for f in manifest.files} | {"manifest.json": None}
        if file not in listed:
            abort(404, "No such file in this release.")
        key = f"{release_prefix(name)}{file}"
        stream = storage.open(key)

        def chunks():
            with stream:
                while chunk := stream.read(1 << 20):
                    yield chunk

        filename = file.rsplit("/", 1)[-1]
        return Response(
            chunks(),
            mimetype="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    def article(self, article_id: str):
        app = self.app
        if app.takedowns.blocks_id(article_id) or article_id in app.withdrawn_ids:
            return app.taken_down(article_id)
        summary = app.catalog.get(article_id)
        if summary is None:
            abort(404, "No such article in the archive.")
        seen: dict[int, CaptureEntry] = {}
        for url in dict.fromkeys([summary.url, summary.canonical_url]):
            try:
                seen.update((e.position, e) for e in app.lookup(url))
            except ValueError:
                continue
        captures = sorted(seen.values(), key=lambda e: (e.timestamp, e.url))
        return render_template("article.html", article=summary, captures=captures)

    def captures(self):
        url = target_url(request.args.get("url", "")[:MAX_URL_LENGTH])
        if self.app.takedowns.blocks_url(url):
            return self.app.taken_down(url)
        return render_template("captures.html", url=url, captures=self.app.lookup(url))

    def record(self, record_id: str):
        """One WARC record as stored, named by its index line's byte offset (opaque to users)."""
        app = self.app
        position = ascii_int(record_id)
        entry = app.index.entry_at(position) if position is not None else None
        if entry is None:
            abort(404)
        if app.takedowns.blocks_key(entry.urlkey) or app.takedowns.blocks_url(entry.url):
            return app.taken_down(entry.url)
        try:
            data = app.reader.verified_bytes(entry)
        except NotArchived:
            abort(404)
        except RecordDamaged as exc:
            return app.damaged(entry.url, str(exc))
        gz = entry.filename.endswith(".gz")
        name = f"capture-{entry.timestamp}-{position}.warc" + (".gz" if gz else "")
        return Response(
            data,
            mimetype="application/gzip" if gz else "application/warc",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
