"""pipelines.extractor: golden cases, bad inputs, the record schema and the quality gates."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import multiprocessing
import pickle
import re
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from pipelines.extractor import (
    ArticleExtractor,
    Extraction,
    ExtractorConfig,
    extract_article,
    extract_with_config,
)
from pipelines.site_rules import page as site_rules_page
from tests.builders import article_page

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "extraction_cases"
SAMPLE = ROOT / "tests" / "extraction_benchmark_sample"
SCHEMA = json.loads((ROOT / "pipelines" / "article.schema.json").read_text(encoding="utf-8"))
EXACT_FIELDS = ("title", "kicker", "standfirst", "text", "license", "translation_of", "language")
# Held-back half of each sample (bench/extraction_quality.py: half). Measured 0.988 (Zyte; bare
# trafilatura 0.984) and 0.962 (newspaper4k, 0.946 without the lead fallback; bare trafilatura
# 0.909); the floors leave room for small trafilatura upgrades within the pinned major version.
HELD_BACK_F1_FLOOR = {"zyte": 0.97, "newspaper4k": 0.95}
# The same pages without class and id attributes (markup nobody tuned on): measured 0.974 (bare
# 0.966) and 0.927 (bare 0.924).
STRIPPED_F1_FLOOR = {"zyte": 0.95, "newspaper4k": 0.90}

ITALIAN = (
    "La sostenibilità è una questione di perché e di come: già oggi le città più verdi "
    "d\u2019Europa dimostrano che è possibile ridurre le emissioni senza rinunciare alla qualità "
    "della vita. Però servono investimenti, e più coraggio da parte della politica."
)


def case_dirs() -> list[Path]:
    return sorted(p for p in CASES.iterdir() if (p / "page.html").exists())


def load_case(case: Path) -> tuple[bytes, dict, dict]:
    meta = json.loads((case / "meta.json").read_text(encoding="utf-8"))
    expected = json.loads((case / "expected.json").read_text(encoding="utf-8"))
    return (case / "page.html").read_bytes(), meta, expected


@pytest.fixture(scope="module")
def extractor() -> ArticleExtractor:
    return ArticleExtractor(ExtractorConfig())


# ---------------------------------------------------------------- golden cases


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_golden_case(extractor, case):
    body, meta, expected = load_case(case)
    result = extractor.extract(body, meta["url"], meta.get("content_type"))
    if "reason" in expected:
        assert result.record is None
        assert result.reason == expected["reason"]
        return
    assert result.reason is None, result.reason
    record = result.record
    for field in EXACT_FIELDS:
        assert record[field] == expected[field], field
    for phrase in expected["absent"]:
        assert phrase not in record["text"], phrase
    jsonschema.validate(record, SCHEMA)


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_golden_case_served_from_loopback_is_recognised_by_markup(extractor, case):
    """The fixture site runs on 127.0.0.1: rules must apply by markup and credit line too."""
    body, meta, expected = load_case(case)
    url = "http://127.0.0.1:40123" + urlsplit(meta["url"]).path
    result = extractor.extract(body, url, meta.get("content_type"))
    if "reason" in expected:
        assert result.record is None and result.reason == expected["reason"]
        return
    record = result.record
    assert {f: record[f] for f in EXACT_FIELDS} == {f: expected[f] for f in EXACT_FIELDS}
    assert record["url"] == url
    assert record["site"] == urlsplit(meta["url"]).hostname.removeprefix(
        "www."
    )  # from rel=canonical


def test_quality_gate_every_expected_line_in_order_and_no_boilerplate(extractor):
    """Across the lifegate and republisher cases: 100 % of lines, in order; 0 absent strings."""
    expected_lines = found_in_order = absent_total = absent_found = 0
    for case in case_dirs():
        body, meta, expected = load_case(case)
        if "text" not in expected:
            continue
        lines = (
            extractor.extract(body, meta["url"], meta.get("content_type"))
            .record["text"]
            .splitlines()
        )
        position = 0
        for line in expected["text"].splitlines():
            expected_lines += 1
            if line in lines[position:]:
                position = lines.index(line, position) + 1
                found_in_order += 1
        absent_total += len(expected["absent"])
        absent_found += sum(phrase in "\n".join(lines) for phrase in expected["absent"])
    assert expected_lines > 60
    assert found_in_order == expected_lines
    assert absent_found == 0 < absent_total


def test_renamed_body_container_falls_back_to_trafilatura(extractor):
    """Rules must not hinge on one class name: without the body container the text is the same."""
    body, meta, expected = load_case(CASES / "lifegate_it_article")
    body = body.replace(b"post__content editorial", b"article-body")
    result = extractor.extract(body, meta["url"], meta["content_type"])
    assert "site-rule-fallback" in result.flags
    assert result.record["text"] == expected["text"]
    assert result.record["standfirst"] == expected["standfirst"]


def test_seed_blocks_are_never_glued(extractor):
    body, meta, _ = load_case(CASES / "gratisforgratis_de_seed")
    text = extractor.extract(body, meta["url"]).record["text"]
    assert "Nordkorea.Die" not in text and "Partnerschaftsvereinbarung.Der" not in text
    assert "^" not in text.splitlines()
    assert sum(line.startswith("- ") for line in text.splitlines()) == 3


def test_seed_metadata(extractor):
    body, meta, _ = load_case(CASES / "gratisforgratis_de_seed")
    record = extractor.extract(body, meta["url"]).record
    assert record["site"] == "gratisforgratis.com"
    assert record["declared_language"] == "de"
    assert record["date_published"] == "2024-06-21T08:15:00+00:00"
    assert record["tags"] == ["Nordkorea", "Russland", "Wladimir Putin"]
    assert [i["credit"] for i in record["images"]] == [
        "© GAVRIIL GRIGOROV/POOL/AFP via Getty Images"
    ] * 2
    assert {i["caption"] for i in record["images"]} == {"Wladimir Putins Besuch in Nordkorea"}
    assert record["id"] == hashlib.sha256(meta["url"].encode()).hexdigest()[:32]  # url is canonical
    assert record["word_count"] > 700


def test_listing_body_classes_give_way_to_single_post_ones(extractor):
    page = article_page([ITALIAN] * 3)
    entries = "<article><h2><a href='/a'>Uno</a></h2><p>" + ITALIAN + "</p></article>"
    index = page.replace("<body>", "<body class='blog paged'>")
    listing = index.replace("</main>", entries + entries + "</main>").encode()
    post = listing.replace(b"class='blog paged'", b"class='blog single single-post'")
    assert extractor.extract(listing, "https://example.org/blog/").reason == "no-article"
    assert "sostenibilità" in extractor.extract(post, "https://example.org/blog/a").record["text"]


def test_a_section_class_alone_does_not_make_a_single_article_a_listing(extractor):
    # Themes of other CMSs put "blog" or "archive" on every page of a section, posts included.
    page = article_page([ITALIAN] * 3)
    post = page.replace("<body>", "<body class='blog theme-dark'>").encode()
    search = page.replace("<body>", "<body class='search-results'>").encode()
    assert "sostenibilità" in extractor.extract(post, "https://example.org/blog/a").record["text"]
    assert extractor.extract(search, "https://example.org/?s=clima").reason == "no-article"


def test_label_lines_are_dropped_and_sentences_that_start_alike_are_kept(extractor):
    labels = ["Filed under: Ambiente |", "Updated at 1:23 p.m.", "Tempo di lettura: 3 minuti"]
    sentences = [
        "Published in 1998, the novel sold two million copies and was translated into 40 languages.",
        "Updated figures show that more than 3,000 people were evacuated from the valley overnight.",
    ]
    page = article_page([ITALIAN, labels[0], sentences[0], ITALIAN, labels[1], sentences[1]])
    page = page.replace("<article>", f"<article><p>{labels[2]}</p>")
    text = extractor.extract(page.encode(), "https://example.org/a").record["text"]
    assert all(s in text for s in sentences)
    assert not any(label in text for label in labels)


# ---------------------------------------------------------------- bad inputs


def test_latin1_bytes_declared_utf8_are_not_mojibake(extractor):
    page = article_page([ITALIAN.replace("\u2019", "'")] * 3, head='<meta charset="utf-8">').encode(
        "latin-1"
    )
    result = extractor.extract(page, "https://example.org/a", "text/html; charset=utf-8")
    text = result.record["text"]
    assert "sostenibilità" in text and "perché" in text
    assert "\ufffd" not in text and "Ã" not in text
    assert "charset-fallback" in result.flags


def test_utf8_bytes_declared_cp1252_are_not_mojibake(extractor):
    page = article_page([ITALIAN] * 3, head='<meta charset="windows-1252">').encode("utf-8")
    result = extractor.extract(page, "https://example.org/a", "text/html; charset=windows-1252")
    text = result.record["text"]
    assert "sostenibilità" in text and "d\u2019Europa" in text
    assert "Ã" not in text and "â€™" not in text
    assert "charset-mismatch" in result.flags


def test_no_declared_charset_is_detected(extractor):
    page = article_page([ITALIAN] * 3).encode("cp1252")
    result = extractor.extract(page, "https://example.org/a", "text/html")
    assert "sostenibilità" in result.record["text"] and "d\u2019Europa" in result.record["text"]
    assert "\ufffd" not in result.record["text"]


def test_nul_bytes_are_stripped_not_truncating(extractor):
    paragraphs = [f"Paragrafo {i}: {ITALIAN}" for i in range(4)]
    page = article_page(paragraphs).encode("utf-8").replace(b"Paragrafo 1", b"Paragrafo\x00 1")
    result = extractor.extract(page, "https://example.org/a", "text/html; charset=utf-8")
    assert "nul-bytes-stripped" in result.flags
    assert "Paragrafo 3:" in result.record["text"]


@pytest.mark.parametrize("line_break", ["\n", ""], ids=["lines", "one long line"])
def test_characters_invalid_in_xml_and_faulty_starts_are_repaired_not_fatal(extractor, line_break):
    """Control characters, the noncharacters U+FFFE/U+FFFF, a doctype with a stray slash and a
    self-closing <html/> on a line of its own (the only place trafilatura's repair looks for it):
    libxml2 would stop or read nothing. The same whether or not the page breaks its lines
    (minified pages have none)."""
    paragraphs = [f"Paragrafo {i}: {ITALIAN}" for i in range(4)]
    page = article_page(paragraphs).replace("Paragrafo 1", "Paragrafo\x0b\ufffe 1")
    page = page.replace("Paragrafo 2", "Paragrafo\uffff\x1f 2")
    html = "\n<html/>\n" if line_break else "<html>"
    page = page.replace("<!DOCTYPE html><html>", '<!DOCTYPE html PUBLIC "x" "y"/>' + html)
    page += "<!-- " + "x" * 5000 + " -->"
    result = extractor.extract(page.encode("utf-8"), "https://example.org/a", "text/html")
    lines = result.record["text"].splitlines()
    assert [line.split(":")[0] for line in lines if line.startswith("Paragrafo")] == [
        f"Paragrafo {i}" for i in range(4)
    ]
    assert not any(c in result.record["text"] for c in "\x0b\x1f\ufffe\uffff")


def test_nesting_deeper_than_255_keeps_the_deep_text(extractor):
    deep = "<div>" * 400 + f"<p>Testo profondo. {ITALIAN}</p>" + "</div>" * 400
    page = article_page([ITALIAN, ITALIAN]).replace(
        "</article>", deep + f"<p>Dopo. {ITALIAN}</p></article>"
    )
    result = extractor.extract(page.encode(), "https://example.org/a", "text/html")
    assert "deep-nesting" in result.flags
    assert "Testo profondo." in result.record["text"] and "Dopo." in result.record["text"]


@pytest.mark.parametrize(
    "payload",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" * 50,
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20,
        gzip.compress(b"<html><body><p>compressed twice</p></body></html>" * 100),
        bytes((i * 7919 + 13) % 256 for i in range(20000)),
    ],
    ids=["pdf", "png", "gzip", "random"],
)
def test_binary_served_as_html_is_not_parsed(extractor, payload):
    result = extractor.extract(payload, "https://example.org/file", "text/html")
    assert (result.record, result.reason) == (None, "binary-content")


def test_empty_body(extractor):
    assert extractor.extract(b"", "https://example.org/", "text/html").reason == "empty-body"
    assert (
        extractor.extract(b" \r\n\t ", "https://example.org/", "text/html").reason == "empty-body"
    )


def test_page_over_max_bytes_is_refused_before_parsing(extractor):
    page = article_page([ITALIAN] * 120_000).encode()  # ~30 MB
    assert len(page) > 30_000_000
    start = time.perf_counter()
    result = extractor.extract(page, "https://example.org/huge", "text/html")
    assert (result.record, result.reason) == (None, "too-large")
    assert time.perf_counter() - start < 0.5


def test_timeout_is_enforced_in_the_main_thread():
    page = article_page([f"{i} {ITALIAN}" for i in range(6000)]).encode()  # ~1.5 MB
    extractor = ArticleExtractor(ExtractorConfig(timeout_seconds=0.05))
    start = time.perf_counter()
    result = extractor.extract(page, "https://example.org/big", "text/html")
    assert (result.record, result.reason) == (None, "timeout")
    assert time.perf_counter() - start < 2


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_deadline_swallowed_by_a_weakref_callback_fires_again(monkeypatch):
    """An alarm whose handler runs inside a weakref callback (as Scrapy's signal dispatcher has
    them) is swallowed as "unraisable": the deadline must interrupt the work all the same."""

    class Thing:
        pass

    def callback(ref):
        time.sleep(0.3)  # the first alarm (at 0.05 s) lands in here and is swallowed

    def busy(*args):
        weakref.ref(Thing(), callback)  # the object dies at once: its callback runs
        end = time.monotonic() + 10
        while time.monotonic() < end:
            sum(range(20000))
        return None, "no-article"

    extractor = ArticleExtractor(ExtractorConfig(timeout_seconds=0.05))
    monkeypatch.setattr(extractor, "_extract", busy)
    start = time.perf_counter()
    result = extractor.extract(b"<html><body><p>x</p></body></html>", "https://example.org/a")
    assert result.reason == "timeout"
    assert time.perf_counter() - start < 3


def test_timeout_is_not_enforced_outside_the_main_thread():
    page = article_page([ITALIAN] * 5).encode()
    extractor = ArticleExtractor(ExtractorConfig(timeout_seconds=1e-6))
    results: list[Extraction] = []
    worker = threading.Thread(
        target=lambda: results.append(extractor.extract(page, "https://example.org/a"))
    )
    worker.start()
    worker.join()
    assert results[0].reason is None and results[0].record is not None


def test_page_without_an_article(extractor):
    page = (
        b"<html><head><title>Accedi</title></head><body><nav><a href='/'>Home</a></nav>"
        b"<form><label>Email</label><input name=email><button>Entra</button></form></body></html>"
    )
    result = extractor.extract(page, "https://example.org/login", "text/html")
    assert (result.record, result.reason) == (None, "no-article")


# ---------------------------------------------------------------- API, schema, packaging


def test_schema_is_valid_and_accepts_provenance(extractor):
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    body, meta, _ = load_case(CASES / "lifegate_com_article")
    record = extractor.extract(body, meta["url"]).record
    record["provenance"] = {
        "warc_file": "lifegate-20240601-00001.warc.gz",
        "offset": 1234,
        "length": 5678,
        "record_id": "<urn:uuid:3a1b8e4e-5c2d-4f6a-9b7c-0d1e2f3a4b5c>",
        "payload_digest": "sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    }
    jsonschema.validate(record, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**record, "text": "a\n\nb"}, SCHEMA)


def test_config_hash_is_stable_covers_the_text_fields_and_not_the_limits():
    config = ExtractorConfig(max_bytes=10_000_000, timeout_seconds=30.0)
    assert config.config_hash() == ExtractorConfig().config_hash()
    assert config.config_hash() == replace(config, timeout_seconds=None).config_hash()
    assert len(config.config_hash()) == 64
    assert replace(config, min_text_chars=1).config_hash() != config.config_hash()
    assert replace(config, trafilatura_fast=False).config_hash() != config.config_hash()


def test_config_hash_changes_with_the_extractor_and_trafilatura_versions(monkeypatch):
    from pipelines import extractor_config

    before = ExtractorConfig().config_hash()
    monkeypatch.setattr(extractor_config, "EXTRACTOR_VERSION", "99.0.0")
    bumped = ExtractorConfig().config_hash()
    monkeypatch.undo()
    monkeypatch.setattr(extractor_config.metadata, "version", lambda name: "0.0.1")
    assert len({before, bumped, ExtractorConfig().config_hash()}) == 3


def test_config_from_settings_has_the_settings_defaults_and_reads_overrides():
    from scrapy.settings import Settings

    defaults = Settings()
    defaults.setmodule("crawler.settings")
    assert ExtractorConfig.from_settings(defaults) == ExtractorConfig()
    assert ExtractorConfig.from_settings({}) == ExtractorConfig()
    overridden = ExtractorConfig.from_settings(
        {"EXTRACT_MAX_BYTES": "2048", "EXTRACT_TIMEOUT": "2.5"}  # as `-s NAME=VALUE` gives them
    )
    assert (overridden.max_bytes, overridden.timeout_seconds) == (2048, 2.5)
    assert ExtractorConfig.from_settings({"EXTRACT_TIMEOUT": 0}).timeout_seconds is None
    # The crawl, `extract` and `reextract` build it this way: one hash for all three.
    assert overridden.config_hash() == ExtractorConfig.from_settings(defaults).config_hash()


def test_text_record_adds_the_crawl_context_once_for_crawl_and_reextract(extractor):
    body, meta, _ = load_case(CASES / "lifegate_it_article")
    url = "http://127.0.0.1:40123" + urlsplit(meta["url"]).path
    result = extractor.extract(body, url, meta["content_type"])
    provenance = {"warc_file": "x.warc.gz", "offset": 0, "length": 10, "record_id": "<urn:x>"}
    record = result.text_record(
        site="lifegate.it",
        translation_of="https://www.lifegate.com/other",
        provenance=provenance,
        crawl={"crawl_id": "c1"},
    )
    assert record["site"] == "lifegate.it" and record["provenance"] == provenance
    assert record["crawl"] == {"crawl_id": "c1"} and result.record.get("crawl") is None
    assert result.record["translation_of"] is None  # a lifegate page credits nobody itself
    assert record["translation_of"] == "https://www.lifegate.com/other"
    # The page's own credit wins over the one found on the linking page.
    body, meta, expected = load_case(CASES / "gratisforgratis_fr")
    credited = extractor.extract(body, meta["url"]).text_record(translation_of="https://x.org/")
    assert credited["translation_of"] == expected["translation_of"]
    flagged = replace(result, flags=("charset-fallback",)).text_record(site=None)
    assert flagged["flags"] == ["charset-fallback"]
    assert flagged["site"] == result.record["site"]
    with pytest.raises(ValueError):
        Extraction(None, "no-article").text_record()


def test_extraction_results_pickle(extractor):
    body, meta, _ = load_case(CASES / "lifegate_it_article")
    result = extract_article(body, meta["url"], meta["content_type"])
    assert pickle.loads(pickle.dumps(result)) == result
    assert result.record == extractor.extract(body, meta["url"]).record


def test_a_process_pool_worker_gets_a_per_document_time_limit():
    body, meta, _ = load_case(CASES / "gratisforgratis_de_seed")
    big = article_page([f"{i} {ITALIAN}" for i in range(6000)]).encode()
    tight = ExtractorConfig(timeout_seconds=0.05)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        ok = pool.submit(extract_article, body, meta["url"], meta["content_type"]).result()
        late = pool.submit(
            extract_with_config, tight, big, "https://example.org/big", "text/html"
        ).result()
    assert ok.record["title"].startswith("Wie verlief das Treffen")
    assert (late.record, late.reason) == (None, "timeout")


def test_extractor_module_never_imports_scrapy():
    code = "import sys, pipelines.extractor; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert not {m for m in out.stdout.split() if m.split(".")[0] in {"scrapy", "twisted"}}


# ---------------------------------------------------------------- benchmark sample


def _quality_bench():
    spec = importlib.util.spec_from_file_location(
        "extraction_quality", ROOT / "bench" / "extraction_quality.py"
    )
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    return quality


@pytest.mark.parametrize("markup", ["as served", "stripped"])
@pytest.mark.parametrize("development_set", ["zyte", "newspaper4k"])
def test_held_back_sample_f1_floor_and_not_below_trafilatura(development_set, markup):
    """The gate runs on items of each development set's held-back half only, as served and with
    class and id attributes removed."""
    quality = _quality_bench()
    if development_set == "zyte":
        pages, urls, truth = quality.load(SAMPLE)
    else:
        pages, urls, truth = quality.load_newspaper(SAMPLE / "newspaper4k")
    truth = {k: v for k, v in truth.items() if quality.half(k) == "B"}
    assert len(truth) == 6
    floor = HELD_BACK_F1_FLOOR if markup == "as served" else STRIPPED_F1_FLOOR
    snippet_pages = pages
    if markup == "stripped":
        pages = {k: quality.strip_markup(page) for k, page in pages.items()}
        assert all(b" class=" not in pages[k] for k in truth)
    ours, bare = quality.ours(), quality.trafilatura_default()
    predicted = {k: ours(pages[k], urls[k]) for k in truth}
    baseline_predicted = {k: bare(pages[k], urls[k]) for k in truth}
    scores = quality.score(predicted, truth)
    baseline = quality.score(baseline_predicted, truth)
    assert scores["f1"] >= floor[development_set], scores
    assert scores["f1"] >= baseline["f1"], (scores, baseline)
    # Snippets, as trafilatura's own evaluation counts them (with / without the article).
    cases = {k: quality.snippets(snippet_pages[k], truth[k]) for k in truth}
    assert sum(len(w) + len(o) for w, o in cases.values()) > 60
    snippets = quality.snippet_score(predicted, cases)
    assert snippets["f1"] >= quality.snippet_score(baseline_predicted, cases)["f1"], snippets


def test_snippets_come_from_the_expected_text_and_the_boilerplate_around_it():
    quality = _quality_bench()
    sentences = [f"Frase numero {i} del testo, abbastanza lunga da contare." for i in range(8)]
    promo = "<aside><p>Iscriviti alla nostra newsletter settimanale gratuita</p></aside>"
    page = article_page(sentences).replace("<footer>", promo + "<footer>")
    with_, without = quality.snippets(page.encode(), "\n".join(sentences))
    assert with_[:2] == sentences[:2] and with_[-2:] == sentences[-2:] and len(with_) == 6
    assert "Iscriviti alla nostra newsletter settimanale gratuita" in without
    assert not any(w in "\n".join(sentences) for w in without)
    perfect = quality.snippet_score({"a": "\n".join(sentences)}, {"a": (with_, without)})
    noisy = quality.snippet_score({"a": "\n".join(sentences + without)}, {"a": (with_, without)})
    assert perfect["f1"] == 1.0 and noisy["precision"] < 1.0 and noisy["recall"] == 1.0


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: p.name)
def test_golden_case_is_clean_without_site_rules(monkeypatch, case):
    """A markup change at lifegate or an unknown republisher theme: no rule matches, and the
    generic path still gives the clean text, kicker, standfirst and licence."""
    monkeypatch.setattr(site_rules_page, "SITE_RULES", ())
    body, meta, expected = load_case(case)
    result = ArticleExtractor(ExtractorConfig()).extract(
        body, meta["url"], meta.get("content_type")
    )
    if "reason" in expected:
        assert result.record is None and result.reason == expected["reason"]
        return
    record = result.record
    for field in ("title", "kicker", "standfirst", "text", "translation_of", "language"):
        assert record[field] == expected[field], field
    for phrase in expected["absent"]:
        assert phrase not in record["text"], phrase
    # The licence is read from its link instead of the rule's element: same licence, maybe
    # spelt with its version (CC BY-SA 4.0 for CC-BY-SA).
    family = lambda name: re.sub(r"[^A-Z]", "", (name or "").upper())
    assert family(record["license"]) == family(expected["license"])
    assert (record["license"] is None) == (expected["license"] is None)


def test_soft_hyphens_are_dropped(extractor):
    sentence = "Die Zwei-Faktor-Authentifizierung aus regis&shy;triertem Smartphone und Passwort"
    page = article_page([f"{sentence} gilt seit 2019 für alle Versicherten. {ITALIAN}"])
    text = extractor.extract(page.encode(), "https://example.org/de/a").record["text"]
    assert "registriertem Smartphone" in text and "\xad" not in text


def test_text_after_a_comment_or_processing_instruction_is_kept():
    from lxml import html

    from pipelines.text_blocks import HTML, walk

    tree = html.fromstring(
        "<div><p>Before <!-- ad --> after <?php x ?> end <script>x</script>!</p></div>"
    )
    assert walk(tree, HTML) == [("Before after end !", 0.0)]


@pytest.mark.parametrize(
    "line",
    [
        "Content licensed CC BY-SA 4.0.",
        "Published under a Creative Commons Attribution licence.",
        "Pubblicato con licenza Creative Commons BY-NC-ND.",
        "Dieser Text steht unter der Lizenz CC BY 4.0.",
        "(CC BY-NC-ND 4.0)",
        "This work is licensed under a Creative Commons Attribution-ShareAlike 4.0 International License.",
    ],
)
def test_licence_lines_of_any_wording_are_dropped_without_site_rules(monkeypatch, extractor, line):
    monkeypatch.setattr(site_rules_page, "SITE_RULES", ())
    keep = "Wikipedia switched to Creative Commons in 2009 after a long debate among its editors."
    page = article_page([ITALIAN, keep, line])
    record = extractor.extract(page.encode(), "https://republisher.example/a").record
    assert line not in record["text"] and keep in record["text"]
    assert record["license"] is None or record["license"].upper().startswith("CC")


@pytest.mark.parametrize(
    "line",
    [
        "Fuente: LifeGate",
        "Bron: Lifegate",
        "Leia também: o clima está mudando",
        "Zapisz się do naszego newslettera",
        "Todos los derechos reservados.",
        "Ontdek de website GratisForGratis",
        "Traduzido por Ana Souza",
        "Créditos: Reuters/Ana Souza",
    ],
)
def test_republisher_boilerplate_in_other_languages_is_dropped_by_its_text(
    monkeypatch, extractor, line
):
    monkeypatch.setattr(site_rules_page, "SITE_RULES", ())
    page = article_page([ITALIAN, line, f"{ITALIAN} Fine."])
    text = extractor.extract(page.encode(), "https://republisher.example/b").record["text"]
    assert line not in text and text.endswith("Fine.")


def test_datelines_and_bylines_standing_alone_are_dropped_and_sentences_kept(extractor):
    alone = ["Wednesday 20 November 2019 11:42, UK", "5 de marzo de 2020", "By Stefan Becket, Grace Segers"]
    sentences = [
        "By 2030, emissions in the valley must fall by half, the regional plan says.",
        "November 2019 was the warmest November on record in the Po valley, data show.",
    ]
    page = article_page([ITALIAN, *alone, *sentences])
    text = extractor.extract(page.encode(), "https://example.org/en/a").record["text"]
    assert not any(line in text for line in alone)
    assert all(sentence in text for sentence in sentences)


def test_relative_timestamps_standing_alone_are_dropped_and_sentences_kept(extractor):
    alone = ["2 days ago at 07:47 am", "an hour ago", "3 ore fa", "vor 2 Stunden", "il y a 5 jours"]
    sentences = ["2 days ago the council voted to close the centre to cars on Sundays, it said."]
    page = article_page([ITALIAN, *alone, *sentences, f"{ITALIAN} Fine."])
    text = extractor.extract(page.encode(), "https://example.org/en/c").record["text"]
    assert not [line for line in text.splitlines() if line in alone]
    assert all(sentence in text for sentence in sentences) and text.endswith("Fine.")


def test_ad_labels_and_comment_counters_are_dropped(extractor):
    labels = ["Continue Reading Below", "Story continues below", "[ 167 comments ]", "12 commenti"]
    keep = "Continue reading below the line where the council lists the 12 comments it received."
    page = article_page([ITALIAN, *labels, keep, f"{ITALIAN} Fine."])
    text = extractor.extract(page.encode(), "https://example.org/en/b").record["text"]
    assert not any(label in text for label in labels) and keep in text


def test_contact_lines_form_messages_and_comment_prompts_are_dropped_and_sentences_kept(
    monkeypatch, extractor
):
    monkeypatch.setattr(site_rules_page, "SITE_RULES", ())
    alone = [
        "Write to Al Root at allen.root@dowjones.com",
        "Email Tariq Malik at tmalik@space.com or follow him on Twitter.",
        "kokobj@yna.co.kr",
        "Get the latest updates right in your inbox. Subscribe to our newsletters.",
        "An error has occurred, please try again later.",
        "Tell us what YOU think...",
        "Comments",
        "Leave a Comment",
        "- Order Reprints",
    ]
    sentences = [
        "The council said comments on the plan can be sent until March, and it will answer each.",
        "An error in the 2019 count meant the valley's emissions were reported a tenth too low.",
    ]
    page = article_page([ITALIAN, *alone, *sentences, f"{ITALIAN} Fine."])
    text = extractor.extract(page.encode(), "https://example.org/en/d").record["text"]
    assert not [line for line in text.splitlines() if line in alone]
    assert all(sentence in text for sentence in sentences) and text.endswith("Fine.")
