"""Summaries of the benchmark runs: medians with min/max, the CPU bound of the pipeline from its parts,
the machine's description, and the Markdown tables of ``docs/benchmarks/results.md``."""

from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path

from archive.software import software_versions


def machine() -> dict:
    """nproc, CPU model, memory, load, and the versions that matter."""
    cpu_model = next((line.split(":", 1)[1].strip() for line in
                      Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    versions = software_versions("scrapy", "twisted", "trafilatura", "warcio", "lxml")
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu_model, "memory_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(), **versions,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def spread(values: list[float]) -> dict:
    """Median, min and max of some runs (values that are None are left out)."""
    values = [v for v in values if v is not None]
    if not values:
        return {}
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": len(values)}


FIELDS = ("pages_per_s", "html_pages_per_s", "cpu_ms_per_page", "cpu_ms_per_html_page", "wall_s",
          "responses", "html_pages", "server_cpu_ms_per_page", "reactor_cpu_ms_per_page", "maxrss_mb",
          "unique_html_pages", "unique_html_pages_per_s", "reactor_busy_pct", "extraction_workers_busy_pct")


def summarise(runs: list[dict]) -> dict:
    """Per variant: each field's median/min/max over the runs."""
    out: dict[str, dict] = {}
    for run in runs:
        # Derived here too, so that results measured before the field existed get it.
        if run.get("unique_html_pages") and run.get("wall_s") and "unique_html_pages_per_s" not in run:
            run["unique_html_pages_per_s"] = round(run["unique_html_pages"] / run["wall_s"], 2)
    for variant in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == variant]
        out[variant] = {f: spread([r.get(f) for r in mine]) for f in FIELDS if any(f in r for r in mine)}
    return out


def cpu_bound(summary: dict, parts: dict, pipeline_runs: list[dict]) -> dict:
    """The pipeline's CPU bound on 2 cores from its parts measured alone, and how near it gets.

    Per response: fetch f (minimal spider) and WARC w run in the reactor process; extraction e runs
    in the pool, per article. The reactor is one thread, so the crawl takes at least
    max((F + W + E) / 2, F + W) seconds on 2 cores. Throughput against that bound depends on how
    much of the 2 cores other work leaves; the CPU the pipeline spends against the sum of its parts
    (``cpu_efficiency``) does not.
    """
    if "scrapy-minimal" not in summary or not pipeline_runs or not parts:
        return {}
    minimal = summary["scrapy-minimal"]["cpu_ms_per_page"]["median"] / 1000
    w = parts["warc_write"]["cpu_ms_per_unit"] / 1000
    out = {}
    bounds_of = [("trafilatura", "trafilatura", minimal), ("our_extractor", "our_extractor", minimal)]
    if "ours-warc-c8" in summary:
        # The strictest bound: our own WARC-only crawl (fetch, follow and WARC writing) as the
        # reactor's part, so only what extraction adds to the crawl counts against the pipeline.
        own = summary["ours-warc-c8"]["cpu_ms_per_page"]["median"] / 1000 - w
        bounds_of.append(("our_warc_crawl_and_extractor", "our_extractor", own))
    for name, extractor, f in bounds_of:
        e = parts[extractor]["cpu_ms_per_unit"] / 1000
        ratios, bounds, efficiency, parts_ms = [], [], [], []
        for run in pipeline_runs:
            n, a = run["responses"], run["articles"]
            seconds = max((n * (f + w) + a * e) / 2, n * (f + w))
            bound = n / seconds
            bounds.append(bound)
            ratios.append(100 * run["pages_per_s"] / bound)
            parts_cpu = n * (f + w) + a * e
            parts_ms.append(1000 * parts_cpu / n)
            efficiency.append(100 * parts_cpu / run["cpu_s"])
        out[name] = {"fetch_ms": round(1000 * f, 2), "warc_ms": round(1000 * w, 2),
                     "extract_ms_per_article": round(1000 * e, 2),
                     "bound_pages_per_s": spread(bounds), "pipeline_pct_of_bound": spread(ratios),
                     "parts_cpu_ms_per_response": spread(parts_ms),
                     "cpu_efficiency_pct": spread(efficiency)}
    return out


BOUND_LABELS = {
    "trafilatura": "the minimal spider, WARC writing and bare trafilatura as the parts",
    "our_extractor": "the minimal spider, WARC writing and our extractor as the parts",
    "our_warc_crawl_and_extractor": "our own WARC-only crawl and our extractor as the parts (the strictest)",
}

DASH = "\u2013"  # the en dash of number ranges in the tables


def _fmt(cell: dict, digits: int = 1) -> str:
    if not cell:
        return DASH
    if cell.get("runs", 1) == 1 or cell["min"] == cell["max"]:
        return f"{cell['median']:.{digits}f}"
    return f"{cell['median']:.{digits}f} ({cell['min']:.{digits}f}{DASH}{cell['max']:.{digits}f})"


LABELS = {
    "wget": "wget `--recursive --level=inf --warc-file` (1 connection)",
    "ours-warc-c1": "lifegate-archive crawl, WARC only, 1 connection",
    "ours-warc-c8": "lifegate-archive crawl, WARC only, 8 connections",
    "scrapy-minimal": "Scrapy minimal spider, fetch + follow only (8 connections)",
    "pipeline": "lifegate-archive crawl, full pipeline (8 connections, 2 cores)",
}


def markdown(results: dict) -> str:
    """Tables of one results.json, in the order of the README's Benchmarks section."""
    lines = []
    for size, data in results["sizes"].items():
        site = data["site"]
        rounds = max((r.get("round", 1) for r in data["runs"]), default=0)
        name = f"real-page site, {size.removeprefix('real-')}" if size.startswith("real-") else size
        heading = (f"### {name} articles ({site['files']} files, {site['megabytes']} MB served by "
                   f"{data.get('server', 'nginx')}; {rounds} round{'s' if rounds != 1 else ''})")
        lines += [heading, "",
                  ("| variant | site archived in s | responses | pages/s (all responses) | HTML pages/s "
                   "| distinct HTML pages/s | CPU ms/response | CPU ms/HTML page | server CPU ms/response |"),
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for variant, cells in data["summary"].items():
            lines.append(
                f"| {LABELS.get(variant, variant)} | {_fmt(cells.get('wall_s', {}))} "
                f"| {_fmt(cells.get('responses', {}), 0)} "
                f"| {_fmt(cells.get('pages_per_s', {}))} | {_fmt(cells.get('html_pages_per_s', {}))} "
                f"| {_fmt(cells.get('unique_html_pages_per_s', {}))} "
                f"| {_fmt(cells.get('cpu_ms_per_page', {}), 2)} "
                f"| {_fmt(cells.get('cpu_ms_per_html_page', {}), 2)} "
                f"| {_fmt(cells.get('server_cpu_ms_per_page', {}), 3)} |")
        lines.append("")
        if data.get("parts"):
            p = data["parts"]
            fetch = _fmt(data["summary"].get("scrapy-minimal", {}).get("cpu_ms_per_page", {}), 2)
            lines += [f"| part, alone, one core | CPU ms per unit (median, min{DASH}max) | unit |",
                      "|---|---:|---|",
                      f"| Scrapy fetch + follow (minimal spider) | {fetch} | response |"]
            for name, label in (("warc_write", "WARC writing, `RollingWarcWriter`, gzip 6"),
                                ("trafilatura", "bare `trafilatura.extract` (defaults)"),
                                ("our_extractor", "our extractor (`ArticleExtractor`)")):
                part = p[name]
                lines.append(f"| {label} | {part['cpu_ms_per_unit']:.2f} ({part['min_ms']:.2f}{DASH}"
                             f"{part['max_ms']:.2f}) | {part['unit']} |")
            lines.append("")
        for name, bound in data.get("cpu_bound", {}).items():
            lines.append(f"- CPU bound on 2 cores with {BOUND_LABELS.get(name, name)}: "
                         f"{_fmt(bound['bound_pages_per_s'])} responses/s; the pipeline reaches "
                         f"**{_fmt(bound['pipeline_pct_of_bound'], 0)} %** of it. Sum of the parts' CPU: "
                         f"{_fmt(bound.get('parts_cpu_ms_per_response', {}), 2)} ms/response, i.e. "
                         f"{_fmt(bound.get('cpu_efficiency_pct', {}), 0)} % of the CPU the pipeline spends.")
        pipeline = data["summary"].get("pipeline", {})
        if pipeline.get("reactor_busy_pct"):
            lines.append(f"- Full pipeline: the reactor thread was on a core "
                         f"{_fmt(pipeline['reactor_busy_pct'], 0)} % of the crawl, each extraction worker "
                         f"{_fmt(pipeline.get('extraction_workers_busy_pct', {}), 0)} %.")
        if data.get("memory"):
            lines.append("")
            lines += [("| run | crawler peak RSS MB | extraction workers peak RSS MB | crawler slope MB/min "
                       "| MB per 1,000 responses | crawler MB at 25/50/75/100 % of the run |"),
                      "|---|---:|---:|---:|---:|---|"]
            for n, mem in enumerate(data["memory"], 1):
                lines.append(f"| {n} | {mem['crawler_peak_mb']} | {', '.join(map(str, mem['workers_peak_mb']))} "
                             f"| {mem['crawler_slope_mb_per_min']} | {mem['crawler_slope_mb_per_1000_pages']} "
                             f"| {' / '.join(map(str, mem['crawler_mb_at_quarters']))} |")
        lines.append("")
    quality = results.get("extraction_quality", {})
    if quality.get("rows"):
        lines += ["### Extraction quality and speed (Zyte article-extraction benchmark, 181 pages, CPU 1)", "",
                  "| extractor | F1 | precision | recall | exact | pages/s |", "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['extractor']} | {r['f1']:.3f} | {r['precision']:.3f} | {r['recall']:.3f} "
                  f"| {r['accuracy']:.3f} | {r['pages_per_s']:.1f} |" for r in quality["rows"]]
        lines.append("")
    replay = results.get("replay_latency", {})
    if replay.get("output"):
        lines += [f"### Replay latency (`python {replay.get('command', 'bench/replay_latency.py')}`)", "",
                  "```", replay["output"], "```", ""]
    return "\n".join(lines)


START, END = "<!-- tables:start (written by python -m bench) -->", "<!-- tables:end -->"


def machine_line(results: dict) -> str:
    m = results["machine"]
    loads = [r["load_average"][0] for d in results["sizes"].values() for r in d["runs"] if "load_average" in r]
    load = f"{min(loads):.1f}{DASH}{max(loads):.1f}" if loads else "not recorded"
    return (f"Machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}; "
            f"Python {m['python']}, Scrapy {m['scrapy']}, Twisted {m['twisted']}, trafilatura "
            f"{m['trafilatura']}, warcio {m['warcio']}, lxml {m['lxml']}. One-minute load average "
            f"after each crawl: {load} (other work shares the machine). Written {results['generated']}.")


def write_markdown(path: Path, results: dict) -> None:
    """Replace the generated part of ``path`` (between the markers), keeping the written analysis."""
    block = f"{START}\n\n{machine_line(results)}\n\n{markdown(results)}\n{END}"
    if path.exists() and START in (text := path.read_text()) and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = f"# Benchmarks\n\n{block}\n"
    path.write_text(text)
