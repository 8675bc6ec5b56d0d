"""Benchmarks run by hand, never by the test suite: ``python -m bench`` measures the pipeline against
its peers (wget, bare Scrapy, bare trafilatura) on a static copy of the fixture site served by nginx."""
