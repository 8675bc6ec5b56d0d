"""Extraction quality and speed on public development sets (run by hand).

    python3 bench/extraction_quality.py [ZYTE_DIR] [--newspaper DIR] [--rounds N] [--limit N]

ZYTE_DIR is the Zyte (Scrapinghub) article-extraction benchmark folder: ground-truth.json plus
html/<id>.html.gz, 181 mostly English news pages. Every set is split in two fixed halves by the
first byte of sha256(item id): half A is the one extraction choices are tuned on, half B is held
back and only reported. ``--newspaper`` is the second set, of another make-up (23 pages in 9
languages: Arabic, Burmese, Chinese, Japanese, Korean, Thai, Latvian, Spanish, English): the
``tests/data`` folder of the newspaper4k source distribution (html/<name>.html and
txt/<name>.txt, URLs from metadata/<name>.json), fetched with
``pip download --no-deps --no-binary :all: newspaper4k==0.9.6``. Its expected texts are
newspaper's own reviewed outputs, not independent annotations: it checks that nothing is lost
on scripts and layouts the Zyte pages do not have.

Each set is also scored with its pages' ``class`` and ``id`` attributes removed ("markup
stripped"): the same articles in markup nobody tuned on, the way an unknown republisher's theme
or a redesign looks to rules and to trafilatura's class-based heuristics. Snippets and ground
truth stay those of the original pages.

Scoring is the Zyte benchmark's: word 4-gram shingles, per-document P/R normalised by
TP+FP+FN, macro averages, F1 from the means. Next to it, snippet P/R/F1 as trafilatura's own
evaluation counts them (``snippets``: "with" snippets of the expected text that must be in the
output, "without" snippets of the boilerplate around it that must not). CPU is process time per
page, median of the rounds.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

_TOKEN = re.compile(r"\w+")


def shingles(text: str) -> Counter:
    """Multiset of word 4-grams (case kept, punctuation dropped); shorter texts give one shingle."""
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < 4:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + 4]) for i in range(len(tokens) - 3))


def document_scores(predicted: str, truth: str) -> tuple[float | None, float | None]:
    """Per-document (precision, recall); None where the README leaves the document out."""
    pred, true = shingles(predicted), shingles(truth)
    tp = sum((pred & true).values())
    fp = sum(pred.values()) - tp
    fn = sum(true.values()) - tp
    if tp + fp + fn == 0:
        return None, None
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return precision, recall


def score(predictions: Mapping[str, str], truth: Mapping[str, str]) -> dict[str, float]:
    """Corpus precision, recall (macro means), F1 (from the means) and exact-token accuracy."""
    precisions, recalls, exact = [], [], 0
    for key, true_text in truth.items():
        predicted = predictions.get(key) or ""
        precision, recall = document_scores(predicted, true_text)
        if precision is not None:
            precisions.append(precision)
        if recall is not None:
            recalls.append(recall)
        exact += _TOKEN.findall(predicted) == _TOKEN.findall(true_text)
    p = statistics.fmean(precisions) if precisions else 0.0
    r = statistics.fmean(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1, "accuracy": exact / max(1, len(truth))}


# --- snippets: the metric of trafilatura's own evaluation ---------------------------------------
#
# Its corpus annotates each page with a few "with" snippets (decisive parts of the main text,
# mostly its beginning and end) and a few "without" snippets (boilerplate next to it); a snippet
# counts as found when the output contains it verbatim. Here the snippets are derived from the
# ground truth: the first, last and some middle sentences of the expected text as "with"; the
# page's visible text blocks nearest to the article's start and end (and inside it) that the
# expected text does not hold as "without". Whitespace is collapsed on both sides.

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[\u3002\uff01\uff1f\u061f\u0964\u104b])|\n+")
SNIPPETS_PER_KIND = 6
SNIPPET_CHARS = 100


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _snippet(text: str) -> str:
    """At most SNIPPET_CHARS of ``text``, cut at a space where there is one."""
    if len(text) <= SNIPPET_CHARS:
        return text
    cut = text[:SNIPPET_CHARS]
    return cut[: cut.rfind(" ")] if " " in cut[SNIPPET_CHARS // 2 :] else cut


def _spread(items: list[str], count: int) -> list[str]:
    """``count`` of ``items``: the first two, the last two, the rest evenly between."""
    if len(items) <= count:
        return items
    middle = items[2:-2]
    step = len(middle) / (count - 4 + 1)
    return items[:2] + [middle[int(step * (i + 1))] for i in range(count - 4)] + items[-2:]


def snippets(page: bytes, truth: str) -> tuple[list[str], list[str]]:
    """("with", "without") snippets of one page, derived from its expected text."""
    from lxml import etree

    from pipelines.decoding import decode, parse
    from pipelines.text_blocks import HTML, walk

    expected = _collapse(truth)
    sentences = [_collapse(x) for x in _SENTENCE_END.split(truth or "")]
    sentences = [x for x in sentences if len(x) >= 15 or (x and not x.isascii() and len(x) >= 6)]
    with_ = [_snippet(x) for x in _spread(sentences, SNIPPETS_PER_KIND)]
    try:
        tree = parse(decode(page, None, []), [])
    except (etree.ParserError, etree.XMLSyntaxError):
        return with_, []
    # The headline and the page title are in the article for some annotators and not for others.
    ambiguous = {_collapse(el.text_content()) for el in tree.iter("title", "h1")}
    body = tree.find("body")
    lines = [_collapse(text) for text, _ in walk(body if body is not None else tree, HTML)]
    inside = [i for i, line in enumerate(lines) if len(line) >= 15 and line in expected]
    if not inside:
        return with_, []
    first, last = inside[0], inside[-1]

    def boilerplate(line: str) -> bool:
        return (
            len(line.split()) >= 3
            and len(line) >= 15
            and line not in ambiguous
            and _snippet(line) not in expected
        )

    before = [x for x in lines[:first] if boilerplate(x)][-3:]
    after = [x for x in lines[last + 1 :] if boilerplate(x)][:3]
    within = [x for x in lines[first:last] if boilerplate(x)]
    within = _spread(within, 2) if len(within) > 2 else within
    without = list(dict.fromkeys(_snippet(x) for x in before + within + after))
    return with_, without


def snippet_score(
    predictions: Mapping[str, str], cases: Mapping[str, tuple[list[str], list[str]]]
) -> dict[str, float]:
    """Precision, recall and F1 over all snippets, as trafilatura's evaluation counts them."""
    tp = fn = fp = 0
    for key, (with_, without) in cases.items():
        output = _collapse(predictions.get(key) or "")
        found = sum(x in output for x in with_)
        tp, fn = tp + found, fn + len(with_) - found
        fp += sum(x in output for x in without)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def load(
    data_dir: Path, limit: int | None = None
) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(pages, urls, ground-truth bodies) of the Zyte benchmark, keyed by item id."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit] if limit else sorted(truth)
    pages = {k: gzip.decompress((data_dir / "html" / f"{k}.html.gz").read_bytes()) for k in keys}
    return pages, {k: truth[k]["url"] for k in keys}, {k: truth[k]["articleBody"] for k in keys}


def load_newspaper(
    data_dir: Path, limit: int | None = None
) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(pages, urls, expected texts) of newspaper4k's test pages that have an expected text."""
    keys = sorted(
        p.stem
        for p in (data_dir / "html").glob("*.html")
        if (data_dir / "txt" / f"{p.stem}.txt").exists()
    )
    keys = keys[:limit] if limit else keys
    pages, urls, truth = {}, {}, {}
    for key in keys:
        pages[key] = (data_dir / "html" / f"{key}.html").read_bytes()
        truth[key] = (data_dir / "txt" / f"{key}.txt").read_text(encoding="utf-8")
        meta = data_dir / "metadata" / f"{key}.json"
        url = json.loads(meta.read_text(encoding="utf-8")).get("url") if meta.exists() else None
        urls[key] = url or f"https://example.com/{key}"
    return pages, urls, truth


_CLASS_AND_ID = re.compile(rb"""\s(?:class|id)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)


def strip_markup(page: bytes) -> bytes:
    """``page`` without its ``class`` and ``id`` attributes."""
    return _CLASS_AND_ID.sub(b"", page)


def half(key: str) -> str:
    """The fixed half of an item of any set: "A" (tuned on) or "B" (held back)."""
    return "A" if hashlib.sha256(key.encode("utf-8")).digest()[0] % 2 == 0 else "B"


def ours(**config) -> Callable[[bytes, str], str]:
    from pipelines.extractor import ArticleExtractor, ExtractorConfig

    # No per-document alarm here: the benchmark measures extraction, not the guard.
    extractor = ArticleExtractor(ExtractorConfig(timeout_seconds=None, **config))

    def run(page: bytes, url: str) -> str:
        record = extractor.extract(page, url).record
        return record["text"] if record else ""

    return run


def trafilatura_default() -> Callable[[bytes, str], str]:
    import trafilatura

    def run(page: bytes, url: str) -> str:
        return trafilatura.extract(page, url=url) or ""

    return run


def trafilatura_same_options() -> Callable[[bytes, str], str]:
    import trafilatura

    # The trafilatura stage as the extractor configures it: the extractor's own cost is the
    # difference to this one.
    def run(page: bytes, url: str) -> str:
        return trafilatura.extract(page, url=url, fast=True, include_comments=False) or ""

    return run


def measure(
    runners: dict[str, Callable[[bytes, str], str]],
    pages: dict[str, bytes],
    urls: dict[str, str],
    rounds: int,
) -> tuple[dict[str, dict[str, str]], dict[str, float]]:
    """Predictions of each runner and its median CPU ms per page; runners interleave each round."""
    predictions: dict[str, dict[str, str]] = {}
    timings: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: imports, lazily loaded models, compiled XPath caches
        run(next(iter(pages.values())), next(iter(urls.values())))
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.process_time()
            out = {k: run(page, urls[k]) for k, page in pages.items()}
            timings[name].append(time.process_time() - start)
            predictions[name] = out
    return predictions, {n: 1000 * statistics.median(t) / len(pages) for n, t in timings.items()}


def report(
    title: str,
    runners: list[str],
    predictions,
    cpu,
    truth: Mapping[str, str],
    cases: Mapping[str, tuple[list[str], list[str]]],
) -> None:
    """One line per runner: shingle F1/P/R and exact accuracy, then snippet F1/P/R, then CPU."""
    count = sum(len(w) + len(o) for w, o in cases.values())
    print(f"\n{title}: {len(truth)} pages, {count} snippets")
    print(
        f"{'extractor':48} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6} "
        f"{'snipF1':>6} {'sprec':>6} {'srec':>6} {'CPU ms/page':>12}"
    )
    for name in runners:
        s = score({k: predictions[name][k] for k in truth}, truth)
        t = snippet_score(predictions[name], cases)
        figures = (s["f1"], s["precision"], s["recall"], s["accuracy"])
        figures += (t["f1"], t["precision"], t["recall"])
        cost = f"{cpu[name]:12.1f}" if cpu is not None else ""
        print(f"{name:48} " + " ".join(f"{x:6.3f}" for x in figures) + f" {cost}")


def runners() -> dict[str, Callable[[bytes, str], str]]:
    return {
        "lifegate-archive": ours(),
        "lifegate-archive (fast only: no fallbacks, no chunks)": ours(
            lead_fallback=False, body_chunks=False, short_text_fallback=False
        ),
        "lifegate-archive (trafilatura fallbacks always)": ours(trafilatura_fast=False),
        "trafilatura.extract (defaults)": trafilatura_default(),
        "trafilatura.extract (fast, no comments)": trafilatura_same_options(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", help="the Zyte benchmark folder (ground-truth.json, html/)"
    )
    parser.add_argument(
        "--newspaper", help="newspaper4k's tests/data folder (html/, txt/, metadata/)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed passes per extractor (median kept)"
    )
    parser.add_argument("--limit", type=int, help="only the first N items of each set (sorted)")
    args = parser.parse_args(argv)
    sets = []
    if args.data:
        if not (Path(args.data) / "ground-truth.json").exists():
            print(f"no benchmark data in {args.data}", file=sys.stderr)
            return 2
        sets.append(("Zyte", load(Path(args.data), args.limit)))
    if args.newspaper:
        if not (Path(args.newspaper) / "txt").is_dir():
            print(f"no newspaper4k test data in {args.newspaper}", file=sys.stderr)
            return 2
        sets.append(("newspaper4k", load_newspaper(Path(args.newspaper), args.limit)))
    if not sets:
        parser.error("give the Zyte folder, --newspaper DIR, or both")
    print(f"median of {args.rounds} rounds; CPU is process time")
    for name, (pages, urls, truth) in sets:
        cases = {k: snippets(pages[k], truth[k]) for k in truth}
        stripped = {k: strip_markup(page) for k, page in pages.items()}
        for variant, html in ((name, pages), (f"{name}, markup stripped", stripped)):
            extractors = runners()
            predictions, cpu = measure(extractors, html, urls, args.rounds)
            megabytes = sum(map(len, html.values())) / 1e6
            report(
                f"{variant} ({megabytes:.1f} MB)", list(extractors), predictions, cpu, truth, cases
            )
            for which in "AB":
                part = {k: v for k, v in truth.items() if half(k) == which}
                label = "tuned" if which == "A" else "held back"
                title = f"{variant} half {which} ({label})"
                subset = {k: cases[k] for k in part}
                report(title, list(extractors), predictions, None, part, subset)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
