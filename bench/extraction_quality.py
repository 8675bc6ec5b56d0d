"""Extraction quality and speed on the Zyte article-extraction benchmark (run by hand).

    python3 bench/extraction_quality.py DATA_DIR [--rounds N] [--limit N]

DATA_DIR is the Zyte article-extraction benchmark folder: it holds ground-truth.json plus html/<id>.html.gz. Scoring follows that folder's README: word
4-gram shingles, per-document P/R normalised by TP+FP+FN, macro averages, F1 from the means.
"""

from __future__ import annotations

import argparse
import gzip
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


def load(
    data_dir: Path, limit: int | None = None
) -> tuple[dict[str, bytes], dict[str, str], dict[str, str]]:
    """(pages, urls, ground-truth bodies) keyed by item id."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit] if limit else sorted(truth)
    pages = {k: gzip.decompress((data_dir / "html" / f"{k}.html.gz").read_bytes()) for k in keys}
    return pages, {k: truth[k]["url"] for k in keys}, {k: truth[k]["articleBody"] for k in keys}


def ours() -> Callable[[bytes, str], str]:
    from pipelines.extractor import ArticleExtractor, ExtractorConfig

    # No per-document alarm here: the benchmark measures extraction, not the guard.
    extractor = ArticleExtractor(ExtractorConfig(timeout_seconds=None))

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
    """Predictions of each runner and its median pages/s; runners are interleaved in every round."""
    predictions: dict[str, dict[str, str]] = {}
    timings: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: imports, lazily loaded models, compiled XPath caches
        run(next(iter(pages.values())), next(iter(urls.values())))
    for _ in range(rounds):
        for name, run in runners.items():
            start = time.perf_counter()
            out = {k: run(page, urls[k]) for k, page in pages.items()}
            timings[name].append(time.perf_counter() - start)
            predictions[name] = out
    return predictions, {name: len(pages) / statistics.median(t) for name, t in timings.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="benchmark folder: ground-truth.json and html/<id>.html.gz")
    parser.add_argument(
        "--rounds", type=int, default=3, help="timed passes per extractor (median kept)"
    )
    parser.add_argument("--limit", type=int, help="only the first N items (sorted by id)")
    args = parser.parse_args(argv)
    data = Path(args.data)
    if not (data / "ground-truth.json").exists():
        print(f"no benchmark data in {data}", file=sys.stderr)
        return 2
    pages, urls, truth = load(data, args.limit)
    runners = {
        "lifegate-archive": ours(),
        "trafilatura.extract (defaults)": trafilatura_default(),
        "trafilatura.extract (fast, no comments)": trafilatura_same_options(),
    }
    predictions, speed = measure(runners, pages, urls, args.rounds)
    megabytes = sum(map(len, pages.values())) / 1e6
    print(f"{len(pages)} pages, {megabytes:.1f} MB, median of {args.rounds} rounds\n")
    print(f"{'extractor':40} {'F1':>6} {'prec':>6} {'recall':>6} {'acc':>6} {'pages/s':>8}")
    for name in runners:
        s = score(predictions[name], truth)
        figures = (s["f1"], s["precision"], s["recall"], s["accuracy"])
        print(f"{name:40} " + " ".join(f"{x:6.3f}" for x in figures) + f" {speed[name]:8.1f}")
    mine = speed["lifegate-archive"]
    print()
    for name in list(runners)[1:]:
        print(f"time per page vs {name}: {100 * (speed[name] / mine - 1):+.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
