"""Benchmarks of the sync and the lists against the physical floor, measured in the same run."""
