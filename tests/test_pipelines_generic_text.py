"""pipelines.generic_text: what trafilatura's fast mode misses on pages no site rule covers (the
later chunks of a split body, a lead set apart from it), and what must not come along."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.extractor import ArticleExtractor, ExtractorConfig
from tests.builders import article_page

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "extraction_benchmark_sample"
ITALIAN = (
    "La sostenibilità è una questione di perché e di come: già oggi le città più verdi "
    "d\u2019Europa dimostrano che è possibile ridurre le emissioni senza rinunciare alla qualità "
    "della vita. Però servono investimenti, e più coraggio da parte della politica."
)


@pytest.fixture(scope="module")
def extractor() -> ArticleExtractor:
    return ArticleExtractor(ExtractorConfig())


def test_a_lead_that_fast_mode_skips_is_taken_from_the_fallbacks_without_their_boilerplate():
    """lsm.lv keeps its lead in a box of its own above the body: trafilatura's fast mode reads the
    body only, its fallbacks the lead and the reader prompts below the article."""
    sample = SAMPLE / "newspaper4k"
    page = (sample / "html" / "latvian_article.html").read_bytes()
    lead = (sample / "txt" / "latvian_article.txt").read_text(encoding="utf-8").split("\n")[0]
    url = "https://www.lsm.lv/raksts/zinas/arzemes/a"
    fast = ArticleExtractor(ExtractorConfig(lead_fallback=False)).extract(page, url).record
    record = ArticleExtractor(ExtractorConfig()).extract(page, url).record
    assert lead.startswith("Norvēģijas glābšanas komanda") and lead not in fast["text"]
    assert record["text"] == lead + "\n" + fast["text"]  # nothing else came along


def test_a_caption_or_a_standfirst_below_the_headline_is_not_a_skipped_lead():
    from lxml import html

    from pipelines.generic_text import skipped_lead

    prose = "Una frase lunga abbastanza da sembrare un paragrafo vero dell'articolo, e che finisce."
    body = "".join(f"<p>{i} {prose}</p>" for i in range(4))
    fast = [(f"{i} {prose}", 0.0) for i in range(4)]

    def tree(between: str):
        page = f"<html><body><h1>Titolo</h1>{between}<div>{body}</div></body></html>"
        return html.fromstring(page)

    assert skipped_lead(tree(f"<div class='intro'>Prima. {prose}</div>"), fast)
    assert not skipped_lead(tree(f"<figure><figcaption>Foto. {prose}</figcaption></figure>"), fast)
    assert not skipped_lead(tree(f"<p class='photo-credit'>Foto. {prose}</p>"), fast)
    assert not skipped_lead(tree(f"<p>Sommario. {prose}</p>"), fast, [f"Sommario. {prose}"])
    assert not skipped_lead(tree("<div>3 gennaio 2021</div>"), fast)


def test_a_body_split_in_chunks_is_read_to_its_last_chunk(extractor):
    """Themes that split the body into sibling containers of one class, around ads: trafilatura
    reads the first chunk only."""

    def chunk(paragraphs: str) -> str:
        return (
            f"<div class='grid'><div class='grid-item article-body'>{paragraphs}</div>"
            "<div class='grid-item sidebar'><div class='ad'></div></div></div>"
        )

    first = "".join(f"<p>Primo blocco {i}. {ITALIAN}</p>" for i in range(5))
    later = (
        f"<p>Secondo blocco, dopo la pubblicità.</p><h2>Un titoletto</h2><p>Ancora. {ITALIAN}</p>"
    )
    body = chunk(first) + "<div class='ad-slot'><p>Pubblicità</p></div>" + chunk(later)
    page = article_page([]).replace("</h1>", f"</h1><div class='chunks'>{body}</div>").encode()
    url = "https://example.org/a"
    fast = ArticleExtractor(ExtractorConfig(body_chunks=False)).extract(page, url).record["text"]
    lines = extractor.extract(page, url).record["text"].splitlines()
    assert lines[:-3] == fast.splitlines() and len(lines) == 8
    assert lines[-3:] == [
        "Secondo blocco, dopo la pubblicità.",
        "Un titoletto",
        f"Ancora. {ITALIAN}",
    ]


def test_the_next_article_of_an_infinite_scroll_is_no_chunk(extractor):
    def post(title: str, paragraphs: str) -> str:
        return f"<div class='post'><h1>{title}</h1><div class='post'>{paragraphs}</div></div>"

    first = "".join(f"<p>Primo articolo {i}. {ITALIAN}</p>" for i in range(5))
    second = "".join(f"<p>Secondo articolo {i}. {ITALIAN}</p>" for i in range(5))
    page = (
        "<html><head><title>Primo</title></head><body><main>"
        f"{post('Primo', first)}{post('Secondo', second)}</main></body></html>"
    ).encode()
    text = extractor.extract(page, "https://example.org/primo").record["text"]
    assert "Primo articolo 4." in text and "Secondo articolo" not in text


def _fast_lines(page: str):
    from pipelines.decoding import decode, parse
    from pipelines.generic_text import _extract
    from pipelines.text_blocks import TRAFILATURA, walk

    options = ArticleExtractor(ExtractorConfig())._options
    tree = parse(decode(page.encode(), None, []), [])
    body = _extract(tree, options)
    return tree, body, walk(body, TRAFILATURA) if body is not None else [], options


def test_fast_text_is_deficient_when_short_or_far_below_the_pages_main_block():
    from pipelines.generic_text import short_text

    article = article_page([f"{ITALIAN} ({i})" for i in range(4)])
    assert not short_text(*_fast_lines(article))
    assert short_text(*_fast_lines(article_page([ITALIAN[:120]])))
    _, body, fast, options = _fast_lines(article)
    # The same fast text, on a page whose largest block of paragraphs is three times as long.
    bigger = article.replace(
        "<footer>",
        "<section>" + "".join(f"<p>{ITALIAN} [{i}]</p>" for i in range(12)) + "</section><footer>",
    )
    assert short_text(_fast_lines(bigger)[0], body, fast, options)


def test_a_deficient_fast_text_is_replaced_by_trafilaturas_result_with_its_fallbacks():
    from copy import copy

    from pipelines.generic_text import _lines, trafilatura_lines

    tree, _, fast, options = _fast_lines(article_page([ITALIAN[:120]]))
    slow = copy(options)
    slow.fast = False
    lines, fell_back = trafilatura_lines(tree, options)
    assert fell_back and lines == _lines(tree, slow)
    assert trafilatura_lines(tree, options, short_text_fallback=False) == (fast, False)


def test_a_line_that_is_one_whole_link_reads_as_a_teaser_not_a_sentence(extractor):
    """A related headline or a promo set as a paragraph of its own inside the body is a link and
    nothing else: trafilatura keeps it (its text has no links), the link-dense rule drops it. A
    link inside a sentence and a product named in a heading stay."""
    teaser = "Le città europee che hanno già ridotto le emissioni del traffico"
    promo = "SCARICA LA NOSTRA APP CLICCANDO QUI"
    sentence = "Secondo il <a href='/rapporto'>rapporto dell'agenzia europea</a>, i dati sono chiari."
    paragraphs = [f"Paragrafo {i}. {ITALIAN}" for i in range(4)]
    body = [
        paragraphs[0],
        f"<a href='/altre-citta'>{teaser}</a>",
        paragraphs[1],
        sentence,
        f"<strong><a href='/app'>{promo}</a></strong>",
        paragraphs[2],
        paragraphs[3],
    ]
    page = article_page(body).replace(
        f"<p>{paragraphs[3]}</p>",
        f"<h3><a href='/prodotto'>Borraccia termica in acciaio</a></h3><p>{paragraphs[3]}</p>",
    )
    record = extractor.extract(page.encode(), "https://example.org/a").record
    lines = record["text"].splitlines()
    assert teaser not in record["text"] and promo not in record["text"]
    assert "Secondo il rapporto dell'agenzia europea, i dati sono chiari." in lines
    assert "Borraccia termica in acciaio" in lines
    assert [line for line in lines if line.startswith("Paragrafo")] == paragraphs


def test_whole_links_marks_only_lines_that_a_link_fills_alone():
    from lxml import html

    from pipelines.generic_text import whole_links

    tree = html.fromstring(
        "<html><body><div><p><a href='/a'>Solo un link qui</a></p>"
        "<p><a href='/b'>Un link</a> e poi del testo</p>"
        "<li><span><a href='/c'>Dentro uno span</a></span></li>"
        "<p>Prima <a href='/d'>in mezzo</a></p>"
        "<p><a href='https://example.org/fonte'>example.org/fonte</a></p></div></body></html>"
    )
    lines = [
        ("Solo un link qui", 0.0),
        ("Un link", 0.0),
        ("- Dentro uno span", 0.0),
        ("in mezzo", 0.0),
        ("example.org/fonte", 0.0),
    ]
    assert whole_links(tree, lines) == [
        ("Solo un link qui", 1.0),
        ("Un link", 0.0),
        ("- Dentro uno span", 1.0),
        ("in mezzo", 0.0),
        ("example.org/fonte", 0.0),
    ]
