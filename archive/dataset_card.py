"""The dataset card (``README.md``) of a release, in the Hugging Face format, from its manifest alone.

YAML front matter (configs per language and per site, licences, languages, task categories), then
what is in the release, how it was made, licences with the attribution they require, and citation.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from archive.dataset import ReleaseManifest

# Licence names as pages state them -> Hugging Face licence identifiers.
HF_LICENCES = {
    "CC BY-NC-ND 4.0": "cc-by-nc-nd-4.0",
    "CC-BY-NC-ND": "cc-by-nc-nd-4.0",
    "CC BY-SA 4.0": "cc-by-sa-4.0",
    "CC-BY-SA": "cc-by-sa-4.0",
    "CC BY 4.0": "cc-by-4.0",
}
LICENCE_TERMS = {
    "cc-by-nc-nd-4.0": (
        "https://creativecommons.org/licenses/by-nc-nd/4.0/",
        (
            "non-commercial use only; no adapted versions may be shared; credit the "
            "author and the publisher, link the article and the licence"
        ),
    ),
    "cc-by-sa-4.0": (
        "https://creativecommons.org/licenses/by-sa/4.0/",
        (
            "credit the author and the source, link the licence, say if you changed the "
            "text, and share adaptations under the same licence"
        ),
    ),
    "cc-by-4.0": (
        "https://creativecommons.org/licenses/by/4.0/",
        "credit the author and the source, link the licence, say if you changed it",
    ),
}


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if rows < limit:
            return label
    return "10M<n<100M"


def _config(name: str, pattern: str, default: bool = False) -> list[str]:
    lines = [f"- config_name: {_q(name)}"]
    if default:
        lines.append("  default: true")
    return [*lines, "  data_files:", "  - split: train", f"    path: {_q(pattern)}"]


def _dtype(arrow_type: pa.DataType) -> str:
    """The Hugging Face ``Value`` dtype of a pyarrow type."""
    if pa.types.is_timestamp(arrow_type):
        return f"timestamp[{arrow_type.unit}" + (f", tz={arrow_type.tz}]" if arrow_type.tz else "]")
    names = {pa.float64(): "float64", pa.float32(): "float32", pa.bool_(): "bool"}
    return names.get(arrow_type, str(arrow_type))


def _feature(name: str | None, arrow_type: pa.DataType, indent: str) -> list[str]:
    """One feature in the card's YAML (``datasets.Features`` YAML form)."""
    head = f"{indent}- name: {_q(name)}" if name is not None else None
    inner = indent + "  "
    if pa.types.is_list(arrow_type):
        item = arrow_type.value_type
        body = (
            [f"{inner}list:", *_struct_fields(item, inner)]
            if pa.types.is_struct(item)
            else [f"{inner}list: {_dtype(item)}"]
        )
    elif pa.types.is_struct(arrow_type):
        body = [f"{inner}struct:", *_struct_fields(arrow_type, inner)]
    else:
        body = [f"{inner}dtype: {_q(_dtype(arrow_type))}"]
    return [head, *body] if head else body


def _struct_fields(struct: pa.StructType, indent: str) -> list[str]:
    return [line for f in struct for line in _feature(f.name, f.type, indent)]


def features_yaml(schema: pa.Schema, indent: str = "  ") -> list[str]:
    """Every column of ``schema`` as ``dataset_info.features`` entries."""
    return [line for f in schema for line in _feature(f.name, f.type, indent)]


def _configs(manifest: ReleaseManifest, root: str, suffix: str) -> list[tuple[str, str]]:
    """(config name, data files pattern): everything, each language, each site."""
    counts = manifest.counts
    configs = [("default", f"{root}*/*/*{suffix}")]
    configs += [(lang, f"{root}*/{lang}/*{suffix}") for lang in counts.get("by_language", {})]
    configs += [
        (site, f"{root}{_site_dir(manifest, site)}/*/*{suffix}")
        for site in counts.get("by_site", {})
    ]
    return configs


def _loading_yaml(configs: list[tuple[str, str]], schema: pa.Schema) -> list[str]:
    """``configs`` and, for each of them, ``dataset_info`` with every column's type: loaders take
    the types from here instead of guessing them from the first rows."""
    lines = ["configs:"]
    for name, pattern in configs:
        lines += _config(name, pattern, default=name == "default")
    lines.append("dataset_info:")
    for name, _ in configs:
        lines += [f"- config_name: {_q(name)}", "  features:", *features_yaml(schema, "  ")]
    return lines


def front_matter(manifest: ReleaseManifest, schema: pa.Schema) -> str:
    counts = manifest.counts
    languages = [lang for lang in counts.get("by_language", {}) if lang != "und"]
    licences = sorted(
        {
            HF_LICENCES.get(name, "other")
            for per_site in counts.get("licences", {}).values()
            for name in per_site
        }
    )
    lines = [
        "---",
        f"pretty_name: {_q('LifeGate clean text ' + manifest.name)}",
        "license:",
        *[f"- {lic}" for lic in licences],
        "license_name: lifegate-archive-mixed",
        "license_link: README.md",
        "language:",
        *[f"- {lang}" for lang in languages],
        "multilinguality: multilingual" if len(languages) > 1 else "multilinguality: monolingual",
        "task_categories:",
        "- text-generation",
        "- text-classification",
        "task_ids:",
        "- language-modeling",
        "size_categories:",
        f"- {_size_category(manifest.rows)}",
        "source_datasets:",
        "- original",
        "tags:",
        "- news",
        "- environment",
        "- web-archive",
        "- warc",
        *_loading_yaml(_configs(manifest, "data/", ".parquet"), schema),
    ]
    return "\n".join([*lines, "---", ""])


def render_jsonl_card(manifest: ReleaseManifest, schema: pa.Schema) -> str:
    """``jsonl/README.md``: the JSON Lines copy's own configs, with the same column types.

    JSON carries no types: a loader that guesses them from a shard whose rows all have empty
    lists or no date would type those columns as null and fail on the next shard.
    """
    lines = [
        "---",
        f"pretty_name: {_q('LifeGate clean text ' + manifest.name + ' (JSON Lines)')}",
        *_loading_yaml(_configs(manifest, "", ".jsonl.gz"), schema),
        "---",
        "",
        f"# LifeGate clean text, release {manifest.name}: JSON Lines",
        "",
        (
            "The rows of `../data/` (see `../README.md`), one JSON object per line, gzip-compressed. "
            "Timestamps are `YYYY-MM-DDTHH:MM:SSZ` strings (UTC); `*_offset` columns keep the page's zone."
        ),
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("{manifest.name}/jsonl", "it", split="train")  # types from this card',
        "```",
        "",
    ]
    return "\n".join(lines)


def _site_dir(manifest: ReleaseManifest, site: str) -> str:
    for entry in manifest.files:
        if entry.site == site and entry.kind == "parquet":
            return entry.path.split("/")[1]
    return site


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "0 %"


def render_card(manifest: ReleaseManifest, schema: pa.Schema) -> str:
    """The whole README.md of a release; ``schema`` is its rows' (``dataset_info.features``)."""
    c, d, sel = manifest.counts, manifest.dedup, manifest.counts.get("selection", {})
    rows = manifest.rows
    languages = list(c.get("by_language", {}))
    by_site_language = c.get("by_site_language", {})
    parts = [
        front_matter(manifest, schema),
        f"# LifeGate clean text, release {manifest.name}",
        "",
        (
            "Clean article text of [lifegate.it](https://www.lifegate.it) (Italian environmental news), "
            "its English sister site lifegate.com, and the republications that credit them, extracted "
            "from a WARC web archive. Every row points at the exact WARC record it came from."
        ),
        "",
        "## What is in it",
        "",
        (
            f"- **{rows:,} articles**, {c.get('words', 0):,} words, in {len(languages)} languages "
            f"({', '.join(languages)}) from {len(c.get('by_site', {}))} sites."
        ),
        f"- Built {manifest.created} from {len(manifest.sources.get('crawls', []))} crawls; "
        + (f"previous release: `{manifest.previous}`." if manifest.previous else "first release."),
        (
            f"- Changes since the previous release: {manifest.delta.get('added', 0)} added, "
            f"{manifest.delta.get('changed', 0)} changed, {manifest.delta.get('removed', 0)} removed "
            "(`delta.jsonl`)."
        ),
        "",
        _table(
            ("site", *languages, "total"),
            [
                (site, *(per.get(lang, 0) for lang in languages), sum(per.values()))
                for site, per in by_site_language.items()
            ],
        ),
        "",
        "Articles by month (publication date; capture date when the page gives none):",
        "",
        _table(("month", "articles"), list(c.get("by_month", {}).items())),
        "",
        "## Loading",
        "",
        "```python",
        'import pyarrow.parquet as pq            # or pandas.read_parquet("data")',
        'table = pq.read_table("data")',
        "import duckdb",
        "duckdb.sql(\"select site, language, count(*) from 'data/*/*/*.parquet' group by all\")",
        "from datasets import load_dataset",
        'ds = load_dataset("parquet", data_files="data/*/it/*.parquet", split="train")',
        f'ds = load_dataset("{manifest.name}", "it", split="train")  # this folder: its configs',
        f'ds = load_dataset("{manifest.name}/jsonl", "it", split="train")  # the JSON Lines copy',
        "```",
        "",
        (
            "`lifegate-archive download "
            f"{manifest.name}` fetches the release and checks every file against `manifest.json`."
        ),
        "",
        "## Files",
        "",
        (
            "- `data/<site>/<language>/part-NNNNN.parquet`: the rows, zstd-compressed, shards of at most "
            f"{manifest.options.get('max_shard_bytes', 0) // 1_000_000} MB, rows in `id` order;"
        ),
        (
            "- `jsonl/<site>/<language>/part-NNNNN.jsonl.gz`: the same rows as JSON lines, with "
            "their own card (`jsonl/README.md`) that gives loaders the column types;"
        ),
        (
            "- `delta.jsonl`: one line per row `added`, `changed` or `removed` since the previous release "
            "(`id`, `change`, the `file` that now holds it, or the `reason` it left: `duplicate`, "
            "`taken-down`, `filtered`), so an update needs only the shards it names;"
        ),
        "- `manifest.json`: every file with its size, SHA-256 and row count; written last.",
        "",
        (
            "Each row: `id` (sha256 of the canonical URL, first 32 hex digits; stable across crawls), "
            "`url`, `canonical_url`, `site`, `language` (detected by py3langid), `declared_language`, "
            "`title`, `kicker`, `standfirst`, `authors`, `date_published`, `date_modified` (UTC "
            "timestamps; `date_published_offset` and `date_modified_offset` keep the zone the page "
            "gave, `+HH:MM`), "
            "`tags`, `license`, `attribution`, `translation_of`, `images` (url, caption, credit), "
            "`text` (one paragraph per line), `word_count`, `text_sha256`, `content_sha256`, "
            "`crawl_id`, `fetched` (UTC timestamp), `provenance` (`warc_key`, `offset`, `length`, `record_id`, "
            "`payload_digest`), `extractor` (`version`, `trafilatura_version`, `config_hash`), "
            "`flags`, `duplicates` (the copies this row stands for)."
        ),
        "",
        (
            "Provenance: a byte-range read of `warc_key` at `offset` for `length` bytes is one gzip "
            "member holding the exact WARC response record (`WARC-Record-ID` = `record_id`)."
        ),
        "",
        "## Deduplication",
        "",
        (
            f"- {sel.get('captures', 0):,} captures of {sel.get('articles', 0):,} articles; the newest "
            f"capture of each article wins ({sel.get('superseded_captures', 0):,} older captures dropped)."
        ),
        (
            f"- Exact duplicates (same text): {d.get('exact_duplicates', 0)} "
            f"({_pct(d.get('exact_duplicates', 0), d.get('input_rows', 0))})."
        ),
        (
            f"- Near duplicates (MinHash LSH, word {d.get('shingle_words')}-grams, {d.get('num_perm')} "
            f"permutations, Jaccard ≥ {d.get('threshold')}, within one language): "
            f"{d.get('near_duplicates', 0)} ({_pct(d.get('near_duplicates', 0), d.get('input_rows', 0))})."
        ),
        (
            "- The kept copy is the publisher's original, then the newest, then the longest; it lists "
            "the copies it stands for in `duplicates`. Translations are never duplicates."
        ),
        (
            f"- Left out: {sel.get('taken_down', 0)} taken down, {sel.get('filtered_language', 0)} by "
            f"language, {sel.get('filtered_site', 0)} by site, {sel.get('filtered_since', 0)} by date."
        ),
        "",
        "## Extraction",
        "",
        _table(("extractor", "rows"), list(c.get("extractors", {}).items())),
        "",
        _reextract_line(manifest),
        "",
        "## Licences and attribution",
        "",
        (
            "The text belongs to its authors and publishers; this dataset redistributes it under the "
            "licence each page states. Every row names its licence (`license`) and carries the "
            "attribution line that licence requires (`attribution`: title, author, source, licence, "
            "and the original for translations); reproduce it with any text you share."
        ),
        "",
        _table(
            ("site", "licence", "rows"),
            [
                (site, name, n)
                for site, per in c.get("licences", {}).items()
                for name, n in per.items()
            ],
        ),
        "",
        *_licence_notes(c.get("licences", {})),
        "",
        (
            "Takedown: the archive keeps a takedown list (URLs or ids); every release leaves those "
            "articles out and lists them as `removed` in its delta. Ask the archive's operator to add one."
        ),
        "",
        "## How it was made",
        "",
        (
            "Scrapy crawled the sites politely (robots.txt, throttling) and wrote every HTTP exchange to "
            "WARC 1.1 files; trafilatura with per-site rules extracted each article's text; this release "
            "read the committed crawls, kept the newest capture of each article, applied the takedown "
            "list and filters, deduplicated, and wrote the shards. Software: "
        )
        + ", ".join(f"{k} {v}" for k, v in sorted(manifest.software.items()))
        + ".",
        "",
        "## Citation",
        "",
        "```bibtex",
        f"@misc{{lifegate_clean_text_{manifest.name.replace('.', '_').replace('-', '_')},",
        "  title  = {LifeGate clean text, release " + manifest.name + "},",
        "  author = {{lifegate-archive}},",
        f"  year   = {{{manifest.created[:4]}}},",
        "  note   = {Articles by LifeGate and republishers; see each row's attribution},",
        "}",
        "```",
        "",
    ]
    return "\n".join(parts)


def _reextract_line(manifest: ReleaseManifest) -> str:
    re_crawls = manifest.sources.get("reextracted") or []
    if not re_crawls:
        return "Text as extracted during each crawl."
    config = str(manifest.sources.get("reextract_config_hash"))[:12]
    return (
        f"Text re-extracted from the WARC files with extractor configuration `{config}` for "
        f"{len(re_crawls)} of {len(manifest.sources.get('crawls', []))} crawls."
    )


def _licence_notes(licences: dict[str, dict[str, int]]) -> list[str]:
    notes = []
    names = sorted({name for per in licences.values() for name in per})
    for name in names:
        terms = LICENCE_TERMS.get(HF_LICENCES.get(name, ""))
        if terms:
            notes.append(f"- **{name}** ({terms[0]}): {terms[1]}.")
        else:
            notes.append(
                f"- **{name}**: no licence stated on the page; the publisher's terms apply "
                "and reuse beyond research needs their permission."
            )
    return notes
