"""Declarative extraction rules: one SiteRule per site, plus the generic boilerplate patterns.

Read by pipelines.extractor; its config hash covers everything defined here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from lxml.cssselect import CSSSelector

__all__ = [
    "GENERIC_PRUNE",
    "SITE_RULES",
    "CREDIT_LINE",
    "CREDIT_LINKS",
    "GENERIC_LISTING",
    "BoilerplateRules",
    "SiteRule",
    "match_host",
    "match_markup",
    "rules_fingerprint",
    "select",
]


@dataclass(frozen=True, slots=True)
class SiteRule:
    """Where one site keeps each part of an article.

    Every field except ``name`` and ``hosts`` is a tuple of CSS selectors tried in order, so a
    markup change that renames one class still finds the next. ``signature`` selectors must all
    match for the rule to apply to a page served from an unknown host (fixtures, mirrors);
    ``credited`` rules additionally need a credit line pointing at ``credit_hosts``.
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
    listing=("body.archive", "body.category", ".archive__list", ".listing__items"),
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
        "p.licence",
    ),
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
        "p.license",
        "p.licence",
        ".entry-source",
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
# next to (or as) a link to it; that link becomes the record's `translation_of`.
CREDIT_HOSTS: tuple[str, ...] = ("lifegate.it", "lifegate.com")
CREDIT_LINKS = "//a[%s]" % " or ".join(f"contains(@href, '{h}/')" for h in CREDIT_HOSTS)
CREDIT_LINE = re.compile(
    r"^(quelle|source|fonte|fuente|bron|źródło|original|originale|originalartikel|article original"
    r"|übersetzt aus|traduit de|tradotto da|translated from)\s*:?\s*"
    r"(lifegate\b|https?://(www\.)?lifegate\.)",
    re.IGNORECASE,
)

# WordPress body classes of listing pages (archives, search, the posts index, 404): no article.
GENERIC_LISTING: tuple[str, ...] = ("body.archive", "body.search-results", "body.blog", "body.error404")

# Pruned from every page before the text walk and before trafilatura: containers whose class or
# id names say what they are. trafilatura's own cleaning misses several of them (share buttons and
# ad labels, trafilatura PR #916; footers, issue #617).
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
)


@dataclass(frozen=True, slots=True)
class BoilerplateRules:
    """Line-level patterns for boilerplate that no selector names (all matched case-insensitively).

    ``short_lines`` only apply to lines of at most ``short_words`` words, so a sentence that merely
    mentions a newsletter is kept. ``any_length`` lines are dropped whatever their length.
    """

    short_words: int = 25
    short_lines: tuple[str, ...] = (
        # licence lines; the licence itself goes to the record
        r"^(licen[sc]ed under|lizenziert unter|sous licence|licence|license|licenza|licencia)\b.*\bcc\b",
        r"^(this (article|work|content) is (licen[sc]ed|published|released) under)\b",
        r"^(quest[oa] (articolo|opera) è (distribuit|rilasciat|pubblicat)\w*)\b.*\bcc\b",
        r"^captcha\b",
        # back-to-top links and their translations
        r"^[\^↑⬆]+$",
        r"^(back to top|torna (su|in alto)|nach oben|haut de page|retour en haut|volver arriba)$",
        # site promotion footers of republishers
        r"^(entdecken sie|découvrez|decouvrez|scopri|discover|descubre) (die|le|il|the|el)"
        r" (website|webseite|site|sito|sitio)\b",
        # newsletter and subscription boxes
        r"\b(newsletter|iscriviti|abonnez-vous|abonnieren|inscrivez-vous)\b",
        r"^(sign up|subscribe)\b",
        r"^(thanks|thank you) for (signing up|subscribing)",
        # the credit line of a republication; the credited URL goes to the record
        r"^(quelle|source|fonte|fuente)\s*:\s*lifegate\b",
        # share and teaser labels
        r"^(share|condividi|teilen|partager|compartir)( (this|on|su|sur|auf)\b.*)?$",
        r"^like this (story|article)\b",
        r"^(leggi anche|read also|read more|see more|lesen sie auch|lire aussi|à lire aussi"
        r"|also read|related( articles| stories)?|you may also like|don'?t miss"
        r"|potrebbe interessarti|ti potrebbe interessare|weitere artikel)\b",
        r"^click here\b",
        r"^also on \S+\.\w+\b",
        # photo credits and copyright lines
        r"©",
        r"\b(via getty images|getty images|shutterstock|afp photo|ansa foto)$",
        r"^(photo|foto|credit|credits|image|bild|crédit|crédits)\s*:",
        r"\ball rights reserved\b|\btutti i diritti riservati\b|\balle rechte vorbehalten\b"
        r"|\btous droits réservés\b",
    )
    any_length: tuple[str, ...] = (
        r"^(leggi anche|read also|read more|see more|lesen sie auch|lire aussi|à lire aussi)\s*:",
    )


@lru_cache(maxsize=512)
def _compiled(selector: str) -> CSSSelector:
    return CSSSelector(selector, translator="html")


def select(tree, selectors: tuple[str, ...]) -> list:
    """Return the matches of the first selector in ``selectors`` that matches anything."""
    for selector in selectors:
        found = _compiled(selector)(tree)
        if found:
            return found
    return []


def match_host(host: str) -> SiteRule | None:
    """The rule whose host pattern covers ``host`` (exact host or any subdomain of it)."""
    host = host.lower().rstrip(".")
    for rule in SITE_RULES:
        if any(host == h or host.endswith("." + h) for h in rule.hosts):
            return rule
    return None


def match_markup(tree, credited: bool) -> SiteRule | None:
    """The rule whose signature selectors all match ``tree``, for pages from unknown hosts.

    A ``credited`` rule only applies when the page carries a credit line (``credited`` is True).
    """
    for rule in SITE_RULES:
        if rule.credited and not credited:
            continue
        if all(_compiled(s)(tree) for s in rule.signature):
            return rule
    return None


def compile_lines(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """Join line patterns into one case-insensitive regex (None when there are none)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def rules_fingerprint() -> list[dict]:
    """Plain-data view of every rule, for the extractor's config hash."""
    return [asdict(r) for r in SITE_RULES] + [
        {"generic_prune": list(GENERIC_PRUNE), "generic_listing": list(GENERIC_LISTING)},
        {"credit_links": CREDIT_LINKS, "credit_line": CREDIT_LINE.pattern},
        asdict(BoilerplateRules()),
    ]
