"""Benchmarks that print figures; run as scripts (python bench/NAME.py)."""
