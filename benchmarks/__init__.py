"""Benchmarks behind `python -m modalchorus_widget.bench VERB`."""
