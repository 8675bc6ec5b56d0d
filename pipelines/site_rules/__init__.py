"""Site rules: where each site keeps title, kicker, body, licence and credit, and what boilerplate
looks like. Declarative data lives in ``rules``; ``page`` applies it to a parsed page.
"""

from __future__ import annotations

from pipelines.site_rules.page import (
    article_head,
    canonical_url,
    compile_lines,
    figures,
    find_credit,
    is_listing,
    iso_date,
    json_ld,
    language_code,
    license_name,
    match_host,
    match_markup,
    meta_tags,
    names,
    norm,
    prune,
    select,
    select_all,
    text_of,
)
from pipelines.site_rules.rules import (
    CREDIT_LINE,
    CREDIT_TEXT,
    GENERIC_PRUNE,
    LISTING_BODY_CLASSES,
    SITE_RULES,
    BoilerplateRules,
    SiteRule,
    rules_fingerprint,
)

__all__ = [
    "CREDIT_LINE",
    "CREDIT_TEXT",
    "GENERIC_PRUNE",
    "LISTING_BODY_CLASSES",
    "SITE_RULES",
    "BoilerplateRules",
    "SiteRule",
    "article_head",
    "canonical_url",
    "compile_lines",
    "figures",
    "find_credit",
    "is_listing",
    "iso_date",
    "json_ld",
    "language_code",
    "license_name",
    "match_host",
    "match_markup",
    "meta_tags",
    "names",
    "norm",
    "prune",
    "rules_fingerprint",
    "select",
    "select_all",
    "text_of",
]
