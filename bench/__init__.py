"""Benchmarks: `python -m bench NAME [--quick]`; each prints RESULT lines with ratios."""
