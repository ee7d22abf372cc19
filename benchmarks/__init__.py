"""Benchmarks behind `python -m benchmarks VERB`."""
