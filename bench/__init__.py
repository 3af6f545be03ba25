"""Benchmarks of the Health Link data platform (`make bench`); results in bench/results/."""
