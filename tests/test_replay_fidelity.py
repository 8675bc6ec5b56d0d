"""Fidelity of replay measured in Chromium: each page type of the three fixture sites, rendered
live and from the archive at 1280x900, must look the same, load every subresource from the
archive and send nothing to the live web.

Screenshots and the measured numbers stay in the test's temporary directory for people to look
at (``fidelity.json`` beside the PNGs).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from archive.indexer import build_indexes
from archive.storage import FileStorage
from tests.replay_server import CHROMIUM_ARGS, serving

pytestmark = pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("chromedriver")),
    reason="needs Debian's chromium and chromium-driver",
)

WIDTH, HEIGHT = 1280, 900
MIN_SIMILARITY = 0.99
# A pixel counts as different when its channels differ by more than this in sum (anti-aliasing
# of the same text at the same place never does).
PIXEL_TOLERANCE = 24

_SETTLE_JS = """
const done = arguments[arguments.length - 1];
(async () => {
  // Scroll through the page so lazy images and frames load, then back to the top.
  for (let y = 0; y < document.documentElement.scrollHeight; y += 600) {
    window.scrollTo(0, y);
    await new Promise(r => setTimeout(r, 30));
  }
  window.scrollTo(0, 0);
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline &&
         !Array.from(document.images).every(i => i.complete)) {
    await new Promise(r => setTimeout(r, 50));
  }
  await document.fonts.ready;
  await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  done(true);
})();
"""

_LAZY_VISIBLE_JS = """
return Array.from(document.querySelectorAll('img.lazyloaded')).filter(i => {
  const r = i.getBoundingClientRect();
  return r.top < innerHeight && r.bottom > 0 && r.width > 0;
}).map(i => [i.currentSrc, i.complete && i.naturalWidth > 0]);
"""


@pytest.fixture(scope="module")
def archive(it_crawl, en_crawl, republication_crawl, tmp_path_factory):
    """One store holding the lifegate.it, lifegate.com and republisher crawls, indexed."""
    root = tmp_path_factory.mktemp("fidelity-store")
    for crawl in (it_crawl, en_crawl, republication_crawl):
        shutil.copytree(crawl.crawl_dir, root / "crawls" / crawl.crawl_dir.name)
    storage = FileStorage(str(root))
    build_indexes(storage)
    with serving(storage) as (base, app):
        yield base, app


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in [*CHROMIUM_ARGS, "--hide-scrollbars", f"--user-data-dir={profile}"]:
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        yield driver
    finally:
        driver.quit()


def render(driver, url: str, screenshot: Path) -> list[dict]:
    """Load ``url``, let it settle, save a viewport screenshot; the network events it caused."""
    driver.get_log("performance")  # drain what earlier pages left
    driver.get(url)
    driver.execute_async_script(_SETTLE_JS)
    time.sleep(0.2)
    assert driver.save_screenshot(str(screenshot))
    return [json.loads(e["message"])["message"] for e in driver.get_log("performance")]


def requests_of(events: list[dict]) -> dict[str, dict]:
    """Request id -> url, status and whether the browser blocked it before it left."""
    out: dict[str, dict] = {}
    for event in events:
        params = event.get("params", {})
        rid = params.get("requestId")
        if event["method"] == "Network.requestWillBeSent":
            out.setdefault(rid, {})["url"] = params["request"]["url"]
        elif event["method"] == "Network.responseReceived":
            out.setdefault(rid, {})["status"] = params["response"]["status"]
        elif event["method"] == "Network.loadingFailed":
            out.setdefault(rid, {})["blocked"] = bool(params.get("blockedReason"))
    return {rid: r for rid, r in out.items() if "url" in r}


def similarity(a: Path, b: Path) -> float:
    from PIL import Image, ImageChops

    with Image.open(a) as first, Image.open(b) as second:
        first, second = first.convert("RGB"), second.convert("RGB")
        assert first.size == second.size == (WIDTH, HEIGHT)
        diff = ImageChops.difference(first, second)
    channels = diff.split()
    summed = ImageChops.add(ImageChops.add(channels[0], channels[1]), channels[2])
    different = sum(summed.point(lambda v: 255 if v > PIXEL_TOLERANCE else 0).histogram()[255:])
    return 1 - different / (WIDTH * HEIGHT)


def page_types(site) -> dict[str, tuple[str, str]]:
    """Page type -> (fixture site key, path) of one page of each kind."""
    it = next(a for a in site.articles if a.site == "it" and a.hero)
    en = next(a for a in site.articles if a.site == "en" and a.hero)
    rep = next(a for a in site.articles if a.site == "republisher" and a.hero)
    return {
        "article": ("it", it.path),
        "home": ("it", "/"),
        "listing": ("it", f"/category/{it.category}/"),
        "lifegate-com": ("en", en.path),
        "republisher": ("republisher", rep.path),
    }


def test_replay_looks_like_the_live_page_and_loads_only_from_the_archive(
    archive, browser, fixture_site, tmp_path
):
    pytest.importorskip("PIL")
    base, app = archive
    site, running = fixture_site
    results = {}
    for name, (key, path) in page_types(site).items():
        url = running.base_urls[key] + path
        [entry] = [e for e in app.index.lookup(url) if e.status == 200][:1]
        live_png, replay_png = tmp_path / f"{name}-live.png", tmp_path / f"{name}-replay.png"
        render(browser, url, live_png)
        served_before = len(running.requests)
        events = render(browser, f"{base}/web/{entry.timestamp}mp_/{url}", replay_png)
        lazy = browser.execute_script(_LAZY_VISIBLE_JS)
        requests = requests_of(events)
        web = [r for r in requests.values() if r["url"].startswith(f"{base}/web/")]
        misses = sorted(r["url"] for r in web if r.get("status", 200) >= 400)
        leaks = sorted(
            r["url"]
            for r in requests.values()
            if r["url"].startswith(("http:", "https:", "ws:", "wss:"))
            and not r["url"].startswith(base + "/")
            and not r.get("blocked")
        )
        results[name] = {
            "url": url,
            "similarity": round(similarity(live_png, replay_png), 5),
            "subresources": len(web) - 1,
            "archive_misses": misses,
            "live_requests": leaks
            + (["fixture site"] if len(running.requests) > served_before else []),
            "fonts": sum(1 for r in web if ".woff2" in r["url"]),
            "frames": sum(1 for r in web if "/embed/" in r["url"]),
            "css_backgrounds": sum(
                1
                for r in web
                if "pattern-leaves.png" in r["url"] or "header-stripes.png" in r["url"]
            ),
            "lazy_images_in_view": len(lazy),
            "lazy_images_loaded": sum(
                1 for src, ok in lazy if ok and src.startswith(base + "/web/")
            ),
        }
    (tmp_path / "fidelity.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    for name, result in results.items():
        assert result["similarity"] >= MIN_SIMILARITY, (name, result)
        assert result["archive_misses"] == [], (name, result)
        assert result["live_requests"] == [], (name, result)
        assert result["subresources"] >= 5, (name, result)
    for name in ("article", "lifegate-com", "republisher"):
        # The web font (from @font-face) and a CSS background image came from the archive.
        assert results[name]["fonts"] >= 1 and results[name]["css_backgrounds"] >= 1, results[name]
    assert results["article"]["frames"] == 1  # the embedded post, framed from the archive too
    for name in ("article", "home", "listing", "lifegate-com"):
        lazy = results[name]
        assert lazy["lazy_images_in_view"] >= 1, (name, lazy)
        assert lazy["lazy_images_loaded"] == lazy["lazy_images_in_view"], (name, lazy)
