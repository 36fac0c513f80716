"""Benchmark suites, one module each, wired into `python -m zoo.benchmark --suite=NAME`."""
