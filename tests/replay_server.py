"""The replay app served on 127.0.0.1 for the tests, an HTTP client that does not follow
redirects, and the Chromium flags of the browser tests."""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request

from werkzeug.serving import make_server

from archive.replay import ReplayApp


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, headers: dict | None = None, follow: bool = False):
    """(status, headers, body) of one GET; redirects are not followed unless asked."""
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


@contextlib.contextmanager
def serving(storage):
    """The replay app on 127.0.0.1, port 0, in a thread, configured with its own address as
    ARCHIVE_REPLAY_BASE_URL."""
    app = ReplayApp(storage)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.base_url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        app.close()


# A headless browser on a machine without a display, a GPU or its own network services.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,2000",
]
