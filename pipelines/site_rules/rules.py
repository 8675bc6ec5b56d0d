"""Declarative extraction rules: one SiteRule per site and the generic boilerplate patterns.

Plain data; pipelines.site_rules.page applies it. The extractor's config hash covers all of it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

__all__ = [
    "ARTICLE_BODY_CLASSES",
    "CREDIT_LINE",
    "CREDIT_TEXT",
    "GENERIC_PRUNE",
    "LISTING_BODY_CLASSES",
    "SECTION_BODY_CLASSES",
    "SITE_RULES",
    "BoilerplateRules",
    "SiteRule",
    "rules_fingerprint",
]


@dataclass(frozen=True, slots=True)
class SiteRule:
    """Where one site keeps each part of an article.

    Selector fields are tuples of CSS selectors tried in order, so a markup change that renames
    one class still finds the next; ``prune`` lists boxes removed from the body before its text is
    read (``source``, ``license``, figures, standfirst and kicker are removed too: they become
    metadata). ``signature`` selectors must all match for the rule to apply to a page served from
    an unknown host (fixtures, mirrors); a ``credited`` rule also needs a Lifegate credit line.
    ``drop_lines`` are regexes for lines of this site only.
    """

    name: str
    hosts: tuple[str, ...]
    signature: tuple[str, ...]
    body: tuple[str, ...]
    title: tuple[str, ...] = ("h1",)
    kicker: tuple[str, ...] = ()
    standfirst: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    figures: tuple[str, ...] = ("figure",)
    caption: tuple[str, ...] = ("figcaption",)
    credit: tuple[str, ...] = (".credit", ".figcaption__credit", "small", "cite")
    license: tuple[str, ...] = ()
    source: tuple[str, ...] = ()
    listing: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()
    drop_lines: tuple[str, ...] = ()
    credited: bool = False


LIFEGATE = SiteRule(
    name="lifegate",
    hosts=("lifegate.it", "lifegate.com"),
    signature=(".single__title", ".post__content"),
    body=(".post__content.editorial", ".post__content", "article .editorial"),
    title=(".single__title h1", "h1.single__title", ".single__title"),
    kicker=(".single__kicker", ".post__kicker"),
    standfirst=(".post__description", ".single__description"),
    authors=(".post__author .author__name", ".post__author a", "[rel=author]"),
    tags=(".post__trends a", ".post__tags a"),
    caption=(".figcaption__text", ".figcaption", "figcaption"),
    credit=(".figcaption__credit", ".credit", ".figcaption small"),
    license=("p.licence", "p.license", ".post__licence"),
    listing=(".archive__list", ".listing__items", ".category__posts"),
    prune=(
        ".read-also",
        ".related-articles",
        ".post__trends",
        ".newsletter",
        ".newsletter-box",
        ".share",
        ".post__share",
        "aside",
        "#cookie-banner",
        ".comments",
        "#comments",
        ".comment-form",
        ".post__author",
        ".adv",
    ),
    # lifegate.com closes its translations with the translator's name
    drop_lines=(r"^translated by\b",),
)

GRATISFORGRATIS = SiteRule(
    name="gratisforgratis",
    hosts=("gratisforgratis.com",),
    signature=(".entry-content",),
    body=(".entry-content", ".post-content", "article .content"),
    title=("h1.entry-title", "article h1", "h1"),
    kicker=(".entry-kicker", ".entry-category", ".cat-links"),
    standfirst=(".entry-excerpt", ".entry-summary", ".post-excerpt"),
    authors=(".entry-meta .author", ".byline .author"),
    tags=(".tags-links a", ".entry-tags a"),
    figures=("figure", ".wp-caption"),
    caption=("figcaption", ".wp-caption-text"),
    license=("p.license", "p.licence", ".entry-license"),
    source=(".entry-source", "p.source", "p.fonte"),
    prune=(
        ".sharedaddy",
        ".share-buttons",
        ".jp-relatedposts",
        ".related-posts",
        "#comments",
        "#respond",
        ".comment-respond",
        ".back-to-top",
        ".site-promo",
    ),
    credited=True,
)

SITE_RULES: tuple[SiteRule, ...] = (LIFEGATE, GRATISFORGRATIS)

# Republications credit the original with a line such as "Quelle: Lifegate" or "Source : Lifegate"
# next to (or as) a link to it; that link becomes the record's `translation_of`. The line is found
# from the text nodes naming the publisher, whatever host the link points to (mirrors, fixtures).
CREDIT_TEXT = "//text()[contains(translate(., 'LIFEGATE', 'lifegate'), 'lifegate')]/.."
CREDIT_LINE = re.compile(
    r"^(quelle|source|fonte|fuente|bron|źródło|original|originale|originalartikel|article original"
    r"|übersetzt aus|traduit de|tradotto da|translated from)\s*:?\s*"
    r"(lifegate\b|https?://(www\.)?lifegate\.)",
    re.IGNORECASE,
)

# <body> classes that WordPress (and themes copying it) put on listing pages: archives, search
# results, the posts index, 404. Such a page has no article.
LISTING_BODY_CLASSES: frozenset[str] = frozenset({"archive", "search-results", "blog", "error404"})
# Of those, the ones that only mean a listing when the page lists entries (two or more `article`
# or `hentry` elements): elsewhere a section's single posts carry them too.
SECTION_BODY_CLASSES: frozenset[str] = frozenset({"archive", "blog"})
# ...and the ones it puts on a single post or page: other themes and CMSs use "blog" or "archive"
# for a whole section, articles included, so a page carrying one of these is read as an article.
ARTICLE_BODY_CLASSES: frozenset[str] = frozenset(
    {"single", "singular", "single-post", "post-template-default", "page-template-default"}
)

# Pruned from the body of every rule-matched page, on top of the rule's own list: boxes whose class
# or id says what they are, whatever the theme. Pages of unknown sites are left to trafilatura's
# own cleaning (these selectors changed nothing on the Zyte benchmark there).
GENERIC_PRUNE: tuple[str, ...] = (
    "#cookie-banner",
    ".cookie-banner",
    "#cookie-notice",
    ".read-also",
    ".related-articles",
    ".newsletter",
    ".sharedaddy",
    ".share-buttons",
    ".jp-relatedposts",
    ".comment-respond",
    "#respond",
    ".back-to-top",
    ".code-block",
    ".adsbygoogle",
    ".ad-label",
    ".advertisement",
)


# Month and weekday names (English, Italian, German, French, Spanish, Portuguese, Dutch) for the
# dateline pattern below.
_MONTHS = (
    r"jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|june?|july?|aug(?:ust|\.)?"
    r"|sep(?:t(?:ember)?|\.)?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?"
    r"|gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre"
    r"|dicembre|januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril"
    r"|juin|juillet|août|septembre|octobre|décembre|enero|febrero|abril|mayo|junio|julio"
    r"|septiembre|octubre|noviembre|diciembre|janeiro|fevereiro|março|maio|junho|julho|setembro"
    r"|outubro|dezembro|januari|februari|maart|mei|augustus"
)
_WEEKDAYS = (
    r"mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:rs|rsday)?|fri(?:day)?|sat(?:urday)?"
    r"|sun(?:day)?|lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica|montag|dienstag"
    r"|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi"
    r"|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo"
)
# A line that is only a date, perhaps with weekday, time and zone ("Wednesday 20 November 2019
# 11:42, UK", "5 de marzo de 2020", "2019-11-18"): the article's dateline, never its text.
DATELINE = (
    rf"^(?:(?:{_WEEKDAYS})\.?,?\s+)?"
    rf"(?:\d{{1,2}}\.?\s*(?:de\s+)?(?:{_MONTHS})\.?,?\s*(?:de\s+)?\d{{4}}"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s*\d{{4}}"
    r"|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2})"
    r"(?:,?\s*(?:at\s+|um\s+|alle\s+|à\s+|-\s+|\|\s+)?\d{1,2}[:.h]\d{2}"
    r"(?:\s*(?:am|pm|a\.m\.|p\.m\.|uhr))?)?(?:,?\s*[a-z]{2,4})?$"
)
# A line that is only "By" and names ("By Stefan Becket, Kathryn Watson", "Di Mario Rossi"): the
# byline. Names are capitalised (case-sensitive part), so "By 2030, emissions…" is text.
BYLINE = (
    r"^(?:by|von|di|par|por|door|przez)\s+(?-i:(?:[A-ZÀ-ÝŁŚŻ][\w.'\u2019-]*"
    r"(?:\s*,\s*|\s+(?:and|und|e|et|y|en|i|&)\s+|\s+)?){1,8})$"
)


@dataclass(frozen=True, slots=True)
class BoilerplateRules:
    """Line-level patterns for boilerplate that no selector names (all matched case-insensitively).

    ``short_lines`` only apply to lines of at most ``short_words`` words, so a sentence that merely
    mentions a newsletter is kept; such short lines are also dropped when at least
    ``link_dense_share`` of their characters are link text. ``any_length`` lines are dropped
    whatever their length.
    """

    short_words: int = 25
    # A short line that is (almost) all link text is a teaser or a menu, not a sentence.
    link_dense_share: float = 0.8
    short_lines: tuple[str, ...] = (
        # licence lines; the licence itself goes to the record
        r"^(licen[sc]ed under|lizenziert unter|sous licence|licen[csz][ae]|licencia)\b.*\bcc\b",
        r"^(this (article|work|content) is (licen[sc]ed|published|released) under)\b",
        r"^(quest[oa] (articolo|opera) è (distribuit|rilasciat|pubblicat)\w*)\b.*\bcc\b",
        # a Creative Commons licence named in a short line that speaks of licences or rights,
        # whatever its wording ("Content licensed CC BY-SA", "Pubblicato con licenza Creative
        # Commons"), or standing alone ("(CC BY 4.0)")
        (
            r"\b(cc[\s-]?(by|0)\b|creative commons\b).*\b(licen[cs]|lizen[sz]|licenz|rights)"
            r"|\b(licen[cs]|lizen[sz]|licenz|rights)\w*\b.*\b(cc[\s-]?(by|0)\b|creative commons\b)"
        ),
        r"^\W*cc[\s-]?(by|0)([\s-](nc|nd|sa)){0,3}([\s-]\d\.\d)?\W*$",
        r"^captcha\b",
        # ad-slot labels left behind by ad blocks (trafilatura PR #916)
        r"^(anzeige|werbung|advertisement|advertising|pubblicità|publicité|publicidad|sponsored)$",
        (
            r"^(continue reading below|story continues below|article continues below"
            r"( advertisement)?|l'articolo continua (sotto|dopo la pubblicità)"
            r"|weiterlesen nach der anzeige|la suite après (cette )?publicité)$"
        ),
        # comment counters ("[ 167 comments ]"), labels and prompts
        r"^\W*(\d+\s+)?(comments?|commenti|kommentare|commentaires|comentarios|comentários)\W*$",
        (
            r"^(tell us what you think|what do you think\?|leave a (comment|reply)|post a comment"
            r"|add a comment|join the (conversation|discussion)|lascia un commento"
            r"|laisser un commentaire|deja un comentario|schreiben sie einen kommentar)\b"
        ),
        # back-to-top links and their translations
        r"^[\^↑⬆]+$",
        (
            r"^(back to top|torna (su|in alto)|nach oben|haut de page|retour en haut|volver arriba"
            r"|voltar ao topo|terug naar boven|powrót na górę|do góry)$"
        ),
        # site promotion footers of republishers
        (
            r"^(entdecken sie|découvrez|decouvrez|scopri|discover|descubre|descubra|visit|visita"
            r"|visitez|besuchen sie|ontdek|bezoek) (die|le|il|the|el|o|de) (website|webseite|site"
            r"|sito|sitio|sítio|strona)\b"
        ),
        # newsletter and subscription boxes
        (
            r"\b(newsletters?|iscriviti|abonnez-vous|abonnieren|inscrivez-vous|suscríbete|suscribirse"
            r"|inscreva-se|assine|schrijf je in|abonneer|zapisz się|subskrybuj)\b"
        ),
        r"^(sign up|subscribe)\b",
        r"\b(delivered|sent|straight|right|directly) (to|in|into) your inbox\b",
        # an author's or the desk's contact line ("Write to … at name@example.com"), or an
        # e-mail address alone
        (
            r"\b(write to|e-?mail|contact|reached at)\b[^@]*[\w.+-]+@[\w-]+\.\w"
            r"|^\W*[\w.+-]+@[\w-]+(\.[\w-]+)+\W*$"
        ),
        # a form's status messages
        r"^(an error (has )?occurred|there was an error)\b|\bplease try again\b",
        r"^(thanks|thank you) for (signing up|subscribing)",
        # the credit line of a republication; the credited URL goes to the record
        CREDIT_LINE.pattern,
        # share and teaser labels
        (
            r"^(share|condividi|teilen|partager|compartir|compartilhe|compartilhar|delen|deel"
            r"|udostępnij)( (this|on|su|sur|auf|en|em|op|na)\b.*)?$"
        ),
        r"^like this (story|article)\b",
        (
            r"^\W*(order reprints?|reprints?|print( this)?( article| page| story)?"
            r"|e-?mail this( article| story)?)\W*$"
        ),
        (
            r"^(leggi anche|read also|read more|see more|lesen sie auch|lire aussi|à lire aussi"
            r"|also read|related( articles| stories)?|you may also like|don'?t miss"
            r"|potrebbe interessarti|ti potrebbe interessare|weitere artikel|lee también|leer más"
            r"|te puede interesar|leia também|leia mais|veja também|lees ook|lees meer|czytaj też"
            r"|czytaj także|czytaj więcej|zobacz też|zobacz także)\b"
        ),
        r"^click here\b",
        r"^also on \S+\.\w+\b",
        # translator and editor credits under an article
        (
            r"^(translated by|translation by|traduzione di|tradotto da|übersetzt von|übersetzung"
            r"|traduit par|traduction|traducción de|traducido por|traduzido por|tradução"
            r"|vertaald door|vertaling|przetłumaczył\w*|tłumaczenie)\b\W*\w+"
        ),
        # photo credits and copyright lines
        r"©",
        r"\b(via getty images|getty images|shutterstock|afp photo|ansa foto)$",
        (
            r"^(photo|foto|fotó|credit|credits|crédito|créditos|image|imagen|imagem|bild|crédit"
            r"|crédits|zdjęcie|fotografia)\s*:"
        ),
        (
            r"\ball rights reserved\b|\btutti i diritti riservati\b|\balle rechte vorbehalten\b"
            r"|\btous droits réservés\b|\btodos los derechos reservados\b"
            r"|\btodos os direitos reservados\b|\balle rechten voorbehouden\b"
            r"|\bwszelkie prawa zastrzeżone\b"
        ),
        # datelines and bylines standing alone
        DATELINE,
        BYLINE,
        # relative timestamps standing alone ("2 days ago at 07:47 am", "3 ore fa", "vor 2
        # Stunden"): a comment's or a teaser's, never the article's text
        (
            r"^(\d+|an?|one)\s+(sec(ond)?s?|min(ute)?s?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago"
            r"(\s+(at\s+)?\d{1,2}[:.]\d{2}(\s*[ap]\.?m\.?)?)?$"
            r"|^\d+\s+(secondi|minuti|ore|giorni|settimane|mesi|anni|uur|dagen|weken|maanden"
            r"|jaar)\s+(fa|geleden)$"
            r"|^(vor|il y a|hace|há)\s+\d+\s+(sekunden|minuten|stunden|tagen|wochen|monaten|jahren"
            r"|secondes|minutes|heures|jours|semaines|mois|ans|segundos|minutos|horas|días|dias"
            r"|semanas|meses|años|anos)$"
        ),
        # taxonomy, timestamp and reading-time labels
        r"^(filed under|posted in|tagged|tags|categories)\s*:",
        (
            r"^(published|updated|posted|last updated|pubblicato|aggiornato|veröffentlicht"
            r"|aktualisiert|publié|mis à jour|publicado|actualizado|기사입력|입력)\b"
            r"(?=[^\n]*\d)[^\n]{0,40}$"
        ),
        (
            r"^(reading time|tempo de leitura|tempo di lettura|lesezeit|temps de lecture"
            r"|tiempo de lectura)\b|^\d+\s*min(ute)?s?\s+read$"
        ),
    )
    any_length: tuple[str, ...] = (
        (
            r"^(leggi anche|read also|read more|see more|lesen sie auch|lire aussi|à lire aussi"
            r"|lee también|leia também|lees ook|czytaj też|czytaj także)\s*:"
        ),
    )


def rules_fingerprint() -> list[dict]:
    """Plain-data view of every rule, for the extractor's config hash."""
    return [asdict(r) for r in SITE_RULES] + [
        {
            "generic_prune": list(GENERIC_PRUNE),
            "listing": sorted(LISTING_BODY_CLASSES),
            "section": sorted(SECTION_BODY_CLASSES),
            "article": sorted(ARTICLE_BODY_CLASSES),
        },
        {"credit_text": CREDIT_TEXT, "credit_line": CREDIT_LINE.pattern},
    ]
