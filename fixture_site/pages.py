"""HTML pages of lifegate.it and lifegate.com: article, listings, home, static, errors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import quote

from fixture_site.body import blocks_html
from fixture_site.content import ArticleFixture
from fixture_site.layout import (
    OG_LOCALE,
    Theme,
    attr,
    card,
    card_list,
    display_date,
    esc,
    resized,
    srcset,
    thumbnail_link,
    w3c,
)

STATIC_PAGES = {
    "it": (
        (
            "/chi-siamo",
            "Chi siamo",
            (
                (
                    "LifeGate è il punto di riferimento per l'informazione sulla sostenibilità in Italia: "
                    "ambiente, energia, alimentazione, mobilità e diritti umani raccontati ogni giorno."
                ),
                (
                    "La redazione lavora a Milano e collabora con una rete di giornalisti, ricercatori e "
                    "fotografi in tutta Europa."
                ),
                (
                    "I nostri articoli in italiano sono affiancati da una selezione in inglese pubblicata "
                    "su lifegate.com."
                ),
            ),
        ),
        (
            "/contatti",
            "Contatti",
            (
                "Per segnalazioni alla redazione scrivi a redazione@lifegate.it.",
                "Per informazioni commerciali contatta l'ufficio marketing.",
            ),
        ),
        (
            "/privacy-policy",
            "Privacy policy",
            (
                "Questa informativa descrive come trattiamo i dati personali degli utenti del sito.",
                "Il titolare del trattamento è LifeGate S.p.A. Società Benefit.",
            ),
        ),
        (
            "/cookie-policy",
            "Cookie policy",
            (
                "Il sito utilizza cookie tecnici, analitici e, previo consenso, di profilazione.",
                "Puoi modificare le tue preferenze in qualsiasi momento dal banner dei cookie.",
            ),
        ),
        (
            "/newsletter",
            "Newsletter",
            ("Ogni settimana una selezione delle notizie più importanti su ambiente ed energia.",),
        ),
    ),
    "en": (
        (
            "/about-us",
            "About us",
            (
                (
                    "LifeGate is Italy's reference point for news on sustainability: the environment, "
                    "energy, food, mobility and human rights, covered every day."
                ),
                (
                    "Our English-language site publishes a selection of our reporting and original "
                    "stories for an international audience."
                ),
            ),
        ),
        ("/contact", "Contact", ("To reach the editorial team write to editorial@lifegate.com.",)),
        (
            "/privacy-policy",
            "Privacy policy",
            ("This notice describes how we process the personal data of the site's users.",),
        ),
        (
            "/cookie-policy",
            "Cookie policy",
            (
                "The site uses technical and analytics cookies and, with consent, profiling cookies.",
            ),
        ),
        (
            "/newsletter",
            "Newsletter",
            (
                "Every week a selection of the most important stories on the environment and energy.",
            ),
        ),
    ),
}

LICENCE_TEXT = (
    "This article is available under the Creative Commons licence {licence}: you may "
    "republish it, unchanged and for non-commercial purposes, crediting LifeGate and "
    "linking to the original."
)


def _article_head(
    theme: Theme, article: ArticleFixture, url: str, alternates: Sequence[tuple[str, str]]
) -> str:
    base = theme.links.base
    description = article.standfirst[0] if article.standfirst else article.title
    image = base + article.hero["src"] if article.hero else ""
    parts = [
        f'<meta name="description" content="{attr(description)}">\n',
        (
            '<meta name="robots" content="index, follow, max-image-preview:large, max-snippet:-1, '
            'max-video-preview:-1">\n'
        ),
        f'<link rel="canonical" href="{attr(url)}">\n',
        f'<link rel="shortlink" href="{attr(base)}/?p={article.post_id}">\n',
    ]
    parts += [
        f'<link rel="alternate" hreflang="{lang}" href="{attr(href)}">\n'
        for lang, href in alternates
    ]
    parts += [
        f'<meta property="og:locale" content="{OG_LOCALE[theme.lang]}">\n',
        '<meta property="og:type" content="article">\n',
        f'<meta property="og:title" content="{attr(article.title)}">\n',
        f'<meta property="og:description" content="{attr(description)}">\n',
        f'<meta property="og:url" content="{attr(url)}">\n',
        '<meta property="og:site_name" content="LifeGate">\n',
        '<meta property="article:publisher" content="https://www.facebook.com/lifegate">\n',
        f'<meta property="article:section" content="{attr(article.kicker)}">\n',
    ]
    parts += [f'<meta property="article:tag" content="{attr(t)}">\n' for t in article.tags]
    parts += [
        f'<meta property="article:published_time" content="{w3c(article.published)}">\n',
        f'<meta property="article:modified_time" content="{w3c(article.modified)}">\n',
        f'<meta property="og:image" content="{attr(image)}">\n' if image else "",
        '<meta property="og:image:width" content="1200">\n<meta property="og:image:height" content="800">\n',
        '<meta name="twitter:card" content="summary_large_image">\n',
        f'<meta name="author" content="{attr(article.author)}">\n',
    ]
    news = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": article.title,
        "description": description,
        "image": [image] if image else [],
        "datePublished": w3c(article.published),
        "dateModified": w3c(article.modified),
        "author": {
            "@type": "Person",
            "name": article.author,
            "url": theme.links.author(article.author),
        },
        "publisher": {
            "@type": "Organization",
            "name": "LifeGate",
            "logo": {"@type": "ImageObject", "url": theme.links.asset("/images/logo.svg")},
        },
        "articleSection": article.kicker,
        "keywords": article.tags,
        "inLanguage": theme.html_lang,
    }
    if article.license:
        news["license"] = "https://creativecommons.org/licenses/by-nc-nd/4.0/"
    crumbs = {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {
                "@type": "ListItem",
                "position": 1,
                "name": theme.labels["home"],
                "item": theme.links.home(),
            },
            {
                "@type": "ListItem",
                "position": 2,
                "name": _category_label(theme, article.category),
                "item": theme.links.category(article.category),
            },
            {"@type": "ListItem", "position": 3, "name": article.title},
        ],
    }
    for data in (news, crumbs):
        parts.append(
            '<script type="application/ld+json">'
            + json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
            + "</script>\n"
        )
    return "".join(parts)


def _category_label(theme: Theme, slug: str) -> str:
    for menu_slug, label, _ in theme.menu:
        if menu_slug == slug:
            return label
    return slug.replace("-", " ").title()


def _sidebar(theme: Theme, most_read: Sequence[ArticleFixture]) -> str:
    links = theme.links
    items = "".join(
        f'<li class="most-read__item"><a href="{attr(links.to(a.path))}">{esc(a.title)}</a></li>'
        for a in most_read
    )
    lead = next((a for a in most_read if a.hero), None)
    thumb = ""
    if lead is not None and lead.hero is not None:
        thumb = thumbnail_link(
            links, "most-read__image", links.to(lead.path), lead.hero["src"], "300px"
        )
    return (
        f'<aside class="sidebar"><section class="most-read"><h2>{esc(theme.labels["most_read"])}'
        f'</h2>{thumb}<ol class="most-read__list">{items}</ol></section>'
        '<div class="adv-slot" id="div-gpt-ad-1700000007919-0" data-sizes="300x250,300x600"></div>'
        "</aside>"
    )


def _comments(theme: Theme, post_id: int, url: str) -> str:
    labels, links = theme.labels, theme.links
    captcha = links.to(f"/app/plugins/really-simple-captcha/tmp/{post_id * 7919 % 1000003}.png")
    return (
        f'<section id="comments" class="comments"><h2>{esc(labels["comments"])}</h2>'
        f'<form id="commentform" class="comment-form" action="{attr(links.to("/wp-comments-post.php"))}" method="post">'
        f'<p><label for="author">{esc(labels["name"])}</label><input id="author" name="author" type="text" required></p>'
        f'<p><label for="email">{esc(labels["email"])}</label><input id="email" name="email" type="email" required></p>'
        f'<p><label for="comment">{esc(labels["comment"])}</label><textarea id="comment" name="comment" rows="6"></textarea></p>'
        f'<p class="captcha"><label for="captcha_code">{esc(labels["captcha"])}</label>'
        f'<img src="{attr(captcha)}" alt="CAPTCHA" width="72" height="24">'
        '<input id="captcha_code" name="captcha_code" type="text" size="4" autocomplete="off"></p>'
        f'<input type="hidden" name="comment_post_ID" value="{post_id}">'
        f'<input type="hidden" name="redirect_to" value="{attr(url)}">'
        f'<p><button type="submit" class="button button--primary">{esc(labels["submit"])}</button></p>'
        "</form></section>"
    )


def _share(theme: Theme, url: str, title: str) -> str:
    u, t = quote(url, safe=""), quote(title, safe="")
    targets = (
        ("facebook", f"https://www.facebook.com/sharer/sharer.php?u={u}"),
        ("x", f"https://x.com/intent/tweet?url={u}&text={t}"),
        ("linkedin", f"https://www.linkedin.com/sharing/share-offsite/?url={u}"),
        ("whatsapp", f"https://api.whatsapp.com/send?text={t}%20{u}"),
    )
    buttons = "".join(
        f'<a class="share__button share__button--{net}" href="{attr(href)}" '
        f'rel="nofollow noopener" target="_blank"><svg class="icon"><use href="#icon-{net}"/>'
        "</svg></a>"
        for net, href in targets
    )
    return f'<div class="share"><span class="share__label">{esc(theme.labels["share"])}</span>{buttons}</div>'


def _newsletter(theme: Theme) -> str:
    labels = theme.labels
    return (
        f'<div class="newsletter-box"><h3>{esc(labels["newsletter_title"])}</h3>'
        f"<p>{esc(labels['newsletter_text'])}</p>"
        f'<form action="{attr(theme.links.to("/wp-admin/admin-ajax.php"))}" method="post">'
        '<input type="hidden" name="action" value="newsletter_subscribe">'
        f'<input type="email" name="email" placeholder="{attr(labels["email"])}" required>'
        f'<button type="submit" class="button button--primary">{esc(labels["newsletter_button"])}'
        "</button></form></div>"
    )


def article_page(
    theme: Theme,
    article: ArticleFixture,
    *,
    related: Sequence[ArticleFixture],
    most_read: Sequence[ArticleFixture],
    read_also: ArticleFixture | None,
    read_also_old_form: bool = False,
    alternates: Sequence[tuple[str, str]] = (),
) -> str:
    links, labels = theme.links, theme.labels
    url = links.to(article.path)
    category_label = _category_label(theme, article.category)
    read_also_html = ""
    if read_also is not None:
        href = links.old_form(read_also.path) if read_also_old_form else links.to(read_also.path)
        read_also_html = (
            f'<div class="read-also"><span class="read-also__label">'
            f'{esc(labels["read_also"])}</span> <a class="read-also__link" '
            f'href="{attr(href)}">{esc(read_also.title)}</a></div>'
        )
    targets = [links.to(a.path) for a in related] or [links.category(article.category)]
    body = blocks_html(
        article.blocks,
        base=links.base,
        post_id=article.post_id,
        link_targets=targets,
        insert_after=3,
        insert_html=read_also_html,
    )
    if related:
        body += "\n" + embed_figure(links.to("/embed" + related[0].path + "/"), related[0].title)
    if article.license:
        body += '\n<p class="licence">' + esc(LICENCE_TEXT.format(licence=article.license)) + "</p>"
    standfirst = "".join(f"<p>{esc(p)}</p>" for p in article.standfirst)
    hero = ""
    if article.hero:
        src = article.hero["src"]
        caption = article.hero.get("caption", "")
        credit = article.hero.get("credit", "")
        # Art direction: phones get the 768px crop, larger screens choose among the rest.
        wide = ", ".join(f"{links.to(resized(src, w, h))} {w}w" for w, h in ((1024, 683),))
        hero = (
            f'<figure class="single__hero"><picture>'
            f'<source media="(max-width: 767px)" srcset="{attr(links.to(resized(src, 768, 512)))}">'
            f'<source media="(min-width: 768px)" srcset="{attr(wide)}, {attr(links.to(src))} 1200w" '
            'sizes="(max-width: 1240px) 100vw, 880px">'
            f'<img src="{attr(links.to(src))}" srcset="{attr(srcset(links.base, src))}" '
            'sizes="(max-width: 1240px) 100vw, 880px" '
            f'alt="{attr(caption)}" width="1200" height="800" fetchpriority="high"></picture>'
            f'<figcaption class="figcaption"><span class="figcaption__caption">{esc(caption)}</span> '
            f'<span class="figcaption__credit">{esc(credit)}</span></figcaption></figure>'
        )
    tags = "".join(f'<a href="{attr(links.tag(t))}" rel="tag">{esc(t)}</a>' for t in article.tags)
    main = (
        '<main id="main" class="main">\n'
        f'<nav class="breadcrumb" aria-label="breadcrumb"><ol><li><a href="{attr(links.home())}">'
        f'{esc(labels["home"])}</a></li><li><a href="{attr(links.category(article.category))}">'
        f'{esc(category_label)}</a></li><li aria-current="page">{esc(article.title)}</li></ol></nav>\n'
        '<div class="single container">\n'
        f'<article id="post-{article.post_id}" class="single__article post-{article.post_id} post '
        f'type-post status-publish format-standard has-post-thumbnail category-{attr(article.category)}">\n'
        '<header class="single__header">\n'
        f'<div class="single__kicker"><a href="{attr(links.category(article.category))}">'
        f"{esc(article.kicker)}</a></div>\n"
        f'<div class="single__title"><h1>{esc(article.title)}</h1></div>\n'
        f'<div class="post__description">{standfirst}</div>\n'
        f'<div class="single__meta"><span class="single__author">{esc(labels["by"])} '
        f'<a href="{attr(links.author(article.author))}" rel="author">{esc(article.author)}</a></span> '
        f'<time class="single__date" datetime="{w3c(article.published)}">'
        f"{display_date(article.published, theme.lang)}</time>"
        f'<time class="single__updated" datetime="{w3c(article.modified)}" hidden>'
        f"{esc(labels['updated'])} {display_date(article.modified, theme.lang)}</time></div>\n"
        f"</header>\n{hero}\n"
        f'<div class="post__content editorial">\n{body}\n</div>\n'
        f'<div class="post__trends"><span class="post__trends-label">{esc(labels["trends"])}</span>{tags}</div>\n'
        f"{_share(theme, url, article.title)}\n{_newsletter(theme)}\n"
        "</article>\n"
        f"{_sidebar(theme, most_read)}\n</div>\n"
        f'<section class="related-articles container"><h2>{esc(labels["related"])}</h2>'
        f'<div class="related-articles__list">{card_list(theme, related)}</div></section>\n'
        f"{_comments(theme, article.post_id, url)}\n</main>"
    )
    body_class = (
        f"post-template-default single single-post postid-{article.post_id} "
        "single-format-standard wp-embed-responsive"
    )
    return theme.document(
        title=f"{article.title} - LifeGate",
        head=_article_head(theme, article, url, alternates),
        body_class=body_class,
        main=main,
    )


def embed_figure(url: str, title: str) -> str:
    """WordPress's embed block for a post of the same site: an iframe of its embed view.

    WordPress serves that view at <post>/embed/; article URLs here have no trailing slash, so it
    lives at /embed/<slug>/, where a static mirror can store both as files.
    """
    return (
        '<figure class="wp-block-embed is-type-wp-embed is-provider-lifegate">'
        '<div class="wp-block-embed__wrapper"><iframe class="wp-embedded-content" '
        f'sandbox="allow-scripts" security="restricted" title="{attr(title)}" '
        f'src="{attr(url)}" width="600" height="220" frameborder="0" scrolling="no">'
        "</iframe></div></figure>"
    )


def embed_page(theme: Theme, article: ArticleFixture) -> str:
    """The /embed/ view of a post: a self-contained card, as WordPress's embed template prints."""
    url = theme.links.to(article.path)
    excerpt = article.standfirst[0] if article.standfirst else ""
    return (
        f'<!doctype html>\n<html lang="{theme.html_lang}">\n<head>\n<meta charset="UTF-8">\n'
        f"<title>{esc(article.title)} - LifeGate</title>\n"
        '<meta name="robots" content="noindex, follow">\n'
        f'<link rel="canonical" href="{attr(url)}">\n'
        "<style>body{margin:0;font:15px/1.5 Georgia,serif;color:#1a1a1a;background:#fff}"
        ".wp-embed{padding:20px 24px;border-left:6px solid #0b6e4f;height:218px;overflow:hidden}"
        ".wp-embed-heading{margin:0 0 8px;font:700 20px/1.25 Arial,sans-serif}"
        ".wp-embed-heading a{color:#1a1a1a;text-decoration:none}"
        ".wp-embed-site-title{margin-top:12px;font:700 12px Arial,sans-serif;color:#0b6e4f;"
        "text-transform:uppercase;letter-spacing:.06em}</style>\n</head>\n"
        '<body class="wp-embed-responsive"><div class="wp-embed post-'
        f'{article.post_id} post type-post"><p class="wp-embed-heading"><a href="{attr(url)}" '
        f'target="_top">{esc(article.title)}</a></p><div class="wp-embed-excerpt"><p>{esc(excerpt)}'
        '</p></div><div class="wp-embed-site-title">LifeGate</div></div></body>\n</html>\n'
    )


def _pagination(theme: Theme, page: int, pages: int, url_for) -> str:
    if pages <= 1:
        return ""
    parts = []
    if page > 1:
        parts.append(
            f'<a class="prev page-numbers" rel="prev" href="{attr(url_for(page - 1))}">'
            f"« {esc(theme.labels['prev'])}</a>"
        )
    for n in sorted({1, page - 1, page, page + 1, pages} & set(range(1, pages + 1))):
        if n == page:
            parts.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
        else:
            parts.append(f'<a class="page-numbers" href="{attr(url_for(n))}">{n}</a>')
    if page < pages:
        parts.append(
            f'<a class="next page-numbers" rel="next" href="{attr(url_for(page + 1))}">'
            f"{esc(theme.labels['next'])} »</a>"
        )
    return f'<nav class="navigation pagination" aria-label="{attr(theme.labels["page"])}">{"".join(parts)}</nav>'


def listing_page(
    theme: Theme,
    *,
    title: str,
    description: str,
    items: Sequence[ArticleFixture],
    page: int,
    pages: int,
    url_for,
    body_class: str,
    feed_url: str | None,
    featured: ArticleFixture | None = None,
) -> str:
    """Category, tag and author archives; `featured` is linked through its old URL."""
    links, labels = theme.links, theme.labels
    canonical = url_for(page)
    head = [
        f'<link rel="canonical" href="{attr(canonical)}">\n',
        '<meta name="robots" content="index, follow">\n',
        f'<meta property="og:locale" content="{OG_LOCALE[theme.lang]}">\n',
        '<meta property="og:type" content="website">\n',
        f'<meta property="og:title" content="{attr(title)}">\n',
    ]
    if page > 1:
        head.append(f'<link rel="prev" href="{attr(url_for(page - 1))}">\n')
    if page < pages:
        head.append(f'<link rel="next" href="{attr(url_for(page + 1))}">\n')
    if feed_url:
        head.append(
            f'<link rel="alternate" type="application/rss+xml" title="{attr(title)}" '
            f'href="{attr(feed_url)}">\n'
        )
    aside = ""
    if featured is not None:
        aside = (
            f'<aside class="sidebar"><section class="most-read"><h2>{esc(labels["archive"])}</h2>'
            f"{card(theme, featured, old_form=True, heading='h4')}</section></aside>"
        )
    heading = title + (f" - {labels['page']} {page}" if page > 1 else "")
    main = (
        '<main id="main" class="main archive">\n'
        f'<nav class="breadcrumb" aria-label="breadcrumb"><ol><li><a href="{attr(links.home())}">'
        f'{esc(labels["home"])}</a></li><li aria-current="page">{esc(title)}</li></ol></nav>\n'
        f'<header class="archive__header container"><h1 class="archive__title">{esc(heading)}</h1>'
        f'<div class="archive__description"><p>{esc(description)}</p></div></header>\n'
        f'<div class="archive__body container"><div class="archive__list">{card_list(theme, items, heading="h2")}</div>'
        f"{aside}</div>\n{_pagination(theme, page, pages, url_for)}\n</main>"
    )
    return theme.document(
        title=f"{heading} - LifeGate", head="".join(head), body_class=body_class, main=main
    )


def home_page(
    theme: Theme,
    *,
    latest: Sequence[ArticleFixture],
    sections: Sequence[tuple[str, str, Sequence[ArticleFixture]]],
    archive: Sequence[ArticleFixture],
    service_links: Sequence[tuple[str, str]],
    alternates: Sequence[tuple[str, str]] = (),
    archive_old_form: bool = False,
) -> str:
    """Front page; `archive_old_form` links the archive box through pre-2020 URLs."""
    links, labels = theme.links, theme.labels
    head = [
        f'<meta name="description" content="{attr(labels["tagline"])}">\n',
        f'<link rel="canonical" href="{attr(links.home())}">\n',
        f'<meta property="og:locale" content="{OG_LOCALE[theme.lang]}">\n',
        '<meta property="og:type" content="website">\n',
        '<meta property="og:title" content="LifeGate">\n',
    ]
    head += [
        f'<link rel="alternate" hreflang="{lang}" href="{attr(href)}">\n'
        for lang, href in alternates
    ]
    hero = card(theme, latest[0], heading="h2") if latest else ""
    blocks = "".join(
        f'<section class="home__section"><h2><a href="{attr(links.category(slug))}">{esc(label)}</a>'
        f'</h2><div class="home__cards">{card_list(theme, items)}</div></section>'
        for slug, label, items in sections
        if items
    )
    archive_html = "".join(card(theme, a, old_form=archive_old_form, heading="h4") for a in archive)
    service = "".join(
        f'<li><a href="{attr(links.to(path))}">{esc(text)}</a></li>' for path, text in service_links
    )
    main = (
        '<main id="main" class="main home">\n'
        f'<h1 class="screen-reader-text">LifeGate \u2013 {esc(labels["tagline"])}</h1>\n'
        f'<section class="home__hero container">{hero}</section>\n'
        f'<section class="home__latest container"><h2>{esc(labels["latest"])}</h2>'
        f'<div class="home__cards">{card_list(theme, latest[1:])}</div></section>\n'
        f'<div class="container">{blocks}</div>\n'
        f'<section class="home__archive container"><h2>{esc(labels["archive"])}</h2>{archive_html}</section>\n'
        f'<section class="home__service container"><h2>{esc(labels["service"])}</h2><ul>{service}</ul></section>\n'
        "</main>"
    )
    return theme.document(
        title=f"LifeGate - {labels['tagline']}",
        head="".join(head),
        body_class="home blog wp-embed-responsive",
        main=main,
    )


def static_page(
    theme: Theme, path: str, title: str, paragraphs: Sequence[str], page_id: int
) -> str:
    url = theme.links.to(path)
    body = "".join(f"<p>{esc(p)}</p>" for p in paragraphs)
    main = (
        f'<main id="main" class="main page"><div class="container"><article id="post-{page_id}" '
        f'class="page type-page status-publish"><header><h1 class="page__title">{esc(title)}</h1>'
        f'</header><div class="page__content editorial">{body}</div></article></div></main>'
    )
    return theme.document(
        title=f"{title} - LifeGate",
        head=f'<link rel="canonical" href="{attr(url)}">\n',
        body_class=f"page-template-default page page-id-{page_id}",
        main=main,
    )


def error_page(theme: Theme, status: int, latest: Sequence[ArticleFixture]) -> str:
    labels = theme.labels
    title, text = (
        (labels["gone"], labels["gone_text"])
        if status == 410
        else (labels["not_found"], labels["not_found_text"])
    )
    main = (
        f'<main id="main" class="main error404"><div class="container"><h1 class="page__title">'
        f"{esc(title)}</h1><p>{esc(text)}</p>"
        f'<form class="search-form" role="search" action="{attr(theme.links.home())}" method="get">'
        f'<input type="search" name="s" placeholder="{attr(labels["search"])}"></form>'
        f'<section class="home__latest"><h2>{esc(labels["latest"])}</h2>'
        f'<div class="home__cards">{card_list(theme, latest)}</div></section></div></main>'
    )
    return theme.document(
        title=f"{title} - LifeGate",
        head='<meta name="robots" content="noindex, follow">\n',
        body_class="error404 wp-embed-responsive",
        main=main,
    )


def small_article_page(
    theme: Theme, path: str, title: str, text: str, body_class: str, robots: str = "index, follow"
) -> str:
    """A minimal single-post page: the flaky fault's recovery page and editorial previews."""
    main = (
        f'<main id="main" class="main"><div class="single container"><article class="single__article">'
        f'<header class="single__header"><div class="single__title"><h1>{esc(title)}</h1></div></header>'
        f'<div class="post__content editorial"><p>{esc(text)}</p></div></article></div></main>'
    )
    return theme.document(
        title=f"{title} - LifeGate",
        head=(
            f'<link rel="canonical" href="{attr(theme.links.to(path))}">\n'
            f'<meta name="robots" content="{attr(robots)}">\n'
        ),
        body_class=body_class,
        main=main,
    )


DATABASE_ERROR_PAGE = (
    '<!DOCTYPE html>\n<html lang="it-IT">\n<head>\n<meta charset="UTF-8">\n'
    '<title>Errore del database</title>\n</head>\n<body id="error-page">\n'
    '<div class="wp-die-message"><h1>Errore nello stabilire una connessione al database</h1>'
    "</div>\n</body>\n</html>\n"
)
