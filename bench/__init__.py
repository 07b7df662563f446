"""Benchmarks (`make bench`): not tests; figures measured on one machine, as ratios within one run."""
