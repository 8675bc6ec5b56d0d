"""Every default of the project, in one place (Scrapy's settings are the one configuration system).

Groups: Scrapy itself (politeness, safety), ``ARCHIVE_*`` (the store), ``WARC_*`` (capture),
``EXTRACT_*`` (clean text), ``LIFEGATE_*`` (what to crawl). Override any of them with ``-s NAME=VALUE``
on the command line or in a spider's ``custom_settings``.
"""

from archive.software import product
from archive.storage import DEFAULT_STORAGES as _DEFAULT_STORAGES
from pipelines import extractor_config

BOT_NAME = "lifegate-archive"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# `scrapy crawl` (and so scrapyd's jobs) exits non-zero when the crawl failed.
COMMANDS_MODULE = "crawler.scrapy_commands"

# --- Politeness: a crawler that names itself and never hurries a publisher ------------------
PROJECT_URL = "https://github.com/lifegate-archive/lifegate-archive"
USER_AGENT = f"{product()} (+{PROJECT_URL}; web archiving of lifegate.it)"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_DELAY = 1.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
RETRY_TIMES = 2
DOWNLOAD_TIMEOUT = 60
# HTML pages are a few hundred KB; anything past this is not an article (hostile-input catalogue).
DOWNLOAD_MAXSIZE = 32 * 1024 * 1024
DOWNLOAD_WARNSIZE = 8 * 1024 * 1024
# A body cut short is kept and flagged (WARC-Truncated), not thrown away.
DOWNLOAD_FAIL_ON_DATALOSS = False
DOWNLOAD_HANDLERS = {
    "http": "crawler.keepalive.KeepAliveDownloadHandler",
    "https": "crawler.keepalive.KeepAliveDownloadHandler",
}
# Idle keep-alive connections kept per host; 0 = CONCURRENT_REQUESTS (crawler/keepalive.py says
# why more than the per-host concurrency).
ARCHIVE_IDLE_CONNECTIONS_PER_HOST = 0
# Work in flight per response. A page yields at most one item (its article), so two are enough:
# one awaits the article's extraction while the other schedules the page's links. Scrapy starts
# this many tasks for every response: 16 cost the reactor thread ~10 % of its time per response.
CONCURRENT_ITEMS = 2
# Scrapy's check of each callback for a generator returning a value parses the callback's source
# again for almost every response (its cache is keyed by the short-lived bound method): ~1 % of the
# reactor thread (docs/benchmarks/crawl-profile.md). The spiders' callbacks are covered by tests.
WARN_ON_GENERATOR_RETURN_VALUE = False
# Every page is archived as a first-time reader sees it (no session state carried between pages).
# This also keeps Scrapy's cookie middleware from downloading the public-suffix list at start-up.
COOKIES_ENABLED = False
# Breadth-first: discovery pages first, so the frontier stays small.
DEPTH_PRIORITY = 1
DUPEFILTER_CLASS = "crawler.dupefilter.RedirectAwareDupeFilter"
# Duplicates are told apart on the canonical URL, without session and tracking parameters.
REQUEST_FINGERPRINTER_CLASS = "crawler.scope.CanonicalRequestFingerprinter"
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
# Queued requests as URL, method names and a shared pickled remainder (crawler/frontier.py).
SCHEDULER_MEMORY_QUEUE = "crawler.frontier.CompactFifoMemoryQueue"
SCHEDULER_START_MEMORY_QUEUE = "crawler.frontier.CompactFifoMemoryQueue"
# Articles are handed out as extraction can take them, other pages in between (crawler/frontier.py).
SCHEDULER_PRIORITY_QUEUE = "crawler.frontier.ExtractionPacedPriorityQueue"
# Expected articles allowed between download and extracted text; 0 = four per extraction worker.
ARCHIVE_ARTICLES_IN_FLIGHT = 0

# --- Safety: no remote-control endpoints on a crawler that runs unattended --------------------
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"

# --- Components -------------------------------------------------------------------------------
SPIDER_MIDDLEWARES = {
    "crawler.incremental.RecrawlFilterMiddleware": 600,
    # Only with ARCHIVE_REDIS_URL: a request stays in flight until its article's text is written.
    "crawler.distributed.InflightSpiderMiddleware": 650,
}
DOWNLOADER_MIDDLEWARES = {
    # Before robots.txt (100): trap URLs and off-site redirect targets are refused before their
    # host's robots.txt is even fetched.
    "crawler.scope.ScopeMiddleware": 60,
    # RFC 9309 in place of Scrapy's robots.txt handling, which reads a 5xx or a timeout as "allow all".
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "crawler.robots.RobotsPolicyMiddleware": 100,
    # Before WARC capture in request order, so the archived request shows the conditional headers.
    "crawler.incremental.ConditionalRequestMiddleware": 940,
    # Before Retry (550) in response order: 429/503 with Retry-After wait as asked (scrapy#3849).
    "crawler.politeness.RetryAfterMiddleware": 555,
    # Only with ARCHIVE_REDIS_URL: one request rate per host shared by every worker of a run.
    "crawler.host_rate.SharedHostRateMiddleware": 120,
    # Scrapy's content decoding, with large bodies decoded on a thread instead of the reactor's
    # (gunzip was ~6 % of the reactor thread's time on real pages), at Scrapy's slot.
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.decompression.OffloadedHttpCompressionMiddleware": 590,
    # After HttpCompression (590) and Redirect (600) in process_response order, so it sees the
    # content-coded body and every redirect and retried response (research: reliability.md B.1).
    "crawler.warc_capture.WarcCaptureMiddleware": 950,
}
EXTENSIONS = {
    "pipelines.archive_session.ArchiveSession": 0,
    # Only with ARCHIVE_REDIS_URL: worker membership, heartbeats, requeueing a dead worker's work.
    "crawler.distributed.DistributedRun": 10,
    "crawler.progress.ProgressReporter": 500,
    # Bounded idle waits, the no-progress limit, prompt stops on SIGINT/SIGTERM.
    "crawler.watchdog.Watchdog": 20,
    "scrapy.extensions.logstats.LogStats": None,
}
ITEM_PIPELINES = {
    "pipelines.extraction.ExtractionPipeline": 300,
    # After extraction: records each article capture (and its text hash) in the ledger journal.
    "pipelines.ledger_journal.LedgerJournalPipeline": 400,
}

# --- ARCHIVE_*: the store -----------------------------------------------------------------------
ARCHIVE_ENABLED = True
ARCHIVE_STORE = "archive-store"  # a path or URI: file:///srv/archive, s3://bucket/prefix
ARCHIVE_STORAGES: dict[str, str] = {}
# URI scheme -> storage class; the table itself lives with the storages (archive/storage.py).
ARCHIVE_STORAGES_BASE = dict(_DEFAULT_STORAGES)
ARCHIVE_OPERATOR = ""  # who runs the crawl, recorded in every warcinfo record (name or e-mail)
# Recover WARCs left ``.open`` by a killed crawl and commit that crawl before starting a new one.
ARCHIVE_RECOVER_ON_START = True
ARCHIVE_PROGRESS_INTERVAL = 10.0  # seconds between progress lines; 0 disables them
# Index a crawl (crawls/<id>/index.cdxj) and update the store's merged index when it commits, so
# `replay` works right after `crawl`; `lifegate-archive index` rebuilds them at any time.
ARCHIVE_INDEX_AT_COMMIT = True
# A response whose body the archive already holds (any URL, this crawl or a committed one in the
# merged index) is written as an identical-payload-digest revisit, not stored again.
ARCHIVE_REVISIT_IDENTICAL_PAYLOADS = True

# --- ARCHIVE_REPLAY_*: reading the archive back (replay, reextract, export) ----------------------
# Where users reach the replay server (https://archive.example.org); Memento headers use it.
# Empty: relative URLs. The request's Host header is never used.
ARCHIVE_REPLAY_BASE_URL = ""
# Largest body one read decodes (gzip, deflate, br, zstd); more is a 502 in replay and a skipped
# page in reextract. As DOWNLOAD_MAXSIZE: the crawl never decoded more either.
ARCHIVE_REPLAY_MAX_DECODED_BYTES = 32 * 1024 * 1024
# Decoded bytes all replay requests may hold at once; a request that cannot get its share within
# a few seconds gets 503. The replay server's memory bound (docs/replay.md).
ARCHIVE_REPLAY_DECODE_BUDGET_BYTES = 256 * 1024 * 1024
# The crawl's full log (at LOG_LEVEL) is kept as crawls/<id>/crawl.log; the console shows progress
# lines, errors and the summary (``--verbose``: the whole log).
ARCHIVE_LOG_FILE = True
# A crawl never idles longer than this (seconds) with only waits left (a robots.txt retry, a
# Retry-After); a wait that cannot end within it is given up at once. Their requests are skipped
# with the reason, and the run commits.
ARCHIVE_IDLE_WAIT_MAX = 60.0
# No request finishing (answered or failed) for this long (seconds) ends the crawl as
# ``no-progress``, a failed run (docs/operations.md); 0 disables the limit.
ARCHIVE_NO_PROGRESS_TIMEOUT = 180.0

# --- ARCHIVE_SPOOL_*, ARCHIVE_S3_*, ARCHIVE_PUBLISH_*: stores that are not local folders (S3) ---
# Endpoint, region and credentials are Scrapy's own AWS_* settings (AWS_ENDPOINT_URL,
# AWS_REGION_NAME, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_USE_SSL,
# AWS_VERIFY), or boto3's default chain (environment, ~/.aws, instance roles) when they are unset.
# Secrets belong in the environment: Scrapy logs every overridden setting when a crawl starts.
# Where files are built before upload, and kept until published: <dir>/<bucket>/<prefix>/.
# Empty: $XDG_CACHE_HOME/lifegate-archive-spool (~/.cache/lifegate-archive-spool).
ARCHIVE_SPOOL_DIR = ""
ARCHIVE_SPOOL_KEEP = False  # keep published files in the spool (beside *.published records)
ARCHIVE_S3_MULTIPART_THRESHOLD = 64 * 1024 * 1024  # bytes; larger files go up in parts
# Part size; 16 MiB bounds memory per upload, and a 1 GB WARC is ~60 parts (S3 allows 10,000).
ARCHIVE_S3_MULTIPART_CHUNKSIZE = 16 * 1024 * 1024
# Integrity in transit: "sha256" (x-amz-checksum-sha256), or "md5" (Content-MD5) for stores that
# ignore the newer checksum headers.
ARCHIVE_S3_CHECKSUM = "sha256"
ARCHIVE_PUBLISH_RETRIES = 5  # attempts per file when the store is unreachable or fails (5xx)
ARCHIVE_PUBLISH_BACKOFF = 1.0  # seconds before the first retry; doubles each time, with jitter
ARCHIVE_PUBLISH_TIMEOUT = 600.0  # seconds a finished crawl waits for its uploads before giving up
# The ledger cache (SQLite, rebuilt from the store when missing): empty = <store>/.state for a
# local store, ~/.local/state/lifegate-archive/<store hash> otherwise.
ARCHIVE_STATE_DIR = ""
# Recheck a known article by its age: [age limit, interval] pairs; older articles only when their
# sitemap lastmod changes. Durations: 90s, 1h, 7d, 2w.
ARCHIVE_RECRAWL_INTERVALS = [["1d", "1h"], ["7d", "1d"], ["30d", "7d"], ["365d", "30d"]]
# Longest Retry-After (seconds) honoured on 429/503; a server asking for more is not retried.
ARCHIVE_RETRY_AFTER_MAX = 600
# --- Distributed runs (scrapy-redis): several workers on one frontier -------------------------------
ARCHIVE_REDIS_URL = ""  # redis://host:6379/0 makes this crawl one worker of a distributed run
ARCHIVE_RUN_ID = ""  # workers with the same run id share the queue, duplicate filter and lock
ARCHIVE_WORKER_ID = ""  # this worker's name (in its crawl id and WARC file names)
ARCHIVE_WORKER_TTL = 30.0  # seconds without a heartbeat after which a worker is dead
ARCHIVE_SHARED_HOST_DELAY = 1.0  # seconds between requests to one host, across all workers
ARCHIVE_REDIS_RETRY_TIMEOUT = 30.0  # seconds a worker retries an unreachable Redis, then stops
# Seconds `reextract --dask-scheduler` tries to reach the scheduler before giving up.
ARCHIVE_DASK_CONNECT_TIMEOUT = 30.0
# A lock whose holder shows no sign of life for this long (seconds) is taken over.
ARCHIVE_LOCK_STALE_AFTER = 1800

# --- ARCHIVE_ROBOTS_*, ARCHIVE_SITEMAP_*, ARCHIVE_SCOPE_*, ARCHIVE_SOFT_BLOCK_*: hostile input ----
# (README, "Hostile input"). robots.txt per RFC 9309: parse at most 500 KiB (§2.5); when it answers
# 5xx or not at all the host is disallowed (§2.3.1.4) and its requests wait while robots.txt is
# fetched again this many seconds later, this many more times.
ARCHIVE_ROBOTS_MAX_BYTES = 500 * 1024
ARCHIVE_ROBOTS_RETRY_DELAY = 300.0
ARCHIVE_ROBOTS_RETRIES = 2
# Seconds one robots.txt fetch may take (a small file; at most DOWNLOAD_TIMEOUT).
ARCHIVE_ROBOTS_TIMEOUT = 20.0
# The sitemaps.org limits for one sitemap: 50 MiB uncompressed (a gzip bomb stops here), 50,000 URLs.
ARCHIVE_SITEMAP_MAX_BYTES = 50 * 1024 * 1024
ARCHIVE_SITEMAP_MAX_URLS = 50_000
# Image candidates fetched per srcset (img, <picture> sources, lazy data-srcset): a browser may
# ask for any of them, so all are fetched up to this many (an even spread of widths past it).
ARCHIVE_SRCSET_MAX_CANDIDATES = 8
# Crawler traps. Links followed in a row from a seed (robots.txt, feed, home page, ledger): endless
# calendars and pagination stop here; articles are a few hops from a sitemap. Heritrix's maxHops
# is 20; listings get a little more room.
ARCHIVE_SCOPE_MAX_HOPS = 30
ARCHIVE_SCOPE_MAX_URL_LENGTH = 2048
# Scrapy's own URL length check drops links silently; ARCHIVE_SCOPE_MAX_URL_LENGTH logs them instead.
URLLENGTH_LIMIT = 0
# /a/b/a/b/a/: relative links resolved against the wrong base grow paths forever.
ARCHIVE_SCOPE_MAX_SEGMENT_REPEATS = 2
# Query parameters that never change the page (case-insensitive, * wildcards): ignored when
# deciding whether a URL was already fetched. URLs are still fetched and archived as found.
ARCHIVE_SCOPE_IGNORED_PARAMS = [
    "utm_*",
    "fbclid",
    "gclid",
    "dclid",
    "msclkid",
    "mc_cid",
    "mc_eid",
    "_ga",
    "_gl",
    "igshid",
    "sid",
    "phpsessid",
    "jsessionid",
    "sessionid",
    "replytocom",
]
# A 200 page whose first ARCHIVE_SOFT_BLOCK_SCAN_BYTES match one of these (bytes regexes,
# case-insensitive) is a CAPTCHA or bot wall, not the article: archived, flagged, not extracted.
ARCHIVE_SOFT_BLOCK_PATTERNS = [
    # Titles of the common walls: Cloudflare, Imperva/Incapsula, Distil, Akamai, generic ones.
    (
        r"<title>\s*(?:Just a moment\.\.\.|Attention Required!|Access denied|Pardon Our Interruption|"
        r"Request unsuccessful|Security check|Are you a (?:robot|human)\??|Verify(?:ing)? you are (?:a )?human)"
    ),
    r"cf_chl_opt|/cdn-cgi/challenge-platform/",  # Cloudflare challenge scripts
    r"captcha-delivery\.com",  # DataDome
    r"px-captcha",  # HUMAN (PerimeterX)
    r"_Incapsula_Resource",  # Imperva
]
ARCHIVE_SOFT_BLOCK_SCAN_BYTES = 64 * 1024

# --- WARC_*: capture --------------------------------------------------------------------------
WARC_ENABLED = True
WARC_PREFIX = "LIFEGATE"
WARC_MAX_SIZE = 1_000_000_000  # 1 GB files, as WARC 1.1 Annex C and Heritrix recommend
# Levels 1-3 compress through ISA-L, 4-9 through zlib. Most bodies come gzipped already, and on
# those level 3 costs a tenth of zlib's level 6 for the same size; uncompressed text comes out
# ~12 % larger than at 6 for a fifth of the CPU (docs/benchmarks/crawl-profile.md, "gzip through
# ISA-L").
WARC_GZIP_LEVEL = 3
# Each request/response pair is flushed to the OS; fsync per pair also survives power loss.
WARC_FSYNC = False

# --- EXTRACT_*: clean text ----------------------------------------------------------------------
EXTRACT_ENABLED = True
# Stop after this many article text records (``crawl --limit N``); 0 = no limit.
ARCHIVE_ARTICLE_LIMIT = 0
EXTRACT_WORKERS = 0  # processes in the extraction pool; 0 = one per core
# Per-document limits (10 MiB, 60 s, enforced inside the worker); ExtractorConfig has the same.
EXTRACT_MAX_BYTES = extractor_config.MAX_BYTES
EXTRACT_TIMEOUT = extractor_config.TIMEOUT_SECONDS
# Added to the workers' nice value: the reactor thread, which sets the crawl's pace, comes first
# when the cores are busy (docs/benchmarks). 0 leaves them at the crawler's priority.
EXTRACT_WORKER_NICENESS = 10

# --- LIFEGATE_*: what to crawl --------------------------------------------------------------------
LIFEGATE_SITES = {
    "it": "https://www.lifegate.it",
    "com": "https://www.lifegate.com",
}
LIFEGATE_REPUBLISHERS = {
    "gratisforgratis": "https://www.gratisforgratis.com",
}
# Hosts whose links count as crediting a lifegate article on a republisher's page.
LIFEGATE_HOSTS = ["lifegate.it", "www.lifegate.it", "lifegate.com", "www.lifegate.com"]
# Follow links found on pages (in scope only); sitemaps and feeds are always read.
LIFEGATE_FOLLOW_LINKS = True
# Fetch what a browser asks for to show an article (stylesheets, scripts, images and their srcset
# candidates, lazy images, fonts and backgrounds named in CSS, frames), so replay shows the page.
LIFEGATE_FETCH_RESOURCES = True
