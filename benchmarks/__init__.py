"""Benchmarks: each script measures one target, prints a table, saves benchmarks/results/."""
