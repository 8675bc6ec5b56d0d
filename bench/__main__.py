"""``python -m bench``: the pipeline against its peers, side by side on one machine.

    python -m bench [--sizes 2000,10000] [--runs 3] [--quick] [--smoke]
                    [--extraction-data DIR] [--real-pages DIR] [--out docs/benchmarks]

Renders the fixture site with N articles into a static folder served by nginx on 127.0.0.1 (CPU 0)
(with ``--real-pages``, also a site of N real news pages: ``bench/real_site.py``),
then, in interleaved rounds: wget's WARC crawl, our WARC-only crawl at 1 and 8 connections and the
minimal Scrapy spider (each pinned to CPU 1), and the full pipeline (both cores, RSS sampled). Then
the parts alone (WARC writing, trafilatura, our extractor), extraction quality, and replay latency
when ``bench/replay_latency.py`` exists (``--replay-records``; against pywb when ``.pywb-venv`` or
``LIFEGATE_PYWB_VENV`` has it). Writes results.json and results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import crawls, report
from bench.nginx_server import NginxServer
from bench.real_site import render_real
from bench.static_site import render

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("wget", "ours-warc-c1", "ours-warc-c8", "scrapy-minimal", "pipeline")


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# The real pages name images, styles and scripts on their original hosts, which do not resolve here:
# resources stay off there, and wget (no --page-requisites) fetches none either.
REAL_SITE_SETTINGS = ("LIFEGATE_FETCH_RESOURCES=False",)


def _run_variant(variant: str, base: str, work: Path, server, memory: list,
                 settings: tuple[str, ...] = ()) -> dict:
    if variant == "wget":
        return crawls.wget(base, work / "wget", server)
    if variant == "scrapy-minimal":
        return crawls.minimal(base, server)
    if variant == "pipeline":
        result, measured = crawls.ours(base, work / "pipeline", server, extract=True,
                                       connections=8, pinned=False, sample=True, settings=settings)
        memory.append(crawls.memory(measured, result["responses"]))
        return result
    connections = int(variant.rsplit("c", 1)[1])
    result, _ = crawls.ours(base, work / variant, server, extract=False, connections=connections,
                            pinned=True, settings=settings)
    return result


def bench_size(articles: int, runs: int, variants: list[str], work: Path, port: int,
               parts_sample: int, real_pages: Path | None = None) -> dict:
    """Every variant over one site: the fixture copy, or the real-page site built from ``real_pages``."""
    if real_pages is None:
        site = render(work / f"site-{articles}", articles, port, say=say)
    else:
        site = render_real(work / f"real-{articles}", real_pages, articles, port, say=say)
    results: list[dict] = []
    memory: list[dict] = []
    with NginxServer(site, work / "nginx") as server:
        say(f"{articles} articles: served by {server.kind} at {site.base_url}")
        for n in range(1, runs + 1):
            for variant in variants:
                say(f"{articles} articles, round {n}/{runs}: {variant} ...")
                result = _run_variant(variant, site.base_url, work, server, memory,
                                      REAL_SITE_SETTINGS if real_pages is not None else ())
                result["round"] = n
                result["load_average"] = [round(x, 2) for x in os.getloadavg()]
                results.append(result)
                say(f"  {variant}: {result['responses']} responses in {result['wall_s']:.1f} s = "
                    f"{result['pages_per_s']} responses/s, {result['cpu_ms_per_page']} CPU ms/response"
                    + (f", {result['articles']} articles" if "articles" in result else ""))
        kind = server.kind
    parts = {}
    warc_dir = next((Path(r["warc_dir"]) for r in reversed(results) if r["variant"] == "ours-warc-c8"), None)
    if warc_dir is None:
        warc_dir = next((Path(r["warc_dir"]) for r in reversed(results) if "warc_dir" in r), None)
    if warc_dir is not None and "scrapy-minimal" in variants:
        say(f"{articles} articles: the parts alone (WARC writing, trafilatura, our extractor), CPU 1 ...")
        done = subprocess.run(["taskset", "-c", crawls.CRAWLER_CPU, sys.executable, "-m", "bench.parts",
                               str(warc_dir), "--sample", str(parts_sample), "--rounds", str(max(runs, 1))],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bench.parts failed: {done.stderr[-2000:]}")
        parts = json.loads(done.stdout.strip().splitlines()[-1])
    summary = report.summarise(results)
    pipeline_runs = [r for r in results if r["variant"] == "pipeline"]
    for r in results:
        r.pop("warc_dir", None)
    for sub in ["wget", "pipeline", *[v for v in variants if v.startswith("ours-")]]:
        shutil.rmtree(work / sub, ignore_errors=True)
    return {"site": site.as_dict(), "server": kind, "runs": results, "summary": summary, "parts": parts,
            "cpu_bound": report.cpu_bound(summary, parts, pipeline_runs), "memory": memory}


def side_benchmarks(args: argparse.Namespace) -> dict:
    """Extraction quality (bench/extraction_quality.py) and replay latency (bench/replay_latency.py)."""
    out: dict = {}
    data = Path(args.extraction_data) if args.extraction_data else None
    if data is not None and (data / "ground-truth.json").exists():
        say(f"extraction quality on {data} (CPU 1) ...")
        command = ["taskset", "-c", crawls.CRAWLER_CPU, sys.executable, "-m", "bench.extraction_quality",
                   str(data), "--rounds", str(args.runs)]
        if args.smoke:
            command += ["--limit", "5"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        out["extraction_quality"] = {"returncode": done.returncode, "output": done.stdout.strip(),
                                     "rows": _quality_rows(done.stdout)}
    else:
        out["extraction_quality"] = {"skipped": f"no ground-truth.json in {data or '(--extraction-data not given)'}"}
    if (ROOT / "bench" / "replay_latency.py").exists():
        say("replay latency (bench/replay_latency.py) ...")
        command = [sys.executable, "-m", "bench.replay_latency", "synthetic",
                   "--records", "2000" if args.smoke else args.replay_records, "--samples", "300",
                   "--rounds", "1" if args.smoke else "3", "--work", str(Path(args.work) / "replay")]
        wayback = Path(os.environ.get("LIFEGATE_PYWB_VENV", ROOT / ".pywb-venv")) / "bin" / "wayback"
        if wayback.exists():  # pywb side by side, on the same WARCs and index
            command += ["--pywb", str(wayback)]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        out["replay_latency"] = {"command": " ".join(command[1:]), "returncode": done.returncode,
                                 "output": done.stdout.strip()[-6000:], "stderr": done.stderr.strip()[-2000:]}
    else:
        out["replay_latency"] = {"skipped": "bench/replay_latency.py does not exist yet"}
    return out


def _quality_rows(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines():
        parts = line.rsplit(None, 5)
        if len(parts) == 6:
            try:
                numbers = [float(x) for x in parts[1:]]
            except ValueError:
                continue
            rows.append(dict(zip(("extractor", "f1", "precision", "recall", "accuracy", "pages_per_s"),
                                 [parts[0].strip(), *numbers], strict=True)))
    return rows


def rebuild(out: Path) -> int:
    """Recompute every derived figure of ``out/results.json`` from its raw runs and rewrite both files."""
    path = out / "results.json"
    if not path.exists():
        print(f"python -m bench: no {path} to rebuild", file=sys.stderr)
        return 2
    results = json.loads(path.read_text())
    for data in results["sizes"].values():
        data["summary"] = report.summarise(data["runs"])
        pipeline_runs = [r for r in data["runs"] if r["variant"] == "pipeline"]
        data["cpu_bound"] = report.cpu_bound(data["summary"], data.get("parts", {}), pipeline_runs)
    path.write_text(json.dumps(results, indent=1) + "\n")
    report.write_markdown(out / "results.md", results)
    print(report.markdown(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,10000", help="article counts, comma-separated")
    parser.add_argument("--runs", type=int, default=3, help="rounds per size (medians with min/max)")
    parser.add_argument("--quick", action="store_true", help="size 300, for development")
    parser.add_argument("--smoke", action="store_true", help="tiny size, 1 run, no side benchmarks")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"subset of {','.join(VARIANTS)}")
    parser.add_argument("--parts-sample", type=int, default=400, help="article pages for the parts")
    parser.add_argument("--extraction-data", default="",
                        help="the article-extraction benchmark folder (ground-truth.json, html/); without it extraction quality is skipped")
    parser.add_argument("--real-pages", default="",
                        help="the article-extraction benchmark folder: also crawl a site of its real pages at each size")
    parser.add_argument("--no-side", action="store_true", help="skip extraction quality and replay")
    parser.add_argument("--replay-records", default="10000",
                        help="synthetic archive sizes for replay latency, comma-separated (e.g. 10000,100000)")
    parser.add_argument("--work", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "lifegate-bench"),
                        help="scratch folder (rendered sites are cached here)")
    parser.add_argument("--port", type=int, default=8790, help="nginx port on 127.0.0.1")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks"), help="where results go")
    parser.add_argument("--report-only", action="store_true",
                        help="measure nothing: recompute summaries and results.md from results.json")
    parser.add_argument("--merge", action="store_true",
                        help="keep the other sizes (and side benchmarks) of an existing results.json")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        print(f"python -m bench: --sizes expects numbers like 2000,10000, got {args.sizes!r}", file=sys.stderr)
        return 2
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if unknown := set(variants) - set(VARIANTS):
        print(f"python -m bench: unknown variants {sorted(unknown)}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    if args.report_only:
        return rebuild(Path(args.out))
    if args.quick:
        sizes = [300]
    if args.smoke:
        sizes, args.runs, args.parts_sample, args.no_side = [40], 1, 20, True
    if args.runs < 1 or any(s < 1 for s in sizes):
        print("python -m bench: --runs and --sizes must be positive", file=sys.stderr)
        return 2
    if shutil.which("wget") is None and "wget" in variants:
        print("python -m bench: wget is missing (apt-get install -y wget)", file=sys.stderr)
        return 2
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = {"generated": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": report.machine(), "runs_per_size": args.runs, "variants": variants,
               "sizes": {}}
    out = Path(args.out)
    previous = out / "results.json"
    if args.merge and previous.exists():
        old = json.loads(previous.read_text())
        results["sizes"] = old.get("sizes", {})
        results.update({k: old[k] for k in ("extraction_quality", "replay_latency") if k in old})
    real_pages = Path(args.real_pages) if args.real_pages else None
    if real_pages is not None and not (real_pages / "ground-truth.json").exists():
        print(f"python -m bench: no ground-truth.json in {real_pages}", file=sys.stderr)
        return 2
    sites = [(str(size), size, None) for size in sizes]
    sites += [(f"real-{size}", size, real_pages) for size in sizes if real_pages is not None]
    for key, size, pages in sites:
        try:
            results["sizes"][key] = bench_size(size, args.runs, variants, work, args.port,
                                               args.parts_sample, pages)
        except (RuntimeError, OSError) as exc:  # a crawl that failed, nginx that would not start
            print(f"python -m bench: {key} articles: {exc}", file=sys.stderr)
            return 1
        results["sizes"][key].update(variants=variants, runs_per_size=args.runs)
    if not args.no_side:
        results.update(side_benchmarks(args))
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_seconds"] = round(time.monotonic() - started, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    report.write_markdown(out / "results.md", results)
    say(f"wrote {out / 'results.json'} and {out / 'results.md'} in {results['total_seconds']:.0f} s")
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
